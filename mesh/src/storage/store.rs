//! A node's fragments on disk, and the rules it keeps about them.
//!
//! Layout under the node's directory: `fragments/<ab>/<id>` holds a sealed
//! fragment and `fragments/<ab>/<id>.meta` its owner, length and hash (JSON);
//! `fragments/<ab>/<id>.part` is one being written. A fragment is served,
//! audited and deleted only for the peer that stored it. Space is counted
//! for sealed fragments and for reservations, and never passes the
//! capacity: a reservation that would is refused before a byte is written.
//! At startup sealed fragments are loaded from their sidecars and partial
//! ones are removed (their owner starts them again).

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex, MutexGuard},
    time::{Duration, Instant},
};

use libp2p::PeerId;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use super::wire::{FragmentId, MAX_CHUNK, NodeInfo, Refusal, Request, Response};
use crate::Error;

/// How many fragments may be half-written at once on one node.
const MAX_PARTIAL: usize = 256;

/// A reservation with no write for this long is dropped, its space freed.
const PARTIAL_IDLE: Duration = Duration::from_secs(600);

/// A node's fragment store; cheap to clone.
#[derive(Debug, Clone)]
pub struct FragmentStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    dir: PathBuf,
    capacity: u64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    held: HashMap<FragmentId, Held>,
    partial: HashMap<FragmentId, Partial>,
    /// Bytes of sealed fragments plus reservations.
    used: u64,
    leaving: bool,
    audits_passed: u64,
    audits_failed: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Held {
    #[serde(with = "peer_text")]
    owner: PeerId,
    len: u64,
    #[serde(with = "hex32")]
    hash: [u8; 32],
}

#[derive(Debug)]
struct Partial {
    owner: PeerId,
    len: u64,
    written: u64,
    /// Taken out while a chunk is being written, so a second write racing
    /// the first finds it missing and is refused.
    hasher: Option<Box<blake3::Hasher>>,
    touched: Instant,
}

/// What `nocturne node status` shows of the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreStatus {
    /// Sealed fragments held.
    pub fragments: u64,
    /// Bytes held and reserved.
    pub used: u64,
    /// The `--max-storage`.
    pub capacity: u64,
    /// Audits answered with the data.
    pub audits_passed: u64,
    /// Audits of fragments this node could not produce.
    pub audits_failed: u64,
    /// Whether the node is leaving.
    pub leaving: bool,
}

impl FragmentStore {
    /// Opens (creating if needed, mode 0700) the store under `dir`, loading
    /// sealed fragments and removing half-written ones.
    pub async fn open(dir: &Path, capacity: u64) -> Result<FragmentStore, Error> {
        let root = dir.join("fragments");
        create_private_dir(&root).await?;
        let mut state = State::default();
        let mut fans = tokio::fs::read_dir(&root)
            .await
            .map_err(Error::io("reading the fragment store"))?;
        while let Some(fan) = fans
            .next_entry()
            .await
            .map_err(Error::io("reading the fragment store"))?
        {
            if !fan.file_type().await.map(|t| t.is_dir()).unwrap_or(false) {
                continue;
            }
            let mut entries = tokio::fs::read_dir(fan.path())
                .await
                .map_err(Error::io("reading the fragment store"))?;
            while let Some(entry) = entries
                .next_entry()
                .await
                .map_err(Error::io("reading the fragment store"))?
            {
                let name = entry.file_name();
                let Some(name) = name.to_str() else { continue };
                if name.ends_with(".part") {
                    tokio::fs::remove_file(entry.path()).await.ok();
                    continue;
                }
                let Some(id) = name.strip_suffix(".meta").and_then(FragmentId::from_hex) else {
                    continue;
                };
                let data = fan.path().join(id.to_string());
                let meta: Option<Held> = tokio::fs::read(entry.path())
                    .await
                    .ok()
                    .and_then(|bytes| serde_json::from_slice(&bytes).ok());
                let on_disk = tokio::fs::metadata(&data).await.map(|m| m.len()).ok();
                match meta {
                    Some(held) if on_disk == Some(held.len) => {
                        state.used += held.len;
                        state.held.insert(id, held);
                    }
                    // A sidecar without its fragment, or the other way
                    // round: the owner's audit will find it gone and repair.
                    _ => {
                        tracing::warn!(fragment = %id, "dropping a fragment whose file or sidecar is damaged");
                        tokio::fs::remove_file(entry.path()).await.ok();
                        tokio::fs::remove_file(&data).await.ok();
                    }
                }
            }
        }
        Ok(FragmentStore {
            inner: Arc::new(Inner {
                dir: root,
                capacity,
                state: Mutex::new(state),
            }),
        })
    }

