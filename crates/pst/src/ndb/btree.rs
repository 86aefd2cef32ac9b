//! B-tree pages (BTPAGE, MS-PST 2.2.2.7.7) of the node B-tree (NBT) and block B-tree (BBT):
//! lookups by binary search, full walks with cycle detection, root validation and the
//! page-scan root recovery of format notes §15 rule 2.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use super::{Bref, Format, Ndb, NdbError, pst_crc};

/// `ptype` of a BBT page.
pub const PTYPE_BBT: u8 = 0x80;
/// `ptype` of an NBT page.
pub const PTYPE_NBT: u8 = 0x81;

pub(crate) fn le32(b: &[u8], o: usize) -> u32 {
    b.get(o..o + 4)
        .and_then(|s| s.try_into().ok())
        .map(u32::from_le_bytes)
        .unwrap_or(0)
}

pub(crate) fn le64(b: &[u8], o: usize) -> u64 {
    b.get(o..o + 8)
        .and_then(|s| s.try_into().ok())
        .map(u64::from_le_bytes)
        .unwrap_or(0)
}

/// Reads a 4- or 8-byte little-endian id.
pub(crate) fn id_at(b: &[u8], o: usize, size: usize) -> u64 {
    if size == 8 {
        le64(b, o)
    } else {
        u64::from(le32(b, o))
    }
}

/// One NBT leaf entry (NBTENTRY, MS-PST 2.2.2.7.7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NodeEntry {
    /// The node id.
    pub nid: u32,
    /// Data tree root (`bidData`).
    pub bid_data: u64,
    /// Subnode tree root (`bidSub`, 0 = none).
    pub bid_sub: u64,
    /// Parent node (`nidParent`).
    pub parent: u32,
}

/// One BBT leaf entry (BBTENTRY, MS-PST 2.2.2.7.7.3; 4K variant per libpff).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BlockEntry {
    /// Block id.
    pub bid: u64,
    /// File offset.
    pub ib: u64,
    /// Stored size (`cb`; compressed size in 4K files).
    pub cb: u16,
    /// Inflated size (4K files; equals `cb` elsewhere).
    pub inflated: u16,
}

/// A validated B-tree page: the page's bytes (shared with the [`PageCache`]) and its
/// BTPAGE fields (MS-PST 2.2.2.7.7.1).
pub(crate) struct Page {
    raw: Arc<[u8]>,
    pub cent: usize,
    pub cbent: usize,
    pub level: u8,
    pub ib: u64,
}

impl Page {
    pub fn entry(&self, i: usize) -> &[u8] {
        if i >= self.cent {
            return &[];
        }
        self.raw
            .get(i * self.cbent..(i + 1) * self.cbent)
            .unwrap_or(&[])
    }
}

/// Bytes of B-tree pages an [`Ndb`] keeps in memory, out of the file map, so that the pages
/// every lookup reads (those near each root) are checked once and do not keep their windows
/// of the map resident: 16 pages of a 4K-page OST, 128 of a PST.
pub const PAGE_CACHE_BYTES: usize = 64 * 1024;

/// The B-tree pages read most recently, copied out of the file map and keyed by file offset,
/// up to [`PAGE_CACHE_BYTES`].
///
/// Every lookup descends from the root, so a few pages near the top of each tree are read for
/// every block and node. Kept here, they are checked (CRC, signature) once instead of at every
/// read, and the file map's windows that hold them need not stay resident: the map can be
/// released as often as its budget asks without faulting them back in after each release.
/// When full, the half used least recently is dropped (amortised constant time per page).
#[derive(Default)]
pub(crate) struct PageCache {
    pages: HashMap<u64, (Arc<[u8]>, u64)>,
    bytes: usize,
    tick: u64,
}

impl PageCache {
    /// Bytes of the pages held.
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    fn get(&mut self, ib: u64) -> Option<Arc<[u8]>> {
        self.tick += 1;
        let tick = self.tick;
        self.pages.get_mut(&ib).map(|(p, used)| {
            *used = tick;
            p.clone()
        })
    }

    fn insert(&mut self, ib: u64, page: Arc<[u8]>) {
        if self.bytes + page.len() > PAGE_CACHE_BYTES && !self.pages.is_empty() {
            let mut ticks: Vec<u64> = self.pages.values().map(|(_, t)| *t).collect();
            let mid = ticks.len() / 2;
            let (_, median, _) = ticks.select_nth_unstable(mid);
            let median = *median;
            self.pages.retain(|_, (_, t)| *t > median);
            self.bytes = self.pages.values().map(|(p, _)| p.len()).sum();
        }
        self.tick += 1;
        self.bytes += page.len();
        if let Some((old, _)) = self.pages.insert(ib, (page, self.tick)) {
            self.bytes -= old.len();
        }
    }
}

