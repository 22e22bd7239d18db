//! End-to-end load, memory and start-up benchmarks of the release bot against the fake Discord, with the floor
//! (a minimal responder) measured in the same run.
//!
//! Run: `cargo bench --bench load` (add `-- quick` for a 2-second smoke run of each step, `-- memory` for the memory
//! table alone, `-- autocomplete` for the autocomplete step alone, on a fresh bot). It prints markdown
//! tables for BENCHMARKS.md. The bot and the floor each run as their own process; the fake Discord runs here.
//!
//! - Latency: `/scene` INTERACTION_CREATEs at 100, 500 and 1,000 per second (10 s each) and autocomplete at 500 per
//!   second; each is timed from the moment the fake hands the frame to its gateway connection to the moment the
//!   callback POST arrives. Lost = no callback within 3 s; twice = more than one callback.
//! - Memory: the bot's RSS and peak RSS (/proc) idle after READY, and after GUILD_CREATE for 1,000 and 10,000
//!   servers of about 20 channels, 20 roles and a few members each.
//! - Start-up: process start to IDENTIFY (READY follows at once), and to commands registered.
//! - Fan-out (`-- fanout`, not part of the default run; see `load/fanout.rs`): N servers whose daily posts are due
//!   in the same minute, against the fake enforcing Discord's rate limits (50 requests/s, 5 messages per 5 s per
//!   channel) with 50–150 ms per answer: every post once, lateness, 429s, requests per 10 s, the peak in any one
//!   second, RSS. `-- fanout` runs 1,000 and 10,000 servers; `--servers N` one size; `--processes 3` three
//!   processes on one PostgreSQL (shard ranges `0-0/3`, `1-1/3`, `2-2/3`; the fake runs 3 shards); `--global-rate
//!   R` raises the fake's global limit (for 100,000 servers; the output says so); `--timeout S` bounds a run.
//!   `-- fanout-polls [--polls N]`: N servers (default 1,000) each with a running poll ending in the same minute;
//!   every result once, and the time to the last against the requests made divided by the limit. `--threads`
//!   (daily posts only) turns threads on for every schedule: each post's thread once, the time to the last thread,
//!   and the requests by route (what the bot's permission check before each thread costs).
//! - Quiz (`-- quiz [--servers N] [--timeout S]`, not part of the default run; see `load/quiz.rs`): N servers
//!   (default 1,000) each start a 5-question `/quiz` round at once and 5 members answer every question: each
//!   reveal against its deadline, answers clicked / acknowledged / counted / in the scores and on the board,
//!   requests counted toward the global limit (the rounds run on interaction tokens: none expected), max RSS,
//!   `/scene` during the rounds.

#[path = "../tests/suite/support/fake_discord/mod.rs"]
mod fake_discord;
#[path = "../tests/suite/support/openapi.rs"]
mod openapi;
#[path = "../tests/suite/support/postgres.rs"]
#[allow(dead_code)] // the tests' throwaway cluster: the fan-out uses a part of it
mod postgres;

#[path = "load/fanout.rs"]
mod fanout;
#[path = "load/quiz.rs"]
mod quiz;
#[path = "../tests/suite/support/skip.rs"]
mod skip;
/// The support modules report skips through the crate root, as in the test suite.
use skip::skipped;

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant};

use fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeGuild, FakeMember, FakeOptions, FakeRole,
};
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// The environment variable that turns this binary into the floor responder.
const FLOOR_ENV: &str = "SCENEBOT_LOAD_FLOOR";
const DEADLINE: Duration = Duration::from_secs(3);
const WAIT: Duration = Duration::from_secs(60);

fn main() {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => panic!("cannot start tokio: {error}"),
    };
    if let Ok(api_url) = std::env::var(FLOOR_ENV) {
        runtime.block_on(floor_responder(api_url));
        return;
    }
    let args: Vec<String> = std::env::args().collect();
    if let Some(fanout) = fanout::Fanout::from_args(&args) {
        runtime.block_on(fanout::run(fanout));
        return;
    }
    if let Some(quiz) = quiz::Quiz::from_args(&args) {
        runtime.block_on(quiz::run(quiz));
        return;
    }
    // `cargo bench` passes `--bench`; anything else named is a filter we accept as "quick".
    let quick = std::env::args().any(|a| a == "quick");
    let only_memory = std::env::args().any(|a| a == "memory");
    runtime.block_on(run(quick, only_memory));
}

