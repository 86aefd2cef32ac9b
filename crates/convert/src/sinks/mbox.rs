//! [`MboxSink`]: one mbox file per folder, in the `mboxrd` variant.
//!
//! Format (the `mboxrd` convention described in the `mbox(5)` manual pages and RFC 4155):
//! each message starts with a `From ` line, `From <envelope sender> <asctime date>`; every
//! body or header line matching `^>*From ` gets one more `>` (reversible, unlike `mboxo`);
//! each message ends with an empty line. Line ends are LF.
//!
//! The envelope sender is the `From` address (Internet form, else its IMCEA form, see
//! [`super::mime`]), else `MAILER-DAEMON`; the date is `sent`, else `received`, as the wall
//! clock the source recorded (the zone is not converted: legacy stores often do not know it),
//! else `Thu Jan  1 00:00:00 1970`. `Status: RO`/`O` and `X-Status: A`/`F` (answered,
//! flagged) carry the flags, as mutt and Python's `mailbox.mboxMessage` read them.
//!
//! Files: `DIR/<path>.mbox` per folder, the path made of [`safe_component`] names with
//! children in `DIR/<parent path>/`, e.g. `Inbox.mbox`, `Projects.mbox`,
//! `Projects/2024.mbox`. Every folder gets a file, empty when it holds no mail; `Inbox.mbox`
//! always exists ([`super::layout`]).
//!
//! [`safe_component`]: mailmig_ir::text::safe_component

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mailmig_ir::{MailboxContext, MailboxWriter, Message, Sink, SinkError, WrittenStats};

use super::layout::FolderLayout;
use super::maildir::CrlfToLf;
use super::mime::{MessagePlace, imcea_address, render_message_to};
use super::{Counted, MessageOut, create_dir_all, path_component, write_file};

/// Writes each mailbox as a tree of mboxrd files (`--to mbox`).
#[derive(Clone, Copy, Debug, Default)]
pub struct MboxSink;

impl MboxSink {
    /// The sink.
    pub fn new() -> Self {
        Self
    }
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// The `From ` separator line of a message (without the line end).
pub fn from_line(message: &Message) -> String {
    let sender = message
        .from
        .as_ref()
        .and_then(|a| {
            a.internet_address()
                .filter(|e| e.bytes().all(|b| (0x21..=0x7e).contains(&b)))
                .map(str::to_string)
                .or_else(|| {
                    a.address
                        .as_deref()
                        .filter(|x| !x.trim().is_empty())
                        .map(|x| {
                            imcea_address(a.addr_type.as_deref().unwrap_or("UNKNOWN"), x.trim())
                        })
                })
        })
        .unwrap_or_else(|| "MAILER-DAEMON".to_string());
    let date = match message.sent.or(message.received) {
        Some(ts) => {
            let d = ts.datetime;
            let wd = DAYS
                .get(usize::from(d.weekday().number_days_from_monday()))
                .copied()
                .unwrap_or("Mon");
            let mon = MONTHS
                .get(usize::from(u8::from(d.month())).saturating_sub(1))
                .copied()
                .unwrap_or("Jan");
            format!(
                "{wd} {mon} {:>2} {:02}:{:02}:{:02} {}",
                d.day(),
                d.hour(),
                d.minute(),
                d.second(),
                d.year()
            )
        }
        None => "Thu Jan  1 00:00:00 1970".to_string(),
    };
    format!("From {sender} {date}")
}

/// True when `line` matches `^>*From ` (the lines mboxrd quotes).
pub fn needs_quote(line: &[u8]) -> bool {
    let rest = line
        .iter()
        .position(|&b| b != b'>')
        .and_then(|p| line.get(p..))
        .unwrap_or_default();
    rest.starts_with(b"From ")
}

/// Appends one message to `out` in mboxrd form: `From ` line, the message with LF line ends
/// and `>`-quoted `From ` lines, an empty line (the sink streams entries the same way).
pub fn append_mboxrd(out: &mut Vec<u8>, from: &str, message_lf: &[u8]) {
    out.extend_from_slice(from.as_bytes());
    out.push(b'\n');
    let mut body = MboxrdBody::new(out, Vec::new());
    // Writing to a `Vec` cannot fail.
    let _ = body
        .write_all(message_lf)
        .and_then(|()| body.finish().map(drop));
}

/// The mbox `Status`/`X-Status` fields of a message, each ending in LF.
fn status_fields(message: &Message) -> Vec<u8> {
    let mut fields = String::from(if message.flags.read {
        "Status: RO\n"
    } else {
        "Status: O\n"
    });
    let mut x = String::new();
    if message.flags.answered {
        x.push('A');
    }
    if message.flags.flagged {
        x.push('F');
    }
    if !x.is_empty() {
        fields.push_str(&format!("X-Status: {x}\n"));
    }
    fields.into_bytes()
}

/// What a line must start with, after any number of `>`, to be quoted.
const FROM_: &[u8; 5] = b"From ";

/// A writer that turns a message with LF line ends, written in pieces of any size, into the
/// body of an mboxrd entry: `fields` (the `Status` lines) inserted at the end of the header
/// block (before the first empty line, or at the end if there is none), every line matching
/// `^>*From ` given one more `>`, and [`MboxrdBody::finish`] ending the entry with a line end
/// if missing and an empty line. Holds at most the five bytes of a possible `From ` at a line
/// start, and counts the `>` before it.
pub(crate) struct MboxrdBody<W: Write> {
    inner: W,
    fields: Option<Vec<u8>>,
    /// Last byte of the message written (the header block ends at an LF after an LF).
    prev: Option<u8>,
    /// Last byte passed to the quoting stage (message or fields).
    last: Option<u8>,
    /// At a line start, deciding whether the line is quoted: `>` seen so far and how much of
    /// `From ` followed them.
    deciding: bool,
    gts: u64,
    matched: usize,
}

impl<W: Write> MboxrdBody<W> {
    pub(crate) fn new(inner: W, fields: Vec<u8>) -> Self {
        Self {
            inner,
            fields: (!fields.is_empty()).then_some(fields),
            prev: None,
            last: None,
            deciding: true,
            gts: 0,
            matched: 0,
        }
    }

