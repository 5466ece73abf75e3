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

/// The cookie's name over plain HTTP (http://localhost).
pub(crate) const COOKIE: &str = "nocturne_session";
/// Its name behind a TLS proxy: the `__Host-` prefix makes browsers refuse
/// it unless it is `Secure`, set by this origin itself (no `Domain`) for
/// `Path=/`, so a sibling subdomain or a plain-HTTP page cannot plant or
/// overwrite it.
pub(crate) const HOST_COOKIE: &str = "__Host-nocturne_session";
const LABEL: &str = "nocturne session";

/// A logged-in caller.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    pub(crate) account_id: i64,
    pub(crate) is_admin: bool,
    token_hash: [u8; 32],
}

impl Session {
    /// Refuses anyone but an administrator.
    pub(crate) fn require_admin(&self) -> Result<(), Error> {
        if self.is_admin {
            Ok(())
        } else {
            Err(Error::Forbidden {
                code: "admin_only",
                message: "Only an administrator can do this.",
            })
        }
    }

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
/// the cookie). Behind a TLS proxy it is `__Host-nocturne_session` and
/// `Secure`; over plain HTTP (browsers keep non-Secure cookies for
/// http://localhost) `nocturne_session`, since `__Host-` needs `Secure`.
pub(crate) fn cookie(token: Option<&str>, secure: bool) -> HeaderValue {
    let (value, age) = match token {
        Some(t) => (t, ABSOLUTE),
        None => ("", 0),
    };
    let (name, secure) = if secure {
        (HOST_COOKIE, "; Secure")
    } else {
        (COOKIE, "")
    };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={age}{secure}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("nocturne_session=; Max-Age=0"))
}

/// Finds the token: `Authorization: Bearer …` first, then the cookie (by
/// the name this deployment sets: `__Host-…` behind TLS). Returns it with
/// whether it came from the cookie.
fn token(headers: &HeaderMap, secure: bool) -> Option<(String, bool)> {
    let name = if secure { HOST_COOKIE } else { COOKIE };
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
        .find(|(n, _)| *n == name)
        .map(|(_, value)| (value.to_owned(), true))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
        let (token, from_cookie) =
            token(&parts.headers, state.trust_proxy).ok_or(Error::Unauthorized)?;
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
        // Behind TLS: the __Host- prefix, whose rules the value keeps.
        let secure = cookie(Some("abc"), true);
        let secure = secure.to_str().expect("ascii");
        assert!(
            secure.starts_with("__Host-nocturne_session=abc;"),
            "{secure}"
        );
        assert!(secure.contains("; Path=/;") && secure.contains("; Secure"));
        assert!(!secure.contains("Domain"));
    }

    #[test]
    fn the_cookie_is_read_by_the_name_the_deployment_sets() {
        let headers = |cookie: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::COOKIE, cookie.parse().expect("value"));
            h
        };
        let plain = headers("nocturne_session=p");
        let host = headers("__Host-nocturne_session=h");
        assert_eq!(token(&plain, false), Some(("p".into(), true)));
        assert_eq!(token(&host, true), Some(("h".into(), true)));
        // Behind TLS a cookie without the prefix (one a plain-HTTP page or
        // a sibling domain could have planted) is not taken.
        assert_eq!(token(&plain, true), None);
    }
}
