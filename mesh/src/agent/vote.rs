//! Commit-reveal voting on knowledge entries, tallied by every peer alike
//! from the signed records alone: there is no coordinator.
//!
//! An entry's vote round is fixed by the entry and the network's rules:
//! commits are made in `[made, made + commit)`, reveals in the following
//! `[made + commit, made + commit + reveal)`, judged by the records' signed
//! times. For each operator only its first commit counts (earliest time,
//! then smallest id), and only a reveal that hashes back to it. Only
//! operators enrolled and not quarantined count. Once the reveal window
//! has closed: fewer revealed votes than the quorum decide nothing
//! (`undecided`); otherwise two thirds of them for (or against) make the
//! entry `accepted` (or `rejected`), and anything less is `disputed`.

use std::collections::BTreeMap;

use serde::Serialize;

use super::{
    genesis::Rules,
    record::{Body, NetworkId, OperatorId, RecordId, Signed, commitment},
};

/// Where a round stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Phase {
    /// Votes are being committed.
    Commit,
    /// Votes are being revealed.
    Reveal,
    /// The round is over.
    Closed,
}

/// What a round decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// The round is not over.
    Open,
    /// Two thirds of a quorum for.
    Accepted,
    /// Two thirds of a quorum against.
    Rejected,
    /// A quorum, without two thirds either way.
    Disputed,
    /// Fewer revealed votes than the quorum.
    Undecided,
}

/// A vote that counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Counted {
    /// Who voted.
    pub operator: OperatorId,
    /// +1 or -1.
    pub vote: i8,
    /// Why (the voter's words: untrusted text).
    pub reason: String,
    /// The reveal's time.
    pub revealed_at: u64,
    /// The reveal's id.
    pub reveal: RecordId,
}

/// An entry's vote as this peer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tally {
    /// The entry.
    pub entry: RecordId,
    /// Where the round stands now.
    pub phase: Phase,
    /// When commits stop counting.
    pub commit_closes: u64,
    /// When reveals stop counting.
    pub reveal_closes: u64,
    /// Operators with a counted commit.
    pub committed: usize,
    /// Revealed votes for.
    pub up: usize,
    /// Revealed votes against.
    pub down: usize,
    /// Revealed votes needed for an outcome.
    pub quorum: usize,
    /// The outcome (`open` until the reveal window closes).
    pub outcome: Outcome,
    /// The revealed votes that count (empty during the commit window).
    pub votes: Vec<Counted>,
}

/// The round's windows for an entry made at `made`.
pub fn windows(made: u64, rules: &Rules) -> (u64, u64) {
    let commit = made.saturating_add(rules.commit_s);
    (commit, commit.saturating_add(rules.reveal_s))
}

/// Tallies the vote on `entry` (whose id is `id`) from `records` with
/// their ids (any records; those that are not votes on it are skipped).
/// `eligible` says whether an operator is enrolled and not quarantined;
/// `enrolled` is how many are enrolled. (Ids are passed in because
/// computing one re-encodes the record: the store has them already.)
#[expect(
    clippy::too_many_arguments,
    reason = "each is one of the tally's inputs"
)]
pub fn tally<'a>(
    network: &NetworkId,
    id: RecordId,
    entry: &Signed,
    records: impl IntoIterator<Item = (RecordId, &'a Signed)>,
    rules: &Rules,
    enrolled: usize,
    eligible: impl Fn(&OperatorId) -> bool,
    now: u64,
) -> Tally {
    let made = entry.record.created_at;
    let (commit_closes, reveal_closes) = windows(made, rules);
    let mut commits: BTreeMap<OperatorId, (u64, RecordId, super::record::Commitment)> =
        BTreeMap::new();
    let mut reveals = Vec::new();
    for (rid, r) in records {
        let at = r.record.created_at;
        let author = r.record.author;
        match &r.record.body {
            Body::VoteCommit {
                entry: e,
                commitment,
            } if *e == id && (made..commit_closes).contains(&at) && eligible(&author) => {
                let first = commits.entry(author).or_insert((at, rid, *commitment));
                if (at, rid) < (first.0, first.1) {
                    *first = (at, rid, *commitment);
                }
            }
            Body::VoteReveal { entry: e, .. }
                if *e == id && (commit_closes..reveal_closes).contains(&at) =>
            {
                reveals.push((rid, r));
            }
            _ => {}
        }
    }
    let mut votes: BTreeMap<OperatorId, Counted> = BTreeMap::new();
    if now >= commit_closes {
        for (rid, r) in reveals {
            let author = r.record.author;
            let Body::VoteReveal {
                vote,
                reason,
                nonce,
                ..
            } = &r.record.body
            else {
                continue;
            };
            let Some((_, _, committed)) = commits.get(&author) else {
                continue;
            };
            if commitment(network, &id, &author, *vote, reason, nonce) != *committed {
                continue;
            }
            let counted = Counted {
                operator: author,
                vote: *vote,
                reason: reason.clone(),
                revealed_at: r.record.created_at,
                reveal: rid,
            };
            // Several matching reveals are one vote (the earliest).
            let slot = votes.entry(author).or_insert_with(|| counted.clone());
            if (counted.revealed_at, counted.reveal) < (slot.revealed_at, slot.reveal) {
                *slot = counted;
            }
        }
    }
    let up = votes.values().filter(|v| v.vote > 0).count();
    let down = votes.len() - up;
    let quorum = rules.quorum(enrolled);
    let phase = if now < commit_closes {
        Phase::Commit
    } else if now < reveal_closes {
        Phase::Reveal
    } else {
        Phase::Closed
    };
    let outcome = if phase != Phase::Closed {
        Outcome::Open
    } else {
        decide(up, down, quorum)
    };
    Tally {
        entry: id,
        phase,
        commit_closes,
        reveal_closes,
        committed: commits.len(),
        up,
        down,
        quorum,
        outcome,
        votes: votes.into_values().collect(),
    }
}

