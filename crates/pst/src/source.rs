//! [`PstDriver`] and [`PstSource`]: PST/OST files as a mailmig post office, one mailbox per
//! file (ARCHITECTURE.md "Data flow"; format notes §16.2).

use std::path::{Path, PathBuf};

use mailmig_ir::{
    Budget, Detection, Directory, DirectoryEntry, Driver, EntryKind, Finding, Folder, FolderKind,
    Inspection, MailboxInfo, MailboxSection, OpenOptions, PostOffice, PropValue, Property,
    Severity, SkippedItem, Source, SourceError, SourceFormat, Warning,
};

use crate::messaging::{MessageIter, NBT_WALK_FAILED, ORPHAN_FOLDER_ID, PstStore};
use crate::ndb::{Header, NID_TYPE_NORMAL_MESSAGE, NdbError, nid_type};

pub use mailmig_ir::blob::FileMap;

/// Maps a PST/OST file read-only ([`FileMap::open`]), with errors naming the file.
pub fn map_file(path: &Path) -> Result<FileMap, SourceError> {
    FileMap::open(path).map_err(|e| SourceError::io(path, e))
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.display().to_string())
}

fn ndb_error(path: &Path, e: NdbError) -> SourceError {
    let offset = e.offset().unwrap_or(0);
    SourceError::format(file_name(path), offset, e.to_string())
}

/// Opens one store with the options.
pub fn open_store(path: &Path, options: &OpenOptions) -> Result<PstStore, SourceError> {
    let store = open_store_resident(path, options)?;
    // Opening read the header and the store PC; none of it is needed resident
    // until the mailbox is read.
    store.release_pages();
    Ok(store)
}

/// [`open_store`] without releasing the pages that opening read, for a caller that reads more
/// of the store first and then releases them all at once.
fn open_store_resident(path: &Path, options: &OpenOptions) -> Result<PstStore, SourceError> {
    let map = map_file(path)?;
    let mut store = PstStore::open(
        map.bytes(),
        &file_name(path),
        options.salvage,
        options.code_page,
        options.limits.clone(),
    )
    .map_err(|e| ndb_error(path, e))?;
    store.set_file_map(map);
    store.set_skip_properties(options.skip_properties);
    Ok(store)
}

/// The PST/OST driver (`--from pst`).
#[derive(Clone, Copy, Debug, Default)]
pub struct PstDriver;

