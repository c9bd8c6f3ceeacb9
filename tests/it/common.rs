//! What the tests share: tiny MNIST-format data sets made on the fly (tests never touch the
//! network or the real data), run configs built in code, small runs, and the binary.
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use weightscope::app::feedback::Silent;
use weightscope::app::train::{Outputs, RunSummary, run_training};
use weightscope::core::config::{Config, OptimizerKind};
use weightscope::core::stop::StopToken;
use weightscope::core::weights::LayerWeights;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// An IDX image file.
pub fn encode_images(count: usize, rows: usize, cols: usize, pixels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 + pixels.len());
    out.extend_from_slice(&IMAGES_MAGIC.to_be_bytes());
    for v in [count, rows, cols] {
        out.extend_from_slice(&(v as u32).to_be_bytes());
    }
    out.extend_from_slice(pixels);
    out
}

/// An IDX label file.
pub fn encode_labels(labels: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + labels.len());
    out.extend_from_slice(&LABELS_MAGIC.to_be_bytes());
    out.extend_from_slice(&(labels.len() as u32).to_be_bytes());
    out.extend_from_slice(labels);
    out
}

pub const SIDE: usize = 28;

/// Class `c` is a bright horizontal band at rows `2c+4 .. 2c+7` plus noise, so the classes
/// are separable and each has an obvious template.
pub fn synthetic(count: usize, seed: u64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut pixels = Vec::with_capacity(count * SIDE * SIDE);
    let mut labels = Vec::with_capacity(count);
    for i in 0..count {
        let class = (i % 10) as u8;
        labels.push(class);
        let band = 2 * class as usize + 4;
        for r in 0..SIDE {
            for _c in 0..SIDE {
                let base: u8 = if (band..band + 3).contains(&r) {
                    200
                } else {
                    0
                };
                let noise: u8 = rng.random_range(0..40);
                pixels.push(base.saturating_add(noise));
            }
        }
    }
    (pixels, labels)
}

pub struct Files {
    pub train_images: Vec<u8>,
    pub train_labels: Vec<u8>,
    pub test_images: Vec<u8>,
    pub test_labels: Vec<u8>,
}

impl Files {
    pub fn synthetic(train: usize, test: usize) -> Self {
        let (tp, tl) = synthetic(train, 1);
        let (sp, sl) = synthetic(test, 2);
        Self {
            train_images: encode_images(train, SIDE, SIDE, &tp),
            train_labels: encode_labels(&tl),
            test_images: encode_images(test, SIDE, SIDE, &sp),
            test_labels: encode_labels(&sl),
        }
    }

    /// Writes the four files into `dir`, gzipped when `gz` is set.
    pub fn write(&self, dir: &Path, gz: bool) {
        std::fs::create_dir_all(dir).unwrap();
        for (name, bytes) in [
            ("train-images-idx3-ubyte", &self.train_images),
            ("train-labels-idx1-ubyte", &self.train_labels),
            ("t10k-images-idx3-ubyte", &self.test_images),
            ("t10k-labels-idx1-ubyte", &self.test_labels),
        ] {
            if gz {
                write_gz(&dir.join(format!("{name}.gz")), bytes);
            } else {
                std::fs::write(dir.join(name), bytes).unwrap();
            }
        }
    }
}

pub fn write_gz(path: &Path, bytes: &[u8]) {
    let file = std::fs::File::create(path).unwrap();
    let mut enc = flate2::write::GzEncoder::new(file, flate2::Compression::fast());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap();
}

const DATA_FOLDER: &str = "mnist";

/// A temp folder holding a synthetic data set of ten digit-like classes in `mnist/` (so
/// weightscope calls its classes digits, as it does MNIST's), and a config pointing at it.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(train: usize, test: usize) -> Self {
        Self::in_dir(tempfile::tempdir().unwrap(), train, test)
    }

    fn in_dir(dir: tempfile::TempDir, train: usize, test: usize) -> Self {
        Files::synthetic(train, test).write(&dir.path().join(DATA_FOLDER), true);
        Self { dir }
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn data_dir(&self) -> PathBuf {
        self.path(DATA_FOLDER)
    }

    /// A small run's config on the workspace's data: seed 7, 10% validation, 3 epochs of
    /// batch 50, the given hidden widths; change the rest through the builder.
    pub fn config(&self, name: &str, hidden: &[usize]) -> RunConfig<'_> {
        let mut config = Config {
            name: name.into(),
            seed: 7,
            ..Config::default()
        };
        config.data.dir = self.data_dir();
        config.data.validation_split = 0.1;
        config.model.hidden = hidden.to_vec();
        config.training.epochs = 3;
        config.training.batch_size = 50;
        RunConfig {
            workspace: self,
            config,
        }
    }
}