/// Block and page signature (MS-PST "Block Signature"; format notes §6.1): the two halves of
/// the low 32 bits of `ib ^ bid`, XORed. The reader checks it; the writer stamps it.
pub fn signature(ib: u64, bid: u64) -> u16 {
    let x = (ib ^ bid) as u32;
    ((x >> 16) ^ (x & 0xFFFF)) as u16
}

impl Ndb {
    /// Reads and validates the B-tree page at `r` (format notes §3.1 "Validation"): `ptype`
    /// twice, the trailer BID, `cEnt`/`cbEnt` fitting the page. CRC and signature mismatches are
    /// warnings, checked when the page is read from the file (not again while the
    /// [`PageCache`] keeps it).
    pub(crate) fn page(&self, r: Bref, ptype: u8) -> Result<Page, NdbError> {
        let f = self.format();
        let ps = f.page_size();
        let cached = self.pages.lock().ok().and_then(|mut c| c.get(r.ib));
        let fresh = cached.is_none();
        let raw: Arc<[u8]> = match cached {
            Some(p) => p,
            None => Arc::from(self.slice("BTPAGE", r.ib, ps)?),
        };
        let t = f.page_trailer();
        let pt = raw.get(t).copied().unwrap_or(0);
        let pt2 = raw.get(t + 1).copied().unwrap_or(0);
        if pt != ptype || pt2 != ptype {
            return Err(NdbError::Field {
                field: "PAGETRAILER ptype",
                offset: r.ib,
                value: u64::from(pt) | (u64::from(pt2) << 8),
            });
        }
        let (crc, bid) = match f {
            Format::Ansi => (le32(&raw, t + 8), u64::from(le32(&raw, t + 4))),
            _ => (le32(&raw, t + 4), le64(&raw, t + 8)),
        };
        if bid & !1 != r.bid & !1 {
            return Err(NdbError::Field {
                field: "PAGETRAILER bid",
                offset: r.ib,
                value: bid,
            });
        }
        if fresh && self.check_crc {
            let c = pst_crc(raw.get(..t).unwrap_or(&[]));
            if c != crc {
                self.warn_once(
                    0,
                    "pst.page-crc",
                    format!(
                        "B-tree page BID 0x{bid:X} CRC mismatch: stored 0x{crc:08X}, computed 0x{c:08X}"
                    ),
                    r.ib,
                );
            }
            let wsig = u16::from_le_bytes([
                raw.get(t + 2).copied().unwrap_or(0),
                raw.get(t + 3).copied().unwrap_or(0),
            ]);
            if wsig != signature(r.ib, bid) {
                self.warn_once(
                    6,
                    "pst.page-signature",
                    format!("B-tree page BID 0x{bid:X} has signature 0x{wsig:04X}"),
                    r.ib,
                );
            }
        }
        if fresh && let Ok(mut c) = self.pages.lock() {
            c.insert(r.ib, raw.clone());
        }
        let (area, cent, cbent, level) = match f {
            Format::Ansi => (
                496,
                usize::from(raw.get(496).copied().unwrap_or(0)),
                usize::from(raw.get(498).copied().unwrap_or(0)),
                raw.get(499).copied().unwrap_or(0),
            ),
            Format::Unicode => (
                488,
                usize::from(raw.get(488).copied().unwrap_or(0)),
                usize::from(raw.get(490).copied().unwrap_or(0)),
                raw.get(491).copied().unwrap_or(0),
            ),
            Format::Unicode4k => (
                4056,
                usize::from(u16::from_le_bytes([
                    raw.get(4056).copied().unwrap_or(0),
                    raw.get(4057).copied().unwrap_or(0),
                ])),
                usize::from(raw.get(4060).copied().unwrap_or(0)),
                raw.get(4061).copied().unwrap_or(0),
            ),
        };
        let ks = f.id_size();
        let min = if level > 0 {
            3 * ks
        } else if ptype == PTYPE_NBT {
            3 * ks + 4
        } else {
            2 * ks + 4
        };
        if cbent < min {
            return Err(NdbError::Field {
                field: "BTPAGE cbEnt",
                offset: r.ib,
                value: cbent as u64,
            });
        }
        let fit = area / cbent;
        let cent = if cent > fit {
            self.warn_once(
                7,
                "pst.page-count",
                format!(
                    "B-tree page BID 0x{bid:X}: cEnt {cent} exceeds the {fit} entries that fit"
                ),
                r.ib,
            );
            fit
        } else {
            cent
        };
        Ok(Page {
            raw,
            cent,
            cbent,
            level,
            ib: r.ib,
        })
    }

