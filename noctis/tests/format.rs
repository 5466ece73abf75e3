//! The file format under attack: round trips at every size around chunk
//! boundaries for both ciphers, and every kind of tampering, each of which
//! must fail with the one opaque error and release no plaintext.

use noctis::{
    Error,
    format::{
        CipherId, Decryptor, Encryptor, FileKey, HEADER_LEN, Header, KeySource, MIN_CHUNK_SIZE,
        chunk_count, ciphertext_len, sealed_chunk_count, sealed_chunk_len,
    },
};
use rand::{SeedableRng, rngs::StdRng};

const CHUNK: u32 = MIN_CHUNK_SIZE;
const CIPHERS: [CipherId; 2] = [CipherId::Aes256Gcm, CipherId::Noctis256];

fn key(byte: u8) -> FileKey {
    FileKey([byte; 32])
}

fn plaintext(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 + 7) as u8).collect()
}

/// Encrypts `data` the way a streaming writer does: one chunk of lookahead
/// decides which chunk is last.
fn encrypt(cipher: CipherId, key: &FileKey, data: &[u8], seed: u64) -> Vec<u8> {
    let mut rng = StdRng::seed_from_u64(seed);
    let header = Header::generate(&mut rng, cipher, CHUNK, KeySource::External).expect("header");
    let mut enc = Encryptor::new(key, header);
    let mut out = enc.header_bytes().to_vec();
    let chunks: Vec<&[u8]> = if data.is_empty() {
        vec![&[][..]]
    } else {
        data.chunks(CHUNK as usize).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let mut buf = chunk.to_vec();
        enc.seal_next(&mut buf, i + 1 == chunks.len())
            .expect("seal");
        out.extend_from_slice(&buf);
    }
    assert_eq!(
        out.len() as u64,
        ciphertext_len(enc.header(), data.len() as u64)
    );
    out
}

/// Decrypts a whole file, returning the plaintext only if every chunk and
/// the end of the stream check out.
fn decrypt(key: &FileKey, file: &[u8]) -> Result<Vec<u8>, Error> {
    let mut dec = Decryptor::new(key, file)?;
    let sealed = dec.sealed_chunk_len();
    let body = &file[HEADER_LEN..];
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let end = (offset + sealed).min(body.len());
        let last = end == body.len();
        let mut buf = body[offset..end].to_vec();
        dec.open_next(&mut buf, last)?;
        out.extend_from_slice(&buf);
        offset = end;
        if last {
            return Ok(out);
        }
    }
}

