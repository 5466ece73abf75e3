//! Accounts: the rules that hold whatever front end a person or program
//! comes through. For now the lifetime of sessions and what an account
//! stores against its quota.

pub(crate) mod admin;
pub(crate) mod invites;
pub(crate) mod sessions;

use rusqlite::OptionalExtension;

use crate::{Error, config::Registration, db, db::Db};

use sessions::end_all;

/// Bytes an account holds or has reserved for uploads in progress:
/// ciphertext and sealed metadata alike, so that many tiny files with
/// large metadata count for what they take.
pub(crate) fn used_bytes(conn: &rusqlite::Connection, account_id: i64) -> Result<u64, Error> {
    let used: i64 = conn.query_row(
        "SELECT (SELECT COALESCE(SUM(size + length(metadata)), 0) FROM files WHERE account_id = ?1)
              + (SELECT COALESCE(SUM(size + length(metadata)), 0) FROM uploads WHERE account_id = ?1)",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(u64::try_from(used).unwrap_or(0))
}

/// An account's quota: its own, or the server's default.
pub(crate) fn quota_of(
    conn: &rusqlite::Connection,
    account_id: i64,
    default: u64,
) -> Result<u64, Error> {
    let own: Option<i64> = conn.query_row(
        "SELECT quota FROM accounts WHERE id = ?1",
        [account_id],
        |r| r.get(0),
    )?;
    Ok(own.and_then(|q| u64::try_from(q).ok()).unwrap_or(default))
}

pub(crate) use api::accounts::Argon2;

/// What the server holds Argon2id parameters to.
pub(crate) trait Argon2Rules: Sized {
    /// The defaults (RFC 9106's second recommendation: t=3, 64 MiB, p=4).
    fn default_params() -> Self;
    /// Refuses parameters too weak to protect a password (below 19 MiB or
    /// t=1 at that memory, OWASP's floor) or too heavy for a browser.
    fn check(self) -> Result<Self, Error>;
}

impl Argon2Rules for Argon2 {
    /// The defaults (RFC 9106's second recommendation: t=3, 64 MiB, p=4).
    fn default_params() -> Self {
        let d = noctis::keys::DEFAULT_ARGON2;
        Argon2 {
            m_kib: d.m_kib,
            t: d.t,
            p: d.p,
        }
    }

    /// Refuses parameters too weak to protect a password (below 19 MiB or
    /// t=1 at that memory, OWASP's floor) or too heavy for a browser.
    fn check(self) -> Result<Self, Error> {
        let max = noctis::keys::MAX_ARGON2;
        let ok = (19 * 1024..=max.m_kib).contains(&self.m_kib)
            && (1..=max.t).contains(&self.t)
            && (1..=max.p).contains(&self.p)
            && (self.t >= 2 || self.m_kib >= 46 * 1024);
        if ok {
            Ok(self)
        } else {
            Err(Error::invalid(
                "weak_argon2",
                format!(
                    "Argon2id parameters must be between 19 MiB and {} MiB of memory, \
                     1 to {} passes (2 or more below 46 MiB) and 1 to {} lanes",
                    max.m_kib / 1024,
                    max.t,
                    max.p
                ),
            ))
        }
    }
}

/// A new account as the front end checked it: bounded sizes, hashes of the
/// auth key and the recovery token (never the values), wrapped keys.
#[derive(Debug)]
pub(crate) struct NewAccount {
    pub(crate) username: String,
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Argon2,
    pub(crate) auth_hash: [u8; 32],
    pub(crate) master_by_password: Vec<u8>,
    pub(crate) master_by_recovery: Vec<u8>,
    pub(crate) recovery_hash: [u8; 32],
    /// The hash of the invite code presented, if any.
    pub(crate) invite: Option<[u8; 32]>,
}

/// Creates an account under `policy`; returns whether it is the first one
/// (which becomes the administrator and needs no invite). An invite is
/// used up in the same transaction that creates the account.
pub(crate) async fn register(
    db: &Db,
    account: NewAccount,
    policy: Registration,
) -> Result<bool, Error> {
    let NewAccount {
        username: name,
        salt,
        argon2,
        auth_hash,
        master_by_password: by_password,
        master_by_recovery: by_recovery,
        recovery_hash,
        invite,
    } = account;
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let now = db::now();
        let first = tx.query_row("SELECT COUNT(*) FROM accounts", [], |r| r.get::<_, i64>(0))? == 0;
        if !first {
            match policy {
                Registration::Open => {}
                Registration::Closed => {
                    return Err(Error::Forbidden {
                        code: "registration_closed",
                        message: "This server does not take new accounts.",
                    });
                }
                Registration::Invite => {
                    let used = match invite {
                        Some(hash) => tx.execute(
                            "DELETE FROM invites WHERE code_hash = ?1 AND expires_at > ?2",
                            rusqlite::params![&hash[..], now],
                        )?,
                        None => 0,
                    };
                    if used == 0 {
                        return Err(Error::Forbidden {
                            code: "invite_required",
                            message: "A valid invite code from an administrator is needed.",
                        });
                    }
                }
            }
        }
        let taken = tx
            .query_row(
                "SELECT 1 FROM accounts WHERE username = ?1",
                [&name],
                |_| Ok(()),
            )
            .optional()?
            .is_some();
        if taken {
            return Err(Error::Conflict {
                code: "username_taken",
                message: "That username is taken.".into(),
            });
        }
        tx.execute(
            "INSERT INTO accounts (username, is_admin, salt, argon2_m_kib, argon2_t, argon2_p,
                    auth_hash, master_by_password, master_by_recovery, recovery_hash, created_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
            rusqlite::params![
                name,
                first,
                salt,
                argon2.m_kib,
                argon2.t,
                argon2.p,
                &auth_hash[..],
                by_password,
                by_recovery,
                &recovery_hash[..],
                now
            ],
        )?;
        tx.commit()?;
        Ok(first)
    })
    .await
}

