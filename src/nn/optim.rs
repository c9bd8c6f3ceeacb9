//! The optimisers a config names; among them Adam exactly as Keras computes it, for lockstep
//! comparisons with TensorFlow.
//!
//! Burn's `Adam` follows PyTorch: `m̂ / (sqrt(v̂) + ε)` with bias-corrected moments. Keras folds
//! the bias corrections into the step size and adds ε to the uncorrected `sqrt(v)`:
//! `lr · sqrt(1 - β2^t) / (1 - β1^t) · m / (sqrt(v) + ε)`. The two differ only through ε,
//! which Keras effectively scales by `1 / sqrt(1 - β2^t)` (about 32x on the first step).

use burn::optim::{
    Adam, AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
    SgdConfig,
};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::backend::Placement;
use crate::core::config::{OptimizerKind, TrainingConfig};

#[derive(Debug, Clone)]
pub struct KerasAdam {
    pub beta_1: f64,
    pub beta_2: f64,
    pub epsilon: f64,
}

impl Optimizer for KerasAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let (time, m, v) = match state {
            Some(s) => (s.momentum.time, s.momentum.moment_1, s.momentum.moment_2),
            None => (0, grad.zeros_like(), grad.zeros_like()),
        };
        let time = time + 1;
        let m = m.mul_scalar(self.beta_1) + grad.clone().mul_scalar(1.0 - self.beta_1);
        let v = v.mul_scalar(self.beta_2) + grad.square().mul_scalar(1.0 - self.beta_2);
        let t = time as i32;
        let alpha = lr * (1.0 - self.beta_2.powi(t)).sqrt() / (1.0 - self.beta_1.powi(t));
        let delta = m
            .clone()
            .div(v.clone().sqrt().add_scalar(self.epsilon))
            .mul_scalar(alpha);
        let state = AdamState::new(AdaptiveMomentumState::new(time, m, v));
        (tensor - delta, Some(state))
    }

    fn to_device<const D: usize>(mut state: Self::State<D>, device: &Device) -> Self::State<D> {
        state.momentum.moment_1 = state.momentum.moment_1.to_device(device);
        state.momentum.moment_2 = state.momentum.moment_2.to_device(device);
        state
    }
}

/// Burn's Adam, computed in one pass over each parameter where the parameters live in host
/// memory. Burn's own step makes thirteen element-wise passes over each parameter: a tenth of
/// the article MLP's training on one core. The pass repeats Burn's operations in Burn's order,
/// each rounded to f32 as Burn's are, so the weights come out bit for bit the same; on a
/// device (wgpu) the step is Burn's own. The state is Burn's `AdamState`, so checkpoints of
/// either load into the other.
#[derive(Clone)]
pub struct HostAdam {
    beta_1: f32,
    beta_2: f32,
    epsilon: f32,
    on_device: Adam,
}

impl HostAdam {
    fn new(beta_1: f32, beta_2: f32, epsilon: f32) -> Self {
        Self {
            beta_1,
            beta_2,
            epsilon,
            on_device: adam_config(beta_1, beta_2, epsilon).build(),
        }
    }
}

fn adam_config(beta_1: f32, beta_2: f32, epsilon: f32) -> AdamConfig {
    AdamConfig::new()
        .with_beta_1(beta_1)
        .with_beta_2(beta_2)
        .with_epsilon(epsilon)
}

