//! `GET /metrics` in Prometheus' text format, for the operator: off unless
//! `NOCTURNE_METRICS_TOKEN` is set, and then only with that bearer token.
//!
//! Labels are route templates (`/api/files/{id}`), methods and statuses:
//! a bounded set, and nothing that names a user, a file or a link.
//! Requests that match no route (static assets, unknown paths) are not
//! counted by route.

use std::{sync::atomic::Ordering, time::Instant};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{Error, state::AppState};

fn declared_len(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// Counts every request: its route template, method, status, time to the
/// response's head, and the body sizes that are known.
pub(crate) async fn record(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "other".to_owned(), |p| p.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    state
        .metrics
        .bytes_in
        .fetch_add(declared_len(request.headers()), Ordering::Relaxed);
    let started = Instant::now();
    let response = next.run(request).await;
    let out = axum::body::HttpBody::size_hint(response.body())
        .exact()
        .unwrap_or(0);
    state.metrics.bytes_out.fetch_add(out, Ordering::Relaxed);
    state.metrics.observe(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`: 404 unless `NOCTURNE_METRICS_TOKEN` is set, then only
/// for its bearer (compared in constant time).
pub(crate) async fn metrics(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Error> {
    let Some(expected) = state.metrics_token.as_deref() else {
        return Err(Error::NotFound);
    };
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("");
    let same = given.len() == expected.len()
        && given
            .bytes()
            .zip(expected.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0;
    if !same {
        return Err(Error::Unauthorized);
    }
    let (uploads, stored, files) = state
        .db
        .call(|conn| {
            let uploads: i64 = conn.query_row("SELECT COUNT(*) FROM uploads", [], |r| r.get(0))?;
            let (stored, files): (i64, i64) = conn.query_row(
                "SELECT COALESCE(SUM(size), 0), COUNT(*) FROM files",
                [],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            Ok((uploads, stored, files))
        })
        .await?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        state.metrics.render(uploads, stored, files),
    )
        .into_response())
}
