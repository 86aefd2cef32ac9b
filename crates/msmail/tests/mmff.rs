//! MMFF reader/writer tests: the KB example (`msmail.md` §10.6), terminators, extended fields,
//! damage handling and the IR → writer → reader round-trip property.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use mailmig_ir::blob::SharedBytes;
use mailmig_ir::{
    Address, Attachment, AttachmentContent, Blob, Limits, Message, Priority, PropValue, Property,
    Timestamp,
};
use mailmig_msmail::LineEnd;
use mailmig_msmail::mmff::reader::{ReadOptions, read_file};
use mailmig_msmail::mmff::writer::{WriterOptions, normalise, write_message};
use proptest::prelude::*;

const KB_TEXT: &str = "Ada,\n\nThe plans for the second Difference Engine are attached.\nThe carriage drawing is still missing.\n\nCharles\n";
const KB_ATT: &str = "Sheet 1: framing\nSheet 2: carry mechanism\n";

/// The §10.6 example, written with terminator `eol` (the KB's is CR LF).
fn kb_example(eol: &str) -> Vec<u8> {
    let text = KB_TEXT.replace('\n', eol);
    let att = KB_ATT.replace('\n', eol);
    let mut s = String::new();
    for l in [
        "VERSION:3.00",
        "TO:CSI:ANALYTIC/LONDON/ALOVELACE",
        "TO:SMTP:mary.somerville@example.org",
        "FROM:CSI:ANALYTIC/LONDON/CBABBAGE",
        "DATE:1993-10-08",
        "TIME:16:25",
        "SUBJECT:Drawings for Difference Engine No. 2",
    ] {
        s.push_str(l);
        s.push_str(eol);
    }
    s.push_str(&format!("ATTACHMENTS:DE2PLAN.TXT {}{eol}", att.len()));
    s.push_str(&format!("TEXT:{}{eol}", text.len()));
    s.push_str(&text);
    s.push_str(&att);
    s.into_bytes()
}

fn read(bytes: Vec<u8>, cp: u16) -> Vec<Message> {
    let data: SharedBytes = Arc::new(bytes);
    let limits = Limits::strict();
    read_file(
        &data,
        &ReadOptions {
            code_page: cp,
            limits: &limits,
            file_name: "t.mmf",
            base_dir: None,
        },
    )
    .items
    .into_iter()
    .map(|r| r.expect("message"))
    .collect()
}

#[test]
fn kb_example_sizes_match_the_notes() {
    let crlf = kb_example("\r\n");
    assert_eq!(crlf.len(), 394, "§10.6 says the CR LF example is 394 bytes");
    assert!(String::from_utf8_lossy(&crlf).contains("TEXT:117\r\n"));
    assert!(String::from_utf8_lossy(&crlf).contains("ATTACHMENTS:DE2PLAN.TXT 44\r\n"));
}

#[test]
fn kb_example_reads_with_all_three_terminators() {
    for eol in ["\r", "\n", "\r\n"] {
        let msgs = read(kb_example(eol), 850);
        assert_eq!(msgs.len(), 1, "eol {eol:?}");
        let m = &msgs[0];
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        assert_eq!(m.to.len(), 2);
        assert_eq!(m.to[0].addr_type.as_deref(), Some("CSI"));
        assert_eq!(
            m.to[0].address.as_deref(),
            Some("ANALYTIC/LONDON/ALOVELACE")
        );
        assert_eq!(m.to[1].smtp.as_deref(), Some("mary.somerville@example.org"));
        assert_eq!(
            m.from.as_ref().and_then(|a| a.address.as_deref()),
            Some("ANALYTIC/LONDON/CBABBAGE")
        );
        assert_eq!(
            m.subject.as_deref(),
            Some("Drawings for Difference Engine No. 2")
        );
        assert_eq!(
            m.sent.map(|t| t.to_string()).as_deref(),
            Some("1993-10-08T16:25:00")
        );
        assert_eq!(m.body.text.as_deref(), Some(KB_TEXT));
        assert_eq!(m.attachments.len(), 1);
        assert_eq!(m.attachments[0].name.as_deref(), Some("DE2PLAN.TXT"));
        assert_eq!(
            m.attachments[0].data().map(|b| b.as_bytes().to_vec()),
            Some(KB_ATT.replace('\n', eol).into_bytes())
        );
    }
}

