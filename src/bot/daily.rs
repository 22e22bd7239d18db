//! `/daily`: each server picks a channel, a time and a time zone; one post a day, never twice, none lost.
//!
//! A post is claimed in SQLite (with the scene drawn from the server's shuffle bag, in the same transaction) before
//! it is sent, and marked sent after; the message carries a nonce with `enforce_nonce`, so a resend after a crash
//! returns the message already posted. The [`scheduler`] starts once per process and re-checks at least every
//! minute.

use std::time::Duration;

use chrono::{DateTime, NaiveTime, Utc};
use chrono_tz::Tz;
use serenity::all::{
    ChannelId, Context as SerenityContext, CreateAllowedMentions, CreateAutocompleteResponse,
    Nonce, PartialChannel, Permissions, Role,
};
use tracing::{error, info, warn};

use super::commands::tell;
use super::discord::{self, Failure, CARD_PERMISSIONS};
use super::{Context, Data, Error};
use crate::daily::{self, Due, ShuffleBag, FAILURES_BEFORE_PAUSE};
use crate::locale::Locale;
use crate::render;
use crate::store::{Claim, DailyPostState, DailyRecord, DailySettings};

/// The scheduler looks at the schedules at least this often, so clock steps and suspends cannot strand a post.
const SCHEDULER_TICK: Duration = Duration::from_secs(60);

/// The daily scene: set it up, turn it off, see its status, or post one now
#[poise::command(
    slash_command,
    guild_only,
    default_member_permissions = "MANAGE_GUILD",
    subcommands("set", "off", "status", "now"),
    subcommand_required,
    description_localized("ko", "매일 장면: 설정, 끄기, 상태, 지금 올리기")
)]
pub async fn daily(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Whether the member may manage the daily scene (checked on every call).
fn is_manager(ctx: Context<'_>) -> bool {
    super::commands::member_can(ctx, Permissions::MANAGE_GUILD)
}

async fn refuse_non_manager(ctx: Context<'_>, locale: Locale) -> Result<(), Error> {
    tell(
        ctx,
        locale
            .choose(
                "You need the **Manage Server** permission to change the daily scene.",
                "매일 장면을 바꾸려면 **서버 관리** 권한이 필요해요.",
            )
            .to_owned(),
    )
    .await
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
    let locale = super::commands::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    if !is_manager(ctx) {
        return refuse_non_manager(ctx, locale).await;
    }
    let time_text = time.unwrap_or_else(|| daily::DEFAULT_TIME.to_owned());
    let post_time = match daily::parse_time(&time_text) {
        Ok(time) => time,
        Err(error) => {
            return tell(
                ctx,
                format!("⚠️ {}", render::quote_user_text(&error.to_string())),
            )
            .await
        }
    };
    let zone_text = timezone.unwrap_or_else(|| daily::DEFAULT_ZONE.to_owned());
    let zone = match daily::parse_zone(&zone_text) {
        Ok(zone) => zone,
        Err(error) => {
            return tell(
                ctx,
                format!("⚠️ {}", render::quote_user_text(&error.to_string())),
            )
            .await
        }
    };
    let have = super::commands::bot_permissions(ctx, guild_id, channel.id).await;
    let missing = match have {
        Ok(have) => discord::missing(have, &CARD_PERMISSIONS),
        Err(failure) => {
            warn!(guild = %guild_id, "cannot read the bot's permissions: {}", failure.text());
            vec!["View Channel"]
        }
    };
    if !missing.is_empty() {
        return tell(
            ctx,
            format!(
                "{} <#{}>: **{}**.",
                locale.choose(
                    "I can't post there: I'm missing these permissions in",
                    "그 채널에 올릴 수 없어요. 봇에게 필요한 권한이 없어요:"
                ),
                channel.id,
                missing.join("**, **")
            ),
        )
        .await;
    }
    let data = ctx.data();
    let settings = DailySettings {
        guild_id: guild_id.get(),
        channel_id: channel.id.get(),
        time: post_time,
        timezone: zone,
        role_id: role.as_ref().map(|r| r.id.get()),
        locale: super::commands::guild_locale_of(ctx),
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
        format!(
            "{} <#{}> · {} {} ({}) · {} {}",
            locale.choose("Daily scene on in", "매일 장면을 켰어요:"),
            channel.id,
            post_time.format("%H:%M"),
            zone.name(),
            locale.choose("every day", "매일"),
            locale.choose("next:", "다음:"),
            next.map_or_else(String::new, |t| format!("<t:{t}:F> (<t:{t}:R>)"))
        ),
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
    description_localized("ko", "매일 장면을 꺼요 (설정은 남아요)")
)]
pub async fn off(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::commands::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    if !is_manager(ctx) {
        return refuse_non_manager(ctx, locale).await;
    }
    let guild = guild_id.get();
    let was_on = ctx
        .data()
        .store
        .call(move |store| store.daily_off(guild))
        .await?;
    let text = if was_on {
        locale.choose(
            "Daily scene off. `/daily set` turns it back on.",
            "매일 장면을 껐어요. `/daily set`으로 다시 켤 수 있어요.",
        )
    } else {
        locale.choose(
            "The daily scene was not on.",
            "매일 장면이 켜져 있지 않았어요.",
        )
    };
    tell(ctx, text.to_owned()).await
}

/// When the next daily scene comes, and how the last one went
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "다음 매일 장면은 언제인지, 지난번은 어땠는지")
)]
pub async fn status(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::commands::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    let data = ctx.data();
    let guild = guild_id.get();
    let record = data.store.call(move |store| store.daily(guild)).await?;
    let text = match record {
        None => locale
            .choose(
                "The daily scene is not set up here. A moderator can start it with `/daily set`.",
                "이 서버에는 매일 장면이 설정되어 있지 않아요. 운영진이 `/daily set`으로 시작할 수 있어요.",
            )
            .to_owned(),
        Some(record) => status_text(&record, data, locale),
    };
    tell(ctx, text).await
}

