//! The NDB writer (`write::ndb::NdbWriter`) against the NDB reader (`ndb::Ndb`) and against
//! independent parsers written here: header CRCs recomputed with a bitwise CRC, B-tree pages
//! walked and checked field by field, AMap/PMap/FMap pages parsed and compared with the
//! slots the blocks and pages really occupy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

use mailmig_ir::Limits;
use mailmig_ir::blob::SharedBytes;
use mailmig_pst::ndb::{CryptMethod, Ndb};
use mailmig_pst::write::ndb::{NdbSummary, NdbWriter};
use mailmig_pst::write::{MAX_BLOCK_DATA, NodeContent, SubnodeContent, WriteError};
use proptest::prelude::*;

const AMAP_SPAN: u64 = 253_952;
const FIRST_AMAP: u64 = 0x4400;

// ---------------------------------------------------------------------------------------
// helpers

/// Deterministic pseudo-random bytes (xorshift64).
fn bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut v = Vec::with_capacity(len + 8);
    while v.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.truncate(len);
    v
}

fn blocks(seed: u64, sizes: &[usize]) -> Vec<Vec<u8>> {
    sizes
        .iter()
        .enumerate()
        .map(|(i, &n)| bytes(seed.wrapping_mul(1000).wrapping_add(i as u64), n))
        .collect()
}

struct Written {
    _dir: tempfile::TempDir,
    path: PathBuf,
    summary: NdbSummary,
    data: Vec<u8>,
}

fn write(nodes: &[(u32, u32, NodeContent)], crypt: CryptMethod) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.pst");
    let mut w = NdbWriter::create(&path, crypt).unwrap();
    for (nid, parent, c) in nodes {
        w.add_node(*nid, *parent, c.clone()).unwrap();
    }
    let summary = w.finish().unwrap();
    let data = std::fs::read(&path).unwrap();
    assert_eq!(data.len() as u64, summary.file_size);
    Written {
        _dir: dir,
        path,
        summary,
        data,
    }
}

fn open(data: &[u8]) -> Ndb {
    let shared: SharedBytes = Arc::new(data.to_vec());
    // Strict mode: a header CRC mismatch is an error, not a warning.
    Ndb::open(shared, "out.pst", false, Limits::default()).unwrap()
}

fn le16(d: &[u8], o: usize) -> u16 {
    u16::from_le_bytes(d[o..o + 2].try_into().unwrap())
}
fn le32(d: &[u8], o: usize) -> u32 {
    u32::from_le_bytes(d[o..o + 4].try_into().unwrap())
}
fn le64(d: &[u8], o: usize) -> u64 {
    u64::from_le_bytes(d[o..o + 8].try_into().unwrap())
}

/// MS-PST CRC computed bit by bit (reflected polynomial 0xEDB88320, initial 0, no final XOR),
/// independent of the crate's table-driven `pst_crc`.
fn crc_bitwise(data: &[u8]) -> u32 {
    let mut c: u32 = 0;
    for &b in data {
        c ^= u32::from(b);
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    c
}

fn sig(ib: u64, bid: u64) -> u16 {
    let x = (ib ^ bid) as u32;
    ((x >> 16) ^ (x & 0xFFFF)) as u16
}

/// Checks the content the reader finds for (`bid_data`, `bid_sub`) equals `c`, block by
/// block and subnode by subnode, recursively.
fn check_content(ndb: &Ndb, bid_data: u64, bid_sub: u64, c: &NodeContent) {
    if c.blocks.is_empty() {
        assert_eq!(bid_data, 0);
    } else {
        let parts = ndb.read_data_tree(bid_data).unwrap();
        assert_eq!(parts.len(), c.blocks.len(), "block count");
        for (got, want) in parts.iter().zip(&c.blocks) {
            assert_eq!(&got[..], &want[..], "block bytes");
        }
        assert_eq!(
            bid_data & 2 != 0,
            c.blocks.len() > 1,
            "internal bit of bidData"
        );
    }
    let subs = ndb.read_subnodes(bid_sub).unwrap();
    assert_eq!(subs.len(), c.subnodes.len(), "subnode count");
    if c.subnodes.is_empty() {
        assert_eq!(bid_sub, 0);
    }
    for s in &c.subnodes {
        let e = subs.get(&s.nid).expect("subnode present");
        check_content(ndb, e.bid_data, e.bid_sub, &s.content);
    }
}

/// A B-tree page as parsed here, independently of the reader.
struct TreeInfo {
    /// Leaf entries (raw bytes, `cbEnt` long) in key order.
    leaves: Vec<Vec<u8>>,
    /// File offsets of every page of the tree.
    pages: Vec<u64>,
    /// `cLevel` of the root.
    root_level: u8,
}

/// Walks a B-tree from its root page checking every field: trailer (`ptype` twice, `wSig`,
/// CRC, BID), `cEnt` ≤ `cEntMax` = 488 / `cbEnt`, `cbEnt`, child `cLevel`, key order, and
/// that each BTENTRY key equals the first key of its child.
fn walk_tree(d: &[u8], bid: u64, ib: u64, ptype: u8) -> TreeInfo {
    let mut info = TreeInfo {
        leaves: Vec::new(),
        pages: Vec::new(),
        root_level: d[ib as usize + 491],
    };
    walk_page(d, bid, ib, ptype, None, &mut info);
    // Keys strictly ascending across all leaves.
    let keys: Vec<u64> = info.leaves.iter().map(|e| le64(e, 0)).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "leaf keys ascending");
    info
}

