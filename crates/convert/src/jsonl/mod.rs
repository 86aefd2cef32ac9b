//! mailmig JSON Lines as an input: [`JsonlDriver`] (`--from jsonl`).
//!
//! Two input shapes (record formats in [`records`]):
//!
//! * an output directory of `--to jsonl`: `post_office.jsonl` (one `post_office` line listing
//!   the mailbox directories) and `<dir_name>/mailbox.jsonl` per mailbox (a `mailbox` line,
//!   then `message` lines). When the `post_office` line lists no mailboxes, every
//!   `*/mailbox.jsonl` is taken, in name order;
//! * a single stream file: a `post_office` line, then for each mailbox its `mailbox` line
//!   followed by its `message` lines.
//!
//! Strict about structure, tolerant about damage: the first line must be a `post_office`
//! record (else the input is rejected with its offset); a damaged or over-long line
//! (`Limits::max_line_len`) inside a mailbox becomes a [`SkippedItem`] naming the file, the
//! line number and the byte offset, and the stream goes on. Damaged lines outside any
//! mailbox, and a damaged `mailbox` line (whose messages then cannot be attributed), become
//! post-office [`Warning`]s. Files are memory-mapped; messages are parsed one line at a time
//! as the engine asks for them.

pub mod records;

use std::path::{Path, PathBuf};

use std::sync::Arc;

use mailmig_ir::blob::{FileMap, SharedBytes, release_when_due};
use mailmig_ir::{
    Budget, Detection, Driver, Finding, Folder, Inspection, Limits, MailboxInfo, MailboxSection,
    Message, OpenOptions, PostOffice, Severity, SkippedItem, Source, SourceError, Warning,
};

use crate::sinks::jsonl::{MAILBOX_FILE, POST_OFFICE_FILE};
use records::{MAILBOX_PREFIX, MESSAGE_PREFIX, POST_OFFICE_PREFIX, Record, parse_line};

/// Why a JSON Lines input could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JsonlError {
    /// Reading failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The first record is not a `post_office` line.
    #[error("{file}: first record is not a post_office line ({found}) at offset {offset}")]
    NotPostOffice {
        /// The file.
        file: String,
        /// Byte offset of the line.
        offset: u64,
        /// What was found instead (truncated).
        found: String,
    },
    /// A mailbox directory name that is not a single plain path component.
    #[error("{file}: invalid mailbox dir_name {value:?} at offset {offset}")]
    BadDirName {
        /// The file.
        file: String,
        /// Byte offset of the line.
        offset: u64,
        /// The raw value.
        value: String,
    },
    /// More than one input path.
    #[error("the jsonl reader takes one input (a directory or a stream file), got {0}")]
    TooManyInputs(usize),
}

impl From<JsonlError> for SourceError {
    fn from(e: JsonlError) -> Self {
        match e {
            JsonlError::Io { path, source } => SourceError::Io { path, source },
            JsonlError::NotPostOffice {
                file,
                offset,
                found,
            } => SourceError::format(
                file,
                offset,
                format!("first record is not a post_office line ({found})"),
            ),
            JsonlError::BadDirName {
                file,
                offset,
                value,
            } => SourceError::format(file, offset, format!("invalid mailbox dir_name {value:?}")),
            e @ JsonlError::TooManyInputs(n) => SourceError::Unsupported {
                what: format!("{n} jsonl inputs"),
                explanation: e.to_string(),
            },
        }
    }
}

/// Maps `path` read-only ([`FileMap::open`]).
fn map_file(path: &Path) -> Result<FileMap, JsonlError> {
    FileMap::open(path).map_err(|source| JsonlError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// One line of a buffer: 1-based number, byte offset and content without the line end.
#[derive(Clone, Copy, Debug)]
struct Line<'d> {
    no: u64,
    offset: usize,
    bytes: &'d [u8],
}

/// Iterates the lines of `data[pos..end]`.
#[derive(Clone, Debug)]
struct Lines {
    pos: usize,
    end: usize,
    no: u64,
}

impl Lines {
    fn next<'d>(&mut self, data: &'d [u8]) -> Option<Line<'d>> {
        if self.pos >= self.end {
            return None;
        }
        let rest = data.get(self.pos..self.end)?;
        let len = memchr::memchr(b'\n', rest).unwrap_or(rest.len());
        let raw = rest.get(..len)?;
        let line = Line {
            no: self.no,
            offset: self.pos,
            bytes: raw.strip_suffix(b"\r").unwrap_or(raw),
        };
        self.pos = self.pos.saturating_add(len).saturating_add(1).min(self.end);
        if len == rest.len() {
            self.pos = self.end;
        }
        self.no += 1;
        Some(line)
    }
}

