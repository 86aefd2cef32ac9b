//! [`Blob`]: attachment and binary property bytes, owned or borrowed from a shared buffer
//! (usually the memory map of the input) without copying, or produced in pieces by a
//! [`PieceSource`] when they are too large to hold decoded.

use std::fmt;
use std::ops::Range;
use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Anything that can back a [`Blob`]: a `Vec<u8>`, a `memmap2::Mmap`, a `Box<[u8]>`…
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Bytes a reader produces on demand, in order and in pieces, instead of holding them decoded:
/// a large attachment stored in many encoded or compressed blocks of the input.
///
/// A reader hands one out only after checking that it can produce every byte (the input is
/// never modified while it is read), so [`PieceSource::pieces`] fails only when the input
/// changed under the run.
pub trait PieceSource: Send + Sync {
    /// Number of bytes the pieces add up to.
    fn len(&self) -> usize;

    /// True when there are no bytes.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Calls `piece` with the bytes in order, in pieces of any size. Stops at the first error,
    /// `piece`'s or its own; the pieces already passed stay passed.
    fn pieces(&self, piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>) -> std::io::Result<()>;
}

/// An immutable byte string: owned, a window into a shared buffer, or streamed from a
/// [`PieceSource`].
///
/// Cloning is cheap (a reference count). Format readers hand out windows into the mapped input
/// with [`Blob::window`], so attachment data is not copied until a writer needs it, and large
/// encoded data as [`Blob::streamed`], which writers read with [`Blob::pieces`] without ever
/// holding it whole. Serialises as standard base64.
#[derive(Clone)]
pub struct Blob {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    Window {
        owner: SharedBytes,
        start: usize,
        len: usize,
    },
    Streamed {
        source: Arc<dyn PieceSource>,
        /// The bytes collected whole, the first time something asked for them as one slice.
        whole: Arc<OnceLock<Vec<u8>>>,
    },
    /// A copy of borrowed bytes: one allocation, where a `Vec` under a [`SharedBytes`] takes two.
    Copied(Arc<[u8]>),
}

impl Blob {
    /// An empty blob.
    pub fn empty() -> Self {
        Self::from_vec(Vec::new())
    }

    /// Takes ownership of `bytes`.
    pub fn from_vec(bytes: Vec<u8>) -> Self {
        let len = bytes.len();
        Self {
            repr: Repr::Window {
                owner: Arc::new(bytes),
                start: 0,
                len,
            },
        }
    }

    /// A window `range` into `owner`, or `None` when the range is out of bounds.
    pub fn window(owner: SharedBytes, range: Range<usize>) -> Option<Self> {
        let total = (*owner).as_ref().len();
        if range.start > range.end || range.end > total {
            return None;
        }
        Some(Self {
            repr: Repr::Window {
                owner,
                start: range.start,
                len: range.end - range.start,
            },
        })
    }

    /// Bytes produced by `source` when they are read: [`Blob::pieces`] streams them, and only
    /// [`Blob::as_bytes`] collects them whole (once, kept by every clone).
    pub fn streamed(source: Arc<dyn PieceSource>) -> Self {
        Self {
            repr: Repr::Streamed {
                source,
                whole: Arc::new(OnceLock::new()),
            },
        }
    }

    /// True for a blob from [`Blob::streamed`] that has not been collected whole.
    pub fn is_streamed(&self) -> bool {
        matches!(&self.repr, Repr::Streamed { whole, .. } if whole.get().is_none())
    }

    /// The bytes as one slice. A streamed blob is collected whole the first time, which holds
    /// all of it in memory: writers that can take it in pieces use [`Blob::pieces`]. Should the
    /// source fail (its input changed under the run), the bytes it produced are kept and the
    /// rest is missing.
    pub fn as_bytes(&self) -> &[u8] {
        match &self.repr {
            Repr::Window { owner, start, len } => {
                (**owner).as_ref().get(*start..*start + *len).unwrap_or(&[])
            }
            Repr::Streamed { source, whole } => whole.get_or_init(|| {
                let mut v = Vec::with_capacity(source.len());
                let _ = source.pieces(&mut |p| {
                    v.extend_from_slice(p);
                    Ok(())
                });
                v
            }),
            Repr::Copied(bytes) => bytes,
        }
    }

