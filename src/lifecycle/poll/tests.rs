use std::sync::PoisonError;
use std::time::Duration;

use super::*;
use crate::catalog::Catalog;
use crate::clock::ManualClock;
use crate::lifecycle::test_port::FakePort;
use crate::locale::Locale;
use crate::store::NewPoll;

const START: i64 = 1_800_000_000;

fn polls(clock: Arc<ManualClock>) -> Polls<FakePort> {
    Polls {
        store: Store::open_in_memory().unwrap_or_else(|e| panic!("{e}")),
        clock,
        port: FakePort::default(),
        responder: Arc::new(Responder::new(
            Catalog::bundled().unwrap_or_else(|e| panic!("{e}")),
        )),
        locks: PollLocks::default(),
        lease: Duration::from_secs(120),
    }
}

/// A one-hour poll of every scene in guild 1, channel 7, made now.
fn new_poll(polls: &Polls<FakePort>) -> NewPoll {
    NewPoll {
        thread: false,
        guild_id: 1,
        channel_id: 7,
        started_by: 3,
        locale: Locale::En,
        scene_ids: polls.responder.catalog.scene_ids(),
        hours: 1,
        now: polls.clock.now(),
    }
}

/// Starts a one-hour poll in guild 1, channel 7, as `/favorite start` does.
async fn started(polls: &Polls<FakePort>) -> PollRecord {
    let record = match polls.store.insert_poll(&new_poll(polls)) {
        Ok(Ok(record)) => record,
        other => panic!("{other:?}"),
    };
    assert!(post_new(polls, &record).await.is_ok());
    polls
        .store
        .release_poll(record.id)
        .unwrap_or_else(|e| panic!("{e}"));
    polls
        .store
        .poll(record.id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("poll"))
}

#[tokio::test]
async fn a_poll_is_announced_once_with_votes_counted_by_the_answer_ids_kept_at_posting() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let record = started(&polls).await;
    assert_eq!(record.state, PollState::Running);
    // Discord numbered the answers 40, 41, …; the first scene got 3 votes, the third 5.
    assert_eq!(record.answer_ids.first().map(|(id, _)| *id), Some(40));
    let message = record.message_id.unwrap_or_default();
    polls
        .port
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(message, (true, vec![(40, 3), (42, 5)]));
    assert_eq!(
        finish(&polls, record.id).await,
        Finished::NotYet,
        "not over yet"
    );
    clock.advance(3_600);
    assert_eq!(finish(&polls, record.id).await, Finished::Announced(7));
    assert_eq!(finish(&polls, record.id).await, Finished::Announced(7));
    let sent: Vec<String> = polls.port.sent().into_iter().map(|s| s.what).collect();
    assert_eq!(
        sent,
        vec![format!("poll:{}", record.id), format!("results:{message}")]
    );
    let done = polls
        .store
        .poll(record.id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("poll"));
    let votes = done.tally.map(|t| t.votes).unwrap_or_default();
    assert_eq!(
        votes
            .iter()
            .map(|(_, n)| *n)
            .collect::<Vec<_>>()
            .iter()
            .take(3)
            .copied()
            .collect::<Vec<u32>>(),
        vec![3, 0, 5]
    );
}

#[tokio::test]
async fn a_poll_process_that_lost_its_lease_records_nothing() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = Arc::new(polls(Arc::clone(&clock)));
    let record = started(&polls).await;
    let message = record.message_id.unwrap_or_default();
    polls
        .port
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(message, (true, vec![(40, 1)]));
    clock.advance(3_600);
    polls.port.hang(7);
    let first = tokio::spawn({
        let polls = Arc::clone(&polls);
        async move { finish(&polls, record.id).await }
    });
    // Our process stalls in Discord past its lease; another process takes the poll over.
    let other = polls.store.clone().with_instance("other");
    let mut taken = false;
    for _ in 0..500 {
        clock.advance(300);
        if other.claim_poll(record.id, clock.now()).unwrap_or(false) {
            taken = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(taken, "the other process takes the poll over");
    polls.port.release();
    let finished = tokio::time::timeout(Duration::from_secs(5), first).await;
    assert!(matches!(finished, Ok(Ok(Finished::NotYet))), "{finished:?}");
    let after = polls
        .store
        .poll(record.id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("poll"));
    assert_eq!(
        (after.state, after.tally),
        (PollState::Running, None),
        "nothing recorded by the process that lost it"
    );
    assert_eq!(polls.port.sent().len(), 1, "no results sent by it either");
}

#[tokio::test]
async fn a_new_poll_never_adopts_the_previous_poll_of_its_channel() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let first = started(&polls).await;
    polls
        .store
        .end_poll_early(first.id, clock.now())
        .unwrap_or_else(|e| panic!("{e}"));
    polls
        .port
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(first.message_id.unwrap_or_default(), (true, vec![]));
    assert_eq!(finish(&polls, first.id).await, Finished::Announced(7));
    // A second poll whose first send failed transiently: the scheduler looks for it, and must not take the first.
    let new_poll = NewPoll {
        thread: false,
        guild_id: 1,
        channel_id: 7,
        started_by: 3,
        locale: Locale::En,
        scene_ids: first.scene_ids.clone(),
        hours: 1,
        now: clock.now(),
    };
    let Ok(Ok(second)) = polls.store.insert_poll(&new_poll) else {
        panic!("second poll")
    };
    polls
        .store
        .release_poll(second.id)
        .unwrap_or_else(|e| panic!("{e}"));
    let held = polls
        .store
        .poll_messages_held(1, second.id, START)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(held, first.message_id.into_iter().collect::<Vec<_>>());
    let found = polls.port.find_poll(&second, START, &held).await;
    assert_eq!(found.ok().flatten(), None);
    assert!(matches!(finish(&polls, second.id).await, Finished::NotYet));
    let now_running = polls
        .store
        .poll(second.id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("poll"));
    assert_eq!(now_running.state, PollState::Running);
    assert_ne!(now_running.message_id, first.message_id, "posted anew");
}

