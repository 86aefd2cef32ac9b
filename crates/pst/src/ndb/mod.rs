//! NDB layer: header, pages, the node and block B-trees, blocks, data trees and subnode trees
//! (MS-PST 2.2.2; format notes §2–§7).
//!
//! [`Ndb`] holds the file bytes (a memory map, shared) and the header. Lookups descend the
//! B-trees from their root page each time, with a binary search in every page. The pages read
//! most recently are kept in a bounded cache ([`btree::PAGE_CACHE_BYTES`]); no tree is ever
//! loaded whole.

pub mod btree;
pub mod crypt;
pub mod header;

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use mailmig_ir::blob::{SharedBytes, release_due, release_when_due};
use mailmig_ir::{Blob, Limits, Warning};

thread_local! {
    /// The inflaters for 4K-page OST blocks, kept per thread so that their state is not
    /// allocated for every block: libdeflate, which inflates a whole block in one call, about
    /// twice as fast as zlib on these small blocks, and zlib (`flate2`), which reads every
    /// stream libdeflate refuses ([`inflate_block`]).
    static INFLATER: RefCell<flate2::Decompress> = RefCell::new(flate2::Decompress::new(true));
    static WHOLE_INFLATER: RefCell<Option<libdeflater::Decompressor>> =
        const { RefCell::new(None) };
}

pub use btree::{BlockEntry, NodeEntry};
pub use header::{Bref, CryptMethod, Format, Header, pst_crc};

/// How much of the file map may be resident before its pages are released: checked after
/// each message, after each attachment, after each block of a contents table's rows and of a
/// streamed data tree, so the memory a walk keeps of the file does not grow with the file (a
/// file smaller than this is never released while it is read). Counted in the kernel's
/// fault-around windows ([`Ndb::touched_bytes`]), an estimate of what is really resident.
/// Half a MiB: against 1 MiB it lowers the peak memory of converting the PST corpus with two
/// workers by 0.9 to 1.8 MiB, for the same wall time and about 4 % more CPU time (the releases,
/// and the pages around the reading position faulting back in after each).
pub const RELEASE_BUDGET: u64 = 1 << 19;

/// Data trees of at least this many bytes are read as [`Blob::streamed`] blobs
/// ([`Ndb::streamed_blob`]): above it, decoding the blocks twice (to check them when the
/// message is read, and when the blob is written) is cheaper than holding them decoded.
pub const STREAMED_BLOB_MIN: u64 = 1 << 20;

/// One data block of a [`StreamedTree`]: where it is stored and how to decode it.
#[derive(Clone, Copy, Debug)]
struct StreamedBlock {
    ib: u64,
    bid: u64,
    cb: u16,
    /// The inflated size of a compressed 4K-page OST block.
    inflated: Option<u16>,
}

/// The data blocks of a data tree, checked when the message was read, decoded one at a time
/// each time the [`Blob::streamed`] over them is read.
struct StreamedTree {
    bytes: SharedBytes,
    file_map: Option<Arc<crate::source::FileMap>>,
    crypt: CryptMethod,
    blocks: Vec<StreamedBlock>,
    len: usize,
}

impl mailmig_ir::blob::PieceSource for StreamedTree {
    fn len(&self) -> usize {
        self.len
    }

