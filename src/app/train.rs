//! Training a run: validate everything up front, train, save the results, then analyse them.
//! Also resuming, which continues an interrupted run from its checkpoint.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender, channel};

use anyhow::{Result, bail};

use super::analyze::{Subject, write_analysis};
use super::feedback::Feedback;
use super::finished::snapshots;
use crate::analysis::alongside::{Alongside, EarlyReadings};
use crate::analysis::results::{Analysis, AnalysisInputs, Snapshot};
use crate::core::config::Config;
use crate::core::data::RunData;
use crate::core::metrics::{EpochMetrics, Metrics};
use crate::core::provenance::Provenance;
use crate::core::stop::StopToken;
use crate::core::weights::{
    LayerWeights, initial_weights, layer_widths, model_description, widths,
};
use crate::interop::keras::{INITIAL_PREFIX, load, model_for_hidden_layers};
use crate::interop::{ExportInfo, Format, encode};
use crate::nn::backend::{self, Opened};
use crate::nn::model::DenseNet;
use crate::store::{
    EXPLORE_FILE, INITIAL_WEIGHTS_FILE, METRICS_FILE, RunDir, SAFETENSORS_FILE, WEIGHTS_FILE,
    default_run_dir, snapshot_file,
};
use crate::train::saved::save_model;
use crate::train::{
    Checkpoint, Outcome, Start, TrainInputs, TrainJob, TrainObserver, Trained, train,
};

/// The seed's Keras-style draw, or TensorFlow's own initial weights in lockstep mode.
fn initial_weights_for(config: &Config, expected: &[usize]) -> Result<Vec<LayerWeights>> {
    let Some(dir) = &config.init.keras_weights else {
        return Ok(initial_weights(expected, config.seed));
    };
    let model = model_for_hidden_layers(config.model.hidden.len())?;
    let layers = load(dir, model, INITIAL_PREFIX)?;
    let found = widths(&layers);
    if found != expected {
        bail!(
            "init.keras_weights in {} holds a {found:?} network but the config describes \
             {expected:?}: make model.hidden match the reference model",
            dir.display()
        );
    }
    Ok(layers)
}

/// What a finished training run leaves in hand.
pub struct RunSummary {
    pub dir: RunDir,
    pub metrics: Metrics,
    pub analysis: Option<Analysis>,
}

/// What a run writes besides its weights, metrics and history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outputs {
    /// Nothing more (`--no-analysis`).
    Results,
    /// The analysis, its figures and the report: a sweep's runs, which are many.
    Report,
    /// Those and the explorer page: a run of its own.
    Explorer,
}

/// Trains as `config` says and writes the run folder `out` (default `runs/<name>`). A stop
/// requested through `stop` saves a checkpoint and ends with an error that says how to resume.
pub fn run_training(
    config: &Config,
    out: Option<PathBuf>,
    outputs: Outputs,
    feedback: &mut dyn Feedback,
    stop: &StopToken,
) -> Result<RunSummary> {
    config.validate()?;
    let data = RunData::load(config)?;
    let widths = layer_widths(&config.model, data.full_train.pixels(), data.classes);
    let initial = initial_weights_for(config, &widths)?;
    let backend = backend::open(config.backend)?;
    let out = out.unwrap_or_else(|| default_run_dir(&config.name));
    // Only now, with every input checked, does anything get written.
    let dir = RunDir::prepare(&out)?;
    Checkpoint::remove(&dir)?;
    dir.remove_previous_results()?;
    dir.write_config(config)?;
    let initial_model = DenseNet::from_weights(&initial, config.model.activation, &backend.device);
    save_model(&dir, INITIAL_WEIGHTS_FILE, &initial_model)?;
    let run = Run {
        dir,
        config,
        data,
        backend,
        widths,
    };
    run.train(Start::Fresh(&initial), outputs, feedback, stop)
}

/// Continues an interrupted run from its checkpoint; it ends with the metrics an
/// uninterrupted run would have written.
pub fn resume_training(
    path: &Path,
    outputs: Outputs,
    feedback: &mut dyn Feedback,
    stop: &StopToken,
) -> Result<RunSummary> {
    let dir = RunDir::open(path)?;
    let config = dir.read_config()?;
    let checkpoint = Checkpoint::load(&dir)?;
    let data = RunData::load(&config)?;
    let backend = backend::open(config.backend)?;
    let widths = layer_widths(&config.model, data.full_train.pixels(), data.classes);
    if checkpoint.layers != widths {
        bail!(
            "the checkpoint in {} is for a {:?} network but config.toml describes {widths:?}: \
             the run folder was changed; start the run again",
            dir.path().display(),
            checkpoint.layers
        );
    }
    feedback.message(&format!(
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
    };
    run.train(Start::Resume(checkpoint), outputs, feedback, stop)
}

/// Shows the loop's progress and saves a snapshot of the weights after every epoch, handing
/// it on to be read alongside the training where the run will be analysed.
struct RunObserver<'a> {
    feedback: &'a mut dyn Feedback,
    dir: &'a RunDir,
    epochs: usize,
    alongside: Option<Sender<Snapshot>>,
}

