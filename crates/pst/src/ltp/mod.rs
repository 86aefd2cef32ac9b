//! LTP layer: heap-on-node, BTH, property contexts, table contexts and the named-property
//! map (MS-PST 2.3 and 2.4.7; format notes §8–§9).
//!
//! Everything here works on a node already located by the NDB layer: a [`NodeRef`] bundles
//! the [`Ndb`], the node's data tree and its subnode tree, so HNIDs can be resolved either to
//! heap allocations or to subnodes.

pub mod heap;
pub mod nameid;

use mailmig_ir::Blob;

use crate::bytes::{le16, le32, u8_at};
use crate::ndb::{Format, Ndb, NdbError, SubnodeMap};
pub use heap::{Heap, SIG_BTH, SIG_PC, SIG_TC};

/// Errors of the LTP layer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LtpError {
    /// A heap structure is invalid.
    #[error("invalid {what} 0x{value:X} (HID 0x{hid:08X})")]
    Heap {
        /// Structure and field.
        what: &'static str,
        /// The HID being resolved.
        hid: u32,
        /// The raw value.
        value: u64,
    },
    /// The heap holds another kind of structure than expected.
    #[error("unexpected bClientSig 0x{found:02X}, expected 0x{expected:02X}")]
    ClientSig {
        /// What was wanted.
        expected: u8,
        /// What was found.
        found: u8,
    },
    /// A table structure is invalid.
    #[error("invalid {what} {value}")]
    Table {
        /// Structure and field.
        what: &'static str,
        /// The raw value.
        value: u64,
    },
    /// An HNID names a subnode that is missing.
    #[error("subnode 0x{nid:08X} not found")]
    MissingSubnode {
        /// The subnode NID.
        nid: u32,
    },
    /// The NDB layer failed.
    #[error(transparent)]
    Ndb(#[from] NdbError),
}

/// A property value as stored: small fixed-size values inline, everything else as bytes.
#[derive(Clone, Debug, PartialEq)]
pub enum RawValue {
    /// Values of at most 4 bytes (`PtypInteger16/32`, `PtypFloating32`, `PtypErrorCode`,
    /// `PtypBoolean`), zero-extended.
    Inline(u32),
    /// Every other value: the bytes of the value (8-byte fixed values, strings, binaries,
    /// multi-valued arrays, `PtypObject` references).
    Bytes(Blob),
}

impl RawValue {
    /// The bytes (inline values as 4 little-endian bytes).
    pub fn bytes(&self) -> std::borrow::Cow<'_, [u8]> {
        match self {
            RawValue::Inline(v) => std::borrow::Cow::Owned(v.to_le_bytes().to_vec()),
            RawValue::Bytes(b) => std::borrow::Cow::Borrowed(b.as_bytes()),
        }
    }
}

/// One property: tag = id << 16 | type.
#[derive(Clone, Debug, PartialEq)]
pub struct RawProp {
    /// Property tag.
    pub tag: u32,
    /// Value.
    pub value: RawValue,
}

impl RawProp {
    /// Property id.
    pub fn id(&self) -> u16 {
        (self.tag >> 16) as u16
    }
    /// Property type.
    pub fn ptype(&self) -> u16 {
        (self.tag & 0xFFFF) as u16
    }
}

/// True for the property types stored inline in a PC's `dwValueHnid` (MS-PST 2.3.3.3).
pub fn is_inline_type(t: u16) -> bool {
    matches!(t, 0x0002 | 0x0003 | 0x0004 | 0x000A | 0x000B)
}

/// Fixed size of a property type, for types with one (MS-OXCDATA 2.11.1).
pub fn fixed_size(t: u16) -> Option<usize> {
    match t {
        0x0002 => Some(2),
        0x0003 | 0x0004 | 0x000A => Some(4),
        0x000B => Some(1),
        0x0005 | 0x0006 | 0x0007 | 0x0014 | 0x0040 => Some(8),
        0x0048 => Some(16),
        _ => None,
    }
}

