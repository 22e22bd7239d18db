//! `/favorite`: moderators run native favorite-scene polls; the bot announces the result exactly once.
//!
//! Every step of a poll's life is recorded before or after the Discord call it stands for, and every step can be
//! repeated safely. A send whose outcome is unknown (a crash, a timeout) is never simply repeated: the bot first
//! looks for its own message in the channel and adopts it, since Discord's nonce de-duplicates for a few minutes
//! only; the nonce still covers a repeat inside those minutes. [`finish`] drives a poll from whatever state it is in
//! to the next, under that poll's own lock, and the [`scheduler`] runs it for every poll that is due, re-reading
//! ended polls with a short back-off so results follow Discord's final count within seconds.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ChannelId, Context as SerenityContext, CreateMessage, Message, MessageId, Nonce, PartialChannel,
};
use tracing::{error, info, warn};

use super::discord::{self, Failure};
use super::gate;
use super::interaction::tell;
use super::{Context, Data, Error};
use crate::favorite::{self, PollPlan, Tally, DEFAULT_HOURS, MAX_HOURS, POSTING_GIVE_UP_SECONDS};
use crate::locale::Locale;
use crate::reason::CancelReason;
use crate::render;
use crate::store::{NewPoll, PollRecord, PollState};

/// After its end, how long we wait for Discord to finalize the counts of a closed poll before announcing them as
/// they are.
const FINALIZE_PATIENCE_SECONDS: i64 = 1800;
/// After its end, how long a poll whose results Discord does not return (fields missing) is retried.
const RESULTS_GIVE_UP_SECONDS: i64 = 24 * 3600;
/// The scheduler looks at the polls at least this often, so clock steps and suspends cannot strand one.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);
/// The first re-read of a poll that is not ready; doubled each time.
const FIRST_RETRY: Duration = Duration::from_secs(1);
/// Re-reads stay this close together during the first minute after a poll's end, when Discord finalizes it.
const EARLY_RETRY_CAP: Duration = Duration::from_secs(2);
/// How far apart re-reads get later.
const LATE_RETRY_CAP: Duration = Duration::from_secs(60);

/// One lock per poll: the scheduler, `/favorite start` and `/favorite end` never race on one poll, and one slow
/// server never holds up another's.
#[derive(Clone, Default)]
pub struct PollLocks(Arc<std::sync::Mutex<HashMap<i64, Arc<tokio::sync::Mutex<()>>>>>);

impl PollLocks {
    /// Waits for poll `id`'s lock. Locks nobody holds or waits for are dropped on the way, so the map stays small.
    pub async fn lock(&self, id: i64) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = {
            let mut locks = self
                .0
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            locks.retain(|_, lock| Arc::strong_count(lock) > 1);
            Arc::clone(locks.entry(id).or_default())
        };
        lock.lock_owned().await
    }
}

