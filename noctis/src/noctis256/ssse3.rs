//! The SSSE3 block function, for x86-64 CPUs without AVX2: four blocks at a
//! time, constant-time.
//!
//! One 128-bit register holds one half-block. SSSE3 has `pshufb` but no
//! byte blend (that is SSE4.1), so the S-box lookup uses the telescoping
//! form: bytes below 0x80 are served from slices 0..8 and the others (with
//! bit 7 flipped) from slices 8..16. In each half, step `k` shuffles with
//! the index `byte +sat (0x70 − 16k)`, which has bit 7 set (so `pshufb`
//! yields zero) exactly for bytes whose high nibble is above `k`; the
//! slices are stored as differences of neighbours (`Schedule::sbox_diff`,
//! made once per key), so the steps a byte takes part in XOR up to its entry.
//! Every byte runs the same instructions over the whole table.

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

/// Blocks per batch.
pub(crate) type ParBlocks = cipher::consts::U4;
pub(crate) const PAR: usize = <ParBlocks as cipher::typenum::Unsigned>::USIZE;

struct Keys {
    diff: [__m128i; 16],
    round_keys: [__m128i; ROUNDS],
    shift_rows: __m128i,
}

#[inline]
#[target_feature(enable = "ssse3")]
fn load(bytes: &[u8; 16]) -> __m128i {
    // SAFETY: reads exactly the 16 bytes of `bytes`; unaligned loads are allowed.
    unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
}

#[inline]
#[target_feature(enable = "ssse3")]
fn store(v: __m128i, out: &mut [u8; 16]) {
    // SAFETY: writes exactly the 16 bytes of `out`; unaligned stores are allowed.
    unsafe { _mm_storeu_si128(out.as_mut_ptr().cast(), v) }
}

#[inline]
#[target_feature(enable = "ssse3")]
fn keys(s: &Schedule) -> Keys {
    let mut diff = [_mm_setzero_si128(); 16];
    for (k, v) in diff.iter_mut().enumerate() {
        *v = load(half(&s.sbox_diff, 16 * k));
    }
    let mut round_keys = [_mm_setzero_si128(); ROUNDS];
    for (v, rk) in round_keys.iter_mut().zip(&s.round_keys) {
        *v = load(rk);
    }
    Keys {
        diff,
        round_keys,
        shift_rows: load(&SHIFT_ROT[0]),
    }
}

#[inline]
#[target_feature(enable = "ssse3")]
fn sub_bytes(x: __m128i, diff: &[__m128i; 16]) -> __m128i {
    let flipped = _mm_xor_si128(x, _mm_set1_epi8(i8::MIN));
    let mut acc = _mm_setzero_si128();
    for k in 0..8 {
        let bias = _mm_set1_epi8((0x70 - 16 * k as i32) as i8);
        acc = _mm_xor_si128(acc, _mm_shuffle_epi8(diff[k], _mm_adds_epu8(x, bias)));
        acc = _mm_xor_si128(
            acc,
            _mm_shuffle_epi8(diff[8 + k], _mm_adds_epu8(flipped, bias)),
        );
    }
    acc
}

#[inline]
#[target_feature(enable = "ssse3")]
fn xtime(v: __m128i) -> __m128i {
    let high = _mm_cmplt_epi8(v, _mm_setzero_si128());
    _mm_xor_si128(_mm_add_epi8(v, v), _mm_and_si128(high, _mm_set1_epi8(0x1b)))
}

/// Rotates each 32-bit column down by `BITS` (see the AVX2 backend).
#[inline]
#[target_feature(enable = "ssse3")]
fn rot_column<const BITS: i32, const BACK: i32>(v: __m128i) -> __m128i {
    _mm_or_si128(_mm_srli_epi32::<BITS>(v), _mm_slli_epi32::<BACK>(v))
}

#[inline]
#[target_feature(enable = "ssse3")]
fn f(x: __m128i, round_key: __m128i, k: &Keys) -> __m128i {
    let t = sub_bytes(_mm_xor_si128(x, round_key), &k.diff);
    let a0 = _mm_shuffle_epi8(t, k.shift_rows);
    // MixColumns as 2·u_r ⊕ a_(r+1) ⊕ u_(r+2) with u_r = a_r ⊕ a_(r+1).
    let a1 = rot_column::<8, 24>(a0);
    let u = _mm_xor_si128(a0, a1);
    _mm_xor_si128(xtime(u), _mm_xor_si128(a1, rot_column::<16, 16>(u)))
}

/// This backend's vector operations, for `feistel`.
#[derive(Clone, Copy)]
struct Xmm(__m128i);

impl Lanes for Xmm {
    type Keys = Keys;

    #[inline(always)]
    fn xor(self, other: Self) -> Self {
        // SAFETY: an `Xmm` exists only inside `crypt`, which runs only once
        // `Ssse3::detect` found SSSE3.
        Xmm(unsafe { _mm_xor_si128(self.0, other.0) })
    }

    #[inline(always)]
    fn round(self, round: usize, k: &Keys) -> Self {
        // SAFETY: as for `xor`.
        Xmm(unsafe { f(self.0, k.round_keys[round], k) })
    }
}

#[target_feature(enable = "ssse3")]
fn crypt(s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
    let k = keys(s);
    let (w_pre, w_post) = if decrypt {
        (&s.w_out, &s.w_in)
    } else {
        (&s.w_in, &s.w_out)
    };
    let (pre_l, pre_r) = (load(half(w_pre, 0)), load(half(w_pre, 16)));
    let (post_l, post_r) = (load(half(w_post, 0)), load(half(w_post, 16)));
    let n = blocks.len().min(PAR);
    let mut a = [Xmm(_mm_setzero_si128()); PAR];
    let mut b = [Xmm(_mm_setzero_si128()); PAR];
    for i in 0..n {
        a[i] = Xmm(_mm_xor_si128(load(half(&blocks[i], 0)), pre_l));
        b[i] = Xmm(_mm_xor_si128(load(half(&blocks[i], 16)), pre_r));
    }
    feistel::rounds(&k, &mut a, &mut b, decrypt);
    for (i, block) in blocks.iter_mut().take(n).enumerate() {
        let (left, right) = block.split_at_mut(16);
        if let (Ok(left), Ok(right)) = (
            <&mut [u8; 16]>::try_from(left),
            <&mut [u8; 16]>::try_from(right),
        ) {
            store(_mm_xor_si128(a[i].0, post_l), left);
            store(_mm_xor_si128(b[i].0, post_r), right);
        }
    }
}

/// Proof that this CPU has SSSE3: only [`Ssse3::detect`] makes one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Ssse3(());

impl Ssse3 {
    pub(crate) fn detect() -> Option<Self> {
        cpufeatures::new!(ssse3_cpuid, "ssse3");
        ssse3_cpuid::get().then_some(Ssse3(()))
    }

    /// Encrypts (or decrypts) up to [`PAR`] blocks in place.
    pub(crate) fn crypt(self, s: &Schedule, blocks: &mut [[u8; 32]], decrypt: bool) {
        // SAFETY: `self` exists only if the CPU supports SSSE3.
        unsafe { crypt(s, blocks, decrypt) }
    }
}
