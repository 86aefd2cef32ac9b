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
