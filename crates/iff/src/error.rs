//! The crate's error type (`formats/exchange-iff.md` §11, "Reader behaviour and failure modes").

/// Everything that can go wrong while reading or writing a migration-file set.
///
/// Every variant names the file and the byte offset (and, for primary-file rows, the line) and
/// carries the raw value that failed, so that a report line can be acted on directly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IffError {
    /// Reading a file failed.
    #[error("{file}: {source}")]
    Io {
        /// The file.
        file: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// The packing list has no code-page line (§2: there is no default code page).
    #[error("{file}: no code-page line in the packing list")]
    NoCodePage {
        /// The packing list.
        file: String,
    },
    /// The code-page line is not a number that fits a code page.
    #[error("{file}: invalid code page {raw:?} at offset {offset}")]
    BadCodePage {
        /// The packing list.
        file: String,
        /// Byte offset of the line.
        offset: u64,
        /// The line as written.
        raw: String,
    },
    /// A quoted value is not closed before the end of the line (§3.2 step 3; KB Q154099).
    #[error("{file}: unterminated quote in line {line} at offset {offset} (column byte {column})")]
    UnterminatedQuote {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line start.
        offset: u64,
        /// Byte position of the opening quote within the line.
        column: usize,
    },
    /// Characters after a closing quote (§3.2 step 3, Event 27 "characters found after end
    /// doublequote"), strict mode.
    #[error(
        "{file}: characters after closing quote in line {line} at offset {offset} (column byte {column})"
    )]
    StrayQuote {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line start.
        offset: u64,
        /// Byte position of the quote within the line.
        column: usize,
    },
    /// A data line has a different number of fields than its header line (strict mode).
    #[error("{file}: line {line} at offset {offset} has {found} fields, header has {expected}")]
    ColumnCount {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line start.
        offset: u64,
        /// Fields in the header.
        expected: usize,
        /// Fields in the line.
        found: usize,
    },
    /// A line is longer than `Limits::max_line_len`.
    #[error("{file}: line {line} at offset {offset} longer than {limit} bytes")]
    LineTooLong {
        /// The file.
        file: String,
        /// 1-based line number.
        line: u64,
        /// Byte offset of the line start.
        offset: u64,
        /// The limit.
        limit: u64,
    },
    /// A `#FILE.SEC(offset)` pointer names a secondary file that does not exist (§6).
    #[error("{file}: secondary file {target:?} named by pointer {pointer:?} not found")]
    MissingFile {
        /// The primary file holding the pointer.
        file: String,
        /// The secondary file name from the pointer.
        target: String,
        /// The pointer as written.
        pointer: String,
    },
    /// A pointer offset lies at or past the end of its secondary file.
    #[error("{file}: pointer offset {offset} past end of file ({len} bytes)")]
    OffsetPastEnd {
        /// The secondary file.
        file: String,
        /// The offset.
        offset: u64,
        /// File length.
        len: u64,
    },
    /// The bytes at a pointer offset are not a secondary section line (§7.1).
    #[error("{file}: no section header at offset {offset}: {raw:?}")]
    NotSectionHeader {
        /// The secondary file.
        file: String,
        /// The offset.
        offset: u64,
        /// The first bytes of the line found there (lossy text, at most 80 characters).
        raw: String,
    },
    /// A section's `Length` runs past the end of the secondary file (§7.2 step 3).
    #[error(
        "{file}: section at offset {offset} declares Length {length}, only {available} bytes remain"
    )]
    LengthPastEnd {
        /// The secondary file.
        file: String,
        /// Offset of the section line.
        offset: u64,
        /// The declared length.
        length: u64,
        /// Bytes remaining after the section line.
        available: u64,
    },
    /// A section chain is longer than `Limits::max_items` (§7.2 step 4).
    #[error("{file}: section chain starting at offset {offset} exceeds {limit} sections")]
    TooManySections {
        /// The secondary file.
        file: String,
        /// Offset of the first section.
        offset: u64,
        /// The limit.
        limit: u64,
    },
    /// The mailbox budget ran out or the run was cancelled.
    #[error("{0}")]
    Interrupted(#[from] mailmig_ir::Interrupted),
}

impl IffError {
    /// The file the error concerns, if any.
    pub fn file(&self) -> Option<&str> {
        match self {
            Self::Io { file, .. }
            | Self::NoCodePage { file }
            | Self::BadCodePage { file, .. }
            | Self::UnterminatedQuote { file, .. }
            | Self::StrayQuote { file, .. }
            | Self::ColumnCount { file, .. }
            | Self::LineTooLong { file, .. }
            | Self::MissingFile { file, .. }
            | Self::OffsetPastEnd { file, .. }
            | Self::NotSectionHeader { file, .. }
            | Self::LengthPastEnd { file, .. }
            | Self::TooManySections { file, .. } => Some(file),
            Self::Interrupted(_) => None,
        }
    }

    /// The byte offset the error concerns, if any.
    pub fn offset(&self) -> Option<u64> {
        match self {
            Self::BadCodePage { offset, .. }
            | Self::UnterminatedQuote { offset, .. }
            | Self::StrayQuote { offset, .. }
            | Self::ColumnCount { offset, .. }
            | Self::LineTooLong { offset, .. }
            | Self::OffsetPastEnd { offset, .. }
            | Self::NotSectionHeader { offset, .. }
            | Self::LengthPastEnd { offset, .. }
            | Self::TooManySections { offset, .. } => Some(*offset),
            _ => None,
        }
    }
}
