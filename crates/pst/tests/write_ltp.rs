//! The LTP builders of the writer against the reader, through real files written by the NDB
//! writer: multi-page heaps (past the first HNBITMAPHDR), multi-level BTHs, property values in
//! subnodes, nested object subnodes, large tables whose row matrix is a multi-block subnode,
//! and the named-property hash buckets against Outlook's own (Empty.pst).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::path::{Path, PathBuf};

use mailmig_ir::OpenOptions;
use mailmig_pst::ltp::nameid::PS_PUBLIC_STRINGS;
use mailmig_pst::ltp::{NodeRef, RawValue};
use mailmig_pst::ndb::CryptMethod;
use mailmig_pst::write::ltp::{
    MAX_HEAP_ALLOC, NameMapBuilder, PropData, PropEntry, PropName, SubnodeIds, TableRow, build_pc,
    build_tc,
};
use mailmig_pst::write::ndb::NdbWriter;
use mailmig_pst::write::{MAX_BLOCK_DATA, NodeContent};

/// Writes the nodes (NID, content) into a new PST and returns its path.
fn write_nodes(dir: &Path, nodes: Vec<(u32, NodeContent)>) -> PathBuf {
    let path = dir.join("ltp.pst");
    let mut w = NdbWriter::create(&path, CryptMethod::Permute).unwrap();
    for (nid, c) in nodes {
        w.add_node(nid, 0, c).unwrap();
    }
    w.finish().unwrap();
    path
}

fn value_of(i: u32) -> Vec<u8> {
    // Sizes cycle through inline-sized, heap-sized and subnode-sized values.
    let len = match i % 7 {
        0 => 5000,
        1 => 0,
        2 => 3580,
        3 => 3581,
        _ => (i as usize * 37) % 2400,
    };
    (0..len).map(|k| (k as u32 ^ i) as u8).collect()
}

#[test]
fn property_context_with_a_multi_level_bth_and_a_multi_page_heap() {
    let tmp = tempfile::tempdir().unwrap();
    // 1,000 binary properties: 1,000 eight-byte records need three BTH leaves (447 per
    // allocation) under one index level; the values fill about 150 heap pages.
    let mut props = Vec::new();
    for i in 0..1000u32 {
        props.push(PropEntry::new(((0x1000 + i) << 16) | 0x0102, value_of(i)));
    }
    props.push(PropEntry::new(0x0E07_0003, 0x11u32.to_le_bytes().to_vec()));
    props.push(PropEntry::new(0x0017_0002, 2u16.to_le_bytes().to_vec()));
    let mut subs = Vec::new();
    let mut ids = SubnodeIds::new();
    let blocks = build_pc(props, &mut subs, &mut ids).unwrap();
    assert!(blocks.len() > 136, "{} heap pages", blocks.len());
    assert!(blocks.iter().all(|b| b.len() <= MAX_BLOCK_DATA));
    let nsubs = subs.len();
    assert_eq!(
        nsubs,
        (0..1000)
            .filter(|i| value_of(*i).len() > MAX_HEAP_ALLOC)
            .count()
    );
    let path = write_nodes(
        tmp.path(),
        vec![(
            0x0020_0024,
            NodeContent {
                blocks,
                stream: None,
                subnodes: subs,
            },
        )],
    );

    let store = mailmig_pst::open_store(&path, &OpenOptions::default()).unwrap();
    let e = store.ndb().lookup_node(0x0020_0024).unwrap();
    let map = store.ndb().read_subnodes(e.bid_sub).unwrap();
    assert_eq!(map.len(), nsubs);
    let node = NodeRef::open(store.ndb(), e.bid_data, &map).unwrap();
    // BTH depth from the header allocation (hidUserRoot).
    let hdr = node.heap().get(node.heap().user_root).unwrap();
    assert_eq!(hdr[3], 1, "bIdxLevels");
    let pc = node.property_context().unwrap();
    assert_eq!(pc.len(), 1002);
    for i in 0..1000u32 {
        let p = pc
            .iter()
            .find(|p| p.tag == ((0x1000 + i) << 16) | 0x0102)
            .unwrap();
        assert_eq!(p.value.bytes().as_ref(), &value_of(i)[..], "property {i}");
    }
    let flags = pc.iter().find(|p| p.tag == 0x0E07_0003).unwrap();
    assert_eq!(flags.value, RawValue::Inline(0x11));
    let imp = pc.iter().find(|p| p.tag == 0x0017_0002).unwrap();
    assert_eq!(imp.value, RawValue::Inline(2));
}

