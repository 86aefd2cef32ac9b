//! MMFF parse and write throughput (MB/s) on messages from the deterministic synthetic post
//! office (`mailmig_ir::synth`), written as one multi-message MMFF file (CR terminators, CP850).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailmig_ir::blob::SharedBytes;
use mailmig_ir::synth::{SynthSource, SynthSpec};
use mailmig_ir::{Budget, Limits, Message, Source};
use mailmig_msmail::mmff::reader::{ReadOptions, read_file};
use mailmig_msmail::mmff::writer::{WriterOptions, write_message};

fn messages() -> Vec<Message> {
    let spec = SynthSpec {
        users: 10,
        messages_per_user: 200,
        seed: 7,
        ..SynthSpec::default()
    };
    let src = SynthSource::new(spec);
    let mut out = Vec::new();
    for mb in src.mailboxes() {
        let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
        out.extend(sec.messages.flatten());
    }
    out
}

fn bench(c: &mut Criterion) {
    let msgs = messages();
    let opts = WriterOptions::default();
    let mut file = Vec::new();
    for m in &msgs {
        write_message(m, &opts, &mut file);
    }
    let data: SharedBytes = Arc::new(file.clone());
    let limits = Limits::default();
    let ro = ReadOptions {
        code_page: 850,
        limits: &limits,
        file_name: "bench",
        base_dir: None,
    };
    assert_eq!(read_file(&data, &ro).items.len(), msgs.len());
    let mut g = c.benchmark_group("mmff");
    g.throughput(Throughput::Bytes(file.len() as u64));
    g.bench_function(
        format!("parse_{}_messages_{}_bytes", msgs.len(), file.len()),
        |b| b.iter(|| read_file(&data, &ro).items.len()),
    );
    g.bench_function("write", |b| {
        let mut buf = Vec::with_capacity(file.len());
        b.iter(|| {
            buf.clear();
            for m in &msgs {
                write_message(m, &opts, &mut buf);
            }
            buf.len()
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
