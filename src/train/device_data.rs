//! Data on the device: a labelled set uploaded once (in parts where a backend limits a
//! buffer's size), batches gathered there, and evaluation over a whole set.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::core::data::ImageSet;
use crate::core::metrics::Evaluation;
use crate::nn::model::DenseNet;

/// A labelled set uploaded to a device once, so batches are gathered there rather than
/// rebuilt on the host. A set larger than the backend allows in one buffer is held in parts.
pub struct DeviceSet {
    parts: Vec<Part>,
    len: usize,
}

struct Part {
    images: Tensor<2>,
    labels: Tensor<1, Int>,
    start: usize,
    len: usize,
}

/// An epoch's visiting order, on the host and, for a set held in one part, on the device.
pub struct BatchOrder {
    host: Vec<usize>,
    device: Option<Tensor<1, Int>>,
}

fn index_tensor(indices: impl Iterator<Item = usize>, device: &Device) -> Tensor<1, Int> {
    let values: Vec<i64> = indices.map(|i| i as i64).collect();
    let n = values.len();
    Tensor::from_data(TensorData::new(values, [n]), device)
}

impl DeviceSet {
    /// Moves `set` to the device, in parts of at most `max_bytes` of pixels when given (wgpu
    /// limits a buffer's size); a set that fits is moved without keeping a host copy.
    pub fn upload(set: ImageSet, device: &Device, max_bytes: Option<usize>) -> Self {
        let (len, pixels) = (set.len(), set.pixels());
        let rows = max_bytes
            .map(|b| (b / (pixels * 4).max(1)).max(1))
            .unwrap_or(usize::MAX)
            .min(len.max(1));
        let labels: Vec<i64> = set.labels.iter().map(|&l| i64::from(l)).collect();
        let mut parts = Vec::new();
        if rows >= len {
            parts.push(Part {
                images: Tensor::from_data(TensorData::new(set.images, [len, pixels]), device),
                labels: Tensor::from_data(TensorData::new(labels, [len]), device),
                start: 0,
                len,
            });
        } else {
            for start in (0..len).step_by(rows) {
                let n = rows.min(len - start);
                let images = set.images[start * pixels..(start + n) * pixels].to_vec();
                parts.push(Part {
                    images: Tensor::from_data(TensorData::new(images, [n, pixels]), device),
                    labels: Tensor::from_data(
                        TensorData::new(labels[start..start + n].to_vec(), [n]),
                        device,
                    ),
                    start,
                    len: n,
                });
            }
        }
        Self { parts, len }
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
        self.parts.len()
    }

    fn device(&self) -> Device {
        self.parts[0].images.device()
    }

    pub fn order(&self, host: Vec<usize>) -> BatchOrder {
        let device =
            (self.parts.len() == 1).then(|| index_tensor(host.iter().copied(), &self.device()));
        BatchOrder { host, device }
    }

    /// Images and labels of positions `start..start + n` of `order`.
    pub fn batch(&self, order: &BatchOrder, start: usize, n: usize) -> (Tensor<2>, Tensor<1, Int>) {
        if let Some(all) = &order.device {
            let idx = all.clone().narrow(0, start, n);
            let part = &self.parts[0];
            return (
                part.images.clone().select(0, idx.clone()),
                part.labels.clone().select(0, idx),
            );
        }
        // Several parts: gather from each; the batch holds the same rows, grouped by part.
        let wanted = &order.host[start..start + n];
        let device = self.device();
        let (mut xs, mut ys) = (Vec::new(), Vec::new());
        for part in &self.parts {
            let local: Vec<usize> = wanted
                .iter()
                .filter(|&&i| i >= part.start && i < part.start + part.len)
                .map(|&i| i - part.start)
                .collect();
            if local.is_empty() {
                continue;
            }
            let idx = index_tensor(local.into_iter(), &device);
            xs.push(part.images.clone().select(0, idx.clone()));
            ys.push(part.labels.clone().select(0, idx));
        }
        (Tensor::cat(xs, 0), Tensor::cat(ys, 0))
    }
}

/// Mean cross-entropy and accuracy of `model` on `set`, in chunks to bound memory.
pub fn evaluate(model: &DenseNet, set: &DeviceSet) -> Evaluation {
    const CHUNK: usize = 2000;
    if set.is_empty() {
        return Evaluation {
            loss: f64::NAN,
            accuracy: f64::NAN,
        };
    }
    let loss_fn = CrossEntropyLossConfig::new().init(&set.device());
    let mut loss_sum = 0.0f64;
    let mut correct = 0i64;
    for part in &set.parts {
        for start in (0..part.len).step_by(CHUNK) {
            let n = CHUNK.min(part.len - start);
            let x = part.images.clone().narrow(0, start, n);
            let y = part.labels.clone().narrow(0, start, n);
            let logits = model.forward(x);
            correct += count_correct(logits.clone(), y.clone()).into_scalar::<i64>();
            loss_sum += f64::from(loss_fn.forward(logits, y).into_scalar::<f32>()) * n as f64;
        }
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

    /// Ten two-pixel images whose first pixel is their index.
    fn numbered(n: usize) -> ImageSet {
        ImageSet {
            images: (0..n).flat_map(|i| [i as f32, 0.5]).collect(),
            labels: (0..n).map(|i| (i % 10) as u16).collect(),
            rows: 1,
            cols: 2,
            channels: 1,
        }
    }

    #[test]
    fn a_set_over_the_limit_is_held_in_parts_and_batches_keep_their_rows() {
        let device = Device::flex();
        // Eight bytes per image: 24 bytes hold three images, so ten need four parts.
        let parted = DeviceSet::upload(numbered(10), &device, Some(24));
        let whole = DeviceSet::upload(numbered(10), &device, None);
        assert_eq!((parted.parts(), whole.parts()), (4, 1));
        let order = vec![9, 0, 4, 3, 7, 1];
        let first_pixels = |set: &DeviceSet| {
            let (x, y) = set.batch(&set.order(order.clone()), 1, 4);
            let x: Vec<f32> = x.into_data().convert::<f32>().try_to_vec::<f32>().unwrap();
            let y: Vec<i64> = y.into_data().convert::<i64>().try_to_vec::<i64>().unwrap();
            let mut rows: Vec<(i64, i64)> = x.chunks(2).map(|r| r[0] as i64).zip(y).collect();
            rows.sort_unstable();
            rows
        };
        // The parted batch holds the same rows, grouped by part rather than in order.
        assert_eq!(first_pixels(&parted), vec![(0, 0), (3, 3), (4, 4), (7, 7)]);
        assert_eq!(first_pixels(&whole), first_pixels(&parted));
    }
}
