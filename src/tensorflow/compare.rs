//! weightscope against TensorFlow: accuracies, losses and every analysis figure, with
//! TensorFlow's spread over its seeds. Figures are read from typed `Analysis` values on both
//! sides, so a renamed field fails to compile instead of dropping a row.

use std::fmt::Write as _;

use anyhow::{Context, Result, bail};

use super::{ReferenceModel, ReferenceRun};
use crate::analysis::pass::Analysis;
use crate::core::config::ArticleModel;
use crate::core::metrics::{EpochMetrics, Metrics};
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
        let template = move |a: &Analysis| {
            let ct = &a.class_template;
            if init {
                ct.init.clone()
            } else {
                Some(ct.trained.clone())
            }
        };
        out.push((
            format!("class template {which} diag_mean"),
            Box::new(move |a| template(a)?.diag.map(|d| d.diag_mean)),
            COSINE_TOL,
        ));
        out.push((
            format!("class template {which} centred diag_mean"),
            Box::new(move |a| template(a)?.diag_centered.map(|d| d.diag_mean)),
            COSINE_TOL,
        ));
        out.push((
            format!("class template {which} offdiag_mean"),
            Box::new(move |a| template(a)?.diag.map(|d| d.offdiag_mean)),
            COSINE_TOL,
        ));
        out.push((
            format!("class template {which} centred offdiag_mean"),
            Box::new(move |a| template(a)?.diag_centered.map(|d| d.offdiag_mean)),
            COSINE_TOL,
        ));
        out.push((
            format!("class template {which} rows_diag_max"),
            Box::new(move |a| template(a)?.diag.map(|d| d.rows_diag_max as f64)),
            COUNT_TOL,
        ));
        out.push((
            format!("class template {which} best_match_mean_centered"),
            Box::new(move |a| Some(template(a)?.best_match_mean_centered)),
            COSINE_TOL,
        ));
    }
    for l in 0..ours.nearest_input.len() {
        let name = layer_name(layers, l);
        for init in [false, true] {
            let which = if init { "init" } else { "trained" };
            let summary = move |a: &Analysis| {
                let n = &a.nearest_input.get(l)?.result;
                let n = if init { n.init.as_ref()? } else { &n.trained };
                Some(n.summary)
            };
            out.push((
                format!("nearest input, {name}, {which} mean"),
                Box::new(move |a| Some(summary(a)?.mean)),
                COSINE_TOL,
            ));
            out.push((
                format!("nearest input, {name}, {which} median"),
                Box::new(move |a| Some(summary(a)?.median)),
                COSINE_TOL,
            ));
            out.push((
                format!("nearest input, {name}, {which} min"),
                Box::new(move |a| Some(summary(a)?.min)),
                COSINE_TOL,
            ));
            out.push((
                format!("nearest input, {name}, {which} max"),
                Box::new(move |a| Some(summary(a)?.max)),
                COSINE_TOL,
            ));
        }
    }
    let effective = |a: &Analysis| a.effective_class_template.as_ref()?.diag_centered;
    out.push((
        "effective templates diag_centered.diag_mean".into(),
        Box::new(move |a| effective(a).map(|d| d.diag_mean)),
        COSINE_TOL,
    ));
    out.push((
        "effective templates diag_centered.offdiag_mean".into(),
        Box::new(move |a| effective(a).map(|d| d.offdiag_mean)),
        COSINE_TOL,
    ));
    out.push((
        "effective templates diag_centered.rows_diag_max".into(),
        Box::new(move |a| effective(a).map(|d| d.rows_diag_max as f64)),
        COUNT_TOL,
    ));
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
    pub curves: Vec<(String, Vec<(f64, f64)>)>,
}

/// Builds the table for a finished run against the reference results.
pub fn compare(
    metrics: &Metrics,
    ours: &Analysis,
    reference: &[ReferenceRun],
) -> Result<Comparison> {
    let model = if metrics.layers.len() > 2 {
        ArticleModel::Mlp
    } else {
        ArticleModel::Slp
    };
    let refs: Vec<&ReferenceModel> = reference.iter().filter_map(|r| r.model(model)).collect();
    if refs.is_empty() {
        bail!("the TensorFlow results hold no {model:?} model: run the reference script for it");
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
    let mut loss_gap = (0.0, 0);
    for m in &metrics.epochs {
        let theirs: Vec<f64> = refs
            .iter()
            .filter_map(|r| r.epochs.get(m.epoch - 1).map(|e| e.loss))
            .collect();
        if !theirs.is_empty() {
            let mean = theirs.iter().sum::<f64>() / theirs.len() as f64;
            let gap = ((m.loss - mean) / mean).abs();
            if gap > loss_gap.0 {
                loss_gap = (gap, m.epoch);
            }
        }
        push(
            &format!("epoch {} train loss", m.epoch),
            m.loss,
            theirs,
            LOSS_TOL,
        );
    }
    for (name, read, tol) in analysis_figures(ours) {
        // A figure our run lacks (no baseline, no effective templates) has no row.
        let Some(value) = read(ours) else {
            continue;
        };
        let theirs: Vec<f64> = refs.iter().filter_map(|r| read(&r.analysis)).collect();
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
    for (r, m) in reference
        .iter()
        .zip(reference.iter().map(|r| r.model(model)))
    {
        if let Some(m) = m {
            curves.push((
                format!("TensorFlow seed {}", r.seed),
                m.epochs.iter().map(|e| (e.epoch as f64, e.loss)).collect(),
            ));
        }
    }
    Ok(Comparison {
        max_relative_loss_gap: loss_gap,
        model: metrics.model.clone(),
        seeds: reference
            .iter()
            .filter(|r| r.model(model).is_some())
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
}
