//! `mailmig verify`: re-reads an output tree with parsers independent of the writers and checks
//! it against its `report.json`.
//!
//! MIME outputs (EML, Maildir, mbox) are parsed with the `mail-parser` crate (the writers use
//! `mail-builder`); JSON Lines with `serde_json` into untyped values. Per committed mailbox the
//! number of messages found must equal the report's `written.messages`, and every message must
//! parse; mailboxes that failed or timed out must have no directory; the post-office files the
//! report lists must exist. Layouts checked (see `crate::sinks`):
//!
//! | sink | layout read |
//! |---|---|
//! | `eml` | every `*.eml` file below the mailbox directory, one message each |
//! | `maildir` | Maildir++: files in `cur/` and `new/` of the mailbox directory and of every `.Sub.Folder/` below it; `tmp/` must be empty |
//! | `mbox` | every `*.mbox` file below the mailbox directory, mboxrd (RFC 4155 "From " separators, `>From ` unquoted) |
//! | `jsonl` | `mailbox.jsonl`: a `mailbox` record first, then one `message` record per line |
//!
//! Reading is streamed: peak memory is the largest message, not the largest file.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::engine::layout::{REPORT_FILE, STATE_DIR};
use crate::engine::{MailboxReport, RunReport};

/// Deepest directory nesting walked below a mailbox directory.
const MAX_DEPTH: u32 = 1024;
/// Largest single message or JSON line read into memory (1 GiB).
const MAX_MESSAGE_BYTES: usize = 1 << 30;
/// Most problems listed per mailbox; further ones are counted.
const MAX_PROBLEMS: usize = 1000;

/// Why verification could not be done at all.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// `report.json` is missing or unreadable.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// `report.json` is not a mailmig report.
    #[error("{path}: not a mailmig report: {message}")]
    BadReport {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The report names an output format this verifier cannot read.
    #[error(
        "{path}: cannot verify output format {sink:?} (known: eml, maildir, mbox, jsonl, and container formats the caller adds)"
    )]
    UnknownSink {
        /// The report.
        path: PathBuf,
        /// The sink name.
        sink: String,
    },
}

/// One problem found, with the file it concerns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Problem {
    /// The file or directory, relative to the output directory.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

/// The verdict on one mailbox of the report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxVerification {
    /// Mailbox key.
    pub key: String,
    /// Directory name.
    pub dir_name: String,
    /// Status in the report (`converted`, …).
    pub status: String,
    /// Messages the report says were written.
    pub expected_messages: u64,
    /// Messages found on disk.
    pub found_messages: u64,
    /// Messages found that parsed.
    pub parsed_messages: u64,
    /// Attachments the independent parser saw (top level of each message; informational).
    pub found_attachments: u64,
    /// Problems (at most 1000; see `problems_omitted`).
    pub problems: Vec<Problem>,
    /// Problems beyond the listed ones.
    pub problems_omitted: u64,
}

/// What [`verify`] found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyReport {
    /// The output directory.
    pub out_dir: String,
    /// Output format from the report.
    pub sink: String,
    /// One entry per mailbox of the report, in report order.
    pub mailboxes: Vec<MailboxVerification>,
    /// Problems not tied to one mailbox (post-office files, stray directories, totals).
    pub problems: Vec<Problem>,
}

impl VerifyReport {
    /// True when nothing is wrong.
    pub fn is_ok(&self) -> bool {
        self.problems.is_empty()
            && self
                .mailboxes
                .iter()
                .all(|m| m.problems.is_empty() && m.problems_omitted == 0)
    }

