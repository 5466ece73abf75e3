//! Accounts against the real binary: registration policy, login, sessions,
//! recovery, password change, rate limits, and what the server keeps.

use crate::common::{
    Server, binary,
    client::{Client, assert_absent, encrypt},
};
use noctis::format::CipherId;
use reqwest::Method;
use serde_json::{Value, json};

async fn server(dir: &std::path::Path, envs: &[(&str, &str)]) -> Server {
    Server::start(&binary(), dir, envs).await
}

#[tokio::test]
async fn the_first_account_is_admin_and_later_ones_need_an_invite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut admin = Client::new(&s.base, "Admin");
    let r = admin.register("admin password", None).await;
    assert_eq!(r.status(), 201);
    let body: Value = r.json().await.expect("json");
    assert_eq!(body, json!({"username": "admin", "is_admin": true}));

    let mut bob = Client::new(&s.base, "bob");
    let r = bob.register("bob password", None).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "invite_required"
    );
    let r = bob
        .register("bob password", Some("00000000000000000000000000000000"))
        .await;
    assert_eq!(r.status(), 403, "a made-up invite is refused");

    assert_eq!(admin.login("admin password").await, 200);
    let invite: Value = admin
        .req(Method::POST, "/api/invites")
        .send()
        .await
        .expect("invite")
        .json()
        .await
        .expect("json");
    let code = invite["code"].as_str().expect("code").to_owned();
    let r = bob.register("bob password", Some(&code)).await;
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.expect("json")["is_admin"], false);
    let mut carol = Client::new(&s.base, "carol");
    assert_eq!(
        carol.register("pw", Some(&code)).await.status(),
        403,
        "invites are single-use"
    );

    assert_eq!(bob.login("bob password").await, 200);
    let r = bob
        .req(Method::POST, "/api/invites")
        .send()
        .await
        .expect("invite");
    assert_eq!(r.status(), 403, "only admins invite");
}

#[tokio::test]
async fn an_administrator_lists_and_revokes_pending_invites() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut admin = Client::new(&s.base, "admin");
    assert_eq!(admin.register("admin password", None).await.status(), 201);
    assert_eq!(admin.login("admin password").await, 200);
    let mut codes = Vec::new();
    for _ in 0..3 {
        let r = admin
            .req(Method::POST, "/api/invites")
            .send()
            .await
            .expect("invite");
        assert_eq!(r.status(), 201);
        let v: Value = r.json().await.expect("json");
        codes.push(v["code"].as_str().expect("code").to_owned());
    }
    let list = |admin: &Client| {
        let r = admin.req(Method::GET, "/api/invites").send();
        async move {
            let r = r.await.expect("list");
            assert_eq!(r.status(), 200);
            r.json::<Vec<Value>>().await.expect("json")
        }
    };
    let pending = list(&admin).await;
    assert_eq!(pending.len(), 3);
    for p in &pending {
        let id = p["id"].as_str().expect("id");
        assert_eq!(id.len(), 64);
        assert!(
            codes.iter().all(|c| !id.contains(c.as_str())),
            "the list shows a code"
        );
        assert!(p["expires_at"].as_i64() > p["created_at"].as_i64());
    }

    // One used: it leaves the list.
    let mut bob = Client::new(&s.base, "bob");
    assert_eq!(
        bob.register("bob password", Some(&codes[0])).await.status(),
        201
    );
    let pending = list(&admin).await;
    assert_eq!(pending.len(), 2);

    // Revoke each: its code stops working; a second revoke is a 404.
    for p in &pending {
        let id = p["id"].as_str().expect("id");
        let r = admin
            .req(Method::DELETE, &format!("/api/invites/{id}"))
            .send()
            .await
            .expect("revoke");
        assert_eq!(r.status(), 204);
        let r = admin
            .req(Method::DELETE, &format!("/api/invites/{id}"))
            .send()
            .await
            .expect("revoke again");
        assert_eq!(r.status(), 404);
    }
    assert!(list(&admin).await.is_empty());
    let mut carol = Client::new(&s.base, "carol");
    for code in &codes[1..] {
        assert_eq!(
            carol.register("carol password", Some(code)).await.status(),
            403,
            "a revoked invite still works"
        );
    }
    for bad in ["nothex", "00"] {
        let r = admin
            .req(Method::DELETE, &format!("/api/invites/{bad}"))
            .send()
            .await
            .expect("revoke");
        assert_eq!(r.status(), 404, "{bad}");
    }

    // Not an administrator: neither list nor revoke.
    assert_eq!(bob.login("bob password").await, 200);
    let r = bob
        .req(Method::GET, "/api/invites")
        .send()
        .await
        .expect("list");
    assert_eq!(r.status(), 403);
    let r = bob
        .req(Method::DELETE, &format!("/api/invites/{}", "0".repeat(64)))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 403);
}

