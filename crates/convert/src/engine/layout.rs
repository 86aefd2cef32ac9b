//! The output tree: mailbox directory names, preflight checks, and the file-system steps of an
//! atomic commit (guarantees 3 and 5 of ARCHITECTURE.md).
//!
//! ```text
//! out_dir/
//!   <dir_name>/            one per committed mailbox (renamed in from .mailmig/tmp/<dir_name>)
//!   <sink finish files>    e.g. post_office.jsonl (moved in from .mailmig/tmp/.finish)
//!   report.json            written last, via .mailmig/tmp/report.json + rename
//!   .mailmig/journal.jsonl engine state: the journal of committed mailboxes
//!   .mailmig/tmp/          staging; removed at the end of a run, cleared at the start of one
//! ```

use std::collections::HashSet;
use std::fs::{self, File};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use mailmig_ir::MailboxInfo;
use mailmig_ir::text::safe_component;

use super::EngineError;

/// Name of the engine's state directory inside the output directory.
pub const STATE_DIR: &str = ".mailmig";
/// Name of the report file in the output root.
pub const REPORT_FILE: &str = "report.json";
/// Longest mailbox directory name, in bytes, before a `-N` suffix.
pub const MAX_DIR_NAME: usize = 64;

/// Deepest directory nesting walked when syncing a staged mailbox (sinks nest folders; the
/// IR's default `max_folder_depth` is 256).
const MAX_WALK_DEPTH: u32 = 1024;

/// Names that Windows reserves in every directory (checked case-insensitively, with or
/// without an extension).
const WINDOWS_RESERVED: &[&str] = &[
    "CON", "PRN", "AUX", "NUL", "COM1", "COM2", "COM3", "COM4", "COM5", "COM6", "COM7", "COM8",
    "COM9", "LPT1", "LPT2", "LPT3", "LPT4", "LPT5", "LPT6", "LPT7", "LPT8", "LPT9",
];

/// The directory name of every mailbox, in mailbox order.
///
/// The base is [`safe_component`] of the display name, or of the key when the display name
/// has nothing usable; names Windows reserves get a trailing `_`. A base already taken (compared
/// case-insensitively, so the tree also works on case-insensitive file systems, and including
/// `report.json`) gets `-2`, `-3`, … — the first free suffix, in mailbox order, so the names
/// depend only on the source's mailbox list.
pub fn dir_names(mailboxes: &[MailboxInfo]) -> Vec<String> {
    let mut taken: HashSet<String> = HashSet::new();
    taken.insert(REPORT_FILE.to_string());
    let mut out = Vec::with_capacity(mailboxes.len());
    for m in mailboxes {
        let mut base = safe_component(&m.display_name, MAX_DIR_NAME, "");
        if base.is_empty() {
            base = safe_component(&m.key, MAX_DIR_NAME, "mailbox");
        }
        let stem = base
            .split('.')
            .next()
            .unwrap_or_default()
            .to_ascii_uppercase();
        if WINDOWS_RESERVED.contains(&stem.as_str()) {
            base.push('_');
        }
        let mut name = base.clone();
        let mut n: u64 = 1;
        while taken.contains(&name.to_lowercase()) {
            n += 1;
            name = format!("{base}-{n}");
        }
        taken.insert(name.to_lowercase());
        out.push(name);
    }
    out
}

/// What preflight found in the output directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OutputState {
    /// Missing or empty (or holding only an engine state directory with nothing committed).
    Fresh,
    /// Holds a journal with the same header: resume.
    Resume,
}

