//! REST faults in the default mode: no `DISCORD_API_URL`, so serenity's own rate limiter runs, and the bot reaches
//! "discord.com" through `HTTPS_PROXY` with a test certificate authority in `SSL_CERT_FILE`
//! (`support::tls_proxy`), as it would behind a corporate proxy.

use std::net::SocketAddr;

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::{background_pause_left, sample, scrape, title, MODERATOR, T};
use crate::support::tls_proxy::DiscordBehindProxy;

/// The fake behind the proxy, and the bot started in the default mode with `env` added, commands registered.
async fn start_behind_proxy(
    env: Vec<(&'static str, String)>,
) -> (FakeDiscord, DiscordBehindProxy, BotProcess) {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    let (proxy, bot) = launch_behind_proxy(&fake, env).await;
    fake.wait_for_request(|r| r.method == "PUT" && r.route().ends_with("/commands"), T)
        .await;
    (fake, proxy, bot)
}

/// Puts `fake` behind the proxy and starts the bot in the default mode with `env` added; waits for nothing.
async fn launch_behind_proxy(
    fake: &FakeDiscord,
    env: Vec<(&'static str, String)>,
) -> (DiscordBehindProxy, BotProcess) {
    let addr: SocketAddr = fake
        .api_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap_or_else(|e| panic!("{e}"));
    let proxy = DiscordBehindProxy::start(addr).await;
    let mut options = BotOptions::new("", &fake.token());
    options.env.push(("HTTPS_PROXY", proxy.proxy_url.clone()));
    options
        .env
        .push(("SSL_CERT_FILE", proxy.ca_file.display().to_string()));
    options.env.extend(env);
    (proxy, BotProcess::start(options))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_mode_goes_through_the_proxy_and_survives_429s_and_5xx() {
    let (fake, proxy, bot) = start_behind_proxy(Vec::new()).await;
    bot.wait_log("ready", T).await;
    assert!(
        !bot.logs().contains("proxy mode"),
        "default mode: serenity's rate limiter is on"
    );
    let connects = proxy.connects.lock().map(|c| c.clone()).unwrap_or_default();
    assert!(
        connects.iter().all(|c| c == "discord.com:443") && !connects.is_empty(),
        "{connects:?}"
    );

    // 429 on the callback route, then a global 429: serenity's rate limiter waits `retry_after` and retries.
    for global in [false, true] {
        fake.fail_next("POST", "/interactions", 429, Some(0.3), global);
        let interaction = fake
            .slash("scene")
            .option_str("drama", "hwarang")
            .send()
            .await;
        let route = format!("/interactions/{}/", interaction.id);
        let accepted = fake
            .wait_for_request(|r| r.route().starts_with(&route) && r.status == 204, T)
            .await;
        assert!(title(&accepted.body).contains("Hwarang"));
        let attempts: Vec<u16> = fake
            .requests()
            .iter()
            .filter(|r| {
                r.route()
                    .starts_with(&format!("/interactions/{}/", interaction.id))
            })
            .map(|r| r.status)
            .collect();
        assert_eq!(attempts, vec![429, 204], "global: {global}");
    }

    // 500 then 503 on a message send: the bot's own bounded retries (safe: the poll carries a nonce).
    let channel_messages = format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID);
    fake.fail_next("POST", &channel_messages, 500, None, false);
    fake.fail_next("POST", &channel_messages, 503, None, false);
    fake.slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    bot.wait_log("favorite poll posted", T).await;
    let polls = fake
        .channel_messages(FakeDiscord::CHANNEL_ID)
        .into_iter()
        .filter(|m| m["poll"].is_object())
        .count();
    assert_eq!(polls, 1);
    fake.assert_no_violations();
}

/// serenity 0.12.5 retries a 429 after `retry_after` with no limit (and holds the route for that long); the bot
/// cuts every call, its retries included, at twice its HTTP timeout, so a huge `retry_after` gets the moderator an
/// answer within seconds instead of a command that hangs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_retry_after_is_cut_by_the_cap() {
    let (fake, _proxy, bot) =
        start_behind_proxy(vec![("SCENEBOT_HTTP_TIMEOUT_SECONDS", "1".to_owned())]).await;
    let channel_messages = format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID);
    fake.fail_next("POST", &channel_messages, 429, Some(60.0), false);
    let started = std::time::Instant::now();
    let start = fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    let token = start.token.clone();
    let told = fake.wait_followup(&token, T).await;
    let waited = started.elapsed();
    let text = told.body["content"].as_str().unwrap_or_default();
    assert!(text.contains("keep trying"), "{text}");
    assert_eq!(told.body["flags"], 64, "told privately");
    // One try, cut when the 2 s cap was spent: the cap bounds the whole retry loop.
    bot.wait_log("another try would end past the 2s cap", T)
        .await;
    assert!(
        waited < std::time::Duration::from_secs(6),
        "took {waited:?}"
    );
    eprintln!("a 60 s retry_after: the moderator was told after {waited:?}");
}

