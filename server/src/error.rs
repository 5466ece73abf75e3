//! The one error type of the server crate, and how it looks over HTTP.

use std::{io, path::PathBuf};

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
    /// The command exists in the interface but is not built yet.
    #[error("`nocturne {0}` is not implemented yet in this release")]
    NotImplemented(&'static str),
}

impl Error {
    pub(crate) fn io(action: &'static str, path: impl Into<PathBuf>, source: io::Error) -> Self {
        Error::Io {
            action,
            path: path.into(),
            source,
        }
    }
}

/// The JSON body of every API error: a stable machine-readable code and a
/// sentence for people.
#[derive(Debug, Serialize)]
pub(crate) struct ErrorBody {
    pub(crate) error: &'static str,
    pub(crate) message: &'static str,
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let (status, error, message) = match self {
            Error::NotFound => (StatusCode::NOT_FOUND, "not_found", "There is nothing here."),
            Error::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                "This method is not allowed here.",
            ),
            Error::Timeout => (
                StatusCode::REQUEST_TIMEOUT,
                "timeout",
                "The request took too long and was abandoned.",
            ),
            Error::DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "The server is not ready; try again shortly.",
            ),
            ref internal => {
                // The detail goes to the operator's log, never to the client.
                tracing::error!(error = %internal, "request failed");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Something went wrong on the server.",
                )
            }
        };
        (status, Json(ErrorBody { error, message })).into_response()
    }
}
