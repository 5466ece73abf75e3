//! Nocturne's encrypted file format, version 1.
//!
//! ```text
//! header (80 bytes, authenticated as associated data of every chunk)
//! chunk 0, chunk 1, …, chunk n-1 (the last one flagged)
//! ```
//!
//! Each chunk is `AEAD(content key, nonce_prefix ‖ u32be(index) ‖ last, header, plaintext)`:
//! full chunks carry exactly `chunk_size` plaintext bytes, the last one
//! `1..=chunk_size` (0 only for an empty file). This is the STREAM
//! construction of Hoang, Reyhanitabar, Rogaway and Vizár, which makes
//! truncation, reordering, dropping and appending chunks detectable, and
//! lets any chunk be decrypted on its own (ranged downloads). The content
//! key comes from the file key and the header's random salt through HKDF, so
//! a chunk moved from another file never authenticates. The byte-level
//! specification is `docs/format.md`.

mod header;
mod padding;
mod stream;

pub use header::{
    Argon2Params, CipherId, HEADER_LEN, Header, KeySource, MAX_CHUNK_SIZE, MIN_CHUNK_SIZE,
};
pub use padding::padded_len;
pub use stream::{
    Decryptor, Encryptor, FileKey, aes_content_key, chunk_count, chunk_nonce, ciphertext_len,
    sealed_chunk_count, sealed_chunk_len,
};

/// The default plaintext bytes per chunk: 512 KiB. Chromium allocates a
/// buffer of a MiB or more straight from the OS each time (mapped, faulted
/// in, unmapped), and a WebCrypto call makes two such buffers per chunk:
/// its AES-256-GCM ran at 501 MiB/s on 1 MiB chunks and 1,730 MiB/s on
/// 512 KiB ones on the same machine. The tag costs 16 bytes per chunk
/// either way. Files with other chunk sizes (1 MiB before) read the same.
pub const DEFAULT_CHUNK_SIZE: u32 = 1 << 19;