#[test]
fn looks_stay_close_only_while_discord_finalizes() {
    let early: Vec<u64> = (0..5)
        .map(|t| retry_delay(t, PollState::Running, 5).as_secs())
        .collect();
    assert_eq!(early, vec![1, 2, 2, 2, 2]);
    let late: Vec<u64> = (0..8)
        .map(|t| retry_delay(t, PollState::Running, 600).as_secs())
        .collect();
    assert_eq!(late, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    // A poll Discord will not take during an outage backs off to a minute, though its end is still ahead.
    let posting: Vec<u64> = (0..8)
        .map(|t| retry_delay(t, PollState::Posting, -3_000).as_secs())
        .collect();
    assert_eq!(posting, vec![1, 2, 4, 8, 16, 32, 60, 60]);
}

#[tokio::test]
async fn one_poll_held_never_holds_up_another() {
    let locks = PollLocks::default();
    let held = locks.lock(1).await;
    let other = tokio::time::timeout(Duration::from_secs(1), locks.lock(2)).await;
    assert!(other.is_ok(), "poll 2 waits for nobody");
    let same = tokio::time::timeout(Duration::from_millis(50), locks.lock(1)).await;
    assert!(same.is_err(), "poll 1 is held");
    drop(held);
    let again = tokio::time::timeout(Duration::from_secs(1), locks.lock(1)).await;
    assert!(again.is_ok(), "released");
}

/// Item 7: a poll whose first send failed, in a channel the bot can no longer read, is neither posted again (it may
/// be there) nor cancelled at once: looked at again later, and given up for missing access after the hour.
#[tokio::test]
async fn a_poll_that_cannot_be_looked_for_waits_then_is_cancelled_for_access() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let Ok(Ok(record)) = polls.store.insert_poll(&new_poll(&polls)) else {
        panic!("poll")
    };
    polls
        .store
        .release_poll(record.id)
        .unwrap_or_else(|e| panic!("{e}"));
    let unreadable = || Failure::Unreadable("the bot lacks Read Message History".to_owned());
    polls
        .port
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(7, unreadable());
    assert_eq!(finish(&polls, record.id).await, Finished::NotYet);
    assert!(
        polls.port.sent().is_empty(),
        "not sent while it may be there"
    );
    clock.advance(POSTING_GIVE_UP_SECONDS + 1);
    polls
        .port
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(7, unreadable());
    assert_eq!(
        finish(&polls, record.id).await,
        Finished::Cancelled(CancelReason::NoAccess)
    );
    assert!(polls.port.sent().is_empty());
}

/// A started poll past its end, its counts final on Discord.
async fn ended(polls: &Polls<FakePort>, clock: &ManualClock) -> PollRecord {
    let record = started(polls).await;
    polls
        .port
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(record.message_id.unwrap_or_default(), (true, vec![(40, 1)]));
    clock.advance(3_600);
    record
}

/// Issue 29.1: results are searched for only once a send was attempted, and only from that attempt on, so the
/// messages of a busy channel during the poll are never read.
#[tokio::test]
async fn results_are_searched_for_only_from_an_attempt_to_send_them() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let record = ended(&polls, &clock).await;
    let unanswered = Failure::Transient("no answer".to_owned());
    *polls
        .port
        .results_fail
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(unanswered);
    let attempt = clock.now();
    assert_eq!(finish(&polls, record.id).await, Finished::NotYet);
    let searches = || {
        polls
            .port
            .results_searches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    };
    assert!(searches().is_empty(), "the first attempt searches nothing");
    *polls
        .port
        .results_fail
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = None;
    clock.advance(30);
    assert_eq!(finish(&polls, record.id).await, Finished::Announced(7));
    assert_eq!(searches(), vec![attempt - CLOCK_SKEW_SECONDS]);
}

