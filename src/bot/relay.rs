//! Proxy mode's ear for 429s. serenity 0.12.5 keeps neither a 429's `Retry-After` header nor its JSON body (its
//! `ErrorResponse` holds a status, the URL and a decoded `{code, message}`, which a 429 body does not have), and in
//! proxy mode its own rate limiter is off. So with an `http://` `DISCORD_API_URL` the bot's HTTP client sends every
//! REST call through this forward proxy on 127.0.0.1: it passes each request to the URL it names, unchanged, and
//! the answer back, unchanged, and for each 429 keeps what Discord said (`retry_after` from the body, else the
//! header; `global`; and whether it carried rate-limit headers at all: a 429 without them is Cloudflare's ban
//! page) under the request's URL, where [`rate_limit_of`] finds it again from serenity's error. URLs the relay
//! holds may carry interaction tokens: they are kept in memory for a minute at most and never logged.
//!
//! An `https://` `DISCORD_API_URL` is tunnelled (CONNECT) by HTTP clients, so the relay cannot read it: the bot
//! then waits a second, doubling, after a 429 (see `calls::rate_limited`).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{LazyLock, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::Response;
use tracing::{info, warn};

/// What one 429 said.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateLimit {
    /// How long Discord asked the bot to wait.
    pub retry_after: Duration,
    /// Whether the limit is the bot's global one (every route waits), not one route's bucket.
    pub global: bool,
    /// A 429 with no `X-RateLimit-*` headers and no JSON: Cloudflare's ban page, not Discord's limiter. Back off for
    /// minutes: every further request counts toward a longer ban.
    pub cloudflare: bool,
}

/// How long a 429's reading is kept for serenity's error to find (it is read within the same call).
const KEPT_FOR: Duration = Duration::from_secs(60);

/// At most this many readings are kept; older ones are dropped first (a 429 storm cannot grow the map).
const KEPT_AT_MOST: usize = 1024;

/// The largest request body passed on (the bot sends no files; Discord's own limit for JSON bodies is lower).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// The largest answer passed back: a page of 100 messages at Discord's size limits is under 4 MiB, so anything far
/// past that is not Discord and is not held in memory.
const MAX_ANSWER: usize = 16 * 1024 * 1024;

/// The message of the relay's own 502 when `DISCORD_API_URL` cannot be reached; the start-up error reads it as
/// "cannot reach Discord" (exit 75), as it would read the network error without the relay.
pub const UNREACHABLE: &str = "scenebot relay: cannot reach DISCORD_API_URL";

/// The 429 readings by request URL, shared by every bot of the process (tests run several).
static READINGS: LazyLock<Mutex<HashMap<String, (Instant, RateLimit)>>> =
    LazyLock::new(Mutex::default);

/// What the 429 answered to `url` said, if the relay saw it (taken: each reading serves one error).
pub fn rate_limit_of(url: &str) -> Option<RateLimit> {
    let mut readings = READINGS.lock().unwrap_or_else(PoisonError::into_inner);
    readings
        .remove(url)
        .filter(|(at, _)| at.elapsed() < KEPT_FOR)
        .map(|(_, limit)| limit)
}

/// What the 429 answered to `url` said, left in place for [`rate_limit_of`] (for counting it by scope).
pub fn peek_rate_limit(url: &str) -> Option<RateLimit> {
    let readings = READINGS.lock().unwrap_or_else(PoisonError::into_inner);
    readings
        .get(url)
        .filter(|(at, _)| at.elapsed() < KEPT_FOR)
        .map(|(_, limit)| *limit)
}

impl RateLimit {
    /// The metric scope of this 429: Cloudflare's ban page, Discord's global limit, or a route's bucket.
    pub fn scope(&self) -> &'static str {
        match (self.cloudflare, self.global) {
            (true, _) => "cloudflare",
            (false, true) => "global",
            (false, false) => "route",
        }
    }
}

