//! The optimisers a config names; among them Adam exactly as Keras computes it, for lockstep
//! comparisons with TensorFlow.
//!
//! Burn's `Adam` follows PyTorch: `m̂ / (sqrt(v̂) + ε)` with bias-corrected moments. Keras folds
//! the bias corrections into the step size and adds ε to the uncorrected `sqrt(v)`:
//! `lr · sqrt(1 - β2^t) / (1 - β1^t) · m / (sqrt(v) + ε)`. The two differ only through ε,
//! which Keras effectively scales by `1 / sqrt(1 - β2^t)` (about 32x on the first step).

use burn::optim::{
    AdamConfig, AdamState, AdaptiveMomentumState, LearningRate, ModuleOptimizer, Optimizer,
    SgdConfig,
};
use burn::tensor::{Device, Tensor};

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

/// The optimiser a training config asks for.
pub fn optimizer(config: &TrainingConfig) -> ModuleOptimizer {
    match config.optimizer {
        OptimizerKind::Adam => AdamConfig::new()
            .with_beta_1(config.beta1 as f32)
            .with_beta_2(config.beta2 as f32)
            .with_epsilon(config.epsilon as f32)
            .init(),
        OptimizerKind::KerasAdam => ModuleOptimizer::from(KerasAdam {
            beta_1: config.beta1,
            beta_2: config.beta2,
            epsilon: config.epsilon,
        }),
        OptimizerKind::Sgd => SgdConfig::new().init(),
    }
}