#[tokio::test]
async fn open_and_closed_registration() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[("NOCTURNE_REGISTRATION", "open")]).await;
    assert_eq!(
        Client::new(&s.base, "a")
            .register("pw", None)
            .await
            .status(),
        201
    );
    assert_eq!(
        Client::new(&s.base, "b")
            .register("pw", None)
            .await
            .status(),
        201
    );
    let r = Client::new(&s.base, "A").register("pw", None).await;
    assert_eq!(r.status(), 409, "usernames are case-insensitive");
    drop(s);

    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[("NOCTURNE_REGISTRATION", "closed")]).await;
    assert_eq!(
        Client::new(&s.base, "a")
            .register("pw", None)
            .await
            .status(),
        201,
        "first"
    );
    let r = Client::new(&s.base, "b").register("pw", None).await;
    assert_eq!(r.status(), 403);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "registration_closed"
    );
}

#[tokio::test]
async fn wrong_passwords_and_unknown_users_look_the_same() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut alice = Client::new(&s.base, "alice");
    assert_eq!(alice.register("right", None).await.status(), 201);
    assert_eq!(alice.login("wrong").await, 401);
    let mut ghost = Client::new(&s.base, "ghost");
    assert_eq!(ghost.login("anything").await, 401);

    // An unknown user's parameters are stable and shaped like a real one's.
    let (salt1, p1) = ghost.params().await;
    let (salt2, _) = ghost.params().await;
    let (real_salt, p2) = alice.params().await;
    assert_eq!(salt1, salt2);
    assert_eq!(salt1.len(), real_salt.len());
    assert_eq!(p1.m_kib, noctis::keys::DEFAULT_ARGON2.m_kib);
    assert_ne!(p2, p1, "alice's stored (test) parameters are returned");

    assert_eq!(alice.login("right").await, 200);
    let me: Value = alice
        .req(Method::GET, "/api/account")
        .send()
        .await
        .expect("account")
        .json()
        .await
        .expect("json");
    assert_eq!(me["username"], "alice");
}

#[tokio::test]
async fn logout_and_password_change_end_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register("one", None).await.status(), 201);
    assert_eq!(a.login("one").await, 200);
    let first = a.token.clone();
    assert_eq!(a.login("one").await, 200);
    let second = a.token.clone();

    // Logout ends only that session.
    let r = a
        .req(Method::POST, "/api/auth/logout")
        .send()
        .await
        .expect("logout");
    assert_eq!(r.status(), 204);
    let r = a
        .req(Method::GET, "/api/account")
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), 401);
    a.token = first.clone();
    let r = a
        .req(Method::GET, "/api/account")
        .send()
        .await
        .expect("account");
    assert_eq!(r.status(), 200);

    // Changing the password ends every session, and the old one stops working.
    let master = a.master();
    let current = a.password_keys("one").await;
    let r = a
        .req(Method::POST, "/api/account/password")
        .json(&json!({
            "auth_key": crate::common::client::b64(&current.auth),
            "new": crate::common::client::password_material("two", &master),
        }))
        .send()
        .await
        .expect("change");
    assert_eq!(r.status(), 204);
    for token in [first, second] {
        a.token = token;
        let r = a
            .req(Method::GET, "/api/account")
            .send()
            .await
            .expect("account");
        assert_eq!(r.status(), 401);
    }
    assert_eq!(a.login("one").await, 401);
    assert_eq!(a.login("two").await, 200);
    assert_eq!(
        a.master(),
        master,
        "the same master key, so every file stays readable"
    );
}

