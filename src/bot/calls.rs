//! Talking to Discord safely: every call cut after the call cap and counted under its route template, bounded
//! retries with backoff for what is safe to repeat (a 429 waited out as Discord asked, the shared pacer pushed back
//! for a global one or Cloudflare's ban), and interaction answers tried again while their token lasts. What a
//! failure means is read in [`super::errors`].

use std::future::Future;
use std::time::Duration;

use tracing::{error, warn};

use super::errors::{classify, status_of, Classified, Failure};

use super::relay::RateLimit;
use crate::lifecycle::pacer::Pacer;
use crate::telemetry;

/// How many times a call is tried at most.
const ATTEMPTS: u32 = 4;
/// The first backoff; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between tries, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// The route templates REST calls are counted under in the metrics: chosen by the code at each call site, never
/// read from a URL, so no label carries an id or an interaction token.
pub mod route {
    /// The first answer to an interaction (a reply, a deferral, choices).
    pub const INTERACTION_CALLBACK: &str = "POST /interactions/{interaction}/{token}/callback";
    /// A follow-up message to an interaction already answered.
    pub const FOLLOWUP: &str = "POST /webhooks/{application}/{token}";
    /// Editing a follow-up (a quiz question's reveal): the interaction's token, not counted globally.
    pub const EDIT_FOLLOWUP: &str = "PATCH /webhooks/{application}/{token}/messages/{message}";
    /// A message sent to a channel (daily posts, polls, results).
    pub const CREATE_MESSAGE: &str = "POST /channels/{channel}/messages";
    /// A page of a channel's messages (looking for the bot's own post).
    pub const CHANNEL_MESSAGES: &str = "GET /channels/{channel}/messages";
    /// One message (a poll's results).
    pub const MESSAGE: &str = "GET /channels/{channel}/messages/{message}";
    /// Ending a poll early.
    pub const EXPIRE_POLL: &str = "POST /channels/{channel}/polls/{message}/expire";
    /// A thread started from a message (a daily post's, a poll's results').
    pub const MESSAGE_THREAD: &str = "POST /channels/{channel}/messages/{message}/threads";
    /// A channel (the permission gate).
    pub const CHANNEL: &str = "GET /channels/{channel}";
    /// A server (the permission gate).
    pub const GUILD: &str = "GET /guilds/{guild}";
    /// The bot's member in a server (the permission gate).
    pub const MEMBER: &str = "GET /guilds/{guild}/members/{user}";
    /// The bot's own user (start-up: is the token good).
    pub const CURRENT_USER: &str = "GET /users/@me";
    /// The gateway URL and shard count (start-up in proxy mode).
    pub const GATEWAY_BOT: &str = "GET /gateway/bot";
    /// Registering the commands on one server.
    pub const GUILD_COMMANDS: &str = "PUT /applications/{application}/guilds/{guild}/commands";
    /// Registering the commands globally.
    pub const GLOBAL_COMMANDS: &str = "PUT /applications/{application}/commands";
    /// Every template, for the test that none can carry an id.
    pub const ALL: &[&str] = &[
        INTERACTION_CALLBACK,
        FOLLOWUP,
        EDIT_FOLLOWUP,
        CREATE_MESSAGE,
        CHANNEL_MESSAGES,
        MESSAGE,
        EXPIRE_POLL,
        MESSAGE_THREAD,
        CHANNEL,
        GUILD,
        MEMBER,
        CURRENT_USER,
        GATEWAY_BOT,
        GUILD_COMMANDS,
        GLOBAL_COMMANDS,
    ];
}

/// Runs one try of a call on `route` within `limit`, and counts it (a 429 also as a rate limit met).
async fn metered<T>(
    route: &'static str,
    limit: Duration,
    cap: Duration,
    call: impl Future<Output = Result<T, serenity::Error>>,
) -> Result<T, serenity::Error> {
    let started = std::time::Instant::now();
    let outcome = match tokio::time::timeout(limit, call).await {
        Ok(outcome) => outcome,
        Err(_) => Err(timed_out(cap)),
    };
    let refused = outcome.as_ref().err().map(classify).and_then(|c| match c {
        Classified::Refused(response) => Some(response),
        _ => None,
    });
    if let Some(response) = refused.filter(|r| r.status_code.as_u16() == 429) {
        // Only a 429 serenity's limiter did not absorb gets here: in proxy mode, where the proxy limits the rate.
        // The relay's reading names its scope; an https:// proxy's 429 cannot be read ("unread").
        let scope =
            super::relay::peek_rate_limit(&response.url).map_or("unread", |limit| limit.scope());
        telemetry::rate_limited(scope);
    }
    if let Some(status @ (401 | 403 | 429)) = refused.map(|r| r.status_code.as_u16()) {
        telemetry::invalid_request(status);
    }
    telemetry::rest_call(route, status_of(&outcome), started.elapsed());
    outcome
}

