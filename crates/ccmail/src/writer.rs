//! The cc:Mail writer (notes §11): IR → EXPORT/IMPORT text with exact `/ITEMSIZE` counts, one
//! stream per mailbox, and a directory export for the post office.
//!
//! Sizes follow the writer rule of §11: an item size counts the payload only (one uncounted
//! CRLF follows it); the `Contents:` and `Message:` sizes count every byte after their own size
//! line up to the end of the message. Headers are written in the order `From`, `Date`, `To`…,
//! `Cc`…, `Bcc`…, `Subject`, one address per line; dates as `M/D/YY H:MM`.
//!
//! What the format cannot carry is dropped or rendered (so a round trip is exact only for IR
//! that stays inside it; see the crate's property test): zone offsets (times are written as
//! wall-clock), seconds, attachment modification times other than the date, embedded messages
//! (written as `<subject>.TXT` file items holding a plain-text rendering), HTML bodies without a
//! text body (written as a `BODY.HTM` file item), message classes, flags, priorities and source
//! identifiers. The writer never emits `RRT:`, fax or message items.

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mailmig_ir::codepage;
use mailmig_ir::dates::format_ccmail_date;
use mailmig_ir::text::safe_component;
use mailmig_ir::{
    Address, AttachmentContent, Blob, CommittedMailbox, Folder, MailboxContext, MailboxWriter,
    Message, PostOffice, PropValue, Sink, SinkError, WrittenStats,
};

use crate::stream::{CONTINUED_TITLE, TEXT_TITLES_PROPERTY};

/// Largest text item the writer emits, in bytes (KB Q156063 §2.6.15: 20 KB per text item).
pub const MAX_TEXT_ITEM: usize = 20_000;

/// Default header-block limit in bytes (KB Q166499: 4 KB; 8.2x IMPORT takes 160 KB).
pub const DEFAULT_HEADER_LIMIT: usize = 4096;

/// Name of the stream file written into each mailbox directory.
pub const STREAM_FILE: &str = "MAILBOX.CCM";

/// Name of the directory export written by [`Sink::finish`].
pub const DIRECTORY_FILE: &str = "DIRECTORY.TXT";

/// How text longer than [`MAX_TEXT_ITEM`] is written (notes §11).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TextSplit {
    /// Several text items of at most 20,000 bytes cut at line ends; each continuation item is
    /// titled [`CONTINUED_TITLE`] so the reader joins it back without a separator (default).
    #[default]
    Items,
    /// One file item `BODY.TXT` holding the whole text.
    BodyFile,
}

/// The cc:Mail sink: writes `<mailbox dir>/MAILBOX.CCM` per mailbox and `DIRECTORY.TXT` at the
/// end (notes §11).
#[derive(Clone, Debug)]
pub struct CcmailSink {
    code_page: u16,
    header_limit: usize,
    folder_headers: bool,
    text_split: TextSplit,
}

impl Default for CcmailSink {
    fn default() -> Self {
        Self::new(codepage::OEM_850)
    }
}

/// One rendered message and what had to be changed to write it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Rendered {
    /// The bytes, from `Message:` to the last item's terminator.
    pub bytes: Vec<u8>,
    /// Sentences on what could not be written as it was.
    pub warnings: Vec<String>,
}

struct Item {
    header: Vec<u8>,
    payload: Payload,
}

/// An item's payload: bytes rendered here, or attachment (or RTF) bytes written from their
/// [`Blob`] as they are read, so that a large or streamed attachment is never copied whole.
enum Payload {
    Bytes(Vec<u8>),
    Blob(Blob),
}

impl Payload {
    fn len(&self) -> usize {
        match self {
            Payload::Bytes(b) => b.len(),
            Payload::Blob(b) => b.len(),
        }
    }
}

impl From<Vec<u8>> for Payload {
    fn from(bytes: Vec<u8>) -> Self {
        Payload::Bytes(bytes)
    }
}

/// A message laid out for writing: its header block and its items, with the sizes known
/// before any payload is read.
struct Layout {
    header: Vec<u8>,
    items: Vec<Item>,
    warnings: Vec<String>,
}

/// Bytes of the decimal form of `n`.
fn decimal_len(n: usize) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

impl Layout {
    /// The `Contents:` size: every item's header line, size line, payload and terminator.
    fn contents_len(&self) -> usize {
        self.items
            .iter()
            .map(|it| {
                it.header.len() + 2 + decimal_len(it.payload.len()) + 2 + it.payload.len() + 2
            })
            .sum()
    }

