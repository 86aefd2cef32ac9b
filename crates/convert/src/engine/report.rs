//! `report.json`: what the run found, wrote and skipped, per mailbox and in total
//! (ARCHITECTURE.md, "Guarantees of the run engine", last paragraph).
//!
//! The report is deterministic: mailboxes are listed in source order, skipped items and warnings
//! in the order the source produced them, and everything that depends on *when* or *how* the
//! run happened (durations, how many mailboxes came from the journal) sits in objects named
//! `timings`, so two runs over the same input differ only there.

use std::fmt::Write as _;

use mailmig_ir::{SkippedItem, Warning, WrittenStats};
use serde::{Deserialize, Serialize};

/// Version of the `report.json` schema; bumped on incompatible changes.
pub const REPORT_SCHEMA_VERSION: u32 = 1;

/// Most warnings kept per mailbox in the report; further ones are only counted
/// (`warnings_omitted`), so a source that warns on every record cannot exhaust memory.
pub const MAX_WARNINGS_PER_MAILBOX: usize = 10_000;

/// Outcome of one mailbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum MailboxStatus {
    /// Every message the source produced was written.
    Converted,
    /// The mailbox was written, but some items were skipped (listed in `skipped`).
    ConvertedWithSkips,
    /// The mailbox could not be written (source or sink error, panic); nothing was committed.
    Failed,
    /// The mailbox ran past its time budget (KB Q245568); its partial output was discarded.
    TimedOut,
}

impl MailboxStatus {
    /// True for the statuses whose section was committed to the output tree.
    pub fn is_committed(self) -> bool {
        matches!(self, Self::Converted | Self::ConvertedWithSkips)
    }

    /// The name used in `report.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Converted => "converted",
            Self::ConvertedWithSkips => "converted_with_skips",
            Self::Failed => "failed",
            Self::TimedOut => "timed_out",
        }
    }
}

/// What the source held for one mailbox, as far as it was read.
///
/// `messages` counts decoded messages plus skipped items of kind `message` (a message the
/// source found but could not decode). Attachment figures come from
/// [`Message::tally`](mailmig_ir::Message::tally) over the decoded messages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FoundCounts {
    /// Folders in the section's folder tree.
    pub folders: u64,
    /// Messages, including skipped ones.
    pub messages: u64,
    /// Attachments at every nesting level.
    pub attachments: u64,
    /// Embedded messages at every nesting level.
    pub embedded_messages: u64,
    /// Bytes of data attachments at every nesting level.
    pub attachment_bytes: u64,
}

impl FoundCounts {
    fn add(&mut self, o: &Self) {
        self.folders = self.folders.saturating_add(o.folders);
        self.messages = self.messages.saturating_add(o.messages);
        self.attachments = self.attachments.saturating_add(o.attachments);
        self.embedded_messages = self.embedded_messages.saturating_add(o.embedded_messages);
        self.attachment_bytes = self.attachment_bytes.saturating_add(o.attachment_bytes);
    }
}

/// A [`Warning`] as listed in the report, with the message it was met on.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportWarning {
    /// Source identifier of the message the warning belongs to (`ids.native`, else the
    /// Message-ID), named like [`SkippedItem::source_id`]; absent for warnings about the
    /// mailbox as a whole.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// The warning.
    #[serde(flatten)]
    pub warning: Warning,
}

/// Durations of one mailbox. Excluded from determinism comparisons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxTimings {
    /// Wall-clock time from opening the mailbox to the end of writing, in milliseconds.
    pub total_ms: u64,
}

/// One mailbox user's entry in `report.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MailboxReport {
    /// [`MailboxInfo::key`](mailmig_ir::MailboxInfo::key).
    pub key: String,
    /// Owner's display name.
    pub display_name: String,
    /// Directory of the section in the output tree (below the output directory).
    pub dir_name: String,
    /// The owner's directory entry id, where the source has a directory (clone fidelity).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub directory_id: Option<String>,
    /// The source files holding the mailbox.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub source_files: Vec<String>,
    /// Outcome.
    pub status: MailboxStatus,
    /// Why the mailbox failed or timed out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Counts found in the source.
    pub found: FoundCounts,
    /// Counts the sink reports having written (zero unless committed).
    pub written: WrittenStats,
    /// Every item that could not be converted, in source order.
    #[serde(default)]
    pub skipped: Vec<SkippedItem>,
    /// Warnings of the section and its messages, in source order (at most
    /// [`MAX_WARNINGS_PER_MAILBOX`]).
    #[serde(default)]
    pub warnings: Vec<ReportWarning>,
    /// Warnings met beyond [`MAX_WARNINGS_PER_MAILBOX`], counted only.
    #[serde(default)]
    pub warnings_omitted: u64,
    /// Durations.
    pub timings: MailboxTimings,
}

impl MailboxReport {
    /// Total warnings met in this mailbox (listed and omitted).
    pub fn warning_count(&self) -> u64 {
        (self.warnings.len() as u64).saturating_add(self.warnings_omitted)
    }
}

/// The post office the run converted.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostOfficeSummary {
    /// Its name.
    pub name: String,
    /// Source format (`pst`, `ccmail`, …).
    pub format: String,
    /// Code page the source was decoded with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code_page: Option<u16>,
    /// Warnings about the post office as a whole.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<Warning>,
}

