//! What the explorer page shows beyond its own forward pass, for every saved epoch: each
//! neuron's most similar training inputs (searched over the whole training file, which the
//! page does not carry), its mean output per class, the effective templates and every deeper
//! neuron's pixel template.

use super::blend::Candidates;
use super::forward::images_matrix;
use super::layer_view::layer_view;
pub use super::layer_view::{LayerView, NEIGHBOURS};
use super::linalg::Matrix;
use super::nearest::{UnitRows, nearest_and_activations};
use super::pixel_templates::pixel_and_effective_templates;
use super::results::Snapshot;
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::LayerWeights;

/// Every layer at one epoch, the network's effective templates (with a hidden layer) and
/// the pixel templates of every layer after the first (`neurons x pixels` each).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochView {
    pub epoch: usize,
    pub layers: Vec<LayerView>,
    pub effective: Option<Matrix>,
    pub pixel_templates: Vec<Matrix>,
}

/// The training images as unit-length rows, shared by every epoch's search.
pub struct ExplorerInputs<'a> {
    pub activation: Activation,
    pub train: &'a ImageSet,
    pub test: &'a ImageSet,
    images: UnitRows,
    test_images: Matrix,
}

impl<'a> ExplorerInputs<'a> {
    pub fn new(activation: Activation, train: &'a ImageSet, test: &'a ImageSet) -> Self {
        ExplorerInputs {
            activation,
            train,
            test,
            images: UnitRows::of_images(train),
            test_images: images_matrix(test),
        }
    }

    /// Everything the page shows of one snapshot. Each layer's search and outputs come from
    /// one product of its unit-length inputs with its weights.
    pub fn epoch_view(&self, snapshot: &Snapshot) -> EpochView {
        let layers = &snapshot.layers;
        let labels = &self.train.labels;
        let mut views = Vec::with_capacity(layers.len());
        let mut next_inputs: Option<UnitRows> = None;
        for (l, layer) in layers.iter().enumerate() {
            let inputs = next_inputs.as_ref().unwrap_or(&self.images);
            let mut search = Candidates::keeping(layer.d_out, NEIGHBOURS);
            let (_, outputs) = nearest_and_activations(
                inputs,
                labels,
                layer,
                self.output_activation(layers, l),
                l + 1 < layers.len(),
                |start, products| search.add(start, products),
            );
            views.push(layer_view(search, layer, &outputs.values, labels));
            next_inputs = outputs.unit;
        }
        let (mut pixel, effective) =
            pixel_and_effective_templates(layers, self.activation, &self.test_images, self.test);
        EpochView {
            epoch: snapshot.epoch,
            layers: views,
            effective,
            pixel_templates: pixel.split_off(1),
        }
    }

    /// The hidden layers' activation; none for the output layer, whose outputs are logits.
    fn output_activation(&self, layers: &[LayerWeights], l: usize) -> Option<Activation> {
        (l + 1 < layers.len()).then_some(self.activation)
    }
}
