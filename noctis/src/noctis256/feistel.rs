//! The Feistel structure, written once for every backend: twenty rounds
//! over `N` pairs of halves, generic over the backend's vector type. Each
//! backend says only how to xor two of its vectors and how to compute the
//! round function F on one; this module owns the round order, the round
//! keys' order for decryption, and the swap.
//!
//! The swap is done by alternating which half is updated (`a ^= F(b)`,
//! then `b ^= F(a)`), so no data moves; after the even number of rounds the
//! halves are back in place.
//!
//! The SIMD backends call this from inside their `#[target_feature]`
//! function and mark their `Lanes` methods `#[inline(always)]`, so the
//! whole loop is compiled with their features, as if written out there.

use super::schedule::ROUNDS;

/// A backend's vector of half-blocks (one or several blocks' L or R).
pub(super) trait Lanes: Copy {
    /// What F needs, loaded once per call (S-box, round keys, shuffles).
    type Keys;
    /// `self ⊕ other`.
    fn xor(self, other: Self) -> Self;
    /// F(`self`) under round key number `round`.
    fn round(self, round: usize, keys: &Self::Keys) -> Self;
}

/// Encrypts (or, with `decrypt`, decrypts) the halves `a` (L) and `b` (R)
/// of `N` vectors of blocks in place, whitening aside.
#[inline(always)]
pub(super) fn rounds<V: Lanes, const N: usize>(
    keys: &V::Keys,
    a: &mut [V; N],
    b: &mut [V; N],
    decrypt: bool,
) {
    for pair in 0..ROUNDS / 2 {
        let (first, second) = if decrypt {
            (ROUNDS - 1 - 2 * pair, ROUNDS - 2 - 2 * pair)
        } else {
            (2 * pair, 2 * pair + 1)
        };
        // Encryption: L ^= F(R); R ^= F(L). Decryption mirrors it.
        let (x, y) = if decrypt {
            (&mut *b, &mut *a)
        } else {
            (&mut *a, &mut *b)
        };
        for i in 0..N {
            x[i] = x[i].xor(y[i].round(first, keys));
        }
        for i in 0..N {
            y[i] = y[i].xor(x[i].round(second, keys));
        }
    }
}
