//! Many runs in one command: seeds x models x optimisers x data sets, with a summary of mean
//! and spread over seeds for test accuracy and every similarity figure.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use super::cli::SweepArgs;
use super::progress::Progress;
use super::run::{Outputs, run_training};
use crate::analysis::pass::Analysis;
use crate::analysis::summary::{Cell, CellState, Summary, summarize};
use crate::core::config::{Config, OptimizerKind};
use crate::core::metrics::Metrics;
use crate::core::stop::StopToken;
use crate::render::report::write_sweep_report;
use crate::store::claim::{Attempt, try_claim};
use crate::store::{
    ANALYSIS_FILE, ERROR_FILE, METRICS_FILE, REPORT_FILE, RunDir, SUMMARY_JSON, SUMMARY_MD,
    write_atomic,
};
use crate::tensorflow::{REFERENCE_DIR, load_reference};

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

fn model_name(hidden: &[usize]) -> String {
    if hidden.is_empty() {
        "slp".into()
    } else {
        let w: Vec<String> = hidden.iter().map(|h| h.to_string()).collect();
        format!("mlp-{}", w.join("-"))
    }
}

/// Every configuration of the sweep with its run folder under `out`.
pub(crate) fn plan(base: &Config, spec: &SweepSpec, out: &Path) -> Vec<(Config, Cell)> {
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

/// Which of a sweep's combinations one worker runs: shard `index` of `count`, counted from 1.
/// Combination `i` (0-based, in the plan's order) belongs to shard `i % count + 1`, so each
/// shard gets a mix of models and data sets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: usize,
    pub count: usize,
}

impl Shard {
    pub(crate) const WHOLE: Shard = Shard { index: 1, count: 1 };

    pub fn new(index: usize, count: usize) -> Result<Self> {
        if count == 0 {
            bail!("--shard {index}/{count}: the shard count must be at least 1");
        }
        if index == 0 || index > count {
            bail!(
                "--shard {index}/{count}: shards are numbered 1 to {count} (the first is 1/{count})"
            );
        }
        Ok(Self { index, count })
    }

    pub fn owns(&self, position: usize) -> bool {
        position % self.count + 1 == self.index
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "shard {}/{}", self.index, self.count)
    }
}

/// `--shard`: `I/N`, or `auto` / `auto/N` to read the index (and count) from a cluster
/// scheduler's environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShardArg {
    Fixed(Shard),
    Auto { count: Option<usize> },
}

impl std::str::FromStr for ShardArg {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let usage = || {
            format!(
                "--shard {text:?} is not a shard: write I/N (1 <= I <= N, e.g. 2/4), `auto` \
                 (SLURM job arrays) or `auto/N` (Kubernetes Indexed Jobs with N completions)"
            )
        };
        let (first, count) = match text.split_once('/') {
            Some((first, count)) => (first, Some(count.parse::<usize>().map_err(|_| usage())?)),
            None => (text, None),
        };
        if first == "auto" {
            return Ok(ShardArg::Auto { count });
        }
        let index = first.parse::<usize>().map_err(|_| usage())?;
        let count = count.ok_or_else(usage)?;
        Shard::new(index, count)
            .map(ShardArg::Fixed)
            .map_err(|e| e.to_string())
    }
}

impl ShardArg {
    /// The shard this worker is, reading `auto` from the environment through `var`.
    pub fn resolve(self, var: impl Fn(&str) -> Option<String>) -> Result<Shard> {
        let count = match self {
            ShardArg::Fixed(shard) => return Ok(shard),
            ShardArg::Auto { count } => count,
        };
        let number = |name: &str| -> Result<Option<usize>> {
            var(name)
                .map(|v| {
                    v.trim()
                        .parse::<usize>()
                        .map_err(|_| anyhow!("--shard auto: {name}={v:?} is not a whole number"))
                })
                .transpose()
        };
        if let Some(id) = number("SLURM_ARRAY_TASK_ID")? {
            let min = number("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
            let count = match count {
                Some(n) => n,
                None => number("SLURM_ARRAY_TASK_COUNT")?.ok_or_else(|| {
                    anyhow!("--shard auto: SLURM_ARRAY_TASK_COUNT is unset; write --shard auto/N")
                })?,
            };
            let index = id.checked_sub(min).ok_or_else(|| {
                anyhow!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} is below SLURM_ARRAY_TASK_MIN {min}"
                )
            })?;
            return Shard::new(index + 1, count).map_err(|_| {
                anyhow!(
                    "--shard auto: SLURM_ARRAY_TASK_ID {id} with SLURM_ARRAY_TASK_MIN {min} is \
                     task {} of a {count}-task array: submit a contiguous array (--array=1-N, no \
                     step) or write --shard I/N",
                    index + 1
                )
            });
        }
        if let Some(index) = number("JOB_COMPLETION_INDEX")? {
            let count = count.ok_or_else(|| {
                anyhow!(
                    "--shard auto: Kubernetes does not tell a pod the number of completions; \
                     write --shard auto/N with the Job's completions"
                )
            })?;
            return Shard::new(index + 1, count).map_err(|_| {
                anyhow!(
                    "--shard auto/{count}: JOB_COMPLETION_INDEX {index} is past the {count} \
                     completions: make N in auto/N equal to the Job's completions"
                )
            });
        }
        bail!(
            "--shard auto: neither SLURM_ARRAY_TASK_ID (a SLURM job array) nor \
             JOB_COMPLETION_INDEX (a Kubernetes Indexed Job) is set; outside a scheduler write \
             --shard I/N"
        )
    }
}

