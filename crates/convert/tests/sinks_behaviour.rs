//! Behaviour of the sinks and of the JSON Lines source on whole mailboxes: reproducible
//! bytes, sections for mailboxes without mail, mboxrd quoting and Maildir names in real
//! output, the JSONL round trip, and the source's handling of damaged lines.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sinks_common;

use std::path::PathBuf;
use std::sync::Arc;

use mailmig_convert::jsonl::{JsonlDriver, JsonlSource};
use mailmig_convert::sinks::{JsonlSink, builtin_sink};
use mailmig_ir::{
    Address, Attachment, AttachmentContent, Blob, Bodies, Budget, Driver, Limits, MailboxInfo,
    Message, OpenOptions, PostOffice, Source, SourceError,
};
use proptest::prelude::*;
use sinks_common::{convert, listing, read_all, sample_path, sample_source};

#[test]
fn writing_the_same_mailboxes_twice_gives_identical_trees() {
    for kind in ["maildir", "mbox", "eml", "jsonl"] {
        let source = sample_source();
        let sink = builtin_sink(kind).unwrap();
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        convert(&source, sink.as_ref(), a.path(), false);
        convert(&source, sink.as_ref(), b.path(), false);
        let (la, lb) = (listing(a.path()), listing(b.path()));
        assert_eq!(la, lb, "{kind}");
        assert!(
            la.lines().any(|l| l.starts_with("f ")),
            "{kind}: wrote files"
        );
    }
}

