//! Interrupted and killed runs: Ctrl-C leaves a checkpoint that `--resume` continues to the
//! same numbers as an uninterrupted run; `kill -9` at any moment leaves only complete files.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;

use crate::common::{Workspace, binary, s};
use serde_json::Value;
use weightscope::core::config::{Config, OptimizerKind};
use weightscope::store::{FileKind, RunDir};
use weightscope::train::Checkpoint;

/// The numbers of metrics.json, without the timings.
fn numbers(dir: &Path) -> Value {
    let mut m: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("metrics.json")).unwrap()).unwrap();
    m.as_object_mut().unwrap().remove("train_seconds");
    for e in m["epochs"].as_array_mut().unwrap() {
        e.as_object_mut().unwrap().remove("seconds");
    }
    m
}

#[test]
fn ctrl_c_checkpoints_and_resume_ends_with_the_uninterrupted_metrics() {
    let ws = Workspace::new(500, 100);
    let config = ws.config("long", &[16]).epochs(60).batch_size(10).write();
    let full = ws.path("full");
    let res = binary()
        .args(["--config", s(&config), "--out", s(&full), "--no-analysis"])
        .output()
        .unwrap();
    let stdout = crate::common::succeeded(&res);
    let epoch_3 = 1 + stdout
        .lines()
        .position(|l| l.starts_with("epoch 3/"))
        .expect("an epoch 3 line");

    // The run holds after its epoch-3 line until the test closes its stdin, so the interrupt
    // lands in epoch 3 or 4 however fast the machine is.
    let run = ws.path("interrupted");
    let mut child = held(
        &config,
        &run,
        &["--no-analysis"],
        &format!("line:{epoch_3}"),
    );
    // Kept open to the end: a closed pipe would end the run with SIGPIPE instead.
    let _stdout = child.stdout.take();
    let (stderr, status) = crate::common::interrupt_held(child, "INT");
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("interrupted in epoch"), "{stderr}");
    assert!(
        stderr.contains(&format!("--resume {}", run.display())),
        "{stderr}"
    );
    assert!(run.join("checkpoint.bin").is_file());
    assert!(!run.join("metrics.json").exists());
    let cp = Checkpoint::load(&RunDir::open(&run).unwrap()).unwrap();
    assert!(
        cp.epoch == 3 || cp.epoch == 4,
        "stopped in epoch {}",
        cp.epoch
    );

    let res = binary()
        .args(["--resume", s(&run), "--no-analysis"])
        .output()
        .unwrap();
    let stdout = crate::common::succeeded(&res);
    assert!(stdout.contains("resuming"), "{stdout}");
    assert_eq!(numbers(&run), numbers(&full));
    assert!(
        !run.join("checkpoint.bin").exists(),
        "a finished run keeps no checkpoint"
    );
    // Resuming again has nothing to continue.
    let again = binary().args(["--resume", s(&run)]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("no checkpoint to resume"));
}

/// Every result file in `dir` (not the temporary ones a killed writer leaves) is whole; returns
/// the kinds of file seen.
fn assert_all_complete(dir: &Path) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".tmp") {
            continue;
        }
        if path.is_dir() {
            seen.extend(assert_all_complete(&path));
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let kind = FileKind::of(&path).unwrap_or_else(|| {
            panic!("{name} is a kind of file no run writes: add it to artifacts::FileKind")
        });
        seen.insert(kind.extension().to_string());
        let text = || String::from_utf8(bytes.clone()).unwrap();
        // An exhaustive match: a new kind of file does not compile until it is checked here.
        match kind {
            FileKind::Json => {
                serde_json::from_slice::<Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{name} is not whole: {e}"));
            }
            FileKind::Toml => {
                Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            }
            FileKind::Csv => {
                let text = text();
                assert!(text.ends_with('\n'), "{name} is cut short");
                assert!(text.lines().all(|l| l.split(',').count() == 6), "{name}");
            }
            FileKind::Burnpack => {
                let record = burn::store::ModuleRecord::from_bytes(
                    burn::tensor::Bytes::from_bytes_vec(bytes),
                );
                assert!(record.is_ok(), "{name} is not a whole burnpack file");
            }
            FileKind::Checkpoint => {
                Checkpoint::load(&RunDir::open(dir).unwrap()).unwrap();
            }
            FileKind::Png => {
                assert!(bytes.starts_with(b"\x89PNG"), "{name}");
                assert_eq!(
                    &bytes[bytes.len() - 8..bytes.len() - 4],
                    b"IEND",
                    "{name} is cut short"
                );
            }
            FileKind::Svg => assert!(text().trim_end().ends_with("</svg>"), "{name}"),
            FileKind::Html => assert!(text().trim_end().ends_with("</html>"), "{name}"),
            FileKind::Safetensors => {
                let file = safetensors::SafeTensors::deserialize(&bytes);
                assert!(file.is_ok(), "{name} is not a whole safetensors file");
            }
            FileKind::Markdown | FileKind::Text => {
                assert!(text().ends_with('\n'), "{name} is cut short")
            }
        }
    }
    seen
}

