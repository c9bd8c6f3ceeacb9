//! The binary's behaviour as a user sees it: help, flags, default folders, pipes. Every bad
//! input and its one-line error is a case of the bad-input corpus (tests/bad_inputs/cases.toml).

use std::path::Path;
use std::process::Output;

use crate::common::{Workspace, s};

fn weightscope(args: &[&str], cwd: &Path) -> Output {
    crate::common::weightscope_in(cwd, args)
}

#[test]
fn help_explains_every_option() {
    let out = weightscope(&["--help"], Path::new("."));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success());
    for flag in [
        "--config",
        "--backend",
        "--out",
        "--epochs",
        "--seed",
        "flex",
        "ndarray",
        "wgpu",
    ] {
        assert!(text.contains(flag), "--help lacks {flag}: {text}");
    }
}

#[test]
fn trains_from_the_command_line_with_flag_overrides() {
    let ws = Workspace::new(200, 50);
    let config = ws.config("tiny", &[8]).write();
    let out = ws.path("out");
    let res = weightscope(
        &[
            "--config",
            s(&config),
            "--out",
            s(&out),
            "--epochs",
            "2",
            "--seed",
            "9",
            "--backend",
            "ndarray",
        ],
        ws.dir.path(),
    );
    let stdout = crate::common::succeeded(&res);
    let lines: Vec<&str> = stdout.lines().filter(|l| l.starts_with("epoch ")).collect();
    assert_eq!(lines.len(), 2, "{stdout}");
    assert!(lines[1].starts_with("epoch 2/2 - "), "{stdout}");
    for part in [
        " - loss: ",
        " - accuracy: ",
        " - val_loss: ",
        " - val_accuracy: ",
    ] {
        assert!(lines[0].contains(part), "{stdout}");
    }
    let metrics: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(metrics["seed"], 9);
    assert_eq!(metrics["backend"], "ndarray");
    assert_eq!(metrics["epochs"].as_array().unwrap().len(), 2);
    let saved = std::fs::read_to_string(out.join("config.toml")).unwrap();
    assert!(
        saved.contains("seed = 9") && saved.contains("epochs = 2"),
        "{saved}"
    );
}

#[test]
fn default_output_folder_is_runs_slash_config_name() {
    let ws = Workspace::new(100, 20);
    let config = ws.config("named", &[]).epochs(1).write();
    let res = weightscope(&["--config", s(&config)], ws.dir.path());
    let stdout = crate::common::succeeded(&res);
    assert!(ws.path("runs/named/metrics.json").is_file());
    // The last line says where to look, the explorer included.
    let last = stdout.lines().last().unwrap_or_default();
    assert!(
        last.contains("runs/named/explore.html") && ws.path("runs/named/explore.html").is_file(),
        "{stdout}"
    );
}

/// Runs the binary with its stdout a pipe whose reader has already gone, as when the output
/// goes into `head` and `head` has finished.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    crate::common::binary()
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .output()
        .unwrap()
}

/// Ended by SIGPIPE, as Unix tools are, or finished; never an error line.
fn assert_ended_quietly(out: &Output, what: &str) {
    use std::os::unix::process::ExitStatusExt;
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.is_empty(), "{what} printed: {stderr}");
    assert!(
        out.status.success() || out.status.signal() == Some(libc::SIGPIPE),
        "{what} ended with {:?}",
        out.status
    );
}

#[test]
fn a_closed_pipe_ends_every_command_quietly() {
    let ws = Workspace::new(100, 20);
    assert_ended_quietly(&into_closed_pipe(&["--help"]), "--help");
    let config = ws.config("slp", &[]).epochs(1).write();
    let run = ws.path("run");
    let out = into_closed_pipe(&["--config", s(&config), "--out", s(&run)]);
    assert_ended_quietly(&out, "training");
    // Printing stopped the run, but what it wrote before is whole; run it again to compare.
    crate::common::succeeded(&weightscope(
        &["--config", s(&config), "--out", s(&run)],
        ws.dir.path(),
    ));
    let reference = Path::new(env!("CARGO_MANIFEST_DIR")).join("reference/tensorflow");
    let out = into_closed_pipe(&["compare", s(&run), "--reference", s(&reference)]);
    assert_ended_quietly(&out, "compare");
}
