//! `/daily`: each server picks a channel, a time and a time zone; one post a day, never twice, none lost.
//!
//! A post is claimed in the store (with the scene drawn from the server's shuffle bag, in the same transaction)
//! before it is sent, and marked sent after. A claimed post found unsent (a crash between sending and recording) is
//! first looked for in the channel by the marker its button carries, and adopted; only a post that is not there is
//! sent again, with its nonce. The [`scheduler`] starts once per process and re-checks at least every minute.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serenity::all::{
    ChannelId, Context as SerenityContext, CreateAllowedMentions, CreateAutocompleteResponse,
    Message, Nonce, PartialChannel, Permissions, Role,
};
use tracing::{error, info, warn};

use super::discord::{self, Failure};
use super::interaction::tell;
use super::{gate, Context, Data, Error};
use crate::daily::{self, Due, ShuffleBag, FAILURES_BEFORE_PAUSE};
use crate::locale::{DailyState, DailyStatus};
use crate::reason::PostFailure;
use crate::render;
use crate::store::{Claim, DailyPostState, DailyRecord, DailySettings};

/// The scheduler looks at the schedules at least this often, so clock steps and suspends cannot strand a post.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);

/// The daily scene: set it up, turn it off, see its status, or post one now
#[poise::command(
    slash_command,
    guild_only,
    install_context = "Guild",
    interaction_context = "Guild",
    default_member_permissions = "MANAGE_GUILD",
    subcommands("set", "off", "status", "now"),
    subcommand_required,
    description_localized("ko", "매일 장면: 설정, 끄기, 상태, 지금 올리기")
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
    description_localized("ko", "매일 정한 시간에 채널에 장면을 올려요")
)]
pub async fn set(
    ctx: Context<'_>,
    #[description = "The channel for the daily scene"]
    #[description_localized("ko", "매일 장면을 올릴 채널")]
    #[channel_types("Text", "News")]
    channel: PartialChannel,
    #[description = "Local time, HH:MM on a 24-hour clock (default 09:00)"]
    #[description_localized("ko", "현지 시간, 24시간제 HH:MM (기본 09:00)")]
    #[max_length = 5]
    time: Option<String>,
    #[description = "Time zone, e.g. Asia/Seoul (default UTC)"]
    #[description_localized("ko", "시간대, 예: Asia/Seoul (기본 UTC)")]
    #[autocomplete = "autocomplete_zone"]
    #[max_length = 64]
    timezone: Option<String>,
    #[description = "A role to mention with each post (optional)"]
    #[description_localized("ko", "매일 장면과 함께 멘션할 역할 (선택)")]
    role: Option<Role>,
) -> Result<(), Error> {
    let locale = super::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let time_text = time.unwrap_or_else(|| daily::DEFAULT_TIME.to_owned());
    let Ok(post_time) = daily::parse_time(&time_text) else {
        return tell(ctx, locale.bad_time(&render::quote_user_text(&time_text))).await;
    };
    let zone_text = timezone.unwrap_or_else(|| daily::DEFAULT_ZONE.to_owned());
    let Ok(zone) = daily::parse_zone(&zone_text) else {
        return tell(ctx, locale.bad_zone(&render::quote_user_text(&zone_text))).await;
    };
    // Reading another channel's permissions takes up to three calls: answer Discord first.
    super::interaction::defer_ephemeral(ctx).await?;
    // The bot may hold Mention Everyone, which lets it ping any role: a role its members made unmentionable is
    // pinged only for a manager who could ping it themselves.
    let unmentionable = role.as_ref().filter(|role| !role.mentionable);
    let member_needs = match unmentionable {
        Some(_) => gate::MANAGER_IN_CHANNEL | Permissions::MENTION_EVERYONE,
        None => gate::MANAGER_IN_CHANNEL,
    };
    if let Err(refusal) =
        gate::channel_allows(ctx, guild_id, channel.id, member_needs, gate::DAILY).await
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
    let time = post_time.format("%H:%M").to_string();
    let settings = DailySettings {
        guild_id: guild_id.get(),
        channel_id: channel.id.get(),
        time: post_time,
        timezone: zone,
        role_id: role.as_ref().map(|r| r.id.get()),
        locale: super::interaction::guild_locale_of(ctx),
    };
    let now = data.clock.now();
    data.store
        .call(move |store| store.set_daily(&settings, now))
        .await?;
    data.wake_daily.notify_one();
    let next = next_post_at(now, post_time, zone);
    info!(guild = %guild_id, channel = %channel.id, time = %post_time, zone = zone.name(), "daily scene set");
    tell(
        ctx,
        locale.daily_on(channel.id.get(), &time, zone.name(), next),
    )
    .await
}

