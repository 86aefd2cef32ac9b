//! Conformance over the shared PST corpus (`shared/corpus/pst/`): for every file, mailmig must
//! find at least as many items, embedded messages and attachments as pffexport 20180714
//! (`expected_counts.tsv`). The tests fail when the corpus is missing.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use mailmig_ir::{Budget, Driver, OpenOptions};
use mailmig_pst::PstDriver;

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/corpus/pst")
}

#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Counts {
    items: u64,
    embedded: u64,
    attachments: u64,
    skipped: u64,
}

fn expected() -> HashMap<String, (Option<u64>, u64, u64)> {
    let text = std::fs::read_to_string(corpus_dir().join("expected_counts.tsv"))
        .expect("corpus missing: shared/corpus/pst/expected_counts.tsv must exist");
    let mut lines = text.lines().filter(|l| !l.starts_with('#'));
    let header: Vec<&str> = lines.next().expect("header").split('\t').collect();
    let col = |n: &str| header.iter().position(|h| *h == n).expect(n);
    let (f, i, e, a) = (
        col("file"),
        col("pffexport_items"),
        col("pffexport_embedded"),
        col("pffexport_attachments_all"),
    );
    let mut out = HashMap::new();
    for l in lines {
        let c: Vec<&str> = l.split('\t').collect();
        if c.len() <= a {
            continue;
        }
        out.insert(
            c[f].to_string(),
            (
                c[i].parse().ok(),
                c[e].parse().unwrap_or(0),
                c[a].parse().unwrap_or(0),
            ),
        );
    }
    out
}

fn count(path: &Path, salvage: bool) -> Counts {
    let mut opts = OpenOptions::default();
    opts.salvage = salvage;
    let src = PstDriver
        .open(&[path.to_path_buf()], &opts)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut c = Counts::default();
    for mb in src.mailboxes().to_vec() {
        let sec = src
            .open_mailbox(&mb, &Budget::unlimited())
            .expect("open mailbox");
        for m in sec.messages {
            match m {
                Ok(m) => {
                    c.items += 1;
                    let t = m.tally();
                    c.embedded += t.embedded_messages;
                    c.attachments += t.attachments;
                }
                Err(s) => {
                    eprintln!("{}: skipped {s}", path.display());
                    c.skipped += 1;
                }
            }
        }
    }
    c
}

