//! Statistical constant-time check (dudect, fixed-vs-random): does one
//! Noctis-256 block encryption take measurably different time for a fixed
//! plaintext than for random ones, under a fixed random key?
//!
//! `cargo run --release -p noctis --example timing` prints, per backend, Welch's
//! t-statistic; |t| above about 5 is evidence of a timing leak. The AVX2
//! backend has no secret-dependent memory index or branch by construction;
//! the portable backend indexes its S-box with secret bytes (its 256-byte
//! table sits in L1 in a tight loop, so this test may not see it: the
//! absence of evidence here is not a proof).

use dudect_bencher::{BenchRng, Class, CtRunner, ctbench_main};
use noctis::{
    Noctis256,
    cipher::{Block, BlockCipherEncrypt},
};
use rand::{Rng, RngExt};

const SAMPLES: usize = 200_000;

fn fixed_vs_random(runner: &mut CtRunner, rng: &mut BenchRng, portable: bool) {
    let mut key = [0u8; 32];
    rng.fill_bytes(&mut key);
    let cipher = Noctis256::from_key(&key);
    let cipher = if portable {
        cipher.portable_only()
    } else {
        cipher
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

fn avx2_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, false);
}

fn portable_block(runner: &mut CtRunner, rng: &mut BenchRng) {
    fixed_vs_random(runner, rng, true);
}

ctbench_main!(avx2_block, portable_block);
