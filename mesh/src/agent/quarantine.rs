//! Quarantine: operators whose records and votes a peer ignores.
//!
//! - **Locally**, at once, when this peer's own [`super::anomaly`] watch
//!   sees a flood, a vote burst, repeated bad signatures or mirrored votes.
//!   It lasts a while (an hour by default) unless the network confirms it.
//! - **Network-wide**, from signed reports alone, alike on every peer:
//!   replaying the `report` and `lift` records about an operator in the
//!   order they were made (time, then id), it becomes quarantined once
//!   reports from [`Rules::quarantine_threshold`] distinct enrolled
//!   operators (two thirds of the quorum) have arrived since its last
//!   lift, and is freed once as many lifts have arrived since. A reporter's
//!   later statement replaces its earlier one; the operator itself never
//!   counts. A single lying reporter cannot quarantine anybody while the
//!   threshold is above one.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Serialize;

use super::{
    genesis::Rules,
    record::{Anomaly, Body, OperatorId, Signed},
};

/// Operators quarantined locally at most (the oldest forgotten beyond).
const MAX_LOCAL: usize = 4096;

/// An operator's network-wide state, from the reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct NetworkState {
    /// Quarantined network-wide.
    pub quarantined: bool,
    /// Distinct enrolled reporters counted towards the present state's end
    /// (reports while free, lifts while quarantined).
    pub reports: usize,
    /// Lifts counted (while quarantined).
    pub lifts: usize,
}

/// Replays `statements` (report and lift records, any order) about each
/// operator and returns the state of every operator they name.
pub fn network<'a>(
    statements: impl IntoIterator<Item = &'a Signed>,
    enrolled: &BTreeSet<OperatorId>,
    rules: &Rules,
) -> BTreeMap<OperatorId, NetworkState> {
    let threshold = rules.quarantine_threshold(enrolled.len());
    let mut about: BTreeMap<OperatorId, Vec<&Signed>> = BTreeMap::new();
    for s in statements {
        let target = match &s.record.body {
            Body::Report { operator, .. } | Body::Lift { operator, .. } => *operator,
            _ => continue,
        };
        if enrolled.contains(&s.record.author) && s.record.author != target {
            about.entry(target).or_default().push(s);
        }
    }
    about
        .into_iter()
        .map(|(target, mut list)| {
            list.sort_by_key(|s| (s.record.created_at, s.id()));
            let mut quarantined = false;
            // Each reporter's latest statement since the last change: true
            // for a report, false for a lift.
            let mut latest: BTreeMap<OperatorId, bool> = BTreeMap::new();
            for s in list {
                latest.insert(
                    s.record.author,
                    matches!(s.record.body, Body::Report { .. }),
                );
                let reports = latest.values().filter(|r| **r).count();
                let lifts = latest.len() - reports;
                if !quarantined && reports >= threshold {
                    quarantined = true;
                    latest.clear();
                } else if quarantined && lifts >= threshold {
                    quarantined = false;
                    latest.clear();
                }
            }
            let reports = latest.values().filter(|r| **r).count();
            let state = NetworkState {
                quarantined,
                reports,
                lifts: latest.len() - reports,
            };
            (target, state)
        })
        .collect()
}

/// A local quarantine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Local {
    /// What was seen.
    pub anomaly: Anomaly,
    /// Since when (Unix seconds).
    pub since: u64,
    /// Until when, unless the network confirms it.
    pub until: u64,
}

/// This peer's view: its own local quarantines and the network's.
#[derive(Debug, Default)]
pub struct Quarantine {
    local: HashMap<OperatorId, Local>,
    network: BTreeMap<OperatorId, NetworkState>,
}

impl Quarantine {
    /// Whether `operator`'s records and votes are ignored now.
    pub fn is_quarantined(&self, operator: &OperatorId, now: u64) -> bool {
        self.network.get(operator).is_some_and(|s| s.quarantined)
            || self.local.get(operator).is_some_and(|l| l.until > now)
    }

    /// Quarantines `operator` locally for `for_s` seconds; `false` if it
    /// already was.
    pub fn quarantine_locally(
        &mut self,
        operator: OperatorId,
        anomaly: Anomaly,
        now: u64,
        for_s: u64,
    ) -> bool {
        if self.local.get(&operator).is_some_and(|l| l.until > now) {
            return false;
        }
        if self.local.len() >= MAX_LOCAL {
            self.local.retain(|_, l| l.until > now);
            if self.local.len() >= MAX_LOCAL {
                self.local.clear();
            }
        }
        self.local.insert(
            operator,
            Local {
                anomaly,
                since: now,
                until: now.saturating_add(for_s),
            },
        );
        true
    }

