//! Headless Chromium over WebDriver (`chromedriver`) for the browser tests.

use std::{path::Path, process::Stdio, time::Duration};

use fantoccini::{Client, ClientBuilder, Locator};

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
