//! A dense layer's `x · W + b` as a Burn backend extension, so that the flex backend computes
//! it and its gradients into fresh memory. Burn flex fills every product's output with zeros and
//! then copies it into a second allocation to align it, although the product overwrites it all,
//! and that work falls on the training thread (docs/performance.md, eighth round).
//!
//! The arithmetic is Burn's own (its `linear` and the backward pass of it): the same `gemm`
//! calls with the same arguments, the bias then added to each row, the bias gradient by
//! Burn's sum. Training stays bit-identical to Burn's `Linear`, which a test checks. The
//! other backends run Burn's `linear` itself.

// Burn deprecates its ndarray backend, which `--backend ndarray` still offers.
#![allow(deprecated)]

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::flex::{FlexTensor, Layout};
use burn::backend::ops::{ActivationOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, NdArray, backend_extension};
use burn::tensor::{Bytes, DType, Shape, Tensor};

/// The products of a dense layer, forward and backward. Autodiff implements the forward
/// methods only: the gradients are computed by the inner backend, never differentiated again.
#[backend_extension(Flex, NdArray, Cube: cfg(feature = "wgpu"), Autodiff)]
pub trait DenseOps: Backend {
    /// `x · weight + bias`, `x` being `[n, d_in]`.
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::linear(x, weight, Some(bias))
    }

    /// `relu(x · weight + bias)`.
    fn dense_relu(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        Self::relu(Self::dense(x, weight, bias))
    }

    /// `xᵀ · grad`: the weights' gradient.
    fn dense_weight_grad(x: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::linear_weight_backward(x, grad)
    }

    /// `grad · weightᵀ`: the inputs' gradient.
    fn dense_input_grad(weight: FloatTensor<Self>, grad: FloatTensor<Self>) -> FloatTensor<Self> {
        Self::linear_x_backward(weight, grad)
    }
}

impl DenseOps for NdArray {}

#[cfg(feature = "wgpu")]
impl DenseOps for burn::backend::Cube {}

impl DenseOps for Flex {
    fn dense(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        if !plain_layer(&x, &weight, &bias) {
            return Self::linear(x, weight, Some(bias));
        }
        biased(product(&x, &weight), &bias, |v| v)
    }

    fn dense_relu(x: FlexTensor, weight: FlexTensor, bias: FlexTensor) -> FlexTensor {
        if !plain_layer(&x, &weight, &bias) {
            return Self::relu(Self::linear(x, weight, Some(bias)));
        }
        // Burn flex's relu, which lets NaN through.
        biased(product(&x, &weight), &bias, |v| {
            if v.is_nan() || v > 0.0 { v } else { 0.0 }
        })
    }

    fn dense_weight_grad(x: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if !plain_matrices(&[&x, &grad]) {
            return Self::linear_weight_backward(x, grad);
        }
        product(&x.transpose(0, 1), &grad)
    }

    fn dense_input_grad(weight: FlexTensor, grad: FlexTensor) -> FlexTensor {
        if !plain_matrices(&[&weight, &grad]) {
            return Self::linear_x_backward(weight, grad);
        }
        product(&grad, &weight.transpose(0, 1))
    }
}

/// `activation(out + bias)` for each row of `out`, in place: the sum Burn's broadcast addition
/// makes, element by element, then the activation Burn's own pass would apply.
fn biased(mut out: FlexTensor, bias: &FlexTensor, activation: impl Fn(f32) -> f32) -> FlexTensor {
    let width = out.layout().shape()[1];
    assert_eq!(
        bias.layout().shape().num_elements(),
        width,
        "dense: the bias must have one value per output"
    );
    if width == 0 {
        return out;
    }
    let bias = bias.to_contiguous();
    let bias: &[f32] = &bias.storage()[..width];
    for row in out.storage_mut::<f32>().chunks_exact_mut(width) {
        for (v, b) in row.iter_mut().zip(bias) {
            *v = activation(*v + b);
        }
    }
    out
}

/// Whether the fast path takes a layer: single-precision matrices and bias.
fn plain_layer(x: &FlexTensor, weight: &FlexTensor, bias: &FlexTensor) -> bool {
    plain_matrices(&[x, weight]) && bias.dtype() == DType::F32
}

/// Whether the fast path takes these: single-precision matrices.
fn plain_matrices(tensors: &[&FlexTensor]) -> bool {
    tensors
        .iter()
        .all(|t| t.dtype() == DType::F32 && t.layout().shape().num_dims() == 2)
}

/// Products at least this large (`m · n · k`) run on the rayon pool, as in Burn flex.
const PARALLEL_PRODUCT: usize = 192 * 192 * 192;

