//! [`MmffDriver`] and [`MmffSource`]: MMFF files as a mailmig input (see the module docs of
//! [`mmff`](super) for how files map to mailboxes).

use std::path::{Path, PathBuf};

use mailmig_ir::{
    Budget, Detection, Directory, DirectoryEntry, Driver, EntryKind, Finding, Folder, FolderKind,
    Inspection, Limits, MailboxInfo, MailboxSection, Message, OpenOptions, PostOffice, Severity,
    SkippedItem, Source, SourceError, SourceFormat,
};

use super::FOLDER_ID;
use super::reader::{ReadOptions, read_file};
use crate::mapping::{map_file, read_head};

const TOKENS: &[&[u8]] = &[
    b"VERSION:",
    b"TO:",
    b"FROM:",
    b"DATE:",
    b"TIME:",
    b"SUBJECT:",
    b"PRIORITY:",
    b"ATTACHMENTS:",
    b"XATTACH:",
    b"EXT:",
    b"CC:",
    b"TEXT:",
    b"XTEXT:",
];

/// Bytes read from each file when scanning a directory.
const HEAD_BYTES: u64 = 4096;
/// Most directory entries looked at by `detect` (it must stay cheap).
const DETECT_ENTRIES: usize = 64;

fn starts_ci(line: &[u8], p: &[u8]) -> bool {
    line.len() >= p.len() && line.iter().zip(p).all(|(a, b)| a.eq_ignore_ascii_case(b))
}

/// Confidence (0–100) that `head` (the first bytes of a file) is MMFF: the first line must
/// start with a known token (§10.2); a `TEXT:<digits>` or `XTEXT:` line in the head and a first
/// `VERSION:` line raise it. There is no magic number, so this is content evidence, not proof.
pub fn looks_like_mmff(head: &[u8]) -> u8 {
    let mut lines = head
        .split(|&b| b == b'\r' || b == b'\n')
        .filter(|l| !l.is_empty());
    let Some(first) = lines.next() else { return 0 };
    if !TOKENS.iter().any(|t| starts_ci(first, t)) {
        return 0;
    }
    let version = starts_ci(first, b"VERSION:")
        && first
            .get(8..)
            .is_some_and(|v| !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b'.'));
    let mut tokens_seen = 1u32;
    let mut body_ref = false;
    for l in std::iter::once(first).chain(lines).take(256) {
        if starts_ci(l, b"TEXT:") {
            body_ref = l.get(5..).is_some_and(|v| {
                !v.is_empty() && v.iter().all(|b| b.is_ascii_digit() || *b == b' ')
            });
            break;
        }
        if starts_ci(l, b"XTEXT:") {
            body_ref = true;
            break;
        }
        if TOKENS.iter().any(|t| starts_ci(l, t)) {
            tokens_seen += 1;
        }
    }
    match (body_ref, version) {
        (true, true) => 95,
        (true, false) => 85,
        (false, true) => 60,
        (false, false) if tokens_seen >= 2 => 40,
        _ => 20,
    }
}

fn natural_key(name: &str) -> Vec<(u8, u128, String)> {
    let mut out = Vec::new();
    let mut digits = String::new();
    let mut text = String::new();
    for c in name.chars() {
        if c.is_ascii_digit() {
            if !text.is_empty() {
                out.push((1, 0, std::mem::take(&mut text).to_ascii_uppercase()));
            }
            digits.push(c);
        } else {
            if !digits.is_empty() {
                let n = digits.parse::<u128>().unwrap_or(u128::MAX);
                out.push((0, n, std::mem::take(&mut digits)));
            }
            text.push(c);
        }
    }
    if !digits.is_empty() {
        out.push((0, digits.parse::<u128>().unwrap_or(u128::MAX), digits));
    }
    if !text.is_empty() {
        out.push((1, 0, text.to_ascii_uppercase()));
    }
    out
}

/// One mailbox of an MMFF input: its key and its files in order.
#[derive(Clone, Debug)]
struct MailboxFiles {
    info: MailboxInfo,
    root: PathBuf,
    files: Vec<PathBuf>,
}

/// Lists the regular files of `dir` (no symlinks) and its subdirectories, bounded.
fn list_dir(dir: &Path, max: usize) -> Result<(Vec<PathBuf>, Vec<PathBuf>), SourceError> {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    let rd = std::fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))?;
    for entry in rd.take(max) {
        let entry = entry.map_err(|e| SourceError::io(dir, e))?;
        let Ok(ft) = entry.file_type() else { continue };
        if ft.is_file() {
            files.push(entry.path());
        } else if ft.is_dir() {
            dirs.push(entry.path());
        }
    }
    let key = |p: &PathBuf| {
        natural_key(
            &p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
        )
    };
    files.sort_by_cached_key(key);
    dirs.sort_by_cached_key(key);
    Ok((files, dirs))
}

fn is_mmff_file(p: &Path) -> bool {
    read_head(p, HEAD_BYTES).is_ok_and(|h| looks_like_mmff(&h) >= 40)
}

fn stem(p: &Path) -> String {
    p.file_stem()
        .or_else(|| p.file_name())
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "mmff".into())
}

