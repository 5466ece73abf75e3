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
    /// A chunk was handed to an encryptor that seals another one next
    /// ([`crate::format::Encryptor::seal_at`]): sealing it would put it under
    /// the wrong chunk's nonce.
    #[error("file chunks reached the encryptor out of order")]
    OutOfOrder,
    /// A recovery key holds a character that is neither a hex digit nor
    /// spacing, at this 1-based position.
    #[error("character {position} of the recovery key is not a hex digit")]
    RecoveryCharacter {
        /// 1-based position in the text as typed.
        position: usize,
    },
    /// A recovery key has the wrong number of hex digits or words.
    #[error("the recovery key has {found} digits or words; it should have {expected}")]
    RecoveryLength {
        /// How many it should have.
        expected: usize,
        /// How many were found.
        found: usize,
    },
    /// A word of a recovery phrase is not in the word list.
    #[error("word {position} of the recovery phrase is not in the word list")]
    RecoveryWord {
        /// 1-based position of the word.
        position: usize,
    },
    /// A recovery key's checksum does not match: a typo somewhere.
    #[error("the recovery key's checksum does not match: check it for typos")]
    RecoveryChecksum,
    /// Authentication failed: wrong key, or the data was modified,
    /// truncated, reordered or extended.
    #[error("decryption failed: wrong key, or the data was modified")]
    Decrypt,
}
