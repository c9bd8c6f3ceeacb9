//! Weights in and out: a run's export read back by an independent reader and by `analyze
//! --weights`, and files written by Python's safetensors and NumPy in PyTorch's and Keras's
//! layouts.

use crate::common::{fixture, read_json as json};
use std::path::Path;

use crate::common::{Workspace, s, weightscope};
use serde_json::Value;
use weightscope::analysis::forward::{images_matrix, propagate};
use weightscope::core::config::Activation;
use weightscope::core::data::{ImageSet, Mnist};
use weightscope::core::provenance::{ActivationSource, ImportFormat, ImportRecord};
use weightscope::core::scaling::ScalingSource;
use weightscope::interop::read;

/// The three inputs `make_weights.py` feeds NumPy's forward pass.
fn probes() -> ImageSet {
    let images: Vec<f32> = (0..3)
        .flat_map(|k| (0..784).map(move |i| ((i * 7 + k * 13) % 256) as f32 / 255.0))
        .collect();
    ImageSet {
        images: images.into(),
        labels: vec![0; 3],
        rows: 28,
        cols: 28,
        channels: 1,
    }
}

#[test]
fn files_from_python_import_in_the_right_order_and_layout() {
    let expected = json(&fixture("expected.json"));
    for (name, activation) in [
        ("torch_layout.safetensors", None),
        ("keras_layout.safetensors", Some(Activation::Tanh)),
        ("deep.npz", None),
    ] {
        let imported = read(&fixture(name), 784).unwrap_or_else(|e| panic!("{name}: {e:#}"));
        assert_eq!(imported.activation, activation, "{name}");
        let mut widths = vec![imported.layers[0].d_in];
        widths.extend(imported.layers.iter().map(|l| l.d_out));
        let want = &expected[name];
        assert_eq!(
            serde_json::to_value(&widths).unwrap(),
            want["layers"],
            "{name}"
        );
        let p = propagate(
            &imported.layers,
            activation.unwrap_or(Activation::Relu),
            &images_matrix(&probes()),
        );
        let logits = p.outputs.last().unwrap();
        for (r, row) in want["logits"].as_array().unwrap().iter().enumerate() {
            for (c, v) in row.as_array().unwrap().iter().enumerate() {
                let v = v.as_f64().unwrap();
                let ours = f64::from(logits.row(r)[c]);
                assert!(
                    (ours - v).abs() < 1e-4,
                    "{name} logit {r},{c}: {ours} vs {v}"
                );
            }
        }
    }
}

/// Reads a `nn.Sequential` export with the safetensors crate alone, as PyTorch would.
fn sequential_accuracy(file: &Path, test: &ImageSet) -> f64 {
    let bytes = std::fs::read(file).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let floats = |name: &str| -> (Vec<usize>, Vec<f32>) {
        let t = st.tensor(name).unwrap();
        assert_eq!(t.dtype(), safetensors::Dtype::F32);
        let values = t
            .data()
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        (t.shape().to_vec(), values)
    };
    let mut correct = 0;
    for (i, &label) in test.labels.iter().enumerate() {
        let mut h: Vec<f32> = test.image(i).to_vec();
        let mut module = 0;
        while st.names().contains(&format!("{module}.weight").as_str()) {
            let (shape, w) = floats(&format!("{module}.weight"));
            let (_, b) = floats(&format!("{module}.bias"));
            let (out, inp) = (shape[0], shape[1]);
            assert_eq!(inp, h.len());
            let mut next: Vec<f32> = (0..out)
                .map(|o| b[o] + (0..inp).map(|j| w[o * inp + j] * h[j]).sum::<f32>())
                .collect();
            module += 2;
            if st.names().contains(&format!("{module}.weight").as_str()) {
                next.iter_mut().for_each(|v| *v = v.max(0.0));
            }
            h = next;
        }
        let best = (0..h.len()).max_by(|&a, &b| h[a].total_cmp(&h[b])).unwrap();
        correct += usize::from(best == usize::from(label));
    }
    correct as f64 / test.len() as f64
}

