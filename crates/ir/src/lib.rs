//! # mailmig-ir — the intermediate representation of mailmig
//!
//! Every format crate decodes its legacy store into the types of this crate, and every output
//! writer consumes them. The shape follows `shared/design/ARCHITECTURE.md`, section
//! "The intermediate representation":
//!
//! * [`PostOffice`] — name, source format, code page and the [`Directory`];
//! * [`DirectoryEntry`] — mailbox users, custom recipients, lists, bulletin boards, each with its
//!   source identifiers;
//! * [`MailboxInfo`] + [`MailboxSection`] — one per mailbox user: owner, folder tree and a lazy
//!   stream of [`Message`]s;
//! * [`Message`] — identifiers, envelope, dates, flags, class, bodies, attachments, raw headers,
//!   remaining properties and warnings.
//!
//! The [`Source`] and [`Sink`] traits connect format crates to the run engine in
//! `mailmig-convert`; [`Driver`] lets the command line detect, inspect and open an input without
//! knowing the format. [`Limits`] carries the bounds every parser honours, [`Budget`] the time
//! budget and cancellation of one mailbox.
//!
//! Shared helpers: [`codepage`] (Windows, OEM and DBCS code pages, Microsoft charset names) and
//! [`dates`] (DOS date/time, FILETIME, cc:Mail `M/D/YY H:MM`, `YYYYMMDDHHMMSS`).

pub mod blob;
pub mod codepage;
pub mod dates;
pub mod limits;
pub mod model;
pub mod sink;
pub mod source;
pub mod synth;
pub mod text;
pub mod warning;

pub use blob::Blob;
pub use dates::Timestamp;
pub use limits::{Budget, Interrupted, Limits};
pub use model::*;
pub use sink::{CommittedMailbox, MailboxContext, MailboxWriter, Sink, SinkError, WrittenStats};
pub use source::{
    Detection, Driver, Finding, Inspection, MailboxSection, MessageStream, OpenOptions, Severity,
    Source, SourceError,
};
pub use warning::{SkippedItem, Warning};
