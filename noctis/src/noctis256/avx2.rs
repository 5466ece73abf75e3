//! The AVX2 block function: eight blocks at a time, constant-time.
//!
//! No memory access or branch depends on secret data. The secret S-box is
//! looked up by `vpshufb` from all sixteen 16-byte slices of the table,
//! selecting the right slice with `vpblendvb` on the index's high nibble, so
//! every lookup touches the whole table the same way. ShiftRows is a fixed
//! byte shuffle and MixColumns is arithmetic (doubling in GF(2^8) by add and
//! a sign mask).
//!
//! Each 256-bit register holds the same half (L or R) of two blocks, one per
//! 128-bit lane, which is exactly the granularity `vpshufb` works in. The
//! Feistel structure is `feistel`'s, shared with the other backends.

#![expect(
    unsafe_code,
    reason = "SIMD intrinsics: loads, stores and target-feature calls"
)]

use core::arch::x86_64::*;

use super::{
    feistel::{self, Lanes},
    schedule::{ROUNDS, Schedule},
    shuffle::{SHIFT_ROT, half},
};

/// Blocks per batch: four registers of two blocks each, enough independent
/// work to hide the shuffle latency. Measured here (AMD EPYC): 8 blocks
/// 330–407 MiB/s, 4 blocks 260, 2 blocks 232. The cipher traits read this
/// type, so the batch the `ctr` crate hands over is the batch `crypt` does.
pub(crate) type ParBlocks = cipher::consts::U8;
pub(crate) const PAR: usize = <ParBlocks as cipher::typenum::Unsigned>::USIZE;
const REGS: usize = PAR / 2;

/// The schedule as registers, loaded once per call.
struct Keys {
    sbox: [__m256i; 16],
    round_keys: [__m256i; ROUNDS],
    shift_rot: [__m256i; 1],
    w_in: [__m256i; 2],
    w_out: [__m256i; 2],
}

