//! The herd: thousands of servers whose daily posts (`fanout`) or poll results (`fanout-polls`) come due in the
//! same minute, sent by the release bot (one process, or three on one PostgreSQL) to the fake Discord enforcing
//! Discord's rate limits (50 requests/s per token, 5 messages per 5 s per channel) with 50–150 ms per answer.
//!
//! Setup: N servers of one text channel and two roles each (the bot's cache stays small). The store is seeded
//! before the bot starts ([`seed_store`], the one place this file uses the store API), with every schedule at
//! the next whole UTC minute at least ~40 s ahead: the bot runs on the real clock. Measured at the fake: posts per
//! channel (lost, twice), lateness from the minute, requests per 10 s and the peak in any one second, 429s, and
//! the bot's RSS sampled from /proc every second during the fan-out. Every wait is bounded (`--timeout`).
//!
//! With `--threads` every schedule has threads on (issue 28): the bot opens a thread on each post after reading
//! its own permissions in the channel (the fake's standard server grants Create Public Threads through
//! `@everyone`); measured besides: threads per channel, the time from the minute to the last thread, second
//! threads refused (160004), and the requests from the minute on by route, per thread opened.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use chrono::{DateTime, Utc};
use scenebot::locale::Locale;
use scenebot::store::{DailySettings, NewPoll, Store};
use serde_json::json;
use tokio::process::{Child, Command};

use super::fake_discord::{
    FakeDiscord, FakeGuild, FakeOptions, InteractionRef, RateLimits, RateStats, Recorded,
};
use super::postgres::PgDatabase;

/// The first server's id; the next ones step by `1 << 22`, so `(guild_id >> 22) % 3` spreads them over 3 shards.
const FIRST_GUILD: u64 = 1_300_000_000_000_000_000;

/// Server `i`'s id (its text channel is the id + 2, [`FakeGuild::standard`]'s layout here).
pub fn guild_id(i: u64) -> u64 {
    FIRST_GUILD + (i << 22)
}
/// At least this long from now to the minute everything is due: seeding, start-up and GUILD_CREATEs fit in it.
const LEAD: Duration = Duration::from_secs(40);
/// After the last expected post, how long we keep watching for a second copy.
const QUIET: Duration = Duration::from_secs(10);
/// Start-up bound of one bot process (IDENTIFY).
const START: Duration = Duration::from_secs(60);

/// What to run, from the command line.
pub struct Fanout {
    /// Daily posts or poll results.
    polls: bool,
    /// Every daily schedule with a thread on its post (issue 28).
    threads: bool,
    /// Server counts, one run each.
    servers: Vec<u64>,
    /// Bot processes (1, or 3 shard ranges on one PostgreSQL).
    processes: u32,
    /// The fake's global limit (Discord: 50).
    global_rate: u32,
    /// The bound on one run's fan-out; by default 120 s + 0.5 s per server.
    timeout: Option<Duration>,
}

impl Fanout {
    /// `fanout [--servers N] [--threads] [--processes P] [--global-rate R] [--timeout S]` or
    /// `fanout-polls [--polls N] [...]`; `None` when neither is asked for.
    pub fn from_args(args: &[String]) -> Option<Fanout> {
        let polls = args.iter().any(|a| a == "fanout-polls");
        if !polls && !args.iter().any(|a| a == "fanout") {
            return None;
        }
        let value = |name: &str| arg_value(args, name);
        let servers = match (polls, value("--servers"), value("--polls")) {
            (true, _, Some(n)) | (_, Some(n), _) => vec![n],
            (true, None, None) => vec![1_000],
            (false, None, _) => vec![1_000, 10_000],
        };
        Some(Fanout {
            polls,
            threads: !polls && args.iter().any(|a| a == "--threads"),
            servers,
            processes: value("--processes").map_or(1, |p| p.clamp(1, 16) as u32),
            global_rate: value("--global-rate").map_or(50, |r| r.clamp(1, 100_000) as u32),
            timeout: value("--timeout").map(Duration::from_secs),
        })
    }
}

