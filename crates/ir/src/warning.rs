//! [`Warning`]s met while decoding, and [`SkippedItem`]s: what could not be converted and why.

use serde::{Deserialize, Serialize};

/// Something unusual met while decoding that did not stop the item: a bad checksum, an invalid
/// date kept raw, a truncated structure that was salvaged.
///
/// Warnings travel on the [`Message`](crate::Message) they concern, or on the mailbox section,
/// and end up in `report.json`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Warning {
    /// A short stable slug, `<format>.<what>` (e.g. `pst.block-crc`, `ccmail.invalid-date`).
    pub code: String,
    /// A sentence for people.
    pub message: String,
    /// The file it concerns, as given on the command line or relative to the input directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Byte offset in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl Warning {
    /// A warning with a code and message.
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            file: None,
            offset: None,
        }
    }

    /// Sets the byte offset.
    pub fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the file.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        match (&self.file, self.offset) {
            (Some(file), Some(off)) => write!(f, " ({file} at offset {off})"),
            (Some(file), None) => write!(f, " ({file})"),
            (None, Some(off)) => write!(f, " (at offset {off})"),
            (None, None) => Ok(()),
        }
    }
}

/// An item (message, attachment, folder) that could not be converted, with the reason and where
/// it sits in the source. Sources yield these in place of a message; the engine counts them and
/// lists them in `report.json`, and the run's exit code becomes 1.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkippedItem {
    /// What was skipped: `message`, `folder`, `attachment`, `mailbox`, …
    pub kind: String,
    /// Why.
    pub reason: String,
    /// The source identifier of the item if known (NID, message number, line number…).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The file it sits in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// Byte offset in `file`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
}

impl SkippedItem {
    /// A skipped item of `kind` for `reason`.
    pub fn new(kind: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            kind: kind.into(),
            reason: reason.into(),
            ..Self::default()
        }
    }

    /// Sets the byte offset.
    pub fn at(mut self, offset: u64) -> Self {
        self.offset = Some(offset);
        self
    }

    /// Sets the file.
    pub fn in_file(mut self, file: impl Into<String>) -> Self {
        self.file = Some(file.into());
        self
    }

    /// Sets the source identifier.
    pub fn with_id(mut self, id: impl Into<String>) -> Self {
        self.source_id = Some(id.into());
        self
    }
}

impl std::fmt::Display for SkippedItem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "skipped {}", self.kind)?;
        if let Some(id) = &self.source_id {
            write!(f, " {id}")?;
        }
        write!(f, ": {}", self.reason)?;
        match (&self.file, self.offset) {
            (Some(file), Some(off)) => write!(f, " ({file} at offset {off})"),
            (Some(file), None) => write!(f, " ({file})"),
            (None, Some(off)) => write!(f, " (at offset {off})"),
            (None, None) => Ok(()),
        }
    }
}
