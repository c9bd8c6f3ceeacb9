//! The run configuration: a TOML file, validated before anything is trained or written.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::{Deserialize, Serialize};

use crate::core::model_kind::ModelKind;
use crate::core::scaling::{InputScaling, PerChannel};

/// The MNIST folder that ships with the project, relative to its root.
pub const DEFAULT_DATA_DIR: &str = "data/mnist";

/// The data folder `dir` names: itself, except that the default, where the working directory
/// has no `data/mnist`, is the copy in the project this binary was built from. So the main job
/// and `analyze` find MNIST from any folder.
pub fn data_folder(dir: &Path) -> PathBuf {
    if dir == Path::new(DEFAULT_DATA_DIR) && !dir.is_dir() {
        let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_DATA_DIR);
        if shipped.is_dir() {
            return shipped;
        }
    }
    dir.to_path_buf()
}

/// Everything a run needs. Unknown keys are rejected at every level so a typo never silently
/// falls back to a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Name of the run; defaults to the config file's stem. Used for the default output folder.
    #[serde(default)]
    pub name: String,
    pub seed: u64,
    pub backend: BackendName,
    pub data: DataConfig,
    pub model: ModelConfig,
    pub training: TrainingConfig,
    pub analysis: AnalysisConfig,
    pub init: InitConfig,
}

/// Where the initial weights come from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct InitConfig {
    /// A folder of the TensorFlow reference script's `init_*.npy` weights; training then starts
    /// from TensorFlow's initial weights instead of drawing them from the seed (lockstep mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keras_weights: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Folder holding the four MNIST-format IDX files (raw or gzipped).
    pub dir: PathBuf,
    /// Fraction of the training file, taken from its end before shuffling, held out for
    /// validation (Keras `validation_split`).
    pub validation_split: f64,
    /// Use only the first N training images (before the split); 0 means all of them.
    pub train_limit: usize,
    /// The inputs are pixels / 255, then `(x − input_mean) / input_std` where these are given
    /// (a number, or one per channel), as PyTorch's `transforms.Normalize` does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_mean: Option<PerChannel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_std: Option<PerChannel>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum BackendName {
    /// Burn's pure-Rust CPU backend.
    #[default]
    Flex,
    /// The ndarray CPU backend (deprecated in Burn 0.22, kept for comparison).
    Ndarray,
    /// A GPU, or a CPU Vulkan driver, through wgpu.
    Wgpu,
}

impl std::fmt::Display for BackendName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            BackendName::Flex => "flex",
            BackendName::Ndarray => "ndarray",
            BackendName::Wgpu => "wgpu",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    #[default]
    Relu,
    Sigmoid,
    Tanh,
    /// The identity, Keras's `linear`: a stack of linear maps, whose pixel templates are the
    /// product of its weights.
    Linear,
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Linear => "linear",
        })
    }
}

impl Activation {
    /// The activation of one pre-activation value, as the host computes it (the Burn module
    /// applies the same function to tensors).
    pub fn apply(self, z: f32) -> f32 {
        match self {
            Activation::Relu => z.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-z).exp()),
            Activation::Tanh => z.tanh(),
            Activation::Linear => z,
        }
    }

    /// Derivative at pre-activation `z`; ReLU's is taken as 0 at 0, as TensorFlow does.
    pub(crate) fn derivative(self, z: f32) -> f32 {
        match self {
            Activation::Relu => f32::from(u8::from(z > 0.0)),
            Activation::Sigmoid => {
                let s = Activation::Sigmoid.apply(z);
                s * (1.0 - s)
            }
            Activation::Tanh => 1.0 - z.tanh().powi(2),
            Activation::Linear => 1.0,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "linear" => Ok(Activation::Linear),
            other => Err(format!(
                "unknown activation {other:?}: use relu, sigmoid, tanh or linear"
            )),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Widths of the hidden dense layers; empty for a single-layer perceptron.
    pub hidden: Vec<usize>,
    pub activation: Activation,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OptimizerKind {
    /// Burn's Adam (PyTorch's form of the update).
    #[default]
    Adam,
    /// Adam in Keras's form, for lockstep comparisons with TensorFlow.
    #[serde(rename = "keras-adam")]
    KerasAdam,
    Sgd,
}

impl OptimizerKind {
    /// The name a config file uses for it.
    pub fn name(self) -> &'static str {
        match self {
            OptimizerKind::Adam => "adam",
            OptimizerKind::KerasAdam => "keras-adam",
            OptimizerKind::Sgd => "sgd",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Reshuffle the training set every epoch (Keras `shuffle=True`).
    pub shuffle: bool,
    pub optimizer: OptimizerKind,
    pub learning_rate: f64,
    /// Adam's beta1, beta2 and epsilon; ignored by SGD. Defaults are Keras's.
    pub beta1: f64,
    pub beta2: f64,
    pub epsilon: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Index into the training file of the image whose winner neurons are shown.
    pub probe_index: usize,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            dir: PathBuf::from(DEFAULT_DATA_DIR),
            validation_split: 0.02,
            train_limit: 0,
            input_mean: None,
            input_std: None,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 20,
            batch_size: 500,
            shuffle: true,
            optimizer: OptimizerKind::Adam,
            learning_rate: 0.001,
            beta1: 0.9,
            beta2: 0.999,
            epsilon: 1e-7,
        }
    }
}

impl Default for AnalysisConfig {
    fn default() -> Self {
        Self { probe_index: 1 }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            name: "run".into(),
            seed: 12345,
            backend: BackendName::default(),
            data: DataConfig::default(),
            model: ModelConfig::default(),
            training: TrainingConfig::default(),
            analysis: AnalysisConfig::default(),
            init: InitConfig::default(),
        }
    }
}

