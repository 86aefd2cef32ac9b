//! Golden test: `corpus/jsonl/sample.jsonl` through every built-in sink, compared with the
//! trees in `tests/expected/sample-<sink>/` (a `listing.txt` of every directory and file with
//! size and SHA-256, and the files themselves under `tree/`). Regenerate after an intended
//! change with `MAILMIG_UPDATE_EXPECTED=1 cargo test -p mailmig-convert --test sinks_golden`
//! and review the diff.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sinks_common;

use std::path::Path;

use mailmig_convert::sinks::builtin_sink;
use sinks_common::{convert, files, listing, sample_source};

fn check(sink_name: &str) {
    let source = sample_source();
    let sink = builtin_sink(sink_name).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    convert(&source, sink.as_ref(), &out, false);
    let got_listing = listing(&out);

    let expected = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/expected")
        .join(format!("sample-{sink_name}"));
    if std::env::var_os("MAILMIG_UPDATE_EXPECTED").is_some() {
        let _ = std::fs::remove_dir_all(&expected);
        std::fs::create_dir_all(expected.join("tree")).unwrap();
        std::fs::write(expected.join("listing.txt"), &got_listing).unwrap();
        for (rel, bytes) in files(&out) {
            let p = expected.join("tree").join(&rel);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, bytes).unwrap();
        }
        return;
    }
    let want_listing = std::fs::read_to_string(expected.join("listing.txt")).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; run with MAILMIG_UPDATE_EXPECTED=1",
            expected.display()
        )
    });
    for (rel, bytes) in files(&out) {
        let want = std::fs::read(expected.join("tree").join(&rel))
            .unwrap_or_else(|e| panic!("expected file {rel}: {e}"));
        assert!(
            want == bytes,
            "{sink_name}: {rel} differs from the expected file:\n--- got ---\n{}\n--- want ---\n{}",
            String::from_utf8_lossy(&bytes),
            String::from_utf8_lossy(&want)
        );
    }
    assert_eq!(
        got_listing, want_listing,
        "{sink_name}: tree listing differs"
    );
}

#[test]
fn sample_to_maildir_matches_golden() {
    check("maildir");
}

#[test]
fn sample_to_mbox_matches_golden() {
    check("mbox");
}

#[test]
fn sample_to_eml_matches_golden() {
    check("eml");
}

#[test]
fn sample_to_jsonl_matches_golden() {
    check("jsonl");
}
