//! The pages as a person sees them, in headless Chromium against the
//! release binary: every page and state (sign-up and its recovery key, the
//! locked dashboard, the dashboard empty and with files, one with a long
//! unicode name, a transfer under way, the share dialog, the links panel,
//! the invites page (the storage mesh off), the public share page before
//! and after its password, used, expired, revoked and incomplete links,
//! log in, recover, not found)
//! looked at 1280×800 and 390×844 (`crate::common::look`): a screenshot of each
//! under `target/screenshots/`, layout facts checked in the page, and
//! axe-core with no serious or critical violation.
//!
//! Along the way, what the pages promise: the share dialog is a modal that
//! takes focus, gives it back, closes on Escape and opens with a password
//! and a lasting link whatever the previous link was; a one-time link's
//! page says it is spent instead of offering a click that fails; the
//! administrator invites from the page, the sign-up link fills in the code,
//! and nobody else sees the page.
//!
//! Waiting: conditions are polled, never slept on.

use std::path::Path;

use fantoccini::{Locator, key::Key};

use crate::common::{
    Server,
    browser::{
        TRANSFER_LIMIT, choose, click, click_css, fill, holds, open, open_browser,
        save_dialog_to_opfs, start_chromedriver, transfers_done, until, wait_for,
    },
    look::Looker,
    release_binary,
};

const PASSWORD: &str = "an owner's password, long enough";
const BOB_PASSWORD: &str = "bob's own password, also long";
const LINK_PASSWORD: &str = "heron lantern 42";
/// A name that is long, not ASCII, and has no spaces to break at for a while.
const LONG_NAME: &str =
    "Ünïcödé-résumé_東京の夜景と長い長いファイル名のテスト_final-version-(2)_ÆØÅ-ελληνικά.pdf";

/// The file table at any width: each name shown whole or ellipsised with
/// the whole name as its title (and whole on a phone, where there is no
/// pointer to hover), sizes and buttons unclipped and inside the row, and
/// at desktop width each header above its column.
pub(super) const FILE_TABLE: &str = r#"
const table = document.getElementById('file-list');
if (!table) return 'no file table';
const rows = [...table.querySelectorAll('tbody tr.file-row')];
if (!rows.length) return 'no file rows';
const phone = innerWidth < 640;
const bad = [];
for (const row of rows) {
  const name = row.querySelector('.file-name');
  const full = name.textContent;
  const cell = row.querySelector('td.name').getBoundingClientRect();
  if (cell.width < (phone ? 200 : 240)) bad.push('the name cell is ' + Math.round(cell.width) + ' px wide');
  if (name.scrollWidth > name.clientWidth + 1) {
    if (phone) bad.push('name clipped on a phone: ' + full);
    else if (getComputedStyle(name).textOverflow !== 'ellipsis' || name.title !== full)
      bad.push('name clipped without an ellipsis and its title: ' + full);
  }
  const size = row.querySelector('td.file-size');
  if (size.scrollWidth > size.clientWidth + 1 || size.getBoundingClientRect().width === 0)
    bad.push('size not shown whole: ' + size.textContent);
  const box = row.getBoundingClientRect();
  for (const b of row.querySelectorAll('.actions button')) {
    const r = b.getBoundingClientRect();
    if (r.width === 0 || r.left < box.left - 1 || r.right > box.right + 1 || r.right > innerWidth)
      bad.push('button "' + b.textContent + '" is outside its row');
    if (b.scrollWidth > b.clientWidth + 1) bad.push('button "' + b.textContent + '" is clipped');
  }
  if (!phone) {
    const heads = [...table.querySelectorAll('thead th')];
    [...row.children].forEach((td, i) => {
      if (getComputedStyle(td).display === 'none') return;
      const a = heads[i].getBoundingClientRect(), b = td.getBoundingClientRect();
      if (Math.abs(a.left - b.left) > 1 || Math.abs(a.right - b.right) > 1)
        bad.push('header "' + heads[i].textContent + '" is not above its column');
    });
  }
}
return bad.length ? [...new Set(bad)].slice(0, 6).join('; ') : null;
"#;

