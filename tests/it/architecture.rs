//! The layer rule of `src/lib.rs`, checked on the source tree: every top-level module of
//! `src/` has a layer and imports only modules of lower layers, and inside every folder no
//! files (or subfolders) import each other in a circle, directly or through others. Imports
//! are the `crate::` and `super::` paths in the code, `use` groups included. `.ci/run` runs
//! this check first, by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Top-level modules and their layers, bottom (0) to top; as `src/lib.rs` tables them.
const LAYERS: [(&str, usize); 10] = [
    ("core", 0),
    ("nn", 1),
    ("analysis", 1),
    ("store", 1),
    ("train", 2),
    ("interop", 2),
    ("tensorflow", 2),
    ("render", 3),
    ("app", 4),
    ("commands", 5),
];

/// A folder's entries (files by stem, subfolders by name, its own `mod.rs` as "mod") and
/// which of them each one imports.
type Graph = BTreeMap<String, BTreeSet<String>>;

/// The graph of every folder of the tree, by the folder's module path ("" for `src/`).
type Folders = BTreeMap<String, Graph>;

/// The module a source file is: `src/a/b.rs` is `a::b`, `src/a/mod.rs` is `a`.
fn module_of(src: &Path, file: &Path) -> Vec<String> {
    let rel = file.strip_prefix(src).unwrap().with_extension("");
    let mut parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    if parts.last().is_some_and(|p| p == "mod") {
        parts.pop();
    }
    parts
}

/// Reads the paths at the start of `code` (just after `crate::` or the last `super::`, with
/// the module that names in `prefix`), expanding `{a, b::{c, d}}` groups; each path as its
/// segments. Returns how many characters it read.
fn expand(code: &[char], prefix: Vec<String>, out: &mut Vec<Vec<String>>) -> usize {
    let skip_space = |mut i: usize| {
        while code.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        i
    };
    let mut path = prefix;
    let mut i = 0;
    loop {
        i = skip_space(i);
        if code.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_space(i);
                if code.get(i) == Some(&'}') {
                    return i + 1;
                }
                i += expand(&code[i..], path.clone(), out);
                i = skip_space(i);
                match code.get(i) {
                    Some(',') => i += 1,
                    Some('}') => return i + 1,
                    _ => return i,
                }
            }
        }
        let start = i;
        while code
            .get(i)
            .is_some_and(|c| c.is_alphanumeric() || *c == '_')
        {
            i += 1;
        }
        if i == start {
            break;
        }
        path.push(code[start..i].iter().collect());
        if code.get(i) == Some(&':') && code.get(i + 1) == Some(&':') {
            i += 2;
        } else {
            break;
        }
    }
    out.push(path);
    i
}

/// The absolute module paths (item names included) that `text`, the source of module
/// `module`, imports through `crate::` and `super::`. Comments are left out, and so are a
/// file's inline modules' imports of the file itself (`mod tests { use super::*; }`).
fn imports(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut found = Vec::new();
    // Inline modules open in this file, with the brace depth they opened at.
    let mut inline: Vec<(String, i64)> = Vec::new();
    // Child modules this file declares (`mod name;`), which its `use name::…` imports name.
    let mut children: Vec<String> = Vec::new();
    let mut depth = 0i64;
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let item = without_visibility(code.trim_start());
        if let Some(rest) = item.strip_prefix("mod ") {
            let rest = rest.trim_end();
            if let Some(name) = rest.strip_suffix('{') {
                inline.push((name.trim().to_string(), depth));
            } else if let Some(name) = rest.strip_suffix(';') {
                children.push(name.trim().to_string());
            }
        }
        let here: Vec<String> = module
            .iter()
            .cloned()
            .chain(inline.iter().map(|(n, _)| n.clone()))
            .collect();
        if let Some(path) = item.strip_prefix("use ")
            && let Some(child) = children
                .iter()
                .find(|c| path.starts_with(&format!("{c}::")))
        {
            let chars: Vec<char> = path[child.len() + 2..].chars().collect();
            let mut base = here.clone();
            base.push(child.clone());
            expand(&chars, base, &mut found);
        }
        let mut rest = code;
        while let Some(at) = [rest.find("crate::"), rest.find("super::")]
            .into_iter()
            .flatten()
            .min()
        {
            let preceded = rest[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':');
            let mut base: Vec<String> = if rest[at..].starts_with("crate::") {
                Vec::new()
            } else {
                here.clone()
            };
            let mut after = &rest[at..];
            if after.starts_with("crate::") {
                after = &after["crate::".len()..];
            } else {
                while let Some(r) = after.strip_prefix("super::") {
                    base.pop();
                    after = r.trim_start();
                }
            }
            let mut paths = Vec::new();
            let chars: Vec<char> = after.chars().collect();
            let used = expand(&chars, base, &mut paths);
            let used: usize = chars[..used].iter().map(|c| c.len_utf8()).sum();
            if !preceded {
                found.extend(
                    paths
                        .into_iter()
                        .map(|p| p.into_iter().filter(|s| s != "self").collect::<Vec<_>>()),
                );
            }
            rest = &after[used..];
        }
        depth += code.matches('{').count() as i64 - code.matches('}').count() as i64;
        while inline.last().is_some_and(|(_, d)| *d >= depth) {
            inline.pop();
        }
    }
    found
}