impl Driver for PstDriver {
    fn name(&self) -> &'static str {
        "pst"
    }

    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection> {
        if path.is_dir() || !head.starts_with(b"!BDN") {
            return None;
        }
        let summary = match Header::parse(head) {
            Ok(h) => h.summary(),
            Err(_) => "PST/OST (header truncated)".to_string(),
        };
        Some(Detection {
            driver: "pst".into(),
            confidence: 100,
            summary,
            convertible: true,
        })
    }

    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError> {
        let file = file_name(path);
        let mut salvage_opts = options.clone();
        salvage_opts.salvage = true;
        let mut findings = Vec::new();
        let budget = Budget::new(options.limits.mailbox_time_budget);
        // Strict first, as `convert` without `--salvage` reads the file: a damaged header, or a
        // node B-tree that cannot be walked to the end, is an error (convert exits 1 on it).
        // Then the file is described as salvage mode reads it.
        let mut strict_walk = Vec::new();
        if !options.salvage {
            match open_store(path, options) {
                Err(e) => findings.push(
                    Finding::new(
                        Severity::Error,
                        "pst.open-strict",
                        format!("{e} (salvage mode can open it)"),
                    )
                    .in_file(file.clone()),
                ),
                Ok(strict) => {
                    for w in strict.folder_tree(&budget)?.warnings {
                        if w.code == NBT_WALK_FAILED {
                            let mut f = warning_finding(w);
                            f.message.push_str(
                                "; convert skips the messages listed only in the unreadable \
                                 part (salvage mode recovers what a scan of the file finds)",
                            );
                            strict_walk.push(f);
                        }
                    }
                }
            }
        }
        let store = open_store(path, &salvage_opts)?;
        let h = store.ndb().header().clone();
        let tree = store.folder_tree(&budget)?;
        // A strict walk failure that salvage mode meets at the same place is reported once,
        // below, as the salvage walk's.
        findings.extend(strict_walk.into_iter().filter(|f| {
            !tree
                .warnings
                .iter()
                .any(|w| w.code == NBT_WALK_FAILED && w.offset == f.offset)
        }));
        let mut folders_json = Vec::new();
        let mut total = 0usize;
        for f in &tree.folders {
            let mut w = Vec::new();
            let n = store.folder_messages(f.nid, &tree, &mut w).len();
            total += n;
            folders_json.push(serde_json::json!({
                "id": f.folder.id, "parent": f.folder.parent, "name": f.folder.name,
                "kind": f.folder.kind, "class": f.folder.container_class,
                "declared_count": f.folder.declared_count, "messages": n,
            }));
        }
        for w in store
            .ndb()
            .warnings()
            .into_iter()
            .chain(tree.warnings.clone())
        {
            findings.push(warning_finding(w));
        }
        if !tree.orphans.is_empty() {
            findings.push(
                Finding::new(
                    Severity::Warning,
                    "pst.orphans",
                    format!(
                        "{} message(s) not reachable from any folder (salvage mode recovers them)",
                        tree.orphans.len()
                    ),
                )
                .in_file(file.clone()),
            );
        }
        findings.push(Finding::new(
            Severity::Info,
            "pst.counts",
            format!("{} folders, {total} messages", tree.folders.len()),
        ));
        let details = serde_json::json!({
            "file": file,
            "header": {
                "wMagicClient": h.client_magic_str(), "wVer": h.version, "wVerClient": h.client_version,
                "bPlatformCreate": h.platform_create, "bPlatformAccess": h.platform_access,
                "format": h.format.describe(), "bCryptMethod": h.crypt.describe(),
                "dwCRCPartial": format!("0x{:08X}", h.crc_partial),
                "dwCRCPartial_computed": format!("0x{:08X}", h.crc_partial_computed),
                "dwCRCFull": h.crc_full.map(|c| format!("0x{c:08X}")),
                "dwCRCFull_computed": h.crc_full_computed.map(|c| format!("0x{c:08X}")),
                "ibFileEof": h.file_eof, "fAMapValid": h.amap_valid,
                "nbt_root": {"bid": h.nbt_root.bid, "ib": h.nbt_root.ib},
                "bbt_root": {"bid": h.bbt_root.bid, "ib": h.bbt_root.ib},
                "nbt_root_used": {"bid": store.ndb().nbt_root().bid, "ib": store.ndb().nbt_root().ib},
                "bbt_root_used": {"bid": store.ndb().bbt_root().bid, "ib": store.ndb().bbt_root().ib},
            },
            "store": { "display_name": store.display_name(), "code_page": store.code_page(), "named_properties": store.names().len() },
            "folders": folders_json,
            "orphans": tree.orphans.len(),
        });
        Ok(Inspection {
            driver: "pst".into(),
            format: Some(SourceFormat::Pst),
            summary: format!(
                "{} — {}",
                h.summary(),
                store.display_name().unwrap_or_default()
            ),
            findings,
            details,
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        Ok(Box::new(PstSource::open(paths, options)?))
    }
}

/// A reader warning as an `inspect` finding. A node B-tree walk that failed is an error:
/// the messages past the failure cannot be listed, in either mode (convert exits 1 on it).
fn warning_finding(w: Warning) -> Finding {
    let severity = if w.code == NBT_WALK_FAILED {
        Severity::Error
    } else {
        Severity::Warning
    };
    let mut f = Finding::new(severity, w.code, w.message);
    f.file = w.file;
    f.offset = w.offset;
    f
}

/// One or many PST/OST files as a post office: each file is one mailbox.
pub struct PstSource {
    post_office: PostOffice,
    mailboxes: Vec<MailboxInfo>,
    stores: Vec<PstStore>,
    options: OpenOptions,
    /// Message nodes in each store's node B-tree ([`Source::work_estimate`]).
    message_nodes: Vec<Option<u64>>,
}

impl PstSource {
    /// Opens the files (header and store properties only).
    pub fn open(paths: &[PathBuf], options: &OpenOptions) -> Result<Self, SourceError> {
        let mut stores = Vec::with_capacity(paths.len());
        let mut message_nodes = Vec::with_capacity(paths.len());
        let mut mailboxes: Vec<MailboxInfo> = Vec::with_capacity(paths.len());
        let mut directory = Directory::default();
        let mut warnings = Vec::new();
        for path in paths {
            // The pages read to open the store are released with those of its NBT, by
            // `count_message_nodes` below.
            let store = open_store_resident(path, options)?;
            let stem = path
                .file_stem()
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "pst".into());
            let base = mailmig_ir::text::safe_component(&stem, 64, "pst");
            let mut key = base.clone();
            let mut n = 2;
            while mailboxes.iter().any(|m| m.key == key) {
                key = format!("{base}-{n}");
                n += 1;
            }
            let display = store.display_name().unwrap_or_else(|| stem.clone());
            let h = store.ndb().header();
            let properties = vec![
                Property::new("pst:header", PropValue::Text(h.summary())),
                Property::new("pst:file", PropValue::Text(file_name(path))),
            ];
            warnings.extend(store.ndb().warnings());
            directory.entries.push(DirectoryEntry {
                kind: EntryKind::MailboxUser,
                id: key.clone(),
                display_name: display.clone(),
                ..DirectoryEntry::default()
            });
            mailboxes.push(MailboxInfo {
                key: key.clone(),
                display_name: display,
                directory_id: Some(key),
                source_files: vec![file_name(path)],
                properties,
                ..MailboxInfo::default()
            });
            message_nodes.push(count_message_nodes(&store));
            stores.push(store);
        }
        let name = match paths {
            [one] => file_name(one),
            _ => format!("{} PST files", paths.len()),
        };
        Ok(PstSource {
            post_office: PostOffice {
                name,
                format: SourceFormat::Pst,
                code_page: options.code_page,
                directory,
                warnings,
                ..PostOffice::default()
            },
            mailboxes,
            stores,
            options: options.clone(),
            message_nodes,
        })
    }

    /// The opened stores, in mailbox order.
    pub fn stores(&self) -> &[PstStore] {
        &self.stores
    }
}