/// A run config under construction; see [`Workspace::config`].
pub struct RunConfig<'a> {
    workspace: &'a Workspace,
    config: Config,
}

impl RunConfig<'_> {
    pub fn epochs(mut self, epochs: usize) -> Self {
        self.config.training.epochs = epochs;
        self
    }

    pub fn batch_size(mut self, batch_size: usize) -> Self {
        self.config.training.batch_size = batch_size;
        self
    }

    pub fn optimizer(mut self, optimizer: OptimizerKind, learning_rate: f64) -> Self {
        self.config.training.optimizer = optimizer;
        self.config.training.learning_rate = learning_rate;
        self
    }

    /// Any other change.
    pub fn with(mut self, change: impl FnOnce(&mut Config)) -> Self {
        change(&mut self.config);
        self
    }

    pub fn build(self) -> Config {
        self.config
    }

    /// Writes the config as `<name>.toml` in the workspace, for the binary; the run takes its
    /// name from the file, as a user's config does.
    pub fn write(self) -> PathBuf {
        let path = self.workspace.path(&format!("{}.toml", self.config.name));
        let mut config = self.config;
        config.name.clear();
        std::fs::write(&path, config.to_toml()).unwrap();
        path
    }

    /// Trains it in-process into `runs/<name>` of the workspace, with its analysis.
    pub fn train(self) -> RunSummary {
        let out = self.workspace.path(&format!("runs/{}", self.config.name));
        train_into(&self.config, &out)
    }
}

/// A small trained MLP that the tests which only read a finished run share.
pub struct SharedRun {
    pub workspace: Workspace,
    /// The run folder: every result, the analysis, figures, explorer and report.
    pub dir: PathBuf,
    pub config: Config,
}

/// One MLP 784-16-10 trained for 3 epochs on 400 synthetic images (100 test images), trained
/// once per test process, the first time a test asks. Tests must not write into its folder:
/// copy it first. A static is never dropped, so its workspace lies in the build folder, and a
/// later test process removes it.
pub fn shared_mlp() -> &'static SharedRun {
    static RUN: OnceLock<SharedRun> = OnceLock::new();
    RUN.get_or_init(|| {
        // Named by the process, so a test process removes only what finished ones left.
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        for entry in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let owner = name
                .strip_prefix("shared-mlp-")
                .and_then(|n| n.split('-').next());
            if owner.is_some_and(|pid| !Path::new("/proc").join(pid).exists()) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = tempfile::Builder::new()
            .prefix(&format!("shared-mlp-{}-", std::process::id()))
            .tempdir_in(root)
            .unwrap();
        let workspace = Workspace::in_dir(dir, 400, 100);
        let config = workspace.config("mlp", &[16]).build();
        let dir = workspace.path("runs/mlp");
        train_into(&config, &dir);
        SharedRun {
            workspace,
            dir,
            config,
        }
    })
}

/// Trains `config` in-process into `out`, with its analysis, quietly.
pub fn train_into(config: &Config, out: &Path) -> RunSummary {
    try_train_into(config, out).unwrap()
}

/// Trains `config` in-process into `out` without its analysis (`--no-analysis`), quietly.
pub fn train_results_only(config: &Config, out: &Path) -> RunSummary {
    train_for(config, out, Outputs::Results).unwrap()
}

pub fn try_train_into(config: &Config, out: &Path) -> anyhow::Result<RunSummary> {
    train_for(config, out, Outputs::Explorer)
}

fn train_for(config: &Config, out: &Path, outputs: Outputs) -> anyhow::Result<RunSummary> {
    let stop = StopToken::new();
    run_training(config, Some(out.to_path_buf()), outputs, &mut Silent, &stop)
}