/// A node opened for LTP access: its heap (data tree) and its subnode tree.
pub struct NodeRef<'a> {
    ndb: &'a Ndb,
    heap: Heap<'a>,
    subnodes: &'a SubnodeMap,
}

impl<'a> NodeRef<'a> {
    /// Opens the node whose data tree is `bid_data`; `subnodes` is its subnode tree.
    pub fn open(ndb: &'a Ndb, bid_data: u64, subnodes: &'a SubnodeMap) -> Result<Self, LtpError> {
        let blocks = ndb.read_data_tree(bid_data)?;
        let heap = Heap::new(blocks, ndb.format() == Format::Unicode4k)?;
        Ok(NodeRef {
            ndb,
            heap,
            subnodes,
        })
    }

    /// Like [`NodeRef::open`], but the heap's blocks are read when first used (see
    /// [`Heap::lazy`]); for a large table of which only the row index is wanted.
    pub fn open_lazy(
        ndb: &'a Ndb,
        bid_data: u64,
        subnodes: &'a SubnodeMap,
    ) -> Result<Self, LtpError> {
        let entries = ndb.data_tree_entries(bid_data)?;
        let heap = Heap::lazy(ndb, entries, ndb.format() == Format::Unicode4k)?;
        Ok(NodeRef {
            ndb,
            heap,
            subnodes,
        })
    }

    /// A node over heap blocks that come from elsewhere (tests, fuzzing).
    pub fn from_blocks(
        ndb: &'a Ndb,
        blocks: Vec<crate::ndb::BlockData<'a>>,
        subnodes: &'a SubnodeMap,
    ) -> Result<Self, LtpError> {
        let heap = Heap::new(blocks, ndb.format() == Format::Unicode4k)?;
        Ok(NodeRef {
            ndb,
            heap,
            subnodes,
        })
    }

    /// The heap.
    pub fn heap(&self) -> &Heap<'a> {
        &self.heap
    }

    /// The subnode tree.
    pub fn subnodes(&self) -> &'a SubnodeMap {
        self.subnodes
    }

    /// Resolves an HNID (MS-PST 2.3.3.2): a HID into the heap, or a subnode NID.
    pub fn hnid(&self, hnid: u32) -> Result<Blob, LtpError> {
        if hnid & 0x1F == 0 {
            let b = self.heap.get(hnid)?;
            Ok(Blob::from(b))
        } else {
            let e = self
                .subnodes
                .get(&hnid)
                .ok_or(LtpError::MissingSubnode { nid: hnid })?;
            Ok(self.ndb.read_blob(e.bid_data)?)
        }
    }

    /// Reads the node as a property context (MS-PST 2.3.3).
    pub fn property_context(&self) -> Result<Vec<RawProp>, LtpError> {
        if self.heap.client_sig != SIG_PC {
            return Err(LtpError::ClientSig {
                expected: SIG_PC,
                found: self.heap.client_sig,
            });
        }
        let bth = self.heap.bth_records(self.heap.user_root)?;
        if bth.cb_key != 2 || bth.cb_ent != 6 {
            return Err(LtpError::Table {
                what: "PC BTH cbKey/cbEnt",
                value: ((bth.cb_key as u64) << 8) | bth.cb_ent as u64,
            });
        }
        let mut out = Vec::with_capacity(bth.records.len());
        for (k, d) in &bth.records {
            let id = u16::from_le_bytes([
                k.first().copied().unwrap_or(0),
                k.get(1).copied().unwrap_or(0),
            ]);
            let t = u16::from_le_bytes([
                d.first().copied().unwrap_or(0),
                d.get(1).copied().unwrap_or(0),
            ]);
            let v = d
                .get(2..6)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
                .unwrap_or(0);
            let tag = (u32::from(id) << 16) | u32::from(t);
            let value = if is_inline_type(t) {
                RawValue::Inline(v)
            } else {
                match self.hnid(v) {
                    Ok(b) => RawValue::Bytes(b),
                    // One unreadable value must not lose the whole object: leave it out, and
                    // say why (the warning lands on the message being read).
                    Err(e) if v != 0 => {
                        self.ndb.warn(
                            "pst.property-value",
                            format!(
                                "property 0x{tag:08X} left out: its value (HNID 0x{v:08X}) \
                                 cannot be read: {e}"
                            ),
                            None,
                        );
                        continue;
                    }
                    Err(e) => return Err(e),
                }
            };
            out.push(RawProp { tag, value });
        }
        Ok(out)
    }

    /// Reads the node as a table context (MS-PST 2.3.4).
    pub fn table_context(&self) -> Result<TableContext<'_, 'a>, LtpError> {
        TableContext::new(self)
    }
}

