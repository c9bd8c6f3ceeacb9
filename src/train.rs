//! The training loop: Adam or SGD on a cross-entropy loss, Keras-style per-epoch metrics.

use std::time::Instant;

use anyhow::{Result, bail};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::config::{Activation, OptimizerKind, TrainingConfig};
use crate::data::ImageSet;
use crate::model::{DenseNet, LayerWeights};
use crate::progress::Progress;

/// One row of the training history, named as Keras names its metrics.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochMetrics {
    pub epoch: usize,
    pub loss: f64,
    pub accuracy: f64,
    pub val_loss: Option<f64>,
    pub val_accuracy: Option<f64>,
    pub seconds: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    #[serde(deserialize_with = "crate::artifacts::number_or_nan")]
    pub loss: f64,
    #[serde(deserialize_with = "crate::artifacts::number_or_nan")]
    pub accuracy: f64,
}

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
    pub fn parts(&self) -> usize {
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

fn count_correct(logits: Tensor<2>, labels: Tensor<1, Int>) -> Tensor<1, Int> {
    let n = labels.dims()[0];
    logits.argmax(1).reshape([n]).equal(labels).int().sum()
}

pub fn optimizer(config: &TrainingConfig) -> ModuleOptimizer {
    match config.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(config.beta1 as f32)
            .with_beta_2(config.beta2 as f32)
            .with_epsilon(config.epsilon as f32)
            .init(),
        OptimizerKind::KerasAdam => ModuleOptimizer::from(crate::optim::KerasAdam {
            beta_1: config.beta1,
            beta_2: config.beta2,
            epsilon: config.epsilon,
        }),
        OptimizerKind::Sgd => SgdConfig::new().init(),
    }
}

/// The order in which epoch `epoch` (1-based) visits the training set. Each epoch has its own
/// stream of the seed's generator so an epoch's order does not depend on earlier ones.
pub fn epoch_order(len: usize, seed: u64, epoch: usize, shuffle: bool) -> Vec<usize> {
    let mut order: Vec<usize> = (0..len).collect();
    if shuffle {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        rng.set_stream(epoch as u64);
        order.shuffle(&mut rng);
    }
    order
}

/// What a training run hands to the analysis and the report.
pub struct Trained {
    pub model: DenseNet,
    pub history: Vec<EpochMetrics>,
    pub test: Evaluation,
    pub train_seconds: f64,
}

/// Everything needed to continue an interrupted run exactly where it stopped. The shuffling
/// needs no state of its own: each epoch's order follows from the seed and the epoch.
#[derive(Clone)]
pub struct Checkpoint {
    /// The epoch in progress (1-based) and the next step to take in it.
    pub epoch: usize,
    pub step: usize,
    /// The epoch's running sums so far.
    pub loss_sum: f32,
    pub correct: i64,
    pub history: Vec<EpochMetrics>,
    pub train_seconds: f64,
    /// Layer widths, input to output.
    pub layers: Vec<usize>,
    /// Burnpack bytes of the model and of the optimiser state.
    pub model: Vec<u8>,
    pub optimizer: Vec<u8>,
}

/// Where training starts.
pub enum Start<'a> {
    Fresh(&'a [LayerWeights]),
    Resume(Checkpoint),
}

pub enum Outcome {
    Finished(Trained),
    Interrupted(Checkpoint),
}

impl Outcome {
    /// The trained model, for callers that never interrupt (tests, benchmarks).
    pub fn finished(self) -> Option<Trained> {
        match self {
            Outcome::Finished(t) => Some(t),
            Outcome::Interrupted(_) => None,
        }
    }
}

/// The sets a run trains on; the training and validation sets are moved to the device.
pub struct TrainInputs<'a> {
    pub train: ImageSet,
    pub validation: ImageSet,
    pub test: &'a ImageSet,
    /// The largest tensor the backend takes, if it has a limit.
    pub max_tensor_bytes: Option<usize>,
}

