//! Several processes, one PostgreSQL database, two shards: every poll result and every daily post exactly once,
//! through a SIGKILL mid-schedule.
//!
//! The fake Discord runs two shards and routes each guild's events to shard `(guild_id >> 22) % 2`. The survivor
//! on the other range takes the dead process's claims over when their lease runs out, which proves claims are not
//! tied to shards. The third process is the replacement a supervisor starts for the killed range (Discord gives a
//! shard's events to every session identified on it, so a "standby" on a live range would answer each interaction
//! twice); it finds nothing left to do. (A replacement on the same host and range resumes its predecessor's claims
//! at once: the store contract and the single-process SIGKILL tests cover that.)
//!
//! - Polls: three real `scenebot` processes (SIGKILL is a real crash). Polls end by `/favorite end`, so the wall
//!   clock does not matter.
//! - Daily posts: three bots in this process, each on its own runtime with its own [`ManualClock`] (as on three
//!   machines); a crash shuts its runtime down, which drops every task of that bot at once. Minutes of schedule
//!   and lease take no wall-clock time.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use serde_json::Value;
use tokio::sync::oneshot;

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeGuild, FakeOptions};
use crate::support::harness::{MODERATOR, T};
use crate::support::postgres::PgDatabase;
use scenebot::catalog::Catalog;
use scenebot::clock::{Clock, ManualClock};
use scenebot::config::Config;
use scenebot::locale::Locale;
use scenebot::store::{DailyPostState, DailySettings, PollState, Store};

/// Servers in the test.
const SERVERS: u64 = 20;

/// Server `k`'s id: on shard `(k + 1) % 2`.
fn guild(k: u64) -> u64 {
    ((k + 1) << 22) | 16
}

/// Server `k`'s channel.
fn channel(k: u64) -> u64 {
    ((k + 1) << 22) | 32
}

fn shard_of(guild: u64) -> u64 {
    (guild >> 22) % 2
}

fn two_shard_fake_options() -> FakeOptions {
    let mut options = FakeOptions::default().with_spec_from_env();
    options.guilds = (0..SERVERS)
        .map(|k| FakeGuild::standard(guild(k), channel(k)))
        .collect();
    options
}

fn by_bot(message: &Value) -> bool {
    message["author"]["id"].as_str() == Some(&FakeDiscord::BOT_USER_ID.to_string())
}

/// The bot's messages in `channel` that `is` picks.
fn bot_messages(fake: &FakeDiscord, channel: u64, is: fn(&Value) -> bool) -> Vec<Value> {
    fake.channel_messages(channel)
        .into_iter()
        .filter(|m| by_bot(m) && is(m))
        .collect()
}

fn is_poll(message: &Value) -> bool {
    message["poll"].is_object()
}

fn is_results(message: &Value) -> bool {
    message["type"] == 0
        && message["poll"].is_null()
        && message["embeds"][0]["footer"]["text"]
            .as_str()
            .is_some_and(|f| f.contains("poll results"))
}

fn is_daily(message: &Value) -> bool {
    message["content"]
        .as_str()
        .is_some_and(|c| c.contains('🌅'))
}

