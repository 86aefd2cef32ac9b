//! LTP builders (MS-PST 2.3; format notes §8, §9 and §17 item 5): heap-on-node pages, BTHs,
//! property contexts, table contexts and the named-property map, produced as
//! [`NodeContent`] values for the NDB writer.
//!
//! Layout choices (all within what MS-PST allows; the reader in [`crate::ltp`] reads them back):
//!
//! * heap allocations are packed in arrival order; a new heap page (block) starts when the next
//!   allocation, plus the page map, would not fit in [`MAX_BLOCK_DATA`] bytes;
//! * blocks carry `HNHDR` (block 0), `HNBITMAPHDR` (blocks 8, 136, 264, …) or `HNPAGEHDR`;
//!   `cFree` is 0 because a write-once heap never frees (Outlook's own files also carry 0,
//!   format notes §8.1); the fill levels describe the room left up to [`MAX_BLOCK_DATA`],
//!   one nibble per block, the low nibble first — MS-PST 2.3.1.2 does not state the order;
//!   Outlook-written corpus files agree (tika_testPST_variousBodyTypes: `0x0B` for a full
//!   block 0 followed by an almost empty block 1);
//! * values larger than [`MAX_HEAP_ALLOC`] go to subnodes of type `NID_TYPE_LTP` (0x1F), as
//!   Outlook does (subnodes `0x…1F` in the corpus files).

use std::collections::{BTreeMap, HashMap};

use super::{MAX_BLOCK_DATA, NodeContent, SubnodeContent, WriteError};
use crate::ltp::nameid::{PS_MAPI, PS_PUBLIC_STRINGS};
use crate::ltp::{SIG_BTH, SIG_PC, SIG_TC, fixed_size, is_inline_type};
use crate::messaging::props::PT_OBJECT;

/// Largest heap allocation (MS-PST 2.3.1: 3,580 bytes); larger values live in subnodes.
pub const MAX_HEAP_ALLOC: usize = 3580;

/// `NID_TYPE_LTP`, the NID type of subnodes holding large property values and row matrices.
pub const NID_TYPE_LTP: u8 = 0x1F;

/// Most allocations one heap page can index (`hidIndex` is 11 bits, MS-PST 2.3.1.1).
const MAX_ALLOCS_PER_PAGE: usize = 0x7FF;

/// Allocates subnode NIDs local to one node: index 0x401 upward, shared by every NID type, as
/// the corpus files show (`0x8025` attachment, `0x803F` value, …).
#[derive(Clone, Debug)]
pub struct SubnodeIds {
    next: u32,
}

impl Default for SubnodeIds {
    fn default() -> Self {
        SubnodeIds { next: 0x401 }
    }
}

impl SubnodeIds {
    /// A fresh allocator.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next NID of type `nid_type` (MS-PST 2.2.2.1: index << 5 | type).
    pub fn next(&mut self, nid_type: u8) -> Result<u32, WriteError> {
        let idx = self.next;
        if idx >= 1 << 27 {
            return Err(WriteError::TooLarge("subnode NID space exhausted".into()));
        }
        self.next += 1;
        Ok((idx << 5) | u32::from(nid_type & 0x1F))
    }
}

/// One page (block) of a heap under construction.
#[derive(Clone, Debug, Default)]
struct HeapPage {
    /// Allocation bytes, starting right after the page header.
    data: Vec<u8>,
    /// End offset (relative to `data`) of each allocation.
    ends: Vec<usize>,
}

/// Size of the header at the start of heap block `i`: `HNHDR` (12) for block 0, `HNBITMAPHDR`
/// (66) for blocks 8, 136, 264, …, `HNPAGEHDR` (2) otherwise (MS-PST 2.3.1.2–2.3.1.4).
fn page_header_len(i: usize) -> usize {
    if i == 0 {
        12
    } else if i >= 8 && (i - 8).is_multiple_of(128) {
        66
    } else {
        2
    }
}

/// `FILL_LEVEL` of a block with `free` bytes left (MS-PST 2.3.1.2).
fn fill_level(free: usize) -> u8 {
    match free {
        3584.. => 0x0,
        2560..=3583 => 0x1,
        2048..=2559 => 0x2,
        1792..=2047 => 0x3,
        1536..=1791 => 0x4,
        1280..=1535 => 0x5,
        1024..=1279 => 0x6,
        768..=1023 => 0x7,
        512..=767 => 0x8,
        256..=511 => 0x9,
        128..=255 => 0xA,
        64..=127 => 0xB,
        32..=63 => 0xC,
        16..=31 => 0xD,
        8..=15 => 0xE,
        _ => 0xF,
    }
}

