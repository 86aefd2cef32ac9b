//! NDB layer of the write-once Unicode PST writer (MS-PST 2.2.2; format notes §2–§7 and §17
//! items 1–4 and 8).
//!
//! [`NdbWriter`] creates a new file, writes every node's blocks to disk as soon as the node
//! is added ([`NdbWriter::add_node`]) and keeps only compact node and block B-tree entry
//! lists in memory. [`NdbWriter::finish`] then writes the node B-tree (NBT) and the block
//! B-tree (BBT), the allocation maps (AMap, PMap, FMap, FPMap), the density list (DList), and
//! last the HEADER with its ROOT and both CRCs.
//!
//! # File layout
//!
//! * `0 .. 0x4200`: the 564-byte HEADER, then zeros (format notes §2.2).
//! * `0x4200`: the DList page (format notes §3), written with no free-space entries, as in
//!   Outlook's own empty store (`outlook-pst-rs_Empty.pst`), and `ulCurrentPage` naming the
//!   last AMap page.
//! * From `0x4400`: *AMap regions* of [`AMAP_SPAN`] bytes (MS-PST 2.2.2.7.2). Each region
//!   begins with its AMap page, then — every 8th region — a PMap page (MS-PST 2.2.2.7.3), and
//!   in the regions that carry one an FMap page (MS-PST FMAPPAGE) or an FPMap page
//!   (MS-PST FPMAPPAGE). Blocks and B-tree pages fill the rest of the region; nothing ever
//!   straddles a region boundary, so no block covers a map page.
//! * The file ends at the end of the last region used, as in every Outlook-written corpus file
//!   (`ibFileEof` − 0x4400 is a multiple of [`AMAP_SPAN`]) **\[V\]**.
//!
//! # Placement of the FMap and FPMap pages (inferred)
//!
//! MS-PST says the header's `rgbFM` covers the first 128 AMap pages, each FMap byte one AMap
//! page, each FMap page 496 AMap pages; and the header's `rgbFP` 128 bytes, each FPMap *bit*
//! one PMap page. From this the writer places the first FMap in region 128 (offset
//! 0x1F04800, after that region's AMap and PMap) and one every 496 regions after, and the
//! first FPMap in region 8192 (offset 0x7C004800, 128 × 8 bits × 8 AMaps per PMap) and one
//! every 31,744 regions (496 × 8 × 8) after. The first FMap and FPMap offsets agree with
//! what another open-source writer reports ScanPST expecting, and the FMap positions agree
//! with the AMap rebuild of Microsoft's `outlook-pst` crate 1.2.0 (run by hand on a 654 MB
//! file: identical AMap and FMap pages); the interval between FPMap pages (the second one
//! would be at ~10 GB) is derived, not observed. **\[I\]**
//!
//! Map contents: AMap bits are computed from the slots actually placed (one bit per 64-byte
//! slot, most significant bit first — checked against Outlook's empty store **\[V\]**); PMap
//! bits are all set (`cbPMapFree` = 0), as in every Outlook-written corpus file **\[V\]**; an
//! FMap byte holds the longest run of free slots of its AMap page capped at 255 (MS-PST
//! FMAPPAGE), and 0 for AMap pages past the end of the file (as `outlook-pst`'s rebuild
//! writes); FPMap bits are all set, like the header's `rgbFP` **\[I\]**. The header's
//! deprecated `rgbFM` and `rgbFP` are filled with 0xFF, as MS-PST requires and Outlook's
//! files show **\[V\]**.
//!
//! # Ids
//!
//! Block BIDs advance by 4 from 4 (format notes §5); internal blocks (XBLOCK, XXBLOCK,
//! SLBLOCK, SIBLOCK) have bit 1 set. Page BIDs are a separate counter advancing by 1, as in
//! Outlook's files (page BIDs 0x176, 0x179, 0x17B … in the empty store) **\[V\]**; AMap, PMap,
//! FMap and FPMap pages carry their file offset as BID and a zero signature (MS-PST
//! 2.2.2.7.1).
//!
//! # Size limit
//!
//! The writer refuses to grow a file past [`MAX_FILE_SIZE`] (50 GiB, Outlook 2010's default
//! size cap for Unicode stores), returning [`WriteError::TooLarge`]; format notes §17 item 8.

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::Path;

use super::{MAX_BLOCK_DATA, NodeContent, SubnodeContent, WriteError};
use crate::ndb::btree::{PTYPE_BBT, PTYPE_NBT, signature};
use crate::ndb::crypt::permute_encode;
use crate::ndb::{CryptMethod, pst_crc};

/// Page size of a Unicode PST (format notes §3).
pub const PAGE_SIZE: u64 = 512;
/// Blocks are padded to a multiple of this many bytes (format notes §6).
pub const BLOCK_ALIGN: u64 = 64;
/// Size of a Unicode BLOCKTRAILER (format notes §6.1).
const BLOCK_TRAILER: usize = 16;
/// Offset of the DList page (format notes §3).
pub const DLIST_OFFSET: u64 = 0x4200;
/// Offset of the first AMap page (MS-PST 2.2.2.7.2).
pub const FIRST_AMAP: u64 = 0x4400;
/// Bytes mapped by one AMap page: 496 bytes × 8 bits × 64 bytes (MS-PST 2.2.2.7.2).
pub const AMAP_SPAN: u64 = 253_952;
/// One PMap page every this many AMap regions (MS-PST 2.2.2.7.3).
pub const AMAPS_PER_PMAP: u64 = 8;
/// Region index of the first FMap page (see the module docs; inferred).
pub const FIRST_FMAP_REGION: u64 = 128;
/// AMap regions covered by one FMap page (MS-PST FMAPPAGE).
pub const AMAPS_PER_FMAP: u64 = 496;
/// Region index of the first FPMap page (see the module docs; inferred).
pub const FIRST_FPMAP_REGION: u64 = 8192;
/// AMap regions covered by one FPMap page: 496 × 8 PMaps × 8 AMaps (inferred).
pub const AMAPS_PER_FPMAP: u64 = 31_744;
/// Largest file the writer produces: 50 GiB (see the module docs).
pub const MAX_FILE_SIZE: u64 = 50 << 30;

/// 64-byte slots per AMap page.
const SLOTS_PER_AMAP: u64 = 3968;
/// Bitmap bytes of a map page (the page minus its PAGETRAILER).
const MAP_BYTES: usize = 496;
/// Offset of the PAGETRAILER in a Unicode page.
const PAGE_TRAILER: usize = 496;
/// BIDs per XBLOCK or XXBLOCK: (8176 − 8) / 8 (MS-PST 2.2.2.8.3.2).
const XBLOCK_MAX: usize = (MAX_BLOCK_DATA - 8) / 8;
/// SLENTRYs per SLBLOCK: (8176 − 8) / 24 (MS-PST 2.2.2.8.3.3.1).
const SLBLOCK_MAX: usize = (MAX_BLOCK_DATA - 8) / 24;
/// SIENTRYs per SIBLOCK: (8176 − 8) / 16 (MS-PST 2.2.2.8.3.3.2).
const SIBLOCK_MAX: usize = (MAX_BLOCK_DATA - 8) / 16;
/// Entries per NBT leaf page: 488 / 32.
const NBT_LEAF_MAX: usize = 15;
/// Entries per BBT leaf page and per intermediate page of either tree: 488 / 24.
const BT24_MAX: usize = 20;
/// `cRef` written on every BBT entry. Outlook writes 2 for a block referenced once (one
/// reference from the BBT plus one from its user; format notes §17 item 3), and every block
/// this writer produces is referenced exactly once.
pub const BBT_CREF: u16 = 2;

