//! The analysis pass of a real (tiny) run: analysis.json's schema and values, the figure
//! files, and `analyze --run` reproducing them.

use crate::common::read_json as json;
use std::path::Path;

use crate::common::Workspace;
use serde_json::Value;
use weightscope::analysis::forward::{images_matrix, propagate};
use weightscope::analysis::linalg::cosine;
use weightscope::analysis::pixel_templates::pixel_templates;
use weightscope::core::config::Activation;
use weightscope::core::data::Mnist;
use weightscope::store::RunDir;
use weightscope::train::saved::load_layers;

fn train(ws: &Workspace, name: &str, hidden: &[usize]) -> std::path::PathBuf {
    let config = ws.config(name, hidden).epochs(4).build();
    let out = ws.path(&format!("runs/{name}"));
    crate::common::train_into(&config, &out);
    out
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Width and height from a PNG's IHDR chunk.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap();
    assert_eq!(
        &bytes[..8],
        b"\x89PNG\r\n\x1a\n",
        "{} is not a PNG",
        path.display()
    );
    assert_eq!(&bytes[12..16], b"IHDR");
    let be = |i: usize| u32::from_be_bytes(bytes[i..i + 4].try_into().unwrap());
    (be(16), be(20))
}

fn svg_size(path: &Path) -> (u32, u32) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(
        text.trim_end().ends_with("</svg>"),
        "{} is not a complete SVG",
        path.display()
    );
    let attr = |name: &str| -> u32 {
        let start = text.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
        text[start..].split('"').next().unwrap().parse().unwrap()
    };
    (attr("width"), attr("height"))
}

#[test]
fn slp_analysis_shows_class_templates_and_input_likeness() {
    let ws = Workspace::new(400, 100);
    let run = train(&ws, "slp", &[]);
    let a = json(&run.join("analysis.json"));
    assert_eq!(a["layers"], serde_json::json!([784, 10]));
    let probe = &a["probe"];
    assert_eq!(probe["index"], 1);
    assert_eq!(probe["label"], 1);
    let layer = &probe["layers"][0];
    assert_eq!(layer["winner"], 1, "the probe is a class-1 image");
    assert!(
        f(&layer["cos_trained"]) > 1.5 * f(&layer["cos_init"]),
        "{layer}"
    );
    let ct = &a["class_template"];
    for which in ["trained", "init"] {
        let m = ct[which]["matrix"].as_array().unwrap();
        assert_eq!(m.len(), 10);
        assert!(m.iter().all(|r| r.as_array().unwrap().len() == 10));
        assert_eq!(ct[which]["matrix_centered"].as_array().unwrap().len(), 10);
    }
    let t = &ct["trained"];
    assert_eq!(t["rows_diag_max"], 10, "{t}");
    assert!(f(&t["diag_mean"]) > f(&t["offdiag_mean"]) + 0.1);
    assert!(f(&t["diag_mean"]) > f(&ct["init"]["diag_mean"]));
    // The SLP's only layer is also compared with every training input.
    let near = &a["nearest_input"][0];
    for which in ["trained", "init"] {
        for key in ["mean", "median", "min", "max"] {
            assert!(near[which][key].is_number(), "{which}.{key}");
        }
        assert_eq!(near[which]["cos"].as_array().unwrap().len(), 10);
        assert_eq!(near[which]["index"].as_array().unwrap().len(), 10);
        assert_eq!(near[which]["label"].as_array().unwrap().len(), 10);
    }
    assert!(f(&near["trained"]["mean"]) > f(&near["init"]["mean"]));
    // Neuron k's nearest image is of class k.
    let labels: Vec<u64> = near["trained"]["label"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(labels, (0..10).collect::<Vec<u64>>());
    assert!(a["effective_templates"].is_null());
    let dynamics = a["dynamics"].as_array().unwrap();
    assert_eq!(dynamics.len(), 5, "epochs 0..=4");
    for (e, d) in dynamics.iter().enumerate() {
        assert_eq!(d["epoch"], e);
    }
    // Epoch 0 is the initial model, the last epoch the trained one.
    assert_eq!(dynamics[0]["probe_cos"][0], layer["cos_init"]);
    assert_eq!(dynamics[4]["probe_cos"][0], layer["cos_trained"]);
    assert_eq!(
        dynamics[4]["nearest_input"][0]["mean"],
        near["trained"]["mean"]
    );
}

#[test]
fn mlp_analysis_has_hidden_layer_figures_and_effective_templates() {
    let run = &crate::common::shared_mlp().dir;
    let a = json(&run.join("analysis.json"));
    assert_eq!(a["layers"], serde_json::json!([784, 16, 10]));
    assert_eq!(a["probe"]["layers"].as_array().unwrap().len(), 2);
    let m = a["class_template"]["trained"]["matrix"].as_array().unwrap();
    assert_eq!(m[0].as_array().unwrap().len(), 16);
    assert!(a["class_template"]["trained"].get("diag_mean").is_none());
    let near = &a["nearest_input"].as_array().unwrap();
    assert_eq!(near.len(), 1, "one hidden layer");
    assert_eq!(near[0]["trained"]["cos"].as_array().unwrap().len(), 16);
    let eff = a["effective_templates"].as_array().unwrap();
    assert_eq!(eff.len(), 10);
    assert!(eff.iter().all(|t| t.as_array().unwrap().len() == 784));
    // Each class's effective template resembles its own centred class mean most.
    let ect = &a["effective_class_template"];
    assert_eq!(ect["rows_diag_max"], 10, "{ect}");
}

#[test]
fn figures_are_valid_png_and_svg_files_of_the_expected_size() {
    let dir = crate::common::shared_mlp().dir.join("figures");
    let names = crate::common::MLP_FIGURES;
    for name in names {
        let png = png_size(&dir.join(format!("{name}.png")));
        let svg = svg_size(&dir.join(format!("{name}.svg")));
        assert_eq!(png, svg, "{name}");
        assert!(png.0 >= 600 && png.1 >= 140, "{name}: {png:?}");
    }
    assert_eq!(png_size(&dir.join("dynamics.png")), (1300, 900));
    assert_eq!(png_size(&dir.join("winners.png")), (860, 800));
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 2 * names.len());
}