fn walk_page(
    d: &[u8],
    bid: u64,
    ib: u64,
    ptype: u8,
    want_level: Option<u8>,
    info: &mut TreeInfo,
) -> u64 {
    assert_eq!(ib % 512, 0, "page aligned");
    let p = &d[ib as usize..ib as usize + 512];
    assert_eq!(p[496], ptype, "ptype");
    assert_eq!(p[497], ptype, "ptypeRepeat");
    assert_eq!(le16(p, 498), sig(ib, bid), "page wSig");
    assert_eq!(le32(p, 500), crc_bitwise(&p[..496]), "page CRC");
    assert_eq!(le64(p, 504), bid, "page bid");
    let (cent, cmax, cbent, level) = (p[488] as usize, p[489] as usize, p[490] as usize, p[491]);
    if let Some(w) = want_level {
        assert_eq!(level, w, "child cLevel");
    }
    let want_cb = if level > 0 {
        24
    } else if ptype == 0x81 {
        32
    } else {
        24
    };
    assert_eq!(cbent, want_cb, "cbEnt");
    assert_eq!(cmax, 488 / cbent, "cEntMax");
    assert!(cent <= cmax);
    assert!(
        cent > 0 || info.pages.is_empty(),
        "only an empty root may be empty"
    );
    info.pages.push(ib);
    let mut first = 0u64;
    for i in 0..cent {
        let e = &p[i * cbent..(i + 1) * cbent];
        let key = le64(e, 0);
        if i == 0 {
            first = key;
        }
        if level == 0 {
            info.leaves.push(e.to_vec());
        } else {
            let child_first = walk_page(d, le64(e, 8), le64(e, 16), ptype, Some(level - 1), info);
            assert_eq!(key, child_first, "BTENTRY btkey = first key of the child");
        }
    }
    first
}

/// Fixed map pages at the start of AMap region `k`, as offsets (derived here from MS-PST's
/// intervals: PMap every 8 regions, FMap from region 128 every 496, FPMap from region 8192
/// every 31,744).
fn fixed_pages(k: u64) -> Vec<(u64, u8)> {
    let rs = FIRST_AMAP + k * AMAP_SPAN;
    let mut v = vec![(rs, 0x84u8)];
    if k.is_multiple_of(8) {
        v.push((rs + 512, 0x83));
    }
    if k >= 128 && (k - 128).is_multiple_of(496) {
        v.push((rs + 1024, 0x82));
    }
    if k >= 8192 && (k - 8192).is_multiple_of(31744) {
        v.push((rs + 1024, 0x85));
    }
    v
}