/// An item's text without its `pub`, `pub(crate)` or `pub(super)`.
fn without_visibility(item: &str) -> &str {
    let Some(rest) = item.strip_prefix("pub") else {
        return item;
    };
    match rest.strip_prefix('(') {
        Some(scoped) => scoped.split_once(')').map_or(item, |(_, r)| r.trim_start()),
        None if rest.starts_with(' ') => rest.trim_start(),
        None => item,
    }
}

/// The module an imported path lands in: as far down `src/` as its segments name files or
/// folders (the rest are items).
fn target(src: &Path, path: &[String]) -> Vec<String> {
    let mut dir = src.to_path_buf();
    let mut module = Vec::new();
    for segment in path {
        if dir.join(segment).is_dir() {
            dir = dir.join(segment);
            module.push(segment.clone());
        } else if dir.join(format!("{segment}.rs")).is_file() {
            module.push(segment.clone());
            break;
        } else {
            break;
        }
    }
    module
}

fn rust_files(path: &Path) -> Vec<PathBuf> {
    if path.is_file() {
        return vec![path.to_path_buf()];
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).unwrap() {
        files.extend(rust_files(&entry.unwrap().path()));
    }
    files.retain(|f| f.extension().is_some_and(|e| e == "rs"));
    files
}

/// Every folder's graph: an import from file `a::x::f` to module `a::y::z` is an edge from
/// `x` to `y` in folder `a`, the folder that holds both.
fn folder_graphs(src: &Path) -> Folders {
    let mut folders = Folders::new();
    for file in rust_files(src) {
        let from = module_of(src, &file);
        if from == ["lib"] || from == ["main"] {
            continue; // they declare the modules and run the binary
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let is_mod_rs = file.file_stem().is_some_and(|s| s == "mod");
        let folder_of_from = |len: usize| {
            if is_mod_rs && len == from.len() {
                "mod".to_string()
            } else {
                from[len].clone()
            }
        };
        // Every file is a node of its folder, and each folder above it a node of its parent,
        // importing or not.
        let own_folder = if is_mod_rs {
            from.len()
        } else {
            from.len() - 1
        };
        for level in 0..=own_folder {
            folders
                .entry(from[..level].join("::"))
                .or_default()
                .entry(folder_of_from(level))
                .or_default();
        }
        for path in imports(&from, &text) {
            let to = target(src, &path);
            let common = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
            if common == from.len() && !is_mod_rs || common == to.len() && to.len() == from.len() {
                continue; // the file itself
            }
            let source = if common < from.len() {
                from[common].clone()
            } else {
                "mod".to_string()
            };
            let dest = if common < to.len() {
                to[common].clone()
            } else {
                "mod".to_string()
            };
            if source != dest {
                let graph = folders.entry(from[..common].join("::")).or_default();
                graph.entry(source).or_default().insert(dest);
            }
        }
    }
    folders
}

/// One import cycle of the graph, as the nodes around it, if there is any.
fn find_cycle(graph: &Graph) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &Graph,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, path, done) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = BTreeSet::new();
    graph
        .keys()
        .find_map(|start| visit(start, graph, &mut Vec::new(), &mut done))
}

/// Every cycle, one per folder that has any, as "folder: a -> b -> a".
fn cycles(folders: &Folders) -> Vec<String> {
    folders
        .iter()
        .filter_map(|(folder, graph)| {
            let cycle = find_cycle(graph)?;
            let folder = if folder.is_empty() { "src" } else { folder };
            Some(format!("{folder}: {}", cycle.join(" -> ")))
        })
        .collect()
}

/// Every import between top-level modules that does not point to a lower layer, as
/// "from -> to", and every module without a layer.
fn layer_violations(top: &Graph) -> Vec<String> {
    let layer: BTreeMap<&str, usize> = LAYERS.into_iter().collect();
    let mut out = Vec::new();
    for (from, imports) in top {
        let Some(&own) = layer.get(from.as_str()) else {
            out.push(format!(
                "{from} has no layer: add it to LAYERS and src/lib.rs"
            ));
            continue;
        };
        for to in imports {
            match layer.get(to.as_str()) {
                Some(&other) if other < own => {}
                Some(&other) => out.push(format!(
                    "{from} (layer {own}) imports {to} (layer {other}): imports must point down"
                )),
                None => out.push(format!("{from} imports {to}, which has no layer")),
            }
        }
    }
    out
}

