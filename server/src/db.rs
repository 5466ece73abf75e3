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

impl Db {
    /// Opens (creating if needed) the database at `path` in WAL mode and
    /// starts its thread. The thread ends, closing the connection cleanly,
    /// when the last handle is dropped.
    pub(crate) fn open(path: &Path) -> Result<Self, Error> {
        let mut conn = Connection::open(path)?;
        configure(&mut conn)?;
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
    // NORMAL is durable across application crashes in WAL mode; only a power
    // loss can roll back the last transactions, never corrupt the file.
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    Ok(())
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
    async fn sql_errors_come_back_as_errors() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = Db::open(&dir.path().join(FILE_NAME)).expect("open");
        let result = db.call(|conn| Ok(conn.execute("NOT SQL", [])?)).await;
        assert!(matches!(result, Err(Error::Database(_))), "{result:?}");
    }
}
