//! The file format for the file worker (`public/file-worker.js`).
//!
//! The worker drives the pipeline (reading the `File`, fetch, progress) in
//! JavaScript, where those browser APIs live, and calls in here for the
//! parts that must be the exact bytes `noctis` writes: sealing and opening
//! chunks in WASM (Noctis-256 always; AES-256-GCM where WebCrypto is
//! missing, e.g. a page served over plain HTTP to another host), the AES
//! content key for WebCrypto, and the running SHA-256 the server checks.
//!
//! It also asks here for every fact about the format's layout (header
//! length, chunk size, tag length, nonces, chunk counts, encrypted size),
//! each computed by `noctis::format` from the file's header, so the worker
//! repeats none of the format's numbers. Byte counts that can exceed 2^32
//! cross as `f64` (a JS number), exact up to 2^53 − 1; anything beyond that
//! is an error rather than a rounded number.

use noctis::format::{self, CipherId, Decryptor, Encryptor, FileKey, HEADER_LEN, Header};
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

/// The largest integer a JS number holds exactly: 2^53 − 1
/// (`Number.MAX_SAFE_INTEGER`).
const MAX_SAFE_INTEGER: u64 = (1 << f64::MANTISSA_DIGITS) - 1;

/// A byte count from JS: a whole, non-negative number it holds exactly.
fn from_js_count(n: f64) -> Result<u64, JsError> {
    if n.is_finite() && n >= 0.0 && n.fract() == 0.0 && n <= MAX_SAFE_INTEGER as f64 {
        Ok(n as u64)
    } else {
        Err(JsError::new("not a whole number of bytes below 2^53"))
    }
}

/// A count for JS, if a JS number holds it exactly.
fn to_js_count(n: u64) -> Result<f64, JsError> {
    if n <= MAX_SAFE_INTEGER {
        Ok(n as f64)
    } else {
        Err(JsError::new("a count beyond 2^53 - 1"))
    }
}

/// The length of the header every file starts with, in bytes.
#[wasm_bindgen]
pub fn header_len() -> u32 {
    // A small constant (80): the conversion cannot truncate.
    HEADER_LEN as u32
}

/// Plaintext bytes per full chunk, from the header's bytes.
#[wasm_bindgen]
pub fn chunk_size(header_bytes: &[u8]) -> Result<u32, JsError> {
    Ok(header(header_bytes)?.chunk_size)
}

/// Whether the header names AES-256-GCM, which WebCrypto can run natively
/// (with [`aes_content_key`] and [`chunk_nonce`]); otherwise the chunks go
/// through [`FileSealer`] and [`FileOpener`].
#[wasm_bindgen]
pub fn is_aes_256_gcm(header_bytes: &[u8]) -> Result<bool, JsError> {
    Ok(header(header_bytes)?.cipher == CipherId::Aes256Gcm)
}

/// The tag length, in bytes, that the header's cipher appends to every
/// chunk.
#[wasm_bindgen]
pub fn tag_len(header_bytes: &[u8]) -> Result<u32, JsError> {
    // 16 or 32: the conversion cannot truncate.
    Ok(header(header_bytes)?.cipher.tag_len() as u32)
}

/// The nonce of chunk `index` (flagged `last` or not), exactly as long as
/// the header's cipher takes it: for AES-256-GCM the 12-byte `iv` that
/// WebCrypto's `AES-GCM` wants.
#[wasm_bindgen]
pub fn chunk_nonce(header_bytes: &[u8], index: u32, last: bool) -> Result<Vec<u8>, JsError> {
    let (nonce, len) = format::chunk_nonce(&header(header_bytes)?, index, last);
    Ok(nonce[..len].to_vec())
}

/// The number of chunks of a `plain_len`-byte file (at least one). Both
/// are JS numbers (`f64`): a file may exceed 4 GiB.
#[wasm_bindgen]
pub fn chunk_count(header_bytes: &[u8], plain_len: f64) -> Result<f64, JsError> {
    let len = from_js_count(plain_len)?;
    to_js_count(format::chunk_count(&header(header_bytes)?, len))
}

/// The encrypted size, header included, of a `plain_len`-byte file. Both
/// are JS numbers (`f64`): a file may exceed 4 GiB.
#[wasm_bindgen]
pub fn ciphertext_len(header_bytes: &[u8], plain_len: f64) -> Result<f64, JsError> {
    let len = from_js_count(plain_len)?;
    to_js_count(format::ciphertext_len(&header(header_bytes)?, len))
}

/// The stored size of a full chunk: `chunk_size` plus the tag.
#[wasm_bindgen]
pub fn sealed_chunk_len(header_bytes: &[u8]) -> Result<u32, JsError> {
    // At most 16 MiB plus a tag: the conversion cannot truncate.
    Ok(format::sealed_chunk_len(&header(header_bytes)?) as u32)
}

