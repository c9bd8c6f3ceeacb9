//! A whole run: validate everything up front, train, then save what the analysis needs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::Device;

use crate::analysis::pass::{Analysis, AnalysisInputs, Snapshot, analyze};
use crate::artifacts::{
    ANALYSIS_FILE, FIGURES_DIR, INITIAL_WEIGHTS_FILE, METRICS_FILE, Metrics, RunDir, WEIGHTS_FILE,
    snapshot_file,
};
use crate::backend;
use crate::config::Config;
use crate::data::{ImageSet, Mnist, NUM_CLASSES};
use crate::figures::{FigureInputs, draw_all};
use crate::model::{DenseNet, initial_weights, layer_widths};
use crate::progress::Progress;
use crate::train::{Outcome, Start, TrainInputs, train};

/// Data as a run sees it: the (possibly limited) training file and the test file. The
/// training/validation split is made only while training, so the copies it needs do not
/// outlive it.
pub struct RunData {
    pub full_train: ImageSet,
    pub test: ImageSet,
    validation_split: f64,
}

impl RunData {
    pub fn load(config: &Config) -> Result<Self> {
        let mnist = Mnist::load(&config.data.dir)?;
        let full_train = if config.data.train_limit > 0 {
            mnist.train.head(config.data.train_limit)
        } else {
            mnist.train
        };
        let data = Self {
            full_train,
            test: mnist.test,
            validation_split: config.data.validation_split,
        };
        if data.train_len() == 0 {
            bail!(
                "no training images left after the validation split of {}: lower \
                 data.validation_split or raise data.train_limit",
                config.data.validation_split
            );
        }
        let probe = config.analysis.probe_index;
        let len = data.full_train.len();
        if probe >= len {
            bail!(
                "analysis.probe_index {probe} is beyond the {len} training images: choose an \
                 index below {len}"
            );
        }
        Ok(data)
    }

    /// Images trained on; the rest of the training file is validation data.
    pub fn train_len(&self) -> usize {
        self.full_train.split_index(self.validation_split)
    }

    /// The training and validation sets, split as Keras splits them.
    pub fn split(&self) -> (ImageSet, ImageSet) {
        self.full_train.split_validation(self.validation_split)
    }
}

pub fn model_description(config: &Config, widths: &[usize]) -> String {
    let kind = if config.model.hidden.is_empty() {
        "SLP"
    } else {
        "MLP"
    };
    let widths: Vec<String> = widths.iter().map(|w| w.to_string()).collect();
    format!("{kind} {}", widths.join("-"))
}

/// The seed's Keras-style draw, or TensorFlow's own initial weights in lockstep mode.
fn initial_weights_for(
    config: &Config,
    widths: &[usize],
) -> Result<Vec<crate::model::LayerWeights>> {
    let Some(dir) = &config.init.keras_weights else {
        return Ok(initial_weights(widths, config.seed));
    };
    let model = crate::keras::KerasModel::for_hidden_layers(config.model.hidden.len())?;
    let layers = crate::keras::load(dir, model, "init_")?;
    let mut found = vec![layers[0].d_in];
    found.extend(layers.iter().map(|l| l.d_out));
    if found != widths {
        bail!(
            "init.keras_weights in {} holds a {found:?} network but the config describes \
             {widths:?}: make model.hidden match the reference model",
            dir.display()
        );
    }
    Ok(layers)
}

pub struct RunSummary {
    pub dir: RunDir,
    pub metrics: Metrics,
    pub analysis: Option<Analysis>,
}

/// Trains as `config` says and writes the run folder `out` (default `runs/<name>`).
pub fn run_training(
    config: &Config,
    out: Option<PathBuf>,
    with_analysis: bool,
    progress: &mut Progress,
) -> Result<RunSummary> {
    config.validate()?;
    let data = RunData::load(config)?;
    let widths = layer_widths(&config.model, data.full_train.pixels(), NUM_CLASSES);
    let initial = initial_weights_for(config, &widths)?;
    let backend = backend::open(config.backend)?;
    let out = out.unwrap_or_else(|| PathBuf::from("runs").join(&config.name));
    // Only now, with every input checked, does anything get written.
    let dir = RunDir::prepare(&out)?;
    dir.remove_checkpoint()?;
    dir.remove_previous_results()?;
    dir.write_config(config)?;
    dir.save_weights(
        INITIAL_WEIGHTS_FILE,
        &DenseNet::from_weights(&initial, config.model.activation, &backend.device),
    )?;
    let run = Run {
        dir,
        config,
        data,
        backend,
        widths,
        with_analysis,
    };
    run.train(Start::Fresh(&initial), progress)
}

