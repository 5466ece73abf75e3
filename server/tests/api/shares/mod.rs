//! Share links against the real binary, with the opener doing in Rust what
//! the share page does in the browser: every mode opened with the wrong then
//! the right password, downloaded and decrypted; expiry by an injected
//! clock; one-time links under concurrency and after a broken connection;
//! guessing slowed, locked and unlocked; password changes; and neither the
//! fragment secret nor the password in the database, files or logs. (The
//! routes' place in the OpenAPI document is checked in `files.rs` with the
//! rest of the API.)

mod downloads;
mod guessing;

use crate::common::{
    Server, binary,
    client::{Client, Encrypted, QUICK, b64, decrypt, encrypt, unb64},
};
use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use noctis::{
    format::CipherId,
    keys::account_keys,
    share::{
        LinkKeys, link_keys, link_proof, link_secret, seal_file_list, unwrap_file_key,
        wrap_file_key,
    },
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

fn random<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut b);
    b
}

fn body(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|n| (n as u8).wrapping_mul(31) ^ seed)
        .collect()
}

/// A server with open registration (on the movable clock, if given) and
/// alice logged in; the data directory lives as long as the first value.
async fn setup(clock: Option<&TestClock>) -> (tempfile::TempDir, Server, Client) {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut env = vec![("NOCTURNE_REGISTRATION", "open")];
    if let Some(clock) = clock {
        env.push(("NOCTURNE_TEST_CLOCK_FILE", clock.path()));
    }
    let s = Server::start(&binary(), dir.path(), &env).await;
    let owner = logged_in(&s, "alice").await;
    (dir, s, owner)
}

async fn logged_in(s: &Server, name: &str) -> Client {
    let mut c = Client::new(&s.base, name);
    assert_eq!(c.register("pw", None).await.status(), 201);
    assert_eq!(c.login("pw").await, 200);
    c
}

struct Link {
    id: String,
    secret: [u8; 32],
}

impl Link {
    fn fragment(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.secret)
    }
}

/// A link's keys and the proof an opener sends beside the token.
struct Keys {
    link: LinkKeys,
    proof: [u8; 32],
}

impl std::ops::Deref for Keys {
    type Target = LinkKeys;
    fn deref(&self) -> &LinkKeys {
        &self.link
    }
}

/// The link keys for `password` under the link's salt, as the owner makes
/// them at creation, with the proof of the secret.
fn keys_for(secret: &[u8; 32], password: Option<&str>, salt: &[u8]) -> Keys {
    let argon = password.map(|p| account_keys(p.as_bytes(), salt, QUICK).expect("argon2"));
    Keys {
        link: link_keys(secret, argon.as_ref(), salt),
        proof: *link_proof(secret),
    }
}

/// 16-byte file ids, as a sealed file list holds them.
fn id_bytes(file: &Value) -> [u8; 16] {
    let hex = file["id"].as_str().expect("id");
    let mut id = [0u8; 16];
    for (i, b) in id.iter_mut().enumerate() {
        *b = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("hex");
    }
    id
}

/// Creates a link for `files` (uploaded by `owner`) as the dashboard does.
async fn share(
    owner: &Client,
    files: &[(&Value, &Encrypted)],
    password: Option<&str>,
    options: Value,
) -> Link {
    let seed = random::<16>();
    let salt = random::<16>();
    let secret = *link_secret(&owner.master(), &seed);
    let keys = keys_for(&secret, password, &salt);
    let mut rng = rand::rng();
    let entries: Vec<Value> = files
        .iter()
        .map(|(file, enc)| {
            json!({
                "file_id": file["id"],
                "wrapped_key": b64(&wrap_file_key(&mut rng, &keys, &enc.data_key)),
            })
        })
        .collect();
    let ids: Vec<[u8; 16]> = files.iter().map(|(f, _)| id_bytes(f)).collect();
    let mut req = json!({
        "files": entries,
        "seed": b64(&seed),
        "salt": b64(&salt),
        "token": b64(&keys.token),
        "proof": b64(&keys.proof),
        "file_list": b64(&seal_file_list(&mut rng, &secret, &ids)),
    });
    if password.is_some() {
        req["argon2"] = json!({"m_kib": QUICK.m_kib, "t": QUICK.t, "p": QUICK.p});
    }
    for (k, v) in options.as_object().expect("options").iter() {
        req[k] = v.clone();
    }
    let r = owner
        .req(Method::POST, "/api/shares")
        .json(&req)
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap_or_default());
    let view: Value = r.json().await.expect("json");
    Link {
        id: view["id"].as_str().expect("id").to_owned(),
        secret,
    }
}

