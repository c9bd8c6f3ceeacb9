//! Weights trained by TensorFlow/Keras, read from the reference script's `.npy` files
//! (`slp_w.npy slp_b.npy mlp_w0.npy mlp_b0.npy mlp_w1.npy mlp_b1.npy`, and the same with an
//! `init_` prefix; kernels in Keras's `[in, out]` layout).

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::core::weights::LayerWeights;

/// Which of the reference script's two models.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KerasModel {
    Slp,
    Mlp,
}

impl KerasModel {
    pub fn name(self) -> &'static str {
        match self {
            KerasModel::Slp => "slp",
            KerasModel::Mlp => "mlp",
        }
    }

    fn layer_suffixes(self) -> &'static [&'static str] {
        match self {
            KerasModel::Slp => &[""],
            KerasModel::Mlp => &["0", "1"],
        }
    }

    /// The model a network with this many hidden layers corresponds to.
    pub(crate) fn for_hidden_layers(hidden: usize) -> Result<Self> {
        match hidden {
            0 => Ok(KerasModel::Slp),
            1 => Ok(KerasModel::Mlp),
            n => bail!(
                "Keras weights exist for the SLP and the one-hidden-layer MLP, not for {n} hidden \
                 layers: remove init.keras_weights or use model.hidden with at most one width"
            ),
        }
    }
}

/// Reads an `.npy` file of little-endian `f32` in C order.
pub(crate) fn read_npy_f32(path: &Path) -> Result<(Vec<usize>, Vec<f32>)> {
    let bytes = std::fs::read(path).with_context(|| {
        format!(
            "cannot read {}: run reference/tensorflow/reference.py to create it",
            path.display()
        )
    })?;
    let npy = npyz::NpyFile::new(bytes.as_slice())
        .with_context(|| format!("{} is not a valid .npy file", path.display()))?;
    if npy.order() != npyz::Order::C {
        bail!("{} is in Fortran order; save it in C order", path.display());
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values = npy
        .into_vec::<f32>()
        .with_context(|| format!("{} does not hold float32 values", path.display()))?;
    Ok((shape, values))
}

/// One model's weights, `prefix` being `""` (trained) or `"init_"`.
pub fn load(dir: &Path, model: KerasModel, prefix: &str) -> Result<Vec<LayerWeights>> {
    let mut layers = Vec::new();
    for suffix in model.layer_suffixes() {
        let w_path = dir.join(format!("{prefix}{}_w{suffix}.npy", model.name()));
        let b_path = dir.join(format!("{prefix}{}_b{suffix}.npy", model.name()));
        let (w_shape, weight) = read_npy_f32(&w_path)?;
        let (b_shape, bias) = read_npy_f32(&b_path)?;
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
