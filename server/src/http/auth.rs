//! Accounts: register, key-derivation parameters, log in and out, recovery,
//! password change, account deletion and invites.
//!
//! The browser derives everything from the password with Argon2id and sends
//! only the auth key; the server keeps its SHA-256. The master key arrives
//! and leaves only wrapped (under the password's key-encryption key, and
//! under the recovery key). The recovery key authorises a reset through a
//! recovery auth token derived from it, of which the server also keeps only
//! a hash. Nothing stored here decrypts anything.

use crate::accounts::Argon2Rules as _;
use crate::http::wire::Bounded as _;
use api::accounts::{
    AccountDetails, AccountView, ChangePasswordRequest, DeleteAccountRequest, KeyParams,
    LoginRequest, LoginResponse, NewPassword, ParamsRequest, RecoveryKeyRequest,
    RecoveryKeyResponse, RecoveryResetRequest, RegisterRequest,
};
use axum::{
    Json,
    extract::State,
    http::{StatusCode, header},
    response::{IntoResponse, Response},
};
use hmac::{KeyInit as _, Mac as _};

use super::{
    client::ClientAddr,
    session::{self, Session},
    wire::{Argon2, B64, JsonBody},
};
use crate::{
    Error,
    accounts::{self, NewAccount, PasswordMaterial, invites},
    limits,
    state::AppState,
};

/// The tag the API uses for these routes in the OpenAPI document.
pub(crate) const TAG: &str = "accounts";

const AUTH_LABEL: &str = "nocturne auth key";
const RECOVERY_LABEL: &str = "nocturne recovery auth";

/// A username: 1–64 of `a–z 0–9 . _ -`, starting with a letter or digit,
/// compared case-insensitively (stored lowercase).
pub(crate) fn username(raw: &str) -> Result<String, Error> {
    let name = raw.trim().to_ascii_lowercase();
    let ok = (1..=64).contains(&name.len())
        && name.starts_with(|c: char| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(name)
    } else {
        Err(Error::invalid(
            "invalid_username",
            "A username is 1 to 64 letters, digits, dots, dashes or underscores, \
             starting with a letter or digit.",
        ))
    }
}

