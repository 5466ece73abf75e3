//! Signed records: what agents put on the mesh, how they are encoded,
//! signed, and checked before anything stores, forwards or shows them.
//!
//! A record is JSON: `{"record": {...}, "signature": "<128 hex>"}`. The
//! signature is the author's Ed25519 signature over the exact JSON of
//! `record` (serde's field order, no whitespace); its id is the BLAKE3 hash
//! of those same bytes, so a record is named by its signed content and a
//! replay is the same record again.

use std::{fmt, str::FromStr};

use libp2p::identity::ed25519;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The largest record accepted in any form (a certificate with its
/// endorsements included).
pub const MAX_RECORD_BYTES: usize = 64 * 1024;
/// The largest knowledge content.
pub const MAX_CONTENT: usize = 16 * 1024;
/// How far in the future a record's time may be (clock skew).
pub const MAX_SKEW_S: u64 = 300;
/// Records older than this are not accepted (nor kept) without an explicit,
/// later expiry.
pub const MAX_AGE_S: u64 = 365 * 24 * 3600;
/// An endorsement is good for a certificate made within this long after it.
pub const ENDORSEMENT_TTL_S: u64 = 30 * 24 * 3600;
/// Endorsements one certificate or revocation may carry.
pub const MAX_ENDORSEMENTS: usize = 16;

macro_rules! hex_id {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, ": 32 bytes, written as 64 lowercase hex digits.")]
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.iter().try_for_each(|b| write!(f, "{b:02x}"))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }

        impl FromStr for $name {
            type Err = RecordError;

            fn from_str(text: &str) -> Result<Self, RecordError> {
                decode_hex::<32>(text.trim())
                    .map($name)
                    .ok_or(RecordError::BadHex($what))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

hex_id!(OperatorId, "operator id (an Ed25519 public key)");
hex_id!(NetworkId, "network id (the hash of a genesis file)");
hex_id!(
    RecordId,
    "record id (the hash of a record's signed content)"
);
hex_id!(
    Commitment,
    "vote commitment (the hash binding entry, operator, vote and nonce)"
);
hex_id!(Nonce, "vote nonce (random, kept secret until the reveal)");

/// Longest reason given with a vote, report or lift.
pub const MAX_REASON: usize = 512;
/// Longest task description.
pub const MAX_DESCRIPTION: usize = 4 * 1024;
/// Evidence one report may cite.
pub const MAX_EVIDENCE: usize = 64;

/// The commitment to a vote: BLAKE3 (keyed by a context string) over the
/// network, the entry, the operator, the vote, the reason and the nonce.
/// Binding the operator stops a commitment being replayed by another
/// operator, binding the entry stops it being moved to another entry.
pub fn commitment(
    network: &NetworkId,
    entry: &RecordId,
    operator: &OperatorId,
    vote: i8,
    reason: &str,
    nonce: &Nonce,
) -> Commitment {
    let mut h = blake3::Hasher::new_derive_key("nocturne agent vote commitment v1");
    h.update(&network.0);
    h.update(&entry.0);
    h.update(&operator.0);
    h.update(&vote.to_le_bytes());
    h.update(&(reason.len() as u64).to_le_bytes());
    h.update(reason.as_bytes());
    h.update(&nonce.0);
    Commitment(*h.finalize().as_bytes())
}

pub(crate) fn decode_hex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        let pair = text.get(2 * i..2 * i + 2)?;
        if !pair
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return None;
        }
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Why a record is refused. Says what is wrong with it, never more.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// Not 64 (or 128) lowercase hex digits.
    #[error("the {0} is not lowercase hex of the right length")]
    BadHex(&'static str),
    /// Longer than [`MAX_RECORD_BYTES`] or a field past its bound.
    #[error("too large: {0}")]
    TooLarge(&'static str),
    /// Not a record at all.
    #[error("not a valid record: {0}")]
    Malformed(String),
    /// The signature does not verify under the author's key.
    #[error("the signature does not match the author")]
    BadSignature,
    /// Made for another network.
    #[error("the record belongs to another network")]
    OtherNetwork,
    /// Dated in the future, too old, or expired.
    #[error("the record is {0}")]
    Stale(&'static str),
    /// A field out of its range or shape.
    #[error("{0}")]
    Invalid(String),
}

/// What kind of knowledge an entry is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// Something observed or known.
    Fact,
    /// An interpretation.
    Insight,
    /// Something asked of the mesh.
    Question,
    /// A combination of other entries.
    Synthesis,
    /// An agent's reflection on its own work.
    Reflection,
}

/// A knowledge entry's content.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Knowledge {
    /// The subject area, 1–64 characters.
    pub domain: String,
    /// The text, at most [`MAX_CONTENT`] bytes.
    pub content: String,
    /// Its kind.
    pub kind: Kind,
    /// 0 to 1.
    pub confidence: f64,
    /// Up to 16 references, each at most 512 bytes.
    #[serde(default)]
    pub sources: Vec<String>,
    /// Up to 16 tags, each at most 64 bytes.
    #[serde(default)]
    pub tags: Vec<String>,
    /// An earlier entry of the same author this one replaces.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub supersedes: Option<RecordId>,
    /// The task this entry is the result of.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task: Option<RecordId>,
}

/// Why an operator is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Anomaly {
    /// Too many entries in a short time.
    Flood,
    /// Too many votes in a short time.
    VoteBurst,
    /// Its peer sent records whose signatures do not verify.
    BadSignatures,
    /// Its votes mirror another operator's.
    Collusion,
    /// Reported by an operator by hand.
    Manual,
}

