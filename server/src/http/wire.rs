//! Small pieces of the JSON API's wire format shared by several routes.

use base64::{Engine as _, engine::general_purpose::STANDARD};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use crate::Error;

/// A JSON request body whose rejections (no JSON content type, malformed
/// JSON, wrong fields, too large) are the API's own JSON errors rather than
/// axum's plain-text ones. The message is fixed: serde's would quote the
/// offending value, which may be a key.
#[derive(Debug)]
pub(crate) struct JsonBody<T>(pub(crate) T);

impl<T, S> axum::extract::FromRequest<S> for JsonBody<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Error;

    async fn from_request(request: axum::extract::Request, state: &S) -> Result<Self, Error> {
        use axum::{extract::rejection::JsonRejection, http::StatusCode};
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(Error::TooLarge {
                    code: "body_too_large",
                    message: "The request body is larger than this route accepts.".into(),
                })
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(Error::invalid(
                "not_json",
                "Send the body as JSON, with `Content-Type: application/json`.",
            )),
            Err(_) => Err(Error::invalid(
                "invalid_body",
                "The body is not the JSON this route expects; see /api/openapi.json.",
            )),
        }
    }
}

/// Bytes carried as standard base64 (with padding, as `btoa` makes).
#[derive(Clone, PartialEq, Eq, Default, utoipa::ToSchema)]
#[schema(value_type = String, format = Byte)]
pub(crate) struct B64(pub(crate) Vec<u8>);

impl std::fmt::Debug for B64 {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Some of these are keys or auth tokens: never print the bytes.
        write!(f, "B64({} bytes)", self.0.len())
    }
}

impl Serialize for B64 {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&STANDARD.encode(&self.0))
    }
}

impl<'de> Deserialize<'de> for B64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        STANDARD
            .decode(text.as_bytes())
            .map(B64)
            .map_err(|_| serde::de::Error::custom("not valid base64"))
    }
}

impl B64 {
    /// The bytes, if there are between `min` and `max` of them; otherwise a
    /// 400 naming the field.
    pub(crate) fn bounded(
        &self,
        field: &'static str,
        min: usize,
        max: usize,
    ) -> Result<&[u8], Error> {
        let n = self.0.len();
        if n < min || n > max {
            let want = if min == max {
                format!("{min} bytes")
            } else {
                format!("{min} to {max} bytes")
            };
            return Err(Error::invalid(
                "invalid_field",
                format!("`{field}` must be {want} (base64), not {n}"),
            ));
        }
        Ok(&self.0)
    }
}

/// Argon2id parameters as the API carries them.
#[derive(Debug, Clone, Copy, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub(crate) struct Argon2 {
    /// Memory in KiB.
    pub(crate) m_kib: u32,
    /// Passes.
    pub(crate) t: u32,
    /// Lanes.
    pub(crate) p: u32,
}

impl Argon2 {
    /// The defaults (RFC 9106's second recommendation: t=3, 64 MiB, p=4).
    pub(crate) fn default_params() -> Self {
        let d = noctis::keys::DEFAULT_ARGON2;
        Argon2 {
            m_kib: d.m_kib,
            t: d.t,
            p: d.p,
        }
    }

    /// Refuses parameters too weak to protect a password (below 19 MiB or
    /// t=1 at that memory, OWASP's floor) or too heavy for a browser.
    pub(crate) fn check(self) -> Result<Self, Error> {
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

/// SHA-256 of `secret` under a label, for what the server keeps of auth
/// keys and tokens. These inputs are 256-bit random values (or Argon2id
/// output), so a fast hash is enough: there is nothing to brute-force
/// below the Argon2id the browser already paid for.
pub(crate) fn digest(label: &str, secret: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(label.as_bytes());
    h.update([0]);
    h.update(secret);
    h.finalize().into()
}

/// Compares two digests without an early exit.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the OS.
pub(crate) fn random32() -> [u8; 32] {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).unwrap_or_else(|e| panic!("the OS random source failed: {e}"));
    bytes
}

/// An upload or file id from a URL; anything else names nothing here.
pub(crate) fn blob_id(raw: &str) -> Result<crate::store::BlobId, Error> {
    crate::store::BlobId::parse(raw).ok_or(Error::NotFound)
}
