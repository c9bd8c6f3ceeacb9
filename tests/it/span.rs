//! The span test: SGD keeps the first layer's change in the span of the training inputs,
//! Adam does not.

use crate::common::Workspace;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weightscope::analysis::linalg::Matrix;
use weightscope::analysis::linalg::symmetric_eigen;
use weightscope::analysis::span::span_test;
use weightscope::core::config::OptimizerKind;

#[test]
fn jacobi_eigen_decomposes_a_symmetric_matrix() {
    let (values, vectors) = symmetric_eigen(&[2.0, 1.0, 1.0, 2.0], 2);
    assert!((values[0] - 3.0).abs() < 1e-12 && (values[1] - 1.0).abs() < 1e-12);
    assert!((vectors[0][0].abs() - 0.5f64.sqrt()).abs() < 1e-12);
    let mut rng = ChaCha8Rng::seed_from_u64(3);
    let n = 7;
    let b: Vec<f64> = (0..n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
    let a: Vec<f64> = (0..n * n)
        .map(|ij| {
            (0..n)
                .map(|k| b[(ij / n) * n + k] * b[(ij % n) * n + k])
                .sum()
        })
        .collect();
    let (values, vectors) = symmetric_eigen(&a, n);
    assert!(values.windows(2).all(|w| w[0] >= w[1]));
    for i in 0..n {
        for j in 0..n {
            let rebuilt: f64 = (0..n)
                .map(|k| values[k] * vectors[k][i] * vectors[k][j])
                .sum();
            assert!((rebuilt - a[i * n + j]).abs() < 1e-9, "({i},{j})");
        }
    }
}

#[test]
fn span_test_separates_inside_and_outside() {
    // Inputs span the first two axes of R^4.
    let inputs = Matrix::new(2, 4, vec![1.0, 0.0, 0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    // Column 0 = (3, 4, 0, 0) lies in the span; column 1 = (0, 0, 0, 2) is orthogonal to it.
    let delta = Matrix::new(4, 2, vec![3.0, 0.0, 4.0, 0.0, 0.0, 0.0, 0.0, 2.0]);
    let s = span_test(&inputs, &delta, &[1, 2, 4]);
    assert_eq!((s.images, s.rank), (2, 2));
    assert!(
        (s.outside_fraction - (4.0f64 / 29.0).sqrt()).abs() < 1e-9,
        "{}",
        s.outside_fraction
    );
    assert!((s.top_k[1].energy - 25.0 / 29.0).abs() < 1e-9);
    assert!(
        (s.top_k[2].energy - 25.0 / 29.0).abs() < 1e-9,
        "only two directions exist"
    );
    assert_eq!(s.top_k[0].random, 0.25);
}

fn outside(ws: &Workspace, name: &str, optimizer: OptimizerKind, learning_rate: f64) -> f64 {
    let config = ws
        .config(name, &[16])
        .epochs(5)
        .batch_size(20)
        .optimizer(optimizer, learning_rate)
        .build();
    let run = crate::common::train_into(&config, &ws.path(name));
    run.analysis
        .unwrap()
        .span
        .expect("a 180-image run gets the span test")
        .outside_fraction
}

#[test]
fn sgd_stays_in_the_span_of_the_inputs_and_adam_leaves_it() {
    let ws = Workspace::new(200, 40);
    let sgd = outside(&ws, "sgd", OptimizerKind::Sgd, 0.05);
    let adam = outside(&ws, "adam", OptimizerKind::Adam, 0.001);
    assert!(sgd < 1e-4, "SGD: {sgd}");
    assert!(adam > 0.05, "Adam: {adam}");
}
