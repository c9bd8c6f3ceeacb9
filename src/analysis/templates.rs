//! Figures 2 and 4: class templates. How each neuron of the first layer compares with the mean
//! image of each class, and what the whole network matches each class against.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use super::class_means::ClassMeans;
use super::forward::{images_matrix, kernel, pre_activations};
use super::linalg::{Matrix, argmax, cosine};
use crate::core::config::Activation;
use crate::core::data::{ImageSet, Label};
use crate::core::weights::LayerWeights;

/// Mean image of each class (`classes x pixels`) and of the whole set.
pub fn class_means(set: &ImageSet) -> (Matrix, Vec<f32>) {
    class_means_of_rows(set.len(), set.pixels(), |i| set.image(i), &set.labels)
}

/// Mean row of each class (`classes x cols`) and of all rows: a layer's inputs over a set.
pub fn class_means_of(inputs: &Matrix, labels: &[Label]) -> (Matrix, Vec<f32>) {
    class_means_of_rows(inputs.rows, inputs.cols, |r| inputs.row(r).into(), labels)
}

fn class_means_of_rows<'a>(
    rows: usize,
    p: usize,
    row: impl Fn(usize) -> Cow<'a, [f32]> + Sync,
    labels: &[Label],
) -> (Matrix, Vec<f32>) {
    let class = ClassMeans::of(rows, p, row, labels);
    let per_class = class
        .per_class
        .iter()
        .flatten()
        .map(|&m| m as f32)
        .collect();
    let means = Matrix::new(class.per_class.len(), p, per_class);
    (means, class.global.iter().map(|&g| g as f32).collect())
}

/// Diagonal statistics of a square cosine matrix.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Diagonal {
    pub diag_mean: f64,
    pub offdiag_mean: f64,
    pub rows_diag_max: usize,
}

pub fn diagonal(matrix: &[Vec<f64>]) -> Option<Diagonal> {
    let n = matrix.len();
    if n < 2 || matrix.iter().any(|r| r.len() != n) {
        return None;
    }
    let diag: f64 = (0..n).map(|i| matrix[i][i]).sum();
    let total: f64 = matrix.iter().flatten().sum();
    let rows_diag_max = (0..n)
        .filter(|&i| {
            let row: Vec<f32> = matrix[i].iter().map(|&v| v as f32).collect();
            argmax(&row) == i
        })
        .count();
    Some(Diagonal {
        diag_mean: diag / n as f64,
        offdiag_mean: (total - diag) / (n * n - n) as f64,
        rows_diag_max,
    })
}

/// Figure 2: `matrix[c][k] = cos(mean image of class c, column k)`, and the same with the
/// global mean image subtracted from each class mean.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassTemplate {
    pub matrix: Vec<Vec<f64>>,
    pub matrix_centered: Vec<Vec<f64>>,
    /// `diag_mean`, `offdiag_mean` and `rows_diag_max`, present only when the layer has one
    /// neuron per class.
    #[serde(flatten)]
    pub diag: Option<Diagonal>,
    pub diag_centered: Option<Diagonal>,
    /// Mean over classes of the best-matching column's cosine (any layer width).
    pub best_match_mean: f64,
    pub best_match_mean_centered: f64,
}

fn best_match_mean(matrix: &[Vec<f64>]) -> f64 {
    let n = matrix.len().max(1) as f64;
    matrix
        .iter()
        .map(|row| row.iter().copied().fold(f64::NEG_INFINITY, f64::max))
        .sum::<f64>()
        / n
}

/// `columns` is `pixels x k`: each column a template to compare with the class means.
pub fn class_template(means: &Matrix, global: &[f32], columns: &Matrix) -> ClassTemplate {
    let cols: Vec<Vec<f32>> = (0..columns.cols).map(|k| columns.column(k)).collect();
    let table = |centered: bool| -> Vec<Vec<f64>> {
        (0..means.rows)
            .map(|c| {
                let mean: Vec<f32> = if centered {
                    means
                        .row(c)
                        .iter()
                        .zip(global)
                        .map(|(a, b)| a - b)
                        .collect()
                } else {
                    means.row(c).to_vec()
                };
                cols.iter().map(|col| cosine(&mean, col)).collect()
            })
            .collect()
    };
    let matrix = table(false);
    let matrix_centered = table(true);
    ClassTemplate {
        diag: diagonal(&matrix),
        diag_centered: diagonal(&matrix_centered),
        best_match_mean: best_match_mean(&matrix),
        best_match_mean_centered: best_match_mean(&matrix_centered),
        matrix,
        matrix_centered,
    }
}

/// Figure 4: the mean over `set`'s images of class `k` of d logit_k / d input, one row per
/// class. `None` for a single layer, whose gradient is simply its weight column.
pub fn effective_templates(
    layers: &[LayerWeights],
    activation: Activation,
    set: &ImageSet,
) -> Option<Matrix> {
    if layers.len() < 2 {
        return None;
    }
    let hidden = &layers[..layers.len() - 1];
    let pre = pre_activations(hidden, activation, &images_matrix(set));
    effective_templates_of(layers, activation, &pre, set)
}

/// [`effective_templates`] from the pre-activations `pre` of every layer but the last for
/// `set`'s images, which [`super::pixel_templates::pixel_templates_of`] reads too. A row's
/// products do not depend on the rows beside it, so each class's rows of `pre` are what a
/// pass over that class alone would give.
pub fn effective_templates_of(
    layers: &[LayerWeights],
    activation: Activation,
    pre: &[Matrix],
    set: &ImageSet,
) -> Option<Matrix> {
    if layers.len() < 2 {
        return None;
    }
    let last = layers.len() - 1;
    let classes = layers[last].d_out;
    let mut templates = Matrix::zeros(classes, set.pixels());
    let kernels_t: Vec<Matrix> = layers.iter().map(|l| kernel(l).transpose()).collect();
    for k in 0..classes {
        let members: Vec<usize> = (0..set.len())
            .filter(|&i| set.labels[i] as usize == k)
            .collect();
        if members.is_empty() {
            continue;
        }
        let z: Vec<Matrix> = pre[..last]
            .iter()
            .map(|z| z.select_rows(&members))
            .collect();
        let column = layers[last].column(k);
        let mut grad = Matrix::new(
            members.len(),
            column.len(),
            column
                .iter()
                .copied()
                .cycle()
                .take(members.len() * column.len())
                .collect(),
        );
        for l in (1..last).rev() {
            for (g, &zv) in grad.data.iter_mut().zip(&z[l].data) {
                *g *= activation.derivative(zv);
            }
            grad = grad.matmul(&kernels_t[l]);
        }
        // The last step, through the first layer's weights, is linear in the gradient: the
        // mean over the images is taken before it, so the images' gradients are never formed
        // pixel by pixel (a tenth of the work for the article's MLP).
        let first = &layers[0];
        let mut mean = vec![0f64; first.d_out];
        for (g, z) in grad
            .data
            .chunks(first.d_out)
            .zip(z[0].data.chunks(first.d_out))
        {
            for ((m, &gv), &zv) in mean.iter_mut().zip(g).zip(z) {
                *m += f64::from(gv * activation.derivative(zv));
            }
        }
        let n = members.len() as f64;
        let row = &mut templates.data[k * set.pixels()..(k + 1) * set.pixels()];
        for (p, t) in row.iter_mut().enumerate() {
            let weights = &first.weight[p * first.d_out..(p + 1) * first.d_out];
            let sum: f64 = mean
                .iter()
                .zip(weights)
                .map(|(m, &w)| m * f64::from(w))
                .sum();
            *t = (sum / n) as f32;
        }
    }
    Some(templates)
}