/// The line a held process prints on stderr once it stands at its hold (`core::hold`).
pub const HELD: &str = "held (WEIGHTSCOPE_HOLD)";

/// Sends `signal` (INT or TERM) to a child that stands at a hold, waits until its handler has
/// said it will stop, then lets it go on; returns its stderr and exit status. So the stop is
/// requested before the child moves a step, however the threads are scheduled.
pub fn interrupt_held(
    mut child: std::process::Child,
    signal: &str,
) -> (String, std::process::ExitStatus) {
    use std::io::{BufRead, BufReader, Read};
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !line.starts_with(HELD) {
        line.clear();
        assert!(stderr.read_line(&mut line).unwrap() > 0, "no hold: {seen}");
        seen.push_str(&line);
    }
    Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    while !line.starts_with("interrupted:") {
        line.clear();
        assert!(
            stderr.read_line(&mut line).unwrap() > 0,
            "no interrupt: {seen}"
        );
        seen.push_str(&line);
    }
    drop(child.stdin.take());
    stderr.read_to_string(&mut seen).unwrap();
    (seen, child.wait().unwrap())
}

/// Runs the weightscope binary in the current folder (the project root).
pub fn weightscope(args: &[&str]) -> Output {
    weightscope_in(Path::new("."), args)
}

/// Runs the weightscope binary in `cwd`.
pub fn weightscope_in(cwd: &Path, args: &[&str]) -> Output {
    binary().args(args).current_dir(cwd).output().unwrap()
}

/// The weightscope binary, to be given arguments and run or spawned.
pub fn binary() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_weightscope"));
    command.env_remove("RUST_BACKTRACE");
    command
}

/// A path as the `&str` a command line takes.
pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Whether a test that needs `what` must run: always under CI (`CI` set), where a missing
/// tool is a failure; elsewhere it is skipped with a printed reason.
pub fn required_or_skip(available: bool, what: &str) -> bool {
    if available {
        return true;
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "{what} is required under CI (.ci/run installs it)"
    );
    eprintln!("skipped: {what} is not available here (install it, or set CI to require it)");
    false
}

/// The figures every MLP run draws, by file stem.
pub const MLP_FIGURES: [&str; 12] = [
    "winners",
    "weights",
    "weights_init",
    "class_template",
    "nearest_input",
    "effective_templates",
    "layer_templates",
    "pixel_templates_layer1",
    "blend",
    "distributed",
    "collapse",
    "dynamics",
];

/// Asserts a command succeeded (showing its stderr if not) and returns its stdout.
pub fn succeeded(out: &std::process::Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A headless-capable Chromium on the PATH (`.ci/run` installs Debian's `chromium`), or
/// `None` where the test that needs it may be skipped (see [`required_or_skip`]).
pub fn chromium_or_skip() -> Option<PathBuf> {
    let found = ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .find_map(|name| {
            std::env::var_os("PATH").and_then(|paths| {
                std::env::split_paths(&paths)
                    .map(|p| p.join(name))
                    .find(|p| p.is_file())
            })
        });
    required_or_skip(
        found.is_some(),
        "headless Chromium (apt-get install chromium)",
    )
    .then_some(found)
    .flatten()
}

/// Headless Chromium with a fresh profile in `profile`, asking nothing of the network itself.
pub fn headless(browser: &Path, profile: &Path) -> Command {
    let mut command = Command::new(browser);
    command
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ])
        .arg(format!("--user-data-dir={}", profile.display()));
    command
}

/// A file of `tests/fixtures` (written by `tests/fixtures/make_weights.py`).
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

pub fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// A dense layer of uniform random weights in [-1, 1) and biases in [-bias, bias).
pub fn random_layer(d_in: usize, d_out: usize, bias: f32, rng: &mut ChaCha8Rng) -> LayerWeights {
    LayerWeights {
        d_in,
        d_out,
        weight: (0..d_in * d_out)
            .map(|_| rng.random_range(-1.0..1.0))
            .collect(),
        bias: (0..d_out).map(|_| rng.random_range(-bias..bias)).collect(),
    }
}