/// Runs one Discord call on `route` (a template from [`route`], for the metrics), cut after `cap` (serenity's own
/// unbounded 429 retries in the default mode included). For calls that must not be repeated blindly, such as
/// interaction callbacks.
pub async fn capped<T>(
    route: &'static str,
    cap: Duration,
    call: impl Future<Output = Result<T, serenity::Error>>,
) -> Result<T, serenity::Error> {
    metered(route, cap, cap, call).await
}

/// Runs `call` until it succeeds, fails for a reason retrying cannot fix, [`ATTEMPTS`] are spent, or `cap` has
/// passed since the first try, waiting with exponential backoff (at least `retry_after`) in between. `cap` bounds
/// the whole loop, not each try: a try gets what is left of it, and a wait that would end past it is not taken.
/// It also bounds serenity's own 429 retries in the default mode. Only for calls safe to repeat: reads, idempotent
/// writes, and message sends carrying a nonce with `enforce_nonce`. Each try is counted under `route`.
pub async fn with_retries<T, F, Fut>(
    what: &str,
    route: &'static str,
    cap: Duration,
    call: F,
) -> Result<T, serenity::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, serenity::Error>>,
{
    with_retries_paced(what, route, cap, None, call).await
}

/// [`with_retries`] for the background processes' requests: each try first waits for its slot from `pacer` (the
/// wait is not counted against `cap`, which bounds Discord's answers, not our own queue), and a 429 pushes the
/// pacer's whole schedule back, so every job slows down, not just this one.
pub async fn with_retries_paced<T, F, Fut>(
    what: &str,
    route: &'static str,
    cap: Duration,
    pacer: Option<&Pacer>,
    mut call: F,
) -> Result<T, serenity::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, serenity::Error>>,
{
    let mut deadline = tokio::time::Instant::now() + cap;
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        if let Some(pacer) = pacer {
            let queued = tokio::time::Instant::now();
            pacer.wait().await;
            deadline += queued.elapsed();
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let error = match metered(route, left, cap, call()).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let failure = Failure::of(&error);
        if !matches!(failure, Failure::Transient(_)) {
            return Err(error);
        }
        if attempt >= ATTEMPTS {
            return Err(error);
        }
        let limited = rate_limited(&error);
        // A 429 is waited out as Discord asked (another try sooner is one more invalid request); anything else
        // backs off.
        let wait = limited.map_or(backoff, |limit| limit.retry_after.max(FIRST_BACKOFF));
        if let (Some(pacer), Some(limit)) = (pacer, limited) {
            if limit.global || limit.cloudflare {
                pacer.pause(limit.retry_after).await;
            }
        }
        if tokio::time::Instant::now() + wait >= deadline {
            warn!(
                attempt,
                "{what} failed ({}); giving up: another try would end past the {cap:?} cap",
                failure.text()
            );
            return Err(error);
        }
        warn!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "{what} failed ({}); retrying",
            failure.text()
        );
        tokio::time::sleep(wait).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
        attempt += 1;
    }
}

/// A try cut by the cap, as an error that sorts as transient.
fn timed_out(cap: Duration) -> serenity::Error {
    serenity::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {cap:?}"),
    ))
}

/// What a 429 said, or `None` for any other error.
///
/// serenity 0.12.5 keeps neither Discord's `Retry-After` header nor the body's `retry_after` in the error it
/// returns (`ErrorResponse::from_response` keeps a status, the URL and a `{code, message}` a 429 body does not
/// have). A 429 reaches this code only in proxy mode (in the default mode serenity's rate limiter reads
/// `Retry-After` itself, waits and retries, bounded by the cap), where the [`relay`](super::relay) read it on its
/// way: its reading is used. Without one (an `https://` proxy the relay cannot read) the bot waits a second,
/// doubling. A Cloudflare ban page waits [`CLOUDFLARE_BACKOFF`]; in the default mode every 429 that reaches this
/// code is one (see below), and a global 429, which serenity waits out itself, is seen by
/// [`super::health::RateLimits`] instead.
pub fn rate_limited(error: &serenity::Error) -> Option<RateLimit> {
    match classify(error) {
        Classified::Refused(response) if response.status_code.as_u16() == 429 => {
            let mut limit = super::relay::rate_limit_of(&response.url).unwrap_or(RateLimit {
                retry_after: RATE_LIMITED_WAIT,
                global: false,
                // The default mode: serenity's limiter waits out and retries every 429 that carries Discord's
                // `Retry-After`, so one that reaches us carries none, which only Cloudflare's ban page does.
                cloudflare: response.url.starts_with(DISCORD_API),
            });
            if limit.cloudflare {
                limit.retry_after = limit.retry_after.max(CLOUDFLARE_BACKOFF);
                error!(
                    "Cloudflare refused a call to Discord (a 429 without Discord's rate-limit headers): this IP is \
                     banned for a while after too many invalid requests (401, 403, 429); background work stops for \
                     {} minutes and that call is not tried again",
                    CLOUDFLARE_BACKOFF.as_secs() / 60
                );
            }
            Some(limit)
        }
        _ => None,
    }
}

