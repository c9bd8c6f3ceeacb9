//! `analysis.json` as types: what the analysis of one network yields, and what it reads.

use serde::{Deserialize, Serialize};

use super::blend::BlendCurve;
use super::collapse::NeuralCollapse;
use super::distributed::Selectivity;
use super::linalg::Summary;
use super::nearest::NearestInput;
use super::probe::Probe;
use super::span::SpanTest;
use super::templates::{ClassTemplate, Diagonal};
use crate::core::config::Activation;
use crate::core::data::ImageSet;
use crate::core::weights::LayerWeights;

/// The weights after epoch `epoch` (0 = initial).
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub epoch: usize,
    pub layers: Vec<LayerWeights>,
}

/// The initial weights and the trained ones among `snapshots`, which run from the first epoch
/// to the last: the first of several is the initial weights; a single one is the trained
/// weights alone, their start unknown.
pub fn initial_and_trained(snapshots: &[Snapshot]) -> (Option<&Snapshot>, &Snapshot) {
    match snapshots {
        [first, .., last] => (Some(first), last),
        [only] => (None, only),
        [] => panic!("the analysis needs the trained weights"),
    }
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
    /// Whether the explorer page follows: the analysis then keeps what the page needs of
    /// every snapshot from its own searches.
    pub explorer: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainedAndInit<T> {
    pub trained: T,
    /// Absent where the initial weights are unknown (imported weights without `--init`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub init: Option<T>,
}

/// Pairs each trained figure with its initial one, where the initial weights are known.
pub(crate) fn with_init<T>(trained: Vec<T>, init: Option<Vec<T>>) -> Vec<TrainedAndInit<T>> {
    let mut init = init.map(Vec::into_iter);
    trained
        .into_iter()
        .map(|trained| TrainedAndInit {
            trained,
            init: init.as_mut().and_then(Iterator::next),
        })
        .collect()
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
    /// Networks with a hidden layer: the output layer's centred class-template diagonal, and
    /// NC1 and NC3 of the last hidden layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_diag_centered: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nc1: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nc3: Option<f64>,
    /// NC1 of every hidden layer, first to last (the last is `nc1`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nc1_layers: Vec<f64>,
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
    pub span: Option<SpanTest>,
    /// Every dense layer against the class means of its own inputs; entry 0 is
    /// `class_template`.
    #[serde(default)]
    pub layer_class_templates: Vec<LayerClassTemplate>,
    /// The last hidden layer's neural collapse, for networks with a hidden layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub neural_collapse: Option<LayerCollapse>,
    /// How distributed the last hidden layer's code is, for networks with a hidden layer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub distributed: Option<DistributedCode>,
    /// How many training images the first layer's neurons are a blend of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blend: Option<Blend>,
    /// Every hidden layer's neural collapse, first to last (NC3 only for the last, which is
    /// `neural_collapse`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_collapse: Vec<LayerCollapse>,
    /// Every hidden layer's class selectivity, first to last.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_selectivity: Vec<LayerSelectivity>,
    /// Every layer's blend curves against its own inputs; the first is `blend`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub layer_blend: Vec<LayerBlend>,
    /// Every layer's neurons seen in pixels: how much their pixel templates look like a
    /// training image or a class; entry 0 is the first layer's weights themselves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pixel_templates: Vec<LayerPixelTemplates>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerSelectivity {
    /// The hidden layer.
    pub layer: usize,
    #[serde(flatten)]
    pub result: TrainedAndInit<Selectivity>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerBlend {
    pub layer: usize,
    /// What the layer reads: `pixels`, or the hidden layer before it.
    pub input: String,
    #[serde(flatten)]
    pub blend: Blend,
}

/// r(k) of one layer's neurons against its own inputs: their trained weights, the change
/// training made, the initial weights (the last two where the initial weights are known), and
/// the trained weights on random inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Blend {
    pub k: Vec<usize>,
    pub trained: BlendCurve,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delta: Option<BlendCurve>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub init: Option<BlendCurve>,
    pub random: BlendCurve,
}

impl Analysis {
    /// The classes: the output layer's width.
    pub fn classes(&self) -> usize {
        self.layers.last().copied().unwrap_or(0)
    }

    /// The output layer's entry of `layer_class_templates`, for networks with a hidden layer
    /// (an SLP's only layer reads pixels: that is `class_template`).
    pub fn output_layer_templates(&self) -> Option<&LayerClassTemplate> {
        self.layer_class_templates
            .last()
            .filter(|_| self.layer_class_templates.len() > 1)
    }
}

/// One dense layer's neurons against the class means of the layer's own inputs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerClassTemplate {
    pub layer: usize,
    /// What the layer reads: `pixels`, or the hidden layer before it.
    pub input: String,
    #[serde(flatten)]
    pub result: TrainedAndInit<ClassTemplate>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerCollapse {
    /// The hidden layer whose activations collapse (the output layer's input).
    pub layer: usize,
    #[serde(flatten)]
    pub result: TrainedAndInit<NeuralCollapse>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DistributedCode {
    /// The hidden layer whose code this is (the output layer's input).
    pub layer: usize,
    /// Per class, the fewest neurons carrying 90% of the positive evidence (trained weights).
    pub n90: Vec<usize>,
    pub n90_mean: f64,
    pub selectivity: TrainedAndInit<Selectivity>,
}

/// How input-like one layer's pixel templates are.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PixelLikeness {
    /// Per neuron, the largest cosine between its template and any training image, over the
    /// layer's neurons.
    pub nearest: Summary,
    /// Per neuron, the largest cosine between its template and any centred class mean.
    pub class_best: ClassBest,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassBest {
    /// Over the layer's neurons.
    pub mean: f64,
}

/// `analysis.json`'s `pixel_templates` entry of one layer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerPixelTemplates {
    pub layer: usize,
    #[serde(flatten)]
    pub result: TrainedAndInit<PixelLikeness>,
}
