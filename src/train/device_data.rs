//! Data where the backend reads them: a labelled set borrowed on the host, each batch made
//! into inputs out of it (CPU backends), or uploaded to the device once (in parts where a backend limits a
//! buffer's size) with batches gathered there; and evaluation over a whole set.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::core::data::ImageSlice;
use crate::core::metrics::Evaluation;
use crate::nn::backend::Placement;
use crate::nn::model::DenseNet;

/// How many rows ahead of the one it decodes a gather asks for: enough to cover the wait on
/// memory, few enough that they stay in the cache until used.
const PREFETCH_AHEAD: usize = 4;

/// A labelled set where the backend reads it.
pub struct DeviceSet<'a> {
    held: Held<'a>,
    len: usize,
    device: Device,
}

enum Held<'a> {
    Host(ImageSlice<'a>),
    Device(Vec<Part>),
}

struct Part {
    images: Tensor<2>,
    labels: Tensor<1, Int>,
    start: usize,
    len: usize,
}

/// A batch copied out of a set on the host, not yet a tensor.
pub struct HostBatch {
    images: Vec<f32>,
    labels: Vec<u16>,
}

/// An epoch's visiting order, on the host and, for a set held in one part on the device,
/// there too.
pub struct BatchOrder {
    host: Vec<usize>,
    device: Option<Tensor<1, Int>>,
}

