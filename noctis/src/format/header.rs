//! The 80-byte header.

use crate::Error;

/// The header's length in bytes.
pub const HEADER_LEN: usize = 80;
/// The smallest allowed chunk size (plaintext bytes).
pub const MIN_CHUNK_SIZE: u32 = 4 * 1024;
/// The largest allowed chunk size, which bounds a decryptor's memory.
pub const MAX_CHUNK_SIZE: u32 = 16 * 1024 * 1024;

const MAGIC: &[u8; 6] = b"NOCTRN";
const VERSION: u8 = 1;

/// The content cipher.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CipherId {
    /// AES-256-GCM, 12-byte nonces, 16-byte tags. The default.
    Aes256Gcm = 1,
    /// Noctis-256-CTR-HMAC-SHA3-256, 24-byte nonces, 32-byte tags.
    /// Experimental, not audited.
    Noctis256 = 2,
}

impl CipherId {
    /// The tag length this cipher appends to every chunk.
    pub fn tag_len(self) -> usize {
        match self {
            CipherId::Aes256Gcm => 16,
            CipherId::Noctis256 => 32,
        }
    }

    /// The nonce length of this cipher.
    pub fn nonce_len(self) -> usize {
        match self {
            CipherId::Aes256Gcm => 12,
            CipherId::Noctis256 => 24,
        }
    }

    fn from_byte(b: u8) -> Result<Self, Error> {
        match b {
            1 => Ok(CipherId::Aes256Gcm),
            2 => Ok(CipherId::Noctis256),
            other => Err(Error::UnknownCipher(other)),
        }
    }
}

/// Argon2id parameters stored in a password-encrypted file's header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Params {
    /// Memory in KiB.
    pub m_kib: u32,
    /// Passes.
    pub t: u32,
    /// Lanes.
    pub p: u32,
}

/// Where the 32-byte file key comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeySource {
    /// Supplied by the caller (a random data key wrapped elsewhere, as for
    /// uploads: the wrapped key lives with the account, not in the file).
    External,
    /// Argon2id of a password with the header's salt and these parameters
    /// (`nocturne encrypt`).
    Password(Argon2Params),
}

/// A parsed header. Everything in it is public; none of it is secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The content cipher.
    pub cipher: CipherId,
    /// Plaintext bytes per full chunk.
    pub chunk_size: u32,
    /// Where the file key comes from.
    pub key_source: KeySource,
    /// Random per file: makes the content key unique to this file even if
    /// the file key is not.
    pub salt: [u8; 32],
    /// Random per file: the fixed part of every chunk nonce.
    pub nonce_prefix: [u8; 19],
}

impl Header {
    /// A header with fresh randomness from `rng`.
    pub fn generate(
        rng: &mut impl rand_core::CryptoRng,
        cipher: CipherId,
        chunk_size: u32,
        key_source: KeySource,
    ) -> Result<Self, Error> {
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(Error::BadChunkSize(chunk_size));
        }
        let mut salt = [0u8; 32];
        let mut nonce_prefix = [0u8; 19];
        rng.fill_bytes(&mut salt);
        rng.fill_bytes(&mut nonce_prefix);
        Ok(Header {
            cipher,
            chunk_size,
            key_source,
            salt,
            nonce_prefix,
        })
    }

    /// The header's 80 bytes.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = [0u8; HEADER_LEN];
        out[0..6].copy_from_slice(MAGIC);
        out[6] = VERSION;
        out[7] = self.cipher as u8;
        out[8..12].copy_from_slice(&self.chunk_size.to_be_bytes());
        if let KeySource::Password(p) = self.key_source {
            out[12] = 1;
            out[68..72].copy_from_slice(&p.m_kib.to_be_bytes());
            out[72..76].copy_from_slice(&p.t.to_be_bytes());
            out[76..80].copy_from_slice(&p.p.to_be_bytes());
        }
        out[16..48].copy_from_slice(&self.salt);
        out[48..67].copy_from_slice(&self.nonce_prefix);
        out
    }

    /// Parses the first [`HEADER_LEN`] bytes of `bytes`, checking every
    /// field. Nothing here is authenticated yet: that happens when the
    /// first chunk opens (the header is every chunk's associated data).
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() < MAGIC.len() || &bytes[..MAGIC.len()] != MAGIC {
            return Err(if bytes.len() < MAGIC.len() && MAGIC.starts_with(bytes) {
                Error::TruncatedHeader
            } else {
                Error::NotNocturne
            });
        }
        let Some(h) = bytes.get(..HEADER_LEN) else {
            return Err(Error::TruncatedHeader);
        };
        if h[6] != VERSION {
            return Err(Error::UnsupportedVersion(h[6]));
        }
        let cipher = CipherId::from_byte(h[7])?;
        let chunk_size = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
        if !(MIN_CHUNK_SIZE..=MAX_CHUNK_SIZE).contains(&chunk_size) {
            return Err(Error::BadChunkSize(chunk_size));
        }
        let be = |i: usize| u32::from_be_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        let key_source = match h[12] {
            0 => {
                if h[68..80].iter().any(|&b| b != 0) {
                    return Err(Error::MalformedHeader);
                }
                KeySource::External
            }
            1 => {
                let params = Argon2Params {
                    m_kib: be(68),
                    t: be(72),
                    p: be(76),
                };
                let max = crate::keys::MAX_ARGON2;
                if params.m_kib == 0
                    || params.t == 0
                    || params.p == 0
                    || params.m_kib > max.m_kib
                    || params.t > max.t
                    || params.p > max.p
                {
                    return Err(Error::MalformedHeader);
                }
                KeySource::Password(params)
            }
            other => return Err(Error::UnknownKeySource(other)),
        };
        if h[13..16].iter().any(|&b| b != 0) || h[67] != 0 {
            return Err(Error::MalformedHeader);
        }
        let mut salt = [0u8; 32];
        salt.copy_from_slice(&h[16..48]);
        let mut nonce_prefix = [0u8; 19];
        nonce_prefix.copy_from_slice(&h[48..67]);
        Ok(Header {
            cipher,
            chunk_size,
            key_source,
            salt,
            nonce_prefix,
        })
    }
}
