//! Leads: one row per lead, its document plus the indexed columns (rank, tier, status, text).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use rusqlite::{Connection, params, types::Value as Sql};

use tracing::instrument;

use crate::domain::{
    CallId, Crm, CrmSync, Lead, LeadId, LeadJson, PhoneNumber, ScoreChange, TenantId,
};
use crate::error::{Error, Result};
use crate::ports::{LeadQuery, LeadSort, LeadStore, Page};

use super::{SqliteStore, get_doc, is_unique_violation, list_docs, not_updated, ts};

/// A lead's indexed columns and its document.
pub(super) struct LeadRow {
    rank: i64,
    tier: Option<&'static str>,
    status: Option<String>,
    search: String,
    activity: String,
    sort_name: String,
    doc: String,
}

pub(super) fn lead_row(lead: &Lead) -> Result<LeadRow> {
    let search = lead.search_text();
    Ok(LeadRow {
        rank: lead.lead_score.map_or(-1, i64::from),
        tier: lead.tier.map(|t| t.as_str()),
        status: lead.crm_lead_status.as_ref().map(|s| s.to_lowercase()),
        search,
        activity: lead.last_activity().map(ts).unwrap_or_default(),
        sort_name: lead.sort_name(),
        doc: serde_json::to_string(lead)?,
    })
}

pub(super) fn read_lead(c: &Connection, tenant: &str, id: &str) -> Result<Option<Lead>> {
    get_doc(
        c,
        "SELECT doc FROM leads WHERE tenant_id = ?1 AND lead_id = ?2",
        [tenant, id],
    )
}

/// Write `lead` over the stored copy at `lead.version`, as `lead.version + 1`.
pub(super) fn write_lead(c: &Connection, lead: &Lead) -> Result<Lead> {
    let mut next = lead.clone();
    next.version = lead.version + 1;
    let LeadRow {
        rank,
        tier,
        status,
        search,
        activity,
        sort_name,
        doc,
    } = lead_row(&next)?;
    let changed = c
        .execute(
            "UPDATE leads SET phone = ?3, rank_score = ?4, tier = ?5, status = ?6, search = ?7, version = ?8, doc = ?9,
                              activity = ?11, sort_name = ?12, doc_form = ?13
             WHERE tenant_id = ?1 AND lead_id = ?2 AND version = ?10",
            params![
                lead.tenant_id.as_str(),
                lead.lead_id.as_str(),
                lead.phone_number.as_str(),
                rank,
                tier,
                status,
                search,
                next.version,
                doc,
                lead.version,
                activity,
                sort_name,
                LeadJson::FORM
            ],
        )
        .map_err(|e| {
            if is_unique_violation(&e) {
                Error::conflict(format!("another lead already has the phone number {}", lead.phone_number))
            } else {
                e.into()
            }
        })?;
    if changed == 0 {
        return Err(not_updated(
            read_lead(c, lead.tenant_id.as_str(), lead.lead_id.as_str())?.is_some(),
            "lead",
            lead.lead_id.as_str(),
        ));
    }
    Ok(next)
}

