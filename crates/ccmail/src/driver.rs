//! [`CcmailDriver`] and [`CcmailSource`]: a set of per-user EXPORT streams plus a directory
//! export opened as one post office (notes §3, §5, §9).
//!
//! The list of users comes from the directory export: every `L`/`R` entry gets a mailbox, with
//! or without a stream (KB Q194218, KB Q174749, notes §9). How streams are matched to users is
//! described in the crate documentation ("Which stream belongs to which user").

use std::path::{Path, PathBuf};

use mailmig_ir::blob::FileMap;
use mailmig_ir::codepage;
use mailmig_ir::dates::{DEFAULT_YEAR_PIVOT, DateOrder};
use mailmig_ir::{
    Budget, Detection, DirectoryEntry, Driver, EntryKind, Finding, Folder, FolderKind, Inspection,
    MailboxInfo, MailboxSection, OpenOptions, PostOffice, PropValue, Property, Severity, Source,
    SourceError, SourceFormat, Warning,
};

use crate::dates::OrderEvidence;
use crate::directory::parse_directory;
use crate::stream::{
    ExportReader, FramingStats, ReaderConfig, add_folder_name, scan_date_order_releasing,
    scan_folder_names,
};
use crate::{CcmailError, map_file};

/// Reader choices that [`OpenOptions`] does not carry (`--date-order`, the year pivot).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderOptions {
    /// Forces the day/month order; `None` decides per post office (notes §7 rule 2).
    pub date_order: Option<DateOrder>,
    /// Two-digit-year pivot (notes §7 rule 3).
    pub year_pivot: u8,
}

impl Default for ReaderOptions {
    fn default() -> Self {
        Self {
            date_order: None,
            year_pivot: DEFAULT_YEAR_PIVOT,
        }
    }
}

impl ReaderOptions {
    /// Forces the day/month order.
    pub fn with_date_order(mut self, order: DateOrder) -> Self {
        self.date_order = Some(order);
        self
    }
}

