//! A sweep over seeds, models, optimisers and data sets in one command, with its summary.

mod common;

use std::process::Command;

use common::Files;
use serde_json::Value;

#[test]
fn sweep_runs_every_combination_and_summarises_over_seeds() {
    let ws = tempfile::tempdir().unwrap();
    let root = ws.path();
    Files::synthetic(200, 40).write(&root.join("digits"), true);
    let (p, l) = common::synthetic(200, 77);
    let (tp, tl) = common::synthetic(40, 78);
    Files {
        train_images: weightscope::data::encode_images(200, 28, 28, &p),
        train_labels: weightscope::data::encode_labels(&l),
        test_images: weightscope::data::encode_images(40, 28, 28, &tp),
        test_labels: weightscope::data::encode_labels(&tl),
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
        let out = Command::new(env!("CARGO_BIN_EXE_weightscope"))
            .args(["sweep", "--config", "sweep.toml", "--out", "out"])
            .args(extra)
            .current_dir(root)
            .output()
            .unwrap();
        common::succeeded(&out)
    };
    let table = sweep(&[]);
    assert!(table.contains("| test accuracy |"), "{table}");
    assert!(table.contains("Mean ± standard deviation over 2 seeds."));
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
        assert!(acc["std"].as_f64().unwrap() >= 0.0);
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
    assert!(
        root.join("out/other/mlp-8/sgd/seed-2/report.html")
            .is_file()
    );
    let report = std::fs::read_to_string(root.join("out/report.html")).unwrap();
    assert!(report.contains("Verdict on the article's claims, per group"));
    // A second call reuses the finished runs and summarises them the same way.
    let again = sweep(&[]);
    assert_eq!(again, table);
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
        let out = Command::new(env!("CARGO_BIN_EXE_weightscope"))
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
