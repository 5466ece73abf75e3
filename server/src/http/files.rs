//! Encrypted files: resumable uploads, listing, ranged downloads, rename and
//! delete, each scoped to its owner (another account's id is a 404).
//!
//! An upload declares its total ciphertext size up front, so the file size
//! limit and the quota are checked before a byte is stored; the declared
//! size is counted against the quota until the upload finishes or expires.
//! Parts are fixed-size slices (the last one shorter) written at their
//! offsets in any order and retried at will; the server records each part's
//! SHA-256 as it streams in. Finishing re-reads the staged file, checks each
//! part against its record and the whole against the client's hash, then
//! commits the blob (fsync, rename) before the database row appears.

use crate::http::wire::Bounded as _;
use api::{
    files::{FileList, FileView, FinishUpload, ListFiles, UpdateFile},
    mesh::MeshHealth,
};
use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode},
    response::Response,
};

use super::{
    range::Wanted,
    session::Session,
    wire::{B64, JsonBody, PathArgs, QueryArgs, blob_id},
};
use crate::{
    Error,
    files::{self, MAX_METADATA, uploads},
    state::AppState,
    store::BlobStore as _,
};

pub(crate) const TAG: &str = "files";

fn hex32(text: &str) -> Result<[u8; 32], Error> {
    let bad = || Error::invalid("invalid_hash", "`digest` must be 64 hex digits");
    if text.len() != 64 {
        return Err(bad());
    }
    let mut out = [0u8; 32];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2).ok_or_else(bad)?, 16)
            .map_err(|_| bad())?;
    }
    Ok(out)
}

impl From<files::File> for FileView {
    fn from(f: files::File) -> Self {
        FileView {
            id: f.id,
            size: f.size,
            sha256: crate::secret::to_hex(&f.sha256),
            metadata: B64(f.metadata),
            wrapped_key: B64(f.wrapped_key),
            created_at: f.created_at,
            updated_at: f.updated_at,
            mesh: None,
        }
    }
}

