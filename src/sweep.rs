//! Many runs in one command: seeds x models x optimisers x data sets, with a summary of mean
//! and spread over seeds for test accuracy and every similarity figure.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, Serialize};

use crate::analysis::pass::Analysis;
use crate::artifacts::{RunDir, write_atomic};
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
        ("probe cos, first layer, init", a.probe.layers[0].cos_init),
        (
            "class template best match (centred), trained",
            ct.trained.best_match_mean_centered,
        ),
        (
            "class template best match (centred), init",
            ct.init.best_match_mean_centered,
        ),
    ];
    if let (Some(t), Some(i)) = (ct.trained.diag_centered, ct.init.diag_centered) {
        out.push(("class template diagonal (centred), trained", t.diag_mean));
        out.push(("class template diagonal (centred), init", i.diag_mean));
    }
    if let Some(n) = a.nearest_input.first() {
        out.push((
            "nearest input max cos, mean over neurons, trained",
            n.result.trained.summary.mean,
        ));
        out.push((
            "nearest input max cos, mean over neurons, init",
            n.result.init.summary.mean,
        ));
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
}

/// Runs every configuration (skipping those already finished in `out`) and summarises them.
pub fn run_sweep(path: &Path, out: Option<PathBuf>, progress: &mut Progress) -> Result<Summary> {
    let (base, spec) = load(path)?;
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&base.name));
    let root = RunDir::prepare(&out)?;
    let runs = plan(&base, &spec, root.path());
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
    // Groups in the order the sweep file lists them, not alphabetically (mlp-16 before mlp-128).
    let mut rows: Vec<(GroupKey, Vec<(u64, RunFigures)>)> = Vec::new();
    for (i, (config, cell)) in runs.iter().enumerate() {
        progress.message(&format!(
            "sweep run {}/{}: {} {} {} seed {}",
            i + 1,
            runs.len(),
            cell.dataset,
            cell.model,
            cell.optimizer,
            cell.seed
        ));
        let done = RunDir::open(&cell.dir).ok().and_then(|d| {
            Some((
                d.read_json::<crate::artifacts::Metrics>("metrics.json")
                    .ok()?,
                d.read_json::<Analysis>("analysis.json").ok()?,
            ))
        });
        let (metrics, analysis) = match done {
            Some(found) => found,
            None => {
                let run = run_training(
                    config,
                    Some(cell.dir.clone()),
                    true,
                    &mut Progress::silent(),
                )
                .with_context(|| format!("sweep run {} failed", cell.dir.display()))?;
                (run.metrics, run.analysis.expect("analysis was requested"))
            }
        };
        let key = (
            cell.dataset.clone(),
            cell.model.clone(),
            cell.optimizer.clone(),
        );
        let run = (cell.seed, figures(metrics.test.accuracy, &analysis));
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
    let summary = Summary {
        cells: runs.into_iter().map(|(_, c)| c).collect(),
        groups,
    };
    root.write_json(SUMMARY_JSON, &summary)?;
    write_atomic(&root.file(SUMMARY_MD), summary.markdown().as_bytes())?;
    let reference = Path::new(crate::pipeline::REFERENCE_DIR).join("results");
    let tensorflow = if reference.is_dir() {
        Some(crate::compare::load_reference(&reference)?)
    } else {
        None
    };
    crate::report::write_sweep_report(&root, &summary, tensorflow.as_deref())?;
    Ok(summary)
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
        out
    }
}
