//! What the server counts for `GET /metrics` (`http::metrics` serves it):
//! requests by route template, method and status, latency histograms,
//! bytes, refusals. Labels are route templates, methods and statuses only:
//! a bounded set, and nothing that names a user, a file or a link.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    sync::{
        Mutex,
        atomic::{AtomicU64, Ordering},
    },
};

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
    pub(crate) bytes_in: AtomicU64,
    pub(crate) bytes_out: AtomicU64,
    rate_limited: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Metrics {
    pub(crate) fn observe(&self, route: String, method: String, status: u16, seconds: f64) {
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

    pub(crate) fn render(&self, uploads: i64, stored: i64, files: i64) -> String {
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
