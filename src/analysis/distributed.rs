//! How distributed the hidden code is: how many neurons of the last hidden layer carry most of
//! a class's evidence (n90), and how much each neuron prefers one class (class selectivity,
//! Morcos et al., ICLR 2018). Definitions in `docs/method.md`.

use crate::core::data::Label;
use serde::{Deserialize, Serialize};

use super::class_means::ClassMeans;
use super::linalg::{Matrix, summarize};
use crate::core::weights::LayerWeights;

/// Share of the positive evidence for a class that its fewest strongest neurons must carry.
const N90_SHARE: f64 = 0.9;
/// A neuron counts as selective above this index.
const SELECTIVE: f64 = 0.5;

/// Mean activation of every neuron over the rows of each class (`classes x d`).
fn class_conditional_means(h: &Matrix, labels: &[Label]) -> Vec<Vec<f64>> {
    ClassMeans::of_matrix(h, labels).per_class
}

/// n90 per class: with `a_jc` = (mean of neuron j's activation over class c) · (its weight to
/// logit c), the fewest neurons whose largest positive `a_jc` reach 90% of the class's total
/// positive contribution; 0 for a class with no positive contribution.
pub fn n90(h: &Matrix, labels: &[Label], output: &LayerWeights) -> Vec<usize> {
    let means = class_conditional_means(h, labels);
    (0..output.d_out.min(means.len()))
        .map(|c| {
            let mut positive: Vec<f64> = (0..h.cols)
                .map(|j| means[c][j] * f64::from(output.weight[j * output.d_out + c]))
                .filter(|&a| a > 0.0)
                .collect();
            positive.sort_by(|a, b| b.total_cmp(a));
            let total: f64 = positive.iter().sum();
            let mut reached = 0.0;
            positive
                .iter()
                .position(|a| {
                    reached += a;
                    reached >= N90_SHARE * total
                })
                .map_or(0, |i| i + 1)
        })
        .collect()
}

/// The class selectivity of a layer's neurons, summarised over the neurons.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Selectivity {
    pub mean: f64,
    pub median: f64,
    /// Fraction of neurons with an index above 0.5.
    pub frac_above_half: f64,
}

/// `SI_j = (μ_max − μ_rest) / (μ_max + μ_rest)` per neuron, μ_max its largest class-conditional
/// mean activation and μ_rest the mean of the other classes' (0 where both are 0).
pub fn selectivity_indices(h: &Matrix, labels: &[Label]) -> Vec<f64> {
    let means = class_conditional_means(h, labels);
    (0..h.cols)
        .map(|j| {
            let per_class: Vec<f64> = means.iter().map(|m| m[j]).collect();
            let (best, max) =
                per_class
                    .iter()
                    .copied()
                    .enumerate()
                    .fold(
                        (0, f64::NEG_INFINITY),
                        |a, (c, v)| if v > a.1 { (c, v) } else { a },
                    );
            let rest = per_class
                .iter()
                .enumerate()
                .filter(|&(c, _)| c != best)
                .map(|(_, v)| v)
                .sum::<f64>()
                / (per_class.len() - 1).max(1) as f64;
            if max + rest == 0.0 {
                0.0
            } else {
                (max - rest) / (max + rest)
            }
        })
        .collect()
}

pub fn selectivity(h: &Matrix, labels: &[Label]) -> Selectivity {
    let indices = selectivity_indices(h, labels);
    let s = summarize(&indices);
    let above = indices.iter().filter(|&&i| i > SELECTIVE).count();
    Selectivity {
        mean: s.mean,
        median: s.median,
        frac_above_half: above as f64 / indices.len().max(1) as f64,
    }
}
