//! The storage mesh as the dashboard and administrators see it.

use serde::{Deserialize, Serialize};

/// A file's standing on the mesh.
#[derive(Debug, PartialEq, Eq, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeshHealth {
    /// Fragments placed, sealed and not known to be missing.
    pub healthy: u32,
    /// k + m.
    pub total: u32,
    /// Whether the server still keeps the file locally too.
    pub local: bool,
}

/// `GET /api/mesh` (administrators only).
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeshView {
    /// `off`, `replicate` or `offload`.
    pub mode: String,
    /// k+m, such as `4+2`.
    pub coding: String,
    /// Every node seen, most recently seen first.
    pub nodes: Vec<MeshNode>,
    /// Counts of files.
    pub files: MeshFiles,
}

/// A storage node as the server knows it.
#[derive(Debug, PartialEq, Eq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeshNode {
    /// Its libp2p peer id.
    pub peer_id: String,
    /// Whether it is connected now.
    pub connected: bool,
    /// When it was last seen (Unix seconds).
    pub last_seen: i64,
    /// Fragments of this server's files it holds.
    pub fragments: u64,
    /// Bytes it uses, for everyone (as it last said).
    pub bytes_used: u64,
    /// Its `--max-storage` (as it last said).
    pub max_storage: u64,
    /// Audits it passed.
    pub audits_passed: u64,
    /// Audits it failed (a wrong, refused or missing answer).
    pub audits_failed: u64,
}

/// File counts for [`MeshView`].
#[derive(Debug, PartialEq, Eq, Clone, Copy, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct MeshFiles {
    /// All files.
    pub total: u64,
    /// Files on the mesh.
    pub placed: u64,
    /// Files waiting for enough nodes.
    pub pending: u64,
    /// Files on the mesh with fewer healthy fragments than k + m.
    pub degraded: u64,
}
