//! Page weight: what a page fetches before it is interactive, measured in
//! the browser and sized as the server sends it.
//!
//! The page's own Resource Timing entries say which URLs it fetched and
//! when; everything that started before the app's hydration mark
//! (`nocturne-hydrated`) is its first load. Each URL is then fetched again
//! outside the browser, once plain and once with `Accept-Encoding: gzip`,
//! so the figures are the bytes a first visit downloads whatever the
//! browser already holds in its cache.

use std::fmt::Write as _;

use fantoccini::Client;

use crate::common::{Server, browser::open};

/// One page's load, split at the moment it became interactive.
pub(crate) struct PageLoad {
    pub(crate) path: String,
    /// Navigation start to the hydration mark, in milliseconds.
    pub(crate) interactive_ms: f64,
    /// The document and everything it fetched before it was interactive
    /// (code, styles, icons; API calls are left out).
    pub(crate) first: Vec<Fetched>,
    /// What it fetched afterwards, in the background (the dashboard's
    /// unlocked view).
    pub(crate) later: Vec<Fetched>,
}

/// A URL and its size, plain and gzip-compressed by the server.
pub(crate) struct Fetched {
    pub(crate) url: String,
    pub(crate) raw: u64,
    pub(crate) gzip: u64,
}

/// Opens `path`, waits for it to be interactive and, if `background` is
/// given, until a fetched URL contains it; sizes what it fetched.
pub(crate) async fn page_load(
    browser: &Client,
    server: &Server,
    path: &str,
    background: Option<&str>,
) -> PageLoad {
    open(browser, server, path).await.expect("open page");
    let script = "const m = performance.getEntriesByName('nocturne-hydrated')[0];
         const r = performance.getEntriesByType('resource')
           .filter(e => e.responseEnd > 0)
           .map(e => [e.name, e.startTime]);
         return [m ? m.startTime : null, r];";
    let entries = loop {
        let v = browser
            .execute(script, vec![])
            .await
            .expect("resource timing");
        let fetched = v[1].as_array().cloned().unwrap_or_default();
        let done = background.is_none_or(|b| {
            fetched
                .iter()
                .any(|e| e[0].as_str().is_some_and(|u| u.contains(b)))
        });
        if done && v[0].is_number() {
            break v;
        }
        // Polls the page's own record of what it fetched; the wait ends on
        // that condition, not on the time.
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    let interactive_ms = entries[0].as_f64().unwrap_or(f64::NAN);
    let http = reqwest::Client::new();
    let mut first = vec![size(&http, &server.url(path)).await];
    let mut later = Vec::new();
    for e in entries[1].as_array().into_iter().flatten() {
        let (Some(url), Some(start)) = (e[0].as_str(), e[1].as_f64()) else {
            continue;
        };
        // API calls are the page's data, not its weight.
        if url.contains("/api/") {
            continue;
        }
        let sized = size(&http, url).await;
        if start < interactive_ms {
            first.push(sized);
        } else {
            later.push(sized);
        }
    }
    PageLoad {
        path: path.to_owned(),
        interactive_ms,
        first,
        later,
    }
}

async fn size(http: &reqwest::Client, url: &str) -> Fetched {
    let body = |encoding: &'static str| {
        let request = http.get(url).header("accept-encoding", encoding);
        async move {
            request
                .send()
                .await
                .expect("fetch")
                .bytes()
                .await
                .expect("body")
                .len() as u64
        }
    };
    Fetched {
        url: url.to_owned(),
        raw: body("identity").await,
        gzip: body("gzip").await,
    }
}

fn totals(list: &[Fetched]) -> (u64, u64) {
    list.iter()
        .fold((0, 0), |(r, g), s| (r + s.raw, g + s.gzip))
}

/// The report: one line per page, then what its first load was made of.
pub(crate) fn weight_report(loads: &[PageLoad]) -> String {
    let mut out = String::new();
    for load in loads {
        let (raw, gzip) = totals(&load.first);
        let _ = writeln!(
            out,
            "  {}: first load {} requests, {:.1} KB gzip ({:.1} KB raw); interactive at {:.0} ms",
            load.path,
            load.first.len(),
            gzip as f64 / 1000.0,
            raw as f64 / 1000.0,
            load.interactive_ms,
        );
        let wasm = load
            .first
            .iter()
            .filter(|s| s.url.ends_with(".wasm"))
            .fold((0, 0u64), |(n, g), s| (n + 1, g + s.gzip));
        let biggest = load
            .first
            .iter()
            .max_by_key(|s| s.gzip)
            .map(|s| {
                format!(
                    "{} {:.1} KB",
                    s.url.rsplit('/').next().unwrap_or(&s.url),
                    s.gzip as f64 / 1000.0
                )
            })
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "    of which {} WASM modules {:.1} KB gzip; the largest: {biggest}",
            wasm.0,
            wasm.1 as f64 / 1000.0
        );
        if !load.later.is_empty() {
            let (raw, gzip) = totals(&load.later);
            let _ = writeln!(
                out,
                "    then in the background: {} requests, {:.1} KB gzip ({:.1} KB raw)",
                load.later.len(),
                gzip as f64 / 1000.0,
                raw as f64 / 1000.0
            );
        }
    }
    out
}

/// Every WASM module of the build, plain and gzip-compressed: what a
/// visitor who opened every page would have fetched.
pub(crate) async fn site_wasm(server: &Server, site_pkg: &std::path::Path) -> (usize, u64, u64) {
    let names: Vec<String> = std::fs::read_dir(site_pkg)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|n| n.ends_with(".wasm"))
        .collect();
    let http = reqwest::Client::new();
    let mut raw = 0;
    let mut gzip = 0;
    for name in &names {
        let s = size(&http, &server.url(&format!("/pkg/{name}"))).await;
        raw += s.raw;
        gzip += s.gzip;
    }
    (names.len(), raw, gzip)
}