/// Checks, before anything is written, that every input is readable, that the output directory
/// is not inside an input (or the reverse), that the output directory is missing, empty, or
/// holds a journal of the same run, and (for a fresh run) that its file system has room
/// ([`check_space`]). Then creates the output and state directories and proves
/// them writable with a probe file.
pub(crate) fn preflight(
    inputs: &[PathBuf],
    out_dir: &Path,
    header: &super::journal::JournalHeader,
) -> Result<OutputState, EngineError> {
    for input in inputs {
        let meta = fs::metadata(input).map_err(|e| EngineError::InputUnreadable {
            path: input.clone(),
            source: e,
        })?;
        let readable = if meta.is_dir() {
            fs::read_dir(input).map(drop)
        } else {
            File::open(input).map(drop)
        };
        readable.map_err(|e| EngineError::InputUnreadable {
            path: input.clone(),
            source: e,
        })?;
    }
    let out_abs = absolute_existing_prefix(out_dir);
    for input in inputs {
        if let Ok(inp) = fs::canonicalize(input)
            && (out_abs.starts_with(&inp) && fs::metadata(&inp).is_ok_and(|m| m.is_dir())
                || inp.starts_with(&out_abs))
        {
            return Err(EngineError::OutputOverlapsInput {
                output: out_dir.to_path_buf(),
                input: input.clone(),
            });
        }
    }
    let state = match fs::metadata(out_dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => OutputState::Fresh,
        Err(e) => return Err(EngineError::io(out_dir, e)),
        Ok(m) if !m.is_dir() => {
            return Err(EngineError::OutputNotDirectory {
                path: out_dir.to_path_buf(),
            });
        }
        Ok(_) => {
            let journal = out_dir.join(STATE_DIR).join("journal.jsonl");
            match super::journal::read_header(&journal)? {
                Some(found) if found == *header => OutputState::Resume,
                Some(found) => {
                    return Err(EngineError::FingerprintMismatch {
                        path: journal,
                        found: format!(
                            "fingerprint {:?}, sink {}, no_mail {}",
                            found.fingerprint, found.sink, found.no_mail
                        ),
                        expected: format!(
                            "fingerprint {:?}, sink {}, no_mail {}",
                            header.fingerprint, header.sink, header.no_mail
                        ),
                    });
                }
                None => {
                    let entries = fs::read_dir(out_dir).map_err(|e| EngineError::io(out_dir, e))?;
                    for entry in entries {
                        let entry = entry.map_err(|e| EngineError::io(out_dir, e))?;
                        if entry.file_name() != STATE_DIR {
                            return Err(EngineError::OutputNotEmpty {
                                path: out_dir.to_path_buf(),
                            });
                        }
                    }
                    OutputState::Fresh
                }
            }
        }
    };
    if state == OutputState::Fresh {
        check_space(inputs, out_dir)?;
    }
    let state_dir = out_dir.join(STATE_DIR);
    fs::create_dir_all(&state_dir).map_err(|e| EngineError::io(&state_dir, e))?;
    let probe = state_dir.join("write-probe");
    File::create(&probe)
        .and_then(|mut f| f.write_all(b"mailmig"))
        .and_then(|()| fs::remove_file(&probe))
        .map_err(|e| EngineError::OutputNotWritable {
            path: out_dir.to_path_buf(),
            source: e,
        })?;
    Ok(state)
}

/// Inputs are counted at most this deep and this many entries when estimating their size.
const MAX_SIZE_WALK_DEPTH: u32 = 16;
const MAX_SIZE_WALK_ENTRIES: u64 = 1_000_000;

/// Refuses a fresh run whose output file system has less free space than half the size of the
/// inputs. A heuristic floor, not an estimate: MIME output of a store is rarely smaller than
/// half of it (attachments grow by a third in base64), so a run below it would certainly fail
/// part-way. Platforms without `statvfs` skip the check.
fn check_space(inputs: &[PathBuf], out_dir: &Path) -> Result<(), EngineError> {
    let mut entries = 0u64;
    let total = inputs
        .iter()
        .map(|p| tree_bytes(p, 0, &mut entries))
        .fold(0u64, u64::saturating_add);
    let needed = total / 2;
    let probe = absolute_existing_prefix(out_dir);
    let mut existing = probe.as_path();
    while !existing.exists() {
        match existing.parent() {
            Some(p) => existing = p,
            None => return Ok(()),
        }
    }
    match available_bytes(existing) {
        Some(available) if available < needed => Err(EngineError::InsufficientSpace {
            path: out_dir.to_path_buf(),
            needed,
            available,
        }),
        _ => Ok(()),
    }
}

fn tree_bytes(path: &Path, depth: u32, entries: &mut u64) -> u64 {
    *entries += 1;
    if depth > MAX_SIZE_WALK_DEPTH || *entries > MAX_SIZE_WALK_ENTRIES {
        return 0;
    }
    match fs::metadata(path) {
        Ok(m) if m.is_dir() => fs::read_dir(path)
            .map(|rd| {
                rd.filter_map(Result::ok)
                    .map(|e| tree_bytes(&e.path(), depth + 1, entries))
                    .fold(0u64, u64::saturating_add)
            })
            .unwrap_or(0),
        Ok(m) => m.len(),
        Err(_) => 0,
    }
}

#[cfg(target_os = "linux")]
fn available_bytes(dir: &Path) -> Option<u64> {
    let v = rustix::fs::statvfs(dir).ok()?;
    v.f_bavail.checked_mul(v.f_frsize)
}