#[test]
fn nested_object_subnodes() {
    let tmp = tempfile::tempdir().unwrap();
    // Three levels: each PC holds a PtypObject naming a subnode that is itself a PC.
    let mut inner: Option<(u32, NodeContent)> = None;
    for level in 0..3u32 {
        let mut props = vec![PropEntry::new(
            0x0037_001F,
            format!("level {level}")
                .encode_utf16()
                .flat_map(u16::to_le_bytes)
                .collect(),
        )];
        let mut subs = Vec::new();
        let mut ids = SubnodeIds::new();
        if let Some((_, content)) = inner.take() {
            let nid = ids.next(0x04).unwrap();
            props.push(PropEntry {
                tag: 0x3701_000D,
                data: PropData::Object {
                    nid,
                    size: 1234,
                    content,
                },
            });
        }
        let blocks = build_pc(props, &mut subs, &mut ids).unwrap();
        inner = Some((
            level,
            NodeContent {
                blocks,
                stream: None,
                subnodes: subs,
            },
        ));
    }
    let (_, top) = inner.unwrap();
    let path = write_nodes(tmp.path(), vec![(0x0020_0024, top)]);
    let store = mailmig_pst::open_store(&path, &OpenOptions::default()).unwrap();
    let ndb = store.ndb();
    let e = ndb.lookup_node(0x0020_0024).unwrap();
    let (mut bid_data, mut bid_sub) = (e.bid_data, e.bid_sub);
    for level in (0..3u32).rev() {
        let map = ndb.read_subnodes(bid_sub).unwrap();
        let node = NodeRef::open(ndb, bid_data, &map).unwrap();
        let pc = node.property_context().unwrap();
        let subject = pc.iter().find(|p| p.tag == 0x0037_001F).unwrap();
        let want: Vec<u8> = format!("level {level}")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(subject.value.bytes().as_ref(), &want[..]);
        match pc.iter().find(|p| p.tag == 0x3701_000D) {
            Some(obj) => {
                let b = obj.value.bytes();
                let nid = u32::from_le_bytes(b[..4].try_into().unwrap());
                assert_eq!(u32::from_le_bytes(b[4..8].try_into().unwrap()), 1234);
                let se = map[&nid];
                (bid_data, bid_sub) = (se.bid_data, se.bid_sub);
            }
            None => assert_eq!(level, 0),
        }
    }
}

