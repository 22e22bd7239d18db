//! Prometheus metrics: one recorder per process, the names and label sets of every metric, and small functions that
//! record them, so call sites stay one line and no label can carry a token or an unbounded id.
//!
//! Labels are only ever values the code chooses from a fixed set: command names the bot registered, route templates
//! (never a real path: interaction tokens travel in paths), status codes, error kinds, process names, store call
//! sites, and shard ids (bounded by the shard count). Until [`install`] runs the `metrics` macros record nothing, at
//! the cost of a branch.

use std::sync::OnceLock;
use std::time::Duration;

use metrics::{counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::warn;

/// Interactions handled, by command, kind and outcome (counter).
pub const INTERACTIONS: &str = "scenebot_interactions_total";
/// How long handling one interaction took, by command and kind (histogram, seconds).
pub const INTERACTION_SECONDS: &str = "scenebot_interaction_seconds";
/// How old an interaction was when the bot received it: its snowflake's time to receipt (histogram, seconds).
/// Discord's 3 s deadline runs from creation, so this is the part of it the gateway used up.
pub const INTERACTION_AGE: &str = "scenebot_interaction_age_seconds";
/// REST calls to Discord, by route template and status (counter).
pub const REST_CALLS: &str = "scenebot_discord_requests_total";
/// How long one REST call took, by route template (histogram, seconds).
pub const REST_SECONDS: &str = "scenebot_discord_request_seconds";
/// Rate limits met, by scope (counter).
pub const RATE_LIMITS: &str = "scenebot_discord_rate_limits_total";
/// Invalid requests (answered 401, 403 or 429), by status (counter): Discord bans the IP after 10,000 in 10 minutes.
pub const INVALID_REQUESTS: &str = "scenebot_discord_invalid_requests_total";
/// Each shard's last heartbeat latency (gauge, seconds).
pub const GATEWAY_LATENCY: &str = "scenebot_gateway_latency_seconds";
/// Whether each shard is connected (gauge, 0 or 1).
pub const GATEWAY_CONNECTED: &str = "scenebot_gateway_connected";
/// Reconnections per shard, by how the session came back (counter).
pub const GATEWAY_RECONNECTS: &str = "scenebot_gateway_reconnects_total";
/// Shards the watchdog restarted (counter).
pub const GATEWAY_RESTARTS: &str = "scenebot_gateway_watchdog_restarts_total";
/// How late a scheduled post went out: sent minus due (histogram, seconds).
pub const SCHEDULER_LAG: &str = "scenebot_scheduler_lag_seconds";
/// Background jobs running now, by process (gauge).
pub const JOBS_IN_FLIGHT: &str = "scenebot_jobs_in_flight";
/// Background jobs due and waiting for a worker, by process (gauge).
pub const JOBS_QUEUED: &str = "scenebot_jobs_queued";
/// Until when background work waits after a global or Cloudflare 429 (gauge, Unix seconds; absent before any pause): a
/// bot that posts nothing for minutes says why.
pub const BACKGROUND_PAUSED_UNTIL: &str = "scenebot_background_paused_until_timestamp_seconds";
/// How long one store call took, its wait for a turn included, by call site (histogram, seconds).
pub const STORE_SECONDS: &str = "scenebot_store_call_seconds";
/// Store calls that failed, by call site and error kind (counter).
pub const STORE_ERRORS: &str = "scenebot_store_errors_total";

/// Buckets for calls that should take milliseconds to seconds (interactions, REST, the store), in seconds.
const CALL_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
/// Buckets for scheduler lag, in seconds: a post is due to the minute, an outage can delay it by hours.
const LAG_BUCKETS: &[f64] = &[
    1.0, 5.0, 15.0, 30.0, 60.0, 120.0, 300.0, 900.0, 1800.0, 3600.0, 21600.0,
];

/// The process's one recorder handle: `None` when another recorder was installed first (then nothing is exported).
static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the Prometheus recorder, once per process (several bots in one test process share it), and returns the
/// handle that renders a scrape; `None` if another recorder already holds the global slot.
pub fn install() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let built = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Full(SCHEDULER_LAG.to_owned()), LAG_BUCKETS)
                .and_then(|builder| builder.set_buckets(CALL_BUCKETS))
                .and_then(PrometheusBuilder::install_recorder);
            match built {
                Ok(handle) => {
                    describe();
                    Some(handle)
                }
                Err(error) => {
                    warn!("metrics are off: cannot install the Prometheus recorder: {error}");
                    None
                }
            }
        })
        .as_ref()
}

