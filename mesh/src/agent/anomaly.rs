//! What a peer watches for in the records it receives, to quarantine an
//! operator locally at once and report it with evidence.
//!
//! - **Flood**: more than `flood` knowledge entries by one operator signed
//!   within `window_s` seconds (by their signed times, so the evidence is
//!   checkable by anyone, and history synced in bulk is not a flood).
//! - **Vote burst**: more than `vote_burst` vote records (commits and
//!   reveals) by one operator signed within `window_s`.
//! - **Bad signatures**: `bad_signatures` records whose signatures do not
//!   verify, within `window_s` of this peer's clock, from the peer an
//!   operator has bound to itself (honest peers never forward such
//!   records: they check first).
//! - **Collusion**: an operator whose revealed votes equal another's on
//!   every one of at least `mirror_min` entries both voted on, at least
//!   `mirror_contested` of which the two lost together (more voters voted
//!   the other way). Agreeing with the majority, however often, is what
//!   honest reviewers do and is not collusion; a pair that always votes
//!   alike against everyone else looks like one operator with two keys.
//!   The one that revealed later on most shared entries is reported.
//!
//! Everything is bounded: operators tracked, times kept per operator,
//! votes kept per operator and entries tracked.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};

use super::record::{Anomaly, OperatorId, RecordId};

/// Operators (and entries) tracked at most; beyond, the tables start over.
const MAX_TRACKED: usize = 4096;
/// Revealed votes remembered per operator.
const MAX_VOTES_KEPT: usize = 512;

/// Thresholds; every peer may choose its own (they only decide what this
/// peer reports and ignores locally).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// The sliding window, in seconds.
    pub window_s: u64,
    /// Entries per window beyond which an operator floods.
    pub flood: usize,
    /// Vote records per window beyond which an operator bursts.
    pub vote_burst: usize,
    /// Bad signatures per window that get an operator reported.
    pub bad_signatures: usize,
    /// Shared entries before identical votes look like collusion.
    pub mirror_min: usize,
    /// Of those, entries the two lost together.
    pub mirror_contested: usize,
    /// How long a local quarantine lasts unless the network confirms it.
    pub local_s: u64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            window_s: 60,
            flood: 60,
            vote_burst: 120,
            bad_signatures: 3,
            mirror_min: 10,
            mirror_contested: 3,
            local_s: 3600,
        }
    }
}

/// Something seen, with the records that show it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// Who.
    pub operator: OperatorId,
    /// What.
    pub anomaly: Anomaly,
    /// Records showing it (at most 64).
    pub evidence: Vec<RecordId>,
    /// In a few words.
    pub detail: String,
}

/// Events per operator, by time; order of arrival does not matter.
#[derive(Debug, Default)]
struct Burst {
    seen: HashMap<OperatorId, BTreeSet<(u64, RecordId)>>,
}

impl Burst {
    /// Notes one event at `t` and returns the events within `window`
    /// seconds before or after it if they are more than `max`.
    fn note(
        &mut self,
        who: OperatorId,
        id: RecordId,
        t: u64,
        window: u64,
        max: usize,
    ) -> Option<Vec<RecordId>> {
        if self.seen.len() >= MAX_TRACKED && !self.seen.contains_key(&who) {
            self.seen.clear();
        }
        let times = self.seen.entry(who).or_default();
        times.insert((t, id));
        // Bounded: the newest few times the threshold are enough.
        while times.len() > max.saturating_add(1).saturating_mul(4) {
            times.pop_first();
        }
        let span = window.saturating_sub(1);
        let before = times
            .range((t.saturating_sub(span), RecordId([0; 32]))..=(t, RecordId([0xff; 32])))
            .count();
        let after = times
            .range((t, RecordId([0; 32]))..=(t.saturating_add(span), RecordId([0xff; 32])))
            .count();
        let (from, to) = if before >= after {
            (t.saturating_sub(span), t)
        } else {
            (t, t.saturating_add(span))
        };
        (before.max(after) > max).then(|| {
            times
                .range((from, RecordId([0; 32]))..=(to, RecordId([0xff; 32])))
                .map(|(_, id)| *id)
                .take(64)
                .collect()
        })
    }

