//! Writing a migration-file set: [`IffSink`] (`formats/exchange-iff.md` §9 and §12).
//!
//! Layout of the output tree. §1 requires every file of a set to sit in the packing list's
//! directory, and the run engine commits each mailbox into a directory of its own; so each
//! mailbox's files are written there and `Sink::finish` hard-links them (copies where links are
//! impossible) into the output root, which then holds the complete, flat set the importer reads:
//!
//! ```text
//! <out>/<POSTOFFICE>.PKL          the packing list (Windows-1252), naming every file below
//! <out>/DIRECTORY.PRI             the DIRECTORY section
//! <out>/<NNNNNNNN>.PRI            one per mailbox: its PAB section (if it has a personal address
//!                                 book) and its MAILMESSAGE section — always, even with no mail
//!                                 and with --no-mail (KB Q194218, KB Q174749); also for every
//!                                 directory mailbox user the run wrote no mailbox for
//! <out>/<NNNNNNNN>.SEC            one per mailbox that has secondary data
//! <out>/<dir_name>/<NNNNNNNN>.*   the same files of that mailbox (the engine's unit of commit
//!                                 and resume)
//! ```
//!
//! `NNNNNNNN` is the 1-based position of the mailbox's owner among the directory's mailbox
//! users (`00000001` …, §12), or `X` and seven hex digits of a hash of the key for a mailbox
//! without a directory entry. Pointers `#00000001.SEC(offset)` name a secondary file in the
//! primary file's own directory, which holds for both places. The packing list is built from
//! the committed directories on disk, so a resumed run writes exactly what an uninterrupted
//! one does.
//!
//! Rules applied (§3.1, §12): CR LF on every line including the last; no continuation lines; every
//! field containing `# ! , \ " % .` quoted as a whole with inner quotes doubled; pointers never
//! quoted; backslashes doubled (and CR/LF written `\r`/`\n`) in `DIRECTORY` sections only; any
//! other value containing CR or LF moved to an `Other` section of the secondary file. Section
//! lines of secondary files quote only values containing `,` or `"`: this follows the worked
//! example of §13 (`Attachment,29,,TRUE,NOTE_G.TXT,103,None`), whose offsets depend on it.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use mailmig_ir::{
    Address, Attachment, AttachmentContent, AttachmentKind, Blob, CommittedMailbox, DirectoryEntry,
    EntryKind, FolderKind, MailboxContext, MailboxInfo, MailboxWriter, Message, PostOffice,
    Priority, PropValue, Sink, SinkError, WrittenStats,
};

use crate::lex::{escape_directory, join_multi, quote_field};
use crate::primary::{DIRECTORY_HEADER, MAILMESSAGE_HEADER, PAB_HEADER};
use crate::reader::PROP_PREFIX;
use crate::secondary::TITLE_LINE;

/// File name of the primary file holding the `DIRECTORY` section.
pub const DIRECTORY_FILE: &str = "DIRECTORY.PRI";

/// The Exchange migration-file writer (`--to iff`).
pub struct IffSink {
    code_page: u16,
    home_server: Option<String>,
    positions: Mutex<Option<PositionCache>>,
}

/// Positions of mailbox users in a post office's directory, tagged with the post office's
/// address and entry count so that a different post office recomputes them.
type PositionCache = (usize, usize, HashMap<String, usize>);

impl Default for IffSink {
    fn default() -> Self {
        Self::new(1252)
    }
}

impl IffSink {
    /// A sink writing text in `code_page` (1252 by default, §12). Characters the code page
    /// lacks are written as `?`.
    pub fn new(code_page: u16) -> Self {
        Self {
            code_page,
            home_server: None,
            positions: Mutex::new(None),
        }
    }

    /// Writes `server` as `Home-Server` of mailbox rows instead of `~Server` ("the server chosen
    /// in the wizard", §12 `--home-server`); an `iff:Home-Server` property of an entry still wins.
    pub fn with_home_server(mut self, server: impl Into<String>) -> Self {
        self.home_server = Some(server.into());
        self
    }