    /// Ends a local quarantine (the operator of this peer lifted it).
    pub fn lift_locally(&mut self, operator: &OperatorId) {
        self.local.remove(operator);
    }

    /// Replaces the network-wide view (recomputed by [`network`]); a
    /// network-wide lift also ends the local quarantine.
    pub fn set_network(&mut self, network: BTreeMap<OperatorId, NetworkState>) {
        for (operator, state) in &network {
            let was = self.network.get(operator).is_some_and(|s| s.quarantined);
            if was && !state.quarantined {
                self.local.remove(operator);
            }
        }
        self.network = network;
    }

    /// The local quarantine of `operator`, if one is in force.
    pub fn local(&self, operator: &OperatorId, now: u64) -> Option<Local> {
        self.local.get(operator).filter(|l| l.until > now).copied()
    }

    /// The network-wide state of `operator`, if anyone reported it.
    pub fn network_state(&self, operator: &OperatorId) -> Option<NetworkState> {
        self.network.get(operator).copied()
    }

    /// Every operator quarantined now, locally or network-wide, or
    /// reported.
    pub fn named(&self, now: u64) -> BTreeSet<OperatorId> {
        self.network
            .keys()
            .copied()
            .chain(
                self.local
                    .iter()
                    .filter(|(_, l)| l.until > now)
                    .map(|(o, _)| *o),
            )
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::record::{NetworkId, OperatorKey};

    fn report(by: &OperatorKey, on: &OperatorKey, at: u64) -> Signed {
        by.make(
            NetworkId([1; 32]),
            at,
            Body::Report {
                operator: on.id(),
                anomaly: Anomaly::Flood,
                evidence: vec![],
                detail: String::new(),
            },
        )
    }

    fn lift(by: &OperatorKey, on: &OperatorKey, at: u64) -> Signed {
        by.make(
            NetworkId([1; 32]),
            at,
            Body::Lift {
                operator: on.id(),
                detail: String::new(),
            },
        )
    }

    #[test]
    fn two_thirds_of_the_quorum_quarantine_and_as_many_lift() {
        let keys: Vec<OperatorKey> = (0..8).map(|_| OperatorKey::generate()).collect();
        let enrolled: BTreeSet<OperatorId> = keys.iter().map(OperatorKey::id).collect();
        let rules = Rules::default();
        assert_eq!(rules.quarantine_threshold(8), 4);
        let target = &keys[7];
        let mut records: Vec<Signed> = (0..3).map(|i| report(&keys[i], target, 100)).collect();
        // The same reporter twice, the target itself and an outsider add nothing.
        records.push(report(&keys[0], target, 101));
        records.push(report(&OperatorKey::generate(), target, 101));
        let state = network(&records, &enrolled, &rules)[&target.id()];
        assert_eq!((state.quarantined, state.reports), (false, 3));
        records.push(report(&keys[3], target, 102));
        let state = network(records.iter().rev(), &enrolled, &rules)[&target.id()];
        assert!(state.quarantined, "{state:?}");
        // Three lifts are not enough; the fourth frees it.
        for (i, k) in keys[..3].iter().enumerate() {
            records.push(lift(k, target, 110 + i as u64));
        }
        assert!(network(&records, &enrolled, &rules)[&target.id()].quarantined);
        records.push(lift(&keys[4], target, 120));
        let state = network(&records, &enrolled, &rules)[&target.id()];
        assert!(!state.quarantined, "{state:?}");
        // Reports from before the lift do not count again.
        records.push(report(&keys[5], target, 130));
        assert!(!network(&records, &enrolled, &rules)[&target.id()].quarantined);
    }

    #[test]
    fn local_quarantine_lapses_unless_confirmed() {
        let mut q = Quarantine::default();
        let o = OperatorKey::generate().id();
        assert!(q.quarantine_locally(o, Anomaly::Flood, 100, 60));
        assert!(!q.quarantine_locally(o, Anomaly::Flood, 110, 60));
        assert!(q.is_quarantined(&o, 159));
        assert!(!q.is_quarantined(&o, 160));
    }
}
