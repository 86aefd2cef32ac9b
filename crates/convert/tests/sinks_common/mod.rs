//! Shared helpers of the sink integration tests: drive a sink over a source the way the run
//! engine does (one fresh directory per mailbox, then `Sink::finish`), list output trees.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailmig_convert::jsonl::JsonlSource;
use mailmig_ir::text::safe_component;
use mailmig_ir::{
    Budget, CommittedMailbox, MailboxContext, MailboxInfo, Message, OpenOptions, Sink, Source,
    WrittenStats,
};
use sha2::{Digest, Sha256};

/// The repository's `corpus/jsonl/sample.jsonl`.
pub fn sample_path() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/jsonl/sample.jsonl")
}

/// Opens the sample as a source.
pub fn sample_source() -> JsonlSource {
    let bytes = std::fs::read(sample_path()).unwrap();
    JsonlSource::from_stream(Arc::new(bytes), "sample.jsonl", &OpenOptions::default()).unwrap()
}

/// Every mailbox with its folders and messages, read fully.
pub fn read_all(source: &dyn Source) -> Vec<(MailboxInfo, Vec<mailmig_ir::Folder>, Vec<Message>)> {
    source
        .mailboxes()
        .iter()
        .map(|mb| {
            let section = source.open_mailbox(mb, &Budget::unlimited()).unwrap();
            let msgs: Vec<Message> = section.messages.map(|m| m.unwrap()).collect();
            (mb.clone(), section.folders, msgs)
        })
        .collect()
}

/// Directory name of a mailbox in test output.
pub fn dir_name(key: &str) -> String {
    safe_component(key, 64, "mailbox")
}

/// Writes every mailbox of `source` with `sink` below `out` (created), like the engine.
pub fn convert(
    source: &dyn Source,
    sink: &dyn Sink,
    out: &Path,
    no_mail: bool,
) -> Vec<WrittenStats> {
    std::fs::create_dir_all(out).unwrap();
    let mut committed = Vec::new();
    let mut stats = Vec::new();
    for mb in source.mailboxes() {
        let name = dir_name(&mb.key);
        let dir = out.join(&name);
        std::fs::create_dir(&dir).unwrap();
        let section = source.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let ctx = MailboxContext {
            post_office: source.post_office(),
            mailbox: mb,
            folders: &section.folders,
            dir_name: &name,
            no_mail,
        };
        let mut w = sink.open_mailbox(ctx, &dir).unwrap();
        if !no_mail {
            for m in section.messages {
                w.write_message(&m.unwrap()).unwrap();
            }
        }
        stats.push(w.finish().unwrap());
        committed.push(CommittedMailbox {
            key: mb.key.clone(),
            dir_name: name,
            display_name: mb.display_name.clone(),
            path: dir.clone(),
            mailbox: mb.clone(),
        });
    }
    sink.finish(source.post_office(), &committed, out).unwrap();
    stats
}

/// A sorted listing of a tree: `d path/` for directories, `f path size sha256` for files.
pub fn listing(root: &Path) -> String {
    let mut entries = Vec::new();
    walk(root, root, &mut entries);
    entries.sort();
    let mut s = String::new();
    for e in entries {
        s.push_str(&e);
        s.push('\n');
    }
    s
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path.strip_prefix(root).unwrap().to_string_lossy();
        if entry.file_type().unwrap().is_dir() {
            out.push(format!("d {rel}/"));
            walk(root, &path, out);
        } else {
            let bytes = std::fs::read(&path).unwrap();
            let hex: String = Sha256::digest(&bytes)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            out.push(format!("f {rel} {} {hex}", bytes.len()));
        }
    }
}

/// All files below `root` with their relative paths, sorted.
pub fn files(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut v = Vec::new();
    collect(root, root, &mut v);
    v.sort();
    v
}

fn collect(root: &Path, dir: &Path, out: &mut Vec<(String, Vec<u8>)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        if entry.file_type().unwrap().is_dir() {
            collect(root, &path, out);
        } else {
            let rel = path
                .strip_prefix(root)
                .unwrap()
                .to_string_lossy()
                .into_owned();
            out.push((rel, std::fs::read(&path).unwrap()));
        }
    }
}
