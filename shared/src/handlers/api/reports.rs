//! `/reports/...`: the reports of `crate::reports` over the tenant's leads, as JSON or, with
//! `?format=csv`, as a table a spreadsheet opens.

use super::routing::{Build, Routes, get_with};
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::AppState;
use super::extract::{ApiResult, Q, Tenant};
use crate::Deps;
use crate::error::Error;
use crate::handlers::reports::{self, Book};
use crate::model::metrics::Decile;
use crate::reports::calls::{
    Activity, Agents, CallBook, DEFAULT_WEEKS, MAX_WEEKS, Signals, TimeToTouch,
};
use crate::reports::{
    Calibration, Conversion, Distribution, Gains, ModelFigures, calibration, conversion,
    distribution, gains, model_figures,
};

pub(super) fn routes<B: Build>() -> Routes<B> {
    Routes::new()
        .api_route(
            "/reports/distribution",
            get_with(
                get_distribution,
                |op| doc(
                    op,
                    "report_distribution",
                    "How scores are spread: ten bands, the tiers, the unscored",
                    "Every lead in its band of ten points (90-100 the top), and how many are \
                     hot, warm and cold.",
                ),
            ),
        )
        .api_route(
            "/reports/conversion",
            get_with(
                get_conversion,
                |op| doc(
                    op,
                    "report_conversion",
                    "Conversion rate and value won by score band (ROI)",
                    "Per band of ten points: leads, won, lost, the conversion rate (won over \
                     decided) and the value of the deals won. Outcomes come from reps (PUT \
                     /leads/{id}/outcome) and connected CRMs.",
                ),
            ),
        )
        .api_route(
            "/reports/gains",
            get_with(
                get_gains,
                |op| doc(
                    op,
                    "report_gains",
                    "Cumulative gains: the share of conversions captured by working the top x% first",
                    "The decided leads ordered by score, highest first (a tie counts its losses \
                     first): after each tenth of them, the share of all conversions they hold. \
                     Random order captures conversions in proportion.",
                ),
            ),
        )
        .api_route(
            "/reports/calibration",
            get_with(
                get_calibration,
                |op| doc(
                    op,
                    "report_calibration",
                    "Predicted against observed conversion, by tenths of the leads",
                    "The decided leads ordered by probability (the model's, else the score \
                     over 100), highest first, in tenths: the mean probability, the share that \
                     converted, and its lift over the overall rate.",
                ),
            ),
        )
        .api_route(
            "/reports/activity",
            get_with(get_activity, |op| {
                doc(
                    op,
                    "report_activity",
                    "Leads, calls and hot leads per week",
                    "The latest `weeks` weeks (12 unless asked, at most 104; Monday to Sunday, \
                     UTC), oldest first: leads first heard from (their first call, or their \
                     creation if earlier), calls, and leads hot now by the week they turned hot.",
                )
            }),
        )
        .api_route(
            "/reports/time_to_touch",
            get_with(get_time_to_touch, |op| {
                doc(
                    op,
                    "report_time_to_touch",
                    "How soon hot leads are called after they turn hot",
                    "Over the leads hot now: how many were called since they turned hot, the \
                     median and 90th percentile hours to that call, how many within an hour \
                     and a day, and the ten waiting longest.",
                )
            }),
        )
        .api_route(
            "/reports/signals",
            get_with(get_signals, |op| {
                doc(
                    op,
                    "report_signals",
                    "The buying signals and objections heard, and how their leads converted",
                    "Each intent and objection the analysis found on calls: the calls and leads \
                     it came up in, and won, lost and the conversion rate among those leads; \
                     and each intent of the leads' text replies, by lead.",
                )
            }),
        )
        .api_route(
            "/reports/agents",
            get_with(get_agents, |op| {
                doc(
                    op,
                    "report_agents",
                    "Each agent's calls and results",
                    "By the `agent` field of a call's metadata: calls, leads, hot leads, won, \
                     lost, value won, calls with a buying signal and the customers' mean \
                     sentiment.",
                )
            }),
        )
        .api_route(
            "/reports/model",
            get_with(
                get_model,
                |op| doc(
                    op,
                    "report_model",
                    "The success metrics: AUC, Brier, precision, recall and F1 at the hot threshold",
                    "On the decided leads: how well scores rank conversions (AUC), how close the \
                     probabilities are (Brier), and what calling the hot tier \"will convert\" \
                     gets right (precision), finds (recall) and both (F1).",
                ),
            ),
        )
}

