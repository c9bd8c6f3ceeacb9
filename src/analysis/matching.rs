//! Do two networks learn the same neurons? Each layer of network A against the same layer of
//! network B: a one-to-one matching of their neurons by the cosine of their incoming weights
//! (layer by layer, each later layer's inputs put in A's order first), a matching by the
//! correlation of their activations, and the linear CKA of the layer's activations
//! (`docs/method.md`, "Matching two networks").

use pathfinding::kuhn_munkres::kuhn_munkres;
use pathfinding::matrix::Matrix as Weights;
use serde::{Deserialize, Serialize};

use super::forward::{images_matrix, layer_outputs};
use super::linalg::{Matrix, summarize};
use super::verdict::Verdict;
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::{LayerWeights, layer_in_sentence};

/// One network as the matching sees it: its layers, their activation, and the test images
/// scaled as it was trained on them.
#[derive(Clone, Copy)]
pub struct MatchSide<'a> {
    pub layers: &'a [LayerWeights],
    pub activation: Activation,
    pub test: &'a ImageSet,
}

/// One matched pair: A's neuron, B's neuron and their score (a cosine or a correlation).
pub type Pair = (usize, usize, f64);

/// One layer of A against the same layer of B.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerComparison {
    /// Weight matching: each of A's neurons with B's, by the cosine of their incoming weights
    /// (B's inputs in A's order); for the output layer each class with the same class.
    pub weight_pairs: Vec<Pair>,
    /// Activation matching, by correlation over the test images; none for the output layer,
    /// whose classes fix the order.
    pub activation_pairs: Option<Vec<Pair>>,
    /// Linear CKA of the layer's activations (logits for the output layer).
    pub cka: f64,
}

impl LayerComparison {
    pub fn weight_scores(&self) -> Vec<f64> {
        self.weight_pairs.iter().map(|p| p.2).collect()
    }

    pub fn activation_scores(&self) -> Option<Vec<f64>> {
        self.activation_pairs
            .as_ref()
            .map(|pairs| pairs.iter().map(|p| p.2).collect())
    }
}

/// Every layer of A against B's. The two networks must have the same widths and their test
/// sets the same images (each scaled as its own network expects).
pub fn compare_networks(a: MatchSide<'_>, b: MatchSide<'_>) -> Vec<LayerComparison> {
    compare_observed(
        a.layers,
        &CentredOutputs::of(a),
        b.layers,
        &CentredOutputs::of(b),
    )
}

/// Every layer's activations (logits for the last layer) over a network's test images, each
/// column less its mean: what the activation matching and CKA read of a network, worked out
/// once per network.
pub struct CentredOutputs(Vec<faer::Mat<f64>>);

impl CentredOutputs {
    pub fn of(side: MatchSide<'_>) -> Self {
        Self::over(side.layers, side.activation, &images_matrix(side.test))
    }

    /// Over `images`, one image a row, scaled as the network expects.
    pub fn over(layers: &[LayerWeights], activation: Activation, images: &Matrix) -> Self {
        let outputs = layer_outputs(layers, activation, images);
        Self(outputs.iter().map(centred).collect())
    }
}

/// [`compare_networks`] of two networks whose outputs are already worked out.
pub fn compare_observed(
    a: &[LayerWeights],
    outputs_a: &CentredOutputs,
    b: &[LayerWeights],
    outputs_b: &CentredOutputs,
) -> Vec<LayerComparison> {
    let last = a.len() - 1;
    // B's neuron matched to each of A's in the layer below, for the re-ordering.
    let mut order: Option<Vec<usize>> = None;
    (0..a.len())
        .map(|l| {
            let kernel_b = reorder_inputs(&b[l], order.as_deref());
            let cosines = column_cosines(&a[l], &kernel_b);
            let weight_pairs = if l == last {
                (0..cosines.rows)
                    .map(|j| (j, j, cosines.get(j, j)))
                    .collect()
            } else {
                assign(&cosines)
            };
            order = Some(weight_pairs.iter().map(|p| p.1).collect());
            let (x, y) = (&outputs_a.0[l], &outputs_b.0[l]);
            let activation_pairs = (l < last).then(|| assign(&correlations(x, y)));
            LayerComparison {
                weight_pairs,
                activation_pairs,
                cka: linear_cka(x, y),
            }
        })
        .collect()
}

/// Each layer's cosine of neuron `j` of A with neuron `j` of B, without matching: for two
/// networks started from the same weights, how far each neuron's twin ends up.
pub fn twin_cosines(a: &[LayerWeights], b: &[LayerWeights]) -> Vec<Vec<f64>> {
    a.iter()
        .zip(b)
        .map(|(la, lb)| {
            let c = column_cosines(la, lb);
            (0..c.rows).map(|j| c.get(j, j)).collect()
        })
        .collect()
}

