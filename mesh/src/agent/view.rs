//! What a peer makes of the records it holds: vote tallies, tasks,
//! quarantines, and the network's self-model ("awareness"), with what
//! changed since an operator's last reflection. All of it is computed from
//! signed records (plus this peer's local quarantines), so peers holding
//! the same records see the same network.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::{
    genesis::Rules,
    quarantine::Quarantine,
    record::{Anomaly, Body, Kind, NetworkId, OperatorId, RecordId, TaskKind},
    store::RecordStore,
    task::{self, Task},
    trust::Trust,
    vote::{self, Outcome, Tally},
};

/// Tasks listed at most.
const MAX_TASKS: usize = 500;
/// Domains listed at most in the self-model.
const MAX_DOMAINS: usize = 100;
/// Hours of activity in the self-model.
const ACTIVITY_HOURS: u64 = 24;

/// A borrowed view of a peer's state at one moment.
pub(crate) struct View<'a> {
    pub(crate) network: &'a NetworkId,
    pub(crate) rules: &'a Rules,
    pub(crate) store: &'a RecordStore,
    pub(crate) trust: &'a Trust,
    pub(crate) quarantine: &'a Quarantine,
    pub(crate) now: u64,
}

/// A domain in the self-model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DomainView {
    /// The domain (lowercase).
    pub domain: String,
    /// Visible entries.
    pub entries: usize,
    /// Their mean confidence.
    pub mean_confidence: f64,
    /// Entries whose vote ended accepted.
    pub accepted: usize,
    /// … rejected.
    pub rejected: usize,
    /// … disputed.
    pub disputed: usize,
}

/// How many rounds stand where.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Outcomes {
    /// Not closed yet.
    pub open: usize,
    /// Accepted.
    pub accepted: usize,
    /// Rejected.
    pub rejected: usize,
    /// Disputed.
    pub disputed: usize,
    /// Closed without a quorum.
    pub undecided: usize,
}

/// A quarantined (or reported) operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct QuarantineView {
    /// Who.
    pub operator: OperatorId,
    /// Quarantined network-wide.
    pub network: bool,
    /// Reports counted towards a network-wide quarantine (or lifts
    /// towards its end).
    pub reports: usize,
    /// Lifts counted.
    pub lifts: usize,
    /// Quarantined by this peer, and why.
    pub local: Option<Anomaly>,
}

/// Tasks by state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TaskCounts {
    /// Open.
    pub open: usize,
    /// Claimed.
    pub claimed: usize,
    /// Done.
    pub done: usize,
}

/// Activity in one hour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Activity {
    /// The hour's start (Unix seconds).
    pub hour: u64,
    /// Entries made in it.
    pub entries: usize,
    /// Vote records made in it.
    pub votes: usize,
}

/// The network as this peer sees it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Awareness {
    /// When (Unix seconds).
    pub at: u64,
    /// The network.
    pub network: NetworkId,
    /// Peers connected to this one.
    pub peers: usize,
    /// Operators enrolled.
    pub enrolled: usize,
    /// Distinct authors of visible entries.
    pub authors: usize,
    /// Records held.
    pub records: usize,
    /// Visible knowledge entries.
    pub entries: usize,
    /// Domains, largest first (at most 100).
    pub domains: Vec<DomainView>,
    /// Vote rounds by outcome.
    pub votes: Outcomes,
    /// Operators quarantined or reported.
    pub quarantined: Vec<QuarantineView>,
    /// Tasks by state.
    pub tasks: TaskCounts,
    /// Entries and votes per hour over the last 24 hours, oldest first.
    pub activity: Vec<Activity>,
}

/// An entry in a list of changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EntrySummary {
    /// Its id.
    pub id: RecordId,
    /// Its domain.
    pub domain: String,
    /// Its kind.
    pub kind: Kind,
    /// Its author.
    pub author: OperatorId,
    /// When it was made.
    pub created_at: u64,
}

/// What changed since an operator's last reflection.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Changes {
    /// The last reflection's time (0: none yet).
    pub since: u64,
    /// Now.
    pub now: u64,
    /// Entries made since.
    pub new_entries: usize,
    /// The newest of them (at most 50).
    pub entries: Vec<EntrySummary>,
    /// Domains whose first entry came since.
    pub new_domains: Vec<String>,
    /// Vote rounds that closed since, with their outcomes.
    pub decided: Vec<(RecordId, Outcome)>,
    /// Reports and lifts made since.
    pub reports: usize,
    /// Operators quarantined now.
    pub quarantined: Vec<OperatorId>,
    /// Tasks opened since.
    pub tasks_opened: usize,
    /// Tasks open now.
    pub tasks_open: usize,
    /// Operators enrolled now.
    pub enrolled: usize,
}

