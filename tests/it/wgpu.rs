//! wgpu trains the same steps as flex from the same initial weights. CI installs Debian's
//! mesa-vulkan-drivers so a CPU Vulkan adapter exists; without any adapter the test fails with
//! the same hint the CLI gives.
#![cfg(feature = "wgpu")]

use crate::common::{Workspace, s};
use burn::tensor::Device;
use weightscope::core::config::{Activation, Config};
use weightscope::core::data::Mnist;
use weightscope::core::stop::StopToken;
use weightscope::core::weights::initial_weights;
use weightscope::nn::backend::{BackendName, Placement, device};
use weightscope::train::{Outcome, Start, TrainInputs, TrainJob, Unobserved, train};

fn losses(device: &Device, ws: &Workspace) -> (Vec<f64>, f64) {
    let data = Mnist::load(&ws.data_dir()).unwrap();
    let (train_set, val) = data.train.split_validation_slices(0.0);
    let mut config = Config::default().training;
    config.epochs = 2;
    config.batch_size = 50;
    let job = TrainJob {
        training: &config,
        seed: 3,
        activation: Activation::Relu,
        data: TrainInputs {
            train: train_set,
            validation: val,
            test: &data.test,
            placement: Placement::Device {
                max_tensor_bytes: None,
            },
        },
        device,
    };
    let initial = initial_weights(&[784, 16, 10], 3);
    let Outcome::Finished(trained) = train(
        job,
        Start::Fresh(&initial),
        &mut Unobserved,
        &StopToken::new(),
    )
    .unwrap() else {
        panic!("nothing asked it to stop");
    };
    (
        trained.history.iter().map(|m| m.loss).collect(),
        trained.test.loss,
    )
}

/// The wgpu device, or `None` (with the reason printed) where no adapter exists and CI does
/// not require one.
fn wgpu_device() -> Option<Device> {
    let opened = device(BackendName::Wgpu);
    if let Err(e) = &opened {
        eprintln!("{e:#}");
    }
    crate::common::required_or_skip(opened.is_ok(), "a wgpu adapter (mesa-vulkan-drivers)")
        .then(|| opened.unwrap())
}

#[test]
fn wgpu_loss_agrees_with_flex() {
    let ws = Workspace::new(150, 50);
    let Some(wgpu) = wgpu_device() else { return };
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
    if wgpu_device().is_none() {
        return;
    }
    let ws = Workspace::new(100, 20);
    let config = ws.config("w", &[]).epochs(1).write();
    let run = ws.path("run");
    let out = crate::common::weightscope(&[
        "--config",
        s(&config),
        "--out",
        s(&run),
        "--backend",
        "wgpu",
        "--no-analysis",
    ]);
    let stdout = crate::common::succeeded(&out);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let first = stdout.lines().next().unwrap_or_default();
    let metrics: weightscope::core::metrics::Metrics =
        serde_json::from_str(&std::fs::read_to_string(run.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(
        metrics.cpu_kernels, None,
        "wgpu's products are not the CPU kernels'"
    );
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
