//! # mailmig-msmail — Microsoft Mail 3.x
//!
//! Implements `shared/formats/msmail.md`:
//!
//! * [`mmff`] — the FFAPI "Microsoft Mail File Format" text files (§10): reader, writer,
//!   [`MmffDriver`] (`--from mmff`) and [`MmffSink`] (`--to mmff`). This is the only Microsoft
//!   Mail format whose *content* mailmig converts.
//! * [`mmf`] — Windows-client message files (§2): [`MmfDriver`] identifies them and reports
//!   honest metadata. MMF files are encrypted with an unpublished cipher (KB Q130322, KB Q233243);
//!   mailmig never decodes them and `open` explains the route that works instead (§2.7).
//! * [`po`] — the shared-file post-office tree (§3–§5): [`MsmailPostOfficeDriver`]
//!   (`--from msmail-po`) inventories the tree and checks its documented record sizes and
//!   cross-references; with `OpenOptions::experimental` it also lists mailbag headers using the
//!   layout **inferred** from the one published dump (KB Q108027).
//! * [`codepage`] — the OEM code page of a post office by language (§8, KB Q174153).
//!
//! Clean room (§11): every fact here comes from public Microsoft KB articles cited by number,
//! from public standards, or is labelled as inferred. Fixtures are synthetic, built in code.

pub mod codepage;
pub mod error;
mod mapping;
pub mod mmf;
pub mod mmff;
pub mod po;

pub use error::MsmailError;
pub use mmf::MmfDriver;
pub use mmff::{LineEnd, MmffDriver, MmffSink};
pub use po::MsmailPostOfficeDriver;
