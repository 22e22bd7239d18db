//! A favorite poll's life after `/favorite start` recorded it: posted (or found in the channel) → running → its
//! counts read once Discord has closed and counted it → the results posted (or found) exactly once. [`finish`]
//! drives one poll as far as it can go under the poll's lock and this process's lease on it; [`run`] is the
//! scheduler that finishes every due poll, many at once, with a bounded number in flight.
//!
//! Every step is recorded (owner-checked) right after the Discord call it stands for, and every step is safe to
//! repeat: a send whose outcome is unknown is never simply repeated; the channel is searched first.
//!
//! Just over 600 lines, on purpose: the poll's states and the step for each are one state machine, read top to
//! bottom; its unit tests (over a fake port) live in `poll/tests.rs`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::{watch, Notify};
use tracing::{error, info, warn};

use super::fanout::{spawn_workers, WorkQueue};
use super::lease::LeaseKeeper;
use super::port::{Port, PostedPoll, ThreadSend};
use crate::clock::Clock;
use crate::favorite::{self, Tally, POSTING_GIVE_UP_SECONDS};
use crate::reason::{CancelReason, Failure, ThreadNote};
use crate::respond::Responder;
use crate::store::{NewPoll, PollRecord, PollState, Store, StoreError};

/// After its end, how long we wait for Discord to finalize the counts of a closed poll before announcing them as
/// they are.
const FINALIZE_PATIENCE_SECONDS: i64 = 1800;
/// After its end, how long a poll whose results Discord does not return (fields missing) is retried.
const RESULTS_GIVE_UP_SECONDS: i64 = 24 * 3600;
/// After its end, how long a poll whose results cannot be posted (Discord failing, or whether they are already in
/// the channel cannot be told) keeps its server from starting another: then it is given up, its counts kept.
pub const ANNOUNCE_GIVE_UP_SECONDS: i64 = 3600;
/// The scheduler looks at the polls at least this often, so clock steps and suspends cannot strand one.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);
/// The first look again at a poll that is not ready; doubled each time.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Looks stay this close together during the first minute after a poll's end, when Discord finalizes it.
const EARLY_RETRY_CAP: Duration = Duration::from_secs(2);
/// How far apart looks get otherwise (a poll that cannot be posted, results that cannot be sent).
const LATE_RETRY_CAP: Duration = Duration::from_secs(60);
/// How far our clock and Discord's may disagree: a message of ours is looked for from this long before the record
/// that stands for it was made.
pub const CLOCK_SKEW_SECONDS: i64 = 10;

/// One lock per poll: the scheduler, `/favorite start` and `/favorite end` never race on one poll in this
/// process, and one slow poll never holds up another.
#[derive(Clone, Default)]
pub struct PollLocks(Arc<Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>);

impl PollLocks {
    /// Waits for poll `id`'s lock. Locks nobody holds or waits for are dropped on the way, so the map stays small.
    pub async fn lock(&self, id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self.0.lock().unwrap_or_else(PoisonError::into_inner);
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(locks.entry(id).or_default())
        };
        lock.lock_owned().await
    }
}

/// What the poll process works with: the store, the time, Discord, the catalog (for polls whose answers are
/// matched by label), the per-poll locks and the lease length (for renewals).
pub struct Polls<P> {
    /// The store.
    pub store: Store,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Discord.
    pub port: P,
    /// The catalog.
    pub responder: Arc<Responder>,
    /// One lock per poll.
    pub locks: PollLocks,
    /// How long a claim holds (`SCENEBOT_LEASE_SECONDS`).
    pub lease: Duration,
}

/// Where [`finish`] left a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Results posted in this channel (now or before).
    Announced(u64),
    /// Given up; why.
    Cancelled(CancelReason),
    /// Not due yet, Discord has not finalized the counts, Discord failed, or another process holds the poll: try
    /// again later.
    NotYet,
}

/// What one step did: the poll moved on (look at it again now), or it stopped for now.
enum Step {
    Advanced,
    Stop(Finished),
}

