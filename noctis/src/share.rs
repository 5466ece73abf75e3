//! Share links: what `https://host/s/<id>#<secret>` opens, and how.
//!
//! - The **fragment secret** (32 random-looking bytes, base64url in the URL
//!   fragment, which browsers never send) is derived by the owner from the
//!   master key and a random per-link seed the server stores
//!   ([`link_secret`]). The owner can thus re-derive it to change the
//!   password without anyone pasting the link back, and the server, which
//!   has the seed but not the master key, cannot.
//! - With a password, Argon2id(password, link salt) (the same 64-byte
//!   derivation as an account's, so the browser's worker runs it) is mixed
//!   in: [`link_keys`] takes HKDF-SHA256 over `secret ‖ argon2id output`,
//!   salted with the link's salt. A leaked URL alone lacks the password; a
//!   stolen database alone lacks the 256-bit secret.
//! - From that material come two independent keys: the **link key**, which
//!   wraps each shared file's data key ([`SHARED_FILE_KEY`]), and the
//!   **access token**, of which the server keeps a hash and which it asks
//!   for before it releases wrapped keys or ciphertext. The server can
//!   therefore check a password attempt (and rate-limit it) without being
//!   able to decrypt anything.

use zeroize::Zeroizing;

use crate::keys::{self, AccountKeys};

/// Purpose of a file's data key wrapped under a share link's key.
pub const SHARED_FILE_KEY: &[u8] = b"shared file key";

/// Bytes of the fragment secret (256 bits; the issue asks for at least 128).
pub const SECRET_LEN: usize = 32;

/// What a link's secret (and password) yields.
#[derive(zeroize::Zeroize, zeroize::ZeroizeOnDrop)]
pub struct LinkKeys {
    /// Wraps the shared files' data keys. Never sent anywhere.
    pub key: [u8; 32],
    /// Proves to the server that the opener has the secret (and password);
    /// the server keeps only a hash of it.
    pub token: [u8; 32],
}

impl core::fmt::Debug for LinkKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("LinkKeys(..)")
    }
}

/// The fragment secret of the link with `seed`, from the owner's master key.
pub fn link_secret(master: &[u8; 32], seed: &[u8]) -> Zeroizing<[u8; SECRET_LEN]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(seed), master);
    let mut out = Zeroizing::new([0u8; SECRET_LEN]);
    // 32 bytes is far below HKDF-SHA256's limit.
    let _ = hk.expand(b"Nocturne v1 share link secret", out.as_mut_slice());
    out
}

/// The link key and access token from the fragment secret, the link's salt
/// and, for a password-protected link, Argon2id of the password under that
/// salt (`keys::account_keys(password, salt, params)`).
pub fn link_keys(
    secret: &[u8; SECRET_LEN],
    password: Option<&AccountKeys>,
    salt: &[u8],
) -> LinkKeys {
    let mut ikm = Zeroizing::new([0u8; SECRET_LEN + 64 + 1]);
    ikm[..SECRET_LEN].copy_from_slice(secret);
    // The last byte says whether a password is mixed in, so a link without
    // one can never be confused with one whose Argon2id output is zero.
    let len = match password {
        Some(p) => {
            ikm[SECRET_LEN..SECRET_LEN + 32].copy_from_slice(&p.kek);
            ikm[SECRET_LEN + 32..SECRET_LEN + 64].copy_from_slice(&p.auth);
            ikm[SECRET_LEN + 64] = 1;
            ikm.len()
        }
        None => SECRET_LEN + 1, // ikm[SECRET_LEN] stays 0
    };
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(Some(salt), &ikm[..len]);
    let mut keys = LinkKeys {
        key: [0; 32],
        token: [0; 32],
    };
    let _ = hk.expand(b"Nocturne v1 share link key", &mut keys.key);
    let _ = hk.expand(b"Nocturne v1 share access token", &mut keys.token);
    keys
}

/// The link proof: HKDF-SHA256 of the fragment secret alone (no salt, so
/// it survives a password change), info `"Nocturne v1 share link proof"`.
pub fn link_proof(secret: &[u8; SECRET_LEN]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, secret);
    let mut out = Zeroizing::new([0u8; 32]);
    let _ = hk.expand(b"Nocturne v1 share link proof", out.as_mut_slice());
    out
}