/// `ptype` values (MS-PST 2.2.2.7.1) of the pages only the writer makes; the B-tree ones are
/// the reader's ([`PTYPE_BBT`], [`PTYPE_NBT`]).
const PTYPE_FMAP: u8 = 0x82;
const PTYPE_PMAP: u8 = 0x83;
const PTYPE_AMAP: u8 = 0x84;
const PTYPE_FPMAP: u8 = 0x85;
const PTYPE_DLIST: u8 = 0x86;

/// Smallest `rgnid[]` value per NID type: 0x400 for most types, 0x4000 search folders,
/// 0x10000 normal messages, 0x8000 associated messages — the values of Outlook's new empty
/// store (format notes §2.2) **\[V\]**.
fn rgnid_floor(nid_type: usize) -> u32 {
    match nid_type {
        0x03 => 0x4000,
        0x04 => 0x1_0000,
        0x08 => 0x8000,
        _ => 0x400,
    }
}

/// What [`NdbWriter::finish`] reports about the file it wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NdbSummary {
    /// Final file size (`ibFileEof`).
    pub file_size: u64,
    /// Nodes in the node B-tree.
    pub nodes: u64,
    /// Blocks in the block B-tree (data and internal blocks).
    pub blocks: u64,
    /// Bytes of node data written in external blocks (before encoding and padding).
    pub data_bytes: u64,
    /// `cLevel` of the NBT root page (0 = a single leaf).
    pub nbt_levels: u8,
    /// `cLevel` of the BBT root page.
    pub bbt_levels: u8,
    /// AMap pages (= AMap regions) in the file.
    pub amap_pages: u64,
    /// `cbAMapFree`: free bytes in all AMap regions.
    pub amap_free: u64,
    /// The root pages of the NBT and BBT (`BREFNBT`, `BREFBBT`) as (BID, offset).
    pub nbt_root: (u64, u64),
    /// See `nbt_root`.
    pub bbt_root: (u64, u64),
}

/// One NBT leaf entry kept until [`NdbWriter::finish`] (NBTENTRY, MS-PST 2.2.2.7.7.4).
#[derive(Clone, Copy, Debug)]
struct NbtEntry {
    nid: u32,
    parent: u32,
    bid_data: u64,
    bid_sub: u64,
}

/// One BBT leaf entry (BBTENTRY, MS-PST 2.2.2.7.7.3); `cRef` is always [`BBT_CREF`].
#[derive(Clone, Copy, Debug)]
struct BbtEntry {
    bid: u64,
    ib: u64,
    cb: u16,
}

/// An entry of a B-tree level being built: lowest key of the page and its BREF.
#[derive(Clone, Copy, Debug)]
struct LevelEntry {
    key: u64,
    bid: u64,
    ib: u64,
}

/// One subnode entry (SLENTRY) once its blocks are written.
#[derive(Clone, Copy, Debug)]
struct SlEntry {
    nid: u32,
    bid_data: u64,
    bid_sub: u64,
}

/// Writes the NDB layer of a new Unicode PST file (see the module docs).
///
/// Blocks go to disk through a buffered writer as nodes arrive; memory holds one 24-byte
/// entry per node and per block plus a short list of allocated extents. A failed write
/// leaves the writer unusable: later calls return an error and the partial file is left for
/// the caller to delete. Dropping the writer without [`NdbWriter::finish`] likewise leaves a
/// file with a zeroed header, which no reader accepts. Output is deterministic: the same
/// calls give a byte-identical file.
pub struct NdbWriter {
    out: BufWriter<File>,
    path: String,
    crypt: CryptMethod,
    /// Bytes written so far (the file position of the sequential writer).
    written: u64,
    /// Allocated byte ranges (blocks and B-tree pages) as (start, end), ascending, merged.
    extents: Vec<(u64, u64)>,
    nbt: Vec<NbtEntry>,
    bbt: Vec<BbtEntry>,
    /// Next block counter: BID = counter × 4 (+ 2 for internal blocks).
    next_block: u64,
    /// Next page BID.
    next_page: u64,
    rgnid: [u32; 32],
    data_bytes: u64,
    scratch: Vec<u8>,
    failed: bool,
    /// Size limit in force (at most [`MAX_FILE_SIZE`]).
    max_size: u64,
}

impl std::fmt::Debug for NdbWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NdbWriter")
            .field("path", &self.path)
            .field("written", &self.written)
            .field("nodes", &self.nbt.len())
            .field("blocks", &self.bbt.len())
            .finish()
    }
}

fn io_err(path: &str, source: std::io::Error) -> WriteError {
    WriteError::Io {
        path: path.to_string(),
        source,
    }
}

fn too_large(what: impl Into<String>) -> WriteError {
    WriteError::TooLarge(what.into())
}

/// Copies `bytes` into `buf` at `off` (offsets are constants of the layouts below).
fn put(buf: &mut [u8], off: usize, bytes: &[u8]) {
    if let Some(d) = off
        .checked_add(bytes.len())
        .and_then(|end| buf.get_mut(off..end))
    {
        d.copy_from_slice(bytes);
    }
}

/// Number of fixed map pages (AMap, PMap, FMap, FPMap) at the start of AMap region `k`.
pub fn region_fixed_pages(k: u64) -> u64 {
    1 + u64::from(k.is_multiple_of(AMAPS_PER_PMAP))
        + u64::from(is_fmap_region(k))
        + u64::from(is_fpmap_region(k))
}

/// True when AMap region `k` carries an FMap page (after its AMap and PMap).
pub fn is_fmap_region(k: u64) -> bool {
    k >= FIRST_FMAP_REGION && (k - FIRST_FMAP_REGION).is_multiple_of(AMAPS_PER_FMAP)
}

/// True when AMap region `k` carries an FPMap page (after its AMap and PMap).
pub fn is_fpmap_region(k: u64) -> bool {
    k >= FIRST_FPMAP_REGION && (k - FIRST_FPMAP_REGION).is_multiple_of(AMAPS_PER_FPMAP)
}

/// Start offset of AMap region `k` (= the offset of its AMap page).
fn region_start(k: u64) -> Option<u64> {
    k.checked_mul(AMAP_SPAN)?.checked_add(FIRST_AMAP)
}

fn align_up(v: u64, a: u64) -> Option<u64> {
    Some(v.checked_add(a - 1)? / a * a)
}

