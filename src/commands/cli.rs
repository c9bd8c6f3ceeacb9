//! The command line: subcommands and their flags (flags override the config file).

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::app::sweep::shard::ShardArg;
use crate::core::config::{Activation, BackendName, Config, DEFAULT_DATA_DIR};
use crate::core::model_kind::ModelKind;
use crate::core::scaling::{InputScaling, PerChannel};
use crate::store::{RUNS_DIR, default_run_dir};
use crate::tensorflow::REFERENCE_DIR;

#[derive(Debug, Parser)]
#[command(
    name = "weightscope",
    version,
    about = "Train the article's SLP/MLP on MNIST with Burn and open up their weight matrices",
    args_conflicts_with_subcommands = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub train: TrainArgs,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model as a config file describes (the default when no subcommand is given).
    Train(TrainArgs),
    /// Re-analyse a finished run from its saved weights, without training.
    Analyze(AnalyzeArgs),
    /// Draw the article's six-panel figure from an SLP run and an MLP run.
    Article(ArticleArgs),
    /// Compare a run with the TensorFlow reference results, side by side.
    Compare(CompareArgs),
    /// Do two networks learn the same neurons? Match A's neurons with B's at every layer and
    /// epoch (weights, activations, CKA), against their initial weights.
    #[command(name = "match")]
    Match(MatchArgs),
    /// Run seeds x models x optimisers x data sets from a sweep file and summarise them.
    Sweep(SweepArgs),
    /// Write a run's weights for PyTorch (safetensors) or NumPy (.npz).
    Export(ExportArgs),
    /// Write a run's interactive page, explore.html: one self-contained file to open in a
    /// browser (pick or draw an input, scrub through the epochs, click any neuron).
    Explore(ExploreArgs),
}

#[derive(Debug, Args)]
pub struct ExploreArgs {
    /// The run folder (a training run's --out; `analyze --weights/--keras-weights` write the
    /// page of imported weights themselves).
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The file to write [default: RUN_DIR/explore.html].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// The run folder to export from.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The snapshot to export, 0 being the initial weights [default: the trained weights].
    #[arg(long, value_name = "N")]
    pub epoch: Option<usize>,
    /// The file to write, FILE.safetensors or FILE.npz [default: RUN_DIR/weights.safetensors,
    /// or RUN_DIR/weights-epoch-NNN.safetensors with --epoch].
    #[arg(long, value_name = "FILE")]
    pub to: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct SweepArgs {
    /// A run config with a [sweep] table, e.g. configs/sweep.toml.
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Folder for the runs and summary.md [default: runs/<sweep file name>]. Runs already
    /// finished there are reused, so an interrupted sweep continues where it stopped.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Run only shard I of N of the combinations (I from 1 to N), for a job array sharing one
    /// --out folder; `auto` reads SLURM_ARRAY_TASK_ID, `auto/N` Kubernetes'
    /// JOB_COMPLETION_INDEX. See docs/cluster.md.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<ShardArg>,
    /// Train nothing: summarise the runs already in --out and list what is missing or failed.
    #[arg(long, conflicts_with = "shard")]
    pub summarize: bool,
}

#[derive(Debug, Args)]
pub struct CompareArgs {
    /// The run folder to compare.
    #[arg(value_name = "RUN_DIR")]
    pub run: PathBuf,
    /// The TensorFlow reference folder (its results/ and lockstep/ hold seed-N.json files).
    #[arg(long, value_name = "DIR", default_value = REFERENCE_DIR)]
    pub reference: PathBuf,
}

#[derive(Debug, Args)]
pub struct MatchArgs {
    /// Network A: a run folder, a .safetensors or .npz weights file, or the TensorFlow
    /// reference weights folder (reference/tensorflow/weights).
    #[arg(value_name = "A")]
    pub a: PathBuf,
    /// Network B, of the same widths as A.
    #[arg(value_name = "B")]
    pub b: PathBuf,
    /// Folder for match.json, match.html and figures/ [default: runs/match-<A>-<B>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A's initial weights where A is a weights file, for the baseline.
    #[arg(long, value_name = "FILE")]
    pub init_a: Option<PathBuf>,
    /// B's initial weights where B is a weights file.
    #[arg(long, value_name = "FILE")]
    pub init_b: Option<PathBuf>,
    /// For weights files: the hidden layers' activation where the file does not name it.
    #[arg(long, value_enum)]
    pub activation: Option<Activation>,
    /// For weights files: the inputs were pixels / 255, then (x − MEAN) / STD.
    #[arg(
        long,
        value_name = "MEAN",
        requires = "input_std",
        allow_hyphen_values = true
    )]
    pub input_mean: Option<String>,
    /// See --input-mean.
    #[arg(long, value_name = "STD", requires = "input_mean")]
    pub input_std: Option<String>,
    /// For weights files and the TensorFlow folder: the data set (a run knows its own).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
}

#[derive(Debug, Args)]
pub struct ArticleArgs {
    /// Run folder of the single-layer perceptron (e.g. runs/slp).
    #[arg(long, value_name = "DIR", default_value_os_t = default_run_dir(ModelKind::Slp.name()))]
    pub slp: PathBuf,
    /// Run folder of the multi-layer perceptron (e.g. runs/mlp).
    #[arg(long, value_name = "DIR", default_value_os_t = default_run_dir(ModelKind::Mlp.name()))]
    pub mlp: PathBuf,
    /// Folder for article.png and article.svg.
    #[arg(long, value_name = "DIR", default_value = RUNS_DIR)]
    pub out: PathBuf,
}

