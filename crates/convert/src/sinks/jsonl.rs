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
    out: BufWriter<File>,
    line: Vec<u8>,
    stats: WrittenStats,
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
            out: BufWriter::with_capacity(1 << 16, file),
            path,
            line: Vec::with_capacity(4096),
            stats: WrittenStats::default(),
        };
        serde_json::to_writer(
            &mut w.line,
            &MailboxLine {
                record: "mailbox",
                mailbox: ctx.mailbox,
                folders: ctx.folders,
            },
        )
        .map_err(|e| json_err(&w.path, e))?;
        w.emit()?;
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
    fn emit(&mut self) -> Result<(), SinkError> {
        self.line.push(b'\n');
        self.out
            .write_all(&self.line)
            .map_err(|e| SinkError::io(&self.path, e))?;
        self.stats.bytes += self.line.len() as u64;
        self.line.clear();
        Ok(())
    }
}

impl MailboxWriter for JsonlWriter {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        self.line.clear();
        serde_json::to_writer(
            &mut self.line,
            &MessageLine {
                record: "message",
                message,
            },
        )
        .map_err(|e| json_err(&self.path, e))?;
        self.emit()?;
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        let JsonlWriter {
            path, out, stats, ..
        } = *self;
        out.into_inner()
            .map_err(|e| SinkError::io(&path, e.into_error()))?;
        Ok(stats)
    }
}