/// An account's Argon2id salt and cost, if the name is taken.
pub(crate) async fn key_params(db: &Db, name: String) -> Result<Option<(Vec<u8>, Argon2)>, Error> {
    db.call(move |conn| {
        Ok(conn
            .query_row(
                "SELECT salt, argon2_m_kib, argon2_t, argon2_p FROM accounts WHERE username = ?1",
                [&name],
                |r| {
                    Ok((
                        r.get(0)?,
                        Argon2 {
                            m_kib: r.get(1)?,
                            t: r.get(2)?,
                            p: r.get(3)?,
                        },
                    ))
                },
            )
            .optional()?)
    })
    .await
}

/// Who logged in: the account and its master key wrapped under the
/// password's key-encryption key.
#[derive(Debug)]
pub(crate) struct Login {
    pub(crate) id: i64,
    pub(crate) is_admin: bool,
    pub(crate) master_by_password: Vec<u8>,
}

/// The refusal a disabled account gets once its credentials are right.
pub(crate) fn disabled() -> Error {
    Error::Forbidden {
        code: "account_disabled",
        message: "This account was disabled by the server's administrator.",
    }
}

/// Checks the hash of the presented auth key against account `name`'s. A
/// wrong key and an unknown name are the same `BadCredentials`.
pub(crate) async fn log_in(db: &Db, name: String, presented: [u8; 32]) -> Result<Login, Error> {
    let row = db
        .call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id, is_admin, auth_hash, master_by_password, disabled_at IS NOT NULL
                     FROM accounts WHERE username = ?1",
                    [&name],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, bool>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                            r.get::<_, Vec<u8>>(3)?,
                            r.get::<_, bool>(4)?,
                        ))
                    },
                )
                .optional()?)
        })
        .await?;
    match row {
        // Only someone who knows the password learns the account is
        // disabled; anyone else gets the usual 401.
        Some((_, _, stored, _, true)) if crate::secret::same(&stored, &presented) => {
            Err(disabled())
        }
        Some((id, is_admin, stored, master_by_password, false))
            if crate::secret::same(&stored, &presented) =>
        {
            Ok(Login {
                id,
                is_admin,
                master_by_password,
            })
        }
        _ => {
            tracing::info!("login refused: wrong credentials");
            Err(Error::BadCredentials)
        }
    }
}

/// Checks the hash of a recovery token against account `name`'s; the
/// account and its master key wrapped under the recovery key.
pub(crate) async fn check_recovery(
    db: &Db,
    name: String,
    presented: [u8; 32],
) -> Result<(i64, Vec<u8>), Error> {
    let row = db
        .call(move |conn| {
            Ok(conn
                .query_row(
                    "SELECT id, recovery_hash, master_by_recovery, disabled_at IS NOT NULL
                     FROM accounts WHERE username = ?1",
                    [&name],
                    |r| {
                        Ok((
                            r.get::<_, i64>(0)?,
                            r.get::<_, Vec<u8>>(1)?,
                            r.get::<_, Vec<u8>>(2)?,
                            r.get::<_, bool>(3)?,
                        ))
                    },
                )
                .optional()?)
        })
        .await?;
    match row {
        Some((_, stored, _, true)) if crate::secret::same(&stored, &presented) => Err(disabled()),
        Some((id, stored, wrapped, false)) if crate::secret::same(&stored, &presented) => {
            Ok((id, wrapped))
        }
        _ => {
            tracing::info!("recovery refused: wrong recovery key");
            Err(Error::BadCredentials)
        }
    }
}