/// The normalised form used to match stream files to users: letters and digits only,
/// lower-cased (`"Lovelace, Ada"` → `"lovelaceada"`).
pub fn name_key(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The keys a user name is matched under: the name itself and, for `Last, First`, `First Last`.
fn user_keys(name: &str) -> Vec<String> {
    let mut keys = vec![name_key(name)];
    if let Some((last, first)) = name.split_once(',') {
        keys.push(name_key(&format!("{first} {last}")));
    }
    keys.retain(|k| !k.is_empty());
    keys
}

/// One EXPORT stream of the post office. It is mapped only while its mailbox is read (and once
/// at open, to recognise it), so the resident memory of a run stays that of the mailboxes in
/// flight, not of the whole post office.
struct StreamFile {
    rel: String,
    path: PathBuf,
    canonical: PathBuf,
    /// Sub-folder name (if the file sits in one below an input folder), then the file stem.
    hints: Vec<String>,
}

/// A cc:Mail post office assembled from EXPORT streams and a directory export.
pub struct CcmailSource {
    po: PostOffice,
    mailboxes: Vec<MailboxInfo>,
    files: Vec<StreamFile>,
    assigned: Vec<Vec<usize>>,
    section_warnings: Vec<Vec<Warning>>,
    cfg: ReaderConfig,
    no_mail: bool,
}

struct InputFile {
    path: PathBuf,
    rel: String,
    parent_hint: Option<String>,
}

fn list_inputs(paths: &[PathBuf]) -> Result<Vec<InputFile>, CcmailError> {
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| CcmailError::Io { path, source }
    };
    let mut out = Vec::new();
    for p in paths {
        let meta = std::fs::metadata(p).map_err(io(p))?;
        if meta.is_file() {
            let name = p
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            out.push(InputFile {
                path: p.clone(),
                rel: name,
                parent_hint: None,
            });
            continue;
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(p)
            .map_err(io(p))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|e| {
                !e.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with('.'))
            })
            .collect();
        entries.sort();
        for e in entries {
            let name = e
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if e.is_file() {
                out.push(InputFile {
                    path: e,
                    rel: name,
                    parent_hint: None,
                });
            } else if e.is_dir() {
                let mut inner: Vec<PathBuf> = std::fs::read_dir(&e)
                    .map_err(io(&e))?
                    .filter_map(Result::ok)
                    .map(|x| x.path())
                    .filter(|x| {
                        x.is_file()
                            && !x
                                .file_name()
                                .is_some_and(|n| n.to_string_lossy().starts_with('.'))
                    })
                    .collect();
                inner.sort();
                for f in inner {
                    let fname = f
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.push(InputFile {
                        path: f,
                        rel: format!("{name}/{fname}"),
                        parent_hint: Some(name.clone()),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// True when `head` holds a `Message:` line at a line start (what makes a file a stream).
pub(crate) fn is_stream_head(head: &[u8]) -> bool {
    let mut p = 0usize;
    while p < head.len() {
        if crate::lex::is_message_line(head, p, head.len()) {
            return true;
        }
        p = crate::lex::line_at(head, p, head.len()).next;
    }
    false
}

fn folder_kind(name: &str) -> (FolderKind, bool) {
    match name.to_ascii_lowercase().as_str() {
        "inbox" => (FolderKind::Inbox, false),
        "message log" => (FolderKind::Sent, false),
        "trash" => (FolderKind::Deleted, false),
        "drafts" => (FolderKind::Drafts, false),
        "stationery" | "preferences" | "rules" => (FolderKind::Custom, true),
        _ => (FolderKind::Custom, false),
    }
}

impl CcmailSource {
    /// Opens the inputs: folders (their files and the files of their immediate sub-folders) and
    /// files. Streams are memory-mapped here; messages are decoded only when a mailbox's
    /// stream is iterated.
    pub fn open(
        paths: &[PathBuf],
        options: &OpenOptions,
        reader: &ReaderOptions,
    ) -> Result<Self, CcmailError> {
        let inputs = list_inputs(paths)?;
        let code_page = options.code_page.unwrap_or(codepage::OEM_850);
        let mut po = PostOffice {
            format: SourceFormat::Ccmail,
            code_page: Some(code_page),
            ..PostOffice::default()
        };
        if !codepage::is_supported(code_page) {
            po.warnings.push(Warning::new(
                "ccmail.code-page",
                format!("code page {code_page} is not supported; text decodes as Windows-1252"),
            ));
        }
        let mut files: Vec<StreamFile> = Vec::new();
        let mut evidence = OrderEvidence::default();
        let mut export_files: Vec<(String, PathBuf)> = Vec::new();
        let mut have_directory = false;
        for inp in inputs {
            let map = map_file(&inp.path)?;
            let bytes = map.bytes();
            let data: &[u8] = (*bytes).as_ref();
            let head = data.get(..data.len().min(64 * 1024)).unwrap_or(&[]);
            if data.is_empty() || is_stream_head(head) {
                let stem = inp
                    .path
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default();
                let mut hints = Vec::new();
                if let Some(h) = inp.parent_hint.clone() {
                    hints.push(h);
                }
                hints.push(stem);
                if reader.date_order.is_none() && !evidence.is_settled() {
                    let cfg = ReaderConfig::default().with_limits(options.limits.clone());
                    evidence.merge(scan_date_order_releasing(data, &cfg, &|| {
                        map.release_pages()
                    }));
                }
                files.push(StreamFile {
                    canonical: std::fs::canonicalize(&inp.path)
                        .unwrap_or_else(|_| inp.path.clone()),
                    rel: inp.rel,
                    path: inp.path,
                    hints,
                });
                continue;
            }
            let dir = parse_directory(data, code_page, &inp.rel);
            if dir.located == 0 && dir.post_office.is_none() {
                po.warnings.push(
                    Warning::new(
                        "ccmail.ignored-file",
                        "neither an EXPORT stream (no Message: line) nor a directory export (no location codes); ignored",
                    )
                    .in_file(inp.rel),
                );
                continue;
            }
            have_directory = true;
            if po.name.is_empty()
                && let Some(n) = &dir.post_office
            {
                po.name = n.clone();
            }
            let base = inp.path.parent().map(Path::to_path_buf).unwrap_or_default();
            for (id, rel) in dir.export_files {
                let p = base.join(rel.replace('\\', "/"));
                export_files.push((id, std::fs::canonicalize(&p).unwrap_or(p)));
            }
            po.warnings.extend(dir.warnings);
            po.properties.push(Property::new(
                "ccmail:directory-export",
                PropValue::Text(inp.rel),
            ));
            po.directory.entries.extend(dir.entries);
        }
        if po.name.is_empty() {
            po.name = paths
                .first()
                .and_then(|p| p.file_stem())
                .map(|s| s.to_string_lossy().into_owned())
                .unwrap_or_else(|| "ccmail".into());
        }
        if !have_directory {
            po.warnings.push(Warning::new(
                "ccmail.no-directory",
                "no directory export found: the users are only those with an EXPORT stream (run EXPORT /DIRECTORY, notes §3.1, so users without mail are migrated too)",
            ));
        }

        let (order, how) = match reader.date_order {
            Some(o) => (o, "set by option".to_string()),
            None if evidence.is_settled() => (
                evidence.decide(),
                format!(
                    "settled by date {}, the first whose second field is above 12 (notes §7 rule 2)",
                    evidence.dates_seen
                ),
            ),
            None => (
                evidence.decide(),
                format!(
                    "decided from {} dates (notes §7 rule 2)",
                    evidence.dates_seen
                ),
            ),
        };
        let order_name = match order {
            DateOrder::MonthDay => "month/day/year",
            DateOrder::DayMonth => "day/month/year",
        };
        po.properties.push(Property::new(
            "ccmail:date-order",
            PropValue::Text(format!("{order_name}, {how}")),
        ));

        let mut mailboxes: Vec<MailboxInfo> = Vec::new();
        let mut section_warnings: Vec<Vec<Warning>> = Vec::new();
        for e in po
            .directory
            .entries
            .iter()
            .filter(|e| e.kind == EntryKind::MailboxUser)
        {
            if mailboxes.iter().any(|m| m.key == e.id) {
                continue;
            }
            mailboxes.push(mailbox_for(e));
            section_warnings.push(Vec::new());
        }
        let mut assigned: Vec<Vec<usize>> = vec![Vec::new(); mailboxes.len()];
        let mut keys: Vec<(String, usize)> = Vec::new();
        for (i, m) in mailboxes.iter().enumerate() {
            for k in user_keys(&m.key)
                .into_iter()
                .chain(user_keys(&m.display_name))
            {
                keys.push((k, i));
            }
        }
        for (fi, f) in files.iter().enumerate() {
            let by_field = export_files
                .iter()
                .find(|(_, p)| *p == f.canonical)
                .and_then(|(id, _)| mailboxes.iter().position(|m| &m.key == id));
            let by_name = || {
                f.hints.iter().find_map(|h| {
                    let k = name_key(h);
                    keys.iter().find(|(uk, _)| *uk == k).map(|(_, i)| *i)
                })
            };
            let target = match by_field.or_else(by_name) {
                Some(i) => i,
                None => {
                    let hint = f.hints.first().cloned().unwrap_or_else(|| f.rel.clone());
                    let k = name_key(&hint);
                    if let Some(&(_, i)) = keys.iter().find(|(uk, _)| *uk == k && !k.is_empty()) {
                        i
                    } else {
                        let mut key = hint.clone();
                        let mut n = 2;
                        while mailboxes.iter().any(|m| m.key == key) {
                            key = format!("{hint}~{n}");
                            n += 1;
                        }
                        mailboxes.push(MailboxInfo {
                            key: key.clone(),
                            display_name: hint.clone(),
                            ..MailboxInfo::default()
                        });
                        section_warnings.push(vec![Warning::new(
                            "ccmail.user-not-in-directory",
                            format!("stream {:?} matches no mailbox user of the directory export; converted as mailbox {key:?}", f.rel),
                        )
                        .in_file(f.rel.clone())]);
                        assigned.push(Vec::new());
                        keys.push((k, mailboxes.len() - 1));
                        mailboxes.len() - 1
                    }
                }
            };
            if let Some(a) = assigned.get_mut(target) {
                a.push(fi);
            }
            if let Some(m) = mailboxes.get_mut(target) {
                m.source_files.push(f.rel.clone());
            }
        }
        let limits = options.limits.clone();
        let cfg = ReaderConfig::default()
            .with_code_page(code_page)
            .with_date_order(order)
            .with_year_pivot(reader.year_pivot)
            .with_limits(limits);
        Ok(Self {
            po,
            mailboxes,
            files,
            assigned,
            section_warnings,
            cfg,
            no_mail: options.no_mail,
        })
    }

    /// Reads every stream of `mailbox` to the end and returns message count, warning count and
    /// framing statistics (for `inspect`).
    pub fn survey(&self, mailbox: &MailboxInfo) -> (u64, u64, FramingStats) {
        let mut stats = FramingStats::default();
        let (mut msgs, mut warns) = (0u64, 0u64);
        let Ok(i) = mailmig_ir::source::mailbox_index(&self.mailboxes, mailbox) else {
            return (0, 0, stats);
        };
        for &fi in self.assigned.get(i).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(f) = self.files.get(fi) else {
                continue;
            };
            let Ok(map) = map_file(&f.path) else {
                warns += 1;
                continue;
            };
            let mut cfg = self.cfg.clone();
            cfg.file = f.rel.clone();
            let mut r = ExportReader::over_file(map, cfg);
            for m in r.by_ref() {
                match m {
                    Ok(m) => {
                        msgs += 1;
                        warns += m.warnings.len() as u64;
                    }
                    Err(_) => warns += 1,
                }
            }
            let s = r.stats();
            stats.messages += s.messages;
            stats.rule_a += s.rule_a;
            stats.rule_b += s.rule_b;
            stats.rule_c += s.rule_c;
            stats.scanned += s.scanned;
            stats.bad_sizes += s.bad_sizes;
        }
        (msgs, warns, stats)
    }
}

fn mailbox_for(e: &DirectoryEntry) -> MailboxInfo {
    MailboxInfo {
        key: e.id.clone(),
        display_name: e.display_name.clone(),
        address: e.address.clone(),
        directory_id: Some(e.id.clone()),
        ..MailboxInfo::default()
    }
}

impl Source for CcmailSource {
    fn post_office(&self) -> &PostOffice {
        &self.po
    }

    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.mailboxes
    }

    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        budget.check()?;
        let i = mailmig_ir::source::mailbox_index(&self.mailboxes, mailbox)?;
        let file_ids: Vec<usize> = self.assigned.get(i).cloned().unwrap_or_default();
        let mut mapped: Vec<(&StreamFile, FileMap)> = Vec::new();
        for &fi in &file_ids {
            if let Some(f) = self.files.get(fi) {
                let map = map_file(&f.path).map_err(|e| match e {
                    CcmailError::Io { path, source } => SourceError::Io { path, source },
                    other => SourceError::format(f.rel.clone(), 0, other.to_string()),
                })?;
                mapped.push((f, map));
            }
        }
        let mut names: Vec<String> = Vec::new();
        for (_, map) in &mapped {
            let bytes = map.bytes();
            let release = || map.release_pages();
            for n in scan_folder_names((*bytes).as_ref(), &self.cfg, &release) {
                add_folder_name(&mut names, &n);
            }
        }
        let folders: Vec<Folder> = names
            .iter()
            .map(|n| {
                let (kind, config) = folder_kind(n);
                Folder {
                    id: n.clone(),
                    name: n.clone(),
                    kind,
                    properties: if config {
                        vec![Property::new("ccmail:configuration", PropValue::Bool(true))]
                    } else {
                        Vec::new()
                    },
                    ..Folder::default()
                }
            })
            .collect();
        let mut section = MailboxSection::empty(folders);
        section.warnings = self.section_warnings.get(i).cloned().unwrap_or_default();
        if self.no_mail {
            return Ok(section);
        }
        let readers: Vec<ExportReader> = mapped
            .into_iter()
            .map(|(f, map)| {
                let mut cfg = self.cfg.clone();
                cfg.file = f.rel.clone();
                ExportReader::over_file(map, cfg).with_budget(budget.clone())
            })
            .collect();
        section.messages = Box::new(readers.into_iter().flatten().map(move |r| {
            r.map(|mut m| {
                if let Some(f) = &m.folder
                    && let Some(n) = names.iter().find(|n| n.eq_ignore_ascii_case(f))
                {
                    m.folder = Some(n.clone());
                }
                m
            })
        }));
        Ok(section)
    }
}

/// The driver for cc:Mail EXPORT streams plus directory exports (`--from ccmail`).
///
/// Input: one or more folders holding the streams and the directory export (streams may sit in
/// one sub-folder per user), or the files themselves.
#[derive(Clone, Copy, Debug, Default)]
pub struct CcmailDriver;

impl Driver for CcmailDriver {
    fn name(&self) -> &'static str {
        "ccmail"
    }

    fn detect(&self, path: &Path, head: &[u8]) -> Option<Detection> {
        if path.is_dir() {
            if crate::postoffice::scan_post_office(path).is_some_and(|s| s.is_post_office()) {
                return None;
            }
            let inputs = list_inputs(&[path.to_path_buf()]).ok()?;
            let streams = inputs
                .iter()
                .take(512)
                .filter(|f| read_head(&f.path).is_some_and(|h| is_stream_head(&h)))
                .count();
            return (streams > 0).then(|| Detection {
                driver: "ccmail".into(),
                confidence: 80,
                summary: format!("folder with {streams} cc:Mail EXPORT stream(s)"),
                convertible: true,
            });
        }
        if is_stream_head(head) {
            return Some(Detection {
                driver: "ccmail".into(),
                confidence: 90,
                summary: "cc:Mail EXPORT stream (Message: lines)".into(),
                convertible: true,
            });
        }
        let d = parse_directory(head, codepage::OEM_850, "");
        (d.post_office.is_some() || (d.located > 0 && d.located * 2 >= d.entries.len())).then(
            || Detection {
                driver: "ccmail".into(),
                confidence: 40,
                summary: format!(
                    "cc:Mail directory export ({} entries in the first block)",
                    d.entries.len()
                ),
                convertible: true,
            },
        )
    }

    fn inspect(&self, path: &Path, options: &OpenOptions) -> Result<Inspection, SourceError> {
        let src = CcmailSource::open(&[path.to_path_buf()], options, &ReaderOptions::default())?;
        let mut findings = Vec::new();
        let mut per_user = Vec::new();
        let mut total = FramingStats::default();
        for m in &src.mailboxes {
            let (msgs, warns, st) = src.survey(m);
            total.messages += st.messages;
            total.rule_a += st.rule_a;
            total.rule_b += st.rule_b;
            total.rule_c += st.rule_c;
            total.scanned += st.scanned;
            total.bad_sizes += st.bad_sizes;
            if m.source_files.is_empty() {
                findings.push(Finding::new(
                    Severity::Info,
                    "ccmail.user-without-stream",
                    format!(
                        "{} has no EXPORT stream: gets an empty mailbox (KB Q194218)",
                        m.display_name
                    ),
                ));
            }
            per_user.push(serde_json::json!({
                "key": m.key, "display_name": m.display_name, "files": m.source_files,
                "messages": msgs, "warnings": warns,
            }));
        }
        for (m, ws) in src.mailboxes.iter().zip(&src.section_warnings) {
            for w in ws {
                findings.push(Finding::new(
                    Severity::Warning,
                    w.code.clone(),
                    format!("{}: {}", m.key, w.message),
                ));
            }
        }
        for w in &src.po.warnings {
            let mut f = Finding::new(Severity::Warning, w.code.clone(), w.message.clone());
            if let Some(file) = &w.file {
                f = f.in_file(file.clone());
            }
            if let Some(o) = w.offset {
                f = f.at(o);
            }
            findings.push(f);
        }
        let order = src
            .po
            .properties
            .iter()
            .find(|p| p.name == "ccmail:date-order")
            .and_then(|p| match &p.value {
                PropValue::Text(t) => Some(t.clone()),
                _ => None,
            })
            .unwrap_or_default();
        findings.push(Finding::new(
            Severity::Info,
            "ccmail.date-order",
            format!("dates read as {order}"),
        ));
        findings.push(Finding::new(
            Severity::Info,
            "ccmail.code-page",
            format!(
                "text decoded with code page {} (override with --code-page)",
                src.cfg.code_page
            ),
        ));
        findings.push(Finding::new(
            Severity::Info,
            "ccmail.size-rule",
            format!(
                "item sizes: rule A {} / rule B {} / rule C {}, scanned {}, bad size lines {} (notes §4.4)",
                total.rule_a, total.rule_b, total.rule_c, total.scanned, total.bad_sizes
            ),
        ));
        let users = src.po.directory.mailbox_users().count();
        Ok(Inspection {
            driver: "ccmail".into(),
            format: Some(SourceFormat::Ccmail),
            summary: format!(
                "cc:Mail export set {:?}: {} mailbox(es) ({} from the directory), {} stream(s), {} message(s)",
                src.po.name,
                src.mailboxes.len(),
                users,
                src.files.len(),
                total.messages
            ),
            findings,
            details: serde_json::json!({
                "post_office": src.po.name,
                "code_page": src.cfg.code_page,
                "date_order": order,
                "directory_entries": src.po.directory.entries.len(),
                "framing": total,
                "mailboxes": per_user,
            }),
        })
    }

    fn open(
        &self,
        paths: &[PathBuf],
        options: &OpenOptions,
    ) -> Result<Box<dyn Source>, SourceError> {
        Ok(Box::new(CcmailSource::open(
            paths,
            options,
            &ReaderOptions::default(),
        )?))
    }
}

fn read_head(path: &Path) -> Option<Vec<u8>> {
    use std::io::Read;
    let mut f = std::fs::File::open(path).ok()?;
    let mut buf = vec![0u8; 4096];
    let n = f.read(&mut buf).ok()?;
    buf.truncate(n);
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date_order_text(streams: &[&[u8]]) -> String {
        let dir = tempfile::tempdir().unwrap();
        for (i, s) in streams.iter().enumerate() {
            std::fs::write(dir.path().join(format!("USER{i}.CCM")), s).unwrap();
        }
        let src = CcmailSource::open(
            &[dir.path().to_path_buf()],
            &OpenOptions::default(),
            &ReaderOptions::default(),
        )
        .unwrap();
        src.po
            .properties
            .iter()
            .find(|p| p.name == "ccmail:date-order")
            .map(|p| format!("{:?}", p.value))
            .unwrap()
    }

    #[test]
    fn date_order_property_says_how_it_was_decided() {
        let msg = |date: &str| format!("Message:\r\nDate: {date}\r\nContents:\r\n").into_bytes();
        // Day/month evidence in the first stream, settled to month/day in the second: the
        // third stream is not scanned.
        let (a, b, c) = (
            msg("14/3/99 9:05"),
            msg("1/13/99 9:05"),
            msg("15/3/99 9:05"),
        );
        let text = date_order_text(&[&a, &b, &c]);
        assert!(
            text.contains("month/day/year, settled by date 2,"),
            "{text}"
        );
        let text = date_order_text(&[&a, &c]);
        assert!(
            text.contains("day/month/year, decided from 2 dates"),
            "{text}"
        );
    }
}
