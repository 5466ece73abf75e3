//! The JSON API under `/api`.

use axum::{Json, Router, extract::State, routing::get};
use serde::Serialize;

use super::AppState;
use crate::Error;

/// The routes under `/api`; anything else there is a JSON 404 or 405.
pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/health", get(health))
        .fallback(|| async { Error::NotFound })
        .method_not_allowed_fallback(|| async { Error::MethodNotAllowed })
}

/// The answer of `GET /api/health`.
#[derive(Debug, Serialize)]
struct Health {
    /// `"ok"` when the server can reach its database.
    status: &'static str,
    /// The server's version (the workspace version).
    version: &'static str,
}

/// Liveness and readiness in one: answers only once the database answers.
async fn health(State(state): State<AppState>) -> Result<Json<Health>, Error> {
    state
        .db
        .call(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
        .await?;
    Ok(Json(Health {
        status: "ok",
        version: env!("CARGO_PKG_VERSION"),
    }))
}