#[test]
fn writer_reproduces_kb_example_byte_for_byte() {
    let m = read(kb_example("\r\n"), 850).remove(0);
    // The attachment data carries CR LF; the writer copies attachment bytes verbatim.
    let mut out = Vec::new();
    let opts = WriterOptions {
        line_end: LineEnd::CrLf,
        ..WriterOptions::default()
    };
    let notes = write_message(&m, &opts, &mut out);
    assert!(notes.notes.is_empty(), "{:?}", notes.notes);
    assert_eq!(
        String::from_utf8_lossy(&out),
        String::from_utf8_lossy(&kb_example("\r\n"))
    );
}

#[test]
fn default_writer_uses_cr_and_counts_terminators() {
    let m = Message {
        to: vec![Address::native(None, "CSI", "N/P/A")],
        body: mailmig_ir::Bodies {
            text: Some("a\nb\n".into()),
            ..Default::default()
        },
        ..Message::default()
    };
    let mut out = Vec::new();
    write_message(&m, &WriterOptions::default(), &mut out);
    assert_eq!(out, b"VERSION:3.00\rTO:CSI:N/P/A\rTEXT:4\ra\rb\r");
}

#[test]
fn code_page_850_and_852_decode_differently() {
    // 0x82 is é in CP850 and é in CP852 too; 0xA5 is Ñ in CP850 and ą in CP852.
    let mut bytes = b"VERSION:3.00\rTO:N/P/A\rSUBJECT:".to_vec();
    bytes.extend([0x82, 0xA5]);
    bytes.extend(b"\rTEXT:0\r");
    assert_eq!(read(bytes.clone(), 850)[0].subject.as_deref(), Some("éÑ"));
    assert_eq!(read(bytes, 852)[0].subject.as_deref(), Some("éą"));
}

#[test]
fn unknown_tokens_ext_fields_and_priority_are_kept() {
    let f = b"VERSION:3.10\nTO:N/P/A\nX-GATEWAY:SMTPGW 1.2\nPRIORITY:Urgent\nEXT:I:3:HEADLEN\n5\nEXT:S:20:ORIGIN\nsomewhere\nno colon here\nTEXT:50\nFROM: x\nTO: y\nSUBJECT: z\n\n-----\nBody line\nline 2\n".to_vec();
    let m = read(f, 850).remove(0);
    let prop = |n: &str| {
        m.properties
            .iter()
            .find(|p| p.name == n)
            .map(|p| p.value.clone())
    };
    assert_eq!(prop("mmff:version"), Some(PropValue::Text("3.10".into())));
    assert_eq!(
        prop("mmff:token:X-GATEWAY"),
        Some(PropValue::Text("SMTPGW 1.2".into()))
    );
    assert_eq!(
        prop("mmff:priority"),
        Some(PropValue::Text("Urgent".into()))
    );
    assert_eq!(m.priority, Priority::High);
    assert_eq!(
        prop("mmff:ext:I:3:HEADLEN"),
        Some(PropValue::Text("5".into()))
    );
    assert_eq!(
        prop("mmff:ext:S:20:ORIGIN"),
        Some(PropValue::Text("somewhere".into()))
    );
    assert_eq!(
        prop("mmff:line"),
        Some(PropValue::Text("no colon here".into()))
    );
    assert_eq!(
        prop("mmff:header-text"),
        Some(PropValue::Text(
            "FROM: x\nTO: y\nSUBJECT: z\n\n-----\n".into()
        ))
    );
    assert_eq!(m.body.text.as_deref(), Some("Body line\nline 2\n"));
    assert!(m.warnings.iter().any(|w| w.code == "mmff.bad-header-line"));

    // Writing and reading again keeps all of it.
    let mut out = Vec::new();
    write_message(
        &m,
        &WriterOptions {
            line_end: LineEnd::Lf,
            ..Default::default()
        },
        &mut out,
    );
    let again = read(out, 850).remove(0);
    assert_eq!(again.properties, m.properties);
    assert_eq!(again.body, m.body);
}

