//! Full walk of every corpus store: open, folder tree, every message with all properties,
//! recipients, attachments (data read) and embedded messages. Reports MB/s of input.
//!
//! `cargo bench -p mailmig-pst --bench walk`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
// criterion_group! generates undocumented items.
#![allow(missing_docs)]

use std::path::{Path, PathBuf};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailmig_ir::{Budget, Driver, OpenOptions};
use mailmig_pst::PstDriver;

fn corpus() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pst");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory shared/corpus/pst is missing")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pst" | "ost")))
        .collect();
    v.sort();
    v
}

/// Walks every message of `paths`; returns (messages, attachment bytes).
fn walk(paths: &[PathBuf]) -> (u64, u64) {
    let mut opts = OpenOptions::default();
    opts.salvage = true;
    let (mut n, mut bytes) = (0u64, 0u64);
    for p in paths {
        let src = PstDriver.open(std::slice::from_ref(p), &opts).unwrap();
        for mb in src.mailboxes().to_vec() {
            let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
            for m in sec.messages.flatten() {
                n += 1;
                bytes += m.tally().attachment_bytes + m.properties.len() as u64;
            }
        }
    }
    (n, bytes)
}

fn bench(c: &mut Criterion) {
    let paths = corpus();
    let total: u64 = paths
        .iter()
        .map(|p| std::fs::metadata(p).map(|m| m.len()).unwrap_or(0))
        .sum();
    let (n, _) = walk(&paths);
    eprintln!(
        "corpus: {} files, {total} bytes, {n} messages per walk",
        paths.len()
    );
    let mut g = c.benchmark_group("pst");
    g.sample_size(10);
    g.throughput(Throughput::Bytes(total));
    g.bench_function("walk_corpus", |b| b.iter(|| walk(&paths)));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
