//! Test doubles for the engine tests: an in-memory [`Source`] whose mailboxes behave as told
//! (normal, empty, failing, panicking, blocking, slow) and a [`Sink`] writing one small text
//! file per message. Independent of the real sinks in `crate::sinks`.
#![allow(dead_code)]
// Test-only helpers: panicking on a broken fixture is the right failure.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use mailmig_convert::engine::{self, RunOptions, RunReport};
use mailmig_ir::{
    Attachment, AttachmentContent, AttachmentKind, Blob, Budget, CommittedMailbox, Folder,
    FolderKind, MailboxContext, MailboxInfo, MailboxSection, MailboxWriter, Message, PostOffice,
    Sink, SinkError, SkippedItem, Source, SourceError, SourceFormat, Warning, WrittenStats,
};

/// How one mailbox of [`MemSource`] behaves.
#[derive(Clone, Debug)]
pub enum Behaviour {
    /// `n` messages (every third has an attachment, every fifth an embedded message).
    Messages(u32),
    /// `n` messages, each taking `delay` to produce.
    Slow(u32, Duration),
    /// `n` messages, then items skipped (kind `message`) at positions divisible by 4.
    WithSkips(u32),
    /// `open_mailbox` fails with a format error.
    OpenError,
    /// Yields `n` messages, then panics.
    PanicAfter(u32),
    /// Yields `n` messages, then sleeps forever without checking the budget.
    BlockForever(u32),
    /// Yields `n` messages, then waits, checking the budget, until the budget stops it: a
    /// cooperative reader stuck on its mailbox. It overruns any budget however generous, so a
    /// test built on it does not depend on how fast the machine is.
    StallAfter(u32),
    /// Loops forever checking the budget (a cooperative but endless source): ends the stream
    /// when the budget stops it.
    Endless,
    /// `n` messages whose bodies are the bytes of `file` (read-only).
    FromFile(u32, PathBuf),
}

/// An in-memory source.
pub struct MemSource {
    pub post_office: PostOffice,
    pub infos: Vec<MailboxInfo>,
    pub behaviours: Vec<Behaviour>,
    /// Messages pulled from all streams.
    pub pulled: Arc<AtomicU64>,
    /// Mailboxes opened.
    pub opened: Arc<AtomicU64>,
    /// The threads mailboxes were opened on.
    pub threads: Arc<std::sync::Mutex<std::collections::HashSet<std::thread::ThreadId>>>,
    /// The indexes of the mailboxes opened, in the order they were opened.
    pub open_order: Arc<std::sync::Mutex<Vec<usize>>>,
    /// What [`Source::work_estimate`] answers per mailbox (none when shorter).
    pub estimates: Vec<Option<u64>>,
}

impl MemSource {
    /// A source with one mailbox per behaviour, named `User 0`, `User 1`, …
    pub fn new(behaviours: Vec<Behaviour>) -> Self {
        let infos = (0..behaviours.len())
            .map(|i| MailboxInfo {
                key: format!("user{i:03}"),
                display_name: format!("User {i}"),
                directory_id: Some(format!("DIR{i}")),
                source_files: vec![format!("po/mbox{i}.dat")],
                ..MailboxInfo::default()
            })
            .collect();
        Self {
            post_office: PostOffice {
                name: "TESTPO".into(),
                format: SourceFormat::Other,
                warnings: vec![Warning::new("test.po", "post-office warning")],
                ..PostOffice::default()
            },
            infos,
            behaviours,
            pulled: Arc::new(AtomicU64::new(0)),
            opened: Arc::new(AtomicU64::new(0)),
            threads: Arc::default(),
            open_order: Arc::default(),
            estimates: Vec::new(),
        }
    }
}

