//! The article's claims, judged. One rule and one writer per claim, with its thresholds named
//! here, used alike for a single run (each value measured once) and for a sweep group (mean ±
//! std over seeds): the writers take any [`Measured`] value.

use super::linalg::Summary;
use super::results::Analysis;
use super::summary::{Figure, Group, Stat};
use super::templates::Diagonal;
use crate::core::weights::{layer_in_sentence, layer_name};

/// Class templates: the class means must match their own neuron best in all classes but at
/// most one in this many (9 of MNIST's 10, all of 3).
pub(crate) const MISSES_ALLOWED_PER: usize = 10;

/// The classes, of `classes`, that must match their own neuron best.
pub(crate) fn most_classes(classes: usize) -> f64 {
    (classes - classes / MISSES_ALLOWED_PER) as f64
}
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
pub(crate) fn is_class_template(
    classes_matched: Stat,
    classes: usize,
    diagonal: Stat,
    off_diagonal: Stat,
) -> bool {
    classes_matched.mean - classes_matched.std >= most_classes(classes)
        && improves(diagonal, off_diagonal)
}

pub(crate) fn looks_like_one_image(best_match: Stat) -> bool {
    best_match.mean > WHOLE_IMAGE_COSINE
}

pub(crate) fn lies_in_input_span(outside: Stat) -> bool {
    outside.mean < OUTSIDE_SPAN_MAX
}

/// A figure as a verdict reads and quotes it: one run's value, or a sweep group's mean ± std
/// over its seeds.
pub(crate) trait Measured: Copy {
    fn stat(self) -> Stat;
    /// Three decimals, and the spread where there is one.
    fn show(self) -> String;
    /// A count of classes.
    fn count(self) -> String;
    /// A tiny fraction, in scientific notation.
    fn tiny(self) -> String;
}

impl Measured for f64 {
    fn stat(self) -> Stat {
        Stat::single(self)
    }
    fn show(self) -> String {
        format!("{self:.3}")
    }
    fn count(self) -> String {
        format!("{self:.0}")
    }
    fn tiny(self) -> String {
        format!("{self:.2e}")
    }
}

impl Measured for Stat {
    fn stat(self) -> Stat {
        self
    }
    fn show(self) -> String {
        format!("{:.3} ± {:.3}", self.mean, self.std)
    }
    fn count(self) -> String {
        format!("{:.1} ± {:.1}", self.mean, self.std)
    }
    fn tiny(self) -> String {
        format!("{:.2e} ± {:.1e}", self.mean, self.std)
    }
}

/// What a verdict says where the initial weights were not given.
const NO_INIT: &str = "the initial weights were not given (analyze --init FILE), so there is no \
                       baseline to compare with";

const CLASS_TEMPLATE_CLAIM: &str =
    "Each output neuron of the single-layer perceptron becomes a template of its class.";
const EFFECTIVE_CLAIM: &str = "The network as a whole matches inputs against class templates, \
                               even where single hidden neurons do not look like whole images.";
const SELF_DUALITY_CLAIM: &str = "Each output neuron becomes the centred mean of what the last \
                                  hidden layer shows for its class (self-duality).";
const SPAN_CLAIM: &str =
    "The first layer's change lies in the span of the training inputs (dW = inputs^T · dout).";
const GRANDMOTHER_CLAIM: &str = "Each class is carried by a few hidden neurons of its own \
                                 rather than spread over many.";

pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// A class-template matrix's diagonal figures: in how many classes the own neuron matches best,
/// and the mean cosine on and off the diagonal.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Template<M> {
    pub rows: M,
    /// Of this many classes.
    pub classes: usize,
    pub diagonal: M,
    pub off: M,
}

impl<M: Measured> Template<M> {
    fn holds(self) -> bool {
        is_class_template(
            self.rows.stat(),
            self.classes,
            self.diagonal.stat(),
            self.off.stat(),
        )
    }

    /// As a class-template verdict quotes the initial weights.
    fn initially(init: Option<Self>) -> String {
        init.map_or_else(
            || format!("; {NO_INIT}"),
            |i| {
                format!(
                    " (initial: {}/{} classes, diagonal {})",
                    i.rows.count(),
                    i.classes,
                    i.diagonal.show()
                )
            },
        )
    }
}

