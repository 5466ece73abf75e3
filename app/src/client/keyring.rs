//! The tab's unlocked keys: the master key lives only in this signal (memory,
//! never storage), provided once by the app and read by every page. Logging
//! in or unlocking fills it; logging out or a reload empties it.

use ::api::{
    B64,
    accounts::{LoginRequest, LoginResponse, ParamsRequest},
};
use leptos::prelude::*;

use super::{
    api,
    keys::{self, KeyParams, Keyring},
};

/// The unlocked keyring, shared by every page of this tab.
pub(crate) type KeyringSignal = RwSignal<Option<Keyring>>;

/// The keyring if this tab is unlocked (not tracked).
pub(crate) fn unlocked() -> Option<Keyring> {
    expect_context::<KeyringSignal>().get_untracked()
}

/// Derives the keys for `password` and logs in (cookie session); returns
/// the unlocked keyring.
pub(crate) async fn log_in(username: &str, password: &str) -> Result<Keyring, String> {
    let name = username.trim().to_ascii_lowercase();
    let params: KeyParams = api::post(
        "/api/auth/params",
        &ParamsRequest {
            username: name.clone(),
        },
    )
    .await
    .map_err(|e| e.message)?;
    let derived = keys::password_keys(password, &params).await?;
    let body = LoginRequest {
        username: name,
        auth_key: B64(derived.auth.to_vec()),
        token: false,
    };
    let answer: LoginResponse = api::post("/api/auth/login", &body)
        .await
        .map_err(|e| e.message)?;
    keys::unlock(&answer.username, &derived, &answer.master_by_password.0)
}
