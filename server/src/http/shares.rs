//! Share links: the owner's side under `/api/shares` (create, list, change
//! expiry or password, unlock, revoke) and the public side under
//! `/api/s/{id}`, reached with no account by whoever holds the link.
//!
//! The server never sees the link's secret or password. The owner's browser
//! sends a random seed and salt, the Argon2id cost (when there is a
//! password), each file's data key wrapped under the link key, and the
//! access token derived beside that key (`noctis::share`); the server keeps
//! a hash of the token. An opener presents the token; only then does the
//! server release the wrapped keys and metadata (`open`) or a download
//! claim (`claim`).
//!
//! Every download goes through a claim: a random bearer value, valid while
//! its holder keeps streaming and for [`CLAIM_GRACE`] after (never more
//! than [`CLAIM_LIFETIME`] in all). Claims are created on the database
//! thread, which runs one job at a time, so "completed downloads + claims
//! in progress ≤ max downloads" holds however many requests race: of twenty
//! concurrent claims on a one-time link exactly one succeeds.
//!
//! A claim completes when every shared file has been streamed to its last
//! byte; the final piece of a stream is held back until the database has
//! counted the download, and a stream whose claim is gone (revoked, lapsed,
//! completed by another stream) or which a newer request for the same file
//! superseded stops before its end. After completion the claim lives on for
//! its grace period only to re-send the last [`COMPLETED_TAIL`] bytes of a
//! file, which a connection breaking at the very end may have lost. A claim
//! that lapses after some ciphertext was sent also counts as a download
//! (otherwise stopping one byte short, waiting out the grace and claiming
//! again would read a one-time link many times); one that lapses before any
//! byte was sent frees its place.
//!
//! Guessing is slowed per client and per link: after three wrong attempts
//! each next one waits twice as long ([`limits::growing_delay`], up to five
//! minutes), on top of a per-client token bucket, and after [`LOCK_AFTER`](crate::shares::links::LOCK_AFTER)
//! the link locks until its owner unlocks it. A wrong password never uses a
//! link up.

use std::time::Instant;

use axum::{
    Json,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header},
    response::Response,
};
use futures_util::StreamExt;
use rusqlite::{Connection, OptionalExtension};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{
    client::ClientAddr,
    range::Wanted,
    session::Session,
    wire::{self, Argon2, B64, JsonBody},
};
use crate::{
    Error,
    db::Db,
    limits,
    shares::{
        Streams,
        links::{
            CLAIM_GRACE, CLAIM_LABEL, CLAIM_LIFETIME, COMPLETED_TAIL, MAX_LIVE_CLAIMS,
            MAX_SHARE_FILES, MAX_SHARES, Mode, Row, ShareState, TOKEN_LABEL, TOUCH_EVERY,
            check_expiry, check_token, load, owned, share_id,
        },
        settle_claims,
    },
    state::AppState,
    store::{BlobId, BlobStore as _},
};

pub(crate) const TAG: &str = "shares";

// ------------------------------------------------------------------ owner

/// One file of a new share.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ShareFileKey {
    /// The file's id (one of the caller's files).
    file_id: String,
    /// The file's data key wrapped under the link key (60 bytes).
    wrapped_key: B64,
}

/// `POST /api/shares`.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct CreateShare {
    /// The files, in the order the link lists them (1 to 256).
    files: Vec<ShareFileKey>,
    /// 16 random bytes from which the owner's browser derives the link's
    /// secret with the master key; the server cannot.
    seed: B64,
    /// 16 random bytes: the link's Argon2id and HKDF salt.
    salt: B64,
    /// The password's Argon2id cost; absent for a link without password.
    #[serde(default)]
    argon2: Option<Argon2>,
    /// The access token (32 bytes); the server keeps a hash.
    token: B64,
    mode: Mode,
    /// Unix time after which the link is refused (required for `expiring`).
    #[serde(default)]
    expires_at: Option<i64>,
    /// Complete downloads allowed (1 for `one_time`; none means unlimited).
    #[serde(default)]
    max_downloads: Option<i64>,
}

/// A file of a link, for its owner.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct LinkFile {
    /// Its position in the link (what a re-wrap names).
    index: i64,
    file_id: String,
}

