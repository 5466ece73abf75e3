//! Reading a file back from the mesh, stripe by stripe.

use std::{collections::HashSet, io};

use axum::body::Bytes;
use futures_util::{StreamExt, stream::FuturesUnordered};
use mesh::{
    PeerId,
    storage::{Client, Refusal, erasure},
};

use super::{
    Mesh,
    manifest::{self, Fragment, Health, Manifest},
};
use crate::Error;

/// A file's bytes on their way out, from the local store or the mesh alike.
pub(crate) type ByteStream = crate::store::Chunks;

/// The shards of one stripe that arrived and matched their hashes (at least
/// k), and the fragments that answered with wrong bytes.
pub(super) struct Fetched {
    pub(super) shards: Vec<Option<Vec<u8>>>,
    pub(super) bad: Vec<usize>,
}

/// Asks every usable fragment for its shard of `stripe` at once and keeps
/// the first k that match their hashes; the slower ones are abandoned.
pub(super) async fn fetch_stripe(
    client: &Client,
    manifest: &Manifest,
    usable: &[&Fragment],
    stripe: u64,
) -> Result<Fetched, Error> {
    let layout = manifest.layout;
    let k = usize::from(layout.coding.data);
    let shard = layout.shard_size;
    let mut asks: FuturesUnordered<_> = usable
        .iter()
        .map(|f| {
            let client = client.clone();
            let (peer, id, idx) = (f.peer, f.id, f.idx);
            let expected = f.shard_hashes.get(stripe as usize).copied();
            async move {
                let data = client
                    .read(peer, id, stripe * u64::from(shard), shard, false)
                    .await;
                (idx, expected, data)
            }
        })
        .collect();
    let mut shards: Vec<Option<Vec<u8>>> = vec![None; layout.coding.total()];
    let mut got = 0;
    let mut bad = Vec::new();
    while let Some((idx, expected, data)) = asks.next().await {
        match data {
            Ok(data) if Some(*blake3::hash(&data).as_bytes()) == expected => {
                shards[idx] = Some(data);
                got += 1;
                if got == k {
                    return Ok(Fetched { shards, bad });
                }
            }
            Ok(_)
            | Err(mesh::Error::Protocol(_))
            | Err(mesh::Error::Refused {
                refusal: Refusal::NotFound | Refusal::BadRange | Refusal::Io,
                ..
            }) => {
                tracing::warn!(
                    fragment = idx,
                    "a node answered with bytes that do not match their hash, or refused"
                );
                bad.push(idx);
            }
            Err(e) => tracing::debug!(fragment = idx, error = %e, "a node did not answer a read"),
        }
    }
    Err(Error::MeshUnavailable(format!(
        "only {got} of the {k} fragments needed answered"
    )))
}

/// The fragments worth asking: healthy or leaving, on a connected node.
pub(super) fn usable<'a>(manifest: &'a Manifest, connected: &HashSet<PeerId>) -> Vec<&'a Fragment> {
    manifest
        .fragments
        .iter()
        .filter(|f| f.health != Health::Lost && connected.contains(&f.peer))
        .collect()
}

impl Mesh {
    /// Streams `len` bytes of the file from `start`, rebuilt from the mesh.
    /// Fails before the first byte if fewer than k fragments are reachable.
    pub(crate) async fn read(
        &self,
        manifest: Manifest,
        start: u64,
        len: u64,
    ) -> Result<ByteStream, Error> {
        let connected = self.connected().await;
        let k = usize::from(manifest.layout.coding.data);
        let reachable = usable(&manifest, &connected).len();
        if reachable < k {
            return Err(Error::MeshUnavailable(format!(
                "{reachable} of the {k} fragments needed are reachable"
            )));
        }
        let layout = manifest.layout;
        let end = start + len;
        let stripes = layout.stripes_for(start..end);
        let mesh = self.clone();
        let manifest = std::sync::Arc::new(manifest);
        let connected = std::sync::Arc::new(connected);
        let stream = futures_util::stream::iter(stripes)
            .map(move |stripe| {
                let (mesh, manifest, connected) =
                    (mesh.clone(), manifest.clone(), connected.clone());
                async move {
                    let usable = usable(&manifest, &connected);
                    let fetched = fetch_stripe(&mesh.inner.client, &manifest, &usable, stripe)
                        .await
                        .map_err(|e| io::Error::other(e.to_string()))?;
                    mesh.forget_bad(&manifest.file_id, &fetched.bad).await;
                    let data =
                        erasure::decode_stripe(layout.coding, layout.shard_size, &fetched.shards)
                            .map_err(|e| io::Error::other(e.to_string()))?;
                    let stripe_range = layout.stripe_range(stripe);
                    let from = start.max(stripe_range.start) - stripe_range.start;
                    let to = end.min(stripe_range.end) - stripe_range.start;
                    Ok(Bytes::from(data).slice(from as usize..to as usize))
                }
            })
            // One stripe ahead: reads overlap the network with the client,
            // and memory stays at two stripes.
            .buffered(2);
        Ok(Box::pin(stream))
    }

    /// Fragments that answered with wrong bytes are lost (repair follows).
    pub(super) async fn forget_bad(&self, file_id: &str, bad: &[usize]) {
        for &idx in bad {
            let file = file_id.to_owned();
            let marked = self
                .inner
                .db
                .call(move |conn| manifest::set_health(conn, &file, idx, Health::Lost))
                .await;
            if let Err(e) = marked {
                tracing::warn!(error = %e, "could not mark a bad fragment lost");
            }
            self.wake();
        }
    }
}
