//! Matching two networks' neurons (`weightscope match`): hand-made cases whose answer is
//! known, NumPy and SciPy's figures for a fixture, and the command on two small runs.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;
use weightscope::analysis::matching::{LayerComparison, MatchSide, compare_networks};
use weightscope::core::config::Activation;
use weightscope::core::data::ImageSet;
use weightscope::core::weights::{LayerWeights, initial_weights};

use crate::common::{
    Workspace, fixture, random_layer, read_json, s, succeeded, train_results_only, weightscope,
};

/// `n` random images of `pixels` values in [0, 1), as one-row images.
fn random_images(n: usize, pixels: usize, seed: u64) -> ImageSet {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    ImageSet {
        images: (0..n * pixels)
            .map(|_| rand::Rng::random_range(&mut rng, 0.0..1.0))
            .collect::<Vec<f32>>()
            .into(),
        labels: vec![0; n],
        rows: 1,
        cols: pixels,
        channels: 1,
    }
}

fn network(widths: &[usize], seed: u64) -> Vec<LayerWeights> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    widths
        .windows(2)
        .map(|w| random_layer(w[0], w[1], 0.3, &mut rng))
        .collect()
}

fn side<'a>(layers: &'a [LayerWeights], test: &'a ImageSet) -> MatchSide<'a> {
    MatchSide {
        layers,
        activation: Activation::Tanh,
        test,
    }
}

/// Hidden layer `l`'s neurons taken in `order` (B's neuron `k` is A's neuron `order[k]`),
/// with the next layer's inputs re-ordered to match: the same function.
fn permute_hidden(layers: &mut [LayerWeights], l: usize, order: &[usize]) {
    let layer = &layers[l];
    let d = layer.d_out;
    let weight = (0..layer.d_in)
        .flat_map(|i| order.iter().map(move |&k| (i, k)))
        .map(|(i, k)| layer.weight[i * d + k])
        .collect();
    let bias = order.iter().map(|&k| layer.bias[k]).collect();
    layers[l].weight = weight;
    layers[l].bias = bias;
    let next = &layers[l + 1];
    let dn = next.d_out;
    let weight = order
        .iter()
        .flat_map(|&k| next.weight[k * dn..(k + 1) * dn].to_vec())
        .collect();
    layers[l + 1].weight = weight;
}

fn shuffled(n: usize, seed: u64) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    order
}

#[test]
fn a_network_with_its_hidden_neurons_permuted_is_matched_back() {
    let widths = [40, 16, 12, 5];
    let a = network(&widths, 1);
    let mut b = a.clone();
    let orders = [shuffled(16, 2), shuffled(12, 3)];
    permute_hidden(&mut b, 0, &orders[0]);
    permute_hidden(&mut b, 1, &orders[1]);
    let images = random_images(300, 40, 4);
    let layers = compare_networks(side(&a, &images), side(&b, &images));
    for (l, layer) in layers.iter().enumerate() {
        if let Some(order) = orders.get(l) {
            for &(i, k, cos) in &layer.weight_pairs {
                assert_eq!(order[k], i, "layer {l}: A's neuron {i} matched B's {k}");
                assert!((cos - 1.0).abs() < 1e-6, "layer {l}: cosine {cos}");
            }
            let activation = layer.activation_pairs.as_ref().unwrap();
            for &(i, k, corr) in activation {
                assert_eq!(order[k], i, "layer {l}: activations matched {i} with {k}");
                assert!((corr - 1.0).abs() < 1e-6, "layer {l}: correlation {corr}");
            }
        } else {
            assert!(
                layer.activation_pairs.is_none(),
                "the output layer is not matched"
            );
            assert!(layer.weight_scores().iter().all(|c| (c - 1.0).abs() < 1e-6));
        }
        assert!(
            (layer.cka - 1.0).abs() < 1e-6,
            "layer {l}: CKA {}",
            layer.cka
        );
    }
}