/// Continues an interrupted run from its checkpoint; it ends with the metrics an
/// uninterrupted run would have written.
pub fn resume_training(
    path: &std::path::Path,
    with_analysis: bool,
    progress: &mut Progress,
) -> Result<RunSummary> {
    let dir = RunDir::open(path)?;
    let config = dir.read_config()?;
    let checkpoint = dir.load_checkpoint()?;
    let data = RunData::load(&config)?;
    let backend = backend::open(config.backend)?;
    let widths = layer_widths(&config.model, data.full_train.pixels(), NUM_CLASSES);
    if checkpoint.layers != widths {
        bail!(
            "the checkpoint in {} is for a {:?} network but config.toml describes {widths:?}: \
             the run folder was changed; start the run again",
            dir.path().display(),
            checkpoint.layers
        );
    }
    progress.message(&format!(
        "resuming {} at epoch {}, step {}",
        dir.path().display(),
        checkpoint.epoch,
        checkpoint.step
    ));
    let run = Run {
        dir,
        config: &config,
        data,
        backend,
        widths,
        with_analysis,
    };
    run.train(Start::Resume(checkpoint), progress)
}

/// A run whose inputs have all been checked and whose folder is ready.
struct Run<'a> {
    dir: RunDir,
    config: &'a Config,
    data: RunData,
    backend: backend::Opened,
    widths: Vec<usize>,
    with_analysis: bool,
}

impl Run<'_> {
    fn train(self, start: Start<'_>, progress: &mut Progress) -> Result<RunSummary> {
        let Run {
            dir,
            config,
            data,
            backend,
            widths,
            with_analysis,
        } = self;
        if let Some(line) = backend.announcement() {
            progress.message(&line);
        }
        if let Some(warning) = backend.warning() {
            progress.warn(warning);
        }
        let description = model_description(config, &widths);
        let (train_set, validation) = data.split();
        progress.message(&format!(
            "training {description} on {} ({} train, {} validation, {} test images), backend {}, seed {}",
            config.data.dir.display(),
            train_set.len(),
            validation.len(),
            data.test.len(),
            config.backend,
            config.seed
        ));
        let outcome = train(
            &config.training,
            config.seed,
            start,
            config.model.activation,
            TrainInputs {
                train: train_set,
                validation,
                max_tensor_bytes: backend::max_tensor_bytes(config.backend),
                test: &data.test,
            },
            &backend.device,
            progress,
            |epoch, model| dir.save_weights(&snapshot_file(epoch), model),
        )?;
        let trained = match outcome {
            Outcome::Finished(trained) => trained,
            Outcome::Interrupted(checkpoint) => {
                dir.save_checkpoint(&checkpoint)?;
                bail!(
                    "interrupted in epoch {} at step {}; a checkpoint is saved in {}: continue \
                     with `weightscope --resume {}`",
                    checkpoint.epoch,
                    checkpoint.step,
                    dir.path().display(),
                    dir.path().display()
                );
            }
        };

        dir.save_weights(WEIGHTS_FILE, &trained.model)?;
        let export = crate::interop::ExportInfo {
            activation: config.model.activation,
            epoch: trained.history.len(),
            seed: config.seed,
        };
        dir.write(
            crate::artifacts::SAFETENSORS_FILE,
            &crate::interop::encode(
                &trained.model.weights(),
                &export,
                crate::interop::Format::Safetensors,
            )?,
        )?;
        let metrics = Metrics {
            model: description,
            layers: widths,
            optimizer: config.training.optimizer.name().into(),
            backend: config.backend.to_string(),
            adapter: backend.adapter,
            seed: config.seed,
            epochs: trained.history,
            test: trained.test,
            train_seconds: trained.train_seconds,
        };
        dir.write_history(&metrics.epochs)?;
        dir.write_json(METRICS_FILE, &metrics)?;
        dir.remove_checkpoint()?;
        progress.message(&format!(
            "test - loss: {:.4} - accuracy: {:.4}; trained in {:.1}s",
            metrics.test.loss, metrics.test.accuracy, metrics.train_seconds,
        ));
        let analysis = if with_analysis {
            Some(analyze_loaded(&dir, config, &metrics, &data, progress)?)
        } else {
            None
        };
        progress.message(&format!("results in {}", dir.path().display()));
        Ok(RunSummary {
            dir,
            metrics,
            analysis,
        })
    }
}

