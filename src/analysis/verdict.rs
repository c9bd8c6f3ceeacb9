//! The article's claims, judged. One rule per claim, with its thresholds named here, used
//! alike for a single run (each value measured once) and for a sweep (mean ± std over seeds).

use super::results::Analysis;
use super::summary::{Figure, Group, Stat};
use super::templates::Diagonal;
use crate::core::weights::layer_name;

/// Class templates: the class means must match their own neuron best in at least this many
/// of the 10 classes.
pub(crate) const MOST_CLASSES: f64 = 9.0;
/// A neuron "is" a training image when its best match has a cosine above this.
pub(crate) const WHOLE_IMAGE_COSINE: f64 = 0.9;
/// A neuron "is" one input of its layer when that input alone explains this share of it: r(1)
/// is the squared best-match cosine, so this is [`WHOLE_IMAGE_COSINE`] squared.
pub(crate) const ONE_INPUT_SHARE: f64 = WHOLE_IMAGE_COSINE * WHOLE_IMAGE_COSINE;
/// A code of one neuron per class ("grandmother cells"): on average at most this many neurons
/// carry 90% of a logit's positive evidence.
pub(crate) const FEW_NEURONS: f64 = 3.0;
/// The first layer's change lies in the inputs' span when less than this fraction of it lies
/// outside (float rounding leaves about 1e-6).
pub(crate) const OUTSIDE_SPAN_MAX: f64 = 1e-3;

/// One claim of the article, judged by a measured value against its baseline.
#[derive(Debug, Clone, PartialEq)]
pub struct Verdict {
    pub claim: String,
    /// `None` where the claim needs a baseline that is absent (the initial weights).
    pub holds: Option<bool>,
    pub evidence: String,
}

/// Trained beats its baseline by more than both spreads (for single values: is larger).
pub(crate) fn improves(trained: Stat, baseline: Stat) -> bool {
    trained.mean - trained.std > baseline.mean + baseline.std
}

/// A set of neurons are class templates: most classes match their own neuron best, and the
/// diagonal stands clear of the rest of the matrix.
pub(crate) fn is_class_template(classes_matched: Stat, diagonal: Stat, off_diagonal: Stat) -> bool {
    classes_matched.mean - classes_matched.std >= MOST_CLASSES && improves(diagonal, off_diagonal)
}

/// [`is_class_template`] for one run's diagonal figures.
fn is_one_class_template(d: &Diagonal) -> bool {
    is_class_template(
        Stat::single(d.rows_diag_max as f64),
        Stat::single(d.diag_mean),
        Stat::single(d.offdiag_mean),
    )
}

pub(crate) fn looks_like_one_image(best_match: Stat) -> bool {
    best_match.mean > WHOLE_IMAGE_COSINE
}

pub(crate) fn lies_in_input_span(outside: Stat) -> bool {
    outside.mean < OUTSIDE_SPAN_MAX
}

/// What a verdict says where the initial weights were not given.
const NO_INIT: &str = "the initial weights were not given (analyze --init FILE), so there is no \
                       baseline to compare with";

const CLASS_TEMPLATE_CLAIM: &str =
    "Each output neuron of the single-layer perceptron becomes a template of its class.";
const EFFECTIVE_CLAIM: &str = "The network as a whole matches inputs against class templates, \
                               even where single hidden neurons do not look like digits.";
const SELF_DUALITY_CLAIM: &str = "Each output neuron becomes the centred mean of what the last \
                                  hidden layer shows for its class (self-duality).";
const SPAN_CLAIM: &str =
    "The first layer's change lies in the span of the training inputs (dW = inputs^T · dout).";

pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

fn one_image_claim(layers: usize, layer: usize) -> String {
    format!(
        "A single {} neuron looks like a whole training image.",
        layer_name(layers, layer)
    )
}

fn collapse_claim(layers: usize, layer: usize) -> String {
    format!(
        "Training gathers each class around its mean in {} (NC1 falls).",
        layer_name(layers, layer)
    )
}

fn pulled_claim(layers: usize, layer: usize) -> String {
    format!(
        "Training pulls every {} neuron towards some training input.",
        layer_name(layers, layer)
    )
}