/// Moves poll `id` as far as it can go, under its lock and our lease on it (renewed while we work): posts (or
/// finds) a poll interrupted while posting, reads the final counts of a poll that has ended, posts (or finds) the
/// results. A poll another live process holds is left to it.
pub async fn finish<P: Port>(polls: &Polls<P>, id: i64) -> Finished {
    let _poll = polls.locks.lock(id).await;
    let now = polls.clock.now();
    match polls
        .store
        .call(move |store| store.claim_poll(id, now))
        .await
    {
        Ok(true) => {}
        Ok(false) => {
            info!(poll = id, "another process is finishing this poll");
            return Finished::NotYet;
        }
        Err(error) => {
            error!(poll = id, "cannot claim the poll: {error}");
            return Finished::NotYet;
        }
    }
    let keeper = keep_claim(polls, id);
    let finished = finish_claimed(polls, &keeper, id).await;
    drop(keeper);
    if let Err(error) = polls.store.call(move |store| store.release_poll(id)).await {
        warn!(
            poll = id,
            "cannot release the poll (its lease will run out): {error}"
        );
    }
    finished
}

/// Renews our claim on poll `id` while the keeper lives.
fn keep_claim<P>(polls: &Polls<P>, id: i64) -> LeaseKeeper {
    let (store, clock) = (polls.store.clone(), Arc::clone(&polls.clock));
    LeaseKeeper::start(polls.lease, move || {
        let (store, now) = (store.clone(), clock.now());
        async move { store.call(move |store| store.renew_poll(id, now)).await }
    })
}

/// [`finish`] under our lease.
async fn finish_claimed<P: Port>(polls: &Polls<P>, keeper: &LeaseKeeper, id: i64) -> Finished {
    // Four states at most: posting → running → ended → announced.
    for _ in 0..4 {
        let record = match polls.store.call(move |store| store.poll(id)).await {
            Ok(Some(record)) => record,
            Ok(None) => return Finished::Cancelled(CancelReason::Refused),
            Err(error) => {
                error!(poll = id, "cannot read the poll: {error}");
                return Finished::NotYet;
            }
        };
        let step = match record.state {
            PollState::Announced => return Finished::Announced(record.channel_id),
            PollState::Cancelled => {
                return Finished::Cancelled(record.reason.unwrap_or(CancelReason::Refused))
            }
            PollState::Posting => resume_posting(polls, keeper, &record).await,
            PollState::Running => read_results(polls, keeper, &record).await,
            PollState::Ended => announce(polls, keeper, &record).await,
        };
        match step {
            Step::Advanced => {}
            Step::Stop(finished) => return finished,
        }
    }
    Finished::NotYet
}

/// The stop for a claim found lost before a Discord call: the process that took it over finishes the poll.
fn lost(id: i64) -> Step {
    warn!(
        poll = id,
        "our claim on the poll ran out and was taken over; leaving it to the new owner"
    );
    Step::Stop(Finished::NotYet)
}

/// Records a step's outcome in the store; a lost claim or a store failure stops here (the step is repeated later,
/// safely, by whoever holds the poll then).
async fn record_step(
    store: &Store,
    id: i64,
    what: &str,
    write: impl FnOnce(&Store) -> Result<(), StoreError> + Send + 'static,
) -> Result<(), Step> {
    match store.call(write).await {
        Ok(()) => Ok(()),
        Err(StoreError::LeaseLost) => Err(lost(id)),
        Err(error) => {
            error!(
                poll = id,
                "cannot record {what} (done again on the next try): {error}"
            );
            Err(Step::Stop(Finished::NotYet))
        }
    }
}

/// What starting a poll came to, for the moderator's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Started {
    /// Another poll is open in the server (one at a time): nothing was made.
    AlreadyOpen(PollRecord),
    /// The poll is in its channel and ends at this time (unix seconds).
    Posted {
        /// Discord's end of the poll.
        ends_at: i64,
    },
    /// Discord did not answer yet: the poll stays in `posting`, and the scheduler (looking in the channel first)
    /// posts it when Discord answers. The scheduler should be woken.
    Pending,
    /// It could not be posted, for this reason; nothing stays open.
    Cancelled(CancelReason),
}

