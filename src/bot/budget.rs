//! The invalid-request budget that every server shares. Discord (through Cloudflare) bans the bot's IP, for every
//! server at once, after 10,000 answers of 401, 403 or 429 in 10 minutes; a hostile or careless server that points
//! commands at channels the bot cannot see makes each of those calls a 403. So:
//! - every invalid answer is counted ([`Budget::count_invalid`], from the one place REST calls are metered), shown
//!   as a metric and in `/health`;
//! - a guard stops the optional calls (reading another channel's permissions for a command) while the last ten
//!   minutes hold [`GUARD_AT`] or more, a tenth of the ban: the bot answers "busy" rather than spend the rest;
//! - a channel that answered 403 or 404 is remembered for [`REMEMBER_REFUSED`], and answered from memory;
//! - commands that cost REST calls have per-server and per-user limits ([`SERVER_READS_PER_MINUTE`],
//!   [`USER_READS_PER_MINUTE`]), and `/daily now` a per-server cooldown ([`DAILY_NOW_EVERY`]).
//!
//! With these, one server costs at most [`SERVER_READS_PER_MINUTE`] invalid requests a minute (each refused read
//! stops at its first call), 2 % of the ban's rate, whatever its members script.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use governor::clock::{Clock as _, DefaultClock};
use governor::state::keyed::HashMapStateStore;
use governor::{Quota, RateLimiter};

/// Discord's ban: this many invalid requests in [`WINDOW`].
pub const BAN_AT: u32 = 10_000;
/// The window Discord counts invalid requests in.
pub const WINDOW: Duration = Duration::from_secs(600);
/// While the last [`WINDOW`] holds this many invalid requests, optional calls stop: a tenth of the ban, far enough
/// from it that the posts and answers that must go on (and may meet a 403 of their own) cannot reach it.
pub const GUARD_AT: u32 = 1_000;
/// How long a channel that refused the bot (403) or is gone (404) is answered from memory.
pub const REMEMBER_REFUSED: Duration = Duration::from_secs(600);
/// The most channels remembered as refused (a map of ids: well under a megabyte).
const REMEMBERED_AT_MOST: usize = 10_000;
/// Channel reads one server's commands may cost a minute (a moderator sets things up in a handful of commands).
pub const SERVER_READS_PER_MINUTE: u32 = 20;
/// Channel reads one member's commands may cost a minute.
pub const USER_READS_PER_MINUTE: u32 = 10;
/// `/daily now` posts at most once in this long per server.
pub const DAILY_NOW_EVERY: Duration = Duration::from_secs(300);
/// Keys the limiters hold before the idle ones are dropped.
const LIMITER_KEYS_AT_MOST: usize = 10_000;

/// A keyed GCRA limiter (governor's, over a plain `HashMap`).
type Keyed = RateLimiter<u64, HashMapStateStore<u64>, DefaultClock>;

/// Invalid requests per minute over the last ten minutes: a ring of (minute, count).
#[derive(Debug, Default)]
struct Window {
    minutes: [(u64, u32); 10],
}

impl Window {
    /// Counts one in `minute`.
    fn count(&mut self, minute: u64) {
        let slot = &mut self.minutes[(minute % 10) as usize];
        if slot.0 != minute {
            *slot = (minute, 0);
        }
        slot.1 = slot.1.saturating_add(1);
    }

    /// The count over the ten minutes up to `minute`.
    fn total(&self, minute: u64) -> u32 {
        self.minutes
            .iter()
            .filter(|(at, _)| minute.saturating_sub(*at) < 10 && *at <= minute)
            .map(|(_, count)| *count)
            .sum()
    }
}

/// Why a command's channel read was not made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Held {
    /// The process is near Discord's invalid-request ban: optional calls wait.
    NearBan,
    /// This server or member made too many such calls this minute; try again after the wait.
    TooFast(Duration),
}

/// One bot's limits on what its commands spend: per-server and per-member channel reads, `/daily now`'s cooldown,
/// and the channels that refused it. The invalid-request count itself is the process's ([`count_invalid`]):
/// Discord bans the IP, whatever runs behind it.
pub struct Budget {
    /// The count the guard reads: the process's, or a test's own.
    invalid: &'static InvalidRequests,
    refused: Mutex<HashMap<u64, Instant>>,
    per_server: Keyed,
    per_user: Keyed,
    daily_now: Keyed,
}

/// Invalid requests of the last ten minutes, and when the count started.
struct InvalidRequests {
    started: Instant,
    window: Mutex<Window>,
}

impl InvalidRequests {
    fn new() -> InvalidRequests {
        InvalidRequests {
            started: Instant::now(),
            window: Mutex::default(),
        }
    }

    /// The minute of the count's life now.
    fn minute(&self) -> u64 {
        self.started.elapsed().as_secs() / 60
    }

    fn count(&self) {
        let minute = self.minute();
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .count(minute);
    }

    fn last_ten_minutes(&self) -> u32 {
        let minute = self.minute();
        self.window
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .total(minute)
    }

    /// Whether optional calls must wait: the last ten minutes hold [`GUARD_AT`] or more invalid requests.
    fn near_the_ban(&self) -> bool {
        self.last_ten_minutes() >= GUARD_AT
    }
}

/// The process's invalid requests: Discord bans the IP, whatever runs behind it.
static INVALID: LazyLock<InvalidRequests> = LazyLock::new(InvalidRequests::new);

