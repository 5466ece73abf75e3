//! Statistical constant-time check (dudect, fixed-vs-random): does one
//! Noctis-256 block encryption take measurably different time for a fixed
//! plaintext than for random ones, under a fixed random key?
//!
//! `cargo run --release -p noctis --example timing` prints, per backend, Welch's
//! t-statistic; |t| above about 5 is evidence of a timing leak. The AVX-512,
//! AVX2 and SSSE3 backends have no secret-dependent memory index or branch
//! by construction;
//! the portable backend indexes its S-box with secret bytes (its 256-byte
//! table sits in L1 in a tight loop, so this test may not see it: the
//! absence of evidence here is not a proof).

#![expect(
    clippy::print_stdout,
    reason = "a console tool says which backends it skipped"
)]

use dudect_bencher::{BenchRng, Class, CtRunner, ctbench_main};
use noctis::{
    Noctis256,
    cipher::{Block, BlockCipherEncrypt},
};
use rand::{Rng, RngExt};

const SAMPLES: usize = 200_000;

/// Runs the test on `backend`, or says it is skipped when this CPU lacks it.
fn fixed_vs_random(runner: &mut CtRunner, rng: &mut BenchRng, backend: &str) {
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let Some(cipher) = Noctis256::every_backend(&key)
        .into_iter()
        .find(|c| c.backend() == backend)
    else {
        println!("{backend}: skipped, not on this CPU");
        return;
    };
    let mut inputs = Vec::with_capacity(SAMPLES);
    for _ in 0..SAMPLES {
        let mut block = Block::<Noctis256>::default();
        let class = if rng.random::<bool>() {
            Class::Left // the fixed input: all zero
        } else {
            rng.fill_bytes(&mut block);
            Class::Right
        };
        inputs.push((class, block));
    }
    for (class, block) in inputs {
        runner.run_one(class, || {
            let mut b = block;
            cipher.encrypt_block(&mut b);
            b
        });
    }
}

fn avx512_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, "avx512");
}

fn avx2_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, "avx2");
}

fn ssse3_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, "ssse3");
}

fn portable_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, "portable");
}

ctbench_main!(avx512_block, avx2_block, ssse3_block, portable_block);
