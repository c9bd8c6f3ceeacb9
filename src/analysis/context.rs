//! What every snapshot's figures share, and one snapshot's pass over the training file: the
//! nearest-input searches, the hidden activations, and the figures the dynamics follow.

use super::blend::{Candidates, feeding};
use super::collapse::collapse_on_training_file;
use super::forward::{continue_hidden, images_matrix, kernel};
use super::layer_view::{LayerView, NEIGHBOURS, layer_view};
use super::linalg::{Matrix, ProductRows};
use super::nearest::{
    LayerOutputs, NearestInput, UnitRows, nearest_and_activations, nearest_unit_inputs,
};
use super::probe::winners;
use super::results::{AnalysisInputs, EpochFigures, Snapshot};
use super::templates::{ClassTemplate, class_means, class_means_of, class_template};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::model_kind::ModelKind;
use crate::core::weights::{LayerWeights, model_kind};

/// What one snapshot's pass over the training file yields.
pub(super) struct SnapshotReadings {
    pub(super) figures: EpochFigures,
    pub(super) nearest: Vec<NearestInput>,
    pub(super) hidden: Vec<Matrix>,
    pub(super) gathered: Option<Gathered>,
    /// The explorer's view of every layer, where the analysis is asked for them and the
    /// network has at most one hidden layer.
    pub(super) views: Option<Vec<LayerView>>,
}

/// One snapshot's searches over the training file.
struct Searched {
    nearest: Vec<NearestInput>,
    hidden: Vec<Matrix>,
    gathered: Option<Gathered>,
    views: Option<Vec<LayerView>>,
}

/// What a snapshot's nearest-input searches leave for its every-layer figures: per searched
/// layer (all but the output layer of a network with a hidden layer) the candidates for its
/// blend curve, and what each later layer reads as unit rows.
pub(super) struct Gathered {
    pub(super) candidates: Vec<Candidates>,
    pub(super) hidden_rows: Vec<ProductRows>,
}

/// What every snapshot's reading reads besides its weights: the data, and how the network
/// reads them.
#[derive(Clone, Copy)]
pub(super) struct SnapshotInputs<'a> {
    pub(super) activation: Activation,
    pub(super) train: &'a ImageSet,
    pub(super) test: &'a ImageSet,
    pub(super) probe_index: usize,
    pub(super) explorer: bool,
}

/// What every snapshot's figures share: the inputs, the training images as unit rows and
/// their class means, and the test images.
pub(super) struct Context<'a> {
    pub(super) inputs: SnapshotInputs<'a>,
    pub(super) images: UnitRows,
    pub(super) means: Matrix,
    pub(super) global: Vec<f32>,
    pub(super) test_images: Matrix,
}

impl<'a> Context<'a> {
    /// The context of `inputs`' snapshots (which it does not keep).
    pub(super) fn new(inputs: &AnalysisInputs<'a>) -> Self {
        let train = inputs.train;
        let (means, global) = class_means(train);
        Context {
            inputs: SnapshotInputs {
                activation: inputs.activation,
                train,
                test: inputs.test,
                probe_index: inputs.probe_index,
                explorer: inputs.explorer,
            },
            images: UnitRows::of_images(train),
            means,
            global,
            test_images: images_matrix(inputs.test),
        }
    }

    /// Whether this context was built for `inputs`' data, so their analysis may use it.
    pub(super) fn reads(&self, inputs: &AnalysisInputs<'_>) -> bool {
        let same = self.inputs;
        std::ptr::eq(same.train, inputs.train)
            && std::ptr::eq(same.test, inputs.test)
            && same.activation == inputs.activation
            && same.probe_index == inputs.probe_index
            && same.explorer == inputs.explorer
    }

    pub(super) fn class_template(&self, layers: &[LayerWeights]) -> ClassTemplate {
        class_template(&self.means, &self.global, &kernel(&layers[0]))
    }

