//! Operations: the age of each shard's last event, an optional health endpoint a supervisor can poll, and a
//! watchdog that restarts a shard stuck outside the connected stage (serenity 0.12.5 has known silent-shard
//! failures after a failed resume).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header::{HeaderName, CONTENT_TYPE};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};
use serenity::all::{Event, RawEventHandler, ShardId, ShardManager};
use serenity::gateway::ConnectionStage;
use tracing::{info, warn};

use crate::lifecycle::supervise::JobHealth;
use crate::store::Store;
use crate::telemetry;

/// When each shard last delivered an event, how many events of each type serenity could not parse, and which
/// shards have had their first READY.
#[derive(Debug, Default)]
pub struct EventClock {
    last: Mutex<HashMap<u32, Instant>>,
    unparsed: Mutex<BTreeMap<String, u64>>,
    ready: Mutex<HashSet<u32>>,
}

/// How many distinct unparsed event types `/health` keeps (Discord has a few dozen event types).
const MAX_UNPARSED_TYPES: usize = 64;

impl EventClock {
    /// Notes an event from `shard`.
    pub fn saw(&self, shard: u32) {
        if let Ok(mut last) = self.last.lock() {
            last.insert(shard, Instant::now());
        }
    }

    /// Counts a dispatch of type `kind` that serenity could not parse (and so dropped).
    pub fn unparsed(&self, kind: &str) {
        if let Ok(mut unparsed) = self.unparsed.lock() {
            if let Some(count) = unparsed.get_mut(kind) {
                *count += 1;
            } else if unparsed.len() < MAX_UNPARSED_TYPES {
                unparsed.insert(kind.to_owned(), 1);
            }
        }
    }

    /// The unparsed dispatches so far, per event type.
    pub fn unparsed_counts(&self) -> BTreeMap<String, u64> {
        self.unparsed
            .lock()
            .map(|unparsed| unparsed.clone())
            .unwrap_or_default()
    }

    /// Notes a READY on `shard`; `true` when it was not its first in this process (a new session after a lost
    /// one: a reconnection).
    pub fn ready_again(&self, shard: u32) -> bool {
        self.ready
            .lock()
            .map(|mut ready| !ready.insert(shard))
            .unwrap_or(false)
    }

    /// Seconds since `shard`'s last event.
    pub fn age(&self, shard: u32) -> Option<u64> {
        self.last
            .lock()
            .ok()?
            .get(&shard)
            .map(|at| at.elapsed().as_secs())
    }
}

/// Watches the gateway's dispatches: counts sessions that came back (RESUMED, and every READY after a shard's first)
/// in the metrics, and dispatches serenity could not parse.
///
/// Unparsable dispatches: serenity 0.12.5 turns a dispatch it cannot
/// deserialize into `Event::Unknown` (its `Event` enum has an untagged fallback variant, so a known type with a
/// malformed body lands there too) and drops it with a DEBUG line ("An unknown event was received",
/// `client::dispatch`). Raw event handlers are its one public hook that sees every `Event` before that, so this
/// one makes each such dispatch a WARN line with its type and a count in `/health`: an INTERACTION_CREATE dropped
/// silently would be a dead bot nobody notices.
pub struct UnparsedEvents {
    /// Where the counts go.
    pub events: Arc<EventClock>,
}

#[serenity::async_trait]
impl RawEventHandler for UnparsedEvents {
    async fn raw_event(&self, ctx: serenity::all::Context, event: Event) {
        match &event {
            Event::Resumed(_) => telemetry::reconnected(ctx.shard_id.0, "resume"),
            Event::Ready(_) if self.events.ready_again(ctx.shard_id.0) => {
                telemetry::reconnected(ctx.shard_id.0, "identify");
            }
            _ => {}
        }
        if let Event::Unknown(unknown) = event {
            self.events.unparsed(&unknown.kind);
            warn!(
                event = %unknown.kind,
                "a gateway event of type {} could not be parsed and was dropped{}",
                unknown.kind,
                parse_problem(&unknown.kind, unknown.value)
            );
        }
    }
}