/// The number after `name` on the command line (`--servers 1000`), if given; panics on one that is not a number.
pub fn arg_value(args: &[String], name: &str) -> Option<u64> {
    let at = args.iter().position(|a| a == name)?;
    let text = args.get(at + 1)?;
    Some(
        text.parse()
            .unwrap_or_else(|_| panic!("{name} wants a number, not {text:?}")),
    )
}

/// Runs every size asked for and prints the tables.
pub async fn run(options: Fanout) {
    let noun = if options.polls {
        "poll results"
    } else {
        "daily posts"
    };
    let what = if options.threads {
        format!("{noun}, each with its thread")
    } else {
        noun.to_owned()
    };
    println!(
        "## Fan-out: {what} due in the same minute ({} process{}, {}; fake global limit {}/s{}, 5 messages per 5 s \
         per channel, 50–150 ms per REST answer)\n",
        options.processes,
        if options.processes == 1 { "" } else { "es" },
        if options.processes == 1 {
            "SQLite"
        } else {
            "one PostgreSQL"
        },
        options.global_rate,
        if options.global_rate == 50 {
            " as Discord"
        } else {
            ", raised above Discord's 50/s"
        },
    );
    let mut reports = Vec::new();
    for &servers in &options.servers {
        reports.push(one_run(&options, servers).await);
    }
    println!(
        "| servers | processes | sent | lost | twice | early | minute → last s | p50 late s | p99 late s | requests \
         | requests / limit s | 429s (share) | peak in any 1 s | invalid | RSS at the minute MB | max RSS MB | /scene p50 / p99 ms (n) |"
    );
    println!("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|");
    for r in &reports {
        println!(
            "| {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {:.1} | {} ({:.2} %) | {} | {} | {} | {} | {:.0} / {:.0} ({}) |",
            r.servers,
            options.processes,
            r.sent,
            r.lost,
            r.twice,
            r.early,
            r.last.map_or("unfinished".to_owned(), |s| format!("{s:.1}")),
            r.p50,
            r.p99,
            r.requests,
            r.requests as f64 / f64::from(options.global_rate),
            r.limited,
            100.0 * r.limited as f64 / (r.requests.max(1)) as f64,
            r.peak,
            r.invalid,
            mb(&r.rss_at_rest_mb),
            mb(&r.rss_mb),
            r.scene_p50_ms,
            r.scene_p99_ms,
            r.scene_answered,
        );
    }
    for r in &reports {
        println!(
            "\n### Requests per 10 s after the minute ({} servers; counted against the global limit)\n",
            r.servers
        );
        println!("| seconds | requests | per second |");
        println!("|---|---|---|");
        for (i, count) in r.per_10s.iter().enumerate() {
            println!(
                "| {}–{} | {count} | {:.1} |",
                i * 10,
                i * 10 + 10,
                f64::from(*count) / 10.0
            );
        }
    }
    println!(
        "\nlost: no {noun} in a channel; twice: more than one; early: before the minute (a bug); minute → last: \
         from the minute to the last one's arrival at the fake; requests: counted against the global limit from \
         the minute to the end; requests / limit: the time those requests need at the limit (the floor); peak: the \
         most counted requests that arrived within any one second of the whole run (a sliding window)."
    );
    for (servers, threads) in reports
        .iter()
        .filter_map(|r| Some((r.servers, r.threads.as_ref()?)))
    {
        print_threads(servers, threads);
    }
}

/// The threads table of a run with threads on, and its requests by route.
fn print_threads(servers: u64, threads: &ThreadReport) {
    let a = &threads.arrivals;
    let opened = a.sent.max(1) as f64;
    println!("\n### Threads on every daily post ({servers} servers)\n");
    println!(
        "| threads opened | lost | twice | early | refused as a second thread (160004) | minute → last thread s | p50 / p99 s |"
    );
    println!("|---|---|---|---|---|---|---|");
    let last = if threads.finished {
        format!("{:.1}", quantile(&a.lateness, 1.0))
    } else {
        "unfinished".to_owned()
    };
    println!(
        "| {} | {} | {} | {} | {} | {last} | {:.1} / {:.1} |",
        a.sent,
        a.lost,
        a.twice,
        a.early,
        threads.again,
        quantile(&a.lateness, 0.5),
        quantile(&a.lateness, 0.99),
    );
    println!(
        "\n#### Requests from the minute to the end, by route ({servers} servers{})\n",
        if threads.complete {
            ""
        } else {
            "; the fake's records had dropped some: counts are low"
        }
    );
    println!("| route | requests | per thread opened |");
    println!("|---|---|---|");
    for (route, count) in &threads.routes {
        println!("| `{route}` | {count} | {:.2} |", *count as f64 / opened);
    }
}

