//! The built site (WASM, JS, CSS, icons), embedded in the binary, and the
//! fallback that serves it or answers 404.
//!
//! In release builds `rust-embed` compiles every file under cargo-leptos'
//! site directory into the binary, so the one file is the whole product. In
//! debug builds it reads the same directory at run time, so a `cargo leptos
//! build` shows up without relinking the server.

use axum::{
    body::Body,
    extract::{Request, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{IntoResponse, Response},
};
use leptos::{
    WasmSplitManifest,
    prelude::{ArcStoredValue, provide_context},
};
use rust_embed::{EmbeddedFile, RustEmbed};
use sha2::Digest as _;
use std::{collections::HashMap, sync::OnceLock};
use tower::{Layer, ServiceExt};
use tower_http::compression::CompressionLayer;

use crate::state::AppState;
use crate::{Error, secret::to_hex};

#[derive(RustEmbed)]
#[folder = "$NOCTURNE_SITE_DIR"]
// A missing site must not stop `cargo check`/`clippy` before the first
// `cargo leptos build`; `check_embedded` reports it at startup instead.
#[allow_missing = true]
struct Site;

/// Logs loudly if this binary was built without its site.
pub(super) fn check_embedded() {
    let page = format!("pkg/{}.wasm", app::OUTPUT_NAME);
    for wasm in [page.as_str(), WORKER_WASM] {
        if Site::get(wasm).is_none() {
            tracing::error!(
                "this build of nocturne has no web assets ({wasm} is missing): pages will \
                 render but not run; build with `cargo xtask run`"
            );
            return;
        }
    }
}

/// The Web Workers' own module (the `worker` crate), which `cargo xtask
/// build` writes beside the page's bundle.
const WORKER_WASM: &str = "pkg/nocturne-worker_bg.wasm";

/// Where cargo-leptos' `--split` build lists, for each lazily loaded
/// function (each page, and the dashboard's unlocked view), the WASM chunks
/// it needs.
const SPLIT_MANIFEST: &str = "pkg/__wasm_split_manifest.json";
/// The split build's chunk loader, which the main module imports.
const SPLIT_LOADER: &str = "__wasm_split.______________________.js";

/// What every rendered page is given: where this build's bundles are
/// ([`app::AssetRoot`]) and the split manifest.
pub(super) fn provide_page_context() {
    provide_context(app::AssetRoot(asset_root().to_owned()));
    provide_split_manifest();
}

/// The prefix under which this build's `pkg/` is served for good:
/// `/v/<build>`, where `<build>` is the first 16 hex digits of a SHA-256
/// over every embedded file's name and hash. A new build (any embedded file
/// changed) gets new URLs, so a browser may keep what it fetched
/// without asking again, and a tab left open across an upgrade finds its
/// old chunks gone (404, then the page's reload notice) rather than new
/// chunks that do not fit its main module. Empty when no site is embedded.
fn asset_root() -> &'static str {
    static ROOT: OnceLock<String> = OnceLock::new();
    ROOT.get_or_init(|| {
        let mut names: Vec<_> = Site::iter().collect();
        if names.is_empty() {
            return String::new();
        }
        names.sort();
        let mut hash = sha2::Sha256::new();
        for name in names {
            if let Some(file) = Site::get(&name) {
                hash.update(name.as_bytes());
                hash.update([0]);
                hash.update(file.metadata.sha256_hash());
            }
        }
        let digest = to_hex(&hash.finalize());
        format!("/{VERSIONED}/{}", &digest[..16])
    })
}

/// The first segment of a versioned asset URL.
const VERSIONED: &str = "v";

/// Gives the page being rendered the split manifest, so Leptos names the
/// chunks of the page it renders in `<link rel="preload">`s and a fresh load
/// fetches them beside the main module instead of after it.
///
/// Leptos' `HydrationScripts` would read the manifest from a directory on
/// disk; this binary carries its site inside, so the server hands it over
/// itself. (`WasmSplitManifest` is public but undocumented in Leptos 0.8;
/// without it the pages still load, one round trip later.)
fn provide_split_manifest() {
    static MANIFEST: OnceLock<Option<WasmSplitManifest>> = OnceLock::new();
    let manifest = MANIFEST.get_or_init(|| {
        let file = Site::get(SPLIT_MANIFEST)?;
        let chunks: HashMap<String, Vec<String>> = serde_json::from_slice(&file.data)
            .inspect_err(
                |e| tracing::error!(error = %e, "the embedded {SPLIT_MANIFEST} is unreadable"),
            )
            .ok()?;
        Some(WasmSplitManifest(ArcStoredValue::new((
            format!("{}/pkg", asset_root()),
            chunks,
            SPLIT_LOADER.to_owned(),
        ))))
    });
    if let Some(manifest) = manifest {
        provide_context(manifest.clone());
    }
}

