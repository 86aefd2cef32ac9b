//! [`EmlSink`]: one RFC 5322 `.eml` file per message.
//!
//! Layout: `DIR/<folder path>/NNNNNN.eml`, the folder path made of
//! [`safe_component`](mailmig_ir::text::safe_component) names (children nested inside their
//! parent's directory), `NNNNNN` a 6-digit sequence per folder starting at `000001` (wider
//! past 999999). Every folder gets its directory, empty when it holds no mail; `Inbox/` always
//! exists ([`super::layout`]). Files have CRLF line ends as RFC 5322 wants and as `.eml`
//! readers (Outlook, Thunderbird) expect; content is rendered by [`super::mime`].

use std::path::{Path, PathBuf};

use mailmig_ir::{MailboxContext, MailboxWriter, Message, Sink, SinkError, WrittenStats};

use super::layout::FolderLayout;
use super::mime::{MessagePlace, render_message_to};
use super::{create_dir_all, path_component, render_to_file};

/// Writes each message as a `.eml` file (`--to eml`).
#[derive(Clone, Copy, Debug, Default)]
pub struct EmlSink;

impl EmlSink {
    /// The sink.
    pub fn new() -> Self {
        Self
    }
}

struct EmlWriter<'a> {
    key: &'a str,
    layout: FolderLayout,
    dirs: Vec<PathBuf>,
    counters: Vec<u64>,
    seq: u64,
    stats: WrittenStats,
}

impl Sink for EmlSink {
    fn name(&self) -> &'static str {
        "eml"
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
        let mut dirs = Vec::with_capacity(paths.len());
        for p in &paths {
            let mut d = dir.to_path_buf();
            for c in p {
                d.push(c);
            }
            create_dir_all(&d)?;
            dirs.push(d);
        }
        Ok(Box::new(EmlWriter {
            key: ctx.mailbox.key.as_str(),
            counters: vec![0; dirs.len()],
            layout,
            dirs,
            seq: 0,
            stats: WrittenStats::default(),
        }))
    }
}

impl MailboxWriter for EmlWriter<'_> {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let place = MessagePlace {
            mailbox_key: self.key,
            seq: self.seq,
        };
        self.seq += 1;
        let slot = self.layout.slot_for(message.folder.as_deref());
        let (Some(dir), Some(counter)) = (self.dirs.get(slot), self.counters.get_mut(slot)) else {
            return Err(SinkError::Other(format!(
                "no directory for folder slot {slot}"
            )));
        };
        *counter += 1;
        let path = dir.join(format!("{:06}.eml", *counter));
        let written =
            match render_to_file(&path, false, |out| render_message_to(message, place, out)) {
                Ok((_, n)) => n,
                Err(e) => {
                    // The number of a message that could not be written is free for the
                    // next one (as when rendering came first).
                    *counter -= 1;
                    return Err(e);
                }
            };
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        self.stats.bytes += written;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        Ok(self.stats)
    }
}