/// Where serenity sends every call in the default mode.
const DISCORD_API: &str = "https://discord.com/api/";

/// The first wait after a 429 the relay did not read (see [`rate_limited`]).
const RATE_LIMITED_WAIT: Duration = Duration::from_secs(1);

/// How long the background work stops after a 429 from Cloudflare (no rate-limit headers): its bans last minutes to
/// an hour, and every request meanwhile counts toward the next.
pub const CLOUDFLARE_BACKOFF: Duration = crate::lifecycle::pacer::LONGEST_PAUSE;

/// Runs an interaction reply or follow-up, each try cut after `cap`, tried again after a 429 only (Discord did not
/// act on it, so another try cannot double the answer) after the wait Discord asked for, while `until` allows: a
/// follow-up's token lives 15 minutes, and the moderator's answer is worth waiting for.
pub async fn answering<T, F, Fut>(
    route: &'static str,
    cap: Duration,
    until: tokio::time::Instant,
    mut call: F,
) -> Result<T, serenity::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, serenity::Error>>,
{
    let mut attempt = 1;
    loop {
        let error = match capped(route, cap, call()).await {
            Ok(value) => return Ok(value),
            Err(error) => error,
        };
        let Some(limit) = rate_limited(&error) else {
            return Err(error);
        };
        let wait = limit.retry_after.max(FIRST_BACKOFF);
        if limit.cloudflare
            || attempt >= ANSWER_ATTEMPTS
            || tokio::time::Instant::now() + wait >= until
        {
            return Err(error);
        }
        warn!(
            attempt,
            wait_ms = wait.as_millis() as u64,
            "an interaction answer was rate limited ({}); retrying",
            Failure::of(&error).text()
        );
        tokio::time::sleep(wait).await;
        attempt += 1;
    }
}

/// How many tries [`answering`] makes at most.
const ANSWER_ATTEMPTS: u32 = 5;

#[cfg(test)]
mod tests {
    use super::*;

    /// A try that fails at once with a transient error, counting its calls.
    async fn failing(calls: &std::sync::atomic::AtomicU32) -> Result<(), serenity::Error> {
        calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(timed_out(Duration::from_millis(1)))
    }

    #[test]
    fn route_templates_carry_no_ids() {
        for template in route::ALL {
            let (method, path) = template.split_once(' ').unwrap_or_default();
            assert!(
                ["GET", "POST", "PUT", "PATCH"].contains(&method),
                "{template}"
            );
            assert!(path.starts_with('/'), "{template}");
            assert!(!path.chars().any(|c| c.is_ascii_digit()), "{template}");
        }
    }

    #[tokio::test]
    async fn the_cap_bounds_the_whole_retry_loop() {
        // Backoffs of 250 ms then 500 ms: the second wait would end past a 600 ms cap, so two tries only.
        let calls = std::sync::atomic::AtomicU32::new(0);
        let started = std::time::Instant::now();
        let result = with_retries(
            "a test call",
            "GET /test",
            Duration::from_millis(600),
            || failing(&calls),
        )
        .await;
        assert!(result.is_err());
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
        assert!(
            started.elapsed() < Duration::from_millis(600),
            "{:?}",
            started.elapsed()
        );
        // A try that never answers is cut when the cap is spent, not after a full cap per try.
        let started = std::time::Instant::now();
        let hung = with_retries(
            "a hung call",
            "GET /test",
            Duration::from_millis(300),
            std::future::pending::<Result<(), serenity::Error>>,
        )
        .await;
        assert!(hung.is_err());
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(300) && took < Duration::from_millis(900),
            "{took:?}"
        );
    }
}