/// The threads of a run with threads on: each post's, once, how late, and what the permission check cost.
struct ThreadReport {
    arrivals: Arrivals,
    /// Every channel got its thread within the bound.
    finished: bool,
    /// Answers 160004: a second thread asked for on one message.
    again: u64,
    /// Requests from the minute on, by route, most first.
    routes: Vec<(String, usize)>,
    /// Whether the fake still held every request since the minute.
    complete: bool,
}

impl ThreadReport {
    fn of(fake: &FakeDiscord, channels: &[u64], minute: DateTime<Utc>, since: Instant) -> Self {
        let threads = fake.channel_threads();
        let arrivals = Arrivals::of(channels, &threads, &HashMap::new(), unix_time(minute));
        let requests = fake.requests();
        let complete = requests.first().is_none_or(|r| r.index == 0);
        let after: Vec<&Recorded> = requests.iter().filter(|r| r.arrived >= since).collect();
        let again = after
            .iter()
            .filter(|r| r.route().ends_with("/threads") && r.response["code"] == 160_004)
            .count() as u64;
        ThreadReport {
            finished: arrivals.lost == 0,
            arrivals,
            again,
            routes: route_counts(&after),
            complete,
        }
    }
}

/// `METHOD /route` with each id written `{id}` and each interaction token `{token}`: what a request does.
pub fn route_template(request: &Recorded) -> String {
    let route: Vec<&str> = request
        .route()
        .split('/')
        .map(|segment| {
            if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
                "{id}"
            } else if segment.len() > 32 {
                "{token}"
            } else {
                segment
            }
        })
        .collect();
    format!("{} {}", request.method, route.join("/"))
}

/// How many of `requests` went to each route ([`route_template`]), most first.
pub fn route_counts(requests: &[&Recorded]) -> Vec<(String, usize)> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for request in requests {
        *counts.entry(route_template(request)).or_default() += 1;
    }
    let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    counts
}

/// Megabytes of each process, joined by " + ".
fn mb(per_process: &[f64]) -> String {
    per_process
        .iter()
        .map(|mb| format!("{mb:.1}"))
        .collect::<Vec<_>>()
        .join(" + ")
}

/// What one run measured.
struct Report {
    servers: u64,
    sent: u64,
    lost: u64,
    twice: u64,
    early: u64,
    /// Seconds from the minute to the last expected post (`None`: not all arrived within the bound).
    last: Option<f64>,
    p50: f64,
    p99: f64,
    requests: u64,
    limited: u64,
    invalid: u64,
    peak: u32,
    per_10s: Vec<u32>,
    rss_mb: Vec<f64>,
    /// The bot's RSS at the minute, before the fan-out (all servers' GUILD_CREATEs handled).
    rss_at_rest_mb: Vec<f64>,
    /// `/scene` answered during the fan-out: p50 and p99 in ms, and how many were answered.
    scene_p50_ms: f64,
    scene_p99_ms: f64,
    scene_answered: usize,
    /// With threads on: the threads.
    threads: Option<ThreadReport>,
}

/// What the store is seeded with, per server.
enum Seed {
    /// A daily post at the minute, with its thread or not.
    Daily {
        guild: u64,
        channel: u64,
        thread: bool,
    },
    /// A running poll (its message already in the fake) that ends at the minute.
    Poll {
        guild: u64,
        channel: u64,
        message: u64,
        scene_ids: Vec<String>,
    },
}

