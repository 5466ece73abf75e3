//! The server's side of the storage mesh: it is the tracker nodes bootstrap
//! from and the owner of every fragment it places.
//!
//! - `manifest`: the manifests and node records in SQLite.
//! - `place`: a finished file is striped, Reed-Solomon-encoded and written
//!   to k + m distinct nodes (`NOCTURNE_MESH=replicate|offload`); with
//!   `offload` the local blob is dropped once every fragment is sealed.
//! - `read`: a range of a file rebuilt from any k fragments, stripe by
//!   stripe, every shard checked against its hash.
//! - `repair`: audits (random shards checked against the kept hashes),
//!   re-placing fragments that are lost, on nodes gone past the grace
//!   period, or handed back by a leaving node; and telling nodes to delete
//!   what is no longer needed.
//!
//! One background task runs the rounds (placement, offload, repair,
//! deletions), another the audits, a third listens to the swarm's events.
//! All of it is bounded: files per round, fragments per audit round, files
//! repaired at once, repair bandwidth.

mod manifest;
mod place;
pub(crate) mod read;
mod repair;

use std::{
    collections::{HashMap, HashSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use mesh::{
    Multiaddr, PeerId,
    storage::{self, Event, NodeInfo, erasure::Coding},
};
use tokio::sync::Notify;

use crate::config::{MeshConfig, MeshMode};
use crate::{Error, db::Db, store::LocalDisk};

pub(crate) use manifest::{Manifest, NodeRow, offloaded};

/// A handle on the running mesh; cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct Mesh {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    client: storage::Client,
    db: Db,
    blobs: LocalDisk,
    config: MeshConfig,
    /// The last answer to `Info` of each connected node.
    space: Mutex<HashMap<PeerId, NodeInfo>>,
    wake: Notify,
}

impl Mesh {
    /// Starts the server's peer (listening on `config.listen`), its tasks,
    /// and returns the handle and the address nodes should use as tracker.
    pub(crate) async fn start(
        config: MeshConfig,
        data_dir: &std::path::Path,
        db: Db,
        blobs: LocalDisk,
    ) -> Result<(Mesh, Vec<Multiaddr>), Error> {
        let keypair = mesh::identity::load_or_create(&data_dir.join("mesh-identity.key"))
            .map_err(|e| Error::Config(format!("the mesh identity: {e}")))?;
        let (client, event_loop, events) = storage::new(storage::Config {
            keypair,
            listen: config.listen.clone(),
            bootstrap: Vec::new(),
            store: None,
            limits: storage::Limits::default(),
        })
        .map_err(|e| Error::Config(format!("NOCTURNE_MESH_LISTEN: {e}")))?;
        tokio::spawn(event_loop.run());
        let addrs = listening(&client).await;
        let mesh = Mesh {
            inner: Arc::new(Inner {
                client,
                db,
                blobs,
                config,
                space: Mutex::default(),
                wake: Notify::new(),
            }),
        };
        tokio::spawn(mesh.clone().listen(events));
        tokio::spawn(mesh.clone().rounds());
        tokio::spawn(mesh.clone().audits());
        Ok((mesh, addrs))
    }

    /// Asks the background rounds to look for work now (a file finished).
    pub(crate) fn wake(&self) {
        self.inner.wake.notify_one();
    }

    pub(crate) fn mode(&self) -> MeshMode {
        self.inner.config.mode
    }

    pub(crate) fn coding(&self) -> Coding {
        self.inner.config.coding
    }

    /// The manifest of a file, if it is on the mesh.
    pub(crate) async fn manifest(&self, file_id: String) -> Result<Option<Manifest>, Error> {
        self.inner
            .db
            .call(move |conn| manifest::load(conn, &file_id))
            .await
    }

    /// Nodes known, and which are connected now.
    pub(crate) async fn nodes(&self) -> Result<(Vec<NodeRow>, HashSet<PeerId>), Error> {
        let rows = self.inner.db.call(|conn| manifest::nodes(conn)).await?;
        Ok((rows, self.connected().await))
    }

    /// Per file of `account` on the mesh: (healthy, total, local blob kept).
    pub(crate) async fn health(
        &self,
        account: i64,
        ids: Vec<String>,
    ) -> Result<HashMap<String, (u32, u32, bool)>, Error> {
        self.inner
            .db
            .call(move |conn| manifest::health(conn, account, &ids))
            .await
    }

    /// (files, on the mesh, waiting for placement, degraded).
    pub(crate) async fn totals(&self) -> Result<(u64, u64, u64, u64), Error> {
        self.inner.db.call(|conn| manifest::totals(conn)).await
    }

    /// Connected storage nodes.
    async fn connected(&self) -> HashSet<PeerId> {
        match self.inner.client.status().await {
            Ok(status) => status.nodes.into_iter().collect(),
            Err(_) => HashSet::new(),
        }
    }

    /// Hears the swarm: nodes coming and going, nodes leaving.
    async fn listen(self, mut events: tokio::sync::mpsc::Receiver<Event>) {
        while let Some(event) = events.recv().await {
            let result = match event {
                Event::NodeUp(peer) => {
                    tracing::info!(%peer, "a storage node connected");
                    let r = self
                        .inner
                        .db
                        .call(move |conn| manifest::seen(conn, peer, None))
                        .await;
                    self.wake();
                    r
                }
                Event::PeerDown(peer) => {
                    self.space().remove(&peer);
                    self.inner
                        .db
                        .call(move |conn| manifest::seen(conn, peer, None))
                        .await
                }
                Event::Leave { peer, ids } => {
                    tracing::info!(%peer, fragments = ids.len(), "a storage node is leaving");
                    let r = self
                        .inner
                        .db
                        .call(move |conn| manifest::leaving(conn, peer, &ids))
                        .await;
                    self.wake();
                    r
                }
            };
            if let Err(e) = result {
                tracing::warn!(error = %e, "could not record a mesh event");
            }
        }
    }

    fn space(&self) -> std::sync::MutexGuard<'_, HashMap<PeerId, NodeInfo>> {
        self.inner
            .space
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Placement, offload, repair and deletions, each round.
    async fn rounds(self) {
        loop {
            tokio::select! {
                () = self.inner.wake.notified() => {}
                () = tokio::time::sleep(self.inner.config.repair_interval) => {}
            }
            if let Err(e) = self.round().await {
                tracing::warn!(error = %e, "a mesh round failed");
            }
        }
    }

    async fn round(&self) -> Result<(), Error> {
        let connected = self.refresh_nodes().await?;
        self.lose_gone(&connected).await?;
        self.place_pending().await?;
        if self.inner.config.mode == MeshMode::Offload {
            self.offload().await?;
        }
        self.repair(&connected).await?;
        self.empty_trash(&connected).await
    }

    /// Asks every connected node for its space; records it and the sighting.
    async fn refresh_nodes(&self) -> Result<HashSet<PeerId>, Error> {
        let connected = self.connected().await;
        let answers = futures_util::future::join_all(connected.iter().map(|&peer| {
            let client = self.inner.client.clone();
            async move {
                (
                    peer,
                    tokio::time::timeout(Duration::from_secs(10), client.info(peer)).await,
                )
            }
        }))
        .await;
        let mut live = HashSet::new();
        for (peer, answer) in answers {
            if let Ok(Ok(info)) = answer {
                live.insert(peer);
                self.space().insert(peer, info);
                self.inner
                    .db
                    .call(move |conn| manifest::seen(conn, peer, Some((info.capacity, info.used))))
                    .await?;
            }
        }
        Ok(live)
    }

    /// Fragments on nodes gone longer than the grace period are lost.
    async fn lose_gone(&self, connected: &HashSet<PeerId>) -> Result<(), Error> {
        let grace = i64::try_from(self.inner.config.grace.as_secs()).unwrap_or(i64::MAX);
        let rows = self.inner.db.call(|conn| manifest::nodes(conn)).await?;
        let now = crate::db::now();
        let gone: Vec<PeerId> = rows
            .into_iter()
            .filter(|n| {
                !connected.contains(&n.peer) && n.fragments > 0 && now - n.last_seen > grace
            })
            .map(|n| n.peer)
            .collect();
        if !gone.is_empty() {
            let lost = self
                .inner
                .db
                .call(move |conn| manifest::lose_peers(conn, &gone))
                .await?;
            if lost > 0 {
                tracing::warn!(
                    fragments = lost,
                    "fragments lost with nodes gone past the grace period"
                );
            }
        }
        Ok(())
    }

    /// Drops local blobs of files fully on the mesh (offload).
    async fn offload(&self) -> Result<(), Error> {
        let ids = self
            .inner
            .db
            .call(|conn| manifest::offloadable(conn, 64))
            .await?;
        for id in ids {
            let Some(blob) = crate::store::BlobId::parse(&id) else {
                continue;
            };
            let row = id.clone();
            self.inner
                .db
                .call(move |conn| manifest::set_offloaded(conn, &row))
                .await?;
            if let Err(e) = crate::store::BlobStore::delete(&self.inner.blobs, &blob).await {
                tracing::warn!(error = %e, "an offloaded file's local blob could not be removed");
            }
        }
        Ok(())
    }

    /// Tells nodes to delete fragments no manifest needs any more.
    async fn empty_trash(&self, connected: &HashSet<PeerId>) -> Result<(), Error> {
        let trash = self
            .inner
            .db
            .call(|conn| manifest::trash(conn, 512))
            .await?;
        for (peer, id) in trash.into_iter().filter(|(p, _)| connected.contains(p)) {
            let outcome = self
                .inner
                .client
                .done(peer, storage::Request::Delete { id })
                .await;
            let gone = match outcome {
                Ok(()) => true,
                Err(mesh::Error::Refused {
                    refusal: storage::Refusal::NotFound,
                    ..
                }) => true,
                Err(e) => {
                    tracing::debug!(%peer, error = %e, "a fragment deletion will be retried");
                    false
                }
            };
            if gone {
                self.inner
                    .db
                    .call(move |conn| manifest::emptied(conn, peer, id))
                    .await?;
            }
        }
        Ok(())
    }
}

/// The addresses the new peer listens on, once it does (bounded wait).
async fn listening(client: &storage::Client) -> Vec<Multiaddr> {
    for _ in 0..250 {
        if let Ok(status) = client.status().await
            && !status.listen_addrs.is_empty()
        {
            return status.listen_addrs;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Vec::new()
}
