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

/// A lower-case word of a sentence, with the clause (split at `,` `;`) and the chunk (split at
/// `,` `;` `:` `(` `)` `"`) it is in: phrases never match across a clause, keywords never run
/// across a chunk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub word: String,
    pub clause: u32,
    pub chunk: u32,
}

/// The words of a sentence, once, for every analyser.
pub fn tokens_marked(sentence: &str) -> Vec<Token> {
    // Redaction masks (`[PHONE]`) are not words: they end a chunk, like a quote mark.
    let unmasked;
    let sentence = if sentence.contains('[') {
        unmasked = ["[PHONE]", "[EMAIL]", "[CARD]", "[SSN]"]
            .iter()
            .fold(sentence.to_owned(), |s, m| s.replace(m, "\""));
        unmasked.as_str()
    } else {
        sentence
    };
    let mut out = Vec::new();
    let mut cur = String::new();
    let (mut clause, mut chunk) = (0, 0);
    let mut flush = |cur: &mut String, clause: u32, chunk: u32| {
        if !cur.is_empty() {
            let word = std::mem::take(cur);
            let word = match word.strip_suffix('\'') {
                Some(w) => w.trim_end_matches('\'').to_owned(),
                None => word,
            };
            out.push(Token {
                word,
                clause,
                chunk,
            });
        }
    };
    for c in sentence.chars() {
        let c = if c == '\u{2019}' || c == '\u{2018}' {
            '\''
        } else {
            c
        };
        if c.is_ascii_alphanumeric() || (c == '\'' && !cur.is_empty()) {
            cur.push(c.to_ascii_lowercase());
        } else if c.is_alphanumeric() {
            cur.extend(c.to_lowercase());
        } else {
            flush(&mut cur, clause, chunk);
            match c {
                ',' | ';' => {
                    clause += 1;
                    chunk += 1;
                }
                ':' | '(' | ')' | '"' => chunk += 1,
                _ => {}
            }
        }
    }
    flush(&mut cur, clause, chunk);
    out
}

/// How many words `tokens` would return, without allocating them.
pub fn count_words(sentence: &str) -> usize {
    let mut n = 0;
    let mut in_word = false;
    for c in sentence.chars() {
        let word_char = c.is_alphanumeric() || (in_word && matches!(c, '\'' | '\u{2019}'));
        if word_char && !in_word {
            n += 1;
        }
        in_word = word_char;
    }
    n
}

/// The commonest English words: a text with few of them is probably not English.
pub fn is_common_english(word: &str) -> bool {
    matches!(
        word,
        "the"
            | "a"
            | "an"
            | "and"
            | "or"
            | "but"
            | "to"
            | "of"
            | "in"
            | "on"
            | "for"
            | "with"
            | "at"
            | "by"
            | "from"
            | "i"
            | "you"
            | "we"
            | "they"
            | "he"
            | "she"
            | "it"
            | "me"
            | "my"
            | "your"
            | "our"
            | "is"
            | "are"
            | "was"
            | "were"
            | "be"
            | "been"
            | "have"
            | "has"
            | "do"
            | "does"
            | "did"
            | "can"
            | "will"
            | "would"
            | "not"
            | "no"
            | "yes"
            | "that"
            | "this"
            | "what"
            | "how"
            | "so"
            | "if"
            | "i'm"
            | "it's"
            | "that's"
            | "just"
            | "about"
            | "there"
            | "all"
            | "get"
            | "like"
            | "okay"
            | "ok"
            | "thanks"
            | "thank"
            | "hi"
            | "hello"
    )
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
    fn marked_tokens_are_the_plain_tokens_with_their_clauses() {
        let s = "No, I'd love a quote (today): call me";
        let marked = tokens_marked(s);
        assert_eq!(
            marked.iter().map(|t| t.word.as_str()).collect::<Vec<_>>(),
            tokens(s)
        );
        assert_eq!(
            marked
                .iter()
                .map(|t| (t.clause, t.chunk))
                .collect::<Vec<_>>(),
            [
                (0, 0),
                (1, 1),
                (1, 1),
                (1, 1),
                (1, 1),
                (1, 2),
                (1, 4),
                (1, 4)
            ]
        );
    }

    #[test]
    fn word_counts_match_tokens() {
        for s in [
            "I don\u{2019}t KNOW, 'really'",
            "",
            "  a  b ",
            "café au lait — 3.5 kW!",
        ] {
            assert_eq!(count_words(s), tokens(s).len(), "{s:?}");
        }
    }

    #[test]
    fn tokens_keep_contractions() {
        assert_eq!(
            tokens("I don\u{2019}t KNOW, 'really'"),
            ["i", "don't", "know", "really"]
        );
    }
}