/// Re-analyses a finished run from the weights it saved, rewriting `analysis.json` and the
/// figures.
pub fn analyze_run(path: &std::path::Path, progress: &mut Progress) -> Result<Analysis> {
    let dir = RunDir::open(path)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    let data = RunData::load(&config)?;
    analyze_loaded(&dir, &config, &metrics, &data, progress)
}

/// The snapshots a run saved, epoch 0 (initial) to its last epoch.
fn load_snapshots(dir: &RunDir, config: &Config, metrics: &Metrics) -> Result<Vec<Snapshot>> {
    let device = Device::flex();
    let shape = initial_weights(&metrics.layers, 0);
    (0..=metrics.epochs.len())
        .map(|epoch| {
            let model = dir
                .load_weights(&snapshot_file(epoch), &shape, config, &device)
                .with_context(|| format!("the run in {} is incomplete", dir.path().display()))?;
            Ok(Snapshot {
                epoch,
                layers: model.weights(),
            })
        })
        .collect()
}

fn analyze_loaded(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    data: &RunData,
    progress: &mut Progress,
) -> Result<Analysis> {
    let snapshots = load_snapshots(dir, config, metrics)?;
    // Copy the images trained on only where the span test will use them.
    let trained_on =
        (data.train_len() <= crate::analysis::span::MAX_SPAN_IMAGES).then(|| data.split().0);
    write_analysis(
        dir,
        config,
        metrics,
        data,
        &snapshots,
        trained_on.as_ref(),
        progress,
    )
}

/// Analyses `snapshots` (initial first, trained last) and writes `analysis.json` and the
/// figures into `dir`.
fn write_analysis(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    data: &RunData,
    snapshots: &[Snapshot],
    trained_on: Option<&ImageSet>,
    progress: &mut Progress,
) -> Result<Analysis> {
    let started = Instant::now();
    let analysis = analyze(&AnalysisInputs {
        activation: config.model.activation,
        train: &data.full_train,
        test: &data.test,
        probe_index: config.analysis.probe_index,
        snapshots,
        trained_on,
    });
    dir.write_json(ANALYSIS_FILE, &analysis)?;
    let figures = dir.subdir(FIGURES_DIR)?;
    let files = draw_all(
        &FigureInputs {
            analysis: &analysis,
            metrics,
            trained: &snapshots[snapshots.len() - 1].layers,
            init: (snapshots.len() > 1).then(|| snapshots[0].layers.as_slice()),
            activation: config.model.activation,
            train: &data.full_train,
        },
        &figures,
    )?;
    let comparison = tensorflow_comparison(dir, config, metrics)?;
    crate::report::write_run_report(dir, config, metrics, &analysis, comparison.as_ref())?;
    progress.message(&format!(
        "analysis: {} in {:.1}s, {} figure files in {}, {}",
        dir.file(ANALYSIS_FILE).display(),
        started.elapsed().as_secs_f64(),
        files.len(),
        figures.display(),
        dir.file(crate::report::REPORT_FILE).display()
    ));
    Ok(analysis)
}

/// Where the TensorFlow reference results live, relative to the project root.
pub const REFERENCE_DIR: &str = "reference/tensorflow";

/// The comparison with TensorFlow for a run of the article's own setup on MNIST, when the
/// reference results are at hand (they are in the project, not necessarily elsewhere).
fn tensorflow_comparison(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
) -> Result<Option<crate::compare::Comparison>> {
    let reference = std::path::Path::new(REFERENCE_DIR);
    let on_mnist = config.data.dir.file_name().is_some_and(|n| n == "mnist");
    let article_model = matches!(metrics.layers.as_slice(), [784, 10] | [784, 128, 10]);
    let article_training = config.data.train_limit == 0
        && metrics.epochs.len() == 20
        && config.training.batch_size == 500;
    if !(on_mnist
        && article_model
        && article_training
        && !metrics.epochs.is_empty()
        && reference.join("results").is_dir())
    {
        return Ok(None);
    }
    let (comparison, _) = crate::compare::compare_command(dir.path(), reference)?;
    Ok(Some(comparison))
}

