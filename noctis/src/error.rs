//! The crate's one error type.

/// Everything that can go wrong in `noctis`.
///
/// Decryption failure is deliberately one opaque variant: whether the key
/// was wrong, a bit flipped, a chunk was moved, dropped or added, the caller
/// learns only that the data is not authentic, and no plaintext is released.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The data does not start with Nocturne's magic bytes.
    #[error("not a Nocturne encrypted file")]
    NotNocturne,
    /// The header is shorter than the format requires.
    #[error("the encrypted file is truncated inside its header")]
    TruncatedHeader,
    /// A format version this build does not know.
    #[error("unsupported format version {0}")]
    UnsupportedVersion(u8),
    /// A cipher id this build does not know.
    #[error("unknown cipher id {0}")]
    UnknownCipher(u8),
    /// A key-source id this build does not know.
    #[error("unknown key source {0}")]
    UnknownKeySource(u8),
    /// The header's chunk size is outside the allowed range.
    #[error("chunk size {0} is outside 4 KiB..=16 MiB")]
    BadChunkSize(u32),
    /// Reserved header bytes are not zero, or Argon2 parameters are present
    /// where they must not be (or absent where they must be).
    #[error("malformed header")]
    MalformedHeader,
    /// A chunk is larger than the header's chunk size allows, or a chunk
    /// that is not the last one is not full.
    #[error("chunk of the wrong size")]
    BadChunkLength,
    /// More chunks than the 32-bit counter can number.
    #[error("too many chunks")]
    TooManyChunks,
    /// Chunks were requested after the last one.
    #[error("the stream is already finished")]
    Finished,
    /// Authentication failed: wrong key, or the data was modified,
    /// truncated, reordered or extended.
    #[error("decryption failed: wrong key, or the data was modified")]
    Decrypt,
}
