//! What every command does with its interaction: read the user's and the server's language, defer, and reply
//! (privately, or with a card), each Discord call cut after the call cap. Commands, the permission gate and the
//! error funnel share these, so they live apart from any one command.

use std::sync::atomic::Ordering;

use serenity::all::CreateInteractionResponse;

use super::calls::route;
use super::types::{Context, Error};
use crate::locale::Locale;

/// The language of the server's public posts (polls, results, daily posts, quiz rounds) for a feature set up now: the
/// moderators' `/language` choice, else the server's own locale, else the caller's ([`crate::locale::public_locale`]).
pub async fn public_locale_of(ctx: Context<'_>) -> Result<Locale, Error> {
    let guild_locale = match ctx {
        poise::Context::Application(app) => app.interaction.guild_locale.clone(),
        poise::Context::Prefix(_) => None,
    };
    let chosen = match ctx.guild_id() {
        Some(guild) => {
            let guild = guild.get();
            ctx.data()
                .store
                .call(move |store| store.server_language(guild))
                .await?
        }
        None => None,
    };
    Ok(crate::locale::public_locale(chosen, guild_locale.as_deref(), locale_of(ctx)).0)
}

/// An ephemeral text reply (or follow-up, once deferred), mentioning nobody; cut after the call cap.
pub async fn tell(ctx: Context<'_>, text: String) -> Result<(), Error> {
    let reply = notice(text);
    super::calls::answering(
        send_route(ctx),
        ctx.data().call_cap,
        answer_deadline(ctx),
        || ctx.send(reply.clone()),
    )
    .await?;
    Ok(())
}

/// Where poise sends a reply: the interaction's callback first, a follow-up once it has been answered (or deferred).
pub fn send_route(ctx: Context<'_>) -> &'static str {
    if answered(ctx) {
        route::FOLLOWUP
    } else {
        route::INTERACTION_CALLBACK
    }
}

/// Whether this interaction has had its first answer (or deferral), so what is sent now is a follow-up.
fn answered(ctx: Context<'_>) -> bool {
    matches!(ctx, poise::Context::Application(app) if app.has_sent_initial_response.load(Ordering::SeqCst))
}

/// How long after an interaction its follow-ups may be sent: the token's 15 minutes less half a minute for the
/// clocks.
const FOLLOWUP_WINDOW: std::time::Duration = std::time::Duration::from_secs(15 * 60 - 30);

/// Until when a rate-limited answer to this interaction is worth trying again: a first answer must reach
/// Discord within 3 s of the interaction (so within 2 s from now at best), a follow-up within the token's
/// 15 minutes (less half a minute for the clocks).
pub fn answer_deadline(ctx: Context<'_>) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    match ctx {
        poise::Context::Application(app)
            if app.has_sent_initial_response.load(Ordering::SeqCst) =>
        {
            let now_ms = u64::try_from(ctx.data().clock.now_ms()).unwrap_or(0);
            let age = crate::telemetry::snowflake_age(app.interaction.id.get(), now_ms);
            now + FOLLOWUP_WINDOW.saturating_sub(age)
        }
        _ => now + std::time::Duration::from_secs(2),
    }
}

/// A short private text: ephemeral, mentioning nobody. Pure, so its JSON is tested without Discord.
pub fn notice(text: String) -> poise::CreateReply {
    poise::CreateReply::default()
        .content(text)
        .ephemeral(true)
        .allowed_mentions(crate::render::no_mentions())
}

/// Defers the reply ephemerally (Discord shows "thinking…" to the user alone); cut after the call cap.
pub async fn defer_ephemeral(ctx: Context<'_>) -> Result<(), Error> {
    super::calls::capped(
        route::INTERACTION_CALLBACK,
        ctx.data().call_cap,
        ctx.defer_ephemeral(),
    )
    .await?;
    Ok(())
}

/// How long a command may spend before its first answer without deferring: Discord drops an interaction not
/// answered within 3 s, and the deferral itself needs time to get there.
pub const DEFER_AFTER: std::time::Duration = std::time::Duration::from_millis(1500);

/// Discord's deadline for an interaction's first answer, from the interaction's creation.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(3);

/// How long a command may still spend before deferring, for an interaction `age` old (its snowflake's time to now,
/// on the wall clock): [`DEFER_AFTER`] counted from the interaction's creation, since Discord's 3 s run from there,
/// not from the moment the bot got it (a burst of interactions on one shard reaches the bot a second or more late).
/// An age of 3 s or more means a clock that disagrees with Discord's (such an interaction could not be answered
/// at all): then the full [`DEFER_AFTER`], as if the age were unknown.
pub fn defer_after(age: std::time::Duration) -> std::time::Duration {
    if age >= ANSWER_WITHIN {
        DEFER_AFTER
    } else {
        DEFER_AFTER.saturating_sub(age)
    }
}

