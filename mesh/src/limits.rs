//! Bounds both meshes share: connection limits, and per-peer request rate
//! limits (a token bucket each).

use std::{collections::HashMap, time::Instant};

use libp2p::{PeerId, connection_limits};

/// Connection limits: `max` established in all, 2 per peer, 64 pending
/// each way.
pub(crate) fn connections(max: u32) -> connection_limits::Behaviour {
    connection_limits::Behaviour::new(
        connection_limits::ConnectionLimits::default()
            .with_max_established(Some(max))
            .with_max_established_per_peer(Some(2))
            .with_max_pending_incoming(Some(64))
            .with_max_pending_outgoing(Some(64)),
    )
}

/// Token buckets for the peers currently connected.
#[derive(Debug)]
pub(crate) struct RateLimits {
    per_second: f64,
    burst: f64,
    buckets: HashMap<PeerId, (f64, Instant)>,
}

impl RateLimits {
    pub(crate) fn new(per_second: u32, burst: u32) -> RateLimits {
        RateLimits {
            per_second: f64::from(per_second),
            burst: f64::from(burst),
            buckets: HashMap::new(),
        }
    }

    /// Takes a token for `peer`, or says it has none left.
    pub(crate) fn allow(&mut self, peer: PeerId, now: Instant) -> bool {
        let (tokens, last) = self.buckets.entry(peer).or_insert((self.burst, now));
        let refill = now.saturating_duration_since(*last).as_secs_f64() * self.per_second;
        *tokens = (*tokens + refill).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Forgets a peer that has gone (so the map stays as small as the
    /// connection limit).
    pub(crate) fn forget(&mut self, peer: &PeerId) {
        self.buckets.remove(peer);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_burst_is_allowed_then_refilled_at_the_rate() {
        let mut limits = RateLimits::new(10, 5);
        let peer = libp2p::identity::Keypair::generate_ed25519()
            .public()
            .to_peer_id();
        let t0 = Instant::now();
        assert!((0..5).all(|_| limits.allow(peer, t0)));
        assert!(!limits.allow(peer, t0));
        assert!(limits.allow(peer, t0 + Duration::from_millis(100)));
        assert!(!limits.allow(peer, t0 + Duration::from_millis(100)));
    }
}