fn sizes() -> Vec<usize> {
    let c = CHUNK as usize;
    vec![0, 1, c - 1, c, c + 1, 2 * c, 3 * c + 17]
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn round_trips_at_every_size_around_chunk_boundaries() {
    for cipher in CIPHERS {
        for len in sizes() {
            let data = plaintext(len);
            let file = encrypt(cipher, &key(1), &data, len as u64);
            assert_eq!(
                decrypt(&key(1), &file).expect("decrypt"),
                data,
                "{cipher:?}, {len} bytes"
            );
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn any_chunk_decrypts_on_its_own() {
    for cipher in CIPHERS {
        let data = plaintext(3 * CHUNK as usize + 100);
        let file = encrypt(cipher, &key(2), &data, 2);
        let dec = Decryptor::new(&key(2), &file).expect("header");
        let sealed = dec.sealed_chunk_len();
        for index in [2usize, 0, 3, 1] {
            let start = HEADER_LEN + index * sealed;
            let end = (start + sealed).min(file.len());
            let mut buf = file[start..end].to_vec();
            dec.open_chunk(index as u32, end == file.len(), &mut buf)
                .expect("chunk");
            let plain_start = index * CHUNK as usize;
            assert_eq!(
                buf,
                data[plain_start..(plain_start + CHUNK as usize).min(data.len())]
            );
        }
    }
}

/// The layout helpers the browser's file worker relies on (through the
/// `frontend` crate's exports) describe the bytes `Encryptor` really writes.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn chunk_counts_match_the_encrypted_bytes() {
    for cipher in CIPHERS {
        for len in sizes() {
            let file = encrypt(cipher, &key(6), &plaintext(len), len as u64);
            let header = Header::parse(&file).expect("header");
            let chunks = chunk_count(&header, len as u64);
            assert_eq!(
                chunks as usize,
                len.div_ceil(CHUNK as usize).max(1),
                "{cipher:?}, {len} bytes"
            );
            assert_eq!(
                sealed_chunk_count(&header, file.len() as u64),
                chunks,
                "{cipher:?}, {len} bytes"
            );
            let sealed = sealed_chunk_len(&header);
            assert_eq!(sealed, CHUNK as usize + cipher.tag_len());
            // Full sealed chunks, then a last one of at least a tag.
            let last = file.len() - HEADER_LEN - (chunks as usize - 1) * sealed;
            assert!(
                (cipher.tag_len()..=sealed).contains(&last),
                "{cipher:?}, {len} bytes"
            );
        }
        // Shorter than a header: still one chunk, which then fails to open.
        let header = Header::parse(&encrypt(cipher, &key(6), &[], 0)).expect("header");
        assert_eq!(sealed_chunk_count(&header, 0), 1);
        assert_eq!(sealed_chunk_count(&header, HEADER_LEN as u64), 1);
    }
}

fn assert_rejected(key_byte: u8, file: &[u8], what: &str) {
    assert_eq!(decrypt(&key(key_byte), file), Err(Error::Decrypt), "{what}");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_tampering_fails_opaquely() {
    for cipher in CIPHERS {
        let data = plaintext(3 * CHUNK as usize + 5);
        let file = encrypt(cipher, &key(3), &data, 3);
        let sealed = CHUNK as usize + cipher.tag_len();

        // Wrong key.
        assert_rejected(4, &file, "wrong key");
        // Truncated: at a chunk boundary (drops the last chunk), mid-chunk,
        // and down to the bare header.
        assert_rejected(3, &file[..HEADER_LEN + 3 * sealed], "dropped last chunk");
        assert_rejected(3, &file[..file.len() - 1], "cut mid-chunk");
        assert_rejected(3, &file[..HEADER_LEN], "header only");
        // Appended bytes.
        let mut longer = file.clone();
        longer.extend_from_slice(&[0u8; 7]);
        assert_rejected(3, &longer, "appended bytes");
        // Reordered chunks.
        let mut swapped = file.clone();
        let (a, b) = (HEADER_LEN, HEADER_LEN + sealed);
        let first = file[a..a + sealed].to_vec();
        swapped[a..a + sealed].copy_from_slice(&file[b..b + sealed]);
        swapped[b..b + sealed].copy_from_slice(&first);
        assert_rejected(3, &swapped, "reordered chunks");
        // A chunk from another file under the same key.
        let other = encrypt(cipher, &key(3), &plaintext(3 * CHUNK as usize + 5), 99);
        let mut spliced = file.clone();
        spliced[b..b + sealed].copy_from_slice(&other[b..b + sealed]);
        assert_rejected(3, &spliced, "chunk from another file");
        // A flipped bit in every chunk position, and in the authenticated
        // header fields (the salt and nonce prefix, which parse whatever
        // their value).
        for pos in [
            HEADER_LEN,
            HEADER_LEN + sealed - 1,
            HEADER_LEN + sealed + 10,
            file.len() - 1,
            20,
            50,
            66,
        ] {
            for bit in [0u8, 7] {
                let mut flipped = file.clone();
                flipped[pos] ^= 1 << bit;
                assert_rejected(3, &flipped, &format!("bit {bit} of byte {pos}"));
            }
        }
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn an_edited_header_fails_even_where_it_still_parses() {
    for cipher in CIPHERS {
        let file = encrypt(cipher, &key(5), &plaintext(100), 5);
        // Switch the cipher id: parses, keys a different cipher, must fail.
        let mut other_cipher = file.clone();
        other_cipher[7] = if cipher == CipherId::Aes256Gcm { 2 } else { 1 };
        assert!(decrypt(&key(5), &other_cipher).is_err());
        // A larger chunk size: parses, must fail.
        let mut bigger = file.clone();
        bigger[10] ^= 0x10;
        assert!(decrypt(&key(5), &bigger).is_err());
        // Structural damage is reported as such.
        let mut magic = file.clone();
        magic[0] = b'X';
        assert_eq!(decrypt(&key(5), &magic), Err(Error::NotNocturne));
        let mut version = file.clone();
        version[6] = 9;
        assert_eq!(
            decrypt(&key(5), &version),
            Err(Error::UnsupportedVersion(9))
        );
        assert_eq!(decrypt(&key(5), &file[..40]), Err(Error::TruncatedHeader));
        let mut reserved = file.clone();
        reserved[13] = 1;
        assert_eq!(decrypt(&key(5), &reserved), Err(Error::MalformedHeader));
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_failed_chunk_releases_no_plaintext() {
    let file = encrypt(CipherId::Noctis256, &key(6), &plaintext(1000), 6);
    let mut dec = Decryptor::new(&key(6), &file).expect("header");
    let mut buf = file[HEADER_LEN..].to_vec();
    let last = buf.len() - 1;
    buf[last] ^= 1;
    assert_eq!(dec.open_next(&mut buf, true), Err(Error::Decrypt));
    assert!(
        buf.is_empty(),
        "the buffer still holds data after a failure"
    );
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn strided_encryptors_together_write_what_one_writes() {
    for cipher in CIPHERS {
        // 7 chunks, the last short, sealed by three encryptors side by side.
        let data = plaintext(6 * CHUNK as usize + 5);
        let whole = encrypt(cipher, &key(3), &data, 11);
        let header = Header::parse(&whole[..HEADER_LEN]).expect("header");
        let chunks: Vec<&[u8]> = data.chunks(CHUNK as usize).collect();
        let mut sealers: Vec<Encryptor> = (0..3)
            .map(|first| Encryptor::with_stride(&key(3), header.clone(), first, 3))
            .collect();
        let mut out = whole[..HEADER_LEN].to_vec();
        for (i, chunk) in chunks.iter().enumerate() {
            let sealer = &mut sealers[i % 3];
            assert_eq!(sealer.next_index() as usize, i);
            let mut buf = chunk.to_vec();
            sealer
                .seal_next(&mut buf, i + 1 == chunks.len())
                .expect("seal");
            out.extend_from_slice(&buf);
        }
        assert_eq!(out, whole, "{cipher:?}");
        assert_eq!(decrypt(&key(3), &out).expect("opens"), data);
    }
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn an_encryptor_refuses_a_chunk_out_of_its_order() {
    let mut rng = StdRng::seed_from_u64(9);
    let header = Header::generate(&mut rng, CipherId::Noctis256, CHUNK, KeySource::External)
        .expect("header");
    // The second of two strided encryptors seals chunks 1, 3, 5, …
    let mut sealer = Encryptor::with_stride(&key(9), header, 1, 2);
    let mut chunk = vec![5u8; CHUNK as usize];
    assert_eq!(sealer.seal_at(3, &mut chunk, false), Err(Error::OutOfOrder));
    assert_eq!(chunk, vec![5u8; CHUNK as usize], "nothing sealed");
    sealer.seal_at(1, &mut chunk, false).expect("chunk 1");
    assert_eq!(sealer.next_index(), 3);
    let mut last = vec![6u8; 10];
    assert_eq!(sealer.seal_at(1, &mut last, true), Err(Error::OutOfOrder));
    sealer
        .seal_at(3, &mut last, true)
        .expect("chunk 3, the last");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn the_encryptor_enforces_chunk_lengths_and_the_end() {
    let mut rng = StdRng::seed_from_u64(7);
    let header = Header::generate(&mut rng, CipherId::Aes256Gcm, CHUNK, KeySource::External)
        .expect("header");
    let mut enc = Encryptor::new(&key(7), header);
    assert_eq!(
        enc.seal_next(&mut vec![0; 10], false),
        Err(Error::BadChunkLength)
    );
    enc.seal_next(&mut vec![0; CHUNK as usize], false)
        .expect("full chunk");
    assert_eq!(
        enc.seal_next(&mut vec![], true),
        Err(Error::BadChunkLength),
        "empty last after data"
    );
    enc.seal_next(&mut vec![0; 3], true).expect("last chunk");
    assert_eq!(enc.seal_next(&mut vec![0; 3], true), Err(Error::Finished));
    assert!(Header::generate(&mut rng, CipherId::Aes256Gcm, 1, KeySource::External).is_err());
}
