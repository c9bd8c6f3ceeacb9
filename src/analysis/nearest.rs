//! Figure 3: each neuron's most similar input, searched over a whole training file.

use crate::core::data::Label;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::forward::kernel;
use super::linalg::{Matrix, ProductRows, ROWS_PER_TASK, Summary, row_sums, summarize};
use crate::core::config::Activation;
use crate::core::weights::LayerWeights;

/// Rows per block in the nearest-input search, to bound the similarity matrix's memory.
const NEAREST_BLOCK_ROWS: usize = 8192;

/// Rows (a data set's images, or a layer's inputs) scaled to unit length, and their lengths:
/// what the nearest-input search and a layer's outputs need, built once for many weights.
pub(crate) struct UnitRows {
    pub rows: ProductRows,
    /// Each row's length, to turn products with the unit rows into plain ones.
    pub norms: Vec<f32>,
}

impl UnitRows {
    /// The rows of `data` (`rows x cols`, row-major).
    pub(crate) fn of(rows: usize, cols: usize, data: &[f32]) -> Self {
        UnitRows {
            rows: ProductRows::unit_rows(rows, cols, data),
            norms: data
                .par_chunks(cols.max(1) * ROWS_PER_TASK)
                .flat_map_iter(|rows| row_sums(rows, cols, -0.0, |v| v * v))
                .map(f32::sqrt)
                .collect(),
        }
    }
}

/// Figure 3 for one weight matrix: each neuron's most similar input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NearestInput {
    #[serde(flatten)]
    pub summary: Summary,
    pub cos: Vec<f64>,
    pub index: Vec<usize>,
    pub label: Vec<Label>,
}

/// `max_i cos(column j, x_i)` over the rows of `inputs`, as blocked matrix products of
/// unit-length rows and columns.
pub fn nearest_inputs(inputs: &Matrix, labels: &[Label], layer: &LayerWeights) -> NearestInput {
    let unit = ProductRows::unit_rows(inputs.rows, inputs.cols, &inputs.data);
    nearest_unit_inputs(&unit, labels, layer, |_, _| {})
}

/// [`nearest_inputs`] for inputs already scaled to unit length (zero rows stay zero), so a
/// caller comparing many weight matrices with the same inputs normalises them once;
/// `observe` sees each block's products with the weights (row offset, products).
pub(crate) fn nearest_unit_inputs(
    unit_inputs: &ProductRows,
    labels: &[Label],
    layer: &LayerWeights,
    observe: impl FnMut(usize, &Matrix),
) -> NearestInput {
    search(unit_inputs, labels, layer, observe)
}

/// A layer's nearest-input figure and its outputs over the same inputs, from one product per
/// block: with `Z = U W` for the unit-length rows `U`, cos(x_i, w_j) = Z_ij / |w_j| and
/// x_i · w_j = Z_ij |x_i|. `observe` sees each block of `Z` (row offset, products).
/// `activation` is `None` for an output layer (its logits).
pub(crate) fn nearest_and_activations(
    inputs: &UnitRows,
    labels: &[Label],
    layer: &LayerWeights,
    activation: Option<Activation>,
    mut observe: impl FnMut(usize, &Matrix),
) -> (NearestInput, Matrix) {
    let (unit_inputs, norms) = (&inputs.rows, &inputs.norms);
    let k = layer.d_out;
    let mut out = Matrix::zeros(unit_inputs.rows(), k);
    let nearest = search(unit_inputs, labels, layer, |start, products| {
        let rows = &mut out.data[start * k..(start + products.rows) * k];
        rows.par_chunks_mut(k)
            .zip(products.data.par_chunks(k))
            .zip(&norms[start..start + products.rows])
            .for_each(|((row, z), &norm)| {
                for ((o, &v), &b) in row.iter_mut().zip(z).zip(&layer.bias) {
                    let z = v * norm + b;
                    *o = activation.map_or(z, |a| a.apply(z));
                }
            });
        observe(start, products);
    });
    (nearest, out)
}

/// The blocked search: each block of rows times the layer's raw weights; `per_block` sees
/// every block's products (for the activations) before they are reduced to the best match.
fn search(
    unit_inputs: &ProductRows,
    labels: &[Label],
    layer: &LayerWeights,
    mut per_block: impl FnMut(usize, &Matrix),
) -> NearestInput {
    let weights = kernel(layer);
    let k = layer.d_out;
    let inverse_norms: Vec<f32> = (0..k)
        .map(|j| {
            let norm = weights.column(j).iter().map(|v| v * v).sum::<f32>().sqrt();
            if norm > 0.0 { 1.0 / norm } else { 0.0 }
        })
        .collect();
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
    for start in (0..unit_inputs.rows()).step_by(NEAREST_BLOCK_ROWS) {
        let end = (start + NEAREST_BLOCK_ROWS).min(unit_inputs.rows());
        let products = unit_inputs.rows_matmul(start, end, &weights);
        per_block(start, &products);
        let block_best = products
            .data
            .par_chunks(k * 256)
            .enumerate()
            .map(|(chunk, rows)| {
                let mut local = none.clone();
                for (r, row) in rows.chunks(k).enumerate() {
                    let index = start + chunk * 256 + r;
                    for ((b, &z), &inverse) in local.iter_mut().zip(row).zip(&inverse_norms) {
                        let s = z * inverse;
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
