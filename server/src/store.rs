//! Where ciphertext lives: the [`BlobStore`] trait and its local-disk
//! implementation.
//!
//! A blob is one file's ciphertext, named by the file's random id, so the
//! layout on disk says nothing about content, names or owners. An upload is
//! *staged* (written part by part at its offset, in any order) and then
//! *committed*: fsync, rename into place, fsync the directory. Only after the
//! commit does the database get its row, so a crash leaves at worst a blob
//! without a row, which the startup check removes.
//!
//! The trait is the seam for an object store later; the server holds the
//! local implementation directly, so its futures need not be boxed.

use std::{
    future::Future,
    io,
    path::{Path, PathBuf},
};

use axum::body::Bytes;
use futures_util::{FutureExt as _, Stream, StreamExt};
use sha2::{Digest, Sha256};

/// A blob or staged upload id: 32 lowercase hex digits (128 random bits).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct BlobId(String);

impl BlobId {
    /// A fresh random id.
    pub(crate) fn random() -> Self {
        let mut bytes = [0u8; 16];
        // The OS RNG failing is not something a server can carry on from.
        getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
        BlobId(crate::secret::to_hex(&bytes))
    }

    /// Accepts only the exact shape `random` makes, so an id taken from a
    /// URL can never name a path outside the store.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        (text.len() == 32
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
        .then(|| BlobId(text.to_owned()))
    }

    pub(crate) fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for BlobId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The most received bytes a part holds in memory while its last batch is
/// being written: the next batch goes as soon as that one is down, or waits
/// for it once it is this full. Batches size themselves to the writer's
/// pace below that (one chunk when the writer keeps up), and a part never
/// holds more than two batches (hyper's chunks are at most ~400 KiB).
const WRITE_BATCH: u64 = 1 << 20;

/// A blob's bytes as they are read, in order.
pub(crate) type Chunks = std::pin::Pin<Box<dyn Stream<Item = io::Result<Bytes>> + Send>>;

/// Bytes a download reads at once. One chunk is read while the one before
/// it is being sent, so a download holds at most two in memory, and reading
/// the file overlaps sending it.
const READ_CHUNK: u64 = 512 << 10;

/// A part as it landed on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Written {
    /// Bytes written.
    pub(crate) len: u64,
    /// SHA-256 of those bytes.
    pub(crate) sha256: [u8; 32],
}

/// Storage for ciphertext blobs.
pub(crate) trait BlobStore: Send + Sync {
    /// Prepares a staged upload of `size` bytes (idempotent).
    fn stage(&self, id: &BlobId, size: u64) -> impl Future<Output = io::Result<()>> + Send;

    /// Writes `body` into the staged upload at `offset`, hashing it on the
    /// way, and syncs it to disk before returning, so a part whose hash the
    /// caller then records survives a crash. A body longer than `max_len`
    /// stops at the first chunk past it with [`io::ErrorKind::InvalidData`];
    /// the caller checks a shorter one. `hold` is dropped once no write to
    /// the file can still happen, also when the returned future is dropped
    /// half-way (a writer guard, so a finish never sees bytes still landing).
    fn write_part<S, H>(
        &self,
        id: &BlobId,
        offset: u64,
        max_len: u64,
        body: S,
        hold: H,
    ) -> impl Future<Output = io::Result<Written>> + Send
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
        H: Send + Sync + 'static;

    /// Makes the staged upload a durable blob (fsync, rename, fsync dir).
    fn commit(&self, id: &BlobId) -> impl Future<Output = io::Result<()>> + Send;

    /// Forgets a staged upload (missing is fine).
    fn discard_staged(&self, id: &BlobId) -> impl Future<Output = io::Result<()>> + Send;

    /// Opens a committed blob for reading.
    fn open(&self, id: &BlobId) -> impl Future<Output = io::Result<tokio::fs::File>> + Send;

