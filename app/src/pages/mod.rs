//! One module per page.

pub(crate) mod admin;
pub(crate) mod auth;
pub(crate) mod dashboard;
pub(crate) mod not_found;
pub(crate) mod share;