/// Everything this benchmark asks of the store, in one function (the store API may change: adapt it here).
fn seed_store(database: &Path, seeds: &[Seed], minute: DateTime<Utc>) -> Result<(), String> {
    let store = Store::open(database).map_err(|e| format!("cannot open the store: {e}"))?;
    let now = Utc::now().timestamp();
    for seed in seeds {
        match seed {
            Seed::Daily {
                guild,
                channel,
                thread,
            } => {
                let settings = DailySettings {
                    thread: *thread,
                    guild_id: *guild,
                    channel_id: *channel,
                    time: minute.time(),
                    timezone: chrono_tz::UTC,
                    role_id: None,
                    locale: Locale::En,
                };
                store
                    .set_daily(&settings, now)
                    .map_err(|e| format!("set_daily: {e}"))?;
            }
            Seed::Poll {
                guild,
                channel,
                message,
                scene_ids,
            } => {
                let poll = NewPoll {
                    thread: false,
                    guild_id: *guild,
                    channel_id: *channel,
                    started_by: FakeDiscord::USER_ID,
                    locale: Locale::En,
                    scene_ids: scene_ids.clone(),
                    hours: 1,
                    now,
                };
                let record = store
                    .insert_poll(&poll)
                    .map_err(|e| format!("insert_poll: {e}"))?
                    .map_err(|open| format!("server {guild} already has poll {}", open.id))?;
                store
                    .mark_poll_running(record.id, *message, minute.timestamp(), &[])
                    .map_err(|e| format!("mark_poll_running: {e}"))?;
                store
                    .release_poll(record.id)
                    .map_err(|e| format!("release_poll: {e}"))?;
            }
        }
    }
    Ok(())
}

