//! Keras-identical initialisation and split, and short real training runs.

mod common;

use burn::tensor::{Device, Tensor, TensorData};
use common::Workspace;
use weightscope::config::{Activation, Config, ModelConfig};
use weightscope::data::ImageSet;
use weightscope::model::{DenseNet, initial_weights, layer_widths, to_vec};
use weightscope::pipeline::run_training;
use weightscope::progress::Progress;
use weightscope::train::epoch_order;

#[test]
fn initial_weights_are_glorot_uniform_with_zero_bias() {
    let model = ModelConfig {
        hidden: vec![128],
        activation: Activation::Relu,
    };
    let widths = layer_widths(&model, 784, 10);
    assert_eq!(widths, vec![784, 128, 10]);
    let layers = initial_weights(&widths, 12345);
    for (layer, (d_in, d_out)) in layers.iter().zip([(784, 128), (128, 10)]) {
        assert_eq!((layer.d_in, layer.d_out), (d_in, d_out));
        assert_eq!(layer.weight.len(), d_in * d_out);
        assert!(layer.bias.iter().all(|&b| b == 0.0));
        let limit = (6.0f64 / (d_in + d_out) as f64).sqrt();
        let n = layer.weight.len() as f64;
        let mean = layer.weight.iter().map(|&w| w as f64).sum::<f64>() / n;
        let var = layer
            .weight
            .iter()
            .map(|&w| (w as f64 - mean).powi(2))
            .sum::<f64>()
            / n;
        let (min, max) = layer
            .weight
            .iter()
            .fold((f64::MAX, f64::MIN), |(lo, hi), &w| {
                (lo.min(w as f64), hi.max(w as f64))
            });
        assert!(min >= -limit && max < limit, "{min} {max} limit {limit}");
        // A uniform draw covers its range and has variance limit^2 / 3.
        assert!(min < -0.97 * limit && max > 0.97 * limit, "{min} {max}");
        assert!(mean.abs() < 0.05 * limit, "mean {mean}");
        assert!((var / (limit * limit / 3.0) - 1.0).abs() < 0.1, "var {var}");
    }
    assert_eq!(initial_weights(&widths, 12345), layers);
    assert_ne!(initial_weights(&widths, 12346), layers);
}

#[test]
fn burn_model_uses_the_keras_kernel_layout() {
    let device = Device::flex();
    let layers = initial_weights(&[5, 3], 1);
    let net = DenseNet::from_weights(&layers, Activation::Relu, &device);
    assert_eq!(net.weights(), layers);
    // Input e_i selects row i of the [in, out] kernel: output j = W[i][j].
    let eye = Tensor::<2>::from_data(
        TensorData::new(
            (0..25)
                .map(|k| if k / 5 == k % 5 { 1.0f32 } else { 0.0 })
                .collect(),
            [5, 5],
        ),
        &device,
    );
    let out = to_vec(net.forward(eye).into_data());
    for (a, b) in out.iter().zip(&layers[0].weight) {
        assert!((a - b).abs() < 1e-6);
    }
    assert_eq!(
        layers[0].column(2),
        vec![
            layers[0].weight[2],
            layers[0].weight[5],
            layers[0].weight[8],
            layers[0].weight[11],
            layers[0].weight[14]
        ]
    );
}

fn numbered_set(n: usize) -> ImageSet {
    ImageSet {
        images: (0..n).map(|i| i as f32).collect(),
        labels: (0..n).map(|i| (i % 10) as u8).collect(),
        rows: 1,
        cols: 1,
    }
}

#[test]
fn validation_split_takes_the_last_two_percent_as_keras_does() {
    let full = numbered_set(60_000);
    let (train, val) = full.split_validation(0.02);
    assert_eq!((train.len(), val.len()), (58_800, 1_200));
    assert_eq!(train.images[58_799], 58_799.0);
    assert_eq!(val.images[0], 58_800.0);
    assert_eq!(val.images[1_199], 59_999.0);
    let (train, val) = numbered_set(1_000).split_validation(0.1);
    assert_eq!((train.len(), val.len()), (900, 100));
    let (train, val) = numbered_set(7).split_validation(0.0);
    assert_eq!((train.len(), val.len()), (7, 0));
}