/// Builds a 512-byte page with its PAGETRAILER (MS-PST 2.2.2.7.1): `ptype` twice, `wSig`,
/// `dwCRC` over the 496 bytes before the trailer, and `bid`.
fn seal_page(page: &mut [u8; 512], ptype: u8, wsig: u16, bid: u64) {
    let crc = pst_crc(page.get(..PAGE_TRAILER).unwrap_or(&[]));
    put(page, PAGE_TRAILER, &[ptype, ptype]);
    put(page, PAGE_TRAILER + 2, &wsig.to_le_bytes());
    put(page, PAGE_TRAILER + 4, &crc.to_le_bytes());
    put(page, PAGE_TRAILER + 8, &bid.to_le_bytes());
}

/// Checks a node's content before anything is written: block sizes, XBLOCK/XXBLOCK and
/// SLBLOCK/SIBLOCK capacities, `lcbTotal` fitting 32 bits, unique subnode NIDs.
fn validate(nid: u32, c: &NodeContent) -> Result<(), WriteError> {
    if c.stream.is_some() && !c.blocks.is_empty() {
        return Err(WriteError::Unrepresentable(format!(
            "node 0x{nid:X}: data given both as blocks and as a stream"
        )));
    }
    let mut total: u64 = 0;
    for len in c.block_lens() {
        if len > MAX_BLOCK_DATA {
            return Err(WriteError::BlockTooLarge { nid, len });
        }
        total = total.saturating_add(len as u64);
    }
    if total > u64::from(u32::MAX) {
        return Err(WriteError::Unrepresentable(format!(
            "node 0x{nid:X}: {total} bytes of data exceed the 32-bit XBLOCK lcbTotal"
        )));
    }
    if c.block_count() > XBLOCK_MAX * XBLOCK_MAX {
        return Err(too_large(format!(
            "node 0x{nid:X}: {} blocks exceed one XXBLOCK ({} blocks)",
            c.block_count(),
            XBLOCK_MAX * XBLOCK_MAX
        )));
    }
    if c.subnodes.len() > SLBLOCK_MAX * SIBLOCK_MAX {
        return Err(too_large(format!(
            "node 0x{nid:X}: {} subnodes exceed one SIBLOCK ({} subnodes)",
            c.subnodes.len(),
            SLBLOCK_MAX * SIBLOCK_MAX
        )));
    }
    let mut nids: Vec<u32> = c.subnodes.iter().map(|s| s.nid).collect();
    nids.sort_unstable();
    if let Some(w) = nids.windows(2).find(|w| w.first() == w.get(1)) {
        return Err(WriteError::DuplicateNid {
            nid: w.first().copied().unwrap_or(0),
        });
    }
    for s in &c.subnodes {
        validate(s.nid, &s.content)?;
    }
    Ok(())
}

impl NdbWriter {
    /// Creates `path` (which must not exist) for a new Unicode PST with 512-byte pages.
    /// `crypt` is [`CryptMethod::None`] or [`CryptMethod::Permute`]; anything else is
    /// [`WriteError::Unrepresentable`].
    pub fn create(path: &Path, crypt: CryptMethod) -> Result<Self, WriteError> {
        let shown = path.display().to_string();
        if !matches!(crypt, CryptMethod::None | CryptMethod::Permute) {
            return Err(WriteError::Unrepresentable(format!(
                "{shown}: the writer supports no encoding and permute encoding, not {}",
                crypt.describe()
            )));
        }
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(path)
            .map_err(|e| io_err(&shown, e))?;
        let mut w = NdbWriter {
            out: BufWriter::with_capacity(1 << 20, file),
            path: shown,
            crypt,
            written: 0,
            extents: Vec::new(),
            nbt: Vec::new(),
            bbt: Vec::new(),
            next_block: 1,
            next_page: 1,
            rgnid: [0; 32],
            data_bytes: 0,
            scratch: Vec::with_capacity(MAX_BLOCK_DATA),
            failed: false,
            max_size: MAX_FILE_SIZE,
        };
        for (i, v) in w.rgnid.iter_mut().enumerate() {
            *v = rgnid_floor(i);
        }
        // Header area and DList placeholder; both are written for real in `finish`.
        w.zeros(FIRST_AMAP)?;
        Ok(w)
    }

    /// Writes the node's blocks (and subnode blocks, recursively) to the file now and records
    /// the node (`nid`, `parent_nid`, `bidData`, `bidSub`) for the node B-tree. Nodes may
    /// arrive in any NID order. A NID added twice is reported by [`NdbWriter::finish`]
    /// ([`WriteError::DuplicateNid`]); duplicate subnode NIDs are reported here.
    pub fn add_node(
        &mut self,
        nid: u32,
        parent_nid: u32,
        content: NodeContent,
    ) -> Result<(), WriteError> {
        self.check_failed()?;
        validate(nid, &content)?;
        let projected = self.projected_size(&content);
        if projected > self.max_size {
            return Err(too_large(format!(
                "{}: adding node 0x{nid:X} could grow the file to {projected} bytes, above the {}-byte limit",
                self.path, self.max_size
            )));
        }
        let r = self.write_content(&content);
        let (bid_data, bid_sub) = match r {
            Ok(v) => v,
            Err(e) => {
                self.failed = true;
                return Err(e);
            }
        };
        self.note_nid(nid);
        self.note_subnode_nids(&content.subnodes);
        self.nbt.push(NbtEntry {
            nid,
            parent: parent_nid,
            bid_data,
            bid_sub,
        });
        Ok(())
    }

    /// Lowers the file size limit below [`MAX_FILE_SIZE`] (values above it are clamped),
    /// for callers that split output into several files.
    pub fn with_max_file_size(mut self, max: u64) -> Self {
        self.max_size = max.min(MAX_FILE_SIZE);
        self
    }

    /// The file size limit in force.
    pub fn max_file_size(&self) -> u64 {
        self.max_size
    }

    /// A conservative upper bound of the final file size if `content` were added now and
    /// [`NdbWriter::finish`] called next: the blocks padded with their trailers, every
    /// internal block counted as 8 KiB, the map pages and region-end waste of every region
    /// the data may touch, both B-trees and the rounding to the end of the last region.
    /// [`NdbWriter::add_node`] refuses a node ([`WriteError::TooLarge`]) when this exceeds
    /// the limit, before writing anything, so the writer stays usable and can be finished.
    pub fn projected_size(&self, content: &NodeContent) -> u64 {
        /// Map pages (≤ 3) plus the most a region can waste at its end (< one 8 KiB block).
        const REGION_LOSS: u64 = 3 * PAGE_SIZE + 8192;
        let (bytes, blocks) = content_bound(content);
        let data = bytes.saturating_add(
            (bytes / (AMAP_SPAN - REGION_LOSS))
                .saturating_add(2)
                .saturating_mul(REGION_LOSS),
        );
        let nodes = self.nbt.len() as u64 + 1;
        let all_blocks = (self.bbt.len() as u64).saturating_add(blocks);
        let leaves = nodes.div_ceil(NBT_LEAF_MAX as u64) + all_blocks.div_ceil(BT24_MAX as u64);
        let pages = leaves + leaves / (BT24_MAX as u64 - 1) + 16;
        let tree = pages.saturating_mul(PAGE_SIZE);
        let tree = tree.saturating_add(
            (tree / (AMAP_SPAN - REGION_LOSS))
                .saturating_add(2)
                .saturating_mul(REGION_LOSS),
        );
        self.written
            .saturating_add(data)
            .saturating_add(tree)
            .saturating_add(AMAP_SPAN)
    }