#[tokio::test]
async fn browser_sessions_are_http_only_strict_cookies() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register("pw", None).await.status(), 201);
    let keys = a.password_keys("pw").await;
    let r = a
        .http
        .post(a.url("/api/auth/login"))
        .json(&json!({"username": "alice", "auth_key": crate::common::client::b64(&keys.auth)}))
        .send()
        .await
        .expect("login");
    assert_eq!(r.status(), 200);
    let cookie = r.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let body: Value = r.json().await.expect("json");
    assert!(
        body.get("token").is_none(),
        "no token in the body for the browser"
    );
    let pair = cookie.split(';').next().expect("pair").to_owned();
    let ok = a
        .http
        .get(a.url("/api/account"))
        .header("cookie", &pair)
        .send()
        .await
        .expect("account");
    assert_eq!(ok.status(), 200);
    let cross = a
        .http
        .post(a.url("/api/invites"))
        .header("cookie", &pair)
        .header("sec-fetch-site", "cross-site")
        .send()
        .await
        .expect("invite");
    assert_eq!(
        cross.status(),
        403,
        "a cross-site change with the cookie is refused"
    );
}

#[tokio::test]
async fn recovery_resets_the_password_and_every_file_still_decrypts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register("forgotten", None).await.status(), 201);
    let recovery = a.recovery.expect("recovery key");
    assert_eq!(a.login("forgotten").await, 200);
    let files = [
        encrypt("one.txt", b"first file", CipherId::Aes256Gcm),
        encrypt("two.bin", &vec![9u8; 3 << 20], CipherId::Noctis256),
    ];
    for f in &files {
        a.upload(f, 1 << 20).await;
    }
    let stale = a.token.clone();

    // A wrong recovery key is refused and changes nothing.
    assert_eq!(a.recover(&[0u8; 32], "new").await, 401);
    assert_eq!(a.recover(&recovery, "brand new").await, 204);
    a.token = stale;
    let r = a.req(Method::GET, "/api/files").send().await.expect("list");
    assert_eq!(r.status(), 401, "the reset ended old sessions");
    assert_eq!(a.login("forgotten").await, 401);
    a.master = None;
    assert_eq!(a.login("brand new").await, 200);
    let list = a.list().await;
    let listed = list["files"].as_array().expect("files");
    assert_eq!(listed.len(), 2);
    for file in listed {
        let (name, plain) = a.open(file).await;
        let original = files.iter().find(|f| f.name == name).expect("known name");
        assert_eq!(
            plain,
            crate::common::client::decrypt(&original.data_key, &original.ciphertext)
                .expect("plain")
        );
    }
    // The recovery key still works a second time (it is not consumed).
    assert_eq!(a.recover(&recovery, "third").await, 204);
}

/// A reqwest client whose requests say they come from `addr` (the server
/// under test trusts `X-Forwarded-For`).
fn from_address(addr: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("x-forwarded-for", addr.parse().expect("a header value"));
    reqwest::Client::builder()
        .no_proxy()
        .default_headers(headers)
        .build()
        .expect("http client")
}

/// Wrong passwords slow the client that sends them, from the fourth on,
/// and nobody else: the owner, from another address, logs in at once while
/// the account is being hammered. (An account-wide bucket drained by every
/// attempt once let anyone who knew a username lock its owner out.)
#[tokio::test]
async fn guessing_slows_the_guesser_and_never_locks_the_owner_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(
        dir.path(),
        &[
            ("NOCTURNE_TRUST_PROXY", "true"),
            ("NOCTURNE_REGISTRATION", "open"),
        ],
    )
    .await;
    let mut owner = Client::new(&s.base, "alice");
    owner.http = from_address("198.51.100.7");
    assert_eq!(owner.register("pw", None).await.status(), 201);
    let attacker = from_address("203.0.113.66");
    let mut statuses = Vec::new();
    // (Ten, within its per-client allowance of 20 at once.)
    for _ in 0..10 {
        let r = attacker
            .post(s.url("/api/auth/login"))
            .json(&json!({"username": "alice", "auth_key": crate::common::client::b64(&[0u8; 32])}))
            .send()
            .await
            .expect("login");
        if r.status() == 429 {
            assert!(r.headers().contains_key("retry-after"));
        }
        statuses.push(r.status().as_u16());
    }
    assert_eq!(&statuses[..4], [401, 401, 401, 429], "{statuses:?}");
    assert!(statuses[4..].iter().all(|s| *s == 429), "{statuses:?}");
    // The owner is not slowed by any of it.
    assert_eq!(owner.login("pw").await, 200);
    // Its slowing is for this account: another account is tried as usual.
    let mut bob = Client::new(&s.base, "bob");
    bob.http = from_address("198.51.100.8");
    assert_eq!(bob.register("pw2", None).await.status(), 201);
    let other = attacker
        .post(s.url("/api/auth/login"))
        .json(&json!({"username": "bob", "auth_key": crate::common::client::b64(&[0u8; 32])}))
        .send()
        .await
        .expect("login");
    assert_eq!(other.status(), 401);
}

