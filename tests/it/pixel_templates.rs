//! Pixel templates: the mean over inputs of d z_j / d x, for every neuron of every layer,
//! checked against their definition (finite differences), against closed cases (the first
//! layer, a linear network) and against NumPy's explicit per-input Jacobians.

use crate::common::{fixture, random_layer};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use safetensors::SafeTensors;
use weightscope::analysis::forward::pre_activations;
use weightscope::analysis::linalg::Matrix;
use weightscope::analysis::pixel_templates::pixel_templates;
use weightscope::core::config::Activation;
use weightscope::core::weights::LayerWeights;

fn network(widths: &[usize], seed: u64) -> Vec<LayerWeights> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    widths
        .windows(2)
        .map(|w| random_layer(w[0], w[1], 0.5, &mut rng))
        .collect()
}

fn inputs(n: usize, d: usize, seed: u64) -> Matrix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    Matrix::new(
        n,
        d,
        (0..n * d).map(|_| rng.random_range(0.0..1.0)).collect(),
    )
}

fn kernel(layer: &LayerWeights) -> Matrix {
    Matrix::new(layer.d_in, layer.d_out, layer.weight.clone())
}

fn largest_difference(a: &Matrix, b: &Matrix) -> f32 {
    assert_eq!((a.rows, a.cols), (b.rows, b.cols));
    a.data
        .iter()
        .zip(&b.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

#[test]
fn the_first_layer_templates_are_its_weights() {
    let layers = network(&[7, 5, 4, 3], 1);
    let x = inputs(9, 7, 2);
    for activation in [Activation::Relu, Activation::Tanh] {
        let p = pixel_templates(&layers, activation, &x);
        assert_eq!(p.len(), 3);
        assert_eq!(p[0], kernel(&layers[0]).transpose());
        for (l, t) in p.iter().enumerate() {
            assert_eq!((t.rows, t.cols), (layers[l].d_out, 7), "layer {l}");
        }
    }
}

#[test]
fn a_linear_network_has_the_product_of_its_weights_as_templates() {
    // Two closed forms (layers 1 and 2) and the chain summed input by input (layer 3).
    let layers = network(&[6, 5, 4, 3, 2], 3);
    let x = inputs(11, 6, 4);
    let p = pixel_templates(&layers, Activation::Linear, &x);
    let mut product = kernel(&layers[0]);
    for (l, layer) in layers.iter().enumerate().skip(1) {
        product = product.matmul(&kernel(layer));
        let expected = product.transpose();
        let difference = largest_difference(&p[l], &expected);
        assert!(difference < 1e-5, "layer {l}: {difference}");
    }
}

/// d z_j / d x_p of layer `l`, by central differences, averaged over the inputs.
fn finite_difference(
    layers: &[LayerWeights],
    activation: Activation,
    x: &Matrix,
    l: usize,
) -> Matrix {
    let eps = 1e-3f32;
    let neurons = layers[l].d_out;
    let mut out = Matrix::new(neurons, x.cols, vec![0.0; neurons * x.cols]);
    for p in 0..x.cols {
        let (mut up, mut down) = (x.clone(), x.clone());
        for r in 0..x.rows {
            up.data[r * x.cols + p] += eps;
            down.data[r * x.cols + p] -= eps;
        }
        let z_up = &pre_activations(layers, activation, &up)[l];
        let z_down = &pre_activations(layers, activation, &down)[l];
        for j in 0..neurons {
            let sum: f64 = (0..x.rows)
                .map(|r| f64::from(z_up.get(r, j)) - f64::from(z_down.get(r, j)))
                .sum();
            out.data[j * x.cols + p] = (sum / (2.0 * f64::from(eps) * x.rows as f64)) as f32;
        }
    }
    out
}

#[test]
fn templates_are_mean_input_gradients_by_finite_differences() {
    let layers = network(&[8, 6, 5, 4, 3], 5);
    let x = inputs(30, 8, 6);
    for activation in [Activation::Relu, Activation::Tanh, Activation::Sigmoid] {
        let p = pixel_templates(&layers, activation, &x);
        for (l, template) in p.iter().enumerate() {
            let numeric = finite_difference(&layers, activation, &x, l);
            let difference = largest_difference(template, &numeric);
            // f32 differences of size 1e-3: the rounding of z (about 1e-7 relative) divided by
            // 2e-3 stays below 1e-4 for these magnitudes.
            assert!(difference < 1e-4, "{activation} layer {l}: {difference}");
        }
    }
}

#[test]
fn templates_match_numpy_per_input_jacobians() {
    let imported = weightscope::interop::read(&fixture("pixel_net.safetensors"), 784)
        .expect("the fixture network reads");
    let activation = imported.activation.expect("the fixture records tanh");
    assert_eq!(activation, Activation::Tanh);
    let bytes = std::fs::read(fixture("pixel_expected.safetensors")).unwrap();
    let expected = SafeTensors::deserialize(&bytes).unwrap();
    let matrix = |name: &str| {
        let t = expected.tensor(name).unwrap();
        let values = t
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        Matrix::new(t.shape()[0], t.shape()[1], values)
    };
    let x = matrix("x");
    let p = pixel_templates(&imported.layers, activation, &x);
    assert_eq!(p.len(), 4);
    for (l, template) in p.iter().enumerate() {
        let numpy = matrix(&format!("expected.{l}"));
        let difference = largest_difference(template, &numpy);
        assert!(difference < 1e-5, "layer {l}: {difference}");
    }
}
