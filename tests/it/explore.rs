//! The explorer page in a real browser (headless Chromium): its forward pass against
//! weightscope's on the same snapshot, a replayed drawing against weightscope's preprocessing,
//! and a page that asks the network for nothing and logs no error.

use std::path::Path;

use serde_json::Value;
use weightscope::analysis::forward::{images_matrix, propagate};
use weightscope::analysis::linalg::{Matrix, argmax};
use weightscope::analysis::pixel_templates::pixel_templates;
use weightscope::analysis::probe::winners;
use weightscope::core::config::Activation;
use weightscope::core::data::Mnist;
use weightscope::core::drawing::{Stroke, drawn_input};
use weightscope::core::scaling::PerChannel;
use weightscope::core::weights::LayerWeights;
use weightscope::store::{RunDir, snapshot_file};
use weightscope::train::saved::load_layers;

use crate::common::{Workspace, chromium_or_skip, headless, succeeded};

/// The page's `explore-state` after it opened at `fragment`, and what Chromium logged.
fn page_state(browser: &Path, profile: &Path, page: &Path, fragment: &str) -> (Value, String) {
    let out = headless(browser, profile)
        .args([
            "--enable-logging=stderr",
            "--v=0",
            // Time enough for the page to inflate its data; virtual, so no slower on a slow
            // machine: the budget ends when the page has nothing left to do.
            "--virtual-time-budget=60000",
            "--dump-dom",
        ])
        .arg(format!("file://{}#{fragment}", page.display()))
        .output()
        .unwrap();
    let dom = succeeded(&out);
    let log = String::from_utf8_lossy(&out.stderr).into_owned();
    let start = dom
        .find("<pre id=\"explore-state\"")
        .unwrap_or_else(|| panic!("no explore-state in the page; Chromium said:\n{log}"));
    let text = &dom[start..];
    let text = &text[text.find('>').unwrap() + 1..text.find("</pre>").unwrap()];
    let text = text
        .replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    let state = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("explore-state is not JSON ({e}): {text:?}; log:\n{log}"));
    (state, log)
}

