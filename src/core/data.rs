//! MNIST-format IDX files: reading, validating and splitting them the way Keras does.

use std::borrow::Cow;
use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};

use crate::core::classes::ClassNames;
use crate::core::config::{Config, data_folder};
use crate::core::npz_data;
use crate::core::pixels::{Pixels, PixelsRef};
use crate::core::scaling::InputScaling;
use flate2::read::GzDecoder;

pub use crate::core::classes::{Label, MAX_CLASSES};

/// A classifier needs two classes at least.
const MIN_CLASSES: usize = 2;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;
/// Bytes before an IDX3 image file's pixels: magic, count, rows, columns.
const IMAGES_HEADER: usize = 16;

/// Images, row-major `[len, pixels]`, as the network reads them (pixels / 255, then the input
/// scaling), with their labels.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageSet {
    pub images: Pixels,
    pub labels: Vec<Label>,
    pub rows: usize,
    pub cols: usize,
    /// Values per pixel: 1 (grayscale) or 3 (RGB), interleaved (`H x W x C`, as NumPy lays out
    /// Keras's images).
    pub channels: usize,
}

/// Consecutive images of a set, borrowed: a training split without a copy of its pixels.
#[derive(Debug, Clone, Copy)]
pub struct ImageSlice<'a> {
    /// Row-major `[len, pixels]`.
    pub images: PixelsRef<'a>,
    pub labels: &'a [Label],
    /// Values per image.
    pub pixels: usize,
}

impl<'a> ImageSlice<'a> {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Images `start..end`, still borrowed.
    pub fn slice(&self, start: usize, end: usize) -> ImageSlice<'a> {
        ImageSlice {
            images: self.images.slice(start * self.pixels..end * self.pixels),
            labels: &self.labels[start..end],
            pixels: self.pixels,
        }
    }
}

impl<'a> From<&'a ImageSet> for ImageSlice<'a> {
    fn from(set: &'a ImageSet) -> Self {
        ImageSlice {
            images: set.images.view(),
            labels: &set.labels,
            pixels: set.pixels(),
        }
    }
}

impl ImageSet {
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Values per image: rows × columns × channels, the network's input width.
    pub fn pixels(&self) -> usize {
        self.rows * self.cols * self.channels
    }

    /// Image `index`'s values.
    pub fn image(&self, index: usize) -> Cow<'_, [f32]> {
        let p = self.pixels();
        self.images
            .view()
            .slice(index * p..(index + 1) * p)
            .values()
    }

    /// The first `n` images.
    pub fn head(&self, n: usize) -> ImageSet {
        self.range(0, n.min(self.len()))
    }

    fn range(&self, start: usize, end: usize) -> ImageSet {
        let p = self.pixels();
        ImageSet {
            images: self.images.view().slice(start * p..end * p).to_pixels(),
            labels: self.labels[start..end].to_vec(),
            rows: self.rows,
            cols: self.cols,
            channels: self.channels,
        }
    }

    /// How many leading images stay for training under [`ImageSet::split_validation`].
    pub(crate) fn split_index(&self, fraction: f64) -> usize {
        (self.len() as f64 * (1.0 - fraction)) as usize
    }

    /// Keras `validation_split`: the last `fraction` of the samples, taken before any
    /// shuffling, become validation data. Keras computes the split index as
    /// `int(n * (1 - fraction))`.
    pub fn split_validation(&self, fraction: f64) -> (ImageSet, ImageSet) {
        let train_len = self.split_index(fraction);
        (self.range(0, train_len), self.range(train_len, self.len()))
    }

    /// [`ImageSet::split_validation`], borrowing the two parts rather than copying them.
    pub fn split_validation_slices(&self, fraction: f64) -> (ImageSlice<'_>, ImageSlice<'_>) {
        let (all, train_len) = (ImageSlice::from(self), self.split_index(fraction));
        (all.slice(0, train_len), all.slice(train_len, self.len()))
    }
}

/// The training and test files of an MNIST-format folder.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// Every class 0 to `classes - 1` has training images.
    pub classes: usize,
    /// The names the data set itself records (an `.npz`'s `class_names`).
    pub class_names: Option<Vec<String>>,
    pub train: ImageSet,
    pub test: ImageSet,
}