#[inline]
#[target_feature(enable = "avx2")]
fn load128(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: reads exactly the 16 bytes of `bytes`; unaligned loads are allowed.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn store128(v: __m128i, out: &mut [u8; 16]) {
    // SAFETY: writes exactly the 16 bytes of `out`; unaligned stores are allowed.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx2")]
fn broadcast(bytes: &[u8; 16]) -> __m256i {
    _mm256_broadcastsi128_si256(load128(bytes))
}

#[inline]
#[target_feature(enable = "avx2")]
fn keys(s: &Schedule) -> Keys {
    let mut sbox = [_mm256_setzero_si256(); 16];
    for (k, v) in sbox.iter_mut().enumerate() {
        *v = broadcast(half(&s.sbox, 16 * k));
    }
    let mut round_keys = [_mm256_setzero_si256(); ROUNDS];
    for (v, rk) in round_keys.iter_mut().zip(&s.round_keys) {
        *v = broadcast(rk);
    }
    let mut shift_rot = [_mm256_setzero_si256(); 1];
    for (v, ctrl) in shift_rot.iter_mut().zip(&SHIFT_ROT) {
        *v = broadcast(ctrl);
    }
    Keys {
        sbox,
        round_keys,
        shift_rot,
        w_in: [broadcast(half(&s.w_in, 0)), broadcast(half(&s.w_in, 16))],
        w_out: [broadcast(half(&s.w_out, 0)), broadcast(half(&s.w_out, 16))],
    }
}

/// S-box on every byte: sixteen table-slice shuffles, then a four-level
/// blend tree on bits 4, 5, 6 and 7 of the index.
#[inline]
#[target_feature(enable = "avx2")]
fn sub_bytes(x: __m256i, sbox: &[__m256i; 16]) -> __m256i {
    let low = _mm256_and_si256(x, _mm256_set1_epi8(0x0f));
    // `vpblendvb` selects on bit 7 of each byte: shift bit n up to it. The
    // 16-bit shift moves bits within each byte for shifts below 8.
    let bit4 = _mm256_slli_epi16::<3>(x);
    let bit5 = _mm256_slli_epi16::<2>(x);
    let bit6 = _mm256_slli_epi16::<1>(x);
    let mut l1 = [_mm256_setzero_si256(); 8];
    for (k, v) in l1.iter_mut().enumerate() {
        let even = _mm256_shuffle_epi8(sbox[2 * k], low);
        let odd = _mm256_shuffle_epi8(sbox[2 * k + 1], low);
        *v = _mm256_blendv_epi8(even, odd, bit4);
    }
    let mut l2 = [_mm256_setzero_si256(); 4];
    for (k, v) in l2.iter_mut().enumerate() {
        *v = _mm256_blendv_epi8(l1[2 * k], l1[2 * k + 1], bit5);
    }
    let l3 = [
        _mm256_blendv_epi8(l2[0], l2[1], bit6),
        _mm256_blendv_epi8(l2[2], l2[3], bit6),
    ];
    _mm256_blendv_epi8(l3[0], l3[1], x)
}

/// GF(2^8) doubling of every byte.
#[inline]
#[target_feature(enable = "avx2")]
fn xtime(v: __m256i) -> __m256i {
    let high = _mm256_cmpgt_epi8(_mm256_setzero_si256(), v);
    _mm256_xor_si256(
        _mm256_add_epi8(v, v),
        _mm256_and_si256(high, _mm256_set1_epi8(0x1b)),
    )
}

/// Rotates each 32-bit column down by `BITS`: byte `r` of the result is
/// byte `r + BITS/8` of the column. Shifts, not `vpshufb`, so the shuffle
/// ports stay free for the S-box.
#[inline]
#[target_feature(enable = "avx2")]
fn rot_column<const BITS: i32, const BACK: i32>(v: __m256i) -> __m256i {
    _mm256_or_si256(_mm256_srli_epi32::<BITS>(v), _mm256_slli_epi32::<BACK>(v))
}

/// The round function on two half-blocks.
#[inline]
#[target_feature(enable = "avx2")]
fn f(x: __m256i, round_key: __m256i, k: &Keys) -> __m256i {
    let t = sub_bytes(_mm256_xor_si256(x, round_key), &k.sbox);
    let a0 = _mm256_shuffle_epi8(t, k.shift_rot[0]);
    // b_r = 2·a_r ⊕ 3·a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3) = 2·u_r ⊕ a_(r+1) ⊕ u_(r+2)
    // with u_r = a_r ⊕ a_(r+1): one rotation of a and one of u.
    let a1 = rot_column::<8, 24>(a0);
    let u = _mm256_xor_si256(a0, a1);
    _mm256_xor_si256(xtime(u), _mm256_xor_si256(a1, rot_column::<16, 16>(u)))
}

/// This backend's vector operations, for `feistel`.
#[derive(Clone, Copy)]
struct Ymm(__m256i);

impl Lanes for Ymm {
    type Keys = Keys;

    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        // SAFETY: a `Ymm` exists only inside `crypt`, which runs only once
        // `Avx2::detect` found AVX2.
        Ymm(unsafe { _mm256_xor_si256(self.0, other.0) })
    }

    #[inline(always)]
    fn round(self, round: usize, k: &Keys) -> Self {
        // SAFETY: as for `xor`.
        Ymm(unsafe { f(self.0, k.round_keys[round], k) })
    }
}

/// Encrypts or decrypts up to `PAR` blocks in place.
#[target_feature(enable = "avx2")]
fn crypt(s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
    debug_assert!(blocks.len() <= PAR);
    let k = keys(s);
    let (w_pre, w_post) = if decrypt {
        (&k.w_out, &k.w_in)
    } else {
        (&k.w_in, &k.w_out)
    };
    let zero = [0u8; 32];
    let block = |i: usize| blocks.get(i).unwrap_or(&zero);
    let mut l = [Ymm(_mm256_setzero_si256()); REGS];
    let mut r = [Ymm(_mm256_setzero_si256()); REGS];
    for i in 0..REGS {
        let (lo, hi) = (block(2 * i), block(2 * i + 1));
        let pair = |offset| {
            _mm256_inserti128_si256::<1>(
                _mm256_castsi128_si256(load128(half(lo, offset))),
                load128(half(hi, offset)),
            )
        };
        l[i] = Ymm(_mm256_xor_si256(pair(0), w_pre[0]));
        r[i] = Ymm(_mm256_xor_si256(pair(16), w_pre[1]));
    }
    feistel::rounds(&k, &mut l, &mut r, decrypt);
    for i in 0..REGS {
        let lv = _mm256_xor_si256(l[i].0, w_post[0]);
        let rv = _mm256_xor_si256(r[i].0, w_post[1]);
        for (lane, index) in [2 * i, 2 * i + 1].into_iter().enumerate() {
            let Some(out) = blocks.get_mut(index) else {
                continue;
            };
            let (lh, rh) = if lane == 0 {
                (_mm256_castsi256_si128(lv), _mm256_castsi256_si128(rv))
            } else {
                (
                    _mm256_extracti128_si256::<1>(lv),
                    _mm256_extracti128_si256::<1>(rv),
                )
            };
            let (left, right) = out.split_at_mut(16);
            if let (Ok(left), Ok(right)) = (
                <&mut [u8; 16]>::try_from(left),
                <&mut [u8; 16]>::try_from(right),
            ) {
                store128(lh, left);
                store128(rh, right);
            }
        }
    }
}

/// Proof that this CPU has AVX2: only [`Avx2::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx2(());

impl Avx2 {
    /// Checks the CPU once (the result is cached by `cpufeatures`).
    pub(crate) fn detect() -> Option<Self> {
        cpufeatures::new!(avx2_cpuid, "avx2");
        avx2_cpuid::get().then_some(Avx2(()))
    }

    /// Encrypts (or decrypts) up to [`PAR`] blocks in place.
    pub(crate) fn crypt(self, s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
        // SAFETY: `self` exists only if the CPU supports AVX2.
        unsafe { crypt(s, blocks, decrypt) }
    }
}
