//! The EXPORT stream reader (notes §4): `Message:` / size line / header lines / `Contents:` /
//! items, read byte by byte with size-validated framing (§4.4) and the failure-mode responses
//! of §8.
//!
//! Size lines are claims. An item size is accepted when the bytes after `payload + size`
//! (allowing zero, one or two line terminators) start a keyword line (`Message:`, `Contents:`,
//! any `… item:`) or end the input. Counting rules tried, in order (notes §4.4):
//!
//! * **A** — the size counts the payload only (the writer's rule, §11);
//! * **B** — the size counts the payload and its final line terminator (seen as rule A landing
//!   on a keyword with no terminator in between while the payload ends in one);
//! * **C** — the size counts from the item header line, inclusive.
//!
//! When no rule fits, text items run to the next item keyword or `Message:` line; file, fax and
//! other binary items run to the next *plausible* start (a keyword line followed by a size line
//! or by header lines) and are marked damaged (`ccmail.truncated-or-merged`). `Message:` and
//! `Contents:` sizes are never used for framing; a mismatch is a warning. [`FramingStats`]
//! counts which rule matched so the first real export can tell the true rule (§4.4, §12).
//!
//! The reader is two layers: a grammar walk (`walk_message`: size lines, header lines, items
//! and their framing, embedded messages) that reports what it finds to a visitor, and the IR
//! builder, the visitor that decodes text and makes [`Message`]s. The pre-scans
//! ([`scan_date_order`], [`scan_folder_names`]) walk with visitors of their own, so they see
//! exactly the header lines the reader interprets, never a line of an item's payload.

use std::ops::Range;
use std::sync::Arc;

pub use mailmig_ir::blob::RELEASE_EVERY;
use mailmig_ir::blob::{FileMap, SharedBytes, release_when_due};
use mailmig_ir::codepage;
use mailmig_ir::dates::{DEFAULT_YEAR_PIVOT, DateOrder};
use mailmig_ir::{
    Attachment, AttachmentContent, AttachmentKind, Blob, Budget, Limits, Message, MessageClass,
    PropValue, Property, SkippedItem, Warning,
};
use serde::{Deserialize, Serialize};

use crate::address::for_each_address;
use crate::dates::{DateProblem, OrderEvidence, parse_date, split_file_title};
use crate::lex::{
    ItemKind, SizeLine, after_keyword, eq_ci, is_keyword_line, is_message_line, item_header,
    line_at, may_be_item_header, size_line, split_key, starts_with_ci, terminator_len,
    trailing_terminator, trim,
};
#[cfg(target_arch = "x86_64")]
use crate::vbmi2;

/// Message class given to messages that carry `RRT:` (return receipt, notes §4.5, KB Q262989).
/// **[I]**: the `REPORT.` prefix makes it a report; the rest names its origin.
pub const RRT_CLASS: &str = "REPORT.CCMAIL.RRT";

/// Title of text items that continue the previous one (a writer convention of mailmig, §11
/// split rule): the reader joins such an item to the previous text with nothing in between.
pub const CONTINUED_TITLE: &str = "(continued)";

/// Property holding the titles of the text items of a message (one per item that is not a
/// continuation), present only when some title is non-empty (notes §4.7).
pub const TEXT_TITLES_PROPERTY: &str = "ccmail:text-item-titles";

/// How a stream is read.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReaderConfig {
    /// Code page of the post office (notes §6); default 850.
    pub code_page: u16,
    /// Day/month order of numeric dates (notes §7 rule 2); default month/day.
    pub date_order: DateOrder,
    /// Two-digit-year pivot (notes §7 rule 3); default 70.
    pub year_pivot: u8,
    /// Bounds on recipients, attachments, items and embedding depth.
    pub limits: Limits,
    /// The file name used in warnings and source ids.
    pub file: String,
}

impl Default for ReaderConfig {
    fn default() -> Self {
        Self {
            code_page: codepage::OEM_850,
            date_order: DateOrder::MonthDay,
            year_pivot: DEFAULT_YEAR_PIVOT,
            limits: Limits::default(),
            file: String::new(),
        }
    }
}

impl ReaderConfig {
    /// The defaults, naming `file` in warnings.
    pub fn new(file: impl Into<String>) -> Self {
        Self {
            file: file.into(),
            ..Self::default()
        }
    }

    /// Sets the code page.
    pub fn with_code_page(mut self, code_page: u16) -> Self {
        self.code_page = code_page;
        self
    }

    /// Sets the date order.
    pub fn with_date_order(mut self, order: DateOrder) -> Self {
        self.date_order = order;
        self
    }

    /// Sets the limits.
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Sets the two-digit-year pivot.
    pub fn with_year_pivot(mut self, pivot: u8) -> Self {
        self.year_pivot = pivot;
        self
    }
}

/// Which size-counting rule framed the items of a stream (notes §4.4, §12 question 1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FramingStats {
    /// Messages read.
    pub messages: u64,
    /// Items framed by rule A (size = payload).
    pub rule_a: u64,
    /// Items framed by rule B (size = payload + final terminator).
    pub rule_b: u64,
    /// Items framed by rule C (size counted from the item header).
    pub rule_c: u64,
    /// Items framed by scanning (no size, or a size no rule could confirm).
    pub scanned: u64,
    /// Size lines that were blank, zero (for `Message:`), overflowing or too large.
    pub bad_sizes: u64,
}

/// Text decoding with the post office's code page. Single-byte pages go through tables built
/// once per code page and process (see [`ByteTable`]). Their output is UTF-8 by construction
/// and is not checked again (see [`ByteTable::expand`]); debug builds, and so the tests and the
/// fuzz targets, still check it. DBCS and Unicode pages use [`codepage::decode_checked`].
#[derive(Debug)]
struct Decoder {
    code_page: u16,
    table: Option<Arc<ByteTable>>,
    scratch: std::cell::RefCell<Vec<u8>>,
}

/// Input bytes a [`Decoder`] expands at a time through a [`ByteTable`]; its scratch buffer is
/// never larger than three times this plus [`WINDOW`] (192 KiB and 40 bytes).
const CHUNK: usize = 64 * 1024;

/// A single-byte code page as tables of UTF-8 encodings:
///
/// * `utf8` and `len`, indexed by one byte: its encoding (little-endian, unused bytes zero) and
///   its length in bits 0–2, with [`LOSSY`] set when the byte is undefined in the page
///   (decoded as U+FFFD);
/// * `pairs`, indexed by two bytes (the first in the low half): the two encodings one after
///   the other in bytes 0–5, and in byte 7 their total length with [`LOSSY`] as above.
///
/// The pair table is 512 KiB; it is built once per code page and shared by every reader.
#[derive(Debug)]
struct ByteTable {
    utf8: [u32; 256],
    len: [u8; 256],
    pairs: Box<[u64; 65536]>,
    /// The tables of the AVX-512 expansion, when this CPU has it ([`vbmi2`]).
    #[cfg(target_arch = "x86_64")]
    vbmi2: Option<vbmi2::Tables>,
}

/// Bit of a length entry marking an undefined byte.
const LOSSY: u8 = 0x80;

/// Output window of one input word in [`ByteTable::expand`]: three 6-byte pair encodings and
/// the last 8-byte store fit in 26 bytes; 40 lets the bound be proved from `o & 31`.
const WINDOW: usize = 40;

/// Output window of one 32-byte input block in [`ByteTable::expand`]: 15 pair encodings and
/// the last 8-byte store fit in 98 bytes; 136 lets the bound be proved from `o & 127`. A block
/// that starts at input byte `i` writes from output byte `3 * i` at most, so `out` needs
/// `3 * (n - 32) + 136` bytes, which is the `3 * n + WINDOW` that [`ByteTable::expand`] asks.
const BLOCK_WINDOW: usize = 136;

