//! Command-line interface: flags override the config file.

use std::path::PathBuf;

use anyhow::Result;
use clap::{Args, Parser, Subcommand};

use crate::backend::BackendName;
use crate::config::Config;
use crate::pipeline::{analyze_run, run_training};
use crate::progress::Progress;

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
}

#[derive(Debug, Args)]
pub struct AnalyzeArgs {
    /// The run folder a training run wrote (its --out).
    #[arg(long, value_name = "DIR")]
    pub run: PathBuf,
}

#[derive(Debug, Args, Default)]
pub struct TrainArgs {
    /// TOML file describing the run, e.g. configs/mlp.toml.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Compute backend; overrides `backend` in the config [default: flex].
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
        config.validate()?;
        Ok(config)
    }
}

pub fn run(cli: Cli) -> Result<()> {
    match cli.command {
        None => train_command(&cli.train),
        Some(Command::Train(args)) => train_command(&args),
        Some(Command::Analyze(args)) => {
            analyze_run(&args.run, &mut Progress::new())?;
            Ok(())
        }
    }
}

fn train_command(args: &TrainArgs) -> Result<()> {
    let config = args.resolve()?;
    run_training(&config, args.out.clone(), &mut Progress::new())?;
    Ok(())
}
