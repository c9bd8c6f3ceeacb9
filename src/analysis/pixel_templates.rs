//! Every neuron seen in pixels: its pixel template, the mean over a set of inputs of the
//! gradient of its pre-activation with respect to the input, and how much that template looks
//! like a training input or a class. `docs/method.md`, section 7.
//!
//! With kernels `K_l` (`d_in x d_out`) and `D_l = diag f'(z_l)` for one input, the Jacobian of
//! layer `L`'s pre-activations is `K_L^T D_{L-1} K_{L-1}^T … D_0 K_0^T`. `K_0^T` does not depend
//! on the input, so the mean Jacobian is `M_L K_0^T` with `M_L` the mean of the rest. Up to two
//! diagonals that mean has a closed form: `M_1 = K_1^T diag(mean d_0)` and
//! `M_2 = K_2^T (K_1^T ⊙ mean d_1 d_0^T)`; deeper layers sum the chain input by input.

use super::context::Context;
use super::forward::{kernel, pre_activations};
use super::linalg::{Matrix, ProductRows, Summary};
use super::nearest::nearest_unit_inputs;
use super::results::{ClassBest, PixelLikeness};
use super::templates::{ClassTemplate, class_template, effective_templates_of};
use crate::core::config::Activation;
use crate::core::data::{ImageSet, Label};
use crate::core::weights::LayerWeights;
use rayon::prelude::*;

