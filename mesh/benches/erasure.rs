//! Reed-Solomon erasure coding: `reed-solomon-simd` against `reed-solomon-erasure`.
//!
//! Measures encode and decode throughput of both crates for the stripe shapes
//! the storage mesh uses: k data shards of 256 KiB per stripe, coded 4+2 and
//! 10+4. Decode is the worst case: the first m data shards are missing and are
//! rebuilt from the remaining data shards and all m recovery shards. Throughput
//! counts the stripe's data (k × 256 KiB) per second, for encode and decode
//! alike. Each case runs for about 1.5 s on one thread, and each decode is
//! checked once to restore the original bytes exactly before it is timed.
//!
//! Each crate is driven the way its API is meant to be used: `reed-solomon-simd`
//! reuses one encoder and one decoder, and copies the shards it is given into
//! its working space on every call; `reed-solomon-erasure` codes in place in
//! the caller's buffers.
//!
//! `reed-solomon-simd` chooses its SIMD engine at runtime, so the first line
//! printed names the CPU and the SIMD features it has.
//!
//! Run with `cargo bench -p mesh --bench erasure`.

#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    reason = "a bench binary prints its figures"
)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use reed_solomon_erasure::galois_8::ReedSolomon;
use reed_solomon_simd::{ReedSolomonDecoder, ReedSolomonEncoder};

/// Bytes per shard, as the storage mesh stripes data.
const SHARD_BYTES: usize = 256 * 1024;
/// The codings measured, as (data shards k, recovery shards m).
const CODINGS: [(usize, usize); 2] = [(4, 2), (10, 4)];
/// How long each case runs.
const TARGET: Duration = Duration::from_millis(1500);
/// Fewest timed iterations per case, however slow.
const MIN_ITERATIONS: u32 = 3;
const MIB: f64 = 1024.0 * 1024.0;

/// A small deterministic pseudo-random generator (xorshift64).
struct XorShift64(u64);

impl XorShift64 {
    fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn shard(&mut self) -> Vec<u8> {
        let mut shard = vec![0_u8; SHARD_BYTES];
        for chunk in shard.chunks_exact_mut(8) {
            chunk.copy_from_slice(&self.next_u64().to_le_bytes());
        }
        shard
    }
}

/// One line of the table.
struct Row {
    krate: &'static str,
    coding: String,
    encode: f64,
    decode: f64,
}

/// Runs `op` repeatedly for about `TARGET` and returns its throughput in
/// MiB/s, counting `bytes` per call.
fn throughput(bytes: usize, mut op: impl FnMut()) -> f64 {
    let start = Instant::now();
    let mut iterations: u32 = 0;
    loop {
        op();
        iterations += 1;
        let elapsed = start.elapsed();
        if elapsed >= TARGET && iterations >= MIN_ITERATIONS {
            return bytes as f64 * f64::from(iterations) / MIB / elapsed.as_secs_f64();
        }
    }
}

/// Gives the decoder every shard but the first `m` data shards.
fn feed_simd_decoder(
    decoder: &mut ReedSolomonDecoder,
    m: usize,
    data: &[Vec<u8>],
    recovery: &[Vec<u8>],
) {
    for (index, shard) in data.iter().enumerate().skip(m) {
        decoder
            .add_original_shard(index, shard)
            .expect("reed-solomon-simd: add original shard");
    }
    for (index, shard) in recovery.iter().enumerate() {
        decoder
            .add_recovery_shard(index, shard)
            .expect("reed-solomon-simd: add recovery shard");
    }
}

/// Encode and decode throughput of `reed-solomon-simd` for k+m.
fn bench_simd(k: usize, m: usize, data: &[Vec<u8>]) -> (f64, f64) {
    let stripe_bytes = k * SHARD_BYTES;

    let mut encoder =
        ReedSolomonEncoder::new(k, m, SHARD_BYTES).expect("reed-solomon-simd: new encoder");
    for shard in data {
        encoder
            .add_original_shard(shard)
            .expect("reed-solomon-simd: add original shard");
    }
    let recovery: Vec<Vec<u8>> = encoder
        .encode()
        .expect("reed-solomon-simd: encode")
        .recovery_iter()
        .map(<[u8]>::to_vec)
        .collect();
    assert_eq!(
        recovery.len(),
        m,
        "reed-solomon-simd {k}+{m}: recovery shard count"
    );

    // Check once that decoding restores the original bytes exactly.
    let mut decoder =
        ReedSolomonDecoder::new(k, m, SHARD_BYTES).expect("reed-solomon-simd: new decoder");
    feed_simd_decoder(&mut decoder, m, data, &recovery);
    {
        let result = decoder.decode().expect("reed-solomon-simd: decode");
        assert_eq!(
            result.restored_original_iter().count(),
            m,
            "reed-solomon-simd {k}+{m}: restored shard count"
        );
        for (index, original) in data.iter().enumerate().take(m) {
            assert!(
                result.restored_original(index) == Some(original.as_slice()),
                "reed-solomon-simd {k}+{m}: data shard {index} restored wrong"
            );
        }
    }

    let encode = throughput(stripe_bytes, || {
        for shard in data {
            encoder
                .add_original_shard(black_box(shard))
                .expect("reed-solomon-simd: add original shard");
        }
        let result = encoder.encode().expect("reed-solomon-simd: encode");
        black_box(result.recovery(0));
    });

    let decode = throughput(stripe_bytes, || {
        feed_simd_decoder(&mut decoder, m, black_box(data), &recovery);
        let result = decoder.decode().expect("reed-solomon-simd: decode");
        black_box(result.restored_original(0));
    });

    (encode, decode)
}