/// The `i`-th test message of mailbox `mb`.
pub fn message(mb: usize, i: u32) -> Message {
    let mut m = Message {
        subject: Some(format!("Message {i} of mailbox {mb}")),
        folder: Some(if i.is_multiple_of(2) { "inbox" } else { "sent" }.to_string()),
        ..Message::default()
    };
    m.ids.native = Some(format!("m{mb}-{i}"));
    m.ids.file = Some(format!("po/mbox{mb}.dat").into());
    m.ids.offset = Some(u64::from(i) * 100);
    m.body.text = Some(format!("Body {i}\n"));
    if i.is_multiple_of(3) {
        m.attachments.push(Attachment {
            name: Some("a.bin".into()),
            content: AttachmentContent::Data(Blob::from_vec(vec![7; 10])),
            ..Attachment::default()
        });
    }
    if i.is_multiple_of(5) {
        let inner = Message {
            subject: Some("inner".into()),
            attachments: vec![Attachment {
                content: AttachmentContent::Data(Blob::from_vec(vec![1, 2, 3])),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        m.attachments.push(Attachment {
            kind: AttachmentKind::EmbeddedMessage,
            content: AttachmentContent::Message(Box::new(inner)),
            ..Attachment::default()
        });
    }
    if i == 1 {
        m.warnings
            .push(Warning::new("test.warn", "odd date kept raw").at(42));
    }
    m
}

fn folders() -> Vec<Folder> {
    vec![
        Folder {
            id: "inbox".into(),
            name: "Inbox".into(),
            kind: FolderKind::Inbox,
            ..Folder::default()
        },
        Folder {
            id: "sent".into(),
            name: "Sent".into(),
            kind: FolderKind::Sent,
            ..Folder::default()
        },
    ]
}

impl Source for MemSource {
    fn post_office(&self) -> &PostOffice {
        &self.post_office
    }

    fn mailboxes(&self) -> &[MailboxInfo] {
        &self.infos
    }

    fn work_estimate(&self, index: usize) -> Option<u64> {
        self.estimates.get(index).copied().flatten()
    }

    fn open_mailbox<'s>(
        &'s self,
        mailbox: &MailboxInfo,
        budget: &Budget,
    ) -> Result<MailboxSection<'s>, SourceError> {
        self.opened.fetch_add(1, Ordering::SeqCst);
        self.threads
            .lock()
            .unwrap()
            .insert(std::thread::current().id());
        let mb = mailmig_ir::source::mailbox_index(&self.infos, mailbox)?;
        self.open_order.lock().unwrap().push(mb);
        let behaviour = self.behaviours[mb].clone();
        let pulled = Arc::clone(&self.pulled);
        let count = move || {
            pulled.fetch_add(1, Ordering::SeqCst);
        };
        let budget = budget.clone();
        let messages: mailmig_ir::MessageStream<'s> = match behaviour {
            Behaviour::OpenError => {
                return Err(SourceError::format(
                    format!("po/mbox{mb}.dat"),
                    512,
                    "invalid mailbox header magic 0xDEADBEEF",
                ));
            }
            Behaviour::Messages(n) => Box::new((0..n).map(move |i| {
                count();
                Ok(message(mb, i))
            })),
            Behaviour::Slow(n, d) => Box::new((0..n).map(move |i| {
                std::thread::sleep(d);
                count();
                Ok(message(mb, i))
            })),
            Behaviour::WithSkips(n) => Box::new((0..n).map(move |i| {
                count();
                if i.is_multiple_of(4) {
                    Err(SkippedItem::new("message", "bad record checksum 0x0000")
                        .in_file(format!("po/mbox{mb}.dat"))
                        .at(u64::from(i) * 100)
                        .with_id(format!("m{mb}-{i}")))
                } else {
                    Ok(message(mb, i))
                }
            })),
            Behaviour::PanicAfter(n) => Box::new((0..).map(move |i| {
                count();
                if i >= n {
                    panic!("test source panics at message {i}");
                }
                Ok(message(mb, i))
            })),
            Behaviour::BlockForever(n) => Box::new((0..).map(move |i| {
                if i >= n {
                    loop {
                        std::thread::sleep(Duration::from_millis(50));
                    }
                }
                count();
                Ok(message(mb, i))
            })),
            Behaviour::StallAfter(n) => Box::new(
                (0..n)
                    .map(move |i| {
                        count();
                        Ok(message(mb, i))
                    })
                    .chain(std::iter::from_fn(move || {
                        while budget.check().is_ok() {
                            std::thread::sleep(Duration::from_millis(5));
                        }
                        None
                    })),
            ),
            Behaviour::Endless => Box::new(
                (0u32..)
                    .map_while(move |i| {
                        std::thread::sleep(Duration::from_millis(5));
                        budget.check().ok().map(|()| i)
                    })
                    .map(move |i| {
                        count();
                        Ok(message(mb, i))
                    }),
            ),
            Behaviour::FromFile(n, path) => {
                let bytes = fs::read(&path).map_err(|e| SourceError::io(&path, e))?;
                Box::new((0..n).map(move |i| {
                    count();
                    let mut m = message(mb, i);
                    m.body.text = Some(String::from_utf8_lossy(&bytes).into_owned());
                    Ok(m)
                }))
            }
        };
        let mut section = MailboxSection::empty(folders());
        section.messages = messages;
        section
            .warnings
            .push(Warning::new("test.section", format!("section of {mb}")));
        Ok(section)
    }
}

/// A sink writing `mailbox.txt` plus one `NNNN.txt` per message; subjects containing `UNREP`
/// are refused as unrepresentable. `finish` writes `index.txt` (or the names in
/// `finish_names`).
pub struct FileSink {
    pub finish_names: Vec<String>,
}

impl Default for FileSink {
    fn default() -> Self {
        Self {
            finish_names: vec!["index.txt".into()],
        }
    }
}

struct FileWriter {
    dir: PathBuf,
    n: u64,
    stats: WrittenStats,
}

