//! The file format for the file worker (`public/file-worker.js`).
//!
//! The worker drives the pipeline (reading the `File`, fetch, progress) in
//! JavaScript, where those browser APIs live, and calls in here for the
//! parts that must be the exact bytes `noctis` writes: sealing and opening
//! chunks in WASM (Noctis-256 always; AES-256-GCM where WebCrypto is
//! missing, e.g. a page served over plain HTTP to another host), the AES
//! content key for WebCrypto, and the running SHA-256 the server checks.

use noctis::format::{self, Decryptor, Encryptor, FileKey, Header};
use sha2::Digest as _;
use wasm_bindgen::prelude::{JsError, wasm_bindgen};

/// The one message every authentication failure gives: nothing about where
/// or why, so a tampered file teaches an attacker nothing.
const MODIFIED: &str = "modified";

fn file_key(data_key: &[u8]) -> Result<FileKey, JsError> {
    let key: [u8; 32] = data_key
        .try_into()
        .map_err(|_| JsError::new("a file key is 32 bytes"))?;
    Ok(FileKey(key))
}

fn header(bytes: &[u8]) -> Result<Header, JsError> {
    Header::parse(bytes).map_err(|_| JsError::new("not a Nocturne file"))
}

/// The AES-256-GCM content key of a file, for `crypto.subtle.importKey`.
#[wasm_bindgen]
pub fn aes_content_key(data_key: &[u8], header_bytes: &[u8]) -> Result<Vec<u8>, JsError> {
    let key = file_key(data_key)?;
    format::aes_content_key(&key, &header(header_bytes)?)
        .map(|k| k.to_vec())
        .ok_or_else(|| JsError::new("this file is not AES-256-GCM"))
}

/// Seals a file's chunks in order.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileSealer(Encryptor);

#[wasm_bindgen]
impl FileSealer {
    /// Keys the sealer for `header_bytes` (the 80-byte header the page
    /// generated and recorded in the upload's sealed metadata).
    #[wasm_bindgen(constructor)]
    pub fn new(data_key: &[u8], header_bytes: &[u8]) -> Result<FileSealer, JsError> {
        Ok(FileSealer(Encryptor::new(
            &file_key(data_key)?,
            header(header_bytes)?,
        )))
    }

    /// The next chunk's ciphertext and tag.
    pub fn seal(&mut self, plaintext: Vec<u8>, last: bool) -> Result<Vec<u8>, JsError> {
        let mut buffer = plaintext;
        self.0
            .seal_next(&mut buffer, last)
            .map_err(|e| JsError::new(&e.to_string()))?;
        Ok(buffer)
    }
}

/// Opens a file's chunks.
#[wasm_bindgen]
#[derive(Debug)]
pub struct FileOpener(Decryptor);

#[wasm_bindgen]
impl FileOpener {
    /// Keys the opener from the file's first 80 bytes.
    #[wasm_bindgen(constructor)]
    pub fn new(data_key: &[u8], header_bytes: &[u8]) -> Result<FileOpener, JsError> {
        Ok(FileOpener(Decryptor::with_header(
            &file_key(data_key)?,
            header(header_bytes)?,
        )))
    }

    /// Plaintext of chunk `index`, or the error `modified` (and nothing
    /// else) if it does not authenticate.
    pub fn open(&self, index: u32, last: bool, sealed: Vec<u8>) -> Result<Vec<u8>, JsError> {
        let mut buffer = sealed;
        self.0
            .open_chunk(index, last, &mut buffer)
            .map_err(|_| JsError::new(MODIFIED))?;
        Ok(buffer)
    }
}

/// SHA-256 over a stream of buffers (WebCrypto's digest is one-shot).
#[wasm_bindgen]
#[derive(Debug, Default)]
pub struct Sha256Stream(sha2::Sha256);

#[wasm_bindgen]
impl Sha256Stream {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Sha256Stream {
        Sha256Stream::default()
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    /// The digest as lowercase hex; the hasher starts over.
    pub fn finish(&mut self) -> String {
        let digest = self.0.finalize_reset();
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}