impl Mnist {
    /// Reads `train-*` and `t10k-*` images and labels from `dir`, raw or gzipped, or the
    /// `.npz` data set `dir` names.
    pub fn load(dir: &Path) -> Result<Self> {
        if npz_data::is_npz(dir) {
            return Self::load_npz(dir);
        }
        if !dir.is_dir() {
            bail!(
                "data folder {} does not exist: set data.dir in the config to a folder with the \
                 four MNIST IDX files",
                dir.display()
            );
        }
        let train = read_pair(dir, "train")?;
        let test = read_pair(dir, "t10k")?;
        if (train.rows, train.cols) != (test.rows, test.cols) {
            bail!(
                "images in {} are {}x{} in the training file but {}x{} in the test file: \
                 both must come from the same data set",
                dir.display(),
                train.rows,
                train.cols,
                test.rows,
                test.cols
            );
        }
        let classes = check_classes(dir, &train.labels, &test.labels)?;
        Ok(Self {
            train,
            test,
            classes,
            class_names: None,
        })
    }

    fn load_npz(path: &Path) -> Result<Self> {
        if !path.is_file() {
            bail!(
                "data set {} does not exist: point data.dir (or --data) at a folder of IDX files \
                 or an .npz file",
                path.display()
            );
        }
        let data = npz_data::load(path)?;
        let classes = check_classes(path, &data.train.labels, &data.test.labels)?;
        let set = |s: npz_data::NpzSet| ImageSet {
            images: Pixels::bytes(s.images, s.channels),
            labels: s.labels,
            rows: s.rows,
            cols: s.cols,
            channels: s.channels,
        };
        Ok(Self {
            train: set(data.train),
            test: set(data.test),
            classes,
            class_names: data.class_names,
        })
    }
}

/// The number of classes, 0 to the largest label, each of which must have training images: a
/// label beyond them is more likely a corrupt byte than a class nobody trained on.
fn check_classes(dir: &Path, train: &[Label], test: &[Label]) -> Result<usize> {
    let classes = train
        .iter()
        .chain(test)
        .max()
        .map_or(0, |&m| usize::from(m) + 1);
    let missing = missing_classes(train, classes);
    if !missing.is_empty() {
        bail!(
            "the labels in {} run from 0 to {} but the training file has no image of class {}: \
             labels must be 0 to k-1 with every class in the training file",
            dir.display(),
            classes - 1,
            missing.join(", ")
        );
    }
    if classes > MAX_CLASSES {
        bail!(
            "the labels in {} name {classes} classes: weightscope analyses {MAX_CLASSES} at most",
            dir.display()
        );
    }
    if classes < MIN_CLASSES {
        bail!(
            "the labels in {} name {classes} class: a classifier needs {MIN_CLASSES} at least",
            dir.display()
        );
    }
    Ok(classes)
}

/// The classes below `classes` that no label in `labels` names.
fn missing_classes(labels: &[Label], classes: usize) -> Vec<String> {
    let mut seen = vec![false; classes];
    for &l in labels {
        if let Some(s) = seen.get_mut(usize::from(l)) {
            *s = true;
        }
    }
    (0..classes)
        .filter(|&c| !seen[c])
        .map(|c| c.to_string())
        .collect()
}

fn read_pair(dir: &Path, prefix: &str) -> Result<ImageSet> {
    let images_path = find_file(dir, &format!("{prefix}-images-idx3-ubyte"))?;
    let labels_path = find_file(dir, &format!("{prefix}-labels-idx1-ubyte"))?;
    let mut bytes = read_maybe_gz(&images_path)?;
    let (rows, cols, pixels) = parse_images(&bytes)
        .with_context(|| format!("{} is not a valid IDX image file", images_path.display()))?;
    let pixel_count = pixels.len();
    let labels = parse_labels(&read_maybe_gz(&labels_path)?)
        .with_context(|| format!("{} is not a valid IDX label file", labels_path.display()))?;
    let count = pixel_count / (rows * cols).max(1);
    if count != labels.len() {
        bail!(
            "{} holds {count} images but {} holds {} labels: use files from the same set",
            images_path.display(),
            labels_path.display(),
            labels.len()
        );
    }
    // The pixels are all of the file's bytes after its header: kept where they were read.
    bytes.drain(..IMAGES_HEADER);
    Ok(ImageSet {
        images: Pixels::bytes(bytes, 1),
        labels: labels.into_iter().map(Label::from).collect(),
        rows,
        cols,
        channels: 1,
    })
}

