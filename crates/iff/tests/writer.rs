//! Writer rules of exchange-iff.md §9 and §12: every mailbox user gets a `MAILMESSAGE` section
//! (KB Q194218, KB Q174749) — with no mail, with `--no-mail`, and even when the run wrote no
//! mailbox for them; public folders; thousands of users through the sink.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{VecSource, check_all_pointers, read_all, write_set};
use mailmig_iff::{IffDriver, IffSink};
use mailmig_ir::synth::{SynthSource, SynthSpec};
use mailmig_ir::{
    Address, Bodies, Directory, DirectoryEntry, Driver, EntryKind, MailboxInfo, Message,
    OpenOptions, PostOffice, PropValue, Property, Source,
};

const HEADER: &str =
    "Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n";

fn user(id: &str) -> DirectoryEntry {
    DirectoryEntry {
        kind: EntryKind::MailboxUser,
        id: id.into(),
        display_name: format!("User {id}"),
        address: Some(Address::smtp(None, &format!("{id}@example.com"))),
        ..DirectoryEntry::default()
    }
}

fn mailbox(e: &DirectoryEntry) -> MailboxInfo {
    MailboxInfo {
        key: e.id.clone(),
        display_name: e.display_name.clone(),
        address: e.address.clone(),
        directory_id: Some(e.id.clone()),
        ..MailboxInfo::default()
    }
}

fn msg(subject: &str) -> Message {
    Message {
        subject: Some(subject.into()),
        body: Bodies {
            text: Some("text".into()),
            ..Bodies::default()
        },
        ..Message::default()
    }
}

/// Three directory users: `a` has mail, `b` has none, `c` is in the directory but the source
/// hands out no mailbox for it.
fn three_users() -> VecSource {
    let (a, b, c) = (user("a"), user("b"), user("c"));
    VecSource {
        po: PostOffice {
            name: "PO".into(),
            directory: Directory {
                entries: vec![a.clone(), b.clone(), c],
            },
            ..PostOffice::default()
        },
        mailboxes: vec![mailbox(&a), mailbox(&b)],
        contents: vec![(Vec::new(), vec![msg("hello")]), (Vec::new(), Vec::new())],
    }
}

#[test]
fn empty_user_gets_its_own_mailmessage_section() {
    let out = tempfile::tempdir().unwrap();
    write_set(&three_users(), &IffSink::default(), out.path(), false);
    // b: no mail, own primary file = section line + header line only, no secondary file.
    let b = std::fs::read_to_string(out.path().join("b/00000002.PRI")).unwrap();
    assert_eq!(b, format!("MAILMESSAGE,\"SMTP:b@example.com\"\r\n{HEADER}"));
    assert!(!out.path().join("b/00000002.SEC").exists());
    // c: not written by the run; it still gets its own primary file next to the packing list.
    let c = std::fs::read_to_string(out.path().join("00000003.PRI")).unwrap();
    assert_eq!(c, format!("MAILMESSAGE,\"SMTP:c@example.com\"\r\n{HEADER}"));
    let pkl = std::fs::read_to_string(out.path().join("PO.PKL")).unwrap();
    assert_eq!(
        pkl,
        "1252\r\n\r\nDIRECTORY.PRI\r\n00000001.PRI\r\n00000002.PRI\r\n00000003.PRI\r\n00000001.SEC\r\n"
    );
    // Reading back: three mailboxes, none flagged as missing its MAILMESSAGE section.
    let src = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let keys: Vec<&str> = src.mailboxes().iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a", "b", "c"]);
    let all = read_all(src.as_ref());
    assert_eq!(all[0].messages.len(), 1);
    assert!(all[1].messages.is_empty() && all[2].messages.is_empty());
    assert!(all.iter().all(|m| m.warnings.is_empty()), "{all:?}");
}