/// Where an unparsable interaction's body goes wrong (field path and error, never the values: an interaction
/// carries its token); empty for other event types.
fn parse_problem(kind: &str, value: Value) -> String {
    if kind != "INTERACTION_CREATE" {
        return String::new();
    }
    match serde_path_to_error::deserialize::<_, serenity::all::Interaction>(value) {
        Ok(_) => String::new(),
        Err(error) => format!(" (at {})", error.path()),
    }
}

/// What the health endpoint reads.
#[derive(Clone)]
struct Health {
    shards: Arc<ShardManager>,
    events: Arc<EventClock>,
    store: Store,
    jobs: Arc<JobHealth>,
    started: Instant,
    database: Arc<DatabaseCheck>,
}

/// How long one look at the database answers `/health`: a supervisor polling every second, or a flood of requests,
/// costs the store one call in this long, never one each.
const DATABASE_CHECK_EVERY: Duration = Duration::from_secs(5);

/// The last look at the database and when it was taken; one look at a time (callers wait for it and share it).
#[derive(Default)]
struct DatabaseCheck {
    last: tokio::sync::Mutex<Option<(Instant, bool)>>,
}

impl DatabaseCheck {
    /// Whether the database answers, looked at again when the last look is older than [`DATABASE_CHECK_EVERY`].
    /// Its error goes to the log, never into the answer (it can name a role or a host).
    async fn ok(&self, store: &Store) -> bool {
        let mut last = self.last.lock().await;
        if let Some((at, ok)) = *last {
            if at.elapsed() < DATABASE_CHECK_EVERY {
                return ok;
            }
        }
        let ok = match store.call(|store| store.schema_version()).await {
            Ok(_) => true,
            Err(error) => {
                warn!("health: the database does not answer: {error}");
                false
            }
        };
        *last = Some((Instant::now(), ok));
        ok
    }
}

/// The health report: every shard's stage, heartbeat latency and last-event age, the database status and the
/// background jobs down. Healthy when every shard is connected, the database answers and no scheduler is down.
async fn report(State(health): State<Health>) -> (StatusCode, Json<Value>) {
    let runners = health.shards.runners.lock().await;
    let mut shards: Vec<Value> = runners
        .iter()
        .map(|(id, runner)| {
            json!({
                "id": id.0,
                "stage": runner.stage.to_string(),
                "connected": runner.stage == ConnectionStage::Connected,
                "latency_ms": runner.latency.map(|l| l.as_millis() as u64),
                "last_event_age_s": health.events.age(id.0),
            })
        })
        .collect();
    drop(runners);
    shards.sort_by_key(|s| s["id"].as_u64());
    let database_ok = health.database.ok(&health.store).await;
    let database = if database_ok { "ok" } else { "unavailable" };
    let connected = !shards.is_empty() && shards.iter().all(|s| s["connected"] == true);
    let jobs_down = health.jobs.down();
    let healthy = connected && database_ok && jobs_down.is_empty();
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if healthy { "ok" } else { "unhealthy" },
        "shards": shards,
        "database": database,
        "jobs": { "down": jobs_down, "restarts": health.jobs.restarts() },
        "unparsed_events": health.events.unparsed_counts(),
        "invalid_requests_10m": super::budget::invalid_last_ten_minutes(),
        "uptime_s": health.started.elapsed().as_secs(),
        "version": env!("CARGO_PKG_VERSION"),
    });
    (status, Json(body))
}

