//! Deterministic synthetic post offices for benchmarks, scale tests and `mailmig generate`.
//!
//! [`SynthSource`] implements [`Source`]: a directory of mailbox users (a share of them with no
//! mail at all, to exercise guarantee 2), custom recipients and a list; per user a folder tree
//! with the special folders and a nested custom folder; messages produced lazily from a seeded
//! generator, with non-ASCII names and subjects (all representable in CP850 and Windows-1252),
//! bodies containing lines that start with `From `, attachments and embedded messages.
//! The same [`SynthSpec`] always yields the same post office, byte for byte.

use time::{Duration, PrimitiveDateTime, macros::datetime};

use crate::source::Source;
use crate::{
    Address, Attachment, AttachmentContent, AttachmentKind, Blob, Bodies, Budget, Directory,
    DirectoryEntry, EntryKind, Folder, FolderKind, MailboxInfo, MailboxSection, Message,
    MessageClass, MessageFlags, PostOffice, Priority, SourceError, SourceFormat, SourceIds,
    Timestamp,
};

/// What to generate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SynthSpec {
    /// Number of mailbox users.
    pub users: u32,
    /// Messages per user with mail.
    pub messages_per_user: u32,
    /// Seed; the same seed gives the same post office.
    pub seed: u64,
    /// Every n-th user (1-based position divisible by n) has no mail; 0 = all users have mail.
    pub empty_user_every: u32,
    /// Every n-th message carries a file attachment; 0 = none.
    pub attachment_every: u32,
    /// Every n-th message carries an embedded message; 0 = none.
    pub embedded_every: u32,
    /// Approximate size of each text body in bytes.
    pub body_bytes: usize,
    /// Size of each file attachment in bytes.
    pub attachment_bytes: usize,
}

impl Default for SynthSpec {
    fn default() -> Self {
        Self {
            users: 10,
            messages_per_user: 20,
            seed: 1,
            empty_user_every: 10,
            attachment_every: 5,
            embedded_every: 50,
            body_bytes: 1024,
            attachment_bytes: 4096,
        }
    }
}

/// SplitMix64: small, fast, good enough for test data, and stable across platforms.
#[derive(Clone, Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Self {
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }

    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items.get(self.below(items.len())).copied().unwrap_or("")
    }
}

const FIRST: &[&str] = &[
    "Anna",
    "Björn",
    "Chloé",
    "Dmitri",
    "Élodie",
    "François",
    "Günther",
    "Hélène",
    "Ingrid",
    "José",
    "Jürgen",
    "Íñigo",
    "Margarete",
    "Noël",
    "Øystein",
    "Pál",
    "Renée",
    "Søren",
    "Zoë",
];
const LAST: &[&str] = &[
    "Andersson",
    "Brontë",
    "Castaño",
    "Dupré",
    "Eriksen",
    "Fähndrich",
    "García",
    "Håkansson",
    "Ibáñez",
    "Müller",
    "Nuñez",
    "O'Brien",
    "Peña",
    "Schäfer",
    "Weiß",
];
const WORDS: &[&str] = &[
    "budget",
    "réunion",
    "quarterly",
    "Übersicht",
    "report",
    "naïve",
    "café",
    "schedule",
    "post",
    "office",
    "migration",
    "archive",
    "résumé",
    "straße",
    "déjà",
    "vu",
    "the",
    "and",
    "for",
    "with",
    "mail",
    "from",
    "to",
    "über",
    "années",
];

/// Lines that mbox writers must escape and readers must restore.
const TRICKY_LINES: &[&str] = &[
    "From the desk of the administrator:",
    ">From an earlier reply",
    "From: not a header",
    ".",
    "",
];

/// A deterministic synthetic post office; see the module docs.
pub struct SynthSource {
    spec: SynthSpec,
    post_office: PostOffice,
    mailboxes: Vec<MailboxInfo>,
}