fn collect(paths: &[PathBuf], limits: &Limits) -> Result<Vec<MailboxFiles>, SourceError> {
    let max = usize::try_from(limits.max_items.min(1_000_000)).unwrap_or(1_000_000);
    let mut out: Vec<MailboxFiles> = Vec::new();
    let push = |key: String, root: &Path, files: Vec<PathBuf>, out: &mut Vec<MailboxFiles>| {
        let mut k = key.clone();
        let mut n = 2;
        while out.iter().any(|m| m.info.key == k) {
            k = format!("{key}-{n}");
            n += 1;
        }
        let rel: Vec<String> = files
            .iter()
            .map(|f| f.strip_prefix(root).unwrap_or(f).display().to_string())
            .collect();
        out.push(MailboxFiles {
            info: MailboxInfo {
                key: k.clone(),
                display_name: key,
                directory_id: Some(k),
                source_files: rel,
                ..MailboxInfo::default()
            },
            root: root.to_path_buf(),
            files,
        });
    };
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| SourceError::io(p, e))?;
        if meta.is_file() {
            let root = p.parent().unwrap_or(Path::new(".")).to_path_buf();
            push(stem(p), &root, vec![p.clone()], &mut out);
        } else if meta.is_dir() {
            let (files, dirs) = list_dir(p, max)?;
            let own: Vec<PathBuf> = files.into_iter().filter(|f| is_mmff_file(f)).collect();
            if !own.is_empty() {
                push(stem(p), p, own, &mut out);
            }
            for d in dirs {
                let (files, _) = list_dir(&d, max)?;
                let mine: Vec<PathBuf> = files.into_iter().filter(|f| is_mmff_file(f)).collect();
                if !mine.is_empty() {
                    push(stem(&d), p, mine, &mut out);
                }
            }
        } else {
            return Err(SourceError::format(
                p.display().to_string(),
                0,
                "not a regular file or directory",
            ));
        }
    }
    Ok(out)
}

/// The `mmff` input format: FFAPI text files (`msmail.md` §10).
#[derive(Clone, Copy, Debug, Default)]
pub struct MmffDriver;

