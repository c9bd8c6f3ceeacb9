//! Neural collapse (Papyan, Han & Donoho, PNAS 2020) of a hidden layer: how tightly
//! each class gathers around its mean (NC1), how the class means spread (NC2), whether the
//! output layer's rows become those means (NC3, "self-duality"), and whether the network
//! decides like a nearest-class-mean rule (NC4). Definitions in `docs/method.md`.

use crate::core::data::Label;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::class_means::ClassMeans;
use super::linalg::{Matrix, argmax, symmetric_pseudo_inverse};
use crate::core::weights::LayerWeights;

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct NeuralCollapse {
    /// tr(Σ_W Σ_B⁺) / K: within-class spread against the spread of the class means; 0 when
    /// every image sits on its class mean.
    pub nc1: f64,
    /// Mean and standard deviation of cos(m_c, m_c') over the class pairs; a simplex gives
    /// −1/(K−1) with no spread.
    pub nc2_cos_mean: f64,
    pub nc2_cos_std: f64,
    /// Standard deviation over mean of the centred class means' norms.
    pub nc2_norm_cv: f64,
    /// ‖W/‖W‖ − M/‖M‖‖²_F between the output layer's rows and the centred class means; only
    /// for the hidden layer that feeds the output layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nc3: Option<f64>,
    /// Fraction of test images whose nearest class mean is the class the network predicts.
    pub nc4: f64,
}

