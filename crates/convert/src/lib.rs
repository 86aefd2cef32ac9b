//! mailmig-convert (work in progress)
