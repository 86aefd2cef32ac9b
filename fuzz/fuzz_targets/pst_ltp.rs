//! Fuzzes the PST LTP layer on raw heap bytes: HN page maps, BTH, property context, table
//! context (rows and cells, and the streamed row ids checked against them) and the
//! named-property map. The first byte chooses how many heap blocks the rest is split into.
#![no_main]

use std::borrow::Cow;

use libfuzzer_sys::fuzz_target;
use mailmig_pst::ltp::NodeRef;
use mailmig_pst::ltp::nameid::NameMap;
use mailmig_pst::ndb::{Ndb, SubnodeMap};

fuzz_target!(|data: &[u8]| {
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let parts = usize::from(n % 4) + 1;
    let size = rest.len().div_ceil(parts).max(1);
    let blocks: Vec<Cow<'_, [u8]>> = rest.chunks(size).map(Cow::Borrowed).collect();
    let ndb = Ndb::detached();
    let subs = SubnodeMap::new();
    let Ok(node) = NodeRef::from_blocks(&ndb, blocks, &subs) else {
        return;
    };
    if let Ok(props) = node.property_context() {
        let _ = NameMap::from_props(&props);
        for p in &props {
            let _ = mailmig_pst::messaging::props::to_prop_value(p, 1252);
        }
    }
    if let Ok(tc) = node.table_context() {
        for r in 0..tc.len().min(1000) {
            let _ = tc.row(r);
            let _ = tc.row_id(r);
        }
        // The streamed row ids (folder message lists) must be the table context's.
        let ids: Vec<u32> = (0..tc.len()).filter_map(|r| tc.row_id(r)).collect();
        if let Ok(streamed) = node.table_row_ids(&mut || {}) {
            assert_eq!(streamed, ids);
        }
    }
});
