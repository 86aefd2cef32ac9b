//! mailmig-pst (work in progress)
