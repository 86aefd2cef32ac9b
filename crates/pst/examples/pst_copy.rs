//! Converts one PST/OST into a new Unicode PST through the IR: `PstSource` → `PstSink`.
//!
//! `cargo run -p mailmig-pst --example pst_copy -- IN.pst OUT.pst [--no-crypt] [--salvage]`
//!
//! A stand-in for `mailmig convert IN --to pst` used by `benches/peers/pst_roundtrip.py`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use mailmig_ir::{Budget, MailboxContext, OpenOptions, Sink, Source};
use mailmig_pst::PstSource;
use mailmig_pst::ndb::CryptMethod;
use mailmig_pst::write::sink::PstSink;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let files: Vec<&String> = args.iter().filter(|a| !a.starts_with("--")).collect();
    let (input, output) = (PathBuf::from(files[0]), PathBuf::from(files[1]));
    let mut opts = OpenOptions::default();
    opts.salvage = args.iter().any(|a| a == "--salvage");
    let crypt = if args.iter().any(|a| a == "--no-crypt") {
        CryptMethod::None
    } else {
        CryptMethod::Permute
    };
    let source = PstSource::open(&[input], &opts).unwrap();
    let sink = PstSink::new(crypt);
    let mb = source.mailboxes()[0].clone();
    let budget = Budget::new(None);
    let section = source.open_mailbox(&mb, &budget).unwrap();
    let dir = output.parent().unwrap_or(Path::new(".")).to_path_buf();
    let stem = output.file_stem().unwrap().to_string_lossy().into_owned();
    let _ = std::fs::remove_file(&output);
    let ctx = MailboxContext {
        post_office: source.post_office(),
        mailbox: &mb,
        folders: &section.folders,
        dir_name: &stem,
        no_mail: false,
    };
    let mut w = sink.open_mailbox(ctx, &dir).unwrap();
    let (mut ok, mut skipped) = (0u64, 0u64);
    for m in section.messages {
        match m {
            Ok(m) => {
                w.write_message(&m).unwrap();
                ok += 1;
            }
            Err(_) => skipped += 1,
        }
    }
    let stats = w.finish().unwrap();
    eprintln!(
        "{}: {ok} messages written ({skipped} skipped), {} attachments, {} bytes",
        output.display(),
        stats.attachments,
        stats.bytes
    );
}