/// Counts one invalid request now (401, 403 or 429), for the whole process.
pub fn count_invalid() {
    INVALID.count();
}

/// The process's invalid requests in the last ten minutes.
pub fn invalid_last_ten_minutes() -> u32 {
    INVALID.last_ten_minutes()
}

/// A quota of `count` a minute (at least one).
fn per_minute(count: u32) -> Quota {
    Quota::per_minute(NonZeroU32::new(count).unwrap_or(NonZeroU32::MIN))
}

impl Budget {
    /// A fresh budget: no server or member has spent anything.
    pub fn new() -> Budget {
        let keyed =
            |quota| RateLimiter::new(quota, HashMapStateStore::default(), DefaultClock::default());
        let cooldown = Quota::with_period(DAILY_NOW_EVERY).unwrap_or_else(|| per_minute(1));
        Budget {
            invalid: &INVALID,
            refused: Mutex::default(),
            per_server: keyed(per_minute(SERVER_READS_PER_MINUTE)),
            per_user: keyed(per_minute(USER_READS_PER_MINUTE)),
            daily_now: keyed(cooldown),
        }
    }

    /// Whether a command in `guild` by `user` may read a channel's permissions from Discord now; one that may is
    /// counted against both limits.
    pub fn may_read_channel(&self, guild: u64, user: u64) -> Result<(), Held> {
        if self.invalid.near_the_ban() {
            return Err(Held::NearBan);
        }
        // The member's own limit first: a member past it spends nothing of the server's.
        take(&self.per_user, user)?;
        take(&self.per_server, guild)
    }

    /// Whether `/daily now` may post in `guild` now (and starts its cooldown if so).
    pub fn may_post_now(&self, guild: u64) -> Result<(), Held> {
        take(&self.daily_now, guild)
    }

    /// Remembers that `channel` refused the bot or is gone.
    pub fn remember_refused(&self, channel: u64) {
        let now = Instant::now();
        let mut refused = self.refused.lock().unwrap_or_else(PoisonError::into_inner);
        if refused.len() >= REMEMBERED_AT_MOST {
            refused.retain(|_, until| *until > now);
            if refused.len() >= REMEMBERED_AT_MOST {
                refused.clear();
            }
        }
        refused.insert(channel, now + REMEMBER_REFUSED);
    }

    /// Whether `channel` refused the bot (or was gone) within [`REMEMBER_REFUSED`].
    pub fn refused_recently(&self, channel: u64) -> bool {
        self.refused
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&channel)
            .is_some_and(|until| *until > Instant::now())
    }
}

impl Default for Budget {
    fn default() -> Budget {
        Budget::new()
    }
}

/// Takes one from `limiter` for `key`, or says how long until one is free. Idle keys are dropped once there are
/// many, so the map stays bounded by the servers and members active within a period.
fn take(limiter: &Keyed, key: u64) -> Result<(), Held> {
    if limiter.len() > LIMITER_KEYS_AT_MOST {
        limiter.retain_recent();
    }
    limiter
        .check_key(&key)
        .map_err(|not_until| Held::TooFast(not_until.wait_time_from(DefaultClock::default().now())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_counts_the_last_ten_minutes_only() {
        let mut window = Window::default();
        for minute in 0..10 {
            for _ in 0..100 {
                window.count(minute);
            }
        }
        assert_eq!(window.total(9), 1_000);
        assert_eq!(window.total(10), 900, "minute 0 has left the window");
        window.count(12);
        assert_eq!(window.total(12), 701, "minutes 3 to 9, and 12");
        assert_eq!(window.total(30), 0);
    }

    #[test]
    fn a_server_and_a_member_are_held_after_their_quota() {
        let budget = Budget::new();
        for n in 0..USER_READS_PER_MINUTE {
            assert_eq!(budget.may_read_channel(1, 100), Ok(()), "{n}");
        }
        assert!(matches!(
            budget.may_read_channel(1, 100),
            Err(Held::TooFast(_))
        ));
        // Other members of the server share its quota; another server is untouched.
        let mut allowed = USER_READS_PER_MINUTE;
        for member in 101..120 {
            if budget.may_read_channel(1, member).is_ok() {
                allowed += 1;
            }
        }
        assert_eq!(allowed, SERVER_READS_PER_MINUTE);
        assert_eq!(budget.may_read_channel(2, 200), Ok(()));
    }

    #[test]
    fn near_the_ban_optional_reads_stop() {
        // A count of its own: the process's is shared by every test running beside this one.
        let budget = Budget {
            invalid: Box::leak(Box::new(InvalidRequests::new())),
            ..Budget::new()
        };
        assert_eq!(budget.may_read_channel(3, 300), Ok(()));
        for _ in 0..GUARD_AT {
            budget.invalid.count();
        }
        assert_eq!(budget.may_read_channel(3, 300), Err(Held::NearBan));
    }

    #[test]
    fn daily_now_has_a_cooldown_and_refusals_are_remembered() {
        let budget = Budget::new();
        assert_eq!(budget.may_post_now(1), Ok(()));
        match budget.may_post_now(1) {
            Err(Held::TooFast(wait)) => assert!(wait > DAILY_NOW_EVERY - Duration::from_secs(5)),
            other => panic!("{other:?}"),
        }
        assert_eq!(budget.may_post_now(2), Ok(()));
        assert!(!budget.refused_recently(7));
        budget.remember_refused(7);
        assert!(budget.refused_recently(7));
    }
}
