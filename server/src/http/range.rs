//! Ranged downloads of a blob (`Range`, `If-Range`, `If-None-Match`), for
//! owners' files and share links alike.

use axum::{
    body::Body,
    http::{HeaderMap, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::Error;

/// The bytes of a blob a download asks for (its `Range`, `If-Range`), or a
/// 304 for a matching `If-None-Match`. The ETag is the ciphertext's SHA-256.
pub(super) enum Wanted {
    NotModified(Response),
    Bytes(Slice),
}

/// A slice of a blob about to be sent.
pub(super) struct Slice {
    status: StatusCode,
    pub(super) start: u64,
    pub(super) len: u64,
    pub(super) size: u64,
    etag: String,
}

/// The ciphertext stream a download sends, before it becomes a body.
pub(super) type BlobStream = crate::replication::read::ByteStream;

impl Wanted {
    pub(super) fn from_headers(
        headers: &HeaderMap,
        size: u64,
        sha256: &str,
    ) -> Result<Self, Error> {
        let etag = format!("\"{sha256}\"");
        let matches = |name: header::HeaderName| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
        };
        if matches(header::IF_NONE_MATCH) {
            return Ok(Wanted::NotModified(
                (StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response(),
            ));
        }
        let range_allowed = headers
            .get(header::IF_RANGE)
            .and_then(|v| v.to_str().ok())
            .is_none_or(|v| v.trim() == etag);
        let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
            Some(value) if range_allowed => parse_range(value, size)?,
            _ => None,
        };
        let (status, start, len) = match range {
            Some((start, end)) => (StatusCode::PARTIAL_CONTENT, start, end - start + 1),
            None => (StatusCode::OK, 0, size),
        };
        Ok(Wanted::Bytes(Slice {
            status,
            start,
            len,
            size,
            etag,
        }))
    }
}

impl Slice {
    /// Sends `stream` (the slice's bytes); `body` turns the stream into the
    /// response body (a share download wraps it to follow its progress).
    pub(super) fn respond(
        self,
        stream: BlobStream,
        body: impl FnOnce(BlobStream) -> Body,
    ) -> Result<Response, Error> {
        let Slice {
            status,
            start,
            len,
            size,
            etag,
        } = self;
        let mut response = Response::new(body(stream));
        *response.status_mut() = status;
        let h = response.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/octet-stream"),
        );
        h.insert(header::CONTENT_LENGTH, len.into());
        h.insert(
            header::ACCEPT_RANGES,
            header::HeaderValue::from_static("bytes"),
        );
        if let Ok(v) = header::HeaderValue::from_str(&etag) {
            h.insert(header::ETAG, v);
        }
        h.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("private, no-cache"),
        );
        if status == StatusCode::PARTIAL_CONTENT
            && let Ok(v) =
                header::HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1))
        {
            h.insert(header::CONTENT_RANGE, v);
        }
        Ok(response)
    }
}

/// A single byte range, resolved against a file's size.
fn parse_range(value: &str, size: u64) -> Result<Option<(u64, u64)>, Error> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None); // another unit: ignore, serve the whole
    };
    if spec.contains(',') {
        return Ok(None); // several ranges: serving the whole is allowed
    }
    let (first, last) = spec
        .split_once('-')
        .ok_or(Error::RangeNotSatisfiable { size })?;
    let (first, last) = (first.trim(), last.trim());
    let range = if first.is_empty() {
        let n: u64 = last
            .parse()
            .map_err(|_| Error::RangeNotSatisfiable { size })?;
        if n == 0 || size == 0 {
            return Err(Error::RangeNotSatisfiable { size });
        }
        (size.saturating_sub(n), size - 1)
    } else {
        let start: u64 = first
            .parse()
            .map_err(|_| Error::RangeNotSatisfiable { size })?;
        let end = if last.is_empty() {
            size.saturating_sub(1)
        } else {
            last.parse::<u64>()
                .map_err(|_| Error::RangeNotSatisfiable { size })?
                .min(size.saturating_sub(1))
        };
        if start >= size || end < start {
            return Err(Error::RangeNotSatisfiable { size });
        }
        (start, end)
    };
    Ok(Some(range))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_or_are_refused() {
        assert_eq!(parse_range("bytes=0-9", 100).expect("ok"), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100).expect("ok"), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100).expect("ok"), Some((90, 99)));
        assert_eq!(
            parse_range("bytes=95-200", 100).expect("ok"),
            Some((95, 99))
        );
        assert_eq!(parse_range("bytes=0-1,5-6", 100).expect("ok"), None);
        assert_eq!(parse_range("items=0-1", 100).expect("ok"), None);
        for bad in ["bytes=100-", "bytes=5-2", "bytes=x-1", "bytes=-0"] {
            assert!(parse_range(bad, 100).is_err(), "{bad}");
        }
    }
}
