//! # mailmig-pst — Outlook PST/OST reader
//!
//! Reads Personal Folders files (MS-PST) in all three layouts — ANSI (`wVer` 14/15), Unicode
//! (`wVer` 23) and the 4 KiB-page OST variant (`wVer` 36) — with permute and cyclic encodings
//! and compressed 4K blocks. Layers follow MS-PST and `shared/formats/pst.md`:
//!
//! * [`ndb`] — header, B-trees, blocks, data and subnode trees;
//! * [`ltp`] — heap-on-node, BTH, property and table contexts, named-property map;
//! * [`messaging`] — store, folders, messages, recipients, attachments, mapped to the IR;
//! * [`PstDriver`] / [`PstSource`] — the `mailmig_ir::Driver` and `Source` implementations.

mod bytes;
pub mod ltp;
pub mod messaging;
pub mod ndb;
pub mod rtf;
pub mod source;
pub mod write;

pub use messaging::{FolderTree, MessageIter, PstStore, RELEASE_BUDGET};
pub use source::{FileMap, PstDriver, PstSource, map_file, open_store};