/// The next post's unix time, for messages.
fn next_post_at(now: i64, time: NaiveTime, zone: Tz) -> Option<i64> {
    let now = DateTime::<Utc>::from_timestamp(now, 0)?;
    Some(daily::next_post(now, time, zone).1.timestamp())
}

/// Stop the daily scene (your settings are kept)
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::manager",
    description_localized("ko", "매일 장면을 꺼요 (설정은 남아요)")
)]
pub async fn off(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let guild = guild_id.get();
    let was_on = super::interaction::within_deadline(
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
    description_localized("ko", "다음 매일 장면은 언제인지, 지난번은 어땠는지")
)]
pub async fn status(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let record = super::interaction::within_deadline(
        ctx,
        true,
        data.store.call(move |store| store.daily(guild)),
    )
    .await??;
    let text = match record {
        None => locale.daily_not_set().to_owned(),
        Some(record) => locale.daily_status(&status_of(&record, data)),
    };
    tell(ctx, text).await
}

/// What `/daily status` shows of a schedule.
fn status_of(record: &DailyRecord, data: &Data) -> DailyStatus {
    let state = if !record.enabled {
        DailyState::Off
    } else if record.paused {
        DailyState::Paused
    } else {
        DailyState::On {
            next: next_post_at(data.clock.now(), record.time, record.timezone),
        }
    };
    DailyStatus {
        channel: record.channel_id,
        time: record.time.format("%H:%M").to_string(),
        zone: record.timezone.name().to_owned(),
        role: record.role_id,
        state,
        left_in_round: record.bag.left_in_round(&scene_ids(data)),
        last_post: record.last_post_at,
        last_error: record.last_error.as_deref().map(PostFailure::parse),
        failures: record.failures,
    }
}

/// Every scene id of the catalog, for the shuffle bag.
fn scene_ids(data: &Data) -> Vec<String> {
    data.responder
        .catalog
        .scenes
        .iter()
        .map(|s| s.id.clone())
        .collect()
}

