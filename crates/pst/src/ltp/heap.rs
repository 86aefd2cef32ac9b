//! Heap-on-node (HN, MS-PST 2.3.1) and B-tree-on-heap (BTH, MS-PST 2.3.2); format notes
//! §8.1–§8.3.

use std::cell::OnceCell;
use std::collections::HashSet;

use super::LtpError;
use crate::ndb::{BlockData, BlockEntry, Ndb};

/// `bClientSig` of a table context.
pub const SIG_TC: u8 = 0x7C;
/// `bClientSig` of a BTH.
pub const SIG_BTH: u8 = 0xB5;
/// `bClientSig` of a property context.
pub const SIG_PC: u8 = 0xBC;

fn le16(b: &[u8], o: usize) -> Option<u16> {
    Some(u16::from_le_bytes(b.get(o..o + 2)?.try_into().ok()?))
}
fn le32(b: &[u8], o: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(o..o + 4)?.try_into().ok()?))
}

/// A heap over the blocks of one node's data tree (HNHDR, HNPAGEHDR, HNBITMAPHDR, HNPAGEMAP).
///
/// `cFree` and the fill levels are never validated (format notes §8.1 "Trap: cFree").
pub struct Heap<'a> {
    blocks: Blocks<'a>,
    /// `bClientSig` of the HNHDR.
    pub client_sig: u8,
    /// `hidUserRoot` of the HNHDR.
    pub user_root: u32,
    wide_hid: bool,
}

/// The blocks of a [`Heap`]: all read up front, or each read when an allocation in it is
/// first asked for and then kept.
enum Blocks<'a> {
    Read(Vec<BlockData<'a>>),
    Lazy {
        ndb: &'a Ndb,
        entries: Vec<BlockEntry>,
        read: Vec<OnceCell<BlockData<'a>>>,
    },
}

impl<'a> Heap<'a> {
    /// Opens a heap over the blocks of a node. `wide_hid` selects the HID split libpff
    /// reports for 4K files (14-bit index, 13-bit block index) — reported, unconfirmed.
    pub fn new(blocks: Vec<BlockData<'a>>, wide_hid: bool) -> Result<Self, LtpError> {
        Self::with_blocks(Blocks::Read(blocks), wide_hid)
    }

    /// Opens a heap whose data blocks `entries` (in data-tree order) are read from `ndb`
    /// only when an allocation in them is asked for: a large table's heap, of which a walk
    /// may need a few blocks, is not read whole.
    pub fn lazy(ndb: &'a Ndb, entries: Vec<BlockEntry>, wide_hid: bool) -> Result<Self, LtpError> {
        let read = entries.iter().map(|_| OnceCell::new()).collect();
        Self::with_blocks(Blocks::Lazy { ndb, entries, read }, wide_hid)
    }

    fn with_blocks(blocks: Blocks<'a>, wide_hid: bool) -> Result<Self, LtpError> {
        let mut heap = Heap {
            blocks,
            client_sig: 0,
            user_root: 0,
            wide_hid,
        };
        let (sig, client_sig, user_root) = {
            let first = heap.block(0)?.ok_or(LtpError::Heap {
                what: "HNHDR",
                hid: 0,
                value: 0,
            })?;
            (
                first.get(2).copied().unwrap_or(0),
                first.get(3).copied().unwrap_or(0),
                le32(first, 4).unwrap_or(0),
            )
        };
        if sig != 0xEC {
            return Err(LtpError::Heap {
                what: "HNHDR bSig",
                hid: 0,
                value: u64::from(sig),
            });
        }
        heap.client_sig = client_sig;
        heap.user_root = user_root;
        Ok(heap)
    }

    /// Number of blocks.
    pub fn block_count(&self) -> usize {
        match &self.blocks {
            Blocks::Read(b) => b.len(),
            Blocks::Lazy { entries, .. } => entries.len(),
        }
    }

    /// Number of blocks read so far: all of them for [`Heap::new`], those used so far for
    /// [`Heap::lazy`].
    pub fn blocks_read(&self) -> usize {
        match &self.blocks {
            Blocks::Read(b) => b.len(),
            Blocks::Lazy { read, .. } => read.iter().filter(|c| c.get().is_some()).count(),
        }
    }