/// A link as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareView {
    id: String,
    /// What the owner's browser derives the link's secret from.
    seed: B64,
    salt: B64,
    argon2: Option<Argon2>,
    mode: Mode,
    expires_at: Option<i64>,
    max_downloads: Option<i64>,
    /// Complete downloads so far.
    downloads: i64,
    /// Downloads in progress (live claims).
    in_progress: i64,
    /// Consecutive wrong attempts.
    failures: i64,
    state: ShareState,
    /// The shared files, in the link's order (deleted files drop out, so
    /// positions can have gaps).
    files: Vec<LinkFile>,
    created_at: i64,
}

fn view(conn: &Connection, row: Row, now: i64) -> Result<ShareView, Error> {
    let files = conn
        .prepare("SELECT idx, file_id FROM share_files WHERE share_id = ?1 ORDER BY idx")?
        .query_map([&row.id], |r| {
            Ok(LinkFile {
                index: r.get(0)?,
                file_id: r.get(1)?,
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    let in_progress: i64 = conn.query_row(
        "SELECT COUNT(*) FROM share_claims
         WHERE share_id = ?1 AND expires_at > ?2 AND completed = 0",
        rusqlite::params![row.id, now],
        |r| r.get(0),
    )?;
    let state = if files.is_empty() {
        ShareState::Revoked
    } else {
        row.state(now)
    };
    Ok(ShareView {
        state,
        id: row.id,
        seed: B64(row.seed),
        salt: B64(row.salt),
        argon2: row.argon2,
        mode: row.mode,
        expires_at: row.expires_at,
        max_downloads: row.max_downloads,
        downloads: row.downloads,
        in_progress,
        failures: row.failures,
        files,
        created_at: row.created_at,
    })
}

/// Creates a share link for one or more of the caller's files.
#[utoipa::path(post, path = "/shares", tag = TAG, request_body = CreateShare,
    responses((status = 201, body = ShareView), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn create_share(
    State(state): State<AppState>,
    session: Session,
    JsonBody(req): JsonBody<CreateShare>,
) -> Result<(StatusCode, Json<ShareView>), Error> {
    if req.files.is_empty() || req.files.len() > MAX_SHARE_FILES {
        return Err(Error::invalid(
            "invalid_files",
            format!("A share holds 1 to {MAX_SHARE_FILES} files."),
        ));
    }
    let mut files = Vec::with_capacity(req.files.len());
    for f in &req.files {
        let id = BlobId::parse(&f.file_id)
            .ok_or_else(|| Error::invalid("invalid_files", "A `file_id` is malformed."))?;
        let key = f
            .wrapped_key
            .bounded(
                "wrapped_key",
                noctis::keys::WRAPPED_LEN,
                noctis::keys::WRAPPED_LEN,
            )?
            .to_vec();
        if files
            .iter()
            .any(|(other, _): &(String, Vec<u8>)| other == id.as_str())
        {
            return Err(Error::invalid("invalid_files", "A file is listed twice."));
        }
        files.push((id.as_str().to_owned(), key));
    }
    let seed = req.seed.bounded("seed", 16, 16)?.to_vec();
    let salt = req.salt.bounded("salt", 16, 16)?.to_vec();
    let token_hash = crate::secret::digest(TOKEN_LABEL, req.token.bounded("token", 32, 32)?);
    let argon2 = req.argon2.map(Argon2::check).transpose()?;
    let max_downloads = match (req.mode, req.max_downloads) {
        (Mode::OneTime, None | Some(1)) => Some(1),
        (Mode::OneTime, Some(_)) => {
            return Err(Error::invalid(
                "invalid_max_downloads",
                "A one-time link allows exactly one download.",
            ));
        }
        (_, Some(n)) if !(1..=1_000_000).contains(&n) => {
            return Err(Error::invalid(
                "invalid_max_downloads",
                "`max_downloads` must be between 1 and 1000000.",
            ));
        }
        (_, n) => n,
    };
    let now = state.clock.now();
    check_expiry(req.mode, req.expires_at, now)?;
    let account = session.account_id;
    let (mode, expires_at) = (req.mode, req.expires_at);
    let view = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let count: i64 = tx.query_row(
                "SELECT COUNT(*) FROM shares WHERE account_id = ?1",
                [account],
                |r| r.get(0),
            )?;
            if count >= MAX_SHARES {
                return Err(Error::Conflict {
                    code: "too_many_shares",
                    message: format!(
                        "An account may have at most {MAX_SHARES} links; revoke some first."
                    ),
                });
            }
            for (file, _) in &files {
                let mine: Option<i64> = tx
                    .query_row(
                        "SELECT 1 FROM files WHERE id = ?1 AND account_id = ?2",
                        rusqlite::params![file, account],
                        |r| r.get(0),
                    )
                    .optional()?;
                if mine.is_none() {
                    return Err(Error::NotFound);
                }
            }
            let id = BlobId::random().as_str().to_owned();
            let (m, t, p) = match argon2 {
                Some(a) => (Some(a.m_kib), Some(a.t), Some(a.p)),
                None => (None, None, None),
            };
            tx.execute(
                "INSERT INTO shares (id, account_id, seed, salt, argon2_m_kib, argon2_t, argon2_p,
                     token_hash, mode, expires_at, max_downloads, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?12)",
                rusqlite::params![
                    id,
                    account,
                    seed,
                    salt,
                    m,
                    t,
                    p,
                    &token_hash[..],
                    mode.as_str(),
                    expires_at,
                    max_downloads,
                    now
                ],
            )?;
            for (idx, (file, key)) in files.iter().enumerate() {
                tx.execute(
                    "INSERT INTO share_files (share_id, idx, file_id, wrapped_key)
                     VALUES (?1, ?2, ?3, ?4)",
                    rusqlite::params![id, i64::try_from(idx).unwrap_or(i64::MAX), file, key],
                )?;
            }
            let row = load(&tx, &id)?.ok_or(Error::NotFound)?;
            let view = view(&tx, row, now)?;
            tx.commit()?;
            Ok(view)
        })
        .await?;
    Ok((StatusCode::CREATED, Json(view)))
}

/// The caller's links.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareList {
    shares: Vec<ShareView>,
}

/// Lists the caller's links, newest first, with their state and counts.
#[utoipa::path(get, path = "/shares", tag = TAG,
    responses((status = 200, body = ShareList), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn list_shares(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<ShareList>, Error> {
    let account = session.account_id;
    let now = state.clock.now();
    state
        .db
        .call(move |conn| {
            let ids: Vec<String> = conn
                .prepare(
                    "SELECT id FROM shares WHERE account_id = ?1 ORDER BY created_at DESC, id",
                )?
                .query_map([account], |r| r.get(0))?
                .collect::<Result<_, _>>()?;
            let mut shares = Vec::with_capacity(ids.len());
            for id in ids {
                settle_claims(conn, Some(&id), now)?;
                if let Some(row) = load(conn, &id)? {
                    shares.push(view(conn, row, now)?);
                }
            }
            Ok(ShareList { shares })
        })
        .await
        .map(Json)
}

/// A file's data key re-wrapped under a link's new key.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct RewrappedKey {
    /// The file's position in the link (as listed, counting from 0).
    index: i64,
    wrapped_key: B64,
}

/// A new password (or none): new salt, cost, token and wrapped keys.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct Rewrap {
    salt: B64,
    #[serde(default)]
    argon2: Option<Argon2>,
    token: B64,
    /// Every file still in the link, re-wrapped.
    files: Vec<RewrappedKey>,
}

/// A new expiry: a Unix time, or `null` for none.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ExpiryChange {
    expires_at: Option<i64>,
}

