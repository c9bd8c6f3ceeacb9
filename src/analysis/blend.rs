//! A blend of how many inputs? For each neuron of a layer and a vector v of it (its trained
//! weights, their change from the initial ones, the initial ones), the share of v that the k
//! inputs of the layer most similar to v explain (training images for the first layer, their
//! hidden codes for a later one): r(k) = ‖P_k v‖² / ‖v‖², P_k the projection onto their span.
//! A neuron that "is" one input has r(1) = 1; a blend needs a large k. Chance: the trained
//! weights on k random inputs. `docs/method.md`, section 6.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use rand::SeedableRng;
use rand::seq::index::sample;
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::linalg::{Matrix, ProductRows, prefix_projections, summarize};

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

impl BlendCurve {
    /// The mean r(k) at `k`, one of [`BLEND_KS`].
    pub fn mean_at(&self, k: usize) -> Option<f64> {
        let i = BLEND_KS.iter().position(|&x| x == k)?;
        self.mean.get(i).copied()
    }
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

/// The score a row must beat to enter `heap`: its lowest once it holds `keep`, none before.
fn floor(heap: &BinaryHeap<Reverse<Score>>, keep: usize) -> Option<f32> {
    match heap.peek() {
        Some(Reverse(Score(low, _))) if heap.len() >= keep => Some(*low),
        _ => None,
    }
}

/// A floor as a number a score must not lie below to be looked at: -inf before the heap is
/// full, so that every score is.
fn plain_floor(floor: Option<f32>) -> f32 {
    floor.unwrap_or(f32::NEG_INFINITY)
}

/// Candidates kept beyond k by the single-precision search, so that re-ranking them in double
/// precision gives the same k images as a search in double precision would.
const RERANK_MARGIN: usize = 40;

/// The rows most similar to each of some vectors, gathered block by block from the rows'
/// products with the vectors (in single precision), wherever those products are computed:
/// the nearest-input search computes them for the trained and initial weights anyway.
pub struct Candidates {
    /// Rows kept per vector: the largest k and a margin for the re-ranking.
    keep: usize,
    heaps: Vec<BinaryHeap<Reverse<Score>>>,
}

impl Candidates {
    /// For `vectors` vectors against `rows` rows, as many as the blend curve needs.
    pub fn new(vectors: usize, rows: usize) -> Self {
        Self::keeping(
            vectors,
            (BLEND_KS[BLEND_KS.len() - 1] + RERANK_MARGIN).min(rows),
        )
    }

    /// The `keep` most similar rows of each of `vectors` vectors.
    pub fn keeping(vectors: usize, keep: usize) -> Self {
        Candidates {
            keep,
            heaps: (0..vectors).map(|_| BinaryHeap::new()).collect(),
        }
    }

    /// Takes the products of rows `start..start + sims.rows` with the vectors (one column
    /// per vector); blocks come in rising order of rows.
    pub fn add(&mut self, start: usize, sims: &Matrix) {
        // Each task keeps the heaps of a few vectors and reads their stretch of every row.
        const VECTORS_PER_TASK: usize = 16;
        let keep = self.keep;
        self.heaps
            .par_chunks_mut(VECTORS_PER_TASK)
            .enumerate()
            .for_each(|(task, heaps)| {
                let first = task * VECTORS_PER_TASK;
                // Each full heap's lowest score: most products fall below it, and a float
                // comparison turns them away before any heap is touched. A product equal to
                // it loses too, as the rows come in rising order and ties go to the lower.
                let mut floors: Vec<Option<f32>> = heaps.iter().map(|h| floor(h, keep)).collect();
                // The same floors as plain numbers, a heap not yet full at -inf, for a first
                // look at each row that compares all its scores at once: a row whose every
                // score lies below its floor is turned away, as the exact comparison would;
                // any other goes on to the exact comparison.
                let mut below: Vec<f32> = floors.iter().map(|f| plain_floor(*f)).collect();
                for r in 0..sims.rows {
                    let scores = &sims.row(r)[first..first + heaps.len()];
                    if scores
                        .iter()
                        .zip(&below)
                        .fold(true, |all, (s, f)| all & (s < f))
                    {
                        continue;
                    }
                    for (((heap, floor_of), plain), &s) in heaps
                        .iter_mut()
                        .zip(&mut floors)
                        .zip(&mut below)
                        .zip(scores)
                    {
                        if floor_of.is_some_and(|f| s.total_cmp(&f).is_le()) {
                            continue;
                        }
                        heap.push(Reverse(Score(s, Reverse(start + r))));
                        if heap.len() > keep {
                            heap.pop();
                        }
                        *floor_of = floor(heap, keep);
                        *plain = plain_floor(*floor_of);
                    }
                }
            });
    }