/// Favorite-scene polls: start one, end it, see the results and the hall of fame
#[poise::command(
    slash_command,
    guild_only,
    install_context = "Guild",
    interaction_context = "Guild",
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("start", "end", "results", "leaderboard"),
    subcommand_required,
    description_localized("ko", "최애 장면 투표: 시작, 종료, 결과, 명예의 전당")
)]
pub async fn favorite(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// The reply language of this interaction, and the server's (for public messages).
fn locales(ctx: Context<'_>) -> (Locale, Locale) {
    (
        super::interaction::locale_of(ctx),
        super::interaction::guild_locale_of(ctx),
    )
}

/// Start a favorite-scene poll in this channel or another
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::moderator",
    description_localized("ko", "최애 장면 투표를 시작해요")
)]
pub async fn start(
    ctx: Context<'_>,
    #[description = "How long the poll runs, in hours (1 to 768; default 24)"]
    #[description_localized("ko", "투표 기간 (시간, 1~768, 기본 24)")]
    #[min = 1]
    #[max = 768]
    hours: Option<u16>,
    #[description = "Where to post it (default: this channel)"]
    #[description_localized("ko", "투표를 올릴 채널 (기본: 이 채널)")]
    #[channel_types("Text", "News")]
    channel: Option<PartialChannel>,
) -> Result<(), Error> {
    let (locale, guild_locale) = locales(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    // Reading another channel's permissions takes up to three calls: answer Discord first.
    super::interaction::defer_ephemeral(ctx).await?;
    let hours = hours.unwrap_or(DEFAULT_HOURS).clamp(1, MAX_HOURS);
    let channel_id = channel.map_or(ctx.channel_id(), |c| c.id);
    if !poll_channel_allows(ctx, guild_id, channel_id, locale).await? {
        return Ok(());
    }
    let data = ctx.data();
    let plan = favorite::plan_poll(&data.responder.catalog, &mut rand::rng());
    let new_poll = NewPoll {
        guild_id: guild_id.get(),
        channel_id: channel_id.get(),
        started_by: ctx.author().id.get(),
        locale: guild_locale,
        scene_ids: plan.scene_ids.clone(),
        hours,
        now: data.clock.now(),
    };
    let inserted = data
        .store
        .call(move |store| store.insert_poll(&new_poll))
        .await?;
    let record = match inserted {
        Ok(record) => record,
        Err(open) => {
            let link = open
                .message_id
                .map(|m| discord::message_link(open.guild_id, open.channel_id, m))
                .unwrap_or_else(|| format!("<#{}>", open.channel_id));
            return tell(ctx, locale.poll_already_running(&link, open.ends_at)).await;
        }
    };
    let _poll = data.poll_locks.lock(record.id).await;
    // The scheduler may have taken the poll between the insert and the lock: post only what is still unposted.
    let id = record.id;
    let current = data.store.call(move |store| store.poll(id)).await?;
    match current {
        Some(taken) if taken.state == PollState::Cancelled => {
            let reason = CancelReason::parse(taken.problem.as_deref().unwrap_or_default());
            return tell(ctx, locale.poll_cancelled(reason)).await;
        }
        Some(taken) if taken.state != PollState::Posting => {
            let text = locale.poll_posted(channel_id.get(), taken.ends_at, plan.sampled);
            return tell(ctx, text).await;
        }
        _ => {}
    }
    let text = match post_poll(ctx.serenity_context(), data, &record, &plan).await {
        Ok(ends_at) => locale.poll_posted(channel_id.get(), ends_at, plan.sampled),
        Err(Failure::Transient(cause)) => {
            // Kept in `posting`: the scheduler looks for it in the channel and posts it when Discord answers.
            warn!(
                poll = record.id,
                "poll not posted yet ({cause}); the scheduler keeps trying"
            );
            data.wake_polls.notify_one();
            locale.poll_pending(channel_id.get())
        }
        Err(failure) => {
            warn!(poll = record.id, "poll not posted: {}", failure.text());
            locale.poll_cancelled(failure.cancel_reason())
        }
    };
    tell(ctx, text).await
}

/// The gate of a poll's channel for `start` and `end` alike: the member moderates there and the bot can post and
/// read polls there. Tells the member why not (and returns false) otherwise.
async fn poll_channel_allows(
    ctx: Context<'_>,
    guild: serenity::all::GuildId,
    channel: ChannelId,
    locale: Locale,
) -> Result<bool, Error> {
    match gate::channel_allows(ctx, guild, channel, gate::MODERATOR_IN_CHANNEL, gate::POLL).await {
        Ok(()) => Ok(true),
        Err(refusal) => {
            info!(guild = %guild, channel = %channel, ?refusal, "favorite poll refused in that channel");
            tell(ctx, refusal.text(locale, channel)).await?;
            Ok(false)
        }
    }
}

/// Posts the poll of a `posting` record and records it as running; returns its end. A transient failure leaves it
/// in `posting` (the scheduler tries again, looking in the channel first); any other failure cancels it.
async fn post_poll(
    ctx: &SerenityContext,
    data: &Data,
    record: &PollRecord,
    plan: &PollPlan,
) -> Result<i64, Failure> {
    let catalog = &data.responder.catalog;
    let locale = record.locale;
    let channel = ChannelId::new(record.channel_id);
    let id = record.id;
    let sent = discord::with_retries("posting a favorite poll", data.call_cap, || {
        let message = CreateMessage::new()
            .poll(favorite::build_poll(catalog, plan, locale, record.hours))
            .nonce(Nonce::String(format!("fav-poll-{id}")))
            .enforce_nonce(true)
            .allowed_mentions(render::no_mentions());
        channel.send_message(&ctx.http, message)
    })
    .await;
    match sent {
        Ok(message) => record_running(data, record, &message).await,
        Err(error) => {
            let failure = Failure::of(&error);
            if !matches!(failure, Failure::Transient(_)) {
                cancel(data, id, failure.cancel_reason(), failure.text()).await;
            }
            Err(failure)
        }
    }
}

/// Records the poll message (sent now, or found in the channel) and its end: state `running`.
async fn record_running(
    data: &Data,
    record: &PollRecord,
    message: &Message,
) -> Result<i64, Failure> {
    let ends_at = message
        .poll
        .as_ref()
        .and_then(|p| p.expiry)
        .map_or(record.created_at + i64::from(record.hours) * 3600, |t| {
            t.unix_timestamp()
        });
    let (id, message_id) = (record.id, message.id.get());
    data.store
        .call(move |store| store.mark_poll_running(id, message_id, ends_at))
        .await
        .map_err(|e| Failure::Transient(format!("cannot record the poll: {e}")))?;
    info!(
        poll = id,
        guild = record.guild_id,
        message = message_id,
        "favorite poll posted"
    );
    Ok(ends_at)
}

/// Gives poll `id` up for `reason`, logging the precise `cause`.
async fn cancel(data: &Data, id: i64, reason: CancelReason, cause: &str) {
    warn!(poll = id, reason = reason.code(), "poll cancelled: {cause}");
    let now = data.clock.now();
    if let Err(error) = data
        .store
        .call(move |store| store.cancel_poll(id, reason.code(), now))
        .await
    {
        error!(poll = id, "cannot record the cancellation: {error}");
    }
}

/// End the running favorite poll now and post its results
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::moderator",
    description_localized("ko", "진행 중인 최애 투표를 지금 끝내고 결과를 올려요")
)]
pub async fn end(ctx: Context<'_>) -> Result<(), Error> {
    let (locale, _) = locales(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    super::interaction::defer_ephemeral(ctx).await?;
    let data = ctx.data();
    let guild = guild_id.get();
    let open = data.store.call(move |store| store.open_poll(guild)).await?;
    let Some(poll) = open else {
        return tell(ctx, locale.no_poll_running().to_owned()).await;
    };
    // Ending a poll acts in its channel, which need not be this one: the same gate as for starting it there.
    let channel_id = ChannelId::new(poll.channel_id);
    if !poll_channel_allows(ctx, guild_id, channel_id, locale).await? {
        return Ok(());
    }
    let now = data.clock.now();
    let id = poll.id;
    // Kept before calling Discord: should the expire call fail, the scheduler repeats it.
    data.store
        .call(move |store| store.end_poll_early(id, now))
        .await?;
    if let (PollState::Running, Some(message)) = (poll.state, poll.message_id) {
        let _poll = data.poll_locks.lock(id).await;
        expire(ctx.serenity_context(), data, &poll, message).await;
    }
    let text = match finish(ctx.serenity_context(), data, id).await {
        Finished::Announced(channel) => locale.poll_announced(channel),
        Finished::Cancelled(reason) => locale.poll_cancelled(reason),
        Finished::NotYet => locale.poll_counting(poll.channel_id),
    };
    data.wake_polls.notify_one();
    tell(ctx, text).await
}

/// Asks Discord to close the poll now. A failure is logged: the scheduler sees the poll still open past its end
/// and asks again.
async fn expire(ctx: &SerenityContext, data: &Data, poll: &PollRecord, message: u64) {
    let channel = ChannelId::new(poll.channel_id);
    let expired = discord::with_retries("ending a poll", data.call_cap, || {
        ctx.http.expire_poll(channel, MessageId::new(message))
    })
    .await;
    if let Err(error) = expired {
        // 520001: the poll had already ended on Discord; reading it says so.
        warn!(
            poll = poll.id,
            "expire call failed: {}",
            Failure::of(&error).text()
        );
    }
}

/// Show the results of this server's last finished favorite poll
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "이 서버의 마지막 최애 투표 결과")
)]
pub async fn results(ctx: Context<'_>) -> Result<(), Error> {
    let (locale, _) = locales(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let last = super::interaction::within_deadline(
        ctx,
        false,
        data.store
            .call(move |store| store.last_finished_poll(guild)),
    )
    .await??;
    match last {
        None => tell(ctx, locale.no_finished_poll().to_owned()).await,
        Some(poll) if poll.state == PollState::Cancelled => {
            let reason = CancelReason::parse(poll.problem.as_deref().unwrap_or_default());
            tell(ctx, locale.poll_cancelled(reason)).await
        }
        Some(poll) => {
            let tally = poll.tally.clone().unwrap_or(Tally { votes: Vec::new() });
            let link = poll
                .message_id
                .map(|m| discord::message_link(poll.guild_id, poll.channel_id, m));
            let card =
                favorite::results_card(&data.responder.catalog, &tally, locale, link.as_deref());
            super::interaction::send_card(ctx, card).await
        }
    }
}

/// The hall of fame: wins and votes per scene over every finished poll here
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "명예의 전당: 이 서버 모든 투표의 우승과 득표")
)]
pub async fn leaderboard(ctx: Context<'_>) -> Result<(), Error> {
    let (locale, _) = locales(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let tallies = super::interaction::within_deadline(
        ctx,
        false,
        data.store.call(move |store| store.announced_tallies(guild)),
    )
    .await??;
    let standings = favorite::leaderboard(&tallies);
    let card =
        favorite::leaderboard_card(&data.responder.catalog, &standings, tallies.len(), locale);
    super::interaction::send_card(ctx, card).await
}

/// Where [`finish`] left a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Results posted in this channel (now or before).
    Announced(u64),
    /// Given up; why.
    Cancelled(CancelReason),
    /// Not due yet, Discord has not finalized the counts, or Discord failed: try again later.
    NotYet,
}

