//! STREAM: the chunked AEAD over a file, in order or one chunk at a time.

use alloc::vec::Vec;

use aead::{AeadInOut, KeyInit};
use aes_gcm::Aes256Gcm;
use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use super::header::{CipherId, HEADER_LEN, Header};
use crate::{Error, NoctisAead};

/// The 32-byte secret a file is encrypted under: a random data key, or
/// Argon2id of a password. Zeroized on drop; `Debug` shows nothing.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FileKey(pub [u8; 32]);

impl core::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

/// The content cipher, keyed for one file.
#[expect(
    clippy::large_enum_variant,
    reason = "one per file; boxing would only add an allocation"
)]
#[derive(Clone)]
enum ChunkCipher {
    Aes(Aes256Gcm),
    Noctis(NoctisAead),
}

/// HKDF-SHA256(ikm = file key, salt = header salt, info = label ‖ cipher id):
/// 32 bytes for AES-256-GCM, 64 (K_enc ‖ K_mac) for Noctis.
fn content_key_bytes(key: &FileKey, header: &Header) -> Zeroizing<[u8; 64]> {
    let hk = Hkdf::<Sha256>::new(Some(&header.salt), &key.0);
    let info = [
        b"Nocturne v1 file content".as_slice(),
        &[header.cipher as u8],
    ];
    let mut okm = Zeroizing::new([0u8; 64]);
    let len = match header.cipher {
        CipherId::Aes256Gcm => 32,
        CipherId::Noctis256 => 64,
    };
    // 64 bytes is far below HKDF-SHA256's 8160-byte limit.
    let _ = hk.expand_multi_info(&info, &mut okm[..len]);
    okm
}

/// The AES-256-GCM content key of a file whose header names AES-256-GCM,
/// for a caller that runs the chunk AEAD itself: the browser hands it to
/// WebCrypto, whose native AES is far faster than AES in WASM. `None` for
/// any other cipher.
pub fn aes_content_key(key: &FileKey, header: &Header) -> Option<Zeroizing<[u8; 32]>> {
    (header.cipher == CipherId::Aes256Gcm).then(|| {
        let okm = content_key_bytes(key, header);
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&okm[..32]);
        out
    })
}

impl ChunkCipher {
    fn derive(key: &FileKey, header: &Header) -> Self {
        let okm = content_key_bytes(key, header);
        match header.cipher {
            CipherId::Aes256Gcm => ChunkCipher::Aes(
                Aes256Gcm::new_from_slice(&okm[..32]).unwrap_or_else(|_| unreachable!()),
            ),
            CipherId::Noctis256 => ChunkCipher::Noctis(
                NoctisAead::new_from_slice(&okm[..]).unwrap_or_else(|_| unreachable!()),
            ),
        }
    }

    fn seal(&self, nonce: &[u8], aad: &[u8], buffer: &mut Vec<u8>) -> Result<(), Error> {
        match self {
            ChunkCipher::Aes(c) => {
                c.encrypt_in_place(nonce.try_into().map_err(|_| Error::Decrypt)?, aad, buffer)
            }
            ChunkCipher::Noctis(c) => {
                c.encrypt_in_place(nonce.try_into().map_err(|_| Error::Decrypt)?, aad, buffer)
            }
        }
        .map_err(|_| Error::BadChunkLength)
    }

    fn open(&self, nonce: &[u8], aad: &[u8], buffer: &mut Vec<u8>) -> Result<(), Error> {
        let result = match self {
            ChunkCipher::Aes(c) => {
                c.decrypt_in_place(nonce.try_into().map_err(|_| Error::Decrypt)?, aad, buffer)
            }
            ChunkCipher::Noctis(c) => {
                c.decrypt_in_place(nonce.try_into().map_err(|_| Error::Decrypt)?, aad, buffer)
            }
        };
        result.map_err(|_| {
            // Release nothing: the buffer may hold partially processed data.
            buffer.zeroize();
            buffer.clear();
            Error::Decrypt
        })
    }
}