fn keep(url: String, limit: RateLimit) {
    let mut readings = READINGS.lock().unwrap_or_else(PoisonError::into_inner);
    readings.retain(|_, (at, _)| at.elapsed() < KEPT_FOR);
    if readings.len() >= KEPT_AT_MOST {
        if let Some(oldest) = readings
            .iter()
            .min_by_key(|(_, (at, _))| *at)
            .map(|(url, _)| url.clone())
        {
            readings.remove(&oldest);
        }
    }
    readings.insert(url, (Instant::now(), limit));
}

/// Reads a 429: Discord's JSON body (`retry_after` in seconds, `global`), else its `Retry-After` header and
/// `X-RateLimit-Global`/`X-RateLimit-Scope`; neither headers nor JSON means Cloudflare. Pure, so it is tested
/// without a network.
pub fn read_429(headers: &HeaderMap, body: &[u8]) -> RateLimit {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let json: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let from_body = json
        .as_ref()
        .and_then(|j| j.get("retry_after"))
        .and_then(serde_json::Value::as_f64);
    let from_header = header("retry-after").and_then(|v| v.trim().parse::<f64>().ok());
    let limited_by_discord = headers
        .keys()
        .any(|name| name.as_str().starts_with("x-ratelimit-"));
    let cloudflare = !limited_by_discord && from_body.is_none();
    let global = json
        .as_ref()
        .and_then(|j| j.get("global"))
        .and_then(serde_json::Value::as_bool)
        .unwrap_or(false)
        || header("x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || header("x-ratelimit-scope") == Some("global");
    let seconds = from_body.or(from_header).unwrap_or(1.0);
    RateLimit {
        retry_after: Duration::try_from_secs_f64(seconds.clamp(0.0, 86_400.0))
            .unwrap_or(Duration::from_secs(1)),
        global,
        cloudflare,
    }
}

#[derive(Clone)]
struct Relay {
    client: reqwest::Client,
    /// The origin (`scheme://host:port`) of `DISCORD_API_URL`: the only one passed on, so the relay is no open proxy.
    origin: String,
}

/// Starts the relay for `api_url` on 127.0.0.1 (a free port), passing requests on with `client`, until `stopped`.
/// Returns its address, for the bot's HTTP client's proxy setting.
pub async fn start(
    api_url: &str,
    client: reqwest::Client,
    stopped: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<SocketAddr> {
    let origin = url::Url::parse(api_url)
        .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?
        .origin()
        .ascii_serialization();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let addr = listener.local_addr()?;
    let relay = Relay { client, origin };
    let app = axum::Router::new().fallback(pass).with_state(relay);
    tokio::spawn(async move {
        if let Err(error) = axum::serve(listener, app)
            .with_graceful_shutdown(stopped)
            .await
        {
            warn!("the 429 relay stopped: {error}");
        }
    });
    info!(relay = %addr, "proxy mode: REST calls pass through a local relay that reads Discord's 429 answers");
    Ok(addr)
}

/// Passes one request on and its answer back; keeps what a 429 said.
async fn pass(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let url = parts.uri.to_string();
    if !passes_to(&url, &relay.origin) {
        return answer(
            StatusCode::FORBIDDEN,
            "scenebot relay: only DISCORD_API_URL",
        );
    }
    let Ok(body) = axum::body::to_bytes(body, MAX_BODY).await else {
        return answer(
            StatusCode::PAYLOAD_TOO_LARGE,
            "scenebot relay: body too large",
        );
    };
    let mut outgoing = relay.client.request(parts.method, &url).body(body);
    for (name, value) in &parts.headers {
        if !matches!(
            *name,
            header::HOST
                | header::CONTENT_LENGTH
                | header::CONNECTION
                | header::PROXY_AUTHORIZATION
        ) && name.as_str() != "proxy-connection"
        {
            outgoing = outgoing.header(name, value);
        }
    }
    let response = match outgoing.send().await {
        Ok(response) => response,
        Err(error) => {
            // The request, and so its token, stays out of the line: only the cause.
            let cause = std::error::Error::source(&error)
                .map_or_else(|| "no answer".to_owned(), ToString::to_string);
            return answer(StatusCode::BAD_GATEWAY, &format!("{UNREACHABLE} ({cause})"));
        }
    };
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = match read_bounded(response, MAX_ANSWER).await {
        Ok(bytes) => bytes,
        Err(why) => return answer(StatusCode::BAD_GATEWAY, &format!("{UNREACHABLE} ({why})")),
    };
    if status == StatusCode::TOO_MANY_REQUESTS {
        keep(url, read_429(&headers, &bytes));
    }
    let mut back = Response::new(Body::from(bytes));
    *back.status_mut() = status;
    for (name, value) in &headers {
        if !matches!(
            *name,
            header::CONTENT_LENGTH | header::TRANSFER_ENCODING | header::CONNECTION
        ) {
            back.headers_mut().append(name, value.clone());
        }
    }
    back
}

/// Whether the relay passes a request for `url` on: only to `origin` itself, judged by the parsed URL (scheme, host
/// and port), never by a string prefix (`http://127.0.0.1:3000@elsewhere/` starts like the origin but goes
/// elsewhere), and never with user info in it.
fn passes_to(url: &str, origin: &str) -> bool {
    url::Url::parse(url).is_ok_and(|parsed| {
        parsed.username().is_empty()
            && parsed.password().is_none()
            && parsed.origin().ascii_serialization() == origin
    })
}

/// The body of `response`, read up to `limit` bytes: an upstream that sends more (or says it will) is cut off
/// rather than held in memory.
async fn read_bounded(mut response: reqwest::Response, limit: usize) -> Result<Vec<u8>, String> {
    let too_large = || format!("its answer is over {limit} bytes");
    if response
        .content_length()
        .is_some_and(|length| length > limit as u64)
    {
        return Err(too_large());
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|_| "its answer broke off".to_owned())?
    {
        if body.len() + chunk.len() > limit {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// The relay's own answer, shaped as Discord's errors are (`code`, `message`) so serenity keeps the message.
fn answer(status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "code": 0, "message": message }).to_string();
    let mut response = Response::new(Body::from(body));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, header::HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_429_is_read_from_discords_body_then_its_headers() {
        let route = read_429(
            &headers(&[("retry-after", "3"), ("x-ratelimit-scope", "user")]),
            br#"{"message": "You are being rate limited.", "retry_after": 2.5, "global": false}"#,
        );
        assert_eq!(
            route,
            RateLimit {
                retry_after: Duration::from_millis(2500),
                global: false,
                cloudflare: false
            }
        );
        let global = read_429(
            &headers(&[("retry-after", "4"), ("x-ratelimit-global", "true")]),
            b"not json",
        );
        assert_eq!(global.retry_after, Duration::from_secs(4));
        assert!(global.global && !global.cloudflare);
        let banned = read_429(&HeaderMap::new(), b"<html>Error 1015</html>");
        assert!(banned.cloudflare);
    }

    #[test]
    fn only_the_origin_itself_is_passed_on() {
        let origin = "http://127.0.0.1:3000";
        assert!(passes_to("http://127.0.0.1:3000/api/v10/users/@me", origin));
        for elsewhere in [
            "http://127.0.0.1:3000@evil.test/api/v10/users/@me",
            "http://user:pw@127.0.0.1:3000/api/v10/users/@me",
            "http://127.0.0.1:30000/api/v10/users/@me",
            "http://127.0.0.1:3000.evil.test/",
            "https://127.0.0.1:3000/",
            "/api/v10/users/@me",
            "not a url",
        ] {
            assert!(!passes_to(elsewhere, origin), "{elsewhere}");
        }
    }

    #[test]
    fn a_reading_serves_one_error_and_the_map_stays_bounded() {
        let limit = RateLimit {
            retry_after: Duration::from_secs(2),
            global: false,
            cloudflare: false,
        };
        for n in 0..KEPT_AT_MOST + 10 {
            keep(format!("http://relay.test/{n}"), limit);
        }
        assert!(READINGS.lock().map(|r| r.len()).unwrap_or(0) <= KEPT_AT_MOST);
        let last = format!("http://relay.test/{}", KEPT_AT_MOST + 9);
        assert_eq!(rate_limit_of(&last), Some(limit));
        assert_eq!(rate_limit_of(&last), None, "taken");
    }
}
