//! The [`Sink`] trait: an output format the run engine writes mailbox sections into.
//!
//! The engine owns the directory layout and the atomic commits: it gives each mailbox a fresh
//! temporary directory, calls the sink's [`MailboxWriter`] for every message, and renames the
//! directory into place once [`MailboxWriter::finish`] succeeds. Post-office-level files (an
//! Exchange packing list, `post_office.jsonl`) are written by [`Sink::finish`] at the end.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{Folder, MailboxInfo, Message, PostOffice};

/// Everything a sink knows about the mailbox it is about to write.
#[derive(Clone, Copy, Debug)]
pub struct MailboxContext<'a> {
    /// The post office.
    pub post_office: &'a PostOffice,
    /// The mailbox.
    pub mailbox: &'a MailboxInfo,
    /// Its folder tree (parents first).
    pub folders: &'a [Folder],
    /// The name of the mailbox's directory in the output tree (unique, stable).
    pub dir_name: &'a str,
    /// `--no-mail`: no messages will follow; the section must still be written.
    pub no_mail: bool,
}

/// What a mailbox writer wrote.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct WrittenStats {
    /// Messages written.
    pub messages: u64,
    /// Attachments written (all levels).
    pub attachments: u64,
    /// Bytes written to disk.
    pub bytes: u64,
}

/// A mailbox that has been committed to the output tree, as [`Sink::finish`] sees it — also
/// one committed by an earlier, interrupted run, so `finish` must not rely on state kept
/// from [`Sink::open_mailbox`] alone.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CommittedMailbox {
    /// The mailbox key.
    pub key: String,
    /// Its directory name in the output tree.
    pub dir_name: String,
    /// Display name of its owner.
    pub display_name: String,
    /// The committed directory on disk (not serialised: it depends on where the output is).
    #[serde(skip)]
    pub path: PathBuf,
    /// The mailbox as the source describes it (not serialised).
    #[serde(skip)]
    pub mailbox: MailboxInfo,
}

/// Why a sink failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    /// Writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The message cannot be represented in this output format.
    #[error("{0}")]
    Unrepresentable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

impl SinkError {
    /// A [`SinkError::Io`] for `path`.
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().display().to_string(),
            source,
        }
    }
}

/// Writes one mailbox section.
pub trait MailboxWriter {
    /// Writes one message.
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError>;

    /// Flushes and closes everything; the engine commits the directory after this returns.
    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError>;
}

/// An output format.
pub trait Sink: Send + Sync {
    /// Short name used by `--to`.
    fn name(&self) -> &'static str;

    /// Opens a writer for one mailbox, writing only below `dir` (an empty directory).
    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError>;

    /// Whether the writer reads the `properties` of messages, addresses and attachments (true
    /// unless it says otherwise). `convert` tells the reader when it does not
    /// ([`crate::OpenOptions::skip_properties`]), which saves decoding values that would be
    /// thrown away.
    fn keeps_properties(&self) -> bool {
        true
    }

    /// Writes post-office-level files into `dir` (an empty staging directory whose files the
    /// engine moves into the output root) after every mailbox has been committed. `mailboxes`
    /// lists them in source order.
    fn finish(
        &self,
        post_office: &PostOffice,
        mailboxes: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        let _ = (post_office, mailboxes, dir);
        Ok(())
    }
}
