//! MIME renderer: one IR [`Message`] as RFC 5322 / RFC 2045–2049 bytes (CRLF line ends).
//!
//! Built on `mail-builder` 2.x (header encoders, RFC 2047 encoded words outside quoted
//! strings, RFC 2231 parameters, transfer-encoding choice for bodies). Everything that could
//! vary between runs is fixed here, so the output is byte-reproducible (ARCHITECTURE.md,
//! guarantees 3 and 5):
//!
//! * `Message-ID` is [`SourceIds::message_id`] when it is a well-formed `id-left@id-right`
//!   (RFC 5322 §3.6.4); otherwise `<mailmig.HEX@mailmig.invalid>`, `HEX` being the first 32 hex
//!   digits of a SHA-256 over the mailbox key and the source ids (or the message's position
//!   in the mailbox when it has no source ids at all). An unusable source Message-ID is kept
//!   in `X-Mailmig-Original-Message-Id`.
//! * Every multipart boundary is `=_mm<24 hex digits of that digest>_<n>` (`n` counts the
//!   multiparts of the message), checked not to occur in any part written without encoding.
//!   The `=_` prefix cannot occur in quoted-printable or base64 output.
//! * `Date` is `sent`, else `received`, via [`Timestamp::to_rfc5322`](mailmig_ir::Timestamp::to_rfc5322) (`-0000` for local
//!   times whose zone is unknown, RFC 5322 §3.3). A message with neither gets no `Date`
//!   rather than an invented one.
//!
//! Addresses without an Internet form are written as IMCEA encapsulation,
//! `IMCEA<TYPE>-<address>@mailmig.invalid`, the native address with every byte outside
//! RFC 5322 `atext` (and `+`) written as `+XX` hex, keeping the display name. A recipient with
//! only a display name becomes an empty group (`Name: ;`, RFC 5322 §3.4).
//!
//! Raw transport headers ([`Message::headers`]): when they are *sane* — 7-bit printable
//! ASCII, well-formed `name: value` fields with folded continuations, no line over 998 bytes,
//! at most 256 KiB — they open the header block verbatim (trace fields such as `Received`
//! first, as RFC 5322 §3.6.7 wants), minus every field this renderer writes itself
//! (`Message-ID`, `Date`, the address fields, `Subject`, priority, `MIME-Version`,
//! `Content-*`, mbox `Status`/`X-Status`, `X-Mailmig-*`): the IR fields they were decoded into
//! are authoritative. Otherwise the whole block is kept losslessly as base64 in
//! `X-Mailmig-Original-Headers` (folded; remove the white space before decoding).
//!
//! Clone-fidelity headers (guarantee 4): `X-Mailmig-Source-Id`, `X-Mailmig-Entry-Id`,
//! `X-Mailmig-Record-Key`, `X-Mailmig-Search-Key` (upper-case hex), `X-Mailmig-Folder-Id`,
//! `X-Mailmig-Source-File`, `X-Mailmig-Source-Offset`, plus `X-Mailmig-Received-Date` when
//! both dates exist and `X-Mailmig-Message-Class` for classes other than `IPM.Note`. Attachment
//! parts carry the same id headers for their own ids.
//!
//! Bodies: text and HTML form `multipart/alternative`; inline attachments with a Content-ID
//! sit with the HTML in `multipart/related`; RTF is attached as `application/rtf`
//! (`body.rtf`) when it is the only rich body (no HTML). Attachment data is always base64, so
//! attachment bytes come back unchanged; embedded messages are `message/rfc822` parts,
//! rendered recursively (at most [`MAX_EMBEDDING_DEPTH`] levels).

use std::borrow::Cow;
use std::fmt::Write as _;

use base64::Engine as _;
use mail_builder::Writer;
use mail_builder::headers::address::Address as MbAddress;
use mail_builder::headers::content_type::ContentType;
use mail_builder::headers::message_id::MessageId;
use mail_builder::headers::raw::Raw;
use mail_builder::headers::text::Text;
use mail_builder::headers::{Header, HeaderType};
use mail_builder::mime::{BodyPart, MimePart};
use mailmig_ir::{
    Address, Attachment, AttachmentContent, AttachmentKind, Blob, Message, Priority, SinkError,
    SourceIds,
};
use sha2::{Digest, Sha256};

/// Deepest nesting of embedded messages rendered; deeper ones make the message
/// unrepresentable (same default as `Limits::max_embedding_depth`).
pub const MAX_EMBEDDING_DEPTH: u32 = 32;

/// Largest raw header block emitted verbatim.
const MAX_RAW_HEADER_BYTES: usize = 256 * 1024;

/// Where a message sits in its mailbox: used to derive a stable identity for messages.
#[derive(Clone, Copy, Debug)]
pub struct MessagePlace<'a> {
    /// [`MailboxInfo::key`](mailmig_ir::MailboxInfo::key) of the mailbox.
    pub mailbox_key: &'a str,
    /// Position of the message in the mailbox's stream (0-based); only used when the message
    /// carries no source identifiers at all.
    pub seq: u64,
}

/// A rendered message.
#[derive(Clone, Debug)]
pub struct Rendered {
    /// RFC 5322 bytes with CRLF line ends, 7-bit clean.
    pub bytes: Vec<u8>,
    /// SHA-256 identity digest (mailbox key + source ids) the Message-ID and boundaries
    /// derive from.
    pub identity: [u8; 32],
}

impl Rendered {
    /// The first `n` lower-case hex digits of the identity digest (`n` ≤ 64).
    pub fn identity_hex(&self, n: usize) -> String {
        let mut s = hex_lower(&self.identity);
        s.truncate(n);
        s
    }
}

/// Renders `message` as RFC 5322 bytes (CRLF line ends).
///
/// Errors with [`SinkError::Unrepresentable`] when embedded messages nest deeper than
/// [`MAX_EMBEDDING_DEPTH`].
pub fn render_message(message: &Message, place: MessagePlace<'_>) -> Result<Rendered, SinkError> {
    let mut bytes = Vec::with_capacity(estimate_len(message));
    let identity = render_message_to(message, place, &mut bytes)?;
    Ok(Rendered { bytes, identity })
}

/// Renders `message` as [`render_message`] does, into `out` (for example a
/// buffered writer over a file, so a large message is never held whole in memory);
/// returns the identity digest.
pub fn render_message_to(
    message: &Message,
    place: MessagePlace<'_>,
    out: &mut impl Writer,
) -> Result<[u8; 32], SinkError> {
    let identity = message_identity(message, place);
    render_with_identity_to(message, &identity, out)?;
    Ok(identity)
}