fn put16(b: &mut [u8], o: usize, v: u16) {
    if let Some(d) = b.get_mut(o..o + 2) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

fn put32(b: &mut [u8], o: usize, v: u32) {
    if let Some(d) = b.get_mut(o..o + 4) {
        d.copy_from_slice(&v.to_le_bytes());
    }
}

/// A heap-on-node under construction (MS-PST 2.3.1; format notes §8.1).
#[derive(Clone, Debug)]
pub struct HeapBuilder {
    client_sig: u8,
    user_root: u32,
    pages: Vec<HeapPage>,
}

impl HeapBuilder {
    /// An empty heap whose `bClientSig` is `client_sig` (0xBC PC, 0x7C TC, 0xB5 BTH).
    pub fn new(client_sig: u8) -> Self {
        HeapBuilder {
            client_sig,
            user_root: 0,
            pages: vec![HeapPage::default()],
        }
    }

    /// Sets `hidUserRoot`.
    pub fn set_user_root(&mut self, hid: u32) {
        self.user_root = hid;
    }

    /// Bytes a page would need with `data` bytes in `n` allocations (header, data, one byte of
    /// padding at most to align the page map, `cAlloc`, `cFree`, `rgibAlloc[n + 1]`).
    fn page_need(index: usize, data: usize, n: usize) -> usize {
        page_header_len(index) + data + 1 + 4 + 2 * (n + 1)
    }

    /// Allocates `bytes` and returns its HID (`hidIndex` 1-based, `hidBlockIndex` = page).
    pub fn alloc(&mut self, bytes: &[u8]) -> Result<u32, WriteError> {
        if bytes.len() > MAX_HEAP_ALLOC {
            return Err(WriteError::Unrepresentable(format!(
                "heap allocation of {} bytes exceeds {MAX_HEAP_ALLOC}",
                bytes.len()
            )));
        }
        let last = self.pages.len() - 1;
        let fits = self.pages.last().is_some_and(|p| {
            p.ends.len() < MAX_ALLOCS_PER_PAGE
                && Self::page_need(last, p.data.len() + bytes.len(), p.ends.len() + 1)
                    <= MAX_BLOCK_DATA
        });
        if !fits {
            if self.pages.len() >= 0xFFFF {
                return Err(WriteError::TooLarge("heap exceeds 65,535 pages".into()));
            }
            self.pages.push(HeapPage::default());
        }
        let block = self.pages.len() - 1;
        let page = self
            .pages
            .last_mut()
            .ok_or_else(|| WriteError::Unrepresentable("heap has no page".into()))?;
        page.data.extend_from_slice(bytes);
        page.ends.push(page.data.len());
        let index = page.ends.len() as u32;
        Ok((index << 5) | ((block as u32) << 16))
    }

    /// The page and the byte range in its data of allocation `hid` (MS-PST 2.3.1.1: block
    /// index in the high 16 bits, 1-based allocation index above the 5 type bits).
    fn slot(&self, hid: u32) -> Option<(usize, std::ops::Range<usize>)> {
        let index = ((hid >> 5) & 0x7FF) as usize;
        let block = (hid >> 16) as usize;
        let page = self.pages.get(block)?;
        let end = *page.ends.get(index.checked_sub(1)?)?;
        let start = match index {
            1 => 0,
            i => *page.ends.get(i - 2)?,
        };
        Some((block, start..end))
    }

    /// Overwrites the allocation `hid` with `bytes` of the same length (used to fill in a
    /// header allocated before what it points to).
    pub fn replace(&mut self, hid: u32, bytes: &[u8]) -> Result<(), WriteError> {
        let bad = || WriteError::Unrepresentable(format!("HID 0x{hid:08X} not replaceable"));
        let (page, range) = self.slot(hid).ok_or_else(bad)?;
        let slot = self
            .pages
            .get_mut(page)
            .and_then(|p| p.data.get_mut(range))
            .ok_or_else(bad)?;
        if slot.len() != bytes.len() {
            return Err(bad());
        }
        slot.copy_from_slice(bytes);
        Ok(())
    }

    /// Number of heap pages so far.
    pub fn page_count(&self) -> usize {
        self.pages.len()
    }

    /// The heap's blocks: headers, allocations, page maps and fill levels.
    pub fn finish(self) -> Vec<Vec<u8>> {
        let HeapBuilder {
            client_sig,
            user_root,
            pages,
        } = self;
        let mut blocks: Vec<Vec<u8>> = Vec::with_capacity(pages.len());
        // Each page is dropped as its block is made: a large table's heap is not held twice.
        for (i, page) in pages.into_iter().enumerate() {
            let hl = page_header_len(i);
            let mut b = vec![0u8; hl];
            b.extend_from_slice(&page.data);
            if b.len() % 2 == 1 {
                b.push(0);
            }
            let ib_hnpm = b.len();
            put16(&mut b, 0, ib_hnpm as u16); // ibHnpm
            b.extend_from_slice(&(page.ends.len() as u16).to_le_bytes()); // cAlloc
            b.extend_from_slice(&0u16.to_le_bytes()); // cFree: nothing is ever freed
            b.extend_from_slice(&(hl as u16).to_le_bytes()); // rgibAlloc[0]
            for e in &page.ends {
                b.extend_from_slice(&((hl + e) as u16).to_le_bytes()); // rgibAlloc[i]
            }
            blocks.push(b);
        }
        let levels: Vec<u8> = blocks
            .iter()
            .map(|b| fill_level(MAX_BLOCK_DATA.saturating_sub(b.len())))
            .collect();
        let nibbles = |from: usize, count: usize| -> Vec<u8> {
            let mut out = vec![0u8; count / 2];
            for k in 0..count {
                let lvl = levels.get(from + k).copied().unwrap_or(0);
                if let Some(byte) = out.get_mut(k / 2) {
                    *byte |= if k % 2 == 0 { lvl } else { lvl << 4 };
                }
            }
            out
        };
        let first = nibbles(0, 8);
        let mut bitmaps = Vec::new();
        for i in (8..blocks.len()).step_by(128) {
            bitmaps.push((i, nibbles(i, 128)));
        }
        if let Some(b0) = blocks.first_mut() {
            if let Some(s) = b0.get_mut(2..4) {
                s.copy_from_slice(&[0xEC, client_sig]); // bSig, bClientSig
            }
            put32(b0, 4, user_root); // hidUserRoot
            if let Some(s) = b0.get_mut(8..12) {
                s.copy_from_slice(&first); // rgbFillLevel
            }
        }
        for (i, fl) in bitmaps {
            if let Some(s) = blocks.get_mut(i).and_then(|b| b.get_mut(2..66)) {
                s.copy_from_slice(&fl); // HNBITMAPHDR rgbFillLevel
            }
        }
        blocks
    }
}

/// Builds a BTH (MS-PST 2.3.2; format notes §8.3) in `heap` over `records` (each `cb_key`
/// key bytes, little-endian, then `cb_ent` data bytes). Records are sorted by key here; leaves
/// and index levels are split so that no node exceeds one heap allocation. Returns the HID of
/// the `BTHHEADER`.
pub fn build_bth(
    heap: &mut HeapBuilder,
    cb_key: u8,
    cb_ent: u8,
    mut records: Vec<Vec<u8>>,
) -> Result<u32, WriteError> {
    let kl = usize::from(cb_key);
    let rs = kl + usize::from(cb_ent);
    if !matches!(cb_key, 2 | 4 | 8 | 16) || cb_ent > 32 || records.iter().any(|r| r.len() != rs) {
        return Err(WriteError::Unrepresentable(format!(
            "BTH record layout cbKey {cb_key} cbEnt {cb_ent}"
        )));
    }
    let key = |r: &[u8]| -> u128 {
        let mut a = [0u8; 16];
        if let (Some(d), Some(s)) = (a.get_mut(..kl), r.get(..kl)) {
            d.copy_from_slice(s);
        }
        u128::from_le_bytes(a)
    };
    records.sort_by_key(|r| key(r));
    if records.windows(2).any(|w| match w {
        [a, b] => key(a) == key(b),
        _ => false,
    }) {
        return Err(WriteError::Unrepresentable("duplicate BTH key".into()));
    }
    let header = heap.alloc(&[0u8; 8])?;
    let mut levels = 0u8;
    let mut root = 0u32;
    if !records.is_empty() {
        let mut level: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        for chunk in records.chunks(MAX_HEAP_ALLOC / rs) {
            let first = chunk.first().map(|r| r.get(..kl).unwrap_or(&[]).to_vec());
            let hid = heap.alloc(&chunk.concat())?;
            level.push((first.unwrap_or_default(), hid.to_le_bytes().to_vec()));
        }
        while level.len() > 1 {
            levels = levels
                .checked_add(1)
                .filter(|l| *l <= 8)
                .ok_or_else(|| WriteError::TooLarge("BTH deeper than 8 levels".into()))?;
            let mut next = Vec::new();
            for chunk in level.chunks(MAX_HEAP_ALLOC / (kl + 4)) {
                let bytes: Vec<u8> = chunk
                    .iter()
                    .flat_map(|(k, h)| [k.clone(), h.clone()].concat())
                    .collect();
                let first = chunk.first().map(|(k, _)| k.clone()).unwrap_or_default();
                let hid = heap.alloc(&bytes)?;
                next.push((first, hid.to_le_bytes().to_vec()));
            }
            level = next;
        }
        root = level
            .first()
            .and_then(|(_, h)| h.get(..4)?.try_into().ok())
            .map(u32::from_le_bytes)
            .unwrap_or(0);
    }
    let mut h = vec![SIG_BTH, cb_key, cb_ent, levels]; // bType, cbKey, cbEnt, bIdxLevels
    h.extend_from_slice(&root.to_le_bytes()); // hidRoot
    heap.replace(header, &h)?;
    Ok(header)
}

/// A property value ready to be stored: the bytes of the value as MS-PST stores them
/// (little-endian integers, UTF-16LE strings without terminator, FILETIME ticks, the packed
/// multi-valued layout of format notes §8.4), or a subnode (`PtypObject`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PropData {
    /// Value bytes.
    Bytes(Vec<u8>),
    /// Value bytes held as a blob (attachment data): stored like [`PropData::Bytes`], a
    /// value too large for the heap going to its subnode as a [`NodeContent::stream`] without
    /// being copied.
    Blob(mailmig_ir::Blob),
    /// A `PtypObject` value: the subnode (an embedded message or OLE storage) and the size
    /// recorded next to its NID (MS-PST 2.3.3.5).
    Object {
        /// The subnode's NID.
        nid: u32,
        /// `ulSize`.
        size: u32,
        /// The subnode.
        content: NodeContent,
    },
}