#[test]
fn headlen_one_too_high_moves_split_back() {
    // KB Q147034: a gateway that counted one line too many hid the first body line.
    let text = "FROM: a\nSUBJECT: b\n\nFirst body line\nSecond\n";
    let f = format!("TO:N/P/A\nEXT:I:3:HEADLEN\n4\nTEXT:{}\n{text}", text.len());
    let m = read(f.into_bytes(), 850).remove(0);
    assert_eq!(m.body.text.as_deref(), Some("First body line\nSecond\n"));
    let w = m
        .warnings
        .iter()
        .find(|w| w.code == "mmff.headlen")
        .expect("warning");
    assert_eq!(w.offset, Some(25), "offset of the HEADLEN value line");
}

#[test]
fn damaged_sizes_are_reported_with_offsets() {
    // TEXT overruns the file.
    let m = read(b"TO:N/P/A\rTEXT:99\rshort".to_vec(), 850).remove(0);
    assert_eq!(m.body.text.as_deref(), Some("short"));
    let w = m
        .warnings
        .iter()
        .find(|w| w.code == "mmff.text-overrun")
        .expect("warning");
    assert_eq!(w.offset, Some(9));
    // Attachment overruns.
    let m = read(
        b"TO:N/P/A\rATTACHMENTS:A.TXT 10\rTEXT:2\rhiabc".to_vec(),
        850,
    )
    .remove(0);
    assert_eq!(m.attachments[0].data().map(Blob::len), Some(3));
    let w = m
        .warnings
        .iter()
        .find(|w| w.code == "mmff.attachment-overrun")
        .expect("warning");
    assert_eq!(w.offset, Some(39));
    // Trailing garbage.
    let m = read(b"TO:N/P/A\rTEXT:2\rhiJUNK".to_vec(), 850).remove(0);
    let w = m
        .warnings
        .iter()
        .find(|w| w.code == "mmff.unparsed-tail")
        .expect("warning");
    assert_eq!(w.offset, Some(18));
    assert!(m.properties.iter().any(|p| p.name == "mmff:unparsed-tail"));
}

#[test]
fn missing_text_and_bad_numbers_skip_with_offset() {
    let data: SharedBytes = Arc::new(b"TO:N/P/A\rSUBJECT:x\r".to_vec());
    let limits = Limits::strict();
    let opts = ReadOptions {
        code_page: 850,
        limits: &limits,
        file_name: "f",
        base_dir: None,
    };
    let items = read_file(&data, &opts).items;
    let s = items[0].as_ref().expect_err("skipped");
    assert_eq!(s.offset, Some(0));
    assert!(s.reason.contains("no TEXT"), "{}", s.reason);
    let data: SharedBytes = Arc::new(b"TO:N/P/A\rTEXT:12x\r".to_vec());
    let s = read_file(&data, &opts)
        .items
        .remove(0)
        .expect_err("skipped");
    assert_eq!(s.offset, Some(9));
    assert!(
        s.reason.contains("invalid TEXT value \"12x\""),
        "{}",
        s.reason
    );
}

#[test]
fn several_messages_in_one_file() {
    let one = kb_example("\r");
    let mut two = one.clone();
    two.extend_from_slice(b"\r");
    two.extend_from_slice(&one);
    let msgs = read(two, 850);
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1].ids.offset, Some(one.len() as u64 + 1));
    assert_eq!(msgs[0].body, msgs[1].body);
}

#[test]
fn attachment_path_keeps_base_name() {
    let m = read(
        b"TO:N/P/A\rATTACHMENTS:C:\\DOCS\\REPORT.DOC 2\rTEXT:0\rhi".to_vec(),
        850,
    )
    .remove(0);
    assert_eq!(m.attachments[0].name.as_deref(), Some("REPORT.DOC"));
    assert!(m.warnings.iter().any(|w| w.code == "mmff.attachment-path"));
}