#[test]
fn epochs_are_reshuffled_reproducibly() {
    let a1 = epoch_order(100, 5, 1, true);
    let a2 = epoch_order(100, 5, 2, true);
    assert_ne!(a1, a2);
    assert_eq!(a1, epoch_order(100, 5, 1, true));
    assert_ne!(a1, epoch_order(100, 6, 1, true));
    let mut sorted = a1.clone();
    sorted.sort();
    assert_eq!(sorted, (0..100).collect::<Vec<_>>());
    assert_eq!(epoch_order(5, 5, 1, false), vec![0, 1, 2, 3, 4]);
}

fn small_run(
    ws: &Workspace,
    name: &str,
    hidden: &[usize],
    extra: &str,
) -> weightscope::pipeline::RunSummary {
    let config = Config::load(&ws.config(name, hidden, extra)).unwrap();
    run_training(
        &config,
        Some(ws.path(&format!("runs/{name}"))),
        true,
        &mut Progress::silent(),
    )
    .unwrap()
}

#[test]
fn mlp_learns_synthetic_classes_and_writes_its_results() {
    let ws = Workspace::new(500, 200);
    let run = small_run(&ws, "mlp", &[32], "");
    let m = &run.metrics;
    assert_eq!(m.model, "MLP 784-32-10");
    assert_eq!(m.epochs.len(), 3);
    assert!(m.epochs[2].loss < m.epochs[0].loss, "{:?}", m.epochs);
    assert!(m.test.accuracy >= 0.95, "test accuracy {}", m.test.accuracy);
    assert!(m.epochs[2].val_accuracy.unwrap() >= 0.95);
    let dir = run.dir.path();
    for f in [
        "config.toml",
        "metrics.json",
        "history.csv",
        "weights.bpk",
        "weights_init.bpk",
    ] {
        assert!(dir.join(f).is_file(), "{f} missing");
    }
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    for key in [
        "model",
        "backend",
        "seed",
        "epochs",
        "test",
        "train_seconds",
    ] {
        assert!(json.get(key).is_some(), "metrics.json lacks {key}");
    }
    for key in [
        "epoch",
        "loss",
        "accuracy",
        "val_loss",
        "val_accuracy",
        "seconds",
    ] {
        assert!(json["epochs"][0].get(key).is_some(), "epoch lacks {key}");
    }
    assert!(json["test"]["accuracy"].as_f64().unwrap() >= 0.95);
    let csv = std::fs::read_to_string(dir.join("history.csv")).unwrap();
    assert_eq!(csv.lines().count(), 4);
    assert!(csv.starts_with("epoch,loss,accuracy,val_loss,val_accuracy,seconds\n"));
    // No temporary files are left behind.
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "analysis.json",
            "config.toml",
            "figures",
            "history.csv",
            "metrics.json",
            "report.html",
            "snapshots",
            "weights.bpk",
            "weights.safetensors",
            "weights_init.bpk"
        ]
    );
    let snapshots = std::fs::read_dir(dir.join("snapshots")).unwrap().count();
    assert_eq!(snapshots, 4, "epochs 0..=3");
}

#[test]
fn saved_weights_load_back_bit_identically() {
    let ws = Workspace::new(200, 50);
    let run = small_run(&ws, "slp", &[], "epochs = 1");
    let config = run.dir.read_config().unwrap();
    let device = Device::flex();
    let shape = initial_weights(&run.metrics.layers, 0);
    let init = run
        .dir
        .load_weights("weights_init.bpk", &shape, &config, &device)
        .unwrap();
    assert_eq!(
        init.weights(),
        initial_weights(&run.metrics.layers, config.seed)
    );
    let trained = run
        .dir
        .load_weights("weights.bpk", &shape, &config, &device)
        .unwrap();
    assert_ne!(trained.weights(), init.weights());
    // Evaluating the reloaded model gives the recorded test metrics.
    let data = weightscope::pipeline::RunData::load(&config).unwrap();
    let test = weightscope::train::DeviceSet::upload(data.test.clone(), &device, None);
    let eval = weightscope::train::evaluate(&trained, &test);
    assert_eq!(eval, run.metrics.test);
}

