//! `report.html`: one self-contained page per run and per sweep, with the setup, the figures
//! (inlined), a one-sentence reading of each, the TensorFlow comparison where reference
//! results exist, and a plain verdict on the article's claims, each backed by a number and
//! its baseline. The pages are minijinja templates (`templates/`) with the style sheet in
//! `assets/`; this file only gathers what they show.

use std::path::Path;

use anyhow::{Context, Result};
use base64::Engine as _;
use minijinja::Environment;
use serde::Serialize;

use crate::analysis::blend::BlendCurve;
use crate::analysis::matching::{LayerMatch, MeanMedian, NetworkMatch};
use crate::analysis::results::{Analysis, LayerCollapse};
use crate::analysis::summary::{Group, RunFigures, Summary, run_figures};
use crate::analysis::verdict::{Verdict, capitalised, run_verdicts, sweep_verdicts};
use crate::core::classes::ClassNames;
use crate::core::provenance::{ActivationSource, Provenance};
use crate::core::weights::{layer_in_sentence, layer_name};
use crate::render::figures::FigureFile;
use crate::store::{EXPLORE_FILE, FIGURES_DIR, MATCH_REPORT_FILE, REPORT_FILE, RunDir};
use crate::tensorflow::ReferenceRun;
use crate::tensorflow::compare::Comparison;

const STYLE: &str = include_str!("assets/report.css");

fn templates() -> Environment<'static> {
    let mut env = Environment::new();
    for (name, text) in [
        ("base.html", include_str!("templates/base.html")),
        ("verdicts.html", include_str!("templates/verdicts.html")),
        ("parts.html", include_str!("templates/parts.html")),
        ("run_report.html", include_str!("templates/run_report.html")),
        (
            "sweep_report.html",
            include_str!("templates/sweep_report.html"),
        ),
        (
            "match_report.html",
            include_str!("templates/match_report.html"),
        ),
    ] {
        env.add_template(name, text)
            .expect("the report templates are valid");
    }
    env
}

fn render(template: &str, page: impl Serialize) -> Result<String> {
    templates()
        .get_template(template)
        .and_then(|t| t.render(page))
        .with_context(|| format!("cannot render {template}"))
}

/// A verdict as the page shows it.
#[derive(Serialize)]
struct VerdictView {
    class: &'static str,
    label: &'static str,
    claim: String,
    evidence: String,
}

impl From<Verdict> for VerdictView {
    fn from(v: Verdict) -> Self {
        let (class, label) = match v.holds {
            Some(true) => ("yes", "Holds:"),
            Some(false) => ("no", "Does not hold:"),
            None => ("open", "No baseline:"),
        };
        Self {
            class,
            label,
            claim: v.claim,
            evidence: v.evidence,
        }
    }
}

fn verdict_views(verdicts: Vec<Verdict>) -> Vec<VerdictView> {
    verdicts.into_iter().map(VerdictView::from).collect()
}

/// A figure with its body (inline SVG, or an inline PNG where the SVG is too large to embed
/// sensibly: the weight grids draw one rectangle per weight).
#[derive(Serialize)]
struct FigureView {
    name: String,
    /// The SVG document to inline, or else the PNG's bytes in base64.
    svg: Option<String>,
    png_base64: Option<String>,
    reading: String,
}

fn figure_view(dir: &Path, file: FigureFile, reading: String) -> Option<FigureView> {
    const MAX_SVG: u64 = 2_000_000;
    let name = file.name();
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    let (svg, png_base64) = match std::fs::metadata(&svg) {
        Ok(m) if m.len() <= MAX_SVG => (Some(std::fs::read_to_string(&svg).ok()?), None),
        _ => {
            let bytes = std::fs::read(&png).ok()?;
            let encoded = base64::engine::general_purpose::STANDARD.encode(bytes);
            (None, Some(encoded))
        }
    };
    Some(FigureView {
        name,
        svg,
        png_base64,
        reading,
    })
}

#[derive(Serialize)]
struct ComparisonRowView {
    name: String,
    ours: String,
    mean: String,
    range: String,
    agrees: &'static str,
}

