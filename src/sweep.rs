//! Many runs in one command: seeds x models x optimisers x data sets, with a summary of mean
//! and spread over seeds for test accuracy and every similarity figure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::analysis::pass::Analysis;
use crate::artifacts::{ANALYSIS_FILE, METRICS_FILE, Metrics, RunDir, write_atomic};
use crate::config::{Config, OptimizerKind};
use crate::pipeline::run_training;
use crate::progress::Progress;

pub const SUMMARY_JSON: &str = "summary.json";
pub const SUMMARY_MD: &str = "summary.md";

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

/// One run of the sweep.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cell {
    pub dataset: String,
    pub model: String,
    pub optimizer: String,
    pub seed: u64,
    pub dir: PathBuf,
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
                    let cell = Cell {
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
                    c.name = format!(
                        "{}-{}-{}-{}",
                        cell.dataset, cell.model, cell.optimizer, seed
                    );
                    runs.push((c, cell));
                }
            }
        }
    }
    runs
}

/// Mean and standard deviation (over seeds) of one figure.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    pub std: f64,
    pub n: usize,
}

/// Four decimals, or scientific notation for values too small to show that way.
fn number(v: f64) -> String {
    if v != 0.0 && v.abs() < 1e-3 {
        format!("{v:.1e}")
    } else {
        format!("{v:.4}")
    }
}

impl std::fmt::Display for Stat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ± {}", number(self.mean), number(self.std))
    }
}

fn stat(values: &[f64]) -> Option<Stat> {
    let v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return None;
    }
    let n = v.len();
    let mean = v.iter().sum::<f64>() / n as f64;
    let var = if n > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64
    } else {
        0.0
    };
    Some(Stat {
        mean,
        std: var.sqrt(),
        n,
    })
}

/// The figures summarised for each group of runs, as (name, value from one run).
pub fn figures(test_accuracy: f64, a: &Analysis) -> RunFigures {
    let ct = &a.class_template;
    let mut out = vec![
        ("test accuracy", test_accuracy),
        (
            "probe cos, first layer, trained",
            a.probe.layers[0].cos_trained,
        ),
        (
            "class template best match (centred), trained",
            ct.trained.best_match_mean_centered,
        ),
    ];
    // Every sweep run saves its initial weights, so the baselines are there.
    if let Some(c) = a.probe.layers[0].cos_init {
        out.push(("probe cos, first layer, init", c));
    }
    if let Some(i) = &ct.init {
        out.push((
            "class template best match (centred), init",
            i.best_match_mean_centered,
        ));
    }
    if let Some(t) = ct.trained.diag_centered {
        out.push(("class template diagonal (centred), trained", t.diag_mean));
    }
    if let Some(i) = ct.init.as_ref().and_then(|i| i.diag_centered) {
        out.push(("class template diagonal (centred), init", i.diag_mean));
    }
    if let Some(n) = a.nearest_input.first() {
        out.push((
            "nearest input max cos, mean over neurons, trained",
            n.result.trained.summary.mean,
        ));
        if let Some(i) = &n.result.init {
            out.push((
                "nearest input max cos, mean over neurons, init",
                i.summary.mean,
            ));
        }
    }
    if let Some(d) = a
        .effective_class_template
        .as_ref()
        .and_then(|e| e.diag_centered)
    {
        out.push(("effective template diagonal (centred)", d.diag_mean));
    }
    if let Some(s) = &a.span {
        out.push((
            "fraction of ΔW outside the inputs' span",
            s.outside_fraction,
        ));
    }
    out
}

/// Data set, model and optimiser: the runs that differ only by seed.
type GroupKey = (String, String, String);
/// One run's summarised figures, by name.
pub type RunFigures = Vec<(&'static str, f64)>;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Group {
    pub dataset: String,
    pub model: String,
    pub optimizer: String,
    pub seeds: Vec<u64>,
    pub figures: BTreeMap<String, Stat>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub cells: Vec<Cell>,
    pub groups: Vec<Group>,
    /// Combinations without a result yet (only in a summary asked for with `--summarize`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<Cell>,
    /// Combinations whose run stopped with an error.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed: Vec<FailedCell>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailedCell {
    pub cell: Cell,
    pub error: String,
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
    pub const WHOLE: Shard = Shard { index: 1, count: 1 };

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
pub struct SweepRequest<'a> {
    pub path: &'a Path,
    pub out: Option<PathBuf>,
    pub shard: Shard,
    /// Only gather the finished runs into the summary; train nothing.
    pub summarize_only: bool,
}