    /// Nodes added so far.
    pub fn node_count(&self) -> u64 {
        self.nbt.len() as u64
    }

    /// Bytes written to the file so far (an estimate of its final size for callers that
    /// split output).
    pub fn bytes_written(&self) -> u64 {
        self.written
    }

    /// Writes the NBT and BBT (multi-level, sorted), the AMap/PMap/FMap/FPMap pages, the
    /// DList page at 0x4200, then the ROOT and HEADER with both CRCs; syncs the file to disk.
    pub fn finish(mut self) -> Result<NdbSummary, WriteError> {
        self.check_failed()?;
        let r = self.finish_inner();
        if r.is_err() {
            self.failed = true;
        }
        r
    }

    fn finish_inner(&mut self) -> Result<NdbSummary, WriteError> {
        let mut nbt = std::mem::take(&mut self.nbt);
        nbt.sort_unstable_by_key(|e| e.nid);
        if let Some(w) = nbt
            .windows(2)
            .find(|w| w.first().map(|e| e.nid) == w.get(1).map(|e| e.nid))
        {
            return Err(WriteError::DuplicateNid {
                nid: w.first().map(|e| e.nid).unwrap_or(0),
            });
        }
        let mut bbt = std::mem::take(&mut self.bbt);
        bbt.sort_unstable_by_key(|e| e.bid);

        let (nbt_root, nbt_level) = self.write_btree(
            PTYPE_NBT,
            32,
            NBT_LEAF_MAX,
            nbt.iter().map(|e| {
                let mut b = [0u8; 32];
                put(&mut b, 0, &u64::from(e.nid).to_le_bytes()); // nid (8, padded)
                put(&mut b, 8, &e.bid_data.to_le_bytes()); // bidData
                put(&mut b, 16, &e.bid_sub.to_le_bytes()); // bidSub
                put(&mut b, 24, &e.parent.to_le_bytes()); // nidParent; dwPadding 0
                (u64::from(e.nid), b)
            }),
        )?;
        let (bbt_root, bbt_level) = self.write_btree(
            PTYPE_BBT,
            24,
            BT24_MAX,
            bbt.iter().map(|e| {
                let mut b = [0u8; 32];
                put(&mut b, 0, &e.bid.to_le_bytes()); // BREF.bid
                put(&mut b, 8, &e.ib.to_le_bytes()); // BREF.ib
                put(&mut b, 16, &e.cb.to_le_bytes()); // cb
                put(&mut b, 18, &BBT_CREF.to_le_bytes()); // cRef; dwPadding 0
                (e.bid, b)
            }),
        )?;

        // End of file: the end of the last region used.
        let last = self.written.saturating_sub(1).max(FIRST_AMAP);
        let regions = (last - FIRST_AMAP) / AMAP_SPAN + 1;
        let eof = region_start(regions).ok_or_else(|| too_large("file size overflows"))?;
        if eof > self.max_size {
            return Err(too_large(format!(
                "{}: file would reach {eof} bytes, above the {}-byte limit",
                self.path, self.max_size
            )));
        }
        self.zeros(eof - self.written)?;

        // Map pages, written in place over their zero placeholders.
        let mut longest_free: Vec<u8> = Vec::with_capacity(regions as usize);
        let mut amap_free: u64 = 0;
        let mut ext = 0usize;
        for k in 0..regions {
            let rs = region_start(k).ok_or_else(|| too_large("region offset overflows"))?;
            let re = rs + AMAP_SPAN;
            let mut page = [0u8; 512];
            let fixed_slots = region_fixed_pages(k) * (PAGE_SIZE / BLOCK_ALIGN);
            set_bits(&mut page, 0, fixed_slots);
            while let Some(&(s, e)) = self.extents.get(ext) {
                if s >= re {
                    break;
                }
                let (cs, ce) = (s.max(rs), e.min(re));
                if ce > cs {
                    set_bits(
                        &mut page,
                        (cs - rs) / BLOCK_ALIGN,
                        (ce - cs).div_ceil(BLOCK_ALIGN),
                    );
                }
                if e > re {
                    break;
                }
                ext += 1;
            }
            let used: u64 = page
                .get(..MAP_BYTES)
                .unwrap_or(&[])
                .iter()
                .map(|b| u64::from(b.count_ones()))
                .sum();
            let free = SLOTS_PER_AMAP - used;
            amap_free += free * BLOCK_ALIGN;
            longest_free.push(longest_zero_run(page.get(..MAP_BYTES).unwrap_or(&[])));
            seal_page(&mut page, PTYPE_AMAP, 0, rs);
            self.write_at(rs, &page)?;
            if k.is_multiple_of(AMAPS_PER_PMAP) {
                let mut p = [0xFFu8; 512];
                seal_page(&mut p, PTYPE_PMAP, 0, rs + PAGE_SIZE);
                self.write_at(rs + PAGE_SIZE, &p)?;
            }
            if is_fpmap_region(k) {
                let mut p = [0xFFu8; 512];
                seal_page(&mut p, PTYPE_FPMAP, 0, rs + 2 * PAGE_SIZE);
                self.write_at(rs + 2 * PAGE_SIZE, &p)?;
            }
        }
        for k in 0..regions {
            if !is_fmap_region(k) {
                continue;
            }
            let rs = region_start(k).ok_or_else(|| too_large("region offset overflows"))?;
            let mut p = [0xFFu8; 512];
            for i in 0..AMAPS_PER_FMAP {
                let v = longest_free.get((k + i) as usize).copied().unwrap_or(0);
                put(&mut p, i as usize, &[v]);
            }
            seal_page(&mut p, PTYPE_FMAP, 0, rs + 2 * PAGE_SIZE);
            self.write_at(rs + 2 * PAGE_SIZE, &p)?;
        }

        // DList (MS-PST DLISTPAGE): bFlags 0, cEntDList 0 (no entries, as in Outlook's empty
        // store), ulCurrentPage = the last AMap page, where the free space is (as
        // outlook-pst's density-list rebuild writes).
        let dlist_bid = self.page_bid();
        let mut d = [0u8; 512];
        let current = u32::try_from(regions - 1).map_err(|_| too_large("AMap page count"))?;
        put(&mut d, 4, &current.to_le_bytes()); // ulCurrentPage
        seal_page(
            &mut d,
            PTYPE_DLIST,
            signature(DLIST_OFFSET, dlist_bid),
            dlist_bid,
        );
        self.write_at(DLIST_OFFSET, &d)?;

        let header = self.header(
            eof,
            region_start(regions - 1).unwrap_or(FIRST_AMAP),
            amap_free,
            nbt_root,
            bbt_root,
        );
        self.write_at(0, &header)?;
        self.out.flush().map_err(|e| io_err(&self.path, e))?;
        self.out
            .get_ref()
            .sync_all()
            .map_err(|e| io_err(&self.path, e))?;
        Ok(NdbSummary {
            file_size: eof,
            nodes: nbt.len() as u64,
            blocks: bbt.len() as u64,
            data_bytes: self.data_bytes,
            nbt_levels: nbt_level,
            bbt_levels: bbt_level,
            amap_pages: regions,
            amap_free,
            nbt_root: (nbt_root.bid, nbt_root.ib),
            bbt_root: (bbt_root.bid, bbt_root.ib),
        })
    }

