//! Property test: IR → [`IffSink`] → [`IffDriver`] → the same IR, normalised for what the
//! format cannot carry. After every case an independent scan checks that each
//! `#FILE.SEC(offset)` pointer the writer emitted lands on a section line.
//!
//! Cases: `PROPTEST_CASES` if set, else 256 (kept low for CI; the 10,000-case run is in the
//! report).
//!
//! What the generators produce is what IFF carries (exchange-iff.md §5, §7, §12):
//! * directory: mailbox users (`mailbox` rows) and custom recipients (`remote` rows) with id,
//!   display name, typed address, proxy addresses and `iff:Last Name` / `iff:First Name` /
//!   `iff:Home-Server` properties; text may contain the quote set, `;`, backslashes, CR and LF;
//! * personal address books: entries (with or without address) and lists, the 20 optional
//!   columns as `iff:<column>` properties, notes; values may contain CR/LF (moved to `Other`
//!   sections);
//! * messages: folder paths including the special folders, sender, To/Cc/Bcc, subject, dates to
//!   the second (zone unknown), priority, read and unsent flags, text body, File and MacBinary
//!   attachments with names and positions.
//!
//! Normalisation (what IFF cannot carry, applied to the expected IR):
//! * message and attachment source ids, mailbox `source_files` and warnings are the reader's own;
//! * an empty subject or body is no subject or body (a zero-length `Body` section is written);
//! * an attachment position is clamped to the body length in bytes; no position = end of body;
//! * folders are those used by messages and their ancestors (IFF has no empty folders), with
//!   ids = paths, compared as sets;
//! * recipient names carry no `[`, `]` or trailing blanks (the `name[TYPE:addr]` syntax);
//!   addresses always carry a type; text is limited to characters Windows-1252 can encode.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeMap;

use common::{VecSource, check_all_pointers, read_all, write_set};
use mailmig_iff::{IffDriver, IffSink};
use mailmig_ir::{
    Address, Attachment, AttachmentContent, AttachmentKind, Blob, Bodies, Directory,
    DirectoryEntry, Driver, EntryKind, Folder, FolderKind, MailboxInfo, Message, MessageFlags,
    OpenOptions, PostOffice, Priority, PropValue, Property, SourceFormat, Timestamp,
};
use proptest::prelude::*;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(256)
}

const PLAIN: &[char] = &[
    'a', 'b', 'z', 'A', 'Q', '0', '7', ' ', '-', '_', '@', 'é', 'ß', 'Ü', '€', 'ñ', '&', '/', ':',
];
const SPECIAL: &[char] = &['#', '!', ',', '\\', '"', '%', '.', ';', '(', ')', '\''];

fn text_from(chars: Vec<char>) -> String {
    chars.into_iter().collect()
}

/// Non-empty one-line text, with the quote set.
fn line_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![4 => prop::sample::select(PLAIN), 1 => prop::sample::select(SPECIAL)],
        1..10,
    )
    .prop_map(text_from)
}

/// Non-empty text that may contain CR, LF and CR LF.
fn multi_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![
            6 => prop::sample::select(PLAIN).prop_map(String::from),
            2 => prop::sample::select(SPECIAL).prop_map(String::from),
            1 => prop::sample::select(vec!["\r\n", "\n", "\r"]).prop_map(String::from),
        ],
        1..14,
    )
    .prop_map(|v| v.concat())
}

/// A recipient name: no brackets, no CR/LF, no trailing blank.
fn name_text() -> impl Strategy<Value = String> {
    line_text()
        .prop_map(|s| s.trim_end().to_string())
        .prop_filter("non-empty", |s| !s.is_empty())
}

fn addr_type() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["SMTP", "CCMAIL", "X400", "MS", "PROFS"]).prop_map(String::from)
}

fn typed(t: &str, a: &str) -> Address {
    if t == "SMTP" {
        Address::smtp(None, a)
    } else {
        Address::native(None, t, a)
    }
}

