//! Human-readable output: tables and details for a terminal.

use std::fmt::Write;

use shared::domain::{
    Analysis, CallStatus, Evidence, Hit, Lead, SmsDirection, SmsEventKind, Transcript,
};
use shared::handlers::ingest::Outcome;
use shared::handlers::lead_detail::LeadDetail;
use shared::local::{GroupOutcome, GroupResult};

/// Counts of what ingest did, and the files it rejected.
#[derive(Default)]
pub struct Tally {
    pub created: usize,
    pub attached: usize,
    pub duplicate: usize,
    pub errors: Vec<(String, String)>,
}

impl Tally {
    pub fn add(&mut self, outcome: &GroupOutcome) {
        for r in &outcome.results {
            match &r.result {
                Ok(report) => match report.outcome {
                    Outcome::Created => self.created += 1,
                    Outcome::Attached => self.attached += 1,
                    Outcome::Duplicate => self.duplicate += 1,
                },
                Err(e) => self.errors.push((file_name(r), e.to_string())),
            }
        }
    }

    pub fn summary(&self, jobs: usize) -> String {
        format!(
            "{} new calls, {} added to earlier calls, {} already ingested, {} rejected; {} analysis and scoring steps run",
            self.created,
            self.attached,
            self.duplicate,
            self.errors.len(),
            jobs
        )
    }
}

fn file_name(r: &GroupResult) -> String {
    r.path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// One line per file for `leadscore ingest`.
pub fn file_line(r: &GroupResult) -> String {
    match &r.result {
        Ok(report) => {
            let what = match report.outcome {
                Outcome::Created => "new call",
                Outcome::Attached => "added to call",
                Outcome::Duplicate => "already ingested",
            };
            format!(
                "  {:<44} {what} {} ({})",
                file_name(r),
                report.call.call_id,
                report.call.status.as_str()
            )
        }
        Err(e) => format!("  {:<44} REJECTED: {e}", file_name(r)),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

/// The ranked list.
pub fn leads_table(leads: &[Lead]) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:>4} {:>5}  {:<5} {:<22} {:<14} {:>5} {:<5}  TOP REASONS",
        "RANK", "SCORE", "TIER", "LEAD", "PHONE", "CALLS", "SMS"
    );
    for (i, l) in leads.iter().enumerate() {
        let reasons = l
            .factors
            .iter()
            .take(3)
            .map(|f| format!("{} ({})", f.description, points(f.points)))
            .collect::<Vec<_>>()
            .join("; ");
        let _ = writeln!(
            out,
            "{:>4} {:>5}  {:<5} {:<22} {:<14} {:>5} {:<5}  {}",
            i + 1,
            l.lead_score.map_or("-".to_owned(), |s| s.to_string()),
            l.tier.map_or("-", |t| t.as_str()),
            truncate(&l.display_name(), 22),
            l.phone_number.as_str(),
            l.call_count,
            sms_consent(l),
            if reasons.is_empty() {
                "(no rule matched yet)".to_owned()
            } else {
                reasons
            }
        );
    }
    if leads.is_empty() {
        out.push_str("(no leads yet: `leadscore demo`, or drop calls into the inbox)\n");
    }
    out
}

/// A lead's consent to texts, in a word: `STOP` (opted out: never text), `in`, or `-`.
fn sms_consent(l: &Lead) -> &'static str {
    match &l.sms {
        Some(s) if s.opted_out => "STOP",
        Some(s) if s.opted_in => "in",
        _ => "-",
    }
}

