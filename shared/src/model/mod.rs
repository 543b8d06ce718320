//! A tenant's model: trained on past leads with known outcomes (a CRM export, or the outcomes
//! reps record), it gives a calibrated probability that a lead converts. Artifacts are versioned
//! JSON with the metrics they were trained with; a failed training leaves the model in force.

pub mod boost;
pub mod calibrate;
pub mod encode;
pub mod logistic;
pub mod metrics;
pub mod table;
pub mod train;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::TenantId;
use crate::error::{Error, Result};
use crate::keys;
use crate::ports::BlobStore;
pub use encode::Raw;
pub use table::{Table, TargetSpec, read_csv};
pub use train::{Metrics, TrainOptions, train};

#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ModelKind {
    Logistic,
    Boosted,
    /// The mean of the two models' log-odds.
    Blend,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Model {
    pub format: u32,
    /// 1, 2, ... per tenant; 0 until saved.
    pub version: u64,
    pub trained_at: DateTime<Utc>,
    pub target: String,
    pub positive: String,
    pub kind: ModelKind,
    pub encoder: encode::Encoder,
    pub logistic: Option<logistic::Logistic>,
    pub boosted: Option<boost::Booster>,
    pub calibrator: calibrate::Isotonic,
    /// Columns of the training data left out, and why.
    pub skipped: Vec<(String, String)>,
    pub metrics: Metrics,
}

/// Where a tenant's models live in the blob store, and which one is in force.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Current {
    pub version: u64,
    pub key: String,
    pub trained_at: DateTime<Utc>,
    pub auc: f64,
}

impl Model {
    pub const FORMAT: u32 = 1;

    /// The calibrated probability for one row (values in the order of `encoder.features`).
    pub fn probability(&self, row: &[Raw]) -> f64 {
        self.calibrator.apply(self.margin(row))
    }

    fn margin(&self, row: &[Raw]) -> f64 {
        let linear = || {
            let mut x = Vec::new();
            self.encoder.linear(row, &mut x);
            self.logistic.as_ref().map_or(0.0, |m| m.margin(&x))
        };
        let trees = || {
            let mut x = Vec::new();
            self.encoder.tree(row, &mut x);
            self.boosted.as_ref().map_or(0.0, |m| m.margin(&x))
        };
        match self.kind {
            ModelKind::Logistic => linear(),
            ModelKind::Boosted => trees(),
            ModelKind::Blend => (linear() + trees()) / 2.0,
        }
    }

    /// Each input's effect on this row's log-odds: how much lower (or higher) they would be had
    /// the input been unknown. Indices follow `encoder.features`.
    pub fn effects(&self, row: &[Raw]) -> Vec<(usize, f64)> {
        let full = self.margin(row);
        let mut masked = row.to_vec();
        (0..row.len())
            .filter(|&i| !matches!(row[i], Raw::Missing))
            .map(|i| {
                let kept = std::mem::replace(&mut masked[i], Raw::Missing);
                let effect = full - self.margin(&masked);
                masked[i] = kept;
                (i, effect)
            })
            .collect()
    }

    /// Calibrated probabilities for `rows` of `table`, each input read from the table's column
    /// of its name (an input the table lacks is unknown): how a model in force scores rows it
    /// may not have been trained on.
    pub fn probabilities(&self, table: &Table, rows: &[usize]) -> Vec<f64> {
        let columns: Vec<Option<&table::Column>> = self
            .encoder
            .features
            .iter()
            .map(|f| table.columns.iter().find(|c| c.name == f.name))
            .collect();
        rows.iter()
            .map(|&r| {
                let row: Vec<Raw> = columns
                    .iter()
                    .map(|column| match column.map(|c| &c.values) {
                        Some(table::Values::Numeric(v)) if !v[r].is_nan() => Raw::Number(v[r]),
                        Some(table::Values::Categorical { levels, codes }) => codes[r]
                            .map_or(Raw::Missing, |c| Raw::Text(levels[c as usize].as_str())),
                        _ => Raw::Missing,
                    })
                    .collect();
                self.probability(&row)
            })
            .collect()
    }

    /// The model's inputs, by name.
    pub fn feature_names(&self) -> Vec<&str> {
        self.encoder
            .features
            .iter()
            .map(|f| f.name.as_str())
            .collect()
    }

    /// The pointer to the model in force, if the tenant has one.
    async fn current(blobs: &dyn BlobStore, tenant: &TenantId) -> Result<Option<Current>> {
        let key = keys::current_model(tenant);
        match blobs.get(&key).await {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| Error::internal(format!("{key} is damaged"), e)),
            Err(Error::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The model in force, kept in memory between calls while its version stays current
    /// (a warm Lambda reads only the small pointer).
    pub async fn load_cached(
        blobs: &dyn BlobStore,
        tenant: &TenantId,
    ) -> Result<Option<Arc<Self>>> {
        static CACHE: OnceLock<Mutex<HashMap<TenantId, Arc<Model>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(Default::default);
        let Some(current) = Self::current(blobs, tenant).await? else {
            return Ok(None);
        };
        if let Some(m) = cache.lock().expect("not poisoned").get(tenant)
            && m.version == current.version
            && m.trained_at == current.trained_at
        {
            return Ok(Some(m.clone()));
        }
        let bytes = blobs.get(&current.key).await?;
        let model: Arc<Self> = Arc::new(
            serde_json::from_slice(&bytes)
                .map_err(|e| Error::internal(format!("{} is damaged", current.key), e))?,
        );
        cache
            .lock()
            .expect("not poisoned")
            .insert(tenant.clone(), model.clone());
        Ok(Some(model))
    }

    /// Save as the tenant's next version and put it in force: the artifact first, then the
    /// pointer, so a reader sees the old model or the new one, never half of one.
    pub async fn save(mut self, blobs: &dyn BlobStore, tenant: &TenantId) -> Result<Self> {
        let previous = Self::current(blobs, tenant).await?.map_or(0, |c| c.version);
        self.version = previous + 1;
        let key = keys::model(tenant, self.version);
        blobs.put(&key, &serde_json::to_vec(&self)?).await?;
        let current = Current {
            version: self.version,
            key,
            trained_at: self.trained_at,
            auc: self.metrics.auc,
        };
        blobs
            .put(&keys::current_model(tenant), &serde_json::to_vec(&current)?)
            .await?;
        Ok(self)
    }
}
