//! Uploads under `/api/uploads`: create one (size limit and quota checked
//! first), send its parts in any order, see what the server holds (to
//! resume), cancel. Finishing one makes a file (`http::files`).

use crate::http::wire::Bounded as _;
use api::files::{CreateUpload, PartView, UploadView};
use axum::{
    Json,
    body::Body,
    extract::State,
    http::{HeaderMap, StatusCode, header},
};
use futures_util::StreamExt;

use super::{
    session::Session,
    wire::{B64, JsonBody, PathArgs, blob_id},
};
use crate::{
    Error,
    files::{DEFAULT_PART, MAX_METADATA, MAX_PART, MAX_WRAPPED_KEY, MIN_PART, uploads},
    state::AppState,
    store::{BlobId, BlobStore as _, Written},
};

/// Uploads are documented with the files they become.
const TAG: &str = "files";

/// Starts an upload: checks the file size limit and the quota against the
/// declared size (413 beyond them) before anything is stored.
#[utoipa::path(post, path = "/uploads", tag = TAG, request_body = CreateUpload,
    responses((status = 201, body = UploadView), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub(crate) async fn create_upload(
    State(state): State<AppState>,
    session: Session,
    JsonBody(req): JsonBody<CreateUpload>,
) -> Result<(StatusCode, Json<UploadView>), Error> {
    let part_size = req.part_size.unwrap_or(DEFAULT_PART);
    if !(MIN_PART..=MAX_PART).contains(&part_size) {
        return Err(Error::invalid(
            "invalid_part_size",
            format!("`part_size` must be between {MIN_PART} and {MAX_PART} bytes"),
        ));
    }
    // The smallest file in the format: its header and one empty chunk's tag.
    let smallest = noctis::format::HEADER_LEN as u64 + 16;
    if req.size < smallest {
        return Err(Error::invalid(
            "too_small",
            format!("A file in Nocturne's format is at least {smallest} bytes."),
        ));
    }
    if req.size > state.max_file_size {
        return Err(Error::TooLarge {
            code: "file_too_large",
            message: format!(
                "This server takes files of at most {} bytes; this one is {} bytes.",
                state.max_file_size, req.size
            ),
        });
    }
    let metadata = req.metadata.bounded("metadata", 1, MAX_METADATA)?.to_vec();
    let wrapped_key = req
        .wrapped_key
        .bounded("wrapped_key", noctis::keys::WRAPPED_LEN, MAX_WRAPPED_KEY)?
        .to_vec();
    let id = BlobId::random();
    let size = req.size;
    let new = uploads::NewUpload {
        id: id.to_string(),
        size,
        part_size,
        metadata,
        wrapped_key,
    };
    let (created_at, expires_at) =
        uploads::create(&state.db, session.account_id, new, state.quota).await?;
    if let Err(e) = state.blobs.stage(&id, size).await {
        // Undo the row so the quota is not held by an upload with no file.
        let _ = uploads::drop_row(&state.db, id.to_string()).await;
        return Err(Error::io("stage an upload in", "the data directory", e));
    }
    Ok((
        StatusCode::CREATED,
        Json(UploadView {
            id: id.to_string(),
            size,
            part_size,
            parts: uploads::part_count(size, part_size),
            received: Vec::new(),
            metadata: req.metadata,
            wrapped_key: req.wrapped_key,
            created_at,
            expires_at,
        }),
    ))
}

/// Stores one part at its offset (any order; a retry replaces it). The body
/// must be exactly the part's length: `part_size`, or what is left for the
/// last part.
#[utoipa::path(put, path = "/uploads/{id}/parts/{index}", tag = TAG,
    params(("id" = String, Path, description = "upload id"), ("index" = u64, Path, description = "part number, from 0")),
    request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    responses((status = 200, body = PartView), (status = 400, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody), (status = 413, body = crate::error::ErrorBody)))]
