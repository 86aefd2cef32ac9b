//! Read-only memory maps of input files (the one place with `unsafe`).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use mailmig_ir::blob::SharedBytes;

/// Maps `path` read-only. Empty files give an empty buffer (mapping zero bytes is not portable).
#[allow(unsafe_code)]
pub(crate) fn map_file(path: &Path) -> std::io::Result<SharedBytes> {
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(Arc::new(Vec::<u8>::new()));
    }
    // SAFETY: the file is opened read-only and the map is never written through. mailmig
    // documents that modifying an input while it is being read is unsupported; a concurrent
    // truncation could otherwise fault the process (the usual caveat of memory maps).
    let map = unsafe { memmap2::Mmap::map(&file)? };
    Ok(Arc::new(map))
}

/// Reads at most `max` bytes from the start of `path` into memory (small files, heads).
pub(crate) fn read_head(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}
