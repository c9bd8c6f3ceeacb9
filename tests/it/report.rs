//! report.html: self-contained, every figure present, a verdict backed by numbers, and a page
//! a real browser renders (headless Chromium; .ci/run installs Debian's chromium).

use std::path::Path;

use serde_json::Value;

/// The label the page gives the verdict whose claim starts with `claim`.
fn label_of<'h>(html: &'h str, claim: &str) -> &'h str {
    let at = html
        .find(&format!("</b> {claim}"))
        .unwrap_or_else(|| panic!("no verdict on {claim:?}"));
    let start = html[..at].rfind("<li><b class=\"").unwrap() + "<li><b class=\"".len();
    &html[start..html[start..].find('"').unwrap() + start]
}

fn holds(yes: bool) -> &'static str {
    if yes { "yes" } else { "no" }
}

#[test]
fn run_report_is_self_contained_with_every_figure_and_a_verdict() {
    let run = &crate::common::shared_mlp().dir;
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for name in crate::common::MLP_FIGURES {
        let start = html
            .find(&format!("<figure id=\"fig-{name}\">"))
            .unwrap_or_else(|| panic!("{name} missing"));
        let figure = &html[start..start + html[start..].find("</figure>").unwrap()];
        assert!(
            figure.contains("<svg") || figure.contains("data:image/png;base64,"),
            "{name} is empty"
        );
        assert!(figure.contains("<figcaption>"), "{name} has no reading");
    }
    // Nothing is loaded from elsewhere: no external images, scripts or style sheets.
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http") && !html.contains("<script")
    );
    assert!(html.contains("Verdict on the article's claims"));
    assert!(
        html.contains("<a href=\"explore.html\">") && run.join("explore.html").is_file(),
        "the report points to the explorer beside it"
    );
    // Each verdict's label follows from the run's own numbers by the rules the report names:
    // a figure holds when it beats its initial baseline.
    let a: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("analysis.json")).unwrap()).unwrap();
    let number = |v: &Value| v.as_f64().unwrap();
    for (l, name) in ["Hidden layer 1", "Output layer"].iter().enumerate() {
        let w = &a["probe"]["layers"][l];
        let expected = holds(number(&w["cos_trained"]) > number(&w["cos_init"]));
        let claim = format!("{name}: the most active neuron for the probe");
        assert_eq!(label_of(&html, &claim), expected, "{w}");
    }
    let c = &a["layer_collapse"][0];
    let expected = holds(number(&c["trained"]["nc1"]) < number(&c["init"]["nc1"]));
    let claim = "Training gathers each class around its mean in hidden layer 1";
    assert_eq!(label_of(&html, claim), expected, "{c}");
    let expected = holds(number(&a["distributed"]["n90_mean"]) <= 3.0);
    let claim = "Each class is carried by a few hidden neurons";
    assert_eq!(label_of(&html, claim), expected);
    let labels = html.matches("<li><b class=").count();
    assert!(labels >= 8, "{labels} verdicts");
    assert!(
        html.contains("for the initial weights"),
        "every claim names its baseline"
    );
}

/// Fraction of pixels of a PNG that are not (nearly) white.
fn ink(path: &Path) -> f64 {
    let decoder = png::Decoder::new(std::fs::File::open(path).unwrap());
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let channels = info.color_type.samples();
    let pixels = buf[..info.buffer_size()].chunks(channels);
    let total = (info.width * info.height) as f64;
    pixels
        .filter(|p| p.iter().take(3).any(|&c| c < 200))
        .count() as f64
        / total
}

#[test]
fn chromium_renders_the_report() {
    let Some(browser) = crate::common::chromium_or_skip() else {
        return;
    };
    let run = &crate::common::shared_mlp().dir;
    let scratch = tempfile::tempdir().unwrap();
    let shot = scratch.path().join("shot.png");
    let status = crate::common::headless(&browser, &scratch.path().join("profile"))
        .arg("--window-size=1200,2400")
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", run.join("report.html").display()))
        .output()
        .unwrap();
    crate::common::succeeded(&status);
    let ink = ink(&shot);
    assert!(
        ink > 0.05,
        "the screenshot is nearly blank ({:.1}% ink)",
        ink * 100.0
    );
}
