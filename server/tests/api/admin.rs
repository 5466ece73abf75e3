//! The file list a page at a time, metadata in the quota, and what an
//! administrator does to accounts (usage, quotas, disabling), against the
//! real binary.

use crate::common::{
    Server, binary,
    client::{Client, encrypt},
};
use noctis::format::CipherId;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const PART: u64 = 256 * 1024;

async fn logged_in(s: &Server, name: &str) -> Client {
    let mut c = Client::new(&s.base, name);
    assert_eq!(c.register("pw", None).await.status(), 201);
    assert_eq!(c.login("pw").await, 200);
    c
}

async fn get(c: &Client, path: &str) -> (StatusCode, Value) {
    let r = c.req(Method::GET, path).send().await.expect("get");
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

async fn patch(c: &Client, path: &str, body: Value) -> (StatusCode, Value) {
    let r = c
        .req(Method::PATCH, path)
        .json(&body)
        .send()
        .await
        .expect("patch");
    (r.status(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_file_list_comes_a_page_at_a_time_and_metadata_counts_in_the_quota() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    let a = logged_in(&s, "alice").await;
    let mut uploaded = Vec::new();
    for i in 0..7u8 {
        let f = encrypt(&format!("file {i}"), &[i; 10], CipherId::Aes256Gcm);
        uploaded.push(
            a.upload(&f, PART).await["id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }

    // Pages of 3: 3, 3, 1, each file once, newest first.
    let mut seen = Vec::new();
    let mut after = String::new();
    let mut pages = Vec::new();
    loop {
        let (code, page) = get(&a, &format!("/api/files?limit=3&after={after}")).await;
        assert_eq!(code, 200, "{page}");
        assert_eq!(page["total"], 7);
        let files = page["files"].as_array().expect("files");
        pages.push(files.len());
        let created: Vec<i64> = files
            .iter()
            .map(|f| f["created_at"].as_i64().expect("t"))
            .collect();
        assert!(
            created.windows(2).all(|w| w[0] >= w[1]),
            "newest first: {created:?}"
        );
        seen.extend(
            files
                .iter()
                .map(|f| f["id"].as_str().expect("id").to_owned()),
        );
        match page["next"].as_str() {
            Some(next) => after = next.to_owned(),
            None => break,
        }
    }
    assert_eq!(pages, vec![3, 3, 1]);
    let mut sorted = seen.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 7, "every file exactly once: {seen:?}");
    uploaded.sort();
    assert_eq!(sorted, uploaded);

    // The default page holds all seven; a huge limit is capped, not refused.
    let (_, all) = get(&a, "/api/files").await;
    assert_eq!(all["files"].as_array().expect("files").len(), 7);
    assert!(all["next"].is_null());
    let (code, _) = get(&a, "/api/files?limit=1000000").await;
    assert_eq!(code, 200);
    for bad in [
        "/api/files?after=nonsense",
        "/api/files?after=1.zz",
        "/api/files?limit=-1",
    ] {
        let (code, body) = get(&a, bad).await;
        assert_eq!(code, 400, "{bad}: {body}");
        assert!(body["error"].is_string(), "{bad}: {body}");
    }

    // `used` counts the sealed metadata beside the ciphertext.
    let ciphertext: u64 = all["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["size"].as_u64().expect("size"))
        .sum();
    let metadata: u64 = all["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| crate::common::client::unb64(&f["metadata"]).len() as u64)
        .sum();
    assert!(metadata > 0);
    assert_eq!(all["used"].as_u64(), Some(ciphertext + metadata));
}

#[tokio::test]
async fn an_administrator_lists_accounts_sets_quotas_and_disables() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(&binary(), dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    let admin = logged_in(&s, "alice").await;
    let mut bob = logged_in(&s, "bob").await;
    let f = encrypt("report.pdf", &[7; 1000], CipherId::Aes256Gcm);
    let file = bob.upload(&f, PART).await;
    let one_file =
        f.ciphertext.len() as u64 + crate::common::client::unb64(&file["metadata"]).len() as u64;

    // Only an administrator sees or changes accounts.
    let (code, body) = get(&bob, "/api/admin/accounts").await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::FORBIDDEN, Some("admin_only"))
    );
    let (code, _) = patch(&bob, "/api/admin/accounts/bob", json!({"quota": 1})).await;
    assert_eq!(code, 403);

    // The list: by name, with files and bytes.
    let (code, page) = get(&admin, "/api/admin/accounts").await;
    assert_eq!(code, 200, "{page}");
    let names: Vec<&str> = page["accounts"]
        .as_array()
        .expect("accounts")
        .iter()
        .map(|a| a["username"].as_str().expect("name"))
        .collect();
    assert_eq!(names, ["alice", "bob"]);
    let b = &page["accounts"][1];
    assert_eq!(
        (b["files"].as_u64(), b["used"].as_u64()),
        (Some(1), Some(one_file))
    );
    assert_eq!(
        (b["is_admin"].as_bool(), b["disabled"].as_bool()),
        (Some(false), Some(false))
    );
    assert!(b["own_quota"].is_null());
    let (_, first) = get(&admin, "/api/admin/accounts?limit=1").await;
    assert_eq!(first["next"], "alice");
    let (_, second) = get(&admin, "/api/admin/accounts?limit=1&after=alice").await;
    assert_eq!(second["accounts"][0]["username"], "bob");
    assert!(second["next"].is_null());

    // A quota of exactly what bob holds: another upload no longer fits,
    // metadata included (ciphertext alone would still fit a 1-byte file…).
    let (code, b) = patch(
        &admin,
        "/api/admin/accounts/bob",
        json!({"quota": one_file}),
    )
    .await;
    assert_eq!(code, 200, "{b}");
    assert_eq!(
        (b["quota"].as_u64(), b["own_quota"].as_u64()),
        (Some(one_file), Some(one_file))
    );
    let (_, details) = get(&bob, "/api/account").await;
    assert_eq!(details["quota"].as_u64(), Some(one_file));
    let r = bob
        .create_upload(&encrypt("more", &[], CipherId::Aes256Gcm), PART)
        .await;
    assert_eq!(r.status(), 413);
    let (code, b) = patch(
        &admin,
        "/api/admin/accounts/bob",
        json!({"clear_quota": true}),
    )
    .await;
    assert_eq!(code, 200);
    assert!(b["own_quota"].is_null());
    assert!(b["quota"].as_u64().expect("quota") > one_file);
    let (code, _) = patch(
        &admin,
        "/api/admin/accounts/bob",
        json!({"clear_quota": true, "quota": 5}),
    )
    .await;
    assert_eq!(code, 400);

    // Disabling ends bob's sessions; his password then gets a 403 that
    // says why, a wrong password the usual 401.
    let (code, b) = patch(&admin, "/api/admin/accounts/bob", json!({"disabled": true})).await;
    assert_eq!(
        (code, b["disabled"].as_bool()),
        (StatusCode::OK, Some(true))
    );
    let (code, _) = get(&bob, "/api/files").await;
    assert_eq!(code, 401, "the disabled account's session ended");
    let token = bob.token.take();
    assert_eq!(bob.login("pw").await, 403);
    assert_eq!(bob.login("wrong").await, 401);
    bob.token = token;
    let (_, page) = get(&admin, "/api/admin/accounts").await;
    assert_eq!(page["accounts"][1]["disabled"], true);
    assert_eq!(
        page["accounts"][1]["files"], 1,
        "a disabled account's files stay"
    );

    // An administrator cannot lock themselves out, nor name nobody.
    let (code, body) = patch(
        &admin,
        "/api/admin/accounts/alice",
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(
        (code, body["error"].as_str()),
        (StatusCode::CONFLICT, Some("own_account"))
    );
    let (code, _) = patch(
        &admin,
        "/api/admin/accounts/nobody",
        json!({"disabled": true}),
    )
    .await;
    assert_eq!(code, 404);
    let (code, _) = patch(&admin, "/api/admin/accounts/%FF", json!({})).await;
    assert_eq!(code, 400);

    // Enabled again, bob logs in and finds his file.
    let (code, _) = patch(
        &admin,
        "/api/admin/accounts/BOB",
        json!({"disabled": false}),
    )
    .await;
    assert_eq!(code, 200);
    assert_eq!(bob.login("pw").await, 200);
    assert_eq!(bob.list().await["files"][0]["id"], file["id"]);
}
