//! # mailmig-ccmail — Lotus cc:Mail EXPORT streams, directory exports and post-office detection
//!
//! Implements `shared/formats/ccmail.md` (the "notes"):
//!
//! * [`ExportReader`] — the tolerant, byte-oriented reader of the text that Lotus `EXPORT`
//!   writes (§4: `Message:`, size lines, header keys, `Contents:`, text/file/fax/embedded
//!   items, `RRT:`), with size-validated framing and re-synchronisation (§4.4), the
//!   address-splitting rules (§4.6), the item rules (§4.7), dates (§7) and the failure-mode
//!   table (§8);
//! * [`parse_directory`] — the tolerant directory-export reader (§5) with location codes;
//! * [`CcmailDriver`] — the [`mailmig_ir::Driver`] for a set of per-user export streams plus a
//!   directory export (every `L`/`R` user gets a mailbox, §9, KB Q194218);
//! * [`CcmailPostOfficeDriver`] — recognises binary post-office directories (DB6 and others,
//!   §2.2) and explains how to export them; it never decodes DB6/DB8 files (§0);
//! * [`CcmailSink`] — the writer (§11): one export stream per mailbox with exact `/ITEMSIZE`
//!   counts and, in [`Sink::finish`](mailmig_ir::Sink::finish), a directory export.
//!
//! ## Which stream belongs to which user
//!
//! The notes give no naming rule for per-user EXPORT output (the Migration Wizard used
//! temporary files, §3.1). mailmig's rule **[I]**, in order:
//!
//! 1. a directory entry's `Export-File:` field (written by [`CcmailSink`]; a mailmig
//!    convention) names the stream, relative to the directory export's folder;
//! 2. otherwise a stream belongs to the mailbox user whose name matches the stream's file stem,
//!    or the name of the sub-folder it sits in, after [`name_key`] normalisation (letters and
//!    digits only, case-folded; `Last, First` also matches `First Last`): `LOVELACE_ADA.CCM`,
//!    `Lovelace, Ada/export.txt` and `ada-lovelace.exp` all belong to `Lovelace, Ada`;
//! 3. a stream that matches nobody becomes a mailbox of its own, keyed by that stem, with a
//!    warning (notes §9).
//!
//! Several streams may belong to one user; their messages follow one another in path order.

pub mod address;
pub mod dates;
pub mod directory;
pub mod driver;
mod lex;
pub mod postoffice;
pub mod stream;
#[cfg(target_arch = "x86_64")]
mod vbmi2;
pub mod writer;

pub use address::{parse_address, split_address_line};
pub use directory::{DirectoryExport, parse_directory, write_directory};
pub use driver::{CcmailDriver, CcmailSource, ReaderOptions, name_key};
pub use postoffice::{CcmailPostOfficeDriver, PostOfficeScan, scan_post_office};
pub use stream::{
    ExportReader, FramingStats, RELEASE_EVERY, ReaderConfig, scan_date_order,
    scan_date_order_releasing, scan_folder_names,
};
pub use writer::{CcmailSink, MAX_TEXT_ITEM, TextSplit};

use std::path::{Path, PathBuf};

use mailmig_ir::blob::FileMap;

/// Errors of this crate. The readers are tolerant and report damage as warnings; these are
/// the failures that stop an operation altogether.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CcmailError {
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The input does not have the expected shape.
    #[error("{file}: {message} at offset {offset}")]
    Format {
        /// The file.
        file: String,
        /// Byte offset.
        offset: u64,
        /// What is wrong, naming the field and its raw value.
        message: String,
    },
}

impl From<CcmailError> for mailmig_ir::SourceError {
    fn from(e: CcmailError) -> Self {
        match e {
            CcmailError::Io { path, source } => Self::io(path, source),
            CcmailError::Format {
                file,
                offset,
                message,
            } => Self::format(file, offset, message),
        }
    }
}

/// One input file, memory-mapped ([`FileMap`]; an empty buffer for empty files, which cannot
/// be mapped on every platform). An [`ExportReader`] given the map ([`ExportReader::over_file`])
/// releases its pages as it reads, so a stream of many gigabytes is never resident whole.
///
/// Concurrent modification of an input while mailmig reads it is unsupported (the map would
/// change under the reader).
pub fn map_file(path: &Path) -> Result<FileMap, CcmailError> {
    FileMap::open(path).map_err(|source| CcmailError::Io {
        path: path.to_path_buf(),
        source,
    })
}