/// Moves poll `id` as far as it can go, under its lock: posts (or finds) a poll interrupted while posting, reads
/// the final counts of a poll that has ended, posts (or finds) the results. Every step is recorded and safe to
/// repeat.
pub async fn finish(ctx: &SerenityContext, data: &Data, id: i64) -> Finished {
    let _poll = data.poll_locks.lock(id).await;
    // Other processes may share the database: finish only under our lease, and let it go after.
    let now = data.clock.now();
    match data
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
    let finished = finish_claimed(ctx, data, id).await;
    if let Err(error) = data.store.call(move |store| store.release_poll(id)).await {
        warn!(
            poll = id,
            "cannot release the poll (its lease will run out): {error}"
        );
    }
    finished
}

/// [`finish`] under our lease.
async fn finish_claimed(ctx: &SerenityContext, data: &Data, id: i64) -> Finished {
    // Four states at most: posting → running → ended → announced.
    for _ in 0..4 {
        let record = match data.store.call(move |store| store.poll(id)).await {
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
                return Finished::Cancelled(CancelReason::parse(
                    record.problem.as_deref().unwrap_or_default(),
                ))
            }
            PollState::Posting => resume_posting(ctx, data, &record).await,
            PollState::Running => read_results(ctx, data, &record).await,
            PollState::Ended => announce(ctx, data, &record).await,
        };
        if let Some(done) = step {
            return done;
        }
    }
    Finished::NotYet
}