    pub(crate) fn validate_root(&self, r: Bref, ptype: u8) -> bool {
        self.page(r, ptype).is_ok()
    }

    /// Descends a B-tree to the leaf entry whose key equals `key`.
    fn descend(&self, root: Bref, ptype: u8, key: u64) -> Result<Option<(Page, usize)>, NdbError> {
        let ks = self.format().id_size();
        let mask = if ptype == PTYPE_BBT { !1u64 } else { u64::MAX };
        let key = key & mask;
        let mut r = root;
        let mut prev_level: Option<u8> = None;
        let mut seen: Vec<u64> = Vec::new();
        loop {
            if seen.contains(&r.ib) {
                return Err(NdbError::Cycle {
                    what: "B-tree page",
                    offset: r.ib,
                });
            }
            if seen.len() as u32 > self.limits().max_tree_depth {
                return Err(NdbError::Limit {
                    what: "B-tree depth",
                    offset: r.ib,
                    value: seen.len() as u64,
                });
            }
            seen.push(r.ib);
            let p = self.page(r, ptype)?;
            if let Some(pl) = prev_level
                && p.level.checked_add(1) != Some(pl)
            {
                return Err(NdbError::Field {
                    field: "BTPAGE cLevel",
                    offset: p.ib,
                    value: u64::from(p.level),
                });
            }
            prev_level = Some(p.level);
            let k = |i: usize| {
                let v = id_at(p.entry(i), 0, ks);
                if ptype == PTYPE_NBT {
                    v & 0xFFFF_FFFF
                } else {
                    v & mask
                }
            };
            // Binary search: number of entries with key ≤ wanted.
            let (mut lo, mut hi) = (0usize, p.cent);
            while lo < hi {
                let mid = lo + (hi - lo) / 2;
                if k(mid) <= key {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            if p.level == 0 {
                if lo == 0 || k(lo - 1) != key {
                    return Ok(None);
                }
                return Ok(Some((p, lo - 1)));
            }
            if lo == 0 {
                return Ok(None);
            }
            let e = p.entry(lo - 1);
            r = Bref {
                bid: id_at(e, ks, ks),
                ib: id_at(e, 2 * ks, ks),
            };
        }
    }

    fn node_entry(&self, e: &[u8]) -> NodeEntry {
        let ks = self.format().id_size();
        NodeEntry {
            nid: le32(e, 0),
            bid_data: id_at(e, ks, ks),
            bid_sub: id_at(e, 2 * ks, ks),
            parent: le32(e, 3 * ks),
        }
    }

    fn block_entry(&self, e: &[u8]) -> BlockEntry {
        let ks = self.format().id_size();
        let cb = u16::from_le_bytes([
            e.get(2 * ks).copied().unwrap_or(0),
            e.get(2 * ks + 1).copied().unwrap_or(0),
        ]);
        let inflated = if self.format() == Format::Unicode4k {
            u16::from_le_bytes([
                e.get(2 * ks + 2).copied().unwrap_or(0),
                e.get(2 * ks + 3).copied().unwrap_or(0),
            ])
        } else {
            cb
        };
        BlockEntry {
            bid: id_at(e, 0, ks),
            ib: id_at(e, ks, ks),
            cb,
            inflated,
        }
    }

    /// Looks up a node in the NBT.
    pub fn lookup_node(&self, nid: u32) -> Result<NodeEntry, NdbError> {
        match self.descend(self.nbt_root, PTYPE_NBT, u64::from(nid))? {
            Some((p, i)) => Ok(self.node_entry(p.entry(i))),
            None => Err(NdbError::NidNotFound { nid }),
        }
    }

    /// Looks up a block in the BBT (bit 0 of the BID ignored).
    pub fn lookup_block(&self, bid: u64) -> Result<BlockEntry, NdbError> {
        match self.descend(self.bbt_root, PTYPE_BBT, bid)? {
            Some((p, i)) => Ok(self.block_entry(p.entry(i))),
            None => Err(NdbError::BidNotFound { bid }),
        }
    }

    /// Visits every NBT leaf entry in key order. Damaged pages are skipped with a warning;
    /// cycles and depth are bounded. `f` returns `false` to stop.
    pub fn walk_nodes(&self, f: &mut dyn FnMut(NodeEntry) -> bool) -> Result<u64, NdbError> {
        let mut count = 0u64;
        self.walk(self.nbt_root, PTYPE_NBT, &mut |e: &[u8]| {
            count += 1;
            f(self.node_entry(e))
        })?;
        Ok(count)
    }

    /// Visits every BBT leaf entry (see [`Ndb::walk_nodes`]).
    pub fn walk_blocks(&self, f: &mut dyn FnMut(BlockEntry) -> bool) -> Result<u64, NdbError> {
        let mut count = 0u64;
        self.walk(self.bbt_root, PTYPE_BBT, &mut |e: &[u8]| {
            count += 1;
            f(self.block_entry(e))
        })?;
        Ok(count)
    }

    fn walk(
        &self,
        root: Bref,
        ptype: u8,
        f: &mut dyn FnMut(&[u8]) -> bool,
    ) -> Result<(), NdbError> {
        let ks = self.format().id_size();
        let mut seen: HashSet<u64> = HashSet::new();
        let mut stack: Vec<(Bref, Option<u8>, u32)> = vec![(root, None, 0)];
        let mut items: u64 = 0;
        let mut first = true;
        while let Some((r, want_level, depth)) = stack.pop() {
            if !seen.insert(r.ib) {
                self.warn_once(
                    8,
                    "pst.btree-cycle",
                    format!("B-tree page at offset {} referenced twice", r.ib),
                    r.ib,
                );
                continue;
            }
            if depth > self.limits().max_tree_depth {
                return Err(NdbError::Limit {
                    what: "B-tree depth",
                    offset: r.ib,
                    value: u64::from(depth),
                });
            }
            let p = match self.page(r, ptype) {
                Ok(p) => p,
                Err(e) if first => return Err(e),
                Err(e) => {
                    self.warn_once(
                        9,
                        "pst.btree-page",
                        format!("skipping B-tree page: {e}"),
                        r.ib,
                    );
                    continue;
                }
            };
            first = false;
            if let Some(w) = want_level
                && p.level != w
            {
                self.warn_once(
                    9,
                    "pst.btree-page",
                    format!(
                        "skipping B-tree page: cLevel {} where {w} was expected",
                        p.level
                    ),
                    r.ib,
                );
                continue;
            }
            if p.level == 0 {
                for i in 0..p.cent {
                    items += 1;
                    if items > self.limits().max_items {
                        return Err(NdbError::Limit {
                            what: "B-tree entries",
                            offset: r.ib,
                            value: items,
                        });
                    }
                    if !f(p.entry(i)) {
                        return Ok(());
                    }
                }
            } else {
                for i in (0..p.cent).rev() {
                    let e = p.entry(i);
                    stack.push((
                        Bref {
                            bid: id_at(e, ks, ks),
                            ib: id_at(e, 2 * ks, ks),
                        },
                        Some(p.level - 1),
                        depth + 1,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Scans the file at page granularity for B-tree pages (valid `ptype` twice, valid CRC,
    /// signature matching offset and BID) and returns, per tree, the page with the highest
    /// level and, among those, the highest BID (format notes §15 rule 2; inferred).
    pub(crate) fn scan_roots(&self) -> (Option<Bref>, Option<Bref>) {
        let f = self.format();
        let ps = f.page_size();
        let t = f.page_trailer();
        let bytes = self.bytes();
        let mut best: [Option<(u8, u64, Bref)>; 2] = [None, None];
        let start = if f == Format::Unicode4k {
            0x22000
        } else {
            0x4400
        };
        let mut off = start;
        while off + ps <= bytes.len() {
            if let Some(raw) = bytes.get(off..off + ps) {
                let pt = raw.get(t).copied().unwrap_or(0);
                if (pt == PTYPE_BBT || pt == PTYPE_NBT) && raw.get(t + 1) == Some(&pt) {
                    let (crc, bid) = match f {
                        Format::Ansi => (le32(raw, t + 8), u64::from(le32(raw, t + 4))),
                        _ => (le32(raw, t + 4), le64(raw, t + 8)),
                    };
                    let wsig = u16::from_le_bytes([
                        raw.get(t + 2).copied().unwrap_or(0),
                        raw.get(t + 3).copied().unwrap_or(0),
                    ]);
                    let crc_ok = pst_crc(raw.get(..t).unwrap_or(&[])) == crc || !self.check_crc;
                    if crc_ok && wsig == signature(off as u64, bid) {
                        let r = Bref {
                            bid,
                            ib: off as u64,
                        };
                        if let Ok(p) = self.page(r, pt) {
                            let slot = usize::from(pt == PTYPE_NBT);
                            let cand = (p.level, bid, r);
                            let better = match best.get(slot).copied().flatten() {
                                None => true,
                                Some((l, b, _)) => (p.level, bid) > (l, b),
                            };
                            if better && let Some(s) = best.get_mut(slot) {
                                *s = Some(cand);
                            }
                        }
                    }
                }
            }
            off += ps;
        }
        let [bbt, nbt] = best;
        (nbt.map(|x| x.2), bbt.map(|x| x.2))
    }
}
