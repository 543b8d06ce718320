//! `leadscore train`: a per-tenant model from a CSV of past leads and their outcomes.

use std::io::IsTerminal;

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use shared::domain::TenantId;
use shared::local::LocalApp;

use crate::output;
use crate::{drain, emit};

/// `leadscore train`: read, train with a progress bar, report, save.
pub(crate) async fn train(
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
