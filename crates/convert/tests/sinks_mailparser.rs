//! Re-parses EML, mbox and Maildir output of the sample with the `mail-parser` crate (its
//! own mbox and Maildir++ readers, so mboxrd un-quoting and Maildir++ folders are checked by
//! an independent implementation) and compares subject, sender, body text, attachment bytes,
//! embedded messages and the `X-Mailmig-*` ids with the IR.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod sinks_common;

use std::collections::HashMap;

use mail_parser::{MessageParser, MimeHeaders};
use mailmig_convert::sinks::builtin_sink;
use mailmig_ir::{AttachmentContent, Message};
use sinks_common::{convert, dir_name, files, read_all, sample_source};

fn norm(s: &str) -> String {
    s.replace("\r\n", "\n")
}

fn header_text<'a>(m: &'a mail_parser::Message<'a>, name: &'a str) -> Option<&'a str> {
    m.header(name).and_then(|h| h.as_text())
}

fn check(ir: &Message, parsed: &mail_parser::Message<'_>, ctx: &str) {
    assert_eq!(parsed.subject(), ir.subject.as_deref(), "{ctx}: subject");
    if let Some(name) = ir.from.as_ref().and_then(|a| a.name.as_deref()) {
        let from = parsed.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.name(), Some(name), "{ctx}: from name");
    }
    if let Some(addr) = ir.from.as_ref().and_then(|a| a.internet_address()) {
        let from = parsed.from().and_then(|a| a.first()).unwrap();
        assert_eq!(from.address(), Some(addr), "{ctx}: from address");
    }
    if let Some(text) = &ir.body.text {
        assert_eq!(
            parsed.body_text(0).map(|t| norm(&t)),
            Some(norm(text)),
            "{ctx}: body"
        );
    }
    assert_eq!(
        header_text(parsed, "X-Mailmig-Source-Id"),
        ir.ids.native.as_deref(),
        "{ctx}: X-Mailmig-Source-Id"
    );
    if let Some(folder) = &ir.folder {
        assert_eq!(
            header_text(parsed, "X-Mailmig-Folder-Id"),
            Some(folder.as_str()),
            "{ctx}: folder id"
        );
    }
    if let Some(e) = &ir.ids.entry_id {
        let hex: String = e.as_bytes().iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(
            header_text(parsed, "X-Mailmig-Entry-Id"),
            Some(hex.as_str()),
            "{ctx}: entry id"
        );
    }
    if let Some(mid) = &ir.ids.message_id {
        assert_eq!(
            parsed.message_id(),
            Some(mid.trim_matches(['<', '>'])),
            "{ctx}: Message-ID"
        );
    }
    for a in &ir.attachments {
        let part = parsed
            .attachments()
            .find(|p| p.attachment_name() == a.name.as_deref())
            .unwrap_or_else(|| panic!("{ctx}: attachment {:?} missing", a.name));
        match &a.content {
            AttachmentContent::Data(b) => assert_eq!(
                part.contents(),
                b.as_bytes(),
                "{ctx}: bytes of {:?}",
                a.name
            ),
            AttachmentContent::Message(m) => {
                check(m, part.message().unwrap(), &format!("{ctx} embedded"))
            }
            AttachmentContent::None => {}
        }
    }
}

fn by_native(ir: &[Message]) -> HashMap<&str, &Message> {
    ir.iter()
        .map(|m| (m.ids.native.as_deref().unwrap(), m))
        .collect()
}

fn parse_and_check(ir: &HashMap<&str, &Message>, raw: &[u8], ctx: &str) -> String {
    let parsed = MessageParser::default().parse(raw).unwrap();
    let native = header_text(&parsed, "X-Mailmig-Source-Id")
        .unwrap()
        .to_string();
    check(ir[native.as_str()], &parsed, &format!("{ctx} {native}"));
    native
}

fn output(
    kind: &str,
) -> (
    tempfile::TempDir,
    Vec<(mailmig_ir::MailboxInfo, Vec<Message>)>,
) {
    let source = sample_source();
    let ir = read_all(&source)
        .into_iter()
        .map(|(i, _, m)| (i, m))
        .collect();
    let tmp = tempfile::tempdir().unwrap();
    convert(
        &source,
        builtin_sink(kind).unwrap().as_ref(),
        tmp.path(),
        false,
    );
    (tmp, ir)
}

#[test]
fn mail_parser_reads_eml_output() {
    let (tmp, ir) = output("eml");
    for (info, msgs) in &ir {
        let map = by_native(msgs);
        let dir = tmp.path().join(dir_name(&info.key));
        let mut seen = Vec::new();
        for (rel, bytes) in files(&dir) {
            assert!(rel.ends_with(".eml"), "{rel}");
            seen.push(parse_and_check(&map, &bytes, &rel));
        }
        assert_eq!(seen.len(), msgs.len(), "{}", info.key);
    }
}

#[test]
fn mail_parser_reads_mbox_output() {
    let (tmp, ir) = output("mbox");
    for (info, msgs) in &ir {
        let map = by_native(msgs);
        let dir = tmp.path().join(dir_name(&info.key));
        let mut count = 0;
        for (rel, bytes) in files(&dir) {
            for item in mail_parser::mailbox::mbox::MessageIterator::new(&bytes[..]) {
                let item = item.unwrap();
                // mail-parser keeps the empty separator line (RFC 4155) as part of the message.
                let raw = item.contents();
                let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
                parse_and_check(&map, raw, &rel);
                count += 1;
            }
        }
        assert_eq!(count, msgs.len(), "{}", info.key);
    }
}

#[test]
fn mail_parser_reads_maildir_output() {
    let (tmp, ir) = output("maildir");
    for (info, msgs) in &ir {
        let map = by_native(msgs);
        let dir = tmp.path().join(dir_name(&info.key));
        let mut folders = Vec::new();
        let mut count = 0;
        for folder in mail_parser::mailbox::maildir::FolderIterator::new(&dir, Some(".")).unwrap() {
            let folder = folder.unwrap();
            folders.push(folder.name().map(str::to_string));
            for item in folder {
                let item = item.unwrap();
                let native =
                    parse_and_check(&map, item.contents(), &item.path().display().to_string());
                let flags = item.flags();
                assert_eq!(
                    flags.contains(&mail_parser::mailbox::maildir::Flag::Seen),
                    map[native.as_str()].flags.read,
                    "{native}: S flag"
                );
                count += 1;
            }
        }
        assert_eq!(count, msgs.len(), "{}", info.key);
        assert!(folders.contains(&None), "{}: INBOX", info.key);
    }
}