#[test]
fn no_mail_still_writes_every_section() {
    let source = sample_source();
    for kind in ["maildir", "mbox", "eml", "jsonl"] {
        let tmp = tempfile::tempdir().unwrap();
        let stats = convert(
            &source,
            builtin_sink(kind).unwrap().as_ref(),
            tmp.path(),
            true,
        );
        assert!(stats.iter().all(|s| s.messages == 0), "{kind}");
        for key in ["ANNA", "BOB", "CHEN", "DORA"] {
            let d = tmp.path().join(key);
            let must: Vec<PathBuf> = match kind {
                "maildir" => vec![d.join("cur"), d.join("new"), d.join("tmp")],
                "mbox" if key == "CHEN" => vec![d.join("收件箱.mbox")],
                "mbox" => vec![d.join("Inbox.mbox")],
                "eml" if key == "CHEN" => vec![d.join("收件箱")],
                "eml" => vec![d.join("Inbox")],
                _ => vec![d.join("mailbox.jsonl")],
            };
            for p in must {
                assert!(p.exists(), "{kind}: {} missing", p.display());
            }
        }
        if kind == "maildir" {
            // Every folder exists even though no mail was written.
            assert!(
                tmp.path()
                    .join("ANNA/.Inbox.Projects.Q1\\2e2024/cur")
                    .is_dir()
            );
            assert!(tmp.path().join("ANNA/.Sent Items/maildirfolder").is_file());
        }
        if kind == "jsonl" {
            let text = std::fs::read_to_string(tmp.path().join("DORA/mailbox.jsonl")).unwrap();
            assert_eq!(text.lines().count(), 1);
            assert!(text.starts_with(r#"{"record":"mailbox","mailbox":{"key":"DORA""#));
            assert!(tmp.path().join("post_office.jsonl").is_file());
        }
    }
}

#[test]
fn mbox_output_quotes_from_lines_mboxrd_style() {
    let tmp = tempfile::tempdir().unwrap();
    convert(
        &sample_source(),
        builtin_sink("mbox").unwrap().as_ref(),
        tmp.path(),
        false,
    );
    let inbox = std::fs::read_to_string(tmp.path().join("ANNA/Inbox.mbox")).unwrap();
    assert!(inbox.starts_with(
        "From IMCEACCMAIL-Bob+20Smith+20at+20HQ@mailmig.invalid Sun Mar 14 09:05:00 1999\n"
    ));
    assert!(inbox.contains("\n>From the start of the project"));
    assert!(inbox.contains("\n>>From quoted already"));
    assert!(inbox.contains("\nFrom: not a header either"));
    assert!(!inbox.contains('\r'));
    // Exactly two separator lines: one per message.
    assert_eq!(inbox.lines().filter(|l| l.starts_with("From ")).count(), 2);
    let projects = std::fs::read_to_string(tmp.path().join("ANNA/Inbox/Projects.mbox")).unwrap();
    // The embedded message's body line is quoted too.
    assert!(projects.contains("\n>From now on please use this sheet."));
    assert!(projects.contains("Status: RO\nX-Status: A\n"));
}

#[test]
fn maildir_output_names_and_flags() {
    let tmp = tempfile::tempdir().unwrap();
    convert(
        &sample_source(),
        builtin_sink("maildir").unwrap().as_ref(),
        tmp.path(),
        false,
    );
    let mut names: Vec<String> = std::fs::read_dir(tmp.path().join("ANNA/cur"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names.len(), 2);
    for n in &names {
        let (unique, info) = n.split_once(":2,").unwrap();
        let parts: Vec<&str> = unique.split('.').collect();
        assert_eq!(parts.len(), 3, "{n}");
        assert!(
            parts[0].len() == 6 && parts[0].bytes().all(|b| b.is_ascii_digit()),
            "{n}"
        );
        assert!(
            parts[1].len() == 16 && parts[1].bytes().all(|b| b.is_ascii_hexdigit()),
            "{n}"
        );
        assert_eq!(parts[2], "mailmig");
        assert!(info.bytes().all(|b| b"DFRS".contains(&b)), "{n}");
    }
    assert!(names[0].starts_with("000001.") && names[0].ends_with(":2,S"));
    assert!(names[1].starts_with("000002.") && names[1].ends_with(":2,FS"));
    let drafts: Vec<_> = std::fs::read_dir(tmp.path().join("ANNA/.Drafts/cur"))
        .unwrap()
        .collect();
    assert_eq!(drafts.len(), 1);
    let n = drafts[0]
        .as_ref()
        .unwrap()
        .file_name()
        .to_string_lossy()
        .into_owned();
    assert!(n.ends_with(":2,D"), "{n}");
    assert!(
        std::fs::read_dir(tmp.path().join("ANNA/new"))
            .unwrap()
            .next()
            .is_none()
    );
}

#[test]
fn jsonl_output_reads_back_to_the_same_ir() {
    let source = sample_source();
    let tmp = tempfile::tempdir().unwrap();
    convert(&source, &JsonlSink::new(), tmp.path(), false);
    let driver = JsonlDriver;
    let det = driver.detect(tmp.path(), b"").unwrap();
    assert_eq!(det.confidence, 100);
    let back = driver
        .open(&[tmp.path().to_path_buf()], &OpenOptions::default())
        .unwrap();
    assert_eq!(back.post_office(), source.post_office());
    assert_eq!(read_all(back.as_ref()), read_all(&source));
}

#[test]
fn the_sample_is_detected_and_inspected() {
    let head = std::fs::read(sample_path()).unwrap();
    let det = JsonlDriver
        .detect(&sample_path(), &head[..head.len().min(4096)])
        .unwrap();
    assert_eq!((det.confidence, det.convertible), (100, true));
    assert!(JsonlDriver.detect(&sample_path(), b"From x\n").is_none());
    let insp = JsonlDriver
        .inspect(&sample_path(), &OpenOptions::default())
        .unwrap();
    assert!(
        insp.summary
            .contains("4 mailboxes, 6 messages, 0 damaged lines"),
        "{}",
        insp.summary
    );
    assert!(insp.findings.is_empty());
}

fn line(v: serde_json::Value) -> String {
    serde_json::to_string(&v).unwrap() + "\n"
}

fn stream(text: &str, options: &OpenOptions) -> Result<JsonlSource, SourceError> {
    JsonlSource::from_stream(Arc::new(text.as_bytes().to_vec()), "t.jsonl", options)
}

#[test]
fn damaged_lines_become_skipped_items_with_line_and_offset() {
    let po = line(
        serde_json::json!({"record":"post_office","post_office":{"name":"p","format":"other"}}),
    );
    let mb = line(
        serde_json::json!({"record":"mailbox","mailbox":{"key":"u","display_name":"U"},"folders":[]}),
    );
    let good = line(serde_json::json!({"record":"message","message":{"subject":"ok"}}));
    let bad = "{\"record\":\"message\",\"message\":{\"subject\":\n";
    let long = format!(
        "{{\"record\":\"message\",\"message\":{{\"subject\":\"{}\"}}}}\r\n",
        "x".repeat(200)
    );
    let text = format!("{po}{mb}{good}{bad}\n{long}{good}");
    let mut limits = Limits::default();
    limits.max_line_len = 100;
    let mut options = OpenOptions::default();
    options.limits = limits;
    let src = stream(&text, &options).unwrap();
    assert_eq!(src.mailboxes().len(), 1);
    let items: Vec<_> = src
        .open_mailbox(&src.mailboxes()[0], &Budget::unlimited())
        .unwrap()
        .messages
        .collect();
    assert_eq!(items.len(), 4);
    assert_eq!(items[0].as_ref().unwrap().subject.as_deref(), Some("ok"));
    let s1 = items[1].as_ref().unwrap_err();
    let bad_off = (po.len() + mb.len() + good.len()) as u64;
    assert_eq!(
        (s1.file.as_deref(), s1.offset),
        (Some("t.jsonl"), Some(bad_off))
    );
    assert!(
        s1.reason.starts_with("line 4: invalid message record"),
        "{}",
        s1.reason
    );
    let s2 = items[2].as_ref().unwrap_err();
    assert_eq!(s2.offset, Some(bad_off + bad.len() as u64 + 1));
    assert!(
        s2.reason.contains("line 6") && s2.reason.contains("longer than the limit"),
        "{}",
        s2.reason
    );
    assert!(items[3].is_ok());
}

#[test]
fn structure_is_strict_first_record_must_be_the_post_office() {
    let mb = line(serde_json::json!({"record":"mailbox","mailbox":{"key":"u","display_name":"U"}}));
    match stream(&format!("\n{mb}"), &OpenOptions::default()) {
        Err(SourceError::Format {
            offset, message, ..
        }) => {
            assert_eq!(offset, 1);
            assert!(message.contains("not a post_office line"), "{message}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        stream("", &OpenOptions::default()),
        Err(SourceError::Format { .. })
    ));
    assert!(matches!(
        stream("not json\n", &OpenOptions::default()),
        Err(SourceError::Format { .. })
    ));
}

#[test]
fn damaged_mailbox_lines_and_stray_records_become_post_office_warnings() {
    let po = line(
        serde_json::json!({"record":"post_office","post_office":{"name":"p","format":"other"}}),
    );
    let good = line(serde_json::json!({"record":"message","message":{"subject":"ok"}}));
    let mb = |k: &str| {
        line(serde_json::json!({"record":"mailbox","mailbox":{"key":k,"display_name":k}}))
    };
    let broken_mb = "{\"record\":\"mailbox\",\"mailbox\":{\"key\":\n";
    let text = format!(
        "{po}{good}{}{good}{broken_mb}{good}{good}{}",
        mb("a"),
        mb("a")
    );
    let src = stream(&text, &OpenOptions::default()).unwrap();
    let keys: Vec<&str> = src.mailboxes().iter().map(|m| m.key.as_str()).collect();
    assert_eq!(keys, ["a", "a~2"]);
    let codes: Vec<&str> = src
        .post_office()
        .warnings
        .iter()
        .map(|w| w.code.as_str())
        .collect();
    assert_eq!(
        codes,
        [
            "jsonl.line-outside-mailbox",
            "jsonl.bad-mailbox-line",
            "jsonl.orphan-messages",
            "jsonl.duplicate-mailbox-key"
        ]
    );
    assert!(
        src.post_office().warnings[2]
            .message
            .starts_with("2 record line(s)")
    );
    let a = read_all(&src);
    assert_eq!(
        a[0].2.len(),
        1,
        "only the message before the damaged mailbox line"
    );
    assert_eq!(a[1].2.len(), 0);
}

#[test]
fn no_mail_option_gives_empty_streams_with_folders() {
    let mut options = OpenOptions::default();
    options.no_mail = true;
    let src = JsonlSource::from_stream(
        Arc::new(std::fs::read(sample_path()).unwrap()),
        "sample.jsonl",
        &options,
    )
    .unwrap();
    let anna = src
        .open_mailbox(&src.mailboxes()[0], &Budget::unlimited())
        .unwrap();
    assert_eq!(anna.folders.len(), 7);
    assert_eq!(anna.messages.count(), 0);
}

#[test]
fn budget_stops_the_stream_with_a_skipped_item() {
    let src = sample_source();
    let budget = Budget::unlimited();
    let mut section = src.open_mailbox(&src.mailboxes()[0], &budget).unwrap();
    assert!(section.messages.next().unwrap().is_ok());
    budget.cancel();
    let s = section.messages.next().unwrap().unwrap_err();
    assert_eq!(s.kind, "mailbox");
    assert!(s.reason.contains("cancelled"));
    assert!(section.messages.next().is_none());
}

prop_compose! {
    fn arb_message()(
        subject in proptest::option::of("\\PC{0,40}"),
        text in proptest::option::of("(\\PC|\n|From |>From ){0,60}"),
        data in proptest::collection::vec(any::<u8>(), 0..300),
        name in "\\PC{1,20}",
        read in any::<bool>(),
        native in "[a-z0-9]{1,8}",
    ) -> Message {
        let mut m = Message {
            subject,
            from: Some(Address::native(Some(&name), "CCMAIL", &name)),
            body: Bodies { text, ..Bodies::default() },
            attachments: vec![Attachment {
                name: Some(name.clone()),
                content: AttachmentContent::Data(Blob::from_vec(data)),
                ..Attachment::default()
            }],
            ..Message::default()
        };
        m.ids.native = Some(native);
        m.flags.read = read;
        m
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    /// IR → JsonlSink → JsonlDriver → the same IR.
    #[test]
    fn jsonl_round_trip_is_lossless(msgs in proptest::collection::vec(arb_message(), 0..5)) {
        let po = PostOffice { name: "p".into(), ..PostOffice::default() };
        let mb = MailboxInfo { key: "k".into(), display_name: "K".into(), ..MailboxInfo::default() };
        let tmp = tempfile::tempdir().unwrap();
        let sink = JsonlSink::new();
        let dir = tmp.path().join("k");
        std::fs::create_dir(&dir).unwrap();
        let ctx = mailmig_ir::MailboxContext { post_office: &po, mailbox: &mb, folders: &[], dir_name: "k", no_mail: false };
        let mut w = mailmig_ir::Sink::open_mailbox(&sink, ctx, &dir).unwrap();
        for m in &msgs { w.write_message(m).unwrap(); }
        w.finish().unwrap();
        let committed = [mailmig_ir::CommittedMailbox { key: "k".into(), dir_name: "k".into(), display_name: "K".into(), ..Default::default() }];
        mailmig_ir::Sink::finish(&sink, &po, &committed, tmp.path()).unwrap();
        let back = JsonlSource::from_dir(tmp.path(), &OpenOptions::default()).unwrap();
        prop_assert_eq!(back.post_office(), &po);
        let all = read_all(&back);
        prop_assert_eq!(&all[0].0, &mb);
        prop_assert_eq!(&all[0].2, &msgs);
    }

    /// Every rendered message is 7-bit, parses with mail-parser, and keeps subject and
    /// attachment bytes.
    #[test]
    fn rendered_messages_parse_back(m in arb_message()) {
        let r = mailmig_convert::sinks::mime::render_message(&m, mailmig_convert::sinks::mime::MessagePlace { mailbox_key: "k", seq: 0 }).unwrap();
        prop_assert!(r.bytes.is_ascii());
        let parsed = mail_parser::MessageParser::default().parse(&r.bytes).unwrap();
        let want_subject = m.subject.as_deref().map(|s| s.chars().map(|c| if c.is_control() && c != '\t' { ' ' } else { c }).collect::<String>());
        if want_subject.as_deref().is_some_and(|s| !s.trim().is_empty() && s == s.trim()) {
            prop_assert_eq!(parsed.subject().map(str::to_string), want_subject);
        }
        let data = m.attachments[0].data().unwrap().as_bytes();
        let name = m.attachments[0].name.as_deref().unwrap();
        if name == name.trim() {
            let got = mail_parser::MimeHeaders::attachment_name(parsed.attachment(0).unwrap());
            prop_assert_eq!(got, Some(name));
        }
        prop_assert_eq!(parsed.attachment(0).unwrap().contents(), data);
    }
}

/// The file sinks render straight into their files: the bytes are those `render_message`
/// gives (with the sink's line ends and framing), the byte count is reported, and a message
/// that cannot be rendered (nested too deep) leaves nothing behind: no EML or Maildir file, no
/// partial mbox entry, no number used up in EML.
#[test]
fn file_sinks_stream_and_unrenderable_messages_leave_nothing() {
    use mailmig_convert::sinks::mbox::{append_mboxrd, from_line};
    use mailmig_convert::sinks::mime::{MAX_EMBEDDING_DEPTH, MessagePlace, render_message};
    use mailmig_ir::{AttachmentKind, SinkError};
    let po = PostOffice {
        name: "p".into(),
        ..PostOffice::default()
    };
    let mb = MailboxInfo {
        key: "k".into(),
        display_name: "K".into(),
        ..MailboxInfo::default()
    };
    let big = Message {
        subject: Some("big".into()),
        body: mailmig_ir::Bodies {
            text: Some("From the start\r\n>From quoted\r\nplain\r\n".into()),
            ..mailmig_ir::Bodies::default()
        },
        attachments: vec![Attachment {
            name: Some("a.bin".into()),
            content: AttachmentContent::Data(Blob::from_vec(
                (0..300_000u32).map(|i| (i % 251) as u8).collect(),
            )),
            ..Attachment::default()
        }],
        ..Message::default()
    };
    let mut deep = Message::default();
    for _ in 0..=MAX_EMBEDDING_DEPTH + 1 {
        deep = Message {
            attachments: vec![Attachment {
                kind: AttachmentKind::EmbeddedMessage,
                content: AttachmentContent::Message(Box::new(deep)),
                ..Attachment::default()
            }],
            ..Message::default()
        };
    }
    // The unrenderable message still took sequence number 0 of the mailbox.
    let rendered = render_message(
        &big,
        MessagePlace {
            mailbox_key: "k",
            seq: 1,
        },
    )
    .unwrap();
    let lf = String::from_utf8(rendered.bytes.clone())
        .unwrap()
        .replace("\r\n", "\n");
    assert!(lf.contains("\nFrom the start\n"), "{lf}");
    let at = lf.find("\n\n").unwrap() + 1;
    let mut mbox_entry = Vec::new();
    append_mboxrd(
        &mut mbox_entry,
        &from_line(&big),
        format!("{}Status: O\n{}", &lf[..at], &lf[at..]).as_bytes(),
    );
    let hash: String = rendered.identity_hex(16);
    let cases: [(&str, &str, Vec<u8>); 3] = [
        ("eml", "Inbox/000001.eml", rendered.bytes.clone()),
        (
            "maildir",
            &format!("cur/000002.{hash}.mailmig:2,"),
            lf.clone().into_bytes(),
        ),
        ("mbox", "Inbox.mbox", mbox_entry.clone()),
    ];
    for (sink_name, file, want) in cases {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("k");
        std::fs::create_dir(&dir).unwrap();
        let sink = builtin_sink(sink_name).unwrap();
        let ctx = mailmig_ir::MailboxContext {
            post_office: &po,
            mailbox: &mb,
            folders: &[],
            dir_name: "k",
            no_mail: false,
        };
        let mut w = sink.open_mailbox(ctx, &dir).unwrap();
        assert!(matches!(
            w.write_message(&deep),
            Err(SinkError::Unrepresentable(_))
        ));
        w.write_message(&big).unwrap();
        assert!(matches!(
            w.write_message(&deep),
            Err(SinkError::Unrepresentable(_))
        ));
        let stats = w.finish().unwrap();
        let files = sinks_common::files(&dir);
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [file], "{sink_name}");
        let written = &files[0].1;
        assert!(
            written == &want,
            "{sink_name}: {}",
            String::from_utf8_lossy(written)
        );
        assert_eq!(stats.bytes, written.len() as u64, "{sink_name}");
        assert_eq!(stats.messages, 1, "{sink_name}");
    }
    // mboxrd quoting reached the body: its first line gained a `>`, the quoted one another.
    let entry = String::from_utf8(mbox_entry).unwrap();
    assert!(
        entry.contains("\n>From the start\n>>From quoted\n"),
        "{entry}"
    );
}

/// Reading several MiB of JSON Lines, as a directory or as one stream file, keeps about
/// `RELEASE_EVERY` of the file mapped (the reader releases its map as it goes), and reads the
/// same messages as a reader over the bytes in memory.
#[test]
fn reading_large_jsonl_releases_the_file_map() {
    let spec = mailmig_ir::synth::SynthSpec {
        users: 1,
        messages_per_user: 700,
        empty_user_every: 0,
        attachment_every: 2,
        body_bytes: 6000,
        attachment_bytes: 3000,
        ..mailmig_ir::synth::SynthSpec::default()
    };
    let source = mailmig_ir::synth::SynthSource::new(spec);
    let tmp = tempfile::tempdir().unwrap();
    convert(&source, &JsonlSink::new(), tmp.path(), false);
    let mut stream = std::fs::read(tmp.path().join("post_office.jsonl")).unwrap();
    let mailbox_files: Vec<PathBuf> = std::fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path().join("mailbox.jsonl"))
        .filter(|p| p.is_file())
        .collect();
    assert_eq!(mailbox_files.len(), 1);
    stream.extend(std::fs::read(&mailbox_files[0]).unwrap());
    let release = mailmig_ir::blob::RELEASE_EVERY;
    assert!(stream.len() > 4 * release, "{}", stream.len());
    let stream_path = tmp.path().join("whole.jsonl");
    std::fs::write(&stream_path, &stream).unwrap();
    let in_memory =
        JsonlSource::from_stream(Arc::new(stream), "whole.jsonl", &Default::default()).unwrap();
    let want = &read_all(&in_memory)[0].2;
    assert_eq!(want.len(), 700);
    for (input, suffix) in [
        (tmp.path().to_path_buf(), "mailbox.jsonl"),
        (stream_path.clone(), "whole.jsonl"),
    ] {
        let back = JsonlDriver.open(&[input], &OpenOptions::default()).unwrap();
        let mb = back.mailboxes()[0].clone();
        let mut messages = back
            .open_mailbox(&mb, &Budget::unlimited())
            .unwrap()
            .messages;
        let mut got: Vec<Message> = messages.by_ref().take(650).map(Result::unwrap).collect();
        #[cfg(target_os = "linux")]
        {
            let rss = mailmig_ir::blob::mapped_resident_bytes(suffix).unwrap();
            assert!(rss <= 2 * release as u64, "{rss} bytes of {suffix} mapped");
        }
        got.extend(messages.map(Result::unwrap));
        assert!(&got == want, "{suffix}: the messages differ");
    }
}

/// A large streamed attachment goes to the JSON Lines file as it is encoded: by the time its
/// source hands out the last piece, the base64 of the earlier pieces is already in the file
/// (nothing holds the line whole), the blob is never collected, and the file reads back to
/// the same bytes with the byte count reported.
#[test]
fn jsonl_writes_streamed_attachments_as_they_are_read() {
    use mailmig_ir::synth::{PatternPieces, write_mailbox};

    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("k");
    std::fs::create_dir(&dir).unwrap();
    let file = dir.join(mailmig_convert::sinks::jsonl::MAILBOX_FILE);
    let source = Arc::new(PatternPieces::new(64 * 1024, 80, Some(file.clone())));
    let (message, blob) = PatternPieces::message(source.clone(), "large.bin");
    let stats =
        write_mailbox(&JsonlSink::new(), &dir, "k", std::slice::from_ref(&message)).unwrap();
    assert!(blob.is_streamed(), "the attachment was collected whole");
    // The base64 of all pieces but the last (about 6.9 MB), less what the 64 KiB file buffer
    // may still hold.
    let encoded = source.bytes_before_last() * 4 / 3;
    assert!(source.watched() + 70_000 >= encoded, "{}", source.watched());
    let written = std::fs::read(&file).unwrap();
    assert_eq!(stats.bytes, written.len() as u64);
    let mut lines = written.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    lines.next();
    let record = mailmig_convert::jsonl::records::parse_line(lines.next().unwrap()).unwrap();
    let mailmig_convert::jsonl::records::Record::Message { message: back } = record else {
        panic!("not a message line");
    };
    let AttachmentContent::Data(data) = &back.attachments[0].content else {
        panic!("no attachment data");
    };
    assert!(data.as_bytes() == source.bytes().as_slice());
    assert_eq!(*back, message);
    assert!(lines.next().is_none());
}

/// A streamed attachment whose source fails while its line is written (the input changed
/// under the run) fails the write, as in the MIME writers, instead of leaving a line that
/// holds part of the data without a word. A failure left by another serialisation on the
/// thread does not fail the next message.
#[test]
fn jsonl_fails_a_message_whose_streamed_attachment_fails() {
    use mailmig_ir::synth::{BrokenPieces, write_mailbox};

    let broken = Message {
        attachments: vec![Attachment {
            content: AttachmentContent::Data(Blob::streamed(Arc::new(BrokenPieces))),
            ..Attachment::default()
        }],
        ..Message::default()
    };
    let tmp = tempfile::tempdir().unwrap();
    let (first, second) = (tmp.path().join("a"), tmp.path().join("b"));
    std::fs::create_dir(&first).unwrap();
    std::fs::create_dir(&second).unwrap();
    let e = write_mailbox(&JsonlSink::new(), &first, "a", &[broken])
        .unwrap_err()
        .to_string();
    assert!(e.contains("input changed"), "{e}");
    // A failure met by some other serialisation on this thread is not this message's.
    let partial = serde_json::to_string(&Blob::streamed(Arc::new(BrokenPieces))).unwrap();
    assert_eq!(partial, "\"MTIzNDU=\"");
    let stats = write_mailbox(&JsonlSink::new(), &second, "b", &[Message::default()]).unwrap();
    assert_eq!(stats.messages, 1);
}
