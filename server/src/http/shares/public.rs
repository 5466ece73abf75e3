//! The public side of share links, under `/api/s/{id}`: how to derive the
//! keys, open with the access token, claim a download, stream a file.

use crate::http::wire::Bounded as _;
use api::shares::{Claim, ShareInfo, ShareToken, SharedFile, SharedFiles};
use std::time::Instant;

use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, header},
    response::Response,
};

use super::{
    super::{
        client::ClientAddr,
        range::Wanted,
        wire::{self, B64, JsonBody, PathArgs},
    },
    TAG,
    stream::{Progress, tracked},
};
use crate::{
    Error, limits,
    shares::{
        links::{CLAIM_GRACE, CLAIM_LABEL, COMPLETED_TAIL, share_id},
        public::{self, claim_gone},
    },
    state::AppState,
};

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
    PathArgs(id): PathArgs<String>,
) -> Result<Json<ShareInfo>, Error> {
    state.limiter.check(
        "share info",
        &state.limiter.client_key(client.0),
        limits::SHARE_INFO_PER_CLIENT,
    )?;
    let id = share_id(&id)?;
    let row = public::info(&state.db, id, state.clock.now()).await?;
    Ok(Json(ShareInfo {
        password: row.argon2.is_some(),
        salt: B64(row.salt),
        argon2: row.argon2,
    }))
}

fn token_of(req: &ShareToken) -> Result<public::Attempt, Error> {
    Ok(public::Attempt {
        token: req.token.bounded("token", 32, 32)?.to_vec(),
        proof: match &req.proof {
            Some(p) => Some(p.bounded("proof", 32, 32)?.to_vec()),
            None => None,
        },
    })
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
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<ShareToken>,
) -> Result<Json<SharedFiles>, Error> {
    let who = attempt(&state, &client)?;
    let id = share_id(&id)?;
    let token = token_of(&req)?;
    let now = state.clock.now();
    let result = public::open(&state.db, id, token, now)
        .await
        .map(|(row, files)| SharedFiles {
            files: files
                .into_iter()
                .map(|f| SharedFile {
                    index: f.index,
                    size: f.size,
                    metadata: B64(f.metadata),
                    wrapped_key: B64(f.wrapped_key),
                })
                .collect(),
            mode: row.mode,
            expires_at: row.expires_at,
            downloads_left: row.max_downloads.map(|m| (m - row.downloads).max(0)),
        });
    judge(&state, &who, &result);
    result.map(Json)
}

/// The per-client checks before a token is looked at: the bucket, then the
/// client's own growing delay. Returns the client's key.
fn attempt(state: &AppState, client: &ClientAddr) -> Result<String, Error> {
    let who = state.limiter.client_key(client.0);
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
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<ShareToken>,
) -> Result<Json<Claim>, Error> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let who = attempt(&state, &client)?;
    let id = share_id(&id)?;
    let token = token_of(&req)?;
    let now = state.clock.now();
    let claim = crate::secret::random32();
    let claim_hash = crate::secret::digest(CLAIM_LABEL, &claim);
    let result = public::claim(&state.db, id, token, claim_hash, now).await;
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
    PathArgs((id, index)): PathArgs<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let id = share_id(&id)?;
    // Parsed here, not by the extractor, so a bad index is the API's own
    // JSON 404 like any other position the link does not have.
    let index: i64 = index.parse().map_err(|_| Error::NotFound)?;
    let claim_hash = bearer(&headers)?;
    let now = state.clock.now();
    let public::ClaimedFile {
        file_id,
        size,
        sha256,
        sent_whole,
        refetched,
        ends_at,
    } = public::claimed_file(&state.db, id.clone(), index, claim_hash, now).await?;
    let sha256 = crate::secret::to_hex(&sha256);
    let slice = match Wanted::from_headers(&headers, size, &sha256)? {
        Wanted::NotModified(response) => return Ok(response),
        Wanted::Bytes(slice) => slice,
    };
    // A file this claim already sent whole may be fetched again only as far
    // as a connection breaking at its very end can have lost (its last MiB,
    // or all of a smaller file), once, and without extending the claim.
    let used = || Error::Gone {
        code: "used",
        message: "This link has already been used.",
    };
    if sent_whole {
        if refetched || slice.start < size.saturating_sub(COMPLETED_TAIL) {
            return Err(used());
        }
        if !public::take_refetch(&state.db, claim_hash, index).await? {
            return Err(used());
        }
    }
    let blob = wire::blob_id(&file_id)?;
    let stream = crate::files::content(
        &state.blobs,
        state.mesh.as_ref(),
        &blob,
        slice.start,
        slice.len,
    )
    .await?
    .ok_or(Error::NotFound)?;
    let progress = Progress {
        db: state.db.clone(),
        clock: state.clock.clone(),
        stream: state.streams.begin(claim_hash, index, &id),
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
        extends_grace: !sent_whole,
        ends_at,
    };
    slice.respond(stream, move |stream| {
        Body::from_stream(tracked(stream, progress))
    })
}
