//! Nocturne's JSON API: every request and response body, defined once and
//! used by both ends, the server (`server`, with the `openapi` feature for
//! its OpenAPI document) and the browser (`app`, built for wasm32).
//!
//! - [`B64`]: bytes carried as standard base64;
//! - [`accounts`]: key parameters, registration, log-in, recovery, the
//!   account, invites;
//! - [`files`]: files and uploads;
//! - [`shares`]: share links, the owner's side and the public side;
//! - [`mesh`]: the storage mesh, a file's health and the nodes.
//!
//! Types only, with serde: the rules (sizes, limits, who may do what) are
//! the server's, and keys appear here only wrapped.

pub mod accounts;
mod b64;
pub mod files;
pub mod mesh;
pub mod shares;

pub use b64::B64;

use serde::{Deserialize, Serialize};

/// The answer of `GET /api/health`.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Health {
    /// `"ok"` when the server can reach its database.
    pub status: String,
    /// The server's version (the workspace version).
    pub version: String,
}
