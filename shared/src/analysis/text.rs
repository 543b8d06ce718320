//! Sentence and word splitting shared by the analysers.

/// Sentences of a segment: split after `.`, `!` and `?` (keeping the mark).
pub fn sentences(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        let trimmed = rest.trim_start();
        if trimmed.is_empty() {
            return None;
        }
        let bytes = trimmed.as_bytes();
        let mut end = trimmed.len();
        for (i, &b) in bytes.iter().enumerate() {
            if matches!(b, b'.' | b'!' | b'?') {
                let mut j = i + 1;
                while j < bytes.len() && matches!(bytes[j], b'.' | b'!' | b'?') {
                    j += 1;
                }
                // A full stop inside a number ("2.5") or an abbreviation without a following
                // space does not end a sentence.
                if j == bytes.len() || bytes[j].is_ascii_whitespace() {
                    end = j;
                    break;
                }
            }
        }
        let (sentence, tail) = trimmed.split_at(end);
        rest = tail;
        Some(sentence)
    })
}

/// Lower-case words; apostrophes stay inside words (`don't`), curly ones are straightened.
pub fn tokens(sentence: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    for c in sentence.chars() {
        let c = if c == '\u{2019}' || c == '\u{2018}' {
            '\''
        } else {
            c
        };
        if c.is_alphanumeric() || (c == '\'' && !cur.is_empty()) {
            cur.extend(c.to_lowercase());
        } else if !cur.is_empty() {
            out.push(std::mem::take(&mut cur).trim_end_matches('\'').to_owned());
        }
    }
    if !cur.is_empty() {
        out.push(cur.trim_end_matches('\'').to_owned());
    }
    out
}

pub fn is_negator(token: &str) -> bool {
    matches!(
        token,
        "not"
            | "no"
            | "never"
            | "nothing"
            | "nobody"
            | "neither"
            | "nor"
            | "without"
            | "cannot"
            | "none"
    ) || token.ends_with("n't")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentences_keep_numbers_whole() {
        let s: Vec<&str> = sentences("It costs $2.50 a day. Really?! Yes").collect();
        assert_eq!(s, ["It costs $2.50 a day.", "Really?!", "Yes"]);
    }

    #[test]
    fn tokens_keep_contractions() {
        assert_eq!(
            tokens("I don\u{2019}t KNOW, 'really'"),
            ["i", "don't", "know", "really"]
        );
    }
}
