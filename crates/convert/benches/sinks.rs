//! Sink throughput: each built-in sink writes one synthetic mailbox of 10,000 messages
//! (`mailmig_ir::synth`, default mix: 1 KiB bodies, a 4 KiB attachment on every 5th message,
//! an embedded message on every 50th) into a fresh temporary directory.
//!
//! Two groups over the same work: `sinks_messages` reports messages/s, `sinks_bytes` MB/s of
//! output written. Run with `cargo bench -p mailmig-convert --bench sinks`.
//!
//! Maildir and EML create one file per message, so on a disk file system they measure file
//! creation more than the sink; set `MAILMIG_BENCH_TMP=/dev/shm` to write to a RAM file
//! system instead (the temporary directories are created below it).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    missing_docs
)]

use std::time::Duration;

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mailmig_convert::sinks::builtin_sink;
use mailmig_ir::synth::{SynthSource, SynthSpec};
use mailmig_ir::{Budget, MailboxContext, Message, Sink, Source, WrittenStats};

const MESSAGES: u32 = 10_000;

struct Mailbox {
    source: SynthSource,
    folders: Vec<mailmig_ir::Folder>,
    messages: Vec<Message>,
}

fn mailbox() -> Mailbox {
    let source = SynthSource::new(SynthSpec {
        users: 1,
        messages_per_user: MESSAGES,
        empty_user_every: 0,
        ..SynthSpec::default()
    });
    let mb = source.mailboxes()[0].clone();
    let (folders, messages) = {
        let section = source.open_mailbox(&mb, &Budget::unlimited()).unwrap();
        let messages: Vec<Message> = section.messages.map(|m| m.unwrap()).collect();
        (section.folders, messages)
    };
    assert_eq!(messages.len(), MESSAGES as usize);
    Mailbox {
        source,
        folders,
        messages,
    }
}

fn write_all(sink: &dyn Sink, mb: &Mailbox, dir: &std::path::Path) -> WrittenStats {
    let info = &mb.source.mailboxes()[0];
    let ctx = MailboxContext {
        post_office: mb.source.post_office(),
        mailbox: info,
        folders: &mb.folders,
        dir_name: "user0001",
        no_mail: false,
    };
    let mut w = sink.open_mailbox(ctx, dir).unwrap();
    for m in &mb.messages {
        w.write_message(m).unwrap();
    }
    w.finish().unwrap()
}

fn bench_dir() -> tempfile::TempDir {
    match std::env::var_os("MAILMIG_BENCH_TMP") {
        Some(base) => tempfile::tempdir_in(base).unwrap(),
        None => tempfile::tempdir().unwrap(),
    }
}

fn bench(c: &mut Criterion) {
    let mb = mailbox();
    for (group_name, by_bytes) in [("sinks_messages", false), ("sinks_bytes", true)] {
        let mut group = c.benchmark_group(group_name);
        group.sample_size(10);
        group.measurement_time(Duration::from_secs(8));
        group.warm_up_time(Duration::from_secs(1));
        for name in ["maildir", "mbox", "eml", "jsonl"] {
            let sink = builtin_sink(name).unwrap();
            let probe = bench_dir();
            let stats = write_all(sink.as_ref(), &mb, probe.path());
            if by_bytes {
                group.throughput(Throughput::Bytes(stats.bytes));
            } else {
                group.throughput(Throughput::Elements(stats.messages));
            }
            group.bench_function(name, |b| {
                b.iter_batched(
                    bench_dir,
                    |dir| {
                        write_all(sink.as_ref(), &mb, dir.path());
                        dir
                    },
                    BatchSize::PerIteration,
                )
            });
        }
        group.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