    /// `None` if one more event by `who` signed at `t` stays within `max`
    /// in the `window` before it; otherwise the seconds until it would.
    fn room(&self, who: &OperatorId, t: u64, window: u64, max: usize) -> Option<u64> {
        if max == 0 {
            return Some(window.max(1));
        }
        let span = window.saturating_sub(1);
        let times = self.seen.get(who)?;
        // Records signed after `t` (a clock set back) count as `note`
        // counts them: no room until `t` is past them.
        let later = times
            .range((t, RecordId([0; 32]))..=(t.saturating_add(span), RecordId([0xff; 32])))
            .count();
        if later >= max {
            return Some(window.max(1));
        }
        let within: Vec<u64> = times
            .range((t.saturating_sub(span), RecordId([0; 32]))..=(t, RecordId([0xff; 32])))
            .map(|(at, _)| *at)
            .collect();
        // The oldest events have to age out until fewer than `max` remain.
        let must_age = within.len().checked_sub(max)?;
        Some(
            within[must_age]
                .saturating_add(window)
                .saturating_sub(t)
                .max(1),
        )
    }
}

/// One revealed vote remembered for the collusion check.
#[derive(Debug, Clone, Copy)]
struct Seen {
    vote: i8,
    at: u64,
    reveal: RecordId,
}

/// The watch: feed it what arrives, act on its findings.
#[derive(Debug, Default)]
pub struct Watch {
    thresholds: Thresholds,
    entries: Burst,
    votes: Burst,
    bad: HashMap<OperatorId, VecDeque<u64>>,
    by_operator: HashMap<OperatorId, BTreeMap<RecordId, Seen>>,
    by_entry: HashMap<RecordId, BTreeMap<OperatorId, i8>>,
}

impl Watch {
    /// A watch with these thresholds.
    pub fn new(thresholds: Thresholds) -> Watch {
        Watch {
            thresholds,
            ..Watch::default()
        }
    }

    /// The thresholds.
    pub fn thresholds(&self) -> &Thresholds {
        &self.thresholds
    }

    /// A knowledge entry signed at `at` arrived.
    pub fn entry(&mut self, author: OperatorId, id: RecordId, at: u64) -> Option<Finding> {
        let t = self.thresholds;
        let evidence = self.entries.note(author, id, at, t.window_s, t.flood)?;
        Some(Finding {
            operator: author,
            anomaly: Anomaly::Flood,
            evidence,
            detail: format!("more than {} entries within {} s", t.flood, t.window_s),
        })
    }

    /// A vote record (commit or reveal) signed at `at` arrived.
    pub fn vote_record(&mut self, author: OperatorId, id: RecordId, at: u64) -> Option<Finding> {
        let t = self.thresholds;
        let evidence = self.votes.note(author, id, at, t.window_s, t.vote_burst)?;
        Some(Finding {
            operator: author,
            anomaly: Anomaly::VoteBurst,
            evidence,
            detail: format!(
                "more than {} vote records within {} s",
                t.vote_burst, t.window_s
            ),
        })
    }

    /// `None` if a knowledge entry by `author` signed at `at` would not
    /// look like a flood here; otherwise the seconds until it would not.
    pub fn room_for_entry(&self, author: &OperatorId, at: u64) -> Option<u64> {
        let t = self.thresholds;
        self.entries.room(author, at, t.window_s, t.flood)
    }

    /// As [`Watch::room_for_entry`], for a vote record and vote bursts.
    pub fn room_for_vote(&self, author: &OperatorId, at: u64) -> Option<u64> {
        let t = self.thresholds;
        self.votes.room(author, at, t.window_s, t.vote_burst)
    }