    /// Writes the fields if still due, what is held, the end of the entry; returns the
    /// inner writer.
    pub(crate) fn finish(mut self) -> std::io::Result<W> {
        if let Some(fields) = self.fields.take() {
            self.quote(&fields)?;
        }
        self.release(false)?;
        if self.last != Some(b'\n') {
            self.inner.write_all(b"\n")?;
        }
        self.inner.write_all(b"\n")?;
        Ok(self.inner)
    }

    /// Ends a decision: writes the held `>` and `From ` prefix, with one more `>` first when
    /// the line is quoted.
    fn release(&mut self, quoted: bool) -> std::io::Result<()> {
        const GTS: [u8; 64] = [b'>'; 64];
        let mut n = self.gts + u64::from(quoted);
        while n > 0 {
            let k = n.min(GTS.len() as u64);
            self.inner
                .write_all(GTS.get(..k as usize).unwrap_or_default())?;
            n -= k;
        }
        self.inner
            .write_all(FROM_.get(..self.matched).unwrap_or_default())?;
        self.deciding = false;
        self.gts = 0;
        self.matched = 0;
        Ok(())
    }

    /// The quoting stage.
    fn quote(&mut self, mut data: &[u8]) -> std::io::Result<()> {
        if let Some(&b) = data.last() {
            self.last = Some(b);
        }
        while let Some((&b, after)) = data.split_first() {
            if self.deciding {
                if self.matched == 0 && b == b'>' {
                    self.gts += 1;
                    data = after;
                } else if FROM_.get(self.matched) == Some(&b) {
                    self.matched += 1;
                    data = after;
                    if self.matched == FROM_.len() {
                        self.release(true)?;
                    }
                } else {
                    self.release(false)?;
                }
                continue;
            }
            match memchr::memchr(b'\n', data) {
                Some(p) => {
                    let (line, rest) = data.split_at(p + 1);
                    self.inner.write_all(line)?;
                    data = rest;
                    self.deciding = true;
                }
                None => {
                    self.inner.write_all(data)?;
                    data = &[];
                }
            }
        }
        Ok(())
    }
}

impl<W: Write> Write for MboxrdBody<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut rest = buf;
        if self.fields.is_some() {
            // The header block ends at the first LF that follows an LF.
            let end = if self.prev == Some(b'\n') && rest.first() == Some(&b'\n') {
                Some(0)
            } else {
                memchr::memmem::find(rest, b"\n\n").map(|p| p + 1)
            };
            if let Some(i) = end {
                let (head, tail) = rest.split_at(i);
                self.quote(head)?;
                if let Some(fields) = self.fields.take() {
                    self.quote(&fields)?;
                }
                rest = tail;
            }
        }
        if let Some(&b) = buf.last() {
            self.prev = Some(b);
        }
        self.quote(rest)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// The mbox file being appended to.
struct OpenMbox {
    slot: usize,
    out: BufWriter<File>,
    /// Length of the file up to the end of its last whole entry (some of it may still be in
    /// `out`'s buffer).
    len: u64,
}

impl OpenMbox {
    /// Cuts the file back to its last whole entry: what is buffered of earlier entries is
    /// written, the rest of the buffer (the failed entry) is dropped, and the file is
    /// truncated to `len`.
    fn roll_back(self) -> std::io::Result<()> {
        let (mut file, buffered) = self.out.into_parts();
        let on_disk = file.metadata()?.len();
        if let (Some(keep), Ok(buffered)) = (self.len.checked_sub(on_disk), buffered) {
            let keep = usize::try_from(keep).unwrap_or(usize::MAX);
            file.write_all(buffered.get(..keep).unwrap_or(&buffered))?;
        }
        file.set_len(self.len)
    }
}

struct MboxWriter<'a> {
    key: &'a str,
    layout: FolderLayout,
    files: Vec<PathBuf>,
    open: Option<OpenMbox>,
    seq: u64,
    stats: WrittenStats,
}

