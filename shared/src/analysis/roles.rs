//! Who is the customer and who the agent.

use crate::domain::{Direction, Roles, Transcript};

/// Phrases agents open with, and how sure each makes us: "thanks for calling" is an agent's;
/// "this is", "speaking" and "calling from" are said by callers too.
const AGENT_MARKERS: &[(&str, u32)] = &[
    ("thank you for calling", 3),
    ("thanks for calling", 3),
    ("how can i help", 3),
    ("how may i help", 3),
    ("how can i assist", 3),
    ("reaching out from", 2),
    ("calling with", 2),
    ("this is", 1),
    ("my name is", 1),
    ("speaking", 1),
    ("calling from", 1),
];

/// How strongly a speaker's opening turns sound like the agent's: the markers, plus "<Name>
/// from <Company>" (a capitalised word after "from"), the way agents introduce themselves.
fn agent_score(t: &Transcript, speaker: &str) -> u32 {
    t.segments
        .iter()
        .filter(|seg| seg.speaker == speaker)
        .take(3)
        .map(|seg| {
            let l = seg.text.to_lowercase();
            let markers: u32 = AGENT_MARKERS
                .iter()
                .filter(|(m, _)| l.contains(m))
                .map(|(_, w)| w)
                .sum();
            let intro = seg
                .text
                .split(" from ")
                .skip(1)
                .any(|rest| rest.starts_with(char::is_uppercase));
            markers + if intro { 2 } else { 0 }
        })
        .sum()
}

const AGENT_NAMES: &[&str] = &[
    "agent",
    "rep",
    "representative",
    "sales",
    "support",
    "advisor",
    "operator",
];
const CUSTOMER_NAMES: &[&str] = &["customer", "caller", "client", "prospect", "lead", "buyer"];

/// Decide roles: metadata first, then speaker names that say it, then the greeting, then who
/// spoke first (the tenant answers inbound calls; the lead answers outbound ones).
pub fn detect_roles(t: &Transcript, agent_hint: Option<&str>, direction: Direction) -> Roles {
    let speakers = t.speakers();
    let other = |agent: &str| {
        speakers
            .iter()
            .find(|s| **s != agent)
            .map(|s| (*s).to_owned())
    };
    let decided = |agent: &str, confidence: f64, method: &str| Roles {
        customer: other(agent),
        agent: Some(agent.to_owned()),
        confidence,
        method: method.to_owned(),
    };
    if let Some(hint) = agent_hint
        && let Some(agent) = speakers.iter().find(|s| s.eq_ignore_ascii_case(hint))
    {
        return decided(agent, 1.0, "call metadata names the agent");
    }
    let named = |names: &[&str]| {
        speakers.iter().find(|s| {
            let l = s.to_ascii_lowercase();
            names.iter().any(|n| {
                l == *n || l.starts_with(&format!("{n} ")) || l.starts_with(&format!("{n}_"))
            })
        })
    };
    if let Some(agent) = named(AGENT_NAMES) {
        return decided(agent, 1.0, "speaker label");
    }
    if let Some(customer) = named(CUSTOMER_NAMES) {
        let agent = speakers
            .iter()
            .find(|s| *s != customer)
            .map(|s| (*s).to_owned());
        return Roles {
            customer: Some((*customer).to_owned()),
            agent,
            confidence: 1.0,
            method: "speaker label".into(),
        };
    }
    if speakers.len() < 2 {
        return Roles {
            customer: speakers.first().map(|s| (*s).to_owned()),
            agent: None,
            confidence: 0.5,
            method: "one speaker only".into(),
        };
    }
    // The speaker whose opening turns sound most like an agent's; who answered breaks ties
    // (the tenant answers inbound calls, the lead outbound ones).
    let answerer = match direction {
        Direction::Inbound => speakers[0],
        Direction::Outbound => speakers[1],
    };
    let scored: Vec<(u32, &str)> = speakers
        .iter()
        .map(|s| (agent_score(t, s) * 2 + u32::from(*s == answerer), *s))
        .collect();
    if let Some(&(best, agent)) = scored.iter().max_by_key(|(score, _)| *score)
        && best >= 2
    {
        let runner_up = scored
            .iter()
            .filter(|(_, s)| *s != agent)
            .map(|(score, _)| *score)
            .max()
            .unwrap_or(0);
        let confidence = if best >= runner_up + 4 { 0.9 } else { 0.75 };
        return decided(agent, confidence, "agent greeting");
    }
    match direction {
        Direction::Inbound => decided(speakers[0], 0.55, "the agent answers an inbound call"),
        Direction::Outbound => decided(speakers[1], 0.55, "the lead answers an outbound call"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::TranscriptFormat;
    use crate::formats::parse_transcript;

    fn roles(text: &str, hint: Option<&str>) -> Roles {
        detect_roles(
            &parse_transcript(TranscriptFormat::PlainText, text.as_bytes()).unwrap(),
            hint,
            Direction::Inbound,
        )
    }

    #[test]
    fn without_other_clues_direction_says_who_answered() {
        let t = parse_transcript(TranscriptFormat::PlainText, b"A: Hello?\nB: Hi there.").unwrap();
        assert_eq!(
            detect_roles(&t, None, Direction::Inbound).agent.as_deref(),
            Some("A")
        );
        assert_eq!(
            detect_roles(&t, None, Direction::Outbound).agent.as_deref(),
            Some("B")
        );
    }

    #[test]
    fn greeting_names_the_agent_even_when_the_customer_speaks_first() {
        let r = roles(
            "Dana: Hello?\nMaya: Hi Dana, this is Maya calling from Brightline Solar.\nDana: Oh hi.",
            None,
        );
        assert_eq!(r.agent.as_deref(), Some("Maya"));
        assert_eq!(r.customer.as_deref(), Some("Dana"));
    }

    #[test]
    fn metadata_overrides_detection() {
        let r = roles("A: Thanks for calling, this is A.\nB: Hi.", Some("b"));
        assert_eq!(r.agent.as_deref(), Some("B"));
        assert_eq!(r.confidence, 1.0);
    }

    #[test]
    fn labels_that_say_the_role_settle_it() {
        let r = roles("Customer: Hi.\nSpeaker 2: Hello.", None);
        assert_eq!(r.customer.as_deref(), Some("Customer"));
    }
}
