//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]
// Test support code: failing loudly is the point.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The CLI under test (the same code as the `mailmig` binary).
pub fn mailmig() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mailmig-e2e"));
    c.env_remove("RUST_LOG");
    c
}

/// Runs the CLI and returns its output, printing stderr on failure to spawn.
pub fn run(args: &[&str]) -> Output {
    mailmig().args(args).output().expect("spawn mailmig-e2e")
}

/// Repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// Every file below `root` (relative path → bytes), skipping the engine's private `.mailmig`
/// directory; `report.json` is included with its `timings` objects removed.
pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .expect("read_dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        let rel = p
            .strip_prefix(root)
            .expect("below root")
            .to_string_lossy()
            .to_string();
        if rel == ".mailmig" {
            continue;
        }
        if p.is_dir() {
            out.insert(format!("{rel}/"), Vec::new());
            walk(root, &p, out);
        } else if rel == "report.json" {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&p).expect("read report")).expect("json");
            strip_timings(&mut v);
            out.insert(rel, serde_json::to_vec_pretty(&v).expect("json"));
        } else {
            out.insert(rel, std::fs::read(&p).expect("read file"));
        }
    }
}

fn strip_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("timings");
            map.values_mut().for_each(strip_timings);
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(strip_timings),
        _ => {}
    }
}

/// Asserts two snapshots are identical, naming the first difference.
pub fn assert_same_tree(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    if ka != kb {
        let only_a: Vec<_> = ka
            .iter()
            .filter(|k| !b.contains_key(k.as_str()))
            .take(5)
            .collect();
        let only_b: Vec<_> = kb
            .iter()
            .filter(|k| !a.contains_key(k.as_str()))
            .take(5)
            .collect();
        panic!(
            "trees differ in their files ({} vs {}): only in first {only_a:?}, only in second {only_b:?}",
            ka.len(),
            kb.len()
        );
    }
    for (k, va) in a {
        let vb = &b[k];
        assert!(
            va == vb,
            "file {k} differs ({} vs {} bytes)",
            va.len(),
            vb.len()
        );
    }
}

/// Reads and parses `report.json` of an output directory.
pub fn report(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(out.join("report.json")).expect("report.json"))
        .expect("report.json is JSON")
}

/// Generates a synthetic post office as JSON Lines into `dir` via the CLI.
pub fn generate_jsonl(dir: &Path, users: u32, messages: u32) {
    generate("jsonl", dir, users, messages);
}

/// Generates a synthetic post office in `format` into `dir` via the CLI; it must exit 0.
pub fn generate(format: &str, dir: &Path, users: u32, messages: u32) {
    let o = run(&[
        "generate",
        "--format",
        format,
        "--users",
        &users.to_string(),
        "--messages",
        &messages.to_string(),
        "-o",
        dir.to_str().expect("utf-8 path"),
    ]);
    assert!(
        o.status.success(),
        "generate failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Files and directories below `dir`, recursively.
pub fn count_files(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        n += if p.is_dir() { 1 + count_files(&p) } else { 1 };
    }
    n
}

/// Copies a directory tree (files and directories only).
pub fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let dest = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &dest);
        } else {
            std::fs::copy(&p, &dest).unwrap();
        }
    }
}

/// Runs `mailmig convert INPUT --to TO -o OUT EXTRA...` and asserts it exits 0.
pub fn convert_ok(input: &Path, to: &str, out: &Path, extra: &[&str]) {
    convert_expecting(0, input, to, out, extra);
}

/// Runs `mailmig convert INPUT --to TO -o OUT EXTRA...`, asserts it exits with `code`, and
/// returns its output.
pub fn convert_expecting(code: i32, input: &Path, to: &str, out: &Path, extra: &[&str]) -> Output {
    let mut args = vec![
        "convert",
        input.to_str().unwrap(),
        "--to",
        to,
        "-o",
        out.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let o = run(&args);
    assert_eq!(
        o.status.code(),
        Some(code),
        "convert --to {to} {extra:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}
