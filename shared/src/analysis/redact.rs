//! PII redaction: phone numbers, e-mail addresses (written or spoken: "dana at example dot
//! com"), card numbers (13 to 19 digits that pass the Luhn check) and US social security
//! numbers (`123-45-6789`, or nine digits after "social security"/"SSN"). Found spans become
//! `[PHONE]`, `[EMAIL]`, `[CARD]`, `[SSN]`. Used on stored transcripts, on error messages and
//! on what goes into logs.

use std::borrow::Cow;
use std::ops::Range;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pii {
    Phone,
    Email,
    Card,
    Ssn,
}

impl Pii {
    fn mask(self) -> &'static str {
        match self {
            Pii::Phone => "[PHONE]",
            Pii::Email => "[EMAIL]",
            Pii::Card => "[CARD]",
            Pii::Ssn => "[SSN]",
        }
    }
}

/// The PII spans of `text` (byte ranges), in order, not overlapping.
pub fn find(text: &str) -> Vec<(Range<usize>, Pii)> {
    let mut found = emails(text);
    found.extend(spoken_emails(text));
    for (range, digits, groups) in digit_spans(text) {
        if found
            .iter()
            .any(|(r, _)| r.start < range.end && range.start < r.end)
        {
            continue;
        }
        if let Some(kind) = classify(text, &range, &digits, &groups) {
            found.push((range, kind));
        }
    }
    found.sort_by_key(|(r, _)| r.start);
    found
}

/// `text` with its PII masked (borrowed unchanged when there is none).
pub fn redact(text: &str) -> Cow<'_, str> {
    let found = find(text);
    if found.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (r, kind) in found {
        out.push_str(&text[at..r.start]);
        out.push_str(kind.mask());
        at = r.end;
    }
    out.push_str(&text[at..]);
    Cow::Owned(out)
}

/// Mask PII in every segment of a transcript; returns how many items were masked.
pub fn redact_transcript(t: &mut crate::domain::Transcript) -> usize {
    let mut n = 0;
    for seg in &mut t.segments {
        let found = find(&seg.text).len();
        if found > 0 {
            n += found;
            seg.text = redact(&seg.text).into_owned();
        }
    }
    n
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, d)| {
            let d = u32::from(*d);
            if i % 2 == 1 {
                let x = d * 2;
                if x > 9 { x - 9 } else { x }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

fn classify(text: &str, range: &Range<usize>, digits: &[u8], groups: &[usize]) -> Option<Pii> {
    let n = digits.len();
    if (13..=19).contains(&n) && luhn(digits) {
        return Some(Pii::Card);
    }
    if groups == [3, 2, 4] {
        return Some(Pii::Ssn);
    }
    if n == 9 {
        let before = text[..range.start].to_ascii_lowercase();
        let tail = &before[before.len().saturating_sub(40)..];
        if tail.contains("social security") || tail.contains("ssn") {
            return Some(Pii::Ssn);
        }
    }
    let plus = text[range.clone()].starts_with('+');
    if (10..=15).contains(&n) || (plus && (8..=15).contains(&n)) || groups == [3, 4] {
        return Some(Pii::Phone);
    }
    None
}

/// Runs of digits joined by single separators (space, `-`, `.`, `(`, `)`, or `) `), with an
/// optional leading `+` or `(`: (byte range, the digits, the group lengths).
fn digit_spans(text: &str) -> Vec<(Range<usize>, Vec<u8>, Vec<usize>)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let lead = matches!(b[i], b'+' | b'(') && b.get(i + 1).is_some_and(u8::is_ascii_digit);
        // A span starts at a digit that does not continue a word or a number ("A12", "3.5").
        let starts = (b[i].is_ascii_digit() || lead)
            && (i == 0
                || !(b[i - 1].is_ascii_alphanumeric() || b[i - 1] == b'.' || b[i - 1] == b','));
        if !starts {
            i += 1;
            continue;
        }
        let start = i;
        if lead {
            i += 1;
        }
        let mut digits = Vec::new();
        let mut groups = Vec::new();
        let end = loop {
            let g0 = digits.len();
            while i < b.len() && b[i].is_ascii_digit() {
                digits.push(b[i] - b'0');
                i += 1;
            }
            groups.push(digits.len() - g0);
            // One or two separator characters, then more digits.
            let mut j = i;
            while j < b.len() && j - i < 2 && matches!(b[j], b' ' | b'-' | b'.' | b'(' | b')') {
                j += 1;
            }
            if j > i && j < b.len() && b[j].is_ascii_digit() {
                i = j;
            } else {
                break i;
            }
        };
        i = end.max(start + 1);
        if digits.len() >= 7 {
            out.push((start..end, digits, groups));
        }
    }
    out
}

