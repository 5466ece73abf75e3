//! The account key hierarchy as the browser (and any client) runs it.
//!
//! - Password → Argon2id (salt and cost stored with the account) → the
//!   key-encryption key (never leaves the client) ‖ the auth key (sent at
//!   login; the server keeps a hash): [`keys::account_keys`].
//! - A random 256-bit master key, wrapped under the key-encryption key
//!   ([`MASTER_BY_PASSWORD`]) and under a key derived from the recovery key
//!   ([`MASTER_BY_RECOVERY`]).
//! - The recovery key (256 random bits, shown once as hex and words) gives
//!   [`RecoveryKeys`]: the key that unwraps the master key, and a separate
//!   token that authorises a reset, of which the server keeps a hash.
//! - Each file has a random data key wrapped under the master key
//!   ([`FILE_KEY`]); its metadata (name, type, size) is sealed under a
//!   subkey of the data key by [`seal_metadata`].
//!
//! Every wrap binds its purpose as associated data, so no wrapped key can
//! be unwrapped as another kind.

use alloc::vec::Vec;

use zeroize::Zeroizing;

use crate::{Error, keys};

/// Purpose of the master key wrapped under the password's key-encryption key.
pub const MASTER_BY_PASSWORD: &[u8] = b"master key by password";
/// Purpose of the master key wrapped under the recovery key.
pub const MASTER_BY_RECOVERY: &[u8] = b"master key by recovery key";
/// Purpose of a file's data key wrapped under the master key.
pub const FILE_KEY: &[u8] = b"file key";
/// Purpose of the metadata sealed under a file's data key.
const METADATA: &[u8] = b"file metadata";

/// What the recovery key yields.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct RecoveryKeys {
    /// Unwraps the master key. Never sent anywhere.
    pub kek: [u8; 32],
    /// Authorises a reset; the server keeps only a hash of it.
    pub auth: [u8; 32],
}

impl core::fmt::Debug for RecoveryKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("RecoveryKeys(..)")
    }
}

/// Derives the recovery keys (HKDF subkeys with distinct purposes).
pub fn recovery_keys(recovery_key: &[u8; 32]) -> RecoveryKeys {
    RecoveryKeys {
        kek: *keys::subkey(recovery_key, b"recovery kek"),
        auth: *keys::subkey(recovery_key, b"recovery auth"),
    }
}

/// Sizes sealed metadata is padded to (nonce and tag included): a file
/// name's length shows only as which of these its metadata needs.
pub const METADATA_BUCKETS: [usize; 5] = [512, 1024, 2048, 4096, 8192];

/// Bytes [`seal_metadata`] adds around the metadata (nonce and tag).
pub const METADATA_OVERHEAD: usize = 12 + 16;

/// Pads JSON metadata with trailing spaces (which every JSON parser
/// ignores) so that, sealed, it fills the smallest of
/// [`METADATA_BUCKETS`] it fits; metadata too large for any is left as it
/// is (and refused by the server).
pub fn pad_json_metadata(json: &mut Vec<u8>) {
    let sealed = json.len() + METADATA_OVERHEAD;
    if let Some(bucket) = METADATA_BUCKETS.iter().find(|&&b| b >= sealed) {
        json.resize(bucket - METADATA_OVERHEAD, b' ');
    }
}

/// Seals a file's metadata (any bytes; the dashboard uses JSON) under a
/// subkey of its data key: AES-256-GCM, random 12-byte nonce,
/// `nonce ‖ ciphertext ‖ tag`.
pub fn seal_metadata(
    rng: &mut impl rand_core::CryptoRng,
    data_key: &[u8; 32],
    metadata: &[u8],
) -> Vec<u8> {
    use aead::{AeadInOut, KeyInit};
    let key = keys::subkey(data_key, METADATA);
    let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
    let mut nonce = aead::Nonce::<aes_gcm::Aes256Gcm>::default();
    rng.fill_bytes(&mut nonce);
    let mut out = Vec::with_capacity(12 + metadata.len() + 16);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(metadata);
    match cipher.encrypt_inout_detached(&nonce, METADATA, out[12..].as_mut().into()) {
        Ok(tag) => out.extend_from_slice(&tag),
        // Only messages beyond GCM's 64 GiB limit fail; metadata is tiny.
        Err(_) => out.truncate(0),
    }
    out
}

/// Opens what [`seal_metadata`] made; any change or a wrong key gives the
/// opaque [`Error::Decrypt`].
pub fn open_metadata(data_key: &[u8; 32], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    use aead::{AeadInOut, KeyInit};
    if sealed.len() < 28 {
        return Err(Error::Decrypt);
    }
    let key = keys::subkey(data_key, METADATA);
    let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
    let (nonce, rest) = sealed.split_at(12);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut plain = Zeroizing::new(body.to_vec());
    let nonce = nonce.try_into().map_err(|_| Error::Decrypt)?;
    let tag = tag.try_into().map_err(|_| Error::Decrypt)?;
    cipher
        .decrypt_inout_detached(nonce, METADATA, plain.as_mut_slice().into(), tag)
        .map_err(|_| {
            zeroize::Zeroize::zeroize(&mut *plain);
            Error::Decrypt
        })?;
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn metadata_pads_to_its_bucket_and_stays_json() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        for (name_len, sealed) in [
            (1, 512),
            (300, 512),
            (600, 1024),
            (3000, 4096),
            (7000, 8192),
        ] {
            let meta = alloc::format!("{{\"name\":\"{}\"}}", "x".repeat(name_len));
            let mut json = meta.clone().into_bytes();
            pad_json_metadata(&mut json);
            let key = [3u8; 32];
            let out = seal_metadata(&mut rng, &key, &json);
            assert_eq!(out.len(), sealed, "a {name_len}-byte name");
            let opened = open_metadata(&key, &out).expect("opens");
            assert_eq!(
                core::str::from_utf8(&opened).expect("utf-8").trim_end(),
                meta
            );
        }
        let mut huge = alloc::vec![b'a'; 9000];
        pad_json_metadata(&mut huge);
        assert_eq!(huge.len(), 9000, "too large for any bucket: untouched");
    }
}
