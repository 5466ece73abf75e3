//! Invites under `/api/invites`, for administrators only: create one (its
//! code shown once), list the pending ones, revoke one.

use api::accounts::{Invite, PendingInvite};
use axum::{Json, extract::State, http::StatusCode};

use super::{session::Session, wire::PathArgs};
use crate::{Error, accounts::invites, state::AppState};

/// Invites are documented with the accounts they admit.
const TAG: &str = "accounts";

/// Creates an invite code (administrators only). The server keeps only its
/// hash; it works once, for seven days.
#[utoipa::path(post, path = "/invites", tag = TAG,
    responses((status = 201, body = Invite), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn create_invite(
    State(state): State<AppState>,
    session: Session,
) -> Result<(StatusCode, Json<Invite>), Error> {
    session.require_admin()?;
    let invites::NewInvite { code, expires_at } =
        invites::create(&state.db, session.account_id).await?;
    Ok((StatusCode::CREATED, Json(Invite { code, expires_at })))
}

/// The pending invites, newest first (administrators only).
#[utoipa::path(get, path = "/invites", tag = TAG,
    responses((status = 200, body = Vec<PendingInvite>), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn list_invites(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<Vec<PendingInvite>>, Error> {
    session.require_admin()?;
    let list = invites::pending(&state.db)
        .await?
        .into_iter()
        .map(|p| PendingInvite {
            id: crate::secret::to_hex(&p.hash),
            created_at: p.created_at,
            expires_at: p.expires_at,
        })
        .collect();
    Ok(Json(list))
}

/// Revokes a pending invite: its code stops working at once.
#[utoipa::path(delete, path = "/invites/{id}", tag = TAG,
    params(("id" = String, Path, description = "the invite's id from the list")),
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody)))]
pub(crate) async fn revoke_invite(
    State(state): State<AppState>,
    session: Session,
    PathArgs(id): PathArgs<String>,
) -> Result<StatusCode, Error> {
    session.require_admin()?;
    let hash = crate::secret::from_hex(&id)
        .filter(|h| h.len() == 32)
        .ok_or(Error::NotFound)?;
    if !invites::revoke(&state.db, hash).await? {
        return Err(Error::NotFound);
    }
    tracing::info!("invite revoked");
    Ok(StatusCode::NO_CONTENT)
}
