//! The manifests in SQLite: which node holds which fragment of which file,
//! the hashes to check them by, and what the server knows of each node.

use std::collections::{HashMap, HashSet};

use mesh::{
    PeerId,
    storage::{
        FragmentId,
        erasure::{Coding, Layout},
    },
};
use rusqlite::{Connection, OptionalExtension, params};

use crate::{Error, db};

/// A fragment's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Health {
    /// Placed, sealed, and not known to be missing.
    Healthy,
    /// Failed an audit or a read, or its node was gone past the grace period.
    Lost,
    /// Its node is leaving and asked for it to be re-placed.
    Leaving,
}

impl Health {
    fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Lost => "lost",
            Health::Leaving => "leaving",
        }
    }

    fn parse(text: &str) -> Health {
        match text {
            "healthy" => Health::Healthy,
            "leaving" => Health::Leaving,
            _ => Health::Lost,
        }
    }
}

/// One fragment of a file.
#[derive(Debug, Clone)]
pub(crate) struct Fragment {
    pub(crate) idx: usize,
    pub(crate) id: FragmentId,
    pub(crate) peer: PeerId,
    /// BLAKE3 of the whole fragment (what the node checked at the seal).
    pub(crate) hash: [u8; 32],
    /// BLAKE3 of each of its shards, one per stripe: every read and audit
    /// is checked against these, so a node can never pass off other bytes.
    pub(crate) shard_hashes: Vec<[u8; 32]>,
    pub(crate) health: Health,
}

/// A file on the mesh.
#[derive(Debug, Clone)]
pub(crate) struct Manifest {
    pub(crate) file_id: String,
    pub(crate) layout: Layout,
    /// Whether the local blob is still kept.
    pub(crate) local: bool,
    pub(crate) fragments: Vec<Fragment>,
}

fn peer_of(text: &str) -> rusqlite::Result<PeerId> {
    text.parse().map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "peer".into(), rusqlite::types::Type::Text)
    })
}

fn fragment_id_of(bytes: &[u8]) -> rusqlite::Result<FragmentId> {
    <[u8; 16]>::try_from(bytes).map(FragmentId).map_err(|_| {
        rusqlite::Error::InvalidColumnType(0, "fragment_id".into(), rusqlite::types::Type::Blob)
    })
}

fn hashes_of(bytes: &[u8]) -> Vec<[u8; 32]> {
    bytes
        .chunks_exact(32)
        .filter_map(|c| <[u8; 32]>::try_from(c).ok())
        .collect()
}

/// The manifest of file `file_id`, if it is on the mesh.
pub(crate) fn load(conn: &Connection, file_id: &str) -> Result<Option<Manifest>, Error> {
    let head = conn
        .query_row(
            "SELECT data_shards, parity_shards, shard_size, size, local FROM mesh_files WHERE file_id = ?1",
            [file_id],
            |r| {
                Ok((
                    r.get::<_, u16>(0)?,
                    r.get::<_, u16>(1)?,
                    r.get::<_, u32>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, bool>(4)?,
                ))
            },
        )
        .optional()?;
    let Some((data, parity, shard_size, size, local)) = head else {
        return Ok(None);
    };
    let fragments = conn
        .prepare(
            "SELECT idx, fragment_id, peer, hash, shard_hashes, state FROM mesh_fragments
             WHERE file_id = ?1 ORDER BY idx",
        )?
        .query_map([file_id], |r| {
            Ok(Fragment {
                idx: r.get::<_, i64>(0)? as usize,
                id: fragment_id_of(&r.get::<_, Vec<u8>>(1)?)?,
                peer: peer_of(&r.get::<_, String>(2)?)?,
                hash: <[u8; 32]>::try_from(r.get::<_, Vec<u8>>(3)?.as_slice()).unwrap_or([0; 32]),
                shard_hashes: hashes_of(&r.get::<_, Vec<u8>>(4)?),
                health: Health::parse(&r.get::<_, String>(5)?),
            })
        })?
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Some(Manifest {
        file_id: file_id.to_owned(),
        layout: Layout {
            coding: Coding { data, parity },
            shard_size,
            size: u64::try_from(size).unwrap_or(0),
        },
        local,
        fragments,
    }))
}

/// Files not on the mesh yet (oldest first), with their sizes.
pub(crate) fn unplaced(conn: &Connection, limit: usize) -> Result<Vec<(String, u64)>, Error> {
    Ok(conn
        .prepare(
            "SELECT f.id, f.size FROM files f LEFT JOIN mesh_files m ON m.file_id = f.id
             WHERE m.file_id IS NULL ORDER BY f.created_at, f.id LIMIT ?1",
        )?
        .query_map([limit as i64], |r| {
            Ok((r.get(0)?, u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0)))
        })?
        .collect::<Result<_, _>>()?)
}