/// The normal-message nodes in `store`'s node B-tree, or `None` when the tree cannot be walked
/// to the end: a measure of the work its conversion is that opening the store does not give.
/// The walk reads only the NBT's pages (one leaf page per 15 to 20 nodes of any kind with
/// 512-byte pages, far fewer with 4 KiB ones), and releases their mapped pages after it.
fn count_message_nodes(store: &PstStore) -> Option<u64> {
    let mut n = 0u64;
    let walked = store.ndb().walk_nodes(&mut |e| {
        if nid_type(e.nid) == NID_TYPE_NORMAL_MESSAGE {
            n += 1;
        }
        true
    });
    store.release_pages();
    walked.ok().map(|_| n)
}

impl Source for PstSource {
    fn post_office(&self) -> &PostOffice {
        &self.post_office
    }

    fn work_estimate(&self, index: usize) -> Option<u64> {
        self.message_nodes.get(index).copied().flatten()
    }

    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.mailboxes
    }

    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        let i = mailmig_ir::source::mailbox_index(&self.mailboxes, mailbox)?;
        let store = self
            .stores
            .get(i)
            .ok_or_else(|| SourceError::NoSuchMailbox(mailbox.key.clone()))?;
        // Read here, on the mailbox's worker, so that a damaged map is reported with the
        // mailbox; the message stream lets it go when it is dropped.
        if !self.options.no_mail {
            store.names();
        }
        let tree = store.folder_tree(budget)?;
        let mut folders: Vec<Folder> = tree.folders.iter().map(|f| f.folder.clone()).collect();
        let mut warnings = store.ndb().take_warnings();
        // A node B-tree that cannot be walked to the end hides the messages listed only in
        // the unreadable part: that is reported as a skipped item (the run exits 1), not as a
        // warning beside a mailbox that looks complete.
        let mut lost: Vec<SkippedItem> = Vec::new();
        for w in &tree.warnings {
            if w.code == NBT_WALK_FAILED && !self.options.no_mail {
                let mut item = SkippedItem::new(
                    "folder",
                    format!(
                        "{}; messages listed only in the unreadable part cannot be found",
                        w.message
                    ),
                )
                .in_file(store.ndb().file().to_string());
                if let Some(offset) = w.offset {
                    item = item.at(offset);
                }
                lost.push(item);
            } else {
                warnings.push(w.clone());
            }
        }
        if !tree.orphans.is_empty() {
            if store.salvage() {
                folders.push(Folder {
                    id: ORPHAN_FOLDER_ID.into(),
                    parent: None,
                    name: "Recovered (orphans)".into(),
                    kind: FolderKind::Custom,
                    ..Folder::default()
                });
            } else {
                warnings.push(
                    Warning::new(
                        "pst.orphans",
                        format!(
                            "{} message(s) are not reachable from any exported folder; use salvage mode to recover them",
                            tree.orphans.len()
                        ),
                    )
                    .in_file(store.ndb().file().to_string()),
                );
            }
        }
        if self.options.no_mail {
            let mut s = MailboxSection::empty(folders);
            s.warnings = warnings;
            return Ok(s);
        }
        Ok(MailboxSection {
            folders,
            messages: Box::new(lost.into_iter().map(Err).chain(MessageIter::new(
                store,
                tree,
                budget.clone(),
            ))),
            warnings,
        })
    }
}
