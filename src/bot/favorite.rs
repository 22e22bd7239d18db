//! `/favorite`: moderators run native favorite-scene polls; the bot announces the result exactly once.
//!
//! Every step of a poll's life is recorded in SQLite before or after the Discord call it stands for, and every
//! step can be repeated safely: the poll and its results are sent with a nonce and `enforce_nonce`, so a repeat
//! after a crash returns the message already sent instead of sending another. [`finish`] drives a poll from
//! whatever state it is in to the next, and the [`scheduler`] runs it for every poll that is due.

use std::time::Duration;

use serenity::all::{
    ChannelId, Context as SerenityContext, CreateInteractionResponse, CreateMessage, MessageId,
    Nonce, PartialChannel, Permissions,
};
use tracing::{error, info, warn};

use super::commands::tell;
use super::discord::{self, Failure, CARD_PERMISSIONS};
use super::{Context, Data, Error};
use crate::favorite::{self, PollPlan, Tally, DEFAULT_HOURS, MAX_HOURS};
use crate::locale::Locale;
use crate::render;
use crate::store::{NewPoll, PollRecord, PollState};

/// A poll left in `posting` longer than this is given up (the nonce that makes a repeat safe is short-lived).
const POSTING_GIVE_UP_SECONDS: i64 = 300;
/// After its end, how long we wait for Discord to finalize the counts before announcing the counts as they are.
const FINALIZE_PATIENCE_SECONDS: i64 = 1800;
/// The scheduler looks at the polls at least this often, so clock steps and suspends cannot strand one.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);

/// The permissions a poll needs in its channel.
fn poll_permissions() -> Vec<(Permissions, &'static str)> {
    let mut needed = CARD_PERMISSIONS.to_vec();
    needed.push((Permissions::SEND_POLLS, "Send Polls"));
    needed
}

/// Favorite-scene polls: start one, end it, see the results and the hall of fame
#[poise::command(
    slash_command,
    guild_only,
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
        super::commands::locale_of(ctx),
        super::commands::guild_locale_of(ctx),
    )
}

/// Whether the member may run polls.
fn is_moderator(ctx: Context<'_>) -> bool {
    super::commands::member_can(ctx, Permissions::MANAGE_MESSAGES)
}

/// Start a favorite-scene poll in this channel or another
#[poise::command(
    slash_command,
    guild_only,
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
    if !is_moderator(ctx) {
        return tell(
            ctx,
            locale
                .choose(
                    "You need the **Manage Messages** permission to start a favorite poll.",
                    "최애 투표를 시작하려면 **메시지 관리** 권한이 필요해요.",
                )
                .to_owned(),
        )
        .await;
    }
    let hours = hours.unwrap_or(DEFAULT_HOURS).clamp(1, MAX_HOURS);
    let channel_id = channel.map_or(ctx.channel_id(), |c| c.id);
    let have = super::commands::bot_permissions(ctx, guild_id, channel_id).await;
    let have = match have {
        Ok(have) => have,
        Err(failure) => {
            warn!(guild = %guild_id, channel = %channel_id, "cannot read the bot's permissions: {}", failure.text());
            return tell(
                ctx,
                format!(
                    "{} <#{channel_id}>.",
                    locale.choose("I cannot see that channel:", "그 채널을 볼 수 없어요:")
                ),
            )
            .await;
        }
    };
    let missing = discord::missing(have, &poll_permissions());
    if !missing.is_empty() {
        return tell(
            ctx,
            format!(
                "{} <#{channel_id}>: **{}**.",
                locale.choose(
                    "I can't post the poll: I'm missing these permissions in",
                    "투표를 올릴 수 없어요. 다음 채널에서 봇에게 필요한 권한이 없어요:"
                ),
                missing.join("**, **")
            ),
        )
        .await;
    }
    ctx.defer_ephemeral().await?;
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
        Err(open) => return tell(ctx, already_running(&open, locale)).await,
    };
    let _finishing = data.finishing.lock().await;
    match post_poll(ctx.serenity_context(), data, &record, &plan).await {
        Ok(ends_at) => {
            data.wake_polls.notify_one();
            let mut text = format!(
                "{} <#{channel_id}> · {} <t:{ends_at}:F> (<t:{ends_at}:R>)",
                locale.choose("Poll posted in", "투표를 올렸어요:"),
                locale.choose("ends", "마감"),
            );
            if plan.sampled {
                text.push_str(locale.choose(
                    "\nThe dataset has more scenes than a poll holds (10), so 10 were picked at random.",
                    "\n투표 항목은 최대 10개라서 장면 10개를 무작위로 골랐어요.",
                ));
            }
            tell(ctx, text).await
        }
        Err(failure) => {
            tell(
                ctx,
                format!(
                    "{} <#{channel_id}>. {}",
                    locale.choose("I couldn't post the poll in", "투표를 올리지 못했어요:"),
                    locale.choose(
                        "Please check my permissions and try again.",
                        "봇 권한을 확인하고 다시 시도해 주세요."
                    )
                ),
            )
            .await?;
            warn!(poll = record.id, "poll not posted: {}", failure.text());
            Ok(())
        }
    }
}

