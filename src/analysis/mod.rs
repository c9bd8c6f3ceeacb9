//! The analyses of `docs/method.md`, computed from weights copied to the host. Every function
//! here is pure: plain arrays in, numbers out.

pub mod linalg;
pub mod pass;
pub mod span;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::config::Activation;
use crate::data::{ImageSet, NUM_CLASSES};
use crate::model::LayerWeights;
use linalg::{Matrix, Summary, argmax, cosine, summarize};

/// Rows per block in the nearest-input search, to bound the similarity matrix's memory.
const NEAREST_BLOCK_ROWS: usize = 8192;

/// A layer's weights as a `d_in x d_out` matrix (the Keras kernel).
pub fn kernel(layer: &LayerWeights) -> Matrix {
    Matrix::new(layer.d_in, layer.d_out, layer.weight.clone())
}

pub fn images_matrix(set: &ImageSet) -> Matrix {
    Matrix::new(set.len(), set.pixels(), set.images.clone())
}

pub fn activate(activation: Activation, x: f32) -> f32 {
    match activation {
        Activation::Relu => x.max(0.0),
        Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
        Activation::Tanh => x.tanh(),
    }
}

/// Derivative of the activation at pre-activation `z`; ReLU's is taken as 0 at 0, as
/// TensorFlow does.
pub fn activate_grad(activation: Activation, z: f32) -> f32 {
    match activation {
        Activation::Relu => {
            if z > 0.0 {
                1.0
            } else {
                0.0
            }
        }
        Activation::Sigmoid => {
            let s = activate(Activation::Sigmoid, z);
            s * (1.0 - s)
        }
        Activation::Tanh => 1.0 - z.tanh().powi(2),
    }
}

/// Pre-activations `z` of every layer for a batch of inputs (rows).
pub fn pre_activations(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Vec<Matrix> {
    let mut out = Vec::with_capacity(layers.len());
    let mut input = x.clone();
    for (i, layer) in layers.iter().enumerate() {
        let mut z = input.matmul(&kernel(layer));
        z.add_row_vector(&layer.bias);
        if i + 1 < layers.len() {
            input = z.clone();
            input.map(|v| activate(activation, v));
        }
        out.push(z);
    }
    out
}

/// Every layer's input and output for a batch: `inputs[l]` feeds layer `l`, `outputs[l]` is
/// its activation (logits for the last layer).
pub struct Propagation {
    pub inputs: Vec<Matrix>,
    pub outputs: Vec<Matrix>,
}

pub fn propagate(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Propagation {
    let pre = pre_activations(layers, activation, x);
    let last = layers.len() - 1;
    let outputs: Vec<Matrix> = pre
        .into_iter()
        .enumerate()
        .map(|(l, mut z)| {
            if l < last {
                z.map(|v| activate(activation, v));
            }
            z
        })
        .collect();
    let inputs = std::iter::once(x.clone())
        .chain(outputs[..last].iter().cloned())
        .collect();
    Propagation { inputs, outputs }
}

/// Figure 1 for one layer: the most active neuron for the probe and how much its weight
/// column looks like the layer's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerWinner {
    pub layer: usize,
    pub winner: usize,
    pub cos_trained: f64,
    /// Absent where the initial weights are unknown (imported weights without `--init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_init: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cos_init: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub index: usize,
    pub label: u8,
    pub layers: Vec<LayerWinner>,
}

/// Winner index and cosine per layer for one input.
pub fn winners(
    layers: &[LayerWeights],
    activation: Activation,
    probe: &[f32],
) -> Vec<(usize, f64)> {
    let x = Matrix::new(1, probe.len(), probe.to_vec());
    let p = propagate(layers, activation, &x);
    layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let winner = argmax(p.outputs[l].row(0));
            (winner, cosine(p.inputs[l].row(0), &layer.column(winner)))
        })
        .collect()
}

pub fn probe(
    trained: &[LayerWeights],
    init: Option<&[LayerWeights]>,
    activation: Activation,
    train: &ImageSet,
    index: usize,
) -> Probe {
    let image = train.image(index);
    let t = winners(trained, activation, image);
    let i = init.map(|init| winners(init, activation, image));
    Probe {
        index,
        label: train.labels[index],
        layers: t
            .iter()
            .enumerate()
            .map(|(layer, &(winner, cos_trained))| {
                let at_init = i.as_ref().map(|i| i[layer]);
                LayerWinner {
                    layer,
                    winner,
                    cos_trained,
                    winner_init: at_init.map(|(w, _)| w),
                    cos_init: at_init.map(|(_, c)| c),
                }
            })
            .collect(),
    }
}

