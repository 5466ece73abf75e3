//! The dashboard's figures in headless Chromium against the release binary:
//! encrypt-and-upload of one file (1 GiB, or `NOCTURNE_BENCH_SIZE`) with
//! AES-256-GCM and with Noctis-256, beside WebCrypto's own AES-256-GCM over
//! the same number of bytes in the same browser; download-and-decrypt of
//! each; the page's peak JS heap during the AES upload; Argon2id at the
//! account parameters in the crypto worker; each page's first load (what
//! it fetches before it is interactive, raw and gzip) and its time to
//! interactive on a loopback load.
//!
//! Where the time goes: every measured transfer prints the CPU time each
//! process and thread used meanwhile (Chromium's browser, renderer and
//! network processes, and the server), and a second, traced pass
//! (`NOCTURNE_TRACE_SIZE`, 256 MiB by default) prints a Chrome trace taken
//! through the DevTools protocol, summarised per thread.
//!
//! `cargo xtask build && cargo bench -p server --bench browser`. Prints
//! figures; asserts nothing about speed.

#![expect(clippy::print_stdout, reason = "a benchmark prints its figures")]

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "support/profile.rs"]
#[expect(
    dead_code,
    reason = "the CPU ceiling of a transfer (MachineSpent::working) is the transfer bench's"
)]
mod profile;
#[path = "support/weight.rs"]
mod weight;

use std::{
    io::Write,
    path::Path,
    time::{Duration, Instant},
};

use fantoccini::{Client, Locator};
use serde_json::Value;

use profile::{CpuSnapshot, DevTools, trace_report};
use weight::{page_load, site_wasm, weight_report};

use common::{
    Server,
    browser::{click, fill, open, open_browser_saving_to, start_chromedriver, wait_for},
    client,
};

const PASSWORD: &str = "a benchmark password, long enough";

fn mib_per_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 / f64::from(1u32 << 20) / secs
}

/// Writes every dirty page to disk before a phase, so that no phase pays
/// for the writeback of an earlier one (the downloads alone leave GiBs of
/// dirty pages behind; the kernel's flusher threads then compete for the
/// two cores).
fn settle_disk() {
    let _ = std::process::Command::new("sync").status();
}

fn make_file(path: &Path, size: u64) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).expect("create"));
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let mut left = size;
    while left > 0 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let n = left.min(8) as usize;
        f.write_all(&x.to_le_bytes()[..n]).expect("write");
        left -= n as u64;
    }
    f.flush().expect("flush");
}

async fn js(browser: &Client, script: &str) -> Value {
    browser.execute(script, vec![]).await.expect("script")
}

async fn js_async(browser: &Client, script: &str) -> Value {
    browser
        .execute_async(script, vec![])
        .await
        .expect("async script")
}

