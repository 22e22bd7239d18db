//! Operations end to end: the health endpoint, the shard watchdog against a gateway node that goes silent, a
//! timeout on every REST call, a database locked by another process, and least-privilege intents.

use std::time::Duration;

use serde_json::Value;

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::{sample, scrape, Harness, MODERATOR, T};

async fn get_health(url: &str) -> (u16, Value) {
    let response = reqwest::get(url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// The bot with a 1 s HTTP timeout (so a 2 s cap on every call).
async fn start_with_one_second_timeout() -> Harness {
    Harness::start_with(
        FakeOptions::default(),
        vec![("SCENEBOT_HTTP_TIMEOUT_SECONDS", "1".to_owned())],
    )
    .await
}

/// The bot with its health endpoint on a free port, and the endpoint's URL.
async fn start_with_health() -> (Harness, String) {
    let harness = Harness::start_with(
        FakeOptions::default(),
        vec![("SCENEBOT_HEALTH_ADDR", "127.0.0.1:0".to_owned())],
    )
    .await;
    let url = harness.health_url().await;
    (harness, url)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_health_endpoint_reports_shards_and_the_database() {
    let (harness, url) = start_with_health().await;
    harness.scene(None).await;
    let (status, body) = get_health(&url).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(
        body["jobs"],
        serde_json::json!({ "down": [], "restarts": 0 })
    );
    assert_eq!(body["shards"][0]["connected"], true, "{body:#}");
    assert!(
        body["shards"][0]["last_event_age_s"]
            .as_u64()
            .is_some_and(|age| age < 30),
        "{body:#}"
    );
    // The gateway goes silent: the shard is not connected, and the endpoint says so with a 503.
    harness.fake.silence_next_connections(1);
    harness.fake.drop_socket();
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (status, body) = get_health(&url).await;
        if status == 503 {
            assert_eq!(body["status"], "unhealthy");
            assert_eq!(body["shards"][0]["connected"], false);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "never unhealthy: {body:#}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// serenity 0.12.5 notices a silent node itself once it knows the heartbeat interval; before the first HELLO it
/// waits forever. That is the watchdog's case: the bot's very first gateway connection goes silent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_watchdog_restarts_a_shard_stuck_on_a_silent_gateway() {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    fake.silence_next_connections(1);
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options
        .env
        .push(("SCENEBOT_WATCHDOG_SECONDS", "10".to_owned()));
    let bot = BotProcess::start(options);
    bot.wait_log("restarting it", T).await;
    // After the restart the shard reaches a healthy node, identifies, and the bot gets ready.
    fake.wait_identify(1, T).await;
    fake.wait_for_request(|r| r.method == "PUT" && r.route().ends_with("/commands"), T)
        .await;
    let interaction = fake.slash("scene").send().await;
    fake.wait_callback(interaction.id, T).await;
    assert_eq!(
        bot.log_count("restarting it"),
        1,
        "one restart, no loop:\n{}",
        bot.logs()
    );
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_rest_call_has_a_timeout_and_safe_calls_are_retried() {
    let harness = start_with_one_second_timeout().await;
    // A /favorite start whose poll post hangs for 5 s: the call times out after 1 s and is retried (the nonce
    // makes the repeat safe); one poll is posted.
    harness.fake.delay_next(
        "POST",
        &format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID),
        Duration::from_secs(5),
    );
    let start = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    harness.fake.wait_callback(start.id, T).await;
    harness.bot.wait_log("favorite poll posted", T).await;
    assert!(
        harness.bot.logs().contains("retrying"),
        "{}",
        harness.bot.logs()
    );
    let polls = harness
        .fake
        .channel_messages(FakeDiscord::CHANNEL_ID)
        .into_iter()
        .filter(|m| m["poll"].is_object())
        .count();
    assert_eq!(polls, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_database_stops_start_up_with_a_clear_error_untouched() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let dir = std::sync::Arc::new(crate::support::TempDir::new());
    let database = dir.path.join("scenebot.sqlite3");
    let holder = rusqlite::Connection::open(&database).unwrap_or_else(|e| panic!("{e}"));
    holder
        .execute_batch("CREATE TABLE mine (x);")
        .unwrap_or_else(|e| panic!("{e}"));
    // Read the bytes before locking: closing any descriptor of the file in this process would drop SQLite's
    // POSIX locks.
    let before = std::fs::read(&database).ok();
    holder
        .execute_batch("BEGIN EXCLUSIVE; INSERT INTO mine VALUES (1);")
        .unwrap_or_else(|e| panic!("{e}"));
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.dir = Some(dir);
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(1));
    assert!(
        bot.logs().contains("is locked by another process"),
        "{}",
        bot.logs()
    );
    drop(holder); // rolls the insert back
    assert_eq!(
        std::fs::read(&database).ok(),
        before,
        "the file is untouched"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_asks_for_guilds_only() {
    let harness = Harness::start().await;
    let identify = harness.fake.last_identify().unwrap_or_default();
    assert_eq!(
        identify["intents"], 1,
        "GUILDS only, never MESSAGE_CONTENT: {identify:#}"
    );
}

#[test]
fn dot_env_is_ignored_by_git() {
    let ignore = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.gitignore"))
        .unwrap_or_default();
    assert!(ignore.lines().any(|line| line.trim() == ".env"), "{ignore}");
}

/// Item 15: serenity drops a dispatch it cannot parse as "unknown" at DEBUG level. An INTERACTION_CREATE with a
/// field of the wrong type must be a WARN line naming its type, and counted in /health.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unparsable_dispatch_is_a_warning_and_counted_in_health() {
    let (harness, url) = start_with_health().await;
    let (_, before) = get_health(&url).await;
    assert_eq!(
        before["unparsed_events"],
        serde_json::json!({}),
        "{before:#}"
    );
    let mut payload = harness.fake.slash("scene").payload();
    payload["data"]["id"] = serde_json::json!(["not", "a", "snowflake"]);
    let interaction = crate::gateway::id_of(&payload);
    harness.fake.dispatch("INTERACTION_CREATE", payload);
    let line = harness
        .bot
        .wait_log_all(&["WARN", "INTERACTION_CREATE", "could not be parsed"], T)
        .await;
    assert!(
        !line.contains("snowflake"),
        "no values from the body: {line}"
    );
    let (status, body) = get_health(&url).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["unparsed_events"]["INTERACTION_CREATE"], 1, "{body:#}");
    // The bot goes on: the next interaction is answered, the dropped one never was.
    harness.scene(None).await;
    assert!(harness.fake.callbacks_for(interaction).is_empty());
}

/// Item 13: the cap bounds the whole retry loop, not each try. With a 1 s HTTP timeout (cap 2 s), a poll post
/// whose every try hangs is given up after about 2 s, not after four 1 s tries and their back-offs (about 6 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cap_bounds_a_whole_retry_loop() {
    let harness = start_with_one_second_timeout().await;
    let channel_messages = format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID);
    for _ in 0..4 {
        harness
            .fake
            .delay_next("POST", &channel_messages, Duration::from_secs(5));
    }
    let started = std::time::Instant::now();
    let start = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    let token = start.token.clone();
    let told = harness.fake.wait_followup(&token, T).await;
    let waited = started.elapsed();
    let text = told.body["content"].as_str().unwrap_or_default();
    assert!(text.contains("keep trying"), "{text}");
    harness
        .bot
        .wait_log("another try would end past the 2s cap", T)
        .await;
    assert!(
        waited < Duration::from_millis(4500),
        "told after {waited:?}"
    );
    eprintln!("every try hanging, cap 2 s: the moderator was told after {waited:?}");
}

/// Whether `text` has a run of 15 or more digits: a snowflake (a guild, channel, user or interaction id).
fn has_snowflake(text: &str) -> bool {
    let mut run = 0;
    text.chars().any(|c| {
        run = if c.is_ascii_digit() { run + 1 } else { 0 };
        run >= 15
    })
}

/// Issue 17: `GET /metrics` on the health port counts a `/scene` by command and outcome and its callback by route
/// template, and no label carries a token or an id; the README lists every metric the scrape shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_count_interactions_and_rest_calls_without_tokens_or_ids() {
    let (harness, url) = start_with_health().await;
    let interactions =
        r#"scenebot_interactions_total{command="scene",kind="command",outcome="ok"}"#;
    let callbacks = r#"scenebot_discord_requests_total{route="POST /interactions/{interaction}/{token}/callback",status="2xx"}"#;
    let before = scrape(&url).await;
    let (scenes_before, callbacks_before) = (
        sample(&before, interactions).unwrap_or(0.0),
        sample(&before, callbacks).unwrap_or(0.0),
    );
    let interaction = harness.fake.slash("scene").send().await;
    harness.fake.wait_callback(interaction.id, T).await;
    // /health reads the store: a store call to count.
    let (status, _) = get_health(&url).await;
    assert_eq!(status, 200);
    // The interaction is counted once its handler returns, just after the callback: look until it is.
    let deadline = tokio::time::Instant::now() + T;
    let after = loop {
        let after = scrape(&url).await;
        if sample(&after, interactions).unwrap_or(0.0) > scenes_before {
            break after;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the /scene was never counted:\n{after}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        sample(&after, interactions),
        Some(scenes_before + 1.0),
        "{after}"
    );
    assert!(
        sample(&after, callbacks).unwrap_or(0.0) >= callbacks_before + 1.0,
        "{after}"
    );
    for series in [
        r#"scenebot_interaction_seconds_count{command="scene",kind="command"}"#,
        r#"scenebot_interaction_age_seconds_count{kind="command"}"#,
        r#"scenebot_discord_request_seconds_count{route="POST /interactions/{interaction}/{token}/callback"}"#,
        r#"scenebot_discord_requests_total{route="GET /users/@me",status="2xx"}"#,
        r#"scenebot_gateway_connected{shard="0"}"#,
        r#"scenebot_store_call_seconds_count{site="bot::health::DatabaseCheck::ok"}"#,
    ] {
        assert!(
            sample(&after, series).is_some_and(|value| value >= 1.0),
            "{series} missing or zero:\n{after}"
        );
    }
    let tokens = [
        FakeDiscord::TOKEN.to_owned(),
        harness.fake.token(),
        interaction.token.clone(),
    ];
    for line in after.lines() {
        for token in &tokens {
            assert!(!line.contains(token.as_str()), "a token in {line:?}");
        }
        let labels = line
            .split_once('{')
            .and_then(|(_, rest)| rest.rsplit_once('}'))
            .map_or("", |(labels, _)| labels);
        assert!(!has_snowflake(labels), "an id in the labels of {line:?}");
    }
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md"))
        .unwrap_or_else(|e| panic!("README.md: {e}"));
    for family in after
        .lines()
        .filter_map(|line| line.strip_prefix("# TYPE "))
        .filter_map(|rest| rest.split_whitespace().next())
    {
        assert!(
            readme.contains(&format!("`{family}`")),
            "README.md does not list {family}"
        );
    }
}

/// Issue 29.7: idle connections cannot take the health endpoint (or the process's file descriptors): it holds 32
/// at most and closes the rest at once, closes a connection whose request does not come within 5 s, and answers
/// `/health` again once they are gone; its answer never carries the database's error text.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_cannot_take_the_health_endpoint() {
    use tokio::io::AsyncReadExt;
    let (_harness, url) = start_with_health().await;
    let addr = url
        .trim_start_matches("http://")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let mut idle = Vec::new();
    for _ in 0..100 {
        let stream = tokio::net::TcpStream::connect(&addr)
            .await
            .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
        idle.push(stream);
    }
    // Each connection ends (EOF or reset) once the server drops it; the ones over the cap at once, the held ones
    // after the header timeout.
    let started = tokio::time::Instant::now();
    let waits: Vec<_> = idle
        .into_iter()
        .map(|mut stream| {
            tokio::spawn(async move {
                let mut byte = [0u8; 1];
                let ended = tokio::time::timeout(T, stream.read(&mut byte)).await;
                assert!(
                    matches!(ended, Ok(Ok(0)) | Ok(Err(_))),
                    "a connection stayed open"
                );
                started.elapsed()
            })
        })
        .collect();
    let mut closed_at = Vec::new();
    for wait in waits {
        closed_at.push(wait.await.unwrap_or_else(|e| panic!("{e}")));
    }
    let at_once = closed_at
        .iter()
        .filter(|at| **at < Duration::from_secs(3))
        .count();
    assert!(at_once >= 60, "over the cap closed at once: {at_once}");
    assert!(
        closed_at.iter().all(|at| *at < Duration::from_secs(12)),
        "{closed_at:?}"
    );
    let (status, body) = get_health(&url).await;
    assert_eq!(status, 200, "{body:#}");
    assert_eq!(body["invalid_requests_10m"], 0, "{body:#}");
}
