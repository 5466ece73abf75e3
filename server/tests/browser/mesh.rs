//! The dashboard with the storage mesh on: a file uploaded in the browser
//! goes to six nodes, the server drops its local copy (`offload`), the table
//! shows the file's mesh health, and the browser downloads and decrypts it
//! byte-exact, rebuilt from the nodes, with two of them killed; the
//! administrator's page lists the nodes. Both pages are looked at (layout
//! checks, screenshots, axe-core) at both widths.

use std::time::Duration;

use fantoccini::Locator;

use super::dashboard::{
    PASSWORD, downloaded, log_in, no_save_dialog, pattern, pick, reload_and_unlock, row_click,
    sample, session,
};
use super::look::FILE_TABLE;
use crate::common::{
    browser::{click, fill, open, transfers_done, until, wait_for},
    client,
    look::Looker,
    mesh::{ADMIN_PASSWORD, Mesh, health, wait_until},
    release_binary,
};

const PLACE: Duration = Duration::from_secs(180);

#[tokio::test]
async fn a_dashboard_upload_downloads_from_the_mesh() {
    // Browser tests are about the shipped binary (the mesh helpers start it
    // through `common::binary()`, which is this one when it is set).
    let _ = release_binary();
    let mut m = Mesh::start(&["200MiB"; 8], &[("NOCTURNE_REGISTRATION", "open")]).await;
    let mut native = client::Client::new(m.server.base(), "dana");
    assert_eq!(native.register(PASSWORD, None).await.status(), 201);
    assert_eq!(native.login(PASSWORD).await, 200);
    let s = session().await;
    let result = async {
        let browser = &s.browser;
        let files = tempfile::tempdir().map_err(|e| e.to_string())?;
        let original = sample(files.path(), "meshed photo.bin", pattern((3 << 20) + 11, 9));
        log_in(browser, &m.server.server, "dana").await?;
        pick(browser, "#file-input", &[original.path.as_path()]).await?;
        transfers_done(browser, "upload", 1).await?;

        let list = native.list().await;
        let id = list["files"][0]["id"]
            .as_str()
            .ok_or("no file listed")?
            .to_owned();
        wait_until(
            "the upload is on six nodes and off the server",
            PLACE,
            async || match health(&native, &id).await? {
                Some(h) if h.healthy == 6 && h.total == 6 && !h.local => Ok(()),
                other => Err(format!("{other:?}")),
            },
        )
        .await;
        if m.server.blob_path(&id).exists() {
            return Err("the local blob is still there after offload".into());
        }

        // The table says where the file is.
        reload_and_unlock(browser).await?;
        until(
            browser,
            "const b = document.querySelector('tr.file-row .mesh-health'); \
             return b && b.textContent.includes('6/6') ? b.textContent : null",
            PLACE,
            "the mesh health badge shows 6/6",
        )
        .await?;
        let mut looker = Looker::new(browser.clone());
        looker.look("mesh-dashboard", Some(FILE_TABLE)).await?;
        looker.viewport(1280, 800).await?;

        // Two nodes holding fragments die; the browser still gets every byte.
        let holders = m.holders().await;
        for &i in &holders[..2] {
            m.nodes[i].kill().await;
        }
        no_save_dialog(browser).await?;
        row_click(browser, &original.name, "download").await?;
        let got = downloaded(s.downloads.path(), &original.name, original.bytes.len()).await?;
        if got != original.bytes {
            return Err("the file downloaded from the mesh differs from the original".into());
        }
        browser
            .find(Locator::Css("tr.file-row"))
            .await
            .map_err(|e| format!("the row after the download: {e}"))?;

        // The administrator's page lists the nodes, the two dead ones too.
        let a = session().await;
        let seen = async {
            let b = &a.browser;
            open(b, &m.server.server, "/login").await?;
            fill(b, "username", "admin").await?;
            fill(b, "password", ADMIN_PASSWORD).await?;
            click(b, "login").await?;
            wait_for(b, Locator::Id("dropzone"), "the administrator's dashboard").await?;
            click(b, "go-admin").await?;
            until(
                b,
                "const rows = document.querySelectorAll('#mesh-nodes tr.mesh-node');
                 const away = document.querySelectorAll('#mesh-nodes tr.mesh-node[data-state=away]');
                 return rows.length === 8 && away.length === 2 ? rows.length : null",
                PLACE,
                "eight nodes listed, two of them away",
            )
            .await?;
            let mut looker = Looker::new(b.clone());
            looker.look("mesh-admin", None).await?;
            // And the node list itself, below the fold.
            looker
                .look(
                    "mesh-admin-nodes",
                    Some("document.getElementById('mesh-nodes').scrollIntoView(); return null;"),
                )
                .await
        }
        .await;
        let _ = a.browser.close().await;
        seen?;
        Ok::<(), String>(())
    }
    .await;
    let _ = s.browser.close().await;
    result.unwrap_or_else(|e| panic!("{e}\n--- server log ---\n{}", m.server.logs()));
}
