//! What a run measured while training: the per-epoch history, the test figures and
//! `metrics.json`, which holds them.

use serde::{Deserialize, Serialize};

use crate::core::scaling::InputScaling;

/// One row of the training history, named as Keras names its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    #[serde(deserialize_with = "number_or_nan")]
    pub loss: f64,
    #[serde(deserialize_with = "number_or_nan")]
    pub accuracy: f64,
}

/// `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub model: String,
    pub layers: Vec<usize>,
    pub optimizer: String,
    pub backend: String,
    /// The wgpu adapter trained on; absent for the CPU backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<Adapter>,
    /// The instruction set of the CPU backends' matrix kernels (`AVX-512`, `AVX2 (FMA)`, …),
    /// chosen at run time: products differ between sets in the last bits, so a run repeats bit
    /// for bit only where this matches. Absent for wgpu and in runs from before it was recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_kernels: Option<String>,
    pub seed: u64,
    /// How the pixels became the network's inputs (absent in runs from before it was
    /// recorded, which trained on pixels / 255).
    #[serde(default)]
    pub input_scaling: InputScaling,
    pub epochs: Vec<EpochMetrics>,
    pub test: Evaluation,
    #[serde(deserialize_with = "number_or_nan")]
    pub train_seconds: f64,
}

/// JSON has no NaN: serde_json writes an unknown figure (weights trained elsewhere have no
/// training time) as null, and this reads it back as NaN.
pub(crate) fn number_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// The wgpu adapter a run trains on, as `metrics.json` records it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Adapter {
    pub name: String,
    /// discrete GPU, integrated GPU, virtual GPU, CPU or other.
    pub kind: String,
    /// The graphics API wgpu reaches it through (Vulkan, Metal, DX12, GL).
    pub api: String,
    pub driver: String,
}

impl Adapter {
    /// A software rasteriser (lavapipe/llvmpipe, SwiftShader, WARP) rather than a GPU.
    pub fn is_software(&self) -> bool {
        let name = self.name.to_lowercase();
        self.kind == "CPU"
            || ["llvmpipe", "lavapipe", "swiftshader", "warp"]
                .iter()
                .any(|s| name.contains(s))
    }

    /// `llvmpipe (LLVM 19.1.7, 256 bits), CPU, Vulkan`
    pub fn describe(&self) -> String {
        format!("{}, {}, {}", self.name, self.kind, self.api)
    }
}