impl Driver for MmffDriver {
    fn name(&self) -> &'static str {
        "mmff"
    }

    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection> {
        let meta = std::fs::metadata(path).ok()?;
        if meta.is_file() {
            let c = looks_like_mmff(head);
            return (c >= 40).then(|| Detection {
                driver: "mmff".into(),
                confidence: c,
                summary: "Microsoft Mail FFAPI text file (MMFF)".into(),
                convertible: true,
            });
        }
        if !meta.is_dir() {
            return None;
        }
        let rd = std::fs::read_dir(path).ok()?;
        let mut found = 0u32;
        let mut best = 0u8;
        let mut subdirs = Vec::new();
        for e in rd.flatten().take(DETECT_ENTRIES) {
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_file() {
                if let Ok(h) = read_head(&e.path(), 1024) {
                    let c = looks_like_mmff(&h);
                    if c >= 60 {
                        found += 1;
                        best = best.max(c);
                    }
                }
            } else if ft.is_dir() && subdirs.len() < 8 {
                subdirs.push(e.path());
            }
        }
        for d in subdirs {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten().take(8) {
                if e.file_type().is_ok_and(|t| t.is_file())
                    && let Ok(h) = read_head(&e.path(), 1024)
                {
                    let c = looks_like_mmff(&h);
                    if c >= 60 {
                        found += 1;
                        best = best.max(c);
                    }
                }
            }
        }
        (found > 0).then(|| Detection {
            driver: "mmff".into(),
            confidence: best.saturating_sub(15),
            summary: format!("directory with MMFF files ({found} seen in the first entries)"),
            convertible: true,
        })
    }

    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError> {
        let cp = crate::codepage::effective(options.code_page);
        let boxes = collect(&[path.to_path_buf()], &options.limits)?;
        let mut findings = Vec::new();
        let mut mailboxes = Vec::new();
        let mut total = 0u64;
        for mb in &boxes {
            let mut msgs = Vec::new();
            for f in &mb.files {
                let rel = f.strip_prefix(&mb.root).unwrap_or(f).display().to_string();
                let data = map_file(f).map_err(|e| SourceError::io(f, e))?;
                let parsed = read_file(
                    &data,
                    &ReadOptions {
                        code_page: cp,
                        limits: &options.limits,
                        file_name: &rel,
                        base_dir: f.parent(),
                    },
                );
                for item in parsed.items {
                    match item {
                        Ok(m) => {
                            total += 1;
                            for w in &m.warnings {
                                findings.push(finding_from_warning(w, Severity::Warning));
                            }
                            msgs.push(summary(&m, parsed.line_end));
                        }
                        Err(s) => {
                            let mut f = Finding::new(
                                Severity::Error,
                                "mmff.skipped-message",
                                s.reason.clone(),
                            );
                            f.file = s.file.clone();
                            f.offset = s.offset;
                            findings.push(f);
                        }
                    }
                }
            }
            mailboxes.push(serde_json::json!({
                "key": mb.info.key,
                "files": mb.info.source_files,
                "messages": msgs,
            }));
        }
        findings.insert(
            0,
            Finding::new(
                Severity::Info,
                "mmff.messages",
                format!(
                    "{total} messages in {} mailboxes; text decoded as code page {cp}",
                    boxes.len()
                ),
            ),
        );
        Ok(Inspection {
            driver: "mmff".into(),
            format: Some(SourceFormat::Mmff),
            summary: format!("MMFF: {} mailboxes, {total} messages", boxes.len()),
            findings,
            details: serde_json::json!({ "code_page": cp, "mailboxes": mailboxes }),
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        Ok(Box::new(MmffSource::open(paths, options)?))
    }
}

fn finding_from_warning(w: &mailmig_ir::Warning, sev: Severity) -> Finding {
    let mut f = Finding::new(sev, w.code.clone(), w.message.clone());
    f.file = w.file.clone();
    f.offset = w.offset;
    f
}

fn summary(m: &Message, le: Option<super::LineEnd>) -> serde_json::Value {
    let addr = |a: &mailmig_ir::Address| {
        format!(
            "{}:{}",
            a.addr_type.as_deref().unwrap_or(""),
            a.address.as_deref().unwrap_or("")
        )
    };
    serde_json::json!({
        "offset": m.ids.offset,
        "line_end": le.map(super::LineEnd::name),
        "from": m.from.as_ref().map(addr),
        "to": m.to.iter().map(addr).collect::<Vec<_>>(),
        "cc": m.cc.iter().map(addr).collect::<Vec<_>>(),
        "subject": m.subject,
        "sent": m.sent.map(|t| t.to_string()),
        "body_chars": m.body.text.as_ref().map(|t| t.chars().count()),
        "attachments": m.attachments.iter().map(|a| serde_json::json!({
            "name": a.name, "bytes": a.data().map(mailmig_ir::Blob::len)
        })).collect::<Vec<_>>(),
        "properties": m.properties.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
    })
}

/// MMFF files opened as a post office: one mailbox per file or directory (see [`mmff`](super)).
pub struct MmffSource {
    post_office: PostOffice,
    mailboxes: Vec<MailboxInfo>,
    files: Vec<MailboxFiles>,
    code_page: u16,
    limits: Limits,
}

impl MmffSource {
    /// Collects the mailboxes of `paths` (files or directories); reads no message yet.
    pub fn open(paths: &[PathBuf], options: &OpenOptions) -> Result<Self, SourceError> {
        let code_page = crate::codepage::effective(options.code_page);
        let files = collect(paths, &options.limits)?;
        let name = paths
            .first()
            .map(|p| stem(p))
            .unwrap_or_else(|| "mmff".into());
        let directory = Directory {
            entries: files
                .iter()
                .map(|m| DirectoryEntry {
                    kind: EntryKind::MailboxUser,
                    id: m.info.key.clone(),
                    display_name: m.info.display_name.clone(),
                    ..DirectoryEntry::default()
                })
                .collect(),
        };
        Ok(Self {
            post_office: PostOffice {
                name,
                format: SourceFormat::Mmff,
                code_page: Some(code_page),
                directory,
                ..PostOffice::default()
            },
            mailboxes: files.iter().map(|m| m.info.clone()).collect(),
            files,
            code_page,
            limits: options.limits.clone(),
        })
    }
}

impl Source for MmffSource {
    fn post_office(&self) -> &PostOffice {
        &self.post_office
    }

    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.mailboxes
    }

    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        let mb = self
            .files
            .iter()
            .find(|m| m.info.key == mailbox.key)
            .ok_or_else(|| SourceError::NoSuchMailbox(mailbox.key.clone()))?;
        budget.check()?;
        let folders = vec![Folder {
            id: FOLDER_ID.into(),
            name: "Inbox".into(),
            kind: FolderKind::Inbox,
            ..Folder::default()
        }];
        let budget = budget.clone();
        let cp = self.code_page;
        let limits = &self.limits;
        let root = &mb.root;
        let mut stopped = false;
        let iter = mb.files.iter().flat_map(move |f| {
            let rel = f.strip_prefix(root).unwrap_or(f).display().to_string();
            let items: Vec<Result<Message, SkippedItem>> = if stopped {
                Vec::new()
            } else if let Err(e) = budget.check() {
                stopped = true;
                vec![Err(SkippedItem::new(
                    "message",
                    format!("remaining files not read: {e}"),
                )
                .in_file(rel))]
            } else {
                match map_file(f) {
                    Ok(data) => {
                        read_file(
                            &data,
                            &ReadOptions {
                                code_page: cp,
                                limits,
                                file_name: &rel,
                                base_dir: f.parent(),
                            },
                        )
                        .items
                    }
                    Err(e) => vec![Err(SkippedItem::new(
                        "message",
                        format!("cannot read file: {e}"),
                    )
                    .in_file(rel))],
                }
            };
            items
        });
        Ok(MailboxSection {
            folders,
            messages: Box::new(iter),
            warnings: Vec::new(),
        })
    }
}