#[derive(Serialize)]
struct ComparisonView {
    tensorflow: String,
    agree: usize,
    total: usize,
    seeds: String,
    rows: Vec<ComparisonRowView>,
    /// The run's neurons against TensorFlow's seed-12345 network, per layer.
    neurons: Vec<MatchRowView>,
    /// For a lockstep run, each layer's cosines with the twin neurons.
    twins: Vec<(String, String)>,
}

fn comparison_view(c: &Comparison) -> ComparisonView {
    ComparisonView {
        tensorflow: c.tensorflow.clone(),
        agree: c.rows.iter().filter(|r| r.agrees()).count(),
        total: c.rows.len(),
        seeds: format!("{:?}", c.seeds),
        rows: c
            .rows
            .iter()
            .map(|r| {
                let (lo, hi) = r.range();
                ComparisonRowView {
                    name: r.name.clone(),
                    ours: format!("{:.4}", r.ours),
                    mean: format!("{:.4}", r.mean()),
                    range: format!("{lo:.4}..{hi:.4}"),
                    agrees: if r.agrees() { "yes" } else { "no" },
                }
            })
            .collect(),
        neurons: c
            .neurons
            .as_ref()
            .map_or_else(Vec::new, |n| layer_match_rows(&n.matched)),
        twins: c
            .neurons
            .as_ref()
            .and_then(|n| n.twins.as_ref())
            .map_or_else(Vec::new, |twins| {
                twins
                    .iter()
                    .enumerate()
                    .map(|(l, t)| {
                        (
                            layer_name(twins.len(), l),
                            format!("{:.4} (median {:.4}, min {:.4})", t.mean, t.median, t.min),
                        )
                    })
                    .collect()
            }),
    }
}

/// The setup table: how the run was trained, or only what is known of weights trained
/// elsewhere.
fn setup_rows(provenance: &Provenance<'_>) -> Vec<(&'static str, String)> {
    let mut rows = vec![
        ("model", provenance.model().to_string()),
        ("data", provenance.data_dir().display().to_string()),
    ];
    match provenance {
        Provenance::Imported(record) => {
            rows.push((
                "trained",
                format!(
                    "elsewhere: {} ({})",
                    record.source.display(),
                    record.format.describe()
                ),
            ));
            rows.push((
                "activation",
                match record.activation_source {
                    ActivationSource::SingleLayer => record.activation_source.describe().into(),
                    source => format!("{} ({})", record.activation, source.describe()),
                },
            ));
            rows.push((
                "inputs",
                format!(
                    "{} ({})",
                    record.input_scaling.describe(),
                    record.input_scaling_source.describe()
                ),
            ));
            rows.push((
                "initial weights",
                record.initial.as_ref().map_or_else(
                    || "not given, so no baselines against them".to_string(),
                    |p| p.display().to_string(),
                ),
            ));
        }
        Provenance::Trained { config, metrics } => {
            let scaling = config.input_scaling();
            rows.push((
                "inputs",
                if config.data.input_mean.is_some() {
                    format!("{} (data.input_mean, data.input_std)", scaling.describe())
                } else {
                    format!("{} (the default: no data.input_mean)", scaling.describe())
                },
            ));
            rows.push((
                "optimiser",
                format!(
                    "{}, learning rate {}",
                    metrics.optimizer, config.training.learning_rate
                ),
            ));
            rows.push((
                "training",
                format!(
                    "{} epochs, batch {}, seed {}, backend {}",
                    metrics.epochs.len(),
                    config.training.batch_size,
                    metrics.seed,
                    metrics.backend
                ),
            ));
        }
    }
    let test = provenance.test();
    if test.accuracy.is_finite() {
        rows.push((
            "test accuracy",
            format!("{:.4} (loss {:.4})", test.accuracy, test.loss),
        ));
    }
    if let Provenance::Trained { metrics, .. } = provenance
        && metrics.train_seconds.is_finite()
    {
        rows.push(("training time", format!("{:.1} s", metrics.train_seconds)));
    }
    rows
}