    /// Counts for `nocturne node status`.
    pub fn status(&self) -> StoreStatus {
        let state = self.lock();
        StoreStatus {
            fragments: state.held.len() as u64,
            used: state.used,
            capacity: self.inner.capacity,
            audits_passed: state.audits_passed,
            audits_failed: state.audits_failed,
            leaving: state.leaving,
        }
    }

    /// Stops taking new fragments, and lists what the node holds, by owner,
    /// for the hand-over.
    pub fn start_leaving(&self) -> HashMap<PeerId, Vec<FragmentId>> {
        let mut state = self.lock();
        state.leaving = true;
        let mut by_owner: HashMap<PeerId, Vec<FragmentId>> = HashMap::new();
        for (id, held) in &state.held {
            by_owner.entry(held.owner).or_default().push(*id);
        }
        by_owner
    }

    /// Deletes everything (a forced leave).
    pub async fn clear(&self) -> Result<(), Error> {
        let ids: Vec<(FragmentId, PeerId)> = self
            .lock()
            .held
            .iter()
            .map(|(id, h)| (*id, h.owner))
            .collect();
        for (id, owner) in ids {
            self.delete(owner, id).await;
        }
        Ok(())
    }

    /// Answers one request from `peer`. Every path that touches a fragment
    /// checks `peer` is its owner; a stranger hears `NotFound`.
    pub async fn handle(&self, peer: PeerId, request: Request) -> Response {
        match request {
            Request::Info => {
                let state = self.lock();
                let fragments = state.held.values().filter(|h| h.owner == peer).count() as u64;
                Response::Info(NodeInfo {
                    capacity: self.inner.capacity,
                    used: state.used,
                    fragments,
                    leaving: state.leaving,
                })
            }
            Request::Reserve { id, len } => self.reserve(peer, id, len).await,
            Request::Write { id, offset, data } => self.write(peer, id, offset, data).await,
            Request::Seal { id, hash } => self.seal(peer, id, hash).await,
            Request::Read { id, offset, len } => self.read(peer, id, offset, len).await,
            Request::Audit { id, offset, len } => {
                let response = self.read(peer, id, offset, len).await;
                let mut state = self.lock();
                match response {
                    Response::Data(_) => state.audits_passed += 1,
                    _ => state.audits_failed += 1,
                }
                response
            }
            Request::Delete { id } => self.delete(peer, id).await,
            Request::Leave { .. } => Response::Refused(Refusal::Unsupported),
        }
    }

