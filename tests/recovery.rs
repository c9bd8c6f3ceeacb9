//! Interrupted and killed runs: Ctrl-C leaves a checkpoint that `--resume` continues to the
//! same numbers as an uninterrupted run; `kill -9` at any moment leaves only complete files.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::Workspace;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use weightscope::artifacts::RunDir;
use weightscope::config::Config;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_weightscope"));
    c.env_remove("RUST_BACKTRACE");
    c
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

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
    let config = ws.config("long", &[16], "epochs = 60\nbatch_size = 10");
    let full = ws.path("full");
    let res = bin()
        .args(["--config", s(&config), "--out", s(&full), "--no-analysis"])
        .output()
        .unwrap();
    common::succeeded(&res);

    let run = ws.path("interrupted");
    let mut child = bin()
        .args(["--config", s(&config), "--out", s(&run), "--no-analysis"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    for line in lines.by_ref() {
        if line.unwrap().starts_with("epoch 3/") {
            break;
        }
    }
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "the run finished before the interrupt: {stderr}"
    );
    assert!(stderr.contains("interrupted in epoch"), "{stderr}");
    assert!(
        stderr.contains(&format!("--resume {}", run.display())),
        "{stderr}"
    );
    assert!(run.join("checkpoint.bin").is_file());
    assert!(!run.join("metrics.json").exists());
    let cp = RunDir::open(&run).unwrap().load_checkpoint().unwrap();
    assert!(
        cp.epoch >= 3 && cp.epoch < 60,
        "stopped in epoch {}",
        cp.epoch
    );

    let res = bin()
        .args(["--resume", s(&run), "--no-analysis"])
        .output()
        .unwrap();
    let stdout = common::succeeded(&res);
    assert!(stdout.contains("resuming"), "{stdout}");
    assert_eq!(numbers(&run), numbers(&full));
    assert!(
        !run.join("checkpoint.bin").exists(),
        "a finished run keeps no checkpoint"
    );
    // Resuming again has nothing to continue.
    let again = bin().args(["--resume", s(&run)]).output().unwrap();
    assert!(String::from_utf8_lossy(&again.stderr).contains("no checkpoint to resume"));
}

/// Every result file in `dir` (not the temporary ones a killed writer leaves) is whole.
fn assert_all_complete(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.starts_with(".tmp") {
            continue;
        }
        if path.is_dir() {
            assert_all_complete(&path);
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let ext = path
            .extension()
            .map(|e| e.to_string_lossy().into_owned())
            .unwrap_or_default();
        match ext.as_str() {
            "json" => {
                serde_json::from_slice::<Value>(&bytes)
                    .unwrap_or_else(|e| panic!("{name} is not whole: {e}"));
            }
            "toml" => {
                Config::load(&path).unwrap_or_else(|e| panic!("{name}: {e:#}"));
            }
            "csv" => {
                let text = String::from_utf8(bytes).unwrap();
                assert!(text.ends_with('\n'), "{name} is cut short");
                assert!(text.lines().all(|l| l.split(',').count() == 6), "{name}");
            }
            "bpk" => {
                let record = burn::store::ModuleRecord::from_bytes(
                    burn::tensor::Bytes::from_bytes_vec(bytes),
                );
                assert!(record.is_ok(), "{name} is not a whole burnpack file");
            }
            "png" => {
                assert!(bytes.starts_with(b"\x89PNG"), "{name}");
                assert_eq!(
                    &bytes[bytes.len() - 8..bytes.len() - 4],
                    b"IEND",
                    "{name} is cut short"
                );
            }
            "svg" => assert!(
                String::from_utf8(bytes)
                    .unwrap()
                    .trim_end()
                    .ends_with("</svg>"),
                "{name}"
            ),
            "bin" => {
                RunDir::open(dir).unwrap().load_checkpoint().unwrap();
            }
            other => panic!("unexpected file {name} ({other})"),
        }
    }
}

#[test]
fn kill_9_at_random_moments_leaves_only_complete_files() {
    let ws = Workspace::new(300, 60);
    let config = ws.config("k", &[8], "epochs = 15\nbatch_size = 20");
    let run = ws.path("run");
    let mut rng = ChaCha8Rng::seed_from_u64(9);
    let mut killed_mid_run = 0;
    for _ in 0..12 {
        let mut child = bin()
            .args(["--config", s(&config), "--out", s(&run)])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(rng.random_range(5..400)));
        if child.try_wait().unwrap().is_none() {
            killed_mid_run += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        if run.exists() {
            assert_all_complete(&run);
        }
    }
    assert!(
        killed_mid_run >= 6,
        "only {killed_mid_run} kills landed during a run"
    );
}

#[test]
fn a_diverging_run_stops_with_a_clear_message_and_no_metrics() {
    let ws = Workspace::new(200, 40);
    let config = ws.config("nan", &[16], "optimizer = \"sgd\"\nlearning_rate = 1e30");
    let run = ws.path("run");
    let out = bin()
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
