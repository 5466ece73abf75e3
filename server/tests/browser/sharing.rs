//! Share links end to end in headless Chromium against the release binary:
//! the owner creates a link of each mode in the dashboard (a set of two
//! files, an expiring one, a one-time one), and a second browser with a
//! fresh profile (no cookies, no account) opens each: a wrong password
//! refused, the right one showing names and sizes, downloads decrypted to
//! disk and compared byte for byte; the one-time link refused afterwards; a
//! link without its fragment refused in the page; a new password set in the
//! dashboard (keys re-wrapped there) opening the same URL; the expiring link
//! refused once the server's clock (moved through `NOCTURNE_TEST_CLOCK_FILE`)
//! passes its date; a revoked link refused; the owner's panel showing each
//! state; neither the fragments nor the passwords in the server's files or
//! logs.
//!
//! Waiting: conditions are polled, never slept on.

use std::path::Path;

use fantoccini::{Client, Locator};
use noctis::format::CipherId;
use reqwest::Method;
use serde_json::Value;

use crate::common::{
    Server,
    browser::{
        TRANSFER_LIMIT, choose, click, click_css, fill, holds, open, open_browser, opfs_files,
        save_dialog_to_opfs, script, start_chromedriver, transfers_done, until, wait_for,
    },
    client::{self, sha256_hex},
    release_binary,
};

const PASSWORD: &str = "an owner's password, long enough";
const LINK_PASSWORD: &str = "heron lantern 42";
const NEW_LINK_PASSWORD: &str = "quartz meadow 17";

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut state = u64::from(seed).wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect()
}

struct Browser {
    _driver: tokio::process::Child,
    client: Client,
    _profile: tempfile::TempDir,
}

async fn browser() -> Browser {
    let (driver, port) = start_chromedriver().await;
    let profile = tempfile::tempdir().expect("profile dir");
    let client = open_browser(port, profile.path()).await;
    Browser {
        _driver: driver,
        client,
        _profile: profile,
    }
}

/// Creates a link in the owner's dashboard for the selected files (or the
/// row of `name`); returns its URL as the dialog shows it.
async fn create_link(owner: &Client, name: Option<&str>, mode: &str) -> Result<String, String> {
    match name {
        Some(name) => {
            let xpath = format!(
                "//tr[contains(@class,'file-row')][.//span[contains(@class,'file-name') and text()='{name}']]//*[contains(@class,'share')]"
            );
            owner
                .find(Locator::XPath(&xpath))
                .await
                .map_err(|e| format!("share button of {name}: {e}"))?
                .click()
                .await
                .map_err(|e| e.to_string())?;
        }
        None => click(owner, "share-selected").await?,
    }
    wait_for(
        owner,
        Locator::Css("#share-dialog[open] #share-password-on"),
        "the share dialog",
    )
    .await?;
    // The password is on by default.
    holds(
        owner,
        "return document.getElementById('share-password-on').checked",
        "the password is not on by default",
    )
    .await?;
    fill(owner, "share-password", LINK_PASSWORD).await?;
    choose(owner, "share-mode", mode).await?;
    if mode == "expiring" {
        choose(owner, "share-expiry", "86400").await?;
    }
    click(owner, "share-create").await?;
    let url = until(
        owner,
        "const e = document.getElementById('share-url'); return e && e.value ? e.value : null;",
        TRANSFER_LIMIT,
        "the link is shown",
    )
    .await?;
    holds(
        owner,
        "return document.querySelector('#share-qr svg') !== null",
        "no QR code",
    )
    .await?;
    click(owner, "share-close").await?;
    Ok(url.as_str().unwrap_or_default().to_owned())
}