impl Sink for MboxSink {
    fn name(&self) -> &'static str {
        "mbox"
    }

    /// MIME messages have no place for source properties.
    fn keeps_properties(&self) -> bool {
        false
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let layout = FolderLayout::new(ctx.folders);
        let paths = layout.encoded_paths(path_component);
        let mut files = Vec::with_capacity(paths.len());
        for p in &paths {
            let mut path = dir.to_path_buf();
            if let Some((last, parents)) = p.split_last() {
                for c in parents {
                    path.push(c);
                }
                create_dir_all(&path)?;
                path.push(format!("{last}.mbox"));
            }
            write_file(&path, b"")?;
            files.push(path);
        }
        Ok(Box::new(MboxWriter {
            key: ctx.mailbox.key.as_str(),
            layout,
            files,
            open: None,
            seq: 0,
            stats: WrittenStats::default(),
        }))
    }
}

impl MboxWriter<'_> {
    fn file(&mut self, slot: usize) -> Result<&mut OpenMbox, SinkError> {
        if self.open.as_ref().is_none_or(|o| o.slot != slot) {
            if let Some(mut o) = self.open.take() {
                o.out.flush().map_err(|e| self.io_err(o.slot, e))?;
            }
            let path = self
                .files
                .get(slot)
                .ok_or_else(|| SinkError::Other(format!("no mbox for folder slot {slot}")))?;
            let f = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| SinkError::io(path, e))?;
            let len = f.metadata().map_err(|e| SinkError::io(path, e))?.len();
            self.open = Some(OpenMbox {
                slot,
                out: BufWriter::with_capacity(1 << 16, f),
                len,
            });
        }
        self.open
            .as_mut()
            .ok_or_else(|| SinkError::Other("mbox file not open".into()))
    }

    fn io_err(&self, slot: usize, e: std::io::Error) -> SinkError {
        match self.files.get(slot) {
            Some(p) => SinkError::io(p, e),
            None => SinkError::Other(e.to_string()),
        }
    }
}

/// Writes one mboxrd entry to `out`, rendering the message straight through the line-end
/// and quoting stages (never whole in memory); returns the number of bytes written.
fn write_entry(
    out: &mut BufWriter<File>,
    message: &Message,
    place: MessagePlace<'_>,
) -> Result<u64, EntryError> {
    let mut counted = Counted::new(out);
    counted.write_all(from_line(message).as_bytes())?;
    counted.write_all(b"\n")?;
    let mut lf = CrlfToLf::new(MboxrdBody::new(counted, status_fields(message)));
    let mut w = MessageOut::new(&mut lf);
    render_message_to(message, place, &mut w).map_err(EntryError::Render)?;
    w.finish()?;
    Ok(lf.finish()?.finish()?.n)
}

/// Why an entry could not be written.
enum EntryError {
    Render(SinkError),
    Io(std::io::Error),
}

impl From<std::io::Error> for EntryError {
    fn from(e: std::io::Error) -> Self {
        EntryError::Io(e)
    }
}