const GRANDMOTHER_CLAIM: &str = "Each class is carried by a few hidden neurons of its own \
                                 rather than spread over many.";

/// Per layer: is a neuron one input of the layer, or a blend of many?
fn blend_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let layers = analysis.layers.len() - 1;
    analysis
        .layer_blend
        .iter()
        .map(|b| {
            let r1 = b.blend.trained.mean.first().copied().unwrap_or(f64::NAN);
            let half = b
                .blend
                .k
                .iter()
                .zip(&b.blend.trained.mean)
                .find(|(_, r)| **r >= 0.5)
                .map_or_else(
                    || {
                        let k = b.blend.k.last().copied().unwrap_or(0);
                        format!("even its {k} most similar inputs explain less than half of it")
                    },
                    |(k, _)| format!("its {k} most similar inputs explain half of it"),
                );
            Verdict {
                claim: format!(
                    "Each neuron of the {} is one of the layer's inputs rather than a blend of \
                     many.",
                    layer_name(layers, b.layer)
                ),
                holds: Some(r1 > ONE_INPUT_SHARE),
                evidence: format!(
                    "its most similar input explains {r1:.3} of it on average ({ONE_INPUT_SHARE:.2} \
                     would be one input); {half}"
                ),
            }
        })
        .collect()
}

/// The initial weights' diagonal figures, as a class-template verdict quotes them.
fn initially(init: Option<Diagonal>) -> String {
    init.map_or_else(
        || format!("; {NO_INIT}"),
        |i| {
            format!(
                " (initial: {}/10 classes, diagonal {:.3})",
                i.rows_diag_max, i.diag_mean
            )
        },
    )
}

/// The article's claims as one run's numbers bear them out.
pub fn run_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let mut out = probe_verdicts(analysis);
    let ct = &analysis.class_template;
    if let Some(t) = ct.trained.diag_centered {
        let initially = initially(ct.init.as_ref().and_then(|i| i.diag_centered));
        out.push(Verdict {
            claim: CLASS_TEMPLATE_CLAIM.into(),
            holds: Some(is_one_class_template(&t)),
            evidence: format!(
                "centred class means match their own neuron best in {}/10 classes; mean cosine \
                 on the diagonal {:.3} against {:.3} off it{initially}",
                t.rows_diag_max, t.diag_mean, t.offdiag_mean
            ),
        });
    }
    out.extend(nearest_verdicts(analysis));
    out.extend(every_layer_verdicts(analysis));
    if let Some(d) = analysis
        .effective_class_template
        .as_ref()
        .and_then(|e| e.diag_centered)
    {
        out.push(Verdict {
            claim: EFFECTIVE_CLAIM.into(),
            holds: Some(is_one_class_template(&d)),
            evidence: format!(
                "the effective template of class k (mean d logit_k / d input) matches the centred \
                 mean of class k best in {}/10 classes, cosine {:.3} on the diagonal against {:.3} off it",
                d.rows_diag_max, d.diag_mean, d.offdiag_mean
            ),
        });
    }
    if let Some(s) = &analysis.span {
        let k10 = s.top_k.iter().find(|t| t.k == 10);
        out.push(Verdict {
            claim: SPAN_CLAIM.into(),
            holds: Some(lies_in_input_span(Stat::single(s.outside_fraction))),
            evidence: format!(
                "{:.2e} of ||W_final - W_init|| lies outside the span of the {} training images{}",
                s.outside_fraction,
                s.images,
                k10.map(|t| format!(
                    "; the top 10 principal directions of the inputs hold {:.3} of its energy against {:.3} for a random direction",
                    t.energy, t.random
                ))
                .unwrap_or_default()
            ),
        });
    }
    out
}

