//! What a speech engine needs to know about a recording before it starts: the container, and
//! how many channels it has (a stereo call recording has one party per channel).

/// The channel count from the first bytes of a WAV or FLAC file; `None` for other formats or
/// a header that does not say.
pub fn channels(header: &[u8]) -> Option<u16> {
    if header.len() >= 12 && &header[..4] == b"RIFF" && &header[8..12] == b"WAVE" {
        // Chunks follow: 4-byte id, 4-byte little-endian size, data (padded to even).
        let mut at = 12;
        while at + 8 <= header.len() {
            let id = &header[at..at + 4];
            let size = u32::from_le_bytes(header[at + 4..at + 8].try_into().ok()?) as usize;
            if id == b"fmt " {
                let data = header.get(at + 8..at + 12)?;
                return Some(u16::from_le_bytes([data[2], data[3]]));
            }
            at = at.checked_add(8 + size + (size & 1))?;
        }
        return None;
    }
    if header.len() >= 21 && &header[..4] == b"fLaC" && header[4] & 0x7f == 0 {
        // STREAMINFO, the first metadata block: 3 bits of (channels - 1) in its 13th byte.
        return Some(u16::from((header[20] >> 1) & 0x7) + 1);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wav(channels: u16) -> Vec<u8> {
        let mut h = b"RIFF\0\0\0\0WAVE".to_vec();
        // A LIST chunk before fmt, as some recorders write, with an odd size (padded).
        h.extend(b"LIST\x03\0\0\0abc\0");
        h.extend(b"fmt \x10\0\0\0\x01\0");
        h.extend(channels.to_le_bytes());
        h.extend([0x40, 0x1f, 0, 0, 0x80, 0x3e, 0, 0, 2, 0, 16, 0]);
        h
    }

    #[test]
    fn reads_channels_from_wav_and_flac_headers() {
        assert_eq!(channels(&wav(2)), Some(2));
        assert_eq!(channels(&wav(1)), Some(1));
        // fLaC, last-block flag + type 0, length 34, then STREAMINFO with 8 kHz, 2 channels.
        let mut flac = b"fLaC\x80\0\0\x22".to_vec();
        flac.extend([0x10, 0, 0x10, 0, 0, 0, 0, 0, 0, 0]);
        // 20 bits of rate (0x01f40), then 3 bits of channels - 1 (1): 0x01 0xf4 0b0000_0010.
        flac.extend([0x01, 0xf4, 0x02]);
        flac.extend([0u8; 21]);
        assert_eq!(channels(&flac), Some(2));
    }

    #[test]
    fn says_nothing_of_formats_and_headers_it_cannot_read() {
        assert_eq!(channels(b"ID3\x04\0\0\0\0\0\0"), None);
        assert_eq!(channels(b"RIFF\0\0\0\0WAVE"), None);
        assert_eq!(channels(&wav(2)[..30]), None);
        assert_eq!(channels(b""), None);
        // A chunk size that points past the end of the address space.
        assert_eq!(channels(b"RIFF\0\0\0\0WAVEjunk\xff\xff\xff\xff"), None);
    }
}
