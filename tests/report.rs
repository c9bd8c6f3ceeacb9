//! report.html: self-contained, every figure present, a verdict backed by numbers, and a page
//! a real browser renders (headless Chromium; .ci/run installs Debian's chromium).

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::Workspace;
use weightscope::config::Config;
use weightscope::pipeline::run_training;
use weightscope::progress::Progress;

fn mlp_run(ws: &Workspace) -> PathBuf {
    let config = Config::load(&ws.config("mlp", &[16], "epochs = 3")).unwrap();
    let out = ws.path("run");
    run_training(&config, Some(out.clone()), true, &mut Progress::silent()).unwrap();
    out
}

#[test]
fn run_report_is_self_contained_with_every_figure_and_a_verdict() {
    let ws = Workspace::new(300, 60);
    let run = mlp_run(&ws);
    let html = std::fs::read_to_string(run.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    for name in common::MLP_FIGURES {
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
    assert!(html.contains("Holds:") || html.contains("Does not hold:"));
    assert!(
        html.contains("for the initial weights"),
        "every claim names its baseline"
    );
}

fn chromium() -> PathBuf {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        })
        .expect("headless Chromium is needed to test the report: apt-get install chromium")
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
    let ws = Workspace::new(300, 60);
    let run = mlp_run(&ws);
    let shot = ws.path("shot.png");
    let status = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--window-size=1200,2400",
        ])
        .arg(format!("--user-data-dir={}", ws.path("profile").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(format!("file://{}", run.join("report.html").display()))
        .output()
        .unwrap();
    common::succeeded(&status);
    let ink = ink(&shot);
    assert!(
        ink > 0.05,
        "the screenshot is nearly blank ({:.1}% ink)",
        ink * 100.0
    );
}
