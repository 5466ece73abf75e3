//! Upload then download N bytes of ciphertext over loopback against the
//! real release binary, beside a plain `cp` of the same file on the same
//! disk, and the server's peak resident memory (VmHWM). CPU time is shown
//! per process and for the whole machine, with SHA-256 alone beside it:
//! the server hashes every byte it takes, and that is most of what it does
//! beyond what `cp` does.
//!
//! `cargo bench -p server --bench transfer` (1 GiB), or with
//! `NOCTURNE_BENCH_SIZE=4GiB`. Uses `NOCTURNE_TEST_BIN` or
//! `target/release/nocturne`; build it first (`cargo xtask build`).
//! Prints figures; asserts nothing about speed.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/profile.rs"]
#[expect(
    dead_code,
    reason = "this bench reads /proc only; the DevTools half is the browser bench's"
)]
mod profile;

use std::{
    io::{Read, Seek, Write},
    path::{Path, PathBuf},
    sync::Arc,
    time::Instant,
};

use futures_util::StreamExt;
use profile::CpuSnapshot;
use reqwest::Method;
use sha2::{Digest, Sha256};

const PART: usize = 8 << 20;
/// Parts sent at once: six, as the dashboard's file worker sends them.
const IN_FLIGHT: usize = 6;

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20) / secs
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Writes `size` pseudo-random bytes (the server never parses content) a
/// part at a time, and returns their upload digest (over the SHA-256 of
/// each part) in hex.
fn make_source(path: &Path, size: u64) -> String {
    let mut parts = Vec::new();
    let mut f = std::fs::File::create(path).expect("create");
    let mut buf = vec![0u8; PART];
    let mut left = size;
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    while left > 0 {
        for chunk in buf.chunks_mut(8) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
        }
        let n = usize::try_from(left.min(PART as u64)).expect("usize");
        f.write_all(&buf[..n]).expect("write");
        parts.push(<[u8; 32]>::from(Sha256::digest(&buf[..n])));
        left -= n as u64;
    }
    f.sync_all().expect("sync");
    api::files::parts_digest(size, PART as u64, &parts)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_part(path: &Path, index: usize) -> Vec<u8> {
    let mut f = std::fs::File::open(path).expect("open");
    f.seek(std::io::SeekFrom::Start((index * PART) as u64))
        .expect("seek");
    let mut buf = Vec::with_capacity(PART);
    f.take(PART as u64).read_to_end(&mut buf).expect("read");
    buf
}

/// SHA-256 over `content` (one part) on this thread, the same
/// crate and CPU features as the server's, in MiB/s: the part of the
/// upload's CPU that `cp` does not pay.
fn sha256_alone(content: &[u8]) -> f64 {
    // Repeated for about a quarter of a second of work, so one run's noise
    // does not decide it.
    let rounds = 64;
    let t = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(Sha256::digest(std::hint::black_box(content)));
    }
    mib_per_s(content.len() as u64 * rounds, t.elapsed().as_secs_f64())
}

/// Downloads file `id` whole, handing each chunk to `sink` as it comes.
async fn download(
    client: &common::client::Client,
    id: &str,
    size: u64,
    mut sink: impl FnMut(&[u8]),
) {
    let response = client.download(id).await;
    assert_eq!(response.status(), 200);
    let mut stream = response.bytes_stream();
    let mut got = 0u64;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.expect("chunk");
        got += chunk.len() as u64;
        sink(&chunk);
    }
    assert_eq!(got, size, "the download's length");
}

