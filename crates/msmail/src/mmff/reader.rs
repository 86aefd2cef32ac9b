//! The MMFF reader (`msmail.md` §10.2–§10.5).
//!
//! Works on the whole file in memory (usually a memory map) and borrows attachment data from it
//! with [`Blob::window`]. Every loop is bounded by [`Limits`]; damage becomes a [`Warning`] on
//! the message, or a [`SkippedItem`] when a message cannot be read at all. Never panics.
//!
//! Mapping to the IR (reader rules marked **[I]** in the notes are inferred):
//!
//! | MMFF | IR |
//! |---|---|
//! | `TO:` / `CC:` / `FROM:` | [`Message::to`] / [`Message::cc`] / [`Message::from`], see [`parse_address`] |
//! | `DATE:` + `TIME:` | [`Message::sent`], local time with unknown zone; unparsable values stay raw in `mmff:date`/`mmff:time` |
//! | `SUBJECT:` | [`Message::subject`], verbatim after the colon |
//! | `PRIORITY:` | [`Message::priority`] for `HIGH`/`URGENT`/`LOW`/`NORMAL` (**[I]**, values are undocumented); any other spelling also kept in `mmff:priority` |
//! | `VERSION:` other than `3.00` | property `mmff:version` |
//! | `EXT:<t>:<w>:<NAME>` + value line | property `mmff:ext:<t>:<w>:<NAME>` |
//! | any other `TOKEN:value` | property `mmff:token:<TOKEN>` (token as written), never dropped |
//! | a header line without `:` | property `mmff:line` and a warning |
//! | `TEXT:` body | [`Bodies::text`], line terminators (CR, LF, CR LF) normalised to `\n` |
//! | `HEADLEN` rendered header (§10.4) | property `mmff:header-text`, removed from the body |
//! | `XTEXT:` | body read from the external file; property `mmff:xtext` |
//! | `ATTACHMENTS:` | file attachment, data borrowed from the file |
//! | `XATTACH:` | file attachment named by the logical name, data read from the external file; property `mmff:xattach` |
//! | bytes after the last message | property `mmff:unparsed-tail` on the last message and a warning |

use std::path::{Component, Path, PathBuf};

use mailmig_ir::blob::SharedBytes;
use mailmig_ir::codepage;
use mailmig_ir::{
    Attachment, AttachmentContent, AttachmentKind, Blob, Limits, Message, PropValue, Property,
    SkippedItem, SourceIds, Timestamp, Warning,
};
use time::{Date, Month, PrimitiveDateTime, Time};

use super::LineEnd;
use super::address::parse_address;
use crate::MsmailError;

/// Where and how to read one MMFF file.
#[derive(Clone, Debug)]
pub struct ReadOptions<'a> {
    /// Code page of the text (default 850, `msmail.md` §8).
    pub code_page: u16,
    /// Bounds.
    pub limits: &'a Limits,
    /// The file's name as reported in warnings and [`SourceIds::file`].
    pub file_name: &'a str,
    /// Directory that `XTEXT:`/`XATTACH:` names are resolved in, and which they must not leave.
    /// `None`: external files are not read (a warning is recorded instead).
    pub base_dir: Option<&'a Path>,
}

/// The result of reading one MMFF file.
#[derive(Debug, Default)]
pub struct ParsedFile {
    /// The messages, or what had to be skipped, in file order.
    pub items: Vec<Result<Message, SkippedItem>>,
    /// The line terminator of the first header line, if any line was read.
    pub line_end: Option<LineEnd>,
}

struct Line {
    start: usize,
    end: usize,
    next: usize,
    term: Option<LineEnd>,
}

