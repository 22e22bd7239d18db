//! The store when its database misbehaves: a PostgreSQL that stops answering (frozen with SIGSTOP) fails calls
//! within the store timeout and is used again once it resumes; settings retrying cannot fix are fatal; a second
//! bot on one SQLite file is refused.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use scenebot::store::{Store, StoreError};

use crate::store_contract::new_poll;
use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::T;
use crate::support::postgres::PgDatabase;

/// How far past the store timeout a failed call may return: scheduling on a loaded two-core machine, and closing
/// the connection that timed out.
const MARGIN: Duration = Duration::from_millis(1500);

/// Runs `call` on a thread and waits for it at most `limit`: a call that hangs fails the test instead of hanging it.
fn bounded<T: Send + 'static>(
    limit: Duration,
    call: impl FnOnce() -> T + Send + 'static,
) -> Option<(T, Duration)> {
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        let started = Instant::now();
        let result = call();
        let _ = sender.send((result, started.elapsed()));
    });
    receiver.recv_timeout(limit).ok()
}

#[test]
fn a_stopped_postgres_fails_calls_within_the_timeout_and_recovers() -> Result<(), StoreError> {
    let Some(database) = PgDatabase::on_own_cluster(
        "a_stopped_postgres_fails_calls_within_the_timeout_and_recovers",
    ) else {
        return Ok(());
    };
    let timeout = Duration::from_secs(1);
    let store = database.open().with_timeout(timeout);
    let Ok(poll) = store.insert_poll(&new_poll(1, 1_000))? else {
        panic!("no open poll yet");
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    {
        let _paused = database.pause();
        // On the pooled connection: the query goes out and no answer comes.
        let blocking = store.clone();
        let (result, took) = bounded(timeout + MARGIN, move || blocking.open_polls())
            .unwrap_or_else(|| panic!("a blocking store call outlived {:?}", timeout + MARGIN));
        assert!(matches!(result, Err(StoreError::Timeout(_))), "{result:?}");
        assert!(took >= timeout, "{took:?}");
        eprintln!("a blocking call against the stopped server failed after {took:?}");
        // As the bot calls, through `Store::call`; the timed-out connection was closed, so this one connects anew
        // (TCP succeeds in the kernel's backlog, the start-up message is never answered).
        let started = Instant::now();
        let result = runtime.block_on(async {
            tokio::time::timeout(timeout + MARGIN, store.call(move |s| s.poll(poll.id))).await
        });
        let took = started.elapsed();
        let Ok(result) = result else {
            panic!("Store::call outlived {:?}", timeout + MARGIN);
        };
        assert!(matches!(result, Err(StoreError::Timeout(_))), "{result:?}");
        assert!(result.is_err_and(|e| e.is_transient()));
        eprintln!("Store::call against the stopped server failed after {took:?}");
    }
    // Running again: nothing was lost, and neither a stale connection nor a stale answer is in the pool.
    let (polls, took) = bounded(timeout + MARGIN, {
        let store = store.clone();
        move || store.open_polls()
    })
    .unwrap_or_else(|| panic!("the resumed server did not answer"));
    assert_eq!(polls?.iter().map(|p| p.id).collect::<Vec<_>>(), [poll.id]);
    eprintln!("the first call after SIGCONT took {took:?}");
    let other = database.open().with_timeout(timeout);
    assert!(
        other.claim_poll(poll.id, 1_000 + 3_600)?,
        "a claim works (the first one's lease ran out)"
    );
    assert_eq!(store.poll(poll.id)?.map(|p| p.id), Some(poll.id));
    Ok(())
}

#[test]
fn an_unreachable_postgres_is_transient() {
    let url = "postgres://bot@127.0.0.1:1/scenebot";
    let error = Store::open(Path::new(url)).err();
    assert!(error.is_some_and(|e| e.is_transient()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_bot_on_one_sqlite_file_is_refused() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let first = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
    first.wait_log("ready", T).await;
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.dir = Some(Arc::clone(&first.dir));
    let mut second = BotProcess::start(options);
    assert_eq!(
        second.wait_exit(T).await.code(),
        Some(1),
        "{}",
        second.logs()
    );
    let refused = second.wait_log("is locked by another process", T).await;
    assert!(
        refused.contains("scenebot.sqlite3.lock") && refused.contains("another scenebot"),
        "{refused}"
    );
    assert_eq!(second.log_count("ready"), 0, "{}", second.logs());
}

#[test]
fn one_process_shares_its_own_lock_and_frees_it_when_closed() -> Result<(), StoreError> {
    let dir = crate::support::TempDir::new();
    let path = dir.path.join("shared.sqlite3");
    let (a, b) = (Store::open(&path)?, Store::open(&path)?);
    drop((a, b));
    // Freed with the last store: a new open takes it afresh (a stale lock would refuse this process forever). A
    // process another test spawns at this moment holds a copy of the descriptor until its exec closes it: wait
    // that out, boundedly.
    let mut again = Store::open(&path);
    for _ in 0..100 {
        if !matches!(again, Err(StoreError::Locked(_))) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
        again = Store::open(&path);
    }
    assert!(again.is_ok(), "{:?}", again.err());
    assert!(dir.path.join("shared.sqlite3.lock").exists());
    Ok(())
}

/// What retrying cannot fix stops the bot with exit 1 and what to fix; the tests' cluster is real, so each answer
/// is PostgreSQL's own (a missing database, a missing role, TLS it does not offer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_postgres_database_exits_1_with_what_to_fix() {
    let Some(database) = PgDatabase::fresh("a_wrong_postgres_database_exits_1_with_what_to_fix")
    else {
        return;
    };
    let (base, _) = database
        .url
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{}", database.url));
    let mut options = BotOptions::new("http://127.0.0.1:9", "not.a.real-token");
    options
        .env
        .push(("SCENEBOT_DATABASE", format!("{base}/no_such_database")));
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(1), "{}", bot.logs());
    let line = bot.wait_log("cannot open the database", T).await;
    assert!(
        line.contains("\"no_such_database\" does not exist") && line.contains("createdb"),
        "{line}"
    );
    let wrong_user = database.url.replace("scenebot@", "nobody@");
    let tls = format!("{}?sslmode=require", database.url);
    for (url, says) in [
        (wrong_user, "role \"nobody\" does not exist"),
        (tls, "sslmode"),
    ] {
        let opened = tokio::task::spawn_blocking(move || Store::open(Path::new(&url)).err());
        let error = opened.await.unwrap_or_else(|e| panic!("{e}"));
        assert!(
            matches!(&error, Some(StoreError::Misconfigured(text)) if text.contains(says)),
            "{says}: {error:?}"
        );
    }
}