/// Everything checked on every written file. Returns the reader for further checks.
fn verify(w: &Written, nodes: &[(u32, u32, NodeContent)], crypt: CryptMethod) -> Ndb {
    let d = &w.data;
    // ---- header, parsed here field by field
    assert_eq!(&d[0..4], b"!BDN"); // dwMagic
    assert_eq!(le32(d, 4), crc_bitwise(&d[8..479]), "dwCRCPartial");
    assert_eq!(&d[8..10], b"SM"); // wMagicClient
    assert_eq!(le16(d, 10), 23); // wVer
    assert_eq!(le16(d, 12), 19); // wVerClient
    assert_eq!(&d[14..16], &[1, 1]); // bPlatformCreate, bPlatformAccess
    let eof = le64(d, 184);
    assert_eq!(eof, d.len() as u64, "ibFileEof");
    assert_eq!(
        (eof - FIRST_AMAP) % AMAP_SPAN,
        0,
        "file ends at a region end"
    );
    let regions = (eof - FIRST_AMAP) / AMAP_SPAN;
    assert_eq!(
        le64(d, 192),
        FIRST_AMAP + (regions - 1) * AMAP_SPAN,
        "ibAMapLast"
    );
    assert_eq!(le64(d, 208), 0, "cbPMapFree");
    assert_eq!(d[248], 2, "fAMapValid");
    assert!(d[256..512].iter().all(|&b| b == 0xFF), "rgbFM/rgbFP");
    assert_eq!(d[512], 0x80, "bSentinel");
    let want_crypt = if crypt == CryptMethod::Permute { 1 } else { 0 };
    assert_eq!(d[513], want_crypt, "bCryptMethod");
    assert_eq!(le32(d, 524), crc_bitwise(&d[8..524]), "dwCRCFull");

    // ---- the reader: no warnings, every node with its parent and its content
    let ndb = open(d);
    assert_eq!(ndb.header().crypt, crypt);
    for (nid, parent, c) in nodes {
        let e = ndb.lookup_node(*nid).unwrap();
        assert_eq!(e.parent, *parent, "parent of 0x{nid:X}");
        check_content(&ndb, e.bid_data, e.bid_sub, c);
    }
    let mut walked = 0u64;
    ndb.walk_nodes(&mut |_| {
        walked += 1;
        true
    })
    .unwrap();
    assert_eq!(walked, nodes.len() as u64);
    assert_eq!(walked, w.summary.nodes);

    // ---- the two B-trees, parsed here
    let nbt = walk_tree(d, le64(d, 216), le64(d, 224), 0x81);
    let bbt = walk_tree(d, le64(d, 232), le64(d, 240), 0x80);
    assert_eq!(nbt.leaves.len() as u64, w.summary.nodes);
    assert_eq!(bbt.leaves.len() as u64, w.summary.blocks);
    assert_eq!(nbt.root_level, w.summary.nbt_levels);
    assert_eq!(bbt.root_level, w.summary.bbt_levels);
    let mut max_bid = 0;
    let mut slots: BTreeSet<u64> = BTreeSet::new();
    for e in &bbt.leaves {
        let (bid, ib, cb, cref) = (le64(e, 0), le64(e, 8), le16(e, 16), le16(e, 18));
        assert_eq!(cref, 2, "cRef");
        assert_eq!(bid & 1, 0, "bit 0 of a BID is zero");
        max_bid = max_bid.max(bid);
        assert_eq!(ib % 64, 0, "block aligned");
        let total = (u64::from(cb) + 16).div_ceil(64) * 64;
        assert!(total <= 8192);
        // Trailer: cb, wSig, CRC of the stored bytes, bid.
        let t = (ib + total - 16) as usize;
        assert_eq!(le16(d, t), cb);
        assert_eq!(le16(d, t + 2), sig(ib, bid), "block wSig");
        assert_eq!(
            le32(d, t + 4),
            crc_bitwise(&d[ib as usize..ib as usize + cb as usize])
        );
        assert_eq!(le64(d, t + 8), bid);
        // Same region start and end: never straddles an AMap page.
        let k = (ib - FIRST_AMAP) / AMAP_SPAN;
        assert_eq!(
            k,
            (ib + total - 1 - FIRST_AMAP) / AMAP_SPAN,
            "block straddles a region"
        );
        for s in 0..total / 64 {
            assert!(slots.insert((ib - FIRST_AMAP) / 64 + s), "slot used twice");
        }
    }
    assert_eq!(le64(d, 516), max_bid + 4 - (max_bid & 2), "bidNextB");
    for &p in nbt.pages.iter().chain(&bbt.pages) {
        for s in 0..8 {
            assert!(
                slots.insert((p - FIRST_AMAP) / 64 + s),
                "page slot used twice"
            );
        }
    }
    // ---- maps: every AMap bit equals "slot used by a block, a page or a map page"
    let mut free_total = 0u64;
    let mut free_per_region = Vec::new();
    for k in 0..regions {
        for (off, ptype) in fixed_pages(k) {
            let p = &d[off as usize..off as usize + 512];
            assert_eq!(
                (p[496], p[497]),
                (ptype, ptype),
                "map page ptype at 0x{off:X}"
            );
            assert_eq!(le16(p, 498), 0, "map page wSig");
            assert_eq!(le32(p, 500), crc_bitwise(&p[..496]), "map page CRC");
            assert_eq!(le64(p, 504), off, "map page bid = ib");
            for s in 0..8 {
                assert!(
                    slots.insert((off - FIRST_AMAP) / 64 + s),
                    "map page overlaps"
                );
            }
            if ptype == 0x83 || ptype == 0x85 {
                assert!(p[..496].iter().all(|&b| b == 0xFF));
            }
        }
        let rs = FIRST_AMAP + k * AMAP_SPAN;
        let am = &d[rs as usize..rs as usize + 496];
        let mut free = 0u64;
        for s in 0..3968u64 {
            let bit = (am[(s / 8) as usize] >> (7 - s % 8)) & 1 == 1;
            let used = slots.contains(&((rs - FIRST_AMAP) / 64 + s));
            assert_eq!(bit, used, "AMap bit for offset 0x{:X}", rs + s * 64);
            free += u64::from(!bit);
        }
        free_total += free * 64;
        // Longest run of free slots, computed slot by slot.
        let (mut best, mut run) = (0u64, 0u64);
        for s in 0..3968u64 {
            if (am[(s / 8) as usize] >> (7 - s % 8)) & 1 == 0 {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
        free_per_region.push(best);
    }
    assert_eq!(le64(d, 200), free_total, "cbAMapFree");
    // FMap byte i of the page in region k: longest free run of AMap k + i, capped at 255;
    // 0 for AMap pages past the end of the file.
    for k in 0..regions {
        if k >= 128 && (k - 128).is_multiple_of(496) {
            let off = (FIRST_AMAP + k * AMAP_SPAN + 1024) as usize;
            for i in 0..496u64 {
                let want = free_per_region
                    .get((k + i) as usize)
                    .map(|&f| f.min(255) as u8)
                    .unwrap_or(0);
                assert_eq!(d[off + i as usize], want, "FMap byte {i}");
            }
        }
    }
    // ---- DList at 0x4200: bFlags 0, cEntDList 0, ulCurrentPage = last AMap, valid trailer
    let dl = &d[0x4200..0x4400];
    assert_eq!((dl[496], dl[497]), (0x86, 0x86));
    assert_eq!(u64::from(le32(dl, 4)), regions - 1, "ulCurrentPage");
    assert!(dl[..4].iter().chain(&dl[8..496]).all(|&b| b == 0));
    assert_eq!(le16(dl, 498), sig(0x4200, le64(dl, 504)));
    assert_eq!(le32(dl, 500), crc_bitwise(&dl[..496]));

    assert!(
        ndb.take_warnings().is_empty(),
        "reader warnings: {:?}",
        ndb.warnings()
    );
    ndb
}

fn leaf(blocks: Vec<Vec<u8>>) -> NodeContent {
    NodeContent {
        blocks,
        stream: None,
        subnodes: Vec::new(),
    }
}

fn sub(nid: u32, content: NodeContent) -> SubnodeContent {
    SubnodeContent { nid, content }
}

// ---------------------------------------------------------------------------------------
// tests

#[test]
fn crc_reference_vector() {
    assert_eq!(crc_bitwise(b"123456789"), 0x2DFD_2D88);
    assert_eq!(mailmig_pst::ndb::pst_crc(b"123456789"), 0x2DFD_2D88);
}

fn small_store() -> Vec<(u32, u32, NodeContent)> {
    vec![
        (0x21, 0x0, leaf(blocks(1, &[300]))),
        (0x122, 0x122, leaf(blocks(2, &[1000, 2000]))),
        (
            0x200024,
            0x8022,
            NodeContent {
                blocks: blocks(3, &[500]),
                stream: None,
                subnodes: vec![
                    sub(0x692, leaf(blocks(4, &[80]))),
                    sub(0x671, leaf(blocks(5, &[8176, 10]))),
                ],
            },
        ),
        (0x61, 0x0, leaf(vec![])),
        (0x8022, 0x122, leaf(blocks(6, &[MAX_BLOCK_DATA]))),
    ]
}

#[test]
fn small_store_no_encoding() {
    let nodes = small_store();
    let w = write(&nodes, CryptMethod::None);
    verify(&w, &nodes, CryptMethod::None);
    assert_eq!(w.summary.amap_pages, 1);
    assert_eq!(w.summary.file_size, FIRST_AMAP + AMAP_SPAN);
}

#[test]
fn small_store_permute() {
    let nodes = small_store();
    let w = write(&nodes, CryptMethod::Permute);
    verify(&w, &nodes, CryptMethod::Permute);
    // Stored bytes of an external block are encoded: they differ from the plain data.
    let ndb = open(&w.data);
    let e = ndb.lookup_node(0x21).unwrap();
    let b = ndb.lookup_block(e.bid_data).unwrap();
    let stored = &w.data[b.ib as usize..b.ib as usize + b.cb as usize];
    assert_ne!(stored, &nodes[0].2.blocks[0][..]);
    let mut dec = stored.to_vec();
    mailmig_pst::ndb::crypt::permute_decode(&mut dec);
    assert_eq!(dec, nodes[0].2.blocks[0]);
}

#[test]
fn empty_store() {
    let w = write(&[], CryptMethod::None);
    verify(&w, &[], CryptMethod::None);
    assert_eq!(w.summary.nodes, 0);
}

#[test]
fn rgnid_next_free_index_per_type() {
    let nodes = vec![
        (0x21, 0, leaf(vec![])),
        ((0x10005 << 5) | 0x04, 0x8022, leaf(vec![])), // normal message, index 0x10005
        ((0x500 << 5) | 0x02, 0x122, leaf(vec![])),    // folder, index 0x500
        (
            (0x10 << 5) | 0x04,
            0x8022,
            NodeContent {
                blocks: vec![],
                stream: None,
                subnodes: vec![sub((0x432 << 5) | 0x05, leaf(vec![]))], // attachment 0x432
            },
        ),
    ];
    let w = write(&nodes, CryptMethod::None);
    verify(&w, &nodes, CryptMethod::None);
    let rg: Vec<u32> = (0..32).map(|i| le32(&w.data, 44 + 4 * i)).collect();
    assert_eq!(rg[0x04], 0x10006);
    assert_eq!(rg[0x02], 0x501);
    assert_eq!(rg[0x05], 0x433);
    assert_eq!(rg[0x01], 0x400); // 0x21 has index 1: the floor stays
    assert_eq!(rg[0x03], 0x4000);
    assert_eq!(rg[0x08], 0x8000);
}

#[test]
fn xblock_5mb_permute() {
    let data = bytes(7, 5 << 20);
    let c = NodeContent::from_stream(&data);
    assert!(c.blocks.len() > 1 && c.blocks.len() <= 1021);
    let nodes = vec![
        (0x21, 0, leaf(blocks(8, &[100]))),
        ((0x40 << 5) | 5, 0x21, c),
    ];
    let w = write(&nodes, CryptMethod::Permute);
    let ndb = verify(&w, &nodes, CryptMethod::Permute);
    let e = ndb.lookup_node((0x40 << 5) | 5).unwrap();
    let x = ndb.read_block(e.bid_data).unwrap();
    assert_eq!((x[0], x[1]), (1, 1), "XBLOCK btype/cLevel");
    assert_eq!(le32(&x, 4) as usize, data.len(), "lcbTotal");
    assert_eq!(ndb.read_blob(e.bid_data).unwrap().as_bytes(), &data[..]);
}

#[test]
fn xxblock_70mb_spans_fmap_region() {
    let data = bytes(9, 70 << 20);
    let c = NodeContent::from_stream(&data);
    assert!(c.blocks.len() > 1021);
    let nodes = vec![
        ((0x40 << 5) | 5, 0x21, c),
        (0x21, 0, leaf(blocks(10, &[4000, 4000]))),
    ];
    let w = write(&nodes, CryptMethod::None);
    let ndb = verify(&w, &nodes, CryptMethod::None);
    let e = ndb.lookup_node((0x40 << 5) | 5).unwrap();
    let xx = ndb.read_block(e.bid_data).unwrap();
    assert_eq!((xx[0], xx[1]), (1, 2), "XXBLOCK btype/cLevel");
    assert_eq!(le16(&xx, 2) as usize, (data.len() / 8176).div_ceil(1021));
    assert_eq!(le32(&xx, 4) as usize, data.len(), "XXBLOCK lcbTotal");
    let x0 = ndb.read_block(le64(&xx, 8)).unwrap();
    assert_eq!((x0[0], x0[1], le16(&x0, 2)), (1, 1, 1021));
    assert_eq!(le32(&x0, 4) as usize, 1021 * 8176, "XBLOCK lcbTotal");
    assert_eq!(ndb.read_blob(e.bid_data).unwrap().as_bytes(), &data[..]);
    // > 128 regions: the first FMap page exists (checked in `verify`) at 0x1F04800.
    assert!(w.summary.amap_pages > 128);
    assert_eq!(&w.data[0x1F04800 + 496..0x1F04800 + 498], &[0x82, 0x82]);
    assert!(w.summary.file_size > 2 * AMAP_SPAN);
}

/// The exact capacities: 1,021 BIDs per XBLOCK, 340 SLENTRYs per SLBLOCK.
#[test]
fn capacity_boundaries() {
    let tiny = |n: usize| leaf((0..n).map(|i| vec![i as u8; 1 + i % 3]).collect());
    let subs = |n: u32| NodeContent {
        blocks: vec![],
        stream: None,
        subnodes: (1..=n).map(|i| sub(i << 5, leaf(vec![]))).collect(),
    };
    let nodes = vec![
        (0x24, 0, tiny(1021)),
        (0x44, 0, tiny(1022)),
        (0x64, 0, subs(340)),
        (0x84, 0, subs(341)),
    ];
    let w = write(&nodes, CryptMethod::None);
    let ndb = verify(&w, &nodes, CryptMethod::None);
    let head = |nid: u32, sub: bool| {
        let e = ndb.lookup_node(nid).unwrap();
        let b = ndb
            .read_block(if sub { e.bid_sub } else { e.bid_data })
            .unwrap();
        (b[0], b[1], le16(&b, 2))
    };
    assert_eq!(head(0x24, false), (1, 1, 1021), "one XBLOCK");
    assert_eq!(head(0x44, false), (1, 2, 2), "XXBLOCK over two XBLOCKs");
    assert_eq!(head(0x64, true), (2, 0, 340), "one SLBLOCK");
    assert_eq!(head(0x84, true), (2, 1, 2), "SIBLOCK over two SLBLOCKs");
    let e = ndb.lookup_node(0x44).unwrap();
    let xx = ndb.read_block(e.bid_data).unwrap();
    let second = ndb.read_block(le64(&xx, 16)).unwrap();
    assert_eq!((second[1], le16(&second, 2)), (1, 1));
    let e = ndb.lookup_node(0x84).unwrap();
    let si = ndb.read_block(e.bid_sub).unwrap();
    assert_eq!(
        le64(&si, 8),
        1 << 5,
        "SIENTRY nid = first NID of its SLBLOCK"
    );
    assert_eq!(le64(&si, 24), 341 << 5);
}

#[test]
fn siblock_over_340_subnodes() {
    let subs: Vec<SubnodeContent> = (0..1000u32)
        .rev()
        .map(|i| {
            sub(
                (i << 5) | 0x05,
                leaf(blocks(u64::from(i), &[(i as usize * 37) % 700])),
            )
        })
        .collect();
    let nodes = vec![(
        0x200024,
        0x8022,
        NodeContent {
            blocks: blocks(11, &[200]),
            stream: None,
            subnodes: subs,
        },
    )];
    let w = write(&nodes, CryptMethod::Permute);
    let ndb = verify(&w, &nodes, CryptMethod::Permute);
    let e = ndb.lookup_node(0x200024).unwrap();
    let si = ndb.read_block(e.bid_sub).unwrap();
    assert_eq!(
        (si[0], si[1], le16(&si, 2)),
        (2, 1, 3),
        "SIBLOCK over 3 SLBLOCKs"
    );
    assert_eq!(ndb.read_subnodes(e.bid_sub).unwrap().len(), 1000);
}

#[test]
fn nested_subnodes_three_levels() {
    let level3 = NodeContent {
        blocks: blocks(12, &[50, 8176, 3]),
        stream: None,
        subnodes: vec![sub(0x692, leaf(blocks(13, &[40])))],
    };
    let level2 = NodeContent {
        blocks: blocks(14, &[70]),
        stream: None,
        subnodes: vec![sub(0x21, level3), sub(0x671, leaf(vec![]))],
    };
    let level1 = NodeContent {
        blocks: blocks(15, &[90]),
        stream: None,
        subnodes: vec![sub(0x25, level2), sub(0x692, leaf(blocks(16, &[9])))],
    };
    let nodes = vec![(
        0x200024,
        0x8022,
        NodeContent {
            blocks: blocks(17, &[1]),
            stream: None,
            subnodes: vec![sub(0x45, level1)],
        },
    )];
    let w = write(&nodes, CryptMethod::None);
    verify(&w, &nodes, CryptMethod::None);
}

/// 5,000 message-like nodes added in a scrambled NID order, and their folder: enough for
/// two-level NBT and BBT.
fn thousands_of_nodes() -> Vec<(u32, u32, NodeContent)> {
    let mut nodes: Vec<(u32, u32, NodeContent)> = (0..5000u32)
        .map(|i| {
            let k = (i * 7919) % 5000;
            (
                ((0x400 + k) << 5) | 0x04,
                0x8022,
                leaf(blocks(u64::from(k), &[(k as usize % 40) * 13 + 1])),
            )
        })
        .collect();
    nodes.push((0x8022, 0x122, leaf(blocks(1, &[10]))));
    nodes
}

#[test]
fn thousands_of_nodes_make_two_level_trees() {
    let nodes = thousands_of_nodes();
    let w = write(&nodes, CryptMethod::Permute);
    verify(&w, &nodes, CryptMethod::Permute);
    assert!(
        w.summary.nbt_levels >= 2,
        "NBT cLevel {}",
        w.summary.nbt_levels
    );
    assert!(
        w.summary.bbt_levels >= 2,
        "BBT cLevel {}",
        w.summary.bbt_levels
    );
}

#[test]
fn errors() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("a.pst");
    // Cyclic encoding is refused.
    assert!(matches!(
        NdbWriter::create(&p, CryptMethod::Cyclic),
        Err(WriteError::Unrepresentable(_))
    ));
    let mut w = NdbWriter::create(&p, CryptMethod::None).unwrap();
    // The file exists now: a second create fails.
    assert!(matches!(
        NdbWriter::create(&p, CryptMethod::None),
        Err(WriteError::Io { .. })
    ));
    assert!(matches!(
        w.add_node(0x21, 0, leaf(vec![vec![0; MAX_BLOCK_DATA + 1]])),
        Err(WriteError::BlockTooLarge {
            nid: 0x21,
            len: 8177
        })
    ));
    let dup_sub = NodeContent {
        blocks: vec![],
        stream: None,
        subnodes: vec![sub(0x692, leaf(vec![])), sub(0x692, leaf(vec![]))],
    };
    assert!(matches!(
        w.add_node(0x24, 0, dup_sub),
        Err(WriteError::DuplicateNid { nid: 0x692 })
    ));
    w.add_node(0x21, 0, leaf(vec![vec![1]])).unwrap();
    w.add_node(0x21, 0, leaf(vec![vec![2]])).unwrap();
    assert!(matches!(
        w.finish(),
        Err(WriteError::DuplicateNid { nid: 0x21 })
    ));
}

/// Reads every node of a corpus store (data blocks and subnode trees, decoded) as the
/// writer's input.
fn read_store(path: &std::path::Path) -> Vec<(u32, u32, NodeContent)> {
    let ndb = open(&std::fs::read(path).unwrap());
    fn content(ndb: &Ndb, bid_data: u64, bid_sub: u64) -> NodeContent {
        let blocks = if bid_data == 0 {
            Vec::new()
        } else {
            ndb.read_data_tree(bid_data)
                .unwrap()
                .into_iter()
                .map(|b| b.into_owned())
                .collect()
        };
        let subnodes = ndb
            .read_subnodes(bid_sub)
            .unwrap()
            .into_iter()
            .map(|(nid, e)| sub(nid, content(ndb, e.bid_data, e.bid_sub)))
            .collect();
        NodeContent {
            blocks,
            stream: None,
            subnodes,
        }
    }
    let mut entries = Vec::new();
    ndb.walk_nodes(&mut |e| {
        entries.push(e);
        true
    })
    .unwrap();
    entries
        .iter()
        .map(|e| (e.nid, e.parent, content(&ndb, e.bid_data, e.bid_sub)))
        .collect()
}

fn corpus_file(name: &str) -> PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../corpus/pst")
        .join(name)
}