/// Reads one line. `conv` is the terminator of the message's first line: in a CR file (FFAPI
/// `-F0`) a CR never absorbs a following LF, because the byte after the `TEXT:` line may be
/// body or attachment data that happens to start with LF (found by the round-trip property).
fn next_line(
    data: &[u8],
    pos: usize,
    limits: &Limits,
    file: &str,
    conv: Option<LineEnd>,
) -> Result<Option<Line>, MsmailError> {
    let rest = match data.get(pos..) {
        Some(r) if !r.is_empty() => r,
        _ => return Ok(None),
    };
    let (len, term, tlen) = match memchr::memchr2(b'\r', b'\n', rest) {
        Some(i) => {
            let b = rest.get(i).copied();
            let crlf =
                b == Some(b'\r') && conv != Some(LineEnd::Cr) && rest.get(i + 1) == Some(&b'\n');
            match (b, crlf) {
                (_, true) => (i, Some(LineEnd::CrLf), 2),
                (Some(b'\r'), false) => (i, Some(LineEnd::Cr), 1),
                _ => (i, Some(LineEnd::Lf), 1),
            }
        }
        None => (rest.len(), None, 0),
    };
    if len as u64 > limits.max_line_len {
        return Err(MsmailError::LineTooLong {
            file: file.to_string(),
            offset: pos as u64,
            limit: limits.max_line_len,
        });
    }
    Ok(Some(Line {
        start: pos,
        end: pos + len,
        next: pos + len + tlen,
        term,
    }))
}