    /// The 564-byte Unicode HEADER with its ROOT (MS-PST 2.2.2.6, 2.2.2.5; format notes §2.2,
    /// §2.4).
    fn header(
        &self,
        eof: u64,
        amap_last: u64,
        amap_free: u64,
        nbt: LevelEntry,
        bbt: LevelEntry,
    ) -> [u8; 564] {
        let mut h = [0u8; 564];
        put(&mut h, 0, b"!BDN"); // dwMagic
        put(&mut h, 8, b"SM"); // wMagicClient
        put(&mut h, 10, &23u16.to_le_bytes()); // wVer: Unicode
        put(&mut h, 12, &19u16.to_le_bytes()); // wVerClient
        put(&mut h, 14, &[1, 1]); // bPlatformCreate, bPlatformAccess
        // dwReserved1, dwReserved2, bidUnused: 0
        put(&mut h, 32, &self.next_page.to_le_bytes()); // bidNextP
        put(&mut h, 40, &1u32.to_le_bytes()); // dwUnique
        for (i, v) in self.rgnid.iter().enumerate() {
            put(&mut h, 44 + 4 * i, &v.to_le_bytes()); // rgnid[32]
        }
        // qwUnused 0; ROOT.dwReserved 0
        put(&mut h, 184, &eof.to_le_bytes()); // ibFileEof
        put(&mut h, 192, &amap_last.to_le_bytes()); // ibAMapLast
        put(&mut h, 200, &amap_free.to_le_bytes()); // cbAMapFree
        put(&mut h, 208, &0u64.to_le_bytes()); // cbPMapFree: every PMap bit set
        put(&mut h, 216, &nbt.bid.to_le_bytes()); // BREFNBT.bid
        put(&mut h, 224, &nbt.ib.to_le_bytes()); // BREFNBT.ib
        put(&mut h, 232, &bbt.bid.to_le_bytes()); // BREFBBT.bid
        put(&mut h, 240, &bbt.ib.to_le_bytes()); // BREFBBT.ib
        put(&mut h, 248, &[2]); // fAMapValid = VALID_AMAP2; bReserved, wReserved, dwAlign 0
        put(&mut h, 256, &[0xFF; 128]); // rgbFM
        put(&mut h, 384, &[0xFF; 128]); // rgbFP
        put(&mut h, 512, &[0x80]); // bSentinel
        let crypt = match self.crypt {
            CryptMethod::Permute => 1u8,
            _ => 0u8,
        };
        put(&mut h, 513, &[crypt]); // bCryptMethod; rgbReserved 0
        put(&mut h, 516, &(self.next_block * 4).to_le_bytes()); // bidNextB
        let partial = pst_crc(h.get(8..479).unwrap_or(&[]));
        put(&mut h, 4, &partial.to_le_bytes()); // dwCRCPartial
        let full = pst_crc(h.get(8..524).unwrap_or(&[]));
        put(&mut h, 524, &full.to_le_bytes()); // dwCRCFull; reserved bytes after it 0
        h
    }

    fn check_failed(&self) -> Result<(), WriteError> {
        if self.failed {
            return Err(io_err(
                &self.path,
                std::io::Error::other("an earlier write to this file failed"),
            ));
        }
        Ok(())
    }

    /// Raises `rgnid[nidType]` past `nid`'s index. Subnode NIDs count too: Outlook allocates
    /// attachment NIDs (type 0x05, subnodes of messages) from the same counter (the corpus's
    /// `tika_testPST.pst` has `rgnid[5]` = 0x402) **\[V\]**.
    fn note_nid(&mut self, nid: u32) {
        let t = (nid & 0x1F) as usize;
        let next = (nid >> 5) + 1;
        if let Some(v) = self.rgnid.get_mut(t)
            && *v < next
        {
            *v = next;
        }
    }

    fn note_subnode_nids(&mut self, subs: &[SubnodeContent]) {
        for s in subs {
            self.note_nid(s.nid);
            self.note_subnode_nids(&s.content.subnodes);
        }
    }

    fn page_bid(&mut self) -> u64 {
        let b = self.next_page;
        self.next_page += 1;
        b
    }

    /// Writes `n` zero bytes at the end of the file.
    fn zeros(&mut self, mut n: u64) -> Result<(), WriteError> {
        const Z: [u8; 4096] = [0; 4096];
        while n > 0 {
            let k = n.min(Z.len() as u64) as usize;
            self.out
                .write_all(Z.get(..k).unwrap_or(&[]))
                .map_err(|e| io_err(&self.path, e))?;
            self.written += k as u64;
            n -= k as u64;
        }
        Ok(())
    }

    /// Writes `bytes` at `offset` of the already-written part of the file.
    fn write_at(&mut self, offset: u64, bytes: &[u8]) -> Result<(), WriteError> {
        self.out
            .seek(SeekFrom::Start(offset))
            .and_then(|_| self.out.write_all(bytes))
            .map_err(|e| io_err(&self.path, e))
    }

    /// Reserves `size` bytes aligned to `align` at the end of the file, skipping the fixed
    /// map pages at the start of each AMap region and never crossing a region boundary.
    /// Writes zeros for the gap and returns the offset; the caller writes exactly `size`
    /// bytes next.
    fn alloc(&mut self, size: u64, align: u64) -> Result<u64, WriteError> {
        let mut pos = self.written;
        let off = loop {
            let k = (pos.max(FIRST_AMAP) - FIRST_AMAP) / AMAP_SPAN;
            let rs = region_start(k).ok_or_else(|| too_large("offset overflows"))?;
            let data_start = rs + region_fixed_pages(k) * PAGE_SIZE;
            let p = align_up(pos.max(data_start), align)
                .ok_or_else(|| too_large("offset overflows"))?;
            let end = p
                .checked_add(size)
                .ok_or_else(|| too_large("offset overflows"))?;
            if end <= rs + AMAP_SPAN {
                break p;
            }
            pos = rs + AMAP_SPAN;
        };
        let end = off + size;
        if end > self.max_size {
            return Err(too_large(format!(
                "{}: file would exceed the {}-byte limit",
                self.path, self.max_size
            )));
        }
        self.zeros(off - self.written)?;
        match self.extents.last_mut() {
            Some(last) if last.1 == off => last.1 = end,
            _ => self.extents.push((off, end)),
        }
        Ok(off)
    }