/// What kind of metric a name is, for its HELP and TYPE lines.
#[derive(Clone, Copy)]
enum Kind {
    Counter,
    Gauge,
    /// A gauge in seconds.
    GaugeSeconds,
    /// A histogram in seconds.
    Histogram,
}

/// Every metric: its name, kind and HELP text (the README's table says more).
const EVERY: &[(&str, Kind, &str)] = &[
    (
        INTERACTIONS,
        Kind::Counter,
        "Interactions handled, by command, kind and outcome",
    ),
    (
        INTERACTION_SECONDS,
        Kind::Histogram,
        "Time to handle one interaction",
    ),
    (
        INTERACTION_AGE,
        Kind::Histogram,
        "Age of an interaction when received (its id's time to receipt)",
    ),
    (
        REST_CALLS,
        Kind::Counter,
        "REST calls to Discord (each try), by route template and status",
    ),
    (
        REST_SECONDS,
        Kind::Histogram,
        "Time of one REST call to Discord, by route template",
    ),
    (RATE_LIMITS, Kind::Counter, "Rate limits met, by scope"),
    (
        INVALID_REQUESTS,
        Kind::Counter,
        "Invalid requests (401, 403, 429) by status: 10,000 in 10 minutes ban the IP",
    ),
    (
        GATEWAY_LATENCY,
        Kind::GaugeSeconds,
        "Each shard's last heartbeat latency",
    ),
    (
        GATEWAY_CONNECTED,
        Kind::Gauge,
        "1 when the shard is connected",
    ),
    (
        GATEWAY_RECONNECTS,
        Kind::Counter,
        "Gateway sessions that came back, by shard and how (resume or identify)",
    ),
    (
        GATEWAY_RESTARTS,
        Kind::Counter,
        "Shards the watchdog restarted",
    ),
    (
        SCHEDULER_LAG,
        Kind::Histogram,
        "How late a scheduled post was sent (sent minus due)",
    ),
    (
        JOBS_IN_FLIGHT,
        Kind::Gauge,
        "Background jobs running now, by process",
    ),
    (
        JOBS_QUEUED,
        Kind::Gauge,
        "Background jobs due and waiting for a worker, by process",
    ),
    (
        BACKGROUND_PAUSED_UNTIL,
        Kind::Gauge,
        "Until when background work waits after a global or Cloudflare 429 (Unix seconds)",
    ),
    (
        STORE_SECONDS,
        Kind::Histogram,
        "Time of one store call (its wait for a turn included), by call site",
    ),
    (
        STORE_ERRORS,
        Kind::Counter,
        "Store calls that failed, by call site and error kind",
    ),
];

/// The HELP line of every metric.
fn describe() {
    for &(name, kind, help) in EVERY {
        match kind {
            Kind::Counter => describe_counter!(name, help),
            Kind::Gauge => describe_gauge!(name, help),
            Kind::GaugeSeconds => describe_gauge!(name, metrics::Unit::Seconds, help),
            Kind::Histogram => describe_histogram!(name, metrics::Unit::Seconds, help),
        }
    }
}

/// One scrape in Prometheus' text format; `None` when metrics are off.
pub fn render() -> Option<String> {
    HANDLE.get()?.as_ref().map(PrometheusHandle::render)
}

/// Drains histogram samples into their buckets. The exporter keeps raw samples until then, so without a scrape or
/// this, memory would grow with every sample.
pub fn upkeep() {
    if let Some(Some(handle)) = HANDLE.get() {
        handle.run_upkeep();
    }
}

/// How often [`upkeep`] should run.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Counts one interaction and its time.
pub fn interaction(command: String, kind: &'static str, outcome: &'static str, took: Duration) {
    counter!(INTERACTIONS, "command" => command.clone(), "kind" => kind, "outcome" => outcome)
        .increment(1);
    histogram!(INTERACTION_SECONDS, "command" => command, "kind" => kind).record(took);
}

