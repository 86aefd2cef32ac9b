//! mailmig-iff (work in progress)