/// `PATCH /api/shares/{id}`: any of the three.
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct UpdateShare {
    #[serde(default)]
    expiry: Option<ExpiryChange>,
    #[serde(default)]
    password: Option<Rewrap>,
    /// Clears the wrong-attempt count and the lock.
    #[serde(default)]
    unlock: bool,
}

/// Changes a link's expiry or password, or unlocks it.
#[utoipa::path(patch, path = "/shares/{id}", tag = TAG, request_body = UpdateShare,
    params(("id" = String, Path, description = "link id")),
    responses((status = 200, body = ShareView), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody)))]
pub(crate) async fn update_share(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<UpdateShare>,
) -> Result<Json<ShareView>, Error> {
    let id = share_id(&id)?;
    let rewrap = match req.password {
        Some(r) => {
            let mut keys = Vec::with_capacity(r.files.len());
            for f in &r.files {
                keys.push((
                    f.index,
                    f.wrapped_key
                        .bounded(
                            "wrapped_key",
                            noctis::keys::WRAPPED_LEN,
                            noctis::keys::WRAPPED_LEN,
                        )?
                        .to_vec(),
                ));
            }
            Some((
                r.salt.bounded("salt", 16, 16)?.to_vec(),
                r.argon2.map(Argon2::check).transpose()?,
                crate::secret::digest(TOKEN_LABEL, r.token.bounded("token", 32, 32)?),
                keys,
            ))
        }
        None => None,
    };
    let now = state.clock.now();
    let account = session.account_id;
    let (expiry, unlock) = (req.expiry, req.unlock);
    state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let row = owned(&tx, &id, account)?;
            if row.revoked {
                return Err(Error::Gone {
                    code: "revoked",
                    message: "This link was revoked; create a new one.",
                });
            }
            if let Some(change) = expiry {
                let mode = match (row.mode, change.expires_at) {
                    (Mode::OneTime, _) => Mode::OneTime,
                    (_, Some(_)) => Mode::Expiring,
                    (_, None) => Mode::Persistent,
                };
                check_expiry(mode, change.expires_at, now)?;
                tx.execute(
                    "UPDATE shares SET mode = ?2, expires_at = ?3, updated_at = ?4 WHERE id = ?1",
                    rusqlite::params![id, mode.as_str(), change.expires_at, now],
                )?;
            }
            if let Some((salt, argon2, token_hash, keys)) = rewrap {
                let mut held: Vec<i64> = tx
                    .prepare("SELECT idx FROM share_files WHERE share_id = ?1 ORDER BY idx")?
                    .query_map([&id], |r| r.get(0))?
                    .collect::<Result<_, _>>()?;
                let mut given: Vec<i64> = keys.iter().map(|(i, _)| *i).collect();
                given.sort_unstable();
                held.sort_unstable();
                if given != held {
                    return Err(Error::invalid(
                        "invalid_files",
                        "A new password must re-wrap every file of the link, once each.",
                    ));
                }
                let (m, t, p) = match argon2 {
                    Some(a) => (Some(a.m_kib), Some(a.t), Some(a.p)),
                    None => (None, None, None),
                };
                tx.execute(
                    "UPDATE shares SET salt = ?2, argon2_m_kib = ?3, argon2_t = ?4, argon2_p = ?5,
                         token_hash = ?6, failures = 0, next_attempt_at = 0, locked = 0,
                         updated_at = ?7
                     WHERE id = ?1",
                    rusqlite::params![id, salt, m, t, p, &token_hash[..], now],
                )?;
                for (idx, key) in keys {
                    tx.execute(
                        "UPDATE share_files SET wrapped_key = ?3 WHERE share_id = ?1 AND idx = ?2",
                        rusqlite::params![id, idx, key],
                    )?;
                }
            }
            if unlock {
                tx.execute(
                    "UPDATE shares SET failures = 0, next_attempt_at = 0, locked = 0,
                         updated_at = ?2 WHERE id = ?1",
                    rusqlite::params![id, now],
                )?;
            }
            let row = load(&tx, &id)?.ok_or(Error::NotFound)?;
            let view = view(&tx, row, now)?;
            tx.commit()?;
            Ok(view)
        })
        .await
        .map(Json)
}

