//! Discord's REST rate limits as the fake enforces them, and the traffic counts a benchmark reads.
//!
//! - Global: per bot token (every process running the bot shares it, as on Discord), at most
//!   `global_per_second` requests in any one-second window. The window slides: a request is admitted when fewer
//!   than the limit were admitted in the second before it, so no one-second span, wherever it starts, holds more.
//!   A refused request takes no slot; an admitted one keeps its slot whatever its answer (a 404, a per-route
//!   429). Interaction endpoints (`POST /interactions/{id}/{token}/callback`, `/webhooks/{application}/{token}…`)
//!   are not counted, as Discord documents; requests without the bot's token are answered 401 and not counted.
//!   Over the limit: 429 `{"message", "retry_after", "global": true}` (no `code`, as Discord sends it) with
//!   `Retry-After` (whole seconds, rounded up), `X-RateLimit-Global: true` and `X-RateLimit-Scope: global`.
//! - Per route: `POST /channels/{id}/messages`, `channel_messages` per `channel_window` per channel, in fixed
//!   windows that open with a window's first message (Discord's buckets reset at a moment, `X-RateLimit-Reset`).
//!   Every answer on the route carries `X-RateLimit-Limit`, `-Remaining`, `-Reset` (Unix seconds),
//!   `-Reset-After` (seconds) and `-Bucket`; over the limit: 429 with `"global": false` and
//!   `X-RateLimit-Scope: user`. Other routes have no bucket here.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant, SystemTime};

use super::super::model::RateLimits;
use super::super::records::RateStats;
use super::Reply;

/// The bucket hash Discord names `POST /channels/{id}/messages` with: one hash for every channel (the channel id
/// is the bucket's major parameter).
const MESSAGES_BUCKET: &str = "80c17d2f203122d936070c88c8d10f33";
/// The global limit's window.
const SECOND: Duration = Duration::from_secs(1);

/// The limits' state and the traffic counts.
pub(crate) struct Limiter {
    limits: Option<RateLimits>,
    started: Instant,
    /// When each request the global limit admitted in the last second arrived, oldest first.
    admitted: VecDeque<Instant>,
    /// When each counted request of the last second arrived (admitted or not), oldest first: the exact peak.
    arrivals: VecDeque<Instant>,
    /// The message bucket of each channel that was posted to.
    channels: HashMap<u64, Bucket>,
    stats: RateStats,
}

/// A per-channel message bucket: when its window opened and how many messages it let through.
struct Bucket {
    opened: Instant,
    used: u32,
}

/// What the limits decided for one request.
#[derive(Default)]
pub(crate) struct Admission {
    /// Sent instead of the route's answer: a 429.
    pub(crate) refused: Option<Reply>,
    /// Added to the answer, whatever it is: the per-route bucket's headers.
    pub(crate) headers: Vec<(String, String)>,
}

impl Limiter {
    pub(crate) fn new(limits: Option<RateLimits>) -> Limiter {
        Limiter {
            limits,
            started: Instant::now(),
            admitted: VecDeque::new(),
            arrivals: VecDeque::new(),
            channels: HashMap::new(),
            stats: RateStats {
                started: SystemTime::now(),
                requests: 0,
                counted: 0,
                global_limited: 0,
                route_limited: 0,
                invalid: 0,
                per_second: Vec::new(),
                peak_per_second: 0,
            },
        }
    }

    pub(crate) fn stats(&self) -> RateStats {
        self.stats.clone()
    }

