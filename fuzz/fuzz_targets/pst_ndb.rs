//! Fuzzes the PST NDB layer and everything above it: header, root recovery, NBT/BBT walks,
//! blocks, data and subnode trees, then the folder tree and the first messages.
#![no_main]

use std::sync::Arc;

use libfuzzer_sys::fuzz_target;
use mailmig_ir::{Budget, Limits};
use mailmig_pst::PstStore;

fuzz_target!(|data: &[u8]| {
    let bytes: mailmig_ir::blob::SharedBytes = Arc::new(data.to_vec());
    let Ok(store) = PstStore::open(bytes, "fuzz.pst", true, None, Limits::strict()) else {
        return;
    };
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
    if let Ok(tree) = store.folder_tree(&budget) {
        for m in mailmig_pst::MessageIter::new(&store, tree, budget).take(20) {
            let _ = m;
        }
    }
});