/// Accepts `name` or `name.gz`.
fn find_file(dir: &Path, name: &str) -> Result<PathBuf> {
    let raw = dir.join(name);
    if raw.is_file() {
        return Ok(raw);
    }
    let gz = dir.join(format!("{name}.gz"));
    if gz.is_file() {
        return Ok(gz);
    }
    bail!(
        "{} is missing {name} (or {name}.gz): copy the four MNIST IDX files there or point \
         data.dir elsewhere",
        dir.display()
    )
}

fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    if path.extension().is_some_and(|e| e == "gz") {
        let mut out = Vec::with_capacity(inflated_size(&bytes));
        GzDecoder::new(bytes.as_slice())
            .read_to_end(&mut out)
            .map_err(|e| {
                anyhow::anyhow!(
                    "{} is not a valid gzip file ({e}): replace it with an intact copy",
                    path.display()
                )
            })?;
        Ok(out)
    } else {
        Ok(bytes)
    }
}

/// The size a gzip file says its contents have (its last four bytes, modulo 4 GiB), as a
/// capacity to inflate into at once; bounded by deflate's largest ratio, so that a corrupt
/// trailer cannot ask for more.
fn inflated_size(gz: &[u8]) -> usize {
    const MAX_RATIO: usize = 1032;
    let Some(&trailer) = gz.last_chunk::<4>() else {
        return 0;
    };
    (u32::from_le_bytes(trailer) as usize).min(gz.len() * MAX_RATIO)
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn check_magic(bytes: &[u8], expected: u32) -> Result<()> {
    let Some(magic) = read_u32(bytes, 0) else {
        bail!(
            "file is truncated: {} bytes, shorter than the 4-byte magic number",
            bytes.len()
        );
    };
    if magic != expected {
        bail!("wrong magic number 0x{magic:08x}, expected 0x{expected:08x}");
    }
    Ok(())
}

/// Parses an IDX3 unsigned-byte image file; returns rows, cols and the raw pixels.
pub fn parse_images(bytes: &[u8]) -> Result<(usize, usize, &[u8])> {
    check_magic(bytes, IMAGES_MAGIC)?;
    let header = IMAGES_HEADER;
    let (Some(count), Some(rows), Some(cols)) =
        (read_u32(bytes, 4), read_u32(bytes, 8), read_u32(bytes, 12))
    else {
        bail!(
            "file is truncated in its header: {} bytes, the header needs {header}",
            bytes.len()
        );
    };
    if rows == 0 || cols == 0 {
        bail!("image size {rows}x{cols} is empty");
    }
    let expected = (count as usize)
        .checked_mul(rows as usize)
        .and_then(|n| n.checked_mul(cols as usize))
        .context("image dimensions overflow")?;
    let body = &bytes[header..];
    if body.len() != expected {
        bail!(
            "header announces {count} images of {rows}x{cols} ({expected} bytes) but the body \
             has {} bytes: the file is {}",
            body.len(),
            if body.len() < expected {
                "truncated"
            } else {
                "longer than announced"
            }
        );
    }
    Ok((rows as usize, cols as usize, body))
}

/// Parses an IDX1 unsigned-byte label file.
pub fn parse_labels(bytes: &[u8]) -> Result<Vec<u8>> {
    check_magic(bytes, LABELS_MAGIC)?;
    let header = 8;
    let Some(count) = read_u32(bytes, 4) else {
        bail!(
            "file is truncated in its header: {} bytes, the header needs {header}",
            bytes.len()
        );
    };
    let body = &bytes[header..];
    if body.len() != count as usize {
        bail!(
            "header announces {count} labels but the body has {} bytes: the file is {}",
            body.len(),
            if body.len() < count as usize {
                "truncated"
            } else {
                "longer than announced"
            }
        );
    }
    Ok(body.to_vec())
}

/// Data as a run sees it: the (possibly limited) training file and the test file. The
/// training/validation split is made only while training, so the copies it needs do not
/// outlive it.
pub struct RunData {
    pub full_train: ImageSet,
    pub test: ImageSet,
    /// What was done to the pixels / 255 of both sets: the network's inputs are these.
    pub scaling: InputScaling,
    pub class_names: ClassNames,
    /// The classes of the data set (its labels run from 0 to `classes - 1`).
    pub classes: usize,
    validation_split: f64,
}

impl RunData {
    pub fn load(config: &Config) -> Result<Self> {
        let folder = data_folder(&config.data.dir);
        let mnist = Mnist::load(&folder)?;
        let full_train = if config.data.train_limit > 0 {
            mnist.train.head(config.data.train_limit)
        } else {
            mnist.train
        };
        let data = Self {
            full_train,
            test: mnist.test,
            scaling: InputScaling::default(),
            class_names: ClassNames::of_data(&folder, mnist.classes, mnist.class_names)?,
            classes: mnist.classes,
            validation_split: config.data.validation_split,
        };
        if data.train_len() == 0 {
            bail!(
                "no training images left after the validation split of {}: lower \
                 data.validation_split or raise data.train_limit",
                config.data.validation_split
            );
        }
        let missing = missing_classes(&data.full_train.labels, data.classes);
        if !missing.is_empty() {
            bail!(
                "data.train_limit {} leaves no training image of class {}: raise it",
                config.data.train_limit,
                missing.join(", ")
            );
        }
        let probe = config.analysis.probe_index;
        let len = data.full_train.len();
        if probe >= len {
            bail!(
                "analysis.probe_index {probe} is beyond the {len} training images: choose an \
                 index below {len}"
            );
        }
        data.scaled(config.input_scaling())
    }

    /// Both sets as the network sees them: `scaling` applied to the pixels / 255.
    pub fn scaled(mut self, scaling: InputScaling) -> Result<Self> {
        if !self.scaling.is_identity() {
            bail!("the data are scaled already ({})", self.scaling.describe());
        }
        let channels = self.full_train.channels;
        if scaling.channels() != 1 && scaling.channels() != channels {
            bail!(
                "the input scaling gives {} values per channel but the data have {channels} \
                 channel{}: give one number, or one per channel, to input_mean and input_std",
                scaling.channels(),
                if channels == 1 { "" } else { "s" }
            );
        }
        self.full_train.images.scale(&scaling, channels);
        self.test.images.scale(&scaling, channels);
        self.scaling = scaling;
        Ok(self)
    }

    /// Images trained on; the rest of the training file is validation data.
    pub(crate) fn train_len(&self) -> usize {
        self.full_train.split_index(self.validation_split)
    }

    /// The training and validation sets, split as Keras splits them.
    pub fn split(&self) -> (ImageSet, ImageSet) {
        self.full_train.split_validation(self.validation_split)
    }

    /// [`RunData::split`], borrowed: what training reads.
    pub fn split_slices(&self) -> (ImageSlice<'_>, ImageSlice<'_>) {
        self.full_train
            .split_validation_slices(self.validation_split)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_run_from_zero_to_the_largest_label_and_each_has_training_images() {
        let dir = Path::new("d");
        assert_eq!(check_classes(dir, &[0, 1, 2, 1], &[2, 0]).unwrap(), 3);
        let gap = check_classes(dir, &[0, 1, 3], &[0])
            .unwrap_err()
            .to_string();
        assert!(gap.contains("no image of class 2"), "{gap}");
        let unseen = check_classes(dir, &[0, 1], &[2]).unwrap_err().to_string();
        assert!(unseen.contains("no image of class 2"), "{unseen}");
        let one = check_classes(dir, &[0, 0], &[0]).unwrap_err().to_string();
        assert!(one.contains("a classifier needs 2"), "{one}");
    }

    #[test]
    fn a_gzip_trailer_sizes_the_inflated_buffer_but_cannot_ask_for_more_than_deflate_allows() {
        use flate2::{Compression, write::GzEncoder};
        use std::io::Write as _;
        let contents = vec![7u8; 100_000];
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(&contents).unwrap();
        let mut gz = encoder.finish().unwrap();
        assert_eq!(inflated_size(&gz), contents.len());
        let at = gz.len() - 4;
        gz[at..].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(inflated_size(&gz), gz.len() * 1032);
        assert_eq!(inflated_size(&[1, 2]), 0);
    }
}