    /// The code page named on the packing list's first line.
    pub fn code_page(&self) -> u16 {
        self.code_page
    }

    /// 1-based position of a mailbox user (by directory id) among the directory's mailbox users,
    /// computed once per post office.
    fn position(&self, po: &PostOffice, id: &str) -> Option<usize> {
        let tag = (std::ptr::from_ref(po) as usize, po.directory.entries.len());
        let mut guard = self.positions.lock().ok()?;
        let fresh = !matches!(&*guard, Some((p, n, _)) if (*p, *n) == tag);
        if fresh {
            let mut map = HashMap::new();
            for (i, e) in po.directory.mailbox_users().enumerate() {
                map.entry(e.id.clone()).or_insert(i + 1);
            }
            *guard = Some((tag.0, tag.1, map));
        }
        guard.as_ref().and_then(|(_, _, m)| m.get(id).copied())
    }

    /// File stem of a mailbox's primary and secondary files: the owner's 1-based position
    /// among the directory's mailbox users (`00000001`, as the Migration Wizard named them,
    /// §1), or for a mailbox without a directory entry `X` and seven hex digits of an FNV-1a
    /// hash of its key — unique names, since all files of a set share one directory (§1).
    fn stem_for(&self, po: &PostOffice, mailbox: &MailboxInfo) -> String {
        let id = mailbox.directory_id.as_deref().unwrap_or(&mailbox.key);
        match self.position(po, id) {
            Some(n) => format!("{n:08}"),
            None => {
                let h = mailbox.key.bytes().fold(0x811C_9DC5_u32, |h, b| {
                    (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
                });
                format!("X{:07X}", h & 0x0FFF_FFFF)
            }
        }
    }
}

/// The primary and secondary files in a committed mailbox directory, sorted by name, each
/// with `true` for a primary file.
fn set_files(dir: &Path) -> Result<Vec<(String, bool)>, SinkError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let ext = Path::new(&name)
            .extension()
            .map(|e| e.to_string_lossy().to_ascii_uppercase());
        match ext.as_deref() {
            Some("PRI") => out.push((name, true)),
            Some("SEC") => out.push((name, false)),
            _ => {}
        }
    }
    out.sort();
    Ok(out)
}

/// Hard-links `from` to `to` (no extra space, same bytes), copying where links are not
/// possible (another file system, or a file system without links).
fn link_or_copy(from: &Path, to: &Path) -> Result<(), SinkError> {
    if std::fs::hard_link(from, to).is_ok() {
        return Ok(());
    }
    std::fs::copy(from, to).map(|_| ()).map_err(io(to))
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> SinkError + '_ {
    move |e| SinkError::io(path, e)
}

/// `TYPE:address` of an address (or the bare address, or `SMTP:` + its SMTP form).
pub fn typed_address(a: &Address) -> Option<String> {
    match (&a.addr_type, &a.address, &a.smtp) {
        (Some(t), Some(addr), _) => Some(format!("{t}:{addr}")),
        (None, Some(addr), _) => Some(addr.clone()),
        (_, None, Some(s)) => Some(format!("SMTP:{s}")),
        _ => None,
    }
}

/// `Display name[TYPE:address]` or `Display name` (§5.3).
pub fn recipient_text(a: &Address) -> String {
    let name = a.name.as_deref().unwrap_or("");
    match typed_address(a) {
        Some(t) => format!("{name}[{t}]"),
        None => name.to_string(),
    }
}

fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

fn is_public(info: &MailboxInfo) -> bool {
    info.key == "PublicMessages"
        || info.properties.iter().any(|p| {
            p.name == format!("{PROP_PREFIX}Section")
                && matches!(&p.value, PropValue::Text(t) if t == "PublicMessages")
        })
}

