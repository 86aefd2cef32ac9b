//! The Microsoft Mail shared-file post office (`msmail.md` §3–§5, §9).
//!
//! * [`tree`] — a bounded snapshot of the directory tree (no symlinks followed, entry and depth
//!   limits) on disk or in memory;
//! * [`layout`] — the documented directories and record sizes;
//! * [`integrity`] — inventory and consistency checks, each problem a `Finding` with file and
//!   offset;
//! * [`mailbag`] — `.MBG` records: the documented `.MAI` name, plus the **inferred** header
//!   layout used only in experimental mode;
//! * [`MsmailPostOfficeDriver`] — the `msmail-po` driver: detect, inspect; `open` refuses,
//!   because the message files are encrypted (KB Q130322).

mod driver;
pub mod integrity;
pub mod layout;
pub mod mailbag;
pub mod tree;

pub use driver::{MsmailPostOfficeDriver, PO_UNSUPPORTED};