fn f(v: &Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

/// Prediction and softmax probabilities of `layers` for one input, in f64.
fn prediction(layers: &[LayerWeights], activation: Activation, x: &[f32]) -> (usize, Vec<f64>) {
    let p = propagate(layers, activation, &Matrix::new(1, x.len(), x.to_vec()));
    let logits = p.outputs.last().unwrap().row(0).to_vec();
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let e: Vec<f64> = logits.iter().map(|&z| f64::from(z - max).exp()).collect();
    let sum: f64 = e.iter().sum();
    (argmax(&logits), e.iter().map(|v| v / sum).collect())
}

/// Asserts the page predicts for its input what weightscope's forward pass gives for `x`, with
/// one probability per class; returns that prediction.
fn assert_page_predicts(
    state: &Value,
    layers: &[LayerWeights],
    activation: Activation,
    x: &[f32],
    at: &str,
) -> usize {
    let (predicted, probabilities) = prediction(layers, activation, x);
    assert_eq!(state["prediction"], predicted, "{at}: {state}");
    let shown = state["probabilities"].as_array().unwrap();
    assert_eq!(shown.len(), probabilities.len(), "{at}");
    for (p, q) in shown.iter().zip(&probabilities) {
        assert!((f(p) - q).abs() < 1e-4, "{at}: {p} against {q}");
    }
    predicted
}

/// Nothing in the log from the page's console (an uncaught error lands there) and no request
/// the page's content policy refused.
fn assert_quiet(log: &str) {
    for line in log.lines() {
        assert!(
            !line.contains("CONSOLE") && !line.contains("Refused to"),
            "the page logged: {line}"
        );
    }
}

struct Run {
    dir: std::path::PathBuf,
    /// The data set the run trained on.
    data: std::path::PathBuf,
    widths: Vec<usize>,
    activation: Activation,
    epochs: usize,
}

impl Run {
    fn layers(&self, epoch: usize) -> Vec<LayerWeights> {
        let dir = RunDir::open(&self.dir).unwrap();
        load_layers(&dir, &snapshot_file(epoch), &self.widths, self.activation).unwrap()
    }
}

/// The shared MLP for ReLU; a run of the same setup with another activation in `ws`.
fn mlp_run(ws: &Workspace, activation: Activation) -> Run {
    let shared = crate::common::shared_mlp();
    if activation == shared.config.model.activation {
        return Run {
            dir: shared.dir.clone(),
            data: shared.workspace.data_dir(),
            widths: vec![784, 16, 10],
            activation,
            epochs: shared.config.training.epochs,
        };
    }
    let name = format!("mlp-{activation}");
    let config = ws
        .config(&name, &[16])
        .epochs(3)
        .with(|c| c.model.activation = activation)
        .build();
    let dir = ws.path(&format!("runs/{name}"));
    crate::common::train_into(&config, &dir);
    Run {
        dir,
        data: ws.data_dir(),
        widths: vec![784, 16, 10],
        activation: config.model.activation,
        epochs: 3,
    }
}

#[test]
fn the_page_computes_what_weightscope_computes_for_any_image_and_epoch() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(400, 100);
    let runs: Vec<Run> = [Activation::Relu, Activation::Tanh, Activation::Sigmoid]
        .into_iter()
        .map(|a| mlp_run(&ws, a))
        .collect();
    let views = [
        (&runs[0], "test", 0, 0),
        (&runs[0], "test", 7, 3),
        (&runs[0], "train", 1, 2),
        (&runs[1], "test", 3, 3),
        (&runs[2], "train", 9, 1),
    ];
    for (run, source, index, epoch) in views {
        let data = Mnist::load(&run.data).unwrap();
        let activation = run.activation;
        let page = run.dir.join("explore.html");
        let html = std::fs::read_to_string(&page).unwrap();
        assert!(
            !html.contains("http://") && !html.contains("https://") && !html.contains("src="),
            "the page refers to nothing outside itself"
        );
        let init = run.layers(0);
        let (state, log) = page_state(
            &browser,
            &ws.path("profile"),
            &page,
            &format!("source={source}&index={index}&epoch={epoch}"),
        );
        assert_quiet(&log);
        let at = format!("{activation} {source} {index} epoch {epoch}: {state}");
        assert_eq!(state["source"], source, "{at}");
        assert_eq!(state["index"], index, "{at}");
        assert_eq!(state["epoch"], epoch, "{at}");
        let set = if source == "test" {
            &data.test
        } else {
            &data.train
        };
        let layers = run.layers(epoch);
        let image = &set.image(index);
        assert_page_predicts(&state, &layers, run.activation, image, &at);
        let now = winners(&layers, run.activation, image);
        let then = winners(&init, run.activation, image);
        let shown = state["layers"].as_array().unwrap();
        assert_eq!(shown.len(), 2, "{at}");
        for ((layer, &(winner, cos)), &(_, cos_init)) in shown.iter().zip(&now).zip(&then) {
            assert_eq!(layer["winner"], winner, "{at}");
            assert!((f(&layer["cos"]) - cos).abs() < 1e-4, "{at}: cos {cos}");
            assert!(
                (f(&layer["cos_init"]) - cos_init).abs() < 1e-4,
                "{at}: {cos_init}"
            );
        }
    }
}

#[test]
fn a_replayed_drawing_becomes_the_input_weightscope_makes_of_it() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = tempfile::tempdir().unwrap();
    let run = mlp_run(&Workspace::new(1, 1), Activation::Relu);
    // A "7": a bar across the top, then a slanted stem, drawn off-centre and small, so the
    // scaling and centring both have work to do.
    let strokes: Vec<Stroke> = vec![
        vec![(40.0, 50.0), (90.5, 48.25), (140.0, 52.0)],
        vec![(140.0, 52.0), (110.0, 120.0), (85.75, 190.0)],
    ];
    let fragment = format!(
        "source=draw&epoch={}&stroke={}",
        run.epochs,
        strokes
            .iter()
            .map(|s| s
                .iter()
                .map(|(x, y)| format!("{x},{y}"))
                .collect::<Vec<_>>()
                .join(","))
            .collect::<Vec<_>>()
            .join(";")
    );
    let (state, log) = page_state(
        &browser,
        &ws.path().join("profile"),
        &run.dir.join("explore.html"),
        &fragment,
    );
    assert_quiet(&log);
    let expected = drawn_input(&strokes);
    let ink: f32 = expected.iter().sum();
    assert!(ink > 20.0, "the drawing leaves ink ({ink})");
    let shown = state["input"].as_array().unwrap();
    assert_eq!(shown.len(), 784);
    for (i, (v, e)) in shown.iter().zip(&expected).enumerate() {
        assert!(
            (f(v) - f64::from(*e)).abs() < 1e-6,
            "pixel {i}: {v} against {e}"
        );
    }
    let (predicted, _) = prediction(&run.layers(run.epochs), run.activation, &expected);
    assert_eq!(state["prediction"], predicted);
    assert_eq!(state["source"], "draw");
}

