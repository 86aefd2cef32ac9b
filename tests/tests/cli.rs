//! The command line as a user meets it: the README's commands, exit codes, messages.

mod common;

use common::*;

/// The README's first command converts the bundled sample to Maildir, and `verify` accepts it.
#[test]
fn readme_sample_converts_to_maildir_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let sample = repo().join("corpus/jsonl/sample.jsonl");
    convert_ok(&sample, "maildir", &out, &[]);
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
    let o = convert_expecting(2, &missing, "eml", &tmp.path().join("o"), &[]);
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

/// Source properties reach an output that keeps them: converting a PST to JSON Lines writes
/// the message's and its attachments' unmapped properties. (The MIME outputs let the reader
/// skip them, `OpenOptions::skip_properties`; `crates/pst/tests/skip_properties.rs` checks
/// that nothing else changes.)
#[test]
fn pst_properties_reach_jsonl() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let pst = repo().join("corpus/pst/ruby-msg_attachAndInline.pst");
    convert_ok(&pst, "jsonl", &out, &[]);
    let text = std::fs::read_to_string(out.join("attachAndInline/mailbox.jsonl")).unwrap();
    let message = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .find(|r| r["record"] == "message")
        .unwrap();
    let m = &message["message"];
    assert!(
        m["properties"].as_array().is_some_and(|p| p.len() > 10),
        "{m}"
    );
    let attachments = m["attachments"].as_array().unwrap();
    assert!(
        attachments
            .iter()
            .all(|a| a["properties"].as_array().is_some_and(|p| !p.is_empty())),
        "{m}"
    );
}

/// `verify` reads `--to pst` output back with the PST reader: a clean run verifies, with
/// every written message found; a damaged PST (cut after its first 20 KiB, before its data
/// and B-trees) makes it fail, naming the file.
#[test]
fn verify_reads_pst_output_and_catches_a_damaged_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    generate("pst", &out, 3, 12);
    let o = run(&["verify", "--json", out.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let found: u64 = v["mailboxes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["parsed_messages"].as_u64().unwrap())
        .sum();
    assert_eq!(found, 36);

    let r = report(&out);
    let dir = r["mailboxes"][0]["dir_name"].as_str().unwrap();
    let pst = out.join(dir).join(format!("{dir}.pst"));
    let bytes = std::fs::read(&pst).unwrap();
    assert!(bytes.len() > 40 * 1024);
    std::fs::write(&pst, &bytes[..20 * 1024]).unwrap();
    let o = run(&["verify", out.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("{dir}.pst")), "{text}");

    // Converting the damaged PST: its node B-tree cannot be walked, which is a skipped item
    // (exit 1) naming the offset, not a clean run of zero messages.
    let again = tmp.path().join("again");
    convert_expecting(1, &pst, "jsonl", &again, &[]);
    let r = report(&again);
    let skipped = r["mailboxes"][0]["skipped"].as_array().unwrap();
    assert!(
        skipped.iter().any(|s| s["reason"]
            .as_str()
            .unwrap()
            .contains("node B-tree walk failed")),
        "{skipped:?}"
    );
    // `inspect` reads it as convert does: the failed walk is an error with its offset, and
    // the exit status is 1, not a clean description of an empty store.
    let o = run(&["inspect", pst.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    // Both the strict and the salvage walk fail there: one error, not two.
    let errors: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("ERROR   pst.nbt-walk ["))
        .collect();
    assert_eq!(errors.len(), 1, "{text}");
    assert!(errors[0].contains(".pst @ "), "{text}");
}

/// A PST cut short after its node B-tree root: salvage mode finds an older root by scanning
/// and describes the store, but `convert` without `--salvage` cannot walk the tree. `inspect`
/// says so as an error with the offset and exits 1; with `--salvage` it exits 0.
#[test]
fn inspect_reports_a_node_btree_cut_short_as_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let bytes = std::fs::read(repo().join("corpus/pst/tika_testPST.pst")).unwrap();
    let cut = tmp.path().join("cut.pst");
    std::fs::write(&cut, &bytes[..200_000]).unwrap();
    let o = run(&["inspect", cut.to_str().unwrap()]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{text}");
    let error = text
        .lines()
        .find(|l| l.contains("ERROR   pst.nbt-walk"))
        .unwrap_or_else(|| panic!("no walk error in {text}"));
    assert!(error.contains("cut.pst @ 292352"), "{error}");
    assert!(text.contains("pst.roots-recovered"), "{text}");
    let o = run(&["inspect", "--salvage", cut.to_str().unwrap()]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}