#[test]
fn an_export_round_trips_through_analyze_and_reads_back_as_pytorch_would() {
    let shared = crate::common::shared_mlp();
    let run = &shared.dir;
    let data = shared.workspace.data_dir();
    let scratch = tempfile::tempdir().unwrap();
    let ws = scratch.path();
    let metrics = json(&run.join("metrics.json"));
    let trained = run.join("weights.safetensors");
    let test = Mnist::load(&data).unwrap().test;
    let accuracy = sequential_accuracy(&trained, &test);
    // The same images counted right: equal up to how each side divides by the count.
    let reported = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - reported).abs() < 1e-9,
        "{accuracy} vs {reported}"
    );

    let init = ws.join("init.safetensors");
    let out = weightscope(&["export", s(run), "--epoch", "0", "--to", s(&init)]);
    assert!(crate::common::succeeded(&out).contains("wrote"));
    let npz = ws.join("trained.npz");
    crate::common::succeeded(&weightscope(&["export", s(run), "--to", s(&npz)]));
    let from_npz = read(&npz, 784).unwrap();
    let from_st = read(&trained, 784).unwrap();
    assert_eq!(from_npz.layers, from_st.layers);
    assert_eq!(from_st.activation, Some(Activation::Relu));

    let imported = ws.join("imported");
    crate::common::succeeded(&weightscope(&[
        "analyze",
        "--weights",
        s(&trained),
        "--init",
        s(&init),
        "--data",
        s(&data),
        "--out",
        s(&imported),
    ]));
    let ours = json(&run.join("analysis.json"));
    let theirs = json(&imported.join("analysis.json"));
    // The span test needs the very images trained on and the dynamics every epoch's
    // snapshot; a weights file carries neither. Everything else must agree.
    for (key, value) in ours.as_object().unwrap() {
        match key.as_str() {
            "span" => assert!(theirs.get("span").is_none_or(Value::is_null)),
            "dynamics" => {
                let d = theirs["dynamics"].as_array().unwrap();
                let o = value.as_array().unwrap();
                assert_close(&d[0], &o[0], "dynamics[0]");
                let mut last = o[o.len() - 1].clone();
                last["epoch"] = d[1]["epoch"].clone();
                assert_close(&d[1], &last, "dynamics[last]");
            }
            _ => assert_close(&theirs[key], value, key),
        }
    }
    let report = std::fs::read_to_string(imported.join("report.html")).unwrap();
    assert!(
        !report.contains("No baseline"),
        "--init gives every baseline"
    );
    // weightscope's own export records its activation, and the import says it read it there.
    assert_eq!(
        json(&imported.join("import.json"))["activation_source"],
        "file-metadata"
    );
}