/// The Argon2id salt and cost for an account. An unknown username gets a
/// salt derived from the server secret and the name, stable across calls,
/// so the answer does not reveal whether the account exists.
#[utoipa::path(post, path = "/auth/params", tag = TAG,
    request_body = ParamsRequest,
    responses((status = 200, body = KeyParams), (status = 400, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn params(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(req): JsonBody<ParamsRequest>,
) -> Result<Json<KeyParams>, Error> {
    state.limiter.check(
        "params",
        &state.limiter.client_key(client.0),
        limits::PARAMS_PER_CLIENT,
    )?;
    let name = username(&req.username)?;
    let found = accounts::key_params(&state.db, name.clone())
        .await?
        .map(|(salt, argon2)| KeyParams {
            salt: B64(salt),
            argon2,
        });
    Ok(Json(found.unwrap_or_else(|| KeyParams {
        salt: B64(fake(&state, "salt", &name)),
        argon2: Argon2::default_params(),
    })))
}

/// A stable stand-in for an unknown account's public values.
fn fake(state: &AppState, what: &str, name: &str) -> Vec<u8> {
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(state.secret.expose())
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(b"nocturne fake ");
    mac.update(what.as_bytes());
    mac.update(&[0]);
    mac.update(name.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

/// Creates an account. The first account on a server becomes its
/// administrator and needs no invite; after that `NOCTURNE_REGISTRATION`
/// decides. Returns nothing secret: the recovery key was made in the browser.
#[utoipa::path(post, path = "/auth/register", tag = TAG,
    request_body = RegisterRequest,
    responses((status = 201, body = AccountView), (status = 400, body = crate::error::ErrorBody),
              (status = 403, body = crate::error::ErrorBody), (status = 409, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn register(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(req): JsonBody<RegisterRequest>,
) -> Result<(StatusCode, Json<AccountView>), Error> {
    state.limiter.check(
        "register",
        &state.limiter.client_key(client.0),
        limits::REGISTER_PER_CLIENT,
    )?;
    let name = username(&req.username)?;
    let argon2 = req.argon2.check()?;
    let salt = req.salt.bounded("salt", 16, 64)?.to_vec();
    let auth_hash = crate::secret::digest(AUTH_LABEL, req.auth_key.bounded("auth_key", 32, 32)?);
    let by_password = req
        .master_by_password
        .bounded("master_by_password", noctis::keys::WRAPPED_LEN, 256)?
        .to_vec();
    let by_recovery = req
        .master_by_recovery
        .bounded("master_by_recovery", noctis::keys::WRAPPED_LEN, 256)?
        .to_vec();
    let recovery_hash = crate::secret::digest(
        RECOVERY_LABEL,
        req.recovery_auth.bounded("recovery_auth", 32, 32)?,
    );
    let invite = req
        .invite
        .as_deref()
        .map(|code| crate::secret::digest(invites::LABEL, code.trim().as_bytes()));
    let view_name = name.clone();
    let account = NewAccount {
        username: name,
        salt,
        argon2,
        auth_hash,
        master_by_password: by_password,
        master_by_recovery: by_recovery,
        recovery_hash,
        invite,
    };
    let is_admin = accounts::register(&state.db, account, state.registration).await?;
    tracing::info!(admin = is_admin, "account registered");
    Ok((
        StatusCode::CREATED,
        Json(AccountView {
            username: view_name,
            is_admin,
        }),
    ))
}

/// Checks the auth key and starts a session: a cookie, or a bearer token
/// when asked. A wrong password and an unknown username are the same 401.
#[utoipa::path(post, path = "/auth/login", tag = TAG,
    request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn login(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(req): JsonBody<LoginRequest>,
) -> Result<Response, Error> {
    let who = state.limiter.client_key(client.0);
    state
        .limiter
        .check("login", &who, limits::LOGIN_PER_CLIENT)?;
    let name = username(&req.username)?;
    let presented = crate::secret::digest(AUTH_LABEL, req.auth_key.bounded("auth_key", 32, 32)?);
    let accounts::Login {
        id,
        is_admin,
        master_by_password: wrapped,
    } = guarded(
        &state,
        "login",
        &name,
        &who,
        accounts::log_in(&state.db, name.clone(), presented),
    )
    .await?;
    let token = session::start(&state, id).await?;
    let body = LoginResponse {
        username: name,
        is_admin,
        master_by_password: B64(wrapped),
        token: req.token.then(|| token.clone()),
    };
    if req.token {
        Ok(Json(body).into_response())
    } else {
        Ok((
            [(
                header::SET_COOKIE,
                session::cookie(Some(&token), state.trust_proxy),
            )],
            Json(body),
        )
            .into_response())
    }
}

/// Ends the caller's session and clears the cookie.
#[utoipa::path(post, path = "/auth/logout", tag = TAG,
    responses((status = 204), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn logout(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, Error> {
    session.end(&state).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::cookie(None, state.trust_proxy))],
    )
        .into_response())
}

/// Checks the recovery auth token and returns the recovery-wrapped master
/// key, which only the recovery key unwraps.
#[utoipa::path(post, path = "/auth/recovery/key", tag = TAG,
    request_body = RecoveryKeyRequest,
    responses((status = 200, body = RecoveryKeyResponse), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn recovery_key(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(req): JsonBody<RecoveryKeyRequest>,
) -> Result<Json<RecoveryKeyResponse>, Error> {
    let (_, wrapped) = check_recovery(&state, &client, &req.username, &req.recovery_auth).await?;
    Ok(Json(RecoveryKeyResponse {
        master_by_recovery: B64(wrapped),
    }))
}

async fn check_recovery(
    state: &AppState,
    client: &ClientAddr,
    raw_name: &str,
    recovery_auth: &B64,
) -> Result<(i64, Vec<u8>), Error> {
    let who = state.limiter.client_key(client.0);
    state
        .limiter
        .check("recover", &who, limits::RECOVER_PER_CLIENT)?;
    let name = username(raw_name)?;
    let presented = crate::secret::digest(
        RECOVERY_LABEL,
        recovery_auth.bounded("recovery_auth", 32, 32)?,
    );
    guarded(
        state,
        "recover",
        &name,
        &who,
        accounts::check_recovery(&state.db, name.clone(), presented),
    )
    .await
}

/// A password or recovery-key check for `name` from client `who`, slowed
/// by that pair's own failures: the first three are free, then each next
/// attempt waits 1, 2, 4 … up to 300 s (`limits::growing_delay`), forgotten
/// after an hour or at a success. Only failures count, and only against the
/// client that made them: however hard someone hammers an account, its
/// owner, from another address, logs in at once. (An account-wide bucket
/// drained by every attempt once let anyone who knew a username lock its
/// owner out.) The per-client buckets above bound how fast one client
/// tries accounts at all.
async fn guarded<T>(
    state: &AppState,
    what: &str,
    name: &str,
    who: &str,
    check: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    let pair = format!("{what}\n{name}\n{who}");
    let now = state.clock.now();
    state.penalties.check(&pair, now)?;
    match check.await {
        Ok(value) => {
            state.penalties.succeeded(&pair);
            Ok(value)
        }
        Err(Error::BadCredentials) => {
            state.penalties.failed(&pair, now);
            Err(Error::BadCredentials)
        }
        Err(other) => Err(other),
    }
}

/// New password material as the server keeps it: checked sizes and cost,
/// the auth key hashed.
fn checked(new: &NewPassword) -> Result<PasswordMaterial, Error> {
    Ok(PasswordMaterial {
        salt: new.salt.bounded("salt", 16, 64)?.to_vec(),
        argon2: new.argon2.check()?,
        auth_hash: crate::secret::digest(AUTH_LABEL, new.auth_key.bounded("auth_key", 32, 32)?),
        wrapped: new
            .master_by_password
            .bounded("master_by_password", noctis::keys::WRAPPED_LEN, 256)?
            .to_vec(),
    })
}

/// Sets a new password with the recovery key: the browser unwrapped the
/// master key with it and wrapped it again under the new password. Every
/// session of the account ends.
#[utoipa::path(post, path = "/auth/recovery/reset", tag = TAG,
    request_body = RecoveryResetRequest,
    responses((status = 204), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn recovery_reset(
    State(state): State<AppState>,
    client: ClientAddr,
    JsonBody(req): JsonBody<RecoveryResetRequest>,
) -> Result<StatusCode, Error> {
    let new = checked(&req.new)?;
    let (id, _) = check_recovery(&state, &client, &req.username, &req.recovery_auth).await?;
    accounts::set_password(&state.db, id, new).await?;
    tracing::info!("password reset with the recovery key");
    Ok(StatusCode::NO_CONTENT)
}

/// The caller's account.
#[utoipa::path(get, path = "/account", tag = TAG,
    responses((status = 200, body = AccountDetails), (status = 401, body = crate::error::ErrorBody)))]
pub(crate) async fn account(
    State(state): State<AppState>,
    session: Session,
) -> Result<Json<AccountDetails>, Error> {
    let d = accounts::details(&state.db, session.account_id, state.quota).await?;
    let details = AccountDetails {
        username: d.username,
        is_admin: d.is_admin,
        salt: B64(d.salt),
        argon2: d.argon2,
        master_by_password: B64(d.master_by_password),
        used: d.used,
        quota: d.quota,
        max_file_size: state.max_file_size,
    };
    Ok(Json(details))
}

/// Changes the password. Every session of the account ends, this one
/// included: log in again with the new password.
#[utoipa::path(post, path = "/account/password", tag = TAG,
    request_body = ChangePasswordRequest,
    responses((status = 204), (status = 400, body = crate::error::ErrorBody),
              (status = 401, body = crate::error::ErrorBody), (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn change_password(
    State(state): State<AppState>,
    session: Session,
    JsonBody(req): JsonBody<ChangePasswordRequest>,
) -> Result<Response, Error> {
    let id = session.account_id;
    // Whoever holds a session must not get unlimited password guesses either.
    state.limiter.check(
        "password-check",
        &id.to_string(),
        limits::PASSWORD_CHECK_PER_ACCOUNT,
    )?;
    let presented = crate::secret::digest(AUTH_LABEL, req.auth_key.bounded("auth_key", 32, 32)?);
    let new = checked(&req.new)?;
    accounts::change_password(&state.db, id, presented, new).await?;
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::cookie(None, state.trust_proxy))],
    )
        .into_response())
}

/// Deletes the account, its sessions and every file. Rows go first, then
/// the blobs; a crash in between leaves blobs the startup check removes.
#[utoipa::path(delete, path = "/account", tag = TAG,
    request_body = DeleteAccountRequest,
    responses((status = 204), (status = 401, body = crate::error::ErrorBody),
              (status = 429, body = crate::error::ErrorBody)))]
