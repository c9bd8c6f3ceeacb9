//! Networks trained elsewhere (safetensors, `.npz`, or the TensorFlow reference script's
//! `.npy` files), analysed as a run is: `import.json` says what is known of them, and the
//! analysis, figures, explorer and report follow.

use std::path::{Path, PathBuf};

use anyhow::{Result, bail};

use super::analyze::{Subject, write_analysis};
use super::feedback::Feedback;
use crate::analysis::alongside::EarlyReadings;
use crate::analysis::forward::evaluate_on_host;
use crate::analysis::results::{Analysis, Snapshot, initial_and_trained};
use crate::core::config::{Activation, Config, data_folder};
use crate::core::data::RunData;
use crate::core::model_kind::ModelKind;
use crate::core::provenance::{ActivationSource, ImportFormat, ImportRecord, Provenance};
use crate::core::scaling::{InputScaling, ScalingSource};
use crate::core::weights::{LayerWeights, model_description, model_kind, widths};
use crate::interop::keras::{INITIAL_PREFIX, has_weights_of, load};
use crate::interop::{Format, Imported, read};
use crate::store::{IMPORT_FILE, RunDir};

/// The folder an import writes into: never a training run's, whose results it would replace.
fn import_folder(out: &Path) -> Result<RunDir> {
    let dir = RunDir::prepare(out)?;
    if dir.holds_training_run() {
        bail!(
            "{} holds a training run, which an import would replace: choose another --out",
            out.display()
        );
    }
    Ok(dir)
}

/// The data an imported network is analysed on.
pub struct DataChoice {
    /// An MNIST-format data folder.
    pub dir: PathBuf,
    /// Use only the first N training images, as a run with `data.train_limit` does; 0 = all.
    pub train_limit: usize,
    /// The probe image's index in the training file.
    pub probe_index: usize,
}

impl DataChoice {
    pub(crate) fn load(&self) -> Result<RunData> {
        if !data_folder(&self.dir).exists() {
            bail!(
                "data folder {} does not exist: pass --data DIR, a folder with the four \
                 MNIST-format IDX files the network was trained on, or an .npz data set",
                self.dir.display()
            );
        }
        let mut config = Config::default();
        config.data.dir = self.dir.clone();
        config.data.train_limit = self.train_limit;
        RunData::load(&config)
    }
}

/// Options of `analyze --keras-weights`.
pub struct KerasImport<'a> {
    pub weights: &'a Path,
    pub out: &'a Path,
    pub data: DataChoice,
    /// The epoch the trained weights come from, to label them in the dynamics.
    pub epochs: usize,
}

/// Analyses the weights the TensorFlow reference script saved: `<out>/<slp|mlp>/`, for each
/// model present.
pub fn analyze_keras(
    options: &KerasImport<'_>,
    feedback: &mut dyn Feedback,
) -> Result<Vec<(ModelKind, Analysis)>> {
    let models: Vec<ModelKind> = [ModelKind::Slp, ModelKind::Mlp]
        .into_iter()
        .filter(|&m| has_weights_of(options.weights, m))
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
                load(options.weights, m, INITIAL_PREFIX)?,
                load(options.weights, m, "")?,
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let data = options.data.load()?;
    for (model, init, trained) in &loaded {
        check_keras_shapes(
            options.weights,
            *model,
            init,
            trained,
            [data.full_train.pixels(), data.classes],
        )?;
    }
    let root = RunDir::prepare(options.out)?;
    let dirs = models
        .iter()
        .map(|m| import_folder(&root.file(m.name())))
        .collect::<Result<Vec<_>>>()?;
    let mut results = Vec::new();
    for ((model, init, trained), dir) in loaded.into_iter().zip(dirs) {
        let network = Network {
            trained,
            init: Some(init),
            trained_epoch: options.epochs,
            source: options.weights.to_path_buf(),
            initial_source: Some(options.weights.to_path_buf()),
            format: ImportFormat::KerasNpy,
            label: "trained by TensorFlow".into(),
            // The reference script builds its hidden layers with ReLU, as the article does.
            activation: Activation::Relu,
            activation_source: ActivationSource::ReferenceScript,
            // It trains on pixels / 255.
            input_scaling: InputScaling::default(),
            input_scaling_source: ScalingSource::ReferenceScript,
        };
        let analysis = write_import(&dir, &options.data, &data, network, feedback)?;
        results.push((model, analysis));
    }
    Ok(results)
}