/// A report's documentation: its tag, what it says, and that it comes as CSV too.
fn doc<'a>(
    op: TransformOperation<'a>,
    id: &'static str,
    summary: &'static str,
    description: &'static str,
) -> TransformOperation<'a> {
    op.id(id)
        .tag("reports")
        .summary(summary)
        .description(description)
        .with(csv_too)
}

/// `json` (the default) or `csv`.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ReportQuery {
    /// `json` (the default) or `csv`.
    #[schemars(regex(pattern = r"^(json|csv)$"))]
    format: Option<String>,
}

/// `json` (the default) or `csv`, and how many weeks.
#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct ActivityQuery {
    /// `json` (the default) or `csv`.
    #[schemars(regex(pattern = r"^(json|csv)$"))]
    format: Option<String>,
    /// 1..=104; 12 when unset.
    #[schemars(range(min = 1, max = 104))]
    weeks: Option<u32>,
}

/// A report made from the calls too, and how many were read.
#[derive(Debug, Serialize, JsonSchema)]
pub struct WithCalls<T> {
    /// Calls read (at most 100,000).
    pub calls_read: usize,
    /// Whether the tenant has more calls than were read.
    pub calls_truncated: bool,
    #[serde(flatten)]
    pub report: T,
}

impl<T: Table> Table for WithCalls<T> {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        self.report.table()
    }
}

/// A report, and how many leads it was made from.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Report<T> {
    /// Leads read (at most 100,000).
    pub leads_read: usize,
    /// Whether the tenant has more leads than were read.
    pub truncated: bool,
    #[serde(flatten)]
    pub report: T,
}

/// A report as JSON, or as CSV.
pub struct Answer<T>(Report<T>, bool);

impl<T: Serialize + Table> IntoResponse for Answer<T> {
    fn into_response(self) -> Response {
        let Answer(report, csv) = self;
        if !csv {
            return axum::Json(report).into_response();
        }
        let (header, rows) = report.report.table();
        let mut out = csv::Writer::from_writer(Vec::new());
        let written = out
            .write_record(header)
            .and_then(|_| rows.iter().try_for_each(|r| out.write_record(r)));
        match written
            .map_err(|e| e.to_string())
            .and_then(|_| out.into_inner().map_err(|e| e.to_string()))
        {
            Ok(bytes) => {
                ([(header::CONTENT_TYPE, "text/csv; charset=utf-8")], bytes).into_response()
            }
            Err(e) => super::ApiError(Error::internal("a report could not be written as CSV", e))
                .into_response(),
        }
    }
}

impl<T: JsonSchema> aide::OperationOutput for Answer<T> {
    type Inner = Report<T>;

    fn operation_response(
        ctx: &mut aide::generate::GenContext,
        operation: &mut aide::openapi::Operation,
    ) -> Option<aide::openapi::Response> {
        axum::Json::<Report<T>>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut aide::generate::GenContext,
        operation: &mut aide::openapi::Operation,
    ) -> Vec<(Option<aide::openapi::StatusCode>, aide::openapi::Response)> {
        axum::Json::<Report<T>>::inferred_responses(ctx, operation)
    }
}

/// The 200 answer may be `text/csv` as well (`?format=csv`).
fn csv_too(mut op: TransformOperation) -> TransformOperation {
    use aide::openapi::{MediaType, ReferenceOr, SchemaObject, StatusCode};
    if let Some(responses) = op.inner_mut().responses.as_mut()
        && let Some(ReferenceOr::Item(ok)) = responses.responses.get_mut(&StatusCode::Code(200))
    {
        ok.content.insert(
            "text/csv".into(),
            MediaType {
                schema: Some(SchemaObject {
                    json_schema: schemars::json_schema!({"type": "string"}),
                    example: None,
                    external_docs: None,
                }),
                ..Default::default()
            },
        );
    }
    op
}

/// A report as a table: its header and its rows.
pub trait Table {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>);
}

