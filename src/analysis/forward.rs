//! The one forward pass on the host: every layer's input and output for a batch of images,
//! shared by the analysis, the figures and the evaluation of imported weights.

use super::linalg::{Matrix, argmax};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::metrics::Evaluation;
use crate::core::weights::LayerWeights;

/// A layer's weights as a `d_in x d_out` matrix (the Keras kernel).
pub fn kernel(layer: &LayerWeights) -> Matrix {
    Matrix::new(layer.d_in, layer.d_out, layer.weight.clone())
}

pub fn images_matrix(set: &ImageSet) -> Matrix {
    Matrix::new(set.len(), set.pixels(), set.images.to_vec())
}

/// Pre-activations `z` of every layer for a batch of inputs (rows).
pub fn pre_activations(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Vec<Matrix> {
    let mut out = Vec::with_capacity(layers.len());
    // The first layer reads `x` itself: the test set is tens of MB.
    let mut input: Option<Matrix> = None;
    for (i, layer) in layers.iter().enumerate() {
        let mut z = input.as_ref().unwrap_or(x).matmul(&kernel(layer));
        z.add_row_vector(&layer.bias);
        if i + 1 < layers.len() {
            input = Some(z.mapped(|v| activation.apply(v)));
        }
        out.push(z);
    }
    out
}

/// Every layer's input and output for a batch: `inputs[l]` feeds layer `l`, `outputs[l]` is
/// its activation (logits for the last layer).
pub struct Propagation {
    pub inputs: Vec<Matrix>,
    pub outputs: Vec<Matrix>,
}

pub fn propagate(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Propagation {
    let outputs = layer_outputs(layers, activation, x);
    let last = layers.len() - 1;
    let inputs = std::iter::once(x.clone())
        .chain(outputs[..last].iter().cloned())
        .collect();
    Propagation { inputs, outputs }
}

/// Every layer's outputs for a batch of inputs (rows): its activations, logits for the last
/// layer. [`propagate`] without the copies of what each layer reads.
pub fn layer_outputs(layers: &[LayerWeights], activation: Activation, x: &Matrix) -> Vec<Matrix> {
    let last = layers.len() - 1;
    pre_activations(layers, activation, x)
        .into_iter()
        .enumerate()
        .map(|(l, mut z)| {
            if l < last {
                z.map(|v| activation.apply(v));
            }
            z
        })
        .collect()
}

/// Test loss and accuracy of `layers` computed on the host, for weights that were not trained
/// here.
pub(crate) fn evaluate_on_host(
    layers: &[LayerWeights],
    activation: Activation,
    test: &ImageSet,
) -> Evaluation {
    let x = images_matrix(test);
    let outputs = layer_outputs(layers, activation, &x);
    let logits = outputs.last().expect("a network has a layer");
    let (mut loss, mut correct) = (0f64, 0usize);
    for (r, &label) in test.labels.iter().enumerate() {
        let row = logits.row(r);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = row
            .iter()
            .map(|&z| f64::from(z - max).exp())
            .sum::<f64>()
            .ln();
        loss += log_sum - f64::from(row[usize::from(label)] - max);
        let best = argmax(row);
        correct += usize::from(best == usize::from(label));
    }
    let n = test.len().max(1) as f64;
    Evaluation {
        loss: loss / n,
        accuracy: correct as f64 / n,
    }
}

/// Rows per block when a whole data set goes through the network, to bound the memory of the
/// copied inputs.
const FORWARD_BLOCK_ROWS: usize = 8192;

/// The activations of every hidden layer (the inputs of layers 1, 2, …) for every image of
/// `set`, computed block by block so that the images are never copied whole.
pub fn hidden_activations(
    layers: &[LayerWeights],
    activation: Activation,
    set: &ImageSet,
) -> Vec<Matrix> {
    let hidden = layers.len().saturating_sub(1);
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); hidden];
    let p = set.pixels();
    for start in (0..set.len()).step_by(FORWARD_BLOCK_ROWS) {
        let end = (start + FORWARD_BLOCK_ROWS).min(set.len());
        let mut x = Matrix::new(
            end - start,
            p,
            set.images.view().slice(start * p..end * p).to_vec(),
        );
        for (l, layer) in layers[..hidden].iter().enumerate() {
            x = x.matmul(&kernel(layer));
            x.add_row_vector(&layer.bias);
            x.map(|v| activation.apply(v));
            out[l].extend_from_slice(&x.data);
        }
    }
    out.into_iter()
        .zip(&layers[..hidden])
        .map(|(data, layer)| Matrix::new(set.len(), layer.d_out, data))
        .collect()
}

/// The hidden activations after the first hidden layer's: `first` through `later` (the hidden
/// layers after the first), each in turn; the first entry is `first` itself.
pub fn continue_hidden(
    first: Matrix,
    later: &[LayerWeights],
    activation: Activation,
) -> Vec<Matrix> {
    let mut out = vec![first];
    for layer in later {
        let mut x = out[out.len() - 1].matmul(&kernel(layer));
        x.add_row_vector(&layer.bias);
        x.map(|v| activation.apply(v));
        out.push(x);
    }
    out
}
