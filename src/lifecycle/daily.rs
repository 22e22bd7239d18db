//! The daily scene's process: each pass plans what is due for every schedule in one query ([`plan`], pure), then
//! workers post the due days concurrently ([`post_day`]), a bounded number at once and in a fair order (a
//! server's turn within the minute changes every day). Each post is claimed right before its own Discord calls
//! (the scene drawn from the server's shuffle bag in the same transaction), its lease renewed while it is sent, and
//! recorded as sent only by the claim's owner. A claim found unsent (a crash, a lost answer) is first looked for in
//! the channel by the marker its button carries, and adopted; only a post that is not there is sent again.
//!
//! On an anniversary or the birthday, in the server's own local date, the day's post is that special card
//! ([`anniversary::day_post`]: nothing is drawn from the bag, so the round stays fair), recorded on the claim. With
//! threads on, the posted message is recorded on the claim before its thread is opened, and the day is marked sent
//! only after: a crash in between opens the thread on the recorded message (Discord allows one per message, and a
//! repeat is read as done), never posts again.

use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use super::fanout::{end_workers, spawn_workers, WorkQueue};
use super::lease::LeaseKeeper;
use super::port::{DailySend, Port, ThreadSend};
use crate::anniversary::{self, DayPost};
use crate::clock::Clock;
use crate::daily::{self, Due, ShuffleBag, FAILURES_BEFORE_PAUSE};
use crate::reason::{Failure, PostFailure, ThreadNote};
use crate::respond::Responder;
use crate::store::{Claim, DailyPostState, Pick, PlannedDaily, Store, StoreError};

/// The scheduler looks at the schedules at least this often, so clock steps and suspends cannot strand a post.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);
/// How soon a post that failed transiently is tried again.
const RETRY_SOON: Duration = Duration::from_secs(15);
/// The shortest wait between planning passes, so a post due this very millisecond cannot spin the planner.
const MIN_WAKE: Duration = Duration::from_millis(1);
/// How far our clock and Discord's may disagree: a day's post is looked for from this long before its time.
const CLOCK_SKEW_SECONDS: i64 = 10;

/// What the daily process works with.
pub struct Dailies<P> {
    /// The store.
    pub store: Store,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Discord.
    pub port: P,
    /// The catalog (its scene ids fill the shuffle bags).
    pub responder: Arc<Responder>,
    /// How long a claim holds (`SCENEBOT_LEASE_SECONDS`).
    pub lease: Duration,
}

/// One piece of work a planning pass found, by server id: the worker reads the schedule when its turn comes, so
/// a busy minute queues 10,000 small keys rather than 10,000 records, and a schedule changed meanwhile (another
/// channel, `/daily off`) is honoured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Post (or finish posting) the day's scene.
    Post(u64, NaiveDate),
    /// A claimed day that could not be posted within [`daily::LATE_LIMIT`]: record it failed.
    GiveUp(u64, NaiveDate),
    /// A day the bot was down for, past the limit: record it skipped so it is not owed.
    Skip(u64, NaiveDate),
}

impl Work {
    fn key(&self) -> (u64, NaiveDate) {
        match self {
            Work::Post(guild, date) | Work::GiveUp(guild, date) | Work::Skip(guild, date) => {
                (*guild, *date)
            }
        }
    }
}

/// A planning pass: what is due now for each schedule it is shown, and how long until the next post anywhere (at
/// most a minute). Fed one schedule at a time as the store reads them ([`Store::plan_each_daily`]), so a pass over
/// 100,000 servers keeps only the due keys. Posts come in a fair order: by [`turn`], which changes every day, so
/// no server is always last in a busy minute.
///
/// [`Store::plan_each_daily`]: crate::store::Store::plan_each_daily
pub struct Planner {
    now: DateTime<Utc>,
    work: Vec<Work>,
    next_wake: Duration,
}

impl Planner {
    /// A pass at `now`.
    pub fn new(now: DateTime<Utc>) -> Planner {
        Planner {
            now,
            work: Vec::new(),
            next_wake: SCHEDULER_TICK,
        }
    }

