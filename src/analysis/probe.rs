//! Figure 1: the most active neuron of each layer for one input, and how much its weights
//! look like that layer's input.

use serde::{Deserialize, Serialize};

use super::forward::propagate;
use super::linalg::{Matrix, argmax, cosine};
use crate::core::config::Activation;
use crate::core::data::{ImageSet, Label};
use crate::core::weights::LayerWeights;

/// Figure 1 for one layer: the most active neuron for the probe and how much its weight
/// column looks like the layer's input.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerWinner {
    pub layer: usize,
    pub winner: usize,
    pub cos_trained: f64,
    /// Absent where the initial weights are unknown (imported weights without `--init`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub winner_init: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cos_init: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Probe {
    pub index: usize,
    pub label: Label,
    pub layers: Vec<LayerWinner>,
}

/// Winner index and cosine per layer for one input.
pub fn winners(
    layers: &[LayerWeights],
    activation: Activation,
    probe: &[f32],
) -> Vec<(usize, f64)> {
    let x = Matrix::new(1, probe.len(), probe.to_vec());
    let p = propagate(layers, activation, &x);
    layers
        .iter()
        .enumerate()
        .map(|(l, layer)| {
            let winner = argmax(p.outputs[l].row(0));
            (winner, cosine(p.inputs[l].row(0), &layer.column(winner)))
        })
        .collect()
}

pub fn probe(
    trained: &[LayerWeights],
    init: Option<&[LayerWeights]>,
    activation: Activation,
    train: &ImageSet,
    index: usize,
) -> Probe {
    let image = train.image(index);
    let t = winners(trained, activation, &image);
    let i = init.map(|init| winners(init, activation, &image));
    Probe {
        index,
        label: train.labels[index],
        layers: t
            .iter()
            .enumerate()
            .map(|(layer, &(winner, cos_trained))| {
                let at_init = i.as_ref().map(|i| i[layer]);
                LayerWinner {
                    layer,
                    winner,
                    cos_trained,
                    winner_init: at_init.map(|(w, _)| w),
                    cos_init: at_init.map(|(_, c)| c),
                }
            })
            .collect(),
    }
}
