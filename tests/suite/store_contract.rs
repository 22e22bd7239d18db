//! The store contract, run on both backends: every case below runs once on an SQLite file and once on a fresh
//! PostgreSQL database (see `support::postgres`; skipped, and said so, when PostgreSQL is not installed and
//! `SCENEBOT_REQUIRE_POSTGRES` is not set). A case gets a way to open stores on one database: two stores are two
//! processes, each with its own owner id.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveTime};
use scenebot::favorite::Tally;
use scenebot::locale::Locale;
use scenebot::locale::Occasion;
use scenebot::reason::{CancelReason, PostFailure, ThreadNote};
use scenebot::store::{
    Claim, DailyPostState, DailySettings, NewPoll, Pick, PollState, Store, StoreError,
    SCHEMA_VERSION,
};

use crate::support::postgres::PgDatabase;
use crate::support::TempDir;

/// A local date written as the tests read it.
fn date(text: &str) -> NaiveDate {
    NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// Opens stores on one database.
type Open<'a> = &'a (dyn Fn() -> Store + Sync);

pub(crate) fn new_poll(guild_id: u64, now: i64) -> NewPoll {
    NewPoll {
        thread: false,
        guild_id,
        channel_id: 2,
        started_by: 3,
        locale: Locale::En,
        scene_ids: vec!["a".into(), "b".into()],
        hours: 24,
        now,
    }
}

fn settings(guild_id: u64) -> DailySettings {
    DailySettings {
        thread: false,
        guild_id,
        channel_id: 5,
        time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
        timezone: chrono_tz::Asia::Seoul,
        role_id: Some(77),
        locale: Locale::Ko,
    }
}

fn migrations_bring_a_new_database_to_the_current_version(
    open: Open<'_>,
) -> Result<(), StoreError> {
    let store = open();
    assert_eq!(store.schema_version()?, SCHEMA_VERSION);
    assert!(store.integrity_ok()?);
    let again = open();
    assert_eq!(
        again.schema_version()?,
        SCHEMA_VERSION,
        "opening twice migrates once"
    );
    Ok(())
}

fn a_poll_goes_through_its_states_once(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    let Ok(poll) = store.insert_poll(&new_poll(1, 1_000))? else {
        panic!("no open poll yet");
    };
    assert_eq!((poll.state, poll.locale), (PollState::Posting, Locale::En));
    assert_eq!(poll.ends_at, 1_000 + 24 * 3600);
    store.mark_poll_running(poll.id, 77, 5_000, &[])?;
    store.mark_poll_running(poll.id, 78, 6_000, &[])?; // a second call changes nothing
    let running = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
    assert_eq!(
        (running.state, running.message_id, running.ends_at),
        (PollState::Running, Some(77), 5_000)
    );
    assert_eq!(store.open_polls()?.len(), 1);
    store.end_poll_early(poll.id, 2_000)?;
    assert_eq!(store.poll(poll.id)?.map(|p| p.ends_at), Some(2_000));
    let tally = Tally {
        votes: vec![("a".into(), 2), ("b".into(), 1)],
    };
    store.mark_poll_ended(poll.id, &tally)?;
    store.mark_poll_announced(poll.id, 99, 3_000)?;
    store.cancel_poll(poll.id, CancelReason::Refused, 4_000)?; // announced polls stay announced
    let done = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
    assert_eq!(done.state, PollState::Announced);
    assert_eq!(done.result_message_id, Some(99));
    assert_eq!(done.tally, Some(tally.clone()));
    assert_eq!(store.announced_tallies(1)?, vec![tally]);
    assert_eq!(store.last_finished_poll(1)?.map(|p| p.id), Some(poll.id));
    assert!(store.open_polls()?.is_empty());
    // Its message is held against any later poll's search that could still see it, never against its own.
    assert_eq!(store.poll_messages_held(1, poll.id + 1, 3_000)?, vec![77]);
    assert!(
        store.poll_messages_held(1, poll.id + 1, 3_001)?.is_empty(),
        "finished before the window"
    );
    assert!(
        store.poll_messages_held(1, poll.id, 0)?.is_empty(),
        "its own"
    );
    assert!(
        store.poll_messages_held(2, poll.id + 1, 0)?.is_empty(),
        "another server's"
    );
    Ok(())
}

fn one_open_poll_per_server(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    let first = store.insert_poll(&new_poll(1, 1_000))?;
    assert!(first.is_ok());
    let second = open().insert_poll(&new_poll(1, 1_000))?;
    assert_eq!(
        second.err().map(|p| p.guild_id),
        Some(1),
        "another process sees it too"
    );
    assert!(
        store.insert_poll(&new_poll(2, 1_000))?.is_ok(),
        "another server is independent"
    );
    let Ok(first) = first else { panic!() };
    store.cancel_poll(first.id, CancelReason::Deleted, 10)?;
    assert!(
        store.insert_poll(&new_poll(1, 1_000))?.is_ok(),
        "a finished poll frees the server"
    );
    assert_eq!(
        store.last_finished_poll(1)?.and_then(|p| p.reason),
        Some(CancelReason::Deleted)
    );
    Ok(())
}

fn a_poll_claim_is_held_until_released_or_expired(open: Open<'_>) -> Result<(), StoreError> {
    let (mine, theirs) = (
        open().with_lease(std::time::Duration::from_secs(60)),
        open(),
    );
    let Ok(poll) = mine.insert_poll(&new_poll(1, 1_000))? else {
        panic!()
    };
    assert!(
        !theirs.claim_poll(poll.id, 1_010)?,
        "a poll being posted is the poster's"
    );
    assert!(
        mine.claim_poll(poll.id, 1_010)?,
        "an owner renews its own claim"
    );
    mine.mark_poll_running(poll.id, 7, 5_000, &[])?;
    assert!(
        !theirs.claim_poll(poll.id, 1_020)?,
        "recording a step keeps the claim: the owner goes on"
    );
    mine.release_poll(poll.id)?;
    assert!(theirs.claim_poll(poll.id, 1_020)?, "released after posting");
    assert!(!mine.claim_poll(poll.id, 1_030)?);
    theirs.release_poll(poll.id)?;
    assert!(mine.claim_poll(poll.id, 1_040)?, "released");
    assert!(
        !theirs.claim_poll(poll.id, 1_040 + 59)?,
        "still within the lease"
    );
    assert!(
        theirs.claim_poll(poll.id, 1_040 + 60)?,
        "a dead owner's lease runs out"
    );
    mine.release_poll(poll.id)?; // not the owner any more: changes nothing
    assert!(!mine.claim_poll(poll.id, 1_101)?);
    assert!(!mine.claim_poll(999, 0)?, "no such poll");
    Ok(())
}

fn a_day_is_claimed_once_and_sent_once(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    store.set_daily(&settings(1), 100)?;
    let first = store.claim_daily(1, date("2027-05-02"), 200, |bag| {
        bag.last = Some("x".into());
        Some("x".into())
    })?;
    assert_eq!(first, Claim::New("x".into()));
    assert_eq!(
        store.daily(1)?.and_then(|d| d.bag.last),
        Some("x".into()),
        "the bag moves with the claim"
    );
    let again = store.claim_daily(1, date("2027-05-02"), 300, |_| Some("y".into()))?;
    assert_eq!(
        again,
        Claim::Unsent("x".into()),
        "a claimed, unsent day resends the same scene"
    );
    store.mark_daily_sent(1, Some(date("2027-05-02")), 42, 301)?;
    assert_eq!(
        store.claim_daily(1, date("2027-05-02"), 400, |_| Some("z".into()))?,
        Claim::Done
    );
    let post = store
        .daily_post(1, date("2027-05-02"))?
        .unwrap_or_else(|| panic!("post"));
    assert_eq!(
        (post.state, post.message_id),
        (DailyPostState::Sent, Some(42))
    );
    assert_eq!(store.daily(1)?.and_then(|d| d.last_post_at), Some(301));
    Ok(())
}

fn a_dead_owners_daily_claim_is_taken_over_after_the_lease(
    open: Open<'_>,
) -> Result<(), StoreError> {
    let lease = std::time::Duration::from_secs(120);
    let (dead, alive) = (open().with_lease(lease), open().with_lease(lease));
    dead.set_daily(&settings(1), 100)?;
    assert_eq!(
        dead.claim_daily(1, date("2027-05-02"), 1_000, |_| Some("x".into()))?,
        Claim::New("x".into())
    );
    assert_eq!(
        alive.claim_daily(1, date("2027-05-02"), 1_119, |_| Some("y".into()))?,
        Claim::Held,
        "the owner may still be sending"
    );
    assert_eq!(
        alive.claim_daily(1, date("2027-05-02"), 1_120, |_| Some("y".into()))?,
        Claim::Unsent("x".into()),
        "taken over, with the same scene (same nonce)"
    );
    assert_eq!(
        dead.claim_daily(1, date("2027-05-02"), 1_130, |_| Some("z".into()))?,
        Claim::Held,
        "the old owner, back, does not send it too"
    );
    alive.mark_daily_sent(1, Some(date("2027-05-02")), 9, 1_131)?;
    assert_eq!(
        dead.claim_daily(1, date("2027-05-02"), 9_999, |_| None)?,
        Claim::Done
    );
    Ok(())
}

/// A restarted process (same host, same instance) is its predecessor's successor: it takes the claims over at once.
fn a_restarted_instance_takes_its_claims_over_at_once(open: Open<'_>) -> Result<(), StoreError> {
    let before = open().with_instance("0-0/2");
    let after = open().with_instance("0-0/2");
    let other = open().with_instance("1-1/2");
    assert_ne!(before.owner(), after.owner());
    before.set_daily(&settings(1), 100)?;
    assert_eq!(
        before.claim_daily(1, date("2027-05-02"), 1_000, |_| Some("x".into()))?,
        Claim::New("x".into())
    );
    assert_eq!(
        other.claim_daily(1, date("2027-05-02"), 1_001, |_| None)?,
        Claim::Held
    );
    assert_eq!(
        after.claim_daily(1, date("2027-05-02"), 1_001, |_| None)?,
        Claim::Unsent("x".into())
    );
    let Ok(poll) = before.insert_poll(&new_poll(2, 1_000))? else {
        panic!()
    };
    assert!(!other.claim_poll(poll.id, 1_001)?);
    assert!(after.claim_poll(poll.id, 1_001)?);
    Ok(())
}

fn three_failed_days_pause_and_set_resumes(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    store.set_daily(&settings(1), 100)?;
    for (day, expect_paused) in [
        ("2027-05-01", false),
        ("2027-05-02", false),
        ("2027-05-03", true),
    ] {
        store.claim_daily(1, date(day), 0, |_| Some("x".into()))?;
        assert_eq!(
            store.mark_daily_failed(1, date(day), PostFailure::Gone, 3)?,
            expect_paused,
            "{day}"
        );
    }
    let paused = store.daily(1)?.unwrap_or_else(|| panic!("daily"));
    assert!(paused.paused);
    assert_eq!(paused.failures, 3);
    assert_eq!(paused.last_error, Some(PostFailure::Gone));
    assert!(store.active_dailies()?.is_empty());
    store.set_daily(&settings(1), 500)?;
    let resumed = store.daily(1)?.unwrap_or_else(|| panic!("daily"));
    assert!(!resumed.paused && resumed.failures == 0 && resumed.last_error.is_none());
    assert_eq!(resumed.active_since, 500);
    assert!(store.daily_off(1)?);
    assert!(!store.daily_off(1)?, "already off");
    assert!(store.active_dailies()?.is_empty());
    assert!(store.daily(1)?.is_some(), "off keeps the settings");
    Ok(())
}

fn a_failed_day_counts_once_whoever_reports_it(open: Open<'_>) -> Result<(), StoreError> {
    let (a, b) = (open(), open());
    a.set_daily(&settings(1), 100)?;
    a.claim_daily(1, date("2027-05-01"), 0, |_| Some("x".into()))?;
    a.mark_daily_failed(1, date("2027-05-01"), PostFailure::NoAccess, 3)?;
    b.mark_daily_failed(1, date("2027-05-01"), PostFailure::NoAccess, 3)?;
    assert_eq!(a.daily(1)?.map(|d| d.failures), Some(1));
    b.mark_daily_skipped(1, date("2027-05-01"), 5)?;
    assert_eq!(
        a.daily_post(1, date("2027-05-01"))?.map(|p| p.state),
        Some(DailyPostState::Failed)
    );
    b.mark_daily_skipped(1, date("2027-05-02"), 5)?;
    b.mark_daily_skipped(1, date("2027-05-02"), 6)?;
    assert_eq!(
        a.daily_post(1, date("2027-05-02"))?
            .map(|p| (p.state, p.claimed_at)),
        Some((DailyPostState::Skipped, 5))
    );
    Ok(())
}

/// Issue 31: a server's language choice is kept, cleared, and becomes its daily posts' language at once (the other
/// servers untouched); a running poll keeps the language it was started in.
fn a_servers_language_choice_is_kept_and_becomes_its_daily_posts(
    open: Open<'_>,
) -> Result<(), StoreError> {
    let store = open();
    assert_eq!(store.server_language(1)?, None, "nothing chosen yet");
    store.set_daily(&settings(1), 100)?;
    store.set_daily(&settings(2), 100)?;
    let Ok(poll) = store.insert_poll(&NewPoll {
        locale: Locale::Ko,
        ..new_poll(1, 100)
    })?
    else {
        panic!("a poll")
    };
    store.set_server_language(1, Some(Locale::En), 200)?;
    assert_eq!(store.server_language(1)?, Some(Locale::En));
    let daily = |guild| store.daily(guild).map(|d| d.map(|d| d.locale));
    assert_eq!(
        daily(1)?,
        Some(Locale::En),
        "the daily posts follow at once"
    );
    assert_eq!(daily(2)?, Some(Locale::Ko), "another server untouched");
    assert_eq!(store.poll(poll.id)?.map(|p| p.locale), Some(Locale::Ko));
    store.set_server_language(1, Some(Locale::Ko), 300)?;
    assert_eq!(store.server_language(1)?, Some(Locale::Ko));
    // Back to automatic: the choice is gone; the posts keep the language they had.
    store.set_server_language(1, None, 400)?;
    assert_eq!(store.server_language(1)?, None);
    assert_eq!(daily(1)?, Some(Locale::Ko));
    Ok(())
}

fn records_come_back_typed(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    store.set_daily(&settings(1), 100)?;
    let record = store.daily(1)?.unwrap_or_else(|| panic!("daily"));
    assert_eq!(
        record.time,
        NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
    );
    assert_eq!(record.timezone, chrono_tz::Asia::Seoul);
    assert_eq!(
        (record.locale, record.role_id, record.channel_id),
        (Locale::Ko, Some(77), 5)
    );
    assert!(record.enabled && !record.paused);
    let big = u64::MAX >> 1; // snowflakes stay below 2^63
    let Ok(poll) = store.insert_poll(&NewPoll {
        thread: false,
        guild_id: big,
        locale: Locale::Ko,
        ..new_poll(big, 0)
    })?
    else {
        panic!()
    };
    assert_eq!((poll.guild_id, poll.locale), (big, Locale::Ko));
    assert_eq!(
        store.draw_daily(1, |bag| {
            bag.last = Some("q".into());
            Some("q".into())
        })?,
        Some("q".into())
    );
    assert_eq!(store.daily(1)?.and_then(|d| d.bag.last), Some("q".into()));
    Ok(())
}

/// Eight processes (eight owners, none another's successor) race for one day, one poll and one new poll: exactly
/// one wins each, and every other is told the claim is held.
fn racing_claims_have_one_winner(open: Open<'_>) -> Result<(), StoreError> {
    let stores: Vec<Store> = (0..8).map(|_| open()).collect();
    stores[0].set_daily(&settings(1), 100)?;
    let Ok(poll) = stores[0].insert_poll(&new_poll(3, 0))? else {
        panic!()
    };
    stores[0].mark_poll_running(poll.id, 1, 10, &[])?;
    let barrier = Arc::new(Barrier::new(stores.len()));
    let results: Vec<(Claim, bool, bool)> = std::thread::scope(|scope| {
        let handles: Vec<_> = stores
            .iter()
            .enumerate()
            .map(|(i, store)| {
                let barrier = Arc::clone(&barrier);
                scope.spawn(move || {
                    barrier.wait();
                    let claim = store
                        .claim_daily(1, date("2027-05-02"), 1_000, |_| {
                            Some(format!("scene-{i}").into())
                        })
                        .unwrap_or_else(|e| panic!("{e}"));
                    let poll_claim = store
                        .claim_poll(poll.id, 1_000)
                        .unwrap_or_else(|e| panic!("{e}"));
                    let inserted = store
                        .insert_poll(&new_poll(4, 0))
                        .map(|inserted| inserted.is_ok())
                        .unwrap_or_else(|e| panic!("{e}"));
                    (claim, poll_claim, inserted)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| panic!("claimer panicked")))
            .collect()
    });
    let new = results
        .iter()
        .filter(|r| matches!(r.0, Claim::New(_)))
        .count();
    let held = results.iter().filter(|r| r.0 == Claim::Held).count();
    assert_eq!(
        (new, held),
        (1, 7),
        "one new claim, seven held: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.1).count(),
        1,
        "one owner of the poll: {results:?}"
    );
    assert_eq!(
        results.iter().filter(|r| r.2).count(),
        1,
        "one open poll: {results:?}"
    );
    Ok(())
}

/// A pace that is not a whole number of milliseconds keeps its rate: 450 slots at 450 a second (2.22 ms apart)
/// span a second, not the 0.9 s that whole milliseconds (2 ms) made of them, a pace 11 % over Discord's limit.
fn a_fractional_interval_keeps_its_rate(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    let interval = Duration::from_secs(1) / 450;
    let started = Instant::now();
    let mut last = Duration::ZERO;
    for _ in 0..=450 {
        last = store.reserve_slots(1, interval)?;
    }
    // The 451st slot opens 450 intervals after the first, measured from when the first was asked.
    let opens = started.elapsed() + last;
    assert!(
        opens >= Duration::from_millis(995),
        "the 451st slot opens {opens:?} after the first"
    );
    Ok(())
}

/// Three processes pace their sends through the one schedule: 100 slots each, 10 ms apart, each sender waiting
/// for its slot before reserving the next, as the bot does.
fn three_processes_share_one_send_schedule(open: Open<'_>) -> Result<(), StoreError> {
    const PER_PROCESS: usize = 100;
    let interval = Duration::from_millis(10);
    let stores: Vec<Store> = (0..3).map(|_| open()).collect();
    let origin = Instant::now();
    // Each slot as (asked, answered, wait): it opens between asked + wait and answered + wait.
    let slots: Vec<(Duration, Duration, Duration)> = std::thread::scope(|scope| {
        let senders: Vec<_> = stores
            .iter()
            .map(|store| {
                scope.spawn(move || {
                    (0..PER_PROCESS)
                        .map(|_| {
                            let asked = origin.elapsed();
                            let wait = store
                                .reserve_slots(1, interval)
                                .unwrap_or_else(|e| panic!("{e}"));
                            let answered = origin.elapsed();
                            std::thread::sleep(wait);
                            (asked, answered, wait)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        senders
            .into_iter()
            .flat_map(|s| s.join().unwrap_or_else(|_| panic!("sender panicked")))
            .collect()
    });
    let mut slots = slots;
    slots.sort_by_key(|(_, answered, wait)| *answered + *wait);
    let allowance = Duration::from_millis(1);
    let mut closest = Duration::MAX;
    for pair in slots.windows(2) {
        let ((asked_a, answered_a, wait_a), (asked_b, answered_b, wait_b)) = (pair[0], pair[1]);
        // The widest the gap can be given when each call really read the schedule's clock somewhere between asking
        // and answering. A slow answer (a loaded machine) makes a slot's window wide, and two windows that overlap
        // may hold their slots in either order: the gap is the wider of the two orders.
        let widest = (answered_b + wait_b)
            .saturating_sub(asked_a + wait_a)
            .max((answered_a + wait_a).saturating_sub(asked_b + wait_b));
        assert!(
            widest + allowance >= interval,
            "two slots at most {widest:?} apart: {pair:?}"
        );
        closest = closest.min((answered_b + wait_b).saturating_sub(answered_a + wait_a));
    }
    // As for each pair: the schedule's clock was read between asking and answering, so the widest the whole span
    // can be runs from the first slot as asked to the last as answered; the tightest as both were answered.
    let (first, last) = match (slots.first(), slots.last()) {
        (Some(first), Some(last)) => (*first, *last),
        _ => panic!("no slots"),
    };
    let widest_span = (last.1 + last.2).saturating_sub(first.0 + first.2);
    let span = (last.1 + last.2).saturating_sub(first.1 + first.2);
    let expected = interval * (3 * PER_PROCESS as u32 - 1);
    assert!(
        widest_span + allowance >= expected && span <= expected * 6 / 5,
        "{span:?} (at most {widest_span:?}) for {} slots",
        slots.len()
    );
    eprintln!(
        "{} slots: span {span:?} (ideal {expected:?}), closest two as sent {closest:?}",
        slots.len()
    );
    Ok(())
}

/// A live owner extends its claim while it works; once another process took the claim over (our lease ran out),
/// renewing says so and the work must stop.
fn a_lease_is_renewed_only_by_its_live_owner(open: Open<'_>) -> Result<(), StoreError> {
    let lease = Duration::from_secs(60);
    let (mine, theirs) = (open().with_lease(lease), open().with_lease(lease));
    let Ok(poll) = mine.insert_poll(&new_poll(1, 1_000))? else {
        panic!()
    };
    assert!(mine.renew_poll(poll.id, 1_050)?, "ours: renewed to 1_110");
    assert!(!theirs.renew_poll(poll.id, 1_050)?, "not theirs to renew");
    assert!(
        !theirs.claim_poll(poll.id, 1_100)?,
        "the renewed lease holds past the first one's end"
    );
    assert!(theirs.claim_poll(poll.id, 1_110)?, "run out: taken over");
    assert!(!mine.renew_poll(poll.id, 1_111)?, "lost");
    assert!(theirs.renew_poll(poll.id, 1_111)?);
    assert!(!mine.renew_poll(999, 1_111)?, "no such poll");

    let day = date("2027-05-02");
    mine.set_daily(&settings(1), 100)?;
    assert_eq!(
        mine.claim_daily(1, day, 1_000, |_| Some("x".into()))?,
        Claim::New("x".into())
    );
    assert!(mine.renew_daily(1, day, 1_050)?);
    assert!(!theirs.renew_daily(1, day, 1_050)?);
    assert_eq!(
        theirs.claim_daily(1, day, 1_100, |_| None)?,
        Claim::Held,
        "renewed to 1_110"
    );
    assert_eq!(
        theirs.claim_daily(1, day, 1_110, |_| None)?,
        Claim::Unsent("x".into())
    );
    assert!(!mine.renew_daily(1, day, 1_111)?, "lost");
    assert!(theirs.renew_daily(1, day, 1_111)?);
    theirs.mark_daily_sent(1, Some(day), 42, 1_112)?;
    assert!(
        !theirs.renew_daily(1, day, 1_113)?,
        "a sent day has no claim left to renew"
    );
    assert!(
        !mine.renew_daily(1, date("2027-05-03"), 1_113)?,
        "no such post"
    );
    Ok(())
}

/// A process whose claim was taken over records nothing: each write says [`StoreError::LeaseLost`] and the row
/// stays as the new owner left it.
fn writes_after_a_lost_lease_change_nothing(open: Open<'_>) -> Result<(), StoreError> {
    let lease = Duration::from_secs(60);
    let (mine, theirs) = (open().with_lease(lease), open().with_lease(lease));
    let Ok(poll) = mine.insert_poll(&new_poll(1, 1_000))? else {
        panic!()
    };
    assert!(theirs.claim_poll(poll.id, 1_060)?);
    let lost = |result: Result<(), StoreError>| matches!(result, Err(StoreError::LeaseLost));
    let before = theirs.poll(poll.id)?;
    assert!(lost(mine.mark_poll_running(
        poll.id,
        7,
        5_000,
        &[(11, "a".into())]
    )));
    assert_eq!(theirs.poll(poll.id)?, before, "still posting, no message");
    theirs.mark_poll_running(poll.id, 8, 6_000, &[(12, "a".into())])?;
    let tally = Tally {
        votes: vec![("a".into(), 3)],
    };
    let before = theirs.poll(poll.id)?;
    assert!(lost(mine.mark_poll_ended(poll.id, &tally)));
    assert!(lost(mine.cancel_poll(
        poll.id,
        CancelReason::Deleted,
        6_001
    )));
    assert_eq!(theirs.poll(poll.id)?, before, "still running, no tally");
    assert_eq!(
        before.as_ref().map(|p| (p.state, p.message_id)),
        Some((PollState::Running, Some(8)))
    );
    theirs.mark_poll_ended(poll.id, &tally)?;
    let before = theirs.poll(poll.id)?;
    assert!(lost(mine.mark_poll_announced(poll.id, 77, 6_002)));
    assert_eq!(theirs.poll(poll.id)?, before, "ended, not announced");
    theirs.mark_poll_announced(poll.id, 78, 6_003)?;
    assert_eq!(
        theirs
            .poll(poll.id)?
            .map(|p| (p.state, p.result_message_id)),
        Some((PollState::Announced, Some(78)))
    );

    let day = date("2027-05-02");
    mine.set_daily(&settings(1), 100)?;
    mine.claim_daily(1, day, 1_000, |_| Some("x".into()))?;
    assert_eq!(
        theirs.claim_daily(1, day, 1_060, |_| None)?,
        Claim::Unsent("x".into())
    );
    assert!(lost(mine.mark_daily_sent(1, Some(day), 42, 1_061)));
    let failed = mine.mark_daily_failed(1, day, PostFailure::Gone, 1);
    assert!(matches!(failed, Err(StoreError::LeaseLost)), "{failed:?}");
    let post = theirs.daily_post(1, day)?.unwrap_or_else(|| panic!("post"));
    assert_eq!(
        (post.state, post.message_id),
        (DailyPostState::Claimed, None)
    );
    let schedule = theirs.daily(1)?.unwrap_or_else(|| panic!("daily"));
    assert_eq!(
        (schedule.failures, schedule.paused, schedule.last_post_at),
        (0, false, None),
        "no failure counted, no post recorded"
    );
    theirs.mark_daily_sent(1, Some(day), 43, 1_062)?;
    assert_eq!(
        theirs.daily_post(1, day)?.map(|p| (p.state, p.message_id)),
        Some((DailyPostState::Sent, Some(43)))
    );
    Ok(())
}

/// One read gives the planner every active schedule and its posts from a date on.
fn planning_reads_every_active_schedule_with_its_recent_posts(
    open: Open<'_>,
) -> Result<(), StoreError> {
    let store = open();
    for guild in [3, 1, 2, 4] {
        store.set_daily(&settings(guild), 100)?;
    }
    assert!(store.daily_off(4)?);
    for day in ["2027-05-01", "2027-05-02", "2027-05-03"] {
        store.claim_daily(1, date(day), 200, |_| Some(format!("s{day}").into()))?;
    }
    store.mark_daily_sent(1, Some(date("2027-05-02")), 9, 300)?;
    store.mark_daily_skipped(3, date("2027-05-03"), 300)?;
    let mut planned = Vec::new();
    store.plan_each_daily(date("2027-05-02"), &mut |daily| planned.push(daily))?;
    let summary: Vec<(u64, Vec<(NaiveDate, DailyPostState)>)> = planned
        .iter()
        .map(|p| {
            let posts = p
                .posts
                .iter()
                .map(|(day, post)| (*day, post.state))
                .collect();
            (p.record.guild_id, posts)
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                1,
                vec![
                    (date("2027-05-02"), DailyPostState::Sent),
                    (date("2027-05-03"), DailyPostState::Claimed)
                ]
            ),
            (2, vec![]),
            (3, vec![(date("2027-05-03"), DailyPostState::Skipped)]),
        ],
        "by server, posts by date, none before the date, no schedule that is off"
    );
    let first = &planned[0];
    assert_eq!(
        first.record,
        store.daily(1)?.unwrap_or_else(|| panic!("daily"))
    );
    assert_eq!(
        first.posts[0].1,
        store
            .daily_post(1, date("2027-05-02"))?
            .unwrap_or_else(|| panic!("post"))
    );
    Ok(())
}

/// Generates, for each case, one test on SQLite and one on PostgreSQL.
/// Issue 28: a special day is claimed with its occasion and draws nothing; a posted message waits on the claim
/// for its thread (a crash then finds it, never posts again); how the thread went is kept on the post, and a skip
/// on the schedule for `/daily status`; a poll keeps whether its results get a thread, and the results message
/// before its thread.
fn a_special_day_and_its_thread_are_recorded(open: Open<'_>) -> Result<(), StoreError> {
    let (store, other) = (open(), open().with_lease(Duration::from_secs(60)));
    store.set_daily(
        &DailySettings {
            thread: true,
            ..settings(1)
        },
        100,
    )?;
    assert!(store.daily(1)?.is_some_and(|d| d.thread));
    let birthday = Pick::Special(Occasion::Birthday, None);
    let premiere = Pick::Special(Occasion::Premiere, Some("hwarang".into()));
    assert_eq!(
        store.claim_daily(1, date("2027-12-16"), 200, |_| Some(birthday.clone()))?,
        Claim::New(birthday.clone())
    );
    assert_eq!(
        store.daily(1)?.map(|d| d.bag),
        Some(Default::default()),
        "a special day leaves the bag as it was"
    );
    assert_eq!(
        store.claim_daily(1, date("2027-12-19"), 200, |_| Some(premiere.clone()))?,
        Claim::New(premiere.clone())
    );
    store.mark_daily_posted(1, date("2027-12-16"), 42)?;
    assert!(
        matches!(
            other.mark_daily_posted(1, date("2027-12-16"), 43),
            Err(StoreError::LeaseLost)
        ),
        "only the claim's owner records the message"
    );
    let post = store.daily_post(1, date("2027-12-16"))?;
    assert_eq!(
        post.as_ref().map(|p| (p.state, p.message_id, p.special)),
        Some((DailyPostState::Claimed, Some(42), Some(Occasion::Birthday)))
    );
    // Our process stops; after the lease, the claim comes back with what it was, its message recorded.
    assert_eq!(
        other.claim_daily(1, date("2027-12-16"), 10_000, |_| None)?,
        Claim::Unsent(birthday)
    );
    other.mark_daily_sent_with_thread(
        1,
        date("2027-12-16"),
        42,
        10_001,
        ThreadNote::NoPermission,
    )?;
    let post = other.daily_post(1, date("2027-12-16"))?;
    assert_eq!(
        post.map(|p| (p.state, p.thread)),
        Some((DailyPostState::Sent, Some(ThreadNote::NoPermission)))
    );
    assert_eq!(
        store.daily(1)?.and_then(|d| d.thread_problem),
        Some(ThreadNote::NoPermission)
    );
    store.mark_daily_sent_with_thread(1, date("2027-12-19"), 44, 10_002, ThreadNote::Opened)?;
    assert_eq!(
        store.daily(1)?.and_then(|d| d.thread_problem),
        None,
        "an opened thread clears it"
    );
    assert_eq!(
        store
            .daily_post(1, date("2027-12-19"))?
            .map(|p| (p.special, p.scene_id)),
        Some((Some(Occasion::Premiere), Some("hwarang".into())))
    );
    let Ok(poll) = store.insert_poll(&NewPoll {
        thread: true,
        ..new_poll(1, 1_000)
    })?
    else {
        panic!("no open poll yet");
    };
    assert!(poll.thread);
    store.mark_poll_running(poll.id, 77, 5_000, &[])?;
    store.mark_poll_ended(poll.id, &Tally { votes: Vec::new() })?;
    store.mark_results_posted(poll.id, 99)?;
    let ended = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
    assert_eq!(
        (ended.state, ended.result_message_id),
        (PollState::Ended, Some(99))
    );
    store.mark_poll_thread(poll.id, ThreadNote::Opened)?;
    store.mark_poll_announced(poll.id, 99, 6_000)?;
    let done = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
    assert_eq!(
        (done.state, done.thread_note),
        (PollState::Announced, Some(ThreadNote::Opened))
    );
    Ok(())
}

macro_rules! on_both_backends {
    ($($case:ident),* $(,)?) => {
        mod on_sqlite {
            use super::*;
            $(
                #[test]
                fn $case() -> Result<(), StoreError> {
                    let dir = TempDir::new();
                    let path: PathBuf = dir.path.join("contract.sqlite3");
                    let stores = AtomicUsize::new(0);
                    super::$case(&|| {
                        Store::open(&path)
                            .unwrap_or_else(|e| panic!("{e}"))
                            .with_instance(&format!("process{}", stores.fetch_add(1, Ordering::Relaxed)))
                    })
                }
            )*
        }
        mod on_postgres {
            use super::*;
            $(
                #[test]
                fn $case() -> Result<(), StoreError> {
                    let Some(database) = PgDatabase::fresh(stringify!($case)) else {
                        return Ok(());
                    };
                    let stores = AtomicUsize::new(0);
                    super::$case(&|| {
                        database
                            .open()
                            .with_instance(&format!("process{}", stores.fetch_add(1, Ordering::Relaxed)))
                    })
                }
            )*
        }
    };
}

on_both_backends!(
    migrations_bring_a_new_database_to_the_current_version,
    a_poll_goes_through_its_states_once,
    one_open_poll_per_server,
    a_poll_claim_is_held_until_released_or_expired,
    a_day_is_claimed_once_and_sent_once,
    a_dead_owners_daily_claim_is_taken_over_after_the_lease,
    a_restarted_instance_takes_its_claims_over_at_once,
    three_failed_days_pause_and_set_resumes,
    a_failed_day_counts_once_whoever_reports_it,
    records_come_back_typed,
    a_servers_language_choice_is_kept_and_becomes_its_daily_posts,
    racing_claims_have_one_winner,
    a_lease_is_renewed_only_by_its_live_owner,
    writes_after_a_lost_lease_change_nothing,
    planning_reads_every_active_schedule_with_its_recent_posts,
    a_special_day_and_its_thread_are_recorded,
);

/// The send schedule is shared through the database on PostgreSQL only: an SQLite database is one process's, whose
/// pacer keeps the schedule itself (`lifecycle::pacer`'s unit tests) and asks the store nothing.
mod send_schedule_on_postgres {
    use super::*;

    /// Runs `case` on a fresh PostgreSQL database, each store it opens a process of its own.
    fn on_postgres(
        name: &str,
        case: fn(Open<'_>) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Some(database) = PgDatabase::fresh(name) else {
            return Ok(());
        };
        let stores = AtomicUsize::new(0);
        case(&|| {
            database.open().with_instance(&format!(
                "process{}",
                stores.fetch_add(1, Ordering::Relaxed)
            ))
        })
    }

    #[test]
    fn three_processes_share_one_send_schedule() -> Result<(), StoreError> {
        on_postgres(
            "three_processes_share_one_send_schedule",
            super::three_processes_share_one_send_schedule,
        )
    }

    #[test]
    fn a_fractional_interval_keeps_its_rate() -> Result<(), StoreError> {
        on_postgres(
            "a_fractional_interval_keeps_its_rate",
            super::a_fractional_interval_keeps_its_rate,
        )
    }
}

#[test]
fn sqlite_keeps_no_shared_send_schedule() {
    let dir = TempDir::new();
    let store = Store::open(&dir.path.join("one.sqlite3")).unwrap_or_else(|e| panic!("{e}"));
    assert!(!store.shares_send_schedule());
    assert!(store.reserve_slots(1, Duration::from_millis(10)).is_err());
}

#[test]
fn a_newer_postgres_schema_is_refused_and_untouched() {
    let Some(database) = PgDatabase::fresh("a_newer_postgres_schema_is_refused_and_untouched")
    else {
        return;
    };
    drop(database.open());
    database.psql(&format!(
        "UPDATE scenebot_schema SET version = {}",
        SCHEMA_VERSION + 1
    ));
    let tables_before = database
        .psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'");
    let error = Store::open(Path::new(&database.url)).err();
    assert!(
        matches!(error, Some(StoreError::NewerSchema { .. })),
        "{error:?}"
    );
    assert!(error.is_some_and(|e| e.to_string().contains("newer than this build")));
    assert_eq!(
        database.psql("SELECT version FROM scenebot_schema"),
        (SCHEMA_VERSION + 1).to_string()
    );
    assert_eq!(
        database
            .psql("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"),
        tables_before
    );
}

#[test]
fn an_unreachable_postgres_is_a_clear_error_without_the_password() {
    // Port 1 on 127.0.0.1: nothing listens there; the pool gives up at once (connection refused).
    let url = "postgres://bot:hunter2@127.0.0.1:1/scenebot";
    let error = Store::open(Path::new(url))
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(error.starts_with("PostgreSQL error:"), "{error}");
    assert!(!error.contains("hunter2"), "{error}");
}

#[path = "store_contract_quiz.rs"]
mod quiz;