#[test]
fn same_seed_gives_identical_metrics_and_sgd_differs_from_adam() {
    let ws = Workspace::new(300, 100);
    let a = small_run(&ws, "a", &[16], "");
    let b = small_run(&ws, "b", &[16], "");
    let strip = |m: &weightscope::artifacts::Metrics| {
        m.epochs
            .iter()
            .map(|e| (e.loss, e.accuracy, e.val_loss, e.val_accuracy))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a.metrics), strip(&b.metrics));
    assert_eq!(a.metrics.test, b.metrics.test);
    let sgd = small_run(&ws, "sgd", &[16], "optimizer = 'sgd'\nlearning_rate = 0.1");
    assert_eq!(sgd.metrics.optimizer, "sgd");
    assert_ne!(strip(&sgd.metrics), strip(&a.metrics));
    assert!(sgd.metrics.epochs[2].loss < sgd.metrics.epochs[0].loss);
}

#[test]
fn a_set_held_in_parts_trains_like_one_held_whole() {
    let ws = Workspace::new(300, 60);
    let data = weightscope::data::Mnist::load(&ws.data_dir()).unwrap();
    let device = Device::flex();
    let parted = weightscope::train::DeviceSet::upload(data.train.clone(), &device, Some(20_000));
    assert_eq!(parted.parts(), 300usize.div_ceil(20_000 / (784 * 4)));
    let run = |limit: Option<usize>| {
        let (train, validation) = data.train.split_validation(0.1);
        let mut config = Config::default().training;
        config.epochs = 2;
        config.batch_size = 32;
        weightscope::train::train(
            &config,
            5,
            weightscope::train::Start::Fresh(&initial_weights(&[784, 16, 10], 5)),
            Activation::Relu,
            weightscope::train::TrainInputs {
                train,
                validation,
                test: &data.test,
                max_tensor_bytes: limit,
            },
            &device,
            &mut Progress::silent(),
            |_, _| Ok(()),
        )
        .unwrap()
        .finished()
        .unwrap()
    };
    let whole = run(None);
    let parts = run(Some(20_000));
    for (a, b) in whole.history.iter().zip(&parts.history) {
        assert!(
            ((a.loss - b.loss) / a.loss).abs() < 1e-4,
            "{} vs {}",
            a.loss,
            b.loss
        );
        assert_eq!(a.val_accuracy, b.val_accuracy);
    }
    assert!((whole.test.loss - parts.test.loss).abs() < 1e-4);
}

#[test]
fn a_new_run_into_an_old_runs_folder_leaves_none_of_its_files() {
    let ws = Workspace::new(200, 40);
    let out = ws.path("run");
    let config = Config::load(&ws.config("a", &[8], "epochs = 3")).unwrap();
    run_training(&config, Some(out.clone()), true, &mut Progress::silent()).unwrap();
    assert!(out.join("snapshots/epoch-003.bpk").is_file());
    std::fs::write(out.join("comparison.md"), "| an old comparison |\n").unwrap();
    let config = Config::load(&ws.config("b", &[8], "epochs = 2")).unwrap();
    run_training(&config, Some(out.clone()), false, &mut Progress::silent()).unwrap();
    assert!(!out.join("snapshots/epoch-003.bpk").exists());
    assert!(out.join("snapshots/epoch-002.bpk").is_file());
    for stale in [
        "comparison.md",
        "analysis.json",
        "report.html",
        "figures/weights.png",
    ] {
        assert!(
            !out.join(stale).exists(),
            "{stale} of the earlier run is left"
        );
    }
}
