//! A minimal Unicode PST built in code, field by field: header, one NBT leaf page, one BBT
//! leaf page and one encoded data block holding a property-context heap. Exercises header
//! parsing, page validation, lookups, permute/cyclic decoding, CRC warnings and root recovery.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use mailmig_ir::Limits;
use mailmig_ir::blob::SharedBytes;
use mailmig_pst::ltp::{NodeRef, RawValue};
use mailmig_pst::ndb::crypt::{cyclic, permute_encode};
use mailmig_pst::ndb::{Ndb, NdbError, SubnodeMap, pst_crc};

const NBT_IB: usize = 0x4400;
const BBT_IB: usize = 0x4600;
const BLOCK_IB: usize = 0x4800;
const NBT_BID: u64 = 0x30;
const BBT_BID: u64 = 0x34;
const DATA_BID: u64 = 0x44;

fn sig(ib: usize, bid: u64) -> u16 {
    let x = (ib as u64 ^ bid) as u32;
    ((x >> 16) ^ (x & 0xFFFF)) as u16
}

/// A PC heap with PidTagDisplayName = "Store" (UTF-16) and PidTagMessageFlags = 1.
fn pc_heap() -> Vec<u8> {
    let hid = |i: u32| i << 5;
    let mut bth = vec![0xB5, 2, 6, 0]; // BTHHEADER: bType, cbKey 2, cbEnt 6, bIdxLevels 0
    bth.extend_from_slice(&hid(2).to_le_bytes()); // hidRoot
    let mut leaf = Vec::new();
    leaf.extend_from_slice(&0x0E07u16.to_le_bytes()); // key: PidTagMessageFlags
    leaf.extend_from_slice(&0x0003u16.to_le_bytes()); // wPropType
    leaf.extend_from_slice(&1u32.to_le_bytes()); // inline value
    leaf.extend_from_slice(&0x3001u16.to_le_bytes()); // key: PidTagDisplayName
    leaf.extend_from_slice(&0x001Fu16.to_le_bytes()); // wPropType
    leaf.extend_from_slice(&hid(3).to_le_bytes()); // HID of the string
    let name: Vec<u8> = "Store".encode_utf16().flat_map(u16::to_le_bytes).collect();
    let allocs: [&[u8]; 3] = [&bth, &leaf, &name];
    let mut b = vec![0u8; 12]; // HNHDR
    let mut offs = vec![12u16];
    for a in allocs {
        b.extend_from_slice(a);
        offs.push(b.len() as u16);
    }
    let ib_hnpm = b.len() as u16;
    b[0..2].copy_from_slice(&ib_hnpm.to_le_bytes()); // ibHnpm
    b[2] = 0xEC; // bSig
    b[3] = 0xBC; // bClientSig = PC
    b[4..8].copy_from_slice(&hid(1).to_le_bytes()); // hidUserRoot
    b.extend_from_slice(&3u16.to_le_bytes()); // cAlloc
    b.extend_from_slice(&0u16.to_le_bytes()); // cFree (0, as Outlook writes)
    for o in offs {
        b.extend_from_slice(&o.to_le_bytes()); // rgibAlloc
    }
    b
}

fn page(entries: &[u8], cent: u8, cbent: u8, ptype: u8, ib: usize, bid: u64) -> Vec<u8> {
    let mut p = vec![0u8; 512];
    p[..entries.len()].copy_from_slice(entries);
    p[488] = cent; // cEnt
    p[489] = (488 / usize::from(cbent)) as u8; // cEntMax
    p[490] = cbent; // cbEnt
    p[491] = 0; // cLevel: leaf
    p[496] = ptype; // ptype
    p[497] = ptype; // ptypeRepeat
    p[498..500].copy_from_slice(&sig(ib, bid).to_le_bytes()); // wSig
    let crc = pst_crc(&p[..496]);
    p[500..504].copy_from_slice(&crc.to_le_bytes()); // dwCRC
    p[504..512].copy_from_slice(&bid.to_le_bytes()); // bid
    p
}