/// `/favorite start` without Discord's interaction: records the poll (one open poll per server), posts it under
/// the claim the insert took and releases that claim, so from then on the scheduler (of any process) owns it. The
/// poll's lock is held throughout, so the scheduler never posts it a second time meanwhile.
pub async fn start<P: Port>(polls: &Polls<P>, new_poll: NewPoll) -> Result<Started, StoreError> {
    let inserted = polls
        .store
        .call(move |store| store.insert_poll(&new_poll))
        .await?;
    let record = match inserted {
        Ok(record) => record,
        Err(open) => return Ok(Started::AlreadyOpen(open)),
    };
    let id = record.id;
    let _poll = polls.locks.lock(id).await;
    // The scheduler may have taken the poll between the insert and the lock: post only what is still unposted.
    let current = polls.store.call(move |store| store.poll(id)).await?;
    match current {
        Some(taken) if taken.state == PollState::Cancelled => {
            return Ok(Started::Cancelled(
                taken.reason.unwrap_or(CancelReason::Refused),
            ));
        }
        Some(taken) if taken.state != PollState::Posting => {
            return Ok(Started::Posted {
                ends_at: taken.ends_at,
            });
        }
        _ => {}
    }
    let posted = post_new(polls, &record).await;
    // Posted or not, the claim from recording it ends here: the scheduler (of any process) takes it from now on.
    if let Err(error) = polls.store.call(move |store| store.release_poll(id)).await {
        warn!(
            poll = id,
            "cannot release the new poll (its lease will run out): {error}"
        );
    }
    Ok(match posted {
        Ok(ends_at) => Started::Posted { ends_at },
        Err(Failure::Transient(cause)) => {
            // Kept in `posting`: the scheduler looks for it in the channel and posts it when Discord answers.
            warn!(
                poll = id,
                "poll not posted yet ({cause}); the scheduler keeps trying"
            );
            Started::Pending
        }
        Err(failure) => {
            warn!(poll = id, "poll not posted: {}", failure.text());
            Started::Cancelled(failure.cancel_reason())
        }
    })
}

/// Posts the poll of a `posting` record that `/favorite start` just made (under the claim the insert took), and
/// records it as running; returns its end. A transient failure leaves it in `posting` (the scheduler goes on,
/// looking in the channel first); any other failure cancels it.
pub async fn post_new<P: Port>(polls: &Polls<P>, record: &PollRecord) -> Result<i64, Failure> {
    let keeper = keep_claim(polls, record.id);
    let posted = polls.port.post_poll(record).await;
    let result = match posted {
        Ok(posted) => match record_running(polls, record, &posted).await {
            Ok(ends_at) => Ok(ends_at),
            Err(_) => Err(Failure::Transient(
                "the poll was posted but could not be recorded yet".to_owned(),
            )),
        },
        Err(failure) => {
            if !failure.is_transient() {
                cancel(polls, record.id, failure.cancel_reason(), failure.text()).await;
            }
            Err(failure)
        }
    };
    drop(keeper);
    result
}

/// Records a posted (or found) poll as running: its message, its end, and each answer id's scene.
async fn record_running<P>(
    polls: &Polls<P>,
    record: &PollRecord,
    posted: &PostedPoll,
) -> Result<i64, Step> {
    let ends_at = posted
        .ends_at
        .unwrap_or(record.created_at + i64::from(record.hours) * 3600);
    let answer_ids: Vec<(u64, String)> = favorite::answer_ids(
        &polls.responder.catalog,
        &record.scene_ids,
        &posted.answers,
        record.locale,
    )
    .map(|ids| {
        ids.into_iter()
            .zip(record.scene_ids.iter().cloned())
            .collect()
    })
    .unwrap_or_default();
    let (id, message_id) = (record.id, posted.message_id);
    record_step(&polls.store, id, "the posted poll", move |store| {
        store.mark_poll_running(id, message_id, ends_at, &answer_ids)
    })
    .await?;
    info!(
        poll = id,
        guild = record.guild_id,
        message = message_id,
        "favorite poll posted"
    );
    Ok(ends_at)
}

/// Gives poll `id` up for `reason`, logging the precise `cause`.
async fn cancel<P>(polls: &Polls<P>, id: i64, reason: CancelReason, cause: &str) {
    warn!(poll = id, reason = reason.code(), "poll cancelled: {cause}");
    let now = polls.clock.now();
    if let Err(error) = polls
        .store
        .call(move |store| store.cancel_poll(id, reason, now))
        .await
    {
        error!(poll = id, "cannot record the cancellation: {error}");
    }
}