/// The nonce of chunk `index`: `prefix ‖ u32be(index) ‖ last`, where the
/// prefix is the header's nonce prefix cut to the cipher's nonce length
/// minus 5 (7 bytes for AES-256-GCM, 19 for Noctis-256). Exposed so the
/// browser can hand chunks to WebCrypto itself.
pub fn chunk_nonce(header: &Header, index: u32, last: bool) -> ([u8; 24], usize) {
    let len = header.cipher.nonce_len();
    let mut nonce = [0u8; 24];
    nonce[..len - 5].copy_from_slice(&header.nonce_prefix[..len - 5]);
    nonce[len - 5..len - 1].copy_from_slice(&index.to_be_bytes());
    nonce[len - 1] = u8::from(last);
    (nonce, len)
}

/// The number of chunks a `plaintext_len`-byte file has under `header`: at
/// least one, since an empty file is one empty chunk flagged last.
pub fn chunk_count(header: &Header, plaintext_len: u64) -> u64 {
    plaintext_len.div_ceil(u64::from(header.chunk_size)).max(1)
}

/// The encrypted size of a `plaintext_len`-byte file under `header`.
pub fn ciphertext_len(header: &Header, plaintext_len: u64) -> u64 {
    let chunks = chunk_count(header, plaintext_len);
    HEADER_LEN as u64 + plaintext_len + chunks * header.cipher.tag_len() as u64
}

/// The stored size of a full chunk under `header`: `chunk_size` plaintext
/// bytes plus the cipher's tag.
pub fn sealed_chunk_len(header: &Header) -> usize {
    header.chunk_size as usize + header.cipher.tag_len()
}

/// The number of chunks a reader cuts a `file_len`-byte encrypted file
/// (header included) into: full sealed chunks, then whatever remains as the
/// last one; at least one. For the output of [`ciphertext_len`] this is
/// [`chunk_count`]; any other length still gives a count, and then a chunk
/// fails to open (a last chunk shorter than its tag, or one whose nonce says
/// otherwise).
pub fn sealed_chunk_count(header: &Header, file_len: u64) -> u64 {
    file_len
        .saturating_sub(HEADER_LEN as u64)
        .div_ceil(sealed_chunk_len(header) as u64)
        .max(1)
}

/// Encrypts a file chunk by chunk, in order.
pub struct Encryptor {
    cipher: ChunkCipher,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    next: u32,
    /// Chunks between one sealed here and the next (1 unless several
    /// encryptors share the file, see [`Encryptor::with_stride`]).
    step: u32,
    finished: bool,
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("header", &self.header)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Encryptor {
    /// Starts a file under `key` with `header` (see [`Header::generate`]).
    pub fn new(key: &FileKey, header: Header) -> Self {
        Self::with_stride(key, header, 0, 1)
    }

    /// One of `step` encryptors sealing a file side by side (on as many
    /// threads): this one seals chunks `first`, `first + step`, … in that
    /// order, each exactly once, so encryptors made with the same `step`
    /// and different `first` (0 to `step - 1`) never share a nonce and
    /// together seal every chunk. A `step` of 0 counts as 1.
    pub fn with_stride(key: &FileKey, header: Header, first: u32, step: u32) -> Self {
        Encryptor {
            cipher: ChunkCipher::derive(key, &header),
            header_bytes: header.to_bytes(),
            header,
            next: first,
            step: step.max(1),
            finished: false,
        }
    }

    /// The bytes to write before the first chunk.
    pub fn header_bytes(&self) -> &[u8; HEADER_LEN] {
        &self.header_bytes
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The index of the chunk [`Encryptor::seal_next`] seals next.
    pub fn next_index(&self) -> u32 {
        self.next
    }

    /// [`Encryptor::seal_next`] for a caller that numbers its chunks (one
    /// of several strided encryptors, fed by reads that may finish in any
    /// order): chunk `index` must be the one this encryptor seals next, or
    /// nothing is sealed and the error is [`Error::OutOfOrder`].
    pub fn seal_at(&mut self, index: u32, buffer: &mut Vec<u8>, last: bool) -> Result<(), Error> {
        if index != self.next {
            return Err(Error::OutOfOrder);
        }
        self.seal_next(buffer, last)
    }

    /// Encrypts the next chunk in place, appending its tag. A chunk that is
    /// not `last` must hold exactly `chunk_size` bytes; the last one at most
    /// that, and at least one byte unless it is the only chunk.
    pub fn seal_next(&mut self, buffer: &mut Vec<u8>, last: bool) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        check_plaintext_len(&self.header, self.next, buffer.len(), last)?;
        let (nonce, len) = chunk_nonce(&self.header, self.next, last);
        self.cipher
            .seal(&nonce[..len], &self.header_bytes, buffer)?;
        self.finished = last;
        self.next = self
            .next
            .checked_add(self.step)
            .ok_or(Error::TooManyChunks)?;
        Ok(())
    }
}

fn check_plaintext_len(header: &Header, index: u32, len: usize, last: bool) -> Result<(), Error> {
    let full = header.chunk_size as usize;
    let ok = if last {
        len <= full && (len > 0 || index == 0)
    } else {
        len == full
    };
    if ok {
        Ok(())
    } else {
        Err(Error::BadChunkLength)
    }
}

/// Decrypts a file, in order ([`Decryptor::open_next`]) or any chunk on its
/// own ([`Decryptor::open_chunk`]).
pub struct Decryptor {
    cipher: ChunkCipher,
    header: Header,
    header_bytes: [u8; HEADER_LEN],
    next: u32,
    finished: bool,
}

impl core::fmt::Debug for Decryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Decryptor")
            .field("header", &self.header)
            .field("next", &self.next)
            .finish_non_exhaustive()
    }
}

