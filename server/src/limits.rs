//! Rate limits for guessable operations (log in, register, recovery, share
//! links), whatever front end they arrive through. The HTTP front end keys
//! them by the client's address (`http::client`).
//!
//! Token buckets in memory, keyed by (what, who): `who` is an account name
//! or a client address, so both a single account under attack from many
//! addresses and one address trying many accounts run dry.
//!
//! The table is bounded and stays O(1) per check: it is an LRU map, and a
//! new key past its capacity evicts the bucket used longest ago. So a
//! flood of distinct keys never gets anybody refused who has not been
//! refused on their own account (a new key starts with a full bucket), and
//! what it evicts is the idlest buckets, whose refill made them nearly
//! full anyway. The keys a flood could cycle through are bounded from the
//! other side too: client addresses are aggregated (an IPv6 address to its
//! /64, and to its /48 once many /64s of that /48 show up, see
//! [`Limiter::client_key`]).

use std::{
    net::IpAddr,
    sync::Mutex,
    time::{Duration, Instant},
};

use hashlink::LruCache;

use crate::Error;

/// How many buckets the table holds at most.
const MAX_KEYS: usize = 100_000;
/// Distinct /64s of one /48 seen recently before the /48 is one client.
const WIDE_AFTER: usize = 16;
/// /48s whose /64s are remembered.
const MAX_PREFIXES: usize = 10_000;

/// A limit: `burst` attempts at once, refilled at one per `every`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) burst: u32,
    pub(crate) every: Duration,
}

/// Log in: per client address (failures also slow each (account, client)
/// pair on their own, see `http::auth`).
pub(crate) const LOGIN_PER_CLIENT: Rate = Rate {
    burst: 20,
    every: Duration::from_secs(3),
};
/// Checking the password of a signed-in account (change, deletion), per
/// account: only its own sessions reach it.
pub(crate) const PASSWORD_CHECK_PER_ACCOUNT: Rate = Rate {
    burst: 10,
    every: Duration::from_secs(6),
};
/// Register: per client address.
pub(crate) const REGISTER_PER_CLIENT: Rate = Rate {
    burst: 5,
    every: Duration::from_secs(60),
};
/// Recovery (fetching the recovery-wrapped key and resetting): per client
/// (failures also slow each (account, client) pair, like logging in).
pub(crate) const RECOVER_PER_CLIENT: Rate = Rate {
    burst: 10,
    every: Duration::from_secs(6),
};
/// Key-derivation parameters (cheap, but a username oracle if unlimited).
pub(crate) const PARAMS_PER_CLIENT: Rate = Rate {
    burst: 60,
    every: Duration::from_secs(1),
};

/// Share links: learning how to derive a link's keys, per client address.
pub(crate) const SHARE_INFO_PER_CLIENT: Rate = Rate {
    burst: 60,
    every: Duration::from_secs(1),
};
/// Share links: presenting an access token (open, claim), per client
/// address; each link also slows and locks on its own (`shares`).
pub(crate) const SHARE_ATTEMPT_PER_CLIENT: Rate = Rate {
    burst: 30,
    every: Duration::from_secs(2),
};

/// Seconds to wait after the `failures`-th consecutive wrong attempt: the
/// first three are free, then 1, 2, 4 … seconds, at most five minutes.
pub(crate) fn growing_delay(failures: i64) -> i64 {
    const FREE: i64 = 3;
    const MAX: i64 = 300;
    if failures < FREE {
        0
    } else {
        let doubling = u32::try_from(failures - FREE).unwrap_or(u32::MAX);
        1i64.checked_shl(doubling.min(30)).unwrap_or(MAX).min(MAX)
    }
}

/// Wrong attempts per client, each making the next wait longer
/// ([`growing_delay`]); forgotten after an hour without one, or at the
/// first right attempt. Times are the share clock's seconds (so tests can
/// move them). Bounded like the buckets (an LRU map).
#[derive(Debug)]
pub(crate) struct Penalties {
    table: Mutex<LruCache<String, Penalty>>,
}

