//! Optional size padding (Padmé, Nikitin et al., "Reducing Metadata
//! Leakage from Encrypted Files and Communication with PURBs", 2019).
//!
//! The format itself hides nothing about a file's length: the ciphertext
//! is the plaintext's length plus a fixed overhead. A writer that wants to
//! hide it pads the plaintext with zero bytes to [`padded_len`] before
//! encrypting, and keeps the real length somewhere sealed (the dashboard:
//! in the file's sealed metadata), so a reader can drop the padding. Padmé
//! rounds a length to a number with at most ⌊log₂ log₂ L⌋ + 1 significant
//! bits: the overhead stays below 12 % (under 3.2 % from 64 KiB, under
//! 1.6 % from 4 GiB), and a length shows only O(log log L) bits about
//! itself instead of O(log L).

/// The length Padmé pads `len` to: the smallest length ≥ `len` whose
/// binary form ends in `E − S` zeros, where `E = ⌊log₂ len⌋` and
/// `S = ⌊log₂ E⌋ + 1`. Lengths below 2 are kept.
pub fn padded_len(len: u64) -> u64 {
    if len < 2 {
        return len;
    }
    let e = 63 - u64::from(len.leading_zeros());
    let s = 64 - u64::from(e.leading_zeros());
    let zeros = e - s;
    let mask = (1u64 << zeros) - 1;
    len.checked_add(mask).map_or(len, |l| l & !mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn padme_matches_the_paper_and_bounds_the_overhead() {
        // Small lengths keep every bit.
        for len in 0..=8 {
            assert_eq!(padded_len(len), len);
        }
        assert_eq!(padded_len(9), 10);
        assert_eq!(padded_len(1000), 1024);
        assert_eq!(padded_len(1_000_001), 1_015_808);
        assert_eq!(padded_len(1 << 30), 1 << 30);
        assert_eq!(padded_len((1 << 30) + 1), (1 << 30) + (1 << 25));
        let mut len = 2u64;
        while len < 1 << 40 {
            for l in [len, len + 1, len * 3 / 2, len * 2 - 1] {
                let p = padded_len(l);
                assert!(p >= l, "{l}");
                assert!((p - l) * 100 <= l * 12, "{l} → {p}: more than 12 %");
                assert_eq!(padded_len(p), p, "padding is idempotent at {l}");
            }
            len *= 2;
        }
        assert_eq!(padded_len(u64::MAX), u64::MAX);
    }
}
