//! FFAPI "Microsoft Mail File Format" (MMFF) text files (`msmail.md` §10, KB Q118785,
//! KB Q85055, KB Q94410, KB Q147034).
//!
//! * [`reader`] — reads basic and extended MMFF (one or more messages per file), accepting CR,
//!   LF and CR LF terminators;
//! * [`writer`] — writes basic (default) or extended MMFF with a chosen terminator and code
//!   page, and documents the round-trip normalisation ([`writer::normalise`]);
//! * [`address`] — the gateway address syntaxes;
//! * [`MmffDriver`] / [`MmffSink`] — the `mmff` input and output formats.
//!
//! ## Files and mailboxes
//!
//! MMFF has no notion of a mailbox, so mailmig maps files to mailboxes by place
//! ([`MmffDriver`]): a single input file is one mailbox named after the file stem; for an input
//! directory, the MMFF files directly inside it form one mailbox named after the directory and
//! each immediate subdirectory holding MMFF files forms one mailbox named after that
//! subdirectory (deeper levels are not searched). Files are taken in natural name order
//! (`MMFF2.MSG` before `MMFF10.MSG`). [`MmffSink`] writes the inverse: one directory per
//! mailbox holding `MMFF1.MSG`, `MMFF2.MSG`, … (one message per file, as the SDK's numbered
//! spool files, KB Q117581), so reading a converted output tree gives back the same mailboxes.
//! Every message is put in one folder, `Inbox`. Paths named on the command line are followed
//! if they are symbolic links; links found inside an input directory are not.

pub mod address;
mod driver;
pub mod reader;
mod sink;
pub mod writer;

pub use driver::{MmffDriver, MmffSource, looks_like_mmff};
pub use sink::MmffSink;

/// The id of the single folder MMFF messages are placed in.
pub const FOLDER_ID: &str = "inbox";

/// The line terminator of an MMFF file: FFAPI's `-F0` (CR, the default), `-F1` (LF) and `-F2`
/// (CR LF) options (KB Q85055).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum LineEnd {
    /// Carriage return (`-F0`, the FFAPI default).
    #[default]
    Cr,
    /// Line feed (`-F1`).
    Lf,
    /// Carriage return + line feed (`-F2`).
    CrLf,
}

impl LineEnd {
    /// The terminator bytes.
    pub fn bytes(self) -> &'static [u8] {
        match self {
            Self::Cr => b"\r",
            Self::Lf => b"\n",
            Self::CrLf => b"\r\n",
        }
    }

    /// Parses `cr`, `lf` or `crlf` (the `--line-end` values).
    pub fn parse(s: &str) -> Option<Self> {
        match s.to_ascii_lowercase().as_str() {
            "cr" => Some(Self::Cr),
            "lf" => Some(Self::Lf),
            "crlf" => Some(Self::CrLf),
            _ => None,
        }
    }

    /// `cr`, `lf` or `crlf`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Cr => "cr",
            Self::Lf => "lf",
            Self::CrLf => "crlf",
        }
    }
}
