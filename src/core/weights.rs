//! A network's parameters on the host, and how its layers are named and sized. Everything
//! here is plain data: the Burn module (`nn`) and the analysis both start from it.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::core::config::ModelConfig;
use crate::core::model_kind::ModelKind;

/// One dense layer's parameters on the host: `weight` is `[d_in, d_out]` row-major (a Keras
/// kernel), so neuron `j`'s weights are column `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    pub d_in: usize,
    pub d_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LayerWeights {
    /// Neuron `j`'s incoming weights.
    pub fn column(&self, j: usize) -> Vec<f32> {
        (0..self.d_in)
            .map(|i| self.weight[i * self.d_out + j])
            .collect()
    }

    /// Glorot/Xavier uniform weights in `±sqrt(6 / (d_in + d_out))` and zero biases, the
    /// defaults of a Keras `Dense` layer.
    pub(crate) fn glorot_uniform(d_in: usize, d_out: usize, rng: &mut impl Rng) -> Self {
        let limit = (6.0 / (d_in + d_out) as f64).sqrt() as f32;
        Self {
            d_in,
            d_out,
            weight: (0..d_in * d_out)
                .map(|_| rng.random_range(-limit..limit))
                .collect(),
            bias: vec![0.0; d_out],
        }
    }
}

/// The name of dense layer `l` (0-based, as `analysis.json` numbers them) of a network with
/// `layers` dense layers, used alike by figures, reports and docs: "hidden layer 1", …,
/// "output layer".
pub(crate) fn layer_name(layers: usize, l: usize) -> String {
    if l + 1 == layers {
        "output layer".into()
    } else {
        format!("hidden layer {}", l + 1)
    }
}

/// [`layer_name`] as it reads inside a sentence: "the output layer", "hidden layer 2".
pub(crate) fn layer_in_sentence(layers: usize, l: usize) -> String {
    if l + 1 == layers {
        "the output layer".into()
    } else {
        layer_name(layers, l)
    }
}

/// Layer widths from input to output, e.g. `[784, 128, 10]`.
pub fn layer_widths(config: &ModelConfig, inputs: usize, classes: usize) -> Vec<usize> {
    std::iter::once(inputs)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(classes))
        .collect()
}

/// Keras-style initial weights, drawn on the host from the seed so that every backend starts
/// from bit-identical parameters.
pub fn initial_weights(widths: &[usize], seed: u64) -> Vec<LayerWeights> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    widths
        .windows(2)
        .map(|w| LayerWeights::glorot_uniform(w[0], w[1], &mut rng))
        .collect()
}

/// Layer widths of a stack of layers, input to output.
pub fn widths(layers: &[LayerWeights]) -> Vec<usize> {
    let mut out: Vec<usize> = layers.first().map(|l| l.d_in).into_iter().collect();
    out.extend(layers.iter().map(|l| l.d_out));
    out
}

/// The kind of network a stack of layers makes.
pub fn model_kind(layers: &[LayerWeights]) -> ModelKind {
    ModelKind::of_hidden_layers(layers.len().saturating_sub(1))
}

/// "SLP 784-10", "MLP 784-128-10": the model as titles and `metrics.json` name it.
pub(crate) fn model_description(widths: &[usize]) -> String {
    let kind = ModelKind::of_widths(widths).title();
    let widths: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("{kind} {}", widths.join("-"))
}
