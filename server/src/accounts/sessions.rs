//! How long a session lives: [`IDLE`] without use or [`ABSOLUTE`] after
//! login, whichever comes first.

/// A session unused this long (seconds) is over: one day.
pub(crate) const IDLE: i64 = 24 * 60 * 60;
/// No session outlives this (seconds) from its login: fourteen days.
pub(crate) const ABSOLUTE: i64 = 14 * 24 * 60 * 60;
/// Whether a session that began at `created` and was last used at
/// `last_seen` is still alive at `now`.
pub(crate) fn alive(created: i64, last_seen: i64, now: i64) -> bool {
    now < created.saturating_add(ABSOLUTE) && now < last_seen.saturating_add(IDLE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_end_when_idle_or_old() {
        let t = 1_000_000;
        assert!(alive(t, t, t + 10));
        assert!(!alive(t, t, t + IDLE), "idle for a day");
        assert!(alive(t, t + ABSOLUTE - 100, t + ABSOLUTE - 1));
        assert!(!alive(t, t + ABSOLUTE - 1, t + ABSOLUTE), "absolute limit");
    }
}