/// The Prometheus scrape: every metric (see the README's operations section), the shards' latency and connection
/// read now. 503 when another recorder took the process's global slot.
async fn metrics(
    State(health): State<Health>,
) -> (StatusCode, [(HeaderName, &'static str); 1], String) {
    {
        let runners = health.shards.runners.lock().await;
        for (id, runner) in runners.iter() {
            telemetry::gateway(
                id.0,
                runner.latency,
                runner.stage == ConnectionStage::Connected,
            );
        }
    }
    let content_type = [(CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")];
    match telemetry::render() {
        Some(scrape) => (StatusCode::OK, content_type, scrape),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            content_type,
            "metrics are off: another recorder was installed\n".to_owned(),
        ),
    }
}

/// At most this many connections to the health endpoint at once; one more is closed at once. A supervisor and a
/// scraper need one each: a flood of idle connections cannot take the process's file descriptors.
const MAX_CONNECTIONS: usize = 32;
/// A request's head must arrive within this (hyper has no such limit without a timer).
const HEADER_TIMEOUT: Duration = Duration::from_secs(5);
/// The longest one connection stays open, keep-alive included.
const CONNECTION_LIFETIME: Duration = Duration::from_secs(30);

/// Serves `GET /health` and `GET /metrics` on `addr` until `stopped` resolves, keeping the metrics' histograms
/// drained (the recorder is installed by [`crate::bot::run`] before its first call). The bound address is logged (port 0 picks one).
/// Connections are capped at [`MAX_CONNECTIONS`], their heads must come within [`HEADER_TIMEOUT`] and none lives
/// past [`CONNECTION_LIFETIME`].
pub async fn serve(
    addr: SocketAddr,
    shards: Arc<ShardManager>,
    events: Arc<EventClock>,
    store: Store,
    jobs: Arc<JobHealth>,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) {
    let listener = match tokio::net::TcpListener::bind(addr).await {
        Ok(listener) => listener,
        Err(error) => {
            warn!("cannot serve health checks on {addr}: {error}; running without them");
            return;
        }
    };
    if let Ok(bound) = listener.local_addr() {
        info!(addr = %bound, "health endpoint listening");
    }
    let app = Router::new()
        .route("/health", get(report))
        .route("/metrics", get(metrics))
        .with_state(Health {
            shards,
            events,
            store,
            jobs,
            started: Instant::now(),
            database: Arc::default(),
        });
    let upkeep = async {
        loop {
            tokio::time::sleep(telemetry::UPKEEP_EVERY).await;
            telemetry::upkeep();
        }
    };
    tokio::select! {
        () = accept(listener, app) => {}
        () = upkeep => {}
        () = stopped => {}
    }
}

/// Accepts connections for `app` for ever, within the bounds [`serve`] names.
async fn accept(listener: tokio::net::TcpListener, app: Router) {
    let permits = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(error) => {
                // Out of descriptors, most likely: wait a moment rather than spin.
                warn!("the health endpoint cannot accept a connection: {error}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            continue; // dropped: closed at once
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service);
            let _ = tokio::time::timeout(CONNECTION_LIFETIME, connection).await;
            drop(permit);
        });
    }
}

/// The most shard restarts the watchdog makes in a day: 5 % of Discord's 1,000 IDENTIFYs a day, leaving the rest to
/// the shards' own reconnects.
pub const MAX_RESTARTS_A_DAY: usize = 50;

/// The watchdog's restarts of the last day.
#[derive(Debug, Default)]
struct RestartBudget {
    times: std::collections::VecDeque<Instant>,
}

impl RestartBudget {
    /// Whether one more restart fits in the day before `now` (and counts it if so).
    fn allow(&mut self, now: Instant) -> bool {
        let day = Duration::from_secs(24 * 3600);
        while self
            .times
            .front()
            .is_some_and(|at| now.saturating_duration_since(*at) >= day)
        {
            self.times.pop_front();
        }
        if self.times.len() >= MAX_RESTARTS_A_DAY {
            return false;
        }
        self.times.push_back(now);
        true
    }
}

/// How often the watchdog looks at the shards.
const WATCHDOG_TICK: Duration = Duration::from_secs(1);

/// Restarts any shard that has not been connected for `limit`, until `stopped` resolves.
pub async fn watchdog(
    shards: Arc<ShardManager>,
    limit: Duration,
    mut stopped: std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>,
) {
    let mut down_since: HashMap<ShardId, Instant> = HashMap::new();
    let mut restarts = RestartBudget::default();
    let mut said_capped = false;
    let tick = WATCHDOG_TICK.min(limit);
    loop {
        tokio::select! {
            () = tokio::time::sleep(tick) => {}
            () = &mut stopped => return,
        }
        let stuck: Vec<ShardId> = {
            let runners = shards.runners.lock().await;
            down_since.retain(|id, _| runners.contains_key(id));
            runners
                .iter()
                .filter_map(|(id, runner)| {
                    if runner.stage == ConnectionStage::Connected {
                        down_since.remove(id);
                        return None;
                    }
                    let since = *down_since.entry(*id).or_insert_with(Instant::now);
                    (since.elapsed() >= limit).then_some(*id)
                })
                .collect()
        };
        for id in stuck {
            if !restarts.allow(Instant::now()) {
                if !said_capped {
                    tracing::error!(
                        "the watchdog restarted shards {MAX_RESTARTS_A_DAY} times in a day; it restarts no more \
                         until the oldest restart is a day old (each restart is an IDENTIFY, and Discord resets the \
                         token after 1,000 a day): look at the gateway's connectivity"
                    );
                    said_capped = true;
                }
                continue;
            }
            said_capped = false;
            warn!(
                shard = id.0,
                "shard not connected for {limit:?}: restarting it"
            );
            down_since.remove(&id);
            telemetry::restarted(id.0);
            shards.restart(id).await;
        }
    }
}

/// A route's rate-limit wait this long or longer is not Discord's (its buckets reset within seconds): a ban.
const BAN_LIKE_WAIT: Duration = Duration::from_secs(60);

/// Counts the waits serenity's own rate limiter takes (the default mode; in proxy mode it is off and a 429 reaches
/// the bot's calls, counted there): serenity reports them only to event handlers. A global 429, which serenity waits
/// out and retries by itself, is also an invalid request, and pauses the background work as it does in proxy mode.
pub struct RateLimits {
    /// The background work's pacer.
    pub pacer: Arc<crate::lifecycle::pacer::Pacer>,
}

#[serenity::async_trait]
impl serenity::all::EventHandler for RateLimits {
    async fn ratelimit(&self, data: serenity::all::RatelimitInfo) {
        if !data.global {
            if data.timeout >= BAN_LIKE_WAIT {
                // Discord's route limits reset within seconds; a 429 asking for minutes is Cloudflare's ban page
                // (it carries a Retry-After, which serenity obeys, sleeping on the route meanwhile).
                telemetry::rate_limited("cloudflare");
                telemetry::invalid_request(429);
                tracing::error!(
                    path = %data.path,
                    "Cloudflare refused a call to Discord and asked the bot to wait {} s: this IP is banned for a \
                     while after too many invalid requests (401, 403, 429); background work pauses",
                    data.timeout.as_secs()
                );
                self.pacer.pause(data.timeout).await;
            } else {
                // A wait serenity takes ahead of a route's limit, or a route's 429: it cannot tell us which.
                telemetry::rate_limited("route");
            }
            return;
        }
        telemetry::rate_limited("global");
        telemetry::invalid_request(429);
        warn!(
            path = %data.path,
            "Discord's global rate limit was hit (429): calls wait {:.1} s and background work pauses",
            data.timeout.as_secs_f64()
        );
        self.pacer.pause(data.timeout).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_restarts_at_most_its_daily_budget() {
        let start = Instant::now();
        let mut budget = RestartBudget::default();
        let allowed = (0..200)
            .filter(|n| budget.allow(start + Duration::from_secs(n * 60)))
            .count();
        assert_eq!(allowed, MAX_RESTARTS_A_DAY);
        let next_day = start + Duration::from_secs(24 * 3600 + 1);
        assert!(budget.allow(next_day), "the first restart is a day old");
    }
}