/// Records a placement, in one transaction. `false` if the file was
/// deleted meanwhile (then its fragments go straight to the trash).
pub(crate) fn insert(conn: &mut Connection, manifest: &Manifest) -> Result<bool, Error> {
    let tx = conn.transaction()?;
    let exists: bool = tx
        .query_row(
            "SELECT 1 FROM files WHERE id = ?1",
            [&manifest.file_id],
            |_| Ok(true),
        )
        .optional()?
        .unwrap_or(false);
    if !exists {
        for f in &manifest.fragments {
            tx.execute(
                "INSERT OR IGNORE INTO mesh_trash (peer, fragment_id) VALUES (?1, ?2)",
                params![f.peer.to_base58(), &f.id.0[..]],
            )?;
        }
        tx.commit()?;
        return Ok(false);
    }
    let l = manifest.layout;
    tx.execute(
        "INSERT INTO mesh_files (file_id, data_shards, parity_shards, shard_size, size, local, placed_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            manifest.file_id,
            l.coding.data,
            l.coding.parity,
            l.shard_size,
            l.size as i64,
            manifest.local,
            db::now()
        ],
    )?;
    for f in &manifest.fragments {
        tx.execute(
            "INSERT INTO mesh_fragments (file_id, idx, fragment_id, peer, hash, shard_hashes, state, audited_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'healthy', ?7)",
            params![
                manifest.file_id,
                f.idx as i64,
                &f.id.0[..],
                f.peer.to_base58(),
                &f.hash[..],
                f.shard_hashes.concat(),
                db::now()
            ],
        )?;
    }
    tx.commit()?;
    Ok(true)
}

/// Files whose local blob the server may drop: on the mesh, all fragments
/// healthy, blob still kept.
pub(crate) fn offloadable(conn: &Connection, limit: usize) -> Result<Vec<String>, Error> {
    Ok(conn
        .prepare(
            "SELECT m.file_id FROM mesh_files m WHERE m.local = 1 AND
             (SELECT COUNT(*) FROM mesh_fragments f WHERE f.file_id = m.file_id AND f.state = 'healthy')
               = m.data_shards + m.parity_shards
             LIMIT ?1",
        )?
        .query_map([limit as i64], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Records that the local blob of `file_id` is no longer kept (before it
/// is deleted, so a crash in between leaves an extra blob, never a file
/// whose reads look for a blob that is gone).
pub(crate) fn set_offloaded(conn: &Connection, file_id: &str) -> Result<(), Error> {
    conn.execute(
        "UPDATE mesh_files SET local = 0 WHERE file_id = ?1",
        [file_id],
    )?;
    Ok(())
}

/// Files whose blob was dropped (the startup check does not look for them).
pub(crate) fn offloaded(conn: &Connection) -> Result<HashSet<String>, Error> {
    Ok(conn
        .prepare("SELECT file_id FROM mesh_files WHERE local = 0")?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?)
}

/// Sets a fragment's health.
pub(crate) fn set_health(
    conn: &Connection,
    file_id: &str,
    idx: usize,
    health: Health,
) -> Result<(), Error> {
    conn.execute(
        "UPDATE mesh_fragments SET state = ?3 WHERE file_id = ?1 AND idx = ?2",
        params![file_id, idx as i64, health.as_str()],
    )?;
    Ok(())
}

/// Marks every healthy fragment on these peers lost (their nodes have been
/// gone past the grace period).
pub(crate) fn lose_peers(conn: &Connection, peers: &[PeerId]) -> Result<usize, Error> {
    let mut n = 0;
    for peer in peers {
        n += conn.execute(
            "UPDATE mesh_fragments SET state = 'lost' WHERE peer = ?1 AND state = 'healthy'",
            [peer.to_base58()],
        )?;
    }
    Ok(n)
}

/// A leaving node's fragments: marked leaving; ids the server does not know
/// (a file deleted while the node was away) go to the trash.
pub(crate) fn leaving(
    conn: &mut Connection,
    peer: PeerId,
    ids: &[FragmentId],
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    for id in ids {
        let n = tx.execute(
            "UPDATE mesh_fragments SET state = 'leaving' WHERE peer = ?1 AND fragment_id = ?2",
            params![peer.to_base58(), &id.0[..]],
        )?;
        if n == 0 {
            tx.execute(
                "INSERT OR IGNORE INTO mesh_trash (peer, fragment_id) VALUES (?1, ?2)",
                params![peer.to_base58(), &id.0[..]],
            )?;
        }
    }
    tx.commit()?;
    Ok(())
}

/// Files with a fragment that needs a new home: lost, leaving, or on a
/// node not connected while fewer than `threshold` fragments are on
/// connected nodes.
pub(crate) fn needing_repair(
    conn: &Connection,
    connected: &HashSet<PeerId>,
    threshold: usize,
    limit: usize,
) -> Result<Vec<String>, Error> {
    let mut out = Vec::new();
    let mut stmt =
        conn.prepare("SELECT file_id, peer, state FROM mesh_fragments ORDER BY file_id")?;
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
        ))
    })?;
    let mut current: Option<(String, usize, bool)> = None;
    let finish = |entry: Option<(String, usize, bool)>, out: &mut Vec<String>| {
        if let Some((file, live, flagged)) = entry
            && (flagged || live < threshold)
        {
            out.push(file);
        }
    };
    for row in rows {
        let (file, peer, state) = row?;
        if current.as_ref().is_none_or(|(f, _, _)| *f != file) {
            finish(current.take(), &mut out);
            current = Some((file.clone(), 0, false));
        }
        if let Some((_, live, flagged)) = current.as_mut() {
            let online = peer.parse::<PeerId>().is_ok_and(|p| connected.contains(&p));
            match Health::parse(&state) {
                Health::Healthy if online => *live += 1,
                Health::Healthy => {}
                Health::Lost | Health::Leaving => *flagged = true,
            }
        }
        if out.len() >= limit {
            break;
        }
    }
    finish(current.take(), &mut out);
    out.truncate(limit);
    Ok(out)
}