/// Checks that every part arrived and that the digest over their hashes is
/// the client's, then commits the blob and creates the file; nothing is
/// read again.
#[utoipa::path(post, path = "/uploads/{id}/finish", tag = TAG,
    params(("id" = String, Path, description = "upload id")), request_body = FinishUpload,
    responses((status = 201, body = FileView), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn finish_upload(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<FinishUpload>,
) -> Result<(StatusCode, Json<FileView>), Error> {
    let id = blob_id(&id)?;
    let claimed = hex32(&req.digest)?;
    let guard = state.uploads.exclusive(&id)?;
    // The work runs in its own task, holding the upload: a client that
    // disconnects, or the request deadline, cannot stop it half-way between
    // the commit and the row.
    let task = tokio::spawn(uploads::finish(
        state.db.clone(),
        state.blobs.clone(),
        session.account_id,
        id,
        claimed,
        req.size,
        guard,
    ));
    let file = task.await.map_err(|_| {
        Error::io(
            "finish an upload in",
            "the data directory",
            std::io::Error::other("the finishing task failed"),
        )
    })??;
    if let Some(mesh) = &state.mesh {
        mesh.wake();
    }
    Ok((StatusCode::CREATED, Json(FileView::from(file))))
}

/// Lists the caller's files, newest first, a page at a time.
#[utoipa::path(get, path = "/files", tag = TAG, params(ListFiles),
    responses((status = 200, body = FileList), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn list_files(
    State(state): State<AppState>,
    session: Session,
    QueryArgs(page): QueryArgs<ListFiles>,
) -> Result<Json<FileList>, Error> {
    let after = match page.after.as_deref() {
        None | Some("") => None,
        Some(s) => Some(files::Cursor::parse(s).ok_or_else(|| {
            Error::invalid(
                "invalid_cursor",
                "`after` is not a `next` this server handed out.",
            )
        })?),
    };
    let limit = page.limit.unwrap_or(files::DEFAULT_PAGE);
    let listing = files::list(&state.db, session.account_id, after, limit, state.quota).await?;
    let health = match &state.mesh {
        Some(mesh) => {
            let ids = listing.files.iter().map(|f| f.id.clone()).collect();
            mesh.health(session.account_id, ids).await?
        }
        None => Default::default(),
    };
    Ok(Json(FileList {
        files: listing
            .files
            .into_iter()
            .map(|f| {
                let mesh = health
                    .get(&f.id)
                    .map(|&(healthy, total, local)| MeshHealth {
                        healthy,
                        total,
                        local,
                    });
                FileView {
                    mesh,
                    ..FileView::from(f)
                }
            })
            .collect(),
        next: listing.next.map(|c| c.to_string()),
        total: listing.total,
        used: listing.used,
        quota: listing.quota,
    }))
}

async fn owned_file(state: &AppState, session: &Session, id: &str) -> Result<FileView, Error> {
    let id = blob_id(id)?.to_string();
    files::get(&state.db, id, session.account_id)
        .await?
        .map(FileView::from)
        .ok_or(Error::NotFound)
}

/// One file.
#[utoipa::path(get, path = "/files/{id}", tag = TAG,
    params(("id" = String, Path, description = "file id")),
    responses((status = 200, body = FileView), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_file(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<Json<FileView>, Error> {
    owned_file(&state, &session, &id).await.map(Json)
}

/// The ciphertext, streamed; `Range: bytes=a-b` gives 206 with that slice
/// (one range; several are answered with the whole file), `If-None-Match`
/// with the ETag gives 304, `If-Range` is honoured.
#[utoipa::path(get, path = "/files/{id}/content", tag = TAG,
    params(("id" = String, Path, description = "file id")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 206, content_type = "application/octet-stream", body = Vec<u8>),
              (status = 304), (status = 404, body = crate::error::ErrorBody),
              (status = 416, body = crate::error::ErrorBody)))]
pub(crate) async fn download(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let file = owned_file(&state, &session, &id).await?;
    let slice = match Wanted::from_headers(&headers, file.size, &file.sha256)? {
        Wanted::NotModified(response) => return Ok(response),
        Wanted::Bytes(slice) => slice,
    };
    let blob_id = blob_id(&file.id)?;
    let content = files::content(
        &state.blobs,
        state.mesh.as_ref(),
        &blob_id,
        slice.start,
        slice.len,
    )
    .await?;
    let Some(stream) = content else {
        // Deleted between the row lookup and here: gone, like the row.
        let (id, account) = (file.id.clone(), session.account_id);
        if files::get(&state.db, id, account).await?.is_some() {
            tracing::error!(file = %file.id, "a listed file's content is missing");
            return Err(Error::io(
                "open a blob in",
                "the data directory",
                std::io::ErrorKind::NotFound.into(),
            ));
        }
        return Err(Error::NotFound);
    };
    slice.respond(stream, Body::from_stream)
}

/// Replaces a file's encrypted metadata (rename).
#[utoipa::path(patch, path = "/files/{id}", tag = TAG,
    params(("id" = String, Path, description = "file id")), request_body = UpdateFile,
    responses((status = 200, body = FileView), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 413, body = crate::error::ErrorBody)))]
pub(crate) async fn update_file(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
    JsonBody(req): JsonBody<UpdateFile>,
) -> Result<Json<FileView>, Error> {
    let id = blob_id(&id)?.to_string();
    let metadata = req.metadata.bounded("metadata", 1, MAX_METADATA)?.to_vec();
    let file =
        files::set_metadata(&state.db, id, session.account_id, metadata, state.quota).await?;
    Ok(Json(FileView::from(file)))
}

/// Deletes a file: the row first, then the blob. A crash in between leaves
/// a blob without a row, which the startup check removes.
#[utoipa::path(delete, path = "/files/{id}", tag = TAG,
    params(("id" = String, Path, description = "file id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn delete_file(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<StatusCode, Error> {
    let blob = blob_id(&id)?;
    if !files::forget(&state.db, blob.to_string(), session.account_id).await? {
        return Err(Error::NotFound);
    }
    if let Err(e) = state.blobs.delete(&blob).await {
        tracing::warn!(error = %e, "a deleted file's blob stays until the next startup check");
    }
    Ok(StatusCode::NO_CONTENT)
}
