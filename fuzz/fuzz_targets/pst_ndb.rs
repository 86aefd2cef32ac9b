//! Fuzzes the PST NDB layer and everything above it: header, root recovery, NBT/BBT walks,
//! blocks, data and subnode trees, then the folder tree and the first messages.
//!
//! The messages are read twice: once with every XBLOCK/XXBLOCK data tree streamed
//! (`set_streamed_blob_min(0)`), once with none streamed. Every streamed blob must read back
//! without error and at its stated length (the reader checks everything that can fail before
//! it hands one out), and the two readings must give the same messages.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailmig_ir::{AttachmentContent, Budget, Limits, Message};
use mailmig_pst::PstStore;

/// Reads every streamed blob of `m` (attachments, nested messages and the RTF body) piece by
/// piece: each must read without error to its stated length.
fn read_streamed(m: &Message) {
    let mut blobs: Vec<&mailmig_ir::Blob> = m.body.rtf.iter().collect();
    for a in &m.attachments {
        match &a.content {
            AttachmentContent::Data(b) => blobs.push(b),
            AttachmentContent::Message(inner) => read_streamed(inner),
            AttachmentContent::None => {}
        }
    }
    for b in blobs.into_iter().filter(|b| b.is_streamed()) {
        let mut n = 0usize;
        let read = b.pieces(&mut |p| {
            n += p.len();
            Ok(())
        });
        assert!(
            read.is_ok(),
            "a checked streamed blob failed to read: {read:?}"
        );
        assert_eq!(
            n,
            b.len(),
            "a streamed blob read a length other than its own"
        );
    }
}

/// `m` without its warnings, at every level, for comparing two readings.
fn without_warnings(mut m: Message) -> Message {
    m.warnings.clear();
    for a in &mut m.attachments {
        if let AttachmentContent::Message(inner) = &mut a.content {
            **inner = without_warnings(std::mem::take(&mut **inner));
        }
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let bytes: mailmig_ir::blob::SharedBytes = Arc::new(data.to_vec());
    let Ok(mut store) = PstStore::open(bytes.clone(), "fuzz.pst", true, None, Limits::strict())
    else {
        return;
    };
    store.set_streamed_blob_min(0);
    let ndb = store.ndb();
    let mut nodes = Vec::new();
    let _ = ndb.walk_nodes(&mut |e| {
        nodes.push(e);
        nodes.len() < 200
    });
    let _ = ndb.walk_blocks(&mut |_| true);
    for e in nodes.iter().take(50) {
        let _ = ndb.lookup_node(e.nid);
        let _ = ndb.read_data_tree(e.bid_data);
        let _ = ndb.read_subnodes(e.bid_sub);
    }
    let budget = Budget::new(Some(std::time::Duration::from_secs(2)));
    let Ok(tree) = store.folder_tree(&budget) else {
        return;
    };
    let streamed: Vec<_> = mailmig_pst::MessageIter::new(&store, tree, budget)
        .take(20)
        .collect();
    for m in streamed.iter().flatten() {
        read_streamed(m);
    }
    let Ok(mut whole_store) = PstStore::open(bytes, "fuzz.pst", true, None, Limits::strict())
    else {
        return;
    };
    whole_store.set_streamed_blob_min(u64::MAX);
    let budget = Budget::new(Some(std::time::Duration::from_secs(2)));
    let Ok(tree) = whole_store.folder_tree(&budget) else {
        return;
    };
    let whole = mailmig_pst::MessageIter::new(&whole_store, tree, budget).take(20);
    for (s, w) in streamed.into_iter().zip(whole) {
        if let (Ok(s), Ok(w)) = (s, w) {
            assert_eq!(without_warnings(s), without_warnings(w));
        }
    }
});