    fn pieces(&self, piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()> {
        let data = (*self.bytes).as_ref();
        let mut buf = Vec::new();
        // The whole map is released every `RELEASE_EVERY` bytes read. Releasing only the
        // blocks read would not do: the next fault maps the pages around it again, up to the
        // kernel's fault-around window (or a whole large folio), behind as well as ahead.
        let (mut read, mut released_at) = (0usize, 0usize);
        let map = self.file_map.as_deref();
        for b in &self.blocks {
            let changed = || {
                std::io::Error::other(format!(
                    "block BID 0x{:X} at offset {} no longer reads as it did when its message \
                     was read (was the input modified during the run?)",
                    b.bid, b.ib
                ))
            };
            let start = usize::try_from(b.ib).map_err(|_| changed())?;
            let stored = data
                .get(start..start.saturating_add(usize::from(b.cb)))
                .ok_or_else(changed)?;
            let decoded: &[u8] = match b.inflated {
                Some(size) => {
                    inflate_block(stored, usize::from(size), &mut buf).map_err(|_| changed())?;
                    undo_encoding(self.crypt, b.bid, &mut buf).map_err(|_| changed())?;
                    &buf
                }
                None if b.bid & 2 == 0 && self.crypt != CryptMethod::None => {
                    buf.clear();
                    append_decoded(self.crypt, b.bid, stored, &mut buf).map_err(|_| changed())?;
                    &buf
                }
                None => stored,
            };
            piece(decoded)?;
            read += usize::from(b.cb);
            release_when_due(map, read, &mut released_at);
        }
        if let Some(m) = map {
            m.release_pages();
        }
        Ok(())
    }
}

/// Inflates one 4K-page OST block's zlib stream into `out` (cleared first), at most `size`
/// bytes, the block's inflated size: a stream that would inflate to more is cut there,
/// whatever `out`'s capacity. A valid stream that fits is inflated by libdeflate
/// ([`inflate_whole`]); any other goes through zlib, whose state (tens of KB) is reused per
/// thread and reset for each block.
fn inflate_block(stored: &[u8], size: usize, out: &mut Vec<u8>) -> Result<(), String> {
    out.clear();
    out.resize(size, 0);
    if let Some(n) = inflate_whole(stored, out) {
        out.truncate(n);
        return Ok(());
    }
    let run = |d: &mut flate2::Decompress, out: &mut [u8]| {
        d.reset(true);
        d.decompress(stored, out, flate2::FlushDecompress::Finish)
            .map(|_| d.total_out())
    };
    let n = INFLATER
        .try_with(|cell| match cell.try_borrow_mut() {
            Ok(mut d) => run(&mut d, out),
            Err(_) => run(&mut flate2::Decompress::new(true), out),
        })
        .unwrap_or_else(|_| run(&mut flate2::Decompress::new(true), out))
        .map_err(|err| err.to_string())?;
    out.truncate(usize::try_from(n).unwrap_or(size));
    Ok(())
}

/// Inflates the zlib stream `stored` whole into `out` with libdeflate: `Some(length)` when the
/// stream is valid, its Adler-32 matches and it fits in `out`; `None` otherwise. A `None`
/// stream goes to zlib, which keeps what a damaged stream or one longer than its block yields,
/// with the same warnings and errors as before libdeflate was used.
fn inflate_whole(stored: &[u8], out: &mut [u8]) -> Option<usize> {
    WHOLE_INFLATER
        .try_with(|cell| {
            let mut slot = cell.try_borrow_mut().ok()?;
            let d = slot.get_or_insert_with(libdeflater::Decompressor::new);
            d.zlib_decompress(stored, out).ok()
        })
        .ok()
        .flatten()
}

/// Appends `stored`, the stored bytes of block `bid`, to `out` with the file's encoding
/// (`crypt`) undone, decoding while copying where it can (one pass instead of a copy and then
/// an in-place decode).
fn append_decoded(
    crypt: CryptMethod,
    bid: u64,
    stored: &[u8],
    out: &mut Vec<u8>,
) -> Result<(), NdbError> {
    if bid & 2 == 0 && crypt == CryptMethod::Permute {
        crypt::permute_decode_into(stored, out);
        return Ok(());
    }
    let start = out.len();
    out.extend_from_slice(stored);
    undo_encoding(crypt, bid, out.get_mut(start..).unwrap_or(&mut []))
}

/// Undoes the file's encoding (`crypt`) on the data of block `bid` in place; internal blocks
/// are not encoded (MS-PST 5).
fn undo_encoding(crypt: CryptMethod, bid: u64, data: &mut [u8]) -> Result<(), NdbError> {
    if bid & 2 != 0 {
        return Ok(());
    }
    match crypt {
        CryptMethod::None => {}
        CryptMethod::Permute => crypt::permute_decode(data),
        CryptMethod::Cyclic => crypt::cyclic(data, bid as u32),
        CryptMethod::Unknown(m) => return Err(NdbError::UnknownCrypt { bid, method: m }),
    }
    Ok(())
}

/// Errors of the NDB layer. Each names the structure and field, with the byte offset and the
/// raw value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NdbError {
    /// A structure runs past the end of the file or of its block.
    #[error("truncated {what} at offset {offset}: need {need} bytes, have {have}")]
    Truncated {
        /// Structure name as in MS-PST.
        what: &'static str,
        /// Byte offset.
        offset: u64,
        /// Bytes needed.
        need: u64,
        /// Bytes available.
        have: u64,
    },
    /// A field holds a value that cannot be used.
    #[error("invalid {field} 0x{value:X} at offset {offset}")]
    Field {
        /// Structure and field, e.g. `HEADER dwMagic`.
        field: &'static str,
        /// Byte offset of the structure.
        offset: u64,
        /// The raw value.
        value: u64,
    },
    /// Header CRC mismatch (strict mode only; salvage mode warns).
    #[error(
        "invalid HEADER {field} at offset {offset}: stored 0x{stored:08X}, computed 0x{computed:08X}"
    )]
    HeaderCrc {
        /// `dwCRCPartial` or `dwCRCFull`.
        field: &'static str,
        /// Offset of the field.
        offset: u64,
        /// Stored value.
        stored: u32,
        /// Computed value.
        computed: u32,
    },
    /// A BID is not in the block B-tree.
    #[error("BID 0x{bid:X} not found in the block B-tree")]
    BidNotFound {
        /// The BID.
        bid: u64,
    },
    /// A NID is not in the node B-tree (or in a subnode tree).
    #[error("NID 0x{nid:08X} not found")]
    NidNotFound {
        /// The NID.
        nid: u32,
    },
    /// A bound from [`Limits`] was reached.
    #[error("limit reached: {what} ({value}) at offset {offset}")]
    Limit {
        /// Which limit.
        what: &'static str,
        /// Offset of the structure.
        offset: u64,
        /// The value that exceeded it.
        value: u64,
    },
    /// A page or block was visited twice in one walk.
    #[error("cycle: {what} at offset {offset} visited twice")]
    Cycle {
        /// What.
        what: &'static str,
        /// Offset.
        offset: u64,
    },
    /// A compressed 4K block failed to inflate.
    #[error("cannot inflate block BID 0x{bid:X} at offset {offset}: {reason}")]
    Inflate {
        /// The block.
        bid: u64,
        /// Its offset.
        offset: u64,
        /// Why.
        reason: String,
    },
    /// Data is encoded with an unknown `bCryptMethod`.
    #[error("cannot decode block BID 0x{bid:X}: unknown bCryptMethod 0x{method:02X}")]
    UnknownCrypt {
        /// The block.
        bid: u64,
        /// The method byte.
        method: u8,
    },
}

impl NdbError {
    /// The file offset the error names, when it names one.
    pub fn offset(&self) -> Option<u64> {
        match self {
            NdbError::Truncated { offset, .. }
            | NdbError::Field { offset, .. }
            | NdbError::HeaderCrc { offset, .. }
            | NdbError::Limit { offset, .. }
            | NdbError::Cycle { offset, .. }
            | NdbError::Inflate { offset, .. } => Some(*offset),
            NdbError::BidNotFound { .. }
            | NdbError::NidNotFound { .. }
            | NdbError::UnknownCrypt { .. } => None,
        }
    }
}

/// NID type: low 5 bits of a NID (MS-PST 2.2.2.1; format notes §4).
pub fn nid_type(nid: u32) -> u8 {
    (nid & 0x1F) as u8
}

/// NID type `NID_TYPE_NORMAL_FOLDER`.
pub const NID_TYPE_NORMAL_FOLDER: u8 = 0x02;
/// NID type `NID_TYPE_SEARCH_FOLDER`.
pub const NID_TYPE_SEARCH_FOLDER: u8 = 0x03;
/// NID type `NID_TYPE_NORMAL_MESSAGE`.
pub const NID_TYPE_NORMAL_MESSAGE: u8 = 0x04;
/// NID type `NID_TYPE_ATTACHMENT`.
pub const NID_TYPE_ATTACHMENT: u8 = 0x05;
/// NID type `NID_TYPE_ASSOC_MESSAGE` (FAI).
pub const NID_TYPE_ASSOC_MESSAGE: u8 = 0x08;
/// `NID_MESSAGE_STORE`.
pub const NID_MESSAGE_STORE: u32 = 0x21;
/// `NID_NAME_TO_ID_MAP`.
pub const NID_NAME_TO_ID_MAP: u32 = 0x61;
/// `NID_ROOT_FOLDER`.
pub const NID_ROOT_FOLDER: u32 = 0x122;
/// Subnode NID of a message's recipient table.
pub const NID_RECIPIENT_TABLE: u32 = 0x692;
/// Subnode NID of a message's attachment table.
pub const NID_ATTACHMENT_TABLE: u32 = 0x671;

/// One entry of a subnode tree (SLENTRY, MS-PST 2.2.2.8.3.3.1.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SubnodeEntry {
    /// The subnode's data (`bidData`).
    pub bid_data: u64,
    /// The subnode's own subnode tree (`bidSub`, 0 = none).
    pub bid_sub: u64,
}