    /// Writes one block (MS-PST 2.2.2.8): data (encoded when external and the file uses
    /// permute encoding), zero padding to a multiple of 64 bytes, BLOCKTRAILER. Returns its BID.
    fn write_block(&mut self, data: &[u8], internal: bool) -> Result<u64, WriteError> {
        let cb = u16::try_from(data.len())
            .ok()
            .filter(|&c| usize::from(c) <= MAX_BLOCK_DATA)
            .ok_or(WriteError::BlockTooLarge {
                nid: 0,
                len: data.len(),
            })?;
        let total =
            (data.len() + BLOCK_TRAILER).div_ceil(BLOCK_ALIGN as usize) * BLOCK_ALIGN as usize;
        let off = self.alloc(total as u64, BLOCK_ALIGN)?;
        let bid = self.next_block * 4 + if internal { 2 } else { 0 };
        self.next_block += 1;
        let encode = !internal && self.crypt == CryptMethod::Permute;
        let stored: &[u8] = if encode {
            self.scratch.clear();
            self.scratch.extend_from_slice(data);
            permute_encode(&mut self.scratch);
            &self.scratch
        } else {
            data
        };
        let crc = pst_crc(stored);
        let mut trailer = [0u8; BLOCK_TRAILER + 64];
        let pad = total - data.len() - BLOCK_TRAILER;
        put(&mut trailer, pad, &cb.to_le_bytes()); // cb
        put(&mut trailer, pad + 2, &signature(off, bid).to_le_bytes()); // wSig
        put(&mut trailer, pad + 4, &crc.to_le_bytes()); // dwCRC
        put(&mut trailer, pad + 8, &bid.to_le_bytes()); // bid
        let tail = trailer.get(..pad + BLOCK_TRAILER).unwrap_or(&[]);
        let w = self
            .out
            .write_all(stored)
            .and_then(|_| self.out.write_all(tail));
        w.map_err(|e| io_err(&self.path, e))?;
        self.written += total as u64;
        if !internal {
            self.data_bytes += data.len() as u64;
        }
        self.bbt.push(BbtEntry { bid, ib: off, cb });
        Ok(bid)
    }

    /// Writes a node's data tree and subnode tree; returns (`bidData`, `bidSub`).
    fn write_content(&mut self, c: &NodeContent) -> Result<(u64, u64), WriteError> {
        let bid_data = match &c.stream {
            Some(blob) => self.write_stream_tree(blob)?,
            None => self.write_data_tree(&c.blocks)?,
        };
        let bid_sub = self.write_subnode_tree(&c.subnodes)?;
        Ok((bid_data, bid_sub))
    }

    /// A single data block, an XBLOCK over up to 1,021 blocks, or an XXBLOCK over XBLOCKs
    /// (MS-PST 2.2.2.8.3.2; format notes §6.2). 0 when there is no data.
    fn write_data_tree(&mut self, blocks: &[Vec<u8>]) -> Result<u64, WriteError> {
        match blocks {
            [] => Ok(0),
            [one] => self.write_block(one, false),
            _ if blocks.len() <= XBLOCK_MAX => self.write_xblock(blocks),
            _ => {
                let mut xbids = Vec::with_capacity(blocks.len().div_ceil(XBLOCK_MAX));
                let mut total: u64 = 0;
                for chunk in blocks.chunks(XBLOCK_MAX) {
                    xbids.push(self.write_xblock(chunk)?);
                    total += chunk.iter().map(|b| b.len() as u64).sum::<u64>();
                }
                self.write_xblock_of(2, &xbids, total)
            }
        }
    }

    /// The data tree of a stream read from `blob`: the blocks, XBLOCKs and XXBLOCK that
    /// [`NdbWriter::write_data_tree`] writes for the same bytes, in the same order, cut into
    /// [`MAX_BLOCK_DATA`]-byte blocks as the blob's pieces arrive, so that the blob is never
    /// held whole. A blob whose source fails, or gives other than its stated length (the input
    /// changed under the run), fails the node.
    fn write_stream_tree(&mut self, blob: &mailmig_ir::Blob) -> Result<u64, WriteError> {
        let len = blob.len();
        let count = len.div_ceil(MAX_BLOCK_DATA);
        // Over one XBLOCK's worth, each run of XBLOCK_MAX blocks gets its XBLOCK as soon as
        // it is complete, as `write_data_tree` orders them.
        let two_levels = count > XBLOCK_MAX;
        let mut tree = StreamTree::default();
        let mut buf: Vec<u8> = Vec::with_capacity(MAX_BLOCK_DATA.min(len));
        let mut failed: Option<WriteError> = None;
        let read = blob.pieces(&mut |mut piece| {
            if tree.total + (buf.len() + piece.len()) as u64 > len as u64 {
                failed = Some(WriteError::Unrepresentable(format!(
                    "attachment data gave more than the {len} bytes stated"
                )));
                return Err(std::io::Error::other("too many bytes"));
            }
            while !piece.is_empty() {
                let take = (MAX_BLOCK_DATA - buf.len()).min(piece.len());
                let (head, rest) = piece.split_at(take);
                buf.extend_from_slice(head);
                piece = rest;
                if buf.len() == MAX_BLOCK_DATA {
                    if let Err(e) = self.stream_leaf(&mut tree, &buf, two_levels) {
                        failed = Some(e);
                        return Err(std::io::Error::other("the PST writer failed"));
                    }
                    buf.clear();
                }
            }
            Ok(())
        });
        if let Some(e) = failed {
            return Err(e);
        }
        read.map_err(|e| {
            WriteError::Unrepresentable(format!("attachment data could not be read: {e}"))
        })?;
        if !buf.is_empty() {
            self.stream_leaf(&mut tree, &buf, two_levels)?;
        }
        if tree.total != len as u64 {
            return Err(WriteError::Unrepresentable(format!(
                "attachment data gave {} bytes where {len} were stated",
                tree.total
            )));
        }
        if tree.xbids.is_empty() {
            return match tree.leaves.as_slice() {
                [] => Ok(0),
                [one] => Ok(*one),
                _ => self.write_xblock_of(1, &tree.leaves, tree.total),
            };
        }
        let mut xbids = std::mem::take(&mut tree.xbids);
        if !tree.leaves.is_empty() {
            xbids.push(self.write_xblock_of(1, &tree.leaves, tree.run)?);
        }
        self.write_xblock_of(2, &xbids, tree.total)
    }