fn cell(value: Option<f64>) -> String {
    value.map_or_else(String::new, |v| format!("{v:.4}"))
}

impl Table for Distribution {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .bands
            .iter()
            .map(|b| vec![b.from.to_string(), b.to.to_string(), b.leads.to_string()])
            .collect();
        (vec!["from", "to", "leads"], rows)
    }
}

impl Table for Conversion {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .bands
            .iter()
            .map(|b| {
                vec![
                    b.from.to_string(),
                    b.to.to_string(),
                    b.leads.to_string(),
                    b.won.to_string(),
                    b.lost.to_string(),
                    cell(b.conversion_rate),
                    format!("{:.2}", b.value_won),
                ]
            })
            .collect();
        (
            vec![
                "from",
                "to",
                "leads",
                "won",
                "lost",
                "conversion_rate",
                "value_won",
            ],
            rows,
        )
    }
}

impl Table for Gains {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .points
            .iter()
            .map(|p| vec![cell(Some(p.leads)), cell(Some(p.conversions))])
            .collect();
        (vec!["leads", "conversions"], rows)
    }
}

impl Table for Calibration {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .deciles
            .iter()
            .map(|d: &Decile| {
                vec![
                    d.decile.to_string(),
                    d.leads.to_string(),
                    cell(Some(d.predicted)),
                    cell(Some(d.converted)),
                    cell(Some(d.lift)),
                ]
            })
            .collect();
        (
            vec!["decile", "leads", "predicted", "converted", "lift"],
            rows,
        )
    }
}

impl Table for ModelFigures {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let row = vec![
            self.decided.to_string(),
            self.won.to_string(),
            cell(self.auc),
            cell(self.brier),
            self.hot_threshold.to_string(),
            cell(Some(self.precision)),
            cell(Some(self.recall)),
            cell(Some(self.f1)),
            self.hot.to_string(),
        ];
        (
            vec![
                "decided",
                "won",
                "auc",
                "brier",
                "hot_threshold",
                "precision",
                "recall",
                "f1",
                "hot",
            ],
            vec![row],
        )
    }
}

/// Whether `format` asks for CSV (else JSON).
fn is_csv(format: Option<&str>) -> Result<bool, Error> {
    match format {
        None | Some("json") => Ok(false),
        Some("csv") => Ok(true),
        Some(other) => Err(Error::validation(format!(
            "format: `{other}` is not `json` or `csv`"
        ))),
    }
}

/// Read the tenant's leads, then its calls, and make `report` of them.
async fn answer_with_calls<T>(
    deps: &Deps,
    tenant: &crate::domain::TenantId,
    format: Option<&str>,
    report: impl FnOnce(&CallBook) -> T,
) -> ApiResult<Answer<WithCalls<T>>> {
    let csv = is_csv(format)?;
    let book = reports::book(deps, tenant).await?;
    let mut calls = CallBook::new(&book.leads);
    let calls_truncated = reports::walk_calls(deps, tenant, &mut calls).await?;
    Ok(Answer(
        Report {
            leads_read: book.leads.len(),
            truncated: book.truncated,
            report: WithCalls {
                calls_read: calls.calls(),
                calls_truncated,
                report: report(&calls),
            },
        },
        csv,
    ))
}

async fn get_activity(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ActivityQuery>,
) -> ApiResult<Answer<WithCalls<Activity>>> {
    let weeks = q.weeks.unwrap_or(DEFAULT_WEEKS);
    if !(1..=MAX_WEEKS).contains(&weeks) {
        return Err(Error::validation(format!("weeks: {weeks} is outside 1..={MAX_WEEKS}")).into());
    }
    let now = chrono::Utc::now();
    answer_with_calls(&deps, &tenant, q.format.as_deref(), |c| {
        c.activity(weeks, now)
    })
    .await
}

