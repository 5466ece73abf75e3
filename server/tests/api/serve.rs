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
    // So is the database, with its WAL and shared memory (once 0644).
    for file in ["nocturne.db", "nocturne.db-wal", "nocturne.db-shm"] {
        assert_eq!(mode(&data.join(file)), 0o600, "{file}");
    }
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

    // Behind TLS the session cookie carries the __Host- prefix, and only a
    // cookie by that name is a session.
    let mut alice = crate::common::client::Client::new(&server.base, "alice");
    assert_eq!(alice.register("pw", None).await.status(), 201);
    let keys = alice.password_keys("pw").await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let login = http
        .post(server.url("/api/auth/login"))
        .json(&serde_json::json!({"username": "alice",
            "auth_key": crate::common::client::b64(&keys.auth)}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), 200);
    let set = login.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(set.starts_with("__Host-nocturne_session="), "{set}");
    assert!(
        set.contains("; Secure") && set.contains("; Path=/;"),
        "{set}"
    );
    let token = set
        .split(';')
        .next()
        .and_then(|p| p.split_once('='))
        .map(|(_, v)| v.to_owned())
        .expect("a value");
    let me = |name: &str| {
        http.get(server.url("/api/account"))
            .header("cookie", format!("{name}={token}"))
            .send()
    };
    assert_eq!(
        me("__Host-nocturne_session").await.expect("me").status(),
        200
    );
    assert_eq!(me("nocturne_session").await.expect("me").status(), 401);
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

/// One address cannot hold the server: its connections past the
/// per-address cap are closed as they come, a request head trickled a byte
/// at a time is cut at the header timeout (the idle limit alone never cut
/// it: bytes keep moving), and another address is answered all along.
#[tokio::test]
async fn one_address_trickling_request_heads_cannot_starve_another() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(
        &binary(),
        dir.path(),
        &[
            ("NOCTURNE_MAX_CONNECTIONS", "16"),
            ("NOCTURNE_MAX_CONNECTIONS_PER_CLIENT", "4"),
            ("NOCTURNE_HEADER_TIMEOUT", "2s"),
        ],
    )
    .await;
    let addr = server
        .base
        .trim_start_matches("http://")
        .parse::<std::net::SocketAddr>()
        .expect("a socket address");
    // 20 connections from 127.0.0.1, more than all the server serves at
    // once, each trickling a request head that never ends.
    let mut tricklers = Vec::new();
    for n in 0..20 {
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream
            .write_all(b"GET /api/health HTTP/1.1\r\nHost: x\r\n")
            .await
            .ok();
        tricklers.push(tokio::spawn(async move {
            let mut buf = [0u8; 256];
            let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
            loop {
                // A header byte every 300 ms, and whatever the server says.
                stream.write_all(b"X").await.ok();
                match tokio::time::timeout_at(deadline, async {
                    tokio::select! {
                        read = stream.read(&mut buf) => Some(read),
                        () = tokio::time::sleep(std::time::Duration::from_millis(300)) => None,
                    }
                })
                .await
                {
                    Err(_) => panic!("connection {n} was still open after 30 s of trickling"),
                    Ok(Some(Ok(0) | Err(_))) => return,
                    Ok(_) => {}
                }
            }
        }));
    }
    // Another address is answered meanwhile, every time.
    let other = reqwest::Client::builder()
        .no_proxy()
        .local_address(Some("127.0.0.2".parse().expect("ip")))
        .timeout(std::time::Duration::from_secs(10))
        .build()
        .expect("a client on 127.0.0.2");
    for _ in 0..10 {
        let r = other
            .get(server.url("/api/health"))
            .send()
            .await
            .expect("another address is served");
        assert_eq!(r.status(), 200);
    }
    // And every trickled connection is closed by the server.
    for t in tricklers {
        t.await.expect("a trickler");
    }
}

/// A body declared larger than the route takes is refused at once with
/// 413, before any of it arrives (it once waited out the 30 s request
/// deadline for bytes that were never coming, then said 408).
#[tokio::test]
async fn an_oversized_declared_body_is_refused_before_it_arrives() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().expect("tempdir");
    let server = Server::start(&binary(), dir.path(), &[]).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&addr)
        .await
        .expect("connect");
    stream
        .write_all(
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 10000000\r\n\r\n{\"user",
        )
        .await
        .expect("write");
    let mut answer = Vec::new();
    let mut buf = [0u8; 1024];
    while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = tokio::time::timeout(std::time::Duration::from_secs(20), stream.read(&mut buf))
            .await
            .expect("an answer before the body")
            .expect("read");
        assert!(n > 0, "closed without an answer");
        answer.extend_from_slice(&buf[..n]);
    }
    let head = String::from_utf8_lossy(&answer);
    assert!(head.starts_with("HTTP/1.1 413"), "{head}");
}

/// `GET /metrics`: absent unless a token is configured, then only for its
/// bearer; counts by route template, with no user, file or link in it.
#[tokio::test]
async fn metrics_are_off_by_default_and_behind_their_token() {
    let dir = tempfile::tempdir().expect("tempdir");
    let plain = Server::start(&binary(), dir.path(), &[]).await;
    let off = reqwest::get(plain.url("/metrics")).await.expect("metrics");
    assert_eq!(off.status(), 404);
    drop(plain);

    let dir = tempfile::tempdir().expect("tempdir");
    let token = "metrics-token-0123456789abcdef";
    let server = Server::start(
        &binary(),
        dir.path(),
        &[
            ("NOCTURNE_METRICS_TOKEN", token),
            ("NOCTURNE_REGISTRATION", "open"),
        ],
    )
    .await;
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    for _ in 0..3 {
        let r = http
            .get(server.url("/api/health"))
            .send()
            .await
            .expect("health");
        assert_eq!(r.status(), 200);
    }
    let mut carol = crate::common::client::Client::new(&server.base, "carol-the-user");
    assert_eq!(carol.register("pw", None).await.status(), 201);
    let refused = http
        .get(server.url("/metrics"))
        .send()
        .await
        .expect("metrics");
    assert_eq!(refused.status(), 401);
    let wrong = http
        .get(server.url("/metrics"))
        .bearer_auth("metrics-token-0123456789abcdeX")
        .send()
        .await
        .expect("metrics");
    assert_eq!(wrong.status(), 401);
    let r = http
        .get(server.url("/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .expect("metrics");
    assert_eq!(r.status(), 200);
    let text = r.text().await.expect("text");
    assert!(
        text.contains(
            r#"nocturne_http_requests_total{route="/api/health",method="GET",status="200"} 3"#
        ),
        "{text}"
    );
    assert!(
        text.contains(r#"route="/api/auth/register",method="POST",status="201"} 1"#),
        "{text}"
    );
    assert!(
        text.contains("nocturne_http_request_duration_seconds_bucket"),
        "{text}"
    );
    assert!(text.contains("nocturne_files 0"), "{text}");
    assert!(text.contains("nocturne_uploads_in_progress 0"), "{text}");
    assert!(
        !text.contains("carol"),
        "a user's name in the metrics: {text}"
    );
}