    /// The nearest-input figure of every hidden layer (for an SLP, its only layer), and the
    /// hidden activations over the training file. The first layer's product with the images
    /// serves both; where `gather` asks, every search also keeps its layer's candidates for
    /// the blend curves.
    fn nearest_and_hidden(&self, layers: &[LayerWeights], gather: bool) -> Searched {
        let labels = &self.inputs.train.labels;
        let activation = self.inputs.activation;
        let rows = self.inputs.train.len();
        let mut candidates = Vec::new();
        let mut first = gather.then(|| Candidates::new(layers[0].d_out, rows));
        // The explorer's five best per neuron come from the same products, where its views
        // can be built from this pass: networks of at most one hidden layer (deeper ones
        // compute later layers' inputs in another order, so the explorer searches itself).
        let views = self.inputs.explorer && layers.len() <= 2;
        let mut top = views.then(|| Candidates::keeping(layers[0].d_out, NEIGHBOURS));
        let observe = |start: usize, products: &Matrix| {
            feeding(&mut first)(start, products);
            feeding(&mut top)(start, products);
        };
        if model_kind(layers) == ModelKind::Slp {
            let (nearest, logits) = if views {
                let (nearest, logits) =
                    nearest_and_activations(&self.images, labels, &layers[0], None, false, observe);
                (nearest, Some(logits.values))
            } else {
                let nearest = nearest_unit_inputs(&self.images.rows, labels, &layers[0], observe);
                (nearest, None)
            };
            let view = top
                .zip(logits)
                .map(|(top, logits)| vec![layer_view(top, &layers[0], &logits, labels)]);
            candidates.extend(first);
            let gathered = gather.then(|| Gathered {
                candidates,
                hidden_rows: Vec::new(),
            });
            return Searched {
                nearest: vec![nearest],
                hidden: Vec::new(),
                gathered,
                views: view,
            };
        }
        // The first hidden layer's outputs are read as unit rows by the output layer's search
        // for the explorer, by the blend curves and by a second hidden layer's search.
        let wants_unit_rows = views || gather || layers.len() > 2;
        let (first_nearest, first_outputs) = nearest_and_activations(
            &self.images,
            labels,
            &layers[0],
            Some(activation),
            wants_unit_rows,
            observe,
        );
        let LayerOutputs { values: h, unit } = first_outputs;
        candidates.extend(first);
        let mut views = top.map(|top| vec![layer_view(top, &layers[0], &h, labels)]);
        // The output layer's search, for the explorer only.
        if let Some(views) = views.as_mut() {
            let last = unit.as_ref().expect("asked for with the views");
            let output = &layers[1];
            let mut top = Candidates::keeping(output.d_out, NEIGHBOURS);
            let (_, logits) =
                nearest_and_activations(last, labels, output, None, false, |s, p| top.add(s, p));
            views.push(layer_view(top, output, &logits.values, labels));
        }
        let middle = &layers[1..layers.len() - 1];
        let hidden = continue_hidden(h, middle, activation);
        let mut nearest = vec![first_nearest];
        let mut hidden_rows = Vec::new();
        // The unit rows of `hidden`'s first entry, until a search or the blend takes them.
        let mut known_rows = unit.map(|u| u.rows);
        for (inputs, layer) in hidden.iter().zip(middle) {
            let unit = known_rows
                .take()
                .unwrap_or_else(|| ProductRows::unit_rows(inputs.rows, inputs.cols, &inputs.data));
            let mut c = gather.then(|| Candidates::new(layer.d_out, rows));
            nearest.push(nearest_unit_inputs(&unit, labels, layer, feeding(&mut c)));
            candidates.extend(c);
            hidden_rows.push(unit);
        }
        let gathered = gather.then(|| {
            // The output layer reads the last hidden layer; no nearest-input search does.
            let last = hidden.last().expect("a network with a hidden layer");
            hidden_rows.push(
                known_rows
                    .unwrap_or_else(|| ProductRows::unit_rows(last.rows, last.cols, &last.data)),
            );
            Gathered {
                candidates,
                hidden_rows,
            }
        });
        Searched {
            nearest,
            hidden,
            gathered,
            views,
        }
    }

    /// One snapshot's figures for the dynamics, its nearest-input figures, its hidden
    /// activations over the training file, and where `gather` asks, the first layer's
    /// candidates for the blend curves. The collapse figures of a gathered snapshot are left
    /// to [`Context::every_layer`], which computes them all.
    pub(super) fn snapshot_figures(&self, snapshot: &Snapshot, gather: bool) -> SnapshotReadings {
        let layers = &snapshot.layers;
        let train = self.inputs.train;
        let Searched {
            nearest,
            hidden,
            gathered,
            views,
        } = self.nearest_and_hidden(layers, gather);
        let mut figures = self.epoch_figures(snapshot, &nearest);
        if let (Some(h), Some(output), false) = (hidden.last(), layers.last(), gather) {
            let (means, global) = class_means_of(h, &train.labels);
            let template = class_template(&means, &global, &kernel(output));
            figures.output_diag_centered = template.diag_centered.map(|d| d.diag_mean);
            for (l, h) in hidden.iter().enumerate() {
                let reader = (l + 1 == hidden.len()).then_some(output);
                let collapse = collapse_on_training_file(h, &train.labels, reader);
                figures.nc1_layers.push(collapse.nc1);
                figures.nc3 = collapse.nc3;
            }
            figures.nc1 = figures.nc1_layers.last().copied();
        }
        SnapshotReadings {
            figures,
            nearest,
            hidden,
            gathered,
            views,
        }
    }

    fn epoch_figures(&self, snapshot: &Snapshot, nearest: &[NearestInput]) -> EpochFigures {
        let w = winners(
            &snapshot.layers,
            self.inputs.activation,
            &self.inputs.train.image(self.inputs.probe_index),
        );
        let ct = self.class_template(&snapshot.layers);
        EpochFigures {
            epoch: snapshot.epoch,
            probe_cos: w.iter().map(|&(_, c)| c).collect(),
            probe_winner: w.iter().map(|&(i, _)| i).collect(),
            class_template: ct.diag,
            class_template_centered: ct.diag_centered,
            class_template_best_match_centered: ct.best_match_mean_centered,
            nearest_input: nearest.iter().map(|n| n.summary).collect(),
            output_diag_centered: None,
            nc1: None,
            nc3: None,
            nc1_layers: Vec::new(),
        }
    }
}
