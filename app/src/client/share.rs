//! Share links in the browser: the owner creates and re-keys them, an
//! opener derives the link's keys from the URL fragment and the password.
//!
//! What reaches the server: a random seed and salt, the Argon2id cost, each
//! file's data key wrapped under the link key, the access token, the link
//! proof and the sealed list of the link's file ids. The fragment secret,
//! the password and the link key stay here (see `noctis::share`).

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use noctis::{
    keys::{AccountKeys, DEFAULT_ARGON2},
    share::{
        FILE_ID_LEN, LinkKeys, link_keys, link_proof, open_file_list, seal_file_list,
        unwrap_file_key, wrap_file_key,
    },
};
use zeroize::Zeroizing;

use super::{
    api::{self, ApiError},
    keys::{Argon2, Keyring, random32, rng},
    worker,
};

pub(crate) use ::api::shares::{Mode, ShareState, ShareView as LinkView, SharedFile};
use ::api::{
    B64,
    shares::{
        Claim, CreateShare, Rewrap, RewrappedKey, ShareFileKey, ShareInfo, ShareList, ShareToken,
        SharedFiles, UpdateShare,
    },
};

/// A link's state as the page names it (the API's own words).
pub(crate) fn state_name(state: ShareState) -> &'static str {
    match state {
        ShareState::Active => "active",
        ShareState::Expired => "expired",
        ShareState::Revoked => "revoked",
        ShareState::Used => "used",
        ShareState::Locked => "locked",
    }
}

/// `GET /api/s/{id}`: how to derive the keys.
pub(crate) type LinkInfo = ShareInfo;

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
fn wrap_all(keyring: &Keyring, keys: &LinkKeys, wrapped: &[String]) -> Result<Vec<B64>, String> {
    wrapped
        .iter()
        .map(|w| {
            let key = keyring
                .data_key(w)
                .ok_or("A file's key cannot be opened with your keys.")?;
            Ok(B64(wrap_file_key(&mut rng(), keys, &key).to_vec()))
        })
        .collect()
}

/// The Argon2id cost a link's password is derived with, if it has one.
fn link_argon2(password: bool) -> Option<Argon2> {
    password.then(|| {
        let d = DEFAULT_ARGON2;
        Argon2 {
            m_kib: d.m_kib,
            t: d.t,
            p: d.p,
        }
    })
}