/// A node's subnode tree, read whole (subnode NIDs are local to their parent node).
pub type SubnodeMap = BTreeMap<u32, SubnodeEntry>;

/// The node database of one PST/OST file.
pub struct Ndb {
    data: SharedBytes,
    file: Arc<str>,
    header: Header,
    nbt_root: Bref,
    bbt_root: Bref,
    limits: Limits,
    warnings: Mutex<Vec<Warning>>,
    reported: Mutex<HashSet<(u8, u64)>>,
    check_crc: bool,
    touched: Touched,
    /// B-tree pages read recently, kept out of the file map.
    pages: Mutex<btree::PageCache>,
    /// The memory map under `data`, when it is one: its pages are released as reads go.
    file_map: Option<Arc<crate::source::FileMap>>,
    /// Data trees claiming at least this many bytes are streamed ([`STREAMED_BLOB_MIN`]
    /// unless [`Ndb::set_streamed_blob_min`] changed it).
    streamed_min: u64,
}

impl std::fmt::Debug for Ndb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ndb")
            .field("file", &self.file)
            .field("header", &self.header)
            .finish()
    }
}

/// One block after decoding: borrowed from the file when stored plainly, owned otherwise.
pub type BlockData<'a> = Cow<'a, [u8]>;

impl Ndb {
    /// Opens the NDB over `data` (the whole file). Reads the header only, plus — when the
    /// header CRC fails or a root page does not validate — a page scan to recover the
    /// B-tree roots (salvage mode only; format notes §15 rule 2).
    ///
    /// In strict mode (`salvage == false`) a header CRC mismatch is an error naming the field,
    /// its offset and both values.
    pub fn open(
        data: SharedBytes,
        file: impl Into<String>,
        salvage: bool,
        limits: Limits,
    ) -> Result<Self, NdbError> {
        let file = Arc::from(file.into());
        let header = Header::parse((*data).as_ref())?;
        let len = (*data).as_ref().len();
        let mut ndb = Ndb {
            nbt_root: header.nbt_root,
            bbt_root: header.bbt_root,
            data,
            file,
            header,
            limits,
            warnings: Mutex::new(Vec::new()),
            reported: Mutex::new(HashSet::new()),
            check_crc: !cfg!(fuzzing),
            touched: Touched::new(len),
            pages: Mutex::default(),
            file_map: None,
            streamed_min: STREAMED_BLOB_MIN,
        };
        let h = ndb.header.clone();
        let mut crc_bad = false;
        if h.crc_partial != h.crc_partial_computed && ndb.check_crc {
            crc_bad = true;
            let e = NdbError::HeaderCrc {
                field: "dwCRCPartial",
                offset: 4,
                stored: h.crc_partial,
                computed: h.crc_partial_computed,
            };
            if !salvage {
                return Err(e);
            }
            ndb.warn("pst.header-crc", e.to_string(), Some(4));
        }
        if let (Some(s), Some(c)) = (h.crc_full, h.crc_full_computed)
            && s != c
            && ndb.check_crc
        {
            crc_bad = true;
            let e = NdbError::HeaderCrc {
                field: "dwCRCFull",
                offset: 524,
                stored: s,
                computed: c,
            };
            if !salvage {
                return Err(e);
            }
            ndb.warn("pst.header-crc", e.to_string(), Some(524));
        }
        if h.sentinel != 0x80 {
            ndb.warn(
                "pst.header-sentinel",
                format!("HEADER bSentinel is 0x{:02X}, expected 0x80", h.sentinel),
                None,
            );
        }
        if let CryptMethod::Unknown(b) = h.crypt {
            ndb.warn(
                "pst.crypt-unknown",
                format!("unknown bCryptMethod 0x{b:02X}: data blocks cannot be decoded"),
                None,
            );
        }
        let mut nbt_ok = ndb.validate_root(h.nbt_root, btree::PTYPE_NBT);
        let mut bbt_ok = ndb.validate_root(h.bbt_root, btree::PTYPE_BBT);
        if !h.version_known() {
            ndb.warn(
                "pst.version-unknown",
                format!(
                    "unknown HEADER wVer {}; trying the {} layout",
                    h.version,
                    h.format.describe()
                ),
                Some(10),
            );
            if !(nbt_ok && bbt_ok) {
                // Try the other layout; keep it when its roots validate.
                let other = if h.format == Format::Ansi {
                    Format::Unicode
                } else {
                    Format::Ansi
                };
                if let Ok(alt) = Header::parse_as(ndb.bytes(), Some(other)) {
                    let saved = std::mem::replace(&mut ndb.header, alt.clone());
                    if ndb.validate_root(alt.nbt_root, btree::PTYPE_NBT)
                        && ndb.validate_root(alt.bbt_root, btree::PTYPE_BBT)
                    {
                        ndb.nbt_root = alt.nbt_root;
                        ndb.bbt_root = alt.bbt_root;
                        (nbt_ok, bbt_ok) = (true, true);
                        ndb.warn(
                            "pst.version-unknown",
                            format!(
                                "wVer {}: the {} layout validates",
                                alt.version,
                                other.describe()
                            ),
                            Some(10),
                        );
                    } else {
                        ndb.header = saved;
                    }
                }
            }
        }
        let h = ndb.header.clone();
        if (crc_bad || !nbt_ok || !bbt_ok) && salvage {
            let (nbt, bbt) = ndb.scan_roots();
            for (ok, found, hdr, name, slot) in [
                (nbt_ok, nbt, h.nbt_root, "NBT", 0u8),
                (bbt_ok, bbt, h.bbt_root, "BBT", 1u8),
            ] {
                if let Some(r) = found
                    && (r != hdr || !ok)
                {
                    ndb.warn(
                        "pst.roots-recovered",
                        format!(
                            "{name} root recovered by page scan: BID 0x{:X} at offset {} (header said BID 0x{:X} at offset {})",
                            r.bid, r.ib, hdr.bid, hdr.ib
                        ),
                        Some(r.ib),
                    );
                    if slot == 0 {
                        ndb.nbt_root = r;
                    } else {
                        ndb.bbt_root = r;
                    }
                }
            }
        } else if !nbt_ok || !bbt_ok {
            ndb.warn(
                "pst.root-invalid",
                "a B-tree root page named by the header does not validate (use salvage mode to recover roots)",
                None,
            );
        }
        Ok(ndb)
    }

    /// The whole file.
    pub fn bytes(&self) -> &[u8] {
        (*self.data).as_ref()
    }