#[test]
fn no_mail_still_writes_every_section() {
    let out = tempfile::tempdir().unwrap();
    let sink = IffSink::default().with_home_server("EXCH01");
    write_set(&three_users(), &sink, out.path(), true);
    let d = std::fs::read_to_string(out.path().join("DIRECTORY.PRI")).unwrap();
    assert!(
        d.contains("mailbox,create,a,User a,,,\"MIGRATE:SMTP:a@example.com\",EXCH01\r\n"),
        "{d}"
    );
    for (dir, stem, addr) in [("a", "00000001", "a"), ("b", "00000002", "b")] {
        let p = std::fs::read_to_string(out.path().join(format!("{dir}/{stem}.PRI"))).unwrap();
        assert_eq!(
            p,
            format!("MAILMESSAGE,\"SMTP:{addr}@example.com\"\r\n{HEADER}")
        );
    }
    let pkl = std::fs::read_to_string(out.path().join("PO.PKL")).unwrap();
    assert_eq!(
        pkl,
        "1252\r\n\r\nDIRECTORY.PRI\r\n00000001.PRI\r\n00000002.PRI\r\n00000003.PRI\r\n"
    );
    assert!(out.path().join("00000003.PRI").is_file());
}

#[test]
fn public_messages_and_code_page() {
    let e = user("a");
    let public = MailboxInfo {
        key: "PublicMessages".into(),
        display_name: "Public Messages".into(),
        properties: vec![Property::new(
            "iff:Section",
            PropValue::Text("PublicMessages".into()),
        )],
        ..MailboxInfo::default()
    };
    let src = VecSource {
        po: PostOffice {
            name: "PO".into(),
            directory: Directory {
                entries: vec![e.clone()],
            },
            ..PostOffice::default()
        },
        mailboxes: vec![mailbox(&e), public.clone()],
        contents: vec![
            (Vec::new(), vec![msg("Grüße")]),
            (Vec::new(), vec![msg("board")]),
        ],
    };
    let out = tempfile::tempdir().unwrap();
    write_set(&src, &IffSink::new(850), out.path(), false);
    let pkl = std::fs::read(out.path().join("PO.PKL")).unwrap();
    assert!(pkl.starts_with(b"850\r\n\r\n"));
    let a = std::fs::read(out.path().join("a/00000001.PRI")).unwrap();
    // "Grüße" in code page 850: ü = 0x81, ß = 0xE1.
    assert!(a.windows(5).any(|w| w == b"Gr\x81\xe1e"), "{a:?}");
    // No directory entry: the stem is `X` + a hash of the key, unique in the flat set.
    let public: Vec<_> = std::fs::read_dir(out.path().join("PublicMessages"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.ends_with(".PRI"))
        .collect();
    assert_eq!(public.len(), 1, "{public:?}");
    let name = &public[0];
    assert!(
        name.starts_with('X') && name.ends_with(".PRI") && name.len() == 12,
        "{name}"
    );
    assert!(out.path().join(name).is_file(), "also in the flat set");
    let p = std::fs::read_to_string(out.path().join(name)).unwrap();
    assert!(p.starts_with("MAILMESSAGE,PublicMessages\r\n"), "{p}");
    let back = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    assert_eq!(back.post_office().code_page, Some(850));
    assert_eq!(back.mailboxes()[1].key, "PublicMessages");
    let all = read_all(back.as_ref());
    assert_eq!(
        all[0].messages[0].as_ref().unwrap().subject.as_deref(),
        Some("Grüße")
    );
    assert_eq!(all[1].messages.len(), 1);
}

#[test]
fn thousands_of_users_through_the_sink() {
    let spec = SynthSpec {
        users: 2000,
        messages_per_user: 1,
        empty_user_every: 7,
        attachment_every: 2,
        embedded_every: 1,
        body_bytes: 200,
        attachment_bytes: 100,
        ..SynthSpec::default()
    };
    let src = SynthSource::new(spec);
    let out = tempfile::tempdir().unwrap();
    let t = std::time::Instant::now();
    write_set(&src, &IffSink::default(), out.path(), false);
    let took = t.elapsed();
    let t = std::time::Instant::now();
    let back = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    eprintln!(
        "wrote 2000 users in {took:?}; opened the set in {:?}",
        t.elapsed()
    );
    assert_eq!(back.mailboxes().len(), 2000);
    let users = back.post_office().directory.mailbox_users().count();
    assert_eq!(users, 2000);
    let expected: usize = (0..2000usize)
        .filter(|i| !(i + 1).is_multiple_of(7))
        .count();
    let t = std::time::Instant::now();
    let all = read_all(back.as_ref());
    eprintln!("read every mailbox in {:?}", t.elapsed());
    let got: usize = all.iter().map(|m| m.messages.len()).sum();
    assert_eq!(got, expected);
    assert!(all.iter().flat_map(|m| &m.messages).all(Result::is_ok));
    // Embedded messages are kept as text attachments.
    assert!(
        all.iter()
            .flat_map(|m| &m.messages)
            .flat_map(|m| &m.as_ref().unwrap().attachments)
            .any(|a| a.name.as_deref().is_some_and(|n| n.ends_with(".txt")))
    );
    assert_eq!(check_all_pointers(out.path()), expected);
}

/// Code page 932 (Shift-JIS): `表` is 0x95 0x5C and `ソ` 0x83 0x5C, so `\` appears as a trail
/// byte in the files; nothing may treat it as a backslash (§3.2 step 7).
#[test]
fn shift_jis_trail_backslashes_survive_a_round_trip() {
    let mut e = user("jp");
    e.display_name = "表示ソ".into();
    let mut mb = mailbox(&e);
    mb.personal_address_book = vec![DirectoryEntry {
        kind: EntryKind::CustomRecipient,
        id: "ソフト".into(),
        display_name: "ソフト".into(),
        address: Some(Address::native(None, "CCMAIL", "ソフト at 表")),
        comment: Some("備考ソ".into()),
        ..DirectoryEntry::default()
    }];
    let mut m = msg("表示,ソフト");
    m.body.text = Some("本文ソ\r\n表".into());
    m.to = vec![Address {
        name: Some("ソ表".into()),
        ..Address::default()
    }];
    let src = VecSource {
        po: PostOffice {
            name: "JP".into(),
            directory: Directory {
                entries: vec![e.clone()],
            },
            ..PostOffice::default()
        },
        mailboxes: vec![mb.clone()],
        contents: vec![(Vec::new(), vec![m.clone()])],
    };
    let out = tempfile::tempdir().unwrap();
    write_set(&src, &IffSink::new(932), out.path(), false);
    let d = std::fs::read(out.path().join("DIRECTORY.PRI")).unwrap();
    assert!(
        d.windows(2).any(|w| w == b"\x83\x5c"),
        "ソ is written in Shift-JIS"
    );
    assert_eq!(check_all_pointers(out.path()), 1);
    let back = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    assert_eq!(back.post_office().code_page, Some(932));
    assert_eq!(
        back.post_office().directory.entries[0].display_name,
        "表示ソ"
    );
    assert_eq!(
        back.mailboxes()[0].personal_address_book,
        mb.personal_address_book
    );
    let all = read_all(back.as_ref());
    let got = all[0].messages[0].as_ref().unwrap();
    assert_eq!(got.subject, m.subject);
    assert_eq!(got.body.text, m.body.text);
    assert_eq!(got.to, m.to);
    assert!(got.warnings.is_empty(), "{:?}", got.warnings);
}

/// Reading a set of several MiB keeps about `RELEASE_EVERY` of each file mapped, not the
/// whole file: the reader releases its maps as it reads. The messages read are complete.
#[test]
fn reading_a_large_set_releases_the_file_maps() {
    let spec = SynthSpec {
        users: 1,
        messages_per_user: 800,
        empty_user_every: 0,
        attachment_every: 2,
        body_bytes: 6000,
        attachment_bytes: 4000,
        ..SynthSpec::default()
    };
    let src = SynthSource::new(spec);
    let out = tempfile::tempdir().unwrap();
    write_set(&src, &IffSink::default(), out.path(), false);
    let files: Vec<_> = std::fs::read_dir(out.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    let sec_len: u64 = files
        .iter()
        .filter(|p| p.extension().is_some_and(|x| x.eq_ignore_ascii_case("sec")))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum();
    let release = mailmig_ir::blob::RELEASE_EVERY;
    assert!(sec_len > 4 * release as u64, "{sec_len}");
    let back = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let mb = back.mailboxes()[0].clone();
    let section = back
        .open_mailbox(&mb, &mailmig_ir::Budget::unlimited())
        .unwrap();
    let mut messages = section.messages;
    let mut got: Vec<Message> = messages.by_ref().take(760).map(Result::unwrap).collect();
    #[cfg(target_os = "linux")]
    for suffix in [".SEC", ".PRI"] {
        let rss = mailmig_ir::blob::mapped_resident_bytes(suffix).unwrap();
        assert!(
            rss <= 2 * release as u64,
            "{rss} bytes of the {suffix} file mapped"
        );
    }
    got.extend(messages.map(Result::unwrap));
    // The same set read from memory, where nothing is mapped or released.
    let named: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(p).unwrap())
        })
        .collect();
    let (pkl_name, pkl) = named
        .iter()
        .find(|(n, _)| n.to_ascii_uppercase().ends_with(".PKL"))
        .unwrap();
    let in_memory = mailmig_iff::IffSource::from_memory(
        pkl_name,
        pkl,
        &named
            .iter()
            .map(|(n, b)| (n.as_str(), b.as_slice()))
            .collect::<Vec<_>>(),
        &OpenOptions::default(),
    )
    .unwrap();
    let want: Vec<Message> = in_memory
        .open_mailbox(&mb, &mailmig_ir::Budget::unlimited())
        .unwrap()
        .messages
        .map(Result::unwrap)
        .collect();
    assert_eq!(want.len(), 800);
    assert!(
        got == want,
        "the messages read through the released maps differ"
    );
}

