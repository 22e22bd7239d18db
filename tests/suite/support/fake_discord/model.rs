//! What a fake Discord is made of: its options, guilds, channels, roles, users, permission and intent bits.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::super::openapi::ApiSpec;
use super::json::capitalize;
use super::FakeDiscord;

/// Discord permission bits used by the fake (see Discord's "Permissions" topic).
pub mod permissions {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const MANAGE_GUILD: u64 = 1 << 5;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const MANAGE_MESSAGES: u64 = 1 << 13;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const CONNECT: u64 = 1 << 20;
    pub const SPEAK: u64 = 1 << 21;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
    pub const CREATE_PUBLIC_THREADS: u64 = 1 << 35;
    pub const SEND_MESSAGES_IN_THREADS: u64 = 1 << 38;
    pub const SEND_POLLS: u64 = 1 << 49;
    /// Every permission bit Discord currently defines (and a few spare), as owners get them.
    pub const ALL: u64 = (1 << 51) - 1;
    /// What the bot's invite asks for: VIEW_CHANNEL + SEND_MESSAGES + EMBED_LINKS + SEND_POLLS.
    pub const BOT_INVITE: u64 = VIEW_CHANNEL | SEND_MESSAGES | EMBED_LINKS | SEND_POLLS;
    /// A typical `@everyone` role of a new server.
    pub const EVERYONE_DEFAULT: u64 = CREATE_INSTANT_INVITE
        | ADD_REACTIONS
        | VIEW_CHANNEL
        | SEND_MESSAGES
        | EMBED_LINKS
        | ATTACH_FILES
        | READ_MESSAGE_HISTORY
        | USE_EXTERNAL_EMOJIS
        | CONNECT
        | SPEAK
        | CHANGE_NICKNAME
        | USE_APPLICATION_COMMANDS
        | CREATE_PUBLIC_THREADS
        | SEND_MESSAGES_IN_THREADS
        | SEND_POLLS;
}

/// Gateway intent bits the fake looks at.
pub mod intents {
    pub const GUILDS: u64 = 1 << 0;
    pub const GUILD_MEMBERS: u64 = 1 << 1;
    pub const GUILD_MESSAGES: u64 = 1 << 9;
    pub const DIRECT_MESSAGES: u64 = 1 << 12;
    pub const MESSAGE_CONTENT: u64 = 1 << 15;
    pub const GUILD_MESSAGE_POLLS: u64 = 1 << 24;
    pub const DIRECT_MESSAGE_POLLS: u64 = 1 << 25;
}

/// How a [`FakeDiscord`] starts.
#[derive(Clone)]
pub struct FakeOptions {
    /// The bot token the fake accepts (without the `Bot ` prefix).
    pub token: String,
    /// When set, every request is checked against Discord's OpenAPI description.
    pub spec: Option<Arc<ApiSpec>>,
    /// Guilds announced in READY and sent as GUILD_CREATE.
    pub guilds: Vec<FakeGuild>,
    /// The heartbeat interval sent in HELLO.
    pub heartbeat_interval: Duration,
    /// The application id (for bots, equal to the bot user's id).
    pub application_id: u64,
    /// The bot's user.
    pub bot_user: FakeUser,
    /// People the fake knows (interaction users, voters, guild members, owners).
    pub users: Vec<FakeUser>,
    /// Initial interaction responses later than this are refused (Discord: 3 s).
    pub interaction_deadline: Duration,
    /// How long `nonce` + `enforce_nonce` deduplicates messages (Discord: "a few minutes").
    pub nonce_window: Duration,
    /// The answer ids polls get, in answer order, cycled (Discord's own numbering is not part of its contract):
    /// `[1]` numbers them 1, 2, 3…; any other list is used as it is, e.g. `[40, 7, 19, …]`.
    pub poll_answer_ids: Vec<u64>,
    /// How long after a poll ends Discord takes to finalize its counts (`is_finalized` stays false until then).
    pub poll_finalize_delay: Duration,
    /// Discord's REST rate limits, enforced when set (`None`: no limits, as tests that do not measure rates want).
    pub rate_limits: Option<RateLimits>,
    /// Every REST answer (not the gateway) waits a uniform random time in `[min, max]`, as Discord's round trip
    /// does; requests stay concurrent. `None`: answered at once.
    pub rest_latency: Option<(Duration, Duration)>,
}