/// A finished run read back from its folder.
pub struct LoadedRun {
    pub dir: RunDir,
    pub config: Config,
    pub metrics: Metrics,
    pub analysis: Analysis,
    pub trained: Vec<crate::model::LayerWeights>,
}

impl LoadedRun {
    pub fn open(path: &std::path::Path) -> Result<Self> {
        let dir = RunDir::open(path)?;
        let config = dir.read_config()?;
        let metrics: Metrics = dir.read_json(METRICS_FILE)?;
        let analysis: Analysis = dir.read_json(ANALYSIS_FILE)?;
        let shape = initial_weights(&metrics.layers, 0);
        let trained = dir
            .load_weights(WEIGHTS_FILE, &shape, &config, &Device::flex())?
            .weights();
        Ok(Self {
            dir,
            config,
            metrics,
            analysis,
            trained,
        })
    }
}

/// The article's six-panel figure from an SLP run and an MLP run trained on the same data.
pub fn article_figure(
    slp: &std::path::Path,
    mlp: &std::path::Path,
    out: &std::path::Path,
) -> Result<Vec<PathBuf>> {
    let slp = LoadedRun::open(slp)?;
    let mlp = LoadedRun::open(mlp)?;
    for (run, hidden) in [(&slp, false), (&mlp, true)] {
        if run.config.model.hidden.is_empty() == hidden {
            bail!(
                "{} is {}: pass an SLP run to --slp and an MLP run to --mlp",
                run.dir.path().display(),
                run.metrics.model
            );
        }
    }
    let data = RunData::load(&slp.config)?;
    let out = RunDir::prepare(out)?;
    let figure = crate::figures::article_figure(
        [&slp, &mlp].map(|r| crate::figures::RunPanels {
            analysis: &r.analysis,
            layers: &r.trained,
            activation: r.config.model.activation,
            model: &r.metrics.model,
        }),
        &data.full_train,
    );
    crate::plot::save(&figure, out.path(), "article")
}

/// Options of `analyze --keras-weights`.
pub struct KerasAnalysis<'a> {
    pub weights: &'a std::path::Path,
    pub out: &'a std::path::Path,
    pub data_dir: PathBuf,
    pub probe_index: usize,
    /// The epoch the trained weights come from, to label them in the dynamics.
    pub epochs: usize,
}