    /// Messages found in all mailboxes.
    pub fn messages_found(&self) -> u64 {
        self.mailboxes.iter().map(|m| m.found_messages).sum()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{} ({}): {} mailboxes, {} messages found",
            self.out_dir,
            self.sink,
            self.mailboxes.len(),
            self.messages_found()
        )?;
        for m in &self.mailboxes {
            let verdict = if m.problems.is_empty() {
                "ok"
            } else {
                "PROBLEMS"
            };
            writeln!(
                f,
                "  {} [{}]: {} of {} messages found, {} parsed: {verdict}",
                m.dir_name, m.status, m.found_messages, m.expected_messages, m.parsed_messages
            )?;
            for p in &m.problems {
                writeln!(f, "    {}: {}", p.path, p.message)?;
            }
            if m.problems_omitted > 0 {
                writeln!(f, "    … and {} more problems", m.problems_omitted)?;
            }
        }
        for p in &self.problems {
            writeln!(f, "  {}: {}", p.path, p.message)?;
        }
        writeln!(
            f,
            "{}",
            if self.is_ok() {
                "verify: OK"
            } else {
                "verify: FAILED"
            }
        )
    }
}

/// What a [`ContainerReader`] found in one file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ContainerCount {
    /// Messages read.
    pub messages: u64,
    /// Messages found but not readable, each with what is wrong.
    pub unreadable: Vec<String>,
    /// Attachments of the messages read (top level).
    pub attachments: u64,
}

/// Reads an output format that keeps a whole mailbox in one container file (a PST), for
/// [`verify_with`]. The format's own reader lives in another crate, so the caller supplies it.
pub trait ContainerReader {
    /// The `--to` name of the sink whose output this reads.
    fn sink(&self) -> &str;
    /// The extension of the container files, without the dot.
    fn extension(&self) -> &str;
    /// Reads one container file; `Err` when it cannot be opened at all.
    fn read(&self, path: &Path) -> Result<ContainerCount, String>;
}

#[derive(Clone, Copy)]
enum Kind<'a> {
    Eml,
    Maildir,
    Mbox,
    Jsonl,
    Container(&'a dyn ContainerReader),
}

/// Re-reads the output tree in `out_dir` and checks it against `out_dir/report.json`.
///
/// Returns a report listing every problem; `Err` only when there is no usable report.
pub fn verify(out_dir: &Path) -> Result<VerifyReport, VerifyError> {
    verify_with(out_dir, &[])
}

/// [`verify`], also for the container formats of `containers` (each mailbox directory must
/// hold only container files, and their messages must add up to the report's count).
pub fn verify_with(
    out_dir: &Path,
    containers: &[&dyn ContainerReader],
) -> Result<VerifyReport, VerifyError> {
    let report_path = out_dir.join(REPORT_FILE);
    let bytes = fs::read(&report_path).map_err(|e| VerifyError::Io {
        path: report_path.clone(),
        source: e,
    })?;
    let report: RunReport = serde_json::from_slice(&bytes).map_err(|e| VerifyError::BadReport {
        path: report_path.clone(),
        message: e.to_string(),
    })?;
    let kind = match report.sink.as_str() {
        "eml" => Kind::Eml,
        "maildir" => Kind::Maildir,
        "mbox" => Kind::Mbox,
        "jsonl" => Kind::Jsonl,
        other => match containers.iter().find(|c| c.sink() == other) {
            Some(c) => Kind::Container(*c),
            None => {
                return Err(VerifyError::UnknownSink {
                    path: report_path,
                    sink: other.to_string(),
                });
            }
        },
    };
    let mut out = VerifyReport {
        out_dir: out_dir.display().to_string(),
        sink: report.sink.clone(),
        mailboxes: Vec::with_capacity(report.mailboxes.len()),
        problems: Vec::new(),
    };
    for m in &report.mailboxes {
        out.mailboxes.push(verify_mailbox(out_dir, kind, m));
    }
    check_root(out_dir, &report, kind, &mut out.problems);
    Ok(out)
}

struct Ctx<'a> {
    root: &'a Path,
    v: MailboxVerification,
}