#[test]
fn large_table_with_a_multi_block_row_matrix() {
    let tmp = tempfile::tempdir().unwrap();
    let cols = [
        0x0C15_0003u32,
        0x0039_0040,
        0x3001_001F,
        0x0E0F_000B,
        0x1000_001F,
    ];
    let n = 3000u32;
    let rows: Vec<TableRow> = (0..n)
        .map(|i| {
            let mut cells = vec![
                (0x0C15_0003, (i % 3 + 1).to_le_bytes().to_vec()),
                (
                    0x0039_0040,
                    (u64::from(i) * 10_000_000).to_le_bytes().to_vec(),
                ),
                (
                    0x3001_001F,
                    format!("Recipient {i}")
                        .encode_utf16()
                        .flat_map(u16::to_le_bytes)
                        .collect(),
                ),
            ];
            if i % 2 == 0 {
                cells.push((0x0E0F_000B, vec![1]));
            }
            if i % 500 == 0 {
                // A cell value larger than one heap allocation goes to a subnode.
                cells.push((0x1000_001F, [b'x', 0].repeat(3000)));
            }
            TableRow {
                row_id: i * 7,
                cells,
            }
        })
        .collect();
    let content = build_tc(&cols, &rows).unwrap();
    // Row matrix subnode plus the six oversized cells.
    assert_eq!(content.subnodes.len(), 7);
    let matrix = content
        .subnodes
        .iter()
        .find(|s| s.content.blocks.len() > 1)
        .unwrap();
    let last = matrix.content.blocks.len() - 1;
    assert!(
        matrix.content.blocks[..last]
            .iter()
            .all(|b| b.len() == MAX_BLOCK_DATA)
    );
    let path = write_nodes(tmp.path(), vec![(0x0000_802E, content)]);

    let store = mailmig_pst::open_store(&path, &OpenOptions::default()).unwrap();
    let e = store.ndb().lookup_node(0x802E).unwrap();
    let map = store.ndb().read_subnodes(e.bid_sub).unwrap();
    let node = NodeRef::open(store.ndb(), e.bid_data, &map).unwrap();
    let tc = node.table_context().unwrap();
    assert_eq!(tc.len(), n as usize);
    for r in 0..n as usize {
        let i = r as u32;
        assert_eq!(tc.row_id(r), Some(i * 7));
        assert_eq!(
            tc.cell(r, 0x0C15_0003).unwrap(),
            Some(RawValue::Inline(i % 3 + 1))
        );
        assert_eq!(
            tc.cell(r, 0x0039_0040).unwrap().unwrap().bytes().as_ref(),
            &(u64::from(i) * 10_000_000).to_le_bytes()[..]
        );
        let name: Vec<u8> = format!("Recipient {i}")
            .encode_utf16()
            .flat_map(u16::to_le_bytes)
            .collect();
        assert_eq!(
            tc.cell(r, 0x3001_001F).unwrap().unwrap().bytes().as_ref(),
            &name[..]
        );
        assert_eq!(
            tc.cell(r, 0x0E0F_000B).unwrap().is_some(),
            i.is_multiple_of(2)
        );
        match tc.cell(r, 0x1000_001F).unwrap() {
            Some(v) => {
                assert_eq!(i % 500, 0);
                assert_eq!(v.bytes().len(), 6000);
            }
            None => assert_ne!(i % 500, 0),
        }
    }
}

#[test]
fn empty_table_has_no_row_matrix() {
    let c = build_tc(&[0x3001_001F], &[]).unwrap();
    assert!(c.subnodes.is_empty());
    assert_eq!(c.blocks.len(), 1);
    // TCINFO is the first allocation: hnidRows (bytes 14..18) is 0.
    let b = &c.blocks[0];
    let ib = u16::from_le_bytes([b[0], b[1]]) as usize;
    let start = u16::from_le_bytes([b[ib + 4], b[ib + 5]]) as usize;
    assert_eq!(b[start], 0x7C);
    assert_eq!(&b[start + 14..start + 18], &[0, 0, 0, 0]);
}

/// GUID stream, entries (wPropIdx, GUID, name) and hash buckets of a name-to-id map.
type OutlookMap = (
    Vec<[u8; 16]>,
    Vec<(u16, [u8; 16], PropName)>,
    Vec<PropEntry>,
);