    /// Takes one schedule and its recent posts into the pass.
    pub fn add(&mut self, PlannedDaily { record, posts }: &PlannedDaily) {
        let now = self.now;
        let (time, zone) = (record.time, record.timezone);
        let active_since = DateTime::<Utc>::from_timestamp(record.active_since, 0).unwrap_or(now);
        let post_of =
            |date: NaiveDate| posts.iter().find(|(d, _)| *d == date).map(|(_, post)| post);
        let decision = daily::due(now, time, zone, active_since, |date| {
            post_of(date).is_some_and(|post| post.state != DailyPostState::Claimed)
        });
        let started = |date| post_of(date).is_some();
        match decision {
            Due::Post(date) => self.work.push(Work::Post(record.guild_id, date)),
            Due::Skip(date) if started(date) => self.work.push(Work::GiveUp(record.guild_id, date)),
            Due::Skip(date) => self.work.push(Work::Skip(record.guild_id, date)),
            Due::Wait => {}
        }
        // To the millisecond: a wake rounded to whole seconds sent a minute's first posts up to a second late.
        let (_, next) = daily::next_post(now, time, zone);
        let until = (next - now).to_std().unwrap_or(Duration::ZERO);
        self.next_wake = self.next_wake.min(until.max(MIN_WAKE));
    }

    /// The work due, in its fair order, and how long until the next post.
    pub fn finish(mut self) -> (Vec<Work>, Duration) {
        self.work.sort_by_key(|w| turn(w.key()));
        (self.work, self.next_wake)
    }
}

/// A server's place in the queue for a date: a hash of both, so the order of a busy minute is shuffled anew every
/// day, the same in every process.
fn turn(key: (u64, NaiveDate)) -> u64 {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut hasher);
    hasher.finish()
}

/// The marker of the daily post for `date`, carried by its button so the bot can find it again.
pub fn date_marker(date: NaiveDate) -> String {
    format!("daily-{}", date.format("%Y-%m-%d"))
}

/// How one day's work ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Posted now, or found already posted; the message.
    Posted(u64),
    /// Nothing to do: another process holds it, it is done, or there is no scene.
    Nothing,
    /// Discord failed for a while: try again soon.
    Retry,
    /// Given up for the day (and why).
    Failed(PostFailure),
    /// Our claim was taken over: the new owner finishes it.
    Lost,
    /// The store could not be used: try again soon.
    StoreDown,
}

/// Does one piece of planned work.
pub async fn do_work<P: Port>(dailies: &Dailies<P>, work: Work) -> Outcome {
    match work {
        Work::Post(guild, date) => post_day(dailies, guild, date, false).await,
        Work::GiveUp(guild, date) => post_day(dailies, guild, date, true).await,
        Work::Skip(guild, date) => {
            let now = dailies.clock.now();
            match dailies
                .store
                .call(move |store| store.mark_daily_skipped(guild, date, now))
                .await
            {
                Ok(()) => {
                    warn!(guild, date = %date, "daily post skipped: the bot was down for more than {} hours past the post time", daily::LATE_LIMIT.num_hours());
                    Outcome::Nothing
                }
                Err(error) => store_down(guild, date, "the skipped day", &error),
            }
        }
    }
}

fn store_down(guild: u64, date: NaiveDate, what: &str, error: &StoreError) -> Outcome {
    error!(guild, date = %date, "the store failed on {what}: {error}");
    Outcome::StoreDown
}