/// One property to write: its tag (`id << 16 | type`) and value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PropEntry {
    /// Property tag.
    pub tag: u32,
    /// Value.
    pub data: PropData,
}

impl PropEntry {
    /// A property with value bytes.
    pub fn new(tag: u32, bytes: Vec<u8>) -> Self {
        PropEntry {
            tag,
            data: PropData::Bytes(bytes),
        }
    }
}

/// Stores a variable-size value: in the heap when it fits one allocation, otherwise in a new
/// `NID_TYPE_LTP` subnode. Returns the HNID (MS-PST 2.3.3.2).
fn store_variable(
    heap: &mut HeapBuilder,
    bytes: &[u8],
    subnodes: &mut Vec<SubnodeContent>,
    ids: &mut SubnodeIds,
) -> Result<u32, WriteError> {
    if bytes.is_empty() {
        // An empty value is hidNull (HID 0, MS-PST 2.3.1.1), not a zero-length allocation;
        // libpst reads the latter as a present empty value where the original had none.
        Ok(0)
    } else if bytes.len() <= MAX_HEAP_ALLOC {
        heap.alloc(bytes)
    } else {
        let nid = ids.next(NID_TYPE_LTP)?;
        subnodes.push(SubnodeContent {
            nid,
            content: NodeContent::from_stream(bytes),
        });
        Ok(nid)
    }
}

