//! SQLite, owned by one dedicated thread.
//!
//! rusqlite is synchronous; running it on the async executor would stall
//! every other request while a query waits on the disk. So one OS thread owns
//! the connection and executes jobs sent over a bounded channel; callers
//! `await` the answer. One writer thread also matches SQLite's own model (one
//! writer at a time); WAL mode keeps readers from blocking it. A read pool
//! can be added beside it if reads ever queue behind writes.

use std::{path::Path, thread};

use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::Error;

/// The database file's name inside the data directory.
pub(crate) const FILE_NAME: &str = "nocturne.db";

/// How many jobs may wait for the database thread before callers wait too.
const QUEUE_DEPTH: usize = 256;

type Job = Box<dyn FnOnce(&mut Connection) + Send>;

/// A cloneable handle to the database thread.
#[derive(Clone, Debug)]
pub(crate) struct Db {
    jobs: mpsc::Sender<Job>,
}

/// The database and its WAL and shared-memory files are the owner's only
/// (0600), like the secret: SQLite creates the `-wal` and `-shm` files with
/// the database file's mode, so the database is created 0600 before SQLite
/// opens it, and files an older version left 0644 are narrowed.
fn private_files(path: &Path) -> Result<(), Error> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(|e| Error::io("create the database file", path, e))?;
    for suffix in ["", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let file = std::path::PathBuf::from(name);
        if file.exists() {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| Error::io("narrow the permissions of", &file, e))?;
        }
    }
    Ok(())
}

impl Db {
    /// Opens (creating if needed) the database at `path` in WAL mode and
    /// starts its thread. The thread ends, closing the connection cleanly,
    /// when the last handle is dropped.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        private_files(path)?;
        let mut conn = Connection::open(path)?;
        configure(&mut conn)?;
        migrate(&mut conn)?;
        let (jobs, mut queue) = mpsc::channel::<Job>(QUEUE_DEPTH);
        thread::Builder::new()
            .name("nocturne-db".into())
            .spawn(move || {
                while let Some(job) = queue.blocking_recv() {
                    job(&mut conn);
                }
            })
            .map_err(|e| Error::io("start the database thread for", path, e))?;
        Ok(Db { jobs })
    }

    /// Answers once the database does (a trivial query on its thread).
    pub(crate) async fn ping(&self) -> Result<(), Error> {
        self.call(|conn| Ok(conn.query_row("SELECT 1", [], |row| row.get::<_, i64>(0))?))
            .await
            .map(drop)
    }

    /// Runs `f` on the database thread and returns its result.
    pub(crate) async fn call<T, F>(&self, f: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> Result<T, Error> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            // The caller may have gone away (request cancelled); nothing to do then.
            let _ = reply.send(f(conn));
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| Error::DatabaseUnavailable)?;
        answer.await.map_err(|_| Error::DatabaseUnavailable)?
    }
}

/// Connection settings every Nocturne database runs with.
fn configure(conn: &mut Connection) -> Result<(), Error> {
    // WAL: readers never block the writer, and a crash loses at most the
    // transactions not yet checkpointed-or-synced, never consistency.
    let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(Error::Config(format!(
            "the database could not switch to WAL mode (it reports `{mode}`); \
             is the data directory on a network file system?"
        )));
    }
    // FULL: a transaction that returned is on disk, also across a power loss
    // (NORMAL may roll back the last ones then, and a file row whose upload
    // the client saw succeed must not vanish). One fsync per commit; the
    // writes here are small and few.
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
}

