//! The WASM module of Nocturne's Web Workers (`nocturne-worker.js` and
//! `nocturne-worker_bg.wasm` under `/pkg/`).
//!
//! `cargo xtask build` compiles this crate to `wasm32-unknown-unknown` and
//! runs `wasm-bindgen --target web` and `wasm-opt` over it, beside the page's
//! bundle (the `frontend` crate). Only the workers load it:
//!
//! - the crypto worker (`public/crypto-worker.js`) calls
//!   [`derive_account_keys`], so Argon2id never blocks the page;
//! - the file worker (`public/file-worker.js`) and its chunk workers
//!   (`public/chunk-worker.js`) encrypt uploads and decrypt downloads with
//!   the exports of `files`.
//!
//! Kept apart from the page so the page's first load carries no file
//! cryptography and the workers compile no Leptos.

use wasm_bindgen::prelude::{JsError, wasm_bindgen};

mod files;

pub use files::{
    FileOpener, FileSealer, Sha256Stream, aes_content_key, chunk_count, chunk_nonce, chunk_size,
    ciphertext_len, header_len, is_aes_256_gcm, sealed_chunk_count, sealed_chunk_len, tag_len,
};

/// Argon2id of `password` with the account's salt and cost: 64 bytes, the
/// key-encryption key then the auth key (`noctis::keys::account_keys`).
/// Runs in the crypto worker; the page never calls it directly.
#[wasm_bindgen]
pub fn derive_account_keys(
    password: &str,
    salt: &[u8],
    m_kib: u32,
    t: u32,
    p: u32,
) -> Result<Vec<u8>, JsError> {
    let keys = noctis::keys::account_keys(
        password.as_bytes(),
        salt,
        noctis::format::Argon2Params { m_kib, t, p },
    )
    .map_err(|_| JsError::new("these key-derivation settings are refused"))?;
    let mut out = Vec::with_capacity(64);
    out.extend_from_slice(&keys.kek);
    out.extend_from_slice(&keys.auth);
    Ok(out)
}