#[test]
fn scaling_one_hidden_neuron_lowers_the_cka_but_not_the_matching() {
    let widths = [40, 16, 5];
    let a = network(&widths, 5);
    let mut b = a.clone();
    // Doubling a neuron's incoming weights and bias doubles its output under a linear
    // activation.
    for i in 0..40 {
        b[0].weight[i * 16 + 6] *= 2.0;
    }
    b[0].bias[6] *= 2.0;
    let images = random_images(300, 40, 6);
    let linear = |layers| MatchSide {
        layers,
        activation: Activation::Linear,
        test: &images,
    };
    let layers = compare_networks(linear(&a), linear(&b));
    let hidden = &layers[0];
    for &(i, k, cos) in &hidden.weight_pairs {
        assert_eq!(i, k);
        assert!((cos - 1.0).abs() < 1e-6);
    }
    for &(i, k, corr) in hidden.activation_pairs.as_ref().unwrap() {
        assert_eq!(i, k);
        assert!((corr - 1.0).abs() < 1e-6);
    }
    assert!(hidden.cka < 0.999, "CKA {} should fall below 1", hidden.cka);
    assert!(
        hidden.cka > 0.5,
        "CKA {} fell too far for one neuron",
        hidden.cka
    );
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

#[test]
fn two_independent_random_networks_sit_at_the_random_baseline() {
    let widths = [100, 64, 10];
    let images = random_images(500, 100, 7);
    let relu = |layers| MatchSide {
        layers,
        activation: Activation::Relu,
        test: &images,
    };
    let [a, b, c, d] = [11, 12, 13, 14].map(|seed| initial_weights(&widths, seed));
    let pair = compare_networks(relu(&a), relu(&b));
    let baseline = compare_networks(relu(&c), relu(&d));
    let itself = compare_networks(relu(&a), relu(&a));
    let (cos, base) = (
        mean(&pair[0].weight_scores()),
        mean(&baseline[0].weight_scores()),
    );
    assert!(
        (cos - base).abs() < 0.03,
        "matched cosine {cos} vs baseline {base}"
    );
    assert!(
        cos > 0.05 && cos < 0.5,
        "matching random vectors still finds {cos}"
    );
    assert!(mean(&itself[0].weight_scores()) > 0.999);
    let corr = mean(&pair[0].activation_scores().unwrap());
    let base_corr = mean(&baseline[0].activation_scores().unwrap());
    assert!((corr - base_corr).abs() < 0.05, "{corr} vs {base_corr}");
    assert!(corr < 0.9, "random networks' activations matched at {corr}");
}

fn layers_of(value: &serde_json::Value, widths: &[usize]) -> Vec<LayerWeights> {
    let floats = |v: &serde_json::Value| -> Vec<f32> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap() as f32)
            .collect()
    };
    value
        .as_array()
        .unwrap()
        .iter()
        .zip(widths.windows(2))
        .map(|(layer, w)| LayerWeights {
            d_in: w[0],
            d_out: w[1],
            weight: floats(&layer["weight"]),
            bias: floats(&layer["bias"]),
        })
        .collect()
}

fn pairs_of(value: &serde_json::Value) -> Vec<(usize, usize, f64)> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p[0].as_u64().unwrap() as usize,
                p[1].as_u64().unwrap() as usize,
                p[2].as_f64().unwrap(),
            )
        })
        .collect()
}

fn sorted_scores(pairs: &[(usize, usize, f64)]) -> Vec<f64> {
    let mut scores: Vec<f64> = pairs.iter().map(|p| p.2).collect();
    scores.sort_by(f64::total_cmp);
    scores
}