/// Renders `message` as [`render_message_to`] does, with its identity digest already computed
/// by [`message_identity`] (for a sink that names the file after it before writing).
pub(crate) fn render_with_identity_to(
    message: &Message,
    identity: &[u8; 32],
    out: &mut impl Writer,
) -> Result<(), SinkError> {
    let plan = plan(message, identity)?;
    write_message(message, identity, 0, out, &plan, Mode::Write)
}

fn estimate_len(message: &Message) -> usize {
    let t = message.tally();
    let body = message.body.text.as_ref().map_or(0, String::len)
        + message.body.html.as_ref().map_or(0, String::len);
    let att = usize::try_from(t.attachment_bytes).unwrap_or(usize::MAX / 2);
    (body + att / 3 * 4 + att / 3 / 19 + 2048).min(1 << 26)
}

/// SHA-256 over a version tag, the mailbox key and every source id of the message (or its
/// position when it has none).
pub(crate) fn message_identity(message: &Message, place: MessagePlace<'_>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mailmig-message-v1\0");
    h.update(place.mailbox_key.as_bytes());
    h.update(b"\0");
    let ids = &message.ids;
    if ids == &SourceIds::default() {
        h.update(b"seq\0");
        h.update(place.seq.to_string().as_bytes());
    } else {
        hash_ids(&mut h, ids);
    }
    h.finalize().into()
}

fn hash_ids(h: &mut Sha256, ids: &SourceIds) {
    let mut field = |tag: &[u8], value: Option<&[u8]>| {
        h.update(tag);
        match value {
            Some(v) => {
                h.update(b"=");
                h.update((v.len() as u64).to_le_bytes());
                h.update(v);
            }
            None => h.update(b"-"),
        }
    };
    field(b"native", ids.native.as_deref().map(str::as_bytes));
    field(b"entry", ids.entry_id.as_ref().map(|b| b.as_bytes()));
    field(b"record", ids.record_key.as_ref().map(|b| b.as_bytes()));
    field(b"search", ids.search_key.as_ref().map(|b| b.as_bytes()));
    field(b"msgid", ids.message_id.as_deref().map(str::as_bytes));
    let off = ids.offset.map(|o| o.to_le_bytes());
    field(b"offset", off.as_ref().map(|o| &o[..]));
    field(b"file", ids.file.as_deref().map(str::as_bytes));
}

fn child_identity(parent: &[u8; 32], index: usize, ids: &SourceIds) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(b"mailmig-embedded-v1\0");
    h.update(parent);
    h.update((index as u64).to_le_bytes());
    hash_ids(&mut h, ids);
    h.finalize().into()
}

pub(crate) fn hex_lower(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

fn hex_upper(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02X}");
    }
    s
}

fn put_header(out: &mut impl Writer, name: &str, value: impl Into<HeaderType<'static>>) {
    put_header_ref(out, name, &value.into());
}

fn put_header_ref(out: &mut impl Writer, name: &str, value: &HeaderType<'_>) {
    out.write(name.as_bytes());
    out.write(b": ");
    value.write_header(out, name.len() + 2);
}

fn write_message(
    message: &Message,
    identity: &[u8; 32],
    depth: u32,
    out: &mut impl Writer,
    plan: &Plan,
    mode: Mode,
) -> Result<(), SinkError> {
    if depth > MAX_EMBEDDING_DEPTH {
        return Err(SinkError::Unrepresentable(format!(
            "embedded messages nest deeper than {MAX_EMBEDDING_DEPTH} levels"
        )));
    }
    write_headers(message, identity, out);
    // The boundaries must not occur in the embedded messages. Those whose rendering holds
    // this message's boundary prefix (see `Plan`) are rendered into memory first, and the
    // boundaries are chosen around them; the others are written straight into `out`.
    let mut embedded: Vec<Embedded<'_>> = Vec::with_capacity(message.attachments.len());
    for (i, a) in message.attachments.iter().enumerate() {
        embedded.push(match (&a.content, mode) {
            (AttachmentContent::Message(_), Mode::Scan) => Embedded::Skipped,
            (AttachmentContent::Message(m), Mode::Write) => {
                let id = child_identity(identity, i, &m.ids);
                if plan.in_memory.contains(&message_key(message)) {
                    let mut buf = Vec::new();
                    write_message(m, &id, depth + 1, &mut buf, plan, Mode::Write)?;
                    Embedded::Rendered(buf)
                } else {
                    Embedded::Direct(m, id, depth + 1)
                }
            }
            _ => Embedded::None,
        });
    }
    let body = build_body(message, identity, &embedded, mode)?;
    write_part(body, out, plan)
}

/// Whether a message is being written, or only scanned for boundary prefixes ([`Plan`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Write,
    /// Attachment data and embedded messages are left out.
    Scan,
}

/// How an attachment that is an embedded message is written.
enum Embedded<'x> {
    /// Not an embedded message.
    None,
    /// Rendered into memory first: the boundaries of the message around it are chosen so
    /// that they do not occur in these bytes.
    Rendered(Vec<u8>),
    /// Written straight into the output as its part's body: the message, its identity and its
    /// depth.
    Direct(&'x Message, [u8; 32], u32),
    /// Left out (scanning).
    Skipped,
}

/// The messages of a tree whose embedded messages must be rendered into memory first: those
/// whose boundary prefix (`=_mm` and 24 hex digits, [`boundary_base`]) occurs in the rendering
/// of one of their embedded messages. Normally none, so embedded messages, and the large
/// attachments in them, are written straight into the output.
#[derive(Default)]
struct Plan {
    in_memory: std::collections::HashSet<usize>,
}

/// Identifies a message of the tree being rendered (by address: the tree is borrowed for the
/// whole rendering).
fn message_key(m: &Message) -> usize {
    std::ptr::from_ref(m) as usize
}

/// The start of every boundary of the message with this identity.
fn boundary_base(identity: &[u8; 32]) -> String {
    format!("=_mm{}", &hex_lower(identity)[..24])
}

/// Finds the messages of `message`'s tree whose embedded messages hold their boundary prefix.
///
/// Every embedded message is rendered once, into a [`Scan`] that keeps nothing, without its
/// attachment data and without its own embedded messages (which are scanned in turn, while
/// the prefixes of every message around them are watched). Leaving those out changes nothing
/// that is watched for: base64 has no `_`, and a prefix cannot run across the CRLFs around a
/// part. The embedded messages' own boundaries differ from the real ones only where they
/// chose other candidates, and candidates carry their own message's digest, never another's.
fn plan(message: &Message, identity: &[u8; 32]) -> Result<Plan, SinkError> {
    let mut scan = Scan::default();
    if message
        .attachments
        .iter()
        .any(|a| matches!(a.content, AttachmentContent::Message(_)))
    {
        scan_embedded(message, identity, 0, &mut scan)?;
    }
    Ok(Plan {
        in_memory: scan.found,
    })
}