/// Opens `url` in the opener's browser and tries `wrong` then `right` as
/// the password; returns the names and sizes the page then shows.
async fn unlock_page(
    opener: &Client,
    url: &str,
    wrong: &str,
    right: &str,
) -> Result<Vec<String>, String> {
    opener.goto(url).await.map_err(|e| e.to_string())?;
    wait_for(
        opener,
        Locator::Css("[data-hydrated='true']"),
        "the share page hydrates",
    )
    .await?;
    wait_for(opener, Locator::Id("share-password"), "the password form").await?;
    // Nothing about the files before the password.
    holds(
        opener,
        "return document.querySelector('.shared-file') === null",
        "files shown before the password",
    )
    .await?;
    fill(opener, "share-password", wrong).await?;
    click(opener, "share-unlock").await?;
    let refused = until(
        opener,
        "const e = document.getElementById('share-error'); return e ? e.textContent : null;",
        TRANSFER_LIMIT,
        "the wrong password is refused",
    )
    .await?;
    if !refused.as_str().unwrap_or_default().contains("wrong") {
        return Err(format!("unexpected error: {refused}"));
    }
    fill(opener, "share-password", right).await?;
    click(opener, "share-unlock").await?;
    wait_for(opener, Locator::Id("shared-files"), "the shared files").await?;
    serde_json::from_value(
        script(
            opener,
            "return [...document.querySelectorAll('.shared-file')].map(e => e.querySelector('.shared-name').textContent + ' ' + e.querySelector('.shared-size').textContent)",
        )
        .await?,
    )
    .map_err(|e| e.to_string())
}

/// Opens `url` (a wrong, then the right password) and downloads every
/// file; returns `name → (size, sha256)` of what was saved and the names
/// and sizes the page showed.
async fn open_and_download(
    opener: &Client,
    url: &str,
    expect_files: usize,
) -> Result<
    (
        std::collections::BTreeMap<String, (u64, String)>,
        Vec<String>,
    ),
    String,
> {
    let shown = unlock_page(opener, url, "heron lantern 43", LINK_PASSWORD).await?;
    save_dialog_to_opfs(opener).await?;
    if expect_files > 1 {
        // A set: "Download all" saves every file, under one claim, into a
        // folder (here the origin-private file system's root).
        script(
            opener,
            "window.showDirectoryPicker = async () => navigator.storage.getDirectory();",
        )
        .await?;
        click(opener, "share-download-all").await?;
    } else {
        click_css(opener, ".share-download").await?;
    }
    transfers_done(opener, "download", expect_files).await?;
    Ok((opfs_files(opener).await?, shown))
}

/// The `data-code` of the page's refusal once it shows one.
async fn refusal(opener: &Client) -> Result<String, String> {
    let code = until(
        opener,
        "const e = document.getElementById('share-state'); return e ? e.dataset.code : null;",
        TRANSFER_LIMIT,
        "the link is refused",
    )
    .await?;
    Ok(code.as_str().unwrap_or_default().to_owned())
}

fn link_id(url: &str) -> &str {
    url.split("/s/")
        .nth(1)
        .and_then(|rest| rest.split('#').next())
        .unwrap_or_default()
}

