//! mailmig-convert (work in progress)

pub mod jsonl;
pub mod sinks;
pub mod engine;
pub mod verify;
