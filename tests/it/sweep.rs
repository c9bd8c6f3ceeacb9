//! A sweep over seeds, models, optimisers and data sets in one command, with its summary.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use crate::common::Files;
use serde_json::Value;
use weightscope::app::sweep::shard::{Shard, ShardArg};

#[test]
fn sweep_runs_every_combination_and_summarises_over_seeds() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    Files::synthetic(200, 40).write(&root.join("digits"), true);
    let (p, l) = crate::common::synthetic(200, 77);
    let (tp, tl) = crate::common::synthetic(40, 78);
    Files {
        train_images: crate::common::encode_images(200, 28, 28, &p),
        train_labels: crate::common::encode_labels(&l),
        test_images: crate::common::encode_images(40, 28, 28, &tp),
        test_labels: crate::common::encode_labels(&tl),
    }
    .write(&root.join("other"), false);
    std::fs::write(
        root.join("sweep.toml"),
        "[data]\nvalidation_split = 0.1\n[training]\nepochs = 2\nbatch_size = 20\n\n[sweep]\n\
         seeds = [1, 2]\nhidden = [[], [8]]\n\
         optimizers = [{ optimizer = \"adam\", learning_rate = 0.001 }, { optimizer = \"sgd\", learning_rate = 0.1 }]\n\
         datasets = [\"digits\", \"other\"]\n",
    )
    .unwrap();
    let sweep = |extra: &[&str]| {
        let out = crate::common::binary()
            .args(["sweep", "--config", "sweep.toml", "--out", "out"])
            .args(extra)
            .current_dir(root)
            .output()
            .unwrap();
        crate::common::succeeded(&out)
    };
    let table = sweep(&[]);
    assert!(table.contains("| test accuracy |"), "{table}");
    assert!(table.contains("Mean ± standard deviation over 2 seeds; the seed-pair rows"));
    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("out/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["cells"].as_array().unwrap().len(), 16);
    let groups = summary["groups"].as_array().unwrap();
    assert_eq!(groups.len(), 8);
    for g in groups {
        let acc = &g["figures"]["test accuracy"];
        assert_eq!(acc["n"], 2);
        assert!(
            acc["mean"].as_f64().unwrap() > 0.2,
            "twice chance at least: {g}"
        );
        // Mean and sample standard deviation of the group's own runs' test accuracies.
        let accuracies: Vec<f64> = summary["cells"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| {
                ["dataset", "model", "optimizer"]
                    .iter()
                    .all(|k| c[k] == g[k])
            })
            .map(|c| {
                let dir = root.join(c["dir"].as_str().unwrap());
                let m: Value = serde_json::from_str(
                    &std::fs::read_to_string(dir.join("metrics.json")).unwrap(),
                )
                .unwrap();
                m["test"]["accuracy"].as_f64().unwrap()
            })
            .collect();
        assert_eq!(accuracies.len(), 2, "{g}");
        let mean = (accuracies[0] + accuracies[1]) / 2.0;
        let std = (accuracies[0] - accuracies[1]).abs() / 2f64.sqrt();
        assert!((acc["mean"].as_f64().unwrap() - mean).abs() < 1e-12, "{g}");
        assert!((acc["std"].as_f64().unwrap() - std).abs() < 1e-12, "{g}");
        // 180 training images: every run gets the span test, and SGD stays in the span.
        let span = g["figures"]["fraction of ΔW outside the inputs' span"]["mean"]
            .as_f64()
            .unwrap();
        if g["optimizer"] == "sgd" {
            assert!(span < 1e-4, "{g}");
        } else {
            assert!(span > 1e-2, "{g}");
        }
    }
    // Every group's two seeds matched neuron by neuron, as `weightscope match` matches them.
    for g in groups {
        let figures = &g["figures"];
        let first = &figures["seed pairs: hidden layer 1 CKA, trained"];
        assert_eq!(
            figures["seed pairs: output layer CKA of the logits, trained"]["n"], 1,
            "{g}"
        );
        assert_eq!(first.is_null(), g["model"] == "slp", "{g}");
    }
    let matched = root.join("matched");
    let group = "out/other/mlp-8/sgd";
    crate::common::succeeded(
        &crate::common::binary()
            .args([
                "match",
                &format!("{group}/seed-1"),
                &format!("{group}/seed-2"),
            ])
            .arg("--out")
            .arg(&matched)
            .current_dir(root)
            .output()
            .unwrap(),
    );
    let matched: Value =
        serde_json::from_str(&std::fs::read_to_string(matched.join("match.json")).unwrap())
            .unwrap();
    let g = groups
        .iter()
        .find(|g| g["dataset"] == "other" && g["model"] == "mlp-8" && g["optimizer"] == "sgd")
        .unwrap();
    for (figure, value) in [
        (
            "seed pairs: hidden layer 1 CKA, trained",
            &matched["layers"][0]["cka"],
        ),
        (
            "seed pairs: hidden layer 1 CKA, init",
            &matched["layers"][0]["init"]["cka"],
        ),
        (
            "seed pairs: hidden layer 1 matched weight cos, trained",
            &matched["layers"][0]["weight_cos"]["mean"],
        ),
    ] {
        let summarised = g["figures"][figure]["mean"].as_f64().unwrap();
        assert!(
            (summarised - value.as_f64().unwrap()).abs() < 1e-9,
            "{figure}"
        );
    }
    let run = root.join("out/other/mlp-8/sgd/seed-2");
    assert!(run.join("report.html").is_file());
    // A sweep's many runs get no explorer page each (`weightscope explore` writes one).
    assert!(!run.join("explore.html").exists());
    let report = std::fs::read_to_string(root.join("out/report.html")).unwrap();
    assert!(report.contains("Verdict on the article's claims, per group"));
    // A second call reuses the finished runs and summarises them the same way.
    let again = sweep(&[]);
    assert_eq!(again.matches(": already done\n").count(), 16, "{again}");
    let summary_part = |text: &str| text[text.find("| figure |").unwrap()..].to_string();
    assert_eq!(summary_part(&again), summary_part(&table));
}

