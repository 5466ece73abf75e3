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

use crate::state::AppState;
use crate::{
    Error,
    accounts::sessions::{self, ABSOLUTE},
};

/// The cookie's name.
pub(crate) const COOKIE: &str = "nocturne_session";
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
        sessions::end(&state.db, self.token_hash).await
    }
}

/// Starts a session for `account_id` and returns its token (URL-safe base64).
pub(crate) async fn start(state: &AppState, account_id: i64) -> Result<String, Error> {
    use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
    let token = crate::secret::random32();
    let hash = crate::secret::digest(LABEL, &token);
    sessions::create(&state.db, account_id, hash).await?;
    Ok(URL_SAFE_NO_PAD.encode(token))
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
        let found = sessions::find(&state.db, hash).await?;
        Ok(Session {
            account_id: found.account_id,
            is_admin: found.is_admin,
            token_hash: hash,
        })
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