/// Runs weightscope's analysis on weights trained by TensorFlow (the reference script's
/// `.npy` files): `<out>/<slp|mlp>/analysis.json` and figures, for each model present.
pub fn analyze_keras(
    options: &KerasAnalysis<'_>,
    progress: &mut Progress,
) -> Result<Vec<(crate::keras::KerasModel, Analysis)>> {
    use crate::keras::{KerasModel, load};
    let mut config = Config::default();
    config.data.dir = options.data_dir.clone();
    config.analysis.probe_index = options.probe_index;
    let models: Vec<KerasModel> = [KerasModel::Slp, KerasModel::Mlp]
        .into_iter()
        .filter(|m| {
            let first = if *m == KerasModel::Slp { "" } else { "0" };
            options
                .weights
                .join(format!("{}_w{first}.npy", m.name()))
                .is_file()
        })
        .collect();
    if models.is_empty() {
        bail!(
            "{} holds no slp_w.npy or mlp_w0.npy: pass the folder the TensorFlow reference script \
             wrote its weights to",
            options.weights.display()
        );
    }
    let loaded = models
        .iter()
        .map(|&m| {
            Ok((
                m,
                load(options.weights, m, "init_")?,
                load(options.weights, m, "")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let data = RunData::load(&config)?;
    let root = RunDir::prepare(options.out)?;
    let mut results = Vec::new();
    for (model, init, trained) in loaded {
        let dir = RunDir::prepare(&root.file(model.name()))?;
        let mut config = config.clone();
        config.model.hidden = trained[1..].iter().map(|l| l.d_in).collect();
        let stack = Stack {
            trained,
            init: Some(init),
            trained_epoch: options.epochs,
            label: "trained by TensorFlow".into(),
            trained_by: "tensorflow",
        };
        let analysis = write_stack_analysis(&dir, &config, &data, stack, progress)?;
        results.push((model, analysis));
    }
    Ok(results)
}

/// Test loss and accuracy of `layers` computed on the host, for weights that were not trained
/// here.
pub fn evaluate_on_host(
    layers: &[crate::model::LayerWeights],
    activation: crate::config::Activation,
    test: &ImageSet,
) -> crate::train::Evaluation {
    let x = crate::analysis::images_matrix(test);
    let p = crate::analysis::propagate(layers, activation, &x);
    let logits = p.outputs.last().expect("a network has a layer");
    let (mut loss, mut correct) = (0f64, 0usize);
    for (r, &label) in test.labels.iter().enumerate() {
        let row = logits.row(r);
        let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let log_sum = row
            .iter()
            .map(|&z| f64::from(z - max).exp())
            .sum::<f64>()
            .ln();
        loss += log_sum - f64::from(row[usize::from(label)] - max);
        let best = crate::analysis::linalg::argmax(row);
        correct += usize::from(best == usize::from(label));
    }
    let n = test.len().max(1) as f64;
    crate::train::Evaluation {
        loss: loss / n,
        accuracy: correct as f64 / n,
    }
}

/// Options of `analyze --weights`.
pub struct WeightsAnalysis<'a> {
    pub weights: &'a std::path::Path,
    pub init: Option<&'a std::path::Path>,
    /// Used where the file's metadata names no activation.
    pub activation: Option<crate::config::Activation>,
    pub out: &'a std::path::Path,
    pub data_dir: PathBuf,
    /// Use only the first N training images, as a run with `data.train_limit` does; 0 = all.
    pub train_limit: usize,
    pub probe_index: usize,
}

/// Analyses a dense stack trained elsewhere (safetensors or .npz) as if weightscope had
/// trained it: `analysis.json`, figures and `report.html` in `out`.
pub fn analyze_weights(options: &WeightsAnalysis<'_>, progress: &mut Progress) -> Result<Analysis> {
    use crate::interop::read;
    let mut config = Config::default();
    config.data.dir = options.data_dir.clone();
    config.data.train_limit = options.train_limit;
    config.analysis.probe_index = options.probe_index;
    let data = RunData::load(&config)?;
    let pixels = data.full_train.pixels();
    let trained = read(options.weights, pixels)?;
    // A single layer has no activation to disagree about.
    let hidden_layers = trained.layers.len() > 1;
    let activation = match (trained.activation, options.activation) {
        (Some(file), Some(flag)) if file != flag && hidden_layers => bail!(
            "{} says its activation is {file} but --activation says {flag}: drop --activation \
             or pass the one the network was trained with",
            options.weights.display()
        ),
        (_, Some(a)) | (Some(a), None) => a,
        (None, None) => crate::config::Activation::Relu,
    };
    let assumed = trained.activation.is_none() && options.activation.is_none() && hidden_layers;
    let init = options
        .init
        .map(|path| {
            let init = read(path, pixels)?;
            let shape = |l: &[crate::model::LayerWeights]| -> Vec<(usize, usize)> {
                l.iter().map(|l| (l.d_in, l.d_out)).collect()
            };
            if shape(&init.layers) != shape(&trained.layers) {
                bail!(
                    "{} holds a network of another shape than {}: pass the initial weights of \
                     the same network to --init",
                    path.display(),
                    options.weights.display()
                );
            }
            Ok(init.layers)
        })
        .transpose()?;
    if trained.layers.last().map(|l| l.d_out) != Some(NUM_CLASSES) {
        bail!(
            "{}'s last layer has {} outputs but the data has {NUM_CLASSES} classes",
            options.weights.display(),
            trained.layers.last().map_or(0, |l| l.d_out)
        );
    }
    config.model.activation = activation;
    config.model.hidden = trained.layers[1..].iter().map(|l| l.d_in).collect();
    let dir = RunDir::prepare(options.out)?;
    if assumed {
        progress.warn(&format!(
            "note: {} does not say which activation its hidden layers use; assuming relu \
             (pass --activation sigmoid or tanh otherwise)",
            options.weights.display()
        ));
    }
    let name = options
        .weights
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    write_stack_analysis(
        &dir,
        &config,
        &data,
        Stack {
            trained: trained.layers,
            init,
            trained_epoch: 1,
            label: format!("from {name}"),
            trained_by: "imported",
        },
        progress,
    )
}

/// A dense stack trained elsewhere, ready for the analysis.
struct Stack {
    trained: Vec<crate::model::LayerWeights>,
    init: Option<Vec<crate::model::LayerWeights>>,
    /// The epoch the trained weights come from, to label them in the dynamics.
    trained_epoch: usize,
    /// What follows the model's description in titles, e.g. `from mine.safetensors`.
    label: String,
    /// `metrics.json`'s `backend`: where it was trained.
    trained_by: &'static str,
}

/// The one path for weights trained elsewhere: test figures on the host, then `config.toml`,
/// `metrics.json`, `analysis.json`, figures and the report, as a run writes them.
fn write_stack_analysis(
    dir: &RunDir,
    config: &Config,
    data: &RunData,
    stack: Stack,
    progress: &mut Progress,
) -> Result<Analysis> {
    let activation = config.model.activation;
    let mut widths = vec![stack.trained[0].d_in];
    widths.extend(stack.trained.iter().map(|l| l.d_out));
    let metrics = Metrics {
        model: format!("{} {}", model_description(config, &widths), stack.label),
        layers: widths,
        optimizer: "unknown".into(),
        backend: stack.trained_by.into(),
        adapter: None,
        seed: 0,
        epochs: Vec::new(),
        test: evaluate_on_host(&stack.trained, activation, &data.test),
        train_seconds: f64::NAN,
    };
    let mut snapshots = Vec::new();
    if let Some(layers) = stack.init {
        snapshots.push(Snapshot { epoch: 0, layers });
    }
    snapshots.push(Snapshot {
        epoch: stack.trained_epoch,
        layers: stack.trained,
    });
    progress.message(&format!(
        "analysing {} ({activation}, test accuracy {:.4}){}",
        metrics.model,
        metrics.test.accuracy,
        if snapshots.len() == 1 {
            "; no --init, so no baselines against initial weights"
        } else {
            ""
        }
    ));
    dir.write_config(config)?;
    dir.write_json(METRICS_FILE, &metrics)?;
    write_analysis(dir, config, &metrics, data, &snapshots, None, progress)
}

/// Where `weightscope export` writes by default: beside the run's own weights.
pub fn default_export_path(run: &std::path::Path, epoch: Option<usize>) -> PathBuf {
    match epoch {
        None => run.join(crate::artifacts::SAFETENSORS_FILE),
        Some(e) => run.join(format!("weights-epoch-{e:03}.safetensors")),
    }
}

/// Writes one snapshot of a run (default its trained weights) as safetensors or `.npz`, laid
/// out as PyTorch's `nn.Sequential`; returns the format and what the export describes.
pub fn export_run(
    run: &std::path::Path,
    epoch: Option<usize>,
    to: &std::path::Path,
) -> Result<(crate::interop::Format, crate::interop::ExportInfo)> {
    use crate::interop::{ExportInfo, Format, encode};
    let format = Format::of(to)?;
    let dir = RunDir::open(run)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    let last = metrics.epochs.len();
    let (file, epoch) = match epoch {
        None => (WEIGHTS_FILE.to_string(), last),
        Some(e) if e <= last => (snapshot_file(e), e),
        Some(e) => bail!(
            "{} has snapshots for epochs 0 to {last}, not {e}: pass --epoch between 0 and {last}",
            run.display()
        ),
    };
    let shape = initial_weights(&metrics.layers, 0);
    let layers = dir
        .load_weights(&file, &shape, &config, &Device::flex())?
        .weights();
    let info = ExportInfo {
        activation: config.model.activation,
        epoch,
        seed: config.seed,
    };
    let bytes = encode(&layers, &info, format)?;
    crate::artifacts::write_atomic(to, &bytes)
        .with_context(|| format!("cannot export to {}: choose a writable --to", to.display()))?;
    Ok((format, info))
}
