//! The dashboard end to end in headless Chromium against the release
//! binary: files encrypted in the browser's file worker and uploaded, listed
//! after a reload, downloaded and decrypted to disk (File System Access and
//! service-worker paths), renamed, deleted; cross-checked against the native
//! `noctis` code in both directions; a tampered file refused; an upload
//! interrupted by closing the page resumed after re-picking the file.
//!
//! Waiting: conditions are polled (the page's state through WebDriver, the
//! download directory), never slept on.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use fantoccini::{Client, Locator};
use noctis::format::CipherId;
use serde_json::Value;

use crate::common::{
    Server,
    browser::{
        TRANSFER_LIMIT, click, fill, open, open_browser_saving_to, opfs_files, save_dialog_to_opfs,
        start_chromedriver, transfers_done, until, wait_for,
    },
    client::{self, sha256_hex},
    release_binary,
};

pub(super) const PASSWORD: &str = "a browser password, long enough";

/// Bytes that do not compress and differ per seed.
pub(super) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

pub(super) struct Sample {
    pub(super) name: String,
    pub(super) bytes: Vec<u8>,
    pub(super) path: PathBuf,
}

pub(super) fn sample(dir: &Path, name: &str, bytes: Vec<u8>) -> Sample {
    let path = dir.join(name);
    std::fs::write(&path, &bytes).expect("write sample");
    Sample {
        name: name.to_owned(),
        bytes,
        path,
    }
}

/// Waits until a transfer of `direction` fails; returns its text.
async fn transfer_failed(browser: &Client, direction: &str) -> Result<String, String> {
    let script = format!(
        "const rows = [...document.querySelectorAll('#transfers li.transfer[data-direction=\"{direction}\"]')];
         if (rows.some(r => r.dataset.state === 'done')) return 'failed: it succeeded';
         const r = rows.find(r => r.dataset.state === 'failed');
         return r ? 'text: ' + r.textContent : null;"
    );
    let text = until(browser, &script, TRANSFER_LIMIT, "a transfer fails").await?;
    Ok(text.as_str().unwrap_or_default().to_owned())
}

async fn clear_transfers(browser: &Client) -> Result<(), String> {
    if browser.find(Locator::Id("clear-finished")).await.is_ok() {
        click(browser, "clear-finished").await?;
    }
    Ok(())
}

pub(super) async fn log_in(
    browser: &Client,
    server: &Server,
    username: &str,
) -> Result<(), String> {
    open(browser, server, "/login").await?;
    fill(browser, "username", username).await?;
    fill(browser, "password", PASSWORD).await?;
    click(browser, "login").await?;
    wait_for(
        browser,
        Locator::Id("dropzone"),
        "the dashboard after login",
    )
    .await?;
    Ok(())
}

pub(super) async fn reload_and_unlock(browser: &Client) -> Result<(), String> {
    browser.refresh().await.map_err(|e| e.to_string())?;
    wait_for(
        browser,
        Locator::Id("unlock-password"),
        "locked after reload",
    )
    .await?;
    fill(browser, "unlock-password", PASSWORD).await?;
    click(browser, "unlock").await?;
    wait_for(browser, Locator::Id("dropzone"), "unlocked").await?;
    Ok(())
}

pub(super) async fn pick(browser: &Client, css: &str, paths: &[&Path]) -> Result<(), String> {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    browser
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?
        .send_keys(&list.join("\n"))
        .await
        .map_err(|e| format!("pick files: {e}"))
}

fn row_button(name: &str, class: &str) -> String {
    format!(
        "//tr[contains(@class,'file-row')][.//span[contains(@class,'file-name') and text()='{name}']]//*[contains(@class,'{class}')]"
    )
}

pub(super) async fn row_click(browser: &Client, name: &str, class: &str) -> Result<(), String> {
    // The list re-renders when a transfer ends; a row found just before can
    // be replaced before the click lands, so look it up again then.
    let mut attempts = 0;
    loop {
        let found = browser
            .find(Locator::XPath(&row_button(name, class)))
            .await
            .map_err(|e| format!("{class} of {name}: {e}"))?;
        match found.click().await {
            Ok(()) => return Ok(()),
            Err(e) if attempts < 5 && e.to_string().contains("stale") => attempts += 1,
            Err(e) => return Err(format!("click {class} of {name}: {e}")),
        }
    }
}