struct Opener {
    http: reqwest::Client,
    base: String,
}

impl Opener {
    fn new(base: &str) -> Opener {
        Opener {
            http: reqwest::Client::new(),
            base: base.to_owned(),
        }
    }

    async fn info(&self, id: &str) -> reqwest::Response {
        self.http
            .get(format!("{}/api/s/{id}", self.base))
            .send()
            .await
            .expect("info")
    }

    /// The link keys an opener derives from the fragment and a password.
    async fn keys(&self, link: &Link, password: Option<&str>) -> Keys {
        let info: Value = self.info(&link.id).await.json().await.expect("json");
        let salt = unb64(&info["salt"]);
        keys_for(
            &link.secret,
            password.filter(|_| info["password"] == true),
            &salt,
        )
    }

    async fn post(&self, id: &str, what: &str, keys: &Keys) -> reqwest::Response {
        self.http
            .post(format!("{}/api/s/{id}/{what}", self.base))
            .json(&json!({"token": b64(&keys.token), "proof": b64(&keys.proof)}))
            .send()
            .await
            .expect("post")
    }

    async fn content(
        &self,
        id: &str,
        index: u64,
        claim: &str,
        range: Option<&str>,
    ) -> reqwest::Response {
        let mut r = self
            .http
            .get(format!("{}/api/s/{id}/files/{index}/content", self.base))
            .bearer_auth(claim);
        if let Some(range) = range {
            r = r.header("range", range);
        }
        r.send().await.expect("content")
    }

    /// Opens the link, claims it and downloads and decrypts every file, as
    /// the share page does. Returns (name, plaintext) per file.
    async fn download_all(&self, link: &Link, password: Option<&str>) -> Vec<(String, Vec<u8>)> {
        let keys = self.keys(link, password).await;
        let r = self.post(&link.id, "open", &keys).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let opened: Value = r.json().await.expect("json");
        let claim = self.claim(link, &keys).await;
        let mut out = Vec::new();
        for file in opened["files"].as_array().expect("files") {
            let key = unwrap_file_key(&keys, &unb64(&file["wrapped_key"])).expect("key unwraps");
            let meta =
                noctis::account::open_metadata(&key, &unb64(&file["metadata"])).expect("metadata");
            let meta: Value = serde_json::from_slice(&meta).expect("json");
            let index = file["index"].as_u64().expect("index");
            let r = self.content(&link.id, index, &claim, None).await;
            assert_eq!(r.status(), 200);
            let bytes = r.bytes().await.expect("body");
            let plain = decrypt(&key, &bytes).expect("decrypts");
            out.push((meta["name"].as_str().expect("name").to_owned(), plain));
        }
        out
    }

    async fn claim(&self, link: &Link, keys: &Keys) -> String {
        let r = self.post(&link.id, "claim", keys).await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        let claim: Value = r.json().await.expect("json");
        claim["claim"].as_str().expect("claim").to_owned()
    }
}

async fn error_of(r: reqwest::Response) -> (StatusCode, String) {
    let status = r.status();
    let url = r.url().clone();
    let v: Value = r
        .json()
        .await
        .unwrap_or_else(|e| panic!("{status} {url}: not a JSON error: {e}"));
    (status, v["error"].as_str().expect("error code").to_owned())
}

/// `GET /api/shares` as `client`.
async fn links_of(client: &Client) -> Value {
    client
        .req(Method::GET, "/api/shares")
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json")
}

async fn owner_view(owner: &Client, id: &str) -> Value {
    links_of(owner).await["shares"]
        .as_array()
        .expect("shares")
        .iter()
        .find(|s| s["id"] == id)
        .cloned()
        .expect("the link is listed")
}

struct TestClock(tempfile::NamedTempFile);

impl TestClock {
    fn new() -> TestClock {
        let f = tempfile::NamedTempFile::new().expect("clock file");
        std::fs::write(f.path(), "0").expect("write");
        TestClock(f)
    }
    fn path(&self) -> &str {
        self.0.path().to_str().expect("utf-8 path")
    }
    fn stop_at(&self, unix: i64) {
        std::fs::write(self.0.path(), format!("={unix}")).expect("write");
    }
    fn advance_to(&self, seconds: i64) {
        std::fs::write(self.0.path(), seconds.to_string()).expect("write");
    }
}

