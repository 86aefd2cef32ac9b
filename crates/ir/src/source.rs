//! The [`Source`] trait (a decoded post office, mailbox by mailbox) and the [`Driver`] trait
//! (detect, inspect and open one input format).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{
    Budget, Folder, Limits, MailboxInfo, Message, PostOffice, SkippedItem, SourceFormat, Warning,
};

/// Options every format reader takes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct OpenOptions {
    /// Code page to decode 8-bit text with, overriding what the source declares
    /// (`--code-page`).
    pub code_page: Option<u16>,
    /// Salvage mode (`--salvage`): skip bad records, scan for orphans, accept damaged headers.
    pub salvage: bool,
    /// Read no messages (`--no-mail`): sections carry folders and owners only.
    pub no_mail: bool,
    /// Enable readers labelled experimental (`--experimental`).
    pub experimental: bool,
    /// The output has nowhere to put the `properties` of messages, addresses and attachments
    /// ([`crate::Sink::keeps_properties`] is false), so a reader may leave them empty instead
    /// of decoding them. Everything else is read as always: mapped fields, bodies,
    /// attachments, source identifiers, warnings.
    #[serde(default)]
    pub skip_properties: bool,
    /// Bounds on work and memory.
    pub limits: Limits,
}

/// A stream of messages: each item is a decoded message or an item that had to be skipped.
/// Producing the next item may take time; sources should check their [`Budget`].
pub type MessageStream<'s> = Box<dyn Iterator<Item = Result<Message, SkippedItem>> + Send + 's>;

/// One mailbox user's section, opened: folder tree and a lazy message stream.
///
/// Every mailbox user of the directory gets one (guarantee 2, KB Q194218), even when it has no
/// folders or messages.
pub struct MailboxSection<'s> {
    /// Folder tree (parents before children).
    pub folders: Vec<Folder>,
    /// The messages, produced one at a time.
    pub messages: MessageStream<'s>,
    /// Warnings about the mailbox as a whole.
    pub warnings: Vec<Warning>,
}

impl<'s> MailboxSection<'s> {
    /// A section with folders and no messages.
    pub fn empty(folders: Vec<Folder>) -> Self {
        Self {
            folders,
            messages: Box::new(std::iter::empty()),
            warnings: Vec::new(),
        }
    }
}

/// A decoded post office that hands out its mailboxes.
///
/// `Sync` so the engine can open several mailboxes at once on worker threads; a source
/// typically holds a memory map and shares it.
pub trait Source: Send + Sync {
    /// The post office and its directory.
    fn post_office(&self) -> &PostOffice;

    /// Every mailbox user, in a stable order. Must include users with no mail.
    fn mailboxes(&self) -> &[MailboxInfo];

    /// Opens one mailbox. Long work belongs in the returned stream, not here; implementations
    /// honour `budget` in both.
    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError>;

    /// How much work converting mailbox `index` of [`Source::mailboxes`] is, in a unit of the
    /// source's choosing that is comparable between its mailboxes (the PST source counts
    /// message nodes), or `None` when the source cannot tell cheaply. The engine starts the
    /// largest first, so that a long mailbox does not start last and run alone; the output does
    /// not depend on it. By default `None` for every mailbox: they start in order.
    fn work_estimate(&self, index: usize) -> Option<u64> {
        let _ = index;
        None
    }
}

/// The position of `mailbox` (matched by key) in a source's `mailboxes`, or
/// [`SourceError::NoSuchMailbox`]: the lookup every [`Source::open_mailbox`] starts with.
///
/// The run engine passes an element of `mailboxes` itself; that is found from its address
/// without a search, so opening every mailbox of a large post office stays linear in all.
pub fn mailbox_index(
    mailboxes: &[MailboxInfo],
    mailbox: &MailboxInfo,
) -> Result<usize, SourceError> {
    let size = std::mem::size_of::<MailboxInfo>();
    let at = (mailbox as *const MailboxInfo as usize).wrapping_sub(mailboxes.as_ptr() as usize);
    if size > 0
        && at.is_multiple_of(size)
        && mailboxes
            .get(at / size)
            .is_some_and(|m| std::ptr::eq(m, mailbox))
    {
        return Ok(at / size);
    }
    mailboxes
        .iter()
        .position(|m| m.key == mailbox.key)
        .ok_or_else(|| SourceError::NoSuchMailbox(mailbox.key.clone()))
}