    /// The shared buffer (for [`Blob::window`]).
    pub fn shared(&self) -> &SharedBytes {
        &self.data
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The layout.
    pub fn format(&self) -> Format {
        self.header.format
    }

    /// File name used in warnings.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The file name, shared (for [`mailmig_ir::SourceIds::file`] of every message).
    pub fn shared_file(&self) -> Arc<str> {
        self.file.clone()
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Root page of the node B-tree in use (possibly recovered).
    pub fn nbt_root(&self) -> Bref {
        self.nbt_root
    }

    /// Root page of the block B-tree in use (possibly recovered).
    pub fn bbt_root(&self) -> Bref {
        self.bbt_root
    }

    /// Records a store-level warning.
    pub fn warn(&self, code: &str, message: impl Into<String>, offset: Option<u64>) {
        let mut w = Warning::new(code, message).in_file(self.file.to_string());
        w.offset = offset;
        if let Ok(mut v) = self.warnings.lock()
            && v.len() < 10_000
        {
            v.push(w);
        }
    }

    /// Records a warning once per (kind, offset).
    fn warn_once(&self, kind: u8, code: &str, message: impl Into<String>, offset: u64) {
        let fresh = self
            .reported
            .lock()
            .map(|mut s| s.insert((kind, offset)))
            .unwrap_or(false);
        if fresh {
            self.warn(code, message, Some(offset));
        }
    }

    /// Takes the store-level warnings collected so far.
    pub fn take_warnings(&self) -> Vec<Warning> {
        self.warnings
            .lock()
            .map(|mut v| std::mem::take(&mut *v))
            .unwrap_or_default()
    }

    /// A copy of the store-level warnings collected so far.
    pub fn warnings(&self) -> Vec<Warning> {
        self.warnings.lock().map(|v| v.clone()).unwrap_or_default()
    }

    fn slice(&self, what: &'static str, offset: u64, len: usize) -> Result<&[u8], NdbError> {
        let b = self.bytes();
        let start = usize::try_from(offset).ok();
        start
            .and_then(|s| Some(s..s.checked_add(len)?))
            .and_then(|r| {
                let got = b.get(r.clone())?;
                self.touched.touch(r);
                Some(got)
            })
            .ok_or(NdbError::Truncated {
                what,
                offset,
                need: len as u64,
                have: (b.len() as u64).saturating_sub(offset),
            })
    }

    /// Reads block `bid` and returns its decoded data (decompressed for 4K files, decoded
    /// when external and the file uses an encoding). Trailer or CRC mismatches are warnings
    /// (format notes §6.1, §15 rule 1).
    pub fn read_block(&self, bid: u64) -> Result<BlockData<'_>, NdbError> {
        let e = self.lookup_block(bid)?;
        self.read_block_entry(&e)
    }

    /// The stored bytes of a block, after the trailer and CRC checks (mismatches are
    /// warnings, MS-PST 2.2.2.8.1).
    fn checked_block(&self, e: &BlockEntry) -> Result<&[u8], NdbError> {
        let f = self.format();
        let cb = usize::from(e.cb);
        let stored = self.slice("block", e.ib, cb)?;
        // Trailer: after the data, at the end of the padded block.
        let ts = f.block_trailer_size();
        let total = (cb + ts).div_ceil(f.block_align()) * f.block_align();
        if let Ok(tr) = self.slice("BLOCKTRAILER", e.ib + (total - ts) as u64, ts) {
            let tcb = u16::from_le_bytes([
                tr.first().copied().unwrap_or(0),
                tr.get(1).copied().unwrap_or(0),
            ]);
            let (tcrc, tbid) = match f {
                Format::Ansi => (btree::le32(tr, 8), u64::from(btree::le32(tr, 4))),
                _ => (btree::le32(tr, 4), btree::le64(tr, 8)),
            };
            if tbid & !1 != e.bid & !1 || tcb != e.cb {
                self.warn_once(
                    1,
                    "pst.block-trailer",
                    format!(
                        "block trailer at offset {} says BID 0x{tbid:X} cb {tcb}, BBT says BID 0x{:X} cb {}",
                        e.ib + (total - ts) as u64,
                        e.bid,
                        e.cb
                    ),
                    e.ib,
                );
            } else if self.check_crc {
                let c = pst_crc(stored);
                if c != tcrc {
                    self.warn_once(
                        2,
                        "pst.block-crc",
                        format!(
                            "block BID 0x{:X} CRC mismatch: stored 0x{tcrc:08X}, computed 0x{c:08X}",
                            e.bid
                        ),
                        e.ib,
                    );
                }
            }
        }
        Ok(stored)
    }

    /// Reads a block from its BBT entry (see [`Ndb::read_block`]).
    pub fn read_block_entry(&self, e: &BlockEntry) -> Result<BlockData<'_>, NdbError> {
        let stored = self.checked_block(e)?;
        if self.is_deflated(e) {
            let mut data = self.inflate(stored, usize::from(e.inflated), e)?;
            self.decode_in_place(e, &mut data)?;
            return Ok(Cow::Owned(data));
        }
        if e.bid & 2 != 0 || self.header.crypt == CryptMethod::None {
            return Ok(Cow::Borrowed(stored));
        }
        let mut data = Vec::with_capacity(stored.len());
        self.append_decoded(e, stored, &mut data)?;
        Ok(Cow::Owned(data))
    }

    /// Appends the decoded bytes of data block `e` to `out`, decoding while copying (one pass
    /// over the bytes instead of a copy and then an in-place decode).
    fn append_block(&self, e: &BlockEntry, out: &mut Vec<u8>) -> Result<(), NdbError> {
        if self.is_deflated(e) {
            // Inflating makes an owned copy anyway; decode it in place, as a single read does.
            out.extend_from_slice(&self.read_block_entry(e)?);
            return Ok(());
        }
        let stored = self.checked_block(e)?;
        self.append_decoded(e, stored, out)
    }

    /// A 4K-page OST block stored DEFLATE-compressed (format notes §6.2).
    fn is_deflated(&self, e: &BlockEntry) -> bool {
        self.format() == Format::Unicode4k && e.inflated != e.cb && e.inflated != 0
    }

    /// Undoes the file's encoding on data block `e` in place; internal blocks are not encoded
    /// (MS-PST 5).
    fn decode_in_place(&self, e: &BlockEntry, data: &mut [u8]) -> Result<(), NdbError> {
        undo_encoding(self.header.crypt, e.bid, data)
    }