/// One column of a table (TCOLDESC, MS-PST 2.3.4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Column {
    /// Property tag.
    pub tag: u32,
    /// Offset in the row.
    pub ib_data: u16,
    /// Size in the row.
    pub cb_data: u8,
    /// Bit in the cell-existence bitmap.
    pub i_bit: u8,
}

/// A table context (TCINFO, MS-PST 2.3.4.1), rows read lazily.
pub struct TableContext<'n, 'a> {
    node: &'n NodeRef<'a>,
    /// The columns.
    pub columns: Vec<Column>,
    row_size: usize,
    ceb_start: usize,
    row_blocks: Vec<Vec<u8>>,
    row_index: Vec<usize>,
}

/// `PidTagLtpRowId` as a table column: the NID a row stands for (MS-PST 2.3.4.4.1).
const LTP_ROW_ID: u32 = 0x67F2_0003;

/// What a TCINFO says (MS-PST 2.3.4.1): the usable columns, the row layout and where the
/// row index and the row matrix are.
struct TableLayout {
    columns: Vec<Column>,
    row_size: usize,
    ceb_start: usize,
    hid_row_index: u32,
    hnid_rows: u32,
}

impl TableLayout {
    /// Reads the TCINFO of `heap`. Columns that do not fit the row are skipped.
    fn parse(heap: &Heap<'_>) -> Result<Self, LtpError> {
        if heap.client_sig != SIG_TC {
            return Err(LtpError::ClientSig {
                expected: SIG_TC,
                found: heap.client_sig,
            });
        }
        let info = heap.get(heap.user_root)?;
        let g16 = |o: usize| info.get(o..o + 2).map(|s| usize::from(le16(s, 0)));
        let g32 = |o: usize| {
            info.get(o..o + 4)
                .and_then(|s| s.try_into().ok())
                .map(u32::from_le_bytes)
        };
        if info.first() != Some(&SIG_TC) || info.len() < 22 {
            return Err(LtpError::Table {
                what: "TCINFO bType",
                value: u64::from(info.first().copied().unwrap_or(0)),
            });
        }
        let ccols = usize::from(info.get(1).copied().unwrap_or(0));
        let ceb_start = g16(6).unwrap_or(0);
        let row_size = g16(8).unwrap_or(0);
        let hid_row_index = g32(10).unwrap_or(0);
        let hnid_rows = g32(14).unwrap_or(0);
        let mut columns = Vec::with_capacity(ccols);
        for i in 0..ccols {
            let o = 22 + i * 8;
            let c = info.get(o..o + 8).ok_or(LtpError::Table {
                what: "TCINFO rgTCOLDESC",
                value: i as u64,
            })?;
            let col = Column {
                tag: le32(c, 0),
                ib_data: le16(c, 4),
                cb_data: u8_at(c, 6),
                i_bit: u8_at(c, 7),
            };
            if usize::from(col.ib_data) + usize::from(col.cb_data) > row_size
                || usize::from(col.i_bit) >= (row_size.saturating_sub(ceb_start)) * 8
            {
                // Skip a column that does not fit the row rather than failing the table.
                continue;
            }
            columns.push(col);
        }
        if ceb_start > row_size {
            return Err(LtpError::Table {
                what: "TCINFO rgib",
                value: ceb_start as u64,
            });
        }
        Ok(Self {
            columns,
            row_size,
            ceb_start,
            hid_row_index,
            hnid_rows,
        })
    }