    /// The `Message:` size: the header block, `Contents:`, its size line and the contents.
    fn body_len(&self) -> usize {
        let contents = self.contents_len();
        self.header.len() + b"Contents:\r\n".len() + decimal_len(contents) + 2 + contents
    }

    /// Writes the message from `Message:` to the last item's terminator; returns the number of
    /// bytes written. A blob payload is written piece by piece; should its source fail (the
    /// input changed under the run), the error is returned and the message is incomplete.
    fn write_to(&self, out: &mut dyn Write) -> std::io::Result<u64> {
        let body = self.body_len();
        let contents = self.contents_len();
        write!(out, "Message:\r\n{body}\r\n")?;
        out.write_all(&self.header)?;
        write!(out, "Contents:\r\n{contents}\r\n")?;
        for it in &self.items {
            out.write_all(&it.header)?;
            write!(out, "\r\n{}\r\n", it.payload.len())?;
            match &it.payload {
                Payload::Bytes(b) => out.write_all(b)?,
                Payload::Blob(b) => b.pieces(&mut |p| out.write_all(p))?,
            }
            out.write_all(b"\r\n")?;
        }
        Ok((b"Message:\r\n".len() + decimal_len(body) + 2 + body) as u64)
    }
}

impl CcmailSink {
    /// A sink writing text in `code_page` (850 is the cc:Mail default).
    pub fn new(code_page: u16) -> Self {
        Self {
            code_page,
            header_limit: DEFAULT_HEADER_LIMIT,
            folder_headers: false,
            text_split: TextSplit::Items,
        }
    }

    /// Sets the header-block limit (`--ccmail-header-limit`, e.g. 163840 for 8.2x IMPORT).
    pub fn with_header_limit(mut self, bytes: usize) -> Self {
        self.header_limit = bytes;
        self
    }

    /// Writes a `Folder:` header with each message's folder name (off by default: §11 lists the
    /// keys IMPORT is known to take, and `Folder:` is only the reader's inferred marker, §4.8).
    pub fn with_folder_headers(mut self, on: bool) -> Self {
        self.folder_headers = on;
        self
    }

    /// Chooses how long text is split.
    pub fn with_text_split(mut self, split: TextSplit) -> Self {
        self.text_split = split;
        self
    }

    /// The code page text is written in.
    pub fn code_page(&self) -> u16 {
        self.code_page
    }

