//! Files and uploads, the rules that outlive a request. For now: which
//! uploads are being written, finished or cancelled right now, so those
//! never overlap (the HTTP handlers in `http::files` hold these guards).

use crate::{Error, store::BlobId};

/// What is happening to each upload right now: parts being written, or an
/// exclusive operation (finish, cancel). A finish never runs while a part is
/// still streaming into the staging file (it would hash, or commit, bytes
/// still changing), and two finishes, or a finish and a cancel, never race.
/// In memory: after a restart nothing is in flight.
#[derive(Debug, Default)]
pub(crate) struct UploadLocks(std::sync::Mutex<std::collections::HashMap<String, Activity>>);

#[derive(Debug, Default)]
struct Activity {
    writers: usize,
    exclusive: bool,
}

fn busy() -> Error {
    Error::Conflict {
        code: "upload_busy",
        message:
            "This upload is being finished, cancelled or written right now; try again shortly."
                .into(),
    }
}

impl UploadLocks {
    fn table(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<String, Activity>> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Registers a part writer; refused while a finish or cancel runs.
    pub(crate) fn writer(self: &std::sync::Arc<Self>, id: &BlobId) -> Result<UploadGuard, Error> {
        let mut table = self.table();
        let entry = table.entry(id.to_string()).or_default();
        if entry.exclusive {
            return Err(busy());
        }
        entry.writers += 1;
        Ok(UploadGuard {
            locks: self.clone(),
            id: id.to_string(),
            exclusive: false,
        })
    }

    /// Takes the upload for a finish or cancel; refused while anything else
    /// is in flight on it.
    pub(crate) fn exclusive(
        self: &std::sync::Arc<Self>,
        id: &BlobId,
    ) -> Result<UploadGuard, Error> {
        let mut table = self.table();
        let entry = table.entry(id.to_string()).or_default();
        if entry.exclusive || entry.writers > 0 {
            return Err(busy());
        }
        entry.exclusive = true;
        Ok(UploadGuard {
            locks: self.clone(),
            id: id.to_string(),
            exclusive: true,
        })
    }
}

/// Releases its hold on an upload when dropped (also when the request is
/// cancelled half-way).
#[derive(Debug)]
pub(crate) struct UploadGuard {
    locks: std::sync::Arc<UploadLocks>,
    id: String,
    exclusive: bool,
}

impl Drop for UploadGuard {
    fn drop(&mut self) {
        let mut table = self.locks.table();
        if let Some(entry) = table.get_mut(&self.id) {
            if self.exclusive {
                entry.exclusive = false;
            } else {
                entry.writers = entry.writers.saturating_sub(1);
            }
            if entry.writers == 0 && !entry.exclusive {
                table.remove(&self.id);
            }
        }
    }
}