/// Revokes a link: its wrapped keys and claims are deleted at once, and
/// whoever opens it is told it was revoked.
#[utoipa::path(delete, path = "/shares/{id}", tag = TAG,
    params(("id" = String, Path, description = "link id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn revoke_share(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
) -> Result<StatusCode, Error> {
    let id = share_id(&id)?;
    let now = state.clock.now();
    let account = session.account_id;
    state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            let row = owned(&tx, &id, account)?;
            if !row.revoked {
                tx.execute(
                    "UPDATE shares SET revoked_at = ?2, updated_at = ?2 WHERE id = ?1",
                    rusqlite::params![id, now],
                )?;
            }
            tx.execute("DELETE FROM share_claims WHERE share_id = ?1", [&id])?;
            tx.execute(
                "UPDATE share_files SET wrapped_key = X'' WHERE share_id = ?1",
                [&id],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

// ----------------------------------------------------------------- public

/// What anyone with the link may learn before the password: how to derive
/// the keys. Nothing about the files.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct ShareInfo {
    /// Whether a password is needed.
    password: bool,
    salt: B64,
    /// The password's Argon2id cost, when there is one.
    argon2: Option<Argon2>,
}

/// How to derive a link's keys; 410 says whether it expired, was revoked or
/// was used, 423 that it is locked.
#[utoipa::path(get, path = "/s/{id}", tag = TAG,
    params(("id" = String, Path, description = "link id")),
    responses((status = 200, body = ShareInfo), (status = 404, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody),
              (status = 423, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn share_info(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(id): Path<String>,
) -> Result<Json<ShareInfo>, Error> {
    state
        .limiter
        .check("share info", &client.key(), limits::SHARE_INFO_PER_CLIENT)?;
    let id = share_id(&id)?;
    let now = state.clock.now();
    state
        .db
        .call(move |conn| {
            settle_claims(conn, Some(&id), now)?;
            let row = load(conn, &id)?.ok_or(Error::UnknownLink)?;
            if let Some(refused) = row.refusal(now) {
                return Err(refused);
            }
            Ok(ShareInfo {
                password: row.argon2.is_some(),
                salt: B64(row.salt),
                argon2: row.argon2,
            })
        })
        .await
        .map(Json)
}

/// The access token derived from the link's secret (and password).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct ShareToken {
    /// 32 bytes.
    token: B64,
}

/// One shared file, for the opener.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SharedFile {
    /// Its position in the link.
    index: i64,
    /// Ciphertext bytes.
    size: u64,
    /// The file's encrypted metadata (sealed under its data key).
    metadata: B64,
    /// The data key wrapped under the link key.
    wrapped_key: B64,
}

/// What a correct token opens.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SharedFiles {
    files: Vec<SharedFile>,
    mode: Mode,
    expires_at: Option<i64>,
    /// Complete downloads still allowed; none means unlimited.
    downloads_left: Option<i64>,
}

fn token_of(req: &ShareToken) -> Result<Vec<u8>, Error> {
    Ok(req.token.bounded("token", 32, 32)?.to_vec())
}

/// Checks the token and returns the wrapped keys and metadata. A wrong
/// token is 401 (and counts toward the link's lock); too early after wrong
/// ones is 429 with `Retry-After`.
#[utoipa::path(post, path = "/s/{id}/open", tag = TAG, request_body = ShareToken,
    params(("id" = String, Path, description = "link id")),
    responses((status = 200, body = SharedFiles), (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody),
              (status = 423, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn open_share(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ShareToken>,
) -> Result<Json<SharedFiles>, Error> {
    let who = attempt(&state, &client)?;
    let id = share_id(&id)?;
    let token = token_of(&req)?;
    let now = state.clock.now();
    let result = state
        .db
        .call(move |conn| {
            settle_claims(conn, Some(&id), now)?;
            let row = load(conn, &id)?.ok_or(Error::UnknownLink)?;
            check_token(conn, &row, &token, now)?;
            let files = conn
                .prepare(
                    "SELECT sf.idx, f.size, f.metadata, sf.wrapped_key
                     FROM share_files sf JOIN files f ON f.id = sf.file_id
                     WHERE sf.share_id = ?1 ORDER BY sf.idx",
                )?
                .query_map([&id], |r| {
                    Ok(SharedFile {
                        index: r.get(0)?,
                        size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                        metadata: B64(r.get(2)?),
                        wrapped_key: B64(r.get(3)?),
                    })
                })?
                .collect::<Result<Vec<_>, _>>()?;
            if files.is_empty() {
                return Err(Error::Gone {
                    code: "revoked",
                    message: "The shared files were deleted by their owner.",
                });
            }
            Ok(SharedFiles {
                files,
                mode: row.mode,
                expires_at: row.expires_at,
                downloads_left: row.max_downloads.map(|m| (m - row.downloads).max(0)),
            })
        })
        .await;
    judge(&state, &who, &result);
    result.map(Json)
}

/// The per-client checks before a token is looked at: the bucket, then the
/// client's own growing delay. Returns the client's key.
fn attempt(state: &AppState, client: &ClientAddr) -> Result<String, Error> {
    let who = client.key();
    state
        .limiter
        .check("share attempt", &who, limits::SHARE_ATTEMPT_PER_CLIENT)?;
    state.penalties.check(&who, state.clock.now())?;
    Ok(who)
}

/// Counts a wrong token against the client, or clears its count.
fn judge<T>(state: &AppState, who: &str, result: &Result<T, Error>) {
    match result {
        // Not `Locked`: a locked link refuses the right password too.
        Err(Error::WrongPassword { .. }) => state.penalties.failed(who, state.clock.now()),
        Ok(_) => state.penalties.succeeded(who),
        Err(_) => {}
    }
}

/// A download claim.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct Claim {
    /// Send as `Authorization: Bearer <claim>` with each content request.
    claim: String,
    /// Seconds the claim survives without use.
    grace: i64,
}

/// Checks the token and claims one download. On a link with a download
/// limit (one-time links: 1), claims in progress count against it; when
/// none is left the answer is 410 (`used`, or `claimed` while someone else
/// is downloading).
#[utoipa::path(post, path = "/s/{id}/claim", tag = TAG, request_body = ShareToken,
    params(("id" = String, Path, description = "link id")),
    responses((status = 200, body = Claim), (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody),
              (status = 423, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn claim_share(
    State(state): State<AppState>,
    client: ClientAddr,
    Path(id): Path<String>,
    JsonBody(req): JsonBody<ShareToken>,
) -> Result<Json<Claim>, Error> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let who = attempt(&state, &client)?;
    let id = share_id(&id)?;
    let token = token_of(&req)?;
    let now = state.clock.now();
    let claim = crate::secret::random32();
    let claim_hash = crate::secret::digest(CLAIM_LABEL, &claim);
    let result = state
        .db
        .call(move |conn| {
            let tx = conn.transaction()?;
            settle_claims(&tx, Some(&id), now)?;
            let row = load(&tx, &id)?.ok_or(Error::UnknownLink)?;
            let checked = check_token(&tx, &row, &token, now);
            if checked.is_err() {
                // A wrong attempt is counted even though nothing is claimed.
                tx.commit()?;
                return checked;
            }
            // Completed claims are already counted in `downloads`.
            let (live, all): (i64, i64) = tx.query_row(
                "SELECT COUNT(*) FILTER (WHERE completed = 0), COUNT(*)
                 FROM share_claims WHERE share_id = ?1",
                [&id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if let Some(max) = row.max_downloads
                && row.downloads + live >= max
            {
                return Err(if live > 0 && max == 1 {
                    Error::Gone {
                        code: "claimed",
                        message: "Someone is downloading this one-time link right now; it \
                                  can be used only once.",
                    }
                } else {
                    Error::Gone {
                        code: "used",
                        message: "This link has already been used.",
                    }
                });
            }
            if all >= MAX_LIVE_CLAIMS {
                return Err(Error::RateLimited { retry_after: 60 });
            }
            tx.execute(
                "INSERT INTO share_claims
                     (claim_hash, share_id, created_at, expires_at, served, done)
                 VALUES (?1, ?2, ?3, ?4, 0, X'')",
                rusqlite::params![&claim_hash[..], id, now, now + CLAIM_GRACE],
            )?;
            tx.commit()?;
            Ok(())
        })
        .await;
    judge(&state, &who, &result);
    result?;
    Ok(Json(Claim {
        claim: URL_SAFE_NO_PAD.encode(claim),
        grace: CLAIM_GRACE,
    }))
}

fn bearer(headers: &HeaderMap) -> Result<[u8; 32], Error> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let value = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(claim_gone)?;
    let claim = URL_SAFE_NO_PAD
        .decode(value.trim().as_bytes())
        .map_err(|_| claim_gone())?;
    Ok(crate::secret::digest(CLAIM_LABEL, &claim))
}

/// One shared file's ciphertext, for the holder of a claim
/// (`Authorization: Bearer <claim>`); `Range` resumes a broken download.
/// Streaming a file to its last byte marks it done for the claim; when
/// every file of the link is done the download counts.
#[utoipa::path(get, path = "/s/{id}/files/{index}/content", tag = TAG,
    params(("id" = String, Path, description = "link id"),
           ("index" = i64, Path, description = "the file's position in the link")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 206, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 404, body = crate::error::ErrorBody),
              (status = 410, body = crate::error::ErrorBody),
              (status = 416, body = crate::error::ErrorBody)))]
pub(crate) async fn share_content(
    State(state): State<AppState>,
    Path((id, index)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let id = share_id(&id)?;
    // Parsed here, not by the extractor, so a bad index is the API's own
    // JSON 404 like any other position the link does not have.
    let index: i64 = index.parse().map_err(|_| Error::NotFound)?;
    let claim_hash = bearer(&headers)?;
    let now = state.clock.now();
    let share = id.clone();
    let (file_id, size, sha256, sent_whole) = state
        .db
        .call(move |conn| {
            let claim: Option<(i64, i64, bool, Vec<u8>)> = conn
                .query_row(
                    "SELECT created_at, expires_at, completed, done FROM share_claims
                     WHERE claim_hash = ?1 AND share_id = ?2",
                    rusqlite::params![&claim_hash[..], share],
                    |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                )
                .optional()?;
            let Some((created, expires, completed, done)) = claim else {
                return Err(claim_gone());
            };
            if expires <= now || created + CLAIM_LIFETIME <= now {
                return Err(claim_gone());
            }
            let row = load(conn, &share)?.ok_or(Error::UnknownLink)?;
            // A claim already made may finish on a link since locked (by
            // someone else's guesses) or used up (by this very claim).
            if let Some(refused) = row.refusal(now)
                && !matches!(row.state(now), ShareState::Locked | ShareState::Used)
            {
                return Err(refused);
            }
            let file = conn
                .query_row(
                    "SELECT f.id, f.size, f.sha256 FROM share_files sf
                     JOIN files f ON f.id = sf.file_id
                     WHERE sf.share_id = ?1 AND sf.idx = ?2",
                    rusqlite::params![share, index],
                    |r| {
                        Ok((
                            r.get::<_, String>(0)?,
                            u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                            crate::secret::to_hex(&r.get::<_, Vec<u8>>(2)?),
                        ))
                    },
                )
                .optional()?
                .ok_or(Error::NotFound)?;
            // This file already went out whole under this claim.
            Ok((file.0, file.1, file.2, completed || is_done(&done, index)))
        })
        .await?;
    let slice = match Wanted::from_headers(&headers, size, &sha256)? {
        Wanted::NotModified(response) => return Ok(response),
        Wanted::Bytes(slice) => slice,
    };
    // A file this claim already sent whole may only be fetched again as far
    // as a break at its very end can have lost.
    if sent_whole && (slice.start == 0 || slice.start < size.saturating_sub(COMPLETED_TAIL)) {
        return Err(Error::Gone {
            code: "used",
            message: "This link has already been used.",
        });
    }
    let blob = match state.blobs.open(&wire::blob_id(&file_id)?).await {
        Ok(blob) => blob,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(e) => return Err(Error::io("open a blob in", "the data directory", e)),
    };
    let progress = Progress {
        db: state.db.clone(),
        clock: state.clock.clone(),
        stream: state.streams.begin(claim_hash, index),
        streams: state.streams.clone(),
        claim_hash,
        share: id,
        index,
        reaches_end: slice.start + slice.len == slice.size,
        len: slice.len,
        sent: 0,
        reported: 0,
        last_touch: Instant::now(),
        finished: false,
    };
    slice
        .respond(blob, move |stream| {
            Body::from_stream(tracked(stream, progress))
        })
        .await
}

/// Whether the claim's `done` bits (a bit per position in the link) say
/// the file at `index` was sent whole.
fn is_done(done: &[u8], index: i64) -> bool {
    usize::try_from(index)
        .ok()
        .and_then(|i| done.get(i / 8).map(|b| b & (1 << (i % 8)) != 0))
        .unwrap_or(false)
}

fn claim_gone() -> Error {
    Error::Gone {
        code: "claim_expired",
        message: "This download is no longer valid; open the link again.",
    }
}

/// What a claim's download has done, reported to the database as it goes:
/// bytes sent, and whether this file went out to its last byte.
struct Progress {
    db: Db,
    clock: crate::clock::Clock,
    streams: std::sync::Arc<Streams>,
    /// This stream's number among those of its (claim, file).
    stream: u64,
    claim_hash: [u8; 32],
    share: String,
    index: i64,
    /// Whether this response ends at the file's last byte.
    reaches_end: bool,
    len: u64,
    sent: u64,
    reported: u64,
    last_touch: Instant,
    finished: bool,
}

impl Progress {
    /// The database work of a report; `complete` marks this file done,
    /// `refresh` restarts the claim's grace (a live stream does; a broken
    /// one does not, its grace runs from its last sign of life).
    fn job(
        &mut self,
        complete: bool,
        refresh: bool,
    ) -> impl FnOnce(&mut Connection) -> Result<(), Error> + Send + 'static {
        let served = i64::try_from(self.sent - self.reported).unwrap_or(i64::MAX);
        self.reported = self.sent;
        self.last_touch = Instant::now();
        let (hash, share, index, now) = (
            self.claim_hash,
            self.share.clone(),
            self.index,
            self.clock.now(),
        );
        move |conn| {
            record(
                conn,
                &hash,
                &share,
                index,
                served,
                complete,
                refresh.then_some(now),
            )
        }
    }
}

impl Drop for Progress {
    /// A download cut short still counts what it sent; the report cannot be
    /// awaited here, so it is spawned (and, arriving at an unknown time,
    /// leaves the claim's grace alone).
    fn drop(&mut self) {
        self.streams.end(self.claim_hash, self.index, self.stream);
        if self.finished || self.sent == self.reported {
            return;
        }
        let job = self.job(false, false);
        let db = self.db.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = db.call(job).await {
                    tracing::debug!(error = %e, "a share download's progress was not recorded");
                }
            });
        }
    }
}