async fn listed_names(browser: &Client) -> Result<Vec<String>, String> {
    let v = browser
        .execute(
            "return [...document.querySelectorAll('tr.file-row .file-name')].map(e => e.textContent)",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let mut names: Vec<String> = serde_json::from_value(v).map_err(|e| e.to_string())?;
    names.sort();
    Ok(names)
}

/// Takes the File System Access API away: downloads go through the service worker.
pub(super) async fn no_save_dialog(browser: &Client) -> Result<(), String> {
    browser
        .execute("window.showSaveFilePicker = undefined;", vec![])
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// Waits until `dir/name` is complete (no `.crdownload` beside it).
pub(super) async fn downloaded(dir: &Path, name: &str, len: usize) -> Result<Vec<u8>, String> {
    let deadline = Instant::now() + TRANSFER_LIMIT;
    let path = dir.join(name);
    loop {
        let partial = std::fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().ends_with(".crdownload"));
        if !partial && std::fs::metadata(&path).is_ok_and(|m| m.len() == len as u64) {
            return std::fs::read(&path).map_err(|e| e.to_string());
        }
        if Instant::now() > deadline {
            let present: Vec<String> = std::fs::read_dir(dir)
                .map_err(|e| e.to_string())?
                .filter_map(Result::ok)
                .map(|e| {
                    format!(
                        "{} ({} bytes)",
                        e.file_name().to_string_lossy(),
                        e.metadata().map_or(0, |m| m.len())
                    )
                })
                .collect();
            return Err(format!(
                "{name} was not downloaded; the directory holds {present:?}"
            ));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub(super) struct Session {
    _driver: tokio::process::Child,
    pub(super) browser: Client,
    _profile: tempfile::TempDir,
    pub(super) downloads: tempfile::TempDir,
}

pub(super) async fn session() -> Session {
    let (driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let downloads = tempfile::tempdir().expect("downloads dir");
    let browser = open_browser_saving_to(port, profile.path(), downloads.path()).await;
    Session {
        _driver: driver,
        browser,
        _profile: profile,
        downloads,
    }
}

#[tokio::test]
async fn files_go_through_the_dashboard_and_back() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let mut native = client::Client::new(&server.base, "dana");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    let s = session().await;
    let result = dashboard(&s, &server, &mut native, dir.path()).await;
    let _ = s.browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn dashboard(
    s: &Session,
    server: &Server,
    native: &mut client::Client,
    data: &Path,
) -> Result<(), String> {
    let browser = &s.browser;
    let files = tempfile::tempdir().map_err(|e| e.to_string())?;
    let aes = [
        sample(files.path(), "empty.txt", Vec::new()),
        sample(files.path(), "note.txt", pattern(1000, 1)),
        sample(files.path(), "three chunks.bin", pattern((3 << 20) + 17, 2)),
        sample(files.path(), "large-70MiB.bin", pattern((70 << 20) + 5, 3)),
    ];
    let noctis = sample(files.path(), "noctis.bin", pattern((2 << 20) + 3, 4));

    log_in(browser, server, "dana").await?;
    wait_for(browser, Locator::Id("empty"), "the empty state").await?;

    // Several files at once with AES-256-GCM (the default), then one with Noctis-256.
    let paths: Vec<&Path> = aes.iter().map(|f| f.path.as_path()).collect();
    pick(browser, "#file-input", &paths).await?;
    transfers_done(browser, "upload", aes.len()).await?;
    click(browser, "cipher-noctis").await?;
    pick(browser, "#file-input", &[noctis.path.as_path()]).await?;
    transfers_done(browser, "upload", aes.len() + 1).await?;

    // After a reload (keys gone, unlocked again) the list shows every name.
    reload_and_unlock(browser).await?;
    let all: Vec<&Sample> = aes.iter().chain([&noctis]).collect();
    let mut expected: Vec<String> = all.iter().map(|f| f.name.clone()).collect();
    expected.sort();
    until(
        browser,
        &format!(
            "return document.querySelectorAll('tr.file-row').length === {} || null",
            all.len()
        ),
        TRANSFER_LIMIT,
        "the list after reload",
    )
    .await?;
    if listed_names(browser).await? != expected {
        return Err(format!(
            "listed {:?}, expected {expected:?}",
            listed_names(browser).await?
        ));
    }

    // Browser → native: every upload decrypts with the native code, and the
    // Noctis one really is Noctis.
    let list = native.list().await;
    // Names of 8 to 16 bytes, sizes from 0 to 70 MiB: every sealed
    // metadata is padded to the same 512 bytes.
    let sealed: std::collections::BTreeSet<usize> = list["files"]
        .as_array()
        .ok_or("no files array")?
        .iter()
        .map(|f| client::unb64(&f["metadata"]).len())
        .collect();
    if sealed != std::collections::BTreeSet::from([512]) {
        return Err(format!("sealed metadata sizes {sealed:?}, not all 512"));
    }
    for file in list["files"].as_array().ok_or("no files array")? {
        let (name, plain) = native.open(file).await;
        let original = all
            .iter()
            .find(|f| f.name == name)
            .ok_or(format!("unknown {name}"))?;
        if plain != original.bytes {
            return Err(format!(
                "{name}: the native decryption differs from the original"
            ));
        }
    }
    let noctis_blob = list["files"]
        .as_array()
        .and_then(|f| {
            f.iter()
                .find(|f| f["size"].as_u64() == Some(ciphertext_len(&noctis, CipherId::Noctis256)))
        })
        .ok_or("no file of the Noctis size")?;
    let bytes = native
        .download(noctis_blob["id"].as_str().unwrap_or_default())
        .await
        .bytes()
        .await
        .map_err(|e| e.to_string())?;
    if bytes.get(7) != Some(&(CipherId::Noctis256 as u8)) {
        return Err("the file uploaded with Noctis-256 chosen is not Noctis".into());
    }

    // Native → browser: files encrypted natively, both ciphers.
    let native_files = [
        ("native-aes.bin", pattern(1_500_000, 5), CipherId::Aes256Gcm),
        (
            "native-noctis.bin",
            pattern(1_200_000, 6),
            CipherId::Noctis256,
        ),
    ];
    for (name, bytes, cipher) in &native_files {
        native
            .upload(&client::encrypt(name, bytes, *cipher), 256 * 1024)
            .await;
    }
    reload_and_unlock(browser).await?;
    until(
        browser,
        &format!(
            "return document.querySelectorAll('tr.file-row').length === {} || null",
            all.len() + 2
        ),
        TRANSFER_LIMIT,
        "the natively uploaded files listed",
    )
    .await?;

    // Download everything through the File System Access path.
    save_dialog_to_opfs(browser).await?;
    clear_transfers(browser).await?;
    let mut wanted: Vec<(String, Vec<u8>)> = all
        .iter()
        .map(|f| (f.name.clone(), f.bytes.clone()))
        .collect();
    wanted.extend(
        native_files
            .iter()
            .map(|(n, b, _)| ((*n).to_owned(), b.clone())),
    );
    for (name, _) in &wanted {
        row_click(browser, name, "download").await?;
    }
    transfers_done(browser, "download", wanted.len()).await?;
    let saved = opfs_files(browser).await?;
    for (name, bytes) in &wanted {
        let got = saved.get(name).ok_or(format!("{name} was not saved"))?;
        if got != &(bytes.len() as u64, sha256_hex(bytes)) {
            return Err(format!("{name}: the saved file differs from the original"));
        }
    }

    // The service-worker path, for browsers without File System Access: a
    // streamed browser download into the download directory.
    no_save_dialog(browser).await?;
    clear_transfers(browser).await?;
    for f in [&aes[3], &noctis] {
        row_click(browser, &f.name, "download").await?;
        let got = match downloaded(s.downloads.path(), &f.name, f.bytes.len()).await {
            Ok(got) => got,
            Err(e) => {
                let page = browser
                    .execute("return location.href + ' :: ' + document.documentElement.outerHTML.slice(0, 600) + ' :: ' + !!navigator.serviceWorker.controller", vec![])
                    .await
                    .map_err(|e| e.to_string())?;
                return Err(format!("{e}; page: {page}"));
            }
        };
        if got != f.bytes {
            return Err(format!("{}: the downloaded file differs", f.name));
        }
    }
    // The service worker is scoped to its download URLs: it does not
    // control the dashboard, so the page's and the workers' requests (every
    // upload part) never pass through it.
    let scopes = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.serviceWorker.getRegistrations()
               .then(rs => done([rs.map(r => new URL(r.scope).pathname), !!navigator.serviceWorker.controller]),
                     e => done(String(e)));",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    if scopes != serde_json::json!([["/__download/"], false]) {
        return Err(format!(
            "service worker registrations and control: {scopes} (want only /__download/, page uncontrolled)"
        ));
    }

    // A file modified on the server: the download stops with a clear
    // message and leaves nothing that looks like the file.
    let victim = &aes[2];
    tamper_blob(data, ciphertext_len(victim, CipherId::Aes256Gcm))?;
    save_dialog_to_opfs(browser).await?;
    clear_transfers(browser).await?;
    browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             navigator.storage.getDirectory().then(d => d.removeEntry(arguments[0])).then(() => done(true), () => done(false));",
            vec![Value::String(victim.name.clone())],
        )
        .await
        .map_err(|e| e.to_string())?;
    row_click(browser, &victim.name, "download").await?;
    let text = transfer_failed(browser, "download").await?;
    if !text.contains("modified") {
        return Err(format!("the tampered download says {text:?}"));
    }
    if opfs_files(browser).await?.contains_key(&victim.name) {
        return Err("a tampered download left a file behind".into());
    }
    no_save_dialog(browser).await?;
    clear_transfers(browser).await?;
    row_click(browser, &victim.name, "download").await?;
    let text = transfer_failed(browser, "download").await?;
    if !text.contains("modified") {
        return Err(format!(
            "the tampered download (service worker) says {text:?}"
        ));
    }
    if s.downloads.path().join(&victim.name).exists() {
        return Err("a tampered service-worker download was saved under the file's name".into());
    }

    // Rename: the new name is sealed in the browser; the native client sees it.
    row_click(browser, "note.txt", "rename").await?;
    let input = wait_for(browser, Locator::Css(".rename-input"), "the rename field").await?;
    input.clear().await.map_err(|e| e.to_string())?;
    input
        .send_keys("renamed note.txt\n")
        .await
        .map_err(|e| e.to_string())?;
    wait_for(
        browser,
        Locator::XPath("//span[contains(@class,'file-name') and text()='renamed note.txt']"),
        "the new name listed",
    )
    .await?;
    let renamed = native.list().await;
    let mut names = Vec::new();
    for file in renamed["files"].as_array().ok_or("no files")? {
        // Metadata only: one file's content was tampered with above.
        let key = noctis::keys::unwrap_key(
            &native.master(),
            &client::unb64(&file["wrapped_key"]),
            noctis::account::FILE_KEY,
        )
        .map_err(|_| "a wrapped key does not open")?;
        let meta = noctis::account::open_metadata(&key, &client::unb64(&file["metadata"]))
            .map_err(|_| "metadata does not open")?;
        let meta: Value = serde_json::from_slice(&meta).map_err(|e| e.to_string())?;
        names.push(meta["name"].as_str().unwrap_or_default().to_owned());
    }
    if !names.contains(&"renamed note.txt".to_owned()) || names.contains(&"note.txt".to_owned()) {
        return Err(format!(
            "after the rename the server's metadata says {names:?}"
        ));
    }

    // Sort by name, filter by name.
    let sort = browser
        .find(Locator::XPath("//th//button[text()='Name']"))
        .await
        .map_err(|e| e.to_string())?;
    sort.click().await.map_err(|e| e.to_string())?;
    let shown: Vec<String> = serde_json::from_value(
        browser
            .execute("return [...document.querySelectorAll('tr.file-row .file-name')].map(e => e.textContent)", vec![])
            .await
            .map_err(|e| e.to_string())?,
    )
    .map_err(|e| e.to_string())?;
    let mut sorted = shown.clone();
    sorted.sort_by_key(|n| n.to_lowercase());
    if shown != sorted {
        return Err(format!("sorted by name: {shown:?}"));
    }
    fill(browser, "filter", "native").await?;
    until(
        browser,
        "return document.querySelectorAll('tr.file-row').length === 2 || null",
        TRANSFER_LIMIT,
        "the filter",
    )
    .await?;
    fill(browser, "filter", "").await?;

    // Multi-select delete, with confirmation.
    let before = native.list().await["files"].as_array().map_or(0, Vec::len);
    for name in ["native-aes.bin", "native-noctis.bin"] {
        row_click(browser, name, "select").await?;
    }
    click(browser, "delete-selected").await?;
    wait_for(browser, Locator::Id("confirm-delete"), "the confirmation").await?;
    click(browser, "confirm-yes").await?;
    until(
        browser,
        &format!(
            "return document.querySelectorAll('tr.file-row').length === {} || null",
            before - 2
        ),
        TRANSFER_LIMIT,
        "the deleted files gone from the list",
    )
    .await?;
    if native.list().await["files"].as_array().map_or(0, Vec::len) != before - 2 {
        return Err("the server still holds deleted files".into());
    }
    Ok(())
}

/// The stored size of `f` under `cipher` (the header's randomness does not
/// change it).
fn ciphertext_len(f: &Sample, cipher: CipherId) -> u64 {
    let header = noctis::format::Header::generate(
        &mut rand::rng(),
        cipher,
        noctis::format::DEFAULT_CHUNK_SIZE,
        noctis::format::KeySource::External,
    )
    .expect("header");
    noctis::format::ciphertext_len(&header, f.bytes.len() as u64)
}

/// Flips one byte in the middle of the stored blob of `size` bytes.
fn tamper_blob(data: &Path, size: u64) -> Result<(), String> {
    let blobs = data.join("data/blobs");
    let (path, mut bytes) = client::files_under(&blobs)
        .into_iter()
        .find(|(_, b)| b.len() as u64 == size)
        .ok_or(format!("no blob of {size} bytes"))?;
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x01;
    std::fs::write(path, bytes).map_err(|e| e.to_string())
}

#[tokio::test]
async fn an_upload_interrupted_by_closing_the_page_resumes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let mut native = client::Client::new(&server.base, "erin");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    let s = session().await;
    let result = resume(&s, &server, &native).await;
    let _ = s.browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

/// `GET /api/uploads`: the account's uploads in progress.
async fn open_uploads(native: &client::Client) -> Result<Value, String> {
    native
        .req(reqwest::Method::GET, "/api/uploads")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())
}

async fn resume(s: &Session, server: &Server, native: &client::Client) -> Result<(), String> {
    let browser = &s.browser;
    let files = tempfile::tempdir().map_err(|e| e.to_string())?;
    let big = sample(files.path(), "interrupted.bin", pattern(100 << 20, 7));
    let other = files.path().join("other").join("interrupted.bin");
    std::fs::create_dir_all(other.parent().unwrap_or(files.path())).map_err(|e| e.to_string())?;
    std::fs::write(&other, pattern(100 << 20, 8)).map_err(|e| e.to_string())?;

    log_in(browser, server, "erin").await?;
    pick(browser, "#file-input", &[big.path.as_path()]).await?;
    // Once the server holds a part, pause (so the upload cannot finish),
    // then close the page mid-way.
    let deadline = Instant::now() + TRANSFER_LIMIT;
    loop {
        let uploads = open_uploads(native).await?;
        if uploads[0]["received"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
        {
            break;
        }
        if Instant::now() > deadline {
            return Err("no part ever reached the server".into());
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    browser
        .find(Locator::Css("#transfers .pause"))
        .await
        .map_err(|e| format!("pause: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    browser
        .goto("about:blank")
        .await
        .map_err(|e| e.to_string())?;
    let uploads = open_uploads(native).await?;
    let held = uploads[0]["received"].as_array().map_or(0, Vec::len) as u64;
    let parts = uploads[0]["parts"].as_u64().unwrap_or(0);
    if held == 0 || held >= parts {
        return Err(format!(
            "expected an upload cut mid-way, the server holds {held} of {parts} parts"
        ));
    }
    if !native.list().await["files"]
        .as_array()
        .is_some_and(Vec::is_empty)
    {
        return Err("an interrupted upload became a file".into());
    }

    // Reopen: the interrupted upload is offered. A different file of the same
    // size is refused by hash; the right one resumes and completes.
    open(browser, server, "/").await?;
    wait_for(browser, Locator::Id("unlock-password"), "locked").await?;
    fill(browser, "unlock-password", PASSWORD).await?;
    click(browser, "unlock").await?;
    wait_for(
        browser,
        Locator::Id("interrupted"),
        "the interrupted upload offered",
    )
    .await?;
    pick(browser, ".resume-input", &[other.as_path()]).await?;
    let text = transfer_failed(browser, "upload").await?;
    if !text.contains("not the one") {
        return Err(format!("a different file was not refused: {text:?}"));
    }
    reload_and_unlock(browser).await?;
    wait_for(
        browser,
        Locator::Id("interrupted"),
        "still offered after the refusal",
    )
    .await?;
    pick(browser, ".resume-input", &[big.path.as_path()]).await?;
    transfers_done(browser, "upload", 1).await?;

    let list = native.list().await;
    let file = list["files"].get(0).ok_or("no file after resuming")?;
    let (name, plain) = native.open(file).await;
    if name != big.name || plain != big.bytes {
        return Err("the resumed file differs from the original".into());
    }
    let left = open_uploads(native).await?;
    if left.as_array().is_none_or(|a| !a.is_empty()) {
        return Err(format!("uploads left over: {left}"));
    }
    Ok(())
}

/// With "Hide exact sizes" on, the stored ciphertext is the size of the
/// Padmé length, not the file's (for both ciphers), and the download
/// gives back exactly the file: the padding is dropped, not saved.
#[tokio::test]
async fn padded_uploads_store_padme_sizes_and_download_whole() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let mut native = client::Client::new(&server.base, "paula");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    let s = session().await;
    let result = padded(&s, &server, &native).await;
    let _ = s.browser.clone().close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn padded(s: &Session, server: &Server, native: &client::Client) -> Result<(), String> {
    let browser = &s.browser;
    let files = tempfile::tempdir().map_err(|e| e.to_string())?;
    // Past one 1 MiB chunk, so the padding fills a chunk of its own.
    let aes = sample(files.path(), "padded.bin", pattern(1_048_000, 7));
    let noctis = sample(files.path(), "padded-noctis.bin", pattern(70_001, 8));
    log_in(browser, server, "paula").await?;
    click(browser, "pad-sizes").await?;
    pick(browser, "#file-input", &[aes.path.as_path()]).await?;
    transfers_done(browser, "upload", 1).await?;
    click(browser, "cipher-noctis").await?;
    pick(browser, "#file-input", &[noctis.path.as_path()]).await?;
    transfers_done(browser, "upload", 2).await?;

    let list = native.list().await;
    for (f, cipher) in [(&aes, CipherId::Aes256Gcm), (&noctis, CipherId::Noctis256)] {
        let padded = noctis::format::padded_len(f.bytes.len() as u64);
        let header = noctis::format::Header::generate(
            &mut rand::rng(),
            cipher,
            noctis::format::DEFAULT_CHUNK_SIZE,
            noctis::format::KeySource::External,
        )
        .map_err(|e| e.to_string())?;
        let want = noctis::format::ciphertext_len(&header, padded);
        let stored = list["files"]
            .as_array()
            .ok_or("no files")?
            .iter()
            .find(|x| x["size"].as_u64() == Some(want))
            .ok_or(format!(
                "{}: no file of the padded size {want} in {list}",
                f.name
            ))?;
        // Natively: the plaintext is the file, then zeros up to Padmé's length.
        let (_, plain) = native.open(stored).await;
        if plain.len() as u64 != padded
            || plain[..f.bytes.len()] != f.bytes[..]
            || plain[f.bytes.len()..].iter().any(|&b| b != 0)
        {
            return Err(format!(
                "{}: the stored plaintext is not the file and its zero padding",
                f.name
            ));
        }
    }

    // Both download paths give back exactly the file.
    save_dialog_to_opfs(browser).await?;
    clear_transfers(browser).await?;
    for f in [&aes, &noctis] {
        row_click(browser, &f.name, "download").await?;
    }
    transfers_done(browser, "download", 2).await?;
    let saved = opfs_files(browser).await?;
    for f in [&aes, &noctis] {
        if saved.get(&f.name) != Some(&(f.bytes.len() as u64, sha256_hex(&f.bytes))) {
            return Err(format!("{}: saved {:?}", f.name, saved.get(&f.name)));
        }
    }
    no_save_dialog(browser).await?;
    clear_transfers(browser).await?;
    row_click(browser, &noctis.name, "download").await?;
    if downloaded(s.downloads.path(), &noctis.name, noctis.bytes.len()).await? != noctis.bytes {
        return Err("the service worker's download of a padded file differs".into());
    }
    Ok(())
}
