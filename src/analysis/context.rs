//! What every snapshot's figures share, and one snapshot's pass over the training file: the
//! nearest-input searches, the hidden activations, and the figures the dynamics follow.

use super::blend::{Candidates, feeding};
use super::collapse::collapse_on_training_file;
use super::forward::{continue_hidden, kernel};
use super::linalg::{Matrix, ProductRows};
use super::nearest::{NearestInput, UnitRows, nearest_and_activations, nearest_unit_inputs};
use super::probe::winners;
use super::results::{AnalysisInputs, EpochFigures, Snapshot};
use super::templates::{ClassTemplate, class_means, class_means_of, class_template};
use crate::core::model_kind::ModelKind;
use crate::core::weights::{LayerWeights, model_kind};

/// What one snapshot's pass over the training file yields.
pub(super) struct SnapshotReadings {
    pub(super) figures: EpochFigures,
    pub(super) nearest: Vec<NearestInput>,
    pub(super) hidden: Vec<Matrix>,
    pub(super) gathered: Option<Gathered>,
}

/// What a snapshot's nearest-input searches leave for its every-layer figures: per searched
/// layer (all but the output layer of a network with a hidden layer) the candidates for its
/// blend curve, and what each later layer reads as unit rows.
pub(super) struct Gathered {
    pub(super) candidates: Vec<Candidates>,
    pub(super) hidden_rows: Vec<ProductRows>,
}

/// What every snapshot's figures share: the inputs, the training images as unit rows, and
/// their class means.
pub(super) struct Context<'a> {
    pub(super) inputs: &'a AnalysisInputs<'a>,
    pub(super) images: UnitRows,
    pub(super) means: Matrix,
    pub(super) global: Vec<f32>,
}

impl<'a> Context<'a> {
    pub(super) fn new(inputs: &'a AnalysisInputs<'a>) -> Self {
        let train = inputs.train;
        let (means, global) = class_means(train);
        Context {
            inputs,
            images: UnitRows::of(train.len(), train.pixels(), &train.images),
            means,
            global,
        }
    }

    pub(super) fn class_template(&self, layers: &[LayerWeights]) -> ClassTemplate {
        class_template(&self.means, &self.global, &kernel(&layers[0]))
    }

    /// The nearest-input figure of every hidden layer (for an SLP, its only layer), and the
    /// hidden activations over the training file. The first layer's product with the images
    /// serves both; where `gather` asks, every search also keeps its layer's candidates for
    /// the blend curves.
    fn nearest_and_hidden(
        &self,
        layers: &[LayerWeights],
        gather: bool,
    ) -> (Vec<NearestInput>, Vec<Matrix>, Option<Gathered>) {
        let labels = &self.inputs.train.labels;
        let activation = self.inputs.activation;
        let rows = self.inputs.train.len();
        let mut candidates = Vec::new();
        let mut first = gather.then(|| Candidates::new(layers[0].d_out, rows));
        if model_kind(layers) == ModelKind::Slp {
            let nearest =
                nearest_unit_inputs(&self.images.rows, labels, &layers[0], feeding(&mut first));
            candidates.extend(first);
            let gathered = gather.then(|| Gathered {
                candidates,
                hidden_rows: Vec::new(),
            });
            return (vec![nearest], Vec::new(), gathered);
        }
        let (first_nearest, h) = nearest_and_activations(
            &self.images,
            labels,
            &layers[0],
            Some(activation),
            feeding(&mut first),
        );
        candidates.extend(first);
        let middle = &layers[1..layers.len() - 1];
        let hidden = continue_hidden(h, middle, activation);
        let mut nearest = vec![first_nearest];
        let mut hidden_rows = Vec::new();
        for (inputs, layer) in hidden.iter().zip(middle) {
            let unit = ProductRows::unit_rows(inputs.rows, inputs.cols, &inputs.data);
            let mut c = gather.then(|| Candidates::new(layer.d_out, rows));
            nearest.push(nearest_unit_inputs(&unit, labels, layer, feeding(&mut c)));
            candidates.extend(c);
            hidden_rows.push(unit);
        }
        let gathered = gather.then(|| {
            // The output layer reads the last hidden layer; no nearest-input search does.
            let last = hidden.last().expect("a network with a hidden layer");
            hidden_rows.push(ProductRows::unit_rows(last.rows, last.cols, &last.data));
            Gathered {
                candidates,
                hidden_rows,
            }
        });
        (nearest, hidden, gathered)
    }

    /// One snapshot's figures for the dynamics, its nearest-input figures, its hidden
    /// activations over the training file, and where `gather` asks, the first layer's
    /// candidates for the blend curves. The collapse figures of a gathered snapshot are left
    /// to [`Context::every_layer`], which computes them all.
    pub(super) fn snapshot_figures(&self, snapshot: &Snapshot, gather: bool) -> SnapshotReadings {
        let layers = &snapshot.layers;
        let train = self.inputs.train;
        let (nearest, hidden, gathered) = self.nearest_and_hidden(layers, gather);
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
        }
    }

    fn epoch_figures(&self, snapshot: &Snapshot, nearest: &[NearestInput]) -> EpochFigures {
        let w = winners(
            &snapshot.layers,
            self.inputs.activation,
            self.inputs.train.image(self.inputs.probe_index),
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