impl View<'_> {
    /// Enrolled and not quarantined: whose votes, claims and reports count.
    pub(crate) fn eligible(&self, operator: &OperatorId) -> bool {
        self.trust.is_enrolled(operator) && !self.quarantine.is_quarantined(operator, self.now)
    }

    /// The vote on `entry`, if the entry is held.
    pub(crate) fn tally(&self, entry: &RecordId) -> Option<Tally> {
        let signed = self.store.get(entry)?;
        if !matches!(signed.record.body, Body::Knowledge(_)) {
            return None;
        }
        Some(vote::tally(
            self.network,
            *entry,
            signed,
            self.store.about(entry),
            self.rules,
            self.trust.enrolled().len(),
            |o| self.eligible(o),
            self.now,
        ))
    }

    /// Every entry someone voted on, tallied.
    fn tallies(&self) -> Vec<Tally> {
        self.store
            .named()
            .filter(|id| !self.store.is_hidden(id))
            .filter_map(|id| self.tally(id))
            .filter(|t| t.committed > 0)
            .collect()
    }

    /// Every task: operators' (from eligible authors) and the rules',
    /// newest first, at most 500.
    pub(crate) fn tasks(&self) -> Vec<Task> {
        let mut tasks = self.tasks_with(&self.tallies());
        tasks.truncate(MAX_TASKS);
        tasks
    }

    /// Every task, newest first, given the tallies (the costly part)
    /// already made.
    fn tasks_with(&self, tallies: &[Tally]) -> Vec<Task> {
        let mut tasks: Vec<Task> = self
            .store
            .tasks()
            .filter(|(_, s)| self.eligible(&s.record.author))
            .filter_map(|(id, s)| task::from_record(id, s))
            .collect();
        for t in tallies {
            if t.outcome == Outcome::Disputed
                && let Some(Body::Knowledge(k)) = self.store.get(&t.entry).map(|s| &s.record.body)
            {
                tasks.push(task::from_rule(
                    "disputed",
                    TaskKind::Verify,
                    &k.domain.to_lowercase(),
                    Some(t.entry),
                    &t.entry.0,
                    format!(
                        "Verify entry {}: its vote ended disputed ({} for, {} against).",
                        t.entry, t.up, t.down
                    ),
                    t.reveal_closes,
                ));
            }
        }
        let mut per_domain: BTreeMap<String, (Vec<u64>, bool)> = BTreeMap::new();
        for (id, s) in self.store.entries() {
            let Body::Knowledge(k) = &s.record.body else {
                continue;
            };
            let domain = k.domain.to_lowercase();
            let slot = per_domain.entry(domain.clone()).or_default();
            slot.0.push(s.record.created_at);
            slot.1 |= k.kind == Kind::Synthesis;
            if k.kind == Kind::Question && self.eligible(&s.record.author) {
                tasks.push(task::from_rule(
                    "question",
                    TaskKind::Answer,
                    &domain,
                    Some(id),
                    &id.0,
                    format!("Answer question {id} in {domain}."),
                    s.record.created_at,
                ));
            }
        }
        let after = usize::try_from(self.rules.synthesis_after).unwrap_or(usize::MAX);
        for (domain, (mut times, synthesised)) in per_domain {
            if synthesised || times.len() < after {
                continue;
            }
            times.sort_unstable();
            tasks.push(task::from_rule(
                "unsynthesised",
                TaskKind::Synthesize,
                &domain,
                None,
                domain.as_bytes(),
                format!(
                    "Write a synthesis of {domain}: {} entries and none yet.",
                    times.len()
                ),
                times[after.saturating_sub(1)],
            ));
        }
        for t in &mut tasks {
            t.state = task::state(
                t,
                self.store.about(&t.id),
                self.rules,
                |o| self.eligible(o),
                |id| !self.store.is_hidden(id),
                self.now,
            );
        }
        tasks.sort_by_key(|t| std::cmp::Reverse((t.created_at, t.id)));
        tasks
    }

    /// Quarantined and reported operators.
    pub(crate) fn quarantines(&self) -> Vec<QuarantineView> {
        self.quarantine
            .named(self.now)
            .into_iter()
            .map(|operator| {
                let net = self.quarantine.network_state(&operator);
                QuarantineView {
                    operator,
                    network: net.is_some_and(|s| s.quarantined),
                    reports: net.map_or(0, |s| s.reports),
                    lifts: net.map_or(0, |s| s.lifts),
                    local: self
                        .quarantine
                        .local(&operator, self.now)
                        .map(|l| l.anomaly),
                }
            })
            .collect()
    }

    /// The self-model (`peers` comes from the swarm).
    pub(crate) fn awareness(&self, peers: usize) -> Awareness {
        let all = self.tallies();
        let tallies: BTreeMap<RecordId, Outcome> =
            all.iter().map(|t| (t.entry, t.outcome)).collect();
        let mut votes = Outcomes::default();
        for outcome in tallies.values() {
            match outcome {
                Outcome::Open => votes.open += 1,
                Outcome::Accepted => votes.accepted += 1,
                Outcome::Rejected => votes.rejected += 1,
                Outcome::Disputed => votes.disputed += 1,
                Outcome::Undecided => votes.undecided += 1,
            }
        }
        let mut domains: BTreeMap<String, (DomainView, f64)> = BTreeMap::new();
        let mut authors = BTreeSet::new();
        let mut entries = 0;
        let first_hour = (self.now / 3600).saturating_sub(ACTIVITY_HOURS - 1) * 3600;
        let mut activity: Vec<Activity> = (0..ACTIVITY_HOURS)
            .map(|h| Activity {
                hour: first_hour + h * 3600,
                entries: 0,
                votes: 0,
            })
            .collect();
        let hour_of = |t: u64| {
            (t >= first_hour)
                .then(|| usize::try_from((t - first_hour) / 3600).ok())
                .flatten()
                .filter(|h| *h < ACTIVITY_HOURS as usize)
        };
        for (id, s) in self.store.entries() {
            let Body::Knowledge(k) = &s.record.body else {
                continue;
            };
            entries += 1;
            authors.insert(s.record.author);
            let domain = k.domain.to_lowercase();
            let (view, sum) = domains.entry(domain.clone()).or_insert_with(|| {
                (
                    DomainView {
                        domain,
                        entries: 0,
                        mean_confidence: 0.0,
                        accepted: 0,
                        rejected: 0,
                        disputed: 0,
                    },
                    0.0,
                )
            });
            view.entries += 1;
            *sum += k.confidence;
            match tallies.get(&id) {
                Some(Outcome::Accepted) => view.accepted += 1,
                Some(Outcome::Rejected) => view.rejected += 1,
                Some(Outcome::Disputed) => view.disputed += 1,
                _ => {}
            }
            if let Some(h) = hour_of(s.record.created_at) {
                activity[h].entries += 1;
            }
        }
        for id in self.store.named() {
            for (_, s) in self.store.about(id) {
                if matches!(
                    s.record.body,
                    Body::VoteCommit { .. } | Body::VoteReveal { .. }
                ) && let Some(h) = hour_of(s.record.created_at)
                {
                    activity[h].votes += 1;
                }
            }
        }
        let mut domains: Vec<DomainView> = domains
            .into_values()
            .map(|(mut view, sum)| {
                // Rounded, so peers summing in another order print the same.
                view.mean_confidence = (sum / view.entries.max(1) as f64 * 1000.0).round() / 1000.0;
                view
            })
            .collect();
        domains.sort_by(|a, b| b.entries.cmp(&a.entries).then(a.domain.cmp(&b.domain)));
        domains.truncate(MAX_DOMAINS);
        let mut tasks = TaskCounts::default();
        for t in self.tasks_with(&all) {
            match t.state {
                task::State::Open => tasks.open += 1,
                task::State::Claimed { .. } => tasks.claimed += 1,
                task::State::Done { .. } => tasks.done += 1,
            }
        }
        Awareness {
            at: self.now,
            network: *self.network,
            peers,
            enrolled: self.trust.enrolled().len(),
            authors: authors.len(),
            records: self.store.len(),
            entries,
            domains,
            votes,
            quarantined: self.quarantines(),
            tasks,
            activity,
        }
    }

    /// What changed since `operator`'s last reflection entry.
    pub(crate) fn changes_for(&self, operator: &OperatorId) -> Changes {
        let since = self
            .store
            .entries()
            .map(|(_, s)| s)
            .filter(|s| s.record.author == *operator)
            .filter(|s| matches!(&s.record.body, Body::Knowledge(k) if k.kind == Kind::Reflection))
            .map(|s| s.record.created_at)
            .max()
            .unwrap_or(0);
        let mut fresh: Vec<EntrySummary> = Vec::new();
        let mut first_in_domain: BTreeMap<String, u64> = BTreeMap::new();
        for (id, s) in self.store.entries() {
            let Body::Knowledge(k) = &s.record.body else {
                continue;
            };
            let domain = k.domain.to_lowercase();
            let first = first_in_domain.entry(domain.clone()).or_insert(u64::MAX);
            *first = (*first).min(s.record.created_at);
            if s.record.created_at > since {
                fresh.push(EntrySummary {
                    id,
                    domain,
                    kind: k.kind,
                    author: s.record.author,
                    created_at: s.record.created_at,
                });
            }
        }
        fresh.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id)));
        let new_entries = fresh.len();
        fresh.truncate(50);
        let all = self.tallies();
        let decided = all
            .iter()
            .filter(|t| t.reveal_closes > since && t.reveal_closes <= self.now)
            .map(|t| (t.entry, t.outcome))
            .collect();
        let tasks = self.tasks_with(&all);
        Changes {
            since,
            now: self.now,
            new_entries,
            entries: fresh,
            new_domains: first_in_domain
                .into_iter()
                .filter(|(_, t)| *t > since)
                .map(|(d, _)| d)
                .collect(),
            decided,
            reports: self
                .store
                .statements()
                .filter(|s| s.record.created_at > since)
                .count(),
            quarantined: self
                .quarantines()
                .into_iter()
                .filter(|q| q.network || q.local.is_some())
                .map(|q| q.operator)
                .collect(),
            tasks_opened: tasks.iter().filter(|t| t.created_at > since).count(),
            tasks_open: tasks
                .iter()
                .filter(|t| t.state == task::State::Open)
                .count(),
            enrolled: self.trust.enrolled().len(),
        }
    }
}
