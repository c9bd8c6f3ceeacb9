//! The layer rule of `src/lib.rs`, checked on the source tree: every top-level module of
//! `src/` has a layer, imports only modules of lower layers, and no two modules import each
//! other, directly or through others. `.ci/run` runs this check first, by name.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Top-level modules and their layers, bottom (0) to top; as `src/lib.rs` tables them.
const LAYERS: [(&str, usize); 9] = [
    ("core", 0),
    ("nn", 1),
    ("analysis", 1),
    ("store", 1),
    ("train", 2),
    ("interop", 2),
    ("tensorflow", 2),
    ("render", 3),
    ("commands", 4),
];

type Graph = BTreeMap<String, BTreeSet<String>>;

/// The top-level modules `crate::…` paths in `text` name, comments left out. Handles
/// `crate::a::b`, `crate::{a::x, b}` and nested groups.
fn crate_imports(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or_default();
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let mut depth = 0;
                let mut start = 0;
                for (i, c) in group.char_indices() {
                    match c {
                        '{' => depth += 1,
                        '}' if depth == 0 => {
                            found.extend(first_segment(&group[start..i]));
                            break;
                        }
                        '}' => depth -= 1,
                        ',' if depth == 0 => {
                            found.extend(first_segment(&group[start..i]));
                            start = i + 1;
                        }
                        _ => {}
                    }
                }
            } else {
                found.extend(first_segment(rest));
            }
        }
    }
    found
}

fn first_segment(path: &str) -> Option<String> {
    let name: String = path
        .trim_start()
        .chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect();
    (!name.is_empty()).then_some(name)
}

/// Which top-level modules each top-level module of `src` imports (itself left out).
fn import_graph(src: &Path) -> Graph {
    let mut graph = Graph::new();
    for entry in std::fs::read_dir(src).unwrap() {
        let path = entry.unwrap().path();
        let module = path.file_stem().unwrap().to_string_lossy().into_owned();
        if module == "lib" || module == "main" {
            continue;
        }
        let mut imports = BTreeSet::new();
        for file in rust_files(&path) {
            imports.extend(crate_imports(&std::fs::read_to_string(file).unwrap()));
        }
        imports.remove(&module);
        graph.insert(module, imports);
    }
    graph
}

fn rust_files(path: &Path) -> Vec<std::path::PathBuf> {
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

/// One import cycle of the graph, as the modules around it, if there is any.
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

/// Every import that does not point to a lower layer, as "from -> to", and every module
/// without a layer.
fn layer_violations(graph: &Graph) -> Vec<String> {
    let layer: BTreeMap<&str, usize> = LAYERS.into_iter().collect();
    let mut out = Vec::new();
    for (from, imports) in graph {
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
fn the_source_tree_keeps_its_layers() {
    let graph = import_graph(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    let modules: BTreeSet<&str> = graph.keys().map(String::as_str).collect();
    let layered: BTreeSet<&str> = LAYERS.iter().map(|(m, _)| *m).collect();
    assert_eq!(modules, layered, "src/ and LAYERS name different modules");
    assert_eq!(find_cycle(&graph), None, "an import cycle");
    assert_eq!(layer_violations(&graph), Vec::<String>::new());
    // The check sees real imports: the top layer uses every other layer.
    assert_eq!(graph["commands"].len(), LAYERS.len() - 1, "{graph:?}");
}

#[test]
fn the_check_finds_cycles_and_upward_imports() {
    let dir = tempfile::tempdir().unwrap();
    let src = dir.path();
    let write = |rel: &str, text: &str| {
        let path = src.join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    };
    write("lib.rs", "pub mod core;\npub mod render;\n");
    write("core/mod.rs", "pub mod a;\n");
    // An upward import hidden in a nested group, after a comment that must not count.
    write(
        "core/a.rs",
        "// crate::store is only mentioned\nuse crate::{core::x, render::{plot, figures}};\n",
    );
    write("render/mod.rs", "use crate::core::config::Config;\n");
    let graph = import_graph(src);
    assert_eq!(graph["core"], BTreeSet::from(["render".to_string()]));
    assert_eq!(
        find_cycle(&graph),
        Some(vec!["core".into(), "render".into(), "core".into()])
    );
    assert_eq!(
        layer_violations(&graph),
        vec!["core (layer 0) imports render (layer 3): imports must point down"]
    );
    write("extra.rs", "use crate::core::x;\n");
    assert!(
        layer_violations(&import_graph(src))
            .contains(&"extra has no layer: add it to LAYERS and src/lib.rs".to_string())
    );
}
