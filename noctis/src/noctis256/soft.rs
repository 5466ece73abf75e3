//! The portable block function.
//!
//! **Not constant-time**: it looks the secret S-box up with secret indices,
//! which leaks through the cache to an attacker sharing the machine. It runs
//! only where no SIMD backend exists (x86 without SSSE3 and AVX2; wasm32
//! built without `simd128`), and it is the reference the SIMD backends are
//! tested against.

#[cfg(all(test, not(target_arch = "wasm32")))]
use super::schedule::ROUNDS;
use super::{
    feistel::{self, Lanes},
    schedule::Schedule,
};

/// GF(2^8) doubling modulo x^8 + x^4 + x^3 + x + 1.
#[inline(always)]
fn xtime(a: u8) -> u8 {
    (a << 1) ^ (0x1b & 0u8.wrapping_sub(a >> 7))
}

/// F(X, RK): S-box, ShiftRows, MixColumns, AES byte order (4·column + row).
#[inline(always)]
fn f(x: &[u8; 16], round_key: &[u8; 16], sbox: &[u8; 256]) -> [u8; 16] {
    let mut t = [0u8; 16];
    for i in 0..16 {
        t[i] = sbox[usize::from(x[i] ^ round_key[i])];
    }
    let mut shifted = [0u8; 16];
    for c in 0..4 {
        for r in 0..4 {
            shifted[4 * c + r] = t[4 * ((c + r) % 4) + r];
        }
    }
    let mut out = [0u8; 16];
    for c in 0..4 {
        let a = &shifted[4 * c..4 * c + 4];
        for r in 0..4 {
            let (a0, a1, a2, a3) = (a[r], a[(r + 1) % 4], a[(r + 2) % 4], a[(r + 3) % 4]);
            out[4 * c + r] = xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3;
        }
    }
    out
}

fn xor16(a: &mut [u8; 16], b: &[u8; 16]) {
    for (x, y) in a.iter_mut().zip(b) {
        *x ^= y;
    }
}

fn split(block: &[u8; 32], whitening: &[u8; 32]) -> ([u8; 16], [u8; 16]) {
    let mut l = [0u8; 16];
    let mut r = [0u8; 16];
    for i in 0..16 {
        l[i] = block[i] ^ whitening[i];
        r[i] = block[16 + i] ^ whitening[16 + i];
    }
    (l, r)
}

fn join(l: &[u8; 16], r: &[u8; 16], whitening: &[u8; 32], out: &mut [u8; 32]) {
    for i in 0..16 {
        out[i] = l[i] ^ whitening[i];
        out[16 + i] = r[i] ^ whitening[16 + i];
    }
}

/// One half-block, for `feistel`.
#[derive(Clone, Copy)]
struct Half([u8; 16]);

impl Lanes for Half {
    type Keys = Schedule;

    #[inline(always)]
    fn xor(mut self, other: Self) -> Self {
        xor16(&mut self.0, &other.0);
        self
    }

    #[inline(always)]
    fn round(self, round: usize, s: &Schedule) -> Self {
        Half(f(&self.0, &s.round_keys[round], &s.sbox))
    }
}

fn crypt(s: &Schedule, block: &mut [u8; 32], decrypt: bool) {
    let (pre, post) = if decrypt {
        (&s.w_out, &s.w_in)
    } else {
        (&s.w_in, &s.w_out)
    };
    let (l, r) = split(block, pre);
    let (mut l, mut r) = ([Half(l)], [Half(r)]);
    feistel::rounds(s, &mut l, &mut r, decrypt);
    join(&l[0].0, &r[0].0, post, block);
}

pub(crate) fn encrypt(s: &Schedule, block: &mut [u8; 32]) {
    crypt(s, block, false);
}

/// Encryption with only the first `rounds` rounds (the specification's
/// round-by-round form, with the swap): for the avalanche measurement of
/// the diffusion margin, never for data. That test is native only.
#[cfg(all(test, not(target_arch = "wasm32")))]
pub(crate) fn encrypt_rounds(s: &Schedule, block: &mut [u8; 32], rounds: usize) {
    let (mut l, mut r) = split(block, &s.w_in);
    for round_key in &s.round_keys[..rounds.min(ROUNDS)] {
        xor16(&mut l, &f(&r, round_key, &s.sbox));
        core::mem::swap(&mut l, &mut r);
    }
    join(&l, &r, &s.w_out, block);
}

pub(crate) fn decrypt(s: &Schedule, block: &mut [u8; 32]) {
    crypt(s, block, true);
}
