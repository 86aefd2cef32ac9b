//! Run-engine throughput: a synthetic post office converted end to end (staging, fsync,
//! atomic commit, journal, report) into EML and JSON Lines, with 1 and 2 workers.

// criterion_group! generates an undocumented public function.
#![allow(missing_docs)]

use std::sync::Arc;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailmig_convert::engine::{self, RunOptions};
use mailmig_convert::sinks::builtin_sink;
use mailmig_ir::synth::{SynthSource, SynthSpec};

const USERS: u32 = 20;
const MESSAGES: u32 = 50;

fn spec() -> SynthSpec {
    SynthSpec {
        users: USERS,
        messages_per_user: MESSAGES,
        seed: 7,
        empty_user_every: 0,
        ..SynthSpec::default()
    }
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("engine");
    g.sample_size(10);
    g.throughput(Throughput::Elements(u64::from(USERS * MESSAGES)));
    for sink in ["eml", "jsonl"] {
        for jobs in [1usize, 2] {
            g.bench_function(format!("{sink}_j{jobs}"), |b| {
                b.iter_with_setup(
                    || tempfile::tempdir().map(|d| (d, Arc::new(SynthSource::new(spec())))),
                    |setup| {
                        let Ok((dir, source)) = setup else { return };
                        let Some(sink) = builtin_sink(sink) else {
                            return;
                        };
                        let opts = RunOptions {
                            out_dir: dir.path().join("out"),
                            jobs,
                            fingerprint: "bench".into(),
                            durability: Default::default(),
                            ..RunOptions::default()
                        };
                        let _ = engine::run(source, Arc::from(sink), &opts);
                    },
                );
            });
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
