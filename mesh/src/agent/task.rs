//! Compute tasks: text work items for agents. Nothing on the mesh ever
//! executes anything; a task is a request for an entry.
//!
//! Tasks come from operators (`task` records) or from rules every peer
//! applies alike to the records it holds, so no one has to publish them
//! and no two peers publish the same one twice; a rule's task is named by
//! the hash of the rule and its subject:
//! - a `verify` task for every entry whose vote ended `disputed`;
//! - an `answer` task for every `question` entry;
//! - a `synthesize` task for a domain with at least
//!   [`Rules::synthesis_after`] entries and no `synthesis` entry.
//!
//! A task is claimed by a `claim` record lasting until a time (at most
//! [`Rules::claim_max_s`] after it is made). One claimer at a time:
//! replaying the claims in the order they were made (time, then id), a
//! claim takes the task if nobody holds it then, and an expired claim
//! frees it. A task is done by the first entry naming it as its `task`
//! from whoever held it at that moment (or anyone while it was unclaimed).
//! Only operators enrolled and not quarantined claim and complete.

use serde::Serialize;

use super::{
    genesis::Rules,
    record::{Body, OperatorId, RecordId, Signed, TaskKind},
};

/// Where a task came from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum Origin {
    /// An operator's `task` record.
    Operator {
        /// Who.
        operator: OperatorId,
    },
    /// One of the rules above.
    Rule {
        /// Which.
        rule: &'static str,
    },
}

/// Where a task stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "state")]
pub enum State {
    /// Anyone may claim it.
    Open,
    /// Held.
    Claimed {
        /// By whom.
        by: OperatorId,
        /// Until when.
        until: u64,
    },
    /// Completed.
    Done {
        /// By whom.
        by: OperatorId,
        /// The result entry.
        result: RecordId,
    },
}

/// A task as this peer sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Task {
    /// Its id: the task record's, or the rule's hash.
    pub id: RecordId,
    /// What is asked.
    pub kind: TaskKind,
    /// The domain.
    pub domain: String,
    /// The entry it is about.
    pub about: Option<RecordId>,
    /// What to do (an operator's words: untrusted text).
    pub description: String,
    /// Where it came from.
    pub origin: Origin,
    /// When it opened.
    pub created_at: u64,
    /// Where it stands now.
    pub state: State,
}

/// The id of a rule's task about `subject`.
pub fn rule_id(rule: &str, subject: &[u8]) -> RecordId {
    let mut h = blake3::Hasher::new_derive_key("nocturne agent rule task v1");
    h.update(rule.as_bytes());
    h.update(&[0]);
    h.update(subject);
    RecordId(*h.finalize().as_bytes())
}

/// A task before its state is known (`id`: the record's).
pub fn from_record(id: RecordId, signed: &Signed) -> Option<Task> {
    let Body::Task {
        kind,
        domain,
        about,
        description,
    } = &signed.record.body
    else {
        return None;
    };
    Some(Task {
        id,
        kind: *kind,
        domain: domain.clone(),
        about: *about,
        description: description.clone(),
        origin: Origin::Operator {
            operator: signed.record.author,
        },
        created_at: signed.record.created_at,
        state: State::Open,
    })
}

/// A rule's task.
pub fn from_rule(
    rule: &'static str,
    kind: TaskKind,
    domain: &str,
    about: Option<RecordId>,
    subject: &[u8],
    description: String,
    created_at: u64,
) -> Task {
    Task {
        id: rule_id(rule, subject),
        kind,
        domain: domain.to_owned(),
        about,
        description,
        origin: Origin::Rule { rule },
        created_at,
        state: State::Open,
    }
}

/// The claim holding the task at `at`, from its claims.
fn holder_at(claims: &[(u64, RecordId, OperatorId, u64)], at: u64) -> Option<(OperatorId, u64)> {
    let mut holder: Option<(OperatorId, u64)> = None;
    for (made, _, by, until) in claims {
        if *made > at {
            break;
        }
        if holder.is_none_or(|(_, u)| u <= *made) {
            holder = Some((*by, *until));
        }
    }
    holder.filter(|(_, until)| *until > at)
}