impl ByteTable {
    /// The tables of `code_page`, built on first use and then shared; `None` when the page is
    /// not a single-byte page the IR decodes.
    fn shared(code_page: u16) -> Option<Arc<ByteTable>> {
        static BUILT: std::sync::Mutex<Vec<(u16, Arc<ByteTable>)>> =
            std::sync::Mutex::new(Vec::new());
        if !(is_single_byte(code_page) && codepage::is_supported(code_page)) {
            return None;
        }
        let mut built = BUILT
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, t)) = built.iter().find(|(cp, _)| *cp == code_page) {
            return Some(t.clone());
        }
        let t = Arc::new(Self::build(code_page)?);
        built.push((code_page, t.clone()));
        Some(t)
    }

    fn build(code_page: u16) -> Option<Self> {
        let mut utf8 = [0u32; 256];
        let mut len = [0u8; 256];
        for (b, (utf8_slot, len_slot)) in (0..=255u8).zip(utf8.iter_mut().zip(len.iter_mut())) {
            let byte = [b];
            let (text, lossy) = codepage::decode_checked(&byte, code_page);
            let mut chars = text.chars();
            // Every character of a single-byte page is in the Basic Multilingual Plane; one
            // outside it (four bytes of UTF-8) would not fit a pair entry, so it is refused.
            let first = chars.next();
            let c = first.filter(|c| c.len_utf8() <= 3).unwrap_or('\u{FFFD}');
            let mut enc = [0u8; 4];
            let n = c.encode_utf8(&mut enc).len();
            let lossy = lossy || first != Some(c) || chars.next().is_some();
            *utf8_slot = u32::from_le_bytes(enc);
            *len_slot = u8::try_from(n).unwrap_or(0) | (u8::from(lossy) << 7);
        }
        let mut pairs: Box<[u64; 65536]> = vec![0u64; 65536].into_boxed_slice().try_into().ok()?;
        for (i, slot) in pairs.iter_mut().enumerate() {
            let (lo, hi) = (i & 0xFF, i >> 8);
            let (l0, l1) = (*len.get(lo)?, *len.get(hi)?);
            let n0 = u32::from(l0 & 7);
            let n1 = u64::from(l1 & 7);
            let joined = u64::from(*utf8.get(lo)?) | (u64::from(*utf8.get(hi)?) << (8 * n0));
            let total = (u64::from(n0) + n1) | u64::from((l0 | l1) & LOSSY);
            *slot = (joined & 0x00FF_FFFF_FFFF_FFFF) | (total << 56);
        }
        #[cfg(target_arch = "x86_64")]
        let vbmi2 = vbmi2::Tables::new(&utf8, &len);
        Some(Self {
            utf8,
            len,
            pairs,
            #[cfg(target_arch = "x86_64")]
            vbmi2,
        })
    }

    /// Writes the UTF-8 of `bytes` to the start of `out`, which must hold three bytes per
    /// input byte plus [`WINDOW`]; returns the length written and the OR of the length
    /// entries (for [`LOSSY`]), or `None` if `out` is too small.
    ///
    /// What it writes before the length returned is UTF-8, whatever `bytes` holds: the
    /// encodings of the input bytes one after the other, each one a character's (`build`
    /// takes them from `char::encode_utf8`, of at most three bytes), and [`Decoder::decode`]
    /// relies on it. Each path below stores whole entries and advances by the entry's length;
    /// the bytes a store writes past that length are overwritten by the next store or lie past
    /// the length returned. Tests compare the output with the IR's decoder for every pair of
    /// bytes on every single-byte page, on this CPU's path and the scalar one.
    ///
    /// Input is taken 32 bytes at a time. An ASCII block is copied whole. In another block
    /// every pair of bytes stores the eight bytes of its pair entry at the output position,
    /// which then advances by the entry's length: no branch per byte, and the only dependency
    /// from one pair to the next is that addition. Each block writes inside one fixed window,
    /// checked once per block. (With text that is mostly ASCII, a block of 32 is ASCII or not
    /// more predictably than a word of 8: 1.3 to 1.5 times the speed of words of 8 in a
    /// micro-benchmark over the synthetic post office's texts.)
    /// The last 31 bytes or fewer go the same way eight at a time, then one at a time.
    ///
    /// On a CPU with AVX-512 VBMI2 the blocks go through [`vbmi2`] instead, which leaves to
    /// [`ByteTable::expand_block`] only the blocks with a character of three UTF-8 bytes or an
    /// undefined byte.
    fn expand(&self, bytes: &[u8], out: &mut [u8]) -> Option<(usize, u8)> {
        let mut at = 0usize;
        let mut flags = 0u8;
        let mut blocks = bytes.chunks_exact(32);
        #[cfg(target_arch = "x86_64")]
        if let Some(v) = &self.vbmi2 {
            (at, flags) =
                v.expand_blocks(&mut blocks, out, |b, out, at| self.expand_block(b, out, at))?;
        }
        for b in &mut blocks {
            let (o, f) = self.expand_block(b, out, at)?;
            at += o;
            flags |= f;
        }
        let mut words = blocks.remainder().chunks_exact(8);
        for w in &mut words {
            let word = u64::from_le_bytes(<[u8; 8]>::try_from(w).ok()?);
            let win = <&mut [u8; WINDOW]>::try_from(out.get_mut(at..at + WINDOW)?).ok()?;
            if word & 0x8080_8080_8080_8080 == 0 {
                win.get_mut(..8)?.copy_from_slice(w);
                at += 8;
                continue;
            }
            let (o, f) = self.store_pairs::<WINDOW, 31>(&[word], win)?;
            at += o;
            flags |= f;
        }
        for &b in words.remainder() {
            let b = usize::from(b);
            out.get_mut(at..at + 4)?
                .copy_from_slice(&self.utf8.get(b)?.to_le_bytes());
            let l = *self.len.get(b)?;
            at += usize::from(l & 7);
            flags |= l;
        }
        Some((at, flags))
    }

    /// Expands one block of 32 bytes to `out` from `at`: copied whole if ASCII, else through
    /// [`ByteTable::store_pairs`]. Returns the length written and the OR of the length entries.
    #[inline(always)]
    fn expand_block(&self, b: &[u8], out: &mut [u8], at: usize) -> Option<(usize, u8)> {
        let win = <&mut [u8; BLOCK_WINDOW]>::try_from(out.get_mut(at..at + BLOCK_WINDOW)?).ok()?;
        let mut words = [0u64; 4];
        for (w, c) in words.iter_mut().zip(b.chunks_exact(8)) {
            *w = u64::from_le_bytes(<[u8; 8]>::try_from(c).ok()?);
        }
        if words.iter().fold(0, |a, w| a | w) & 0x8080_8080_8080_8080 == 0 {
            win.get_mut(..32)?.copy_from_slice(b);
            return Some((32, 0));
        }
        self.store_pairs::<BLOCK_WINDOW, 127>(&words, win)
    }

    /// Stores the pair entries of the byte pairs of `words` one after the other from the start
    /// of `win`; returns the length written and the OR of the length entries. The index bounds
    /// are provable (two bytes index 65,536 entries; `MASK + 8 <= N`, checked at compile time),
    /// so the checks compile away.
    #[inline(always)]
    fn store_pairs<const N: usize, const MASK: usize>(
        &self,
        words: &[u64],
        win: &mut [u8; N],
    ) -> Option<(usize, u8)> {
        const { assert!(MASK + 8 <= N) };
        let mut o = 0usize;
        let mut flags = 0u8;
        for &word in words {
            for k in 0..4 {
                let e = *self.pairs.get(usize::from((word >> (16 * k)) as u16))?;
                let p = o & MASK;
                win.get_mut(p..p + 8)?.copy_from_slice(&e.to_le_bytes());
                let l = (e >> 56) as u8;
                o += usize::from(l & 7);
                flags |= l;
            }
        }
        Some((o, flags))
    }
}

fn is_single_byte(cp: u16) -> bool {
    matches!(
        cp,
        437 | 737 | 775 | 850 | 852 | 855 | 857 | 858 | 860..=866 | 869 | 874 | 1250..=1258
    )
}

impl Decoder {
    fn new(code_page: u16) -> Self {
        Self {
            code_page,
            table: ByteTable::shared(code_page),
            scratch: std::cell::RefCell::new(Vec::new()),
        }
    }

    fn decode<'b>(&self, bytes: &'b [u8]) -> (std::borrow::Cow<'b, str>, bool) {
        let Some(t) = &self.table else {
            return codepage::decode_checked(bytes, self.code_page);
        };
        if bytes.is_ascii() {
            // SAFETY: ASCII bytes are UTF-8. (Checked with `str::from_utf8` instead, short
            // header values cost twice the scan; they are most of the calls.)
            #[allow(unsafe_code)]
            let s = unsafe { std::str::from_utf8_unchecked(bytes) };
            return (std::borrow::Cow::Borrowed(s), false);
        }
        // The text is expanded [`CHUNK`] input bytes at a time into a scratch buffer kept
        // between calls (zeroed only when it first grows), and each validated piece is appended
        // to the string: the scratch stays at most three times a chunk however long the text.
        let mut fresh = Vec::new();
        let mut kept = self.scratch.try_borrow_mut();
        let out = match kept.as_deref_mut() {
            Ok(v) => v,
            Err(_) => &mut fresh,
        };
        let need = bytes
            .len()
            .min(CHUNK)
            .saturating_mul(3)
            .saturating_add(WINDOW);
        if out.len() < need {
            out.resize(need, 0);
        }
        let chunks = bytes.len().div_ceil(CHUNK);
        let mut text = Vec::new();
        let mut flags = 0u8;
        for chunk in bytes.chunks(CHUNK) {
            let Some((at, f)) = t.expand(chunk, out) else {
                // Unreachable with the size above; the IR decoder gives the same text.
                return codepage::decode_checked(bytes, self.code_page);
            };
            flags |= f;
            let done = out.get(..at).unwrap_or(&[]);
            if text.capacity() == 0 {
                // The first chunk's growth sizes the whole text (exactly, for one chunk).
                text.reserve_exact(at.saturating_mul(chunks));
            }
            text.extend_from_slice(done);
        }
        debug_assert!(std::str::from_utf8(&text).is_ok());
        // SAFETY: `ByteTable::expand` writes UTF-8 before the length it returns (see there),
        // and each chunk is whole characters (one byte, one character).
        #[allow(unsafe_code)]
        let text = unsafe { String::from_utf8_unchecked(text) };
        (std::borrow::Cow::Owned(text), flags & LOSSY != 0)
    }
}

/// A lazy reader of one EXPORT stream: an iterator of messages, one at a time.
///
/// Holds the input as [`SharedBytes`] (normally a memory map) and hands out attachment data as
/// [`Blob`] windows into it. Never panics, never loops without progress: every step either
/// consumes a line or stops. With a single-byte code page it keeps a decoding scratch buffer of
/// three bytes per byte of the longest text decoded so far, up to 192 KiB (longer texts are
/// decoded through it in pieces).
pub struct ExportReader {
    owner: SharedBytes,
    /// The memory map under `owner` when the reader was made [`ExportReader::over_file`]: its
    /// pages are released every [`RELEASE_EVERY`] bytes read.
    file_map: Option<FileMap>,
    released_at: usize,
    pos: usize,
    index: u64,
    cfg: ReaderConfig,
    stats: FramingStats,
    done: bool,
    budget: Budget,
    decoder: Decoder,
    /// `cfg.file`, shared by the messages' [`mailmig_ir::SourceIds::file`] (`None` if empty).
    file: Option<Arc<str>>,
}

