//! The analysis functions on small cases computed by hand.

use crate::common::random_layer;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weightscope::analysis::blend::{blend_curve, random_curve};
use weightscope::analysis::collapse::neural_collapse;
use weightscope::analysis::distributed::{n90, selectivity};
use weightscope::analysis::forward::pre_activations;
use weightscope::analysis::linalg::{
    Matrix, ProductRows, argmax, cosine, prefix_projections, summarize,
};
use weightscope::analysis::nearest::nearest_inputs;
use weightscope::analysis::probe::winners;
use weightscope::analysis::templates::{class_means, class_template, effective_templates};
use weightscope::core::config::Activation;
use weightscope::core::data::ImageSet;
use weightscope::core::weights::LayerWeights;

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-5
}

fn layer(d_in: usize, d_out: usize, weight: Vec<f32>) -> LayerWeights {
    LayerWeights {
        d_in,
        d_out,
        weight,
        bias: vec![0.0; d_out],
    }
}

#[test]
fn cosine_is_zero_for_a_zero_vector_and_signed_otherwise() {
    assert_eq!(cosine(&[0.0, 0.0], &[1.0, 2.0]), 0.0);
    assert_eq!(cosine(&[1.0, 2.0], &[0.0, 0.0]), 0.0);
    assert!(close(cosine(&[1.0, 2.0], &[2.0, 4.0]), 1.0));
    assert!(close(cosine(&[1.0, 0.0], &[0.0, 3.0]), 0.0));
    assert!(close(cosine(&[1.0, 1.0], &[-1.0, -1.0]), -1.0));
    assert!(close(cosine(&[3.0, 4.0], &[4.0, 3.0]), 24.0 / 25.0));
}

#[test]
fn argmax_and_summary() {
    assert_eq!(argmax(&[0.5, 2.0, 2.0, -1.0]), 1);
    let s = summarize(&[4.0, 1.0, 3.0, 2.0]);
    assert_eq!((s.mean, s.median, s.min, s.max), (2.5, 2.5, 1.0, 4.0));
    assert_eq!(summarize(&[5.0, 1.0, 3.0]).median, 3.0);
}

