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

/// A schedule at 09:00 UTC in English: guild, channel, threads on or off.
fn settings(guild_id: u64, channel_id: u64, thread: bool) -> DailySettings {
    DailySettings {
        thread,
        guild_id,
        channel_id,
        time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        timezone: chrono_tz::UTC,
        role_id: None,
        locale: Locale::En,
    }
}

/// `servers` schedules at 09:00 UTC, guild g posting in channel 100 + g.
fn dailies(servers: u64, clock: Arc<dyn Clock>, lease: Duration) -> Dailies<FakePort> {
    let store = Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"));
    for guild in 1..=servers {
        let settings = settings(guild, 100 + guild, false);
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
    plan_at_ms(dailies, now * 1000).0
}

/// A planning pass at `now_ms` (unix milliseconds): the work due and the wait until the next post.
fn plan_at_ms(dailies: &Dailies<FakePort>, now_ms: i64) -> (Vec<Work>, Duration) {
    let now = DateTime::<Utc>::from_timestamp_millis(now_ms).unwrap_or_default();
    let mut planner = Planner::new(now);
    dailies
        .store
        .plan_each_daily(now.date_naive() - chrono::Days::new(2), &mut |daily| {
            planner.add(&daily)
        })
        .unwrap_or_else(|e| panic!("{e}"));
    planner.finish()
}

#[test]
fn the_planner_wakes_on_the_minute_not_a_second_after() {
    let dailies = dailies(1, Arc::new(SystemClock), Duration::from_secs(60));
    // 08:59:59.400 UTC: the 09:00 post is 600 ms away; a wake rounded to whole seconds slept 1 s (400 ms late).
    let nine = (post_minute() - 30) * 1000;
    let (work, wait) = plan_at_ms(&dailies, nine - 600);
    assert!(work.is_empty(), "{work:?}");
    assert_eq!(wait, Duration::from_millis(600));
    // On the minute, the post is due at once and the next wake is the tick, not a spin.
    let (work, wait) = plan_at_ms(&dailies, nine);
    assert_eq!(guilds(&work), [1]);
    assert_eq!(wait, SCHEDULER_TICK);
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
    let moved = settings(2, 777, false);
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

/// One schedule (guild 1, channel 101, 09:00 UTC), threads on or off, and a clock at `at`.
fn one_server(at: i64, thread: bool) -> Dailies<FakePort> {
    let dailies = dailies(1, Arc::new(ManualClock::new(at)), Duration::from_secs(120));
    dailies
        .store
        .set_daily(&settings(1, 101, thread), post_minute() - 3_600)
        .unwrap_or_else(|e| panic!("{e}"));
    dailies
}

fn day(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_default()
}

fn post_record(dailies: &Dailies<FakePort>, date: NaiveDate) -> crate::store::DailyPost {
    dailies
        .store
        .daily_post(1, date)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("a post record for {date}"))
}

#[tokio::test]
async fn the_birthday_and_an_anniversary_are_posted_without_drawing_from_the_bag() {
    let dailies = one_server(post_minute(), false);
    let bag = |d: &Dailies<FakePort>| d.store.daily(1).ok().flatten().map(|r| r.bag);
    let before = bag(&dailies);
    // 16 December: the birthday; 18 February: Kill Me, Heal Me's episode 13 (its kiss), in the dataset.
    for (date, occasion) in [
        ("2027-12-16", crate::locale::Occasion::Birthday),
        ("2028-02-18", crate::locale::Occasion::KissEpisode),
    ] {
        assert!(matches!(
            post_day(&dailies, 1, day(date), false).await,
            Outcome::Posted(_)
        ));
        let post = post_record(&dailies, day(date));
        assert_eq!(
            (post.state, post.special),
            (DailyPostState::Sent, Some(occasion))
        );
        assert_eq!(bag(&dailies), before, "{date}: nothing drawn from the bag");
    }
    assert_eq!(
        post_record(&dailies, day("2028-02-18")).scene_id.as_deref(),
        Some("kill-me-heal-me")
    );
    // The next ordinary day draws the round's first scene.
    assert!(matches!(
        post_day(&dailies, 1, day("2028-02-19"), false).await,
        Outcome::Posted(_)
    ));
    let ordinary = post_record(&dailies, day("2028-02-19"));
    assert_eq!(ordinary.special, None);
    assert!(ordinary.scene_id.is_some());
    assert_ne!(bag(&dailies), before, "an ordinary day draws");
    assert_eq!(dailies.port.sent().len(), 3, "one post a day");
}

#[tokio::test]
async fn a_thread_opens_once_on_the_days_post_named_after_it() {
    let dailies = one_server(post_minute(), true);
    let outcome = post_day(&dailies, 1, day("2027-12-16"), false).await;
    let Outcome::Posted(message) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(
        dailies.port.threads(),
        vec![(message, "Park Seo-joon turns 39 today".to_owned())]
    );
    assert_eq!(
        post_record(&dailies, day("2027-12-16")).thread,
        Some(ThreadNote::Opened)
    );
    // Done: a second pass posts nothing and opens nothing.
    assert_eq!(
        post_day(&dailies, 1, day("2027-12-16"), false).await,
        Outcome::Nothing
    );
    assert_eq!(dailies.port.threads().len(), 1);
}

#[tokio::test]
async fn a_crash_between_the_post_and_its_thread_opens_the_thread_on_the_recorded_post() {
    for made_before_the_crash in [false, true] {
        let dailies = one_server(post_minute(), true);
        // The thread call fails as a crash or a lost answer would leave it: the thread made or not.
        dailies
            .port
            .thread_failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((
                Failure::Transient("connection reset".to_owned()),
                made_before_the_crash,
            ));
        assert_eq!(post_day(&dailies, 1, date(), false).await, Outcome::Retry);
        let claimed = post_record(&dailies, date());
        assert_eq!(
            claimed.state,
            DailyPostState::Claimed,
            "not done until its thread"
        );
        assert_eq!(
            claimed.message_id,
            Some(1000),
            "the message is kept on the claim"
        );
        // The next pass (this process or another after the lease) opens the thread on that message.
        assert_eq!(
            post_day(&dailies, 1, date(), false).await,
            Outcome::Posted(1000)
        );
        assert_eq!(dailies.port.sent().len(), 1, "posted once");
        let threads = dailies.port.threads();
        assert_eq!(threads.len(), 1, "one thread");
        assert_eq!(threads[0].0, 1000);
        assert_eq!(
            post_record(&dailies, date()).thread,
            Some(ThreadNote::Opened)
        );
    }
}

#[tokio::test]
async fn without_create_public_threads_the_post_goes_out_and_the_thread_is_skipped() {
    let dailies = one_server(post_minute(), true);
    dailies
        .port
        .no_thread_permission
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push(101);
    assert!(matches!(
        post_day(&dailies, 1, date(), false).await,
        Outcome::Posted(_)
    ));
    assert!(dailies.port.threads().is_empty());
    assert_eq!(
        post_record(&dailies, date()).thread,
        Some(ThreadNote::NoPermission)
    );
    let record = dailies.store.daily(1).ok().flatten();
    assert_eq!(
        record.and_then(|r| r.thread_problem),
        Some(ThreadNote::NoPermission),
        "kept for /daily status"
    );
    // Granted the next day: the thread opens and the problem clears.
    dailies
        .port
        .no_thread_permission
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clear();
    let next = date().succ_opt().unwrap_or_default();
    assert!(matches!(
        post_day(&dailies, 1, next, false).await,
        Outcome::Posted(_)
    ));
    assert_eq!(dailies.port.threads().len(), 1);
    let record = dailies.store.daily(1).ok().flatten();
    assert_eq!(record.and_then(|r| r.thread_problem), None);
}

use crate::reason::ThreadNote;
