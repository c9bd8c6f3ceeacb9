//! weightscope against TensorFlow: a side-by-side table of accuracies, losses and every
//! analysis figure, with TensorFlow's spread over its seeds.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use serde_json::Value;

use crate::artifacts::{ANALYSIS_FILE, METRICS_FILE, Metrics, RunDir, write_atomic};
use crate::model::layer_name;
use crate::plot::{self, Figure, LineChart, PlotResult, Series};
use crate::train::{EpochMetrics, Evaluation};

pub use crate::artifacts::COMPARISON_FILE;

/// One model of one seed in the reference script's `results/seed-N.json`.
#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceModel {
    pub epochs: Vec<EpochMetrics>,
    pub test: Evaluation,
    pub train_seconds: f64,
    pub analysis: Value,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ReferenceRun {
    pub seed: u64,
    pub shuffle: bool,
    pub tensorflow: String,
    pub slp: Option<ReferenceModel>,
    pub mlp: Option<ReferenceModel>,
}

impl ReferenceRun {
    pub fn model(&self, mlp: bool) -> Option<&ReferenceModel> {
        if mlp {
            self.mlp.as_ref()
        } else {
            self.slp.as_ref()
        }
    }
}

/// Every `seed-*.json` in `dir`, sorted by seed.
pub fn load_reference(dir: &Path) -> Result<Vec<ReferenceRun>> {
    let entries = std::fs::read_dir(dir).with_context(|| {
        format!(
            "cannot read TensorFlow results in {}: pass --reference, or run \
             reference/tensorflow/reference.py",
            dir.display()
        )
    })?;
    let mut runs = Vec::new();
    for entry in entries {
        let path = entry?.path();
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        if name.starts_with("seed-") && name.ends_with(".json") {
            let text = std::fs::read_to_string(&path)
                .with_context(|| format!("cannot read {}", path.display()))?;
            let run: ReferenceRun = serde_json::from_str(&text)
                .with_context(|| format!("{} is not a reference result file", path.display()))?;
            runs.push(run);
        }
    }
    if runs.is_empty() {
        bail!(
            "no seed-*.json in {}: run reference/tensorflow/reference.py first",
            dir.display()
        );
    }
    runs.sort_by_key(|r| r.seed);
    Ok(runs)
}

/// A figure compared: weightscope's value against TensorFlow's seeds.
#[derive(Debug, Clone)]
pub struct Row {
    pub name: String,
    pub ours: f64,
    pub theirs: Vec<f64>,
    /// How far outside TensorFlow's min..max weightscope may fall and still agree.
    pub tolerance: f64,
}

impl Row {
    pub fn mean(&self) -> f64 {
        self.theirs.iter().sum::<f64>() / self.theirs.len() as f64
    }

    pub fn range(&self) -> (f64, f64) {
        let lo = self.theirs.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = self
            .theirs
            .iter()
            .copied()
            .fold(f64::NEG_INFINITY, f64::max);
        (lo, hi)
    }

    pub fn agrees(&self) -> bool {
        let (lo, hi) = self.range();
        self.ours >= lo - self.tolerance && self.ours <= hi + self.tolerance
    }
}

/// Tolerances, stated once: accuracy within 0.3 percentage points of TensorFlow's range,
/// losses within 0.02, cosine figures within 0.02, counts of diagonal rows within 1.
const ACCURACY_TOL: f64 = 0.003;
const LOSS_TOL: f64 = 0.02;
const COSINE_TOL: f64 = 0.02;
const COUNT_TOL: f64 = 1.0;

fn get(v: &Value, path: &[&str]) -> Option<f64> {
    let mut cur = v;
    for key in path {
        cur = match key.parse::<usize>() {
            Ok(i) => cur.get(i)?,
            Err(_) => cur.get(key)?,
        };
    }
    cur.as_f64()
}

/// The analysis figures compared, as paths into `analysis.json`.
fn analysis_paths(ours: &Value) -> Vec<(String, Vec<String>, f64)> {
    let mut paths: Vec<(String, Vec<String>, f64)> = Vec::new();
    let p = |s: &str| s.split('.').map(String::from).collect::<Vec<_>>();
    let layers = ours["probe"]["layers"].as_array().map_or(0, Vec::len);
    for l in 0..layers {
        for which in ["cos_trained", "cos_init"] {
            paths.push((
                format!("probe, {}, {which}", layer_name(layers, l)),
                p(&format!("probe.layers.{l}.{which}")),
                COSINE_TOL,
            ));
        }
    }
    for which in ["trained", "init"] {
        for key in ["diag_mean", "offdiag_mean"] {
            paths.push((
                format!("class template {which} {key}"),
                p(&format!("class_template.{which}.{key}")),
                COSINE_TOL,
            ));
            paths.push((
                format!("class template {which} centred {key}"),
                p(&format!("class_template.{which}.diag_centered.{key}")),
                COSINE_TOL,
            ));
        }
        paths.push((
            format!("class template {which} rows_diag_max"),
            p(&format!("class_template.{which}.rows_diag_max")),
            COUNT_TOL,
        ));
        paths.push((
            format!("class template {which} best_match_mean_centered"),
            p(&format!("class_template.{which}.best_match_mean_centered")),
            COSINE_TOL,
        ));
    }
    let nearest = ours["nearest_input"].as_array().map_or(0, Vec::len);
    for l in 0..nearest {
        for which in ["trained", "init"] {
            for key in ["mean", "median", "min", "max"] {
                paths.push((
                    format!("nearest input, {}, {which} {key}", layer_name(layers, l)),
                    p(&format!("nearest_input.{l}.{which}.{key}")),
                    COSINE_TOL,
                ));
            }
        }
    }
    for key in [
        "diag_centered.diag_mean",
        "diag_centered.offdiag_mean",
        "diag_centered.rows_diag_max",
    ] {
        let tol = if key.ends_with("rows_diag_max") {
            COUNT_TOL
        } else {
            COSINE_TOL
        };
        paths.push((
            format!("effective templates {key}"),
            p(&format!("effective_class_template.{key}")),
            tol,
        ));
    }
    paths
}