/// A large streamed attachment goes into the secondary file as it is read: when its source
/// hands out the last piece the earlier ones are already in the file, the blob is never
/// collected, and the set reads back to the same bytes.
#[test]
fn streamed_attachments_are_written_as_they_are_read() {
    use mailmig_ir::synth::PatternPieces;
    use std::sync::Arc;

    let out = tempfile::tempdir().unwrap();
    let sec = out.path().join("u1").join("00000001.SEC");
    let source = Arc::new(PatternPieces::new(64 * 1024, 40, Some(sec)));
    let (message, blob) = PatternPieces::message(source.clone(), "large.bin");
    let src = VecSource {
        po: PostOffice {
            name: "po".into(),
            directory: Directory {
                entries: vec![user("u1")],
            },
            ..PostOffice::default()
        },
        mailboxes: vec![MailboxInfo {
            key: "u1".into(),
            display_name: "User u1".into(),
            directory_id: Some("u1".into()),
            ..MailboxInfo::default()
        }],
        contents: vec![(Vec::new(), vec![message])],
    };
    write_set(&src, &IffSink::new(850), out.path(), false);
    assert!(blob.is_streamed(), "the attachment was collected whole");
    assert!(source.watched() + 70_000 >= source.bytes_before_last());
    let back = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let got = read_all(back.as_ref());
    let messages: Vec<Message> = got[0]
        .messages
        .iter()
        .cloned()
        .map(Result::unwrap)
        .collect();
    assert_eq!(messages.len(), 1);
    let mailmig_ir::AttachmentContent::Data(data) = &messages[0].attachments[0].content else {
        panic!("no attachment data");
    };
    assert!(data.as_bytes() == source.bytes().as_slice());
}