impl Template<f64> {
    fn of(d: &Diagonal, classes: usize) -> Self {
        Self {
            rows: d.rows_diag_max as f64,
            classes,
            diagonal: d.diag_mean,
            off: d.offdiag_mean,
        }
    }
}

fn class_template_verdict<M: Measured>(t: Template<M>, init: Option<Template<M>>) -> Verdict {
    Verdict {
        claim: CLASS_TEMPLATE_CLAIM.into(),
        holds: Some(t.holds()),
        evidence: format!(
            "centred class means match their own neuron best in {}/{} classes; mean cosine on \
             the diagonal {} against {} off it{}",
            t.rows.count(),
            t.classes,
            t.diagonal.show(),
            t.off.show(),
            Template::initially(init)
        ),
    }
}

fn effective_verdict<M: Measured>(t: Template<M>) -> Verdict {
    Verdict {
        claim: EFFECTIVE_CLAIM.into(),
        holds: Some(t.holds()),
        evidence: format!(
            "the effective template of class k (mean d logit_k / d input) matches the centred \
             mean of class k best in {}/{} classes, cosine {} on the diagonal against {} off it",
            t.rows.count(),
            t.classes,
            t.diagonal.show(),
            t.off.show()
        ),
    }
}

fn self_duality_verdict<M: Measured>(t: Template<M>, init: Option<Template<M>>) -> Verdict {
    Verdict {
        claim: SELF_DUALITY_CLAIM.into(),
        holds: Some(t.holds()),
        evidence: format!(
            "the centred class means of the hidden activations match their own output neuron \
             best in {}/{} classes, cosine {} on the diagonal against {} off it{}",
            t.rows.count(),
            t.classes,
            t.diagonal.show(),
            t.off.show(),
            Template::initially(init)
        ),
    }
}

/// A layer's per-neuron best cosine to any training image, over its neurons.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nearest<M> {
    pub mean: M,
    pub median: M,
    pub max: M,
}

impl Nearest<f64> {
    fn of(s: &Summary) -> Self {
        Self {
            mean: s.mean,
            median: s.median,
            max: s.max,
        }
    }
}

fn pulled_verdict<M: Measured>(
    layers: usize,
    layer: usize,
    t: Nearest<M>,
    init: Option<Nearest<M>>,
) -> Verdict {
    let claim = format!(
        "Training pulls every {} neuron towards some training input.",
        layer_name(layers, layer)
    );
    let Some(i) = init else {
        return Verdict {
            claim,
            holds: None,
            evidence: format!(
                "per-neuron max cosine to any training image: mean {}, median {}, max {}; \
                 {NO_INIT}",
                t.mean.show(),
                t.median.show(),
                t.max.show()
            ),
        };
    };
    Verdict {
        claim,
        holds: Some(
            improves(t.mean.stat(), i.mean.stat()) && improves(t.median.stat(), i.median.stat()),
        ),
        evidence: format!(
            "per-neuron max cosine to any training image: mean {}, median {}, max {} after \
             training against mean {}, median {}, max {} initially; the best match stays far \
             from an identical image (cosine 1)",
            t.mean.show(),
            t.median.show(),
            t.max.show(),
            i.mean.show(),
            i.median.show(),
            i.max.show()
        ),
    }
}

fn one_image_verdict<M: Measured>(layers: usize, layer: usize, mean: M) -> Verdict {
    Verdict {
        claim: format!(
            "A single {} neuron looks like a whole training image.",
            layer_name(layers, layer)
        ),
        holds: Some(looks_like_one_image(mean.stat())),
        evidence: format!(
            "its best match has cosine {} on average, where an identical image would give 1",
            mean.show()
        ),
    }
}

/// NC1 of a hidden layer, trained and initial, and NC3 (trained, initial) where the output
/// layer reads it.
fn collapse_verdict<M: Measured>(
    layers: usize,
    layer: usize,
    nc1: M,
    nc1_init: Option<M>,
    nc3: Option<(M, M)>,
) -> Verdict {
    let before = "(0 would be full collapse)";
    Verdict {
        claim: format!(
            "Training gathers each class around its mean in {} (NC1 falls).",
            layer_name(layers, layer)
        ),
        holds: nc1_init.map(|i| improves(i.stat(), nc1.stat())),
        evidence: match (nc1_init, nc3) {
            (Some(i), Some((t3, i3))) => format!(
                "NC1 = {} after training against {} initially {before}; NC3 = {} against {}",
                nc1.show(),
                i.show(),
                t3.show(),
                i3.show()
            ),
            (Some(i), None) => format!(
                "NC1 = {} after training against {} initially {before}",
                nc1.show(),
                i.show()
            ),
            (None, _) => format!("NC1 = {} after training; {NO_INIT}", nc1.show()),
        },
    }
}

