//! Figure 3: each neuron's most similar input, searched over a whole training file.

use crate::core::data::{ImageSet, Label};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::forward::kernel;
use super::linalg::{
    Matrix, ProductRows, ROWS_PER_TASK, Stretch, Summary, non_zero_counts, per_row_of_stretches,
    row_sums, scale_to_unit_length, summarize,
};
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
    /// The images of `set`, made into values a stretch at a time rather than all at once.
    pub(crate) fn of_images(set: &ImageSet) -> Self {
        let (rows, cols) = (set.len(), set.pixels());
        let pixels = set.images.view();
        assert_eq!(pixels.len(), rows * cols, "images do not match their shape");
        let stretch: &Stretch<'_> = &|start, end| pixels.slice(start * cols..end * cols).values();
        UnitRows {
            rows: ProductRows::unit_rows_of(rows, cols, stretch),
            norms: per_row_of_stretches(rows, stretch, |values| lengths(values, cols).collect()),
        }
    }
}

/// Each row's length, in `f32`.
fn lengths(rows: &[f32], cols: usize) -> impl Iterator<Item = f32> {
    row_sums(rows, cols, -0.0, |v| v * v)
        .into_iter()
        .map(f32::sqrt)
}

/// A layer's outputs over a set of inputs, and where the next layer's search reads them, the
/// same outputs as unit rows: scaled while each block of them is still in the cache, rather
/// than in passes over the whole matrix afterwards.
pub(crate) struct LayerOutputs {
    pub values: Matrix,
    pub unit: Option<UnitRows>,
}

/// The unit rows of a layer's outputs, filled block by block: the rows scaled to unit length
/// (kept only if they stay dense), their lengths and their numbers of non-zero entries.
struct UnitParts {
    scaled: Vec<f32>,
    norms: Vec<f32>,
    non_zero: Vec<usize>,
}

impl UnitParts {
    fn new(rows: usize, cols: usize) -> Self {
        UnitParts {
            scaled: vec![0.0; rows * cols],
            norms: vec![0.0; rows],
            non_zero: vec![0; rows],
        }
    }

    /// Exactly what [`UnitRows::of`] makes of `values`.
    fn into_unit_rows(self, values: &Matrix) -> UnitRows {
        let (rows, cols) = (values.rows, values.cols);
        let scaled = self.scaled;
        UnitRows {
            rows: ProductRows::of_scaled(
                rows,
                cols,
                &|start, end| values.data[start * cols..end * cols].into(),
                &self.non_zero,
                || Matrix::new(rows, cols, scaled),
            ),
            norms: self.norms,
        }
    }
}

/// Whole rows of `k` `values` into their share of [`UnitParts`]: scaled to unit length, their
/// lengths, their numbers of non-zero entries.
fn scale_as_unit_rows(
    values: &[f32],
    k: usize,
    ((scaled, lengths_out), non_zero): ((&mut [f32], &mut [f32]), &mut [usize]),
) {
    scaled.copy_from_slice(values);
    scale_to_unit_length(scaled, k);
    for (out, length) in lengths_out.iter_mut().zip(lengths(values, k)) {
        *out = length;
    }
    for (out, count) in non_zero.iter_mut().zip(non_zero_counts(values, k)) {
        *out = count;
    }
}

/// `outputs = activation(z · norm + bias)` for one block's rows of products `z` with unit
/// inputs of lengths `norms`: the activation chosen once, outside the loop over entries.
fn activate(
    z: &[f32],
    norms: &[f32],
    bias: &[f32],
    activation: Option<Activation>,
    outputs: &mut [f32],
) {
    fn each(z: &[f32], norms: &[f32], bias: &[f32], out: &mut [f32], f: impl Fn(f32) -> f32) {
        let k = bias.len().max(1);
        for ((row, z), &norm) in out.chunks_mut(k).zip(z.chunks(k)).zip(norms) {
            for ((o, &v), &b) in row.iter_mut().zip(z).zip(bias) {
                *o = f(v * norm + b);
            }
        }
    }
    match activation {
        None => each(z, norms, bias, outputs, |z| z),
        Some(Activation::Relu) => each(z, norms, bias, outputs, |z| z.max(0.0)),
        Some(a) => each(z, norms, bias, outputs, |z| a.apply(z)),
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
/// `activation` is `None` for an output layer (its logits); `unit_outputs` asks for the
/// outputs as unit rows too.
pub(crate) fn nearest_and_activations(
    inputs: &UnitRows,
    labels: &[Label],
    layer: &LayerWeights,
    activation: Option<Activation>,
    unit_outputs: bool,
    mut observe: impl FnMut(usize, &Matrix),
) -> (NearestInput, LayerOutputs) {
    let (unit_inputs, norms) = (&inputs.rows, &inputs.norms);
    let (n, k) = (unit_inputs.rows(), layer.d_out);
    let mut out = Matrix::zeros(n, k);
    let mut unit = unit_outputs.then(|| UnitParts::new(n, k));
    let nearest = search(unit_inputs, labels, layer, |start, products| {
        let rows = start..start + products.rows;
        let values = out.data[rows.start * k..rows.end * k].par_chunks_mut(k * ROWS_PER_TASK);
        let tasks = values
            .zip(products.data.par_chunks(k * ROWS_PER_TASK))
            .zip(norms[rows.clone()].par_chunks(ROWS_PER_TASK));
        match unit.as_mut() {
            None => tasks.for_each(|((values, z), norms)| {
                activate(z, norms, &layer.bias, activation, values)
            }),
            Some(parts) => {
                let scaled =
                    parts.scaled[rows.start * k..rows.end * k].par_chunks_mut(k * ROWS_PER_TASK);
                let row_lengths = parts.norms[rows.clone()].par_chunks_mut(ROWS_PER_TASK);
                let non_zero = parts.non_zero[rows].par_chunks_mut(ROWS_PER_TASK);
                let unit_tasks = scaled.zip(row_lengths).zip(non_zero);
                tasks
                    .zip(unit_tasks)
                    .for_each(|(((values, z), norms), unit)| {
                        activate(z, norms, &layer.bias, activation, values);
                        scale_as_unit_rows(values, k, unit);
                    });
            }
        }
        observe(start, products);
    });
    let unit = unit.map(|parts| parts.into_unit_rows(&out));
    (nearest, LayerOutputs { values: out, unit })
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
