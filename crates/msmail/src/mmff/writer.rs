//! The MMFF writer (`msmail.md` §10.5 "Writer rules", **[I]**) and the normalisation that
//! describes exactly what a write → read round trip keeps.
//!
//! Output per message: `VERSION:3.00` (or `mmff:version`), one `TO:` per recipient (basic
//! format: Cc and Bcc folded into `TO:`; extended format: `CC:` lines, Bcc folded into `TO:`),
//! `FROM:`, `DATE:`/`TIME:` (`hh:mm`, the wall-clock time as stored), `SUBJECT:`, `PRIORITY:`,
//! unknown tokens, `EXT:` fields, one `ATTACHMENTS:` (or `XATTACH:` for data-less external
//! attachments) per attachment, `TEXT:<size>`, the body, then each attachment's data. Text is
//! encoded in the chosen OEM code page (unrepresentable characters become `?`); every size
//! counts the encoded bytes including the line terminators.

use mailmig_ir::codepage;
use mailmig_ir::{
    Address, Attachment, AttachmentContent, Blob, Message, Priority, PropValue, Property, Timestamp,
};

use super::LineEnd;
use super::address::{parse_address, render_parts};

/// How to write MMFF.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WriterOptions {
    /// OEM code page of the text (default 850).
    pub code_page: u16,
    /// Line terminator (`-F0` CR, the FFAPI default; `-F1` LF; `-F2` CR LF; KB Q85055).
    pub line_end: LineEnd,
    /// Write `CC:` lines (extended format, **[I]**) instead of folding Cc into `TO:`.
    pub extended: bool,
    /// Cut subjects to 63 characters for the Mail Connection PC-to-Mac path (KB Q117581).
    pub mac_subject_limit: bool,
    /// Deepest embedded message written as a nested MMFF attachment.
    pub max_embedding_depth: u32,
}

impl Default for WriterOptions {
    fn default() -> Self {
        Self {
            code_page: crate::codepage::DEFAULT_PO_CODE_PAGE,
            line_end: LineEnd::Cr,
            extended: false,
            mac_subject_limit: false,
            max_embedding_depth: 8,
        }
    }
}

/// Largest subject length on the Mail Connection 3.2 PC-to-Mac path (KB Q117581).
pub const MAC_SUBJECT_MAX: usize = 63;

fn one_line(s: &str) -> String {
    s.replace(['\r', '\n'], " ")
}

fn push_line(out: &mut Vec<u8>, text: &str, opts: &WriterOptions) {
    out.extend_from_slice(&codepage::encode_lossy(&one_line(text), opts.code_page));
    out.extend_from_slice(opts.line_end.bytes());
}

fn body_bytes(text: &str, opts: &WriterOptions) -> Vec<u8> {
    let norm = super::reader::normalise_newlines(text);
    let enc = codepage::encode_lossy(&norm, opts.code_page);
    if opts.line_end == LineEnd::Lf {
        return enc;
    }
    let mut out = Vec::with_capacity(enc.len() + enc.len() / 16);
    for b in enc {
        if b == b'\n' {
            out.extend_from_slice(opts.line_end.bytes());
        } else {
            out.push(b);
        }
    }
    out
}

fn text_prop<'a>(props: &'a [Property], name: &str) -> Option<&'a str> {
    props.iter().find_map(|p| match (&p.name, &p.value) {
        (n, PropValue::Text(t)) if n == name => Some(t.as_str()),
        _ => None,
    })
}

fn subject_text(s: &str, opts: &WriterOptions) -> String {
    let s = one_line(s);
    if opts.mac_subject_limit && s.chars().count() > MAC_SUBJECT_MAX {
        s.chars().take(MAC_SUBJECT_MAX).collect()
    } else {
        s
    }
}

/// What the writer had to change or leave out, for the caller to log or report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WriteNotes {
    /// Human-readable notes (folded Cc, dropped properties, truncated subject …).
    pub notes: Vec<String>,
}

/// Appends one message in MMFF to `out`.
pub fn write_message(msg: &Message, opts: &WriterOptions, out: &mut Vec<u8>) -> WriteNotes {
    write_at_depth(msg, opts, out, 0)
}

