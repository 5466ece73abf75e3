//! The agent's files in its data directory, and a minimal HTTP/1.1 client
//! for the CLI commands that talk to the running peer over loopback.

use std::path::{Path, PathBuf};

use mesh::agent::{Genesis, OperatorKey};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::Error;

/// The operator's signing key.
pub(super) const OPERATOR_KEY: &str = "operator.key";
/// The peer's libp2p key.
pub(super) const PEER_KEY: &str = "peer.key";
/// `{"label": …}`.
pub(super) const PROFILE: &str = "agent.json";
/// The genesis the peer last ran with (canonical form).
pub(super) const GENESIS: &str = "genesis";
/// The local API's port and token.
pub(super) const API_PORT: &str = "api.port";
pub(super) const API_TOKEN: &str = "api.token";
/// The largest answer the CLI reads from the local API.
const MAX_ANSWER: u64 = 8 * 1024 * 1024;

/// Creates `dir` with mode 0700.
pub(super) fn private_dir(dir: &Path) -> Result<(), Error> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(|e| Error::io("create the agent directory", dir, e))
}

/// Writes `text` to `path` with mode 0600 (never over an existing file
/// when `fresh`).
pub(super) fn write_private(path: &Path, text: &str, fresh: bool) -> Result<(), Error> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut options = std::fs::OpenOptions::new();
    options.write(true).mode(0o600);
    if fresh {
        options.create_new(true);
    } else {
        options.create(true).truncate(true);
    }
    let mut file = options
        .open(path)
        .map_err(|e| Error::io("write", path, e))?;
    file.write_all(text.as_bytes())
        .map_err(|e| Error::io("write", path, e))
}

/// Reads an operator key file.
pub(super) fn read_key(path: &Path) -> Result<OperatorKey, Error> {
    let text = std::fs::read_to_string(path).map_err(|_| {
        Error::Usage(format!(
            "no operator key at {} (run `nocturne agent setup` first)",
            path.display()
        ))
    })?;
    OperatorKey::from_file_text(&text)
        .map_err(|_| Error::Usage(format!("{} does not hold an operator key", path.display())))
}

/// Reads a genesis file.
pub(super) fn read_genesis(path: &Path) -> Result<Genesis, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Usage(format!(
            "cannot read the genesis file {}: {e}",
            path.display()
        ))
    })?;
    Genesis::parse(&text)
        .map_err(|e| Error::Usage(format!("the genesis file {}: {e}", path.display())))
}

/// The genesis given, else the one recorded in `dir` by the last start.
pub(super) fn genesis_for(dir: &Path, given: Option<&PathBuf>) -> Result<Genesis, Error> {
    match given {
        Some(path) => read_genesis(path),
        None => {
            let recorded = dir.join(GENESIS);
            if recorded.exists() {
                read_genesis(&recorded)
            } else {
                Err(Error::Usage(
                    "no network known: pass --genesis FILE (or NOCTURNE_GENESIS), or start the peer once".into(),
                ))
            }
        }
    }
}

/// The label recorded by `setup`.
pub(super) fn label(dir: &Path) -> String {
    std::fs::read(dir.join(PROFILE))
        .ok()
        .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
        .and_then(|v| v.get("label").and_then(|l| l.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

/// A request to the running peer's local API: (status, body).
pub(crate) async fn call(
    dir: &Path,
    method: &str,
    path: &str,
    body: Option<&serde_json::Value>,
) -> Result<(u16, serde_json::Value), Error> {
    let not_running = || {
        Error::Usage(format!(
            "no agent peer is running on {} (start one with `nocturne agent start`)",
            dir.display()
        ))
    };
    let port: u16 = std::fs::read_to_string(dir.join(API_PORT))
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .ok_or_else(not_running)?;
    let token = std::fs::read_to_string(dir.join(API_TOKEN)).map_err(|_| not_running())?;
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .map_err(|_| not_running())?;
    let payload = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        token.trim(),
        payload.len()
    );
    let io = |e: std::io::Error| Error::Usage(format!("the agent peer's API: {e}"));
    stream.write_all(request.as_bytes()).await.map_err(io)?;
    let mut answer = Vec::new();
    stream
        .take(MAX_ANSWER)
        .read_to_end(&mut answer)
        .await
        .map_err(io)?;
    let text = String::from_utf8_lossy(&answer);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| Error::Usage("the agent peer's API gave an unreadable answer".into()))?;
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    let body = if chunked {
        dechunk(body)
    } else {
        body.to_owned()
    };
    let value = serde_json::from_str(&body).unwrap_or(serde_json::Value::Null);
    Ok((status, value))
}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || after.len() < n {
            break;
        }
        out.push_str(&after[..n]);
        rest = after[n..].trim_start_matches("\r\n");
    }
    out
}

/// The error message of an API answer.
pub(crate) fn message(value: &serde_json::Value) -> String {
    value
        .get("message")
        .and_then(|m| m.as_str())
        .unwrap_or("the agent peer refused")
        .to_owned()
}