/// Wraps a blob stream so that its progress reaches the claim. The first
/// piece waits until the database knows ciphertext went out (so a lapse
/// after it counts), and the final piece until it has counted the download
/// (so a client holding the last byte can rely on the link being spent). A
/// stream superseded by a newer request for the same file, or whose claim
/// is gone, ends with an error before its end.
fn tracked(
    stream: super::range::BlobStream,
    progress: Progress,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    futures_util::stream::unfold(
        (stream, progress),
        |(mut stream, mut progress)| async move {
            if progress.finished {
                return None;
            }
            let stop = |e: String| std::io::Error::other(e);
            let item = stream.next().await?;
            let chunk = match item {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(e), (stream, progress))),
            };
            if !progress
                .streams
                .is_current(progress.claim_hash, progress.index, progress.stream)
            {
                progress.finished = true;
                let e = stop("superseded by a newer request for this file".into());
                return Some((Err(e), (stream, progress)));
            }
            progress.sent += chunk.len() as u64;
            let last = progress.sent == progress.len && progress.reaches_end;
            if last || progress.reported == 0 || progress.last_touch.elapsed() >= TOUCH_EVERY {
                let job = progress.job(last, true);
                if let Err(e) = progress.db.call(job).await {
                    progress.finished = true;
                    return Some((Err(stop(e.to_string())), (stream, progress)));
                }
                progress.finished = last;
            }
            Some((Ok(chunk), (stream, progress)))
        },
    )
}

