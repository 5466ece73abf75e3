//! The client's address, which rate limits are keyed by.

use std::net::IpAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use crate::{Error, state::AppState};

/// The client's address: the TCP peer, or, behind a trusted proxy
/// (`NOCTURNE_TRUST_PROXY`), the last address in `X-Forwarded-For` (the one
/// the proxy itself appended; earlier entries are the client's to forge).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if state.trust_proxy {
            let forwarded = parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|v| v.trim().parse::<IpAddr>().ok())
                .next_back();
            if forwarded.is_some() {
                return Ok(ClientAddr(forwarded));
            }
        }
        let peer = parts
            .extensions
            .get::<ConnectInfo<super::conn::Peer>>()
            .map(|ConnectInfo(peer)| peer.0.ip());
        Ok(ClientAddr(peer))
    }
}
