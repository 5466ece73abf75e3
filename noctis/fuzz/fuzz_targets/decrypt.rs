//! Any bytes as an encrypted file: decryption never panics, never opens a
//! chunk the fuzzer could not have sealed (it lacks the key), and wipes the
//! buffer of a chunk that fails.
#![no_main]

use libfuzzer_sys::fuzz_target;
use noctis::format::{Decryptor, FileKey, HEADER_LEN};

fuzz_target!(|data: &[u8]| {
    let Ok(mut dec) = Decryptor::new(&FileKey([7; 32]), data) else {
        return;
    };
    let body = &data[HEADER_LEN..];
    let sealed = dec.sealed_chunk_len();
    let last = body.len() <= sealed;
    let mut buf = body[..sealed.min(body.len())].to_vec();
    match dec.open_next(&mut buf, last) {
        Ok(()) => panic!("an unauthenticated chunk opened"),
        Err(_) => assert!(buf.is_empty(), "a failed chunk left data in the buffer"),
    }
});
