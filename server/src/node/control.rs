//! The node's control socket: `node.sock` in its data directory, owner
//! only (the directory is 0700 and the socket 0600). One JSON request line
//! in; JSON lines out (`status` answers one; `disconnect` streams
//! `{"progress": …}` lines and ends with `{"done": true}` or `{"error": …}`).

use std::path::{Path, PathBuf};

use serde::Deserialize;
use tokio::{
    io::{AsyncBufReadExt, AsyncWriteExt, BufReader},
    net::{UnixListener, UnixStream},
    sync::mpsc,
};

use super::Node;
use crate::Error;

const SOCKET: &str = "node.sock";

/// A control request can be no longer than this.
const MAX_REQUEST: u64 = 1024;

#[derive(Debug, Deserialize)]
#[serde(tag = "cmd", rename_all = "lowercase")]
enum ControlRequest {
    Status,
    Disconnect { force: bool },
}

/// The bound socket.
#[derive(Debug)]
pub(super) struct Control {
    listener: UnixListener,
}

impl Control {
    /// Binds `node.sock` in `dir` (created 0700). Refuses if a node is
    /// already running there; a socket left by a crash is replaced.
    pub(super) async fn bind(dir: &Path) -> Result<Control, Error> {
        use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| Error::io("create the node directory", dir, e))?;
        let path = dir.join(SOCKET);
        if UnixStream::connect(&path).await.is_ok() {
            return Err(Error::Usage(format!(
                "a node is already running on {}; stop it first",
                dir.display()
            )));
        }
        std::fs::remove_file(&path).ok();
        let listener = UnixListener::bind(&path)
            .map_err(|e| Error::io("bind the control socket", &path, e))?;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))
            .map_err(|e| Error::io("restrict the control socket", &path, e))?;
        Ok(Control { listener })
    }

    pub(super) fn unlink(dir: &Path) {
        std::fs::remove_file(dir.join(SOCKET)).ok();
    }

    /// Serves control connections, one at a time per connection but many
    /// connections at once; a completed disconnect sends on `leave`.
    pub(super) async fn serve(self, node: Node, leave: mpsc::Sender<()>) -> Result<(), Error> {
        loop {
            let (stream, _) = match self.listener.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    tracing::warn!(error = %e, "the control socket failed to accept");
                    continue;
                }
            };
            let (node, leave) = (node.clone(), leave.clone());
            tokio::spawn(async move {
                if let Err(e) = handle(stream, node, leave).await {
                    tracing::debug!(error = %e, "a control connection ended badly");
                }
            });
        }
    }
}

async fn handle(stream: UnixStream, node: Node, leave: mpsc::Sender<()>) -> std::io::Result<()> {
    use tokio::io::AsyncReadExt;
    let (read, mut write) = stream.into_split();
    let mut line = String::new();
    BufReader::new(read.take(MAX_REQUEST))
        .read_line(&mut line)
        .await?;
    let send = |value: serde_json::Value| format!("{value}\n");
    let request: ControlRequest = match serde_json::from_str(line.trim()) {
        Ok(r) => r,
        Err(_) => {
            write
                .write_all(send(serde_json::json!({"error": "unknown control request"})).as_bytes())
                .await?;
            return Ok(());
        }
    };
    match request {
        ControlRequest::Status => {
            write
                .write_all(send(node.status().await).as_bytes())
                .await?;
        }
        ControlRequest::Disconnect { force: true } => {
            node.store.start_leaving();
            let result = node.store.clear().await;
            let answer = match result {
                Ok(()) => serde_json::json!({"done": true, "forced": true}),
                Err(e) => serde_json::json!({"error": e.to_string()}),
            };
            write.write_all(send(answer).as_bytes()).await?;
            leave.send(()).await.ok();
        }
        ControlRequest::Disconnect { force: false } => {
            let (tx, mut rx) = mpsc::channel::<String>(16);
            let work = {
                let node = node.clone();
                tokio::spawn(async move { node.leave(&tx).await })
            };
            while let Some(progress) = rx.recv().await {
                write
                    .write_all(send(serde_json::json!({"progress": progress})).as_bytes())
                    .await
                    .ok();
            }
            let answer = match work.await {
                Ok(Ok(())) => serde_json::json!({"done": true}),
                Ok(Err(e)) => serde_json::json!({"error": e}),
                Err(_) => serde_json::json!({"error": "the leave was interrupted"}),
            };
            let done = answer.get("done").is_some();
            write.write_all(send(answer).as_bytes()).await?;
            write.flush().await?;
            if done {
                leave.send(()).await.ok();
            }
        }
    }
    Ok(())
}

