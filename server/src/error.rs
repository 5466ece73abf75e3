//! The one error type of the server crate, and how it looks over HTTP.

use std::{borrow::Cow, io, path::PathBuf};

use axum::{
    Json,
    http::StatusCode,
    response::{IntoResponse, Response},
};
use serde::Serialize;

/// Everything that can go wrong in the server crate.
///
/// Messages name what failed and where, never a secret value: these strings
/// reach logs and terminals.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A setting is unusable. The message names the setting, not its value.
    #[error("{0}")]
    Config(String),
    /// A file or directory under the data directory could not be used.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What was being done, as a verb phrase ("create", "read", ...).
        action: &'static str,
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating system's reason.
        source: io::Error,
    },
    /// The listener could not be bound or accepted a fatal error.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address that was asked for.
        addr: String,
        /// The operating system's reason.
        source: io::Error,
    },
    /// SQLite reported an error.
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// The database thread is gone (the server is shutting down).
    #[error("the database is not available")]
    DatabaseUnavailable,
    /// The storage mesh cannot do this now: too few nodes reachable or with
    /// room. Says how many, never which file.
    #[error("the storage mesh is unavailable: {0}")]
    MeshUnavailable(String),
    /// The requested resource does not exist, or does not belong to the
    /// caller (the two are deliberately indistinguishable).
    #[error("not found")]
    NotFound,
    /// The request used a method the resource does not support.
    #[error("method not allowed")]
    MethodNotAllowed,
    /// The request took longer than the server allows.
    #[error("request timed out")]
    Timeout,
    /// The command line asked for something impossible; the message says
    /// what to do instead.
    #[error("{0}")]
    Usage(String),
    /// Encryption or decryption failed (for decryption: the wrong password,
    /// or data that was modified; the two are deliberately one error).
    #[error(transparent)]
    Crypto(#[from] noctis::Error),
    /// The request is malformed or asks for something impossible. `code` is
    /// stable for programs; the message is for people and names no secret.
    #[error("{message}")]
    Invalid {
        /// A short machine-readable reason (`invalid_username`, ...).
        code: &'static str,
        /// What was wrong and what to do instead.
        message: String,
    },
    /// No valid session: not logged in, or the session expired or was revoked.
    #[error("not logged in")]
    Unauthorized,
    /// The username or the password (auth key, recovery key) is wrong. Which
    /// of the two is deliberately not said.
    #[error("wrong credentials")]
    BadCredentials,
    /// Logged in, but not allowed to do this (`code` says why).
    #[error("{message}")]
    Forbidden {
        /// A short machine-readable reason.
        code: &'static str,
        /// What was refused.
        message: &'static str,
    },
    /// The request conflicts with what is stored (a taken username, an
    /// upload missing parts).
    #[error("{message}")]
    Conflict {
        /// A short machine-readable reason.
        code: &'static str,
        /// What conflicts and how to resolve it.
        message: String,
    },
    /// The upload would exceed the file size limit or the account's quota.
    #[error("{message}")]
    TooLarge {
        /// `file_too_large`, `quota_exceeded` or `part_too_large`.
        code: &'static str,
        /// The limit, in words and bytes.
        message: String,
    },
    /// Too many attempts; the client may retry after this many seconds.
    #[error("too many requests")]
    RateLimited {
        /// Seconds until the next attempt is allowed.
        retry_after: u64,
    },
    /// Publishing more records now would make this operator look like a
    /// flood to the agent mesh (its own peer's watch refused them).
    #[error("paced")]
    Paced {
        /// Seconds until a record would fit.
        retry_after: u64,
    },
    /// A Range header that lies outside the file.
    #[error("range not satisfiable")]
    RangeNotSatisfiable {
        /// The file's size, for the `Content-Range: bytes */size` answer.
        size: u64,
    },
    /// A share link that can no longer be used (`expired`, `revoked`,
    /// `used`, `claimed`); says which, and nothing about what it shared.
    #[error("{message}")]
    Gone {
        /// A short machine-readable reason.
        code: &'static str,
        /// The same, for people.
        message: &'static str,
    },
    /// No share link has this id (distinct from a route that does not
    /// exist, and from a link that did and is gone).
    #[error("unknown share link")]
    UnknownLink,
    /// A share link locked after too many wrong passwords; its owner can
    /// unlock it.
    #[error("share link locked")]
    Locked,
    /// The share link's password is wrong, or the link's secret is (an
    /// incomplete or altered link); deliberately one error.
    #[error("wrong share password")]
    WrongPassword {
        /// Wrong attempts left before the link locks.
        attempts_left: u32,
    },
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }

    pub(crate) fn invalid(code: &'static str, message: impl Into<String>) -> Self {
        Error::Invalid {
            code,
            message: message.into(),
        }
    }
}