/// Why a source or a mailbox could not be opened.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// Reading the input failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The input is damaged or not of the expected format.
    #[error("{file}: {message} at offset {offset}")]
    Format {
        /// The file.
        file: String,
        /// Byte offset.
        offset: u64,
        /// What is wrong, naming the field and its value.
        message: String,
    },
    /// The input is recognised but cannot be converted; `explanation` tells the user what can
    /// be done instead (e.g. how to produce cc:Mail exports, how to get an MMF into a PST).
    #[error("{explanation}")]
    Unsupported {
        /// What was recognised.
        what: String,
        /// What to do.
        explanation: String,
    },
    /// The mailbox is not known to this source.
    #[error("no mailbox {0:?} in this source")]
    NoSuchMailbox(String),
    /// The work was stopped by its [`Budget`].
    #[error("{0}")]
    Interrupted(#[from] crate::Interrupted),
}

impl SourceError {
    /// A [`SourceError::Format`].
    pub fn format(file: impl Into<String>, offset: u64, message: impl Into<String>) -> Self {
        Self::Format {
            file: file.into(),
            offset,
            message: message.into(),
        }
    }

    /// A [`SourceError::Io`].
    pub fn io(path: impl AsRef<Path>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.as_ref().to_path_buf(),
            source,
        }
    }
}

/// A driver's verdict that it recognises an input.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Detection {
    /// Which driver (`pst`, `ccmail`, `mmf`, …).
    pub driver: String,
    /// How sure, 0–100. Magic numbers give 100; name patterns less.
    pub confidence: u8,
    /// What was seen, e.g. `PST, Unicode (wVer 23), permute encoding`.
    pub summary: String,
    /// True when the driver can convert it (false for recognised-only inputs such as MMF files
    /// or cc:Mail binary post offices).
    pub convertible: bool,
}

/// How serious a [`Finding`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For information.
    Info,
    /// Unusual but tolerated.
    Warning,
    /// Damage or an inconsistency that will lose data or stall a migration.
    Error,
}

/// One fact reported by `inspect`: a count, a problem, an instruction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Finding {
    /// How serious.
    pub severity: Severity,
    /// Stable slug (`msmail.record-size`, `ccmail.export-command`, …).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The file concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Byte offset in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Finding {
    /// A finding.
    pub fn new(severity: Severity, code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            severity,
            code: code.into(),
            message: message.into(),
            file: None,
            offset: None,
        }
    }

    /// Sets the file.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Sets the offset.
    pub fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }
}

/// What `mailmig inspect` prints about an input.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Inspection {
    /// Which driver.
    pub driver: String,
    /// The format, when the input is a convertible source.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub format: Option<SourceFormat>,
    /// One-line summary.
    pub summary: String,
    /// Facts, problems and instructions, in reading order.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Format-specific details (header fields, counts, folder tree…).
    #[serde(default)]
    pub details: serde_json::Value,
}

/// One input format: detects it, inspects it and opens it as a [`Source`].
///
/// The command line holds a list of drivers and asks each in turn; a format crate exports one
/// (or more, e.g. one for readable files and one for recognised-only files).
pub trait Driver: Send + Sync {
    /// Short name used by `--from` (`pst`, `ccmail`, `iff`, `mmff`, `jsonl`, …).
    fn name(&self) -> &'static str;

    /// Looks at an input path (a file or a directory) and, for files, its first bytes (up to
    /// 4 KiB). Cheap: must not read the whole input.
    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection>;

    /// Describes the input for `mailmig inspect`, reporting damage as findings.
    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError>;

    /// Opens the inputs (all detected as this format) as one post office.
    fn open(
        &self,
        paths: &[PathBuf],
        options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn infos(keys: &[&str]) -> Vec<MailboxInfo> {
        keys.iter()
            .map(|k| MailboxInfo {
                key: (*k).into(),
                ..MailboxInfo::default()
            })
            .collect()
    }

    #[test]
    fn a_mailbox_is_found_by_address_then_by_key() {
        let list = infos(&["a", "b", "c", "d"]);
        for (i, m) in list.iter().enumerate() {
            assert_eq!(mailbox_index(&list, m).unwrap(), i);
        }
        // Found from its address, not by a search: with a repeated key the search would
        // give the first.
        let twice = infos(&["a", "x", "x"]);
        assert_eq!(mailbox_index(&twice, &twice[2]).unwrap(), 2);
        // A copy, or an element of another list, is found by key.
        assert_eq!(mailbox_index(&list, &list[2].clone()).unwrap(), 2);
        let reversed: Vec<MailboxInfo> = list.iter().rev().cloned().collect();
        assert_eq!(mailbox_index(&list, &reversed[0]).unwrap(), 3);
        assert_eq!(mailbox_index(&list[1..], &list[0]).ok(), None);
        assert!(matches!(
            mailbox_index(&list, &infos(&["zz"])[0]),
            Err(SourceError::NoSuchMailbox(k)) if k == "zz"
        ));
    }
}
