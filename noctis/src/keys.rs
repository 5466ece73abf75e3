//! Keys from passwords: Argon2id with parameters stored beside the data, so
//! they can be raised later without breaking old files or accounts.

use argon2::{Algorithm, Argon2, Params, Version};

use crate::{Error, format::Argon2Params, format::FileKey};

/// RFC 9106's second recommended setting: t = 3, m = 64 MiB, p = 4. The
/// first (2 GiB of memory) is out of reach of browsers and small servers.
pub const DEFAULT_ARGON2: Argon2Params = Argon2Params {
    m_kib: 64 * 1024,
    t: 3,
    p: 4,
};

/// The most a header may ask for: 4 GiB of memory, 64 passes, 64 lanes.
/// A hostile file must not be able to make a reader allocate without bound.
pub const MAX_ARGON2: Argon2Params = Argon2Params {
    m_kib: 4 * 1024 * 1024,
    t: 64,
    p: 64,
};

/// Argon2id(password, salt) → 32-byte file key.
pub fn password_key(password: &[u8], salt: &[u8], params: Argon2Params) -> Result<FileKey, Error> {
    if params.m_kib > MAX_ARGON2.m_kib || params.t > MAX_ARGON2.t || params.p > MAX_ARGON2.p {
        return Err(Error::MalformedHeader);
    }
    let params = Params::new(params.m_kib, params.t, params.p, Some(32))
        .map_err(|_| Error::MalformedHeader)?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let mut key = FileKey([0u8; 32]);
    argon
        .hash_password_into(password, salt, &mut key.0)
        .map_err(|_| Error::MalformedHeader)?;
    Ok(key)
}

/// The two keys a password yields for an account: the key-encryption key,
/// which never leaves the browser, and the auth key, which is sent at login
/// and of which the server keeps only a hash.
#[derive(Clone, zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct AccountKeys {
    /// Wraps the master key. Never sent anywhere.
    pub kek: [u8; 32],
    /// Proves knowledge of the password to the server.
    pub auth: [u8; 32],
}

impl core::fmt::Debug for AccountKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("AccountKeys(..)")
    }
}

/// Argon2id(password, salt) → 64 bytes → key-encryption key ‖ auth key.
pub fn account_keys(
    password: &[u8],
    salt: &[u8],
    params: Argon2Params,
) -> Result<AccountKeys, Error> {
    if params.m_kib > MAX_ARGON2.m_kib || params.t > MAX_ARGON2.t || params.p > MAX_ARGON2.p {
        return Err(Error::MalformedHeader);
    }
    let argon = Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(params.m_kib, params.t, params.p, Some(64))
            .map_err(|_| Error::MalformedHeader)?,
    );
    let mut out = zeroize::Zeroizing::new([0u8; 64]);
    argon
        .hash_password_into(password, salt, out.as_mut_slice())
        .map_err(|_| Error::MalformedHeader)?;
    let mut keys = AccountKeys {
        kek: [0; 32],
        auth: [0; 32],
    };
    keys.kek.copy_from_slice(&out[..32]);
    keys.auth.copy_from_slice(&out[32..]);
    Ok(keys)
}

/// A subkey of `key` for one `purpose`: HKDF-SHA256 with info
/// `"Nocturne v1 " ‖ purpose`. Distinct purposes give independent keys.
pub fn subkey(key: &[u8; 32], purpose: &[u8]) -> zeroize::Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, key);
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    // 32 bytes is far below HKDF-SHA256's limit.
    let _ = hk.expand_multi_info(&[b"Nocturne v1 ", purpose], out.as_mut_slice());
    out
}

/// Bytes of a wrapped key: 12-byte nonce ‖ 32-byte encrypted key ‖ 16-byte tag.
pub const WRAPPED_LEN: usize = 60;

/// Wraps `key` under `kek` with AES-256-GCM, binding `purpose` as
/// associated data so a key wrapped for one use cannot be unwrapped as
/// another.
pub fn wrap_key(
    rng: &mut impl rand_core::CryptoRng,
    kek: &[u8; 32],
    key: &[u8; 32],
    purpose: &[u8],
) -> [u8; WRAPPED_LEN] {
    use aead::{AeadInOut, KeyInit};
    let mut nonce = aead::Nonce::<aes_gcm::Aes256Gcm>::default();
    rng.fill_bytes(&mut nonce);
    let mut body = *key;
    let cipher = aes_gcm::Aes256Gcm::new(kek.into());
    let mut out = [0u8; WRAPPED_LEN];
    // A 32-byte message is far below AES-GCM's length limit: cannot fail.
    if let Ok(tag) = cipher.encrypt_inout_detached(&nonce, purpose, body.as_mut_slice().into()) {
        out[..12].copy_from_slice(&nonce);
        out[12..44].copy_from_slice(&body);
        out[44..].copy_from_slice(&tag);
    }
    zeroize::Zeroize::zeroize(&mut body);
    out
}

/// Unwraps what [`wrap_key`] made, for the same `purpose`; any change, a
/// wrong key-encryption key or another purpose gives [`Error::Decrypt`].
pub fn unwrap_key(
    kek: &[u8; 32],
    wrapped: &[u8],
    purpose: &[u8],
) -> Result<zeroize::Zeroizing<[u8; 32]>, Error> {
    use aead::{AeadInOut, KeyInit};
    if wrapped.len() != WRAPPED_LEN {
        return Err(Error::Decrypt);
    }
    let cipher = aes_gcm::Aes256Gcm::new(kek.into());
    let mut key = zeroize::Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&wrapped[12..44]);
    let nonce = wrapped[..12].try_into().map_err(|_| Error::Decrypt)?;
    let tag = wrapped[44..].try_into().map_err(|_| Error::Decrypt)?;
    cipher
        .decrypt_inout_detached(nonce, purpose, key.as_mut_slice().into(), tag)
        .map_err(|_| Error::Decrypt)?;
    Ok(key)
}