/// Polls until every transfer of `direction` is done; returns the seconds
/// taken and the largest JS heap seen on the page meanwhile.
async fn run_until_done(browser: &Client, direction: &str, started: Instant) -> (f64, f64) {
    let script = format!(
        "const rows = [...document.querySelectorAll('#transfers li.transfer[data-direction=\"{direction}\"]')];
         const heap = performance.memory ? performance.memory.usedJSHeapSize : 0;
         if (rows.some(r => r.dataset.state === 'failed')) return ['failed', heap, rows.map(r => r.textContent).join(' | ')];
         return [rows.length > 0 && rows.every(r => r.dataset.state === 'done') ? 'done' : 'running', heap, ''];"
    );
    let mut peak = 0.0f64;
    loop {
        let v = js(browser, &script).await;
        peak = peak.max(v[1].as_f64().unwrap_or(0.0));
        match v[0].as_str() {
            Some("done") => return (started.elapsed().as_secs_f64(), peak),
            Some("failed") => panic!("{direction} failed: {}", v[2]),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::main]
async fn main() {
    let size = std::env::var("NOCTURNE_BENCH_SIZE")
        .ok()
        .and_then(|s| server::parse_size(&s).ok())
        .unwrap_or(1 << 30);
    // Before the bench's own files fill it (see the transfer bench).
    let memory = profile::meminfo_line();
    let dir = tempfile::tempdir().expect("tempdir");
    let binary = std::env::var_os("NOCTURNE_TEST_BIN").map_or_else(
        || std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/release/nocturne"),
        std::path::PathBuf::from,
    );
    let server = Server::start(&binary, dir.path(), &[]).await;
    let mut native = client::Client::new(&server.base, "bench");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);

    let (driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile");
    let downloads = tempfile::tempdir().expect("downloads");
    let browser = open_browser_saving_to(port, profile.path(), downloads.path()).await;

    // Page weight and time to interactive, signed out, /login first in a
    // browser with an empty cache. (A share page's code is the same for any
    // link; this one does not exist.)
    let mut loads = Vec::new();
    for (path, background) in [
        ("/login", None),
        ("/register", None),
        ("/recover", None),
        ("/s/AAAAAAAAAAAAAAAAAAAAAA", None),
        ("/", Some("files_view")),
    ] {
        loads.push(page_load(&browser, &server, path, background).await);
    }
    open(&browser, &server, "/login").await.expect("open");

    // Argon2id (t=3, 64 MiB, p=4) in the crypto worker, as login runs it.
    let argon = js_async(
        &browser,
        "const done = arguments[arguments.length - 1];
         const w = new Worker('/crypto-worker.js', { type: 'module' });
         const t0 = performance.now();
         w.onmessage = (e) => { const t = performance.now() - t0; w.terminate(); done(e.data.keys ? t : String(e.data.error)); };
         w.postMessage({ password: 'x', salt: new Uint8Array(32), m_kib: 65536, t: 3, p: 4 });",
    )
    .await;

    fill(&browser, "username", "bench").await.expect("username");
    fill(&browser, "password", PASSWORD)
        .await
        .expect("password");
    click(&browser, "login").await.expect("login");
    wait_for(&browser, Locator::Id("dropzone"), "dashboard")
        .await
        .expect("dashboard");

    let source = dir.path().join("bench.bin");
    make_file(&source, size);
    js(
        &browser,
        "window.showSaveFilePicker = async (o) =>
           (await navigator.storage.getDirectory()).getFileHandle(o.suggestedName, { create: true });",
    )
    .await;
    let driver_pid = driver.id().expect("chromedriver runs");
    let server_pid = server.child.id().expect("server runs");
    let cpu = || CpuSnapshot::take(driver_pid, server_pid);
    let mut results = Vec::new();
    for cipher in ["cipher-aes", "cipher-noctis"] {
        click(&browser, cipher).await.expect("cipher");
        settle_disk();
        let before = cpu();
        let (up, heap, long) = upload(&browser, &source).await;
        let up_cpu = before.report_until(&cpu(), up);
        settle_disk();
        let before = cpu();
        let down = download_newest(&browser).await;
        let down_cpu = before.report_until(&cpu(), down);
        results.push((cipher, up, heap, down, long, up_cpu, down_cpu));
    }

    // Chrome traces, in runs of their own on a smaller file: tracing costs
    // the browser some speed, so the measured runs above go without it.
    let traced_size = std::env::var("NOCTURNE_TRACE_SIZE")
        .ok()
        .and_then(|s| server::parse_size(&s).ok())
        .unwrap_or(256 << 20);
    let traced_source = dir.path().join("traced.bin");
    make_file(&traced_source, traced_size);
    let mut devtools = DevTools::connect(profile.path()).await;
    let mut traces = Vec::new();
    for cipher in ["cipher-aes", "cipher-noctis"] {
        click(&browser, cipher).await.expect("cipher");
        settle_disk();
        devtools.start_trace().await;
        let worker = devtools.start_worker_profile().await;
        let (up, _, _) = upload(&browser, &traced_source).await;
        let up_profile = devtools.stop_worker_profile(&worker, 14).await;
        let up_trace = trace_report(&devtools.end_trace().await, 6);
        settle_disk();
        devtools.start_trace().await;
        let worker = devtools.start_worker_profile().await;
        let down = download_newest(&browser).await;
        let down_profile = devtools.stop_worker_profile(&worker, 14).await;
        let down_trace = trace_report(&devtools.end_trace().await, 6);
        traces.push((
            cipher,
            up,
            format!("{up_trace}\n{up_profile}"),
            down,
            format!("{down_trace}\n{down_profile}"),
        ));
    }

    // WebCrypto's own AES-256-GCM over the same bytes, after the uploads so
    // its garbage does not count in their heap figure: 1 MiB at a time (the
    // chunk size before, and the yardstick) and at the files' chunk
    // size now.
    let chunk = u64::from(noctis::format::DEFAULT_CHUNK_SIZE);
    let mut webcrypto = Vec::new();
    for at in [1u64 << 20, chunk] {
        settle_disk();
        let ms = js_async(
            &browser,
            &format!(
                "const done = arguments[arguments.length - 1];
                 (async () => {{
                   const key = await crypto.subtle.generateKey({{ name: 'AES-GCM', length: 256 }}, false, ['encrypt']);
                   const buf = new Uint8Array({at}); crypto.getRandomValues(buf.subarray(0, 65536));
                   const iv = new Uint8Array(12);
                   const n = Math.ceil({size} / {at});
                   const t0 = performance.now();
                   for (let i = 0; i < n; i++) {{
                     new DataView(iv.buffer).setUint32(8, i);
                     await crypto.subtle.encrypt({{ name: 'AES-GCM', iv, additionalData: iv }}, key, buf);
                   }}
                   return performance.now() - t0;
                 }})().then(done, e => done(String(e)));"
            ),
        )
        .await;
        webcrypto.push((at, ms));
    }

    // What the browser and the server move with no cryptography at all:
    // the same bytes PUT as parts of an upload (8 MiB, six in flight, from
    // the page), the AES file's ciphertext fetched and dropped, and the
    // same number of bytes written to a file in the origin's private file
    // system (512 KiB writes, four in flight). These bound any transfer.
    let mut ceilings = Vec::new();
    {
        let part = 8u64 << 20;
        let blank = client::Encrypted {
            data_key: [0; 32],
            ciphertext: vec![0; usize::try_from(size).expect("fits")],
            name: "ceiling".into(),
        };
        let created: Value = native
            .create_upload(&blank, part)
            .await
            .json()
            .await
            .expect("upload");
        drop(blank);
        let id = created["id"].as_str().expect("upload id").to_owned();
        let parts = size.div_ceil(part);
        settle_disk();
        let before = cpu();
        let ms = js_async(
            &browser,
            &format!(
                "const done = arguments[arguments.length - 1];
                 (async () => {{
                   const buf = new Uint8Array({part}); crypto.getRandomValues(buf.subarray(0, 65536));
                   const t0 = performance.now();
                   const inflight = new Set();
                   for (let next = 0; next < {parts} || inflight.size > 0; ) {{
                     while (inflight.size < 6 && next < {parts}) {{
                       const len = Math.min({part}, {size} - next * {part});
                       const p = fetch('/api/uploads/{id}/parts/' + next, {{
                         method: 'PUT', headers: {{ 'content-type': 'application/octet-stream' }},
                         body: len === {part} ? buf : buf.slice(0, len),
                       }}).then(r => {{ if (!r.ok) throw new Error('PUT ' + r.status); inflight.delete(p); }});
                       inflight.add(p);
                       next += 1;
                     }}
                     await Promise.race(inflight);
                   }}
                   return performance.now() - t0;
                 }})().then(done, e => done(String(e)));"
            ),
        )
        .await;
        let secs = ms.as_f64().unwrap_or(f64::NAN) / 1000.0;
        ceilings.push((
            "PUT parts, no crypto",
            secs,
            before.report_until(&cpu(), secs),
        ));
        let _ = native
            .req(reqwest::Method::DELETE, &format!("/api/uploads/{id}"))
            .send()
            .await;

        let listed = native.list().await;
        let aes_file = listed["files"][listed["files"].as_array().map_or(0, Vec::len) - 1]["id"]
            .as_str()
            .expect("the AES file (the oldest)")
            .to_owned();
        settle_disk();
        let before = cpu();
        let ms = js_async(
            &browser,
            &format!(
                "const done = arguments[arguments.length - 1];
                 (async () => {{
                   const t0 = performance.now();
                   const r = await fetch('/api/files/{aes_file}/content', {{ cache: 'no-store' }});
                   const reader = r.body.getReader();
                   let n = 0;
                   for (;;) {{ const c = await reader.read(); if (c.done) break; n += c.value.byteLength; }}
                   return n > 0 ? performance.now() - t0 : 'empty';
                 }})().then(done, e => done(String(e)));"
            ),
        )
        .await;
        let secs = ms.as_f64().unwrap_or(f64::NAN) / 1000.0;
        ceilings.push((
            "GET content, read and dropped",
            secs,
            before.report_until(&cpu(), secs),
        ));

        settle_disk();
        let before = cpu();
        let ms = js_async(
            &browser,
            &format!(
                "const done = arguments[arguments.length - 1];
                 (async () => {{
                   const dir = await navigator.storage.getDirectory();
                   const handle = await dir.getFileHandle('ceiling.bin', {{ create: true }});
                   const writer = (await handle.createWritable()).getWriter();
                   const t0 = performance.now();
                   const writing = [];
                   for (let at = 0; at < {size}; at += {chunk}) {{
                     const buf = new Uint8Array(Math.min({chunk}, {size} - at));
                     writing.push(writer.write(buf));
                     if (writing.length >= 4) await writing.shift();
                   }}
                   await Promise.all(writing);
                   await writer.close();
                   const t = performance.now() - t0;
                   await dir.removeEntry('ceiling.bin');
                   return t;
                 }})().then(done, e => done(String(e)));"
            ),
        )
        .await;
        let secs = ms.as_f64().unwrap_or(f64::NAN) / 1000.0;
        ceilings.push((
            "file write (origin private file system)",
            secs,
            before.report_until(&cpu(), secs),
        ));
    }

    // The Noctis-256 block function in the workers' WASM (simd128), run on the page's thread, the
    // CTR keystream's work without the MAC or the transfer, over 256 MiB.
    let keystream_len = 256u64 << 20;
    let keystream = js_async(
        &browser,
        &format!(
            "const done = arguments[arguments.length - 1];
             import('/pkg/nocturne-worker.js').then(async (m) => {{
               await m.default({{ module_or_path: '/pkg/nocturne-worker_bg.wasm' }});
               const t0 = performance.now();
               const backend = m.noctis_keystream_probe({keystream_len});
               const t1 = performance.now();
               m.noctis_seal_probe({keystream_len});
               return [backend, t1 - t0, performance.now() - t1];
             }}).then(done, e => done(String(e)));"
        ),
    )
    .await;

    // Signed in: the administration page, and the dashboard as a fresh
    // tab shows it (locked, its unlocked view fetched in the background).
    loads.push(page_load(&browser, &server, "/admin", None).await);
    loads.push(page_load(&browser, &server, "/", Some("files_view")).await);
    let site = site_wasm(
        &server,
        &std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/site/pkg"),
    )
    .await;

    let _ = browser.close().await;

    let mib = size as f64 / f64::from(1u32 << 20);
    println!("browser bench: {mib:.0} MiB file, headless Chromium, release binary, loopback");
    println!("  memory at the start: {memory}");
    println!(
        "  page weight (first load: the document and what it fetched before the app was interactive; interactive: navigation start to hydrated, loopback; after the first page the build's bundles come from the browser's cache):"
    );
    print!("{}", weight_report(&loads));
    println!(
        "  every WASM module of the build: {} modules, {:.1} KB gzip ({:.1} KB raw)",
        site.0,
        site.2 as f64 / 1000.0,
        site.1 as f64 / 1000.0
    );
    println!("  Argon2id t=3 m=64MiB p=4 in the crypto worker: {argon} ms");
    for (at, ms) in &webcrypto {
        match ms.as_f64() {
            Some(ms) => println!(
                "  WebCrypto AES-256-GCM alone, {} KiB at a time: {:.1} MiB/s",
                at >> 10,
                mib_per_s(size, ms / 1000.0)
            ),
            None => println!("  WebCrypto AES-256-GCM alone: failed ({ms})"),
        }
    }
    for (what, secs, report) in &ceilings {
        println!(
            "  ceiling, {what}: {:.1} MiB/s ({secs:.1} s)\n{report}",
            mib_per_s(size, *secs)
        );
    }
    let keystream_mib = keystream[1]
        .as_f64()
        .map(|ms| mib_per_s(keystream_len, ms / 1000.0));
    let seal_mib = keystream[2]
        .as_f64()
        .map(|ms| mib_per_s(keystream_len, ms / 1000.0));
    if let Some(rate) = seal_mib {
        println!(
            "  Noctis-256 file sealing alone in the workers' WASM (keystream and HMAC-SHA3-256, one thread): {rate:.1} MiB/s"
        );
    }
    match (&keystream[0], keystream_mib) {
        (Value::String(backend), Some(rate)) => println!(
            "  Noctis-256 keystream alone in the workers' WASM ({backend}, one thread): {rate:.1} MiB/s"
        ),
        _ => println!("  Noctis-256 keystream alone: failed ({keystream})"),
    }
    for (cipher, up, heap, down, long, up_cpu, down_cpu) in results {
        println!(
            "  {cipher}: encrypt+upload {:.1} MiB/s ({up:.1} s), download+decrypt {:.1} MiB/s ({down:.1} s), page JS heap peak {:.1} MiB, main-thread long tasks during the upload: {} (longest {} ms)",
            mib_per_s(size, up),
            mib_per_s(size, down),
            heap / f64::from(1u32 << 20),
            long[0],
            long[1]
        );
        if cipher == "cipher-aes" {
            for (at, ms) in &webcrypto {
                if let Some(ms) = ms.as_f64() {
                    let rate = mib_per_s(size, ms / 1000.0);
                    println!(
                        "    against WebCrypto alone at {} KiB: upload {:.0} %, download {:.0} %",
                        at >> 10,
                        100.0 * mib_per_s(size, up) / rate,
                        100.0 * mib_per_s(size, down) / rate
                    );
                }
            }
        }
        if cipher == "cipher-noctis"
            && let Some(rate) = keystream_mib
        {
            println!(
                "    Noctis transfer against the keystream alone: upload {:.0} %, download {:.0} %",
                100.0 * mib_per_s(size, up) / rate,
                100.0 * mib_per_s(size, down) / rate
            );
            if let Some(seal) = seal_mib {
                println!(
                    "    against sealing alone (one thread): upload {:.0} %, download {:.0} %",
                    100.0 * mib_per_s(size, up) / seal,
                    100.0 * mib_per_s(size, down) / seal
                );
            }
        }
        println!("    upload, CPU per process and thread:\n{up_cpu}");
        println!("    download, CPU per process and thread:\n{down_cpu}");
    }
    for (cipher, up, up_trace, down, down_trace) in traces {
        println!(
            "  {cipher}, traced ({} MiB): upload {:.1} MiB/s, download {:.1} MiB/s",
            traced_size >> 20,
            mib_per_s(traced_size, up),
            mib_per_s(traced_size, down)
        );
        println!("    upload:\n{up_trace}");
        println!("    download:\n{down_trace}");
    }
}

/// Picks `source` in the dashboard and waits for its upload: the seconds
/// taken, the page's peak JS heap, and the main thread's long tasks (count
/// and longest).
async fn upload(browser: &Client, source: &Path) -> (f64, f64, Value) {
    if browser.find(Locator::Id("clear-finished")).await.is_ok() {
        click(browser, "clear-finished").await.expect("clear");
    }
    // Long tasks (over 50 ms) on the page's main thread while it runs.
    js(
        browser,
        "window.__long = [];
         new PerformanceObserver((l) => l.getEntries().forEach(e => window.__long.push(e.duration)))
           .observe({ type: 'longtask' });",
    )
    .await;
    let input = browser
        .find(Locator::Id("file-input"))
        .await
        .expect("input");
    let started = Instant::now();
    input
        .send_keys(&source.display().to_string())
        .await
        .expect("pick");
    let (up, heap) = run_until_done(browser, "upload", started).await;
    let long = js(
        browser,
        "return [window.__long.length, Math.max(0, ...window.__long)];",
    )
    .await;
    (up, heap, long)
}

/// Downloads the newest file (the default order's first row) through the
/// File System Access path into the origin's private file system, then
/// deletes the copy; returns the seconds taken.
async fn download_newest(browser: &Client) -> f64 {
    click(browser, "clear-finished").await.expect("clear");
    let newest = "(//tr[contains(@class,'file-row')])[1]//button[contains(@class,'download')]";
    let started = Instant::now();
    browser
        .find(Locator::XPath(newest))
        .await
        .expect("download button")
        .click()
        .await
        .expect("download");
    let (down, _) = run_until_done(browser, "download", started).await;
    js_async(
        browser,
        "const done = arguments[arguments.length - 1];
         navigator.storage.getDirectory()
           .then(async d => { for await (const name of d.keys()) await d.removeEntry(name); })
           .then(() => done(1), () => done(0));",
    )
    .await;
    down
}
