//! Rate limits for guessable operations (log in, register, recovery, share
//! links), whatever front end they arrive through. The HTTP front end keys
//! them by the client's address (`http::client`).
//!
//! Token buckets in memory, keyed by (what, who): `who` is an account name
//! or a client address, so both a single account under attack from many
//! addresses and one address trying many accounts run dry. The table is
//! bounded: when full, idle buckets (back to full capacity) are dropped
//! first; if none is idle, the new key is refused rather than growing the
//! table, which fails closed under a flood of distinct keys.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use crate::Error;

/// How many buckets the table holds at most.
const MAX_KEYS: usize = 100_000;

/// A limit: `burst` attempts at once, refilled at one per `every`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rate {
    pub(crate) burst: u32,
    pub(crate) every: Duration,
}

/// Log in: per client address, and per account name.
pub(crate) const LOGIN_PER_CLIENT: Rate = Rate {
    burst: 20,
    every: Duration::from_secs(3),
};
pub(crate) const LOGIN_PER_ACCOUNT: Rate = Rate {
    burst: 10,
    every: Duration::from_secs(6),
};
/// Register: per client address.
pub(crate) const REGISTER_PER_CLIENT: Rate = Rate {
    burst: 5,
    every: Duration::from_secs(60),
};
/// Recovery (fetching the recovery-wrapped key and resetting): per client
/// and per account.
pub(crate) const RECOVER_PER_CLIENT: Rate = Rate {
    burst: 10,
    every: Duration::from_secs(6),
};
pub(crate) const RECOVER_PER_ACCOUNT: Rate = Rate {
    burst: 5,
    every: Duration::from_secs(60),
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
/// move them). Bounded like the buckets.
#[derive(Debug, Default)]
pub(crate) struct Penalties {
    table: Mutex<HashMap<String, Penalty>>,
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
    fn table(&self) -> std::sync::MutexGuard<'_, HashMap<String, Penalty>> {
        self.table
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Refuses an attempt that comes before the client's delay is over.
    pub(crate) fn check(&self, who: &str, now: i64) -> Result<(), Error> {
        match self.table().get(who) {
            Some(p) if now < p.next && now - p.last < PENALTY_MEMORY => Err(Error::RateLimited {
                retry_after: u64::try_from(p.next - now).unwrap_or(1).max(1),
            }),
            _ => Ok(()),
        }
    }

    /// Counts a wrong attempt.
    pub(crate) fn failed(&self, who: &str, now: i64) {
        let mut table = self.table();
        if !table.contains_key(who) && table.len() >= MAX_KEYS {
            table.retain(|_, p| now - p.last < PENALTY_MEMORY);
            if table.len() >= MAX_KEYS {
                return; // the per-link delays and the buckets still hold
            }
        }
        let p = table.entry(who.to_owned()).or_insert(Penalty {
            failures: 0,
            next: now,
            last: now,
        });
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

/// The table of buckets.
#[derive(Debug, Default)]
pub(crate) struct Limiter {
    buckets: Mutex<HashMap<(&'static str, String), Bucket>>,
}

impl Limiter {
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
        if !buckets.contains_key(&key) && buckets.len() >= MAX_KEYS {
            // Idle buckets carry no information: a fresh one would be the same.
            buckets.retain(|_, b| refill(b) < burst);
            if buckets.len() >= MAX_KEYS {
                return Err(Error::RateLimited {
                    retry_after: rate.every.as_secs().max(1),
                });
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: burst,
            updated: now,
        });
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