/// The centred class means `m_c = μ_c − μ_G` (K × d) and the class means `μ_c`, in f64.
fn centred_means(h: &Matrix, labels: &[Label]) -> (Vec<Vec<f64>>, Vec<Vec<f64>>) {
    let ClassMeans { per_class, global } = ClassMeans::of_matrix(h, labels);
    let centred = per_class
        .iter()
        .map(|m| m.iter().zip(&global).map(|(a, g)| a - g).collect())
        .collect();
    (centred, per_class)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

fn mean_and_std(values: &[f64]) -> (f64, f64) {
    let n = values.len().max(1) as f64;
    let mean = values.iter().sum::<f64>() / n;
    let var = values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / n;
    (mean, var.sqrt())
}

/// NC1 = tr(Σ_W Σ_B⁺)/K. With Σ_B = MᵀM/K for the K × d matrix M of centred means,
/// Σ_B⁺ = K · Mᵀ G⁺² M where G = M Mᵀ, so NC1 = mean over images of ‖G⁺ M (h − μ_y)‖²: only
/// a K × K pseudo-inverse is needed, whatever the layer's width.
fn nc1(h: &Matrix, labels: &[Label], centred: &[Vec<f64>], means: &[Vec<f64>]) -> f64 {
    let k = centred.len();
    let g: Vec<f64> = (0..k * k)
        .map(|i| dot(&centred[i / k], &centred[i % k]))
        .collect();
    // The centred means span K − 1 dimensions at most: G is singular, hence the pseudo-inverse.
    let g_pinv = symmetric_pseudo_inverse(&g, k);
    // B = G⁺ M, K × d.
    let b: Vec<Vec<f64>> = (0..k)
        .map(|i| {
            (0..h.cols)
                .map(|j| (0..k).map(|c| g_pinv[i * k + c] * centred[c][j]).sum())
                .collect()
        })
        .collect();
    // ‖B r_i‖² for every image at once, as one matrix product of the residuals with Bᵀ.
    let rows = labels.len().min(h.rows);
    let mut residuals = Matrix::zeros(rows, h.cols);
    residuals
        .data
        .par_chunks_mut(h.cols.max(1))
        .zip(labels)
        .enumerate()
        .for_each(|(r, (residual, &label))| {
            let mean = &means[label as usize];
            for ((out, &v), m) in residual.iter_mut().zip(h.row(r)).zip(mean) {
                *out = (f64::from(v) - m) as f32;
            }
        });
    let bt = Matrix::new(
        h.cols,
        k,
        (0..h.cols * k).map(|i| b[i % k][i / k] as f32).collect(),
    );
    let projected = residuals.matmul(&bt);
    let total: f64 = projected.data.iter().map(|&v| f64::from(v).powi(2)).sum();
    total / labels.len().min(h.rows).max(1) as f64
}

fn nc2(centred: &[Vec<f64>]) -> (f64, f64, f64) {
    let norms: Vec<f64> = centred.iter().map(|m| dot(m, m).sqrt()).collect();
    let mut cosines = Vec::new();
    for a in 0..centred.len() {
        for b in a + 1..centred.len() {
            let denominator = norms[a] * norms[b];
            cosines.push(if denominator > 0.0 {
                dot(&centred[a], &centred[b]) / denominator
            } else {
                0.0
            });
        }
    }
    let (cos_mean, cos_std) = mean_and_std(&cosines);
    let (norm_mean, norm_std) = mean_and_std(&norms);
    let cv = if norm_mean > 0.0 {
        norm_std / norm_mean
    } else {
        0.0
    };
    (cos_mean, cos_std, cv)
}

/// ‖W/‖W‖_F − M/‖M‖_F‖²_F, W's row k being output neuron k's incoming weights.
fn nc3(output: &LayerWeights, centred: &[Vec<f64>]) -> f64 {
    let w: Vec<Vec<f64>> = (0..output.d_out)
        .map(|k| output.column(k).iter().map(|&v| f64::from(v)).collect())
        .collect();
    let frobenius = |rows: &[Vec<f64>]| rows.iter().map(|r| dot(r, r)).sum::<f64>().sqrt();
    let (w_norm, m_norm) = (frobenius(&w), frobenius(centred));
    if w_norm == 0.0 || m_norm == 0.0 {
        return f64::NAN;
    }
    w.iter()
        .zip(centred)
        .flat_map(|(wr, mr)| {
            wr.iter()
                .zip(mr)
                .map(|(a, b)| (a / w_norm - b / m_norm).powi(2))
        })
        .sum()
}

/// The class the output layer predicts for each row of `h` (the activations feeding it).
pub fn predictions(h: &Matrix, output: &LayerWeights) -> Vec<usize> {
    let mut logits = vec![0.0f32; output.d_out];
    (0..h.rows)
        .map(|r| {
            let h = h.row(r);
            for (k, logit) in logits.iter_mut().enumerate() {
                *logit = output.bias[k]
                    + h.iter()
                        .enumerate()
                        .map(|(j, &v)| v * output.weight[j * output.d_out + k])
                        .sum::<f32>();
            }
            argmax(&logits)
        })
        .collect()
}

/// Fraction of the rows of `test_h` whose nearest class mean (Euclidean) is the class the
/// network predicts for them.
fn nc4(test_h: &Matrix, predicted: &[usize], means: &[Vec<f64>]) -> f64 {
    if test_h.rows == 0 {
        return f64::NAN;
    }
    let agree = (0..test_h.rows)
        .filter(|&r| {
            let h = test_h.row(r);
            let nearest = means
                .iter()
                .map(|m| {
                    h.iter()
                        .zip(m)
                        .map(|(&v, &c)| (f64::from(v) - c).powi(2))
                        .sum::<f64>()
                })
                .enumerate()
                .min_by(|a, b| a.1.total_cmp(&b.1))
                .map_or(0, |(c, _)| c);
            nearest == predicted[r]
        })
        .count();
    agree as f64 / test_h.rows as f64
}

/// The neural-collapse figures of the last hidden layer: `train_h` its activations over the
/// training file, `test_h` over the test file, `output` the output layer reading them.
pub fn neural_collapse(
    train_h: &Matrix,
    train_labels: &[Label],
    test_h: &Matrix,
    output: &LayerWeights,
) -> NeuralCollapse {
    let predicted = predictions(test_h, output);
    collapse(train_h, train_labels, test_h, &predicted, Some(output))
}

/// The figures of any hidden layer but NC3, which needs the output layer reading it:
/// `predicted` are the network's classes for the test images.
pub fn hidden_collapse(
    train_h: &Matrix,
    train_labels: &[Label],
    test_h: &Matrix,
    predicted: &[usize],
) -> NeuralCollapse {
    collapse(train_h, train_labels, test_h, predicted, None)
}

fn collapse(
    train_h: &Matrix,
    train_labels: &[Label],
    test_h: &Matrix,
    predicted: &[usize],
    output: Option<&LayerWeights>,
) -> NeuralCollapse {
    let TrainingFileCollapse {
        nc1,
        nc3,
        centred,
        means,
    } = collapse_on_training_file(train_h, train_labels, output);
    let (nc2_cos_mean, nc2_cos_std, nc2_norm_cv) = nc2(&centred);
    NeuralCollapse {
        nc1,
        nc2_cos_mean,
        nc2_cos_std,
        nc2_norm_cv,
        nc3,
        nc4: nc4(test_h, predicted, &means),
    }
}

/// The figures of a hidden layer that need only the training file: NC1, and NC3 where the
/// output layer reads the layer; with the class means they come from.
pub struct TrainingFileCollapse {
    pub nc1: f64,
    pub nc3: Option<f64>,
    centred: Vec<Vec<f64>>,
    means: Vec<Vec<f64>>,
}

/// NC1 of any hidden layer, and NC3 where `output` reads it: the one computation of both, for
/// the dynamics' every epoch and for the trained and initial figures alike.
pub fn collapse_on_training_file(
    train_h: &Matrix,
    train_labels: &[Label],
    output: Option<&LayerWeights>,
) -> TrainingFileCollapse {
    let (centred, means) = centred_means(train_h, train_labels);
    TrainingFileCollapse {
        nc1: nc1(train_h, train_labels, &centred, &means),
        nc3: output.map(|o| nc3(o, &centred)),
        centred,
        means,
    }
}