/// Records a claim's progress: bytes served, the file done, the grace
/// restarted from `now` if given (never past the claim's lifetime); when
/// every file of the link is done, the download counts and the claim is
/// marked completed. A report for a claim that is gone is an error, which
/// stops its stream.
fn record(
    conn: &mut Connection,
    claim_hash: &[u8; 32],
    share: &str,
    index: i64,
    served: i64,
    complete: bool,
    now: Option<i64>,
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    let Some((mut done, created, completed)) = tx
        .query_row(
            "SELECT done, created_at, completed FROM share_claims WHERE claim_hash = ?1",
            [&claim_hash[..]],
            |r| {
                Ok((
                    r.get::<_, Vec<u8>>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, bool>(2)?,
                ))
            },
        )
        .optional()?
    else {
        return Err(claim_gone()); // revoked, lapsed or spent meanwhile
    };
    if complete && let Ok(i) = usize::try_from(index) {
        // The files a claim sent whole: a bit per position in the link.
        if done.len() <= i / 8 {
            done.resize(i / 8 + 1, 0);
        }
        done[i / 8] |= 1 << (i % 8);
    }
    let held: Vec<i64> = tx
        .prepare("SELECT idx FROM share_files WHERE share_id = ?1")?
        .query_map([share], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let completes = !completed && complete && held.iter().all(|&i| is_done(&done, i));
    let expires = now.map(|t| (t + CLAIM_GRACE).min(created + CLAIM_LIFETIME));
    tx.execute(
        "UPDATE share_claims SET served = served + ?2, done = ?3, completed = ?4,
             expires_at = COALESCE(?5, expires_at)
         WHERE claim_hash = ?1",
        rusqlite::params![
            &claim_hash[..],
            served,
            done,
            completed || completes,
            expires
        ],
    )?;
    if completes {
        tx.execute(
            "UPDATE shares SET downloads = downloads + 1, updated_at = COALESCE(?2, updated_at)
             WHERE id = ?1",
            rusqlite::params![share, now],
        )?;
    }
    tx.commit()?;
    Ok(())
}
