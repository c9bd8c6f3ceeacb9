//! Agreement with TensorFlow, against the reference files committed in reference/tensorflow
//! (TensorFlow itself is not needed).

use crate::common::read_json as json;
use std::path::Path;

use crate::common::Workspace;
use burn::optim::Optimizer;
use burn::tensor::{Device, Tensor, TensorData};
use serde_json::Value;
use weightscope::analysis::results::Analysis;
use weightscope::core::config::Config;
use weightscope::core::metrics::Metrics;
use weightscope::core::model_kind::ModelKind;
use weightscope::interop::keras::{INITIAL_PREFIX, load};
use weightscope::nn::optim::KerasAdam;
use weightscope::store::{METRICS_FILE, RunDir};
use weightscope::tensorflow::compare::compare;
use weightscope::tensorflow::load_reference;
use weightscope::train::saved::load_layers;

const REFERENCE: &str = "reference/tensorflow";

/// Walks `expected`; every number in it must be matched within `tol`, everything else exactly.
fn assert_close(ours: &Value, expected: &Value, path: &str, tol: f64) {
    match (ours, expected) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                let mine = a.get(k).unwrap_or_else(|| panic!("{path}.{k} missing"));
                assert_close(mine, v, &format!("{path}.{k}"), tol);
            }
        }
        (Value::Array(a), Value::Array(b)) => {
            assert_eq!(a.len(), b.len(), "{path} length");
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                assert_close(x, y, &format!("{path}[{i}]"), tol);
            }
        }
        (Value::Number(a), Value::Number(b)) => {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!(
                (a - b).abs() <= tol,
                "{path}: weightscope {a} vs TensorFlow {b}"
            );
        }
        (a, b) => assert_eq!(a, b, "{path}"),
    }
}

