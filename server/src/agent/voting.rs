//! Voting for this operator: a vote committed now (its ballot kept first,
//! see `ballots`), and the revealer that opens each ballot as its reveal
//! window opens, for as long as the peer runs.

use std::time::Duration;

use mesh::agent::{self, Body, Nonce, RecordId, vote::Phase};

use super::{
    ballots::{Ballot, Ballots},
    peer::{Peer, may_act, mesh_error, publish_best_effort, sign_now},
};
use crate::Error;

/// Ballots looked at per pass (older ones beyond stay on disk, unrevealed).
const MAX_BALLOTS: usize = 10_000;
/// The longest the revealer sleeps without looking again.
const IDLE: Duration = Duration::from_secs(60);

impl Ballots {
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
        may_act(peer).await?;
        let mut tally = peer.client.tally(entry).await.map_err(mesh_error)?;
        if tally.is_none() {
            // Not held here yet: fetch it from the DHT first.
            peer.client.get(entry).await.map_err(mesh_error)?;
            tally = peer.client.tally(entry).await.map_err(mesh_error)?;
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
        let commit = sign_now(peer, Body::VoteCommit { entry, commitment }, "invalid_vote")?;
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
        if let Err(e) = publish_best_effort(peer, commit).await {
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
        let mut ballots: Vec<Ballot> = files
            .flatten()
            .take(MAX_BALLOTS)
            .filter_map(|file| {
                std::fs::read(file.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<Ballot>(&b).ok())
            })
            .collect();
        // When reveals are paced, the window that closes first goes first.
        ballots.sort_by_key(|b| b.reveal_until);
        for mut ballot in ballots {
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
            match publish_best_effort(peer, reveal).await {
                Ok(_) => {
                    ballot.revealed = Some(id);
                    if let Err(e) = self.save(&ballot, false) {
                        tracing::warn!(error = %e, "could not note a reveal");
                    }
                    tracing::info!(entry = %ballot.entry, "revealed a vote");
                }
                // Many reveals due at once: paced so this operator never
                // looks like a vote burst; the rest wait until there is room.
                Err(Error::Paced { retry_after }) => {
                    tracing::info!(retry_after, "pacing reveals");
                    next = next.min(Duration::from_secs(retry_after));
                    break;
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
