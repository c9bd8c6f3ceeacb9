//! `analyze`: a finished run again, or weights trained elsewhere.

use anyhow::Result;

use super::cli::{AnalyzeArgs, flag_scaling};
use super::progress::Progress;
use crate::app::analyze::analyze_run;
use crate::app::import::{DataChoice, KerasImport, WeightsImport, analyze_keras, analyze_weights};

/// `analyze --run`, `--weights` or `--keras-weights`.
pub fn command(args: &AnalyzeArgs) -> Result<()> {
    let mut progress = Progress::new();
    let data = || DataChoice {
        dir: args.data.clone(),
        train_limit: args.train_limit,
        probe_index: args.probe_index,
    };
    match (&args.run, &args.weights, &args.keras_weights, &args.out) {
        (Some(run), ..) => analyze_run(run, &mut progress).map(drop),
        (None, Some(weights), _, Some(out)) => analyze_weights(
            &WeightsImport {
                weights,
                init: args.init.as_deref(),
                activation: args.activation,
                input_scaling: flag_scaling(args.input_mean.as_deref(), args.input_std.as_deref())?,
                out,
                data: data(),
            },
            &mut progress,
        )
        .map(drop),
        (None, None, Some(weights), Some(out)) => analyze_keras(
            &KerasImport {
                weights,
                out,
                data: data(),
                epochs: args.epochs,
            },
            &mut progress,
        )
        .map(drop),
        _ => unreachable!("clap requires --run, or --weights or --keras-weights with --out"),
    }
}
