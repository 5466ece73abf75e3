//! Files and uploads, the rules that outlive a request: the stored file,
//! uploads and their finish (`uploads`), and which uploads are being
//! written, finished or cancelled right now, so those never overlap (the
//! HTTP handlers in `http::files` hold these guards).

pub(crate) mod uploads;

use rusqlite::{Connection, OptionalExtension};

use crate::{
    Error,
    accounts::{quota_of, used_bytes},
    db::{self, Db},
    replication::{Mesh, read::ByteStream},
    store::{BlobId, BlobStore as _, LocalDisk},
};

/// Smallest and largest upload part; 8 MiB unless the client asks otherwise.
pub(crate) const MIN_PART: u64 = 256 * 1024;
pub(crate) const MAX_PART: u64 = 16 * 1024 * 1024;
pub(crate) const DEFAULT_PART: u64 = 8 * 1024 * 1024;
/// Encrypted metadata (name, type, size, ...) may be at most this large.
pub(crate) const MAX_METADATA: usize = 8 * 1024;
/// A wrapped file key may be at most this large.
pub(crate) const MAX_WRAPPED_KEY: usize = 256;
/// An unfinished upload is dropped this long after it began (seconds).
pub(crate) const UPLOAD_LIFETIME: i64 = 24 * 60 * 60;
/// At most this many uploads in progress per account.
pub(crate) const MAX_OPEN_UPLOADS: i64 = 64;
/// At most this many files per account: the quota counts ciphertext bytes,
/// and this bounds what tiny files could add in rows and metadata.
pub(crate) const MAX_FILES: i64 = 100_000;

/// A stored file: public sizes and times, encrypted metadata, wrapped key.
#[derive(Debug)]
pub(crate) struct File {
    pub(crate) id: String,
    /// Ciphertext bytes.
    pub(crate) size: u64,
    /// SHA-256 of the ciphertext.
    pub(crate) sha256: Vec<u8>,
    pub(crate) metadata: Vec<u8>,
    pub(crate) wrapped_key: Vec<u8>,
    pub(crate) created_at: i64,
    pub(crate) updated_at: i64,
}

/// The columns [`read`] takes, in its order.
pub(crate) const COLUMNS: &str = "id, size, sha256, metadata, wrapped_key, created_at, updated_at";

/// The caller's file `id`.
pub(crate) fn load(conn: &Connection, id: &str, account: i64) -> Result<Option<File>, Error> {
    Ok(conn
        .query_row(
            &format!("SELECT {COLUMNS} FROM files WHERE id = ?1 AND account_id = ?2"),
            rusqlite::params![id, account],
            read,
        )
        .optional()?)
}

/// The columns of [`COLUMNS`] as a [`File`].
pub(crate) fn read(r: &rusqlite::Row<'_>) -> rusqlite::Result<File> {
    Ok(File {
        id: r.get(0)?,
        size: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
        sha256: r.get(2)?,
        metadata: r.get(3)?,
        wrapped_key: r.get(4)?,
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
    })
}

/// What is happening to each upload right now: parts being written, or an
/// exclusive operation (finish, cancel). A finish never runs while a part is
/// still streaming into the staging file (it would hash, or commit, bytes
/// still changing), and two finishes, or a finish and a cancel, never race.
/// In memory: after a restart nothing is in flight.
#[derive(Debug, Default)]
pub(crate) struct UploadLocks(std::sync::Mutex<std::collections::HashMap<String, Activity>>);

#[derive(Debug, Default)]
struct Activity {
    writers: usize,
    exclusive: bool,
}

fn busy() -> Error {
    Error::Conflict {
        code: "upload_busy",
        message:
            "This upload is being finished, cancelled or written right now; try again shortly."
                .into(),
    }
}

