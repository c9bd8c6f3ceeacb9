//! `report.html`: one self-contained page per run and per sweep, with the setup, the figures
//! (inlined), a one-sentence reading of each, the TensorFlow comparison where reference
//! results exist, and a plain verdict on the article's claims, each backed by a number and
//! its baseline.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use base64::Engine as _;

use crate::analysis::pass::Analysis;
use crate::artifacts::{FIGURES_DIR, Metrics, RunDir, write_atomic};
use crate::config::Config;
use crate::model::layer_name;
use crate::sweep::Summary;

pub use crate::artifacts::REPORT_FILE;

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// What a verdict says where the initial weights were not given.
const NO_INIT: &str = "the initial weights were not given (analyze --init FILE), so there is no \
                       baseline to compare with";

/// One claim of the article, judged by a measured value against its baseline.
pub struct Verdict {
    pub claim: String,
    /// `None` where the claim needs a baseline that is absent (the initial weights).
    pub holds: Option<bool>,
    pub evidence: String,
}

/// The article's claims as this run's numbers bear them out.
pub fn verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let mut out = Vec::new();
    let layers = analysis.probe.layers.len();
    for w in &analysis.probe.layers {
        out.push(Verdict {
            claim: format!(
                "{}: the most active neuron for the probe has weights that look like the layer's input.",
                capitalised(&layer_name(layers, w.layer))
            ),
            holds: w.cos_init.map(|i| w.cos_trained > i),
            evidence: match w.cos_init {
                Some(i) => format!(
                    "cos(input, winner's weights) = {:.3} after training against {i:.3} for the initial weights",
                    w.cos_trained
                ),
                None => format!("cos(input, winner's weights) = {:.3} after training; {NO_INIT}", w.cos_trained),
            },
        });
    }
    let ct = &analysis.class_template;
    if let Some(t) = ct.trained.diag_centered {
        let initially = ct.init.as_ref().and_then(|i| i.diag_centered).map_or_else(
            || format!("; {NO_INIT}"),
            |i| {
                format!(
                    " (initial: {}/10 classes, diagonal {:.3})",
                    i.rows_diag_max, i.diag_mean
                )
            },
        );
        out.push(Verdict {
            claim:
                "Each output neuron of the single-layer perceptron becomes a template of its class."
                    .into(),
            holds: Some(t.rows_diag_max >= 9 && t.diag_mean > t.offdiag_mean),
            evidence: format!(
                "centred class means match their own neuron best in {}/10 classes; mean cosine \
                 on the diagonal {:.3} against {:.3} off it{initially}",
                t.rows_diag_max, t.diag_mean, t.offdiag_mean
            ),
        });
    }
    for n in &analysis.nearest_input {
        let t = &n.result.trained.summary;
        let Some(i) = n.result.init.as_ref().map(|i| &i.summary) else {
            out.push(Verdict {
                claim: format!(
                    "Training pulls every {} neuron towards some training input.",
                    layer_name(layers, n.layer)
                ),
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
            claim: format!(
                "Training pulls every {} neuron towards some training input.",
                layer_name(layers, n.layer)
            ),
            holds: Some(t.mean > i.mean && t.median > i.median),
            evidence: format!(
                "per-neuron max cosine to any training image: mean {:.3}, median {:.3}, max {:.3} \
                 after training against mean {:.3}, median {:.3}, max {:.3} initially; the best \
                 match stays far from an identical image (cosine 1)",
                t.mean, t.median, t.max, i.mean, i.median, i.max
            ),
        });
    }
    if let Some(d) = analysis
        .effective_class_template
        .as_ref()
        .and_then(|e| e.diag_centered)
    {
        out.push(Verdict {
            claim: "The network as a whole matches inputs against class templates, even where single hidden neurons do not look like digits.".into(),
            holds: Some(d.rows_diag_max >= 9 && d.diag_mean > d.offdiag_mean),
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
            claim: "The first layer's change lies in the span of the training inputs (dW = inputs^T · dout).".into(),
            holds: Some(s.outside_fraction < 1e-3),
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

fn verdict_html(verdicts: &[Verdict]) -> String {
    let mut out = String::from("<ul class=\"verdicts\">\n");
    for v in verdicts {
        let _ = writeln!(
            out,
            "<li><b class=\"{}\">{}</b> {} <span class=\"ev\">({})</span></li>",
            match v.holds {
                Some(true) => "yes",
                Some(false) => "no",
                None => "open",
            },
            match v.holds {
                Some(true) => "Holds:",
                Some(false) => "Does not hold:",
                None => "No baseline:",
            },
            esc(&v.claim),
            esc(&v.evidence)
        );
    }
    out.push_str("</ul>\n");
    out
}

/// A figure as inline SVG, or as an inline PNG when the SVG is too large to embed sensibly
/// (the weight grids draw one rectangle per weight).
fn figure_html(dir: &Path, name: &str, reading: &str) -> Option<String> {
    const MAX_SVG: u64 = 2_000_000;
    let svg = dir.join(format!("{name}.svg"));
    let png = dir.join(format!("{name}.png"));
    let body = match std::fs::metadata(&svg) {
        Ok(m) if m.len() <= MAX_SVG => std::fs::read_to_string(&svg).ok()?,
        _ => {
            let bytes = std::fs::read(&png).ok()?;
            format!(
                "<img alt=\"{name}\" src=\"data:image/png;base64,{}\">",
                base64::engine::general_purpose::STANDARD.encode(bytes)
            )
        }
    };
    Some(format!(
        "<figure id=\"fig-{name}\">\n{body}\n<figcaption>{}</figcaption>\n</figure>\n",
        esc(reading)
    ))
}

/// The one-sentence reading of each figure, in the order they appear.
fn readings(analysis: &Analysis) -> Vec<(&'static str, String)> {
    let first = &analysis.probe.layers[0];
    let initially = |v: Option<f64>| {
        v.map_or_else(
            || " (initial weights not given)".to_string(),
            |v| format!(" (initial weights: {v:.3})"),
        )
    };
    let mut out = vec![
        (
            "winners",
            format!(
                "The probe image beside the weights of the most active neuron of each layer; the first layer's winner has cosine {:.3} with the probe{}.",
                first.cos_trained,
                initially(first.cos_init)
            ),
        ),
        (
            "weights",
            if analysis.class_template.init.is_some() {
                "Every first-layer neuron's weights as an image (red positive, blue negative), to set beside the initial ones below: training adds the structure that random weights lack.".into()
            } else {
                "Every first-layer neuron's weights as an image (red positive, blue negative)."
                    .into()
            },
        ),
        (
            "weights_init",
            "The same neurons before training: uniform noise, the baseline for every figure."
                .into(),
        ),
        (
            "class_template",
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
        out.push(("nearest_input", format!(
            "How closely each neuron's weights resemble the most similar training image: mean {:.3} after training{}; an identical image would give 1.",
            n.result.trained.summary.mean,
            initially(n.result.init.as_ref().map(|i| i.summary.mean))
        )));
    }
    if analysis.effective_templates.is_some() {
        out.push(("effective_templates", "What the whole network matches each class against: the mean input gradient of each class's logit over its test images.".into()));
    }
    out.push(("dynamics", "Loss, accuracy and the similarity figures after every epoch; epoch 0 is the initial model.".into()));
    out.push((
        "loss_vs_tensorflow",
        "weightscope's training loss per epoch beside TensorFlow's runs of the same setup.".into(),
    ));
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1400px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}figure{margin:2em 0}figure svg,figure img{max-width:100%;height:auto}\
figcaption{color:#444;margin-top:.5em}.yes{color:#1a7f37}.no{color:#b42318}.open{color:#8a6d00}.ev{color:#555}li{margin:.5em 0}";

/// Where a reader finds what each number means; the page travels without the repository.
const METHOD_NOTE: &str = "<p>Every figure on this page is defined in <code>docs/method.md</code> \
of the weightscope repository. Dense layers are named hidden layer 1, 2, … and output layer \
(in <code>analysis.json</code>, <code>layer</code> counts them from 0).</p>\n";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{}</title>\
         <style>{STYLE}</style></head><body>\n<h1>{}</h1>\n{body}</body></html>\n",
        esc(title),
        esc(title)
    )
}

/// The setup table: how the run was trained, or only what is known of weights trained
/// elsewhere.
fn setup_html(config: &Config, metrics: &Metrics) -> String {
    let mut rows = vec![
        ("model", esc(&metrics.model)),
        ("data", esc(&config.data.dir.display().to_string())),
    ];
    if metrics.epochs.is_empty() {
        let by = match metrics.backend.as_str() {
            "imported" => String::new(),
            other => format!(" ({})", esc(other)),
        };
        rows.push(("trained", format!("elsewhere{by}")));
    } else {
        rows.push((
            "optimiser",
            format!(
                "{}, learning rate {}",
                esc(&metrics.optimizer),
                config.training.learning_rate
            ),
        ));
        rows.push((
            "training",
            format!(
                "{} epochs, batch {}, seed {}, backend {}",
                metrics.epochs.len(),
                config.training.batch_size,
                metrics.seed,
                esc(&metrics.backend)
            ),
        ));
    }
    if metrics.test.accuracy.is_finite() {
        rows.push((
            "test accuracy",
            format!(
                "{:.4} (loss {:.4})",
                metrics.test.accuracy, metrics.test.loss
            ),
        ));
    }
    if metrics.train_seconds.is_finite() {
        rows.push(("training time", format!("{:.1} s", metrics.train_seconds)));
    }
    let mut out = String::from("<h2>Setup</h2>\n<table>\n");
    for (name, value) in rows {
        let _ = writeln!(out, "<tr><th>{name}</th><td>{value}</td></tr>");
    }
    out.push_str("</table>\n");
    out
}

/// Writes `report.html` into a run folder that holds its metrics, analysis and figures.
pub fn write_run_report(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    analysis: &Analysis,
    comparison: Option<&crate::compare::Comparison>,
) -> Result<()> {
    let mut body = setup_html(config, metrics);
    body.push_str(METHOD_NOTE);
    body.push_str("<h2>Verdict on the article's claims</h2>\n");
    body.push_str(&verdict_html(&verdicts(analysis)));
    if let Some(c) = comparison {
        let agree = c.rows.iter().filter(|r| r.agrees()).count();
        let _ = write!(
            body,
            "<h2>Against TensorFlow {}</h2>\n<p>{agree} of {} figures lie within TensorFlow's range over seeds {:?}, widened by the stated tolerance.</p>\n<table><tr><th>figure</th><th>weightscope</th><th>TensorFlow mean</th><th>TensorFlow min..max</th><th>agrees</th></tr>\n",
            esc(&c.tensorflow),
            c.rows.len(),
            c.seeds
        );
        for r in &c.rows {
            let (lo, hi) = r.range();
            let _ = writeln!(
                body,
                "<tr><td>{}</td><td>{:.4}</td><td>{:.4}</td><td>{:.4}..{:.4}</td><td class=\"{}\">{}</td></tr>",
                esc(&r.name),
                r.ours,
                r.mean(),
                lo,
                hi,
                if r.agrees() { "yes" } else { "no" },
                if r.agrees() { "yes" } else { "no" }
            );
        }
        body.push_str("</table>\n");
    }
    body.push_str("<h2>Figures</h2>\n");
    let figures = dir.file(FIGURES_DIR);
    for (name, reading) in readings(analysis) {
        if let Some(html) = figure_html(&figures, name, &reading) {
            body.push_str(&html);
        }
    }
    let title = format!("weightscope: {}", metrics.model);
    write_atomic(&dir.file(REPORT_FILE), page(&title, &body).as_bytes())
}

/// The article's setup in the sweep (MNIST, Adam, SLP or MLP-128) against TensorFlow's runs.
fn tensorflow_section(summary: &Summary, reference: &[crate::compare::ReferenceRun]) -> String {
    let mut out = String::new();
    for g in &summary.groups {
        let mlp = match (g.dataset.as_str(), g.model.as_str(), g.optimizer.as_str()) {
            ("mnist", "slp", "adam") => false,
            ("mnist", "mlp-128", "adam") => true,
            _ => continue,
        };
        let runs: Vec<crate::sweep::RunFigures> = reference
            .iter()
            .filter_map(|r| r.model(mlp))
            .filter_map(|m| {
                let a: Analysis = serde_json::from_value(m.analysis.clone()).ok()?;
                Some(crate::sweep::figures(m.test.accuracy, &a))
            })
            .collect();
        if runs.is_empty() {
            continue;
        }
        let _ = write!(
            out,
            "<h3>{} {} {} against TensorFlow ({} seeds)</h3>\n<table><tr><th>figure</th><th>weightscope mean ± std</th><th>TensorFlow mean</th><th>TensorFlow min..max</th></tr>\n",
            esc(&g.dataset),
            esc(&g.model),
            esc(&g.optimizer),
            runs.len()
        );
        for (name, stat) in &g.figures {
            let theirs: Vec<f64> = runs
                .iter()
                .filter_map(|r| r.iter().find(|(n, _)| n == name).map(|(_, v)| *v))
                .collect();
            if theirs.is_empty() {
                continue;
            }
            let mean = theirs.iter().sum::<f64>() / theirs.len() as f64;
            let lo = theirs.iter().copied().fold(f64::INFINITY, f64::min);
            let hi = theirs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td>{stat}</td><td>{mean:.4}</td><td>{lo:.4}..{hi:.4}</td></tr>",
                esc(name)
            );
        }
        out.push_str("</table>\n");
    }
    if out.is_empty() {
        return out;
    }
    format!("<h2>Against TensorFlow</h2>\n{out}")
}

/// Writes `report.html` for a sweep: the summary table, the verdicts with their spread and,
/// where the sweep holds the article's setup, TensorFlow's numbers beside it.
pub fn write_sweep_report(
    dir: &RunDir,
    summary: &Summary,
    tensorflow: Option<&[crate::compare::ReferenceRun]>,
) -> Result<()> {
    let mut body = String::from(METHOD_NOTE);
    body.push_str("<h2>Summary over seeds</h2>\n<table>\n<tr><th>figure</th>");
    for g in &summary.groups {
        let _ = write!(
            body,
            "<th>{} {} {}</th>",
            esc(&g.dataset),
            esc(&g.model),
            esc(&g.optimizer)
        );
    }
    body.push_str("</tr>\n");
    for name in summary.figure_names() {
        let _ = write!(body, "<tr><td>{}</td>", esc(name));
        for g in &summary.groups {
            match g.figures.get(name) {
                Some(s) => {
                    let _ = write!(body, "<td>{s}</td>");
                }
                None => body.push_str("<td></td>"),
            }
        }
        body.push_str("</tr>\n");
    }
    body.push_str(
        "</table>\n<h2>Verdict on the article's claims, per group</h2>\n<ul class=\"verdicts\">\n",
    );
    for g in &summary.groups {
        let pair = |t: &str, i: &str| Some((g.figures.get(t)?, g.figures.get(i)?));
        let mut lines = Vec::new();
        if let Some((t, i)) = pair(
            "nearest input max cos, mean over neurons, trained",
            "nearest input max cos, mean over neurons, init",
        ) {
            lines.push((
                t.mean - t.std > i.mean + i.std,
                format!("neurons move towards training inputs: max cosine {:.3} ± {:.3} against {:.3} ± {:.3} initially", t.mean, t.std, i.mean, i.std),
            ));
        }
        if let Some((t, i)) = pair(
            "class template diagonal (centred), trained",
            "class template diagonal (centred), init",
        ) {
            lines.push((
                t.mean - t.std > i.mean + i.std,
                format!("output neurons become class templates: diagonal cosine {:.3} ± {:.3} against {:.3} ± {:.3} initially", t.mean, t.std, i.mean, i.std),
            ));
        }
        if g.model != "slp"
            && let Some(t) = g
                .figures
                .get("nearest input max cos, mean over neurons, trained")
        {
            lines.push((
                t.mean > 0.9,
                format!(
                    "a single hidden neuron looks like a whole training image: its best match has cosine {:.3} ± {:.3} on average, where an identical image would give 1",
                    t.mean, t.std
                ),
            ));
        }
        if let Some(e) = g.figures.get("effective template diagonal (centred)") {
            lines.push((
                e.mean > 0.1,
                format!("the network as a whole matches class templates: effective-template diagonal cosine {:.3} ± {:.3}", e.mean, e.std),
            ));
        }
        if let Some(s) = g.figures.get("fraction of ΔW outside the inputs' span") {
            lines.push((
                s.mean < 1e-3,
                format!(
                    "ΔW outside the inputs' span: {:.2e} ± {:.1e}",
                    s.mean, s.std
                ),
            ));
        }
        for (holds, text) in lines {
            let _ = writeln!(
                body,
                "<li><b class=\"{}\">{}</b> {} {} {}: {}</li>",
                if holds { "yes" } else { "no" },
                if holds { "Holds:" } else { "Does not hold:" },
                esc(&g.dataset),
                esc(&g.model),
                esc(&g.optimizer),
                esc(&text)
            );
        }
    }
    body.push_str("</ul>\n");
    if let Some(tf) = tensorflow {
        body.push_str(&tensorflow_section(summary, tf));
    }
    body.push_str(
        "<p>Each run's own report.html, under the folders of this sweep, shows its figures.</p>\n",
    );
    write_atomic(
        &dir.file(REPORT_FILE),
        page("weightscope sweep", &body).as_bytes(),
    )
}
