//! `export`: one snapshot of a run as safetensors or `.npz`.

use anyhow::Result;

use super::cli::ExportArgs;
use crate::app::export::{default_export_path, export_run};
use crate::core::config::Activation;
use crate::interop::Format;

/// `export RUN [--epoch N] [--to FILE]`.
pub fn command(args: &ExportArgs) -> Result<()> {
    let to = args
        .to
        .clone()
        .unwrap_or_else(|| default_export_path(&args.run, args.epoch));
    let exported = export_run(&args.run, args.epoch, &to)?;
    println!("wrote {}", to.display());
    // .npz has no place for metadata; safetensors exports carry the activation.
    let activation = exported.info.activation;
    if exported.format == Format::Npz && activation != Activation::Relu {
        println!("note: .npz records no activation; analyse it with --activation {activation}");
    }
    let scaling = &exported.info.input_scaling;
    if exported.format == Format::Npz && !scaling.is_identity() {
        let [(_, mean), (_, std)] = scaling.metadata();
        println!(
            "note: .npz records no input scaling; analyse it with --input-mean {mean} --input-std {std}"
        );
    }
    Ok(())
}
