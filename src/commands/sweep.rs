//! `sweep`: this worker's shard of a sweep, then the summary once every run is done.

use anyhow::{Result, bail};

use super::cli::SweepArgs;
use super::progress::Progress;
use crate::app::sweep::shard::Shard;
use crate::app::sweep::{SweepRequest, run_sweep};
use crate::core::stop::StopToken;
use crate::store::{REPORT_FILE, SUMMARY_MD};

/// `sweep`: this worker's shard of a sweep, then the summary once every run is done.
pub fn command(args: &SweepArgs, stop: &StopToken) -> Result<()> {
    let shard = match args.shard {
        Some(arg) => arg.resolve(|name| std::env::var(name).ok())?,
        None => Shard::WHOLE,
    };
    let outcome = run_sweep(
        &SweepRequest {
            path: &args.config,
            out: args.out.clone(),
            shard,
            summarize_only: args.summarize,
        },
        &mut Progress::new(),
        stop,
    )?;
    let report = &outcome.report;
    if let Some((dir, error)) = report.failed.first() {
        bail!(
            "{} of the runs of {} failed, the first in {}: {error}",
            report.failed.len(),
            outcome.shard,
            dir.display()
        );
    }
    if outcome.complete() || args.summarize {
        println!("{}", outcome.summary.markdown());
        println!(
            "summary in {} and {}",
            outcome.out.join(SUMMARY_MD).display(),
            outcome.out.join(REPORT_FILE).display()
        );
    }
    let again = format!(
        "weightscope sweep --config {} --out {} --summarize",
        args.config.display(),
        outcome.out.display()
    );
    if args.summarize && !outcome.complete() {
        bail!(
            "the sweep is incomplete: {} of {} combinations have no result and {} failed \
             (listed above and in summary.md); run their shards again, then `{again}`",
            outcome.missing.len(),
            outcome.summary.cells.len(),
            outcome.summary.failed.len()
        );
    }
    if !outcome.complete() {
        println!(
            "{} finished: {} trained, {} already done, {} being trained by other workers; the \
             sweep still lacks {} of {} combinations. When every shard has finished: {again}",
            outcome.shard,
            report.trained.len(),
            report.already_done.len(),
            report.held_by_others.len(),
            outcome.missing.len() + outcome.summary.failed.len(),
            outcome.summary.cells.len(),
        );
    }
    Ok(())
}
