//! Input files: read-only memory maps (through `mailmig_ir::blob::map_file`) and heads.

use std::fs::File;
use std::path::Path;

use mailmig_ir::blob::SharedBytes;

/// Maps `path` read-only ([`mailmig_ir::blob::map_file`]).
pub(crate) fn map_file(path: &Path) -> std::io::Result<SharedBytes> {
    mailmig_ir::blob::map_file(path)
}

/// Reads at most `max` bytes from the start of `path` into memory (small files, heads).
pub(crate) fn read_head(path: &Path, max: u64) -> std::io::Result<Vec<u8>> {
    use std::io::Read;
    let mut out = Vec::new();
    File::open(path)?.take(max).read_to_end(&mut out)?;
    Ok(out)
}
