//! All of Nocturne's cryptography, the same code on the server, in the CLI
//! and in the browser.
//!
//! This crate is `no_std` + `alloc`, builds for `wasm32-unknown-unknown`,
//! does no I/O, reads no clock and takes its randomness as an argument, so
//! that the browser worker and the native binary run exactly the same code.
//!
//! It is deliberately empty in this first release of the workspace: the
//! cipher, the AEAD, the streaming file format and the key hierarchy arrive
//! together with their test vectors and attacks in issue #3.

#![no_std]