/// The outcome of a closed round with `up` and `down` revealed votes.
pub fn decide(up: usize, down: usize, quorum: usize) -> Outcome {
    let total = up + down;
    if total < quorum || total == 0 {
        Outcome::Undecided
    } else if 3 * up >= 2 * total {
        Outcome::Accepted
    } else if 3 * down >= 2 * total {
        Outcome::Rejected
    } else {
        Outcome::Disputed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::record::{Kind, Knowledge, Nonce, OperatorKey};

    fn net() -> NetworkId {
        NetworkId([7; 32])
    }

    fn entry(key: &OperatorKey, at: u64) -> Signed {
        key.make(
            net(),
            at,
            Body::Knowledge(Knowledge {
                domain: "d".into(),
                content: "c".into(),
                kind: Kind::Fact,
                confidence: 0.5,
                sources: vec![],
                tags: vec![],
                supersedes: None,
                task: None,
            }),
        )
    }

    fn commit(key: &OperatorKey, e: &Signed, vote: i8, nonce: u8, at: u64) -> Signed {
        let c = commitment(&net(), &e.id(), &key.id(), vote, "r", &Nonce([nonce; 32]));
        key.make(
            net(),
            at,
            Body::VoteCommit {
                entry: e.id(),
                commitment: c,
            },
        )
    }

    fn reveal(key: &OperatorKey, e: &Signed, vote: i8, nonce: u8, at: u64) -> Signed {
        key.make(
            net(),
            at,
            Body::VoteReveal {
                entry: e.id(),
                vote,
                reason: "r".into(),
                nonce: Nonce([nonce; 32]),
            },
        )
    }

    fn rules() -> Rules {
        Rules {
            commit_s: 100,
            reveal_s: 100,
            ..Rules::default()
        }
    }

    #[test]
    fn two_thirds_of_a_quorum_decide() {
        assert_eq!(decide(5, 2, 5), Outcome::Accepted);
        assert_eq!(decide(4, 3, 5), Outcome::Disputed);
        assert_eq!(decide(2, 5, 5), Outcome::Rejected);
        assert_eq!(decide(4, 0, 5), Outcome::Undecided);
        assert_eq!(decide(2, 1, 3), Outcome::Accepted);
        assert_eq!(decide(0, 0, 1), Outcome::Undecided);
    }

    #[test]
    fn only_first_commits_matching_reveals_in_their_windows_count() {
        let keys: Vec<OperatorKey> = (0..6).map(|_| OperatorKey::generate()).collect();
        let e = entry(&keys[0], 1000);
        let mut records = vec![
            // 0: a good vote for.
            commit(&keys[0], &e, 1, 1, 1010),
            reveal(&keys[0], &e, 1, 1, 1110),
            // 1: reveals another vote than it committed.
            commit(&keys[1], &e, -1, 2, 1010),
            reveal(&keys[1], &e, 1, 2, 1110),
            // 2: commits twice; only the first counts.
            commit(&keys[2], &e, 1, 3, 1010),
            commit(&keys[2], &e, -1, 4, 1020),
            reveal(&keys[2], &e, -1, 4, 1110),
            // 3: reveals during the commit window.
            commit(&keys[3], &e, 1, 5, 1010),
            reveal(&keys[3], &e, 1, 5, 1050),
            // 4: commits after the commit window.
            commit(&keys[4], &e, 1, 6, 1100),
            reveal(&keys[4], &e, 1, 6, 1120),
        ];
        // 5: replays 0's commitment under its own signature, then 0's reveal.
        let Body::VoteCommit { commitment: c, .. } = records[0].record.body.clone() else {
            unreachable!()
        };
        records.push(keys[5].make(
            net(),
            1010,
            Body::VoteCommit {
                entry: e.id(),
                commitment: c,
            },
        ));
        records.push(reveal(&keys[5], &e, 1, 1, 1110));
        let with_ids = || records.iter().map(|r| (r.id(), r));
        let t = tally(&net(), e.id(), &e, with_ids(), &rules(), 6, |_| true, 1300);
        assert_eq!((t.up, t.down), (1, 0), "{t:?}");
        assert_eq!(t.votes[0].operator, keys[0].id());
        assert_eq!(t.committed, 5, "the late commit does not count");
        // While the reveal window is open nothing is decided.
        let open = tally(&net(), e.id(), &e, with_ids(), &rules(), 6, |_| true, 1150);
        assert_eq!((open.phase, open.outcome), (Phase::Reveal, Outcome::Open));
        // An ineligible operator's good vote counts for nothing.
        let none = tally(
            &net(),
            e.id(),
            &e,
            with_ids(),
            &rules(),
            6,
            |o| *o != keys[0].id(),
            1300,
        );
        assert_eq!(none.up + none.down, 0);
    }
}