/// Records how old an interaction of `kind` with snowflake `id` was when received at `now_unix_ms`.
pub fn interaction_age(kind: &'static str, id: u64, now_unix_ms: u64) {
    histogram!(INTERACTION_AGE, "kind" => kind).record(snowflake_age(id, now_unix_ms));
}

/// Discord's epoch (2015-01-01) in Unix milliseconds: a snowflake's top 42 bits count from it.
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

/// When the snowflake `id` was made, in Unix milliseconds.
pub fn snowflake_unix_ms(id: u64) -> u64 {
    (id >> 22).saturating_add(DISCORD_EPOCH_MS)
}

/// The smallest snowflake Discord could make at `unix_ms`: where a search for what was made since then starts.
pub fn snowflake_at_unix_ms(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(DISCORD_EPOCH_MS) << 22
}

/// How long before `now_unix_ms` the snowflake `id` was made; zero for one from the future (clocks disagree).
pub fn snowflake_age(id: u64, now_unix_ms: u64) -> Duration {
    Duration::from_millis(now_unix_ms.saturating_sub(snowflake_unix_ms(id)))
}

/// The wall clock now, in Unix milliseconds (0 before 1970): the clock Discord's snowflakes and deadlines run on.
pub fn wall_clock_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// Counts one REST try on `route` (a template such as `POST /channels/{channel}/messages`) and its time.
pub fn rest_call(route: &'static str, status: String, took: Duration) {
    counter!(REST_CALLS, "route" => route, "status" => status).increment(1);
    histogram!(REST_SECONDS, "route" => route).record(took);
}

/// Counts one rate limit met in `scope`.
pub fn rate_limited(scope: &'static str) {
    counter!(RATE_LIMITS, "scope" => scope).increment(1);
}

/// Counts one invalid request (answered `status`: 401, 403 or 429), in the metric and in the process's
/// ten-minute window the guard reads ([`crate::bot::budget`]).
pub fn invalid_request(status: u16) {
    counter!(INVALID_REQUESTS, "status" => status.to_string()).increment(1);
    crate::bot::budget::count_invalid();
}

/// Sets shard `shard`'s latency (none yet: left as it was) and whether it is connected.
pub fn gateway(shard: u32, latency: Option<Duration>, connected: bool) {
    let shard = shard.to_string();
    if let Some(latency) = latency {
        gauge!(GATEWAY_LATENCY, "shard" => shard.clone()).set(latency.as_secs_f64());
    }
    gauge!(GATEWAY_CONNECTED, "shard" => shard).set(if connected { 1.0 } else { 0.0 });
}

/// Counts a session that came back on `shard`, by `how` (`resume` or `identify`).
pub fn reconnected(shard: u32, how: &'static str) {
    counter!(GATEWAY_RECONNECTS, "shard" => shard.to_string(), "how" => how).increment(1);
}

/// Counts a shard the watchdog restarted.
pub fn restarted(shard: u32) {
    counter!(GATEWAY_RESTARTS, "shard" => shard.to_string()).increment(1);
}

/// Records how late a post of `process` went out, in whole seconds (the schedules' resolution).
pub fn lag(process: &'static str, seconds: i64) {
    histogram!(SCHEDULER_LAG, "process" => process).record(seconds.max(0) as f64);
}

/// Records how late an adopted post of `process` went out: found in the channel after a crash or a lost answer,
/// it was sent when its snowflake `message` says, `due` (Unix seconds) being when it was due.
pub fn adopted_lag(process: &'static str, message: u64, due: i64) {
    let sent = i64::try_from(snowflake_unix_ms(message) / 1000).unwrap_or(i64::MAX);
    lag(process, sent.saturating_sub(due));
}

