//! The whole analysis of one run: every figure for the trained weights, its baseline on the
//! initial weights, and the per-epoch dynamics. Produces `analysis.json`.

use serde::{Deserialize, Serialize};

use super::forward::{images_matrix, kernel, propagate};
use super::linalg::{Matrix, Summary};
use super::nearest::{NearestInput, nearest_inputs, nearest_unit_inputs};
use super::probe::{Probe, probe, winners};
use super::templates::{ClassTemplate, Diagonal, class_means, class_template, effective_templates};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::{LayerWeights, widths};

/// The weights after epoch `epoch` (0 = initial).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub epoch: usize,
    pub layers: Vec<LayerWeights>,
}

pub struct AnalysisInputs<'a> {
    pub activation: Activation,
    /// The whole training file: class means and the nearest-input search use all of it.
    pub train: &'a ImageSet,
    /// Held-out images for the effective templates.
    pub test: &'a ImageSet,
    pub probe_index: usize,
    /// Initial weights first, trained weights last; the trained weights alone where the
    /// initial ones are unknown.
    pub snapshots: &'a [Snapshot],
    /// The images actually trained on, for the span test (run when there are few of them).
    pub trained_on: Option<&'a ImageSet>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedAndInit<T> {
    pub trained: T,
    /// Absent where the initial weights are unknown (imported weights without `--init`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<T>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerNearest {
    pub layer: usize,
    #[serde(flatten)]
    pub result: TrainedAndInit<NearestInput>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochFigures {
    pub epoch: usize,
    /// `cos(layer input, winner column)` per layer for the probe.
    pub probe_cos: Vec<f64>,
    pub probe_winner: Vec<usize>,
    pub class_template: Option<Diagonal>,
    pub class_template_centered: Option<Diagonal>,
    pub class_template_best_match_centered: f64,
    /// Per hidden layer (for an SLP, its only layer).
    pub nearest_input: Vec<Summary>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Analysis {
    pub layers: Vec<usize>,
    pub activation: Activation,
    pub probe: Probe,
    /// First layer (fed by pixels).
    pub class_template: TrainedAndInit<ClassTemplate>,
    /// One entry per hidden layer (for an SLP, its only layer).
    pub nearest_input: Vec<LayerNearest>,
    /// `NUM_CLASSES x pixels`, for networks with hidden layers.
    pub effective_templates: Option<Vec<Vec<f32>>>,
    /// The class-template matrix of the effective templates.
    pub effective_class_template: Option<ClassTemplate>,
    pub dynamics: Vec<EpochFigures>,
    /// How much of the first layer's change lies in the span of the training inputs; only for
    /// runs on at most `span::MAX_SPAN_IMAGES` images.
    pub span: Option<super::span::SpanTest>,
}

/// Inputs, over the whole training file, of the layers whose neurons are compared with
/// inputs: every hidden layer, or the single layer of an SLP. The first is always the pixels,
/// whose unit-length rows the caller has already computed.
fn deeper_layer_inputs(
    layers: &[LayerWeights],
    activation: Activation,
    train: &ImageSet,
) -> Vec<Matrix> {
    let count = (layers.len() - 1).max(1);
    if count == 1 {
        return Vec::new();
    }
    let mut p = propagate(&layers[..count], activation, &images_matrix(train));
    p.inputs.truncate(count);
    p.inputs.remove(0);
    p.inputs
}

struct Context<'a> {
    inputs: &'a AnalysisInputs<'a>,
    unit_images: Matrix,
    means: Matrix,
    global: Vec<f32>,
}

impl Context<'_> {
    fn class_template(&self, layers: &[LayerWeights]) -> ClassTemplate {
        class_template(&self.means, &self.global, &kernel(&layers[0]))
    }

    fn nearest(&self, layers: &[LayerWeights]) -> Vec<NearestInput> {
        let labels = &self.inputs.train.labels;
        let mut out = vec![nearest_unit_inputs(&self.unit_images, labels, &layers[0])];
        for (l, inputs) in deeper_layer_inputs(layers, self.inputs.activation, self.inputs.train)
            .iter()
            .enumerate()
        {
            out.push(nearest_inputs(inputs, labels, &layers[l + 1]));
        }
        out
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
        }
    }
}

/// Runs every analysis; every "against initial" figure needs the initial weights as the
/// first of at least two snapshots.
pub fn analyze(inputs: &AnalysisInputs<'_>) -> Analysis {
    let (init, trained) = match inputs.snapshots {
        [first, .., last] => (Some(first), last),
        [only] => (None, only),
        [] => panic!("the analysis needs the trained weights"),
    };
    let (means, global) = class_means(inputs.train);
    let ctx = Context {
        inputs,
        unit_images: images_matrix(inputs.train).into_normalized_rows(),
        means,
        global,
    };
    let activation = inputs.activation;
    // The costliest figure, computed once per snapshot and shared by the dynamics and the
    // trained-versus-initial comparison.
    let mut nearest: Vec<Vec<NearestInput>> = inputs
        .snapshots
        .iter()
        .map(|s| ctx.nearest(&s.layers))
        .collect();
    let dynamics = inputs
        .snapshots
        .iter()
        .zip(&nearest)
        .map(|(s, n)| ctx.epoch_figures(s, n))
        .collect();
    let nearest_trained = nearest.pop().expect("one snapshot at least");
    let mut nearest_init = init.map(|_| nearest.swap_remove(0).into_iter());
    let effective = effective_templates(&trained.layers, activation, inputs.test);
    let effective_class_template = effective
        .as_ref()
        .map(|e| class_template(&ctx.means, &ctx.global, &e.transpose()));
    Analysis {
        layers: widths(&trained.layers),
        activation,
        probe: probe(
            &trained.layers,
            init.map(|s| s.layers.as_slice()),
            activation,
            inputs.train,
            inputs.probe_index,
        ),
        class_template: TrainedAndInit {
            trained: ctx.class_template(&trained.layers),
            init: init.map(|s| ctx.class_template(&s.layers)),
        },
        nearest_input: nearest_trained
            .into_iter()
            .enumerate()
            .map(|(layer, trained)| LayerNearest {
                layer,
                result: TrainedAndInit {
                    trained,
                    init: nearest_init.as_mut().and_then(Iterator::next),
                },
            })
            .collect(),
        effective_templates: effective
            .as_ref()
            .map(|e| (0..e.rows).map(|r| e.row(r).to_vec()).collect()),
        effective_class_template,
        dynamics,
        span: inputs
            .trained_on
            .filter(|set| set.len() <= super::span::MAX_SPAN_IMAGES)
            .zip(init)
            .map(|(set, init)| {
                let mut delta = kernel(&trained.layers[0]);
                for (d, i) in delta.data.iter_mut().zip(&init.layers[0].weight) {
                    *d -= i;
                }
                super::span::span_test(&images_matrix(set), &delta, &[1, 5, 10, 20, 50, 100])
            }),
    }
}
