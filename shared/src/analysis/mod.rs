//! Transcript analysis: who is the customer, how they felt, what they asked for and objected
//! to, and what the call was about. Pure functions over a [`Transcript`].
//!
//! Sentiment is VADER (a port of vaderSentiment 3.3.2 with its lexicon) per utterance;
//! intents and objections come from phrase lists that respect negation and speaker role;
//! keywords are RAKE's. Every finding carries the sentence and second it came from.

mod keywords;
mod phrases;
pub mod redact;
mod roles;
mod sentiment;
mod text;

pub use roles::detect_roles;
pub use sentiment::{compound, compound_opt};

use crate::domain::{Analysis, Direction, Hit, SentimentSummary, TalkMetrics, Transcript};

/// Analyse a transcript. `agent_hint` is the agent's speaker label from call metadata, which
/// overrides role detection; `direction` says who answered.
pub fn analyze(
    transcript: &Transcript,
    agent_hint: Option<&str>,
    direction: Direction,
) -> Analysis {
    let roles = detect_roles(transcript, agent_hint, direction);
    let is_customer = |speaker: &str| match (&roles.customer, &roles.agent) {
        (Some(c), _) => c == speaker,
        (None, Some(a)) => a != speaker,
        (None, None) => true,
    };

    let mut intents = Vec::new();
    let mut objections = Vec::new();
    let mut junk = Vec::new();
    let mut quotes: Vec<(f64, Hit)> = Vec::new();
    let mut customer_scores = Vec::new();
    let mut agent_scores = Vec::new();
    let mut talk = TalkMetrics::default();
    // Keywords: what the customer talked about (everything said, when nobody is known to be
    // the customer); speaker names are never keywords.
    let names: Vec<String> = transcript
        .speakers()
        .iter()
        .flat_map(|s| text::tokens(s))
        .collect();
    let mut rake = keywords::Rake::new(&names);

    for (i, seg) in transcript.segments.iter().enumerate() {
        let customer = is_customer(&seg.speaker);
        // VADER scores an utterance as a whole; sentences only choose the quotes.
        let segment_score = sentiment::compound_opt(&seg.text);
        if let Some(score) = segment_score {
            if customer {
                customer_scores.push(score);
            } else {
                agent_scores.push(score);
            }
        }
        let single_sentence = text::sentences(&seg.text).nth(1).is_none();
        for sentence in text::sentences(&seg.text) {
            let words = text::count_words(sentence) as u32;
            if words == 0 {
                continue;
            }
            if customer {
                talk.customer_words += words;
                if sentence.trim_end().ends_with('?') {
                    talk.customer_questions += 1;
                }
                let hit = |kind: &str| Hit {
                    kind: kind.to_owned(),
                    segment: i,
                    at: seg.start,
                    speaker: seg.speaker.clone(),
                    quote: sentence.trim().to_owned(),
                };
                let tokens = text::tokens_marked(sentence);
                let found = phrases::find_marked(&tokens);
                rake.add(&tokens);
                intents.extend(found.intents.iter().map(|k| hit(k)));
                objections.extend(found.objections.iter().map(|k| hit(k)));
                junk.extend(found.junk.iter().map(|k| hit(k)));
                let score = if single_sentence {
                    segment_score
                } else {
                    sentiment::compound_opt(sentence)
                };
                if let Some(s) = score.filter(|s| s.abs() >= 0.3) {
                    quotes.push((s, hit(if s > 0.0 { "positive" } else { "negative" })));
                }
            } else {
                talk.agent_words += words;
            }
        }
    }

    let total_words = talk.customer_words + talk.agent_words;
    if total_words > 0 {
        talk.customer_talk_ratio = f64::from(talk.customer_words) / f64::from(total_words);
    }
    let third = customer_scores.len().div_ceil(3);
    let all: Vec<f64> = customer_scores
        .iter()
        .chain(&agent_scores)
        .copied()
        .collect();
    let sentiment = SentimentSummary {
        customer: mean(&customer_scores).unwrap_or(0.0),
        agent: mean(&agent_scores).unwrap_or(0.0),
        overall: mean(&all).unwrap_or(0.0),
        customer_start: mean(&customer_scores[..third]).unwrap_or(0.0),
        customer_end: mean(&customer_scores[customer_scores.len() - third..]).unwrap_or(0.0),
    };

    // Keep the strongest quote of each sign.
    quotes.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    let mut kept: Vec<Hit> = Vec::new();
    for (_, q) in quotes {
        if !kept.iter().any(|k| k.kind == q.kind) {
            kept.push(q);
        }
    }

    let keywords = rake.top(8);

    Analysis {
        roles,
        sentiment,
        intents,
        objections,
        junk,
        keywords,
        talk,
        quotes: kept,
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TranscriptFormat;
    use crate::formats::parse_transcript;

    fn analyze_text(t: &str) -> Analysis {
        analyze(
            &parse_transcript(TranscriptFormat::PlainText, t.as_bytes()).unwrap(),
            None,
            Direction::Inbound,
        )
    }

    #[test]
    fn customer_intents_count_and_agent_questions_do_not() {
        // GIVEN an agent asking about interest and a customer asking for pricing and a demo
        let a = analyze_text(
            "Agent: Thanks for calling Brightline, this is Maya. Are you interested in a demo?\n\
             Caller: Yes. How much does the premium plan cost? Could we schedule a demo next week?\n",
        );
        // THEN only the customer's words count, each with its quote
        let kinds: Vec<&str> = a.intents.iter().map(|h| h.kind.as_str()).collect();
        assert!(
            kinds.contains(&"pricing") && kinds.contains(&"meeting") && kinds.contains(&"timeline"),
            "{kinds:?}"
        );
        assert!(a.intents.iter().all(|h| h.speaker == "Caller"));
        let pricing = a.intents.iter().find(|h| h.kind == "pricing").unwrap();
        assert_eq!(pricing.quote, "How much does the premium plan cost?");
        assert_eq!(a.roles.customer.as_deref(), Some("Caller"));
    }

    #[test]
    fn negated_intent_is_an_objection_not_a_buying_signal() {
        let a = analyze_text(
            "Agent: Thanks for calling, this is Sam.\nCaller: I'm not interested and I don't need a quote. Please stop calling me.\n",
        );
        assert!(a.intents.is_empty(), "{:?}", a.intents);
        let kinds: Vec<&str> = a.objections.iter().map(|h| h.kind.as_str()).collect();
        assert!(
            kinds.contains(&"not_interested") && kinds.contains(&"do_not_call"),
            "{kinds:?}"
        );
    }

    #[test]
    fn sentiment_moves_with_the_customer() {
        let a = analyze_text(
            "Agent: Thanks for calling, this is Sam.\nCaller: I'm really frustrated, the last installer was terrible.\n\
             Agent: I'm sorry to hear that.\nCaller: Okay.\nAgent: We can fix it this week.\nCaller: That's great, thank you so much, I love it!\n",
        );
        assert!(a.sentiment.customer_start < 0.0, "{:?}", a.sentiment);
        assert!(a.sentiment.customer_end > 0.5, "{:?}", a.sentiment);
        assert!(
            a.quotes
                .iter()
                .any(|q| q.kind == "negative" && q.quote.contains("terrible"))
        );
    }

    #[test]
    fn junk_calls_are_flagged() {
        let a = analyze_text(
            "Caller: Congratulations, you've been selected for a free cruise. Press one now.\n",
        );
        assert!(a.junk.iter().any(|h| h.kind == "spam"), "{:?}", a.junk);
        let a = analyze_text(
            "Agent: Thanks for calling Brightline, this is Maya.\nCaller: Oh sorry, wrong number.\n",
        );
        assert!(
            a.junk.iter().any(|h| h.kind == "wrong_number"),
            "{:?}",
            a.junk
        );
    }
}
