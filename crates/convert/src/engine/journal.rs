//! The run journal `out_dir/.mailmig/journal.jsonl` (guarantee 5, KB 842101).
//!
//! JSON Lines. The first line is a [`JournalHeader`] naming the run (the caller's fingerprint,
//! the sink, `--no-mail`); every further line is a [`JournalEntry`] appended, and `fsync`ed,
//! after a mailbox directory was renamed into the output tree. A re-run reads the journal,
//! skips the mailboxes it lists and takes their report entries from it.
//!
//! A process killed while appending leaves a last line without its newline; [`Journal::open`]
//! cuts such a torn tail off, so that mailbox is simply redone.

use std::fs::{File, OpenOptions};
use std::io::{Read as _, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::EngineError;
use super::layout::Durability;
use super::report::MailboxReport;

/// Format version of the journal.
pub const JOURNAL_VERSION: u32 = 1;

/// Largest journal read back (1 GiB); a bigger file is not something this engine wrote.
const MAX_JOURNAL_BYTES: u64 = 1 << 30;

/// First line of the journal.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalHeader {
    /// [`JOURNAL_VERSION`].
    pub mailmig_journal: u32,
    /// The caller's description of inputs, format and options
    /// ([`RunOptions::fingerprint`](super::RunOptions::fingerprint)).
    pub fingerprint: String,
    /// [`Sink::name`](mailmig_ir::Sink::name).
    pub sink: String,
    /// `--no-mail`.
    pub no_mail: bool,
}

/// One committed mailbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Position of the mailbox in [`Source::mailboxes`](mailmig_ir::Source::mailboxes).
    pub index: u64,
    /// Its report entry (which carries key and dir_name).
    pub report: MailboxReport,
}

/// An open journal, positioned for appending.
pub(crate) struct Journal {
    path: PathBuf,
    file: File,
    durability: Durability,
}

impl Journal {
    /// Opens the journal at `path` for a run described by `header`.
    ///
    /// A missing or empty journal is created with `header`; an existing one must carry the
    /// same header ([`EngineError::FingerprintMismatch`] otherwise) and yields its entries.
    pub(crate) fn open(
        path: &Path,
        header: &JournalHeader,
        durability: Durability,
    ) -> Result<(Self, Vec<JournalEntry>), EngineError> {
        let io = |e| EngineError::io(path, e);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > MAX_JOURNAL_BYTES {
            return Err(EngineError::JournalCorrupt {
                path: path.to_path_buf(),
                line: 0,
                message: format!("{len} bytes is larger than any journal mailmig writes"),
            });
        }
        let mut text = Vec::new();
        file.read_to_end(&mut text).map_err(io)?;
        let complete = match text.iter().rposition(|&b| b == b'\n') {
            Some(p) => p + 1,
            None => 0,
        };
        if complete < text.len() {
            // Torn last line from a killed process: drop it.
            file.set_len(complete as u64).map_err(io)?;
            if durability.syncs() {
                file.sync_data().map_err(io)?;
            }
            text.truncate(complete);
        }
        let mut lines = text.split(|&b| b == b'\n').filter(|l| !l.is_empty());
        let mut entries = Vec::new();
        match lines.next() {
            None => {
                file.set_len(0).map_err(io)?;
                let mut line =
                    serde_json::to_vec(header).map_err(|e| EngineError::io(path, e.into()))?;
                line.push(b'\n');
                file.seek(SeekFrom::Start(0)).map_err(io)?;
                file.write_all(&line).map_err(io)?;
                if durability.syncs() {
                    file.sync_all().map_err(io)?;
                }
                if let Some(dir) = path.parent() {
                    super::layout::sync_dir(dir, durability)
                        .map_err(|e| EngineError::io(dir, e))?;
                }
            }
            Some(first) => {
                let found: JournalHeader =
                    serde_json::from_slice(first).map_err(|e| EngineError::JournalCorrupt {
                        path: path.to_path_buf(),
                        line: 1,
                        message: e.to_string(),
                    })?;
                if found != *header {
                    return Err(EngineError::FingerprintMismatch {
                        path: path.to_path_buf(),
                        found: describe(&found),
                        expected: describe(header),
                    });
                }
                for (n, l) in lines.enumerate() {
                    let entry: JournalEntry =
                        serde_json::from_slice(l).map_err(|e| EngineError::JournalCorrupt {
                            path: path.to_path_buf(),
                            line: n as u64 + 2,
                            message: e.to_string(),
                        })?;
                    entries.push(entry);
                }
                file.seek(SeekFrom::End(0)).map_err(io)?;
            }
        }
        Ok((
            Self {
                path: path.to_path_buf(),
                file,
                durability,
            },
            entries,
        ))
    }

    /// The durability the journal was opened with.
    pub(crate) fn durability(&self) -> Durability {
        self.durability
    }

    /// Appends one entry as a single `write` and `fsync`s it (unless relaxed).
    pub(crate) fn append(&mut self, entry: &JournalEntry) -> Result<(), EngineError> {
        let mut line =
            serde_json::to_vec(entry).map_err(|e| EngineError::io(&self.path, e.into()))?;
        line.push(b'\n');
        self.file
            .write_all(&line)
            .and_then(|()| {
                if self.durability.syncs() {
                    self.file.sync_data()
                } else {
                    Ok(())
                }
            })
            .map_err(|e| EngineError::io(&self.path, e))
    }
}

fn describe(h: &JournalHeader) -> String {
    format!(
        "fingerprint {:?}, sink {}, no_mail {}",
        h.fingerprint, h.sink, h.no_mail
    )
}

/// Reads only the header of the journal at `path`, if it has one.
pub(crate) fn read_header(path: &Path) -> Result<Option<JournalHeader>, EngineError> {
    let mut file = match File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(EngineError::io(path, e)),
    };
    let mut first = Vec::new();
    let mut buf = [0u8; 4096];
    let mut complete = false;
    while first.len() <= 1 << 20 {
        let n = file.read(&mut buf).map_err(|e| EngineError::io(path, e))?;
        let chunk = buf.get(..n).unwrap_or_default();
        if chunk.is_empty() {
            break;
        }
        if let Some(p) = chunk.iter().position(|&b| b == b'\n') {
            first.extend_from_slice(chunk.get(..p).unwrap_or_default());
            complete = true;
            break;
        }
        first.extend_from_slice(chunk);
    }
    if !complete {
        // Empty, or a header torn by a killed process: nothing was committed after it.
        return Ok(None);
    }
    serde_json::from_slice(&first)
        .map(Some)
        .map_err(|e| EngineError::JournalCorrupt {
            path: path.to_path_buf(),
            line: 1,
            message: e.to_string(),
        })
}
