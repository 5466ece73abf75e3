//! The account key hierarchy, run in the browser (see `noctis::account`).
//!
//! Only auth keys, wrapped keys, salts and parameters leave this module for
//! the server; the password, the key-encryption key, the master key and the
//! recovery key stay here.

use std::sync::Arc;

use ::api::{
    B64,
    accounts::{NewPassword, RegisterRequest},
};
use base64::{Engine as _, engine::general_purpose::STANDARD};
use noctis::{
    account::{self, FILE_KEY, MASTER_BY_PASSWORD, MASTER_BY_RECOVERY},
    format::Argon2Params,
    keys::{DEFAULT_ARGON2, unwrap_key, wrap_key},
};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// The OS RNG (`crypto.getRandomValues` in the browser).
pub(crate) fn rng() -> rand_core::UnwrapErr<getrandom::SysRng> {
    rand_core::UnwrapErr(getrandom::SysRng)
}

pub(crate) fn random32() -> Zeroizing<[u8; 32]> {
    let mut k = Zeroizing::new([0u8; 32]);
    rand_core::Rng::fill_bytes(&mut rng(), k.as_mut_slice());
    k
}

pub(crate) fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub(crate) fn unb64(text: &str) -> Result<Vec<u8>, String> {
    STANDARD
        .decode(text)
        .map_err(|_| "The server sent malformed data.".to_owned())
}

pub(crate) use ::api::accounts::{Argon2, KeyParams};

/// The API's Argon2id parameters as `noctis` takes them.
pub(crate) fn argon2_params(a: Argon2) -> Argon2Params {
    Argon2Params {
        m_kib: a.m_kib,
        t: a.t,
        p: a.p,
    }
}

/// The unlocked master key, held in memory for this tab only; gone on
/// reload or logout.
#[derive(Clone)]
pub(crate) struct Keyring {
    pub(crate) username: String,
    master: Arc<Zeroizing<[u8; 32]>>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({})", self.username)
    }
}

/// What the dashboard seals into a file's metadata (JSON). Only the
/// browser ever reads it; the server stores it as opaque bytes.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub(crate) struct FileMeta {
    pub(crate) name: String,
    /// The MIME type the browser reported, if any.
    #[serde(default, rename = "type", skip_serializing_if = "String::is_empty")]
    pub(crate) mime: String,
    /// Plaintext bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) size: Option<u64>,
    /// The file's modification time (ms since 1970) when the upload
    /// started: a resumed upload must come from the same, unchanged file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) modified: Option<u64>,
    /// The format header (base64), so an interrupted upload can be
    /// re-encrypted to the very same bytes after a reload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) header: Option<String>,
    /// The content was padded with zero bytes to Padmé's length of `size`
    /// (`noctis::format::padded_len`) before encryption; a download keeps
    /// the first `size` bytes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) padded: bool,
    /// Fields a newer release added: kept through a rename.
    #[serde(flatten)]
    pub(crate) other: serde_json::Map<String, serde_json::Value>,
}

/// A file's data key and its wrapped and sealed forms for the server.
pub(crate) struct NewFile {
    pub(crate) data_key: Zeroizing<[u8; 32]>,
    pub(crate) wrapped_key: String,
    pub(crate) metadata: String,
}

impl Keyring {
    /// Opens a file's wrapped data key and sealed metadata; `None` if
    /// anything fails to authenticate.
    pub(crate) fn open_file(
        &self,
        wrapped_key: &str,
        metadata: &str,
    ) -> Option<(Zeroizing<[u8; 32]>, FileMeta)> {
        let key = self.data_key(wrapped_key)?;
        let meta = account::open_metadata(&key, &unb64(metadata).ok()?).ok()?;
        let meta = serde_json::from_slice(&meta).ok()?;
        Some((key, meta))
    }

    /// The fragment secret of the share link with `seed` (the owner can
    /// always re-derive it; see `noctis::share`).
    pub(crate) fn link_secret(&self, seed: &[u8]) -> Zeroizing<[u8; 32]> {
        noctis::share::link_secret(&self.master, seed)
    }