impl UploadLocks {
    fn table(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Activity>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a part writer; refused while a finish or cancel runs.
    pub(crate) fn writer(self: &std::sync::Arc<Self>, id: &BlobId) -> Result<UploadGuard, Error> {
        let mut table = self.table();
        let entry = table.entry(id.to_string()).or_default();
        if entry.exclusive {
            return Err(busy());
        }
        entry.writers += 1;
        Ok(UploadGuard {
            locks: self.clone(),
            id: id.to_string(),
            exclusive: false,
        })
    }

    /// Takes the upload for a finish or cancel; refused while anything else
    /// is in flight on it.
    pub(crate) fn exclusive(
        self: &std::sync::Arc<Self>,
        id: &BlobId,
    ) -> Result<UploadGuard, Error> {
        let mut table = self.table();
        let entry = table.entry(id.to_string()).or_default();
        if entry.exclusive || entry.writers > 0 {
            return Err(busy());
        }
        entry.exclusive = true;
        Ok(UploadGuard {
            locks: self.clone(),
            id: id.to_string(),
            exclusive: true,
        })
    }
}

/// Releases its hold on an upload when dropped (also when the request is
/// cancelled half-way).
#[derive(Debug)]
pub(crate) struct UploadGuard {
    locks: std::sync::Arc<UploadLocks>,
    id: String,
    exclusive: bool,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let mut table = self.locks.table();
        if let Some(entry) = table.get_mut(&self.id) {
            if self.exclusive {
                entry.exclusive = false;
            } else {
                entry.writers = entry.writers.saturating_sub(1);
            }
            if entry.writers == 0 && !entry.exclusive {
                table.remove(&self.id);
            }
        }
    }
}

/// The ciphertext of blob `id`, `len` bytes from `start`: read from the
/// local blob store, or rebuilt from the storage mesh when the local blob
/// was offloaded. `None` when neither has it (the file was deleted).
pub(crate) async fn content(
    blobs: &LocalDisk,
    mesh: Option<&Mesh>,
    id: &BlobId,
    start: u64,
    len: u64,
) -> Result<Option<ByteStream>, Error> {
    use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};
    match blobs.open(id).await {
        Ok(mut blob) => {
            if start > 0 {
                blob.seek(std::io::SeekFrom::Start(start))
                    .await
                    .map_err(|e| Error::io("read a blob in", "the data directory", e))?;
            }
            let stream = tokio_util::io::ReaderStream::with_capacity(blob.take(len), 256 * 1024);
            Ok(Some(Box::pin(stream)))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let Some(mesh) = mesh else { return Ok(None) };
            match mesh.manifest(id.to_string()).await? {
                Some(manifest) if !manifest.local => {
                    mesh.read(manifest, start, len).await.map(Some)
                }
                _ => Ok(None),
            }
        }
        Err(e) => Err(Error::io("open a blob in", "the data directory", e)),
    }
}

/// An account's files, newest first, with its storage use and quota.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) files: Vec<File>,
    /// Ciphertext bytes stored or reserved by uploads in progress.
    pub(crate) used: u64,
    pub(crate) quota: u64,
}

/// The account's files; `default_quota` unless it has its own.
pub(crate) async fn list(db: &Db, account: i64, default_quota: u64) -> Result<Listing, Error> {
    db.call(move |conn| {
        let files = conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM files WHERE account_id = ?1 ORDER BY created_at DESC, id"
            ))?
            .query_map([account], read)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Listing {
            files,
            used: used_bytes(conn, account)?,
            quota: quota_of(conn, account, default_quota)?,
        })
    })
    .await
}

/// The account's file `id`, if it has one.
pub(crate) async fn get(db: &Db, id: String, account: i64) -> Result<Option<File>, Error> {
    db.call(move |conn| load(conn, &id, account)).await
}

/// Replaces the encrypted metadata of the account's file `id` (a rename).
pub(crate) async fn set_metadata(
    db: &Db,
    id: String,
    account: i64,
    metadata: Vec<u8>,
) -> Result<File, Error> {
    db.call(move |conn| {
        let n = conn.execute(
            "UPDATE files SET metadata = ?3, updated_at = ?4 WHERE id = ?1 AND account_id = ?2",
            rusqlite::params![id, account, metadata, db::now()],
        )?;
        if n == 0 {
            return Err(Error::NotFound);
        }
        load(conn, &id, account)?.ok_or(Error::NotFound)
    })
    .await
}

/// Deletes the row of the account's file `id`; `false` if it had none. The
/// blob is the caller's to delete next: a crash in between leaves a blob
/// without a row, which the startup check moves aside.
pub(crate) async fn forget(db: &Db, id: String, account: i64) -> Result<bool, Error> {
    let gone = db
        .call(move |conn| {
            Ok(conn.execute(
                "DELETE FROM files WHERE id = ?1 AND account_id = ?2",
                rusqlite::params![id, account],
            )?)
        })
        .await?;
    Ok(gone > 0)
}
