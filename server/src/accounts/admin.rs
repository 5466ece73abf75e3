//! What an administrator may do to accounts: list them with their usage,
//! set a quota, disable and enable. Nothing here touches a key: an
//! administrator manages storage, never reads it.

use crate::{Error, db, db::Db};

use super::{sessions::end_all, used_bytes};

/// Accounts per page unless asked otherwise, and the most per page.
pub(crate) const DEFAULT_PAGE: u32 = 100;
pub(crate) const MAX_PAGE: u32 = 500;

/// One account as an administrator sees it.
#[derive(Debug)]
pub(crate) struct Summary {
    pub(crate) username: String,
    pub(crate) is_admin: bool,
    pub(crate) created_at: i64,
    pub(crate) files: u64,
    pub(crate) used: u64,
    pub(crate) own_quota: Option<u64>,
    pub(crate) disabled: bool,
}

const SUMMARY: &str = "SELECT id, username, is_admin, created_at, quota, disabled_at IS NOT NULL,
        (SELECT COUNT(*) FROM files WHERE account_id = accounts.id) FROM accounts";

fn summary(conn: &rusqlite::Connection, r: &rusqlite::Row<'_>) -> Result<Summary, Error> {
    let id: i64 = r.get(0)?;
    Ok(Summary {
        username: r.get(1)?,
        is_admin: r.get(2)?,
        created_at: r.get(3)?,
        own_quota: r
            .get::<_, Option<i64>>(4)?
            .and_then(|q| u64::try_from(q).ok()),
        disabled: r.get(5)?,
        files: u64::try_from(r.get::<_, i64>(6)?).unwrap_or(0),
        used: used_bytes(conn, id)?,
    })
}

/// A page of at most `limit` accounts after the name `after`, by name; and
/// the name the next page starts after, if there is one.
pub(crate) async fn list(
    db: &Db,
    after: Option<String>,
    limit: u32,
) -> Result<(Vec<Summary>, Option<String>), Error> {
    let limit = limit.clamp(1, MAX_PAGE) as usize;
    db.call(move |conn| {
        let mut stmt = conn.prepare(&format!(
            "{SUMMARY} WHERE username > ?1 ORDER BY username LIMIT ?2"
        ))?;
        let mut rows = stmt.query(rusqlite::params![
            after.unwrap_or_default(),
            (limit + 1) as i64
        ])?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            out.push(summary(conn, r)?);
        }
        let next = (out.len() > limit).then(|| {
            out.truncate(limit);
            out.last().map(|s| s.username.clone()).unwrap_or_default()
        });
        Ok((out, next))
    })
    .await
}

/// What an administrator changes on an account.
#[derive(Debug, Default)]
pub(crate) struct Change {
    /// `Some(None)` returns it to the server's default.
    pub(crate) quota: Option<Option<u64>>,
    pub(crate) disabled: Option<bool>,
}

/// Applies `change` to account `name` on behalf of administrator `by`, and
/// returns the account as it is now, with the ids of its share links when
/// it was just disabled (their downloads in flight are the caller's to
/// stop). Disabling ends every session of the account in the same
/// transaction. An administrator cannot disable their own account (nobody
/// could enable it again if they were the last).
pub(crate) async fn update(
    db: &Db,
    by: i64,
    name: String,
    change: Change,
) -> Result<(Summary, Vec<String>), Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let id: i64 = tx
            .query_row(
                "SELECT id FROM accounts WHERE username = ?1",
                [&name],
                |r| r.get(0),
            )
            .map_err(|e| match e {
                rusqlite::Error::QueryReturnedNoRows => Error::NotFound,
                e => e.into(),
            })?;
        if let Some(quota) = change.quota {
            let quota = quota.map(|q| i64::try_from(q).unwrap_or(i64::MAX));
            tx.execute(
                "UPDATE accounts SET quota = ?2 WHERE id = ?1",
                rusqlite::params![id, quota],
            )?;
        }
        let mut links = Vec::new();
        match change.disabled {
            Some(true) if id == by => {
                return Err(Error::Conflict {
                    code: "own_account",
                    message: "An administrator cannot disable their own account.".into(),
                });
            }
            Some(true) => {
                tx.execute(
                    "UPDATE accounts SET disabled_at = COALESCE(disabled_at, ?2) WHERE id = ?1",
                    rusqlite::params![id, db::now()],
                )?;
                end_all(&tx, id)?;
                links = tx
                    .prepare("SELECT id FROM shares WHERE account_id = ?1")?
                    .query_map([id], |r| r.get::<_, String>(0))?
                    .collect::<Result<_, _>>()?;
            }
            Some(false) => {
                tx.execute("UPDATE accounts SET disabled_at = NULL WHERE id = ?1", [id])?;
            }
            None => {}
        }
        let summary = tx.query_row_and_then(&format!("{SUMMARY} WHERE id = ?1"), [id], |r| {
            summary(&tx, r)
        })?;
        tx.commit()?;
        Ok((summary, links))
    })
    .await
}
