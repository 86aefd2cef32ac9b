//! Re-reads Maildir, mbox and EML output of the sample with Python's standard library
//! (`tests/python/check_mailbox.py`: `mailbox` + `email` with `policy=default`) and checks it
//! against the IR: no parser defects, message and folder counts, subjects (non-ASCII),
//! senders, body text including lines starting with `From `, attachment bytes, embedded
//! messages and the `X-Mailmig-*` ids. Fails — does not skip — when `python3` is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sinks_common;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

use mailmig_convert::sinks::builtin_sink;
use mailmig_ir::{AttachmentContent, Message};
use serde_json::Value;
use sha2::{Digest, Sha256};
use sinks_common::{convert, dir_name, read_all, sample_source};

fn run_checker(kind: &str, out: &Path) -> Value {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/python/check_mailbox.py");
    let output = Command::new("python3")
        .arg(&script)
        .arg(kind)
        .arg(out)
        .output()
        .unwrap_or_else(|e| panic!("python3 is required for this test and could not be run: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "check_mailbox.py {kind} failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap()
}

fn sha_hex(b: &[u8]) -> String {
    Sha256::digest(b)
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect()
}

fn norm(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn check_message(ir: &Message, py: &Value, ctx: &str) {
    assert_eq!(
        py["subject"].as_str(),
        ir.subject.as_deref(),
        "{ctx}: subject"
    );
    if let Some(name) = ir.from.as_ref().and_then(|a| a.name.as_deref()) {
        let from = py["from"].as_str().unwrap();
        assert!(from.contains(name), "{ctx}: from {from:?} lacks {name:?}");
    }
    if let Some(text) = &ir.body.text {
        assert_eq!(
            py["text"].as_str().map(norm),
            Some(norm(text)),
            "{ctx}: body text"
        );
    }
    if let Some(native) = &ir.ids.native {
        assert_eq!(
            py["x_mailmig"]["X-Mailmig-Source-Id"].as_str(),
            Some(native.as_str()),
            "{ctx}: X-Mailmig-Source-Id"
        );
    }
    if let Some(off) = ir.ids.offset {
        assert_eq!(
            py["x_mailmig"]["X-Mailmig-Source-Offset"].as_str(),
            Some(off.to_string().as_str()),
            "{ctx}: offset"
        );
    }
    let py_atts = py["attachments"].as_array().unwrap();
    let rtf_extra = usize::from(ir.body.rtf.is_some() && ir.body.html.is_none());
    assert_eq!(
        py_atts.len(),
        ir.attachments.len() + rtf_extra,
        "{ctx}: attachment count"
    );
    for a in &ir.attachments {
        let p = py_atts
            .iter()
            .find(|p| p["filename"].as_str() == a.name.as_deref())
            .unwrap_or_else(|| panic!("{ctx}: no attachment named {:?} in {py_atts:?}", a.name));
        match &a.content {
            AttachmentContent::Data(b) => {
                assert_eq!(
                    p["sha256"].as_str(),
                    Some(sha_hex(b.as_bytes()).as_str()),
                    "{ctx}: bytes of {:?}",
                    a.name
                );
            }
            AttachmentContent::Message(m) => {
                check_message(m, &p["message"], &format!("{ctx} embedded"))
            }
            AttachmentContent::None => {}
        }
    }
    if let (1, Some(rtf)) = (rtf_extra, &ir.body.rtf) {
        let p = py_atts
            .iter()
            .find(|p| p["filename"] == "body.rtf")
            .unwrap();
        assert_eq!(p["content_type"].as_str(), Some("application/rtf"));
        assert_eq!(p["sha256"].as_str(), Some(sha_hex(rtf.as_bytes()).as_str()));
    }
}

fn check(kind: &str, folder_counts: &[(&str, usize)]) {
    let source = sample_source();
    let ir = read_all(&source);
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join(kind);
    convert(&source, builtin_sink(kind).unwrap().as_ref(), &out, false);
    let result = run_checker(kind, &out);
    assert_eq!(result["defects"], Value::Array(vec![]), "{kind}: defects");
    let boxes = result["mailboxes"].as_object().unwrap();
    assert_eq!(boxes.len(), ir.len(), "{kind}: every mailbox has a section");
    for (info, _folders, messages) in &ir {
        let py = &boxes[&dir_name(&info.key)];
        let py_msgs = py["messages"].as_array().unwrap();
        assert_eq!(
            py_msgs.len(),
            messages.len(),
            "{kind}/{}: message count",
            info.key
        );
        let by_id: HashMap<&str, &Value> = py_msgs
            .iter()
            .map(|m| (m["x_mailmig"]["X-Mailmig-Source-Id"].as_str().unwrap(), m))
            .collect();
        for m in messages {
            let native = m.ids.native.as_deref().unwrap();
            check_message(m, by_id[native], &format!("{kind}/{}/{native}", info.key));
        }
        let want = folder_counts
            .iter()
            .find(|(k, _)| *k == info.key)
            .unwrap()
            .1;
        assert_eq!(
            py["folders"].as_array().unwrap().len(),
            want,
            "{kind}/{}: folders {}",
            info.key,
            py["folders"]
        );
    }
}

#[test]
fn python_reads_maildir_output_without_defects() {
    // Maildir: the Inbox is the top directory, so it is not listed as a folder.
    check(
        "maildir",
        &[("ANNA", 5), ("BOB", 0), ("CHEN", 0), ("DORA", 0)],
    );
}

#[test]
fn python_reads_mbox_output_without_defects() {
    check("mbox", &[("ANNA", 6), ("BOB", 1), ("CHEN", 1), ("DORA", 1)]);
}

#[test]
fn python_reads_eml_output_without_defects() {
    check("eml", &[("ANNA", 6), ("BOB", 1), ("CHEN", 1), ("DORA", 1)]);
}