/// The argument of the `MAILMESSAGE` section line of a mailbox.
fn mailmessage_target(info: &MailboxInfo) -> String {
    if is_public(info) {
        return "PublicMessages".into();
    }
    one_line(
        &info
            .address
            .as_ref()
            .and_then(typed_address)
            .unwrap_or_else(|| info.key.clone()),
    )
}

fn text_prop<'a>(props: &'a [mailmig_ir::Property], name: &str) -> Option<&'a str> {
    props.iter().find_map(|p| match &p.value {
        PropValue::Text(t) if p.name.strip_prefix(PROP_PREFIX) == Some(name) => Some(t.as_str()),
        _ => None,
    })
}

/// Quotes a value for a section line of a secondary file (only `,` and `"` force quotes, see
/// the module docs).
fn sec_field(text: &str) -> String {
    let t = one_line(text);
    if t.contains([',', '"']) {
        format!("\"{}\"", t.replace('"', "\"\""))
    } else {
        t
    }
}

/// A secondary file being written; tracks its length for byte-exact pointers.
struct SecWriter {
    out: BufWriter<File>,
    len: u64,
}

struct IffMailboxWriter {
    code_page: u16,
    dir: PathBuf,
    stem: String,
    pri_path: PathBuf,
    pri: BufWriter<File>,
    pri_len: u64,
    sec: Option<SecWriter>,
    folder_paths: HashMap<String, String>,
    stats: WrittenStats,
}

impl IffMailboxWriter {
    fn sec_name(&self) -> String {
        format!("{}.SEC", self.stem)
    }

    fn sec(&mut self) -> Result<&mut SecWriter, SinkError> {
        if self.sec.is_none() {
            let path = self.dir.join(self.sec_name());
            let f = File::create(&path).map_err(io(&path))?;
            let mut out = BufWriter::with_capacity(1 << 16, f);
            let title = format!("{TITLE_LINE}\r\n");
            out.write_all(title.as_bytes()).map_err(io(&path))?;
            self.sec = Some(SecWriter {
                out,
                len: title.len() as u64,
            });
        }
        self.sec
            .as_mut()
            .ok_or_else(|| SinkError::Other("secondary file not open".into()))
    }

    /// Writes one section; returns its offset. A [`Blob`]'s bytes are written as they are
    /// read ([`Blob::pieces`]), so a large or streamed attachment is never copied whole.
    fn section(
        &mut self,
        kind: &str,
        data: SectionData<'_>,
        is_last: bool,
        name: &str,
        position: Option<u64>,
        format: &str,
    ) -> Result<u64, SinkError> {
        let path = self.dir.join(self.sec_name());
        let data_len = match data {
            SectionData::Bytes(b) => b.len(),
            SectionData::Blob(b) => b.len(),
        };
        let line = format!(
            "{kind},{data_len},,{},{},{},{format}\r\n",
            if is_last { "TRUE" } else { "FALSE" },
            sec_field(name),
            position.map(|p| p.to_string()).unwrap_or_default(),
        );
        let line = mailmig_ir::codepage::encode_lossy(&line, self.code_page);
        let sec = self.sec()?;
        let offset = sec.len;
        sec.out.write_all(&line).map_err(io(&path))?;
        match data {
            SectionData::Bytes(b) => sec.out.write_all(b),
            SectionData::Blob(b) => b.pieces(&mut |p| sec.out.write_all(p)),
        }
        .map_err(io(&path))?;
        sec.out.write_all(b"\r\n").map_err(io(&path))?;
        sec.len += (line.len() + data_len + 2) as u64;
        Ok(offset)
    }

    /// Encodes a primary-file value: quoted per §3.1, or moved to an `Other` section when it
    /// contains CR or LF (§3.1 rule 12).
    fn field(&mut self, text: &str) -> Result<String, SinkError> {
        if text.contains(['\r', '\n']) {
            let data = mailmig_ir::codepage::encode_lossy(text, self.code_page);
            let off = self.section("Other", SectionData::Bytes(&data), true, "", None, "")?;
            return Ok(format!("#{}({off})", self.sec_name()));
        }
        Ok(quote_field(text).into_owned())
    }

