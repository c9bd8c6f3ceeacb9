//! One snapshot of a run as safetensors or `.npz`, for PyTorch and NumPy.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use super::finished::FinishedRun;
use crate::interop::{ExportInfo, Format, encode};
use crate::store::{SAFETENSORS_FILE, write_atomic};

/// Where `weightscope export` writes by default: beside the run's own weights.
pub fn default_export_path(run: &Path, epoch: Option<usize>) -> PathBuf {
    match epoch {
        None => run.join(SAFETENSORS_FILE),
        Some(e) => run.join(format!("weights-epoch-{e:03}.safetensors")),
    }
}

/// What an export wrote.
pub struct Exported {
    pub format: Format,
    pub info: ExportInfo,
}

/// Writes one snapshot of a run (default its trained weights) as safetensors or `.npz`, laid
/// out as PyTorch's `nn.Sequential`.
pub fn export_run(run: &Path, epoch: Option<usize>, to: &Path) -> Result<Exported> {
    let format = Format::of(to)?;
    let run = FinishedRun::open(run)?;
    let last = run.metrics.epochs.len();
    let (layers, epoch) = match epoch {
        None => (run.trained()?, last),
        Some(e) if e <= last => (run.snapshot(e)?, e),
        Some(e) => bail!(
            "{} has snapshots for epochs 0 to {last}, not {e}: pass --epoch between 0 and {last}",
            run.dir.path().display()
        ),
    };
    let info = ExportInfo {
        activation: run.config.model.activation,
        epoch,
        seed: run.config.seed,
        input_scaling: run.metrics.input_scaling.clone(),
    };
    let bytes = encode(&layers, &info, format)?;
    write_atomic(to, &bytes)
        .with_context(|| format!("cannot export to {}: choose a writable --to", to.display()))?;
    Ok(Exported { format, info })
}
