//! wgpu trains the same steps as flex from the same initial weights. CI installs Debian's
//! mesa-vulkan-drivers so a CPU Vulkan adapter exists; without any adapter the test fails with
//! the same hint the CLI gives.
#![cfg(feature = "wgpu")]

mod common;

use burn::tensor::Device;
use common::Workspace;
use weightscope::backend::{BackendName, device};
use weightscope::config::{Activation, Config};
use weightscope::data::Mnist;
use weightscope::model::initial_weights;
use weightscope::progress::Progress;
use weightscope::train::{Start, TrainInputs, train};

fn losses(device: &Device, ws: &Workspace) -> (Vec<f64>, f64) {
    let data = Mnist::load(&ws.data_dir()).unwrap();
    let (train_set, val) = data.train.split_validation(0.0);
    let mut config = Config::default().training;
    config.epochs = 2;
    config.batch_size = 50;
    let trained = train(
        &config,
        3,
        Start::Fresh(&initial_weights(&[784, 16, 10], 3)),
        Activation::Relu,
        TrainInputs {
            train: train_set,
            validation: val,
            test: &data.test,
            max_tensor_bytes: None,
        },
        device,
        &mut Progress::silent(),
        |_, _| Ok(()),
    )
    .unwrap()
    .finished()
    .unwrap();
    (
        trained.history.iter().map(|m| m.loss).collect(),
        trained.test.loss,
    )
}

#[test]
fn wgpu_loss_agrees_with_flex() {
    let ws = Workspace::new(150, 50);
    let wgpu = device(BackendName::Wgpu).unwrap_or_else(|e| panic!("{e:#}"));
    let (flex_losses, flex_test) = losses(&Device::flex(), &ws);
    let (wgpu_losses, wgpu_test) = losses(&wgpu, &ws);
    for (f, w) in flex_losses
        .iter()
        .chain([&flex_test])
        .zip(wgpu_losses.iter().chain([&wgpu_test]))
    {
        assert!(((f - w) / f).abs() < 1e-4, "flex {f} vs wgpu {w}");
    }
    assert!(flex_losses[1] < flex_losses[0]);
}

#[test]
fn a_wgpu_run_names_its_adapter_and_warns_about_software_ones() {
    let ws = Workspace::new(100, 20);
    let config = ws.config("w", &[], "epochs = 1");
    let run = ws.path("run");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_weightscope"))
        .args(["--config", config.to_str().unwrap()])
        .args(["--out", run.to_str().unwrap()])
        .args(["--backend", "wgpu", "--no-analysis"])
        .output()
        .unwrap();
    let stdout = common::succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stdout.lines().next().unwrap_or_default();
    let metrics: weightscope::artifacts::Metrics =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    let adapter = metrics.adapter.expect("metrics.json names the adapter");
    assert_eq!(first, format!("wgpu: {}", adapter.describe()));
    assert!(
        !adapter.name.is_empty() && !adapter.api.is_empty(),
        "{adapter:?}"
    );
    let warnings = stderr
        .matches("warning: wgpu found only a software adapter")
        .count();
    assert_eq!(warnings, usize::from(adapter.is_software()), "{stderr}");
}
