//! Putting fragments on nodes: choosing them, reserving space, writing
//! shards stripe by stripe, sealing; and placing a finished file.

use std::{collections::HashSet, time::Duration};

use mesh::{
    PeerId,
    storage::{FragmentId, Refusal, Request, erasure},
};
use tokio::io::AsyncReadExt;

use super::{
    Mesh,
    manifest::{self, Fragment, Health, Manifest},
};
use crate::{
    Error,
    store::{BlobId, BlobStore as _},
};

/// How long one write, reservation or seal may take before the placement
/// gives up on that node.
const STEP_TIMEOUT: Duration = Duration::from_secs(60);

/// A fragment being written to a node.
#[derive(Debug)]
pub(super) struct Target {
    pub(super) idx: usize,
    pub(super) peer: PeerId,
    pub(super) id: FragmentId,
    hasher: blake3::Hasher,
}

impl Mesh {
    /// Reserves a fragment of `len` bytes for each of `idxs`, each on a
    /// different connected node with room, none of them in `exclude`; the
    /// emptiest nodes first.
    pub(super) async fn reserve_targets(
        &self,
        idxs: &[usize],
        len: u64,
        exclude: &HashSet<PeerId>,
    ) -> Result<Vec<Target>, Error> {
        let mut candidates: Vec<(PeerId, u64)> = self
            .space()
            .iter()
            .filter(|(peer, info)| {
                !info.leaving
                    && !exclude.contains(peer)
                    && info.capacity.saturating_sub(info.used) >= len
            })
            .map(|(peer, info)| (*peer, info.capacity - info.used))
            .collect();
        candidates.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut targets = Vec::with_capacity(idxs.len());
        let mut idxs = idxs.iter().copied();
        let mut next = idxs.next();
        for (peer, _) in candidates {
            let Some(idx) = next else { break };
            let id = FragmentId::random();
            let reserved = tokio::time::timeout(
                STEP_TIMEOUT,
                self.inner.client.done(peer, Request::Reserve { id, len }),
            )
            .await;
            match reserved {
                Ok(Ok(())) => {
                    if let Some(info) = self.space().get_mut(&peer) {
                        info.used += len;
                    }
                    targets.push(Target {
                        idx,
                        peer,
                        id,
                        hasher: blake3::Hasher::new(),
                    });
                    next = idxs.next();
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "a node refused a reservation"),
                Err(_) => tracing::debug!(%peer, "a node did not answer a reservation"),
            }
        }
        if next.is_some() {
            let got = targets.len();
            self.abandon(targets).await;
            return Err(Error::MeshUnavailable(format!(
                "{got} nodes with room for a {len}-byte fragment, {} needed",
                got + 1 + idxs.count()
            )));
        }
        Ok(targets)
    }

    /// Writes each target's shard of `stripe` (all at once, one message
    /// each; every write waits for its answer, which is the backpressure).
    pub(super) async fn write_stripe(
        &self,
        targets: &mut [Target],
        stripe: u64,
        shard_size: u32,
        shards: &[Vec<u8>],
    ) -> Result<(), Error> {
        let writes = targets.iter_mut().map(|t| {
            let data = shards[t.idx].clone();
            t.hasher.update(&data);
            let (client, peer, id) = (self.inner.client.clone(), t.peer, t.id);
            let offset = stripe * u64::from(shard_size);
            async move {
                // A busy node (its rate or concurrency limit) is asked again
                // a little later, a few times, before the placement gives up.
                for attempt in 0u64..8 {
                    let write = client.done(
                        peer,
                        Request::Write {
                            id,
                            offset,
                            data: data.clone(),
                        },
                    );
                    match tokio::time::timeout(STEP_TIMEOUT, write).await {
                        Ok(Err(mesh::Error::Refused {
                            refusal: Refusal::Busy,
                            ..
                        })) => {
                            tokio::time::sleep(Duration::from_millis(50 << attempt)).await;
                        }
                        Ok(result) => {
                            return result.map_err(|e| Error::MeshUnavailable(e.to_string()));
                        }
                        Err(_) => {
                            return Err(Error::MeshUnavailable(format!(
                                "peer {peer} did not answer a write"
                            )));
                        }
                    }
                }
                Err(Error::MeshUnavailable(format!("peer {peer} stayed busy")))
            }
        });
        futures_util::future::try_join_all(writes).await.map(drop)
    }

