//! A peer's records on disk (`records/<id>.json`) and in memory, with an
//! index by domain. Bounded in count and bytes; expired records are dropped
//! when the store is opened and when it is full.

use std::{
    collections::{BTreeMap, BTreeSet, HashMap},
    path::{Path, PathBuf},
};

use super::record::{Body, NetworkId, OperatorId, RecordId, Signed};
use crate::Error;

/// Records a peer keeps at most.
pub const MAX_RECORDS: usize = 20_000;
/// Bytes of records a peer keeps at most.
pub const MAX_BYTES: usize = 128 * 1024 * 1024;

/// What happened to an inserted record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// New, now stored.
    New,
    /// Held already (a replay).
    Known,
    /// Not kept: the store is full, or a deletion or newer version already
    /// covers it.
    Refused,
}

/// A query over knowledge entries.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Only this domain (exact, case-insensitive).
    pub domain: Option<String>,
    /// Words that must all appear in the content, domain or tags (case-insensitive).
    pub text: Option<String>,
    /// Entries below this confidence are left out.
    pub min_confidence: f64,
    /// Only entries whose author is enrolled.
    pub enrolled_only: bool,
    /// At most this many (newest first); 0 means 50.
    pub limit: usize,
}

/// The store.
#[derive(Debug)]
pub struct RecordStore {
    dir: PathBuf,
    records: HashMap<RecordId, Signed>,
    bytes: usize,
    by_domain: BTreeMap<String, BTreeSet<RecordId>>,
    /// Entries withdrawn or replaced by their authors.
    hidden: BTreeSet<RecordId>,
    /// Records naming another: votes by entry, claims and results by task.
    about: HashMap<RecordId, BTreeSet<RecordId>>,
    /// Reports and lifts.
    statements: BTreeSet<RecordId>,
    /// Operators' task records.
    tasks: BTreeSet<RecordId>,
}

