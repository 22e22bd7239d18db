//! The fake's Discord rate limits, latency and invalid-request count proven with a plain HTTP client.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::support::fake_discord::{FakeDiscord, FakeOptions, RateLimits};

use super::{C, WAIT};

/// A fake with these limits (and no spec: these requests are not what the tests are about).
async fn limited(limits: RateLimits) -> FakeDiscord {
    FakeDiscord::start(FakeOptions {
        rate_limits: Some(limits),
        ..FakeOptions::default()
    })
    .await
}

/// One request with the bot's token; the status, the headers we look at, and the JSON body.
async fn call(fake: &FakeDiscord, method: &str, route: &str, body: Option<Value>) -> Answer {
    call_as(fake, &fake.token(), method, route, body).await
}

async fn call_as(
    fake: &FakeDiscord,
    token: &str,
    method: &str,
    route: &str,
    body: Option<Value>,
) -> Answer {
    let client = reqwest::Client::new();
    let url = format!("{}/api/v10{route}", fake.api_url());
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let mut request = client
        .request(method, url)
        .header("authorization", format!("Bot {token}"))
        .timeout(WAIT);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("the fake answers");
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let headers = [
        "retry-after",
        "x-ratelimit-global",
        "x-ratelimit-scope",
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "x-ratelimit-reset-after",
        "x-ratelimit-bucket",
    ]
    .map(|name| (name, header(name)));
    let body = response.json::<Value>().await.unwrap_or(Value::Null);
    Answer {
        status,
        headers: headers.to_vec(),
        body,
    }
}

#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(&'static str, Option<String>)>,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| *n == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_global_limit_in_one_second_is_a_global_429() {
    let fake = limited(RateLimits {
        global_per_second: 3,
        ..RateLimits::discord()
    })
    .await;
    // Ten at once against three a second: the ones past the third inside one second are refused.
    let answers =
        futures_util::future::join_all((0..10).map(|_| call(&fake, "GET", "/users/@me", None)))
            .await;
    let refused: Vec<&Answer> = answers.iter().filter(|a| a.status == 429).collect();
    assert!(!refused.is_empty(), "{answers:#?}");
    let answer = refused[0];
    assert_eq!(answer.body["message"], json!("You are being rate limited."));
    assert_eq!(answer.body["global"], json!(true));
    assert!(answer.body.get("code").is_none(), "{answer:?}");
    let retry_after = answer.body["retry_after"].as_f64().expect("a number");
    assert!(retry_after > 0.0 && retry_after <= 1.0, "{answer:?}");
    assert_eq!(answer.header("retry-after"), Some("1"));
    assert_eq!(answer.header("x-ratelimit-global"), Some("true"));
    assert_eq!(answer.header("x-ratelimit-scope"), Some("global"));
    let stats = fake.rate_stats();
    assert_eq!(stats.requests, 10);
    assert_eq!(stats.counted, 10);
    assert_eq!(stats.global_limited, refused.len() as u64);
    assert_eq!(stats.peak_per_second, 10, "{stats:?}");
    assert_eq!(stats.per_second.iter().sum::<u32>(), 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sixth_message_to_a_channel_inside_its_window_is_a_route_429() {
    // A long window, so a slow machine cannot let the bucket reset between the sends.
    let fake = limited(RateLimits {
        channel_window: Duration::from_secs(60),
        ..RateLimits::discord()
    })
    .await;
    let route = format!("/channels/{C}/messages");
    for remaining in (0..5).rev() {
        let answer = call(&fake, "POST", &route, Some(json!({"content": "hi"}))).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        assert_eq!(answer.header("x-ratelimit-limit"), Some("5"));
        assert_eq!(
            answer.header("x-ratelimit-remaining"),
            Some(remaining.to_string().as_str())
        );
        let reset_after: f64 = answer
            .header("x-ratelimit-reset-after")
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset_after > 0.0 && reset_after <= 60.0, "{answer:?}");
        let reset: f64 = answer.header("x-ratelimit-reset").unwrap().parse().unwrap();
        assert!(reset > 1_700_000_000.0, "{answer:?}");
        assert!(answer.header("x-ratelimit-bucket").is_some());
    }
    let sixth = call(&fake, "POST", &route, Some(json!({"content": "hi"}))).await;
    assert_eq!(sixth.status, 429, "{sixth:?}");
    assert_eq!(sixth.body["global"], json!(false));
    assert!(sixth.body["retry_after"].as_f64().unwrap() > 0.0);
    assert_eq!(sixth.header("x-ratelimit-scope"), Some("user"));
    assert_eq!(sixth.header("x-ratelimit-remaining"), Some("0"));
    assert!(sixth.header("x-ratelimit-global").is_none());
    assert!(sixth.header("x-ratelimit-bucket").is_some());
    assert!(sixth.header("retry-after").is_some());
    assert_eq!(fake.channel_messages(C).len(), 5);
    assert_eq!(fake.channel_posts()[&C].len(), 5);
    assert_eq!(fake.rate_stats().route_limited, 1);
    // Another channel has its own bucket.
    let other = call(
        &fake,
        "POST",
        "/channels/1/messages",
        Some(json!({"content": "hi"})),
    )
    .await;
    assert_ne!(other.status, 429, "{other:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_endpoints_are_not_counted_against_the_global_limit() {
    let fake = limited(RateLimits {
        global_per_second: 1,
        ..RateLimits::discord()
    })
    .await;
    let first = call(&fake, "GET", "/users/@me", None).await;
    assert_eq!(first.status, 200);
    let second = call(&fake, "GET", "/users/@me", None).await;
    assert_eq!(second.status, 429, "the limit is reached: {second:?}");
    let app = fake.application_id();
    for _ in 0..3 {
        let callback = call(
            &fake,
            "POST",
            "/interactions/1/token/callback",
            Some(json!({"type": 1})),
        )
        .await;
        assert_ne!(callback.status, 429, "{callback:?}");
        let followup = call(
            &fake,
            "POST",
            &format!("/webhooks/{app}/token"),
            Some(json!({"content": "hi"})),
        )
        .await;
        assert_ne!(followup.status, 429, "{followup:?}");
    }
    let stats = fake.rate_stats();
    assert_eq!((stats.requests, stats.counted), (8, 2), "{stats:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rest_answers_wait_the_configured_latency() {
    let min = Duration::from_millis(200);
    let fake = FakeDiscord::start(FakeOptions {
        rest_latency: Some((min, Duration::from_millis(300))),
        ..FakeOptions::default()
    })
    .await;
    for _ in 0..3 {
        let started = Instant::now();
        let answer = call(&fake, "GET", "/users/@me", None).await;
        assert_eq!(answer.status, 200);
        assert!(started.elapsed() >= min, "{:?}", started.elapsed());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_requests_are_counted_as_discord_counts_them() {
    let fake = limited(RateLimits {
        global_per_second: 1,
        ..RateLimits::discord()
    })
    .await;
    assert_eq!(
        call_as(&fake, "wrong", "GET", "/users/@me", None)
            .await
            .status,
        401
    );
    assert_eq!(call(&fake, "GET", "/users/@me", None).await.status, 200);
    assert_eq!(call(&fake, "GET", "/users/@me", None).await.status, 429);
    // Not invalid: a 404 (an unknown interaction is not rate limited either).
    let unknown = call(
        &fake,
        "POST",
        "/interactions/1/t/callback",
        Some(json!({"type": 1})),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let stats = fake.rate_stats();
    assert_eq!(stats.invalid, 2, "{stats:?}");
    assert_eq!(stats.global_limited, 1, "{stats:?}");
}