/// A link for one file with a password and nothing but a mode.
async fn link_for(owner: &Client, file: (&Value, &Encrypted), password: &str, mode: &str) -> Link {
    share(owner, &[file], Some(password), json!({ "mode": mode })).await
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

#[tokio::test]
async fn every_mode_opens_with_the_right_password_only() {
    let (_dir, s, owner) = setup(None).await;
    let a = encrypt("plan.txt", &body(3 << 20, 1), CipherId::Aes256Gcm);
    let b = encrypt("photo.raw", &body(1000, 2), CipherId::Noctis256);
    let fa = owner.upload(&a, 1 << 20).await;
    let fb = owner.upload(&b, 1 << 20).await;
    let opener = Opener::new(&s.base);

    let modes = [
        json!({"mode": "persistent"}),
        json!({"mode": "expiring", "expires_at": now() + 3600}),
        json!({"mode": "one_time"}),
        json!({"mode": "persistent", "max_downloads": 2}),
    ];
    for options in modes {
        let link = share(
            &owner,
            &[(&fa, &a), (&fb, &b)],
            Some("tulip moon 7"),
            options.clone(),
        )
        .await;
        let info: Value = opener.info(&link.id).await.json().await.expect("json");
        // Before the password: how to derive keys, nothing about the files.
        assert_eq!(info["password"], true);
        assert!(
            info.get("files").is_none() && info.get("metadata").is_none(),
            "{info}"
        );

        let wrong = opener.keys(&link, Some("tulip moon 8")).await;
        let (status, code) = error_of(opener.post(&link.id, "open", &wrong).await).await;
        assert_eq!(
            (status.as_u16(), code.as_str()),
            (401, "wrong_password"),
            "{options}"
        );
        let (status, _) = error_of(opener.post(&link.id, "claim", &wrong).await).await;
        assert_eq!(status, 401);

        let got = opener.download_all(&link, Some("tulip moon 7")).await;
        assert_eq!(got.len(), 2);
        assert_eq!(got[0], ("plan.txt".to_owned(), body(3 << 20, 1)));
        assert_eq!(got[1], ("photo.raw".to_owned(), body(1000, 2)));
        let view = owner_view(&owner, &link.id).await;
        assert_eq!(view["downloads"], 1, "{view}");
        assert_eq!(
            view["failures"], 0,
            "a right password clears the count: {view}"
        );
        assert_eq!(view["mode"], options["mode"]);
    }

    // No password: the fragment alone opens it.
    let open = share(&owner, &[(&fa, &a)], None, json!({"mode": "persistent"})).await;
    let info: Value = opener.info(&open.id).await.json().await.expect("json");
    assert_eq!(info["password"], false);
    assert_eq!(
        opener.download_all(&open, None).await[0].1,
        body(3 << 20, 1)
    );

    // Without its fragment a link opens nothing: another secret with the
    // right password is answered like an unknown link (its proof is wrong,
    // and it is not counted), and even the wrapped keys a rightful opener
    // received do not unwrap under it.
    let link = link_for(&owner, (&fa, &a), "pw", "persistent").await;
    let guessed = Link {
        id: link.id.clone(),
        secret: random(),
    };
    let keys = opener.keys(&guessed, Some("pw")).await;
    assert_eq!(opener.post(&link.id, "open", &keys).await.status(), 404);
    let right = opener.keys(&link, Some("pw")).await;
    let opened: Value = opener
        .post(&link.id, "open", &right)
        .await
        .json()
        .await
        .expect("json");
    let wrapped = unb64(&opened["files"][0]["wrapped_key"]);
    assert!(unwrap_file_key(&right, &wrapped).is_ok());
    assert!(unwrap_file_key(&keys, &wrapped).is_err());

    // Another account sees none of it; a deleted file leaves the link empty.
    let mallory = logged_in(&s, "mallory").await;
    let r = mallory
        .req(Method::DELETE, &format!("/api/shares/{}", link.id))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 404);
    assert_eq!(links_of(&mallory).await["shares"], json!([]));
    let r = mallory
        .req(Method::POST, "/api/shares")
        .json(
            &json!({"files": [{"file_id": fa["id"], "wrapped_key": b64(&[0; 60])}],
                      "seed": b64(&[0; 16]), "salt": b64(&[0; 16]), "token": b64(&[0; 32]),
                      "proof": b64(&[0; 32]), "file_list": b64(&[0; 44]), "mode": "persistent"}),
        )
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), 404, "sharing another account's file");
}

