//! The [`Pacer`]: one send schedule for the bot's background requests, under Discord's global rate limit, shared
//! by every process through the store; a 429 pushes it back for every job at once (at most [`LONGEST_PAUSE`]).

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use tokio::time::Instant;
use tracing::warn;

use crate::store::Store;

/// Spaces the bot's own requests (posts, reads, poll expiries: not interaction replies, which Discord does not
/// count) at most `rate` a second, all of the bot's processes together: each request takes the next free slot of one
/// schedule (in PostgreSQL kept in the store on the database's clock, [`Store::reserve_slots`], shared by every
/// process; over SQLite in this process, the only one), so the bot stays under Discord's global limit before Discord
/// has to say so. A 429 pushes the whole schedule back by Discord's wait, for every job at once. When the store
/// cannot be reached the pacer keeps its own schedule at the same rate (no work is claimed meanwhile anyway).
pub struct Pacer {
    interval: Duration,
    shared: Option<Store>,
    /// The next free slot of the fallback schedule.
    next_free: Mutex<Instant>,
}

/// The longest the background work pauses for one 429: as long as a Cloudflare ban lasts at first. A longer wait
/// asked for is waited in steps (the next request after the pause meets the limit again, if it still holds).
pub const LONGEST_PAUSE: Duration = Duration::from_secs(10 * 60);

impl Pacer {
    /// A pacer for `rate` requests a second (at least one) in this process alone.
    pub fn new(rate: u32) -> Pacer {
        Pacer {
            interval: Duration::from_secs(1) / rate.max(1),
            shared: None,
            next_free: Mutex::new(Instant::now()),
        }
    }

    /// A pacer for `rate` requests a second shared through `store` by every process that uses it (PostgreSQL);
    /// over a database only one process uses (SQLite), a pacer of this process alone, which is the same.
    pub fn shared(rate: u32, store: Store) -> Pacer {
        Pacer {
            shared: store.shares_send_schedule().then_some(store),
            ..Pacer::new(rate)
        }
    }

    /// The time between two requests.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Reserves `count` slots: how long until the first.
    async fn reserve(&self, count: u32) -> Duration {
        if let Some(store) = &self.shared {
            let interval = self.interval;
            match store
                .call(move |store| store.reserve_slots(count, interval))
                .await
            {
                Ok(wait) => return wait,
                Err(error) => warn!(
                    "cannot reserve a send slot in the store; pacing this process alone: {error}"
                ),
            }
        }
        self.reserve_local(count)
    }

    /// Reserves `count` slots of this process's own schedule: how long until the first.
    fn reserve_local(&self, count: u32) -> Duration {
        let mut next_free = self
            .next_free
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let now = Instant::now();
        let at = (*next_free).max(now);
        *next_free = at + self.interval * count;
        at - now
    }

    /// Takes the next free slot, and waits for it.
    pub async fn wait(&self) {
        let wait = self.reserve(1).await;
        tokio::time::sleep(wait).await;
    }

    /// Discord said to wait `wait` (a 429): no slot before then, for any job of any process; at most
    /// [`LONGEST_PAUSE`], so a global 429 asking for hours (or a day) does not stop every server's posts that long.
    pub async fn pause(&self, wait: Duration) {
        if wait > LONGEST_PAUSE {
            warn!(
                asked_seconds = wait.as_secs(),
                "Discord asked the bot to wait {} s; background work pauses {} s at most, then tries again",
                wait.as_secs(),
                LONGEST_PAUSE.as_secs()
            );
        }
        let wait = wait.min(LONGEST_PAUSE);
        let slots = u32::try_from((wait.as_micros() / self.interval.as_micros().max(1)).max(1))
            .unwrap_or(u32::MAX);
        let first = self.reserve(slots).await;
        crate::telemetry::background_paused_for(first + self.interval * slots);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fractional_interval_keeps_its_rate_in_the_process() {
        // 450 a second is 2.222 ms apart: 451 slots span a second, not the 0.9 s whole milliseconds made of them.
        let pacer = Pacer::new(450);
        let started = Instant::now();
        let mut last = Duration::ZERO;
        for _ in 0..=450 {
            last = pacer.reserve_local(1);
        }
        let opens = started.elapsed() + last;
        assert!(opens >= Duration::from_millis(995), "{opens:?}");
        assert!(opens <= Duration::from_millis(1_100), "{opens:?}");
    }

    #[test]
    fn over_sqlite_the_pacer_asks_the_store_nothing() {
        let store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
        assert!(Pacer::shared(45, store).shared.is_none());
    }

    #[tokio::test]
    async fn a_global_429_asking_for_a_day_pauses_background_work_ten_minutes_at_most() {
        let pacer = Pacer::new(45);
        pacer.pause(Duration::from_secs(24 * 3_600)).await;
        // The next request's slot comes after the pause: ten minutes away, not a day.
        let next = pacer.reserve(1).await;
        assert!(next <= LONGEST_PAUSE + pacer.interval(), "{next:?}");
        assert!(
            next + Duration::from_secs(1) >= LONGEST_PAUSE,
            "the pause still holds: {next:?}"
        );
        // A short 429 is kept as asked.
        let pacer = Pacer::new(45);
        pacer.pause(Duration::from_secs(2)).await;
        let next = pacer.reserve(1).await;
        assert!(
            next > Duration::from_millis(1_900) && next <= Duration::from_secs(3),
            "{next:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spaces_requests_and_a_429_pauses_everyone() {
        let pacer = Pacer::new(50);
        let started = Instant::now();
        for _ in 0..10 {
            pacer.wait().await;
        }
        // Ten slots 20 ms apart: the tenth starts 180 ms after the first.
        assert_eq!(started.elapsed(), Duration::from_millis(180));
        pacer.pause(Duration::from_secs(2)).await;
        let paused = Instant::now();
        pacer.wait().await;
        // Two seconds of slots from the next free one (20 ms ahead), then this request's.
        assert_eq!(paused.elapsed(), Duration::from_millis(2_020));
    }
}
