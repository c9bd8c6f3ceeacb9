//! The dense networks of the article as a Burn module, built from host weights.

use crate::core::config::Activation;
use crate::core::weights::LayerWeights;
use crate::nn::dense::{dense, dense_relu};
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};

/// A stack of dense layers with one activation between them; the last layer emits logits
/// (the softmax lives in the loss, as in Keras's `from_logits` path).
#[derive(Module, Debug)]
pub struct DenseNet {
    pub layers: Vec<Linear>,
    #[module(skip)]
    pub activation: Activation,
}

impl DenseNet {
    pub fn from_weights(layers: &[LayerWeights], activation: Activation, device: &Device) -> Self {
        let layers = layers
            .iter()
            .map(|l| {
                let mut linear = LinearConfig::new(l.d_in, l.d_out).init(device);
                linear.weight =
                    Param::from_data(TensorData::new(l.weight.clone(), [l.d_in, l.d_out]), device);
                linear.bias = Some(Param::from_data(
                    TensorData::new(l.bias.clone(), [l.d_out]),
                    device,
                ));
                linear
            })
            .collect();
        Self { layers, activation }
    }

    /// Logits for a batch `[n, inputs]`: the training pass. The host's own forward pass
    /// (`analysis::forward`) computes the same function for everything after training.
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        let last = self.layers.len() - 1;
        let mut x = input;
        for (i, layer) in self.layers.iter().enumerate() {
            x = self.layer_forward(layer, x, i < last);
        }
        x
    }

    /// One layer's output: activated where `hidden`, logits otherwise.
    fn layer_forward(&self, layer: &Linear, x: Tensor<2>, hidden: bool) -> Tensor<2> {
        let Some(bias) = &layer.bias else {
            let z = layer.forward(x);
            return if hidden { self.activate(z) } else { z };
        };
        let (weight, bias) = (layer.weight.val(), bias.val());
        match (hidden, self.activation) {
            // In the product's own pass over its output.
            (true, Activation::Relu) => dense_relu(x, weight, bias),
            (true, _) => self.activate(dense(x, weight, bias)),
            (false, _) => dense(x, weight, bias),
        }
    }

    fn activate(&self, x: Tensor<2>) -> Tensor<2> {
        match self.activation {
            Activation::Relu => relu(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => tanh(x),
            Activation::Linear => x,
        }
    }

    /// Layer widths, input to output.
    pub fn widths(&self) -> Vec<usize> {
        let mut out = vec![self.layers[0].weight.val().dims()[0]];
        out.extend(self.layers.iter().map(|l| l.weight.val().dims()[1]));
        out
    }

    /// Copies the parameters to the host.
    pub fn weights(&self) -> Vec<LayerWeights> {
        self.layers
            .iter()
            .map(|l| {
                let [d_in, d_out] = l.weight.val().dims();
                LayerWeights {
                    d_in,
                    d_out,
                    weight: to_vec(l.weight.val().into_data()),
                    bias: l
                        .bias
                        .as_ref()
                        .map(|b| to_vec(b.val().into_data()))
                        .unwrap_or_else(|| vec![0.0; d_out]),
                }
            })
            .collect()
    }
}

impl DenseNet {
    /// The parameters as burnpack bytes (Burn's store format).
    pub(crate) fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot encode the weights: {e}"))?
            .to_vec())
    }

    /// Rebuilds a network of the given layer widths from [`DenseNet::to_bytes`].
    pub fn from_bytes(
        bytes: &[u8],
        widths: &[usize],
        activation: Activation,
        device: &Device,
    ) -> anyhow::Result<Self> {
        burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .and_then(|record| Self::shaped(widths, activation, device).try_load_record(record))
            .map_err(|e| anyhow::anyhow!("the weights do not load ({e})"))
    }

    /// A network of the given widths whose parameters are about to be replaced.
    fn shaped(widths: &[usize], activation: Activation, device: &Device) -> Self {
        let layers = widths
            .windows(2)
            .map(|w| LinearConfig::new(w[0], w[1]).init(device))
            .collect();
        Self { layers, activation }
    }
}

fn to_vec(data: TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensors convert to f32")
}