    /// Writes one data block of a [`NdbWriter::write_stream_tree`]; in a two-level tree,
    /// writes the XBLOCK over each complete run of [`XBLOCK_MAX`] blocks.
    fn stream_leaf(
        &mut self,
        tree: &mut StreamTree,
        data: &[u8],
        two_levels: bool,
    ) -> Result<(), WriteError> {
        tree.leaves.push(self.write_block(data, false)?);
        tree.total += data.len() as u64;
        tree.run += data.len() as u64;
        if two_levels && tree.leaves.len() == XBLOCK_MAX {
            let run = std::mem::take(&mut tree.leaves);
            tree.xbids.push(self.write_xblock_of(1, &run, tree.run)?);
            tree.run = 0;
        }
        Ok(())
    }

    fn write_xblock(&mut self, blocks: &[Vec<u8>]) -> Result<u64, WriteError> {
        let mut bids = Vec::with_capacity(blocks.len());
        let mut total: u64 = 0;
        for b in blocks {
            bids.push(self.write_block(b, false)?);
            total += b.len() as u64;
        }
        self.write_xblock_of(1, &bids, total)
    }

    /// XBLOCK (`cLevel` 1) or XXBLOCK (`cLevel` 2): btype 0x01, cLevel, cEnt, lcbTotal, rgbid.
    fn write_xblock_of(&mut self, level: u8, bids: &[u64], total: u64) -> Result<u64, WriteError> {
        let cent = u16::try_from(bids.len()).map_err(|_| too_large("XBLOCK entries"))?;
        let lcb = u32::try_from(total).map_err(|_| {
            WriteError::Unrepresentable(format!("{total} bytes exceed the 32-bit lcbTotal"))
        })?;
        let mut b = Vec::with_capacity(8 + 8 * bids.len());
        b.push(0x01); // btype
        b.push(level); // cLevel
        b.extend_from_slice(&cent.to_le_bytes()); // cEnt
        b.extend_from_slice(&lcb.to_le_bytes()); // lcbTotal
        for id in bids {
            b.extend_from_slice(&id.to_le_bytes()); // rgbid
        }
        self.write_block(&b, true)
    }

    /// An SLBLOCK, or an SIBLOCK over SLBLOCKs when there are more than 340 subnodes
    /// (MS-PST 2.2.2.8.3.3; format notes §6.3). Subnodes are written in NID order. 0 when
    /// there are none.
    fn write_subnode_tree(&mut self, subs: &[SubnodeContent]) -> Result<u64, WriteError> {
        if subs.is_empty() {
            return Ok(0);
        }
        let mut order: Vec<&SubnodeContent> = subs.iter().collect();
        order.sort_unstable_by_key(|s| s.nid);
        let mut entries = Vec::with_capacity(order.len());
        for s in order {
            let (bid_data, bid_sub) = self.write_content(&s.content)?;
            entries.push(SlEntry {
                nid: s.nid,
                bid_data,
                bid_sub,
            });
        }
        if entries.len() <= SLBLOCK_MAX {
            return self.write_slblock(&entries);
        }
        let mut si = Vec::with_capacity(entries.len().div_ceil(SLBLOCK_MAX));
        for chunk in entries.chunks(SLBLOCK_MAX) {
            let bid = self.write_slblock(chunk)?;
            si.push((chunk.first().map(|e| e.nid).unwrap_or(0), bid));
        }
        let cent = u16::try_from(si.len()).map_err(|_| too_large("SIBLOCK entries"))?;
        let mut b = Vec::with_capacity(8 + 16 * si.len());
        b.extend_from_slice(&[0x02, 0x01]); // btype, cLevel 1
        b.extend_from_slice(&cent.to_le_bytes()); // cEnt
        b.extend_from_slice(&[0; 4]); // dwPadding
        for (nid, bid) in si {
            b.extend_from_slice(&u64::from(nid).to_le_bytes()); // SIENTRY.nid (8, padded)
            b.extend_from_slice(&bid.to_le_bytes()); // SIENTRY.bid
        }
        self.write_block(&b, true)
    }

    /// SLBLOCK: btype 0x02, cLevel 0, cEnt, dwPadding, SLENTRY {nid, bidData, bidSub}.
    fn write_slblock(&mut self, entries: &[SlEntry]) -> Result<u64, WriteError> {
        let cent = u16::try_from(entries.len()).map_err(|_| too_large("SLBLOCK entries"))?;
        let mut b = Vec::with_capacity(8 + 24 * entries.len());
        b.extend_from_slice(&[0x02, 0x00]); // btype, cLevel 0
        b.extend_from_slice(&cent.to_le_bytes()); // cEnt
        b.extend_from_slice(&[0; 4]); // dwPadding
        for e in entries {
            b.extend_from_slice(&u64::from(e.nid).to_le_bytes()); // nid (8, padded)
            b.extend_from_slice(&e.bid_data.to_le_bytes()); // bidData
            b.extend_from_slice(&e.bid_sub.to_le_bytes()); // bidSub
        }
        self.write_block(&b, true)
    }

    /// Writes one B-tree bottom-up (MS-PST 2.2.2.7.7): full leaf pages of `leaf_max` entries
    /// of `leaf_size` bytes, then levels of BTENTRY pages until one root page remains.
    /// Returns the root's BREF (as a [`LevelEntry`]) and its `cLevel`.
    fn write_btree(
        &mut self,
        ptype: u8,
        leaf_size: usize,
        leaf_max: usize,
        entries: impl Iterator<Item = (u64, [u8; 32])>,
    ) -> Result<(LevelEntry, u8), WriteError> {
        let mut level: Vec<LevelEntry> = Vec::new();
        let mut page = [0u8; 512];
        let mut n = 0usize;
        let mut first_key = 0u64;
        for (key, bytes) in entries {
            if n == 0 {
                first_key = key;
            }
            put(
                &mut page,
                n * leaf_size,
                bytes.get(..leaf_size).unwrap_or(&[]),
            );
            n += 1;
            if n == leaf_max {
                level.push(
                    self.write_btpage(&mut page, ptype, n, leaf_max, leaf_size, 0, first_key)?,
                );
                page = [0u8; 512];
                n = 0;
            }
        }
        if n > 0 || level.is_empty() {
            level.push(self.write_btpage(&mut page, ptype, n, leaf_max, leaf_size, 0, first_key)?);
        }
        let mut clevel = 0u8;
        while level.len() > 1 {
            clevel = clevel
                .checked_add(1)
                .ok_or_else(|| too_large("B-tree depth"))?;
            let mut next = Vec::with_capacity(level.len().div_ceil(BT24_MAX));
            for chunk in level.chunks(BT24_MAX) {
                let mut p = [0u8; 512];
                for (i, e) in chunk.iter().enumerate() {
                    put(&mut p, i * 24, &e.key.to_le_bytes()); // btkey
                    put(&mut p, i * 24 + 8, &e.bid.to_le_bytes()); // BREF.bid
                    put(&mut p, i * 24 + 16, &e.ib.to_le_bytes()); // BREF.ib
                }
                let key = chunk.first().map(|e| e.key).unwrap_or(0);
                next.push(self.write_btpage(
                    &mut p,
                    ptype,
                    chunk.len(),
                    BT24_MAX,
                    24,
                    clevel,
                    key,
                )?);
            }
            level = next;
        }
        let root = level
            .first()
            .copied()
            .ok_or_else(|| too_large("empty B-tree"))?;
        Ok((root, clevel))
    }

