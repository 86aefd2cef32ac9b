//! mailmig-convert (work in progress)

pub mod jsonl;
pub mod sinks;