/// Where one combination stands, read from its run folder.
#[derive(Debug, Clone, PartialEq)]
pub enum CellState {
    Done(Box<(Metrics, Analysis)>),
    /// It stopped with this error (`error.txt`).
    Failed(String),
    Missing,
}

pub use crate::artifacts::ERROR_FILE;

fn cell_state(cell: &Cell) -> CellState {
    let Ok(dir) = RunDir::open(&cell.dir) else {
        return CellState::Missing;
    };
    // report.html is the last file a run writes: without it the run was stopped part-way
    // through its analysis, however whole its metrics are.
    let finished = dir.file(crate::report::REPORT_FILE).is_file();
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
pub fn run_sweep(request: &SweepRequest<'_>, progress: &mut Progress) -> Result<SweepOutcome> {
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
        report = run_shard(&runs, request.shard, progress)?;
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
) -> Result<ShardReport> {
    let mut report = ShardReport::default();
    let worker = shard.to_string();
    let mine: Vec<&(Config, Cell)> = runs
        .iter()
        .enumerate()
        .filter(|(i, _)| shard.owns(*i))
        .map(|(_, r)| r)
        .collect();
    for (n, (config, cell)) in mine.iter().enumerate() {
        let name = format!(
            "{} {} {} seed {}",
            cell.dataset, cell.model, cell.optimizer, cell.seed
        );
        let step = if shard.count > 1 {
            format!("{shard} run {}/{}", n + 1, mine.len())
        } else {
            format!("sweep run {}/{}", n + 1, mine.len())
        };
        if matches!(cell_state(cell), CellState::Done(_)) {
            progress.message(&format!("{step}: {name}: already done"));
            report.already_done.push(cell.dir.clone());
            continue;
        }
        let claim = match crate::claim::try_claim(&cell.dir, &worker)? {
            crate::claim::Attempt::Claimed(claim) => claim,
            crate::claim::Attempt::HeldBy(owner) => {
                progress.message(&format!(
                    "{step}: {name}: being trained by {owner}, skipped"
                ));
                report
                    .held_by_others
                    .push((cell.dir.clone(), owner.to_string()));
                continue;
            }
        };
        // Another worker may have finished it between our check and our claim.
        if matches!(cell_state(cell), CellState::Done(_)) {
            progress.message(&format!("{step}: {name}: already done"));
            report.already_done.push(cell.dir.clone());
            claim.release();
            continue;
        }
        progress.message(&format!("{step}: {name}: training"));
        let result = run_training(
            config,
            Some(cell.dir.clone()),
            true,
            &mut Progress::silent(),
        );
        if result.is_err() && crate::interrupt::requested() {
            // Stopped from outside, not failed: give the run back for the next worker.
            claim.release();
            bail!(
                "interrupted while training {name}; finished runs are kept: run the same \
                 command again to continue"
            );
        }
        let error_file = cell.dir.join(ERROR_FILE);
        match result {
            Ok(_) => {
                let _ = std::fs::remove_file(&error_file);
                report.trained.push(cell.dir.clone());
            }
            Err(e) => {
                let line = format!("{e:#}").replace('\n', " ");
                progress.warn(&format!("{step}: {name}: failed: {line}"));
                write_atomic(&error_file, format!("{line}\n").as_bytes())?;
                report.failed.push((cell.dir.clone(), line));
            }
        }
        if !claim.still_held() {
            progress.warn(&format!(
                "warning: {name} was taken over by another worker while {worker} trained it; \
                 both may have trained it"
            ));
            report.trained_twice.push(cell.dir.clone());
        }
        claim.release();
    }
    Ok(report)
}

/// Mean and spread over seeds of every finished combination, grouped by data set, model and
/// optimiser in the order the sweep file lists them (not alphabetically: mlp-16 before
/// mlp-128).
pub fn summarize(cells: &[Cell], states: &[CellState]) -> Summary {
    let mut rows: Vec<(GroupKey, Vec<(u64, RunFigures)>)> = Vec::new();
    let mut failed = Vec::new();
    let mut missing = Vec::new();
    for (cell, state) in cells.iter().zip(states) {
        let (metrics, analysis) = match state {
            CellState::Done(done) => (&done.0, &done.1),
            CellState::Failed(error) => {
                failed.push(FailedCell {
                    cell: cell.clone(),
                    error: error.clone(),
                });
                continue;
            }
            CellState::Missing => {
                missing.push(cell.clone());
                continue;
            }
        };
        let key = (
            cell.dataset.clone(),
            cell.model.clone(),
            cell.optimizer.clone(),
        );
        let run = (cell.seed, figures(metrics.test.accuracy, analysis));
        match rows.iter_mut().find(|(k, _)| *k == key) {
            Some((_, runs)) => runs.push(run),
            None => rows.push((key, vec![run])),
        }
    }
    let groups = rows
        .into_iter()
        .map(|((dataset, model, optimizer), runs)| {
            let mut by_name: BTreeMap<String, Vec<f64>> = BTreeMap::new();
            for (_, figs) in &runs {
                for (name, v) in figs {
                    by_name.entry((*name).into()).or_default().push(*v);
                }
            }
            Group {
                dataset,
                model,
                optimizer,
                seeds: runs.iter().map(|r| r.0).collect(),
                figures: by_name
                    .into_iter()
                    .filter_map(|(k, v)| Some((k, stat(&v)?)))
                    .collect(),
            }
        })
        .collect();
    Summary {
        cells: cells.to_vec(),
        groups,
        missing,
        failed,
    }
}

fn write_summary(root: &RunDir, summary: &Summary) -> Result<()> {
    root.write_json(SUMMARY_JSON, summary)?;
    write_atomic(&root.file(SUMMARY_MD), summary.markdown().as_bytes())?;
    let reference = Path::new(crate::pipeline::REFERENCE_DIR).join("results");
    let tensorflow = if reference.is_dir() {
        Some(crate::compare::load_reference(&reference)?)
    } else {
        None
    };
    crate::report::write_sweep_report(root, summary, tensorflow.as_deref())
}

impl Summary {
    /// Every figure any group has, each once, in the order the groups first name them.
    pub fn figure_names(&self) -> Vec<&String> {
        let mut names: Vec<&String> = Vec::new();
        for g in &self.groups {
            for k in g.figures.keys() {
                if !names.contains(&k) {
                    names.push(k);
                }
            }
        }
        names
    }

    pub fn markdown(&self) -> String {
        let names = self.figure_names();
        let mut out = String::from("| figure |");
        for g in &self.groups {
            let _ = write!(out, " {} {} {} |", g.dataset, g.model, g.optimizer);
        }
        out.push_str("\n| --- |");
        out.push_str(&" ---: |".repeat(self.groups.len()));
        out.push('\n');
        for name in names {
            let _ = write!(out, "| {name} |");
            for g in &self.groups {
                match g.figures.get(name) {
                    Some(s) => {
                        let _ = write!(out, " {s} |");
                    }
                    None => out.push_str(" |"),
                }
            }
            out.push('\n');
        }
        let seeds = self.groups.first().map_or(0, |g| g.seeds.len());
        let _ = writeln!(out, "\nMean ± standard deviation over {seeds} seeds.");
        if !self.missing.is_empty() || !self.failed.is_empty() {
            let _ = writeln!(
                out,
                "\n**Incomplete**: {} of {} combinations have no result yet, {} failed.",
                self.missing.len(),
                self.cells.len(),
                self.failed.len()
            );
            for c in &self.missing {
                let _ = writeln!(out, "- missing: {}", c.dir.display());
            }
            for f in &self.failed {
                let _ = writeln!(out, "- failed: {}: {}", f.cell.dir.display(), f.error);
            }
        }
        out
    }
}