#[test]
fn sweep_file_errors_are_one_line() {
    let ws = tempfile::tempdir().unwrap();
    std::fs::write(
        ws.path().join("s.toml"),
        "[sweep]\nseeds = []\nhidden = [[]]\noptimizers = []\ndatasets = []\n",
    )
    .unwrap();
    std::fs::write(ws.path().join("n.toml"), "[training]\nepochs = 2\n").unwrap();
    for (file, needle) in [
        ("s.toml", "sweep.seeds is empty"),
        ("n.toml", "has no [sweep] table"),
    ] {
        let out = crate::common::binary()
            .args(["sweep", "--config", file, "--out", "out"])
            .current_dir(ws.path())
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success());
        assert!(stderr.contains(needle), "{stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    }
}

/// A sweep of 8 small combinations (2 seeds x SLP/MLP x Adam/SGD) in a fresh folder.
pub(crate) fn small_sweep() -> tempfile::TempDir {
    let ws = tempfile::tempdir().unwrap();
    Files::synthetic(200, 40).write(&ws.path().join("digits"), true);
    std::fs::write(
        ws.path().join("sweep.toml"),
        "[data]\nvalidation_split = 0.1\n[training]\nepochs = 2\nbatch_size = 20\n\n[sweep]\n\
         seeds = [1, 2]\nhidden = [[], [8]]\n\
         optimizers = [{ optimizer = \"adam\", learning_rate = 0.001 }, { optimizer = \"sgd\", learning_rate = 0.1 }]\n\
         datasets = [\"digits\"]\n",
    )
    .unwrap();
    ws
}

fn sweep_command(root: &Path, out: &str, extra: &[&str]) -> Command {
    let mut command = crate::common::binary();
    command
        .args(["sweep", "--config", "sweep.toml", "--out", out])
        .args(extra)
        .current_dir(root)
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

fn sweep_process(root: &Path, out: &str, extra: &[&str]) -> Child {
    sweep_command(root, out, extra).spawn().unwrap()
}

/// A sweep that holds after its `line`-th line of progress until the test closes its stdin
/// (see `core::hold`), so whatever the test does to it then lands at that moment.
fn held_sweep(root: &Path, out: &str, extra: &[&str], line: usize) -> Child {
    sweep_command(root, out, extra)
        .env("WEIGHTSCOPE_HOLD", format!("line:{line}"))
        .stdin(Stdio::piped())
        .spawn()
        .unwrap()
}

pub(crate) fn sweep_output(root: &Path, out: &str, extra: &[&str]) -> String {
    crate::common::succeeded(&sweep_process(root, out, extra).wait_with_output().unwrap())
}

/// What a summary says, without where its runs live.
pub(crate) fn summary_numbers(root: &Path, out: &str) -> Value {
    let mut summary: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join(out).join("summary.json")).unwrap(),
    )
    .unwrap();
    for cell in summary["cells"].as_array_mut().unwrap() {
        cell.as_object_mut().unwrap().remove("dir");
    }
    summary
}

