//! What a text from a lead says: a consent keyword (STOP, START, HELP), and reply intents
//! with negation ("don't call me" asks for no call) and their evidence.

use std::sync::LazyLock;

use regex::Regex;

use crate::analysis::text::{is_negator, sentences, tokens_marked};
use crate::domain::{ConsentAction, SmsIntent, consent_keyword, keyword_form};

/// (intent, phrases). Phrases match whole words within a clause.
const PHRASES: &[(&str, &[&str])] = &[
    (
        "call_me",
        &[
            "call me",
            "give me a call",
            "give me a ring",
            "ring me",
            "phone me",
            "can you call",
            "could you call",
            "please call",
            "pls call",
            "plz call",
            "call back",
            "callback",
            "call now",
            "talk on the phone",
            "best number",
            "reach me at",
        ],
    ),
    (
        "schedule",
        &[
            "schedule",
            "book",
            "appointment",
            "meeting",
            "demo",
            "set up a time",
            "set up a call",
            "consultation",
            "site visit",
            "come out",
            "works for me",
            "i'm free",
            "i am free",
            "i'm available",
        ],
    ),
    (
        "pricing",
        &[
            "how much",
            "price",
            "prices",
            "pricing",
            "quote",
            "cost",
            "costs",
            "rates",
            "per month",
            "estimate",
        ],
    ),
    (
        "interested",
        &[
            "interested",
            "sounds good",
            "sounds great",
            "love to",
            "tell me more",
            "more info",
            "learn more",
            "sign me up",
            "sign up",
            "ready to buy",
            "let's do it",
            "want to buy",
            "get started",
        ],
    ),
];

/// Phrases taken as said: negation is part of them.
const DECLINES: &[(&str, &[&str])] = &[
    (
        "not_interested",
        &[
            "not interested",
            "no thanks",
            "no thank you",
            "not looking",
            "don't need",
            "do not need",
            "not now",
            "not for us",
            "i'll pass",
            "already have",
            "went with",
        ],
    ),
    (
        "wrong_number",
        &[
            "wrong number",
            "wrong person",
            "you have the wrong",
            "don't know you",
            "do not know you",
            "who is this",
            "never signed up",
        ],
    ),
    (
        "stop",
        &[
            "stop texting",
            "stop messaging",
            "stop sending",
            "stop contacting",
            "don't text",
            "do not text",
            "dont text",
            "no more texts",
            "no more messages",
            "remove me",
            "take me off",
            "unsubscribe",
            "opt out",
            "leave me alone",
        ],
    ),
];

/// Whole-message short replies.
const SHORT: &[(&str, &[&str])] = &[
    (
        "interested",
        &[
            "YES",
            "YESPLEASE",
            "YEAH",
            "YEP",
            "SURE",
            "OK",
            "OKAY",
            "DEFINITELY",
            "ABSOLUTELY",
            "👍",
        ],
    ),
    ("not_interested", &["NO", "NOPE", "NAH", "NOTHANKS"]),
];

/// How many words before a phrase a negator still negates it.
const NEGATION_WINDOW: usize = 4;

/// A time the lead proposes: "tomorrow at 3pm", "Tuesday 10:30", "at 4 pm".
static WHEN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?ix)\b(
            (?:today|tonight|tomorrow|tmrw|this\s+(?:morning|afternoon|evening|week)|next\s+week
              |(?:next\s+|this\s+)?(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday))
            (?:\s+(?:at\s+|around\s+|after\s+|before\s+)?\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)?)?
          | (?:at\s+|around\s+|after\s+)?\d{1,2}(?::\d{2})?\s*(?:am|pm|a\.m\.|p\.m\.)
          | (?:at|around)\s+\d{1,2}:\d{2}
        )",
    )
    .expect("the time pattern compiles")
});

