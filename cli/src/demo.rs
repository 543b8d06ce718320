//! `leadscore demo`: the bundled calls, recordings and SMS conversations through the whole
//! product, and the ranking they give.

use anyhow::{Context, Result};
use include_dir::{Dir, include_dir};
use shared::adapters::local::EngineStore;
use shared::local::{self, Inbox, LocalApp};
use shared::ports::LeadQuery;

use crate::output;
use crate::{drain, emit, print_problems, progress};

/// The bundled sample: 42 sales calls from 23 callers of a fictional solar installer.
pub(crate) static SAMPLES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../samples/calls");
/// Sample recordings, spoken by espeak-ng (`samples/audio/make.sh`).
pub(crate) static RECORDINGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../samples/audio");

pub(crate) async fn demo(app: &LocalApp) -> Result<()> {
    // Drop the samples into the inbox, exactly as a telephony export would.
    let inbox_dir = app.inbox_dir();
    let recordings = RECORDINGS
        .files()
        .filter(|f| shared::formats::is_audio(&f.path().to_string_lossy()));
    let recordings: Vec<_> = recordings.collect();
    let files: Vec<_> = SAMPLES.files().chain(recordings.iter().copied()).collect();
    for file in &files {
        std::fs::write(inbox_dir.join(file.path()), file.contents())?;
    }
    let groups = local::group_files(files.iter().map(|f| f.path().to_owned())).len();
    let bar = progress(groups as u64, "ingesting");
    let mut tally = output::Tally::default();
    Inbox::new(app.clone())
        .process_all(&mut |outcome| {
            tally.add(outcome);
            bar.inc(1);
        })
        .await?;
    bar.finish_and_clear();
    let texts = demo_texts(app).await?;
    let scored = drain(app).await?;
    emit(&format!("{}\n", tally.summary(scored)))?;
    emit(&format!(
        "{texts} SMS conversations (replies, a pricing-link click, STOP) went through the Twilio handlers\n"
    ))?;
    if shared::adapters::local::WhisperEngine::locate(&app.data_dir, &EngineStore::for_user())
        .is_some()
    {
        emit(&format!(
            "{} recordings were transcribed by the local speech engine\n",
            recordings.len()
        ))?;
    } else {
        emit(&format!(
            "{} recordings wait for the local speech engine: `leadscore speech install`, then `leadscore demo` again\n",
            recordings.len()
        ))?;
    }
    print_problems(app, &tally).await?;
    let page = app
        .deps
        .leads
        .list_leads(
            &app.deps.config.tenant,
            &LeadQuery {
                limit: Some(100),
                ..Default::default()
            },
        )
        .await?;
    emit(&output::leads_table(&page.items))?;
    emit(&format!(
        "\nWhy? `{} --data-dir {} show <lead>` shows the evidence behind a score.\n",
        invocation(),
        app.data_dir.display()
    ))?;
    Ok(())
}

/// How to run this command again as the user ran it: `cargo run --` from a checkout (the
/// binary lies under a cargo `target/` folder), `leadscore` once installed on the PATH.
pub(crate) fn invocation() -> &'static str {
    let exe = std::env::current_exe().unwrap_or_default();
    let built_here = exe
        .ancestors()
        .any(|dir| dir.file_name().is_some_and(|n| n == "target"));
    match (built_here, exe.parent().and_then(|d| d.file_name())) {
        (true, Some(profile)) if profile == "release" => "cargo run --release --",
        (true, _) => "cargo run --",
        (false, _) => "leadscore",
    }
}

/// A text in the bundled conversations (`samples/sms/conversations.json`).
#[derive(serde::Deserialize)]
pub(crate) struct DemoText {
    minutes_ago: i64,
    #[serde(default)]
    direction: Option<String>,
    #[serde(default)]
    body: String,
    #[serde(default)]
    link: Option<shared::domain::LinkDraft>,
    #[serde(default)]
    click: bool,
}

#[derive(serde::Deserialize)]
pub(crate) struct DemoConversation {
    lead: String,
    messages: Vec<DemoText>,
}

/// Play the bundled SMS conversations through the same handlers Twilio's webhooks reach, as
/// if they happened in the last few hours. A conversation already in the data folder is left.
pub(crate) async fn demo_texts(app: &LocalApp) -> Result<usize> {
    use shared::handlers::sms;
    use shared::sms::twilio::{Inbound, StatusCallback};
    let deps = &app.deps;
    let tenant = &deps.config.tenant;
    let conversations: Vec<DemoConversation> =
        serde_json::from_str(include_str!("../../samples/sms/conversations.json"))?;
    let now = chrono::Utc::now();
    let mut played = 0;
    for (c, conversation) in conversations.iter().enumerate() {
        let phone = shared::domain::PhoneNumber::parse(&conversation.lead)?;
        let first_sid = format!("SMdemo{c:02}00");
        if let Some(lead) = deps.leads.find_lead_by_phone(tenant, &phone).await?
            && deps
                .sms
                .sms_events(tenant, &lead.lead_id)
                .await?
                .iter()
                .any(|e| e.event_id == format!("msg:{first_sid}"))
        {
            continue;
        }
        let mut link = None;
        for (i, m) in conversation.messages.iter().enumerate() {
            let at = now - chrono::Duration::minutes(m.minutes_ago);
            let sid = format!("SMdemo{c:02}{i:02}");
            if m.click {
                let token: &String = link.as_ref().context("a click before any link")?;
                sms::click(deps, token, at).await?;
                continue;
            }
            if m.direction.as_deref() == Some("inbound") {
                let text = Inbound {
                    sid,
                    account_sid: None,
                    from: conversation.lead.clone(),
                    to: Some("+14155550100".to_owned()),
                    body: m.body.clone(),
                    media: Vec::new(),
                };
                sms::receive(deps, tenant, text, at).await?;
                continue;
            }
            let mut body = m.body.clone();
            if let Some(draft) = &m.link {
                let lead = deps
                    .leads
                    .find_lead_by_phone(tenant, &phone)
                    .await?
                    .context("a link for a lead that has not texted")?;
                let made = sms::create_link(deps, tenant, &lead.lead_id, draft, at).await?;
                body = format!("{body} http://127.0.0.1:8080/r/{}", made.token);
                link = Some(made.token);
            }
            let sent = StatusCallback {
                sid,
                account_sid: None,
                status: "delivered".to_owned(),
                to: conversation.lead.clone(),
                error_code: None,
                body: Some(body),
            };
            sms::delivery_status(deps, tenant, sent, at).await?;
        }
        played += 1;
    }
    Ok(played)
}