    /// Appends `stored`, the bytes of block `e` as stored, to `out` with the encoding undone.
    fn append_decoded(
        &self,
        e: &BlockEntry,
        stored: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<(), NdbError> {
        append_decoded(self.header.crypt, e.bid, stored, out)
    }

    fn inflate(&self, stored: &[u8], size: usize, e: &BlockEntry) -> Result<Vec<u8>, NdbError> {
        let mut out = Vec::new();
        self.inflate_into(stored, size, e, &mut out)?;
        Ok(out)
    }

    /// Inflates block `e` into `out` ([`inflate_block`]); an inflated size other than `size`
    /// is a warning.
    fn inflate_into(
        &self,
        stored: &[u8],
        size: usize,
        e: &BlockEntry,
        out: &mut Vec<u8>,
    ) -> Result<(), NdbError> {
        inflate_block(stored, size, out).map_err(|reason| NdbError::Inflate {
            bid: e.bid,
            offset: e.ib,
            reason,
        })?;
        if out.len() != size {
            self.warn_once(
                3,
                "pst.inflate-size",
                format!(
                    "block BID 0x{:X} inflated to {} bytes, expected {size}",
                    e.bid,
                    out.len()
                ),
                e.ib,
            );
        }
        Ok(())
    }

    /// The file range of an unencoded, uncompressed external block (for zero-copy windows).
    pub fn plain_block_range(&self, e: &BlockEntry) -> Option<std::ops::Range<usize>> {
        let plain = self.header.crypt == CryptMethod::None
            && !(self.format() == Format::Unicode4k && e.inflated != e.cb && e.inflated != 0);
        if !plain || e.bid & 2 != 0 {
            return None;
        }
        let s = usize::try_from(e.ib).ok()?;
        let r = s..s.checked_add(usize::from(e.cb))?;
        if r.end > self.bytes().len() {
            return None;
        }
        // Whoever reads the window faults its pages in.
        self.touched.touch(r.clone());
        Some(r)
    }

    /// Reads the data tree rooted at `bid` (a data block, an XBLOCK or an XXBLOCK) as its list
    /// of data blocks, in order (MS-PST 2.2.2.8.3.2; format notes §6.2).
    pub fn read_data_tree(&self, bid: u64) -> Result<Vec<BlockData<'_>>, NdbError> {
        let mut out = Vec::new();
        let mut total: u64 = 0;
        self.collect_data_tree(bid, 0, &mut total, true, &mut |e| {
            let data = self.read_block_entry(e)?;
            let n = data.len();
            out.push(data);
            Ok(n)
        })?;
        Ok(out)
    }

    /// The BBT entries of the data blocks of the data tree at `bid`, in order, without reading
    /// the data blocks themselves (only XBLOCKs and XXBLOCKs are read).
    pub fn data_tree_entries(&self, bid: u64) -> Result<Vec<BlockEntry>, NdbError> {
        let mut out = Vec::new();
        let mut total: u64 = 0;
        self.collect_data_tree(bid, 0, &mut total, true, &mut |e| {
            out.push(*e);
            Ok(usize::from(if self.is_deflated(e) {
                e.inflated
            } else {
                e.cb
            }))
        })?;
        Ok(out)
    }

    /// Calls `f` on each data block of the data tree at `bid`, in order and decoded, one
    /// block at a time: a block's decoded copy is dropped before the next is read, so a large
    /// tree is never held whole here (MS-PST 2.2.2.8.3.2). `f` may keep the blocks (the table
    /// context keeps its row matrix), so the allocation limit still applies to the tree.
    pub fn for_each_data_block(
        &self,
        bid: u64,
        f: &mut dyn FnMut(&[u8]) -> Result<(), NdbError>,
    ) -> Result<(), NdbError> {
        let mut total: u64 = 0;
        self.collect_data_tree(bid, 0, &mut total, true, &mut |e| {
            let data = self.read_block_entry(e)?;
            f(&data)?;
            Ok(data.len())
        })
    }

    /// Walks the data tree at `bid`, calling `leaf` on each data block in order; `leaf`
    /// returns the number of bytes the block gave, counted against the allocation limit when
    /// `held_whole` (the caller keeps the tree's bytes in memory). A tree read one block at a
    /// time is bounded by its structure instead: two levels of XBLOCKs, each entry a block of
    /// the file.
    fn collect_data_tree(
        &self,
        bid: u64,
        depth: u32,
        total: &mut u64,
        held_whole: bool,
        leaf: &mut dyn FnMut(&BlockEntry) -> Result<usize, NdbError>,
    ) -> Result<(), NdbError> {
        let e = self.lookup_block(bid)?;
        if bid & 2 == 0 {
            *total = total.saturating_add(leaf(&e)? as u64);
            if held_whole && !self.limits.allows_allocation(*total) {
                return Err(NdbError::Limit {
                    what: "data tree size",
                    offset: e.ib,
                    value: *total,
                });
            }
            return Ok(());
        }
        let data = self.read_block_entry(&e)?;
        // Internal block: XBLOCK (cLevel 1) or XXBLOCK (cLevel 2).
        let btype = data.first().copied().unwrap_or(0);
        let level = data.get(1).copied().unwrap_or(0);
        if btype != 0x01 {
            return Err(NdbError::Field {
                field: "XBLOCK btype",
                offset: e.ib,
                value: u64::from(btype),
            });
        }
        if depth >= 2 || level == 0 || level > 2 {
            return Err(NdbError::Field {
                field: "XBLOCK cLevel",
                offset: e.ib,
                value: u64::from(level),
            });
        }
        let cent = usize::from(u16::from_le_bytes([
            data.get(2).copied().unwrap_or(0),
            data.get(3).copied().unwrap_or(0),
        ]));
        let ks = self.format().id_size();
        let avail = data.len().saturating_sub(8) / ks;
        if cent > avail {
            self.warn_once(
                4,
                "pst.xblock-count",
                format!("XBLOCK cEnt {cent} exceeds its block ({avail} entries fit)"),
                e.ib,
            );
        }
        for i in 0..cent.min(avail) {
            let child = btree::id_at(&data, 8 + i * ks, ks);
            if level == 2 {
                self.collect_data_tree(child, depth + 1, total, held_whole, leaf)?;
            } else {
                // Children of an XBLOCK must be data blocks.
                if child & 2 != 0 {
                    return Err(NdbError::Field {
                        field: "XBLOCK rgbid",
                        offset: e.ib,
                        value: child,
                    });
                }
                self.collect_data_tree(child, depth + 1, total, held_whole, leaf)?;
            }
        }
        Ok(())
    }