impl Ctx<'_> {
    fn problem(&mut self, path: &Path, message: impl Into<String>) {
        if self.v.problems.len() < MAX_PROBLEMS {
            self.v.problems.push(Problem {
                path: rel(self.root, path),
                message: message.into(),
            });
        } else {
            self.v.problems_omitted = self.v.problems_omitted.saturating_add(1);
        }
    }

    /// Parses one MIME message with mail-parser and counts it.
    fn mime_message(&mut self, path: &Path, what: &str, bytes: &[u8]) {
        self.v.found_messages = self.v.found_messages.saturating_add(1);
        let parsed = std::panic::catch_unwind(|| {
            mail_parser::MessageParser::default()
                .parse(bytes)
                .map(|m| (m.headers().len(), m.attachment_count()))
        });
        match parsed {
            Ok(Some((headers, attachments))) if headers > 0 => {
                self.v.parsed_messages = self.v.parsed_messages.saturating_add(1);
                self.v.found_attachments =
                    self.v.found_attachments.saturating_add(attachments as u64);
            }
            Ok(Some(_)) => self.problem(path, format!("{what}: no header fields")),
            Ok(None) => self.problem(path, format!("{what}: not a MIME message")),
            Err(_) => self.problem(path, format!("{what}: the MIME parser panicked")),
        }
    }
}

fn rel(root: &Path, path: &Path) -> String {
    path.strip_prefix(root)
        .unwrap_or(path)
        .display()
        .to_string()
}

fn verify_mailbox(root: &Path, kind: Kind<'_>, m: &MailboxReport) -> MailboxVerification {
    let mut cx = Ctx {
        root,
        v: MailboxVerification {
            key: m.key.clone(),
            dir_name: m.dir_name.clone(),
            status: m.status.as_str().to_string(),
            expected_messages: m.written.messages,
            found_messages: 0,
            parsed_messages: 0,
            found_attachments: 0,
            problems: Vec::new(),
            problems_omitted: 0,
        },
    };
    let dir = root.join(&m.dir_name);
    let unsafe_name =
        m.dir_name.is_empty() || m.dir_name.starts_with('.') || m.dir_name.contains(['/', '\\']);
    if unsafe_name {
        cx.problem(&dir, "directory name in the report is not a plain name");
        return cx.v;
    }
    if !m.status.is_committed() {
        if dir.exists() {
            cx.problem(
                &dir,
                format!("mailbox is {} but has a directory", m.status.as_str()),
            );
        }
        return cx.v;
    }
    if !dir.is_dir() {
        cx.problem(&dir, "mailbox directory is missing");
        return cx.v;
    }
    match kind {
        Kind::Eml => walk(&mut cx, &dir, 0, &mut |cx, path, _| {
            if path.extension().is_some_and(|e| e == "eml") {
                if let Some(b) = read_whole(cx, path) {
                    cx.mime_message(path, "message", &b);
                }
            } else {
                cx.problem(path, "unexpected file (not .eml)");
            }
        }),
        Kind::Mbox => walk(&mut cx, &dir, 0, &mut |cx, path, _| {
            if path.extension().is_some_and(|e| e == "mbox") {
                read_mbox(cx, path);
            } else {
                cx.problem(path, "unexpected file (not .mbox)");
            }
        }),
        Kind::Maildir => read_maildir(&mut cx, &dir),
        Kind::Jsonl => read_jsonl(&mut cx, &dir, m),
        Kind::Container(reader) => walk(&mut cx, &dir, 0, &mut |cx, path, _| {
            if path.extension().is_none_or(|e| e != reader.extension()) {
                cx.problem(
                    path,
                    format!("unexpected file (not .{})", reader.extension()),
                );
                return;
            }
            match reader.read(path) {
                Ok(c) => {
                    let bad = c.unreadable.len() as u64;
                    cx.v.found_messages = cx.v.found_messages.saturating_add(c.messages + bad);
                    cx.v.parsed_messages = cx.v.parsed_messages.saturating_add(c.messages);
                    cx.v.found_attachments = cx.v.found_attachments.saturating_add(c.attachments);
                    for why in c.unreadable {
                        cx.problem(path, why);
                    }
                }
                Err(why) => cx.problem(path, why),
            }
        }),
    }
    if cx.v.found_messages != cx.v.expected_messages {
        let (e, f) = (cx.v.expected_messages, cx.v.found_messages);
        cx.problem(
            &dir,
            format!("report says {e} messages were written, found {f}"),
        );
    }
    cx.v
}