async fn get_time_to_touch(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<WithCalls<TimeToTouch>>> {
    let now = chrono::Utc::now();
    answer_with_calls(&deps, &tenant, q.format.as_deref(), |c| {
        c.time_to_touch(now)
    })
    .await
}

async fn get_signals(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<WithCalls<Signals>>> {
    answer_with_calls(&deps, &tenant, q.format.as_deref(), |c| c.signals()).await
}

async fn get_agents(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<WithCalls<Agents>>> {
    answer_with_calls(&deps, &tenant, q.format.as_deref(), |c| c.agents()).await
}

impl Table for Activity {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .weeks
            .iter()
            .map(|w| {
                vec![
                    w.week.to_string(),
                    w.new_leads.to_string(),
                    w.calls.to_string(),
                    w.turned_hot.to_string(),
                ]
            })
            .collect();
        (vec!["week", "new_leads", "calls", "turned_hot"], rows)
    }
}

impl Table for TimeToTouch {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let row = vec![
            self.hot_leads.to_string(),
            self.touched.to_string(),
            self.waiting.to_string(),
            cell(self.median_hours_to_touch),
            cell(self.p90_hours_to_touch),
            self.touched_within_1h.to_string(),
            self.touched_within_24h.to_string(),
        ];
        (
            vec![
                "hot_leads",
                "touched",
                "waiting",
                "median_hours_to_touch",
                "p90_hours_to_touch",
                "touched_within_1h",
                "touched_within_24h",
            ],
            vec![row],
        )
    }
}

impl Table for Signals {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = [("intent", &self.intents), ("objection", &self.objections)]
            .into_iter()
            .flat_map(|(group, list)| {
                list.iter().map(move |s| {
                    vec![
                        group.to_owned(),
                        s.kind.clone(),
                        s.calls.to_string(),
                        s.leads.to_string(),
                        s.won.to_string(),
                        s.lost.to_string(),
                        cell(s.conversion_rate),
                    ]
                })
            })
            // Texts are counted by lead: their `calls` cell stays empty.
            .chain(self.texts.iter().map(|t| {
                vec![
                    "text".to_owned(),
                    t.kind.clone(),
                    String::new(),
                    t.leads.to_string(),
                    t.won.to_string(),
                    t.lost.to_string(),
                    cell(t.conversion_rate),
                ]
            }))
            .collect();
        (
            vec![
                "group",
                "kind",
                "calls",
                "leads",
                "won",
                "lost",
                "conversion_rate",
            ],
            rows,
        )
    }
}

impl Table for Agents {
    fn table(&self) -> (Vec<&'static str>, Vec<Vec<String>>) {
        let rows = self
            .agents
            .iter()
            .map(|a| {
                vec![
                    a.agent.clone(),
                    a.calls.to_string(),
                    a.leads.to_string(),
                    a.hot_leads.to_string(),
                    a.won.to_string(),
                    a.lost.to_string(),
                    cell(a.conversion_rate),
                    format!("{:.2}", a.value_won),
                    a.calls_with_buying_signal.to_string(),
                    cell(a.mean_customer_sentiment),
                ]
            })
            .collect();
        (
            vec![
                "agent",
                "calls",
                "leads",
                "hot_leads",
                "won",
                "lost",
                "conversion_rate",
                "value_won",
                "calls_with_buying_signal",
                "mean_customer_sentiment",
            ],
            rows,
        )
    }
}

/// Read the tenant's leads and make `report` of them.
async fn answer<T>(
    deps: &Deps,
    tenant: &crate::domain::TenantId,
    query: ReportQuery,
    report: impl FnOnce(&Book) -> T,
) -> ApiResult<Answer<T>> {
    let csv = is_csv(query.format.as_deref())?;
    let book = reports::book(deps, tenant).await?;
    Ok(Answer(
        Report {
            leads_read: book.leads.len(),
            truncated: book.truncated,
            report: report(&book),
        },
        csv,
    ))
}

async fn get_distribution(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Distribution>> {
    answer(&deps, &tenant, q, |b| distribution(&b.leads)).await
}

async fn get_conversion(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Conversion>> {
    answer(&deps, &tenant, q, |b| conversion(&b.leads)).await
}

async fn get_gains(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Gains>> {
    answer(&deps, &tenant, q, |b| gains(&b.leads)).await
}

async fn get_calibration(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Calibration>> {
    answer(&deps, &tenant, q, |b| calibration(&b.leads)).await
}

async fn get_model(
    State(deps): State<AppState>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<ModelFigures>> {
    answer(&deps, &tenant, q, |b| model_figures(&b.leads, &b.tiers)).await
}