/// The workers' scripts (from `public/`): key derivation, and file
/// encryption and decryption, and Noctis-256 chunk work. (The service worker, `sw.js`, fetches
/// nothing and keeps the default `default-src 'none'`.)
const WORKER_SCRIPTS: [&str; 3] = ["crypto-worker.js", "file-worker.js", "chunk-worker.js"];
/// The modules the workers' scripts import. With the scripts, they are also
/// served under the build's root: the page starts its workers there, and
/// they load what they import beside them, so a worker always matches the
/// page that started it.
const WORKER_IMPORTS: [&str; 2] = ["file-worker-chunks.js", "file-worker-protocol.js"];
/// The workers' own Content-Security-Policy.
const WORKER_CSP: &str =
    "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; connect-src 'self'";

/// Serves an embedded file, or the 404 answer for the path.
pub(super) async fn fallback(State(state): State<AppState>, request: Request) -> Response {
    let path = request.uri().path().trim_start_matches('/');
    if path == "api" || path.starts_with("api/") {
        return Error::NotFound.into_response();
    }
    // This build's bundles under its versioned root never change; any
    // other build's are gone. (Debug builds read the site from disk, which
    // a rebuild changes under the same root: there they are revalidated.)
    let (path, forever) = match path.strip_prefix(asset_root().trim_start_matches('/')) {
        Some(rest) if !asset_root().is_empty() => match rest.strip_prefix('/') {
            Some(rest)
                if rest.starts_with("pkg/")
                    || WORKER_SCRIPTS.contains(&rest)
                    || WORKER_IMPORTS.contains(&rest) =>
            {
                (rest, !cfg!(debug_assertions))
            }
            _ => ("", false),
        },
        _ => (path, false),
    };
    if let Some(file) = lookup(path) {
        if request.method() != Method::GET && request.method() != Method::HEAD {
            return Error::MethodNotAllowed.into_response();
        }
        // Compression is for the site's own text and WASM, which compress
        // well and hold nothing secret; user data is never compressed here.
        let is_worker = WORKER_SCRIPTS.contains(&path);
        return CompressionLayer::new()
            .layer(tower::service_fn(move |request: Request| {
                let mut response = file_response(&request, file.clone(), forever);
                if is_worker {
                    // A worker runs under the policy of its own script's
                    // response: it may load the WASM glue and compile the
                    // WASM from this origin, and nothing else.
                    response.headers_mut().insert(
                        header::CONTENT_SECURITY_POLICY,
                        HeaderValue::from_static(WORKER_CSP),
                    );
                }
                async move { Ok::<_, std::convert::Infallible>(response) }
            }))
            .oneshot(request)
            .await
            .map(IntoResponse::into_response)
            .unwrap_or_else(|never| match never {});
    }
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return Error::NotFound.into_response();
    }
    not_found_page(state, request).await
}

/// Finds `path` among the embedded files.
fn lookup(path: &str) -> Option<EmbeddedFile> {
    is_plain_relative(path).then(|| Site::get(path)).flatten()
}

/// Whether `path` is a plain relative path with nothing that could step
/// outside the site directory (debug builds read it from disk; rust-embed
/// checks too, but this does not rely on it).
fn is_plain_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains(['\\', '\0', ':'])
        && path
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

fn file_response(request: &Request, file: EmbeddedFile, forever: bool) -> Response {
    let etag = format!("\"{}\"", to_hex(&file.metadata.sha256_hash()));
    let etag = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let not_modified = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut response = if not_modified {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        Body::from(file.data).into_response()
    };
    let headers = response.headers_mut();
    if let Ok(mime) = HeaderValue::from_str(file.metadata.mimetype()) {
        headers.insert(header::CONTENT_TYPE, mime);
    }
    headers.insert(header::ETAG, etag);
    // Under the build's root a URL's content never changes: kept for a year
    // without revalidation. Elsewhere (the same files at their plain paths,
    // icons, the service worker) names stay across builds, so browsers
    // revalidate each load and get 304s.
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(if forever {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        }),
    );
    response
}

/// Renders the app's not-found page (the router's fallback sets 404).
async fn not_found_page(state: AppState, request: Request) -> Response {
    let options = state.leptos.clone();
    let handler = leptos_axum::render_app_to_stream_with_context(
        {
            let options = options.clone();
            move || {
                provide_context(options.clone());
                provide_page_context();
            }
        },
        move || app::shell(options.clone()),
    );
    let mut response = handler(request).await;
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::NOT_FOUND;
    }
    response
}

#[cfg(test)]
mod tests {
    use super::is_plain_relative;

    #[test]
    fn only_plain_relative_paths_are_looked_up() {
        for good in ["favicon.svg", "pkg/nocturne.wasm", "a/b.c/d"] {
            assert!(is_plain_relative(good), "{good}");
        }
        for bad in [
            "",
            "/etc/passwd",
            "..",
            "../x",
            "pkg/../../x",
            "./x",
            "pkg/./x",
            "pkg//x",
            "pkg/",
            "..\\x",
            "c:x",
            "x\0y",
        ] {
            assert!(!is_plain_relative(bad), "{bad:?}");
        }
    }
}
