//! The span test of the article's `dW = inputs^T · dout` argument: with plain SGD every update
//! of the first layer is a mix of training inputs, so `W_final - W_init` lies in their span;
//! Adam rescales each weight's step and need not stay there.

use serde::{Deserialize, Serialize};

use super::linalg::{Matrix, symmetric_eigen};

/// Above this many training images the Gram matrix's eigen-decomposition gets slow, and on
/// full MNIST the span is every pixel that is ever lit, so the test says little there.
pub(crate) const MAX_SPAN_IMAGES: usize = 600;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TopK {
    pub k: usize,
    /// Fraction of `||ΔW||²` in the top `k` principal directions of the inputs.
    pub energy: f64,
    /// What a random direction would get: `k / input dimension`.
    pub random: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanTest {
    pub images: usize,
    /// Dimension of the span of the training inputs.
    pub rank: usize,
    /// `||ΔW outside the span|| / ||ΔW||`.
    pub outside_fraction: f64,
    pub top_k: Vec<TopK>,
}

/// How much of `delta` (`d x h`, one column per neuron) lies in the span of the rows of
/// `inputs` (`n x d`), and in its top principal directions (of the uncentred inputs, i.e. the
/// right singular vectors of `inputs`).
pub fn span_test(inputs: &Matrix, delta: &Matrix, ks: &[usize]) -> SpanTest {
    let (n, d) = (inputs.rows, inputs.cols);
    assert_eq!(delta.rows, d, "ΔW must have one row per input dimension");
    let x: Vec<f64> = inputs.data.iter().map(|&v| f64::from(v)).collect();
    let mut gram = vec![0.0; n * n];
    for i in 0..n {
        for j in i..n {
            let dot: f64 = (0..d).map(|k| x[i * d + k] * x[j * d + k]).sum();
            gram[i * n + j] = dot;
            gram[j * n + i] = dot;
        }
    }
    let (values, vectors) = symmetric_eigen(&gram, n);
    let top = values.first().copied().unwrap_or(0.0);
    // Principal directions in input space: v_i = X^T u_i / sqrt(λ_i).
    let directions: Vec<Vec<f64>> = values
        .iter()
        .zip(&vectors)
        .take_while(|(l, _)| **l > 1e-10 * top && **l > 0.0)
        .map(|(l, u)| {
            let norm = l.sqrt();
            (0..d)
                .map(|k| (0..n).map(|i| u[i] * x[i * d + k]).sum::<f64>() / norm)
                .collect()
        })
        .collect();
    let dw: Vec<f64> = delta.data.iter().map(|&v| f64::from(v)).collect();
    let h = delta.cols;
    let total: f64 = dw.iter().map(|v| v * v).sum();
    // Energy of ΔW along each principal direction: ||v_i^T ΔW||².
    let along: Vec<f64> = directions
        .iter()
        .map(|v| {
            (0..h)
                .map(|j| (0..d).map(|k| v[k] * dw[k * h + j]).sum::<f64>().powi(2))
                .sum()
        })
        .collect();
    let inside: f64 = along.iter().sum();
    let fraction = |e: f64| if total > 0.0 { e / total } else { 0.0 };
    SpanTest {
        images: n,
        rank: directions.len(),
        outside_fraction: fraction((total - inside).max(0.0)).sqrt(),
        top_k: ks
            .iter()
            .map(|&k| TopK {
                k,
                energy: fraction(along.iter().take(k).sum()),
                random: k as f64 / d as f64,
            })
            .collect(),
    }
}
