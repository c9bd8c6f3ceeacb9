//! A finished training run, read back from its folder: the one way every command opens one.

use std::path::Path;

use anyhow::{Context, Result};

use crate::analysis::results::{Analysis, Snapshot};
use crate::core::config::Config;
use crate::core::data::RunData;
use crate::core::metrics::Metrics;
use crate::core::provenance::Provenance;
use crate::core::weights::LayerWeights;
use crate::store::{ANALYSIS_FILE, METRICS_FILE, RunDir, WEIGHTS_FILE, snapshot_file};
use crate::train::saved::load_layers;

/// A training run's folder with its config and metrics; the rest is read on demand.
pub struct FinishedRun {
    pub dir: RunDir,
    pub config: Config,
    pub metrics: Metrics,
}

impl FinishedRun {
    /// Opens the folder a training run wrote; an import's folder or anything else is refused
    /// in one line that says what to pass instead.
    pub fn open(path: &Path) -> Result<Self> {
        let dir = RunDir::open(path)?;
        let config = dir.read_config()?;
        let metrics: Metrics = dir.read_json(METRICS_FILE)?;
        Ok(Self {
            dir,
            config,
            metrics,
        })
    }

    pub fn provenance(&self) -> Provenance<'_> {
        Provenance::Trained {
            config: &self.config,
            metrics: &self.metrics,
        }
    }

    /// The data set the run was trained on.
    pub fn data(&self) -> Result<RunData> {
        RunData::load(&self.config)
    }

    /// The `analysis.json` the run's analysis wrote.
    pub fn analysis(&self) -> Result<Analysis> {
        self.dir.read_json(ANALYSIS_FILE)
    }

    /// The trained weights.
    pub fn trained(&self) -> Result<Vec<LayerWeights>> {
        self.layers(WEIGHTS_FILE)
    }

    /// The weights of snapshot `epoch` (0 = initial).
    pub fn snapshot(&self, epoch: usize) -> Result<Vec<LayerWeights>> {
        snapshot(&self.dir, &self.config, &self.metrics, epoch)
    }

    /// Every snapshot the run saved, epoch 0 (initial) to its last epoch.
    pub fn snapshots(&self) -> Result<Vec<Snapshot>> {
        snapshots(&self.dir, &self.config, &self.metrics)
    }

    fn layers(&self, file: &str) -> Result<Vec<LayerWeights>> {
        load_layers(
            &self.dir,
            file,
            &self.metrics.layers,
            self.config.model.activation,
        )
    }
}

/// The snapshots of the run in `dir` with this config and these metrics, epoch 0 (initial)
/// to its last epoch: for a run that has just finished as for one opened again.
pub(crate) fn snapshots(dir: &RunDir, config: &Config, metrics: &Metrics) -> Result<Vec<Snapshot>> {
    (0..=metrics.epochs.len())
        .map(|epoch| {
            let layers = snapshot(dir, config, metrics, epoch)?;
            Ok(Snapshot { epoch, layers })
        })
        .collect()
}

/// The weights of snapshot `epoch` (0 = initial) of the run in `dir`.
pub(crate) fn snapshot(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    epoch: usize,
) -> Result<Vec<LayerWeights>> {
    load_layers(
        dir,
        &snapshot_file(epoch),
        &metrics.layers,
        config.model.activation,
    )
    .with_context(|| format!("the run in {} is incomplete", dir.path().display()))
}