#[test]
fn matmul_matches_the_definition() {
    let a = Matrix::new(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    let b = Matrix::new(3, 2, vec![7.0, 8.0, 9.0, 10.0, 11.0, 12.0]);
    assert_eq!(a.matmul(&b).data, vec![58.0, 64.0, 139.0, 154.0]);
    assert_eq!(a.transpose().data, vec![1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
}

#[test]
fn winners_pick_the_most_active_neuron_of_each_layer() {
    // Hidden: h = relu(x W0) with x = [1, 2]: columns (1,0) -> 1, (0,1) -> 2, (-1,-1) -> 0.
    let w0 = layer(2, 3, vec![1.0, 0.0, -1.0, 0.0, 1.0, -1.0]);
    // Output from h = [1, 2, 0]: column (0, 1, 5) -> 2 wins over (1, 0, 0) -> 1.
    let w1 = layer(3, 2, vec![1.0, 0.0, 0.0, 1.0, 0.0, 5.0]);
    let w = winners(&[w0, w1], Activation::Relu, &[1.0, 2.0]);
    assert_eq!(w[0].0, 1);
    assert!(close(w[0].1, 2.0 / 5f64.sqrt()));
    assert_eq!(w[1].0, 1);
    // cos([1, 2, 0], [0, 1, 5]) = 2 / (sqrt 5 * sqrt 26)
    assert!(close(w[1].1, 2.0 / (5f64.sqrt() * 26f64.sqrt())));
}

/// Ten classes whose images are the ten unit vectors of a 10-pixel space.
fn one_hot_set() -> ImageSet {
    let mut images = Vec::new();
    for i in 0..20 {
        let mut img = vec![0.0; 10];
        img[i % 10] = 1.0;
        images.extend(img);
    }
    ImageSet {
        images: images.into(),
        labels: (0..20).map(|i| (i % 10) as u16).collect(),
        rows: 2,
        cols: 5,
        channels: 1,
    }
}

#[test]
fn class_template_of_a_perfect_template_layer() {
    let set = one_hot_set();
    let (means, global) = class_means(&set);
    assert_eq!(
        means.row(3),
        &[0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0]
    );
    assert!(global.iter().all(|&g| (g - 0.1).abs() < 1e-7));
    let identity = Matrix::new(
        10,
        10,
        (0..100)
            .map(|i| if i / 10 == i % 10 { 1.0 } else { 0.0 })
            .collect(),
    );
    let ct = class_template(&means, &global, &identity);
    let d = ct.diag.unwrap();
    assert!(close(d.diag_mean, 1.0) && close(d.offdiag_mean, 0.0));
    assert_eq!(d.rows_diag_max, 10);
    // Centred: (e_c - 0.1) has norm sqrt(0.9); its cosine with e_k is (δ_ck - 0.1) / sqrt(0.9).
    let dc = ct.diag_centered.unwrap();
    assert!(close(dc.diag_mean, 0.9 / 0.9f64.sqrt()), "{dc:?}");
    assert!(close(dc.offdiag_mean, -0.1 / 0.9f64.sqrt()));
    assert!(close(ct.best_match_mean, 1.0));
    // A layer wider than the classes has no diagonal.
    let wide = Matrix::new(10, 12, vec![0.5; 120]);
    assert!(class_template(&means, &global, &wide).diag.is_none());
}

#[test]
fn nearest_input_finds_the_most_similar_row() {
    let inputs = Matrix::new(4, 2, vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0, 0.0]);
    let w = layer(2, 2, vec![1.0, 0.2, 0.0, 1.0]);
    let n = nearest_inputs(&inputs, &[7, 8, 9, 0], &w);
    assert_eq!(n.index, vec![0, 1]);
    assert_eq!(n.label, vec![7, 8]);
    assert!(close(n.cos[0], 1.0));
    assert!(close(n.cos[1], 1.0 / 1.04f64.sqrt()));
    assert!(close(n.summary.max, 1.0) && close(n.summary.min, n.cos[1]));
}

#[test]
fn nearest_input_agrees_with_brute_force_across_blocks() {
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let (n, d, k) = (10_000, 12, 5);
    let inputs = Matrix::new(
        n,
        d,
        (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect(),
    );
    let labels: Vec<u16> = (0..n).map(|i| (i % 10) as u16).collect();
    let w = random_layer(d, k, 0.2, &mut rng);
    let fast = nearest_inputs(&inputs, &labels, &w);
    for j in 0..k {
        let col = w.column(j);
        let (best, idx) = (0..n)
            .map(|i| (cosine(inputs.row(i), &col), i))
            .fold((f64::MIN, 0), |a, b| if b.0 > a.0 { b } else { a });
        assert!(
            (fast.cos[j] - best).abs() < 1e-5,
            "{j}: {} vs {best}",
            fast.cos[j]
        );
        assert!(
            fast.index[j] == idx || (cosine(inputs.row(fast.index[j]), &col) - best).abs() < 1e-5
        );
    }
}

/// Logit k of a network for one input, by the host forward pass.
fn logit(layers: &[LayerWeights], x: &[f32], k: usize) -> f64 {
    let z = pre_activations(
        layers,
        Activation::Relu,
        &Matrix::new(1, x.len(), x.to_vec()),
    );
    f64::from(z.last().unwrap().get(0, k))
}

#[test]
fn effective_templates_are_mean_input_gradients_of_the_logit() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (d, h) = (6, 5);
    let layers = vec![
        random_layer(d, h, 0.2, &mut rng),
        random_layer(h, 10, 0.2, &mut rng),
    ];
    let n = 40;
    let set = ImageSet {
        images: (0..n * d)
            .map(|_| rng.random_range(0.0..1.0))
            .collect::<Vec<f32>>()
            .into(),
        labels: (0..n).map(|i| (i % 10) as u16).collect(),
        rows: 2,
        cols: 3,
        channels: 1,
    };
    let t = effective_templates(&layers, Activation::Relu, &set).unwrap();
    assert_eq!((t.rows, t.cols), (10, d));
    let eps = 1e-3f32;
    for k in [0usize, 3, 9] {
        for p in 0..d {
            let mut sum = 0.0;
            let members: Vec<usize> = (0..n).filter(|&i| set.labels[i] as usize == k).collect();
            for &i in &members {
                let mut up = set.image(i).to_vec();
                let mut down = up.clone();
                up[p] += eps;
                down[p] -= eps;
                sum += (logit(&layers, &up, k) - logit(&layers, &down, k)) / (2.0 * f64::from(eps));
            }
            let numeric = sum / members.len() as f64;
            assert!(
                (f64::from(t.get(k, p)) - numeric).abs() < 1e-3,
                "k {k} p {p}"
            );
        }
    }
    assert!(effective_templates(&layers[..1], Activation::Relu, &set).is_none());
}

/// Ten classes whose centred means are the vertices of a regular simplex: class c sits at
/// `e_c − 1/10` in R^10, every image exactly on its class mean.
fn simplex_code(per_class: usize) -> (Matrix, Vec<u16>) {
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for c in 0..10u16 {
        for _ in 0..per_class {
            data.extend((0..10).map(|j| if j == c as usize { 0.9f32 } else { -0.1 }));
            labels.push(c);
        }
    }
    (Matrix::new(labels.len(), 10, data), labels)
}

/// An output layer whose row k is `weights(k)` (a `[d_in, d_out]` kernel).
fn output_layer(d_in: usize, weight: impl Fn(usize, usize) -> f32) -> LayerWeights {
    LayerWeights {
        d_in,
        d_out: 10,
        weight: (0..d_in * 10).map(|i| weight(i / 10, i % 10)).collect(),
        bias: vec![0.0; 10],
    }
}

#[test]
fn a_simplex_code_has_collapsed_completely() {
    let (h, labels) = simplex_code(5);
    // The classifier's rows are the class means themselves (self-duality).
    let output = output_layer(10, |j, k| if j == k { 0.9 } else { -0.1 });
    let nc = neural_collapse(&h, &labels, &h, &output);
    assert!(nc.nc1.abs() < 1e-9, "no spread within classes: {}", nc.nc1);
    assert!(
        (nc.nc2_cos_mean + 1.0 / 9.0).abs() < 1e-6,
        "{}",
        nc.nc2_cos_mean
    );
    assert!(nc.nc2_cos_std < 1e-6 && nc.nc2_norm_cv < 1e-6, "{nc:?}");
    let nc3 = nc.nc3.expect("the output layer reads this layer");
    assert!(nc3 < 1e-9, "W is M: {nc3}");
    assert_eq!(nc.nc4, 1.0);
}

#[test]
fn neural_collapse_measures_spread_and_misalignment() {
    // The simplex code with every image pushed off its mean, half one way and half the other,
    // along the direction of the first class mean: NC1 grows from 0.
    let (h, labels) = simplex_code(4);
    let m0: Vec<f32> = (0..10).map(|j| if j == 0 { 0.9 } else { -0.1 }).collect();
    let mut data = h.data.clone();
    for r in 0..h.rows {
        let sign = if r % 2 == 0 { 0.5 } else { -0.5 };
        for j in 0..10 {
            data[r * 10 + j] += sign * m0[j];
        }
    }
    let spread = Matrix::new(h.rows, 10, data);
    let output = output_layer(10, |j, k| if j == k { 0.9 } else { -0.1 });
    let nc = neural_collapse(&spread, &labels, &h, &output);
    // By hand: M = P, the centring projector I − 11ᵀ/10, so Σ_B = P/10 and Σ_B⁺ = 10 P;
    // Σ_W = 0.25 m0 m0ᵀ; NC1 = tr(Σ_W Σ_B⁺)/10 = 0.25 m0ᵀ P m0 = 0.25 |m0|² = 0.25 · 0.9.
    let expected = 0.225;
    assert!((nc.nc1 - expected).abs() < 1e-4, "{} vs {expected}", nc.nc1);
    // A classifier with its rows permuted no longer matches the means.
    let shifted = output_layer(10, |j, k| if j == (k + 1) % 10 { 0.9 } else { -0.1 });
    let nc = neural_collapse(&h, &labels, &h, &shifted);
    let nc3 = nc.nc3.expect("the output layer reads this layer");
    assert!(nc3 > 1.0, "{nc3}");
    assert_eq!(nc.nc4, 0.0, "the network now predicts the next class");
}

#[test]
fn a_one_hot_code_needs_one_neuron_per_class_and_is_fully_selective() {
    let mut data = Vec::new();
    let mut labels = Vec::new();
    for c in 0..10u16 {
        for _ in 0..3 {
            data.extend((0..10).map(|j| f32::from(u8::from(j == c as usize))));
            labels.push(c);
        }
    }
    let h = Matrix::new(labels.len(), 10, data);
    let output = output_layer(10, |j, k| if j == k { 2.0 } else { 0.0 });
    assert_eq!(n90(&h, &labels, &output), vec![1; 10]);
    let s = selectivity(&h, &labels);
    assert_eq!((s.mean, s.median, s.frac_above_half), (1.0, 1.0, 1.0));
    // Every neuron equally active for every class: no selectivity, and all ten neurons are
    // needed for 90% of each logit.
    let flat = Matrix::new(30, 10, vec![1.0; 300]);
    let uniform = output_layer(10, |_, _| 1.0);
    assert_eq!(n90(&flat, &labels, &uniform), vec![9; 10]);
    let s = selectivity(&flat, &labels);
    assert_eq!((s.mean, s.frac_above_half), (0.0, 0.0));
}

#[test]
fn a_neuron_equal_to_one_image_is_that_image_and_a_mix_needs_more() {
    // 300 random images; neuron 0 is image 7, neuron 1 an even mix of images 3 and 11.
    let mut rng = ChaCha8Rng::seed_from_u64(4);
    let d = 50;
    let images: Vec<f32> = (0..300 * d).map(|_| rng.random_range(0.0..1.0)).collect();
    let unit = ProductRows::unit_rows(300, d, &images);
    let row = |i: usize| &images[i * d..(i + 1) * d];
    let columns: Vec<f32> = (0..d)
        .flat_map(|j| [row(7)[j], row(3)[j] + row(11)[j]])
        .collect();
    let neurons = Matrix::new(d, 2, columns);
    let one = blend_curve(&unit, &Matrix::new(d, 1, neurons.column(0)));
    assert!((one.mean[0] - 1.0).abs() < 1e-9, "r(1) = {}", one.mean[0]);
    let mix = blend_curve(&unit, &Matrix::new(d, 1, neurons.column(1)));
    assert!(
        mix.mean[0] < 0.99,
        "one image explains a mix only in part: {}",
        mix.mean[0]
    );
    assert!(
        (mix.mean[1] - 1.0).abs() < 1e-9,
        "two images explain it: {}",
        mix.mean[1]
    );
    // r(k) never falls as k grows, and 200 random images in 50 dimensions span everything.
    let random = random_curve(&unit, &neurons);
    assert!(
        random.mean.windows(2).all(|w| w[1] >= w[0] - 1e-12),
        "{random:?}"
    );
    assert!((random.mean[7] - 1.0).abs() < 1e-9, "{random:?}");
    assert!(random.mean[0] < 0.5, "{random:?}");
}

#[test]
fn prefix_projections_match_gram_schmidt_at_every_prefix() {
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let (d, k) = (120, 90);
    let vectors: Vec<Vec<f32>> = (0..k)
        .map(|_| (0..d).map(|_| rng.random_range(-1.0..1.0)).collect())
        .collect();
    let v: Vec<f32> = (0..d).map(|_| rng.random_range(-1.0..1.0)).collect();
    let views: Vec<&[f32]> = vectors.iter().map(Vec::as_slice).collect();
    let projected = prefix_projections(&views, &[&v]).remove(0);
    // Classical Gram–Schmidt, twice, in f64: the squared projection grows by (q_i · v)².
    let mut basis: Vec<Vec<f64>> = Vec::new();
    let mut expected = 0.0;
    for (i, x) in vectors.iter().enumerate() {
        let mut q: Vec<f64> = x.iter().map(|&a| f64::from(a)).collect();
        for _ in 0..2 {
            for b in &basis {
                let along: f64 = q.iter().zip(b).map(|(a, c)| a * c).sum();
                for (a, c) in q.iter_mut().zip(b) {
                    *a -= along * c;
                }
            }
        }
        let norm = q.iter().map(|a| a * a).sum::<f64>().sqrt();
        q.iter_mut().for_each(|a| *a /= norm);
        let along: f64 = q.iter().zip(&v).map(|(a, &b)| a * f64::from(b)).sum();
        expected += along * along;
        basis.push(q);
        assert!(
            (projected[i] - expected).abs() < 1e-9,
            "prefix {}: {} vs {expected}",
            i + 1,
            projected[i]
        );
    }
}
