//! Accounts: key parameters, registration, log-in, recovery, the account,
//! invites.

use serde::{Deserialize, Serialize};

use crate::B64;

/// Argon2id parameters: an account's password cost, and a share link's.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Argon2 {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// What the browser needs to derive an account's keys.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct KeyParams {
    /// The Argon2id salt.
    pub salt: B64,
    /// The Argon2id cost.
    pub argon2: Argon2,
}

/// `POST /api/auth/params`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParamsRequest {
    pub username: String,
}

/// `POST /api/auth/register`. Everything here is public or wrapped.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RegisterRequest {
    pub username: String,
    /// An invite code, when the server requires one.
    #[serde(default)]
    pub invite: Option<String>,
    /// The Argon2id salt the browser chose (16–64 random bytes).
    pub salt: B64,
    pub argon2: Argon2,
    /// The auth half of Argon2id's output (32 bytes).
    pub auth_key: B64,
    /// The master key wrapped under the password's key-encryption key.
    pub master_by_password: B64,
    /// The master key wrapped under the recovery key.
    pub master_by_recovery: B64,
    /// A token derived from the recovery key that authorises a reset (32 bytes).
    pub recovery_auth: B64,
}

/// An account as its owner sees it.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountView {
    pub username: String,
    pub is_admin: bool,
}

/// `POST /api/auth/login`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginRequest {
    pub username: String,
    /// The auth half of Argon2id's output (32 bytes).
    pub auth_key: B64,
    /// `true`: return a bearer token in the body (for programs) instead of
    /// setting the browser's HttpOnly cookie.
    #[serde(default)]
    pub token: bool,
}

/// A successful login.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoginResponse {
    pub username: String,
    pub is_admin: bool,
    /// The master key, wrapped under the password's key-encryption key.
    pub master_by_password: B64,
    /// A bearer token, only when the request asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `POST /api/auth/recovery/key`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryKeyRequest {
    pub username: String,
    /// The token derived from the recovery key (32 bytes).
    pub recovery_auth: B64,
}

/// The master key wrapped under the recovery key.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryKeyResponse {
    pub master_by_recovery: B64,
}

/// New password material: a fresh salt and cost, the new auth key and the
/// master key wrapped under the new key-encryption key.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct NewPassword {
    pub salt: B64,
    pub argon2: Argon2,
    pub auth_key: B64,
    pub master_by_password: B64,
}

#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoveryResetRequest {
    pub username: String,
    pub recovery_auth: B64,
    /// The new password's material.
    pub new: NewPassword,
}

/// The caller's account, with what the browser needs to unlock it.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountDetails {
    pub username: String,
    pub is_admin: bool,
    pub salt: B64,
    pub argon2: Argon2,
    pub master_by_password: B64,
    /// Ciphertext bytes stored, uploads in progress included.
    pub used: u64,
    pub quota: u64,
    pub max_file_size: u64,
}

/// `POST /api/account/password`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ChangePasswordRequest {
    /// The current password's auth key (32 bytes).
    pub auth_key: B64,
    /// The new password's material.
    pub new: NewPassword,
}

/// `DELETE /api/account`.
#[derive(Debug, PartialEq, Clone, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeleteAccountRequest {
    /// The current password's auth key (32 bytes), to confirm.
    pub auth_key: B64,
}

/// A new invite code, shown once.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Invite {
    /// 128 random bits as 32 hex digits; single use.
    pub code: String,
    /// Unix seconds after which the code no longer works.
    pub expires_at: i64,
}

/// An invite not yet used or expired. The code itself is not kept, so it
/// cannot be shown again; the id is the hash the server keeps of it.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PendingInvite {
    /// 64 hex digits; names the invite for revoking.
    pub id: String,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds after which the code no longer works.
    pub expires_at: i64,
}

/// One account as an administrator sees it: names, counts and sizes,
/// nothing that decrypts.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountSummary {
    pub username: String,
    pub is_admin: bool,
    /// Seconds since the Unix epoch.
    pub created_at: i64,
    /// Files stored.
    pub files: u64,
    /// Bytes stored (ciphertext and sealed metadata), uploads in progress
    /// included.
    pub used: u64,
    /// The quota that applies: the account's own, or the server's default.
    pub quota: u64,
    /// The account's own quota; `null` when the server's default applies.
    pub own_quota: Option<u64>,
    /// A disabled account cannot log in, and its share links answer 410.
    pub disabled: bool,
}

/// `GET /api/admin/accounts?after=&limit=`: a page of accounts by name.
#[derive(Debug, PartialEq, Clone, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct AccountPage {
    pub accounts: Vec<AccountSummary>,
    /// Pass as `after` for the next page; `null` on the last page.
    pub next: Option<String>,
}

/// The query of `GET /api/admin/accounts`.
#[derive(Debug, PartialEq, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::IntoParams))]
#[cfg_attr(feature = "openapi", into_params(parameter_in = Query))]
pub struct ListAccounts {
    /// The `next` of the previous page.
    #[serde(default)]
    pub after: Option<String>,
    /// Accounts per page: 100 unless given, at most 500.
    #[serde(default)]
    pub limit: Option<u32>,
}

/// `PATCH /api/admin/accounts/{username}`: what to change; absent fields
/// stay as they are.
#[derive(Debug, PartialEq, Clone, Default, Deserialize, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct UpdateAccount {
    /// A quota in bytes for this account alone.
    #[serde(default)]
    pub quota: Option<u64>,
    /// Return the account to the server's default quota.
    #[serde(default)]
    pub clear_quota: bool,
    /// Disable (`true`) or enable (`false`) the account. Disabling ends
    /// its sessions at once.
    #[serde(default)]
    pub disabled: Option<bool>,
}