fn scan_embedded(
    message: &Message,
    identity: &[u8; 32],
    depth: u32,
    scan: &mut Scan,
) -> Result<(), SinkError> {
    for (i, a) in message.attachments.iter().enumerate() {
        let AttachmentContent::Message(m) = &a.content else {
            continue;
        };
        let id = child_identity(identity, i, &m.ids);
        scan.watch
            .push((message_key(message), boundary_base(identity).into_bytes()));
        scan.tail.clear();
        write_message(m, &id, depth + 1, scan, &Plan::default(), Mode::Scan)?;
        scan.tail.clear();
        scan_embedded(m, &id, depth + 1, scan)?;
        scan.watch.pop();
    }
    Ok(())
}

/// A [`Writer`] that keeps nothing and notes which watched boundary prefixes occur in what is
/// written ([`plan`]).
#[derive(Default)]
struct Scan {
    /// The messages whose embedded messages are being written, with their prefixes.
    watch: Vec<(usize, Vec<u8>)>,
    /// The messages whose prefix occurred.
    found: std::collections::HashSet<usize>,
    /// The last bytes written, for a prefix split between two writes.
    tail: Vec<u8>,
}

impl Writer for Scan {
    fn write(&mut self, bytes: &[u8]) {
        let Some(len) = self.watch.first().map(|(_, p)| p.len()) else {
            return;
        };
        let keep = len.saturating_sub(1);
        let head = bytes.get(..bytes.len().min(keep)).unwrap_or(bytes);
        let mut joined = std::mem::take(&mut self.tail);
        joined.extend_from_slice(head);
        for (key, prefix) in &self.watch {
            if !self.found.contains(key)
                && (memchr::memmem::find(bytes, prefix).is_some()
                    || memchr::memmem::find(&joined, prefix).is_some())
            {
                self.found.insert(*key);
            }
        }
        if bytes.len() >= keep {
            joined.clear();
            joined.extend_from_slice(bytes.get(bytes.len() - keep..).unwrap_or(&[]));
        } else {
            let cut = joined.len().saturating_sub(keep);
            joined.drain(..cut);
        }
        self.tail = joined;
    }
}

/// A MIME part as this renderer writes it: mostly a `mail_builder` part, except that data
/// attachments read in pieces ([`Blob::pieces`]) are encoded here as they are read, and the
/// multiparts around them are written here too, as `mail_builder` writes its own.
enum Part<'x> {
    /// Written by `mail_builder`.
    Mime(MimePart<'x>),
    /// A part whose body `mail_builder` writes empty, followed by the blob in base64.
    Streamed(MimePart<'x>, &'x Blob, Base64Lines),
    /// A `message/rfc822` part whose body `mail_builder` writes empty, followed by the
    /// message written straight into the output: the message, its identity and its depth.
    Embedded(MimePart<'x>, &'x Message, [u8; 32], u32),
    /// A multipart: its `Content-Type` (with `boundary`), the boundary, and the parts.
    Multipart(ContentType<'x>, String, Vec<Part<'x>>),
}

/// How [`Part::Streamed`] ends its base64 lines.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Base64Lines {
    /// Every line ends in CRLF: `mail_builder`'s own base64 body (`BodyPart::Binary`).
    Terminated,
    /// Lines joined by CRLF, no final CRLF: [`base64_lines`].
    Joined,
}

/// Writes `part`: the same bytes `mail_builder` writes for the same tree, with streamed data
/// in pieces. A streamed blob whose source fails (its input changed) is an error.
fn write_part(part: Part<'_>, out: &mut impl Writer, plan: &Plan) -> Result<(), SinkError> {
    match part {
        Part::Mime(p) => p.write_part(out),
        Part::Embedded(p, m, id, depth) => {
            p.write_part(out);
            write_message(m, &id, depth, out, plan, Mode::Write)?;
        }
        Part::Streamed(p, blob, lines) => {
            p.write_part(out);
            write_base64_pieces(blob, lines, out)
                .map_err(|e| SinkError::Other(format!("attachment data could not be read: {e}")))?;
        }
        Part::Multipart(ct, boundary, parts) => {
            put_header_ref(out, "Content-Type", &HeaderType::ContentType(ct));
            for p in parts {
                out.write(b"\r\n--");
                out.write(boundary.as_bytes());
                out.write(b"\r\n");
                write_part(p, out, plan)?;
            }
            out.write(b"\r\n--");
            out.write(boundary.as_bytes());
            out.write(b"--\r\n");
        }
    }
    Ok(())
}

/// Input bytes encoded at a time by [`write_base64_pieces`]: whole 57-byte lines.
const BASE64_BLOCK: usize = 57 * 1024;

/// Writes `blob` in base64 lines of 76 characters as it reads it, one [`BASE64_BLOCK`] at a
/// time: the bytes [`base64_lines`] (`Joined`) or `mail_builder` (`Terminated`) give for the
/// whole blob.
fn write_base64_pieces(
    blob: &Blob,
    lines: Base64Lines,
    out: &mut impl Writer,
) -> std::io::Result<()> {
    let mut first = true;
    let mut encode = |chunk: &[u8], out: &mut dyn FnMut(&[u8])| {
        let text = encodify::base64::MIME.encode(chunk);
        match lines {
            Base64Lines::Terminated => out(text.as_bytes()),
            Base64Lines::Joined => {
                if !first {
                    out(b"\r\n");
                }
                out(text.strip_suffix("\r\n").unwrap_or(&text).as_bytes());
            }
        }
        first = false;
    };
    let mut carry: Vec<u8> = Vec::new();
    {
        let mut write = |b: &[u8]| out.write(b);
        blob.pieces(&mut |mut p| {
            if !carry.is_empty() {
                let take = (BASE64_BLOCK - carry.len()).min(p.len());
                let (head, rest) = p.split_at(take);
                carry.extend_from_slice(head);
                p = rest;
                if carry.len() < BASE64_BLOCK {
                    return Ok(());
                }
                encode(&carry, &mut write);
                carry.clear();
            }
            let mut blocks = p.chunks_exact(BASE64_BLOCK);
            for b in &mut blocks {
                encode(b, &mut write);
            }
            carry.extend_from_slice(blocks.remainder());
            Ok(())
        })?;
        if !carry.is_empty() {
            encode(&carry, &mut write);
        }
    }
    Ok(())
}

