//! The AVX-512 block function: sixteen blocks at a time, constant-time.
//!
//! Needs AVX-512 F, BW and VBMI. The secret S-box (256 bytes) sits in four
//! 64-byte registers; `vpermi2b` looks up 128 entries from two of them by
//! the low seven bits of every index byte at once, twice, and a blend on
//! the index's top bit picks one of the two answers. No memory access and
//! no branch depends on secret data, and `vpermi2b`'s timing does not
//! depend on its indices. ShiftRows is a fixed in-lane byte shuffle, the
//! column rotations are `vprord`, and doubling in GF(2^8) is an add and a
//! masked xor.
//!
//! Each 512-bit register holds the same half (L or R) of four blocks, one
//! per 128-bit lane. The Feistel structure and the whitening are
//! `feistel`'s, shared with the other SIMD backends.

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

/// Blocks per batch: four registers of four blocks each. The cipher traits
/// read this type, so the batch the `ctr` crate hands over is the batch
/// `crypt` does.
pub(crate) type ParBlocks = cipher::consts::U16;
pub(crate) const PAR: usize = <ParBlocks as cipher::typenum::Unsigned>::USIZE;
const REGS: usize = PAR / 4;

/// The schedule as registers, loaded once per call.
struct Keys {
    sbox: [__m512i; 4],
    round_keys: [__m512i; ROUNDS],
    shift_rows: __m512i,
    w_in: [__m512i; 2],
    w_out: [__m512i; 2],
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn load128(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: reads exactly the 16 bytes of `bytes`; unaligned loads are allowed.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn store128(v: __m128i, out: &mut [u8; 16]) {
    // SAFETY: writes exactly the 16 bytes of `out`; unaligned stores are allowed.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn broadcast(bytes: &[u8; 16]) -> __m512i {
    _mm512_broadcast_i32x4(load128(bytes))
}

/// Sixty-four bytes of the S-box from `offset`, as one register.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn load_quarter(sbox: &[u8; 256], offset: usize) -> __m512i {
    let q = [
        half(sbox, offset),
        half(sbox, offset + 16),
        half(sbox, offset + 32),
        half(sbox, offset + 48),
    ];
    let v = _mm512_castsi128_si512(load128(q[0]));
    let v = _mm512_inserti32x4::<1>(v, load128(q[1]));
    let v = _mm512_inserti32x4::<2>(v, load128(q[2]));
    _mm512_inserti32x4::<3>(v, load128(q[3]))
}

#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn keys(s: &Schedule) -> Keys {
    let mut round_keys = [_mm512_setzero_si512(); ROUNDS];
    for (v, rk) in round_keys.iter_mut().zip(&s.round_keys) {
        *v = broadcast(rk);
    }
    Keys {
        sbox: [
            load_quarter(&s.sbox, 0),
            load_quarter(&s.sbox, 64),
            load_quarter(&s.sbox, 128),
            load_quarter(&s.sbox, 192),
        ],
        round_keys,
        shift_rows: broadcast(&SHIFT_ROT[0]),
        w_in: [broadcast(half(&s.w_in, 0)), broadcast(half(&s.w_in, 16))],
        w_out: [broadcast(half(&s.w_out, 0)), broadcast(half(&s.w_out, 16))],
    }
}

/// S-box on every byte: entries 0–127 and 128–255 looked up by the low
/// seven bits, then the top bit chooses.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn sub_bytes(x: __m512i, sbox: &[__m512i; 4]) -> __m512i {
    let low = _mm512_permutex2var_epi8(sbox[0], x, sbox[1]);
    let high = _mm512_permutex2var_epi8(sbox[2], x, sbox[3]);
    _mm512_mask_blend_epi8(_mm512_movepi8_mask(x), low, high)
}

/// GF(2^8) doubling of every byte.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn xtime(v: __m512i) -> __m512i {
    let reduce = _mm512_maskz_mov_epi8(_mm512_movepi8_mask(v), _mm512_set1_epi8(0x1b));
    _mm512_xor_si512(_mm512_add_epi8(v, v), reduce)
}

