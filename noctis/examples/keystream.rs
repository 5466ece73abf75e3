//! Writes the Noctis-256 CTR keystream to standard output, without end, for
//! statistical test suites: `cargo run --release -p noctis --example
//! keystream | dieharder -a -g 200`.
//!
//! The key and nonce are fixed (all bytes 0x01 and 0x02) so a run can be
//! repeated; an argument of `portable` uses the table-driven backend.

#![expect(clippy::print_stderr, reason = "reports its byte count")]

use std::io::{self, Write};

use noctis::{
    Noctis256,
    cipher::{InnerIvInit, StreamCipher},
};

fn main() {
    let cipher = Noctis256::from_key(&[1u8; 32]);
    let cipher = if std::env::args().any(|a| a == "portable") {
        cipher.portable_only()
    } else {
        cipher
    };
    let mut iv = [0u8; 32];
    iv[..24].copy_from_slice(&[2u8; 24]);
    let core = <ctr::CtrCore<Noctis256, ctr::flavors::Ctr64BE> as InnerIvInit>::inner_iv_init(
        cipher,
        (&iv).into(),
    );
    let mut ctr = ctr::Ctr64BE::<Noctis256>::from_core(core);
    let mut out = io::stdout().lock();
    let mut buf = vec![0u8; 1 << 20];
    let mut written: u64 = 0;
    loop {
        buf.fill(0);
        ctr.apply_keystream(&mut buf);
        if out.write_all(&buf).is_err() {
            // The reader closed the pipe: say how much it consumed.
            eprintln!("keystream: {} MiB written", written >> 20);
            return;
        }
        written += buf.len() as u64;
    }
}
