//! Many runs in one command: every combination of a sweep file, sharded over workers that may
//! share one folder, then a summary of mean and spread over seeds.

mod pairs;
pub mod plan;
pub mod shard;

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::feedback::{Feedback, Silent};
use super::train::{Outputs, run_training};
use crate::analysis::results::Analysis;
use crate::analysis::summary::{Cell, CellState, Summary, summarize};
use crate::core::config::Config;
use crate::core::metrics::Metrics;
use crate::core::stop::StopToken;
use crate::render::report::write_sweep_report;
use crate::store::claim::{Attempt, try_claim};
use crate::store::{
    ANALYSIS_FILE, ERROR_FILE, METRICS_FILE, REPORT_FILE, RunDir, SUMMARY_JSON, SUMMARY_MD,
    default_run_dir, write_atomic,
};
use crate::tensorflow::{REFERENCE_DIR, RESULTS_DIR, load_reference};
use pairs::add_seed_pairs;
use plan::{load, plan};
use shard::Shard;

/// What one sweep command is asked to do.
pub struct SweepRequest<'a> {
    pub path: &'a Path,
    pub out: Option<PathBuf>,
    pub shard: Shard,
    /// Only gather the finished runs into the summary; train nothing.
    pub summarize_only: bool,
}

fn cell_state(cell: &Cell) -> CellState {
    let Ok(dir) = RunDir::open(&cell.dir) else {
        return CellState::Missing;
    };
    // report.html is the last file a run writes: without it the run was stopped part-way
    // through its analysis, however whole its metrics are.
    let finished = dir.file(REPORT_FILE).is_file();
    let done = dir
        .read_json::<Metrics>(METRICS_FILE)
        .ok()
        .zip(dir.read_json::<Analysis>(ANALYSIS_FILE).ok())
        .filter(|_| finished);
    if let Some(done) = done {
        return CellState::Done(Box::new(done));
    }
    match std::fs::read_to_string(dir.file(ERROR_FILE)) {
        Ok(error) => CellState::Failed(error.trim().to_string()),
        Err(_) => CellState::Missing,
    }
}

/// What a worker did with the combinations of its shard.
#[derive(Debug, Default)]
pub struct ShardReport {
    pub trained: Vec<PathBuf>,
    pub already_done: Vec<PathBuf>,
    /// Combinations another live worker was training, with who it was.
    pub held_by_others: Vec<(PathBuf, String)>,
    pub failed: Vec<(PathBuf, String)>,
    /// Combinations another worker took over while this one trained them.
    pub trained_twice: Vec<PathBuf>,
}

/// The outcome of a sweep command: this worker's part, and the summary once every
/// combination has a result.
pub struct SweepOutcome {
    pub shard: Shard,
    pub report: ShardReport,
    pub summary: Summary,
    /// Folders of combinations without a result yet.
    pub missing: Vec<PathBuf>,
    pub out: PathBuf,
}

impl SweepOutcome {
    pub fn complete(&self) -> bool {
        self.missing.is_empty() && self.summary.failed.is_empty()
    }
}

/// Runs the combinations of one shard (every one, unsharded) that are not finished yet, then
/// summarises every finished run of the sweep.
pub fn run_sweep(
    request: &SweepRequest<'_>,
    feedback: &mut dyn Feedback,
    stop: &StopToken,
) -> Result<SweepOutcome> {
    let (base, spec) = load(request.path)?;
    let out = request
        .out
        .clone()
        .unwrap_or_else(|| default_run_dir(&base.name));
    let runs = plan(&base, &spec, &out);
    // Check every configuration before the first (long) run starts.
    for (config, _) in &runs {
        config.validate()?;
        if !config.data.dir.exists() {
            bail!(
                "data set {} does not exist: fix sweep.datasets (Fashion-MNIST: apt-get install \
                 dataset-fashion-mnist, then /usr/share/datasets/fashion-mnist)",
                config.data.dir.display()
            );
        }
    }
    let root = RunDir::prepare_shared(&out)?;
    let mut report = ShardReport::default();
    if !request.summarize_only {
        report = run_shard(&runs, request.shard, feedback, stop)?;
    }
    let cells: Vec<Cell> = runs.into_iter().map(|(_, c)| c).collect();
    let states: Vec<CellState> = cells.iter().map(cell_state).collect();
    let mut summary = summarize(&cells, &states);
    let missing: Vec<PathBuf> = cells
        .iter()
        .zip(&states)
        .filter(|(_, s)| **s == CellState::Missing)
        .map(|(c, _)| c.dir.clone())
        .collect();
    let complete = missing.is_empty() && summary.failed.is_empty();
    // Matching every pair of seeds reads their weights: done only for a summary to be written.
    if complete || request.summarize_only {
        add_seed_pairs(&mut summary, &states)?;
    }
    let outcome = SweepOutcome {
        shard: request.shard,
        report,
        summary,
        missing,
        out,
    };
    // Every worker that finds the sweep complete writes the same summary; renames keep the
    // files whole whoever writes last. A partial summary is written only when asked for.
    if outcome.complete() || request.summarize_only {
        write_summary(&root, &outcome.summary)?;
    }
    Ok(outcome)
}