/// A poll's answers as Discord numbered them: (answer id, text).
fn answers_of(poll: &serenity::all::Poll) -> Vec<(u64, Option<String>)> {
    poll.answers
        .iter()
        .map(|a| (a.answer_id.get(), a.poll_media.text.clone()))
        .collect()
}

/// Whether `message` is the poll of `record`: the bot's poll with our question and our answers, sent after the
/// record was made (a minute's margin for clock skew; earlier polls in the channel are older).
fn is_poll_of(data: &Data, record: &PollRecord, message: &Message) -> bool {
    let Some(poll) = &message.poll else {
        return false;
    };
    let locale = record.locale;
    let sent_at = message.id.created_at().unix_timestamp();
    let question = poll.question.text.as_deref() == Some(locale.strings().poll_question);
    let answers = answers_of(poll);
    sent_at >= record.created_at - 60
        && question
        && favorite::answer_ids(&data.responder.catalog, &record.scene_ids, &answers).is_some()
}

/// A poll interrupted while posting, or whose post failed for a while: adopt it if it is in the channel, else post
/// it (with its nonce), or give it up after [`POSTING_GIVE_UP_SECONDS`].
async fn resume_posting(
    ctx: &SerenityContext,
    data: &Data,
    record: &PollRecord,
) -> Option<Finished> {
    let channel = ChannelId::new(record.channel_id);
    let found = discord::find_own_message(ctx, data.call_cap, channel, |message| {
        is_poll_of(data, record, message)
    })
    .await;
    match found {
        Ok(Some(message)) => {
            info!(poll = record.id, message = %message.id, "found the poll already in the channel; adopting it");
            return match record_running(data, record, &message).await {
                Ok(_) => None,
                Err(_) => Some(Finished::NotYet),
            };
        }
        Ok(None) => {}
        Err(Failure::Transient(cause)) => {
            warn!(
                poll = record.id,
                "cannot look for the poll in the channel yet ({cause})"
            );
            return Some(Finished::NotYet);
        }
        Err(failure) => {
            cancel(data, record.id, failure.cancel_reason(), failure.text()).await;
            return Some(Finished::Cancelled(failure.cancel_reason()));
        }
    }
    if data.clock.now() - record.created_at > POSTING_GIVE_UP_SECONDS {
        cancel(
            data,
            record.id,
            CancelReason::NotPosted,
            "Discord did not take the poll within an hour",
        )
        .await;
        return Some(Finished::Cancelled(CancelReason::NotPosted));
    }
    let plan = PollPlan {
        scene_ids: record.scene_ids.clone(),
        sampled: false,
    };
    match post_poll(ctx, data, record, &plan).await {
        Ok(_) => None,
        Err(Failure::Transient(_)) => Some(Finished::NotYet),
        Err(failure) => Some(Finished::Cancelled(failure.cancel_reason())),
    }
}

