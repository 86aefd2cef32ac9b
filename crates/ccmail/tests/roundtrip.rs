//! Property tests: IR → [`CcmailSink`] → reader → the same IR.
//!
//! The strategies generate what the format carries (notes §11): cc:Mail `Name at PO`
//! addresses, local dates without seconds, CP850-representable text with CRLF line ends (up to
//! ~60 KB, so the 20 KB text-item split is exercised), a first text-item title, file attachments
//! with names that do not end in a date token and dates at midnight, folders (with
//! `Folder:` headers switched on), and directory entries of every kind.
//!
//! Normalisation before comparing (documented, nothing else is adjusted): source ids
//! (message number, offset, file) are cleared, and `ccmail:raw:*` properties (raw header bytes
//! the reader keeps next to decoded non-ASCII values) are removed.
//!
//! Case count: `PROPTEST_CASES` if set, else 64 for the message test and 16 for the
//! post-office test (kept low for CI).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::Path;

use mailmig_ccmail::{CcmailDriver, CcmailSink, ExportReader, ReaderConfig, parse_address};
use mailmig_ir::text::safe_component;
use mailmig_ir::{
    Address, Attachment, AttachmentContent, Bodies, Budget, CommittedMailbox, Directory,
    DirectoryEntry, Driver, EntryKind, Folder, FolderKind, MailboxContext, MailboxInfo, Message,
    OpenOptions, PostOffice, PropValue, Property, Sink, SourceFormat, SourceIds, Timestamp,
};
use proptest::prelude::*;
use time::{Date, Month, PrimitiveDateTime, Time};

fn cases(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(default)
}

fn config(default: u32) -> ProptestConfig {
    ProptestConfig {
        cases: cases(default),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn word() -> impl Strategy<Value = String> {
    "[A-Z][a-zé]{1,8}"
}

fn name() -> impl Strategy<Value = String> {
    prop_oneof![
        (word(), word()).prop_map(|(l, f)| format!("{l}, {f}")),
        (word(), word()).prop_map(|(f, l)| format!("{f} {l}")),
        word().prop_map(|b| format!("#{b}")),
    ]
}

fn po() -> impl Strategy<Value = String> {
    "[A-Z][A-Z0-9]{1,7}"
}

fn address() -> impl Strategy<Value = Address> {
    (name(), po()).prop_map(|(n, p)| parse_address(&format!("{n} at {p}")))
}

fn stamp(min_year: i32, max_year: i32, midnight: bool) -> impl Strategy<Value = Timestamp> {
    (min_year..=max_year, 1u8..=12, 1u8..=28, 0u8..24, 0u8..60).prop_map(move |(y, m, d, h, mi)| {
        let date = Date::from_calendar_date(y, Month::try_from(m).unwrap(), d).unwrap();
        let t = if midnight {
            Time::MIDNIGHT
        } else {
            Time::from_hms(h, mi, 0).unwrap()
        };
        Timestamp::local_unknown_zone(PrimitiveDateTime::new(date, t))
    })
}

fn line_text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9 ,.;:!?()/ñüéÅ-]{0,70}"
}