/// Every layer's pixel templates for the inputs `x` (rows), each `neurons x inputs`: entry 0
/// is the first layer's weights, transposed.
pub fn pixel_templates(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Vec<Matrix> {
    let hidden = &layers[..layers.len() - 1];
    pixel_templates_of(layers, activation, &pre_activations(hidden, activation, x))
}

/// The pixel templates of [`pixel_templates`] and the effective templates of
/// [`effective_templates_of`] over `set`, whose images `images` holds: one forward pass
/// serves both.
pub fn pixel_and_effective_templates(
    layers: &[LayerWeights],
    activation: Activation,
    images: &Matrix,
    set: &ImageSet,
) -> (Vec<Matrix>, Option<Matrix>) {
    let pre = pre_activations(&layers[..layers.len() - 1], activation, images);
    (
        pixel_templates_of(layers, activation, &pre),
        effective_templates_of(layers, activation, &pre, set),
    )
}

/// [`pixel_templates`] from the pre-activations `pre` of every layer but the last for the
/// inputs, which [`effective_templates_of`] reads too.
pub fn pixel_templates_of(
    layers: &[LayerWeights],
    activation: Activation,
    pre: &[Matrix],
) -> Vec<Matrix> {
    let first = kernel(&layers[0]).transpose();
    if layers.len() == 1 {
        return vec![first];
    }
    let slopes: Vec<Matrix> = pre[..layers.len() - 1]
        .iter()
        .map(|z| z.mapped(|v| activation.derivative(v)))
        .collect();
    let kernels_t: Vec<Matrix> = layers.iter().map(|l| kernel(l).transpose()).collect();
    let k0 = kernel(&layers[0]);
    let mut out = vec![first];
    for l in 1..layers.len() {
        let m = match l {
            1 => scaled_columns(&kernels_t[1], &column_means(&slopes[0])),
            2 => kernels_t[2].matmul(&hadamard(
                &kernels_t[1],
                &mean_outer(&slopes[1], &slopes[0]),
            )),
            _ => mean_chain(&kernels_t[..=l], &slopes[..l]),
        };
        out.push(m.matmul(&k0.transpose()));
    }
    out
}

/// The mean over the inputs of `K_L^T D_{L-1} … K_1^T D_0` (`d_L x d_0`), summed input by
/// input: `kernels_t` are `K_0^T … K_L^T`, `slopes[l]` holds `f'(z_l)` per input (row). Any
/// depth; [`pixel_templates`] uses it beyond the closed forms.
pub(crate) fn mean_chain(kernels_t: &[Matrix], slopes: &[Matrix]) -> Matrix {
    let top = kernels_t.len() - 1;
    let n = slopes[0].rows;
    let zero = || Matrix::zeros(kernels_t[top].rows, kernels_t[1].cols);
    let add = |a: &mut Matrix, b: &Matrix| {
        a.data.iter_mut().zip(&b.data).for_each(|(x, y)| *x += y);
    };
    // Fixed stretches of inputs, summed in order: the sum does not depend on how many
    // threads there are or how they shared the work.
    let starts: Vec<usize> = (0..n).step_by(CHAIN_INPUTS_PER_TASK).collect();
    let partial: Vec<Matrix> = starts
        .into_par_iter()
        .map(|start| {
            let mut acc = zero();
            for i in start..(start + CHAIN_INPUTS_PER_TASK).min(n) {
                let mut chain = kernels_t[top].clone();
                for l in (1..top).rev() {
                    chain = scaled_columns(&chain, slopes[l].row(i)).matmul(&kernels_t[l]);
                }
                add(&mut acc, &scaled_columns(&chain, slopes[0].row(i)));
            }
            acc
        })
        .collect();
    let mut sum = zero();
    for p in &partial {
        add(&mut sum, p);
    }
    let scale = 1.0 / n.max(1) as f32;
    sum.data.iter_mut().for_each(|v| *v *= scale);
    sum
}

/// Inputs per task of [`mean_chain`].
const CHAIN_INPUTS_PER_TASK: usize = 64;

/// `m · diag(d)`.
fn scaled_columns(m: &Matrix, d: &[f32]) -> Matrix {
    let mut out = m.clone();
    out.data
        .chunks_mut(m.cols.max(1))
        .for_each(|row| row.iter_mut().zip(d).for_each(|(v, s)| *v *= s));
    out
}

fn column_means(m: &Matrix) -> Vec<f32> {
    let mut sums = vec![0f64; m.cols];
    for r in 0..m.rows {
        sums.iter_mut()
            .zip(m.row(r))
            .for_each(|(s, &v)| *s += f64::from(v));
    }
    let n = m.rows.max(1) as f64;
    sums.into_iter().map(|s| (s / n) as f32).collect()
}

/// `a^T b / n` for two `n`-row matrices: the mean outer product of their rows.
fn mean_outer(a: &Matrix, b: &Matrix) -> Matrix {
    let mut out = a.transpose().matmul(b);
    let scale = 1.0 / a.rows.max(1) as f32;
    out.data.iter_mut().for_each(|v| *v *= scale);
    out
}

fn hadamard(a: &Matrix, b: &Matrix) -> Matrix {
    let data = a.data.iter().zip(&b.data).map(|(x, y)| x * y).collect();
    Matrix::new(a.rows, a.cols, data)
}

/// Per neuron (column of `matrix_centered`, one row per class), the best cosine with a centred
/// class mean, averaged over the neurons.
pub(crate) fn class_best(matrix_centered: &[Vec<f64>]) -> ClassBest {
    let neurons = matrix_centered.first().map_or(0, Vec::len);
    let best = (0..neurons).map(|j| {
        matrix_centered
            .iter()
            .map(|row| row[j])
            .fold(f64::NEG_INFINITY, f64::max)
    });
    ClassBest {
        mean: best.sum::<f64>() / neurons.max(1) as f64,
    }
}

/// Templates (`neurons x inputs`) as a layer whose columns they are, for the nearest-input
/// search and the class-template matrix.
pub(crate) fn as_layer(templates: &Matrix) -> LayerWeights {
    LayerWeights {
        d_in: templates.cols,
        d_out: templates.rows,
        weight: templates.transpose().data,
        bias: vec![0.0; templates.rows],
    }
}

/// The nearest-input figure of `templates` against training images already scaled to unit
/// length.
pub(crate) fn nearest_summary(
    unit_images: &ProductRows,
    labels: &[Label],
    templates: &Matrix,
) -> Summary {
    nearest_unit_inputs(unit_images, labels, &as_layer(templates), |_, _| {}).summary
}

impl Context<'_> {
    /// Every layer's likeness figures from its pixel templates; the first layer's templates are
    /// its weights, whose nearest-input summary and class-template matrix the analysis already
    /// has (`first_nearest`, `first_class`).
    pub(super) fn pixel_likeness(
        &self,
        templates: &[Matrix],
        first_nearest: Summary,
        first_class: &ClassTemplate,
    ) -> Vec<PixelLikeness> {
        let labels = &self.inputs.train.labels;
        let first = PixelLikeness {
            nearest: first_nearest,
            class_best: class_best(&first_class.matrix_centered),
        };
        std::iter::once(first)
            .chain(templates[1..].iter().map(|t| {
                let classes = class_template(&self.means, &self.global, &t.transpose());
                PixelLikeness {
                    nearest: nearest_summary(&self.images.rows, labels, t),
                    class_best: class_best(&classes.matrix_centered),
                }
            }))
            .collect()
    }
}