/// The share dialog: open, modal, holding the focus.
const DIALOG: &str = r#"
const d = document.getElementById('share-dialog');
if (!d || !d.open) return 'the share dialog is not open';
if (!d.matches(':modal')) return 'the share dialog is not modal';
const a = document.activeElement;
if (!d.contains(a)) return 'the focus is not in the share dialog';
const o = getComputedStyle(a);
if (a.matches(':focus-visible') && (o.outlineStyle === 'none' || parseFloat(o.outlineWidth) < 2)) return 'the focused ' + a.id + ' shows no focus ring';
return null;
"#;

#[tokio::test]
async fn every_page_looks_right_at_both_widths() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clock = dir.path().join("clock");
    std::fs::write(&clock, "0").expect("clock file");
    let clock_path = clock.to_str().expect("utf-8").to_owned();
    let server = Server::start(
        &release_binary(),
        dir.path(),
        &[("NOCTURNE_TEST_CLOCK_FILE", &clock_path)],
    )
    .await;
    let (_driver, port) = start_chromedriver().await;
    let owner_profile = tempfile::tempdir().expect("profile");
    let visitor_profile = tempfile::tempdir().expect("profile");
    let mut owner = Looker::new(open_browser(port, owner_profile.path()).await);
    let mut visitor = Looker::new(open_browser(port, visitor_profile.path()).await);

    let result = pages(&mut owner, &mut visitor, &server, &clock).await;
    let _ = owner.browser.clone().close().await;
    let _ = visitor.browser.clone().close().await;
    let shots = owner.shots.len() + visitor.shots.len();
    result.unwrap_or_else(|e| {
        panic!(
            "{e}\n(screenshots so far in {})\n--- server log ---\n{}",
            crate::common::look::screenshot_dir().display(),
            server.logs()
        )
    });
    eprintln!(
        "{shots} screenshots in {}",
        crate::common::look::screenshot_dir().display()
    );
}

