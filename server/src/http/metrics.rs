//! `GET /metrics` in Prometheus' text format, for the operator: off unless
//! `NOCTURNE_METRICS_TOKEN` is set, and then only with that bearer token.
//!
//! Labels are route templates (`/api/files/{id}`), methods and statuses:
//! a bounded set, and nothing that names a user, a file or a link.
//! Requests that match no route (static assets, unknown paths) are not
//! counted by route.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request, State},
    http::{HeaderMap, StatusCode, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{Error, state::AppState};

/// Upper bounds of the latency histogram, in seconds.
const BUCKETS: [f64; 10] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

#[derive(Debug, Default)]
struct Latency {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// What has been counted since the server started.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    requests: Mutex<BTreeMap<(String, String, u16), u64>>,
    latency: Mutex<BTreeMap<String, Latency>>,
    bytes_in: AtomicU64,
    bytes_out: AtomicU64,
    rate_limited: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn declared_len(headers: &HeaderMap) -> u64 {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

impl Metrics {
    fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
        *lock(&self.requests)
            .entry((route.clone(), method, status))
            .or_default() += 1;
        let mut latency = lock(&self.latency);
        let l = latency.entry(route).or_default();
        l.count += 1;
        l.sum += seconds;
        for (i, bound) in BUCKETS.iter().enumerate() {
            if seconds <= *bound {
                l.counts[i] += 1;
            }
        }
        if status == 429 {
            self.rate_limited.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn render(&self, uploads: i64, stored: i64, files: i64) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP nocturne_http_requests_total HTTP requests answered, by route template, method and status.\n# TYPE nocturne_http_requests_total counter"
        );
        for ((route, method, status), n) in lock(&self.requests).iter() {
            let _ = writeln!(
                out,
                "nocturne_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {n}"
            );
        }
        let _ = writeln!(
            out,
            "# HELP nocturne_http_request_duration_seconds Time to the response's head, by route template.\n# TYPE nocturne_http_request_duration_seconds histogram"
        );
        for (route, l) in lock(&self.latency).iter() {
            for (bound, n) in BUCKETS.iter().zip(l.counts) {
                let _ = writeln!(
                    out,
                    "nocturne_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {n}"
                );
            }
            let _ = writeln!(
                out,
                "nocturne_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {}\nnocturne_http_request_duration_seconds_sum{{route=\"{route}\"}} {}\nnocturne_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                l.count, l.sum, l.count
            );
        }
        let counter = |out: &mut String, name: &str, help: &str, v: u64| {
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}"
            );
        };
        let gauge = |out: &mut String, name: &str, help: &str, v: i64| {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {v}");
        };
        counter(
            &mut out,
            "nocturne_http_request_bytes_total",
            "Request body bytes declared by Content-Length.",
            self.bytes_in.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "nocturne_http_response_bytes_total",
            "Response body bytes of responses whose length was known.",
            self.bytes_out.load(Ordering::Relaxed),
        );
        counter(
            &mut out,
            "nocturne_rate_limited_total",
            "Requests refused with 429.",
            self.rate_limited.load(Ordering::Relaxed),
        );
        gauge(
            &mut out,
            "nocturne_uploads_in_progress",
            "Uploads created and not yet finished or expired.",
            uploads,
        );
        gauge(
            &mut out,
            "nocturne_stored_bytes",
            "Ciphertext bytes of all files.",
            stored,
        );
        gauge(&mut out, "nocturne_files", "Files stored.", files);
        out
    }
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
