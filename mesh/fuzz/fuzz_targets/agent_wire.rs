//! Any bytes as an agent-mesh request or response, decoded as libp2p's
//! request-response CBOR codec decodes every message
//! (`cbor4ii::serde::from_slice`): decoding never panics; what decodes
//! encodes, and that encoding decodes and encodes again to the same bytes;
//! every record a response carries goes through `Signed::from_bytes` and
//! `verify` without panicking.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh::agent::{
    NetworkId, Signed,
    wire::{Request, Response},
};

/// The network records are judged for, and the time (Unix seconds).
const NETWORK: NetworkId = NetworkId([7; 32]);
const NOW: u64 = 1_750_000_000;

/// Decodes `$bytes` as `$ty`; what decodes must encode stably.
macro_rules! decode_stably {
    ($ty:ty, $bytes:expr) => {
        cbor4ii::serde::from_slice::<$ty>($bytes)
            .ok()
            .inspect(|value| {
                let first =
                    cbor4ii::serde::to_vec(Vec::new(), value).expect("what decodes encodes");
                let again: $ty =
                    cbor4ii::serde::from_slice(&first).expect("an encoding decodes again");
                let second = cbor4ii::serde::to_vec(Vec::new(), &again).expect("it encodes again");
                assert_eq!(first, second, "the encoding changed on a second trip");
            })
    };
}

fuzz_target!(|data: &[u8]| {
    let _ = decode_stably!(Request, data);
    if let Some(Response::Records(records)) = decode_stably!(Response, data) {
        for record in &records {
            if let Ok(signed) = Signed::from_bytes(record) {
                let _ = signed.verify(&NETWORK, NOW);
            }
        }
    }
});