/// What a compute task asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// Write a synthesis of a domain.
    Synthesize,
    /// Check an entry (`about`).
    Verify,
    /// Answer a question entry (`about`).
    Answer,
    /// Fill a gap in a domain's knowledge.
    FillGap,
}

/// What a record says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// The author vouches for `operator` joining the network.
    Endorsement {
        /// Who is endorsed.
        operator: OperatorId,
    },
    /// The author's enrollment: its endorsements, collected.
    Certificate {
        /// The operator enrolling (the author).
        operator: OperatorId,
        /// Signed [`Body::Endorsement`]s of `operator`.
        endorsements: Vec<Signed>,
    },
    /// The author asks for `operator` to be revoked.
    RevokeVote {
        /// Who should be revoked.
        operator: OperatorId,
    },
    /// A revocation: [`Body::RevokeVote`]s of 3 enrolled operators, collected.
    Revocation {
        /// Who is revoked.
        operator: OperatorId,
        /// Signed revoke votes.
        votes: Vec<Signed>,
    },
    /// Shared knowledge.
    Knowledge(Knowledge),
    /// The author withdraws one of its own entries.
    Delete {
        /// The entry.
        entry: RecordId,
    },
    /// The author's hidden vote on an entry.
    VoteCommit {
        /// The entry voted on.
        entry: RecordId,
        /// [`commitment`] of the vote.
        commitment: Commitment,
    },
    /// The author's vote, revealed.
    VoteReveal {
        /// The entry voted on.
        entry: RecordId,
        /// +1 or -1.
        vote: i8,
        /// Why, in a few words.
        reason: String,
        /// The nonce the commitment was made with.
        nonce: Nonce,
    },
    /// The author reports `operator` for an anomaly it saw.
    Report {
        /// Who is reported.
        operator: OperatorId,
        /// What was seen.
        anomaly: Anomaly,
        /// Records showing it (at most [`MAX_EVIDENCE`]).
        evidence: Vec<RecordId>,
        /// A few words.
        detail: String,
    },
    /// The author withdraws its report of `operator` and asks for its
    /// quarantine to end.
    Lift {
        /// Who is freed.
        operator: OperatorId,
        /// A few words.
        detail: String,
    },
    /// A compute task: text work for agents. Nothing ever executes it.
    Task {
        /// What is asked.
        kind: TaskKind,
        /// The domain it is about.
        domain: String,
        /// The entry it is about (verify, answer).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        about: Option<RecordId>,
        /// What to do, at most [`MAX_DESCRIPTION`] bytes.
        description: String,
    },
    /// The author claims a task until `until` (Unix seconds).
    Claim {
        /// The task.
        task: RecordId,
        /// When the claim lapses.
        until: u64,
    },
}

