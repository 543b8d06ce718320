//! Buying signals, objections and junk-call signals in a customer's sentence.
//!
//! Intents are negatable: "I don't need a quote" is not a pricing request, and a negated
//! interest ("I'm not really interested") is an objection. Objection and junk phrases carry
//! their own negation and are taken as said.

use std::sync::LazyLock;

use rustc_hash::FxHashMap;

#[cfg(test)]
use super::text::tokens_marked;
use super::text::{Token, is_negator};

/// (kind, phrases). A phrase is matched on whole words.
const INTENTS: &[(&str, &[&str])] = &[
    (
        "pricing",
        &[
            "how much",
            "pricing",
            "price",
            "prices",
            "quote",
            "estimate",
            "cost",
            "costs",
            "rates",
            "per month",
            "payment plan",
        ],
    ),
    (
        "meeting",
        &[
            "demo",
            "schedule",
            "appointment",
            "meeting",
            "site visit",
            "come out",
            "consultation",
            "set up a time",
            "book a",
            "walk me through",
        ],
    ),
    (
        "purchase",
        &[
            "ready to buy",
            "sign up",
            "move forward",
            "go ahead",
            "get started",
            "place an order",
            "purchase",
            "sign the contract",
            "ready to go",
            "want to buy",
        ],
    ),
    (
        "timeline",
        &[
            "this week",
            "next week",
            "this month",
            "next month",
            "by friday",
            "asap",
            "as soon as possible",
            "before the end of",
            "this quarter",
            "within the next",
            "before winter",
            "before summer",
        ],
    ),
    (
        "budget",
        &["budget", "budgeted", "approved", "financing", "set aside"],
    ),
    (
        "decision_maker",
        &[
            "i'm the owner",
            "i own the",
            "i make the decision",
            "i make the decisions",
            "my decision",
            "decision maker",
            "i sign off",
            "it's my call",
            "i'm the one who decides",
        ],
    ),
    (
        "callback",
        &[
            "call me back",
            "give me a call",
            "call me at",
            "call me tomorrow",
            "best number",
            "reach me at",
        ],
    ),
    (
        "competitor",
        &[
            "competitor",
            "another company",
            "other quotes",
            "other quote",
            "currently using",
            "switch from",
            "switching from",
            "currently with",
        ],
    ),
];

/// Interest phrases: a sign of interest, and negated, an objection.
const INTEREST: &[&str] = &[
    "interested",
    "sounds great",
    "sounds good",
    "love to",
    "like to see",
];

const OBJECTIONS: &[(&str, &[&str])] = &[
    (
        "not_interested",
        &[
            "not interested",
            "no thanks",
            "no thank you",
            "not looking",
            "don't need",
            "do not need",
            "not a good time",
            "not for us",
        ],
    ),
    (
        "too_expensive",
        &[
            "too expensive",
            "too much money",
            "too pricey",
            "can't afford",
            "cannot afford",
            "out of our budget",
            "over our budget",
            "costs too much",
            "cheaper",
        ],
    ),
    (
        "do_not_call",
        &[
            "do not call",
            "don't call",
            "stop calling",
            "take me off",
            "remove me",
            "remove my number",
            "take my number off",
        ],
    ),
];

const JUNK: &[(&str, &[&str])] = &[
    (
        "wrong_number",
        &[
            "wrong number",
            "you have the wrong",
            "must have the wrong",
            "i didn't call",
            "never called",
            "misdialed",
            "misdial",
        ],
    ),
    (
        "spam",
        &[
            "press one",
            "press 1",
            "extended warranty",
            "you've been selected",
            "automated message",
            "this is an automated",
            "final notice",
            "car's warranty",
            "free cruise",
            "limited time offer",
        ],
    ),
    (
        "voicemail",
        &[
            "leave a message",
            "after the tone",
            "after the beep",
            "not available to take your call",
            "voicemail",
            "mailbox",
        ],
    ),
];

#[derive(Debug, Default)]
pub struct Found {
    pub intents: Vec<&'static str>,
    pub objections: Vec<&'static str>,
    pub junk: Vec<&'static str>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Group {
    Intent,
    Interest,
    Objection,
    Junk,
}

