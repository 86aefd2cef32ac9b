//! A bounded snapshot of a post-office directory tree, on disk or in memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use mailmig_ir::blob::SharedBytes;

/// One file or directory of the tree.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PoEntry {
    /// Path relative to the post-office root, `/`-separated, as spelled on disk.
    pub path: String,
    /// True for directories.
    pub is_dir: bool,
    /// File size in bytes (0 for directories).
    pub size: u64,
}

impl PoEntry {
    /// The upper-cased path, for case-insensitive DOS-style lookups.
    pub fn key(&self) -> String {
        self.path.to_ascii_uppercase()
    }
}

/// The tree: entries in walk order plus what the walk refused.
#[derive(Clone, Debug, Default)]
pub struct PoTree {
    /// Files and directories found.
    pub entries: Vec<PoEntry>,
    /// True when the walk stopped at its entry limit.
    pub truncated: bool,
    /// Symbolic links and other special files that were not followed.
    pub skipped_links: Vec<String>,
    /// Dot files (never valid DOS 8.3 names; used e.g. to keep empty directories in git) that
    /// were ignored.
    pub ignored_dotfiles: u64,
}

/// Access to file contents of a [`PoTree`].
pub trait FileContents {
    /// The bytes of the file at `path` (a [`PoEntry::path`]), at most `max` bytes long;
    /// `None` when unreadable or larger.
    fn read(&self, path: &str, max: u64) -> Option<SharedBytes>;
}

/// Contents read from disk below a root (memory-mapped).
#[derive(Clone, Debug)]
pub struct DiskContents {
    root: PathBuf,
}

impl DiskContents {
    /// Contents of files below `root`.
    pub fn new(root: &Path) -> Self {
        Self {
            root: root.to_path_buf(),
        }
    }
}

impl FileContents for DiskContents {
    fn read(&self, path: &str, max: u64) -> Option<SharedBytes> {
        let p = self.root.join(path);
        let meta = std::fs::symlink_metadata(&p).ok()?;
        if !meta.is_file() || meta.len() > max {
            return None;
        }
        crate::mapping::map_file(&p).ok()
    }
}

/// An in-memory tree: paths to bytes (tests and fuzzing).
#[derive(Clone, Debug, Default)]
pub struct MemoryTree {
    files: HashMap<String, Arc<Vec<u8>>>,
    dirs: Vec<String>,
}

impl MemoryTree {
    /// An empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a file (and its parent directories).
    pub fn file(&mut self, path: &str, data: Vec<u8>) -> &mut Self {
        if let Some((parent, _)) = path.rsplit_once('/') {
            self.dir(parent);
        }
        self.files.insert(path.to_string(), Arc::new(data));
        self
    }

    /// Adds a directory (and its parents).
    pub fn dir(&mut self, path: &str) -> &mut Self {
        let mut acc = String::new();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if !acc.is_empty() {
                acc.push('/');
            }
            acc.push_str(part);
            if !self.dirs.contains(&acc) {
                self.dirs.push(acc.clone());
            }
        }
        self
    }

    /// The snapshot of this tree, sorted by path.
    pub fn tree(&self) -> PoTree {
        let mut entries: Vec<PoEntry> = self
            .dirs
            .iter()
            .map(|d| PoEntry {
                path: d.clone(),
                is_dir: true,
                size: 0,
            })
            .chain(self.files.iter().map(|(p, d)| PoEntry {
                path: p.clone(),
                is_dir: false,
                size: d.len() as u64,
            }))
            .collect();
        entries.sort_by(|a, b| a.path.cmp(&b.path));
        PoTree {
            entries,
            ..PoTree::default()
        }
    }

    /// Writes the tree below `root` (fixtures for the corpus). Empty directories get a
    /// `.keep` dot file so that git keeps them; the walk ignores dot files.
    pub fn write_to(&self, root: &Path) -> std::io::Result<()> {
        for d in &self.dirs {
            let p = root.join(d);
            std::fs::create_dir_all(&p)?;
            let has_child = self.files.keys().chain(self.dirs.iter()).any(|x| {
                x.len() > d.len()
                    && x.starts_with(d.as_str())
                    && x.as_bytes().get(d.len()) == Some(&b'/')
            });
            if !has_child {
                std::fs::write(p.join(".keep"), b"")?;
            }
        }
        for (p, data) in &self.files {
            let full = root.join(p);
            if let Some(parent) = full.parent() {
                std::fs::create_dir_all(parent)?;
            }
            std::fs::write(full, data.as_slice())?;
        }
        Ok(())
    }
}

impl FileContents for MemoryTree {
    fn read(&self, path: &str, max: u64) -> Option<SharedBytes> {
        let d = self.files.get(path)?;
        if d.len() as u64 > max {
            return None;
        }
        let shared: SharedBytes = d.clone();
        Some(shared)
    }
}

/// Deepest directory level walked below the root (the documented tree is at most
/// `FOLDERS\LOC\<hexid>\` deep).
pub const MAX_DEPTH: usize = 6;

/// Walks `root` without following symbolic links, stopping after `max_entries` entries and
/// below [`MAX_DEPTH`] levels. Entries are sorted by path within each directory.
pub fn walk(root: &Path, max_entries: u64) -> std::io::Result<PoTree> {
    let mut tree = PoTree::default();
    let mut stack: Vec<(PathBuf, String, usize)> = vec![(root.to_path_buf(), String::new(), 0)];
    std::fs::read_dir(root)?;
    while let Some((dir, rel, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&dir) else {
            continue;
        };
        let mut children = Vec::new();
        for e in rd {
            if tree.entries.len() as u64 + children.len() as u64 >= max_entries {
                tree.truncated = true;
                break;
            }
            let Ok(e) = e else { continue };
            let name = e.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            if name.starts_with('.') {
                tree.ignored_dotfiles += 1;
                continue;
            }
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_symlink() || !(ft.is_file() || ft.is_dir()) {
                tree.skipped_links.push(path);
                continue;
            }
            let size = if ft.is_file() {
                e.metadata().map(|m| m.len()).unwrap_or(0)
            } else {
                0
            };
            children.push((path, ft.is_dir(), size, e.path()));
        }
        children.sort_by(|a, b| a.0.cmp(&b.0));
        let mut subdirs = Vec::new();
        for (path, is_dir, size, full) in children {
            if is_dir && depth + 1 < MAX_DEPTH {
                subdirs.push((full, path.clone(), depth + 1));
            }
            tree.entries.push(PoEntry { path, is_dir, size });
        }
        stack.extend(subdirs.into_iter().rev());
        if tree.truncated {
            break;
        }
    }
    Ok(tree)
}
