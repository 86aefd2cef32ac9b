//! Placeholder: being written (see write/mod.rs).
