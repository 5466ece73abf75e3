//! The client's address, which rate limits are keyed by.

use std::net::IpAddr;

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::request::Parts,
};

use crate::{Error, state::AppState};

/// The client's address: the TCP peer, or, behind trusted proxies
/// (`NOCTURNE_TRUST_PROXY`, `NOCTURNE_TRUSTED_PROXIES` = n), the n-th
/// `X-Forwarded-For` entry from the right: the one the first trusted proxy
/// appended (entries left of it are the client's to forge).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ClientAddr(pub(crate) Option<IpAddr>);

/// Entries of `X-Forwarded-For` looked at, from the right.
const MAX_FORWARDED: usize = 64;

/// One `X-Forwarded-For` entry as proxies write it: an address,
/// `ip:port`, `[ipv6]` or `[ipv6]:port`.
fn forwarded_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<std::net::SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse().ok())
        })
}

/// The client in `X-Forwarded-For` header values behind `proxies` trusted
/// proxies, if the entry there is an address.
fn forwarded_client<'a>(values: impl Iterator<Item = &'a str>, proxies: usize) -> Option<IpAddr> {
    let entries: Vec<&str> = values.flat_map(|v| v.split(',')).collect();
    let from_right = proxies.clamp(1, MAX_FORWARDED);
    let entry = entries.len().checked_sub(from_right).map(|i| entries[i])?;
    forwarded_entry(entry)
}

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Error> {
        if state.trust_proxy {
            let forwarded = forwarded_client(
                parts
                    .headers
                    .get_all("x-forwarded-for")
                    .iter()
                    .filter_map(|v| v.to_str().ok()),
                state.trusted_proxies,
            );
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_entry_the_first_trusted_proxy_appended_is_the_client() {
        let ip = |s: &str| s.parse::<IpAddr>().ok();
        let one = |v: &str| forwarded_client([v].into_iter(), 1);
        assert_eq!(one("203.0.113.9, 198.51.100.4"), ip("198.51.100.4"));
        assert_eq!(one("203.0.113.9, 198.51.100.4:443"), ip("198.51.100.4"));
        assert_eq!(one("203.0.113.9,[2001:db8::7]:8443"), ip("2001:db8::7"));
        assert_eq!(one("[2001:db8::7]"), ip("2001:db8::7"));
        assert_eq!(one("2001:db8::7"), ip("2001:db8::7"));
        assert_eq!(one("203.0.113.9, garbage"), None);
        assert_eq!(one(""), None);
        let two = |v: &str| forwarded_client(v.split('|'), 2);
        assert_eq!(
            two("203.0.113.9, 198.51.100.4|192.0.2.1"),
            ip("198.51.100.4")
        );
        assert_eq!(two("192.0.2.1"), None, "fewer entries than proxies");
    }
}