/// One lead in full.
pub fn lead_detail(d: &LeadDetail) -> String {
    let l = &d.lead;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}  {}  ({})",
        l.display_name(),
        l.phone_number,
        l.lead_id
    );
    if let Some(c) = &l.company {
        let _ = writeln!(out, "  company: {c}");
    }
    let _ = writeln!(
        out,
        "  score:   {} ({})   calls: {}   customer sentiment: {}",
        l.lead_score.map_or("-".to_owned(), |s| s.to_string()),
        l.tier.map_or("unscored", |t| t.as_str()),
        l.call_count,
        l.ai_sentiment
            .map_or("-".to_owned(), |s| format!("{s:+.2}"))
    );
    if let Some(p) = l.probability {
        let _ = writeln!(out, "  converts with probability {:.0}%", p * 100.0);
    }
    if let Some(o) = &l.outcome {
        let _ = writeln!(
            out,
            "  outcome: {} on {}",
            if o.converted { "won" } else { "lost" },
            o.at.format("%Y-%m-%d")
        );
    }
    if !l.ai_keywords.is_empty() {
        let _ = writeln!(out, "  keywords: {}", l.ai_keywords.join(", "));
    }
    let _ = writeln!(out, "\nWhy this score:");
    if l.factors.is_empty() {
        let _ = writeln!(out, "  no rule matched yet");
    }
    for f in &l.factors {
        let _ = writeln!(
            out,
            "  {:+6.1}  {}  [{}]",
            f.points, f.description, f.rule_id
        );
        if let Some(note) = &f.note {
            let _ = writeln!(out, "          ({note})");
        }
        for e in &f.evidence {
            match e {
                Evidence::Quote {
                    call_id,
                    speaker,
                    at,
                    text,
                } => {
                    let who = d
                        .calls
                        .iter()
                        .find(|c| &c.call.call_id == call_id)
                        .map_or(String::new(), |c| {
                            format!("{} ", c.call.call_start_time.format("%Y-%m-%d"))
                        });
                    let _ = writeln!(
                        out,
                        "          {who}@{}:{:02} {speaker}: \"{}\"",
                        (at.max(0.0) as u64) / 60,
                        (at.max(0.0) as u64) % 60,
                        text
                    );
                }
                Evidence::Field { name, value } => {
                    let _ = writeln!(out, "          {name} = {value}");
                }
                Evidence::Sms { text, at, .. } => {
                    let _ = writeln!(
                        out,
                        "          SMS {}: \"{text}\"",
                        at.format("%Y-%m-%d %H:%M UTC")
                    );
                }
                Evidence::Click { url, at } => {
                    let _ = writeln!(
                        out,
                        "          opened {url} at {}",
                        at.format("%Y-%m-%d %H:%M UTC")
                    );
                }
            }
        }
    }
    let _ = writeln!(out, "\nCalls:");
    for c in &d.calls {
        let call = &c.call;
        let detail = call.status_detail.as_deref().unwrap_or("");
        let _ = writeln!(
            out,
            "  {}  {:<8} {:>5}s  {:<19} {}  {}",
            call.call_start_time.format("%Y-%m-%d %H:%M UTC"),
            format!("{:?}", call.direction).to_lowercase(),
            call.call_duration
                .map_or("-".to_owned(), |d| format!("{d:.0}")),
            call.status.as_str(),
            call.call_id,
            if call.status == CallStatus::Failed || call.status == CallStatus::AwaitingTranscript {
                detail
            } else {
                ""
            }
        );
    }
    if let Some(s) = &l.sms {
        let consent = if s.opted_out {
            "OPTED OUT (STOP): do not text"
        } else if s.opted_in {
            "opted in"
        } else {
            "no consent on record"
        };
        let _ = writeln!(
            out,
            "\nTexts: {consent}; {} sent, {} replies, {} link clicks{}",
            s.sent,
            s.replies,
            s.link_clicks,
            s.reply_minutes
                .map_or(String::new(), |m| format!(", replies in {m} min (median)"))
        );
        if s.sent_after_opt_out > 0 {
            let _ = writeln!(
                out,
                "  WARNING: {} text(s) sent after the lead opted out",
                s.sent_after_opt_out
            );
        }
    }
    for e in &d.sms_log {
        let when = e.at.format("%Y-%m-%d %H:%M");
        let line = match &e.kind {
            SmsEventKind::Message(m) => {
                let arrow = match m.direction {
                    SmsDirection::Inbound => "<-",
                    SmsDirection::Outbound => "->",
                };
                let text = if m.body.is_empty() && !m.media.is_empty() {
                    format!("[{} media]", m.media.len())
                } else {
                    format!("\"{}\"", truncate(&m.body, 70))
                };
                let intents: Vec<&str> = m.intents.iter().map(|i| i.intent.as_str()).collect();
                if intents.is_empty() {
                    format!("{arrow} {text}")
                } else {
                    format!("{arrow} {text}  ({})", intents.join(", "))
                }
            }
            SmsEventKind::Consent(c) => {
                format!("consent: {:?} via {} ({})", c.action, c.via, c.evidence).to_lowercase()
            }
            SmsEventKind::Click { url, .. } => format!("opened {url}"),
            SmsEventKind::SurveyCompleted {
                survey_id, answers, ..
            } => format!(
                "completed survey {survey_id}: {}",
                answers
                    .iter()
                    .map(|a| format!("{}={}", a.question_id, a.answer))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            SmsEventKind::SurveyStarted { survey_id, .. } => format!("survey {survey_id} started"),
            SmsEventKind::TaskCreated {
                crm,
                subject,
                due_at,
                ..
            } => format!(
                "task in {}: \"{}\" due {}",
                crm.name(),
                truncate(subject, 50),
                due_at.format("%Y-%m-%d %H:%M UTC")
            ),
            SmsEventKind::Status { .. } => continue,
        };
        let _ = writeln!(out, "  {when}  {line}");
    }
    if d.score_history.len() > 1 {
        let _ = writeln!(out, "\nScore history:");
        for h in &d.score_history {
            let _ = writeln!(
                out,
                "  {}  {:>3} -> {:>3} ({})  {}",
                h.at.format("%Y-%m-%d %H:%M:%S"),
                h.previous.map_or("-".to_owned(), |p| p.to_string()),
                h.score,
                h.tier.as_str(),
                h.cause.key()
            );
        }
    }
    out
}