impl MailboxWriter for FileWriter {
    fn write_message(&mut self, message: &Message) -> Result<(), SinkError> {
        let subject = message.subject.clone().unwrap_or_default();
        if subject.contains("UNREP") {
            return Err(SinkError::Unrepresentable("subject says UNREP".into()));
        }
        let text = format!(
            "Subject: {subject}\nFolder: {:?}\nAttachments: {}\n\n{}",
            message.folder,
            message.attachments.len(),
            message.body.text.clone().unwrap_or_default()
        );
        let path = self.dir.join(format!("{:04}.txt", self.n));
        fs::write(&path, &text).map_err(|e| SinkError::io(&path, e))?;
        self.n += 1;
        self.stats.messages += 1;
        self.stats.attachments += message.tally().attachments;
        self.stats.bytes += text.len() as u64;
        Ok(())
    }

    fn finish(self: Box<Self>) -> Result<WrittenStats, SinkError> {
        Ok(self.stats)
    }
}

impl Sink for FileSink {
    fn name(&self) -> &'static str {
        "testfile"
    }

    fn open_mailbox<'a>(
        &'a self,
        ctx: MailboxContext<'a>,
        dir: &Path,
    ) -> Result<Box<dyn MailboxWriter + 'a>, SinkError> {
        let path = dir.join("mailbox.txt");
        let mut f = fs::File::create(&path).map_err(|e| SinkError::io(&path, e))?;
        let folders: Vec<&str> = ctx.folders.iter().map(|f| f.name.as_str()).collect();
        writeln!(
            f,
            "key={} name={} dir={} no_mail={} folders={folders:?}",
            ctx.mailbox.key, ctx.mailbox.display_name, ctx.dir_name, ctx.no_mail
        )
        .map_err(|e| SinkError::io(&path, e))?;
        Ok(Box::new(FileWriter {
            dir: dir.to_path_buf(),
            n: 0,
            stats: WrittenStats::default(),
        }))
    }

    fn finish(
        &self,
        post_office: &PostOffice,
        mailboxes: &[CommittedMailbox],
        dir: &Path,
    ) -> Result<(), SinkError> {
        for name in &self.finish_names {
            let mut text = format!("post office {}\n", post_office.name);
            for m in mailboxes {
                text.push_str(&format!("{} {} {}\n", m.key, m.dir_name, m.display_name));
            }
            let path = dir.join(name);
            fs::write(&path, text).map_err(|e| SinkError::io(&path, e))?;
        }
        Ok(())
    }
}

/// Run options for `out` with `jobs` workers.
pub fn options(out: &Path, jobs: usize) -> RunOptions {
    RunOptions {
        out_dir: out.to_path_buf(),
        jobs,
        no_mail: false,
        mailbox_time_budget: Some(Duration::from_secs(60)),
        inputs: Vec::new(),
        progress: None,
        fingerprint: "test run v1".into(),
        durability: Default::default(),
    }
}

/// Runs the engine.
pub fn run(source: MemSource, out: &Path, jobs: usize) -> RunReport {
    engine::run(
        Arc::new(source),
        Arc::new(FileSink::default()),
        &options(out, jobs),
    )
    .expect("run")
}

/// Every file below `root` (relative path → bytes), skipping the `.mailmig` state directory;
/// `report.json` is returned with its `timings` objects removed.
pub fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    if let Some(report) = out.get_mut("report.json") {
        let mut v: serde_json::Value = serde_json::from_slice(report).expect("report.json parses");
        strip_timings(&mut v);
        *report = serde_json::to_vec_pretty(&v).unwrap();
    }
    out
}

fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
    for entry in fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = entry.path();
        let rel = path
            .strip_prefix(root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        if rel == ".mailmig" {
            continue;
        }
        if entry.file_type().unwrap().is_dir() {
            out.insert(format!("{rel}/"), Vec::new());
            walk(root, &path, out);
        } else {
            out.insert(rel, fs::read(&path).unwrap());
        }
    }
}

/// Removes every `timings` key, recursively.
pub fn strip_timings(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("timings");
            for (_, x) in map.iter_mut() {
                strip_timings(x);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_timings),
        _ => {}
    }
}

/// Asserts two snapshots are byte-identical, naming the first difference.
pub fn assert_same_tree(a: &BTreeMap<String, Vec<u8>>, b: &BTreeMap<String, Vec<u8>>) {
    let ka: Vec<_> = a.keys().collect();
    let kb: Vec<_> = b.keys().collect();
    assert_eq!(ka, kb, "the trees hold different paths");
    for (k, va) in a {
        assert!(
            b.get(k) == Some(va),
            "{k} differs:\n{}\n---\n{}",
            String::from_utf8_lossy(va),
            String::from_utf8_lossy(&b[k])
        );
    }
}
