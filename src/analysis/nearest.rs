//! Figure 3: each neuron's most similar input, searched over a whole training file.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::forward::kernel;
use super::linalg::{Matrix, Summary, summarize};
use crate::core::weights::LayerWeights;

/// Rows per block in the nearest-input search, to bound the similarity matrix's memory.
const NEAREST_BLOCK_ROWS: usize = 8192;

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
pub(crate) fn nearest_unit_inputs(
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