async fn pages(
    owner: &mut Looker,
    visitor: &mut Looker,
    server: &Server,
    clock: &Path,
) -> Result<(), String> {
    let files = tempfile::tempdir().map_err(|e| e.to_string())?;

    // Sign-up, and the recovery key shown once. First, on this page, proof
    // that axe-core runs and would see a nameless button.
    open(&owner.browser, server, "/register").await?;
    owner.axe_sees_a_nameless_button().await?;
    owner.look("register", None).await?;
    fill(&owner.browser, "username", "olivia").await?;
    fill(&owner.browser, "password", PASSWORD).await?;
    fill(&owner.browser, "password2", PASSWORD).await?;
    click(&owner.browser, "register").await?;
    registered(owner, "the recovery key").await?;
    owner.look("register-recovery-key", None).await?;
    click(&owner.browser, "recovery-saved").await?;
    click(&owner.browser, "recovery-continue").await?;
    wait_for(&owner.browser, Locator::Id("empty"), "the empty dashboard").await?;
    owner.look("dashboard-empty", None).await?;

    // The administrator invites from the page; the link fills in the code.
    let invite_link = invites(owner, server).await?;

    // Files, one of them with a long unicode name.
    let names = [LONG_NAME, "notes.txt", "holiday photo.jpg"];
    let mut paths = Vec::new();
    for (i, name) in names.iter().enumerate() {
        let path = files.path().join(name);
        std::fs::write(&path, vec![b'x'; 1000 + i * 150_000]).map_err(|e| e.to_string())?;
        paths.push(path);
    }
    pick(owner, &paths).await?;
    transfers_done(&owner.browser, "upload", names.len()).await?;
    click(&owner.browser, "clear-finished").await?;
    until(
        &owner.browser,
        "return document.querySelectorAll('tr.file-row').length === 3 || null",
        TRANSFER_LIMIT,
        "three files listed",
    )
    .await?;
    owner.look("dashboard-files", Some(FILE_TABLE)).await?;

    // A transfer under way: paused once it has moved some bytes, so the
    // screenshot holds still; then cancelled.
    let big = files.path().join("a large video.mkv");
    std::fs::write(&big, vec![7u8; 256 << 20]).map_err(|e| e.to_string())?;
    pick(owner, &[big]).await?;
    until(
        &owner.browser,
        "const t = document.querySelector('#transfers li.transfer[data-state=\"running\"]');
         if (!t) { return document.querySelector('#transfers li.transfer[data-state=\"done\"]') ? 'failed: finished before it could be paused' : null; }
         return t.querySelector('progress').value > 0 || null;",
        TRANSFER_LIMIT,
        "the upload moves",
    )
    .await?;
    click_css(
        &owner.browser,
        "#transfers li.transfer[data-state='running'] .pause",
    )
    .await?;
    wait_for(
        &owner.browser,
        Locator::Css("#transfers li.transfer[data-state='paused']"),
        "paused",
    )
    .await?;
    owner.look("dashboard-transfer", Some(FILE_TABLE)).await?;
    click_css(
        &owner.browser,
        "#transfers li.transfer[data-state='paused'] .cancel",
    )
    .await?;
    wait_for(
        &owner.browser,
        Locator::Css("#transfers li.transfer[data-state='cancelled']"),
        "cancelled",
    )
    .await?;
    click(&owner.browser, "clear-finished").await?;

    let links = share_dialog(owner).await?;
    owner.look("links-panel", None).await?;
    owner
        .script("document.getElementById('links').scrollIntoView()")
        .await?;
    owner.look("links-panel-scrolled", None).await?;

    // Locked after a reload: the password unlocks it.
    owner.browser.refresh().await.map_err(|e| e.to_string())?;
    wait_for(&owner.browser, Locator::Id("unlock-password"), "locked").await?;
    owner.look("dashboard-locked", None).await?;
    fill(&owner.browser, "unlock-password", PASSWORD).await?;
    click(&owner.browser, "unlock").await?;
    wait_for(&owner.browser, Locator::Css("tr.file-row"), "unlocked").await?;

    // The public page, in a browser with no account.
    public_pages(owner, visitor, server, &links, clock).await?;

    // Someone invited: the link fills in the code; no invites page for them.
    invited(visitor, &invite_link).await?;

    // Pages without an account.
    visitor
        .browser
        .delete_all_cookies()
        .await
        .map_err(|e| e.to_string())?;
    for (path, name) in [("/login", "login"), ("/recover", "recover")] {
        open(&visitor.browser, server, path).await?;
        visitor.look(name, None).await?;
    }
    visitor
        .browser
        .goto(&server.url("/no/such/page"))
        .await
        .map_err(|e| e.to_string())?;
    wait_for(&visitor.browser, Locator::Css(".page-message"), "not found").await?;
    visitor.look("not-found", None).await?;
    Ok(())
}

/// Waits for the recovery key after a sign-up; a form error ends it.
async fn registered(looker: &Looker, what: &str) -> Result<(), String> {
    until(
        &looker.browser,
        "if (document.getElementById('recovery-hex')) return true;
         const e = document.getElementById('form-error');
         return e ? 'failed: ' + e.textContent : null;",
        TRANSFER_LIMIT,
        what,
    )
    .await
    .map(drop)
}

async fn pick(looker: &Looker, paths: &[std::path::PathBuf]) -> Result<(), String> {
    let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
    looker
        .browser
        .find(Locator::Css("#file-input"))
        .await
        .map_err(|e| format!("file input: {e}"))?
        .send_keys(&list.join("\n"))
        .await
        .map_err(|e| format!("pick files: {e}"))
}

async fn click_xpath(b: &fantoccini::Client, xpath: &str) -> Result<(), String> {
    b.find(Locator::XPath(xpath))
        .await
        .map_err(|e| format!("{xpath}: {e}"))?
        .click()
        .await
        .map_err(|e| e.to_string())
}

/// Waits for the share dialog to be open with its password field.
async fn dialog_open(b: &fantoccini::Client, what: &str) -> Result<(), String> {
    wait_for(b, Locator::Css("#share-dialog[open] #share-password"), what)
        .await
        .map(drop)
}