    async fn reserve(&self, peer: PeerId, id: FragmentId, len: u64) -> Response {
        {
            let mut state = self.lock();
            let now = Instant::now();
            let stale: Vec<FragmentId> = state
                .partial
                .iter()
                .filter(|(_, p)| p.hasher.is_some() && now.duration_since(p.touched) > PARTIAL_IDLE)
                .map(|(id, _)| *id)
                .collect();
            for stale_id in stale {
                if let Some(p) = state.partial.remove(&stale_id) {
                    state.used -= p.len;
                    let path = self.path(stale_id, ".part");
                    tokio::spawn(async move { tokio::fs::remove_file(path).await.ok() });
                }
            }
            if state.held.contains_key(&id) {
                return Response::Refused(Refusal::Exists);
            }
            // The same owner starting the same fragment again (a retry)
            // gives up the first attempt.
            match state.partial.get(&id) {
                Some(p) if p.owner == peer && p.hasher.is_some() => {
                    let old = p.len;
                    state.partial.remove(&id);
                    state.used -= old;
                }
                Some(_) => return Response::Refused(Refusal::Exists),
                None => {}
            }
            if state.leaving || state.used.saturating_add(len) > self.inner.capacity {
                return Response::Refused(Refusal::Full);
            }
            if state.partial.len() >= MAX_PARTIAL {
                return Response::Refused(Refusal::Busy);
            }
            state.used += len;
            state.partial.insert(
                id,
                Partial {
                    owner: peer,
                    len,
                    written: 0,
                    hasher: None,
                    touched: now,
                },
            );
        }
        let path = self.path(id, ".part");
        let created = async {
            create_private_dir(path.parent().unwrap_or(&self.inner.dir)).await?;
            tokio::fs::File::create(&path)
                .await
                .map_err(Error::io("creating a fragment"))
        }
        .await;
        let mut state = self.lock();
        match (created, state.partial.get_mut(&id)) {
            (Ok(_), Some(p)) => {
                p.hasher = Some(Box::default());
                Response::Done
            }
            (result, _) => {
                if let Err(e) = result {
                    tracing::warn!(error = %e, "could not create a fragment file");
                }
                if let Some(p) = state.partial.remove(&id) {
                    state.used -= p.len;
                }
                Response::Refused(Refusal::Io)
            }
        }
    }

    async fn write(&self, peer: PeerId, id: FragmentId, offset: u64, data: Vec<u8>) -> Response {
        let mut hasher = {
            let mut state = self.lock();
            let Some(p) = state.partial.get_mut(&id).filter(|p| p.owner == peer) else {
                return Response::Refused(Refusal::NotFound);
            };
            if data.len() > MAX_CHUNK as usize
                || offset != p.written
                || p.written + data.len() as u64 > p.len
            {
                return Response::Refused(Refusal::BadRange);
            }
            match p.hasher.take() {
                Some(h) => h,
                None => return Response::Refused(Refusal::Busy),
            }
        };
        let path = self.path(id, ".part");
        let written = async {
            let mut file = tokio::fs::OpenOptions::new()
                .append(true)
                .open(&path)
                .await?;
            file.write_all(&data).await?;
            file.flush().await
        }
        .await;
        hasher.update(&data);
        let mut state = self.lock();
        let Some(p) = state.partial.get_mut(&id) else {
            return Response::Refused(Refusal::NotFound);
        };
        match written {
            Ok(()) => {
                p.written += data.len() as u64;
                p.hasher = Some(hasher);
                p.touched = Instant::now();
                Response::Done
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not write a fragment");
                let len = p.len;
                state.partial.remove(&id);
                state.used -= len;
                Response::Refused(Refusal::Io)
            }
        }
    }

    async fn seal(&self, peer: PeerId, id: FragmentId, hash: [u8; 32]) -> Response {
        let (len, hasher) = {
            let mut state = self.lock();
            let Some(p) = state.partial.get_mut(&id).filter(|p| p.owner == peer) else {
                return Response::Refused(Refusal::NotFound);
            };
            if p.written != p.len {
                return Response::Refused(Refusal::BadRange);
            }
            let Some(hasher) = p.hasher.take() else {
                return Response::Refused(Refusal::Busy);
            };
            (p.len, hasher)
        };
        let part = self.path(id, ".part");
        if *hasher.finalize().as_bytes() != hash {
            {
                let mut state = self.lock();
                state.partial.remove(&id);
                state.used -= len;
            }
            tokio::fs::remove_file(&part).await.ok();
            return Response::Refused(Refusal::HashMismatch);
        }
        let held = Held {
            owner: peer,
            len,
            hash,
        };
        let sealed = async {
            tokio::fs::File::open(&part).await?.sync_all().await?;
            let meta = serde_json::to_vec(&held).map_err(std::io::Error::other)?;
            let meta_tmp = self.path(id, ".meta.part");
            let mut file = tokio::fs::File::create(&meta_tmp).await?;
            file.write_all(&meta).await?;
            file.sync_all().await?;
            tokio::fs::rename(&part, self.path(id, "")).await?;
            tokio::fs::rename(&meta_tmp, self.path(id, ".meta")).await?;
            if let Some(dir) = part.parent() {
                tokio::fs::File::open(dir).await?.sync_all().await?;
            }
            Ok::<_, std::io::Error>(())
        }
        .await;
        let mut state = self.lock();
        state.partial.remove(&id);
        match sealed {
            Ok(()) => {
                state.held.insert(id, held);
                Response::Done
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not seal a fragment");
                state.used -= len;
                Response::Refused(Refusal::Io)
            }
        }
    }