/// The round function on four half-blocks.
#[inline]
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
fn f(x: __m512i, round_key: __m512i, k: &Keys) -> __m512i {
    let t = sub_bytes(_mm512_xor_si512(x, round_key), &k.sbox);
    let a0 = _mm512_shuffle_epi8(t, k.shift_rows);
    // b_r = 2·a_r ⊕ 3·a_(r+1) ⊕ a_(r+2) ⊕ a_(r+3) = 2·u_r ⊕ a_(r+1) ⊕ u_(r+2)
    // with u_r = a_r ⊕ a_(r+1): one rotation of a and one of u.
    let a1 = _mm512_ror_epi32::<8>(a0);
    let u = _mm512_xor_si512(a0, a1);
    _mm512_xor_si512(xtime(u), _mm512_xor_si512(a1, _mm512_ror_epi32::<16>(u)))
}

/// This backend's vector operations, for `feistel`.
#[derive(Clone, Copy)]
struct Zmm(__m512i);

impl Lanes for Zmm {
    type Keys = Keys;

    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        // SAFETY: a `Zmm` exists only inside `crypt`, which runs only once
        // `Avx512::detect` found the features.
        Zmm(unsafe { _mm512_xor_si512(self.0, other.0) })
    }

    #[inline(always)]
    fn round(self, round: usize, k: &Keys) -> Self {
        // SAFETY: as for `xor`.
        Zmm(unsafe { f(self.0, k.round_keys[round], k) })
    }
}

/// Encrypts or decrypts up to `PAR` blocks in place.
#[target_feature(enable = "avx512f,avx512bw,avx512vbmi")]
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
    let mut l = [Zmm(_mm512_setzero_si512()); REGS];
    let mut r = [Zmm(_mm512_setzero_si512()); REGS];
    for i in 0..REGS {
        let four = |offset| {
            let v = _mm512_castsi128_si512(load128(half(block(4 * i), offset)));
            let v = _mm512_inserti32x4::<1>(v, load128(half(block(4 * i + 1), offset)));
            let v = _mm512_inserti32x4::<2>(v, load128(half(block(4 * i + 2), offset)));
            _mm512_inserti32x4::<3>(v, load128(half(block(4 * i + 3), offset)))
        };
        l[i] = Zmm(_mm512_xor_si512(four(0), w_pre[0]));
        r[i] = Zmm(_mm512_xor_si512(four(16), w_pre[1]));
    }
    feistel::rounds(&k, &mut l, &mut r, decrypt);
    for i in 0..REGS {
        let lv = _mm512_xor_si512(l[i].0, w_post[0]);
        let rv = _mm512_xor_si512(r[i].0, w_post[1]);
        let lanes = |v: __m512i| {
            [
                _mm512_castsi512_si128(v),
                _mm512_extracti32x4_epi32::<1>(v),
                _mm512_extracti32x4_epi32::<2>(v),
                _mm512_extracti32x4_epi32::<3>(v),
            ]
        };
        let (lh, rh) = (lanes(lv), lanes(rv));
        for lane in 0..4 {
            let Some(out) = blocks.get_mut(4 * i + lane) else {
                continue;
            };
            let (left, right) = out.split_at_mut(16);
            if let (Ok(left), Ok(right)) = (
                <&mut [u8; 16]>::try_from(left),
                <&mut [u8; 16]>::try_from(right),
            ) {
                store128(lh[lane], left);
                store128(rh[lane], right);
            }
        }
    }
}

/// Proof that this CPU (and OS) runs AVX-512 F, BW and VBMI: only
/// [`Avx512::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Avx512(());

impl Avx512 {
    /// Checks the CPU once (the result is cached by `cpufeatures`).
    pub(crate) fn detect() -> Option<Self> {
        cpufeatures::new!(avx512_cpuid, "avx512f", "avx512bw", "avx512vbmi");
        avx512_cpuid::get().then_some(Avx512(()))
    }

    /// Encrypts (or decrypts) up to [`PAR`] blocks in place.
    pub(crate) fn crypt(self, s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
        // SAFETY: `self` exists only if the CPU supports the features.
        unsafe { crypt(s, blocks, decrypt) }
    }
}
