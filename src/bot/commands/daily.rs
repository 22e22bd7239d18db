//! `/daily`: each server picks a channel, a time and a time zone; one post a day, never twice, none lost.
//!
//! The commands only translate: they keep the settings and wake the daily process ([`crate::lifecycle::daily`]),
//! which claims, sends and records each day's post; `now` sends one post at once through the same port.

use serenity::all::{CreateAutocompleteResponse, PartialChannel, Permissions, Role};
use tracing::{info, warn};

use crate::bot::interaction::tell;
use crate::bot::types::{Context, Data, Error};
use crate::bot::{gate, perms};
use crate::daily;
use crate::lifecycle::port::{DailySend, Port};
use crate::locale::{DailyState, DailyStatus};
use crate::render;
use crate::store::{DailyRecord, DailySettings};

/// The daily scene: set it up, turn it off, see its status, or post one now
#[poise::command(
    slash_command,
    guild_only,
    install_context = "Guild",
    interaction_context = "Guild",
    default_member_permissions = "MANAGE_GUILD",
    subcommands("set", "off", "status", "now"),
    subcommand_required,
    description_localized("ko", "오늘의 장면을 설정하고, 끄고, 상태를 보고, 지금 바로 올려요")
)]
pub async fn daily(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Autocomplete for `timezone`: IANA names, prefixes and cities first.
async fn autocomplete_zone(_ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    let choices = daily::zone_suggestions(partial, crate::limits::CHOICES)
        .into_iter()
        .map(|name| serenity::all::AutocompleteChoice::new(name, name))
        .collect();
    CreateAutocompleteResponse::new().set_choices(choices)
}

/// Post a scene every day in a channel, at your time and time zone
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::manager",
    description_localized("ko", "매일 정한 시각에 채널에 오늘의 장면을 올려요")
)]
pub async fn set(
    ctx: Context<'_>,
    #[description = "The channel for the daily scene"]
    #[description_localized("ko", "오늘의 장면을 올릴 채널")]
    #[channel_types("Text", "News")]
    channel: PartialChannel,
    #[description = "Local time, HH:MM on a 24-hour clock (default 09:00)"]
    #[description_localized("ko", "게시 시각(24시간제 HH:MM, 기본값 09:00)")]
    #[max_length = 5]
    time: Option<String>,
    #[description = "Time zone, e.g. Asia/Seoul (default UTC)"]
    #[description_localized("ko", "시간대(예: Asia/Seoul, 기본값 UTC)")]
    #[autocomplete = "autocomplete_zone"]
    #[max_length = 64]
    timezone: Option<String>,
    #[description = "A role to mention with each post (optional)"]
    #[description_localized("ko", "오늘의 장면과 함께 멘션할 역할(선택)")]
    role: Option<Role>,
    #[description = "Open a thread on each post to talk in (needs Create Public Threads; default off)"]
    #[description_localized(
        "ko",
        "게시물마다 이야기할 스레드를 열어요(공개 스레드 만들기 권한 필요, 기본값 끔)"
    )]
    thread: Option<bool>,
) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let time_text = time.unwrap_or_else(|| daily::DEFAULT_TIME.to_owned());
    let Ok(post_time) = daily::parse_time(&time_text) else {
        return tell(ctx, locale.bad_time(&render::quote_user_text(&time_text))).await;
    };
    let zone_given = timezone.is_some();
    let zone_text = timezone.unwrap_or_else(|| daily::DEFAULT_ZONE.to_owned());
    let Ok(zone) = daily::parse_zone(&zone_text) else {
        return tell(ctx, locale.bad_zone(&render::quote_user_text(&zone_text))).await;
    };
    // Reading another channel's permissions takes up to three calls: answer Discord first.
    crate::bot::interaction::defer_ephemeral(ctx).await?;
    // The bot may hold Mention Everyone, which lets it ping any role: a role its members made unmentionable is
    // pinged only for a manager who could ping it themselves.
    let unmentionable = role.as_ref().filter(|role| !role.mentionable);
    let member_needs = match unmentionable {
        Some(_) => perms::MANAGER_IN_CHANNEL | Permissions::MENTION_EVERYONE,
        None => perms::MANAGER_IN_CHANNEL,
    };
    if let Err(refusal) =
        gate::channel_allows(ctx, guild_id, channel.id, member_needs, perms::DAILY).await
    {
        info!(guild = %guild_id, channel = %channel.id, ?refusal, "daily scene refused");
        let text = match (&refusal, unmentionable) {
            (gate::Refusal::Member(lacking), Some(role))
                if *lacking == Permissions::MENTION_EVERYONE =>
            {
                locale.role_not_mentionable(role.id.get())
            }
            _ => refusal.text(locale, channel.id),
        };
        return tell(ctx, text).await;
    }
    let data = ctx.data();
    let guild_locale = crate::bot::interaction::public_locale_of(ctx).await?;
    let settings = DailySettings {
        guild_id: guild_id.get(),
        channel_id: channel.id.get(),
        time: post_time,
        timezone: zone,
        role_id: role.as_ref().map(|r| r.id.get()),
        locale: guild_locale,
        thread: thread.unwrap_or(false),
    };
    let done = daily::SetDone {
        channel: channel.id.get(),
        time: post_time,
        zone,
        zone_given,
        thread: settings.thread,
        server_locale: guild_locale,
        now: data.clock.now(),
    };
    data.store
        .call(move |store| store.set_daily(&settings, done.now))
        .await?;
    data.wake_daily.notify_one();
    info!(guild = %guild_id, channel = %channel.id, time = %post_time, zone = zone.name(), "daily scene set");
    let text = daily::set_answer(locale, done);
    tell(ctx, text).await
}