    /// The peer `operator` bound to itself sent a record whose signature
    /// does not verify.
    pub fn bad_signature(&mut self, operator: OperatorId, now: u64) -> Option<Finding> {
        let t = self.thresholds;
        if self.bad.len() >= MAX_TRACKED && !self.bad.contains_key(&operator) {
            self.bad.clear();
        }
        let times = self.bad.entry(operator).or_default();
        times.push_back(now);
        while times
            .front()
            .is_some_and(|s| s.saturating_add(t.window_s) <= now)
            || times.len() > t.bad_signatures
        {
            times.pop_front();
        }
        if times.len() < t.bad_signatures {
            return None;
        }
        times.clear();
        Some(Finding {
            operator,
            anomaly: Anomaly::BadSignatures,
            evidence: vec![],
            detail: format!(
                "its peer sent {} records with bad signatures within {} s",
                t.bad_signatures, t.window_s
            ),
        })
    }

    /// A revealed vote arrived (`at`: the reveal's signed time).
    pub fn reveal(
        &mut self,
        author: OperatorId,
        entry: RecordId,
        vote: i8,
        at: u64,
        reveal: RecordId,
    ) -> Option<Finding> {
        if self.by_entry.len() >= MAX_TRACKED && !self.by_entry.contains_key(&entry) {
            self.by_entry.clear();
        }
        if self.by_operator.len() >= MAX_TRACKED && !self.by_operator.contains_key(&author) {
            self.by_operator.clear();
        }
        self.by_entry.entry(entry).or_default().insert(author, vote);
        let mine = self.by_operator.entry(author).or_default();
        mine.insert(entry, Seen { vote, at, reveal });
        while mine.len() > MAX_VOTES_KEPT {
            let oldest = mine.iter().min_by_key(|(_, s)| s.at).map(|(e, _)| *e);
            if let Some(e) = oldest {
                mine.remove(&e);
            }
        }
        let voters: Vec<OperatorId> = self
            .by_entry
            .get(&entry)
            .map(|m| m.keys().copied().filter(|o| *o != author).collect())
            .unwrap_or_default();
        voters
            .into_iter()
            .find_map(|other| self.mirror(author, other))
    }

