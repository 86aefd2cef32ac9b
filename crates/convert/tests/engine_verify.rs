//! `verify`: re-reads output trees with mail-parser / serde_json and checks them against
//! report.json. The trees are produced by the engine through small test sinks that write each
//! documented layout (eml, maildir, mbox, jsonl), then damaged to see each check fire.

// Helper functions below are test code: a broken fixture should panic.
#![allow(clippy::unwrap_used)]

mod engine_support;

use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use engine_support::*;
use mailmig_convert::engine;
use mailmig_convert::verify::verify;
use mailmig_ir::{
    CommittedMailbox, MailboxContext, MailboxWriter, Message, PostOffice, Sink, SinkError,
    WrittenStats,
};

/// Writes the layout of the sink named `name`, with minimal RFC 5322 messages.
struct LayoutSink {
    name: &'static str,
}

struct LayoutWriter {
    name: &'static str,
    dir: PathBuf,
    n: u64,
}

fn rfc5322(m: &Message) -> String {
    format!(
        "From: a@example.com\r\nSubject: {}\r\nMIME-Version: 1.0\r\n\r\n{}From the start of a line\r\n",
        m.subject.clone().unwrap_or_default(),
        m.body
            .text
            .clone()
            .unwrap_or_default()
            .replace('\n', "\r\n")
    )
}

impl MailboxWriter for LayoutWriter {
    fn write_message(&mut self, m: &Message) -> Result<(), SinkError> {
        self.n += 1;
        let io = |p: &Path, e| SinkError::io(p, e);
        match self.name {
            "eml" => {
                let p = self.dir.join(format!("Inbox/{:06}.eml", self.n));
                fs::write(&p, rfc5322(m)).map_err(|e| io(&p, e))?;
            }
            "maildir" => {
                let p = self.dir.join(format!("cur/{:06}.x.mailmig:2,S", self.n));
                fs::write(&p, rfc5322(m).replace("\r\n", "\n")).map_err(|e| io(&p, e))?;
            }
            "mbox" => {
                let p = self.dir.join("Inbox.mbox");
                let body = rfc5322(m)
                    .replace("\r\n", "\n")
                    .replace("\nFrom ", "\n>From ");
                let mut f = fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .map_err(|e| io(&p, e))?;
                write!(f, "From a@example.com Thu Jan  1 00:00:00 1970\n{body}\n")
                    .map_err(|e| io(&p, e))?;
            }
            _ => {
                let p = self.dir.join("mailbox.jsonl");
                let mut f = fs::OpenOptions::new()
                    .append(true)
                    .open(&p)
                    .map_err(|e| io(&p, e))?;
                let line = serde_json::json!({"record": "message", "message": m});
                writeln!(f, "{line}").map_err(|e| io(&p, e))?;
            }
        }
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        Ok(WrittenStats {
            messages: self.n,
            ..WrittenStats::default()
        })
    }
}

impl Sink for LayoutSink {
    fn name(&self) -> &'static str {
        self.name
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let mk = |p: PathBuf| fs::create_dir_all(&p).map_err(|e| SinkError::io(&p, e));
        match self.name {
            "eml" => mk(dir.join("Inbox"))?,
            "maildir" => {
                for s in ["cur", "new", "tmp", ".Sent/cur", ".Sent/new", ".Sent/tmp"] {
                    mk(dir.join(s))?;
                }
                fs::write(dir.join(".Sent/maildirfolder"), "")
                    .map_err(|e| SinkError::io(dir, e))?;
            }
            "mbox" => fs::write(dir.join("Inbox.mbox"), "").map_err(|e| SinkError::io(dir, e))?,
            _ => {
                let line = serde_json::json!({"record": "mailbox", "mailbox": ctx.mailbox, "folders": ctx.folders});
                fs::write(dir.join("mailbox.jsonl"), format!("{line}\n"))
                    .map_err(|e| SinkError::io(dir, e))?;
            }
        }
        Ok(Box::new(LayoutWriter {
            name: self.name,
            dir: dir.to_path_buf(),
            n: 0,
        }))
    }

    fn finish(
        &self,
        _: &PostOffice,
        mbs: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        if self.name == "jsonl" {
            let line = serde_json::json!({"record": "post_office", "mailboxes": mbs});
            fs::write(dir.join("post_office.jsonl"), format!("{line}\n"))
                .map_err(|e| SinkError::io(dir, e))?;
        }
        Ok(())
    }
}

fn convert(name: &'static str, out: &Path) {
    let source = MemSource::new(vec![
        Behaviour::Messages(3),
        Behaviour::Messages(0),
        Behaviour::OpenError,
        Behaviour::Messages(5),
    ]);
    let report = engine::run(
        Arc::new(source),
        Arc::new(LayoutSink { name }),
        &options(out, 2),
    )
    .unwrap();
    assert_eq!(report.totals.written.messages, 8);
}