fn is_blank(b: &[u8]) -> bool {
    b.iter().all(u8::is_ascii_whitespace)
}

fn snippet(b: &[u8]) -> String {
    let s = String::from_utf8_lossy(b.get(..b.len().min(60)).unwrap_or_default()).into_owned();
    if b.len() > 60 { format!("{s}…") } else { s }
}

/// Where one mailbox's lines are.
#[derive(Clone, Debug)]
enum SectionLoc {
    /// A range of a stream file.
    Stream {
        folders: Vec<Folder>,
        start: usize,
        end: usize,
        first_line: u64,
    },
    /// A `mailbox.jsonl` in a directory; `folders` and the first message line are read when
    /// the mailbox is opened.
    File { path: PathBuf },
}

/// An opened JSON Lines input.
pub struct JsonlSource {
    post_office: PostOffice,
    mailboxes: Vec<MailboxInfo>,
    sections: Vec<SectionLoc>,
    /// The stream file's bytes (stream mode only).
    data: Option<SharedBytes>,
    /// The stream file's map, when it is one, released as mailboxes are read.
    map: Option<Arc<FileMap>>,
    file: String,
    limits: Limits,
    no_mail: bool,
}

impl std::fmt::Debug for JsonlSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonlSource")
            .field("file", &self.file)
            .field("mailboxes", &self.mailboxes.len())
            .finish()
    }
}

impl JsonlSource {
    /// Opens a stream held in memory (`file` names it in messages). Used for stream files
    /// and by the fuzz target.
    pub fn from_stream(
        data: SharedBytes,
        file: &str,
        options: &OpenOptions,
    ) -> Result<Self, SourceError> {
        Self::from_stream_map(data, None, file, options)
    }

