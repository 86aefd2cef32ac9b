//! Parse throughput of the IFF reader: a synthetic post office (`mailmig_ir::synth`) is written
//! with [`IffSink`] in the setup, then opened and read completely (every message decoded, every
//! attachment window taken). Reported twice: as bytes of the set per second (MB/s) and as
//! messages per second.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

#[path = "../tests/common/mod.rs"]
mod common;

use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailmig_iff::{IffDriver, IffSink};
use mailmig_ir::synth::{SynthSource, SynthSpec};
use mailmig_ir::{Budget, Driver, OpenOptions};

fn set_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                total += e.metadata().unwrap().len();
            }
        }
    }
    total
}

fn read_everything(dir: &Path) -> u64 {
    let src = IffDriver
        .open(&[dir.to_path_buf()], &OpenOptions::default())
        .unwrap();
    let mut n = 0;
    for mb in src.mailboxes() {
        let s = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
        for m in s.messages {
            let m = m.unwrap();
            std::hint::black_box(&m);
            n += 1;
        }
    }
    n
}

fn bench(c: &mut Criterion) {
    let spec = SynthSpec {
        users: 40,
        messages_per_user: 50,
        attachment_every: 4,
        embedded_every: 25,
        body_bytes: 2048,
        attachment_bytes: 8192,
        ..SynthSpec::default()
    };
    let out = tempfile::tempdir().unwrap();
    common::write_set(
        &SynthSource::new(spec),
        &IffSink::default(),
        out.path(),
        false,
    );
    let bytes = set_size(out.path());
    let messages = read_everything(out.path());
    eprintln!("iff bench set: {bytes} bytes, {messages} messages");
    let mut g = c.benchmark_group("iff_parse");
    g.sample_size(20);
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("bytes", |b| b.iter(|| read_everything(out.path())));
    g.throughput(Throughput::Elements(messages));
    g.bench_function("messages", |b| b.iter(|| read_everything(out.path())));
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
