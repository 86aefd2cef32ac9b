//! [`Blob`]: attachment and binary property bytes, owned or borrowed from a shared buffer
//! (usually the memory map of the input) without copying.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use base64::Engine as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Anything that can back a [`Blob`]: a `Vec<u8>`, a `memmap2::Mmap`, a `Box<[u8]>`…
pub type SharedBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// An immutable byte string that is either owned or a window into a shared buffer.
///
/// Cloning is cheap (a reference count). Format readers hand out windows into the mapped input
/// with [`Blob::window`], so attachment data is not copied until a writer needs it.
/// Serialises as standard base64.
#[derive(Clone)]
pub struct Blob {
    owner: SharedBytes,
    start: usize,
    len: usize,
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
            owner: Arc::new(bytes),
            start: 0,
            len,
        }
    }

    /// A window `range` into `owner`, or `None` when the range is out of bounds.
    pub fn window(owner: SharedBytes, range: Range<usize>) -> Option<Self> {
        let total = (*owner).as_ref().len();
        if range.start > range.end || range.end > total {
            return None;
        }
        Some(Self {
            owner,
            start: range.start,
            len: range.end - range.start,
        })
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        (*self.owner)
            .as_ref()
            .get(self.start..self.start + self.len)
            .unwrap_or(&[])
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.len == 0
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
        Self::from_vec(v.to_vec())
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
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&base64::engine::general_purpose::STANDARD.encode(self.as_bytes()))
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

/// Maps a file read-only into memory as [`SharedBytes`], ready for [`Blob::window`]. Empty
/// files give an empty buffer (mapping zero bytes is not portable). This is the one place the
/// format readers' memory maps are made.
#[allow(unsafe_code)]
pub fn map_file(path: &std::path::Path) -> std::io::Result<SharedBytes> {
    let file = std::fs::File::open(path)?;
    if file.metadata()?.len() == 0 {
        return Ok(Arc::new(Vec::<u8>::new()));
    }
    // SAFETY: the file is opened read-only and the map is only ever read through `&[u8]`.
    // mailmig documents that modifying an input while it is being converted is unsupported:
    // a concurrent truncation could otherwise fault the process (the caveat of every memory
    // map). The mapping lives as long as the `Arc` that owns it.
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Arc::new(map))
}

#[cfg(test)]
mod tests {
    use super::*;

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
