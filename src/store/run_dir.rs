//! The run folder: checked to be writable before anything is trained, and written only
//! through atomic renames.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use serde::{Deserialize, Serialize};

use super::atomic::write_atomic;
use super::names::*;
use crate::core::config::Config;
use crate::core::metrics::EpochMetrics;
use crate::core::provenance::{ImportFormat, ImportRecord};

/// A run folder that has been checked to be writable.
#[derive(Debug, Clone)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// Creates the folder if needed and proves it is writable with a throw-away temporary
    /// file; removes what writers killed in an earlier run left behind.
    pub(crate) fn prepare(path: &Path) -> Result<Self> {
        let dir = Self::prepare_shared(path)?;
        dir.remove_stale_temporaries();
        Ok(dir)
    }

    /// Like [`RunDir::prepare`], for a folder other processes may be writing into at the same
    /// time (a sweep's, shared by its shards): their temporary files are left alone.
    pub(crate) fn prepare_shared(path: &Path) -> Result<Self> {
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
        for sub in ["", SNAPSHOTS_DIR, FIGURES_DIR] {
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
    pub(crate) fn remove_previous_results(&self) -> Result<()> {
        let ours = self.read_config().is_ok() || self.file(IMPORT_FILE).is_file();
        if !ours {
            return Ok(());
        }
        let mut stale: Vec<PathBuf> = [
            IMPORT_FILE,
            METRICS_FILE,
            HISTORY_FILE,
            ANALYSIS_FILE,
            WEIGHTS_FILE,
            SAFETENSORS_FILE,
            REPORT_FILE,
            EXPLORE_FILE,
            COMPARISON_FILE,
            ERROR_FILE,
        ]
        .iter()
        .map(|name| self.file(name))
        .collect();
        for (sub, kinds) in [
            (SNAPSHOTS_DIR, &[FileKind::Burnpack][..]),
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

    /// The folder of a finished training run, for reading back what it saved.
    pub fn open(path: &Path) -> Result<Self> {
        if path.join(IMPORT_FILE).is_file() {
            return Err(anyhow!(
                "{} holds imported weights ({IMPORT_FILE}), not a training run's snapshots: \
                 `{}` rewrites its analysis, report and explorer",
                path.display(),
                reimport_command(path)
            ));
        }
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
    pub(crate) fn subdir(&self, name: &str) -> Result<PathBuf> {
        let path = self.file(name);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(path)
    }

    pub(crate) fn write_json<T: Serialize>(&self, name: &str, value: &T) -> Result<()> {
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

    /// Whether the folder holds a training run (its `config.toml` reads as one).
    pub(crate) fn holds_training_run(&self) -> bool {
        self.read_config().is_ok()
    }

    pub(crate) fn write_config(&self, config: &Config) -> Result<()> {
        self.write(CONFIG_FILE, config.to_toml().as_bytes())
    }

    pub fn read_config(&self) -> Result<Config> {
        Config::load(&self.file(CONFIG_FILE))
    }

    /// `history.csv`, one row per epoch with `metrics.json`'s names as its header.
    pub(crate) fn write_history(&self, history: &[EpochMetrics]) -> Result<()> {
        let mut writer = csv::Writer::from_writer(Vec::new());
        for row in history {
            writer.serialize(row)?;
        }
        let bytes = writer.into_inner().context("cannot encode history.csv")?;
        self.write(HISTORY_FILE, &bytes)
    }

    /// The bytes of a file in the folder.
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let path = self.file(name);
        std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
    }
}

/// The command that analyses the import in `folder` again, from its `import.json`.
fn reimport_command(folder: &Path) -> String {
    let record = std::fs::read_to_string(folder.join(IMPORT_FILE))
        .ok()
        .and_then(|text| serde_json::from_str::<ImportRecord>(&text).ok());
    let Some(record) = record else {
        return format!(
            "weightscope analyze --weights FILE --out {}",
            folder.display()
        );
    };
    let source = record.source.display();
    match record.format {
        // The reference script's folder holds both models; each goes to <out>/<model>.
        ImportFormat::KerasNpy => format!(
            "weightscope analyze --keras-weights {source} --out {}",
            folder.parent().unwrap_or(folder).display()
        ),
        ImportFormat::Safetensors | ImportFormat::Npz => {
            let init = record
                .initial
                .map(|i| format!(" --init {}", i.display()))
                .unwrap_or_default();
            format!(
                "weightscope analyze --weights {source}{init} --out {}",
                folder.display()
            )
        }
    }
}