impl Decryptor {
    /// Parses the header at the start of `bytes` and keys the decryptor.
    /// A wrong key is only detected when the first chunk opens.
    pub fn new(key: &FileKey, bytes: &[u8]) -> Result<Self, Error> {
        let header = Header::parse(bytes)?;
        Ok(Self::with_header(key, header))
    }

    /// Keys a decryptor for an already parsed header.
    pub fn with_header(key: &FileKey, header: Header) -> Self {
        Decryptor {
            cipher: ChunkCipher::derive(key, &header),
            header_bytes: header.to_bytes(),
            header,
            next: 0,
            finished: false,
        }
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The on-disk size of a full chunk (plaintext plus tag).
    pub fn sealed_chunk_len(&self) -> usize {
        sealed_chunk_len(&self.header)
    }

    /// Decrypts the next chunk in place (ciphertext with its tag in, plaintext
    /// out). `last` says whether the input ends after this chunk; a stream
    /// that ends without a chunk flagged last fails here.
    pub fn open_next(&mut self, buffer: &mut Vec<u8>, last: bool) -> Result<(), Error> {
        if self.finished {
            return Err(Error::Finished);
        }
        self.open_chunk(self.next, last, buffer)?;
        self.finished = last;
        self.next = self.next.checked_add(1).ok_or(Error::TooManyChunks)?;
        Ok(())
    }

    /// Decrypts chunk `index` on its own. `last` must say whether it is the
    /// file's final chunk (known from the file's total length).
    pub fn open_chunk(&self, index: u32, last: bool, buffer: &mut Vec<u8>) -> Result<(), Error> {
        let tag = self.header.cipher.tag_len();
        let Some(plain_len) = buffer.len().checked_sub(tag) else {
            // Shorter than a tag. (Found by the `decrypt` fuzz target: this
            // path once returned without wiping the buffer.)
            buffer.clear();
            return Err(Error::Decrypt);
        };
        if check_plaintext_len(&self.header, index, plain_len, last).is_err() {
            // A chunk of impossible length is an attack or damage, never a
            // different error the attacker could learn from.
            buffer.clear();
            return Err(Error::Decrypt);
        }
        let (nonce, len) = chunk_nonce(&self.header, index, last);
        self.cipher.open(&nonce[..len], &self.header_bytes, buffer)
    }
}