/// A PNG's pixels as RGB rows: width, height and the bytes.
fn png_rgb(bytes: &[u8]) -> (usize, usize, Vec<u8>) {
    let mut reader = png::Decoder::new(bytes).read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).unwrap();
    let step = info.color_type.samples();
    let rgb = buf[..info.buffer_size()]
        .chunks(step)
        .flat_map(|p| [p[0], p[1], p[2]])
        .collect();
    (info.width as usize, info.height as usize, rgb)
}

#[test]
fn image_panels_in_svg_are_embedded_pngs_showing_what_the_png_figure_shows() {
    use base64::Engine as _;
    let dir = crate::common::shared_mlp().dir.join("figures");
    let svg = std::fs::read_to_string(dir.join("weights.svg")).unwrap();
    let (width, _, figure) = png_rgb(&std::fs::read(dir.join("weights.png")).unwrap());
    assert!(
        !svg.contains("data:png;"),
        "an embedded image without a media type"
    );
    // Each piece starts with the image's attributes, each after a space.
    let images: Vec<&str> = svg
        .split("<image")
        .skip(1)
        .map(|i| &i[..i.find("/>").unwrap()])
        .collect();
    // One image per hidden neuron, rather than a rectangle per weight.
    assert_eq!(images.len(), 16);
    // The colour bar's hundred steps are rectangles; 16 x 784 cells would be 12,544 more.
    assert!(
        svg.matches("<rect").count() < 1000,
        "cells drawn as rectangles"
    );
    for image in images {
        let attr = |name: &str| -> &str {
            let start = image.find(&format!(" {name}=\"")).unwrap() + name.len() + 3;
            image[start..].split('"').next().unwrap()
        };
        let number = |name| attr(name).parse::<usize>().unwrap();
        let data = attr("href").strip_prefix("data:image/png;base64,").unwrap();
        let png = base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap();
        let (w, h, pixels) = png_rgb(&png);
        assert_eq!((w, h), (number("width"), number("height")));
        let (x, y) = (number("x"), number("y"));
        for row in 0..h {
            let at = ((y + row) * width + x) * 3;
            assert_eq!(
                pixels[row * w * 3..(row + 1) * w * 3],
                figure[at..at + w * 3],
                "row {row} of the panel at ({x}, {y})"
            );
        }
    }
}