impl ExportReader {
    /// A reader over `bytes`.
    pub fn new(bytes: SharedBytes, cfg: ReaderConfig) -> Self {
        Self {
            owner: bytes,
            file_map: None,
            released_at: 0,
            pos: 0,
            index: 0,
            stats: FramingStats::default(),
            done: false,
            budget: Budget::unlimited(),
            decoder: Decoder::new(cfg.code_page),
            file: (!cfg.file.is_empty()).then(|| Arc::from(cfg.file.as_str())),
            cfg,
        }
    }

    /// A reader over a mapped file that releases the map's resident pages every
    /// [`RELEASE_EVERY`] bytes it reads, so that reading a stream of many gigabytes keeps
    /// about that much of it mapped instead of all of it. Messages already handed out stay
    /// valid: their windows fault the pages back in when read.
    pub fn over_file(map: FileMap, cfg: ReaderConfig) -> Self {
        let mut r = Self::new(map.bytes(), cfg);
        r.file_map = Some(map);
        r
    }

    /// A reader over owned bytes (tests, fuzzing).
    pub fn from_vec(bytes: Vec<u8>, cfg: ReaderConfig) -> Self {
        Self::new(Arc::new(bytes), cfg)
    }

    /// Stops with a skipped item when `budget` runs out or is cancelled.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Framing statistics of what has been read so far.
    pub fn stats(&self) -> FramingStats {
        self.stats
    }
}

impl Iterator for ExportReader {
    type Item = Result<Message, SkippedItem>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let owner = self.owner.clone();
        let data: &[u8] = (*owner).as_ref();
        let len = data.len();
        if let Err(e) = self.budget.check() {
            self.done = true;
            return Some(Err(SkippedItem::new(
                "mailbox",
                format!("stopped reading the rest of the stream: {e}"),
            )
            .in_file(self.cfg.file.clone())
            .at(self.pos as u64)));
        }
        let from = self.pos;
        let Some(start) = find_message(data, from, len) else {
            self.done = true;
            let junk = data.get(from..).unwrap_or(&[]);
            if junk.iter().any(|b| !b.is_ascii_whitespace()) {
                return Some(Err(SkippedItem::new(
                    "junk",
                    format!(
                        "{} bytes without a Message: line were not converted",
                        junk.len()
                    ),
                )
                .in_file(self.cfg.file.clone())
                .at(from as u64)));
            }
            return None;
        };
        self.index += 1;
        let mut cx = Cx {
            data,
            cfg: &self.cfg,
            stats: &mut self.stats,
        };
        let mut builder = IrBuilder {
            owner: &owner,
            dec: &self.decoder,
        };
        let mut draft = Draft::default();
        draft.msg.ids.native = Some(decimal(self.index));
        draft.msg.ids.offset = Some(start as u64);
        draft.msg.ids.file.clone_from(&self.file);
        let mut w = Vec::new();
        let end = walk_message(&mut cx, &mut builder, &mut draft, start, len, &mut w);
        let mut msg = draft.msg;
        w.append(&mut msg.warnings);
        msg.warnings = w;
        let skipped = data.get(from..start).unwrap_or(&[]);
        if skipped.iter().any(|b| !b.is_ascii_whitespace()) {
            msg.warnings.insert(
                0,
                Warning::new(
                    "ccmail.junk",
                    format!(
                        "{} bytes before this Message: line were skipped",
                        skipped.len()
                    ),
                )
                .in_file(self.cfg.file.clone())
                .at(from as u64),
            );
        }
        self.stats.messages += 1;
        self.pos = end.max(line_at(data, start, len).next);
        release_when_due(self.file_map.as_ref(), self.pos, &mut self.released_at);
        Some(Ok(msg))
    }
}

/// `n` in decimal, without the formatting machinery (once per message): `itoa`, which
/// serde_json already brings in.
fn decimal(n: u64) -> String {
    itoa::Buffer::new().format(n).to_owned()
}

fn find_message(data: &[u8], from: usize, limit: usize) -> Option<usize> {
    let mut p = from;
    while p < limit {
        if is_message_line(data, p, limit) {
            return Some(p);
        }
        p = line_at(data, p, limit).next;
    }
    None
}

/// Evidence for the day/month order from the `Date:` header lines of every message and
/// embedded message, for notes §7 rule 2. Stops once the evidence is settled
/// ([`OrderEvidence::is_settled`]), so month/day exports are not read to the end twice.
pub fn scan_date_order(data: &[u8]) -> OrderEvidence {
    scan_date_order_releasing(data, &ReaderConfig::default(), &|| {})
}

/// [`scan_date_order`] over a mapped file, read with `cfg`'s limits, calling `release` every
/// [`RELEASE_EVERY`] bytes (to release the map's pages).
pub fn scan_date_order_releasing(
    data: &[u8],
    cfg: &ReaderConfig,
    release: &dyn Fn(),
) -> OrderEvidence {
    let mut scan = DateScan::default();
    walk_messages(data, cfg, &mut scan, release, |s| s.evidence.is_settled());
    scan.evidence
}

/// Folder names from the `Folder:` header lines of the top-level messages, in first-seen order
/// and as [`ExportReader`] gives them in [`Message::folder`] (notes §4.8; the key is **[I]**,
/// the real `/FOLDER` marker is unknown). `release` is called every [`RELEASE_EVERY`] bytes
/// walked (to release a file map's pages; `&|| {}` for none).
pub fn scan_folder_names(data: &[u8], cfg: &ReaderConfig, release: &dyn Fn()) -> Vec<String> {
    let mut scan = FolderScan {
        code_page: cfg.code_page,
        names: Vec::new(),
    };
    walk_messages(data, cfg, &mut scan, release, |_| false);
    scan.names
}

/// [`scan_date_order`]'s visitor: the date at the start of every `Date:` header value.
#[derive(Default)]
struct DateScan {
    evidence: OrderEvidence,
}

impl Visit for DateScan {
    type Msg = ();

    fn header(&mut self, _cx: &mut Cx<'_>, _m: &mut (), h: &HeaderLine<'_>, _w: &mut Vec<Warning>) {
        if HeaderKey::of(h.key) == HeaderKey::Date {
            self.evidence.add(h.value);
        }
    }

    fn item(
        &mut self,
        cx: &mut Cx<'_>,
        m: &mut (),
        item: &Item<'_>,
        depth: u32,
        w: &mut Vec<Warning>,
    ) {
        if depth < cx.cfg.limits.max_embedding_depth && is_embedded(cx, item) {
            walk_body(
                cx,
                self,
                m,
                item.payload.start,
                item.payload.end,
                depth + 1,
                w,
            );
        }
    }
}

/// [`scan_folder_names`]'s visitor. Its message state is whether the message's folder is
/// known: as in [`ExportReader`], the first non-blank `Folder:` line of a message names it.
struct FolderScan {
    code_page: u16,
    names: Vec<String>,
}

impl Visit for FolderScan {
    type Msg = bool;

    fn header(
        &mut self,
        _cx: &mut Cx<'_>,
        known: &mut bool,
        h: &HeaderLine<'_>,
        _w: &mut Vec<Warning>,
    ) {
        if !h.top || *known || HeaderKey::of(h.key) != HeaderKey::Folder {
            return;
        }
        let decoded = codepage::decode(h.value, self.code_page);
        let name = decoded.trim();
        if name.is_empty() {
            return;
        }
        *known = true;
        add_folder_name(&mut self.names, name);
    }
}

/// Adds `name` to `names` unless a name equal to it but for ASCII case is there already: folder
/// names in first-seen spelling and order, as mailboxes list them.
pub(crate) fn add_folder_name(names: &mut Vec<String>, name: &str) {
    if !names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
        names.push(name.to_string());
    }
}

/// The state of the grammar walk over one stream (notes §4): its bytes, the reader's settings
/// and the framing statistics. What the walk finds goes to a [`Visit`].
struct Cx<'a> {
    data: &'a [u8],
    cfg: &'a ReaderConfig,
    stats: &'a mut FramingStats,
}

/// An item as the grammar frames it (notes §4.3, §4.4): its header line, kind and title, and
/// where its payload lies in the stream.
struct Item<'t> {
    hdr: crate::lex::Line,
    kind: ItemKind,
    /// The kind as written (`Text`, `Voice Mail`, …): ASCII letters and spaces.
    words: &'t [u8],
    /// The title after the colon, undecoded.
    title: &'t [u8],
    payload: Range<usize>,
    /// A binary item framed by a scan for the next plausible start, because it had no size a
    /// rule could confirm: it may be truncated or merged with what followed.
    damaged: bool,
}

/// A header line `key: value` as the grammar finds it (notes §4.2, §4.3).
struct HeaderLine<'t> {
    key: &'t [u8],
    value: &'t [u8],
    offset: usize,
    /// Of a top-level message, not of an embedded one.
    top: bool,
}

/// The layer above the grammar: what the walk reports of each message, in stream order.
/// [`IrBuilder`] makes IR messages of it; [`FolderScan`] and [`DateScan`] read only the header
/// lines they need, so that the pre-scans see exactly the header lines the reader interprets
/// and never a line of an item's payload that looks like one.
trait Visit {
    /// What is built for one message or embedded message.
    type Msg;

    /// A header line.
    fn header(
        &mut self,
        cx: &mut Cx<'_>,
        m: &mut Self::Msg,
        h: &HeaderLine<'_>,
        w: &mut Vec<Warning>,
    );

    /// A header line that is not blank and has no key.
    fn unparsed_line(
        &mut self,
        _cx: &mut Cx<'_>,
        _m: &mut Self::Msg,
        _line: &[u8],
        _offset: usize,
        _w: &mut Vec<Warning>,
    ) {
    }

    /// A framed item of a message at embedding `depth` (0 for a top-level message).
    fn item(
        &mut self,
        _cx: &mut Cx<'_>,
        _m: &mut Self::Msg,
        _item: &Item<'_>,
        _depth: u32,
        _w: &mut Vec<Warning>,
    ) {
    }