/// The JSON body of every API error: a stable machine-readable code and a
/// sentence for people.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub(crate) struct ErrorBody {
    /// Stable, machine-readable: `not_found`, `invalid_username`, `quota_exceeded`, ...
    pub(crate) error: &'static str,
    /// One sentence for people. Never contains a secret.
    pub(crate) message: Cow<'static, str>,
}

/// A 429 with `Retry-After`, so clients can wait rather than guess.
fn too_many(error: &'static str, message: String, retry_after: u64) -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [(http::header::RETRY_AFTER, retry_after.to_string())],
        Json(ErrorBody {
            error,
            message: message.into(),
        }),
    )
        .into_response()
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, error, message): (StatusCode, &'static str, Cow<'static, str>) = match self {
            Error::Invalid { code, message } => (StatusCode::BAD_REQUEST, code, message.into()),
            Error::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "Not authenticated: the session or token is missing, expired or revoked.".into(),
            ),
            Error::BadCredentials => (
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                "The username or password is wrong.".into(),
            ),
            Error::Forbidden { code, message } => (StatusCode::FORBIDDEN, code, message.into()),
            Error::Gone { code, message } => (StatusCode::GONE, code, message.into()),
            Error::UnknownLink => (
                StatusCode::NOT_FOUND,
                "unknown_link",
                "There is no such link. Check that it was copied whole.".into(),
            ),
            Error::Locked => (
                StatusCode::LOCKED,
                "locked",
                "This link is locked after too many wrong passwords. Ask its owner to unlock it."
                    .into(),
            ),
            Error::WrongPassword { attempts_left } => (
                StatusCode::UNAUTHORIZED,
                "wrong_password",
                format!(
                    "The password is wrong (or the link is incomplete). {attempts_left} \
                     attempts left before the link locks."
                )
                .into(),
            ),
            Error::Conflict { code, message } => (StatusCode::CONFLICT, code, message.into()),
            Error::TooLarge { code, message } => {
                (StatusCode::PAYLOAD_TOO_LARGE, code, message.into())
            }
            Error::RateLimited { retry_after } => {
                return too_many(
                    "rate_limited",
                    format!("Too many attempts; try again in {retry_after} s."),
                    retry_after,
                );
            }
            Error::Paced { retry_after } => {
                return too_many(
                    "paced",
                    format!(
                        "More records by this operator now would look like a flood to the mesh \
                         (and get it quarantined); publish again in {retry_after} s."
                    ),
                    retry_after,
                );
            }
            Error::RangeNotSatisfiable { size } => {
                let body = ErrorBody {
                    error: "range_not_satisfiable",
                    message: "The requested range lies outside the file.".into(),
                };
                return (
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    [(http::header::CONTENT_RANGE, format!("bytes */{size}"))],
                    Json(body),
                )
                    .into_response();
            }
            Error::NotFound => (
                StatusCode::NOT_FOUND,
                "not_found",
                "There is nothing here.".into(),
            ),
            Error::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here.".into(),
            ),
            Error::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "The request took too long and was abandoned.".into(),
            ),
            Error::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The server is not ready; try again shortly.".into(),
            ),
            Error::MeshUnavailable(ref why) => {
                tracing::warn!(reason = %why, "a read from the storage mesh failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "mesh_unavailable",
                    "Too few storage nodes are reachable to read this file now; try again later."
                        .into(),
                )
            }
            ref internal => {
                // The detail goes to the operator's log, never to the client.
                tracing::error!(error = %internal, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on the server.".into(),
                )
            }
        };
        (status, Json(ErrorBody { error, message })).into_response()
    }
}
