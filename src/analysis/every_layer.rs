//! Every layer in its own input space, for one set of weights: class templates, blend curves,
//! and for each hidden layer neural collapse and class selectivity; then how the trained and
//! initial figures become `analysis.json`'s every-layer keys. `docs/method.md`, section 6.

use super::blend::{BLEND_KS, BlendCurve, Candidates, blend_curve, blend_curve_of, random_curve};
use super::collapse::{NeuralCollapse, hidden_collapse, neural_collapse, predictions};
use super::context::Context;
use super::distributed::{Selectivity, n90, selectivity};
use super::forward::{hidden_activations, kernel};
use super::linalg::{Matrix, ProductRows};
use super::results::{
    Blend, DistributedCode, EpochFigures, LayerBlend, LayerClassTemplate, LayerCollapse,
    LayerSelectivity, TrainedAndInit, with_init,
};
use super::templates::{ClassTemplate, class_means_of, class_template};
use crate::core::weights::{LayerWeights, layer_name};

/// The every-layer figures of one set of weights.
pub(super) struct EveryLayer {
    class_templates: Vec<ClassTemplate>,
    /// Per hidden layer.
    collapse: Vec<NeuralCollapse>,
    selectivity: Vec<Selectivity>,
    /// The last hidden layer's.
    n90: Option<Vec<usize>>,
    /// Per layer, the blend curve of its own weights.
    blend: Vec<BlendCurve>,
}

impl EveryLayer {
    /// The dynamics' figures of a snapshot, from its every-layer figures: the same numbers
    /// the other epochs compute one by one.
    pub(super) fn fill_dynamics(&self, figures: &mut EpochFigures) {
        if self.collapse.is_empty() {
            return;
        }
        let output = self.class_templates.last();
        figures.output_diag_centered = output.and_then(|t| t.diag_centered).map(|d| d.diag_mean);
        figures.nc1_layers = self.collapse.iter().map(|c| c.nc1).collect();
        figures.nc1 = figures.nc1_layers.last().copied();
        figures.nc3 = self.collapse.last().and_then(|c| c.nc3);
    }
}

/// Per layer, the blend curves only the trained weights have: their change from the initial
/// weights (where known), and the chance baseline.
pub(super) struct BlendBaselines {
    delta: Option<BlendCurve>,
    random: BlendCurve,
}

/// What each layer reads, as unit-length rows over the training file: the images, then each
/// hidden layer's activations.
pub(super) struct LayerRows<'c> {
    images: &'c ProductRows,
    hidden: Vec<ProductRows>,
}

impl LayerRows<'_> {
    fn of(&self, layer: usize) -> &ProductRows {
        match layer {
            0 => self.images,
            l => &self.hidden[l - 1],
        }
    }
}

impl Context<'_> {
    /// What each layer reads: the images, then `hidden_rows`, each hidden layer's activations
    /// as unit rows.
    pub(super) fn layer_rows(&self, hidden_rows: Vec<ProductRows>) -> LayerRows<'_> {
        LayerRows {
            images: &self.images.rows,
            hidden: hidden_rows,
        }
    }

    /// Every layer's figures in its own input space; `hidden` are the hidden activations over
    /// the training file (which the snapshot's own figures have already computed), `rows`
    /// what each layer reads, `candidates` those the nearest-input searches gathered (every
    /// layer's but the output layer's, in a network with a hidden layer).
    pub(super) fn every_layer(
        &self,
        layers: &[LayerWeights],
        hidden: &[Matrix],
        rows: &LayerRows<'_>,
        candidates: Vec<Candidates>,
    ) -> EveryLayer {
        let (train, test) = (self.inputs.train, self.inputs.test);
        let mut class_templates = vec![self.class_template(layers)];
        for (h, layer) in hidden.iter().zip(&layers[1..]) {
            let (means, global) = class_means_of(h, &train.labels);
            class_templates.push(class_template(&means, &global, &kernel(layer)));
        }
        let mut candidates = candidates.into_iter();
        let blend = layers
            .iter()
            .enumerate()
            .map(|(l, layer)| match candidates.next() {
                Some(c) => blend_curve_of(rows.of(l), &kernel(layer), c),
                None => blend_curve(rows.of(l), &kernel(layer)),
            })
            .collect();
        let test_hidden = hidden_activations(layers, self.inputs.activation, test);
        let (Some(last_test), Some(output)) = (test_hidden.last(), layers.last()) else {
            return EveryLayer {
                class_templates,
                collapse: Vec::new(),
                selectivity: Vec::new(),
                n90: None,
                blend,
            };
        };
        let predicted = predictions(last_test, output);
        let last = hidden.len() - 1;
        let collapse = hidden
            .iter()
            .zip(&test_hidden)
            .enumerate()
            .map(|(l, (h, test_h))| {
                if l == last {
                    neural_collapse(h, &train.labels, test_h, output)
                } else {
                    hidden_collapse(h, &train.labels, test_h, &predicted)
                }
            })
            .collect();
        EveryLayer {
            class_templates,
            collapse,
            selectivity: test_hidden
                .iter()
                .map(|h| selectivity(h, &test.labels))
                .collect(),
            n90: Some(n90(last_test, &test.labels, output)),
            blend,
        }
    }

    /// Per layer, the blend curves of the trained weights' change since `init` and of the
    /// trained weights on random rows of what the layer reads.
    pub(super) fn blend_baselines(
        &self,
        trained: &[LayerWeights],
        init: Option<&[LayerWeights]>,
        rows: &LayerRows<'_>,
    ) -> Vec<BlendBaselines> {
        trained
            .iter()
            .enumerate()
            .map(|(l, layer)| {
                let w = kernel(layer);
                let delta = init.map(|i| {
                    let mut d = w.clone();
                    for (x, y) in d.data.iter_mut().zip(&i[l].weight) {
                        *x -= y;
                    }
                    d
                });
                BlendBaselines {
                    delta: delta.as_ref().map(|d| blend_curve(rows.of(l), d)),
                    random: random_curve(rows.of(l), &w),
                }
            })
            .collect()
    }
}

