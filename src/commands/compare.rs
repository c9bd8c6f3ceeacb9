//! `compare RUN --reference DIR`: a run against TensorFlow's reference results, as a table in
//! the terminal, `comparison.md` and a loss chart.

use std::path::{Path, PathBuf};

use anyhow::Result;

use super::cli::CompareArgs;
use crate::analysis::pass::Analysis;
use crate::core::config::Config;
use crate::core::metrics::Metrics;
use crate::render::figures::{FigureFile, LossFigure};
use crate::store::{ANALYSIS_FILE, COMPARISON_FILE, FIGURES_DIR, METRICS_FILE, RunDir};
use crate::tensorflow::compare::{Comparison, compare};
use crate::tensorflow::reference_for;

/// Compares a finished run and writes `comparison.md` and the loss chart into its folder.
pub(crate) fn compare_command(run: &Path, reference: &Path) -> Result<(Comparison, Vec<PathBuf>)> {
    let dir = RunDir::open(run)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    let analysis: Analysis = dir.read_json(ANALYSIS_FILE)?;
    write_comparison(&dir, &config, &metrics, &analysis, reference)
}

/// The comparison of a run whose results are in hand, written into its folder.
pub(super) fn write_comparison(
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

/// `compare RUN --reference DIR`.
pub fn command(args: &CompareArgs) -> Result<()> {
    let (comparison, files) = compare_command(&args.run, &args.reference)?;
    println!("{}", comparison.markdown());
    for file in files {
        println!("wrote {}", file.display());
    }
    Ok(())
}
