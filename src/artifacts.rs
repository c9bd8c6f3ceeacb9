//! The run folder: every file is written under a temporary name and renamed into place, so an
//! interrupted run never leaves a half-written file.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use crate::config::Config;
use crate::model::{DenseNet, LayerWeights};
use crate::train::{EpochMetrics, Evaluation};

pub const CONFIG_FILE: &str = "config.toml";
pub const METRICS_FILE: &str = "metrics.json";
pub const HISTORY_FILE: &str = "history.csv";
pub const WEIGHTS_FILE: &str = "weights.bpk";
/// The trained weights for PyTorch and NumPy, laid out as `nn.Sequential`'s state dict.
pub const SAFETENSORS_FILE: &str = "weights.safetensors";
pub const INITIAL_WEIGHTS_FILE: &str = "weights_init.bpk";
pub const ANALYSIS_FILE: &str = "analysis.json";
/// The page a person reads; the last file a run writes.
pub const REPORT_FILE: &str = "report.html";
/// The TensorFlow comparison of a run of the article's setup.
pub const COMPARISON_FILE: &str = "comparison.md";
/// The one-line error a failed sweep run leaves in its folder.
pub const ERROR_FILE: &str = "error.txt";
pub const FIGURES_DIR: &str = "figures";

/// Every kind of file a run or sweep folder can hold, told apart by extension. A writer that
/// adds a new kind adds it here, and the tests that check every file is whole (whatever moment
/// a run is killed at) then have to say how to check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Json,
    Toml,
    Csv,
    Burnpack,
    Checkpoint,
    Png,
    Svg,
    Html,
    Markdown,
    /// A failed sweep run's one-line error.
    Text,
    Safetensors,
}

impl FileKind {
    pub const ALL: [FileKind; 11] = [
        FileKind::Json,
        FileKind::Toml,
        FileKind::Csv,
        FileKind::Burnpack,
        FileKind::Checkpoint,
        FileKind::Png,
        FileKind::Svg,
        FileKind::Html,
        FileKind::Markdown,
        FileKind::Text,
        FileKind::Safetensors,
    ];

    pub fn extension(self) -> &'static str {
        match self {
            FileKind::Json => "json",
            FileKind::Toml => "toml",
            FileKind::Csv => "csv",
            FileKind::Burnpack => "bpk",
            FileKind::Checkpoint => "bin",
            FileKind::Png => "png",
            FileKind::Svg => "svg",
            FileKind::Html => "html",
            FileKind::Markdown => "md",
            FileKind::Text => "txt",
            FileKind::Safetensors => "safetensors",
        }
    }

    /// The kind of `path`, or `None` for a file no run writes.
    pub fn of(path: &Path) -> Option<FileKind> {
        let ext = path.extension()?.to_str()?;
        Self::ALL.into_iter().find(|k| k.extension() == ext)
    }
}

/// The weights after epoch `epoch` (0 = initial), kept so the analysis can follow training.
pub fn snapshot_file(epoch: usize) -> String {
    format!("snapshots/epoch-{epoch:03}.bpk")
}

/// `metrics.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    pub model: String,
    pub layers: Vec<usize>,
    pub optimizer: String,
    pub backend: String,
    /// The wgpu adapter trained on; absent for the CPU backends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adapter: Option<crate::backend::Adapter>,
    pub seed: u64,
    pub epochs: Vec<EpochMetrics>,
    pub test: Evaluation,
    #[serde(deserialize_with = "number_or_nan")]
    pub train_seconds: f64,
}

/// JSON has no NaN: serde_json writes an unknown figure (weights trained elsewhere have no
/// training time) as null, and this reads it back as NaN.
pub fn number_or_nan<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::NAN))
}