impl TrainObserver for RunObserver<'_> {
    fn epoch_started(&mut self, epoch: usize, epochs: usize, steps: usize) {
        self.feedback.start_epoch(epoch, epochs, steps);
    }

    fn step_done(&mut self, step: usize) {
        self.feedback.step(step);
    }

    fn epoch_done(
        &mut self,
        epoch: usize,
        metrics: Option<&EpochMetrics>,
        model: &DenseNet,
    ) -> Result<()> {
        if let Some(m) = metrics {
            self.feedback.end_epoch(m, self.epochs);
        }
        save_model(self.dir, &snapshot_file(epoch), model)?;
        if let Some(reader) = &self.alongside {
            let layers = model.weights();
            // A reader gone has stopped reading; the analysis reads what it left.
            let _ = reader.send(Snapshot { epoch, layers });
        }
        Ok(())
    }

    fn stopped(&mut self) {
        self.feedback.finish();
    }
}

/// A run whose inputs have all been checked and whose folder is ready.
struct Run<'a> {
    dir: RunDir,
    config: &'a Config,
    data: RunData,
    backend: Opened,
    widths: Vec<usize>,
}

impl Run<'_> {
    fn train(
        self,
        start: Start<'_>,
        outputs: Outputs,
        feedback: &mut dyn Feedback,
        stop: &StopToken,
    ) -> Result<RunSummary> {
        self.announce(feedback);
        let analysed = outputs != Outputs::Results;
        let over = AtomicBool::new(false);
        let (outcome, early) = std::thread::scope(|scope| {
            let (reader, read) = if analysed {
                let (send, receive) = channel();
                let read = scope.spawn(|| self.read_alongside(outputs, receive, &over, stop));
                (Some(send), Some(read))
            } else {
                (None, None)
            };
            let outcome = match training_pool(analysed) {
                Some(pool) => pool.install(|| self.fit(start, reader, feedback, stop)),
                None => self.fit(start, reader, feedback, stop),
            };
            over.store(true, Ordering::Relaxed);
            // Saved while the reader finishes the snapshot it holds, on a core it leaves.
            let saved = outcome.and_then(|outcome| self.save(outcome, feedback));
            // A reader that failed (a bug, said by the panic's line) must not cost the
            // training: the analysis then reads every snapshot itself.
            let early = read.map(|r| r.join().unwrap_or_else(|_| EarlyReadings::none()));
            (saved, early)
        });
        let metrics = outcome?;
        let analysis = match early {
            Some(early) => Some(self.analyse(&metrics, outputs, early, feedback)?),
            None => None,
        };
        feedback.message(&match outputs {
            Outputs::Explorer => format!(
                "results in {}; explore them: open {} in a browser",
                self.dir.path().display(),
                self.dir.file(EXPLORE_FILE).display()
            ),
            Outputs::Report | Outputs::Results => {
                format!("results in {}", self.dir.path().display())
            }
        });
        Ok(RunSummary {
            dir: self.dir,
            metrics,
            analysis,
        })
    }

    /// The training loop, each snapshot sent to `reader` where one reads them.
    fn fit(
        &self,
        start: Start<'_>,
        reader: Option<Sender<Snapshot>>,
        feedback: &mut dyn Feedback,
        stop: &StopToken,
    ) -> Result<Outcome> {
        let config = self.config;
        let (train_set, validation) = self.data.split_slices();
        let job = TrainJob {
            training: &config.training,
            seed: config.seed,
            activation: config.model.activation,
            data: TrainInputs {
                train: train_set,
                validation,
                placement: backend::placement(config.backend),
                test: &self.data.test,
            },
            device: &self.backend.device,
        };
        let mut observer = RunObserver {
            feedback: &mut *feedback,
            dir: &self.dir,
            epochs: config.training.epochs,
            alongside: reader,
        };
        train(job, start, &mut observer, stop)
    }

    /// Reads the snapshots `snapshots` brings while the training runs, on a thread of its own
    /// (the training's products leave it a core: [`training_pool`]). Once the training is
    /// `over` (or asked to stop) it reads no more: the analysis reads what is left on every
    /// core.
    fn read_alongside(
        &self,
        outputs: Outputs,
        snapshots: Receiver<Snapshot>,
        over: &AtomicBool,
        stop: &StopToken,
    ) -> EarlyReadings<'_> {
        let inputs = AnalysisInputs {
            activation: self.config.model.activation,
            train: &self.data.full_train,
            test: &self.data.test,
            probe_index: self.config.analysis.probe_index,
            snapshots: &[],
            trained_on: None,
            explorer: outputs == Outputs::Explorer,
        };
        // One thread: the reading's own parallel loops must not queue behind the training's.
        let Ok(pool) = rayon::ThreadPoolBuilder::new()
            .num_threads(1)
            .start_handler(|_| yield_to_the_training())
            .build()
        else {
            return EarlyReadings::none();
        };
        pool.install(|| {
            let mut reader = Alongside::new(&inputs, self.config.training.epochs);
            for snapshot in snapshots {
                if stop.requested() || over.load(Ordering::Relaxed) {
                    break;
                }
                reader.read(&snapshot);
                give_back_freed_memory();
            }
            reader.finish()
        })
    }

    /// The analysis of the snapshots just saved, read back as any finished run's are.
    fn analyse<'a>(
        &'a self,
        metrics: &Metrics,
        outputs: Outputs,
        early: EarlyReadings<'a>,
        feedback: &mut dyn Feedback,
    ) -> Result<Analysis> {
        let snapshots = snapshots(&self.dir, self.config, metrics)?;
        let subject = Subject {
            dir: &self.dir,
            provenance: Provenance::Trained {
                config: self.config,
                metrics,
            },
            data: &self.data,
            snapshots: &snapshots,
        };
        write_analysis(&subject, outputs == Outputs::Explorer, early, feedback)
    }

    fn announce(&self, feedback: &dyn Feedback) {
        if let Some(line) = self.backend.announcement() {
            feedback.message(&line);
        }
        if let Some(warning) = self.backend.warning() {
            feedback.warn(warning);
        }
        let config = self.config;
        let train_len = self.data.train_len();
        feedback.message(&format!(
            "training {} on {} ({} train, {} validation, {} test images), backend {}, seed {}",
            model_description(&self.widths),
            config.data.dir.display(),
            train_len,
            self.data.full_train.len() - train_len,
            self.data.test.len(),
            config.backend,
            config.seed
        ));
    }

    /// The results of a finished training, or the checkpoint of an interrupted one.
    fn save(&self, outcome: Outcome, feedback: &dyn Feedback) -> Result<Metrics> {
        match outcome {
            Outcome::Finished(trained) => self.save_results(trained, feedback),
            Outcome::Interrupted(checkpoint) => {
                checkpoint.save(&self.dir)?;
                let dir = self.dir.path().display();
                bail!(
                    "interrupted in epoch {} at step {}; a checkpoint is saved in {dir}: continue \
                     with `weightscope --resume {dir}`",
                    checkpoint.epoch,
                    checkpoint.step,
                );
            }
        }
    }

    /// The trained weights (burnpack and safetensors), the history and `metrics.json`.
    fn save_results(&self, trained: Trained, feedback: &dyn Feedback) -> Result<Metrics> {
        let config = self.config;
        let dir = &self.dir;
        save_model(dir, WEIGHTS_FILE, &trained.model)?;
        let export = ExportInfo {
            activation: config.model.activation,
            epoch: trained.history.len(),
            seed: config.seed,
            input_scaling: config.input_scaling(),
        };
        let layers = trained.model.weights();
        dir.write(
            SAFETENSORS_FILE,
            &encode(&layers, &export, Format::Safetensors)?,
        )?;
        let metrics = Metrics {
            model: model_description(&self.widths),
            layers: self.widths.clone(),
            optimizer: config.training.optimizer.name().into(),
            backend: config.backend.to_string(),
            adapter: self.backend.adapter.clone(),
            cpu_kernels: backend::cpu_kernels(config.backend).map(String::from),
            seed: config.seed,
            input_scaling: config.input_scaling(),
            epochs: trained.history,
            test: trained.test,
            train_seconds: trained.train_seconds,
        };
        dir.write_history(&metrics.epochs)?;
        dir.write_json(METRICS_FILE, &metrics)?;
        Checkpoint::remove(dir)?;
        feedback.message(&format!(
            "test - loss: {:.4} - accuracy: {:.4}; trained in {:.1}s",
            metrics.test.loss, metrics.test.accuracy, metrics.train_seconds,
        ));
        Ok(metrics)
    }
}