#[test]
fn the_source_tree_keeps_its_layers_and_has_no_import_cycle() {
    let folders = folder_graphs(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let top = &folders[""];
    let modules: BTreeSet<&str> = top.keys().map(String::as_str).collect();
    let layered: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    assert_eq!(modules, layered, "src/ and LAYERS name different modules");
    assert_eq!(cycles(&folders), Vec::<String>::new(), "import cycles");
    assert_eq!(layer_violations(top), Vec::<String>::new());
    // The check sees real imports: the application layer uses every layer below it, and
    // files inside folders import their siblings.
    assert_eq!(top["app"].len(), LAYERS.len() - 2, "{top:?}");
    assert!(
        folders["analysis"]["pass"].contains("every_layer"),
        "{folders:?}"
    );
    assert!(folders["app"]["train"].contains("analyze"), "{folders:?}");
}

/// A made-up tree in a temporary folder; returns its `src`.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let path = dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
    dir
}

#[test]
fn the_check_finds_upward_imports_between_folders() {
    let dir = tree(&[
        ("lib.rs", "pub mod core;\npub mod render;\n"),
        ("core/mod.rs", "pub mod a;\n"),
        // An upward import hidden in a nested group, after a comment that must not count.
        (
            "core/a.rs",
            "// crate::store is only mentioned\nuse crate::{core::x, render::{plot, figures}};\n",
        ),
        ("render/mod.rs", "use crate::core::config::Config;\n"),
    ]);
    let folders = folder_graphs(dir.path());
    let top = &folders[""];
    assert_eq!(top["core"], BTreeSet::from(["render".to_string()]));
    assert_eq!(cycles(&folders), vec!["src: core -> render -> core"]);
    assert_eq!(
        layer_violations(top),
        vec!["core (layer 0) imports render (layer 3): imports must point down"]
    );
    let dir = tree(&[("extra.rs", "use crate::core::x;\n"), ("core/mod.rs", "")]);
    assert!(
        layer_violations(&folder_graphs(dir.path())[""])
            .contains(&"extra has no layer: add it to LAYERS and src/lib.rs".to_string())
    );
}

#[test]
fn the_check_finds_a_cycle_between_files_of_one_folder() {
    let dir = tree(&[
        (
            "app/mod.rs",
            "pub mod a;\npub mod b;\npub mod c;\npub mod deep;\n",
        ),
        // a -> b through a `super::` group, b -> c, c -> a through a `crate::` path in code.
        ("app/a.rs", "use super::{b::{One, Two}, x};\n"),
        ("app/b.rs", "use super::c::Three;\n"),
        (
            "app/c.rs",
            "fn f() { let _ = crate::app::a::four(); }\n#[cfg(test)]\nmod tests {\n    use super::*;\n    use super::super::c::Five;\n}\n",
        ),
        // A subfolder counts as one node of its folder: deep/e.rs -> b is deep -> b.
        ("app/deep/mod.rs", "pub mod e;\n"),
        ("app/deep/e.rs", "use super::super::b::Six;\n"),
    ]);
    let folders = folder_graphs(dir.path());
    let app = &folders["app"];
    assert_eq!(
        app["a"],
        BTreeSet::from(["b".to_string(), "mod".to_string()])
    );
    assert_eq!(app["c"], BTreeSet::from(["a".to_string()]), "{app:?}");
    assert_eq!(app["deep"], BTreeSet::from(["b".to_string()]));
    assert_eq!(cycles(&folders), vec!["app: a -> b -> c -> a"]);
    // A folder's mod.rs that uses a child by its bare name, and a child that imports an item
    // of mod.rs, form a cycle too; so does a `pub(crate)` inline module's import.
    let dir = tree(&[
        ("store/mod.rs", "pub mod a;\nmod b;\npub use a::Thing;\n"),
        ("store/a.rs", "use super::Other;\n"),
        (
            "store/b.rs",
            "pub(crate) mod inner {\n    use crate::store::mod_item;\n}\n",
        ),
    ]);
    let folders = folder_graphs(dir.path());
    assert_eq!(cycles(&folders), vec!["store: a -> mod -> a"]);
    assert_eq!(folders["store"]["b"], BTreeSet::from(["mod".to_string()]));
    // Without c's import of a, the folder is a tree again.
    let dir = tree(&[
        ("app/a.rs", "use super::b::One;\n"),
        ("app/b.rs", "use super::c::Three;\n"),
        ("app/c.rs", "mod tests {\n    use super::*;\n}\n"),
    ]);
    assert_eq!(cycles(&folder_graphs(dir.path())), Vec::<String>::new());
}