#[test]
fn analyze_run_reproduces_analysis_json() {
    let ws = Workspace::new(300, 100);
    let run = train(&ws, "mlp", &[8]);
    let first = std::fs::read(run.join("analysis.json")).unwrap();
    std::fs::remove_file(run.join("analysis.json")).unwrap();
    std::fs::remove_dir_all(run.join("figures")).unwrap();
    let out = crate::common::binary()
        .args(["analyze", "--run", run.to_str().unwrap()])
        .output()
        .unwrap();
    crate::common::succeeded(&out);
    assert_eq!(std::fs::read(run.join("analysis.json")).unwrap(), first);
    assert!(run.join("figures/winners.png").is_file());
}

#[test]
fn analyze_rejects_a_folder_that_is_not_a_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = crate::common::binary()
        .args(["analyze", "--run", dir.path().to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("is not a weightscope run folder"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1);
}

#[test]
fn a_deeper_network_gets_every_figure_at_every_layer() {
    let ws = Workspace::new(400, 100);
    let run = train(&ws, "deep", &[24, 12]);
    let a = json(&run.join("analysis.json"));
    let array = |v: &Value| {
        v.as_array()
            .unwrap_or_else(|| panic!("not an array: {v}"))
            .clone()
    };
    // Each layer's blend curves against its own inputs; the first is `blend`.
    let blend = array(&a["layer_blend"]);
    let inputs: Vec<&str> = blend.iter().map(|b| b["input"].as_str().unwrap()).collect();
    assert_eq!(inputs, ["pixels", "hidden layer 1", "hidden layer 2"]);
    for b in &blend {
        for which in ["trained", "delta", "init", "random"] {
            let mean = array(&b[which]["mean"]);
            assert_eq!(mean.len(), 8, "{which}");
            // A share of a vector, which never falls as k grows (more inputs span more).
            assert!(
                mean.iter().all(|r| (0.0..=1.0 + 1e-9).contains(&f(r))),
                "{b}"
            );
            assert!(mean.windows(2).all(|w| f(&w[1]) >= f(&w[0]) - 1e-9), "{b}");
        }
    }
    // r(1) is the share of a neuron its most similar image explains: its best cosine squared,
    // which the nearest-input search finds by another path.
    let best: Vec<f64> = array(&a["nearest_input"][0]["trained"]["cos"])
        .iter()
        .map(f)
        .collect();
    let r1 = best.iter().map(|c| c * c).sum::<f64>() / best.len() as f64;
    let blend_r1 = f(&blend[0]["trained"]["mean"][0]);
    assert!((r1 - blend_r1).abs() < 1e-4, "r(1) {blend_r1} against {r1}");
    // Both hidden layers collapse; only the one feeding the output layer has NC3.
    let collapse = array(&a["layer_collapse"]);
    assert_eq!(collapse.len(), 2);
    assert!(collapse[0]["trained"].get("nc3").is_none());
    assert!(collapse[1]["trained"]["nc3"].is_number());
    for c in &collapse {
        assert!(f(&c["trained"]["nc1"]) < f(&c["init"]["nc1"]), "{c}");
    }
    // Class selectivity, (μ_max − μ_rest) / (μ_max + μ_rest) per neuron over the test
    // images, recomputed here from the hidden activations of the trained weights.
    let selectivity = array(&a["layer_selectivity"]);
    assert_eq!(selectivity.len(), 2);
    let test = Mnist::load(&ws.data_dir()).unwrap().test;
    let dir = RunDir::open(&run).unwrap();
    let layers = load_layers(&dir, "weights.bpk", &[784, 24, 12, 10], Activation::Relu).unwrap();
    let hidden = propagate(&layers, Activation::Relu, &images_matrix(&test)).inputs;
    for (l, s) in selectivity.iter().enumerate() {
        let h = &hidden[l + 1];
        let indices: Vec<f64> = (0..h.cols)
            .map(|j| {
                let mut sums = [0.0f64; 10];
                let mut counts = [0usize; 10];
                for (r, &label) in test.labels.iter().enumerate() {
                    sums[label as usize] += f64::from(h.row(r)[j]);
                    counts[label as usize] += 1;
                }
                let means: Vec<f64> = (0..10).map(|c| sums[c] / counts[c].max(1) as f64).collect();
                let best = (0..10)
                    .max_by(|&x, &y| means[x].total_cmp(&means[y]))
                    .unwrap();
                let rest = (0..10)
                    .filter(|&c| c != best)
                    .map(|c| means[c])
                    .sum::<f64>()
                    / 9.0;
                let total = means[best] + rest;
                if total == 0.0 {
                    0.0
                } else {
                    (means[best] - rest) / total
                }
            })
            .collect();
        let mean = indices.iter().sum::<f64>() / indices.len() as f64;
        let shown = f(&s["trained"]["mean"]);
        assert!(
            (mean - shown).abs() < 1e-9,
            "hidden layer {}: {shown} against {mean}",
            l + 1
        );
    }
    // The dynamics follow NC1 of every hidden layer: both fall over training.
    let dynamics = array(&a["dynamics"]);
    for d in &dynamics {
        assert_eq!(array(&d["nc1_layers"]).len(), 2);
    }
    let (first, last) = (&dynamics[0], &dynamics[dynamics.len() - 1]);
    for l in 0..2 {
        let (before, after) = (f(&first["nc1_layers"][l]), f(&last["nc1_layers"][l]));
        assert!(
            after < before,
            "hidden layer {}: NC1 {before} -> {after}",
            l + 1
        );
    }
    // Every layer seen in pixels: the first layer's templates are its weights, whose nearest
    // input the analysis already has; the deeper layers' are searched over the training images
    // as the mean over the test images of d z / d x.
    let pixel = array(&a["pixel_templates"]);
    assert_eq!(pixel.len(), 3);
    for key in ["mean", "median", "max"] {
        assert_eq!(
            pixel[0]["trained"]["nearest"][key],
            a["nearest_input"][0]["trained"][key]
        );
        assert_eq!(
            pixel[0]["init"]["nearest"][key],
            a["nearest_input"][0]["init"][key]
        );
    }
    let train_set = Mnist::load(&ws.data_dir()).unwrap().train;
    let templates = pixel_templates(&layers, Activation::Relu, &images_matrix(&test));
    for (l, entry) in pixel.iter().enumerate() {
        assert_eq!(entry["layer"], l);
        let t = &templates[l];
        let best: Vec<f64> = (0..t.rows)
            .map(|j| {
                (0..train_set.len())
                    .map(|i| cosine(t.row(j), &train_set.image(i)))
                    .fold(f64::NEG_INFINITY, f64::max)
            })
            .collect();
        let mean = best.iter().sum::<f64>() / best.len() as f64;
        let shown = f(&entry["trained"]["nearest"]["mean"]);
        assert!(
            (mean - shown).abs() < 1e-4,
            "layer {l}: {shown} against {mean}"
        );
        let class_best = f(&entry["trained"]["class_best"]["mean"]);
        assert!((-1.0..=1.0).contains(&class_best), "{entry}");
        assert!(entry["init"]["class_best"]["mean"].is_number(), "{entry}");
    }
    for l in [1, 2] {
        let png = run.join(format!("figures/pixel_templates_layer{l}.png"));
        assert!(png.is_file(), "{}", png.display());
    }
    assert!(!run.join("figures/pixel_templates_layer0.png").exists());
    // The report judges NC1 and the blend at every layer.
    let report = std::fs::read_to_string(run.join("report.html")).unwrap();
    for layer in ["hidden layer 1", "hidden layer 2"] {
        assert!(
            report.contains(&format!("its mean in {layer} (NC1 falls)")),
            "{layer}"
        );
    }
    for layer in ["hidden layer 1", "hidden layer 2", "output layer"] {
        assert!(
            report.contains(&format!("Each neuron of the {layer} is one of")),
            "{layer}"
        );
    }
    for layer in ["hidden layer 2", "the output layer"] {
        for what in ["an input", "a class template"] {
            let claim = format!("Seen in pixels, a neuron of {layer} looks like {what}.");
            assert!(report.contains(&claim), "{claim}");
        }
    }
}

/// The analysis of `run`'s snapshots, read one by one as training would hand them over
/// (`planned` epochs announced), equals the analysis that reads them all at the end; with
/// every snapshot but the trained one read early.
fn early_readings_change_nothing(run: &Path, planned: usize, read: impl Fn(usize) -> bool + Sync) {
    use weightscope::analysis::alongside::Alongside;
    use weightscope::analysis::pass::{analyze, analyze_with};
    use weightscope::analysis::results::AnalysisInputs;
    let finished = weightscope::app::finished::FinishedRun::open(run).unwrap();
    let (data, snapshots) = (finished.data().unwrap(), finished.snapshots().unwrap());
    let provenance = finished.provenance();
    let inputs = AnalysisInputs {
        activation: provenance.activation(),
        train: &data.full_train,
        test: &data.test,
        probe_index: provenance.probe_index(),
        snapshots: &snapshots,
        trained_on: None,
        explorer: true,
    };
    let plain = analyze(&inputs);
    // On one thread of its own, as a training run reads them.
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .unwrap();
    let early = pool.install(|| {
        let mut alongside = Alongside::new(&inputs, planned);
        for snapshot in snapshots.iter().filter(|s| read(s.epoch)) {
            alongside.read(snapshot);
        }
        alongside.finish()
    });
    // Epoch `planned`, the trained weights, is left to the analysis.
    let expected: Vec<usize> = (0..snapshots.len())
        .filter(|&e| e < planned && read(e))
        .collect();
    assert_eq!(early.epochs(), expected);
    let with_early = analyze_with(&inputs, early);
    let text = |a: &weightscope::analysis::results::Analysis| serde_json::to_string(a).unwrap();
    assert_eq!(text(&with_early.analysis), text(&plain.analysis));
    assert_eq!(with_early.pixel_templates, plain.pixel_templates);
    assert_eq!(with_early.explorer, plain.explorer);
}

#[test]
fn snapshots_read_while_training_give_the_analysis_read_afterwards() {
    let run = &crate::common::shared_mlp().dir;
    let epochs = json(&run.join("metrics.json"))["epochs"]
        .as_array()
        .unwrap()
        .len();
    assert!(epochs >= 3, "a run with epochs between its first and last");
    // Every snapshot read; only some (as after a resume); a run that ended before the epochs
    // planned, whose last snapshot was read as one between.
    early_readings_change_nothing(run, epochs, |_| true);
    early_readings_change_nothing(run, epochs, |e| e % 2 == 1);
    early_readings_change_nothing(run, epochs + 3, |_| true);
}

#[test]
fn deeper_networks_read_while_training_give_the_analysis_read_afterwards() {
    let ws = Workspace::new(300, 100);
    // Two hidden layers: pixel templates in closed form; three: summed input by input.
    for (name, hidden) in [("deep", &[12, 8][..]), ("deeper", &[12, 8, 6][..])] {
        let run = train(&ws, name, hidden);
        early_readings_change_nothing(&run, 4, |_| true);
    }
}