/// Item 13: Discord's Retry-After is honoured: a 429 saying 2 s is retried after about 2 s (serenity's rate
/// limiter reads the header in the default mode), inside the cap (30 s by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_after_its_retry_after() {
    let (fake, _proxy, bot) = start_behind_proxy(Vec::new()).await;
    bot.wait_log("ready", T).await;
    let channel_messages = format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID);
    fake.fail_next("POST", &channel_messages, 429, Some(2.0), false);
    fake.slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    bot.wait_log("favorite poll posted", T).await;
    let posts: Vec<_> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.route() == channel_messages)
        .collect();
    let statuses: Vec<u16> = posts.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 200], "{}", bot.logs());
    let waited = posts[1].arrived.duration_since(posts[0].arrived);
    assert!(
        waited >= std::time::Duration::from_millis(1900)
            && waited < std::time::Duration::from_millis(3500),
        "retried after {waited:?}, not after the 2 s Discord asked for"
    );
    eprintln!("a 429 with retry_after 2 s: retried after {waited:?}");
}

/// Item 12: in the default mode a 401, 403 or 404 on the first calls (`/users/@me`, then `/gateway/bot`) cannot come
/// from a wrong `DISCORD_API_URL` (none is set): the bot stops with exit 1 and a line about the token and its
/// application, never naming that variable.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_first_call_in_the_default_mode_never_blames_discord_api_url() {
    for (route, status) in [
        ("/users/@me", 401),
        ("/users/@me", 403),
        ("/users/@me", 404),
        ("/gateway/bot", 401),
        ("/gateway/bot", 404),
    ] {
        let fake = FakeDiscord::start(FakeOptions::default()).await;
        fake.fail_next("GET", route, status, None, false);
        let (_proxy, mut bot) = launch_behind_proxy(&fake, Vec::new()).await;
        let exit = bot.wait_exit(T).await;
        let logs = bot.logs();
        let case = format!("{route} {status}");
        assert_eq!(exit.code(), Some(1), "{case}:\n{logs}");
        let said = if status == 401 {
            "401 Unauthorized".to_owned()
        } else {
            format!("{route} answered {status}")
        };
        assert!(logs.contains(&said), "{case}:\n{logs}");
        assert!(logs.contains("DISCORD_TOKEN"), "{case}:\n{logs}");
        assert!(!logs.contains("DISCORD_API_URL"), "{case}:\n{logs}");
    }
}

/// Sends `/favorite <sub>` as a moderator, without waiting for its answer.
async fn favorite(fake: &FakeDiscord, sub: &str) {
    fake.slash("favorite")
        .subcommand(sub)
        .member_permissions(MODERATOR)
        .send()
        .await;
}

/// Issue 29.4: the core scenarios run in the default mode too (most operators run it): a poll from start to its
/// results, through serenity's own rate limiter and the bot's pacer, exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_runs_from_start_to_results_in_the_default_mode() {
    let (fake, _proxy, bot) = start_behind_proxy(Vec::new()).await;
    bot.wait_log("ready", T).await;
    favorite(&fake, "start").await;
    bot.wait_log("favorite poll posted", T).await;
    favorite(&fake, "end").await;
    bot.wait_log("favorite poll results announced", T).await;
    let results = fake
        .channel_messages(FakeDiscord::CHANNEL_ID)
        .into_iter()
        .filter(|m| {
            m["poll"].is_null()
                && m["embeds"][0]["footer"]["text"]
                    .as_str()
                    .is_some_and(|f| f.contains("poll results"))
        })
        .count();
    assert_eq!(results, 1);
    fake.assert_no_violations();
}

/// Issue 29.4: in the default mode serenity's limiter waits out every 429 that carries a `Retry-After`, Cloudflare's
/// ban page included (it asks for minutes); it reports each wait, and one of minutes is no route limit of Discord's:
/// the bot counts it as Cloudflare's and as an invalid request, and pauses every background send for 10 minutes, as
/// in proxy mode (and the call, cut at its cap, is not sent again meanwhile). A global 429 is counted and paused for
/// too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudflare_ban_or_a_global_429_in_the_default_mode_is_counted_and_paused_for() {
    let (fake, _proxy, bot) =
        start_behind_proxy(vec![("SCENEBOT_HEALTH_ADDR", "127.0.0.1:0".to_owned())]).await;
    let url = bot.health_url().await;
    bot.wait_log("ready", T).await;

    // A global 429 on the poll's post: serenity waits it out and retries; the bot counts and pauses for it.
    let channel_messages = format!("/channels/{}/messages", FakeDiscord::CHANNEL_ID);
    fake.fail_next("POST", &channel_messages, 429, Some(0.3), true);
    favorite(&fake, "start").await;
    bot.wait_log("favorite poll posted", T).await;
    let metrics = scrape(&url).await;
    assert_eq!(
        sample(
            &metrics,
            r#"scenebot_discord_rate_limits_total{scope="global"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"scenebot_discord_invalid_requests_total{status="429"}"#
        ),
        Some(1.0),
        "{metrics}"
    );

    // Cloudflare's ban page on the results: not tried again, counted, background work paused 10 minutes.
    fake.cloudflare_ban_next("POST", &channel_messages);
    favorite(&fake, "end").await;
    bot.wait_log("Cloudflare refused a call", T).await;
    let metrics = scrape(&url).await;
    assert_eq!(
        sample(
            &metrics,
            r#"scenebot_discord_rate_limits_total{scope="cloudflare"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        sample(
            &metrics,
            r#"scenebot_discord_invalid_requests_total{status="429"}"#
        ),
        Some(2.0),
        "{metrics}"
    );
    let paused = background_pause_left(&metrics);
    assert!(
        paused > 9.0 * 60.0,
        "background work paused for {paused:.0} s"
    );
    let results_posts: Vec<u16> = fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.route() == channel_messages && r.body["poll"].is_null())
        .map(|r| r.status)
        .collect();
    assert_eq!(results_posts, vec![429], "never tried again into the ban");
}
