//! `export`: one snapshot of a run as safetensors or `.npz`, for PyTorch and NumPy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::cli::ExportArgs;
use crate::core::config::Activation;
use crate::core::metrics::Metrics;
use crate::interop::{ExportInfo, Format, encode};
use crate::store::{
    METRICS_FILE, RunDir, SAFETENSORS_FILE, WEIGHTS_FILE, snapshot_file, write_atomic,
};
use crate::train::saved::load_layers;

/// Where `weightscope export` writes by default: beside the run's own weights.
pub(crate) fn default_export_path(run: &Path, epoch: Option<usize>) -> PathBuf {
    match epoch {
        None => run.join(SAFETENSORS_FILE),
        Some(e) => run.join(format!("weights-epoch-{e:03}.safetensors")),
    }
}

/// Writes one snapshot of a run (default its trained weights) as safetensors or `.npz`, laid
/// out as PyTorch's `nn.Sequential`; returns the format and what the export describes.
pub(crate) fn export_run(
    run: &Path,
    epoch: Option<usize>,
    to: &Path,
) -> Result<(Format, ExportInfo)> {
    let format = Format::of(to)?;
    let dir = RunDir::open(run)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    let last = metrics.epochs.len();
    let (file, epoch) = match epoch {
        None => (WEIGHTS_FILE.to_string(), last),
        Some(e) if e <= last => (snapshot_file(e), e),
        Some(e) => bail!(
            "{} has snapshots for epochs 0 to {last}, not {e}: pass --epoch between 0 and {last}",
            run.display()
        ),
    };
    let layers = load_layers(&dir, &file, &metrics.layers, config.model.activation)?;
    let info = ExportInfo {
        activation: config.model.activation,
        epoch,
        seed: config.seed,
    };
    let bytes = encode(&layers, &info, format)?;
    write_atomic(to, &bytes)
        .with_context(|| format!("cannot export to {}: choose a writable --to", to.display()))?;
    Ok((format, info))
}

/// `export RUN [--epoch N] [--to FILE]`.
pub fn command(args: &ExportArgs) -> Result<()> {
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| default_export_path(&args.run, args.epoch));
    let (format, info) = export_run(&args.run, args.epoch, &to)?;
    println!("wrote {}", to.display());
    // .npz has no place for metadata; safetensors exports carry the activation.
    if format == Format::Npz && info.activation != Activation::Relu {
        println!(
            "note: .npz records no activation; analyse it with --activation {}",
            info.activation
        );
    }
    Ok(())
}
