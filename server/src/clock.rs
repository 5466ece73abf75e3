//! The wall clock share links are judged by, which tests can move.
//!
//! Expiry, one-time claims and lockout delays depend on time; their tests
//! must not sleep. The clock is the system's, shifted by an offset (or
//! stopped at a given time) read from the file named by
//! `NOCTURNE_TEST_CLOCK_FILE` when (and only when) that is set.

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
        let real = crate::db::now();
        match self.test_setting() {
            Some(Setting::Offset(seconds)) => real.saturating_add(seconds),
            Some(Setting::Frozen(at)) => at,
            None => real,
        }
    }

    /// The file holds seconds to add (`3600`), or `=` and a Unix time at
    /// which the clock stands still (`=1800000000`).
    fn test_setting(&self) -> Option<Setting> {
        // A few bytes, read only when a test asked for it.
        let text = std::fs::read_to_string(&**self.offset_file.as_ref()?).ok()?;
        let text = text.trim();
        match text.strip_prefix('=') {
            Some(at) => at.parse().ok().map(Setting::Frozen),
            None => text.parse().ok().map(Setting::Offset),
        }
    }
}

enum Setting {
    Offset(i64),
    Frozen(i64),
}