/// Builds the file; `crypt` is bCryptMethod (0 none, 1 permute, 2 cyclic).
fn build(crypt: u8) -> Vec<u8> {
    let data = pc_heap();
    let mut enc = data.clone();
    match crypt {
        1 => permute_encode(&mut enc),
        2 => cyclic(&mut enc, DATA_BID as u32),
        _ => {}
    }
    let total = (enc.len() + 16).div_ceil(64) * 64;
    let mut f = vec![0u8; BLOCK_IB + total];
    // HEADER.
    f[0..4].copy_from_slice(b"!BDN"); // dwMagic
    f[8..10].copy_from_slice(b"SM"); // wMagicClient
    f[10..12].copy_from_slice(&23u16.to_le_bytes()); // wVer: Unicode
    f[12..14].copy_from_slice(&19u16.to_le_bytes()); // wVerClient
    f[14] = 1; // bPlatformCreate
    f[15] = 1; // bPlatformAccess
    let eof = f.len() as u64;
    f[184..192].copy_from_slice(&eof.to_le_bytes()); // ROOT ibFileEof
    f[216..224].copy_from_slice(&NBT_BID.to_le_bytes()); // BREFNBT.bid
    f[224..232].copy_from_slice(&(NBT_IB as u64).to_le_bytes()); // BREFNBT.ib
    f[232..240].copy_from_slice(&BBT_BID.to_le_bytes()); // BREFBBT.bid
    f[240..248].copy_from_slice(&(BBT_IB as u64).to_le_bytes()); // BREFBBT.ib
    f[248] = 2; // fAMapValid
    f[512] = 0x80; // bSentinel
    f[513] = crypt; // bCryptMethod
    // NBT leaf: NID 0x21 → bidData DATA_BID, no subnodes, parent 0.
    let mut nbt = Vec::new();
    nbt.extend_from_slice(&0x21u64.to_le_bytes()); // nid (4 + 4 padding)
    nbt.extend_from_slice(&DATA_BID.to_le_bytes()); // bidData
    nbt.extend_from_slice(&0u64.to_le_bytes()); // bidSub
    nbt.extend_from_slice(&0u32.to_le_bytes()); // nidParent
    nbt.extend_from_slice(&0u32.to_le_bytes()); // dwPadding
    f[NBT_IB..NBT_IB + 512].copy_from_slice(&page(&nbt, 1, 32, 0x81, NBT_IB, NBT_BID));
    // BBT leaf: DATA_BID at BLOCK_IB, cb, cRef 2.
    let mut bbt = Vec::new();
    bbt.extend_from_slice(&DATA_BID.to_le_bytes()); // BREF.bid
    bbt.extend_from_slice(&(BLOCK_IB as u64).to_le_bytes()); // BREF.ib
    bbt.extend_from_slice(&(enc.len() as u16).to_le_bytes()); // cb
    bbt.extend_from_slice(&2u16.to_le_bytes()); // cRef
    bbt.extend_from_slice(&0u32.to_le_bytes()); // dwPadding
    f[BBT_IB..BBT_IB + 512].copy_from_slice(&page(&bbt, 1, 24, 0x80, BBT_IB, BBT_BID));
    // Block data + BLOCKTRAILER at the end of the 64-byte-aligned block.
    f[BLOCK_IB..BLOCK_IB + enc.len()].copy_from_slice(&enc);
    let t = BLOCK_IB + total - 16;
    f[t..t + 2].copy_from_slice(&(enc.len() as u16).to_le_bytes()); // cb
    f[t + 2..t + 4].copy_from_slice(&sig(BLOCK_IB, DATA_BID).to_le_bytes()); // wSig
    f[t + 4..t + 8].copy_from_slice(&pst_crc(&enc).to_le_bytes()); // dwCRC
    f[t + 8..t + 16].copy_from_slice(&DATA_BID.to_le_bytes()); // bid
    // Header CRCs last.
    let p = pst_crc(&f[8..479]);
    f[4..8].copy_from_slice(&p.to_le_bytes()); // dwCRCPartial
    let full = pst_crc(&f[8..524]);
    f[524..528].copy_from_slice(&full.to_le_bytes()); // dwCRCFull
    f
}

fn open(bytes: Vec<u8>, salvage: bool) -> Result<Ndb, NdbError> {
    let shared: SharedBytes = Arc::new(bytes);
    Ndb::open(shared, "fixture.pst", salvage, Limits::strict())
}

fn display_name(ndb: &Ndb) -> String {
    let e = ndb.lookup_node(0x21).unwrap();
    let subs = SubnodeMap::new();
    let node = NodeRef::open(ndb, e.bid_data, &subs).unwrap();
    let pc = node.property_context().unwrap();
    let p = pc.iter().find(|p| p.tag == 0x3001_001F).unwrap();
    match &p.value {
        RawValue::Bytes(b) => mailmig_ir::codepage::decode_utf16le(b.as_bytes()),
        RawValue::Inline(_) => panic!("inline string"),
    }
}

#[test]
fn reads_store_pc_with_each_encoding() {
    for crypt in [0u8, 1, 2] {
        let ndb = open(build(crypt), false).unwrap();
        assert!(ndb.header().crc_ok());
        let e = ndb.lookup_node(0x21).unwrap();
        assert_eq!(e.bid_data, DATA_BID);
        assert_eq!(
            ndb.read_block(DATA_BID).unwrap().as_ref(),
            &pc_heap()[..],
            "crypt {crypt}"
        );
        assert_eq!(display_name(&ndb), "Store");
        assert!(ndb.warnings().is_empty(), "{:?}", ndb.warnings());
        assert!(matches!(
            ndb.lookup_node(0x61),
            Err(NdbError::NidNotFound { nid: 0x61 })
        ));
    }
}