/// Issue 29.1: results that cannot be posted within the hour give the poll up (its counts kept), so the server can
/// start its next poll; before the hour they are tried again.
#[tokio::test]
async fn results_unposted_an_hour_after_the_end_free_the_server() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let record = ended(&polls, &clock).await;
    let unreadable = Failure::Unreadable("cannot tell".to_owned());
    *polls
        .port
        .results_fail
        .lock()
        .unwrap_or_else(PoisonError::into_inner) = Some(unreadable);
    assert_eq!(finish(&polls, record.id).await, Finished::NotYet);
    clock.advance(ANNOUNCE_GIVE_UP_SECONDS - 60);
    assert_eq!(finish(&polls, record.id).await, Finished::NotYet);
    clock.advance(61);
    assert_eq!(
        finish(&polls, record.id).await,
        Finished::Cancelled(CancelReason::NotAnnounced)
    );
    assert!(polls.store.open_poll(1).ok().flatten().is_none(), "free");
    let kept = polls.store.poll(record.id).ok().flatten();
    assert!(kept.and_then(|p| p.tally).is_some(), "counts kept");
}

#[tokio::test]
async fn a_thread_opens_once_on_the_results_even_after_a_lost_answer() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let record = match polls.store.insert_poll(&NewPoll {
        thread: true,
        ..new_poll(&polls)
    }) {
        Ok(Ok(record)) => record,
        other => panic!("{other:?}"),
    };
    assert!(post_new(&polls, &record).await.is_ok());
    polls
        .store
        .release_poll(record.id)
        .unwrap_or_else(|e| panic!("{e}"));
    let message = polls
        .store
        .poll(record.id)
        .ok()
        .flatten()
        .and_then(|p| p.message_id)
        .unwrap_or_default();
    polls
        .port
        .counts
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(message, (true, vec![(40, 3)]));
    clock.advance(3_600);
    // The thread call's answer is lost after Discord made the thread (a crash would leave the same).
    polls
        .port
        .thread_failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((Failure::Transient("connection reset".to_owned()), true));
    assert_eq!(finish(&polls, record.id).await, Finished::NotYet);
    let ended = polls.store.poll(record.id).ok().flatten();
    let results = ended.as_ref().and_then(|p| p.result_message_id);
    assert_eq!(
        ended.map(|p| p.state),
        Some(PollState::Ended),
        "not announced before its thread"
    );
    assert!(results.is_some(), "the results message is kept");
    assert_eq!(finish(&polls, record.id).await, Finished::Announced(7));
    let sent: Vec<String> = polls.port.sent().into_iter().map(|s| s.what).collect();
    assert_eq!(
        sent.len(),
        2,
        "the poll and its results, once each: {sent:?}"
    );
    let threads = polls.port.threads();
    assert_eq!(threads.len(), 1, "one thread");
    assert_eq!(Some(threads[0].0), results);
    assert!(threads[0].1.starts_with("🏆 "), "{}", threads[0].1);
    let done = polls.store.poll(record.id).ok().flatten();
    assert_eq!(
        done.map(|p| (p.state, p.thread_note)),
        Some((PollState::Announced, Some(ThreadNote::Opened)))
    );
}

#[tokio::test]
async fn start_posts_one_poll_per_server_and_says_what_became_of_it() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    let ends_at = START + 3_600;
    assert_eq!(
        start(&polls, new_poll(&polls)).await.ok(),
        Some(Started::Posted { ends_at })
    );
    // One open poll per server: a second start makes nothing and names the open one.
    match start(&polls, new_poll(&polls)).await {
        Ok(Started::AlreadyOpen(open)) => assert_eq!(open.ends_at, ends_at),
        other => panic!("{other:?}"),
    }
    let posted = polls.port.sent();
    assert_eq!(posted.len(), 1, "one poll posted: {posted:?}");
}

#[tokio::test]
async fn start_keeps_a_poll_discord_did_not_answer_for_and_cancels_a_refused_one() {
    let clock = Arc::new(ManualClock::new(START));
    let polls = polls(Arc::clone(&clock));
    polls
        .port
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(7, Failure::Transient("a 503".to_owned()));
    assert_eq!(
        start(&polls, new_poll(&polls)).await.ok(),
        Some(Started::Pending)
    );
    // Still open, in `posting`, for the scheduler; and released for it to take.
    match start(&polls, new_poll(&polls)).await {
        Ok(Started::AlreadyOpen(open)) => assert_eq!(open.state, PollState::Posting),
        other => panic!("{other:?}"),
    }
    // Another server whose channel refuses the bot: cancelled, nothing left open.
    let mut refused = new_poll(&polls);
    (refused.guild_id, refused.channel_id) = (2, 8);
    polls
        .port
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(8, Failure::Forbidden("403 Missing Access".to_owned()));
    assert!(matches!(
        start(&polls, refused.clone()).await,
        Ok(Started::Cancelled(_))
    ));
    // The fake refuses once: the next start posts.
    assert!(
        matches!(start(&polls, refused).await, Ok(Started::Posted { .. })),
        "the cancelled poll holds nothing open"
    );
}
