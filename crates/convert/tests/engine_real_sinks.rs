//! The engine with the real sinks (`crate::sinks`) over a synthetic post office: every output
//! format verifies with the independent parsers, and `-j 4` output equals `-j 1` output
//! byte for byte (guarantee 3).

// Helper functions below are test code: a broken fixture should panic.
#![allow(clippy::unwrap_used)]

mod engine_support;

use std::sync::Arc;

use engine_support::{assert_same_tree, snapshot};
use mailmig_convert::engine::{self, RunOptions};
use mailmig_convert::sinks::builtin_sink;
use mailmig_convert::verify::verify;
use mailmig_ir::synth::{SynthSource, SynthSpec};

fn spec() -> SynthSpec {
    SynthSpec {
        users: 7,
        messages_per_user: 12,
        seed: 42,
        empty_user_every: 3,
        attachment_every: 4,
        embedded_every: 5,
        body_bytes: 300,
        attachment_bytes: 200,
    }
}

fn convert(sink: &str, out: &std::path::Path, jobs: usize) -> engine::RunReport {
    let opts = RunOptions {
        out_dir: out.to_path_buf(),
        jobs,
        fingerprint: format!("synth {sink}"),
        durability: Default::default(),
        ..RunOptions::default()
    };
    let sink: Arc<dyn mailmig_ir::Sink> = Arc::from(builtin_sink(sink).unwrap());
    engine::run(Arc::new(SynthSource::new(spec())), sink, &opts).unwrap()
}

#[test]
fn every_builtin_sink_verifies_and_is_independent_of_jobs() {
    for name in ["eml", "maildir", "mbox", "jsonl"] {
        let tmp = tempfile::tempdir().unwrap();
        let one = tmp.path().join("one");
        let four = tmp.path().join("four");
        let r1 = convert(name, &one, 1);
        assert_eq!(r1.exit_code(), 0, "{name}: {:?}", r1.problem_lines());
        assert_eq!(r1.totals.mailboxes, 7);
        assert_eq!(r1.totals.written.messages, 5 * 12, "{name}");
        let v = verify(&one).unwrap();
        assert!(v.is_ok(), "{name}: {v}");
        assert_eq!(v.messages_found(), 60, "{name}");
        convert(name, &four, 4);
        assert_same_tree(&snapshot(&one), &snapshot(&four));
    }
}
