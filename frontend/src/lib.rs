//! The browser side of Nocturne.
//!
//! cargo-leptos compiles this crate to `wasm32-unknown-unknown` and runs
//! `wasm-bindgen` over it; the server-rendered page loads the result and calls
//! [`hydrate`], which attaches the `app` crate's components to the HTML the
//! server already sent. The same module also serves the crypto worker
//! (`public/crypto-worker.js`), which calls [`derive_account_keys`] so that
//! Argon2id never blocks the page, and the file worker
//! (`public/file-worker.js`), which encrypts uploads and decrypts downloads
//! with the exports of [`files`].

// The dashboard's view types nest deeply; computing their layout for
// hydration needs more than the default 128 levels.
#![recursion_limit = "256"]

use wasm_bindgen::prelude::{JsError, wasm_bindgen};

mod files;

pub use files::{
    FileOpener, FileSealer, Sha256Stream, aes_content_key, chunk_count, chunk_nonce, chunk_size,
    ciphertext_len, header_len, is_aes_256_gcm, sealed_chunk_count, sealed_chunk_len, tag_len,
};

/// Attaches the Leptos application to the server-rendered `<body>`.
///
/// Called once by the module script that `HydrationScripts` emits.
#[wasm_bindgen]
pub fn hydrate() {
    // A panic in the page otherwise shows up as an opaque `unreachable` trap.
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_lazy(app::App);
}

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