    /// The end of a message's items (there was a `Contents:` line or an item header).
    fn end_items(&mut self, _m: &mut Self::Msg) {}
}

/// A text item of a message: its text, its title, and whether it continues the one before.
type TextPart = (String, Option<String>, bool);

/// The text items and RTF of a message being built. The first text item is kept apart, so
/// that the usual message (one text item) needs no list.
#[derive(Default)]
struct BodyParts {
    first: Option<TextPart>,
    rest: Vec<TextPart>,
    rtf: Option<Blob>,
}

impl BodyParts {
    fn push(&mut self, part: TextPart) {
        if self.first.is_none() {
            self.first = Some(part);
        } else {
            self.rest.push(part);
        }
    }
}

/// The IR layer over the grammar walk: builds [`Message`]s, decoding text with the stream's
/// code page and handing out attachment data as windows into `owner`.
struct IrBuilder<'a> {
    owner: &'a SharedBytes,
    dec: &'a Decoder,
}

/// A message being built: the IR message and its text items so far.
#[derive(Default)]
struct Draft {
    msg: Message,
    body: BodyParts,
}

impl IrBuilder<'_> {
    fn blob(&self, r: Range<usize>) -> Blob {
        Blob::window(self.owner.clone(), r).unwrap_or_default()
    }
}

impl<'a> Cx<'a> {
    fn warn(&self, w: &mut Vec<Warning>, code: &str, message: String, offset: usize) {
        let mut warning = Warning::new(code, message).at(offset as u64);
        if !self.cfg.file.is_empty() {
            warning = warning.in_file(self.cfg.file.clone());
        }
        w.push(warning);
    }

    fn bytes(&self, r: Range<usize>) -> &'a [u8] {
        self.data.get(r).unwrap_or(&[])
    }

    /// Reads an optional size line at `pos` (notes §4.4 step 1).
    fn read_size(
        &mut self,
        pos: usize,
        limit: usize,
        what: &dyn std::fmt::Display,
        is_message: bool,
        w: &mut Vec<Warning>,
    ) -> (Option<u64>, usize) {
        self.read_size_from(pos, pos, limit, what, is_message, w)
    }

    /// Like `read_size`; sizes are checked against the bytes from `floor` on (an item header
    /// for rule C).
    fn read_size_from(
        &mut self,
        floor: usize,
        pos: usize,
        limit: usize,
        what: &dyn std::fmt::Display,
        is_message: bool,
        w: &mut Vec<Warning>,
    ) -> (Option<u64>, usize) {
        if pos >= limit {
            return (None, pos);
        }
        let l = line_at(self.data, pos, limit);
        let raw = self.bytes(l.start..l.end);
        match size_line(raw) {
            SizeLine::Absent => (None, pos),
            SizeLine::Blank => {
                self.stats.bad_sizes += 1;
                self.warn(
                    w,
                    "ccmail.size-blank",
                    format!("blank size line after {what}: no size (KB Q287056)"),
                    l.start,
                );
                (None, l.next)
            }
            SizeLine::Overflow => {
                self.stats.bad_sizes += 1;
                let raw = String::from_utf8_lossy(raw).into_owned();
                self.warn(
                    w,
                    "ccmail.size-invalid",
                    format!("size line {raw:?} after {what} overflows: no size"),
                    l.start,
                );
                (None, l.next)
            }
            SizeLine::Value(0) if is_message => {
                self.stats.bad_sizes += 1;
                self.warn(
                    w,
                    "ccmail.size-invalid",
                    format!("{what} size of '0': no size (KB Q287056)"),
                    l.start,
                );
                (None, l.next)
            }
            SizeLine::Value(n) => {
                let remaining = (limit - floor.min(l.next)) as u64;
                if n > remaining {
                    self.stats.bad_sizes += 1;
                    self.warn(
                        w,
                        "ccmail.size-invalid",
                        format!(
                            "{what} size {n} is larger than the {remaining} bytes that remain: no size"
                        ),
                        l.start,
                    );
                    (None, l.next)
                } else {
                    (Some(n), l.next)
                }
            }
        }
    }

    /// Is there a keyword line or the end after `p0`, allowing up to two terminators?
    /// Returns the keyword position and how many terminators were skipped.
    fn accept_end(&self, p0: usize, limit: usize) -> Option<(usize, usize)> {
        let mut p = p0;
        for t in 0..=2 {
            if p >= limit {
                return Some((limit, t));
            }
            if is_keyword_line(self.data, p, limit) {
                return Some((p, t));
            }
            let tl = terminator_len(self.data, p, limit);
            if tl == 0 {
                return None;
            }
            p += tl;
        }
        if p >= limit || is_keyword_line(self.data, p, limit) {
            return Some((p.min(limit), 3));
        }
        None
    }

    /// Rules A, B, C of notes §4.4: `(payload end, next position)`.
    fn frame_sized(
        &mut self,
        hdr_start: usize,
        after: usize,
        n: u64,
        limit: usize,
    ) -> Option<(usize, usize)> {
        let n = usize::try_from(n).ok()?;
        let end = after.checked_add(n)?;
        if end <= limit
            && let Some((next, t)) = self.accept_end(end, limit)
        {
            if t == 0 {
                let tl = trailing_terminator(self.data, after, end);
                if tl > 0 {
                    self.stats.rule_b += 1;
                    return Some((end - tl, next));
                }
            }
            self.stats.rule_a += 1;
            return Some((end, next));
        }
        let end_c = hdr_start.checked_add(n)?;
        if end_c >= after
            && end_c <= limit
            && let Some((next, t)) = self.accept_end(end_c, limit)
        {
            let tl = if t == 0 {
                trailing_terminator(self.data, after, end_c)
            } else {
                0
            };
            self.stats.rule_c += 1;
            return Some((end_c - tl, next));
        }
        None
    }

    /// Text payload without a usable size: up to the next item keyword or `Message:` line.
    fn scan_text(&self, after: usize, limit: usize) -> (usize, usize) {
        let mut p = after;
        while p < limit {
            let l = line_at(self.data, p, limit);
            if is_message_line(self.data, p, limit)
                || item_header(self.bytes(l.start..l.end)).is_some()
            {
                return (p - trailing_terminator(self.data, after, p), p);
            }
            p = l.next;
        }
        (limit - trailing_terminator(self.data, after, limit), limit)
    }

    /// Binary payload without a usable size: up to the next plausible item or message start
    /// (a keyword line followed by a size line or by header lines), notes §4.4 step 3.
    fn scan_binary(&self, after: usize, limit: usize) -> (usize, usize) {
        let mut p = after;
        while p < limit {
            let l = line_at(self.data, p, limit);
            let line = self.bytes(l.start..l.end);
            let plausible = if starts_with_ci(line, b"Message:") {
                let q = after_keyword(self.data, p, 8, limit);
                let nl = line_at(self.data, q, limit);
                let next = self.bytes(nl.start..nl.end);
                matches!(size_line(next), SizeLine::Value(_))
                    || split_key(next).is_some_and(|(k, _)| is_header_key(k))
            } else if item_header(line).is_some() {
                let nl = line_at(self.data, l.next, limit);
                matches!(size_line(self.bytes(nl.start..nl.end)), SizeLine::Value(_))
            } else {
                false
            };
            if plausible {
                return (p - trailing_terminator(self.data, after, p), p);
            }
            p = l.next;
        }
        (limit - trailing_terminator(self.data, after, limit), limit)
    }
}

fn is_header_key(k: &[u8]) -> bool {
    [
        &b"From"[..],
        b"Date",
        b"To",
        b"Cc",
        b"Bcc",
        b"Subject",
        b"RRT",
    ]
    .iter()
    .any(|h| k.eq_ignore_ascii_case(h))
}

/// The message whose `Message:` line is at `start` (notes §4.3): its size line, then
/// [`walk_body`]. Returns the position after the message.
fn walk_message<V: Visit>(
    cx: &mut Cx<'_>,
    v: &mut V,
    m: &mut V::Msg,
    start: usize,
    limit: usize,
    w: &mut Vec<Warning>,
) -> usize {
    let p = after_keyword(cx.data, start, 8, limit);
    let (declared, body_start) = cx.read_size(p, limit, &"Message:", true, w);
    let end = walk_body(cx, v, m, body_start, limit, 0, w);
    if let Some(d) = declared {
        let actual = (end - body_start) as u64;
        if d != actual {
            cx.warn(
                w,
                "ccmail.message-size",
                format!("Message: size line says {d}, the message framed to {actual} bytes"),
                start,
            );
        }
    }
    end
}

/// Walks every message of `data` as [`ExportReader`] frames them, reporting to `v`, until
/// `enough(v)` holds after a message. Calls `release` every [`RELEASE_EVERY`] bytes walked and
/// at the end (to release a file map's pages; `&|| {}` for none). Warnings are dropped: the
/// reader gives them when it reads the messages.
fn walk_messages<V: Visit>(
    data: &[u8],
    cfg: &ReaderConfig,
    v: &mut V,
    release: &dyn Fn(),
    enough: impl Fn(&V) -> bool,
) where
    V::Msg: Default,
{
    let mut stats = FramingStats::default();
    let mut cx = Cx {
        data,
        cfg,
        stats: &mut stats,
    };
    let len = data.len();
    let (mut pos, mut released_at) = (0, 0);
    let mut w = Vec::new();
    while let Some(start) = find_message(data, pos, len) {
        let mut m = V::Msg::default();
        let end = walk_message(&mut cx, v, &mut m, start, len, &mut w);
        w.clear();
        pos = end.max(line_at(data, start, len).next);
        if mailmig_ir::blob::release_due(pos, &mut released_at) {
            release();
        }
        if enough(v) {
            break;
        }
    }
    release();
}

