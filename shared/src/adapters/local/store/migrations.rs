//! The schema, as migrations applied in order.

/// Schema migrations, applied in order; `PRAGMA user_version` counts the ones applied.
pub(super) const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE tenants (
    tenant_id    TEXT PRIMARY KEY,
    rules_seeded INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE leads (
    tenant_id  TEXT NOT NULL,
    lead_id    TEXT NOT NULL,
    phone      TEXT NOT NULL,
    rank_score INTEGER NOT NULL,          -- the score, or -1 before the first one
    tier       TEXT,
    status     TEXT,
    search     TEXT NOT NULL,             -- lower-case name, company, e-mail and phone
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id),
    UNIQUE (tenant_id, phone)
);
CREATE INDEX leads_ranked ON leads (tenant_id, rank_score DESC, lead_id);
CREATE TABLE lead_calls (
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    call_id   TEXT NOT NULL,
    called_at TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, call_id)
);
CREATE TABLE calls (
    tenant_id  TEXT NOT NULL,
    call_id    TEXT NOT NULL,
    lead_id    TEXT NOT NULL,
    started_at TEXT NOT NULL,
    status     TEXT NOT NULL,
    version    INTEGER NOT NULL,
    doc        TEXT NOT NULL,
    PRIMARY KEY (tenant_id, call_id)
);
CREATE INDEX calls_by_lead ON calls (tenant_id, lead_id, started_at);
CREATE TABLE rules (
    tenant_id TEXT NOT NULL,
    rule_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, rule_id)
);
CREATE TABLE score_history (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    cause_key TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (tenant_id, lead_id, cause_key)
);
CREATE TABLE jobs (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    job_key      TEXT NOT NULL,
    tenant_id    TEXT NOT NULL,
    payload      TEXT NOT NULL,
    state        TEXT NOT NULL CHECK (state IN ('pending', 'running', 'dead')),
    attempts     INTEGER NOT NULL DEFAULT 0,
    available_at INTEGER NOT NULL,        -- unix milliseconds
    lease_until  INTEGER,
    last_error   TEXT
);
-- One waiting copy of each job: a second send of the same work is dropped.
CREATE UNIQUE INDEX jobs_waiting ON jobs (job_key) WHERE state IN ('pending', 'running');
CREATE INDEX jobs_ready ON jobs (state, available_at);
"#,
    r#"
CREATE TABLE sms_events (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    event_id  TEXT NOT NULL,
    at        TEXT NOT NULL,
    doc       TEXT NOT NULL,
    UNIQUE (tenant_id, event_id)
);
CREATE INDEX sms_events_by_lead ON sms_events (tenant_id, lead_id, at, seq);
CREATE TABLE links (
    token     TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    doc       TEXT NOT NULL
);
"#,
    r#"
CREATE TABLE api_keys (
    tenant_id TEXT NOT NULL,
    key_id    TEXT NOT NULL,
    doc       TEXT NOT NULL,              -- with the secret's SHA-256, never the secret
    PRIMARY KEY (tenant_id, key_id)
);
"#,
    r#"
CREATE TABLE audit_log (
    tenant_id TEXT NOT NULL,
    entry_id  TEXT NOT NULL,              -- time-ordered
    at        TEXT NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, entry_id)
);
"#,
    r#"
CREATE TABLE usage (
    tenant_id TEXT NOT NULL,
    month     TEXT NOT NULL,              -- 2026-11
    counter   TEXT NOT NULL,
    value     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, month, counter)
);
"#,
    r#"
CREATE TABLE webhooks (
    tenant_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    version         INTEGER NOT NULL,
    doc             TEXT NOT NULL,        -- the secret is in the secret store, never here
    PRIMARY KEY (tenant_id, subscription_id)
);
CREATE TABLE webhook_deliveries (
    tenant_id       TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,        -- time-ordered
    created_at      TEXT NOT NULL,
    version         INTEGER NOT NULL,
    doc             TEXT NOT NULL,
    PRIMARY KEY (tenant_id, subscription_id, event_id),
    FOREIGN KEY (tenant_id, subscription_id) REFERENCES webhooks ON DELETE CASCADE
);
"#,
    r#"
-- Numbers never to text again, kept as digests when their lead is erased after an opt-out.
CREATE TABLE suppressions (
    tenant_id TEXT NOT NULL,
    digest    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, digest)
);
CREATE INDEX links_by_lead ON links (tenant_id, lead_id);
"#,
    r#"