    /// [`JsonlSource::from_stream`] over a mapped file whose pages are released as it is read.
    fn from_stream_map(
        data: SharedBytes,
        map: Option<Arc<FileMap>>,
        file: &str,
        options: &OpenOptions,
    ) -> Result<Self, SourceError> {
        let bytes: &[u8] = (*data).as_ref();
        let mut released_at = 0;
        let limits = options.limits.clone();
        let mut lines = Lines {
            pos: 0,
            end: bytes.len(),
            no: 1,
        };
        let mut post_office = read_post_office(bytes, &mut lines, file, &limits)?.0;
        let mut mailboxes: Vec<MailboxInfo> = Vec::new();
        let mut sections: Vec<SectionLoc> = Vec::new();
        let mut keys = std::collections::HashSet::new();
        // State: None before the first mailbox or after a damaged mailbox line.
        let mut current: Option<usize> = None;
        let mut orphans: Option<(u64, u64)> = None; // (line of damaged mailbox, count)
        let mut before = lines.pos;
        while let Some(line) = lines.next(bytes) {
            release_when_due(map.as_deref(), lines.pos, &mut released_at);
            if is_blank(line.bytes) {
                before = lines.pos;
                continue;
            }
            let too_long = line.bytes.len() as u64 > limits.max_line_len;
            let kind = if too_long {
                LineKind::Damaged("line longer than the limit".into())
            } else if line.bytes.starts_with(MESSAGE_PREFIX) {
                LineKind::Message
            } else {
                match parse_line(line.bytes) {
                    Ok(Record::Mailbox { mailbox, folders }) => {
                        LineKind::Mailbox(Box::new((mailbox, folders)))
                    }
                    Ok(Record::Message { .. }) => LineKind::Message,
                    Ok(Record::PostOffice { .. }) => {
                        LineKind::Damaged("a second post_office record".into())
                    }
                    Err(e) => LineKind::Damaged(e.to_string()),
                }
            };
            let is_mailbox_line = line.bytes.starts_with(MAILBOX_PREFIX);
            match kind {
                LineKind::Mailbox(boxed) => {
                    let (mut info, folders) = *boxed;
                    close_section(&mut sections, current, before);
                    flush_orphans(&mut post_office, &mut orphans, file);
                    let base = info.key.clone();
                    let mut n = 1u32;
                    while !keys.insert(info.key.clone()) {
                        n += 1;
                        info.key = format!("{base}~{n}");
                    }
                    if n > 1 {
                        post_office.warnings.push(
                            Warning::new(
                                "jsonl.duplicate-mailbox-key",
                                format!(
                                    "line {}: mailbox key {base:?} repeats; renamed {:?}",
                                    line.no, info.key
                                ),
                            )
                            .in_file(file)
                            .at(line.offset as u64),
                        );
                    }
                    mailboxes.push(info);
                    sections.push(SectionLoc::Stream {
                        folders,
                        start: lines.pos,
                        end: bytes.len(),
                        first_line: line.no + 1,
                    });
                    current = Some(sections.len() - 1);
                }
                LineKind::Damaged(reason) if is_mailbox_line => {
                    close_section(&mut sections, current, before);
                    flush_orphans(&mut post_office, &mut orphans, file);
                    current = None;
                    orphans = Some((line.no, 0));
                    post_office.warnings.push(
                        Warning::new(
                            "jsonl.bad-mailbox-line",
                            format!("line {}: damaged mailbox record: {reason}", line.no),
                        )
                        .in_file(file)
                        .at(line.offset as u64),
                    );
                }
                LineKind::Message | LineKind::Damaged(_) if current.is_some() => {}
                LineKind::Message | LineKind::Damaged(_) => match &mut orphans {
                    Some((_, count)) => *count += 1,
                    None => post_office.warnings.push(
                        Warning::new(
                            "jsonl.line-outside-mailbox",
                            format!(
                                "line {}: record before any mailbox record not converted: {}",
                                line.no,
                                snippet(line.bytes)
                            ),
                        )
                        .in_file(file)
                        .at(line.offset as u64),
                    ),
                },
            }
            before = lines.pos;
        }
        flush_orphans(&mut post_office, &mut orphans, file);
        if let Some(m) = &map {
            m.release_pages();
        }
        Ok(Self {
            post_office,
            mailboxes,
            sections,
            data: Some(data),
            map,
            file: file.to_string(),
            limits,
            no_mail: options.no_mail,
        })
    }

