//! One module per page.

pub(crate) mod dashboard;
pub(crate) mod not_found;