impl Optimizer for HostAdam {
    type State<const D: usize> = AdamState<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        if tensor.dtype() != DType::F32 {
            return self.on_device.step(lr, tensor, grad, state);
        }
        let device = tensor.device();
        let mut param = tensor.into_data();
        let grad = grad.into_data();
        let (time, mut m, mut v) = match state {
            Some(s) => {
                let s = s.momentum;
                (s.time + 1, s.moment_1.into_data(), s.moment_2.into_data())
            }
            None => (1, zeros_like(&param), zeros_like(&param)),
        };
        AdamSteps::at(self, time, lr).apply(
            f32s_mut(&mut param),
            f32s(&grad),
            f32s_mut(&mut m),
            f32s_mut(&mut v),
        );
        let tensor = |data: TensorData| Tensor::from_data(data, &device);
        let momentum = AdaptiveMomentumState::new(time, tensor(m), tensor(v));
        (tensor(param), Some(AdamState::new(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        Adam::to_device(state, device)
    }
}

/// Parameters per task of a parallel Adam step: the article MLP's first layer makes seven,
/// which two threads share about evenly.
const ADAM_CHUNK: usize = 1 << 14;

/// The scalars of step `time`, as Burn's Adam computes them (in f32).
struct AdamSteps {
    first: bool,
    beta_1: f32,
    beta_2: f32,
    /// `1 - β1` and `1 - β2`: the weights of the new gradient in the moments.
    gradient_share_1: f32,
    gradient_share_2: f32,
    /// The bias corrections folded into one factor on the first moment.
    factor: f32,
    /// ε scaled as Burn scales it.
    epsilon: f32,
    lr: f32,
}

impl AdamSteps {
    fn at(adam: &HostAdam, time: usize, lr: LearningRate) -> Self {
        let t = time as i32;
        let bias_correction_2 = (1.0 - adam.beta_2.powi(t)).sqrt();
        Self {
            first: time == 1,
            beta_1: adam.beta_1,
            beta_2: adam.beta_2,
            gradient_share_1: 1.0 - adam.beta_1,
            gradient_share_2: 1.0 - adam.beta_2,
            factor: bias_correction_2 / (1.0 - adam.beta_1.powi(t)),
            epsilon: adam.epsilon * bias_correction_2,
            // Burn multiplies by the rate as an f32 scalar.
            lr: lr as f32,
        }
    }

    /// One step over a parameter, with the widest vectors the CPU has and on the current
    /// thread pool's threads (the square roots and divisions of a large layer keep a core
    /// busy): element by element the same operations as on one thread without vectors, so
    /// the same bits.
    fn apply(&self, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        let arch = pulp::Arch::new();
        param
            .par_chunks_mut(ADAM_CHUNK)
            .zip(grad.par_chunks(ADAM_CHUNK))
            .zip(m.par_chunks_mut(ADAM_CHUNK))
            .zip(v.par_chunks_mut(ADAM_CHUNK))
            .for_each(|(((param, grad), m), v)| {
                arch.dispatch(
                    #[inline(always)]
                    || self.apply_each(param, grad, m, v),
                )
            });
    }

    #[inline(always)]
    fn apply_each(&self, param: &mut [f32], grad: &[f32], m: &mut [f32], v: &mut [f32]) {
        let moments = param.iter_mut().zip(grad).zip(m).zip(v);
        if self.first {
            // The moments start from the gradient alone, as Burn's do: `0 · β + …` would
            // turn a -0 into +0.
            for (((p, &g), m), v) in moments {
                *m = g * self.gradient_share_1;
                *v = (g * g) * self.gradient_share_2;
                *p = self.moved(*p, *m, *v);
            }
        } else {
            for (((p, &g), m), v) in moments {
                *m = *m * self.beta_1 + g * self.gradient_share_1;
                *v = *v * self.beta_2 + (g * g) * self.gradient_share_2;
                *p = self.moved(*p, *m, *v);
            }
        }
    }

    #[inline(always)]
    fn moved(&self, p: f32, m: f32, v: f32) -> f32 {
        p - (m * self.factor) / (v.sqrt() + self.epsilon) * self.lr
    }
}

fn f32s(data: &TensorData) -> &[f32] {
    data.as_slice().expect("an f32 tensor's data are f32")
}

fn f32s_mut(data: &mut TensorData) -> &mut [f32] {
    data.as_mut_slice().expect("an f32 tensor's data are f32")
}

fn zeros_like(data: &TensorData) -> TensorData {
    TensorData::new(vec![0f32; data.num_elements()], data.shape().clone())
}

/// The optimiser a training config asks for, for parameters kept where `placement` says.
pub fn optimizer(config: &TrainingConfig, placement: Placement) -> ModuleOptimizer {
    match config.optimizer {
        OptimizerKind::Adam => {
            let (beta_1, beta_2) = (config.beta1 as f32, config.beta2 as f32);
            let epsilon = config.epsilon as f32;
            match placement {
                Placement::Host => ModuleOptimizer::from(HostAdam::new(beta_1, beta_2, epsilon)),
                Placement::Device { .. } => adam_config(beta_1, beta_2, epsilon).init(),
            }
        }
        OptimizerKind::KerasAdam => ModuleOptimizer::from(KerasAdam {
            beta_1: config.beta1,
            beta_2: config.beta2,
            epsilon: config.epsilon,
        }),
        OptimizerKind::Sgd => SgdConfig::new().init(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor(values: &[f32]) -> Tensor<1> {
        Tensor::from_data(
            TensorData::new(values.to_vec(), [values.len()]),
            &Device::flex(),
        )
    }

    /// Where two tensors first differ in their bits, if anywhere.
    fn first_difference(a: &Tensor<1>, b: &Tensor<1>) -> Option<(usize, f32, f32)> {
        let (a, b) = (a.clone().into_data(), b.clone().into_data());
        let (a, b) = (f32s(&a), f32s(&b));
        assert_eq!(a.len(), b.len());
        (0..a.len())
            .find(|&i| a[i].to_bits() != b[i].to_bits())
            .map(|i| (i, a[i], b[i]))
    }

    /// Gradients of every sign and size, a -0 among them (whose first moment keeps its sign
    /// only if the first step does not add `0 · β`), for `steps` steps.
    fn gradient(step: usize, len: usize) -> Vec<f32> {
        (0..len)
            .map(|i| match (i + step) % 7 {
                0 => -0.0,
                1 => 0.0,
                k => (k as f32 - 3.5) * 10f32.powi((i % 9) as i32 - 6) * (step as f32 + 0.3),
            })
            .collect()
    }

    #[test]
    fn host_adam_moves_the_weights_as_burns_adam_does_bit_for_bit() {
        let (beta_1, beta_2, epsilon) = (0.9, 0.999, 1e-7);
        let burn = adam_config(beta_1, beta_2, epsilon).build();
        let host = HostAdam::new(beta_1, beta_2, epsilon);
        // Several tasks of the parallel step, the last one short.
        let len = 2 * ADAM_CHUNK + 333;
        let start: Vec<f32> = (0..len).map(|i| (i as f32 * 0.37).sin() * 0.05).collect();
        let (mut ours, mut theirs) = (tensor(&start), tensor(&start));
        let (mut our_state, mut their_state) = (None, None);
        for step in 0..6 {
            let grad = gradient(step, len);
            (ours, our_state) = host.step(1e-3, ours, tensor(&grad), our_state);
            (theirs, their_state) = burn.step(1e-3, theirs, tensor(&grad), their_state);
            let weights = first_difference(&ours, &theirs);
            assert_eq!(weights, None, "weights, step {step}");
            let (a, b) = (
                &our_state.as_ref().unwrap().momentum,
                &their_state.as_ref().unwrap().momentum,
            );
            assert_eq!(a.time, b.time);
            let first_moment = first_difference(&a.moment_1, &b.moment_1);
            assert_eq!(first_moment, None, "first moment, step {step}");
            let second_moment = first_difference(&a.moment_2, &b.moment_2);
            assert_eq!(second_moment, None, "second moment, step {step}");
        }
        // A state one wrote, as a checkpoint holds it, carries on in the other.
        let grad = gradient(6, len);
        let (ours, _) = host.step(1e-3, ours, tensor(&grad), their_state.clone());
        let (theirs, _) = burn.step(1e-3, theirs, tensor(&grad), our_state.clone());
        assert_eq!(first_difference(&ours, &theirs), None);
    }
}