/// The signed content of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// The network it belongs to.
    pub network: NetworkId,
    /// Its author.
    pub author: OperatorId,
    /// When it was made (Unix seconds).
    pub created_at: u64,
    /// When it stops being valid (Unix seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// What it says.
    pub body: Body,
}

/// A record and its author's signature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signed {
    /// The content.
    pub record: Record,
    /// Ed25519 over the content's bytes, 128 hex digits.
    #[serde(with = "sig_hex")]
    pub signature: [u8; 64],
}

mod sig_hex {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(sig: &[u8; 64], s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&sig.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 64], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        super::decode_hex::<64>(&text)
            .ok_or_else(|| serde::de::Error::custom("a signature is 128 hex digits"))
    }
}

impl Record {
    /// The bytes that are signed and hashed.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Serialising plain structs, enums, strings and numbers cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

impl Signed {
    /// The record's id.
    pub fn id(&self) -> RecordId {
        RecordId(*blake3::hash(&self.record.to_bytes()).as_bytes())
    }

    /// The wire and disk form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Decodes bytes from the network or disk (bounded first), without
    /// checking anything else: call [`Signed::verify`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Signed, RecordError> {
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge("record"));
        }
        serde_json::from_slice(bytes).map_err(|e| RecordError::Malformed(e.to_string()))
    }

    /// Decodes and verifies in one step.
    pub fn decode_verified(
        bytes: &[u8],
        network: &NetworkId,
        now: u64,
    ) -> Result<Signed, RecordError> {
        let signed = Signed::from_bytes(bytes)?;
        signed.verify(network, now)?;
        Ok(signed)
    }

    /// Everything a record must satisfy on its own: size, network,
    /// signature, time, and its body's bounds (endorsements inside a
    /// certificate included). Whether an author is enrolled is the web of
    /// trust's question, not this one's.
    pub fn verify(&self, network: &NetworkId, now: u64) -> Result<(), RecordError> {
        self.verify_at(network, now, 0)
    }

    fn verify_at(&self, network: &NetworkId, now: u64, depth: u8) -> Result<(), RecordError> {
        let bytes = self.record.to_bytes();
        if bytes.len() > MAX_RECORD_BYTES {
            return Err(RecordError::TooLarge("record"));
        }
        let r = &self.record;
        if &r.network != network {
            return Err(RecordError::OtherNetwork);
        }
        let key = ed25519::PublicKey::try_from_bytes(&r.author.0)
            .map_err(|_| RecordError::BadSignature)?;
        if !key.verify(&bytes, &self.signature) {
            return Err(RecordError::BadSignature);
        }
        if r.created_at > now + MAX_SKEW_S {
            return Err(RecordError::Stale("dated in the future"));
        }
        match r.expires_at {
            Some(t) if t <= now => return Err(RecordError::Stale("expired")),
            Some(t) if t < r.created_at => {
                return Err(RecordError::Stale("expired before it was made"));
            }
            None if r.created_at + MAX_AGE_S < now => return Err(RecordError::Stale("too old")),
            _ => {}
        }
        match &r.body {
            Body::Knowledge(k) => check_knowledge(k),
            Body::Certificate {
                operator,
                endorsements,
            } => {
                if operator != &r.author {
                    return Err(RecordError::Invalid(
                        "a certificate is signed by the operator it enrolls".into(),
                    ));
                }
                self.check_inner(
                    network,
                    depth,
                    endorsements,
                    |b| matches!(b, Body::Endorsement { operator: o } if o == operator),
                    "an endorsement of this operator",
                )
            }
            Body::Revocation { operator, votes } => self.check_inner(
                network,
                depth,
                votes,
                |b| matches!(b, Body::RevokeVote { operator: o } if o == operator),
                "a revoke vote for this operator",
            ),
            Body::Endorsement { operator } | Body::RevokeVote { operator } => {
                if operator == &r.author {
                    return Err(RecordError::Invalid(
                        "an operator cannot vouch for itself".into(),
                    ));
                }
                Ok(())
            }
            Body::Delete { .. } | Body::VoteCommit { .. } => Ok(()),
            Body::VoteReveal { vote, reason, .. } => {
                if *vote != 1 && *vote != -1 {
                    return Err(RecordError::Invalid("a vote is +1 or -1".into()));
                }
                short_text(reason, "the reason")
            }
            Body::Report {
                operator,
                evidence,
                detail,
                ..
            } => {
                not_self(operator, &r.author)?;
                if evidence.len() > MAX_EVIDENCE {
                    return Err(RecordError::TooLarge("evidence (64 records at most)"));
                }
                short_text(detail, "the detail")
            }
            Body::Lift { operator, detail } => {
                not_self(operator, &r.author)?;
                short_text(detail, "the detail")
            }
            Body::Task {
                kind,
                domain,
                about,
                description,
            } => {
                check_domain(domain)?;
                if description.len() > MAX_DESCRIPTION {
                    return Err(RecordError::TooLarge("description (4 KiB at most)"));
                }
                if description.trim().is_empty() {
                    return Err(RecordError::Invalid("the description is empty".into()));
                }
                if matches!(kind, TaskKind::Verify | TaskKind::Answer) && about.is_none() {
                    return Err(RecordError::Invalid(
                        "a verify or answer task names the entry it is about".into(),
                    ));
                }
                Ok(())
            }
            Body::Claim { until, .. } => {
                if *until <= r.created_at {
                    return Err(RecordError::Invalid(
                        "a claim lasts until after it is made".into(),
                    ));
                }
                Ok(())
            }
        }
    }

    /// Endorsements or votes inside a certificate or revocation: each a
    /// valid record of the expected kind, made before (or with the skew of)
    /// the outer one and at most [`ENDORSEMENT_TTL_S`] before it.
    fn check_inner(
        &self,
        network: &NetworkId,
        depth: u8,
        inner: &[Signed],
        expected: impl Fn(&Body) -> bool,
        what: &str,
    ) -> Result<(), RecordError> {
        if depth > 0 {
            return Err(RecordError::Invalid("records nest only one level".into()));
        }
        if inner.is_empty() || inner.len() > MAX_ENDORSEMENTS {
            return Err(RecordError::TooLarge("endorsements"));
        }
        let at = self.record.created_at;
        for e in inner {
            if !expected(&e.record.body) {
                return Err(RecordError::Invalid(format!(
                    "each one inside must be {what}"
                )));
            }
            // Judged as of the outer record's time: an endorsement that was
            // good when the certificate was made keeps it good.
            e.verify_at(network, at, depth + 1)?;
            if e.record.created_at + ENDORSEMENT_TTL_S < at {
                return Err(RecordError::Stale("an endorsement older than 30 days"));
            }
        }
        Ok(())
    }
}

