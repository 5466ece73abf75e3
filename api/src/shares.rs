//! Share links: the owner's side (`/api/shares`) and the public side
//! (`/api/s/{id}`).

use serde::{Deserialize, Serialize};

use crate::{B64, accounts::Argon2};

/// How a link is meant to be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Until revoked (or its download count runs out).
    Persistent,
    /// Until `expires_at`.
    Expiring,
    /// For exactly one complete download.
    OneTime,
}

/// Where a link stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShareState {
    Active,
    Expired,
    Revoked,
    /// Its downloads have run out (a one-time link after its download).
    Used,
    /// Too many wrong passwords; the owner can unlock it.
    Locked,
}

/// One file of a new share.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareFileKey {
    /// The file's id (one of the caller's files).
    pub file_id: String,
    /// The file's data key wrapped under the link key (60 bytes).
    pub wrapped_key: B64,
}

/// `POST /api/shares`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreateShare {
    /// The files, in the order the link lists them (1 to 256).
    pub files: Vec<ShareFileKey>,
    /// 16 random bytes from which the owner's browser derives the link's
    /// secret with the master key; the server cannot.
    pub seed: B64,
    /// 16 random bytes: the link's Argon2id and HKDF salt.
    pub salt: B64,
    /// The password's Argon2id cost; absent for a link without password.
    #[serde(default)]
    pub argon2: Option<Argon2>,
    /// The access token (32 bytes); the server keeps a hash.
    pub token: B64,
    /// The link proof (32 bytes, from the fragment secret alone); the
    /// server keeps a hash and answers a wrong one like an unknown link.
    pub proof: B64,
    /// The ids of the files, sealed under a key from the link's secret
    /// (`noctis::share::seal_file_list`; 28 + 16 per file bytes).
    pub file_list: B64,
    pub mode: Mode,
    /// Unix time after which the link is refused (required for `expiring`).
    #[serde(default)]
    pub expires_at: Option<i64>,
    /// Complete downloads allowed (1 for `one_time`; none means unlimited).
    #[serde(default)]
    pub max_downloads: Option<i64>,
}

/// A file of a link, for its owner.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LinkFile {
    /// Its position in the link (what a re-wrap names).
    pub index: i64,
    pub file_id: String,
}

/// A link as its owner sees it.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareView {
    pub id: String,
    /// What the owner's browser derives the link's secret from.
    pub seed: B64,
    pub salt: B64,
    pub argon2: Option<Argon2>,
    pub mode: Mode,
    pub expires_at: Option<i64>,
    pub max_downloads: Option<i64>,
    /// Complete downloads so far.
    pub downloads: i64,
    /// Downloads in progress (live claims).
    pub in_progress: i64,
    /// Consecutive wrong attempts.
    pub failures: i64,
    pub state: ShareState,
    /// The shared files, in the link's order (deleted files drop out, so
    /// positions can have gaps).
    pub files: Vec<LinkFile>,
    /// The ids of the files the link was made for, sealed by the owner's
    /// browser; `null` for a link made before Nocturne kept one.
    #[serde(default)]
    pub file_list: Option<B64>,
    pub created_at: i64,
}

/// The caller's links.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareList {
    pub shares: Vec<ShareView>,
}

/// A file's data key re-wrapped under a link's new key.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RewrappedKey {
    /// The file's position in the link (as listed, counting from 0).
    pub index: i64,
    pub wrapped_key: B64,
}

/// A new password (or none): new salt, cost, token and wrapped keys.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rewrap {
    pub salt: B64,
    #[serde(default)]
    pub argon2: Option<Argon2>,
    pub token: B64,
    /// Every file still in the link, re-wrapped.
    pub files: Vec<RewrappedKey>,
    /// A sealed file list for a link that has none yet (made before
    /// Nocturne kept one); ignored when the link has one.
    #[serde(default)]
    pub file_list: Option<B64>,
}

/// A new expiry: a Unix time, or `null` for none.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ExpiryChange {
    pub expires_at: Option<i64>,
}

/// `PATCH /api/shares/{id}`: any of the three.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateShare {
    #[serde(default)]
    pub expiry: Option<ExpiryChange>,
    #[serde(default)]
    pub password: Option<Rewrap>,
    /// Clears the wrong-attempt count and the lock.
    #[serde(default)]
    pub unlock: bool,
}

/// What anyone with the link may learn before the password: how to derive
/// the keys. Nothing about the files.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareInfo {
    /// Whether a password is needed.
    pub password: bool,
    pub salt: B64,
    /// The password's Argon2id cost, when there is one.
    pub argon2: Option<Argon2>,
}

/// The access token derived from the link's secret (and password), and
/// the proof derived from the secret alone.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ShareToken {
    /// 32 bytes. A wrong one counts towards the link's lock.
    pub token: B64,
    /// 32 bytes. A wrong or missing one is answered like an unknown link
    /// and not counted (links made before Nocturne kept a proof take any).
    #[serde(default)]
    pub proof: Option<B64>,
}

/// One shared file, for the opener.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedFile {
    /// Its position in the link.
    pub index: i64,
    /// Ciphertext bytes.
    pub size: u64,
    /// The file's encrypted metadata (sealed under its data key).
    pub metadata: B64,
    /// The data key wrapped under the link key.
    pub wrapped_key: B64,
}

/// What a correct token opens.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SharedFiles {
    pub files: Vec<SharedFile>,
    pub mode: Mode,
    pub expires_at: Option<i64>,
    /// Complete downloads still allowed; none means unlimited.
    pub downloads_left: Option<i64>,
}

/// A download claim.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Claim {
    /// Send as `Authorization: Bearer <claim>` with each content request.
    pub claim: String,
    /// Seconds the claim survives without use.
    pub grace: i64,
}
