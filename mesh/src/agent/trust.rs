//! The web of trust: who is enrolled.
//!
//! Genesis operators are enrolled from the start. An operator is enrolled
//! by a certificate carrying endorsements from 3 distinct enrolled operators,
//! or from every enrolled operator while fewer than 3 are enrolled (so a
//! network founded by one operator can grow: the second needs the first, the
//! third the first two). An operator is revoked by the votes of 3 distinct
//! enrolled operators other than itself.
//!
//! Every peer computes the same answer from the same records: certificates
//! are replayed in the order they were made (time, then id) from the genesis
//! set, until nothing changes, and revocations applied after.

use std::collections::{BTreeMap, BTreeSet};

use super::{
    genesis::Genesis,
    record::{Body, NetworkId, OperatorId, RecordError, Signed},
};

/// How many distinct enrolled endorsers (or revokers) the rule asks for.
pub const QUORUM: usize = 3;

/// Why a certificate or revocation does not count (yet).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// The record itself is invalid.
    #[error(transparent)]
    Record(#[from] RecordError),
    /// A revocation with too few distinct enrolled voters (other than the
    /// operator revoked).
    #[error(
        "a revocation needs the votes of {QUORUM} distinct enrolled operators other than the one revoked; has {has}"
    )]
    TooFewVotes {
        /// How many distinct enrolled voters it carries.
        has: usize,
    },
    /// Not a certificate or revocation.
    #[error("not a certificate or revocation")]
    WrongKind,
    /// Too few distinct enrolled endorsers (or, while fewer than 3 are
    /// enrolled, not exactly all of them).
    #[error(
        "needs endorsements from {needed} distinct enrolled operators (while fewer than 3 are enrolled, from all of them and no one else); has {has}"
    )]
    TooFew {
        /// How many the rule asks for now.
        needed: usize,
        /// How many distinct enrolled endorsers it carries.
        has: usize,
    },
}

/// The enrolled set and the records that made it.
#[derive(Debug, Clone)]
pub struct Trust {
    network: NetworkId,
    genesis: BTreeSet<OperatorId>,
    /// Every certificate seen, by id: an operator's later certificate may
    /// count where its first did not.
    certificates: BTreeMap<super::record::RecordId, Signed>,
    revocations: BTreeMap<OperatorId, Signed>,
    enrolled: BTreeSet<OperatorId>,
}

/// The endorsement rule for a set of `enrolled` operators.
pub fn needed(enrolled: usize) -> usize {
    enrolled.clamp(1, QUORUM)
}

impl Trust {
    /// Only the founders.
    pub fn new(genesis: &Genesis) -> Trust {
        Trust {
            network: genesis.network(),
            genesis: genesis.operators().clone(),
            certificates: BTreeMap::new(),
            revocations: BTreeMap::new(),
            enrolled: genesis.operators().clone(),
        }
    }

    /// Whether `operator` is enrolled now.
    pub fn is_enrolled(&self, operator: &OperatorId) -> bool {
        self.enrolled.contains(operator)
    }

    /// Everyone enrolled.
    pub fn enrolled(&self) -> &BTreeSet<OperatorId> {
        &self.enrolled
    }

    /// The certificates and revocations held (what a new peer is sent).
    pub fn records(&self) -> impl Iterator<Item = &Signed> {
        self.certificates.values().chain(self.revocations.values())
    }

    /// Checks `record` (a certificate or revocation, already verified on its
    /// own) against the enrolled set as it is now.
    pub fn check(&self, record: &Signed) -> Result<(), TrustError> {
        match &record.record.body {
            Body::Certificate {
                operator,
                endorsements,
            } => {
                if self.enrolled.contains(operator) {
                    return Ok(());
                }
                admits(endorsements, &self.enrolled)
            }
            Body::Revocation { operator, votes } => {
                let has = distinct_enrolled(votes, &self.enrolled, Some(operator));
                if has >= QUORUM {
                    Ok(())
                } else {
                    Err(TrustError::TooFewVotes { has })
                }
            }
            _ => Err(TrustError::WrongKind),
        }
    }

