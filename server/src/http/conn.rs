//! Connections: at most so many at once (1024 by default), at most so many
//! from one client address (64), and none idle for more than
//! [`IDLE_LIMIT`].
//!
//! The global cap is taken before `accept`, so beyond it new connections
//! wait in the kernel's backlog instead of costing memory here. The
//! per-address cap is checked right after: a connection past it is closed
//! at once, so one address cannot hold every slot and starve the others.
//! The idle limit counts from the last byte read or written in either
//! direction, so a slow but moving upload or download is never cut, while
//! a client that opens connections and goes silent (or stops reading a
//! response) loses them after a minute. (A client that trickles a request
//! head a byte at a time is cut by hyper's header-read timeout, see
//! `http::serve`.)

use std::{
    collections::HashMap,
    io,
    net::{IpAddr, SocketAddr},
    pin::Pin,
    sync::{Arc, Mutex},
    task::{Context, Poll},
    time::Duration,
};

use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

/// A connection with no byte moving for this long is closed.
pub(crate) const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// How many connections, in all and from one address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections served at once.
    pub total: usize,
    /// Connections from one client address (an IPv6 address's /64) at once.
    pub per_client: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            total: 1024,
            per_client: 64,
        }
    }
}

/// Open connections per client address.
type Counts = Arc<Mutex<HashMap<IpAddr, usize>>>;

/// A TCP listener that enforces the limits.
#[derive(Debug)]
pub(crate) struct Guarded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    per_client: usize,
    counts: Counts,
}

/// The address a client's connections are counted under: an IPv4 address,
/// or the /64 an IPv6 address is in.
fn client_of(addr: &SocketAddr) -> IpAddr {
    match addr.ip() {
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
        v4 => v4,
    }
}

impl Guarded {
    pub(crate) fn new(inner: TcpListener, limits: Limits) -> Self {
        Guarded {
            inner,
            permits: Arc::new(Semaphore::new(limits.total.max(1))),
            per_client: limits.per_client.max(1),
            counts: Arc::default(),
        }
    }

    /// The next connection within the limits (ones past the per-address
    /// cap are closed as they come).
    pub(crate) async fn accept(&mut self) -> (Timed<TcpStream>, SocketAddr) {
        loop {
            // The semaphore is never closed, so this cannot fail; if it
            // somehow did, serving without a permit beats refusing everyone.
            let permit = self.permits.clone().acquire_owned().await.ok();
            let (stream, addr) = match self.inner.accept().await {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: wait a little
                    // rather than spin.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            };
            stream.set_nodelay(true).ok();
            let client = client_of(&addr);
            {
                let mut counts = self
                    .counts
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                let open = counts.entry(client).or_default();
                if *open >= self.per_client {
                    tracing::debug!(%client, "too many connections from one address; closing one");
                    drop(stream);
                    continue;
                }
                *open += 1;
            }
            let slot = Slot {
                counts: self.counts.clone(),
                client,
                _permit: permit,
            };
            return (Timed::new(stream, IDLE_LIMIT, Some(slot)), addr);
        }
    }
}

/// A connection's place: its global permit and its count under its
/// address, both given back when the connection is dropped.
#[derive(Debug)]
pub(crate) struct Slot {
    counts: Counts,
    client: IpAddr,
    _permit: Option<OwnedSemaphorePermit>,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(open) = counts.get_mut(&self.client) {
            *open = open.saturating_sub(1);
            if *open == 0 {
                counts.remove(&self.client);
            }
        }
    }
}

/// The peer's address, as handlers see it through `ConnectInfo<Peer>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

/// A stream that fails with `TimedOut` once nothing has moved for `limit`,
/// holding its connection's slot until it is dropped.
#[derive(Debug)]
pub(crate) struct Timed<S> {
    io: S,
    limit: Duration,
    idle: Pin<Box<Sleep>>,
    _slot: Option<Slot>,
}

impl<S> Timed<S> {
    pub(crate) fn new(io: S, limit: Duration, slot: Option<Slot>) -> Self {
        Timed {
            io,
            limit,
            idle: Box::pin(tokio::time::sleep(limit)),
            _slot: slot,
        }
    }

    fn touch(&mut self) {
        self.idle.as_mut().reset(Instant::now() + self.limit);
    }

    /// Called when the inner stream is not ready: has the limit passed?
    fn expired(&mut self, cx: &mut Context<'_>) -> bool {
        self.idle.as_mut().poll(cx).is_ready()
    }

    /// A write's outcome: bytes moved keep the connection alive; a write
    /// still pending past the idle limit fails it.
    fn wrote(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match poll {
            Poll::Ready(Ok(n)) => {
                if n > 0 {
                    self.touch();
                }
                Poll::Ready(Ok(n))
            }
            Poll::Pending if self.expired(cx) => Poll::Ready(Err(timed_out())),
            other => other,
        }
    }
}

fn timed_out() -> io::Error {
    io::Error::new(io::ErrorKind::TimedOut, "connection idle for too long")
}

impl<S: AsyncRead + Unpin> AsyncRead for Timed<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        match Pin::new(&mut this.io).poll_read(cx, buf) {
            Poll::Ready(result) => {
                if buf.filled().len() > before {
                    this.touch();
                }
                Poll::Ready(result)
            }
            Poll::Pending if this.expired(cx) => Poll::Ready(Err(timed_out())),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Timed<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write(cx, buf);
        this.wrote(cx, poll)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let poll = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        this.wrote(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    // Paused time: tokio advances the clock only when every task is idle,
    // so these run instantly and deterministically.
    #[tokio::test(start_paused = true)]
    async fn a_silent_peer_is_cut_off_after_the_limit() {
        let (near, _far) = tokio::io::duplex(64);
        let mut timed = Timed::new(near, Duration::from_secs(60), None);
        let started = Instant::now();
        let mut buf = [0u8; 8];
        let err = timed.read(&mut buf).await.expect_err("times out");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(started.elapsed() >= Duration::from_secs(60));
    }

    #[tokio::test(start_paused = true)]
    async fn traffic_keeps_a_connection_alive() {
        let (near, mut far) = tokio::io::duplex(64);
        let mut timed = Timed::new(near, Duration::from_secs(60), None);
        let writer = tokio::spawn(async move {
            for _ in 0..5 {
                tokio::time::sleep(Duration::from_secs(45)).await;
                far.write_all(b"x").await.expect("write");
            }
            far
        });
        let mut buf = [0u8; 1];
        for _ in 0..5 {
            timed
                .read_exact(&mut buf)
                .await
                .expect("a byte every 45 s is not idle");
        }
        let _far = writer.await.expect("writer");
        let err = timed.read(&mut buf).await.expect_err("then silence");
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    }
}