fn inline_value(t: u16, bytes: &[u8]) -> u32 {
    let n = match t {
        0x0002 => 2,
        0x000B => 1,
        _ => 4,
    };
    let mut a = [0u8; 4];
    for (d, s) in a.iter_mut().zip(bytes.iter().take(n)) {
        *d = *s;
    }
    u32::from_le_bytes(a)
}

/// Builds a property context (MS-PST 2.3.3; format notes §8.4): a heap with a BTH of
/// `cbKey` 2 / `cbEnt` 6. Values of the inline types are stored in the record; other values
/// in the heap, or in subnodes when larger than [`MAX_HEAP_ALLOC`]; `PtypObject` values get
/// their subnode and an 8-byte (NID, size) reference. When two entries share a property id
/// the first wins. New subnodes are appended to `subnodes`, with NIDs from `ids`.
pub fn build_pc(
    props: Vec<PropEntry>,
    subnodes: &mut Vec<SubnodeContent>,
    ids: &mut SubnodeIds,
) -> Result<Vec<Vec<u8>>, WriteError> {
    let mut heap = HeapBuilder::new(SIG_PC);
    let mut by_id: BTreeMap<u16, PropEntry> = BTreeMap::new();
    for p in props {
        by_id.entry((p.tag >> 16) as u16).or_insert(p);
    }
    // The BTH header goes first so that hidUserRoot is HID 0x20, as in Outlook's files.
    let mut records = Vec::with_capacity(by_id.len());
    let mut values = Vec::with_capacity(by_id.len());
    for (id, p) in by_id {
        let t = (p.tag & 0xFFFF) as u16;
        values.push((id, t, p.data));
    }
    let placeholder = heap.alloc(&[0u8; 8])?;
    for (id, t, data) in values {
        let v = match data {
            PropData::Bytes(b) if is_inline_type(t) => inline_value(t, &b),
            PropData::Bytes(b) => store_variable(&mut heap, &b, subnodes, ids)?,
            PropData::Blob(b) if is_inline_type(t) => inline_value(t, b.as_bytes()),
            PropData::Blob(b) if b.len() > MAX_HEAP_ALLOC => {
                let nid = ids.next(NID_TYPE_LTP)?;
                subnodes.push(SubnodeContent {
                    nid,
                    content: NodeContent::from_blob(b),
                });
                nid
            }
            PropData::Blob(b) => store_variable(&mut heap, b.as_bytes(), subnodes, ids)?,
            PropData::Object { nid, size, content } => {
                subnodes.push(SubnodeContent { nid, content });
                let mut r = nid.to_le_bytes().to_vec();
                r.extend_from_slice(&size.to_le_bytes());
                if t != PT_OBJECT {
                    return Err(WriteError::Unrepresentable(format!(
                        "object value for non-object tag 0x{id:04X}{t:04X}"
                    )));
                }
                heap.alloc(&r)?
            }
        };
        let mut rec = id.to_le_bytes().to_vec(); // key: property id
        rec.extend_from_slice(&t.to_le_bytes()); // wPropType
        rec.extend_from_slice(&v.to_le_bytes()); // dwValueHnid
        records.push(rec);
    }
    // Build the BTH, then move its header into the first allocation.
    let header = build_bth(&mut heap, 2, 6, records)?;
    let hdr_bytes = heap_get(&heap, header)?;
    heap.replace(placeholder, &hdr_bytes)?;
    heap.set_user_root(placeholder);
    Ok(heap.finish())
}

/// Reads back an allocation of a heap under construction.
fn heap_get(heap: &HeapBuilder, hid: u32) -> Result<Vec<u8>, WriteError> {
    let bad = || WriteError::Unrepresentable(format!("HID 0x{hid:08X} missing"));
    let (page, range) = heap.slot(hid).ok_or_else(bad)?;
    heap.pages
        .get(page)
        .and_then(|p| p.data.get(range))
        .map(<[u8]>::to_vec)
        .ok_or_else(bad)
}

/// `PidTagLtpRowId`, the first column of every table (MS-PST 2.3.4.4.1).
pub const TAG_LTP_ROW_ID: u32 = 0x67F2_0003;
/// `PidTagLtpRowVer`, the second column of every table.
pub const TAG_LTP_ROW_VER: u32 = 0x67F3_0003;

/// One row of a table: its row id (`PidTagLtpRowId`) and the cells that exist, as
/// (tag, value bytes). Cells whose tag is not a column of the table are ignored.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TableRow {
    /// `PidTagLtpRowId`: the NID the row stands for (or a row number for recipient tables).
    pub row_id: u32,
    /// Existing cells.
    pub cells: Vec<(u32, Vec<u8>)>,
}

/// Size of a column's cell in the row (MS-PST 2.3.4.2): the fixed size for fixed types of at
/// most 8 bytes, 4 (an HNID) for every other type.
fn cell_size(tag: u32) -> usize {
    match fixed_size((tag & 0xFFFF) as u16) {
        Some(n) if n <= 8 => n,
        _ => 4,
    }
}

