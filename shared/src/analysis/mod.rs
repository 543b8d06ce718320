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
pub(crate) mod text;
pub mod topics;

pub use roles::detect_roles;
pub use sentiment::{compound, compound_opt};

use crate::domain::{
    Analysis, Direction, Hit, SentimentPoint, SentimentSummary, TalkMetrics, Transcript,
};

/// What is known about a call besides its words.
#[derive(Debug, Clone, Copy)]
pub struct Hints<'a> {
    /// The agent's speaker label from call metadata; overrides role detection.
    pub agent: Option<&'a str>,
    /// Who answered: the tenant (inbound) or the lead (outbound).
    pub direction: Direction,
    /// The tenant's topics and tracked keywords, compiled.
    pub vocabulary: &'a topics::Vocabulary,
}

static DEFAULT_VOCABULARY: std::sync::LazyLock<std::sync::Arc<topics::Vocabulary>> =
    std::sync::LazyLock::new(topics::Vocabulary::shared_default);

impl Default for Hints<'_> {
    fn default() -> Self {
        Self {
            agent: None,
            direction: Direction::Inbound,
            vocabulary: &DEFAULT_VOCABULARY,
        }
    }
}

/// Analyse a transcript. `agent_hint` is the agent's speaker label from call metadata, which
/// overrides role detection; `direction` says who answered.
pub fn analyze(
    transcript: &Transcript,
    agent_hint: Option<&str>,
    direction: Direction,
) -> Analysis {
    analyze_with(
        transcript,
        &Hints {
            agent: agent_hint,
            direction,
            ..Hints::default()
        },
    )
}