    /// Opens a file's wrapped data key.
    pub(crate) fn data_key(&self, wrapped_key: &str) -> Option<Zeroizing<[u8; 32]>> {
        unwrap_key(&self.master, &unb64(wrapped_key).ok()?, FILE_KEY).ok()
    }

    /// The `name` in a file's metadata.
    pub(crate) fn file_name(&self, wrapped_key: &str, metadata: &str) -> Option<String> {
        self.open_file(wrapped_key, metadata).map(|(_, m)| m.name)
    }

    /// A fresh data key for a new file, wrapped under the master key, and
    /// `meta` sealed under it.
    pub(crate) fn new_file(&self, meta: &FileMeta) -> NewFile {
        let data_key = random32();
        let wrapped = wrap_key(&mut rng(), &self.master, &data_key, FILE_KEY);
        NewFile {
            wrapped_key: b64(&wrapped),
            metadata: seal(&data_key, meta),
            data_key,
        }
    }

    /// `meta` sealed again under the file's existing data key (a rename).
    pub(crate) fn reseal(&self, wrapped_key: &str, meta: &FileMeta) -> Option<String> {
        Some(seal(&*self.data_key(wrapped_key)?, meta))
    }
}

/// `meta` as JSON, padded to a size bucket (so its sealed length does not
/// tell a name's length), sealed under the file's data key.
fn seal(data_key: &[u8; 32], meta: &FileMeta) -> String {
    let mut json = Zeroizing::new(serde_json::to_vec(meta).unwrap_or_default());
    account::pad_json_metadata(&mut json);
    b64(&account::seal_metadata(&mut rng(), data_key, &json))
}

/// A new random format header for an upload under `cipher`.
pub(crate) fn new_header(cipher: noctis::format::CipherId) -> Option<noctis::format::Header> {
    noctis::format::Header::generate(
        &mut rng(),
        cipher,
        noctis::format::DEFAULT_CHUNK_SIZE,
        noctis::format::KeySource::External,
    )
    .ok()
}

/// New password material for the server: a fresh salt, the default cost,
/// the auth key and the master key wrapped under the new key-encryption key.
async fn password_material(password: &str, master: &[u8; 32]) -> Result<NewPassword, String> {
    let salt = random32();
    let keys = super::worker::account_keys(password, &*salt, DEFAULT_ARGON2).await?;
    Ok(NewPassword {
        salt: B64(salt.to_vec()),
        argon2: Argon2 {
            m_kib: DEFAULT_ARGON2.m_kib,
            t: DEFAULT_ARGON2.t,
            p: DEFAULT_ARGON2.p,
        },
        auth_key: B64(keys.auth.to_vec()),
        master_by_password: B64(
            wrap_key(&mut rng(), &keys.kek, master, MASTER_BY_PASSWORD).to_vec()
        ),
    })
}

/// What registration leaves in the browser: the recovery key to show once,
/// the auth key to log in with right after, and the master key.
pub(crate) struct NewAccount {
    pub(crate) request: RegisterRequest,
    pub(crate) recovery_hex: Zeroizing<String>,
    pub(crate) recovery_words: Zeroizing<String>,
    pub(crate) auth_key: B64,
    pub(crate) keyring: Keyring,
}

/// Makes a new account's keys: Argon2id of the password (default cost),
/// a random master key and recovery key, both wraps.
pub(crate) async fn new_account(
    username: &str,
    password: &str,
    invite: Option<String>,
) -> Result<NewAccount, String> {
    let master = random32();
    let recovery = random32();
    let material = password_material(password, &master).await?;
    let r = account::recovery_keys(&recovery);
    let auth_key = material.auth_key.clone();
    Ok(NewAccount {
        request: RegisterRequest {
            username: username.to_owned(),
            invite,
            salt: material.salt,
            argon2: material.argon2,
            auth_key: material.auth_key,
            master_by_password: material.master_by_password,
            master_by_recovery: B64(
                wrap_key(&mut rng(), &r.kek, &master, MASTER_BY_RECOVERY).to_vec()
            ),
            recovery_auth: B64(r.auth.to_vec()),
        },
        recovery_hex: noctis::recovery::to_hex(&recovery),
        recovery_words: noctis::recovery::to_words(&recovery),
        auth_key,
        keyring: Keyring {
            username: username.trim().to_ascii_lowercase(),
            master: Arc::new(master),
        },
    })
}

