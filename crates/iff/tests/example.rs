//! The worked example of `formats/exchange-iff.md` §13, both ways: the writer reproduces the
//! documented bytes (pointer offsets 50 and 247 included) from the equivalent IR, and the reader
//! decodes the documented files back into that IR.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use common::{VecSource, check_all_pointers, read_all, write_set};
use mailmig_iff::{IffDriver, IffSink};
use mailmig_ir::{
    Address, Attachment, AttachmentContent, Blob, Directory, DirectoryEntry, Driver, EntryKind,
    Folder, FolderKind, MailboxInfo, Message, MessageFlags, OpenOptions, PostOffice, PropValue,
    Property, SourceFormat,
};

const DIRECTORY_PRI: &str = "DIRECTORY\r\n\
Obj-class,Mode,Common-Name,Display-Name,Last Name,First Name,Secondary-Proxy-Addresses,Home-Server\r\n\
mailbox,create,ALovelace,Ada Lovelace,Lovelace,Ada,\"MIGRATE:CCMAIL:Lovelace, Ada at LONDON\",~Server\r\n\
mailbox,create,CBabbage,Charles Babbage,Babbage,Charles,\"MIGRATE:CCMAIL:Babbage, Charles at LONDON\",~Server\r\n";

const COMMENT: &str = "! mailmig example: mailbox of Ada Lovelace\r\n";

const ADA_PRI: &str = "PAB,\"CCMAIL:Lovelace, Ada at LONDON\"\r\n\
Obj-class,Display-Name,Email-Address,First,Last,Address,City,State,Zip,Country,Title,Company,Department,Office,Assistant,Bus-Num,Bus2-Num,Assist-Num,Fax-Num,Home-Num,Home2-Num,Mobile-Num,Pager-Num,Note\r\n\
entry,Mary Somerville,\"CCMAIL:Somerville, Mary at CAMBRIDGE\",Mary,Somerville,,,,,,,,,,,,,,,,,,,\r\n\
dl,Engine Friends,Mary Somerville;Charles Babbage,,,,,,,,,,,,,,,,,,,,,Correspondents on the Engine\r\n\
\r\n\
MAILMESSAGE,\"CCMAIL:Lovelace, Ada at LONDON\"\r\n\
Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n\
Sent Items,Ada Lovelace,\"Charles Babbage[CCMAIL:Babbage, Charles at LONDON]\",,,Note G draft,19990314090500,19990314090500,,,,#00000001.SEC(50)\r\n\
\"Correspondence\\Somerville\",Ada Lovelace,Mary Somerville,,,\"Thanks, and a question\",19990316101500,19990316101500,,,,#00000001.SEC(247)\r\n";

const CHARLES_PRI: &str = "MAILMESSAGE,\"CCMAIL:Babbage, Charles at LONDON\"\r\n\
Folder,Sender,To,Cc,Bcc,Subject,Send-Date,Received-Date,Priority,Unread,Unsent,Body\r\n";

const BODY1: &str = "Charles,\r\n\r\nThe draft of Note G is attached. The table of\r\nBernoulli numbers starts on page 3.\r\n\r\nAda\r\n";
const ATT1: &str = "B0 = 1\r\nB1 = -1/2\r\nB2 = 1/6\r\n";
const BODY2: &str = "Mary,\r\n\r\nThank you for the introduction to Mr Babbage.\r\n";

fn sec_bytes() -> String {
    format!(
        "Type,Length,Encoding,Islast,Name,Position,Format\r\n\
         Body,103,,FALSE,,,\r\n{BODY1}\r\n\
         Attachment,29,,TRUE,NOTE_G.TXT,103,None\r\n{ATT1}\r\n\
         Body,56,,TRUE,,,\r\n{BODY2}\r\n"
    )
}

fn text(name: &str, v: &str) -> Property {
    Property::new(format!("iff:{name}"), PropValue::Text(v.into()))
}

fn user(id: &str, display: &str, addr: &str, last: &str, first: &str) -> DirectoryEntry {
    DirectoryEntry {
        kind: EntryKind::MailboxUser,
        id: id.into(),
        display_name: display.into(),
        address: Some(Address::native(None, "CCMAIL", addr)),
        properties: vec![text("Last Name", last), text("First Name", first)],
        ..DirectoryEntry::default()
    }
}

