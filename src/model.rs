//! The dense networks of the article as a Burn module, initialised as Keras does.

use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{relu, sigmoid, tanh};
use burn::tensor::{Device, Tensor, TensorData};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::config::{Activation, ModelConfig};

/// One dense layer's parameters on the host: `weight` is `[d_in, d_out]` row-major (a Keras
/// kernel), so neuron `j`'s weights are column `j`.
#[derive(Debug, Clone, PartialEq)]
pub struct LayerWeights {
    pub d_in: usize,
    pub d_out: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

impl LayerWeights {
    /// Neuron `j`'s incoming weights.
    pub fn column(&self, j: usize) -> Vec<f32> {
        (0..self.d_in)
            .map(|i| self.weight[i * self.d_out + j])
            .collect()
    }

    /// Glorot/Xavier uniform weights in `±sqrt(6 / (d_in + d_out))` and zero biases, the
    /// defaults of a Keras `Dense` layer.
    pub fn glorot_uniform(d_in: usize, d_out: usize, rng: &mut impl Rng) -> Self {
        let limit = (6.0 / (d_in + d_out) as f64).sqrt() as f32;
        Self {
            d_in,
            d_out,
            weight: (0..d_in * d_out)
                .map(|_| rng.random_range(-limit..limit))
                .collect(),
            bias: vec![0.0; d_out],
        }
    }
}

/// The name of dense layer `l` (0-based, as `analysis.json` numbers them) of a network with
/// `layers` dense layers, used alike by figures, reports and docs: "hidden layer 1", …,
/// "output layer".
pub fn layer_name(layers: usize, l: usize) -> String {
    if l + 1 == layers {
        "output layer".into()
    } else {
        format!("hidden layer {}", l + 1)
    }
}

/// Layer widths from input to output, e.g. `[784, 128, 10]`.
pub fn layer_widths(config: &ModelConfig, inputs: usize, classes: usize) -> Vec<usize> {
    std::iter::once(inputs)
        .chain(config.hidden.iter().copied())
        .chain(std::iter::once(classes))
        .collect()
}

/// Keras-style initial weights, drawn on the host from the seed so that every backend starts
/// from bit-identical parameters.
pub fn initial_weights(widths: &[usize], seed: u64) -> Vec<LayerWeights> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    widths
        .windows(2)
        .map(|w| LayerWeights::glorot_uniform(w[0], w[1], &mut rng))
        .collect()
}

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

    /// Logits for a batch `[n, inputs]`.
    pub fn forward(&self, input: Tensor<2>) -> Tensor<2> {
        self.forward_all(input)
            .pop()
            .expect("a DenseNet has at least one layer")
    }

    /// Every layer's output: the hidden layers after their activation, the last as logits.
    pub fn forward_all(&self, input: Tensor<2>) -> Vec<Tensor<2>> {
        let last = self.layers.len() - 1;
        let mut outputs = Vec::with_capacity(self.layers.len());
        let mut x = input;
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward(x);
            if i < last {
                x = self.activate(x);
            }
            outputs.push(x.clone());
        }
        outputs
    }

    fn activate(&self, x: Tensor<2>) -> Tensor<2> {
        match self.activation {
            Activation::Relu => relu(x),
            Activation::Sigmoid => sigmoid(x),
            Activation::Tanh => tanh(x),
        }
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
    pub fn to_bytes(&self) -> anyhow::Result<Vec<u8>> {
        Ok(self
            .clone()
            .into_record()
            .into_bytes()
            .map_err(|e| anyhow::anyhow!("cannot encode the weights: {e}"))?
            .to_vec())
    }

    /// Rebuilds a network from [`DenseNet::to_bytes`]; `shape` gives the layer sizes.
    pub fn from_bytes(
        bytes: &[u8],
        shape: &[LayerWeights],
        activation: Activation,
        device: &Device,
    ) -> anyhow::Result<Self> {
        burn::store::ModuleRecord::from_bytes(burn::tensor::Bytes::from_bytes_vec(bytes.to_vec()))
            .and_then(|record| {
                Self::from_weights(shape, activation, device).try_load_record(record)
            })
            .map_err(|e| anyhow::anyhow!("the weights do not load ({e})"))
    }
}

pub fn to_vec(data: TensorData) -> Vec<f32> {
    data.convert::<f32>()
        .try_into_vec::<f32>()
        .expect("float tensors convert to f32")
}
