//! Weights trained by TensorFlow/Keras, read from the reference script's `.npy` files
//! (`slp_w.npy slp_b.npy mlp_w0.npy mlp_b0.npy mlp_w1.npy mlp_b1.npy`, and the same with an
//! `init_` prefix; kernels in Keras's `[in, out]` layout).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::core::model_kind::ModelKind;
use crate::core::weights::LayerWeights;

/// The prefix of the reference script's initial weights' files, `init_mlp_w0.npy`.
pub const INITIAL_PREFIX: &str = "init_";

/// The reference script's files of each layer: `slp_w.npy`, or `mlp_w0.npy` and `mlp_w1.npy`.
fn layer_suffixes(model: ModelKind) -> &'static [&'static str] {
    match model {
        ModelKind::Slp => &[""],
        ModelKind::Mlp => &["0", "1"],
    }
}

/// The reference script's model for a network with this many hidden layers.
pub(crate) fn model_for_hidden_layers(hidden: usize) -> Result<ModelKind> {
    match hidden {
        0 | 1 => Ok(ModelKind::of_hidden_layers(hidden)),
        n => bail!(
            "Keras weights exist for the SLP and the one-hidden-layer MLP, not for {n} hidden \
             layers: remove init.keras_weights or use model.hidden with at most one width"
        ),
    }
}

/// Whether `dir` holds the reference script's weights of `model`.
pub(crate) fn has_weights_of(dir: &Path, model: ModelKind) -> bool {
    let first = layer_suffixes(model)[0];
    dir.join(format!("{}_w{first}.npy", model.name())).is_file()
}

/// Reads one of the reference script's `.npy` files.
fn read_npy(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}: run reference/tensorflow/reference.py to create it",
            path.display()
        )
    })?;
    let name = path.display().to_string();
    let (shape, values) = super::npy::decode(&name, &bytes)?;
    super::finite::check(&name, &values)?;
    Ok((shape, values))
}

/// One model's weights, `prefix` being `""` (trained) or `"init_"`.
pub fn load(dir: &Path, model: ModelKind, prefix: &str) -> Result<Vec<LayerWeights>> {
    let mut layers = Vec::new();
    for suffix in layer_suffixes(model) {
        let w_path = dir.join(format!("{prefix}{}_w{suffix}.npy", model.name()));
        let b_path = dir.join(format!("{prefix}{}_b{suffix}.npy", model.name()));
        let (w_shape, weight) = read_npy(&w_path)?;
        let (b_shape, bias) = read_npy(&b_path)?;
        let [d_in, d_out] = w_shape[..] else {
            bail!(
                "{} has shape {w_shape:?}, expected [in, out]",
                w_path.display()
            );
        };
        if b_shape != [d_out] {
            bail!(
                "{} has shape {b_shape:?}, expected [{d_out}] to match {}",
                b_path.display(),
                w_path.display()
            );
        }
        if let Some(prev) = layers.last().map(|l: &LayerWeights| l.d_out)
            && prev != d_in
        {
            bail!(
                "{} takes {d_in} inputs but the previous layer has {prev} outputs",
                w_path.display()
            );
        }
        layers.push(LayerWeights {
            d_in,
            d_out,
            weight,
            bias,
        });
    }
    Ok(layers)
}