#[test]
fn xattach_and_xtext_stay_inside_the_input_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("BODY.TXT"), b"external\rbody\r").unwrap();
    std::fs::write(dir.path().join("PLAN.DAT"), b"12345").unwrap();
    let f =
        b"TO:N/P/A\rXATTACH:PLAN.DAT[Plan.txt]\rXATTACH:..\\..\\etc\\passwd[x]\rXTEXT:BODY.TXT\r"
            .to_vec();
    let data: SharedBytes = Arc::new(f);
    let limits = Limits::strict();
    let opts = ReadOptions {
        code_page: 850,
        limits: &limits,
        file_name: "f",
        base_dir: Some(dir.path()),
    };
    let m = read_file(&data, &opts).items.remove(0).unwrap();
    assert_eq!(m.body.text.as_deref(), Some("external\nbody\n"));
    assert_eq!(m.attachments[0].name.as_deref(), Some("Plan.txt"));
    assert_eq!(
        m.attachments[0].data().map(|b| b.as_bytes().to_vec()),
        Some(b"12345".to_vec())
    );
    assert_eq!(m.attachments[1].content, AttachmentContent::None);
    assert!(m.warnings.iter().any(|w| w.message.contains("refused")));
}

#[test]
fn embedded_message_becomes_nested_mmff_attachment() {
    let inner = Message {
        subject: Some("inner".into()),
        ..Message::default()
    };
    let outer = Message {
        attachments: vec![Attachment {
            kind: mailmig_ir::AttachmentKind::EmbeddedMessage,
            content: AttachmentContent::Message(Box::new(inner)),
            ..Attachment::default()
        }],
        ..Message::default()
    };
    let mut out = Vec::new();
    write_message(&outer, &WriterOptions::default(), &mut out);
    let m = read(out, 850).remove(0);
    let data = m.attachments[0].data().expect("data").as_bytes().to_vec();
    assert_eq!(m.attachments[0].name.as_deref(), Some("EMBED001.MSG"));
    assert_eq!(read(data, 850)[0].subject.as_deref(), Some("inner"));
}

// ---------------------------------------------------------------- round-trip property

fn cp850_char() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => proptest::char::range(' ', '~'),
        1 => prop::sample::select(vec!['é', 'ü', 'Ñ', 'ß', '½', '€', '日', 'Ω']),
    ]
}

fn line_text(max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(cp850_char(), 0..max).prop_map(|v| v.into_iter().collect())
}

fn body_text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![6 => cp850_char(), 1 => Just('\n'), 1 => Just('\r')],
        0..200,
    )
    .prop_map(|v| v.into_iter().collect())
}

fn address() -> impl Strategy<Value = Address> {
    prop_oneof![
        ("[A-Z]{1,8}", "[A-Z]{1,8}", "[A-Z]{1,10}").prop_map(|(n, p, m)| Address::native(
            None,
            "CSI",
            &format!("{n}/{p}/{m}")
        )),
        ("[a-z]{1,8}", "[a-z]{1,8}")
            .prop_map(|(u, h)| Address::smtp(Some("Name"), &format!("{u}@{h}.example"))),
        "[a-z]{1,8}".prop_map(|u| Address::native(None, "smtp", &u)),
        "/c=[A-Z]{2}/admd=[A-Z]{3}/s=[A-Za-z]{1,8}".prop_map(|v| Address::native(None, "X400", &v)),
        ("[A-Za-z]{1,8}", "[A-Za-z ]{0,12}").prop_map(|(a, b)| Address::native(
            None,
            "FAX",
            &format!("{a}^0D{b}^0D")
        )),
        "[A-Z]{1,8}/[A-Z]{1,8}/[A-Z]{1,8}".prop_map(|v| Address {
            address: Some(v),
            ..Address::default()
        }),
        line_text(20).prop_map(|v| Address::native(None, "MHS", &format!("u@h {{{v}}}"))),
    ]
}

fn timestamp() -> impl Strategy<Value = Option<Timestamp>> {
    prop::option::of(
        (
            1980i32..2030,
            1u8..=12,
            1u8..=28,
            0u8..24,
            0u8..60,
            0u8..60,
            any::<bool>(),
        )
            .prop_map(|(y, mo, d, h, mi, s, utc)| {
                let date = time::Date::from_calendar_date(y, time::Month::try_from(mo).unwrap(), d)
                    .unwrap();
                let t = time::Time::from_hms(h, mi, s).unwrap();
                let dt = time::PrimitiveDateTime::new(date, t);
                if utc {
                    Timestamp::utc(dt)
                } else {
                    Timestamp::local_unknown_zone(dt)
                }
            }),
    )
}