impl SynthSource {
    /// Builds the directory (cheap); messages are generated when a mailbox is opened.
    pub fn new(spec: SynthSpec) -> Self {
        let mut rng = Rng::new(spec.seed);
        let mut entries = Vec::new();
        let mut mailboxes = Vec::new();
        for i in 1..=spec.users {
            let name = format!("{} {} {i:04}", rng.pick(FIRST), rng.pick(LAST));
            let id = format!("user{i:04}");
            let address = Address::smtp(Some(&name), &format!("{id}@po.example.test"));
            entries.push(DirectoryEntry {
                kind: EntryKind::MailboxUser,
                id: id.clone(),
                display_name: name.clone(),
                address: Some(address.clone()),
                ..DirectoryEntry::default()
            });
            mailboxes.push(MailboxInfo {
                key: id.clone(),
                display_name: name,
                address: Some(address),
                directory_id: Some(id),
                ..MailboxInfo::default()
            });
        }
        entries.push(DirectoryEntry {
            kind: EntryKind::CustomRecipient,
            id: "remote01".into(),
            display_name: "Remote Partner".into(),
            address: Some(Address::smtp(
                Some("Remote Partner"),
                "partner@remote.example",
            )),
            ..DirectoryEntry::default()
        });
        entries.push(DirectoryEntry {
            kind: EntryKind::List,
            id: "allstaff".into(),
            display_name: "All Staff".into(),
            members: mailboxes.iter().take(5).map(|m| m.key.clone()).collect(),
            ..DirectoryEntry::default()
        });
        let post_office = PostOffice {
            name: format!("SYNTH{:04}", spec.seed % 10_000),
            format: SourceFormat::Other,
            code_page: None,
            directory: Directory { entries },
            ..PostOffice::default()
        };
        Self {
            spec,
            post_office,
            mailboxes,
        }
    }

    /// The spec this source was built from.
    pub fn spec(&self) -> &SynthSpec {
        &self.spec
    }

    fn user_has_mail(&self, position: usize) -> bool {
        let every = self.spec.empty_user_every as usize;
        every == 0 || !(position + 1).is_multiple_of(every)
    }

    /// The standard folder tree every synthetic mailbox gets.
    pub fn folders() -> Vec<Folder> {
        let f = |id: &str, parent: Option<&str>, name: &str, kind| Folder {
            id: id.into(),
            parent: parent.map(str::to_string),
            name: name.into(),
            kind,
            ..Folder::default()
        };
        vec![
            f("inbox", None, "Inbox", FolderKind::Inbox),
            f("sent", None, "Sent Items", FolderKind::Sent),
            f("deleted", None, "Deleted Items", FolderKind::Deleted),
            f("projects", None, "Projets été", FolderKind::Custom),
            f(
                "projects/alpha",
                Some("projects"),
                "Alpha",
                FolderKind::Custom,
            ),
        ]
    }

    fn message(&self, mailbox: &MailboxInfo, index: u32, depth: u32) -> Message {
        let seed = self
            .spec
            .seed
            .wrapping_mul(0x100_0000_01B3)
            .wrapping_add(u64::from(index))
            .wrapping_add(hash_str(&mailbox.key));
        let mut rng = Rng::new(seed);
        let folders = [
            "inbox",
            "inbox",
            "inbox",
            "sent",
            "deleted",
            "projects",
            "projects/alpha",
        ];
        let folder = folders
            .get(rng.below(folders.len()))
            .copied()
            .unwrap_or("inbox");
        let other = self
            .mailboxes
            .get(rng.below(self.mailboxes.len()))
            .and_then(|m| m.address.clone());
        let me = mailbox.address.clone();
        let (from, to) = if folder == "sent" {
            (me, other.into_iter().collect())
        } else {
            (other, me.into_iter().collect())
        };
        let subject_words: Vec<&str> = (0..3 + rng.below(5)).map(|_| rng.pick(WORDS)).collect();
        let subject = format!("{} #{index}", subject_words.join(" "));
        let mut body = String::with_capacity(self.spec.body_bytes + 80);
        let mut line = String::new();
        while body.len() < self.spec.body_bytes {
            if rng.below(12) == 0 {
                body.push_str(rng.pick(TRICKY_LINES));
                body.push_str("\r\n");
                continue;
            }
            line.push_str(rng.pick(WORDS));
            line.push(' ');
            if line.len() > 60 {
                body.push_str(line.trim_end());
                body.push_str("\r\n");
                line.clear();
            }
        }
        let minutes = i64::from(index) * 97 + (hash_str(&mailbox.key) % 100_000) as i64;
        let sent = BASE_TIME
            .checked_add(Duration::minutes(minutes))
            .unwrap_or(BASE_TIME);
        let mut attachments = Vec::new();
        let every = self.spec.attachment_every;
        if every != 0 && index.is_multiple_of(every) {
            let mut data = Vec::with_capacity(self.spec.attachment_bytes);
            while data.len() < self.spec.attachment_bytes {
                data.extend_from_slice(&rng.next().to_le_bytes());
            }
            data.truncate(self.spec.attachment_bytes);
            attachments.push(Attachment {
                kind: AttachmentKind::File,
                name: Some(format!("données-{index}.bin")),
                mime_type: Some("application/octet-stream".into()),
                content: AttachmentContent::Data(Blob::from_vec(data)),
                ..Attachment::default()
            });
        }
        let every = self.spec.embedded_every;
        if depth == 0 && every != 0 && index.is_multiple_of(every) {
            let inner = self.message(mailbox, index.wrapping_add(1_000_000), depth + 1);
            attachments.push(Attachment {
                kind: AttachmentKind::EmbeddedMessage,
                name: inner.subject.clone(),
                content: AttachmentContent::Message(Box::new(inner)),
                ..Attachment::default()
            });
        }
        Message {
            ids: SourceIds {
                native: Some(format!("{}/{index}", mailbox.key)),
                message_id: Some(format!(
                    "synth.{}.{index}.{}@po.example.test",
                    mailbox.key, self.spec.seed
                )),
                ..SourceIds::default()
            },
            folder: (depth == 0).then(|| folder.to_string()),
            class: MessageClass::default(),
            from,
            to,
            subject: Some(subject),
            sent: Some(Timestamp::local_unknown_zone(sent)),
            received: None,
            priority: match rng.below(10) {
                0 => Priority::High,
                1 => Priority::Low,
                _ => Priority::Normal,
            },
            flags: MessageFlags {
                read: rng.below(3) != 0,
                ..MessageFlags::default()
            },
            body: Bodies {
                text: Some(body),
                ..Bodies::default()
            },
            attachments,
            ..Message::default()
        }
    }
}