fn write_headers(message: &Message, identity: &[u8; 32], out: &mut impl Writer) {
    let mut original_b64 = None;
    if let Some(raw) = message.headers.as_deref().filter(|h| !h.trim().is_empty()) {
        match sane_header_fields(raw) {
            Some(fields) => {
                for f in fields {
                    out.write(f.as_bytes());
                    out.write(b"\r\n");
                }
            }
            None => {
                original_b64 = Some(base64::engine::general_purpose::STANDARD.encode(raw));
            }
        }
    }

    let source_mid = message.ids.message_id.as_deref().map(strip_angles);
    match source_mid.filter(|m| valid_msg_id(m)) {
        Some(mid) => put_header(out, "Message-ID", MessageId::new(mid.to_string())),
        None => {
            let mid = format!("mailmig.{}@mailmig.invalid", &hex_lower(identity)[..32]);
            put_header(out, "Message-ID", MessageId::new(mid));
        }
    }
    if let Some(date) = message.sent.or(message.received) {
        put_header(out, "Date", Raw::new(date.to_rfc5322()));
    }
    if let Some(a) = message.from.as_ref().and_then(mb_address) {
        put_header(out, "From", a);
    }
    if let Some(a) = message.sender.as_ref().and_then(mb_address) {
        put_header(out, "Sender", a);
    }
    for (name, list) in [
        ("To", &message.to),
        ("Cc", &message.cc),
        ("Bcc", &message.bcc),
        ("Reply-To", &message.reply_to),
    ] {
        let items: Vec<MbAddress<'static>> = list.iter().filter_map(mb_address).collect();
        match items.len() {
            0 => {}
            1 => {
                if let Some(one) = items.into_iter().next() {
                    put_header(out, name, one);
                }
            }
            _ => put_header(out, name, MbAddress::new_list(items)),
        }
    }
    if let Some(subject) = &message.subject {
        put_header(out, "Subject", Text::new(clean_text(subject).into_owned()));
    }
    match message.priority {
        Priority::High => {
            put_header(out, "X-Priority", Raw::new("1 (Highest)"));
            put_header(out, "Importance", Raw::new("high"));
        }
        Priority::Low => {
            put_header(out, "X-Priority", Raw::new("5 (Lowest)"));
            put_header(out, "Importance", Raw::new("low"));
        }
        Priority::Normal => {}
    }
    if let (Some(_), Some(received)) = (message.sent, message.received) {
        put_header(
            out,
            "X-Mailmig-Received-Date",
            Raw::new(received.to_rfc5322()),
        );
    }
    if message.class.0 != "IPM.Note" && !message.class.0.is_empty() {
        put_header(
            out,
            "X-Mailmig-Message-Class",
            Text::new(clean_text(&message.class.0).into_owned()),
        );
    }
    if let Some(mid) = source_mid.filter(|m| !valid_msg_id(m)) {
        put_header(
            out,
            "X-Mailmig-Original-Message-Id",
            Text::new(clean_text(mid).into_owned()),
        );
    }
    write_id_headers(&message.ids, out);
    if let Some(folder) = &message.folder {
        put_header(
            out,
            "X-Mailmig-Folder-Id",
            Text::new(clean_text(folder).into_owned()),
        );
    }
    if let Some(b64) = original_b64 {
        out.write(b"X-Mailmig-Original-Headers:");
        for chunk in b64.as_bytes().chunks(76) {
            out.write(b"\r\n ");
            out.write(chunk);
        }
        out.write(b"\r\n");
    }
    out.write(b"MIME-Version: 1.0\r\n");
}

fn write_id_headers(ids: &SourceIds, out: &mut impl Writer) {
    for (name, value) in id_headers(ids) {
        put_header_ref(out, name, &value);
    }
}

fn id_headers(ids: &SourceIds) -> Vec<(&'static str, HeaderType<'static>)> {
    let mut v: Vec<(&'static str, HeaderType<'static>)> = Vec::new();
    if let Some(n) = &ids.native {
        v.push((
            "X-Mailmig-Source-Id",
            Text::new(clean_text(n).into_owned()).into(),
        ));
    }
    for (name, blob) in [
        ("X-Mailmig-Entry-Id", &ids.entry_id),
        ("X-Mailmig-Record-Key", &ids.record_key),
        ("X-Mailmig-Search-Key", &ids.search_key),
    ] {
        if let Some(b) = blob {
            v.push((name, Raw::new(hex_upper(b.as_bytes())).into()));
        }
    }
    if let Some(f) = &ids.file {
        v.push((
            "X-Mailmig-Source-File",
            Text::new(clean_text(f).into_owned()).into(),
        ));
    }
    if let Some(o) = ids.offset {
        v.push(("X-Mailmig-Source-Offset", Raw::new(o.to_string()).into()));
    }
    v
}

/// Removes control characters (CR, LF, NUL…) that have no place in a header value.
fn clean_text(s: &str) -> Cow<'_, str> {
    if s.chars().any(|c| c.is_control() && c != '\t') {
        Cow::Owned(
            s.chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(s)
    }
}

fn strip_angles(s: &str) -> &str {
    let t = s.trim();
    t.strip_prefix('<')
        .and_then(|x| x.strip_suffix('>'))
        .unwrap_or(t)
}

/// RFC 5322 §3.6.4 `msg-id` without brackets, restricted to the dot-atom / no-fold-literal
/// forms readers accept: printable ASCII, no white space or brackets, exactly one `@` with
/// something on both sides, at most 900 bytes.
fn valid_msg_id(s: &str) -> bool {
    let mut parts = s.split('@');
    let (Some(left), Some(right), None) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    !left.is_empty()
        && !right.is_empty()
        && s.len() <= 900
        && s.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"<>\"\\(),;:".contains(&b))
}

