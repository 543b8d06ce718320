//! `/reports/...`: the reports of `crate::reports` over the tenant's leads, as JSON or, with
//! `?format=csv`, as a table a spreadsheet opens.

use aide::axum::ApiRouter;
use aide::axum::routing::get_with;
use aide::transform::TransformOperation;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::extract::{ApiResult, Q, Tenant};
use crate::Deps;
use crate::error::Error;
use crate::handlers::reports::{self, Book};
use crate::model::metrics::Decile;
use crate::reports::{
    Calibration, Conversion, Distribution, Gains, ModelFigures, calibration, conversion,
    distribution, gains, model_figures,
};

pub(super) fn routes() -> ApiRouter<Deps> {
    ApiRouter::new()
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

/// Read the tenant's leads and make `report` of them.
async fn answer<T>(
    deps: &Deps,
    tenant: &crate::domain::TenantId,
    query: ReportQuery,
    report: impl FnOnce(&Book) -> T,
) -> ApiResult<Answer<T>> {
    let csv = match query.format.as_deref() {
        None | Some("json") => false,
        Some("csv") => true,
        Some(other) => {
            return Err(
                Error::validation(format!("format: `{other}` is not `json` or `csv`")).into(),
            );
        }
    };
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
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Distribution>> {
    answer(&deps, &tenant, q, |b| distribution(&b.leads)).await
}

async fn get_conversion(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Conversion>> {
    answer(&deps, &tenant, q, |b| conversion(&b.leads)).await
}

async fn get_gains(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Gains>> {
    answer(&deps, &tenant, q, |b| gains(&b.leads)).await
}

async fn get_calibration(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<Calibration>> {
    answer(&deps, &tenant, q, |b| calibration(&b.leads)).await
}

async fn get_model(
    State(deps): State<Deps>,
    Tenant(tenant): Tenant,
    Q(q): Q<ReportQuery>,
) -> ApiResult<Answer<ModelFigures>> {
    answer(&deps, &tenant, q, |b| model_figures(&b.leads, &b.tiers)).await
}