/// The span test: the fraction of the first layer's change outside the inputs' span; for one
/// run also how many images it used and the top-10 directions' energy against a random one's.
fn span_verdict<M: Measured>(
    outside: M,
    images: Option<usize>,
    top_10: Option<(f64, f64)>,
) -> Verdict {
    Verdict {
        claim: SPAN_CLAIM.into(),
        holds: Some(lies_in_input_span(outside.stat())),
        evidence: format!(
            "{} of ||W_final - W_init|| lies outside the span of the {}training images{}",
            outside.tiny(),
            images.map(|n| format!("{n} ")).unwrap_or_default(),
            top_10
                .map(|(energy, random)| format!(
                    "; the top 10 principal directions of the inputs hold {energy:.3} of its \
                     energy against {random:.3} for a random direction"
                ))
                .unwrap_or_default()
        ),
    }
}

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

/// The article's claims as one run's numbers bear them out.
pub fn run_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let classes = analysis.classes();
    let mut out = probe_verdicts(analysis);
    let ct = &analysis.class_template;
    if let Some(t) = &ct.trained.diag_centered {
        let init = ct.init.as_ref().and_then(|i| i.diag_centered.as_ref());
        out.push(class_template_verdict(
            Template::of(t, classes),
            init.map(|i| Template::of(i, classes)),
        ));
    }
    out.extend(nearest_verdicts(analysis));
    out.extend(every_layer_verdicts(analysis));
    out.extend(pixel_template_verdicts(analysis));
    if let Some(d) = analysis
        .effective_class_template
        .as_ref()
        .and_then(|e| e.diag_centered.as_ref())
    {
        out.push(effective_verdict(Template::of(d, classes)));
    }
    if let Some(s) = &analysis.span {
        let top_10 = s.top_k.iter().find(|t| t.k == 10);
        out.push(span_verdict(
            s.outside_fraction,
            Some(s.images),
            top_10.map(|t| (t.energy, t.random)),
        ));
    }
    out
}

/// The output layer against the class means of its inputs, and the collapse of the classes.
fn every_layer_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let classes = analysis.classes();
    let mut out = Vec::new();
    let output = analysis.output_layer_templates();
    if let Some(t) = output.and_then(|o| o.result.trained.diag_centered.as_ref()) {
        let init = output.and_then(|o| o.result.init.as_ref()?.diag_centered.as_ref());
        out.push(self_duality_verdict(
            Template::of(t, classes),
            init.map(|i| Template::of(i, classes)),
        ));
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
        let init = c.result.init;
        let nc3 = t.nc3.zip(init).map(|(n, i)| (n, i.nc3.unwrap_or(f64::NAN)));
        out.push(collapse_verdict(
            layers,
            c.layer,
            t.nc1,
            init.map(|i| i.nc1),
            nc3,
        ));
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
        let t = Nearest::of(&n.result.trained.summary);
        let init = n.result.init.as_ref().map(|i| Nearest::of(&i.summary));
        out.push(pulled_verdict(layers, n.layer, t, init));
        if n.layer + 1 < layers {
            out.push(one_image_verdict(layers, n.layer, t.mean));
        }
    }
    out
}

/// One layer's pixel-template likeness: the per-neuron best cosine with a training image
/// (over neurons) and with a centred class mean (mean over neurons).
#[derive(Debug, Clone, Copy)]
pub(crate) struct PixelLikeness<M> {
    pub nearest: Nearest<M>,
    pub class_best: M,
}

