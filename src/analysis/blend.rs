//! A blend of how many inputs? For each first-layer neuron and a vector v of it (its trained
//! weights, their change from the initial ones, the initial ones), the share of v that the k
//! training images most similar to v explain: r(k) = ‖P_k v‖² / ‖v‖², P_k the projection onto
//! their span. A neuron that "is" one image has r(1) = 1; a blend needs a large k. Chance: the
//! trained weights on k random training images. `docs/method.md`, section 6.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::{Matrix, prefix_projections, summarize};

/// The numbers of images r(k) is measured at.
pub const BLEND_KS: [usize; 8] = [1, 2, 5, 10, 20, 50, 100, 200];
/// Rows per block of the similarity search, to bound its memory.
const BLOCK_ROWS: usize = 8192;
/// Seed of the random images of the chance baseline, fixed so runs compare.
const RANDOM_SEED: u64 = 8;

/// r(k) over the neurons at each k of [`BLEND_KS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlendCurve {
    pub mean: Vec<f64>,
    pub median: Vec<f64>,
}

/// A score that orders by value and then by lower index, so ties resolve the same way in any
/// block order.
struct Score(f32, Reverse<usize>);

impl PartialEq for Score {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Score {}

impl PartialOrd for Score {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Score {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0).then(self.1.cmp(&other.1))
    }
}

/// Candidates kept beyond k by the single-precision search, so that re-ranking them in double
/// precision gives the same k images as a search in double precision would.
const RERANK_MARGIN: usize = 40;

/// For every column of `vectors` (`d x m`), the indices of the `k` rows of `unit_rows`
/// (unit-length images) with the largest cosine to it, most similar first. The search runs
/// in single precision (a matrix product); its best `k + RERANK_MARGIN` are re-ranked in
/// double, as near-ties at the k-th place would otherwise decide by rounding.
fn most_similar(unit_rows: &Matrix, vectors: &Matrix, k: usize) -> Vec<Vec<usize>> {
    let candidates = candidates(unit_rows, vectors, (k + RERANK_MARGIN).min(unit_rows.rows));
    candidates
        .into_par_iter()
        .enumerate()
        .map(|(j, rows)| {
            let v = vectors.column(j);
            let mut scored: Vec<(f64, usize)> = rows
                .into_iter()
                .map(|i| {
                    let dot: f64 = unit_rows
                        .row(i)
                        .iter()
                        .zip(&v)
                        .map(|(&a, &b)| f64::from(a) * f64::from(b))
                        .sum();
                    (dot, i)
                })
                .collect();
            scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
            scored.into_iter().take(k).map(|(_, i)| i).collect()
        })
        .collect()
}

/// The `k` most similar rows per column, by a single-precision matrix product.
fn candidates(unit_rows: &Matrix, vectors: &Matrix, k: usize) -> Vec<Vec<usize>> {
    let m = vectors.cols;
    let mut heaps: Vec<BinaryHeap<Reverse<Score>>> = (0..m).map(|_| BinaryHeap::new()).collect();
    for start in (0..unit_rows.rows).step_by(BLOCK_ROWS) {
        let end = (start + BLOCK_ROWS).min(unit_rows.rows);
        let sims = unit_rows.rows_matmul(start, end, vectors);
        heaps.par_iter_mut().enumerate().for_each(|(j, heap)| {
            for r in 0..sims.rows {
                let score = Score(sims.get(r, j), Reverse(start + r));
                if heap.len() < k {
                    heap.push(Reverse(score));
                } else if heap.peek().is_some_and(|Reverse(low)| score > *low) {
                    heap.pop();
                    heap.push(Reverse(score));
                }
            }
        });
    }
    heaps
        .into_iter()
        .map(|heap| {
            let mut scores: Vec<Score> = heap.into_iter().map(|Reverse(s)| s).collect();
            scores.sort_by(|a, b| b.cmp(a));
            scores.into_iter().map(|Score(_, Reverse(i))| i).collect()
        })
        .collect()
}

/// r(k) at every k of [`BLEND_KS`] for each of `targets` on the rows `images` (in order).
fn shares(unit_rows: &Matrix, images: &[usize], targets: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let rows: Vec<&[f32]> = images.iter().map(|&i| unit_rows.row(i)).collect();
    let views: Vec<&[f32]> = targets.iter().map(Vec::as_slice).collect();
    prefix_projections(&rows, &views)
        .into_iter()
        .zip(targets)
        .map(|(projected, v)| {
            let norm: f64 = v.iter().map(|&x| f64::from(x).powi(2)).sum();
            BLEND_KS
                .iter()
                .map(|&k| {
                    let p = projected.get(k.min(projected.len()).saturating_sub(1));
                    p.map_or(0.0, |p| if norm > 0.0 { p / norm } else { 0.0 })
                })
                .collect()
        })
        .collect()
}

fn curve(per_neuron: &[Vec<f64>]) -> BlendCurve {
    let at = |i: usize| -> Vec<f64> { per_neuron.iter().map(|r| r[i]).collect() };
    let stats: Vec<_> = (0..BLEND_KS.len()).map(|i| summarize(&at(i))).collect();
    BlendCurve {
        mean: stats.iter().map(|s| s.mean).collect(),
        median: stats.iter().map(|s| s.median).collect(),
    }
}

/// The blend curve of the columns of `vectors` (`d x neurons`) on their own most similar
/// images from `unit_rows`.
pub fn blend_curve(unit_rows: &Matrix, vectors: &Matrix) -> BlendCurve {
    let largest = BLEND_KS[BLEND_KS.len() - 1].min(unit_rows.rows);
    let nearest = most_similar(unit_rows, vectors, largest);
    let per_neuron: Vec<Vec<f64>> = nearest
        .par_iter()
        .enumerate()
        .map(|(j, images)| shares(unit_rows, images, &[vectors.column(j)]).remove(0))
        .collect();
    curve(&per_neuron)
}

/// The chance baseline: the columns of `vectors` on the same k random images.
pub fn random_curve(unit_rows: &Matrix, vectors: &Matrix) -> BlendCurve {
    let largest = BLEND_KS[BLEND_KS.len() - 1].min(unit_rows.rows);
    let mut rng = ChaCha8Rng::seed_from_u64(RANDOM_SEED);
    let images = sample(&mut rng, unit_rows.rows, largest).into_vec();
    let columns: Vec<Vec<f32>> = (0..vectors.cols).map(|j| vectors.column(j)).collect();
    curve(&shares(unit_rows, &images, &columns))
}