/// Waits until every server's channel has at least one message `is` picks; panics after `limit`.
async fn wait_in_every_channel(
    fake: &FakeDiscord,
    is: fn(&Value) -> bool,
    what: &str,
    limit: Duration,
) {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let missing: Vec<u64> = (0..SERVERS)
            .filter(|k| bot_messages(fake, channel(*k), is).is_empty())
            .collect();
        if missing.is_empty() {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no {what} within {limit:?} in servers {missing:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Exactly one message `is` picks in every server's channel.
fn assert_exactly_one_each(fake: &FakeDiscord, is: fn(&Value) -> bool, what: &str) {
    for k in 0..SERVERS {
        let found = bot_messages(fake, channel(k), is);
        assert_eq!(
            found.len(),
            1,
            "server {k}: {} {what} messages: {found:#?}",
            found.len()
        );
    }
}

/// Discord was asked once per message `is_request` picks in every server's channel: a takeover found the message
/// whose answer a crash had lost in the channel and adopted it. More would mean two processes sent one message.
fn assert_asked_once_each(fake: &FakeDiscord, is_request: fn(&Value) -> bool) {
    for k in 0..SERVERS {
        let route = format!("/channels/{}/messages", channel(k));
        let asked: Vec<Value> = fake
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.route() == route && is_request(&r.body))
            .map(|r| r.body["nonce"].clone())
            .collect();
        assert_eq!(
            asked.len(),
            1,
            "server {k}: sent {} times: {asked:?}",
            asked.len()
        );
    }
}

/// A `scenebot` process on shard range `shards`, sharing `database`, claims leased for `lease` seconds.
fn start_process(
    fake: &FakeDiscord,
    database: &PgDatabase,
    shards: &str,
    lease: &str,
) -> BotProcess {
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.env = vec![
        ("SCENEBOT_DATABASE", database.url.clone()),
        ("SCENEBOT_SHARDS", shards.to_owned()),
        ("SCENEBOT_LEASE_SECONDS", lease.to_owned()),
    ];
    BotProcess::start(options)
}

/// Sends `/favorite <sub>` as a moderator in server `k`.
fn favorite(fake: &FakeDiscord, sub: &str, k: u64) -> crate::support::fake_discord::InteractionRef {
    let payload = fake
        .slash("favorite")
        .subcommand(sub)
        .member_permissions(MODERATOR)
        .in_guild(guild(k), channel(k))
        .payload();
    fake.send_interaction(payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_processes_announce_every_poll_once_through_a_sigkill() {
    let Some(database) =
        PgDatabase::fresh("three_processes_announce_every_poll_once_through_a_sigkill")
    else {
        return;
    };
    let fake = FakeDiscord::start(two_shard_fake_options()).await;
    let mut first = start_process(&fake, &database, "0-0/2", "3");
    let second = start_process(&fake, &database, "1-1/2", "3");
    for process in [&first, &second] {
        process.wait_log("ready", T).await;
    }
    for k in 0..SERVERS {
        favorite(&fake, "start", k);
    }
    wait_in_every_channel(&fake, is_poll, "poll", T).await;
    // Each server's command went to the process running its shard, and only there.
    for k in 0..SERVERS {
        let (owner, other) = if shard_of(guild(k)) == 0 {
            (&first, &second)
        } else {
            (&second, &first)
        };
        let posted = format!("guild={}", guild(k));
        owner
            .wait_log_all(&["favorite poll posted", &posted], T)
            .await;
        assert_eq!(
            other.log_count(&posted),
            0,
            "server {k} was served by the wrong shard"
        );
    }

    // One of shard 0's results reaches Discord but its answer never comes back: the process dies not knowing, with
    // that poll claimed and the others of its shard ended on Discord but not announced (or announced already).
    let shard_zero: Vec<u64> = (0..SERVERS).filter(|k| shard_of(guild(*k)) == 0).collect();
    let held = channel(shard_zero[shard_zero.len() / 2]);
    fake.hold_answer_next("POST", &format!("/channels/{held}/messages"), T);
    for k in 0..SERVERS {
        favorite(&fake, "end", k);
    }
    for k in &shard_zero {
        fake.wait_for_request(
            |r| {
                r.method == "POST"
                    && r.route()
                        .starts_with(&format!("/channels/{}/polls/", channel(*k)))
            },
            T,
        )
        .await;
    }
    fake.wait_for_request(
        |r| {
            r.method == "POST"
                && r.route() == format!("/channels/{held}/messages")
                && r.body["nonce"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("fav-result-"))
        },
        T,
    )
    .await;
    first.kill().await;

    // The survivor on shard 1 finishes what the dead process had claimed, once its lease has run out.
    wait_in_every_channel(&fake, is_results, "results", Duration::from_secs(90)).await;
    assert_exactly_one_each(&fake, is_poll, "poll");
    assert_exactly_one_each(&fake, is_results, "results");
    let store = open_store(&database).await;
    let polls = wait_recorded(
        &store,
        |store| {
            (0..SERVERS)
                .map(|k| store.last_finished_poll(guild(k)))
                .collect()
        },
        |polls: &Vec<Option<scenebot::store::PollRecord>>| {
            polls
                .iter()
                .all(|p| p.as_ref().is_some_and(|p| p.state == PollState::Announced))
        },
        "every poll recorded announced",
    )
    .await;
    // The replacement for shard 0 starts and finds nothing left to do.
    let third = start_process(&fake, &database, "0-0/2", "3");
    third.wait_log("ready", T).await;
    for (k, poll) in polls.iter().enumerate() {
        let poll = poll
            .as_ref()
            .unwrap_or_else(|| panic!("server {k}: no finished poll"));
        assert_eq!(poll.state, PollState::Announced, "server {k}: {poll:?}");
        let results = bot_messages(&fake, channel(k as u64), is_results);
        assert_eq!(
            results[0]["id"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok()),
            poll.result_message_id,
            "server {k}: the recorded results message is the one in the channel"
        );
    }
    assert!(store
        .call(|s| s.open_polls())
        .await
        .is_ok_and(|open| open.is_empty()));
    assert_asked_once_each(&fake, |body| {
        body["nonce"]
            .as_str()
            .is_some_and(|n| n.starts_with("fav-result-"))
    });

    fake.assert_no_violations();
    for process in [&second, &third] {
        process.terminate();
    }
}

/// Reads the store with `read` until `done` holds (bounded by [`T`]); returns the last reading.
async fn wait_recorded<V: std::fmt::Debug + Send + 'static>(
    store: &Store,
    read: fn(&Store) -> Result<V, scenebot::store::StoreError>,
    done: fn(&V) -> bool,
    what: &str,
) -> V {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let value = store.call(read).await.unwrap_or_else(|e| panic!("{e}"));
        if done(&value) {
            return value;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not {what} within {T:?}: {value:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_database_exits_75_without_its_password() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    // Port 1 on 127.0.0.1: nothing listens there.
    options.env = vec![(
        "SCENEBOT_DATABASE",
        "postgres://bot:hunter2@127.0.0.1:1/scenebot".to_owned(),
    )];
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(75), "{}", bot.logs());
    let logs = bot.logs();
    assert!(
        logs.contains("cannot open the database: PostgreSQL error"),
        "{logs}"
    );
    assert!(!logs.contains("hunter2"), "{logs}");
}

/// Opens a store on `database` off the async workers (the PostgreSQL store blocks while it connects).
async fn open_store(database: &PgDatabase) -> Store {
    let url = database.url.clone();
    tokio::task::spawn_blocking(move || Store::open(Path::new(&url)))
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|e| panic!("cannot open {}: {e}", database.url))
}

/// A bot in this process on its own runtime, so a crash can drop all of its tasks at once.
struct InProcessBot {
    runtime: Option<tokio::runtime::Runtime>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<Result<(), scenebot::bot::RunError>>>,
    clock: Arc<ManualClock>,
}

impl InProcessBot {
    async fn start(
        fake: &FakeDiscord,
        database: &PgDatabase,
        shards: &str,
        now: i64,
    ) -> InProcessBot {
        InProcessBot::start_with(fake, database, shards, now, &[]).await
    }

    /// [`InProcessBot::start`] with more settings (`SCENEBOT_LEASE_SECONDS`, `SCENEBOT_FANOUT`, ...).
    async fn start_with(
        fake: &FakeDiscord,
        database: &PgDatabase,
        shards: &str,
        now: i64,
        settings: &[(&str, &str)],
    ) -> InProcessBot {
        let (api_url, token, shards) = (fake.api_url(), fake.token(), shards.to_owned());
        let config = Config::from_lookup(|name| match name {
            "DISCORD_TOKEN" => Some(token.clone()),
            "DISCORD_API_URL" => Some(api_url.clone()),
            "SCENEBOT_SHARDS" => Some(shards.clone()),
            _ => settings
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned()),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        let store = open_store(database).await;
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let clock = Arc::new(ManualClock::new(now));
        let followed = Arc::clone(&clock);
        fake.follow_clock(Arc::new(move || followed.now()));
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap_or_else(|e| panic!("{e}"));
        let (stop, stopped) = oneshot::channel::<()>();
        let bot_clock: Arc<dyn Clock> = clock.clone();
        let task = runtime.spawn(scenebot::bot::run(
            config,
            catalog,
            store,
            bot_clock,
            async move {
                let _ = stopped.await;
            },
        ));
        InProcessBot {
            runtime: Some(runtime),
            stop: Some(stop),
            task: Some(task),
            clock,
        }
    }

    /// Every task of this bot dropped at once, mid-flight: a crash.
    fn crash(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }

    async fn stop(&mut self) {
        if let (Some(stop), Some(task)) = (self.stop.take(), self.task.take()) {
            let _ = stop.send(());
            let _ = tokio::time::timeout(T, task).await;
        }
        self.crash();
    }
}

impl Drop for InProcessBot {
    fn drop(&mut self) {
        self.crash();
    }
}

fn at(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
        .timestamp()
}

/// Waits until `n` bots in all have registered their commands (their setup ran: schedulers started).
async fn wait_registrations(fake: &FakeDiscord, n: usize) {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let registered = fake
            .requests()
            .iter()
            .filter(|r| r.method == "PUT" && r.route().ends_with("/commands"))
            .count();
        if registered >= n {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{registered} of {n} bots registered"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_bots_post_every_daily_scene_once_through_a_crash() {
    let Some(database) =
        PgDatabase::fresh("three_bots_post_every_daily_scene_once_through_a_crash")
    else {
        return;
    };
    let fake = FakeDiscord::start(two_shard_fake_options()).await;
    let start = at("2027-05-02T08:00:00Z");
    let setup = open_store(&database).await;
    setup
        .call(move |store| {
            for k in 0..SERVERS {
                let settings = DailySettings {
                    thread: false,
                    guild_id: guild(k),
                    channel_id: channel(k),
                    time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
                    timezone: chrono_tz::UTC,
                    role_id: None,
                    locale: Locale::En,
                };
                store.set_daily(&settings, start)?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The first bot works on one post at a time: its first five posts are answered after 250 ms each, the sixth
    // reaches Discord but its answer is held, and the bot dies there with the other fourteen unsent. (Which servers
    // those are depends on the day's shuffled order, so the faults match any channel's message POST.)
    let mut first = InProcessBot::start_with(
        &fake,
        &database,
        "0-0/2",
        start,
        &[("SCENEBOT_FANOUT", "1")],
    )
    .await;
    let mut second = InProcessBot::start(&fake, &database, "1-1/2", start).await;
    wait_registrations(&fake, 2).await;
    for _ in 0..5 {
        fake.delay_next("POST", "/channels/", Duration::from_millis(250));
    }
    fake.hold_answer_next("POST", "/channels/", T);
    first.clock.set(at("2027-05-02T09:00:30Z"));
    fake.wait_for_requests(
        6,
        |r| r.method == "POST" && r.route().ends_with("/messages"),
        T,
    )
    .await;
    first.crash();
    let sent_before = (0..SERVERS)
        .filter(|k| !bot_messages(&fake, channel(*k), is_daily).is_empty())
        .count();
    assert_eq!(sent_before, 6, "the crash came mid-schedule");

    // The survivor's clock reaches 09:00 after the crash: it posts the fourteen nobody claimed at once, and the
    // sixth (claimed by the dead bot, which never learnt it was sent) once the lease has run out: it finds the
    // message in the channel and records it instead of sending it again.
    second.clock.set(at("2027-05-02T09:00:30Z"));
    second.clock.set(at("2027-05-02T09:02:00Z"));
    let after_lease =
        at("2027-05-02T09:00:30Z") + scenebot::store::DEFAULT_LEASE.as_secs() as i64 + 1;
    second.clock.set(after_lease);
    wait_in_every_channel(&fake, is_daily, "daily post", T).await;
    assert_exactly_one_each(&fake, is_daily, "daily");

    wait_recorded(
        &setup,
        |store| {
            (0..SERVERS)
                .map(|k| {
                    store
                        .daily_post(
                            guild(k),
                            chrono::NaiveDate::from_ymd_opt(2027, 5, 2).unwrap_or_default(),
                        )
                        .map(|p| p.map(|p| p.state))
                })
                .collect()
        },
        |states: &Vec<Option<DailyPostState>>| {
            states.iter().all(|s| *s == Some(DailyPostState::Sent))
        },
        "every daily post recorded sent",
    )
    .await;
    // The replacement for shard 0 starts and finds nothing left to do.
    let third = InProcessBot::start(&fake, &database, "0-0/2", after_lease).await;
    wait_registrations(&fake, 3).await;
    assert_exactly_one_each(&fake, is_daily, "daily");
    assert_asked_once_each(&fake, is_daily);
    fake.assert_no_violations();
    let mut third = third;
    second.stop().await;
    third.stop().await;
}

/// The herd's duplicate, reproduced: two bots on one PostgreSQL, a 2 s lease, Discord's nonce window zero (so the
/// nonce cannot save a second send), every first post answered after 1 s, five servers due in the same minute.
/// Claimed all at once and sent one by one, the later claims ran out before their turn and the other bot sent them
/// too. Each post is now claimed right before it is sent and its lease renewed while it is in flight.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_fan_out_never_lets_a_lease_run_out_into_a_second_post() {
    const DUE: u64 = 5;
    let Some(database) =
        PgDatabase::fresh("a_slow_fan_out_never_lets_a_lease_run_out_into_a_second_post")
    else {
        return;
    };
    let options = FakeOptions {
        nonce_window: Duration::ZERO,
        ..two_shard_fake_options()
    };
    let fake = FakeDiscord::start(options).await;
    let start = at("2027-05-02T08:00:00Z");
    let setup = open_store(&database).await;
    setup
        .call(move |store| {
            for k in 0..DUE {
                let settings = DailySettings {
                    thread: false,
                    guild_id: guild(k),
                    channel_id: channel(k),
                    time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
                    timezone: chrono_tz::UTC,
                    role_id: None,
                    locale: Locale::En,
                };
                store.set_daily(&settings, start)?;
            }
            Ok(())
        })
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let mut first = InProcessBot::start_with(
        &fake,
        &database,
        "0-0/2",
        start,
        &[("SCENEBOT_LEASE_SECONDS", "2")],
    )
    .await;
    let mut second = InProcessBot::start_with(
        &fake,
        &database,
        "1-1/2",
        start,
        &[("SCENEBOT_LEASE_SECONDS", "2")],
    )
    .await;
    wait_registrations(&fake, 2).await;
    for k in 0..DUE {
        fake.delay_next(
            "POST",
            &format!("/channels/{}/messages", channel(k)),
            Duration::from_secs(1),
        );
    }
    // Both clocks reach the minute and then run on, a second at a time, past several 2 s leases while the posts
    // are in flight. After each step the test waits for the event that keeps a claim: every claim still in flight
    // renewed from the new time on (lease_until at least now + 2), or done. A keeper that stopped renewing would
    // never get there (the wait fails); one that renews lets the other process see no lease run out.
    let minute = at("2027-05-02T09:00:30Z");
    for tick in 0..12 {
        let now = minute + tick;
        first.clock.set(now);
        second.clock.set(now);
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let stale = database.psql(&format!(
                "SELECT count(*) FROM daily_posts WHERE state = 'claimed' AND lease_until < {}",
                now + 2
            ));
            if stale == "0" {
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{stale} claims not renewed after the clock reached {now}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    // Every post done.
    let deadline = tokio::time::Instant::now() + T;
    while database.psql("SELECT count(*) FROM daily_posts WHERE state = 'sent'") != DUE.to_string()
    {
        assert!(tokio::time::Instant::now() < deadline, "posts not all sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for k in 0..DUE {
        let posts = bot_messages(&fake, channel(k), is_daily);
        assert_eq!(posts.len(), 1, "server {k}: {} daily posts", posts.len());
    }
    first.stop().await;
    second.stop().await;
}
