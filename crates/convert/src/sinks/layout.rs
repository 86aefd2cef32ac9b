//! Folder layout shared by the sinks: which output location each IR folder gets and where
//! messages without a (known) folder go.
//!
//! Rules (documented for users in the README):
//! * folders of kind [`FolderKind::Root`] are not locations; their children are top level and
//!   their messages go to the default location;
//! * the default location is the first folder of kind [`FolderKind::Inbox`], or, when the
//!   mailbox has none, a synthesized top-level `Inbox`; messages whose `folder` is `None` or
//!   names no folder of the mailbox go there;
//! * sibling names that collide after a sink's encoding (compared case-insensitively, so the
//!   tree also works on case-insensitive file systems) get `~2`, `~3`, … in folder order;
//! * parent links that are unknown or form a cycle make the folder top level (damaged
//!   sources; never loops: each walk is bounded by the folder count).

use std::collections::{HashMap, HashSet};

use mailmig_ir::{Folder, FolderKind};

/// One output location.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FolderSlot {
    /// The IR folder id; `None` for the synthesized default `Inbox`.
    pub folder_id: Option<String>,
    /// Display name.
    pub name: String,
    /// Index of the parent slot.
    pub parent: Option<usize>,
    /// True for the location receiving messages without a known folder.
    pub is_default: bool,
}

/// The locations of one mailbox.
#[derive(Clone, Debug)]
pub struct FolderLayout {
    slots: Vec<FolderSlot>,
    by_id: HashMap<String, usize>,
    default: usize,
}

impl FolderLayout {
    /// Builds the layout of `folders` (parents first, but any order is tolerated).
    pub fn new(folders: &[Folder]) -> Self {
        let by_folder_id: HashMap<&str, &Folder> =
            folders.iter().rev().map(|f| (f.id.as_str(), f)).collect();
        let mut slots = Vec::new();
        let mut by_id: HashMap<String, usize> = HashMap::new();
        let default_inbox = folders
            .iter()
            .position(|f| f.kind == FolderKind::Inbox)
            .and_then(|i| folders.get(i))
            .map(|f| f.id.clone());
        if default_inbox.is_none() {
            slots.push(FolderSlot {
                folder_id: None,
                name: "Inbox".into(),
                parent: None,
                is_default: true,
            });
        }
        for f in folders {
            if f.kind == FolderKind::Root || by_id.contains_key(&f.id) {
                continue;
            }
            by_id.insert(f.id.clone(), slots.len());
            slots.push(FolderSlot {
                folder_id: Some(f.id.clone()),
                name: f.name.clone(),
                parent: None,
                is_default: default_inbox.as_deref() == Some(f.id.as_str()),
            });
        }
        // Resolve parents: the nearest ancestor that is a slot (Root folders are skipped).
        for slot in &mut slots {
            let Some(id) = slot.folder_id.as_deref() else {
                continue;
            };
            let mut seen = HashSet::new();
            let mut cur = by_folder_id.get(id).and_then(|f| f.parent.as_deref());
            while let Some(pid) = cur {
                if !seen.insert(pid) || pid == id {
                    break;
                }
                match (by_id.get(pid), by_folder_id.get(pid)) {
                    (Some(&p), _) => {
                        slot.parent = Some(p);
                        break;
                    }
                    (None, Some(pf)) => cur = pf.parent.as_deref(),
                    (None, None) => break,
                }
            }
        }
        // Break cycles among slot parent links.
        for i in 0..slots.len() {
            let mut seen = HashSet::new();
            seen.insert(i);
            let mut cur = slots.get(i).and_then(|s| s.parent);
            while let Some(p) = cur {
                if !seen.insert(p) {
                    if let Some(s) = slots.get_mut(i) {
                        s.parent = None;
                    }
                    break;
                }
                cur = slots.get(p).and_then(|s| s.parent);
            }
        }
        let default = slots.iter().position(|s| s.is_default).unwrap_or(0);
        // Root folders send their messages to the default location.
        for f in folders {
            if f.kind == FolderKind::Root && !by_id.contains_key(&f.id) {
                by_id.insert(f.id.clone(), default);
            }
        }
        Self {
            slots,
            by_id,
            default,
        }
    }

