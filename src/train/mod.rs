//! The training layer: Adam or SGD on a cross-entropy loss with Keras-style per-epoch metrics,
//! checkpoints to resume from, and the weights files of a run.
//!
//! The loop reports to a [`TrainObserver`] (a progress bar, a snapshot writer, a test) and
//! stops when its [`StopToken`] is set, so an interruption can be produced in-process.

pub mod checkpoint;
pub mod device_data;
pub mod saved;

use std::sync::mpsc::sync_channel;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::module::Module;
use burn::nn::loss::{CrossEntropyLoss, CrossEntropyLossConfig};
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Bytes, Device, Int, Tensor, TensorData};
use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use crate::core::config::{Activation, TrainingConfig};
use crate::core::data::{ImageSet, ImageSlice};
use crate::core::metrics::{EpochMetrics, Evaluation};
use crate::core::stop::StopToken;
use crate::core::weights::LayerWeights;
use crate::nn::backend::Placement;
use crate::nn::model::DenseNet;
use crate::nn::optim::optimizer;
pub use checkpoint::Checkpoint;
use device_data::{DeviceSet, count_correct, evaluate};

/// What the loop tells the world while it runs. Every method but `epoch_done` has a no-op
/// default, so an observer implements only what it shows.
pub trait TrainObserver {
    fn epoch_started(&mut self, _epoch: usize, _epochs: usize, _steps: usize) {}
    fn step_done(&mut self, _step: usize) {}
    /// The model at initialisation (epoch 0, `metrics` absent; fresh starts only) and after
    /// every epoch; a run saves its snapshots here.
    fn epoch_done(
        &mut self,
        epoch: usize,
        metrics: Option<&EpochMetrics>,
        model: &DenseNet,
    ) -> Result<()>;
    /// Training ended early (a stop or a divergence); a progress bar clears itself.
    fn stopped(&mut self) {}
}

/// An observer that watches nothing, for callers that only want the result.
pub struct Unobserved;

impl TrainObserver for Unobserved {
    fn epoch_done(&mut self, _: usize, _: Option<&EpochMetrics>, _: &DenseNet) -> Result<()> {
        Ok(())
    }
}

/// The sets a run trains on, and where the backend reads them.
pub struct TrainInputs<'a> {
    pub train: ImageSlice<'a>,
    pub validation: ImageSlice<'a>,
    pub test: &'a ImageSet,
    pub placement: Placement,
}

/// One training job: how to train, on what, where.
pub struct TrainJob<'a> {
    pub training: &'a TrainingConfig,
    pub seed: u64,
    pub activation: Activation,
    pub data: TrainInputs<'a>,
    pub device: &'a Device,
}

/// Where training starts.
pub enum Start<'a> {
    Fresh(&'a [LayerWeights]),
    Resume(Checkpoint),
}

/// What a finished training run hands to the analysis and the report.
pub struct Trained {
    pub model: DenseNet,
    pub history: Vec<EpochMetrics>,
    pub test: Evaluation,
    pub train_seconds: f64,
}