/// Rewrites every node of Outlook's empty store and of a store with messages through the
/// writer; our reader, `pffinfo` (libpff) and `readpst` (libpst) must open the result.
/// The external tools are skipped only when not installed, and the test says so.
#[test]
fn corpus_stores_rewritten_node_by_node() {
    for (name, crypt) in [
        ("outlook-pst-rs_Empty.pst", CryptMethod::Permute),
        ("tika_testPST.pst", CryptMethod::None),
    ] {
        let nodes = read_store(&corpus_file(name));
        assert!(nodes.len() > 40, "{name}: {} nodes", nodes.len());
        let w = write(&nodes, crypt);
        verify(&w, &nodes, crypt);
        match std::process::Command::new("pffinfo").arg(&w.path).output() {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "pffinfo on rewritten {name}: {text}");
                assert!(text.contains("File type:\t\t64-bit"), "{text}");
                eprintln!("pffinfo on rewritten {name}:\n{text}");
            }
            Err(e) => eprintln!("pffinfo not available ({e}); not run"),
        }
        let outdir = tempfile::tempdir().unwrap();
        match std::process::Command::new("readpst")
            .arg("-o")
            .arg(outdir.path())
            .arg(&w.path)
            .output()
        {
            Ok(out) => {
                let text = String::from_utf8_lossy(&out.stdout).to_string()
                    + &String::from_utf8_lossy(&out.stderr);
                assert!(out.status.success(), "readpst on rewritten {name}: {text}");
                eprintln!("readpst on rewritten {name}:\n{text}");
            }
            Err(e) => eprintln!("readpst not available ({e}); not run"),
        }
    }
}