    /// Opens an output directory of the JSON Lines sink.
    pub fn from_dir(dir: &Path, options: &OpenOptions) -> Result<Self, SourceError> {
        let po_path = dir.join(POST_OFFICE_FILE);
        let data = map_file(&po_path)?.bytes();
        let bytes: &[u8] = (*data).as_ref();
        let limits = options.limits.clone();
        let file = po_path.display().to_string();
        let mut lines = Lines {
            pos: 0,
            end: bytes.len(),
            no: 1,
        };
        let (post_office, committed, po_offset) =
            read_post_office(bytes, &mut lines, &file, &limits)?;
        let mut names: Vec<(String, Option<MailboxInfo>)> = Vec::new();
        if committed.is_empty() {
            let mut found = Vec::new();
            let rd = std::fs::read_dir(dir).map_err(|source| JsonlError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
            for entry in rd.flatten() {
                if entry.path().join(MAILBOX_FILE).is_file() {
                    found.push(entry.file_name().to_string_lossy().into_owned());
                }
            }
            found.sort();
            names.extend(found.into_iter().map(|n| (n, None)));
        } else {
            for c in committed {
                let ok = !c.dir_name.is_empty()
                    && c.dir_name != "."
                    && c.dir_name != ".."
                    && !c.dir_name.contains(['/', '\\', '\0']);
                if !ok {
                    return Err(JsonlError::BadDirName {
                        file,
                        offset: po_offset as u64,
                        value: c.dir_name,
                    }
                    .into());
                }
                let info = MailboxInfo {
                    key: c.key,
                    display_name: c.display_name,
                    ..MailboxInfo::default()
                };
                names.push((c.dir_name, Some(info)));
            }
        }
        let mut mailboxes = Vec::with_capacity(names.len());
        let mut sections = Vec::with_capacity(names.len());
        for (name, fallback) in names {
            let path = dir.join(&name).join(MAILBOX_FILE);
            // The header line is read now (the engine needs every MailboxInfo up front); a
            // missing or damaged file keeps the committed entry and fails when opened.
            let info = match read_mailbox_header(&path, &limits) {
                Ok((info, _)) => info,
                Err(_) => fallback.unwrap_or_else(|| MailboxInfo {
                    key: name.clone(),
                    display_name: name.clone(),
                    ..MailboxInfo::default()
                }),
            };
            mailboxes.push(info);
            sections.push(SectionLoc::File { path });
        }
        Ok(Self {
            post_office,
            mailboxes,
            sections,
            data: None,
            map: None,
            file,
            limits,
            no_mail: options.no_mail,
        })
    }
}

enum LineKind {
    Mailbox(Box<(MailboxInfo, Vec<Folder>)>),
    Message,
    Damaged(String),
}

fn close_section(sections: &mut [SectionLoc], current: Option<usize>, end: usize) {
    if let Some(SectionLoc::Stream { end: e, .. }) = current.and_then(|i| sections.get_mut(i)) {
        *e = end;
    }
}

fn flush_orphans(po: &mut PostOffice, orphans: &mut Option<(u64, u64)>, file: &str) {
    if let Some((line, count)) = orphans.take().filter(|(_, c)| *c > 0) {
        po.warnings.push(
            Warning::new(
                "jsonl.orphan-messages",
                format!(
                    "{count} record line(s) after the damaged mailbox record on line {line} were not converted"
                ),
            )
            .in_file(file),
        );
    }
}

/// Reads the first non-blank line, which must be a `post_office` record.
fn read_post_office(
    bytes: &[u8],
    lines: &mut Lines,
    file: &str,
    limits: &Limits,
) -> Result<(PostOffice, Vec<mailmig_ir::CommittedMailbox>, usize), SourceError> {
    while let Some(line) = lines.next(bytes) {
        if is_blank(line.bytes) {
            continue;
        }
        let not_po = |found: String| JsonlError::NotPostOffice {
            file: file.to_string(),
            offset: line.offset as u64,
            found,
        };
        if line.bytes.len() as u64 > limits.max_line_len {
            return Err(not_po("a line longer than the limit".into()).into());
        }
        return match parse_line(line.bytes) {
            Ok(Record::PostOffice {
                post_office,
                mailboxes,
            }) => Ok((post_office, mailboxes, line.offset)),
            Ok(_) => Err(not_po(snippet(line.bytes)).into()),
            Err(e) => Err(not_po(e.to_string()).into()),
        };
    }
    Err(JsonlError::NotPostOffice {
        file: file.to_string(),
        offset: bytes.len() as u64,
        found: "no record at all".into(),
    }
    .into())
}

/// A mailbox file after its header line: folders, the mapped bytes and their map, the lines
/// that follow.
type MailboxBody = (Vec<Folder>, SharedBytes, Option<Arc<FileMap>>, Lines);

/// Reads the `mailbox` line of a `mailbox.jsonl`; returns it with the folders and the
/// position after it.
fn read_mailbox_header(
    path: &Path,
    limits: &Limits,
) -> Result<(MailboxInfo, MailboxBody), SourceError> {
    let map = Arc::new(map_file(path)?);
    let data = map.bytes();
    let file = path.display().to_string();
    let bytes: &[u8] = (*data).as_ref();
    let mut lines = Lines {
        pos: 0,
        end: bytes.len(),
        no: 1,
    };
    while let Some(line) = lines.next(bytes) {
        if is_blank(line.bytes) {
            continue;
        }
        if line.bytes.len() as u64 > limits.max_line_len {
            return Err(SourceError::format(
                file,
                line.offset as u64,
                "mailbox line longer than the limit",
            ));
        }
        return match parse_line(line.bytes) {
            Ok(Record::Mailbox { mailbox, folders }) => {
                Ok((mailbox, (folders, data, Some(map), lines)))
            }
            Ok(_) => Err(SourceError::format(
                file,
                line.offset as u64,
                format!(
                    "first record is not a mailbox line: {}",
                    snippet(line.bytes)
                ),
            )),
            Err(e) => Err(SourceError::format(
                file,
                line.offset as u64,
                format!("invalid mailbox line: {e}"),
            )),
        };
    }
    Err(SourceError::format(file, 0, "empty mailbox.jsonl"))
}

/// Depth of embedded-message nesting (0 for a message without embedded messages).
fn embedding_depth(m: &Message) -> u32 {
    m.attachments
        .iter()
        .filter_map(|a| a.message())
        .map(|e| 1 + embedding_depth(e))
        .max()
        .unwrap_or(0)
}

/// Checks a parsed message against the limits; `Err` holds the reason.
fn check_limits(m: &Message, limits: &Limits) -> Result<(), String> {
    let depth = embedding_depth(m);
    if depth > limits.max_embedding_depth {
        return Err(format!(
            "embedded messages nest {depth} levels, more than the limit {}",
            limits.max_embedding_depth
        ));
    }
    let recipients = m.to.len() + m.cc.len() + m.bcc.len();
    if recipients as u64 > u64::from(limits.max_recipients) {
        return Err(format!("{recipients} recipients, more than the limit"));
    }
    if m.attachments.len() as u64 > u64::from(limits.max_attachments) {
        return Err(format!(
            "{} attachments, more than the limit",
            m.attachments.len()
        ));
    }
    Ok(())
}

/// The lazy message stream of one mailbox.
struct MessageLines {
    data: SharedBytes,
    /// The map under `data`, released every [`RELEASE_EVERY`] bytes read.
    map: Option<Arc<FileMap>>,
    released_at: usize,
    lines: Lines,
    file: String,
    limits: Limits,
    budget: Budget,
    done: bool,
}

impl Iterator for MessageLines {
    type Item = Result<Message, SkippedItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let bytes: &[u8] = (*self.data).as_ref();
        loop {
            if let Err(e) = self.budget.check() {
                self.done = true;
                return Some(Err(SkippedItem::new(
                    "mailbox",
                    format!("rest of the mailbox not read: {e}"),
                )
                .in_file(self.file.clone())
                .at(self.lines.pos as u64)));
            }
            let line = self.lines.next(bytes)?;
            release_when_due(self.map.as_deref(), self.lines.pos, &mut self.released_at);
            if is_blank(line.bytes) {
                continue;
            }
            let skip = |reason: String| {
                SkippedItem::new("message", format!("line {}: {reason}", line.no))
                    .in_file(self.file.clone())
                    .at(line.offset as u64)
                    .with_id(format!("line {}", line.no))
            };
            if line.bytes.len() as u64 > self.limits.max_line_len {
                return Some(Err(skip(format!(
                    "line of {} bytes is longer than the limit {}",
                    line.bytes.len(),
                    self.limits.max_line_len
                ))));
            }
            return Some(match parse_line(line.bytes) {
                Ok(Record::Message { message }) => match check_limits(&message, &self.limits) {
                    Ok(()) => Ok(*message),
                    Err(reason) => Err(skip(reason)),
                },
                Ok(Record::Mailbox { .. }) => Err(skip("unexpected mailbox record".into())),
                Ok(Record::PostOffice { .. }) => Err(skip("unexpected post_office record".into())),
                Err(e) => Err(skip(format!("invalid message record: {e}"))),
            });
        }
    }
}