fn check_domain(domain: &str) -> Result<(), RecordError> {
    if domain.trim().is_empty() || domain.chars().count() > 64 {
        return Err(RecordError::Invalid(
            "the domain must be 1 to 64 characters".into(),
        ));
    }
    Ok(())
}

fn short_text(text: &str, what: &'static str) -> Result<(), RecordError> {
    if text.len() > MAX_REASON {
        return Err(RecordError::Invalid(format!(
            "{what} is longer than 512 bytes"
        )));
    }
    Ok(())
}

fn not_self(operator: &OperatorId, author: &OperatorId) -> Result<(), RecordError> {
    if operator == author {
        return Err(RecordError::Invalid(
            "an operator cannot report or free itself".into(),
        ));
    }
    Ok(())
}

fn check_knowledge(k: &Knowledge) -> Result<(), RecordError> {
    check_domain(&k.domain)?;
    if k.content.len() > MAX_CONTENT {
        return Err(RecordError::TooLarge("content (16 KiB at most)"));
    }
    if k.content.trim().is_empty() {
        return Err(RecordError::Invalid("the content is empty".into()));
    }
    if !(k.confidence.is_finite() && (0.0..=1.0).contains(&k.confidence)) {
        return Err(RecordError::Invalid(
            "the confidence must be between 0 and 1".into(),
        ));
    }
    if k.sources.len() > 16 || k.sources.iter().any(|s| s.len() > 512) {
        return Err(RecordError::TooLarge("sources (16 of 512 bytes at most)"));
    }
    if k.tags.len() > 16 || k.tags.iter().any(|t| t.len() > 64) {
        return Err(RecordError::TooLarge("tags (16 of 64 bytes at most)"));
    }
    Ok(())
}