/// The threads the training's matrix products run on while a reader reads its snapshots
/// alongside: every core but the reader's. Sharing all cores with the reader slowed the
/// training by a fifth (each product waits for its slowest thread, and a thread whose core the
/// reader holds waits longest), more than the reader's work on a core of its own costs.
fn training_pool(alongside: bool) -> Option<rayon::ThreadPool> {
    let cores = rayon::current_num_threads();
    if !alongside || cores < 2 {
        return None;
    }
    rayon::ThreadPoolBuilder::new()
        .num_threads(cores - 1)
        .build()
        .ok()
}

/// Lowers the calling thread's priority to the least, so that the snapshot reader takes only
/// the time the training leaves: it shares a core with the thread that gathers the training's
/// next batch, which must never make the training wait (0.1 s of the main job here).
fn yield_to_the_training() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid and setpriority only read and set the calling thread's scheduling
    // priority; a failure leaves it as it was, which is harmless.
    unsafe {
        let thread = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, thread, 19);
    }
}

/// Hands the memory freed since to the system. glibc keeps what a thread frees in that
/// thread's arena for its next allocations; the snapshot reader frees tens of MB per snapshot,
/// which would otherwise stay counted against the run, beside the training's, until it ends.
fn give_back_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free memory; it is safe to call from any thread.
    unsafe {
        libc::malloc_trim(0);
    }
}