impl Source for JsonlSource {
    fn post_office(&self) -> &PostOffice {
        &self.post_office
    }

    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.mailboxes
    }

    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        let index = mailmig_ir::source::mailbox_index(&self.mailboxes, mailbox)?;
        budget.check()?;
        let (folders, data, map, lines, file) = match self.sections.get(index) {
            Some(SectionLoc::Stream {
                folders,
                start,
                end,
                first_line,
            }) => {
                let data = self
                    .data
                    .clone()
                    .ok_or_else(|| SourceError::NoSuchMailbox(mailbox.key.clone()))?;
                let lines = Lines {
                    pos: *start,
                    end: *end,
                    no: *first_line,
                };
                (
                    folders.clone(),
                    data,
                    self.map.clone(),
                    lines,
                    self.file.clone(),
                )
            }
            Some(SectionLoc::File { path }) => {
                let (_, (folders, data, map, lines)) = read_mailbox_header(path, &self.limits)?;
                (folders, data, map, lines, path.display().to_string())
            }
            None => return Err(SourceError::NoSuchMailbox(mailbox.key.clone())),
        };
        if self.no_mail {
            return Ok(MailboxSection::empty(folders));
        }
        Ok(MailboxSection {
            folders,
            messages: Box::new(MessageLines {
                released_at: lines.pos,
                data,
                map,
                lines,
                file,
                limits: self.limits.clone(),
                budget: budget.clone(),
                done: false,
            }),
            warnings: Vec::new(),
        })
    }
}

