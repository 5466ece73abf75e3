//! `nocturne node`: lend disk to the storage mesh.
//!
//! `connect` runs the node in the foreground: its identity key and
//! fragments live in the data directory and survive restarts; it dials the
//! tracker (and redials), answers the owner's requests over that
//! connection, and listens on a control socket (`node.sock`, mode 0600) for
//! `status` and `disconnect`, which are thin clients of that socket
//! (`control`).

mod control;

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use mesh::{
    Multiaddr,
    storage::{self, FragmentStore, Request},
};
use tokio::sync::mpsc;

use crate::Error;

pub(crate) use control::{disconnect, status};

/// The identity key's file name in the node's directory.
const IDENTITY: &str = "identity.key";

/// How long a leave may go without any fragment handed on before it stops
/// and says so.
const LEAVE_STALL: Duration = Duration::from_secs(180);

/// What `connect` was asked.
#[derive(Debug)]
pub(crate) struct Connect {
    pub(crate) data_dir: PathBuf,
    pub(crate) max_storage: u64,
    pub(crate) tracker: Option<String>,
    pub(crate) listen: Vec<String>,
}

/// Runs a node until SIGINT/SIGTERM or a completed `disconnect`.
pub(crate) async fn connect(args: Connect) -> Result<(), Error> {
    let tracker = match &args.tracker {
        Some(t) => tracker_addr(t)?,
        None => {
            return Err(Error::Usage(
                "a node needs a tracker: --tracker <multiaddr or host:port> or NOCTURNE_TRACKER"
                    .into(),
            ));
        }
    };
    let listen = args
        .listen
        .iter()
        .map(|a| {
            a.parse::<Multiaddr>()
                .map_err(|_| Error::Usage(format!("--listen: `{a}` is not a multiaddr")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let dir = &args.data_dir;
    let control = control::Control::bind(dir).await?;
    let keypair = mesh::identity::load_or_create(&dir.join(IDENTITY))
        .map_err(|e| Error::Config(format!("the node identity: {e}")))?;
    let store = FragmentStore::open(dir, args.max_storage)
        .await
        .map_err(|e| Error::Config(format!("the fragment store: {e}")))?;
    let (client, event_loop, mut events) = storage::new(storage::Config {
        keypair,
        listen,
        bootstrap: vec![tracker.clone()],
        store: Some(store.clone()),
        limits: storage::Limits::default(),
    })
    .map_err(|e| Error::Config(e.to_string()))?;
    let runner = tokio::spawn(event_loop.run());
    let node = Node {
        client: client.clone(),
        store,
        started: Instant::now(),
    };
    tracing::info!(peer = %client.peer_id(), %tracker, "storage node started");
    #[expect(clippy::print_stdout, reason = "the one line of normal output")]
    {
        println!(
            "nocturne node {} joining through {tracker}",
            client.peer_id()
        );
    }
    let (leave_tx, mut leave_rx) = mpsc::channel::<()>(1);
    let serve = control.serve(node.clone(), leave_tx);
    tokio::pin!(serve);
    let outcome = loop {
        tokio::select! {
            () = crate::shutdown::signal() => break Ok(()),
            Some(()) = leave_rx.recv() => break Ok(()),
            // A node has no events of its own to act on; drain them.
            Some(_) = events.recv() => {}
            result = &mut serve => break result,
        }
    };
    client.shutdown().await;
    runner.await.ok();
    control::Control::unlink(dir);
    outcome
}

/// What the control socket's handlers reach.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    client: storage::Client,
    store: FragmentStore,
    started: Instant,
}

impl Node {
    /// The status document (`nocturne node status --json`).
    async fn status(&self) -> serde_json::Value {
        let swarm = self.client.status().await.ok();
        let store = self.store.status();
        serde_json::json!({
            "peer_id": self.client.peer_id().to_string(),
            "listen_addrs": swarm.as_ref().map(|s| s.listen_addrs.iter().map(ToString::to_string).collect::<Vec<_>>()).unwrap_or_default(),
            "connected_peers": swarm.as_ref().map_or(0, |s| s.connected.len()),
            "fragments": store.fragments,
            "bytes_used": store.used,
            "max_storage": store.capacity,
            "audits_passed": store.audits_passed,
            "audits_failed": store.audits_failed,
            "uptime_s": self.started.elapsed().as_secs(),
            "state": if store.leaving { "leaving" } else { "running" },
        })
    }

    /// Hands every fragment back to its owner and waits until each is
    /// deleted here (the owner deletes it once re-placed). Reports progress
    /// through `progress`; `Ok` only when nothing is left.
    async fn leave(&self, progress: &mpsc::Sender<String>) -> Result<(), String> {
        let by_owner = self.store.start_leaving();
        let total: usize = by_owner.values().map(Vec::len).sum();
        progress
            .send(format!("leaving: handing on {total} fragments"))
            .await
            .ok();
        for (owner, ids) in by_owner {
            for batch in ids.chunks(storage::wire::MAX_LEAVE_IDS) {
                let mut tries = 0;
                loop {
                    match self
                        .client
                        .done(
                            owner,
                            Request::Leave {
                                ids: batch.to_vec(),
                            },
                        )
                        .await
                    {
                        Ok(()) => break,
                        Err(mesh::Error::Refused {
                            refusal: storage::Refusal::Busy,
                            ..
                        }) if tries < 20 => {
                            tries += 1;
                            tokio::time::sleep(Duration::from_millis(250)).await;
                        }
                        Err(e) => return Err(format!("the owner {owner} could not be told: {e}")),
                    }
                }
            }
        }
        let mut last = self.store.status().fragments;
        let mut last_change = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_millis(200));
        while last > 0 {
            tick.tick().await;
            let now = self.store.status().fragments;
            if now != last {
                last = now;
                last_change = Instant::now();
                progress
                    .send(format!(
                        "handed on {} of {total} fragments",
                        total as u64 - now
                    ))
                    .await
                    .ok();
            } else if last_change.elapsed() > LEAVE_STALL {
                return Err(format!(
                    "{last} fragments were not taken over in {} s (is the owner reachable, with room on other nodes?); run disconnect again, or --force",
                    LEAVE_STALL.as_secs()
                ));
            }
        }
        progress
            .send(format!("handed on {total} of {total} fragments"))
            .await
            .ok();
        Ok(())
    }
}

/// `--tracker`: a multiaddr (with `/p2p/<id>`), or `host:port` of a
/// server's mesh listener.
fn tracker_addr(text: &str) -> Result<Multiaddr, Error> {
    if let Ok(addr) = text.parse::<Multiaddr>() {
        return Ok(addr);
    }
    use std::net::ToSocketAddrs;
    let resolved = text
        .to_socket_addrs()
        .ok()
        .and_then(|mut addrs| addrs.next())
        .ok_or_else(|| {
            Error::Usage(format!(
                "--tracker: `{text}` is neither a multiaddr nor a reachable host:port"
            ))
        })?;
    let proto = if resolved.is_ipv4() { "ip4" } else { "ip6" };
    format!("/{proto}/{}/tcp/{}", resolved.ip(), resolved.port())
        .parse()
        .map_err(|_| Error::Usage(format!("--tracker: `{text}` is not usable")))
}

/// The node's default data directory.
pub(crate) fn default_dir() -> &'static Path {
    Path::new("node-data")
}
