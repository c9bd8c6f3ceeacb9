//! `analyze`: the analysis of a finished run, or of weights trained elsewhere (safetensors,
//! `.npz`, or the TensorFlow reference script's `.npy` files), written as a run writes it:
//! `analysis.json`, the figures and `report.html`.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};

use super::cli::AnalyzeArgs;
use super::compare::write_comparison;
use super::explore::write_explorer;
use super::progress::Progress;
use crate::analysis::forward::evaluate_on_host;
use crate::analysis::pass::{Analysis, AnalysisInputs, Snapshot, analyze};
use crate::analysis::span::MAX_SPAN_IMAGES;
use crate::core::config::{Activation, Config};
use crate::core::data::{ImageSet, NUM_CLASSES, RunData};
use crate::core::metrics::Metrics;
use crate::core::weights::{LayerWeights, model_description, widths};
use crate::interop::keras::{KerasModel, load};
use crate::interop::read;
use crate::render::figures::{FigureInputs, draw_all};
use crate::render::report::write_run_report;
use crate::store::{
    ANALYSIS_FILE, EXPLORE_FILE, FIGURES_DIR, METRICS_FILE, REPORT_FILE, RunDir, snapshot_file,
};
use crate::tensorflow::REFERENCE_DIR;
use crate::tensorflow::compare::Comparison;
use crate::train::saved::load_layers;

/// The hidden widths of a stack of layers (each later layer's input).
fn hidden_widths(layers: &[LayerWeights]) -> Vec<usize> {
    layers[1..].iter().map(|l| l.d_in).collect()
}

/// Re-analyses a finished run from the weights it saved, rewriting `analysis.json` and the
/// figures.
pub(crate) fn analyze_run(path: &Path, progress: &mut Progress) -> Result<Analysis> {
    let dir = RunDir::open(path)?;
    let config = dir.read_config()?;
    let metrics: Metrics = dir.read_json(METRICS_FILE)?;
    let data = RunData::load(&config)?;
    analyze_loaded(&dir, &config, &metrics, &data, true, progress)
}

/// The snapshots a run saved, epoch 0 (initial) to its last epoch.
pub(super) fn load_snapshots(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
) -> Result<Vec<Snapshot>> {
    (0..=metrics.epochs.len())
        .map(|epoch| {
            let file = snapshot_file(epoch);
            let layers = load_layers(dir, &file, &metrics.layers, config.model.activation)
                .with_context(|| format!("the run in {} is incomplete", dir.path().display()))?;
            Ok(Snapshot { epoch, layers })
        })
        .collect()
}

/// Analyses a finished run; `explorer` asks for its explorer page too.
pub(super) fn analyze_loaded(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    data: &RunData,
    explorer: bool,
    progress: &mut Progress,
) -> Result<Analysis> {
    let snapshots = load_snapshots(dir, config, metrics)?;
    // Copy the images trained on only where the span test will use them.
    let trained_on = (data.train_len() <= MAX_SPAN_IMAGES).then(|| data.split().0);
    let run = RunParts {
        dir,
        config,
        metrics,
        data,
    };
    write_analysis(&run, &snapshots, trained_on.as_ref(), explorer, progress)
}

/// A run folder and what it holds, as the writers of its results need them.
struct RunParts<'a> {
    dir: &'a RunDir,
    config: &'a Config,
    metrics: &'a Metrics,
    data: &'a RunData,
}

/// Analyses `snapshots` (initial first, trained last) and writes `analysis.json`, the
/// figures, the explorer page where asked, and the report (last) into the run's folder.
fn write_analysis(
    run: &RunParts<'_>,
    snapshots: &[Snapshot],
    trained_on: Option<&ImageSet>,
    explorer: bool,
    progress: &mut Progress,
) -> Result<Analysis> {
    let RunParts {
        dir,
        config,
        metrics,
        data,
    } = *run;
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
            test: &data.test,
        },
        &figures,
    )?;
    progress.message(&format!(
        "analysis: {} in {:.1}s, {} figure files in {}",
        dir.file(ANALYSIS_FILE).display(),
        started.elapsed().as_secs_f64(),
        files.len(),
        figures.display(),
    ));
    let comparison = tensorflow_comparison(dir, config, metrics, &analysis)?;
    if explorer {
        let page = dir.file(EXPLORE_FILE);
        write_explorer(&page, config, metrics, data, snapshots, progress)?;
    }
    write_run_report(dir, config, metrics, &analysis, comparison.as_ref())?;
    progress.message(&format!("report: {}", dir.file(REPORT_FILE).display()));
    Ok(analysis)
}