/// An operator's signing key (Ed25519).
#[derive(Clone)]
pub struct OperatorKey(ed25519::Keypair);

/// What an operator signs to say which peer is its own: the network and
/// the peer id's bytes, under a context string.
fn binding_message(network: &NetworkId, peer: &[u8]) -> Vec<u8> {
    let mut m = b"nocturne agent peer binding v1\n".to_vec();
    m.extend_from_slice(&network.0);
    m.extend_from_slice(peer);
    m
}

/// The operator a peer's binding (`<operator hex> <signature hex>`, sent in
/// identify's agent version) names, if its signature holds for `peer`.
pub fn bound_operator(text: &str, network: &NetworkId, peer: &[u8]) -> Option<OperatorId> {
    let mut words = text.split_whitespace().skip_while(|w| w.len() != 64);
    let operator: OperatorId = words.next()?.parse().ok()?;
    let signature = decode_hex::<64>(words.next()?)?;
    let key = ed25519::PublicKey::try_from_bytes(&operator.0).ok()?;
    key.verify(&binding_message(network, peer), &signature)
        .then_some(operator)
}

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OperatorKey({})", self.id())
    }
}

impl OperatorKey {
    /// A new random key.
    pub fn generate() -> OperatorKey {
        OperatorKey(ed25519::Keypair::generate())
    }

    /// Its id (the public key).
    pub fn id(&self) -> OperatorId {
        OperatorId(self.0.public().to_bytes())
    }

    /// Signs a record (its author must be this key).
    pub fn sign(&self, record: Record) -> Signed {
        let sig = self.0.sign(&record.to_bytes());
        let mut signature = [0u8; 64];
        signature.copy_from_slice(&sig[..64.min(sig.len())]);
        Signed { record, signature }
    }

    /// This operator's binding to `peer`: `<operator hex> <signature hex>`.
    pub fn bind_peer(&self, network: &NetworkId, peer: &[u8]) -> String {
        let sig = self.0.sign(&binding_message(network, peer));
        let hex: String = sig.iter().map(|b| format!("{b:02x}")).collect();
        format!("{} {hex}", self.id())
    }

    /// A record by this operator, made now.
    pub fn make(&self, network: NetworkId, now: u64, body: Body) -> Signed {
        self.sign(Record {
            network,
            author: self.id(),
            created_at: now,
            expires_at: None,
            body,
        })
    }

    /// The key file's text: the 32-byte secret as 64 hex digits and a newline.
    pub fn to_file_text(&self) -> zeroize::Zeroizing<String> {
        let secret = self.0.secret();
        let bytes: &[u8] = secret.as_ref();
        zeroize::Zeroizing::new(bytes.iter().map(|b| format!("{b:02x}")).collect::<String>() + "\n")
    }