/// The schema, one step per version. `PRAGMA user_version` records how many
/// steps a database has taken; each step runs in its own transaction, so a
/// crash leaves the database at one version or the next, never between.
/// Steps are append-only: an existing step is never edited.
const MIGRATIONS: &[&str] = &[
    // 1: accounts, sessions, invites, files and uploads.
    "CREATE TABLE accounts (
        id INTEGER PRIMARY KEY,
        username TEXT NOT NULL UNIQUE,
        is_admin INTEGER NOT NULL DEFAULT 0,
        salt BLOB NOT NULL,
        argon2_m_kib INTEGER NOT NULL,
        argon2_t INTEGER NOT NULL,
        argon2_p INTEGER NOT NULL,
        auth_hash BLOB NOT NULL,
        master_by_password BLOB NOT NULL,
        master_by_recovery BLOB NOT NULL,
        recovery_hash BLOB NOT NULL,
        quota INTEGER,
        created_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE sessions (
        token_hash BLOB PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        last_seen INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX sessions_by_account ON sessions(account_id);
    CREATE TABLE invites (
        code_hash BLOB PRIMARY KEY,
        created_by INTEGER REFERENCES accounts(id) ON DELETE SET NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE files (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        size INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        metadata BLOB NOT NULL,
        wrapped_key BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX files_by_account ON files(account_id);
    CREATE TABLE uploads (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        size INTEGER NOT NULL,
        part_size INTEGER NOT NULL,
        metadata BLOB NOT NULL,
        wrapped_key BLOB NOT NULL,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX uploads_by_account ON uploads(account_id);
    CREATE TABLE upload_parts (
        upload_id TEXT NOT NULL REFERENCES uploads(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        sha256 BLOB NOT NULL,
        PRIMARY KEY (upload_id, idx)
    ) STRICT;",
    // 2: share links, the files each shares, and download claims.
    "CREATE TABLE shares (
        id TEXT PRIMARY KEY,
        account_id INTEGER NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
        seed BLOB NOT NULL,
        salt BLOB NOT NULL,
        argon2_m_kib INTEGER,
        argon2_t INTEGER,
        argon2_p INTEGER,
        token_hash BLOB NOT NULL,
        mode TEXT NOT NULL,
        expires_at INTEGER,
        max_downloads INTEGER,
        downloads INTEGER NOT NULL DEFAULT 0,
        failures INTEGER NOT NULL DEFAULT 0,
        next_attempt_at INTEGER NOT NULL DEFAULT 0,
        locked INTEGER NOT NULL DEFAULT 0,
        revoked_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    ) STRICT;
    CREATE INDEX shares_by_account ON shares(account_id);
    CREATE TABLE share_files (
        share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
        wrapped_key BLOB NOT NULL,
        PRIMARY KEY (share_id, idx)
    ) STRICT;
    CREATE INDEX share_files_by_file ON share_files(file_id);
    CREATE TABLE share_claims (
        claim_hash BLOB PRIMARY KEY,
        share_id TEXT NOT NULL REFERENCES shares(id) ON DELETE CASCADE,
        created_at INTEGER NOT NULL,
        expires_at INTEGER NOT NULL,
        served INTEGER NOT NULL,
        done BLOB NOT NULL,
        completed INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE INDEX share_claims_by_share ON share_claims(share_id);",
    // 3: the storage mesh. A file's manifest (coding, stripe shape, and per
    // fragment its node, hashes and state) sits beside its row and goes with
    // it (cascade); every fragment row that goes, or moves to another node,
    // leaves its old place in `mesh_trash` for the node to be told.
    "CREATE TABLE mesh_files (
        file_id TEXT PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
        data_shards INTEGER NOT NULL,
        parity_shards INTEGER NOT NULL,
        shard_size INTEGER NOT NULL,
        size INTEGER NOT NULL,
        local INTEGER NOT NULL,
        placed_at INTEGER NOT NULL
    ) STRICT;
    CREATE TABLE mesh_fragments (
        file_id TEXT NOT NULL REFERENCES mesh_files(file_id) ON DELETE CASCADE,
        idx INTEGER NOT NULL,
        fragment_id BLOB NOT NULL,
        peer TEXT NOT NULL,
        hash BLOB NOT NULL,
        shard_hashes BLOB NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('healthy', 'lost', 'leaving')),
        audited_at INTEGER NOT NULL DEFAULT 0,
        PRIMARY KEY (file_id, idx)
    ) STRICT;
    CREATE INDEX mesh_fragments_by_peer ON mesh_fragments(peer);
    CREATE TABLE mesh_nodes (
        peer TEXT PRIMARY KEY,
        first_seen INTEGER NOT NULL,
        last_seen INTEGER NOT NULL,
        capacity INTEGER NOT NULL DEFAULT 0,
        used INTEGER NOT NULL DEFAULT 0,
        audits_passed INTEGER NOT NULL DEFAULT 0,
        audits_failed INTEGER NOT NULL DEFAULT 0
    ) STRICT;
    CREATE TABLE mesh_trash (
        peer TEXT NOT NULL,
        fragment_id BLOB NOT NULL,
        PRIMARY KEY (peer, fragment_id)
    ) STRICT;
    CREATE TRIGGER mesh_fragment_gone AFTER DELETE ON mesh_fragments BEGIN
        INSERT OR IGNORE INTO mesh_trash (peer, fragment_id) VALUES (OLD.peer, OLD.fragment_id);
    END;
    CREATE TRIGGER mesh_fragment_moved AFTER UPDATE OF fragment_id ON mesh_fragments
    WHEN OLD.fragment_id != NEW.fragment_id BEGIN
        INSERT OR IGNORE INTO mesh_trash (peer, fragment_id) VALUES (OLD.peer, OLD.fragment_id);
    END;",
    // 4: what a claim fetched again after sending a file whole (a bit per
    // position, like `done`): once per file, so a spent one-time link
    // cannot be read again and again through its re-fetch allowance.
    "ALTER TABLE share_claims ADD COLUMN refetched BLOB NOT NULL DEFAULT x'';",
    // 5: the file list a page at a time (newest first, by id within a
    // second), and accounts an administrator disabled.
    "CREATE INDEX files_by_account_created ON files(account_id, created_at DESC, id);
    ALTER TABLE accounts ADD COLUMN disabled_at INTEGER;",
    // 6: a share link's proof (from its fragment secret alone, so a wrong
    // one is not counted towards the lock) and its sealed file list. NULL
    // for links made before.
    "ALTER TABLE shares ADD COLUMN proof_hash BLOB;
    ALTER TABLE shares ADD COLUMN file_list BLOB;",
];

/// Brings the schema up to date. A database from a newer Nocturne is
/// refused rather than guessed at.
fn migrate(conn: &mut Connection) -> Result<(), Error> {
    let version: i64 = conn.query_row("PRAGMA user_version", [], |row| row.get(0))?;
    let version = usize::try_from(version).unwrap_or(usize::MAX);
    if version > MIGRATIONS.len() {
        return Err(Error::Config(format!(
            "the database has schema version {version}, newer than this release knows \
             ({}); run a newer nocturne",
            MIGRATIONS.len()
        )));
    }
    for (step, sql) in MIGRATIONS.iter().enumerate().skip(version) {
        let tx = conn.transaction()?;
        tx.execute_batch(sql)?;
        tx.pragma_update(
            None,
            "user_version",
            i64::try_from(step + 1).unwrap_or(i64::MAX),
        )?;
        tx.commit()?;
        tracing::info!(version = step + 1, "database schema migrated");
    }
    Ok(())
}

/// Seconds since the Unix epoch: the one clock the database uses.
pub(crate) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_in_wal_mode_and_runs_queries_off_the_executor() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join(FILE_NAME)).expect("open");
        let (mode, thread_name) = db
            .call(|conn| {
                let mode: String = conn.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
                Ok((mode, thread::current().name().map(String::from)))
            })
            .await
            .expect("query");
        assert_eq!(mode, "wal");
        assert_eq!(thread_name.as_deref(), Some("nocturne-db"));
    }

    #[tokio::test]
    async fn migrations_run_once_and_a_newer_schema_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join(FILE_NAME);
        drop(Db::open(&path).expect("first open migrates"));
        drop(Db::open(&path).expect("second open finds nothing to do"));
        let conn = Connection::open(&path).expect("open");
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .expect("version");
        assert_eq!(version, MIGRATIONS.len() as i64);
        conn.pragma_update(None, "user_version", MIGRATIONS.len() as i64 + 1)
            .expect("bump");
        drop(conn);
        let err = Db::open(&path).expect_err("newer schema");
        assert!(err.to_string().contains("newer"), "{err}");
    }

    #[tokio::test]
    async fn sql_errors_come_back_as_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join(FILE_NAME)).expect("open");
        let result = db.call(|conn| Ok(conn.execute("NOT SQL", [])?)).await;
        assert!(matches!(result, Err(Error::Database(_))), "{result:?}");
    }
}