    /// Block `i`, read now if it has not been; `None` past the last block.
    fn block(&self, i: usize) -> Result<Option<&[u8]>, LtpError> {
        match &self.blocks {
            Blocks::Read(b) => Ok(b.get(i).map(|b| &**b)),
            Blocks::Lazy { ndb, entries, read } => {
                let (Some(e), Some(cell)) = (entries.get(i), read.get(i)) else {
                    return Ok(None);
                };
                if cell.get().is_none() {
                    let _ = cell.set(ndb.read_block_entry(e)?);
                }
                Ok(cell.get().map(|b| &**b))
            }
        }
    }

    /// The allocation named by `hid` (MS-PST 2.3.1.1 HID). HID 0 gives an empty slice.
    pub fn get(&self, hid: u32) -> Result<&[u8], LtpError> {
        if hid == 0 {
            return Ok(&[]);
        }
        let bad = |what: &'static str, value: u64| LtpError::Heap { what, hid, value };
        if hid & 0x1F != 0 {
            return Err(bad("HID hidType", u64::from(hid & 0x1F)));
        }
        let (index, block) = if self.wide_hid {
            ((hid >> 5) & 0x3FFF, hid >> 19)
        } else {
            ((hid >> 5) & 0x7FF, hid >> 16)
        };
        let b = self
            .block(block as usize)?
            .ok_or(bad("HID hidBlockIndex", u64::from(block)))?;
        let ib = usize::from(le16(b, 0).ok_or(bad("HNPAGEHDR ibHnpm", 0))?);
        let calloc = usize::from(le16(b, ib).ok_or(bad("HNPAGEMAP ibHnpm", ib as u64))?);
        if index == 0 || index as usize > calloc {
            return Err(bad("HID hidIndex", u64::from(index)));
        }
        let i = index as usize;
        let start =
            usize::from(le16(b, ib + 4 + (i - 1) * 2).ok_or(bad("HNPAGEMAP rgibAlloc", i as u64))?);
        let end = usize::from(le16(b, ib + 4 + i * 2).ok_or(bad("HNPAGEMAP rgibAlloc", i as u64))?);
        if start > end || end > b.len() {
            return Err(bad(
                "HNPAGEMAP allocation",
                ((start as u64) << 16) | end as u64,
            ));
        }
        b.get(start..end)
            .ok_or(bad("HNPAGEMAP allocation", start as u64))
    }

