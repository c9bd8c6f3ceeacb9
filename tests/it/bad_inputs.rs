//! The bad-input corpus in tests/bad_inputs/cases.toml, run through the real binary: each case
//! must fail with one line on stderr that starts as the corpus says, without a panic, and
//! without creating the output folder.

use std::path::Path;

use crate::common::encode_labels;
use serde::Deserialize;

#[derive(Deserialize)]
struct Corpus {
    case: Vec<Case>,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    #[serde(default)]
    args: Vec<String>,
    config: Option<String>,
    data: Option<DataChange>,
    expect: String,
}

#[derive(Deserialize)]
struct DataChange {
    file: String,
    truncate: Option<usize>,
    #[serde(default)]
    set: Vec<SetByte>,
    append: Option<usize>,
    relabel: Option<usize>,
    #[serde(default)]
    delete: bool,
    #[serde(default)]
    gzip_garbage: bool,
}

#[derive(Deserialize)]
struct SetByte {
    at: usize,
    value: u8,
}

fn apply(change: &DataChange, dir: &Path) {
    let path = dir.join(&change.file);
    let mut bytes = std::fs::read(&path).unwrap();
    if let Some(n) = change.truncate {
        bytes.truncate(n);
    }
    for s in &change.set {
        bytes[s.at] = s.value;
    }
    if let Some(n) = change.append {
        bytes.extend(std::iter::repeat_n(0, n));
    }
    if let Some(n) = change.relabel {
        bytes = encode_labels(&vec![3; n]);
    }
    if change.delete || change.gzip_garbage {
        std::fs::remove_file(&path).unwrap();
        if change.gzip_garbage {
            let gz = dir.join(format!("{}.gz", change.file));
            std::fs::write(gz, b"\x1f\x8b\x08\x00 this is not deflate data").unwrap();
        }
        return;
    }
    std::fs::write(&path, bytes).unwrap();
}

#[test]
fn every_bad_input_gets_its_one_line_error_and_writes_nothing() {
    let text = std::fs::read_to_string("tests/bad_inputs/cases.toml").unwrap();
    let corpus: Corpus = toml::from_str(&text).unwrap();
    assert!(
        corpus.case.len() >= 40,
        "the corpus shrank: {}",
        corpus.case.len()
    );
    let mut failures = Vec::new();
    for case in &corpus.case {
        let ws = tempfile::tempdir().unwrap();
        let root = ws.path();
        crate::common::Files::synthetic(40, 20).write(&root.join("data"), false);
        std::fs::write(
            root.join("good.toml"),
            "[data]\ndir = \"data\"\nvalidation_split = 0.1\n[training]\nepochs = 1\nbatch_size = 10\n",
        )
        .unwrap();
        if let Some(change) = &case.data {
            apply(change, &root.join("data"));
        }
        let mut args = case.args.clone();
        if let Some(config) = &case.config {
            std::fs::write(root.join("case.toml"), config.replace("{data}", "data")).unwrap();
            args = vec![
                "--config".into(),
                "case.toml".into(),
                "--out".into(),
                "{out}".into(),
            ];
        }
        if args.is_empty() {
            args = vec![
                "--config".into(),
                "good.toml".into(),
                "--out".into(),
                "{out}".into(),
            ];
        }
        let fixtures = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures");
        let args: Vec<String> = args
            .iter()
            .map(|a| a.replace("{out}", "out").replace("{fixtures}", fixtures))
            .collect();
        let out = crate::common::binary()
            .args(&args)
            .current_dir(root)
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        let expect = case
            .expect
            .replace("{data}", "data")
            .replace("{out}", "out")
            .replace("{fixtures}", fixtures);
        let problems = [
            (out.status.success(), "exited 0"),
            (stderr.trim_end().lines().count() != 1, "not one line"),
            (!stderr.starts_with(&expect), "unexpected message"),
            (
                stderr.contains("panicked") || stderr.contains("internal error"),
                "panicked",
            ),
            (root.join("out").exists(), "created the output folder"),
        ];
        for (bad, what) in problems {
            if bad {
                failures.push(format!(
                    "{}: {what}\n  expected: {expect}\n  got: {stderr}",
                    case.name
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