    /// The locations, default first when synthesized, otherwise in folder order.
    pub fn slots(&self) -> &[FolderSlot] {
        &self.slots
    }

    /// The slot index for a message's `folder`.
    pub fn slot_for(&self, folder: Option<&str>) -> usize {
        folder
            .and_then(|f| self.by_id.get(f))
            .copied()
            .unwrap_or(self.default)
    }

    /// The default slot index.
    pub fn default_slot(&self) -> usize {
        self.default
    }

    /// Encoded paths of every slot, as lists of encoded components from the top. `encode`
    /// turns a display name into a component; collisions among siblings get `~N`.
    pub fn encoded_paths(&self, encode: impl Fn(&str) -> String) -> Vec<Vec<String>> {
        let n = self.slots.len();
        let depth: Vec<usize> = (0..n)
            .map(|i| {
                let mut d = 0;
                let mut cur = self.slots.get(i).and_then(|s| s.parent);
                while let Some(p) = cur {
                    d += 1;
                    if d > n {
                        break;
                    }
                    cur = self.slots.get(p).and_then(|s| s.parent);
                }
                d
            })
            .collect();
        let mut order: Vec<usize> = (0..n).collect();
        order.sort_by_key(|&i| (depth.get(i).copied().unwrap_or(0), i));
        let mut paths: Vec<Vec<String>> = vec![Vec::new(); n];
        let mut taken: HashSet<(Option<usize>, String)> = HashSet::new();
        for i in order {
            let Some(slot) = self.slots.get(i) else {
                continue;
            };
            let base = encode(&slot.name);
            let mut name = base.clone();
            let mut k = 1u32;
            while !taken.insert((slot.parent, name.to_lowercase())) {
                k += 1;
                name = format!("{base}~{k}");
            }
            let mut path = slot
                .parent
                .and_then(|p| paths.get(p).cloned())
                .unwrap_or_default();
            path.push(name);
            if let Some(p) = paths.get_mut(i) {
                *p = path;
            }
        }
        paths
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn folder(id: &str, parent: Option<&str>, name: &str, kind: FolderKind) -> Folder {
        Folder {
            id: id.into(),
            parent: parent.map(Into::into),
            name: name.into(),
            kind,
            ..Folder::default()
        }
    }

    #[test]
    fn root_is_skipped_inbox_is_default_and_duplicates_are_numbered() {
        let folders = vec![
            folder("r", None, "Top", FolderKind::Root),
            folder("i", Some("r"), "Inbox", FolderKind::Inbox),
            folder("a", Some("r"), "Work", FolderKind::Custom),
            folder("b", Some("r"), "work", FolderKind::Custom),
            folder("c", Some("a"), "Sub", FolderKind::Custom),
        ];
        let l = FolderLayout::new(&folders);
        assert_eq!(l.slots().len(), 4);
        assert_eq!(l.slot_for(Some("r")), l.default_slot());
        assert_eq!(l.slot_for(None), l.default_slot());
        assert_eq!(l.slot_for(Some("zzz")), l.default_slot());
        let paths = l.encoded_paths(|s| s.to_string());
        assert_eq!(paths[0], vec!["Inbox"]);
        assert_eq!(paths[1], vec!["Work"]);
        assert_eq!(paths[2], vec!["work~2"]);
        assert_eq!(paths[3], vec!["Work", "Sub"]);
    }

    #[test]
    fn no_inbox_synthesizes_one_and_cycles_become_top_level() {
        let folders = vec![
            folder("a", Some("b"), "A", FolderKind::Custom),
            folder("b", Some("a"), "B", FolderKind::Custom),
        ];
        let l = FolderLayout::new(&folders);
        assert_eq!(l.slots()[0].folder_id, None);
        assert_eq!(l.default_slot(), 0);
        let paths = l.encoded_paths(|s| s.to_string());
        assert!(paths.iter().all(|p| p.len() <= 2));
        assert_eq!(paths[0], vec!["Inbox"]);
    }
}