fn clock(at: f64) -> String {
    let s = at.max(0.0) as u64;
    format!("{}:{:02}", s / 60, s % 60)
}

fn hits(out: &mut String, title: &str, hits: &[Hit]) {
    let _ = writeln!(out, "{title}:");
    if hits.is_empty() {
        let _ = writeln!(out, "  none");
    }
    for h in hits {
        let _ = writeln!(
            out,
            "  {:<15} @{} {}: \"{}\"",
            h.kind,
            clock(h.at),
            h.speaker,
            h.quote
        );
    }
}

/// `leadscore analyze`.
pub fn analysis(name: &str, t: &Transcript, a: &Analysis) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{name}: {} transcript, {} segments, {} speakers, {}",
        t.format.label(),
        t.segments.len(),
        t.speakers().len(),
        clock(t.duration())
    );
    let _ = writeln!(
        out,
        "roles: customer {}, agent {} (confidence {:.2}: {})",
        a.roles.customer.as_deref().unwrap_or("?"),
        a.roles.agent.as_deref().unwrap_or("?"),
        a.roles.confidence,
        a.roles.method
    );
    let s = &a.sentiment;
    let _ = writeln!(
        out,
        "sentiment: customer {:+.2} (start {:+.2}, end {:+.2}), agent {:+.2}, whole call {:+.2}",
        s.customer, s.customer_start, s.customer_end, s.agent, s.overall
    );
    let _ = writeln!(
        out,
        "talk: customer {:.0}% of words, {} questions, longest turn {:.0}s; silence {:.0}s (longest {:.0}s)",
        a.talk.customer_talk_ratio * 100.0,
        a.talk.customer_questions,
        a.talk.longest_customer_turn,
        a.talk.silence,
        a.talk.longest_silence
    );
    let _ = writeln!(
        out,
        "topic: {}{}",
        a.topic.as_deref().unwrap_or("none"),
        if a.is_junk() { " (junk call)" } else { "" }
    );
    hits(&mut out, "intents", &a.intents);
    hits(&mut out, "objections", &a.objections);
    if !a.junk.is_empty() {
        hits(&mut out, "junk", &a.junk);
    }
    let _ = writeln!(out, "keywords: {}", a.keywords.join(", "));
    for k in &a.tracked_keywords {
        let times: Vec<String> = k.at.iter().map(|t| clock(*t)).collect();
        let _ = writeln!(
            out,
            "tracked: {} x{} at {}",
            k.keyword,
            k.count,
            times.join(", ")
        );
    }
    for n in &a.notes {
        let _ = writeln!(out, "note: {n}");
    }
    out
}