impl RecordStore {
    /// Opens (creating, 0700) the store under `dir`, keeping the records
    /// that still verify for `network` at `now`.
    pub fn open(dir: &Path, network: &NetworkId, now: u64) -> Result<RecordStore, Error> {
        let dir = dir.join("records");
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder
            .create(&dir)
            .map_err(Error::io("creating the record store"))?;
        let mut store = RecordStore {
            dir: dir.clone(),
            records: HashMap::new(),
            bytes: 0,
            by_domain: BTreeMap::new(),
            hidden: BTreeSet::new(),
            about: HashMap::new(),
            statements: BTreeSet::new(),
            tasks: BTreeSet::new(),
        };
        let entries = std::fs::read_dir(&dir).map_err(Error::io("reading the record store"))?;
        let mut loaded = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let valid = std::fs::read(&path)
                .ok()
                .and_then(|bytes| Signed::decode_verified(&bytes, network, now).ok());
            match valid {
                Some(signed) => loaded.push(signed),
                None => {
                    std::fs::remove_file(&path).ok();
                }
            }
        }
        loaded.sort_by_key(|s| s.record.created_at);
        for signed in loaded {
            store.index(signed);
        }
        Ok(store)
    }

    /// How many records are held.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    /// A record by id.
    pub fn get(&self, id: &RecordId) -> Option<&Signed> {
        self.records.get(id)
    }

    /// Whether the record is held.
    pub fn contains(&self, id: &RecordId) -> bool {
        self.records.contains_key(id)
    }

    /// Every record (for republishing).
    pub fn all(&self) -> impl Iterator<Item = &Signed> {
        self.records.values()
    }

    /// Domains with at least one visible entry.
    pub fn domains(&self) -> impl Iterator<Item = &String> {
        self.by_domain.keys()
    }

    /// Keeps a record that has been verified (written to disk first).
    pub fn insert(&mut self, signed: Signed) -> Inserted {
        let id = signed.id();
        if self.records.contains_key(&id) {
            return Inserted::Known;
        }
        let size = signed.to_bytes().len();
        if self.records.len() >= MAX_RECORDS || self.bytes + size > MAX_BYTES {
            return Inserted::Refused;
        }
        let path = self.dir.join(format!("{id}.json"));
        if let Err(e) = std::fs::write(&path, signed.to_bytes()) {
            tracing::warn!(error = %e, "could not keep a record on disk");
            return Inserted::Refused;
        }
        self.index(signed);
        Inserted::New
    }

    fn index(&mut self, signed: Signed) {
        let id = signed.id();
        let author = signed.record.author;
        match &signed.record.body {
            Body::Knowledge(k) => {
                if let Some(old) = k.supersedes {
                    self.hide_if_by(old, author);
                }
                if !self.hidden.contains(&id) {
                    self.by_domain
                        .entry(k.domain.to_lowercase())
                        .or_default()
                        .insert(id);
                }
            }
            Body::Delete { entry } => self.hide_if_by(*entry, author),
            _ => {}
        }
        let named = match &signed.record.body {
            Body::VoteCommit { entry, .. } | Body::VoteReveal { entry, .. } => Some(*entry),
            Body::Claim { task, .. } => Some(*task),
            Body::Knowledge(k) => k.task,
            Body::Report { .. } | Body::Lift { .. } => {
                self.statements.insert(id);
                None
            }
            Body::Task { .. } => {
                self.tasks.insert(id);
                None
            }
            _ => None,
        };
        if let Some(named) = named {
            self.about.entry(named).or_default().insert(id);
        }
        self.bytes += signed.to_bytes().len();
        self.records.insert(id, signed);
    }

    /// Hides `entry` if `author` wrote it (only an author may withdraw or
    /// replace its own entries); remembers it either way, so an entry
    /// arriving after its deletion stays hidden once its author is known.
    fn hide_if_by(&mut self, entry: RecordId, author: OperatorId) {
        match self.records.get(&entry) {
            Some(old) if old.record.author == author => {
                self.hidden.insert(entry);
                if let Body::Knowledge(k) = &old.record.body
                    && let Some(ids) = self.by_domain.get_mut(&k.domain.to_lowercase())
                {
                    ids.remove(&entry);
                }
            }
            Some(_) => {}
            None => {
                self.hidden.insert(entry);
            }
        }
    }

    /// Knowledge entries matching `query`, newest first, with whether each
    /// author is enrolled (from `enrolled`).
    pub fn query(&self, query: &Query, is_enrolled: impl Fn(&OperatorId) -> bool) -> Vec<&Signed> {
        let words: Vec<String> = query
            .text
            .as_deref()
            .unwrap_or("")
            .split_whitespace()
            .map(str::to_lowercase)
            .collect();
        let ids: Box<dyn Iterator<Item = &RecordId>> = match &query.domain {
            Some(d) => Box::new(self.by_domain.get(&d.to_lowercase()).into_iter().flatten()),
            None => Box::new(self.by_domain.values().flatten()),
        };
        let mut found: Vec<&Signed> = ids
            .filter_map(|id| self.records.get(id))
            .filter(|s| {
                let Body::Knowledge(k) = &s.record.body else {
                    return false;
                };
                if k.confidence < query.min_confidence {
                    return false;
                }
                if query.enrolled_only && !is_enrolled(&s.record.author) {
                    return false;
                }
                let hay = format!("{} {} {}", k.domain, k.content, k.tags.join(" ")).to_lowercase();
                words.iter().all(|w| hay.contains(w.as_str()))
            })
            .collect();
        found.sort_by_key(|s| std::cmp::Reverse((s.record.created_at, s.id())));
        found.truncate(if query.limit == 0 {
            50
        } else {
            query.limit.min(500)
        });
        found
    }

    /// Records naming `id`: votes on an entry, claims on and results of a
    /// task.
    pub fn about(&self, id: &RecordId) -> impl Iterator<Item = (RecordId, &Signed)> {
        self.about
            .get(id)
            .into_iter()
            .flatten()
            .filter_map(|id| self.records.get(id).map(|s| (*id, s)))
    }

    /// Ids that records name (entries voted on, tasks claimed).
    pub fn named(&self) -> impl Iterator<Item = &RecordId> {
        self.about.keys()
    }

    /// Every report and lift.
    pub fn statements(&self) -> impl Iterator<Item = &Signed> {
        self.statements.iter().filter_map(|id| self.records.get(id))
    }

    /// Every operator's task record, with its id.
    pub fn tasks(&self) -> impl Iterator<Item = (RecordId, &Signed)> {
        self.tasks
            .iter()
            .filter_map(|id| self.records.get(id).map(|s| (*id, s)))
    }

    /// Every visible knowledge entry, with its id.
    pub fn entries(&self) -> impl Iterator<Item = (RecordId, &Signed)> {
        self.by_domain
            .values()
            .flatten()
            .filter_map(|id| self.records.get(id).map(|s| (*id, s)))
    }

    /// Whether `id` was withdrawn or replaced by its author.
    pub fn is_hidden(&self, id: &RecordId) -> bool {
        self.hidden.contains(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::record::{Kind, Knowledge, OperatorKey};

    fn entry(
        key: &OperatorKey,
        net: NetworkId,
        at: u64,
        domain: &str,
        content: &str,
        supersedes: Option<RecordId>,
    ) -> Signed {
        key.make(
            net,
            at,
            Body::Knowledge(Knowledge {
                domain: domain.into(),
                content: content.into(),
                kind: Kind::Insight,
                confidence: 0.7,
                sources: vec![],
                tags: vec![],
                supersedes,
                task: None,
            }),
        )
    }

    #[test]
    fn stores_queries_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let net = NetworkId([1; 32]);
        let (a, b) = (OperatorKey::generate(), OperatorKey::generate());
        let mut store = RecordStore::open(dir.path(), &net, 1000).expect("open");
        let first = entry(&a, net, 1000, "Rust", "borrow checker rules", None);
        assert_eq!(store.insert(first.clone()), Inserted::New);
        assert_eq!(store.insert(first.clone()), Inserted::Known);
        store.insert(entry(&b, net, 1001, "go", "goroutines are cheap", None));
        let q = Query {
            domain: Some("rust".into()),
            ..Query::default()
        };
        assert_eq!(store.query(&q, |_| true).len(), 1);
        let q = Query {
            text: Some("CHEAP".into()),
            ..Query::default()
        };
        assert_eq!(store.query(&q, |_| true).len(), 1);
        let q = Query {
            enrolled_only: true,
            ..Query::default()
        };
        assert_eq!(store.query(&q, |o| *o == a.id()).len(), 1);

        // Only the author replaces or deletes.
        store.insert(b.make(net, 1002, Body::Delete { entry: first.id() }));
        assert_eq!(store.query(&Query::default(), |_| true).len(), 2);
        store.insert(entry(
            &a,
            net,
            1003,
            "rust",
            "the borrow checker, revised",
            Some(first.id()),
        ));
        let all = store.query(&Query::default(), |_| true);
        assert_eq!(all.len(), 2);
        assert!(all.iter().all(|s| s.id() != first.id()));

        let again = RecordStore::open(dir.path(), &net, 1004).expect("reopen");
        assert_eq!(again.len(), store.len());
        assert_eq!(again.query(&Query::default(), |_| true).len(), 2);
        // Another network's peer keeps none of them.
        assert_eq!(
            RecordStore::open(dir.path(), &NetworkId([2; 32]), 1004)
                .expect("open")
                .len(),
            0
        );
    }
}