    fn write_pri(&mut self, text: &str) -> Result<(), SinkError> {
        let bytes = mailmig_ir::codepage::encode_lossy(text, self.code_page);
        self.pri.write_all(&bytes).map_err(io(&self.pri_path))?;
        self.pri_len += bytes.len() as u64;
        Ok(())
    }

    fn write_pab(&mut self, book: &[DirectoryEntry], owner: &str) -> Result<(), SinkError> {
        let mut out = format!("PAB,{}\r\n{}\r\n", quote_field(owner), PAB_HEADER.join(","));
        for e in book {
            let mut vals: Vec<String> = Vec::with_capacity(24);
            let is_list = matches!(e.kind, EntryKind::List);
            vals.push(if is_list { "dl" } else { "entry" }.to_string());
            vals.push(self.field(&e.display_name)?);
            let addr = if is_list {
                join_multi(&e.members)
            } else {
                e.address
                    .as_ref()
                    .and_then(typed_address)
                    .unwrap_or_else(|| format!("USER: {}", e.display_name))
            };
            vals.push(self.field(&addr)?);
            for col in PAB_HEADER.iter().skip(3).take(20) {
                let v = text_prop(&e.properties, col).unwrap_or("");
                vals.push(self.field(v)?);
            }
            let note = e.comment.as_deref().unwrap_or("");
            vals.push(self.field(note)?);
            out.push_str(&vals.join(","));
            out.push_str("\r\n");
        }
        out.push_str("\r\n");
        self.write_pri(&out)
    }

    fn body_and_attachments(&mut self, m: &Message) -> Result<u64, SinkError> {
        let body = mailmig_ir::codepage::encode_lossy(
            m.body.text.as_deref().unwrap_or(""),
            self.code_page,
        );
        let body_len = body.len() as u64;
        let atts: Vec<&Attachment> = m.attachments.iter().collect();
        let first = self.section(
            "Body",
            SectionData::Bytes(&body),
            atts.is_empty(),
            "",
            None,
            "",
        )?;
        let n = atts.len();
        for (i, a) in atts.into_iter().enumerate() {
            let rendered;
            let data = match &a.content {
                AttachmentContent::Data(b) => SectionData::Blob(b),
                AttachmentContent::Message(inner) => {
                    rendered = render_embedded(inner, self.code_page);
                    SectionData::Bytes(&rendered)
                }
                AttachmentContent::None => SectionData::Bytes(&[]),
            };
            let name = match (&a.name, &a.content) {
                (Some(n), AttachmentContent::Message(_)) if !n.is_empty() => {
                    if n.to_ascii_lowercase().ends_with(".txt") {
                        n.clone()
                    } else {
                        format!("{n}.txt")
                    }
                }
                (Some(n), _) if !n.is_empty() => n.clone(),
                (_, AttachmentContent::Message(inner)) => format!(
                    "{}.txt",
                    mailmig_ir::text::safe_component(
                        inner.subject.as_deref().unwrap_or("message"),
                        60,
                        "message"
                    )
                ),
                _ => format!("ATTACH{}.DAT", i + 1),
            };
            let format = if a.kind == AttachmentKind::MacBinary {
                "Macbinary"
            } else {
                "None"
            };
            let position = a.position.unwrap_or(body_len).min(body_len);
            self.section(
                "Attachment",
                data,
                i + 1 == n,
                &name,
                Some(position),
                format,
            )?;
            self.stats.attachments += 1;
        }
        Ok(first)
    }
}