pub(crate) async fn delete_account(
    State(state): State<AppState>,
    session: Session,
    JsonBody(req): JsonBody<DeleteAccountRequest>,
) -> Result<Response, Error> {
    use crate::store::{BlobId, BlobStore as _};
    let id = session.account_id;
    state.limiter.check(
        "password-check",
        &id.to_string(),
        limits::PASSWORD_CHECK_PER_ACCOUNT,
    )?;
    let presented = crate::secret::digest(AUTH_LABEL, req.auth_key.bounded("auth_key", 32, 32)?);
    let (files, uploads) = accounts::delete(&state.db, id, presented).await?;
    for id in files.iter().filter_map(|f| BlobId::parse(f)) {
        if let Err(e) = state.blobs.delete(&id).await {
            tracing::warn!(error = %e, "a deleted account's blob stays until the next startup check");
        }
    }
    for id in uploads.iter().filter_map(|f| BlobId::parse(f)) {
        let _ = state.blobs.discard_staged(&id).await;
    }
    tracing::info!("account deleted");
    Ok((
        StatusCode::NO_CONTENT,
        [(header::SET_COOKIE, session::cookie(None, state.trust_proxy))],
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_are_lowercased_and_bounded() {
        assert_eq!(username(" Alice.B ").expect("ok"), "alice.b");
        for bad in ["", "-alice", "al ice", "ünïcode", &"a".repeat(65)] {
            assert!(username(bad).is_err(), "{bad}");
        }
    }
}
