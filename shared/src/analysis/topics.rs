//! Topics and tracked keywords: phrase counts over the customer's words.

use std::sync::{Arc, LazyLock};

use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::text::{Token, tokens};
use crate::domain::KeywordCount;

/// A topic of the taxonomy: a name and the phrases that point at it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Topic {
    pub name: String,
    pub keywords: Vec<String>,
}

/// The taxonomy every tenant starts with; a tenant's own topics add to it (same name: more
/// keywords for that topic).
pub const DEFAULT_TOPICS: &[(&str, &[&str])] = &[
    (
        "pricing",
        &[
            "price",
            "prices",
            "pricing",
            "quote",
            "cost",
            "costs",
            "estimate",
            "how much",
            "financing",
            "payment plan",
            "budget",
        ],
    ),
    (
        "scheduling",
        &[
            "schedule",
            "appointment",
            "visit",
            "site visit",
            "meeting",
            "demo",
            "calendar",
            "book",
            "consultation",
        ],
    ),
    (
        "product questions",
        &[
            "how does",
            "how long",
            "warranty",
            "options",
            "information",
            "details",
            "work",
            "works",
            "installation",
        ],
    ),
    (
        "purchase",
        &[
            "contract",
            "sign",
            "buy",
            "purchase",
            "order",
            "get started",
            "move forward",
            "go ahead",
        ],
    ),
    (
        "support issue",
        &[
            "error",
            "broken",
            "not working",
            "fix",
            "technician",
            "repair",
            "problem",
            "down",
            "issue",
        ],
    ),
    (
        "billing",
        &["bill", "invoice", "charge", "charged", "refund", "payment"],
    ),
    (
        "cancellation",
        &["cancel", "cancellation", "terminate", "stop service"],
    ),
];

/// The default taxonomy with a tenant's topics merged in.
pub fn taxonomy(extra: &[Topic]) -> Vec<Topic> {
    let mut all: Vec<Topic> = DEFAULT_TOPICS
        .iter()
        .map(|(n, k)| Topic {
            name: (*n).to_owned(),
            keywords: k.iter().map(|s| (*s).to_owned()).collect(),
        })
        .collect();
    for t in extra {
        match all
            .iter_mut()
            .find(|a| a.name.eq_ignore_ascii_case(&t.name))
        {
            Some(a) => a.keywords.extend(t.keywords.iter().cloned()),
            None => all.push(t.clone()),
        }
    }
    all
}

/// A tenant's topics and tracked keywords, compiled once: phrases indexed by their first
/// word, so counting them costs one lookup per word.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    topics: Vec<Topic>,
    tracked: Vec<String>,
    /// first word -> (phrase number, the phrase's words); topic phrases come first, in
    /// taxonomy order, then the tracked keywords.
    index: FxHashMap<String, Vec<(usize, Vec<String>)>>,
    topic_phrases: usize,
}

static DEFAULT: LazyLock<Arc<Vocabulary>> = LazyLock::new(|| Arc::new(Vocabulary::new(&[], &[])));

impl Default for Vocabulary {
    fn default() -> Self {
        Vocabulary::clone(&DEFAULT)
    }
}

/// Per call: when each phrase was said.
pub struct Mentions(Vec<Vec<f64>>);

impl Vocabulary {
    pub fn new(tracked: &[String], extra_topics: &[Topic]) -> Self {
        let topics = taxonomy(extra_topics);
        let phrases: Vec<&str> = topics
            .iter()
            .flat_map(|t| t.keywords.iter().map(String::as_str))
            .chain(tracked.iter().map(String::as_str))
            .collect();
        let mut index: FxHashMap<String, Vec<(usize, Vec<String>)>> = FxHashMap::default();
        for (i, p) in phrases.iter().enumerate() {
            let words = tokens(p);
            if let Some(first) = words.first() {
                index.entry(first.clone()).or_default().push((i, words));
            }
        }
        let topic_phrases = topics.iter().map(|t| t.keywords.len()).sum();
        Self {
            topics,
            tracked: tracked.to_vec(),
            index,
            topic_phrases,
        }
    }

    /// The shared default vocabulary (no tenant additions).
    pub fn shared_default() -> Arc<Vocabulary> {
        DEFAULT.clone()
    }

    pub fn tracked(&self) -> &[String] {
        &self.tracked
    }

    pub fn topics(&self) -> &[Topic] {
        &self.topics
    }

    pub fn mentions(&self) -> Mentions {
        Mentions(vec![Vec::new(); self.topic_phrases + self.tracked.len()])
    }

    /// Count the phrases in one sentence's tokens, said at `at` seconds.
    pub fn count(&self, m: &mut Mentions, tokens: &[Token], at: f64) {
        for (pos, t) in tokens.iter().enumerate() {
            if let Some(candidates) = self.index.get(&t.word) {
                for (i, words) in candidates {
                    let end = pos + words.len();
                    if end <= tokens.len()
                        && tokens[pos..end]
                            .iter()
                            .zip(words)
                            .all(|(a, b)| a.word == *b)
                    {
                        m.0[*i].push(at);
                    }
                }
            }
        }
    }

    /// The topic whose phrases were said most (the earlier topic on a tie), if any was.
    pub fn topic(&self, m: &Mentions) -> Option<String> {
        let mut phrase = 0;
        let mut best: Option<(usize, &Topic)> = None;
        for topic in &self.topics {
            let n: usize = m.0[phrase..phrase + topic.keywords.len()]
                .iter()
                .map(Vec::len)
                .sum();
            phrase += topic.keywords.len();
            if n > 0 && best.is_none_or(|(b, _)| n > b) {
                best = Some((n, topic));
            }
        }
        best.map(|(_, t)| t.name.clone())
    }

    /// The tracked keywords that were said, with when.
    pub fn tracked_mentions(&self, m: Mentions) -> Vec<KeywordCount> {
        self.tracked
            .iter()
            .zip(m.0.into_iter().skip(self.topic_phrases))
            .filter(|(_, at)| !at.is_empty())
            .map(|(k, at)| KeywordCount {
                keyword: k.clone(),
                count: at.len() as u32,
                at,
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::text::tokens_marked;

    #[test]
    fn tenant_topics_extend_the_defaults() {
        let t = taxonomy(&[
            Topic {
                name: "Pricing".into(),
                keywords: vec!["rebate".into()],
            },
            Topic {
                name: "batteries".into(),
                keywords: vec!["battery".into(), "powerwall".into()],
            },
        ]);
        assert!(
            t.iter()
                .find(|t| t.name == "pricing")
                .unwrap()
                .keywords
                .contains(&"rebate".to_owned())
        );
        assert!(t.iter().any(|t| t.name == "batteries"));
    }

    #[test]
    fn phrases_are_counted_with_their_times() {
        let v = Vocabulary::new(&["Powerwall".into(), "site visit".into()], &[]);
        let mut m = v.mentions();
        v.count(
            &mut m,
            &tokens_marked("A site visit, then a powerwall and another POWERWALL."),
            12.5,
        );
        assert_eq!(v.topic(&m).as_deref(), Some("scheduling"));
        let tracked: Vec<(String, u32, Vec<f64>)> = v
            .tracked_mentions(m)
            .into_iter()
            .map(|k| (k.keyword, k.count, k.at))
            .collect();
        assert_eq!(
            tracked,
            [
                ("Powerwall".into(), 2, vec![12.5, 12.5]),
                ("site visit".into(), 1, vec![12.5])
            ]
        );
    }
}