struct Phrase {
    words: Vec<&'static str>,
    group: Group,
    kind: &'static str,
}

/// Every phrase, indexed by its first word: matching costs one lookup per word.
static INDEX: LazyLock<FxHashMap<&'static str, Vec<Phrase>>> = LazyLock::new(|| {
    let mut index: FxHashMap<&'static str, Vec<Phrase>> = FxHashMap::default();
    let mut add = |group: Group, kind: &'static str, phrase: &'static str| {
        let words: Vec<&'static str> = phrase.split(' ').collect();
        index
            .entry(words[0])
            .or_default()
            .push(Phrase { words, group, kind });
    };
    for (groups, group) in [
        (INTENTS, Group::Intent),
        (OBJECTIONS, Group::Objection),
        (JUNK, Group::Junk),
    ] {
        for &(kind, phrases) in groups {
            for p in phrases {
                add(group, kind, p);
            }
        }
    }
    for p in INTEREST {
        add(Group::Interest, "interest", p);
    }
    index
});

/// How many words before a phrase a negator still negates it.
const NEGATION_WINDOW: usize = 4;

fn negated(tokens: &[Token], at: usize) -> bool {
    tokens[at.saturating_sub(NEGATION_WINDOW)..at]
        .iter()
        .any(|t| is_negator(&t.word))
}

/// Find signals in a sentence. Negation reaches back at most [`NEGATION_WINDOW`] words and
/// never across a comma or semicolon ("No, I'd love a quote" asks for a quote).
#[cfg(test)]
pub fn find(sentence: &str) -> Found {
    find_marked(&tokens_marked(sentence))
}

/// [`find`] over a sentence's tokens.
pub fn find_marked(tokens: &[Token]) -> Found {
    let mut found = Found::default();
    for clause in tokens.chunk_by(|a, b| a.clause == b.clause) {
        find_in_clause(clause, &mut found);
    }
    found
}

fn push(list: &mut Vec<&'static str>, kind: &'static str) {
    if !list.contains(&kind) {
        list.push(kind);
    }
}

fn find_in_clause(tokens: &[Token], found: &mut Found) {
    // (group, kind, position) of every phrase in the clause.
    let mut hits: Vec<(Group, &'static str, usize)> = Vec::new();
    for (at, t) in tokens.iter().enumerate() {
        if let Some(phrases) = INDEX.get(t.word.as_str()) {
            for p in phrases {
                let end = at + p.words.len();
                if end <= tokens.len()
                    && tokens[at..end]
                        .iter()
                        .zip(&p.words)
                        .all(|(a, b)| a.word == *b)
                {
                    hits.push((p.group, p.kind, at));
                }
            }
        }
    }
    for &(group, kind, at) in &hits {
        match group {
            Group::Objection => push(&mut found.objections, kind),
            Group::Junk => push(&mut found.junk, kind),
            Group::Interest if negated(tokens, at) => push(&mut found.objections, "not_interested"),
            Group::Interest => push(&mut found.intents, kind),
            Group::Intent => {}
        }
    }
    // A clause that objects ("we don't need a quote") asks for nothing.
    if found
        .objections
        .iter()
        .any(|k| matches!(*k, "not_interested" | "do_not_call"))
    {
        return;
    }
    for &(group, kind, at) in &hits {
        if group == Group::Intent && !negated(tokens, at) {
            push(&mut found.intents, kind);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_match_whole_words_only() {
        let f = find("We have a schedule conflict with the pricey one");
        assert_eq!(f.intents, ["meeting"]);
        assert!(find("The quotation marks").intents.is_empty());
    }

    #[test]
    fn negation_within_four_words_cancels_an_intent() {
        assert!(find("We won't be needing a demo").intents.is_empty());
        assert_eq!(
            find("I'm not really interested").objections,
            ["not_interested"]
        );
        assert_eq!(
            find("No, I'd love to get a quote").intents,
            ["interest", "pricing"]
        );
    }
}
