//! [`PstSink`]: the `mailmig_ir::Sink` that writes one new Unicode PST per mailbox
//! (`--to pst`; format notes §17).
//!
//! Each mailbox becomes `<dir>/<dir_name>.pst`, where `dir_name` is the engine's stable,
//! file-system-safe name for the mailbox ([`MailboxContext::dir_name`]). The store is named
//! after the mailbox owner's display name; its record key is derived from the mailbox key, so
//! the same input always gives the same file.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mailmig_ir::{
    FolderKind, MailboxContext, MailboxWriter, Message, Sink, SinkError, WrittenStats,
};

use super::WriteError;
use super::ndb::NdbWriter;
use super::store::{FolderHandle, StoreWriter};
use crate::ndb::CryptMethod;

/// The PST sink (`--to pst`).
#[derive(Clone, Copy, Debug)]
pub struct PstSink {
    crypt: CryptMethod,
}

impl Default for PstSink {
    /// Permute encoding, as Outlook writes by default.
    fn default() -> Self {
        PstSink::new(CryptMethod::Permute)
    }
}

impl PstSink {
    /// A sink encoding data blocks with `crypt`: [`CryptMethod::Permute`] (what Outlook
    /// does) or [`CryptMethod::None`] (readable in a hex dump, for debugging).
    pub fn new(crypt: CryptMethod) -> Self {
        PstSink { crypt }
    }
}

fn sink_err(path: &Path, e: WriteError) -> SinkError {
    match e {
        WriteError::Io { source, .. } => SinkError::io(path, source),
        WriteError::Unrepresentable(m) => {
            SinkError::Unrepresentable(format!("{}: {m}", path.display()))
        }
        other => SinkError::Other(format!("{}: {other}", path.display())),
    }
}

/// A record key derived from the mailbox key: four CRC-32 values of the key with different
/// prefixes. Deterministic, so repeated runs write identical files.
pub fn record_key_for(key: &str) -> [u8; 16] {
    let mut out = [0u8; 16];
    for (i, chunk) in out.chunks_mut(4).enumerate() {
        let mut h = crc32fast::Hasher::new();
        h.update(b"mailmig-pst-record-key");
        h.update(&[i as u8]);
        h.update(key.as_bytes());
        chunk.copy_from_slice(&h.finalize().to_le_bytes());
    }
    out
}

impl Sink for PstSink {
    fn name(&self) -> &'static str {
        "pst"
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let path = dir.join(format!("{}.pst", ctx.dir_name));
        let ndb = NdbWriter::create(&path, self.crypt).map_err(|e| sink_err(&path, e))?;
        let name = if ctx.mailbox.display_name.is_empty() {
            ctx.mailbox.key.clone()
        } else {
            ctx.mailbox.display_name.clone()
        };
        let mut store = StoreWriter::new(ndb, &name, record_key_for(&ctx.mailbox.key));
        // An unlinked temporary file beside the PST: removed by the OS whatever happens.
        let spill = tempfile::tempfile_in(dir).map_err(|e| SinkError::io(dir, e))?;
        store.spill_rows_to(super::store::RowSpill::new(spill));
        let mut map: HashMap<String, FolderHandle> = HashMap::new();
        let mut claimed: Vec<FolderKind> = Vec::new();
        let mut root_seen = false;
        for f in ctx.folders {
            let class = f.container_class.as_deref();
            let handle = if f.kind == FolderKind::Root && !root_seen {
                root_seen = true;
                store.ipm_subtree()
            } else if let Some(h) = (f.kind != FolderKind::Custom
                && f.kind != FolderKind::Root
                && !claimed.contains(&f.kind))
            .then(|| store.standard_folder(f.kind))
            .flatten()
            {
                claimed.push(f.kind);
                store.rename_folder(h, &f.name, class);
                h
            } else {
                let parent = f
                    .parent
                    .as_ref()
                    .and_then(|p| map.get(p).copied())
                    .unwrap_or_else(|| store.ipm_subtree());
                store
                    .add_folder(parent, &f.name, class)
                    .map_err(|e| sink_err(&path, e))?
            };
            map.insert(f.id.clone(), handle);
        }
        let fallback = store
            .standard_folder(FolderKind::Inbox)
            .unwrap_or_else(|| store.ipm_subtree());
        Ok(Box::new(PstMailboxWriter {
            path,
            store,
            folders: map,
            fallback,
            stats: WrittenStats::default(),
        }))
    }
}

/// Writes one mailbox's PST (see [`PstSink`]).
pub struct PstMailboxWriter {
    path: PathBuf,
    store: StoreWriter<NdbWriter>,
    folders: HashMap<String, FolderHandle>,
    fallback: FolderHandle,
    stats: WrittenStats,
}

impl MailboxWriter for PstMailboxWriter {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let f = message
            .folder
            .as_ref()
            .and_then(|id| self.folders.get(id).copied())
            .unwrap_or(self.fallback);
        let w = self
            .store
            .write_message(f, message)
            .map_err(|e| sink_err(&self.path, e))?;
        self.stats.messages += 1;
        self.stats.attachments += w.attachments;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        let path = self.path;
        let ndb = self.store.finish().map_err(|e| sink_err(&path, e))?;
        let summary = ndb.finish().map_err(|e| sink_err(&path, e))?;
        let mut stats = self.stats;
        stats.bytes = summary.file_size;
        Ok(stats)
    }
}