/// How old this interaction is now, by the wall clock (Discord's 3 s are real time, whatever the bot's clock).
fn interaction_age(ctx: Context<'_>) -> std::time::Duration {
    let poise::Context::Application(app) = ctx else {
        return std::time::Duration::ZERO;
    };
    crate::telemetry::snowflake_age(app.interaction.id.get(), crate::telemetry::wall_clock_ms())
}

/// Runs `work` (store calls, typically) and returns its output; should it run past [`defer_after`] (1.5 s from the
/// interaction's creation), the reply is deferred meanwhile (ephemerally when `private`), so a slow store (a
/// PostgreSQL pool wait, a locked SQLite file, a burst of commands queued on it) never costs the user their answer.
/// What is sent afterwards goes through poise, which follows up.
pub async fn within_deadline<T>(
    ctx: Context<'_>,
    private: bool,
    work: impl std::future::Future<Output = T>,
) -> Result<T, Error> {
    let mut work = std::pin::pin!(work);
    match tokio::time::timeout(defer_after(interaction_age(ctx)), &mut work).await {
        Ok(done) => Ok(done),
        Err(_) => {
            let cap = ctx.data().call_cap;
            if private {
                super::calls::capped(route::INTERACTION_CALLBACK, cap, ctx.defer_ephemeral())
                    .await?;
            } else {
                super::calls::capped(route::INTERACTION_CALLBACK, cap, ctx.defer()).await?;
            }
            Ok(work.await)
        }
    }
}

/// Sends `card` as this interaction's reply, or as its follow-up once deferred; mentioning nobody, cut after the
/// call cap.
pub async fn send_card(ctx: Context<'_>, card: crate::render::Card) -> Result<(), Error> {
    let mut reply = poise::CreateReply::default().allowed_mentions(crate::render::no_mentions());
    reply = card
        .embeds
        .into_iter()
        .fold(reply, poise::CreateReply::embed);
    reply = reply.components(card.components);
    super::calls::answering(
        send_route(ctx),
        ctx.data().call_cap,
        answer_deadline(ctx),
        || ctx.send(reply.clone()),
    )
    .await?;
    Ok(())
}

/// The reply language of this interaction.
pub fn locale_of(ctx: Context<'_>) -> Locale {
    ctx.locale().map_or(Locale::En, Locale::from_discord)
}

/// Sends the core's response as this interaction's reply: the one place commands send.
pub async fn reply(ctx: Context<'_>, response: CreateInteractionResponse) -> Result<(), Error> {
    if let poise::Context::Application(app) = ctx {
        // Capped like every call: serenity's rate limiter would otherwise retry a 429 without end.
        let cap = ctx.data().call_cap;
        super::calls::capped(
            route::INTERACTION_CALLBACK,
            cap,
            app.interaction.create_response(ctx.http(), response),
        )
        .await?;
        app.has_sent_initial_response.store(true, Ordering::SeqCst);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_deferral_deadline_counts_from_the_interactions_creation() {
        assert_eq!(defer_after(Duration::ZERO), DEFER_AFTER);
        assert_eq!(
            defer_after(Duration::from_millis(400)),
            Duration::from_millis(1100)
        );
        // Received at 1.5 s or later: defer at once.
        assert_eq!(defer_after(Duration::from_millis(1500)), Duration::ZERO);
        assert_eq!(defer_after(Duration::from_millis(2900)), Duration::ZERO);
        // Older than Discord's 3 s: the clocks disagree; the full wait, as before.
        assert_eq!(defer_after(Duration::from_secs(3)), DEFER_AFTER);
        assert_eq!(defer_after(Duration::from_secs(3600)), DEFER_AFTER);
    }

    #[test]
    fn a_notice_is_private_and_mentions_nobody() {
        let message = notice("<@&1> <@2> @everyone".to_owned())
            .to_slash_initial_response(serenity::all::CreateInteractionResponseMessage::new());
        let json = serde_json::to_value(message).unwrap_or_default();
        assert_eq!(json["flags"], 64, "{json}");
        assert_eq!(json["content"], "<@&1> <@2> @everyone");
        assert_eq!(
            json["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "{json}"
        );
    }
}