/// Header block, `Contents:` and items from `pos` up to the next `Message:` line (top level) or
/// `limit`. Returns the position after the message.
fn walk_body<V: Visit>(
    cx: &mut Cx<'_>,
    v: &mut V,
    m: &mut V::Msg,
    pos: usize,
    limit: usize,
    depth: u32,
    w: &mut Vec<Warning>,
) -> usize {
    let top = depth == 0;
    let mut p = pos;
    let mut contents: Option<Option<(u64, usize)>> = None;
    while p < limit {
        if is_message_line(cx.data, p, limit) && top {
            break;
        }
        let l = line_at(cx.data, p, limit);
        let line = cx.bytes(l.start..l.end);
        if starts_with_ci(line, b"Contents:") {
            let q = after_keyword(cx.data, p, 9, limit);
            let (d, q2) = cx.read_size(q, limit, &"Contents:", false, w);
            contents = Some(d.map(|d| (d, q2)));
            p = q2;
            break;
        }
        // Most header lines are told apart from item headers by their key alone.
        let key_value = split_key(line);
        if may_be_item_header(key_value) && item_header(line).is_some() {
            cx.warn(
                w,
                "ccmail.contents-missing",
                "item header met before any Contents: line; reading items from here".into(),
                l.start,
            );
            contents = Some(None);
            break;
        }
        if !trim(line).is_empty() {
            match key_value {
                Some((key, value)) => {
                    let h = HeaderLine {
                        key,
                        value,
                        offset: l.start,
                        top,
                    };
                    v.header(cx, m, &h, w);
                }
                None => v.unparsed_line(cx, m, line, l.start, w),
            }
        }
        p = l.next;
    }
    let Some(contents) = contents else {
        cx.warn(
            w,
            "ccmail.contents-missing",
            "message has no Contents: line (KB Q234745); kept its header only".into(),
            pos,
        );
        return p;
    };
    p = walk_items(cx, v, m, p, limit, depth, w);
    if let Some((d, s)) = contents {
        let actual = (p - s) as u64;
        if d != actual {
            cx.warn(
                w,
                "ccmail.contents-size",
                format!("Contents: size line says {d}, the items framed to {actual} bytes"),
                s,
            );
        }
    }
    v.end_items(m);
    p
}

fn finish_body(msg: &mut Message, body: BodyParts) {
    let BodyParts { first, rest, rtf } = body;
    msg.body.rtf = rtf;
    let Some(first) = first else {
        return;
    };
    let single = rest.is_empty();
    if single && first.1.is_none() {
        msg.body.text = Some(first.0);
        return;
    }
    let mut text = String::new();
    let mut titles = Vec::new();
    for (i, (part, title, continued)) in std::iter::once(first).chain(rest).enumerate() {
        if i > 0 && !continued {
            text.push_str("\r\n\r\n");
        }
        if i == 0 || !continued {
            titles.push(title.unwrap_or_default());
        }
        if single {
            text = part;
        } else {
            text.push_str(&part);
        }
    }
    msg.body.text = Some(text);
    if titles.iter().any(|t| !t.is_empty()) {
        msg.properties.push(Property::new(
            TEXT_TITLES_PROPERTY,
            PropValue::Multi(titles.into_iter().map(PropValue::Text).collect()),
        ));
    }
}

/// The header keys the reader interprets (notes §4.2), matched without case.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum HeaderKey {
    From,
    To,
    Cc,
    Bcc,
    Subject,
    Date,
    Rrt,
    Folder,
    Other,
}

impl HeaderKey {
    fn of(key: &[u8]) -> Self {
        const KEYS: [(&[u8], HeaderKey); 8] = [
            (b"from", HeaderKey::From),
            (b"to", HeaderKey::To),
            (b"cc", HeaderKey::Cc),
            (b"bcc", HeaderKey::Bcc),
            (b"subject", HeaderKey::Subject),
            (b"date", HeaderKey::Date),
            (b"rrt", HeaderKey::Rrt),
            (b"folder", HeaderKey::Folder),
        ];
        KEYS.iter()
            .find(|(k, _)| eq_ci(key, k))
            .map_or(HeaderKey::Other, |&(_, h)| h)
    }
}

impl IrBuilder<'_> {
    fn apply_header(
        &self,
        cx: &mut Cx<'_>,
        msg: &mut Message,
        h: &HeaderLine<'_>,
        w: &mut Vec<Warning>,
    ) {
        let &HeaderLine {
            key,
            value,
            offset,
            top,
        } = h;
        // `split_key` keeps only ASCII keys, so this prints the key unchanged, without a pass.
        let key_s = key.escape_ascii();
        let lower = HeaderKey::of(key);
        let v = self.dec.decode(value).0;
        let addr_key = matches!(
            lower,
            HeaderKey::From | HeaderKey::To | HeaderKey::Cc | HeaderKey::Bcc
        );
        if (addr_key || lower == HeaderKey::Subject) && !value.is_ascii() {
            let blob = (value.as_ptr() as usize)
                .checked_sub(cx.data.as_ptr() as usize)
                .map(|start| self.blob(start..start + value.len()))
                .filter(|b| b.as_bytes() == value)
                .unwrap_or_else(|| Blob::from(value));
            msg.properties
                .push(Property::new(raw_key_name(key), PropValue::Binary(blob)));
        }
        if addr_key {
            let max = cx.cfg.limits.max_recipients as usize;
            let (mut found, mut nameless, mut dropped) = (0usize, false, false);
            let had_from = msg.from.is_some();
            let mut list = match lower {
                HeaderKey::From => None,
                HeaderKey::To => Some(&mut msg.to),
                HeaderKey::Cc => Some(&mut msg.cc),
                _ => Some(&mut msg.bcc),
            };
            let from = &mut msg.from;
            let ambiguous = for_each_address(&v, |a| {
                found += 1;
                nameless |= a.name.is_none();
                match &mut list {
                    // The first address of a From: line is the author, unless one was met.
                    None if found == 1 && !had_from => *from = Some(a),
                    None => {}
                    Some(list) if list.len() < max => list.push(a),
                    Some(_) => dropped = true,
                }
            });
            if ambiguous {
                cx.warn(
                    w,
                    "ccmail.address-ambiguous",
                    format!("{key_s}: line {v:?} could not be split safely; kept as one recipient"),
                    offset,
                );
            }
            if nameless {
                cx.warn(
                    w,
                    "ccmail.address-no-name",
                    format!("{key_s}: address without a name part (KB Q249133): {v:?}"),
                    offset,
                );
            }
            if lower == HeaderKey::From {
                if had_from && found > 0 {
                    msg.properties
                        .push(Property::new("ccmail:From", PropValue::Text(v.to_string())));
                }
                if found > 1 {
                    cx.warn(
                        w,
                        "ccmail.from-multiple",
                        format!("From: names several addresses; the first is the author: {v:?}"),
                        offset,
                    );
                }
            } else if dropped {
                cx.warn(
                    w,
                    "ccmail.too-many-recipients",
                    format!("more than {max} {key_s} recipients; the rest were dropped"),
                    offset,
                );
            }
            return;
        }
        match lower {
            HeaderKey::Date => {
                let (ts, problem) = parse_date(&v, cx.cfg.date_order, cx.cfg.year_pivot);
                if msg.sent.is_none() {
                    msg.sent = ts;
                }
                if let Some(problem) = problem {
                    msg.properties
                        .push(Property::new("ccmail:Date", PropValue::Text(v.to_string())));
                    let (code, text) = match problem {
                        DateProblem::Clamped => (
                            "ccmail.invalid-date",
                            format!(
                                "impossible date {v:?} (KB Q233325) clamped to the month's last day"
                            ),
                        ),
                        DateProblem::Unparsable => (
                            "ccmail.invalid-date",
                            format!("date {v:?} cannot be read; kept raw in ccmail:Date"),
                        ),
                        DateProblem::Suspicious1900 => (
                            "ccmail.suspicious-date",
                            format!(
                                "date {v:?} is 1/1/1900, the Import 8.0 year-2000 defect (KB Q192595)"
                            ),
                        ),
                    };
                    cx.warn(w, code, text, offset);
                }
            }
            HeaderKey::Subject if msg.subject.is_none() => msg.subject = Some(v.into_owned()),
            HeaderKey::Rrt => {
                msg.class = MessageClass(RRT_CLASS.into());
                msg.properties
                    .push(Property::new("ccmail:RRT", PropValue::Text(v.into_owned())));
            }
            HeaderKey::Folder if top && msg.folder.is_none() => {
                let f = v.trim();
                if !f.is_empty() {
                    msg.folder = Some(f.to_string());
                }
            }
            _ => msg.properties.push(Property::new(
                key_name("ccmail:", key),
                PropValue::Text(v.into_owned()),
            )),
        }
    }
}

/// `ccmail:raw:` and a header key as written: a fixed name for the keys as EXPORT writes them
/// (no allocation on most messages), else made by [`key_name`].
fn raw_key_name(key: &[u8]) -> std::borrow::Cow<'static, str> {
    const FIXED: [&str; 5] = [
        "ccmail:raw:From",
        "ccmail:raw:To",
        "ccmail:raw:Cc",
        "ccmail:raw:Bcc",
        "ccmail:raw:Subject",
    ];
    match FIXED
        .iter()
        .find(|n| n.as_bytes().get("ccmail:raw:".len()..) == Some(key))
    {
        Some(&n) => n.into(),
        None => key_name("ccmail:raw:", key).into(),
    }
}

/// `prefix` then a header key as written (ASCII, [`split_key`] keeps no other), without the
/// formatting machinery.
fn key_name(prefix: &str, key: &[u8]) -> String {
    let mut name = String::with_capacity(prefix.len() + key.len());
    name.push_str(prefix);
    name.extend(key.iter().map(|&b| char::from(b)));
    name
}

