//! The command line as a user meets it: the README's commands, exit codes, messages.

mod common;

use common::*;

/// The README's first command converts the bundled sample to Maildir, and `verify` accepts it.
#[test]
fn readme_sample_converts_to_maildir_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let sample = repo().join("corpus/jsonl/sample.jsonl");
    let o = run(&[
        "convert",
        sample.to_str().unwrap(),
        "--to",
        "maildir",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let r = report(&out);
    assert!(r["totals"]["written"]["messages"].as_u64().unwrap() > 0);
    assert_eq!(
        r["totals"]["written"]["messages"],
        r["totals"]["found"]["messages"]
    );
    let o = run(&["verify", out.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
}

/// Usage errors and unreadable inputs exit 2 and name the file.
#[test]
fn fatal_errors_exit_2_and_name_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope.pst");
    let o = run(&[
        "convert",
        missing.to_str().unwrap(),
        "--to",
        "eml",
        "-o",
        tmp.path().join("o").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("nope.pst"));

    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, b"\x00\x01 this is no mail store").unwrap();
    let o = run(&["inspect", junk.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not recognised"));

    let o = run(&[
        "convert",
        junk.to_str().unwrap(),
        "--to",
        "nonsense",
        "-o",
        "x",
    ]);
    assert_eq!(o.status.code(), Some(2), "clap usage errors exit 2");
}

/// `generate` is deterministic: the same seed gives the same bytes.
#[test]
fn generate_is_deterministic() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    generate_jsonl(&a, 5, 7);
    generate_jsonl(&b, 5, 7);
    assert_same_tree(&snapshot(&a), &snapshot(&b));
}
