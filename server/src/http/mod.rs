//! The HTTP face of the server: one axum router, served until shutdown.
//!
//! Requests are matched in this order: the JSON API under `/api`, the Leptos
//! pages, then a fallback that serves the embedded site files (WASM, JS, CSS,
//! icons) and otherwise answers 404 (JSON under `/api`, the not-found page
//! elsewhere). Every response passes through the security-header layer.

mod api;
mod assets;
mod auth;
mod client;
mod conn;
mod files;
mod headers;
mod invites;
mod mesh;
mod range;
pub(crate) mod session;
mod shares;
mod uploads;
pub(crate) mod wire;

use std::{future::Future, time::Duration};

use axum::{
    Router,
    extract::{DefaultBodyLimit, FromRef, Request, State},
    middleware::Next,
    response::{IntoResponse, Response},
};
use leptos::prelude::LeptosOptions;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::trace::TraceLayer;

use crate::{Config, Error, state::AppState};

/// The largest request body any route accepts unless it says otherwise.
/// Upload parts are streamed and bounded by their exact expected length.
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long any request may take before the server gives up on it
/// (response bodies, such as downloads, stream on after this).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Upload parts (up to 16 MiB each) may take this long to arrive (16 MiB in
/// ten minutes is 28 KB/s, slower than any link worth supporting), and a
/// finish this long to re-hash and commit (10 GiB at 20 MB/s).
const PART_TIMEOUT: Duration = Duration::from_secs(10 * 60);

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

/// The OpenAPI document of the JSON API (what `/api/openapi.json` serves).
pub fn openapi_json() -> String {
    api::routes().1.to_pretty_json().unwrap_or_default()
}

/// Opens everything under `config.data_dir`, checks the storage for
/// leftovers of a crash, and returns the full router.
pub async fn router(config: &Config) -> Result<Router, Error> {
    app(config).await.map(|(router, _)| router)
}

/// [`router`], and with the mesh on, starts the mesh peer and returns the
/// addresses it listens on (nodes use one as their tracker).
pub async fn app(config: &Config) -> Result<(Router, Vec<::mesh::Multiaddr>), Error> {
    let mut state = AppState::open(config).await?;
    assets::check_embedded();
    crate::maintenance::startup_check(&state).await?;
    let mut mesh_addrs = Vec::new();
    if let Some(mesh_config) = &config.mesh {
        let (mesh, addrs) = crate::replication::Mesh::start(
            mesh_config.clone(),
            &config.data_dir,
            state.db.clone(),
            state.blobs.clone(),
        )
        .await?;
        state.mesh = Some(mesh);
        mesh_addrs = addrs;
    }
    let sweeper = state.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(crate::maintenance::SWEEP_EVERY);
        every.tick().await;
        loop {
            every.tick().await;
            if let Err(e) = crate::maintenance::sweep(&sweeper).await {
                tracing::warn!(error = %e, "the sweep of expired uploads failed");
            }
        }
    });
    let options = state.leptos.clone();
    let routes = generate_route_list(app::App);

    let router = Router::new()
        .nest("/api", api::routes().0)
        .leptos_routes(&state, routes, move || app::shell(options.clone()))
        .fallback(assets::fallback)
        // Layers wrap what is above them: the security headers go on last so
        // they also cover the timeout's and the body limit's own answers.
        .layer(DefaultBodyLimit::max(DEFAULT_BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            REQUEST_TIMEOUT,
            deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            headers::security_headers,
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state);
    Ok((router, mesh_addrs))
}

/// Answers 408 (as JSON, like every API error) when a request takes longer
/// than `limit` to produce its response.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    // Parts take as long as the link needs; finishing re-reads the whole
    // file (its work also survives the request, see `files::finish_upload`).
    let path = request.uri().path();
    let is_part = path.starts_with("/api/uploads/")
        && ((request.method() == http::Method::PUT && path.contains("/parts/"))
            || (request.method() == http::Method::POST && path.ends_with("/finish")));
    let limit = if is_part { PART_TIMEOUT } else { limit };
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout.into_response(),
    }
}

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (for at most 30 seconds) and returns. At most
/// 1024 connections are served at once, and a connection with no byte
/// moving for a minute is closed.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    let addr = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    let (stopping_tx, stopping) = tokio::sync::oneshot::channel::<()>();
    let server = axum::serve(
        conn::Guarded::new(listener),
        router.into_make_service_with_connect_info::<conn::Peer>(),
    )
    .with_graceful_shutdown(async move {
        shutdown.await;
        let _ = stopping_tx.send(());
    });
    // A client that never finishes its request must not keep the process
    // alive after a shutdown signal: drain for a bounded time only.
    let drain_limit = async move {
        if stopping.await.is_ok() {
            tokio::time::sleep(DRAIN_LIMIT).await;
        } else {
            std::future::pending::<()>().await;
        }
    };
    tokio::select! {
        result = server => result.map_err(|source| Error::Listen { addr, source }),
        () = drain_limit => {
            tracing::warn!("requests still running {DRAIN_LIMIT:?} after the shutdown signal were cut off");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests;
