//! `/favorite`: moderators run native favorite-scene polls; the bot announces the result exactly once.
//!
//! The commands only translate: `start` records the poll and posts it through the poll process
//! ([`crate::lifecycle::poll`]), `end` moves its end to now, closes it on Discord and finishes it there; the
//! scheduler that announces results is the same process, run for every poll that is due.

use serenity::all::{ChannelId, PartialChannel};
use tracing::info;

use crate::bot::interaction::tell;
use crate::bot::types::{Context, Error};
use crate::bot::{gate, perms};
use crate::favorite::{self, Tally, DEFAULT_HOURS, MAX_HOURS};
use crate::lifecycle::poll::{self as lifecycle, Finished, Started};
use crate::locale::Locale;
use crate::reason::CancelReason;
use crate::render;
use crate::store::{NewPoll, PollState};

/// Favorite-scene polls: start one, end it, see the results and the hall of fame
#[poise::command(
    slash_command,
    guild_only,
    install_context = "Guild",
    interaction_context = "Guild",
    default_member_permissions = "MANAGE_MESSAGES",
    subcommands("start", "end", "results", "leaderboard"),
    subcommand_required,
    description_localized(
        "ko",
        "최애 장면 투표를 시작하고 끝내고, 결과와 명예의 전당을 보여 줘요"
    )
)]
pub async fn favorite(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
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
    #[description_localized("ko", "투표 기간(시간 단위, 1~768, 기본값 24시간)")]
    #[min = 1]
    #[max = 768]
    hours: Option<u16>,
    #[description = "Where to post it (default: this channel)"]
    #[description_localized("ko", "투표를 올릴 채널(기본값: 이 채널)")]
    #[channel_types("Text", "News")]
    channel: Option<PartialChannel>,
    #[description = "Open a thread on the results post to talk in (needs Create Public Threads; default off)"]
    #[description_localized(
        "ko",
        "결과 게시물에 이야기할 스레드를 열어요(공개 스레드 만들기 권한 필요, 기본값 끔)"
    )]
    thread: Option<bool>,
) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    // Reading another channel's permissions takes up to three calls: answer Discord first.
    crate::bot::interaction::defer_ephemeral(ctx).await?;
    let hours = hours.unwrap_or(DEFAULT_HOURS).clamp(1, MAX_HOURS);
    let channel_id = channel.map_or(ctx.channel_id(), |c| c.id);
    if !poll_channel_allows(ctx, guild_id, channel_id, locale).await? {
        return Ok(());
    }
    let data = ctx.data();
    // The poll is posted, and its results come, in this language, whatever is chosen while it runs.
    let poll_locale = crate::bot::interaction::public_locale_of(ctx).await?;
    let plan = favorite::plan_poll(&data.responder.catalog, &mut rand::rng());
    let new_poll = NewPoll {
        guild_id: guild_id.get(),
        channel_id: channel_id.get(),
        started_by: ctx.author().id.get(),
        locale: poll_locale,
        scene_ids: plan.scene_ids.clone(),
        hours,
        now: data.clock.now(),
        thread: thread.unwrap_or(false),
    };
    let polls = data.polls(&ctx.serenity_context().http);
    let text = match lifecycle::start(&polls, new_poll).await? {
        Started::AlreadyOpen(open) => {
            let link = open
                .message_id
                .map(|m| crate::render::message_link(open.guild_id, open.channel_id, m))
                .unwrap_or_else(|| format!("<#{}>", open.channel_id));
            locale.poll_already_running(&link, open.ends_at)
        }
        Started::Posted { ends_at } => locale.poll_posted(channel_id.get(), ends_at, plan.sampled),
        Started::Pending => {
            data.wake_polls.notify_one();
            locale.poll_pending(channel_id.get())
        }
        Started::Cancelled(reason) => locale.poll_cancelled(reason),
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
    match gate::channel_allows(
        ctx,
        guild,
        channel,
        perms::MODERATOR_IN_CHANNEL,
        perms::POLL,
    )
    .await
    {
        Ok(_) => Ok(true),
        Err(refusal) => {
            info!(guild = %guild, channel = %channel, ?refusal, "favorite poll refused in that channel");
            tell(ctx, refusal.text(locale, channel)).await?;
            Ok(false)
        }
    }
}

/// End the running favorite poll now and post its results
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::moderator",
    description_localized("ko", "진행 중인 최애 투표를 지금 마감하고 결과를 올려요")
)]
pub async fn end(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    crate::bot::interaction::defer_ephemeral(ctx).await?;
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
    let polls = data.polls(&ctx.serenity_context().http);
    if let (PollState::Running, Some(message)) = (poll.state, poll.message_id) {
        let _poll = polls.locks.lock(id).await;
        lifecycle::expire(&polls, id, poll.channel_id, message).await;
    }
    let text = match lifecycle::finish(&polls, id).await {
        Finished::Announced(channel) => locale.poll_announced(channel),
        Finished::Cancelled(reason) => locale.poll_cancelled(reason),
        Finished::NotYet => locale.poll_counting(poll.channel_id),
    };
    data.wake_polls.notify_one();
    tell(ctx, text).await
}

/// Show the results of this server's last finished favorite poll
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "이 서버에서 가장 최근에 마감된 최애 투표 결과를 보여 줘요")
)]
pub async fn results(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let last = crate::bot::interaction::within_deadline(
        ctx,
        false,
        data.store
            .call(move |store| store.last_finished_poll(guild)),
    )
    .await??;
    match last {
        None => tell(ctx, locale.no_finished_poll().to_owned()).await,
        Some(poll) if poll.state == PollState::Cancelled => {
            let reason = poll.reason.unwrap_or(CancelReason::Refused);
            tell(ctx, locale.poll_cancelled(reason)).await
        }
        Some(poll) => {
            let tally = poll.tally.clone().unwrap_or(Tally { votes: Vec::new() });
            let link = poll
                .message_id
                .map(|m| crate::render::message_link(poll.guild_id, poll.channel_id, m));
            let card = render::poll::results_card(
                &data.responder.catalog,
                &tally,
                locale,
                link.as_deref(),
            );
            crate::bot::interaction::send_card(ctx, card).await
        }
    }
}

/// The hall of fame: wins and votes per scene over every finished poll here
#[poise::command(
    slash_command,
    guild_only,
    description_localized(
        "ko",
        "이 서버에서 열린 모든 투표의 장면별 우승·득표 기록(명예의 전당)을 보여 줘요"
    )
)]
pub async fn leaderboard(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let tallies = crate::bot::interaction::within_deadline(
        ctx,
        false,
        data.store.call(move |store| store.announced_tallies(guild)),
    )
    .await??;
    let standings = favorite::leaderboard(&tallies);
    let card =
        render::poll::leaderboard_card(&data.responder.catalog, &standings, tallies.len(), locale);
    crate::bot::interaction::send_card(ctx, card).await
}