fn body_text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(line_text(), 0..12).prop_map(|l| l.join("\r\n")),
        1 => (prop::collection::vec(line_text(), 200..900), any::<bool>()).prop_map(|(l, long)| {
            let mut s = l.join("\r\n");
            if long {
                s.push_str(&"z".repeat(21_000));
            }
            s
        }),
    ]
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        "[A-Za-z0-9_][A-Za-z0-9_ ]{0,10}[A-Za-z0-9_]\\.[A-Za-z]{1,3}",
        prop::option::of(stamp(1901, 2100, true)),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(name, modified, data)| Attachment {
            name: Some(name),
            modified,
            content: AttachmentContent::Data(data.into()),
            ..Attachment::default()
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::option::of(address()),
        prop::option::of(stamp(1901, 2100, false)),
        prop::collection::vec(address(), 0..4),
        prop::collection::vec(address(), 0..3),
        prop::collection::vec(address(), 0..3),
        prop::option::of("[A-Za-z0-9ñé][A-Za-z0-9 ,.:!?ñé-]{0,60}"),
        prop::option::of(body_text()),
        prop::option::of("[A-Za-z][A-Za-z0-9 ]{0,20}[A-Za-z0-9]"),
        prop::collection::vec(attachment(), 0..3),
        prop::option::of(prop::sample::select(vec![
            "Inbox",
            "Message Log",
            "Projects",
        ])),
    )
        .prop_map(
            |(from, sent, to, cc, bcc, subject, text, title, attachments, folder)| {
                let mut properties = Vec::new();
                if text.is_some()
                    && let Some(t) = title
                {
                    properties.push(Property::new(
                        "ccmail:text-item-titles",
                        PropValue::Multi(vec![PropValue::Text(t)]),
                    ));
                }
                Message {
                    from,
                    sent,
                    to,
                    cc,
                    bcc,
                    subject,
                    body: Bodies {
                        text,
                        ..Bodies::default()
                    },
                    attachments,
                    properties,
                    folder: folder.map(str::to_string),
                    ..Message::default()
                }
            },
        )
}

fn normalise(mut m: Message) -> Message {
    m.ids = SourceIds::default();
    m.properties.retain(|p| !p.name.starts_with("ccmail:raw:"));
    for a in &mut m.attachments {
        a.ids = SourceIds::default();
    }
    m
}

fn folders() -> Vec<Folder> {
    ["Inbox", "Message Log", "Projects"]
        .iter()
        .map(|n| Folder {
            id: (*n).into(),
            name: (*n).into(),
            ..Folder::default()
        })
        .collect()
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn messages_round_trip(msgs in prop::collection::vec(message(), 1..5)) {
        let sink = CcmailSink::new(850).with_folder_headers(true);
        let mut bytes = Vec::new();
        for m in &msgs {
            let r = sink.render_message(m, &folders());
            // Years outside 1970-2069 are written with four digits plus a warning (§11); nothing else.
            prop_assert!(r.warnings.iter().all(|w| w.contains("four")), "{:?}", r.warnings);
            bytes.extend_from_slice(&r.bytes);
        }
        let mut reader = ExportReader::from_vec(bytes, ReaderConfig::new("rt.ccm"));
        let back: Vec<Message> = reader.by_ref().map(|m| m.map(normalise)).collect::<Result<_, _>>().unwrap();
        let stats = reader.stats();
        prop_assert_eq!(stats.scanned, 0);
        prop_assert_eq!(stats.rule_b + stats.rule_c, 0);
        prop_assert_eq!(back, msgs);
    }
}

fn entry() -> impl Strategy<Value = DirectoryEntry> {
    let user = (
        word(),
        word(),
        prop::sample::select(vec!["L", "R"]),
        prop::option::of("[a-z][a-z ]{0,18}[a-z]"),
    )
        .prop_map(|(l, f, loc, comment)| {
            let n = format!("{l}, {f}");
            DirectoryEntry {
                kind: EntryKind::MailboxUser,
                id: n.clone(),
                display_name: n.clone(),
                address: Some(Address::native(
                    Some(&n),
                    "CCMAIL",
                    &format!("{n} at LONDON"),
                )),
                comment,
                proxy_addresses: vec![format!("FAN:{}", f.to_lowercase())],
                properties: vec![Property::new(
                    "ccmail:location",
                    PropValue::Text(loc.into()),
                )],
                ..DirectoryEntry::default()
            }
        });
    let custom = (
        word(),
        prop::sample::select(vec!["l", "r", "A", "a", "P", "p"]),
        po(),
    )
        .prop_map(|(n, loc, p)| DirectoryEntry {
            kind: EntryKind::CustomRecipient,
            id: n.clone(),
            display_name: n.clone(),
            address: Some(Address::native(Some(&n), "CCMAIL", &p)),
            properties: vec![
                Property::new("ccmail:location", PropValue::Text(loc.into())),
                Property::new("ccmail:Phone", PropValue::Text("555 0100".into())),
            ],
            ..DirectoryEntry::default()
        });
    let list =
        (word(), prop::collection::vec(word(), 1..4)).prop_map(|(n, members)| DirectoryEntry {
            kind: EntryKind::List,
            id: format!("List {n}"),
            display_name: format!("List {n}"),
            members,
            ..DirectoryEntry::default()
        });
    let board = word().prop_map(|n| DirectoryEntry {
        kind: EntryKind::BulletinBoard,
        id: format!("#{n}"),
        display_name: format!("#{n}"),
        ..DirectoryEntry::default()
    });
    prop_oneof![3 => user, 2 => custom, 1 => list, 1 => board]
}

