//! Messaging layer: the message store, the folder tree, contents and the lazy message stream
//! (MS-PST 2.4; format notes §10–§11).

pub mod message;
pub mod props;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use mailmig_ir::blob::SharedBytes;
use mailmig_ir::{Blob, Budget, Folder, FolderKind, Limits, Message, SkippedItem, Warning};

use crate::ltp::nameid::NameMap;
use crate::ltp::{LtpError, NodeRef};
use crate::ndb::{
    NID_MESSAGE_STORE, NID_NAME_TO_ID_MAP, NID_ROOT_FOLDER, NID_TYPE_NORMAL_FOLDER,
    NID_TYPE_NORMAL_MESSAGE, Ndb, NdbError, SubnodeMap, nid_type,
};
use message::MsgCtx;
use props::PropBag;

/// Folder id of the synthetic folder that receives orphaned messages in salvage mode.
pub const ORPHAN_FOLDER_ID: &str = "orphans";

/// An opened PST/OST store: the NDB plus the store properties and named-property map.
pub struct PstStore {
    pub(crate) ndb: Ndb,
    /// Read when first needed (by the worker that converts the mailbox, not while every store
    /// of a run is opened) and let go when the mailbox's messages are done.
    names: std::sync::Mutex<Option<Arc<NameMap>>>,
    store: PropBag,
    pub(crate) code_page: u16,
    pub(crate) forced_code_page: Option<u16>,
    salvage: bool,
    /// Leave the `properties` of messages, recipients and attachments empty
    /// ([`mailmig_ir::OpenOptions::skip_properties`]).
    skip_properties: bool,
}

/// The entry-id properties of the IPM subtree that name the special folders
/// (`PidTagIpmAppointmentEntryId` … `PidTagIpmDraftsEntryId`, MS-OXOSFLD 2.2.2), with the role
/// each names. The reader follows them; the writer sets them.
pub(crate) const SPECIAL_FOLDER_ENTRY_IDS: &[(u16, FolderKind)] = &[
    (0x36D0, FolderKind::Calendar),
    (0x36D1, FolderKind::Contacts),
    (0x36D2, FolderKind::Journal),
    (0x36D3, FolderKind::Notes),
    (0x36D4, FolderKind::Tasks),
    (0x36D7, FolderKind::Drafts),
];

/// Warning code of a node B-tree walk that stopped at damage (messages may be missing).
pub const NBT_WALK_FAILED: &str = "pst.nbt-walk";

pub use crate::ndb::RELEASE_BUDGET;

/// One folder of the tree with what is needed to list its messages.
#[derive(Clone, Debug)]
pub struct FolderNode {
    /// The IR folder.
    pub folder: Folder,
    /// Folder NID.
    pub nid: u32,
}

/// The folder tree of a store and the node index built while walking it.
#[derive(Clone, Debug, Default)]
pub struct FolderTree {
    /// Folders, parents first.
    pub folders: Vec<FolderNode>,
    /// Message NIDs per parent NID from the NBT (`nidParent`), sorted.
    pub(crate) children: HashMap<u32, Vec<u32>>,
    /// Messages whose NBT parent is not a folder of the tree (orphans).
    pub orphans: Vec<u32>,
    /// Warnings met while walking.
    pub warnings: Vec<Warning>,
}

fn entry_id_nid(b: &Blob) -> Option<u32> {
    let b = b.as_bytes();
    (b.len() >= 24).then(|| crate::bytes::le32(b, 20))
}