fn ts(s: &str) -> Option<mailmig_ir::Timestamp> {
    mailmig_ir::dates::parse_yyyymmddhhmmss(s).ok()
}

/// The IR of the example post office.
fn example_ir() -> VecSource {
    let ada = user(
        "ALovelace",
        "Ada Lovelace",
        "Lovelace, Ada at LONDON",
        "Lovelace",
        "Ada",
    );
    let charles = user(
        "CBabbage",
        "Charles Babbage",
        "Babbage, Charles at LONDON",
        "Babbage",
        "Charles",
    );
    let pab = vec![
        DirectoryEntry {
            kind: EntryKind::CustomRecipient,
            id: "Mary Somerville".into(),
            display_name: "Mary Somerville".into(),
            address: Some(Address::native(
                None,
                "CCMAIL",
                "Somerville, Mary at CAMBRIDGE",
            )),
            properties: vec![text("First", "Mary"), text("Last", "Somerville")],
            ..DirectoryEntry::default()
        },
        DirectoryEntry {
            kind: EntryKind::List,
            id: "Engine Friends".into(),
            display_name: "Engine Friends".into(),
            members: vec!["Mary Somerville".into(), "Charles Babbage".into()],
            comment: Some("Correspondents on the Engine".into()),
            ..DirectoryEntry::default()
        },
    ];
    let mb = |e: &DirectoryEntry, pab: Vec<DirectoryEntry>, file: &str| MailboxInfo {
        key: e.id.clone(),
        display_name: e.display_name.clone(),
        address: e.address.clone(),
        directory_id: Some(e.id.clone()),
        source_files: vec![file.into()],
        personal_address_book: pab,
        ..MailboxInfo::default()
    };
    let folders = vec![
        Folder {
            id: "Sent Items".into(),
            name: "Sent Items".into(),
            kind: FolderKind::Sent,
            ..Folder::default()
        },
        Folder {
            id: "Correspondence".into(),
            name: "Correspondence".into(),
            ..Folder::default()
        },
        Folder {
            id: "Correspondence\\Somerville".into(),
            parent: Some("Correspondence".into()),
            name: "Somerville".into(),
            ..Folder::default()
        },
    ];
    let read = MessageFlags {
        read: true,
        ..MessageFlags::default()
    };
    let name_only = |n: &str| Address {
        name: Some(n.into()),
        ..Address::default()
    };
    let m1 = Message {
        folder: Some("Sent Items".into()),
        from: Some(name_only("Ada Lovelace")),
        to: vec![Address::native(
            Some("Charles Babbage"),
            "CCMAIL",
            "Babbage, Charles at LONDON",
        )],
        subject: Some("Note G draft".into()),
        sent: ts("19990314090500"),
        received: ts("19990314090500"),
        flags: read,
        body: mailmig_ir::Bodies {
            text: Some(BODY1.into()),
            ..Default::default()
        },
        attachments: vec![Attachment {
            name: Some("NOTE_G.TXT".into()),
            position: Some(103),
            content: AttachmentContent::Data(Blob::from(ATT1.as_bytes())),
            ..Attachment::default()
        }],
        ..Message::default()
    };
    let m2 = Message {
        folder: Some("Correspondence\\Somerville".into()),
        from: Some(name_only("Ada Lovelace")),
        to: vec![name_only("Mary Somerville")],
        subject: Some("Thanks, and a question".into()),
        sent: ts("19990316101500"),
        received: ts("19990316101500"),
        flags: read,
        body: mailmig_ir::Bodies {
            text: Some(BODY2.into()),
            ..Default::default()
        },
        ..Message::default()
    };
    VecSource {
        po: PostOffice {
            name: "LONDON".into(),
            format: SourceFormat::Iff,
            code_page: Some(1252),
            directory: Directory {
                entries: vec![ada.clone(), charles.clone()],
            },
            ..PostOffice::default()
        },
        mailboxes: vec![
            mb(&ada, pab, "00000001.PRI"),
            mb(&charles, Vec::new(), "00000002.PRI"),
        ],
        contents: vec![(folders, vec![m1, m2]), (Vec::new(), Vec::new())],
    }
}