/// `/daily status` in words.
fn status_text(record: &DailyRecord, data: &Data, locale: Locale) -> String {
    let now = data.clock.now();
    let ids: Vec<String> = data
        .responder
        .catalog
        .scenes
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let mut lines = vec![format!(
        "**{}** <#{}> · {} {}",
        locale.choose("Daily scene:", "매일 장면:"),
        record.channel_id,
        record.time.format("%H:%M"),
        record.timezone.name()
    )];
    if let Some(role) = record.role_id {
        lines.push(format!(
            "{} <@&{role}>",
            locale.choose("Mentions:", "멘션:")
        ));
    }
    if !record.enabled {
        lines.push(
            locale
                .choose(
                    "⏹️ Off. `/daily set` turns it back on.",
                    "⏹️ 꺼져 있어요. `/daily set`으로 다시 켤 수 있어요.",
                )
                .to_owned(),
        );
    } else if record.paused {
        lines.push(format!(
            "⏸️ {} {}",
            locale.choose(
                "Paused after 3 failed days in a row. Fix the channel or my permissions, then run `/daily set` to resume.",
                "3일 연속 실패해서 멈췄어요. 채널이나 봇 권한을 고친 뒤 `/daily set`으로 다시 시작해 주세요.",
            ),
            ""
        ));
    } else if let Some(next) = next_post_at(now, record.time, record.timezone) {
        lines.push(format!(
            "{} <t:{next}:F> (<t:{next}:R>)",
            locale.choose("Next post:", "다음 게시:")
        ));
    }
    lines.push(format!(
        "{} {}",
        locale.choose("Scenes left in this round:", "이번 순서에 남은 장면:"),
        record.bag.left_in_round(&ids)
    ));
    match record.last_post_at {
        Some(at) => lines.push(format!(
            "{} <t:{at}:F> (<t:{at}:R>)",
            locale.choose("Last post:", "마지막 게시:")
        )),
        None => lines.push(
            locale
                .choose("No post yet.", "아직 올린 장면이 없어요.")
                .to_owned(),
        ),
    }
    if let Some(error) = &record.last_error {
        lines.push(format!(
            "⚠️ {} {} ({} {})",
            locale.choose("Last error:", "마지막 오류:"),
            error,
            record.failures,
            locale.choose("failed days in a row", "일 연속 실패")
        ));
    }
    lines.join("\n")
}