/// Writes one message in MMFF to `out` and returns the notes with the number of bytes
/// written. The header and text are rendered first; each attachment's data then goes to `out`
/// from its [`Blob`] as it is read, so a large or streamed attachment is never copied whole.
/// Should a streamed attachment's source fail (the input changed under the run), the error is
/// returned and the message is incomplete.
pub fn write_message_to(
    msg: &Message,
    opts: &WriterOptions,
    out: &mut dyn std::io::Write,
) -> std::io::Result<(WriteNotes, u64)> {
    let mut head = Vec::new();
    let (notes, datas) = lay_out(msg, opts, &mut head, 0);
    let message = Data::Message { head, datas };
    message.write_to(out)?;
    Ok((notes, message.len() as u64))
}

/// An attachment's data after the text: an attachment's own bytes, or an embedded message
/// written as MMFF (its header and text, then its own attachments' data), nested no deeper
/// than [`WriterOptions::max_embedding_depth`].
enum Data {
    Blob(Blob),
    Message { head: Vec<u8>, datas: Vec<Data> },
}

impl Data {
    fn len(&self) -> usize {
        match self {
            Data::Blob(b) => b.len(),
            Data::Message { head, datas } => {
                head.len() + datas.iter().map(Data::len).sum::<usize>()
            }
        }
    }

    /// Writes the bytes, a blob's piece by piece.
    fn write_to(&self, out: &mut dyn std::io::Write) -> std::io::Result<()> {
        match self {
            Data::Blob(b) => b.pieces(&mut |p| out.write_all(p)),
            Data::Message { head, datas } => {
                out.write_all(head)?;
                datas.iter().try_for_each(|d| d.write_to(out))
            }
        }
    }

    /// Appends the bytes to `out`, a blob's collected whole.
    fn append_to(&self, out: &mut Vec<u8>) {
        match self {
            Data::Blob(b) => out.extend_from_slice(b.as_bytes()),
            Data::Message { head, datas } => {
                out.extend_from_slice(head);
                datas.iter().for_each(|d| d.append_to(out));
            }
        }
    }
}

fn write_at_depth(
    msg: &Message,
    opts: &WriterOptions,
    out: &mut Vec<u8>,
    depth: u32,
) -> WriteNotes {
    let (notes, datas) = lay_out(msg, opts, out, depth);
    datas.iter().for_each(|d| d.append_to(out));
    notes
}

