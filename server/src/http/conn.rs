//! Connections: at most [`MAX_CONNECTIONS`] at once, and none idle for more
//! than [`IDLE_LIMIT`].
//!
//! The cap is taken before `accept`, so beyond it new connections wait in
//! the kernel's backlog instead of costing memory here. The idle limit
//! counts from the last byte read or written in either direction, so a
//! slow but moving upload or download is never cut, while a client that
//! opens connections and goes silent (or stops reading a response) loses
//! them after a minute.

use std::{
    io,
    net::SocketAddr,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    extract::connect_info::Connected,
    serve::{IncomingStream, Listener},
};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
    sync::{OwnedSemaphorePermit, Semaphore},
    time::{Instant, Sleep},
};

/// Connections served at once.
pub(crate) const MAX_CONNECTIONS: usize = 1024;
/// A connection with no byte moving for this long is closed.
pub(crate) const IDLE_LIMIT: Duration = Duration::from_secs(60);

/// A TCP listener that enforces both limits.
#[derive(Debug)]
pub(crate) struct Guarded {
    inner: TcpListener,
    permits: Arc<Semaphore>,
}

impl Guarded {
    pub(crate) fn new(inner: TcpListener) -> Self {
        Guarded {
            inner,
            permits: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }
}

impl Listener for Guarded {
    type Io = Timed<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        // The semaphore is never closed, so this cannot fail; if it somehow
        // did, serving without a permit beats refusing everyone.
        let permit = self.permits.clone().acquire_owned().await.ok();
        let (stream, addr) = Listener::accept(&mut self.inner).await;
        (Timed::new(stream, IDLE_LIMIT, permit), addr)
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        self.inner.local_addr()
    }
}

/// The peer's address, as handlers see it through `ConnectInfo<Peer>`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Peer(pub(crate) SocketAddr);

impl Connected<IncomingStream<'_, Guarded>> for Peer {
    fn connect_info(stream: IncomingStream<'_, Guarded>) -> Self {
        Peer(*stream.remote_addr())
    }
}

/// A stream that fails with `TimedOut` once nothing has moved for `limit`,
/// holding its connection permit until it is dropped.
#[derive(Debug)]
pub(crate) struct Timed<S> {
    io: S,
    limit: Duration,
    idle: Pin<Box<Sleep>>,
    _permit: Option<OwnedSemaphorePermit>,
}

impl<S> Timed<S> {
    pub(crate) fn new(io: S, limit: Duration, permit: Option<OwnedSemaphorePermit>) -> Self {
        Timed {
            io,
            limit,
            idle: Box::pin(tokio::time::sleep(limit)),
            _permit: permit,
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
