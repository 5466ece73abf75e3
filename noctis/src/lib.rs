//! All of Nocturne's cryptography, the same code on the server, in the CLI
//! and in the browser.
//!
//! This crate is `no_std` + `alloc`, builds for `wasm32-unknown-unknown`,
//! does no I/O, reads no clock and takes its randomness as an argument, so
//! that the browser worker and the native binary run exactly the same code.
//!
//! - [`Noctis256`]: the experimental 256-bit block cipher (RustCrypto
//!   `cipher` traits; `ctr::Ctr64BE<Noctis256>` is its CTR keystream).
//!   **Experimental, not audited**: AES-256-GCM stays Nocturne's default.
//! - [`NoctisAead`]: Noctis-256-CTR-HMAC-SHA3-256 (RustCrypto `aead` traits).
//! - [`format`]: the versioned streaming file format (header + STREAM
//!   chunks) over AES-256-GCM or the Noctis AEAD, with its pieces exposed
//!   for the browser's WebCrypto path.
//! - [`keys`]: Argon2id password and account keys, HKDF subkeys, key wrapping.
//! - [`account`]: the account hierarchy built from them (master key,
//!   recovery keys, per-file data keys and sealed metadata).
//! - [`recovery`]: the recovery key as checksummed hex and as a word phrase.
//! - [`share`]: share links (fragment secret, optional password, link key
//!   and the access token the server checks).
//! - [`Error`]: the crate's one error type; decryption failure is opaque.
//!

#![no_std]

extern crate alloc;
#[cfg(test)]
extern crate std;

pub use aead;
pub use cipher;

pub mod account;
mod error;
pub mod format;
pub mod keys;
mod noctis256;
mod noctis_aead;
pub mod recovery;
pub mod share;

pub use error::Error;
pub use noctis_aead::NoctisAead;
pub use noctis256::Noctis256;