#[tokio::main]
async fn main() {
    let size = std::env::var("NOCTURNE_BENCH_SIZE")
        .ok()
        .map(|s| server::parse_size(&s).expect("NOCTURNE_BENCH_SIZE"))
        .unwrap_or(1 << 30);
    // Read before the bench's own files fill it: on a machine whose page
    // cache is full, every write (cp's too) pays for reclaim.
    let memory = profile::meminfo_line();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let binary = std::env::var_os("NOCTURNE_TEST_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/release/nocturne"));
    assert!(
        binary.exists(),
        "{} missing: run `cargo xtask build`",
        binary.display()
    );
    // On the same disk as the target dir, so `cp` and the server compare fairly.
    let work = tempfile::tempdir_in(root.join("target")).expect("work dir");
    let source = work.path().join("source.bin");
    let sha = make_source(&source, size);

    let copy = work.path().join("copy.bin");
    let t = Instant::now();
    let status = std::process::Command::new("cp")
        .arg(&source)
        .arg(&copy)
        .status()
        .expect("cp");
    assert!(status.success());
    std::fs::File::open(&copy)
        .expect("open")
        .sync_all()
        .expect("sync");
    let cp_secs = t.elapsed().as_secs_f64();
    std::fs::remove_file(&copy).expect("rm");
    let hash_alone = sha256_alone(&read_part(&source, 0));

    let server_dir = tempfile::tempdir_in(work.path()).expect("server dir");
    let s = common::Server::start(
        &binary,
        server_dir.path(),
        &[("NOCTURNE_MAX_FILE_SIZE", "64GiB")],
    )
    .await;
    let pid = s.child.id().expect("pid");
    let mut client = common::client::Client::new(&s.base, "bench");
    assert_eq!(client.register("bench password", None).await.status(), 201);
    assert_eq!(client.login("bench password").await, 200);
    let client = Arc::new(client);
    let idle_rss = peak_rss_kib(pid);

    let created: serde_json::Value = client
        .req(Method::POST, "/api/uploads")
        .json(&serde_json::json!({
            "size": size, "part_size": PART,
            "metadata": common::client::b64(&[1; 40]),
            "wrapped_key": common::client::b64(&[2; 60]),
        }))
        .send()
        .await
        .expect("create")
        .json()
        .await
        .expect("json");
    let id = created["id"].as_str().expect("id").to_owned();
    let parts = usize::try_from(size.div_ceil(PART as u64)).expect("parts");

    let me = std::process::id();
    let before = CpuSnapshot::take(me, pid);
    let t = Instant::now();
    futures_util::stream::iter(0..parts)
        .map(|i| {
            let (client, id, path) = (client.clone(), id.clone(), source.clone());
            async move {
                // From the file, a part at a time, as a client would: the
                // whole file held in memory here would squeeze the page
                // cache the server writes through.
                let bytes = tokio::task::spawn_blocking(move || read_part(&path, i))
                    .await
                    .expect("read part");
                let r = client.put_part(&id, i, bytes).await;
                assert_eq!(r.status(), 200, "part {i}");
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect::<Vec<()>>()
        .await;
    let parts_secs = t.elapsed().as_secs_f64();
    let r = client
        .req(Method::POST, &format!("/api/uploads/{id}/finish"))
        .json(&serde_json::json!({"size": size, "digest": sha}))
        .send()
        .await
        .expect("finish");
    assert_eq!(r.status(), 201);
    let upload_secs = t.elapsed().as_secs_f64();
    let after = CpuSnapshot::take(me, pid);
    let upload_cpu = before.report_until(&after, upload_secs);
    // The rate if the cores had done nothing but this upload's work (its
    // processes, the kernel's writeback and interrupts) the whole time:
    // what the CPU alone allows, whatever the disk and scheduling do.
    let machine = before.machine_until(&after);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let upload_ceiling = mib_per_s(size, machine.working() / cores);
    let upload_rss = peak_rss_kib(pid);
    std::fs::remove_file(&source).expect("rm");

    // The server's side alone: the same download, its bytes counted and
    // dropped, so the client's own disk writes do not set the pace.
    let before = CpuSnapshot::take(me, pid);
    let t = Instant::now();
    download(&client, &id, size, |_| {}).await;
    let dropped_secs = t.elapsed().as_secs_f64();
    let dropped_cpu = before.report_until(&CpuSnapshot::take(me, pid), dropped_secs);

    let target = work.path().join("download.bin");
    let before = CpuSnapshot::take(me, pid);
    let t = Instant::now();
    let mut out =
        std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&target).expect("create"));
    download(&client, &id, size, |chunk| {
        out.write_all(chunk).expect("write")
    })
    .await;
    out.into_inner().expect("flush").sync_all().expect("sync");
    let download_secs = t.elapsed().as_secs_f64();
    let download_cpu = before.report_until(&CpuSnapshot::take(me, pid), download_secs);
    let peak = peak_rss_kib(pid);
    std::fs::remove_file(&target).expect("rm");

    println!(
        "transfer of {} MiB over loopback ({IN_FLIGHT} parts of 8 MiB in flight)",
        size >> 20
    );
    println!("  memory at the start:   {memory}");
    println!(
        "  cp on the same disk:   {:8.1} MiB/s ({cp_secs:.2} s, with fsync)",
        mib_per_s(size, cp_secs)
    );
    println!(
        "  upload, parts only:    {:8.1} MiB/s ({parts_secs:.2} s)",
        mib_per_s(size, parts_secs)
    );
    println!(
        "  upload incl. finish:   {:8.1} MiB/s ({:.0} % of cp; {upload_secs:.2} s: parts synced as they land; finish checks the parts' digest, renames)",
        mib_per_s(size, upload_secs),
        100.0 * cp_secs / upload_secs
    );
    println!("{upload_cpu}");
    println!(
        "  upload, CPU ceiling:   {upload_ceiling:8.1} MiB/s ({:.0} % of cp: every core busy with this upload's work and nothing else)",
        100.0 * upload_ceiling / mib_per_s(size, cp_secs)
    );
    println!(
        "  SHA-256 alone, one core:{hash_alone:8.1} MiB/s (the server hashes every byte of an upload; {:.2} s of CPU for this file)",
        size as f64 / f64::from(1u32 << 20) / hash_alone
    );
    println!(
        "  download to disk:      {:8.1} MiB/s ({:.0} % of cp; {download_secs:.2} s, with fsync)",
        mib_per_s(size, download_secs),
        100.0 * cp_secs / download_secs
    );
    println!("{download_cpu}");
    println!(
        "  download, dropped:     {:8.1} MiB/s ({dropped_secs:.2} s: the bytes counted, not written)",
        mib_per_s(size, dropped_secs)
    );
    println!("{dropped_cpu}");
    println!(
        "  server peak RSS:       {:8.1} MiB (idle {:.1} MiB, after upload {:.1} MiB)",
        peak as f64 / 1024.0,
        idle_rss as f64 / 1024.0,
        upload_rss as f64 / 1024.0
    );
}
