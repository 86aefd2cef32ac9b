//! # mailmig-convert — the run engine and the MIME-family outputs
//!
//! * [`engine`] — runs a [`Source`](mailmig_ir::Source) into a [`Sink`](mailmig_ir::Sink)
//!   mailbox by mailbox and keeps the five guarantees of `shared/design/ARCHITECTURE.md`:
//!   per-mailbox time budgets (nothing hangs), a section for every user, output independent of
//!   `-j`, source identifiers in the report, read-only inputs with atomic per-mailbox commits,
//!   a journal and exact resume; writes `report.json`.
//! * [`sinks`] — Maildir++, mbox (mboxrd), EML and JSON Lines writers with deterministic MIME
//!   rendering ([`sinks::mime`]).
//! * [`jsonl`] — the JSON Lines reader ([`jsonl::JsonlDriver`]): mailmig's own output read back
//!   into the IR.
//! * [`verify`] — re-reads an output tree with independent parsers and checks it against
//!   `report.json`.

pub mod engine;
pub mod jsonl;
pub mod sinks;
pub mod verify;