    /// The row matrix positions named by the row index BTH (row id → row index, MS-PST
    /// 2.3.4.3), sorted and without repeats; `None` when there is no readable index (then every
    /// row of the matrix counts). Positions past the matrix are the caller's to drop. The
    /// index is walked, not collected: four bytes per row are kept, not the records.
    fn indexed_rows(&self, heap: &Heap<'_>) -> Option<Vec<u32>> {
        if self.hid_row_index == 0 {
            return None;
        }
        let mut rows: Vec<u32> = Vec::new();
        heap.bth_for_each(self.hid_row_index, &mut |_, d| {
            rows.extend(match d.len() {
                2 => Some(u32::from(le16(d, 0))),
                n if n >= 4 => Some(le32(d, 0)),
                _ => None,
            });
        })
        .ok()?;
        rows.sort_unstable();
        rows.dedup();
        Some(rows)
    }

    /// Calls `f` on each block of the row matrix of `node`, in order (MS-PST 2.3.4.4): the
    /// heap allocation `hnidRows`, or the data blocks of the subnode it names, one at a time.
    fn for_each_row_block(
        &self,
        node: &NodeRef<'_>,
        f: &mut dyn FnMut(&[u8]),
    ) -> Result<(), LtpError> {
        if self.hnid_rows == 0 {
            return Ok(());
        }
        if self.hnid_rows & 0x1F == 0 {
            f(node.heap.get(self.hnid_rows)?);
            return Ok(());
        }
        let e = node
            .subnodes
            .get(&self.hnid_rows)
            .ok_or(LtpError::MissingSubnode {
                nid: self.hnid_rows,
            })?;
        node.ndb.for_each_data_block(e.bid_data, &mut |d| {
            f(d);
            Ok(())
        })?;
        Ok(())
    }
}

/// The bytes of `col` in row `r` of a table whose cell-existence bitmap starts at
/// `ceb_start`, or `None` when the column's bit is clear (MS-PST 2.3.4.4).
fn cell_bytes<'r>(r: &'r [u8], ceb_start: usize, col: &Column) -> Option<&'r [u8]> {
    let ceb = r.get(ceb_start..).unwrap_or(&[]);
    let byte = ceb.get(usize::from(col.i_bit / 8)).copied().unwrap_or(0);
    if byte & (0x80 >> (col.i_bit % 8)) == 0 {
        return None;
    }
    let start = usize::from(col.ib_data);
    Some(
        r.get(start..start + usize::from(col.cb_data))
            .unwrap_or(&[]),
    )
}