/// Path parameters that are not UTF-8 once percent-decoded get the API's
/// JSON 400, like every other error (they once got axum's plain text).
#[tokio::test]
async fn paths_that_are_not_utf8_get_json_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register("pw", None).await.status(), 201);
    assert_eq!(a.login("pw").await, 200);
    for (method, path) in [
        (Method::GET, "/api/s/%FF"),
        (Method::POST, "/api/s/%FF/open"),
        (Method::GET, "/api/files/%FF%FE"),
        (Method::DELETE, "/api/files/%FF%FE"),
        (Method::PUT, "/api/uploads/abc/parts/%FF"),
        (Method::DELETE, "/api/shares/%C3%28"),
    ] {
        let r = a
            .req(method.clone(), path)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("send");
        let status = r.status();
        let body: Value = r
            .json()
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: {status} is not JSON: {e}"));
        assert_eq!(status, 400, "{method} {path}: {body}");
        assert_eq!(body["error"], "invalid_path", "{method} {path}: {body}");
    }
}

#[tokio::test]
async fn malformed_requests_get_clear_4xx() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let cases = [
        ("/api/auth/register", "not json".to_owned()),
        ("/api/auth/register", json!({"username": "x"}).to_string()),
        (
            "/api/auth/register",
            json!({"username": "../etc", "salt": "AA==", "argon2": {"m_kib": 1, "t": 1, "p": 1},
                   "auth_key": "AA==", "master_by_password": "AA==", "master_by_recovery": "AA==",
                   "recovery_auth": "AA=="})
            .to_string(),
        ),
        (
            "/api/auth/login",
            json!({"username": "a", "auth_key": "!!"}).to_string(),
        ),
        ("/api/auth/login", "x".repeat(100_000)),
        ("/api/auth/params", json!({"username": 42}).to_string()),
    ];
    for (path, body) in cases {
        let r = http
            .post(s.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("send");
        assert!(r.status().is_client_error(), "{path}: {}", r.status());
        let body: Value = r.json().await.expect("API errors are JSON");
        assert!(
            body["error"].is_string() && body["message"].is_string(),
            "{body}"
        );
    }
    // Weak Argon2 parameters are refused by name.
    let mut a = Client::new(&s.base, "a");
    let master = [1u8; 32];
    let mut body = crate::common::client::password_material("pw", &master);
    body["argon2"] = json!({"m_kib": 1024, "t": 1, "p": 1});
    body["username"] = json!("a");
    body["master_by_recovery"] = body["master_by_password"].clone();
    body["recovery_auth"] = body["auth_key"].clone();
    let r = a
        .http
        .post(a.url("/api/auth/register"))
        .json(&body)
        .send()
        .await
        .expect("send");
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.json::<Value>().await.expect("json")["error"],
        "weak_argon2"
    );
    assert_eq!(
        a.register("pw", None).await.status(),
        201,
        "nothing was stored before"
    );
}

#[tokio::test]
async fn the_data_dir_holds_no_password_key_name_or_plaintext() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = server(dir.path(), &[("RUST_LOG", "trace")]).await;
    let password = "PASSWORD-MARKER-correct-horse";
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register(password, None).await.status(), 201);
    assert_eq!(a.login(password).await, 200);
    let plaintext = b"PLAINTEXT-MARKER-".repeat(10_000);
    let file = encrypt("NAME-MARKER-holiday.jpg", &plaintext, CipherId::Aes256Gcm);
    a.upload(&file, 256 * 1024).await;
    let recovery = a.recovery.expect("recovery");
    assert_eq!(s.terminate().await.code(), Some(0));
    let master = a.master();
    let logs = s.logs();
    let markers: [&[u8]; 6] = [
        password.as_bytes(),
        b"PLAINTEXT-MARKER",
        b"NAME-MARKER",
        &master,
        &recovery,
        &file.data_key,
    ];
    assert_absent(&dir.path().join("data"), &markers);
    for m in &markers[..3] {
        assert!(
            !logs.contains(&*String::from_utf8_lossy(m)),
            "the logs hold a marker"
        );
    }
}