/// Outlook's name-to-id map from Empty.pst: GUID stream, entries (wPropIdx, GUID, name), buckets.
fn names_of_empty_pst() -> Option<OutlookMap> {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/pst/outlook-pst-rs_Empty.pst");
    let store = mailmig_pst::open_store(&path, &OpenOptions::default()).ok()?;
    let props = store.read_pc(0x61).ok()?;
    let get = |id: u16| {
        props
            .iter()
            .find(|p| p.id() == id)
            .map(|p| p.value.bytes().to_vec())
    };
    let guids: Vec<[u8; 16]> = get(2)?
        .chunks_exact(16)
        .map(|c| c.try_into().unwrap())
        .collect();
    let strings = get(4)?;
    let mut entries = Vec::new();
    for e in get(3)?.chunks_exact(8) {
        let pid = u32::from_le_bytes(e[..4].try_into().unwrap());
        let gk = u16::from_le_bytes([e[4], e[5]]);
        let idx = u16::from_le_bytes([e[6], e[7]]);
        let guid = match gk >> 1 {
            1 => mailmig_pst::ltp::nameid::PS_MAPI,
            2 => PS_PUBLIC_STRINGS,
            n => guids[usize::from(n - 3)],
        };
        let name = if gk & 1 == 1 {
            let o = pid as usize;
            let len = u32::from_le_bytes(strings[o..o + 4].try_into().unwrap()) as usize;
            let u: Vec<u16> = strings[o + 4..o + 4 + len]
                .chunks_exact(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]))
                .collect();
            PropName::Name(String::from_utf16(&u).unwrap())
        } else {
            PropName::Lid(pid)
        };
        entries.push((idx, guid, name));
    }
    let buckets = props
        .iter()
        .filter(|p| p.id() >= 0x1000)
        .map(|p| PropEntry::new(p.tag, p.value.bytes().to_vec()))
        .collect();
    Some((guids, entries, buckets))
}

#[test]
fn name_map_buckets_equal_outlooks() {
    let (guids, mut entries, buckets) = names_of_empty_pst().expect("corpus Empty.pst");
    assert!(
        entries.iter().any(|e| matches!(e.2, PropName::Name(_))),
        "string names present"
    );
    entries.sort_by_key(|e| e.0);
    assert!(
        entries
            .iter()
            .enumerate()
            .all(|(i, e)| usize::from(e.0) == i)
    );
    let mut b = NameMapBuilder::new();
    for g in guids {
        b.register_guid(g);
    }
    for (idx, g, n) in entries {
        assert_eq!(b.id_for(g, n).unwrap(), 0x8000 + idx);
    }
    let mine: Vec<PropEntry> = b
        .properties()
        .into_iter()
        .filter(|p| p.tag >> 16 >= 0x1000)
        .collect();
    // Bucket order within one bucket may differ: compare each bucket as a set of records.
    assert_eq!(mine.len(), buckets.len());
    for (m, o) in mine.iter().zip(&buckets) {
        assert_eq!(m.tag, o.tag);
        let recs = |p: &PropEntry| {
            let PropData::Bytes(b) = &p.data else {
                panic!()
            };
            let mut v: Vec<Vec<u8>> = b.chunks(8).map(<[u8]>::to_vec).collect();
            v.sort();
            v
        };
        assert_eq!(recs(m), recs(o), "bucket 0x{:04X}", m.tag >> 16);
    }
}

/// Once the store's 32,767 named-property ids are used up, a further named property is left
/// out (`None`), not an error that would lose the whole message; tagged properties still go.
#[test]
fn full_name_map_drops_the_property_not_the_message() {
    use mailmig_ir::{PropValue, Property};
    use mailmig_pst::write::ltp::{NameMapBuilder, PropName};
    use mailmig_pst::write::store::kept_property;
    let mut names = NameMapBuilder::new();
    let guid = mailmig_pst::ltp::nameid::PS_PUBLIC_STRINGS;
    for i in 0..0x7FFF {
        names.id_for(guid, PropName::Name(format!("n{i}"))).unwrap();
    }
    assert!(
        names
            .id_for(guid, PropName::Name("one more".into()))
            .is_err()
    );
    let named = Property::new("ccmail:X-Extra", PropValue::Text("v".into()));
    assert_eq!(kept_property(&named, &mut names).unwrap(), None);
    let tagged = Property::new("0x0037001F", PropValue::Text("subject".into()));
    assert!(kept_property(&tagged, &mut names).unwrap().is_some());
}
