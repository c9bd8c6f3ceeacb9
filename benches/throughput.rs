//! Benchmarks (`cargo bench`): data loading, one training epoch per CPU backend, the GEMM
//! kernel's achievable FP32 rate on this machine, the analysis pass and the explorer page. Each is repeated and
//! its median reported; training is also given as images/s, GFLOP/s and a fraction of the GEMM
//! rate, the median of fractions each measured right after its epoch. Needs the MNIST copy in
//! data/mnist.
//!
//!     cargo bench --bench throughput            # everything
//!     cargo bench --bench throughput -- train   # only benchmarks whose name contains "train"

use std::path::Path;
use std::time::Instant;

use burn::tensor::Device;
use weightscope::analysis::explorer::ExplorerInputs;
use weightscope::analysis::forward::images_matrix;
use weightscope::analysis::linalg::{Matrix, ProductRows};
use weightscope::analysis::pass::analyze;
use weightscope::analysis::pixel_templates::pixel_templates;
use weightscope::analysis::results::{AnalysisInputs, Snapshot};
use weightscope::core::classes::ClassNames;
use weightscope::core::config::{Activation, Config};
use weightscope::core::data::Mnist;
use weightscope::core::scaling::InputScaling;
use weightscope::core::stop::StopToken;
use weightscope::core::weights::initial_weights;
use weightscope::nn::backend::Placement;
use weightscope::render::explore::{ExplorePage, explore_html};
use weightscope::train::{Outcome, Start, TrainInputs, TrainJob, Unobserved, train};

/// FLOPs per image of the products a training step computes: 2 per multiply-add forward, as
/// many for the weights' gradient, and as many again for the inputs' gradient of every layer
/// but the first (the images need none, and Burn computes none).
fn flops_per_image(widths: &[usize]) -> f64 {
    widths
        .windows(2)
        .enumerate()
        .map(|(i, w)| if i == 0 { 4.0 } else { 6.0 } * (w[0] * w[1]) as f64)
        .sum()
}