/// `lhs · rhs` for strided `[m, k]` and `[k, n]` matrices, into memory the product alone writes:
/// Burn flex's `gemm` call otherwise.
fn product(lhs: &FlexTensor, rhs: &FlexTensor) -> FlexTensor {
    let (m, k) = (lhs.layout().shape()[0], lhs.layout().shape()[1]);
    let n = rhs.layout().shape()[1];
    // Burn's matmul asserts it too; here the product reads memory by these sizes.
    assert_eq!(
        rhs.layout().shape()[0],
        k,
        "dense: inner dimensions must match"
    );
    let len = m
        .checked_mul(n)
        .expect("dense: the product's size overflows");
    let mut out: Vec<f32> = if k == 0 {
        vec![0.0; len]
    } else {
        Vec::with_capacity(len)
    };
    if k > 0 && len > 0 {
        let (lhs_rs, lhs_cs) = strides(lhs);
        let (rhs_rs, rhs_cs) = strides(rhs);
        let lhs_data: &[f32] = lhs.storage();
        let rhs_data: &[f32] = rhs.storage();
        let parallelism = if m.saturating_mul(n).saturating_mul(k) >= PARALLEL_PRODUCT {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: the operands are `[m, k]` and `[k, n]` (asserted above), and their strides
        // and offsets come from their layouts, which address only their storage; `out` has
        // room for `m · n` values, and `gemm` writes every one of them without reading any
        // (`read_dst` is false) before the length is set.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                lhs_data.as_ptr().add(lhs.layout().start_offset()),
                lhs_cs,
                lhs_rs,
                rhs_data.as_ptr().add(rhs.layout().start_offset()),
                rhs_cs,
                rhs_rs,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
            out.set_len(len);
        }
    }
    FlexTensor::new(
        Bytes::from_elems(out),
        Layout::contiguous(Shape::new([m, n])),
        DType::F32,
    )
}

/// A matrix's (row, column) strides.
fn strides(t: &FlexTensor) -> (isize, isize) {
    let s = t.layout().strides();
    (s[0], s[1])
}

impl<B: Backend + DenseOps, C: CheckpointStrategy> DenseOps for Autodiff<B, C> {
    fn dense(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        dense_step::<B, C>(x, weight, bias, false)
    }

    fn dense_relu(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
    ) -> FloatTensor<Self> {
        dense_step::<B, C>(x, weight, bias, true)
    }
}

