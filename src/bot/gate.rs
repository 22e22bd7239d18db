//! Who may do what, and where: one gate for the member's permission (a poise `check` on every moderator command,
//! whatever Discord's command permissions say) and one for the channel a command acts on, which is not always the
//! channel it was typed in (`/favorite start channel:`, `/daily set channel:`). Both the member and the bot must hold
//! the permissions in *that* channel.

use std::time::Duration;

use serenity::all::{
    ChannelId, ChannelType, Context as SerenityContext, GuildId, Http, Member, Permissions, UserId,
};
use tracing::{info, warn};

use super::budget::Held;
use super::calls::{route, with_retries_paced, Failure};
use super::interaction::tell;
use super::types::{Context, Error};
use crate::lifecycle::fanout::Pacer;
use crate::locale::Locale;

/// What the bot needs to post a card in a channel.
pub const CARD: Permissions = Permissions::VIEW_CHANNEL
    .union(Permissions::SEND_MESSAGES)
    .union(Permissions::EMBED_LINKS);

/// What the bot needs for a favorite poll: post it, and read it back (its results; and, after a crash, to find it
/// again in the channel instead of posting it twice).
pub const POLL: Permissions = CARD
    .union(Permissions::SEND_POLLS)
    .union(Permissions::READ_MESSAGE_HISTORY);

/// What the bot needs for daily posts: post them, and find one again after a crash instead of posting it twice.
pub const DAILY: Permissions = CARD.union(Permissions::READ_MESSAGE_HISTORY);

/// What a moderator needs in the channel a poll goes to: to see it and moderate it (the bot does the posting).
pub const MODERATOR_IN_CHANNEL: Permissions =
    Permissions::VIEW_CHANNEL.union(Permissions::MANAGE_MESSAGES);

/// What a server manager needs in the channel daily posts go to: to see it and write in it.
pub const MANAGER_IN_CHANNEL: Permissions =
    Permissions::VIEW_CHANNEL.union(Permissions::SEND_MESSAGES);

/// The permissions of `needed` that `have` lacks (none for an administrator).
pub fn missing(have: Permissions, needed: Permissions) -> Permissions {
    if have.contains(Permissions::ADMINISTRATOR) {
        Permissions::empty()
    } else {
        needed - have
    }
}

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

/// Whether a channel of this type is a thread.
fn is_thread(kind: ChannelType) -> bool {
    matches!(
        kind,
        ChannelType::NewsThread | ChannelType::PublicThread | ChannelType::PrivateThread
    )
}

/// What a thread asks for in place of `needed`: Discord checks Send Messages in Threads there, not Send Messages.
pub fn in_thread(needed: Permissions) -> Permissions {
    if needed.contains(Permissions::SEND_MESSAGES) {
        (needed - Permissions::SEND_MESSAGES) | Permissions::SEND_MESSAGES_IN_THREADS
    } else {
        needed
    }
}

/// The member's (when given) and the bot's permissions in `channel`, from one read of the channel, the server and
/// the bot's member (each call capped at `cap`). A channel of another server is refused: an interaction names
/// channels by id, and only its own server's are the member's to act on.
pub async fn in_channel(
    ctx: &SerenityContext,
    cap: Duration,
    guild: GuildId,
    channel: ChannelId,
    member: Option<&Member>,
) -> Result<(Permissions, Permissions), Failure> {
    read_channel(
        &ctx.http,
        ctx.cache.current_user().id,
        cap,
        None,
        guild,
        channel,
        member,
    )
    .await
    .map(|read| (read.member, read.bot))
}

/// The bot's permissions in `channel` (its parent's for a thread), from one read of the channel, the server and
/// the bot's member: for the background processes, which have no interaction to carry them. Their reads take
/// their slots of the shared send schedule (`pacer`), like every background request: 10,000 servers' threads at
/// 09:00 must not be 30,000 reads at once.
pub async fn bot_permissions_in(
    http: &Http,
    me: UserId,
    cap: Duration,
    pacer: &Pacer,
    guild: GuildId,
    channel: ChannelId,
) -> Result<Permissions, Failure> {
    read_channel(http, me, cap, Some(pacer), guild, channel, None)
        .await
        .map(|read| read.bot)
}

/// The permissions [`read_channel`] found, and whether the channel is a thread (which asks [`in_thread`]).
struct ChannelRead {
    member: Permissions,
    bot: Permissions,
    thread: bool,
}

/// Reads what [`ChannelRead`] holds; paced when `pacer` is given (background work), at once for a command.
async fn read_channel(
    http: &Http,
    me: UserId,
    cap: Duration,
    pacer: Option<&Pacer>,
    guild: GuildId,
    channel: ChannelId,
    member: Option<&Member>,
) -> Result<ChannelRead, Failure> {
    let read = |id: ChannelId| async move {
        with_retries_paced("reading a channel", route::CHANNEL, cap, pacer, || {
            http.get_channel(id)
        })
        .await
        .map_err(|e| Failure::of(&e))?
        .guild()
        .ok_or_else(|| Failure::Other("not a server channel".to_owned()))
    };
    let mut channel = read(channel).await?;
    if channel.guild_id != guild {
        return Err(Failure::Other(format!(
            "channel {} belongs to another server",
            channel.id
        )));
    }
    // A thread has no overwrites of its own: its permissions are its parent channel's.
    let thread = is_thread(channel.kind);
    if thread {
        let parent = channel.parent_id.ok_or_else(|| {
            Failure::Other(format!("thread {} has no parent channel", channel.id))
        })?;
        channel = read(parent).await?;
        if channel.guild_id != guild {
            return Err(Failure::Other(format!(
                "channel {} belongs to another server",
                channel.id
            )));
        }
    }
    let guild = with_retries_paced("reading a server", route::GUILD, cap, pacer, || {
        http.get_guild(guild)
    })
    .await
    .map_err(|e| Failure::of(&e))?;
    let bot = with_retries_paced(
        "reading the bot's member",
        route::MEMBER,
        cap,
        pacer,
        || http.get_member(guild.id, me),
    )
    .await
    .map_err(|e| Failure::of(&e))?;
    let member = member.map_or_else(Permissions::empty, |m| {
        guild.user_permissions_in(&channel, m)
    });
    Ok(ChannelRead {
        member,
        bot: guild.user_permissions_in(&channel, &bot),
        thread,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_permissions_are_the_difference_and_admins_lack_nothing() {
        let have = Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES;
        assert_eq!(missing(have, CARD), Permissions::EMBED_LINKS);
        assert_eq!(
            missing(have, POLL),
            Permissions::EMBED_LINKS | Permissions::SEND_POLLS | Permissions::READ_MESSAGE_HISTORY
        );
        assert!(missing(Permissions::ADMINISTRATOR, POLL).is_empty());
    }

    #[test]
    fn a_thread_asks_for_send_messages_in_threads_instead() {
        let needed = in_thread(POLL);
        assert!(needed.contains(Permissions::SEND_MESSAGES_IN_THREADS));
        assert!(!needed.contains(Permissions::SEND_MESSAGES));
        assert_eq!(
            in_thread(MODERATOR_IN_CHANNEL),
            MODERATOR_IN_CHANNEL,
            "nothing to send, nothing changes"
        );
    }
}