/// RFC 5322 `atext` minus `+` (the escape character of IMCEA).
fn imcea_keeps(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*-/=?^_`{|}~".contains(&b)
}

/// `IMCEA<TYPE>-<escaped address>@mailmig.invalid` for an address with no Internet form.
pub fn imcea_address(addr_type: &str, address: &str) -> String {
    let ty: String = addr_type
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_uppercase())
        .collect();
    let ty = if ty.is_empty() { "UNKNOWN".into() } else { ty };
    let mut s = format!("IMCEA{ty}-");
    for &b in address.as_bytes() {
        if imcea_keeps(b) {
            s.push(char::from(b));
        } else {
            let _ = write!(s, "+{b:02X}");
        }
    }
    s.push_str("@mailmig.invalid");
    s
}

/// True when `a` can be written between angle brackets as is.
fn clean_internet_address(a: &str) -> bool {
    a.len() <= 900
        && a.bytes()
            .all(|b| (0x21..=0x7e).contains(&b) && !b"<>()[],;:\\\"".contains(&b))
        && a.matches('@').count() == 1
        && !a.starts_with('@')
        && !a.ends_with('@')
}

fn mb_address(a: &Address) -> Option<MbAddress<'static>> {
    let name = a
        .name
        .as_deref()
        .map(|n| clean_text(n).trim().to_string())
        .filter(|n| !n.is_empty());
    let email = match a.internet_address().filter(|e| clean_internet_address(e)) {
        Some(e) => Some(e.to_string()),
        None => a
            .address
            .as_deref()
            .or(a.smtp.as_deref())
            .filter(|x| !x.trim().is_empty())
            .map(|x| imcea_address(a.addr_type.as_deref().unwrap_or("UNKNOWN"), x.trim())),
    };
    match (name, email) {
        (name, Some(email)) => Some(MbAddress::new_address(name, email)),
        (Some(name), None) => Some(MbAddress::new_group(Some(name), Vec::new())),
        (None, None) => None,
    }
}

/// Splits a raw header block into fields and returns the ones to keep, or `None` when the
/// block is not sane (see the module docs).
fn sane_header_fields(raw: &str) -> Option<Vec<String>> {
    if raw.len() > MAX_RAW_HEADER_BYTES {
        return None;
    }
    let mut fields: Vec<String> = Vec::new();
    let mut ended = false;
    for line in raw.split('\n') {
        let line = line.strip_suffix('\r').unwrap_or(line);
        if line.is_empty() {
            ended = true;
            continue;
        }
        if ended
            || line.len() > 998
            || !line
                .bytes()
                .all(|b| b == b'\t' || (0x20..=0x7e).contains(&b))
        {
            return None;
        }
        if line.starts_with([' ', '\t']) {
            let last = fields.last_mut()?;
            last.push_str("\r\n");
            last.push_str(line);
        } else {
            let (name, _) = line.split_once(':')?;
            if name.is_empty() || !name.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
                return None;
            }
            fields.push(line.to_string());
        }
    }
    Some(
        fields
            .into_iter()
            .filter(|f| {
                let name = f.split(':').next().unwrap_or("").to_ascii_lowercase();
                !(GENERATED.contains(&name.as_str())
                    || name.starts_with("content-")
                    || name.starts_with("x-mailmig-"))
            })
            .collect(),
    )
}

/// Header fields the renderer writes itself (lower case).
const GENERATED: &[&str] = &[
    "message-id",
    "date",
    "from",
    "sender",
    "to",
    "cc",
    "bcc",
    "reply-to",
    "subject",
    "x-priority",
    "importance",
    "mime-version",
    "status",
    "x-status",
];

/// Hands out the message's multipart boundaries.
struct Boundaries<'a> {
    base: String,
    next: u32,
    avoid: Vec<&'a [u8]>,
}

impl Boundaries<'_> {
    fn next(&mut self) -> Result<String, SinkError> {
        for salt in 0..1000u32 {
            let candidate = if salt == 0 {
                format!("{}_{}", self.base, self.next)
            } else {
                format!("{}_{}_{salt}", self.base, self.next)
            };
            let finder = memchr::memmem::Finder::new(candidate.as_bytes());
            if !self.avoid.iter().any(|hay| finder.find(hay).is_some()) {
                self.next += 1;
                return Ok(candidate);
            }
        }
        Err(SinkError::Other(
            "no MIME boundary found that is absent from the content".into(),
        ))
    }

    fn multipart<'x>(
        &mut self,
        subtype: &str,
        parts: Vec<Part<'x>>,
    ) -> Result<Part<'x>, SinkError> {
        let boundary = self.next()?;
        let ct = ContentType::new(format!("multipart/{subtype}"))
            .attribute("boundary", boundary.clone());
        Ok(Part::Multipart(ct, boundary, parts))
    }
}

fn text_part<'x>(subtype: &str, text: &'x str) -> MimePart<'x> {
    MimePart::new(
        ContentType::new(format!("text/{subtype}")).attribute("charset", "utf-8"),
        BodyPart::Text(Cow::Borrowed(text)),
    )
}

/// Base64 in lines of 76 characters (57 input bytes) joined by CRLF, without a final CRLF
/// (RFC 2045 §6.8). Encoded by `encodify`'s SIMD kernels, chosen at run time.
fn base64_lines(data: &[u8]) -> String {
    let mut out = encodify::base64::MIME.encode(data);
    if out.ends_with("\r\n") {
        out.truncate(out.len() - 2);
    }
    out
}

/// A MIME type that is `token/token` (RFC 2045 §5.1), lower-cased; else `None`.
fn clean_mime_type(t: &str) -> Option<String> {
    let t = t.trim();
    let (a, b) = t.split_once('/')?;
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|c| (0x21..=0x7e).contains(&c) && !b"()<>@,;:\\\"/[]?=".contains(&c))
    };
    (token(a) && token(b)).then(|| t.to_ascii_lowercase())
}

fn attachment_part<'x>(att: &'x Attachment, embedded: &'x Embedded<'x>, mode: Mode) -> Part<'x> {
    let name = att.name.as_deref().map(clean_text).map(|n| n.into_owned());
    let disposition = || {
        let d = ContentType::new(if att.inline { "inline" } else { "attachment" }.to_string());
        match &name {
            Some(n) if !n.is_empty() => d.attribute("filename", n.clone()),
            _ => d,
        }
    };
    let mut streamed = false;
    let mut pieces = None;
    let mut direct = None;
    let is_message = !matches!(embedded, Embedded::None);
    let rfc822 = |bytes: &'x [u8]| {
        MimePart::new(
            ContentType::new("message/rfc822"),
            BodyPart::Binary(Cow::Borrowed(bytes)),
        )
        .header("Content-Disposition", disposition())
    };
    let mut part = match (&att.content, embedded) {
        (AttachmentContent::Message(_), Embedded::Rendered(bytes)) => rfc822(bytes),
        (AttachmentContent::Message(_), Embedded::Direct(m, id, depth)) => {
            direct = Some((*m, *id, *depth));
            rfc822(&[])
        }
        (AttachmentContent::Message(_), Embedded::Skipped) => rfc822(&[]),
        (AttachmentContent::Data(blob), _) => {
            let default = match att.kind {
                AttachmentKind::MacBinary => "application/macbinary",
                _ => "application/octet-stream",
            };
            let ty = att
                .mime_type
                .as_deref()
                .and_then(clean_mime_type)
                .unwrap_or_else(|| default.to_string());
            // mail_builder base64-encodes a binary body of a non-text type as it writes it, in
            // pieces: the encoded attachment never exists whole in memory. A text/* body would
            // be re-encoded by it (quoted-printable, line ends normalised), so text types keep
            // their bytes exact through base64 done here, with the encoding named explicitly.
            streamed = !ty.starts_with("text/");
            let mut ct = ContentType::new(ty);
            if let Some(n) = name.as_ref().filter(|n| !n.is_empty()) {
                ct = ct.attribute("name", n.clone());
            }
            // A blob read in pieces is encoded as it is read, after the part's headers; the
            // bytes are the same.
            let body = match (blob.is_streamed(), streamed) {
                // Scanning: base64 cannot hold a boundary prefix.
                _ if mode == Mode::Scan => BodyPart::Binary(Cow::Borrowed(&[][..])),
                (true, true) => {
                    pieces = Some((blob, Base64Lines::Terminated));
                    BodyPart::Binary(Cow::Borrowed(&[][..]))
                }
                (true, false) => {
                    pieces = Some((blob, Base64Lines::Joined));
                    BodyPart::Text(Cow::Borrowed(""))
                }
                (false, true) => BodyPart::Binary(Cow::Borrowed(blob.as_bytes())),
                (false, false) => BodyPart::Text(Cow::Owned(base64_lines(blob.as_bytes()))),
            };
            MimePart::new(ct, body).header("Content-Disposition", disposition())
        }
        _ => MimePart::new(
            ContentType::new("application/octet-stream"),
            BodyPart::Text(Cow::Borrowed("")),
        )
        .header("Content-Disposition", disposition())
        .header("X-Mailmig-Attachment-Content", Raw::new("none")),
    };
    if let Some(cid) = att.content_id.as_deref().map(strip_angles).filter(|c| {
        !c.is_empty()
            && c.bytes()
                .all(|b| (0x21..=0x7e).contains(&b) && b != b'<' && b != b'>')
    }) {
        part = part.header("Content-ID", MessageId::new(cid.to_string()));
    }
    for (n, v) in id_headers(&att.ids) {
        part = part.header(n, v);
    }
    if !streamed {
        let cte = match &att.content {
            AttachmentContent::Message(_) if is_message => "7bit",
            AttachmentContent::Data(_) => "base64",
            _ => "7bit",
        };
        // Otherwise mail_builder writes `Content-Transfer-Encoding: base64` itself, after
        // these headers.
        part = part.transfer_encoding(cte);
    }
    match (pieces, direct) {
        (Some((blob, lines)), _) => Part::Streamed(part, blob, lines),
        (None, Some((m, id, depth))) => Part::Embedded(part, m, id, depth),
        (None, None) => Part::Mime(part),
    }
}

fn build_body<'x>(
    message: &'x Message,
    identity: &[u8; 32],
    embedded: &'x [Embedded<'x>],
    mode: Mode,
) -> Result<Part<'x>, SinkError> {
    let body = &message.body;
    let mut avoid: Vec<&[u8]> = Vec::new();
    if let Some(t) = &body.text {
        avoid.push(t.as_bytes());
    }
    if let Some(h) = &body.html {
        avoid.push(h.as_bytes());
    }
    avoid.extend(embedded.iter().filter_map(|e| match e {
        Embedded::Rendered(bytes) => Some(bytes.as_slice()),
        _ => None,
    }));
    let mut bnd = Boundaries {
        base: boundary_base(identity),
        next: 0,
        avoid,
    };

    let text = body
        .text
        .as_deref()
        .map(|t| Part::Mime(text_part("plain", t)));
    let html = body
        .html
        .as_deref()
        .map(|h| Part::Mime(text_part("html", h)));
    let has_html = html.is_some();
    let alternative = match (text, html) {
        (Some(t), Some(h)) => Some(bnd.multipart("alternative", vec![t, h])?),
        (Some(t), None) => Some(t),
        (None, Some(h)) => Some(h),
        (None, None) => None,
    };

    let mut related = Vec::new();
    let mut mixed = Vec::new();
    for (i, att) in message.attachments.iter().enumerate() {
        let part = attachment_part(att, embedded.get(i).unwrap_or(&Embedded::None), mode);
        let is_related = has_html
            && att.inline
            && att.content_id.is_some()
            && matches!(att.content, AttachmentContent::Data(_));
        if is_related {
            related.push(part);
        } else {
            mixed.push(part);
        }
    }
    if let (None, Some(rtf)) = (&body.html, &body.rtf) {
        // Not a text/* type: mail_builder base64-encodes it as it writes it, in pieces.
        mixed.push(Part::Mime(
            MimePart::new(
                ContentType::new("application/rtf").attribute("name", "body.rtf"),
                BodyPart::Binary(Cow::Borrowed(if mode == Mode::Scan {
                    &[][..]
                } else {
                    rtf.as_bytes()
                })),
            )
            .header(
                "Content-Disposition",
                ContentType::new("attachment").attribute("filename", "body.rtf"),
            ),
        ));
    }

    let main = match (alternative, related.is_empty()) {
        (Some(alt), false) => {
            let mut parts = Vec::with_capacity(related.len() + 1);
            parts.push(alt);
            parts.extend(related);
            Some(bnd.multipart("related", parts)?)
        }
        (alt, _) => {
            mixed.extend(related);
            alt
        }
    };
    Ok(match (main, mixed.is_empty()) {
        (Some(m), true) => m,
        (None, true) => Part::Mime(text_part("plain", "")),
        (main, false) => {
            let mut parts = Vec::with_capacity(mixed.len() + 1);
            parts.extend(main);
            parts.extend(mixed);
            bnd.multipart("mixed", parts)?
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailmig_ir::{Blob, Bodies};

    fn place() -> MessagePlace<'static> {
        MessagePlace {
            mailbox_key: "u1",
            seq: 0,
        }
    }

    fn text(m: &Message) -> String {
        let r = render_message(m, place()).unwrap();
        String::from_utf8(r.bytes).unwrap()
    }

    #[test]
    fn imcea_escapes_everything_outside_atext() {
        assert_eq!(
            imcea_address("ccmail", "John Smith at HQ"),
            "IMCEACCMAIL-John+20Smith+20at+20HQ@mailmig.invalid"
        );
        assert_eq!(
            imcea_address("EX", "/O=ORG/CN=J.S+x"),
            "IMCEAEX-/O=ORG/CN=J+2ES+2Bx@mailmig.invalid"
        );
        assert_eq!(
            imcea_address("", "ü"),
            "IMCEAUNKNOWN-+C3+BC@mailmig.invalid"
        );
    }

    #[test]
    fn derived_message_id_is_stable_and_depends_on_ids_and_mailbox() {
        let m = Message {
            ids: SourceIds {
                native: Some("0x00200024".into()),
                ..SourceIds::default()
            },
            ..Message::default()
        };
        let a = text(&m);
        assert_eq!(a, text(&m));
        assert!(a.contains("Message-ID: <mailmig."));
        let other_box = render_message(
            &m,
            MessagePlace {
                mailbox_key: "u2",
                seq: 0,
            },
        )
        .unwrap();
        assert_ne!(a.as_bytes(), &other_box.bytes[..]);
        let given = Message {
            ids: SourceIds {
                message_id: Some("<abc@example.com>".into()),
                ..SourceIds::default()
            },
            ..Message::default()
        };
        assert!(text(&given).contains("Message-ID: <abc@example.com>\r\n"));
        let bad = Message {
            ids: SourceIds {
                message_id: Some("no at sign".into()),
                ..SourceIds::default()
            },
            ..Message::default()
        };
        let t = text(&bad);
        assert!(t.contains("Message-ID: <mailmig."));
        assert!(t.contains("X-Mailmig-Original-Message-Id: no at sign\r\n"));
    }

    #[test]
    fn unknown_zone_date_is_minus_0000_and_missing_date_is_omitted() {
        let m = Message {
            sent: "1999-03-14T09:05:00".parse().ok(),
            ..Message::default()
        };
        assert!(text(&m).contains("Date: Sun, 14 Mar 1999 09:05:00 -0000\r\n"));
        assert!(!text(&Message::default()).contains("Date:"));
    }

    #[test]
    fn native_addresses_become_imcea_and_name_only_becomes_group() {
        let m = Message {
            from: Some(Address::native(
                Some("John Smith"),
                "CCMAIL",
                "John Smith at HQ",
            )),
            to: vec![
                Address::smtp(Some("Ann"), "ann@example.com"),
                Address {
                    name: Some("Nobody".into()),
                    ..Address::default()
                },
            ],
            ..Message::default()
        };
        let t = text(&m);
        assert!(
            t.contains("From: \"John Smith\" <IMCEACCMAIL-John+20Smith+20at+20HQ@mailmig.invalid>")
                || t.contains(
                    "From: John Smith <IMCEACCMAIL-John+20Smith+20at+20HQ@mailmig.invalid>"
                ),
            "{t}"
        );
        assert!(t.contains("<ann@example.com>"), "{t}");
        assert!(t.contains("\"Nobody\":;"), "{t}");
    }

    #[test]
    fn sane_raw_headers_lead_and_generated_ones_are_dropped() {
        let m = Message {
            subject: Some("IR subject".into()),
            headers: Some(
                "Received: from a\r\n\tby b; Mon, 1 Jan 2001 00:00:00 +0000\r\nSubject: old\r\nContent-Type: text/plain\r\nX-Custom: yes\r\n\r\n"
                    .into(),
            ),
            ..Message::default()
        };
        let t = text(&m);
        assert!(
            t.starts_with(
                "Received: from a\r\n\tby b; Mon, 1 Jan 2001 00:00:00 +0000\r\nX-Custom: yes\r\n"
            ),
            "{t}"
        );
        assert!(!t.contains("Subject: old"));
        assert!(t.contains("Subject: IR subject"));
        assert_eq!(t.matches("Content-Type:").count(), 1);
    }

    #[test]
    fn insane_raw_headers_are_kept_as_base64() {
        let raw = "From nobody\r\nnot a header\r\n";
        let m = Message {
            headers: Some(raw.into()),
            ..Message::default()
        };
        let t = text(&m);
        assert!(!t.starts_with("From nobody"));
        let start = t.find("X-Mailmig-Original-Headers:").unwrap();
        let rest = &t[start + "X-Mailmig-Original-Headers:".len()..];
        let end = rest.find("\r\nMIME-Version").unwrap();
        let b64: String = rest[..end].split_whitespace().collect();
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        assert_eq!(decoded, raw.as_bytes());
    }

    #[test]
    fn boundaries_are_fixed_and_avoid_body_content() {
        let m = Message {
            body: Bodies {
                text: Some("hello".into()),
                html: Some("<p>hello</p>".into()),
                ..Bodies::default()
            },
            ..Message::default()
        };
        let r = render_message(&m, place()).unwrap();
        let b = format!("=_mm{}_0", r.identity_hex(24));
        let t = String::from_utf8(r.bytes).unwrap();
        assert!(t.contains(&format!("boundary=\"{b}\"")), "{t}");
        // A body that contains the boundary forces a salted one.
        let m2 = Message {
            body: Bodies {
                text: Some(format!("--{b}\r\n")),
                html: Some("<p>x</p>".into()),
                ..Bodies::default()
            },
            ..m
        };
        let t2 = text(&m2);
        assert!(t2.contains(&format!("boundary=\"{b}_1\"")), "{t2}");
    }

    #[test]
    fn base64_lines_are_57_byte_chunks_joined_by_crlf() {
        let data: Vec<u8> = (0..400u32).map(|i| (i * 97 % 251) as u8).collect();
        for n in (0..=200).chain([228, 285, 400]) {
            let want = data[..n]
                .chunks(57)
                .map(|c| base64::engine::general_purpose::STANDARD.encode(c))
                .collect::<Vec<_>>()
                .join("\r\n");
            assert_eq!(base64_lines(&data[..n]), want, "{n} bytes");
        }
    }

    #[test]
    fn attachment_bytes_are_base64_and_ids_are_written() {
        let data: Vec<u8> = (0..=255u8).collect();
        let m = Message {
            ids: SourceIds {
                native: Some("n1".into()),
                entry_id: Some(Blob::from_vec(vec![0, 0xAB])),
                record_key: Some(Blob::from_vec(vec![1])),
                search_key: Some(Blob::from_vec(vec![2])),
                offset: Some(77),
                file: Some("a.pst".into()),
                ..SourceIds::default()
            },
            folder: Some("f1".into()),
            attachments: vec![Attachment {
                name: Some("bytes.bin".into()),
                content: AttachmentContent::Data(Blob::from_vec(data.clone())),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        let t = text(&m);
        for h in [
            "X-Mailmig-Source-Id: n1\r\n",
            "X-Mailmig-Entry-Id: 00AB\r\n",
            "X-Mailmig-Record-Key: 01\r\n",
            "X-Mailmig-Search-Key: 02\r\n",
            "X-Mailmig-Source-File: a.pst\r\n",
            "X-Mailmig-Source-Offset: 77\r\n",
            "X-Mailmig-Folder-Id: f1\r\n",
        ] {
            assert!(t.contains(h), "{h} missing in {t}");
        }
        let enc = base64::engine::general_purpose::STANDARD.encode(&data[..57]);
        assert!(t.contains(&enc));
        assert!(t.is_ascii());
    }

    /// Gives `bytes` in pieces of `step` bytes, as a reader that decodes block by block.
    struct Pieces {
        bytes: Vec<u8>,
        step: usize,
    }

    impl mailmig_ir::blob::PieceSource for Pieces {
        fn len(&self) -> usize {
            self.bytes.len()
        }
        fn pieces(
            &self,
            piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            self.bytes.chunks(self.step.max(1)).try_for_each(piece)
        }
    }

    fn with_attachments(blobs: impl Fn(&[u8]) -> Blob, sizes: &[usize]) -> Message {
        let mut m = Message {
            subject: Some("pieces".into()),
            body: Bodies {
                text: Some("body".into()),
                html: Some("<p>body</p>".into()),
                ..Bodies::default()
            },
            ..Message::default()
        };
        for (i, &n) in sizes.iter().enumerate() {
            let data: Vec<u8> = (0..n).map(|k| (k * 31 + i) as u8).collect();
            m.attachments.push(Attachment {
                name: Some(format!("a{i}.bin")),
                // Text types are base64-encoded here, the others by mail_builder.
                mime_type: Some(
                    if i % 2 == 0 {
                        "application/pdf"
                    } else {
                        "text/plain"
                    }
                    .into(),
                ),
                content_id: (i == 3).then(|| "cid3".into()),
                inline: i == 3,
                content: AttachmentContent::Data(blobs(&data)),
                ..Attachment::default()
            });
        }
        m
    }

    #[test]
    fn streamed_attachments_render_the_bytes_of_whole_ones() {
        let sizes = [
            0,
            1,
            56,
            57,
            58,
            BASE64_BLOCK - 1,
            BASE64_BLOCK,
            BASE64_BLOCK + 1,
            3 * BASE64_BLOCK + 5,
        ];
        let whole = text(&with_attachments(|d| Blob::from_vec(d.to_vec()), &sizes));
        for step in [1000, 7, BASE64_BLOCK + 3, 1 << 20] {
            let m = with_attachments(
                |d| {
                    Blob::streamed(std::sync::Arc::new(Pieces {
                        bytes: d.to_vec(),
                        step,
                    }))
                },
                &sizes,
            );
            assert!(
                m.attachments
                    .iter()
                    .all(|a| a.data().is_some_and(Blob::is_streamed))
            );
            assert!(
                text(&m) == whole,
                "pieces of {step} bytes render differently"
            );
            // Rendering read the blobs in pieces; none was collected whole.
            assert!(
                m.attachments
                    .iter()
                    .all(|a| a.data().is_some_and(Blob::is_streamed))
            );
        }
    }

    /// A message with `text` as body, one attachment and the given embedded messages.
    fn nested(text: &str, inner: Vec<Message>) -> Message {
        let mut m = with_attachments(|d| Blob::from_vec(d.to_vec()), &[100]);
        m.body.text = Some(text.into());
        for (i, e) in inner.into_iter().enumerate() {
            m.attachments.push(Attachment {
                kind: AttachmentKind::EmbeddedMessage,
                name: Some(format!("inner {i}")),
                content: AttachmentContent::Message(Box::new(e)),
                ..Attachment::default()
            });
        }
        m
    }

    /// Renders with every embedded message rendered into memory first (the old way).
    fn in_memory(m: &Message, identity: &[u8; 32]) -> Vec<u8> {
        fn keys(m: &Message, out: &mut std::collections::HashSet<usize>) {
            out.insert(message_key(m));
            for a in &m.attachments {
                if let AttachmentContent::Message(e) = &a.content {
                    keys(e, out);
                }
            }
        }
        let mut plan = Plan::default();
        keys(m, &mut plan.in_memory);
        let mut out = Vec::new();
        write_message(m, identity, 0, &mut out, &plan, Mode::Write).unwrap();
        out
    }

    #[test]
    fn embedded_messages_are_written_directly_as_they_were_rendered() {
        let m = nested(
            "top",
            vec![
                nested("one", vec![nested("one.one", vec![])]),
                nested("two", vec![]),
            ],
        );
        let id = [7u8; 32];
        assert!(plan(&m, &id).unwrap().in_memory.is_empty());
        let mut direct = Vec::new();
        render_with_identity_to(&m, &id, &mut direct).unwrap();
        assert!(direct == in_memory(&m, &id));
        assert_eq!(
            String::from_utf8_lossy(&direct)
                .matches("message/rfc822")
                .count(),
            3
        );
    }

    #[test]
    fn an_embedded_message_holding_a_boundary_prefix_is_rendered_first() {
        let id = [7u8; 32];
        let top = boundary_base(&id);
        // Two levels down: the prefix of the top message, in a grandchild's body.
        let m = nested(
            "top",
            vec![nested("one", vec![nested(&format!("x {top}_0 y"), vec![])])],
        );
        let p = plan(&m, &id).unwrap();
        assert!(p.in_memory.contains(&message_key(&m)));
        assert_eq!(p.in_memory.len(), 1, "only the top message's prefix occurs");
        let mut out = Vec::new();
        render_with_identity_to(&m, &id, &mut out).unwrap();
        assert!(out == in_memory(&m, &id));
        let text = String::from_utf8_lossy(&out);
        // The top message's first boundary is salted: the embedded text holds the plain one.
        let bounds: Vec<&str> = text
            .split("boundary=\"")
            .skip(1)
            .filter_map(|t| t.split('"').next())
            .collect();
        let plain = format!("{top}_0");
        assert!(!bounds.contains(&plain.as_str()), "{bounds:?}");
        assert!(
            bounds.iter().any(|b| b.starts_with(&format!("{plain}_"))),
            "{bounds:?}"
        );
        // A prefix split over two writes is found too.
        let mut scan = Scan::default();
        scan.watch.push((1, top.clone().into_bytes()));
        let (a, b) = top.split_at(10);
        scan.write(a.as_bytes());
        scan.write(b.as_bytes());
        assert!(scan.found.contains(&1));
    }

    #[test]
    fn a_streamed_attachment_that_fails_fails_the_message() {
        use mailmig_ir::synth::BrokenPieces;
        let m = Message {
            attachments: vec![Attachment {
                content: AttachmentContent::Data(Blob::streamed(std::sync::Arc::new(BrokenPieces))),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        let e = render_message(&m, place()).err().map(|e| e.to_string());
        assert!(
            e.as_deref().is_some_and(|e| e.contains("input changed")),
            "{e:?}"
        );
    }

    #[test]
    fn embedding_deeper_than_the_limit_is_unrepresentable() {
        let mut m = Message::default();
        for _ in 0..=MAX_EMBEDDING_DEPTH + 1 {
            m = Message {
                attachments: vec![Attachment {
                    kind: AttachmentKind::EmbeddedMessage,
                    content: AttachmentContent::Message(Box::new(m)),
                    ..Attachment::default()
                }],
                ..Message::default()
            };
        }
        assert!(matches!(
            render_message(&m, place()),
            Err(SinkError::Unrepresentable(_))
        ));
    }
}