fn address() -> impl Strategy<Value = Address> {
    (addr_type(), line_text()).prop_map(|(t, a)| typed(&t, &a))
}

fn recipient() -> impl Strategy<Value = Address> {
    prop_oneof![
        name_text().prop_map(|n| Address {
            name: Some(n),
            ..Address::default()
        }),
        (proptest::option::of(name_text()), address()).prop_map(|(n, mut a)| {
            a.name = n;
            a
        }),
    ]
}

fn timestamp() -> impl Strategy<Value = Timestamp> {
    (
        1601i32..=9999,
        1u8..=12,
        1u8..=28,
        0u8..24,
        0u8..60,
        0u8..60,
    )
        .prop_map(|(y, mo, d, h, mi, s)| {
            let date =
                time::Date::from_calendar_date(y, time::Month::try_from(mo).unwrap(), d).unwrap();
            let t = time::Time::from_hms(h, mi, s).unwrap();
            Timestamp::local_unknown_zone(time::PrimitiveDateTime::new(date, t))
        })
}

const FOLDERS: &[&str] = &[
    "Inbox",
    "Sent Items",
    "Deleted Items",
    "Outbox",
    "Projects",
    "Projects\\Alpha, Beta",
    "Projects\\Alpha, Beta\\#3 (old).",
    "Inbox\\Sub",
];

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        any::<bool>(),
        line_text(),
        prop::collection::vec(any::<u8>(), 0..64),
        proptest::option::of(0u64..200),
    )
        .prop_map(|(mac, name, data, position)| Attachment {
            kind: if mac {
                AttachmentKind::MacBinary
            } else {
                AttachmentKind::File
            },
            name: Some(name),
            position,
            content: AttachmentContent::Data(Blob::from_vec(data)),
            ..Attachment::default()
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        (
            prop::sample::select(FOLDERS),
            proptest::option::of(recipient()),
            prop::collection::vec(recipient(), 0..3),
            prop::collection::vec(recipient(), 0..2),
            prop::collection::vec(recipient(), 0..2),
            proptest::option::of(multi_text()),
        ),
        (
            proptest::option::of(timestamp()),
            proptest::option::of(timestamp()),
            prop::sample::select(vec![Priority::Low, Priority::Normal, Priority::High]),
            any::<bool>(),
            any::<bool>(),
            proptest::option::of(multi_text()),
            prop::collection::vec(attachment(), 0..3),
        ),
    )
        .prop_map(
            |(
                (folder, from, to, cc, bcc, subject),
                (sent, received, priority, read, unsent, body, attachments),
            )| Message {
                folder: Some(folder.to_string()),
                from,
                to,
                cc,
                bcc,
                subject,
                sent,
                received,
                priority,
                flags: MessageFlags {
                    read,
                    unsent,
                    ..MessageFlags::default()
                },
                body: Bodies {
                    text: body,
                    ..Bodies::default()
                },
                attachments,
                ..Message::default()
            },
        )
}

const PAB_COLUMNS: [&str; 20] = [
    "First",
    "Last",
    "Address",
    "City",
    "State",
    "Zip",
    "Country",
    "Title",
    "Company",
    "Department",
    "Office",
    "Assistant",
    "Bus-Num",
    "Bus2-Num",
    "Assist-Num",
    "Fax-Num",
    "Home-Num",
    "Home2-Num",
    "Mobile-Num",
    "Pager-Num",
];

fn pab_entry() -> impl Strategy<Value = DirectoryEntry> {
    (
        any::<bool>(),
        multi_text(),
        proptest::option::of(address()),
        prop::collection::vec(line_text(), 1..3),
        prop::collection::btree_map(0usize..20, multi_text(), 0..3),
        proptest::option::of(multi_text()),
    )
        .prop_map(|(list, dn, addr, members, props, comment)| {
            let properties = props
                .into_iter()
                .map(|(i, v)| Property::new(format!("iff:{}", PAB_COLUMNS[i]), PropValue::Text(v)))
                .collect();
            DirectoryEntry {
                kind: if list {
                    EntryKind::List
                } else {
                    EntryKind::CustomRecipient
                },
                id: dn.clone(),
                display_name: dn,
                address: if list { None } else { addr },
                members: if list { members } else { Vec::new() },
                comment,
                properties,
                ..DirectoryEntry::default()
            }
        })
}