/// Every layer after the first, seen in pixels: does its pixel template look like an input,
/// and like a class template, more than the initial weights' does?
fn pixel_verdicts<M: Measured>(
    layers: usize,
    layer: usize,
    t: PixelLikeness<M>,
    init: Option<PixelLikeness<M>>,
) -> [Verdict; 2] {
    let name = layer_in_sentence(layers, layer);
    let input_claim = format!("Seen in pixels, a neuron of {name} looks like an input.");
    let class_claim = format!("Seen in pixels, a neuron of {name} looks like a class template.");
    let input_figures = format!(
        "per-neuron best cosine between its pixel template and any training image: mean {}, \
         median {}",
        t.nearest.mean.show(),
        t.nearest.median.show()
    );
    let class_figures = format!(
        "per-neuron best cosine between its pixel template and a centred class mean: mean {}",
        t.class_best.show()
    );
    let Some(i) = init else {
        return [
            Verdict {
                claim: input_claim,
                holds: None,
                evidence: format!("{input_figures}; {NO_INIT}"),
            },
            Verdict {
                claim: class_claim,
                holds: None,
                evidence: format!("{class_figures}; {NO_INIT}"),
            },
        ];
    };
    [
        Verdict {
            claim: input_claim,
            holds: Some(
                improves(t.nearest.mean.stat(), i.nearest.mean.stat())
                    && improves(t.nearest.median.stat(), i.nearest.median.stat()),
            ),
            evidence: format!(
                "{input_figures} after training against mean {}, median {} for the initial \
                 weights",
                i.nearest.mean.show(),
                i.nearest.median.show()
            ),
        },
        Verdict {
            claim: class_claim,
            holds: Some(improves(t.class_best.stat(), i.class_best.stat())),
            evidence: format!(
                "{class_figures} after training against {} for the initial weights",
                i.class_best.show()
            ),
        },
    ]
}

fn pixel_template_verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let layers = analysis.layers.len() - 1;
    let of = |p: &super::results::PixelLikeness| PixelLikeness {
        nearest: Nearest::of(&p.nearest),
        class_best: p.class_best.mean,
    };
    analysis
        .pixel_templates
        .iter()
        .skip(1)
        .flat_map(|p| {
            pixel_verdicts(
                layers,
                p.layer,
                of(&p.result.trained),
                p.result.init.as_ref().map(of),
            )
        })
        .collect()
}

/// The same claims for one group of a sweep, over its seeds.
pub(crate) fn sweep_verdicts(group: &Group) -> Vec<Verdict> {
    let get = |f: Figure| group.figures.get(&f).copied();
    let layers = group.hidden.len() + 1;
    let template = |rows, diagonal, off| {
        Some(Template {
            rows: get(rows)?,
            classes: group.classes,
            diagonal: get(diagonal)?,
            off: get(off)?,
        })
    };
    let mut out = Vec::new();
    let nearest = |mean, median, max| {
        Some(Nearest {
            mean: get(mean)?,
            median: get(median)?,
            max: get(max)?,
        })
    };
    use Figure::*;
    if let Some(t) = nearest(NearestTrained, NearestMedianTrained, NearestMaxTrained) {
        let init = nearest(NearestInit, NearestMedianInit, NearestMaxInit);
        out.push(pulled_verdict(layers, 0, t, init));
        if layers > 1 {
            out.push(one_image_verdict(layers, 0, t.mean));
        }
    }
    if let Some(t) = template(RowsMatchedTrained, DiagonalTrained, OffDiagonalTrained) {
        let init = template(RowsMatchedInit, DiagonalInit, OffDiagonalInit);
        out.push(class_template_verdict(t, init));
    }
    if let Some(t) = template(
        EffectiveRowsMatched,
        EffectiveDiagonal,
        EffectiveOffDiagonal,
    ) {
        out.push(effective_verdict(t));
    }
    let output = |rows, diagonal, off| template(rows, diagonal, off);
    if let Some(t) = output(
        OutputRowsMatchedTrained,
        OutputDiagonalTrained,
        OutputOffDiagonalTrained,
    ) {
        let init = output(
            OutputRowsMatchedInit,
            OutputDiagonalInit,
            OutputOffDiagonalInit,
        );
        out.push(self_duality_verdict(t, init));
    }
    if let (Some(nc1), Some(layer)) = (get(Nc1Trained), layers.checked_sub(2)) {
        let nc3 = get(Nc3Trained).zip(get(Nc3Init));
        out.push(collapse_verdict(layers, layer, nc1, get(Nc1Init), nc3));
    }
    if let Some(outside) = get(OutsideSpan) {
        out.push(span_verdict(outside, None, None));
    }
    out
}
