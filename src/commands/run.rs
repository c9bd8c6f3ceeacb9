//! The main command: train (or resume) a run, then analyse it.

use anyhow::{Result, bail};

use super::cli::TrainArgs;
use super::progress::Progress;
use crate::app::train::{Outputs, resume_training, run_training};
use crate::core::stop::StopToken;

/// `weightscope --config FILE` or `--resume DIR`.
pub fn command(args: &TrainArgs, stop: &StopToken) -> Result<()> {
    let outputs = if args.no_analysis {
        Outputs::Results
    } else {
        Outputs::Explorer
    };
    if let Some(dir) = &args.resume {
        if args.backend.is_some()
            || args.epochs.is_some()
            || args.seed.is_some()
            || args.out.is_some()
        {
            bail!(
                "--resume continues a run exactly as it was configured: drop --backend, --epochs, \
                 --seed and --out"
            );
        }
        resume_training(dir, outputs, &mut Progress::new(), stop)?;
        return Ok(());
    }
    let config = args.resolve()?;
    run_training(
        &config,
        args.out.clone(),
        outputs,
        &mut Progress::new(),
        stop,
    )?;
    Ok(())
}