/// The runs a sweep's output says it trained, as `dataset model optimizer seed N`.
fn trained(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter_map(|l| l.strip_suffix(": training"))
        .map(|l| l.split_once(": ").unwrap().1.to_string())
        .collect()
}

#[test]
fn shards_started_at_once_match_one_process_and_train_each_combination_once() {
    let ws = small_sweep();
    let root = ws.path();
    let single = sweep_output(root, "single", &[]);
    assert_eq!(trained(&single).len(), 8, "{single}");
    // Four shards and a fifth given the same index as the first, all at once, one folder.
    let shards: Vec<Child> = ["1/4", "2/4", "3/4", "4/4", "1/4"]
        .iter()
        .map(|s| sweep_process(root, "sharded", &["--shard", s]))
        .collect();
    let mut all_trained = Vec::new();
    for child in shards {
        let stdout = crate::common::succeeded(&child.wait_with_output().unwrap());
        all_trained.extend(trained(&stdout));
    }
    all_trained.sort();
    let mut expected = trained(&single);
    expected.sort();
    assert_eq!(
        all_trained, expected,
        "each combination trained exactly once"
    );
    let table = sweep_output(root, "sharded", &["--summarize"]);
    assert!(table.contains("| test accuracy |"), "{table}");
    assert_eq!(
        summary_numbers(root, "sharded"),
        summary_numbers(root, "single")
    );
    // No claim outlives its run.
    for entry in walk(&root.join("sharded")) {
        assert!(!entry.to_string_lossy().contains(".claim"), "{entry:?}");
    }
    // A run stopped during its analysis (no report.html yet) is not done: it runs again.
    std::fs::remove_file(root.join("single/digits/mlp-8/sgd/seed-2/report.html")).unwrap();
    let again = sweep_output(root, "single", &[]);
    assert_eq!(trained(&again), ["digits mlp-8 sgd seed 2"], "{again}");
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        out.push(e.path());
        if e.path().is_dir() {
            out.extend(walk(&e.path()));
        }
    }
    out
}

#[test]
fn a_shard_killed_part_way_and_started_again_finishes_only_what_is_missing() {
    let ws = small_sweep();
    let root = ws.path();
    sweep_output(root, "single", &[]);
    // Killed as its second combination starts training: the first is done, the second claimed.
    let mut child = held_sweep(root, "sharded", &["--shard", "1/2"], 2);
    let lines: Vec<String> = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .take(2)
        .map(Result::unwrap)
        .collect();
    assert!(lines[1].ends_with(": training"), "{lines:?}");
    child.kill().unwrap();
    child.wait().unwrap();
    let again = sweep_output(root, "sharded", &["--shard", "1/2"]);
    assert_eq!(again.matches(": already done").count(), 1, "{again}");
    assert_eq!(trained(&again).len(), 3, "{again}");
    assert!(
        again.contains("the sweep still lacks 4 of 8 combinations"),
        "{again}"
    );
    // A summary now names what is missing, and fails.
    let out = sweep_process(root, "sharded", &["--summarize"])
        .wait_with_output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.starts_with("error: the sweep is incomplete: 4 of 8"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("- missing: sharded/"));
    let last = sweep_output(root, "sharded", &["--shard", "2/2"]);
    assert_eq!(trained(&last).len(), 4, "{last}");
    assert!(
        last.contains("| test accuracy |"),
        "the last shard summarises: {last}"
    );
    assert_eq!(
        summary_numbers(root, "sharded"),
        summary_numbers(root, "single")
    );
}