    /// Calls `piece` with the bytes in order: once with the whole slice, or piece by piece for
    /// a streamed blob, so that the bytes are never held whole. Stops at the first error.
    pub fn pieces(
        &self,
        piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        match &self.repr {
            Repr::Streamed { source, whole } if whole.get().is_none() => source.pieces(piece),
            _ => piece(self.as_bytes()),
        }
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        match &self.repr {
            Repr::Window { len, .. } => *len,
            Repr::Streamed { source, .. } => source.len(),
            Repr::Copied(bytes) => bytes.len(),
        }
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Default for Blob {
    fn default() -> Self {
        Self::empty()
    }
}

impl From<Vec<u8>> for Blob {
    fn from(v: Vec<u8>) -> Self {
        Self::from_vec(v)
    }
}

impl From<&[u8]> for Blob {
    fn from(v: &[u8]) -> Self {
        Self {
            repr: Repr::Copied(Arc::from(v)),
        }
    }
}

impl AsRef<[u8]> for Blob {
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for Blob {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Blob {}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_streamed() {
            return write!(f, "Blob({} bytes, streamed)", self.len());
        }
        let bytes = self.as_bytes();
        let head = bytes.get(..bytes.len().min(16)).unwrap_or(&[]);
        write!(f, "Blob({} bytes, {:02x?}", bytes.len(), head)?;
        if bytes.len() > 16 {
            write!(f, "…")?;
        }
        write!(f, ")")
    }
}

impl Serialize for Blob {
    /// Standard base64, handed to the serializer as it is encoded ([`Serializer::collect_str`]):
    /// a serializer that writes as it goes (`serde_json::to_writer`) never holds the text, nor
    /// a streamed blob's bytes, whole.
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&Base64Text(self))
    }
}

/// The standard base64 text of a [`Blob`] as [`fmt::Display`]: [`Blob::pieces`] go through
/// base64's own streaming encoder ([`base64::write::EncoderWriter`], which carries the bytes
/// of an unfinished 3-byte group from one piece to the next) into the formatter.
///
/// Should a streamed blob's source fail (its input changed under the run), the text is that of
/// the bytes it produced, as [`Blob::as_bytes`] keeps them, and the error is kept for
/// [`take_serialize_failure`]. `fmt::Error` is returned only when the formatter itself fails:
/// `serde_json`'s `collect_str` expects a formatting error to come from its own writer, and
/// panics on one that does not.
struct Base64Text<'a>(&'a Blob);

thread_local! {
    /// The first source error of a streamed blob serialised on this thread since the last
    /// [`take_serialize_failure`].
    static SERIALIZE_FAILURE: std::cell::RefCell<Option<std::io::Error>> =
        const { std::cell::RefCell::new(None) };
}

/// Takes the error of the first streamed blob whose source failed while it was serialised on
/// this thread since the last call; its base64 then holds only the bytes read before the
/// failure. A writer that serialises messages with serde (which cannot be told of such an
/// error without a panic, see [`Blob`]'s `Serialize`) calls this before and after each
/// message, and treats `Some` as a failed write.
pub fn take_serialize_failure() -> Option<std::io::Error> {
    SERIALIZE_FAILURE.with(|f| f.borrow_mut().take())
}

impl fmt::Display for Base64Text<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = FormatterWriter { f, failed: false };
        let mut encoder =
            base64::write::EncoderWriter::new(&mut out, &base64::engine::general_purpose::STANDARD);
        let source_result = self
            .0
            .pieces(&mut |piece| std::io::Write::write_all(&mut encoder, piece));
        // Written once, after the last piece, whether the source ended or failed.
        let _finished = encoder.finish();
        drop(encoder);
        if out.failed {
            return Err(fmt::Error);
        }
        if let Err(e) = source_result {
            SERIALIZE_FAILURE.with(|f| {
                f.borrow_mut().get_or_insert(e);
            });
        }
        Ok(())
    }
}

/// A formatter as an [`std::io::Write`] for base64's encoder, remembering whether the formatter
/// failed (the only error [`Base64Text`] passes on). Base64 output is ASCII, so every write is
/// text.
struct FormatterWriter<'a, 'b> {
    f: &'a mut fmt::Formatter<'b>,
    failed: bool,
}

impl std::io::Write for FormatterWriter<'_, '_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = std::str::from_utf8(buf).map_err(std::io::Error::other)?;
        if self.failed || self.f.write_str(text).is_err() {
            self.failed = true;
            return Err(std::io::Error::other("formatter failed"));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Blob {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        base64::engine::general_purpose::STANDARD
            .decode(text.as_bytes())
            .map(Blob::from_vec)
            .map_err(serde::de::Error::custom)
    }
}

/// Bytes a reader moving forward through a [`FileMap`] reads between two releases of its pages
/// ([`FileMap::release_pages`]): what stays mapped of a file is then about this much, plus the
/// pages the kernel maps around each fault. A release costs only re-faulting the pages around
/// the current position.
pub const RELEASE_EVERY: usize = 1 << 20;

