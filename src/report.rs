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

pub const REPORT_FILE: &str = "report.html";

fn esc(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One claim of the article, judged by a measured value against its baseline.
pub struct Verdict {
    pub claim: String,
    pub holds: bool,
    pub evidence: String,
}

/// The article's claims as this run's numbers bear them out.
pub fn verdicts(analysis: &Analysis) -> Vec<Verdict> {
    let mut out = Vec::new();
    let layers = analysis.probe.layers.len();
    for w in &analysis.probe.layers {
        out.push(Verdict {
            claim: format!(
                "The {}'s most active neuron for the probe has weights that look like the layer's input.",
                layer_name(layers, w.layer)
            ),
            holds: w.cos_trained > w.cos_init,
            evidence: format!(
                "cos(input, winner's weights) = {:.3} after training against {:.3} for the initial weights",
                w.cos_trained, w.cos_init
            ),
        });
    }
    let ct = &analysis.class_template;
    if let (Some(t), Some(i)) = (ct.trained.diag_centered, ct.init.diag_centered) {
        out.push(Verdict {
            claim: "Each output neuron of the single-layer perceptron becomes a template of its class.".into(),
            holds: t.rows_diag_max >= 9 && t.diag_mean > t.offdiag_mean,
            evidence: format!(
                "centred class means match their own neuron best in {}/10 classes (initial: {}/10); \
                 mean cosine on the diagonal {:.3} against {:.3} off it (initial {:.3})",
                t.rows_diag_max, i.rows_diag_max, t.diag_mean, t.offdiag_mean, i.diag_mean
            ),
        });
    }
    for n in &analysis.nearest_input {
        let (t, i) = (&n.result.trained.summary, &n.result.init.summary);
        out.push(Verdict {
            claim: format!(
                "Training pulls every neuron of the {} towards some training input.",
                layer_name(layers, n.layer)
            ),
            holds: t.mean > i.mean && t.median > i.median,
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
            holds: d.rows_diag_max >= 9 && d.diag_mean > d.offdiag_mean,
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
            holds: s.outside_fraction < 1e-3,
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
            if v.holds { "yes" } else { "no" },
            if v.holds { "Holds:" } else { "Does not hold:" },
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
    let mut out = vec![
        ("winners", format!(
            "The probe image beside the weights of the most active neuron of each layer; the first layer's winner has cosine {:.3} with the probe (initial weights: {:.3}).",
            first.cos_trained, first.cos_init
        )),
        ("weights", "Every first-layer neuron's weights as an image (red positive, blue negative): after training they carry stroke-like structure the initial ones lack.".into()),
        ("weights_init", "The same neurons before training: uniform noise, the baseline for every figure.".into()),
        ("class_template", format!(
            "Cosine between each class's mean image and each first-layer neuron; trained (left) against initial (right). Best-matching neuron per centred class mean: {:.3} trained, {:.3} initial.",
            analysis.class_template.trained.best_match_mean_centered,
            analysis.class_template.init.best_match_mean_centered
        )),
    ];
    if let Some(n) = analysis.nearest_input.first() {
        out.push(("nearest_input", format!(
            "How closely each neuron's weights resemble the most similar training image: the trained distribution (mean {:.3}) sits well right of the initial one (mean {:.3}), yet far from 1.",
            n.result.trained.summary.mean, n.result.init.summary.mean
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
figcaption{color:#444;margin-top:.5em}.yes{color:#1a7f37}.no{color:#b42318}.ev{color:#555}li{margin:.5em 0}";

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

/// Writes `report.html` into a run folder that holds its metrics, analysis and figures.
pub fn write_run_report(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    analysis: &Analysis,
    comparison: Option<&crate::compare::Comparison>,
) -> Result<()> {
    let mut body = String::new();
    let _ = write!(
        body,
        "<h2>Setup</h2>\n<table>\n<tr><th>model</th><td>{}</td></tr>\n<tr><th>data</th><td>{}</td></tr>\n\
         <tr><th>optimiser</th><td>{}, learning rate {}</td></tr>\n<tr><th>training</th><td>{} epochs, batch {}, seed {}, backend {}</td></tr>\n\
         <tr><th>test accuracy</th><td>{:.4} (loss {:.4})</td></tr>\n<tr><th>training time</th><td>{:.1} s</td></tr>\n</table>\n",
        esc(&metrics.model),
        esc(&config.data.dir.display().to_string()),
        esc(&metrics.optimizer),
        config.training.learning_rate,
        metrics.epochs.len(),
        config.training.batch_size,
        metrics.seed,
        esc(&metrics.backend),
        metrics.test.accuracy,
        metrics.test.loss,
        metrics.train_seconds
    );
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
