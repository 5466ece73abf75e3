//! End to end in headless Chromium, driven over WebDriver (`chromedriver`):
//! the page loads from the binary alone, the WASM hydrates it, and a click
//! changes what the page shows.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`cargo xtask test`
//! installs them). Without them this test fails rather than skips: a browser
//! test that silently does not run proves nothing.

mod common;

use std::{path::Path, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};
use tokio::{
    io::{AsyncBufReadExt, BufReader},
    process::{Child, Command},
};

use common::{Server, release_binary};

/// Upper bound for the page to hydrate; the test proceeds as soon as it does.
const HYDRATION_LIMIT: Duration = Duration::from_secs(60);

fn chromium() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into())
}

fn chromedriver() -> String {
    std::env::var("CHROMEDRIVER").unwrap_or_else(|_| "/usr/bin/chromedriver".into())
}

/// Starts chromedriver on a free loopback port, read from its own output.
async fn start_chromedriver() -> (Child, u16) {
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

async fn open_browser(port: u16, profile: &Path) -> Client {
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
        serde_json::json!({ "binary": chromium(), "args": args }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&format!("http://127.0.0.1:{port}"))
        .await
        .expect("open a Chromium session")
}

#[tokio::test]
async fn the_release_binary_alone_serves_a_page_that_hydrates() {
    // A directory holding nothing but the binary, which is run from there
    // with no settings at all but the port: the site must come from inside it.
    let dir = tempfile::tempdir().expect("tempdir");
    let lone = dir.path().join("nocturne");
    std::fs::copy(release_binary(), &lone).expect("copy the binary");
    let server = Server::start(&lone, dir.path(), &[]).await;
    assert!(
        dir.path().join("data").is_dir(),
        "default data dir not created"
    );

    let (_driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = open_browser(port, profile.path()).await;
    let result = drive(&browser, &server).await;
    let _ = browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}"));
}

async fn drive(browser: &Client, server: &Server) -> Result<(), String> {
    browser
        .goto(&server.url("/"))
        .await
        .map_err(|e| format!("goto: {e}"))?;

    // Server-rendered content is there before any script runs.
    let title = browser.title().await.map_err(|e| e.to_string())?;
    if title != "Nocturne" {
        return Err(format!("title is {title:?}"));
    }

    // The WASM took over: the attribute only an Effect (browser-only) sets.
    browser
        .wait()
        .at_most(HYDRATION_LIMIT)
        .for_element(Locator::Css("[data-hydrated='true']"))
        .await
        .map_err(|e| format!("the page never hydrated: {e}"))?;

    // Before the click: AES-256-GCM chosen, no warning.
    if browser.find(Locator::Id("cipher-warning")).await.is_ok() {
        return Err("the Noctis warning shows before Noctis is chosen".into());
    }
    let noctis = browser
        .find(Locator::Id("cipher-noctis"))
        .await
        .map_err(|e| format!("no Noctis button: {e}"))?;
    noctis.click().await.map_err(|e| format!("click: {e}"))?;

    let warning = browser
        .wait()
        .at_most(HYDRATION_LIMIT)
        .for_element(Locator::Id("cipher-warning"))
        .await
        .map_err(|e| format!("the click changed nothing: {e}"))?;
    let text = warning.text().await.map_err(|e| e.to_string())?;
    if !text.contains("experimental") || !text.contains("not been audited") {
        return Err(format!("warning text: {text:?}"));
    }
    let checked = noctis
        .attr("aria-checked")
        .await
        .map_err(|e| e.to_string())?;
    if checked.as_deref() != Some("true") {
        return Err(format!("Noctis button aria-checked = {checked:?}"));
    }

    // Every resource the page loaded came from the server itself.
    let loaded = browser
        .execute(
            "return performance.getEntriesByType('resource').map(e => e.name)",
            vec![],
        )
        .await
        .map_err(|e| e.to_string())?;
    let loaded: Vec<String> = serde_json::from_value(loaded).map_err(|e| e.to_string())?;
    if !loaded.iter().any(|url| url.ends_with("/pkg/nocturne.wasm")) {
        return Err(format!("the WASM was not loaded: {loaded:?}"));
    }
    if let Some(foreign) = loaded.iter().find(|url| !url.starts_with(&server.base)) {
        return Err(format!("external request to {foreign}"));
    }
    Ok(())
}