/// The comparison with TensorFlow for a run of the article's own setup, when the reference
/// results are at hand (they are in the project, not necessarily elsewhere).
fn tensorflow_comparison(
    dir: &RunDir,
    config: &Config,
    metrics: &Metrics,
    analysis: &Analysis,
) -> Result<Option<Comparison>> {
    let reference = Path::new(REFERENCE_DIR);
    let trained_here = !metrics.epochs.is_empty();
    if !(trained_here && config.article_model().is_some() && reference.join("results").is_dir()) {
        return Ok(None);
    }
    let (comparison, _) = write_comparison(dir, config, metrics, analysis, reference)?;
    Ok(Some(comparison))
}

/// Options of `analyze --keras-weights`.
pub(crate) struct KerasAnalysis<'a> {
    pub weights: &'a Path,
    pub out: &'a Path,
    pub data_dir: PathBuf,
    pub probe_index: usize,
    /// The epoch the trained weights come from, to label them in the dynamics.
    pub epochs: usize,
}

/// Runs weightscope's analysis on weights trained by TensorFlow (the reference script's
/// `.npy` files): `<out>/<slp|mlp>/analysis.json` and figures, for each model present.
pub(crate) fn analyze_keras(
    options: &KerasAnalysis<'_>,
    progress: &mut Progress,
) -> Result<Vec<(KerasModel, Analysis)>> {
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
        config.model.hidden = hidden_widths(&trained);
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

/// Options of `analyze --weights`.
pub(crate) struct WeightsAnalysis<'a> {
    pub weights: &'a Path,
    pub init: Option<&'a Path>,
    /// Used where the file's metadata names no activation.
    pub activation: Option<Activation>,
    pub out: &'a Path,
    pub data_dir: PathBuf,
    /// Use only the first N training images, as a run with `data.train_limit` does; 0 = all.
    pub train_limit: usize,
    pub probe_index: usize,
}

/// Analyses a dense stack trained elsewhere (safetensors or .npz) as if weightscope had
/// trained it: `analysis.json`, figures and `report.html` in `out`.
pub(crate) fn analyze_weights(
    options: &WeightsAnalysis<'_>,
    progress: &mut Progress,
) -> Result<Analysis> {
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
        (None, None) => Activation::Relu,
    };
    let assumed = trained.activation.is_none() && options.activation.is_none() && hidden_layers;
    let init = options
        .init
        .map(|path| {
            let init = read(path, pixels)?;
            if widths(&init.layers) != widths(&trained.layers) {
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
    config.model.hidden = hidden_widths(&trained.layers);
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
    trained: Vec<LayerWeights>,
    init: Option<Vec<LayerWeights>>,
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
    let layers = widths(&stack.trained);
    let metrics = Metrics {
        model: format!("{} {}", model_description(&layers), stack.label),
        layers,
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
    let run = RunParts {
        dir,
        config,
        metrics: &metrics,
        data,
    };
    write_analysis(&run, &snapshots, None, true, progress)
}

/// `analyze --run`, `--weights` or `--keras-weights`.
pub fn command(args: &AnalyzeArgs) -> Result<()> {
    let mut progress = Progress::new();
    if let (Some(weights), Some(out)) = (&args.weights, &args.out) {
        return analyze_weights(
            &WeightsAnalysis {
                weights,
                init: args.init.as_deref(),
                activation: args.activation,
                out,
                data_dir: args.data.clone(),
                train_limit: args.train_limit,
                probe_index: args.probe_index,
            },
            &mut progress,
        )
        .map(|_| ());
    }
    match (&args.run, &args.keras_weights, &args.out) {
        (Some(run), _, _) => analyze_run(run, &mut progress).map(|_| ()),
        (None, Some(weights), Some(out)) => analyze_keras(
            &KerasAnalysis {
                weights,
                out,
                data_dir: args.data.clone(),
                probe_index: args.probe_index,
                epochs: args.epochs,
            },
            &mut progress,
        )
        .map(|_| ()),
        _ => unreachable!("clap requires --run or --keras-weights with --out"),
    }
}
