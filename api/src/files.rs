//! Files and uploads.

use serde::{Deserialize, Serialize};

use crate::B64;

/// `POST /api/uploads/{id}/finish`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FinishUpload {
    /// The ciphertext's total length (must equal the declared size).
    pub size: u64,
    /// The upload's digest ([`parts_digest`]: SHA-256 over the parts'
    /// SHA-256s), hex.
    pub digest: String,
}

/// An upload's digest: SHA-256 over a domain label, the ciphertext's size,
/// the part size, the number of parts and each part's SHA-256 in order.
///
/// Each side hashes a part once, as it passes (the browser as it sends
/// it, the server as it streams it to disk), so finishing an upload checks
/// the whole file without reading it again. Finding two files with one
/// digest means finding a SHA-256 collision.
pub fn parts_digest(size: u64, part_size: u64, part_hashes: &[[u8; 32]]) -> [u8; 32] {
    use sha2::Digest as _;
    let mut h = sha2::Sha256::new();
    h.update(b"Nocturne v1 upload parts\0");
    h.update(size.to_be_bytes());
    h.update(part_size.to_be_bytes());
    h.update((part_hashes.len() as u64).to_be_bytes());
    for part in part_hashes {
        h.update(part);
    }
    h.finalize().into()
}

/// A stored file: public sizes and times, encrypted metadata, wrapped key.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileView {
    pub id: String,
    /// Ciphertext bytes.
    pub size: u64,
    /// The upload's digest, hex ([`parts_digest`]; a whole-file SHA-256 for
    /// files uploaded before the parts digest existed). Also the download's
    /// ETag.
    pub sha256: String,
    pub metadata: B64,
    pub wrapped_key: B64,
    pub created_at: i64,
    pub updated_at: i64,
    /// Its fragments on the storage mesh; `null` when it is not there (the
    /// mesh is off, or the file waits for enough nodes).
    #[serde(default)]
    pub mesh: Option<crate::mesh::MeshHealth>,
}

/// One page of the caller's files (newest first) and storage use.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct FileList {
    pub files: Vec<FileView>,
    /// Pass as `after` for the next page; `null` on the last page.
    #[serde(default)]
    pub next: Option<String>,
    /// How many files the account holds in all.
    #[serde(default)]
    pub total: u64,
    /// Bytes stored (ciphertext and sealed metadata), uploads in progress
    /// included.
    pub used: u64,
    pub quota: u64,
}

/// `GET /api/files?after=&limit=`.
#[derive(Debug, PartialEq, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListFiles {
    /// The `next` of the previous page; the first page without it.
    #[serde(default)]
    pub after: Option<String>,
    /// Files per page: 500 unless given, at most 1,000.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `PATCH /api/files/{id}`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateFile {
    /// New encrypted metadata (a rename is new metadata).
    pub metadata: B64,
}

/// `POST /api/uploads`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateUpload {
    /// The ciphertext's total length in bytes.
    pub size: u64,
    /// Bytes per part (256 KiB to 16 MiB; default 8 MiB).
    #[serde(default)]
    pub part_size: Option<u64>,
    /// The file's encrypted metadata (at most 8 KiB).
    pub metadata: B64,
    /// The file's data key wrapped under the master key (at most 256 bytes).
    pub wrapped_key: B64,
}

/// One received part.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PartView {
    pub index: u64,
    /// SHA-256 of the part as the server received it (hex).
    pub sha256: String,
}

/// An upload in progress.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UploadView {
    pub id: String,
    pub size: u64,
    pub part_size: u64,
    /// How many parts make up the whole.
    pub parts: u64,
    /// The parts the server holds, with their hashes, so a client can
    /// resume and check its re-encryption matches.
    pub received: Vec<PartView>,
    pub metadata: B64,
    pub wrapped_key: B64,
    pub created_at: i64,
    pub expires_at: i64,
}
