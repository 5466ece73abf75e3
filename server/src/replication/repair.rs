//! Keeping files whole: audits, and rebuilding fragments elsewhere.

use std::{
    collections::HashSet,
    time::{Duration, Instant},
};

use futures_util::StreamExt;
use mesh::{
    PeerId,
    storage::{Refusal, erasure},
};

use super::{
    Mesh,
    manifest::{self, AuditTarget, Health},
    read::{fetch_stripe, usable},
};
use crate::Error;

/// Fragments audited per round.
const AUDITS_PER_ROUND: usize = 64;
/// Audits in flight at once.
const AUDITS_AT_ONCE: usize = 8;
/// How long a node has to answer an audit.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(30);
/// Files examined for repair per round.
const REPAIRS_PER_ROUND: usize = 16;

impl Mesh {
    /// Rebuilds what needs it, a few files at a time.
    pub(super) async fn repair(&self, connected: &HashSet<PeerId>) -> Result<(), Error> {
        let threshold = self.threshold();
        let set = connected.clone();
        let files = self
            .inner
            .db
            .call(move |conn| manifest::needing_repair(conn, &set, threshold, REPAIRS_PER_ROUND))
            .await?;
        futures_util::stream::iter(files)
            .for_each_concurrent(self.inner.config.repair_parallelism.max(1), |file_id| async move {
                if let Err(e) = self.repair_file(&file_id, connected).await {
                    tracing::warn!(file = %file_id, error = %e, "a repair did not complete; it will be retried");
                }
            })
            .await;
        Ok(())
    }

    fn threshold(&self) -> usize {
        let coding = self.inner.config.coding;
        self.inner
            .config
            .repair_threshold
            .unwrap_or(usize::from(coding.data) + 1)
    }

    /// Rebuilds the fragments of one file that are lost, leaving, or (when
    /// too few are reachable) on disconnected nodes, onto other nodes.
    async fn repair_file(&self, file_id: &str, connected: &HashSet<PeerId>) -> Result<(), Error> {
        let Some(manifest) = self.manifest(file_id.to_owned()).await? else {
            return Ok(());
        };
        let layout = manifest.layout;
        let k = usize::from(layout.coding.data);
        let live = manifest
            .fragments
            .iter()
            .filter(|f| f.health == Health::Healthy && connected.contains(&f.peer))
            .count();
        let urgent = live < self.threshold();
        let replace: Vec<usize> = manifest
            .fragments
            .iter()
            .filter(|f| f.health != Health::Healthy || (urgent && !connected.contains(&f.peer)))
            .map(|f| f.idx)
            .collect();
        if replace.is_empty() {
            return Ok(());
        }
        let sources = usable(&manifest, connected);
        if sources.len() < k {
            return Err(Error::MeshUnavailable(format!(
                "{} of the {k} fragments needed to rebuild are reachable",
                sources.len()
            )));
        }
        let exclude: HashSet<PeerId> = manifest.fragments.iter().map(|f| f.peer).collect();
        let mut targets = self
            .reserve_targets(&replace, layout.fragment_len(), &exclude)
            .await?;
        tracing::info!(file = %file_id, fragments = replace.len(), "repairing");
        let started = Instant::now();
        let rate = self.inner.config.repair_rate.max(1);
        let mut sent: u64 = 0;
        let mut sources = sources;
        let written = async {
            for stripe in 0..layout.stripes() {
                let fetched = fetch_stripe(&self.inner.client, &manifest, &sources, stripe).await?;
                if !fetched.bad.is_empty() {
                    self.forget_bad(file_id, &fetched.bad).await;
                    sources.retain(|f| !fetched.bad.contains(&f.idx));
                }
                let shards =
                    erasure::rebuild_stripe(layout.coding, layout.shard_size, &fetched.shards)
                        .map_err(|e| Error::MeshUnavailable(e.to_string()))?;
                for &idx in &replace {
                    let expected = manifest.fragments[idx].shard_hashes.get(stripe as usize);
                    if expected != Some(blake3::hash(&shards[idx]).as_bytes()) {
                        return Err(Error::MeshUnavailable(
                            "a rebuilt shard does not match its hash".into(),
                        ));
                    }
                }
                self.write_stripe(&mut targets, stripe, layout.shard_size, &shards)
                    .await?;
                // Bounded bandwidth: never ahead of `repair_rate`.
                sent += u64::from(layout.shard_size) * replace.len() as u64;
                let due = Duration::from_secs_f64(sent as f64 / rate as f64);
                if let Some(wait) = due.checked_sub(started.elapsed()) {
                    tokio::time::sleep(wait).await;
                }
            }
            self.seal(&targets).await
        }
        .await;
        if let Err(e) = written {
            self.abandon(targets).await;
            return Err(e);
        }
        let moves: Vec<(usize, mesh::storage::FragmentId, PeerId)> =
            targets.iter().map(|t| (t.idx, t.id, t.peer)).collect();
        let file = file_id.to_owned();
        self.inner
            .db
            .call(move |conn| {
                for (idx, id, peer) in moves {
                    manifest::moved(conn, &file, idx, id, peer)?;
                }
                Ok(())
            })
            .await?;
        tracing::info!(file = %file_id, fragments = replace.len(), seconds = started.elapsed().as_secs_f64(), "repaired");
        self.wake();
        Ok(())
    }

