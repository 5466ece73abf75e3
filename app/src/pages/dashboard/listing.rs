//! The file list a page at a time (`GET /api/files?after=&limit=`): the
//! first page opens at once, further pages come when the table wants more
//! rows, and all of them when a filter or a sort needs every name (names
//! are encrypted, so only this browser can search or sort them).

use ::api::files::{FileList, FileView};
use leptos::prelude::*;

use super::row::Row;
use crate::client::{
    api::{self, ApiError},
    keys::{self, Keyring},
};

/// Files per page requested, and rows the table shows at first.
pub(super) const PAGE: usize = 200;

/// The loaded rows and where the server's list continues.
#[derive(Clone, Copy)]
pub(super) struct Listing {
    /// `None` until the first page arrived.
    pub(super) rows: RwSignal<Option<Vec<Row>>>,
    /// Where the next page starts; `None` once every page is here.
    pub(super) next: RwSignal<Option<String>>,
    /// How many files the account holds (not only those loaded).
    pub(super) total: RwSignal<u64>,
    /// Bytes used and the quota, as of the last page.
    pub(super) usage: RwSignal<Option<(u64, u64)>>,
    /// A page is being fetched.
    pub(super) loading: RwSignal<bool>,
    /// Bumped by every refresh, so a page fetched for an older list is
    /// dropped rather than appended to the new one.
    generation: RwSignal<u32>,
}

impl Listing {
    pub(super) fn new() -> Self {
        Listing {
            rows: RwSignal::new(None),
            next: RwSignal::new(None),
            total: RwSignal::new(0),
            usage: RwSignal::new(None),
            loading: RwSignal::new(false),
            generation: RwSignal::new(0),
        }
    }

    /// Loads the list again from its start, as many rows as were loaded
    /// before (at least a page), so a rename or a delete does not fold the
    /// table back to its first page.
    pub(super) async fn refresh(self, keyring: &Keyring) -> Result<(), ApiError> {
        self.generation.update(|g| *g = g.wrapping_add(1));
        let generation = self.generation.get_untracked();
        let want = self
            .rows
            .with_untracked(|r| r.as_ref().map_or(0, Vec::len))
            .max(PAGE);
        let mut rows = Vec::new();
        let mut after = None;
        loop {
            let page = fetch(after.as_deref()).await?;
            if self.generation.get_untracked() != generation {
                return Ok(());
            }
            self.usage.set(Some((page.used, page.quota)));
            self.total.set(page.total);
            rows.extend(open_rows(keyring, page.files));
            after = page.next;
            if after.is_none() || rows.len() >= want {
                break;
            }
        }
        self.rows.set(Some(rows));
        self.next.set(after);
        Ok(())
    }

    /// Appends the next page; `false` when there is none (or another load
    /// is running, or the list was refreshed meanwhile).
    pub(super) async fn more(self, keyring: &Keyring) -> Result<bool, ApiError> {
        let Some(after) = self.next.get_untracked() else {
            return Ok(false);
        };
        if self.loading.get_untracked() {
            return Ok(false);
        }
        self.loading.set(true);
        let generation = self.generation.get_untracked();
        let page = fetch(Some(&after)).await;
        self.loading.set(false);
        let page = page?;
        if self.generation.get_untracked() != generation {
            return Ok(false);
        }
        self.usage.set(Some((page.used, page.quota)));
        self.total.set(page.total);
        let fresh = open_rows(keyring, page.files);
        self.rows.update(|rows| {
            let rows = rows.get_or_insert_with(Vec::new);
            // A file uploaded between two pages can shift one onto the
            // next; never list it twice.
            let known: std::collections::HashSet<String> =
                rows.iter().map(|r| r.id.clone()).collect();
            rows.extend(fresh.into_iter().filter(|r| !known.contains(&r.id)));
        });
        self.next.set(page.next);
        Ok(true)
    }

    /// Loads every page left.
    pub(super) async fn all(self, keyring: &Keyring) -> Result<(), ApiError> {
        while self.more(keyring).await? {}
        Ok(())
    }
}

async fn fetch(after: Option<&str>) -> Result<FileList, ApiError> {
    let path = match after {
        // Cursors are `<seconds>.<hex id>`: nothing to escape.
        Some(after) => format!("/api/files?limit={PAGE}&after={after}"),
        None => format!("/api/files?limit={PAGE}"),
    };
    api::get::<FileList>(&path).await
}

fn open_rows(keyring: &Keyring, files: Vec<FileView>) -> Vec<Row> {
    files
        .into_iter()
        .map(|f| {
            // The keyring takes wrapped keys and sealed metadata as base64.
            let wrapped_key = keys::b64(&f.wrapped_key.0);
            Row {
                meta: keyring
                    .open_file(&wrapped_key, &keys::b64(&f.metadata.0))
                    .map(|(_, m)| m),
                id: f.id,
                size: f.size,
                created_at: f.created_at,
                wrapped_key,
                mesh: f.mesh,
            }
        })
        .collect()
}