/// The reference script's weights must fit the data, and their initial weights the trained.
fn check_keras_shapes(
    folder: &Path,
    model: ModelKind,
    init: &[LayerWeights],
    trained: &[LayerWeights],
    [pixels, classes]: [usize; 2],
) -> Result<()> {
    let found = widths(trained);
    let name = model.name();
    if widths(init) != found {
        bail!(
            "{}: the {name} model's initial weights are {:?} but its trained weights {found:?}: \
             save both from the same network",
            folder.display(),
            widths(init)
        );
    }
    if found.first() != Some(&pixels) || found.last() != Some(&classes) {
        bail!(
            "{}: the {name} model is {found:?} but the data has {pixels} inputs and \
             {classes} classes: pass the --data it was trained on",
            folder.display()
        );
    }
    Ok(())
}

/// Options of `analyze --weights`.
pub struct WeightsImport<'a> {
    pub weights: &'a Path,
    pub init: Option<&'a Path>,
    /// Used where the file's metadata names no activation.
    pub activation: Option<Activation>,
    /// `--input-mean` and `--input-std`: the input scaling where the file's metadata names
    /// none.
    pub input_scaling: Option<InputScaling>,
    pub out: &'a Path,
    pub data: DataChoice,
}

/// Analyses a dense stack trained elsewhere (safetensors or .npz) as if weightscope had
/// trained it: `import.json`, `analysis.json`, figures, explorer and `report.html` in `out`.
pub fn analyze_weights(
    options: &WeightsImport<'_>,
    feedback: &mut dyn Feedback,
) -> Result<Analysis> {
    let data = options.data.load()?;
    let pixels = data.full_train.pixels();
    let trained = read(options.weights, pixels)?;
    let init = options
        .init
        .map(|path| initial_weights_of(path, options.weights, &trained.layers, pixels))
        .transpose()?;
    let (activation, activation_source) =
        activation_of(options.weights, &trained, options.activation)?;
    let (input_scaling, input_scaling_source) =
        scaling_of(options.weights, &trained, options.input_scaling.clone())?;
    let data = data.scaled(input_scaling.clone())?;
    if trained.layers.last().map(|l| l.d_out) != Some(data.classes) {
        bail!(
            "{}'s last layer has {} outputs but the data has {} classes",
            options.weights.display(),
            trained.layers.last().map_or(0, |l| l.d_out),
            data.classes
        );
    }
    let dir = import_folder(options.out)?;
    let name = options
        .weights
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let format = match Format::of(options.weights)? {
        Format::Safetensors => ImportFormat::Safetensors,
        Format::Npz => ImportFormat::Npz,
    };
    let network = Network {
        trained: trained.layers,
        init,
        trained_epoch: 1,
        source: options.weights.to_path_buf(),
        initial_source: options.init.map(Path::to_path_buf),
        format,
        label: format!("from {name}"),
        activation,
        activation_source,
        input_scaling,
        input_scaling_source,
    };
    write_import(&dir, &options.data, &data, network, feedback)
}

/// The input scaling: the file's, or the flags' where the file names none, or else pixels /
/// 255, which the report then calls the default.
pub(crate) fn scaling_of(
    file: &Path,
    trained: &Imported,
    flags: Option<InputScaling>,
) -> Result<(InputScaling, ScalingSource)> {
    match (trained.input_scaling.clone(), flags) {
        (Some(recorded), Some(flags)) if recorded != flags => bail!(
            "{} says its inputs were scaled as {} but the flags say {}: drop --input-mean and \
             --input-std or pass what the network was trained with",
            file.display(),
            recorded.describe(),
            flags.describe()
        ),
        (_, Some(flags)) => Ok((flags, ScalingSource::Flag)),
        (Some(recorded), None) => Ok((recorded, ScalingSource::FileMetadata)),
        (None, None) => Ok((InputScaling::default(), ScalingSource::Default)),
    }
}

