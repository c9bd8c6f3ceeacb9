//! `match A B`: do two networks learn the same neurons? Each side is a training run's folder,
//! a weights file (safetensors or `.npz`) or the TensorFlow reference script's weights folder;
//! `match.json`, the figures and `match.html` go into one folder.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use rayon::prelude::*;

use super::feedback::Feedback;
use super::finished::FinishedRun;
use super::import::{DataChoice, activation_of, initial_weights_of, scaling_of};
use crate::analysis::matching::{
    EpochMatch, LayerComparison, LayerMatch, MatchSide, NetworkMatch, compare_networks,
    match_verdicts,
};
use crate::analysis::results::Snapshot;
use crate::core::config::Activation;
use crate::core::data::{ImageSet, RunData};
use crate::core::model_kind::ModelKind;
use crate::core::scaling::{InputScaling, ScalingSource};
use crate::core::weights::{LayerWeights, model_description, widths};
use crate::interop::keras::{INITIAL_PREFIX, has_weights_of, load};
use crate::interop::read;
use crate::render::figures::FigureFile;
use crate::render::match_figures::draw_match_figures;
use crate::render::report::write_match_report;
use crate::store::{FIGURES_DIR, MATCH_FILE, MATCH_REPORT_FILE, RunDir};

/// What `match` is given.
pub struct MatchOptions<'a> {
    pub a: &'a Path,
    pub b: &'a Path,
    pub out: &'a Path,
    /// The initial weights of A and of B where they are weights files.
    pub init: [Option<&'a Path>; 2],
    /// For weights files that do not record theirs.
    pub activation: Option<Activation>,
    pub input_scaling: Option<InputScaling>,
    /// The data set for weights files (a run knows its own).
    pub data: DataChoice,
}

/// One side of the match: its snapshots and the test images as it takes them.
pub(crate) struct Network {
    pub label: String,
    pub activation: Activation,
    pub test: ImageSet,
    /// The initial weights, where known.
    pub init: Option<Vec<LayerWeights>>,
    pub trained: Vec<LayerWeights>,
    /// Every saved epoch (0 = initial) where the epochs are known: a training run's.
    pub epochs: Vec<Snapshot>,
}

impl Network {
    fn side<'s>(&'s self, layers: &'s [LayerWeights]) -> MatchSide<'s> {
        MatchSide {
            layers,
            activation: self.activation,
            test: &self.test,
        }
    }
}

/// Matches A with B and writes `match.json`, its figures and `match.html` into `out`.
pub fn match_networks(
    options: &MatchOptions<'_>,
    feedback: &mut dyn Feedback,
) -> Result<NetworkMatch> {
    let started = Instant::now();
    let a = open_side(options.a, options.init[0], options, None, feedback)?;
    let b = open_side(
        options.b,
        options.init[1],
        options,
        Some(&widths(&a.trained)),
        feedback,
    )?;
    check_comparable(options, &a, &b)?;
    let dir = RunDir::prepare(options.out)?;
    feedback.message(&format!("matching {} with {}", a.label, b.label));
    let result = compare(&a, &b, feedback);
    dir.write_json(MATCH_FILE, &result.summary)?;
    let figures = dir.subdir(FIGURES_DIR)?;
    remove_previous_figures(&figures)?;
    let files = draw_match_figures(
        &result.summary,
        &result.trained,
        result.init.as_deref(),
        [&a.trained, &b.trained],
        &a.test,
        &figures,
    )?;
    let verdicts = match_verdicts(&result.trained, result.init.as_deref());
    write_match_report(&dir, &result.summary, verdicts, &figures)?;
    feedback.message(&format!(
        "match: {} in {:.1}s, {} figure files in {}; report: {}",
        dir.file(MATCH_FILE).display(),
        started.elapsed().as_secs_f64(),
        files.len(),
        figures.display(),
        dir.file(MATCH_REPORT_FILE).display()
    ));
    Ok(result.summary)
}

