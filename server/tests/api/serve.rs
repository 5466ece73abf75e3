//! The real binary on a real port: health, errors, headers, the data
//! directory it creates and a graceful stop.

use std::os::unix::fs::PermissionsExt;

use crate::common::{Server, binary};

#[tokio::test]
async fn health_headers_and_graceful_shutdown_on_a_real_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let data = dir.path().join("store");
    let server = Server::start(
        &binary(),
        dir.path(),
        &[("NOCTURNE_DATA_DIR", data.to_str().expect("utf-8 path"))],
    )
    .await;
    let client = reqwest::Client::new();

    let health = client
        .get(server.url("/api/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(health.status(), 200);
    for name in [
        "content-security-policy",
        "x-content-type-options",
        "referrer-policy",
        "x-frame-options",
        "permissions-policy",
    ] {
        assert!(health.headers().contains_key(name), "missing {name}");
    }
    assert!(health.headers().get("strict-transport-security").is_none());
    let json: serde_json::Value = health.json().await.expect("json");
    assert_eq!(json["status"], "ok");
    assert!(json["version"].as_str().is_some_and(|v| !v.is_empty()));

    let missing = client
        .get(server.url("/nothing-here"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing.status(), 404);
    let missing_api = client
        .get(server.url("/api/nothing"))
        .send()
        .await
        .expect("404");
    assert_eq!(missing_api.status(), 404);
    let body = missing_api.text().await.expect("body");
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&body).expect("json")["error"],
        "not_found"
    );

    // The data directory: private, with a 0600 secret and a WAL database.
    let mode =
        |p: &std::path::Path| std::fs::metadata(p).expect("exists").permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700);
    assert_eq!(mode(&data.join("secret")), 0o600);
    // SQLite records WAL mode in the file header: bytes 18 and 19 are 2.
    let header = std::fs::read(data.join("nocturne.db")).expect("database file");
    assert_eq!(
        header.get(18..20),
        Some(&[2u8, 2][..]),
        "database not in WAL mode"
    );

    let mut server = server;
    let status = server.terminate().await;
    assert!(status.success(), "exit after SIGTERM: {status}");
}

#[tokio::test]
async fn a_trusted_proxy_turns_on_hsts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &binary(),
        dir.path(),
        &[
            ("NOCTURNE_DATA_DIR", "data"),
            ("NOCTURNE_TRUST_PROXY", "true"),
        ],
    )
    .await;
    let health = reqwest::get(server.url("/api/health"))
        .await
        .expect("health");
    let hsts = health.headers()["strict-transport-security"]
        .to_str()
        .expect("ascii");
    assert!(hsts.starts_with("max-age="), "{hsts}");
}

#[tokio::test]
async fn a_configured_secret_is_used_and_never_written_or_printed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secret = "s3cr3t-marker-0123456789abcdef0123456789";
    let server = Server::start(
        &binary(),
        dir.path(),
        &[("NOCTURNE_DATA_DIR", "data"), ("NOCTURNE_SECRET", secret)],
    )
    .await;
    assert_eq!(
        reqwest::get(server.url("/api/health"))
            .await
            .expect("health")
            .status(),
        200
    );
    assert!(!dir.path().join("data/secret").exists());
    drop(server);
}
