//! Headless Chromium over WebDriver (`chromedriver`) for the browser tests.

use std::{
    path::Path,
    process::Stdio,
    time::{Duration, Instant},
};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::Value;

use super::Server;
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

/// Upper bound for the page to hydrate; the test proceeds as soon as it does.
pub const HYDRATION_LIMIT: Duration = Duration::from_secs(60);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// Starts chromedriver on a free loopback port, read from its own output.
pub async fn start_chromedriver() -> (Child, u16) {
    let driver = chromedriver();
    assert!(
        Path::new(&driver).exists(),
        "{driver} not found: install Debian's chromium-driver (cargo xtask test does)"
    );
    let mut child = Command::new(&driver)
        .args(["--port=0", "--allowed-ips=127.0.0.1"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start chromedriver");
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let port = tokio::time::timeout(HYDRATION_LIMIT, async {
        while let Some(line) = lines.next_line().await.expect("read chromedriver") {
            if let Some(rest) = line.split("started successfully on port ").nth(1) {
                return rest
                    .trim_end_matches('.')
                    .trim()
                    .parse::<u16>()
                    .expect("port");
            }
        }
        panic!("chromedriver exited before reporting its port")
    })
    .await
    .expect("chromedriver did not start in time");
    // Keep draining its output so it never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    (child, port)
}

pub async fn open_browser(port: u16, profile: &Path) -> Client {
    open_browser_saving_to(port, profile, profile).await
}

/// A session whose downloads land in `downloads`, without asking.
pub async fn open_browser_saving_to(port: u16, profile: &Path, downloads: &Path) -> Client {
    let args = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        &format!("--user-data-dir={}", profile.display()),
    ];
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({
            "binary": chromium(),
            "args": args,
            "prefs": {
                "download.default_directory": downloads,
                "download.prompt_for_download": false,
            },
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("open a Chromium session")
}

pub async fn wait_for(
    browser: &Client,
    locator: Locator<'_>,
    what: &str,
) -> Result<fantoccini::elements::Element, String> {
    browser
        .wait()
        .at_most(HYDRATION_LIMIT)
        .for_element(locator)
        .await
        .map_err(|e| format!("{what}: {e}"))
}

pub async fn open(browser: &Client, server: &Server, path: &str) -> Result<(), String> {
    browser
        .goto(&server.url(path))
        .await
        .map_err(|e| format!("goto {path}: {e}"))?;
    wait_for(
        browser,
        Locator::Css("[data-hydrated='true']"),
        &format!("{path} hydrates"),
    )
    .await?;
    Ok(())
}

pub async fn fill(browser: &Client, id: &str, text: &str) -> Result<(), String> {
    let field = browser
        .find(Locator::Id(id))
        .await
        .map_err(|e| format!("#{id}: {e}"))?;
    field
        .clear()
        .await
        .map_err(|e| format!("clear #{id}: {e}"))?;
    field
        .send_keys(text)
        .await
        .map_err(|e| format!("type into #{id}: {e}"))
}

pub async fn click(browser: &Client, id: &str) -> Result<(), String> {
    browser
        .find(Locator::Id(id))
        .await
        .map_err(|e| format!("#{id}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click #{id}: {e}"))
}

/// Upper bound for a transfer of the largest sample on a slow runner.
pub const TRANSFER_LIMIT: Duration = Duration::from_secs(120);

/// Polls `script` (which returns `null` until its condition holds, a string
/// starting with `failed` when it never will, anything else when it holds).
pub async fn until(
    browser: &Client,
    script: &str,
    limit: Duration,
    what: &str,
) -> Result<Value, String> {
    let deadline = Instant::now() + limit;
    loop {
        let value = browser
            .execute(script, vec![])
            .await
            .map_err(|e| format!("{what}: {e}"))?;
        if let Some(text) = value.as_str().filter(|t| t.starts_with("failed")) {
            return Err(format!("{what}: {text}"));
        }
        if !value.is_null() && value != Value::Bool(false) {
            return Ok(value);
        }
        if Instant::now() > deadline {
            return Err(format!("{what}: timed out"));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `n` transfers of `direction` are listed and all are done.
pub async fn transfers_done(browser: &Client, direction: &str, n: usize) -> Result<(), String> {
    let script = format!(
        "const rows = [...document.querySelectorAll('#transfers li.transfer[data-direction=\"{direction}\"]')];
         const bad = rows.filter(r => r.dataset.state === 'failed' || r.dataset.state === 'cancelled');
         if (bad.length) return 'failed: ' + bad.map(r => r.textContent).join(' | ');
         return rows.length >= {n} && rows.every(r => r.dataset.state === 'done') ? 'ok' : null;"
    );
    until(
        browser,
        &script,
        TRANSFER_LIMIT,
        &format!("{n} {direction}s finish"),
    )
    .await
    .map(drop)
}

/// Makes "Save as" answer with a file in the origin-private file system, so
/// the File System Access path runs for real (only the dialog is replaced).
pub async fn save_dialog_to_opfs(browser: &Client) -> Result<(), String> {
    browser
        .execute(
            "window.showSaveFilePicker = async (o) =>
               (await navigator.storage.getDirectory()).getFileHandle(o.suggestedName, { create: true });",
            vec![],
        )
        .await
        .map(drop)
        .map_err(|e| e.to_string())
}

/// `name → (size, sha256)` of every file in the origin-private file system.
pub async fn opfs_files(
    browser: &Client,
) -> Result<std::collections::BTreeMap<String, (u64, String)>, String> {
    let v = browser
        .execute_async(
            "const done = arguments[arguments.length - 1];
             (async () => {
               const dir = await navigator.storage.getDirectory();
               const out = {};
               for await (const [name, handle] of dir.entries()) {
                 const file = await handle.getFile();
                 const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', await file.arrayBuffer()));
                 out[name] = [file.size, Array.from(digest, b => b.toString(16).padStart(2, '0')).join('')];
               }
               return out;
             })().then(done, e => done({ error: String(e) }));",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    serde_json::from_value(v.clone()).map_err(|e| format!("{e}: {v}"))
}

/// Runs `js` on the page; its value.
pub async fn script(browser: &Client, js: &str) -> Result<Value, String> {
    browser.execute(js, vec![]).await.map_err(|e| e.to_string())
}

/// Checks that `js` returns `true` on the page; `failure` says what it means
/// if not.
pub async fn holds(browser: &Client, js: &str, failure: &str) -> Result<(), String> {
    if script(browser, js).await? == Value::Bool(true) {
        Ok(())
    } else {
        Err(failure.to_owned())
    }
}

/// Sets a `<select>` the way a person does (value, then a change event).
pub async fn choose(browser: &Client, id: &str, value: &str) -> Result<(), String> {
    script(
        browser,
        &format!(
            "const s = document.getElementById('{id}'); s.value = '{value}';
             s.dispatchEvent(new Event('change', {{ bubbles: true }}));"
        ),
    )
    .await
    .map(drop)
}

/// Clicks the first element `css` finds.
pub async fn click_css(browser: &Client, css: &str) -> Result<(), String> {
    browser
        .find(Locator::Css(css))
        .await
        .map_err(|e| format!("{css}: {e}"))?
        .click()
        .await
        .map_err(|e| format!("click {css}: {e}"))
}