#[test]
fn a_drawing_is_scaled_into_twenty_pixels_and_centred_by_its_mass() {
    assert!(
        drawn_input(&[]).iter().all(|&v| v == 0.0),
        "no ink, no input"
    );
    let stroke = |dx: f64, dy: f64| vec![vec![(100.0 + dx, 40.0 + dy), (100.0 + dx, 200.0 + dy)]];
    let input = drawn_input(&stroke(0.0, 0.0));
    let inked = |r: usize| (0..28).any(|c| input[r * 28 + c] > 0.0);
    assert_eq!(
        (0..28).filter(|&r| inked(r)).count(),
        20,
        "the tall side becomes 20 pixels"
    );
    let mass: f64 = input.iter().map(|&v| f64::from(v)).sum();
    let centre = |coordinate: fn(usize) -> usize| {
        input
            .iter()
            .enumerate()
            .map(|(i, &v)| f64::from(v) * (coordinate(i) as f64 + 0.5))
            .sum::<f64>()
            / mass
    };
    for c in [centre(|i| i % 28), centre(|i| i / 28)] {
        assert!((c - 14.0).abs() <= 0.5, "centre of mass at {c}");
    }
    assert!(input.iter().all(|&v| (0.0..=1.0).contains(&v)));
    // Where on the canvas it was drawn does not matter.
    assert_eq!(input, drawn_input(&stroke(60.0, 30.0)));
}

#[test]
fn the_explore_command_writes_a_page_for_a_single_layer_network() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(300, 60);
    let config = ws.config("slp", &[]).epochs(2).build();
    let run = ws.path("runs/slp");
    crate::common::train_into(&config, &run);
    let page = ws.path("elsewhere.html");
    succeeded(&crate::common::weightscope(&[
        "explore",
        crate::common::s(&run),
        "--out",
        crate::common::s(&page),
    ]));
    let (state, log) = page_state(
        &browser,
        &ws.path("profile"),
        &page,
        "source=test&index=5&epoch=1",
    );
    assert_quiet(&log);
    let slp = Run {
        data: ws.data_dir(),
        dir: run,
        widths: vec![784, 10],
        activation: config.model.activation,
        epochs: 2,
    };
    let layers = slp.layers(1);
    let data = Mnist::load(&ws.data_dir()).unwrap();
    let (predicted, _) = prediction(&layers, config.model.activation, &data.test.image(5));
    assert_eq!(state["prediction"], predicted);
    let shown = state["layers"].as_array().unwrap();
    assert_eq!(shown.len(), 1, "{state}");
    assert_eq!(
        shown[0]["winner"], predicted,
        "an SLP's winner is its prediction"
    );
    // An image the page does not hold gets a message, not a stale view.
    let (state, log) = page_state(
        &browser,
        &ws.path("profile"),
        &page,
        "source=train&index=100000",
    );
    assert_quiet(&log);
    let error = state["error"].as_str().unwrap_or_else(|| panic!("{state}"));
    assert!(error.contains("100000 is not in this page"), "{error}");
    assert!(state.get("prediction").is_none(), "{state}");
}

