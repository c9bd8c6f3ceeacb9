//! Class means: the mean of each class's rows and of all rows, the one computation every
//! figure that needs them uses (class templates, neural collapse, the distributed code).

use std::borrow::Cow;

use crate::core::data::Label;
use rayon::prelude::*;

/// Rows summed per block, the blocks in parallel.
const SUM_BLOCK_ROWS: usize = 4096;

/// The classes `labels` name: 0 to the largest label. The data were checked on loading to hold
/// every class of their labels in the training file.
pub(crate) fn class_count(labels: &[Label]) -> usize {
    labels.iter().max().map_or(0, |&m| usize::from(m) + 1)
}

/// Per class, the sum of its rows (`classes x cols`, row-major, in f64) and their number,
/// over the first `rows` rows that have a label. The blocks' sums are added in a fixed order,
/// so the result does not depend on how the threads were scheduled.
fn class_sums<'a>(
    rows: usize,
    cols: usize,
    row: impl Fn(usize) -> Cow<'a, [f32]> + Sync,
    labels: &[Label],
) -> (Vec<f64>, Vec<usize>) {
    let rows = rows.min(labels.len());
    let classes = class_count(&labels[..rows]);
    let starts: Vec<usize> = (0..rows).step_by(SUM_BLOCK_ROWS).collect();
    let blocks: Vec<(Vec<f64>, Vec<usize>)> = starts
        .into_par_iter()
        .map(|start| {
            let mut sums = vec![0.0f64; classes * cols];
            let mut counts = vec![0usize; classes];
            let end = (start + SUM_BLOCK_ROWS).min(rows);
            for (r, &label) in labels.iter().enumerate().take(end).skip(start) {
                let c = usize::from(label);
                counts[c] += 1;
                for (s, &v) in sums[c * cols..(c + 1) * cols].iter_mut().zip(row(r).iter()) {
                    *s += f64::from(v);
                }
            }
            (sums, counts)
        })
        .collect();
    let mut sums = vec![0.0f64; classes * cols];
    let mut counts = vec![0usize; classes];
    for (block_sums, block_counts) in blocks {
        sums.iter_mut().zip(block_sums).for_each(|(s, b)| *s += b);
        counts
            .iter_mut()
            .zip(block_counts)
            .for_each(|(c, b)| *c += b);
    }
    (sums, counts)
}

/// Per class, the mean of its rows, and the mean of all rows, in f64, over the first `rows`
/// rows that have a label. A class without rows has a mean of zeros.
pub(crate) struct ClassMeans {
    /// One row of `cols` values per class.
    pub per_class: Vec<Vec<f64>>,
    pub global: Vec<f64>,
}

impl ClassMeans {
    pub(crate) fn of<'a>(
        rows: usize,
        cols: usize,
        row: impl Fn(usize) -> Cow<'a, [f32]> + Sync,
        labels: &[Label],
    ) -> Self {
        let (sums, counts) = class_sums(rows, cols, row, labels);
        let sums: Vec<&[f64]> = sums.chunks(cols.max(1)).collect();
        let n = labels.len().min(rows).max(1) as f64;
        let global = (0..cols)
            .map(|j| sums.iter().map(|s| s[j]).fold(0.0, |a, b| a + b) / n)
            .collect();
        let per_class = sums
            .iter()
            .zip(counts)
            .map(|(s, c)| s.iter().map(|v| v / c.max(1) as f64).collect())
            .collect();
        Self { per_class, global }
    }

    /// The means of the rows of `h`.
    pub(crate) fn of_matrix(h: &super::linalg::Matrix, labels: &[Label]) -> Self {
        Self::of(h.rows, h.cols, |r| h.row(r).into(), labels)
    }
}
