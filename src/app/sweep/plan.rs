//! A sweep file and the runs it plans: seeds x models x optimisers x data sets.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use crate::analysis::summary::Cell;
use crate::core::config::{Config, OptimizerKind};
use crate::core::model_kind::ModelKind;

/// An optimiser and the learning rate that suits it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerChoice {
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
}

/// The `[sweep]` table of a sweep file; the rest of the file is an ordinary run config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SweepSpec {
    pub seeds: Vec<u64>,
    /// Hidden-layer widths of each model; `[]` is the SLP.
    pub hidden: Vec<Vec<usize>>,
    pub optimizers: Vec<OptimizerChoice>,
    /// Folders of MNIST-format data sets.
    pub datasets: Vec<PathBuf>,
}

/// Reads a sweep file: a run config with a `[sweep]` table.
pub fn load(path: &Path) -> Result<(Config, SweepSpec)> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "cannot read sweep file {}: check the path given to --config",
            path.display()
        )
    })?;
    let invalid = |e: &dyn std::fmt::Display| {
        anyhow!(
            "sweep file {} is invalid: {}",
            path.display(),
            e.to_string().replace('\n', " ")
        )
    };
    let mut table: toml::Table = toml::from_str(&text).map_err(|e| invalid(&e.message()))?;
    let spec = table
        .remove("sweep")
        .ok_or_else(|| invalid(&"it has no [sweep] table; see configs/sweep.toml"))?;
    let spec: SweepSpec = spec
        .try_into()
        .map_err(|e: toml::de::Error| invalid(&e.message()))?;
    for (name, empty) in [
        ("seeds", spec.seeds.is_empty()),
        ("hidden", spec.hidden.is_empty()),
        ("optimizers", spec.optimizers.is_empty()),
        ("datasets", spec.datasets.is_empty()),
    ] {
        if empty {
            return Err(invalid(&format!(
                "sweep.{name} is empty: list at least one"
            )));
        }
    }
    let base = toml::to_string(&table).expect("a TOML table serialises");
    let mut config = Config::parse(&base).map_err(|e| invalid(&e))?;
    if config.name.is_empty() {
        config.name = path
            .file_stem()
            .map_or("sweep".into(), |s| s.to_string_lossy().into_owned());
    }
    Ok((config, spec))
}

fn dataset_name(dir: &Path) -> String {
    dir.file_name()
        .map_or("data".into(), |n| n.to_string_lossy().into_owned())
}

/// "slp", "mlp-128", "mlp-256-128": a model's folder and name in the summary.
fn model_name(hidden: &[usize]) -> String {
    let kind = ModelKind::of_hidden_layers(hidden.len()).name();
    let widths = hidden.iter().map(|h| format!("-{h}"));
    std::iter::once(kind.to_string()).chain(widths).collect()
}

/// Every configuration of the sweep with its run folder under `out`.
pub fn plan(base: &Config, spec: &SweepSpec, out: &Path) -> Vec<(Config, Cell)> {
    let mut runs = Vec::new();
    for dataset in &spec.datasets {
        for hidden in &spec.hidden {
            for opt in &spec.optimizers {
                for &seed in &spec.seeds {
                    let mut c = base.clone();
                    c.data.dir = dataset.clone();
                    c.model.hidden = hidden.clone();
                    c.training.optimizer = opt.optimizer;
                    c.training.learning_rate = opt.learning_rate;
                    c.seed = seed;
                    c.name = format!(
                        "{}-{}-{}-{}",
                        dataset_name(dataset),
                        model_name(hidden),
                        opt.optimizer.name(),
                        seed
                    );
                    let cell = Cell {
                        hidden: hidden.clone(),
                        article: c.article_model(),
                        dataset: dataset_name(dataset),
                        model: model_name(hidden),
                        optimizer: opt.optimizer.name().into(),
                        seed,
                        dir: out
                            .join(dataset_name(dataset))
                            .join(model_name(hidden))
                            .join(opt.optimizer.name())
                            .join(format!("seed-{seed}")),
                    };
                    runs.push((c, cell));
                }
            }
        }
    }
    runs
}
