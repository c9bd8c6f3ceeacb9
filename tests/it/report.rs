//! report.html: self-contained, every figure present, a verdict backed by numbers, and a page
//! a real browser renders (headless Chromium; .ci/run installs Debian's chromium).

use std::path::{Path, PathBuf};

use crate::common::Workspace;
use weightscope::analysis::pass::Analysis;
use weightscope::analysis::verdict::run_verdicts;

fn mlp_run(ws: &Workspace) -> PathBuf {
    let config = ws.config("mlp", &[16]).epochs(3).build();
    let out = ws.path("run");
    crate::common::train_into(&config, &out);
    out
}

#[test]
fn run_report_is_self_contained_with_every_figure_and_a_verdict() {
    let ws = Workspace::new(300, 60);
    let run = mlp_run(&ws);
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
    // The page shows the verdicts of the run's own analysis, in order, each with its label.
    let analysis: Analysis =
        serde_json::from_str(&std::fs::read_to_string(run.join("analysis.json")).unwrap()).unwrap();
    let expected: Vec<&str> = run_verdicts(&analysis)
        .iter()
        .map(|v| match v.holds {
            Some(true) => "<b class=\"yes\">Holds:</b>",
            Some(false) => "<b class=\"no\">Does not hold:</b>",
            None => "<b class=\"open\">No baseline:</b>",
        })
        .collect();
    let shown: Vec<&str> = html
        .match_indices("<li><b class=")
        .map(|(i, _)| {
            let b = &html[i + 4..];
            &b[..b.find("</b>").unwrap() + 4]
        })
        .collect();
    assert!(expected.len() >= 4, "{expected:?}");
    assert_eq!(shown, expected);
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
    let ws = Workspace::new(300, 60);
    let run = mlp_run(&ws);
    let shot = ws.path("shot.png");
    let status = crate::common::headless(&browser, &ws.path("profile"))
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
