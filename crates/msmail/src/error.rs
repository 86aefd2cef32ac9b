//! The crate's error type.

/// Errors of the Microsoft Mail readers and writers. Each variant names the file and the byte
/// offset where decoding failed, with the raw value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MsmailError {
    /// A line was longer than `Limits::max_line_len`.
    #[error("{file}: line of more than {limit} bytes at offset {offset}")]
    LineTooLong {
        /// The file.
        file: String,
        /// Offset of the line start.
        offset: u64,
        /// The limit that was exceeded.
        limit: u64,
    },
    /// The header of an MMFF message has no `TEXT:`/`XTEXT:` line (§10.2: exactly one is
    /// required).
    #[error("{file}: MMFF message starting at offset {offset} has no TEXT: or XTEXT: line")]
    MissingBody {
        /// The file.
        file: String,
        /// Offset of the message start.
        offset: u64,
    },
    /// A numeric field did not hold a decimal number.
    #[error("{file}: invalid {field} value {raw:?} at offset {offset}")]
    BadNumber {
        /// The file.
        file: String,
        /// The token (`TEXT`, `ATTACHMENTS`, …).
        field: &'static str,
        /// Offset of the line.
        offset: u64,
        /// The raw value.
        raw: String,
    },
    /// More items than `Limits` allow (messages, recipients, attachments, header lines).
    #[error("{file}: more than {limit} {what} at offset {offset}")]
    TooMany {
        /// The file.
        file: String,
        /// What was counted.
        what: &'static str,
        /// Offset where the limit was hit.
        offset: u64,
        /// The limit.
        limit: u64,
    },
    /// The file does not start like an MMFF message.
    #[error("{file}: not an MMFF message: first line {raw:?} at offset {offset}")]
    NotMmff {
        /// The file.
        file: String,
        /// Offset.
        offset: u64,
        /// The first bytes, lossily decoded.
        raw: String,
    },
}

impl MsmailError {
    /// The byte offset the error refers to.
    pub fn offset(&self) -> u64 {
        match self {
            Self::LineTooLong { offset, .. }
            | Self::MissingBody { offset, .. }
            | Self::BadNumber { offset, .. }
            | Self::TooMany { offset, .. }
            | Self::NotMmff { offset, .. } => *offset,
        }
    }

    /// The file the error refers to.
    pub fn file(&self) -> &str {
        match self {
            Self::LineTooLong { file, .. }
            | Self::MissingBody { file, .. }
            | Self::BadNumber { file, .. }
            | Self::TooMany { file, .. }
            | Self::NotMmff { file, .. } => file,
        }
    }
}

impl From<MsmailError> for mailmig_ir::SourceError {
    fn from(e: MsmailError) -> Self {
        mailmig_ir::SourceError::format(e.file().to_string(), e.offset(), e.to_string())
    }
}