#[cfg(not(target_os = "linux"))]
fn available_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// The canonical form of the longest existing ancestor of `path`, with the rest appended.
fn absolute_existing_prefix(path: &Path) -> PathBuf {
    let mut rest = Vec::new();
    let mut cur = path.to_path_buf();
    loop {
        if let Ok(c) = fs::canonicalize(&cur) {
            let mut out = c;
            for part in rest.iter().rev() {
                out.push(part);
            }
            return out;
        }
        match (cur.file_name().map(|n| n.to_os_string()), cur.parent()) {
            (Some(name), Some(parent)) => {
                rest.push(name);
                cur = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return path.to_path_buf(),
        }
    }
}

/// Removes `path` whether it is a file or a directory tree; a missing path is fine.
pub(crate) fn remove_path(path: &Path) -> std::io::Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
    }
}

/// How hard the engine works to make committed output survive a power failure or an
/// operating-system crash (a killed *process* never needs it: the page cache survives).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Durability {
    /// Flush every mailbox to disk before it is renamed into place and journaled, and the
    /// journal and `report.json` before they count (the default): after a power cut the
    /// journal never names a mailbox whose files did not reach the disk.
    #[default]
    Sync,
    /// No flushes (`--no-sync`): faster, most of all on busy file systems, where one flush
    /// waits for everyone's dirty data. A killed process still resumes exactly; after a power
    /// cut, delete the output directory and run again.
    Relaxed,
}

impl Durability {
    /// True when flushes are made.
    pub fn syncs(self) -> bool {
        self == Self::Sync
    }
}

/// Makes everything below `dir` durable, so a rename that commits it cannot survive a power
/// cut while its contents do not. Does nothing under [`Durability::Relaxed`].
///
/// On Linux one `syncfs(2)` on the directory flushes its whole file system: measured on the
/// EML sink (one file per message) it is far cheaper than an `fsync` per file, which made
/// the engine write under 100 messages/s. Elsewhere every file and directory is `fsync`ed.
pub(crate) fn sync_tree(dir: &Path, durability: Durability) -> std::io::Result<()> {
    if !durability.syncs() {
        return Ok(());
    }
    #[cfg(target_os = "linux")]
    {
        let d = File::open(dir)?;
        rustix::fs::syncfs(&d).map_err(std::io::Error::from)
    }
    #[cfg(not(target_os = "linux"))]
    {
        sync_tree_at(dir, 0)
    }
}

#[cfg_attr(target_os = "linux", allow(dead_code))]
fn sync_tree_at(dir: &Path, depth: u32) -> std::io::Result<()> {
    if depth > MAX_WALK_DEPTH {
        return Err(std::io::Error::other(format!(
            "{}: directories nested deeper than {MAX_WALK_DEPTH}",
            dir.display()
        )));
    }
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let ty = entry.file_type()?;
        if ty.is_dir() {
            sync_tree_at(&entry.path(), depth + 1)?;
        } else if ty.is_file() {
            File::open(entry.path())?.sync_all()?;
        }
    }
    sync_dir(dir, Durability::Sync)
}

/// `fsync`s a directory (its entries), where the platform allows it; nothing under
/// [`Durability::Relaxed`].
pub(crate) fn sync_dir(dir: &Path, durability: Durability) -> std::io::Result<()> {
    if !durability.syncs() {
        return Ok(());
    }
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Writes `bytes` to `tmp`, `fsync`s it (unless relaxed) and renames it to `dest` (atomic on
/// POSIX).
pub(crate) fn write_atomic(
    tmp: &Path,
    dest: &Path,
    bytes: &[u8],
    durability: Durability,
) -> Result<(), EngineError> {
    let mut f = File::create(tmp).map_err(|e| EngineError::io(tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| {
            if durability.syncs() {
                f.sync_all()
            } else {
                Ok(())
            }
        })
        .map_err(|e| EngineError::io(tmp, e))?;
    drop(f);
    fs::rename(tmp, dest).map_err(|e| EngineError::io(dest, e))?;
    if let Some(parent) = dest.parent() {
        sync_dir(parent, durability).map_err(|e| EngineError::io(parent, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mb(key: &str, name: &str) -> MailboxInfo {
        MailboxInfo {
            key: key.into(),
            display_name: name.into(),
            ..MailboxInfo::default()
        }
    }

    #[test]
    fn dir_names_are_safe_unique_and_ordered() {
        let names = dir_names(&[
            mb("k1", "John Smith"),
            mb("k2", "john smith"),
            mb("k3", "John Smith"),
            mb("k4", ""),
            mb("k5", "../.."),
            mb("k6", "report.json"),
            mb("k7", "con"),
            mb("k8", "John_Smith-2"),
        ]);
        assert_eq!(
            names,
            [
                "John_Smith",
                "john_smith-2",
                "John_Smith-3",
                "k4",
                "k5",
                "report.json-2",
                "con_",
                "John_Smith-2-2"
            ]
        );
    }
}