#[test]
fn an_imported_networks_page_names_its_weights_not_epochs() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let shared = crate::common::shared_mlp();
    let ws = tempfile::tempdir().unwrap();
    let out = ws.path().join("imported");
    let trained = shared.dir.join("weights.safetensors");
    succeeded(&crate::common::weightscope(&[
        "analyze",
        "--weights",
        crate::common::s(&trained),
        "--data",
        crate::common::s(&shared.workspace.data_dir()),
        "--out",
        crate::common::s(&out),
    ]));
    let page = out.join("explore.html");
    let (state, log) = page_state(
        &browser,
        &ws.path().join("profile"),
        &page,
        "source=test&index=2",
    );
    assert_quiet(&log);
    assert_eq!(state["snapshot"], "trained", "{state}");
    // The same weights as the run's last epoch, so the same prediction.
    let (run_state, _) = page_state(
        &browser,
        &ws.path().join("profile"),
        &shared.dir.join("explore.html"),
        &format!(
            "source=test&index=2&epoch={}",
            shared.config.training.epochs
        ),
    );
    assert_eq!(state["prediction"], run_state["prediction"]);
    assert!(
        run_state.get("snapshot").is_none(),
        "a run's state names epochs"
    );
}

#[test]
fn a_deeper_neuron_is_shown_in_pixels_at_every_epoch() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(400, 100);
    let run = mlp_run(&ws, Activation::Relu);
    let data = Mnist::load(&run.data).unwrap();
    let test = images_matrix(&data.test);
    let page = run.dir.join("explore.html");
    let saved = std::fs::read(run.dir.join("pixel_templates.safetensors")).unwrap();
    let saved = safetensors::SafeTensors::deserialize(&saved).unwrap();
    for (epoch, neuron) in [(0, 3), (run.epochs, 7)] {
        let expected = pixel_templates(&run.layers(epoch), run.activation, &test);
        let (state, log) = page_state(
            &browser,
            &ws.path("profile"),
            &page,
            &format!("source=test&index=0&epoch={epoch}&neuron=1.{neuron}"),
        );
        assert_quiet(&log);
        let selected = &state["selected"];
        assert_eq!(selected["layer"], 1, "{state}");
        assert_eq!(selected["neuron"], neuron, "{state}");
        let shown: Vec<f64> = selected["pixel_template"]
            .as_array()
            .unwrap_or_else(|| panic!("no pixel template in {state}"))
            .iter()
            .map(f)
            .collect();
        let row = expected[1].row(neuron);
        assert_eq!(shown.len(), row.len());
        // The page carries each epoch's templates as i8 of the layer's largest magnitude.
        let largest = expected[1].data.iter().fold(0f32, |a, v| a.max(v.abs()));
        let step = f64::from(largest) / 127.0;
        for (p, (&s, &e)) in shown.iter().zip(row).enumerate() {
            assert!(
                (s - f64::from(e)).abs() <= step / 2.0 + 1e-6,
                "epoch {epoch} pixel {p}: {s} against {e}"
            );
        }
        let file = if epoch == 0 { "initial.1" } else { "trained.1" };
        let tensor = saved.tensor(file).unwrap();
        assert_eq!(tensor.shape(), [10, 784]);
        let values: Vec<f32> = tensor
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        assert_eq!(values, expected[1].data, "{file}");
    }
    // The first layer's neurons are their weights: no template beside them.
    let (state, _) = page_state(
        &browser,
        &ws.path("profile"),
        &page,
        "source=test&index=0&neuron=0.2",
    );
    assert_eq!(state["selected"]["layer"], 0, "{state}");
    assert!(state["selected"]["pixel_template"].is_null(), "{state}");
}