fn write_post_office(
    out: &Path,
    po: &PostOffice,
    boxes: &[(MailboxInfo, Vec<Message>)],
    no_mail: bool,
) {
    let sink = CcmailSink::new(850);
    let mut committed = Vec::new();
    for (mb, msgs) in boxes {
        let dir_name = safe_component(&mb.key, 64, "mailbox");
        let dir = out.join(&dir_name);
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = MailboxContext {
            post_office: po,
            mailbox: mb,
            folders: &[],
            dir_name: &dir_name,
            no_mail,
        };
        let mut w = sink.open_mailbox(ctx, &dir).unwrap();
        if !no_mail {
            for m in msgs {
                w.write_message(m).unwrap();
            }
        }
        w.finish().unwrap();
        committed.push(CommittedMailbox {
            key: mb.key.clone(),
            dir_name,
            display_name: mb.display_name.clone(),
            path: dir.clone(),
            mailbox: mb.clone(),
        });
    }
    sink.finish(po, &committed, out).unwrap();
}

proptest! {
    #![proptest_config(config(16))]

    #[test]
    fn post_office_round_trips(
        entries in prop::collection::vec(entry(), 1..8),
        mail in prop::collection::vec(prop::collection::vec(message(), 0..3), 8),
    ) {
        let mut entries = entries;
        let mut seen = std::collections::HashSet::new();
        entries.retain(|e| seen.insert(e.id.to_lowercase()));
        let po = PostOffice {
            name: "LONDON".into(),
            format: SourceFormat::Ccmail,
            code_page: Some(850),
            directory: Directory { entries: entries.clone() },
            ..PostOffice::default()
        };
        let boxes: Vec<(MailboxInfo, Vec<Message>)> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::MailboxUser)
            .zip(mail)
            .map(|(e, msgs)| {
                let msgs = msgs.into_iter().map(|mut m| { m.folder = None; m }).collect();
                (MailboxInfo {
                    key: e.id.clone(),
                    display_name: e.display_name.clone(),
                    address: e.address.clone(),
                    directory_id: Some(e.id.clone()),
                    ..MailboxInfo::default()
                }, msgs)
            })
            .collect();
        let tmp = tempfile::tempdir().unwrap();
        write_post_office(tmp.path(), &po, &boxes, false);
        let src = CcmailDriver.open(&[tmp.path().to_path_buf()], &OpenOptions::default()).unwrap();
        prop_assert_eq!(&src.post_office().name, "LONDON");
        prop_assert_eq!(&src.post_office().directory.entries, &entries);
        prop_assert!(src.post_office().warnings.is_empty(), "{:?}", src.post_office().warnings);
        prop_assert_eq!(src.mailboxes().len(), boxes.len());
        for (mb, (want_mb, want_msgs)) in src.mailboxes().iter().zip(&boxes) {
            prop_assert_eq!(&mb.key, &want_mb.key);
            prop_assert_eq!(&mb.address, &want_mb.address);
            let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
            prop_assert!(sec.warnings.is_empty());
            let got: Vec<Message> = sec.messages.map(|m| m.map(normalise)).collect::<Result<_, _>>().unwrap();
            prop_assert_eq!(&got, want_msgs);
        }
    }
}