impl PstStore {
    /// Opens a store over the file bytes: header (strict or salvage), store PC (NID 0x21),
    /// named-property map (NID 0x61). `code_page` overrides the code page of 8-bit strings.
    pub fn open(
        data: SharedBytes,
        file: &str,
        salvage: bool,
        code_page: Option<u16>,
        limits: Limits,
    ) -> Result<Self, NdbError> {
        let ndb = Ndb::open(data, file, salvage, limits)?;
        let mut s = PstStore {
            ndb,
            names: std::sync::Mutex::new(None),
            store: PropBag::default(),
            code_page: code_page.unwrap_or(1252),
            forced_code_page: code_page,
            salvage,
            skip_properties: false,
        };
        match s.read_pc(NID_MESSAGE_STORE) {
            Ok(p) => {
                let bag = PropBag::new(p, s.code_page);
                if code_page.is_none()
                    && let Some(cp) = bag.int(0x3FFD).and_then(|v| u16::try_from(v).ok())
                    && cp != 0
                    && mailmig_ir::codepage::is_supported(cp)
                {
                    s.code_page = cp;
                }
                s.store = PropBag::new(bag.props, s.code_page);
            }
            Err(e) => s.ndb.warn(
                "pst.store-pc",
                format!("message store (NID 0x21) unreadable: {e}"),
                None,
            ),
        }
        Ok(s)
    }

    /// Keeps the file map so resident pages can be released while streaming.
    pub fn set_file_map(&mut self, map: crate::source::FileMap) {
        self.ndb.set_file_map(Arc::new(map));
    }

    /// Leaves the `properties` of messages, recipients and attachments empty instead of
    /// decoding the unmapped properties into them: for an output that has nowhere to put them
    /// ([`mailmig_ir::OpenOptions::skip_properties`]).
    pub fn set_skip_properties(&mut self, skip: bool) {
        self.skip_properties = skip;
    }

    /// Sets the size from which attachment data is streamed (see
    /// [`Ndb::set_streamed_blob_min`]).
    pub fn set_streamed_blob_min(&mut self, bytes: u64) {
        self.ndb.set_streamed_blob_min(bytes);
    }

    /// Releases the file map's resident pages (see [`crate::FileMap::release_pages`]); reads
    /// fault them back in from the file.
    pub fn release_pages(&self) {
        self.ndb.release_pages();
    }

    /// Releases the file map's pages once reads may have made more than [`RELEASE_BUDGET`]
    /// of it resident.
    pub(crate) fn release_over_budget(&self) {
        self.ndb.release_over_budget();
    }

    /// The NDB.
    pub fn ndb(&self) -> &Ndb {
        &self.ndb
    }

    /// The store's display name (`PidTagDisplayName`).
    pub fn display_name(&self) -> Option<String> {
        self.store.string(0x3001)
    }

    /// The store's properties.
    pub fn store_props(&self) -> &PropBag {
        &self.store
    }

    /// The named-property map (NID 0x61), read on first use; an unreadable map is a warning
    /// and an empty map.
    pub fn names(&self) -> Arc<NameMap> {
        let mut slot = self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(names) = &*slot {
            return Arc::clone(names);
        }
        let names = Arc::new(match self.read_pc(NID_NAME_TO_ID_MAP) {
            Ok(p) => NameMap::from_props(&p),
            Err(e) => {
                self.ndb.warn(
                    "pst.nameid",
                    format!("named-property map (NID 0x61) unreadable: {e}"),
                    None,
                );
                NameMap::default()
            }
        });
        *slot = Some(Arc::clone(&names));
        names
    }

    /// Lets the named-property map go (it is read again if needed).
    pub fn forget_names(&self) {
        *self
            .names
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = None;
    }

    /// Code page used for 8-bit strings without their own.
    pub fn code_page(&self) -> u16 {
        self.code_page
    }

    /// The PST entry id of a node: 4 flag bytes, the store record key, the NID (MS-OXCDATA
    /// 2.2.4; format notes §10.1).
    pub fn entry_id(&self, nid: u32) -> Option<Blob> {
        let key = self.store.binary(0x0FF9)?;
        let mut v = Vec::with_capacity(24);
        v.extend_from_slice(&[0; 4]);
        v.extend_from_slice(key.as_bytes());
        v.extend_from_slice(&nid.to_le_bytes());
        Some(Blob::from_vec(v))
    }

