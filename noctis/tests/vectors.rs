//! Every known-answer vector of the specification, through the public API:
//! the block cipher, `ctr::Ctr64BE<Noctis256>` and the AEAD, on every
//! backend this machine has.

use noctis::{
    Noctis256, NoctisAead,
    aead::{Aead, Payload},
    cipher::{
        Block, BlockCipherDecrypt, BlockCipherEncrypt, InnerIvInit, KeyInit, KeyIvInit,
        StreamCipher,
    },
};
use serde::Deserialize;

#[derive(Debug, Deserialize)]
struct Vector {
    kind: String,
    key: String,
    #[serde(default)]
    block: String,
    #[serde(default)]
    encrypted: String,
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    aad: String,
    #[serde(default)]
    plaintext: String,
    #[serde(default)]
    ciphertext: String,
    #[serde(default)]
    sealed: String,
}

/// The known-answer vectors of `docs/noctis-256.md`, kept beside the tests
/// (`tests/data/`); compiled in so the wasm32 build needs no file system.
const VECTORS: &str = include_str!("data/noctis-256.json");

fn vectors() -> Vec<Vector> {
    serde_json::from_str(VECTORS).expect("vector file")
}

fn unhex(s: &str) -> Vec<u8> {
    hex::decode(s).expect("hex")
}

fn ciphers(key: &[u8]) -> Vec<Noctis256> {
    let key: [u8; 32] = key.try_into().expect("32-byte key");
    let all = Noctis256::every_backend(&key);
    // Built with simd128, the fast path must be the SIMD one, or this test
    // would only ever check the portable function twice.
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    assert_eq!(all[0].backend(), "simd128");
    all
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_vector_passes_on_every_backend() {
    let vectors = vectors();
    // Which backends this run covers, and which this CPU lacks: a machine
    // without AVX-512 says so instead of passing as if it had checked it.
    let ran: Vec<&str> = Noctis256::every_backend(&[0; 32])
        .iter()
        .map(Noctis256::backend)
        .collect();
    let known: &[&str] = if cfg!(target_arch = "x86_64") {
        &["avx512", "avx2", "ssse3", "portable"]
    } else if cfg!(target_arch = "wasm32") {
        &["simd128", "portable"]
    } else {
        &["portable"]
    };
    let skipped: Vec<&str> = known.iter().copied().filter(|b| !ran.contains(b)).collect();
    std::eprintln!(
        "Noctis-256 backends checked: {ran:?}; skipped (not on this CPU or build): {skipped:?}"
    );
    let mut seen = std::collections::BTreeMap::<&str, usize>::new();
    for v in &vectors {
        *seen.entry(v.kind.as_str()).or_default() += 1;
        match v.kind.as_str() {
            "schedule" => {} // checked against the internals in the crate's unit tests
            "block" => {
                for cipher in ciphers(&unhex(&v.key)) {
                    let mut block =
                        Block::<Noctis256>::try_from(&unhex(&v.block)[..]).expect("32-byte block");
                    cipher.encrypt_block(&mut block);
                    assert_eq!(
                        hex::encode(block),
                        v.encrypted,
                        "block on {}",
                        cipher.backend()
                    );
                    cipher.decrypt_block(&mut block);
                    assert_eq!(
                        hex::encode(block),
                        v.block,
                        "inverse on {}",
                        cipher.backend()
                    );
                }
            }
            "ctr" => {
                for cipher in ciphers(&unhex(&v.key)) {
                    let mut iv = [0u8; 32];
                    iv[..24].copy_from_slice(&unhex(&v.nonce));
                    let core = <ctr::CtrCore<Noctis256, ctr::flavors::Ctr64BE> as InnerIvInit>::inner_iv_init(
                        cipher.clone(),
                        (&iv).into(),
                    );
                    let mut ctr = ctr::Ctr64BE::<Noctis256>::from_core(core);
                    let mut data = unhex(&v.plaintext);
                    ctr.apply_keystream(&mut data);
                    assert_eq!(
                        hex::encode(&data),
                        v.ciphertext,
                        "ctr on {}",
                        cipher.backend()
                    );
                }
                // And through KeyIvInit, as a user of the `ctr` crate would.
                let mut iv = [0u8; 32];
                iv[..24].copy_from_slice(&unhex(&v.nonce));
                let key: [u8; 32] = unhex(&v.key).try_into().expect("key");
                let mut ctr = ctr::Ctr64BE::<Noctis256>::new((&key).into(), (&iv).into());
                let mut data = unhex(&v.plaintext);
                ctr.apply_keystream(&mut data);
                assert_eq!(hex::encode(&data), v.ciphertext);
            }
            "aead" => {
                let aead = NoctisAead::new_from_slice(&unhex(&v.key)).expect("64-byte key");
                let nonce = unhex(&v.nonce);
                let nonce = nonce[..].try_into().expect("24-byte nonce");
                let aad = unhex(&v.aad);
                let plaintext = unhex(&v.plaintext);
                let sealed = aead
                    .encrypt(
                        nonce,
                        Payload {
                            msg: &plaintext,
                            aad: &aad,
                        },
                    )
                    .expect("seal");
                assert_eq!(hex::encode(&sealed), v.sealed);
                let opened = aead
                    .decrypt(
                        nonce,
                        Payload {
                            msg: &sealed,
                            aad: &aad,
                        },
                    )
                    .expect("open");
                assert_eq!(opened, plaintext);
            }
            other => panic!("unknown vector kind {other}"),
        }
    }
    for kind in ["schedule", "block", "ctr", "aead"] {
        assert!(
            seen.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} vectors ran"
        );
    }
    let _ = <Noctis256 as KeyInit>::new_from_slice(&[0u8; 32]).expect("KeyInit");
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn a_flipped_bit_anywhere_fails_and_releases_nothing() {
    let key = [7u8; 64];
    let aead = NoctisAead::new_from_slice(&key).expect("key");
    let nonce = [9u8; 24];
    let nonce = (&nonce).into();
    let aad = b"header";
    let sealed = aead
        .encrypt(
            nonce,
            Payload {
                msg: b"Nocturne encrypts everything.",
                aad,
            },
        )
        .expect("seal");
    for byte in 0..sealed.len() {
        for bit in 0..8 {
            let mut tampered = sealed.clone();
            tampered[byte] ^= 1 << bit;
            assert!(
                aead.decrypt(
                    nonce,
                    Payload {
                        msg: &tampered,
                        aad
                    }
                )
                .is_err(),
                "byte {byte} bit {bit}"
            );
        }
    }
    assert!(
        aead.decrypt(
            nonce,
            Payload {
                msg: &sealed,
                aad: b"Header"
            }
        )
        .is_err()
    );
    assert!(
        aead.decrypt(
            nonce,
            Payload {
                msg: &sealed[..sealed.len() - 1],
                aad
            }
        )
        .is_err()
    );
    let other_nonce = [8u8; 24];
    assert!(
        aead.decrypt((&other_nonce).into(), Payload { msg: &sealed, aad })
            .is_err()
    );
}
