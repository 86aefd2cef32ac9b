//! mailmig-ccmail (work in progress)