/// The same floor the server enforces at sign-up, checked before a password
/// is derived with a cost the server handed out: a server (or database)
/// that hands out a cheaper cost would make what the derivation protects,
/// and through it the password, cheap to brute-force. The login page and
/// the share page both apply it.
pub(crate) fn strong_enough(a: Argon2, salt: &[u8]) -> bool {
    a.m_kib >= 19 * 1024
        && a.t >= 1
        && a.p >= 1
        && (a.t >= 2 || a.m_kib >= 46 * 1024)
        && salt.len() >= 16
}

/// Derives the auth key and key-encryption key from a password.
pub(crate) async fn password_keys(
    password: &str,
    params: &KeyParams,
) -> Result<noctis::keys::AccountKeys, String> {
    let salt = &params.salt.0;
    if !strong_enough(params.argon2, salt) {
        return Err(
            "The server asked for key-derivation settings too weak to protect your password; \
             nothing was sent."
                .to_owned(),
        );
    }
    super::worker::account_keys(password, salt, argon2_params(params.argon2)).await
}

/// Unwraps the master key a login returned.
pub(crate) fn unlock(
    username: &str,
    keys: &noctis::keys::AccountKeys,
    master_by_password: &[u8],
) -> Result<Keyring, String> {
    let master = unwrap_key(&keys.kek, master_by_password, MASTER_BY_PASSWORD)
        .map_err(|_| "The password is wrong.".to_owned())?;
    Ok(Keyring {
        username: username.to_owned(),
        master: Arc::new(master),
    })
}

/// Parses a recovery key typed as hex or as words (any spacing or case).
pub(crate) fn parse_recovery(text: &str) -> Result<Zeroizing<[u8; 32]>, String> {
    let hexish = text
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .all(|c| c.is_ascii_hexdigit());
    let parsed = if hexish {
        noctis::recovery::from_hex(text)
    } else {
        noctis::recovery::from_words(text)
    };
    parsed.map_err(|e| e.to_string())
}

/// The recovery token to show the server (which keeps its hash).
pub(crate) fn recovery_auth(recovery: &[u8; 32]) -> B64 {
    B64(account::recovery_keys(recovery).auth.to_vec())
}

/// Unwraps the master key with the recovery key and wraps it under a new
/// password.
pub(crate) async fn reset_material(
    recovery: &[u8; 32],
    master_by_recovery: &[u8],
    new_password: &str,
) -> Result<NewPassword, String> {
    let r = account::recovery_keys(recovery);
    let master = unwrap_key(&r.kek, master_by_recovery, MASTER_BY_RECOVERY)
        .map_err(|_| "This recovery key does not open this account.".to_owned())?;
    password_material(new_password, &master).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_floor_refuses_what_the_server_would_refuse_at_sign_up() {
        let cost = |m_kib, t, p| Argon2 { m_kib, t, p };
        let salt = [0u8; 16];
        assert!(strong_enough(cost(19 * 1024, 2, 1), &salt));
        assert!(strong_enough(cost(46 * 1024, 1, 1), &salt));
        assert!(strong_enough(cost(64 * 1024, 3, 4), &salt));
        assert!(
            !strong_enough(cost(19 * 1024, 1, 1), &salt),
            "one pass needs 46 MiB"
        );
        assert!(!strong_enough(cost(1024, 3, 1), &salt));
        assert!(!strong_enough(cost(64 * 1024, 3, 0), &salt));
        assert!(
            !strong_enough(cost(64 * 1024, 3, 4), &salt[..8]),
            "a short salt"
        );
    }
}