async fn one_run(options: &Fanout, servers: u64) -> Report {
    let dir =
        std::env::temp_dir().join(format!("scenebot-fanout-{}-{servers}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    // Kept alive for the whole run: dropping it stops the cluster.
    let postgres = (options.processes > 1).then(|| {
        PgDatabase::fresh("fanout").unwrap_or_else(|| {
            panic!("--processes needs PostgreSQL (apt-get install postgresql, or SCENEBOT_POSTGRES_BIN)")
        })
    });
    let database: PathBuf = match &postgres {
        Some(db) => PathBuf::from(&db.url),
        None => dir.join("fanout.sqlite3"),
    };
    let guilds: Vec<FakeGuild> = (0..servers)
        .map(|i| FakeGuild::standard(guild_id(i), guild_id(i) + 2))
        .collect();
    let channels: Vec<u64> = guilds.iter().map(|g| g.channels[0].id).collect();
    let fake = FakeDiscord::start(FakeOptions {
        guilds,
        heartbeat_interval: Duration::from_millis(41_250),
        rate_limits: Some(RateLimits {
            global_per_second: options.global_rate,
            ..RateLimits::discord()
        }),
        rest_latency: Some((Duration::from_millis(50), Duration::from_millis(150))),
        ..FakeOptions::default()
    })
    .await;

    // Seeding and GUILD_CREATEs grow with the servers: a few ms each on top of the lead.
    let lead = LEAD + Duration::from_millis(servers * 4);
    let minute = next_whole_minute(Utc::now() + lead);
    let seeds: Vec<Seed> = if options.polls {
        poll_seeds(&fake, servers, &channels)
    } else {
        (0..servers)
            .map(|i| Seed::Daily {
                guild: guild_id(i),
                channel: channels[i as usize],
                thread: options.threads,
            })
            .collect()
    };
    let seeded = {
        let database = database.clone();
        tokio::task::spawn_blocking(move || seed_store(&database, &seeds, minute)).await
    };
    match seeded {
        Ok(Ok(())) => {}
        Ok(Err(error)) => panic!("cannot seed the store: {error}"),
        Err(error) => panic!("seeding panicked: {error}"),
    }
    let before: HashMap<u64, usize> = fake
        .channel_posts()
        .into_iter()
        .map(|(channel, times)| (channel, times.len()))
        .collect();

    let mut bots: Vec<Child> = (0..options.processes)
        .map(|p| {
            let launch = Launch {
                index: p,
                processes: options.processes,
                global_rate: options.global_rate,
                health: None,
            };
            start_bot(&fake, &database, &dir, launch)
        })
        .collect();
    fake.wait_identify(options.processes as usize, START).await;
    let until_minute = (minute - Utc::now()).to_std().unwrap_or_default();
    if until_minute < Duration::from_secs(5) {
        eprintln!(
            "warning: the bot was ready only {until_minute:?} before the minute; lateness includes start-up"
        );
    }
    tokio::time::sleep(until_minute).await;
    let at_minute = fake.rate_stats();
    let minute_instant = Instant::now();

    let pids: Vec<u32> = bots.iter().filter_map(Child::id).collect();
    let rss_at_rest: Vec<f64> = pids.iter().map(|pid| rss_mb(*pid)).collect();
    let mut rss_max = vec![0.0_f64; pids.len()];
    let timeout = options
        .timeout
        .unwrap_or(Duration::from_secs(120) + Duration::from_millis(servers * 500));
    let deadline = tokio::time::Instant::now() + timeout;
    let mut all_arrived: Option<tokio::time::Instant> = None;
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    // One `/scene` a second from the first server while the fan-out runs: how long its answer takes.
    let mut probes = Vec::new();
    loop {
        ticker.tick().await;
        if all_arrived.is_none() {
            probes.push(
                fake.slash("scene")
                    .in_guild(guild_id(0), channels[0])
                    .send()
                    .await,
            );
        }
        for (max, pid) in rss_max.iter_mut().zip(&pids) {
            *max = max.max(rss_mb(*pid));
        }
        for (p, bot) in bots.iter_mut().enumerate() {
            if let Ok(Some(status)) = bot.try_wait() {
                panic!(
                    "bot process {p} exited ({status}); its log: {}",
                    dir.join(format!("bot-{p}.log")).display()
                );
            }
        }
        let posts = fake.channel_posts();
        let arrived = channels
            .iter()
            .filter(|c| !new_posts(&posts, &before, **c).is_empty())
            .count();
        let threaded = if options.threads {
            fake.channel_threads().len()
        } else {
            channels.len()
        };
        let now = tokio::time::Instant::now();
        match all_arrived {
            None if arrived == channels.len() && threaded >= channels.len() => {
                all_arrived = Some(now);
            }
            Some(at) if now >= at + QUIET => break,
            _ => {}
        }
        if now >= deadline {
            eprintln!(
                "the fan-out did not finish within {timeout:?}: {arrived} of {} channels got theirs, {threaded} \
                 a thread",
                channels.len()
            );
            break;
        }
    }
    let end = fake.rate_stats();
    let posts = fake.channel_posts();
    let scene_ms = probe_latencies(&fake.requests(), &probes);
    let threads = options
        .threads
        .then(|| ThreadReport::of(&fake, &channels, minute, minute_instant));
    for bot in &mut bots {
        let _ = bot.kill().await;
    }
    fake.shutdown(Duration::from_secs(10)).await;
    drop(postgres);
    let mut report = measure(
        servers,
        &channels,
        &posts,
        &before,
        minute,
        &at_minute,
        &end,
        all_arrived.is_some(),
        (rss_at_rest, rss_max),
        scene_ms,
    );
    report.threads = threads;
    let _ = std::fs::remove_dir_all(&dir);
    report
}

/// Posts one poll per server in the fake as the bot would have (the same scenes for all), and the store seeds.
fn poll_seeds(fake: &FakeDiscord, servers: u64, channels: &[u64]) -> Vec<Seed> {
    let catalog = scenebot::respond::load_catalog(None)
        .unwrap_or_else(|e| panic!("cannot load the bundled dataset: {e}"));
    let plan = scenebot::favorite::plan_poll(&catalog, &mut rand::rng());
    let poll = scenebot::favorite::build_poll(&catalog, &plan, Locale::En, 1);
    let poll = serde_json::to_value(&poll).unwrap_or_else(|e| panic!("poll as JSON: {e}"));
    (0..servers)
        .map(|i| {
            let channel = channels[i as usize];
            let message = fake
                .add_bot_message(channel, json!({ "poll": poll }))
                .unwrap_or_else(|answer| panic!("the fake refused the poll: {answer}"));
            let message = message["id"]
                .as_str()
                .and_then(|id| id.parse::<u64>().ok())
                .unwrap_or_else(|| panic!("a message id: {message}"));
            Seed::Poll {
                guild: guild_id(i),
                channel,
                message,
                scene_ids: plan.scene_ids.clone(),
            }
        })
        .collect()
}

/// Which bot process to start, of how many, against which global limit.
pub struct Launch {
    /// This process's number, from 0.
    pub index: u32,
    /// How many processes run (a shard range each when there are several).
    pub processes: u32,
    /// The fake's global limit per second (Discord: 50).
    pub global_rate: u32,
    /// Where the bot answers `/health` and `/metrics` (`SCENEBOT_HEALTH_ADDR`), if anywhere.
    pub health: Option<std::net::SocketAddr>,
}

/// Starts bot process `launch.index` of `launch.processes` on `database`, its log in `dir`. With the fake's global
/// limit raised, the bot's own pace is raised with it (nine tenths, as the default 45 of Discord's 50).
pub fn start_bot(fake: &FakeDiscord, database: &Path, dir: &Path, launch: Launch) -> Child {
    let Launch {
        index,
        processes,
        global_rate,
        health,
    } = launch;
    let log_path = dir.join(format!("bot-{index}.log"));
    let log = std::fs::File::create(&log_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", log_path.display()));
    let mut command = Command::new(env!("CARGO_BIN_EXE_scenebot"));
    command
        .env("DISCORD_TOKEN", fake.token())
        .env("DISCORD_API_URL", fake.api_url())
        .env("SCENEBOT_DATABASE", database)
        .env("RUST_LOG", "warn")
        .env_remove("DISCORD_GUILD_ID")
        .env_remove("SCENEBOT_DATA")
        .env_remove("SCENEBOT_SHARDS")
        .env_remove("HTTPS_PROXY")
        .env_remove("HTTP_PROXY")
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(log))
        .kill_on_drop(true);
    if global_rate != 50 {
        command.env(
            "SCENEBOT_REST_RATE",
            (global_rate * 9 / 10).max(1).to_string(),
        );
    }
    if processes > 1 {
        command.env("SCENEBOT_SHARDS", format!("{index}-{index}/{processes}"));
    }
    match health {
        Some(addr) => command.env("SCENEBOT_HEALTH_ADDR", addr.to_string()),
        None => command.env_remove("SCENEBOT_HEALTH_ADDR"),
    };
    command
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the bot: {e}"))
}

/// The first whole UTC minute at or after `at`.
fn next_whole_minute(at: DateTime<Utc>) -> DateTime<Utc> {
    let seconds = at.timestamp();
    let minute = seconds.div_euclid(60) * 60 + if seconds % 60 == 0 { 0 } else { 60 };
    DateTime::from_timestamp(minute, 0).unwrap_or(at)
}

/// `minute` as a [`SystemTime`].
fn unix_time(minute: DateTime<Utc>) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::try_from(minute.timestamp()).unwrap_or(0))
}

