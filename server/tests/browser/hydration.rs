//! End to end in headless Chromium, driven over WebDriver (`chromedriver`):
//! the page loads from the binary alone, the WASM hydrates it, and a click
//! changes what the page shows; the page's code arrives in chunks, and a
//! chunk that cannot be fetched is reported with a way back.
//!
//! Needs Debian's `chromium` and `chromium-driver` (`cargo xtask test`
//! installs them). Without them this test fails rather than skips: a browser
//! test that silently does not run proves nothing.

use fantoccini::{Client, Locator};

use crate::common::{
    Server,
    browser::{
        HYDRATION_LIMIT, click, fill, open, open_browser, script, start_chromedriver, until,
        wait_for,
    },
    look::Looker,
    release_binary,
};

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
    split_into_chunks(browser, server).await?;
    kept_for_good(browser, server).await
}

/// A response header's value, or "" when it is missing or not text.
fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// The page names its bundles under a root naming the build, served to be
/// kept without asking again, so a second visit fetches none of them; other
/// builds' roots are gone, and `/pkg/` (the workers' imports) still answers.
async fn kept_for_good(browser: &Client, server: &Server) -> Result<(), String> {
    let html = reqwest::get(server.url("/"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let main = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .find(|href| href.ends_with("/pkg/nocturne.js"))
        .ok_or("the page names no main module")?;
    let root = main.trim_end_matches("/pkg/nocturne.js");
    if !root.starts_with("/v/") || root.len() != "/v/".len() + 16 {
        return Err(format!(
            "the main module is not under a build's root: {main}"
        ));
    }
    if !html.contains(&format!("{root}/pkg/nocturne.css")) {
        return Err("the stylesheet is not under the build's root".into());
    }
    let cache_control = |response: &reqwest::Response| header(response, "cache-control");
    let kept = reqwest::get(server.url(&format!("{root}/pkg/nocturne.wasm")))
        .await
        .map_err(|e| e.to_string())?;
    if kept.status() != 200 || !cache_control(&kept).contains("immutable") {
        return Err(format!(
            "{root}/pkg/nocturne.wasm answers {} with cache-control {:?}",
            kept.status(),
            cache_control(&kept)
        ));
    }
    // The workers' scripts too, with their own policy: the page starts its
    // workers under the root, and they load the module beside them.
    let worker = reqwest::get(server.url(&format!("{root}/file-worker.js")))
        .await
        .map_err(|e| e.to_string())?;
    let policy = header(&worker, "content-security-policy");
    if worker.status() != 200
        || !cache_control(&worker).contains("immutable")
        || !policy.contains("wasm-unsafe-eval")
    {
        return Err(format!(
            "{root}/file-worker.js answers {} with cache-control {:?} and policy {policy:?}",
            worker.status(),
            cache_control(&worker)
        ));
    }
    let other = reqwest::get(server.url("/v/0123456789abcdef/pkg/nocturne.wasm"))
        .await
        .map_err(|e| e.to_string())?;
    if other.status() != 404 {
        return Err(format!("another build's root answers {}", other.status()));
    }
    let plain = reqwest::get(server.url("/pkg/nocturne-worker.js"))
        .await
        .map_err(|e| e.to_string())?;
    if plain.status() != 200 || cache_control(&plain) != "no-cache" {
        return Err(format!(
            "/pkg/nocturne-worker.js answers {} with cache-control {:?}",
            plain.status(),
            cache_control(&plain)
        ));
    }
    // A second visit: every bundle under the root comes from the browser's
    // cache (no bytes over the wire; a revalidation would carry headers).
    open(browser, server, "/").await?;
    let entries = until(
        browser,
        &format!(
            "const m = performance.getEntriesByName('nocturne-hydrated')[0];
             const r = performance.getEntriesByType('resource')
                 .filter(e => new URL(e.name).pathname.startsWith('{root}/') && e.responseEnd > 0);
             return m && r.length ? r.map(e => [e.name, e.transferSize]) : null;"
        ),
        HYDRATION_LIMIT,
        "the second visit hydrates",
    )
    .await?;
    let entries: Vec<(String, u64)> = serde_json::from_value(entries).map_err(|e| e.to_string())?;
    if !entries
        .iter()
        .any(|(name, _)| name.ends_with("/pkg/nocturne.wasm"))
    {
        return Err(format!(
            "the second visit did not use the main module: {entries:?}"
        ));
    }
    if let Some((name, size)) = entries.iter().find(|(_, size)| *size > 0) {
        return Err(format!(
            "the second visit fetched {name} again ({size} bytes)"
        ));
    }
    // The measure itself: a URL that is revalidated (`/pkg/`, no-cache)
    // shows bytes on its second fetch, so the zeros above mean "kept".
    script(
        browser,
        "window.nocturneRevalidated = null;
         // An entry is recorded once a body has been read to its end.
         fetch('/pkg/nocturne.css')
           .then(r => r.text())
           .then(() => fetch('/pkg/nocturne.css'))
           .then(r => r.text())
           .then(() => {
             window.nocturneRevalidated = performance.getEntriesByType('resource')
               .filter(e => new URL(e.name).pathname === '/pkg/nocturne.css')
               .map(e => e.transferSize);
           });",
    )
    .await?;
    let sizes = until(
        browser,
        "return window.nocturneRevalidated;",
        HYDRATION_LIMIT,
        "two fetches of /pkg/nocturne.css",
    )
    .await?;
    let sizes: Vec<u64> = serde_json::from_value(sizes).map_err(|e| e.to_string())?;
    if sizes.len() != 2 || sizes[1] == 0 {
        return Err(format!(
            "a revalidated URL shows no bytes on its second fetch ({sizes:?}): \
             transfer sizes cannot tell kept from revalidated here"
        ));
    }
    Ok(())
}

/// The dashboard's first load fetches the main module and the dashboard's
/// own chunks, not the other pages' code; the unlocked view's chunk comes
/// after the page is interactive; every chunk the server names in a preload
/// link is served from inside the binary.
async fn split_into_chunks(browser: &Client, server: &Server) -> Result<(), String> {
    let html = reqwest::get(server.url("/"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    let preloads: Vec<&str> = html
        .split("<link ")
        .skip(1)
        .filter(|tag| tag.contains("rel=\"preload\""))
        .filter_map(|tag| tag.split("href=\"").nth(1)?.split('"').next())
        .filter(|href| href.ends_with(".wasm"))
        .collect();
    if !preloads.iter().any(|h| h.contains("dashboard_route_view")) {
        return Err(format!(
            "the dashboard names no chunk of its own to preload: {preloads:?}"
        ));
    }
    for href in &preloads {
        let response = reqwest::get(server.url(href))
            .await
            .map_err(|e| e.to_string())?;
        let kind = header(&response, "content-type");
        if response.status() != 200 || kind != "application/wasm" {
            return Err(format!(
                "preloaded {href} answers {} {kind:?}",
                response.status()
            ));
        }
    }
    // The unlocked view's chunk: fetched once the page is interactive.
    let fetched = until(
        browser,
        "const m = performance.getEntriesByName('nocturne-hydrated')[0];
         const r = performance.getEntriesByType('resource').filter(e => e.responseEnd > 0);
         const view = r.find(e => e.name.includes('files_view'));
         return m && view ? [m.startTime, view.startTime, r.map(e => e.name)] : null;",
        HYDRATION_LIMIT,
        "the unlocked view's chunk is fetched",
    )
    .await?;
    if fetched[1].as_f64() < fetched[0].as_f64() {
        return Err(format!(
            "the unlocked view's chunk was fetched before the page was interactive: {fetched}"
        ));
    }
    let names: Vec<String> =
        serde_json::from_value(fetched[2].clone()).map_err(|e| e.to_string())?;
    for other in [
        "login_route_view",
        "register_route_view",
        "admin_route_view",
        "share_route_view",
    ] {
        if let Some(url) = names.iter().find(|n| n.contains(other)) {
            return Err(format!("the dashboard fetched another page's code: {url}"));
        }
    }
    Ok(())
}

/// A page whose code cannot be fetched (the network dropped, or the server
/// was upgraded under an open tab) says so and offers a reload, instead of
/// silently doing nothing; the reload brings it back.
#[tokio::test]
async fn a_page_whose_code_cannot_be_fetched_says_so_and_reloads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let (_driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let mut looker = Looker::new(open_browser(port, profile.path()).await);
    let result = stopped(&mut looker, &server).await;
    let _ = looker.browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn stopped(looker: &mut Looker, server: &Server) -> Result<(), String> {
    let browser = looker.browser.clone();
    open(&browser, server, "/").await?;
    wait_for(&browser, Locator::Id("go-login"), "the signed-out page").await?;
    // The log-in page's own chunk cannot be fetched from now on.
    script(
        &browser,
        "const real = window.fetch;
         window.fetch = (input, init) => String(input instanceof Request ? input.url : input).includes('login_route_view')
           ? Promise.reject(new TypeError('Failed to fetch'))
           : real(input, init);",
    )
    .await?;
    click(&browser, "go-login").await?;
    let notice = wait_for(&browser, Locator::Id("stopped"), "the page says it stopped").await?;
    let text = notice.text().await.map_err(|e| e.to_string())?;
    if !text.contains("stopped working") || !text.contains("Reload") {
        return Err(format!("the notice says {text:?}"));
    }
    if notice
        .attr("role")
        .await
        .map_err(|e| e.to_string())?
        .as_deref()
        != Some("alert")
    {
        return Err("the notice is not announced (role=alert)".into());
    }
    looker
        .look(
            "stopped",
            Some(
                "const n = document.getElementById('stopped').getBoundingClientRect();
                 const b = document.getElementById('stopped-reload').getBoundingClientRect();
                 if (n.left < 0 || n.right > innerWidth || n.top < 0) return 'the notice leaves the viewport';
                 if (b.left < n.left || b.right > n.right || b.bottom > n.bottom) return 'Reload is outside the notice';
                 return null;",
            ),
        )
        .await?;
    click(&browser, "stopped-reload").await?;
    wait_for(
        &browser,
        Locator::Css("[data-hydrated='true']"),
        "the reloaded page hydrates",
    )
    .await?;
    if browser.find(Locator::Id("stopped")).await.is_ok() {
        return Err("the notice is still there after the reload".into());
    }
    Ok(())
}

/// Register, save the recovery key, see the empty list, see a file's name
/// decrypted after unlocking, log out, recover with the key, log in with
/// the new password: all in the browser, keys derived in its WASM.
#[tokio::test]
async fn register_recover_and_log_in_in_the_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let (_driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let browser = open_browser(port, profile.path()).await;
    let result = accounts(&browser, &server).await;
    let _ = browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn accounts(browser: &Client, server: &Server) -> Result<(), String> {
    const OLD: &str = "first password, long enough";
    const NEW: &str = "second password, also long";
    open(browser, server, "/register").await?;
    fill(browser, "username", "alice").await?;
    fill(browser, "password", OLD).await?;
    fill(browser, "password2", OLD).await?;
    click(browser, "register").await?;

    let hex = wait_for(
        browser,
        Locator::Id("recovery-hex"),
        "the recovery key is shown",
    )
    .await?;
    // Argon2id ran in the crypto worker, started under the build's root, so
    // the worker and the module it loaded are this page's build.
    let workers = script(
        browser,
        "return performance.getEntriesByType('resource')
           .map(e => new URL(e.name).pathname)
           .filter(p => p.endsWith('crypto-worker.js'));",
    )
    .await?;
    let workers: Vec<String> = serde_json::from_value(workers).map_err(|e| e.to_string())?;
    if workers.is_empty() || !workers.iter().all(|p| p.starts_with("/v/")) {
        return Err(format!(
            "the crypto worker was not started under the build's root: {workers:?}"
        ));
    }
    let hex = hex.text().await.map_err(|e| e.to_string())?;
    let words = browser
        .find(Locator::Id("recovery-words"))
        .await
        .map_err(|e| e.to_string())?
        .text()
        .await
        .map_err(|e| e.to_string())?;
    if noctis::recovery::from_hex(&hex).is_err() || noctis::recovery::from_words(&words).is_err() {
        return Err(format!(
            "the recovery key does not parse: {hex:?} / {words:?}"
        ));
    }
    if noctis::recovery::from_hex(&hex).map(|k| *k)
        != noctis::recovery::from_words(&words).map(|k| *k)
    {
        return Err("hex and words are different keys".into());
    }
    let go_on = browser
        .find(Locator::Id("recovery-continue"))
        .await
        .map_err(|e| e.to_string())?;
    if go_on
        .attr("disabled")
        .await
        .map_err(|e| e.to_string())?
        .is_none()
    {
        return Err("Continue is enabled before the user confirms saving the key".into());
    }
    click(browser, "recovery-saved").await?;
    click(browser, "recovery-continue").await?;
    wait_for(
        browser,
        Locator::Id("empty"),
        "the empty file list after sign-up",
    )
    .await?;

    // A file uploaded by another client of the same account (same key
    // hierarchy, native code) shows up with its name decrypted here.
    let mut native = crate::common::client::Client::new(&server.base, "alice");
    if native.login(OLD).await != 200 {
        return Err("the native client cannot log in with the browser's password".into());
    }
    let file = crate::common::client::encrypt(
        "holiday-photo.jpg",
        b"not really a photo",
        noctis::format::CipherId::Aes256Gcm,
    );
    native.upload(&file, 256 * 1024).await;
    browser.refresh().await.map_err(|e| e.to_string())?;
    wait_for(
        browser,
        Locator::Id("unlock-password"),
        "after a reload the keys are locked",
    )
    .await?;
    fill(browser, "unlock-password", OLD).await?;
    click(browser, "unlock").await?;
    wait_for(
        browser,
        Locator::XPath("//span[contains(@class,'file-name') and text()='holiday-photo.jpg']"),
        "the file's name decrypted in the browser",
    )
    .await?;

    click(browser, "logout").await?;
    wait_for(browser, Locator::Id("signed-out"), "signed out").await?;

    open(browser, server, "/recover").await?;
    fill(browser, "username", "alice").await?;
    fill(browser, "recovery-key", &hex.to_lowercase()).await?;
    fill(browser, "new-password", NEW).await?;
    fill(browser, "new-password2", NEW).await?;
    click(browser, "recover").await?;
    wait_for(browser, Locator::Id("recovered"), "the password is reset").await?;

    open(browser, server, "/login").await?;
    fill(browser, "username", "alice").await?;
    fill(browser, "password", OLD).await?;
    click(browser, "login").await?;
    let error = wait_for(
        browser,
        Locator::Id("form-error"),
        "the old password is refused",
    )
    .await?;
    let text = error.text().await.map_err(|e| e.to_string())?;
    if !text.contains("wrong") {
        return Err(format!("unexpected error for the old password: {text:?}"));
    }
    fill(browser, "password", NEW).await?;
    click(browser, "login").await?;
    wait_for(
        browser,
        Locator::XPath("//span[contains(@class,'file-name') and text()='holiday-photo.jpg']"),
        "after recovery the same file still opens",
    )
    .await?;
    Ok(())
}