    async fn read(&self, peer: PeerId, id: FragmentId, offset: u64, len: u32) -> Response {
        let held_len = match self.lock().held.get(&id) {
            Some(h) if h.owner == peer => h.len,
            _ => return Response::Refused(Refusal::NotFound),
        };
        if len > MAX_CHUNK
            || offset
                .checked_add(u64::from(len))
                .is_none_or(|end| end > held_len)
        {
            return Response::Refused(Refusal::BadRange);
        }
        let read = async {
            let mut file = tokio::fs::File::open(self.path(id, "")).await?;
            file.seek(std::io::SeekFrom::Start(offset)).await?;
            let mut buf = vec![0u8; len as usize];
            file.read_exact(&mut buf).await?;
            Ok::<_, std::io::Error>(buf)
        }
        .await;
        match read {
            Ok(buf) => Response::Data(buf),
            Err(e) => {
                tracing::warn!(error = %e, fragment = %id, "could not read a fragment");
                Response::Refused(Refusal::Io)
            }
        }
    }

    async fn delete(&self, peer: PeerId, id: FragmentId) -> Response {
        let removed = {
            let mut state = self.lock();
            match state.held.get(&id) {
                Some(h) if h.owner == peer => {
                    let len = h.len;
                    state.held.remove(&id);
                    state.used -= len;
                    Some("")
                }
                _ => match state.partial.get(&id) {
                    Some(p) if p.owner == peer && p.hasher.is_some() => {
                        let len = p.len;
                        state.partial.remove(&id);
                        state.used -= len;
                        Some(".part")
                    }
                    _ => None,
                },
            }
        };
        match removed {
            Some(suffix) => {
                tokio::fs::remove_file(self.path(id, suffix)).await.ok();
                tokio::fs::remove_file(self.path(id, ".meta")).await.ok();
                Response::Done
            }
            None => Response::Refused(Refusal::NotFound),
        }
    }

