//! The store when its database misbehaves: a PostgreSQL that stops answering (frozen with SIGSTOP) fails calls
//! within the store timeout and is used again once it resumes; settings retrying cannot fix are fatal; a second
//! bot on one SQLite file is refused.

use std::path::Path;
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use scenebot::store::{Store, StoreError};

use crate::bot::T;
use crate::store_contract::new_poll;
use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
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
    // Freed with the last store: a new open takes it afresh (a stale lock would refuse this process forever).
    assert!(Store::open(&path).is_ok());
    assert!(dir.path.join("shared.sqlite3.lock").exists());
    Ok(())
}