/// The count this benchmark gave until 2026-12-07, and issue 22's targets use: three products
/// for every layer, the images' gradient included.
fn three_product_flops_per_image(widths: &[usize]) -> f64 {
    widths.windows(2).map(|w| 6.0 * (w[0] * w[1]) as f64).sum()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn time_it(reps: usize, mut f: impl FnMut() -> f64) -> f64 {
    median((0..reps).map(|_| f()).collect())
}

fn selected(filter: &Option<String>, name: &str) -> bool {
    filter.as_ref().is_none_or(|f| name.contains(f.as_str()))
}

fn gemm_gflops(reps: usize) -> f64 {
    let n = 1024;
    let a = Matrix::new(n, n, (0..n * n).map(|i| (i % 17) as f32 * 0.01).collect());
    let b = Matrix::new(n, n, (0..n * n).map(|i| (i % 13) as f32 * 0.01).collect());
    let secs = time_it(reps, || {
        let t = Instant::now();
        std::hint::black_box(a.matmul(&b));
        t.elapsed().as_secs_f64()
    });
    2.0 * (n * n * n) as f64 / secs / 1e9
}

fn main() {
    // `cargo bench` passes `--bench`; anything else is a name filter.
    let filter = std::env::args().skip(1).find(|a| !a.starts_with("--"));
    let data_dir = Path::new("data/mnist");

    let t = Instant::now();
    let mnist = Mnist::load(data_dir).expect("the benchmarks need data/mnist");
    let load_secs = t.elapsed().as_secs_f64();
    if selected(&filter, "data") {
        let secs = time_it(5, || {
            let t = Instant::now();
            std::hint::black_box(Mnist::load(data_dir).unwrap());
            t.elapsed().as_secs_f64()
        });
        println!(
            "data/load_mnist: {secs:.3} s (70,000 images, gzip IDX; first load {load_secs:.3} s)"
        );
    }

    let gemm = gemm_gflops(7);
    println!("gemm/f32_1024: {gemm:.1} GFLOP/s (the gemm crate, as Burn's flex backend uses it)");

    let (train_set, val) = mnist.train.split_validation(0.02);
    let mut config = Config::default().training;
    config.epochs = 1;
    for (model, hidden) in [("slp", vec![]), ("mlp", vec![128])] {
        #[allow(deprecated)]
        for (backend, device) in [("flex", Device::flex()), ("ndarray", Device::ndarray())] {
            let name = format!("train/{model}_epoch_{backend}");
            if !selected(&filter, &name) {
                continue;
            }
            let mut widths = vec![784];
            widths.extend(&hidden);
            widths.push(10);
            let init = initial_weights(&widths, 12345);
            // The GEMM rate is measured again after each epoch: a shared machine's speed
            // drifts by a quarter within a minute, and a rate from another moment made the
            // fraction swing as much.
            let mut fractions = Vec::new();
            let images = train_set.len() as f64;
            let gflops_at = |secs: f64| images * flops_per_image(&widths) / secs / 1e9;
            let secs = time_it(5, || {
                let job = TrainJob {
                    training: &config,
                    seed: 12345,
                    activation: Activation::Relu,
                    data: TrainInputs {
                        train: (&train_set).into(),
                        validation: (&val).into(),
                        test: &val,
                        placement: Placement::Host,
                    },
                    device: &device,
                };
                let stop = StopToken::new();
                let secs = match train(job, Start::Fresh(&init), &mut Unobserved, &stop).unwrap() {
                    Outcome::Finished(trained) => trained.history[0].seconds,
                    Outcome::Interrupted(_) => unreachable!("nothing asks it to stop"),
                };
                fractions.push(gflops_at(secs) / gemm_gflops(3));
                secs
            });
            let gflops = gflops_at(secs);
            let fraction = 100.0 * median(fractions);
            let as_three_products =
                fraction * three_product_flops_per_image(&widths) / flops_per_image(&widths);
            println!(
                "{name}: {secs:.3} s/epoch, {:.0} images/s, {gflops:.2} GFLOP/s = {fraction:.1}% of the GEMM rate measured beside each epoch ({as_three_products:.1}% counting the images' gradient too)",
                images / secs,
            );
        }
    }

    if selected(&filter, "product") {
        // The analysis's costliest step: the training images (unit rows) times a layer.
        let values = mnist.train.images.to_vec();
        let images =
            Matrix::new(mnist.train.len(), mnist.train.pixels(), values.clone()).normalized_rows();
        let layer = &initial_weights(&[784, 128], 1)[0];
        let weights = Matrix::new(784, 128, layer.weight.clone());
        let dense = time_it(5, || {
            let t = Instant::now();
            std::hint::black_box(images.matmul(&weights));
            t.elapsed().as_secs_f64()
        });
        let rows = ProductRows::unit_rows(images.rows, images.cols, &values);
        let picked = time_it(5, || {
            let t = Instant::now();
            std::hint::black_box(rows.rows_matmul(0, images.rows, &weights));
            t.elapsed().as_secs_f64()
        });
        println!(
            "product/train_images_x_784x128: dense {dense:.3} s, as the analysis multiplies them {picked:.3} s"
        );
    }

    if selected(&filter, "analysis") {
        // 21 snapshots shaped like a 20-epoch MLP run; the figures do not depend on how
        // well the weights were trained, the work does not either.
        let snapshots: Vec<Snapshot> = (0..=20)
            .map(|epoch| Snapshot {
                epoch,
                layers: initial_weights(&[784, 128, 10], epoch as u64),
            })
            .collect();
        for (name, snaps, explorer) in [
            ("analysis/mlp_trained_vs_init", &snapshots[..][..2], false),
            (
                "analysis/mlp_with_20_epochs_of_dynamics",
                &snapshots[..],
                false,
            ),
            // The same with every epoch's view for the explorer page, from the same searches.
            (
                "analysis/mlp_with_20_epochs_and_the_explorers_views",
                &snapshots[..],
                true,
            ),
        ] {
            let secs = time_it(3, || {
                let t = Instant::now();
                std::hint::black_box(analyze(&AnalysisInputs {
                    activation: Activation::Relu,
                    train: &mnist.train,
                    test: &mnist.test,
                    probe_index: 1,
                    snapshots: snaps,
                    trained_on: None,
                    explorer,
                }));
                t.elapsed().as_secs_f64()
            });
            println!("{name}: {secs:.3} s");
        }
    }

    if selected(&filter, "explorer") {
        // The page of a 20-epoch MLP run: `explore RUN`'s own searches, then the packing of
        // the page (what `analyze` does after handing the page its views).
        let snapshots: Vec<Snapshot> = (0..=20)
            .map(|epoch| Snapshot {
                epoch,
                layers: initial_weights(&[784, 128, 10], epoch as u64),
            })
            .collect();
        let inputs = ExplorerInputs::new(Activation::Relu, &mnist.train, &mnist.test);
        let mut views = Vec::new();
        let searches = time_it(3, || {
            let t = Instant::now();
            views = snapshots.iter().map(|s| inputs.epoch_view(s)).collect();
            t.elapsed().as_secs_f64()
        });
        println!("explorer/mlp_searches_21_epochs: {searches:.3} s");
        let class_names = ClassNames::of_data(data_dir, 10, None).unwrap();
        let scaling = InputScaling::default();
        let page = ExplorePage {
            model: "MLP 784-128-10",
            activation: Activation::Relu,
            probe_index: 1,
            snapshots: &snapshots,
            snapshot_names: None,
            views: &views,
            train: &mnist.train,
            test: &mnist.test,
            scaling: &scaling,
            class_names: &class_names,
        };
        let packing = time_it(3, || {
            let t = Instant::now();
            std::hint::black_box(explore_html(&page).unwrap());
            t.elapsed().as_secs_f64()
        });
        println!("explorer/mlp_page_21_epochs: {packing:.3} s");
    }

    if selected(&filter, "pixel_templates") {
        // Every layer's pixel templates of one snapshot over the 10,000 test images: the
        // closed forms for the article's MLP and the deep MLP, the per-image chain beyond.
        let test = images_matrix(&mnist.test);
        for widths in [
            &[784, 128, 10][..],
            &[784, 256, 128, 10],
            &[784, 128, 64, 32, 10],
        ] {
            let layers = initial_weights(widths, 7);
            let secs = time_it(3, || {
                let t = Instant::now();
                std::hint::black_box(pixel_templates(&layers, Activation::Relu, &test));
                t.elapsed().as_secs_f64()
            });
            let name: Vec<String> = widths.iter().map(ToString::to_string).collect();
            println!("pixel_templates/{}: {secs:.3} s", name.join("-"));
        }
    }
}