#[test]
fn a_page_of_a_normalised_run_feeds_the_network_what_it_was_trained_on() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(400, 100);
    let config = ws
        .config("normalised", &[16])
        .epochs(2)
        .with(|c| {
            c.data.input_mean = Some(PerChannel::One(0.1307));
            c.data.input_std = Some(PerChannel::One(0.3081));
        })
        .build();
    let dir = ws.path("runs/normalised");
    crate::common::train_into(&config, &dir);
    let run = Run {
        dir,
        data: ws.data_dir(),
        widths: vec![784, 16, 10],
        activation: Activation::Relu,
        epochs: 2,
    };
    let scaling = config.input_scaling();
    let data = Mnist::load(&run.data).unwrap();
    let layers = run.layers(2);
    for index in [0, 5, 9] {
        let (state, log) = page_state(
            &browser,
            &ws.path("profile"),
            &run.dir.join("explore.html"),
            &format!("source=test&index={index}&epoch=2"),
        );
        assert_quiet(&log);
        let mut x = data.test.image(index).to_vec();
        scaling.apply(&mut x);
        assert_page_predicts(
            &state,
            &layers,
            Activation::Relu,
            &x,
            &format!("test image {index}"),
        );
        let now = winners(&layers, Activation::Relu, &x);
        for (layer, &(winner, cos)) in state["layers"].as_array().unwrap().iter().zip(&now) {
            assert_eq!(layer["winner"], winner, "{state}");
            assert!((f(&layer["cos"]) - cos).abs() < 1e-4, "{state}");
        }
    }
    // A drawing is prepared as a digit, then scaled as the images were.
    let strokes: Vec<Stroke> = vec![vec![(100.0, 40.0), (105.0, 150.0), (110.0, 240.0)]];
    let stroke: Vec<String> = strokes[0].iter().map(|(x, y)| format!("{x},{y}")).collect();
    let (state, _) = page_state(
        &browser,
        &ws.path("profile"),
        &run.dir.join("explore.html"),
        &format!("source=draw&epoch=2&stroke={}", stroke.join(",")),
    );
    let mut expected = drawn_input(&strokes);
    scaling.apply(&mut expected);
    let shown = state["input"].as_array().unwrap();
    for (i, (v, e)) in shown.iter().zip(&expected).enumerate() {
        assert!(
            (f(v) - f64::from(*e)).abs() < 1e-6,
            "pixel {i}: {v} against {e}"
        );
    }
}

#[test]
fn classes_are_called_by_the_names_beside_the_data() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(200, 40);
    let names = [
        "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine",
    ];
    std::fs::write(ws.data_dir().join("classes.txt"), names.join("\n")).unwrap();
    let config = ws.config("named", &[8]).epochs(1).build();
    let dir = ws.path("runs/named");
    crate::common::train_into(&config, &dir);
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(
        report.contains("zero, one, two, three, four, five, six, seven, eight, nine (from "),
        "the report's set-up table names the classes and where the names came from"
    );
    let (state, log) = page_state(
        &browser,
        &ws.path("profile"),
        &dir.join("explore.html"),
        "source=test&index=3&epoch=1",
    );
    assert_quiet(&log);
    let predicted = state["prediction"].as_u64().unwrap() as usize;
    assert_eq!(state["prediction_name"], names[predicted], "{state}");
    // A names file that does not fit the labels is refused in one line.
    std::fs::write(ws.data_dir().join("classes.txt"), "a\nb\n").unwrap();
    let again = crate::common::try_train_into(&config, &ws.path("runs/again"));
    let error = format!("{:#}", again.err().expect("the names do not fit"));
    assert!(
        error.contains("classes.txt names 2 classes but the labels have 10"),
        "{error}"
    );
}

/// An 8 × 12 one-channel data set of three classes: class c is a bright vertical band in
/// columns 4c..4c+3, with noise; its classes are named in classes.txt.
fn stripes(dir: &Path, train: usize, test: usize) {
    use crate::common::{encode_images, encode_labels};
    use rand::{Rng, SeedableRng};
    let (rows, cols) = (8, 12);
    let set = |count: usize, seed: u64| {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let labels: Vec<u8> = (0..count).map(|i| (i % 3) as u8).collect();
        let pixels: Vec<u8> = labels
            .iter()
            .flat_map(|&c| (0..rows * cols).map(move |p| (c, p % cols)))
            .map(|(c, col)| {
                let base: u8 = if col / 4 == usize::from(c) { 180 } else { 0 };
                base.saturating_add(rng.random_range(0..60))
            })
            .collect();
        (
            encode_images(count, rows, cols, &pixels),
            encode_labels(&labels),
        )
    };
    std::fs::create_dir_all(dir).unwrap();
    for (prefix, (images, labels)) in [("train", set(train, 1)), ("t10k", set(test, 2))] {
        std::fs::write(dir.join(format!("{prefix}-images-idx3-ubyte")), images).unwrap();
        std::fs::write(dir.join(format!("{prefix}-labels-idx1-ubyte")), labels).unwrap();
    }
    std::fs::write(dir.join("classes.txt"), "left\nmiddle\nright\n").unwrap();
}