pub(crate) async fn put_part(
    State(state): State<AppState>,
    session: Session,
    PathArgs((id, index)): PathArgs<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<PartView>, Error> {
    let id = blob_id(&id)?;
    let index: u64 = index
        .parse()
        .map_err(|_| Error::invalid("invalid_part", "A part number is a whole number from 0."))?;
    let (size, part_size) = uploads::sizes(&state.db, id.to_string(), session.account_id).await?;
    // Held until the part is recorded, so no finish or cancel runs between
    // its write and its row.
    let _writing = state.uploads.writer(&id)?;
    let expected = uploads::part_len(size, part_size, index).ok_or_else(|| {
        Error::invalid(
            "invalid_part",
            format!(
                "This upload has parts 0 to {}",
                uploads::part_count(size, part_size) - 1
            ),
        )
    })?;
    if let Some(declared) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        if declared > expected {
            return Err(Error::TooLarge {
                code: "part_too_large",
                message: format!("Part {index} must be {expected} bytes, not {declared}."),
            });
        }
        if declared != expected {
            return Err(Error::invalid(
                "wrong_part_length",
                format!("Part {index} must be {expected} bytes, not {declared}."),
            ));
        }
    }
    // A second hold the store drops only once no write can still land, even
    // if this request is dropped half-way.
    let landing = state.uploads.writer(&id)?;
    let stream = body
        .into_data_stream()
        .map(|chunk| chunk.map_err(std::io::Error::other));
    let written = state
        .blobs
        .write_part(&id, index * part_size, expected, stream, landing)
        .await;
    let hash = match written {
        Ok(Written { len, sha256 }) if len == expected => sha256,
        Ok(Written { len, .. }) => {
            return Err(Error::invalid(
                "wrong_part_length",
                format!("Part {index} must be {expected} bytes, not {len}."),
            ));
        }
        Err(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            return Err(Error::TooLarge {
                code: "part_too_large",
                message: format!("Part {index} must be {expected} bytes."),
            });
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotFound),
        Err(e) => {
            // A broken connection mid-part is the client's; anything else is ours.
            if e.get_ref().is_some_and(|inner| inner.is::<axum::Error>()) {
                return Err(Error::invalid(
                    "incomplete_part",
                    "The part's body was cut off; send it again.",
                ));
            }
            return Err(Error::io(
                "write an upload part in",
                "the data directory",
                e,
            ));
        }
    };
    let row_id = id.to_string();
    uploads::record_part(&state.db, row_id, index, hash).await?;
    Ok(Json(PartView {
        index,
        sha256: crate::secret::to_hex(&hash),
    }))
}

/// An upload in progress, with the parts received so far.
#[utoipa::path(get, path = "/uploads/{id}", tag = TAG,
    params(("id" = String, Path, description = "upload id")),
    responses((status = 200, body = UploadView), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn get_upload(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<Json<UploadView>, Error> {
    let id = blob_id(&id)?.to_string();
    uploads::get(&state.db, id, session.account_id)
        .await?
        .map(|u| Json(UploadView::from(u)))
        .ok_or(Error::NotFound)
}

/// Every upload in progress, to resume after a reload.
#[utoipa::path(get, path = "/uploads", tag = TAG,
    responses((status = 200, body = Vec<UploadView>), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn list_uploads(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<UploadView>>, Error> {
    let list = uploads::list(&state.db, session.account_id).await?;
    Ok(Json(list.into_iter().map(UploadView::from).collect()))
}

/// Cancels an upload and frees what it held.
#[utoipa::path(delete, path = "/uploads/{id}", tag = TAG,
    params(("id" = String, Path, description = "upload id")),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn cancel_upload(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<StatusCode, Error> {
    let id = blob_id(&id)?;
    let _cancelling = state.uploads.exclusive(&id)?;
    if !uploads::cancel(&state.db, id.to_string(), session.account_id).await? {
        return Err(Error::NotFound);
    }
    let _ = state.blobs.discard_staged(&id).await;
    Ok(StatusCode::NO_CONTENT)
}

impl From<uploads::Upload> for UploadView {
    fn from(u: uploads::Upload) -> Self {
        UploadView {
            parts: u.parts(),
            received: u
                .received
                .into_iter()
                .map(|p| PartView {
                    index: p.index,
                    sha256: crate::secret::to_hex(&p.sha256),
                })
                .collect(),
            id: u.id,
            size: u.size,
            part_size: u.part_size,
            metadata: B64(u.metadata),
            wrapped_key: B64(u.wrapped_key),
            created_at: u.created_at,
            expires_at: u.expires_at,
        }
    }
}
