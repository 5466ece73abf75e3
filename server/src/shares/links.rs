//! A share link as stored, and the rules every use of one goes through:
//! its state (active, expired, revoked, used, locked), the access token
//! checked with growing delays and a lock, its expiry bounds, the limits on
//! links, files and downloads in progress.

use std::time::Duration;

use rusqlite::{Connection, OptionalExtension};

use crate::{Error, accounts::Argon2, limits, store::BlobId};

/// Share links per account, including revoked and spent ones until the
/// sweep purges them.
pub(crate) const MAX_SHARES: i64 = 1000;
/// Files in one share.
pub(crate) const MAX_SHARE_FILES: usize = 256;
/// Downloads of one link in progress at once.
pub(crate) const MAX_LIVE_CLAIMS: i64 = 64;
/// How long a download claim outlives its last use (seconds): a broken
/// connection can be resumed by the same downloader within this time.
pub(crate) const CLAIM_GRACE: i64 = 10 * 60;
/// No claim is used longer than this after it was made (seconds), however
/// busy its holder keeps it.
pub(crate) const CLAIM_LIFETIME: i64 = 24 * 60 * 60;
/// What a claim may fetch again of a file it already sent whole: ranges
/// starting, past the first byte, in the file's last MiB (what a connection
/// breaking at the very end typically had in flight).
pub(crate) const COMPLETED_TAIL: u64 = 1 << 20;
/// Consecutive wrong attempts after which a link locks.
pub(crate) const LOCK_AFTER: i64 = 20;
/// A long download refreshes its claim this often.
pub(crate) const TOUCH_EVERY: Duration = Duration::from_secs(30);
/// Expiry dates further out than this are refused (seconds): ten years.
pub(crate) const MAX_LIFETIME: i64 = 10 * 365 * 24 * 60 * 60;

pub(crate) const TOKEN_LABEL: &str = "nocturne share token";
/// Domain of the stored link proof's hash.
pub(crate) const PROOF_LABEL: &str = "nocturne share proof";
/// Bytes of a sealed file list: nonce and tag around 16 per file.
pub(crate) fn file_list_len(files: usize) -> usize {
    12 + 16 * files + 16
}
pub(crate) const CLAIM_LABEL: &str = "nocturne share claim";

pub(crate) use api::shares::{Mode, ShareState};

/// How a mode is written in the `shares` table.
pub(crate) trait ModeColumn: Sized {
    fn column(self) -> &'static str;
    fn parse(text: &str) -> Self;
}

impl ModeColumn for Mode {
    fn column(self) -> &'static str {
        match self {
            Mode::Persistent => "persistent",
            Mode::Expiring => "expiring",
            Mode::OneTime => "one_time",
        }
    }

    fn parse(text: &str) -> Mode {
        match text {
            "expiring" => Mode::Expiring,
            "one_time" => Mode::OneTime,
            _ => Mode::Persistent,
        }
    }
}

/// A share row as stored.
pub(crate) struct Row {
    pub(crate) id: String,
    pub(crate) seed: Vec<u8>,
    pub(crate) salt: Vec<u8>,
    pub(crate) argon2: Option<Argon2>,
    pub(crate) token_hash: Vec<u8>,
    pub(crate) mode: Mode,
    pub(crate) expires_at: Option<i64>,
    pub(crate) max_downloads: Option<i64>,
    pub(crate) downloads: i64,
    pub(crate) failures: i64,
    pub(crate) next_attempt_at: i64,
    pub(crate) locked: bool,
    pub(crate) revoked: bool,
    pub(crate) created_at: i64,
    /// The owner's account was disabled by an administrator.
    pub(crate) owner_disabled: bool,
    /// Hash of the link proof; `None` for a link made before there was one.
    pub(crate) proof_hash: Option<Vec<u8>>,
    /// The file ids, sealed by the owner's browser.
    pub(crate) file_list: Option<Vec<u8>>,
}

// Not derived: seeds, salts and token hashes stay out of any log.
impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("id", &self.id)
            .field("mode", &self.mode)
            .finish_non_exhaustive()
    }
}

pub(crate) const ROW_COLUMNS: &str =
    "id, seed, salt, argon2_m_kib, argon2_t, argon2_p, token_hash, mode,
    expires_at, max_downloads, downloads, failures, next_attempt_at, locked, revoked_at, created_at,
    (SELECT disabled_at IS NOT NULL FROM accounts WHERE accounts.id = shares.account_id),
    proof_hash, file_list";

pub(crate) fn read_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
    let m: Option<u32> = r.get(3)?;
    let t: Option<u32> = r.get(4)?;
    let p: Option<u32> = r.get(5)?;
    Ok(Row {
        id: r.get(0)?,
        seed: r.get(1)?,
        salt: r.get(2)?,
        argon2: match (m, t, p) {
            (Some(m_kib), Some(t), Some(p)) => Some(Argon2 { m_kib, t, p }),
            _ => None,
        },
        token_hash: r.get(6)?,
        mode: Mode::parse(&r.get::<_, String>(7)?),
        expires_at: r.get(8)?,
        max_downloads: r.get(9)?,
        downloads: r.get(10)?,
        failures: r.get(11)?,
        next_attempt_at: r.get(12)?,
        locked: r.get(13)?,
        revoked: r.get::<_, Option<i64>>(14)?.is_some(),
        created_at: r.get(15)?,
        owner_disabled: r.get::<_, Option<bool>>(16)?.unwrap_or(false),
        proof_hash: r.get(17)?,
        file_list: r.get(18)?,
    })
}