/// A dense layer, with a relu after it where `relu` says, as one step of the autodiff graph.
fn dense_step<B: Backend + DenseOps, C: CheckpointStrategy>(
    x: FloatTensor<Autodiff<B, C>>,
    weight: FloatTensor<Autodiff<B, C>>,
    bias: FloatTensor<Autodiff<B, C>>,
    relu: bool,
) -> FloatTensor<Autodiff<B, C>> {
    let forward = |x, weight, bias| match relu {
        true => B::dense_relu(x, weight, bias),
        false => B::dense(x, weight, bias),
    };
    let x_tracked = x.is_tracked();
    let weight_tracked = weight.is_tracked();
    match DenseBackward
        .prepare::<C>([x.node(), weight.node(), bias.node()])
        .compute_bound()
        .stateful()
    {
        OpsKind::Tracked(mut prep) => {
            // Each operand is kept only for the other's gradient.
            let x_kept = weight_tracked.then(|| prep.checkpoint(&x));
            let weight_kept = x_tracked.then(|| prep.checkpoint(&weight));
            let out = forward(
                x.into_primitive(),
                weight.into_primitive(),
                bias.into_primitive(),
            );
            let kept = Kept {
                x: x_kept,
                weight: weight_kept,
                relu_output: relu.then(|| out.clone()),
            };
            prep.finish(kept, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(forward(
            x.into_primitive(),
            weight.into_primitive(),
            bias.into_primitive(),
        )),
    }
}

#[derive(Debug)]
struct DenseBackward;

/// What a dense step keeps for its backward pass: the checkpointed input and weights, where the
/// other's gradient needs them, and the output where a relu produced it (positive, or NaN,
/// where the relu let the sum through).
#[derive(Debug, Clone)]
struct Kept<T> {
    x: Option<NodeId>,
    weight: Option<NodeId>,
    relu_output: Option<T>,
}

impl<B: Backend + DenseOps> Backward<B, 3> for DenseBackward {
    type State = Kept<B::FloatTensorPrimitive>;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        checkpointer: &mut Checkpointer,
    ) {
        let [x_node, weight_node, bias_node] = ops.parents;
        let Kept {
            x: x_kept,
            weight: weight_kept,
            relu_output,
        } = ops.state;
        let grad = grads.consume::<B>(&ops.node);
        let grad = match relu_output {
            Some(output) => B::relu_backward(output, grad),
            None => grad,
        };
        let mut kept = |id: Option<NodeId>| {
            checkpointer.retrieve_node_output::<B::FloatTensorPrimitive>(
                id.expect("an operand is kept where the other's gradient is wanted"),
            )
        };
        if let Some(node) = x_node {
            let weight = kept(weight_kept);
            grads.register::<B>(node.id, B::dense_input_grad(weight, grad.clone()));
        }
        if let Some(node) = weight_node {
            let x = kept(x_kept);
            grads.register::<B>(node.id, B::dense_weight_grad(x, grad.clone()));
        }
        if let Some(node) = bias_node {
            grads.register::<B>(node.id, B::linear_bias_backward(grad));
        }
    }
}

/// `x · weight + bias` on whatever backend holds `x`, differentiable where it is tracked.
pub fn dense(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as DenseOps>::dense(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

/// `relu(x · weight + bias)` on whatever backend holds `x`, differentiable where it is tracked.
pub fn dense_relu(x: Tensor<2>, weight: Tensor<2>, bias: Tensor<1>) -> Tensor<2> {
    Tensor::from_dispatch(<Dispatch as DenseOps>::dense_relu(
        x.into_dispatch(),
        weight.into_dispatch(),
        bias.into_dispatch(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::tensor::activation::relu;
    use burn::tensor::module::linear;
    use burn::tensor::{Device, Distribution, TensorData};

    fn bits<const D: usize>(t: Tensor<D>) -> Vec<u32> {
        let values = t.into_data().convert::<f32>().to_vec::<f32>().unwrap();
        values.into_iter().map(f32::to_bits).collect()
    }

    fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
        Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
    }

    /// A device, and whether it differentiates.
    type On<'a> = (&'a Device, bool);

    /// `t` with its gradient wanted, where the device differentiates.
    fn tracked<const D: usize>(t: Tensor<D>, (_, autodiff): On<'_>) -> Tensor<D> {
        if autodiff { t.require_grad() } else { t }
    }

    /// A layer's output and, where computed, its input, weight and bias gradients, as bits.
    type Results = (Vec<u32>, [Option<Vec<u32>>; 3]);

    /// [`Results`] of `dense` (or `dense_relu`) and of Burn's `linear` (and `relu`) for `x`,
    /// with weights and a bias (one of its values -0.0) drawn here, tracked on an autodiff
    /// device.
    fn both(on: On<'_>, x: &Tensor<2>, d_out: usize, with_relu: bool) -> [Results; 2] {
        let (device, autodiff) = on;
        let [n, d_in] = x.dims();
        let w = tracked(normal([d_in, d_out], device), on);
        let mut bias = normal([d_out], device).into_data().to_vec::<f32>().unwrap();
        bias[0] = -0.0;
        let b = tracked(
            Tensor::from_data(TensorData::new(bias, [d_out]), device),
            on,
        );
        // Each output weighted differently, so that every gradient is a real product.
        let upstream = normal([n, d_out], device);
        [true, false].map(|ours| {
            let out = match (ours, with_relu, (x.clone(), w.clone(), b.clone())) {
                (true, false, (x, w, b)) => dense(x, w, b),
                (true, true, (x, w, b)) => dense_relu(x, w, b),
                (false, false, (x, w, b)) => linear(x, w, Some(b)),
                (false, true, (x, w, b)) => relu(linear(x, w, Some(b))),
            };
            let grads = autodiff.then(|| (out.clone() * upstream.clone()).sum().backward());
            let grad = |g: Option<Tensor<2>>| g.map(bits);
            let grads = grads.as_ref();
            (
                bits(out),
                [
                    grad(grads.and_then(|g| x.grad(g))),
                    grad(grads.and_then(|g| w.grad(g))),
                    grads.and_then(|g| b.grad(g)).map(bits),
                ],
            )
        })
    }

    /// Inputs of `n x d_in`: drawn and tracked (a hidden layer's), drawn and untracked (the
    /// images'), read through strides (a transposed matrix), and one with a row of zeros and
    /// a NaN.
    fn inputs(on: On<'_>, n: usize, d_in: usize) -> Vec<(&'static str, Tensor<2>)> {
        let device = on.0;
        let mut special = normal([n, d_in], device)
            .into_data()
            .to_vec::<f32>()
            .unwrap();
        special[..d_in].fill(0.0);
        special[d_in] = f32::NAN;
        vec![
            ("tracked", tracked(normal([n, d_in], device), on)),
            ("untracked", normal([n, d_in], device)),
            (
                "strided",
                tracked(normal([d_in, n], device).transpose(), on),
            ),
            (
                "zeros and NaN",
                Tensor::from_data(TensorData::new(special, [n, d_in]), device),
            ),
        ]
    }

    #[test]
    fn dense_layers_compute_what_burns_linear_and_relu_do_bit_for_bit() {
        #[allow(deprecated)]
        let backends = [Device::flex(), Device::ndarray()];
        let devices = backends
            .iter()
            .flat_map(|d| [(d.clone().autodiff(), true), (d.clone(), false)]);
        let mut gradients_compared = 0;
        for (device, autodiff) in devices {
            let on = (&device, autodiff);
            // A product large enough for the rayon pool and a small one, each with and without
            // a relu after it (which zeroes about half of the outputs here).
            for (n, d_in, d_out) in [(300, 200, 130), (7, 5, 3)] {
                for with_relu in [false, true] {
                    for (input, x) in inputs(on, n, d_in) {
                        let [ours, burns] = both(on, &x, d_out, with_relu);
                        let case = format!("{input} {n}x{d_in}x{d_out}, relu {with_relu}");
                        assert_eq!(ours, burns, "{case} on {device:?}");
                        gradients_compared += ours.1.iter().flatten().count();
                    }
                }
            }
        }
        // Weights and bias in all 32 cases on the two autodiff devices, inputs in 16.
        assert_eq!(gradients_compared, 2 * 16 + 2 * 16 + 16);
    }
}
