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
use super::maildir::crlf_to_lf;
use super::mime::{MessagePlace, imcea_address, render_message};
use super::{create_dir_all, path_component, write_file};

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
/// and `>`-quoted `From ` lines, an empty line.
pub fn append_mboxrd(out: &mut Vec<u8>, from: &str, message_lf: &[u8]) {
    out.extend_from_slice(from.as_bytes());
    out.push(b'\n');
    let mut rest = message_lf;
    while !rest.is_empty() {
        let (line, next) = match memchr::memchr(b'\n', rest) {
            Some(p) => (
                rest.get(..=p).unwrap_or_default(),
                rest.get(p + 1..).unwrap_or_default(),
            ),
            None => (rest, &[][..]),
        };
        if needs_quote(line) {
            out.push(b'>');
        }
        out.extend_from_slice(line);
        rest = next;
    }
    if !message_lf.ends_with(b"\n") {
        out.push(b'\n');
    }
    out.push(b'\n');
}

/// Inserts the mbox `Status`/`X-Status` fields at the end of the header block.
fn with_status(message: &Message, lf: Vec<u8>) -> Vec<u8> {
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
    let at = memchr::memmem::find(&lf, b"\n\n").map_or(lf.len(), |p| p + 1);
    let mut out = Vec::with_capacity(lf.len() + fields.len());
    out.extend_from_slice(lf.get(..at).unwrap_or_default());
    out.extend_from_slice(fields.as_bytes());
    out.extend_from_slice(lf.get(at..).unwrap_or_default());
    out
}

struct MboxWriter<'a> {
    key: &'a str,
    layout: FolderLayout,
    files: Vec<PathBuf>,
    open: Option<(usize, BufWriter<File>)>,
    seq: u64,
    buf: Vec<u8>,
    stats: WrittenStats,
}

impl Sink for MboxSink {
    fn name(&self) -> &'static str {
        "mbox"
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
            buf: Vec::new(),
            stats: WrittenStats::default(),
        }))
    }
}

impl MboxWriter<'_> {
    fn file(&mut self, slot: usize) -> Result<&mut BufWriter<File>, SinkError> {
        if self.open.as_ref().is_none_or(|(s, _)| *s != slot) {
            if let Some((s, mut w)) = self.open.take() {
                w.flush().map_err(|e| self.io_err(s, e))?;
            }
            let path = self
                .files
                .get(slot)
                .ok_or_else(|| SinkError::Other(format!("no mbox for folder slot {slot}")))?;
            let f = OpenOptions::new()
                .append(true)
                .open(path)
                .map_err(|e| SinkError::io(path, e))?;
            self.open = Some((slot, BufWriter::with_capacity(1 << 16, f)));
        }
        match &mut self.open {
            Some((_, w)) => Ok(w),
            None => Err(SinkError::Other("mbox file not open".into())),
        }
    }

    fn io_err(&self, slot: usize, e: std::io::Error) -> SinkError {
        match self.files.get(slot) {
            Some(p) => SinkError::io(p, e),
            None => SinkError::Other(e.to_string()),
        }
    }
}

impl MailboxWriter for MboxWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let rendered = render_message(
            message,
            MessagePlace {
                mailbox_key: self.key,
                seq: self.seq,
            },
        )?;
        self.seq += 1;
        let lf = with_status(message, crlf_to_lf(&rendered.bytes));
        let mut buf = std::mem::take(&mut self.buf);
        buf.clear();
        append_mboxrd(&mut buf, &from_line(message), &lf);
        let slot = self.layout.slot_for(message.folder.as_deref());
        let w = self.file(slot)?;
        let res = w.write_all(&buf);
        res.map_err(|e| self.io_err(slot, e))?;
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        self.stats.bytes += buf.len() as u64;
        self.buf = buf;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WrittenStats, SinkError> {
        if let Some((s, w)) = self.open.take() {
            w.into_inner().map_err(|e| self.io_err(s, e.into_error()))?;
        }
        Ok(self.stats)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mailmig_ir::Address;

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
        let out = with_status(&m, b"A: 1\nB: 2\n\nbody\n\nmore\n".to_vec());
        assert_eq!(
            out,
            b"A: 1\nB: 2\nStatus: RO\nX-Status: A\n\nbody\n\nmore\n"
        );
    }
}
