//! Any bytes as a signed record from the network or disk: decoding never
//! panics, and neither does verifying what decodes.
//!
//! The fuzzer cannot sign, so verifying its bytes as sent stops at the
//! signature. Each record that decodes is therefore also re-signed for a
//! fixed network with fixed keys (the record by one, the endorsements or
//! votes inside it by another), so the checks behind the signature (dates,
//! bounds, certificates and what they carry) run on fuzzer-chosen content
//! too. A re-signed record that verifies must verify again, under the same
//! id, after a trip through its wire form: every other peer decodes it from
//! those bytes and checks the signature over its own re-encoding.
//!
//! The same bytes as a genesis file: parsing never panics, and what parses
//! names the same operators and network after a trip through its canonical
//! text.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mesh::agent::{Body, Genesis, NetworkId, OperatorKey, Signed, record::MAX_RECORD_BYTES};

/// The network every record is judged for.
const NETWORK: NetworkId = NetworkId([7; 32]);
/// The time every record is judged at (Unix seconds).
const NOW: u64 = 1_750_000_000;

static AUTHOR: LazyLock<OperatorKey> =
    LazyLock::new(|| OperatorKey::from_file_text(&"01".repeat(32)).expect("a fixed key"));
static ENDORSER: LazyLock<OperatorKey> =
    LazyLock::new(|| OperatorKey::from_file_text(&"02".repeat(32)).expect("a fixed key"));

/// Signs the inner records with the endorser's key, for the network.
fn resign_inner(inner: &mut [Signed]) {
    for signed in inner.iter_mut() {
        signed.record.network = NETWORK;
        signed.record.author = ENDORSER.id();
        *signed = ENDORSER.sign(signed.record.clone());
    }
}

/// The same record, signed by the author's key for the network (a
/// certificate enrolling that key, its endorsements by the endorser's).
fn resign(mut signed: Signed) -> Signed {
    let author = AUTHOR.id();
    signed.record.network = NETWORK;
    signed.record.author = author;
    match &mut signed.record.body {
        Body::Certificate {
            operator,
            endorsements,
        } => {
            *operator = author;
            resign_inner(endorsements);
        }
        Body::Revocation { votes, .. } => resign_inner(votes),
        _ => {}
    }
    AUTHOR.sign(signed.record)
}

fuzz_target!(|data: &[u8]| {
    if let Ok(signed) = Signed::from_bytes(data) {
        let _ = signed.verify(&NETWORK, NOW);
        let _ = signed.id();
        let resigned = resign(signed);
        if resigned.verify(&NETWORK, NOW).is_ok() {
            let bytes = resigned.to_bytes();
            if bytes.len() <= MAX_RECORD_BYTES {
                let back = Signed::decode_verified(&bytes, &NETWORK, NOW).unwrap_or_else(|e| {
                    panic!("a verified record fails after a trip through its wire form: {e}")
                });
                assert_eq!(
                    back.id(),
                    resigned.id(),
                    "a record's id changed over the wire"
                );
            }
        }
    }

    let text = String::from_utf8_lossy(data);
    if let Ok(genesis) = Genesis::parse(&text) {
        let again = Genesis::parse(&genesis.to_text()).expect("a genesis' canonical text parses");
        assert_eq!(again, genesis);
        assert_eq!(again.network(), genesis.network());
    }
});