const BASE_TIME: PrimitiveDateTime = datetime!(1998-01-05 8:30);

fn hash_str(s: &str) -> u64 {
    // FNV-1a: stable across runs and platforms (std's hasher is randomised).
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

impl Source for SynthSource {
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
        let position = crate::source::mailbox_index(&self.mailboxes, mailbox)?;
        let count = if self.user_has_mail(position) {
            self.spec.messages_per_user
        } else {
            0
        };
        let info = mailbox.clone();
        let budget = budget.clone();
        let messages = (0..count).map_while(move |i| {
            budget.check().ok()?;
            Some(Ok(self.message(&info, i, 0)))
        });
        Ok(MailboxSection {
            folders: Self::folders(),
            messages: Box::new(messages),
            warnings: Vec::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deterministic_and_has_empty_users() {
        let spec = SynthSpec {
            users: 20,
            messages_per_user: 7,
            ..SynthSpec::default()
        };
        let a = SynthSource::new(spec.clone());
        let b = SynthSource::new(spec);
        assert_eq!(a.mailboxes(), b.mailboxes());
        assert_eq!(a.mailboxes().len(), 20);
        let mut empty = 0;
        let mut total = 0;
        for m in a.mailboxes() {
            let x: Vec<_> = a
                .open_mailbox(m, &Budget::unlimited())
                .unwrap()
                .messages
                .collect();
            let y: Vec<_> = b
                .open_mailbox(m, &Budget::unlimited())
                .unwrap()
                .messages
                .collect();
            assert_eq!(x, y);
            if x.is_empty() {
                empty += 1;
            }
            total += x.len();
        }
        assert_eq!(empty, 2, "users 10 and 20 have no mail");
        assert_eq!(total, 18 * 7);
    }

    #[test]
    fn content_exercises_the_hard_cases() {
        let src = SynthSource::new(SynthSpec {
            users: 3,
            messages_per_user: 60,
            ..SynthSpec::default()
        });
        let mb = &src.mailboxes()[0];
        let msgs: Vec<Message> = src
            .open_mailbox(mb, &Budget::unlimited())
            .unwrap()
            .messages
            .map(Result::unwrap)
            .collect();
        assert!(!mb.display_name.is_ascii());
        assert!(
            msgs.iter()
                .any(|m| m.body.text.as_deref().unwrap().contains("\r\nFrom "))
        );
        assert!(msgs.iter().any(|m| m.tally().embedded_messages == 1));
        assert!(msgs.iter().any(|m| m.tally().attachment_bytes == 4096));
        for m in &msgs {
            let cp850 = crate::codepage::encode(m.subject.as_deref().unwrap(), 850);
            assert!(cp850.is_ok(), "subjects are CP850-representable");
        }
        for name in FIRST.iter().chain(LAST).chain(WORDS) {
            for cp in [850, 1252] {
                assert!(
                    crate::codepage::encode(name, cp).is_ok(),
                    "{name} is not representable in code page {cp}"
                );
            }
        }
    }

    #[test]
    fn budget_stops_the_stream() {
        let src = SynthSource::new(SynthSpec::default());
        let budget = Budget::unlimited();
        budget.cancel();
        let n = src
            .open_mailbox(&src.mailboxes()[0], &budget)
            .unwrap()
            .messages
            .count();
        assert_eq!(n, 0);
    }
}

/// A [`PieceSource`](crate::blob::PieceSource) for tests of writers whose input changed under
/// the run: it says it holds 10 bytes, gives the piece `12345`, then fails with the error
/// "input changed".
#[derive(Debug)]
pub struct BrokenPieces;

impl crate::blob::PieceSource for BrokenPieces {
    fn len(&self) -> usize {
        10
    }

    fn pieces(&self, piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        piece(b"12345")?;
        Err(std::io::Error::other("input changed"))
    }
}

/// A [`PieceSource`](crate::blob::PieceSource) for tests of writers: `pieces` pieces of
/// `piece_len` bytes (piece `n` holds the byte `n % 251`), produced only when read. When it
/// hands out its last piece it records the size of the file at `watch`, so that a test can
/// check that a writer had already written the earlier pieces out instead of holding them.
#[derive(Debug)]
pub struct PatternPieces {
    /// Bytes per piece.
    pub piece_len: usize,
    /// Number of pieces.
    pub pieces: usize,
    /// A file whose size is recorded when the last piece is produced.
    pub watch: Option<std::path::PathBuf>,
    /// The size of `watch` when the last piece was last produced (0 if it did not exist).
    pub watched_before_last: std::sync::atomic::AtomicU64,
}

impl PatternPieces {
    /// `pieces` pieces of `piece_len` bytes, watching `watch`.
    pub fn new(piece_len: usize, pieces: usize, watch: Option<std::path::PathBuf>) -> Self {
        Self {
            piece_len,
            pieces,
            watch,
            watched_before_last: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// All the bytes, collected (for comparisons).
    pub fn bytes(&self) -> Vec<u8> {
        (0..self.pieces)
            .flat_map(|n| std::iter::repeat_n((n % 251) as u8, self.piece_len))
            .collect()
    }

    /// [`PatternPieces::watched_before_last`] as a number.
    pub fn watched(&self) -> u64 {
        self.watched_before_last
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The bytes of every piece before the last.
    pub fn bytes_before_last(&self) -> u64 {
        (self.pieces.saturating_sub(1) as u64).saturating_mul(self.piece_len as u64)
    }

    /// A message with one file attachment `name` whose data is read from `source` as a
    /// [`Blob::streamed`]; returns the message and the blob (for
    /// [`Blob::is_streamed`] checks after writing).
    pub fn message(source: std::sync::Arc<Self>, name: &str) -> (Message, Blob) {
        let blob = Blob::streamed(source);
        let message = Message {
            subject: Some("large".into()),
            body: Bodies {
                text: Some("see attached\r\n".into()),
                ..Bodies::default()
            },
            attachments: vec![Attachment {
                name: Some(name.into()),
                content: AttachmentContent::Data(blob.clone()),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        (message, blob)
    }
}

/// Writes `messages` through `sink` as the one mailbox `key` of an empty post office, into
/// `dir` (which must exist), and returns what the writer reports: test support for sinks.
pub fn write_mailbox(
    sink: &dyn crate::Sink,
    dir: &std::path::Path,
    key: &str,
    messages: &[Message],
) -> Result<crate::WrittenStats, crate::SinkError> {
    let po = PostOffice::default();
    let mailbox = MailboxInfo {
        key: key.into(),
        ..MailboxInfo::default()
    };
    let ctx = crate::MailboxContext {
        post_office: &po,
        mailbox: &mailbox,
        folders: &[],
        dir_name: key,
        no_mail: false,
    };
    let mut w = sink.open_mailbox(ctx, dir)?;
    for m in messages {
        w.write_message(m)?;
    }
    w.finish()
}

impl crate::blob::PieceSource for PatternPieces {
    fn len(&self) -> usize {
        self.piece_len.saturating_mul(self.pieces)
    }

    fn pieces(&self, piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let mut buf = Vec::new();
        for n in 0..self.pieces {
            if n + 1 == self.pieces
                && let Some(w) = &self.watch
            {
                let size = std::fs::metadata(w).map_or(0, |m| m.len());
                self.watched_before_last
                    .store(size, std::sync::atomic::Ordering::Relaxed);
            }
            buf.clear();
            buf.resize(self.piece_len, (n % 251) as u8);
            piece(&buf)?;
        }
        Ok(())
    }
}