/// The invites page: create two, revoke one; returns the other's link.
async fn invites(owner: &mut Looker, server: &Server) -> Result<String, String> {
    let b = owner.browser.clone();
    click(&b, "go-admin").await?;
    wait_for(&b, Locator::Id("no-invites"), "the invites page, empty").await?;
    // This server runs without the mesh: its section says so in one line.
    wait_for(
        &b,
        Locator::Id("mesh-off"),
        "the storage mesh said to be off",
    )
    .await?;
    owner.look("admin-invites-empty", None).await?;
    click(&b, "invite-create").await?;
    wait_for(
        &b,
        Locator::Css("#invites .invite-row"),
        "the pending invite",
    )
    .await?;
    click(&b, "invite-create").await?;
    let link = until(
        &b,
        "const rows = document.querySelectorAll('#invites .invite-row').length;
         const l = document.getElementById('invite-link');
         return rows === 2 && l && l.value ? l.value : null;",
        TRANSFER_LIMIT,
        "the second invite",
    )
    .await?;
    let link = link.as_str().unwrap_or_default().to_owned();
    let code = owner
        .script("return document.getElementById('invite-code').textContent")
        .await?;
    let code = code.as_str().unwrap_or_default();
    if link != server.url(&format!("/register#invite={code}")) || code.len() != 32 {
        return Err(format!(
            "unexpected sign-up link {link:?} for code {code:?}"
        ));
    }
    owner.look("admin-invite-created", None).await?;
    // Revoke the older one (listed last).
    click_css(
        &owner.browser,
        "#invites .invite-row:last-child .invite-revoke",
    )
    .await?;
    until(
        &b,
        "return document.querySelectorAll('#invites .invite-row').length === 1 || null",
        TRANSFER_LIMIT,
        "one invite left after revoking",
    )
    .await?;
    // Back through the page's own link: the keys stay in this tab.
    click(&b, "go-files").await?;
    wait_for(&b, Locator::Id("dropzone"), "back on the dashboard").await?;
    Ok(link)
}

struct Links {
    persistent: String,
    one_time: String,
    expiring: String,
    revoked: String,
}

/// The share dialog: a modal that takes the focus wherever the page is
/// scrolled, closes on Escape and gives the focus back, and opens with the
/// safe defaults every time. Makes the links the public pages need.
async fn share_dialog(owner: &mut Looker) -> Result<Links, String> {
    let b = owner.browser.clone();
    // Scrolled to the bottom, on a short screen: the dialog still shows.
    owner.viewport(1280, 500).await?;
    owner
        .script("window.scrollTo(0, document.body.scrollHeight)")
        .await?;
    let share_long = format!(
        "//tr[contains(@class,'file-row')][.//span[contains(@class,'file-name') and text()='{LONG_NAME}']]//button[contains(@class,'share')]"
    );
    click_xpath(&b, &share_long).await?;
    dialog_open(&b, "the dialog").await?;
    holds(&owner.browser,
        "const a = document.activeElement; return a === document.getElementById('share-password') && a.matches(':focus-visible')",
        "the password field does not have a visible focus",
    )
    .await?;
    owner.look("share-dialog", Some(DIALOG)).await?;

    // Choose a one-time link without a password, then Escape: closed, the
    // focus back on the Share button.
    choose(&owner.browser, "share-mode", "one_time").await?;
    click(&b, "share-password-on").await?;
    wait_for(
        &b,
        Locator::Css("#share-dialog .share-warning"),
        "the no-password warning",
    )
    .await?;
    owner.look("share-dialog-no-password", Some(DIALOG)).await?;
    b.active_element()
        .await
        .map_err(|e| e.to_string())?
        .send_keys(&Key::Escape.to_string())
        .await
        .map_err(|e| e.to_string())?;
    until(
        &b,
        "return !document.getElementById('share-dialog').open || null",
        TRANSFER_LIMIT,
        "Escape closes the dialog",
    )
    .await?;
    holds(&owner.browser,
        "const a = document.activeElement; return !!a && a.classList.contains('share') && a.closest('tr').textContent.includes('final-version')",
        "the focus did not go back to the Share button",
    )
    .await?;
    // Open again: a password and a lasting link, not the last choices.
    b.active_element()
        .await
        .map_err(|e| e.to_string())?
        .click()
        .await
        .map_err(|e| e.to_string())?;
    dialog_open(&b, "reopened").await?;
    holds(&owner.browser,
        "return document.getElementById('share-password-on').checked && document.getElementById('share-mode').value === 'persistent'",
        "the dialog reopened with the previous link's choices, not the safe defaults",
    )
    .await?;
    let persistent = create(owner, "persistent").await?;
    owner.look("share-dialog-link", Some(DIALOG)).await?;
    click(&b, "share-close").await?;

    let mut made = Vec::new();
    for mode in ["one_time", "expiring", "persistent"] {
        click_xpath(&b, &share_long).await?;
        dialog_open(&b, "the dialog").await?;
        if mode == "expiring" {
            choose(&owner.browser, "share-mode", "expiring").await?;
            wait_for(&b, Locator::Id("share-expiry"), "the expiry choice").await?;
            owner.look("share-dialog-expiring", Some(DIALOG)).await?;
        }
        made.push(create(owner, mode).await?);
        click(&b, "share-close").await?;
    }
    owner.script("window.scrollTo(0, 0)").await?;
    let [one_time, expiring, revoked] = <[String; 3]>::try_from(made).map_err(|_| "links")?;
    // Revoke the last one in the panel.
    let id = revoked
        .split("/s/")
        .nth(1)
        .and_then(|r| r.split('#').next())
        .unwrap_or_default();
    wait_for(
        &b,
        Locator::Css(&format!("#links .link-row[data-id='{id}'] .link-revoke")),
        "the link in the panel",
    )
    .await?
    .click()
    .await
    .map_err(|e| e.to_string())?;
    wait_for(
        &b,
        Locator::Css(&format!(
            "#links .link-row[data-id='{id}'][data-state='revoked']"
        )),
        "revoked in the panel",
    )
    .await?;
    Ok(Links {
        persistent,
        one_time,
        expiring,
        revoked,
    })
}

