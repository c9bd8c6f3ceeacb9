//! The whole analysis of one run: every figure for the trained weights, its baseline on the
//! initial weights, and the per-epoch dynamics. Produces `analysis.json`.

use serde::{Deserialize, Serialize};

use super::blend::{BlendCurve, Candidates, feeding};
use super::collapse::{NeuralCollapse, collapse_on_training_file};
use super::distributed::Selectivity;
use super::every_layer::every_layer_keys;
use super::forward::{continue_hidden, images_matrix, kernel};
use super::linalg::{Matrix, ProductRows, Summary};
use super::nearest::{NearestInput, UnitRows, nearest_and_activations, nearest_unit_inputs};
use super::probe::{Probe, probe, winners};
use super::span::{SpanTest, span_test};
use super::templates::{
    ClassTemplate, Diagonal, class_means, class_means_of, class_template, effective_templates,
};
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

/// What one snapshot's pass over the training file yields.
struct SnapshotReadings {
    figures: EpochFigures,
    nearest: Vec<NearestInput>,
    hidden: Vec<Matrix>,
    gathered: Option<Gathered>,
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
    means: Matrix,
    global: Vec<f32>,
}

impl<'a> Context<'a> {
    fn new(inputs: &'a AnalysisInputs<'a>) -> Self {
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
        if layers.len() == 1 {
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
    fn snapshot_figures(&self, snapshot: &Snapshot, gather: bool) -> SnapshotReadings {
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
                let (nc1, nc3) = collapse_on_training_file(h, &train.labels, reader);
                figures.nc1_layers.push(nc1);
                figures.nc3 = nc3;
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

/// Runs every analysis; every "against initial" figure needs the initial weights as the
/// first of at least two snapshots.
pub fn analyze(inputs: &AnalysisInputs<'_>) -> Analysis {
    let (init, trained) = match inputs.snapshots {
        [first, .., last] => (Some(first), last),
        [only] => (None, only),
        [] => panic!("the analysis needs the trained weights"),
    };
    let ctx = Context::new(inputs);
    let activation = inputs.activation;
    // The costliest figure, computed once per snapshot and shared by the dynamics and the
    // trained-versus-initial comparison.
    let count = inputs.snapshots.len();
    let (mut dynamics, mut nearest) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let (mut every_init, mut every_trained, mut baselines) = (None, None, Vec::new());
    for (i, snapshot) in inputs.snapshots.iter().enumerate() {
        // Only the first (initial) and last (trained) snapshots' activations and candidates
        // are needed again; the others are dropped as soon as their figures are taken.
        let (first, last) = (i == 0, i + 1 == count);
        let r = ctx.snapshot_figures(snapshot, first || last);
        let mut figures = r.figures;
        if let Some(gathered) = r.gathered {
            let rows = ctx.layer_rows(gathered.hidden_rows);
            let every = ctx.every_layer(&snapshot.layers, &r.hidden, &rows, gathered.candidates);
            every.fill_dynamics(&mut figures);
            if last {
                let init = init.map(|s| s.layers.as_slice());
                baselines = ctx.blend_baselines(&snapshot.layers, init, &rows);
                every_trained = Some(every);
            } else {
                every_init = Some(every);
            }
        }
        dynamics.push(figures);
        nearest.push(r.nearest);
    }
    let nearest_trained = nearest.pop().expect("one snapshot at least");
    let mut nearest_init = init.map(|_| nearest.swap_remove(0).into_iter());
    let effective = effective_templates(&trained.layers, activation, inputs.test);
    let effective_class_template = effective
        .as_ref()
        .map(|e| class_template(&ctx.means, &ctx.global, &e.transpose()));
    let every_trained = every_trained.expect("one snapshot at least");
    let keys = every_layer_keys(&trained.layers, every_trained, every_init, baselines);
    Analysis {
        blend: keys.layer_blend.first().map(|b| b.blend.clone()),
        neural_collapse: keys.layer_collapse.last().cloned(),
        layer_class_templates: keys.layer_class_templates,
        layer_collapse: keys.layer_collapse,
        layer_selectivity: keys.layer_selectivity,
        layer_blend: keys.layer_blend,
        distributed: keys.distributed,
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
            .map(|(set, init)| first_layer_span(set, &trained.layers[0], &init.layers[0])),
    }
}

/// The span test of the first layer's change from `init` to `trained`.
fn first_layer_span(set: &ImageSet, trained: &LayerWeights, init: &LayerWeights) -> SpanTest {
    let mut delta = kernel(trained);
    for (d, i) in delta.data.iter_mut().zip(&init.weight) {
        *d -= i;
    }
    span_test(&images_matrix(set), &delta, &[1, 5, 10, 20, 50, 100])
}