/// What arrived in each channel (posts, or threads) since the bot started, against the minute it was due.
struct Arrivals {
    /// How many arrived in all.
    sent: u64,
    /// Channels with none.
    lost: u64,
    /// Channels with more than one.
    twice: u64,
    /// Channels whose first came before the minute (a bug).
    early: u64,
    /// Seconds from the minute to each channel's first, sorted (0 for an early one).
    lateness: Vec<f64>,
}

impl Arrivals {
    fn of(
        channels: &[u64],
        arrived: &HashMap<u64, Vec<SystemTime>>,
        before: &HashMap<u64, usize>,
        minute: SystemTime,
    ) -> Arrivals {
        let (mut sent, mut lost, mut twice, mut early) = (0, 0, 0, 0);
        let mut lateness: Vec<f64> = Vec::with_capacity(channels.len());
        for &channel in channels {
            let new = new_posts(arrived, before, channel);
            sent += new.len() as u64;
            match new.first() {
                None => lost += 1,
                Some(first) => match first.duration_since(minute) {
                    Ok(late) => lateness.push(late.as_secs_f64()),
                    Err(_) => {
                        early += 1;
                        lateness.push(0.0);
                    }
                },
            }
            if new.len() > 1 {
                twice += 1;
            }
        }
        lateness.sort_by(f64::total_cmp);
        Arrivals {
            sent,
            lost,
            twice,
            early,
            lateness,
        }
    }
}

