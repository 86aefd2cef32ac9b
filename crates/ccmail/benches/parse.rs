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
//! issue states it, and time the thread spends waiting for a CPU is left out. A core that
//! other work shares (the other thread of a hyper-threaded core, another tenant of a virtual
//! machine's host) still runs the thread more slowly, and that time is counted: see the passes
//! below.
//!
//! Size: `CCMAIL_BENCH_USERS` users (default 100) × `CCMAIL_BENCH_MESSAGES` messages (default
//! 200). The figures in the README use 1,000 × 200.
//!
//! Side by side, pass by pass: with `CCMAIL_BENCH_PASSES=N` the bench does not run criterion.
//! It makes N passes over the streams instead, each timing the `memchr` scan, the parse, the
//! pre-scan and the `memchr` scan again one right after the other, and prints every pass. On a
//! machine whose speed changes from minute to minute (a virtual machine sharing its physical
//! cores), criterion's groups run minutes apart and cannot be compared with each other; the
//! passes can, because the scans that bracket each parse measure the machine at that moment.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};
use criterion::{Criterion, Throughput, criterion_group};
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

/// The folder pre-scan over every stream; the number of folders found.
fn prescan_all(streams: &[SharedBytes], cfg: &ReaderConfig) -> usize {
    let mut folders = 0usize;
    for s in streams {
        folders += scan_folder_names((**s).as_ref(), cfg, &|| {}).len();
    }
    folders
}

/// A plain `memchr` line scan over every stream; the number of lines.
fn memchr_all(streams: &[SharedBytes]) -> usize {
    let mut lines = 0usize;
    for s in streams {
        let data: &[u8] = (**s).as_ref();
        lines += memchr::memchr_iter(b'\n', data).count();
    }
    lines
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
        b.iter(|| black_box(prescan_all(&streams, &cfg)))
    });
    g.bench_function("memchr_line_scan", |b| {
        b.iter(|| black_box(memchr_all(&streams)))
    });
    g.finish();
}

/// `CCMAIL_BENCH_PASSES=N`: the side-by-side passes described in the module docs.
fn passes(n: u32) {
    let (streams, bytes, messages) = build();
    println!(
        "ccmail passes: {} streams, {bytes} bytes, {messages} messages; MiB/s of one thread's CPU time",
        streams.len()
    );
    let cfg = ReaderConfig::default();
    // What `work` returned, and the bytes it covered per second of this thread's CPU, in MiB/s.
    let timed = |work: &dyn Fn() -> u64| {
        let t = cpu_time::ThreadTime::now();
        let out = black_box(work());
        let mib = bytes as f64 / t.elapsed().as_secs_f64() / f64::from(1u32 << 20);
        (out, mib)
    };
    println!(
        "{:>4} {:>9} {:>9} {:>14} {:>13} {:>12}",
        "pass", "parse", "prescan", "memchr before", "memchr after", "memchr/parse"
    );
    let (mut parse, mut ratio) = (Vec::new(), Vec::new());
    for pass in 1..=n {
        let (_, before) = timed(&|| memchr_all(&streams) as u64);
        let (parsed, p) = timed(&|| parse_all(&streams));
        assert_eq!(parsed, messages, "pass {pass}: messages parsed");
        let (_, q) = timed(&|| prescan_all(&streams, &cfg) as u64);
        let (_, after) = timed(&|| memchr_all(&streams) as u64);
        let r = (before + after) / 2.0 / p;
        println!("{pass:4} {p:9.1} {q:9.1} {before:14.1} {after:13.1} {r:12.2}");
        parse.push(p);
        ratio.push(r);
    }
    for (name, v) in [("parse MiB/s", &mut parse), ("memchr/parse", &mut ratio)] {
        v.sort_by(f64::total_cmp);
        let half = v.len() / 2;
        let median = if v.len() % 2 == 1 {
            v.get(half).copied()
        } else {
            (half.checked_sub(1).and_then(|i| v.get(i)))
                .zip(v.get(half))
                .map(|(a, b)| (a + b) / 2.0)
        };
        if let (Some(lo), Some(median), Some(hi)) = (v.first(), median, v.last()) {
            println!("{name}: lowest {lo:.2}, median {median:.2}, highest {hi:.2}");
        }
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = bench
}

/// Criterion's groups, or the side-by-side passes when `CCMAIL_BENCH_PASSES` is set.
fn main() {
    match std::env::var("CCMAIL_BENCH_PASSES") {
        Ok(n) => passes(n.parse().expect("CCMAIL_BENCH_PASSES: a number of passes")),
        Err(_) => {
            benches();
            Criterion::default().configure_from_args().final_summary();
        }
    }
}
