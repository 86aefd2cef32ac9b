//! `OpenOptions::skip_properties`, set by `convert` when the output has nowhere to put source
//! properties (EML, mbox, Maildir): every `properties` list stays empty (messages,
//! recipients, attachments, embedded messages), and everything else is read exactly as
//! without it. Over the redistributable samples in the repository's `corpus/pst/`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::path::{Path, PathBuf};

use mailmig_ir::{Address, AttachmentContent, Budget, Driver, Message, OpenOptions};
use mailmig_pst::PstDriver;

fn sample(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../corpus/pst")
        .join(name)
}

fn read(path: &Path, skip_properties: bool) -> Vec<Message> {
    let mut opts = OpenOptions::default();
    opts.skip_properties = skip_properties;
    let src = PstDriver
        .open(&[path.to_path_buf()], &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut out = Vec::new();
    for mb in src.mailboxes().to_vec() {
        let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
        out.extend(sec.messages.map(|m| m.unwrap()));
    }
    out
}

fn addresses(m: &mut Message) -> impl Iterator<Item = &mut Address> {
    m.from
        .iter_mut()
        .chain(m.sender.iter_mut())
        .chain(m.to.iter_mut())
        .chain(m.cc.iter_mut())
        .chain(m.bcc.iter_mut())
        .chain(m.reply_to.iter_mut())
}

/// Properties held by a message at every level, by where they sit: message, recipient,
/// attachment.
fn tally(m: &Message, t: &mut [usize; 3]) {
    let mut m = m.clone();
    t[0] += m.properties.len();
    t[1] += addresses(&mut m).map(|a| a.properties.len()).sum::<usize>();
    for a in &m.attachments {
        t[2] += a.properties.len();
        if let AttachmentContent::Message(inner) = &a.content {
            tally(inner, t);
        }
    }
}

fn clear(m: &mut Message) {
    m.properties.clear();
    addresses(m).for_each(|a| a.properties.clear());
    for a in &mut m.attachments {
        a.properties.clear();
        if let AttachmentContent::Message(inner) = &mut a.content {
            clear(inner);
        }
    }
}

#[test]
fn skipped_properties_are_the_only_difference() {
    let mut seen = [0usize; 3];
    for name in [
        "ruby-msg_msgInMsg.pst",
        "ruby-msg_attachAndInline.pst",
        "ruby-msg_200_recipients.pst",
        "hht-pst-extractor_contacts.pst",
    ] {
        let path = sample(name);
        let full = read(&path, false);
        let skipped = read(&path, true);
        assert!(!full.is_empty(), "{name}: no messages");
        let mut left = [0usize; 3];
        skipped.iter().for_each(|m| tally(m, &mut left));
        assert_eq!(left, [0; 3], "{name}: properties left");
        full.iter().for_each(|m| tally(m, &mut seen));
        let mut cleared = full;
        cleared.iter_mut().for_each(clear);
        assert_eq!(cleared, skipped, "{name}");
    }
    // The samples have properties at every level, so the comparison above means something.
    assert!(seen.iter().all(|&n| n > 0), "{seen:?}");
}
