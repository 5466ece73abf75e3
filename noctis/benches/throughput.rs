//! Throughput, side by side in one run: the Noctis-256 CTR keystream (each
//! backend), the Noctis AEAD, and HMAC-SHA3-256 alone (the AEAD's ceiling).
//!
//! `cargo bench -p noctis --bench throughput`; criterion prints MiB/s or GiB/s.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use noctis::{
    Noctis256, NoctisAead,
    aead::{AeadInOut, KeyInit as _},
    cipher::{InnerIvInit, StreamCipher},
};

const SIZE: usize = 1 << 20;

fn keystream(c: &mut Criterion) {
    let mut group = c.benchmark_group("noctis-256 ctr keystream");
    group.throughput(Throughput::Bytes(SIZE as u64));
    let key = [0x42u8; 32];
    let iv = [7u8; 32];
    for cipher in [
        Noctis256::from_key(&key),
        Noctis256::from_key(&key).portable_only(),
    ] {
        let mut buf = vec![0u8; SIZE];
        group.bench_function(cipher.backend(), |b| {
            b.iter(|| {
                let core =
                    <ctr::CtrCore<Noctis256, ctr::flavors::Ctr64BE> as InnerIvInit>::inner_iv_init(
                        cipher.clone(),
                        (&iv).into(),
                    );
                let mut ctr = ctr::Ctr64BE::<Noctis256>::from_core(core);
                ctr.apply_keystream(black_box(&mut buf));
            });
        });
    }
    group.finish();
}

fn aead_vs_hmac(c: &mut Criterion) {
    let mut group = c.benchmark_group("noctis aead vs its mac");
    group.throughput(Throughput::Bytes(SIZE as u64));
    let aead = NoctisAead::new_from_slice(&[0x24u8; 64]).expect("64-byte key");
    let nonce = [1u8; 24];
    let mut buf = vec![0u8; SIZE];
    group.bench_function("noctis-aead seal", |b| {
        b.iter(|| {
            aead.encrypt_inout_detached((&nonce).into(), b"aad", black_box(&mut buf[..]).into())
                .expect("seal")
        });
    });
    group.bench_function("hmac-sha3-256 alone", |b| {
        use hmac::{KeyInit, Mac, SimpleHmac};
        b.iter(|| {
            let mut mac = <SimpleHmac<sha3::Sha3_256> as KeyInit>::new_from_slice(&[0x24u8; 32])
                .expect("any key length");
            mac.update(black_box(&buf));
            mac.finalize()
        });
    });
    group.finish();
}

criterion_group!(benches, keystream, aead_vs_hmac);
criterion_main!(benches);
