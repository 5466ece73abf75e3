//! `nocturne backup --to DIR` and `nocturne restore --from DIR`: a copy of a
//! data directory that a server can run from, taken while the server runs.
//!
//! The backup is:
//! - `nocturne.db`: a consistent snapshot of the database (SQLite's
//!   `VACUUM INTO`, one read transaction, so concurrent writes neither block
//!   it nor tear it);
//! - `blobs/`: the ciphertext of every file the snapshot names, copied after
//!   the snapshot (committed blobs never change; a file deleted between the
//!   snapshot and its copy is dropped from the snapshot too, as if the
//!   backup had been taken a moment later);
//! - `secret`: the server's own secret (sessions, anti-enumeration salts).
//!
//! It holds what the server holds: ciphertext, wrapped keys, hashes, sealed
//! metadata; no password, key that decrypts, or plaintext. Files offloaded
//! to the storage mesh have no local blob: their manifests are in the
//! snapshot and their fragments stay on the nodes. Everything is written
//! 0600 in 0700 directories. Restore copies a backup into a data directory
//! that holds no database yet.

use std::{
    collections::HashSet,
    os::unix::fs::{DirBuilderExt, OpenOptionsExt},
    path::{Path, PathBuf},
};

use crate::Error;

const DB: &str = crate::db::FILE_NAME;
const SECRET: &str = "secret";
const BLOBS: &str = "blobs";

#[expect(clippy::print_stdout, reason = "the command's output")]
fn say(line: &str) {
    println!("{line}");
}

fn private_dir(path: &Path) -> Result<(), Error> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(path)
        .map_err(|e| Error::io("create", path, e))
}

/// Copies `from` to a new file `to` (0600), synced.
fn copy_private(from: &Path, to: &Path) -> Result<u64, Error> {
    let mut input = std::fs::File::open(from).map_err(|e| Error::io("read", from, e))?;
    let mut output = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(to)
        .map_err(|e| Error::io("write", to, e))?;
    let n = std::io::copy(&mut input, &mut output).map_err(|e| Error::io("copy to", to, e))?;
    output.sync_all().map_err(|e| Error::io("sync", to, e))?;
    Ok(n)
}

fn blob_path(root: &Path, id: &str) -> PathBuf {
    root.join(BLOBS).join(id.get(..2).unwrap_or("xx")).join(id)
}

/// `nocturne backup --to DIR`.
pub(crate) fn backup(data_dir: &Path, to: &Path) -> Result<(), Error> {
    let db_path = data_dir.join(DB);
    if !db_path.exists() {
        return Err(Error::Usage(format!(
            "no database in {} (give the server's --data-dir)",
            data_dir.display()
        )));
    }
    if to.exists()
        && std::fs::read_dir(to)
            .map_err(|e| Error::io("read", to, e))?
            .next()
            .is_some()
    {
        return Err(Error::Usage(format!(
            "{} is not empty: back up into a new directory",
            to.display()
        )));
    }
    private_dir(to)?;
    let snapshot = to.join(DB);
    {
        let conn = rusqlite::Connection::open_with_flags(
            &db_path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(std::time::Duration::from_secs(30))?;
        // Created 0600 first: SQLite keeps the mode of a file it reuses.
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&snapshot)
            .map_err(|e| Error::io("write", &snapshot, e))?;
        let target = snapshot
            .to_str()
            .ok_or_else(|| Error::Usage("the backup directory's path is not UTF-8".into()))?;
        conn.execute("VACUUM INTO ?1", [target])?;
    }
    let conn = rusqlite::Connection::open(&snapshot)?;
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM files")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let offloaded: HashSet<String> = crate::replication::offloaded(&conn)?;
    let (mut copied, mut bytes, mut gone) = (0usize, 0u64, Vec::new());
    for id in &ids {
        let from = blob_path(data_dir, id);
        if !from.exists() {
            if !offloaded.contains(id) {
                gone.push(id.clone());
            }
            continue;
        }
        let to_blob = blob_path(to, id);
        if let Some(parent) = to_blob.parent() {
            private_dir(parent)?;
        }
        bytes += copy_private(&from, &to_blob)?;
        copied += 1;
    }
    // Deleted since the snapshot (a delete removes the row, then the
    // blob): drop them from the snapshot as well.
    for id in &gone {
        conn.execute("DELETE FROM files WHERE id = ?1", [id])?;
    }
    drop(conn);
    let secret = data_dir.join(SECRET);
    if secret.exists() {
        copy_private(&secret, &to.join(SECRET))?;
    }
    say(&format!(
        "backed up {copied} files ({bytes} bytes of ciphertext){}{} to {}",
        if offloaded.is_empty() {
            String::new()
        } else {
            format!("; {} offloaded to the mesh stay there", offloaded.len())
        },
        if gone.is_empty() {
            String::new()
        } else {
            format!("; {} deleted meanwhile, left out", gone.len())
        },
        to.display()
    ));
    Ok(())
}

/// `nocturne restore --from DIR`.
pub(crate) fn restore(from: &Path, data_dir: &Path) -> Result<(), Error> {
    if !from.join(DB).exists() {
        return Err(Error::Usage(format!(
            "{} holds no backup (no {DB})",
            from.display()
        )));
    }
    if data_dir.join(DB).exists() {
        return Err(Error::Usage(format!(
            "{} already holds a database: restore into a new data directory",
            data_dir.display()
        )));
    }
    private_dir(data_dir)?;
    copy_private(&from.join(DB), &data_dir.join(DB))?;
    if from.join(SECRET).exists() {
        copy_private(&from.join(SECRET), &data_dir.join(SECRET))?;
    }
    let mut files = 0usize;
    let blobs = from.join(BLOBS);
    if blobs.exists() {
        for fan in std::fs::read_dir(&blobs).map_err(|e| Error::io("read", &blobs, e))? {
            let fan = fan.map_err(|e| Error::io("read", &blobs, e))?;
            if !fan.path().is_dir() {
                continue;
            }
            let target_fan = data_dir.join(BLOBS).join(fan.file_name());
            private_dir(&target_fan)?;
            for blob in
                std::fs::read_dir(fan.path()).map_err(|e| Error::io("read", fan.path(), e))?
            {
                let blob = blob.map_err(|e| Error::io("read", fan.path(), e))?;
                copy_private(&blob.path(), &target_fan.join(blob.file_name()))?;
                files += 1;
            }
        }
    }
    say(&format!(
        "restored {files} files into {}; start the server on it",
        data_dir.display()
    ));
    Ok(())
}