fn index_tensor(indices: impl Iterator<Item = usize>, device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.map(|i| i as i64).collect();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

/// `images` (`n` rows) and their labels as tensors on `device`.
fn tensors(
    images: Vec<f32>,
    labels: impl Iterator<Item = u16>,
    device: &Device,
) -> (Tensor<2>, Tensor<1, Int>) {
    let labels: Vec<i64> = labels.map(i64::from).collect();
    let (n, pixels) = (labels.len(), images.len() / labels.len().max(1));
    (
        Tensor::from_data(TensorData::new(images, [n, pixels]), device),
        Tensor::from_data(TensorData::new(labels, [n]), device),
    )
}

impl<'a> DeviceSet<'a> {
    /// `set` where `placement` says: borrowed on the host, or uploaded to `device` in parts of
    /// at most the placement's `max_tensor_bytes` of pixels.
    pub fn place(set: ImageSlice<'a>, device: &Device, placement: Placement) -> Self {
        let len = set.len();
        let held = match placement {
            Placement::Host => Held::Host(set),
            Placement::Device { max_tensor_bytes } => {
                Held::Device(upload(set, device, max_tensor_bytes))
            }
        };
        Self {
            held,
            len,
            device: device.clone(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// How many device tensors hold the set.
    #[cfg(test)]
    fn parts(&self) -> usize {
        match &self.held {
            Held::Host(_) => 0,
            Held::Device(parts) => parts.len(),
        }
    }

    pub fn order(&self, host: Vec<usize>) -> BatchOrder {
        let device = match &self.held {
            Held::Device(parts) if parts.len() == 1 => {
                Some(index_tensor(host.iter().copied(), &self.device))
            }
            _ => None,
        };
        BatchOrder { host, device }
    }

    /// Whether the set waits on the host, its batches copied out of it by [`DeviceSet::gather`].
    pub fn on_host(&self) -> bool {
        matches!(self.held, Held::Host(_))
    }

    /// Positions `start..start + n` of `order` copied out of a set held on the host (`None` for
    /// one on the device), ready for [`DeviceSet::load`]; any thread may gather.
    pub fn gather(&self, order: &BatchOrder, start: usize, n: usize) -> Option<HostBatch> {
        let Held::Host(set) = &self.held else {
            return None;
        };
        let wanted = &order.host[start..start + n];
        let mut images = Vec::with_capacity(n * set.pixels);
        let row = |i: usize| set.images.slice(i * set.pixels..(i + 1) * set.pixels);
        for &i in wanted.iter().take(PREFETCH_AHEAD) {
            row(i).prefetch();
        }
        for (k, &i) in wanted.iter().enumerate() {
            if let Some(&next) = wanted.get(k + PREFETCH_AHEAD) {
                row(next).prefetch();
            }
            row(i).extend_into(&mut images);
        }
        let labels = wanted.iter().map(|&i| set.labels[i]).collect();
        Some(HostBatch { images, labels })
    }

    /// A gathered batch as tensors on the set's device.
    pub fn load(&self, batch: HostBatch) -> (Tensor<2>, Tensor<1, Int>) {
        tensors(batch.images, batch.labels.into_iter(), &self.device)
    }

    /// Images and labels of positions `start..start + n` of `order`.
    pub fn batch(&self, order: &BatchOrder, start: usize, n: usize) -> (Tensor<2>, Tensor<1, Int>) {
        if let Some(batch) = self.gather(order, start, n) {
            return self.load(batch);
        }
        let Held::Device(parts) = &self.held else {
            unreachable!("a set not on the host is on the device");
        };
        let wanted = &order.host[start..start + n];
        if let Some(all) = &order.device {
            let idx = all.clone().narrow(0, start, n);
            let part = &parts[0];
            return (
                part.images.clone().select(0, idx.clone()),
                part.labels.clone().select(0, idx),
            );
        }
        // Several parts: gather from each; the batch holds the same rows, grouped by part.
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for part in parts {
            let local: Vec<usize> = wanted
                .iter()
                .filter(|&&i| i >= part.start && i < part.start + part.len)
                .map(|&i| i - part.start)
                .collect();
            if local.is_empty() {
                continue;
            }
            let idx = index_tensor(local.into_iter(), &self.device);
            xs.push(part.images.clone().select(0, idx.clone()));
            ys.push(part.labels.clone().select(0, idx));
        }
        (Tensor::cat(xs, 0), Tensor::cat(ys, 0))
    }

    /// Images and labels `start..start + n`, in order.
    fn chunk(&self, start: usize, n: usize) -> (Tensor<2>, Tensor<1, Int>) {
        match &self.held {
            Held::Host(set) => {
                let rows = set.slice(start, start + n);
                tensors(
                    rows.images.to_vec(),
                    rows.labels.iter().copied(),
                    &self.device,
                )
            }
            Held::Device(parts) => {
                let part = parts
                    .iter()
                    .find(|p| start >= p.start && start + n <= p.start + p.len)
                    .expect("a chunk lies within one part");
                let at = start - part.start;
                (
                    part.images.clone().narrow(0, at, n),
                    part.labels.clone().narrow(0, at, n),
                )
            }
        }
    }

    /// Where one chunk of an evaluation may begin and end: within one part on the device.
    fn chunk_ranges(&self, chunk: usize) -> Vec<(usize, usize)> {
        let parts: Vec<(usize, usize)> = match &self.held {
            Held::Host(set) => vec![(0, set.len())],
            Held::Device(parts) => parts.iter().map(|p| (p.start, p.len)).collect(),
        };
        parts
            .into_iter()
            .flat_map(|(first, len)| {
                (0..len)
                    .step_by(chunk)
                    .map(move |s| (first + s, chunk.min(len - s)))
            })
            .collect()
    }
}

/// `set` on `device` in parts of at most `max_bytes` of pixels, when given; in one otherwise.
fn upload(set: ImageSlice<'_>, device: &Device, max_bytes: Option<usize>) -> Vec<Part> {
    let (len, pixels) = (set.len(), set.pixels);
    let rows = max_bytes
        .map(|b| (b / (pixels * 4).max(1)).max(1))
        .unwrap_or(usize::MAX)
        .min(len.max(1));
    (0..len.max(1))
        .step_by(rows)
        .map(|start| {
            let n = rows.min(len - start);
            let part = set.slice(start, start + n);
            let (images, labels) =
                tensors(part.images.to_vec(), part.labels.iter().copied(), device);
            Part {
                images,
                labels,
                start,
                len: n,
            }
        })
        .collect()
}

/// Mean cross-entropy and accuracy of `model` on `set`, in chunks to bound memory.
pub fn evaluate(model: &DenseNet, set: &DeviceSet<'_>) -> Evaluation {
    const CHUNK: usize = 2000;
    if set.is_empty() {
        return Evaluation {
            loss: f64::NAN,
            accuracy: f64::NAN,
        };
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&set.device);
    let mut loss_sum = 0.0f64;
    let mut correct = 0i64;
    for (start, n) in set.chunk_ranges(CHUNK) {
        let (x, y) = set.chunk(start, n);
        let logits = model.forward(x);
        correct += count_correct(logits.clone(), y.clone()).into_scalar::<i64>();
        loss_sum += f64::from(loss_fn.forward(logits, y).into_scalar::<f32>()) * n as f64;
    }
    Evaluation {
        loss: loss_sum / set.len as f64,
        accuracy: correct as f64 / set.len as f64,
    }
}

pub(crate) fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    let n = labels.dims()[0];
    logits.argmax(1).reshape([n]).equal(labels).int().sum()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::data::ImageSet;

    /// Ten two-pixel images whose first pixel is their index.
    fn numbered(n: usize) -> ImageSet {
        ImageSet {
            images: (0..n)
                .flat_map(|i| [i as f32, 0.5])
                .collect::<Vec<_>>()
                .into(),
            labels: (0..n).map(|i| (i % 10) as u16).collect(),
            rows: 1,
            cols: 2,
            channels: 1,
        }
    }

    #[test]
    fn a_set_is_held_on_the_host_whole_or_in_parts_and_batches_keep_their_rows() {
        let device = Device::flex();
        let set = numbered(10);
        let device_at = |max_tensor_bytes| Placement::Device { max_tensor_bytes };
        // Eight bytes per image: 24 bytes hold three images, so ten need four parts.
        let parted = DeviceSet::place((&set).into(), &device, device_at(Some(24)));
        let whole = DeviceSet::place((&set).into(), &device, device_at(None));
        let host = DeviceSet::place((&set).into(), &device, Placement::Host);
        assert_eq!((parted.parts(), whole.parts(), host.parts()), (4, 1, 0));
        let order = vec![9, 0, 4, 3, 7, 1];
        let first_pixels = |set: &DeviceSet, sort: bool| {
            let (x, y) = set.batch(&set.order(order.clone()), 1, 4);
            let x: Vec<f32> = x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let y: Vec<i64> = y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
            let mut rows: Vec<(i64, i64)> = x.chunks(2).map(|r| r[0] as i64).zip(y).collect();
            if sort {
                rows.sort_unstable();
            }
            rows
        };
        // The parted batch holds the same rows, grouped by part rather than in order.
        assert_eq!(
            first_pixels(&parted, true),
            vec![(0, 0), (3, 3), (4, 4), (7, 7)]
        );
        let in_order = vec![(0, 0), (4, 4), (3, 3), (7, 7)];
        assert_eq!(first_pixels(&whole, false), in_order);
        assert_eq!(first_pixels(&host, false), in_order);
        // Evaluation walks every image once, whatever holds them.
        let chunks = |set: &DeviceSet| set.chunk_ranges(2);
        assert_eq!(chunks(&host), [(0, 2), (2, 2), (4, 2), (6, 2), (8, 2)]);
        assert_eq!(
            chunks(&parted),
            [(0, 2), (2, 1), (3, 2), (5, 1), (6, 2), (8, 1), (9, 1)]
        );
    }
}
