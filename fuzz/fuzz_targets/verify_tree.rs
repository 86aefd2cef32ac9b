//! `mailmig_convert::verify::verify` over a damaged output tree: the first byte picks the
//! layout (mbox, jsonl, eml, maildir), the rest becomes the one mailbox file the report points
//! at. verify must report problems, never panic or hang.
#![no_main]

use std::fs;
use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;

const SINKS: [&str; 4] = ["mbox", "jsonl", "eml", "maildir"];

fn root() -> &'static PathBuf {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    ROOT.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("mailmig-fuzz-verify-{}", std::process::id()));
        let _ = fs::create_dir_all(&d);
        d
    })
}

/// A report.json with one committed mailbox `A` that claims one written message.
fn report(sink: &str) -> String {
    let counts = r#"{"folders":0,"messages":0,"attachments":0,"embedded_messages":0,"attachment_bytes":0}"#;
    let written = r#"{"messages":1,"attachments":0,"bytes":0}"#;
    format!(
        r#"{{"schema":1,"mailmig_version":"fuzz","sink":"{sink}","no_mail":false,
"post_office":{{"name":"","format":"other"}},
"totals":{{"mailboxes":1,"converted":1,"converted_with_skips":0,"failed":0,"timed_out":0,
"found":{counts},"written":{written},"skipped":0,"warnings":0}},
"mailboxes":[{{"key":"a","display_name":"A","dir_name":"A","status":"converted",
"found":{counts},"written":{written},"timings":{{"total_ms":0}}}}],
"finish":{{"files":[]}},"timings":{{"total_ms":0,"resumed_mailboxes":0,"jobs":1}}}}"#
    )
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, body)) = data.split_first() else { return };
    let sink = SINKS[usize::from(sel) % SINKS.len()];
    let root = root();
    let dir = root.join("A");
    let _ = fs::remove_dir_all(&dir);
    if fs::write(root.join("report.json"), report(sink)).is_err() {
        return;
    }
    let file = match sink {
        "mbox" => dir.join("Inbox.mbox"),
        "jsonl" => dir.join("mailbox.jsonl"),
        "eml" => dir.join("Inbox").join("000001.eml"),
        _ => {
            for s in ["new", "tmp"] {
                let _ = fs::create_dir_all(dir.join(s));
            }
            dir.join("cur").join("1.x:2,S")
        }
    };
    if let Some(parent) = file.parent() {
        let _ = fs::create_dir_all(parent);
    }
    if fs::write(&file, body).is_err() {
        return;
    }
    let verdict = mailmig_convert::verify::verify(root);
    // The fixed report must always be readable; only the mailbox file is fuzzed.
    assert!(verdict.is_ok(), "{verdict:?}");
});
