//! mailmig-msmail (work in progress)
