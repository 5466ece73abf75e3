//! Any bytes: the header parser never panics, and whatever it accepts
//! serialises back to the same header.
#![no_main]

use libfuzzer_sys::fuzz_target;
use noctis::format::Header;

fuzz_target!(|data: &[u8]| {
    if let Ok(header) = Header::parse(data) {
        let bytes = header.to_bytes();
        assert_eq!(Header::parse(&bytes).as_ref(), Ok(&header));
        assert_eq!(&bytes[..], &data[..bytes.len()]);
    }
});
