//! `leadscore`: the whole product on one machine. Calls go in (files in an inbox, or the REST
//! API); ranked leads with their reasons come out.

mod args;
mod crm;
mod demo;
mod ingest;
mod keys;
mod leads;
mod offline;
mod output;
mod serve;
mod speech;
mod train;

use anyhow::{Context, Result};
use clap::Parser;
use indicatif::{ProgressBar, ProgressState, ProgressStyle};
use shared::adapters::local::EngineStore;
use shared::domain::{TenantId, Tier};
use shared::local::{GroupCommit, LocalApp};
use shared::ports::LeadQuery;

use args::{Cli, Command, SpeechAction};
use crm::crm;
use demo::demo;
use ingest::ingest;
use keys::keys;
use leads::resolve_lead;
use offline::{analyze, sentiment};
use serve::serve;
use speech::{speech_install, speech_transcribe};
use train::train;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        webhook_retry_delays: cli
            .webhook_retry_delays
            .clone()
            .map_or_else(|| shared::domain::DEFAULT_RETRY_DELAYS.to_vec(), |d| d.0),
        retrain_after_outcomes: cli.retrain_after.max(1),
        vocabulary: std::sync::Arc::new(shared::analysis::topics::Vocabulary::new(
            &cli.tracked,
            &cli.topics,
        )),
        ..Default::default()
    };
    // The deployment's OAuth apps, for connecting CRMs on their consent screens.
    let oauth = shared::Config::default()
        .oauth_apps_from(|name| std::env::var(name).ok())
        .map_err(|why| anyhow::anyhow!("the environment: {why}"))?;
    let config = match &cli.command {
        Command::Serve {
            twilio_auth_token,
            public_url,
            cors_origins,
            rate_limit,
            key_rate_limit,
            ..
        } => shared::Config {
            oauth_apps: oauth.oauth_apps,
            oauth_urls: oauth.oauth_urls,
            twilio_api_url: oauth.twilio_api_url,
            twilio_auth_token: twilio_auth_token.clone(),
            public_url: public_url.clone(),
            cors_origins: cors_origins.clone(),
            rate_limit_per_minute: *rate_limit,
            key_rate_limit_per_minute: *key_rate_limit,
            ..config
        },
        // Where `serve` is reached, for the webhooks a CRM subscribes on connect (Pipedrive).
        Command::Crm { .. } => shared::Config {
            oauth_apps: oauth.oauth_apps,
            oauth_urls: oauth.oauth_urls,
            public_url: std::env::var("LEADSCORE_PUBLIC_URL")
                .ok()
                .filter(|u| !u.trim().is_empty()),
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
        Command::Serve {
            port,
            bind,
            oidc_issuer,
            oidc_client_id,
            tenant_claim,
            role_claim,
            ..
        } => {
            let app = match oidc_issuer.zip(oidc_client_id) {
                Some((issuer, client_id)) => {
                    let provider = shared::adapters::oidc::IdentityProvider::discover(
                        &issuer,
                        &client_id,
                        &tenant_claim,
                        &role_claim,
                    )
                    .await
                    .with_context(|| format!("cannot sign people in with {issuer}"))?;
                    app.with_identity_provider(provider)
                }
                None => app,
            };
            serve(app, bind, port).await
        }
        Command::Keys { command } => keys(&app, &tenant, command).await,
        Command::Crm { command } => crm(&app, &tenant, command).await,
        Command::Usage { month, json } => {
            let month = match month {
                Some(m) => shared::domain::Month::parse(&m)?,
                None => shared::domain::Month::of(chrono::Utc::now()),
            };
            let usage = shared::handlers::usage::usage(&app.deps, &tenant, month).await?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&usage)?))
            } else {
                emit(&output::usage(&usage))
            }
        }
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
            let detail =
                shared::handlers::lead_detail::lead_detail(&app.deps, &tenant, &id).await?;
            if json {
                emit(&format!("{}\n", serde_json::to_string_pretty(&detail)?))?;
            } else {
                emit(&output::lead_detail(&detail))?;
            }
            Ok(())
        }
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
        ProgressStyle::with_template(
            "{spinner} {msg:<10} [{bar:30}] {pos}/{len}  {rate}  {eta} left",
        )
        .expect("valid template")
        .with_key(
            "rate",
            |state: &ProgressState, w: &mut dyn std::fmt::Write| {
                let _ = write!(w, "{:.0}/s", state.per_sec());
            },
        )
        .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

/// Run queued analysis and scoring to the end, with a spinner.
async fn drain(app: &LocalApp) -> Result<usize> {
    drain_in(app, None).await
}

/// [`drain`], committing in `group` when given one.
async fn drain_in(app: &LocalApp, group: Option<&mut GroupCommit>) -> Result<usize> {
    let bar = progress(app.store.queue_counts().await?.pending, "scoring");
    // Analysis queues scoring, so the total grows as jobs run.
    let ran = app
        .worker()
        .drain_with(group, &mut |ran, left| {
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