/// Equal structure, numbers within 1e-6.
fn assert_close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-6, "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            for (i, (x, y)) in x.iter().zip(y).enumerate() {
                assert_close(x, y, &format!("{at}[{i}]"));
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(
                x.keys().collect::<Vec<_>>(),
                y.keys().collect::<Vec<_>>(),
                "{at}"
            );
            for (k, v) in x {
                assert_close(v, &y[k], &format!("{at}.{k}"));
            }
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn a_deeper_stack_from_numpy_analyses_end_to_end_without_made_up_baselines() {
    let ws = Workspace::new(200, 40);
    let out = ws.path("deep");
    let analyze = |extra: &[&str]| {
        let fixture = fixture("deep.npz");
        let mut args = vec!["analyze", "--weights", s(&fixture), "--data"];
        let data = ws.data_dir();
        args.extend([s(&data), "--out", s(&out)]);
        args.extend(extra);
        weightscope(&args)
    };
    // An .npz records no activation, and weightscope does not guess one.
    let refused = analyze(&[]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(
        stderr.contains("does not record which activation"),
        "{stderr}"
    );
    assert!(stderr.contains("--activation relu"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!out.exists(), "nothing is written");
    let run = analyze(&["--activation", "relu"]);
    let stdout = crate::common::succeeded(&run);
    assert!(stdout.contains("no --init"), "{stdout}");
    // It records what is known of the network and invents no training: no config, no
    // metrics, no initial weights.
    let record: ImportRecord =
        serde_json::from_str(&std::fs::read_to_string(out.join("import.json")).unwrap()).unwrap();
    assert_eq!(record.format, ImportFormat::Npz);
    assert_eq!(record.activation_source, ActivationSource::Flag);
    assert_eq!(record.layers, [784, 64, 32, 10]);
    assert_eq!(record.source, fixture("deep.npz"));
    assert!(record.initial.is_none() && record.test.accuracy.is_finite());
    assert!(!out.join("config.toml").exists() && !out.join("metrics.json").exists());
    let analysis = json(&out.join("analysis.json"));
    assert_eq!(analysis["layers"], serde_json::json!([784, 64, 32, 10]));
    assert_eq!(analysis["probe"]["layers"].as_array().unwrap().len(), 3);
    assert!(analysis["class_template"].get("init").is_none());
    assert!(analysis["probe"]["layers"][0].get("cos_init").is_none());
    assert_eq!(analysis["nearest_input"].as_array().unwrap().len(), 2);
    let report = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        report.contains("relu (from --activation)"),
        "the report says where it came from"
    );
    // The explorer holds the one set of weights there is, and says it has no initial ones.
    let explorer = std::fs::read_to_string(out.join("explore.html")).unwrap();
    assert!(
        explorer.contains("\"epochs\":[1],\"initial\":false"),
        "{}",
        &explorer[..200]
    );
    assert!(report.contains("href=\"explore.html\""));
    // `explore` cannot rebuild it without snapshots, and says what does.
    let again = weightscope(&["explore", s(&out)]);
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        !again.status.success() && stderr.contains("holds imported weights"),
        "{stderr}"
    );
    let command = format!(
        "`weightscope analyze --weights {} --out {}`",
        fixture("deep.npz").display(),
        out.display()
    );
    assert!(stderr.contains(&command), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(
        report.contains("No baseline:"),
        "the report says what is absent"
    );
    assert!(!out.join("figures/weights_init.png").exists());
    assert!(out.join("figures/weights.png").is_file());
}

#[test]
fn an_import_never_replaces_a_training_run() {
    let ws = Workspace::new(100, 20);
    let config = ws.config("slp", &[]).epochs(1).build();
    let run = crate::common::train_into(&config, &ws.path("run")).dir;
    let weights = run.file("weights.safetensors");
    let out = weightscope(&[
        "analyze",
        "--weights",
        s(&weights),
        "--data",
        s(&ws.data_dir()),
        "--out",
        s(run.path()),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("holds a training run"), "{stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    for kept in [
        "config.toml",
        "metrics.json",
        "weights.bpk",
        "weights.safetensors",
    ] {
        assert!(run.file(kept).is_file(), "{kept} was removed");
    }
    assert!(!run.file("import.json").exists());
}

/// A safetensors file of these float32 tensors (name, shape, values).
fn safetensors_file(path: &Path, tensors: &[(&str, Vec<usize>, Vec<f32>)]) {
    let bytes: Vec<Vec<u8>> = tensors
        .iter()
        .map(|(_, _, v)| v.iter().flat_map(|x| x.to_le_bytes()).collect())
        .collect();
    let views: Vec<(String, safetensors::tensor::TensorView<'_>)> = tensors
        .iter()
        .zip(&bytes)
        .map(|((name, shape, _), b)| {
            let view =
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, shape.clone(), b);
            (name.to_string(), view.unwrap())
        })
        .collect();
    safetensors::serialize_to_file(views, None, path).unwrap();
}

#[test]
fn weights_that_are_not_a_dense_stack_of_numbers_get_one_line_naming_the_problem() {
    let ws = Workspace::new(50, 10);
    let dense = |name: &str, d_in: usize, d_out: usize| {
        vec![
            (
                format!("{name}.weight"),
                vec![d_out, d_in],
                vec![0.01f32; d_in * d_out],
            ),
            (format!("{name}.bias"), vec![d_out], vec![0.0f32; d_out]),
        ]
    };
    let mut nan = dense("0", 784, 16);
    nan[0].2[5] = f32::NAN;
    nan.extend(dense("2", 16, 10));
    let mut infinite = dense("0", 784, 10);
    infinite[1].2[3] = f32::INFINITY;
    let mut batch_norm = dense("0", 784, 16);
    batch_norm.push(("1.running_mean".into(), vec![16], vec![0.0; 16]));
    batch_norm.extend(dense("2", 16, 10));
    let mut conv = dense("0", 784, 16);
    conv.push(("conv.weight".into(), vec![8, 1, 3, 3], vec![0.0; 72]));
    let mut layer_norm = dense("0", 784, 16);
    layer_norm.push(("1.weight".into(), vec![16], vec![1.0; 16]));
    layer_norm.push(("1.bias".into(), vec![16], vec![0.0; 16]));
    layer_norm.extend(dense("2", 16, 10));
    let cases = [
        (
            "nan",
            nan,
            "tensor 0.weight holds 1 values that are not finite numbers, the first (NaN) at index 5",
        ),
        (
            "inf",
            infinite,
            "tensor 0.bias holds 1 values that are not finite numbers, the first (inf) at index 3",
        ),
        (
            "bn",
            batch_norm,
            "tensor 1.running_mean belongs to a BatchNorm layer",
        ),
        (
            "conv",
            conv,
            "tensor conv.weight belongs to a convolution layer",
        ),
        (
            "ln",
            layer_norm,
            "tensor 1.weight belongs to a normalisation (LayerNorm or BatchNorm) layer",
        ),
    ];
    for (name, tensors, expected) in cases {
        let file = ws.path(&format!("{name}.safetensors"));
        let tensors: Vec<(&str, Vec<usize>, Vec<f32>)> = tensors
            .iter()
            .map(|(n, shape, v)| (n.as_str(), shape.clone(), v.clone()))
            .collect();
        safetensors_file(&file, &tensors);
        let out = ws.path(&format!("out-{name}"));
        let run = weightscope(&[
            "analyze",
            "--weights",
            s(&file),
            "--activation",
            "relu",
            "--data",
            s(&ws.data_dir()),
            "--out",
            s(&out),
        ]);
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert!(!run.status.success(), "{name}: {stderr}");
        assert!(stderr.contains(expected), "{name}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{name}: {stderr}");
        assert!(!out.exists(), "{name}: nothing is written");
    }
}

#[test]
fn reference_weights_that_do_not_fit_the_data_are_refused() {
    let ws = Workspace::new(50, 10);
    let folder = ws.path("keras");
    std::fs::create_dir_all(&folder).unwrap();
    let npy = |name: &str, shape: &[u64], values: Vec<f32>| {
        use npyz::WriterBuilder;
        let mut bytes = Vec::new();
        let mut writer = npyz::WriteOptions::new()
            .default_dtype()
            .shape(shape)
            .writer(&mut bytes)
            .begin_nd()
            .unwrap();
        writer.extend(values).unwrap();
        writer.finish().unwrap();
        std::fs::write(folder.join(name), bytes).unwrap();
    };
    for prefix in ["", "init_"] {
        npy(&format!("{prefix}slp_w.npy"), &[100, 10], vec![0.1; 1000]);
        npy(&format!("{prefix}slp_b.npy"), &[10], vec![0.0; 10]);
    }
    let out = ws.path("out");
    let run = weightscope(&[
        "analyze",
        "--keras-weights",
        s(&folder),
        "--data",
        s(&ws.data_dir()),
        "--out",
        s(&out),
    ]);
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{stderr}");
    assert!(
        stderr.contains("the slp model is [100, 10] but the data has 784 inputs and 10 classes"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!out.exists(), "nothing is written");
}

#[test]
fn analyze_finds_the_projects_mnist_from_any_folder() {
    let elsewhere = tempfile::tempdir().unwrap();
    let out = elsewhere.path().join("out");
    let run = crate::common::weightscope_in(
        elsewhere.path(),
        &[
            "analyze",
            "--weights",
            s(&fixture("deep.npz")),
            "--activation",
            "relu",
            "--train-limit",
            "100",
            "--out",
            s(&out),
        ],
    );
    crate::common::succeeded(&run);
    let record = json(&out.join("import.json"));
    // The folder actually read is recorded: the project's copy.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    assert_eq!(record["data"], s(&data));
    let analysis = json(&out.join("analysis.json"));
    assert_eq!(analysis["layers"], serde_json::json!([784, 64, 32, 10]));
}

#[test]
fn a_network_trained_on_normalised_inputs_scores_as_numpy_scores_it() {
    let ws = Workspace::new(10, 10);
    let expected = &json(&fixture("expected.json"))["normalised_mlp"];
    let data = fixture("normalised_data");
    let analyze = |file: &str, out: &str, extra: &[&str]| {
        let (weights, out) = (fixture(file), ws.path(out));
        let mut args = vec!["analyze", "--weights", s(&weights), "--data", s(&data)];
        args.extend(["--out", s(&out)]);
        args.extend(extra);
        let run = weightscope(&args);
        let record: Option<ImportRecord> = run.status.success().then(|| {
            serde_json::from_str(&std::fs::read_to_string(out.join("import.json")).unwrap())
                .unwrap()
        });
        (run, record, out)
    };
    let close = |record: &ImportRecord, accuracy: &Value, loss: &Value| {
        let (a, l) = (accuracy.as_f64().unwrap(), loss.as_f64().unwrap());
        assert!(
            (record.test.accuracy - a).abs() < 1e-4,
            "{} against {a}",
            record.test.accuracy
        );
        assert!(
            (record.test.loss - l).abs() < 1e-4,
            "{} against {l}",
            record.test.loss
        );
    };
    // The file's metadata says how its inputs were scaled; the figures use those inputs.
    let (run, record, out) = analyze("normalised_mlp.safetensors", "metadata", &[]);
    crate::common::succeeded(&run);
    let record = record.unwrap();
    assert_eq!(record.input_scaling_source, ScalingSource::FileMetadata);
    assert_eq!(
        (
            record.input_scaling.mean.clone(),
            record.input_scaling.std.clone()
        ),
        (vec![0.1307], vec![0.3081])
    );
    close(&record, &expected["accuracy"], &expected["loss"]);
    let report = report_text(&out);
    assert!(
        report.contains(
            "pixels / 255, then (x − 0.1307) / 0.3081 (from the weights file's metadata)"
        ),
        "the report's set-up table says how the inputs were scaled"
    );
    // The same weights as .npz record nothing: flags give the scaling, or the report and the
    // console say the default applied, and the numbers are those of unscaled inputs.
    let (run, record, _) = analyze(
        "normalised_mlp.npz",
        "flags",
        &[
            "--activation",
            "relu",
            "--input-mean",
            "0.1307",
            "--input-std",
            "0.3081",
        ],
    );
    crate::common::succeeded(&run);
    let record = record.unwrap();
    assert_eq!(record.input_scaling_source, ScalingSource::Flag);
    close(&record, &expected["accuracy"], &expected["loss"]);
    let (run, record, out) = analyze("normalised_mlp.npz", "default", &["--activation", "relu"]);
    let stdout = crate::common::succeeded(&run);
    assert!(stdout.contains("records no input scaling"), "{stdout}");
    let record = record.unwrap();
    assert_eq!(record.input_scaling_source, ScalingSource::Default);
    close(
        &record,
        &expected["unnormalised_accuracy"],
        &expected["unnormalised_loss"],
    );
    let report = report_text(&out);
    assert!(
        report.contains("pixels / 255 (the default"),
        "the report says a default applied"
    );
    // A flag that contradicts the file is refused, and nothing is written.
    let (run, _, out) = analyze(
        "normalised_mlp.safetensors",
        "contradiction",
        &["--input-mean", "0.5", "--input-std", "0.5"],
    );
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success() && stderr.contains("but the flags say"),
        "{stderr}"
    );
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(!out.exists());
}

#[test]
fn a_run_trained_on_normalised_inputs_records_and_exports_its_scaling() {
    let ws = Workspace::new(200, 40);
    let config = ws.config("norm", &[8]).epochs(1).write();
    let out = ws.path("runs/norm");
    let run = weightscope(&[
        "--config",
        s(&config),
        "--input-mean",
        "0.1307",
        "--input-std",
        "0.3081",
        "--no-analysis",
        "--out",
        s(&out),
    ]);
    crate::common::succeeded(&run);
    let metrics = json(&out.join("metrics.json"));
    let recorded = |key: &str| metrics["input_scaling"][key][0].as_f64().unwrap() as f32;
    assert_eq!((recorded("mean"), recorded("std")), (0.1307, 0.3081));
    let saved = config_of(&out);
    assert_eq!(saved.input_scaling().mean, [0.1307]);
    // The export says so, and an import of it reads it back and scores as the run did.
    let imported = read(&out.join("weights.safetensors"), 784).unwrap();
    assert_eq!(imported.input_scaling, Some(saved.input_scaling()));
    let again = ws.path("again");
    let analyzed = weightscope(&[
        "analyze",
        "--weights",
        s(&out.join("weights.safetensors")),
        "--data",
        s(&ws.data_dir()),
        "--out",
        s(&again),
    ]);
    crate::common::succeeded(&analyzed);
    let record: ImportRecord =
        serde_json::from_str(&std::fs::read_to_string(again.join("import.json")).unwrap()).unwrap();
    assert_eq!(record.input_scaling_source, ScalingSource::FileMetadata);
    let trained = metrics["test"]["accuracy"].as_f64().unwrap();
    assert!(
        (record.test.accuracy - trained).abs() < 1e-6,
        "{} against {trained}",
        record.test.accuracy
    );
}

/// A run's report with the HTML escapes of its text undone.
fn report_text(run: &Path) -> String {
    std::fs::read_to_string(run.join("report.html"))
        .unwrap()
        .replace("&#x2f;", "/")
        .replace("&#x27;", "'")
}

fn config_of(run: &Path) -> weightscope::core::config::Config {
    weightscope::core::config::Config::load(&run.join("config.toml")).unwrap()
}