/// A run folder that has been checked to be writable.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates the folder if needed and proves it is writable with a throw-away temporary
    /// file; removes what writers killed in an earlier run left behind.
    pub fn prepare(path: &Path) -> Result<Self> {
        let dir = Self::prepare_shared(path)?;
        dir.remove_stale_temporaries();
        Ok(dir)
    }

    /// Like [`RunDir::prepare`], for a folder other processes may be writing into at the same
    /// time (a sweep's, shared by its shards): their temporary files are left alone.
    pub fn prepare_shared(path: &Path) -> Result<Self> {
        let fix = "choose a writable folder with --out";
        if path.exists() && !path.is_dir() {
            return Err(anyhow!(
                "output path {} is a file, not a folder: {fix}",
                path.display()
            ));
        }
        std::fs::create_dir_all(path).map_err(|e| {
            anyhow!(
                "cannot create output folder {} ({e}): {fix}",
                path.display()
            )
        })?;
        tempfile::NamedTempFile::new_in(path).map_err(|e| {
            anyhow!(
                "cannot write to output folder {} ({e}): {fix}",
                path.display()
            )
        })?;
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    /// A run killed while writing leaves its temporary file behind; the next run sweeps it up.
    fn remove_stale_temporaries(&self) {
        for sub in ["", "snapshots", FIGURES_DIR] {
            let Ok(entries) = std::fs::read_dir(self.path.join(sub)) else {
                continue;
            };
            for entry in entries.flatten() {
                if entry.file_name().to_string_lossy().starts_with(".tmp") {
                    let _ = std::fs::remove_file(entry.path());
                }
            }
        }
    }

    /// A new run into the folder of an earlier one replaces it whole: files the new run would
    /// not rewrite (a later epoch's snapshot, a comparison, a figure) must not linger beside
    /// its results. Only a weightscope run folder is cleared, and only of what a run writes.
    pub fn remove_previous_results(&self) -> Result<()> {
        if self.read_config().is_err() {
            return Ok(());
        }
        let mut stale: Vec<PathBuf> = [
            METRICS_FILE,
            HISTORY_FILE,
            ANALYSIS_FILE,
            WEIGHTS_FILE,
            SAFETENSORS_FILE,
            REPORT_FILE,
            COMPARISON_FILE,
            ERROR_FILE,
        ]
        .iter()
        .map(|name| self.file(name))
        .collect();
        for (sub, kinds) in [
            ("snapshots", &[FileKind::Burnpack][..]),
            (FIGURES_DIR, &[FileKind::Png, FileKind::Svg][..]),
        ] {
            let Ok(entries) = std::fs::read_dir(self.file(sub)) else {
                continue;
            };
            stale.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| FileKind::of(p).is_some_and(|k| kinds.contains(&k))),
            );
        }
        for path in stale {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(anyhow!(
                        "cannot remove the earlier run's {} ({e}): choose another --out",
                        path.display()
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// An existing run folder, for reading back what a run saved.
    pub fn open(path: &Path) -> Result<Self> {
        if !path.join(CONFIG_FILE).is_file() {
            return Err(anyhow!(
                "{} is not a weightscope run folder (no {CONFIG_FILE}): pass the --out folder \
                 of a finished training run",
                path.display()
            ));
        }
        Ok(Self {
            path: path.to_path_buf(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// Writes `name` (which may name a subfolder) atomically.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<()> {
        let path = self.file(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        write_atomic(&path, bytes)
    }

    /// A subfolder, created if needed.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let path = self.file(name);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(path)
    }

    pub fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
        let mut text = serde_json::to_string_pretty(value).context("serialising JSON")?;
        text.push('\n');
        self.write(name, text.as_bytes())
    }

    pub fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Result<T> {
        let path = self.file(name);
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| {
            anyhow!(
                "{} is not valid ({e}): the run folder is damaged, train again",
                path.display()
            )
        })
    }

    pub fn write_config(&self, config: &Config) -> Result<()> {
        self.write(CONFIG_FILE, config.to_toml().as_bytes())
    }

    pub fn read_config(&self) -> Result<Config> {
        Config::load(&self.file(CONFIG_FILE))
    }

    pub fn write_history(&self, history: &[EpochMetrics]) -> Result<()> {
        self.write(HISTORY_FILE, history_csv(history).as_bytes())
    }

    pub fn save_weights(&self, name: &str, model: &DenseNet) -> Result<()> {
        self.write(name, &model.to_bytes()?)
    }

    /// Loads weights saved by [`RunDir::save_weights`] into a network of the given shape.
    pub fn load_weights(
        &self,
        name: &str,
        shape: &[LayerWeights],
        config: &Config,
        device: &Device,
    ) -> Result<DenseNet> {
        let path = self.file(name);
        let bytes =
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?;
        DenseNet::from_bytes(&bytes, shape, config.model.activation, device).map_err(|e| {
            anyhow!(
                "{} does not hold this run's weights ({e:#}): train again",
                path.display()
            )
        })
    }
}

pub fn history_csv(history: &[EpochMetrics]) -> String {
    let fmt_opt = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
    let mut out = String::from("epoch,loss,accuracy,val_loss,val_accuracy,seconds\n");
    for m in history {
        out.push_str(&format!(
            "{},{},{},{},{},{}\n",
            m.epoch,
            m.loss,
            m.accuracy,
            fmt_opt(m.val_loss),
            fmt_opt(m.val_accuracy),
            m.seconds
        ));
    }
    out
}

/// Writes to a temporary file beside `path`, flushes it to disk, then renames it over `path`.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty());
    let dir = dir.unwrap_or(Path::new("."));
    // tempfile names its own random file in the error; the folder is what the user can fix.
    let mut file = tempfile::NamedTempFile::new_in(dir).map_err(|e| {
        anyhow!(
            "cannot write to {}: {}",
            dir.display(),
            std::io::Error::from(e.kind())
        )
    })?;
    file.write_all(bytes)
        .and_then(|()| file.as_file().sync_all())
        .and_then(|()| make_readable(&file))
        .with_context(|| format!("cannot write {}", path.display()))?;
    file.persist(path)
        .map_err(|e| anyhow!("cannot write {}: {}", path.display(), e.error))?;
    Ok(())
}

/// Temporary files are created private (0600); results are meant to be shared like any file
/// a program writes, so they get the usual 0644 before being renamed into place.
pub fn make_readable(file: &tempfile::NamedTempFile) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.as_file()
            .set_permissions(std::fs::Permissions::from_mode(0o644))?;
    }
    #[cfg(not(unix))]
    let _ = file;
    Ok(())
}