/// The output layer against the class means of its inputs, and the collapse of the classes.
fn every_layer_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let mut out = Vec::new();
    let output = analysis.output_layer_templates();
    if let Some(t) = output.and_then(|o| o.result.trained.diag_centered) {
        let initially = initially(output.and_then(|o| o.result.init.as_ref()?.diag_centered));
        out.push(Verdict {
            claim: SELF_DUALITY_CLAIM.into(),
            holds: Some(is_one_class_template(&t)),
            evidence: format!(
                "the centred class means of the hidden activations match their own output \
                 neuron best in {}/10 classes, cosine {:.3} on the diagonal against {:.3} off \
                 it{initially}",
                t.rows_diag_max, t.diag_mean, t.offdiag_mean
            ),
        });
    }
    let layers = analysis.layers.len() - 1;
    out.extend(blend_verdicts(analysis));
    if let Some(d) = &analysis.distributed {
        out.push(Verdict {
            claim: GRANDMOTHER_CLAIM.into(),
            holds: Some(d.n90_mean <= FEW_NEURONS),
            evidence: format!(
                "on average {:.1} neurons of {} carry 90% of a logit's positive evidence \
                 (at most {FEW_NEURONS} would be a code of a few neurons per class)",
                d.n90_mean,
                layer_name(layers, d.layer)
            ),
        });
    }
    for c in &analysis.layer_collapse {
        let t = c.result.trained;
        let nc3 = |n: &crate::analysis::collapse::NeuralCollapse| n.nc3.unwrap_or(f64::NAN);
        out.push(Verdict {
            claim: collapse_claim(layers, c.layer),
            holds: c
                .result
                .init
                .map(|i| improves(Stat::single(i.nc1), Stat::single(t.nc1))),
            evidence: match (c.result.init, t.nc3) {
                (Some(i), Some(_)) => format!(
                    "NC1 = {:.3} after training against {:.3} initially (0 would be full \
                     collapse); NC3 = {:.3} against {:.3}",
                    t.nc1,
                    i.nc1,
                    nc3(&t),
                    nc3(&i)
                ),
                (Some(i), None) => format!(
                    "NC1 = {:.3} after training against {:.3} initially (0 would be full \
                     collapse)",
                    t.nc1, i.nc1
                ),
                (None, _) => format!("NC1 = {:.3} after training; {NO_INIT}", t.nc1),
            },
        });
    }
    out
}

fn probe_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let layers = analysis.probe.layers.len();
    analysis
        .probe
        .layers
        .iter()
        .map(|w| Verdict {
            claim: format!(
                "{}: the most active neuron for the probe has weights that look like the layer's input.",
                capitalised(&layer_name(layers, w.layer))
            ),
            holds: w
                .cos_init
                .map(|i| improves(Stat::single(w.cos_trained), Stat::single(i))),
            evidence: match w.cos_init {
                Some(i) => format!(
                    "cos(input, winner's weights) = {:.3} after training against {i:.3} for the initial weights",
                    w.cos_trained
                ),
                None => format!(
                    "cos(input, winner's weights) = {:.3} after training; {NO_INIT}",
                    w.cos_trained
                ),
            },
        })
        .collect()
}

fn nearest_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let layers = analysis.probe.layers.len();
    let mut out = Vec::new();
    for n in &analysis.nearest_input {
        let t = &n.result.trained.summary;
        let claim = pulled_claim(layers, n.layer);
        let Some(i) = n.result.init.as_ref().map(|i| &i.summary) else {
            out.push(Verdict {
                claim,
                holds: None,
                evidence: format!(
                    "per-neuron max cosine to any training image: mean {:.3}, median {:.3}, max \
                     {:.3}; {NO_INIT}",
                    t.mean, t.median, t.max
                ),
            });
            continue;
        };
        out.push(Verdict {
            claim,
            holds: Some(
                improves(Stat::single(t.mean), Stat::single(i.mean))
                    && improves(Stat::single(t.median), Stat::single(i.median)),
            ),
            evidence: format!(
                "per-neuron max cosine to any training image: mean {:.3}, median {:.3}, max {:.3} \
                 after training against mean {:.3}, median {:.3}, max {:.3} initially; the best \
                 match stays far from an identical image (cosine 1)",
                t.mean, t.median, t.max, i.mean, i.median, i.max
            ),
        });
        if n.layer + 1 < layers {
            out.push(Verdict {
                claim: one_image_claim(layers, n.layer),
                holds: Some(looks_like_one_image(Stat::single(t.mean))),
                evidence: format!(
                    "its best match has cosine {:.3} on average, where an identical image would give 1",
                    t.mean
                ),
            });
        }
    }
    out
}

