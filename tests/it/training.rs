//! Keras-identical initialisation and split, and short real training runs.

use crate::common::Workspace;
use burn::tensor::{Device, Tensor, TensorData};
use weightscope::app::feedback::Silent;
use weightscope::app::train::{Outputs, run_training};
use weightscope::core::config::OptimizerKind;
use weightscope::core::config::{Activation, Config, ModelConfig};
use weightscope::core::data::ImageSet;
use weightscope::core::metrics::EpochMetrics;
use weightscope::core::stop::StopToken;
use weightscope::core::weights::{initial_weights, layer_widths};
use weightscope::nn::backend::Placement;
use weightscope::nn::model::DenseNet;
use weightscope::train::epoch_order;
use weightscope::train::saved::load_model;
use weightscope::train::{Outcome, Start, TrainInputs, TrainJob, TrainObserver, Unobserved, train};

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
    let out: Vec<f32> = net.forward(eye).into_data().try_to_vec().unwrap();
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
        images: (0..n).map(|i| i as f32).collect::<Vec<_>>().into(),
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        rows: 1,
        cols: 1,
        channels: 1,
    }
}

#[test]
fn validation_split_takes_the_last_two_percent_as_keras_does() {
    let full = numbered_set(60_000);
    let (train, val) = full.split_validation(0.02);
    assert_eq!((train.len(), val.len()), (58_800, 1_200));
    assert_eq!(train.images.get(58_799), 58_799.0);
    assert_eq!(val.images.get(0), 58_800.0);
    assert_eq!(val.images.get(1_199), 59_999.0);
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

#[test]
fn mlp_learns_synthetic_classes_and_writes_its_results() {
    let ws = Workspace::new(500, 200);
    let run = ws.config("mlp", &[32]).train();
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
    // Every figure is present with its type, none of them null.
    assert_eq!(json["model"], "MLP 784-32-10");
    assert_eq!(json["backend"], "flex");
    // The kernels' instruction set, which decides the last bits of every product.
    assert_eq!(
        json["cpu_kernels"].as_str(),
        weightscope::nn::backend::cpu_kernels(weightscope::nn::backend::BackendName::Flex)
    );
    assert!(json["cpu_kernels"].is_string(), "{json}");
    assert_eq!(json["optimizer"], "adam");
    assert_eq!(json["seed"], 7);
    assert_eq!(json["layers"], serde_json::json!([784, 32, 10]));
    assert!(json["train_seconds"].as_f64().unwrap() > 0.0);
    assert!(json["test"]["loss"].as_f64().unwrap() > 0.0);
    let epochs = json["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    for (i, e) in epochs.iter().enumerate() {
        assert_eq!(e["epoch"], i + 1);
        for key in ["loss", "accuracy", "val_loss", "val_accuracy", "seconds"] {
            let value = e[key].as_f64();
            assert!(
                value.is_some_and(f64::is_finite),
                "epoch {}: {key} = {}",
                i + 1,
                e[key]
            );
        }
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
            "explore.html",
            "figures",
            "history.csv",
            "metrics.json",
            "pixel_templates.safetensors",
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
    let run = ws.config("slp", &[]).epochs(1).train();
    let config = run.dir.read_config().unwrap();
    let device = Device::flex();
    let (widths, activation) = (&run.metrics.layers, config.model.activation);
    let init = load_model(&run.dir, "weights_init.bpk", widths, activation, &device).unwrap();
    assert_eq!(
        init.weights(),
        initial_weights(&run.metrics.layers, config.seed)
    );
    let trained = load_model(&run.dir, "weights.bpk", widths, activation, &device).unwrap();
    assert_ne!(trained.weights(), init.weights());
    // Evaluating the reloaded model gives the recorded test metrics.
    let data = weightscope::core::data::RunData::load(&config).unwrap();
    let test = weightscope::train::device_data::DeviceSet::place(
        (&data.test).into(),
        &device,
        weightscope::nn::backend::Placement::Host,
    );
    let eval = weightscope::train::device_data::evaluate(&trained, &test);
    assert_eq!(eval, run.metrics.test);
}

#[test]
fn same_seed_gives_identical_metrics_and_sgd_differs_from_adam() {
    let ws = Workspace::new(300, 100);
    let a = ws.config("a", &[16]).train();
    let b = ws.config("b", &[16]).train();
    let strip = |m: &weightscope::core::metrics::Metrics| {
        m.epochs
            .iter()
            .map(|e| (e.loss, e.accuracy, e.val_loss, e.val_accuracy))
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&a.metrics), strip(&b.metrics));
    assert_eq!(a.metrics.test, b.metrics.test);
    let sgd = ws
        .config("sgd", &[16])
        .optimizer(OptimizerKind::Sgd, 0.1)
        .train();
    assert_eq!(sgd.metrics.optimizer, "sgd");
    assert_ne!(strip(&sgd.metrics), strip(&a.metrics));
    assert!(sgd.metrics.epochs[2].loss < sgd.metrics.epochs[0].loss);
}

#[test]
fn a_set_held_in_parts_trains_like_one_held_whole_and_one_left_on_the_host() {
    let ws = Workspace::new(300, 60);
    let data = weightscope::core::data::Mnist::load(&ws.data_dir()).unwrap();
    let device = Device::flex();
    let run = |placement: Placement| {
        let (train_set, validation) = data.train.split_validation_slices(0.1);
        let mut config = Config::default().training;
        config.epochs = 2;
        config.batch_size = 32;
        let job = TrainJob {
            training: &config,
            seed: 5,
            activation: Activation::Relu,
            data: TrainInputs {
                train: train_set,
                validation,
                test: &data.test,
                placement,
            },
            device: &device,
        };
        let initial = initial_weights(&[784, 16, 10], 5);
        match train(
            job,
            Start::Fresh(&initial),
            &mut Unobserved,
            &StopToken::new(),
        )
        .unwrap()
        {
            Outcome::Finished(trained) => trained,
            Outcome::Interrupted(_) => panic!("nothing asked it to stop"),
        }
    };
    let device_at = |max_tensor_bytes| Placement::Device { max_tensor_bytes };
    let whole = run(device_at(None));
    let parts = run(device_at(Some(20_000)));
    // On the host, batches hold the same images in the same order as on the device: the
    // same training, bit for bit.
    let host = run(Placement::Host);
    assert_eq!(host.history.len(), whole.history.len());
    for (a, b) in whole.history.iter().zip(&host.history) {
        assert_eq!(
            (a.loss, a.accuracy, a.val_loss, a.val_accuracy),
            (b.loss, b.accuracy, b.val_loss, b.val_accuracy)
        );
    }
    assert_eq!(host.test, whole.test);
    assert_eq!(host.model.weights(), whole.model.weights());
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
    let config = ws.config("a", &[8]).epochs(3).build();
    crate::common::train_into(&config, &out);
    assert!(out.join("snapshots/epoch-003.bpk").is_file());
    std::fs::write(out.join("comparison.md"), "| an old comparison |\n").unwrap();
    let config = ws.config("b", &[8]).epochs(2).build();
    run_training(
        &config,
        Some(out.clone()),
        Outputs::Results,
        &mut Silent,
        &StopToken::new(),
    )
    .unwrap();
    assert!(!out.join("snapshots/epoch-003.bpk").exists());
    assert!(out.join("snapshots/epoch-002.bpk").is_file());
    for stale in [
        "comparison.md",
        "analysis.json",
        "report.html",
        "explore.html",
        "figures/weights.png",
    ] {
        assert!(
            !out.join(stale).exists(),
            "{stale} of the earlier run is left"
        );
    }
}

/// Asks for a stop right after a given step of a given epoch, as a Ctrl-C there would.
struct StopAt {
    epoch: usize,
    step: usize,
    current: usize,
    token: StopToken,
}

impl TrainObserver for StopAt {
    fn epoch_started(&mut self, epoch: usize, _: usize, _: usize) {
        self.current = epoch;
    }

    fn step_done(&mut self, step: usize) {
        if (self.current, step) == (self.epoch, self.step) {
            self.token.request();
        }
    }

    fn epoch_done(
        &mut self,
        _: usize,
        _: Option<&EpochMetrics>,
        _: &DenseNet,
    ) -> anyhow::Result<()> {
        Ok(())
    }
}

#[test]
fn a_run_stopped_mid_epoch_resumes_to_the_same_result() {
    let ws = Workspace::new(300, 60);
    let data = weightscope::core::data::Mnist::load(&ws.data_dir()).unwrap();
    let device = Device::flex();
    let mut config = Config::default().training;
    config.epochs = 3;
    config.batch_size = 25;
    let initial = initial_weights(&[784, 16, 10], 9);
    let job = || {
        let (train_set, validation) = data.train.split_validation_slices(0.1);
        TrainJob {
            training: &config,
            seed: 9,
            activation: Activation::Relu,
            data: TrainInputs {
                train: train_set,
                validation,
                test: &data.test,
                placement: Placement::Host,
            },
            device: &device,
        }
    };
    let whole = match train(
        job(),
        Start::Fresh(&initial),
        &mut Unobserved,
        &StopToken::new(),
    ) {
        Ok(Outcome::Finished(t)) => t,
        _ => panic!("the whole run finishes"),
    };
    let token = StopToken::new();
    let mut stop = StopAt {
        epoch: 2,
        step: 4,
        current: 0,
        token: token.clone(),
    };
    let checkpoint = match train(job(), Start::Fresh(&initial), &mut stop, &token) {
        Ok(Outcome::Interrupted(c)) => c,
        _ => panic!("the run stops where asked"),
    };
    assert_eq!(
        (checkpoint.epoch, checkpoint.step, checkpoint.history.len()),
        (2, 4, 1)
    );
    let resumed = match train(
        job(),
        Start::Resume(checkpoint),
        &mut Unobserved,
        &StopToken::new(),
    ) {
        Ok(Outcome::Finished(t)) => t,
        _ => panic!("the resumed run finishes"),
    };
    let figures = |h: &[EpochMetrics]| -> Vec<_> {
        h.iter()
            .map(|e| (e.epoch, e.loss, e.accuracy, e.val_loss, e.val_accuracy))
            .collect()
    };
    assert_eq!(figures(&resumed.history), figures(&whole.history));
    assert_eq!(resumed.test, whole.test);
    assert_eq!(resumed.model.weights(), whole.model.weights());
}