/// `layer`'s weights with their input rows taken in `order` (row `i` is row `order[i]`), so
/// that a later layer of B reads its inputs in A's unit order.
fn reorder_inputs(layer: &LayerWeights, order: Option<&[usize]>) -> LayerWeights {
    let Some(order) = order else {
        return layer.clone();
    };
    let d = layer.d_out;
    let weight = order
        .iter()
        .flat_map(|&i| layer.weight[i * d..(i + 1) * d].iter().copied())
        .collect();
    LayerWeights {
        weight,
        ..layer.clone()
    }
}

/// `cos(column i of a, column j of b)` for every pair, `a.d_out x b.d_out`, in f64 products.
fn column_cosines(a: &LayerWeights, b: &LayerWeights) -> Scores {
    let unit = |l: &LayerWeights| {
        let mut m =
            faer::Mat::<f64>::from_fn(l.d_in, l.d_out, |i, j| f64::from(l.weight[i * l.d_out + j]));
        scale_columns_to_unit(&mut m);
        m
    };
    Scores::of(&(unit(a).transpose() * unit(b)))
}

/// Pearson correlation of every column of `x` with every column of `y` (rows are images,
/// columns centred); a column that never varies correlates 0 with everything.
fn correlations(x: &faer::Mat<f64>, y: &faer::Mat<f64>) -> Scores {
    let standard = |m: &faer::Mat<f64>| {
        let mut c = m.clone();
        scale_columns_to_unit(&mut c);
        c
    };
    Scores::of(&(standard(x).transpose() * standard(y)))
}

/// Linear CKA (Kornblith et al. 2019): `‖YᵀX‖²_F / (‖XᵀX‖_F ‖YᵀY‖_F)` of two layers' columns,
/// centred; 0 where either layer is constant over the images.
fn linear_cka(x: &faer::Mat<f64>, y: &faer::Mat<f64>) -> f64 {
    let cross = x.transpose() * y;
    let xx = x.transpose() * x;
    let yy = y.transpose() * y;
    let denominator = xx.norm_l2() * yy.norm_l2();
    if denominator > 0.0 {
        cross.norm_l2().powi(2) / denominator
    } else {
        0.0
    }
}

/// The one-to-one assignment of rows to columns that maximises the summed score (the
/// Hungarian method), as (row, column, score) in row order. The scores are cosines or
/// correlations in [-1, 1]; Kuhn–Munkres needs an ordered type, so they are compared in
/// units of 1e-12, far below f32's resolution.
pub fn assign(scores: &Scores) -> Vec<Pair> {
    assert!(
        scores.rows <= scores.cols,
        "more rows than columns to assign"
    );
    const UNITS: f64 = 1e12;
    let weights = Weights::from_vec(
        scores.rows,
        scores.cols,
        scores
            .data
            .iter()
            .map(|&s| (s * UNITS).round() as i64)
            .collect(),
    )
    .expect("the scores fill their matrix");
    let (_, columns) = kuhn_munkres(&weights);
    columns
        .into_iter()
        .enumerate()
        .map(|(r, c)| (r, c, scores.get(r, c)))
        .collect()
}

/// Mean and median of a layer's matched scores.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MeanMedian {
    pub mean: f64,
    pub median: f64,
}

impl MeanMedian {
    pub fn of(values: &[f64]) -> Self {
        let s = summarize(values);
        Self {
            mean: s.mean,
            median: s.median,
        }
    }
}

/// The rows of `m` (images) as f64 with each column's mean removed.
fn centred(m: &Matrix) -> faer::Mat<f64> {
    let mut means = vec![0f64; m.cols];
    for r in 0..m.rows {
        for (mean, &v) in means.iter_mut().zip(m.row(r)) {
            *mean += f64::from(v);
        }
    }
    let n = m.rows.max(1) as f64;
    means.iter_mut().for_each(|v| *v /= n);
    faer::Mat::<f64>::from_fn(m.rows, m.cols, |r, c| f64::from(m.get(r, c)) - means[c])
}

fn scale_columns_to_unit(m: &mut faer::Mat<f64>) {
    for j in 0..m.ncols() {
        let norm = m.col(j).norm_l2();
        if norm > 0.0 {
            for i in 0..m.nrows() {
                m[(i, j)] /= norm;
            }
        }
    }
}

/// A score for every pair of A's and B's neurons, row-major `rows x cols`, in f64.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub rows: usize,
    pub cols: usize,
    pub data: Vec<f64>,
}

impl Scores {
    fn of(m: &faer::Mat<f64>) -> Self {
        Self {
            rows: m.nrows(),
            cols: m.ncols(),
            data: (0..m.nrows())
                .flat_map(|i| (0..m.ncols()).map(move |j| m[(i, j)]))
                .collect(),
        }
    }