    /// Reads the BTH whose header is at `hid` and returns all leaf records as (key, data)
    /// pairs in key order (MS-PST 2.3.2).
    pub fn bth_records(&self, hid: u32) -> Result<Bth<'_>, LtpError> {
        let mut records = Vec::new();
        let (cb_key, cb_ent) = self.bth_for_each(hid, &mut |k, d| records.push((k, d)))?;
        Ok(Bth {
            cb_key,
            cb_ent,
            records,
        })
    }

    /// Calls `record` with each leaf record (key, data) of the BTH whose header is at `hid`,
    /// in key order, without collecting them (MS-PST 2.3.2); returns `cbKey` and `cbEnt`.
    pub fn bth_for_each<'h>(
        &'h self,
        hid: u32,
        record: &mut dyn FnMut(&'h [u8], &'h [u8]),
    ) -> Result<(usize, usize), LtpError> {
        let h = self.get(hid)?;
        let btype = h.first().copied().unwrap_or(0);
        if btype != SIG_BTH || h.len() < 8 {
            return Err(LtpError::Heap {
                what: "BTHHEADER bType",
                hid,
                value: u64::from(btype),
            });
        }
        let cb_key = usize::from(h.get(1).copied().unwrap_or(0));
        let cb_ent = usize::from(h.get(2).copied().unwrap_or(0));
        let levels = h.get(3).copied().unwrap_or(0);
        let root = le32(h, 4).unwrap_or(0);
        if !matches!(cb_key, 2 | 4 | 8 | 16) || cb_ent > 32 || levels > 8 {
            return Err(LtpError::Heap {
                what: "BTHHEADER cbKey/cbEnt/bIdxLevels",
                hid,
                value: ((cb_key as u64) << 16) | ((cb_ent as u64) << 8) | u64::from(levels),
            });
        }
        if root != 0 {
            let mut seen = HashSet::new();
            self.bth_walk(root, levels, cb_key, cb_ent, record, &mut seen)?;
        }
        Ok((cb_key, cb_ent))
    }

    /// Calls `record` on the leaf records under `hid`. The walk ends: `level` falls by one at
    /// each step (at most 8, checked by the caller), and a node reached a second time (a
    /// cycle, or a node shared by two parents) is an error, so no allocation of the heap is
    /// read twice however large the tree.
    fn bth_walk<'h>(
        &'h self,
        hid: u32,
        level: u8,
        cb_key: usize,
        cb_ent: usize,
        record: &mut dyn FnMut(&'h [u8], &'h [u8]),
        seen: &mut HashSet<u32>,
    ) -> Result<(), LtpError> {
        if !seen.insert(hid) {
            return Err(LtpError::Heap {
                what: "BTH cycle",
                hid,
                value: seen.len() as u64,
            });
        }
        let node = self.get(hid)?;
        if level == 0 {
            let rs = cb_key + cb_ent;
            if rs == 0 {
                return Ok(());
            }
            for rec in node.chunks_exact(rs) {
                record(
                    rec.get(..cb_key).unwrap_or(&[]),
                    rec.get(cb_key..).unwrap_or(&[]),
                );
            }
        } else {
            for rec in node.chunks_exact(cb_key + 4) {
                let child = le32(rec, cb_key).unwrap_or(0);
                self.bth_walk(child, level - 1, cb_key, cb_ent, record, seen)?;
            }
        }
        Ok(())
    }
}

