//! The tensorflow layer: TensorFlow's reference results for the article's setup, read as
//! typed data, and weightscope's runs compared with them.

pub mod compare;
pub mod neurons;

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::analysis::results::Analysis;
use crate::core::metrics::{EpochMetrics, Evaluation};
use crate::core::model_kind::ModelKind;

/// Where the TensorFlow reference results live, relative to the project root.
pub const REFERENCE_DIR: &str = "reference/tensorflow";
/// The reference folder's ordinary results (shuffled batches, the seed's own initial weights).
pub const RESULTS_DIR: &str = "results";
/// Its lockstep results (TensorFlow's initial weights, no shuffling).
const LOCKSTEP_DIR: &str = "lockstep";

/// One model of one seed in the reference script's `results/seed-N.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceModel {
    pub epochs: Vec<EpochMetrics>,
    pub test: Evaluation,
    pub train_seconds: f64,
    pub analysis: Analysis,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceRun {
    pub seed: u64,
    pub shuffle: bool,
    pub tensorflow: String,
    pub slp: Option<ReferenceModel>,
    pub mlp: Option<ReferenceModel>,
}

impl ReferenceRun {
    pub fn model(&self, model: ModelKind) -> Option<&ReferenceModel> {
        match model {
            ModelKind::Mlp => self.mlp.as_ref(),
            ModelKind::Slp => self.slp.as_ref(),
        }
    }
}

/// Every `seed-*.json` in `dir`, sorted by seed.
pub fn load_reference(dir: &Path) -> Result<Vec<ReferenceRun>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read TensorFlow results in {}: pass --reference, or run \
             reference/tensorflow/reference.py",
            dir.display()
        )
    })?;
    let mut runs = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("seed-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let run: ReferenceRun = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a reference result file", path.display()))?;
            runs.push(run);
        }
    }
    if runs.is_empty() {
        bail!(
            "no seed-*.json in {}: run reference/tensorflow/reference.py first",
            dir.display()
        );
    }
    runs.sort_by_key(|r| r.seed);
    Ok(runs)
}

/// The reference results that apply to a run: the lockstep results for a lockstep run (same
/// initial weights, no shuffling), the ordinary ones otherwise.
pub(crate) fn reference_for(reference: &Path, lockstep: bool) -> Result<Vec<ReferenceRun>> {
    let sub = if lockstep { LOCKSTEP_DIR } else { RESULTS_DIR };
    let folder = if reference.join(sub).is_dir() {
        reference.join(sub)
    } else {
        reference.to_path_buf()
    };
    let refs: Vec<ReferenceRun> = load_reference(&folder)?
        .into_iter()
        .filter(|r| r.shuffle != lockstep)
        .collect();
    if refs.is_empty() {
        bail!(
            "{} holds no {} TensorFlow results: run reference/tensorflow/reference.py{}",
            folder.display(),
            if lockstep { "lockstep" } else { "shuffled" },
            if lockstep {
                " --no-shuffle --init-from weights --out lockstep"
            } else {
                ""
            }
        );
    }
    Ok(refs)
}