/// Calls `file` for every regular file below `dir` (depth-first, sorted by name).
fn walk(cx: &mut Ctx<'_>, dir: &Path, depth: u32, file: &mut dyn FnMut(&mut Ctx<'_>, &Path, u32)) {
    if depth > MAX_DEPTH {
        cx.problem(dir, format!("directories nested deeper than {MAX_DEPTH}"));
        return;
    }
    let mut entries = match fs::read_dir(dir) {
        Ok(rd) => rd.filter_map(Result::ok).collect::<Vec<_>>(),
        Err(e) => {
            cx.problem(dir, format!("cannot list directory: {e}"));
            return;
        }
    };
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let path = entry.path();
        match entry.file_type() {
            Ok(t) if t.is_dir() => walk(cx, &path, depth + 1, file),
            Ok(t) if t.is_file() => file(cx, &path, depth),
            Ok(_) => cx.problem(&path, "not a regular file or directory"),
            Err(e) => cx.problem(&path, format!("cannot stat: {e}")),
        }
    }
}

fn read_whole(cx: &mut Ctx<'_>, path: &Path) -> Option<Vec<u8>> {
    let too_big = fs::metadata(path).is_ok_and(|m| m.len() > MAX_MESSAGE_BYTES as u64);
    if too_big {
        cx.problem(
            path,
            format!("larger than {MAX_MESSAGE_BYTES} bytes; not read"),
        );
        return None;
    }
    match fs::read(path) {
        Ok(b) => Some(b),
        Err(e) => {
            cx.problem(path, format!("cannot read: {e}"));
            None
        }
    }
}

/// Maildir++: the mailbox directory is the Inbox; `.Name.Sub` directories directly below it are
/// folders. Each has `cur/`, `new/`, `tmp/`; messages live in `cur/` and `new/`.
fn read_maildir(cx: &mut Ctx<'_>, dir: &Path) {
    let mut maildirs = vec![dir.to_path_buf()];
    match fs::read_dir(dir) {
        Ok(rd) => {
            let mut names: Vec<_> = rd.filter_map(Result::ok).collect();
            names.sort_by_key(|e| e.file_name());
            for e in names {
                let name = e.file_name().to_string_lossy().into_owned();
                let is_dir = e.file_type().is_ok_and(|t| t.is_dir());
                match (name.as_str(), is_dir) {
                    ("cur" | "new" | "tmp", true) => {}
                    (n, true) if n.starts_with('.') => {
                        if !e.path().join("maildirfolder").is_file() {
                            cx.problem(&e.path(), "Maildir++ folder without maildirfolder file");
                        }
                        maildirs.push(e.path());
                    }
                    _ => cx.problem(&e.path(), "unexpected entry in a Maildir++ directory"),
                }
            }
        }
        Err(e) => cx.problem(dir, format!("cannot list directory: {e}")),
    }
    for md in maildirs {
        for sub in ["cur", "new", "tmp"] {
            let d = md.join(sub);
            if !d.is_dir() {
                cx.problem(&d, "missing Maildir subdirectory");
                continue;
            }
            walk(cx, &d, 0, &mut |cx, path, depth| {
                if sub == "tmp" {
                    cx.problem(path, "file left in tmp/ (delivery not finished)");
                } else if depth > 0 {
                    cx.problem(path, "nested directory inside a Maildir subdirectory");
                } else {
                    if let Some(b) = read_whole(cx, path) {
                        cx.mime_message(path, "message", &b);
                    }
                }
            });
        }
    }
}