    /// Reads a whole data tree into one [`Blob`]: a window into the file when it is a single
    /// plain block; a [`Blob::streamed`] one when the tree's root claims at least
    /// [`STREAMED_BLOB_MIN`] bytes (or the size [`Ndb::set_streamed_blob_min`] set; see
    /// [`Ndb::streamed_blob`]); otherwise an owned copy.
    pub fn read_blob(&self, bid: u64) -> Result<Blob, NdbError> {
        if bid & 2 == 0 {
            let e = self.lookup_block(bid)?;
            if let Some(r) = self.plain_block_range(&e) {
                // Still run the trailer/CRC checks.
                let _ = self.read_block_entry(&e)?;
                if let Some(b) = Blob::window(self.data.clone(), r) {
                    return Ok(b);
                }
            }
        }
        // Every block is decoded straight into the one output buffer: no per-block copies.
        // An XBLOCK or XXBLOCK root states the total size (lcbTotal, MS-PST 2.2.2.8.3.2); it
        // sizes the buffer when it is no larger than the file and the allocation limit allows
        // it (a lie only costs a reallocation).
        let mut v = Vec::new();
        if bid & 2 != 0
            && let Ok(root) = self.read_block(bid)
        {
            let claimed = u64::from(btree::le32(&root, 4));
            if claimed >= self.streamed_min {
                return self.streamed_blob(bid);
            }
            if claimed <= self.bytes().len() as u64 && self.limits.allows_allocation(claimed) {
                v.reserve(usize::try_from(claimed).unwrap_or(0));
            }
        }
        let mut total: u64 = 0;
        self.collect_data_tree(bid, 0, &mut total, true, &mut |e| {
            let before = v.len();
            self.append_block(e, &mut v)?;
            Ok(v.len() - before)
        })?;
        Ok(Blob::from_vec(v))
    }

    /// The data tree at `bid` as a [`Blob::streamed`]: its blocks are decoded one at a time
    /// when the blob is read, so a large attachment is never held whole.
    ///
    /// Everything that can fail is checked now, so that reading the blob later cannot: the
    /// tree's structure and limits (not [`Limits::max_allocation`]: the tree is never held
    /// whole, however large), every block's bounds, trailer and CRC (warnings as for any
    /// read), and for compressed blocks the inflation itself, into a buffer that is dropped.
    /// Reading the blob decodes the blocks again. Both passes release the file map's pages
    /// every [`RELEASE_EVERY`](mailmig_ir::blob::RELEASE_EVERY) bytes they read.
    pub fn streamed_blob(&self, bid: u64) -> Result<Blob, NdbError> {
        let mut blocks = Vec::new();
        let mut total: u64 = 0;
        let mut scratch = Vec::new();
        let (mut read, mut released_at) = (0usize, 0usize);
        self.collect_data_tree(bid, 0, &mut total, false, &mut |e| {
            let stored = self.checked_block(e)?;
            let deflated = self.is_deflated(e);
            let n = if deflated {
                self.inflate_into(stored, usize::from(e.inflated), e, &mut scratch)?;
                scratch.len()
            } else {
                stored.len()
            };
            // An unknown encoding fails here, as it fails a whole read.
            undo_encoding(self.header.crypt, e.bid, &mut [])?;
            blocks.push(StreamedBlock {
                ib: e.ib,
                bid: e.bid,
                cb: e.cb,
                inflated: deflated.then_some(e.inflated),
            });
            // Released by the bytes read, not by `touched_bytes`: reading a large tree in file
            // order, the kernel may map a whole large folio at each fault, far more than the
            // 64 KiB windows counted.
            read += usize::from(e.cb);
            if release_due(read, &mut released_at) {
                self.release_pages();
            }
            Ok(n)
        })?;
        let len = usize::try_from(total).map_err(|_| NdbError::Limit {
            what: "data tree size",
            offset: 0,
            value: total,
        })?;
        Ok(Blob::streamed(Arc::new(StreamedTree {
            bytes: self.data.clone(),
            file_map: self.file_map.clone(),
            crypt: self.header.crypt,
            blocks,
            len,
        })))
    }

    /// The decoded first data block of the data tree at `bid` (the tree's other blocks are not
    /// read), or `None` when the tree cannot be read.
    pub fn first_data_block(&self, bid: u64) -> Option<BlockData<'_>> {
        let mut bid = bid;
        // A data tree is at most two levels of XBLOCKs deep (MS-PST 2.2.2.8.3.2).
        for _ in 0..3 {
            let data = self.read_block(bid).ok()?;
            if bid & 2 == 0 {
                return Some(data);
            }
            if data.first() != Some(&0x01)
                || u16::from_le_bytes([*data.get(2)?, *data.get(3)?]) == 0
            {
                return None;
            }
            bid = btree::id_at(&data, 8, self.format().id_size());
        }
        None
    }

    /// Sets the size from which [`Ndb::read_blob`] streams a data tree (default
    /// [`STREAMED_BLOB_MIN`]): `0` streams every XBLOCK or XXBLOCK tree, `u64::MAX` none. The
    /// bytes read are the same either way; the fuzz target `pst_ndb` compares the two.
    pub fn set_streamed_blob_min(&mut self, bytes: u64) {
        self.streamed_min = bytes;
    }

    /// Shares `map`, the memory map under this NDB's bytes, so that reads can release its
    /// pages ([`Ndb::release_pages`]).
    pub fn set_file_map(&mut self, map: Arc<crate::source::FileMap>) {
        self.file_map = Some(map);
    }

    /// Releases the file map's resident pages (see [`crate::FileMap::release_pages`]); reads
    /// fault them back in from the file.
    pub fn release_pages(&self) {
        if let Some(m) = &self.file_map {
            m.release_pages();
        }
        self.forget_touched();
    }

    /// Releases the file map's pages once reads may have made more than [`RELEASE_BUDGET`]
    /// of it resident.
    pub fn release_over_budget(&self) {
        if self.touched_bytes() >= RELEASE_BUDGET {
            self.release_pages();
        }
    }

    /// Reads the subnode tree rooted at `bid_sub` (SLBLOCK/SIBLOCK, MS-PST 2.2.2.8.3.3;
    /// format notes §6.3). `0` gives an empty map.
    pub fn read_subnodes(&self, bid_sub: u64) -> Result<SubnodeMap, NdbError> {
        let mut map = SubnodeMap::new();
        if bid_sub == 0 {
            return Ok(map);
        }
        let mut seen = HashSet::new();
        self.collect_subnodes(bid_sub, 0, &mut map, &mut seen)?;
        Ok(map)
    }

    fn collect_subnodes(
        &self,
        bid: u64,
        depth: u32,
        map: &mut SubnodeMap,
        seen: &mut HashSet<u64>,
    ) -> Result<(), NdbError> {
        let e = self.lookup_block(bid)?;
        if !seen.insert(e.bid & !1) {
            return Err(NdbError::Cycle {
                what: "subnode block",
                offset: e.ib,
            });
        }
        if depth > 2 {
            return Err(NdbError::Limit {
                what: "subnode tree depth",
                offset: e.ib,
                value: u64::from(depth),
            });
        }
        let data = self.read_block_entry(&e)?;
        let btype = data.first().copied().unwrap_or(0);
        let level = data.get(1).copied().unwrap_or(0);
        if btype != 0x02 {
            return Err(NdbError::Field {
                field: "SLBLOCK btype",
                offset: e.ib,
                value: u64::from(btype),
            });
        }
        let cent = usize::from(u16::from_le_bytes([
            data.get(2).copied().unwrap_or(0),
            data.get(3).copied().unwrap_or(0),
        ]));
        let ks = self.format().id_size();
        let start = if ks == 8 { 8 } else { 4 };
        let esize = if level == 0 { 3 * ks } else { 2 * ks };
        let avail = data.len().saturating_sub(start) / esize;
        if cent > avail {
            self.warn_once(
                5,
                "pst.slblock-count",
                format!("subnode block cEnt {cent} exceeds its block ({avail} fit)"),
                e.ib,
            );
        }
        for i in 0..cent.min(avail) {
            let o = start + i * esize;
            let nid = btree::id_at(&data, o, ks) as u32;
            if level == 0 {
                let bid_data = btree::id_at(&data, o + ks, ks);
                let bid_sub = btree::id_at(&data, o + 2 * ks, ks);
                if map.len() as u64 >= self.limits.max_items {
                    return Err(NdbError::Limit {
                        what: "subnode entries",
                        offset: e.ib,
                        value: map.len() as u64,
                    });
                }
                map.insert(nid, SubnodeEntry { bid_data, bid_sub });
            } else {
                let child = btree::id_at(&data, o + ks, ks);
                self.collect_subnodes(child, depth + 1, map, seen)?;
            }
        }
        Ok(())
    }
}