    /// Reads a key file's text.
    pub fn from_file_text(text: &str) -> Result<OperatorKey, RecordError> {
        let mut bytes = decode_hex::<32>(text.trim()).ok_or(RecordError::BadHex("operator key"))?;
        let secret = ed25519::SecretKey::try_from_bytes(&mut bytes)
            .map_err(|_| RecordError::BadHex("operator key"))?;
        Ok(OperatorKey(ed25519::Keypair::from(secret)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(n: u8) -> NetworkId {
        NetworkId([n; 32])
    }

    fn entry(content: &str) -> Body {
        Body::Knowledge(Knowledge {
            domain: "rust".into(),
            content: content.into(),
            kind: Kind::Fact,
            confidence: 0.8,
            sources: vec![],
            tags: vec!["t".into()],
            supersedes: None,
            task: None,
        })
    }

    #[test]
    fn a_signed_record_round_trips_and_verifies() {
        let key = OperatorKey::generate();
        let signed = key.make(net(1), 1000, entry("hello"));
        let bytes = signed.to_bytes();
        let back = Signed::decode_verified(&bytes, &net(1), 1000).expect("valid");
        assert_eq!(back.id(), signed.id());
        assert_eq!(
            Signed::decode_verified(&bytes, &net(2), 1000),
            Err(RecordError::OtherNetwork)
        );
    }

    #[test]
    fn forgery_tampering_and_bounds_are_refused() {
        let key = OperatorKey::generate();
        let other = OperatorKey::generate();
        let mut forged = key.make(net(1), 1000, entry("hello"));
        forged.record.author = other.id();
        assert_eq!(forged.verify(&net(1), 1000), Err(RecordError::BadSignature));
        let mut tampered = key.make(net(1), 1000, entry("hello"));
        tampered.record.body = entry("goodbye");
        assert_eq!(
            tampered.verify(&net(1), 1000),
            Err(RecordError::BadSignature)
        );
        let big = key.make(net(1), 1000, entry(&"x".repeat(MAX_CONTENT + 1)));
        assert!(matches!(
            big.verify(&net(1), 1000),
            Err(RecordError::TooLarge(_))
        ));
        let future = key.make(net(1), 1000 + MAX_SKEW_S + 1, entry("soon"));
        assert!(matches!(
            future.verify(&net(1), 1000),
            Err(RecordError::Stale(_))
        ));
        let old = key.make(net(1), 1000, entry("old"));
        assert!(matches!(
            old.verify(&net(1), 1000 + MAX_AGE_S + 1),
            Err(RecordError::Stale(_))
        ));
        assert!(Signed::from_bytes(&vec![b' '; MAX_RECORD_BYTES + 1]).is_err());
        assert!(Signed::from_bytes(b"{\"record\": 1}").is_err());
    }

    #[test]
    fn certificates_hold_endorsements_of_their_author_only() {
        let (a, b, c) = (
            OperatorKey::generate(),
            OperatorKey::generate(),
            OperatorKey::generate(),
        );
        let e = a.make(net(1), 1000, Body::Endorsement { operator: b.id() });
        let cert = b.make(
            net(1),
            1010,
            Body::Certificate {
                operator: b.id(),
                endorsements: vec![e.clone()],
            },
        );
        assert_eq!(cert.verify(&net(1), 1010), Ok(()));
        let wrong = c.make(
            net(1),
            1010,
            Body::Certificate {
                operator: c.id(),
                endorsements: vec![e.clone()],
            },
        );
        assert!(matches!(
            wrong.verify(&net(1), 1010),
            Err(RecordError::Invalid(_))
        ));
        let foreign = a.make(net(2), 1000, Body::Endorsement { operator: b.id() });
        let mixed = b.make(
            net(1),
            1010,
            Body::Certificate {
                operator: b.id(),
                endorsements: vec![foreign],
            },
        );
        assert_eq!(mixed.verify(&net(1), 1010), Err(RecordError::OtherNetwork));
        let own = b.make(net(1), 1000, Body::Endorsement { operator: b.id() });
        assert!(own.verify(&net(1), 1000).is_err());
    }

    /// Verification re-encodes what was parsed: every confidence must come
    /// back bit for bit (serde_json's `float_roundtrip`), or honest records
    /// would fail at every other peer.
    #[test]
    fn awkward_floats_survive_the_wire() {
        let key = OperatorKey::generate();
        for confidence in [
            0.935_204_704_343_738_3,
            0.1 + 0.2,
            1.0 / 3.0,
            f64::MIN_POSITIVE,
            0.999_999_999_999_999_9,
        ] {
            let signed = key.make(
                net(1),
                1000,
                Body::Knowledge(Knowledge {
                    domain: "floats".into(),
                    content: "c".into(),
                    kind: Kind::Fact,
                    confidence,
                    sources: vec![],
                    tags: vec![],
                    supersedes: None,
                    task: None,
                }),
            );
            let back = Signed::decode_verified(&signed.to_bytes(), &net(1), 1000);
            assert!(back.is_ok(), "{confidence}: {back:?}");
        }
    }

    #[test]
    fn keys_survive_their_file_text() {
        let key = OperatorKey::generate();
        let back = OperatorKey::from_file_text(&key.to_file_text()).expect("parse");
        assert_eq!(back.id(), key.id());
        assert!(OperatorKey::from_file_text("nothex").is_err());
        assert!("zz".parse::<OperatorId>().is_err());
        assert_eq!(key.id().to_string().parse::<OperatorId>(), Ok(key.id()));
    }
}
