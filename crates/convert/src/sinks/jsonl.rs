//! [`JsonlSink`]: mailmig JSON Lines, the lossless dump of the IR.
//!
//! `DIR/mailbox.jsonl` holds a `mailbox` line (the [`MailboxInfo`](mailmig_ir::MailboxInfo)
//! and the folder tree) followed by one `message` line per message; [`Sink::finish`] writes
//! `post_office.jsonl` with the `post_office` line (the post office and the committed
//! mailboxes) into the output root. Record shapes: [`crate::jsonl::records`]. Read back with
//! [`crate::jsonl::JsonlDriver`].

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mailmig_ir::blob::take_serialize_failure;
use mailmig_ir::{
    CommittedMailbox, MailboxContext, MailboxWriter, Message, PostOffice, Sink, SinkError,
    WrittenStats,
};

use crate::jsonl::records::{MailboxLine, MessageLine, PostOfficeLine};

/// File name of a mailbox's JSON Lines file.
pub const MAILBOX_FILE: &str = "mailbox.jsonl";
/// File name of the post-office file in the output root.
pub const POST_OFFICE_FILE: &str = "post_office.jsonl";

/// Writes mailmig JSON Lines (`--to jsonl`).
#[derive(Clone, Copy, Debug, Default)]
pub struct JsonlSink;

impl JsonlSink {
    /// The sink.
    pub fn new() -> Self {
        Self
    }
}

struct JsonlWriter {
    path: PathBuf,
    out: Counted<BufWriter<File>>,
    stats: WrittenStats,
}

/// A writer that counts the bytes written through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: Write> Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }

    fn write_all(&mut self, buf: &[u8]) -> std::io::Result<()> {
        self.inner.write_all(buf)?;
        self.bytes += buf.len() as u64;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn json_err(path: &Path, e: serde_json::Error) -> SinkError {
    SinkError::Other(format!("{}: {e}", path.display()))
}

impl Sink for JsonlSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let path = dir.join(MAILBOX_FILE);
        let file = File::create(&path).map_err(|e| SinkError::io(&path, e))?;
        let mut w = JsonlWriter {
            out: Counted {
                inner: BufWriter::with_capacity(1 << 16, file),
                bytes: 0,
            },
            path,
            stats: WrittenStats::default(),
        };
        w.write_line(&MailboxLine {
            record: "mailbox",
            mailbox: ctx.mailbox,
            folders: ctx.folders,
        })?;
        Ok(Box::new(w))
    }

    fn finish(
        &self,
        post_office: &PostOffice,
        mailboxes: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        let path = dir.join(POST_OFFICE_FILE);
        let mut line = serde_json::to_vec(&PostOfficeLine {
            record: "post_office",
            post_office,
            mailboxes,
        })
        .map_err(|e| json_err(&path, e))?;
        line.push(b'\n');
        std::fs::write(&path, line).map_err(|e| SinkError::io(&path, e))
    }
}

impl JsonlWriter {
    /// Writes `record` and its line end straight into the buffered file: nothing of the line
    /// is held apart, so a message with large (streamed) attachments is written in pieces as
    /// their base64 is encoded. A failure leaves a partial line, in a mailbox file that is
    /// then discarded with its failed mailbox.
    fn write_line(&mut self, record: &impl serde::Serialize) -> Result<(), SinkError> {
        let before = self.out.bytes;
        serde_json::to_writer(&mut self.out, record).map_err(|e| json_err(&self.path, e))?;
        self.out
            .write_all(b"\n")
            .map_err(|e| SinkError::io(&self.path, e))?;
        self.stats.bytes += self.out.bytes - before;
        Ok(())
    }
}

impl MailboxWriter for JsonlWriter {
    /// A streamed attachment whose source fails fails the write, as in the MIME writers: the
    /// line would hold only the bytes read before the failure.
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let _earlier = take_serialize_failure();
        self.write_line(&MessageLine {
            record: "message",
            message,
        })?;
        if let Some(e) = take_serialize_failure() {
            return Err(SinkError::Other(format!(
                "attachment data could not be read: {e}"
            )));
        }
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        let JsonlWriter {
            path, out, stats, ..
        } = *self;
        out.inner
            .into_inner()
            .map_err(|e| SinkError::io(&path, e.into_error()))?;
        Ok(stats)
    }
}