/// Builds a table context (MS-PST 2.3.4; format notes §8.5). `columns` are the property tags
/// besides `PidTagLtpRowId` and `PidTagLtpRowVer`, which are always columns 0 and 1 at row
/// offsets 0 and 4. Cells are laid out 8- and 4-byte first, then 2-byte, then 1-byte, then the
/// cell-existence bitmap; variable-size values are HNIDs (heap, or a subnode over
/// [`MAX_HEAP_ALLOC`] bytes). The row matrix is one heap allocation when it fits, otherwise a
/// subnode whose blocks each hold whole rows (every block but the last padded to
/// [`MAX_BLOCK_DATA`] bytes, so rows never span blocks whichever way a reader counts). The
/// row index is a BTH of row id → row number. Returns the node content (heap blocks and the
/// subnodes it needs).
pub fn build_tc(columns: &[u32], rows: &[TableRow]) -> Result<NodeContent, WriteError> {
    build_tc_from(columns, rows.iter())
}

/// [`build_tc`] over rows produced one at a time (a folder's contents table is decoded from
/// its packed form while the table is built, never held as [`TableRow`]s all at once).
pub fn build_tc_from<R: std::borrow::Borrow<TableRow>>(
    columns: &[u32],
    rows: impl ExactSizeIterator<Item = R>,
) -> Result<NodeContent, WriteError> {
    let mut cols: Vec<u32> = vec![TAG_LTP_ROW_ID, TAG_LTP_ROW_VER];
    for c in columns {
        if !cols.contains(c) && !cols.iter().any(|x| x >> 16 == c >> 16) {
            cols.push(*c);
        }
    }
    if cols.len() > 255 {
        return Err(WriteError::Unrepresentable(format!(
            "table with {} columns (at most 255)",
            cols.len()
        )));
    }
    // Layout: (tag, ib, cb, iBit).
    let mut layout: Vec<(u32, usize, usize, usize)> = Vec::with_capacity(cols.len());
    layout.push((TAG_LTP_ROW_ID, 0, 4, 0));
    layout.push((TAG_LTP_ROW_VER, 4, 4, 0));
    let mut ib = 8usize;
    let mut ends = [0usize; 4];
    for (g, want) in [8usize, 4, 2, 1].into_iter().enumerate() {
        for c in cols.iter().skip(2) {
            let cb = cell_size(*c);
            if cb == want {
                layout.push((*c, ib, cb, 0));
                ib += cb;
            }
        }
        if let Some(e) = ends.get_mut(g) {
            *e = ib;
        }
    }
    let [_, end4, end2, end1] = ends;
    for (bit, l) in layout.iter_mut().enumerate() {
        l.3 = bit;
    }
    let row_size = end1 + layout.len().div_ceil(8);
    if row_size > MAX_BLOCK_DATA {
        return Err(WriteError::Unrepresentable("table row too large".into()));
    }
    let mut heap = HeapBuilder::new(SIG_TC);
    let mut subnodes = Vec::new();
    let mut ids = SubnodeIds::new();
    let tcinfo_len = 22 + 8 * layout.len();
    let tcinfo_hid = heap.alloc(&vec![0u8; tcinfo_len])?;
    heap.set_user_root(tcinfo_hid);
    // Rows.
    let mut matrix = Vec::with_capacity(rows.len());
    let mut index_records = Vec::with_capacity(rows.len());
    let by_tag: HashMap<u32, (usize, usize, usize)> = layout
        .iter()
        .map(|(t, ib, cb, bit)| (*t, (*ib, *cb, *bit)))
        .collect();
    for (n, r) in rows.enumerate() {
        let r: &TableRow = r.borrow();
        let mut row = vec![0u8; row_size];
        put32(&mut row, 0, r.row_id);
        if let Some(b) = row.get_mut(end1) {
            *b |= 0x80; // PidTagLtpRowId exists
        }
        for (tag, value) in &r.cells {
            let Some(&(ib, cb, bit)) = by_tag.get(tag) else {
                continue;
            };
            if *tag == TAG_LTP_ROW_ID {
                continue;
            }
            let t = (tag & 0xFFFF) as u16;
            let fixed = fixed_size(t).filter(|n| *n <= 8);
            let cell: Vec<u8> = match fixed {
                Some(n) => {
                    let mut c = vec![0u8; n];
                    for (d, s) in c.iter_mut().zip(value.iter()) {
                        *d = *s;
                    }
                    c
                }
                None => store_variable(&mut heap, value, &mut subnodes, &mut ids)?
                    .to_le_bytes()
                    .to_vec(),
            };
            if let Some(d) = row.get_mut(ib..ib + cb) {
                d.copy_from_slice(cell.get(..cb).unwrap_or(&[]));
            }
            if let Some(b) = row.get_mut(end1 + bit / 8) {
                *b |= 0x80 >> (bit % 8);
            }
        }
        matrix.push(row);
        let mut rec = r.row_id.to_le_bytes().to_vec(); // dwRowID
        rec.extend_from_slice(&(n as u32).to_le_bytes()); // dwRowIndex
        index_records.push(rec);
    }
    let hid_row_index = build_bth(&mut heap, 4, 4, index_records)?;
    let total = matrix.len() * row_size;
    let hnid_rows = if matrix.is_empty() {
        0
    } else if total <= MAX_HEAP_ALLOC {
        heap.alloc(&matrix.concat())?
    } else {
        let per_block = MAX_BLOCK_DATA / row_size;
        let chunks: Vec<&[Vec<u8>]> = matrix.chunks(per_block.max(1)).collect();
        let last = chunks.len().saturating_sub(1);
        let mut blocks = Vec::with_capacity(chunks.len());
        for (i, c) in chunks.into_iter().enumerate() {
            let mut b = c.concat();
            if i < last {
                b.resize(MAX_BLOCK_DATA, 0);
            }
            blocks.push(b);
        }
        let nid = ids.next(NID_TYPE_LTP)?;
        subnodes.push(SubnodeContent {
            nid,
            content: NodeContent {
                blocks,
                ..NodeContent::default()
            },
        });
        nid
    };
    let mut info = vec![SIG_TC, layout.len() as u8]; // bType, cCols
    for v in [end4, end2, end1, row_size] {
        info.extend_from_slice(&(v as u16).to_le_bytes()); // rgib[TCI_4b, TCI_2b, TCI_1b, TCI_bm]
    }
    info.extend_from_slice(&hid_row_index.to_le_bytes()); // hidRowIndex
    info.extend_from_slice(&hnid_rows.to_le_bytes()); // hnidRows
    info.extend_from_slice(&0u32.to_le_bytes()); // hidIndex (deprecated)
    let mut sorted = layout.clone();
    sorted.sort_by_key(|l| l.0);
    for (tag, ib, cb, bit) in sorted {
        info.extend_from_slice(&tag.to_le_bytes()); // tag
        info.extend_from_slice(&(ib as u16).to_le_bytes()); // ibData
        info.push(cb as u8); // cbData
        info.push(bit as u8); // iBit
    }
    heap.replace(tcinfo_hid, &info)?;
    Ok(NodeContent {
        blocks: heap.finish(),
        stream: None,
        subnodes,
    })
}