    /// Whether `a` and `b` mirror each other; the finding names the one
    /// that revealed later on most shared entries.
    fn mirror(&self, a: OperatorId, b: OperatorId) -> Option<Finding> {
        let t = self.thresholds;
        let (va, vb) = (self.by_operator.get(&a)?, self.by_operator.get(&b)?);
        let mut shared = 0;
        let mut contested = 0;
        let mut a_later = 0;
        let mut evidence = Vec::new();
        for (entry, sa) in va {
            let Some(sb) = vb.get(entry) else { continue };
            if sa.vote != sb.vote {
                return None;
            }
            shared += 1;
            let lost = self.by_entry.get(entry).is_some_and(|m| {
                let against = m.values().filter(|v| **v != sa.vote).count();
                against > m.len() - against
            });
            if lost {
                contested += 1;
            }
            if sa.at >= sb.at {
                a_later += 1;
            }
            if evidence.len() < 64 {
                evidence.push(sa.reveal);
            }
            if evidence.len() < 64 {
                evidence.push(sb.reveal);
            }
        }
        if shared < t.mirror_min || contested < t.mirror_contested {
            return None;
        }
        let (follower, leader) = if 2 * a_later >= shared {
            (a, b)
        } else {
            (b, a)
        };
        Some(Finding {
            operator: follower,
            anomaly: Anomaly::Collusion,
            evidence,
            detail: format!("its votes mirror {leader}'s on all {shared} entries both voted on"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(n: u8) -> OperatorId {
        OperatorId([n; 32])
    }

    fn id(n: u16) -> RecordId {
        let mut b = [0u8; 32];
        b[..2].copy_from_slice(&n.to_le_bytes());
        RecordId(b)
    }

    #[test]
    fn floods_are_seen_within_the_window_only() {
        let mut w = Watch::new(Thresholds {
            flood: 3,
            window_s: 10,
            ..Thresholds::default()
        });
        // Three in a window are fine; spread out, any number is.
        for i in 0..3 {
            assert_eq!(w.entry(op(1), id(i), 100), None);
        }
        for i in 0..10 {
            assert_eq!(w.entry(op(2), id(i), 100 + 10 * u64::from(i)), None);
        }
        let f = w.entry(op(1), id(9), 105).expect("a flood");
        assert_eq!(
            (f.operator, f.anomaly, f.evidence.len()),
            (op(1), Anomaly::Flood, 4)
        );
    }

    #[test]
    fn room_says_when_one_more_entry_stops_looking_like_a_flood() {
        let mut w = Watch::new(Thresholds {
            flood: 3,
            window_s: 60,
            ..Thresholds::default()
        });
        assert_eq!(w.room_for_entry(&op(1), 100), None, "nothing seen yet");
        for (n, at) in [(1, 100), (2, 110), (3, 120)] {
            assert_eq!(w.room_for_entry(&op(1), at), None, "entry {n} fits");
            assert!(w.entry(op(1), id(n), at).is_none());
        }
        // A fourth now would be a flood, until the first is 60 s old.
        assert_eq!(w.room_for_entry(&op(1), 125), Some(35));
        assert_eq!(w.room_for_entry(&op(1), 159), Some(1));
        assert_eq!(w.room_for_entry(&op(1), 160), None);
        assert!(w.entry(op(1), id(4), 160).is_none(), "as room said");
        assert_eq!(w.room_for_entry(&op(2), 125), None, "others are apart");
        assert_eq!(w.room_for_vote(&op(1), 125), None, "votes are apart");
        // Entries signed later than now (a clock set back) count too.
        for (n, at) in [(5, 500), (6, 510), (7, 520)] {
            assert!(w.entry(op(3), id(n), at).is_none());
        }
        assert_eq!(w.room_for_entry(&op(3), 490), Some(60));
        // A threshold of zero leaves no room at all, and says so.
        let none = Watch::new(Thresholds {
            flood: 0,
            ..Thresholds::default()
        });
        assert!(none.room_for_entry(&op(1), 100).is_some());
    }

    #[test]
    fn bad_signatures_count_up_to_the_threshold() {
        let mut w = Watch::new(Thresholds {
            bad_signatures: 3,
            ..Thresholds::default()
        });
        assert!(w.bad_signature(op(1), 10).is_none());
        assert!(w.bad_signature(op(1), 11).is_none());
        assert_eq!(
            w.bad_signature(op(1), 12).map(|f| f.anomaly),
            Some(Anomaly::BadSignatures)
        );
    }

    #[test]
    fn a_pair_that_always_loses_together_is_collusion_but_a_majority_is_not() {
        let thresholds = Thresholds {
            mirror_min: 4,
            mirror_contested: 2,
            ..Thresholds::default()
        };
        let mut w = Watch::new(thresholds);
        let mut found = None;
        for e in 0..4u16 {
            let vote = if e % 2 == 0 { 1 } else { -1 };
            // Operators 3, 4 and 5 outvote the pair on the first two entries.
            if e < 2 {
                for o in 3..6u8 {
                    let r = id(100 * u16::from(o) + e);
                    assert!(w.reveal(op(o), id(e), -vote, 10, r).is_none());
                }
            }
            assert!(w.reveal(op(1), id(e), vote, 10, id(100 + e)).is_none());
            found = found.or(w.reveal(op(2), id(e), vote, 20, id(200 + e)));
        }
        let f = found.expect("collusion");
        assert_eq!((f.operator, f.anomaly), (op(2), Anomaly::Collusion));
        // Five who agree on everything against two dissenters are a majority
        // at work, not collusion: only the dissenting pair is flagged.
        let mut w = Watch::new(thresholds);
        let mut flagged = BTreeSet::new();
        for e in 0..20u16 {
            for o in 1..8u8 {
                let vote = if o <= 5 { 1 } else { -1 };
                if let Some(f) =
                    w.reveal(op(o), id(e), vote, u64::from(o), id(100 * u16::from(o) + e))
                {
                    flagged.insert(f.operator);
                }
            }
        }
        assert_eq!(flagged, [op(7)].into_iter().collect());
    }
}