    /// A committed blob's bytes `start..start + len`, each chunk read on a
    /// blocking task while the one before it is on its way to the client.
    /// A blob shorter than that ends the stream with
    /// [`io::ErrorKind::UnexpectedEof`].
    fn read(
        &self,
        id: &BlobId,
        start: u64,
        len: u64,
    ) -> impl Future<Output = io::Result<Chunks>> + Send;

    /// Deletes a committed blob (missing is fine).
    fn delete(&self, id: &BlobId) -> impl Future<Output = io::Result<()>> + Send;

    /// SHA-256 of each `part_size` slice of a committed blob (the startup
    /// check's recovery of an upload committed just before a crash).
    fn hash_blob_parts(
        &self,
        id: &BlobId,
        part_size: u64,
    ) -> impl Future<Output = io::Result<Vec<[u8; 32]>>> + Send;

    /// Moves a committed blob that no row names out of the store, into a
    /// quarantine the operator can inspect, rather than deleting it.
    fn quarantine(&self, id: &BlobId) -> impl Future<Output = io::Result<()>> + Send;
    /// Deletes blobs moved to `orphans/` before `older_than` (the move
    /// sets their modification time); returns how many went.
    fn purge_orphans(
        &self,
        older_than: std::time::SystemTime,
    ) -> impl Future<Output = io::Result<usize>> + Send;

    /// Every committed blob and every staged upload, for the startup check.
    fn inventory(&self) -> impl Future<Output = io::Result<(Vec<BlobId>, Vec<BlobId>)>> + Send;
}

/// Blobs as files under `<data>/blobs/<ab>/<id>` and staged uploads under
/// `<data>/uploads/<id>.part`. The two-character fan-out keeps directories
/// small; both trees are created with mode 0700.
#[derive(Debug, Clone)]
pub(crate) struct LocalDisk {
    blobs: PathBuf,
    staging: PathBuf,
    quarantine: PathBuf,
}

impl LocalDisk {
    /// Opens (creating if needed) the store under `data_dir`.
    pub(crate) fn open(data_dir: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        let store = LocalDisk {
            blobs: data_dir.join("blobs"),
            staging: data_dir.join("uploads"),
            quarantine: data_dir.join("orphans"),
        };
        for dir in [&store.blobs, &store.staging, &store.quarantine] {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
        }
        Ok(store)
    }

    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.blobs.join(&id.as_str()[..2]).join(id.as_str())
    }

    fn staged_path(&self, id: &BlobId) -> PathBuf {
        self.staging.join(format!("{}.part", id.as_str()))
    }
}

/// One part's writes: the batch being received, and the one (at most)
/// being hashed and written on a blocking task, which hands the hash state
/// back so the next batch continues it in order.
struct PartWriter<H> {
    file: std::sync::Arc<std::fs::File>,
    /// Shared with every task, so the hold outlives the last write.
    hold: std::sync::Arc<H>,
    /// Where the part starts in the file.
    offset: u64,
    /// Bytes handed to a writer so far.
    written: u64,
    /// The hash state, when no task holds it.
    hash: Option<Sha256>,
    writing: Option<tokio::task::JoinHandle<io::Result<Sha256>>>,
    batch: Vec<Bytes>,
    batch_len: u64,
}