/// Moves fragment `idx` of `file_id` to a new node (same content, so the
/// same hashes). The old place goes to the trash (trigger).
pub(crate) fn moved(
    conn: &Connection,
    file_id: &str,
    idx: usize,
    id: FragmentId,
    peer: PeerId,
) -> Result<(), Error> {
    conn.execute(
        "UPDATE mesh_fragments SET fragment_id = ?3, peer = ?4, state = 'healthy', audited_at = ?5
         WHERE file_id = ?1 AND idx = ?2",
        params![file_id, idx as i64, &id.0[..], peer.to_base58(), db::now()],
    )?;
    Ok(())
}

/// Fragments to delete on their nodes.
pub(crate) fn trash(conn: &Connection, limit: usize) -> Result<Vec<(PeerId, FragmentId)>, Error> {
    Ok(conn
        .prepare("SELECT peer, fragment_id FROM mesh_trash LIMIT ?1")?
        .query_map([limit as i64], |r| {
            Ok((
                peer_of(&r.get::<_, String>(0)?)?,
                fragment_id_of(&r.get::<_, Vec<u8>>(1)?)?,
            ))
        })?
        .collect::<Result<_, _>>()?)
}

/// A node confirmed a deletion (or never had it).
pub(crate) fn emptied(conn: &Connection, peer: PeerId, id: FragmentId) -> Result<(), Error> {
    conn.execute(
        "DELETE FROM mesh_trash WHERE peer = ?1 AND fragment_id = ?2",
        params![peer.to_base58(), &id.0[..]],
    )?;
    Ok(())
}

/// One fragment due for an audit.
#[derive(Debug, Clone)]
pub(crate) struct AuditTarget {
    pub(crate) file_id: String,
    pub(crate) idx: usize,
    pub(crate) id: FragmentId,
    pub(crate) peer: PeerId,
    pub(crate) shard_size: u32,
    pub(crate) shard_hashes: Vec<[u8; 32]>,
}

