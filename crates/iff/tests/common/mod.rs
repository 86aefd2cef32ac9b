//! Test support: an in-memory [`Source`], a minimal engine that drives a [`Sink`] the way
//! `mailmig-convert` does (one directory per mailbox, then `Sink::finish`), and a reader that
//! collects everything a source yields.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashSet;
use std::path::Path;

use mailmig_ir::{
    Budget, CommittedMailbox, Folder, MailboxContext, MailboxInfo, MailboxSection, Message,
    PostOffice, Sink, SkippedItem, Source, SourceError, Warning,
};

/// A post office held in memory.
#[derive(Debug)]
pub struct VecSource {
    pub po: PostOffice,
    pub mailboxes: Vec<MailboxInfo>,
    pub contents: Vec<(Vec<Folder>, Vec<Message>)>,
}

impl Source for VecSource {
    fn post_office(&self) -> &PostOffice {
        &self.po
    }
    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.mailboxes
    }
    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        _budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        let i = mailmig_ir::source::mailbox_index(&self.mailboxes, mailbox)?;
        let (folders, messages) = &self.contents[i];
        Ok(MailboxSection {
            folders: folders.clone(),
            messages: Box::new(messages.clone().into_iter().map(Ok)),
            warnings: Vec::new(),
        })
    }
}

/// Writes `source` through `sink` into `out` like the run engine: a directory per mailbox named
/// from its key, then `Sink::finish` into `out` itself.
pub fn write_set(source: &dyn Source, sink: &dyn Sink, out: &Path, no_mail: bool) {
    let po = source.post_office();
    let mut committed = Vec::new();
    let mut used = HashSet::new();
    for (i, mb) in source.mailboxes().iter().enumerate() {
        let mut dir_name = mailmig_ir::text::safe_component(&mb.key, 40, "mailbox");
        if !used.insert(dir_name.clone()) {
            dir_name = format!("{dir_name}_{i}");
            used.insert(dir_name.clone());
        }
        let dir = out.join(&dir_name);
        std::fs::create_dir_all(&dir).unwrap();
        let section = source.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let ctx = MailboxContext {
            post_office: po,
            mailbox: mb,
            folders: &section.folders,
            dir_name: &dir_name,
            no_mail,
        };
        let mut w = sink.open_mailbox(ctx, &dir).unwrap();
        if !no_mail {
            for m in section.messages {
                w.write_message(&m.unwrap()).unwrap();
            }
        }
        w.finish().unwrap();
        committed.push(CommittedMailbox {
            key: mb.key.clone(),
            dir_name: dir_name.clone(),
            display_name: mb.display_name.clone(),
            path: dir.clone(),
            mailbox: mb.clone(),
        });
    }
    sink.finish(po, &committed, out).unwrap();
}

/// Everything read from one mailbox.
#[derive(Debug, serde::Serialize)]
pub struct ReadMailbox {
    pub info: MailboxInfo,
    pub folders: Vec<Folder>,
    pub warnings: Vec<Warning>,
    pub messages: Vec<Result<Message, SkippedItem>>,
}

/// Reads every mailbox of a source.
pub fn read_all(source: &dyn Source) -> Vec<ReadMailbox> {
    source
        .mailboxes()
        .iter()
        .map(|mb| {
            let s = source.open_mailbox(mb, &Budget::unlimited()).unwrap();
            ReadMailbox {
                info: mb.clone(),
                folders: s.folders,
                warnings: s.warnings,
                messages: s.messages.collect(),
            }
        })
        .collect()
}

/// Every `.PRI` file below `dir`.
pub fn primary_files(dir: &Path) -> Vec<std::path::PathBuf> {
    // The set is flat (§1: every file sits in the packing list's directory); the per-mailbox
    // directories hold hard links to the same files.
    let mut out: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file() && p.extension().is_some_and(|x| x.eq_ignore_ascii_case("pri")))
        .collect();
    out.sort();
    out
}

/// Independent pointer check: finds every unquoted `#NAME(digits)` field in every primary file
/// of the set in `dir` with its own small CSV splitter (not the crate's), opens NAME next to the primary
/// file and checks that the offset is the start of a line that reads
/// `<Type>,<Length>,<Encoding>,<Islast>,...` with a known Type, a decimal Length whose data fits
/// in the file, and `Islast` TRUE or FALSE. Returns the number of pointers checked.
pub fn check_all_pointers(dir: &Path) -> usize {
    let mut checked = 0;
    for pri in primary_files(dir) {
        let text = std::fs::read(&pri).unwrap();
        for line in text.split(|b| *b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            // A tiny independent splitter: commas outside quotes, quotes toggle.
            let mut fields: Vec<(Vec<u8>, bool)> = vec![(Vec::new(), false)];
            let mut in_q = false;
            for &b in line {
                let last = fields.last_mut().unwrap();
                match b {
                    b'"' => {
                        in_q = !in_q;
                        last.1 = true;
                    }
                    b',' if !in_q => fields.push((Vec::new(), false)),
                    _ => last.0.push(b),
                }
            }
            for (f, quoted) in fields {
                if quoted || !f.starts_with(b"#") || !f.ends_with(b")") {
                    continue;
                }
                let s = String::from_utf8(f).unwrap();
                let open = s.rfind('(').unwrap();
                let name = &s[1..open];
                let off: usize = s[open + 1..s.len() - 1].parse().unwrap();
                let sec = std::fs::read(pri.parent().unwrap().join(name))
                    .unwrap_or_else(|e| panic!("{}: pointer {s}: {e}", pri.display()));
                assert!(off < sec.len(), "{s} past end of {name}");
                assert!(
                    off == 0 || sec[off - 1] == b'\n',
                    "{s}: offset {off} is not at a line start"
                );
                let rest = &sec[off..];
                let nl = rest.iter().position(|b| *b == b'\n').unwrap();
                assert_eq!(rest[nl - 1], b'\r', "{s}: section line must end in CR LF");
                let head = String::from_utf8_lossy(&rest[..nl - 1]).into_owned();
                let parts: Vec<&str> = head.split(',').collect();
                assert!(
                    ["Body", "Attachment", "Schedule", "Document", "Other"].contains(&parts[0]),
                    "{s}: no section header at offset {off}: {head:?}"
                );
                let len: usize = parts[1].parse().unwrap();
                assert!(
                    ["TRUE", "FALSE"].contains(&parts[3]),
                    "{s}: Islast {:?}",
                    parts[3]
                );
                assert!(off + nl + 1 + len + 2 <= sec.len(), "{s}: Length past end");
                assert_eq!(&sec[off + nl + 1 + len..off + nl + 3 + len], b"\r\n");
                checked += 1;
            }
        }
    }
    checked
}