/// A poll interrupted while posting, or whose post failed for a while: adopt it if it is in the channel, else post
/// it (with its nonce), or give it up after [`POSTING_GIVE_UP_SECONDS`].
async fn resume_posting<P: Port>(
    polls: &Polls<P>,
    keeper: &LeaseKeeper,
    record: &PollRecord,
) -> Step {
    let (guild, id) = (record.guild_id, record.id);
    let since = record.created_at - CLOCK_SKEW_SECONDS;
    // The server's earlier polls may stand in the same channel with the same question and answers: never adopt a
    // message another record holds.
    let held = match polls
        .store
        .call(move |store| store.poll_messages_held(guild, id, since))
        .await
    {
        Ok(held) => held,
        Err(error) => {
            error!(
                poll = record.id,
                "cannot read the server's other polls: {error}"
            );
            return Step::Stop(Finished::NotYet);
        }
    };
    if !keeper.holds() {
        return lost(record.id);
    }
    match polls.port.find_poll(record, since, &held).await {
        Ok(Some(posted)) => {
            info!(
                poll = record.id,
                message = posted.message_id,
                "found the poll already in the channel; adopting it"
            );
            return match record_running(polls, record, &posted).await {
                Ok(_) => Step::Advanced,
                Err(stop) => stop,
            };
        }
        Ok(None) => {}
        Err(Failure::Unreadable(cause))
            if polls.clock.now() - record.created_at > POSTING_GIVE_UP_SECONDS =>
        {
            // Whether it is there cannot be told, and not within the hour: given up, for the access it lacks.
            cancel(polls, record.id, CancelReason::NoAccess, &cause).await;
            return Step::Stop(Finished::Cancelled(CancelReason::NoAccess));
        }
        Err(failure @ (Failure::Transient(_) | Failure::Unreadable(_))) => {
            warn!(
                poll = record.id,
                "cannot look for the poll in the channel yet ({})",
                failure.text()
            );
            return Step::Stop(Finished::NotYet);
        }
        Err(failure) => return give_up(polls, record.id, &failure, "looking for the poll").await,
    }
    if polls.clock.now() - record.created_at > POSTING_GIVE_UP_SECONDS {
        cancel(
            polls,
            record.id,
            CancelReason::NotPosted,
            "Discord did not take the poll within an hour",
        )
        .await;
        return Step::Stop(Finished::Cancelled(CancelReason::NotPosted));
    }
    if !keeper.holds() {
        return lost(record.id);
    }
    match polls.port.post_poll(record).await {
        Ok(posted) => match record_running(polls, record, &posted).await {
            Ok(_) => Step::Advanced,
            Err(stop) => stop,
        },
        Err(failure) => give_up(polls, record.id, &failure, "posting the poll").await,
    }
}

/// The answer id of each scene of the poll, in scene order: kept when it was posted, or (polls posted by older
/// versions) matched by label.
fn answer_ids_of<P>(
    polls: &Polls<P>,
    record: &PollRecord,
    answers: &[(u64, Option<String>)],
) -> Option<Vec<u64>> {
    if record.answer_ids.is_empty() {
        return favorite::answer_ids(
            &polls.responder.catalog,
            &record.scene_ids,
            answers,
            record.locale,
        );
    }
    record
        .scene_ids
        .iter()
        .map(|scene| {
            record
                .answer_ids
                .iter()
                .find(|(_, s)| s == scene)
                .map(|(id, _)| *id)
        })
        .collect()
}

/// A running poll past its end: read the final counts and record them. A poll still open on Discord past our end
/// (a failed expire) is closed again; counts are recorded only from a closed poll, and a poll read without its
/// results or answers is unknown, not gone: it is read again (for a day).
async fn read_results<P: Port>(
    polls: &Polls<P>,
    keeper: &LeaseKeeper,
    record: &PollRecord,
) -> Step {
    let now = polls.clock.now();
    if now < record.ends_at {
        return Step::Stop(Finished::NotYet);
    }
    let id = record.id;
    let message_id = match poll_message(polls, record).await {
        Ok(message_id) => message_id,
        Err(stop) => return stop,
    };
    if !keeper.holds() {
        return lost(id);
    }
    let read = match polls.port.read_poll(record.channel_id, message_id).await {
        Ok(Some(read)) => read,
        Ok(None) => {
            return unknown(
                polls,
                record,
                now,
                "the poll message came back without its poll",
            )
            .await
        }
        Err(failure) => return give_up(polls, id, &failure, "reading the poll").await,
    };
    let closes_at = read.ends_at.unwrap_or(record.ends_at);
    let finalized = read.results.as_ref().is_some_and(|r| r.finalized);
    if !finalized && closes_at > now {
        // Still open on Discord although it should have ended: the expire call failed. Ask again.
        info!(
            poll = id,
            "the poll is still open on Discord; closing it again"
        );
        if keeper.holds() {
            expire(polls, id, record.channel_id, message_id).await;
        }
        return Step::Stop(Finished::NotYet);
    }
    let Some(results) = read.results else {
        return unknown(polls, record, now, "the poll came back without its results").await;
    };
    if !results.finalized && now - closes_at < FINALIZE_PATIENCE_SECONDS {
        info!(poll = id, "Discord has not finalized the counts yet");
        return Step::Stop(Finished::NotYet);
    }
    let Some(answer_ids) = answer_ids_of(polls, record, &read.answers) else {
        return unknown(
            polls,
            record,
            now,
            "the poll's answers do not match its scenes",
        )
        .await;
    };
    let tally = Tally::from_answer_counts(&record.scene_ids, &answer_ids, &results.counts);
    match record_step(&polls.store, id, "the results", move |store| {
        store.mark_poll_ended(id, &tally)
    })
    .await
    {
        Ok(()) => Step::Advanced,
        Err(stop) => stop,
    }
}

