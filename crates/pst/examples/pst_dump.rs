//! Prints the folders and messages of PST/OST files as JSON lines (bodies and attachment data
//! shortened), for eyeballing what the reader decodes.
//!
//! `cargo run -p mailmig-pst --example pst_dump -- FILE.pst [--salvage]`

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use mailmig_ir::{AttachmentContent, Budget, Driver, Message, OpenOptions};
use mailmig_pst::PstDriver;

fn shorten(m: &mut Message) {
    for s in [&mut m.body.text, &mut m.body.html].into_iter().flatten() {
        if s.len() > 120 {
            let mut end = 120;
            while !s.is_char_boundary(end) {
                end -= 1;
            }
            s.truncate(end);
            s.push('…');
        }
    }
    m.body.rtf = m
        .body
        .rtf
        .take()
        .map(|r| mailmig_ir::Blob::from(&r.as_bytes()[..r.len().min(40)]));
    m.properties.clear();
    for a in &mut m.attachments {
        a.properties.clear();
        match &mut a.content {
            AttachmentContent::Data(b) => {
                *b = mailmig_ir::Blob::from(&b.as_bytes()[..b.len().min(16)])
            }
            AttachmentContent::Message(inner) => shorten(inner),
            AttachmentContent::None => {}
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut opts = OpenOptions::default();
    opts.salvage = args.iter().any(|a| a == "--salvage");
    let paths: Vec<std::path::PathBuf> = args
        .iter()
        .filter(|a| !a.starts_with("--"))
        .map(Into::into)
        .collect();
    let src = PstDriver.open(&paths, &opts).unwrap();
    for mb in src.mailboxes().to_vec() {
        println!("{}", serde_json::to_string(&mb).unwrap());
        let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
        for f in &sec.folders {
            println!("{}", serde_json::to_string(f).unwrap());
        }
        for w in &sec.warnings {
            println!("WARN {w}");
        }
        for m in sec.messages {
            match m {
                Ok(mut m) => {
                    shorten(&mut m);
                    println!("{}", serde_json::to_string(&m).unwrap());
                }
                Err(s) => println!("SKIP {s}"),
            }
        }
    }
}