#[test]
fn unencoded_blocks_are_zero_copy_windows() {
    let ndb = open(build(0), false).unwrap();
    let blob = ndb.read_blob(DATA_BID).unwrap();
    let base = ndb.bytes().as_ptr() as usize;
    assert_eq!(blob.as_bytes().as_ptr() as usize, base + BLOCK_IB);
}

#[test]
fn bad_block_crc_is_a_warning() {
    let mut f = build(1);
    f[BLOCK_IB + 20] ^= 0x55;
    let ndb = open(f, false).unwrap();
    let _ = ndb.read_block(DATA_BID).unwrap();
    assert!(ndb.warnings().iter().any(|w| w.code == "pst.block-crc"));
}

#[test]
fn header_crc_strict_error_and_salvage_warning() {
    let mut f = build(1);
    f[300] ^= 1; // inside rgbFM, covered by both CRCs
    let err = open(f.clone(), false).unwrap_err();
    assert!(
        matches!(
            err,
            NdbError::HeaderCrc {
                field: "dwCRCPartial",
                offset: 4,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("dwCRCPartial"));
    let ndb = open(f, true).unwrap();
    assert!(ndb.warnings().iter().any(|w| w.code == "pst.header-crc"));
    assert_eq!(display_name(&ndb), "Store");
}

#[test]
fn stale_root_is_recovered_by_page_scan_in_salvage_mode() {
    let mut f = build(1);
    // Point BREFBBT at the NBT page: it fails validation (wrong ptype and BID).
    f[240..248].copy_from_slice(&(NBT_IB as u64).to_le_bytes());
    let p = pst_crc(&f[8..479]);
    f[4..8].copy_from_slice(&p.to_le_bytes());
    let full = pst_crc(&f[8..524]);
    f[524..528].copy_from_slice(&full.to_le_bytes());
    let strict = open(f.clone(), false).unwrap();
    assert!(strict.read_block(DATA_BID).is_err());
    let ndb = open(f, true).unwrap();
    assert_eq!(ndb.bbt_root().ib, BBT_IB as u64);
    assert!(
        ndb.warnings()
            .iter()
            .any(|w| w.code == "pst.roots-recovered")
    );
    assert_eq!(display_name(&ndb), "Store");
}

#[test]
fn truncated_and_garbage_inputs_are_errors() {
    assert!(open(b"!BDN".to_vec(), true).is_err());
    assert!(open(vec![0u8; 600], true).is_err());
    let f = build(1);
    let ndb = open(f[..NBT_IB + 100].to_vec(), true).unwrap();
    assert!(ndb.lookup_node(0x21).is_err());
}

#[test]
fn unknown_version_is_accepted_by_structure() {
    for ver in [99u16, 5] {
        let mut f = build(1);
        f[10..12].copy_from_slice(&ver.to_le_bytes()); // wVer: unknown
        let p = pst_crc(&f[8..479]);
        f[4..8].copy_from_slice(&p.to_le_bytes());
        let full = pst_crc(&f[8..524]);
        f[524..528].copy_from_slice(&full.to_le_bytes());
        let ndb = open(f, false).unwrap();
        assert!(
            ndb.warnings()
                .iter()
                .any(|w| w.code == "pst.version-unknown"),
            "wVer {ver}"
        );
        assert_eq!(display_name(&ndb), "Store", "wVer {ver}");
    }
}

#[test]
fn the_name_map_is_read_on_first_use_and_a_missing_one_is_one_warning() {
    // The fixture has no NID 0x61.
    let shared: SharedBytes = Arc::new(build(1));
    let store =
        mailmig_pst::PstStore::open(shared, "fixture.pst", false, None, Limits::strict()).unwrap();
    assert_eq!(
        store.display_name().as_deref(),
        Some(display_name(store.ndb()).as_str())
    );
    let nameid = |store: &mailmig_pst::PstStore| {
        store
            .ndb()
            .take_warnings()
            .iter()
            .filter(|w| w.code == "pst.nameid")
            .count()
    };
    assert_eq!(nameid(&store), 0, "the name map was read at open");
    assert!(store.names().is_empty());
    assert!(store.names().is_empty());
    assert_eq!(nameid(&store), 1);
    store.forget_names();
    assert!(store.names().is_empty());
    assert_eq!(nameid(&store), 1, "read again after being let go");
}