impl MailboxWriter for MboxWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let place = MessagePlace {
            mailbox_key: self.key,
            seq: self.seq,
        };
        self.seq += 1;
        let slot = self.layout.slot_for(message.folder.as_deref());
        let open = self.file(slot)?;
        match write_entry(&mut open.out, message, place) {
            Ok(n) => {
                open.len += n;
                self.stats.messages += 1;
                self.stats.attachments += message.tally().attachments;
                self.stats.bytes += n;
                Ok(())
            }
            Err(e) => {
                // Nothing of an entry that could not be written stays in the file.
                let err = match e {
                    EntryError::Render(e) => e,
                    EntryError::Io(e) => self.io_err(slot, e),
                };
                if let Some(open) = self.open.take()
                    && let Err(r) = open.roll_back()
                {
                    return Err(SinkError::Other(format!(
                        "{err}; and the partial entry could not be removed: {}",
                        self.io_err(slot, r)
                    )));
                }
                Err(err)
            }
        }
    }

    fn finish(mut self: Box<Self>) -> Result<WrittenStats, SinkError> {
        if let Some(o) = self.open.take() {
            o.out
                .into_inner()
                .map_err(|e| self.io_err(o.slot, e.into_error()))?;
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sinks::maildir::tests::{crlf_to_lf, write_in_pieces};
    use mailmig_ir::Address;
    use proptest::prelude::*;

    /// Whole-buffer reference for the `Status` insertion of [`MboxrdBody`].
    fn with_status(fields: &[u8], lf: &[u8]) -> Vec<u8> {
        let at = memchr::memmem::find(lf, b"\n\n").map_or(lf.len(), |p| p + 1);
        [&lf[..at], fields, &lf[at..]].concat()
    }

    /// Whole-buffer reference for an mboxrd entry: every line matching [`needs_quote`] gets
    /// one more `>`; a line end is added if missing, then an empty line.
    fn reference_entry(from: &str, message_lf: &[u8]) -> Vec<u8> {
        let mut out = format!("{from}\n").into_bytes();
        for line in message_lf.split_inclusive(|&b| b == b'\n') {
            if needs_quote(line) {
                out.push(b'>');
            }
            out.extend_from_slice(line);
        }
        if !message_lf.ends_with(b"\n") {
            out.push(b'\n');
        }
        out.push(b'\n');
        out
    }

    proptest! {
        /// The streamed entry equals the whole-buffer one for any message bytes, any split
        /// into writes, with and without `Status` fields.
        #[test]
        fn mboxrd_entries_stream_the_same_for_any_split(
            parts in proptest::collection::vec(prop_oneof![
                Just(&b"\r\n"[..]), Just(&b"\n"[..]), Just(&b"\r"[..]), Just(&b">"[..]),
                Just(&b"From "[..]), Just(&b"Fro"[..]), Just(&b"m "[..]), Just(&b"x"[..]),
            ], 0..24),
            cuts in proptest::collection::vec(0usize..200, 0..8),
            with_fields in any::<bool>(),
        ) {
            let data = parts.concat();
            let fields: &[u8] = if with_fields { b"Status: RO\nX-Status: A\n" } else { b"" };
            let mut out = b"From a@b Thu Jan  1 00:00:00 1970\n".to_vec();
            let mut w = CrlfToLf::new(MboxrdBody::new(&mut out, fields.to_vec()));
            write_in_pieces(&mut w, &data, &cuts);
            w.finish().unwrap().finish().unwrap();
            let want = reference_entry(
                "From a@b Thu Jan  1 00:00:00 1970",
                &with_status(fields, &crlf_to_lf(&data)),
            );
            prop_assert_eq!(String::from_utf8_lossy(&out), String::from_utf8_lossy(&want));
        }
    }

    #[test]
    fn long_runs_of_gt_before_from_are_counted_not_held() {
        let line = [vec![b'>'; 200], b"From x\n".to_vec()].concat();
        let mut out = Vec::new();
        append_mboxrd(&mut out, "From a", &line);
        assert_eq!(out, [&b"From a\n>"[..], &line, b"\n"].concat());
    }

    #[test]
    fn mboxrd_quotes_from_lines_at_any_depth() {
        let mut out = Vec::new();
        append_mboxrd(
            &mut out,
            "From a@b Thu Jan  1 00:00:00 1970",
            b"Subject: x\n\nFrom here\n>From there\n>>From far\nFromage\n From not\n",
        );
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "From a@b Thu Jan  1 00:00:00 1970\nSubject: x\n\n>From here\n>>From there\n>>>From far\nFromage\n From not\n\n"
        );
        assert!(needs_quote(b">>From x"));
        assert!(!needs_quote(b">> From x"));
    }

    #[test]
    fn from_line_uses_sender_and_asctime() {
        let m = Message {
            from: Some(Address::smtp(None, "ann@example.com")),
            sent: "1999-03-04T09:05:07".parse().ok(),
            ..Message::default()
        };
        assert_eq!(
            from_line(&m),
            "From ann@example.com Thu Mar  4 09:05:07 1999"
        );
        assert_eq!(
            from_line(&Message::default()),
            "From MAILER-DAEMON Thu Jan  1 00:00:00 1970"
        );
        let native = Message {
            from: Some(Address::native(None, "CCMAIL", "Bob at HQ")),
            ..Message::default()
        };
        assert!(from_line(&native).starts_with("From IMCEACCMAIL-Bob+20at+20HQ@mailmig.invalid "));
    }

    #[test]
    fn status_goes_at_the_end_of_the_header_block() {
        let m = Message {
            flags: mailmig_ir::MessageFlags {
                read: true,
                answered: true,
                ..Default::default()
            },
            ..Message::default()
        };
        let mut out = Vec::new();
        let mut w = MboxrdBody::new(&mut out, status_fields(&m));
        w.write_all(b"A: 1\nB: 2\n").unwrap();
        w.write_all(b"\nbody\n\nmore\n").unwrap();
        w.finish().unwrap();
        assert_eq!(
            out,
            b"A: 1\nB: 2\nStatus: RO\nX-Status: A\n\nbody\n\nmore\n\n"
        );
    }
}