/// Mean image of each class (`NUM_CLASSES x pixels`) and of the whole set.
pub fn class_means(set: &ImageSet) -> (Matrix, Vec<f32>) {
    let p = set.pixels();
    let mut sums = vec![0.0f64; NUM_CLASSES * p];
    let mut counts = [0usize; NUM_CLASSES];
    for (i, &label) in set.labels.iter().enumerate() {
        let c = label as usize;
        counts[c] += 1;
        for (s, &v) in sums[c * p..(c + 1) * p].iter_mut().zip(set.image(i)) {
            *s += f64::from(v);
        }
    }
    let mut global = vec![0.0f64; p];
    let mut means = Matrix::zeros(NUM_CLASSES, p);
    for c in 0..NUM_CLASSES {
        for j in 0..p {
            global[j] += sums[c * p + j];
            if counts[c] > 0 {
                means.data[c * p + j] = (sums[c * p + j] / counts[c] as f64) as f32;
            }
        }
    }
    let n = set.len().max(1) as f64;
    (means, global.iter().map(|&s| (s / n) as f32).collect())
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

/// Figure 3 for one weight matrix: each neuron's most similar input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearestInput {
    #[serde(flatten)]
    pub summary: Summary,
    pub cos: Vec<f64>,
    pub index: Vec<usize>,
    pub label: Vec<u8>,
}

/// `max_i cos(column j, x_i)` over the rows of `inputs`, as blocked matrix products of
/// unit-length rows and columns.
pub fn nearest_inputs(inputs: &Matrix, labels: &[u8], layer: &LayerWeights) -> NearestInput {
    nearest_unit_inputs(&inputs.normalized_rows(), labels, layer)
}

/// [`nearest_inputs`] for inputs already scaled to unit length (zero rows stay zero), so a
/// caller comparing many weight matrices with the same inputs normalises them once.
pub fn nearest_unit_inputs(
    unit_inputs: &Matrix,
    labels: &[u8],
    layer: &LayerWeights,
) -> NearestInput {
    let units = kernel(layer).transpose().normalized_rows().transpose();
    let k = layer.d_out;
    let none = vec![(f32::NEG_INFINITY, 0usize); k];
    let merge = |mut a: Vec<(f32, usize)>, b: Vec<(f32, usize)>| {
        for (x, y) in a.iter_mut().zip(b) {
            // Ties go to the lower index, whichever block finishes first.
            if y.0 > x.0 || (y.0 == x.0 && y.1 < x.1) {
                *x = y;
            }
        }
        a
    };
    let mut best = none.clone();
    for start in (0..unit_inputs.rows).step_by(NEAREST_BLOCK_ROWS) {
        let end = (start + NEAREST_BLOCK_ROWS).min(unit_inputs.rows);
        let sims = unit_inputs.rows_range(start, end).matmul(&units);
        let block_best = sims
            .data
            .par_chunks(k * 256)
            .enumerate()
            .map(|(chunk, rows)| {
                let mut local = none.clone();
                for (r, row) in rows.chunks(k).enumerate() {
                    let index = start + chunk * 256 + r;
                    for (b, &s) in local.iter_mut().zip(row) {
                        if s > b.0 {
                            *b = (s, index);
                        }
                    }
                }
                local
            })
            .reduce(|| none.clone(), merge);
        best = merge(best, block_best);
    }
    let cos: Vec<f64> = best.iter().map(|&(s, _)| f64::from(s)).collect();
    NearestInput {
        summary: summarize(&cos),
        index: best.iter().map(|&(_, i)| i).collect(),
        label: best.iter().map(|&(_, i)| labels[i]).collect(),
        cos,
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
    let last = layers.len() - 1;
    let mut templates = Matrix::zeros(NUM_CLASSES, set.pixels());
    let kernels_t: Vec<Matrix> = layers.iter().map(|l| kernel(l).transpose()).collect();
    for k in 0..NUM_CLASSES {
        let members: Vec<usize> = (0..set.len())
            .filter(|&i| set.labels[i] as usize == k)
            .collect();
        if members.is_empty() {
            continue;
        }
        let x = Matrix::new(
            members.len(),
            set.pixels(),
            members
                .iter()
                .flat_map(|&i| set.image(i).iter().copied())
                .collect(),
        );
        let z = pre_activations(layers, activation, &x);
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
        for l in (0..last).rev() {
            for (g, &zv) in grad.data.iter_mut().zip(&z[l].data) {
                *g *= activate_grad(activation, zv);
            }
            grad = grad.matmul(&kernels_t[l]);
        }
        let n = members.len() as f64;
        for j in 0..set.pixels() {
            let sum: f64 = (0..grad.rows).map(|r| f64::from(grad.get(r, j))).sum();
            templates.data[k * set.pixels() + j] = (sum / n) as f32;
        }
    }
    Some(templates)
}