#[test]
fn analysis_of_tensorflow_weights_reproduces_the_reference_figures() {
    let out = tempfile::tempdir().unwrap();
    let res = crate::common::binary()
        .args([
            "analyze",
            "--keras-weights",
            &format!("{REFERENCE}/weights"),
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    crate::common::succeeded(&res);
    let reference = json(Path::new(&format!("{REFERENCE}/results/seed-12345.json")));
    for model in ["slp", "mlp"] {
        let ours = json(&out.path().join(model).join("analysis.json"));
        let mut expected = reference[model]["analysis"].clone();
        // Only the initial and trained weights were saved, so only the first and last epoch
        // of the dynamics can be recomputed.
        let dynamics = expected["dynamics"].as_array().unwrap().clone();
        expected["dynamics"] = Value::Array(vec![
            dynamics[0].clone(),
            dynamics[dynamics.len() - 1].clone(),
        ]);
        assert_close(&ours, &expected, model, 1e-4);
        assert!(out.path().join(model).join("figures/winners.png").is_file());
        assert!(out.path().join(model).join("explore.html").is_file());
    }
    // The every-layer figures of the MLP against every_layer.py's NumPy computation, which
    // takes other routes (a d x d pseudo-inverse for NC1, least squares per k for r(k)).
    let ours = json(&out.path().join("mlp/analysis.json"));
    let numpy = json(Path::new(&format!("{REFERENCE}/every_layer.json")));
    for which in ["trained", "init"] {
        let theirs = &numpy[which];
        let pairs = [
            (
                &ours["layer_class_templates"][1][which]["diag_centered"],
                &theirs["output_template_centered"],
            ),
            (&ours["neural_collapse"][which], &theirs["neural_collapse"]),
            (
                &ours["distributed"]["selectivity"][which],
                &theirs["selectivity"],
            ),
            (&ours["blend"][which]["mean"], &theirs["blend_mean"]),
        ];
        for (mine, expected) in pairs {
            assert_close(mine, expected, which, 1e-4);
        }
    }
    assert_close(
        &ours["distributed"]["n90"],
        &numpy["trained"]["n90"],
        "n90",
        0.0,
    );
    assert_close(
        &ours["blend"]["delta"]["mean"],
        &numpy["delta_blend_mean"],
        "delta",
        1e-4,
    );
}

#[test]
fn keras_weights_load_with_their_shapes() {
    let dir = Path::new(REFERENCE).join("weights");
    let mlp = load(&dir, ModelKind::Mlp, "").unwrap();
    assert_eq!((mlp[0].d_in, mlp[0].d_out, mlp[1].d_out), (784, 128, 10));
    let init = load(&dir, ModelKind::Slp, INITIAL_PREFIX).unwrap();
    assert!(
        init[0].bias.iter().all(|&b| b == 0.0),
        "Keras biases start at zero"
    );
    let limit = (6.0f32 / 794.0).sqrt();
    assert!(init[0].weight.iter().all(|w| w.abs() <= limit));
    let err = format!(
        "{:#}",
        load(Path::new("nowhere"), ModelKind::Slp, "").unwrap_err()
    );
    assert!(err.contains("cannot read nowhere/slp_w.npy"), "{err}");
}

#[test]
fn lockstep_config_starts_from_tensorflows_initial_weights() {
    let ws = Workspace::new(100, 20);
    let weights = std::env::current_dir()
        .unwrap()
        .join(REFERENCE)
        .join("weights");
    let from_tensorflow = |c: &mut Config| c.init.keras_weights = Some(weights.clone());
    let config = ws
        .config("lock", &[128])
        .epochs(1)
        .with(from_tensorflow)
        .build();
    let run = crate::common::train_into(&config, &ws.path("run"));
    let init = load_layers(
        &run.dir,
        "weights_init.bpk",
        &run.metrics.layers,
        config.model.activation,
    )
    .unwrap();
    assert_eq!(
        init,
        load(&weights, ModelKind::Mlp, INITIAL_PREFIX).unwrap()
    );
    // A width that does not match the files is refused before anything is written.
    let config = ws
        .config("bad", &[64])
        .epochs(1)
        .with(from_tensorflow)
        .build();
    let err = crate::common::try_train_into(&config, &ws.path("bad-run"))
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("make model.hidden match"),
        "{err:#}"
    );
    assert!(!ws.path("bad-run").exists());
}

#[test]
fn keras_adam_takes_kerass_step() {
    let device = Device::flex();
    let opt = KerasAdam {
        beta_1: 0.9,
        beta_2: 0.999,
        epsilon: 1e-7,
    };
    let param = Tensor::<1>::from_data(TensorData::new(vec![1.0f32, 0.0], [2]), &device);
    let grad = Tensor::<1>::from_data(TensorData::new(vec![0.5f32, 1e-6], [2]), &device);
    let (p1, state) = opt.step(0.001, param, grad.clone(), None);
    let (p2, _) = opt.step(0.001, p1.clone(), grad, state);
    // By hand, for g = 0.5 and g = 1e-6 at t = 1 and t = 2.
    let keras = |g: f64, steps: i32| {
        let (mut p, mut m, mut v) = (0.0f64, 0.0f64, 0.0f64);
        for t in 1..=steps {
            m = 0.9 * m + 0.1 * g;
            v = 0.999 * v + 0.001 * g * g;
            let alpha = 0.001 * (1.0 - 0.999f64.powi(t)).sqrt() / (1.0 - 0.9f64.powi(t));
            p -= alpha * m / (v.sqrt() + 1e-7);
        }
        p
    };
    let p1: Vec<f32> = p1.into_data().try_to_vec().unwrap();
    let p2: Vec<f32> = p2.into_data().try_to_vec().unwrap();
    assert!((f64::from(p1[0]) - (1.0 + keras(0.5, 1))).abs() < 1e-7);
    assert!((f64::from(p2[0]) - (1.0 + keras(0.5, 2))).abs() < 1e-7);
    // A tiny gradient shows the form: Keras's effective epsilon is 1e-7 / sqrt(1 - 0.999).
    let tiny = keras(1e-6, 1);
    assert!(
        (f64::from(p1[1]) - tiny).abs() < 1e-9,
        "{} vs {tiny}",
        p1[1]
    );
    assert!(
        (tiny + 0.001 * 1e-6 / (1e-6 + 1e-7)).abs() > 1e-6,
        "differs from PyTorch's form"
    );
}

#[test]
fn compare_flags_figures_outside_tensorflows_range() {
    let ws = Workspace::new(200, 50);
    let config = ws.config("slp", &[]).epochs(2).build();
    let run = crate::common::train_into(&config, &ws.path("run"));
    let dir = RunDir::open(run.dir.path()).unwrap();
    let metrics: Metrics = dir.read_json(METRICS_FILE).unwrap();
    let analysis = json(&dir.file("analysis.json"));
    // Two fake TensorFlow seeds around weightscope's own numbers, one far off in accuracy.
    let refs = ws.path("ref");
    std::fs::create_dir_all(&refs).unwrap();
    for (seed, shift) in [(1, 0.001), (2, -0.001)] {
        let mut m = serde_json::to_value(&metrics).unwrap();
        m["test"]["accuracy"] =
            (metrics.test.accuracy + shift - if seed == 2 { 0.2 } else { 0.0 }).into();
        m["analysis"] = analysis.clone();
        let file =
            serde_json::json!({"seed": seed, "shuffle": true, "tensorflow": "test", "slp": m});
        std::fs::write(refs.join(format!("seed-{seed}.json")), file.to_string()).unwrap();
    }
    let reference = load_reference(&refs).unwrap();
    assert_eq!(
        reference.iter().map(|r| r.seed).collect::<Vec<_>>(),
        vec![1, 2]
    );
    let ours: Analysis = dir.read_json("analysis.json").unwrap();
    let c = compare(&metrics, &ours, &reference).unwrap();
    let row = |name: &str| {
        c.rows
            .iter()
            .find(|r| r.name == name)
            .unwrap_or_else(|| panic!("{name}"))
    };
    assert!(row("final train loss").agrees());
    assert!(row("class template trained diag_mean").agrees());
    assert!(row("epoch 2 train loss").agrees());
    let acc = row("test accuracy");
    assert!(acc.agrees(), "inside the widened range");
    assert_eq!(acc.theirs.len(), 2);
    let md = c.markdown();
    assert!(md.contains("| test accuracy |"), "{md}");
    // Without the in-range seed, accuracy is 0.2 below TensorFlow's only value: flagged.
    let far: Vec<_> = reference.into_iter().filter(|r| r.seed == 2).collect();
    let c = compare(&metrics, &ours, &far).unwrap();
    assert!(
        !c.rows
            .iter()
            .find(|r| r.name == "test accuracy")
            .unwrap()
            .agrees()
    );
    assert!(c.markdown().contains("**no**"));
    // A network the reference does not cover is refused, not compared with another one's.
    let mut wider = metrics.clone();
    wider.layers = vec![784, 256, 10];
    wider.model = "MLP 784-256-10".into();
    let refused = compare(&wider, &ours, &far).err().unwrap().to_string();
    assert!(
        refused.contains("SLP 784-10 and MLP 784-128-10, not an MLP 784-256-10"),
        "{refused}"
    );
}

#[test]
fn compare_command_writes_table_and_chart() {
    let ws = Workspace::new(100, 20);
    let config = ws.config("slp", &[]).epochs(1).build();
    let run = crate::common::train_into(&config, &ws.path("run"));
    let out = crate::common::binary()
        .args([
            "compare",
            run.dir.path().to_str().unwrap(),
            "--reference",
            REFERENCE,
        ])
        .output()
        .unwrap();
    let stdout = crate::common::succeeded(&out);
    assert!(stdout.contains("against TensorFlow 2.21.0"), "{stdout}");
    assert!(
        stdout.contains("TensorFlow seeds: [1, 2, 12345]"),
        "{stdout}"
    );
    assert!(run.dir.file("comparison.md").is_file());
    assert!(run.dir.file("figures/loss_vs_tensorflow.png").is_file());
}

/// What `compare RUN` prints against the project's TensorFlow reference.
fn compare_with_reference(run: &weightscope::store::RunDir) -> String {
    let out = crate::common::binary()
        .args([
            "compare",
            crate::common::s(run.path()),
            "--reference",
            REFERENCE,
        ])
        .output()
        .unwrap();
    crate::common::succeeded(&out)
}

/// The markdown table row of `layer` in the section after `heading`.
fn row_after<'a>(text: &'a str, heading: &str, layer: &str) -> Vec<&'a str> {
    let section = &text[text.find(heading).unwrap_or_else(|| panic!("no {heading}"))..];
    let line = section
        .lines()
        .find(|l| l.starts_with(&format!("| {layer} |")))
        .unwrap_or_else(|| panic!("no {layer} row after {heading}"));
    line.split('|')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .collect()
}