/// The every-layer keys of `analysis.json`.
pub(super) struct EveryLayerKeys {
    pub(super) layer_class_templates: Vec<LayerClassTemplate>,
    pub(super) layer_collapse: Vec<LayerCollapse>,
    pub(super) layer_selectivity: Vec<LayerSelectivity>,
    pub(super) layer_blend: Vec<LayerBlend>,
    pub(super) distributed: Option<DistributedCode>,
}

/// What layer `layer` of a network of `count` layers reads.
fn layer_input(count: usize, layer: usize) -> String {
    if layer == 0 {
        "pixels".into()
    } else {
        layer_name(count, layer - 1)
    }
}

/// The every-layer keys from the every-layer figures of the trained and (where known) the
/// initial weights, and the trained weights' blend baselines.
pub(super) fn every_layer_keys(
    layers: &[LayerWeights],
    trained: EveryLayer,
    init: Option<EveryLayer>,
    baselines: Vec<BlendBaselines>,
) -> EveryLayerKeys {
    let count = layers.len();
    let (mut init_templates, mut init_collapse, mut init_selectivity, mut init_blend) =
        (None, None, None, None);
    if let Some(i) = init {
        init_templates = Some(i.class_templates);
        init_collapse = Some(i.collapse);
        init_selectivity = Some(i.selectivity);
        init_blend = Some(i.blend);
    }
    let layer_blend = with_init(trained.blend, init_blend)
        .into_iter()
        .zip(baselines)
        .enumerate()
        .map(|(layer, (own, baseline))| LayerBlend {
            layer,
            input: layer_input(count, layer),
            blend: Blend {
                k: BLEND_KS.to_vec(),
                trained: own.trained,
                delta: baseline.delta,
                init: own.init,
                random: baseline.random,
            },
        })
        .collect();
    // The hidden layer that feeds the output layer.
    let last_hidden = count.saturating_sub(2);
    let last_selectivity = trained.selectivity.last().copied();
    let distributed = trained
        .n90
        .zip(last_selectivity)
        .map(|(n90, s)| DistributedCode {
            layer: last_hidden,
            n90_mean: n90.iter().sum::<usize>() as f64 / n90.len().max(1) as f64,
            n90,
            selectivity: TrainedAndInit {
                trained: s,
                init: init_selectivity.as_ref().and_then(|i| i.last().copied()),
            },
        });
    EveryLayerKeys {
        layer_class_templates: with_init(trained.class_templates, init_templates)
            .into_iter()
            .enumerate()
            .map(|(layer, result)| LayerClassTemplate {
                layer,
                input: layer_input(count, layer),
                result,
            })
            .collect(),
        layer_collapse: with_init(trained.collapse, init_collapse)
            .into_iter()
            .enumerate()
            .map(|(layer, result)| LayerCollapse { layer, result })
            .collect(),
        layer_selectivity: with_init(trained.selectivity, init_selectivity)
            .into_iter()
            .enumerate()
            .map(|(layer, result)| LayerSelectivity { layer, result })
            .collect(),
        layer_blend,
        distributed,
    }
}
