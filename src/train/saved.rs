//! A network's weights in a run folder: Burn's own format (burnpack), one file per snapshot.

use anyhow::{Result, anyhow};
use burn::tensor::Device;

use crate::core::config::Activation;
use crate::core::weights::LayerWeights;
use crate::nn::model::DenseNet;
use crate::store::RunDir;

pub(crate) fn save_model(dir: &RunDir, name: &str, model: &DenseNet) -> Result<()> {
    dir.write(name, &model.to_bytes()?)
}

/// Loads weights saved by [`save_model`] into a network of the given widths.
pub fn load_model(
    dir: &RunDir,
    name: &str,
    widths: &[usize],
    activation: Activation,
    device: &Device,
) -> Result<DenseNet> {
    let bytes = dir.read(name)?;
    // The fix goes last on the line, after the cause.
    DenseNet::from_bytes(&bytes, widths, activation, device).map_err(|e| {
        anyhow!(
            "{} does not hold this run's weights ({e:#}): train again",
            dir.file(name).display()
        )
    })
}

/// The weights of a saved network, copied to the host for the analysis and the exports.
pub fn load_layers(
    dir: &RunDir,
    name: &str,
    widths: &[usize],
    activation: Activation,
) -> Result<Vec<LayerWeights>> {
    Ok(load_model(dir, name, widths, activation, &Device::flex())?.weights())
}