/// The state of `task` at `now` from the records naming it, with their ids
/// (claims and result entries; anything else is skipped). `visible` says
/// whether an entry still stands (not withdrawn by its author).
pub fn state<'a>(
    task: &Task,
    records: impl IntoIterator<Item = (RecordId, &'a Signed)>,
    rules: &Rules,
    eligible: impl Fn(&OperatorId) -> bool,
    visible: impl Fn(&RecordId) -> bool,
    now: u64,
) -> State {
    let mut claims = Vec::new();
    let mut results = Vec::new();
    for (rid, r) in records {
        let (at, by) = (r.record.created_at, r.record.author);
        if at < task.created_at || !eligible(&by) {
            continue;
        }
        match &r.record.body {
            Body::Claim { task: t, until } if *t == task.id => {
                let until = (*until).min(at.saturating_add(rules.claim_max_s));
                claims.push((at, rid, by, until));
            }
            Body::Knowledge(k) if k.task == Some(task.id) && visible(&rid) => {
                results.push((at, rid, by));
            }
            _ => {}
        }
    }
    claims.sort_unstable();
    results.sort_unstable();
    for (at, id, by) in results {
        if holder_at(&claims, at).is_none_or(|(holder, _)| holder == by) {
            return State::Done { by, result: id };
        }
    }
    match holder_at(&claims, now) {
        Some((by, until)) => State::Claimed { by, until },
        None => State::Open,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::record::{Kind, Knowledge, NetworkId, OperatorKey};

    fn claim(key: &OperatorKey, task: RecordId, at: u64, until: u64) -> Signed {
        key.make(NetworkId([1; 32]), at, Body::Claim { task, until })
    }

    fn result(key: &OperatorKey, task: RecordId, at: u64) -> Signed {
        key.make(
            NetworkId([1; 32]),
            at,
            Body::Knowledge(Knowledge {
                domain: "d".into(),
                content: "done".into(),
                kind: Kind::Fact,
                confidence: 0.9,
                sources: vec![],
                tags: vec![],
                supersedes: None,
                task: Some(task),
            }),
        )
    }

    #[test]
    fn one_claimer_at_a_time_expiry_frees_and_the_holder_completes() {
        let (a, b, c) = (
            OperatorKey::generate(),
            OperatorKey::generate(),
            OperatorKey::generate(),
        );
        let task = from_rule(
            "verify",
            TaskKind::Verify,
            "d",
            None,
            b"x",
            "check".into(),
            100,
        );
        let rules = Rules::default();
        let st = |records: &[Signed], now| {
            let with_ids = records.iter().map(|r| (r.id(), r));
            state(&task, with_ids, &rules, |_| true, |_| true, now)
        };
        let mut records = vec![claim(&a, task.id, 110, 200), claim(&b, task.id, 110, 200)];
        // The same second: the smaller id wins, whatever the order.
        let first = if records[0].id() < records[1].id() {
            a.id()
        } else {
            b.id()
        };
        records.reverse();
        assert_eq!(
            st(&records, 150),
            State::Claimed {
                by: first,
                until: 200
            }
        );
        // A result by someone else while it is held does not complete it.
        let loser = if first == a.id() { &b } else { &a };
        records.push(result(loser, task.id, 160));
        assert!(matches!(st(&records, 170), State::Claimed { .. }));
        assert_eq!(st(&records, 200), State::Open, "the claim expired");
        records.push(claim(&c, task.id, 210, 300));
        assert_eq!(
            st(&records, 220),
            State::Claimed {
                by: c.id(),
                until: 300
            }
        );
        let done = result(&c, task.id, 230);
        records.push(done.clone());
        assert_eq!(
            st(&records, 240),
            State::Done {
                by: c.id(),
                result: done.id()
            }
        );
        // A claim longer than the rules allow is cut to them.
        let long = vec![claim(&a, task.id, 110, 110 + 10 * rules.claim_max_s)];
        assert_eq!(
            st(&long, 120),
            State::Claimed {
                by: a.id(),
                until: 110 + rules.claim_max_s
            }
        );
    }
}