fn attachment() -> impl Strategy<Value = Attachment> {
    (
        prop::option::of("[A-Za-z0-9 ._-]{1,20}"),
        prop::collection::vec(any::<u8>(), 0..300),
    )
        .prop_map(|(name, data)| Attachment {
            name,
            content: AttachmentContent::Data(Blob::from_vec(data)),
            ..Attachment::default()
        })
}

fn message() -> impl Strategy<Value = Message> {
    (
        prop::collection::vec(address(), 0..4),
        prop::collection::vec(address(), 0..3),
        prop::collection::vec(address(), 0..2),
        prop::option::of(address()),
        prop::option::of(line_text(80)),
        timestamp(),
        prop::sample::select(vec![Priority::Low, Priority::Normal, Priority::High]),
        prop::option::of(body_text()),
        prop::collection::vec(attachment(), 0..3),
        prop::collection::vec(("X-[A-Z]{1,8}", line_text(30)), 0..3),
    )
        .prop_map(
            |(to, cc, bcc, from, subject, sent, priority, text, attachments, props)| Message {
                to,
                cc,
                bcc,
                from,
                subject,
                sent,
                priority,
                body: mailmig_ir::Bodies {
                    text,
                    ..Default::default()
                },
                attachments,
                properties: props
                    .into_iter()
                    .map(|(k, v)| Property::new(format!("mmff:token:{k}"), PropValue::Text(v)))
                    .collect(),
                ..Message::default()
            },
        )
}

fn writer_options() -> impl Strategy<Value = WriterOptions> {
    (
        prop::sample::select(vec![LineEnd::Cr, LineEnd::Lf, LineEnd::CrLf]),
        prop::sample::select(vec![850u16, 852, 437, 866]),
        any::<bool>(),
    )
        .prop_map(|(line_end, code_page, extended)| WriterOptions {
            line_end,
            code_page,
            extended,
            ..WriterOptions::default()
        })
}

/// Strips what the reader sets from the file itself (ids, folder, warnings).
fn strip(mut m: Message) -> Message {
    m.ids = Default::default();
    m.folder = None;
    m.warnings.clear();
    for a in &mut m.attachments {
        a.ids = Default::default();
    }
    m
}

proptest! {
    // Default 256 cases; run with PROPTEST_CASES=10000 for the long run.
    #[test]
    fn ir_writer_reader_round_trip(msgs in prop::collection::vec(message(), 1..3), opts in writer_options()) {
        let mut file = Vec::new();
        for m in &msgs {
            write_message(m, &opts, &mut file);
        }
        let data: SharedBytes = Arc::new(file);
        let limits = Limits::strict();
        let parsed = read_file(&data, &ReadOptions { code_page: opts.code_page, limits: &limits, file_name: "rt", base_dir: None });
        prop_assert_eq!(parsed.line_end, Some(opts.line_end));
        prop_assert_eq!(parsed.items.len(), msgs.len());
        for (m, item) in msgs.iter().zip(parsed.items) {
            let got = item.map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(got.warnings.is_empty(), "{:?}", got.warnings);
            prop_assert_eq!(strip(got), normalise(m, &opts));
        }
    }
}