/// Discord's REST rate limits, as the fake enforces them (see `rest::limits` for the exact algorithm).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateLimits {
    /// Requests per bot token in any one-second window, interaction endpoints not counted (Discord: 50).
    pub global_per_second: u32,
    /// Messages per channel per `channel_window` on `POST /channels/{id}/messages` (Discord: 5).
    pub channel_messages: u32,
    /// The per-channel message bucket's window (Discord: 5 s).
    pub channel_window: Duration,
}

impl RateLimits {
    /// Discord's documented numbers: 50 requests/s globally, 5 messages per 5 s per channel.
    pub fn discord() -> RateLimits {
        RateLimits {
            global_per_second: 50,
            channel_messages: 5,
            channel_window: Duration::from_secs(5),
        }
    }
}

impl Default for FakeOptions {
    fn default() -> Self {
        FakeOptions {
            token: FakeDiscord::TOKEN.to_owned(),
            spec: None,
            guilds: vec![FakeGuild::standard(
                FakeDiscord::GUILD_ID,
                FakeDiscord::CHANNEL_ID,
            )],
            heartbeat_interval: Duration::from_millis(1000),
            application_id: FakeDiscord::APPLICATION_ID,
            bot_user: FakeUser::bot(FakeDiscord::BOT_USER_ID, "scenebot"),
            users: vec![FakeUser::person(FakeDiscord::USER_ID, "minji")],
            interaction_deadline: Duration::from_secs(3),
            nonce_window: Duration::from_secs(5 * 60),
            poll_answer_ids: vec![1],
            poll_finalize_delay: Duration::ZERO,
            rate_limits: None,
            rest_latency: None,
        }
    }
}

impl fmt::Debug for FakeOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The token is left out on purpose.
        f.debug_struct("FakeOptions")
            .field("spec", &self.spec.as_ref().map(|s| s.path().to_owned()))
            .field("guilds", &self.guilds)
            .field("heartbeat_interval", &self.heartbeat_interval)
            .field("application_id", &self.application_id)
            .field("bot_user", &self.bot_user)
            .field("rate_limits", &self.rate_limits)
            .field("rest_latency", &self.rest_latency)
            .finish_non_exhaustive()
    }
}

impl FakeOptions {
    /// Sets [`FakeOptions::spec`] from `SCENEBOT_OPENAPI_SPEC`, printing a line when the variable
    /// is unset (validation skipped). Panics when it is set but the file is unusable.
    pub fn with_spec_from_env(mut self) -> Self {
        self.spec = ApiSpec::from_env();
        if self.spec.is_none() {
            super::super::skip::skipped(&format!(
                "{} is not set: the requests of this test are not validated against Discord's OpenAPI \
                 description",
                super::super::openapi::SPEC_ENV
            ));
        }
        self
    }
}

/// A Discord user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeUser {
    pub id: u64,
    pub username: String,
    pub global_name: Option<String>,
    pub bot: bool,
}

impl FakeUser {
    /// A bot account.
    pub fn bot(id: u64, username: &str) -> Self {
        FakeUser {
            id,
            username: username.to_owned(),
            global_name: None,
            bot: true,
        }
    }

    /// A person.
    pub fn person(id: u64, username: &str) -> Self {
        FakeUser {
            id,
            username: username.to_owned(),
            global_name: Some(capitalize(username)),
            bot: false,
        }
    }
}