/// Asks Discord to close poll `id` now. A failure is logged: the poll is seen still open past its end and closed
/// again.
pub async fn expire<P: Port>(polls: &Polls<P>, id: i64, channel: u64, message: u64) {
    if let Err(failure) = polls.port.expire_poll(channel, message).await {
        // 520001: the poll had already ended on Discord; reading it says so.
        warn!(poll = id, "expire call failed: {}", failure.text());
    }
}

/// The poll's message; a poll past `posting` without one cannot be finished, and is cancelled.
async fn poll_message<P>(polls: &Polls<P>, record: &PollRecord) -> Result<u64, Step> {
    match record.message_id {
        Some(message_id) => Ok(message_id),
        None => {
            let reason = CancelReason::NotPosted;
            cancel(
                polls,
                record.id,
                reason,
                "a poll past posting without its message",
            )
            .await;
            Err(Step::Stop(Finished::Cancelled(reason)))
        }
    }
}

/// A poll read without what we need: tried again, for a day after its end, then given up.
async fn unknown<P>(polls: &Polls<P>, record: &PollRecord, now: i64, what: &str) -> Step {
    if now - record.ends_at > RESULTS_GIVE_UP_SECONDS {
        cancel(polls, record.id, CancelReason::NoResults, what).await;
        return Step::Stop(Finished::Cancelled(CancelReason::NoResults));
    }
    warn!(poll = record.id, "{what}; reading it again soon");
    Step::Stop(Finished::NotYet)
}

/// An ended poll: post the results, unless they are already in the channel (sent before a crash), and record the
/// message. Only a poll whose results were about to be sent (an attempt recorded) can have them in the channel, so
/// only such a poll is searched, and only from that attempt on: a busy channel's messages during the poll are never
/// read. Results that cannot be posted within [`ANNOUNCE_GIVE_UP_SECONDS`] of the poll's end give the poll up (its
/// counts kept), so the server can start another.
async fn announce<P: Port>(polls: &Polls<P>, keeper: &LeaseKeeper, record: &PollRecord) -> Step {
    let id = record.id;
    let poll_message = match poll_message(polls, record).await {
        Ok(message_id) => message_id,
        Err(stop) => return stop,
    };
    if !keeper.holds() {
        return lost(id);
    }
    // With a thread asked for, results recorded before their thread (a crash, a lost answer): only the thread is
    // owed, on that message.
    let recorded = record.result_message_id.filter(|_| record.thread);
    let found = match (recorded, record.results_attempt_at) {
        (Some(message), _) => Ok(Some(message)),
        (None, None) => Ok(None),
        (None, Some(attempt)) => {
            let since = attempt - CLOCK_SKEW_SECONDS;
            polls.port.find_results(record, poll_message, since).await
        }
    };
    let sent = match found {
        Ok(Some(message)) if recorded.is_some() => Ok(message),
        Ok(Some(message)) => {
            info!(
                poll = id,
                message, "found the results already in the channel; adopting them"
            );
            crate::telemetry::adopted_lag(PROCESS, message, record.ends_at);
            Ok(message)
        }
        Ok(None) if !keeper.holds() => return lost(id),
        Ok(None) => {
            let now = polls.clock.now();
            let attempt = record_step(
                &polls.store,
                id,
                "the results' send attempt",
                move |store| store.mark_results_attempt(id, now),
            );
            if let Err(stop) = attempt.await {
                return stop;
            }
            let tally = record.tally.clone().unwrap_or(Tally { votes: Vec::new() });
            let sent = polls.port.post_results(record, &tally, poll_message).await;
            if sent.is_ok() {
                crate::telemetry::lag(PROCESS, polls.clock.now() - record.ends_at);
            }
            sent
        }
        Err(failure) => Err(failure),
    };
    match sent {
        Ok(message_id) => {
            if record.thread {
                if let Err(stop) =
                    results_thread(polls, record, message_id, recorded.is_some()).await
                {
                    return stop;
                }
            }
            let now = polls.clock.now();
            let recorded = record_step(&polls.store, id, "the announced results", move |store| {
                store.mark_poll_announced(id, message_id, now)
            })
            .await;
            if let Err(stop) = recorded {
                return stop;
            }
            info!(
                poll = id,
                guild = record.guild_id,
                message = message_id,
                "favorite poll results announced"
            );
            Step::Stop(Finished::Announced(record.channel_id))
        }
        Err(failure)
            if failure.is_worth_retrying()
                && polls.clock.now() - record.ends_at > ANNOUNCE_GIVE_UP_SECONDS =>
        {
            let reason = CancelReason::NotAnnounced;
            let cause = format!("posting the results for an hour: {}", failure.text());
            cancel(polls, id, reason, &cause).await;
            Step::Stop(Finished::Cancelled(reason))
        }
        Err(failure) => give_up(polls, id, &failure, "posting the results").await,
    }
}

