//! Share links in the browser: the owner creates and re-keys them, an
//! opener derives the link's keys from the URL fragment and the password.
//!
//! What reaches the server: a random seed and salt, the Argon2id cost, each
//! file's data key wrapped under the link key, and the access token. The
//! fragment secret, the password and the link key stay here (see
//! `noctis::share`).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use noctis::{
    keys::{AccountKeys, DEFAULT_ARGON2},
    share::{LinkKeys, link_keys, unwrap_file_key, wrap_file_key},
};
use serde::{Deserialize, Serialize};
use serde_json::json;
use zeroize::Zeroizing;

use super::{
    api::{self, ApiError},
    keys::{Argon2, Keyring, b64, random32, rng, unb64},
    worker,
};

/// How a link is meant to be used (the API's `mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Mode {
    Persistent,
    Expiring,
    OneTime,
}

/// A link as its owner lists it (`GET /api/shares`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LinkView {
    pub(crate) id: String,
    pub(crate) seed: String,
    pub(crate) mode: Mode,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_downloads: Option<i64>,
    pub(crate) downloads: i64,
    pub(crate) in_progress: i64,
    pub(crate) failures: i64,
    pub(crate) state: String,
    pub(crate) files: Vec<LinkFile>,
    pub(crate) argon2: Option<Argon2>,
}

/// A file of a link: its position (with gaps once files are deleted).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct LinkFile {
    pub(crate) index: i64,
    pub(crate) file_id: String,
}

#[derive(Debug, Deserialize)]
struct LinkList {
    shares: Vec<LinkView>,
}

/// What the dialog asks for.
#[derive(Debug, Clone)]
pub(crate) struct NewLink {
    pub(crate) password: Option<String>,
    pub(crate) mode: Mode,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_downloads: Option<i64>,
}

/// The 16 random bytes of a seed or salt.
fn random16() -> Vec<u8> {
    random32()[..16].to_vec()
}

/// Argon2id of the link password in the crypto worker, if there is one.
async fn password_keys(
    password: Option<&str>,
    salt: &[u8],
    argon2: noctis::format::Argon2Params,
) -> Result<Option<AccountKeys>, String> {
    match password {
        Some(p) => worker::account_keys(p, salt, argon2).await.map(Some),
        None => Ok(None),
    }
}

/// The link's URL: the fragment never reaches the server.
pub(crate) fn link_url(id: &str, secret: &[u8; 32]) -> String {
    let origin = web_sys::window()
        .and_then(|w| w.location().origin().ok())
        .unwrap_or_default();
    format!("{origin}/s/{id}#{}", URL_SAFE_NO_PAD.encode(secret))
}

/// Each file's data key (from the owner's keyring) wrapped for `keys`.
fn wrap_all(keyring: &Keyring, keys: &LinkKeys, wrapped: &[String]) -> Result<Vec<String>, String> {
    wrapped
        .iter()
        .map(|w| {
            let key = keyring
                .data_key(w)
                .ok_or("A file's key cannot be opened with your keys.")?;
            Ok(b64(&wrap_file_key(&mut rng(), keys, &key)))
        })
        .collect()
}

fn argon_json(password: bool) -> serde_json::Value {
    if password {
        let d = DEFAULT_ARGON2;
        json!({"m_kib": d.m_kib, "t": d.t, "p": d.p})
    } else {
        serde_json::Value::Null
    }
}

/// Creates a link for `files` (id, the owner's wrapped key); returns its URL.
pub(crate) async fn create(
    keyring: &Keyring,
    files: &[(String, String)],
    new: NewLink,
) -> Result<String, String> {
    let seed = random16();
    let salt = random16();
    let secret = keyring.link_secret(&seed);
    let argon = password_keys(new.password.as_deref(), &salt, DEFAULT_ARGON2).await?;
    let keys = link_keys(&secret, argon.as_ref(), &salt);
    let wrapped: Vec<String> = files.iter().map(|(_, w)| w.clone()).collect();
    let entries: Vec<serde_json::Value> = files
        .iter()
        .zip(wrap_all(keyring, &keys, &wrapped)?)
        .map(|((id, _), key)| json!({"file_id": id, "wrapped_key": key}))
        .collect();
    let body = json!({
        "files": entries,
        "seed": b64(&seed),
        "salt": b64(&salt),
        "argon2": argon_json(new.password.is_some()),
        "token": b64(&keys.token),
        "mode": new.mode,
        "expires_at": new.expires_at,
        "max_downloads": new.max_downloads,
    });
    let view: LinkView = api::post("/api/shares", &body)
        .await
        .map_err(|e| e.message)?;
    Ok(link_url(&view.id, &secret))
}

/// The caller's links.
pub(crate) async fn list() -> Result<Vec<LinkView>, ApiError> {
    api::get::<LinkList>("/api/shares").await.map(|l| l.shares)
}