/// Outcome of [`Sink::finish`](mailmig_ir::Sink::finish) (post-office-level files).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct FinishReport {
    /// Names of the files and directories the sink placed in the output root, sorted.
    #[serde(default)]
    pub files: Vec<String>,
    /// Why it failed; the run's exit code is then 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Sums over all mailboxes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Totals {
    /// Mailbox users in the source.
    pub mailboxes: u64,
    /// Mailboxes with status `converted`.
    pub converted: u64,
    /// Mailboxes with status `converted_with_skips`.
    pub converted_with_skips: u64,
    /// Mailboxes with status `failed`.
    pub failed: u64,
    /// Mailboxes with status `timed_out`.
    pub timed_out: u64,
    /// Found in the source.
    pub found: FoundCounts,
    /// Written by the sink.
    pub written: WrittenStats,
    /// Skipped items.
    pub skipped: u64,
    /// Warnings (listed and omitted).
    pub warnings: u64,
}

/// Durations of the run and other facts that depend on how it went. Excluded from
/// determinism comparisons.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunTimings {
    /// Wall-clock time of the whole run, in milliseconds.
    pub total_ms: u64,
    /// Mailboxes taken from the journal of an earlier, interrupted run.
    pub resumed_mailboxes: u64,
    /// Worker threads used.
    pub jobs: u64,
}

/// The whole `report.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunReport {
    /// [`REPORT_SCHEMA_VERSION`].
    pub schema: u32,
    /// Version of mailmig that wrote the report.
    pub mailmig_version: String,
    /// Name of the output format ([`Sink::name`](mailmig_ir::Sink::name)).
    pub sink: String,
    /// True for `--no-mail` runs (no messages were read).
    pub no_mail: bool,
    /// The post office.
    pub post_office: PostOfficeSummary,
    /// Sums.
    pub totals: Totals,
    /// One entry per mailbox user, in source order.
    pub mailboxes: Vec<MailboxReport>,
    /// Post-office-level output.
    pub finish: FinishReport,
    /// Durations.
    pub timings: RunTimings,
}

impl RunReport {
    /// Recomputes [`totals`](Self::totals) from the mailbox entries.
    pub fn compute_totals(&mut self) {
        let mut t = Totals {
            mailboxes: self.mailboxes.len() as u64,
            ..Totals::default()
        };
        for m in &self.mailboxes {
            match m.status {
                MailboxStatus::Converted => t.converted += 1,
                MailboxStatus::ConvertedWithSkips => t.converted_with_skips += 1,
                MailboxStatus::Failed => t.failed += 1,
                MailboxStatus::TimedOut => t.timed_out += 1,
            }
            t.found.add(&m.found);
            t.written.messages = t.written.messages.saturating_add(m.written.messages);
            t.written.attachments = t.written.attachments.saturating_add(m.written.attachments);
            t.written.bytes = t.written.bytes.saturating_add(m.written.bytes);
            t.skipped = t.skipped.saturating_add(m.skipped.len() as u64);
            t.warnings = t.warnings.saturating_add(m.warning_count());
        }
        self.totals = t;
    }

    /// The process exit code the run stands for: 0 when every mailbox was converted with
    /// nothing skipped and the post-office files were written; 1 when the run finished with
    /// skipped items, failed or timed-out mailboxes, or a failed [`Sink::finish`]
    /// (ARCHITECTURE.md: exit code 2 is for fatal errors, which are
    /// [`EngineError`](super::EngineError)s, not reports).
    ///
    /// [`Sink::finish`]: mailmig_ir::Sink::finish
    pub fn exit_code(&self) -> i32 {
        let clean = self.finish.error.is_none()
            && self
                .mailboxes
                .iter()
                .all(|m| m.status == MailboxStatus::Converted && m.skipped.is_empty());
        if clean { 0 } else { 1 }
    }

    /// One line for people: `12 mailboxes: 10 converted, 1 with skips, 1 failed, 0 timed out;
    /// 3400 messages written, 2 items skipped, 5 warnings`.
    pub fn summary_line(&self) -> String {
        let t = &self.totals;
        format!(
            "{} mailboxes: {} converted, {} with skips, {} failed, {} timed out; {} messages written, {} items skipped, {} warnings",
            t.mailboxes,
            t.converted,
            t.converted_with_skips,
            t.failed,
            t.timed_out,
            t.written.messages,
            t.skipped,
            t.warnings
        )
    }

    /// One line per problem (failed or timed-out mailbox, skipped item, failed finish), in
    /// report order, for the command line to print.
    pub fn problem_lines(&self) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.mailboxes {
            if let Some(e) = &m.error {
                out.push(format!(
                    "{} ({}): {}: {e}",
                    m.dir_name,
                    m.key,
                    m.status.as_str()
                ));
            } else if !m.status.is_committed() {
                out.push(format!("{} ({}): {}", m.dir_name, m.key, m.status.as_str()));
            }
            for s in &m.skipped {
                let mut line = format!("{} ({}): {s}", m.dir_name, m.key);
                if line.len() > 400 {
                    let mut cut = 400;
                    while !line.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    line.truncate(cut);
                    let _ = write!(line, "…");
                }
                out.push(line);
            }
        }
        if let Some(e) = &self.finish.error {
            out.push(format!("post-office files ({}): {e}", self.sink));
        }
        out
    }
}
