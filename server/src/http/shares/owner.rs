//! The owner's side of share links, under `/api/shares`: create, list,
//! change expiry or password, unlock, revoke.

use crate::accounts::Argon2Rules as _;
use crate::http::wire::Bounded as _;
use api::shares::{CreateShare, LinkFile, ShareList, ShareView, UpdateShare};
use axum::{Json, extract::State, http::StatusCode};

use super::{
    super::{
        session::Session,
        wire::{Argon2, B64, JsonBody, PathArgs},
    },
    TAG,
};
use crate::{
    Error,
    shares::{
        links::{MAX_SHARE_FILES, PROOF_LABEL, TOKEN_LABEL, check_expiry, file_list_len, share_id},
        owner::{self, NewShare},
    },
    state::AppState,
    store::BlobId,
};

impl From<owner::Described> for ShareView {
    fn from(d: owner::Described) -> Self {
        let owner::Described {
            row,
            files,
            in_progress,
            state,
        } = d;
        ShareView {
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
            files: files
                .into_iter()
                .map(|(index, file_id)| LinkFile { index, file_id })
                .collect(),
            file_list: row.file_list.map(B64),
            created_at: row.created_at,
        }
    }
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
    let proof_hash = crate::secret::digest(PROOF_LABEL, req.proof.bounded("proof", 32, 32)?);
    let n = files.len();
    let file_list = req
        .file_list
        .bounded("file_list", file_list_len(n), file_list_len(n))?
        .to_vec();
    let argon2 = req.argon2.map(Argon2::check).transpose()?;
    let max_downloads = owner::allowed_downloads(req.mode, req.max_downloads)?;
    let now = state.clock.now();
    check_expiry(req.mode, req.expires_at, now)?;
    let new = NewShare {
        files,
        seed,
        salt,
        token_hash,
        proof_hash,
        file_list,
        argon2,
        mode: req.mode,
        expires_at: req.expires_at,
        max_downloads,
    };
    let view = ShareView::from(owner::create(&state.db, session.account_id, new, now).await?);
    Ok((StatusCode::CREATED, Json(view)))
}

/// Lists the caller's links, newest first, with their state and counts.
#[utoipa::path(get, path = "/shares", tag = TAG,
    responses((status = 200, body = ShareList), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn list_shares(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<ShareList>, Error> {
    let shares = owner::list(&state.db, session.account_id, state.clock.now())
        .await?
        .into_iter()
        .map(ShareView::from)
        .collect();
    Ok(Json(ShareList { shares }))
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
    PathArgs(id): PathArgs<String>,
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
            Some(owner::Rewrap {
                salt: r.salt.bounded("salt", 16, 16)?.to_vec(),
                argon2: r.argon2.map(Argon2::check).transpose()?,
                token_hash: crate::secret::digest(TOKEN_LABEL, r.token.bounded("token", 32, 32)?),
                file_list: match &r.file_list {
                    // Only bounded here: the owner's browser, which sealed
                    // it, checks it against the link's files.
                    Some(list) => Some(
                        list.bounded(
                            "file_list",
                            file_list_len(0),
                            file_list_len(MAX_SHARE_FILES),
                        )?
                        .to_vec(),
                    ),
                    None => None,
                },
                keys,
            })
        }
        None => None,
    };
    let new_expiry = req.expiry.is_some();
    let change = owner::Change {
        expires_at: req.expiry.map(|e| e.expires_at),
        rewrap,
        unlock: req.unlock,
    };
    let described = owner::update(
        &state.db,
        id.clone(),
        session.account_id,
        change,
        state.clock.now(),
    )
    .await?;
    // Downloads in flight learned the old expiry when they started: stop
    // them (a still-valid claim resumes with `Range` under the new one).
    if new_expiry {
        state.streams.stop_share(&id);
    }
    Ok(Json(ShareView::from(described)))
}

/// Revokes a link: its wrapped keys and claims are deleted at once, and
/// whoever opens it is told it was revoked.
#[utoipa::path(delete, path = "/shares/{id}", tag = TAG,
    params(("id" = String, Path, description = "link id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn revoke_share(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<StatusCode, Error> {
    let id = share_id(&id)?;
    owner::revoke(&state.db, id.clone(), session.account_id, state.clock.now()).await?;
    state.streams.stop_share(&id);
    Ok(StatusCode::NO_CONTENT)
}
