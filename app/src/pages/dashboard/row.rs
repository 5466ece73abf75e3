//! A listed file as the dashboard holds it: its row from the server with
//! its metadata opened here. The list (`listing`) makes rows; the table,
//! the share dialog and downloads read them.

use ::api::mesh::MeshHealth;

use super::links::Shareable;
use crate::client::{keys::FileMeta, transfer::FileRef};

/// A listed file, its metadata decrypted (`None`: unreadable).
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) id: String,
    pub(super) meta: Option<FileMeta>,
    /// Ciphertext bytes.
    pub(super) size: u64,
    pub(super) created_at: i64,
    pub(super) wrapped_key: String,
    /// Its fragments on the storage mesh (`None`: not on the mesh).
    pub(super) mesh: Option<MeshHealth>,
}

impl Row {
    pub(super) fn name(&self) -> String {
        self.meta
            .as_ref()
            .map_or_else(|| "(cannot be decrypted)".into(), |m| m.name.clone())
    }

    /// Plaintext bytes: from the metadata, else the ciphertext size.
    pub(super) fn plain_size(&self) -> u64 {
        self.meta.as_ref().and_then(|m| m.size).unwrap_or(self.size)
    }

    pub(super) fn kind(&self) -> String {
        self.meta
            .as_ref()
            .map(|m| m.mime.clone())
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| "—".into())
    }

    pub(super) fn shareable(&self) -> Shareable {
        Shareable {
            id: self.id.clone(),
            name: self.name(),
            wrapped_key: self.wrapped_key.clone(),
        }
    }

    pub(super) fn file_ref(&self) -> FileRef {
        FileRef {
            id: self.id.clone(),
            name: self.name(),
            size: self.size,
            plain_size: self.meta.as_ref().and_then(|m| m.size),
            padded: self.meta.as_ref().is_some_and(|m| m.padded),
            content_url: format!("/api/files/{}/content", self.id),
            bearer: None,
        }
    }
}