fn is_local(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'%' | b'+' | b'-')
}

fn is_domain(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-')
}

fn emails(text: &str) -> Vec<(Range<usize>, Pii)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    for (at, _) in text.match_indices('@') {
        let mut s = at;
        while s > 0 && is_local(b[s - 1]) {
            s -= 1;
        }
        let mut e = at + 1;
        while e < b.len() && is_domain(b[e]) {
            e += 1;
        }
        while e > at + 1 && b[e - 1] == b'.' {
            e -= 1;
        }
        let domain = &text[at + 1..e];
        let tld_ok = domain.rsplit_once('.').is_some_and(|(host, tld)| {
            !host.is_empty() && tld.len() >= 2 && tld.bytes().all(|c| c.is_ascii_alphabetic())
        });
        if s < at && tld_ok {
            out.push((s..e, Pii::Email));
        }
    }
    out
}

const SPOKEN_TLDS: &[&str] = &[
    "com", "net", "org", "io", "co", "us", "edu", "gov", "biz", "info",
];

/// "dana at whitfield dot com", "d dot lee at mail dot example dot org".
fn spoken_emails(text: &str) -> Vec<(Range<usize>, Pii)> {
    // Words with their byte ranges.
    let mut words: Vec<(usize, usize)> = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        let w = c.is_alphanumeric() || c == '_';
        match (w, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                words.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        words.push((s, text.len()));
    }
    let word = |k: usize| text[words[k].0..words[k].1].to_ascii_lowercase();
    let mut out = Vec::new();
    let mut k = 1;
    while k + 3 < words.len() {
        if word(k) == "at" {
            // at HOST (dot PART)* dot TLD
            let mut j = k + 1;
            let mut end = None;
            while j + 2 < words.len() && word(j + 1) == "dot" {
                if SPOKEN_TLDS.contains(&word(j + 2).as_str()) {
                    end = Some(j + 2);
                }
                j += 2;
            }
            if let Some(e) = end {
                // The local part: the word before "at", plus "x dot y" before it.
                let mut s = k - 1;
                while s >= 2 && word(s - 1) == "dot" {
                    s -= 2;
                }
                out.push((words[s].0..words[e].1, Pii::Email));
                k = e + 1;
                continue;
            }
        }
        k += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_is_masked() {
        let cases = [
            (
                "call me at (415) 555-0134 please",
                "call me at [PHONE] please",
            ),
            ("my cell is +1 415 555 0134.", "my cell is [PHONE]."),
            ("it's 555-0134", "it's [PHONE]"),
            (
                "write to dana.w+crm@whitfield-dental.com.",
                "write to [EMAIL].",
            ),
            ("it's dana at whitfield dot com", "it's [EMAIL]"),
            (
                "card 4111 1111 1111 1111 exp 12/28",
                "card [CARD] exp 12/28",
            ),
            ("number 4111-1111-1111-1111", "number [CARD]"),
            ("my social is 123-45-6789", "my social is [SSN]"),
            (
                "social security number 123456789",
                "social security number [SSN]",
            ),
        ];
        for (text, expected) in cases {
            assert_eq!(redact(text), expected, "{text}");
        }
    }

    #[test]
    fn ordinary_numbers_stay() {
        for text in [
            "about 4,000 square feet for $20,000 on 2026-11-02 at 10:30",
            "a 7.5 kW system, 3 bedrooms, 48 units, model X200",
            "card 4111 1111 1111 1112 fails the Luhn check",
            "we are at the office, not at home",
            "version 1.2.3.4",
        ] {
            assert_eq!(redact(text), text);
        }
    }

    #[test]
    fn luhn_is_checked() {
        assert!(luhn(&[4, 5, 3, 9, 1, 4, 8, 8, 0, 3, 4, 3, 6, 4, 6, 7]));
        assert!(!luhn(&[4, 5, 3, 9, 1, 4, 8, 8, 0, 3, 4, 3, 6, 4, 6, 8]));
    }
}
