//! Accounts as an administrator manages them, under `/api/admin`: list
//! them with their usage, set a quota, disable and enable.

use api::accounts::{AccountPage, AccountSummary, ListAccounts, UpdateAccount};
use axum::{Json, extract::State};

use super::{
    session::Session,
    wire::{JsonBody, PathArgs, QueryArgs},
};
use crate::{Error, accounts::admin, state::AppState};

/// Administration is documented with the accounts it manages.
const TAG: &str = "accounts";

fn view(s: admin::Summary, default_quota: u64) -> AccountSummary {
    AccountSummary {
        quota: s.own_quota.unwrap_or(default_quota),
        username: s.username,
        is_admin: s.is_admin,
        created_at: s.created_at,
        files: s.files,
        used: s.used,
        own_quota: s.own_quota,
        disabled: s.disabled,
    }
}

/// Accounts by name with their usage, a page at a time (administrators
/// only).
#[utoipa::path(get, path = "/admin/accounts", tag = TAG, params(ListAccounts),
    responses((status = 200, body = AccountPage), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody)))]
pub(crate) async fn list_accounts(
    State(state): State<AppState>,
    session: Session,
    QueryArgs(q): QueryArgs<ListAccounts>,
) -> Result<Json<AccountPage>, Error> {
    session.require_admin()?;
    let limit = q.limit.unwrap_or(admin::DEFAULT_PAGE);
    let (list, next) = admin::list(&state.db, q.after, limit).await?;
    Ok(Json(AccountPage {
        accounts: list.into_iter().map(|s| view(s, state.quota)).collect(),
        next,
    }))
}

/// Sets an account's quota (or returns it to the default), disables or
/// enables it (administrators only). Disabling ends its sessions and its
/// links' downloads in flight at once; its files stay.
#[utoipa::path(patch, path = "/admin/accounts/{username}", tag = TAG,
    params(("username" = String, Path, description = "the account's name")),
    request_body = UpdateAccount,
    responses((status = 200, body = AccountSummary), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody),
              (status = 404, body = crate::error::ErrorBody),
              (status = 409, body = crate::error::ErrorBody)))]
pub(crate) async fn update_account(
    State(state): State<AppState>,
    session: Session,
    PathArgs(username): PathArgs<String>,
    JsonBody(req): JsonBody<UpdateAccount>,
) -> Result<Json<AccountSummary>, Error> {
    session.require_admin()?;
    if req.clear_quota && req.quota.is_some() {
        return Err(Error::invalid(
            "invalid_body",
            "Give either `quota` or `clear_quota`, not both.",
        ));
    }
    let change = admin::Change {
        quota: if req.clear_quota {
            Some(None)
        } else {
            req.quota.map(Some)
        },
        disabled: req.disabled,
    };
    let (summary, links) = admin::update(
        &state.db,
        session.account_id,
        username.to_lowercase(),
        change,
    )
    .await?;
    // A disabled owner's links stop serving at once, downloads in flight
    // included (at their next piece).
    for link in &links {
        state.streams.stop_share(link);
    }
    tracing::info!(
        disabled = summary.disabled,
        "account changed by an administrator"
    );
    Ok(Json(view(summary, state.quota)))
}
