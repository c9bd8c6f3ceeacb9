//! The names of the files in a run folder, and the kinds of file a run writes.

use std::path::Path;

/// The folder where runs go unless `--out` says otherwise: `runs/<name>`.
pub const RUNS_DIR: &str = "runs";
pub(crate) const CONFIG_FILE: &str = "config.toml";
/// What is known of weights trained elsewhere; such a folder has no config or metrics.
pub const IMPORT_FILE: &str = "import.json";
/// The weights after every epoch, `epoch-NNN.bpk`.
pub(crate) const SNAPSHOTS_DIR: &str = "snapshots";
pub const METRICS_FILE: &str = "metrics.json";
pub(crate) const HISTORY_FILE: &str = "history.csv";
pub(crate) const WEIGHTS_FILE: &str = "weights.bpk";
/// The trained weights for PyTorch and NumPy, laid out as `nn.Sequential`'s state dict.
pub(crate) const SAFETENSORS_FILE: &str = "weights.safetensors";
pub(crate) const INITIAL_WEIGHTS_FILE: &str = "weights_init.bpk";
pub(crate) const ANALYSIS_FILE: &str = "analysis.json";
/// Every layer's pixel templates, trained and initial, `[neurons, pixels]` each.
pub const PIXEL_TEMPLATES_FILE: &str = "pixel_templates.safetensors";
/// The page a person reads; the last file a run writes.
pub(crate) const REPORT_FILE: &str = "report.html";
/// The interactive page: pick or draw an input, scrub the epochs, click a neuron.
pub(crate) const EXPLORE_FILE: &str = "explore.html";
/// The TensorFlow comparison of a run of the article's setup.
pub(crate) const COMPARISON_FILE: &str = "comparison.md";
/// The one-line error a failed sweep run leaves in its folder.
pub(crate) const ERROR_FILE: &str = "error.txt";
pub(crate) const FIGURES_DIR: &str = "figures";
/// `match A B`'s figures by number, and its page.
pub const MATCH_FILE: &str = "match.json";
pub(crate) const MATCH_REPORT_FILE: &str = "match.html";
pub(crate) const CHECKPOINT_FILE: &str = "checkpoint.bin";
/// A sweep's summary over seeds, as data and as a table.
pub(crate) const SUMMARY_JSON: &str = "summary.json";
pub(crate) const SUMMARY_MD: &str = "summary.md";

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
    pub(crate) const ALL: [FileKind; 11] = [
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
    format!("{SNAPSHOTS_DIR}/epoch-{epoch:03}.bpk")
}

/// A run's default folder, `runs/<name>`.
pub fn default_run_dir(name: &str) -> std::path::PathBuf {
    Path::new(RUNS_DIR).join(name)
}