/// Healthy fragments on connected nodes, least recently audited first.
pub(crate) fn audit_targets(conn: &Connection, limit: usize) -> Result<Vec<AuditTarget>, Error> {
    Ok(conn
        .prepare(
            "SELECT f.file_id, f.idx, f.fragment_id, f.peer, m.shard_size, f.shard_hashes
             FROM mesh_fragments f JOIN mesh_files m ON m.file_id = f.file_id
             WHERE f.state = 'healthy' ORDER BY f.audited_at, f.file_id, f.idx LIMIT ?1",
        )?
        .query_map([limit as i64], |r| {
            Ok(AuditTarget {
                file_id: r.get(0)?,
                idx: r.get::<_, i64>(1)? as usize,
                id: fragment_id_of(&r.get::<_, Vec<u8>>(2)?)?,
                peer: peer_of(&r.get::<_, String>(3)?)?,
                shard_size: r.get(4)?,
                shard_hashes: hashes_of(&r.get::<_, Vec<u8>>(5)?),
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// The verdict of one audit: counted on the node; a failure loses the fragment.
pub(crate) fn audited(conn: &Connection, target: &AuditTarget, passed: bool) -> Result<(), Error> {
    let column = if passed {
        "audits_passed"
    } else {
        "audits_failed"
    };
    conn.execute(
        &format!("UPDATE mesh_nodes SET {column} = {column} + 1 WHERE peer = ?1"),
        [target.peer.to_base58()],
    )?;
    let state = if passed { "healthy" } else { "lost" };
    conn.execute(
        "UPDATE mesh_fragments SET audited_at = ?4, state = CASE WHEN state = 'healthy' THEN ?3 ELSE state END
         WHERE file_id = ?1 AND idx = ?2 AND fragment_id = ?5",
        params![target.file_id, target.idx as i64, state, db::now(), &target.id.0[..]],
    )?;
    Ok(())
}

/// What the server knows of a node.
#[derive(Debug, Clone)]
pub(crate) struct NodeRow {
    pub(crate) peer: PeerId,
    pub(crate) last_seen: i64,
    pub(crate) capacity: u64,
    pub(crate) used: u64,
    pub(crate) fragments: u64,
    pub(crate) audits_passed: u64,
    pub(crate) audits_failed: u64,
}

/// Records that a node was seen (and its space, if it said).
pub(crate) fn seen(
    conn: &Connection,
    peer: PeerId,
    space: Option<(u64, u64)>,
) -> Result<(), Error> {
    let now = db::now();
    conn.execute(
        "INSERT INTO mesh_nodes (peer, first_seen, last_seen) VALUES (?1, ?2, ?2)
         ON CONFLICT (peer) DO UPDATE SET last_seen = ?2",
        params![peer.to_base58(), now],
    )?;
    if let Some((capacity, used)) = space {
        conn.execute(
            "UPDATE mesh_nodes SET capacity = ?2, used = ?3 WHERE peer = ?1",
            params![peer.to_base58(), capacity as i64, used as i64],
        )?;
    }
    Ok(())
}

/// Every node ever seen, most recently seen first, with the fragments of
/// ours it holds.
pub(crate) fn nodes(conn: &Connection) -> Result<Vec<NodeRow>, Error> {
    Ok(conn
        .prepare(
            "SELECT n.peer, n.last_seen, n.capacity, n.used, n.audits_passed, n.audits_failed,
                    (SELECT COUNT(*) FROM mesh_fragments f WHERE f.peer = n.peer AND f.state != 'lost')
             FROM mesh_nodes n ORDER BY n.last_seen DESC, n.peer LIMIT 1000",
        )?
        .query_map([], |r| {
            Ok(NodeRow {
                peer: peer_of(&r.get::<_, String>(0)?)?,
                last_seen: r.get(1)?,
                capacity: u64::try_from(r.get::<_, i64>(2)?).unwrap_or(0),
                used: u64::try_from(r.get::<_, i64>(3)?).unwrap_or(0),
                audits_passed: u64::try_from(r.get::<_, i64>(4)?).unwrap_or(0),
                audits_failed: u64::try_from(r.get::<_, i64>(5)?).unwrap_or(0),
                fragments: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
            })
        })?
        .collect::<Result<_, _>>()?)
}

/// Per file of `account` on the mesh: (healthy fragments, total, local blob kept).
pub(crate) fn health(
    conn: &Connection,
    account: i64,
    ids: &[String],
) -> Result<HashMap<String, (u32, u32, bool)>, Error> {
    // One indexed lookup per file of the page: a page is at most 1,000.
    let mut one = conn.prepare_cached(
        "SELECT m.data_shards + m.parity_shards, m.local,
                (SELECT COUNT(*) FROM mesh_fragments f WHERE f.file_id = m.file_id AND f.state = 'healthy')
         FROM mesh_files m JOIN files ON files.id = m.file_id
         WHERE m.file_id = ?1 AND files.account_id = ?2",
    )?;
    let mut out = HashMap::new();
    for id in ids {
        if let Some((total, local, healthy)) = one
            .query_row(rusqlite::params![id, account], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })
            .optional()?
        {
            out.insert(id.clone(), (healthy, total, local));
        }
    }
    Ok(out)
}

/// Counts for the administrator: (files, on the mesh, not yet placed, degraded).
pub(crate) fn totals(conn: &Connection) -> Result<(u64, u64, u64, u64), Error> {
    Ok(conn.query_row(
        "SELECT (SELECT COUNT(*) FROM files),
                (SELECT COUNT(*) FROM mesh_files),
                (SELECT COUNT(*) FROM files f LEFT JOIN mesh_files m ON m.file_id = f.id WHERE m.file_id IS NULL),
                (SELECT COUNT(*) FROM mesh_files m WHERE
                   (SELECT COUNT(*) FROM mesh_fragments f WHERE f.file_id = m.file_id AND f.state = 'healthy')
                   < m.data_shards + m.parity_shards)",
        [],
        |r| Ok((r.get::<_, i64>(0)? as u64, r.get::<_, i64>(1)? as u64, r.get::<_, i64>(2)? as u64, r.get::<_, i64>(3)? as u64)),
    )?)
}