/// A cell of at most four bytes as its zero-extended little-endian value.
fn inline_cell(cell: &[u8]) -> u32 {
    let mut a = [0u8; 4];
    let n = cell.len().min(4);
    if let (Some(d), Some(s)) = (a.get_mut(..n), cell.get(..n)) {
        d.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

impl<'a> NodeRef<'a> {
    /// The `PidTagLtpRowId` of every live row of this table context, in row order: what
    /// [`TableContext::row_id`] gives for each row, without holding the rows. The row matrix
    /// is read one data block at a time and `on_block` is called once each block is done
    /// with (so a caller can release resident pages), so memory holds the row index and the
    /// ids, never the rows (megabytes for a folder of 100,000 messages).
    pub fn table_row_ids(&self, on_block: &mut dyn FnMut()) -> Result<Vec<u32>, LtpError> {
        let layout = TableLayout::parse(&self.heap)?;
        let index = layout.indexed_rows(&self.heap);
        let col = layout.columns.iter().find(|c| c.tag == LTP_ROW_ID).copied();
        let row_size = layout.row_size;
        let mut ids = Vec::with_capacity(index.as_ref().map_or(0, Vec::len));
        let (Some(col), true) = (col, row_size > 0) else {
            return Ok(ids);
        };
        // `base` is the matrix position of the block's first row; `next` walks the sorted
        // index alongside.
        let mut base = 0usize;
        let mut next = 0usize;
        let mut block = |data: &[u8]| {
            let n = data.len() / row_size;
            let mut take = |i: usize| {
                let id = data
                    .get(i * row_size..(i + 1) * row_size)
                    .and_then(|r| cell_bytes(r, layout.ceb_start, &col))
                    // As `decode_cell`: a longer cell is not an inline value.
                    .filter(|c| c.len() <= 4)
                    .map(inline_cell);
                ids.extend(id);
            };
            match &index {
                Some(rows) => {
                    while let Some(pos) = rows.get(next).map(|&p| p as usize) {
                        if pos >= base + n {
                            break;
                        }
                        take(pos - base);
                        next += 1;
                    }
                }
                None => (0..n).for_each(&mut take),
            }
            base += n;
            on_block();
        };
        layout.for_each_row_block(self, &mut block)?;
        Ok(ids)
    }
}

impl<'n, 'a> TableContext<'n, 'a> {
    fn new(node: &'n NodeRef<'a>) -> Result<Self, LtpError> {
        let heap = &node.heap;
        let layout = TableLayout::parse(heap)?;
        let row_size = layout.row_size;
        let mut row_blocks: Vec<Vec<u8>> = Vec::new();
        layout.for_each_row_block(node, &mut |d| row_blocks.push(d.to_vec()))?;
        let total_rows: usize = if row_size == 0 {
            0
        } else {
            row_blocks.iter().map(|b| b.len() / row_size).sum()
        };
        // Row index BTH: row id → row index; use it to know which rows are live.
        let row_index = match layout.indexed_rows(heap) {
            Some(rows) => rows
                .into_iter()
                .map(|r| r as usize)
                .filter(|&r| r < total_rows)
                .collect(),
            None => (0..total_rows).collect(),
        };
        Ok(TableContext {
            node,
            columns: layout.columns,
            row_size,
            ceb_start: layout.ceb_start,
            row_blocks,
            row_index,
        })
    }

    /// Number of rows.
    pub fn len(&self) -> usize {
        self.row_index.len()
    }

    /// True when the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.row_index.is_empty()
    }

    fn row_bytes(&self, row: usize) -> Option<&[u8]> {
        let mut idx = *self.row_index.get(row)?;
        for b in &self.row_blocks {
            let n = b.len() / self.row_size.max(1);
            if idx < n {
                return b.get(idx * self.row_size..(idx + 1) * self.row_size);
            }
            idx -= n;
        }
        None
    }

    /// The value of column `tag` in `row`, or `None` when the cell does not exist.
    pub fn cell(&self, row: usize, tag: u32) -> Result<Option<RawValue>, LtpError> {
        let Some(col) = self.columns.iter().find(|c| c.tag == tag) else {
            return Ok(None);
        };
        let Some(r) = self.row_bytes(row) else {
            return Ok(None);
        };
        self.decode_cell(r, col)
    }

    fn decode_cell(&self, r: &[u8], col: &Column) -> Result<Option<RawValue>, LtpError> {
        let Some(cell) = cell_bytes(r, self.ceb_start, col) else {
            return Ok(None);
        };
        let t = (col.tag & 0xFFFF) as u16;
        let v = match (fixed_size(t), cell.len()) {
            (Some(n), len) if n <= 4 && len <= 4 => RawValue::Inline(inline_cell(cell)),
            (Some(8), 8) => RawValue::Bytes(Blob::from(cell)),
            _ => {
                let hnid = cell
                    .get(..4)
                    .and_then(|s| s.try_into().ok())
                    .map(u32::from_le_bytes)
                    .unwrap_or(0);
                match self.node.hnid(hnid) {
                    Ok(b) => RawValue::Bytes(b),
                    Err(_) => return Ok(None),
                }
            }
        };
        Ok(Some(v))
    }

    /// Every existing cell of `row`.
    pub fn row(&self, row: usize) -> Result<Vec<RawProp>, LtpError> {
        let Some(r) = self.row_bytes(row) else {
            return Ok(Vec::new());
        };
        let mut out = Vec::with_capacity(self.columns.len());
        for col in &self.columns {
            if let Some(v) = self.decode_cell(r, col)? {
                out.push(RawProp {
                    tag: col.tag,
                    value: v,
                });
            }
        }
        Ok(out)
    }

    /// `PidTagLtpRowId` (0x67F2) of `row`: the NID the row stands for.
    pub fn row_id(&self, row: usize) -> Option<u32> {
        match self.cell(row, LTP_ROW_ID).ok()?? {
            RawValue::Inline(v) => Some(v),
            RawValue::Bytes(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::heap::Heap;
    use super::*;
    use std::borrow::Cow;

    fn hid(i: u32) -> u32 {
        i << 5
    }

    /// Builds a one-block heap with the given allocations, field by field.
    fn build_heap(client_sig: u8, user_root: u32, allocs: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; 12];
        let mut offs = vec![12u16];
        for a in allocs {
            b.extend_from_slice(a);
            offs.push(b.len() as u16);
        }
        let ib_hnpm = b.len() as u16;
        b[0..2].copy_from_slice(&ib_hnpm.to_le_bytes()); // HNHDR ibHnpm
        b[2] = 0xEC; // bSig
        b[3] = client_sig; // bClientSig
        b[4..8].copy_from_slice(&user_root.to_le_bytes()); // hidUserRoot
        b.extend_from_slice(&(allocs.len() as u16).to_le_bytes()); // cAlloc
        b.extend_from_slice(&0u16.to_le_bytes()); // cFree
        for o in offs {
            b.extend_from_slice(&o.to_le_bytes()); // rgibAlloc
        }
        b
    }

    /// A one-block table context: three columns (LtpRowId, RecipientType, DisplayName),
    /// rows 0x21 (all cells) and 0x41 (no display name), the row index `index` (row id, row
    /// position) unless it is empty, and the display name's UTF-16.
    fn table_block(index: &[(u32, u32)]) -> (Vec<u8>, Vec<u8>) {
        // Row layout: [0..4) LtpRowId (4b), [4..8) RecipientType (4b), [8..12) DisplayName
        // HNID, [12..13) CEB (3 columns, bits from the MSB).
        let mut tcinfo = vec![SIG_TC, 3]; // bType, cCols
        for v in [12u16, 12, 12, 13] {
            tcinfo.extend_from_slice(&v.to_le_bytes()); // rgib: 4b, 2b, 1b, bm
        }
        let hid_row_index = if index.is_empty() { 0 } else { hid(2) };
        tcinfo.extend_from_slice(&hid_row_index.to_le_bytes()); // hidRowIndex
        tcinfo.extend_from_slice(&hid(4).to_le_bytes()); // hnidRows (a HID)
        tcinfo.extend_from_slice(&0u32.to_le_bytes()); // hidIndex
        for (tag, ib, cb, bit) in [
            (0x67F2_0003u32, 0u16, 4u8, 0u8),
            (0x0C15_0003, 4, 4, 1),
            (0x3001_001F, 8, 4, 2),
        ] {
            tcinfo.extend_from_slice(&tag.to_le_bytes());
            tcinfo.extend_from_slice(&ib.to_le_bytes());
            tcinfo.push(cb);
            tcinfo.push(bit);
        }
        // Row index BTH header → leaf at alloc 3.
        let mut bth = vec![SIG_BTH, 4, 4, 0];
        bth.extend_from_slice(&hid(3).to_le_bytes());
        let mut leaf = Vec::new();
        for (id, idx) in index {
            leaf.extend_from_slice(&id.to_le_bytes());
            leaf.extend_from_slice(&idx.to_le_bytes());
        }
        // Rows: row 0 has all three cells; row 1 lacks the display name (bit 2 clear).
        let mut rows = Vec::new();
        rows.extend_from_slice(&0x21u32.to_le_bytes());
        rows.extend_from_slice(&1u32.to_le_bytes());
        rows.extend_from_slice(&hid(5).to_le_bytes());
        rows.push(0b1110_0000);
        rows.extend_from_slice(&0x41u32.to_le_bytes());
        rows.extend_from_slice(&2u32.to_le_bytes());
        rows.extend_from_slice(&0u32.to_le_bytes());
        rows.push(0b1100_0000);
        let name: Vec<u8> = "Ann".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let block = build_heap(SIG_TC, hid(1), &[&tcinfo, &bth, &leaf, &rows, &name]);
        (block, name)
    }

    #[test]
    fn table_context_rows_and_ceb() {
        let (block, name) = table_block(&[(0x21, 0), (0x41, 1)]);
        let heap = Heap::new(vec![Cow::Owned(block)], false).unwrap();
        let subs = SubnodeMap::new();
        let ndb = crate::ndb::tests_support::empty_ndb();
        let node = NodeRef {
            ndb: &ndb,
            heap,
            subnodes: &subs,
        };
        let tc = node.table_context().unwrap();
        assert_eq!(tc.len(), 2);
        assert_eq!(tc.row_id(1), Some(0x41));
        assert_eq!(tc.cell(0, 0x0C15_0003).unwrap(), Some(RawValue::Inline(1)));
        assert_eq!(
            tc.cell(0, 0x3001_001F).unwrap(),
            Some(RawValue::Bytes(Blob::from(&name[..])))
        );
        assert_eq!(tc.cell(1, 0x3001_001F).unwrap(), None);
        assert_eq!(tc.row(1).unwrap().len(), 2);
    }

    /// The streamed row ids follow the table context: live rows in matrix order whatever the
    /// index order, positions past the matrix dropped, every row when there is no index.
    #[test]
    fn streamed_row_ids_follow_the_row_index() {
        let ndb = crate::ndb::tests_support::empty_ndb();
        let subs = SubnodeMap::new();
        for (index, want) in [
            (&[(0x21u32, 0u32), (0x41, 1)][..], vec![0x21, 0x41]),
            (&[(0x41, 1), (0x21, 0)][..], vec![0x21, 0x41]),
            (&[(0x41, 1), (0x99, 7)][..], vec![0x41]),
            (&[(0x21, 0), (0x22, 0)][..], vec![0x21]),
            (&[][..], vec![0x21, 0x41]),
        ] {
            let (block, _) = table_block(index);
            let heap = Heap::new(vec![Cow::Owned(block)], false).unwrap();
            let node = NodeRef {
                ndb: &ndb,
                heap,
                subnodes: &subs,
            };
            let tc = node.table_context().unwrap();
            let from_tc: Vec<u32> = (0..tc.len()).filter_map(|r| tc.row_id(r)).collect();
            let mut blocks = 0;
            let streamed = node.table_row_ids(&mut || blocks += 1).unwrap();
            assert_eq!(streamed, want, "index {index:x?}");
            assert_eq!(from_tc, want, "index {index:x?}");
            assert_eq!(blocks, 1);
        }
    }

    #[test]
    fn property_context_values() {
        let mut bth = vec![SIG_BTH, 2, 6, 0];
        bth.extend_from_slice(&hid(2).to_le_bytes());
        let mut leaf = Vec::new();
        leaf.extend_from_slice(&0x0037u16.to_le_bytes()); // PidTagSubject
        leaf.extend_from_slice(&0x001Fu16.to_le_bytes());
        leaf.extend_from_slice(&hid(3).to_le_bytes());
        leaf.extend_from_slice(&0x0E07u16.to_le_bytes()); // PidTagMessageFlags
        leaf.extend_from_slice(&0x0003u16.to_le_bytes());
        leaf.extend_from_slice(&0x11u32.to_le_bytes());
        let subj: Vec<u8> = "Hi".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let block = build_heap(SIG_PC, hid(1), &[&bth, &leaf, &subj]);
        let heap = Heap::new(vec![Cow::Owned(block)], false).unwrap();
        let subs = SubnodeMap::new();
        let ndb = crate::ndb::tests_support::empty_ndb();
        let node = NodeRef {
            ndb: &ndb,
            heap,
            subnodes: &subs,
        };
        let pc = node.property_context().unwrap();
        assert_eq!(pc.len(), 2);
        assert_eq!(pc[0].tag, 0x0037_001F);
        assert_eq!(pc[0].value, RawValue::Bytes(Blob::from(&subj[..])));
        assert_eq!(pc[1].value, RawValue::Inline(0x11));
        assert!(node.table_context().is_err());
    }
}
