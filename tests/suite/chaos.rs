//! Process faults: the bot is killed with SIGKILL at random moments during mixed `/scene`, `/favorite` and `/daily`
//! traffic, 20 times on one database. Afterwards no poll result is lost or repeated and the database is intact.
//! The moments are drawn from a seeded generator, so a failure replays with the same seed.

use std::sync::Arc;
use std::time::Duration;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions, FakeUser};
use crate::support::harness::{MANAGER, MODERATOR, T};
use crate::support::TempDir;

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;
/// Runs polls and configures the daily post.
const STAFF: u64 = MODERATOR | MANAGER;
const TRIALS: usize = 20;
const SEED: u64 = 20_261_124;

fn by_bot(message: &Value) -> bool {
    message["author"]["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok())
        == Some(FakeDiscord::BOT_USER_ID)
}

fn poll_ids(fake: &FakeDiscord) -> Vec<u64> {
    fake.channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| by_bot(m) && m["poll"].is_object())
        .filter_map(|m| m["id"].as_str().and_then(|id| id.parse().ok()))
        .collect()
}

/// The bot's polls still open for votes.
fn open_poll_ids(fake: &FakeDiscord) -> Vec<u64> {
    fake.channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            by_bot(m) && m["poll"].is_object() && m["poll"]["results"]["is_finalized"] != true
        })
        .filter_map(|m| m["id"].as_str().and_then(|id| id.parse().ok()))
        .collect()
}

/// Results messages per poll message id (read from the link button to the poll).
fn results_per_poll(fake: &FakeDiscord) -> Vec<u64> {
    fake.channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| by_bot(m) && m["type"] == 0 && m["poll"].is_null())
        .filter(|m| {
            m["embeds"][0]["footer"]["text"]
                .as_str()
                .is_some_and(|f| f.contains("poll results"))
        })
        .filter_map(|m| {
            m["components"][0]["components"][0]["url"]
                .as_str()
                .and_then(|url| url.rsplit('/').next())
                .and_then(|id| id.parse().ok())
        })
        .collect()
}

/// Starts the bot on `dir`'s database and waits until this start has registered its commands.
async fn start(fake: &FakeDiscord, dir: &Arc<TempDir>) -> BotProcess {
    let before = fake.requests().len();
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.dir = Some(Arc::clone(dir));
    let bot = BotProcess::start(options);
    fake.wait_for_request(
        |r| r.index >= before && r.method == "PUT" && r.route().ends_with("/commands"),
        T,
    )
    .await;
    bot
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn random_sigkills_during_mixed_traffic_lose_and_repeat_nothing() {
    let mut options = FakeOptions::default().with_spec_from_env();
    for n in 0..8 {
        options.users.push(FakeUser::person(
            1_170_000_000_000_000_200 + n,
            &format!("voter{n}"),
        ));
    }
    let fake = FakeDiscord::start(options).await;
    let dir = Arc::new(TempDir::new());
    let mut rng = StdRng::seed_from_u64(SEED);
    for trial in 0..TRIALS {
        let mut bot = start(&fake, &dir).await;
        // Mixed traffic, not waited for: the kill lands somewhere inside it.
        for step in 0..rng.random_range(3..8) {
            match rng.random_range(0..6) {
                0 => {
                    fake.slash("favorite")
                        .subcommand("start")
                        .member_permissions(STAFF)
                        .send()
                        .await;
                }
                1 => {
                    if let Some(poll) = open_poll_ids(&fake).last() {
                        let voter = 1_170_000_000_000_000_200 + rng.random_range(0..8);
                        fake.cast_vote(CHANNEL, *poll, voter, rng.random_range(1..=6));
                    }
                }
                2 => {
                    fake.slash("favorite")
                        .subcommand("end")
                        .member_permissions(STAFF)
                        .send()
                        .await;
                }
                3 => {
                    fake.slash("daily")
                        .subcommand("set")
                        .member_permissions(STAFF)
                        .option_channel("channel", CHANNEL)
                        .option_str("timezone", "Asia/Seoul")
                        .send()
                        .await;
                }
                4 => {
                    fake.slash("daily")
                        .subcommand("status")
                        .member_permissions(STAFF)
                        .send()
                        .await;
                }
                _ => {
                    fake.slash("scene")
                        .option_str("drama", if step % 2 == 0 { "hwarang" } else { "witch" })
                        .send()
                        .await;
                }
            }
        }
        // Chaos on purpose: a random moment, not a guess at when something is done.
        tokio::time::sleep(Duration::from_millis(rng.random_range(0..400))).await;
        bot.kill().await;
        assert!(
            !bot.logs().contains("panicked"),
            "trial {trial}: a panic\n{}",
            bot.logs()
        );
    }

    // The last start: every poll that reached Discord gets its results, once.
    let mut bot = start(&fake, &dir).await;
    let end = fake
        .slash("favorite")
        .subcommand("end")
        .member_permissions(STAFF)
        .send()
        .await;
    fake.wait_callback(end.id, T).await;
    let polls = poll_ids(&fake);
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let announced = results_per_poll(&fake);
        if polls.iter().all(|poll| announced.contains(poll)) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "polls {polls:?} posted, results for {announced:?}\n{}",
            bot.logs()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    bot.terminate();
    assert_eq!(bot.wait_exit(T).await.code(), Some(0));

    let announced = results_per_poll(&fake);
    for poll in &polls {
        let count = announced.iter().filter(|p| *p == poll).count();
        assert_eq!(count, 1, "poll {poll}: {count} results messages");
    }
    assert_eq!(announced.len(), polls.len(), "no results without a poll");
    let store = scenebot::store::Store::open(&dir.path.join("scenebot.sqlite3"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        store.integrity_ok().ok(),
        Some(true),
        "PRAGMA integrity_check"
    );
    let open = store.open_polls().unwrap_or_default();
    assert!(open.is_empty(), "polls left open: {open:?}");
    fake.assert_no_violations();
    eprintln!(
        "{TRIALS} SIGKILLs: {} polls posted, each announced once",
        polls.len()
    );
}