/// Analyse a transcript with everything known about the call and the tenant.
pub fn analyze_with(transcript: &Transcript, hints: &Hints) -> Analysis {
    let (agent_hint, direction) = (hints.agent, hints.direction);
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
    let mut timeline = Vec::new();
    let mut talk = TalkMetrics::default();
    // Keywords: what the customer talked about (everything said, when nobody is known to be
    // the customer); speaker names are never keywords.
    let names: Vec<String> = transcript
        .speakers()
        .iter()
        .flat_map(|s| text::tokens(s))
        .collect();
    let mut rake = keywords::Rake::new(&names);
    let mut mentions = hints.vocabulary.mentions();
    let mut english_words = 0usize;
    let mut all_words = 0usize;

    for (i, seg) in transcript.segments.iter().enumerate() {
        let customer = is_customer(&seg.speaker);
        // VADER scores an utterance as a whole; sentences only choose the quotes.
        let segment_score = sentiment::compound_opt(&seg.text);
        if let Some(score) = segment_score {
            timeline.push(SentimentPoint {
                at: seg.start,
                customer,
                score,
            });
            if customer {
                customer_scores.push(score);
            } else {
                agent_scores.push(score);
            }
        }
        let single_sentence = text::sentences(&seg.text).nth(1).is_none();
        for sentence in text::sentences(&seg.text) {
            if !customer {
                talk.agent_words += text::count_words(sentence) as u32;
                continue;
            }
            // The customer's sentence is tokenised once, for every analyser.
            let tokens = text::tokens_marked(sentence);
            if tokens.is_empty() {
                continue;
            }
            talk.customer_words += tokens.len() as u32;
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
            let found = phrases::find_marked(&tokens);
            rake.add(&tokens);
            hints.vocabulary.count(&mut mentions, &tokens, seg.start);
            all_words += tokens.len();
            english_words += tokens
                .iter()
                .filter(|t| text::is_common_english(&t.word))
                .count();
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
        timeline: bounded_timeline(timeline),
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
    talk_timing(transcript, &is_customer, &mut talk);

    let mut notes = Vec::new();
    if transcript.segments.is_empty() {
        notes.push("the transcript is empty".to_owned());
    } else if talk.customer_words == 0 {
        notes.push("no speech from the customer was found, so there are no intents, objections or customer sentiment".to_owned());
    }
    if all_words >= 20 && (english_words as f64) < 0.15 * all_words as f64 {
        notes.push(
            "the customer's words do not look like English; sentiment, intents and keywords only understand English"
                .to_owned(),
        );
    }

    let topic = hints.vocabulary.topic(&mentions);
    let tracked_keywords = hints.vocabulary.tracked_mentions(mentions);

    Analysis {
        roles,
        sentiment,
        intents: bounded(intents),
        objections: bounded(objections),
        junk: bounded(junk),
        keywords,
        tracked_keywords,
        topic,
        talk,
        quotes: bounded(kept),
        notes,
    }
    .with_junk_topic()
}

/// The most quotes a call keeps of one kind of finding (the first ones said). Scoring reads
/// whether a kind was found, with its quotes as evidence; a transcript that says "price" a
/// million times must not make a call too large to store (a DynamoDB item holds 400 KB).
pub const MAX_HITS_PER_KIND: usize = 5;
/// The longest quote kept, in characters: a sentence past it is cut with an ellipsis.
pub const MAX_QUOTE_CHARS: usize = 300;

fn bounded(hits: Vec<Hit>) -> Vec<Hit> {
    let mut per_kind: std::collections::HashMap<String, usize> = Default::default();
    hits.into_iter()
        .filter(|h| {
            let n = per_kind.entry(h.kind.clone()).or_default();
            *n += 1;
            *n <= MAX_HITS_PER_KIND
        })
        .map(|mut h| {
            if h.quote.chars().count() > MAX_QUOTE_CHARS {
                h.quote = h
                    .quote
                    .chars()
                    .take(MAX_QUOTE_CHARS - 1)
                    .collect::<String>()
                    + "…";
            }
            h
        })
        .collect()
}

/// Turn-taking and silence from the segments' times.
fn talk_timing(t: &Transcript, is_customer: &dyn Fn(&str) -> bool, talk: &mut TalkMetrics) {
    // The customer's longest turn: consecutive customer segments.
    let mut turn_start: Option<f64> = None;
    for seg in &t.segments {
        if is_customer(&seg.speaker) {
            let start = *turn_start.get_or_insert(seg.start);
            talk.longest_customer_turn = talk.longest_customer_turn.max(seg.end - start);
        } else {
            turn_start = None;
        }
    }
    // Silence: gaps not covered by anyone's speech.
    let mut spans: Vec<(f64, f64)> = t.segments.iter().map(|s| (s.start, s.end)).collect();
    spans.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut covered_to: Option<f64> = None;
    for (start, end) in spans {
        if let Some(to) = covered_to
            && start > to
        {
            talk.silence += start - to;
            talk.longest_silence = talk.longest_silence.max(start - to);
        }
        covered_to = Some(covered_to.map_or(end, |to| to.max(end)));
    }
    talk.longest_customer_turn = (talk.longest_customer_turn * 100.0).round() / 100.0;
    talk.silence = (talk.silence * 100.0).round() / 100.0;
    talk.longest_silence = (talk.longest_silence * 100.0).round() / 100.0;
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// At most `SentimentPoint::MAX` points: past it, each side's turns are averaged in equal
/// runs (each run at its first turn's time).
fn bounded_timeline(points: Vec<SentimentPoint>) -> Vec<SentimentPoint> {
    if points.len() <= SentimentPoint::MAX {
        return points;
    }
    let mut out: Vec<SentimentPoint> = [true, false]
        .into_iter()
        .flat_map(|side| {
            let mine: Vec<&SentimentPoint> = points.iter().filter(|p| p.customer == side).collect();
            // Each side its share of the points.
            let budget = (SentimentPoint::MAX * mine.len() / points.len()).max(1);
            mine.chunks(mine.len().div_ceil(budget).max(1))
                .map(|c| SentimentPoint {
                    at: c[0].at,
                    customer: side,
                    score: c.iter().map(|p| p.score).sum::<f64>() / c.len() as f64,
                })
                .collect::<Vec<_>>()
        })
        .collect();
    out.sort_by(|a, b| a.at.total_cmp(&b.at));
    out
}

/// For tests across the crate: a call of `lead` at `at`, `text` (`Speaker: words` lines)
/// analysed as an inbound call, its status `Analyzed`.
#[cfg(test)]
pub(crate) fn analysed_call(
    lead: &crate::domain::Lead,
    call_id: crate::domain::CallId,
    at: chrono::DateTime<chrono::Utc>,
    text: &str,
) -> crate::domain::Call {
    use crate::domain::{Call, CallStatus, TranscriptFormat};
    let transcript =
        crate::formats::parse_transcript(TranscriptFormat::PlainText, text.as_bytes()).unwrap();
    let analysis = analyze(&transcript, None, Direction::Inbound);
    Call {
        tenant_id: lead.tenant_id.clone(),
        call_id,
        lead_id: lead.lead_id.clone(),
        call_start_time: at,
        call_duration: Some(240.0),
        direction: Direction::Inbound,
        caller: lead.phone_number.clone(),
        callee: None,
        external_id: None,
        source_name: "t".into(),
        recording_key: None,
        recording_sha256: None,
        transcript_source_key: None,
        transcript_sha256: None,
        transcript_key: None,
        status: CallStatus::Analyzed,
        status_detail: None,
        failed_stage: None,
        agent_speaker: None,
        sentiment_score: Some(analysis.sentiment.customer),
        keywords: analysis.keywords.clone(),
        pii_masked: 0,
        analysis: Some(analysis),
        attributes: Default::default(),
        created_at: at,
        updated_at: at,
        version: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Transcript, TranscriptFormat};
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
        // The timeline: a point per turn with sentiment (not "We can fix it this week."), each
        // side marked, the customer going from low to high.
        let timeline = &a.sentiment.timeline;
        let sides: Vec<bool> = timeline.iter().map(|p| p.customer).collect();
        assert_eq!(sides, [false, true, false, true, true], "{timeline:?}");
        assert!(
            timeline[1].score < 0.0 && timeline[4].score > 0.5,
            "{timeline:?}"
        );
        assert!(timeline.windows(2).all(|w| w[0].at <= w[1].at));
    }

    #[test]
    fn a_long_calls_timeline_is_averaged_in_runs() {
        let points: Vec<SentimentPoint> = (0..1000)
            .map(|i| SentimentPoint {
                at: f64::from(i),
                customer: i % 2 == 0,
                score: if i < 500 { -0.5 } else { 0.5 },
            })
            .collect();
        let bounded = bounded_timeline(points);
        assert!(bounded.len() <= SentimentPoint::MAX, "{}", bounded.len());
        assert!(
            bounded.len() >= SentimentPoint::MAX - 10,
            "{}",
            bounded.len()
        );
        assert!(bounded.windows(2).all(|w| w[0].at <= w[1].at));
        assert_eq!(bounded.first().unwrap().score, -0.5);
        assert_eq!(bounded.last().unwrap().score, 0.5);
        assert_eq!(
            bounded.iter().filter(|p| p.customer).count(),
            bounded.len() / 2
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

    #[test]
    fn turns_silence_topic_and_tracked_keywords() {
        // GIVEN a timed call about a broken inverter, with a gap and a two-segment customer turn
        let t = parse_transcript(
            TranscriptFormat::PlainText,
            b"[00:00] Agent: Thanks for calling Brightline, this is Maya.\n\
              [00:04] Caller: Our inverter shows an error and the system is down.\n\
              [00:09] Caller: We need a technician to fix it.\n\
              [00:20] Agent: I can send someone tomorrow.\n",
        )
        .unwrap();
        let vocabulary =
            topics::Vocabulary::new(&["inverter".to_owned(), "warranty".to_owned()], &[]);
        let a = analyze_with(
            &t,
            &Hints {
                vocabulary: &vocabulary,
                ..Hints::default()
            },
        );
        // THEN
        assert_eq!(a.topic.as_deref(), Some("support issue"));
        assert_eq!(a.tracked_keywords.len(), 1, "only keywords that were said");
        assert_eq!(
            (a.tracked_keywords[0].count, a.tracked_keywords[0].at[0]),
            (1, 4.0)
        );
        assert!(a.talk.longest_customer_turn > 7.0, "{:?}", a.talk);
        assert!(
            a.talk.longest_silence > 5.0 && a.talk.silence >= a.talk.longest_silence,
            "{:?}",
            a.talk
        );
        assert!(!a.is_junk());
    }

    #[test]
    fn junk_calls_are_junk_and_say_so() {
        let a = analyze_text(
            "Caller: This is an automated message about your car's extended warranty. Press one.\n",
        );
        assert!(a.is_junk());
        assert_eq!(a.topic.as_deref(), Some("junk"));
        let vm = analyze_text(
            "Caller: You've reached Rachel. Please leave a message after the beep.\nAgent: Hi Rachel, Maya here.\n",
        );
        assert!(vm.is_junk(), "a voicemail without conversation");
    }

    #[test]
    fn odd_input_gives_a_result_and_a_reason() {
        // Another language
        let a = analyze_text(
            "Agente: Gracias por llamar a Brightline, habla Maya.\n\
             Cliente: Quisiera saber el precio de los paneles solares para mi casa en Tucson, por favor, y si tienen financiamiento disponible este mes.\n",
        );
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("do not look like English")),
            "{:?}",
            a.notes
        );
        // Only the agent speaks
        let t = parse_transcript(
            TranscriptFormat::PlainText,
            b"Agent: Hello? Is anyone there?\n",
        )
        .unwrap();
        let a = analyze_with(
            &t,
            &Hints {
                agent: Some("Agent"),
                ..Hints::default()
            },
        );
        assert!(
            a.notes
                .iter()
                .any(|n| n.contains("no speech from the customer")),
            "{:?}",
            a.notes
        );
        // Empty, and control characters
        let empty = Transcript {
            format: TranscriptFormat::Segments,
            by_channel: false,
            segments: vec![],
        };
        assert_eq!(
            analyze_with(&empty, &Hints::default()).notes,
            ["the transcript is empty"]
        );
        let a = analyze_text("Agent: hi\u{0}\u{7}there\nCaller: I'd like\u{1b}[31m a quote\u{8}\n");
        assert!(a.intents.iter().any(|h| h.kind == "pricing"));
    }

    #[test]
    fn a_long_transcript_is_analysed_whole() {
        // A call of about three hours (the most a transcript may last is four, by its times
        // or, for plain text, by its words): many turns, and one enormous turn without
        // punctuation.
        let turn = "Caller: How much would panels cost for our warehouse roof? We want them this month.\nAgent: About forty thousand.\n";
        let mut text = turn.repeat(1_000);
        text.push_str("Caller: ");
        text.push_str(&"really great ".repeat(5_000));
        text.push('\n');
        let a = analyze_text(&text);
        // Found, and kept within bounds: a few quotes of each kind, each of bounded length.
        assert!(
            a.intents.iter().any(|h| h.kind == "pricing"),
            "{:?}",
            a.intents
        );
        for hits in [&a.intents, &a.objections, &a.junk, &a.quotes] {
            for kind in hits.iter().map(|h| &h.kind) {
                let n = hits.iter().filter(|h| &h.kind == kind).count();
                assert!(n <= MAX_HITS_PER_KIND, "{n} hits of {kind}");
            }
            assert!(
                hits.iter()
                    .all(|h| h.quote.chars().count() <= MAX_QUOTE_CHARS)
            );
        }
        assert!(a.sentiment.customer > 0.0);
    }
}