/// For a reader moving forward through a [`FileMap`]: true once it has read
/// [`RELEASE_EVERY`] bytes since `released_at` (a position, or a count of bytes read), and then
/// `released_at` moves to `pos`. The caller releases the pages when it is true.
pub fn release_due(pos: usize, released_at: &mut usize) -> bool {
    let due = pos.saturating_sub(*released_at) >= RELEASE_EVERY;
    if due {
        *released_at = pos;
    }
    due
}

/// [`release_due`] for a forward reader that may be reading through a map: releases `map`'s
/// pages ([`FileMap::release_pages`]) once [`RELEASE_EVERY`] bytes have been read since
/// `released_at`. Does nothing without a map.
pub fn release_when_due(map: Option<&FileMap>, pos: usize, released_at: &mut usize) {
    if let Some(m) = map
        && release_due(pos, released_at)
    {
        m.release_pages();
    }
}

/// A read-only memory map of an input file whose resident pages a reader can release as it
/// goes ([`FileMap::release_pages`]), so that streaming through a file of many gigabytes does
/// not leave every page it read mapped. Its bytes ([`FileMap::bytes`]) back [`Blob::window`]s.
pub struct FileMap {
    map: Option<Arc<memmap2::Mmap>>,
    bytes: SharedBytes,
}

impl FileMap {
    /// Maps the file at `path` read-only. An empty file gives an empty buffer (mapping zero
    /// bytes is not portable). This is the one place the format readers' memory maps are made.
    #[allow(unsafe_code)]
    pub fn open(path: &std::path::Path) -> std::io::Result<Self> {
        let file = std::fs::File::open(path)?;
        if file.metadata()?.len() == 0 {
            return Ok(Self {
                map: None,
                bytes: Arc::new(Vec::<u8>::new()),
            });
        }
        // SAFETY: the file is opened read-only and the map is only ever read through `&[u8]`.
        // mailmig documents that modifying an input while it is being converted is
        // unsupported: a concurrent truncation could otherwise fault the process (the caveat
        // of every memory map). The mapping lives as long as the `Arc`s that own it.
        let map = Arc::new(unsafe { memmap2::Mmap::map(&file)? });
        Ok(Self {
            bytes: map.clone(),
            map: Some(map),
        })
    }

    /// The mapped bytes, shareable with [`Blob::window`].
    pub fn bytes(&self) -> SharedBytes {
        self.bytes.clone()
    }

