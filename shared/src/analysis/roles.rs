//! Who is the customer and who the agent.

use crate::domain::{Direction, Roles, Transcript};

/// Phrases agents open with.
const AGENT_MARKERS: &[&str] = &[
    "thank you for calling",
    "thanks for calling",
    "how can i help",
    "how may i help",
    "how can i assist",
    "this is",
    "my name is",
    "speaking",
    "calling from",
    "calling with",
    "reaching out from",
];
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
    // The speaker whose opening turns carry an agent's greeting.
    let greeting = speakers.iter().max_by_key(|s| {
        t.segments
            .iter()
            .filter(|seg| seg.speaker == **s)
            .take(3)
            .map(|seg| {
                let l = seg.text.to_lowercase();
                AGENT_MARKERS.iter().filter(|m| l.contains(*m)).count()
            })
            .sum::<usize>()
    });
    if let Some(agent) = greeting
        && t.segments
            .iter()
            .filter(|seg| seg.speaker == **agent)
            .take(3)
            .any(|seg| {
                let l = seg.text.to_lowercase();
                AGENT_MARKERS.iter().any(|m| l.contains(m))
            })
    {
        return decided(agent, 0.85, "agent greeting");
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
