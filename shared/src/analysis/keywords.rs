//! RAKE keywords (Rose et al. 2010): candidate phrases are runs of words between stop words and
//! punctuation; a word scores its degree over its frequency; a phrase the sum of its words.

use rustc_hash::FxHashMap as HashMap;

use super::text::Token;

const STOP: &[&str] = &[
    "a",
    "about",
    "actually",
    "after",
    "again",
    "all",
    "also",
    "am",
    "an",
    "and",
    "any",
    "are",
    "around",
    "as",
    "at",
    "back",
    "be",
    "because",
    "been",
    "before",
    "being",
    "bit",
    "but",
    "by",
    "call",
    "calling",
    "can",
    "could",
    "day",
    "did",
    "do",
    "does",
    "doing",
    "don't",
    "done",
    "down",
    "each",
    "else",
    "even",
    "ever",
    "every",
    "for",
    "from",
    "get",
    "getting",
    "give",
    "go",
    "going",
    "good",
    "got",
    "great",
    "had",
    "has",
    "have",
    "having",
    "he",
    "hello",
    "her",
    "here",
    "hey",
    "hi",
    "him",
    "his",
    "how",
    "i",
    "i'd",
    "i'll",
    "i'm",
    "i've",
    "if",
    "in",
    "into",
    "is",
    "it",
    "it's",
    "its",
    "just",
    "know",
    "let",
    "let's",
    "like",
    "look",
    "looking",
    "lot",
    "make",
    "maybe",
    "me",
    "mean",
    "more",
    "much",
    "my",
    "need",
    "no",
    "not",
    "now",
    "of",
    "oh",
    "ok",
    "okay",
    "on",
    "one",
    "or",
    "other",
    "our",
    "out",
    "over",
    "perfect",
    "please",
    "pretty",
    "really",
    "right",
    "said",
    "say",
    "see",
    "she",
    "should",
    "so",
    "some",
    "something",
    "sounds",
    "still",
    "sure",
    "take",
    "talk",
    "tell",
    "than",
    "thank",
    "thanks",
    "that",
    "that's",
    "the",
    "their",
    "them",
    "then",
    "there",
    "there's",
    "these",
    "they",
    "they're",
    "thing",
    "things",
    "think",
    "this",
    "those",
    "through",
    "to",
    "today",
    "too",
    "uh",
    "um",
    "up",
    "us",
    "very",
    "want",
    "was",
    "way",
    "we",
    "we'd",
    "we'll",
    "we're",
    "we've",
    "well",
    "were",
    "what",
    "what's",
    "when",
    "where",
    "which",
    "while",
    "who",
    "why",
    "will",
    "with",
    "would",
    "yeah",
    "yes",
    "yet",
    "you",
    "you'd",
    "you'll",
    "you're",
    "you've",
    "your",
    "yours",
];

/// Collects RAKE candidates sentence by sentence, then ranks them.
pub struct Rake<'a> {
    candidates: Vec<Vec<String>>,
    /// Words (speaker names, say) that never form part of a keyword.
    exclude: &'a [String],
}

impl<'a> Rake<'a> {
    pub fn new(exclude: &'a [String]) -> Self {
        Self {
            candidates: Vec::new(),
            exclude,
        }
    }

    /// Add one sentence's tokens: runs of content words within a chunk are candidates.
    pub fn add(&mut self, tokens: &[Token]) {
        for chunk in tokens.chunk_by(|a, b| a.chunk == b.chunk) {
            let mut run: Vec<String> = Vec::new();
            for t in chunk {
                let w = &t.word;
                let keep = w.chars().nth(2).is_some()
                    && !w.bytes().all(|b| b.is_ascii_digit())
                    && STOP.binary_search(&w.as_str()).is_err()
                    && !self.exclude.contains(w);
                if keep {
                    run.push(w.clone());
                } else if !run.is_empty() {
                    self.candidates.push(std::mem::take(&mut run));
                }
            }
            if !run.is_empty() {
                self.candidates.push(run);
            }
        }
    }

    /// The top `n` keyword phrases, best first.
    pub fn top(self, n: usize) -> Vec<String> {
        top(self.candidates, n)
    }
}

fn top(candidates: Vec<Vec<String>>, n: usize) -> Vec<String> {
    let candidates: Vec<Vec<String>> = candidates.into_iter().filter(|c| c.len() <= 3).collect();
    let mut freq: HashMap<&str, f64> = HashMap::default();
    let mut degree: HashMap<&str, f64> = HashMap::default();
    for c in &candidates {
        for w in c {
            *freq.entry(w).or_default() += 1.0;
            *degree.entry(w).or_default() += c.len() as f64;
        }
    }
    let mut phrases: HashMap<String, (f64, usize)> = HashMap::default();
    for c in &candidates {
        let score: f64 = c
            .iter()
            .map(|w| degree[w.as_str()] / freq[w.as_str()])
            .sum();
        let e = phrases.entry(c.join(" ")).or_insert((score, 0));
        e.1 += 1;
    }
    // Score by RAKE score times how often the phrase recurs; ties break alphabetically so the
    // output is stable.
    let mut ranked: Vec<(String, f64)> = phrases
        .into_iter()
        .map(|(p, (s, count))| (p, s * (count as f64).sqrt()))
        .collect();
    ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let mut out: Vec<String> = Vec::new();
    for (p, _) in ranked {
        if out.len() == n {
            break;
        }
        // Skip a phrase contained in one already kept.
        if !out
            .iter()
            .any(|o| o.split(' ').any(|w| p.split(' ').any(|x| x == w)))
        {
            out.push(p);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TranscriptFormat;
    use crate::formats::parse_transcript;

    #[test]
    fn stop_words_are_sorted_for_binary_search() {
        assert!(
            STOP.windows(2).all(|w| w[0] < w[1]),
            "STOP must stay sorted"
        );
    }

    #[test]
    fn content_phrases_rank_first() {
        let t = parse_transcript(
            TranscriptFormat::PlainText,
            b"Caller: We need solar panels for the warehouse roof.\nAgent: Solar panels on a flat warehouse roof work well.\nCaller: And a battery backup, yeah.",
        )
        .unwrap();
        let exclude = ["caller".to_owned()];
        let mut rake = Rake::new(&exclude);
        for seg in &t.segments {
            for sentence in crate::analysis::text::sentences(&seg.text) {
                rake.add(&crate::analysis::text::tokens_marked(sentence));
            }
        }
        let k = rake.top(3);
        assert!(k.iter().any(|p| p.contains("solar panels")), "{k:?}");
        assert!(!k.iter().any(|p| p == "yeah"), "{k:?}");
    }
}