impl<H: Send + Sync + 'static> PartWriter<H> {
    /// Bytes received so far, written or not.
    fn received(&self) -> u64 {
        self.written + self.batch_len
    }

    /// Whether no write is running (or the one running is done), so a batch
    /// handed off now starts at once.
    fn idle(&self) -> bool {
        self.writing
            .as_ref()
            .is_none_or(tokio::task::JoinHandle::is_finished)
    }

    /// Waits for the batch being written, if any, taking its hash state back.
    async fn settle(&mut self) -> io::Result<()> {
        if let Some(task) = self.writing.take() {
            self.landed(task.await)?;
        }
        Ok(())
    }

    /// Takes back the hash state of the write that just ended.
    fn landed(
        &mut self,
        write: Result<io::Result<Sha256>, tokio::task::JoinError>,
    ) -> io::Result<()> {
        self.writing = None;
        self.hash = Some(write.map_err(io::Error::other)??);
        Ok(())
    }

    /// Starts writing the received batch (if there is one) once the one
    /// before it is down: one batch in flight, so the hash runs in order.
    async fn hand_off(&mut self) -> io::Result<()> {
        if self.batch.is_empty() {
            return Ok(());
        }
        self.settle().await?;
        let mut state = self.hash.take().unwrap_or_default();
        let (file, hold) = (self.file.clone(), self.hold.clone());
        let at = self.offset + self.written;
        let chunks = std::mem::take(&mut self.batch);
        self.writing = Some(tokio::task::spawn_blocking(move || {
            write_batch(&file, &mut state, &chunks, at)?;
            drop(hold);
            Ok(state)
        }));
        self.written += self.batch_len;
        self.batch_len = 0;
        Ok(())
    }

    /// Waits for the last write; the file, the bytes written and their hash.
    async fn finish(mut self) -> io::Result<(std::sync::Arc<std::fs::File>, u64, Sha256)> {
        self.settle().await?;
        Ok((self.file, self.written, self.hash.unwrap_or_default()))
    }
}

/// Hashes `chunks` into `hash` and writes them one after another from
/// `at`, each straight from its own buffer.
fn write_batch(
    file: &std::fs::File,
    hash: &mut Sha256,
    chunks: &[Bytes],
    at: u64,
) -> io::Result<()> {
    use std::os::unix::fs::FileExt;
    let mut at = at;
    for chunk in chunks {
        hash.update(chunk);
        file.write_all_at(chunk, at)?;
        at += chunk.len() as u64;
    }
    Ok(())
}

/// Reads the next `n` bytes at `file`'s cursor on a blocking task, into a
/// buffer of their own (no copy through a read buffer), handing the file
/// back for the next read.
fn read_chunk(
    file: std::fs::File,
    n: u64,
) -> tokio::task::JoinHandle<(std::fs::File, io::Result<Bytes>)> {
    tokio::task::spawn_blocking(move || {
        use std::io::Read;
        let mut buf = Vec::with_capacity(usize::try_from(n).unwrap_or(usize::MAX));
        let read = match (&file).take(n).read_to_end(&mut buf) {
            Ok(got) if got as u64 == n => Ok(Bytes::from(buf)),
            Ok(_) => Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "blob shorter than its slice",
            )),
            Err(e) => Err(e),
        };
        (file, read)
    })
}

/// `len` bytes from `file`'s cursor, the next chunk's read started as soon
/// as the last one is handed out.
fn read_ahead(file: std::fs::File, len: u64) -> Chunks {
    let first = (len > 0).then(|| read_chunk(file, len.min(READ_CHUNK)));
    Box::pin(futures_util::stream::unfold(
        (first, len),
        |(reading, left)| async move {
            let (file, read) = match reading?.await {
                Ok(done) => done,
                Err(e) => return Some((Err(io::Error::other(e)), (None, 0))),
            };
            let chunk = match read {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(e), (None, 0))),
            };
            let left = left - chunk.len() as u64;
            let next = (left > 0).then(|| read_chunk(file, left.min(READ_CHUNK)));
            Some((Ok(chunk), (next, left)))
        },
    ))
}