/// Clicks `class` in the owner's row of link `id`.
async fn link_click(owner: &Client, id: &str, class: &str) -> Result<(), String> {
    owner
        .find(Locator::Css(&format!(
            "#links .link-row[data-id='{id}'] .{class}"
        )))
        .await
        .map_err(|e| format!("{class} of link {id}: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())
}

#[tokio::test]
async fn links_made_in_the_dashboard_open_in_a_fresh_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = tempfile::NamedTempFile::new().expect("clock file");
    std::fs::write(clock.path(), "0").expect("write");
    let clock_path = clock.path().to_str().expect("utf-8").to_owned();
    let server = Server::start(
        &release_binary(),
        dir.path(),
        &[
            ("RUST_LOG", "info,tower_http=debug"),
            ("NOCTURNE_TEST_CLOCK_FILE", &clock_path),
        ],
    )
    .await;
    let mut native = client::Client::new(&server.base, "olga");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    let report = pattern((3 << 20) + 11, 1);
    let photo = pattern(5000, 2);
    native
        .upload(
            &client::encrypt("report.pdf", &report, CipherId::Aes256Gcm),
            8 << 20,
        )
        .await;
    native
        .upload(
            &client::encrypt("photo.jpg", &photo, CipherId::Noctis256),
            8 << 20,
        )
        .await;

    let owner = browser().await;
    let opener = browser().await;
    let result = run(
        &server,
        &native,
        &owner.client,
        &opener.client,
        dir.path(),
        clock.path(),
        [&report, &photo],
    )
    .await;
    let _ = owner.client.close().await;
    let _ = opener.client.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

async fn run(
    server: &Server,
    native: &client::Client,
    owner: &Client,
    opener: &Client,
    data: &Path,
    clock: &Path,
    [report, photo]: [&[u8]; 2],
) -> Result<(), String> {
    open(owner, server, "/login").await?;
    fill(owner, "username", "olga").await?;
    fill(owner, "password", PASSWORD).await?;
    click(owner, "login").await?;
    wait_for(owner, Locator::Css("tr.file-row"), "the file list").await?;
    until(
        owner,
        "return document.querySelectorAll('tr.file-row').length === 2 ? true : null;",
        TRANSFER_LIMIT,
        "both files listed",
    )
    .await?;

    // A persistent link for both files (selected), an expiring and a
    // one-time link for one.
    click(owner, "select-all").await?;
    let both = create_link(owner, None, "persistent").await?;
    let expiring = create_link(owner, Some("report.pdf"), "expiring").await?;
    let once = create_link(owner, Some("photo.jpg"), "one_time").await?;
    until(
        owner,
        "return document.querySelectorAll('#links .link-row').length === 3 ? true : null;",
        TRANSFER_LIMIT,
        "the three links listed",
    )
    .await?;
    for url in [&both, &expiring, &once] {
        let fragment = url.split_once('#').map(|(_, f)| f).unwrap_or_default();
        if !url.contains("/s/") || fragment.len() < 43 {
            return Err(format!("not a share URL with a 256-bit fragment: {url}"));
        }
    }

    let want_report = (report.len() as u64, sha256_hex(report));
    let want_photo = (photo.len() as u64, sha256_hex(photo));
    let (saved, mut shown) = open_and_download(opener, &both, 2).await?;
    // Files uploaded in the same second are listed in no fixed order.
    shown.sort();
    if saved.get("report.pdf") != Some(&want_report) || saved.get("photo.jpg") != Some(&want_photo)
    {
        return Err(format!("the set did not come back whole: {saved:?}"));
    }
    // Natively uploaded files carry no plaintext size in their metadata, so
    // the page shows the ciphertext's (a few bytes more).
    if !(shown.len() == 2
        && shown[1] == "report.pdf 3.0 MiB"
        && shown[0].starts_with("photo.jpg ")
        && shown[0].ends_with(" KiB"))
    {
        return Err(format!("unexpected listing: {shown:?}"));
    }
    let (saved, _) = open_and_download(opener, &expiring, 1).await?;
    if saved.get("report.pdf") != Some(&want_report) {
        return Err(format!("the expiring link's file differs: {saved:?}"));
    }
    let (saved, _) = open_and_download(opener, &once, 1).await?;
    if saved.get("photo.jpg") != Some(&want_photo) {
        return Err(format!("the one-time link's file differs: {saved:?}"));
    }

    // The one-time link is used up; the page says so and shows nothing else
    // (the page is still at that URL: reload it).
    opener.refresh().await.map_err(|e| e.to_string())?;
    let used = refusal(opener).await?;
    if used != "used" {
        return Err(format!("the used one-time link says {used}"));
    }
    // Without its fragment a link cannot be opened at all.
    let bare = both.split('#').next().unwrap_or_default();
    opener.goto(bare).await.map_err(|e| e.to_string())?;
    let incomplete = refusal(opener).await?;
    if incomplete != "incomplete" {
        return Err(format!("a link without fragment says {incomplete}"));
    }

    // The owner sees the downloads.
    let links: Value = native
        .req(Method::GET, "/api/shares")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    let mut states: Vec<(String, i64)> = links["shares"]
        .as_array()
        .ok_or("no shares")?
        .iter()
        .map(|s| {
            (
                s["state"].as_str().unwrap_or_default().to_owned(),
                s["downloads"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    states.sort();
    if states
        != [
            ("active".to_owned(), 1),
            ("active".to_owned(), 1),
            ("used".to_owned(), 1),
        ]
    {
        return Err(format!("unexpected link states: {states:?}"));
    }

    // The owner sets a new password on the set in the dashboard (every key
    // re-wrapped there); the same URL then opens with it, not the old one.
    let salt_of = |links: &Value, id: &str| {
        links["shares"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|s| s["id"] == id)
            .map(|s| s["salt"].clone())
    };
    let old_salt = salt_of(&links, link_id(&both));
    let row_input = format!(
        "#links .link-row[data-id='{}'] .link-new-password",
        link_id(&both)
    );
    owner
        .find(Locator::Css(&row_input))
        .await
        .map_err(|e| format!("{row_input}: {e}"))?
        .send_keys(NEW_LINK_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    link_click(owner, link_id(&both), "link-password-apply").await?;
    let deadline = std::time::Instant::now() + TRANSFER_LIMIT;
    loop {
        let links: Value = native
            .req(Method::GET, "/api/shares")
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        if salt_of(&links, link_id(&both)) != old_salt {
            break;
        }
        if std::time::Instant::now() > deadline {
            return Err("the new password never reached the server".into());
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let shown = unlock_page(opener, &both, LINK_PASSWORD, NEW_LINK_PASSWORD).await?;
    if shown.len() != 2 {
        return Err(format!("after the password change: {shown:?}"));
    }

    // Two days on (the server's clock, moved by the test), the 1-day link
    // says it expired; a revoked link says it was revoked; the owner's
    // panel shows each state.
    std::fs::write(clock, (2 * 86_400).to_string()).map_err(|e| e.to_string())?;
    opener.goto(&expiring).await.map_err(|e| e.to_string())?;
    let expired = refusal(opener).await?;
    if expired != "expired" {
        return Err(format!("the expired link says {expired}"));
    }
    link_click(owner, link_id(&both), "link-revoke").await?;
    let states = format!(
        "const s = id => {{ const r = document.querySelector(`#links .link-row[data-id='${{id}}']`); return r && r.dataset.state; }};
         return s('{}') === 'revoked' && s('{}') === 'expired' && s('{}') === 'used' ? true : null;",
        link_id(&both),
        link_id(&expiring),
        link_id(&once)
    );
    until(
        owner,
        &states,
        TRANSFER_LIMIT,
        "the owner sees revoked, expired and used",
    )
    .await?;
    opener.goto(&both).await.map_err(|e| e.to_string())?;
    let revoked = refusal(opener).await?;
    if revoked != "revoked" {
        return Err(format!("the revoked link says {revoked}"));
    }

    // Neither a fragment nor the link password reached the server.
    let fragments: Vec<String> = [&both, &expiring, &once]
        .iter()
        .map(|u| {
            u.split_once('#')
                .map(|(_, f)| f.to_owned())
                .unwrap_or_default()
        })
        .collect();
    let mut markers: Vec<&[u8]> = fragments.iter().map(|f| f.as_bytes()).collect();
    markers.push(LINK_PASSWORD.as_bytes());
    markers.push(NEW_LINK_PASSWORD.as_bytes());
    client::assert_absent(data, &markers);
    let logs = server.logs();
    if !logs.contains("/api/s/") {
        return Err("the share requests were not logged at all".into());
    }
    for m in fragments
        .iter()
        .map(String::as_str)
        .chain([LINK_PASSWORD, NEW_LINK_PASSWORD])
    {
        if logs.contains(m) {
            return Err(format!("the server log contains {m}"));
        }
    }
    Ok(())
}

/// What a hostile server could try through a link, caught in the browser:
/// a link row whose Argon2id cost was lowered makes the share page refuse
/// to derive the password (nothing sent: the link's wrong-attempt count
/// stays 0), and another of the owner's files slipped into a link is not
/// re-wrapped when the owner changes its password (the sealed file list
/// says it never was in the link).
#[tokio::test]
async fn a_tampered_link_is_refused_in_the_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&release_binary(), dir.path(), &[]).await;
    let mut native = client::Client::new(&server.base, "olga");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    native
        .upload(
            &client::encrypt("public.txt", b"for anyone", CipherId::Aes256Gcm),
            8 << 20,
        )
        .await;
    let private = native
        .upload(
            &client::encrypt("private.txt", b"for olga only", CipherId::Aes256Gcm),
            8 << 20,
        )
        .await;
    let owner = browser().await;
    let opener = browser().await;
    let db = dir.path().join("data").join("nocturne.db");
    let private_id = private["id"].as_str().expect("id").to_owned();
    let result = tampered(
        &server,
        &native,
        &owner.client,
        &opener.client,
        &db,
        &private_id,
    )
    .await;
    let _ = owner.client.close().await;
    let _ = opener.client.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", server.logs()));
}

/// Runs `sql` on the server's database behind its back, as a compromised
/// server would.
fn tamper(db: &Path, sql: &str, params: &[&dyn rusqlite::ToSql]) -> Result<(), String> {
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(|e| e.to_string())?;
    conn.execute(sql, params)
        .map_err(|e| format!("{sql}: {e}"))?;
    Ok(())
}

async fn link_row(native: &client::Client, id: &str) -> Result<Value, String> {
    let links: Value = native
        .req(Method::GET, "/api/shares")
        .send()
        .await
        .map_err(|e| e.to_string())?
        .json()
        .await
        .map_err(|e| e.to_string())?;
    links["shares"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|s| s["id"] == id)
        .cloned()
        .ok_or_else(|| format!("link {id} not listed"))
}

async fn tampered(
    server: &Server,
    native: &client::Client,
    owner: &Client,
    opener: &Client,
    db: &Path,
    private_id: &str,
) -> Result<(), String> {
    open(owner, server, "/login").await?;
    fill(owner, "username", "olga").await?;
    fill(owner, "password", PASSWORD).await?;
    click(owner, "login").await?;
    until(
        owner,
        "return document.querySelectorAll('tr.file-row').length === 2 ? true : null;",
        TRANSFER_LIMIT,
        "both files listed",
    )
    .await?;
    let url = create_link(owner, Some("public.txt"), "persistent").await?;
    let id = link_id(&url).to_owned();

    // A cost below the floor: the page refuses before deriving or sending.
    tamper(
        db,
        "UPDATE shares SET argon2_m_kib = 8, argon2_t = 1 WHERE id = ?1",
        &[&id],
    )?;
    opener.goto(&url).await.map_err(|e| e.to_string())?;
    wait_for(opener, Locator::Id("share-password"), "the password form").await?;
    fill(opener, "share-password", LINK_PASSWORD).await?;
    click(opener, "share-unlock").await?;
    let refused = until(
        opener,
        "const e = document.getElementById('share-error'); return e ? e.textContent : null;",
        TRANSFER_LIMIT,
        "the weak cost refused",
    )
    .await?;
    if !refused.as_str().unwrap_or_default().contains("too weak") {
        return Err(format!("the page said {refused} to a weakened cost"));
    }
    if link_row(native, &id).await?["failures"] != 0 {
        return Err("a token derived at the weakened cost reached the server".into());
    }
    // Restored, the same page opens.
    tamper(
        db,
        "UPDATE shares SET argon2_m_kib = 65536, argon2_t = 3 WHERE id = ?1",
        &[&id],
    )?;
    opener.refresh().await.map_err(|e| e.to_string())?;
    wait_for(
        opener,
        Locator::Id("share-password"),
        "the password form again",
    )
    .await?;
    fill(opener, "share-password", LINK_PASSWORD).await?;
    click(opener, "share-unlock").await?;
    wait_for(opener, Locator::Id("shared-files"), "the shared file").await?;

    // The private file slipped into the link (with a key the server made
    // up): the owner's password change re-wraps nothing.
    tamper(
        db,
        "INSERT INTO share_files (share_id, idx, file_id, wrapped_key) VALUES (?1, 1, ?2, zeroblob(60))",
        &[&id, &private_id],
    )?;
    owner.refresh().await.map_err(|e| e.to_string())?;
    wait_for(owner, Locator::Id("unlock-password"), "locked after reload").await?;
    fill(owner, "unlock-password", PASSWORD).await?;
    click(owner, "unlock").await?;
    let row = format!("#links .link-row[data-id='{id}']");
    wait_for(owner, Locator::Css(&row), "the link in the owner's panel").await?;
    let salt = link_row(native, &id).await?["salt"].clone();
    owner
        .find(Locator::Css(&format!("{row} .link-new-password")))
        .await
        .map_err(|e| e.to_string())?
        .send_keys(NEW_LINK_PASSWORD)
        .await
        .map_err(|e| e.to_string())?;
    link_click(owner, &id, "link-password-apply").await?;
    let said = until(
        owner,
        "const e = document.getElementById('links-error'); return e ? e.textContent : null;",
        TRANSFER_LIMIT,
        "the slipped-in file refused",
    )
    .await?;
    if !said.as_str().unwrap_or_default().contains("never made for") {
        return Err(format!("the dashboard said {said}"));
    }
    let after = link_row(native, &id).await?;
    if after["salt"] != salt {
        return Err("the link was re-keyed despite the foreign file".into());
    }
    let conn = rusqlite::Connection::open(db).map_err(|e| e.to_string())?;
    let key: Vec<u8> = conn
        .query_row(
            "SELECT wrapped_key FROM share_files WHERE share_id = ?1 AND idx = 1",
            [&id],
            |r| r.get(0),
        )
        .map_err(|e| e.to_string())?;
    if key != vec![0u8; 60] {
        return Err("the private file's key was re-wrapped for the link".into());
    }
    Ok(())
}
