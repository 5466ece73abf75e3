//! Time as the agent mesh sees it: Unix seconds, from the system or, in
//! tests, from a clock the test moves (vote windows, claim expiries and
//! anomaly windows are all judged against it, so a test never sleeps
//! through a window).

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

/// Unix seconds: the system's, or a manual clock's.
#[derive(Debug, Clone, Default)]
pub struct Clock(Option<Arc<AtomicU64>>);

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `start` until moved (clones share it).
    pub fn manual(start: u64) -> Clock {
        Clock(Some(Arc::new(AtomicU64::new(start))))
    }

    /// Now, in Unix seconds.
    pub fn now(&self) -> u64 {
        match &self.0 {
            Some(t) => t.load(Ordering::SeqCst),
            None => super::now(),
        }
    }

    /// Moves a manual clock forward by `secs` (the system clock moves by
    /// itself: nothing happens).
    pub fn advance(&self, secs: u64) {
        if let Some(t) = &self.0 {
            t.fetch_add(secs, Ordering::SeqCst);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_moves_only_when_told_and_clones_share_it() {
        let clock = Clock::manual(1000);
        let other = clock.clone();
        assert_eq!(clock.now(), 1000);
        other.advance(30);
        assert_eq!(clock.now(), 1030);
        assert!(Clock::system().now() > 1_700_000_000);
    }
}
