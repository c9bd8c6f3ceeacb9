//! One layer of the explorer page at one epoch: each neuron's most similar training inputs
//! and its mean output per class, from a search's products. Both the analysis (which hands
//! the page its views) and the explorer's own searches build it here.

use super::blend::Candidates;
use super::linalg::Matrix;
use super::templates::class_means_of;
use crate::core::data::Label;
use crate::core::weights::LayerWeights;

/// Training inputs shown per neuron.
pub const NEIGHBOURS: usize = 5;

/// One layer at one epoch.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerView {
    /// Per neuron, the training images whose input to this layer is most like its weights,
    /// most similar first (`neurons x NEIGHBOURS`), and those cosines.
    pub neighbours: Vec<u32>,
    pub cosines: Vec<f32>,
    /// Per class, the neurons' mean output over its training images (`classes x neurons`).
    pub class_means: Matrix,
}

/// A layer's view from its search (products of unit-length inputs with its raw weights) and
/// its outputs over the training file.
pub(crate) fn layer_view(
    search: Candidates,
    layer: &LayerWeights,
    outputs: &Matrix,
    labels: &[Label],
) -> LayerView {
    let (mut neighbours, mut cosines) = (Vec::new(), Vec::new());
    for (j, ranked) in search.ranked().into_iter().enumerate() {
        let norm = layer.column(j).iter().map(|v| v * v).sum::<f32>().sqrt();
        for &(row, product) in ranked
            .iter()
            .chain(std::iter::repeat(&(0, 0.0)))
            .take(NEIGHBOURS)
        {
            neighbours.push(row as u32);
            cosines.push(if norm > 0.0 { product / norm } else { 0.0 });
        }
    }
    LayerView {
        neighbours,
        cosines,
        class_means: class_means_of(outputs, labels).0,
    }
}
