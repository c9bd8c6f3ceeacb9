//! The binary's behaviour as a user sees it: one-line errors, nothing written on bad input.

use std::path::Path;
use std::process::Output;

use crate::common::{Workspace, s};

fn weightscope(args: &[&str], cwd: &Path) -> Output {
    crate::common::weightscope_in(cwd, args)
}

/// Asserts a failed run printed exactly one `error:` line containing `needle`.
fn assert_one_line_error(out: &Output, needle: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "expected failure, got: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    assert!(stderr.starts_with("error: "), "{stderr}");
    assert!(stderr.contains(needle), "{needle:?} not in {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
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
    crate::common::succeeded(&res);
    assert!(ws.path("runs/named/metrics.json").is_file());
}

#[test]
fn bad_inputs_give_one_line_and_write_nothing() {
    let ws = Workspace::new(50, 20);
    let good = ws.config("good", &[]).write();
    let out = ws.path("out");
    let bad = |name: &str, text: &str| {
        let p = ws.path(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![], "no config given"),
        (
            vec!["--config".into(), "missing.toml".into()],
            "cannot read config file missing.toml",
        ),
        (
            vec![
                "--config".into(),
                s(&bad("k.toml", "[training]\nlr = 1")).into(),
            ],
            "unknown field `lr`",
        ),
        (
            vec![
                "--config".into(),
                s(&bad("t.toml", "[training]\nepochs = 'x'")).into(),
            ],
            "invalid type",
        ),
        (
            vec![
                "--config".into(),
                s(&bad("b.toml", "[training]\nbatch_size = 0")).into(),
            ],
            "training.batch_size must be at least 1",
        ),
        (
            vec![
                "--config".into(),
                s(&good).into(),
                "--epochs".into(),
                "0".into(),
            ],
            "training.epochs must be at least 1",
        ),
        (
            vec![
                "--config".into(),
                s(&bad("d.toml", "[data]\ndir = 'nowhere'")).into(),
            ],
            "data folder nowhere does not exist",
        ),
        (
            vec![
                "--config".into(),
                s(&bad(
                    "p.toml",
                    &format!(
                        "[data]\ndir = {:?}\n[analysis]\nprobe_index = 50",
                        ws.data_dir()
                    ),
                ))
                .into(),
            ],
            "analysis.probe_index 50 is beyond the 50 training images",
        ),
    ];
    for (args, needle) in cases {
        let mut full: Vec<&str> = args.iter().map(String::as_str).collect();
        full.extend(["--out", s(&out)]);
        let res = weightscope(&full, ws.dir.path());
        assert_one_line_error(&res, needle);
        assert!(!out.exists(), "{args:?} created the output folder");
    }
}

#[test]
fn unknown_backend_name_is_rejected_by_the_parser() {
    let res = weightscope(&["--config", "x.toml", "--backend", "cuda"], Path::new("."));
    let stderr = String::from_utf8_lossy(&res.stderr);
    assert!(!res.status.success());
    assert!(
        stderr.contains("invalid value 'cuda'") && stderr.contains("flex"),
        "{stderr}"
    );
}

#[test]
fn corrupt_data_file_is_reported_by_name() {
    let ws = Workspace::new(50, 20);
    std::fs::write(ws.data_dir().join("train-labels-idx1-ubyte.gz"), b"garbage").unwrap();
    let config = ws.config("c", &[]).write();
    let out = ws.path("out");
    let res = weightscope(&["--config", s(&config), "--out", s(&out)], ws.dir.path());
    assert_one_line_error(&res, "train-labels-idx1-ubyte.gz is not a valid gzip file");
    assert!(!out.exists());
}

#[test]
fn unwritable_output_is_reported() {
    let ws = Workspace::new(50, 20);
    let config = ws.config("c", &[]).write();
    let file = ws.path("a-file");
    std::fs::write(&file, "x").unwrap();
    let res = weightscope(&["--config", s(&config), "--out", s(&file)], ws.dir.path());
    assert_one_line_error(&res, "is a file, not a folder");
    let nested = file.join("sub");
    let res = weightscope(
        &["--config", s(&config), "--out", s(&nested)],
        ws.dir.path(),
    );
    assert_one_line_error(&res, "cannot create output folder");
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
