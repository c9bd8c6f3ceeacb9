//! The interactive page of a network, `explore.html`: every snapshot's weights and what the
//! page shows of them beyond its own forward pass.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Result;

use super::feedback::Feedback;
use super::finished::FinishedRun;
use crate::analysis::explorer::{EpochView, ExplorerInputs};
use crate::analysis::results::{Snapshot, initial_and_trained};
use crate::core::data::RunData;
use crate::core::provenance::Provenance;
use crate::render::explore::{ExplorePage, write_explore_page};
use crate::store::EXPLORE_FILE;

/// Computes what the page needs of every snapshot and writes it to `path`.
pub(crate) fn write_explorer(
    path: &Path,
    provenance: &Provenance<'_>,
    data: &RunData,
    snapshots: &[Snapshot],
    feedback: &dyn Feedback,
) -> Result<()> {
    let started = Instant::now();
    let what = snapshots_described(provenance, snapshots);
    // Several seconds of work for a 20-epoch run: say what it is before it starts.
    feedback.message(&format!(
        "explorer: each neuron's most similar training inputs for {what}…"
    ));
    let inputs = ExplorerInputs::new(provenance.activation(), &data.full_train, &data.test);
    let views = snapshots.iter().map(|s| inputs.epoch_view(s)).collect();
    let line = write_page(path, provenance, data, snapshots, views, started)?;
    feedback.message(&line);
    Ok(())
}

/// Writes the page from `views` that the analysis has already computed; returns the line that
/// says so, for the caller to print in its order (this runs beside the figures).
pub(crate) fn write_page_of_views(
    path: &Path,
    provenance: &Provenance<'_>,
    data: &RunData,
    snapshots: &[Snapshot],
    views: Vec<EpochView>,
) -> Result<String> {
    write_page(path, provenance, data, snapshots, views, Instant::now())
}

fn write_page(
    path: &Path,
    provenance: &Provenance<'_>,
    data: &RunData,
    snapshots: &[Snapshot],
    views: Vec<EpochView>,
    started: Instant,
) -> Result<String> {
    write_explore_page(
        &ExplorePage {
            model: provenance.model(),
            activation: provenance.activation(),
            probe_index: provenance.probe_index(),
            snapshots,
            snapshot_names: snapshot_names(provenance, snapshots),
            views: &views,
            train: &data.full_train,
            test: &data.test,
            scaling: &data.scaling,
            class_names: &data.class_names,
        },
        path,
    )?;
    let size = std::fs::metadata(path).map_or(0, |m| m.len());
    Ok(format!(
        "explorer: {} ({:.1} MB, {}) in {:.1}s",
        path.display(),
        size as f64 / 1e6,
        snapshots_described(provenance, snapshots),
        started.elapsed().as_secs_f64()
    ))
}

/// An import's snapshots by name, since it has no epochs of its own; none for a training run.
fn snapshot_names(
    provenance: &Provenance<'_>,
    snapshots: &[Snapshot],
) -> Option<Vec<&'static str>> {
    match provenance {
        Provenance::Trained { .. } => None,
        Provenance::Imported(_) if initial_and_trained(snapshots).0.is_some() => {
            Some(vec!["initial", "trained"])
        }
        Provenance::Imported(_) => Some(vec!["trained"]),
    }
}

/// "21 epochs" of a training run; an import's "initial and trained weights", since it has no
/// epochs of its own.
fn snapshots_described(provenance: &Provenance<'_>, snapshots: &[Snapshot]) -> String {
    match provenance {
        Provenance::Trained { .. } => format!("{} epochs", snapshots.len()),
        Provenance::Imported(_) if initial_and_trained(snapshots).0.is_some() => {
            "the initial and trained weights".into()
        }
        Provenance::Imported(_) => "the trained weights".into(),
    }
}

/// Writes the explorer page of a finished training run to `out` (default its
/// `explore.html`); returns the page's path.
pub fn explore_run(run: &Path, out: Option<&Path>, feedback: &dyn Feedback) -> Result<PathBuf> {
    let run = FinishedRun::open(run)?;
    let data = run.data()?;
    let snapshots = run.snapshots()?;
    let out = out.map_or_else(|| run.dir.file(EXPLORE_FILE), Path::to_path_buf);
    write_explorer(&out, &run.provenance(), &data, &snapshots, feedback)?;
    Ok(out)
}
