//! A run against TensorFlow's reference results: `comparison.md` and a loss chart in its
//! folder.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::finished::{FinishedRun, snapshot};
use crate::analysis::results::Analysis;
use crate::core::config::Config;
use crate::core::data::{ImageSet, RunData};
use crate::core::metrics::Metrics;
use crate::core::model_kind::ModelKind;
use crate::core::weights::widths;
use crate::interop::keras::{INITIAL_PREFIX, has_weights_of, load};
use crate::render::figures::{FigureFile, LossFigure};
use crate::store::{COMPARISON_FILE, FIGURES_DIR, RunDir};
use crate::tensorflow::compare::{Comparison, compare};
use crate::tensorflow::neurons::{
    LOCKSTEP_WEIGHTS_DIR, NeuronComparison, WEIGHTS_DIR, Weights, compare_neurons,
};
use crate::tensorflow::reference_for;

/// Compares a finished run with the reference results in `reference`; returns the comparison
/// and the files written.
pub fn compare_run(run: &Path, reference: &Path) -> Result<(Comparison, Vec<PathBuf>)> {
    let run = FinishedRun::open(run)?;
    let analysis = run.analysis()?;
    write_comparison(
        &run.dir,
        &run.config,
        &run.metrics,
        &analysis,
        reference,
        None,
    )
}

/// What the neuron-by-neuron comparison reads of a run, where the caller has it in hand: its
/// initial and trained weights and its test images.
pub(crate) struct InHand<'a> {
    pub weights: Weights<'a>,
    pub test: &'a ImageSet,
}

/// The run's neurons against TensorFlow's, where the reference folder has TensorFlow's
/// weights for a network of the run's widths; the run's weights and test images are read
/// from its folder unless `in_hand`.
fn neurons_against_tensorflow(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    reference: &Path,
    in_hand: Option<InHand<'_>>,
) -> Result<Option<NeuronComparison>> {
    let folder = reference.join(WEIGHTS_DIR);
    let model = ModelKind::of_widths(&metrics.layers);
    if !has_weights_of(&folder, model) {
        return Ok(None);
    }
    let theirs = load(&folder, model, "")?;
    if widths(&theirs) != metrics.layers {
        return Ok(None);
    }
    let their_init = load(&folder, model, INITIAL_PREFIX)?;
    let lockstep = reference.join(LOCKSTEP_WEIGHTS_DIR);
    let twin = if config.is_lockstep() && has_weights_of(&lockstep, model) {
        Some(load(&lockstep, model, "")?)
    } else {
        None
    };
    let tensorflow = Weights {
        trained: &theirs,
        init: &their_init,
    };
    if let Some(run) = in_hand {
        return Ok(Some(compare_neurons(
            run.weights,
            tensorflow,
            twin.as_deref(),
            run.test,
        )));
    }
    let init = snapshot(dir, config, metrics, 0)?;
    let trained = snapshot(dir, config, metrics, metrics.epochs.len())?;
    let data = RunData::load(config)?;
    Ok(Some(compare_neurons(
        Weights {
            trained: &trained,
            init: &init,
        },
        tensorflow,
        twin.as_deref(),
        &data.test,
    )))
}

/// The comparison of a run whose results are in hand, written into its folder.
pub(crate) fn write_comparison(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    analysis: &Analysis,
    reference: &Path,
    in_hand: Option<InHand<'_>>,
) -> Result<(Comparison, Vec<PathBuf>)> {
    let refs = reference_for(reference, config.is_lockstep())?;
    let mut comparison = compare(metrics, analysis, &refs)?;
    comparison.neurons = neurons_against_tensorflow(dir, config, metrics, reference, in_hand)?;
    let md_path = dir.file(COMPARISON_FILE);
    dir.write(COMPARISON_FILE, comparison.markdown().as_bytes())?;
    let figures = dir.subdir(FIGURES_DIR)?;
    let mut files = vec![md_path];
    let chart = LossFigure {
        comparison: &comparison,
    };
    files.extend(FigureFile::LossVsTensorflow.save(&chart, &figures)?);
    Ok((comparison, files))
}