/// A guild the bot is in.
#[derive(Clone, Debug)]
pub struct FakeGuild {
    pub id: u64,
    pub name: String,
    /// The owner has every permission everywhere.
    pub owner_id: u64,
    pub preferred_locale: String,
    /// Roles; the one whose id equals the guild id is `@everyone`.
    pub roles: Vec<FakeRole>,
    pub channels: Vec<FakeChannel>,
    /// Members other than the bot.
    pub members: Vec<FakeMember>,
    /// Roles the bot has (besides `@everyone`).
    pub bot_roles: Vec<u64>,
}

impl FakeGuild {
    /// A guild with an `@everyone` role ([`permissions::EVERYONE_DEFAULT`]), a managed bot role
    /// (id `id + 1`, [`permissions::BOT_INVITE`]), one text channel `channel_id` named
    /// `general` without overwrites, and [`FakeDiscord::USER_ID`] as owner and member.
    pub fn standard(id: u64, channel_id: u64) -> Self {
        FakeGuild {
            id,
            name: "Seo-joon Fan Club".to_owned(),
            owner_id: FakeDiscord::USER_ID,
            preferred_locale: "en-US".to_owned(),
            roles: vec![
                FakeRole::new(id, "@everyone", permissions::EVERYONE_DEFAULT, 0),
                FakeRole {
                    managed: true,
                    ..FakeRole::new(id + 1, "scenebot", permissions::BOT_INVITE, 1)
                },
            ],
            channels: vec![FakeChannel::text(channel_id, "general")],
            members: vec![FakeMember {
                user_id: FakeDiscord::USER_ID,
                roles: Vec::new(),
                nick: None,
            }],
            bot_roles: vec![id + 1],
        }
    }
}

/// A guild role.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeRole {
    pub id: u64,
    pub name: String,
    pub permissions: u64,
    pub position: u64,
    /// A bot's own role (tagged with the bot's id).
    pub managed: bool,
    /// Whether anyone may ping it (otherwise only members with Mention Everyone can).
    pub mentionable: bool,
}

impl FakeRole {
    /// An unmanaged role.
    pub fn new(id: u64, name: &str, permissions: u64, position: u64) -> Self {
        FakeRole {
            id,
            name: name.to_owned(),
            permissions,
            position,
            managed: false,
            mentionable: false,
        }
    }
}

/// A guild channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeChannel {
    pub id: u64,
    pub name: String,
    /// Discord channel type: 0 text, 2 voice, 4 category, 5 announcement, 15 forum.
    pub kind: u8,
    pub position: u64,
    pub parent_id: Option<u64>,
    pub topic: Option<String>,
    pub overwrites: Vec<FakeOverwrite>,
}

impl FakeChannel {
    /// A text channel without overwrites.
    pub fn text(id: u64, name: &str) -> Self {
        FakeChannel {
            id,
            name: name.to_owned(),
            kind: 0,
            position: 0,
            parent_id: None,
            topic: None,
            overwrites: Vec::new(),
        }
    }
}

/// A permission overwrite on a channel.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOverwrite {
    /// A role id (the guild id for `@everyone`) or a member id.
    pub id: u64,
    /// 0 role, 1 member.
    pub kind: u8,
    pub allow: u64,
    pub deny: u64,
}

impl FakeOverwrite {
    /// Denies `deny` to a role (`role_id` = guild id for `@everyone`).
    pub fn deny_role(role_id: u64, deny: u64) -> Self {
        FakeOverwrite {
            id: role_id,
            kind: 0,
            allow: 0,
            deny,
        }
    }

    /// Denies `deny` to one member (the bot, say).
    pub fn deny_member(user_id: u64, deny: u64) -> Self {
        FakeOverwrite {
            id: user_id,
            kind: 1,
            allow: 0,
            deny,
        }
    }
}

/// A guild member other than the bot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeMember {
    pub user_id: u64,
    pub roles: Vec<u64>,
    pub nick: Option<String>,
}