impl Default for Penalties {
    fn default() -> Penalties {
        Penalties {
            table: Mutex::new(LruCache::new(MAX_KEYS)),
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct Penalty {
    failures: i64,
    next: i64,
    last: i64,
}

/// A client's wrong attempts are forgotten after this long without one.
const PENALTY_MEMORY: i64 = 60 * 60;

impl Penalties {
    fn table(&self) -> std::sync::MutexGuard<'_, LruCache<String, Penalty>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses an attempt that comes before the client's delay is over.
    pub(crate) fn check(&self, who: &str, now: i64) -> Result<(), Error> {
        match self.table().peek(who) {
            Some(p) if now < p.next && now - p.last < PENALTY_MEMORY => Err(Error::RateLimited {
                retry_after: u64::try_from(p.next - now).unwrap_or(1).max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a wrong attempt.
    pub(crate) fn failed(&self, who: &str, now: i64) {
        let mut table = self.table();
        if table.get(who).is_none() {
            // Past capacity this evicts the penalty touched longest ago.
            table.insert(
                who.to_owned(),
                Penalty {
                    failures: 0,
                    next: now,
                    last: now,
                },
            );
        }
        let Some(p) = table.get_mut(who) else {
            return;
        };
        if now - p.last >= PENALTY_MEMORY {
            p.failures = 0;
        }
        p.failures += 1;
        p.last = now;
        p.next = now + growing_delay(p.failures);
    }

    /// A right attempt clears the client's count.
    pub(crate) fn succeeded(&self, who: &str) {
        self.table().remove(who);
    }
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// The table of buckets, and the /48s whose /64s it has seen.
#[derive(Debug)]
pub(crate) struct Limiter {
    buckets: Mutex<LruCache<(&'static str, String), Bucket>>,
    prefixes: Mutex<LruCache<[u16; 3], Vec<u16>>>,
}

impl Default for Limiter {
    fn default() -> Limiter {
        Limiter::with_capacity(MAX_KEYS)
    }
}

impl Limiter {
    /// A table of at most `capacity` buckets.
    pub(crate) fn with_capacity(capacity: usize) -> Limiter {
        Limiter {
            buckets: Mutex::new(LruCache::new(capacity.max(1))),
            prefixes: Mutex::new(LruCache::new(MAX_PREFIXES)),
        }
    }

    /// The key a client's limits go by: its IPv4 address; for IPv6 its /64
    /// (one host usually holds a whole /64), or its /48 once
    /// [`WIDE_AFTER`] distinct /64s of that /48 have been seen recently
    /// (a free /48 holds 65,536 /64s: each would otherwise be a fresh
    /// client). "unknown" without an address.
    pub(crate) fn client_key(&self, ip: Option<IpAddr>) -> String {
        let v6 = match ip {
            None => return "unknown".to_owned(),
            Some(IpAddr::V4(v4)) => return v4.to_string(),
            Some(IpAddr::V6(v6)) => match v6.to_ipv4_mapped() {
                Some(v4) => return v4.to_string(),
                None => v6,
            },
        };
        let s = v6.segments();
        let wide = {
            let mut prefixes = self
                .prefixes
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let key = [s[0], s[1], s[2]];
            if prefixes.get(&key).is_none() {
                prefixes.insert(key, Vec::new());
            }
            match prefixes.get_mut(&key) {
                Some(seen) => {
                    if !seen.contains(&s[3]) {
                        if seen.len() >= WIDE_AFTER {
                            seen.remove(0);
                        }
                        seen.push(s[3]);
                    }
                    seen.len() >= WIDE_AFTER
                }
                None => false,
            }
        };
        if wide {
            format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2])
        } else {
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }

    /// Takes one token from the bucket `(what, who)` under `rate`, or says
    /// how long to wait.
    pub(crate) fn check(&self, what: &'static str, who: &str, rate: Rate) -> Result<(), Error> {
        self.check_at(what, who, rate, Instant::now())
    }

    fn check_at(
        &self,
        what: &'static str,
        who: &str,
        rate: Rate,
        now: Instant,
    ) -> Result<(), Error> {
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let burst = f64::from(rate.burst);
        let per_second = 1.0 / rate.every.as_secs_f64();
        let refill = |b: &Bucket| {
            (b.tokens + now.saturating_duration_since(b.updated).as_secs_f64() * per_second)
                .min(burst)
        };
        let key = (what, who.to_owned());
        if buckets.get(&key).is_none() {
            // Past capacity this evicts the bucket used longest ago.
            buckets.insert(
                key.clone(),
                Bucket {
                    tokens: burst,
                    updated: now,
                },
            );
        }
        let Some(bucket) = buckets.get_mut(&key) else {
            return Ok(());
        };
        bucket.tokens = refill(bucket);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - bucket.tokens) / per_second;
            Err(Error::RateLimited {
                retry_after: wait.ceil().max(1.0) as u64,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_then_cap() {
        let delays: Vec<i64> = (0..=12).map(growing_delay).collect();
        assert_eq!(delays, [0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300]);
        assert_eq!(growing_delay(1000), 300);
    }

    #[test]
    fn a_client_waits_longer_after_each_wrong_attempt() {
        let p = Penalties::default();
        for _ in 0..3 {
            p.check("a", 100).expect("free attempts");
            p.failed("a", 100);
        }
        let Err(Error::RateLimited { retry_after }) = p.check("a", 100) else {
            panic!("the fourth attempt must wait");
        };
        assert_eq!(retry_after, 1);
        p.check("a", 101).expect("after the delay");
        p.failed("a", 101);
        assert!(p.check("a", 102).is_err(), "the fifth waits 2 s");
        p.check("a", 103).expect("after the delay");
        p.check("b", 100).expect("another client is unaffected");
        p.failed("a", 103 + PENALTY_MEMORY);
        p.check("a", 103 + PENALTY_MEMORY)
            .expect("forgotten after an hour");
        p.succeeded("a");
        p.check("a", 0).expect("a right attempt clears the count");
    }

    /// A flood of distinct keys fills the table: a client that has done
    /// nothing is still served, in constant time (the table once refused
    /// every new client with 429 after scanning all of it).
    #[test]
    fn a_full_table_never_refuses_a_newcomer() {
        let limiter = Limiter::with_capacity(1000);
        let rate = Rate {
            burst: 1,
            every: Duration::from_secs(3600),
        };
        let t0 = Instant::now();
        for n in 0..5000 {
            let who = format!("flood-{n}");
            limiter.check_at("recover", &who, rate, t0).expect("first");
            assert!(limiter.check_at("recover", &who, rate, t0).is_err());
        }
        limiter
            .check_at("recover", "newcomer", rate, t0)
            .expect("a client that has done nothing is served");
        // A key in active use stays: the flood evicts the idlest.
        let busy = Limiter::with_capacity(100);
        busy.check_at("login", "hot", rate, t0).expect("first");
        for n in 0..1000 {
            busy.check_at("login", &format!("k{n}"), rate, t0).ok();
            assert!(
                busy.check_at("login", "hot", rate, t0).is_err(),
                "hot was evicted at {n}"
            );
        }
    }

    #[test]
    fn many_slash_64s_of_one_slash_48_become_one_client() {
        let limiter = Limiter::default();
        let key = |ip: &str| limiter.client_key(Some(ip.parse().expect("ip")));
        assert_eq!(key("192.0.2.7"), "192.0.2.7");
        assert_eq!(key("::ffff:192.0.2.7"), "192.0.2.7");
        assert_eq!(key("2001:db8:1:2:aaaa::1"), key("2001:db8:1:2:bbbb::2"));
        assert_ne!(key("2001:db8:1:2::1"), key("2001:db8:1:3::1"));
        let mut keys = std::collections::BTreeSet::new();
        for n in 0..1000u16 {
            keys.insert(key(&format!("2001:db8:7:{n:x}::1")));
        }
        assert!(keys.len() <= WIDE_AFTER, "{} keys from one /48", keys.len());
        assert!(keys.contains("2001:db8:7::/48"), "{keys:?}");
        // Another /48 is unaffected.
        assert_eq!(key("2001:db8:8:1::1"), "2001:db8:8:1::/64");
    }

    #[test]
    fn a_bucket_runs_dry_then_refills() {
        let limiter = Limiter::default();
        let rate = Rate {
            burst: 3,
            every: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        for _ in 0..3 {
            limiter
                .check_at("login", "a", rate, t0)
                .expect("within burst");
        }
        let Err(Error::RateLimited { retry_after }) = limiter.check_at("login", "a", rate, t0)
        else {
            panic!("the fourth attempt must be refused");
        };
        assert_eq!(retry_after, 10);
        // Another key is unaffected; the same key refills with time.
        limiter.check_at("login", "b", rate, t0).expect("other key");
        limiter
            .check_at("login", "a", rate, t0 + Duration::from_secs(10))
            .expect("refilled");
    }
}