pub enum Outcome {
    Finished(Trained),
    /// A stop was requested; training can continue from the checkpoint.
    Interrupted(Checkpoint),
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

/// Where the loop stands: the optimiser, and the position and running sums of the epoch in
/// progress. The model travels by value beside it: the optimiser's step consumes it.
struct State {
    optim: ModuleOptimizer,
    epoch: usize,
    step: usize,
    sums: (f32, i64),
    history: Vec<EpochMetrics>,
    earlier_seconds: f64,
}

/// How one epoch ended.
enum EpochEnd {
    Complete(EpochMetrics),
    /// Stopped after `step` steps, with the epoch's running sums so far.
    Stopped {
        step: usize,
        sums: (f32, i64),
    },
}

/// Trains a network, from fresh weights or from a checkpoint. A stop requested through `stop`
/// ends training after the current step with a checkpoint.
pub fn train(
    job: TrainJob<'_>,
    start: Start<'_>,
    observer: &mut (dyn TrainObserver + Send),
    stop: &StopToken,
) -> Result<Outcome> {
    // On a thread of the current pool (the global one unless a caller installed its own), so
    // that this thread takes a share of each matrix product: from outside the pool it handed
    // every product to the pool's threads and slept until they were done, and the hand-overs
    // cost 6% of an epoch on two cores.
    rayon::scope(|_| train_here(job, start, observer, stop))
}

fn train_here(
    job: TrainJob<'_>,
    start: Start<'_>,
    observer: &mut (dyn TrainObserver + Send),
    stop: &StopToken,
) -> Result<Outcome> {
    let started = Instant::now();
    let TrainJob {
        training,
        seed,
        activation,
        data,
        device,
    } = job;
    let job = Plan {
        training,
        seed,
        activation,
        device,
        placement: data.placement,
    };
    let train_device = device.clone().autodiff();
    let placement = data.placement;
    let sets = Sets {
        train: DeviceSet::place(data.train, &train_device, placement),
        validation: DeviceSet::place(data.validation, device, placement),
        loss: CrossEntropyLossConfig::new().init(&train_device),
    };
    let config = job.training;
    let (mut model, mut state) = initial_state(&job, start, &train_device, observer)?;
    let elapsed = |state: &State| state.earlier_seconds + started.elapsed().as_secs_f64();
    while state.epoch <= config.epochs {
        let epoch = state.epoch;
        let end;
        (model, end) = run_epoch(model, &mut state, &sets, &job, observer, stop)?;
        match end {
            EpochEnd::Stopped { step, sums } => {
                observer.stopped();
                let at = (epoch, step);
                return checkpoint(&model, &state, at, sums, elapsed(&state))
                    .map(Outcome::Interrupted);
            }
            EpochEnd::Complete(metrics) => {
                state.history.push(metrics);
                state.epoch += 1;
                state.step = 0;
                state.sums = (0.0, 0);
                observer.epoch_done(epoch, state.history.last(), &model.valid())?;
            }
        }
        // A stop at an epoch's last step lands here, with the epoch complete.
        if stop.requested() && epoch < config.epochs {
            let at = (epoch + 1, 0);
            return checkpoint(&model, &state, at, (0.0, 0), elapsed(&state))
                .map(Outcome::Interrupted);
        }
    }
    let train_seconds = elapsed(&state);
    let model = model.valid();
    // Uploaded only now: the training does not need it beside the training set.
    let test_set = DeviceSet::place(data.test.into(), device, placement);
    let test = evaluate(&model, &test_set);
    Ok(Outcome::Finished(Trained {
        model,
        history: state.history,
        test,
        train_seconds,
    }))
}

/// A job's settings, without its data (which moves to the device).
struct Plan<'a> {
    training: &'a TrainingConfig,
    seed: u64,
    activation: Activation,
    device: &'a Device,
    placement: Placement,
}

/// The device-side sets and the loss, fixed for the whole run.
struct Sets<'a> {
    train: DeviceSet<'a>,
    validation: DeviceSet<'a>,
    loss: CrossEntropyLoss,
}

fn initial_state(
    job: &Plan<'_>,
    start: Start<'_>,
    device: &Device,
    observer: &mut dyn TrainObserver,
) -> Result<(DenseNet, State)> {
    let optim = optimizer(job.training, job.placement);
    match start {
        Start::Fresh(initial) => {
            let model = DenseNet::from_weights(initial, job.activation, device);
            observer.epoch_done(0, None, &model.valid())?;
            let state = State {
                optim,
                epoch: 1,
                step: 0,
                sums: (0.0, 0),
                history: Vec::with_capacity(job.training.epochs),
                earlier_seconds: 0.0,
            };
            Ok((model, state))
        }
        Start::Resume(cp) => {
            let model = DenseNet::from_bytes(&cp.model, &cp.layers, job.activation, device)?;
            let optim = optim
                .from_bytes(Bytes::from_bytes_vec(cp.optimizer))
                .map_err(|e| anyhow::anyhow!("{e}"))
                .context("the checkpoint's optimiser state does not load")?;
            let state = State {
                optim,
                epoch: cp.epoch,
                step: cp.step,
                sums: (cp.loss_sum, cp.correct),
                history: cp.history,
                earlier_seconds: cp.train_seconds,
            };
            Ok((model, state))
        }
    }
}