/// Post the next daily scene right now
#[poise::command(
    slash_command,
    guild_only,
    description_localized("ko", "다음 매일 장면을 지금 바로 올려요")
)]
pub async fn now(ctx: Context<'_>) -> Result<(), Error> {
    let locale = super::commands::locale_of(ctx);
    let Some(guild_id) = ctx.guild_id() else {
        return Ok(());
    };
    if !is_manager(ctx) {
        return refuse_non_manager(ctx, locale).await;
    }
    let data = ctx.data();
    let guild = guild_id.get();
    let Some(record) = data.store.call(move |store| store.daily(guild)).await? else {
        return tell(
            ctx,
            locale
                .choose(
                    "Set the daily scene up first with `/daily set`.",
                    "먼저 `/daily set`으로 매일 장면을 설정해 주세요.",
                )
                .to_owned(),
        )
        .await;
    };
    ctx.defer_ephemeral().await?;
    let ids: Vec<String> = data
        .responder
        .catalog
        .scenes
        .iter()
        .map(|s| s.id.clone())
        .collect();
    let scene = data
        .store
        .call(move |store| store.draw_daily(guild, |bag| bag.draw(&ids, &mut rand::rng())))
        .await?;
    let Some(scene) = scene else {
        return tell(ctx, locale.strings().internal_error.to_owned()).await;
    };
    let nonce = format!("n{}", ctx.id() % 1_000_000_000_000_000_000);
    match send_post(ctx.serenity_context(), data, &record, &scene, nonce).await {
        Ok(message_id) => {
            let now = data.clock.now();
            data.store
                .call(move |store| store.mark_daily_sent(guild, None, message_id, now))
                .await?;
            tell(
                ctx,
                format!(
                    "{} <#{}>.",
                    locale.choose("Posted in", "올렸어요:"),
                    record.channel_id
                ),
            )
            .await
        }
        Err(failure) => {
            warn!(guild, "daily now failed: {}", failure.text());
            tell(
                ctx,
                format!(
                    "{} <#{}>. {}",
                    locale.choose("I couldn't post in", "올리지 못했어요:"),
                    record.channel_id,
                    locale.choose(
                        "Please check my permissions there.",
                        "그 채널의 봇 권한을 확인해 주세요."
                    )
                ),
            )
            .await
        }
    }
}

/// Sends the daily card for `scene` to the server's channel: the card, the role mention when set (pinging only
/// that role), and the nonce. Returns the message id.
async fn send_post(
    ctx: &SerenityContext,
    data: &Data,
    record: &DailyRecord,
    scene: &str,
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
    let headline = locale.choose("🌅 Today's Park Seo-joon scene", "🌅 오늘의 박서준 장면");
    let sent = discord::with_retries("posting the daily scene", data.call_cap, || {
        let mut message = render::scene_card(catalog, scene, locale)
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

/// One post to send (or resend): the server's schedule, the local date, the scene.
type Send = (DailyRecord, String, String);

/// Posts every daily scene that is due, now and whenever one comes due; started once per process.
pub async fn scheduler(ctx: SerenityContext, data: Data) {
    let mut clock_moves = data.clock.watch();
    loop {
        crate::clock::mark_seen(&mut clock_moves);
        let now = data.clock.now();
        let ids: Vec<String> = data
            .responder
            .catalog
            .scenes
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let planned = data.store.call(move |store| plan(store, now, &ids)).await;
        let (steps, next_wake) = match planned {
            Ok(planned) => planned,
            Err(error) => {
                error!("daily scheduler cannot read the schedules: {error}");
                (Vec::new(), SCHEDULER_TICK)
            }
        };
        let mut retry_soon = false;
        for (record, date, scene) in steps {
            retry_soon |= !post_for_date(&ctx, &data, &record, &date, &scene).await;
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
) -> Result<(Vec<Send>, Duration), crate::store::StoreError> {
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
                match claim {
                    Claim::New(scene) | Claim::Unsent(scene) => {
                        steps.push((record.clone(), date, scene))
                    }
                    Claim::Held | Claim::Done | Claim::Nothing => {}
                }
            }
            Due::Skip(date) => {
                let date = date.to_string();
                if pending_claim.is_some() {
                    let paused = store.mark_daily_failed(
                        record.guild_id,
                        &date,
                        "the post could not be sent within 6 hours",
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

/// Sends a claimed post and records the outcome. Returns false when it should be tried again soon (transient).
async fn post_for_date(
    ctx: &SerenityContext,
    data: &Data,
    record: &DailyRecord,
    date: &str,
    scene: &str,
) -> bool {
    let Some(parsed) = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").ok() else {
        return true;
    };
    let nonce = daily::post_nonce(record.guild_id, parsed);
    let guild = record.guild_id;
    let date_owned = date.to_owned();
    match send_post(ctx, data, record, scene, nonce).await {
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
                    date, "daily scene posted but not recorded (a resend is safe): {error}"
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
            let problem = match &failure {
                Failure::Gone(text) => format!("the channel is gone ({text})"),
                Failure::Forbidden(text) => {
                    format!("no access or permission in the channel ({text})")
                }
                other => other.text().to_owned(),
            };
            let kept = problem.clone();
            let paused = data
                .store
                .call(move |store| {
                    store.mark_daily_failed(guild, &date_owned, &kept, FAILURES_BEFORE_PAUSE)
                })
                .await
                .unwrap_or(false);
            warn!(guild, date, paused, "daily scene failed: {problem}");
            true
        }
    }
}