#[test]
fn a_network_on_eight_by_twelve_images_of_three_classes_trains_and_explores() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = tempfile::tempdir().unwrap();
    let data = ws.path().join("stripes");
    stripes(&data, 150, 60);
    let mut config = weightscope::core::config::Config {
        name: "stripes".into(),
        ..Default::default()
    };
    config.data.dir = data.clone();
    config.data.validation_split = 0.1;
    config.model.hidden = vec![6];
    config.training.epochs = 6;
    config.training.batch_size = 10;
    config.training.learning_rate = 0.01;
    config.analysis.probe_index = 0;
    let dir = ws.path().join("runs/stripes");
    crate::common::train_into(&config, &dir);
    let metrics: Value = crate::common::read_json(&dir.join("metrics.json"));
    assert_eq!(metrics["layers"], serde_json::json!([96, 6, 3]));
    assert!(
        metrics["test"]["accuracy"].as_f64().unwrap() > 0.9,
        "{metrics}"
    );
    let analysis: Value = crate::common::read_json(&dir.join("analysis.json"));
    let matrix = analysis["class_template"]["trained"]["matrix"]
        .as_array()
        .unwrap();
    assert_eq!(matrix.len(), 3, "one row per class");
    let effective = analysis["effective_templates"].as_array().unwrap();
    assert_eq!(effective.len(), 3);
    assert!(effective.iter().all(|t| t.as_array().unwrap().len() == 96));
    let output = analysis["layer_class_templates"][1]["trained"].clone();
    assert_eq!(output["matrix"].as_array().unwrap().len(), 3, "{output}");
    for figure in [
        "weights",
        "effective_templates",
        "pixel_templates_layer1",
        "nearest_input",
    ] {
        assert!(
            dir.join(format!("figures/{figure}.png")).is_file(),
            "{figure}"
        );
    }
    let report = std::fs::read_to_string(dir.join("report.html"))
        .unwrap()
        .replace("&#x2f;", "/");
    assert!(
        report.contains("left, middle, right (from "),
        "names in the set-up table"
    );
    assert!(
        report.contains("best in 3/3 classes"),
        "verdicts count three classes"
    );
    // The page draws 8 × 12 images and runs the same network.
    let test = Mnist::load(&data).unwrap().test;
    let layers = load_layers(
        &RunDir::open(&dir).unwrap(),
        &snapshot_file(6),
        &[96, 6, 3],
        Activation::Relu,
    )
    .unwrap();
    for index in [0, 1, 2, 7] {
        let (state, log) = page_state(
            &browser,
            &ws.path().join("profile"),
            &dir.join("explore.html"),
            &format!("source=test&index={index}&epoch=6&neuron=1.2"),
        );
        assert_quiet(&log);
        let at = format!("test image {index}");
        let predicted =
            assert_page_predicts(&state, &layers, Activation::Relu, &test.image(index), &at);
        assert_eq!(
            state["prediction_name"],
            ["left", "middle", "right"][predicted]
        );
        let template = state["selected"]["pixel_template"].as_array().unwrap();
        assert_eq!(template.len(), 96);
    }
}

