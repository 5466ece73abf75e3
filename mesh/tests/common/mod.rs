//! Helpers shared by the mesh's swarm tests.

use std::time::{Duration, Instant};

/// How long any one condition may take to come true.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// Polls a condition until it holds (with a deadline); no bare sleeps.
pub async fn poll<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let started = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(
            started.elapsed() < DEADLINE,
            "timed out waiting until {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