/// Associated data of a sealed file list.
const FILE_LIST: &[u8] = b"share link file list";

/// Bytes of a file id in a sealed list.
pub const FILE_ID_LEN: usize = 16;

fn file_list_key(secret: &[u8; SECRET_LEN]) -> Zeroizing<[u8; 32]> {
    let hk = hkdf::Hkdf::<sha2::Sha256>::new(None, secret);
    let mut out = Zeroizing::new([0u8; 32]);
    let _ = hk.expand(b"Nocturne v1 share link file list", out.as_mut_slice());
    out
}

/// Seals the ids of a link's files under a key from its secret:
/// AES-256-GCM, random nonce, `nonce (12) ‖ ids (16 each) ‖ tag (16)`.
pub fn seal_file_list(
    rng: &mut impl rand_core::CryptoRng,
    secret: &[u8; SECRET_LEN],
    ids: &[[u8; FILE_ID_LEN]],
) -> alloc::vec::Vec<u8> {
    use aead::{AeadInOut, KeyInit};
    let key = file_list_key(secret);
    let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
    let mut nonce = aead::Nonce::<aes_gcm::Aes256Gcm>::default();
    rng.fill_bytes(&mut nonce);
    let mut out = alloc::vec::Vec::with_capacity(12 + ids.len() * FILE_ID_LEN + 16);
    out.extend_from_slice(&nonce);
    ids.iter().for_each(|id| out.extend_from_slice(id));
    match cipher.encrypt_inout_detached(&nonce, FILE_LIST, out[12..].as_mut().into()) {
        Ok(tag) => out.extend_from_slice(&tag),
        // Only messages beyond GCM's 64 GiB limit fail.
        Err(_) => out.truncate(0),
    }
    out
}

/// Opens what [`seal_file_list`] made; a wrong secret, another link's
/// list, or any change gives the opaque [`crate::Error::Decrypt`].
pub fn open_file_list(
    secret: &[u8; SECRET_LEN],
    sealed: &[u8],
) -> Result<alloc::vec::Vec<[u8; FILE_ID_LEN]>, crate::Error> {
    use aead::{AeadInOut, KeyInit};
    if sealed.len() < 28 || !(sealed.len() - 28).is_multiple_of(FILE_ID_LEN) {
        return Err(crate::Error::Decrypt);
    }
    let key = file_list_key(secret);
    let cipher = aes_gcm::Aes256Gcm::new((&*key).into());
    let (nonce, rest) = sealed.split_at(12);
    let (body, tag) = rest.split_at(rest.len() - 16);
    let mut ids = alloc::vec::Vec::from(body);
    let nonce = nonce.try_into().map_err(|_| crate::Error::Decrypt)?;
    let tag = tag.try_into().map_err(|_| crate::Error::Decrypt)?;
    cipher
        .decrypt_inout_detached(nonce, FILE_LIST, ids.as_mut_slice().into(), tag)
        .map_err(|_| crate::Error::Decrypt)?;
    Ok(ids
        .chunks_exact(FILE_ID_LEN)
        .map(|c| {
            let mut id = [0u8; FILE_ID_LEN];
            id.copy_from_slice(c);
            id
        })
        .collect())
}

/// Wraps a file's data key for a link.
pub fn wrap_file_key(
    rng: &mut impl rand_core::CryptoRng,
    link: &LinkKeys,
    data_key: &[u8; 32],
) -> [u8; keys::WRAPPED_LEN] {
    keys::wrap_key(rng, &link.key, data_key, SHARED_FILE_KEY)
}