    pub fn get(&self, r: usize, c: usize) -> f64 {
        self.data[r * self.cols + c]
    }
}

/// `match.json`: A against B at every layer, trained, initial where both are known, and at
/// every epoch both sides saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetworkMatch {
    pub a: String,
    pub b: String,
    pub layers: Vec<LayerMatch>,
    pub epochs: Vec<EpochMatch>,
}

/// One layer of the trained networks, with the initial networks' figures as its baseline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerMatch {
    /// Counted from 0, as in `analysis.json`.
    pub layer: usize,
    pub weight_cos: MeanMedian,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub activation_corr: Option<MeanMedian>,
    pub cka: f64,
    /// The weight matching, `[neuron of A, neuron of B, cosine]`; none for the output layer.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub pairs: Option<Vec<Pair>>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub init: Option<InitMatch>,
}

/// The same figures for the two initial networks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InitMatch {
    pub weight_cos: MeanMedian,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub activation_corr: Option<MeanMedian>,
    pub cka: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMatch {
    pub epoch: usize,
    pub layers: Vec<EpochLayerMatch>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochLayerMatch {
    pub layer: usize,
    pub weight_cos_mean: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub activation_corr_mean: Option<f64>,
    pub cka: f64,
}

impl LayerMatch {
    /// The trained layer's figures, with the initial networks' where known.
    pub fn of(layer: usize, trained: &LayerComparison, init: Option<&LayerComparison>) -> Self {
        let is_output = trained.activation_pairs.is_none();
        Self {
            layer,
            weight_cos: MeanMedian::of(&trained.weight_scores()),
            activation_corr: trained.activation_scores().map(|s| MeanMedian::of(&s)),
            cka: trained.cka,
            pairs: (!is_output).then(|| trained.weight_pairs.clone()),
            init: init.map(|i| InitMatch {
                weight_cos: MeanMedian::of(&i.weight_scores()),
                activation_corr: i.activation_scores().map(|s| MeanMedian::of(&s)),
                cka: i.cka,
            }),
        }
    }
}

impl EpochMatch {
    pub fn of(epoch: usize, layers: &[LayerComparison]) -> Self {
        Self {
            epoch,
            layers: layers
                .iter()
                .enumerate()
                .map(|(layer, c)| EpochLayerMatch {
                    layer,
                    weight_cos_mean: MeanMedian::of(&c.weight_scores()).mean,
                    activation_corr_mean: c.activation_scores().map(|s| MeanMedian::of(&s).mean),
                    cka: c.cka,
                })
                .collect(),
        }
    }
}

/// The `q` quantile of `values` (nearest rank).
fn quantile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[((sorted.len() - 1) as f64 * q).round() as usize]
}

/// A layer of two trained networks learned the same thing when most of its matched pairs are
/// closer than 19 in 20 of the pairs matched between the two initial networks: matching two
/// random draws already finds fairly similar vectors, so that is the bar.
pub fn match_verdicts(
    trained: &[LayerComparison],
    init: Option<&[LayerComparison]>,
) -> Vec<Verdict> {
    let layers = trained.len();
    trained
        .iter()
        .enumerate()
        .map(|(l, t)| {
            let name = layer_in_sentence(layers, l);
            let scores = t.weight_scores();
            let m = MeanMedian::of(&scores);
            let output = l + 1 == layers;
            let claim = if output {
                format!("The two networks give each class the same weights in {name}")
            } else {
                format!("The two networks learn the same neurons in {name}")
            };
            let what = if output {
                "cosine of each class's weights with its own"
            } else {
                "matched cosine"
            };
            let Some(i) = init.map(|i| &i[l]) else {
                return Verdict {
                    claim,
                    holds: None,
                    evidence: format!(
                        "{what} {:.3} (median {:.3}), CKA {:.3}; the initial weights of both \
                         are needed for a baseline",
                        m.mean, m.median, t.cka
                    ),
                };
            };
            let base = i.weight_scores();
            let bar = quantile(&base, 0.95);
            let activations = match (t.activation_scores(), i.activation_scores()) {
                (Some(ta), Some(ia)) => format!(
                    "; activations matched at correlation {:.3} against {:.3}",
                    MeanMedian::of(&ta).mean,
                    MeanMedian::of(&ia).mean
                ),
                _ => String::new(),
            };
            Verdict {
                claim,
                holds: Some(m.median > bar),
                evidence: format!(
                    "{what} {:.3} (median {:.3}) against {:.3} for the initial weights, whose \
                     95th percentile is {bar:.3}{activations}; CKA {:.3} against {:.3}",
                    m.mean,
                    m.median,
                    MeanMedian::of(&base).mean,
                    t.cka,
                    i.cka
                ),
            }
        })
        .collect()
}