/// Normalises CR, LF and CR LF line terminators to `\n`.
pub fn normalise_newlines(text: &str) -> String {
    if !text.contains('\r') {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

/// Normalises CR, LF and CR LF to LF on the encoded bytes (valid for every single-byte OEM/ANSI
/// page and the DBCS pages 932/936/949/950, whose trail bytes are never 0x0D or 0x0A).
fn normalise_newline_bytes(b: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if memchr::memchr(b'\r', b).is_none() {
        return std::borrow::Cow::Borrowed(b);
    }
    let mut out = Vec::with_capacity(b.len());
    let mut rest = b;
    while let Some(i) = memchr::memchr(b'\r', rest) {
        out.extend_from_slice(rest.get(..i).unwrap_or(&[]));
        out.push(b'\n');
        let skip = if rest.get(i + 1) == Some(&b'\n') {
            2
        } else {
            1
        };
        rest = rest.get(i + skip..).unwrap_or(&[]);
    }
    out.extend_from_slice(rest);
    std::borrow::Cow::Owned(out)
}

/// Decodes body bytes in `cp` with line terminators normalised to `\n`.
fn decode_body(b: &[u8], cp: u16) -> String {
    match normalise_newline_bytes(b) {
        std::borrow::Cow::Borrowed(x) => decode(x, cp).into_owned(),
        std::borrow::Cow::Owned(v) => match decode(&v, cp) {
            std::borrow::Cow::Owned(s) => s,
            std::borrow::Cow::Borrowed(_) => String::from_utf8(v)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        },
    }
}

fn starts_with_ci(bytes: &[u8], prefix: &[u8]) -> bool {
    bytes.len() >= prefix.len()
        && bytes
            .iter()
            .zip(prefix)
            .all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Reads every message of one MMFF file. Messages follow each other when a `VERSION:` line
/// follows the previous message's data (§10.5, **[I]**); anything else after the data is kept
/// as `mmff:unparsed-tail`. A message that cannot be read becomes a [`SkippedItem`] and ends
/// the file (its bytes cannot be delimited).
pub fn read_file(data: &SharedBytes, opts: &ReadOptions<'_>) -> ParsedFile {
    let bytes: &[u8] = (**data).as_ref();
    let mut out = ParsedFile::default();
    let mut pos = 0usize;
    let mut count: u64 = 0;
    loop {
        if count >= opts.limits.max_items {
            out.items.push(Err(SkippedItem::new(
                "message",
                format!("more than {} messages in one file", opts.limits.max_items),
            )
            .in_file(opts.file_name)
            .at(pos as u64)));
            break;
        }
        match parse_message(data, pos, opts, count) {
            Ok((msg, next, term)) => {
                if out.line_end.is_none() {
                    out.line_end = term;
                }
                count += 1;
                out.items.push(Ok(msg));
                let mut p = next;
                while matches!(bytes.get(p), Some(b'\r' | b'\n')) {
                    p += 1;
                }
                let rest = bytes.get(p..).unwrap_or(&[]);
                if rest.is_empty() {
                    break;
                }
                if starts_with_ci(rest, b"VERSION:") {
                    pos = p;
                    continue;
                }
                if let Some(Ok(last)) = out.items.last_mut() {
                    let tail = Blob::window(data.clone(), next..bytes.len()).unwrap_or_default();
                    last.warnings.push(
                        Warning::new(
                            "mmff.unparsed-tail",
                            format!(
                                "{} bytes after the message data do not start a new message; kept as mmff:unparsed-tail",
                                bytes.len() - next
                            ),
                        )
                        .in_file(opts.file_name)
                        .at(next as u64),
                    );
                    last.properties
                        .push(Property::new("mmff:unparsed-tail", PropValue::Binary(tail)));
                }
                break;
            }
            Err(e) => {
                out.items
                    .push(Err(SkippedItem::new("message", e.to_string())
                        .in_file(opts.file_name)
                        .at(e.offset())
                        .with_id(format!("{}#{}", opts.file_name, count))));
                break;
            }
        }
    }
    out
}

struct Pending {
    name: Option<String>,
    size: u64,
    raw_name: String,
    line_offset: u64,
}

enum AttachSlot {
    Inline(usize, Pending),
    External,
}

fn decode<'b>(bytes: &'b [u8], cp: u16) -> std::borrow::Cow<'b, str> {
    codepage::decode(bytes, cp)
}

fn parse_u64(value: &str) -> Option<u64> {
    let v = value.trim();
    if v.is_empty() || !v.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

/// Resolves an `XTEXT`/`XATTACH` physical name inside `base`; absolute names, drive letters and
/// `..` are refused (§10.5). DOS `\` separators are accepted.
pub fn resolve_external(base: &Path, name: &str) -> Option<PathBuf> {
    let n = name.trim().replace('\\', "/");
    if n.is_empty() || n.starts_with('/') || n.get(1..2) == Some(":") {
        return None;
    }
    let rel = Path::new(&n);
    let mut out = base.to_path_buf();
    for c in rel.components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn read_external(
    opts: &ReadOptions<'_>,
    name: &str,
    what: &str,
    offset: u64,
    warnings: &mut Vec<Warning>,
) -> Option<Vec<u8>> {
    let warn = |w: &mut Vec<Warning>, msg: String| {
        w.push(
            Warning::new("mmff.external-file", msg)
                .in_file(opts.file_name)
                .at(offset),
        );
    };
    let Some(base) = opts.base_dir else {
        warn(
            warnings,
            format!("{what} file {name:?} not read (no input directory)"),
        );
        return None;
    };
    let Some(path) = resolve_external(base, name) else {
        warn(
            warnings,
            format!("{what} file {name:?} refused: absolute paths and '..' are not followed"),
        );
        return None;
    };
    let meta = match std::fs::symlink_metadata(&path) {
        Ok(m) if m.is_file() => m,
        Ok(_) => {
            warn(
                warnings,
                format!("{what} file {name:?} is not a regular file"),
            );
            return None;
        }
        Err(e) => {
            warn(
                warnings,
                format!("{what} file {name:?} cannot be opened: {e}"),
            );
            return None;
        }
    };
    if !opts.limits.allows_allocation(meta.len()) {
        warn(
            warnings,
            format!(
                "{what} file {name:?} of {} bytes exceeds the allocation limit",
                meta.len()
            ),
        );
        return None;
    }
    match crate::mapping::read_head(&path, meta.len()) {
        Ok(v) => Some(v),
        Err(e) => {
            warn(
                warnings,
                format!("{what} file {name:?} cannot be read: {e}"),
            );
            None
        }
    }
}

fn parse_date(v: &str) -> Option<Date> {
    let v = v.trim();
    let mut it = v.splitn(3, '-');
    let y: i32 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    Date::from_calendar_date(y, Month::try_from(m).ok()?, d).ok()
}

fn parse_time(v: &str) -> Option<Time> {
    let v = v.trim();
    let mut it = v.splitn(3, ':');
    let h: u8 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let s: u8 = match it.next() {
        Some(s) => s.parse().ok()?,
        None => 0,
    };
    Time::from_hms(h, m, s).ok()
}

/// Maps a `PRIORITY:` value (**[I]**: the values are undocumented, §13). Returns the priority
/// and whether the spelling is the writer's canonical one (so no raw copy is needed).
pub fn map_priority(v: &str) -> (mailmig_ir::Priority, bool) {
    use mailmig_ir::Priority;
    let t = v.trim();
    match t.to_ascii_uppercase().as_str() {
        "HIGH" | "URGENT" => (Priority::High, t == "HIGH"),
        "LOW" => (Priority::Low, t == "LOW"),
        "NORMAL" => (Priority::Normal, t == "NORMAL"),
        _ => (Priority::Normal, false),
    }
}

fn is_separator_line(l: &str) -> bool {
    let t = l.trim();
    t.is_empty() || (t.len() >= 3 && t.bytes().all(|b| b == b'-'))
}

/// Applies the `HEADLEN` rule of §10.4 (**[I]**) to a normalised body: returns the rendered
/// header (with its `\n`s), the body, and an explanation when the split was moved or refused.
pub fn split_headlen(text: &str, headlen: usize) -> (Option<String>, String, Option<String>) {
    if headlen == 0 {
        return (None, text.to_string(), None);
    }
    let lines: Vec<&str> = text.split_inclusive('\n').take(headlen).collect();
    let is_sep = |i: usize| lines.get(i).is_some_and(|l| is_separator_line(l));
    let (k, note) = if lines.len() == headlen && is_sep(headlen - 1) {
        (headlen, None)
    } else {
        match (0..lines.len()).rev().find(|&i| is_sep(i)) {
            Some(i) => (
                i + 1,
                Some(format!(
                    "HEADLEN {headlen} does not end on a blank or dashed line; rendered header split after line {}",
                    i + 1
                )),
            ),
            None => {
                return (
                    None,
                    text.to_string(),
                    Some(format!(
                        "HEADLEN {headlen} names no blank or dashed line; body left whole"
                    )),
                );
            }
        }
    };
    let cut: usize = lines.iter().take(k).map(|l| l.len()).sum();
    let head = text.get(..cut).unwrap_or("").to_string();
    let body = text.get(cut..).unwrap_or("").to_string();
    (Some(head), body, note)
}

/// Parses one message starting at `start`; returns it, the offset after its data and the line
/// terminator of its first line.
pub fn parse_message(
    data: &SharedBytes,
    start: usize,
    opts: &ReadOptions<'_>,
    index: u64,
) -> Result<(Message, usize, Option<LineEnd>), MsmailError> {
    let bytes: &[u8] = (**data).as_ref();
    let file = opts.file_name;
    let cp = opts.code_page;
    let limits = opts.limits;
    let mut msg = Message {
        ids: SourceIds {
            native: Some(format!("{file}#{index}")),
            offset: Some(start as u64),
            file: Some(file.into()),
            ..SourceIds::default()
        },
        folder: Some(super::FOLDER_ID.to_string()),
        ..Message::default()
    };
    let mut warnings = Vec::new();
    let mut first_term = None;
    let mut pos = start;
    let mut lines_seen: u64 = 0;
    let mut date_raw: Option<(String, u64)> = None;
    let mut time_raw: Option<(String, u64)> = None;
    let mut slots: Vec<AttachSlot> = Vec::new();
    let mut headlen: Option<(usize, u64)> = None;
    let mut recipients: u64 = 0;
    let body_start;
    let body_len: usize;
    let mut xtext: Option<(String, u64)> = None;

    loop {
        let Some(line) = next_line(bytes, pos, limits, file, first_term)? else {
            return Err(MsmailError::MissingBody {
                file: file.to_string(),
                offset: start as u64,
            });
        };
        lines_seen += 1;
        if lines_seen > limits.max_items {
            return Err(MsmailError::TooMany {
                file: file.to_string(),
                what: "header lines",
                offset: line.start as u64,
                limit: limits.max_items,
            });
        }
        if first_term.is_none() {
            first_term = line.term;
        }
        pos = line.next;
        let raw = bytes.get(line.start..line.end).unwrap_or(&[]);
        let off = line.start as u64;
        if raw.is_empty() {
            warnings.push(
                Warning::new("mmff.blank-header-line", "blank line in the header ignored")
                    .in_file(file)
                    .at(off),
            );
            continue;
        }
        let Some(colon) = memchr::memchr(b':', raw) else {
            if index == 0 && lines_seen == 1 {
                return Err(MsmailError::NotMmff {
                    file: file.to_string(),
                    offset: off,
                    raw: decode(raw.get(..raw.len().min(40)).unwrap_or(&[]), cp).into_owned(),
                });
            }
            warnings.push(
                Warning::new(
                    "mmff.bad-header-line",
                    "header line without a token kept as mmff:line",
                )
                .in_file(file)
                .at(off),
            );
            msg.properties.push(Property::new(
                "mmff:line",
                PropValue::Text(decode(raw, cp).into_owned()),
            ));
            continue;
        };
        let token_bytes = raw.get(..colon).unwrap_or(&[]);
        let value_bytes = raw.get(colon + 1..).unwrap_or(&[]);
        let token = decode(token_bytes, cp).into_owned();
        let value = decode(value_bytes, cp).into_owned();
        match token.to_ascii_uppercase().as_str() {
            "VERSION" => {
                if value.trim() != "3.00" {
                    msg.properties
                        .push(Property::new("mmff:version", PropValue::Text(value)));
                }
            }
            t @ ("TO" | "CC" | "FROM") => {
                recipients += 1;
                if recipients > u64::from(limits.max_recipients) {
                    return Err(MsmailError::TooMany {
                        file: file.to_string(),
                        what: "addresses",
                        offset: off,
                        limit: u64::from(limits.max_recipients),
                    });
                }
                let a = parse_address(&value);
                if a.address.as_deref().is_some_and(str::is_empty) {
                    warnings.push(
                        Warning::new(
                            "mmff.bad-address",
                            format!("empty {t}: address (FFAPI error 142)"),
                        )
                        .in_file(file)
                        .at(off),
                    );
                }
                match t {
                    "TO" => msg.to.push(a),
                    "CC" => msg.cc.push(a),
                    _ => {
                        if msg.from.is_some() {
                            warnings.push(
                                Warning::new(
                                    "mmff.repeated-from",
                                    "second FROM: line kept as the sender",
                                )
                                .in_file(file)
                                .at(off),
                            );
                            msg.sender = Some(a);
                        } else {
                            msg.from = Some(a);
                        }
                    }
                }
            }
            "DATE" => date_raw = Some((value, off)),
            "TIME" => time_raw = Some((value, off)),
            "SUBJECT" => msg.subject = Some(value),
            "PRIORITY" => {
                let (p, canonical) = map_priority(&value);
                msg.priority = p;
                if !canonical {
                    msg.properties
                        .push(Property::new("mmff:priority", PropValue::Text(value)));
                }
            }
            "ATTACHMENTS" => {
                if slots.len() as u64 >= u64::from(limits.max_attachments) {
                    return Err(MsmailError::TooMany {
                        file: file.to_string(),
                        what: "attachments",
                        offset: off,
                        limit: u64::from(limits.max_attachments),
                    });
                }
                let (name, size) = match value.rsplit_once(' ') {
                    Some((n, s)) => (n.to_string(), s),
                    None => (String::new(), value.as_str()),
                };
                let size = parse_u64(size).ok_or_else(|| MsmailError::BadNumber {
                    file: file.to_string(),
                    field: "ATTACHMENTS",
                    offset: off,
                    raw: value.clone(),
                })?;
                slots.push(AttachSlot::Inline(
                    msg.attachments.len(),
                    Pending {
                        name: (!name.is_empty()).then_some(name.clone()),
                        size,
                        raw_name: name,
                        line_offset: off,
                    },
                ));
                msg.attachments.push(Attachment::default());
            }
            "XATTACH" => {
                if slots.len() as u64 >= u64::from(limits.max_attachments) {
                    return Err(MsmailError::TooMany {
                        file: file.to_string(),
                        what: "attachments",
                        offset: off,
                        limit: u64::from(limits.max_attachments),
                    });
                }
                let (physical, logical) = match value.split_once('[') {
                    Some((p, l)) => (p.to_string(), Some(l.trim_end_matches(']').to_string())),
                    None => (value.clone(), None),
                };
                let mut att = Attachment {
                    name: logical
                        .filter(|l| !l.is_empty())
                        .or_else(|| Some(physical.clone())),
                    properties: vec![Property::new(
                        "mmff:xattach",
                        PropValue::Text(physical.clone()),
                    )],
                    ..Attachment::default()
                };
                if let Some(d) = read_external(opts, &physical, "XATTACH", off, &mut warnings) {
                    att.content = AttachmentContent::Data(Blob::from_vec(d));
                }
                slots.push(AttachSlot::External);
                msg.attachments.push(att);
            }
            "EXT" => {
                let Some(vline) = next_line(bytes, pos, limits, file, first_term)? else {
                    return Err(MsmailError::MissingBody {
                        file: file.to_string(),
                        offset: start as u64,
                    });
                };
                pos = vline.next;
                let v = decode(bytes.get(vline.start..vline.end).unwrap_or(&[]), cp).into_owned();
                let name_part = value.rsplit(':').next().unwrap_or("");
                if value.split(':').count() != 3 {
                    warnings.push(
                        Warning::new(
                            "mmff.ext-syntax",
                            format!("EXT:{value} is not EXT:<type>:<width>:<name>; kept"),
                        )
                        .in_file(file)
                        .at(off),
                    );
                }
                if name_part.eq_ignore_ascii_case("HEADLEN") {
                    match parse_u64(&v).and_then(|n| usize::try_from(n).ok()) {
                        Some(n) => headlen = Some((n, vline.start as u64)),
                        None => warnings.push(
                            Warning::new(
                                "mmff.bad-headlen",
                                format!("HEADLEN value {v:?} is not a number"),
                            )
                            .in_file(file)
                            .at(vline.start as u64),
                        ),
                    }
                }
                msg.properties.push(Property::new(
                    format!("mmff:ext:{value}"),
                    PropValue::Text(v),
                ));
            }
            "TEXT" => {
                let size = parse_u64(&value).ok_or_else(|| MsmailError::BadNumber {
                    file: file.to_string(),
                    field: "TEXT",
                    offset: off,
                    raw: value.clone(),
                })?;
                body_start = pos;
                let avail = bytes.len().saturating_sub(pos);
                body_len = match usize::try_from(size) {
                    Ok(s) if s <= avail => s,
                    _ => {
                        warnings.push(
                            Warning::new(
                                "mmff.text-overrun",
                                format!(
                                    "TEXT:{size} runs past the end of the file; {avail} bytes read"
                                ),
                            )
                            .in_file(file)
                            .at(off),
                        );
                        avail
                    }
                };
                break;
            }
            "XTEXT" => {
                xtext = Some((value, off));
                body_start = pos;
                body_len = 0;
                break;
            }
            _ => msg.properties.push(Property::new(
                format!("mmff:token:{token}"),
                PropValue::Text(value),
            )),
        }
    }

    let mut text = if let Some((name, off)) = &xtext {
        msg.properties
            .push(Property::new("mmff:xtext", PropValue::Text(name.clone())));
        read_external(opts, name, "XTEXT", *off, &mut warnings).map(|d| decode_body(&d, cp))
    } else {
        let b = bytes.get(body_start..body_start + body_len).unwrap_or(&[]);
        (!b.is_empty()).then(|| decode_body(b, cp))
    };
    if let (Some((h, off)), Some(t)) = (headlen, text.as_ref()) {
        let (head, body, note) = split_headlen(t, h);
        if let Some(n) = note {
            warnings.push(Warning::new("mmff.headlen", n).in_file(file).at(off));
        }
        if let Some(head) = head {
            msg.properties
                .push(Property::new("mmff:header-text", PropValue::Text(head)));
            text = (!body.is_empty()).then_some(body);
        }
    }
    msg.body.text = text;

    match (date_raw, time_raw) {
        (Some((d, doff)), t) => {
            let time = match &t {
                Some((tv, _)) => parse_time(tv),
                None => Some(Time::MIDNIGHT),
            };
            match (parse_date(&d), time) {
                (Some(date), Some(time)) => {
                    msg.sent = Some(Timestamp::local_unknown_zone(PrimitiveDateTime::new(
                        date, time,
                    )));
                }
                _ => {
                    warnings.push(
                        Warning::new(
                            "mmff.invalid-date",
                            format!(
                                "DATE:{d} TIME:{} not valid; kept raw",
                                t.as_ref().map_or("", |x| x.0.as_str())
                            ),
                        )
                        .in_file(file)
                        .at(doff),
                    );
                    msg.properties
                        .push(Property::new("mmff:date", PropValue::Text(d)));
                    if let Some((tv, _)) = t {
                        msg.properties
                            .push(Property::new("mmff:time", PropValue::Text(tv)));
                    }
                }
            }
        }
        (None, Some((tv, off))) => {
            warnings.push(
                Warning::new("mmff.time-without-date", "TIME: without DATE: kept raw")
                    .in_file(file)
                    .at(off),
            );
            msg.properties
                .push(Property::new("mmff:time", PropValue::Text(tv)));
        }
        (None, None) => {}
    }

    let mut p = body_start + body_len;
    for slot in slots {
        let AttachSlot::Inline(i, pending) = slot else {
            continue;
        };
        let avail = bytes.len().saturating_sub(p);
        let take = match usize::try_from(pending.size) {
            Ok(s) if s <= avail => s,
            _ => {
                warnings.push(
                    Warning::new(
                        "mmff.attachment-overrun",
                        format!(
                            "attachment {:?} declares {} bytes, {avail} remain",
                            pending.raw_name, pending.size
                        ),
                    )
                    .in_file(file)
                    .at(p as u64),
                );
                avail
            }
        };
        let blob = Blob::window(data.clone(), p..p + take).unwrap_or_default();
        let mut att = Attachment {
            kind: AttachmentKind::File,
            name: pending.name.clone(),
            content: AttachmentContent::Data(blob),
            ids: SourceIds {
                offset: Some(p as u64),
                file: Some(file.into()),
                ..SourceIds::default()
            },
            ..Attachment::default()
        };
        if let Some(n) = &pending.name
            && let Some(base) = n.rsplit(['\\', '/']).next()
            && base.len() != n.len()
        {
            warnings.push(
                Warning::new(
                    "mmff.attachment-path",
                    format!("attachment name {n:?} carries a path; base name kept (KB Q176397)"),
                )
                .in_file(file)
                .at(pending.line_offset),
            );
            att.properties.push(Property::new(
                "mmff:original-name",
                PropValue::Text(n.clone()),
            ));
            att.name = Some(base.to_string());
        }
        if let Some(slot) = msg.attachments.get_mut(i) {
            *slot = att;
        }
        p += take;
    }
    msg.warnings = warnings;
    Ok((msg, p, first_term))
}