/// A running poll past its end: read the final counts and record them. A poll still open on Discord past our end
/// (a failed expire) is closed again; counts are recorded only from a closed poll, and a poll read without its
/// results or answers is unknown, not gone: it is read again.
async fn read_results(ctx: &SerenityContext, data: &Data, record: &PollRecord) -> Option<Finished> {
    let now = data.clock.now();
    if now < record.ends_at {
        return Some(Finished::NotYet);
    }
    let id = record.id;
    let message_id = match poll_message(data, record).await {
        Ok(message_id) => message_id,
        Err(cancelled) => return Some(cancelled),
    };
    let channel = ChannelId::new(record.channel_id);
    let message = discord::with_retries("reading poll results", data.call_cap, || {
        ctx.http.get_message(channel, MessageId::new(message_id))
    })
    .await;
    let message = match message {
        Ok(message) => message,
        Err(error) => {
            let failure = Failure::of(&error);
            return Some(give_up_unless_transient(data, id, &failure, "reading the poll").await);
        }
    };
    let Some(poll) = message.poll.as_ref() else {
        return Some(
            unknown(
                data,
                record,
                now,
                "the poll message came back without its poll",
            )
            .await,
        );
    };
    let closes_at = poll.expiry.map_or(record.ends_at, |t| t.unix_timestamp());
    let finalized = poll.results.as_ref().is_some_and(|r| r.is_finalized);
    if !finalized && closes_at > now {
        // Still open on Discord although it should have ended: the expire call failed. Ask again.
        info!(
            poll = id,
            "the poll is still open on Discord; closing it again"
        );
        expire(ctx, data, record, message_id).await;
        return Some(Finished::NotYet);
    }
    let Some(results) = poll.results.as_ref() else {
        return Some(unknown(data, record, now, "the poll came back without its results").await);
    };
    if !results.is_finalized && now - closes_at < FINALIZE_PATIENCE_SECONDS {
        info!(poll = id, "Discord has not finalized the counts yet");
        return Some(Finished::NotYet);
    }
    let answers = answers_of(poll);
    let Some(answer_ids) =
        favorite::answer_ids(&data.responder.catalog, &record.scene_ids, &answers)
    else {
        return Some(
            unknown(
                data,
                record,
                now,
                "the poll's answers do not match its scenes",
            )
            .await,
        );
    };
    let counts: Vec<(u64, u32)> = results
        .answer_counts
        .iter()
        .map(|c| (c.id.get(), u32::try_from(c.count).unwrap_or(u32::MAX)))
        .collect();
    let tally = Tally::from_answer_counts(&record.scene_ids, &answer_ids, &counts);
    if let Err(error) = data
        .store
        .call(move |store| store.mark_poll_ended(id, &tally))
        .await
    {
        error!(poll = id, "cannot record the results: {error}");
        return Some(Finished::NotYet);
    }
    None
}