#[test]
fn sink_output_reads_back_as_the_same_mailboxes() {
    use mailmig_ir::synth::{SynthSource, SynthSpec};
    use mailmig_ir::{Budget, Driver, MailboxContext, OpenOptions, Sink, Source};
    use mailmig_msmail::{MmffDriver, MmffSink};

    let src = SynthSource::new(SynthSpec {
        users: 3,
        messages_per_user: 5,
        seed: 3,
        ..SynthSpec::default()
    });
    let sink = MmffSink::new(850).with_line_end(LineEnd::CrLf);
    assert_eq!(sink.name(), "mmff");
    let root = tempfile::tempdir().unwrap();
    let opts = sink.options().clone();
    let mut expected = Vec::new();
    for mb in src.mailboxes() {
        let sec = src.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let dir = root.path().join(&mb.key);
        std::fs::create_dir_all(&dir).unwrap();
        let ctx = MailboxContext {
            post_office: src.post_office(),
            mailbox: mb,
            folders: &sec.folders,
            dir_name: &mb.key,
            no_mail: false,
        };
        let mut w = sink.open_mailbox(ctx, &dir).unwrap();
        let mut mine = Vec::new();
        for m in sec.messages.flatten() {
            w.write_message(&m).unwrap();
            mine.push(normalise(&m, &opts));
        }
        let stats = w.finish().unwrap();
        assert_eq!(stats.messages, mine.len() as u64);
        expected.push((mb.key.clone(), mine));
    }
    let drv = MmffDriver;
    assert!(drv.detect(root.path(), &[]).is_some());
    let back = drv
        .open(&[root.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    let mut got = Vec::new();
    for mb in back.mailboxes() {
        let sec = back.open_mailbox(mb, &Budget::unlimited()).unwrap();
        let msgs: Vec<Message> = sec.messages.map(|r| strip(r.unwrap())).collect();
        got.push((mb.key.clone(), msgs));
    }
    // Users without mail have an empty directory, which holds no MMFF file and so no mailbox.
    let expected: Vec<_> = expected
        .into_iter()
        .filter(|(_, m)| !m.is_empty())
        .collect();
    assert_eq!(got.len(), expected.len());
    for ((gk, gm), (ek, em)) in got.iter().zip(&expected) {
        assert_eq!(gk, ek);
        assert_eq!(gm.len(), em.len());
        for (g, e) in gm.iter().zip(em) {
            assert_eq!(g, e);
        }
    }
}

/// Found by the round-trip property: in a CR file, data after the `TEXT:` line that starts with
/// LF must not be swallowed as the second byte of a CR LF terminator.
#[test]
fn cr_file_with_data_starting_with_lf() {
    let m = read(b"TO:N/P/A\rATTACHMENTS:A.DAT 1\rTEXT:0\r\n".to_vec(), 850).remove(0);
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    assert_eq!(
        m.attachments[0].data().map(|b| b.as_bytes().to_vec()),
        Some(vec![b'\n'])
    );
}

/// A large streamed attachment goes into the message file as it is read: when its source
/// hands out the last piece the earlier ones are already in the file, the blob is never
/// collected (nor one inside an embedded message), the file is what `write_message` gives, and
/// it reads back to the same bytes.
#[test]
fn sink_writes_streamed_attachments_as_they_are_read() {
    use mailmig_ir::synth::{PatternPieces, write_mailbox};
    use mailmig_msmail::MmffSink;

    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("MMFF1.MSG");
    let source = Arc::new(PatternPieces::new(64 * 1024, 40, Some(file.clone())));
    let (mut message, blob) = PatternPieces::message(source.clone(), "LARGE.BIN");
    // An embedded message with a streamed attachment of its own, written nested.
    let (inner, inner_blob) = PatternPieces::message(
        Arc::new(PatternPieces::new(64 * 1024, 4, None)),
        "INNER.BIN",
    );
    message.attachments.push(Attachment {
        kind: mailmig_ir::AttachmentKind::EmbeddedMessage,
        content: AttachmentContent::Message(Box::new(inner)),
        ..Attachment::default()
    });
    let sink = MmffSink::new(850);
    let stats = write_mailbox(&sink, tmp.path(), "k", std::slice::from_ref(&message)).unwrap();
    assert!(blob.is_streamed(), "the attachment was collected whole");
    assert!(inner_blob.is_streamed(), "the embedded one was collected");
    assert!(source.watched() + 70_000 >= source.bytes_before_last());
    let written = std::fs::read(&file).unwrap();
    assert_eq!(stats.bytes, written.len() as u64);
    let mut whole = Vec::new();
    write_message(&message, sink.options(), &mut whole);
    assert!(written == whole);
    let back = read(written, 850);
    assert_eq!(back.len(), 1);
    assert_eq!(back[0].attachments.len(), 2);
    let AttachmentContent::Data(data) = &back[0].attachments[0].content else {
        panic!("no attachment data");
    };
    assert!(data.as_bytes() == source.bytes().as_slice());
}
