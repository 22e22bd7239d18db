use std::time::Duration;

use chrono::{NaiveDate, NaiveTime, TimeZone};

use super::*;
use crate::catalog::Catalog;
use crate::clock::{ManualClock, SystemClock};
use crate::lifecycle::test_port::FakePort;
use crate::locale::Locale;
use crate::store::DailySettings;

fn date() -> NaiveDate {
    NaiveDate::from_ymd_opt(2027, 5, 2).unwrap_or_default()
}

/// 2027-05-02 09:00:30 UTC, half a minute after every schedule's post time.
fn post_minute() -> i64 {
    Utc.with_ymd_and_hms(2027, 5, 2, 9, 0, 30)
        .single()
        .map_or(0, |t| t.timestamp())
}

/// `servers` schedules at 09:00 UTC, guild g posting in channel 100 + g.
fn dailies(servers: u64, clock: Arc<dyn Clock>, lease: Duration) -> Dailies<FakePort> {
    let store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    for guild in 1..=servers {
        let settings = DailySettings {
            thread: false,
            guild_id: guild,
            channel_id: 100 + guild,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            timezone: chrono_tz::UTC,
            role_id: None,
            locale: Locale::En,
        };
        store
            .set_daily(&settings, post_minute() - 3_600)
            .unwrap_or_else(|e| panic!("{e}"));
    }
    Dailies {
        store,
        clock,
        port: FakePort::default(),
        responder: Arc::new(Responder::new(
            Catalog::bundled().unwrap_or_else(|e| panic!("{e}")),
        )),
        lease,
    }
}

fn planned(dailies: &Dailies<FakePort>, now: i64) -> Vec<Work> {
    let now = DateTime::<Utc>::from_timestamp(now, 0).unwrap_or_default();
    let mut planner = Planner::new(now);
    dailies
        .store
        .plan_each_daily(now.date_naive() - chrono::Days::new(2), &mut |daily| {
            planner.add(&daily)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    planner.finish().0
}

fn guilds(work: &[Work]) -> Vec<u64> {
    work.iter().map(|w| w.key().0).collect()
}

/// Waits (bounded) until `done` holds, checking every 10 ms.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..1_000 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting until {what}");
}

#[tokio::test]
async fn a_schedule_changed_after_planning_is_posted_as_it_is_now() {
    let dailies = dailies(
        2,
        Arc::new(ManualClock::new(post_minute())),
        Duration::from_secs(120),
    );
    let work = planned(&dailies, post_minute());
    assert_eq!(work.len(), 2);
    // While the work waits in the queue, server 1 turns its post off and server 2 moves it to channel 777.
    assert!(dailies.store.daily_off(1).unwrap_or_else(|e| panic!("{e}")));
    let moved = DailySettings {
        thread: false,
        guild_id: 2,
        channel_id: 777,
        time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        timezone: chrono_tz::UTC,
        role_id: None,
        locale: Locale::En,
    };
    dailies
        .store
        .set_daily(&moved, post_minute() - 3_600)
        .unwrap_or_else(|e| panic!("{e}"));
    let mut outcomes = Vec::new();
    for item in work {
        outcomes.push((item.key().0, do_work(&dailies, item).await));
    }
    outcomes.sort_by_key(|(guild, _)| *guild);
    assert_eq!(
        outcomes[0].1,
        Outcome::Nothing,
        "turned off: nothing posted"
    );
    assert!(matches!(outcomes[1].1, Outcome::Posted(_)));
    let channels: Vec<u64> = dailies.port.sent().iter().map(|s| s.channel).collect();
    assert_eq!(
        channels,
        vec![777],
        "one post, in the channel chosen after planning"
    );
}

#[tokio::test]
async fn a_minute_is_planned_in_one_query_in_a_fair_order_that_changes_every_day() {
    let dailies = dailies(
        12,
        Arc::new(ManualClock::new(post_minute())),
        Duration::from_secs(120),
    );
    let today = planned(&dailies, post_minute());
    assert_eq!(today.len(), 12);
    assert!(today
        .iter()
        .all(|w| matches!(w, Work::Post(_, d) if *d == date())));
    let tomorrow = planned(&dailies, post_minute() + 86_400);
    let mut sorted = guilds(&today);
    sorted.sort_unstable();
    assert_ne!(
        guilds(&today),
        sorted,
        "not by server id: the same servers would always be last"
    );
    assert_ne!(guilds(&today), guilds(&tomorrow), "a new order every day");
    // Posted days drop out of the plan.
    for work in today.iter().take(5) {
        assert!(matches!(do_work(&dailies, *work).await, Outcome::Posted(_)));
    }
    assert_eq!(planned(&dailies, post_minute()).len(), 7);
    // Past the late limit, an unclaimed day is skipped and a claimed one given up.
    let late = post_minute() + daily::LATE_LIMIT.num_seconds() + 60;
    let work = planned(&dailies, late);
    assert_eq!(
        work.iter().filter(|w| matches!(w, Work::Skip(..))).count(),
        7
    );
}

#[tokio::test]
async fn a_hung_server_holds_up_no_other_server() {
    let dailies = Arc::new(dailies(
        10,
        Arc::new(ManualClock::new(post_minute())),
        Duration::from_secs(120),
    ));
    dailies.port.hang(101);
    let (stop, stopping) = watch::channel(false);
    let job = tokio::spawn(run(
        Arc::clone(&dailies),
        Arc::new(Notify::new()),
        stopping,
        4,
    ));
    until("the nine other servers posted", || {
        dailies.port.sent().len() == 9
    })
    .await;
    assert!(dailies.port.sent().iter().all(|s| s.channel != 101));
    dailies.port.release();
    until("the hung server posted too", || {
        dailies.port.sent().len() == 10
    })
    .await;
    stop.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(5), job).await;
    let mut channels: Vec<u64> = dailies.port.sent().iter().map(|s| s.channel).collect();
    channels.sort_unstable();
    channels.dedup();
    assert_eq!(channels.len(), 10, "every server once");
}