#[derive(Serialize)]
struct RunPage {
    title: String,
    style: &'static str,
    setup: Vec<(&'static str, String)>,
    verdicts: Vec<VerdictView>,
    comparison: Option<ComparisonView>,
    figures: Vec<FigureView>,
    /// The interactive page beside the report, where the run has one.
    explorer: Option<&'static str>,
}

/// Writes `report.html` into a run folder that holds its metrics, analysis and figures.
pub(crate) fn write_run_report(
    dir: &RunDir,
    provenance: &Provenance<'_>,
    class_names: &ClassNames,
    analysis: &Analysis,
    comparison: Option<&Comparison>,
) -> Result<()> {
    let figures = dir.file(FIGURES_DIR);
    let mut setup = setup_rows(provenance);
    setup.insert(
        2,
        (
            "classes",
            format!(
                "{} ({})",
                class_names.names.join(", "),
                class_names.describe()
            ),
        ),
    );
    let page = RunPage {
        title: format!("weightscope: {}", provenance.model()),
        style: STYLE,
        setup,
        verdicts: verdict_views(run_verdicts(analysis)),
        comparison: comparison.map(comparison_view),
        figures: readings(analysis)
            .into_iter()
            .filter_map(|(name, reading)| figure_view(&figures, name, reading))
            .collect(),
        explorer: dir.file(EXPLORE_FILE).exists().then_some(EXPLORE_FILE),
    };
    dir.write(REPORT_FILE, render("run_report.html", page)?.as_bytes())
}

fn group_name(g: &Group) -> String {
    format!("{} {} {}", g.dataset, g.model, g.optimizer)
}

#[derive(Serialize)]
struct SummaryRow {
    name: &'static str,
    cells: Vec<String>,
}

#[derive(Serialize)]
struct GroupVerdicts {
    group: String,
    verdicts: Vec<VerdictView>,
}

#[derive(Serialize)]
struct TensorflowRow {
    name: &'static str,
    ours: String,
    mean: String,
    range: String,
}

#[derive(Serialize)]
struct TensorflowGroup {
    group: String,
    seeds: usize,
    rows: Vec<TensorflowRow>,
}

#[derive(Serialize)]
struct SweepPage {
    title: &'static str,
    style: &'static str,
    groups: Vec<String>,
    rows: Vec<SummaryRow>,
    verdicts: Vec<GroupVerdicts>,
    tensorflow: Vec<TensorflowGroup>,
}

/// The article's setup in the sweep against TensorFlow's runs of the same model.
fn tensorflow_groups(summary: &Summary, reference: &[ReferenceRun]) -> Vec<TensorflowGroup> {
    let mut out = Vec::new();
    for g in &summary.groups {
        let Some(model) = g.article else {
            continue;
        };
        let runs: Vec<RunFigures> = reference
            .iter()
            .filter_map(|r| r.model(model))
            .map(|m| run_figures(m.test.accuracy, &m.analysis))
            .collect();
        if runs.is_empty() {
            continue;
        }
        let rows = g
            .figures
            .iter()
            .filter_map(|(figure, stat)| {
                let theirs: Vec<f64> = runs
                    .iter()
                    .filter_map(|r| r.iter().find(|(f, _)| f == figure).map(|(_, v)| *v))
                    .collect();
                if theirs.is_empty() {
                    return None;
                }
                let mean = theirs.iter().sum::<f64>() / theirs.len() as f64;
                let lo = theirs.iter().copied().fold(f64::INFINITY, f64::min);
                let hi = theirs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
                Some(TensorflowRow {
                    name: figure.name(),
                    ours: stat.to_string(),
                    mean: format!("{mean:.4}"),
                    range: format!("{lo:.4}..{hi:.4}"),
                })
            })
            .collect();
        out.push(TensorflowGroup {
            group: group_name(g),
            seeds: runs.len(),
            rows,
        });
    }
    out
}

/// Writes `report.html` for a sweep: the summary table, the verdicts with their spread and,
/// where the sweep holds the article's setup, TensorFlow's numbers beside it.
pub(crate) fn write_sweep_report(
    dir: &RunDir,
    summary: &Summary,
    tensorflow: Option<&[ReferenceRun]>,
) -> Result<()> {
    let rows = summary
        .figures()
        .into_iter()
        .map(|figure| SummaryRow {
            name: figure.name(),
            cells: summary
                .groups
                .iter()
                .map(|g| {
                    g.figures
                        .get(&figure)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                })
                .collect(),
        })
        .collect();
    let page = SweepPage {
        title: "weightscope sweep",
        style: STYLE,
        groups: summary.groups.iter().map(group_name).collect(),
        rows,
        verdicts: summary
            .groups
            .iter()
            .map(|g| GroupVerdicts {
                group: group_name(g),
                verdicts: verdict_views(sweep_verdicts(g)),
            })
            .collect(),
        tensorflow: tensorflow.map_or_else(Vec::new, |tf| tensorflow_groups(summary, tf)),
    };
    dir.write(REPORT_FILE, render("sweep_report.html", page)?.as_bytes())
}

/// The one-sentence reading of each figure, in the order they appear.
fn readings(analysis: &Analysis) -> Vec<(FigureFile, String)> {
    let first = &analysis.probe.layers[0];
    let initially = |v: Option<f64>| {
        v.map_or_else(
            || " (initial weights not given)".to_string(),
            |v| format!(" (initial weights: {v:.3})"),
        )
    };
    let mut out = vec![
        (
            FigureFile::Winners,
            format!(
                "The probe image beside the weights of the most active neuron of each layer; the first layer's winner has cosine {:.3} with the probe{}.",
                first.cos_trained,
                initially(first.cos_init)
            ),
        ),
        (
            FigureFile::Weights,
            if analysis.class_template.init.is_some() {
                "Every first-layer neuron's weights as an image (red positive, blue negative), to set beside the initial ones below: training adds the structure that random weights lack.".into()
            } else {
                "Every first-layer neuron's weights as an image (red positive, blue negative)."
                    .into()
            },
        ),
        (
            FigureFile::WeightsInit,
            "The same neurons before training: uniform noise, the baseline for every figure."
                .into(),
        ),
        (
            FigureFile::ClassTemplate,
            format!(
                "Cosine between each class's mean image and each first-layer neuron, trained (left) beside initial (right) where known. Best-matching neuron per centred class mean: {:.3} trained{}.",
                analysis.class_template.trained.best_match_mean_centered,
                initially(
                    analysis
                        .class_template
                        .init
                        .as_ref()
                        .map(|i| i.best_match_mean_centered)
                )
            ),
        ),
    ];
    if let Some(n) = analysis.nearest_input.first() {
        out.push((FigureFile::NearestInput, format!(
            "How closely each neuron's weights resemble the most similar training image: mean {:.3} after training{}; an identical image would give 1.",
            n.result.trained.summary.mean,
            initially(n.result.init.as_ref().map(|i| i.summary.mean))
        )));
    }
    if analysis.effective_templates.is_some() {
        out.push((FigureFile::EffectiveTemplates, "What the whole network matches each class against: the mean input gradient of each class's logit over its test images.".into()));
    }
    out.extend(every_layer_readings(analysis));
    out.push((FigureFile::Dynamics, "Loss, accuracy and the similarity figures after every epoch; epoch 0 is the initial model.".into()));
    out.push((
        FigureFile::LossVsTensorflow,
        "weightscope's training loss per epoch beside TensorFlow's runs of the same setup.".into(),
    ));
    out
}

/// The readings of the every-layer figures, where the analysis has them.
fn every_layer_readings(analysis: &Analysis) -> Vec<(FigureFile, String)> {
    let mut out = Vec::new();
    let output = analysis.output_layer_templates();
    if let Some(d) = output.and_then(|o| o.result.trained.diag_centered) {
        let initially = output
            .and_then(|o| o.result.init.as_ref()?.diag_centered)
            .map_or_else(String::new, |i| {
                format!(" against {:.3} initially", i.diag_mean)
            });
        out.push((
            FigureFile::LayerTemplates,
            format!(
                "Each layer after the first against the centred class means of its own input: the \
                 output neuron of class k matches the mean hidden code of class k with cosine \
                 {:.3}{initially}, best in {}/{} classes.",
                d.diag_mean,
                d.rows_diag_max,
                analysis.classes()
            ),
        ));
    }
    if let Some(c) = &analysis.neural_collapse {
        out.push((FigureFile::Collapse, collapse_reading(analysis, c)));
    }
    if !analysis.layer_blend.is_empty() {
        out.push((FigureFile::Blend, blend_reading(analysis)));
    }
    out.extend(pixel_template_readings(analysis));
    if let Some(d) = &analysis.distributed {
        out.push((
            FigureFile::Distributed,
            format!(
                "How many hidden neurons a class uses: {:.1} on average carry 90% of a logit's \
                 positive evidence; mean class selectivity {}.",
                d.n90_mean,
                per_layer(
                    analysis,
                    analysis.layer_selectivity.iter().map(|l| {
                        let (t, i) = (&l.result.trained, l.result.init.as_ref());
                        let initially = i.map_or_else(String::new, |i| {
                            format!(" against {:.2} initially", i.mean)
                        });
                        (l.layer, format!("{:.2} trained{initially}", t.mean))
                    })
                )
            ),
        ));
    }
    out
}

/// A single reading as it is; several as `"hidden layer 1 reading; hidden layer 2 reading"`.
fn per_layer(analysis: &Analysis, readings: impl Iterator<Item = (usize, String)>) -> String {
    let layers = analysis.layers.len() - 1;
    let readings: Vec<(usize, String)> = readings.collect();
    if readings.len() == 1 {
        return readings.into_iter().map(|(_, r)| r).collect();
    }
    readings
        .into_iter()
        .map(|(l, r)| format!("{} {r}", layer_name(layers, l)))
        .collect::<Vec<_>>()
        .join("; ")
}

fn collapse_reading(analysis: &Analysis, last: &LayerCollapse) -> String {
    let nc1 = per_layer(
        analysis,
        analysis.layer_collapse.iter().map(|c| {
            let initially = c
                .result
                .init
                .map_or_else(String::new, |i| format!(" ({:.3} initially)", i.nc1));
            (c.layer, format!("{:.3}{initially}", c.result.trained.nc1))
        }),
    );
    let nc3 = |c: &crate::analysis::collapse::NeuralCollapse| c.nc3.unwrap_or(f64::NAN);
    format!(
        "How each hidden layer's classes gather around their means (NC1, 0 = all on the mean) \
         and how close the output layer comes to the last hidden layer's means (NC3): NC1 \
         {nc1}; NC3 {:.3} after training{}.",
        nc3(&last.result.trained),
        last.result.init.map_or_else(String::new, |i| format!(
            " against {:.3} initially",
            nc3(&i)
        ))
    )
}

fn blend_reading(analysis: &Analysis) -> String {
    let at = |c: &BlendCurve, k: usize| c.mean_at(k).unwrap_or(f64::NAN);
    let layers = analysis.layers.len() - 1;
    let parts: Vec<String> = analysis
        .layer_blend
        .iter()
        .map(|b| {
            let blend = &b.blend;
            format!(
                "{} (reading {}): the most similar input explains {:.3} of the trained weights, \
                 ten explain {:.3}{} (ten random inputs: {:.3})",
                layer_name(layers, b.layer),
                b.input,
                at(&blend.trained, 1),
                at(&blend.trained, 10),
                blend.delta.as_ref().map_or_else(String::new, |d| format!(
                    " and {:.3} of their change",
                    at(d, 10)
                )),
                at(&blend.random, 10),
            )
        })
        .collect();
    format!(
        "The share of each neuron that its k most similar inputs explain, r(k); a neuron that \
         was one input would reach 1 at k = 1. {}.",
        capitalised(&parts.join("; "))
    )
}

/// Every layer after the first seen in pixels.
fn pixel_template_readings(analysis: &Analysis) -> Vec<(FigureFile, String)> {
    let layers = analysis.layers.len() - 1;
    analysis
        .pixel_templates
        .iter()
        .skip(1)
        .map(|p| {
            let t = &p.result.trained;
            let init = p.result.init.as_ref().map_or_else(
                || " (initial weights not given)".to_string(),
                |i| {
                    format!(
                        " (initial weights: {:.3} and {:.3})",
                        i.nearest.mean, i.class_best.mean
                    )
                },
            );
            (
                FigureFile::PixelTemplates(p.layer),
                format!(
                    "Every neuron of {} seen in pixels: its pixel template, the mean over the test \
                     images of the gradient of its pre-activation with respect to the input. Its best \
                     cosine with a training image is {:.3} on average, with a centred class mean \
                     {:.3}{init}.",
                    layer_in_sentence(layers, p.layer),
                    t.nearest.mean,
                    t.class_best.mean
                ),
            )
        })
        .collect()
}

/// One layer of `match.html`'s table.
#[derive(Serialize)]
struct MatchRowView {
    layer: String,
    weight: String,
    weight_init: String,
    activation: String,
    activation_init: String,
    cka: String,
    cka_init: String,
}

#[derive(Serialize)]
struct MatchPage {
    title: String,
    style: &'static str,
    a: String,
    b: String,
    epochs: String,
    verdicts: Vec<VerdictView>,
    rows: Vec<MatchRowView>,
    figures: Vec<FigureView>,
}

/// Three decimals, never "-0.000" for a mean that only rounds to zero.
pub(crate) fn three_places(v: f64) -> String {
    let text = format!("{v:.3}");
    if text == "-0.000" {
        "0.000".into()
    } else {
        text
    }
}

fn mean_median(m: Option<MeanMedian>) -> String {
    m.map_or_else(
        || "—".into(),
        |m| format!("{} ({})", three_places(m.mean), three_places(m.median)),
    )
}

fn layer_match_rows(matched: &[LayerMatch]) -> Vec<MatchRowView> {
    let layers = matched.len();
    matched
        .iter()
        .map(|l| {
            let init = l.init.as_ref();
            MatchRowView {
                layer: layer_name(layers, l.layer),
                weight: mean_median(Some(l.weight_cos)),
                weight_init: mean_median(init.map(|i| i.weight_cos)),
                activation: mean_median(l.activation_corr),
                activation_init: mean_median(init.and_then(|i| i.activation_corr)),
                cka: format!("{:.3}", l.cka),
                cka_init: init.map_or_else(|| "—".into(), |i| format!("{:.3}", i.cka)),
            }
        })
        .collect()
}

/// What each of `match`'s figures shows.
fn match_readings(result: &NetworkMatch) -> Vec<(FigureFile, String)> {
    let mut readings = vec![
        (
            FigureFile::MatchPairs,
            "The first hidden layer's best and worst matched pairs: A's neuron's incoming \
             weights as an image beside its match in B."
                .to_string(),
        ),
        (
            FigureFile::MatchCosines,
            "The matched cosines of every layer for the trained networks, and for their \
             initial weights matched the same way: how far training moved the pairs apart \
             from chance."
                .to_string(),
        ),
    ];
    if let (Some(first), Some(last)) = (result.epochs.first(), result.epochs.last()) {
        let cka = |e: &crate::analysis::matching::EpochMatch| {
            e.layers.first().map_or(f64::NAN, |l| l.cka)
        };
        readings.push((
            FigureFile::MatchEpochs,
            format!(
                "The figures at every epoch both networks saved: the first layer's CKA goes \
                 from {:.3} at epoch {} to {:.3} at epoch {}.",
                cka(first),
                first.epoch,
                cka(last),
                last.epoch
            ),
        ));
    }
    readings
}

/// Writes `match.html` beside `match.json` and the figures in `figures`.
pub(crate) fn write_match_report(
    dir: &RunDir,
    result: &NetworkMatch,
    verdicts: Vec<Verdict>,
    figures: &Path,
) -> Result<()> {
    let epochs = match result.epochs.as_slice() {
        [] => "none both saved: the trained networks only".to_string(),
        [only] => format!("{} only", only.epoch),
        many => format!(
            "{} to {} ({} in all)",
            many[0].epoch,
            many[many.len() - 1].epoch,
            many.len()
        ),
    };
    let page = MatchPage {
        title: "weightscope: do two networks learn the same neurons?".into(),
        style: STYLE,
        a: result.a.clone(),
        b: result.b.clone(),
        epochs,
        verdicts: verdict_views(verdicts),
        rows: layer_match_rows(&result.layers),
        figures: match_readings(result)
            .into_iter()
            .filter_map(|(name, reading)| figure_view(figures, name, reading))
            .collect(),
    };
    dir.write(
        MATCH_REPORT_FILE,
        render("match_report.html", page)?.as_bytes(),
    )
}