/// Encode and decode throughput of `reed-solomon-erasure` for k+m.
fn bench_erasure(k: usize, m: usize, data: &[Vec<u8>]) -> (f64, f64) {
    let stripe_bytes = k * SHARD_BYTES;

    let codec = ReedSolomon::new(k, m).expect("reed-solomon-erasure: new codec");
    let mut parity = vec![vec![0_u8; SHARD_BYTES]; m];
    codec
        .encode_sep(data, parity.as_mut_slice())
        .expect("reed-solomon-erasure: encode");

    // Shards as (buffer, present): the first m data shards are missing and
    // are rebuilt in place, in the same buffers on every iteration.
    let mut shards: Vec<(Vec<u8>, bool)> = data
        .iter()
        .chain(&parity)
        .map(|shard| (shard.clone(), true))
        .collect();
    for shard in shards.iter_mut().take(m) {
        shard.0.fill(0);
        shard.1 = false;
    }

    // Check once that decoding restores the original bytes exactly.
    codec
        .reconstruct_data(shards.as_mut_slice())
        .expect("reed-solomon-erasure: reconstruct");
    for (index, (original, (restored, _))) in data.iter().zip(&shards).enumerate() {
        assert!(
            restored == original,
            "reed-solomon-erasure {k}+{m}: data shard {index} restored wrong"
        );
    }

    let encode = throughput(stripe_bytes, || {
        codec
            .encode_sep(black_box(data), parity.as_mut_slice())
            .expect("reed-solomon-erasure: encode");
        black_box(&parity);
    });

    let decode = throughput(stripe_bytes, || {
        codec
            .reconstruct_data(black_box(shards.as_mut_slice()))
            .expect("reed-solomon-erasure: reconstruct");
        black_box(&shards);
    });

    (encode, decode)
}

/// The CPU's model name, or "unknown".
fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|line| line.starts_with("model name"))
                .and_then(|line| line.split_once(':'))
                .map(|(_, model)| model.trim().to_owned())
        })
        .filter(|model| !model.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

/// Which of avx2, avx512f, ssse3 and neon the CPU has.
#[cfg(any(target_arch = "x86", target_arch = "x86_64"))]
fn simd_features() -> Vec<&'static str> {
    let mut found = Vec::new();
    if is_x86_feature_detected!("avx2") {
        found.push("avx2");
    }
    if is_x86_feature_detected!("avx512f") {
        found.push("avx512f");
    }
    if is_x86_feature_detected!("ssse3") {
        found.push("ssse3");
    }
    found
}

/// Which of avx2, avx512f, ssse3 and neon the CPU has.
#[cfg(target_arch = "aarch64")]
fn simd_features() -> Vec<&'static str> {
    if std::arch::is_aarch64_feature_detected!("neon") {
        vec!["neon"]
    } else {
        Vec::new()
    }
}

/// Which of avx2, avx512f, ssse3 and neon the CPU has.
#[cfg(not(any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")))]
fn simd_features() -> Vec<&'static str> {
    Vec::new()
}

/// The engine `reed-solomon-simd`'s `DefaultEngine` picks for these
/// features: AVX2, then SSSE3 on x86; Neon on AArch64; else portable code.
fn simd_engine(features: &[&str]) -> &'static str {
    if features.contains(&"avx2") {
        "AVX2"
    } else if features.contains(&"ssse3") {
        "SSSE3"
    } else if features.contains(&"neon") {
        "Neon"
    } else {
        "NoSimd (portable)"
    }
}

/// One aligned line of the table.
fn table_line(krate: &str, coding: &str, encode: &str, decode: &str) -> String {
    format!("{krate:<20}  {coding:<6}  {encode:>12}  {decode:>12}")
}

fn main() {
    let model = cpu_model();
    let features = simd_features();
    let feature_list = if features.is_empty() {
        "none of avx2, avx512f, ssse3, neon".to_owned()
    } else {
        features.join(", ")
    };
    let engine = simd_engine(&features);
    let no_avx512 = if features.contains(&"avx512f") {
        " (it has no AVX-512 engine)"
    } else {
        ""
    };
    println!(
        "CPU: {model}; SIMD: {feature_list}; reed-solomon-simd picks its engine at runtime: {engine}{no_avx512}"
    );
    println!(
        "reed-solomon-erasure: pure Rust (its `simd-accel` feature is not enabled); both crates run on one thread"
    );
    let shard_kib = SHARD_BYTES / 1024;
    println!(
        "k+m coding, {shard_kib} KiB shards; MiB/s of stripe data (k shards); decode rebuilds m missing data shards"
    );

    let mut rows = Vec::new();
    let mut rng = XorShift64(0x9E37_79B9_7F4A_7C15);
    for (k, m) in CODINGS {
        let data: Vec<Vec<u8>> = (0..k).map(|_| rng.shard()).collect();
        let coding = format!("{k}+{m}");

        eprintln!("measuring reed-solomon-erasure {coding} …");
        let (encode, decode) = bench_erasure(k, m, &data);
        rows.push(Row {
            krate: "reed-solomon-erasure",
            coding: coding.clone(),
            encode,
            decode,
        });

        eprintln!("measuring reed-solomon-simd {coding} …");
        let (encode, decode) = bench_simd(k, m, &data);
        rows.push(Row {
            krate: "reed-solomon-simd",
            coding,
            encode,
            decode,
        });
    }
    // Group by crate; the sort is stable, so codings stay in order.
    rows.sort_by_key(|row| row.krate);

    println!();
    let header = table_line("crate", "coding", "encode MiB/s", "decode MiB/s");
    println!("{header}");
    for row in &rows {
        let encode = format!("{:.0}", row.encode);
        let decode = format!("{:.0}", row.decode);
        let line = table_line(row.krate, &row.coding, &encode, &decode);
        println!("{line}");
    }
}