/// The initial weights in `path`, which must be those of the network in `trained_file`.
pub(crate) fn initial_weights_of(
    path: &Path,
    trained_file: &Path,
    trained: &[LayerWeights],
    pixels: usize,
) -> Result<Vec<LayerWeights>> {
    let init = read(path, pixels)?;
    if widths(&init.layers) != widths(trained) {
        bail!(
            "{} holds a network of another shape than {}: pass the initial weights of the same \
             network to --init",
            path.display(),
            trained_file.display()
        );
    }
    Ok(init.layers)
}

/// The hidden layers' activation: the file's, or the flag's where the file names none; never
/// a guess.
pub(crate) fn activation_of(
    file: &Path,
    trained: &Imported,
    flag: Option<Activation>,
) -> Result<(Activation, ActivationSource)> {
    // A single layer has no activation to disagree about.
    let hidden_layers = model_kind(&trained.layers) == ModelKind::Mlp;
    match (trained.activation, flag) {
        (Some(recorded), Some(flag)) if recorded != flag && hidden_layers => bail!(
            "{} says its activation is {recorded} but --activation says {flag}: drop \
             --activation or pass the one the network was trained with",
            file.display()
        ),
        // Recorded as given, though a single layer applies none.
        (recorded, flag) if !hidden_layers => Ok((
            flag.or(recorded).unwrap_or(Activation::Relu),
            ActivationSource::SingleLayer,
        )),
        (_, Some(a)) => Ok((a, ActivationSource::Flag)),
        (Some(a), None) => Ok((a, ActivationSource::FileMetadata)),
        // Guessing would score the network with a function it never used.
        (None, None) => bail!(
            "{} does not record which activation its hidden layers use: pass it with \
             --activation relu, sigmoid, tanh or linear",
            file.display()
        ),
    }
}

/// A dense stack trained elsewhere, ready for the analysis.
struct Network {
    trained: Vec<LayerWeights>,
    init: Option<Vec<LayerWeights>>,
    /// The epoch the trained weights come from, to label them in the dynamics.
    trained_epoch: usize,
    source: PathBuf,
    initial_source: Option<PathBuf>,
    format: ImportFormat,
    /// What follows the model's description in titles, e.g. `from mine.safetensors`.
    label: String,
    activation: Activation,
    activation_source: ActivationSource,
    input_scaling: InputScaling,
    input_scaling_source: ScalingSource,
}

/// The one path for weights trained elsewhere: test figures on the host, `import.json`, then
/// the analysis as a run writes it.
fn write_import(
    dir: &RunDir,
    choice: &DataChoice,
    data: &RunData,
    network: Network,
    feedback: &mut dyn Feedback,
) -> Result<Analysis> {
    let layers = widths(&network.trained);
    let record = ImportRecord {
        model: format!("{} {}", model_description(&layers), network.label),
        layers,
        activation: network.activation,
        activation_source: network.activation_source,
        input_scaling: network.input_scaling,
        input_scaling_source: network.input_scaling_source,
        source: network.source,
        format: network.format,
        initial: network.initial_source,
        data: data_folder(&choice.dir),
        train_limit: choice.train_limit,
        probe_index: choice.probe_index,
        test: evaluate_on_host(&network.trained, network.activation, &data.test),
    };
    let mut snapshots = Vec::new();
    if let Some(layers) = network.init {
        snapshots.push(Snapshot { epoch: 0, layers });
    }
    snapshots.push(Snapshot {
        epoch: network.trained_epoch,
        layers: network.trained,
    });
    if record.input_scaling_source == ScalingSource::Default {
        feedback.message(&format!(
            "note: {} records no input scaling, so its inputs are taken as pixels / 255; if it \
             was trained on normalised images, pass --input-mean and --input-std",
            record.source.display()
        ));
    }
    feedback.message(&format!(
        "analysing {} ({}, inputs {}, test accuracy {:.4}){}",
        record.model,
        record.activation,
        record.input_scaling.describe(),
        record.test.accuracy,
        if initial_and_trained(&snapshots).0.is_none() {
            "; no --init, so no baselines against initial weights"
        } else {
            ""
        }
    ));
    dir.remove_previous_results()?;
    dir.write_json(IMPORT_FILE, &record)?;
    let subject = Subject {
        dir,
        provenance: Provenance::Imported(&record),
        data,
        snapshots: &snapshots,
    };
    write_analysis(&subject, true, EarlyReadings::none(), feedback)
}