/// An earlier match into the same folder may have drawn figures this one does not (a pairs
/// figure for networks with a hidden layer, an epochs figure for runs): the page must not show
/// them.
fn remove_previous_figures(figures: &Path) -> Result<()> {
    for file in [
        FigureFile::MatchPairs,
        FigureFile::MatchCosines,
        FigureFile::MatchEpochs,
    ] {
        for extension in ["png", "svg"] {
            let path = figures.join(format!("{}.{extension}", file.name()));
            if path.exists() {
                std::fs::remove_file(&path)
                    .with_context(|| format!("cannot remove {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// The comparisons behind `match.json`, kept for the figures.
pub(crate) struct Compared {
    pub summary: NetworkMatch,
    pub trained: Vec<LayerComparison>,
    pub init: Option<Vec<LayerComparison>>,
}

/// Trained against trained, initial against initial, and every epoch both sides saved.
pub(crate) fn compare(a: &Network, b: &Network, feedback: &mut dyn Feedback) -> Compared {
    let common: Vec<(&Snapshot, &Snapshot)> = a
        .epochs
        .iter()
        .filter_map(|sa| {
            b.epochs
                .iter()
                .find(|sb| sb.epoch == sa.epoch)
                .map(|sb| (sa, sb))
        })
        .collect();
    if common.len() > 1 {
        feedback.message(&format!("matching at each of {} epochs", common.len()));
    }
    // Epochs are independent, and the Hungarian method runs on one core: one epoch per core.
    let epochs: Vec<(usize, Vec<LayerComparison>)> = common
        .par_iter()
        .map(|(sa, sb)| {
            let layers = compare_networks(a.side(&sa.layers), b.side(&sb.layers));
            (sa.epoch, layers)
        })
        .collect();
    let same = |x: &[LayerWeights], y: &[LayerWeights]| {
        epochs
            .iter()
            .zip(&common)
            .find(|(_, (sa, sb))| sa.layers == x && sb.layers == y)
            .map(|((_, layers), _)| layers.clone())
    };
    let trained = same(&a.trained, &b.trained)
        .unwrap_or_else(|| compare_networks(a.side(&a.trained), b.side(&b.trained)));
    let init = match (&a.init, &b.init) {
        (Some(ia), Some(ib)) => {
            Some(same(ia, ib).unwrap_or_else(|| compare_networks(a.side(ia), b.side(ib))))
        }
        _ => None,
    };
    let summary = NetworkMatch {
        a: a.label.clone(),
        b: b.label.clone(),
        layers: trained
            .iter()
            .enumerate()
            .map(|(l, t)| LayerMatch::of(l, t, init.as_ref().map(|i| &i[l])))
            .collect(),
        epochs: epochs
            .iter()
            .map(|(epoch, layers)| EpochMatch::of(*epoch, layers))
            .collect(),
    };
    Compared {
        summary,
        trained,
        init,
    }
}

/// The two networks must have the same widths and have been tested on the same images.
fn check_comparable(options: &MatchOptions<'_>, a: &Network, b: &Network) -> Result<()> {
    let (wa, wb) = (widths(&a.trained), widths(&b.trained));
    if wa != wb {
        bail!(
            "{} is {} but {} is {}: match compares networks of the same widths",
            options.a.display(),
            model_description(&wa),
            options.b.display(),
            model_description(&wb)
        );
    }
    if a.test.labels != b.test.labels || a.test.pixels() != b.test.pixels() {
        bail!(
            "{} and {} were trained on different data sets: match compares them on the same \
             test images (pass --data for a weights file)",
            options.a.display(),
            options.b.display()
        );
    }
    Ok(())
}

/// A training run's folder, the TensorFlow reference script's weights folder, or a weights
/// file. `other` holds the other side's widths, to pick the reference script's model.
fn open_side(
    path: &Path,
    init: Option<&Path>,
    options: &MatchOptions<'_>,
    other: Option<&[usize]>,
    feedback: &mut dyn Feedback,
) -> Result<Network> {
    if !path.exists() {
        bail!(
            "{} does not exist: pass a run folder, a .safetensors or .npz weights file, or the \
             TensorFlow reference weights folder",
            path.display()
        );
    }
    if path.is_dir() && init.is_some() {
        bail!(
            "--init-a/--init-b give a weights file's initial weights; {} is a folder, which \
             knows its own",
            path.display()
        );
    }
    let keras_models: Vec<ModelKind> = [ModelKind::Slp, ModelKind::Mlp]
        .into_iter()
        .filter(|&m| path.is_dir() && has_weights_of(path, m))
        .collect();
    if !keras_models.is_empty() {
        return open_keras(path, &keras_models, other, options);
    }
    if path.is_dir() {
        return open_run(path);
    }
    open_weights_file(path, init, options, feedback)
}

fn open_run(path: &Path) -> Result<Network> {
    let run = FinishedRun::open(path)?;
    let epochs = run.snapshots()?;
    let data = run.data()?;
    let trained = epochs.last().expect("a run has snapshots").layers.clone();
    Ok(Network {
        label: format!(
            "{} ({}, seed {})",
            path.display(),
            run.metrics.model,
            run.config.seed
        ),
        activation: run.config.model.activation,
        test: data.test,
        init: epochs.first().map(|s| s.layers.clone()),
        trained,
        epochs,
    })
}

/// The reference script's weights: the model of the other side's depth (the MLP where
/// nothing says), ReLU and pixels / 255 as the script trains them.
fn open_keras(
    path: &Path,
    models: &[ModelKind],
    other: Option<&[usize]>,
    options: &MatchOptions<'_>,
) -> Result<Network> {
    let wanted = other.map_or(ModelKind::Mlp, ModelKind::of_widths);
    let Some(&model) = models.iter().find(|&&m| m == wanted) else {
        bail!(
            "{} holds no {} weights to match with a {}",
            path.display(),
            wanted.title(),
            wanted.title()
        );
    };
    let init = load(path, model, INITIAL_PREFIX)?;
    let trained = load(path, model, "")?;
    let data = options.data.load()?.scaled(InputScaling::default())?;
    Ok(Network {
        label: format!(
            "{} ({} trained by TensorFlow)",
            path.display(),
            model_description(&widths(&trained))
        ),
        activation: Activation::Relu,
        test: data.test,
        epochs: vec![Snapshot {
            epoch: 0,
            layers: init.clone(),
        }],
        init: Some(init),
        trained,
    })
}

/// A weights file: its activation and input scaling from its metadata or the flags, never
/// guessed; its initial weights from `--init-a`/`--init-b`. Its epochs are unknown, so only
/// its initial weights (epoch 0) take part in the matching per epoch.
fn open_weights_file(
    path: &Path,
    init: Option<&Path>,
    options: &MatchOptions<'_>,
    feedback: &mut dyn Feedback,
) -> Result<Network> {
    let data: RunData = options.data.load()?;
    let pixels = data.full_train.pixels();
    let trained = read(path, pixels)?;
    let init = init
        .map(|i| initial_weights_of(i, path, &trained.layers, pixels))
        .transpose()?;
    let (activation, _) = activation_of(path, &trained, options.activation)?;
    let (scaling, source) = scaling_of(path, &trained, options.input_scaling.clone())?;
    if source == ScalingSource::Default {
        feedback.message(&format!(
            "note: {} records no input scaling, so its inputs are taken as pixels / 255; if it \
             was trained on normalised images, pass --input-mean and --input-std",
            path.display()
        ));
    }
    let data = data.scaled(scaling)?;
    Ok(Network {
        label: format!(
            "{} ({})",
            path.display(),
            model_description(&widths(&trained.layers))
        ),
        activation,
        test: data.test,
        epochs: init
            .iter()
            .map(|layers| Snapshot {
                epoch: 0,
                layers: layers.clone(),
            })
            .collect(),
        init,
        trained: trained.layers,
    })
}

/// Where `match` writes unless `--out` says: `runs/match-<A>-<B>`.
pub fn default_match_dir(a: &Path, b: &Path) -> PathBuf {
    let name = |p: &Path| {
        p.file_stem()
            .map_or_else(|| "network".into(), |n| n.to_string_lossy().into_owned())
    };
    Path::new(crate::store::RUNS_DIR).join(format!("match-{}-{}", name(a), name(b)))
}