/// A directory entry's variable parts (id made unique by the caller).
fn dir_parts() -> impl Strategy<Value = (String, String, Vec<String>, [Option<String>; 3])> {
    (
        line_text(),
        multi_text(),
        prop::collection::vec(
            prop_oneof![
                line_text().prop_map(|s| format!("SMTP:{s}")),
                Just("X400:c=US;a= ;p=Org;s=Doe".to_string()),
            ],
            0..3,
        ),
        (
            proptest::option::of(multi_text()),
            proptest::option::of(line_text()),
            proptest::option::of(line_text().prop_filter("not ~Server", |s| s != "~Server")),
        )
            .prop_map(|(a, b, c)| [a, b, c]),
    )
}

#[derive(Debug)]
struct Case {
    src: VecSource,
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop::collection::vec(
            (
                dir_parts(),
                prop::collection::vec(pab_entry(), 0..3),
                prop::collection::vec(message(), 0..4),
            ),
            1..4,
        ),
        prop::collection::vec((dir_parts(), addr_type()), 0..2),
    )
        .prop_map(|(users, remotes)| {
            let mut entries = Vec::new();
            let mut mailboxes = Vec::new();
            let mut contents = Vec::new();
            let props = |p: &[Option<String>; 3], home: bool| {
                let mut v = Vec::new();
                for (name, val) in [("Last Name", &p[0]), ("First Name", &p[1])] {
                    if let Some(t) = val {
                        v.push(Property::new(
                            format!("iff:{name}"),
                            PropValue::Text(t.clone()),
                        ));
                    }
                }
                if home && let Some(t) = &p[2] {
                    v.push(Property::new("iff:Home-Server", PropValue::Text(t.clone())));
                }
                v
            };
            for (i, ((id, dn, proxies, p), pab, msgs)) in users.into_iter().enumerate() {
                let id = format!("U{i}{id}");
                let e = DirectoryEntry {
                    kind: EntryKind::MailboxUser,
                    id: id.clone(),
                    display_name: dn.clone(),
                    address: Some(Address::native(None, "CCMAIL", &format!("{id} at PO"))),
                    proxy_addresses: proxies.iter().map(|x| format!("{x}/U{i}")).collect(),
                    properties: props(&p, true),
                    ..DirectoryEntry::default()
                };
                mailboxes.push(MailboxInfo {
                    key: id.clone(),
                    display_name: dn,
                    address: e.address.clone(),
                    directory_id: Some(id),
                    personal_address_book: pab,
                    ..MailboxInfo::default()
                });
                entries.push(e);
                contents.push((folder_tree(), msgs));
            }
            for (i, ((id, dn, proxies, p), t)) in remotes.into_iter().enumerate() {
                entries.push(DirectoryEntry {
                    kind: EntryKind::CustomRecipient,
                    id: format!("R{i}{id}"),
                    display_name: dn,
                    address: Some(typed(&t, &format!("remote{i}@elsewhere"))),
                    proxy_addresses: proxies.iter().map(|x| format!("{x}/R{i}")).collect(),
                    properties: props(&p, false),
                    ..DirectoryEntry::default()
                });
            }
            Case {
                src: VecSource {
                    po: PostOffice {
                        name: "PO1".into(),
                        format: SourceFormat::Iff,
                        code_page: Some(1252),
                        directory: Directory { entries },
                        ..PostOffice::default()
                    },
                    mailboxes,
                    contents,
                },
            }
        })
}