/// Post the next daily scene right now
#[poise::command(
    slash_command,
    guild_only,
    check = "gate::manager",
    description_localized("ko", "다음 매일 장면을 지금 바로 올려요")
)]
pub async fn now(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::interaction::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    super::interaction::defer_ephemeral(ctx).await?;
    let data = ctx.data();
    let guild = guild_id.get();
    let Some(record) = data.store.call(move |store| store.daily(guild)).await? else {
        return tell(ctx, locale.daily_not_set().to_owned()).await;
    };
    let ids = scene_ids(data);
    let scene = data
        .store
        .call(move |store| store.draw_daily(guild, |bag| bag.draw(&ids, &mut rand::rng())))
        .await?;
    let Some(scene) = scene else {
        return tell(ctx, locale.strings().internal_error.to_owned()).await;
    };
    let nonce = format!("n{}", ctx.id() % 1_000_000_000_000_000_000);
    let marker = format!("now{}", ctx.id() % 1_000_000_000_000);
    match send_post(
        ctx.serenity_context(),
        data,
        &record,
        &scene,
        &marker,
        nonce,
    )
    .await
    {
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

/// The marker of the daily post for `date` (`YYYY-MM-DD`), carried by its button so the bot can find it again.
fn date_marker(date: &str) -> String {
    format!("daily-{date}")
}

/// Whether `message` carries `marker` on one of its buttons.
fn carries_marker(message: &Message, marker: &str) -> bool {
    discord::buttons(message).any(|button| match button {
        serenity::all::ButtonKind::NonLink { custom_id, .. } => {
            render::posted_marker(custom_id).as_deref() == Some(marker)
        }
        _ => false,
    })
}

/// Sends the daily card for `scene` to the server's channel: the card (its button answering privately and carrying
/// `marker`), the role mention when set (pinging only that role), and the nonce. Returns the message id.
async fn send_post(
    ctx: &SerenityContext,
    data: &Data,
    record: &DailyRecord,
    scene: &str,
    marker: &str,
    nonce: String,
) -> Result<u64, Failure> {
    let catalog = &data.responder.catalog;
    let Some(scene) = catalog.scene(scene) else {
        return Err(Failure::Other(format!(
            "the scene {scene} is no longer in the dataset"
        )));
    };
    let locale = record.locale;
    let channel = ChannelId::new(record.channel_id);
    let headline = locale.daily_headline();
    let sent = discord::with_retries("posting the daily scene", data.call_cap, || {
        let mut message = render::posted_scene_card(catalog, scene, locale, marker)
            .into_channel_message()
            .nonce(Nonce::String(nonce.clone()))
            .enforce_nonce(true);
        message = match record.role_id {
            Some(role) => message
                .content(format!("<@&{role}> {headline}"))
                .allowed_mentions(CreateAllowedMentions::new().roles(vec![role])),
            None => message.content(headline),
        };
        channel.send_message(&ctx.http, message)
    })
    .await;
    sent.map(|message| message.id.get())
        .map_err(|error| Failure::of(&error))
}

/// One post to send: the server's schedule, the local date, the scene, and whether it was claimed before (and so
/// may already be in the channel).
struct Step {
    record: DailyRecord,
    date: String,
    scene: String,
    claimed_before: bool,
}

/// Posts every daily scene that is due, now and whenever one comes due; started once per process.
pub async fn scheduler(ctx: SerenityContext, data: Data) {
    let mut clock_moves = data.clock.watch();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let now = data.clock.now();
        let ids = scene_ids(&data);
        let planned = data.store.call(move |store| plan(store, now, &ids)).await;
        let (steps, next_wake) = match planned {
            Ok(planned) => planned,
            Err(error) => {
                error!("daily scheduler cannot read the schedules: {error}");
                (Vec::new(), SCHEDULER_TICK)
            }
        };
        let mut retry_soon = false;
        for step in steps {
            retry_soon |= !post_for_date(&ctx, &data, &step).await;
        }
        let wait = if retry_soon {
            next_wake.min(Duration::from_secs(15))
        } else {
            next_wake
        };
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = data.wake_daily.notified() => {}
            _ = crate::clock::moved(&mut clock_moves) => {}
            _ = data.stopped() => return,
        }
    }
}