/// Who answers the interactions.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
enum Responder {
    Bot,
    Floor,
}

async fn run(quick: bool, only_memory: bool) {
    if !only_memory {
        latency(quick).await;
    }
    memory_table().await;
    if !only_memory {
        println!("\n## Start-up (median of 10)\n");
        let (identify, registered) = startup(10).await;
        println!("| process start → IDENTIFY (READY sent at once) | process start → commands registered |");
        println!("|---|---|");
        println!("| {identify:.1} ms | {registered:.1} ms |");
    }
}

async fn latency(quick: bool) {
    let seconds = if quick { 2 } else { 10 };
    println!("## Latency: dispatch → callback ({seconds} s per rate)\n");
    println!("| load | responder | sent | p50 ms | p90 ms | p99 ms | max ms | lost | twice |");
    println!("|---|---|---|---|---|---|---|---|---|");
    let mut results: HashMap<(String, Responder), Stats> = HashMap::new();
    for responder in [Responder::Floor, Responder::Bot] {
        let fake = FakeDiscord::start(FakeOptions::default()).await;
        let mut process = start(responder, &fake);
        wait_ready(&fake, responder).await;
        let only_autocomplete = std::env::args().any(|a| a == "autocomplete");
        let steps: &[(&str, u64)] = if only_autocomplete {
            &[("autocomplete", 500)]
        } else {
            &[
                ("/scene", 100),
                ("/scene", 500),
                ("/scene", 1000),
                ("autocomplete", 500),
            ]
        };
        for &(kind, rate) in steps {
            let stats = load(&fake, kind, rate, seconds).await;
            println!(
                "| {kind} {rate}/s | {responder:?} | {} | {:.2} | {:.2} | {:.2} | {:.2} | {} | {} |",
                stats.sent, stats.p50, stats.p90, stats.p99, stats.max, stats.lost, stats.twice
            );
            results.insert((format!("{kind} {rate}/s"), responder), stats);
        }
        let _ = process.kill().await;
    }
    println!("\n## Bot minus floor\n");
    println!("| load | p50 added ms | p99 added ms |");
    println!("|---|---|---|");
    for load in [
        "/scene 100/s",
        "/scene 500/s",
        "/scene 1000/s",
        "autocomplete 500/s",
    ] {
        if let (Some(bot), Some(floor)) = (
            results.get(&(load.to_owned(), Responder::Bot)),
            results.get(&(load.to_owned(), Responder::Floor)),
        ) {
            println!(
                "| {load} | {:.2} | {:.2} |",
                bot.p50 - floor.p50,
                bot.p99 - floor.p99
            );
        }
    }
}

async fn memory_table() {
    // A freshly linked binary's pages are dirty in the page cache until written back, and /proc counts them as the
    // process's private dirty memory: flush first so RSS shows what a deployed binary costs.
    let _ = std::process::Command::new("sync").status();
    println!("\n## Memory (bot process, /proc)\n");
    println!("| servers | RSS MB | peak RSS MB | bytes per server (RSS over idle) |");
    println!("|---|---|---|---|");
    let mut idle_rss = 0.0;
    for servers in [0_u64, 1_000, 10_000] {
        let (rss, peak) = memory(servers).await;
        if servers == 0 {
            idle_rss = rss;
            println!("| idle after READY (1 server) | {rss:.1} | {peak:.1} | |");
        } else {
            let per_server = (rss - idle_rss) * 1024.0 * 1024.0 / servers as f64;
            println!("| {servers} | {rss:.1} | {peak:.1} | {per_server:.0} |");
        }
    }
    let (floor_rss, _) = floor_memory().await;
    println!("| floor responder, idle | {floor_rss:.1} | | |");
}

