//! The HTTP face of the server: one axum router, served until shutdown.
//!
//! Requests are matched in this order: the JSON API under `/api`, the Leptos
//! pages, then a fallback that serves the embedded site files (WASM, JS, CSS,
//! icons) and otherwise answers 404 (JSON under `/api`, the not-found page
//! elsewhere). Every response passes through the security-header layer.

mod admin;
mod api;
mod assets;
mod auth;
mod client;
mod conn;
mod files;
mod headers;
mod invites;
mod mesh;
pub(crate) mod metrics;
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
const DEFAULT_BODY_LIMIT: usize = wire::MAX_JSON_BODY;

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
        .route("/metrics", axum::routing::get(metrics::metrics))
        .nest("/api", api::routes().0)
        .leptos_routes_with_context(&state, routes, assets::provide_page_context, move || {
            app::shell(options.clone())
        })
        // Counted per route template (only matched routes carry one).
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
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

pub use conn::Limits as ConnectionLimits;

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// How connections are served: how many, and how long a request head may
/// take to arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeLimits {
    /// Connections in all, and from one client address.
    pub connections: conn::Limits,
    /// The longest a client may take to send a request's head (the request
    /// line and headers); past it the connection is closed. A client that
    /// trickles a byte at a time is cut by this, not by the idle limit.
    pub header_timeout: Duration,
}

impl Default for ServeLimits {
    fn default() -> ServeLimits {
        ServeLimits {
            connections: conn::Limits::default(),
            header_timeout: Duration::from_secs(30),
        }
    }
}

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (for at most 30 seconds) and returns.
///
/// Connections go through hyper-util's builder (HTTP/1.1 and HTTP/2) with
/// a timer, so the header-read timeout holds (`axum::serve` runs hyper
/// without a timer: there, a client trickling a request head lived
/// forever). The listener enforces the connection limits and closes
/// connections idle for a minute.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ServeLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), Error> {
    use hyper_util::{
        rt::{TokioExecutor, TokioIo, TokioTimer},
        server::{conn::auto::Builder, graceful::GracefulShutdown},
        service::TowerToHyperService,
    };

    let mut listener = conn::Guarded::new(listener, limits.connections);
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    builder.http2().timer(TokioTimer::new());
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (io, addr) = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        let peer = axum::extract::ConnectInfo(conn::Peer(addr));
        let service = tower::ServiceExt::map_request(
            router.clone(),
            move |mut request: http::Request<hyper::body::Incoming>| {
                request.extensions_mut().insert(peer);
                request
            },
        );
        let connection = builder
            .serve_connection_with_upgrades(TokioIo::new(io), TowerToHyperService::new(service))
            .into_owned();
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!(error = %e, "a connection ended with an error");
            }
        });
    }
    drop(listener);
    // A client that never finishes its request must not keep the process
    // alive after a shutdown signal: drain for a bounded time only.
    if tokio::time::timeout(DRAIN_LIMIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(
            "requests still running {DRAIN_LIMIT:?} after the shutdown signal were cut off"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests;