#[derive(Debug, Args)]
#[command(group(clap::ArgGroup::new("source").required(true).args(["run", "keras_weights", "weights"])))]
pub struct AnalyzeArgs {
    /// The run folder a training run wrote (its --out).
    #[arg(long, value_name = "DIR")]
    pub run: Option<PathBuf>,
    /// Analyse TensorFlow-trained weights instead: a folder of the reference script's .npy files.
    #[arg(long, value_name = "DIR", requires = "out")]
    pub keras_weights: Option<PathBuf>,
    /// Analyse a dense stack trained elsewhere: a .safetensors or .npz file in PyTorch's
    /// layout (N.weight [out, in], N.bias) or Keras's (N.kernel [in, out], N.bias).
    #[arg(long, value_name = "FILE", requires = "out")]
    pub weights: Option<PathBuf>,
    /// With --weights: the same network's initial weights, for every "against initial"
    /// baseline; without it those baselines are left out.
    #[arg(long, value_name = "FILE", requires = "weights")]
    pub init: Option<PathBuf>,
    /// With --weights: the hidden layers' activation where the file does not name it.
    #[arg(long, value_enum, requires = "weights")]
    pub activation: Option<Activation>,
    /// With --weights: the inputs were pixels / 255, then (x − MEAN) / STD, e.g. PyTorch's
    /// MNIST Normalize: --input-mean 0.1307 --input-std 0.3081 (comma-separated per channel).
    #[arg(long, value_name = "MEAN", requires_all = ["weights", "input_std"], allow_hyphen_values = true)]
    pub input_mean: Option<String>,
    /// With --weights: see --input-mean.
    #[arg(long, value_name = "STD", requires_all = ["weights", "input_mean"])]
    pub input_std: Option<String>,
    /// With --keras-weights or --weights: where to write analysis.json, figures and report.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// With --keras-weights or --weights: the data set, a folder of MNIST-format IDX files or
    /// an .npz file (x_train, y_train, x_test, y_test).
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DATA_DIR)]
    pub data: PathBuf,
    /// With --weights: use only the first N training images, as a run with
    /// data.train_limit = N did (0 = all).
    #[arg(long, value_name = "N", default_value_t = 0, requires = "weights")]
    pub train_limit: usize,
    /// With --keras-weights or --weights: the probe image's index in the training file.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub probe_index: usize,
    /// With --keras-weights: the epoch the trained weights come from (labels the dynamics).
    #[arg(long, value_name = "N", default_value_t = 20)]
    pub epochs: usize,
}

#[derive(Debug, Args, Default)]
pub struct TrainArgs {
    /// TOML file describing the run, e.g. configs/mlp.toml.
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub config: Option<PathBuf>,
    /// Continue a run that was interrupted with Ctrl-C, from the checkpoint in its folder.
    #[arg(long, value_name = "DIR")]
    pub resume: Option<PathBuf>,
    /// Compute backend; overrides `backend` in the config (which defaults to flex).
    #[arg(long, value_enum)]
    pub backend: Option<BackendName>,
    /// Folder for the run's results [default: runs/<config name>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Number of epochs; overrides `training.epochs`.
    #[arg(long, value_name = "N")]
    pub epochs: Option<usize>,
    /// Seed for the initial weights and the shuffling; overrides `seed`.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// The data set, a folder of MNIST-format IDX files or an .npz file; overrides `data.dir`.
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// Train and save only; run `weightscope analyze --run DIR` later for the analysis.
    #[arg(long)]
    pub no_analysis: bool,
    /// Normalise the inputs: pixels / 255, then (x − MEAN) / STD (comma-separated per
    /// channel); overrides `data.input_mean`.
    #[arg(
        long,
        value_name = "MEAN",
        requires = "input_std",
        allow_hyphen_values = true
    )]
    pub input_mean: Option<String>,
    /// See --input-mean; overrides `data.input_std`.
    #[arg(long, value_name = "STD", requires = "input_mean")]
    pub input_std: Option<String>,
}

/// The numbers `--input-mean` and `--input-std` give, where given.
fn flag_values(
    mean: Option<&str>,
    std: Option<&str>,
) -> Result<(Option<PerChannel>, Option<PerChannel>)> {
    let parse = |text: Option<&str>, flag: &str| {
        text.map(|t| InputScaling::parse_list(t, flag)).transpose()
    };
    Ok((parse(mean, "--input-mean")?, parse(std, "--input-std")?))
}

/// `--input-mean` and `--input-std` as a scaling, where given.
pub fn flag_scaling(mean: Option<&str>, std: Option<&str>) -> Result<Option<InputScaling>> {
    let (mean, std) = flag_values(mean, std)?;
    InputScaling::of(mean.as_ref(), std.as_ref(), ["--input-mean", "--input-std"])
}

impl TrainArgs {
    /// The config file with the flags applied on top, validated.
    pub fn resolve(&self) -> Result<Config> {
        let Some(path) = &self.config else {
            anyhow::bail!(
                "no config given: pass --config FILE, e.g. --config configs/mlp.toml (see --help)"
            );
        };
        let mut config = Config::load(path)?;
        if let Some(backend) = self.backend {
            config.backend = backend;
        }
        if let Some(epochs) = self.epochs {
            config.training.epochs = epochs;
        }
        if let Some(seed) = self.seed {
            config.seed = seed;
        }
        if let Some(data) = &self.data {
            config.data.dir = data.clone();
        }
        let (mean, std) = flag_values(self.input_mean.as_deref(), self.input_std.as_deref())?;
        if mean.is_some() || std.is_some() {
            (config.data.input_mean, config.data.input_std) = (mean, std);
        }
        config.validate()?;
        Ok(config)
    }
}
