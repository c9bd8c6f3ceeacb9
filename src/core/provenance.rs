//! Where a network's weights came from: trained here (its config and metrics), or imported
//! from another tool's file, of which weightscope knows only what the file and the flags said.
//! Pages, figures and messages read a network's description from here, so an import never
//! shows a training setting that did not happen.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::core::config::{Activation, Config};
use crate::core::metrics::{EpochMetrics, Evaluation, Metrics};
use crate::core::scaling::{InputScaling, ScalingSource};

/// The files weights trained elsewhere arrive in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImportFormat {
    Safetensors,
    Npz,
    /// The TensorFlow reference script's folder of `.npy` files.
    KerasNpy,
}

impl ImportFormat {
    pub fn describe(self) -> &'static str {
        match self {
            ImportFormat::Safetensors => "safetensors",
            ImportFormat::Npz => "NumPy .npz",
            ImportFormat::KerasNpy => "TensorFlow reference .npy files",
        }
    }
}

/// Where an import's activation comes from, for the report to say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ActivationSource {
    /// The weights file's own metadata.
    FileMetadata,
    /// `--activation`.
    Flag,
    /// The TensorFlow reference script, which builds its hidden layers with it.
    ReferenceScript,
    /// A single layer, which applies none before its softmax.
    SingleLayer,
}

impl ActivationSource {
    pub fn describe(self) -> &'static str {
        match self {
            ActivationSource::FileMetadata => "from the file's metadata",
            ActivationSource::Flag => "from --activation",
            ActivationSource::ReferenceScript => "as the TensorFlow reference script builds it",
            ActivationSource::SingleLayer => "none is applied: a single layer",
        }
    }
}

/// `import.json`: everything known of an imported network, and nothing more. Its folder has
/// no `config.toml` or `metrics.json`, since no training happened here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportRecord {
    /// "MLP 784-128-10 from mine.safetensors".
    pub model: String,
    pub layers: Vec<usize>,
    pub activation: Activation,
    pub activation_source: ActivationSource,
    /// How the pixels became the network's inputs, and who said so.
    #[serde(default)]
    pub input_scaling: InputScaling,
    #[serde(default)]
    pub input_scaling_source: ScalingSource,
    /// The trained weights' file (or folder, for the reference script's files).
    pub source: PathBuf,
    pub format: ImportFormat,
    /// The same network's initial weights, where they were given; without them there is no
    /// "against initial" baseline.
    pub initial: Option<PathBuf>,
    /// The data set the figures were computed on, and how much of its training file.
    pub data: PathBuf,
    pub train_limit: usize,
    pub probe_index: usize,
    /// Computed here, on the data set's test images.
    pub test: Evaluation,
}

/// The network an analysis describes.
#[derive(Debug, Clone, Copy)]
pub enum Provenance<'a> {
    Trained {
        config: &'a Config,
        metrics: &'a Metrics,
    },
    Imported(&'a ImportRecord),
}

impl<'a> Provenance<'a> {
    /// "MLP 784-128-10", or "MLP 784-128-10 from mine.safetensors".
    pub fn model(&self) -> &'a str {
        match self {
            Provenance::Trained { metrics, .. } => &metrics.model,
            Provenance::Imported(record) => &record.model,
        }
    }

    /// The training history, epoch by epoch; none for an import.
    pub fn history(&self) -> &'a [EpochMetrics] {
        match self {
            Provenance::Trained { metrics, .. } => &metrics.epochs,
            Provenance::Imported(_) => &[],
        }
    }

    pub fn activation(&self) -> Activation {
        match self {
            Provenance::Trained { config, .. } => config.model.activation,
            Provenance::Imported(record) => record.activation,
        }
    }

    pub fn probe_index(&self) -> usize {
        match self {
            Provenance::Trained { config, .. } => config.analysis.probe_index,
            Provenance::Imported(record) => record.probe_index,
        }
    }

    pub fn data_dir(&self) -> &'a std::path::Path {
        match self {
            Provenance::Trained { config, .. } => &config.data.dir,
            Provenance::Imported(record) => &record.data,
        }
    }

    pub fn test(&self) -> Evaluation {
        match self {
            Provenance::Trained { metrics, .. } => metrics.test,
            Provenance::Imported(record) => record.test,
        }
    }
}