    /// Fills in `cEnt`, `cEntMax`, `cbEnt`, `cLevel` and the trailer of a BTPAGE, places and
    /// writes it.
    #[allow(clippy::too_many_arguments)]
    fn write_btpage(
        &mut self,
        page: &mut [u8; 512],
        ptype: u8,
        cent: usize,
        cent_max: usize,
        cb_ent: usize,
        clevel: u8,
        first_key: u64,
    ) -> Result<LevelEntry, WriteError> {
        put(
            page,
            488,
            &[cent as u8, cent_max as u8, cb_ent as u8, clevel],
        ); // cEnt, cEntMax, cbEnt, cLevel; dwPadding 0
        let ib = self.alloc(PAGE_SIZE, PAGE_SIZE)?;
        let bid = self.page_bid();
        seal_page(page, ptype, signature(ib, bid), bid);
        self.out
            .write_all(page)
            .map_err(|e| io_err(&self.path, e))?;
        self.written += PAGE_SIZE;
        Ok(LevelEntry {
            key: first_key,
            bid,
            ib,
        })
    }
}

/// A data tree being written from a stream: the BIDs of the data blocks not yet under an
/// XBLOCK, the XBLOCKs written, and the byte counts of the whole tree and of the current run.
#[derive(Default)]
struct StreamTree {
    leaves: Vec<u64>,
    xbids: Vec<u64>,
    total: u64,
    run: u64,
}

/// Upper bound of the bytes and blocks a node's content occupies: each block with its
/// trailer and padding, each internal block (XBLOCK, XXBLOCK, SLBLOCK, SIBLOCK) as 8 KiB.
fn content_bound(c: &NodeContent) -> (u64, u64) {
    let mut bytes: u64 = 0;
    let count = c.block_count();
    let mut blocks = count as u64;
    for len in c.block_lens() {
        bytes = bytes
            .saturating_add(((len + BLOCK_TRAILER) as u64).div_ceil(BLOCK_ALIGN) * BLOCK_ALIGN);
    }
    let mut internal = 0u64;
    if count > 1 {
        internal += (count as u64).div_ceil(XBLOCK_MAX as u64);
        internal += u64::from(count > XBLOCK_MAX);
    }
    if !c.subnodes.is_empty() {
        internal += (c.subnodes.len() as u64).div_ceil(SLBLOCK_MAX as u64);
        internal += u64::from(c.subnodes.len() > SLBLOCK_MAX);
    }
    blocks += internal;
    bytes = bytes.saturating_add(internal * 8192);
    for s in &c.subnodes {
        let (b, n) = content_bound(&s.content);
        bytes = bytes.saturating_add(b);
        blocks = blocks.saturating_add(n);
    }
    (bytes, blocks)
}

/// Longest run of zero bits (free slots) in an AMap bitmap, most significant bit first,
/// capped at 255 (an FMap entry, MS-PST FMAPPAGE).
fn longest_zero_run(bits: &[u8]) -> u8 {
    let (mut best, mut run) = (0u32, 0u32);
    for &b in bits {
        if b == 0 {
            run += 8;
        } else if b == 0xFF {
            run = 0;
        } else {
            for i in 0..8 {
                if b & (0x80 >> i) == 0 {
                    run += 1;
                } else {
                    run = 0;
                }
                best = best.max(run);
            }
        }
        best = best.max(run);
        if best >= 255 {
            return 255;
        }
    }
    best as u8
}

/// Sets `count` bits from bit `first` of a map page, most significant bit first (MS-PST
/// 2.2.2.7.2; checked against Outlook's empty store).
fn set_bits(page: &mut [u8; 512], first: u64, count: u64) {
    let end = (first + count).min(SLOTS_PER_AMAP);
    let mut s = first;
    while s < end {
        if s.is_multiple_of(8) && end - s >= 8 {
            if let Some(b) = page.get_mut((s / 8) as usize) {
                *b = 0xFF;
            }
            s += 8;
        } else {
            if let Some(b) = page.get_mut((s / 8) as usize) {
                *b |= 0x80 >> (s % 8);
            }
            s += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_pages_per_region() {
        // Region 0: AMap + PMap; regions 1-7: AMap only; region 8: AMap + PMap.
        assert_eq!(region_fixed_pages(0), 2);
        assert_eq!(region_fixed_pages(1), 1);
        assert_eq!(region_fixed_pages(7), 1);
        assert_eq!(region_fixed_pages(8), 2);
        // First FMap: region 128, after its AMap and PMap, at 0x1F04800.
        assert!(is_fmap_region(128) && !is_fmap_region(127) && !is_fmap_region(129));
        assert_eq!(region_fixed_pages(128), 3);
        assert_eq!(
            region_start(128).map(|s| s + 2 * PAGE_SIZE),
            Some(0x1F0_4800)
        );
        assert!(is_fmap_region(128 + 496) && !is_fmap_region(128 + 495));
        // First FPMap: region 8192 at 0x7C004800; never in an FMap region.
        assert!(is_fpmap_region(8192) && !is_fmap_region(8192));
        assert_eq!(region_fixed_pages(8192), 3);
        assert_eq!(
            region_start(8192).map(|s| s + 2 * PAGE_SIZE),
            Some(0x7C00_4800)
        );
        for j in 0..8 {
            assert!(!is_fmap_region(8192 + j * AMAPS_PER_FPMAP));
        }
    }

    #[test]
    fn bits_most_significant_first() {
        let mut p = [0u8; 512];
        set_bits(&mut p, 0, 16);
        set_bits(&mut p, 17, 3);
        set_bits(&mut p, 30, 12);
        assert_eq!(&p[..6], &[0xFF, 0xFF, 0x70, 0x03, 0xFF, 0xC0]);
        // Never past the 3,968 slots of one AMap.
        set_bits(&mut p, 3960, 100);
        assert_eq!(p[495], 0xFF);
        assert_eq!(p[496], 0);
    }

    #[test]
    fn fmap_entry_is_longest_free_run() {
        assert_eq!(longest_zero_run(&[0xFF, 0xF0, 0x00, 0x0F, 0xFF]), 16);
        assert_eq!(longest_zero_run(&[0x81, 0xFF]), 6);
        assert_eq!(longest_zero_run(&[0xFF; 4]), 0);
        assert_eq!(longest_zero_run(&[0u8; 496]), 255);
        assert_eq!(longest_zero_run(&[0x80, 0, 0, 0, 0x01]), 38);
    }

    #[test]
    fn signature_is_xor_of_halves() {
        // ib 0x4200, bid 0x17F: Outlook's empty store's DList page carries wSig 0x437F.
        assert_eq!(signature(0x4200, 0x17F), 0x437F);
        assert_eq!(signature(0x1_0000, 0x0001_0001), 0x0001);
    }
}