/// The source's folder tree: every path of [`FOLDERS`] with its ancestors.
fn folder_tree() -> Vec<Folder> {
    let mut out: BTreeMap<String, Folder> = BTreeMap::new();
    for path in FOLDERS {
        let parts: Vec<&str> = path.split('\\').collect();
        for d in 0..parts.len() {
            let id = parts[..=d].join("\\");
            let kind = match (d, parts[0]) {
                (0, "Inbox") => FolderKind::Inbox,
                (0, "Sent Items") => FolderKind::Sent,
                (0, "Deleted Items") => FolderKind::Deleted,
                (0, "Outbox") => FolderKind::Outbox,
                _ => FolderKind::Custom,
            };
            out.entry(id.clone()).or_insert(Folder {
                id,
                parent: (d > 0).then(|| parts[..d].join("\\")),
                name: parts[d].to_string(),
                kind,
                ..Folder::default()
            });
        }
    }
    out.into_values().collect()
}

fn normalise_message(m: &Message) -> Message {
    let mut m = m.clone();
    m.ids = Default::default();
    m.warnings.clear();
    if m.from.is_none() {
        m.from = m.sender.take();
    }
    m.sender = None;
    m.subject = m.subject.filter(|s| !s.is_empty());
    m.body.text = m.body.text.filter(|s| !s.is_empty());
    let body_len =
        mailmig_ir::codepage::encode_lossy(m.body.text.as_deref().unwrap_or(""), 1252).len() as u64;
    for a in &mut m.attachments {
        a.ids = Default::default();
        a.position = Some(a.position.unwrap_or(body_len).min(body_len));
    }
    m
}

fn used_folders(all: &[Folder], msgs: &[Message]) -> Vec<Folder> {
    let by_id: BTreeMap<&str, &Folder> = all.iter().map(|f| (f.id.as_str(), f)).collect();
    let mut out: BTreeMap<String, Folder> = BTreeMap::new();
    for m in msgs {
        let mut cur = m.folder.as_deref().and_then(|f| by_id.get(f).copied());
        while let Some(f) = cur {
            out.insert(f.id.clone(), f.clone());
            cur = f.parent.as_deref().and_then(|p| by_id.get(p).copied());
        }
    }
    out.into_values().collect()
}

fn sorted(mut f: Vec<Folder>) -> Vec<Folder> {
    f.sort_by(|a, b| a.id.cmp(&b.id));
    f
}

fn run_case(c: &Case) -> Result<(), TestCaseError> {
    let out = tempfile::tempdir().unwrap();
    write_set(&c.src, &IffSink::new(1252), out.path(), false);
    let msgs: usize = c.src.contents.iter().map(|(_, m)| m.len()).sum();
    let pointers = check_all_pointers(out.path());
    prop_assert!(pointers >= msgs, "{pointers} pointers for {msgs} messages");
    let src = IffDriver
        .open(&[out.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    prop_assert!(
        src.post_office().warnings.is_empty(),
        "{:?}",
        src.post_office().warnings
    );
    prop_assert_eq!(&src.post_office().directory, &c.src.po.directory);
    let got = read_all(src.as_ref());
    prop_assert_eq!(got.len(), c.src.mailboxes.len());
    for (g, (want, (folders, messages))) in got
        .iter()
        .zip(c.src.mailboxes.iter().zip(c.src.contents.iter()))
    {
        let mut info = g.info.clone();
        info.source_files.clear();
        prop_assert_eq!(&info, want);
        prop_assert_eq!(sorted(g.folders.clone()), used_folders(folders, messages));
        let back: Vec<Message> = g
            .messages
            .iter()
            .map(|m| normalise_message(m.as_ref().unwrap()))
            .collect();
        let want: Vec<Message> = messages.iter().map(normalise_message).collect();
        prop_assert_eq!(back, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn ir_writer_reader_round_trip(c in case()) {
        run_case(&c)?;
    }
}
