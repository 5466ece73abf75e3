//! A Nocturne API client for tests, doing in Rust what the browser does:
//! Argon2id, key wrapping, the file format, sealed metadata. Only wrapped
//! keys, hashes-to-be and ciphertext ever reach the server.

#![allow(
    dead_code,
    reason = "each test binary uses a different subset; `expect` would fail in those that use all of it"
)]

use base64::{Engine as _, engine::general_purpose::STANDARD};
use noctis::{
    account::{self, FILE_KEY, MASTER_BY_PASSWORD, MASTER_BY_RECOVERY},
    format::{
        Argon2Params, CipherId, DEFAULT_CHUNK_SIZE, Decryptor, Encryptor, FileKey, Header,
        KeySource,
    },
    keys::{account_keys, unwrap_key, wrap_key},
};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// The cheapest Argon2id the server accepts, to keep tests quick.
pub const QUICK: Argon2Params = Argon2Params {
    m_kib: 19 * 1024,
    t: 2,
    p: 1,
};

pub fn b64(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

pub fn unb64(v: &Value) -> Vec<u8> {
    STANDARD
        .decode(v.as_str().expect("a base64 string"))
        .expect("base64")
}

/// The upload digest of `ciphertext` sent in `part_size` parts, hex.
pub fn digest_hex(ciphertext: &[u8], part_size: u64) -> String {
    let parts: Vec<[u8; 32]> = if ciphertext.is_empty() {
        vec![Sha256::digest([]).into()]
    } else {
        ciphertext
            .chunks(usize::try_from(part_size).expect("usize"))
            .map(|p| Sha256::digest(p).into())
            .collect()
    };
    let digest = api::files::parts_digest(ciphertext.len() as u64, part_size, &parts);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn rng() -> impl rand::CryptoRng {
    rand::rng()
}

fn random32() -> [u8; 32] {
    let mut k = [0u8; 32];
    rand::Rng::fill_bytes(&mut rand::rng(), &mut k);
    k
}

/// Material for a new password: the JSON the server takes, and the
/// key-encryption key it wraps the master key under.
pub fn password_material(password: &str, master: &[u8; 32]) -> Value {
    let salt = random32();
    let keys = account_keys(password.as_bytes(), &salt, QUICK).expect("argon2");
    json!({
        "salt": b64(&salt),
        "argon2": {"m_kib": QUICK.m_kib, "t": QUICK.t, "p": QUICK.p},
        "auth_key": b64(&keys.auth),
        "master_by_password": b64(&wrap_key(&mut rng(), &keys.kek, master, MASTER_BY_PASSWORD)),
    })
}

/// A file encrypted as the browser would: a random data key, the format
/// with an external key, and sealed metadata naming it.
pub struct Encrypted {
    pub data_key: [u8; 32],
    pub ciphertext: Vec<u8>,
    pub name: String,
}

pub fn encrypt(name: &str, plaintext: &[u8], cipher: CipherId) -> Encrypted {
    let data_key = random32();
    let header = Header::generate(&mut rng(), cipher, DEFAULT_CHUNK_SIZE, KeySource::External)
        .expect("header");
    let mut enc = Encryptor::new(&FileKey(data_key), header);
    let mut out = enc.header_bytes().to_vec();
    let chunks: Vec<&[u8]> = if plaintext.is_empty() {
        vec![&[][..]]
    } else {
        plaintext.chunks(DEFAULT_CHUNK_SIZE as usize).collect()
    };
    for (i, chunk) in chunks.iter().enumerate() {
        let mut buf = chunk.to_vec();
        enc.seal_next(&mut buf, i + 1 == chunks.len())
            .expect("seal");
        out.extend_from_slice(&buf);
    }
    Encrypted {
        data_key,
        ciphertext: out,
        name: name.to_owned(),
    }
}

pub fn decrypt(data_key: &[u8; 32], file: &[u8]) -> Result<Vec<u8>, noctis::Error> {
    let mut dec = Decryptor::new(&FileKey(*data_key), file)?;
    let sealed = dec.sealed_chunk_len();
    let body = &file[noctis::format::HEADER_LEN..];
    let mut out = Vec::new();
    let mut offset = 0;
    loop {
        let end = (offset + sealed).min(body.len());
        let last = end == body.len();
        let mut buf = body[offset..end].to_vec();
        dec.open_next(&mut buf, last)?;
        out.extend_from_slice(&buf);
        offset = end;
        if last {
            return Ok(out);
        }
    }
}

/// One account's client side.
pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
    pub username: String,
    pub token: Option<String>,
    pub master: Option<[u8; 32]>,
    pub recovery: Option<[u8; 32]>,
}

impl Client {
    pub fn new(base: &str, username: &str) -> Client {
        Client {
            http: reqwest::Client::builder()
                .no_proxy()
                .build()
                .expect("http client"),
            base: base.to_owned(),
            username: username.to_owned(),
            token: None,
            master: None,
            recovery: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn req(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        let r = self.http.request(method, self.url(path));
        match &self.token {
            Some(t) => r.bearer_auth(t),
            None => r,
        }
    }

    /// Registers with `password`, keeping the master key and the recovery
    /// key the "browser" made (the server never sees either).
    pub async fn register(&mut self, password: &str, invite: Option<&str>) -> reqwest::Response {
        let master = random32();
        let recovery = random32();
        let r = account::recovery_keys(&recovery);
        let mut body = password_material(password, &master);
        body["username"] = json!(self.username);
        body["master_by_recovery"] = json!(b64(&wrap_key(
            &mut rng(),
            &r.kek,
            &master,
            MASTER_BY_RECOVERY
        )));
        body["recovery_auth"] = json!(b64(&r.auth));
        if let Some(code) = invite {
            body["invite"] = json!(code);
        }
        let response = self
            .http
            .post(self.url("/api/auth/register"))
            .json(&body)
            .send()
            .await
            .expect("register");
        if response.status().is_success() {
            self.master = Some(master);
            self.recovery = Some(recovery);
        }
        response
    }

    /// The key-derivation parameters the server gives for this username.
    pub async fn params(&self) -> (Vec<u8>, Argon2Params) {
        let p: Value = self
            .http
            .post(self.url("/api/auth/params"))
            .json(&json!({"username": self.username}))
            .send()
            .await
            .expect("params")
            .json()
            .await
            .expect("json");
        let a = &p["argon2"];
        let n = |k: &str| u32::try_from(a[k].as_u64().expect("number")).expect("u32");
        (
            unb64(&p["salt"]),
            Argon2Params {
                m_kib: n("m_kib"),
                t: n("t"),
                p: n("p"),
            },
        )
    }

    /// Logs in for a bearer token; on success unwraps and keeps the master
    /// key. Returns the status.
    pub async fn login(&mut self, password: &str) -> reqwest::StatusCode {
        let keys = self.password_keys(password).await;
        let response = self
            .http
            .post(self.url("/api/auth/login"))
            .json(&json!({"username": self.username, "auth_key": b64(&keys.auth), "token": true}))
            .send()
            .await
            .expect("login");
        let status = response.status();
        if status.is_success() {
            let body: Value = response.json().await.expect("json");
            self.token = Some(body["token"].as_str().expect("token").to_owned());
            let master = unwrap_key(
                &keys.kek,
                &unb64(&body["master_by_password"]),
                MASTER_BY_PASSWORD,
            )
            .expect("the master key unwraps with the password's key");
            self.master = Some(*master);
        }
        status
    }

    /// Resets the password with the recovery key, as the recovery page does.
    pub async fn recover(
        &mut self,
        recovery: &[u8; 32],
        new_password: &str,
    ) -> reqwest::StatusCode {
        let r = account::recovery_keys(recovery);
        let response = self
            .http
            .post(self.url("/api/auth/recovery/key"))
            .json(&json!({"username": self.username, "recovery_auth": b64(&r.auth)}))
            .send()
            .await
            .expect("recovery key");
        if !response.status().is_success() {
            return response.status();
        }
        let body: Value = response.json().await.expect("json");
        let master = unwrap_key(
            &r.kek,
            &unb64(&body["master_by_recovery"]),
            MASTER_BY_RECOVERY,
        )
        .expect("the recovery key unwraps the master key");
        self.http
            .post(self.url("/api/auth/recovery/reset"))
            .json(&json!({
                "username": self.username,
                "recovery_auth": b64(&r.auth),
                "new": password_material(new_password, &master),
            }))
            .send()
            .await
            .expect("reset")
            .status()
    }

    /// The keys `password` derives for this account, with its stored salt and cost.
    pub async fn password_keys(&self, password: &str) -> noctis::keys::AccountKeys {
        let (salt, params) = self.params().await;
        account_keys(password.as_bytes(), &salt, params).expect("argon2")
    }

    /// `GET /api/uploads/{id}` as JSON.
    pub async fn upload_status(&self, id: &str) -> Value {
        self.req(reqwest::Method::GET, &format!("/api/uploads/{id}"))
            .send()
            .await
            .expect("upload status")
            .json()
            .await
            .expect("json")
    }

    pub fn master(&self) -> [u8; 32] {
        self.master.expect("logged in")
    }

    /// Starts an upload of `file` in parts of `part_size`.
    pub async fn create_upload(&self, file: &Encrypted, part_size: u64) -> reqwest::Response {
        let metadata = account::seal_metadata(
            &mut rng(),
            &file.data_key,
            json!({"name": file.name}).to_string().as_bytes(),
        );
        let wrapped = wrap_key(&mut rng(), &self.master(), &file.data_key, FILE_KEY);
        self.req(reqwest::Method::POST, "/api/uploads")
            .json(&json!({
                "size": file.ciphertext.len(),
                "part_size": part_size,
                "metadata": b64(&metadata),
                "wrapped_key": b64(&wrapped),
            }))
            .send()
            .await
            .expect("create upload")
    }

    pub async fn put_part(
        &self,
        id: &str,
        index: usize,
        bytes: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.req(
            reqwest::Method::PUT,
            &format!("/api/uploads/{id}/parts/{index}"),
        )
        .header("content-type", "application/octet-stream")
        .body(bytes)
        .send()
        .await
        .expect("put part")
    }

    /// Finishes upload `id` of `ciphertext` with its digest (the SHA-256
    /// over its parts' SHA-256s, at the part size the server reports).
    pub async fn finish(&self, id: &str, ciphertext: &[u8]) -> reqwest::Response {
        let status = self.upload_status(id).await;
        let part_size = status["part_size"]
            .as_u64()
            .unwrap_or(ciphertext.len().max(1) as u64);
        self.req(reqwest::Method::POST, &format!("/api/uploads/{id}/finish"))
            .json(&json!({"size": ciphertext.len(), "digest": digest_hex(ciphertext, part_size)}))
            .send()
            .await
            .expect("finish")
    }

    /// Uploads a whole file in order; returns the file's JSON.
    pub async fn upload(&self, file: &Encrypted, part_size: u64) -> Value {
        let created = self.create_upload(file, part_size).await;
        assert_eq!(
            created.status(),
            201,
            "{}",
            created.text().await.unwrap_or_default()
        );
        let created: Value = created.json().await.expect("json");
        let id = created["id"].as_str().expect("id").to_owned();
        let parts: Vec<&[u8]> = if file.ciphertext.is_empty() {
            vec![&[][..]]
        } else {
            file.ciphertext
                .chunks(usize::try_from(part_size).expect("usize"))
                .collect()
        };
        for (i, part) in parts.iter().enumerate() {
            let r = self.put_part(&id, i, part.to_vec()).await;
            assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
        }
        let done = self.finish(&id, &file.ciphertext).await;
        assert_eq!(
            done.status(),
            201,
            "{}",
            done.text().await.unwrap_or_default()
        );
        done.json().await.expect("json")
    }

    pub async fn list(&self) -> Value {
        let r = self
            .req(reqwest::Method::GET, "/api/files")
            .send()
            .await
            .expect("list");
        assert_eq!(r.status(), 200);
        r.json().await.expect("json")
    }

    pub async fn download(&self, id: &str) -> reqwest::Response {
        self.req(reqwest::Method::GET, &format!("/api/files/{id}/content"))
            .send()
            .await
            .expect("download")
    }

    pub async fn delete_file(&self, id: &str) -> reqwest::Response {
        self.req(reqwest::Method::DELETE, &format!("/api/files/{id}"))
            .send()
            .await
            .expect("delete")
    }

    /// Opens a listed file as the dashboard does: unwrap its key, open its
    /// metadata, download and decrypt. Returns (name, plaintext).
    pub async fn open(&self, file: &Value) -> (String, Vec<u8>) {
        let key = unwrap_key(&self.master(), &unb64(&file["wrapped_key"]), FILE_KEY)
            .expect("the file key unwraps with the master key");
        let meta = account::open_metadata(&key, &unb64(&file["metadata"])).expect("metadata opens");
        let meta: Value = serde_json::from_slice(&meta).expect("metadata json");
        let r = self.download(file["id"].as_str().expect("id")).await;
        assert_eq!(r.status(), 200);
        let bytes = r.bytes().await.expect("body");
        let plain = decrypt(&key, &bytes).expect("the content decrypts");
        (meta["name"].as_str().expect("name").to_owned(), plain)
    }
}

/// Every file under `dir`, read whole (test data dirs are small).
pub fn files_under(dir: &std::path::Path) -> Vec<(std::path::PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).expect("read dir") {
            let entry = entry.expect("entry");
            let path = entry.path();
            if entry.file_type().expect("type").is_dir() {
                stack.push(path);
            } else {
                let bytes = std::fs::read(&path).expect("read");
                out.push((path, bytes));
            }
        }
    }
    out
}

/// Asserts that no file under `dir` contains any of `markers`.
pub fn assert_absent(dir: &std::path::Path, markers: &[&[u8]]) {
    for (path, bytes) in files_under(dir) {
        for marker in markers {
            assert!(
                !bytes.windows(marker.len()).any(|w| w == *marker),
                "{} contains the marker {:?}",
                path.display(),
                String::from_utf8_lossy(marker)
            );
        }
    }
}
