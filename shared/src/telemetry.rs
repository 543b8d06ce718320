//! Logging that cannot leak what it quotes: every line a process writes goes through `redact`
//! (phone numbers, e-mail addresses, card numbers and SSNs masked) on its way out, whatever the
//! call site put in it, so a new log line or an error that quotes its input is safe by default.
//! The Lambda functions, the `leadscore` command and the tests all write through `Redacting`.

use std::io::{self, Write};

use tracing_subscriber::fmt::MakeWriter;

use crate::analysis::redact::redact;

/// Wraps a writer maker: each event's formatted bytes are collected, redacted, then written in
/// one piece.
#[derive(Debug, Clone)]
pub struct Redacting<M>(M);

impl<M> Redacting<M> {
    pub fn new(inner: M) -> Self {
        Self(inner)
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Redacting<M> {
    type Writer = RedactingWriter<M::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingWriter {
            inner: self.0.make_writer(),
            line: Vec::new(),
        }
    }
}

/// One event's writer: holds the event until it is dropped (the subscriber makes one per
/// event), so a value split over several writes is still redacted whole.
pub struct RedactingWriter<W: Write> {
    inner: W,
    line: Vec<u8>,
}

impl<W: Write> Write for RedactingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.line.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for RedactingWriter<W> {
    fn drop(&mut self) {
        if self.line.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.line);
        let _ = self.inner.write_all(redact(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn log_lines_are_written_masked() {
        // GIVEN a subscriber writing through Redacting
        let sink = Sink::default();
        let out = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(Redacting::new(move || out.clone()))
            .with_ansi(false)
            .json()
            .finish();
        // WHEN an event quotes a phone number and an e-mail, in its message and a field
        tracing::subscriber::with_default(subscriber, || {
            tracing::warn!(
                caller = "+1 415 555 0134",
                "rejected dana@example.com's file 20261102T141503Z_+14155550134_inbound.vtt"
            );
        });
        // THEN neither reaches the sink, and the line is still one JSON object
        let line = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        assert!(!line.contains("555"), "{line}");
        assert!(!line.contains("dana@"), "{line}");
        assert!(
            line.contains("[PHONE]") && line.contains("[EMAIL]"),
            "{line}"
        );
        let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
        assert_eq!(v["level"], "WARN");
    }
}