#[tokio::test]
async fn a_slow_send_keeps_its_claim_so_no_other_process_sends_a_copy() {
    // A real clock and a 3 s lease: the send takes 4.5 s, longer than the lease. Without renewals the other process
    // would take the claim over after 3 s, find nothing in the channel and send a second copy.
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let a = Arc::new(dailies(1, Arc::clone(&clock), Duration::from_secs(3)));
    let b = Dailies {
        store: a.store.clone().with_instance("other"),
        clock,
        port: a.port.clone(),
        responder: Arc::clone(&a.responder),
        lease: Duration::from_secs(3),
    };
    let record = a
        .store
        .daily(1)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("schedule"));
    a.port.hang(101);
    let first = tokio::spawn({
        let (a, record) = (Arc::clone(&a), record.clone());
        async move { post_day(&a, record.guild_id, date(), false).await }
    });
    tokio::time::sleep(Duration::from_millis(3_500)).await;
    assert_eq!(
        post_day(&b, record.guild_id, date(), false).await,
        Outcome::Nothing,
        "the claim is still held"
    );
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    a.port.release();
    let outcome = tokio::time::timeout(Duration::from_secs(5), first).await;
    assert!(matches!(outcome, Ok(Ok(Outcome::Posted(_)))), "{outcome:?}");
    assert_eq!(a.port.sent().len(), 1, "one post");
}

#[tokio::test]
async fn a_process_whose_claim_was_taken_over_records_nothing() {
    let clock = Arc::new(ManualClock::new(post_minute()));
    let a = Arc::new(dailies(1, clock.clone(), Duration::from_secs(120)));
    let other = a.store.clone().with_instance("other");
    let record = a
        .store
        .daily(1)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("schedule"));
    a.port.hang(101);
    let first = tokio::spawn({
        let (a, record) = (Arc::clone(&a), record.clone());
        async move { post_day(&a, record.guild_id, date(), false).await }
    });
    until("the claim is taken", || {
        a.store.daily_post(1, date()).ok().flatten().is_some()
    })
    .await;
    // Our process stalls past its lease; another takes the day over and records its own post.
    clock.advance(600);
    let now = clock.now();
    let taken = other
        .claim_daily(1, date(), now, |_| None)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(matches!(taken, Claim::Unsent(_)), "{taken:?}");
    other
        .mark_daily_sent(1, Some(date()), 555, now)
        .unwrap_or_else(|e| panic!("{e}"));
    a.port.release();
    let outcome = tokio::time::timeout(Duration::from_secs(5), first).await;
    assert!(matches!(outcome, Ok(Ok(Outcome::Lost))), "{outcome:?}");
    let post = a
        .store
        .daily_post(1, date())
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("post"));
    assert_eq!(post.message_id, Some(555), "the new owner's record stands");
}

#[tokio::test]
async fn an_unsent_claim_is_looked_for_before_it_is_sent_again() {
    let dailies = dailies(
        1,
        Arc::new(ManualClock::new(post_minute())),
        Duration::from_secs(120),
    );
    let record = dailies
        .store
        .daily(1)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("schedule"));
    // The first send failed with an answer that may have gone through: the claim stays, unsent.
    dailies
        .port
        .failures
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(
            101,
            Failure::Transient("Discord's answer could not be read".to_owned()),
        );
    assert_eq!(
        post_day(&dailies, record.guild_id, date(), false).await,
        Outcome::Retry
    );
    // Meanwhile the post did reach the channel (the fake records it as if the lost answer had been a success).
    dailies
        .port
        .push(101, format!("daily:{}", date_marker(date())));
    assert!(matches!(
        post_day(&dailies, record.guild_id, date(), false).await,
        Outcome::Posted(1000)
    ));
    assert_eq!(dailies.port.sent().len(), 1, "adopted, not sent again");
}

use std::sync::PoisonError;