#[test]
fn size_limit_refuses_a_node_before_writing_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limited.pst");
    let limit = 3 << 20;
    let mut w = NdbWriter::create(&path, CryptMethod::None)
        .unwrap()
        .with_max_file_size(limit);
    assert_eq!(w.max_file_size(), limit);
    let small = NodeContent::from_stream(&bytes(1, 1 << 20));
    assert!(w.projected_size(&small) <= limit);
    w.add_node(0x21, 0, small.clone()).unwrap();
    let big = NodeContent::from_stream(&bytes(2, 2 << 20));
    assert!(w.projected_size(&big) > limit);
    let before = w.bytes_written();
    assert!(matches!(
        w.add_node(0x41, 0, big),
        Err(WriteError::TooLarge(_))
    ));
    assert_eq!(
        w.bytes_written(),
        before,
        "nothing written for the refused node"
    );
    // Still usable: the file finishes, within the limit, with the first node intact.
    let summary = w.finish().unwrap();
    assert!(summary.file_size <= limit);
    let data = std::fs::read(&path).unwrap();
    let written = Written {
        _dir: dir,
        path,
        summary,
        data,
    };
    verify(&written, &[(0x21, 0, small)], CryptMethod::None);
    // The bound holds: it never undershoots the real size.
    let w2 = write(
        &[(0x21, 0, leaf(blocks(3, &[8176; 700])))],
        CryptMethod::None,
    );
    let dir3 = tempfile::tempdir().unwrap();
    let w3 = NdbWriter::create(&dir3.path().join("x.pst"), CryptMethod::None).unwrap();
    assert!(w3.projected_size(&leaf(blocks(3, &[8176; 700]))) >= w2.summary.file_size);
}