#[test]
fn the_matching_agrees_with_numpy_and_scipy() {
    let expected = read_json(&fixture("match_expected.json"));
    let numbers = |key: &str| -> Vec<f64> {
        let values = expected[key].as_array().unwrap().iter();
        values.map(|x| x.as_f64().unwrap()).collect()
    };
    let widths: Vec<usize> = numbers("widths").into_iter().map(|w| w as usize).collect();
    let a = layers_of(&expected["a"], &widths);
    let b = layers_of(&expected["b"], &widths);
    let images: Vec<f32> = numbers("images").into_iter().map(|x| x as f32).collect();
    let test = ImageSet {
        labels: vec![0; images.len() / widths[0]],
        images: images.into(),
        rows: 5,
        cols: 6,
        channels: 1,
    };
    let relu = |layers| MatchSide {
        layers,
        activation: Activation::Relu,
        test: &test,
    };
    let got: Vec<LayerComparison> = compare_networks(relu(&a), relu(&b));
    for (layer, want) in got.iter().zip(expected["layers"].as_array().unwrap()) {
        let want_pairs = pairs_of(&want["weight_pairs"]);
        assert_eq!(layer.weight_pairs.len(), want_pairs.len());
        for (g, w) in layer.weight_pairs.iter().zip(&want_pairs) {
            assert_eq!(
                (g.0, g.1),
                (w.0, w.1),
                "weight matching differs from SciPy's"
            );
            assert!((g.2 - w.2).abs() < 1e-5, "cosine {} vs {}", g.2, w.2);
        }
        let want_cka = want["cka"].as_f64().unwrap();
        assert!(
            (layer.cka - want_cka).abs() < 1e-5,
            "CKA {} vs {want_cka}",
            layer.cka
        );
        match (&layer.activation_pairs, want.get("activation_pairs")) {
            (Some(g), Some(w)) => {
                // Dead neurons correlate 0 with every neuron, so ties may pair them
                // differently; the matched scores and their sum are what the optimum fixes.
                let w = pairs_of(w);
                for (x, y) in sorted_scores(g).iter().zip(sorted_scores(&w)) {
                    assert!((x - y).abs() < 1e-5, "correlation {x} vs {y}");
                }
                assert!(g.iter().any(|p| p.2 == 0.0), "the dead neuron correlates 0");
            }
            (None, None) => {}
            other => panic!("activation matching present on one side only: {other:?}"),
        }
    }
}

/// Two small MLPs on the same synthetic data, seeds 7 and 8, trained without their analysis.
fn two_runs(workspace: &Workspace) -> [std::path::PathBuf; 2] {
    [7, 8].map(|seed| {
        let config = workspace
            .config(&format!("seed{seed}"), &[12])
            .epochs(3)
            .with(|c| c.seed = seed)
            .build();
        let out = workspace.path(&format!("runs/seed{seed}"));
        train_results_only(&config, &out);
        out
    })
}