/// The posts a channel got since the bot started.
fn new_posts<'a>(
    posts: &'a HashMap<u64, Vec<SystemTime>>,
    before: &HashMap<u64, usize>,
    channel: u64,
) -> &'a [SystemTime] {
    let all = posts.get(&channel).map_or(&[][..], Vec::as_slice);
    &all[before.get(&channel).copied().unwrap_or(0).min(all.len())..]
}

/// The bot's resident memory in MB (VmRSS), NaN when it cannot be read.
pub fn rss_mb(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

#[allow(clippy::too_many_arguments)] // one run's raw measurements, read once
fn measure(
    servers: u64,
    channels: &[u64],
    posts: &HashMap<u64, Vec<SystemTime>>,
    before: &HashMap<u64, usize>,
    minute: DateTime<Utc>,
    at_minute: &RateStats,
    end: &RateStats,
    finished: bool,
    (rss_at_rest_mb, rss_mb): (Vec<f64>, Vec<f64>),
    scene_ms: Vec<f64>,
) -> Report {
    let minute_time = unix_time(minute);
    let Arrivals {
        sent,
        lost,
        twice,
        early,
        lateness,
    } = Arrivals::of(channels, posts, before, minute_time);
    let at = |q: f64| quantile(&lateness, q);
    // Counted requests per second from the minute on, grouped by ten seconds, up to the last second with any.
    let from = minute_time
        .duration_since(end.started)
        .map_or(0, |d| d.as_secs() as usize);
    let seconds = end.per_second.get(from..).unwrap_or(&[]);
    let used = seconds.iter().rposition(|n| *n > 0).map_or(0, |i| i + 1);
    let per_10s = seconds[..used].chunks(10).map(|c| c.iter().sum()).collect();
    Report {
        servers,
        sent,
        lost,
        twice,
        early,
        last: finished.then(|| at(1.0)),
        p50: at(0.5),
        p99: at(0.99),
        requests: end.counted - at_minute.counted,
        limited: (end.global_limited + end.route_limited)
            - (at_minute.global_limited + at_minute.route_limited),
        invalid: end.invalid - at_minute.invalid,
        peak: end.peak_per_second,
        per_10s,
        rss_at_rest_mb,
        rss_mb,
        scene_p50_ms: quantile(&scene_ms, 0.5),
        scene_p99_ms: quantile(&scene_ms, 0.99),
        scene_answered: scene_ms.len(),
        threads: None,
    }
}

/// Milliseconds from each probe's INTERACTION_CREATE to its callback's arrival at the fake, sorted; a probe
/// without a callback in `requests` is left out (and shows as fewer answered than sent).
pub fn probe_latencies(requests: &[Recorded], probes: &[InteractionRef]) -> Vec<f64> {
    let mut latencies: Vec<f64> = probes
        .iter()
        .filter_map(|probe| {
            let prefix = format!("/api/v10/interactions/{}/", probe.id);
            requests
                .iter()
                .find(|r| r.path.starts_with(&prefix) && r.path.ends_with("/callback"))
                .map(|r| {
                    r.arrived
                        .saturating_duration_since(probe.sent_at)
                        .as_secs_f64()
                        * 1000.0
                })
        })
        .collect();
    latencies.sort_by(f64::total_cmp);
    latencies
}

/// The `q` quantile of sorted values (nearest rank), NaN when there are none.
pub fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        f64::NAN
    } else {
        sorted[((sorted.len() - 1) as f64 * q).round() as usize]
    }
}