    fn enc<'t>(&self, text: &'t str, lossy: &mut bool) -> Cow<'t, [u8]> {
        if text.is_ascii() {
            return Cow::Borrowed(text.as_bytes());
        }
        match codepage::encode(text, self.code_page) {
            Ok(b) => Cow::Owned(b),
            Err(_) => {
                *lossy = true;
                Cow::Owned(codepage::encode_lossy(text, self.code_page))
            }
        }
    }

    /// Renders one message as EXPORT text (notes §11). Attachment bytes are copied into
    /// [`Rendered::bytes`]; the sink writes them to its file as they are read instead.
    pub fn render_message(&self, msg: &Message, folders: &[Folder]) -> Rendered {
        let layout = self.layout(msg, folders);
        let mut bytes = Vec::with_capacity(layout.body_len() + 24);
        // Writing into memory fails only when a streamed attachment's source fails; the bytes
        // it gave are kept, as `Blob::as_bytes` keeps them.
        let _ = layout.write_to(&mut bytes);
        Rendered {
            bytes,
            warnings: layout.warnings,
        }
    }

    /// The header block and items of one message (notes §11), with what had to be changed.
    fn layout(&self, msg: &Message, folders: &[Folder]) -> Layout {
        let mut warnings: Vec<String> = Vec::new();
        let mut lossy = false;
        let mut fixed: Vec<u8> = Vec::new();
        if let Some(from) = &msg.from {
            line(
                &mut fixed,
                b"From: ",
                &self.enc(&one_line(&address_text(from)), &mut lossy),
            );
        }
        if let Some(sent) = &msg.sent {
            let y = sent.datetime.year();
            if !(1970..2070).contains(&y) {
                warnings.push(format!(
                    "year {y} cannot be written with two digits; written with four"
                ));
            }
            if sent.offset.is_some() {
                warnings
                    .push("the time zone of the date was dropped (cc:Mail dates are local)".into());
            }
            line(&mut fixed, b"Date: ", format_ccmail_date(sent).as_bytes());
        }
        let mut recipients: Vec<Vec<u8>> = Vec::new();
        for (key, list) in [
            (&b"To: "[..], &msg.to),
            (b"Cc: ", &msg.cc),
            (b"Bcc: ", &msg.bcc),
        ] {
            for a in list {
                let mut l = Vec::new();
                line(
                    &mut l,
                    key,
                    &self.enc(&one_line(&address_text(a)), &mut lossy),
                );
                recipients.push(l);
            }
        }
        let mut tail: Vec<u8> = Vec::new();
        if let Some(s) = &msg.subject {
            line(&mut tail, b"Subject: ", &self.enc(&one_line(s), &mut lossy));
        }
        if self.folder_headers
            && let Some(fid) = &msg.folder
        {
            let name = folders
                .iter()
                .find(|f| &f.id == fid)
                .map_or(fid.as_str(), |f| f.name.as_str());
            line(
                &mut tail,
                b"Folder: ",
                &self.enc(&one_line(name), &mut lossy),
            );
        }
        let budget = self
            .header_limit
            .saturating_sub(fixed.len() + tail.len() + b"Contents:\r\n".len());
        let mut header = fixed;
        let mut used = 0usize;
        let mut overflow: Vec<u8> = Vec::new();
        for r in recipients {
            if overflow.is_empty() && used + r.len() <= budget {
                used += r.len();
                header.extend_from_slice(&r);
            } else {
                overflow.extend_from_slice(&r);
            }
        }
        header.extend_from_slice(&tail);

        let mut items: Vec<Item> = Vec::new();
        let first_title = msg
            .properties
            .iter()
            .find(|p| p.name == TEXT_TITLES_PROPERTY)
            .and_then(|p| match &p.value {
                PropValue::Multi(v) => v.first(),
                _ => None,
            })
            .and_then(|v| match v {
                PropValue::Text(t) if !t.is_empty() => Some(one_line(t)),
                _ => None,
            });
        if let Some(text) = &msg.body.text {
            self.text_items(text, first_title.as_deref(), &mut items, &mut lossy);
        } else if let Some(rtf) = &msg.body.rtf {
            items.push(Item {
                header: b"Text item:".to_vec(),
                payload: Payload::Blob(rtf.clone()),
            });
        }
        if msg.body.text.is_none() && msg.body.rtf.is_none() && msg.body.html.is_some() {
            warnings.push("HTML body written as file item BODY.HTM".into());
        }
        if let Some(html) = msg.body.html.as_deref().filter(|_| msg.body.text.is_none()) {
            items.push(Item {
                header: b"File item: BODY.HTM".to_vec(),
                payload: html.as_bytes().to_vec().into(),
            });
        }
        for a in &msg.attachments {
            let (name, payload) = match &a.content {
                AttachmentContent::Data(b) => (
                    a.name.clone().unwrap_or_else(|| "ATTACH.DAT".into()),
                    Payload::Blob(b.clone()),
                ),
                AttachmentContent::Message(m) => {
                    warnings.push(
                        "embedded message written as a plain-text file item (notes §11)".into(),
                    );
                    let subject = m.subject.as_deref().unwrap_or("message");
                    (
                        format!("{}.TXT", safe_component(subject, 60, "MESSAGE")),
                        self.render_plain(m, &mut lossy).into(),
                    )
                }
                AttachmentContent::None => {
                    warnings.push("attachment without data written as an empty file item".into());
                    (
                        a.name.clone().unwrap_or_else(|| "ATTACH.DAT".into()),
                        Vec::new().into(),
                    )
                }
            };
            let mut header = b"File item: ".to_vec();
            header.extend_from_slice(&self.enc(&one_line(name.trim()), &mut lossy));
            if let Some(m) = &a.modified {
                let d = format_ccmail_date(m);
                let date = d.split(' ').next().unwrap_or(&d);
                header.push(b' ');
                header.extend_from_slice(date.as_bytes());
            }
            items.push(Item { header, payload });
        }
        if !overflow.is_empty() {
            warnings.push(format!(
                "header block over {} bytes: recipients moved to a text item \"Additional recipients\"",
                self.header_limit
            ));
            let mut payload = overflow;
            while payload.ends_with(b"\r\n") {
                payload.truncate(payload.len() - 2);
            }
            items.push(Item {
                header: b"Text item: Additional recipients".to_vec(),
                payload: payload.into(),
            });
        }
        if lossy {
            warnings.push(format!(
                "characters not representable in code page {} were written as '?'",
                self.code_page
            ));
        }
        Layout {
            header,
            items,
            warnings,
        }
    }

    fn text_items(&self, text: &str, title: Option<&str>, items: &mut Vec<Item>, lossy: &mut bool) {
        let norm = crlf(text);
        let first_header = |t: Option<&str>| -> Vec<u8> {
            match t {
                Some(t) => {
                    let mut l = false;
                    let mut h = b"Text item: ".to_vec();
                    h.extend_from_slice(&self.enc(t, &mut l));
                    h
                }
                None => b"Text item:".to_vec(),
            }
        };
        let whole = self.enc(&norm, lossy);
        if whole.len() <= MAX_TEXT_ITEM {
            items.push(Item {
                header: first_header(title),
                payload: whole.into_owned().into(),
            });
            return;
        }
        if self.text_split == TextSplit::BodyFile {
            items.push(Item {
                header: b"File item: BODY.TXT".to_vec(),
                payload: whole.into_owned().into(),
            });
            return;
        }
        let mut chunks: Vec<Vec<u8>> = Vec::new();
        let mut cur: Vec<u8> = Vec::new();
        let mut scratch = false;
        for l in norm.split_inclusive('\n') {
            let lb = self.enc(l, &mut scratch);
            if cur.len() + lb.len() > MAX_TEXT_ITEM && !cur.is_empty() {
                chunks.push(std::mem::take(&mut cur));
            }
            if lb.len() <= MAX_TEXT_ITEM {
                cur.extend_from_slice(&lb);
                continue;
            }
            let mut buf = [0u8; 4];
            for ch in l.chars() {
                let cb = self.enc(ch.encode_utf8(&mut buf), &mut scratch);
                if cur.len() + cb.len() > MAX_TEXT_ITEM {
                    chunks.push(std::mem::take(&mut cur));
                }
                cur.extend_from_slice(&cb);
            }
        }
        if !cur.is_empty() || chunks.is_empty() {
            chunks.push(cur);
        }
        for (i, c) in chunks.into_iter().enumerate() {
            let header = if i == 0 {
                first_header(title)
            } else {
                format!("Text item: {CONTINUED_TITLE}").into_bytes()
            };
            items.push(Item {
                header,
                payload: c.into(),
            });
        }
    }

    fn render_plain(&self, m: &Message, lossy: &mut bool) -> Vec<u8> {
        let mut s = String::new();
        if let Some(f) = &m.from {
            s.push_str(&format!("From: {}\r\n", one_line(&address_text(f))));
        }
        if let Some(d) = &m.sent {
            s.push_str(&format!("Date: {}\r\n", format_ccmail_date(d)));
        }
        for (k, list) in [("To", &m.to), ("Cc", &m.cc)] {
            for a in list {
                s.push_str(&format!("{k}: {}\r\n", one_line(&address_text(a))));
            }
        }
        if let Some(subj) = &m.subject {
            s.push_str(&format!("Subject: {}\r\n", one_line(subj)));
        }
        s.push_str("\r\n");
        if let Some(t) = &m.body.text {
            s.push_str(&crlf(t));
        }
        self.enc(&s, lossy).into_owned()
    }
}