/// The thread on a poll's results (`/favorite start thread:true`): the results message is recorded first (the poll
/// stays `ended`), so a crash or a lost answer opens the thread on it later rather than posting the results again;
/// Discord allows one thread per message and a repeat is read as done. Skipped without Create Public Threads (the
/// results stand); a transient failure is tried again until the hour the results have, then skipped.
async fn results_thread<P: Port>(
    polls: &Polls<P>,
    record: &PollRecord,
    message: u64,
    recorded: bool,
) -> Result<(), Step> {
    let id = record.id;
    if !recorded {
        record_step(&polls.store, id, "the results message", move |store| {
            store.mark_results_posted(id, message)
        })
        .await?;
    }
    let name = crate::render::poll::results_thread_name(
        &polls.responder.catalog,
        record.tally.as_ref(),
        record.locale,
    );
    let send = ThreadSend {
        guild: record.guild_id,
        channel: record.channel_id,
        message,
        name: &name,
    };
    let note = match polls.port.open_thread(send).await {
        Ok(note) => note,
        Err(failure)
            if failure.is_worth_retrying()
                && polls.clock.now() - record.ends_at <= ANNOUNCE_GIVE_UP_SECONDS =>
        {
            warn!(
                poll = id,
                message,
                "the results' thread is not open yet ({}); will retry",
                failure.text()
            );
            return Err(Step::Stop(Finished::NotYet));
        }
        Err(failure) => {
            warn!(
                poll = id,
                message,
                "the results' thread was refused: {}",
                failure.text()
            );
            ThreadNote::Failed
        }
    };
    if note != ThreadNote::Opened {
        warn!(
            poll = id,
            message,
            note = note.code(),
            "the results' thread was skipped"
        );
    }
    record_step(&polls.store, id, "the results' thread", move |store| {
        store.mark_poll_thread(id, note)
    })
    .await
}

/// Cancels the poll for a failure retrying cannot fix (deleted, no access); keeps it for a transient one, and
/// while the channel cannot be read to tell whether its message is there.
async fn give_up<P>(polls: &Polls<P>, id: i64, failure: &Failure, doing: &str) -> Step {
    if failure.is_worth_retrying() {
        warn!(
            poll = id,
            "{doing} failed ({}); will try again",
            failure.text()
        );
        return Step::Stop(Finished::NotYet);
    }
    let reason = failure.cancel_reason();
    cancel(polls, id, reason, &format!("{doing}: {}", failure.text())).await;
    Step::Stop(Finished::Cancelled(reason))
}

