//! The documentation's paths and links, checked against the tree: a file moved or renamed
//! breaks this test instead of a reader's link. Also keeps README.md short enough to read in a
//! few minutes, with the set-up near its top.

use std::path::{Path, PathBuf};

/// Backticked text starting with one of these is taken for a repository path; anything else
/// in backticks (flags, run folders, files inside a run folder) cannot be checked here.
const REPO_ROOTS: [&str; 10] = [
    "src/",
    "tests/",
    "docs/",
    "configs/",
    "reference/",
    "bench/",
    "benches/",
    "assets/",
    "data/",
    ".ci/",
];
const ROOT_FILES: [&str; 2] = ["README.md", "Cargo.toml"];

const README_MAX_LINES: usize = 200;
const SET_UP_WITHIN_LINES: usize = 60;
const SET_UP_COMMANDS: [&str; 2] = [
    "cargo run --release -- --config configs/mlp.toml",
    "cargo test --release",
];

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The text outside fenced code blocks: commands and code there may be relative to another
/// folder, or name files a run creates.
fn prose(markdown: &str) -> String {
    let mut fenced = false;
    let mut out = String::new();
    for line in markdown.lines() {
        if line.trim_start().starts_with("```") {
            fenced = !fenced;
        } else if !fenced {
            out.push_str(line);
        }
        // An empty line for each fenced one keeps the text on either side of a fence apart.
        out.push('\n');
    }
    out
}

/// Link and image targets that should name a file beside `markdown`, `#fragment` removed.
fn local_link_targets(markdown: &str) -> Vec<String> {
    prose(markdown)
        .split("](")
        .skip(1)
        .filter_map(|rest| rest.split([')', ' ']).next())
        .filter(|target| {
            !(target.is_empty()
                || target.starts_with('#')
                || target.starts_with("http://")
                || target.starts_with("https://")
                || target.starts_with("mailto:"))
        })
        .map(|target| target.split('#').next().unwrap_or_default().to_string())
        .collect()
}

fn is_repo_path(token: &str) -> bool {
    let placeholder = token.contains(char::is_whitespace) || token.contains(['*', '<', '{', '$']);
    !placeholder
        && (ROOT_FILES.contains(&token) || REPO_ROOTS.iter().any(|root| token.starts_with(root)))
}

/// Backticked repository paths in `markdown`, in order.
fn repo_paths(markdown: &str) -> Vec<String> {
    prose(markdown)
        .split('`')
        .skip(1)
        .step_by(2)
        .filter(|token| is_repo_path(token))
        .map(str::to_string)
        .collect()
}

/// Link targets of `markdown` that do not exist in `dir`, the folder of the file holding it
/// (as GitHub resolves them).
fn broken_links(dir: &Path, markdown: &str) -> Vec<String> {
    local_link_targets(markdown)
        .into_iter()
        .filter(|target| !dir.join(target).exists())
        .collect()
}

/// Backticked repository paths of `markdown` that do not exist under `root`.
fn missing_paths(root: &Path, markdown: &str) -> Vec<String> {
    repo_paths(markdown)
        .into_iter()
        .filter(|path| !root.join(path).exists())
        .collect()
}

/// README.md and every markdown file under docs/ and reference/.
fn markdown_files() -> Vec<PathBuf> {
    let mut files = vec![repo().join("README.md")];
    let mut folders = vec![repo().join("docs"), repo().join("reference")];
    while let Some(folder) = folders.pop() {
        for entry in std::fs::read_dir(&folder).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                folders.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn every_path_and_link_in_the_docs_exists() {
    let files = markdown_files();
    assert!(
        files.contains(&repo().join("docs/method.md")),
        "the walk missed docs/: {files:?}"
    );
    let mut problems = Vec::new();
    for file in &files {
        let markdown = std::fs::read_to_string(file).unwrap();
        let name = file.strip_prefix(repo()).unwrap().display().to_string();
        let dir = file.parent().unwrap();
        for target in broken_links(dir, &markdown) {
            problems.push(format!("{name}: link ({target}) names no file beside it"));
        }
        for path in missing_paths(repo(), &markdown) {
            problems.push(format!("{name}: `{path}` is not in the repository"));
        }
    }
    assert!(problems.is_empty(), "\n{}", problems.join("\n"));
}

#[test]
fn the_check_reports_missing_paths_and_links() {
    let markdown = "See `src/no_such_module.rs` and [the keys](no_such_page.md#keys), not \
                    [Burn](https://burn.dev), [a section](#keys), `runs/mlp/report.html`, \
                    `src/*.rs`, `cargo test --release`, `Cargo.toml`, `tests/it/` or \
                    [the method](docs/method.md#sources).\n\n\
                    ```sh\ncat `src/inside_a_fence.rs` ](also_in_a_fence.md)\n```\n";
    assert_eq!(
        missing_paths(repo(), markdown),
        vec!["src/no_such_module.rs"]
    );
    assert_eq!(broken_links(repo(), markdown), vec!["no_such_page.md"]);
}

#[test]
fn readme_is_short_and_starts_with_the_set_up() {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let lines: Vec<&str> = readme.lines().collect();
    assert!(
        lines.len() <= README_MAX_LINES,
        "README.md has {} lines, more than {README_MAX_LINES}: move details into docs/",
        lines.len()
    );
    let top = lines[..lines.len().min(SET_UP_WITHIN_LINES)].join("\n");
    for command in SET_UP_COMMANDS {
        assert!(
            top.contains(command),
            "README.md's first {SET_UP_WITHIN_LINES} lines lack `{command}`"
        );
    }
}