/// readpst's per-folder summary lines ("N items done, M items skipped").
fn readpst_summary(path: &std::path::Path) -> Option<Vec<String>> {
    let outdir = tempfile::tempdir().unwrap();
    let out = std::process::Command::new("readpst")
        .arg("-o")
        .arg(outdir.path())
        .arg(path)
        .output()
        .ok()?;
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    Some(
        text.lines()
            .filter(|l| l.contains("items done"))
            .map(str::to_string)
            .collect(),
    )
}

#[test]
fn readpst_sees_the_same_items_after_rewrite() {
    let src = corpus_file("tika_testPST.pst");
    let nodes = read_store(&src);
    let w = write(&nodes, CryptMethod::Permute);
    verify(&w, &nodes, CryptMethod::Permute);
    match (readpst_summary(&src), readpst_summary(&w.path)) {
        (Some(a), Some(b)) => {
            assert!(!a.is_empty());
            assert_eq!(a, b, "readpst summary original vs rewritten");
        }
        _ => eprintln!("readpst not available; not run"),
    }
}

/// Every message of a store as JSON, with the two source ids that name the file and the
/// byte offset (which legitimately change when the blocks move) removed.
fn messages_json(path: &std::path::Path) -> Vec<serde_json::Value> {
    use mailmig_ir::{Budget, Driver, OpenOptions};
    let src = mailmig_pst::PstDriver
        .open(&[path.to_path_buf()], &OpenOptions::default())
        .unwrap();
    let mut out = Vec::new();
    for mb in src.mailboxes().to_vec() {
        let sec = src.open_mailbox(&mb, &Budget::unlimited()).unwrap();
        for m in sec.messages {
            let mut v = serde_json::to_value(m.unwrap()).unwrap();
            strip_location(&mut v);
            out.push(v);
        }
    }
    out
}