/// The data of a secondary-file section: bytes rendered here, or an attachment's [`Blob`].
#[derive(Clone, Copy)]
enum SectionData<'a> {
    Bytes(&'a [u8]),
    Blob(&'a Blob),
}

/// A plain-text rendering of an embedded message: IFF has no embedded messages, so the writer
/// keeps its envelope and text body as a `.txt` attachment rather than dropping it.
fn render_embedded(m: &Message, code_page: u16) -> Vec<u8> {
    let mut s = String::new();
    if let Some(f) = &m.from {
        s.push_str(&format!("From: {}\r\n", recipient_text(f)));
    }
    for (label, list) in [("To", &m.to), ("Cc", &m.cc)] {
        if !list.is_empty() {
            let v: Vec<String> = list.iter().map(recipient_text).collect();
            s.push_str(&format!("{label}: {}\r\n", v.join("; ")));
        }
    }
    if let Some(t) = &m.sent {
        s.push_str(&format!("Date: {}\r\n", t.to_rfc5322()));
    }
    if let Some(subj) = &m.subject {
        s.push_str(&format!("Subject: {subj}\r\n"));
    }
    s.push_str("\r\n");
    s.push_str(m.body.text.as_deref().unwrap_or(""));
    mailmig_ir::codepage::encode_lossy(&s, code_page)
}

const KEYWORDS: [&str; 3] = ["DIRECTORY", "PAB", "MAILMESSAGE"];

impl MailboxWriter for IffMailboxWriter {
    fn write_message(&mut self, m: &Message) -> Result<(), SinkError> {
        let folder = m
            .folder
            .as_ref()
            .and_then(|f| self.folder_paths.get(f))
            .cloned()
            .unwrap_or_else(|| "Inbox".to_string());
        let mut folder_field = self.field(&folder)?;
        if KEYWORDS
            .iter()
            .any(|k| folder_field.eq_ignore_ascii_case(k))
        {
            folder_field = format!("\"{folder_field}\"");
        }
        let sender = m.from.as_ref().or(m.sender.as_ref()).map(recipient_text);
        let list = |l: &[Address]| {
            let v: Vec<String> = l
                .iter()
                .map(recipient_text)
                .filter(|s| !s.is_empty())
                .collect();
            join_multi(&v)
        };
        let date = |t: &Option<mailmig_ir::Timestamp>, prop: &str| match t {
            Some(ts) => mailmig_ir::dates::format_yyyymmddhhmmss(ts),
            None => text_prop(&m.properties, prop).unwrap_or("").to_string(),
        };
        let mut fields = vec![folder_field];
        fields.push(self.field(sender.as_deref().unwrap_or(""))?);
        fields.push(self.field(&list(&m.to))?);
        fields.push(self.field(&list(&m.cc))?);
        fields.push(self.field(&list(&m.bcc))?);
        fields.push(self.field(m.subject.as_deref().unwrap_or(""))?);
        fields.push(self.field(&date(&m.sent, "Send-Date"))?);
        fields.push(self.field(&date(&m.received, "Received-Date"))?);
        fields.push(
            match m.priority {
                Priority::Low => "-1",
                Priority::High => "1",
                Priority::Normal => "",
            }
            .to_string(),
        );
        fields.push(if m.flags.read { "" } else { "TRUE" }.to_string());
        fields.push(if m.flags.unsent { "TRUE" } else { "" }.to_string());
        let off = self.body_and_attachments(m)?;
        fields.push(format!("#{}({off})", self.sec_name()));
        let mut row = fields.join(",");
        row.push_str("\r\n");
        self.write_pri(&row)?;
        self.stats.messages += 1;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> Result<WrittenStats, SinkError> {
        self.pri.flush().map_err(io(&self.pri_path))?;
        let mut sec_len = 0;
        if let Some(sec) = self.sec.as_mut() {
            let path = self.dir.join(format!("{}.SEC", self.stem));
            sec.out.flush().map_err(io(&path))?;
            sec_len = sec.len;
        }
        self.stats.bytes = self.pri_len + sec_len;
        Ok(self.stats)
    }
}

/// The `Folder` column path of every folder: names joined with `\` from the top (the root
/// folder itself is not part of paths), special folders under the names of §5.3.
fn folder_paths(folders: &[mailmig_ir::Folder]) -> HashMap<String, String> {
    let by_id: HashMap<&str, &mailmig_ir::Folder> =
        folders.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out = HashMap::new();
    for f in folders {
        let mut parts = Vec::new();
        let mut seen = HashSet::new();
        let mut cur = Some(f);
        while let Some(c) = cur {
            if !seen.insert(c.id.as_str()) || parts.len() > 256 {
                break;
            }
            if c.kind == FolderKind::Root {
                break;
            }
            let parent = c.parent.as_deref().and_then(|p| by_id.get(p).copied());
            let top = parent.is_none_or(|p| p.kind == FolderKind::Root);
            let name = match c.kind {
                FolderKind::Inbox if top => "Inbox".to_string(),
                FolderKind::Sent if top => "Sent Items".to_string(),
                FolderKind::Deleted if top => "Deleted Items".to_string(),
                FolderKind::Outbox if top => "Outbox".to_string(),
                _ => c.name.replace('\\', "_"),
            };
            parts.push(name);
            cur = parent;
        }
        parts.reverse();
        let path = parts.join("\\");
        out.insert(
            f.id.clone(),
            if path.is_empty() {
                "Inbox".into()
            } else {
                path
            },
        );
    }
    out
}

fn directory_row(e: &DirectoryEntry, home_server: Option<&str>) -> Option<String> {
    let class = match e.kind {
        EntryKind::MailboxUser => "mailbox",
        EntryKind::CustomRecipient => "remote",
        _ => return None,
    };
    let esc = |s: &str| quote_field(&escape_directory(s)).into_owned();
    let mut proxies: Vec<String> = Vec::new();
    if let Some(t) = e.address.as_ref().and_then(typed_address) {
        proxies.push(if e.kind == EntryKind::MailboxUser {
            format!("MIGRATE:{t}")
        } else {
            t
        });
    }
    proxies.extend(e.proxy_addresses.iter().cloned());
    let escaped: Vec<String> = proxies
        .iter()
        .map(|p| escape_directory(p).into_owned())
        .collect();
    let home = if e.kind == EntryKind::MailboxUser {
        text_prop(&e.properties, "Home-Server")
            .or(home_server)
            .unwrap_or("~Server")
    } else {
        ""
    };
    Some(
        [
            class.to_string(),
            "create".to_string(),
            esc(&e.id),
            esc(&e.display_name),
            esc(text_prop(&e.properties, "Last Name").unwrap_or("")),
            esc(text_prop(&e.properties, "First Name").unwrap_or("")),
            quote_field(&join_multi(&escaped)).into_owned(),
            esc(home),
        ]
        .join(","),
    )
}

impl Sink for IffSink {
    fn name(&self) -> &'static str {
        "iff"
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let stem = self.stem_for(ctx.post_office, ctx.mailbox);
        let pri_path = dir.join(format!("{stem}.PRI"));
        let f = File::create(&pri_path).map_err(io(&pri_path))?;
        let mut w = IffMailboxWriter {
            code_page: self.code_page,
            dir: dir.to_path_buf(),
            stem,
            pri: BufWriter::with_capacity(1 << 16, f),
            pri_path,
            pri_len: 0,
            sec: None,
            folder_paths: folder_paths(ctx.folders),
            stats: WrittenStats::default(),
        };
        let target = mailmessage_target(ctx.mailbox);
        if !ctx.mailbox.personal_address_book.is_empty() {
            w.write_pab(&ctx.mailbox.personal_address_book, &target)?;
        }
        let head = format!(
            "MAILMESSAGE,{}\r\n{}\r\n",
            quote_field(&target),
            MAILMESSAGE_HEADER.join(",")
        );
        w.write_pri(&head)?;
        Ok(Box::new(w))
    }

    fn finish(
        &self,
        post_office: &PostOffice,
        mailboxes: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        let cp = self.code_page;
        // DIRECTORY.PRI
        let mut text = format!("DIRECTORY\r\n{}\r\n", DIRECTORY_HEADER.join(","));
        let dir_ids: HashSet<&str> = post_office
            .directory
            .entries
            .iter()
            .map(|e| e.id.as_str())
            .collect();
        for e in &post_office.directory.entries {
            if let Some(row) = directory_row(e, self.home_server.as_deref()) {
                text.push_str(&row);
                text.push_str("\r\n");
            }
        }
        // Mailboxes come from `mailboxes` (also those committed by an earlier, interrupted run),
        // never from writer state, so a resumed run writes the same files.
        let mut covered: HashSet<String> = HashSet::new();
        for cm in mailboxes {
            let info = &cm.mailbox;
            let id = info.directory_id.clone().unwrap_or_else(|| cm.key.clone());
            covered.insert(id.clone());
            if !dir_ids.contains(id.as_str()) && !is_public(info) {
                let e = DirectoryEntry {
                    kind: EntryKind::MailboxUser,
                    id,
                    display_name: info.display_name.clone(),
                    address: info.address.clone(),
                    ..DirectoryEntry::default()
                };
                if let Some(row) = directory_row(&e, self.home_server.as_deref()) {
                    text.push_str(&row);
                    text.push_str("\r\n");
                }
            }
        }
        let path = dir.join(DIRECTORY_FILE);
        std::fs::write(&path, mailmig_ir::codepage::encode_lossy(&text, cp)).map_err(io(&path))?;
        // Users of the directory that got no mailbox in this run still get their own primary
        // file with a MAILMESSAGE section (§9, KB Q194218, KB Q174749), next to the packing list.
        let mut extra = Vec::new();
        for (i, e) in post_office.directory.mailbox_users().enumerate() {
            if covered.contains(&e.id) {
                continue;
            }
            let target = one_line(
                &e.address
                    .as_ref()
                    .and_then(typed_address)
                    .unwrap_or_else(|| e.id.clone()),
            );
            let name = format!("{:08}.PRI", i + 1);
            let body = format!(
                "MAILMESSAGE,{}\r\n{}\r\n",
                quote_field(&target),
                MAILMESSAGE_HEADER.join(",")
            );
            let path = dir.join(&name);
            std::fs::write(&path, mailmig_ir::codepage::encode_lossy(&body, cp))
                .map_err(io(&path))?;
            extra.push(name);
        }
        // All files of a set sit in the packing list's directory (§1): each mailbox's files
        // are linked (or copied) from its committed directory into the output root.
        let mut pri_names = Vec::new();
        let mut secs = Vec::new();
        let mut placed: HashSet<String> = extra.iter().map(|n| n.to_ascii_uppercase()).collect();
        placed.insert(DIRECTORY_FILE.to_ascii_uppercase());
        for cm in mailboxes {
            for (name, is_pri) in set_files(&cm.path)? {
                if !placed.insert(name.to_ascii_uppercase()) {
                    return Err(SinkError::Other(format!(
                        "{}: {name} is also written by another mailbox; the files of a \
                         migration set share one directory and need unique names",
                        cm.path.display()
                    )));
                }
                link_or_copy(&cm.path.join(&name), &dir.join(&name))?;
                if is_pri {
                    pri_names.push(name);
                } else {
                    secs.push(name);
                }
            }
        }
        // The packing list (§4, §12), in Windows-1252.
        let mut pkl = format!("{cp}\r\n\r\n{DIRECTORY_FILE}\r\n");
        for name in pri_names {
            pkl.push_str(&name);
            pkl.push_str("\r\n");
        }
        for name in extra {
            pkl.push_str(&name);
            pkl.push_str("\r\n");
        }
        for name in secs {
            pkl.push_str(&name);
            pkl.push_str("\r\n");
        }
        let name = mailmig_ir::text::safe_component(&post_office.name, 64, "MAILMIG");
        let name: String = name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
            .collect();
        let name = if name.is_empty() {
            "MAILMIG".to_string()
        } else {
            name
        };
        let path = dir.join(format!("{name}.PKL"));
        std::fs::write(&path, mailmig_ir::codepage::encode_lossy(&pkl, 1252)).map_err(io(&path))?;
        Ok(())
    }
}
