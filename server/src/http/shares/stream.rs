//! A claim's download as it streams: each piece counted, the final piece
//! held back until the database has recorded the file as sent, and the
//! stream cut off when its claim is gone or superseded.

use std::time::Instant;

use futures_util::StreamExt;
use rusqlite::Connection;

use crate::{
    Error,
    db::Db,
    shares::public::record,
    shares::{Streams, links::TOUCH_EVERY},
};

/// What a claim's download has done, reported to the database as it goes:
/// bytes sent, and whether this file went out to its last byte.
pub(super) struct Progress {
    pub(super) db: Db,
    pub(super) clock: crate::clock::Clock,
    pub(super) streams: std::sync::Arc<Streams>,
    /// This stream's number among those of its (claim, file).
    pub(super) stream: u64,
    pub(super) claim_hash: [u8; 32],
    pub(super) share: String,
    pub(super) index: i64,
    /// Whether this response ends at the file's last byte.
    pub(super) reaches_end: bool,
    pub(super) len: u64,
    pub(super) sent: u64,
    pub(super) reported: u64,
    pub(super) last_touch: Instant,
    pub(super) finished: bool,
    /// Whether this stream keeps its claim alive (a re-fetch after the
    /// file went out whole does not).
    pub(super) extends_grace: bool,
    /// When the link expires: the stream stops at its first piece after.
    pub(super) ends_at: Option<i64>,
}

impl Progress {
    /// The database work of a report; `complete` marks this file done,
    /// `refresh` restarts the claim's grace (a live stream does; a broken
    /// one does not, its grace runs from its last sign of life).
    fn job(
        &mut self,
        complete: bool,
        refresh: bool,
    ) -> impl FnOnce(&mut Connection) -> Result<(), Error> + Send + 'static {
        let served = i64::try_from(self.sent - self.reported).unwrap_or(i64::MAX);
        self.reported = self.sent;
        self.last_touch = Instant::now();
        let (hash, share, index, now) = (
            self.claim_hash,
            self.share.clone(),
            self.index,
            self.clock.now(),
        );
        move |conn| {
            record(
                conn,
                &hash,
                &share,
                index,
                served,
                complete,
                refresh.then_some(now),
            )
        }
    }
}

impl Drop for Progress {
    /// A download cut short still counts what it sent; the report cannot be
    /// awaited here, so it is spawned (and, arriving at an unknown time,
    /// leaves the claim's grace alone).
    fn drop(&mut self) {
        self.streams.end(self.claim_hash, self.index, self.stream);
        if self.finished || self.sent == self.reported {
            return;
        }
        let job = self.job(false, false);
        let db = self.db.clone();
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = db.call(job).await {
                    tracing::debug!(error = %e, "a share download's progress was not recorded");
                }
            });
        }
    }
}

/// Wraps a blob stream so that its progress reaches the claim. The first
/// piece waits until the database knows ciphertext went out (so a lapse
/// after it counts), and the final piece until it has counted the download
/// (so a client holding the last byte can rely on the link being spent). A
/// stream superseded by a newer request for the same file, or whose claim
/// is gone, ends with an error before its end.
pub(super) fn tracked(
    stream: super::super::range::BlobStream,
    progress: Progress,
) -> impl futures_util::Stream<Item = std::io::Result<axum::body::Bytes>> + Send + 'static {
    futures_util::stream::unfold(
        (stream, progress),
        |(mut stream, mut progress)| async move {
            if progress.finished {
                return None;
            }
            let stop = |e: String| std::io::Error::other(e);
            let item = stream.next().await?;
            let chunk = match item {
                Ok(chunk) => chunk,
                Err(e) => return Some((Err(e), (stream, progress))),
            };
            // Checked before every piece, in memory: a newer request for
            // the file, a revoke or a new expiry (both stop the link's
            // streams), or the link's expiry passing.
            if !progress
                .streams
                .is_current(progress.claim_hash, progress.index, progress.stream)
            {
                progress.finished = true;
                let e = stop("superseded, or the link was revoked".into());
                return Some((Err(e), (stream, progress)));
            }
            if progress.ends_at.is_some_and(|t| progress.clock.now() >= t) {
                progress.finished = true;
                return Some((Err(stop("the link expired".into())), (stream, progress)));
            }
            progress.sent += chunk.len() as u64;
            let last = progress.sent == progress.len && progress.reaches_end;
            if last || progress.reported == 0 || progress.last_touch.elapsed() >= TOUCH_EVERY {
                let job = progress.job(last, progress.extends_grace);
                if let Err(e) = progress.db.call(job).await {
                    progress.finished = true;
                    return Some((Err(stop(e.to_string())), (stream, progress)));
                }
                progress.finished = last;
            }
            Some((Ok(chunk), (stream, progress)))
        },
    )
}