/// Fills the open dialog for `mode` with the link password and creates it;
/// returns the link.
async fn create(owner: &Looker, mode: &str) -> Result<String, String> {
    let b = &owner.browser;
    fill(b, "share-password", LINK_PASSWORD).await?;
    choose(&owner.browser, "share-mode", mode).await?;
    if mode == "expiring" {
        choose(&owner.browser, "share-expiry", "86400").await?;
    }
    click(b, "share-create").await?;
    let url = until(
        b,
        "const e = document.getElementById('share-url'); return e && e.value ? e.value : null;",
        TRANSFER_LIMIT,
        "the link is shown",
    )
    .await?;
    Ok(url.as_str().unwrap_or_default().to_owned())
}

/// The page a link opens, in each state.
async fn public_pages(
    owner: &mut Looker,
    visitor: &mut Looker,
    server: &Server,
    links: &Links,
    clock: &Path,
) -> Result<(), String> {
    let b = visitor.browser.clone();
    let goto = |url: String| {
        let b = b.clone();
        async move {
            b.goto(&url).await.map_err(|e| e.to_string())?;
            wait_for(&b, Locator::Css("[data-hydrated='true']"), "the share page").await?;
            Ok::<_, String>(())
        }
    };

    // Before the password, a wrong one, then the files.
    goto(links.persistent.clone()).await?;
    wait_for(&b, Locator::Id("share-password"), "the password form").await?;
    visitor.look("share-page-password", None).await?;
    fill(&b, "share-password", "not the password").await?;
    click(&b, "share-unlock").await?;
    wait_for(&b, Locator::Id("share-error"), "the wrong password refused").await?;
    visitor.look("share-page-wrong-password", None).await?;
    fill(&b, "share-password", LINK_PASSWORD).await?;
    click(&b, "share-unlock").await?;
    wait_for(&b, Locator::Id("shared-files"), "the shared file").await?;
    visitor.look("share-page-open", None).await?;

    // One-time: after its download the page says the link is spent.
    goto(links.one_time.clone()).await?;
    wait_for(&b, Locator::Id("share-password"), "the password form").await?;
    fill(&b, "share-password", LINK_PASSWORD).await?;
    click(&b, "share-unlock").await?;
    wait_for(&b, Locator::Css(".share-download"), "the download button").await?;
    save_dialog_to_opfs(&b).await?;
    click_css(&visitor.browser, ".share-download").await?;
    transfers_done(&b, "download", 1).await?;
    wait_for(&b, Locator::Id("share-spent"), "the link said to be spent").await?;
    holds(&visitor.browser,
        "const d = document.querySelector('.share-download'); return d.disabled && d.textContent === 'Link used'",
        "the spent one-time link still offers a download",
    )
    .await?;
    visitor.look("share-page-spent", None).await?;
    b.refresh().await.map_err(|e| e.to_string())?;
    refused(visitor, "used").await?;
    visitor.look("share-page-used", None).await?;

    goto(links.revoked.clone()).await?;
    refused(visitor, "revoked").await?;
    visitor.look("share-page-revoked", None).await?;

    // Two days on by the server's clock: the one-day link has expired.
    std::fs::write(clock, (2 * 86_400).to_string()).map_err(|e| e.to_string())?;
    goto(links.expiring.clone()).await?;
    refused(visitor, "expired").await?;
    visitor.look("share-page-expired", None).await?;

    let incomplete = links
        .persistent
        .split('#')
        .next()
        .unwrap_or_default()
        .to_owned();
    goto(incomplete).await?;
    refused(visitor, "incomplete").await?;
    visitor.look("share-page-incomplete", None).await?;

    // The owner's panel shows each state.
    open(&owner.browser, server, "/").await?;
    wait_for(&owner.browser, Locator::Id("unlock-password"), "locked").await?;
    fill(&owner.browser, "unlock-password", PASSWORD).await?;
    click(&owner.browser, "unlock").await?;
    wait_for(
        &owner.browser,
        Locator::Css("#links .link-row[data-state='expired']"),
        "the panel with every state",
    )
    .await?;
    owner
        .script("document.getElementById('links').scrollIntoView()")
        .await?;
    owner.look("links-panel-states", None).await?;
    Ok(())
}