/// Trains this shard's unfinished combinations, each under a claim on its folder.
fn run_shard(
    runs: &[(Config, Cell)],
    shard: Shard,
    feedback: &mut dyn Feedback,
    stop: &StopToken,
) -> Result<ShardReport> {
    let mut report = ShardReport::default();
    let mine: Vec<&(Config, Cell)> = runs
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.owns(*i))
        .map(|(_, r)| r)
        .collect();
    for (n, (config, cell)) in mine.iter().enumerate() {
        let step = if shard.count > 1 {
            format!("{shard} run {}/{}", n + 1, mine.len())
        } else {
            format!("sweep run {}/{}", n + 1, mine.len())
        };
        let name = format!(
            "{} {} {} seed {}",
            cell.dataset, cell.model, cell.optimizer, cell.seed
        );
        let mut worker = Worker {
            shard,
            feedback: &mut *feedback,
            stop,
            report: &mut report,
        };
        worker.run(config, cell, &step, &name)?;
    }
    Ok(report)
}

/// One shard's worker, running the combinations given to it.
struct Worker<'a> {
    shard: Shard,
    feedback: &'a mut dyn Feedback,
    stop: &'a StopToken,
    report: &'a mut ShardReport,
}

impl Worker<'_> {
    /// Trains one combination under a claim on its folder, unless it is done or claimed.
    fn run(&mut self, config: &Config, cell: &Cell, step: &str, name: &str) -> Result<()> {
        if self.already_done(cell, step, name) {
            return Ok(());
        }
        let worker = self.shard.to_string();
        let claim = match try_claim(&cell.dir, &worker)? {
            Attempt::Claimed(claim) => claim,
            Attempt::HeldBy(owner) => {
                let line = format!("{step}: {name}: being trained by {owner}, skipped");
                self.feedback.message(&line);
                let held = (cell.dir.clone(), owner.to_string());
                self.report.held_by_others.push(held);
                return Ok(());
            }
        };
        // Another worker may have finished it between our check and our claim.
        if self.already_done(cell, step, name) {
            claim.release();
            return Ok(());
        }
        let trained = self.train(config, cell, step, name);
        let still_held = claim.still_held();
        // Released whatever happened: a run stopped from outside goes back to the next
        // worker, a failed one keeps its error.txt.
        claim.release();
        trained?;
        if !still_held {
            self.feedback.warn(&format!(
                "warning: {name} was taken over by another worker while {worker} trained it; \
                 both may have trained it"
            ));
            self.report.trained_twice.push(cell.dir.clone());
        }
        Ok(())
    }

    fn already_done(&mut self, cell: &Cell, step: &str, name: &str) -> bool {
        let done = matches!(cell_state(cell), CellState::Done(_));
        if done {
            self.feedback
                .message(&format!("{step}: {name}: already done"));
            self.report.already_done.push(cell.dir.clone());
        }
        done
    }

    /// Trains a claimed combination; a failure is recorded in its `error.txt`, a stop from
    /// outside ends the sweep.
    fn train(&mut self, config: &Config, cell: &Cell, step: &str, name: &str) -> Result<()> {
        self.feedback.message(&format!("{step}: {name}: training"));
        let out = Some(cell.dir.clone());
        let result = run_training(config, out, Outputs::Report, &mut Silent, self.stop);
        let error_file = cell.dir.join(ERROR_FILE);
        match result {
            Ok(_) => {
                let _ = std::fs::remove_file(&error_file);
                self.report.trained.push(cell.dir.clone());
            }
            Err(_) if self.stop.requested() => bail!(
                "interrupted while training {name}; finished runs are kept: run the same \
                 command again to continue"
            ),
            Err(e) => {
                let line = format!("{e:#}").replace('\n', " ");
                self.feedback
                    .warn(&format!("{step}: {name}: failed: {line}"));
                write_atomic(&error_file, format!("{line}\n").as_bytes())?;
                self.report.failed.push((cell.dir.clone(), line));
            }
        }
        Ok(())
    }
}

fn write_summary(root: &RunDir, summary: &Summary) -> Result<()> {
    root.write_json(SUMMARY_JSON, summary)?;
    root.write(SUMMARY_MD, summary.markdown().as_bytes())?;
    let reference = Path::new(REFERENCE_DIR).join(RESULTS_DIR);
    let tensorflow = if reference.is_dir() {
        Some(load_reference(&reference)?)
    } else {
        None
    };
    write_sweep_report(root, summary, tensorflow.as_deref())
}
