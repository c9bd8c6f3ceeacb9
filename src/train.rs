//! The training loop: Adam or SGD on a cross-entropy loss, Keras-style per-epoch metrics.

use std::time::Instant;

use anyhow::{Result, bail};
use burn::module::Module;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::tensor::{Device, Int, Tensor, TensorData};
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
    pub loss: f64,
    pub accuracy: f64,
}

/// A labelled set uploaded to a device once, so batches are slices of it rather than copies
/// rebuilt on the host.
pub struct DeviceSet {
    images: Tensor<2>,
    labels: Tensor<1, Int>,
    len: usize,
}

impl DeviceSet {
    /// Moves `set`'s pixels to the device without keeping a host copy.
    pub fn upload(set: ImageSet, device: &Device) -> Self {
        let (len, pixels) = (set.len(), set.pixels());
        let images = Tensor::from_data(TensorData::new(set.images, [len, pixels]), device);
        let labels = Tensor::from_data(
            TensorData::new(
                set.labels.iter().map(|&l| i64::from(l)).collect::<Vec<_>>(),
                [len],
            ),
            device,
        );
        Self {
            images,
            labels,
            len,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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
    let device = set.images.device();
    let loss_fn = CrossEntropyLossConfig::new().init(&device);
    let mut loss_sum = 0.0f64;
    let mut correct = 0i64;
    for start in (0..set.len).step_by(CHUNK) {
        let n = CHUNK.min(set.len - start);
        let x = set.images.clone().narrow(0, start, n);
        let y = set.labels.clone().narrow(0, start, n);
        let logits = model.forward(x);
        correct += count_correct(logits.clone(), y.clone()).into_scalar::<i64>();
        loss_sum += f64::from(loss_fn.forward(logits, y).into_scalar::<f32>()) * n as f64;
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
    pub initial: Vec<LayerWeights>,
    pub history: Vec<EpochMetrics>,
    pub test: Evaluation,
    pub train_seconds: f64,
}

/// The sets a run trains on; the training and validation sets are moved to the device.
pub struct TrainInputs<'a> {
    pub train: ImageSet,
    pub validation: ImageSet,
    pub test: &'a ImageSet,
}

/// Trains a network from `initial` weights. `on_epoch` sees the model at initialisation
/// (epoch 0) and after every epoch; the analysis records its dynamics there.
#[allow(clippy::too_many_arguments)]
pub fn train(
    config: &TrainingConfig,
    seed: u64,
    initial: &[LayerWeights],
    activation: Activation,
    data: TrainInputs<'_>,
    device: &Device,
    progress: &mut Progress,
    mut on_epoch: impl FnMut(usize, &DenseNet) -> Result<()>,
) -> Result<Trained> {
    let started = Instant::now();
    let train_device = device.clone().autodiff();
    let mut model = DenseNet::from_weights(initial, activation, &train_device);
    let train_set = DeviceSet::upload(data.train, &train_device);
    let val_set = DeviceSet::upload(data.validation, device);
    let test_set = DeviceSet::upload(data.test.clone(), device);
    let loss_fn = CrossEntropyLossConfig::new().init(&train_device);
    let mut optim = optimizer(config);
    let steps = train_set.len().div_ceil(config.batch_size);
    let mut history = Vec::with_capacity(config.epochs);

    on_epoch(0, &model.valid())?;
    for epoch in 1..=config.epochs {
        let epoch_started = Instant::now();
        progress.start_epoch(epoch, config.epochs, steps);
        let order = epoch_order(train_set.len(), seed, epoch, config.shuffle);
        let order = Tensor::<1, Int>::from_data(
            TensorData::new(
                order.iter().map(|&i| i as i64).collect::<Vec<_>>(),
                [order.len()],
            ),
            &train_device,
        );
        // Running sums stay on the device: reading them back every step would stall it.
        let mut loss_sum = Tensor::<1>::zeros([1], &train_device);
        let mut correct = Tensor::<1, Int>::zeros([1], &train_device);
        for step in 0..steps {
            let start = step * config.batch_size;
            let n = config.batch_size.min(train_set.len() - start);
            let idx = order.clone().narrow(0, start, n);
            let x = train_set.images.clone().select(0, idx.clone());
            let y = train_set.labels.clone().select(0, idx);
            let logits = model.forward(x);
            let loss = loss_fn.forward(logits.clone(), y.clone());
            loss_sum = loss_sum + loss.clone().detach().mul_scalar(n as f64);
            correct = correct + count_correct(logits.detach(), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = optim.step(config.learning_rate, model, grads);
            progress.step(step + 1);
        }
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
    }
    let model = model.valid();
    let test = evaluate(&model, &test_set);
    Ok(Trained {
        model,
        initial: initial.to_vec(),
        history,
        test,
        train_seconds: started.elapsed().as_secs_f64(),
    })
}