/// Decides, inside one blocking task, what is due for every active schedule; records skipped days. Returns the
/// steps and how long until the next post anywhere (at most a minute).
fn plan(
    store: &crate::store::Store,
    now: i64,
    ids: &[String],
) -> Result<(Vec<Step>, Duration), crate::store::StoreError> {
    let mut steps = Vec::new();
    let mut next_wake = SCHEDULER_TICK;
    let Some(now_utc) = DateTime::<Utc>::from_timestamp(now, 0) else {
        return Ok((steps, next_wake));
    };
    for record in store.active_dailies()? {
        let (time, zone) = (record.time, record.timezone);
        let active_since =
            DateTime::<Utc>::from_timestamp(record.active_since, 0).unwrap_or(now_utc);
        let mut pending_claim = None;
        let decision = daily::due(now_utc, time, zone, active_since, |date| {
            match store.daily_post(record.guild_id, &date.to_string()) {
                Ok(Some(post)) if post.state == DailyPostState::Claimed => {
                    pending_claim = post.scene_id;
                    false
                }
                Ok(Some(_)) => true,
                Ok(None) => false,
                // When the record cannot be read, do not risk a second post.
                Err(_) => true,
            }
        });
        match decision {
            Due::Post(date) => {
                let date = date.to_string();
                let guild = record.guild_id;
                let claim = store.claim_daily(guild, &date, now, |bag: &mut ShuffleBag| {
                    bag.draw(ids, &mut rand::rng())
                })?;
                let to_send = match claim {
                    Claim::New(scene) => Some((scene, false)),
                    Claim::Unsent(scene) => Some((scene, true)),
                    Claim::Held | Claim::Done | Claim::Nothing => None,
                };
                if let Some((scene, claimed_before)) = to_send {
                    steps.push(Step {
                        record: record.clone(),
                        date,
                        scene,
                        claimed_before,
                    });
                }
            }
            Due::Skip(date) => {
                let date = date.to_string();
                if pending_claim.is_some() {
                    let paused = store.mark_daily_failed(
                        record.guild_id,
                        &date,
                        PostFailure::Busy.code(),
                        FAILURES_BEFORE_PAUSE,
                    )?;
                    warn!(
                        guild = record.guild_id,
                        date, paused, "daily post given up after 6 hours of failures"
                    );
                } else {
                    store.mark_daily_skipped(record.guild_id, &date, now)?;
                    warn!(guild = record.guild_id, date, "daily post skipped: the bot was down for more than 6 hours past the post time");
                }
            }
            Due::Wait => {}
        }
        let (_, next) = daily::next_post(now_utc, time, zone);
        let until = u64::try_from((next - now_utc).num_seconds()).unwrap_or(0);
        next_wake = next_wake.min(Duration::from_secs(until.max(1)));
    }
    Ok((steps, next_wake))
}

/// Sends a claimed post and records the outcome. A post claimed before (the bot stopped between sending and
/// recording) is first looked for in the channel and adopted when found. Returns false when it should be tried
/// again soon (transient).
async fn post_for_date(ctx: &SerenityContext, data: &Data, step: &Step) -> bool {
    let Step {
        record,
        date,
        scene,
        claimed_before,
    } = step;
    let Some(parsed) = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok() else {
        return true;
    };
    let guild = record.guild_id;
    let marker = date_marker(date);
    let found = if *claimed_before {
        let channel = ChannelId::new(record.channel_id);
        discord::find_own_message(ctx, data.call_cap, channel, |message| {
            carries_marker(message, &marker)
        })
        .await
        .map(|message| message.map(|m| m.id.get()))
    } else {
        Ok(None)
    };
    let sent = match found {
        Ok(Some(message_id)) => {
            info!(
                guild,
                date,
                message = message_id,
                "found the daily post already in the channel; adopting it"
            );
            Ok(message_id)
        }
        Ok(None) => {
            let nonce = daily::post_nonce(guild, parsed);
            send_post(ctx, data, record, scene, &marker, nonce).await
        }
        Err(failure) => Err(failure),
    };
    let date_owned = date.clone();
    match sent {
        Ok(message_id) => {
            let now = data.clock.now();
            let result = data
                .store
                .call(move |store| store.mark_daily_sent(guild, Some(&date_owned), message_id, now))
                .await;
            match result {
                Ok(()) => info!(
                    guild,
                    date,
                    scene,
                    message = message_id,
                    "daily scene posted"
                ),
                Err(error) => error!(
                    guild,
                    date,
                    "daily scene posted but not recorded (found again on the next try): {error}"
                ),
            }
            true
        }
        Err(Failure::Transient(text)) => {
            warn!(
                guild,
                date, "daily scene not posted yet ({text}); will retry"
            );
            false
        }
        Err(failure) => {
            let cause = failure.for_users();
            let paused = data
                .store
                .call(move |store| {
                    store.mark_daily_failed(guild, &date_owned, cause.code(), FAILURES_BEFORE_PAUSE)
                })
                .await
                .unwrap_or(false);
            warn!(
                guild,
                date,
                paused,
                "daily scene failed: {}",
                failure.text()
            );
            true
        }
    }
}
