//! A large account and the administrator's page, in headless Chromium
//! against the release binary: 450 files come a page at a time, "Show
//! more" fetches the next page, a filter or a sort by name loads the rest
//! (names are only readable here); the administrator lists accounts with
//! their usage, sets a quota and disables an account, whose owner then
//! cannot log in. Screenshots of both at desktop and phone width.

use fantoccini::Locator;

use super::dashboard::{PASSWORD, log_in};
use crate::common::{
    Server,
    browser::{
        TRANSFER_LIMIT, click, click_css, fill, open_browser, start_chromedriver, until, wait_for,
    },
    client::{Client, encrypt},
    look::Looker,
    release_binary,
};
use noctis::format::CipherId;

const FILES: usize = 450;

#[tokio::test]
async fn a_large_account_pages_and_the_administrator_manages_accounts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &release_binary(),
        dir.path(),
        &[("NOCTURNE_REGISTRATION", "open")],
    )
    .await;
    let mut owner = Client::new(&server.base, "olivia");
    assert_eq!(owner.register(PASSWORD, None).await.status(), 201);
    assert_eq!(owner.login(PASSWORD).await, 200);
    // Uploaded by the native client with this account's master key, so
    // the browser that logs in with the same password reads every name.
    for i in 0..FILES {
        let f = encrypt(&format!("file {i:03}"), &[i as u8], CipherId::Aes256Gcm);
        owner.upload(&f, 256 * 1024).await;
    }
    let mut bob = Client::new(&server.base, "bob");
    assert_eq!(bob.register(PASSWORD, None).await.status(), 201);

    let (_driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile");
    let mut looker = Looker::new(open_browser(port, profile.path()).await);
    let result = run(&mut looker, &server, &mut bob).await;
    let _ = looker.browser.clone().close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn rows(looker: &Looker) -> Result<usize, String> {
    Ok(looker
        .script("return document.querySelectorAll('tr.file-row').length")
        .await?
        .as_u64()
        .unwrap_or(0) as usize)
}

async fn summary_is(looker: &Looker, text: &str) -> Result<(), String> {
    until(
        &looker.browser,
        &format!(
            "const s = document.getElementById('list-summary'); return s && s.textContent === {text:?} || null"
        ),
        TRANSFER_LIMIT,
        &format!("the list summary to read {text:?}"),
    )
    .await
    .map(|_| ())
}

async fn run(looker: &mut Looker, server: &Server, bob: &mut Client) -> Result<(), String> {
    let b = looker.browser.clone();
    log_in(&b, server, "olivia").await?;

    // The first page (its order, newest first, is the API test's).
    summary_is(looker, &format!("Showing 200 of {FILES} files")).await?;
    if rows(looker).await? != 200 {
        return Err(format!("{} rows shown, not 200", rows(looker).await?));
    }
    looker
        .look("dashboard-many-files", Some(super::look::FILE_TABLE))
        .await?;

    // "Show more" fetches the next page.
    click(&b, "show-more").await?;
    summary_is(looker, &format!("Showing 400 of {FILES} files")).await?;
    looker
        .script(
            "document.getElementById('list-summary').scrollIntoView({block: 'end'}); return true",
        )
        .await?;
    looker.look("dashboard-list-footer", None).await?;

    // The oldest file is on the third page, not loaded yet: the filter
    // loads the rest and finds it.
    fill(&b, "filter", "file 000").await?;
    until(
        &b,
        "const r = [...document.querySelectorAll('tr.file-row .file-name')].map(e => e.textContent);
         return r.length === 1 && r[0] === 'file 000' || null",
        TRANSFER_LIMIT,
        "the filter to find the oldest file",
    )
    .await?;
    summary_is(looker, "1 file").await?;

    // Sorted by name over every file: the oldest name first, still 400
    // rows shown of the 450.
    fill(&b, "filter", "").await?;
    click_css(&b, "th.name button.sort").await?;
    until(
        &b,
        "const r = [...document.querySelectorAll('tr.file-row .file-name')].map(e => e.textContent);
         return r.length === 400 && r[0] === 'file 000' && r[399] === 'file 399' || null",
        TRANSFER_LIMIT,
        "the list sorted by name",
    )
    .await?;
    summary_is(looker, &format!("Showing 400 of {FILES} files")).await?;

    // The administrator's accounts.
    click(&b, "go-admin").await?;
    wait_for(
        &b,
        Locator::Css("#account-list tr.account-row[data-name='bob']"),
        "bob in the account list",
    )
    .await?;
    let olivia = looker
        .script(
            "const r = document.querySelector(\"tr.account-row[data-name='olivia']\");
             return [r.querySelector('td.num').textContent, !!r.querySelector('.account-toggle')]",
        )
        .await?;
    if olivia != serde_json::json!([FILES.to_string(), false]) {
        return Err(format!(
            "olivia's row: {olivia} (450 files, no way to disable herself)"
        ));
    }
    looker.look("admin-accounts", None).await?;
    looker.viewport(1280, 800).await?;

    // A quota for bob, typed as people type it.
    click_css(&b, "tr.account-row[data-name='bob'] .quota-input").await?;
    b.active_element()
        .await
        .map_err(|e| e.to_string())?
        .send_keys("1 GB")
        .await
        .map_err(|e| e.to_string())?;
    click_css(&b, "tr.account-row[data-name='bob'] .quota-set").await?;
    until(
        &b,
        "const q = document.querySelector(\"tr.account-row[data-name='bob'] .account-quota\");
         return q && q.textContent === '953.7 MiB' || null",
        TRANSFER_LIMIT,
        "bob's quota shown as 953.7 MiB",
    )
    .await?;
    assert_eq!(bob.login(PASSWORD).await, 200);
    let details: serde_json::Value = bob
        .req(reqwest::Method::GET, "/api/account")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    if details["quota"] != 1_000_000_000u64 {
        return Err(format!("bob's quota is {}", details["quota"]));
    }

    // Disabled: bob's session ends and his password gets a 403.
    click_css(&b, "tr.account-row[data-name='bob'] .account-toggle").await?;
    wait_for(
        &b,
        Locator::Css("tr.account-row[data-name='bob'][data-disabled='true']"),
        "bob disabled",
    )
    .await?;
    let status = bob
        .req(reqwest::Method::GET, "/api/files")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .status();
    if status != 401 {
        return Err(format!("a disabled account's session answered {status}"));
    }
    bob.token = None;
    let status = bob.login(PASSWORD).await;
    if status != 403 {
        return Err(format!("a disabled account's login answered {status}"));
    }
    looker.look("admin-accounts-changed", None).await?;
    Ok(())
}