/// The consent keyword (as the lead wrote it, normalised) and the intents of a message.
pub fn analyze(body: &str) -> (Option<(ConsentAction, &'static str)>, Vec<SmsIntent>) {
    let keyword = consent_keyword(body);
    let mut out: Vec<SmsIntent> = Vec::new();
    fn add(out: &mut Vec<SmsIntent>, intent: &str, phrase: &str) {
        if !out.iter().any(|i| i.intent == intent) {
            out.push(SmsIntent {
                intent: intent.to_owned(),
                phrase: phrase.to_owned(),
                when: None,
            });
        }
    }
    match keyword {
        Some((ConsentAction::OptOut, k)) => add(&mut out, "stop", k),
        Some((ConsentAction::OptIn, "YES")) => add(&mut out, "interested", "yes"),
        _ => {}
    }
    let whole = keyword_form(body);
    for (intent, replies) in SHORT {
        if replies.contains(&whole.as_str()) {
            add(&mut out, intent, body.trim());
        }
    }
    for sentence in sentences(body) {
        let tokens = tokens_marked(sentence);
        for clause in tokens.chunk_by(|a, b| a.clause == b.clause) {
            let words: Vec<&str> = clause.iter().map(|t| t.word.as_str()).collect();
            let mut declined = false;
            for (intent, phrases) in DECLINES {
                for p in *phrases {
                    if find(&words, p).is_some() {
                        declined = true;
                        add(&mut out, intent, p);
                    }
                }
            }
            for (intent, phrases) in PHRASES {
                for p in *phrases {
                    let Some(at) = find(&words, p) else { continue };
                    let negated = words[at.saturating_sub(NEGATION_WINDOW)..at]
                        .iter()
                        .any(|w| is_negator(w));
                    match (*intent, negated) {
                        ("interested", true) => add(&mut out, "not_interested", p),
                        (_, true) => {}
                        // A clause that declines ("no thanks, don't need a quote") asks for
                        // nothing.
                        (_, false) if declined => {}
                        (_, false) => add(&mut out, intent, p),
                    }
                }
            }
        }
    }
    let declined = out.iter().any(|i| {
        matches!(
            i.intent.as_str(),
            "stop" | "not_interested" | "wrong_number"
        )
    });
    if let Some(when) = WHEN.find(body).map(|m| m.as_str().trim().to_owned()) {
        let wants_time = out
            .iter()
            .any(|i| matches!(i.intent.as_str(), "call_me" | "schedule" | "interested"));
        if wants_time || !declined {
            add(&mut out, "schedule", &when);
            for i in out
                .iter_mut()
                .filter(|i| matches!(i.intent.as_str(), "call_me" | "schedule"))
            {
                i.when = Some(when.clone());
            }
        }
    }
    (keyword, out)
}

/// Where `phrase` starts in `words`, as whole words.
fn find(words: &[&str], phrase: &str) -> Option<usize> {
    let p: Vec<&str> = phrase.split(' ').collect();
    words.windows(p.len()).position(|w| w == p.as_slice())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn intents(body: &str) -> Vec<String> {
        let mut v: Vec<String> = analyze(body).1.into_iter().map(|i| i.intent).collect();
        v.sort();
        v
    }

    #[test]
    fn intents_respect_negation() {
        assert_eq!(intents("Call me please"), ["call_me"]);
        assert_eq!(
            intents("Please don't call me, text only"),
            Vec::<String>::new()
        );
        assert_eq!(intents("I'm not interested"), ["not_interested"]);
        assert_eq!(
            intents("Interested! How much is it?"),
            ["interested", "pricing"]
        );
        assert_eq!(
            intents("No thanks, we don't need a quote"),
            ["not_interested"]
        );
        assert_eq!(
            intents("No, I'd love to get a quote"),
            ["interested", "pricing"]
        );
        assert_eq!(intents("wrong number"), ["wrong_number"]);
        assert_eq!(intents("Stop texting me"), ["stop"]);
        assert_eq!(intents("STOP"), ["stop"]);
        assert_eq!(intents("yes"), ["interested"]);
        assert_eq!(intents("Nope"), ["not_interested"]);
    }

    #[test]
    fn a_proposed_time_is_kept_with_the_request() {
        let (_, hits) = analyze("Can you call me tomorrow at 3pm?");
        let call = hits.iter().find(|h| h.intent == "call_me").unwrap();
        assert_eq!(call.when.as_deref(), Some("tomorrow at 3pm"));
        let schedule = hits.iter().find(|h| h.intent == "schedule").unwrap();
        assert_eq!(schedule.when.as_deref(), Some("tomorrow at 3pm"));
        let (_, hits) = analyze("Let's book a demo Tuesday 10:30 am");
        assert_eq!(hits[0].intent, "schedule");
        assert_eq!(hits[0].when.as_deref(), Some("Tuesday 10:30 am"));
        // A time with a refusal schedules nothing.
        assert_eq!(
            intents("Not interested, don't text me at 6am"),
            ["not_interested", "stop"]
        );
    }

    #[test]
    fn emoji_and_non_latin_text_do_not_break_anything() {
        assert_eq!(intents("👍"), ["interested"]);
        assert!(intents("Здравствуйте, 你好!").is_empty());
        assert_eq!(intents("Llámame 📞 call me!"), ["call_me"]);
    }
}
