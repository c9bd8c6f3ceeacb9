//! A run against TensorFlow's reference results: `comparison.md` and a loss chart in its
//! folder.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::finished::FinishedRun;
use crate::analysis::results::Analysis;
use crate::core::config::Config;
use crate::core::metrics::Metrics;
use crate::render::figures::{FigureFile, LossFigure};
use crate::store::{COMPARISON_FILE, FIGURES_DIR, RunDir};
use crate::tensorflow::compare::{Comparison, compare};
use crate::tensorflow::reference_for;

/// Compares a finished run with the reference results in `reference`; returns the comparison
/// and the files written.
pub fn compare_run(run: &Path, reference: &Path) -> Result<(Comparison, Vec<PathBuf>)> {
    let run = FinishedRun::open(run)?;
    let analysis = run.analysis()?;
    write_comparison(&run.dir, &run.config, &run.metrics, &analysis, reference)
}

/// The comparison of a run whose results are in hand, written into its folder.
pub(crate) fn write_comparison(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    analysis: &Analysis,
    reference: &Path,
) -> Result<(Comparison, Vec<PathBuf>)> {
    let refs = reference_for(reference, config.is_lockstep())?;
    let comparison = compare(metrics, analysis, &refs)?;
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
