//! The router, exercised in memory (no socket): routing, status codes,
//! bodies and headers. `tests/` runs the real binary on a real port.

use axum::{
    Router,
    body::{Body, to_bytes},
    http::{Request, StatusCode, header},
    response::Response,
};
use tower::ServiceExt;

use super::router;
use crate::Config;

async fn app() -> (Router, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let router = router(&Config::new(dir.path().join("data")))
        .await
        .expect("router");
    (router, dir)
}

async fn send(router: &Router, method: &str, uri: &str) -> Response {
    router
        .clone()
        .oneshot(
            Request::builder()
                .method(method)
                .uri(uri)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("infallible")
}

async fn body_text(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    String::from_utf8(bytes.to_vec()).expect("utf-8 body")
}

fn assert_security_headers(response: &Response) {
    let h = response.headers();
    assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
    assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
    assert!(h.contains_key("permissions-policy"));
    let csp = h[header::CONTENT_SECURITY_POLICY].to_str().expect("ascii");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
}

#[tokio::test]
async fn health_answers_ok_with_the_version() {
    let (app, _dir) = app().await;
    let response = send(&app, "GET", "/api/health").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
    let json: serde_json::Value = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(json["status"], "ok");
    assert_eq!(json["version"], env!("CARGO_PKG_VERSION"));
}

#[tokio::test]
async fn unknown_api_paths_get_a_json_404_without_internals() {
    let (app, dir) = app().await;
    for uri in [
        "/api/nope",
        "/api",
        "/api/health/extra",
        "/api/../../etc/passwd",
    ] {
        let response = send(&app, "GET", uri).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        assert_security_headers(&response);
        let body = body_text(response).await;
        let json: serde_json::Value = serde_json::from_str(&body).expect("json error body");
        assert_eq!(json["error"], "not_found", "{uri}");
        assert!(!body.contains(&*dir.path().to_string_lossy()), "{body}");
    }
}

#[tokio::test]
async fn wrong_method_on_the_api_is_a_json_405() {
    let (app, _dir) = app().await;
    let response = send(&app, "POST", "/api/health").await;
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let json: serde_json::Value = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(json["error"], "method_not_allowed");
}

#[tokio::test]
async fn unknown_pages_render_the_not_found_page_with_404() {
    let (app, dir) = app().await;
    let response = send(&app, "GET", "/no/such/page").await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert_security_headers(&response);
    let body = body_text(response).await;
    assert!(body.contains("Not found"), "{body}");
    for internal in [
        "panicked",
        "src/",
        ".rs",
        "rusqlite",
        &*dir.path().to_string_lossy(),
    ] {
        assert!(!body.contains(internal), "404 page leaks {internal:?}");
    }
}

#[tokio::test]
async fn path_traversal_never_reaches_the_disk() {
    let (app, _dir) = app().await;
    for uri in [
        "/pkg/../../Cargo.toml",
        "/./Cargo.toml",
        "/pkg//nocturne.js",
        "/%2e%2e/Cargo.toml",
    ] {
        let response = send(&app, "GET", uri).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND, "{uri}");
        assert!(!body_text(response).await.contains("[workspace]"), "{uri}");
    }
}

#[tokio::test]
async fn the_dashboard_carries_a_nonce_policy_matching_its_script() {
    let (app, _dir) = app().await;
    let response = send(&app, "GET", "/").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_security_headers(&response);
    let csp = response.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii")
        .to_owned();
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the page policy names a nonce")
        .to_owned();
    assert!(nonce.len() >= 16, "nonce too short: {nonce}");
    assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");

    let body = body_text(response).await;
    assert!(
        body.contains(&format!("nonce=\"{nonce}\"")),
        "script lacks the nonce"
    );
    // Every inline script carries the nonce.
    for script in body.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap_or_default();
        assert!(
            tag.contains(&format!("nonce=\"{nonce}\"")),
            "script without nonce: {tag}"
        );
    }
    assert!(body.contains("Nocturne"));
    assert!(body.contains("/pkg/nocturne.js"));

    // A second response gets a fresh nonce.
    let again = send(&app, "GET", "/").await;
    let csp2 = again.headers()[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .expect("ascii");
    assert!(!csp2.contains(&nonce), "nonce reused across responses");
}

#[tokio::test]
async fn the_data_dir_is_created_private_with_secret_and_wal_database() {
    use std::os::unix::fs::PermissionsExt;
    let (_app, dir) = app().await;
    let data = dir.path().join("data");
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join(crate::secret::FILE_NAME)), 0o600);
    // SQLite records WAL mode in the file header: bytes 18 and 19 are 2.
    let header = std::fs::read(data.join(crate::db::FILE_NAME)).expect("database file");
    assert_eq!(
        header.get(18..20),
        Some(&[2u8, 2][..]),
        "database not in WAL mode"
    );
}

#[tokio::test]
async fn a_request_past_its_deadline_gets_a_json_408() {
    use axum::routing::get;
    let slow = Router::new()
        .route("/slow", get(std::future::pending::<()>))
        .layer(axum::middleware::from_fn_with_state(
            std::time::Duration::from_millis(20),
            super::deadline,
        ));
    let response = send(&slow, "GET", "/slow").await;
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    let json: serde_json::Value = serde_json::from_str(&body_text(response).await).expect("json");
    assert_eq!(json["error"], "timeout");
}