/// The report `leadscore train` prints.
pub fn training(
    table: &shared::model::Table,
    model: &shared::model::Model,
    dry_run: bool,
) -> String {
    let m = &model.metrics;
    let mut out = String::new();
    let numeric = table.columns.iter().filter(|c| c.is_numeric()).count();
    let _ = writeln!(
        out,
        "{} leads, {} converted ({:.1}%; `{}` = `{}`){}",
        m.rows,
        m.positives,
        100.0 * m.positives as f64 / m.rows as f64,
        model.target,
        model.positive,
        if table.rows_without_target > 0 {
            format!(
                "; {} rows without an outcome left out",
                table.rows_without_target
            )
        } else {
            String::new()
        }
    );
    let _ = writeln!(
        out,
        "{} features: {} numeric, {} categorical",
        m.features,
        numeric,
        m.features - numeric
    );
    for (name, why) in &model.skipped {
        let _ = writeln!(out, "  left out `{name}`: {why}");
    }
    let _ = writeln!(
        out,
        "\nAUC         {}-fold CV   time-ordered (first {:.0}% -> last {:.0}%)",
        m.folds,
        100.0 * (1.0 - m.holdout),
        100.0 * m.holdout
    );
    for c in &m.candidates {
        let _ = writeln!(
            out,
            "  {:<9}  {:.4}     {}{}",
            format!("{:?}", c.kind).to_lowercase(),
            c.auc,
            c.time_split_auc
                .map_or_else(|| "-     ".to_owned(), |a| format!("{a:.4}")),
            if c.kind == m.kind { "   <- chosen" } else { "" }
        );
    }
    let _ = writeln!(
        out,
        "\ncalibrated probabilities: AUC {:.4}, Brier score {:.4}, calibration error {:.4}",
        m.auc, m.brier, m.calibration_error
    );
    let t = &m.at_threshold;
    let _ = writeln!(
        out,
        "at probability >= {:.2}: {} leads flagged, precision {:.3}, recall {:.3}, F1 {:.3}",
        t.threshold, t.flagged, t.precision, t.recall, t.f1
    );
    if m.time_split_auc.is_none() {
        let _ = writeln!(
            out,
            "time-ordered check skipped: too few rows, or one outcome only at the end"
        );
    }
    let _ = writeln!(out, "\ndecile  leads  predicted  converted   lift");
    for d in &m.deciles {
        let _ = writeln!(
            out,
            "{:>6}  {:>5}  {:>8.1}%  {:>8.1}%  {:>5.2}x",
            d.decile,
            d.leads,
            100.0 * d.predicted,
            100.0 * d.converted,
            d.lift
        );
    }
    let _ = writeln!(
        out,
        "\ntrained in {:.1} s; {}",
        m.train_seconds,
        if dry_run {
            "not saved (--dry-run)".to_owned()
        } else {
            format!("saved as model version {}", model.version)
        }
    );
    out
}

/// Points as a rep reads them: `+25`, `-10`, `+21.1` (after a cap or decay).
fn points(p: f64) -> String {
    let tenths = (p * 10.0).round() / 10.0;
    if tenths.fract() == 0.0 {
        format!("{tenths:+.0}")
    } else {
        format!("{tenths:+.1}")
    }
}

/// A month's usage, one counter a line.
pub(crate) fn usage(u: &shared::domain::Usage) -> String {
    format!(
        "usage in {} (UTC)\n\
         calls ingested            {:>10}\n\
         audio minutes transcribed {:>10.2}\n\
         transcripts analysed      {:>10}\n\
         leads scored              {:>10}\n\
         texts processed           {:>10}\n\
         API requests              {:>10}\n\
         webhooks delivered        {:>10}\n",
        u.month,
        u.calls_ingested,
        u.audio_minutes_transcribed,
        u.transcripts_analysed,
        u.leads_scored,
        u.texts_processed,
        u.api_requests,
        u.webhooks_delivered
    )
}