    fn path(&self, id: FragmentId, suffix: &str) -> PathBuf {
        let name = id.to_string();
        self.inner
            .dir
            .join(&name[..2])
            .join(format!("{name}{suffix}"))
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock leaves counts that are still
        // consistent (every update is a few plain assignments).
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

async fn create_private_dir(dir: &Path) -> Result<(), Error> {
    let mut builder = tokio::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    builder.mode(0o700);
    builder
        .create(dir)
        .await
        .map_err(Error::io("creating the fragment store"))
}

mod peer_text {
    use libp2p::PeerId;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(peer: &PeerId, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&peer.to_base58())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<PeerId, D::Error> {
        let text = String::deserialize(d)?;
        text.parse().map_err(D::Error::custom)
    }
}

mod hex32 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(bytes: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        let mut out = [0u8; 32];
        if text.len() != 64 {
            return Err(D::Error::custom("a hash is 64 hex digits"));
        }
        for (i, byte) in out.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16).map_err(D::Error::custom)?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> PeerId {
        libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id()
    }

    async fn put(store: &FragmentStore, owner: PeerId, id: FragmentId, data: &[u8]) -> Response {
        match store
            .handle(
                owner,
                Request::Reserve {
                    id,
                    len: data.len() as u64,
                },
            )
            .await
        {
            Response::Done => {}
            other => return other,
        }
        for (i, chunk) in data.chunks(1000).enumerate() {
            let r = store
                .handle(
                    owner,
                    Request::Write {
                        id,
                        offset: i as u64 * 1000,
                        data: chunk.to_vec(),
                    },
                )
                .await;
            assert_eq!(r, Response::Done);
        }
        store
            .handle(
                owner,
                Request::Seal {
                    id,
                    hash: *blake3::hash(data).as_bytes(),
                },
            )
            .await
    }

    #[tokio::test]
    async fn stores_serves_only_its_owner_and_survives_a_reopen() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FragmentStore::open(dir.path(), 10_000).await.expect("open");
        let (owner, stranger) = (peer(), peer());
        let id = FragmentId::random();
        let data: Vec<u8> = (0..2500u32).map(|i| i as u8).collect();
        assert_eq!(put(&store, owner, id, &data).await, Response::Done);
        let read = Request::Read {
            id,
            offset: 1000,
            len: 500,
        };
        assert_eq!(
            store.handle(owner, read.clone()).await,
            Response::Data(data[1000..1500].to_vec())
        );
        assert_eq!(
            store.handle(stranger, read.clone()).await,
            Response::Refused(Refusal::NotFound)
        );
        assert_eq!(
            store.handle(stranger, Request::Delete { id }).await,
            Response::Refused(Refusal::NotFound)
        );
        assert_eq!(
            store
                .handle(
                    owner,
                    Request::Read {
                        id,
                        offset: 2400,
                        len: 200
                    }
                )
                .await,
            Response::Refused(Refusal::BadRange)
        );
        assert_eq!(store.status().used, 2500);

        let reopened = FragmentStore::open(dir.path(), 10_000)
            .await
            .expect("reopen");
        assert_eq!(reopened.status().fragments, 1);
        assert_eq!(
            reopened.handle(owner, read).await,
            Response::Data(data[1000..1500].to_vec())
        );
        assert_eq!(
            reopened.handle(owner, Request::Delete { id }).await,
            Response::Done
        );
        assert_eq!(reopened.status().used, 0);
        assert_eq!(
            FragmentStore::open(dir.path(), 10_000)
                .await
                .expect("again")
                .status()
                .fragments,
            0
        );
    }

    #[tokio::test]
    async fn capacity_wrong_hashes_and_disorder_are_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = FragmentStore::open(dir.path(), 3000).await.expect("open");
        let owner = peer();
        assert_eq!(
            put(&store, owner, FragmentId::random(), &[1; 2000]).await,
            Response::Done
        );
        // Full: refused before anything is written, and nothing is counted.
        assert_eq!(
            store
                .handle(
                    owner,
                    Request::Reserve {
                        id: FragmentId::random(),
                        len: 1001
                    }
                )
                .await,
            Response::Refused(Refusal::Full)
        );
        assert_eq!(store.status().used, 2000);

        let id = FragmentId::random();
        assert_eq!(
            store.handle(owner, Request::Reserve { id, len: 10 }).await,
            Response::Done
        );
        assert_eq!(
            store
                .handle(
                    owner,
                    Request::Write {
                        id,
                        offset: 5,
                        data: vec![0; 5]
                    }
                )
                .await,
            Response::Refused(Refusal::BadRange)
        );
        assert_eq!(
            store
                .handle(
                    owner,
                    Request::Write {
                        id,
                        offset: 0,
                        data: vec![0; 10]
                    }
                )
                .await,
            Response::Done
        );
        assert_eq!(
            store
                .handle(owner, Request::Seal { id, hash: [0; 32] })
                .await,
            Response::Refused(Refusal::HashMismatch)
        );
        assert_eq!(store.status().used, 2000);
        assert_eq!(store.status().fragments, 1);
        assert_eq!(
            store
                .handle(
                    owner,
                    Request::Read {
                        id,
                        offset: 0,
                        len: 1
                    }
                )
                .await,
            Response::Refused(Refusal::NotFound)
        );
    }
}