/// Claims a server's post for `date` and sends it (or, with `give_up`, records the claimed day failed), under a
/// lease renewed while the post is in flight. The schedule is read first, as it is now: one turned off or paused
/// since planning posts nothing.
pub async fn post_day<P: Port>(
    dailies: &Dailies<P>,
    guild: u64,
    date: NaiveDate,
    give_up: bool,
) -> Outcome {
    let record = match dailies.store.call(move |store| store.daily(guild)).await {
        Ok(Some(record)) if give_up || (record.enabled && !record.paused) => record,
        Ok(_) => return Outcome::Nothing,
        Err(error) => return store_down(guild, date, "reading the schedule", &error),
    };
    let record = &record;
    let now = dailies.clock.now();
    let catalog = &dailies.responder.catalog;
    let calendar = anniversary::calendar(catalog);
    let claim = {
        let (ids, calendar) = (catalog.scene_ids(), calendar.clone());
        dailies
            .store
            .call(move |store| {
                store.claim_daily(guild, date, now, |bag: &mut ShuffleBag| {
                    anniversary::day_post(&calendar, date, bag, &ids, &mut rand::rng()).map(pick_of)
                })
            })
            .await
    };
    let (pick, claimed_before) = match claim {
        Ok(Claim::New(pick)) => (pick, false),
        Ok(Claim::Unsent(pick)) => (pick, true),
        Ok(Claim::Held | Claim::Done | Claim::Nothing) => return Outcome::Nothing,
        Err(error) => return store_down(guild, date, "the claim", &error),
    };
    let Some(post) = day_post_of(&calendar, &pick, date) else {
        let text = "the day's anniversary is no longer in the dataset";
        return record_failure(dailies, guild, date, PostFailure::Refused, text).await;
    };
    let scene = match &post {
        DayPost::Scene(id) => id.clone(),
        DayPost::Special(occurrence) => format!("{} card", occurrence.anniversary.occasion.code()),
    };
    let keeper = {
        let (store, clock) = (dailies.store.clone(), Arc::clone(&dailies.clock));
        LeaseKeeper::start(dailies.lease, move || {
            let (store, now) = (store.clone(), clock.now());
            async move {
                store
                    .call(move |store| store.renew_daily(guild, date, now))
                    .await
            }
        })
    };
    let marker = date_marker(date);
    // A post whose message was recorded before its thread (threads on): only the thread is owed.
    let recorded = if claimed_before {
        match dailies
            .store
            .call(move |store| store.daily_post(guild, date))
            .await
        {
            Ok(post) => post.and_then(|post| post.message_id),
            Err(error) => return store_down(guild, date, "reading the claimed post", &error),
        }
    } else {
        None
    };
    let found = if let Some(message) = recorded {
        Ok(Some(message))
    } else if claimed_before {
        let since =
            daily::slot(date, record.time, record.timezone).timestamp() - CLOCK_SKEW_SECONDS;
        dailies.port.find_daily(record, &marker, since).await
    } else {
        Ok(None)
    };
    if give_up && !matches!(found, Ok(Some(_))) {
        // Too late to send. Unless the post went out after all (adopted below), the day failed: for the access
        // the bot lacks when the channel could not even be read, else for Discord not taking it in time.
        let (cause, text) = match &found {
            Err(Failure::Unreadable(cause)) => (PostFailure::NoAccess, cause.as_str()),
            _ => (PostFailure::Busy, "not posted within the late limit"),
        };
        return record_failure(dailies, guild, date, cause, text).await;
    }
    let sent = match found {
        Ok(Some(message)) if recorded.is_some() => Ok(message),
        Ok(Some(message)) => {
            info!(guild, date = %date, message, "found the daily post already in the channel; adopting it");
            let due = daily::slot(date, record.time, record.timezone).timestamp();
            crate::telemetry::adopted_lag(PROCESS, message, due);
            Ok(message)
        }
        Ok(None) if !keeper.holds() => {
            warn!(guild, date = %date, "our claim on the daily post ran out and was taken over; not sending");
            return Outcome::Lost;
        }
        Ok(None) => {
            let nonce = daily::post_nonce(guild, date);
            let send = DailySend {
                record,
                post: &post,
                marker: &marker,
                nonce: &nonce,
            };
            let sent = dailies.port.post_daily(send).await;
            if sent.is_ok() {
                let due = daily::slot(date, record.time, record.timezone).timestamp();
                crate::telemetry::lag(PROCESS, dailies.clock.now() - due);
            }
            sent
        }
        Err(failure) => Err(failure),
    };
    let outcome = match sent {
        Ok(message) => {
            let thread = if record.thread {
                let recorded = recorded.is_some();
                match open_thread(dailies, record, (date, give_up), &post, message, recorded).await
                {
                    Ok(note) => Some(note),
                    Err(outcome) => return outcome,
                }
            } else {
                None
            };
            let now = dailies.clock.now();
            match dailies
                .store
                .call(move |store| match thread {
                    Some(note) => {
                        store.mark_daily_sent_with_thread(guild, date, message, now, note)
                    }
                    None => store.mark_daily_sent(guild, Some(date), message, now),
                })
                .await
            {
                Ok(()) => {
                    info!(guild, date = %date, scene, message, "daily scene posted");
                    Outcome::Posted(message)
                }
                Err(StoreError::LeaseLost) => {
                    warn!(guild, date = %date, message, "daily post sent, but the claim was taken over meanwhile");
                    Outcome::Lost
                }
                Err(error) => {
                    error!(guild, date = %date, "daily scene posted but not recorded (found again on the next try): {error}");
                    Outcome::StoreDown
                }
            }
        }
        Err(failure) if failure.is_worth_retrying() => {
            warn!(guild, date = %date, "daily scene not posted yet ({}); will retry", failure.text());
            Outcome::Retry
        }
        Err(failure) => {
            record_failure(dailies, guild, date, failure.for_users(), failure.text()).await
        }
    };
    drop(keeper);
    outcome
}

