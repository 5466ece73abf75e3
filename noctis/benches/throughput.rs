//! Throughput, side by side in one run: the Noctis-256 CTR keystream (each
//! backend), the Noctis AEAD, HMAC-SHA3-256 alone (the AEAD's ceiling), the
//! file format with AES-256-GCM and with Noctis, and one Argon2id key
//! derivation at the default parameters.
//!
//! `cargo bench -p noctis --bench throughput`; criterion prints MiB/s or GiB/s.

#![expect(
    clippy::print_stdout,
    reason = "a benchmark prints the machine it ran on"
)]

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use noctis::{
    Noctis256, NoctisAead,
    aead::{AeadInOut, KeyInit as _},
    cipher::{InnerIvInit, StreamCipher},
};

const SIZE: usize = 1 << 20;

/// The CPU's model and the SIMD flags the backends care about, so figures
/// from different machines are never compared blind.
fn print_cpu() {
    let info = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_once(':'))
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let flags = field("flags");
    let relevant: Vec<&str> = flags
        .split_whitespace()
        .filter(|f| {
            [
                "ssse3",
                "avx2",
                "avx512f",
                "avx512bw",
                "avx512vbmi",
                "gfni",
                "vaes",
                "sha_ni",
                "aes",
            ]
            .contains(f)
        })
        .collect();
    println!("cpu: {} ({})", field("model name"), relevant.join(" "));
    let ran: Vec<&str> = Noctis256::every_backend(&[0; 32])
        .iter()
        .map(Noctis256::backend)
        .collect();
    println!("noctis-256 backends on this machine: {}", ran.join(", "));
}

fn keystream(c: &mut Criterion) {
    print_cpu();
    let mut group = c.benchmark_group("noctis-256 ctr keystream");
    group.throughput(Throughput::Bytes(SIZE as u64));
    let key = [0x42u8; 32];
    let iv = [7u8; 32];
    for cipher in Noctis256::every_backend(&key) {
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

fn file_format(c: &mut Criterion) {
    use noctis::format::{CipherId, DEFAULT_CHUNK_SIZE, Encryptor, FileKey, Header, KeySource};
    let mut group = c.benchmark_group("file format, 1 MiB chunks");
    let chunks = 8;
    group.throughput(Throughput::Bytes(u64::from(DEFAULT_CHUNK_SIZE) * chunks));
    for cipher in [CipherId::Aes256Gcm, CipherId::Noctis256] {
        let header = Header {
            cipher,
            chunk_size: DEFAULT_CHUNK_SIZE,
            key_source: KeySource::External,
            salt: [3; 32],
            nonce_prefix: [4; 19],
        };
        let mut buf = Vec::with_capacity(DEFAULT_CHUNK_SIZE as usize + 32);
        group.bench_function(format!("{cipher:?} encrypt"), |b| {
            b.iter(|| {
                let mut enc = Encryptor::new(&FileKey([5; 32]), header.clone());
                for i in 0..chunks {
                    buf.clear();
                    buf.resize(DEFAULT_CHUNK_SIZE as usize, 0);
                    enc.seal_next(black_box(&mut buf), i + 1 == chunks)
                        .expect("seal");
                }
            });
        });
    }
    group.finish();
}

fn argon2id(c: &mut Criterion) {
    let mut group = c.benchmark_group("argon2id");
    group.sample_size(10);
    let p = noctis::keys::DEFAULT_ARGON2;
    group.bench_function(
        format!("t={} m={}MiB p={}", p.t, p.m_kib / 1024, p.p),
        |b| {
            b.iter(|| noctis::keys::password_key(b"password", &[9; 32], p).expect("argon2"));
        },
    );
    group.finish();
}

criterion_group!(benches, keystream, aead_vs_hmac, file_format, argon2id);
criterion_main!(benches);
