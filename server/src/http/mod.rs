//! The HTTP face of the server: one axum router, served until shutdown.
//!
//! Requests are matched in this order: the JSON API under `/api`, the Leptos
//! pages, then a fallback that serves the embedded site files (WASM, JS, CSS,
//! icons) and otherwise answers 404 (JSON under `/api`, the not-found page
//! elsewhere). Every response passes through the security-header layer.

mod api;
mod assets;
mod headers;

use std::{future::Future, net::SocketAddr, path::Path, sync::Arc, time::Duration};

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

use crate::{Config, Error, db::Db, secret::ServerSecret};

/// The largest request body any route accepts unless it says otherwise.
/// Upload routes (issue #4) raise it for themselves.
const DEFAULT_BODY_LIMIT: usize = 64 * 1024;

/// How long any request may take before the server gives up on it.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// What every handler can reach.
#[derive(Clone, Debug)]
pub(crate) struct AppState {
    pub(crate) leptos: LeptosOptions,
    pub(crate) db: Db,
    #[allow(dead_code, reason = "used by sessions and fake salts (issue #4)")]
    pub(crate) secret: Arc<ServerSecret>,
    pub(crate) trust_proxy: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(state: &AppState) -> Self {
        state.leptos.clone()
    }
}

impl AppState {
    /// Prepares the data directory (created with mode 0700 if missing), the
    /// server secret and the database.
    async fn open(config: &Config) -> Result<Self, Error> {
        let config = config.clone();
        // Filesystem work is blocking; keep it off the executor.
        tokio::task::spawn_blocking(move || {
            create_data_dir(&config.data_dir)?;
            let secret = ServerSecret::load_or_create(config.secret.as_ref(), &config.data_dir)?;
            let db = Db::open(&config.data_dir.join(crate::db::FILE_NAME))?;
            assets::check_embedded();
            Ok(AppState {
                leptos: leptos_options(),
                db,
                secret: Arc::new(secret),
                trust_proxy: config.trust_proxy,
            })
        })
        .await
        .map_err(|_| Error::Config("startup was interrupted".into()))?
    }
}

fn create_data_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create the data directory", dir, e))?;
    // An existing directory keeps the mode its owner chose, but it should
    // not go unnoticed that others can look inside.
    let mode = std::fs::metadata(dir)
        .map_err(|e| Error::io("inspect the data directory", dir, e))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            path = %dir.display(),
            "the data directory is accessible to other users (mode {:o}); consider chmod 700",
            mode & 0o777
        );
    }
    Ok(())
}

/// Leptos' settings, fixed at build time: the site is embedded in the
/// binary, so nothing is read from a `Cargo.toml` or the environment.
fn leptos_options() -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(app::OUTPUT_NAME)
        .site_pkg_dir("pkg")
        .env(if cfg!(debug_assertions) {
            leptos::config::Env::DEV
        } else {
            leptos::config::Env::PROD
        })
        .build()
}

/// Opens everything under `config.data_dir` and returns the full router.
pub async fn router(config: &Config) -> Result<Router, Error> {
    let state = AppState::open(config).await?;
    let options = state.leptos.clone();
    let routes = generate_route_list(app::App);

    let router = Router::new()
        .nest("/api", api::routes())
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
    Ok(router)
}

/// Answers 408 (as JSON, like every API error) when a request takes longer
/// than `limit` to produce its response.
pub(crate) async fn deadline(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => Error::Timeout.into_response(),
    }
}

/// How long requests in flight may take to finish after a shutdown signal.
const DRAIN_LIMIT: Duration = Duration::from_secs(30);

/// Serves `router` on `listener` until `shutdown` resolves, then lets the
/// requests in flight finish (for at most 30 seconds) and returns.
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
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
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