/// Appends the header lines and the text of `msg` to `out`; returns the notes and the
/// attachments' data, to follow the text in order.
fn lay_out(
    msg: &Message,
    opts: &WriterOptions,
    out: &mut Vec<u8>,
    depth: u32,
) -> (WriteNotes, Vec<Data>) {
    let mut notes = WriteNotes::default();
    let version = text_prop(&msg.properties, "mmff:version").unwrap_or("3.00");
    push_line(out, &format!("VERSION:{version}"), opts);
    let addr_line =
        |out: &mut Vec<u8>, tok: &str, a: &Address, notes: &mut WriteNotes| match render_parts(a) {
            Some((t, v)) => push_line(out, &format!("{tok}:{t}:{v}"), opts),
            None => notes
                .notes
                .push(format!("{tok} address without a value left out")),
        };
    for a in &msg.to {
        addr_line(out, "TO", a, &mut notes);
    }
    if opts.extended {
        for a in &msg.cc {
            addr_line(out, "CC", a, &mut notes);
        }
    } else if !msg.cc.is_empty() {
        notes
            .notes
            .push("basic MMFF has no Cc: Cc recipients written as TO:".into());
        for a in &msg.cc {
            addr_line(out, "TO", a, &mut notes);
        }
    }
    if !msg.bcc.is_empty() {
        notes
            .notes
            .push("MMFF has no Bcc: Bcc recipients written as TO:".into());
        for a in &msg.bcc {
            addr_line(out, "TO", a, &mut notes);
        }
    }
    if let Some(a) = &msg.from {
        addr_line(out, "FROM", a, &mut notes);
    }
    if let Some(ts) = &msg.sent.or(msg.received) {
        let d = ts.datetime;
        push_line(
            out,
            &format!(
                "DATE:{:04}-{:02}-{:02}",
                d.year(),
                u8::from(d.month()),
                d.day()
            ),
            opts,
        );
        push_line(
            out,
            &format!("TIME:{:02}:{:02}", d.hour(), d.minute()),
            opts,
        );
    } else {
        if let Some(d) = text_prop(&msg.properties, "mmff:date") {
            push_line(out, &format!("DATE:{d}"), opts);
        }
        if let Some(t) = text_prop(&msg.properties, "mmff:time") {
            push_line(out, &format!("TIME:{t}"), opts);
        }
    }
    if let Some(s) = &msg.subject {
        if opts.mac_subject_limit && s.chars().count() > MAC_SUBJECT_MAX {
            notes
                .notes
                .push(format!("subject cut to {MAC_SUBJECT_MAX} characters"));
        }
        push_line(out, &format!("SUBJECT:{}", subject_text(s, opts)), opts);
    }
    if text_prop(&msg.properties, "mmff:priority").is_none() {
        match msg.priority {
            Priority::High => push_line(out, "PRIORITY:HIGH", opts),
            Priority::Low => push_line(out, "PRIORITY:LOW", opts),
            Priority::Normal => {}
        }
    }
    // One pass in property order, so a read → write → read keeps the order of the lines.
    for p in &msg.properties {
        match (&p.value, p.name.strip_prefix("mmff:")) {
            (PropValue::Text(v), Some(rest)) => {
                if let Some(tok) = rest.strip_prefix("token:") {
                    push_line(out, &format!("{tok}:{v}"), opts);
                } else if let Some(ext) = rest.strip_prefix("ext:") {
                    push_line(out, &format!("EXT:{ext}"), opts);
                    push_line(out, v, opts);
                } else if rest == "priority" {
                    push_line(out, &format!("PRIORITY:{v}"), opts);
                } else if rest == "line" {
                    push_line(out, v, opts);
                }
            }
            (_, Some(_)) => {}
            (_, None) => notes
                .notes
                .push(format!("property {} has no MMFF form; left out", p.name)),
        }
    }
    let mut datas: Vec<Data> = Vec::new();
    for (i, a) in msg.attachments.iter().enumerate() {
        let name = attachment_name(a, i);
        match &a.content {
            AttachmentContent::Data(b) => {
                push_line(out, &format!("ATTACHMENTS:{name} {}", b.len()), opts);
                datas.push(Data::Blob(b.clone()));
            }
            AttachmentContent::Message(m) if depth < opts.max_embedding_depth => {
                let mut head = Vec::new();
                let (n, inner) = lay_out(m, opts, &mut head, depth + 1);
                notes.notes.extend(n.notes);
                notes.notes.push(format!(
                    "embedded message written as MMFF attachment {name}"
                ));
                let nested = Data::Message { head, datas: inner };
                push_line(out, &format!("ATTACHMENTS:{name} {}", nested.len()), opts);
                datas.push(nested);
            }
            AttachmentContent::Message(_) => notes.notes.push(format!(
                "embedded message {name} nested too deeply; left out"
            )),
            AttachmentContent::None => match text_prop(&a.properties, "mmff:xattach") {
                Some(phys) => push_line(out, &format!("XATTACH:{phys}[{name}]"), opts),
                None => notes
                    .notes
                    .push(format!("attachment {name} has no data; left out")),
            },
        }
    }
    let mut text = String::new();
    if let Some(h) = text_prop(&msg.properties, "mmff:header-text") {
        text.push_str(h);
    }
    if let Some(b) = &msg.body.text {
        text.push_str(b);
    } else if msg.body.html.is_some() || msg.body.rtf.is_some() {
        notes
            .notes
            .push("MMFF carries plain text only: HTML/RTF body left out".into());
    }
    let body = body_bytes(&text, opts);
    push_line(out, &format!("TEXT:{}", body.len()), opts);
    out.extend_from_slice(&body);
    (notes, datas)
}