#[test]
fn match_writes_every_layer_and_epoch_with_the_initial_baseline() {
    let workspace = Workspace::new(400, 100);
    let [a, b] = two_runs(&workspace);
    let out = workspace.path("match");
    let stdout = succeeded(&weightscope(&["match", s(&a), s(&b), "--out", s(&out)]));
    assert!(stdout.contains("layer 0: weight cosine"), "{stdout}");
    let json = read_json(&out.join("match.json"));
    assert!(json["a"].as_str().unwrap().contains("seed 7"));
    let layers = json["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    let hidden = &layers[0];
    assert_eq!(hidden["layer"], 0);
    let pairs = hidden["pairs"].as_array().unwrap();
    assert_eq!(pairs.len(), 12);
    let mut matched: Vec<u64> = pairs.iter().map(|p| p[1].as_u64().unwrap()).collect();
    matched.sort();
    assert_eq!(matched, (0..12).collect::<Vec<_>>(), "one-to-one");
    let mean = pairs.iter().map(|p| p[2].as_f64().unwrap()).sum::<f64>() / 12.0;
    assert!((hidden["weight_cos"]["mean"].as_f64().unwrap() - mean).abs() < 1e-9);
    for key in ["activation_corr", "init"] {
        assert!(hidden.get(key).is_some(), "hidden layer lacks {key}");
    }
    let output = &layers[1];
    assert!(output.get("pairs").is_none() && output.get("activation_corr").is_none());
    assert!(output["init"]["cka"].as_f64().is_some());
    let epochs = json["epochs"].as_array().unwrap();
    assert_eq!(
        epochs
            .iter()
            .map(|e| e["epoch"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [0, 1, 2, 3]
    );
    // Epoch 0 is the initial networks, the last epoch the trained ones.
    let first = &epochs[0]["layers"][0];
    assert_eq!(first["cka"], hidden["init"]["cka"]);
    assert_eq!(epochs[3]["layers"][0]["cka"], hidden["cka"]);
    for name in ["match_pairs", "match_cosines", "match_epochs"] {
        assert!(out.join(format!("figures/{name}.png")).is_file(), "{name}");
    }
    let page = std::fs::read_to_string(out.join("match.html")).unwrap();
    assert!(
        page.contains("learn the same neurons in hidden layer 1"),
        "verdict missing"
    );
}

#[test]
fn a_network_matched_with_itself_matches_perfectly() {
    let workspace = Workspace::new(400, 100);
    let [a, _] = two_runs(&workspace);
    let out = workspace.path("self");
    succeeded(&weightscope(&["match", s(&a), s(&a), "--out", s(&out)]));
    let json = read_json(&out.join("match.json"));
    for layer in json["layers"].as_array().unwrap() {
        assert!((layer["weight_cos"]["mean"].as_f64().unwrap() - 1.0).abs() < 1e-6);
        assert!((layer["cka"].as_f64().unwrap() - 1.0).abs() < 1e-6);
    }
    for p in json["layers"][0]["pairs"].as_array().unwrap() {
        assert_eq!(p[0], p[1]);
    }
}

#[test]
fn networks_of_other_widths_or_data_are_refused_in_one_line() {
    let workspace = Workspace::new(400, 100);
    let [a, _] = two_runs(&workspace);
    let config = workspace.config("wide", &[20]).epochs(1).build();
    let wide = workspace.path("runs/wide");
    train_results_only(&config, &wide);
    let out = workspace.path("refused");
    let result = weightscope(&["match", s(&a), s(&wide), "--out", s(&out)]);
    assert!(!result.status.success());
    let stderr = String::from_utf8_lossy(&result.stderr);
    assert!(
        stderr.contains("MLP 784-12-10") && stderr.contains("MLP 784-20-10"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    assert!(
        !out.join("match.json").exists(),
        "nothing written for a refused match"
    );
    let missing = weightscope(&["match", s(&a), "/nonexistent/run", "--out", s(&out)]);
    let stderr = String::from_utf8_lossy(&missing.stderr);
    assert!(stderr.contains("does not exist"), "{stderr}");
}

#[test]
fn weights_files_match_as_their_runs_do() {
    let workspace = Workspace::new(400, 100);
    let runs = two_runs(&workspace);
    let file = |run: &std::path::Path, epoch: usize| {
        let to = workspace.path(&format!(
            "{}-{epoch}.safetensors",
            run.file_name().unwrap().to_string_lossy()
        ));
        let epoch = epoch.to_string();
        succeeded(&weightscope(&[
            "export",
            s(run),
            "--epoch",
            &epoch,
            "--to",
            s(&to),
        ]));
        to
    };
    let [a, b] = &runs;
    let (trained_a, init_a) = (file(a, 3), file(a, 0));
    let (trained_b, init_b) = (file(b, 3), file(b, 0));
    let data = workspace.data_dir();
    let match_with_init = |out: &std::path::Path| {
        succeeded(&weightscope(&[
            "match",
            s(&trained_a),
            s(&trained_b),
            "--init-a",
            s(&init_a),
            "--init-b",
            s(&init_b),
            "--data",
            s(&data),
            "--out",
            s(out),
        ]))
    };
    let out = workspace.path("files");
    match_with_init(&out);
    let from_files = read_json(&out.join("match.json"));
    let runs_out = workspace.path("runs-match");
    succeeded(&weightscope(&["match", s(a), s(b), "--out", s(&runs_out)]));
    let from_runs = read_json(&runs_out.join("match.json"));
    assert_eq!(from_files["layers"], from_runs["layers"]);
    // A weights file's epochs are unknown: only the initial weights pair up by epoch.
    let epochs = from_files["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 1);
    assert_eq!(epochs[0]["epoch"], 0);
    // Without --init-b there is no baseline, and the page says so.
    let out = workspace.path("no-init");
    succeeded(&weightscope(&[
        "match",
        s(&trained_a),
        s(&trained_b),
        "--data",
        s(&data),
        "--out",
        s(&out),
    ]));
    let json = read_json(&out.join("match.json"));
    assert!(json["layers"][0].get("init").is_none());
    let page = std::fs::read_to_string(out.join("match.html")).unwrap();
    assert!(
        page.contains("No baseline"),
        "the verdict needs the initial weights"
    );
    // Matching into the folder of a match with epochs leaves no stale epochs figure behind.
    match_with_init(&runs_out);
    assert!(!runs_out.join("figures/match_epochs.png").exists());
    assert!(runs_out.join("figures/match_pairs.png").exists());
    let page = std::fs::read_to_string(runs_out.join("match.html")).unwrap();
    assert!(
        !page.contains("fig-match_epochs"),
        "the page shows no stale figure"
    );
}
