//! Who may do what, and where: one gate for the member's permission (a poise `check` on every moderator command,
//! whatever Discord's command permissions say) and one for the channel a command acts on, which is not always the
//! channel it was typed in (`/favorite start channel:`, `/daily set channel:`). Both the member and the bot must hold
//! the permissions in *that* channel.

use serenity::all::{ChannelId, GuildId, Permissions};
use tracing::{info, warn};

use super::budget::Held;
use super::errors::Failure;
use super::interaction::tell;
use super::perms::{in_thread, is_thread, missing, read_channel};
use super::types::{Context, Error};
use crate::locale::Locale;

/// poise check: the member holds Manage Messages (favorite polls). Tells them otherwise.
pub async fn moderator(ctx: Context<'_>) -> Result<bool, Error> {
    require(ctx, Permissions::MANAGE_MESSAGES).await
}

/// poise check: the member holds Manage Server (the daily scene). Tells them otherwise.
pub async fn manager(ctx: Context<'_>) -> Result<bool, Error> {
    require(ctx, Permissions::MANAGE_GUILD).await
}

async fn require(ctx: Context<'_>, permission: Permissions) -> Result<bool, Error> {
    if member_can(ctx, permission) {
        return Ok(true);
    }
    let locale = super::interaction::locale_of(ctx);
    tell(ctx, locale.member_needs(permission)).await?;
    Ok(false)
}

/// Whether the member holds `permission` (or is an administrator) in the channel the command was typed in, as the
/// interaction says.
pub fn member_can(ctx: Context<'_>, permission: Permissions) -> bool {
    let poise::Context::Application(app) = ctx else {
        return false;
    };
    app.interaction
        .member
        .as_ref()
        .and_then(|member| member.permissions)
        .is_some_and(|p| p.contains(permission) || p.contains(Permissions::ADMINISTRATOR))
}

/// Why a command may not act in a channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The channel or the server could not be read (deleted, no access, Discord failing).
    Unreadable(Failure),
    /// The member lacks these permissions there.
    Member(Permissions),
    /// The bot lacks these permissions there.
    Bot(Permissions),
    /// The read was not made: the invalid-request budget holds it back ([`super::budget`]).
    Held(Held),
}

impl Refusal {
    /// The user's one-line explanation.
    pub fn text(&self, locale: Locale, channel: ChannelId) -> String {
        match self {
            Refusal::Unreadable(Failure::Transient(_)) => locale.discord_busy().to_owned(),
            Refusal::Unreadable(_) => locale.cannot_see_channel(channel.get()),
            Refusal::Member(missing) => locale.member_lacks_in(channel.get(), *missing),
            Refusal::Bot(missing) => locale.bot_lacks_in(channel.get(), *missing),
            Refusal::Held(Held::NearBan) => locale.discord_busy().to_owned(),
            Refusal::Held(Held::TooFast(wait)) => {
                let again =
                    std::time::SystemTime::now() + *wait + std::time::Duration::from_secs(1);
                let unix = again
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |since| since.as_secs());
                locale.slow_down(i64::try_from(unix).unwrap_or(i64::MAX))
            }
        }
    }
}

/// Checks that the member and the bot both hold what they need in `channel`, and returns what the member holds
/// there. The channel the command was typed in needs no call (the interaction carries both permission sets);
/// another channel is read from Discord once (the guild cache is off to save memory) and both are computed from
/// it. That read spends the budget every server shares ([`super::budget`]): a channel that refused the bot
/// recently is answered from memory, the read waits while the process is near Discord's invalid-request ban, and
/// each server and member may make only so many a minute.
pub async fn channel_allows(
    ctx: Context<'_>,
    guild: GuildId,
    channel: ChannelId,
    member_needs: Permissions,
    bot_needs: Permissions,
) -> Result<Permissions, Refusal> {
    let poise::Context::Application(app) = ctx else {
        return Err(Refusal::Member(member_needs));
    };
    let (member_has, bot_has, thread) = if channel == ctx.channel_id() {
        let member = app
            .interaction
            .member
            .as_ref()
            .and_then(|m| m.permissions)
            .unwrap_or_else(Permissions::empty);
        let thread = app
            .interaction
            .channel
            .as_ref()
            .is_some_and(|c| is_thread(c.kind));
        (
            member,
            app.interaction
                .app_permissions
                .unwrap_or_else(Permissions::empty),
            thread,
        )
    } else {
        let member = app.interaction.member.as_deref();
        let serenity = ctx.serenity_context();
        let me = serenity.cache.current_user().id;
        let budget = &ctx.data().budget;
        if budget.refused_recently(channel.get()) {
            return Err(Refusal::Unreadable(Failure::Forbidden(format!(
                "channel {channel} refused the bot within the last minutes"
            ))));
        }
        budget
            .may_read_channel(guild.get(), ctx.author().id.get())
            .map_err(|held| {
                info!(guild = %guild, channel = %channel, ?held, "channel read held back");
                Refusal::Held(held)
            })?;
        let read = read_channel(&serenity.http, me, ctx.data().call_cap, None, guild, channel, member)
            .await
            .map_err(|failure| {
                warn!(guild = %guild, channel = %channel, "cannot read the channel's permissions: {}", failure.text());
                if matches!(failure, Failure::Forbidden(_) | Failure::Gone(_)) {
                    budget.remember_refused(channel.get());
                }
                Refusal::Unreadable(failure)
            })?;
        (read.member, read.bot, read.thread)
    };
    let (member_needs, bot_needs) = if thread {
        (in_thread(member_needs), in_thread(bot_needs))
    } else {
        (member_needs, bot_needs)
    };
    let lacking = missing(member_has, member_needs);
    if !lacking.is_empty() {
        return Err(Refusal::Member(lacking));
    }
    let lacking = missing(bot_has, bot_needs);
    if !lacking.is_empty() {
        return Err(Refusal::Bot(lacking));
    }
    Ok(member_has)
}