/// Starts the responder as its own process against `fake`.
fn start(responder: Responder, fake: &FakeDiscord) -> Child {
    let mut command = match responder {
        Responder::Bot => {
            let mut command = Command::new(env!("CARGO_BIN_EXE_scenebot"));
            let dir = std::env::temp_dir().join(format!("scenebot-load-{}", std::process::id()));
            let _ = std::fs::create_dir_all(&dir);
            let _ = std::fs::remove_file(dir.join("load.sqlite3"));
            command
                .env("DISCORD_TOKEN", fake.token())
                .env("DISCORD_API_URL", fake.api_url())
                .env("SCENEBOT_DATABASE", dir.join("load.sqlite3"))
                .env("RUST_LOG", "warn");
            // The same run on a shared PostgreSQL database (BENCHMARKS.md): commands that read no state must not care.
            if let Ok(url) = std::env::var("SCENEBOT_BENCH_POSTGRES") {
                command.env("SCENEBOT_DATABASE", url);
            }
            if let Ok(value) = std::env::var("BENCH_MALLOC_ARENA_MAX") {
                command.env("MALLOC_ARENA_MAX", value);
            }
            command
        }
        Responder::Floor => {
            let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
            let mut command = Command::new(exe);
            command
                .env(FLOOR_ENV, fake.api_url())
                .env("DISCORD_TOKEN", fake.token());
            command
        }
    };
    command
        .env_remove("DISCORD_GUILD_ID")
        .env_remove("SCENEBOT_DATA")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {responder:?}: {e}"))
}

async fn wait_ready(fake: &FakeDiscord, responder: Responder) {
    match responder {
        Responder::Bot => {
            fake.wait_for_request(
                |r| r.method == "PUT" && r.route().ends_with("/commands"),
                WAIT,
            )
            .await;
        }
        Responder::Floor => fake.wait_identify(1, WAIT).await,
    }
    // One warm-up round trip.
    let warm = fake.slash("scene").send().await;
    fake.wait_callback(warm.id, WAIT).await;
}

/// Latency statistics in milliseconds.
struct Stats {
    sent: usize,
    p50: f64,
    p90: f64,
    p99: f64,
    max: f64,
    lost: usize,
    twice: usize,
}

