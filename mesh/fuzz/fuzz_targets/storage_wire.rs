//! Any bytes as a storage-mesh request or response, decoded as libp2p's
//! request-response CBOR codec decodes every message
//! (`cbor4ii::serde::from_slice`): decoding never panics, and what decodes
//! encodes to bytes that decode to the same value and encode to the same
//! bytes again.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mesh::storage::wire::{Request, Response};

/// Decodes `$bytes` as `$ty`; what decodes must survive its own encoding.
macro_rules! decode_stably {
    ($ty:ty, $bytes:expr) => {
        if let Ok(value) = cbor4ii::serde::from_slice::<$ty>($bytes) {
            let first = cbor4ii::serde::to_vec(Vec::new(), &value).expect("what decodes encodes");
            let again: $ty = cbor4ii::serde::from_slice(&first).expect("an encoding decodes again");
            assert_eq!(again, value, "a value changed over its encoding");
            let second = cbor4ii::serde::to_vec(Vec::new(), &again).expect("it encodes again");
            assert_eq!(first, second, "the encoding changed on a second trip");
        }
    };
}

fuzz_target!(|data: &[u8]| {
    decode_stably!(Request, data);
    decode_stably!(Response, data);
});