pub const CHECKPOINT_FILE: &str = "checkpoint.bin";
const CHECKPOINT_MAGIC: &[u8; 8] = b"WSCKPT1\n";

#[derive(Serialize, Deserialize)]
struct CheckpointHeader {
    epoch: usize,
    step: usize,
    loss_sum: f32,
    correct: i64,
    history: Vec<EpochMetrics>,
    train_seconds: f64,
    layers: Vec<usize>,
}

impl RunDir {
    /// Saves an interrupted run's state as one file, so a checkpoint is either whole or absent.
    pub fn save_checkpoint(&self, cp: &crate::train::Checkpoint) -> Result<()> {
        let header = serde_json::to_vec(&CheckpointHeader {
            epoch: cp.epoch,
            step: cp.step,
            loss_sum: cp.loss_sum,
            correct: cp.correct,
            history: cp.history.clone(),
            train_seconds: cp.train_seconds,
            layers: cp.layers.clone(),
        })?;
        let mut out = CHECKPOINT_MAGIC.to_vec();
        for part in [&header, &cp.model, &cp.optimizer] {
            out.extend_from_slice(&(part.len() as u64).to_le_bytes());
            out.extend_from_slice(part);
        }
        self.write(CHECKPOINT_FILE, &out)
    }

    pub fn load_checkpoint(&self) -> Result<crate::train::Checkpoint> {
        let path = self.file(CHECKPOINT_FILE);
        let bytes = std::fs::read(&path).map_err(|e| {
            anyhow!(
                "no checkpoint to resume in {} ({e}): only an interrupted run can be resumed",
                self.path.display()
            )
        })?;
        let damaged = || anyhow!("{} is damaged: start the run again", path.display());
        let rest = bytes.strip_prefix(CHECKPOINT_MAGIC).ok_or_else(damaged)?;
        let mut parts = Vec::new();
        let mut rest = rest;
        for _ in 0..3 {
            let (len, tail) = rest.split_at_checked(8).ok_or_else(damaged)?;
            let len = u64::from_le_bytes(len.try_into().expect("8 bytes")) as usize;
            let (part, tail) = tail.split_at_checked(len).ok_or_else(damaged)?;
            parts.push(part.to_vec());
            rest = tail;
        }
        let header: CheckpointHeader = serde_json::from_slice(&parts[0]).map_err(|_| damaged())?;
        Ok(crate::train::Checkpoint {
            epoch: header.epoch,
            step: header.step,
            loss_sum: header.loss_sum,
            correct: header.correct,
            history: header.history,
            train_seconds: header.train_seconds,
            layers: header.layers,
            model: parts[1].clone(),
            optimizer: parts[2].clone(),
        })
    }

    pub fn remove_checkpoint(&self) -> Result<()> {
        match std::fs::remove_file(self.file(CHECKPOINT_FILE)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(anyhow!("cannot remove the finished run's checkpoint: {e}"))
            }
            _ => Ok(()),
        }
    }
}
