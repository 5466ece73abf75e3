//! The wall clock share links are judged by, which tests can move.
//!
//! Expiry, one-time claims and lockout delays depend on time; their tests
//! must not sleep. The clock is the system's, plus an offset read from the
//! file named by `NOCTURNE_TEST_CLOCK_FILE` when (and only when) that is set.

use std::{path::PathBuf, sync::Arc};

/// Seconds since the Unix epoch, possibly shifted for tests.
#[derive(Clone, Debug, Default)]
pub(crate) struct Clock {
    offset_file: Option<Arc<PathBuf>>,
}

impl Clock {
    pub(crate) fn new(offset_file: Option<PathBuf>) -> Self {
        if let Some(path) = &offset_file {
            tracing::warn!(path = %path.display(), "the share-link clock is shifted by a test file");
        }
        Clock {
            offset_file: offset_file.map(Arc::new),
        }
    }

    /// Now, in seconds since the Unix epoch.
    pub(crate) fn now(&self) -> i64 {
        crate::db::now().saturating_add(self.offset())
    }

    fn offset(&self) -> i64 {
        // A few bytes, read only when a test asked for it.
        self.offset_file
            .as_ref()
            .and_then(|p| std::fs::read_to_string(&**p).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0)
    }
}