#[tokio::test]
async fn an_expiring_link_follows_the_clock() {
    let clock = TestClock::new();
    let (_dir, s, owner) = setup(Some(&clock)).await;
    let a = encrypt("a.txt", &body(5000, 3), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let opener = Opener::new(&s.base);
    let link = share(
        &owner,
        &[(&fa, &a)],
        Some("pw"),
        json!({"mode": "expiring", "expires_at": now() + 3600}),
    )
    .await;
    let keys = opener.keys(&link, Some("pw")).await;
    clock.advance_to(3500);
    let claim = opener.claim(&link, &keys).await;
    assert_eq!(opener.post(&link.id, "open", &keys).await.status(), 200);

    clock.advance_to(3601);
    for r in [
        opener.info(&link.id).await,
        opener.post(&link.id, "open", &keys).await,
        opener.post(&link.id, "claim", &keys).await,
        opener.content(&link.id, 0, &claim, None).await,
    ] {
        let (status, code) = error_of(r).await;
        assert_eq!(status, 410);
        assert!(code == "expired", "{code}");
    }
    assert_eq!(owner_view(&owner, &link.id).await["state"], "expired");

    // The owner extends it; it opens again.
    let r = owner
        .req(Method::PATCH, &format!("/api/shares/{}", link.id))
        .json(&json!({"expiry": {"expires_at": now() + 3601 + 86400}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    assert_eq!(
        opener.download_all(&link, Some("pw")).await[0].1,
        body(5000, 3)
    );
    // A date in the past is refused.
    let r = owner
        .req(Method::PATCH, &format!("/api/shares/{}", link.id))
        .json(&json!({"expiry": {"expires_at": now()}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 400);
}

#[tokio::test]
async fn a_new_password_rewraps_in_place_and_revoking_ends_the_link() {
    let (_dir, s, owner) = setup(None).await;
    let a = encrypt("a.txt", &body(777, 7), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let link = link_for(&owner, (&fa, &a), "old", "persistent").await;
    let opener = Opener::new(&s.base);

    // The owner re-derives the secret from the listed seed (the URL stays).
    let view = owner_view(&owner, &link.id).await;
    let secret = *link_secret(&owner.master(), &unb64(&view["seed"]));
    assert_eq!(secret, link.secret);
    let salt = random::<16>();
    let keys = keys_for(&secret, Some("new"), &salt);
    let r = owner
        .req(Method::PATCH, &format!("/api/shares/{}", link.id))
        .json(&json!({"password": {
            "salt": b64(&salt),
            "argon2": {"m_kib": QUICK.m_kib, "t": QUICK.t, "p": QUICK.p},
            "token": b64(&keys.token),
            "files": [{"index": 0, "wrapped_key": b64(&wrap_file_key(&mut rand::rng(), &keys, &a.data_key))}],
        }}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let old = opener.keys(&link, Some("old")).await;
    assert_eq!(opener.post(&link.id, "open", &old).await.status(), 401);
    assert_eq!(
        opener.download_all(&link, Some("new")).await[0].1,
        body(777, 7)
    );

    let r = owner
        .req(Method::DELETE, &format!("/api/shares/{}", link.id))
        .send()
        .await
        .expect("revoke");
    assert_eq!(r.status(), 204);
    let (status, code) = error_of(opener.info(&link.id).await).await;
    assert_eq!((status.as_u16(), code.as_str()), (410, "revoked"));
    assert_eq!(owner_view(&owner, &link.id).await["state"], "revoked");
}

#[tokio::test]
async fn neither_the_secret_nor_the_password_reaches_the_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let s = Server::start(
        &binary(),
        dir.path(),
        &[("NOCTURNE_REGISTRATION", "open"), ("RUST_LOG", "debug")],
    )
    .await;
    let owner = logged_in(&s, "alice").await;
    let a = encrypt("a.txt", &body(4096, 8), CipherId::Aes256Gcm);
    let fa = owner.upload(&a, 1 << 20).await;
    let password = "violet-harbour-3141";
    let link = link_for(&owner, (&fa, &a), password, "persistent").await;
    let opener = Opener::new(&s.base);
    let wrong = opener.keys(&link, Some("violet-harbour-3142")).await;
    assert_eq!(opener.post(&link.id, "open", &wrong).await.status(), 401);
    assert_eq!(
        opener.download_all(&link, Some(password)).await[0].1,
        body(4096, 8)
    );
    let keys = opener.keys(&link, Some(password)).await;

    let fragment = link.fragment();
    // The server gets the access token itself, and must keep only a hash.
    let markers: [&[u8]; 6] = [
        &link.secret,
        fragment.as_bytes(),
        password.as_bytes(),
        &keys.key,
        &keys.token,
        &a.data_key,
    ];
    crate::common::client::assert_absent(dir.path(), &markers);
    let logs = s.logs();
    assert!(
        logs.contains("/api/s/"),
        "debug logging covers share requests"
    );
    for marker in [fragment.as_str(), password, "violet-harbour-3142"] {
        assert!(!logs.contains(marker), "the logs contain {marker}");
    }
}

#[tokio::test]
async fn a_new_password_after_a_file_was_deleted_rewraps_the_rest() {
    let (_dir, s, owner) = setup(None).await;
    let files: Vec<Encrypted> = (0..3)
        .map(|i| {
            encrypt(
                &format!("f{i}.txt"),
                &body(500 + i, i as u8),
                CipherId::Aes256Gcm,
            )
        })
        .collect();
    let mut listed = Vec::new();
    for f in &files {
        listed.push(owner.upload(f, 1 << 20).await);
    }
    let pairs: Vec<(&Value, &Encrypted)> = listed.iter().zip(&files).collect();
    let link = share(&owner, &pairs, Some("old"), json!({"mode": "persistent"})).await;
    let gone = owner
        .req(
            Method::DELETE,
            &format!("/api/files/{}", listed[1]["id"].as_str().expect("id")),
        )
        .send()
        .await
        .expect("delete");
    assert_eq!(gone.status(), 204);

    let view = owner_view(&owner, &link.id).await;
    let indices: Vec<i64> = view["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["index"].as_i64().expect("index"))
        .collect();
    assert_eq!(indices, [0, 2]);
    let secret = *link_secret(&owner.master(), &unb64(&view["seed"]));
    let salt = random::<16>();
    let keys = keys_for(&secret, Some("new"), &salt);
    let rewrapped: Vec<Value> = [(0, &files[0]), (2, &files[2])]
        .iter()
        .map(|(i, f)| json!({"index": i, "wrapped_key": b64(&wrap_file_key(&mut rand::rng(), &keys, &f.data_key))}))
        .collect();
    let r = owner
        .req(Method::PATCH, &format!("/api/shares/{}", link.id))
        .json(&json!({"password": {"salt": b64(&salt), "argon2": {"m_kib": QUICK.m_kib, "t": QUICK.t, "p": QUICK.p},
                                   "token": b64(&keys.token), "files": rewrapped}}))
        .send()
        .await
        .expect("patch");
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    let got = Opener::new(&s.base).download_all(&link, Some("new")).await;
    assert_eq!(
        got,
        [
            ("f0.txt".to_owned(), body(500, 0)),
            ("f2.txt".to_owned(), body(502, 2))
        ]
    );
}

/// A link whose owner an administrator disabled answers 410 `unavailable`
/// to anyone who opens it, and works again once the owner is enabled.
#[tokio::test]
async fn a_disabled_owners_links_answer_410() {
    let (_dir, s, admin) = setup(None).await;
    let bob = logged_in(&s, "bob").await;
    let enc = encrypt("a.txt", b"bob's", CipherId::Aes256Gcm);
    let file = bob.upload(&enc, 256 * 1024).await;
    let link = share(&bob, &[(&file, &enc)], None, json!({"mode": "persistent"})).await;
    let opener = Opener::new(&s.base);
    let keys = opener.keys(&link, None).await;
    let set = |disabled: bool| {
        admin
            .req(Method::PATCH, "/api/admin/accounts/bob")
            .json(&json!({ "disabled": disabled }))
            .send()
    };
    assert_eq!(set(true).await.expect("disable").status(), 200);
    assert_eq!(
        error_of(opener.info(&link.id).await).await,
        (StatusCode::GONE, "unavailable".into())
    );
    let (code, error) = error_of(opener.post(&link.id, "open", &keys).await).await;
    assert_eq!((code, error.as_str()), (StatusCode::GONE, "unavailable"));
    assert_eq!(set(false).await.expect("enable").status(), 200);
    assert!(!opener.claim(&link, &keys).await.is_empty());
}