    /// Takes a certificate or revocation (verified on its own by the
    /// caller) and recomputes; `true` if the enrolled set changed. A
    /// certificate that does not count yet is kept: later enrollments may
    /// make it count.
    pub fn add(&mut self, record: Signed) -> Result<bool, TrustError> {
        if record.record.network != self.network {
            return Err(TrustError::Record(RecordError::OtherNetwork));
        }
        match &record.record.body {
            Body::Certificate { .. } => {
                self.certificates.insert(record.id(), record);
            }
            Body::Revocation { operator, .. } => {
                self.revocations.entry(*operator).or_insert(record);
            }
            _ => return Err(TrustError::WrongKind),
        }
        let before = self.enrolled.clone();
        self.recompute();
        Ok(before != self.enrolled)
    }

    fn recompute(&mut self) {
        let mut enrolled = self.genesis.clone();
        let mut order: Vec<&Signed> = self.certificates.values().collect();
        order.sort_by_key(|c| (c.record.created_at, c.id()));
        loop {
            let mut changed = false;
            for cert in &order {
                let Body::Certificate {
                    operator,
                    endorsements,
                } = &cert.record.body
                else {
                    continue;
                };
                if enrolled.contains(operator) {
                    continue;
                }
                if admits(endorsements, &enrolled).is_ok() {
                    enrolled.insert(*operator);
                    changed = true;
                }
            }
            if !changed {
                break;
            }
        }
        for revocation in self.revocations.values() {
            if let Body::Revocation { operator, votes } = &revocation.record.body
                && distinct_enrolled(votes, &enrolled, Some(operator)) >= QUORUM
            {
                enrolled.remove(operator);
            }
        }
        self.enrolled = enrolled;
    }
}

/// The enrollment rule for a certificate's `endorsements` against the
/// `enrolled` set: 3 distinct enrolled endorsers; or, while fewer than 3
/// are enrolled, exactly the enrolled ones, every one of them and no one
/// else. (Counting only the enrolled endorsers there would let a
/// certificate endorsed by {0, 1, 2} pass while only 0 is enrolled, and
/// admitting it then would shut out the certificates that enroll 1 and 2.)
fn admits(endorsements: &[Signed], enrolled: &BTreeSet<OperatorId>) -> Result<(), TrustError> {
    let endorsers: BTreeSet<OperatorId> = endorsements.iter().map(|e| e.record.author).collect();
    let has = endorsers.intersection(enrolled).count();
    let ok = if enrolled.len() < QUORUM {
        &endorsers == enrolled
    } else {
        has >= QUORUM
    };
    if ok {
        Ok(())
    } else {
        Err(TrustError::TooFew {
            needed: needed(enrolled.len()),
            has,
        })
    }
}