#[async_trait]
impl LeadStore for SqliteStore {
    #[instrument(name = "sqlite.lead_ids", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn lead_ids(
        &self,
        tenant: &TenantId,
        after: Option<&LeadId>,
        limit: u32,
    ) -> Result<Vec<LeadId>> {
        let (t, after) = (
            tenant.to_string(),
            after.map(|a| a.to_string()).unwrap_or_default(),
        );
        self.read(move |c| {
            let mut stmt = c.prepare_cached(
                "SELECT lead_id FROM leads WHERE tenant_id = ? AND lead_id > ? \
                 ORDER BY lead_id LIMIT ?",
            )?;
            let ids = stmt
                .query_map(rusqlite::params![t, after, limit], |r| {
                    r.get::<_, String>(0)
                })?
                .collect::<rusqlite::Result<Vec<String>>>()?;
            ids.iter().map(|id| LeadId::parse(id)).collect()
        })
        .await
    }

    #[instrument(name = "sqlite.get_lead", level = "debug", skip_all, fields(tenant = %tenant, id = %id))]
    async fn get_lead(&self, tenant: &TenantId, id: &LeadId) -> Result<Option<Lead>> {
        let (t, i) = (tenant.clone(), id.clone());
        self.read(move |c| read_lead(c, t.as_str(), i.as_str()))
            .await
    }

    #[instrument(name = "sqlite.find_lead_by_phone", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn find_lead_by_phone(
        &self,
        tenant: &TenantId,
        phone: &PhoneNumber,
    ) -> Result<Option<Lead>> {
        let (t, p) = (tenant.clone(), phone.clone());
        self.read(move |c| {
            get_doc(
                c,
                "SELECT doc FROM leads WHERE tenant_id = ?1 AND phone = ?2",
                [t.as_str(), p.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.insert_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn insert_lead(&self, lead: &Lead) -> Result<()> {
        let lead = lead.clone();
        self.with(move |c| {
            let LeadRow { rank, tier, status, search, activity, sort_name, doc } = lead_row(&lead)?;
            c.execute(
                "INSERT INTO leads (tenant_id, lead_id, phone, rank_score, tier, status, search, version, doc, activity, sort_name, doc_form)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
                params![
                    lead.tenant_id.as_str(),
                    lead.lead_id.as_str(),
                    lead.phone_number.as_str(),
                    rank,
                    tier,
                    status,
                    search,
                    lead.version,
                    doc,
                    activity,
                    sort_name,
                    LeadJson::FORM
                ],
            )
            .map_err(|e| {
                if is_unique_violation(&e) {
                    Error::conflict(format!("a lead with the phone number {} already exists", lead.phone_number))
                } else {
                    e.into()
                }
            })?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.update_lead", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn update_lead(&self, lead: &Lead) -> Result<Lead> {
        let lead = lead.clone();
        self.with(move |c| write_lead(c, &lead)).await
    }

    #[instrument(name = "sqlite.save_crm_sync", level = "debug", skip_all, fields(tenant = %tenant, leads = entries.len()))]
    async fn save_crm_sync(
        &self,
        tenant: &TenantId,
        crm: Crm,
        entries: &[(LeadId, CrmSync)],
    ) -> Result<()> {
        let (t, entries) = (tenant.clone(), entries.to_vec());
        self.with(move |c| {
            // One transaction: one sync to disk for a whole push.
            let tx = super::atomic(c)?;
            for (id, sync) in &entries {
                if let Some(mut lead) = read_lead(&tx, t.as_str(), id.as_str())? {
                    lead.crm_sync.insert(crm, sync.clone());
                    write_lead(&tx, &lead)?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.list_leads", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_leads(&self, tenant: &TenantId, q: &LeadQuery) -> Result<Page<Lead>> {
        let (tenant, q) = (tenant.clone(), q.clone());
        self.read(move |c| list_page(c, &tenant, &q, |doc, _| super::from_stored(&doc)))
            .await
    }

    #[instrument(name = "sqlite.list_lead_json", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn list_lead_json(&self, tenant: &TenantId, q: &LeadQuery) -> Result<Page<LeadJson>> {
        let (tenant, q) = (tenant.clone(), q.clone());
        self.read(move |c| list_page(c, &tenant, &q, LeadJson::stored))
            .await
    }

    #[instrument(name = "sqlite.note_call", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn note_call(
        &self,
        tenant: &TenantId,
        lead: &LeadId,
        call: &CallId,
        at: DateTime<Utc>,
    ) -> Result<Lead> {
        let (tenant, lead_id, call) = (tenant.clone(), lead.clone(), call.clone());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            let mut lead = read_lead(&tx, tenant.as_str(), lead_id.as_str())?
                .ok_or_else(|| Error::not_found(format!("lead {lead_id}")))?;
            tx.execute(
                "INSERT OR IGNORE INTO lead_calls (tenant_id, lead_id, call_id, called_at) VALUES (?1, ?2, ?3, ?4)",
                params![tenant.as_str(), lead_id.as_str(), call.as_str(), ts(at)],
            )?;
            let (count, last): (u32, Option<String>) = tx.query_row(
                "SELECT COUNT(*), MAX(called_at) FROM lead_calls WHERE tenant_id = ?1 AND lead_id = ?2",
                [tenant.as_str(), lead_id.as_str()],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            let last = last.and_then(|l| DateTime::parse_from_rfc3339(&l).ok()).map(|t| t.with_timezone(&Utc));
            if lead.call_count == count && lead.last_called_at == last {
                return Ok(lead);
            }
            lead.call_count = count;
            lead.last_called_at = last;
            lead.updated_at = Utc::now();
            let stored = write_lead(&tx, &lead)?;
            tx.commit()?;
            Ok(stored)
        })
        .await
    }

    #[instrument(name = "sqlite.save_score", level = "debug", skip_all, fields(tenant = %lead.tenant_id, lead = %lead.lead_id))]
    async fn save_score(&self, lead: &Lead, change: &ScoreChange) -> Result<bool> {
        let (lead, change) = (lead.clone(), change.clone());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            let added = tx.execute(
                "INSERT OR IGNORE INTO score_history (tenant_id, lead_id, cause_key, doc) VALUES (?1, ?2, ?3, ?4)",
                params![
                    lead.tenant_id.as_str(),
                    lead.lead_id.as_str(),
                    change.cause.key(),
                    serde_json::to_string(&change)?
                ],
            )?;
            if added == 0 {
                return Ok(false);
            }
            tx.execute(
                "INSERT OR IGNORE INTO score_outbox (tenant_id, lead_id, cause_key, noted_at) VALUES (?1, ?2, ?3, ?4)",
                params![
                    lead.tenant_id.as_str(),
                    lead.lead_id.as_str(),
                    change.cause.key(),
                    outbox_time(change.at)
                ],
            )?;
            write_lead(&tx, &lead)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    #[instrument(name = "sqlite.undispatched", level = "debug", skip_all, fields(tenant = %tenant))]
    async fn undispatched(
        &self,
        tenant: &TenantId,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(LeadId, String)>> {
        let t = tenant.clone();
        self.with(move |c| {
            let mut statement = c.prepare(
                "SELECT lead_id, cause_key FROM score_outbox WHERE tenant_id = ?1 AND noted_at < ?2 \
                 ORDER BY noted_at LIMIT ?3",
            )?;
            let rows = statement.query_map(
                params![t.as_str(), outbox_time(before), limit as i64],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
            )?;
            let mut waiting = Vec::new();
            for row in rows {
                let (lead, cause) = row?;
                waiting.push((LeadId::parse(&lead)?, cause));
            }
            Ok(waiting)
        })
        .await
    }

    #[instrument(name = "sqlite.dispatched", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn dispatched(&self, tenant: &TenantId, lead: &LeadId, cause_key: &str) -> Result<()> {
        let (t, l, k) = (tenant.clone(), lead.clone(), cause_key.to_owned());
        self.with(move |c| {
            c.execute(
                "DELETE FROM score_outbox WHERE tenant_id = ?1 AND lead_id = ?2 AND cause_key = ?3",
                params![t.as_str(), l.as_str(), k],
            )?;
            Ok(())
        })
        .await
    }

    #[instrument(name = "sqlite.score_history", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn score_history(&self, tenant: &TenantId, lead: &LeadId) -> Result<Vec<ScoreChange>> {
        let (t, l) = (tenant.clone(), lead.clone());
        self.read(move |c| {
            list_docs(
                c,
                "SELECT doc FROM score_history WHERE tenant_id = ?1 AND lead_id = ?2 ORDER BY seq",
                [t.as_str(), l.as_str()],
            )
        })
        .await
    }

    #[instrument(name = "sqlite.erase_lead", level = "debug", skip_all, fields(tenant = %tenant, lead = %lead))]
    async fn erase_lead(&self, tenant: &TenantId, lead: &LeadId) -> Result<bool> {
        let (t, l) = (tenant.clone(), lead.clone());
        self.with(move |c| {
            let tx = super::atomic(c)?;
            let ids = [t.as_str(), l.as_str()];
            let n = tx.execute(
                "DELETE FROM leads WHERE tenant_id = ?1 AND lead_id = ?2",
                ids,
            )?;
            tx.execute(
                "DELETE FROM lead_calls WHERE tenant_id = ?1 AND lead_id = ?2",
                ids,
            )?;
            tx.execute(
                "DELETE FROM score_history WHERE tenant_id = ?1 AND lead_id = ?2",
                ids,
            )?;
            tx.execute(
                "DELETE FROM score_outbox WHERE tenant_id = ?1 AND lead_id = ?2",
                ids,
            )?;
            tx.commit()?;
            // secure_delete overwrote the rows in the database's pages; the write-ahead log
            // still holds the pages as they were, until it is checkpointed and emptied.
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))?;
            Ok(n > 0)
        })
        .await
    }
}

/// A time as the outbox keeps it: RFC 3339 in UTC to the microsecond, so text order is time
/// order.
fn outbox_time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The statement that reads a page of `list_leads` (one more row than the page, to know
/// whether another follows), and its arguments. Each order has its index (`leads_ranked`,
/// `leads_by_activity`, `leads_by_name`).
/// A page of the tenant's leads as `q` asks, each made from its stored document and the
/// document's form.
fn list_page<T>(
    c: &Connection,
    tenant: &TenantId,
    q: &LeadQuery,
    item: impl Fn(String, i64) -> Result<T>,
) -> Result<Page<T>> {
    let limit = q.limit() as usize;
    let (select, args) = list_statement(tenant.as_str(), q)?;
    let mut stmt = c.prepare_cached(&select)?;
    let mut rows = stmt.query(rusqlite::params_from_iter(args))?;
    let mut items = Vec::with_capacity(limit);
    let mut last: Option<(Sql, String)> = None;
    while let Some(row) = rows.next()? {
        if items.len() == limit {
            return Ok(Page {
                items,
                next_cursor: last.map(|(k, i)| encode_cursor(&k, &i)),
            });
        }
        items.push(item(row.get(0)?, row.get(3)?)?);
        last = Some((row.get(1)?, row.get(2)?));
    }
    Ok(Page {
        items,
        next_cursor: None,
    })
}

fn list_statement(tenant: &str, q: &LeadQuery) -> Result<(String, Vec<Sql>)> {
    // The order's column (and its index).
    let (column, descending) = match q.sort.unwrap_or_default() {
        LeadSort::Score => ("rank_score", true),
        LeadSort::LastActivity => ("activity", true),
        LeadSort::Name => ("sort_name", false),
    };
    let mut sql = format!("SELECT doc, {column}, lead_id, doc_form FROM leads WHERE tenant_id = ?");
    let mut args: Vec<Sql> = vec![Sql::Text(tenant.to_owned())];
    if let Some(t) = q.tier {
        sql.push_str(" AND tier = ?");
        args.push(Sql::Text(t.as_str().into()));
    }
    // In another order the score range filters the order's index as it is read (`+` keeps
    // the planner from sorting the range's leads instead), as DynamoDB filters its query.
    let score = if column == "rank_score" {
        "rank_score"
    } else {
        "+rank_score"
    };
    if let Some(m) = q.min_score {
        sql.push_str(&format!(" AND {score} >= ?"));
        args.push(Sql::Integer(m.into()));
    }
    if let Some(m) = q.max_score {
        sql.push_str(&format!(" AND {score} BETWEEN 0 AND ?"));
        args.push(Sql::Integer(m.into()));
    }
    if let Some(s) = &q.status {
        sql.push_str(" AND status = ?");
        args.push(Sql::Text(s.to_lowercase()));
    }
    if let Some(text) = q.q.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        let escaped = text
            .to_lowercase()
            .replace('\\', "\\\\")
            .replace('%', "\\%")
            .replace('_', "\\_");
        sql.push_str(" AND search LIKE ? ESCAPE '\\'");
        args.push(Sql::Text(format!("%{escaped}%")));
    }
    // After the last lead shown.
    if let Some(cursor) = &q.cursor {
        let (key, id) = decode_cursor(cursor, q.sort.unwrap_or_default())?;
        let past = if descending { "<" } else { ">" };
        sql.push_str(&format!(
            " AND ({column} {past} ? OR ({column} = ? AND lead_id > ?))"
        ));
        let key = match key {
            CursorKey::Rank(r) => Sql::Integer(r),
            CursorKey::Text(t) => Sql::Text(t),
        };
        args.extend([key.clone(), key, Sql::Text(id)]);
    }
    let direction = if descending { "DESC" } else { "ASC" };
    sql.push_str(&format!(" ORDER BY {column} {direction}, lead_id LIMIT ?"));
    args.push(Sql::Integer(i64::from(q.limit()) + 1));
    Ok((sql, args))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each order, with and without the filters the web app offers, reads its index in order:
    /// no table scan, no sort of the tenant's leads; a tier's leads, its tier's index.
    #[test]
    fn every_order_of_the_lead_list_reads_its_index() {
        let c = Connection::open_in_memory().unwrap();
        for migration in super::super::migrations::MIGRATIONS {
            c.execute_batch(migration).unwrap();
        }
        let cursor = |sort| match sort {
            LeadSort::Score => "50:ld_x".to_owned(),
            _ => format!("{}:ld_x", hex::encode("m")),
        };
        for (sort, index, tier_index) in [
            (LeadSort::Score, "leads_ranked", "leads_by_tier_rank"),
            (
                LeadSort::LastActivity,
                "leads_by_activity",
                "leads_by_tier_activity",
            ),
            (LeadSort::Name, "leads_by_name", "leads_by_tier_name"),
        ] {
            let queries = [
                LeadQuery::default(),
                LeadQuery {
                    tier: Some(crate::domain::Tier::Hot),
                    q: Some("acme".into()),
                    status: Some("open".into()),
                    ..LeadQuery::default()
                },
                LeadQuery {
                    min_score: Some(40),
                    max_score: Some(80),
                    cursor: Some(cursor(sort)),
                    ..LeadQuery::default()
                },
            ];
            for mut q in queries {
                q.sort = Some(sort);
                let (sql, args) = list_statement("acme", &q).unwrap();
                let plan =
                    super::super::tests::query_plan(&c, &sql, rusqlite::params_from_iter(args));
                let index = if q.tier.is_some() { tier_index } else { index };
                assert!(
                    plan.contains(&format!("USING INDEX {index} ")),
                    "{q:?}: {plan}"
                );
                assert!(!plan.contains("TEMP B-TREE"), "{q:?}: {plan}");
            }
        }
    }
}

/// Where a page of a lead list ends, in its order's column.
#[derive(Debug, PartialEq)]
enum CursorKey {
    Rank(i64),
    Text(String),
}

/// `<rank>:<lead>` when ordered by score; `<hex of the column>:<lead>` by activity or name.
fn encode_cursor(key: &Sql, id: &str) -> String {
    match key {
        Sql::Integer(rank) => format!("{rank}:{id}"),
        Sql::Text(t) => format!("{}:{id}", hex::encode(t)),
        _ => format!(":{id}"),
    }
}

fn decode_cursor(cursor: &str, sort: LeadSort) -> Result<(CursorKey, String)> {
    cursor
        .split_once(':')
        .and_then(|(key, id)| {
            let key = match sort {
                LeadSort::Score => CursorKey::Rank(key.parse::<i64>().ok()?),
                LeadSort::LastActivity | LeadSort::Name => {
                    CursorKey::Text(String::from_utf8(hex::decode(key).ok()?).ok()?)
                }
            };
            Some((key, LeadId::parse(id).ok()?.to_string()))
        })
        .ok_or_else(|| {
            Error::validation(format!(
                "cursor: `{cursor}` is not a cursor this API returned for this sort"
            ))
        })
}

impl SqliteStore {
    /// Every lead id of a tenant (for re-scoring after a rule change).
    pub async fn all_lead_ids(&self, tenant: &TenantId) -> Result<Vec<LeadId>> {
        let tenant = tenant.clone();
        self.read(move |c| {
            let mut stmt =
                c.prepare("SELECT lead_id FROM leads WHERE tenant_id = ?1 ORDER BY lead_id")?;
            let rows = stmt.query_map([tenant.as_str()], |r| r.get::<_, String>(0))?;
            rows.map(|r| LeadId::parse(&r?)).collect()
        })
        .await
    }
}