/// The moment a kill lands, told by what the run has visibly done, never by the clock.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// Right after the run prints its n-th line (1 = the training header, 2 = epoch 1, …).
    Line(usize),
    /// When the run has written its new version of this file under a temporary name, before
    /// it replaces the previous run's: the moment a non-atomic writer would be half-way.
    Writing(&'static str),
}

/// Starts a run into `run` (with `extra` flags) that holds at `point` (see `core::hold`) until
/// its stdin closes.
fn held(config: &Path, run: &Path, extra: &[&str], point: &str) -> std::process::Child {
    binary()
        .args(["--config", s(config), "--out", s(run)])
        .args(extra)
        .env("WEIGHTSCOPE_HOLD", point)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Starts a run into `run`, which holds at `moment`, and kills it there with SIGKILL.
fn kill_at(config: &Path, run: &Path, moment: Moment) {
    let point = match moment {
        Moment::Line(n) => format!("line:{n}"),
        Moment::Writing(name) => format!("file:{name}"),
    };
    let mut child = held(config, run, &[], &point);
    // The run announces the hold on stderr once it stands there.
    let mut errors = BufReader::new(child.stderr.take().unwrap()).lines();
    let announced = errors.any(|l| l.unwrap().starts_with(crate::common::HELD));
    assert!(announced, "the run ended before {moment:?}");
    child.kill().unwrap();
    let status = child.wait().unwrap();
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(status.signal(), Some(9), "at {moment:?}");
    if let Moment::Writing(name) = moment {
        // The kill met the new version still under its temporary name.
        let folder = run.join(name).parent().unwrap().to_path_buf();
        let temporary = std::fs::read_dir(&folder)
            .unwrap()
            .flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp"));
        assert!(
            temporary,
            "no temporary file in {} at {moment:?}",
            folder.display()
        );
    }
}

#[test]
fn kill_9_at_every_stage_leaves_only_complete_files() {
    let ws = Workspace::new(300, 60);
    let config = ws.config("k", &[8]).epochs(15).batch_size(20).write();
    let run = ws.path("run");
    // A complete run first, so every later kill meets the previous version of every file.
    let out = binary()
        .args(["--config", s(&config), "--out", s(&run)])
        .output()
        .unwrap();
    let lines = crate::common::succeeded(&out).lines().count();
    let all_kinds = assert_all_complete(&run);
    for kind in [
        "json",
        "toml",
        "csv",
        "bpk",
        "png",
        "svg",
        "html",
        "safetensors",
    ] {
        assert!(all_kinds.contains(kind), "a run wrote no .{kind} file");
    }
    // Header, 15 epochs, test line, then the analysis: every stage, from the first snapshot to
    // the last figure.
    let moments = [
        Moment::Line(1),
        Moment::Line(2),
        Moment::Line(5),
        Moment::Line(9),
        Moment::Line(13),
        Moment::Line(16),
        Moment::Line(17),
        Moment::Writing("analysis.json"),
        Moment::Writing("figures/winners.png"),
        Moment::Writing("figures/weights.svg"),
        Moment::Writing("figures/class_template.png"),
        Moment::Writing("figures/effective_templates.png"),
    ];
    assert!(lines > 17, "the run printed only {lines} lines");
    for moment in moments {
        kill_at(&config, &run, moment);
        assert_all_complete(&run);
    }
    // The next run in the folder sweeps up what the killed writers left and completes.
    let out = binary()
        .args(["--config", s(&config), "--out", s(&run)])
        .output()
        .unwrap();
    crate::common::succeeded(&out);
    assert_eq!(assert_all_complete(&run), all_kinds);
    for sub in ["", "snapshots", "figures"] {
        let stale: Vec<_> = std::fs::read_dir(run.join(sub))
            .unwrap()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().starts_with(".tmp"))
            .collect();
        assert!(stale.is_empty(), "temporary files left in {sub}: {stale:?}");
    }
}

#[test]
fn a_diverging_run_stops_with_a_clear_message_and_no_metrics() {
    let ws = Workspace::new(200, 40);
    let config = ws
        .config("nan", &[16])
        .optimizer(OptimizerKind::Sgd, 1e30)
        .write();
    let run = ws.path("run");
    let out = binary()
        .args(["--config", s(&config), "--out", s(&run)])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.starts_with("error: training diverged: the loss became"),
        "{stderr}"
    );
    assert!(
        stderr.contains("in epoch 1 at learning rate 1000000000000000000000000000000"),
        "{stderr}"
    );
    assert!(!run.join("metrics.json").exists());
    assert!(!run.join("figures").exists());
}