    /// Reads the property context of a top-level node.
    pub fn read_pc(&self, nid: u32) -> Result<Vec<crate::ltp::RawProp>, LtpError> {
        let e = self.ndb.lookup_node(nid)?;
        let subs = self.ndb.read_subnodes(e.bid_sub).unwrap_or_default();
        let node = NodeRef::open(&self.ndb, e.bid_data, &subs)?;
        node.property_context()
    }

    /// Row ids (`PidTagLtpRowId`) of a top-level table node; empty when it is absent.
    pub fn table_row_ids(&self, nid: u32) -> Result<Vec<u32>, LtpError> {
        let e = match self.ndb.lookup_node(nid) {
            Ok(e) => e,
            Err(NdbError::NidNotFound { .. }) => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let subs = self.ndb.read_subnodes(e.bid_sub).unwrap_or_default();
        // A folder's contents table grows with the folder. Of its heap (row index,
        // variable-size cells) only the blocks the walk needs are read; its rows are read a
        // block at a time, and the pages they came from are let go as the walk goes, as for
        // a large attachment.
        let node = NodeRef::open_lazy(&self.ndb, e.bid_data, &subs)?;
        node.table_row_ids(&mut || self.release_over_budget())
    }

    /// Walks the folder tree: the IPM subtree (and non-IPM folders of the root that hold
    /// messages), children from hierarchy tables ∪ NBT parent links, and builds the
    /// parent → messages index with one streaming pass over the NBT (format notes §11).
    pub fn folder_tree(&self, budget: &Budget) -> Result<FolderTree, mailmig_ir::Interrupted> {
        let mut tree = FolderTree::default();
        let file = self.ndb.file().to_string();
        let warn = |tree: &mut FolderTree, code: &str, msg: String| {
            tree.warnings
                .push(Warning::new(code, msg).in_file(file.clone()));
        };
        // One pass over the NBT: folder parents and message parents.
        let mut folder_children: HashMap<u32, Vec<u32>> = HashMap::new();
        let mut all_folders: HashSet<u32> = HashSet::new();
        let mut msg_parent: Vec<(u32, u32)> = Vec::new();
        let mut interrupted = None;
        let walked = self.ndb.walk_nodes(&mut |e| {
            if let Err(i) = budget.check() {
                interrupted = Some(i);
                return false;
            }
            self.release_over_budget();
            match nid_type(e.nid) {
                NID_TYPE_NORMAL_FOLDER => {
                    all_folders.insert(e.nid);
                    if e.parent != e.nid {
                        folder_children.entry(e.parent).or_default().push(e.nid);
                    }
                }
                NID_TYPE_NORMAL_MESSAGE => msg_parent.push((e.parent, e.nid)),
                _ => {}
            }
            true
        });
        if let Some(i) = interrupted {
            return Err(i);
        }
        if let Err(e) = walked {
            let mut w = Warning::new(NBT_WALK_FAILED, format!("node B-tree walk failed: {e}"))
                .in_file(file.clone());
            if let Some(offset) = e.offset() {
                w = w.at(offset);
            }
            tree.warnings.push(w);
        }
        for (p, n) in msg_parent {
            tree.children.entry(p).or_default().push(n);
        }
        let ipm = self.store.binary(0x35E0).as_ref().and_then(entry_id_nid);
        let finder = self.store.binary(0x35E7).as_ref().and_then(entry_id_nid);
        let views = self.store.binary(0x35E6).as_ref().and_then(entry_id_nid);
        let ipm = match ipm {
            Some(n) if all_folders.contains(&n) || self.ndb.lookup_node(n).is_ok() => n,
            _ => match self.find_ipm_subtree(&folder_children) {
                Some(n) => n,
                None => {
                    warn(
                        &mut tree,
                        "pst.ipm-subtree",
                        "store has no usable IPM subtree entry id; walking from the root folder"
                            .into(),
                    );
                    NID_ROOT_FOLDER
                }
            },
        };
        let mut special: HashMap<u32, FolderKind> = HashMap::new();
        for (id, kind) in [
            (0x35E3u16, FolderKind::Deleted),
            (0x35E2, FolderKind::Outbox),
            (0x35E4, FolderKind::Sent),
        ] {
            if let Some(n) = self.store.binary(id).as_ref().and_then(entry_id_nid) {
                special.insert(n, kind);
            }
        }
        // Tops: the IPM subtree, then other root children (not search root / common views).
        let mut tops = vec![(ipm, true)];
        if ipm != NID_ROOT_FOLDER {
            let mut others = self.children_of(NID_ROOT_FOLDER, &folder_children);
            others.retain(|n| *n != ipm && Some(*n) != finder && Some(*n) != views);
            tops.extend(others.into_iter().map(|n| (n, false)));
        }
        let mut seen: HashSet<u32> = HashSet::new();
        let mut used_kinds: HashSet<FolderKind> = HashSet::new();
        for (top, is_ipm) in tops {
            let start = tree.folders.len();
            let mut stack: Vec<(u32, Option<String>, u32)> = vec![(top, None, 0)];
            while let Some((nid, parent, depth)) = stack.pop() {
                budget.check()?;
                self.release_over_budget();
                if !seen.insert(nid) {
                    continue;
                }
                if depth > self.ndb.limits().max_folder_depth {
                    warn(
                        &mut tree,
                        "pst.folder-depth",
                        format!("folder 0x{nid:08X} deeper than the limit; not followed"),
                    );
                    continue;
                }
                let props = match self.read_pc(nid) {
                    Ok(p) => PropBag::new(p, self.code_page),
                    Err(e) => {
                        warn(
                            &mut tree,
                            "pst.folder-unreadable",
                            format!("folder 0x{nid:08X} unreadable: {e}"),
                        );
                        PropBag::default()
                    }
                };
                if depth == 0 && is_ipm {
                    for &(id, kind) in SPECIAL_FOLDER_ENTRY_IDS {
                        if let Some(n) = props.binary(id).as_ref().and_then(entry_id_nid) {
                            special.entry(n).or_insert(kind);
                        }
                    }
                }
                let name = props
                    .string(0x3001)
                    .unwrap_or_else(|| format!("Folder 0x{nid:08X}"));
                let class = props.string(0x3613);
                let kind = if depth == 0 && is_ipm {
                    FolderKind::Root
                } else if let Some(k) = special.get(&nid) {
                    *k
                } else {
                    // One folder per role: a guessed role already held by a folder named in
                    // the store's entry ids (or guessed earlier) stays custom.
                    let g = guess_kind(&name, class.as_deref(), depth == 1 && is_ipm);
                    if g != FolderKind::Custom
                        && (special.values().any(|k| *k == g) || !used_kinds.insert(g))
                    {
                        FolderKind::Custom
                    } else {
                        g
                    }
                };
                let id = format!("0x{nid:08X}");
                tree.folders.push(FolderNode {
                    folder: Folder {
                        id: id.clone(),
                        parent: parent.clone(),
                        name,
                        kind,
                        container_class: class,
                        declared_count: props.int(0x3602).and_then(|v| u64::try_from(v).ok()),
                        properties: Vec::new(),
                    },
                    nid,
                });
                let kids = self.children_of(nid, &folder_children);
                for k in kids.into_iter().rev() {
                    stack.push((k, Some(id.clone()), depth + 1));
                }
            }
            if !is_ipm {
                // Keep a non-IPM subtree only when it holds messages.
                let has_mail = tree
                    .folders
                    .get(start..)
                    .unwrap_or(&[])
                    .iter()
                    .any(|f| tree.children.get(&f.nid).is_some_and(|v| !v.is_empty()));
                if !has_mail {
                    tree.folders.truncate(start);
                }
            }
        }
        // Inbox: the receive folder is not in the store PC; fall back to names (done above).
        let in_tree: HashSet<u32> = tree.folders.iter().map(|f| f.nid).collect();
        for (p, kids) in &tree.children {
            if !in_tree.contains(p) {
                tree.orphans.extend(kids.iter().copied());
            }
        }
        tree.orphans.sort_unstable();
        // The NBT walk touched every node page.
        self.release_over_budget();
        Ok(tree)
    }

    /// OST stores carry no `PidTagIpmSubTreeEntryId` (their entry ids are Exchange ones):
    /// look for a folder named `IPM_SUBTREE` with children within two levels of the root
    /// (inferred from the corpus OSTs: `Root - Mailbox/IPM_SUBTREE`).
    fn find_ipm_subtree(&self, nbt_children: &HashMap<u32, Vec<u32>>) -> Option<u32> {
        let mut level = vec![NID_ROOT_FOLDER];
        for _ in 0..2 {
            let mut next = Vec::new();
            for p in level {
                for c in self.children_of(p, nbt_children) {
                    let name = self
                        .read_pc(c)
                        .ok()
                        .and_then(|props| PropBag::new(props, self.code_page).string(0x3001));
                    if name.as_deref() == Some("IPM_SUBTREE")
                        && !self.children_of(c, nbt_children).is_empty()
                    {
                        return Some(c);
                    }
                    next.push(c);
                }
            }
            level = next;
        }
        None
    }

    /// Child folders: hierarchy table rows ∪ NBT folders whose parent is `nid`.
    fn children_of(&self, nid: u32, nbt_children: &HashMap<u32, Vec<u32>>) -> Vec<u32> {
        let table = (nid & !0x1F) | 0x0D;
        let mut kids = self.table_row_ids(table).unwrap_or_default();
        kids.retain(|k| nid_type(*k) == NID_TYPE_NORMAL_FOLDER);
        if let Some(extra) = nbt_children.get(&nid) {
            for e in extra {
                if !kids.contains(e) {
                    kids.push(*e);
                }
            }
        }
        kids
    }

    /// Messages of a folder: contents table rows ∪ NBT messages whose parent is the folder.
    pub fn folder_messages(
        &self,
        folder_nid: u32,
        tree: &FolderTree,
        warnings: &mut Vec<Warning>,
    ) -> Vec<u32> {
        let table = (folder_nid & !0x1F) | 0x0E;
        let mut list = match self.table_row_ids(table) {
            Ok(v) => v,
            Err(e) => {
                warnings.push(
                    Warning::new(
                        "pst.contents-table",
                        format!("contents table of folder 0x{folder_nid:08X} unreadable: {e}"),
                    )
                    .in_file(self.ndb.file().to_string()),
                );
                Vec::new()
            }
        };
        list.retain(|n| nid_type(*n) == NID_TYPE_NORMAL_MESSAGE);
        let known: HashSet<u32> = list.iter().copied().collect();
        if let Some(extra) = tree.children.get(&folder_nid) {
            let mut added = 0;
            for n in extra {
                if !known.contains(n) {
                    list.push(*n);
                    added += 1;
                }
            }
            if added > 0 && !known.is_empty() {
                warnings.push(
                    Warning::new(
                        "pst.contents-table-stale",
                        format!("folder 0x{folder_nid:08X}: {added} message(s) found only through NBT parent links"),
                    )
                    .in_file(self.ndb.file().to_string()),
                );
            }
        }
        list
    }

    /// Decodes one top-level message by NID. Store-level warnings raised meanwhile (bad block
    /// CRCs…) are attached to the message.
    pub fn read_message(&self, nid: u32, folder: Option<&str>) -> Result<Message, SkippedItem> {
        let skipped = |reason: String, offset: Option<u64>| {
            let mut s = SkippedItem::new("message", reason)
                .with_id(format!("0x{nid:08X}"))
                .in_file(self.ndb.file().to_string());
            s.offset = offset;
            s
        };
        let e = self
            .ndb
            .lookup_node(nid)
            .map_err(|e| skipped(e.to_string(), None))?;
        let offset = self.ndb.lookup_block(e.bid_data).ok().map(|b| b.ib);
        let mut ctx = MsgCtx {
            store: self,
            warnings: Vec::new(),
            nid,
            attachments_seen: 0,
        };
        let r = self.decode_message(&mut ctx, nid, e.bid_data, e.bid_sub, 0, None);
        let mut store_w = self.ndb.take_warnings();
        match r {
            Ok(mut m) => {
                m.folder = folder.map(str::to_string);
                m.warnings.append(&mut ctx.warnings);
                m.warnings.append(&mut store_w);
                Ok(m)
            }
            Err(err) => Err(skipped(err.to_string(), offset)),
        }
    }

    /// Salvage mode in force.
    pub fn salvage(&self) -> bool {
        self.salvage
    }

    /// Decodes a subnode map for tests and tools.
    pub fn subnodes(&self, nid: u32) -> Result<SubnodeMap, NdbError> {
        let e = self.ndb.lookup_node(nid)?;
        self.ndb.read_subnodes(e.bid_sub)
    }
}

/// Folder role from container class and (for direct children of the IPM subtree) names in
/// the languages seen in the corpus (inferred fallback; format notes §10.2).
fn guess_kind(name: &str, class: Option<&str>, top: bool) -> FolderKind {
    let c = class.unwrap_or("").to_ascii_lowercase();
    let by_class = if c.starts_with("ipf.appointment") {
        Some(FolderKind::Calendar)
    } else if c.starts_with("ipf.contact") {
        Some(FolderKind::Contacts)
    } else if c.starts_with("ipf.task") {
        Some(FolderKind::Tasks)
    } else if c.starts_with("ipf.stickynote") {
        Some(FolderKind::Notes)
    } else if c.starts_with("ipf.journal") {
        Some(FolderKind::Journal)
    } else {
        None
    };
    if !top {
        return FolderKind::Custom;
    }
    if let Some(k) = by_class {
        return k;
    }
    let n = name.to_lowercase();
    match n.as_str() {
        "inbox"
        | "posteingang"
        | "boîte de réception"
        | "受信トレイ"
        | "bandeja de entrada"
        | "posta in arrivo" => FolderKind::Inbox,
        "sent items"
        | "sent"
        | "gesendete objekte"
        | "éléments envoyés"
        | "送信済みアイテム"
        | "elementos enviados"
        | "posta inviata" => FolderKind::Sent,
        "deleted items"
        | "gelöschte objekte"
        | "éléments supprimés"
        | "削除済みアイテム"
        | "elementos eliminados"
        | "posta eliminata" => FolderKind::Deleted,
        "drafts" | "entwürfe" | "brouillons" | "下書き" | "borradores" | "bozze" => {
            FolderKind::Drafts
        }
        "outbox" | "postausgang" | "boîte d'envoi" | "送信トレイ" | "bandeja de salida"
        | "posta in uscita" => FolderKind::Outbox,
        "junk e-mail"
        | "junk email"
        | "junk"
        | "junk-e-mail"
        | "courrier indésirable"
        | "迷惑メール" => FolderKind::Junk,
        _ => FolderKind::Custom,
    }
}

/// The lazy message stream of one store: folder by folder, message by message, then (in
/// salvage mode) the orphans.
pub struct MessageIter<'s> {
    store: &'s PstStore,
    tree: FolderTree,
    budget: Budget,
    folder_pos: usize,
    current: std::vec::IntoIter<u32>,
    current_folder: Option<String>,
    yielded: HashSet<u32>,
    orphans_done: bool,
    pending_warnings: Vec<Warning>,
    stopped: bool,
}

