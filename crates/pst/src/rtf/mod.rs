//! Message bodies kept as RTF (format notes `pst.md` §10.6): compressed RTF
//! ([MS-OXRTFCP], [`lzfu`]) and HTML or plain text encapsulated in RTF ([MS-OXRTFEX], [`html`]).
//!
//! The usual path for a PST message whose only body is `PidTagRtfCompressed` (0x1009):
//!
//! ```
//! use mailmig_ir::Limits;
//! use mailmig_pst::rtf::{decompress_rtf_lenient, html_from_rtf, text_from_rtf};
//!
//! # let property_value: &[u8] = &[
//! #     0x2d, 0, 0, 0, 0x2b, 0, 0, 0, 0x4c, 0x5a, 0x46, 0x75, 0xf1, 0xc5, 0xc7, 0xa7, 0x03, 0x00,
//! #     0x0a, 0x00, 0x72, 0x63, 0x70, 0x67, 0x31, 0x32, 0x35, 0x42, 0x32, 0x0a, 0xf3, 0x20, 0x68,
//! #     0x65, 0x6c, 0x09, 0x00, 0x20, 0x62, 0x77, 0x05, 0xb0, 0x6c, 0x64, 0x7d, 0x0a, 0x80, 0x0f,
//! #     0xa0,
//! # ];
//! let body = decompress_rtf_lenient(property_value, &Limits::default())?;
//! if !body.crc_ok || body.truncated {
//!     // record a warning on the message, keep the data
//! }
//! let html = html_from_rtf(&body.rtf); // Some(..) only for \fromhtml1 RTF
//! let text = text_from_rtf(&body.rtf); // Some(..) only for \fromtext RTF
//! assert!(html.is_none() && text.is_none());
//! # Ok::<(), mailmig_pst::rtf::RtfError>(())
//! ```

pub mod html;
pub mod lzfu;

pub use html::{Encapsulation, encapsulation, html_from_rtf, text_from_rtf};
pub use lzfu::{
    CompressionKind, Decompressed, compress_rtf, decompress_rtf, decompress_rtf_lenient,
};

/// Errors of compressed-RTF decoding ([MS-OXRTFCP] 2.1.3.1.1). Offsets are byte offsets into the
/// `PidTagRtfCompressed` value.
///
/// Only the header errors stop [`decompress_rtf_lenient`]; [`RtfError::CrcMismatch`] and
/// [`RtfError::Truncated`] come from the strict [`decompress_rtf`] and are warnings to a
/// salvaging caller, who gets the data from the lenient function instead.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RtfError {
    /// Fewer than the 16 header bytes.
    #[error("compressed RTF is {len} bytes, shorter than its 16-byte header (offset 0)")]
    TooShort {
        /// Bytes available.
        len: usize,
    },
    /// `COMPTYPE` is neither "LZFu" nor "MELA".
    #[error("invalid compressed RTF COMPTYPE 0x{value:08X} at offset {offset}")]
    UnknownCompType {
        /// The raw DWORD.
        value: u32,
        /// Its offset (8).
        offset: u64,
    },
    /// `COMPSIZE` smaller than the 12 header bytes it must count.
    #[error("invalid compressed RTF COMPSIZE {value} (below 12) at offset {offset}")]
    CompSizeTooSmall {
        /// The raw DWORD.
        value: u32,
        /// Its offset (0).
        offset: u64,
    },
    /// `RAWSIZE` above `Limits::max_allocation`; nothing was allocated.
    #[error(
        "compressed RTF RAWSIZE {value} at offset {offset} exceeds the allocation limit {limit}"
    )]
    RawSizeOverLimit {
        /// The raw DWORD.
        value: u32,
        /// The limit in force.
        limit: u64,
        /// Its offset (4).
        offset: u64,
    },
    /// The stored CRC differs from the CRC of the contents (strict mode only).
    #[error(
        "compressed RTF CRC mismatch at offset {offset}: stored 0x{stored:08X}, computed 0x{computed:08X}"
    )]
    CrcMismatch {
        /// `CRC` as stored.
        stored: u32,
        /// CRC of the contents.
        computed: u32,
        /// Offset of the `CRC` field (12).
        offset: u64,
    },
    /// The contents end before `COMPSIZE`, the end-of-stream reference or `RAWSIZE` bytes
    /// (strict mode only).
    #[error(
        "compressed RTF truncated at offset {offset}: {produced} bytes decoded, RAWSIZE {raw_size}"
    )]
    Truncated {
        /// Where the input ended (its length).
        offset: u64,
        /// Bytes decoded before that.
        produced: u64,
        /// `RAWSIZE` as declared.
        raw_size: u32,
    },
}