#[test]
fn corpus_counts_at_least_pffexport() {
    let exp = expected();
    assert!(
        exp.len() >= 27,
        "expected_counts.tsv has {} rows",
        exp.len()
    );
    let mut names: Vec<&String> = exp.keys().collect();
    names.sort();
    let mut failures = Vec::new();
    eprintln!(
        "{:<48} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6}",
        "file", "items", "pff", "emb", "pff", "att", "pff"
    );
    for name in names {
        let (items, emb, att) = exp[name];
        let path = corpus_dir().join(name);
        assert!(path.exists(), "corpus file {} missing", path.display());
        // The bad-header file: peers refuse it; we read it in salvage mode (own test below).
        let Some(items) = items else { continue };
        let c = count(&path, false);
        eprintln!(
            "{name:<48} {:>6} {items:>6} {:>6} {emb:>6} {:>6} {att:>6}",
            c.items, c.embedded, c.attachments
        );
        if c.items < items || c.embedded < emb || c.attachments < att || c.skipped > 0 {
            failures.push(format!(
                "{name}: {c:?} vs pffexport ({items}, {emb}, {att})"
            ));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn bad_header_crc_strict_error_names_the_crc() {
    let path = corpus_dir().join("aspose_AddingBulkMessages_badheadercrc.pst");
    let err = match PstDriver.open(&[path], &OpenOptions::default()) {
        Ok(_) => panic!("strict open must fail"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("dwCRCPartial"), "{err}");
    assert!(
        err.contains("0x424C6DB2") || err.contains("stored"),
        "{err}"
    );
}

#[test]
fn bad_header_crc_salvage_yields_messages() {
    let path = corpus_dir().join("aspose_AddingBulkMessages_badheadercrc.pst");
    let c = count(&path, true);
    assert!(c.items > 0, "{c:?}");
    assert_eq!(c.skipped, 0);
}

#[test]
fn four_k_ost_yields_183_items() {
    let c = count(
        &corpus_dir().join("npm-pst-extractor_pstextractortest_4k.ost"),
        false,
    );
    assert!(c.items >= 183, "{c:?}");
}

fn messages(name: &str) -> Vec<mailmig_ir::Message> {
    let src = PstDriver
        .open(&[corpus_dir().join(name)], &OpenOptions::default())
        .unwrap();
    let mb = src.mailboxes()[0].clone();
    let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
    sec.messages.map(|m| m.unwrap()).collect()
}

#[test]
fn nested_embedded_messages_keep_their_chain() {
    let ms = messages("hht-pst-extractor_alpha-beta-gamma-delta.pst");
    let mut m = &ms[0];
    let mut chain = vec![m.subject.clone().unwrap()];
    while let Some(inner) = m.attachments.iter().find_map(|a| a.message()) {
        chain.push(inner.subject.clone().unwrap());
        m = inner;
    }
    assert_eq!(chain, ["Alpha", "Beta", "Gamma", "Delta"]);
    assert_eq!(m.attachments[0].name.as_deref(), Some("delta.png"));
    assert!(
        m.attachments[0]
            .data()
            .unwrap()
            .as_bytes()
            .starts_with(b"\x89PNG")
    );
}

#[test]
fn inline_attachment_has_content_id_and_mime_type() {
    let ms = messages("ruby-msg_attachAndInline.pst");
    let inline = ms[0]
        .attachments
        .iter()
        .find(|a| a.content_id.is_some())
        .unwrap();
    assert_eq!(inline.mime_type.as_deref(), Some("image/png"));
    assert!(inline.inline);
    assert!(ms[0].body.html.as_deref().unwrap().contains("cid:"));
}

#[test]
fn ansi_store_message_and_attachment() {
    let ms = messages("pstsdk_sample2.pst");
    assert_eq!(ms[0].subject.as_deref(), Some("Here is a sample message"));
    assert_eq!(
        ms[0].attachments[0].name.as_deref(),
        Some("leah_thumper.jpg")
    );
    assert!(
        ms[0].attachments[0]
            .data()
            .unwrap()
            .as_bytes()
            .starts_with(&[0xFF, 0xD8])
    );
}

#[test]
fn large_recipient_tables_are_read_whole() {
    let ms = messages("ruby-msg_200_recipients.pst");
    assert_eq!(ms[0].to.len() + ms[0].cc.len() + ms[0].bcc.len(), 200);
    let total: usize = messages("go-pst_support.pst")
        .iter()
        .map(|m| m.to.len() + m.cc.len() + m.bcc.len())
        .sum();
    assert_eq!(total, 1073);
}

#[test]
fn exchange_sender_resolves_to_smtp() {
    let ms = messages("tika_testPST_variousBodyTypes.pst");
    let from = ms[0].from.as_ref().unwrap();
    assert_eq!(from.addr_type.as_deref(), Some("EX"));
    assert_eq!(from.internet_address(), Some("tallison@mitre.org"));
    assert!(
        ms[0]
            .ids
            .message_id
            .as_deref()
            .unwrap()
            .ends_with("outlook.com")
    );
    assert!(ms.iter().any(|m| m.body.rtf.is_some()));
    assert!(
        ms.iter()
            .all(|m| m.ids.entry_id.as_ref().map(|e| e.len()) == Some(24))
    );
}

#[test]
fn driver_detects_and_inspects() {
    let path = corpus_dir().join("npm-pst-extractor_pstextractortest_4k.ost");
    let head = std::fs::read(&path).unwrap()[..4096].to_vec();
    let d = PstDriver.detect(&path, &head).unwrap();
    assert_eq!(d.confidence, 100);
    assert_eq!(d.summary, "OST, Unicode 4K-page (wVer 36), no encoding");
    let i = PstDriver.inspect(&path, &OpenOptions::default()).unwrap();
    assert_eq!(i.details["header"]["wVer"], 36);
    let total: u64 = i.details["folders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["messages"].as_u64().unwrap())
        .sum();
    assert!(total >= 183);
    let bad = corpus_dir().join("aspose_AddingBulkMessages_badheadercrc.pst");
    let i = PstDriver.inspect(&bad, &OpenOptions::default()).unwrap();
    assert!(i.findings.iter().any(|f| f.code == "pst.open-strict"));
    assert!(i.findings.iter().any(|f| f.code == "pst.roots-recovered"));
}

/// Damages a copy of a corpus file: the contents table of folder 0x80A2 points at a missing
/// block and every message's NBT parent names a folder that does not exist, so the messages
/// are reachable from no folder.
#[test]
fn orphans_are_recovered_in_salvage_mode_only() {
    let src_path = corpus_dir().join("tika_testPST_variousBodyTypes.pst");
    let mut bytes = std::fs::read(&src_path).unwrap();
    let store = mailmig_pst::open_store(&src_path, &OpenOptions::default()).unwrap();
    let patch = |bytes: &mut Vec<u8>, nid: u32, f: &dyn Fn(&mut [u8])| {
        let e = store.ndb().lookup_node(nid).unwrap();
        let mut pat = (nid as u64).to_le_bytes().to_vec();
        pat.extend_from_slice(&e.bid_data.to_le_bytes());
        pat.extend_from_slice(&e.bid_sub.to_le_bytes());
        // Stale copies of a leaf page may exist too: patch every copy.
        let hits: Vec<usize> = bytes
            .windows(pat.len())
            .enumerate()
            .filter(|(_, w)| *w == &pat[..])
            .map(|(i, _)| i)
            .collect();
        assert!(!hits.is_empty());
        for at in hits {
            f(&mut bytes[at..at + 32]);
        }
    };
    // Contents table 0x80AE: bidData → a BID that is not in the BBT.
    patch(&mut bytes, 0x80AE, &|e| {
        e[8..16].copy_from_slice(&0xFFF0u64.to_le_bytes())
    });
    let mut msgs = Vec::new();
    store
        .ndb()
        .walk_nodes(&mut |e| {
            if e.nid & 0x1F == 4 {
                msgs.push(e.nid);
            }
            true
        })
        .unwrap();
    assert_eq!(msgs.len(), 4);
    for n in &msgs {
        patch(&mut bytes, *n, &|e| {
            e[24..28].copy_from_slice(&0x7FFE2u32.to_le_bytes())
        });
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("orphans.pst");
    std::fs::write(&path, &bytes).unwrap();

    let strict = PstDriver
        .open(std::slice::from_ref(&path), &OpenOptions::default())
        .unwrap();
    let mb = strict.mailboxes()[0].clone();
    let sec = strict.open_mailbox(&mb, &Budget::unlimited()).unwrap();
    assert!(
        sec.warnings.iter().any(|w| w.code == "pst.orphans"),
        "{:?}",
        sec.warnings
    );
    assert_eq!(sec.messages.filter(|m| m.is_ok()).count(), 0);

    let mut opts = OpenOptions::default();
    opts.salvage = true;
    let salv = PstDriver.open(&[path], &opts).unwrap();
    let sec = salv.open_mailbox(&mb, &Budget::unlimited()).unwrap();
    assert!(
        sec.folders
            .iter()
            .any(|f| f.id == "orphans" && f.name == "Recovered (orphans)")
    );
    let got: Vec<_> = sec.messages.map(|m| m.unwrap()).collect();
    assert_eq!(got.len(), 4);
    for m in &got {
        assert_eq!(m.folder.as_deref(), Some("orphans"));
        assert!(m.warnings.iter().any(|w| w.code == "pst.orphan"));
        assert!(m.subject.is_some());
    }
}

#[test]
fn contact_keeps_named_properties() {
    let ms = messages("hht-pst-extractor_contacts.pst");
    let c = &ms[0];
    assert_eq!(c.class.kind(), mailmig_ir::ItemKind::Contact);
    let email = c
        .properties
        .iter()
        .find(|p| p.name == "{00062004-0000-0000-C000-000000000046}:0x8083")
        .expect("PidLidEmail1EmailAddress");
    assert!(
        matches!(&email.value, mailmig_ir::PropValue::Text(t) if t.contains('@')),
        "{email:?}"
    );
    assert!(
        c.properties
            .iter()
            .any(|p| p.name.starts_with("0x") && p.name.len() == 10)
    );
}

#[test]
fn reply_to_from_one_off_entry_ids() {
    let ms = messages("npm-pst-extractor_pstextractortest_4k.ost");
    assert!(
        ms.iter()
            .flat_map(|m| &m.reply_to)
            .any(|a| a.internet_address() == Some("epfromer@gmail.com"))
    );
}

/// Reads `m`'s streamed blobs (RTF body, attachments, nested messages) piece by piece, checking
/// each reads without error to its stated length; returns how many there were.
fn read_streamed(m: &mailmig_ir::Message) -> usize {
    use mailmig_ir::AttachmentContent;
    let mut blobs: Vec<&mailmig_ir::Blob> = m.body.rtf.iter().collect();
    let mut n = 0;
    for a in &m.attachments {
        match &a.content {
            AttachmentContent::Data(b) => blobs.push(b),
            AttachmentContent::Message(inner) => n += read_streamed(inner),
            AttachmentContent::None => {}
        }
    }
    for b in blobs.into_iter().filter(|b| b.is_streamed()) {
        let mut len = 0;
        b.pieces(&mut |p| {
            len += p.len();
            Ok(())
        })
        .expect("a streamed blob reads without error");
        assert_eq!(len, b.len());
        n += 1;
    }
    n
}

/// Every message of `path` read with data trees streamed from `streamed_min` bytes on.
fn store_messages(path: &Path, streamed_min: u64) -> Vec<mailmig_ir::Message> {
    let bytes: mailmig_ir::blob::SharedBytes = std::sync::Arc::new(std::fs::read(path).unwrap());
    let name = path.file_name().unwrap().to_string_lossy();
    let mut store =
        mailmig_pst::PstStore::open(bytes, &name, true, None, mailmig_ir::Limits::default())
            .unwrap();
    store.set_streamed_blob_min(streamed_min);
    let budget = Budget::unlimited();
    let tree = store.folder_tree(&budget).unwrap();
    mailmig_pst::MessageIter::new(&store, tree, budget)
        .map(|m| m.unwrap())
        .collect()
}

/// Streaming every XBLOCK/XXBLOCK data tree (threshold 0) reads the same messages, byte for
/// byte, as streaming none, on every corpus file. The files named at the end cover each way a
/// streamed block is decoded: cyclic encoding (`cheechNchong`), permute encoding
/// (`aspose_Chunks_Test_part1`) and the 4K-page OST's DEFLATE blocks (the `4k.ost`). The
/// `pst_ndb` fuzz target makes the same comparison on mutated files.
#[test]
fn streaming_every_data_tree_reads_the_same_messages() {
    let mut streamed_in: HashMap<String, usize> = HashMap::new();
    let mut files: Vec<PathBuf> = std::fs::read_dir(corpus_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| matches!(p.extension().and_then(|e| e.to_str()), Some("pst" | "ost")))
        .collect();
    files.sort();
    assert!(files.len() >= 20, "corpus missing: {} files", files.len());
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let streamed = store_messages(path, 0);
        let n: usize = streamed.iter().map(read_streamed).sum();
        let whole = store_messages(path, u64::MAX);
        assert!(whole.iter().all(|m| read_streamed(m) == 0), "{name}");
        assert_eq!(streamed.len(), whole.len(), "{name}");
        for (s, w) in streamed.iter().zip(&whole) {
            assert!(
                s == w,
                "{name}: a message differs when its data trees are streamed"
            );
        }
        streamed_in.insert(name, n);
    }
    eprintln!("streamed blobs per file: {streamed_in:?}");
    for name in [
        "npm-pst-extractor_pstextractortest_4k.ost",
        "pst2john_2003_high-encryption_cheechNchong.pst",
        "aspose_Chunks_Test_part1.pst",
    ] {
        assert!(
            streamed_in.get(name).copied().unwrap_or(0) > 0,
            "{name}: {streamed_in:?}"
        );
    }
}