/// Stop the daily scene (your settings are kept)
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::manager",
    description_localized("ko", "오늘의 장면을 꺼요(설정은 남아요)")
)]
pub async fn off(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let guild = guild_id.get();
    let was_on = crate::bot::interaction::within_deadline(
        ctx,
        true,
        ctx.data().store.call(move |store| store.daily_off(guild)),
    )
    .await??;
    tell(ctx, locale.daily_off(was_on).to_owned()).await
}

/// When the next daily scene comes, and how the last one went
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "다음 게시 시각과 지난 게시 결과를 보여 줘요")
)]
pub async fn status(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let read = crate::bot::interaction::within_deadline(
        ctx,
        true,
        data.store
            .call(move |store| Ok((store.daily(guild)?, store.server_language(guild)?))),
    )
    .await??;
    let text = match read {
        (None, _) => locale.daily_not_set(),
        (Some(record), chosen) => locale.daily_status(&status_of(&record, data, chosen.is_some())),
    };
    tell(ctx, text).await
}

/// What `/daily status` shows of a schedule; `language_chosen`: whether the server chose its language.
fn status_of(record: &DailyRecord, data: &Data, language_chosen: bool) -> DailyStatus {
    let state = if !record.enabled {
        DailyState::Off
    } else if record.paused {
        DailyState::Paused
    } else {
        DailyState::On {
            next: daily::next_post_at(data.clock.now(), record.time, record.timezone),
        }
    };
    DailyStatus {
        channel: record.channel_id,
        language: record.locale,
        language_chosen,
        time: record.time.format(daily::TIME_FORMAT).to_string(),
        zone: record.timezone.name().to_owned(),
        role: record.role_id,
        state,
        left_in_round: record
            .bag
            .left_in_round(&data.responder.catalog.scene_ids()),
        last_post: record.last_post_at,
        last_error: record.last_error,
        failures: record.failures,
        thread: record.thread,
        thread_problem: record.thread_problem,
    }
}

/// Post the next daily scene right now
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::manager",
    description_localized("ko", "다음 차례 장면을 지금 바로 올려요")
)]
pub async fn now(ctx: Context<'_>) -> Result<(), Error> {
    let locale = crate::bot::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    crate::bot::interaction::defer_ephemeral(ctx).await?;
    let data = ctx.data();
    let guild = guild_id.get();
    let Some(mut record) = data.store.call(move |store| store.daily(guild)).await? else {
        return tell(ctx, locale.daily_not_set()).await;
    };
    // The same checks as `/daily set`, in the channel the post goes to: a manager who may not post there (or the
    // bot that may not) is refused, as setting it up would have been.
    let channel = serenity::all::ChannelId::new(record.channel_id);
    let member_has = match gate::channel_allows(
        ctx,
        guild_id,
        channel,
        perms::MANAGER_IN_CHANNEL,
        perms::DAILY,
    )
    .await
    {
        Ok(member_has) => member_has,
        Err(refusal) => {
            info!(guild, channel = %channel, ?refusal, "daily now refused");
            return tell(ctx, refusal.text(locale, channel)).await;
        }
    };
    // A post on demand pings the schedule's role only for a manager who may ping any role there; it goes out
    // without the ping otherwise (the role may have been made unmentionable since `/daily set`).
    if !member_has.contains(Permissions::MENTION_EVERYONE) {
        record.role_id = None;
    }
    if let Err(held) = data.budget.may_post_now(guild) {
        info!(guild, ?held, "daily now held back by its cooldown");
        return tell(ctx, gate::Refusal::Held(held).text(locale, channel)).await;
    }
    let ids = data.responder.catalog.scene_ids();
    let scene = data
        .store
        .call(move |store| store.draw_daily(guild, |bag| bag.draw(&ids, &mut rand::rng())))
        .await?;
    let Some(scene) = scene else {
        return tell(ctx, locale.strings().internal_error.to_owned()).await;
    };
    // Nonces are at most 25 characters and markers fit a custom id beside a scene id: both keep the low digits of
    // the interaction's snowflake, which differ between any two commands.
    let nonce = format!("n{}", ctx.id() % NOW_NONCE_DIGITS);
    let marker = format!("now{}", ctx.id() % NOW_MARKER_DIGITS);
    let port = data.port(&ctx.serenity_context().http);
    let post = crate::anniversary::DayPost::Scene(scene);
    let send = DailySend {
        record: &record,
        post: &post,
        marker: &marker,
        nonce: &nonce,
    };
    match port.post_daily(send).await {
        Ok(message_id) => {
            let now = data.clock.now();
            data.store
                .call(move |store| store.mark_daily_sent(guild, None, message_id, now))
                .await?;
            tell(ctx, locale.daily_posted_now(record.channel_id)).await
        }
        Err(failure) => {
            warn!(guild, "daily now failed: {}", failure.text());
            tell(
                ctx,
                locale.post_failed(record.channel_id, failure.for_users()),
            )
            .await
        }
    }
}

/// `/daily now`'s nonce keeps this many low values of the interaction id (a nonce holds at most 25 characters).
const NOW_NONCE_DIGITS: u64 = 1_000_000_000_000_000_000;
/// `/daily now`'s marker keeps this many (a custom id holds at most 100 characters, the scene id included).
const NOW_MARKER_DIGITS: u64 = 1_000_000_000_000;