/// The leaf records of a BTH.
pub struct Bth<'h> {
    /// `cbKey`.
    pub cb_key: usize,
    /// `cbEnt`.
    pub cb_ent: usize,
    /// (key, data) pairs.
    pub records: Vec<(&'h [u8], &'h [u8])>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    /// Builds a one-block heap with the given allocations, field by field.
    pub(crate) fn build_heap(client_sig: u8, user_root: u32, allocs: &[&[u8]]) -> Vec<u8> {
        let mut b = vec![0u8; 12]; // HNHDR placeholder
        let mut offs = vec![12u16];
        for a in allocs {
            b.extend_from_slice(a);
            offs.push(b.len() as u16);
        }
        if b.len() % 2 == 1 {
            b.push(0);
        }
        let ib_hnpm = b.len() as u16;
        b[0..2].copy_from_slice(&ib_hnpm.to_le_bytes()); // ibHnpm
        b[2] = 0xEC; // bSig
        b[3] = client_sig; // bClientSig
        b[4..8].copy_from_slice(&user_root.to_le_bytes()); // hidUserRoot
        // rgbFillLevel left 0.
        b.extend_from_slice(&(allocs.len() as u16).to_le_bytes()); // cAlloc
        b.extend_from_slice(&0u16.to_le_bytes()); // cFree = 0 (Outlook writes 0; never checked)
        for o in offs {
            b.extend_from_slice(&o.to_le_bytes()); // rgibAlloc
        }
        b
    }

    pub(crate) fn hid(i: u32) -> u32 {
        i << 5
    }

    #[test]
    fn heap_allocations_and_bth() {
        // Allocation 1: BTHHEADER (bType 0xB5, cbKey 2, cbEnt 6, levels 0, hidRoot = alloc 2).
        let mut bth = vec![0xB5, 2, 6, 0];
        bth.extend_from_slice(&hid(2).to_le_bytes());
        // Allocation 2: two leaf records: key 0x0037 → (type 0x001F, hnid alloc 3), key 0x0E07 → (0x0003, 1).
        let mut leaf = Vec::new();
        leaf.extend_from_slice(&0x0037u16.to_le_bytes());
        leaf.extend_from_slice(&0x001Fu16.to_le_bytes());
        leaf.extend_from_slice(&hid(3).to_le_bytes());
        leaf.extend_from_slice(&0x0E07u16.to_le_bytes());
        leaf.extend_from_slice(&0x0003u16.to_le_bytes());
        leaf.extend_from_slice(&1u32.to_le_bytes());
        let text: Vec<u8> = "Hi".encode_utf16().flat_map(u16::to_le_bytes).collect();
        let block = build_heap(SIG_PC, hid(1), &[&bth, &leaf, &text]);
        let heap = Heap::new(vec![Cow::Owned(block)], false).unwrap();
        assert_eq!(heap.client_sig, SIG_PC);
        assert_eq!(heap.get(hid(3)).unwrap(), &text[..]);
        assert!(heap.get(hid(4)).is_err());
        assert!(heap.get(hid(3) | 1).is_err());
        let b = heap.bth_records(hid(1)).unwrap();
        assert_eq!(b.records.len(), 2);
        assert_eq!(b.records[1].0, &0x0E07u16.to_le_bytes());
    }

    /// A three-level BTH (cbKey 4, cbEnt 4) over a heap of several blocks: a root of two
    /// index nodes in block 0 and `leaves` one-record leaves from block 1 on (2,047 to a
    /// block, the most a HID's 11-bit index can name). `twice` makes the second index node
    /// point at the first leaf again.
    fn deep_bth(leaves: u32, twice: bool) -> Vec<Vec<u8>> {
        let leaf_hid = |j: u32| ((1 + j / 2047) << 16) | hid(1 + j % 2047);
        let half = leaves.div_ceil(2);
        let index = |range: std::ops::Range<u32>| -> Vec<u8> {
            range
                .flat_map(|j| [j.to_le_bytes(), leaf_hid(j).to_le_bytes()].concat())
                .collect()
        };
        let mut mid2 = index(half..leaves);
        if twice {
            mid2[4..8].copy_from_slice(&leaf_hid(0).to_le_bytes());
        }
        let mut root = Vec::new();
        for (key, h) in [(0u32, hid(3)), (half, hid(4))] {
            root.extend_from_slice(&key.to_le_bytes());
            root.extend_from_slice(&h.to_le_bytes());
        }
        let mut header = vec![0xB5, 4, 4, 2];
        header.extend_from_slice(&hid(2).to_le_bytes());
        let mut blocks = vec![build_heap(
            SIG_TC,
            hid(1),
            &[&header, &root, &index(0..half), &mid2],
        )];
        let records: Vec<Vec<u8>> = (0..leaves)
            .map(|j| [j.to_le_bytes(), (j * 2).to_le_bytes()].concat())
            .collect();
        for chunk in records.chunks(2047) {
            let allocs: Vec<&[u8]> = chunk.iter().map(Vec::as_slice).collect();
            blocks.push(build_heap(0, 0, &allocs));
        }
        blocks
    }

    #[test]
    fn a_bth_of_any_size_is_read_and_a_shared_node_is_an_error() {
        // More leaf nodes than the 4,096 the walk used to allow in all.
        let n = 5000;
        let heap = Heap::new(
            deep_bth(n, false).into_iter().map(Cow::Owned).collect(),
            false,
        )
        .unwrap();
        let b = heap.bth_records(hid(1)).unwrap();
        assert_eq!(b.records.len(), n as usize);
        for (j, (k, d)) in b.records.iter().enumerate() {
            assert_eq!(*k, &(j as u32).to_le_bytes());
            assert_eq!(*d, &(j as u32 * 2).to_le_bytes());
        }
        let heap = Heap::new(
            deep_bth(n, true).into_iter().map(Cow::Owned).collect(),
            false,
        )
        .unwrap();
        assert!(matches!(
            heap.bth_records(hid(1)),
            Err(LtpError::Heap {
                what: "BTH cycle",
                ..
            })
        ));
    }

    #[test]
    fn bad_signature_is_an_error() {
        let mut block = build_heap(SIG_PC, 0, &[]);
        block[2] = 0xEB;
        assert!(Heap::new(vec![Cow::Owned(block)], false).is_err());
    }
}