    /// Seals every target with the hash of what was written.
    pub(super) async fn seal(&self, targets: &[Target]) -> Result<Vec<[u8; 32]>, Error> {
        let seals = targets.iter().map(|t| {
            let hash = *t.hasher.finalize().as_bytes();
            let (client, peer, id) = (self.inner.client.clone(), t.peer, t.id);
            async move {
                match tokio::time::timeout(
                    STEP_TIMEOUT,
                    client.done(peer, Request::Seal { id, hash }),
                )
                .await
                {
                    Ok(Ok(())) => Ok(hash),
                    Ok(Err(e)) => Err(Error::MeshUnavailable(e.to_string())),
                    Err(_) => Err(Error::MeshUnavailable(format!(
                        "peer {peer} did not answer a seal"
                    ))),
                }
            }
        });
        futures_util::future::try_join_all(seals).await
    }

    /// Deletes what a failed placement left on the nodes (best effort; a
    /// node drops unfinished fragments on its own after a while).
    pub(super) async fn abandon(&self, targets: Vec<Target>) {
        let deletes = targets.into_iter().map(|t| {
            let client = self.inner.client.clone();
            async move { client.done(t.peer, Request::Delete { id: t.id }).await.ok() }
        });
        futures_util::future::join_all(deletes).await;
    }

    /// Places files not yet on the mesh, oldest first.
    pub(super) async fn place_pending(&self) -> Result<(), Error> {
        let pending = self
            .inner
            .db
            .call(|conn| manifest::unplaced(conn, 8))
            .await?;
        for (file_id, size) in pending {
            match self.place(file_id, size).await {
                Ok(()) => {}
                // Not enough nodes yet: the file waits for the next round.
                Err(e @ Error::MeshUnavailable(_)) => {
                    tracing::debug!(error = %e, "a file waits for placement");
                    break;
                }
                Err(e) => tracing::warn!(error = %e, "a file could not be placed on the mesh"),
            }
        }
        Ok(())
    }

    /// Encodes the file's local blob stripe by stripe onto k + m nodes and
    /// records the manifest.
    async fn place(&self, file_id: String, size: u64) -> Result<(), Error> {
        let config = &self.inner.config;
        let layout = erasure::Layout {
            coding: config.coding,
            shard_size: config.shard_size,
            size,
        };
        let n = layout.coding.total();
        let Some(blob_id) = BlobId::parse(&file_id) else {
            return Ok(());
        };
        let idxs: Vec<usize> = (0..n).collect();
        let mut targets = self
            .reserve_targets(&idxs, layout.fragment_len(), &HashSet::new())
            .await?;
        let written = async {
            let mut blob = self
                .inner
                .blobs
                .open(&blob_id)
                .await
                .map_err(|e| Error::io("open a blob in", "the data directory", e))?;
            let mut shard_hashes: Vec<Vec<[u8; 32]>> = vec![Vec::new(); n];
            let mut buf = vec![0u8; layout.stripe_data() as usize];
            for stripe in 0..layout.stripes() {
                let range = layout.stripe_range(stripe);
                let want = (range.end - range.start) as usize;
                blob.read_exact(&mut buf[..want])
                    .await
                    .map_err(|e| Error::io("read a blob in", "the data directory", e))?;
                let shards = erasure::encode_stripe(layout.coding, layout.shard_size, &buf[..want])
                    .map_err(|e| Error::MeshUnavailable(e.to_string()))?;
                for (hashes, shard) in shard_hashes.iter_mut().zip(&shards) {
                    hashes.push(*blake3::hash(shard).as_bytes());
                }
                self.write_stripe(&mut targets, stripe, layout.shard_size, &shards)
                    .await?;
            }
            let hashes = self.seal(&targets).await?;
            Ok::<_, Error>((shard_hashes, hashes))
        }
        .await;
        let (shard_hashes, hashes) = match written {
            Ok(done) => done,
            Err(e) => {
                self.abandon(targets).await;
                return Err(e);
            }
        };
        let manifest = Manifest {
            file_id: file_id.clone(),
            layout,
            local: true,
            fragments: targets
                .iter()
                .zip(hashes)
                .map(|(t, hash)| Fragment {
                    idx: t.idx,
                    id: t.id,
                    peer: t.peer,
                    hash,
                    shard_hashes: shard_hashes[t.idx].clone(),
                    health: Health::Healthy,
                })
                .collect(),
        };
        let placed = self
            .inner
            .db
            .call(move |conn| manifest::insert(conn, &manifest))
            .await?;
        if placed {
            tracing::info!(file = %file_id, coding = %layout.coding, "placed a file on the mesh");
        }
        Ok(())
    }
}