    /// Per vector, its candidate rows and their products, most similar first.
    pub fn ranked(self) -> Vec<Vec<(usize, f32)>> {
        self.heaps
            .into_iter()
            .map(|heap| {
                let mut scores: Vec<Score> = heap.into_iter().map(|Reverse(s)| s).collect();
                scores.sort_by(|a, b| b.cmp(a));
                scores
                    .into_iter()
                    .map(|Score(s, Reverse(i))| (i, s))
                    .collect()
            })
            .collect()
    }

    fn lists(self) -> Vec<Vec<usize>> {
        self.ranked()
            .into_iter()
            .map(|rows| rows.into_iter().map(|(i, _)| i).collect())
            .collect()
    }
}

/// An `observe` hook for a search's products that feeds `candidates`, where there are any.
pub(crate) fn feeding(candidates: &mut Option<Candidates>) -> impl FnMut(usize, &Matrix) + '_ {
    move |start, products| {
        if let Some(c) = candidates.as_mut() {
            c.add(start, products);
        }
    }
}

/// For every column of `vectors` (`d x m`), the indices of the `k` rows of `unit_rows`
/// (unit-length images) with the largest cosine to it, most similar first: the
/// single-precision `candidates` re-ranked in double, as near-ties at the k-th place would
/// otherwise decide by rounding.
fn most_similar(
    unit_rows: &ProductRows,
    vectors: &Matrix,
    candidates: Candidates,
    k: usize,
) -> Vec<Vec<usize>> {
    candidates
        .lists()
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

/// r(k) at every k of [`BLEND_KS`] for each of `targets` on the rows `images` (in order).
fn shares(unit_rows: &ProductRows, images: &[usize], targets: &[Vec<f32>]) -> Vec<Vec<f64>> {
    let rows: Vec<_> = images.iter().map(|&i| unit_rows.row(i)).collect();
    let rows: Vec<&[f32]> = rows.iter().map(|r| r.as_ref()).collect();
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
pub fn blend_curve(unit_rows: &ProductRows, vectors: &Matrix) -> BlendCurve {
    let mut candidates = Candidates::new(vectors.cols, unit_rows.rows());
    for start in (0..unit_rows.rows()).step_by(BLOCK_ROWS) {
        let end = (start + BLOCK_ROWS).min(unit_rows.rows());
        candidates.add(start, &unit_rows.rows_matmul(start, end, vectors));
    }
    blend_curve_of(unit_rows, vectors, candidates)
}

/// [`blend_curve`] from candidates gathered while the products were computed for another
/// figure.
pub(crate) fn blend_curve_of(
    unit_rows: &ProductRows,
    vectors: &Matrix,
    candidates: Candidates,
) -> BlendCurve {
    let largest = BLEND_KS[BLEND_KS.len() - 1].min(unit_rows.rows());
    let nearest = most_similar(unit_rows, vectors, candidates, largest);
    let per_neuron: Vec<Vec<f64>> = nearest
        .par_iter()
        .enumerate()
        .map(|(j, images)| shares(unit_rows, images, &[vectors.column(j)]).remove(0))
        .collect();
    curve(&per_neuron)
}

/// The chance baseline: the columns of `vectors` on the same k random images.
pub fn random_curve(unit_rows: &ProductRows, vectors: &Matrix) -> BlendCurve {
    let largest = BLEND_KS[BLEND_KS.len() - 1].min(unit_rows.rows());
    let mut rng = ChaCha8Rng::seed_from_u64(RANDOM_SEED);
    let images = sample(&mut rng, unit_rows.rows(), largest).into_vec();
    let columns: Vec<Vec<f32>> = (0..vectors.cols).map(|j| vectors.column(j)).collect();
    curve(&shares(unit_rows, &images, &columns))
}