pub struct Comparison {
    /// Largest relative difference between weightscope's per-epoch training loss and
    /// TensorFlow's mean, and the epoch where it occurs.
    pub max_relative_loss_gap: (f64, usize),
    pub model: String,
    pub seeds: Vec<u64>,
    pub tensorflow: String,
    pub rows: Vec<Row>,
    pub curves: Vec<(String, Vec<(f64, f64)>)>,
}

/// Builds the table for a run folder against the reference results.
pub fn compare(run: &RunDir, reference: &[ReferenceRun]) -> Result<Comparison> {
    let metrics: Metrics = run.read_json(METRICS_FILE)?;
    let ours: Value = run.read_json(ANALYSIS_FILE)?;
    let mlp = metrics.layers.len() > 2;
    let refs: Vec<&ReferenceModel> = reference.iter().filter_map(|r| r.model(mlp)).collect();
    if refs.is_empty() {
        bail!(
            "the TensorFlow results hold no {} model: run the reference script for it",
            if mlp { "MLP" } else { "SLP" }
        );
    }
    let last = |m: &[EpochMetrics]| m.last().cloned();
    let ours_last = last(&metrics.epochs).context("the run has no epochs")?;
    let mut rows = Vec::new();
    let mut push = |name: &str, ours: f64, theirs: Vec<f64>, tolerance: f64| {
        if ours.is_finite() && !theirs.is_empty() {
            rows.push(Row {
                name: name.into(),
                ours,
                theirs,
                tolerance,
            });
        }
    };
    let final_of = |f: fn(&EpochMetrics) -> Option<f64>| -> Vec<f64> {
        refs.iter()
            .filter_map(|r| r.epochs.last().and_then(f))
            .collect()
    };
    push(
        "test accuracy",
        metrics.test.accuracy,
        refs.iter().map(|r| r.test.accuracy).collect(),
        ACCURACY_TOL,
    );
    push(
        "test loss",
        metrics.test.loss,
        refs.iter().map(|r| r.test.loss).collect(),
        LOSS_TOL,
    );
    push(
        "final train accuracy",
        ours_last.accuracy,
        final_of(|e| Some(e.accuracy)),
        ACCURACY_TOL,
    );
    push(
        "final train loss",
        ours_last.loss,
        final_of(|e| Some(e.loss)),
        LOSS_TOL,
    );
    push(
        "final val accuracy",
        ours_last.val_accuracy.unwrap_or(f64::NAN),
        final_of(|e| e.val_accuracy),
        ACCURACY_TOL,
    );
    push(
        "final val loss",
        ours_last.val_loss.unwrap_or(f64::NAN),
        final_of(|e| e.val_loss),
        LOSS_TOL,
    );
    for m in &metrics.epochs {
        let theirs: Vec<f64> = refs
            .iter()
            .filter_map(|r| r.epochs.get(m.epoch - 1).map(|e| e.loss))
            .collect();
        push(
            &format!("epoch {} train loss", m.epoch),
            m.loss,
            theirs,
            LOSS_TOL,
        );
    }
    for (name, path, tol) in analysis_paths(&ours) {
        let path: Vec<&str> = path.iter().map(String::as_str).collect();
        let Some(value) = get(&ours, &path) else {
            continue;
        };
        let theirs: Vec<f64> = refs
            .iter()
            .filter_map(|r| get(&r.analysis, &path))
            .collect();
        push(&name, value, theirs, tol);
    }
    let mut curves = vec![(
        format!("weightscope ({})", metrics.backend),
        metrics
            .epochs
            .iter()
            .map(|e| (e.epoch as f64, e.loss))
            .collect(),
    )];
    for (r, m) in reference.iter().zip(reference.iter().map(|r| r.model(mlp))) {
        if let Some(m) = m {
            curves.push((
                format!("TensorFlow seed {}", r.seed),
                m.epochs.iter().map(|e| (e.epoch as f64, e.loss)).collect(),
            ));
        }
    }
    let max_relative_loss_gap = rows
        .iter()
        .filter_map(|r| {
            let epoch: usize = r
                .name
                .strip_prefix("epoch ")?
                .strip_suffix(" train loss")?
                .parse()
                .ok()?;
            Some((((r.ours - r.mean()) / r.mean()).abs(), epoch))
        })
        .fold((0.0, 0), |a, b| if b.0 > a.0 { b } else { a });
    Ok(Comparison {
        max_relative_loss_gap,
        model: metrics.model.clone(),
        seeds: reference
            .iter()
            .filter(|r| r.model(mlp).is_some())
            .map(|r| r.seed)
            .collect(),
        tensorflow: reference[0].tensorflow.clone(),
        rows,
        curves,
    })
}