/// "A poll is already running: link, ends …".
fn already_running(open: &PollRecord, locale: Locale) -> String {
    let link = open
        .message_id
        .map(|m| discord::message_link(open.guild_id, open.channel_id, m))
        .unwrap_or_else(|| format!("<#{}>", open.channel_id));
    format!(
        "{} {link} · {} <t:{}:R>",
        locale.choose(
            "A favorite poll is already running here:",
            "이미 진행 중인 최애 투표가 있어요:"
        ),
        locale.choose("it ends", "마감"),
        open.ends_at
    )
}

/// Posts the poll of a `posting` record (again, safely, after a crash) and records it as running. Returns its end.
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
    let now = data.clock.now();
    match sent {
        Ok(message) => {
            let ends_at = message
                .poll
                .as_ref()
                .and_then(|p| p.expiry)
                .map_or(record.created_at + i64::from(record.hours) * 3600, |t| {
                    t.unix_timestamp()
                });
            let message_id = message.id.get();
            data.store
                .call(move |store| store.mark_poll_running(id, message_id, ends_at))
                .await
                .map_err(|e| Failure::Other(e.to_string()))?;
            info!(
                poll = id,
                guild = record.guild_id,
                message = message_id,
                "favorite poll posted"
            );
            Ok(ends_at)
        }
        Err(error) => {
            let failure = Failure::of(&error);
            let problem = format!("the poll could not be posted: {}", failure.text());
            let _ = data
                .store
                .call(move |store| store.cancel_poll(id, &problem, now))
                .await;
            Err(failure)
        }
    }
}