impl Config {
    /// Which of the article's models this config trains, where it is the article's setup:
    /// MNIST, 784-10 or 784-128-10, Adam, batch 500, 20 epochs on the whole training file.
    /// Only such runs are compared with TensorFlow's.
    pub(crate) fn article_model(&self) -> Option<ModelKind> {
        let t = &self.training;
        let on_mnist = self.data.dir.file_name().is_some_and(|n| n == "mnist");
        let adam = matches!(t.optimizer, OptimizerKind::Adam | OptimizerKind::KerasAdam);
        let article_training = self.data.train_limit == 0 && t.epochs == 20 && t.batch_size == 500;
        // The reference MLP is ReLU's; an SLP has no hidden activation to differ. Both train on
        // pixels / 255.
        let article_activation =
            self.model.hidden.is_empty() || self.model.activation == Activation::Relu;
        let article_inputs = self.input_scaling().is_identity();
        if !(on_mnist && adam && article_training && article_activation && article_inputs) {
            return None;
        }
        // MNIST's 28 x 28 pixels in, its 10 classes out.
        let widths: Vec<usize> = std::iter::once(28 * 28)
            .chain(self.model.hidden.iter().copied())
            .chain(std::iter::once(10))
            .collect();
        ModelKind::article(&widths)
    }

    /// A lockstep run: TensorFlow's initial weights and no shuffling, so that it can be
    /// compared step by step with the reference script's lockstep results.
    pub(crate) fn is_lockstep(&self) -> bool {
        self.init.keras_weights.is_some() && !self.training.shuffle
    }

    /// Reads and validates a config file. A relative `data.dir` stays relative to the working
    /// directory, as the README's commands are run from the project root.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).with_context(|| {
            format!(
                "cannot read config file {}: check the path given to --config",
                path.display()
            )
        })?;
        let mut config = Self::parse(&text)
            .with_context(|| format!("config file {} is invalid", path.display()))?;
        if config.name.is_empty() {
            config.name = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "run".into());
        }
        Ok(config)
    }

    /// Parses and validates TOML text.
    pub fn parse(text: &str) -> Result<Self> {
        let config: Config =
            toml::from_str(text).map_err(|e| anyhow::anyhow!(one_line(&e, text)))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks value ranges that the types cannot express.
    pub(crate) fn validate(&self) -> Result<()> {
        let t = &self.training;
        if t.epochs == 0 {
            bail!("training.epochs must be at least 1 (got 0)");
        }
        if t.batch_size == 0 {
            bail!("training.batch_size must be at least 1 (got 0)");
        }
        if !(t.learning_rate.is_finite() && t.learning_rate > 0.0) {
            bail!(
                "training.learning_rate must be a positive number (got {})",
                t.learning_rate
            );
        }
        for (key, value) in [("beta1", t.beta1), ("beta2", t.beta2)] {
            if !(0.0..1.0).contains(&value) {
                bail!("training.{key} must be in [0, 1) (got {value})");
            }
        }
        if !(t.epsilon.is_finite() && t.epsilon > 0.0) {
            bail!(
                "training.epsilon must be a positive number (got {})",
                t.epsilon
            );
        }
        self.checked_input_scaling()?;
        let split = self.data.validation_split;
        if !(0.0..1.0).contains(&split) {
            bail!("data.validation_split must be in [0, 1) (got {split})");
        }
        if let Some(pos) = self.model.hidden.iter().position(|&w| w == 0) {
            bail!("model.hidden[{pos}] must be at least 1 (a layer needs neurons)");
        }
        if self.name.contains(['/', '\\']) {
            bail!(
                "name must not contain a path separator (got {:?})",
                self.name
            );
        }
        Ok(())
    }

    fn checked_input_scaling(&self) -> Result<Option<InputScaling>> {
        InputScaling::of(
            self.data.input_mean.as_ref(),
            self.data.input_std.as_ref(),
            ["data.input_mean", "data.input_std"],
        )
    }

    /// How the pixels become the network's inputs: pixels / 255 unless `data.input_mean` and
    /// `data.input_std` say more.
    pub fn input_scaling(&self) -> InputScaling {
        self.checked_input_scaling()
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    /// The config as TOML, for the copy saved beside a run's results.
    pub fn to_toml(&self) -> String {
        toml::to_string_pretty(self).expect("a Config always serialises to TOML")
    }
}

/// toml's errors span several lines with a source excerpt; the CLI promises one line.
fn one_line(error: &toml::de::Error, text: &str) -> String {
    let message = error.message().trim().replace('\n', " ");
    match error.span() {
        Some(span) => {
            let line = text[..span.start.min(text.len())].matches('\n').count() + 1;
            format!("line {line}: {message}")
        }
        None => message,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_relu_mlp_is_the_articles() {
        let mlp = |activation: &str| {
            Config::parse(&format!(
                "[model]\nhidden = [128]\nactivation = '{activation}'"
            ))
            .unwrap()
            .article_model()
        };
        assert!(mlp("relu").is_some());
        for other in ["sigmoid", "tanh", "linear"] {
            assert_eq!(mlp(other), None, "{other}");
        }
        let slp = Config::parse("[model]\nactivation = 'tanh'").unwrap();
        assert!(
            slp.article_model().is_some(),
            "an SLP has no hidden activation"
        );
        let normalised = Config::parse("[data]\ninput_mean = 0.1307\ninput_std = 0.3081").unwrap();
        assert_eq!(
            normalised.article_model(),
            None,
            "the article trains on pixels / 255"
        );
    }
}