/// What a claim records for the day's post.
fn pick_of(post: DayPost) -> Pick {
    match post {
        DayPost::Scene(scene) => Pick::Scene(scene),
        DayPost::Special(occurrence) => Pick::Special(
            occurrence.anniversary.occasion,
            occurrence.anniversary.scene,
        ),
    }
}

/// The day's post a claim recorded, rebuilt from the calendar (`None` when the dataset no longer has the
/// anniversary: a file changed between the claim and a retry).
fn day_post_of(
    calendar: &[anniversary::Anniversary],
    pick: &Pick,
    date: NaiveDate,
) -> Option<DayPost> {
    match pick {
        Pick::Scene(scene) => Some(DayPost::Scene(scene.clone())),
        Pick::Special(occasion, scene) => {
            anniversary::occurrence_of(calendar, *occasion, scene.as_deref(), date)
                .map(DayPost::Special)
        }
    }
}

/// The thread step of a day's post (threads on): records the message on the claim first (unless it is already
/// there), then opens the thread. A skipped thread (no permission; refused) is logged once, for the day, and the
/// day still counts as posted; a transient failure leaves the claim with its message for a retry (`Err`: the
/// outcome to return). Given up with the post (past the late limit), a transient failure is a failed thread.
async fn open_thread<P: Port>(
    dailies: &Dailies<P>,
    record: &crate::store::DailyRecord,
    (date, give_up): (NaiveDate, bool),
    post: &DayPost,
    message: u64,
    recorded: bool,
) -> Result<ThreadNote, Outcome> {
    let guild = record.guild_id;
    if !recorded {
        match dailies
            .store
            .call(move |store| store.mark_daily_posted(guild, date, message))
            .await
        {
            Ok(()) => {}
            Err(StoreError::LeaseLost) => return Err(Outcome::Lost),
            Err(error) => {
                return Err(store_down(guild, date, "the posted message", &error));
            }
        }
    }
    let name = crate::render::thread_name(&dailies.responder.catalog, post, record.locale);
    let send = ThreadSend {
        guild,
        channel: record.channel_id,
        message,
        name: &name,
    };
    match dailies.port.open_thread(send).await {
        Ok(ThreadNote::Opened) => Ok(ThreadNote::Opened),
        Ok(note) => {
            warn!(guild, date = %date, message, note = note.code(), "the daily post's thread was skipped: the bot lacks Create Public Threads in the channel");
            Ok(note)
        }
        Err(failure) if failure.is_worth_retrying() && !give_up => {
            warn!(guild, date = %date, message, "the daily post's thread is not open yet ({}); will retry", failure.text());
            Err(Outcome::Retry)
        }
        Err(failure) => {
            warn!(guild, date = %date, message, "the daily post's thread was refused: {}", failure.text());
            Ok(ThreadNote::Failed)
        }
    }
}

