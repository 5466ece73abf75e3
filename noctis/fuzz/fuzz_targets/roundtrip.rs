//! Fuzzer-chosen plaintext, cipher and tampering: encryption round-trips,
//! and one changed byte anywhere in the file makes decryption fail.
#![no_main]

use libfuzzer_sys::fuzz_target;
use noctis::format::{CipherId, Decryptor, Encryptor, FileKey, HEADER_LEN, Header, KeySource, MIN_CHUNK_SIZE};

fn decrypt(key: &FileKey, file: &[u8]) -> Option<Vec<u8>> {
    let mut dec = Decryptor::new(key, file).ok()?;
    let body = &file[HEADER_LEN..];
    let sealed = dec.sealed_chunk_len();
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let end = (offset + sealed).min(body.len());
        let last = end == body.len();
        let mut buf = body[offset..end].to_vec();
        dec.open_next(&mut buf, last).ok()?;
        out.extend_from_slice(&buf);
        offset = end;
        if last {
            return Some(out);
        }
    }
}

fuzz_target!(|input: (bool, u32, u8, Vec<u8>)| {
    let (noctis, position, xor, plaintext) = input;
    let cipher = if noctis { CipherId::Noctis256 } else { CipherId::Aes256Gcm };
    let header = Header {
        cipher,
        chunk_size: MIN_CHUNK_SIZE,
        key_source: KeySource::External,
        salt: [1; 32],
        nonce_prefix: [2; 19],
    };
    let key = FileKey([3; 32]);
    let mut enc = Encryptor::new(&key, header);
    let mut file = enc.header_bytes().to_vec();
    let chunks: Vec<&[u8]> = if plaintext.is_empty() {
        vec![&[][..]]
    } else {
        plaintext.chunks(MIN_CHUNK_SIZE as usize).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let mut buf = chunk.to_vec();
        enc.seal_next(&mut buf, i + 1 == chunks.len()).expect("seal");
        file.extend_from_slice(&buf);
    }
    assert_eq!(decrypt(&key, &file).as_deref(), Some(&plaintext[..]));
    if xor != 0 {
        let at = position as usize % file.len();
        file[at] ^= xor;
        assert!(decrypt(&key, &file).is_none(), "a changed byte at {at} went unnoticed");
    }
});
