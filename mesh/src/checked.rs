//! A request-response codec wrapper that hands a request which does not
//! decode (malformed, or cut off at the size limit) to the behaviour as
//! [`Inbound::Malformed`] instead of failing the stream.
//!
//! libp2p-request-response drops a stream whose request fails to decode
//! with only a debug log: no event reaches the swarm's owner, which could
//! then not tell, let alone drop, the peer that sent it. Through this
//! wrapper the event loop sees every bad request and disconnects its sender.

use std::io;

use futures::{AsyncRead, AsyncWrite};
use libp2p::request_response::Codec;

/// A request as it arrived.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Inbound<T> {
    /// It decoded.
    Valid(T),
    /// It did not: garbage, or longer than the limit.
    Malformed,
}

/// Wraps a codec; see the module's documentation.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checked<C>(pub(crate) C);

/// Transport failures, as opposed to bytes that are not a request.
fn is_transport(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::NotConnected
            | io::ErrorKind::TimedOut
    )
}

impl<C> Codec for Checked<C>
where
    C: Codec + Send + Clone,
    C::Protocol: Sync,
    C::Request: Send,
{
    type Protocol = C::Protocol;
    type Request = Inbound<C::Request>;
    type Response = C::Response;

    async fn read_request<T>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<Self::Request>
    where
        T: AsyncRead + Unpin + Send,
    {
        match self.0.read_request(protocol, io).await {
            Ok(request) => Ok(Inbound::Valid(request)),
            Err(e) if is_transport(&e) => Err(e),
            Err(_) => Ok(Inbound::Malformed),
        }
    }

    async fn read_response<T>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
    ) -> io::Result<Self::Response>
    where
        T: AsyncRead + Unpin + Send,
    {
        self.0.read_response(protocol, io).await
    }

    async fn write_request<T>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
        request: Self::Request,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        match request {
            Inbound::Valid(request) => self.0.write_request(protocol, io, request).await,
            Inbound::Malformed => Err(io::Error::other("a malformed request is never sent")),
        }
    }

    async fn write_response<T>(
        &mut self,
        protocol: &Self::Protocol,
        io: &mut T,
        response: Self::Response,
    ) -> io::Result<()>
    where
        T: AsyncWrite + Unpin + Send,
    {
        self.0.write_response(protocol, io, response).await
    }
}
