//! # mailmig-iff — Exchange 5.5/2000 migration files (`.PKL`, `.PRI`, `.SEC`)
//!
//! Reader ([`IffDriver`], [`IffSource`]) and writer ([`IffSink`]) for the text files that
//! Microsoft Exchange's Migration Wizard imported, as specified in
//! `shared/formats/exchange-iff.md` (cited below as §n).
//!
//! * [`lex`] — the shared lexical rules (§3): CSV fields, quoting, doubled quotes, `;`
//!   multi-values, `!` comments, `\\` continuations, `DIRECTORY` backslash escapes, pointers.
//! * [`pkl`] — the packing list (§2, §4).
//! * [`primary`] — sections of primary files (§5).
//! * [`secondary`] — secondary-file sections and pointer chains (§6, §7).
//! * [`reader`] — the IR mapping and the [`mailmig_ir::Source`]/[`mailmig_ir::Driver`].
//! * [`writer`] — the IR → IFF [`mailmig_ir::Sink`] (§9, §12).
//!
//! ## Reading
//!
//! [`IffDriver`] accepts the packing list, the directory holding it, or a primary file next to
//! it. Primary files are mapped and scanned when the set is opened; `DIRECTORY` rows become the
//! post office's directory (mailbox users, `remote` custom recipients **\[I\]**), `PAB` rows the
//! owner's [`mailmig_ir::MailboxInfo::personal_address_book`], and each `MAILMESSAGE` section a
//! mailbox whose messages are decoded lazily. Every `DIRECTORY` mailbox user gets a mailbox,
//! with or without a section (KB Q194218). Secondary files are mapped on first use; attachment
//! data is a window into the map.
//!
//! Bad input (§11): in the default strict mode a row with an unterminated or stray quote, a
//! wrong column count, a pointer to a missing secondary file or to an offset that is not a section
//! line, or a `Length` past the end of file yields a [`mailmig_ir::SkippedItem`] naming the
//! primary file and line (`source_id`) and the file and offset of the fault; the other rows
//! convert. Salvage mode ([`mailmig_ir::OpenOptions::salvage`]) applies §11's tolerant rules
//! instead (literal stray quotes, padded/extra fields, CR LF restored in re-line-ended secondary
//! files, pointer resynchronisation within 64 KiB).
//! Every loop is bounded by [`mailmig_ir::Limits`] and checks the [`mailmig_ir::Budget`].
//!
//! ## Writing
//!
//! [`IffSink`] writes one primary file (and, with mail, one secondary file) per mailbox in the
//! mailbox's own directory, and in [`mailmig_ir::Sink::finish`] `DIRECTORY.PRI` and the packing
//! list; see [`writer`] for the layout and the rules applied.
//!
//! Inputs are memory-mapped read-only; concurrent modification of the input files while they
//! are read is unsupported.

pub mod error;
pub mod lex;
pub mod pkl;
pub mod primary;
pub mod reader;
pub mod secondary;
pub mod writer;

pub use error::IffError;
pub use reader::{IffDriver, IffSource};
pub use writer::IffSink;