/// A named property's name: a numeric LID or a string (MS-PST 2.4.7.1).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum PropName {
    /// Numeric LID.
    Lid(u32),
    /// String name.
    Name(String),
}

/// Collects the named properties used in a store and builds the name-to-id map at NID 0x61
/// (MS-PST 2.4.7; format notes §9).
#[derive(Clone, Debug, Default)]
pub struct NameMapBuilder {
    guids: Vec<[u8; 16]>,
    entries: Vec<([u8; 16], PropName)>,
    lookup: HashMap<([u8; 16], PropName), u16>,
}

/// Number of hash buckets written (`PidTagNameidBucketCount`), Outlook's value.
pub const NAMEID_BUCKETS: u32 = 251;

impl NameMapBuilder {
    /// An empty map.
    pub fn new() -> Self {
        Self::default()
    }

    /// The property id (0x8000 + `wPropIdx`) of (`guid`, `name`), adding it when new.
    pub fn id_for(&mut self, guid: [u8; 16], name: PropName) -> Result<u16, WriteError> {
        if let Some(id) = self.lookup.get(&(guid, name.clone())) {
            return Ok(*id);
        }
        let idx = self.entries.len();
        if idx >= 0x7FFF {
            return Err(WriteError::TooLarge(
                "more than 32,767 named properties".into(),
            ));
        }
        if guid != PS_MAPI && guid != PS_PUBLIC_STRINGS && !self.guids.contains(&guid) {
            self.guids.push(guid);
        }
        let id = 0x8000 + idx as u16;
        self.entries.push((guid, name.clone()));
        self.lookup.insert((guid, name), id);
        Ok(id)
    }

    /// Adds a property-set GUID to the GUID stream ahead of its first use (fixes `wGuid`).
    pub fn register_guid(&mut self, guid: [u8; 16]) {
        if guid != PS_MAPI && guid != PS_PUBLIC_STRINGS && !self.guids.contains(&guid) {
            self.guids.push(guid);
        }
    }