    /// Audits, every `audit_interval`.
    pub(super) async fn audits(self) {
        loop {
            tokio::time::sleep(self.inner.config.audit_interval).await;
            if let Err(e) = self.audit_round().await {
                tracing::warn!(error = %e, "an audit round failed");
            }
        }
    }

    /// Challenges the least recently audited fragments on connected nodes:
    /// each must send one random shard, which must match the hash kept for
    /// it. A wrong or missing answer loses the fragment.
    async fn audit_round(&self) -> Result<(), Error> {
        let connected = self.connected().await;
        let targets: Vec<AuditTarget> = self
            .inner
            .db
            .call(|conn| manifest::audit_targets(conn, AUDITS_PER_ROUND * 4))
            .await?
            .into_iter()
            .filter(|t| connected.contains(&t.peer))
            .take(AUDITS_PER_ROUND)
            .collect();
        let verdicts: Vec<(AuditTarget, Option<bool>)> = futures_util::stream::iter(targets)
            .map(|t| async move {
                let verdict = self.audit(&t).await;
                (t, verdict)
            })
            .buffer_unordered(AUDITS_AT_ONCE)
            .collect()
            .await;
        let mut failed = false;
        for (target, verdict) in verdicts {
            let Some(passed) = verdict else { continue };
            if !passed {
                tracing::warn!(peer = %target.peer, "a fragment failed its audit");
                failed = true;
            }
            self.inner
                .db
                .call(move |conn| manifest::audited(conn, &target, passed))
                .await?;
        }
        if failed {
            self.wake();
        }
        Ok(())
    }

    /// `Some(passed)`, or `None` when the node was only busy.
    async fn audit(&self, target: &AuditTarget) -> Option<bool> {
        let stripes = target.shard_hashes.len() as u64;
        if stripes == 0 {
            return Some(false);
        }
        let stripe = random_below(stripes);
        let offset = stripe * u64::from(target.shard_size);
        let answer = tokio::time::timeout(
            AUDIT_TIMEOUT,
            self.inner
                .client
                .read(target.peer, target.id, offset, target.shard_size, true),
        )
        .await;
        match answer {
            Ok(Ok(data)) => {
                Some(blake3::hash(&data).as_bytes() == &target.shard_hashes[stripe as usize])
            }
            Ok(Err(mesh::Error::Refused {
                refusal: Refusal::Busy,
                ..
            })) => None,
            Ok(Err(_)) | Err(_) => Some(false),
        }
    }
}

fn random_below(n: u64) -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    u64::from_le_bytes(bytes) % n
}
