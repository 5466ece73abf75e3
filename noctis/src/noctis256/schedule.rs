//! The key schedule: the secret S-box, the round keys and the whitening keys,
//! all drawn from SHAKE256 of the key under distinct labels.

use shake::{ExtendableOutput, Shake256, Update, XofReader};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Number of Feistel rounds.
pub(crate) const ROUNDS: usize = 20;

/// Everything the block function needs, derived from one 32-byte key.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub(crate) struct Schedule {
    /// The key-dependent permutation of 0..=255. (Its inverse is never
    /// needed: Feistel decryption runs F forwards.)
    pub(crate) sbox: [u8; 256],
    /// The S-box as sixteen 16-byte slices, each half of eight stored as
    /// differences of neighbours (`D_k = S_k ⊕ S_(k+1)`, `D_7 = S_7`, same for
    /// 8..16): the form the SSSE3 lookup consumes, computed once per key
    /// rather than per batch.
    pub(crate) sbox_diff: [u8; 256],
    pub(crate) round_keys: [[u8; 16]; ROUNDS],
    pub(crate) w_in: [u8; 32],
    pub(crate) w_out: [u8; 32],
}

impl Schedule {
    pub(crate) fn new(key: &[u8; 32]) -> Self {
        let sbox = sbox(key);
        let mut schedule = Schedule {
            sbox_diff: slice_differences(&sbox),
            sbox,
            round_keys: [[0; 16]; ROUNDS],
            w_in: [0; 32],
            w_out: [0; 32],
        };
        let mut xof = Shake256::default();
        xof.update(b"Noctis-256 v2 round keys");
        xof.update(key);
        let mut reader = xof.finalize_xof();
        for round_key in &mut schedule.round_keys {
            reader.read(round_key);
        }
        reader.read(&mut schedule.w_in);
        reader.read(&mut schedule.w_out);
        schedule
    }
}

fn slice_differences(sbox: &[u8; 256]) -> [u8; 256] {
    let mut diff = *sbox;
    for i in 0..256 {
        // Slices 7 and 15 (the last of each half) stay as they are.
        if (i / 16) % 8 != 7 {
            diff[i] ^= sbox[i + 16];
        }
    }
    diff
}

/// Fisher–Yates over SHAKE256 bytes with rejection sampling (no modulo
/// bias). Its running time depends on the key through the rejections; this
/// is key setup, done once per key, and leaks at most how many bytes were
/// rejected, not which permutation resulted.
fn sbox(key: &[u8; 32]) -> [u8; 256] {
    let mut xof = Shake256::default();
    xof.update(b"Noctis-256 v2 sbox");
    xof.update(key);
    let mut reader = xof.finalize_xof();
    let mut s = [0u8; 256];
    for (i, v) in s.iter_mut().enumerate() {
        *v = i as u8;
    }
    for i in (1..256usize).rev() {
        let n = i + 1;
        let limit = 256 - (256 % n);
        let j = loop {
            let mut b = [0u8; 1];
            reader.read(&mut b);
            if usize::from(b[0]) < limit {
                break usize::from(b[0]) % n;
            }
        };
        s.swap(i, j);
    }
    s
}
