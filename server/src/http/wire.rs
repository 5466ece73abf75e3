//! Small pieces of the JSON API's wire format shared by several routes.

use crate::Error;

/// The largest JSON request body any route takes (the router's default
/// body limit, and the agent API's).
pub(crate) const MAX_JSON_BODY: usize = 64 * 1024;

fn too_large() -> Error {
    Error::TooLarge {
        code: "body_too_large",
        message: "The request body is larger than this route accepts.".into(),
    }
}

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
        // A declared length past the limit is refused before any byte of
        // the body is read (or waited for).
        let declared = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if declared.is_some_and(|n| n > MAX_JSON_BODY as u64) {
            return Err(too_large());
        }
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(JsonBody(value)),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
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

/// Declares an extractor around one of axum's whose rejections are the
/// API's JSON 400 with a fixed message (axum's would be plain text, and may
/// quote the offending value).
macro_rules! args_extractor {
    ($(#[$doc:meta])* $name:ident, $inner:ident, $code:literal, $message:literal) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub(crate) struct $name<T>(pub(crate) T);

        impl<T, S> axum::extract::FromRequestParts<S> for $name<T>
        where
            T: serde::de::DeserializeOwned + Send,
            S: Send + Sync,
        {
            type Rejection = Error;

            async fn from_request_parts(
                parts: &mut http::request::Parts,
                state: &S,
            ) -> Result<Self, Error> {
                match axum::extract::$inner::<T>::from_request_parts(parts, state).await {
                    Ok(axum::extract::$inner(value)) => Ok($name(value)),
                    Err(_) => Err(Error::invalid($code, $message)),
                }
            }
        }
    };
}

args_extractor!(
    /// Path parameters (invalid UTF-8 after percent-decoding, or a value
    /// that does not parse, is a 400 `invalid_path`).
    PathArgs,
    Path,
    "invalid_path",
    "A part of this URL's path is not valid (not UTF-8, or not the expected form)."
);

args_extractor!(
    /// Query parameters (anything that does not parse is a 400
    /// `invalid_query`).
    QueryArgs,
    Query,
    "invalid_query",
    "The query parameters are not what this route expects; see /api/openapi.json."
);

pub(crate) use api::{B64, accounts::Argon2};

/// Bytes from the API with a length rule.
pub(crate) trait Bounded {
    /// The bytes, if there are between `min` and `max` of them; otherwise a
    /// 400 naming the field.
    fn bounded(&self, field: &'static str, min: usize, max: usize) -> Result<&[u8], Error>;
}

impl Bounded for B64 {
    fn bounded(&self, field: &'static str, min: usize, max: usize) -> Result<&[u8], Error> {
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

/// An upload or file id from a URL; anything else names nothing here.
pub(crate) fn blob_id(raw: &str) -> Result<crate::store::BlobId, Error> {
    crate::store::BlobId::parse(raw).ok_or(Error::NotFound)
}
