//! Sessions: an HttpOnly, SameSite=Strict cookie for the browser, a bearer
//! token for the CLI and other programs. Both are the same 256-bit random
//! token; the database keeps only its SHA-256.
//!
//! A session ends after a day without use or fourteen days after login,
//! whichever comes first, and at logout, password change, recovery reset or
//! account deletion (every session of the account).

use axum::{
    extract::FromRequestParts,
    http::{HeaderMap, HeaderValue, Method, header, request::Parts},
};
use rusqlite::OptionalExtension;

use crate::state::AppState;
use crate::{
    Error,
    accounts::sessions::{ABSOLUTE, alive},
    db,
};

/// The cookie's name.
pub(crate) const COOKIE: &str = "nocturne_session";
/// `last_seen` is written at most this often (seconds), so reads stay reads.
const TOUCH_EVERY: i64 = 60;
const LABEL: &str = "nocturne session";

/// A logged-in caller.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) account_id: i64,
    pub(crate) is_admin: bool,
    token_hash: [u8; 32],
}

impl Session {
    /// Ends this session.
    pub(crate) async fn end(&self, state: &AppState) -> Result<(), Error> {
        let hash = self.token_hash;
        state
            .db
            .call(move |conn| {
                conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]])?;
                Ok(())
            })
            .await
    }
}

/// Starts a session for `account_id` and returns its token (URL-safe base64).
pub(crate) async fn start(state: &AppState, account_id: i64) -> Result<String, Error> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let token = crate::secret::random32();
    let hash = crate::secret::digest(LABEL, &token);
    state
        .db
        .call(move |conn| {
            let now = db::now();
            conn.execute(
                "INSERT INTO sessions (token_hash, account_id, created_at, last_seen)
                 VALUES (?1, ?2, ?3, ?3)",
                rusqlite::params![&hash[..], account_id, now],
            )?;
            Ok(())
        })
        .await?;
    Ok(URL_SAFE_NO_PAD.encode(token))
}

/// Ends every session of an account.
pub(crate) fn end_all(conn: &rusqlite::Connection, account_id: i64) -> Result<(), Error> {
    conn.execute("DELETE FROM sessions WHERE account_id = ?1", [account_id])?;
    Ok(())
}

/// The `Set-Cookie` value that installs `token` (or, with `None`, removes
/// the cookie). `Secure` when a TLS proxy is in front; browsers also keep
/// non-Secure cookies for http://localhost.
pub(crate) fn cookie(token: Option<&str>, secure: bool) -> HeaderValue {
    let (value, age) = match token {
        Some(t) => (t, ABSOLUTE),
        None => ("", 0),
    };
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("nocturne_session=; Max-Age=0"))
}

/// Finds the token: `Authorization: Bearer …` first, then the cookie.
/// Returns it with whether it came from the cookie.
fn token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(auth) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        return auth
            .strip_prefix("Bearer ")
            .map(|t| (t.trim().to_owned(), false));
    }
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| (value.to_owned(), true))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
        let (token, from_cookie) = token(&parts.headers).ok_or(Error::Unauthorized)?;
        // SameSite=Strict already keeps the cookie off cross-site requests;
        // refusing a cookie-carrying change that a browser marks cross-site
        // is a second lock on the same door.
        let safe = matches!(parts.method, Method::GET | Method::HEAD | Method::OPTIONS);
        if from_cookie && !safe {
            let site = parts
                .headers
                .get("sec-fetch-site")
                .and_then(|v| v.to_str().ok());
            if matches!(site, Some("cross-site" | "same-site")) {
                return Err(Error::Forbidden {
                    code: "cross_site",
                    message: "Cross-site requests may not use the session cookie.",
                });
            }
        }
        let token = URL_SAFE_NO_PAD
            .decode(token.as_bytes())
            .map_err(|_| Error::Unauthorized)?;
        let hash = crate::secret::digest(LABEL, &token);
        state
            .db
            .call(move |conn| {
                let now = db::now();
                let row = conn
                    .query_row(
                        "SELECT s.account_id, s.created_at, s.last_seen, a.is_admin
                         FROM sessions s JOIN accounts a ON a.id = s.account_id
                         WHERE s.token_hash = ?1",
                        [&hash[..]],
                        |r| {
                            Ok((
                                r.get::<_, i64>(0)?,
                                r.get::<_, i64>(1)?,
                                r.get::<_, i64>(2)?,
                                r.get::<_, bool>(3)?,
                            ))
                        },
                    )
                    .optional()?;
                let Some((account_id, created, last_seen, is_admin)) = row else {
                    return Err(Error::Unauthorized);
                };
                if !alive(created, last_seen, now) {
                    conn.execute("DELETE FROM sessions WHERE token_hash = ?1", [&hash[..]])?;
                    return Err(Error::Unauthorized);
                }
                if now - last_seen >= TOUCH_EVERY {
                    conn.execute(
                        "UPDATE sessions SET last_seen = ?2 WHERE token_hash = ?1",
                        rusqlite::params![&hash[..], now],
                    )?;
                }
                Ok(Session {
                    account_id,
                    is_admin,
                    token_hash: hash,
                })
            })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_is_http_only_and_strict() {
        let c = cookie(Some("abc"), false);
        let c = c.to_str().expect("ascii");
        assert!(
            c.contains("HttpOnly") && c.contains("SameSite=Strict"),
            "{c}"
        );
        assert!(!c.contains("Secure"));
        assert!(
            cookie(None, true)
                .to_str()
                .expect("ascii")
                .contains("Max-Age=0; Secure")
        );
    }
}