#[tokio::test]
async fn forwarded_addresses_count_only_behind_a_declared_proxy() {
    async fn registrations(trust: bool) -> Vec<u16> {
        registrations_through(trust, "1", |i| format!("203.0.113.9, 198.51.100.{i}")).await
    }
    async fn registrations_through(
        trust: bool,
        proxies: &str,
        header: impl Fn(u8) -> String,
    ) -> Vec<u16> {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut envs = vec![
            ("NOCTURNE_REGISTRATION", "open"),
            ("NOCTURNE_TRUSTED_PROXIES", proxies),
        ];
        if trust {
            envs.push(("NOCTURNE_TRUST_PROXY", "true"));
        }
        let s = server(dir.path(), &envs).await;
        let http = reqwest::Client::builder()
            .no_proxy()
            .build()
            .expect("client");
        let mut statuses = Vec::new();
        for i in 0..6 {
            let master = [3u8; 32];
            let mut body = crate::common::client::password_material("pw", &master);
            body["username"] = json!(format!("user{i}"));
            body["master_by_recovery"] = body["master_by_password"].clone();
            body["recovery_auth"] = body["auth_key"].clone();
            let r = http
                .post(s.url("/api/auth/register"))
                // A client-supplied entry first, then the one "the proxy" appended.
                .header("x-forwarded-for", header(i))
                .json(&body)
                .send()
                .await
                .expect("register");
            statuses.push(r.status().as_u16());
        }
        statuses
    }
    // Five registrations per client: the sixth from one address is refused.
    assert_eq!(registrations(false).await, [201, 201, 201, 201, 201, 429]);
    // Behind a proxy, each forwarded address is its own client.
    assert_eq!(registrations(true).await, [201; 6]);
    // Also when the proxy writes a port, or brackets an IPv6 address.
    let with_port = |i: u8| format!("203.0.113.9, 198.51.100.{i}:443");
    assert_eq!(registrations_through(true, "1", with_port).await, [201; 6]);
    let bracketed = |i: u8| format!("203.0.113.9, [2001:db8:{i}::1]:443");
    assert_eq!(registrations_through(true, "1", bracketed).await, [201; 6]);
    // Behind two proxies the client is the second entry from the right;
    // counting only one would make every client the inner proxy.
    let two = |i: u8| format!("203.0.113.9, 198.51.100.{i}, 192.0.2.1");
    assert_eq!(registrations_through(true, "2", two).await, [201; 6]);
    assert_eq!(
        registrations_through(true, "1", two).await,
        [201, 201, 201, 201, 201, 429]
    );
}

#[tokio::test]
async fn deleting_an_account_removes_its_files_and_sessions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = server(dir.path(), &[]).await;
    let mut a = Client::new(&s.base, "alice");
    assert_eq!(a.register("pw", None).await.status(), 201);
    assert_eq!(a.login("pw").await, 200);
    a.upload(
        &encrypt("doomed.txt", b"bye", CipherId::Aes256Gcm),
        256 * 1024,
    )
    .await;
    let blobs = || crate::common::client::files_under(&dir.path().join("data/blobs")).len();
    assert_eq!(blobs(), 1);
    let wrong = a
        .req(Method::DELETE, "/api/account")
        .json(&json!({"auth_key": crate::common::client::b64(&[0u8; 32])}))
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong.status(), 401, "deletion needs the password");
    assert_eq!(blobs(), 1);
    let keys = a.password_keys("pw").await;
    let r = a
        .req(Method::DELETE, "/api/account")
        .json(&json!({"auth_key": crate::common::client::b64(&keys.auth)}))
        .send()
        .await
        .expect("delete");
    assert_eq!(r.status(), 204);
    assert_eq!(blobs(), 0, "the ciphertext is gone from disk");
    let r = a.req(Method::GET, "/api/files").send().await.expect("list");
    assert_eq!(r.status(), 401, "the session ended with the account");
    assert_eq!(a.login("pw").await, 401);
}
