//! What the explorer page shows beyond its own forward pass, for every saved epoch: each
//! neuron's most similar training inputs (searched over the whole training file, which the
//! page does not carry), its mean output per class, and the effective templates.

use super::blend::Candidates;
use super::forward::kernel;
use super::linalg::{Matrix, ProductRows};
use super::nearest::nearest_and_activations;
use super::pass::Snapshot;
use super::templates::{class_means_of, effective_templates};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::LayerWeights;

/// Training inputs shown per neuron.
pub const NEIGHBOURS: usize = 5;
/// Rows per block when a layer's inputs are searched.
const BLOCK_ROWS: usize = 8192;

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

/// Every layer at one epoch, and the network's effective templates (with a hidden layer).
#[derive(Debug, Clone, PartialEq)]
pub struct EpochView {
    pub epoch: usize,
    pub layers: Vec<LayerView>,
    pub effective: Option<Matrix>,
}

/// The training images' unit-length rows and lengths, shared by every epoch's search.
pub struct ExplorerInputs<'a> {
    pub activation: Activation,
    pub train: &'a ImageSet,
    pub test: &'a ImageSet,
    unit_images: ProductRows,
    norms: Vec<f32>,
}

impl<'a> ExplorerInputs<'a> {
    pub fn new(activation: Activation, train: &'a ImageSet, test: &'a ImageSet) -> Self {
        ExplorerInputs {
            activation,
            train,
            test,
            unit_images: ProductRows::unit_rows(train.len(), train.pixels(), &train.images),
            norms: (0..train.len())
                .map(|i| train.image(i).iter().map(|v| v * v).sum::<f32>().sqrt())
                .collect(),
        }
    }

    /// Everything the page shows of one snapshot.
    pub fn epoch_view(&self, snapshot: &Snapshot) -> EpochView {
        let layers = &snapshot.layers;
        let labels = &self.train.labels;
        let mut views = Vec::with_capacity(layers.len());
        let first = &layers[0];
        let mut search = Candidates::keeping(first.d_out, NEIGHBOURS);
        // The first layer's outputs come with its search (one product of the sparse images).
        let (_, mut outputs) = nearest_and_activations(
            &self.unit_images,
            &self.norms,
            labels,
            first,
            self.output_activation(layers, 0),
            |start, products| search.add(start, products),
        );
        views.push(layer_view(search, first, &outputs, labels));
        for (l, layer) in layers.iter().enumerate().skip(1) {
            let inputs = outputs;
            let unit = ProductRows::unit_rows(inputs.rows, inputs.cols, &inputs.data);
            let mut search = Candidates::keeping(layer.d_out, NEIGHBOURS);
            let w = kernel(layer);
            for start in (0..inputs.rows).step_by(BLOCK_ROWS) {
                let end = (start + BLOCK_ROWS).min(inputs.rows);
                search.add(start, &unit.rows_matmul(start, end, &w));
            }
            outputs = inputs.matmul(&w);
            outputs.add_row_vector(&layer.bias);
            if let Some(activation) = self.output_activation(layers, l) {
                outputs.map(|v| activation.apply(v));
            }
            views.push(layer_view(search, layer, &outputs, labels));
        }
        EpochView {
            epoch: snapshot.epoch,
            layers: views,
            effective: effective_templates(layers, self.activation, self.test),
        }
    }

    /// The hidden layers' activation; none for the output layer, whose outputs are logits.
    fn output_activation(&self, layers: &[LayerWeights], l: usize) -> Option<Activation> {
        (l + 1 < layers.len()).then_some(self.activation)
    }
}

/// A layer's view from its search (products of unit-length inputs with its raw weights) and
/// its outputs over the training file.
fn layer_view(
    search: Candidates,
    layer: &LayerWeights,
    outputs: &Matrix,
    labels: &[u8],
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