impl Comparison {
    /// The table as Markdown (the terminal shows the same text).
    pub fn markdown(&self) -> String {
        let agree = self.rows.iter().filter(|r| r.agrees()).count();
        let mut out = format!(
            "# {} against TensorFlow {}\n\nTensorFlow seeds: {:?}. A figure agrees when weightscope's \
             value lies within TensorFlow's min..max widened by the tolerance (accuracy \
             {ACCURACY_TOL}, loss {LOSS_TOL}, cosine {COSINE_TOL}, row count {COUNT_TOL}).\n\n\
             **{agree} of {} figures agree.** Largest relative difference of the per-epoch \
             training loss from TensorFlow's mean: {:.2e} (epoch {}).\n\n",
            self.model,
            self.tensorflow,
            self.seeds,
            self.rows.len(),
            self.max_relative_loss_gap.0,
            self.max_relative_loss_gap.1
        );
        out.push_str("| figure | weightscope | TensorFlow mean | TensorFlow min..max | tolerance | agrees |\n");
        out.push_str("| --- | ---: | ---: | ---: | ---: | :---: |\n");
        for r in &self.rows {
            let (lo, hi) = r.range();
            let _ = writeln!(
                out,
                "| {} | {:.4} | {:.4} | {:.4}..{:.4} | {} | {} |",
                r.name,
                r.ours,
                r.mean(),
                lo,
                hi,
                r.tolerance,
                if r.agrees() { "yes" } else { "**no**" }
            );
        }
        out
    }

    pub fn loss_chart(&self) -> LossFigure<'_> {
        LossFigure { comparison: self }
    }
}

pub struct LossFigure<'a> {
    comparison: &'a Comparison,
}

impl Figure for LossFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 560)
    }

    fn draw<DB: plotters::prelude::DrawingBackend>(
        &self,
        root: &plotters::prelude::DrawingArea<DB, plotters::coord::Shift>,
    ) -> PlotResult {
        use plotters::prelude::*;
        let colors = [
            RGBColor(214, 39, 40),
            RGBColor(31, 119, 180),
            RGBColor(44, 160, 44),
            RGBColor(255, 127, 14),
        ];
        let series = self
            .comparison
            .curves
            .iter()
            .enumerate()
            .map(|(i, (label, points))| {
                let s = Series::new(label.clone(), points.clone(), colors[i % colors.len()]);
                if i == 0 { s } else { s.dashed() }
            })
            .collect();
        LineChart {
            title: format!(
                "{}: training loss per epoch, weightscope and TensorFlow",
                self.comparison.model
            ),
            x_label: "epoch",
            y_label: "training loss (running mean over the epoch)",
            series,
        }
        .draw(root)
    }
}

/// `compare RUN --reference DIR`: prints the table and writes `comparison.md` and the loss
/// chart into the run folder.
pub fn compare_command(run: &Path, reference: &Path) -> Result<(Comparison, Vec<PathBuf>)> {
    let dir = RunDir::open(run)?;
    let config = dir.read_config()?;
    // A lockstep run (TensorFlow's initial weights, no shuffling) is compared with the
    // reference script's lockstep results, everything else with its ordinary runs.
    let lockstep = config.init.keras_weights.is_some() && !config.training.shuffle;
    let sub = if lockstep { "lockstep" } else { "results" };
    let folder = if reference.join(sub).is_dir() {
        reference.join(sub)
    } else {
        reference.to_path_buf()
    };
    let refs: Vec<ReferenceRun> = load_reference(&folder)?
        .into_iter()
        .filter(|r| r.shuffle != lockstep)
        .collect();
    if refs.is_empty() {
        bail!(
            "{} holds no {} TensorFlow results: run reference/tensorflow/reference.py{}",
            folder.display(),
            if lockstep { "lockstep" } else { "shuffled" },
            if lockstep {
                " --no-shuffle --init-from weights --out lockstep"
            } else {
                ""
            }
        );
    }
    let comparison = compare(&dir, &refs)?;
    let md_path = dir.file(COMPARISON_FILE);
    write_atomic(&md_path, comparison.markdown().as_bytes())?;
    let figures = dir.subdir(crate::artifacts::FIGURES_DIR)?;
    let mut files = vec![md_path];
    files.extend(plot::save(
        &comparison.loss_chart(),
        &figures,
        "loss_vs_tensorflow",
    )?);
    Ok((comparison, files))
}