impl Ndb {
    /// An NDB with no B-trees over a synthetic empty Unicode header: resolves nothing, used
    /// to run the LTP parsers on heaps that come from elsewhere (tests, fuzzing).
    pub fn detached() -> Self {
        let mut h = Vec::with_capacity(Header::UNICODE_SIZE);
        h.extend_from_slice(b"!BDN"); // dwMagic
        h.extend_from_slice(&[0; 4]); // dwCRCPartial
        h.extend_from_slice(b"SM"); // wMagicClient
        h.extend_from_slice(&23u16.to_le_bytes()); // wVer
        h.resize(512, 0); // everything else zero
        h.push(0x80); // bSentinel
        h.resize(Header::UNICODE_SIZE, 0);
        let data: SharedBytes = std::sync::Arc::new(h);
        let header = match Header::parse((*data).as_ref()) {
            Ok(h) => h,
            Err(_) => unreachable_header(),
        };
        Ndb {
            nbt_root: header.nbt_root,
            bbt_root: header.bbt_root,
            data,
            file: Arc::from(""),
            header,
            limits: Limits::strict(),
            warnings: Mutex::new(Vec::new()),
            reported: Mutex::new(HashSet::new()),
            check_crc: false,
            touched: Touched::new(0),
            pages: Mutex::default(),
            file_map: None,
            streamed_min: STREAMED_BLOB_MIN,
        }
    }
}

/// The synthetic header above always parses; this is its fallback value.
fn unreachable_header() -> Header {
    Header {
        magic_client: *b"SM",
        version: 23,
        client_version: 0,
        platform_create: 0,
        platform_access: 0,
        format: Format::Unicode,
        crypt: CryptMethod::None,
        crc_partial: 0,
        crc_partial_computed: 0,
        crc_full: None,
        crc_full_computed: None,
        file_eof: 0,
        amap_last: 0,
        nbt_root: Bref::default(),
        bbt_root: Bref::default(),
        amap_valid: 0,
        sentinel: 0x80,
        bid_next_b: 0,
        bid_next_p: 0,
        unique: 0,
    }
}

impl Ndb {
    /// An estimate of the bytes of the file map made resident since the last
    /// [`Ndb::forget_touched`]: every 64 KiB window of the file a read touched, counted whole.
    /// The kernel maps the pages around a faulting one up to its fault-around window (64 KiB
    /// by default), so this bounds the resident size unless the page cache maps larger folios
    /// at once. Measured on the largest corpus OST: 56 releases freed 55,500 KiB where this
    /// counted 59,136 KiB.
    pub fn touched_bytes(&self) -> u64 {
        self.touched.windows.load(Ordering::Relaxed) << WINDOW_SHIFT
    }

    /// Starts [`Ndb::touched_bytes`] again from zero (after the map's pages were released).
    pub fn forget_touched(&self) {
        self.touched.clear();
    }

    /// Bytes of B-tree pages held in the page cache (at most
    /// [`PAGE_CACHE_BYTES`](btree::PAGE_CACHE_BYTES)).
    pub fn cached_page_bytes(&self) -> usize {
        self.pages.lock().map(|c| c.bytes()).unwrap_or(0)
    }
}

/// log2 of the window [`Touched`] counts in: the kernel's default fault-around size.
const WINDOW_SHIFT: u32 = 16;

/// Which 64 KiB windows of the file reads have touched, as a bitmap (one bit per window:
/// 40 KB for a 20 GB file), with their count.
struct Touched {
    bits: Vec<AtomicU64>,
    windows: AtomicU64,
    /// Words of `bits` that went from zero to non-zero, so that clearing costs what was
    /// touched, not the file size.
    dirty: Mutex<Vec<usize>>,
}

impl Touched {
    fn new(file_len: usize) -> Self {
        let windows = file_len.div_ceil(1 << WINDOW_SHIFT);
        Touched {
            bits: (0..windows.div_ceil(64))
                .map(|_| AtomicU64::new(0))
                .collect(),
            windows: AtomicU64::new(0),
            dirty: Mutex::new(Vec::new()),
        }
    }

    fn touch(&self, r: std::ops::Range<usize>) {
        let first = r.start >> WINDOW_SHIFT;
        let last = r.end.max(r.start.saturating_add(1)).saturating_sub(1) >> WINDOW_SHIFT;
        // Bounded by the bitmap, which is bounded by the file size.
        for w in first..=last {
            let Some(word) = self.bits.get(w / 64) else {
                return;
            };
            let bit = 1u64 << (w % 64);
            let prev = word.fetch_or(bit, Ordering::Relaxed);
            if prev & bit == 0 {
                self.windows.fetch_add(1, Ordering::Relaxed);
                if prev == 0
                    && let Ok(mut d) = self.dirty.lock()
                {
                    d.push(w / 64);
                }
            }
        }
    }