fn socket(dir: &Path) -> PathBuf {
    dir.join(SOCKET)
}

async fn ask(dir: &Path, request: serde_json::Value) -> Result<BufReader<UnixStream>, Error> {
    let mut stream = UnixStream::connect(socket(dir)).await.map_err(|_| {
        Error::Usage(format!(
            "no node is running on {} (start one with `nocturne node connect`)",
            dir.display()
        ))
    })?;
    stream
        .write_all(format!("{request}\n").as_bytes())
        .await
        .map_err(|e| Error::io("talk to the node through", socket(dir), e))?;
    Ok(BufReader::new(stream))
}

/// `nocturne node status`.
pub(crate) async fn status(dir: &Path, json: bool) -> Result<(), Error> {
    let mut reader = ask(dir, serde_json::json!({"cmd": "status"})).await?;
    let mut line = String::new();
    reader
        .read_line(&mut line)
        .await
        .map_err(|e| Error::io("read the node's answer from", socket(dir), e))?;
    let value: serde_json::Value = serde_json::from_str(line.trim())
        .map_err(|_| Error::Usage("the node gave an unreadable answer".into()))?;
    let text = if json {
        value.to_string()
    } else {
        let n = |k: &str| {
            value
                .get(k)
                .and_then(serde_json::Value::as_u64)
                .unwrap_or(0)
        };
        let s = |k: &str| {
            value
                .get(k)
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned()
        };
        let addrs: Vec<String> = value
            .get("listen_addrs")
            .and_then(serde_json::Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|v| v.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        format!(
            "peer       {}\nstate      {}\nlistening  {}\npeers      {}\nfragments  {}\nspace      {} of {} bytes\naudits     {} answered, {} failed\nuptime     {} s",
            s("peer_id"),
            s("state"),
            if addrs.is_empty() {
                "nowhere (outbound only)".into()
            } else {
                addrs.join(", ")
            },
            n("connected_peers"),
            n("fragments"),
            n("bytes_used"),
            n("max_storage"),
            n("audits_passed"),
            n("audits_failed"),
            n("uptime_s"),
        )
    };
    #[expect(clippy::print_stdout, reason = "the command's output")]
    {
        println!("{text}");
    }
    Ok(())
}

/// `nocturne node disconnect`: prints progress; `Ok` once the node has
/// handed everything on and stopped.
pub(crate) async fn disconnect(dir: &Path, force: bool) -> Result<(), Error> {
    let reader = ask(
        dir,
        serde_json::json!({"cmd": "disconnect", "force": force}),
    )
    .await?;
    let mut lines = reader.lines();
    while let Some(line) = lines
        .next_line()
        .await
        .map_err(|e| Error::io("read the node's answer from", socket(dir), e))?
    {
        let value: serde_json::Value = serde_json::from_str(&line).unwrap_or_default();
        if let Some(p) = value.get("progress").and_then(serde_json::Value::as_str) {
            #[expect(clippy::print_stdout, reason = "progress is the command's output")]
            {
                println!("{p}");
            }
        } else if value.get("done").is_some() {
            let forced = value.get("forced").is_some();
            #[expect(clippy::print_stdout, reason = "the command's output")]
            {
                if forced {
                    println!("disconnected at once: fragments deleted without being handed on");
                } else {
                    println!("disconnected: every fragment was handed on");
                }
            }
            return Ok(());
        } else if let Some(e) = value.get("error").and_then(serde_json::Value::as_str) {
            return Err(Error::Usage(format!("the node did not leave: {e}")));
        }
    }
    Err(Error::Usage(
        "the node stopped answering before it had left".into(),
    ))
}
