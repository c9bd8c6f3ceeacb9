//! The one `.npy` reader: arrays in `.npz` archives and the TensorFlow reference script's
//! files alike.

use anyhow::{Context, Result, bail};

/// An array's shape and its values in C order, as `f32`; `name` names it in errors.
pub(crate) fn decode(name: &str, bytes: &[u8]) -> Result<(Vec<usize>, Vec<f32>)> {
    let npy = npyz::NpyFile::new(bytes).with_context(|| format!("{name} is not an .npy array"))?;
    if npy.order() != npyz::Order::C {
        bail!("{name} is in Fortran order; save it in C order (numpy.ascontiguousarray)");
    }
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    let values = match npy.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            npy.into_vec::<f32>()
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 8 => {
            npy.into_vec::<f64>()
                .map(|v| v.into_iter().map(|x| x as f32).collect())
        }
        other => bail!(
            "tensor {name} holds {} values; weights must be float32 or float64",
            other.descr()
        ),
    }
    .with_context(|| format!("{name} cannot be read"))?;
    Ok((shape, values))
}