    /// Tells the kernel the mapped pages are not needed now (`MADV_DONTNEED`). Later reads,
    /// through this map or any [`Blob`] window into it, fault the pages back in from the file.
    /// Errors are ignored (it is only advice).
    #[allow(unsafe_code)]
    pub fn release_pages(&self) {
        #[cfg(unix)]
        if let Some(m) = &self.map {
            // SAFETY: the mapping is read-only and never written through, so dropping its pages
            // loses nothing: they are read from the file again on the next access. The input
            // must not be modified while mailmig runs (documented), as for the map itself.
            let _ = unsafe { m.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
        }
    }
}

/// How many bytes of this process's memory maps of files whose paths end in `suffix` are
/// resident, from `/proc/self/smaps`: `None` when no such map exists or smaps cannot be read
/// (as on systems other than Linux). For tests and diagnostics of what
/// [`FileMap::release_pages`] keeps mapped.
pub fn mapped_resident_bytes(suffix: &str) -> Option<u64> {
    let smaps = std::fs::read_to_string("/proc/self/smaps").ok()?;
    let mut total = 0u64;
    let mut inside = false;
    let mut found = false;
    for line in smaps.lines() {
        if line
            .split_whitespace()
            .next()
            .is_some_and(|t| !t.ends_with(':'))
        {
            // A mapping's header line (address range, permissions, offset, device, inode,
            // path), not one of its `Key: value` lines.
            inside = line.ends_with(suffix);
            found |= inside;
        } else if inside && let Some(v) = line.strip_prefix("Rss:") {
            let kib: u64 = v.trim().trim_end_matches("kB").trim().parse().ok()?;
            total = total.saturating_add(kib.saturating_mul(1024));
        }
    }
    found.then_some(total)
}

/// Maps a file read-only into memory as [`SharedBytes`], ready for [`Blob::window`], for a
/// reader that never releases its pages (see [`FileMap`]).
pub fn map_file(path: &std::path::Path) -> std::io::Result<SharedBytes> {
    FileMap::open(path).map(|m| m.bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reading a mapped file makes its pages resident; releasing unmaps them, and the bytes
    /// read afterwards are the same. `mapped_resident_bytes` finds only maps that exist.
    #[cfg(target_os = "linux")]
    #[test]
    fn released_pages_leave_the_map_and_read_back_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pages.bin");
        let data: Vec<u8> = (0..3 << 20).map(|i: u32| (i % 251) as u8).collect();
        std::fs::write(&path, &data).unwrap();
        let map = FileMap::open(&path).unwrap();
        let bytes = map.bytes();
        let sum = |b: &[u8]| b.iter().map(|&x| u64::from(x)).sum::<u64>();
        let want = sum(&data);
        assert_eq!(sum((*bytes).as_ref()), want);
        let resident = mapped_resident_bytes("pages.bin").unwrap();
        assert!(resident >= 3 << 20, "{resident}");
        map.release_pages();
        assert_eq!(mapped_resident_bytes("pages.bin"), Some(0));
        assert_eq!(sum((*bytes).as_ref()), want);
        assert_eq!(mapped_resident_bytes("no-such-map.bin"), None);
    }

    #[test]
    fn a_release_is_due_every_release_every_bytes() {
        let mut at = 0;
        assert!(!release_due(RELEASE_EVERY - 1, &mut at));
        assert_eq!(at, 0);
        assert!(release_due(RELEASE_EVERY, &mut at));
        assert_eq!(at, RELEASE_EVERY);
        assert!(!release_due(2 * RELEASE_EVERY - 1, &mut at));
        assert!(release_due(3 * RELEASE_EVERY, &mut at));
        assert_eq!(at, 3 * RELEASE_EVERY);
        // A position behind the last release is not due.
        assert!(!release_due(0, &mut at));
    }

    #[test]
    fn a_copied_slice_reads_like_an_owned_vec() {
        for bytes in [&b""[..], b"x", b"hello world"] {
            let copied = Blob::from(bytes);
            let owned = Blob::from_vec(bytes.to_vec());
            assert_eq!(copied.as_bytes(), bytes);
            assert_eq!(copied.len(), bytes.len());
            assert_eq!(copied, owned);
            assert!(!copied.is_streamed());
            let mut pieces = Vec::new();
            copied
                .pieces(&mut |p| {
                    pieces.extend_from_slice(p);
                    Ok(())
                })
                .unwrap();
            assert_eq!(pieces, bytes);
            assert_eq!(copied.clone().as_bytes(), bytes);
        }
    }

    #[test]
    fn window_checks_bounds_and_borrows() {
        let owner: SharedBytes = Arc::new(b"hello world".to_vec());
        let w = Blob::window(owner.clone(), 6..11);
        assert_eq!(w.as_ref().map(Blob::as_bytes), Some(&b"world"[..]));
        assert!(Blob::window(owner.clone(), 6..12).is_none());
        #[allow(clippy::reversed_empty_ranges)]
        let reversed = Blob::window(owner, 7..6);
        assert!(reversed.is_none());
    }

    #[test]
    fn map_file_maps_and_handles_empty_files() {
        let dir = tempfile_dir();
        let full = dir.join("full");
        let empty = dir.join("empty");
        std::fs::write(&full, b"mapped bytes").unwrap();
        std::fs::write(&empty, b"").unwrap();
        let m = map_file(&full).unwrap();
        assert_eq!(Blob::window(m, 7..12).unwrap().as_bytes(), b"bytes");
        assert_eq!((*map_file(&empty).unwrap()).as_ref().len(), 0);
        assert!(map_file(&dir.join("missing")).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("mailmig-ir-map-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Counts up from 0 in pieces of `step` bytes; fails after `fail_after` pieces if set.
    struct Counter {
        len: usize,
        step: usize,
        fail_after: Option<usize>,
        calls: std::sync::atomic::AtomicUsize,
    }

    impl PieceSource for Counter {
        fn len(&self) -> usize {
            self.len
        }
        fn pieces(
            &self,
            piece: &mut dyn FnMut(&[u8]) -> std::io::Result<()>,
        ) -> std::io::Result<()> {
            self.calls
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let all: Vec<u8> = (0..self.len).map(|i| i as u8).collect();
            for (n, p) in all.chunks(self.step).enumerate() {
                if self.fail_after == Some(n) {
                    return Err(std::io::Error::other("input changed"));
                }
                piece(p)?;
            }
            Ok(())
        }
    }

    fn counter(len: usize, step: usize, fail_after: Option<usize>) -> Arc<Counter> {
        Arc::new(Counter {
            len,
            step,
            fail_after,
            calls: Default::default(),
        })
    }

    #[test]
    fn streamed_blobs_are_read_in_pieces_until_collected() {
        let src = counter(1000, 64, None);
        let b = Blob::streamed(src.clone());
        assert_eq!(b.len(), 1000);
        assert!(b.is_streamed());
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        b.pieces(&mut |p| {
            seen.extend_from_slice(p);
            sizes.push(p.len());
            Ok(())
        })
        .unwrap();
        assert_eq!(sizes.len(), 16, "one call per piece of the source");
        assert!(b.is_streamed(), "reading in pieces keeps nothing");
        let whole: Vec<u8> = (0..1000).map(|i| i as u8).collect();
        assert_eq!(seen, whole);
        // Collected once, shared by clones, then read from memory.
        let c = b.clone();
        assert_eq!(c.as_bytes(), &whole[..]);
        assert!(!b.is_streamed());
        assert_eq!(b, Blob::from_vec(whole));
        b.pieces(&mut |p| {
            assert_eq!(p.len(), 1000);
            Ok(())
        })
        .unwrap();
        assert_eq!(src.calls.load(std::sync::atomic::Ordering::Relaxed), 2);
        assert_eq!(
            format!("{:?}", Blob::streamed(counter(5, 1, None))),
            "Blob(5 bytes, streamed)"
        );
    }

    #[test]
    fn a_failing_source_stops_the_pieces_and_collects_what_it_gave() {
        let b = Blob::streamed(counter(100, 10, Some(3)));
        let mut n = 0;
        let err = b.pieces(&mut |p| {
            n += p.len();
            Ok(())
        });
        assert!(err.is_err());
        assert_eq!(n, 30);
        assert_eq!(b.as_bytes().len(), 30);
        // An error from the receiver stops the source too.
        let b = Blob::streamed(counter(100, 10, None));
        let mut calls = 0;
        let r = b.pieces(&mut |_| {
            calls += 1;
            Err(std::io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert_eq!(calls, 1);
    }

    /// Serialising a streamed blob encodes its pieces as they come (whatever their sizes and
    /// however they split the 3-byte groups), gives the text of the whole bytes, and never
    /// collects the blob.
    #[test]
    fn streamed_blobs_serialise_in_pieces_to_the_whole_text() {
        let engine = &base64::engine::general_purpose::STANDARD;
        for len in [0usize, 1, 2, 3, 4, 5, 3071, 3072, 3073, 10_000] {
            for step in [1usize, 2, 3, 4, 7, 1000, 3072, 4096, 20_000] {
                let b = Blob::streamed(counter(len, step, None));
                let whole: Vec<u8> = (0..len).map(|i| i as u8).collect();
                let mut out = Vec::new();
                serde_json::to_writer(&mut out, &b).unwrap();
                assert_eq!(
                    out,
                    format!("\"{}\"", engine.encode(&whole)).into_bytes(),
                    "len {len}, step {step}"
                );
                assert!(b.is_streamed(), "len {len}, step {step}: collected whole");
            }
        }
    }

    #[test]
    fn a_failing_source_serialises_the_bytes_it_gave() {
        let engine = &base64::engine::general_purpose::STANDARD;
        // Ten pieces of 10 bytes; the source fails before the fourth, after 30 bytes.
        let b = Blob::streamed(counter(100, 10, Some(3)));
        let json = serde_json::to_string(&b).unwrap();
        let given: Vec<u8> = (0..30u8).collect();
        assert_eq!(json, format!("\"{}\"", engine.encode(&given)));
        assert_eq!(json.trim_matches('"'), engine.encode(b.as_bytes()));
    }

    /// A writer that fails once it has taken `room` bytes.
    struct Full {
        room: usize,
    }

    impl std::io::Write for Full {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if buf.len() > self.room {
                return Err(std::io::Error::other("disk full"));
            }
            self.room -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_failing_writer_stops_serialisation_with_its_error() {
        let b = Blob::streamed(counter(100_000, 4096, None));
        let err = serde_json::to_writer(&mut Full { room: 5000 }, &b).unwrap_err();
        assert!(err.to_string().contains("disk full"), "{err}");
        assert!(b.is_streamed());
    }

    #[test]
    fn serde_is_base64() {
        let b = Blob::from_vec(vec![0, 1, 2, 255]);
        let json = serde_json::to_string(&b).unwrap_or_default();
        assert_eq!(json, "\"AAEC/w==\"");
        let back: Blob = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, b);
        assert!(serde_json::from_str::<Blob>("\"***\"").is_err());
    }
}