/// The items after `Contents:` (notes §4.3), each framed by [`frame_item`] and handed to `v`.
fn walk_items<V: Visit>(
    cx: &mut Cx<'_>,
    v: &mut V,
    m: &mut V::Msg,
    pos: usize,
    limit: usize,
    depth: u32,
    w: &mut Vec<Warning>,
) -> usize {
    let top = depth == 0;
    let mut p = pos;
    let mut items: u64 = 0;
    let mut junk: Option<(usize, u64)> = None;
    while p < limit {
        if top && is_message_line(cx.data, p, limit) {
            break;
        }
        let l = line_at(cx.data, p, limit);
        let line = cx.bytes(l.start..l.end);
        if let Some((kind, words, title)) = item_header(line) {
            items += 1;
            if items > cx.cfg.limits.max_items {
                cx.warn(
                    w,
                    "ccmail.too-many-items",
                    format!(
                        "more than {} items; the rest of the message was skipped",
                        cx.cfg.limits.max_items
                    ),
                    l.start,
                );
                let mut q = l.next;
                while q < limit && !(top && is_message_line(cx.data, q, limit)) {
                    q = line_at(cx.data, q, limit).next;
                }
                return q;
            }
            let (item, next) = frame_item(cx, l, kind, words, title, limit, w);
            v.item(cx, m, &item, depth, w);
            p = next;
            continue;
        }
        if !trim(line).is_empty() {
            let j = junk.get_or_insert((l.start, 0));
            j.1 += 1;
        }
        p = l.next;
    }
    if let Some((at, n)) = junk {
        cx.warn(
            w,
            "ccmail.junk",
            format!("{n} line(s) between items that are not item headers were skipped"),
            at,
        );
    }
    p
}

/// Frames the item whose header line is `hdr` (notes §4.4): its size line, then rules A, B
/// and C, or a scan when no size can be used. Returns the item and the position after it.
fn frame_item<'t>(
    cx: &mut Cx<'t>,
    hdr: crate::lex::Line,
    kind: ItemKind,
    words: &'t [u8],
    title: &'t [u8],
    limit: usize,
    w: &mut Vec<Warning>,
) -> (Item<'t>, usize) {
    let words_s = words.escape_ascii();
    let (size, after) = cx.read_size_from(
        hdr.start,
        hdr.next,
        limit,
        &format_args!("{words_s} item:"),
        false,
        w,
    );
    let framed = match size {
        Some(n) => {
            let f = cx.frame_sized(hdr.start, after, n, limit);
            if f.is_none() {
                cx.stats.bad_sizes += 1;
                cx.warn(
                    w,
                    "ccmail.size-mismatch",
                    format!("{words_s} item size {n} does not land on a keyword line under rules A, B or C; scanning"),
                    hdr.start,
                );
            }
            f
        }
        None => None,
    };
    let mut damaged = false;
    let (pend, next) = match framed {
        Some(f) => f,
        None => {
            cx.stats.scanned += 1;
            if kind == ItemKind::Text {
                cx.scan_text(after, limit)
            } else {
                damaged = true;
                cx.scan_binary(after, limit)
            }
        }
    };
    let next = next.max(hdr.next);
    let pend = pend.max(after).min(limit);
    let item = Item {
        hdr,
        kind,
        words,
        title,
        payload: after..pend,
        damaged,
    };
    (item, next)
}

/// Is `item` a message item whose payload is a header block, that the walk reads as an
/// embedded message (notes §4.7)?
fn is_embedded(cx: &Cx<'_>, item: &Item<'_>) -> bool {
    item.kind == ItemKind::Message
        && !item.damaged
        && looks_like_header(cx, item.payload.start, item.payload.end)
}

impl Visit for IrBuilder<'_> {
    type Msg = Draft;

    fn header(&mut self, cx: &mut Cx<'_>, m: &mut Draft, h: &HeaderLine<'_>, w: &mut Vec<Warning>) {
        self.apply_header(cx, &mut m.msg, h, w);
    }

    fn unparsed_line(
        &mut self,
        cx: &mut Cx<'_>,
        m: &mut Draft,
        line: &[u8],
        offset: usize,
        w: &mut Vec<Warning>,
    ) {
        let text = self.dec.decode(line).0.into_owned();
        m.msg
            .properties
            .push(Property::new("ccmail:unparsed-line", PropValue::Text(text)));
        cx.warn(
            w,
            "ccmail.unparsed-line",
            "header line without a Key: kept as property ccmail:unparsed-line".into(),
            offset,
        );
    }

    fn end_items(&mut self, m: &mut Draft) {
        finish_body(&mut m.msg, std::mem::take(&mut m.body));
    }

    /// The IR of a framed item: text joins the body; everything else is an attachment.
    fn item(
        &mut self,
        cx: &mut Cx<'_>,
        m: &mut Draft,
        item: &Item<'_>,
        depth: u32,
        w: &mut Vec<Warning>,
    ) {
        let Item {
            hdr, kind, damaged, ..
        } = *item;
        let Range {
            start: after,
            end: pend,
        } = item.payload.clone();
        let words = String::from_utf8_lossy(item.words);
        let words: &str = &words;
        let title = self.dec.decode(item.title).0;
        let title: &str = &title;
        let (msg, body) = (&mut m.msg, &mut m.body);
        let payload = cx.bytes(after..pend);
        // Made only where it is kept: a file item's title is split into name and date.
        let title_opt = || (!title.is_empty()).then(|| title.to_string());
        if kind == ItemKind::Text {
            if payload.starts_with(b"{\\rtf") && body.rtf.is_none() {
                body.rtf = Some(self.blob(after..pend));
            } else {
                let (text, lossy) = self.dec.decode(payload);
                if lossy {
                    cx.warn(
                        w,
                        "ccmail.undecodable-text",
                        format!(
                            "text item has bytes undefined in code page {}",
                            cx.cfg.code_page
                        ),
                        after,
                    );
                }
                let continued = title == CONTINUED_TITLE && body.first.is_some();
                body.push((text.into_owned(), title_opt(), continued));
            }
            return;
        }
        if msg.attachments.len() >= cx.cfg.limits.max_attachments as usize {
            cx.warn(
                w,
                "ccmail.too-many-attachments",
                format!(
                    "more than {} attachments; item skipped",
                    cx.cfg.limits.max_attachments
                ),
                hdr.start,
            );
            return;
        }
        let mut att = Attachment {
            ids: mailmig_ir::SourceIds {
                offset: Some(hdr.start as u64),
                ..Default::default()
            },
            ..Attachment::default()
        };
        match kind {
            ItemKind::File => {
                let (name, date) = split_file_title(title);
                att.name = (!name.is_empty()).then(|| name.to_string());
                if let Some(date) = date {
                    let (ts, problem) = parse_date(date, cx.cfg.date_order, cx.cfg.year_pivot);
                    att.modified = ts;
                    if problem.is_some() && problem != Some(DateProblem::Suspicious1900) {
                        att.properties.push(Property::new(
                            "ccmail:file-date",
                            PropValue::Text(date.into()),
                        ));
                        cx.warn(
                        w,
                        "ccmail.invalid-date",
                        format!("file item date {date:?} is not a valid date; kept raw in ccmail:file-date"),
                        hdr.start,
                    );
                    }
                }
                if !damaged && let Some(parts) = macbinary(payload) {
                    match parts {
                    Ok((data_fork, rsrc_fork)) => {
                        att.content = AttachmentContent::Data(
                            self.blob(after + data_fork.start..after + data_fork.end),
                        );
                        att.properties
                            .push(Property::new("ccmail:macbinary", PropValue::Bool(true)));
                        let rsrc = (!rsrc_fork.is_empty()).then(|| Attachment {
                            kind: AttachmentKind::MacBinary,
                            name: att.name.as_ref().map(|n| format!("{n}.rsrc")),
                            content: AttachmentContent::Data(
                                self.blob(after + rsrc_fork.start..after + rsrc_fork.end),
                            ),
                            properties: vec![Property::new(
                                "ccmail:resource-fork",
                                PropValue::Bool(true),
                            )],
                            ..Attachment::default()
                        });
                        msg.attachments.push(att);
                        if let Some(r) = rsrc
                            && msg.attachments.len() < cx.cfg.limits.max_attachments as usize
                        {
                            msg.attachments.push(r);
                        }
                        return;
                    }
                    Err(why) => cx.warn(
                        w,
                        "ccmail.macbinary-malformed",
                        format!(
                            "file item looks like MacBinary II but {why} (KB Q166561); kept as is"
                        ),
                        after,
                    ),
                }
                }
            }
            ItemKind::Fax => {
                att.properties.push(Property::new(
                    "ccmail:item-kind",
                    PropValue::Text("Fax".into()),
                ));
                let is_pcx = matches!(payload, [0x0A, 0..=5, 1, ..]);
                let base = title_opt().unwrap_or_else(|| "Fax".into());
                if is_pcx {
                    att.mime_type = Some("image/x-pcx".into());
                    att.name = Some(if has_extension(&base) {
                        base
                    } else {
                        format!("{base}.pcx")
                    });
                } else {
                    att.name = Some(base);
                    cx.warn(
                        w,
                        "ccmail.fax-not-pcx",
                        "fax item is not a PCX image (KB Q184053); kept as is".into(),
                        after,
                    );
                }
            }
            ItemKind::Message => {
                if is_embedded(cx, item) {
                    if depth < cx.cfg.limits.max_embedding_depth {
                        let mut draft = Draft::default();
                        draft.msg.ids.offset = Some(after as u64);
                        let mut iw = Vec::new();
                        walk_body(cx, self, &mut draft, after, pend, depth + 1, &mut iw);
                        let mut inner = draft.msg;
                        iw.append(&mut inner.warnings);
                        inner.warnings = iw;
                        att.kind = AttachmentKind::EmbeddedMessage;
                        att.name = title_opt();
                        att.content = AttachmentContent::Message(Box::new(inner));
                        msg.attachments.push(att);
                        return;
                    }
                    cx.warn(
                        w,
                        "ccmail.embedding-depth",
                        format!(
                            "embedded messages nested deeper than {}; kept as text",
                            cx.cfg.limits.max_embedding_depth
                        ),
                        hdr.start,
                    );
                }
                att.name = Some(format!(
                    "{}.txt",
                    if title.is_empty() { "message" } else { title }
                ));
            }
            ItemKind::Ole => {
                att.kind = AttachmentKind::Ole;
                let base = title_opt().unwrap_or_else(|| "object".into());
                att.name = Some(if has_extension(&base) {
                    base
                } else {
                    format!("{base}.ole")
                });
            }
            ItemKind::Other | ItemKind::Text => {
                att.properties.push(Property::new(
                    "ccmail:item-kind",
                    PropValue::Text(words.into()),
                ));
                att.name = Some(title_opt().unwrap_or_else(|| words.to_string()));
                cx.warn(
                    w,
                    "ccmail.unknown-item",
                    format!("unknown item kind {words:?}; kept as an opaque attachment"),
                    hdr.start,
                );
            }
        }
        if damaged {
            att.properties
                .push(Property::new("ccmail:damaged", PropValue::Bool(true)));
            cx.warn(
            w,
            "ccmail.truncated-or-merged",
            format!("{words} item without a usable size: kept the bytes up to the next plausible item; may be truncated or merged"),
            hdr.start,
        );
        }
        if matches!(att.content, AttachmentContent::None) {
            att.content = AttachmentContent::Data(self.blob(after..pend));
        }
        msg.attachments.push(att);
    }
}

