//! Schedule internals against the vectors, and the backends against each
//! other. The public-API vector tests live in `noctis/tests/vectors.rs`.

use super::schedule::Schedule;

const KEY: [u8; 32] = {
    let mut k = [0u8; 32];
    let mut i = 0;
    while i < 32 {
        k[i] = i as u8;
        i += 1;
    }
    k
};

fn hex(s: &str) -> alloc::vec::Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
        .collect()
}

#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn schedule_matches_the_vector() {
    let s = Schedule::new(&KEY);
    assert_eq!(&s.sbox[..16], &hex("1afdc113e6bb0e0431e2f717e49c6447")[..]);
    assert_eq!(
        &s.round_keys[0][..],
        &hex("c5e9a403b983b79812beb27123965319")[..]
    );
    assert_eq!(
        &s.round_keys[19][..],
        &hex("4ff6907c15adfa7416ff31244ab544c2")[..]
    );
    assert_eq!(
        &s.w_in[..],
        &hex("decc5394c3e2bc35d0ed17746e08a212582211a93e31f0c7856ad51513e169c5")[..]
    );
    assert_eq!(
        &s.w_out[..],
        &hex("dcfb59d6dbbda2c04abad9931be5de5d3fb74941d902f088d243cbdfb6d15fb2")[..]
    );
    let mut seen = [false; 256];
    for &v in &s.sbox {
        assert!(!seen[usize::from(v)], "the S-box is not a permutation");
        seen[usize::from(v)] = true;
    }
}