#[test]
fn a_colour_data_set_normalised_per_channel_trains_analyses_and_explores() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(10, 10);
    let data = crate::common::fixture("colour_32x32.npz");
    let config = ws
        .config("colour", &[8])
        .epochs(4)
        .with(|c| {
            c.data.dir = data.clone();
            c.data.validation_split = 0.1;
            c.data.input_mean = Some(PerChannel::Each(vec![0.35, 0.3, 0.3]));
            c.data.input_std = Some(PerChannel::Each(vec![0.2, 0.25, 0.25]));
            c.training.batch_size = 16;
            c.analysis.probe_index = 0;
        })
        .build();
    let dir = ws.path("runs/colour");
    crate::common::train_into(&config, &dir);
    let metrics: Value = crate::common::read_json(&dir.join("metrics.json"));
    assert_eq!(metrics["layers"], serde_json::json!([3072, 8, 3]));
    assert!(
        metrics["test"]["accuracy"].as_f64().unwrap() > 0.9,
        "{}",
        metrics["test"]
    );
    for figure in [
        "weights",
        "winners",
        "nearest_input",
        "effective_templates",
        "pixel_templates_layer1",
    ] {
        assert!(
            dir.join(format!("figures/{figure}.png")).is_file(),
            "{figure}"
        );
    }
    let report = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(report.contains("red square, green disc, blue bar (from "));
    let scaling = config.input_scaling();
    let test = Mnist::load(&data).unwrap().test;
    assert_eq!((test.rows, test.cols, test.channels), (32, 32, 3));
    let layers = load_layers(
        &RunDir::open(&dir).unwrap(),
        &snapshot_file(4),
        &[3072, 8, 3],
        Activation::Relu,
    )
    .unwrap();
    for index in [0, 1, 5] {
        let (state, log) = page_state(
            &browser,
            &ws.path("profile"),
            &dir.join("explore.html"),
            &format!("source=test&index={index}&epoch=4&neuron=1.0"),
        );
        assert_quiet(&log);
        let mut x = test.image(index).to_vec();
        scaling.apply(&mut x);
        assert_page_predicts(
            &state,
            &layers,
            Activation::Relu,
            &x,
            &format!("test image {index}"),
        );
        assert_eq!(
            state["selected"]["pixel_template"]
                .as_array()
                .unwrap()
                .len(),
            3072
        );
    }
    // A drawing is one channel: a colour page offers none, whatever its address asks.
    let (state, _) = page_state(
        &browser,
        &ws.path("profile"),
        &dir.join("explore.html"),
        "source=draw&epoch=4&stroke=10,10,100,100",
    );
    assert_eq!(state["source"], "test", "{state}");
}

/// The page a run writes with its analysis takes each epoch's searches from the analysis; the
/// `explore` command searches on its own. Both must write the same bytes.
#[test]
fn the_page_from_the_analysis_equals_the_page_the_explore_command_writes() {
    let ws = Workspace::new(300, 60);
    for (name, hidden) in [("slp", vec![]), ("mlp", vec![12]), ("deep", vec![12, 8])] {
        let run = ws.config(name, &hidden).epochs(2).train();
        let again = ws.path(&format!("{name}-again.html"));
        succeeded(
            &crate::common::binary()
                .args(["explore", crate::common::s(run.dir.path()), "--out"])
                .arg(&again)
                .output()
                .unwrap(),
        );
        let written = std::fs::read(run.dir.file("explore.html")).unwrap();
        assert!(
            written == std::fs::read(&again).unwrap(),
            "{name}: the explore command's page differs from the analysis's"
        );
    }
}

/// An array longer than one deflated piece (1 MiB) travels in pieces, deflated side by side;
/// the page must join them into the exact weights of every epoch.
#[test]
fn a_page_whose_weights_span_several_pieces_computes_with_the_exact_weights() {
    let Some(browser) = chromium_or_skip() else {
        return;
    };
    let ws = Workspace::new(300, 40);
    // 784-128-10 over 4 snapshots: 1.6 MB of weights, two pieces.
    let run = ws.config("wide", &[128]).epochs(3).train();
    let html = std::fs::read_to_string(run.dir.file("explore.html")).unwrap();
    let start = html.find("id=\"explore-data\">").unwrap() + "id=\"explore-data\">".len();
    let end = start + html[start..].find("</script>").unwrap();
    let data: Value = serde_json::from_str(&html[start..end].replace("<\\/", "</")).unwrap();
    assert_eq!(data["weights"].as_array().unwrap().len(), 2, "two pieces");
    let data = Mnist::load(&ws.data_dir()).unwrap();
    for epoch in [0, 3] {
        let (state, log) = page_state(
            &browser,
            &ws.path("profile"),
            &run.dir.file("explore.html"),
            &format!("source=test&index=5&epoch={epoch}"),
        );
        assert_quiet(&log);
        let layers = load_layers(
            &run.dir,
            &snapshot_file(epoch),
            &[784, 128, 10],
            Activation::Relu,
        )
        .unwrap();
        let at = format!("epoch {epoch}");
        assert_page_predicts(&state, &layers, Activation::Relu, &data.test.image(5), &at);
    }
}