/// KB Q194218: every mailbox user of the directory gets a mailbox, with no stream, with an
/// empty stream, and with `--no-mail`.
#[test]
fn every_directory_user_gets_a_mailbox() {
    let users = ["Lovelace, Ada", "Babbage, Charles", "Somerville, Mary"];
    let entries: Vec<DirectoryEntry> = users
        .iter()
        .map(|n| DirectoryEntry {
            kind: EntryKind::MailboxUser,
            id: (*n).into(),
            display_name: (*n).into(),
            ..DirectoryEntry::default()
        })
        .collect();
    let po = PostOffice {
        name: "LONDON".into(),
        directory: Directory { entries },
        ..PostOffice::default()
    };
    let one = Message {
        subject: Some("only mail".into()),
        body: Bodies {
            text: Some("hi".into()),
            ..Bodies::default()
        },
        ..Message::default()
    };
    let mb = |n: &str| MailboxInfo {
        key: n.into(),
        display_name: n.into(),
        ..MailboxInfo::default()
    };
    // Only Ada has a stream; Charles gets an empty one written by the sink; Mary has none at all.
    let tmp = tempfile::tempdir().unwrap();
    write_post_office(
        tmp.path(),
        &po,
        &[(mb(users[0]), vec![one.clone()]), (mb(users[1]), vec![])],
        false,
    );
    for no_mail in [false, true] {
        let mut opts = OpenOptions::default();
        opts.no_mail = no_mail;
        let src = CcmailDriver
            .open(&[tmp.path().to_path_buf()], &opts)
            .unwrap();
        let keys: Vec<&str> = src.mailboxes().iter().map(|m| m.key.as_str()).collect();
        assert_eq!(keys, users, "no_mail={no_mail}");
        let counts: Vec<usize> = src
            .mailboxes()
            .iter()
            .map(|m| {
                src.open_mailbox(m, &Budget::unlimited())
                    .unwrap()
                    .messages
                    .count()
            })
            .collect();
        assert_eq!(
            counts,
            if no_mail {
                vec![0, 0, 0]
            } else {
                vec![1, 0, 0]
            }
        );
        assert!(src.mailboxes()[2].source_files.is_empty());
    }
}

#[test]
fn stream_user_missing_from_directory_gets_mailbox_with_warning() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(
        tmp.path().join("DIR.TXT"),
        b"Name: Lovelace, Ada\r\nLocation: L\r\n",
    )
    .unwrap();
    let msg = CcmailSink::new(850).render_message(
        &Message {
            subject: Some("x".into()),
            ..Message::default()
        },
        &[],
    );
    std::fs::write(tmp.path().join("ada-lovelace.exp"), &msg.bytes).unwrap();
    std::fs::write(tmp.path().join("STRANGER.CCM"), &msg.bytes).unwrap();
    let src = CcmailDriver
        .open(&[tmp.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let keys: Vec<&str> = src.mailboxes().iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["Lovelace, Ada", "STRANGER"]);
    assert_eq!(src.mailboxes()[0].source_files, ["ada-lovelace.exp"]);
    let sec = src
        .open_mailbox(&src.mailboxes()[1], &Budget::unlimited())
        .unwrap();
    assert_eq!(sec.warnings[0].code, "ccmail.user-not-in-directory");
    assert_eq!(sec.messages.count(), 1);
}

#[test]
fn code_page_option_overrides_default() {
    let tmp = tempfile::tempdir().unwrap();
    let msg = CcmailSink::new(932).render_message(
        &Message {
            subject: Some("会議".into()),
            ..Message::default()
        },
        &[],
    );
    std::fs::write(tmp.path().join("a.ccm"), &msg.bytes).unwrap();
    let mut opts = OpenOptions::default();
    opts.code_page = Some(932);
    let src = CcmailDriver
        .open(&[tmp.path().join("a.ccm")], &opts)
        .unwrap();
    let mut sec = src
        .open_mailbox(&src.mailboxes()[0], &Budget::unlimited())
        .unwrap();
    let m = sec.messages.next().unwrap().unwrap();
    assert_eq!(m.subject.as_deref(), Some("会議"));
    assert_eq!(src.post_office().code_page, Some(932));
    let src = CcmailDriver
        .open(&[tmp.path().join("a.ccm")], &OpenOptions::default())
        .unwrap();
    let mut sec = src
        .open_mailbox(&src.mailboxes()[0], &Budget::unlimited())
        .unwrap();
    assert_ne!(
        sec.messages.next().unwrap().unwrap().subject.as_deref(),
        Some("会議")
    );
}