/// The poll's message; a poll past `posting` without one cannot be finished, and is cancelled.
async fn poll_message(data: &Data, record: &PollRecord) -> Result<u64, Finished> {
    match record.message_id {
        Some(message_id) => Ok(message_id),
        None => {
            let reason = CancelReason::NotPosted;
            cancel(
                data,
                record.id,
                reason,
                "a poll past posting without its message",
            )
            .await;
            Err(Finished::Cancelled(reason))
        }
    }
}

/// A poll read without what we need: tried again, for a day after its end, then given up.
async fn unknown(data: &Data, record: &PollRecord, now: i64, what: &str) -> Finished {
    if now - record.ends_at > RESULTS_GIVE_UP_SECONDS {
        cancel(data, record.id, CancelReason::NoResults, what).await;
        return Finished::Cancelled(CancelReason::NoResults);
    }
    warn!(poll = record.id, "{what}; reading it again soon");
    Finished::NotYet
}

/// Whether `message` is the results card of the poll in `poll_message`: its link button points at that poll.
fn is_results_of(message: &Message, poll_message: u64) -> bool {
    let suffix = format!("/{poll_message}");
    message.poll.is_none()
        && discord::buttons(message).any(|button| {
            matches!(button, serenity::all::ButtonKind::Link { url } if url.ends_with(&suffix))
        })
}

/// An ended poll: post the results, unless they are already in the channel (sent before a crash), and record the
/// message.
async fn announce(ctx: &SerenityContext, data: &Data, record: &PollRecord) -> Option<Finished> {
    let id = record.id;
    let channel = ChannelId::new(record.channel_id);
    let poll_message = match poll_message(data, record).await {
        Ok(message_id) => message_id,
        Err(cancelled) => return Some(cancelled),
    };
    let found = discord::find_own_message(ctx, data.call_cap, channel, |message| {
        is_results_of(message, poll_message)
    })
    .await;
    let sent = match found {
        Ok(Some(message)) => {
            info!(poll = id, message = %message.id, "found the results already in the channel; adopting them");
            Ok(message)
        }
        Ok(None) => {
            let tally = record.tally.clone().unwrap_or(Tally { votes: Vec::new() });
            let locale = record.locale;
            let link = discord::message_link(record.guild_id, record.channel_id, poll_message);
            discord::with_retries("posting poll results", data.call_cap, || {
                let card =
                    favorite::results_card(&data.responder.catalog, &tally, locale, Some(&link));
                let message = card
                    .into_channel_message()
                    .nonce(Nonce::String(format!("fav-result-{id}")))
                    .enforce_nonce(true);
                channel.send_message(&ctx.http, message)
            })
            .await
            .map_err(|error| Failure::of(&error))
        }
        Err(failure) => Err(failure),
    };
    match sent {
        Ok(message) => {
            let message_id = message.id.get();
            let now = data.clock.now();
            if let Err(error) = data
                .store
                .call(move |store| store.mark_poll_announced(id, message_id, now))
                .await
            {
                error!(
                    poll = id,
                    "results sent but not recorded (found again on the next try): {error}"
                );
                return Some(Finished::NotYet);
            }
            info!(
                poll = id,
                guild = record.guild_id,
                message = message_id,
                "favorite poll results announced"
            );
            Some(Finished::Announced(record.channel_id))
        }
        Err(failure) => {
            Some(give_up_unless_transient(data, id, &failure, "posting the results").await)
        }
    }
}

