//! The bot's request schedule as one number: GCRA's theoretical arrival time ("tat"), the moment the next send
//! slot opens.
//!
//! Discord gives a bot one global budget (50 requests per second) across all its processes. Instead of counting
//! requests in windows, each sender reserves its slots in one shared schedule: the slots start at the later of
//! the schedule's tat and now, and the tat moves past them. Slots are then never closer than the interval, whoever
//! reserves them and however many processes share the schedule, and an idle schedule does not bank a burst: its
//! tat lies in the past, so the next sender starts now, not at some earlier moment it could "catch up" from.
//!
//! [`reserve`] is the pure step. The store keeps the tat (`Store::reserve_slots`): in the process for SQLite (one
//! process), in one row updated by one SQL statement on the database's own clock for PostgreSQL, so processes on
//! machines whose clocks disagree still share one schedule.

/// Reserves `count` consecutive slots `interval` apart in the schedule whose next slot opens at `tat`, at `now`
/// (one clock and one unit; the store uses microseconds, since whole milliseconds would round 45/s's 22.2 ms to
/// 22 and 450/s's 2.2 ms to 2, a pace 1 % and 11 % over the one asked for): the schedule's new tat, and how long
/// to wait before the first slot (the others follow `interval` apart). Saturates instead of overflowing.
pub fn reserve(tat: i64, now: i64, count: u32, interval: i64) -> (i64, i64) {
    let first = tat.max(now);
    let span = i64::from(count).saturating_mul(interval.max(0));
    (first.saturating_add(span), first.saturating_sub(now))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_never_closer_than_the_interval() {
        let (mut tat, mut slots) = (0, Vec::new());
        // Senders arriving at random-looking moments, often together, sometimes after a pause.
        for now in [0, 0, 1, 3, 3, 3, 50, 51, 200, 200, 201, 205] {
            let (next, wait) = reserve(tat, now, 1, 10);
            slots.push(now + wait);
            tat = next;
        }
        slots.sort_unstable();
        assert!(
            slots.windows(2).all(|pair| pair[1] - pair[0] >= 10),
            "{slots:?}"
        );
    }

    #[test]
    fn an_idle_schedule_banks_no_burst() {
        // Idle for a long while: the tat lies far in the past.
        let (tat, wait) = reserve(100, 10_000, 1, 10);
        assert_eq!((tat, wait), (10_010, 0), "the first slot is now");
        let (tat, wait) = reserve(tat, 10_000, 1, 10);
        assert_eq!((tat, wait), (10_020, 10), "the second waits one interval");
        let (_, wait) = reserve(100, 10_000, 5, 10);
        assert_eq!(
            wait, 0,
            "a run of five starts now and spreads over the interval"
        );
    }

    #[test]
    fn waits_grow_linearly_under_contention() {
        let mut tat = 0;
        let waits: Vec<i64> = (0..5)
            .map(|_| {
                let (next, wait) = reserve(tat, 0, 2, 10);
                tat = next;
                wait
            })
            .collect();
        assert_eq!(waits, [0, 20, 40, 60, 80]);
        assert_eq!(tat, 100);
    }

    #[test]
    fn extremes_saturate() {
        assert_eq!(reserve(i64::MAX - 5, 0, 10, 10).0, i64::MAX);
        assert_eq!(reserve(0, 0, u32::MAX, i64::MAX), (i64::MAX, 0));
        assert_eq!(
            reserve(5, 0, 1, -3),
            (5, 5),
            "a negative interval counts as none"
        );
    }
}