/// Sends `rate` interactions per second for `seconds`, then measures.
async fn load(fake: &FakeDiscord, kind: &str, rate: u64, seconds: u64) -> Stats {
    let total = rate * seconds;
    let mut ticker = tokio::time::interval(Duration::from_nanos(1_000_000_000 / rate));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let partials = [
        "",
        "h",
        "hw",
        "hwarng",
        "ㄱㅂㅅ",
        "secretery",
        "kill me",
        "zzzz",
    ];
    let mut sent = Vec::with_capacity(total as usize);
    let first_request = fake.requests().len();
    for i in 0..total {
        ticker.tick().await;
        let interaction = if kind == "autocomplete" {
            let partial = partials[i as usize % partials.len()];
            fake.autocomplete("scene")
                .focused_str("drama", partial)
                .send()
                .await
        } else {
            fake.slash("scene").send().await
        };
        sent.push(interaction);
    }
    // Give the last ones their full deadline.
    let last = Instant::now();
    let expected = sent.len();
    loop {
        let answered = fake.requests()[first_request..]
            .iter()
            .filter(|r| r.route().ends_with("/callback"))
            .count();
        if answered >= expected || last.elapsed() > DEADLINE {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut arrivals: HashMap<u64, Vec<Instant>> = HashMap::new();
    for request in &fake.requests()[first_request..] {
        let route = request.route();
        if let Some(rest) = route.strip_prefix("/interactions/") {
            if let Some(id) = rest.split('/').next().and_then(|id| id.parse::<u64>().ok()) {
                arrivals.entry(id).or_default().push(request.arrived);
            }
        }
    }
    let mut latencies = Vec::with_capacity(sent.len());
    let (mut lost, mut twice) = (0, 0);
    for interaction in &sent {
        match arrivals.get(&interaction.id) {
            Some(times) => {
                let latency = times[0].saturating_duration_since(interaction.sent_at);
                if latency > DEADLINE {
                    lost += 1;
                }
                if times.len() > 1 {
                    twice += 1;
                }
                latencies.push(latency.as_secs_f64() * 1000.0);
            }
            None => lost += 1,
        }
    }
    latencies.sort_by(f64::total_cmp);
    let at = |q: f64| {
        if latencies.is_empty() {
            f64::NAN
        } else {
            latencies[((latencies.len() - 1) as f64 * q).round() as usize]
        }
    };
    Stats {
        sent: sent.len(),
        p50: at(0.50),
        p90: at(0.90),
        p99: at(0.99),
        max: at(1.0),
        lost,
        twice,
    }
}

/// `servers` realistic guilds: 20 channels, 20 roles, 3 members each (0 means the default single guild).
fn guilds(servers: u64) -> Vec<FakeGuild> {
    if servers == 0 {
        return FakeOptions::default().guilds;
    }
    (0..servers)
        .map(|i| {
            let id = 1_300_000_000_000_000_000 + i * 1_000;
            let mut guild = FakeGuild::standard(id, id + 100);
            guild.name = format!("Fan server {i}");
            for r in 2..20 {
                guild.roles.push(FakeRole::new(
                    id + r,
                    &format!("role {r}"),
                    permissions::VIEW_CHANNEL,
                    r,
                ));
            }
            for c in 1..20 {
                guild
                    .channels
                    .push(FakeChannel::text(id + 100 + c, &format!("channel-{c}")));
            }
            guild.members.push(FakeMember {
                user_id: FakeDiscord::USER_ID,
                roles: vec![id + 2, id + 3],
                nick: Some("fan".to_owned()),
            });
            guild
        })
        .collect()
}

/// RSS and peak RSS (MB) of `pid`; prints the anonymous (heap, stacks) and file-backed (code) parts.
fn rss_of(pid: u32) -> (f64, f64) {
    let rollup = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).unwrap_or_default();
    let parts: Vec<String> = rollup
        .lines()
        .filter(|l| {
            [
                "Rss:",
                "Shared_Clean:",
                "Private_Clean:",
                "Private_Dirty:",
                "Anonymous:",
            ]
            .iter()
            .any(|f| l.starts_with(f))
        })
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
        .collect();
    eprintln!("pid {pid}: {}", parts.join(", "));
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map_or(f64::NAN, |kb| kb / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

/// The bot's memory after READY and every GUILD_CREATE for `servers` servers.
async fn memory(servers: u64) -> (f64, f64) {
    let options = FakeOptions {
        guilds: guilds(servers),
        // Discord's own interval: thousands of GUILD_CREATEs take a while to read.
        heartbeat_interval: Duration::from_millis(41_250),
        ..FakeOptions::default()
    };
    let fake = FakeDiscord::start(options).await;
    let mut bot = start(Responder::Bot, &fake);
    fake.wait_for_request(
        |r| r.method == "PUT" && r.route().ends_with("/commands"),
        WAIT,
    )
    .await;
    // The fake sends every GUILD_CREATE right after READY; serenity handles a shard's events in order, so once an
    // interaction sent now is answered, every GUILD_CREATE before it has been taken in. On a slow machine taking in
    // 10,000 of them outlasts Discord's 3 s, and the fake refuses the late answer: its arrival is what counts here.
    let probe = fake.slash("scene").send().await;
    let prefix = format!("/api/v10/interactions/{}/", probe.id);
    let answer = fake
        .wait_for_request(
            |r| r.method == "POST" && r.path.starts_with(&prefix) && r.path.ends_with("/callback"),
            WAIT,
        )
        .await;
    if !(200..300).contains(&answer.status) {
        eprintln!(
            "note: {servers} servers: the probe was answered after Discord's 3 s (status {}): taking in the \
             GUILD_CREATEs ahead of it took longer",
            answer.status
        );
    }
    let usage = rss_of(bot.id().unwrap_or(0));
    let _ = bot.kill().await;
    usage
}

async fn floor_memory() -> (f64, f64) {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut floor = start(Responder::Floor, &fake);
    wait_ready(&fake, Responder::Floor).await;
    let usage = rss_of(floor.id().unwrap_or(0));
    let _ = floor.kill().await;
    usage
}

/// Median milliseconds from process start to IDENTIFY, and to commands registered.
async fn startup(runs: usize) -> (f64, f64) {
    let mut identify = Vec::new();
    let mut registered = Vec::new();
    for _ in 0..runs {
        let fake = FakeDiscord::start(FakeOptions::default()).await;
        let started = Instant::now();
        let mut bot = start(Responder::Bot, &fake);
        fake.wait_identify(1, WAIT).await;
        identify.push(started.elapsed().as_secs_f64() * 1000.0);
        let put = fake
            .wait_for_request(
                |r| r.method == "PUT" && r.route().ends_with("/commands"),
                WAIT,
            )
            .await;
        registered.push(put.arrived.saturating_duration_since(started).as_secs_f64() * 1000.0);
        let _ = bot.kill().await;
    }
    identify.sort_by(f64::total_cmp);
    registered.sort_by(f64::total_cmp);
    (identify[runs / 2], registered[runs / 2])
}

/// The floor: a minimal gateway client that answers every interaction with a fixed callback as fast as it can.
async fn floor_responder(api_url: String) {
    let token = std::env::var("DISCORD_TOKEN").unwrap_or_default();
    let http = reqwest::Client::new();
    let gateway: Value = match http
        .get(format!("{api_url}/api/v10/gateway/bot"))
        .header("Authorization", format!("Bot {token}"))
        .send()
        .await
    {
        Ok(response) => response.json().await.unwrap_or_default(),
        Err(error) => panic!("floor: {error}"),
    };
    let url = format!(
        "{}?v=10&encoding=json",
        gateway["url"].as_str().unwrap_or_default()
    );
    let (socket, _) = tokio_tungstenite::connect_async(url)
        .await
        .unwrap_or_else(|e| panic!("floor: {e}"));
    let (mut sink, mut stream) = socket.split();
    let (out, mut outbox) = tokio::sync::mpsc::unbounded_channel::<String>();
    tokio::spawn(async move {
        while let Some(text) = outbox.recv().await {
            if sink
                .send(tokio_tungstenite::tungstenite::Message::Text(text))
                .await
                .is_err()
            {
                return;
            }
        }
    });
    let identify = json!({"op": 2, "d": {"token": token, "intents": 1, "properties": {"os": "linux", "browser": "floor", "device": "floor"}}});
    let _ = out.send(identify.to_string());
    let callback = r#"{"type":4,"data":{"content":"ok"}}"#;
    while let Some(Ok(frame)) = stream.next().await {
        let tokio_tungstenite::tungstenite::Message::Text(text) = frame else {
            continue;
        };
        let Ok(event) = serde_json::from_str::<Value>(&text) else {
            continue;
        };
        match event["op"].as_u64() {
            Some(10) => {
                let interval = event["d"]["heartbeat_interval"].as_u64().unwrap_or(1000);
                let out = out.clone();
                tokio::spawn(async move {
                    let mut ticker = tokio::time::interval(Duration::from_millis(interval));
                    loop {
                        ticker.tick().await;
                        if out.send(r#"{"op":1,"d":null}"#.to_owned()).is_err() {
                            return;
                        }
                    }
                });
            }
            Some(0) if event["t"] == "INTERACTION_CREATE" => {
                let id = event["d"]["id"].as_str().unwrap_or_default().to_owned();
                let interaction_token = event["d"]["token"].as_str().unwrap_or_default().to_owned();
                let body = if event["d"]["type"] == 4 {
                    r#"{"type":8,"data":{"choices":[]}}"#
                } else {
                    callback
                };
                let request = http
                    .post(format!(
                        "{api_url}/api/v10/interactions/{id}/{interaction_token}/callback"
                    ))
                    .header("Authorization", format!("Bot {token}"))
                    .header("Content-Type", "application/json")
                    .body(body);
                tokio::spawn(async move {
                    let _ = request.send().await;
                });
            }
            _ => {}
        }
    }
}