/// Native text of an address: the cc:Mail form when there is one, else the Internet address,
/// else the display name.
fn address_text(a: &Address) -> String {
    let native = a
        .addr_type
        .as_deref()
        .is_none_or(|t| t.eq_ignore_ascii_case("CCMAIL"));
    if native && let Some(x) = &a.address {
        return x.clone();
    }
    if let Some(x) = a.internet_address() {
        return x.to_string();
    }
    a.name
        .clone()
        .or_else(|| a.address.clone())
        .unwrap_or_default()
}

fn one_line(s: &str) -> String {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], " ")
    } else {
        s.to_string()
    }
}

fn crlf(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let needs = bytes.iter().enumerate().any(|(i, &b)| match b {
        b'\n' => i == 0 || bytes.get(i - 1) != Some(&b'\r'),
        b'\r' => bytes.get(i + 1) != Some(&b'\n'),
        _ => false,
    });
    if !needs {
        return Cow::Borrowed(text);
    }
    let unified = text.replace("\r\n", "\n").replace('\r', "\n");
    Cow::Owned(unified.replace('\n', "\r\n"))
}

fn line(out: &mut Vec<u8>, key: &[u8], value: &[u8]) {
    out.extend_from_slice(key);
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

struct StreamWriter<'a> {
    sink: &'a CcmailSink,
    folders: Vec<Folder>,
    out: BufWriter<File>,
    path: PathBuf,
    stats: WrittenStats,
}