fn attachment_name(a: &Attachment, i: usize) -> String {
    let n = a
        .name
        .as_deref()
        .map(one_line)
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| {
            if matches!(a.content, AttachmentContent::Message(_)) {
                format!("EMBED{:03}.MSG", i + 1)
            } else {
                format!("ATTACH{:02}.DAT", i + 1)
            }
        });
    n.replace(['[', ']'], "_")
}

fn cp_round(s: &str, cp: u16) -> String {
    codepage::decode(&codepage::encode_lossy(s, cp), cp).into_owned()
}

fn norm_address(a: &Address, cp: u16) -> Option<Address> {
    let (t, v) = render_parts(a)?;
    let mut n = parse_address(&cp_round(&one_line(&format!("{t}:{v}")), cp));
    n.name = None;
    Some(n)
}

/// What `read(write(msg))` gives back for `msg` with these options, ignoring source ids,
/// folder and warnings (which the reader sets from the file). The documented normalisation:
///
/// * text is passed through the code page (unrepresentable characters become `?`), CR and LF
///   inside header values become spaces, body line terminators become `\n`, an empty body is
///   no body;
/// * display names are dropped; address types become upper case (missing: `SMTP` if the value
///   has `@`, else `CSI`); leading spaces of address values are dropped; `smtp` is set for
///   `SMTP` values containing `@`; basic format folds Cc into To, both formats fold Bcc into To;
/// * `sent` (or `received` if there is no `sent`) becomes the wall-clock minute with unknown
///   zone; `received` is dropped;
/// * HTML and RTF bodies, flags, class, `sender`, `reply_to`, headers and non-`mmff:`
///   properties are dropped (MMFF has no field for them);
/// * attachments keep name and data only (kind `File`); unnamed ones are named
///   `ATTACHnn.DAT`, `[`/`]` in names become `_`; data-less attachments are dropped;
///   an embedded message becomes a file attachment holding the message written as MMFF
///   (named `EMBEDnnn.MSG` when it has no name; the reader does not unwrap it).
pub fn normalise(msg: &Message, opts: &WriterOptions) -> Message {
    let cp = opts.code_page;
    let mut n = Message::default();
    let mut to: Vec<Address> = msg.to.iter().filter_map(|a| norm_address(a, cp)).collect();
    let cc: Vec<Address> = msg.cc.iter().filter_map(|a| norm_address(a, cp)).collect();
    if opts.extended {
        n.cc = cc;
    } else {
        to.extend(cc);
    }
    to.extend(msg.bcc.iter().filter_map(|a| norm_address(a, cp)));
    n.to = to;
    n.from = msg.from.as_ref().and_then(|a| norm_address(a, cp));
    n.sent = msg.sent.or(msg.received).and_then(|t: Timestamp| {
        let d = t.datetime;
        let time = time::Time::from_hms(d.hour(), d.minute(), 0).ok()?;
        Some(Timestamp::local_unknown_zone(time::PrimitiveDateTime::new(
            d.date(),
            time,
        )))
    });
    n.subject = msg
        .subject
        .as_ref()
        .map(|s| cp_round(&subject_text(s, opts), cp));
    n.priority = msg.priority;
    n.body.text = msg
        .body
        .text
        .as_ref()
        .map(|t| cp_round(&super::reader::normalise_newlines(t), cp))
        .filter(|t| !t.is_empty());
    for (i, a) in msg.attachments.iter().enumerate() {
        let data = match &a.content {
            AttachmentContent::Data(b) => b.clone(),
            AttachmentContent::Message(m) if opts.max_embedding_depth > 0 => {
                let mut inner = Vec::new();
                write_at_depth(m, opts, &mut inner, 1);
                mailmig_ir::Blob::from_vec(inner)
            }
            _ => continue,
        };
        n.attachments.push(Attachment {
            name: Some(cp_round(&attachment_name(a, i), cp)),
            content: AttachmentContent::Data(data),
            ..Attachment::default()
        });
    }
    for p in &msg.properties {
        if let (Some(tok), PropValue::Text(v)) = (p.name.strip_prefix("mmff:token:"), &p.value) {
            n.properties.push(Property::new(
                format!("mmff:token:{}", cp_round(&one_line(tok), cp)),
                PropValue::Text(cp_round(&one_line(v), cp)),
            ));
        }
    }
    n
}