impl<'s> MessageIter<'s> {
    /// A stream over `tree`.
    pub fn new(store: &'s PstStore, tree: FolderTree, budget: Budget) -> Self {
        MessageIter {
            store,
            tree,
            budget,
            folder_pos: 0,
            current: Vec::new().into_iter(),
            current_folder: None,
            yielded: HashSet::new(),
            orphans_done: false,
            pending_warnings: Vec::new(),
            stopped: false,
        }
    }
}

impl Iterator for MessageIter<'_> {
    type Item = Result<Message, SkippedItem>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.stopped {
                return None;
            }
            if let Err(i) = self.budget.check() {
                self.stopped = true;
                return Some(Err(SkippedItem::new("mailbox", format!("stopped: {i}"))
                    .in_file(self.store.ndb.file().to_string())));
            }
            if let Some(nid) = self.current.next() {
                if !self.yielded.insert(nid) {
                    continue;
                }
                let folder = self.current_folder.clone();
                let orphan = folder.as_deref() == Some(ORPHAN_FOLDER_ID);
                let mut r = self.store.read_message(nid, folder.as_deref());
                self.store.release_over_budget();
                if let Ok(m) = &mut r {
                    m.warnings.append(&mut self.pending_warnings);
                    if orphan {
                        m.warnings.push(
                            Warning::new("pst.orphan", format!("message 0x{nid:08X} is not reachable from any folder; recovered"))
                                .in_file(self.store.ndb.file().to_string()),
                        );
                    }
                }
                return Some(r);
            }
            if let Some(f) = self.tree.folders.get(self.folder_pos) {
                self.folder_pos += 1;
                let list =
                    self.store
                        .folder_messages(f.nid, &self.tree, &mut self.pending_warnings);
                self.current_folder = Some(f.folder.id.clone());
                self.current = list.into_iter();
                continue;
            }
            if !self.orphans_done {
                self.orphans_done = true;
                if self.store.salvage {
                    let list: Vec<u32> = self
                        .tree
                        .orphans
                        .iter()
                        .copied()
                        .filter(|n| !self.yielded.contains(n))
                        .collect();
                    self.current_folder = Some(ORPHAN_FOLDER_ID.to_string());
                    self.current = list.into_iter();
                    continue;
                }
            }
            self.stopped = true;
            self.store.release_pages();
            return None;
        }
    }
}