/// End the running favorite poll now and post its results
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "진행 중인 최애 투표를 지금 끝내고 결과를 올려요")
)]
pub async fn end(ctx: Context<'_>) -> Result<(), Error> {
    let (locale, _) = locales(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    if !is_moderator(ctx) {
        return tell(
            ctx,
            locale
                .choose(
                    "You need the **Manage Messages** permission to end a favorite poll.",
                    "최애 투표를 끝내려면 **메시지 관리** 권한이 필요해요.",
                )
                .to_owned(),
        )
        .await;
    }
    let data = ctx.data();
    let guild = guild_id.get();
    let open = data.store.call(move |store| store.open_poll(guild)).await?;
    let Some(poll) = open else {
        return tell(
            ctx,
            locale
                .choose(
                    "No favorite poll is running in this server. Start one with `/favorite start`.",
                    "이 서버에서 진행 중인 최애 투표가 없어요. `/favorite start`로 시작해 보세요.",
                )
                .to_owned(),
        )
        .await;
    };
    ctx.defer_ephemeral().await?;
    let now = data.clock.now();
    let id = poll.id;
    data.store
        .call(move |store| store.end_poll_early(id, now))
        .await?;
    if let (PollState::Running, Some(message)) = (poll.state, poll.message_id) {
        let http = &ctx.serenity_context().http;
        let channel = ChannelId::new(poll.channel_id);
        let expired = discord::with_retries("ending a poll", data.call_cap, || {
            http.expire_poll(channel, MessageId::new(message))
        })
        .await;
        if let Err(error) = expired {
            // 520001: the poll had already ended on Discord; finishing reads its results all the same.
            warn!(
                poll = id,
                "expire call failed: {}",
                Failure::of(&error).text()
            );
        }
    }
    let outcome = finish(ctx.serenity_context(), data, id).await;
    let text = match outcome {
        Finished::Announced(channel) => format!(
            "{} <#{channel}>.",
            locale.choose("The poll has ended; the results are posted in", "투표를 끝냈어요. 결과를 올렸어요:")
        ),
        Finished::Cancelled(problem) => format!(
            "{} {problem}",
            locale.choose("The poll could not be finished:", "투표를 마무리하지 못했어요:")
        ),
        Finished::NotYet => locale
            .choose(
                "The poll has ended; Discord is still counting. The results will be posted in a minute.",
                "투표를 끝냈어요. 디스코드가 집계 중이라 잠시 후 결과를 올릴게요.",
            )
            .to_owned(),
    };
    data.wake_polls.notify_one();
    tell(ctx, text).await
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
    let last = data
        .store
        .call(move |store| store.last_finished_poll(guild))
        .await?;
    match last {
        None => {
            tell(
                ctx,
                locale
                    .choose(
                        "No favorite poll has finished in this server yet.",
                        "이 서버에서 끝난 최애 투표가 아직 없어요.",
                    )
                    .to_owned(),
            )
            .await
        }
        Some(poll) if poll.state == PollState::Cancelled => {
            let problem = poll.problem.unwrap_or_default();
            tell(
                ctx,
                format!(
                    "{} {problem}",
                    locale.choose(
                        "The last favorite poll was cancelled:",
                        "마지막 최애 투표는 취소됐어요:"
                    )
                ),
            )
            .await
        }
        Some(poll) => {
            let tally = poll.tally.clone().unwrap_or(Tally { votes: Vec::new() });
            let link = poll
                .message_id
                .map(|m| discord::message_link(poll.guild_id, poll.channel_id, m));
            let card =
                favorite::results_card(&data.responder.catalog, &tally, locale, link.as_deref());
            super::commands::reply(
                ctx,
                CreateInteractionResponse::Message(card.into_interaction_message()),
            )
            .await
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
    let tallies = data
        .store
        .call(move |store| store.announced_tallies(guild))
        .await?;
    let standings = favorite::leaderboard(&tallies);
    let card =
        favorite::leaderboard_card(&data.responder.catalog, &standings, tallies.len(), locale);
    super::commands::reply(
        ctx,
        CreateInteractionResponse::Message(card.into_interaction_message()),
    )
    .await
}

/// Where [`finish`] left a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finished {
    /// Results posted in this channel (now or before).
    Announced(u64),
    /// Given up; why.
    Cancelled(String),
    /// Not due yet, or Discord has not finalized the counts: try again later.
    NotYet,
}

/// Moves poll `id` as far as it can go: re-posts a poll interrupted while posting, reads the final counts of a
/// poll that has ended, posts the results of an ended poll. Every step is recorded and safe to repeat.
pub async fn finish(ctx: &SerenityContext, data: &Data, id: i64) -> Finished {
    let _finishing = data.finishing.lock().await;
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
            Ok(None) => return Finished::Cancelled("no such poll".to_owned()),
            Err(error) => {
                error!(poll = id, "cannot read the poll: {error}");
                return Finished::NotYet;
            }
        };
        let step = match record.state {
            PollState::Announced => return Finished::Announced(record.channel_id),
            PollState::Cancelled => return Finished::Cancelled(record.problem.unwrap_or_default()),
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

/// A poll interrupted while posting: post it again (the nonce makes Discord return the first one), or give up.
async fn resume_posting(
    ctx: &SerenityContext,
    data: &Data,
    record: &PollRecord,
) -> Option<Finished> {
    let now = data.clock.now();
    if now - record.created_at > POSTING_GIVE_UP_SECONDS {
        let id = record.id;
        let problem = "the bot stopped while posting the poll".to_owned();
        warn!(poll = id, "{problem}; giving it up");
        let kept = problem.clone();
        let _ = data
            .store
            .call(move |store| store.cancel_poll(id, &kept, now))
            .await;
        return Some(Finished::Cancelled(problem));
    }
    let plan = PollPlan {
        scene_ids: record.scene_ids.clone(),
        sampled: false,
    };
    match post_poll(ctx, data, record, &plan).await {
        Ok(_) => None,
        Err(failure) => Some(Finished::Cancelled(failure.text().to_owned())),
    }
}

/// A running poll past its end: read the final counts and record them.
async fn read_results(ctx: &SerenityContext, data: &Data, record: &PollRecord) -> Option<Finished> {
    let now = data.clock.now();
    if now < record.ends_at {
        return Some(Finished::NotYet);
    }
    let id = record.id;
    let Some(message_id) = record.message_id else {
        let _ = data
            .store
            .call(move |store| store.cancel_poll(id, "the poll was never posted", now))
            .await;
        return Some(Finished::Cancelled("the poll was never posted".to_owned()));
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
            return Some(
                give_up_unless_transient(data, id, &failure, now, "reading the poll").await,
            );
        }
    };
    let Some(results) = message.poll.as_ref().and_then(|p| p.results.as_ref()) else {
        let problem = "the poll message has no poll any more".to_owned();
        let kept = problem.clone();
        let _ = data
            .store
            .call(move |store| store.cancel_poll(id, &kept, now))
            .await;
        return Some(Finished::Cancelled(problem));
    };
    if !results.is_finalized && now - record.ends_at < FINALIZE_PATIENCE_SECONDS {
        info!(
            poll = id,
            "Discord has not finalized the counts yet; trying again soon"
        );
        return Some(Finished::NotYet);
    }
    let counts: Vec<(u64, u32)> = results
        .answer_counts
        .iter()
        .map(|c| (c.id.get(), u32::try_from(c.count).unwrap_or(u32::MAX)))
        .collect();
    let tally = Tally::from_answer_counts(&record.scene_ids, &counts);
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

/// An ended poll: post the results (nonce: a repeat returns the first) and record the message.
async fn announce(ctx: &SerenityContext, data: &Data, record: &PollRecord) -> Option<Finished> {
    let id = record.id;
    let tally = record.tally.clone().unwrap_or(Tally { votes: Vec::new() });
    let locale = record.locale;
    let link = record
        .message_id
        .map(|m| discord::message_link(record.guild_id, record.channel_id, m));
    let channel = ChannelId::new(record.channel_id);
    let sent = discord::with_retries("posting poll results", data.call_cap, || {
        let card = favorite::results_card(&data.responder.catalog, &tally, locale, link.as_deref());
        let message = card
            .into_channel_message()
            .nonce(Nonce::String(format!("fav-result-{id}")))
            .enforce_nonce(true);
        channel.send_message(&ctx.http, message)
    })
    .await;
    let now = data.clock.now();
    match sent {
        Ok(message) => {
            let message_id = message.id.get();
            if let Err(error) = data
                .store
                .call(move |store| store.mark_poll_announced(id, message_id, now))
                .await
            {
                error!(
                    poll = id,
                    "results sent but not recorded (a repeat is safe): {error}"
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
        Err(error) => {
            let failure = Failure::of(&error);
            Some(give_up_unless_transient(data, id, &failure, now, "posting the results").await)
        }
    }
}

/// Cancels the poll for a failure retrying cannot fix (deleted, no access); keeps it for a transient one.
async fn give_up_unless_transient(
    data: &Data,
    id: i64,
    failure: &Failure,
    now: i64,
    doing: &str,
) -> Finished {
    let problem = match failure {
        Failure::Transient(text) => {
            warn!(poll = id, "{doing} failed ({text}); will try again");
            return Finished::NotYet;
        }
        Failure::Gone(text) => format!("the poll message or its channel was deleted ({text})"),
        Failure::Forbidden(text) => format!("the bot lost access to the channel ({text})"),
        Failure::Other(text) => format!("Discord refused {doing} ({text})"),
    };
    warn!(poll = id, "poll cancelled: {problem}");
    let kept = problem.clone();
    if let Err(error) = data
        .store
        .call(move |store| store.cancel_poll(id, &kept, now))
        .await
    {
        error!(poll = id, "cannot record the cancellation: {error}");
    }
    Finished::Cancelled(problem)
}

/// Finishes every poll that is due, now and whenever one comes due; started once per process (from poise's
/// setup, which runs on the first READY only). A poll that ended while the bot was down is finished on the first
/// pass.
pub async fn scheduler(ctx: SerenityContext, data: Data) {
    let mut clock_moves = data.clock.watch();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let polls = match data.store.call(|store| store.open_polls()).await {
            Ok(polls) => polls,
            Err(error) => {
                error!("cannot list open polls: {error}");
                Vec::new()
            }
        };
        let now = data.clock.now();
        let mut next_due = SCHEDULER_TICK;
        for poll in polls {
            let due = poll.state != PollState::Running || poll.ends_at <= now;
            if due {
                if finish(&ctx, &data, poll.id).await == Finished::NotYet {
                    next_due = next_due.min(Duration::from_secs(15));
                }
            } else {
                let wait = u64::try_from(poll.ends_at - now).unwrap_or(0);
                next_due = next_due.min(Duration::from_secs(wait.max(1)));
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(next_due) => {}
            _ = data.wake_polls.notified() => {}
            _ = crate::clock::moved(&mut clock_moves) => {}
            _ = data.stopped() => return,
        }
    }
}