async fn refused(visitor: &Looker, code: &str) -> Result<(), String> {
    let got = until(
        &visitor.browser,
        "const e = document.getElementById('share-state'); return e ? e.dataset.code : null;",
        TRANSFER_LIMIT,
        "the link is refused",
    )
    .await?;
    if got.as_str() == Some(code) {
        Ok(())
    } else {
        Err(format!("expected {code}, the page says {got}"))
    }
}

/// Signs up through the administrator's link: the code is filled in; the
/// new account is no administrator and sees no invites page.
async fn invited(visitor: &mut Looker, link: &str) -> Result<(), String> {
    let b = visitor.browser.clone();
    b.goto(link).await.map_err(|e| e.to_string())?;
    wait_for(
        &b,
        Locator::Css("[data-hydrated='true']"),
        "the sign-up page",
    )
    .await?;
    let code = link.split("#invite=").nth(1).unwrap_or_default();
    until(
        &b,
        &format!("return document.getElementById('invite').value === '{code}' || null"),
        TRANSFER_LIMIT,
        "the invite code filled in from the link",
    )
    .await?;
    visitor.look("register-invited", None).await?;
    fill(&b, "username", "bob").await?;
    fill(&b, "password", BOB_PASSWORD).await?;
    fill(&b, "password2", BOB_PASSWORD).await?;
    click(&b, "register").await?;
    registered(visitor, "bob's recovery key").await?;
    click(&b, "recovery-saved").await?;
    click(&b, "recovery-continue").await?;
    wait_for(&b, Locator::Id("dropzone"), "bob's dashboard").await?;
    holds(
        &visitor.browser,
        "return document.getElementById('go-admin') === null",
        "a non-administrator is offered the invites page",
    )
    .await?;
    let admin = link.replace(&format!("/register#invite={code}"), "/admin");
    b.goto(&admin).await.map_err(|e| e.to_string())?;
    wait_for(&b, Locator::Id("admin-refused"), "the invites page refused").await?;
    holds(
        &visitor.browser,
        "return document.getElementById('invite-create') === null",
        "a non-administrator can create invites in the page",
    )
    .await?;
    visitor.look("admin-refused", None).await?;
    Ok(())
}
