//! What the bot and a member may do in a channel: the permission sets each feature needs, and reading the
//! permissions from Discord (the channel, the server and the bot's member: the guild cache is off to save memory).
//! The poise checks that refuse a command live in `gate`; this file only knows permissions, so the port and the
//! message search can ask it without reaching up into the commands' layer.

use std::time::Duration;

use serenity::all::{ChannelId, ChannelType, GuildId, Http, Member, Permissions, UserId};

use super::calls::{route, with_retries_paced};
use super::errors::Failure;
use crate::lifecycle::pacer::Pacer;
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

/// What the bot needs to open a thread on its post: Create Public Threads (in a server's text channel).
pub const THREAD: Permissions = Permissions::CREATE_PUBLIC_THREADS;

/// The permissions of `needed` that `have` lacks (none for an administrator).
pub fn missing(have: Permissions, needed: Permissions) -> Permissions {
    if have.contains(Permissions::ADMINISTRATOR) {
        Permissions::empty()
    } else {
        needed - have
    }
}
/// Whether a channel of this type is a thread.
pub(super) fn is_thread(kind: ChannelType) -> bool {
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
pub(super) struct ChannelRead {
    /// The member's, when one was given (else none).
    pub(super) member: Permissions,
    /// The bot's.
    pub(super) bot: Permissions,
    /// Whether the channel is a thread (its parent's permissions were read).
    pub(super) thread: bool,
}

/// Reads what [`ChannelRead`] holds; paced when `pacer` is given (background work), at once for a command.
pub(super) async fn read_channel(
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