-- CRM connections (credentials are in the secret store, never here), and the leads whose
-- scores changed since their last push: one row per lead, however often it changed.
CREATE TABLE crm_connections (
    tenant_id TEXT NOT NULL,
    crm       TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, crm)
);
CREATE TABLE crm_pending (
    tenant_id TEXT NOT NULL,
    crm       TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    noted_at  INTEGER NOT NULL,           -- ms; a clear holds only if not noted again since
    PRIMARY KEY (tenant_id, crm, lead_id),
    FOREIGN KEY (tenant_id, crm) REFERENCES crm_connections ON DELETE CASCADE
);
"#,
    r#"
-- One waiting copy of each job, beside at most one running: work sent while the same work runs
-- (a change made during a push, an outcome recorded during a model check) runs again after it
-- instead of being dropped as a copy. The waiting copy is not claimed while the other runs.
DROP INDEX jobs_waiting;
CREATE UNIQUE INDEX jobs_pending ON jobs (job_key) WHERE state = 'pending';
CREATE INDEX jobs_running ON jobs (job_key) WHERE state = 'running';
"#,
    r#"
-- The outbox: a score change whose events are not yet handed on (webhooks, CRM pushes),
-- written in the change's own transaction and deleted once they are; the sweep hands on what
-- a process that died left.
CREATE TABLE score_outbox (
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    cause_key TEXT NOT NULL,
    noted_at  TEXT NOT NULL,              -- RFC 3339, UTC, fixed width
    PRIMARY KEY (tenant_id, lead_id, cause_key)
);
CREATE INDEX score_outbox_by_time ON score_outbox (tenant_id, noted_at);
"#,
    r#"
-- The lead list's other orders: the latest activity (a call, a text reply or a link click;
-- '' before any) and the name (the person's, else the company, else the phone number), each
-- served by an index. Rows written before this migration are filled from their documents.
ALTER TABLE leads ADD COLUMN activity TEXT NOT NULL DEFAULT '';   -- RFC 3339, UTC, ms, fixed width
ALTER TABLE leads ADD COLUMN sort_name TEXT NOT NULL DEFAULT '';
UPDATE leads SET
    activity = max(
        coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(doc, '$.last_called_at')), ''),
        coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(doc, '$.sms.last_reply_at')), ''),
        coalesce(strftime('%Y-%m-%dT%H:%M:%fZ', json_extract(doc, '$.sms.last_click_at')), '')),
    sort_name = lower(coalesce(
        nullif(trim(trim(coalesce(json_extract(doc, '$.first_name'), '')) || ' '
                    || trim(coalesce(json_extract(doc, '$.last_name'), ''))), ''),
        nullif(trim(coalesce(json_extract(doc, '$.company'), '')), ''),
        phone));
CREATE INDEX leads_by_activity ON leads (tenant_id, activity DESC, lead_id);
CREATE INDEX leads_by_name ON leads (tenant_id, sort_name, lead_id);
"#,
    r#"
-- Each lead's SMS log as folded so far (`sms::SmsFold`): a new text is folded on, not the log
-- read again. `version` counts its stores (compare-and-set).
CREATE TABLE sms_folds (
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id)
) WITHOUT ROWID;
"#,
    r#"
-- Which form of the lead's JSON `doc` holds (`LeadJson::FORM`; 0: written before forms were
-- counted). The list serves a document of the current form as it is, and reads and writes
-- any other again.
ALTER TABLE leads ADD COLUMN doc_form INTEGER NOT NULL DEFAULT 0;
"#,
    r#"
-- The texts the product sends (`OutgoingText`), each recorded before it goes to Twilio.
-- `version` counts its stores (compare-and-set).
CREATE TABLE texts (
    tenant_id TEXT NOT NULL,
    lead_id   TEXT NOT NULL,
    text_id   TEXT NOT NULL,
    version   INTEGER NOT NULL,
    doc       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, lead_id, text_id)
) WITHOUT ROWID;
"#,
    r#"
-- A tier's leads in each order of the list (the web app's tier filter): a page of hot leads
-- reads 50 index entries, not the tenant's leads of every tier until 50 are hot.
CREATE INDEX leads_by_tier_rank ON leads (tenant_id, tier, rank_score DESC, lead_id);
CREATE INDEX leads_by_tier_activity ON leads (tenant_id, tier, activity DESC, lead_id);
CREATE INDEX leads_by_tier_name ON leads (tenant_id, tier, sort_name, lead_id);
"#,
];
