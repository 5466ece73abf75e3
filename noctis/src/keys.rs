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