#[test]
fn shard_values_that_make_no_sense_get_one_line_errors() {
    let ws = small_sweep();
    for (value, needle) in [
        ("0/4", "shards are numbered 1 to 4"),
        ("5/4", "shards are numbered 1 to 4"),
        ("2/0", "the shard count must be at least 1"),
        ("two", "is not a shard"),
        ("1/x", "is not a shard"),
        ("auto", "neither SLURM_ARRAY_TASK_ID"),
    ] {
        let out = sweep_process(ws.path(), "out", &["--shard", value])
            .wait_with_output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{value}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        assert!(stderr.contains(needle), "{value}: {stderr}");
    }
    assert!(!ws.path().join("out").exists());
}

/// An environment holding only `pairs`.
fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
    move |name| {
        pairs
            .iter()
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())
    }
}

#[test]
fn shard_auto_reads_slurm_and_kubernetes_indices() {
    let auto = ShardArg::Auto { count: None };
    let slurm = [
        ("SLURM_ARRAY_TASK_ID", "3"),
        ("SLURM_ARRAY_TASK_MIN", "1"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
    ];
    assert_eq!(
        auto.resolve(env(&slurm)).unwrap(),
        Shard::new(3, 4).unwrap()
    );
    // Arrays numbered from 0 as well as from 1.
    let zero = [
        ("SLURM_ARRAY_TASK_ID", "0"),
        ("SLURM_ARRAY_TASK_MIN", "0"),
        ("SLURM_ARRAY_TASK_COUNT", "4"),
    ];
    assert_eq!(auto.resolve(env(&zero)).unwrap(), Shard::new(1, 4).unwrap());
    let k8s = [("JOB_COMPLETION_INDEX", "3")];
    assert_eq!(
        ShardArg::Auto { count: Some(4) }
            .resolve(env(&k8s))
            .unwrap(),
        Shard::new(4, 4).unwrap()
    );
    let err = auto.resolve(env(&k8s)).unwrap_err().to_string();
    assert!(err.contains("write --shard auto/N"), "{err}");
    let past = [("JOB_COMPLETION_INDEX", "4")];
    assert!(
        ShardArg::Auto { count: Some(4) }
            .resolve(env(&past))
            .is_err()
    );
    // Every combination belongs to exactly one shard.
    let shards: Vec<Shard> = (1..=3).map(|i| Shard::new(i, 3).unwrap()).collect();
    for position in 0..10 {
        assert_eq!(shards.iter().filter(|s| s.owns(position)).count(), 1);
    }
}

#[test]
fn a_shard_stopped_by_sigterm_gives_its_run_back_and_a_rerun_finishes() {
    let ws = small_sweep();
    let root = ws.path();
    sweep_output(root, "single", &[]);
    // Stopped as its first combination starts training.
    let mut child = held_sweep(root, "stopped", &[], 1);
    // Kept open to the end: a closed pipe would end the sweep with SIGPIPE instead.
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    assert!(lines.next().unwrap().unwrap().ends_with(": training"));
    let (stderr, status) = crate::common::interrupt_held(child, "TERM");
    assert!(!status.success(), "{stderr}");
    assert!(
        stderr.contains("run the same command again to continue"),
        "{stderr}"
    );
    for entry in walk(&root.join("stopped")) {
        assert!(!entry.to_string_lossy().contains(".claim"), "{entry:?}");
        assert!(
            !entry.ends_with("error.txt"),
            "an interruption is no failure"
        );
    }
    sweep_output(root, "stopped", &[]);
    assert_eq!(
        summary_numbers(root, "stopped"),
        summary_numbers(root, "single")
    );
}