/// Sets a file's modification time to now (if it is there).
fn touch(path: &Path) -> io::Result<()> {
    match std::fs::File::options().write(true).open(path) {
        Ok(file) => file.set_modified(std::time::SystemTime::now()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn ignore_missing(result: io::Result<()>) -> io::Result<()> {
    match result {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        other => other,
    }
}

impl BlobStore for LocalDisk {
    async fn stage(&self, id: &BlobId, size: u64) -> io::Result<()> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .mode(0o600)
            .open(self.staged_path(id))
            .await?;
        // Sparse: reserves nothing on disk, but fixes the length so parts
        // can land at their offsets in any order.
        file.set_len(size).await
    }

    async fn write_part<S, H>(
        &self,
        id: &BlobId,
        offset: u64,
        max_len: u64,
        body: S,
        hold: H,
    ) -> io::Result<Written>
    where
        S: Stream<Item = io::Result<Bytes>> + Send,
        H: Send + Sync + 'static,
    {
        // The socket side only receives. Received chunks go in batches to a
        // blocking task that hashes them and writes them where they lie
        // (pwrite from the chunks themselves, no copy into a write buffer),
        // while the next batch arrives: parts in flight hash on every core,
        // and receiving never stops for a write until a batch is full. A
        // task holds a blocking thread only while it works, so a slow client
        // ties up none while it sends nothing.
        let path = self.staged_path(id);
        // Every task holds the upload too: a request dropped half-way lets
        // go only once its last write is down.
        let hold = std::sync::Arc::new(hold);
        let file = {
            let hold = hold.clone();
            tokio::task::spawn_blocking(move || {
                let _hold = hold;
                std::fs::OpenOptions::new().write(true).open(path)
            })
            .await
            .map_err(io::Error::other)??
        };
        let mut part = PartWriter {
            file: std::sync::Arc::new(file),
            hold: hold.clone(),
            offset,
            written: 0,
            hash: Some(Sha256::new()),
            writing: None,
            batch: Vec::new(),
            batch_len: 0,
        };
        let mut body = std::pin::pin!(body);
        let mut failed = None;
        loop {
            let next = match body.next().now_or_never() {
                Some(next) => next,
                // The socket has nothing ready: what arrived is written now,
                // or the moment the write before it is down, while waiting.
                None => loop {
                    let Some(running) = part.writing.as_mut().filter(|task| !task.is_finished())
                    else {
                        part.hand_off().await?;
                        break body.next().await;
                    };
                    tokio::select! {
                        landed = running => part.landed(landed)?,
                        next = body.next() => break next,
                    }
                },
            };
            match next {
                Some(Ok(chunk)) if part.received() + chunk.len() as u64 > max_len => {
                    failed = Some(io::Error::new(
                        io::ErrorKind::InvalidData,
                        "body longer than its part",
                    ));
                    break;
                }
                Some(Ok(chunk)) => {
                    part.batch_len += chunk.len() as u64;
                    part.batch.push(chunk);
                    // Batches size themselves: whatever arrived while the
                    // last one was being written goes as soon as it is down,
                    // and a full batch waits for it.
                    if part.batch_len >= WRITE_BATCH || part.idle() {
                        part.hand_off().await?;
                    }
                }
                Some(Err(e)) => {
                    failed = Some(e);
                    break;
                }
                None => break,
            }
        }
        // What arrived before a failure is written all the same.
        part.hand_off().await?;
        let (file, written, hash) = part.finish().await?;
        if let Some(e) = failed {
            return Err(e);
        }
        // Durable before the caller records the part's hash: a finish
        // trusts recorded hashes without reading the parts again.
        tokio::task::spawn_blocking(move || {
            let _hold = hold;
            file.sync_data()
        })
        .await
        .map_err(io::Error::other)??;
        Ok(Written {
            len: written,
            sha256: hash.finalize().into(),
        })
    }

    async fn commit(&self, id: &BlobId) -> io::Result<()> {
        let from = self.staged_path(id);
        let to = self.blob_path(id);
        tokio::task::spawn_blocking(move || {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::File::open(&from)?.sync_all()?;
            let dir = to
                .parent()
                .ok_or_else(|| io::Error::other("blob path has no parent"))?;
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)?;
            std::fs::rename(&from, &to)?;
            // The rename is durable only once the directory entry is, and a
            // fan-out directory made just now only once its parent's entry is.
            std::fs::File::open(dir)?.sync_all()?;
            match dir.parent() {
                Some(parent) => std::fs::File::open(parent)?.sync_all(),
                None => Ok(()),
            }
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn discard_staged(&self, id: &BlobId) -> io::Result<()> {
        ignore_missing(tokio::fs::remove_file(self.staged_path(id)).await)
    }

    async fn open(&self, id: &BlobId) -> io::Result<tokio::fs::File> {
        tokio::fs::File::open(self.blob_path(id)).await
    }

    async fn read(&self, id: &BlobId, start: u64, len: u64) -> io::Result<Chunks> {
        let path = self.blob_path(id);
        let file = tokio::task::spawn_blocking(move || {
            use std::io::Seek;
            let mut file = std::fs::File::open(path)?;
            file.seek(io::SeekFrom::Start(start))?;
            Ok::<_, io::Error>(file)
        })
        .await
        .map_err(io::Error::other)??;
        Ok(read_ahead(file, len))
    }

    async fn delete(&self, id: &BlobId) -> io::Result<()> {
        ignore_missing(tokio::fs::remove_file(self.blob_path(id)).await)
    }

    async fn hash_blob_parts(&self, id: &BlobId, part_size: u64) -> io::Result<Vec<[u8; 32]>> {
        let path = self.blob_path(id);
        let part_size = usize::try_from(part_size.max(1)).unwrap_or(usize::MAX);
        tokio::task::spawn_blocking(move || {
            use std::io::Read;
            let mut file = std::fs::File::open(path)?;
            let mut parts = Vec::new();
            let mut buf = vec![0u8; part_size.min(1 << 20)];
            loop {
                let mut part = Sha256::new();
                let mut seen = 0usize;
                while seen < part_size {
                    let want = (part_size - seen).min(buf.len());
                    let n = file.read(&mut buf[..want])?;
                    if n == 0 {
                        break;
                    }
                    part.update(&buf[..n]);
                    seen += n;
                }
                // An empty file is one empty part; otherwise a short read
                // ends the last part.
                if seen > 0 || parts.is_empty() {
                    parts.push(part.finalize().into());
                }
                if seen < part_size {
                    return Ok(parts);
                }
            }
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn purge_orphans(&self, older_than: std::time::SystemTime) -> io::Result<usize> {
        let orphans = self.quarantine.clone();
        tokio::task::spawn_blocking(move || {
            let mut removed = 0;
            for entry in std::fs::read_dir(&orphans)? {
                let entry = entry?;
                let meta = entry.metadata()?;
                if meta.is_file() && meta.modified()? < older_than {
                    ignore_missing(std::fs::remove_file(entry.path()))?;
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
        .map_err(io::Error::other)?
    }

    async fn quarantine(&self, id: &BlobId) -> io::Result<()> {
        let target = self.quarantine.join(id.as_str());
        ignore_missing(tokio::fs::rename(self.blob_path(id), &target).await)?;
        // The retention of `orphans/` counts from now, not from the upload.
        touch(&target)
    }

    async fn inventory(&self) -> io::Result<(Vec<BlobId>, Vec<BlobId>)> {
        let (blobs, staging, orphans) = (
            self.blobs.clone(),
            self.staging.clone(),
            self.quarantine.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut committed = Vec::new();
            let mut strays = Vec::new();
            for fan in std::fs::read_dir(&blobs)? {
                let fan = fan?;
                if !fan.file_type()?.is_dir() {
                    continue;
                }
                let fan_name = fan.file_name();
                for entry in std::fs::read_dir(fan.path())? {
                    let entry = entry?;
                    if let Some(id) = entry.file_name().to_str().and_then(BlobId::parse) {
                        if fan_name.to_str() != Some(&id.as_str()[..2]) {
                            strays.push((entry.path(), id));
                        } else {
                            committed.push(id);
                        }
                    }
                }
            }
            // A blob in another fan-out folder than its name's (copied in by
            // hand, say) goes where it belongs, once, instead of being
            // reported at every start; if its place is taken, to `orphans/`.
            for (path, id) in strays {
                let home = blobs.join(&id.as_str()[..2]);
                let target = home.join(id.as_str());
                if target.exists() {
                    let orphan = orphans.join(format!("{}.stray", id.as_str()));
                    std::fs::rename(&path, &orphan)?;
                    touch(&orphan)?;
                    tracing::warn!(blob = %id.as_str(), "a second copy of a blob in the wrong folder went to orphans/");
                } else {
                    std::fs::create_dir_all(&home)?;
                    std::fs::rename(&path, &target)?;
                    tracing::warn!(blob = %id.as_str(), "a blob in the wrong folder was moved where it belongs");
                    committed.push(id);
                }
            }
            let mut staged = Vec::new();
            for entry in std::fs::read_dir(&staging)? {
                let name = entry?.file_name();
                if let Some(id) = name
                    .to_str()
                    .and_then(|n| n.strip_suffix(".part"))
                    .and_then(BlobId::parse)
                {
                    staged.push(id);
                }
            }
            Ok((committed, staged))
        })
        .await
        .map_err(io::Error::other)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(parts: &[&'static [u8]]) -> impl Stream<Item = io::Result<Bytes>> + Send {
        futures_util::stream::iter(
            parts
                .iter()
                .map(|p| Ok(Bytes::from_static(p)))
                .collect::<Vec<_>>(),
        )
    }

    #[tokio::test]
    async fn parts_in_any_order_commit_to_the_same_bytes() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalDisk::open(dir.path()).expect("open");
        let id = BlobId::random();
        store.stage(&id, 10).await.expect("stage");
        let last = store
            .write_part(&id, 8, 2, stream(&[b"ij"]), ())
            .await
            .expect("last");
        assert_eq!(
            last,
            Written {
                len: 2,
                sha256: Sha256::digest(b"ij").into()
            }
        );
        store
            .write_part(&id, 0, 4, stream(&[b"abc", b"d"]), ())
            .await
            .expect("first");
        store
            .write_part(&id, 4, 4, stream(&[b"efgh"]), ())
            .await
            .expect("middle");
        store.commit(&id).await.expect("commit");
        let parts = store.hash_blob_parts(&id, 4).await.expect("hash");
        assert_eq!(parts.len(), 3);
        assert_eq!(parts[0], <[u8; 32]>::from(Sha256::digest(b"abcd")));
        assert_eq!(parts[2], <[u8; 32]>::from(Sha256::digest(b"ij")));
        let (blobs, staged) = store.inventory().await.expect("inventory");
        assert_eq!((blobs, staged.len()), (vec![id.clone()], 0));
        let mut bytes = Vec::new();
        tokio::io::AsyncReadExt::read_to_end(&mut store.open(&id).await.expect("open"), &mut bytes)
            .await
            .expect("read");
        assert_eq!(bytes, b"abcdefghij");
        store.delete(&id).await.expect("delete");
        store.delete(&id).await.expect("deleting twice is fine");
    }

    #[tokio::test]
    async fn a_body_past_its_part_stops_there() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalDisk::open(dir.path()).expect("open");
        let id = BlobId::random();
        store.stage(&id, 8).await.expect("stage");
        let outcome = store
            .write_part(&id, 0, 4, stream(&[b"abc", b"def", b"gh"]), ())
            .await;
        let e = outcome.expect_err("a six-byte body for a four-byte part");
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
        // Nothing past the first chunk within the limit was written.
        let staged = std::fs::read(store.staged_path(&id)).expect("read");
        assert_eq!(&staged, b"abc\0\0\0\0\0");
    }

    /// Reads a slice of a committed blob that spans several read chunks.
    #[tokio::test]
    async fn a_slice_reads_back_across_chunks_and_a_short_blob_says_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalDisk::open(dir.path()).expect("open");
        let id = BlobId::random();
        let chunk = usize::try_from(READ_CHUNK).expect("usize");
        let content: Vec<u8> = (0..3 * chunk + 77).map(|i| (i % 251) as u8).collect();
        let size = content.len() as u64;
        store.stage(&id, size).await.expect("stage");
        store
            .write_part(
                &id,
                0,
                size,
                futures_util::stream::iter([Ok(Bytes::from(content.clone()))]),
                (),
            )
            .await
            .expect("write");
        store.commit(&id).await.expect("commit");
        let read = |start: u64, len: u64| {
            let store = store.clone();
            let id = id.clone();
            async move {
                let chunks: Vec<io::Result<Bytes>> = store
                    .read(&id, start, len)
                    .await
                    .expect("open")
                    .collect()
                    .await;
                chunks
            }
        };
        let joined = |chunks: Vec<io::Result<Bytes>>| -> Vec<u8> {
            chunks
                .into_iter()
                .flat_map(|c| c.expect("chunk").to_vec())
                .collect()
        };
        assert_eq!(joined(read(0, size).await), content);
        let (start, len) = (READ_CHUNK - 5, READ_CHUNK + 10);
        assert_eq!(
            joined(read(start, len).await),
            content[chunk - 5..2 * chunk + 5]
        );
        assert!(read(7, 0).await.is_empty(), "an empty slice has no chunks");
        // A blob cut short under the server (disk trouble, a hand at work)
        // ends its stream with an error, never with fewer bytes as success.
        let past = read(size - 10, 20).await;
        let last = past.last().expect("a chunk");
        assert_eq!(
            last.as_ref().expect_err("short").kind(),
            io::ErrorKind::UnexpectedEof
        );
    }

    /// A request dropped half-way (the client went away) lets go of its
    /// hold only once the writes it had started are down, so a finish that
    /// the hold kept out never reads bytes still landing.
    #[tokio::test]
    async fn a_part_cut_off_half_way_holds_until_its_writes_are_down() {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = LocalDisk::open(dir.path()).expect("open");
        let id = BlobId::random();
        let batch = usize::try_from(WRITE_BATCH).expect("usize");
        store.stage(&id, 2 * WRITE_BATCH).await.expect("stage");
        let (hold, released) = tokio::sync::oneshot::channel::<()>();
        // The body gives one batch, then says when it is asked for more
        // (the batch has been handed to a writer by then) and never gives it.
        let (asked, asked_more) = tokio::sync::oneshot::channel::<()>();
        let mut asked = Some(asked);
        let body = futures_util::stream::iter([Ok(Bytes::from(vec![b'a'; batch]))]).chain(
            futures_util::stream::poll_fn(move |_| {
                if let Some(asked) = asked.take() {
                    let _ = asked.send(());
                }
                std::task::Poll::Pending
            }),
        );
        let part = tokio::spawn({
            let (store, id) = (store.clone(), id.clone());
            async move { store.write_part(&id, 0, 2 * WRITE_BATCH, body, hold).await }
        });
        asked_more.await.expect("the body was asked for more");
        // Dropped as hyper drops a handler whose client went away.
        part.abort();
        assert!(released.await.is_err(), "the hold was dropped, not sent");
        let staged = std::fs::read(store.staged_path(&id)).expect("read");
        assert!(staged[..batch].iter().all(|&b| b == b'a'));
        assert!(staged[batch..].iter().all(|&b| b == 0));
    }

    /// A runtime whose blocking pool has a single thread, so a test decides
    /// what runs on it and when.
    fn one_blocking_thread() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .max_blocking_threads(1)
            .enable_all()
            .build()
            .expect("runtime")
    }

    /// Bytes that arrive while the part's last batch is still being written
    /// go to disk as soon as it is down, though the client then sends
    /// nothing more: received bytes never wait in memory for later ones.
    #[test]
    fn what_arrives_during_a_write_lands_once_it_is_down() {
        let runtime = one_blocking_thread();
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = LocalDisk::open(dir.path()).expect("open");
            let id = BlobId::random();
            store.stage(&id, 8).await.expect("stage");
            // The pool's one thread waits on this gate from the moment the
            // body gives its first chunk, so that chunk's write cannot be
            // down when the second arrives.
            let (open_gate, gate) = std::sync::mpsc::channel::<()>();
            let mut gate = Some(gate);
            let (quiet, went_quiet) = tokio::sync::oneshot::channel::<()>();
            let mut quiet = Some(quiet);
            let (end, mut ended) = tokio::sync::oneshot::channel::<()>();
            let mut polls = 0;
            let body = futures_util::stream::poll_fn(move |cx| {
                polls += 1;
                match polls {
                    1 => {
                        if let Some(gate) = gate.take() {
                            drop(tokio::task::spawn_blocking(move || gate.recv()));
                        }
                        std::task::Poll::Ready(Some(Ok(Bytes::from_static(b"abcd"))))
                    }
                    2 => std::task::Poll::Ready(Some(Ok(Bytes::from_static(b"efgh")))),
                    _ => {
                        if let Some(quiet) = quiet.take() {
                            let _ = quiet.send(());
                        }
                        std::pin::Pin::new(&mut ended).poll(cx).map(|_| None)
                    }
                }
            });
            let part = tokio::spawn({
                let (store, id) = (store.clone(), id.clone());
                async move { store.write_part(&id, 0, 8, body, ()).await }
            });
            went_quiet.await.expect("the body was asked for more");
            open_gate.send(()).expect("the gate is waiting");
            let staged = store.staged_path(&id);
            tokio::time::timeout(std::time::Duration::from_secs(30), async {
                while std::fs::read(&staged).expect("read") != b"abcdefgh" {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("both chunks landed while the body was quiet");
            assert!(!part.is_finished(), "the part still waits for its client");
            end.send(()).expect("the part is running");
            let written = part.await.expect("join").expect("write");
            assert_eq!(written.len, 8);
            assert_eq!(
                written.sha256,
                <[u8; 32]>::from(Sha256::digest(b"abcdefgh"))
            );
        });
    }

    /// A part whose client sends nothing for a while holds no blocking
    /// thread meanwhile: with one in the pool, other blocking work still
    /// runs while the part waits for its next bytes.
    #[test]
    fn a_stalled_part_holds_no_blocking_thread() {
        let runtime = one_blocking_thread();
        runtime.block_on(async {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = LocalDisk::open(dir.path()).expect("open");
            let id = BlobId::random();
            store.stage(&id, 2 * WRITE_BATCH).await.expect("stage");
            let batch = usize::try_from(WRITE_BATCH).expect("usize");
            let (more, rest) = tokio::sync::oneshot::channel::<Bytes>();
            let body = futures_util::stream::iter([Ok(Bytes::from(vec![1u8; batch]))]).chain(
                futures_util::stream::once(async move {
                    rest.await.map_err(|_| io::Error::other("gone"))
                }),
            );
            let part = tokio::spawn({
                let store = store.clone();
                let id = id.clone();
                async move { store.write_part(&id, 0, 2 * WRITE_BATCH, body, ()).await }
            });
            // The part has its first batch and waits for more; other
            // blocking work must still get the pool's one thread.
            let other = tokio::time::timeout(
                std::time::Duration::from_secs(30),
                tokio::task::spawn_blocking(|| 7),
            )
            .await
            .expect("a blocking task ran while the part waited")
            .expect("join");
            assert_eq!(other, 7);
            more.send(Bytes::from(vec![2u8; batch])).expect("send");
            let written = part.await.expect("join").expect("write");
            assert_eq!(written.len, 2 * WRITE_BATCH);
        });
    }

    #[test]
    fn ids_from_urls_cannot_name_other_paths() {
        for bad in [
            "../../etc/passwd",
            "",
            "ABCDEF0123456789abcdef0123456789",
            "0123",
        ] {
            assert!(BlobId::parse(bad).is_none(), "{bad}");
        }
        let id = BlobId::random();
        assert_eq!(BlobId::parse(id.as_str()), Some(id));
    }
}