fn strip_location(v: &mut serde_json::Value) {
    match v {
        serde_json::Value::Object(map) => {
            map.remove("offset");
            map.remove("file");
            for x in map.values_mut() {
                strip_location(x);
            }
        }
        serde_json::Value::Array(a) => a.iter_mut().for_each(strip_location),
        _ => {}
    }
}

/// Runs `pffexport -m all -f all` and returns the exported files (relative path → bytes) of
/// the `.export` tree (directories end in `/`) and the number of entries in the `.orphans` and `.recovered` trees.
/// `None` when pffexport is not installed.
fn pffexport_tree(path: &std::path::Path) -> Option<(BTreeMap<String, Vec<u8>>, usize)> {
    let out = tempfile::tempdir().unwrap();
    let base = out.path().join("x");
    let status = std::process::Command::new("pffexport")
        .args(["-m", "all", "-f", "all", "-q", "-t"])
        .arg(&base)
        .arg(path)
        .output()
        .ok()?;
    assert!(
        status.status.success(),
        "pffexport failed on {}",
        path.display()
    );
    fn collect(root: &std::path::Path, dir: &std::path::Path, m: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(rd) = std::fs::read_dir(dir) else {
            return;
        };
        for e in rd {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().to_string();
            if p.is_dir() {
                m.insert(rel + "/", Vec::new());
                collect(root, &p, m);
            } else {
                m.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    let mut export = BTreeMap::new();
    let e = out.path().join("x.export");
    collect(&e, &e, &mut export);
    let mut extra = BTreeMap::new();
    for suffix in ["x.orphans", "x.recovered"] {
        let d = out.path().join(suffix);
        collect(&d, &d, &mut extra);
    }
    Some((export, extra.len()))
}

/// Every Unicode PST of the corpus rewritten node by node gives the same messages through
/// the whole reader (NDB, LTP and messaging layers), with no reader warnings, and the same
/// `pffexport` tree, with no orphan or recovered items in the rewritten file.
#[test]
fn corpus_round_trip_through_the_message_reader() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../corpus/pst");
    let mut done = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().and_then(|e| e.to_str()) != Some("pst") {
            continue;
        }
        let raw = std::fs::read(&path).unwrap();
        // Unicode (wVer 23) with valid header CRCs only: ANSI files and the corpus's damaged
        // Aspose file are outside what this writer rewrites.
        let shared: SharedBytes = Arc::new(raw.clone());
        if le16(&raw, 10) != 23 || Ndb::open(shared, "x", false, Limits::default()).is_err() {
            continue;
        }
        let crypt = if raw[513] == 1 {
            CryptMethod::Permute
        } else {
            CryptMethod::None
        };
        let nodes = read_store(&path);
        let w = write(&nodes, crypt);
        verify(&w, &nodes, crypt);
        let (a, b) = (messages_json(&path), messages_json(&w.path));
        assert_eq!(a.len(), b.len(), "{}", path.display());
        for (x, y) in a.iter().zip(&b) {
            assert_eq!(x, y, "{}", path.display());
        }
        match (pffexport_tree(&path), pffexport_tree(&w.path)) {
            (Some((ea, _)), Some((eb, extra))) => {
                assert!(
                    !ea.is_empty(),
                    "{}: pffexport exported nothing",
                    path.display()
                );
                eprintln!("{}: pffexport entries {}", path.display(), ea.len());
                assert_eq!(
                    extra,
                    0,
                    "{}: orphans/recovered in the rewritten file",
                    path.display()
                );
                assert_eq!(
                    ea.keys().collect::<Vec<_>>(),
                    eb.keys().collect::<Vec<_>>(),
                    "{}: pffexport file list",
                    path.display()
                );
                for (k, v) in &ea {
                    assert!(eb[k] == *v, "{}: pffexport {k} differs", path.display());
                }
            }
            _ => eprintln!("pffexport not available; not run"),
        }
        done += 1;
    }
    assert!(done >= 5, "only {done} corpus files rewritten");
}

// ---------------------------------------------------------------------------------------
// property test: random node sets round-trip through the reader

fn arb_content(depth: u32) -> BoxedStrategy<NodeContent> {
    let blocks = prop::collection::vec(
        prop_oneof![0usize..200, 200usize..3000, Just(MAX_BLOCK_DATA)],
        0..4,
    );
    if depth == 0 {
        (blocks, any::<u64>())
            .prop_map(|(sizes, seed)| leaf(self::blocks(seed, &sizes)))
            .boxed()
    } else {
        (
            blocks,
            any::<u64>(),
            prop::collection::btree_set(1u32..5000, 0..4),
            prop::collection::vec(arb_content(depth - 1), 4),
        )
            .prop_map(|(sizes, seed, nids, kids)| NodeContent {
                blocks: self::blocks(seed, &sizes),
                stream: None,
                subnodes: nids.into_iter().zip(kids).map(|(n, c)| sub(n, c)).collect(),
            })
            .boxed()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]
    #[test]
    fn random_node_sets_round_trip(
        nodes in prop::collection::btree_map(1u32..1_000_000, (any::<u32>(), arb_content(3)), 0..40),
        permute in any::<bool>(),
    ) {
        let nodes: Vec<(u32, u32, NodeContent)> =
            nodes.into_iter().map(|(n, (p, c))| (n, p, c)).collect();
        let crypt = if permute { CryptMethod::Permute } else { CryptMethod::None };
        let w = write(&nodes, crypt);
        verify(&w, &nodes, crypt);
    }
}

/// A node's data given as a blob ([`NodeContent::stream`]) is cut into the same blocks, under
/// the same XBLOCK/XXBLOCK, placed in the same order as the same bytes given as blocks: the
/// files are byte for byte equal, for one block, one XBLOCK and an XXBLOCK (exact runs and
/// a partial last run), as node data and as subnode data, whatever the piece sizes (the small
/// files are also checked block by block through the reader). The blob is read in pieces,
/// never collected.
#[test]
fn streamed_data_writes_the_same_file_as_blocks() {
    use mailmig_ir::Blob;
    const XBLOCK_MAX: usize = (MAX_BLOCK_DATA - 8) / 8;
    let sizes = [
        0,
        1,
        MAX_BLOCK_DATA,
        MAX_BLOCK_DATA + 1,
        XBLOCK_MAX * MAX_BLOCK_DATA,
        XBLOCK_MAX * MAX_BLOCK_DATA + 1,
        2 * XBLOCK_MAX * MAX_BLOCK_DATA,
    ];
    /// `bytes` in pieces of 5,000 (none on a block boundary), the last one short.
    struct Pieces(Vec<u8>);
    impl mailmig_ir::blob::PieceSource for Pieces {
        fn len(&self) -> usize {
            self.0.len()
        }
        fn pieces(
            &self,
            piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            self.0.chunks(5000).try_for_each(piece)
        }
    }
    for (k, &len) in sizes.iter().enumerate() {
        let whole = bytes(40 + k as u64, len);
        let whole = &whole[..len];
        let blob = Blob::streamed(Arc::new(Pieces(whole.to_vec())));
        let as_blocks = NodeContent::from_stream(whole);
        let as_stream = NodeContent::from_blob(blob.clone());
        assert_eq!(as_stream.block_count(), as_blocks.blocks.len(), "len {len}");
        assert_eq!(as_stream.data_len(), len as u64);
        let nodes = |c: NodeContent| {
            vec![
                (0x21 + 32 * k as u32, 0, c.clone()),
                (
                    0x8022,
                    0,
                    NodeContent {
                        blocks: blocks(7, &[100]),
                        stream: None,
                        subnodes: vec![SubnodeContent {
                            nid: 0x692,
                            content: c,
                        }],
                    },
                ),
            ]
        };
        let a = write(&nodes(as_blocks.clone()), CryptMethod::Permute);
        let b = write(&nodes(as_stream), CryptMethod::Permute);
        assert!(a.data == b.data, "len {len}: the files differ");
        assert!(blob.is_streamed(), "len {len}: collected whole");
        if len < 1 << 20 {
            verify(&b, &nodes(as_blocks), CryptMethod::Permute);
        }
    }
}

/// A blob whose source fails, or gives fewer or more bytes than its length, fails the node
/// and the writer (a streamed attachment whose input changed under the run), before any node
/// record is made for it.
#[test]
fn a_stream_that_fails_or_falls_short_fails_the_node() {
    use mailmig_ir::Blob;
    use mailmig_ir::blob::PieceSource;
    struct Short {
        len: usize,
        give: usize,
        fail: bool,
    }
    impl PieceSource for Short {
        fn len(&self) -> usize {
            self.len
        }
        fn pieces(
            &self,
            piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            piece(&vec![7u8; self.give])?;
            if self.fail {
                return Err(std::io::Error::other("input changed"));
            }
            Ok(())
        }
    }
    for (give, fail, says) in [
        (12_000, false, "12000 bytes where 20000"),
        (12_000, true, "input changed"),
        (20_001, false, "more than the 20000 bytes"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.pst");
        let mut w = NdbWriter::create(&path, CryptMethod::None).unwrap();
        let blob = Blob::streamed(Arc::new(Short {
            len: 20_000,
            give,
            fail,
        }));
        let err = w
            .add_node(0x21, 0, NodeContent::from_blob(blob))
            .unwrap_err();
        let text = err.to_string();
        assert!(text.contains(says), "{text}");
        assert_eq!(w.node_count(), 0);
        assert!(w.add_node(0x41, 0, leaf(blocks(1, &[10]))).is_err());
    }
}

#[test]
fn b_tree_pages_read_again_come_from_the_page_cache_within_its_budget() {
    use mailmig_pst::ndb::btree::PAGE_CACHE_BYTES;
    let nodes = thousands_of_nodes();
    let w = write(&nodes, CryptMethod::None);
    assert!(w.summary.nbt_levels >= 2 && w.summary.bbt_levels >= 2);
    let ndb = open(&w.data);
    let some: Vec<u32> = nodes.iter().step_by(997).map(|n| n.0).collect();
    let first: Vec<_> = some
        .iter()
        .map(|&nid| ndb.lookup_node(nid).unwrap())
        .collect();
    assert!(ndb.touched_bytes() > 0);
    assert!(ndb.cached_page_bytes() > 0);
    // The same lookups again: every page they need is cached, so the file map is not touched
    // (and a released map would not be faulted back in).
    ndb.forget_touched();
    let again: Vec<_> = some
        .iter()
        .map(|&nid| ndb.lookup_node(nid).unwrap())
        .collect();
    assert_eq!(again, first);
    assert_eq!(
        ndb.touched_bytes(),
        0,
        "cached pages were read from the map again"
    );
    // Every node and its data read back: far more pages than the cache holds. The cache stays
    // within its budget while it drops pages, and every node still reads as written.
    for (nid, _, content) in &nodes {
        let e = ndb.lookup_node(*nid).unwrap();
        assert_eq!(e.nid, *nid);
        check_content(&ndb, e.bid_data, e.bid_sub, content);
        assert!(ndb.cached_page_bytes() <= PAGE_CACHE_BYTES);
    }
    // The NBT's leaf entries alone (32 bytes each) fill more than twice the cache.
    assert!(w.summary.nodes as usize * 32 > 2 * PAGE_CACHE_BYTES);
}