/// A job of `process` in flight: counted in [`JOBS_IN_FLIGHT`] until dropped (a panicking job included).
pub struct InFlight(&'static str);

impl InFlight {
    /// Counts a job of `process` in.
    pub fn start(process: &'static str) -> InFlight {
        gauge!(JOBS_IN_FLIGHT, "process" => process).increment(1.0);
        InFlight(process)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        gauge!(JOBS_IN_FLIGHT, "process" => self.0).decrement(1.0);
    }
}

/// Sets how many jobs of `process` wait for a worker.
pub fn jobs_queued(process: &'static str, queued: usize) {
    gauge!(JOBS_QUEUED, "process" => process).set(queued as f64);
}

/// Records that background work waits `wait` from now (a global or Cloudflare 429).
pub fn background_paused_for(wait: Duration) {
    let until = std::time::SystemTime::now() + wait;
    let unix = until
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    gauge!(BACKGROUND_PAUSED_UNTIL).set(unix);
}

/// Records one store call made at `site`, its time, and its error kind if it failed.
pub fn store_call(site: &'static str, took: Duration, error: Option<&'static str>) {
    histogram!(STORE_SECONDS, "site" => site).record(took);
    if let Some(kind) = error {
        counter!(STORE_ERRORS, "site" => site, "kind" => kind).increment(1);
    }
}

/// The call site of a closure or function of type `F`, from its type name: `lifecycle::daily::post_day` for a
/// closure written in `scenebot::lifecycle::daily::post_day`. Bounded by the code (one name per function that calls
/// the store), never by the data. Generic parameters and closure markers are cut off.
pub fn site_of<F>() -> &'static str {
    let name = std::any::type_name::<F>();
    let name = name.strip_prefix("scenebot::").unwrap_or(name);
    let end = [name.find('<'), name.find("::{{closure}}")]
        .into_iter()
        .flatten()
        .min()
        .unwrap_or(name.len());
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site_of_value<F>(_: &F) -> &'static str {
        site_of::<F>()
    }

    #[test]
    fn a_store_call_site_is_its_function() {
        let closure = |x: u32| x + 1;
        assert_eq!(
            site_of_value(&closure),
            "telemetry::tests::a_store_call_site_is_its_function"
        );
        assert_eq!(site_of::<Vec<u8>>(), "alloc::vec::Vec");
    }

    #[test]
    fn an_interaction_age_comes_from_its_snowflake() {
        // Discord's documented example: 175928847299117063 was made at 1462015105796 (2016-04-30 11:18:25.796 UTC).
        let id = 175_928_847_299_117_063;
        assert_eq!(
            snowflake_age(id, 1_462_015_105_796 + 1_250),
            Duration::from_millis(1_250)
        );
        assert_eq!(snowflake_unix_ms(id), 1_462_015_105_796);
        assert_eq!(
            snowflake_age(id, 1_462_015_105_000),
            Duration::ZERO,
            "an id from the future"
        );
    }

    #[test]
    fn an_adopted_post_counts_as_late_as_its_message_id_says() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let handle = recorder.handle();
        let due = 1_800_000_000; // 2027-01-15 08:00:00 UTC
        let sent_ms = (due as u64 + 7) * 1000 + 400;
        let message = (sent_ms - DISCORD_EPOCH_MS) << 22;
        metrics::with_local_recorder(&recorder, || adopted_lag("daily post", message, due));
        let text = handle.render();
        let sum = text.lines().find_map(|line| {
            line.strip_prefix(r#"scenebot_scheduler_lag_seconds_sum{process="daily post"}"#)?
                .trim()
                .parse::<f64>()
                .ok()
        });
        assert_eq!(sum, Some(7.0), "{text}");
    }

    #[test]
    fn the_readme_lists_every_metric() {
        let readme = include_str!("../README.md");
        for &(name, _, _) in EVERY {
            assert!(readme.contains(&format!("| `{name}` |")), "{name}");
        }
    }

    #[test]
    fn a_scrape_shows_what_was_recorded() {
        let Some(handle) = install() else {
            panic!("the recorder could not be installed");
        };
        rest_call(
            "GET /unit-test/{thing}",
            "200".to_owned(),
            Duration::from_millis(3),
        );
        let scrape = handle.render();
        assert!(
            scrape.contains(
                r#"scenebot_discord_requests_total{route="GET /unit-test/{thing}",status="200"} "#
            ),
            "{scrape}"
        );
        assert!(
            scrape.contains(r#"scenebot_discord_request_seconds_bucket{route="GET /unit-test/{thing}",le="0.005"} "#),
            "{scrape}"
        );
        assert!(install().is_some(), "installing twice is harmless");
    }
}