/// New password material, checked: salt, cost, the auth key's hash, the
/// master key wrapped under the new key-encryption key.
#[derive(Debug)]
pub(crate) struct PasswordMaterial {
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Argon2,
    pub(crate) auth_hash: [u8; 32],
    pub(crate) wrapped: Vec<u8>,
}

fn store_password(
    conn: &mut rusqlite::Connection,
    id: i64,
    new: PasswordMaterial,
) -> Result<(), Error> {
    let tx = conn.transaction()?;
    tx.execute(
        "UPDATE accounts SET salt = ?2, argon2_m_kib = ?3, argon2_t = ?4, argon2_p = ?5,
            auth_hash = ?6, master_by_password = ?7 WHERE id = ?1",
        rusqlite::params![
            id,
            new.salt,
            new.argon2.m_kib,
            new.argon2.t,
            new.argon2.p,
            &new.auth_hash[..],
            new.wrapped
        ],
    )?;
    end_all(&tx, id)?;
    tx.commit()?;
    Ok(())
}

/// Stores new password material and ends every session of the account.
pub(crate) async fn set_password(db: &Db, id: i64, new: PasswordMaterial) -> Result<(), Error> {
    db.call(move |conn| store_password(conn, id, new)).await
}

/// Changes the password of account `id` if `presented` is the hash of its
/// current auth key; every session ends.
pub(crate) async fn change_password(
    db: &Db,
    id: i64,
    presented: [u8; 32],
    new: PasswordMaterial,
) -> Result<(), Error> {
    db.call(move |conn| {
        let stored: Vec<u8> =
            conn.query_row("SELECT auth_hash FROM accounts WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        if !crate::secret::same(&stored, &presented) {
            return Err(Error::BadCredentials);
        }
        store_password(conn, id, new)
    })
    .await
}

/// What the owner of an account sees of it.
#[derive(Debug)]
pub(crate) struct Details {
    pub(crate) username: String,
    pub(crate) is_admin: bool,
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Argon2,
    pub(crate) master_by_password: Vec<u8>,
    /// Ciphertext bytes stored or reserved by uploads in progress.
    pub(crate) used: u64,
    pub(crate) quota: u64,
}

/// Account `id`'s details; `default_quota` unless it has its own.
pub(crate) async fn details(db: &Db, id: i64, default_quota: u64) -> Result<Details, Error> {
    db.call(move |conn| {
        let used = used_bytes(conn, id)?;
        Ok(conn.query_row(
            "SELECT username, is_admin, salt, argon2_m_kib, argon2_t, argon2_p,
                    master_by_password, quota FROM accounts WHERE id = ?1",
            [id],
            |r| {
                Ok(Details {
                    username: r.get(0)?,
                    is_admin: r.get(1)?,
                    salt: r.get(2)?,
                    argon2: Argon2 {
                        m_kib: r.get(3)?,
                        t: r.get(4)?,
                        p: r.get(5)?,
                    },
                    master_by_password: r.get(6)?,
                    used,
                    quota: r
                        .get::<_, Option<i64>>(7)?
                        .and_then(|q| u64::try_from(q).ok())
                        .unwrap_or(default_quota),
                })
            },
        )?)
    })
    .await
}

/// Deletes account `id` if `presented` is the hash of its auth key, with
/// its sessions, files, uploads and links (the schema cascades); returns
/// the ids of its files and uploads, whose bytes the caller removes next.
pub(crate) async fn delete(
    db: &Db,
    id: i64,
    presented: [u8; 32],
) -> Result<(Vec<String>, Vec<String>), Error> {
    db.call(move |conn| {
        let tx = conn.transaction()?;
        let stored: Vec<u8> =
            tx.query_row("SELECT auth_hash FROM accounts WHERE id = ?1", [id], |r| {
                r.get(0)
            })?;
        if !crate::secret::same(&stored, &presented) {
            return Err(Error::BadCredentials);
        }
        let ids = |sql: &str| -> Result<Vec<String>, Error> {
            let mut stmt = tx.prepare(sql)?;
            let rows = stmt.query_map([id], |r| r.get::<_, String>(0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        };
        let files = ids("SELECT id FROM files WHERE account_id = ?1")?;
        let uploads = ids("SELECT id FROM uploads WHERE account_id = ?1")?;
        tx.execute("DELETE FROM accounts WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok((files, uploads))
    })
    .await
}