fn has_extension(name: &str) -> bool {
    name.rsplit_once('.')
        .is_some_and(|(stem, ext)| !stem.is_empty() && !ext.is_empty() && ext.len() <= 4)
}

fn looks_like_header(cx: &Cx<'_>, from: usize, limit: usize) -> bool {
    let mut p = from;
    while p < limit {
        let l = line_at(cx.data, p, limit);
        let line = cx.bytes(l.start..l.end);
        if !trim(line).is_empty() {
            return starts_with_ci(line, b"Contents:")
                || split_key(line).is_some_and(|(k, _)| is_header_key(k));
        }
        p = l.next;
    }
    false
}

/// CRC-16/XMODEM (polynomial 0x1021, initial 0), the checksum of MacBinary II headers.
fn crc16_xmodem(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0;
    for &b in bytes {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

type Forks = (Range<usize>, Range<usize>);

/// MacBinary II detection (notes §4.7): `None` when the payload does not look like MacBinary,
/// `Some(Ok((data fork, resource fork)))` for a valid header, `Some(Err(why))` for one that
/// looks like MacBinary but fails its checks.
fn macbinary(p: &[u8]) -> Option<Result<Forks, &'static str>> {
    let h = p.get(..128)?;
    let name_len = *h.get(1)?;
    if h.first() != Some(&0)
        || !(1..=63).contains(&name_len)
        || h.get(74) != Some(&0)
        || h.get(82) != Some(&0)
    {
        return None;
    }
    let be32 = |o: usize| -> Option<usize> {
        let b = h.get(o..o + 4)?;
        usize::try_from(u32::from_be_bytes([
            *b.first()?,
            *b.get(1)?,
            *b.get(2)?,
            *b.get(3)?,
        ]))
        .ok()
    };
    let stored = u16::from_be_bytes([*h.get(124)?, *h.get(125)?]);
    if crc16_xmodem(h.get(..124)?) != stored {
        return Some(Err("its header CRC does not match"));
    }
    let (Some(dlen), Some(rlen)) = (be32(83), be32(87)) else {
        return Some(Err("its fork lengths cannot be read"));
    };
    let dstart = 128usize;
    let Some(dend) = dstart.checked_add(dlen) else {
        return Some(Err("its data fork length overflows"));
    };
    let rstart = dend.div_ceil(128).saturating_mul(128);
    let Some(rend) = rstart.checked_add(rlen) else {
        return Some(Err("its resource fork length overflows"));
    };
    if dend > p.len() || (rlen > 0 && rend > p.len()) {
        return Some(Err("its fork lengths run past the item"));
    }
    Some(Ok((
        dstart..dend,
        if rlen > 0 { rstart..rend } else { 0..0 },
    )))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn read_all(bytes: &[u8]) -> (Vec<Message>, FramingStats) {
        let mut r = ExportReader::from_vec(bytes.to_vec(), ReaderConfig::new("t.ccm"));
        let msgs: Vec<Message> = r.by_ref().filter_map(Result::ok).collect();
        (msgs, r.stats())
    }

    fn codes(m: &Message) -> Vec<&str> {
        m.warnings.iter().map(|w| w.code.as_str()).collect()
    }

    /// The pre-scans see the header lines the reader interprets and nothing else: not lines
    /// of a text item (sized or scanned) that look like `Folder:` or `Date:` lines, not a
    /// second `Folder:` line of a message, not the folder of an embedded message; but they do
    /// see the dates of embedded messages.
    #[test]
    fn pre_scans_read_header_lines_only() {
        let text = "Folder: Bogus\r\nDate: 3/14/99 9:00\r\n";
        let embedded =
            "Date: 25/12/98 8:00\r\nFolder: Inner\r\nContents:\r\nText item:\r\n2\r\nhi\r\n";
        let stream = format!(
            "Message:\r\nDate: 13/1/99 10:00\r\nFolder: Real\r\nFolder: Second\r\nContents:\r\n\
             Text item:\r\n{}\r\n{text}\r\n\
             Message:\r\nFolder:  \r\nfolder: other\r\nDate: 14/1/99 10:00\r\nContents:\r\n\
             Text item:\r\n\r\n{text}\r\n\
             Message:\r\nFolder: REAL\r\nContents:\r\n\
             Message:\r\nContents:\r\nMessage item: fwd\r\n{}\r\n{embedded}\r\n",
            text.len(),
            embedded.len(),
        );
        let data = stream.as_bytes();
        let cfg = ReaderConfig::default();
        let releases = std::cell::Cell::new(0);
        let names = scan_folder_names(data, &cfg, &|| releases.set(releases.get() + 1));
        assert_eq!(names, ["Real", "other"]);
        assert_eq!(releases.get(), 1, "released once, at the end");
        let ev = scan_date_order(data);
        assert_eq!((ev.dates_seen, ev.decide()), (3, DateOrder::DayMonth));
        // The reader agrees: the same folders, and the body lines kept as text.
        let (m, _) = read_all(data);
        let folders: Vec<_> = m.iter().map(|m| m.folder.as_deref()).collect();
        assert_eq!(folders, [Some("Real"), Some("other"), Some("REAL"), None]);
        assert!(
            m[1].body
                .text
                .as_deref()
                .is_some_and(|t| t.contains("Folder: Bogus"))
        );
    }

    /// A reader over a mapped file releases the map's pages as it reads, and reads the same
    /// messages as a reader over the same bytes in memory.
    #[test]
    fn a_reader_over_a_file_map_reads_what_a_reader_over_bytes_reads() {
        let one = |i: usize| {
            let text = format!("message {i} {}", "x".repeat(3000));
            format!(
                "Message:\r\nFrom: A at P\r\nSubject: s{i}\r\nFolder: F{}\r\nContents:\r\nText item:\r\n{}\r\n{text}\r\n",
                i % 3,
                text.len()
            )
        };
        let stream: String = (0..1500).map(one).collect();
        assert!(stream.len() > 4 * RELEASE_EVERY);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("big.ccm");
        std::fs::write(&path, &stream).unwrap();
        let cfg = ReaderConfig::new("big.ccm");
        let map = FileMap::open(&path).unwrap();
        let names = scan_folder_names((*map.bytes()).as_ref(), &cfg, &|| map.release_pages());
        assert_eq!(names, ["F0", "F1", "F2"]);
        let mut reader = ExportReader::over_file(map, cfg.clone());
        let mut mapped: Vec<Message> = reader.by_ref().take(1400).map(Result::unwrap).collect();
        // Nearly all of the file has been read; at most about `RELEASE_EVERY` of it (plus the
        // kernel's fault-around) may still be mapped.
        #[cfg(target_os = "linux")]
        {
            let rss = mailmig_ir::blob::mapped_resident_bytes("big.ccm").unwrap();
            assert!(
                rss <= 2 * RELEASE_EVERY as u64,
                "{rss} bytes of the map resident"
            );
        }
        mapped.extend(reader.map(Result::unwrap));
        let in_memory: Vec<Message> = ExportReader::from_vec(stream.into_bytes(), cfg)
            .map(Result::unwrap)
            .collect();
        assert_eq!(mapped.len(), 1500);
        assert!(mapped == in_memory);
    }

    #[test]
    fn minimal_sized_message() {
        let s = b"Message:\r\n62\r\nFrom: A at P\r\nSubject: hi\r\nContents:\r\n20\r\nText item:\r\n3\r\nabc\r\n";
        let (m, st) = read_all(s);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].body.text.as_deref(), Some("abc"));
        assert_eq!(m[0].subject.as_deref(), Some("hi"));
        assert_eq!(st.rule_a, 1);
        assert!(m[0].warnings.is_empty(), "{:?}", m[0].warnings);
    }

    #[test]
    fn wrong_item_size_rescans_text() {
        let s = b"Message:\r\nFrom: A at P\r\nContents:\r\nText item:\r\n999\r\nabc\r\nMessage:\r\nFrom: B at P\r\nContents:\r\nText item:\r\n2\r\nxy\r\n";
        let (m, st) = read_all(s);
        assert_eq!(m.len(), 2);
        assert_eq!(m[0].body.text.as_deref(), Some("abc"));
        assert!(codes(&m[0]).contains(&"ccmail.size-invalid"));
        assert_eq!(m[1].body.text.as_deref(), Some("xy"));
        assert_eq!(st.scanned, 1);
    }

    #[test]
    fn rule_b_and_c_are_recognised() {
        // rule B: size 5 = "abc" + CRLF; rule C: size counted from the item header line.
        let s = b"Message:\r\nContents:\r\nText item:\r\n5\r\nabc\r\nText item:\r\n19\r\nxyz\r\n";
        let (m, st) = read_all(s);
        assert_eq!(m[0].body.text.as_deref(), Some("abc\r\n\r\nxyz"));
        assert_eq!((st.rule_a, st.rule_b, st.rule_c), (0, 1, 1));
    }

    #[test]
    fn blocks_not_crlf_separated() {
        let s = b"Message:From: A at P\r\nContents:Text item:\r\n3\r\nabcText item:\r\n2\r\nxy";
        let (m, _) = read_all(s);
        assert_eq!(m[0].body.text.as_deref(), Some("abc\r\n\r\nxy"));
        assert_eq!(
            m[0].from.as_ref().and_then(|a| a.address.as_deref()),
            Some("A at P")
        );
    }

    #[test]
    fn table_decoder_matches_ir_decoder() {
        let mut bytes: Vec<u8> = (0..=255u8).collect();
        bytes.extend_from_slice(b"plain ASCII run longer than eight bytes \x82\xA4 tail");
        for cp in [850u16, 437, 1252, 1250] {
            let d = Decoder::new(cp);
            assert!(d.table.is_some());
            for start in 0..bytes.len() {
                let slice = &bytes[start..];
                let (mine, mine_lossy) = d.decode(slice);
                let (ir, ir_lossy) = codepage::decode_checked(slice, cp);
                assert_eq!(
                    (mine.as_ref(), mine_lossy),
                    (ir.as_ref(), ir_lossy),
                    "cp {cp} at {start}"
                );
            }
        }
        assert!(Decoder::new(932).table.is_none());
    }

    /// The vector expansion is used wherever the CPU has it, so the decoder tests above (every
    /// pair of bytes in a 32-byte block, random bytes) check it against the IR's decoder there;
    /// this fails if a change to the feature checks turned it off on such a CPU.
    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_expansion_is_used_where_the_cpu_has_it() {
        use std::arch::is_x86_feature_detected as has_feature;
        let has = has_feature!("avx512f")
            && has_feature!("avx512bw")
            && has_feature!("avx512vl")
            && has_feature!("avx512vbmi")
            && has_feature!("avx512vbmi2")
            && has_feature!("bmi2")
            && has_feature!("popcnt");
        let t = ByteTable::shared(850).expect("CP850 has tables");
        assert_eq!(t.vbmi2.is_some(), has);
        eprintln!("vector expansion on this CPU: {has}");
    }

    #[test]
    fn message_numbers_in_decimal() {
        for n in [0u64, 7, 10, 99, 100, 1_234_567, u64::MAX] {
            assert_eq!(decimal(n), n.to_string());
        }
    }

    #[test]
    fn raw_key_names_are_fixed_for_the_keys_as_written() {
        for key in ["From", "To", "Cc", "Bcc", "Subject"] {
            let name = raw_key_name(key.as_bytes());
            assert!(matches!(name, std::borrow::Cow::Borrowed(_)), "{key}");
            assert_eq!(name, format!("ccmail:raw:{key}"));
        }
        // Other spellings keep theirs.
        let name = raw_key_name(b"SUBJECT");
        assert!(matches!(name, std::borrow::Cow::Owned(_)));
        assert_eq!(name, "ccmail:raw:SUBJECT");
        assert_eq!(raw_key_name(b"Subj"), "ccmail:raw:Subj");
    }

    #[test]
    fn date_order_scan_stops_once_settled() {
        // Day/month evidence, then a settling month/day date, then more of either.
        let messages = |dates: &[&str]| -> Vec<u8> {
            dates
                .iter()
                .flat_map(|d| format!("Message:\r\nDate: {d}\r\nContents:\r\n").into_bytes())
                .collect()
        };
        let data = messages(&["14/3/99 9:05", "1/13/99", "15/3/99", "1/14/99"]);
        let ev = scan_date_order(&data);
        assert_eq!((ev.dates_seen, ev.decide()), (2, DateOrder::MonthDay));
        // Without a settling date every message is read.
        let ev = scan_date_order(&messages(&["14/3/99", "1/2/99", "15/3/99"]));
        assert_eq!((ev.dates_seen, ev.decide()), (3, DateOrder::DayMonth));
    }

    #[test]
    fn long_texts_are_decoded_in_pieces_through_a_bounded_scratch() {
        let d = Decoder::new(850);
        let small = b"caf\x82".repeat(100);
        assert_eq!(d.decode(&small).0, "café".repeat(100));
        assert!(d.scratch.borrow().len() >= small.len() * 3);
        // Three and a half chunks, with a two-byte character and an undefined-free mix on every
        // chunk boundary region: the same text as the IR decoder, through a scratch buffer
        // that never grows past one chunk's worth.
        let big: Vec<u8> = b"ab\x82c\xdb\x9c\x81z"
            .iter()
            .copied()
            .cycle()
            .take(CHUNK * 7 / 2 + 3)
            .collect();
        let (text, lossy) = d.decode(&big);
        let (want, want_lossy) = codepage::decode_checked(&big, 850);
        assert_eq!((text.as_ref(), lossy), (want.as_ref(), want_lossy));
        // Sized from the first chunk: at most one chunk's output more than needed.
        let std::borrow::Cow::Owned(text) = text else {
            panic!("non-ASCII text is decoded into a new string")
        };
        assert!(
            text.capacity() - text.len() <= CHUNK * 3,
            "{}",
            text.capacity()
        );
        assert!(d.scratch.borrow().len() <= CHUNK * 3 + WINDOW);
        assert_eq!(d.decode(&small).0, "café".repeat(100));
    }

    #[test]
    fn pair_table_matches_ir_decoder_for_every_pair() {
        // Every single-byte page, since the decoder's output is taken as UTF-8 unchecked in
        // release builds. 1253 and 857 leave bytes undefined, so the lossy flag of the pair
        // table is checked.
        let pages: Vec<u16> = (0..=u16::MAX)
            .filter(|&cp| is_single_byte(cp) && codepage::is_supported(cp))
            .collect();
        assert!(pages.len() >= 26, "{pages:?}");
        for cp in pages {
            let d = Decoder::new(cp);
            assert!(d.table.is_some(), "cp {cp}");
            // The scalar block path too, which this CPU may not take otherwise.
            let scalar = ByteTable::build(cp).map(|mut t| {
                #[cfg(target_arch = "x86_64")]
                {
                    t.vbmi2 = None;
                }
                Arc::new(t)
            });
            let s = Decoder {
                code_page: cp,
                table: scalar,
                scratch: std::cell::RefCell::new(Vec::new()),
            };
            for pair in 0..=u16::MAX {
                let [a, b] = pair.to_le_bytes();
                // An ASCII block, a 32-byte block and a word of the pair (the pair paths), and
                // the pair's first byte and `é` as tail bytes (the single-byte path; with `é`
                // the text is never all ASCII, so the ASCII block goes through the tables).
                let mut bytes = b"ASCII block of thirty-two bytes.".to_vec();
                bytes.extend([a, b, b, a].repeat(10));
                bytes.extend([a, 0x82]);
                let (ir, ir_lossy) = codepage::decode_checked(&bytes, cp);
                for d in [&d, &s] {
                    let (mine, mine_lossy) = d.decode(&bytes);
                    assert_eq!(
                        (mine.as_ref(), mine_lossy),
                        (ir.as_ref(), ir_lossy),
                        "cp {cp} {pair:#06x}"
                    );
                }
            }
        }
    }

    proptest::proptest! {
        /// The table decoder agrees with the IR's decoder on any bytes, mostly-ASCII or not.
        #[test]
        fn table_decoder_matches_ir_on_any_bytes(
            bytes in proptest::collection::vec(
                proptest::prop_oneof![3 => 0x20u8..0x7f, 1 => proptest::num::u8::ANY],
                0..200,
            ),
            cp in proptest::sample::select(vec![850u16, 437, 1252, 866, 1253, 857]),
        ) {
            let (mine, mine_lossy) = Decoder::new(cp).decode(&bytes);
            let (ir, ir_lossy) = codepage::decode_checked(&bytes, cp);
            proptest::prop_assert_eq!((mine.as_ref(), mine_lossy), (ir.as_ref(), ir_lossy));
        }
    }

    #[test]
    fn macbinary_split() {
        let mut h = vec![0u8; 128];
        h[1] = 3;
        h[2..5].copy_from_slice(b"abc");
        h[83..87].copy_from_slice(&3u32.to_be_bytes()); // data fork length
        h[87..91].copy_from_slice(&2u32.to_be_bytes()); // resource fork length
        let crc = crc16_xmodem(&h[..124]);
        h[124..126].copy_from_slice(&crc.to_be_bytes());
        h.extend_from_slice(b"DAT");
        h.resize(256, 0);
        h.extend_from_slice(b"RS");
        let r = macbinary(&h);
        assert_eq!(r, Some(Ok((128..131, 256..258))));
        h[124] ^= 1;
        assert!(matches!(macbinary(&h), Some(Err(_))));
    }
}