/// Unwraps what [`wrap_file_key`] made; a wrong secret or password gives
/// the opaque [`crate::Error::Decrypt`].
pub fn unwrap_file_key(
    link: &LinkKeys,
    wrapped: &[u8],
) -> Result<Zeroizing<[u8; 32]>, crate::Error> {
    keys::unwrap_key(&link.key, wrapped, SHARED_FILE_KEY)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{SeedableRng, rngs::StdRng};

    fn argon(byte: u8) -> AccountKeys {
        AccountKeys {
            kek: [byte; 32],
            auth: [byte ^ 0x55; 32],
        }
    }

    #[test]
    fn the_proof_needs_the_secret_and_nothing_else() {
        let secret = [1u8; 32];
        assert_eq!(*link_proof(&secret), *link_proof(&secret));
        assert_ne!(*link_proof(&secret), *link_proof(&[2u8; 32]));
        // Independent of the key and token, with or without a password.
        for keys in [
            link_keys(&secret, None, b"salt"),
            link_keys(&secret, Some(&argon(3)), b"salt"),
        ] {
            assert_ne!(*link_proof(&secret), keys.token);
            assert_ne!(*link_proof(&secret), keys.key);
        }
    }

    #[test]
    fn a_file_list_opens_only_under_its_secret_and_unchanged() {
        let mut rng = StdRng::seed_from_u64(5);
        let secret = [9u8; 32];
        let ids = [[1u8; 16], [2u8; 16], [3u8; 16]];
        let sealed = seal_file_list(&mut rng, &secret, &ids);
        assert_eq!(sealed.len(), 12 + 3 * 16 + 16);
        assert_eq!(open_file_list(&secret, &sealed).expect("opens"), ids);
        assert!(open_file_list(&[8u8; 32], &sealed).is_err());
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert!(open_file_list(&secret, &bad).is_err(), "byte {i}");
        }
        assert!(open_file_list(&secret, &sealed[..sealed.len() - 16]).is_err());
        let empty = seal_file_list(&mut rng, &secret, &[]);
        assert_eq!(
            open_file_list(&secret, &empty).expect("opens"),
            alloc::vec::Vec::<[u8; 16]>::new()
        );
    }

    #[test]
    fn the_owner_rederives_the_secret_and_seeds_separate_links() {
        let master = [7u8; 32];
        assert_eq!(
            *link_secret(&master, b"seed-a"),
            *link_secret(&master, b"seed-a")
        );
        assert_ne!(
            *link_secret(&master, b"seed-a"),
            *link_secret(&master, b"seed-b")
        );
        assert_ne!(
            *link_secret(&master, b"seed-a"),
            *link_secret(&[8u8; 32], b"seed-a")
        );
    }

    #[test]
    fn key_and_token_depend_on_secret_password_and_salt() {
        let secret = [1u8; 32];
        let base = link_keys(&secret, Some(&argon(3)), b"salt");
        assert_ne!(base.key, base.token);
        for other in [
            link_keys(&[2u8; 32], Some(&argon(3)), b"salt"),
            link_keys(&secret, Some(&argon(4)), b"salt"),
            link_keys(&secret, None, b"salt"),
            link_keys(&secret, Some(&argon(3)), b"pepper"),
        ] {
            assert_ne!(base.key, other.key);
            assert_ne!(base.token, other.token);
        }
        // A zero Argon2id output is still not "no password".
        let zero = link_keys(&secret, Some(&argon(0)), b"salt");
        assert_ne!(zero.key, link_keys(&secret, None, b"salt").key);
    }

    #[test]
    fn a_wrapped_file_key_opens_only_with_the_same_link_keys() {
        let mut rng = StdRng::seed_from_u64(1);
        let link = link_keys(&[9u8; 32], Some(&argon(1)), b"salt");
        let data_key = [42u8; 32];
        let wrapped = wrap_file_key(&mut rng, &link, &data_key);
        assert_eq!(*unwrap_file_key(&link, &wrapped).expect("opens"), data_key);
        let wrong = link_keys(&[9u8; 32], Some(&argon(2)), b"salt");
        assert!(unwrap_file_key(&wrong, &wrapped).is_err());
        // The purpose is bound: an account-wrapped key does not open here.
        let as_file_key = keys::wrap_key(&mut rng, &link.key, &data_key, crate::account::FILE_KEY);
        assert!(unwrap_file_key(&link, &as_file_key).is_err());
        let mut flipped = wrapped;
        flipped[20] ^= 1;
        assert!(unwrap_file_key(&link, &flipped).is_err());
    }
}
