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
    match blobs.read(id, start, len).await {
        Ok(stream) => Ok(Some(stream)),
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

/// Files per page of the list unless the client asks for fewer, and the
/// most it may ask for: a page is built in memory, and 1,000 rows of the
/// largest metadata are 8 MiB of JSON.
pub(crate) const DEFAULT_PAGE: u32 = 500;
pub(crate) const MAX_PAGE: u32 = 1000;

/// Where a page of the list starts: after the file with this creation time
/// and id, in the list's order (newest first, then by id). Clients see it
/// as an opaque `<created_at>.<id>` string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Cursor {
    pub(crate) created_at: i64,
    pub(crate) id: String,
}

impl Cursor {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let (t, id) = s.split_once('.')?;
        let id = BlobId::parse(id)?;
        Some(Cursor {
            created_at: t.parse().ok()?,
            id: id.to_string(),
        })
    }
}

impl std::fmt::Display for Cursor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.created_at, self.id)
    }
}

/// One page of an account's files, newest first, with its storage use and
/// quota.
#[derive(Debug)]
pub(crate) struct Listing {
    pub(crate) files: Vec<File>,
    /// Where the next page starts; `None` on the last page.
    pub(crate) next: Option<Cursor>,
    /// How many files the account holds in all.
    pub(crate) total: u64,
    /// Ciphertext and metadata bytes stored or reserved by uploads in
    /// progress.
    pub(crate) used: u64,
    pub(crate) quota: u64,
}

/// A page of at most `limit` (capped at [`MAX_PAGE`]) of the account's
/// files after `after`; `default_quota` unless the account has its own.
pub(crate) async fn list(
    db: &Db,
    account: i64,
    after: Option<Cursor>,
    limit: u32,
    default_quota: u64,
) -> Result<Listing, Error> {
    let limit = limit.clamp(1, MAX_PAGE);
    db.call(move |conn| {
        // One more than asked says whether another page follows.
        let (t, id) = after.map_or((i64::MAX, String::new()), |c| (c.created_at, c.id));
        let mut files = conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM files WHERE account_id = ?1
                   AND (created_at < ?2 OR (created_at = ?2 AND id > ?3))
                 ORDER BY created_at DESC, id LIMIT ?4"
            ))?
            .query_map(
                rusqlite::params![account, t, id, i64::from(limit) + 1],
                read,
            )?
            .collect::<Result<Vec<_>, _>>()?;
        let next = (files.len() > limit as usize).then(|| {
            files.truncate(limit as usize);
            let last = files.last().expect("a full page has a last row");
            Cursor {
                created_at: last.created_at,
                id: last.id.clone(),
            }
        });
        let total: i64 = conn.query_row(
            "SELECT COUNT(*) FROM files WHERE account_id = ?1",
            [account],
            |r| r.get(0),
        )?;
        Ok(Listing {
            files,
            next,
            total: u64::try_from(total).unwrap_or(0),
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
/// Metadata counts in the quota, so metadata that grows must fit in it.
pub(crate) async fn set_metadata(
    db: &Db,
    id: String,
    account: i64,
    metadata: Vec<u8>,
    default_quota: u64,
) -> Result<File, Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let old = load(&tx, &id, account)?.ok_or(Error::NotFound)?;
        let grows = (metadata.len() as u64).saturating_sub(old.metadata.len() as u64);
        if grows > 0 {
            let quota = quota_of(&tx, account, default_quota)?;
            if used_bytes(&tx, account)?.saturating_add(grows) > quota {
                return Err(Error::TooLarge {
                    code: "quota_exceeded",
                    message: format!("The new metadata needs {grows} more bytes than the account's quota has left."),
                });
            }
        }
        tx.execute(
            "UPDATE files SET metadata = ?3, updated_at = ?4 WHERE id = ?1 AND account_id = ?2",
            rusqlite::params![id, account, metadata, db::now()],
        )?;
        let file = load(&tx, &id, account)?.ok_or(Error::NotFound)?;
        tx.commit()?;
        Ok(file)
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