/// What one sweep command is asked to do.
pub(crate) struct SweepRequest<'a> {
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
pub(crate) struct ShardReport {
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
pub(crate) struct SweepOutcome {
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
pub(crate) fn run_sweep(
    request: &SweepRequest<'_>,
    progress: &mut Progress,
    stop: &StopToken,
) -> Result<SweepOutcome> {
    let (base, spec) = load(request.path)?;
    let out = request
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("runs").join(&base.name));
    let runs = plan(&base, &spec, &out);
    // Check every configuration before the first (long) run starts.
    for (config, _) in &runs {
        config.validate()?;
        if !config.data.dir.is_dir() {
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
        report = run_shard(&runs, request.shard, progress, stop)?;
    }
    let cells: Vec<Cell> = runs.into_iter().map(|(_, c)| c).collect();
    let states: Vec<CellState> = cells.iter().map(cell_state).collect();
    let summary = summarize(&cells, &states);
    let missing = cells
        .iter()
        .zip(&states)
        .filter(|(_, s)| **s == CellState::Missing)
        .map(|(c, _)| c.dir.clone())
        .collect();
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
    progress: &mut Progress,
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
            progress: &mut *progress,
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
    progress: &'a mut Progress,
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
                self.progress.message(&line);
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
            self.progress.warn(&format!(
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
            self.progress
                .message(&format!("{step}: {name}: already done"));
            self.report.already_done.push(cell.dir.clone());
        }
        done
    }

    /// Trains a claimed combination; a failure is recorded in its `error.txt`, a stop from
    /// outside ends the sweep.
    fn train(&mut self, config: &Config, cell: &Cell, step: &str, name: &str) -> Result<()> {
        self.progress.message(&format!("{step}: {name}: training"));
        let out = Some(cell.dir.clone());
        let result = run_training(
            config,
            out,
            Outputs::Report,
            &mut Progress::silent(),
            self.stop,
        );
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
                self.progress
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
    let reference = Path::new(REFERENCE_DIR).join("results");
    let tensorflow = if reference.is_dir() {
        Some(load_reference(&reference)?)
    } else {
        None
    };
    write_sweep_report(root, summary, tensorflow.as_deref())
}

/// `sweep`: this worker's shard of a sweep, then the summary once every run is done.
pub fn command(args: &SweepArgs, stop: &StopToken) -> Result<()> {
    let shard = match args.shard {
        Some(arg) => arg.resolve(|name| std::env::var(name).ok())?,
        None => Shard::WHOLE,
    };
    let outcome = run_sweep(
        &SweepRequest {
            path: &args.config,
            out: args.out.clone(),
            shard,
            summarize_only: args.summarize,
        },
        &mut Progress::new(),
        stop,
    )?;
    let report = &outcome.report;
    if let Some((dir, error)) = report.failed.first() {
        anyhow::bail!(
            "{} of the runs of {} failed, the first in {}: {error}",
            report.failed.len(),
            outcome.shard,
            dir.display()
        );
    }
    if outcome.complete() || args.summarize {
        println!("{}", outcome.summary.markdown());
        println!(
            "summary in {} and {}",
            outcome.out.join(SUMMARY_MD).display(),
            outcome.out.join(REPORT_FILE).display()
        );
    }
    let again = format!(
        "weightscope sweep --config {} --out {} --summarize",
        args.config.display(),
        outcome.out.display()
    );
    if args.summarize && !outcome.complete() {
        anyhow::bail!(
            "the sweep is incomplete: {} of {} combinations have no result and {} failed \
             (listed above and in summary.md); run their shards again, then `{again}`",
            outcome.missing.len(),
            outcome.summary.cells.len(),
            outcome.summary.failed.len()
        );
    }
    if !outcome.complete() {
        println!(
            "{} finished: {} trained, {} already done, {} being trained by other workers; the \
             sweep still lacks {} of {} combinations. When every shard has finished: {again}",
            outcome.shard,
            report.trained.len(),
            report.already_done.len(),
            report.held_by_others.len(),
            outcome.missing.len() + outcome.summary.failed.len(),
            outcome.summary.cells.len(),
        );
    }
    Ok(())
}