/// Trains a network, from fresh weights or from a checkpoint. `on_epoch` sees the model at
/// initialisation (epoch 0, fresh starts only) and after every epoch; the analysis records its
/// dynamics there. A Ctrl-C stops after the current step with a checkpoint.
#[allow(clippy::too_many_arguments)]
pub fn train(
    config: &TrainingConfig,
    seed: u64,
    start: Start<'_>,
    activation: Activation,
    data: TrainInputs<'_>,
    device: &Device,
    progress: &mut Progress,
    mut on_epoch: impl FnMut(usize, &DenseNet) -> Result<()>,
) -> Result<Outcome> {
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let limit = data.max_tensor_bytes;
    let train_set = DeviceSet::upload(data.train, &train_device, limit);
    let val_set = DeviceSet::upload(data.validation, device, limit);
    let test_set = DeviceSet::upload(data.test.clone(), device, limit);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optim = optimizer(config);
    let steps = train_set.len().div_ceil(config.batch_size);

    let (mut model, first_epoch, mut first_step, mut sums, mut history, earlier_seconds) =
        match start {
            Start::Fresh(initial) => {
                let model = DenseNet::from_weights(initial, activation, &train_device);
                on_epoch(0, &model.valid())?;
                (
                    model,
                    1,
                    0,
                    (0.0f32, 0i64),
                    Vec::with_capacity(config.epochs),
                    0.0,
                )
            }
            Start::Resume(cp) => {
                let shape = crate::model::initial_weights(&cp.layers, 0);
                let model = DenseNet::from_bytes(&cp.model, &shape, activation, &train_device)?;
                optim = optim
                    .from_bytes(Bytes::from_bytes_vec(cp.optimizer.clone()))
                    .map_err(|e| {
                        anyhow::anyhow!("the checkpoint's optimiser state does not load ({e})")
                    })?;
                (
                    model,
                    cp.epoch,
                    cp.step,
                    (cp.loss_sum, cp.correct),
                    cp.history,
                    cp.train_seconds,
                )
            }
        };

    for epoch in first_epoch..=config.epochs {
        let epoch_started = Instant::now();
        progress.start_epoch(epoch, config.epochs, steps);
        let order = train_set.order(epoch_order(train_set.len(), seed, epoch, config.shuffle));
        // Running sums stay on the device: reading them back every step would stall it.
        let mut loss_sum =
            Tensor::<1>::from_data(TensorData::new(vec![sums.0], [1]), &train_device);
        let mut correct =
            Tensor::<1, Int>::from_data(TensorData::new(vec![sums.1], [1]), &train_device);
        for step in first_step..steps {
            let start = step * config.batch_size;
            let n = config.batch_size.min(train_set.len() - start);
            let (x, y) = train_set.batch(&order, start, n);
            let logits = model.forward(x);
            let loss = loss_fn.forward(logits.clone(), y.clone());
            loss_sum = loss_sum + loss.clone().detach().mul_scalar(n as f64);
            correct = correct + count_correct(logits.detach(), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            progress.step(step + 1);
            if crate::interrupt::requested() && step + 1 < steps {
                progress.finish();
                let sums = (loss_sum.into_scalar::<f32>(), correct.into_scalar::<i64>());
                let seconds = earlier_seconds + started.elapsed().as_secs_f64();
                return checkpoint(&model, &optim, (epoch, step + 1), sums, history, seconds)
                    .map(Outcome::Interrupted);
            }
        }
        first_step = 0;
        sums = (0.0, 0);
        let loss = f64::from(loss_sum.into_scalar::<f32>()) / train_set.len() as f64;
        if !loss.is_finite() {
            progress.finish();
            bail!(
                "training diverged: the loss became {loss} in epoch {epoch} at learning rate {}; \
                 lower training.learning_rate and run again",
                config.learning_rate
            );
        }
        let accuracy = correct.into_scalar::<i64>() as f64 / train_set.len() as f64;
        let snapshot = model.valid();
        let val = (!val_set.is_empty()).then(|| evaluate(&snapshot, &val_set));
        let metrics = EpochMetrics {
            epoch,
            loss,
            accuracy,
            val_loss: val.map(|v| v.loss),
            val_accuracy: val.map(|v| v.accuracy),
            seconds: epoch_started.elapsed().as_secs_f64(),
        };
        progress.end_epoch(&metrics, config.epochs);
        history.push(metrics);
        on_epoch(epoch, &snapshot)?;
        // An interrupt at an epoch's last step lands here, with the epoch complete.
        if crate::interrupt::requested() && epoch < config.epochs {
            let seconds = earlier_seconds + started.elapsed().as_secs_f64();
            return checkpoint(&model, &optim, (epoch + 1, 0), (0.0, 0), history, seconds)
                .map(Outcome::Interrupted);
        }
    }
    let model = model.valid();
    let test = evaluate(&model, &test_set);
    Ok(Outcome::Finished(Trained {
        model,
        history,
        test,
        train_seconds: earlier_seconds + started.elapsed().as_secs_f64(),
    }))
}

/// The state to resume from at `(epoch, step)`, with that epoch's running sums so far.
fn checkpoint(
    model: &DenseNet,
    optim: &ModuleOptimizer,
    (epoch, step): (usize, usize),
    (loss_sum, correct): (f32, i64),
    history: Vec<EpochMetrics>,
    train_seconds: f64,
) -> Result<Checkpoint> {
    let mut layers = vec![model.layers[0].weight.val().dims()[0]];
    layers.extend(model.layers.iter().map(|l| l.weight.val().dims()[1]));
    Ok(Checkpoint {
        epoch,
        step,
        loss_sum,
        correct,
        history,
        train_seconds,
        layers,
        model: model.to_bytes()?,
        optimizer: optim
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot encode the optimiser state: {e}"))?
            .to_vec(),
    })
}