    /// Counts a request that arrived `now` and decides whether the limits let it through. `authorized`: it
    /// carries the bot's token (the global limit is per token). `segments`: its path after `/api/v10`.
    pub(crate) fn admit(
        &mut self,
        method: &str,
        segments: &[&str],
        authorized: bool,
        now: Instant,
    ) -> Admission {
        self.stats.requests += 1;
        let counted = authorized && !is_interaction_endpoint(segments);
        if counted {
            self.count(now);
        }
        let Some(limits) = self.limits else {
            return Admission::default();
        };
        if counted {
            drop_older_than_a_second(&mut self.admitted, now);
            if let Some(&oldest) = self.admitted.front() {
                if self.admitted.len() >= limits.global_per_second as usize {
                    self.stats.global_limited += 1;
                    let retry_after = in_seconds(oldest + SECOND - now);
                    return Admission {
                        refused: Some(Reply::rate_limited(retry_after, "global", Vec::new())),
                        headers: Vec::new(),
                    };
                }
            }
            self.admitted.push_back(now);
        }
        let channel = match (method, segments) {
            ("POST", ["channels", id, "messages"]) => id.parse::<u64>().ok(),
            _ => None,
        };
        let Some(channel) = channel else {
            return Admission::default();
        };
        let bucket = self.channels.entry(channel).or_insert(Bucket {
            opened: now,
            used: 0,
        });
        if now >= bucket.opened + limits.channel_window {
            *bucket = Bucket {
                opened: now,
                used: 0,
            };
        }
        let reset_after = bucket.opened + limits.channel_window - now;
        let refused = bucket.used >= limits.channel_messages;
        if !refused {
            bucket.used += 1;
        }
        let remaining = limits.channel_messages - bucket.used;
        let headers = bucket_headers(limits.channel_messages, remaining, reset_after);
        if refused {
            self.stats.route_limited += 1;
            return Admission {
                refused: Some(Reply::rate_limited(
                    in_seconds(reset_after),
                    "user",
                    headers,
                )),
                headers: Vec::new(),
            };
        }
        Admission {
            refused: None,
            headers,
        }
    }

    /// Counts an answer toward Discord's invalid requests (401, 403, 429 unless its scope is `shared`).
    pub(crate) fn answered(&mut self, reply: &Reply) {
        let shared_scope = reply
            .headers
            .iter()
            .any(|(name, value)| name == "x-ratelimit-scope" && value == "shared");
        let invalid = match reply.status {
            401 | 403 => true,
            429 => !shared_scope,
            _ => false,
        };
        if invalid {
            self.stats.invalid += 1;
        }
    }

    fn count(&mut self, now: Instant) {
        self.stats.counted += 1;
        let second =
            usize::try_from(now.duration_since(self.started).as_secs()).unwrap_or(usize::MAX);
        if second < self.stats.per_second.len() {
            self.stats.per_second[second] += 1;
        } else if let Some(missing) = second.checked_sub(self.stats.per_second.len()) {
            self.stats
                .per_second
                .extend(std::iter::repeat_n(0, missing));
            self.stats.per_second.push(1);
        }
        drop_older_than_a_second(&mut self.arrivals, now);
        self.arrivals.push_back(now);
        let in_window = u32::try_from(self.arrivals.len()).unwrap_or(u32::MAX);
        self.stats.peak_per_second = self.stats.peak_per_second.max(in_window);
    }
}

/// Forgets the arrivals a second or more before `now`: what is left lies in the second before `now`.
fn drop_older_than_a_second(arrivals: &mut VecDeque<Instant>, now: Instant) {
    while arrivals.front().is_some_and(|&at| at + SECOND <= now) {
        arrivals.pop_front();
    }
}

/// `wait` in seconds as Discord writes `retry_after`: milliseconds, rounded up (never 0 for a wait).
fn in_seconds(wait: Duration) -> f64 {
    (wait.as_secs_f64() * 1000.0).ceil() / 1000.0
}

/// The routes Discord keeps out of the global limit.
fn is_interaction_endpoint(segments: &[&str]) -> bool {
    matches!(
        segments,
        ["interactions", _, _, "callback"] | ["webhooks", _, _, ..]
    )
}

/// A bucket's `X-RateLimit-*` headers, as Discord sends them on every answer of a limited route.
pub(crate) fn bucket_headers(
    limit: u32,
    remaining: u32,
    reset_after: Duration,
) -> Vec<(String, String)> {
    let reset = SystemTime::now() + reset_after;
    let reset = reset
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64();
    vec![
        ("x-ratelimit-limit".to_owned(), limit.to_string()),
        ("x-ratelimit-remaining".to_owned(), remaining.to_string()),
        ("x-ratelimit-reset".to_owned(), format!("{reset:.3}")),
        (
            "x-ratelimit-reset-after".to_owned(),
            format!("{:.3}", reset_after.as_secs_f64()),
        ),
        ("x-ratelimit-bucket".to_owned(), MESSAGES_BUCKET.to_owned()),
    ]
}
