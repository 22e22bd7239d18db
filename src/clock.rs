//! The time, passed in: production reads the system clock; tests drive a [`ManualClock`] and run weeks of
//! schedule in moments, without waiting for a wall-clock minute.

use std::time::{SystemTime, UNIX_EPOCH};

use tokio::sync::watch;

/// A source of the current time, in unix seconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in seconds since 1970-01-01 UTC.
    fn now(&self) -> i64;

    /// Now, in milliseconds since 1970-01-01 UTC: for waits that must end on a boundary (the daily planner wakes
    /// on the minute, not up to a second after it). A clock of whole seconds reads as its second's start.
    fn now_ms(&self) -> i64 {
        self.now().saturating_mul(1000)
    }

    /// For a clock moved by hand: a receiver that sees every move, so schedulers re-check at once. `None` for the
    /// system clock, which schedulers simply re-read at least every minute.
    fn watch(&self) -> Option<watch::Receiver<i64>>;
}

/// The system's clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
    }

    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
    }

    fn watch(&self) -> Option<watch::Receiver<i64>> {
        None
    }
}

/// A clock that only moves when told to: for tests, and for replaying a schedule.
#[derive(Debug)]
pub struct ManualClock {
    now: watch::Sender<i64>,
}

impl ManualClock {
    /// A clock showing `now`.
    pub fn new(now: i64) -> ManualClock {
        ManualClock {
            now: watch::Sender::new(now),
        }
    }

    /// Sets the time; everyone watching sees it.
    pub fn set(&self, now: i64) {
        self.now.send_replace(now);
    }

    /// Moves the time forward by `seconds`.
    pub fn advance(&self, seconds: i64) {
        self.set(self.now() + seconds);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> i64 {
        *self.now.borrow()
    }

    fn watch(&self) -> Option<watch::Receiver<i64>> {
        Some(self.now.subscribe())
    }
}

/// Resolves when a watched clock moves past what `watch` has seen; never for the system clock.
pub async fn moved(watch: &mut Option<watch::Receiver<i64>>) {
    match watch {
        Some(receiver) => {
            if receiver.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
        None => std::future::pending::<()>().await,
    }
}

/// Marks the current time of a watched clock as seen.
pub fn mark_seen(watch: &mut Option<watch::Receiver<i64>>) {
    if let Some(receiver) = watch {
        receiver.borrow_and_update();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_move_is_never_missed() {
        let clock = ManualClock::new(100);
        let mut watch = clock.watch();
        mark_seen(&mut watch);
        clock.advance(50); // before anyone waits
        tokio::time::timeout(std::time::Duration::from_secs(1), moved(&mut watch))
            .await
            .unwrap_or_else(|_| panic!("the move was missed"));
        assert_eq!(clock.now(), 150);
    }
}
