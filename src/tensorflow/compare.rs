//! weightscope against TensorFlow: accuracies, losses and every analysis figure, with
//! TensorFlow's spread over its seeds. Figures are read from typed `Analysis` values on both
//! sides, so a renamed field fails to compile instead of dropping a row.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use super::neurons::NeuronComparison;
use super::{ReferenceModel, ReferenceRun};
use crate::analysis::linalg::Summary;
use crate::analysis::results::Analysis;
use crate::analysis::templates::{ClassTemplate, Diagonal};
use crate::core::metrics::{EpochMetrics, Metrics};
use crate::core::model_kind::ModelKind;
use crate::core::weights::layer_name;

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

/// How one analysis figure is read from an `Analysis`, ours or TensorFlow's.
type Reader = Box<dyn Fn(&Analysis) -> Option<f64>>;

/// A figure's name, how to read it from its part of the analysis, and its tolerance.
type FigureOf<T, V> = (&'static str, fn(&T) -> V, f64);

/// The class-template figures compared, for the trained and the initial weights alike.
const TEMPLATE_FIGURES: [FigureOf<ClassTemplate, Option<f64>>; 6] = [
    ("diag_mean", |t| t.diag.map(|d| d.diag_mean), COSINE_TOL),
    (
        "centred diag_mean",
        |t| t.diag_centered.map(|d| d.diag_mean),
        COSINE_TOL,
    ),
    (
        "offdiag_mean",
        |t| t.diag.map(|d| d.offdiag_mean),
        COSINE_TOL,
    ),
    (
        "centred offdiag_mean",
        |t| t.diag_centered.map(|d| d.offdiag_mean),
        COSINE_TOL,
    ),
    (
        "rows_diag_max",
        |t| t.diag.map(|d| d.rows_diag_max as f64),
        COUNT_TOL,
    ),
    (
        "best_match_mean_centered",
        |t| Some(t.best_match_mean_centered),
        COSINE_TOL,
    ),
];

/// The nearest-input summary figures compared.
const NEAREST_FIGURES: [FigureOf<Summary, f64>; 4] = [
    ("mean", |s| s.mean, COSINE_TOL),
    ("median", |s| s.median, COSINE_TOL),
    ("min", |s| s.min, COSINE_TOL),
    ("max", |s| s.max, COSINE_TOL),
];

/// The effective-template figures compared.
const EFFECTIVE_FIGURES: [FigureOf<Diagonal, f64>; 3] = [
    ("diag_mean", |d| d.diag_mean, COSINE_TOL),
    ("offdiag_mean", |d| d.offdiag_mean, COSINE_TOL),
    ("rows_diag_max", |d| d.rows_diag_max as f64, COUNT_TOL),
];

/// The analysis figures compared, with the tolerance of each.
fn analysis_figures(ours: &Analysis) -> Vec<(String, Reader, f64)> {
    let mut out: Vec<(String, Reader, f64)> = Vec::new();
    let layers = ours.probe.layers.len();
    for l in 0..layers {
        let name = layer_name(layers, l);
        out.push((
            format!("probe, {name}, cos_trained"),
            Box::new(move |a| a.probe.layers.get(l).map(|w| w.cos_trained)),
            COSINE_TOL,
        ));
        out.push((
            format!("probe, {name}, cos_init"),
            Box::new(move |a| a.probe.layers.get(l)?.cos_init),
            COSINE_TOL,
        ));
    }
    for init in [false, true] {
        let which = if init { "init" } else { "trained" };
        for (key, read, tol) in TEMPLATE_FIGURES {
            let reader: Reader = Box::new(move |a| {
                let ct = &a.class_template;
                read(if init { ct.init.as_ref()? } else { &ct.trained })
            });
            out.push((format!("class template {which} {key}"), reader, tol));
        }
    }
    for l in 0..ours.nearest_input.len() {
        let name = layer_name(layers, l);
        for init in [false, true] {
            let which = if init { "init" } else { "trained" };
            for (key, read, tol) in NEAREST_FIGURES {
                let reader: Reader = Box::new(move |a| {
                    let n = &a.nearest_input.get(l)?.result;
                    Some(read(
                        &(if init { n.init.as_ref()? } else { &n.trained }).summary,
                    ))
                });
                out.push((format!("nearest input, {name}, {which} {key}"), reader, tol));
            }
        }
    }
    for (key, read, tol) in EFFECTIVE_FIGURES {
        let reader: Reader = Box::new(move |a| {
            a.effective_class_template
                .as_ref()?
                .diag_centered
                .as_ref()
                .map(read)
        });
        out.push((
            format!("effective templates diag_centered.{key}"),
            reader,
            tol,
        ));
    }
    out
}

pub struct Comparison {
    /// Largest relative difference between weightscope's per-epoch training loss and
    /// TensorFlow's mean, and the epoch where it occurs.
    pub max_relative_loss_gap: (f64, usize),
    pub model: String,
    pub seeds: Vec<u64>,
    pub tensorflow: String,
    pub rows: Vec<Row>,
    pub curves: Vec<Curve>,
    /// The run's neurons against TensorFlow's, where its weights are at hand.
    pub neurons: Option<NeuronComparison>,
}

/// A labelled curve of (epoch, loss) points.
pub type Curve = (String, Vec<(f64, f64)>);

/// A row, where weightscope has the figure and TensorFlow's runs have it too.
fn row(name: String, ours: f64, theirs: Vec<f64>, tolerance: f64) -> Option<Row> {
    (ours.is_finite() && !theirs.is_empty()).then_some(Row {
        name,
        ours,
        theirs,
        tolerance,
    })
}

/// Test and final-epoch figures.
fn outcome_rows(metrics: &Metrics, refs: &[&ReferenceModel]) -> Result<Vec<Row>> {
    let last = metrics.epochs.last().context("the run has no epochs")?;
    let final_of = |f: fn(&EpochMetrics) -> Option<f64>| -> Vec<f64> {
        refs.iter()
            .filter_map(|r| r.epochs.last().and_then(f))
            .collect()
    };
    let nan = f64::NAN;
    let rows = [
        (
            "test accuracy",
            metrics.test.accuracy,
            refs.iter().map(|r| r.test.accuracy).collect(),
            ACCURACY_TOL,
        ),
        (
            "test loss",
            metrics.test.loss,
            refs.iter().map(|r| r.test.loss).collect(),
            LOSS_TOL,
        ),
        (
            "final train accuracy",
            last.accuracy,
            final_of(|e| Some(e.accuracy)),
            ACCURACY_TOL,
        ),
        (
            "final train loss",
            last.loss,
            final_of(|e| Some(e.loss)),
            LOSS_TOL,
        ),
        (
            "final val accuracy",
            last.val_accuracy.unwrap_or(nan),
            final_of(|e| e.val_accuracy),
            ACCURACY_TOL,
        ),
        (
            "final val loss",
            last.val_loss.unwrap_or(nan),
            final_of(|e| e.val_loss),
            LOSS_TOL,
        ),
    ];
    Ok(rows
        .into_iter()
        .filter_map(|(name, ours, theirs, tol)| row(name.into(), ours, theirs, tol))
        .collect())
}

/// One row per epoch's training loss, and the largest relative gap from TensorFlow's mean
/// with the epoch where it occurs.
fn epoch_rows(metrics: &Metrics, refs: &[&ReferenceModel]) -> (Vec<Row>, (f64, usize)) {
    let mut gap = (0.0, 0);
    let mut rows = Vec::new();
    for m in &metrics.epochs {
        let theirs: Vec<f64> = refs
            .iter()
            .filter_map(|r| r.epochs.get(m.epoch - 1).map(|e| e.loss))
            .collect();
        let name = format!("epoch {} train loss", m.epoch);
        let Some(r) = row(name, m.loss, theirs, LOSS_TOL) else {
            continue;
        };
        let relative = ((r.ours - r.mean()) / r.mean()).abs();
        if relative > gap.0 {
            gap = (relative, m.epoch);
        }
        rows.push(r);
    }
    (rows, gap)
}

fn analysis_rows(ours: &Analysis, refs: &[&ReferenceModel]) -> Vec<Row> {
    analysis_figures(ours)
        .into_iter()
        .filter_map(|(name, read, tol)| {
            // A figure our run lacks (no baseline, no effective templates) has no row.
            let value = read(ours)?;
            let theirs: Vec<f64> = refs.iter().filter_map(|r| read(&r.analysis)).collect();
            row(name, value, theirs, tol)
        })
        .collect()
}

/// The training-loss curves: weightscope's, then each TensorFlow seed's.
fn loss_curves(metrics: &Metrics, reference: &[ReferenceRun], model: ModelKind) -> Vec<Curve> {
    let curve = |epochs: &[EpochMetrics]| epochs.iter().map(|e| (e.epoch as f64, e.loss)).collect();
    let mut curves = vec![(
        format!("weightscope ({})", metrics.backend),
        curve(&metrics.epochs),
    )];
    for r in reference {
        if let Some(m) = r.model(model) {
            curves.push((format!("TensorFlow seed {}", r.seed), curve(&m.epochs)));
        }
    }
    curves
}

/// Builds the table for a finished run against the reference results.
pub fn compare(
    metrics: &Metrics,
    ours: &Analysis,
    reference: &[ReferenceRun],
) -> Result<Comparison> {
    let Some(model) = ModelKind::article(&metrics.layers) else {
        bail!(
            "TensorFlow's reference results cover the article's SLP 784-10 and MLP 784-128-10, \
             not an {}: compare such a run with `weightscope analyze` figures instead",
            metrics.model
        );
    };
    let refs: Vec<&ReferenceModel> = reference.iter().filter_map(|r| r.model(model)).collect();
    if refs.is_empty() {
        bail!(
            "the TensorFlow results hold no {} model: run the reference script for it",
            model.title()
        );
    }
    let mut rows = outcome_rows(metrics, &refs)?;
    let (epochs, max_relative_loss_gap) = epoch_rows(metrics, &refs);
    rows.extend(epochs);
    rows.extend(analysis_rows(ours, &refs));
    Ok(Comparison {
        max_relative_loss_gap,
        model: metrics.model.clone(),
        seeds: reference
            .iter()
            .filter(|r| r.model(model).is_some())
            .map(|r| r.seed)
            .collect(),
        tensorflow: reference[0].tensorflow.clone(),
        rows,
        curves: loss_curves(metrics, reference, model),
        neurons: None,
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
        if let Some(neurons) = &self.neurons {
            out.push_str(&neurons.markdown());
        }
        out
    }
}