/// Reads mailmig JSON Lines: a `--to jsonl` output directory or a single stream file
/// (`--from jsonl`).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonlDriver;

impl JsonlDriver {
    fn open_one(path: &Path, options: &OpenOptions) -> Result<JsonlSource, SourceError> {
        if path.is_dir() {
            JsonlSource::from_dir(path, options)
        } else {
            let map = Arc::new(map_file(path)?);
            JsonlSource::from_stream_map(
                map.bytes(),
                Some(map),
                &path.display().to_string(),
                options,
            )
        }
    }
}

impl Driver for JsonlDriver {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection> {
        if path.is_dir() {
            return path.join(POST_OFFICE_FILE).is_file().then(|| Detection {
                driver: "jsonl".into(),
                confidence: 100,
                summary: format!("mailmig JSON Lines directory ({POST_OFFICE_FILE})"),
                convertible: true,
            });
        }
        let head = head.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(head);
        let start = head.iter().position(|b| !b.is_ascii_whitespace())?;
        let head = head.get(start..)?;
        let first = head.split(|&b| b == b'\n').next().unwrap_or(head);
        let (confidence, what) = if head.starts_with(POST_OFFICE_PREFIX) {
            (100, "mailmig JSON Lines stream")
        } else if first.starts_with(b"{")
            && memchr::memmem::find(first, b"\"record\"").is_some()
            && memchr::memmem::find(first, b"\"post_office\"").is_some()
        {
            (80, "JSON Lines stream with a post_office record")
        } else {
            return None;
        };
        Some(Detection {
            driver: "jsonl".into(),
            confidence,
            summary: what.into(),
            convertible: true,
        })
    }

    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError> {
        let mut opts = options.clone();
        opts.no_mail = false;
        let source = Self::open_one(path, &opts)?;
        let mut findings = Vec::new();
        let mut total = 0u64;
        let mut skipped = 0u64;
        let mut per_mailbox = Vec::new();
        for mb in source.mailboxes() {
            let budget = Budget::new(options.limits.mailbox_time_budget);
            match source.open_mailbox(mb, &budget) {
                Ok(section) => {
                    let (mut ok, mut bad) = (0u64, 0u64);
                    for item in section.messages {
                        match item {
                            Ok(_) => ok += 1,
                            Err(s) => {
                                bad += 1;
                                let mut f = Finding::new(
                                    Severity::Error,
                                    "jsonl.skipped-line",
                                    s.to_string(),
                                );
                                if let Some(file) = s.file {
                                    f = f.in_file(file);
                                }
                                if let Some(o) = s.offset {
                                    f = f.at(o);
                                }
                                findings.push(f);
                            }
                        }
                    }
                    total += ok;
                    skipped += bad;
                    per_mailbox.push(serde_json::json!({
                        "key": mb.key, "display_name": mb.display_name,
                        "folders": section.folders.len(), "messages": ok, "skipped": bad,
                    }));
                }
                Err(e) => findings.push(Finding::new(
                    Severity::Error,
                    "jsonl.mailbox-unreadable",
                    format!("mailbox {:?}: {e}", mb.key),
                )),
            }
        }
        for w in &source.post_office().warnings {
            let mut f = Finding::new(Severity::Warning, w.code.clone(), w.message.clone());
            if let Some(file) = &w.file {
                f = f.in_file(file.clone());
            }
            if let Some(o) = w.offset {
                f = f.at(o);
            }
            findings.push(f);
        }
        Ok(Inspection {
            driver: "jsonl".into(),
            format: Some(source.post_office().format),
            summary: format!(
                "mailmig JSON Lines: post office {:?}, {} mailboxes, {total} messages, {skipped} damaged lines",
                source.post_office().name,
                source.mailboxes().len()
            ),
            findings,
            details: serde_json::json!({ "mailboxes": per_mailbox }),
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        match paths {
            [one] => Ok(Box::new(Self::open_one(one, options)?)),
            other => Err(JsonlError::TooManyInputs(other.len()).into()),
        }
    }
}
