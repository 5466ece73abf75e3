//! The recovery key's two spellings, both with a checksum so typos are
//! caught before anything is tried against the server:
//!
//! - **hex**: the 32 bytes as 64 hex digits followed by 4 hex digits of
//!   checksum (the first two bytes of SHA-256 of the key), shown in groups
//!   of four: `1a2b 3c4d … 9f0e  c0de`;
//! - **words**: the BIP-39 English phrase of the 32 bytes (24 words, the
//!   last carrying an 8-bit checksum).
//!
//! Both parse with any spacing and case. Errors give the position of what is
//! wrong, never the text itself (it may be most of a secret).

use alloc::{string::String, vec::Vec};

use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use crate::Error;

/// Number of hex digits in the hex form (key + checksum).
pub const HEX_DIGITS: usize = 68;

fn checksum(key: &[u8; 32]) -> [u8; 2] {
    let digest = Sha256::digest(key);
    [digest[0], digest[1]]
}

/// The hex form, grouped in fours for reading aloud.
pub fn to_hex(key: &[u8; 32]) -> Zeroizing<String> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut bytes = Zeroizing::new(Vec::with_capacity(34));
    bytes.extend_from_slice(key);
    bytes.extend_from_slice(&checksum(key));
    let mut out = Zeroizing::new(String::with_capacity(HEX_DIGITS + HEX_DIGITS / 4));
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 && i % 2 == 0 {
            out.push(' ');
        }
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Parses the hex form, ignoring whitespace and case.
pub fn from_hex(text: &str) -> Result<Zeroizing<[u8; 32]>, Error> {
    let mut bytes = Zeroizing::new([0u8; 34]);
    let mut count = 0usize;
    for (position, c) in text.chars().enumerate() {
        if c.is_whitespace() || c == '-' {
            continue;
        }
        let Some(value) = c.to_digit(16) else {
            return Err(Error::RecoveryCharacter {
                position: position + 1,
            });
        };
        if count < HEX_DIGITS {
            bytes[count / 2] |= (value as u8) << if count.is_multiple_of(2) { 4 } else { 0 };
        }
        count += 1;
    }
    if count != HEX_DIGITS {
        return Err(Error::RecoveryLength {
            expected: HEX_DIGITS,
            found: count,
        });
    }
    let mut key = Zeroizing::new([0u8; 32]);
    key.copy_from_slice(&bytes[..32]);
    if checksum(&key) != bytes[32..34] {
        return Err(Error::RecoveryChecksum);
    }
    Ok(key)
}

/// The 24-word BIP-39 English phrase.
pub fn to_words(key: &[u8; 32]) -> Zeroizing<String> {
    match bip39::Mnemonic::from_entropy(key) {
        Ok(m) => Zeroizing::new(alloc::format!("{m}")),
        // 32 bytes is a valid BIP-39 entropy length: this cannot happen.
        Err(_) => Zeroizing::new(String::new()),
    }
}

/// Parses the phrase, ignoring spacing and case.
pub fn from_words(text: &str) -> Result<Zeroizing<[u8; 32]>, Error> {
    let normalized = Zeroizing::new(
        text.split_whitespace()
            .map(str::to_lowercase)
            .collect::<Vec<_>>()
            .join(" "),
    );
    let words = normalized.split(' ').filter(|w| !w.is_empty()).count();
    if words != 24 {
        return Err(Error::RecoveryLength {
            expected: 24,
            found: words,
        });
    }
    let mnemonic = bip39::Mnemonic::parse_in_normalized(bip39::Language::English, &normalized)
        .map_err(|e| match e {
            bip39::Error::UnknownWord(index) => Error::RecoveryWord {
                position: index + 1,
            },
            bip39::Error::InvalidChecksum => Error::RecoveryChecksum,
            _ => Error::RecoveryLength {
                expected: 24,
                found: words,
            },
        })?;
    let (entropy, len) = mnemonic.to_entropy_array();
    let mut key = Zeroizing::new([0u8; 32]);
    if len != 32 {
        return Err(Error::RecoveryLength {
            expected: 24,
            found: words,
        });
    }
    key.copy_from_slice(&entropy[..32]);
    Ok(key)
}