/// Distinct authors of `inner` who are enrolled (and are not `except`).
fn distinct_enrolled(
    inner: &[Signed],
    enrolled: &BTreeSet<OperatorId>,
    except: Option<&OperatorId>,
) -> usize {
    inner
        .iter()
        .map(|e| e.record.author)
        .filter(|a| enrolled.contains(a) && Some(a) != except)
        .collect::<BTreeSet<_>>()
        .len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::record::OperatorKey;

    fn genesis(keys: &[&OperatorKey]) -> Genesis {
        Genesis::parse(
            &keys
                .iter()
                .map(|k| format!("{}\n", k.id()))
                .collect::<String>(),
        )
        .expect("genesis")
    }

    fn cert(net: NetworkId, who: &OperatorKey, by: &[&OperatorKey], at: u64) -> Signed {
        let endorsements = by
            .iter()
            .map(|e| e.make(net, at - 1, Body::Endorsement { operator: who.id() }))
            .collect();
        who.make(
            net,
            at,
            Body::Certificate {
                operator: who.id(),
                endorsements,
            },
        )
    }

    #[test]
    fn a_network_of_one_founder_grows_then_needs_three() {
        let keys: Vec<OperatorKey> = (0..6).map(|_| OperatorKey::generate()).collect();
        let g = genesis(&[&keys[0]]);
        let net = g.network();
        let mut trust = Trust::new(&g);
        // The second needs the founder; the third needs both; from then on 3.
        assert_eq!(trust.add(cert(net, &keys[1], &[&keys[0]], 100)), Ok(true));
        let only_one = cert(net, &keys[2], &[&keys[0]], 110);
        assert_eq!(
            trust.check(&only_one),
            Err(TrustError::TooFew { needed: 2, has: 1 })
        );
        assert_eq!(
            trust.add(cert(net, &keys[2], &[&keys[0], &keys[1]], 120)),
            Ok(true)
        );
        let two = cert(net, &keys[3], &[&keys[0], &keys[1]], 130);
        assert_eq!(
            trust.check(&two),
            Err(TrustError::TooFew { needed: 3, has: 2 })
        );
        assert_eq!(trust.add(two), Ok(false));
        // Two endorsements by the same operator count once; an unenrolled
        // endorser counts for nothing.
        let same = cert(net, &keys[3], &[&keys[0], &keys[0], &keys[5]], 140);
        assert_eq!(
            trust.check(&same),
            Err(TrustError::TooFew { needed: 3, has: 1 })
        );
        assert_eq!(
            trust.add(cert(net, &keys[3], &[&keys[0], &keys[1], &keys[2]], 150)),
            Ok(true)
        );
        assert_eq!(trust.enrolled().len(), 4);
        // The same records in any order give the same set.
        let mut again = Trust::new(&g);
        for c in trust
            .records()
            .cloned()
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
        {
            again.add(c).expect("add");
        }
        assert_eq!(again.enrolled(), trust.enrolled());
    }

    /// Certificates made in the same second replay in id order; a
    /// certificate endorsed by operators not yet enrolled must not jump the
    /// queue and shut out the ones that enroll them.
    #[test]
    fn same_second_certificates_enroll_everyone_in_any_order() {
        for _ in 0..20 {
            let keys: Vec<OperatorKey> = (0..6).map(|_| OperatorKey::generate()).collect();
            let g = genesis(&[&keys[0]]);
            let net = g.network();
            let certs = vec![
                cert(net, &keys[1], &[&keys[0]], 100),
                cert(net, &keys[2], &[&keys[0], &keys[1]], 100),
                cert(net, &keys[3], &[&keys[0], &keys[1], &keys[2]], 100),
                cert(net, &keys[4], &[&keys[0], &keys[1], &keys[3]], 100),
                cert(net, &keys[5], &[&keys[0], &keys[1], &keys[2]], 100),
            ];
            let mut trust = Trust::new(&g);
            for c in certs.into_iter().rev() {
                trust.add(c).expect("add");
            }
            assert_eq!(trust.enrolled().len(), 6);
        }
    }

    #[test]
    fn revocation_needs_three_others() {
        let keys: Vec<OperatorKey> = (0..4).map(|_| OperatorKey::generate()).collect();
        let g = genesis(&[&keys[0], &keys[1], &keys[2], &keys[3]]);
        let net = g.network();
        let mut trust = Trust::new(&g);
        let vote = |k: &OperatorKey| {
            k.make(
                net,
                99,
                Body::RevokeVote {
                    operator: keys[3].id(),
                },
            )
        };
        let two = keys[0].make(
            net,
            100,
            Body::Revocation {
                operator: keys[3].id(),
                votes: vec![vote(&keys[0]), vote(&keys[1])],
            },
        );
        assert!(trust.check(&two).is_err());
        let three = keys[0].make(
            net,
            100,
            Body::Revocation {
                operator: keys[3].id(),
                votes: vec![vote(&keys[0]), vote(&keys[1]), vote(&keys[2])],
            },
        );
        assert_eq!(trust.add(three), Ok(true));
        assert!(!trust.is_enrolled(&keys[3].id()));
    }
}
