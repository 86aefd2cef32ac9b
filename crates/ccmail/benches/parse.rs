//! Parse throughput of the EXPORT stream reader on a synthetic post office written by
//! [`CcmailSink`] from `mailmig_ir::synth`, side by side with a plain `memchr` line scan over the
//! same bytes (the floor any line-oriented reader pays).
//!
//! `prescan_folders` is the grammar walk alone (framing, header lines, no IR), as the folder
//! pre-scan runs it before a mailbox is read.
//!
//! Messages per second are `messages` (printed at start) divided by the `parse_bytes` time.
//!
//! Time is the benchmark thread's CPU time, not wall time: the figure is "per core" as the
//! issue states it, and stays meaningful when other work shares the machine.
//!
//! Size: `CCMAIL_BENCH_USERS` users (default 100) × `CCMAIL_BENCH_MESSAGES` messages (default
//! 200). The figures in the crate report use 1,000 × 200.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use mailmig_ccmail::{CcmailSink, ExportReader, ReaderConfig, scan_folder_names};
use mailmig_ir::blob::SharedBytes;
use mailmig_ir::synth::{SynthSource, SynthSpec};
use mailmig_ir::{Budget, Source};

/// Criterion measurement of the calling thread's CPU time.
struct ThreadCpuTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = cpu_time::ThreadTime;
    type Value = std::time::Duration;

    fn start(&self) -> Self::Intermediate {
        cpu_time::ThreadTime::now()
    }
    fn end(&self, i: Self::Intermediate) -> Self::Value {
        i.elapsed()
    }
    fn add(&self, v1: &Self::Value, v2: &Self::Value) -> Self::Value {
        *v1 + *v2
    }
    fn zero(&self) -> Self::Value {
        std::time::Duration::ZERO
    }
    fn to_f64(&self, value: &Self::Value) -> f64 {
        value.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WallTime.formatter()
    }
}

fn env(name: &str, default: u32) -> u32 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn build() -> (Vec<SharedBytes>, u64, u64) {
    let spec = SynthSpec {
        users: env("CCMAIL_BENCH_USERS", 100),
        messages_per_user: env("CCMAIL_BENCH_MESSAGES", 200),
        ..SynthSpec::default()
    };
    let src = SynthSource::new(spec);
    let sink = CcmailSink::new(850);
    let mut streams: Vec<SharedBytes> = Vec::new();
    let (mut bytes, mut messages) = (0u64, 0u64);
    for mb in src.mailboxes() {
        let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let mut buf = Vec::new();
        for m in sec.messages.flatten() {
            buf.extend(sink.render_message(&m, &sec.folders).bytes);
            messages += 1;
        }
        bytes += buf.len() as u64;
        streams.push(Arc::new(buf));
    }
    (streams, bytes, messages)
}

fn parse_all(streams: &[SharedBytes]) -> u64 {
    let mut n = 0u64;
    for s in streams {
        for m in ExportReader::new(s.clone(), ReaderConfig::default()) {
            n += u64::from(m.is_ok());
            black_box(&m);
        }
    }
    n
}

fn bench(c: &mut Criterion<ThreadCpuTime>) {
    let (streams, bytes, messages) = build();
    eprintln!(
        "ccmail bench: {} streams, {bytes} bytes, {messages} messages \
         (messages/s = {messages} / parse_bytes time)",
        streams.len()
    );
    assert_eq!(parse_all(&streams), messages);
    let mut g = c.benchmark_group("ccmail");
    g.sample_size(10);
    g.warm_up_time(std::time::Duration::from_secs(1));
    g.throughput(Throughput::Bytes(bytes));
    g.bench_function("parse_bytes", |b| b.iter(|| parse_all(&streams)));
    let cfg = ReaderConfig::default();
    g.bench_function("prescan_folders", |b| {
        b.iter(|| {
            let mut folders = 0usize;
            for s in &streams {
                folders += scan_folder_names((**s).as_ref(), &cfg, &|| {}).len();
            }
            black_box(folders)
        })
    });
    g.bench_function("memchr_line_scan", |b| {
        b.iter(|| {
            let mut lines = 0usize;
            for s in &streams {
                let data: &[u8] = (**s).as_ref();
                lines += memchr::memchr_iter(b'\n', data).count();
            }
            black_box(lines)
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}
criterion_main!(benches);
