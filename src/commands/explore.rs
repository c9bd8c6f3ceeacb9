//! `explore`: the interactive page of a run, `explore.html`. A run and `analyze` write it too.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use super::analyze::load_snapshots;
use super::cli::ExploreArgs;
use super::progress::Progress;
use crate::analysis::explorer::ExplorerInputs;
use crate::analysis::pass::Snapshot;
use crate::core::config::Config;
use crate::core::data::RunData;
use crate::core::metrics::Metrics;
use crate::render::explore::{ExplorePage, write_explore_page};
use crate::store::{EXPLORE_FILE, METRICS_FILE, RunDir};

/// Computes what the page needs of every snapshot and writes it to `path`.
pub(crate) fn write_explorer(
    path: &Path,
    config: &Config,
    metrics: &Metrics,
    data: &RunData,
    snapshots: &[Snapshot],
    progress: &Progress,
) -> Result<()> {
    let started = Instant::now();
    // Several seconds of work for a 20-epoch run: say what it is before it starts.
    progress.message(&format!(
        "explorer: each neuron's most similar training inputs at {} epochs…",
        snapshots.len()
    ));
    let inputs = ExplorerInputs::new(config.model.activation, &data.full_train, &data.test);
    let views: Vec<_> = snapshots.iter().map(|s| inputs.epoch_view(s)).collect();
    write_explore_page(
        &ExplorePage {
            model: &metrics.model,
            activation: config.model.activation,
            probe_index: config.analysis.probe_index,
            snapshots,
            views: &views,
            train: &data.full_train,
            test: &data.test,
        },
        path,
    )?;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    progress.message(&format!(
        "explorer: {} ({:.1} MB, {} epochs) in {:.1}s",
        path.display(),
        size as f64 / 1e6,
        snapshots.len(),
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}

/// `weightscope explore RUN_DIR [--out FILE]`.
pub fn command(args: &ExploreArgs) -> Result<()> {
    let progress = Progress::new();
    let dir = RunDir::open(&args.run)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    if metrics.epochs.is_empty() {
        bail!(
            "{} holds imported weights, not a training run's snapshots; `weightscope analyze \
             --weights FILE --out {0}` (or --keras-weights) writes its explore.html",
            args.run.display()
        );
    }
    let data = RunData::load(&config)?;
    let snapshots = load_snapshots(&dir, &config, &metrics)?;
    let out = args.out.clone().unwrap_or_else(|| dir.file(EXPLORE_FILE));
    write_explorer(&out, &config, &metrics, &data, &snapshots, &progress)?;
    progress.message(&format!("open {} in a browser", out.display()));
    Ok(())
}
