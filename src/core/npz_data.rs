//! Image data sets as NumPy `.npz` files in the layout of Keras's `load_data`: `x_train`,
//! `y_train`, `x_test`, `y_test`, images as uint8 `[n, H, W]`, `[n, H, W, 1]` or `[n, H, W, 3]`
//! (RGB), labels as integers `[n]`; optionally `class_names`, one string per class.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

use anyhow::{Context, Result, bail};

use super::classes::{Label, MAX_CLASSES};

/// Whether `path` names a `.npz` data set rather than a folder of IDX files.
pub fn is_npz(path: &Path) -> bool {
    path.extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("npz"))
}

/// One set's images (pixel bytes, row-major `[len, rows * cols * channels]`) and labels.
pub(crate) struct NpzSet {
    pub images: Vec<u8>,
    pub labels: Vec<Label>,
    pub rows: usize,
    pub cols: usize,
    pub channels: usize,
}

/// The training and test sets of a `.npz` data set, and its class names where it has them.
pub(crate) struct NpzData {
    pub train: NpzSet,
    pub test: NpzSet,
    pub class_names: Option<Vec<String>>,
}

pub(crate) fn load(path: &Path) -> Result<NpzData> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    parse(&bytes).with_context(|| {
        format!(
            "{} is not a data set weightscope can read (an .npz with x_train, y_train, x_test, \
             y_test as Keras's load_data returns them)",
            path.display()
        )
    })
}

fn parse(bytes: &[u8]) -> Result<NpzData> {
    let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).context("not a zip archive")?;
    let mut arrays = HashMap::new();
    for i in 0..zip.len() {
        let mut entry = zip.by_index(i).context("a damaged archive entry")?;
        let Some(name) = entry.name().strip_suffix(".npy").map(String::from) else {
            continue;
        };
        let mut data = Vec::new();
        entry
            .read_to_end(&mut data)
            .with_context(|| format!("{name} cannot be read"))?;
        arrays.insert(name, data);
    }
    let array = |name: &str| {
        arrays
            .get(name)
            .map(Vec::as_slice)
            .with_context(|| format!("it has no {name}"))
    };
    let set = |x: &str, y: &str| -> Result<NpzSet> {
        let (shape, images) = images(x, array(x)?)?;
        let labels = labels(y, array(y)?)?;
        if labels.len() != shape[0] {
            bail!(
                "{x} holds {} images but {y} {} labels",
                shape[0],
                labels.len()
            );
        }
        Ok(NpzSet {
            images,
            labels,
            rows: shape[1],
            cols: shape[2],
            channels: shape.get(3).copied().unwrap_or(1),
        })
    };
    let train = set("x_train", "y_train")?;
    let test = set("x_test", "y_test")?;
    if (train.rows, train.cols, train.channels) != (test.rows, test.cols, test.channels) {
        bail!(
            "x_train's images are {}x{}x{} but x_test's {}x{}x{}",
            train.rows,
            train.cols,
            train.channels,
            test.rows,
            test.cols,
            test.channels
        );
    }
    let class_names = arrays.get("class_names").map(|b| names(b)).transpose()?;
    Ok(NpzData {
        train,
        test,
        class_names,
    })
}

/// uint8 images `[n, H, W]`, `[n, H, W, 1]` or `[n, H, W, 3]`, and their shape.
fn images(name: &str, bytes: &[u8]) -> Result<(Vec<usize>, Vec<u8>)> {
    let npy = npyz::NpyFile::new(bytes).with_context(|| format!("{name} is not an .npy array"))?;
    let shape: Vec<usize> = npy.shape().iter().map(|&d| d as usize).collect();
    if !matches!(shape.as_slice(), [_, _, _] | [_, _, _, 1 | 3]) {
        bail!(
            "{name} has shape {shape:?}; images must be [n, H, W], [n, H, W, 1] or [n, H, W, 3] \
             (RGB)"
        );
    }
    if shape[1] == 0 || shape[2] == 0 {
        bail!("{name} holds empty images ({shape:?})");
    }
    let is_u8 = matches!(npy.dtype(), npyz::DType::Plain(t)
        if t.type_char() == npyz::TypeChar::Uint && t.size_field() == 1);
    if !is_u8 || npy.order() != npyz::Order::C {
        bail!(
            "{name} holds {} values in {:?} order; images must be uint8 (0-255) in C order",
            npy.dtype().descr(),
            npy.order()
        );
    }
    let pixels: Vec<u8> = npy
        .into_vec()
        .with_context(|| format!("{name} cannot be read"))?;
    Ok((shape, pixels))
}

/// Integer labels `[n]` (or `[n, 1]`), each below [`MAX_CLASSES`].
fn labels(name: &str, bytes: &[u8]) -> Result<Vec<Label>> {
    let npy = npyz::NpyFile::new(bytes).with_context(|| format!("{name} is not an .npy array"))?;
    let shape: Vec<u64> = npy.shape().to_vec();
    if !matches!(shape.as_slice(), [_] | [_, 1]) {
        bail!("{name} has shape {shape:?}; labels must be [n]");
    }
    let npyz::DType::Plain(t) = npy.dtype() else {
        bail!(
            "{name} holds {}; labels must be integers",
            npy.dtype().descr()
        );
    };
    let wide: Vec<i64> = match (t.type_char(), t.size_field()) {
        (npyz::TypeChar::Uint, 1) => npy.into_vec::<u8>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Uint, 2) => npy.into_vec::<u16>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Uint, 4) => npy.into_vec::<u32>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Int, 1) => npy.into_vec::<i8>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Int, 2) => npy.into_vec::<i16>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Int, 4) => npy.into_vec::<i32>()?.into_iter().map(i64::from).collect(),
        (npyz::TypeChar::Int, 8) => npy.into_vec::<i64>()?,
        _ => bail!("{name} holds {t}; labels must be integers"),
    };
    wide.into_iter()
        .enumerate()
        .map(|(i, l)| {
            Label::try_from(l)
                .ok()
                .filter(|&l| usize::from(l) < MAX_CLASSES)
                .ok_or_else(|| {
                    anyhow::anyhow!(
                        "{name}[{i}] is {l}; labels must be 0 to {} (weightscope analyses up to \
                         {MAX_CLASSES} classes)",
                        MAX_CLASSES - 1
                    )
                })
        })
        .collect()
}

/// A string array `[k]`, NumPy's `<U` type.
fn names(bytes: &[u8]) -> Result<Vec<String>> {
    let npy = npyz::NpyFile::new(bytes).context("class_names is not an .npy array")?;
    let strings: Vec<Vec<char>> = npy
        .into_vec()
        .context("class_names must be strings (numpy.array([...], dtype=str))")?;
    Ok(strings
        .into_iter()
        .map(|s| s.into_iter().collect::<String>().trim().to_string())
        .collect())
}