/// The same claims for one group of a sweep, over its seeds.
pub(crate) fn sweep_verdicts(group: &Group) -> Vec<Verdict> {
    let sweep = SweepGroup { group };
    let layers = group.hidden.len() + 1;
    let templates = [
        (
            CLASS_TEMPLATE_CLAIM,
            Figure::RowsMatchedTrained,
            Figure::DiagonalTrained,
            Figure::OffDiagonalTrained,
            Some(Figure::DiagonalInit),
            "their own neuron",
        ),
        (
            EFFECTIVE_CLAIM,
            Figure::EffectiveRowsMatched,
            Figure::EffectiveDiagonal,
            Figure::EffectiveOffDiagonal,
            None,
            "their effective template",
        ),
        (
            SELF_DUALITY_CLAIM,
            Figure::OutputRowsMatchedTrained,
            Figure::OutputDiagonalTrained,
            Figure::OutputOffDiagonalTrained,
            Some(Figure::OutputDiagonalInit),
            "their own output neuron",
        ),
    ];
    let mut out: Vec<Verdict> = sweep.input_likeness(layers).into_iter().collect();
    out.extend(
        templates
            .into_iter()
            .filter_map(|(claim, rows, diagonal, off, init, what)| {
                sweep.template(claim, [rows, diagonal, off], init, what)
            }),
    );
    out.extend(sweep.collapse(layers));
    out.extend(sweep.span());
    out
}

/// A sweep group's figures, read for the verdicts.
struct SweepGroup<'a> {
    group: &'a Group,
}

fn pm(s: Stat) -> String {
    format!("{:.3} ± {:.3}", s.mean, s.std)
}

impl SweepGroup<'_> {
    fn get(&self, f: Figure) -> Option<Stat> {
        self.group.figures.get(&f).copied()
    }

    /// Neurons pulled towards inputs, and (with a hidden layer) whether one is a whole image.
    fn input_likeness(&self, layers: usize) -> Vec<Verdict> {
        let mut out = Vec::new();
        let trained = self.get(Figure::NearestTrained);
        if let (Some(t), Some(i)) = (trained, self.get(Figure::NearestInit)) {
            out.push(Verdict {
                claim: pulled_claim(layers, 0),
                holds: Some(improves(t, i)),
                evidence: format!("max cosine {} against {} initially", pm(t), pm(i)),
            });
        }
        if let Some(t) = trained.filter(|_| layers > 1) {
            out.push(Verdict {
                claim: one_image_claim(layers, 0),
                holds: Some(looks_like_one_image(t)),
                evidence: format!(
                    "its best match has cosine {} on average, where an identical image would give 1",
                    pm(t)
                ),
            });
        }
        out
    }

    /// A class-template claim from its classes matched, diagonal and off-diagonal figures.
    fn template(
        &self,
        claim: &str,
        [rows, diagonal, off]: [Figure; 3],
        init: Option<Figure>,
        what: &str,
    ) -> Option<Verdict> {
        let (rows, d, o) = (self.get(rows)?, self.get(diagonal)?, self.get(off)?);
        let initially = init
            .and_then(|i| self.get(i))
            .map(|i| format!(" (initial diagonal {})", pm(i)))
            .unwrap_or_default();
        Some(Verdict {
            claim: claim.into(),
            holds: Some(is_class_template(rows, d, o)),
            evidence: format!(
                "classes matching {what} {}; diagonal cosine {} against {} off it{initially}",
                pm(rows),
                pm(d),
                pm(o)
            ),
        })
    }

    /// NC1 of the last hidden layer, the one the sweep summarises.
    fn collapse(&self, layers: usize) -> Option<Verdict> {
        let (t, i) = (self.get(Figure::Nc1Trained)?, self.get(Figure::Nc1Init)?);
        Some(Verdict {
            claim: collapse_claim(layers, layers.checked_sub(2)?),
            holds: Some(improves(i, t)),
            evidence: format!("NC1 {} against {} initially", pm(t), pm(i)),
        })
    }

    fn span(&self) -> Option<Verdict> {
        let s = self.get(Figure::OutsideSpan)?;
        Some(Verdict {
            claim: SPAN_CLAIM.into(),
            holds: Some(lies_in_input_span(s)),
            evidence: format!(
                "ΔW outside the inputs' span: {:.2e} ± {:.1e}",
                s.mean, s.std
            ),
        })
    }
}