/// Cancels the poll for a failure retrying cannot fix (deleted, no access); keeps it for a transient one.
async fn give_up_unless_transient(
    data: &Data,
    id: i64,
    failure: &Failure,
    doing: &str,
) -> Finished {
    if let Failure::Transient(cause) = failure {
        warn!(poll = id, "{doing} failed ({cause}); will try again");
        return Finished::NotYet;
    }
    let reason = failure.cancel_reason();
    cancel(data, id, reason, &format!("{doing}: {}", failure.text())).await;
    Finished::Cancelled(reason)
}

/// How long to wait before looking at a poll again after `tries` looks found it not ready: 1, 2, 4, 8 s…, at most
/// 2 s during the first minute after its end (Discord finalizes then) and a minute later on.
fn retry_delay(tries: u32, seconds_since_end: i64) -> Duration {
    let cap = if seconds_since_end < 60 {
        EARLY_RETRY_CAP
    } else {
        LATE_RETRY_CAP
    };
    FIRST_RETRY.saturating_mul(1 << tries.min(16)).min(cap)
}

/// Finishes every poll that is due, now and whenever one comes due; started once per process (from poise's
/// setup, which runs on the first READY only). A poll that ended while the bot was down is finished on the first
/// pass; one that is not ready is looked at again with a short back-off.
pub async fn scheduler(ctx: SerenityContext, data: Data) {
    let mut clock_moves = data.clock.watch();
    // Poll id → (looks that found it not ready, when to look again).
    let mut retries: HashMap<i64, (u32, tokio::time::Instant)> = HashMap::new();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let polls = match data.store.call(|store| store.open_polls()).await {
            Ok(polls) => polls,
            Err(error) => {
                error!("cannot list open polls: {error}");
                Vec::new()
            }
        };
        retries.retain(|id, _| polls.iter().any(|p| p.id == *id));
        let now = data.clock.now();
        let mut next = tokio::time::Instant::now() + SCHEDULER_TICK;
        for poll in polls {
            let due = poll.state != PollState::Running || poll.ends_at <= now;
            if !due {
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
            if finish(&ctx, &data, poll.id).await == Finished::NotYet {
                let tries = retries.get(&poll.id).map_or(0, |(tries, _)| *tries);
                let at = tokio::time::Instant::now()
                    + retry_delay(tries, data.clock.now() - poll.ends_at);
                retries.insert(poll.id, (tries + 1, at));
                next = next.min(at);
            } else {
                retries.remove(&poll.id);
            }
        }
        tokio::select! {
            _ = tokio::time::sleep_until(next) => {}
            _ = data.wake_polls.notified() => {}
            _ = crate::clock::moved(&mut clock_moves) => {}
            _ = data.stopped() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn re_reads_start_at_a_second_and_stay_close_while_discord_finalizes() {
        let early: Vec<u64> = (0..5).map(|t| retry_delay(t, 5).as_secs()).collect();
        assert_eq!(early, vec![1, 2, 2, 2, 2]);
        let late: Vec<u64> = (0..8).map(|t| retry_delay(t, 600).as_secs()).collect();
        assert_eq!(late, vec![1, 2, 4, 8, 16, 32, 60, 60]);
    }
}