#[test]
fn folders_come_from_folder_headers() {
    let tmp = tempfile::tempdir().unwrap();
    let sink = CcmailSink::new(850).with_folder_headers(true);
    let mut bytes = Vec::new();
    for f in ["Message Log", "Trash", "Stationery"] {
        let m = Message {
            folder: Some(f.into()),
            ..Message::default()
        };
        bytes.extend(sink.render_message(&m, &[]).bytes);
    }
    std::fs::write(tmp.path().join("x.ccm"), &bytes).unwrap();
    let src = CcmailDriver
        .open(&[tmp.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let sec = src
        .open_mailbox(&src.mailboxes()[0], &Budget::unlimited())
        .unwrap();
    let kinds: Vec<FolderKind> = sec.folders.iter().map(|f| f.kind).collect();
    assert_eq!(
        kinds,
        [FolderKind::Sent, FolderKind::Deleted, FolderKind::Custom]
    );
    assert_eq!(sec.folders[2].properties[0].name, "ccmail:configuration");
}

#[test]
fn detection_of_streams_and_directories() {
    let tmp = tempfile::tempdir().unwrap();
    let msg = CcmailSink::new(850).render_message(&Message::default(), &[]);
    std::fs::write(tmp.path().join("a.ccm"), &msg.bytes).unwrap();
    let d = CcmailDriver
        .detect(&tmp.path().join("a.ccm"), &msg.bytes)
        .unwrap();
    assert!(d.convertible);
    assert!(CcmailDriver.detect(tmp.path(), &[]).is_some());
    assert!(
        CcmailDriver
            .detect(Path::new("x.txt"), b"hello world\r\n")
            .is_none()
    );
    let ins = CcmailDriver
        .inspect(tmp.path(), &OpenOptions::default())
        .unwrap();
    assert!(ins.summary.contains("1 message"), "{}", ins.summary);
    assert!(ins.findings.iter().any(|f| f.code == "ccmail.no-directory"));
}

/// A large streamed attachment is written into the stream as it is read, not copied whole
/// first: when its source hands out the last piece the earlier ones are already in the file,
/// the blob is never collected, the `/ITEMSIZE` count is the blob's length, and the reader
/// reads the same bytes back. The stream file is also what `render_message` gives.
#[test]
fn streamed_attachments_are_written_as_they_are_read() {
    use mailmig_ir::synth::{PatternPieces, write_mailbox};
    use std::sync::Arc;

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join(mailmig_ccmail::writer::STREAM_FILE);
    let source = Arc::new(PatternPieces::new(64 * 1024, 40, Some(file.clone())));
    let (message, blob) = PatternPieces::message(source.clone(), "LARGE.BIN");
    let sink = CcmailSink::new(850);
    let stats = write_mailbox(&sink, tmp.path(), "k", std::slice::from_ref(&message)).unwrap();
    assert!(blob.is_streamed(), "the attachment was collected whole");
    assert!(source.watched() + 70_000 >= source.bytes_before_last());
    let written = std::fs::read(&file).unwrap();
    assert_eq!(stats.bytes, written.len() as u64);
    let size_line = format!("File item: LARGE.BIN\r\n{}\r\n", source.bytes().len());
    assert!(
        written
            .windows(size_line.len())
            .any(|w| w == size_line.as_bytes())
    );
    assert!(written == sink.render_message(&message, &[]).bytes);
    let back: Vec<Message> = ExportReader::from_vec(written, ReaderConfig::default())
        .map(Result::unwrap)
        .collect();
    assert_eq!(back.len(), 1);
    let AttachmentContent::Data(data) = &back[0].attachments[0].content else {
        panic!("no attachment data");
    };
    assert!(data.as_bytes() == source.bytes().as_slice());
    assert!(back[0].warnings.is_empty(), "{:?}", back[0].warnings);
}