#[test]
fn compare_matches_neurons_with_tensorflow_and_their_lockstep_twins() {
    let ws = Workspace::new(100, 20);
    let weights = std::env::current_dir().unwrap().join(REFERENCE);
    let lockstep = |c: &mut Config| {
        c.init.keras_weights = Some(weights.join("weights"));
        c.training.shuffle = false;
    };
    let config = ws.config("lock", &[128]).epochs(1).with(lockstep).build();
    let run = crate::common::train_into(&config, &ws.path("run"));
    let stdout = compare_with_reference(&run.dir);
    // Both runs start from TensorFlow's initial weights: the baseline matches perfectly.
    let hidden = row_after(&stdout, "Neuron by neuron", "hidden layer 1");
    assert_eq!(hidden[2], "1.000 (1.000)", "{hidden:?}");
    assert_eq!(hidden[6], "1.000", "{hidden:?}");
    // The twin cosines, recomputed here from the two files.
    let ours = load_layers(
        &run.dir,
        "weights.bpk",
        &run.metrics.layers,
        config.model.activation,
    )
    .unwrap();
    let twin = load(&weights.join("lockstep/weights"), ModelKind::Mlp, "").unwrap();
    let cosines: Vec<f64> = (0..128)
        .map(|j| {
            let (a, b) = (ours[0].column(j), twin[0].column(j));
            let dot: f64 = a.iter().zip(&b).map(|(x, y)| f64::from(x * y)).sum();
            let norm = |v: &[f32]| v.iter().map(|x| f64::from(x * x)).sum::<f64>().sqrt();
            dot / (norm(&a) * norm(&b))
        })
        .collect();
    let mean = cosines.iter().sum::<f64>() / 128.0;
    let twins = row_after(&stdout, "Lockstep:", "hidden layer 1");
    let shown: f64 = twins[1].parse().unwrap();
    assert!((shown - mean).abs() < 1e-4, "twin cosine {shown} vs {mean}");
    // A shuffled run has no twins, only the matching.
    let config = ws.config("free", &[128]).epochs(1).build();
    let free = crate::common::train_into(&config, &ws.path("free"));
    let stdout = compare_with_reference(&free.dir);
    assert!(
        stdout.contains("Neuron by neuron") && !stdout.contains("Lockstep:"),
        "{stdout}"
    );
}