pub(crate) fn load(conn: &Connection, id: &str) -> Result<Option<Row>, Error> {
    Ok(conn
        .query_row(
            &format!("SELECT {ROW_COLUMNS} FROM shares WHERE id = ?1"),
            [id],
            read_row,
        )
        .optional()?)
}

impl Row {
    pub(crate) fn state(&self, now: i64) -> ShareState {
        if self.revoked {
            ShareState::Revoked
        } else if self.expires_at.is_some_and(|t| now >= t) {
            ShareState::Expired
        } else if self.max_downloads.is_some_and(|m| self.downloads >= m) {
            ShareState::Used
        } else if self.locked {
            ShareState::Locked
        } else {
            ShareState::Active
        }
    }

    /// Why the link cannot be used now, if it cannot; says which, and
    /// nothing about the files.
    pub(crate) fn refusal(&self, now: i64) -> Option<Error> {
        if self.owner_disabled {
            return Some(Error::Gone {
                code: "unavailable",
                message: "This link is unavailable: its owner's account is disabled.",
            });
        }
        match self.state(now) {
            ShareState::Active => None,
            ShareState::Revoked => Some(Error::Gone {
                code: "revoked",
                message: "This link was revoked by its owner.",
            }),
            ShareState::Expired => Some(Error::Gone {
                code: "expired",
                message: "This link has expired.",
            }),
            ShareState::Used => Some(Error::Gone {
                code: "used",
                message: "This link has already been used.",
            }),
            ShareState::Locked => Some(Error::Locked),
        }
    }
}

/// Checks a presented proof and access token against the link. A wrong
/// or missing proof is answered like an unknown link and not counted: it
/// shows no knowledge of the fragment secret, only of the id, and must not
/// lock the link. A wrong token with the right proof is a wrong password,
/// counted towards the lock. Runs on the database thread, so attempts on
/// one link never interleave.
pub(crate) fn check_token(
    conn: &Connection,
    row: &Row,
    proof: Option<&[u8]>,
    token: &[u8],
    now: i64,
) -> Result<(), Error> {
    if let Some(refused) = row.refusal(now) {
        return Err(refused);
    }
    if let Some(expected) = &row.proof_hash {
        let shown = proof.map(|p| crate::secret::digest(PROOF_LABEL, p));
        if !shown.is_some_and(|h| crate::secret::same(&h, expected)) {
            return Err(Error::UnknownLink);
        }
    }
    if now < row.next_attempt_at {
        return Err(Error::RateLimited {
            retry_after: u64::try_from(row.next_attempt_at - now).unwrap_or(1),
        });
    }
    let presented = crate::secret::digest(TOKEN_LABEL, token);
    if crate::secret::same(&presented, &row.token_hash) {
        if row.failures > 0 {
            conn.execute(
                "UPDATE shares SET failures = 0, next_attempt_at = 0 WHERE id = ?1",
                [&row.id],
            )?;
        }
        return Ok(());
    }
    let failures = row.failures + 1;
    let locked = failures >= LOCK_AFTER;
    conn.execute(
        "UPDATE shares SET failures = ?2, next_attempt_at = ?3, locked = ?4 WHERE id = ?1",
        rusqlite::params![
            row.id,
            failures,
            now + limits::growing_delay(failures),
            locked
        ],
    )?;
    if locked {
        tracing::warn!(share = %row.id, "a share link locked after {LOCK_AFTER} wrong attempts");
        return Err(Error::Locked);
    }
    Err(Error::WrongPassword {
        attempts_left: u32::try_from(LOCK_AFTER - failures).unwrap_or(0),
    })
}

/// A link id from a URL: the shape `BlobId` makes (128 random bits).
pub(crate) fn share_id(raw: &str) -> Result<String, Error> {
    BlobId::parse(raw)
        .map(|id| id.as_str().to_owned())
        .ok_or(Error::UnknownLink)
}

pub(crate) fn check_expiry(mode: Mode, expires_at: Option<i64>, now: i64) -> Result<(), Error> {
    match expires_at {
        None if mode == Mode::Expiring => Err(Error::invalid(
            "invalid_expiry",
            "An expiring link needs `expires_at`.",
        )),
        Some(t) if t <= now || t > now + MAX_LIFETIME => Err(Error::invalid(
            "invalid_expiry",
            "`expires_at` must be in the future and at most ten years away.",
        )),
        _ => Ok(()),
    }
}

/// The caller's link `id`; another account's is a 404 like a missing one.
pub(crate) fn owned(conn: &Connection, id: &str, account: i64) -> Result<Row, Error> {
    conn.query_row(
        &format!("SELECT {ROW_COLUMNS} FROM shares WHERE id = ?1 AND account_id = ?2"),
        rusqlite::params![id, account],
        read_row,
    )
    .optional()?
    .ok_or(Error::NotFound)
}
