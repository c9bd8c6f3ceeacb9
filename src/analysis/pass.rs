//! The whole analysis of one network: every figure for the trained weights, its baseline on
//! the initial weights, and the per-epoch dynamics. Produces `analysis.json`.

use rayon::prelude::*;

use super::alongside::{EarlyReadings, Reading, Role, SnapshotTemplates};
use super::context::Context;
use super::every_layer::every_layer_keys;
use super::explorer::EpochView;
use super::forward::{images_matrix, kernel};
use super::layer_view::LayerView;
use super::linalg::Matrix;
use super::pixel_templates::pixel_templates;
use super::probe::probe;
use super::results::{
    Analysis, AnalysisInputs, LayerNearest, LayerPixelTemplates, TrainedAndInit,
    initial_and_trained, with_init,
};
use super::span::{SpanTest, span_test};
use super::templates::{class_template, effective_templates};
use crate::core::data::ImageSet;
use crate::core::weights::{LayerWeights, widths};

/// What the analysis yields: `analysis.json`'s figures, and every layer's pixel templates
/// (`neurons x pixels`), trained and (where known) initial, for the figures and other tools.
pub struct Analysed {
    pub analysis: Analysis,
    pub pixel_templates: TrainedAndInit<Vec<Matrix>>,
    /// What the explorer page shows of every snapshot, where [`AnalysisInputs::explorer`]
    /// asks for it and the searches allow (at most one hidden layer).
    pub explorer: Option<Vec<EpochView>>,
}

/// Runs every analysis; every "against initial" figure needs the initial weights as the
/// first of at least two snapshots.
pub fn analyze(inputs: &AnalysisInputs<'_>) -> Analysed {
    analyze_with(inputs, EarlyReadings::none())
}

/// [`analyze`], with the readings of the snapshots taken while the network trained
/// ([`super::alongside::Alongside`]): only the others are read here.
pub fn analyze_with<'a>(inputs: &AnalysisInputs<'a>, early: EarlyReadings<'a>) -> Analysed {
    let (init, trained) = initial_and_trained(inputs.snapshots);
    let EarlyReadings { context, readings } = early;
    // Readings taken with other data or settings are no readings of these snapshots.
    let (ctx, mut readings) = match context.filter(|c| c.reads(inputs)) {
        Some(context) => (context, readings),
        None => (Context::new(inputs), Default::default()),
    };
    let activation = inputs.activation;
    let count = inputs.snapshots.len();
    let init_layers = init.map(|s| s.layers.as_slice());
    let (mut dynamics, mut pages) = (Vec::with_capacity(count), Vec::with_capacity(count));
    let (mut first, mut last) = (None, None);
    // The costliest figure, computed once per snapshot and shared by the dynamics and the
    // trained-versus-initial comparison; only the initial and trained snapshots' readings
    // are kept whole.
    for (i, snapshot) in inputs.snapshots.iter().enumerate() {
        let role = Role::of(i, count);
        let reading = readings
            .remove(&snapshot.epoch)
            .filter(|r| r.role == role)
            .unwrap_or_else(|| ctx.read(snapshot, role, init_layers));
        let Reading {
            figures,
            nearest,
            every,
            baselines,
            views,
            templates,
            ..
        } = reading;
        dynamics.push(figures);
        match role {
            Role::Trained => {
                pages.push((views, None));
                last = Some((nearest, every, baselines));
            }
            Role::Initial => {
                let pixel = templates.as_ref().map(|t| t.pixel.clone());
                pages.push((views, templates));
                first = Some((nearest, every, pixel));
            }
            Role::Between => pages.push((views, templates)),
        }
    }
    let (nearest_trained, every_trained, baselines) = last.expect("one snapshot at least");
    let (nearest_init, every_init, init_pixel) = match first {
        Some((nearest, every, pixel)) => (Some(nearest), every, pixel),
        None => (None, None, None),
    };
    let test_images = &ctx.test_images;
    let trained_templates = ctx.templates(&trained.layers);
    let templates = TrainedAndInit {
        trained: trained_templates.pixel,
        init: init_pixel
            .or_else(|| init.map(|s| pixel_templates(&s.layers, activation, test_images))),
    };
    let class_templates = TrainedAndInit {
        trained: ctx.class_template(&trained.layers),
        init: init.map(|s| ctx.class_template(&s.layers)),
    };
    let likeness = TrainedAndInit {
        trained: ctx.pixel_likeness(
            &templates.trained,
            nearest_trained[0].summary,
            &class_templates.trained,
        ),
        init: templates
            .init
            .as_ref()
            .zip(nearest_init.as_ref())
            .zip(class_templates.init.as_ref())
            .map(|((t, n), c)| ctx.pixel_likeness(t, n[0].summary, c)),
    };
    let mut nearest_init = nearest_init.map(Vec::into_iter);
    let effective = trained_templates.effective;
    let effective_class_template = effective
        .as_ref()
        .map(|e| class_template(&ctx.means, &ctx.global, &e.transpose()));
    let every_trained = every_trained.expect("the trained weights' reading gathers");
    let keys = every_layer_keys(&trained.layers, every_trained, every_init, baselines);
    let analysis = Analysis {
        pixel_templates: with_init(likeness.trained, likeness.init)
            .into_iter()
            .enumerate()
            .map(|(layer, result)| LayerPixelTemplates { layer, result })
            .collect(),
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
        class_template: class_templates,
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
    };
    let explorer = pages
        .into_iter()
        .map(|(views, early)| views.map(|v| (v, early)))
        .collect::<Option<Vec<_>>>()
        .map(|pages| epoch_views(inputs, &ctx, pages, &templates, effective));
    Analysed {
        analysis,
        pixel_templates: templates,
        explorer,
    }
}