    fn clear(&self) {
        let dirty = match self.dirty.lock() {
            Ok(mut d) => std::mem::take(&mut *d),
            Err(_) => (0..self.bits.len()).collect(),
        };
        for i in dirty {
            if let Some(word) = self.bits.get(i) {
                word.store(0, Ordering::Relaxed);
            }
        }
        self.windows.store(0, Ordering::Relaxed);
    }
}

#[cfg(test)]
pub(crate) mod tests_support {
    /// An NDB that resolves nothing.
    pub fn empty_ndb() -> super::Ndb {
        super::Ndb::detached()
    }
}

#[cfg(test)]
mod inflate_tests {
    use std::io::Write;

    use super::*;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn text(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i * 7 % 251) as u8).collect()
    }

    fn entry() -> BlockEntry {
        BlockEntry {
            bid: 0x104,
            ib: 0x4000,
            cb: 0,
            inflated: 0,
        }
    }

    fn codes(ndb: &Ndb) -> Vec<String> {
        ndb.take_warnings().into_iter().map(|w| w.code).collect()
    }

    #[test]
    fn a_block_inflates_to_its_size() {
        let ndb = Ndb::detached();
        let plain = text(5000);
        let out = ndb.inflate(&zlib(&plain), 5000, &entry()).unwrap();
        assert_eq!(out, plain);
        assert!(codes(&ndb).is_empty());
    }

    #[test]
    fn a_stream_longer_than_the_block_is_cut_at_its_size() {
        let ndb = Ndb::detached();
        let plain = text(5000);
        let out = ndb.inflate(&zlib(&plain), 1000, &entry()).unwrap();
        assert_eq!(out, plain[..1000]);
        // Also into a reused buffer with room for more (the streamed path's).
        let mut buf = Vec::with_capacity(10_000);
        inflate_block(&zlib(&plain), 1000, &mut buf).unwrap();
        assert_eq!(buf, plain[..1000]);
    }

    #[test]
    fn a_short_or_truncated_stream_keeps_what_inflated_with_a_warning() {
        let ndb = Ndb::detached();
        let plain = text(5000);
        let out = ndb.inflate(&zlib(&plain), 6000, &entry()).unwrap();
        assert_eq!(out, plain);
        assert_eq!(codes(&ndb), ["pst.inflate-size"]);

        let ndb = Ndb::detached();
        let z = zlib(&plain);
        let out = ndb.inflate(&z[..z.len() / 2], 5000, &entry()).unwrap();
        assert!(out.len() < plain.len());
        assert_eq!(out, plain[..out.len()]);
        assert_eq!(codes(&ndb), ["pst.inflate-size"]);
    }

    #[test]
    fn a_valid_stream_that_fits_is_inflated_whole_and_others_are_left_to_zlib() {
        let plain = text(5000);
        let z = zlib(&plain);
        let mut out = vec![0u8; 6000];
        assert_eq!(inflate_whole(&z, &mut out), Some(5000));
        assert_eq!(out[..5000], plain[..]);
        // Too long for its block, truncated, or with a wrong Adler-32: zlib's to read.
        assert_eq!(inflate_whole(&z, &mut out[..1000]), None);
        assert_eq!(inflate_whole(&z[..z.len() / 2], &mut out), None);
        let mut bad_sum = z.clone();
        if let Some(last) = bad_sum.last_mut() {
            *last ^= 1;
        }
        assert_eq!(inflate_whole(&bad_sum, &mut out), None);
        let ndb = Ndb::detached();
        assert!(matches!(
            ndb.inflate(&bad_sum, 5000, &entry()),
            Err(NdbError::Inflate { .. })
        ));
    }

    proptest::proptest! {
        /// libdeflate and zlib read every stream alike: what libdeflate inflates, zlib
        /// inflates to the same bytes.
        #[test]
        fn libdeflate_and_zlib_inflate_the_same_bytes(
            plain in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..9000),
            repeat in 1usize..40,
            level in 0u32..10,
        ) {
            let plain: Vec<u8> = plain
                .iter()
                .flat_map(|&b| std::iter::repeat_n(b, repeat))
                .take(9000)
                .collect();
            let mut enc =
                flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(level));
            std::io::Write::write_all(&mut enc, &plain).unwrap();
            let z = enc.finish().unwrap();
            let mut fast = vec![0u8; plain.len()];
            proptest::prop_assert_eq!(inflate_whole(&z, &mut fast), Some(plain.len()));
            let mut d = flate2::Decompress::new(true);
            let mut slow = vec![0u8; plain.len()];
            d.decompress(&z, &mut slow, flate2::FlushDecompress::Finish).unwrap();
            proptest::prop_assert_eq!(&fast, &slow);
            proptest::prop_assert_eq!(&fast, &plain);
        }
    }

    #[test]
    fn garbage_is_an_error_and_the_next_block_still_inflates() {
        let ndb = Ndb::detached();
        let err = ndb.inflate(&[0x78, 0x9C, 0xFF, 0xFF, 0xFF, 0xFF], 100, &entry());
        assert!(matches!(
            err,
            Err(NdbError::Inflate {
                bid: 0x104,
                offset: 0x4000,
                ..
            })
        ));
        // The inflater is reused per thread: the failed stream must not leak into this one.
        let plain = text(300);
        assert_eq!(ndb.inflate(&zlib(&plain), 300, &entry()).unwrap(), plain);
    }
}

#[cfg(test)]
mod touched_tests {
    use super::*;

    const W: usize = 1 << WINDOW_SHIFT;

    fn count(t: &Touched) -> u64 {
        t.windows.load(Ordering::Relaxed)
    }

    #[test]
    fn each_window_is_counted_once_until_cleared() {
        let t = Touched::new(200 * W + 5);
        t.touch(0..1);
        t.touch(10..20);
        assert_eq!(count(&t), 1);
        // The last byte of window 0 to the first of window 2.
        t.touch(W - 1..2 * W + 1);
        assert_eq!(count(&t), 3);
        // An empty range still faults the page it starts in; windows 64 and 199 sit in other
        // words of the bitmap.
        t.touch(64 * W..64 * W);
        t.touch(199 * W + 3..200 * W);
        assert_eq!(count(&t), 5);
        // Past the end of the file: nothing to count.
        t.touch(300 * W..301 * W);
        assert_eq!(count(&t), 5);
        t.clear();
        assert_eq!(count(&t), 0);
        assert!(t.bits.iter().all(|w| w.load(Ordering::Relaxed) == 0));
        t.touch(64 * W + 1..64 * W + 2);
        assert_eq!(count(&t), 1);
    }
}