/// How long to wait before looking at a poll again after `tries` looks found it not ready: 1, 2, 4, 8 s…; at most
/// 2 s while a running poll is in the first minute after its end (Discord finalizes then), at most a minute
/// otherwise, so a poll that cannot be posted or announced during an outage is not retried every 2 s for an hour.
pub fn retry_delay(tries: u32, state: PollState, seconds_since_end: i64) -> Duration {
    let finalizing = state == PollState::Running && (0..60).contains(&seconds_since_end);
    let cap = if finalizing {
        EARLY_RETRY_CAP
    } else {
        LATE_RETRY_CAP
    };
    FIRST_RETRY.saturating_mul(1 << tries.min(16)).min(cap)
}

/// The poll process's name in logs and metrics.
const PROCESS: &str = "poll";

/// A due poll waiting for a worker: its state and end when it was listed.
struct Due {
    id: i64,
    state: PollState,
    ends_at: i64,
}

/// Poll id → (looks that found it not ready, when to look again).
type Retries = Arc<Mutex<HashMap<i64, (u32, tokio::time::Instant)>>>;

/// Finishes every poll that is due, now and whenever one comes due, with `workers` polls in flight at most; started
/// once per process. A poll that ended while the bot was down is finished on the first pass; one that is not ready
/// is looked at again with a back-off; one slow poll holds up only its own worker.
pub async fn run<P: Port>(
    polls: Arc<Polls<P>>,
    wake: Arc<Notify>,
    stopping: watch::Receiver<bool>,
    workers: usize,
) {
    let queue: Arc<WorkQueue<i64, Due>> = Arc::new(WorkQueue::new(PROCESS));
    let retries: Retries = Arc::default();
    let handles = spawn_workers(Arc::clone(&queue), workers, stopping.clone(), {
        let (polls, retries, wake) = (Arc::clone(&polls), Arc::clone(&retries), Arc::clone(&wake));
        move |due: Due| {
            let (polls, retries, wake) =
                (Arc::clone(&polls), Arc::clone(&retries), Arc::clone(&wake));
            async move {
                let finished = finish(&polls, due.id).await;
                let mut retries = retries.lock().unwrap_or_else(PoisonError::into_inner);
                if finished == Finished::NotYet {
                    let tries = retries.get(&due.id).map_or(0, |(tries, _)| *tries);
                    let delay = retry_delay(tries, due.state, polls.clock.now() - due.ends_at);
                    retries.insert(due.id, (tries + 1, tokio::time::Instant::now() + delay));
                    wake.notify_one();
                } else {
                    retries.remove(&due.id);
                }
            }
        }
    });
    schedule(&polls, &queue, &retries, &wake, stopping.clone()).await;
    super::fanout::end_workers(handles, &stopping).await;
}

/// The poll scheduler's loop: lists the open polls (one query), queues the due ones, sleeps until the next is due.
async fn schedule<P: Port>(
    polls: &Polls<P>,
    queue: &WorkQueue<i64, Due>,
    retries: &Retries,
    wake: &Notify,
    mut stopping: watch::Receiver<bool>,
) {
    let mut clock_moves = polls.clock.watch();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let open = match polls.store.call(|store| store.open_polls()).await {
            Ok(open) => open,
            Err(error) => {
                error!("cannot list open polls: {error}");
                Vec::new()
            }
        };
        let now = polls.clock.now();
        let mut next = tokio::time::Instant::now() + SCHEDULER_TICK;
        {
            let mut retries = retries.lock().unwrap_or_else(PoisonError::into_inner);
            retries.retain(|id, _| open.iter().any(|p| p.id == *id));
            for poll in &open {
                if poll.state == PollState::Running && poll.ends_at > now {
                    let wait = u64::try_from(poll.ends_at - now).unwrap_or(0).max(1);
                    next = next.min(tokio::time::Instant::now() + Duration::from_secs(wait));
                    continue;
                }
                if let Some((_, at)) = retries.get(&poll.id) {
                    if *at > tokio::time::Instant::now() {
                        next = next.min(*at);
                        continue;
                    }
                }
                queue.push(
                    poll.id,
                    Due {
                        id: poll.id,
                        state: poll.state,
                        ends_at: poll.ends_at,
                    },
                );
            }
        }
        tokio::select! {
            () = tokio::time::sleep_until(next) => {}
            () = wake.notified() => {}
            () = crate::clock::moved(&mut clock_moves) => {}
            _ = stopping.wait_for(|stop| *stop) => return,
        }
    }
}

#[cfg(test)]
mod tests;