    /// Number of named properties.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no named property was used.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn wguid(&self, g: &[u8; 16]) -> u16 {
        if *g == PS_MAPI {
            1
        } else if *g == PS_PUBLIC_STRINGS {
            2
        } else {
            self.guids
                .iter()
                .position(|x| x == g)
                .map_or(0, |p| p as u16 + 3)
        }
    }

    /// The map's properties: `PidTagNameidBucketCount`, the GUID, entry and string streams,
    /// and the non-empty hash buckets (`0x1000 + hash % 251`; the hash is `dwPropertyID` XOR
    /// the 16-bit `(wGuid << 1) | N` field, where `dwPropertyID` is the LID or, for string
    /// names, the PST CRC of the UTF-16LE name, MS-PST 2.4.7.5).
    pub fn properties(&self) -> Vec<PropEntry> {
        let mut guid_stream = Vec::new();
        for g in &self.guids {
            guid_stream.extend_from_slice(g);
        }
        let mut entry_stream = Vec::new();
        let mut string_stream: Vec<u8> = Vec::new();
        let mut buckets: BTreeMap<u32, Vec<u8>> = BTreeMap::new();
        for (i, (g, name)) in self.entries.iter().enumerate() {
            let wguid = self.wguid(g);
            let (prop_id, n, hash_id) = match name {
                PropName::Lid(l) => (*l, 0u16, *l),
                PropName::Name(s) => {
                    let off = string_stream.len() as u32;
                    let utf16: Vec<u8> = s.encode_utf16().flat_map(u16::to_le_bytes).collect();
                    string_stream.extend_from_slice(&(utf16.len() as u32).to_le_bytes());
                    string_stream.extend_from_slice(&utf16);
                    while !string_stream.len().is_multiple_of(4) {
                        string_stream.push(0);
                    }
                    (off, 1u16, crate::ndb::header::pst_crc(&utf16))
                }
            };
            let gk = (wguid << 1) | n;
            entry_stream.extend_from_slice(&prop_id.to_le_bytes()); // dwPropertyID
            entry_stream.extend_from_slice(&gk.to_le_bytes()); // N + wGuid
            entry_stream.extend_from_slice(&(i as u16).to_le_bytes()); // wPropIdx
            let bucket = (hash_id ^ u32::from(gk)) % NAMEID_BUCKETS;
            let b = buckets.entry(bucket).or_default();
            b.extend_from_slice(&hash_id.to_le_bytes());
            b.extend_from_slice(&gk.to_le_bytes());
            b.extend_from_slice(&(i as u16).to_le_bytes());
        }
        let mut props = vec![
            PropEntry::new(0x0001_0003, NAMEID_BUCKETS.to_le_bytes().to_vec()),
            PropEntry::new(0x0002_0102, guid_stream),
            PropEntry::new(0x0003_0102, entry_stream),
            PropEntry::new(0x0004_0102, string_stream),
        ];
        for (b, bytes) in buckets {
            props.push(PropEntry::new(((0x1000 + b) << 16) | 0x0102, bytes));
        }
        props
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ltp::{Heap, NodeRef, RawValue};
    use crate::ndb::{Ndb, SubnodeMap};
    use std::borrow::Cow;

    fn heap_of(blocks: &[Vec<u8>]) -> Heap<'_> {
        Heap::new(
            blocks.iter().map(|b| Cow::Borrowed(&b[..])).collect(),
            false,
        )
        .unwrap()
    }

    #[test]
    fn heap_pages_headers_and_hids() {
        let mut h = HeapBuilder::new(SIG_PC);
        let mut hids = Vec::new();
        // 20 allocations of 3,000 bytes: 2 per page → 10 pages, past the bitmap page 8.
        for i in 0..20u8 {
            hids.push((i, h.alloc(&vec![i; 3000]).unwrap()));
        }
        h.set_user_root(hids[0].1);
        let blocks = h.finish();
        assert_eq!(blocks.len(), 10);
        assert!(blocks.iter().all(|b| b.len() <= MAX_BLOCK_DATA));
        // Block 8 has the 66-byte HNBITMAPHDR: its first allocation starts at 66.
        let ib = u16::from_le_bytes([blocks[8][0], blocks[8][1]]) as usize;
        assert_eq!(
            u16::from_le_bytes([blocks[8][ib + 4], blocks[8][ib + 5]]),
            66
        );
        // Block 1 has the 2-byte HNPAGEHDR.
        let ib1 = u16::from_le_bytes([blocks[1][0], blocks[1][1]]) as usize;
        assert_eq!(
            u16::from_le_bytes([blocks[1][ib1 + 4], blocks[1][ib1 + 5]]),
            2
        );
        let heap = heap_of(&blocks);
        assert_eq!(heap.user_root, hids[0].1);
        for (i, hid) in hids {
            assert_eq!(heap.get(hid).unwrap(), &vec![i; 3000][..]);
        }
        // Fill level of block 0: 8176 - (12 + 6000 + 4 + 6) = 2154 free → level 2.
        assert_eq!(blocks[0][8] & 0x0F, 0x2);
        assert!(HeapBuilder::new(SIG_PC).alloc(&[0; 3581]).is_err());
    }

    #[test]
    fn bth_multi_level_reads_back() {
        let mut h = HeapBuilder::new(SIG_BTH);
        // 2,000 records of 4 + 4 bytes: 447 per leaf → 5 leaves and one index level.
        let recs: Vec<Vec<u8>> = (0..2000u32)
            .rev()
            .map(|k| [k.to_le_bytes(), (k * 3).to_le_bytes()].concat())
            .collect();
        let hdr = build_bth(&mut h, 4, 4, recs).unwrap();
        h.set_user_root(hdr);
        let blocks = h.finish();
        let heap = heap_of(&blocks);
        let raw = heap.get(hdr).unwrap();
        assert_eq!(raw[3], 1, "bIdxLevels");
        let bth = heap.bth_records(hdr).unwrap();
        assert_eq!(bth.records.len(), 2000);
        for (i, (k, d)) in bth.records.iter().enumerate() {
            assert_eq!(*k, &(i as u32).to_le_bytes()[..]);
            assert_eq!(*d, &(i as u32 * 3).to_le_bytes()[..]);
        }
    }

    #[test]
    fn property_context_inline_heap_and_subnode_values() {
        let big = vec![0x5Au8; 10_000];
        let props = vec![
            PropEntry::new(0x0E07_0003, 0x11u32.to_le_bytes().to_vec()),
            PropEntry::new(
                0x0037_001F,
                "Hi".encode_utf16().flat_map(u16::to_le_bytes).collect(),
            ),
            PropEntry::new(0x0039_0040, 0x01D0_0000_0000_0000u64.to_le_bytes().to_vec()),
            PropEntry::new(0x1000_0102, big.clone()),
            PropEntry::new(0x0E1F_000B, vec![1]),
            PropEntry::new(0x0E07_0002, vec![9, 9]), // same id: ignored
        ];
        let mut subs = Vec::new();
        let mut ids = SubnodeIds::new();
        let blocks = build_pc(props, &mut subs, &mut ids).unwrap();
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].nid & 0x1F, 0x1F);
        assert_eq!(subs[0].content.blocks.concat(), big);
        let ndb = Ndb::detached();
        let map = SubnodeMap::new();
        let node = NodeRef::from_blocks(
            &ndb,
            blocks.iter().map(|b| Cow::Borrowed(&b[..])).collect(),
            &map,
        )
        .unwrap();
        assert_eq!(node.heap().user_root, 0x20);
        // The subnode value cannot be resolved without an NDB, so the reader drops just it.
        let pc = node.property_context().unwrap();
        let tags: Vec<u32> = pc.iter().map(|p| p.tag).collect();
        assert_eq!(
            tags,
            vec![0x0037_001F, 0x0039_0040, 0x0E07_0003, 0x0E1F_000B]
        );
        assert_eq!(pc[2].value, RawValue::Inline(0x11));
        assert_eq!(pc[3].value, RawValue::Inline(1));
        assert_eq!(pc[0].value.bytes().as_ref(), &[b'H', 0, b'i', 0]);
    }

    #[test]
    fn table_context_layout_and_rows() {
        let cols = [
            0x0E07_0003u32,
            0x0039_0040,
            0x0037_001F,
            0x360A_000B,
            0x0002_0002,
        ];
        let rows: Vec<TableRow> = (0..3u32)
            .map(|i| TableRow {
                row_id: 0x200004 + (i << 5),
                cells: vec![
                    (0x0E07_0003, (i + 1).to_le_bytes().to_vec()),
                    (0x0039_0040, u64::from(i).to_le_bytes().to_vec()),
                    (
                        0x0037_001F,
                        format!("S{i}")
                            .encode_utf16()
                            .flat_map(u16::to_le_bytes)
                            .collect(),
                    ),
                    (0x360A_000B, vec![u8::from(i == 1)]),
                ],
            })
            .collect();
        let content = build_tc(&cols, &rows).unwrap();
        assert!(content.subnodes.is_empty());
        let ndb = Ndb::detached();
        let map = SubnodeMap::new();
        let node = NodeRef::from_blocks(
            &ndb,
            content
                .blocks
                .iter()
                .map(|b| Cow::Borrowed(&b[..]))
                .collect(),
            &map,
        )
        .unwrap();
        let tc = node.table_context().unwrap();
        assert_eq!(tc.len(), 3);
        let col = |t: u32| *tc.columns.iter().find(|c| c.tag == t).unwrap();
        assert_eq!(col(0x67F2_0003).ib_data, 0);
        assert_eq!(col(0x67F3_0003).ib_data, 4);
        assert_eq!(col(0x0039_0040).ib_data, 8);
        assert_eq!(col(0x0002_0002).cb_data, 2);
        assert!(col(0x360A_000B).ib_data > col(0x0002_0002).ib_data);
        for i in 0..3u32 {
            assert_eq!(tc.row_id(i as usize), Some(0x200004 + (i << 5)));
            assert_eq!(
                tc.cell(i as usize, 0x0E07_0003).unwrap(),
                Some(RawValue::Inline(i + 1))
            );
            assert_eq!(
                tc.cell(i as usize, 0x0037_001F)
                    .unwrap()
                    .unwrap()
                    .bytes()
                    .as_ref(),
                &format!("S{i}")
                    .encode_utf16()
                    .flat_map(u16::to_le_bytes)
                    .collect::<Vec<_>>()[..]
            );
            assert_eq!(tc.cell(i as usize, 0x0002_0002).unwrap(), None);
        }
    }

    #[test]
    fn name_map_hashes_like_outlook() {
        // Outlook's Empty.pst: LID 0x8205 in the first stream GUID (wGuid 3) sits in bucket
        // 0x97 ((0x8205 ^ 6) % 251 = 151).
        let mut m = NameMapBuilder::new();
        let g = [7u8; 16];
        assert_eq!(m.id_for(g, PropName::Lid(0x8205)).unwrap(), 0x8000);
        assert_eq!(
            m.id_for(PS_PUBLIC_STRINGS, PropName::Name("Keywords".into()))
                .unwrap(),
            0x8001
        );
        assert_eq!(m.id_for(g, PropName::Lid(0x8205)).unwrap(), 0x8000);
        let props = m.properties();
        assert!(props.iter().any(|p| p.tag == 0x1097_0102));
        let named = crate::ltp::nameid::NameMap::from_props(
            &props
                .iter()
                .map(|p| crate::ltp::RawProp {
                    tag: p.tag,
                    value: match &p.data {
                        PropData::Bytes(b) if p.tag == 0x0001_0003 => {
                            RawValue::Inline(u32::from_le_bytes(b[..4].try_into().unwrap()))
                        }
                        PropData::Bytes(b) => RawValue::Bytes(mailmig_ir::Blob::from(&b[..])),
                        PropData::Blob(_) | PropData::Object { .. } => unreachable!(),
                    },
                })
                .collect::<Vec<_>>(),
        );
        assert_eq!(named.get(0x8000).unwrap().lid(), Some(0x8205));
        assert_eq!(*named.get(0x8000).unwrap().guid(), g);
        assert_eq!(named.get(0x8001).unwrap().name(), Some("Keywords"));
    }
}