impl MailboxWriter for StreamWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let layout = self.sink.layout(message, &self.folders);
        for w in &layout.warnings {
            tracing::warn!(file = %self.path.display(), "ccmail writer: {w}");
        }
        let written = layout
            .write_to(&mut self.out)
            .map_err(|e| SinkError::io(&self.path, e))?;
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        self.stats.bytes += written;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        let mut me = *self;
        me.out.flush().map_err(|e| SinkError::io(&me.path, e))?;
        me.out
            .get_ref()
            .sync_all()
            .map_err(|e| SinkError::io(&me.path, e))?;
        Ok(me.stats)
    }
}

impl Sink for CcmailSink {
    fn name(&self) -> &'static str {
        "ccmail"
    }

    /// Creates `<dir>/MAILBOX.CCM`; a mailbox without messages (or with `--no-mail`) gets an
    /// empty stream, so every user still has one (guarantee 2).
    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let path = dir.join(STREAM_FILE);
        let file = File::create(&path).map_err(|e| SinkError::io(&path, e))?;
        Ok(Box::new(StreamWriter {
            sink: self,
            folders: ctx.folders.to_vec(),
            out: BufWriter::with_capacity(1 << 16, file),
            path,
            stats: WrittenStats::default(),
        }))
    }

    /// Writes `DIRECTORY.TXT` (see [`crate::write_directory`]).
    fn finish(
        &self,
        post_office: &PostOffice,
        mailboxes: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        let bytes = crate::directory::write_directory(post_office, mailboxes, self.code_page);
        let path = dir.join(DIRECTORY_FILE);
        std::fs::write(&path, bytes).map_err(|e| SinkError::io(&path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::tests::read_all;
    use mailmig_ir::Attachment;

    #[test]
    fn example_message_three_has_the_notes_sizes() {
        let msg = Message {
            from: Some(crate::parse_address("Somerville, Mary at CAMBRIDGE")),
            to: vec![crate::parse_address("Lovelace, Ada at LONDON")],
            subject: Some("(no text)".into()),
            sent: "1999-02-28T17:20:00".parse().ok(),
            body: mailmig_ir::Bodies {
                text: Some(String::new()),
                ..Default::default()
            },
            ..Message::default()
        };
        let r = CcmailSink::new(850).render_message(&msg, &[]);
        let text = String::from_utf8(r.bytes).unwrap();
        assert!(text.starts_with("Message:\r\n139\r\n"), "{text}");
        assert!(text.contains("Contents:\r\n17\r\nText item:\r\n0\r\n\r\n"));
    }

    #[test]
    fn long_text_splits_and_reads_back() {
        let line = "x".repeat(70) + "\r\n";
        let text = line.repeat(800) + &"y".repeat(45_000);
        let msg = Message {
            body: mailmig_ir::Bodies {
                text: Some(text.clone()),
                ..Default::default()
            },
            ..Message::default()
        };
        let r = CcmailSink::new(850).render_message(&msg, &[]);
        let (back, stats) = read_all(&r.bytes);
        assert_eq!(back[0].body.text.as_deref(), Some(text.as_str()));
        assert!(stats.rule_a >= 4, "{stats:?}");
        assert!(back[0].warnings.is_empty(), "{:?}", back[0].warnings);
    }

    #[test]
    fn header_limit_moves_recipients() {
        let msg = Message {
            to: (0..300)
                .map(|i| crate::parse_address(&format!("User {i} at PO")))
                .collect(),
            ..Message::default()
        };
        let r = CcmailSink::new(850).render_message(&msg, &[]);
        assert!(
            r.warnings
                .iter()
                .any(|w| w.contains("Additional recipients"))
        );
        let (back, _) = read_all(&r.bytes);
        assert!(back[0].to.len() < 300);
        let extra = back[0].body.text.as_deref().unwrap_or("");
        assert!(extra.contains("To: User 299 at PO"));
    }

    #[test]
    fn unrepresentable_characters_warn() {
        let msg = Message {
            subject: Some("日本".into()),
            attachments: vec![Attachment {
                name: Some("a.bin".into()),
                content: AttachmentContent::Data(vec![0, 13, 10].into()),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        let r = CcmailSink::new(850).render_message(&msg, &[]);
        assert!(r.warnings.iter().any(|w| w.contains("'?'")));
        let (back, _) = read_all(&r.bytes);
        assert_eq!(back[0].subject.as_deref(), Some("??"));
        assert_eq!(
            back[0].attachments[0].data().map(|b| b.as_bytes().to_vec()),
            Some(vec![0, 13, 10])
        );
        let r = CcmailSink::new(932).render_message(&msg, &[]);
        assert!(r.warnings.is_empty());
    }
}