/// Trains `state.epoch` from `state.step` to its end, or until a stop is requested.
fn run_epoch(
    model: DenseNet,
    state: &mut State,
    sets: &Sets<'_>,
    job: &Plan<'_>,
    observer: &mut dyn TrainObserver,
    stop: &StopToken,
) -> Result<(DenseNet, EpochEnd)> {
    let config = job.training;
    let epoch_started = Instant::now();
    let train = &sets.train;
    let steps = train.len().div_ceil(config.batch_size);
    observer.epoch_started(state.epoch, config.epochs, steps);
    let order = train.order(epoch_order(
        train.len(),
        job.seed,
        state.epoch,
        config.shuffle,
    ));
    let device = job.device.clone().autodiff();
    // Running sums stay on the device: reading them back every step would stall it.
    let loss_sum = Tensor::<1>::from_data(TensorData::new(vec![state.sums.0], [1]), &device);
    let correct = Tensor::<1, Int>::from_data(TensorData::new(vec![state.sums.1], [1]), &device);
    let span = |step: usize| {
        let start = step * config.batch_size;
        (start, config.batch_size.min(train.len() - start))
    };
    let first = state.step;
    let (model, loss_sum, correct, stopped_at) = std::thread::scope(|scope| {
        let (mut model, mut loss_sum, mut correct) = (model, loss_sum, correct);
        // A set on the host: the next batch is copied out of it on a helper thread while this
        // one trains, as the copy (rows scattered over the set) mostly waits on memory. The
        // helper starts each copy when the step before has passed its forward pass: started
        // as soon as the channel had room, it ran beside the forward product, on one of the
        // cores the product was split over (an epoch took 10% longer).
        let prefetched = train.on_host().then(|| {
            let (send, receive) = sync_channel(1);
            let (ask, asked) = sync_channel::<()>(1);
            let order = &order;
            scope.spawn(move || {
                for step in first..steps {
                    // The loop asks no more after an early stop.
                    if step > first && asked.recv().is_err() {
                        break;
                    }
                    let (start, n) = span(step);
                    let batch = train
                        .gather(order, start, n)
                        .expect("the set is on the host");
                    if send.send(batch).is_err() {
                        break;
                    }
                }
            });
            (receive, ask)
        });
        for step in first..steps {
            let (start, n) = span(step);
            let (x, y) = match &prefetched {
                Some((batches, _)) => {
                    train.load(batches.recv().expect("the helper gathers each step"))
                }
                None => train.batch(&order, start, n),
            };
            let logits = model.forward(x);
            if let Some((_, ask)) = &prefetched
                && step + 1 < steps
            {
                ask.send(()).expect("the batch helper stopped early");
            }
            let loss = sets.loss.forward(logits.clone(), y.clone());
            loss_sum = loss_sum + loss.clone().detach().mul_scalar(n as f64);
            correct = correct + count_correct(logits.detach(), y);
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            model = state.optim.step(config.learning_rate, model, grads);
            observer.step_done(step + 1);
            if stop.requested() && step + 1 < steps {
                return (model, loss_sum, correct, Some(step + 1));
            }
        }
        (model, loss_sum, correct, None)
    });
    if let Some(step) = stopped_at {
        let sums = (loss_sum.into_scalar::<f32>(), correct.into_scalar::<i64>());
        return Ok((model, EpochEnd::Stopped { step, sums }));
    }
    let loss = f64::from(loss_sum.into_scalar::<f32>()) / train.len() as f64;
    if !loss.is_finite() {
        observer.stopped();
        bail!(
            "training diverged: the loss became {loss} in epoch {} at learning rate {}; \
             lower training.learning_rate and run again",
            state.epoch,
            config.learning_rate
        );
    }
    let accuracy = correct.into_scalar::<i64>() as f64 / train.len() as f64;
    let val = (!sets.validation.is_empty()).then(|| evaluate(&model.valid(), &sets.validation));
    let metrics = EpochMetrics {
        epoch: state.epoch,
        loss,
        accuracy,
        val_loss: val.map(|v| v.loss),
        val_accuracy: val.map(|v| v.accuracy),
        seconds: epoch_started.elapsed().as_secs_f64(),
    };
    Ok((model, EpochEnd::Complete(metrics)))
}

/// The state to resume from at `(epoch, step)`, with that epoch's running sums so far.
fn checkpoint(
    model: &DenseNet,
    state: &State,
    (epoch, step): (usize, usize),
    (loss_sum, correct): (f32, i64),
    train_seconds: f64,
) -> Result<Checkpoint> {
    Ok(Checkpoint {
        epoch,
        step,
        loss_sum,
        correct,
        history: state.history.clone(),
        train_seconds,
        layers: model.widths(),
        model: model.to_bytes()?,
        optimizer: state
            .optim
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("{e}"))
            .context("cannot encode the optimiser state")?
            .to_vec(),
    })
}
