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
};

use mesh::agent::{Nonce, RecordId};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use super::local;
use crate::Error;

/// The ballots' directory inside the agent's.
const DIR: &str = "votes";

/// One vote, until revealed (and after, as this operator's record of it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Ballot {
    pub(super) entry: RecordId,
    pub(super) vote: i8,
    pub(super) reason: String,
    pub(super) nonce: Nonce,
    pub(super) commit: RecordId,
    pub(super) reveal_from: u64,
    pub(super) reveal_until: u64,
    #[serde(default)]
    pub(super) revealed: Option<RecordId>,
}

/// The ballot box on disk and the revealer's alarm.
#[derive(Debug, Clone)]
pub(super) struct Ballots {
    pub(super) dir: PathBuf,
    pub(super) wake: Arc<Notify>,
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

    pub(super) fn path(&self, entry: &RecordId) -> PathBuf {
        self.dir.join(format!("{entry}.json"))
    }

    /// This operator's ballot on `entry`, if it voted.
    pub(super) fn get(&self, entry: &RecordId) -> Option<Ballot> {
        let bytes = std::fs::read(self.path(entry)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    pub(super) fn save(&self, ballot: &Ballot, fresh: bool) -> Result<(), Error> {
        let text = serde_json::to_string(ballot).map_err(|e| Error::Config(e.to_string()))?;
        local::write_private(&self.path(&ballot.entry), &text, fresh)
    }
}
