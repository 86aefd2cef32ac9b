//! [`MmffSink`]: the `mmff` output format (`msmail.md` §10.5 writer rules).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use mailmig_ir::{MailboxContext, MailboxWriter, Message, Sink, SinkError, WrittenStats};

use super::LineEnd;
use super::writer::{WriterOptions, write_message_to};

/// Writes each mailbox as a directory of numbered MMFF files `MMFF1.MSG`, `MMFF2.MSG`, …, one
/// message per file, basic format, in the given OEM code page with CR terminators unless
/// changed with [`MmffSink::with_line_end`] / [`MmffSink::extended`]. What cannot be
/// represented (Cc in basic format, Bcc, HTML/RTF bodies, foreign properties) is folded or left
/// out as [`writer::normalise`](super::writer::normalise) documents, and logged with `tracing`.
#[derive(Clone, Debug)]
pub struct MmffSink {
    opts: WriterOptions,
}

impl MmffSink {
    /// A sink writing text in `code_page` (850 for a Western post office, `msmail.md` §8).
    pub fn new(code_page: u16) -> Self {
        Self {
            opts: WriterOptions {
                code_page,
                ..WriterOptions::default()
            },
        }
    }

    /// Chooses the line terminator (`--line-end cr|lf|crlf`).
    pub fn with_line_end(mut self, line_end: LineEnd) -> Self {
        self.opts.line_end = line_end;
        self
    }

    /// Writes extended format (`CC:` lines) instead of basic.
    pub fn extended(mut self, extended: bool) -> Self {
        self.opts.extended = extended;
        self
    }

    /// Cuts subjects to 63 characters (`--mmff-mac`, KB Q117581).
    pub fn mac_subject_limit(mut self, on: bool) -> Self {
        self.opts.mac_subject_limit = on;
        self
    }

    /// The writer options in use.
    pub fn options(&self) -> &WriterOptions {
        &self.opts
    }
}

impl Sink for MmffSink {
    fn name(&self) -> &'static str {
        "mmff"
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        Ok(Box::new(MmffMailboxWriter {
            opts: &self.opts,
            dir: dir.to_path_buf(),
            key: ctx.mailbox.key.clone(),
            stats: WrittenStats::default(),
        }))
    }
}

struct MmffMailboxWriter<'a> {
    opts: &'a WriterOptions,
    dir: PathBuf,
    key: String,
    stats: WrittenStats,
}

impl MailboxWriter for MmffMailboxWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let n = self.stats.messages + 1;
        let path = self.dir.join(format!("MMFF{n}.MSG"));
        let file = File::create(&path).map_err(|e| SinkError::io(&path, e))?;
        let mut out = BufWriter::with_capacity(1 << 16, file);
        let (notes, written) =
            write_message_to(message, self.opts, &mut out).map_err(|e| SinkError::io(&path, e))?;
        out.flush().map_err(|e| SinkError::io(&path, e))?;
        for note in notes.notes {
            tracing::warn!(mailbox = %self.key, message = n, "mmff: {note}");
        }
        self.stats.messages = n;
        self.stats.attachments += message.attachments.len() as u64;
        self.stats.bytes += written;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        Ok(self.stats)
    }
}