/// Splits an mboxrd file at `From ` lines and parses each message after un-quoting `>From `.
fn read_mbox(cx: &mut Ctx<'_>, path: &Path) {
    let file = match File::open(path) {
        Ok(f) => f,
        Err(e) => return cx.problem(path, format!("cannot open: {e}")),
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut message: Option<Vec<u8>> = None;
    let mut offset: u64 = 0;
    let mut start: u64 = 0;
    let mut first = true;
    loop {
        line.clear();
        let n = match reader.read_until(b'\n', &mut line) {
            Ok(n) => n,
            Err(e) => return cx.problem(path, format!("read error at offset {offset}: {e}")),
        };
        if n == 0 {
            break;
        }
        if line.starts_with(b"From ") {
            if let Some(m) = message.take() {
                finish_mbox_message(cx, path, start, m);
            }
            start = offset;
            message = Some(Vec::new());
        } else if first {
            cx.problem(path, "does not start with a \"From \" line");
            return;
        } else if let Some(m) = message.as_mut() {
            let unquoted = match line.iter().position(|&b| b != b'>') {
                Some(p) if p > 0 && line.get(p..).is_some_and(|r| r.starts_with(b"From ")) => {
                    line.get(1..).unwrap_or_default()
                }
                _ => line.as_slice(),
            };
            if m.len().saturating_add(unquoted.len()) > MAX_MESSAGE_BYTES {
                cx.problem(
                    path,
                    format!("message at offset {start} is larger than {MAX_MESSAGE_BYTES} bytes"),
                );
                message = None;
            } else {
                m.extend_from_slice(unquoted);
            }
        }
        first = false;
        offset = offset.saturating_add(n as u64);
    }
    if let Some(m) = message {
        finish_mbox_message(cx, path, start, m);
    }
}

fn finish_mbox_message(cx: &mut Ctx<'_>, path: &Path, start: u64, mut m: Vec<u8>) {
    // The blank line that separates messages belongs to the mbox, not the message.
    if m.ends_with(b"\n\n") {
        m.pop();
    } else {
        cx.problem(
            path,
            format!("message at offset {start} does not end with a blank line"),
        );
    }
    cx.mime_message(path, &format!("message at offset {start}"), &m);
}

/// `mailbox.jsonl`: first a `mailbox` record for this mailbox, then `message` records.
fn read_jsonl(cx: &mut Ctx<'_>, dir: &Path, m: &MailboxReport) {
    let path = dir.join("mailbox.jsonl");
    if let Ok(rd) = fs::read_dir(dir) {
        for e in rd.filter_map(Result::ok) {
            if e.file_name() != "mailbox.jsonl" {
                cx.problem(&e.path(), "unexpected entry next to mailbox.jsonl");
            }
        }
    }
    let file = match File::open(&path) {
        Ok(f) => f,
        Err(e) => return cx.problem(&path, format!("cannot open: {e}")),
    };
    let mut reader = BufReader::with_capacity(1 << 16, file);
    let mut line = Vec::new();
    let mut number: u64 = 0;
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => return cx.problem(&path, format!("read error after line {number}: {e}")),
        }
        number += 1;
        if line.last() != Some(&b'\n') {
            cx.problem(
                &path,
                format!("line {number} is not terminated by a newline"),
            );
        }
        let value: serde_json::Value = match serde_json::from_slice(&line) {
            Ok(v) => v,
            Err(e) => {
                if number > 1 {
                    cx.v.found_messages = cx.v.found_messages.saturating_add(1);
                }
                cx.problem(&path, format!("line {number}: not JSON: {e}"));
                continue;
            }
        };
        let record = value.get("record").and_then(|r| r.as_str()).unwrap_or("");
        if number == 1 {
            let key = value
                .get("mailbox")
                .and_then(|mb| mb.get("key"))
                .and_then(|k| k.as_str());
            if record != "mailbox" {
                cx.problem(
                    &path,
                    format!("line 1: record {record:?}, expected \"mailbox\""),
                );
            } else if key != Some(m.key.as_str()) {
                cx.problem(
                    &path,
                    format!("line 1: mailbox key {key:?}, report says {:?}", m.key),
                );
            }
            continue;
        }
        if record != "message" {
            cx.problem(
                &path,
                format!("line {number}: record {record:?}, expected \"message\""),
            );
            continue;
        }
        cx.v.found_messages = cx.v.found_messages.saturating_add(1);
        match value.get("message") {
            Some(msg) if msg.is_object() => {
                match serde_json::from_value::<mailmig_ir::Message>(msg.clone()) {
                    Ok(parsed) => {
                        cx.v.parsed_messages = cx.v.parsed_messages.saturating_add(1);
                        cx.v.found_attachments =
                            cx.v.found_attachments
                                .saturating_add(parsed.attachments.len() as u64);
                    }
                    Err(e) => {
                        cx.problem(&path, format!("line {number}: not a mailmig message: {e}"))
                    }
                }
            }
            _ => cx.problem(&path, format!("line {number}: no message object")),
        }
    }
    if number == 0 {
        cx.problem(&path, "empty file (the mailbox record is missing)");
    }
}