/// The explorer's every snapshot: its layers' views from the searches, and its effective
/// and pixel templates over the test images, those taken alongside training and those of the
/// trained and initial weights taken from the analysis rather than computed again.
fn epoch_views(
    inputs: &AnalysisInputs<'_>,
    ctx: &Context<'_>,
    pages: Vec<(Vec<LayerView>, Option<SnapshotTemplates>)>,
    templates: &TrainedAndInit<Vec<Matrix>>,
    trained_effective: Option<Matrix>,
) -> Vec<EpochView> {
    let count = inputs.snapshots.len();
    let has_init = initial_and_trained(inputs.snapshots).0.is_some();
    // Each snapshot's templates are independent of the others': one per core.
    inputs
        .snapshots
        .par_iter()
        .zip(pages)
        .enumerate()
        .map(|(i, (snapshot, (layers, early)))| {
            let last = i + 1 == count;
            let SnapshotTemplates { pixel, effective } = match early {
                Some(t) => t,
                None if last => SnapshotTemplates {
                    pixel: templates.trained.clone(),
                    effective: trained_effective.clone(),
                },
                None => {
                    let known = (i == 0 && has_init).then_some(templates.init.as_ref());
                    match known.flatten() {
                        Some(pixel) => SnapshotTemplates {
                            pixel: pixel.clone(),
                            effective: effective_templates(
                                &snapshot.layers,
                                inputs.activation,
                                inputs.test,
                            ),
                        },
                        None => ctx.templates(&snapshot.layers),
                    }
                }
            };
            EpochView {
                epoch: snapshot.epoch,
                layers,
                effective,
                pixel_templates: pixel[1..].to_vec(),
            }
        })
        .collect()
}

/// The span test of the first layer's change from `init` to `trained`.
fn first_layer_span(set: &ImageSet, trained: &LayerWeights, init: &LayerWeights) -> SpanTest {
    let mut delta = kernel(trained);
    for (d, i) in delta.data.iter_mut().zip(&init.weight) {
        *d -= i;
    }
    span_test(&images_matrix(set), &delta, &[1, 5, 10, 20, 50, 100])
}