impl Drop for MessageIter<'_> {
    /// A mailbox that is done (or abandoned) keeps none of its file's pages resident, nor
    /// its named-property map.
    fn drop(&mut self) {
        self.store.release_pages();
        self.store.forget_names();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_roles_from_names_and_classes() {
        assert_eq!(
            guess_kind("Inbox", Some("IPF.Note"), true),
            FolderKind::Inbox
        );
        assert_eq!(
            guess_kind("Éléments supprimés", None, true),
            FolderKind::Deleted
        );
        assert_eq!(
            guess_kind("削除済みアイテム", None, true),
            FolderKind::Deleted
        );
        assert_eq!(
            guess_kind("Kalender", Some("IPF.Appointment"), true),
            FolderKind::Calendar
        );
        assert_eq!(
            guess_kind("Inbox", Some("IPF.Note"), false),
            FolderKind::Custom
        );
        assert_eq!(
            guess_kind("Projects", Some("IPF.Note"), true),
            FolderKind::Custom
        );
    }

    #[test]
    fn entry_id_nid_is_the_last_four_bytes() {
        let mut e = vec![0u8; 4];
        e.extend_from_slice(&[0xAB; 16]);
        e.extend_from_slice(&0x8022u32.to_le_bytes());
        assert_eq!(entry_id_nid(&Blob::from_vec(e)), Some(0x8022));
        assert_eq!(entry_id_nid(&Blob::from_vec(vec![0; 10])), None);
    }
}