/// Checks the output root: the post-office files the report lists exist, no directory is left
/// that the report does not know, totals add up; for jsonl, `post_office.jsonl` lists the
/// committed mailboxes.
fn check_root(root: &Path, report: &RunReport, kind: Kind<'_>, problems: &mut Vec<Problem>) {
    let mut add = |path: &Path, message: String| {
        problems.push(Problem {
            path: rel(root, path),
            message,
        })
    };
    if let Some(e) = &report.finish.error {
        add(
            &root.join(REPORT_FILE),
            format!("post-office files were not written: {e}"),
        );
    }
    for f in &report.finish.files {
        if !root.join(f).exists() {
            add(
                &root.join(f),
                "post-office file listed in the report is missing".into(),
            );
        }
    }
    if let Ok(rd) = fs::read_dir(root) {
        for e in rd.filter_map(Result::ok) {
            let name = e.file_name().to_string_lossy().into_owned();
            let known = name == REPORT_FILE
                || name == STATE_DIR
                || report.finish.files.contains(&name)
                || report.mailboxes.iter().any(|m| m.dir_name == name);
            if !known {
                add(
                    &e.path(),
                    "not a mailbox directory or file of the report".into(),
                );
            }
        }
    }
    let written: u64 = report.mailboxes.iter().map(|m| m.written.messages).sum();
    if written != report.totals.written.messages {
        add(
            &root.join(REPORT_FILE),
            format!(
                "totals.written.messages is {}, the mailboxes add up to {written}",
                report.totals.written.messages
            ),
        );
    }
    if matches!(kind, Kind::Jsonl) && report.finish.error.is_none() {
        let path = root.join("post_office.jsonl");
        let first = File::open(&path).and_then(|f| {
            let mut l = Vec::new();
            BufReader::new(f).read_until(b'\n', &mut l).map(|_| l)
        });
        match first.map(|l| serde_json::from_slice::<serde_json::Value>(&l)) {
            Err(e) => add(&path, format!("cannot read: {e}")),
            Ok(Err(e)) => add(&path, format!("line 1: not JSON: {e}")),
            Ok(Ok(v)) => {
                let listed: Vec<(String, String)> = v
                    .get("mailboxes")
                    .and_then(|m| m.as_array())
                    .map(|a| {
                        a.iter()
                            .map(|m| {
                                let s = |k: &str| {
                                    m.get(k).and_then(|x| x.as_str()).unwrap_or("").to_string()
                                };
                                (s("key"), s("dir_name"))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                let committed: Vec<(String, String)> = report
                    .mailboxes
                    .iter()
                    .filter(|m| m.status.is_committed())
                    .map(|m| (m.key.clone(), m.dir_name.clone()))
                    .collect();
                if v.get("record").and_then(|r| r.as_str()) != Some("post_office") {
                    add(&path, "line 1 is not a post_office record".into());
                } else if listed != committed {
                    add(
                        &path,
                        format!(
                            "lists {} mailboxes, the report has {} committed ones (or in another order)",
                            listed.len(),
                            committed.len()
                        ),
                    );
                }
            }
        }
    }
}