#[test]
fn documented_sizes_of_the_example() {
    assert_eq!(DIRECTORY_PRI.len(), 321);
    assert_eq!(COMMENT.len() + ADA_PRI.len(), 896);
    assert_eq!(CHARLES_PRI.len(), 134);
    assert_eq!(sec_bytes().len(), 323);
}

#[test]
fn writer_reproduces_the_example_byte_for_byte() {
    let out = tempfile::tempdir().unwrap();
    let src = example_ir();
    write_set(&src, &IffSink::new(1252), out.path(), false);
    let read = |p: &str| String::from_utf8(std::fs::read(out.path().join(p)).unwrap()).unwrap();
    assert_eq!(read("DIRECTORY.PRI"), DIRECTORY_PRI);
    // §1: the whole set sits in the packing list's directory, as in §13 (65-byte packing list).
    let pkl = read("LONDON.PKL");
    assert_eq!(
        pkl,
        "1252\r\n\r\nDIRECTORY.PRI\r\n00000001.PRI\r\n00000002.PRI\r\n00000001.SEC\r\n"
    );
    assert_eq!(pkl.len(), 65);
    assert_eq!(read("00000001.PRI"), ADA_PRI);
    assert_eq!(read("00000001.SEC"), sec_bytes());
    // Charles has no mail and still gets his own primary file with a MAILMESSAGE section.
    assert_eq!(read("00000002.PRI"), CHARLES_PRI);
    assert!(!out.path().join("00000002.SEC").exists());
    // The engine's per-mailbox directories hold the same files.
    assert_eq!(read("ALovelace/00000001.PRI"), ADA_PRI);
    assert_eq!(read("ALovelace/00000001.SEC"), sec_bytes());
    assert_eq!(read("CBabbage/00000002.PRI"), CHARLES_PRI);
    assert_eq!(check_all_pointers(out.path()), 2);
}

#[test]
fn reader_decodes_the_documented_files() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path();
    std::fs::write(
        p.join("LONDON.PKL"),
        "1252\r\n\r\nDIRECTORY.PRI\r\n00000001.PRI\r\n00000002.PRI\r\n00000001.SEC\r\n",
    )
    .unwrap();
    std::fs::write(p.join("DIRECTORY.PRI"), DIRECTORY_PRI).unwrap();
    std::fs::write(p.join("00000001.PRI"), format!("{COMMENT}{ADA_PRI}")).unwrap();
    std::fs::write(p.join("00000002.PRI"), CHARLES_PRI).unwrap();
    std::fs::write(p.join("00000001.SEC"), sec_bytes()).unwrap();
    let det = IffDriver.detect(&p.join("LONDON.PKL"), b"1252\r\n\r\nDIRECTORY.PRI\r\n");
    assert_eq!(det.map(|d| d.confidence), Some(100));
    // The directory itself is accepted too.
    let src = IffDriver
        .open(&[p.to_path_buf()], &OpenOptions::default())
        .unwrap();
    let want = example_ir();
    assert_eq!(src.post_office().directory, want.po.directory);
    assert!(
        src.post_office().warnings.is_empty(),
        "{:?}",
        src.post_office().warnings
    );
    let got = read_all(src.as_ref());
    assert_eq!(got.len(), 2);
    for (g, (w, (wf, wm))) in got
        .iter()
        .zip(want.mailboxes.iter().zip(want.contents.iter()))
    {
        assert_eq!(&g.info, w);
        assert_eq!(&g.folders, wf);
        let msgs: Vec<Message> = g
            .messages
            .iter()
            .map(|m| {
                let mut m = m.clone().unwrap();
                assert!(m.warnings.is_empty(), "{:?}", m.warnings);
                m.ids = Default::default();
                for a in &mut m.attachments {
                    a.ids = Default::default();
                }
                m
            })
            .collect();
        assert_eq!(&msgs, wm);
    }
    let insp = IffDriver.inspect(p, &OpenOptions::default()).unwrap();
    assert!(insp.summary.contains("code page 1252"), "{}", insp.summary);
    assert!(insp.summary.contains("2 messages"), "{}", insp.summary);
    assert!(
        insp.findings
            .iter()
            .all(|f| f.severity != mailmig_ir::Severity::Error),
        "{:?}",
        insp.findings
    );
}