fn problems(out: &Path) -> Vec<String> {
    let v = verify(out).unwrap();
    let mut all: Vec<String> = v
        .problems
        .iter()
        .map(|p| format!("{}: {}", p.path, p.message))
        .collect();
    for m in &v.mailboxes {
        all.extend(
            m.problems
                .iter()
                .map(|p| format!("{}: {}", p.path, p.message)),
        );
    }
    all
}

#[test]
fn clean_trees_verify_for_every_layout() {
    for name in ["eml", "maildir", "mbox", "jsonl"] {
        let tmp = tempfile::tempdir().unwrap();
        let out = tmp.path().join("out");
        convert(name, &out);
        let v = verify(&out).unwrap();
        assert!(v.is_ok(), "{name}: {v}");
        assert_eq!(v.sink, name);
        assert_eq!(v.messages_found(), 8, "{name}");
        assert_eq!(v.mailboxes[3].parsed_messages, 5, "{name}");
        assert_eq!(v.mailboxes[2].status, "failed");
        assert!(v.to_string().ends_with("verify: OK\n"));
    }
}

#[test]
fn missing_messages_are_reported_with_the_path() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    convert("eml", &out);
    fs::remove_file(out.join("User_3/Inbox/000002.eml")).unwrap();
    let p = problems(&out);
    assert_eq!(p, ["User_3: report says 5 messages were written, found 4"]);
    assert!(!verify(&out).unwrap().is_ok());
}

#[test]
fn unparsable_and_stray_files_are_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    convert("maildir", &out);
    let cur = out.join("User_0/cur");
    let first = fs::read_dir(&cur).unwrap().next().unwrap().unwrap().path();
    fs::write(&first, "").unwrap();
    fs::write(out.join("User_0/tmp/leftover"), "From: x\n\nbody").unwrap();
    fs::create_dir(out.join("User_2")).unwrap();
    fs::create_dir(out.join("mystery")).unwrap();
    let p = problems(&out).join("\n");
    assert!(
        p.contains("User_0/cur/000001.x.mailmig:2,S: message: not a MIME message")
            || p.contains("User_0/cur/000001.x.mailmig:2,S: message: no header fields"),
        "{p}"
    );
    assert!(p.contains("User_0/tmp/leftover: file left in tmp/"), "{p}");
    assert!(
        p.contains("User_2: mailbox is failed but has a directory"),
        "{p}"
    );
    assert!(
        p.contains("mystery: not a mailbox directory or file of the report"),
        "{p}"
    );
}

#[test]
fn mbox_separators_and_quoting() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    convert("mbox", &out);
    let mbox = out.join("User_3/Inbox.mbox");
    let text = fs::read_to_string(&mbox).unwrap();
    // Each message has a body line ">From the start…" quoted by the writer: not a separator.
    assert_eq!(text.matches("\n>From the start").count(), 5);
    assert_eq!(verify(&out).unwrap().mailboxes[3].found_messages, 5);
    // Unquoting it would split one message in two: the count check catches it.
    fs::write(
        &mbox,
        text.replacen("\n>From the start", "\nFrom the start", 1),
    )
    .unwrap();
    let p = problems(&out).join("\n");
    assert!(
        p.contains("report says 5 messages were written, found 6"),
        "{p}"
    );
    // A file that is not an mbox at all.
    fs::write(&mbox, "Subject: no separator\n\n").unwrap();
    let p = problems(&out).join("\n");
    assert!(
        p.contains("User_3/Inbox.mbox: does not start with a \"From \" line"),
        "{p}"
    );
}

#[test]
fn jsonl_records_are_checked() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    convert("jsonl", &out);
    let file = out.join("User_0/mailbox.jsonl");
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str("{\"record\":\"message\",\"message\":{\"subject\": 7}}\n");
    text.push_str("not json\n");
    fs::write(&file, text).unwrap();
    fs::write(
        out.join("post_office.jsonl"),
        "{\"record\":\"post_office\",\"mailboxes\":[]}\n",
    )
    .unwrap();
    let p = problems(&out).join("\n");
    assert!(
        p.contains("User_0/mailbox.jsonl: line 5: not a mailmig message"),
        "{p}"
    );
    assert!(p.contains("User_0/mailbox.jsonl: line 6: not JSON"), "{p}");
    assert!(
        p.contains("report says 3 messages were written, found 5"),
        "{p}"
    );
    assert!(
        p.contains("post_office.jsonl: lists 0 mailboxes, the report has 3 committed"),
        "{p}"
    );
}

#[test]
fn missing_or_foreign_report_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    assert!(verify(tmp.path()).is_err());
    fs::write(tmp.path().join("report.json"), "{}").unwrap();
    let e = verify(tmp.path()).unwrap_err();
    assert!(e.to_string().contains("not a mailmig report"), "{e}");
    let out = tmp.path().join("out");
    run(MemSource::new(vec![Behaviour::Messages(1)]), &out, 1);
    let e = verify(&out).unwrap_err();
    assert!(
        e.to_string()
            .contains("cannot verify output format \"testfile\""),
        "{e}"
    );
}
