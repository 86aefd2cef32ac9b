//! End to end: a synthetic post office through the run engine into each MIME-family sink,
//! with 1 and 2 worker threads (messages/s and MB/s of output).

#![allow(clippy::expect_used, missing_docs)]

use std::sync::Arc;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use mailmig_convert::engine::{RunOptions, run};
use mailmig_convert::sinks::builtin_sink;
use mailmig_ir::Source;
use mailmig_ir::synth::{SynthSource, SynthSpec};

fn spec() -> SynthSpec {
    SynthSpec {
        users: 20,
        messages_per_user: 250,
        ..SynthSpec::default()
    }
}

fn end_to_end(c: &mut Criterion) {
    let source: Arc<dyn Source> = Arc::new(SynthSource::new(spec()));
    let with_mail = spec().users - spec().users / spec().empty_user_every;
    let messages = u64::from(with_mail * spec().messages_per_user);
    let mut group = c.benchmark_group("synth_to_sink");
    group.sample_size(10);
    group.throughput(Throughput::Elements(messages));
    for sink_name in ["maildir", "mbox", "eml", "jsonl"] {
        for jobs in [1usize, 2] {
            group.bench_with_input(
                BenchmarkId::new(sink_name, format!("j{jobs}")),
                &jobs,
                |b, &jobs| {
                    b.iter_with_setup(
                        || tempfile::tempdir().expect("tempdir"),
                        |tmp| {
                            let sink = builtin_sink(sink_name).expect("builtin sink");
                            let opts = RunOptions {
                                out_dir: tmp.path().join("out"),
                                jobs,
                                no_mail: false,
                                mailbox_time_budget: None,
                                inputs: Vec::new(),
                                progress: None,
                                fingerprint: "bench".into(),
                                durability: Default::default(),
                            };
                            run(Arc::clone(&source), Arc::from(sink), &opts).expect("run");
                            tmp
                        },
                    );
                },
            );
        }
    }
    group.finish();
}

criterion_group!(benches, end_to_end);
criterion_main!(benches);