/// Sets a new password (or none) on `link`, re-wrapping each file's key in
/// this browser; `wrapped` holds each of the link's files as (position in
/// the link, the owner's wrapped key).
pub(crate) async fn change_password(
    keyring: &Keyring,
    link: &LinkView,
    wrapped: &[(i64, String)],
    password: Option<String>,
) -> Result<(), String> {
    let seed = unb64(&link.seed)?;
    let secret = keyring.link_secret(&seed);
    let salt = random16();
    let argon = password_keys(password.as_deref(), &salt, DEFAULT_ARGON2).await?;
    let keys = link_keys(&secret, argon.as_ref(), &salt);
    let owner_keys: Vec<String> = wrapped.iter().map(|(_, w)| w.clone()).collect();
    let files: Vec<serde_json::Value> = wrapped
        .iter()
        .zip(wrap_all(keyring, &keys, &owner_keys)?)
        .map(|((index, _), key)| json!({"index": index, "wrapped_key": key}))
        .collect();
    let body = json!({"password": {
        "salt": b64(&salt),
        "argon2": argon_json(password.is_some()),
        "token": b64(&keys.token),
        "files": files,
    }});
    api::patch::<_, serde_json::Value>(&format!("/api/shares/{}", link.id), &body)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

// ------------------------------------------------------------------ opener

/// `GET /api/s/{id}`: how to derive the keys.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct LinkInfo {
    pub(crate) password: bool,
    pub(crate) salt: String,
    pub(crate) argon2: Option<Argon2>,
}

/// One shared file as the opener receives it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SharedFile {
    pub(crate) index: u64,
    pub(crate) size: u64,
    pub(crate) metadata: String,
    pub(crate) wrapped_key: String,
}

#[derive(Debug, Deserialize)]
struct Opened {
    files: Vec<SharedFile>,
    mode: Mode,
}

#[derive(Debug, Deserialize)]
struct Claim {
    claim: String,
}

/// The fragment secret from `location.hash`, if it is one.
pub(crate) fn secret_from_fragment(hash: &str) -> Option<Zeroizing<[u8; 32]>> {
    let bytes = Zeroizing::new(URL_SAFE_NO_PAD.decode(hash.trim_start_matches('#')).ok()?);
    if bytes.len() != 32 {
        return None;
    }
    let mut secret = Zeroizing::new([0u8; 32]);
    secret.copy_from_slice(&bytes);
    Some(secret)
}

/// An opened link: its keys, and the files with their names decrypted.
pub(crate) struct OpenLink {
    pub(crate) keys: LinkKeys,
    pub(crate) files: Vec<(SharedFile, super::keys::FileMeta)>,
    pub(crate) mode: Mode,
}

/// Derives the link's keys (Argon2id in the worker) and asks the server
/// for the files; a wrong password comes back as the server's 401.
pub(crate) async fn open(
    id: &str,
    secret: &[u8; 32],
    info: &LinkInfo,
    password: Option<&str>,
) -> Result<OpenLink, ApiError> {
    let local = |message: String| ApiError {
        status: 0,
        code: "local".into(),
        message,
    };
    let salt = unb64(&info.salt).map_err(local)?;
    let argon = match (info.argon2, password) {
        (Some(a), Some(p)) => Some(
            worker::account_keys(p, &salt, a.into())
                .await
                .map_err(local)?,
        ),
        _ => None,
    };
    let keys = link_keys(secret, argon.as_ref(), &salt);
    let opened: Opened = api::post(
        &format!("/api/s/{id}/open"),
        &json!({"token": b64(&keys.token)}),
    )
    .await?;
    let mut files = Vec::new();
    for f in opened.files {
        let meta = unb64(&f.wrapped_key)
            .ok()
            .and_then(|w| unwrap_file_key(&keys, &w).ok())
            .and_then(|k| noctis::account::open_metadata(&k, &unb64(&f.metadata).ok()?).ok())
            .and_then(|m| serde_json::from_slice(&m).ok())
            .ok_or_else(|| {
                local("This link's files cannot be decrypted: the link is damaged.".into())
            })?;
        files.push((f, meta));
    }
    Ok(OpenLink {
        keys,
        files,
        mode: opened.mode,
    })
}

impl OpenLink {
    /// Claims a download (one claim covers every file of the link).
    pub(crate) async fn claim(&self, id: &str) -> Result<String, ApiError> {
        let c: Claim = api::post(
            &format!("/api/s/{id}/claim"),
            &json!({"token": b64(&self.keys.token)}),
        )
        .await?;
        Ok(c.claim)
    }

    /// A shared file's data key.
    pub(crate) fn data_key(&self, file: &SharedFile) -> Option<Zeroizing<[u8; 32]>> {
        unwrap_file_key(&self.keys, &unb64(&file.wrapped_key).ok()?).ok()
    }
}

/// The QR code of `url` as an SVG document (dark on light, with its quiet
/// zone, so phone cameras read it).
pub(crate) fn qr_svg(url: &str) -> Option<String> {
    use qrcode::render::svg;
    let code = qrcode::QrCode::new(url.as_bytes()).ok()?;
    Some(
        code.render::<svg::Color<'_>>()
            .min_dimensions(184, 184)
            .dark_color(svg::Color("#000000"))
            .light_color(svg::Color("#ffffff"))
            .build(),
    )
}
