//! The WebAssembly SIMD (simd128) block function: four blocks at a time,
//! constant-time. Compiled in when the WASM is built with `+simd128` (the
//! browser bundle); otherwise WASM uses the portable function.
//!
//! The S-box lookup uses `i8x16.swizzle`, which yields zero for any index
//! of 16 or more: step `k` looks up slice `k` with `byte − 16k`, which is
//! below 16 exactly for the bytes whose high nibble is `k`, so XORing the
//! sixteen steps gives each byte its entry, touching the whole table the
//! same way for every byte. MixColumns is arithmetic.

#![expect(unsafe_code, reason = "SIMD loads and stores through pointers")]

use core::arch::wasm32::*;

use super::{
    feistel::{self, Lanes},
    schedule::{ROUNDS, Schedule},
    shuffle::{SHIFT_ROT, half},
};

/// Blocks per batch.
pub(crate) type ParBlocks = cipher::consts::U4;
pub(crate) const PAR: usize = <ParBlocks as cipher::typenum::Unsigned>::USIZE;

fn load(bytes: &[u8; 16]) -> v128 {
    // SAFETY: reads exactly the 16 bytes of `bytes`; v128 loads need no alignment.
    unsafe { v128_load(bytes.as_ptr().cast()) }
}

fn store(v: v128, out: &mut [u8; 16]) {
    // SAFETY: writes exactly the 16 bytes of `out`; v128 stores need no alignment.
    unsafe { v128_store(out.as_mut_ptr().cast(), v) }
}

struct Keys {
    sbox: [v128; 16],
    round_keys: [v128; ROUNDS],
    shift_rot: [v128; 4],
}

fn keys(s: &Schedule) -> Keys {
    let mut sbox = [u8x16_splat(0); 16];
    for (k, v) in sbox.iter_mut().enumerate() {
        *v = load(half(&s.sbox, 16 * k));
    }
    let mut round_keys = [u8x16_splat(0); ROUNDS];
    for (v, rk) in round_keys.iter_mut().zip(&s.round_keys) {
        *v = load(rk);
    }
    let mut shift_rot = [u8x16_splat(0); 4];
    for (v, ctrl) in shift_rot.iter_mut().zip(&SHIFT_ROT) {
        *v = load(ctrl);
    }
    Keys {
        sbox,
        round_keys,
        shift_rot,
    }
}

#[inline(always)]
fn sub_bytes(x: v128, sbox: &[v128; 16]) -> v128 {
    let mut acc = u8x16_splat(0);
    let mut index = x;
    for slice in sbox {
        acc = v128_xor(acc, u8x16_swizzle(*slice, index));
        index = u8x16_sub(index, u8x16_splat(16));
    }
    acc
}

#[inline(always)]
fn xtime(v: v128) -> v128 {
    let high = i8x16_shr(v, 7);
    v128_xor(u8x16_shl(v, 1), v128_and(high, u8x16_splat(0x1b)))
}

#[inline(always)]
fn f(x: v128, round_key: v128, k: &Keys) -> v128 {
    let t = sub_bytes(v128_xor(x, round_key), &k.sbox);
    let a0 = u8x16_swizzle(t, k.shift_rot[0]);
    let a1 = u8x16_swizzle(t, k.shift_rot[1]);
    let a2 = u8x16_swizzle(t, k.shift_rot[2]);
    let a3 = u8x16_swizzle(t, k.shift_rot[3]);
    v128_xor(xtime(v128_xor(a0, a1)), v128_xor(a1, v128_xor(a2, a3)))
}

/// This backend's vector operations, for `feistel`.
#[derive(Clone, Copy)]
struct V128(v128);

impl Lanes for V128 {
    type Keys = Keys;

    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        V128(v128_xor(self.0, other.0))
    }

    #[inline(always)]
    fn round(self, round: usize, k: &Keys) -> Self {
        V128(f(self.0, k.round_keys[round], k))
    }
}

/// Encrypts or decrypts up to `PAR` blocks in place.
pub(crate) fn crypt(s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
    let k = keys(s);
    let (w_pre, w_post) = if decrypt {
        (&s.w_out, &s.w_in)
    } else {
        (&s.w_in, &s.w_out)
    };
    let (pre_l, pre_r) = (load(half(w_pre, 0)), load(half(w_pre, 16)));
    let (post_l, post_r) = (load(half(w_post, 0)), load(half(w_post, 16)));
    let n = blocks.len().min(PAR);
    let mut a = [V128(u8x16_splat(0)); PAR];
    let mut b = [V128(u8x16_splat(0)); PAR];
    for i in 0..n {
        a[i] = V128(v128_xor(load(half(&blocks[i], 0)), pre_l));
        b[i] = V128(v128_xor(load(half(&blocks[i], 16)), pre_r));
    }
    feistel::rounds(&k, &mut a, &mut b, decrypt);
    for (i, block) in blocks.iter_mut().take(n).enumerate() {
        let (left, right) = block.split_at_mut(16);
        if let (Ok(left), Ok(right)) = (
            <&mut [u8; 16]>::try_from(left),
            <&mut [u8; 16]>::try_from(right),
        ) {
            store(v128_xor(a[i].0, post_l), left);
            store(v128_xor(b[i].0, post_r), right);
        }
    }
}
