//! Golden test over `corpus/iff/{valid,malformed}/*`: each set is opened with [`IffDriver`]
//! (strict mode), every mailbox is read, and the result (post office, mailboxes, folders,
//! messages or skipped items, warnings) is compared with the set's `expected.json`.
//! Regenerate with `MAILMIG_UPDATE_EXPECTED=1 cargo test -p mailmig-iff --test corpus`.
//!
//! Besides the golden comparison, each malformed set must show its documented failure as a
//! skipped item (or an open error) that names file and offset, with the other messages converted.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::path::{Path, PathBuf};

use mailmig_iff::IffDriver;
use mailmig_ir::{Driver, Message, OpenOptions, SkippedItem};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/iff")
}

fn sets(kind: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(corpus().join(kind))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn render(set: &Path) -> serde_json::Value {
    match IffDriver.open(&[set.to_path_buf()], &OpenOptions::default()) {
        Err(e) => serde_json::json!({ "open_error": e.to_string() }),
        Ok(src) => {
            let mailboxes = common::read_all(src.as_ref());
            serde_json::json!({
                "post_office": src.post_office(),
                "mailboxes": mailboxes,
            })
        }
    }
}

fn check(set: &Path) -> serde_json::Value {
    let got = render(set);
    let text = serde_json::to_string_pretty(&got).unwrap() + "\n";
    let path = set.join("expected.json");
    if std::env::var_os("MAILMIG_UPDATE_EXPECTED").is_some() {
        std::fs::write(&path, &text).unwrap();
    } else {
        let want = std::fs::read_to_string(&path).unwrap_or_else(|e| {
            panic!(
                "{}: {e}; run with MAILMIG_UPDATE_EXPECTED=1 to create it",
                path.display()
            )
        });
        assert_eq!(
            text,
            want,
            "{} differs from the reader's output",
            path.display()
        );
    }
    assert!(
        set.join("README").is_file(),
        "{} has no README",
        set.display()
    );
    got
}

fn skipped(v: &serde_json::Value) -> Vec<serde_json::Value> {
    v["mailboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["messages"].as_array().cloned().unwrap_or_default())
        .filter_map(|m| m.get("Err").cloned())
        .collect()
}

fn converted(v: &serde_json::Value) -> usize {
    v["mailboxes"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|m| m["messages"].as_array().cloned().unwrap_or_default())
        .filter(|m| m.get("Ok").is_some())
        .count()
}

#[test]
fn valid_sets_match_expected_and_skip_nothing() {
    let sets = sets("valid");
    assert!(sets.len() >= 3);
    for set in sets {
        let v = check(&set);
        assert!(v.get("open_error").is_none(), "{}", set.display());
        assert!(
            skipped(&v).is_empty(),
            "{}: {:?}",
            set.display(),
            skipped(&v)
        );
        assert!(converted(&v) > 0, "{}", set.display());
    }
}

#[test]
fn malformed_sets_match_expected_and_skip_only_the_bad_message() {
    let sets = sets("malformed");
    assert!(sets.len() >= 8);
    for set in sets {
        let v = check(&set);
        let name = set.file_name().unwrap().to_string_lossy().into_owned();
        if name == "no-code-page" {
            let err = v["open_error"].as_str().unwrap();
            assert!(
                err.contains("SET.PKL") && err.contains("code-page"),
                "{err}"
            );
            continue;
        }
        let sk = skipped(&v);
        if name == "relined-secondary" {
            // Every offset is off in strict mode; salvage restores CR LF (tested below).
            assert_eq!(sk.len(), 3, "{sk:?}");
            assert!(
                sk.iter()
                    .all(|s| s["file"] == "USER.SEC" && s["offset"].is_u64())
            );
            continue;
        }
        if name == "unterminated-chain" {
            // Bounded and warned, not skipped: the chain ends at end of file.
            assert!(sk.is_empty(), "{sk:?}");
            let text = v.to_string();
            assert!(
                text.contains("iff.chain-eof"),
                "{name}: no chain-eof warning"
            );
            assert_eq!(converted(&v), 3);
            continue;
        }
        assert_eq!(sk.len(), 1, "{name}: {sk:?}");
        let s = &sk[0];
        assert!(s["file"].is_string() && s["offset"].is_u64(), "{name}: {s}");
        assert!(
            s["source_id"].as_str().unwrap().contains("line 4"),
            "{name}: skipped item must name the row's line: {s}"
        );
        assert_eq!(converted(&v), 2, "{name}: the other messages convert");
    }
}

/// Every message of the malformed set `name`, read in salvage mode.
fn salvage_messages(name: &str) -> Vec<Result<Message, SkippedItem>> {
    let mut o = OpenOptions::default();
    o.salvage = true;
    let src = IffDriver
        .open(&[corpus().join("malformed").join(name)], &o)
        .unwrap();
    common::read_all(src.as_ref())
        .into_iter()
        .flat_map(|m| m.messages)
        .collect()
}

#[test]
fn salvage_mode_resynchronises_the_bad_pointer() {
    let msgs = salvage_messages("bad-pointer");
    assert_eq!(msgs.len(), 3);
    let two = msgs[1].as_ref().unwrap();
    assert_eq!(two.body.text.as_deref(), Some("Body of message 2.\r\n"));
    assert!(two.warnings.iter().any(|w| w.code == "iff.pointer-resync"));
}

#[test]
fn inspect_reports_problems_with_file_and_offset() {
    let insp = IffDriver
        .inspect(
            &corpus().join("malformed/bad-pointer"),
            &OpenOptions::default(),
        )
        .unwrap();
    let bad: Vec<_> = insp
        .findings
        .iter()
        .filter(|f| f.severity == mailmig_ir::Severity::Error)
        .collect();
    assert_eq!(bad.len(), 1, "{:?}", insp.findings);
    assert_eq!(bad[0].file.as_deref(), Some("USER.SEC"));
    assert!(bad[0].message.contains("line 4"));
    let insp = IffDriver
        .inspect(&corpus().join("valid/features"), &OpenOptions::default())
        .unwrap();
    assert!(
        insp.findings
            .iter()
            .any(|f| f.code == "iff.no-mailmessage-section"),
        "{:?}",
        insp.findings
    );
    assert_eq!(insp.details["code_page"], 1252);
}

#[test]
fn detects_packing_list_directory_and_primary_file() {
    let london = corpus().join("valid/london");
    let pkl = london.join("LONDON.PKL");
    let head = std::fs::read(&pkl).unwrap();
    let d = IffDriver.detect(&pkl, &head).unwrap();
    assert_eq!((d.driver.as_str(), d.confidence), ("iff", 100));
    assert!(d.summary.contains("1252"));
    let d = IffDriver.detect(&london, &[]).unwrap();
    assert!(d.convertible && d.confidence >= 80);
    let pri = london.join("00000002.PRI");
    let d = IffDriver
        .detect(&pri, &std::fs::read(&pri).unwrap())
        .unwrap();
    assert!(d.convertible);
    // Opening through the .PRI finds the packing list next to it.
    let src = IffDriver.open(&[pri], &OpenOptions::default()).unwrap();
    assert_eq!(src.mailboxes().len(), 2);
    // A packing list in another code page: the override option wins (§2, --code-page).
    let mut o = OpenOptions::default();
    o.code_page = Some(437);
    let src = IffDriver.open(&[london], &o).unwrap();
    assert_eq!(src.post_office().code_page, Some(437));
    // Not IFF: a PST header, a cc:Mail export.
    assert!(
        IffDriver
            .detect(Path::new("x.pst"), b"!BDN\x00\x00")
            .is_none()
    );
    assert!(
        IffDriver
            .detect(Path::new("x.txt"), b"Message:\r\nFrom: a\r\n")
            .is_none()
    );
}

#[test]
fn inspect_reports_a_packing_list_without_code_page_as_a_finding() {
    let insp = IffDriver
        .inspect(
            &corpus().join("malformed/no-code-page"),
            &OpenOptions::default(),
        )
        .unwrap();
    assert_eq!(insp.findings.len(), 1);
    let f = &insp.findings[0];
    assert_eq!(f.severity, mailmig_ir::Severity::Error);
    assert_eq!(f.file.as_deref(), Some("SET.PKL"));
    assert!(f.message.contains("code-page"), "{}", f.message);
}

#[test]
fn cancelled_budget_stops_the_stream_with_one_skipped_item() {
    let src = IffDriver
        .open(&[corpus().join("valid/features")], &OpenOptions::default())
        .unwrap();
    let budget = mailmig_ir::Budget::unlimited();
    let mb = &src.mailboxes()[0];
    let mut section = src.open_mailbox(mb, &budget).unwrap();
    assert!(section.messages.next().unwrap().is_ok());
    budget.cancel();
    let rest: Vec<_> = section.messages.collect();
    assert_eq!(rest.len(), 1, "{rest:?}");
    assert_eq!(rest[0].as_ref().unwrap_err().kind, "mailbox");
    assert!(src.open_mailbox(mb, &budget).is_err());
}

#[test]
fn salvage_mode_restores_a_re_line_ended_secondary_file() {
    let msgs = salvage_messages("relined-secondary");
    assert_eq!(msgs.len(), 3);
    for (i, m) in msgs.iter().enumerate() {
        let m = m.as_ref().unwrap();
        // The data as transferred had LF; restoring CR LF gives back the original body.
        assert_eq!(
            m.body.text.as_deref(),
            Some(format!("Body of message {}.\r\n", i + 1).as_str())
        );
        assert!(m.warnings.iter().any(|w| w.code == "iff.relined-secondary"));
    }
}