/// Records a claimed day failed for good (pausing the schedule after [`FAILURES_BEFORE_PAUSE`] days in a row).
async fn record_failure<P>(
    dailies: &Dailies<P>,
    guild: u64,
    date: NaiveDate,
    cause: PostFailure,
    text: &str,
) -> Outcome {
    let recorded = dailies
        .store
        .call(move |store| store.mark_daily_failed(guild, date, cause, FAILURES_BEFORE_PAUSE))
        .await;
    match recorded {
        Ok(paused) => {
            warn!(guild, date = %date, paused, cause = cause.code(), "daily scene failed: {text}");
            Outcome::Failed(cause)
        }
        Err(StoreError::LeaseLost) => Outcome::Lost,
        Err(error) => store_down(guild, date, "the failed day", &error),
    }
}

/// The daily process's name in logs and metrics.
const PROCESS: &str = "daily post";

/// Posts every daily scene that is due, now and whenever one comes due, with `workers` posts in flight at most;
/// started once per process.
pub async fn run<P: Port>(
    dailies: Arc<Dailies<P>>,
    wake: Arc<Notify>,
    mut stopping: watch::Receiver<bool>,
    workers: usize,
) {
    let queue: Arc<WorkQueue<(u64, NaiveDate), Work>> = Arc::new(WorkQueue::new(PROCESS));
    let retry_soon = Arc::new(AtomicBool::new(false));
    let handles = spawn_workers(Arc::clone(&queue), workers, stopping.clone(), {
        let (dailies, retry_soon) = (Arc::clone(&dailies), Arc::clone(&retry_soon));
        move |work: Work| {
            let (dailies, retry_soon) = (Arc::clone(&dailies), Arc::clone(&retry_soon));
            async move {
                if matches!(
                    do_work(&dailies, work).await,
                    Outcome::Retry | Outcome::StoreDown
                ) {
                    retry_soon.store(true, Ordering::SeqCst);
                }
            }
        }
    });
    let mut clock_moves = dailies.clock.watch();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let now = dailies.clock.now_ms();
        let Some(now_utc) = DateTime::<Utc>::from_timestamp_millis(now) else {
            error!(now, "the clock is out of range; the daily scheduler stops");
            break;
        };
        // Local dates run at most a day ahead of or behind UTC: two days back covers every zone's latest post.
        let since = now_utc.date_naive() - chrono::Days::new(2);
        let next_wake = match dailies
            .store
            .call(move |store| {
                let mut planner = Planner::new(now_utc);
                store.plan_each_daily(since, &mut |daily| planner.add(&daily))?;
                Ok(planner.finish())
            })
            .await
        {
            Ok((work, next_wake)) => {
                let due = work.len();
                let queued = work
                    .into_iter()
                    .map(|w| queue.push(w.key(), w))
                    .filter(|&queued| queued)
                    .count();
                if queued > 0 {
                    let (waiting, in_flight) = queue.counts();
                    info!(due, queued, waiting, in_flight, "daily posts queued");
                }
                next_wake
            }
            Err(error) => {
                error!("daily scheduler cannot read the schedules: {error}");
                RETRY_SOON
            }
        };
        let wait = if retry_soon.swap(false, Ordering::SeqCst) {
            next_wake.min(RETRY_SOON)
        } else {
            next_wake
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            () = wake.notified() => {}
            () = crate::clock::moved(&mut clock_moves) => {}
            _ = stopping.wait_for(|stop| *stop) => break,
        }
    }
    end_workers(handles, &stopping).await;
}

#[cfg(test)]
mod tests;