/// The number of chunks a reader cuts a `file_len`-byte encrypted file
/// (header included) into: full sealed chunks, then the rest as the last;
/// at least one, whatever the length (a wrong length makes a chunk fail to
/// open, not this). Both are JS numbers (`f64`).
#[wasm_bindgen]
pub fn sealed_chunk_count(header_bytes: &[u8], file_len: f64) -> Result<f64, JsError> {
    let len = from_js_count(file_len)?;
    to_js_count(format::sealed_chunk_count(&header(header_bytes)?, len))
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

    /// One of `step` sealers working on the file side by side (in as many
    /// chunk workers): it seals chunks `first`, `first + step`, … in that
    /// order (`noctis::format::Encryptor::with_stride`).
    pub fn strided(
        data_key: &[u8],
        header_bytes: &[u8],
        first: u32,
        step: u32,
    ) -> Result<FileSealer, JsError> {
        Ok(FileSealer(Encryptor::with_stride(
            &file_key(data_key)?,
            header(header_bytes)?,
            first,
            step,
        )))
    }

    /// Chunk `index`'s ciphertext and tag. `index` must be the chunk this
    /// sealer seals next: chunks that arrive out of order (reads finishing
    /// in another order, say) are refused, never sealed under the wrong
    /// chunk's nonce.
    pub fn seal(&mut self, index: u32, plaintext: Vec<u8>, last: bool) -> Result<Vec<u8>, JsError> {
        let mut buffer = plaintext;
        self.0
            .seal_at(index, &mut buffer, last)
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

/// The upload digest (`api::files::parts_digest`) of a `size`-byte
/// ciphertext sent in `part_size` parts whose SHA-256s are `hashes`, 32
/// bytes each in order; lowercase hex.
#[wasm_bindgen]
pub fn parts_digest(size: f64, part_size: f64, hashes: &[u8]) -> Result<String, JsError> {
    if hashes.is_empty() || !hashes.len().is_multiple_of(32) {
        return Err(JsError::new("part hashes are 32 bytes each"));
    }
    let parts: Vec<[u8; 32]> = hashes
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            h
        })
        .collect();
    let digest = api::files::parts_digest(from_js_count(size)?, from_js_count(part_size)?, &parts);
    Ok(digest.iter().map(|b| format!("{b:02x}")).collect())
}

/// Runs the Noctis-256 block function (this build's backend: simd128 in the
/// browser bundle) over `len` bytes of counter blocks, which is the CTR
/// keystream's work, and returns the backend's name. Only the browser
/// bench calls it, timing it beside the transfers.
#[wasm_bindgen]
pub fn noctis_keystream_probe(len: f64) -> Result<String, JsError> {
    use noctis::cipher::{Block, BlockCipherEncrypt as _};
    let cipher = noctis::Noctis256::from_key(&[0x42; 32]);
    let blocks = usize::try_from(from_js_count(len)? / 32).unwrap_or(0);
    // 1 MiB of blocks at a time, counters in them as CTR would have.
    let mut buf = vec![Block::<noctis::Noctis256>::default(); 32 * 1024];
    let mut done = 0usize;
    while done < blocks {
        let n = (blocks - done).min(buf.len());
        for (i, b) in buf[..n].iter_mut().enumerate() {
            b[24..].copy_from_slice(&((done + i) as u64).to_be_bytes());
        }
        cipher.encrypt_blocks(&mut buf[..n]);
        done += n;
    }
    Ok(cipher.backend().to_owned())
}

/// Seals `len` bytes as a Noctis-256 file (the format's chunks, keystream
/// and HMAC-SHA3-256) in this thread, with no copies in or out of WASM:
/// the AEAD's own cost, which the browser bench sets beside the keystream
/// alone and the transfers.
#[wasm_bindgen]
pub fn noctis_seal_probe(len: f64) -> Result<(), JsError> {
    use noctis::format::{CipherId, DEFAULT_CHUNK_SIZE, Encryptor, FileKey, Header, KeySource};
    // A fixed key and header: nothing sealed here is kept.
    let header = Header {
        cipher: CipherId::Noctis256,
        chunk_size: DEFAULT_CHUNK_SIZE,
        key_source: KeySource::External,
        salt: [0x24; 32],
        nonce_prefix: [0x35; 19],
    };
    let mut sealer = Encryptor::new(&FileKey([0x42; 32]), header);
    let chunk = DEFAULT_CHUNK_SIZE as usize;
    let total = usize::try_from(from_js_count(len)?).unwrap_or(0);
    let mut buffer = Vec::with_capacity(chunk + 64);
    let mut done = 0usize;
    loop {
        let n = (total - done).min(chunk);
        buffer.clear();
        buffer.resize(n, 0x17);
        done += n;
        sealer
            .seal_next(&mut buffer, done == total)
            .map_err(|e| JsError::new(&e.to_string()))?;
        if done == total {
            return Ok(());
        }
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
