//! This operator's votes: committed now, revealed by the running peer
//! when the reveal window opens.
//!
//! A ballot (`votes/<entry>.json`, mode 0600 in a 0700 directory) keeps the
//! vote, the reason and the nonce until the reveal: the nonce is the only
//! thing that can open the commitment, so it is written to disk *before*
//! the commitment is published (a crash in between loses nothing) and
//! never leaves this machine until the reveal.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use mesh::agent::{self, Body, Nonce, RecordId, vote::Phase};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::{api::Peer, local};
use crate::Error;

/// The ballots' directory inside the agent's.
const DIR: &str = "votes";
/// Ballots looked at per pass (older ones beyond stay on disk, unrevealed).
const MAX_BALLOTS: usize = 10_000;
/// The longest the revealer sleeps without looking again.
const IDLE: Duration = Duration::from_secs(60);

/// One vote, until revealed (and after, as this operator's record of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Ballot {
    pub(super) entry: RecordId,
    pub(super) vote: i8,
    pub(super) reason: String,
    nonce: Nonce,
    pub(super) commit: RecordId,
    pub(super) reveal_from: u64,
    pub(super) reveal_until: u64,
    #[serde(default)]
    pub(super) revealed: Option<RecordId>,
}

/// The ballot box on disk and the revealer's alarm.
#[derive(Debug, Clone)]
pub(super) struct Ballots {
    dir: PathBuf,
    wake: Arc<Notify>,
}

impl Ballots {
    pub(super) fn open(agent_dir: &Path) -> Result<Ballots, Error> {
        let dir = agent_dir.join(DIR);
        local::private_dir(&dir)?;
        Ok(Ballots {
            dir,
            wake: Arc::new(Notify::new()),
        })
    }

    fn path(&self, entry: &RecordId) -> PathBuf {
        self.dir.join(format!("{entry}.json"))
    }

    /// This operator's ballot on `entry`, if it voted.
    pub(super) fn get(&self, entry: &RecordId) -> Option<Ballot> {
        let bytes = std::fs::read(self.path(entry)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    fn save(&self, ballot: &Ballot, fresh: bool) -> Result<(), Error> {
        let text = serde_json::to_string(ballot).map_err(|e| Error::Config(e.to_string()))?;
        local::write_private(&self.path(&ballot.entry), &text, fresh)
    }

    /// Commits a vote: checks it can count, keeps the ballot, publishes
    /// the commitment, and wakes the revealer.
    pub(super) async fn cast(
        &self,
        peer: &Peer,
        entry: RecordId,
        vote: i8,
        reason: String,
    ) -> Result<Ballot, Error> {
        let invalid = |code, message: &str| Error::Invalid {
            code,
            message: message.to_owned(),
        };
        if vote != 1 && vote != -1 {
            return Err(invalid("invalid_vote", "a vote is +1 or -1"));
        }
        if reason.len() > agent::record::MAX_REASON {
            return Err(invalid(
                "invalid_vote",
                "the reason is longer than 512 bytes",
            ));
        }
        super::api::may_act(peer).await?;
        let mut tally = peer
            .client
            .tally(entry)
            .await
            .map_err(super::api::mesh_error)?;
        if tally.is_none() {
            // Not held here yet: fetch it from the DHT first.
            peer.client
                .get(entry)
                .await
                .map_err(super::api::mesh_error)?;
            tally = peer
                .client
                .tally(entry)
                .await
                .map_err(super::api::mesh_error)?;
        }
        let tally = tally.ok_or(Error::NotFound)?;
        if tally.phase != Phase::Commit {
            return Err(Error::Conflict {
                code: "vote_closed",
                message: format!(
                    "votes on this entry were taken until {} (Unix time); that window has closed",
                    tally.commit_closes
                ),
            });
        }
        if self.get(&entry).is_some() {
            return Err(Error::Conflict {
                code: "already_voted",
                message: "this operator already voted on this entry; one vote per operator".into(),
            });
        }
        let mut nonce = [0u8; 32];
        getrandom::fill(&mut nonce)
            .map_err(|e| Error::Config(format!("the OS random source: {e}")))?;
        let nonce = Nonce(nonce);
        let commitment =
            agent::commitment(&peer.network, &entry, &peer.key.id(), vote, &reason, &nonce);
        let commit =
            super::api::sign_now(peer, Body::VoteCommit { entry, commitment }, "invalid_vote")?;
        let ballot = Ballot {
            entry,
            vote,
            reason,
            nonce,
            commit: commit.id(),
            reveal_from: tally.commit_closes,
            reveal_until: tally.reveal_closes,
            revealed: None,
        };
        // On disk first: the nonce must outlive a crash after publishing.
        self.save(&ballot, true)?;
        if let Err(e) = super::api::publish_best_effort(peer, commit).await {
            std::fs::remove_file(self.path(&entry)).ok();
            return Err(e);
        }
        self.wake.notify_one();
        Ok(ballot)
    }

    /// Reveals every ballot whose reveal window is open, and says when to
    /// look again.
    async fn reveal_due(&self, peer: &Peer) -> Duration {
        let now = agent::now();
        let mut next = IDLE;
        let Ok(files) = std::fs::read_dir(&self.dir) else {
            return next;
        };
        for file in files.flatten().take(MAX_BALLOTS) {
            let Some(mut ballot) = std::fs::read(file.path())
                .ok()
                .and_then(|b| serde_json::from_slice::<Ballot>(&b).ok())
            else {
                continue;
            };
            if ballot.revealed.is_some() || now >= ballot.reveal_until {
                continue;
            }
            if now < ballot.reveal_from {
                next = next.min(Duration::from_secs(ballot.reveal_from - now));
                continue;
            }
            let reveal = peer.key.make(
                peer.network,
                now,
                Body::VoteReveal {
                    entry: ballot.entry,
                    vote: ballot.vote,
                    reason: ballot.reason.clone(),
                    nonce: ballot.nonce,
                },
            );
            let id = reveal.id();
            match super::api::publish_best_effort(peer, reveal).await {
                Ok(_) => {
                    ballot.revealed = Some(id);
                    if let Err(e) = self.save(&ballot, false) {
                        tracing::warn!(error = %e, "could not note a reveal");
                    }
                    tracing::info!(entry = %ballot.entry, "revealed a vote");
                }
                Err(e) => {
                    tracing::warn!(entry = %ballot.entry, error = %e, "could not reveal a vote; retrying");
                    next = next.min(Duration::from_secs(5));
                }
            }
        }
        next
    }

    /// Runs until the peer stops: reveals ballots as their windows open.
    pub(super) async fn reveal_forever(self, peer: Peer) {
        loop {
            let wait = self.reveal_due(&peer).await;
            tokio::select! {
                () = tokio::time::sleep(wait) => {}
                () = self.wake.notified() => {}
            }
        }
    }
}