#[cfg(target_arch = "x86_64")]
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn avx2_agrees_with_the_portable_function_at_every_batch_size() {
    let Some(avx2) = super::avx2::Avx2::detect() else {
        return;
    };
    simd_agrees(super::avx2::PAR, |s, b, d| avx2.crypt(s, b, d));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn avx512_agrees_with_the_portable_function_at_every_batch_size() {
    let Some(avx512) = super::avx512::Avx512::detect() else {
        std::eprintln!("skipped: this CPU has no AVX-512 VBMI");
        return;
    };
    simd_agrees(super::avx512::PAR, |s, b, d| avx512.crypt(s, b, d));
}

#[cfg(target_arch = "x86_64")]
#[test]
fn ssse3_agrees_with_the_portable_function_at_every_batch_size() {
    let Some(ssse3) = super::ssse3::Ssse3::detect() else {
        return;
    };
    simd_agrees(super::ssse3::PAR, |s, b, d| ssse3.crypt(s, b, d));
}

/// `crypt` over every batch size up to `par` equals the portable function,
/// and undoes itself.
#[cfg(target_arch = "x86_64")]
fn simd_agrees(par: usize, crypt: impl Fn(&Schedule, &mut [[u8; 32]], bool)) {
    let s = Schedule::new(&KEY);
    for n in 1..=par {
        let mut blocks = [[0u8; 32]; 16];
        for (i, b) in blocks.iter_mut().enumerate() {
            for (j, v) in b.iter_mut().enumerate() {
                *v = (i * 37 + j * 11 + n) as u8;
            }
        }
        let mut expected = blocks;
        for b in &mut expected[..n] {
            super::soft::encrypt(&s, b);
        }
        let mut got = blocks;
        crypt(&s, &mut got[..n], false);
        assert_eq!(got[..n], expected[..n], "encrypt, batch of {n}");
        crypt(&s, &mut got[..n], true);
        assert_eq!(got[..n], blocks[..n], "decrypt, batch of {n}");
    }
}

/// Through the `cipher` traits (where each backend's batch size is declared),
/// every backend's CTR keystream over lengths that end mid-batch equals the
/// portable one. A backend whose declared batch disagreed with what its
/// `crypt` processes would leave blocks untouched here.
#[cfg_attr(not(target_arch = "wasm32"), test)]
#[cfg_attr(target_arch = "wasm32", wasm_bindgen_test::wasm_bindgen_test)]
fn every_backend_yields_the_portable_keystream() {
    use cipher::{InnerIvInit as _, StreamCipher as _};
    type Ctr = ctr::Ctr64BE<super::Noctis256>;
    type Core = ctr::CtrCore<super::Noctis256, ctr::flavors::Ctr64BE>;
    let all = super::Noctis256::every_backend(&KEY);
    let portable = <super::Noctis256 as cipher::KeyInit>::new(&KEY.into()).portable_only();
    let iv = [9u8; 32];
    for len in [1usize, 32, 33, 63, 64, 65, 255, 256, 257, 32 * 37 + 5] {
        let mut expected = alloc::vec![0u8; len];
        Ctr::from_core(Core::inner_iv_init(portable.clone(), (&iv).into()))
            .apply_keystream(&mut expected);
        for cipher in &all {
            let mut got = alloc::vec![0u8; len];
            Ctr::from_core(Core::inner_iv_init(cipher.clone(), (&iv).into()))
                .apply_keystream(&mut got);
            assert_eq!(got, expected, "{} at {len} bytes", cipher.backend());
        }
    }
}

/// The avalanche measurement: slow-ish (seconds), so native only.
#[cfg(not(target_arch = "wasm32"))]
mod avalanche {
    use super::Schedule;

    /// Avalanche at `rounds` rounds over `samples` random (plaintext, key)
    /// pairs: flipping any one input bit, or any one key bit, must flip each
    /// output bit with probability close to 1/2. Returns the worst deviation
    /// from 1/2 of any (input bit, output bit) pair's flip frequency, and of
    /// the mean number of flipped bits from 128.
    fn avalanche(rounds: usize, samples: usize) -> (f64, f64) {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let mut rng = StdRng::seed_from_u64(rounds as u64);
        // counts[input bit][output bit]: plaintext bits 0..256, key bits 256..512
        let mut counts = alloc::vec![[0u32; 256]; 512];
        let mut total_flips = 0u64;
        for _ in 0..samples {
            let mut key = [0u8; 32];
            let mut block = [0u8; 32];
            rng.fill_bytes(&mut key);
            rng.fill_bytes(&mut block);
            let s = Schedule::new(&key);
            let mut base = block;
            super::super::soft::encrypt_rounds(&s, &mut base, rounds);
            for bit in 0..512 {
                let mut out = block;
                if bit < 256 {
                    out[bit / 8] ^= 1 << (bit % 8);
                    super::super::soft::encrypt_rounds(&s, &mut out, rounds);
                } else {
                    let mut k2 = key;
                    k2[(bit - 256) / 8] ^= 1 << (bit % 8);
                    super::super::soft::encrypt_rounds(&Schedule::new(&k2), &mut out, rounds);
                }
                for (o, (a, b)) in out.iter().zip(base.iter()).enumerate() {
                    let diff = a ^ b;
                    total_flips += u64::from(diff.count_ones());
                    for j in 0..8 {
                        counts[bit][o * 8 + j] += u32::from((diff >> j) & 1);
                    }
                }
            }
        }
        let n = samples as f64;
        let worst = counts
            .iter()
            .flat_map(|row| row.iter())
            .map(|&c| (f64::from(c) / n - 0.5).abs())
            .fold(0.0, f64::max);
        let mean = total_flips as f64 / (512.0 * n);
        (worst, (mean - 128.0).abs())
    }

    /// With 400 samples a fair coin's frequency stays within ±0.125 of 1/2 for
    /// all 131 072 (input bit, output bit) pairs (≈ 5 standard deviations),
    /// and the mean flip count within 1 bit of 128.
    const AVALANCHE_SAMPLES: usize = 400;
    const WORST_PAIR: f64 = 0.125;
    const WORST_MEAN: f64 = 1.0;

    fn passes(rounds: usize) -> bool {
        let (worst, mean) = avalanche(rounds, AVALANCHE_SAMPLES);
        worst < WORST_PAIR && mean < WORST_MEAN
    }

    #[test]
    fn every_input_and_key_bit_avalanches_at_twenty_rounds() {
        let (worst, mean) = avalanche(super::super::schedule::ROUNDS, AVALANCHE_SAMPLES);
        assert!(
            worst < WORST_PAIR,
            "a bit pair flips with frequency 1/2 ± {worst:.3}"
        );
        assert!(
            mean < WORST_MEAN,
            "mean flips deviate from 128 by {mean:.3}"
        );
    }

    #[test]
    #[expect(clippy::print_stdout, reason = "the figure the test exists to report")]
    fn the_diffusion_margin_is_at_least_fourfold() {
        // The smallest round count that passes the same avalanche test; the
        // test fails (rather than passes quietly) if even one round passed,
        // which would mean the test itself cannot see anything.
        let smallest = (1..=super::super::schedule::ROUNDS)
            .find(|&r| passes(r))
            .expect("twenty rounds must pass");
        assert!(smallest > 1, "one round cannot diffuse: the test is broken");
        assert!(
            smallest * 4 <= super::super::schedule::ROUNDS,
            "avalanche first passes at {smallest} rounds: margin below 4x"
        );
        std::println!(
            "avalanche: first passes at {smallest} rounds; margin to 20 = {}",
            super::super::schedule::ROUNDS - smallest
        );
    }
}