/// A file id (32 hex digits) as the 16 bytes a sealed file list holds.
fn id_bytes(id: &str) -> Option<[u8; FILE_ID_LEN]> {
    if id.len() != 2 * FILE_ID_LEN || !id.is_ascii() {
        return None;
    }
    let mut out = [0u8; FILE_ID_LEN];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(&id[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The ids of `files`, sealed under the link's secret.
fn sealed_ids<'a>(
    secret: &[u8; 32],
    files: impl Iterator<Item = &'a str>,
) -> Result<Vec<u8>, String> {
    let ids = files
        .map(|id| id_bytes(id).ok_or("A file id is malformed."))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(seal_file_list(&mut rng(), secret, &ids))
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
    let entries: Vec<ShareFileKey> = files
        .iter()
        .zip(wrap_all(keyring, &keys, &wrapped)?)
        .map(|((id, _), key)| ShareFileKey {
            file_id: id.clone(),
            wrapped_key: key,
        })
        .collect();
    let body = CreateShare {
        files: entries,
        seed: B64(seed),
        salt: B64(salt),
        argon2: link_argon2(new.password.is_some()),
        token: B64(keys.token.to_vec()),
        proof: B64(link_proof(&secret).to_vec()),
        file_list: B64(sealed_ids(
            &secret,
            files.iter().map(|(id, _)| id.as_str()),
        )?),
        mode: new.mode,
        expires_at: new.expires_at,
        max_downloads: new.max_downloads,
    };
    let view: LinkView = api::post("/api/shares", &body)
        .await
        .map_err(|e| e.message)?;
    Ok(link_url(&view.id, &secret))
}

/// The caller's links.
pub(crate) async fn list() -> Result<Vec<LinkView>, ApiError> {
    api::get::<ShareList>("/api/shares").await.map(|l| l.shares)
}

/// Sets a new password (or none) on `link`, re-wrapping each file's key in
/// this browser; `wrapped` holds each of the link's files as (position in
/// the link, the owner's wrapped key).
///
/// Only files in the link's sealed file list are re-wrapped: a server that
/// lists another of the owner's files in the link is caught here, before
/// any key is wrapped for it. A link made before Nocturne kept a list gets
/// one now, of the files it lists.
pub(crate) async fn change_password(
    keyring: &Keyring,
    link: &LinkView,
    wrapped: &[(i64, String)],
    password: Option<String>,
) -> Result<(), String> {
    let seed = &link.seed.0;
    let secret = keyring.link_secret(seed);
    let listed = |index: i64| link.files.iter().find(|f| f.index == index);
    let mut new_list = None;
    match &link.file_list {
        Some(sealed) => {
            let allowed = open_file_list(&secret, &sealed.0).map_err(
                |_| "This link's file list does not open with your keys; nothing was changed.",
            )?;
            for (index, _) in wrapped {
                let ok = listed(*index)
                    .and_then(|f| id_bytes(&f.file_id))
                    .is_some_and(|id| allowed.contains(&id));
                if !ok {
                    return Err(
                        "The server lists a file this link was never made for; nothing was \
                                re-wrapped."
                            .into(),
                    );
                }
            }
        }
        None => {
            new_list = Some(B64(sealed_ids(
                &secret,
                link.files.iter().map(|f| f.file_id.as_str()),
            )?));
        }
    }
    let salt = random16();
    let argon = password_keys(password.as_deref(), &salt, DEFAULT_ARGON2).await?;
    let keys = link_keys(&secret, argon.as_ref(), &salt);
    let owner_keys: Vec<String> = wrapped.iter().map(|(_, w)| w.clone()).collect();
    let files: Vec<RewrappedKey> = wrapped
        .iter()
        .zip(wrap_all(keyring, &keys, &owner_keys)?)
        .map(|((index, _), key)| RewrappedKey {
            index: *index,
            wrapped_key: key,
        })
        .collect();
    let body = UpdateShare {
        expiry: None,
        password: Some(Rewrap {
            salt: B64(salt),
            argon2: link_argon2(password.is_some()),
            token: B64(keys.token.to_vec()),
            files,
            file_list: new_list,
        }),
        unlock: false,
    };
    api::patch::<_, serde_json::Value>(&format!("/api/shares/{}", link.id), &body)
        .await
        .map(|_| ())
        .map_err(|e| e.message)
}

// ------------------------------------------------------------------ opener

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
    /// The link proof, sent beside the token.
    proof: Zeroizing<[u8; 32]>,
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
    let salt = info.salt.0.clone();
    if let (Some(a), Some(_)) = (info.argon2, password)
        && !super::keys::strong_enough(a, &salt)
    {
        return Err(local(
            "The server asked for key-derivation settings too weak to protect this link's \
             password; nothing was sent."
                .to_owned(),
        ));
    }
    let argon = match (info.argon2, password) {
        (Some(a), Some(p)) => Some(
            worker::account_keys(p, &salt, super::keys::argon2_params(a))
                .await
                .map_err(local)?,
        ),
        _ => None,
    };
    let keys = link_keys(secret, argon.as_ref(), &salt);
    let proof = link_proof(secret);
    let opened: SharedFiles = api::post(
        &format!("/api/s/{id}/open"),
        &ShareToken {
            token: B64(keys.token.to_vec()),
            proof: Some(B64(proof.to_vec())),
        },
    )
    .await?;
    let mut files = Vec::new();
    for f in opened.files {
        let meta = unwrap_file_key(&keys, &f.wrapped_key.0)
            .ok()
            .and_then(|k| noctis::account::open_metadata(&k, &f.metadata.0).ok())
            .and_then(|m| serde_json::from_slice(&m).ok())
            .ok_or_else(|| {
                local("This link's files cannot be decrypted: the link is damaged.".into())
            })?;
        files.push((f, meta));
    }
    Ok(OpenLink {
        keys,
        proof,
        files,
        mode: opened.mode,
    })
}

impl OpenLink {
    /// Claims a download (one claim covers every file of the link).
    pub(crate) async fn claim(&self, id: &str) -> Result<String, ApiError> {
        let c: Claim = api::post(
            &format!("/api/s/{id}/claim"),
            &ShareToken {
                token: B64(self.keys.token.to_vec()),
                proof: Some(B64(self.proof.to_vec())),
            },
        )
        .await?;
        Ok(c.claim)
    }

    /// A shared file's data key.
    pub(crate) fn data_key(&self, file: &SharedFile) -> Option<Zeroizing<[u8; 32]>> {
        unwrap_file_key(&self.keys, &file.wrapped_key.0).ok()
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
