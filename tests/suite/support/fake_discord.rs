//! A fake Discord for end-to-end tests: the bot's real serenity client talks to it over real
//! sockets on 127.0.0.1.
//!
//! One axum server on one port serves Discord's REST API v10 under `/api/v10` and the gateway
//! websocket at `/gateway`. Point serenity at it with
//! `HttpBuilder::new(token).proxy(fake.api_url()).ratelimiter_disabled(true)`: serenity then sends
//! every REST call to `{api_url}/api/v10/...`, asks `GET /api/v10/gateway` for the websocket URL
//! and connects to `ws://127.0.0.1:PORT/gateway?v=10`.
//!
//! # What it fakes
//! - REST, with Discord's payload shapes (snowflakes and permissions as strings) and error bodies
//!   (`{"message", "code"}`, 404 10003/10008/10062/10015, 400 40060 and 50035 with an `errors`
//!   tree, 401 for a wrong token, 403 50001/50013 from the channel's permission overwrites):
//!   gateway discovery, the current user and application, global and guild command bulk
//!   overwrite, interaction callbacks (once per interaction, within 3 s), followups and
//!   `@original` edits (a followup right after a deferral edits the loading message, as Discord
//!   still does), channel messages (with `nonce` + `enforce_nonce`), polls (votes, expiry,
//!   voters, the `POLL_RESULT` message), channels, guilds, roles and members.
//! - Validation: with an [`ApiSpec`], every request is matched against Discord's OpenAPI
//!   description and its JSON body validated; a violation is recorded with the body that was sent
//!   and answered 400 `{"code": 50035, "message": "Invalid Form Body", "errors": {...}}`, as
//!   Discord answers. Some rules that Discord enforces but the description does not state are
//!   always checked (see [`ViolationSource::DiscordRule`]): 2000 characters of content, 6000
//!   characters over all embeds of a message, 55 characters per poll answer, unique component
//!   `custom_id`s, link buttons with a `url` and no `custom_id`.
//! - The gateway: HELLO, IDENTIFY (token checked, close 4004), READY, GUILD_CREATE per guild,
//!   heartbeats and ACKs, sequence numbers, RESUME with replay of every missed dispatch and
//!   RESUMED, INVALID_SESSION for an unknown session, and dispatches the REST calls cause
//!   (MESSAGE_CREATE/UPDATE/DELETE, MESSAGE_POLL_VOTE_ADD/REMOVE, CHANNEL_*, GUILD_*) when the
//!   identified intents ask for them.
//! - Several shards: each IDENTIFY with `shard: [i, n]` gets its own session on its connection (several
//!   connections, as several processes running shard ranges), READY and GUILD_CREATE list that shard's guilds,
//!   and every guild event (interactions included) goes to shard `(guild_id >> 22) % n`, as Discord routes.
//! - Faults: dropping the socket, closing with a code, withholding heartbeat ACKs, RECONNECT,
//!   INVALID_SESSION, one-shot 429/5xx answers and slow answers on chosen routes.
//!
//! # What it does not fake
//! - Rate limits, unless injected with [`FakeDiscord::fail_next`]; no `X-RateLimit-*` headers on
//!   normal answers.
//! - Payload compression (`compress` in IDENTIFY is ignored; frames are plain JSON text, which
//!   serenity accepts) and zlib transport compression.
//! - Multipart bodies (attachments): they are recorded, answered 400, and not validated.
//! - Most endpoints outside the ones listed above (they answer 404 `{"code": 0}` and are
//!   recorded, so a test can see that the bot called them); reactions, threads, DMs opened over
//!   REST, audit-log reasons, `with_response` on callbacks.
//! - Permission checks other than VIEW_CHANNEL / SEND_MESSAGES / SEND_POLLS on channel messages.
//! - Client heartbeat deadlines: the fake never closes a connection for a missed heartbeat.
//! - Polls do not end by themselves at their expiry; end one with the bot's expire call or
//!   [`FakeDiscord::end_poll`].
//!
//! # Use
//! ```ignore
//! let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
//! let http = serenity::http::HttpBuilder::new(fake.token())
//!     .proxy(fake.api_url())
//!     .ratelimiter_disabled(true) // without it serenity ignores the proxy
//!     .build();
//! let mut client = serenity::all::ClientBuilder::new_with_http(http, GatewayIntents::GUILDS)
//!     .framework(framework) // or .event_handler(...)
//!     .await?;
//! tokio::spawn(async move { client.start().await });
//! fake.wait_connected(Duration::from_secs(10)).await;
//! let ix = fake.slash("scene").option_str("drama", "hwarang").locale("ko").send().await;
//! let reply = fake.wait_callback(ix.id, Duration::from_secs(5)).await;
//! fake.assert_no_violations();
//! ```
//!
//! # serenity 0.12.5 as seen through this fake
//! - Startup REST: `GET /api/v10/gateway` when the client is built (on failure serenity quietly
//!   falls back to `wss://gateway.discord.gg`), `GET /oauth2/applications/@me` from poise's owner
//!   lookup, `GET /gateway/bot` only with `start_autosharded`.
//! - It ignores READY's `resume_gateway_url` and resumes on the URL it started with.
//! - It resumes after a dropped socket, RECONNECT, resumable INVALID_SESSION or an ordinary
//!   close code; it identifies again after a non-resumable INVALID_SESSION or a missed heartbeat
//!   ACK, and such a restart takes about 5 s (its shard manager waits 5 s for the old runner).
//! - 4004 makes `Client::start` return `GatewayError::InvalidAuthentication` without retrying.

#![allow(dead_code)] // Shared test support: each test file uses a part of it.

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use serde_json::{json, Map, Value};
use tokio::sync::{mpsc, watch};

use super::openapi::{ApiSpec, SpecViolation};

/// Discord permission bits used by the fake (see Discord's "Permissions" topic).
pub mod permissions {
    pub const CREATE_INSTANT_INVITE: u64 = 1 << 0;
    pub const ADMINISTRATOR: u64 = 1 << 3;
    pub const ADD_REACTIONS: u64 = 1 << 6;
    pub const VIEW_CHANNEL: u64 = 1 << 10;
    pub const SEND_MESSAGES: u64 = 1 << 11;
    pub const EMBED_LINKS: u64 = 1 << 14;
    pub const ATTACH_FILES: u64 = 1 << 15;
    pub const READ_MESSAGE_HISTORY: u64 = 1 << 16;
    pub const MENTION_EVERYONE: u64 = 1 << 17;
    pub const USE_EXTERNAL_EMOJIS: u64 = 1 << 18;
    pub const CONNECT: u64 = 1 << 20;
    pub const SPEAK: u64 = 1 << 21;
    pub const CHANGE_NICKNAME: u64 = 1 << 26;
    pub const USE_APPLICATION_COMMANDS: u64 = 1 << 31;
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

/// Milliseconds between the Unix epoch and Discord's epoch (2015-01-01).
const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;
/// Most dispatches kept for replay on RESUME (the oldest are dropped past it).
const REPLAY_LIMIT: usize = 10_000;
/// Most requests and gateway log entries kept (the oldest are dropped past it).
const RECORD_LIMIT: usize = 50_000;
/// How long a connection the fake closed waits for the client's close frame.
const CLOSE_GRACE: Duration = Duration::from_secs(2);
/// Interaction tokens stay valid this long for followups and edits.
const INTERACTION_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);
/// Message flags.
const FLAG_SUPPRESS_EMBEDS: u64 = 1 << 2;
const FLAG_EPHEMERAL: u64 = 1 << 6;
const FLAG_LOADING: u64 = 1 << 7;
const FLAG_SUPPRESS_NOTIFICATIONS: u64 = 1 << 12;
const FLAG_IS_COMPONENTS_V2: u64 = 1 << 15;

// ---------------------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------------------

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
            .finish_non_exhaustive()
    }
}

impl FakeOptions {
    /// Sets [`FakeOptions::spec`] from `SCENEBOT_OPENAPI_SPEC`, printing a line when the variable
    /// is unset (validation skipped). Panics when it is set but the file is unusable.
    pub fn with_spec_from_env(mut self) -> Self {
        self.spec = ApiSpec::from_env();
        if self.spec.is_none() {
            super::skip::skipped(&format!(
                "{} is not set: the requests of this test are not validated against Discord's OpenAPI \
                 description",
                super::openapi::SPEC_ENV
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

// ---------------------------------------------------------------------------------------------
// Records
// ---------------------------------------------------------------------------------------------

/// One REST request the fake received, with its answer.
#[derive(Clone, Debug)]
pub struct Recorded {
    /// 0-based order of arrival.
    pub index: usize,
    pub method: String,
    /// The full path, e.g. `/api/v10/channels/1/messages`.
    pub path: String,
    /// The raw query string without `?` (serenity writes `?&limit=50`, so it may start with `&`).
    pub query: String,
    /// Lower-case header names and values, without `authorization`.
    pub headers: Vec<(String, String)>,
    /// Whether `Authorization: Bot <token>` was present and right.
    pub authorized: bool,
    /// The JSON body; `Null` when there was none, a string when it was not JSON.
    pub body: Value,
    /// The status the fake answered.
    pub status: u16,
    /// The JSON the fake answered (`Null` for 204).
    pub response: Value,
    /// When the request arrived (for latency measurements).
    pub arrived: Instant,
}

impl Recorded {
    /// The path without `/api/v10`, e.g. `/channels/1/messages`.
    pub fn route(&self) -> &str {
        self.path.strip_prefix("/api/v10").unwrap_or(&self.path)
    }

    /// A query parameter's value.
    pub fn query_param(&self, name: &str) -> Option<String> {
        parse_query(&self.query).remove(name)
    }

    /// A header's value (lower-case name).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

impl fmt::Display for Recorded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let query = if self.query.is_empty() {
            String::new()
        } else {
            format!("?{}", self.query)
        };
        write!(
            f,
            "#{} {} {}{} -> {}",
            self.index, self.method, self.path, query, self.status
        )?;
        if !self.body.is_null() {
            write!(f, "\n  body: {}", self.body)?;
        }
        if !self.response.is_null() && self.status >= 400 {
            write!(f, "\n  answer: {}", self.response)?;
        }
        Ok(())
    }
}

/// Where a violation's rule comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ViolationSource {
    /// Discord's OpenAPI description: a body constraint (answered 400) or a route the description
    /// does not have (recorded only; the fake then answers as it would anyway).
    OpenApi,
    /// A rule Discord enforces that the description does not state (answered 400).
    DiscordRule,
}

/// A request that broke Discord's rules, with what the bot sent.
#[derive(Clone, Debug)]
pub struct Violation {
    pub source: ViolationSource,
    pub method: String,
    pub path: String,
    pub body: Value,
    pub errors: Vec<SpecViolation>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match self.source {
            ViolationSource::OpenApi => "Discord's OpenAPI description",
            ViolationSource::DiscordRule => "a Discord rule",
        };
        writeln!(f, "{} {} breaks {source}:", self.method, self.path)?;
        for error in &self.errors {
            writeln!(f, "  {error}")?;
        }
        let body =
            serde_json::to_string_pretty(&self.body).unwrap_or_else(|_| self.body.to_string());
        write!(f, "  the bot sent: {body}")
    }
}

/// Something that happened on the gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GatewayLog {
    /// A websocket connection opened (HELLO is sent right away).
    Connected { conn: u64 },
    /// IDENTIFY accepted; READY follows.
    Identified {
        conn: u64,
        session_id: String,
        intents: u64,
    },
    /// IDENTIFY or RESUME with a wrong token; the fake closes with 4004.
    AuthenticationFailed { conn: u64 },
    /// RESUME accepted: `replayed` dispatches after `seq` were sent again, then RESUMED.
    Resumed {
        conn: u64,
        session_id: String,
        seq: u64,
        replayed: usize,
    },
    /// RESUME refused (unknown session): INVALID_SESSION `false` was sent.
    ResumeRefused { conn: u64, session_id: String },
    /// A heartbeat (op 1) from the client, with the sequence it carried.
    Heartbeat { conn: u64, seq: Option<u64> },
    /// Another opcode from the client (presence update, request guild members, ...).
    Other { conn: u64, op: u64 },
    /// The client sent a close frame.
    ClientClosed { conn: u64, code: Option<u16> },
    /// The fake sent a close frame.
    ServerClosed { conn: u64, code: u16 },
    /// The fake dropped the connection without a close frame.
    ServerDropped { conn: u64 },
    /// The fake sent RECONNECT (op 7).
    ReconnectSent { conn: u64 },
    /// The fake sent INVALID_SESSION (op 9).
    InvalidSessionSent { conn: u64, resumable: bool },
    /// The connection is gone.
    Disconnected { conn: u64 },
}

/// An interaction the fake dispatched.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InteractionRef {
    pub id: u64,
    pub token: String,
    /// The gateway sequence number of its INTERACTION_CREATE.
    pub seq: u64,
    /// When its INTERACTION_CREATE was handed to the gateway connection (for latency measurements).
    pub sent_at: Instant,
}

// ---------------------------------------------------------------------------------------------
// The fake
// ---------------------------------------------------------------------------------------------

/// A fake Discord listening on 127.0.0.1. Dropping it shuts the server down.
pub struct FakeDiscord {
    shared: Arc<Shared>,
}

impl fmt::Debug for FakeDiscord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeDiscord")
            .field("addr", &self.shared.addr)
            .finish_non_exhaustive()
    }
}

impl Drop for FakeDiscord {
    fn drop(&mut self) {
        self.shared.shutdown.send_replace(true);
    }
}

impl FakeDiscord {
    /// The default bot token (three dot-separated parts, like a real one; not a real token).
    pub const TOKEN: &'static str =
        "MTE4MDAwMDAwMDAwMDAwMDAwMQ.GfAkEd.c2NlbmVib3QtZmFrZS1kaXNjb3JkLXRva2Vu";
    /// The default application id, equal to the bot user's id as for every modern bot.
    pub const APPLICATION_ID: u64 = 1_180_000_000_000_000_001;
    /// The default bot user id.
    pub const BOT_USER_ID: u64 = 1_180_000_000_000_000_001;
    /// The default guild.
    pub const GUILD_ID: u64 = 1_190_000_000_000_000_001;
    /// The default guild's text channel.
    pub const CHANNEL_ID: u64 = 1_190_000_000_000_000_003;
    /// The default person: the default guild's owner.
    pub const USER_ID: u64 = 1_170_000_000_000_000_001;

    /// Starts the fake on 127.0.0.1 on a free port.
    pub async fn start(options: FakeOptions) -> FakeDiscord {
        let listener = match tokio::net::TcpListener::bind("127.0.0.1:0").await {
            Ok(listener) => listener,
            Err(e) => panic!("the fake Discord cannot bind 127.0.0.1:0: {e}"),
        };
        let addr = match listener.local_addr() {
            Ok(addr) => addr,
            Err(e) => panic!("the fake Discord cannot read its address: {e}"),
        };
        let (changes, _) = watch::channel(0u64);
        let (shutdown, mut shutdown_rx) = watch::channel(false);
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(options, addr)),
            changes,
            shutdown,
            addr,
            server: Mutex::new(None),
        });
        let app = Router::new()
            .route("/gateway", get(gateway_upgrade))
            .fallback(rest)
            .with_state(Arc::clone(&shared));
        let server = tokio::spawn(async move {
            let stop = async move {
                // Ends when the flag turns true or the FakeDiscord is gone.
                let _ = shutdown_rx.wait_for(|stop| *stop).await;
            };
            // Discord's edge sends small frames without delay: no Nagle (it would add up to 40 ms per frame).
            let listener =
                axum::serve::ListenerExt::tap_io(listener, |stream: &mut tokio::net::TcpStream| {
                    let _ = stream.set_nodelay(true);
                });
            if let Err(e) = axum::serve(listener, app)
                .with_graceful_shutdown(stop)
                .await
            {
                tracing::warn!("the fake Discord's server stopped: {e}");
            }
        });
        if let Ok(mut slot) = shared.server.lock() {
            *slot = Some(server);
        }
        FakeDiscord { shared }
    }

    /// Shuts the server down and waits (at most `timeout`) until it has: the port is closed and
    /// every gateway connection dropped. Dropping the `FakeDiscord` does the same without waiting.
    pub async fn shutdown(self, timeout: Duration) {
        self.shared.shutdown.send_replace(true);
        let server = self
            .shared
            .server
            .lock()
            .ok()
            .and_then(|mut slot| slot.take());
        if let Some(server) = server {
            if tokio::time::timeout(timeout, server).await.is_err() {
                panic!("the fake Discord did not shut down within {timeout:?}");
            }
        }
        let describe = |st: &State| format!("open connections: {}", st.connections.len());
        self.wait_until(
            "its gateway connections to close",
            timeout,
            |st| st.connections.is_empty().then_some(()),
            describe,
        )
        .await;
    }

    /// Whether requests are validated against Discord's OpenAPI description.
    pub fn has_spec(&self) -> bool {
        self.lock().spec.is_some()
    }

    /// `http://127.0.0.1:PORT`, for `HttpBuilder::proxy`.
    pub fn api_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// `ws://127.0.0.1:PORT/gateway`, what `GET /gateway` answers.
    pub fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.shared.addr)
    }

    /// The token the fake accepts.
    pub fn token(&self) -> String {
        self.lock().token.clone()
    }

    /// The application id.
    pub fn application_id(&self) -> u64 {
        self.lock().application_id
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.shared.lock()
    }

    /// Runs `f` on the state and wakes every waiter.
    fn mutate<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.shared.changed();
        out
    }

    /// Waits until `check` returns `Some`, re-checking after every change; panics after
    /// `timeout` with `what` and `context` (which describes the state for the failure message).
    async fn wait_until<T>(
        &self,
        what: &str,
        timeout: Duration,
        mut check: impl FnMut(&State) -> Option<T>,
        context: impl Fn(&State) -> String,
    ) -> T {
        let mut changes = self.shared.changes.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(found) = check(&self.lock()) {
                return found;
            }
            match tokio::time::timeout_at(deadline, changes.changed()).await {
                Ok(Ok(())) => {}
                Ok(Err(_)) | Err(_) => {
                    let context = context(&self.lock());
                    panic!("the fake Discord waited {timeout:?} for {what}, in vain.\n{context}");
                }
            }
        }
    }

    // ----- REST records ------------------------------------------------------------------------

    /// Every REST request so far, in order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.lock().requests.iter().cloned().collect()
    }

    /// The first request (in order of arrival) that `pred` accepts, waiting for it.
    pub async fn wait_for_request(
        &self,
        mut pred: impl FnMut(&Recorded) -> bool,
        timeout: Duration,
    ) -> Recorded {
        self.wait_until(
            "a matching request",
            timeout,
            |st| st.requests.iter().find(|r| pred(r)).cloned(),
            State::describe_requests,
        )
        .await
    }

    /// The first follow-up message (`POST /webhooks/{app}/{token}`) the bot sent for the interaction with `token`:
    /// what a user sees after a deferred reply.
    pub async fn wait_followup(&self, token: &str, timeout: Duration) -> Recorded {
        self.wait_for_request(
            |r| {
                r.method == "POST"
                    && r.route().starts_with("/webhooks/")
                    && r.route().contains(token)
            },
            timeout,
        )
        .await
    }

    /// Every request body that Discord's rules rejected, with what the bot sent.
    pub fn violations(&self) -> Vec<Violation> {
        self.lock().violations.clone()
    }

    /// Panics, printing each violation and what the bot sent, if there is any.
    pub fn assert_no_violations(&self) {
        let violations = self.violations();
        if !violations.is_empty() {
            let text: Vec<String> = violations.iter().map(ToString::to_string).collect();
            panic!(
                "the bot broke Discord's rules {} time(s):\n{}",
                text.len(),
                text.join("\n")
            );
        }
    }

    /// Bodies of the accepted (2xx) callbacks of an interaction, in order.
    pub fn callbacks_for(&self, interaction_id: u64) -> Vec<Value> {
        let prefix = format!("/api/v10/interactions/{interaction_id}/");
        self.lock()
            .requests
            .iter()
            .filter(|r| {
                r.method == "POST" && r.path.starts_with(&prefix) && r.path.ends_with("/callback")
            })
            .filter(|r| (200..300).contains(&r.status))
            .map(|r| r.body.clone())
            .collect()
    }

    /// The body of the interaction's first callback. Panics at once, printing the answer, if the
    /// first callback was refused (a spec violation, a late or second response, ...).
    pub async fn wait_callback(&self, interaction_id: u64, timeout: Duration) -> Value {
        let prefix = format!("/api/v10/interactions/{interaction_id}/");
        let first = self
            .wait_until(
                &format!("the response to interaction {interaction_id}"),
                timeout,
                |st| {
                    st.requests
                        .iter()
                        .find(|r| {
                            r.method == "POST"
                                && r.path.starts_with(&prefix)
                                && r.path.ends_with("/callback")
                        })
                        .cloned()
                },
                State::describe_requests,
            )
            .await;
        if !(200..300).contains(&first.status) {
            let violations: Vec<String> = self
                .violations()
                .iter()
                .filter(|v| v.path == first.path)
                .map(ToString::to_string)
                .collect();
            panic!(
                "the response to interaction {interaction_id} was refused:\n{first}\n{}",
                violations.join("\n")
            );
        }
        first.body
    }

    // ----- Stored data -------------------------------------------------------------------------

    /// The commands registered globally (`None`) or in a guild, as the fake stored them.
    pub fn registered_commands(&self, guild: Option<u64>) -> Vec<Value> {
        let st = self.lock();
        match guild {
            None => st.global_commands.clone(),
            Some(g) => st.guild_commands.get(&g).cloned().unwrap_or_default(),
        }
    }

    /// The channel's messages as GET would return them (polls with results), oldest first;
    /// without ephemeral and deleted ones.
    pub fn channel_messages(&self, channel: u64) -> Vec<Value> {
        let st = self.lock();
        st.messages
            .values()
            .filter(|m| m.channel_id == channel && !m.ephemeral)
            .map(|m| st.render_message(m))
            .collect()
    }

    /// One message as GET would return it (ephemeral ones included).
    pub fn message(&self, message: u64) -> Option<Value> {
        let st = self.lock();
        st.messages.get(&message).map(|m| st.render_message(m))
    }

    /// The first message in `channel` (oldest first) that `pred` accepts, waiting for it.
    pub async fn wait_channel_message(
        &self,
        channel: u64,
        mut pred: impl FnMut(&Value) -> bool,
        timeout: Duration,
    ) -> Value {
        self.wait_until(
            &format!("a matching message in channel {channel}"),
            timeout,
            |st| {
                st.messages
                    .values()
                    .filter(|m| m.channel_id == channel && !m.ephemeral)
                    .map(|m| st.render_message(m))
                    .find(|m| pred(m))
            },
            move |st| {
                let messages: Vec<String> = st
                    .messages
                    .values()
                    .filter(|m| m.channel_id == channel)
                    .map(|m| st.render_message(m).to_string())
                    .collect();
                format!("messages in channel {channel}: {}", messages.join("\n"))
            },
        )
        .await
    }

    /// The messages an interaction produced: its original response (if any) and followups.
    pub fn interaction_messages(&self, interaction_id: u64) -> Vec<Value> {
        let st = self.lock();
        let Some(ix) = st.interactions.get(&interaction_id) else {
            return Vec::new();
        };
        ix.original
            .iter()
            .chain(&ix.followups)
            .filter_map(|id| st.messages.get(id))
            .map(|m| st.render_message(m))
            .collect()
    }

    /// Stores a message from someone else (a person, another bot) in a channel, and dispatches
    /// MESSAGE_CREATE when the intents ask for it. Returns its id.
    pub fn add_user_message(&self, channel: u64, author: u64, content: &str) -> u64 {
        self.mutate(|st| {
            let author_json = st.user_json(author);
            let id = st.next_snowflake();
            let guild_id = st.channel_guild(channel);
            let json = base_message(id, channel, author_json, content, 0);
            st.messages.insert(
                id,
                StoredMessage {
                    id,
                    channel_id: channel,
                    guild_id,
                    json,
                    ephemeral: false,
                    poll: None,
                    author_id: author,
                },
            );
            st.dispatch_message_event("MESSAGE_CREATE", id);
            id
        })
    }

    /// Deletes a message (as a moderator would) and dispatches MESSAGE_DELETE.
    pub fn delete_message(&self, channel: u64, message: u64) {
        self.mutate(|st| {
            if st
                .messages
                .get(&message)
                .is_some_and(|m| m.channel_id == channel)
            {
                st.dispatch_message_delete(message);
                st.messages.remove(&message);
            } else {
                panic!("delete_message: no message {message} in channel {channel}");
            }
        });
    }

    /// Deletes a channel with its messages and dispatches CHANNEL_DELETE.
    pub fn delete_channel(&self, channel: u64) {
        self.mutate(|st| {
            let Some((guild_index, channel_index)) = st.find_channel(channel) else {
                panic!("delete_channel: no channel {channel}");
            };
            let removed = st.guilds[guild_index].channels.remove(channel_index);
            let guild_id = st.guilds[guild_index].id;
            st.messages.retain(|_, m| m.channel_id != channel);
            if st.has_intent(intents::GUILDS) {
                let payload = channel_json(&removed, Some(guild_id));
                st.dispatch("CHANNEL_DELETE", payload);
            }
        });
    }

    /// Adds a channel to a guild and dispatches CHANNEL_CREATE.
    pub fn add_channel(&self, guild: u64, channel: FakeChannel) {
        self.mutate(|st| {
            let Some(g) = st.guilds.iter_mut().find(|g| g.id == guild) else {
                panic!("add_channel: no guild {guild}");
            };
            g.channels.push(channel.clone());
            if st.has_intent(intents::GUILDS) {
                st.dispatch("CHANNEL_CREATE", channel_json(&channel, Some(guild)));
            }
        });
    }

    /// Replaces a channel's permission overwrites and dispatches CHANNEL_UPDATE.
    pub fn set_channel_overwrites(&self, channel: u64, overwrites: Vec<FakeOverwrite>) {
        self.mutate(|st| {
            let Some((gi, ci)) = st.find_channel(channel) else {
                panic!("set_channel_overwrites: no channel {channel}");
            };
            st.guilds[gi].channels[ci].overwrites = overwrites;
            let payload = channel_json(&st.guilds[gi].channels[ci], Some(st.guilds[gi].id));
            if st.has_intent(intents::GUILDS) {
                st.dispatch("CHANNEL_UPDATE", payload);
            }
        });
    }

    /// Changes a role's permissions and dispatches GUILD_ROLE_UPDATE.
    pub fn set_role_permissions(&self, guild: u64, role: u64, permissions: u64) {
        self.mutate(|st| {
            let bot_id = st.bot_user.id;
            let Some(g) = st.guilds.iter_mut().find(|g| g.id == guild) else {
                panic!("set_role_permissions: no guild {guild}");
            };
            let Some(r) = g.roles.iter_mut().find(|r| r.id == role) else {
                panic!("set_role_permissions: no role {role} in guild {guild}");
            };
            r.permissions = permissions;
            let payload = json!({"guild_id": guild.to_string(), "role": role_json(r, bot_id)});
            if st.has_intent(intents::GUILDS) {
                st.dispatch("GUILD_ROLE_UPDATE", payload);
            }
        });
    }

    /// The bot is removed from a guild: GUILD_DELETE without `unavailable`; REST calls about
    /// the guild and its channels then answer 403 50001 Missing Access, as Discord does.
    pub fn remove_guild(&self, guild: u64) {
        self.mutate(|st| {
            let Some(index) = st.guilds.iter().position(|g| g.id == guild) else {
                panic!("remove_guild: no guild {guild}");
            };
            let left = st.guilds.remove(index);
            st.left_guilds.push(left);
            if st.has_intent(intents::GUILDS) {
                st.dispatch("GUILD_DELETE", json!({"id": guild.to_string()}));
            }
        });
    }

    /// A guild outage: GUILD_DELETE with `unavailable: true` (the bot is still a member).
    pub fn guild_outage(&self, guild: u64) {
        self.mutate(|st| {
            if st.has_intent(intents::GUILDS) {
                st.dispatch(
                    "GUILD_DELETE",
                    json!({"id": guild.to_string(), "unavailable": true}),
                );
            }
        });
    }

    /// The end of an outage: GUILD_CREATE again.
    pub fn guild_available(&self, guild: u64) {
        self.mutate(|st| {
            let Some(g) = st.guilds.iter().find(|g| g.id == guild) else {
                panic!("guild_available: no guild {guild}");
            };
            let payload = st.guild_create_json(g);
            st.dispatch("GUILD_CREATE", payload);
        });
    }

    // ----- Polls -------------------------------------------------------------------------------

    /// The next `count` reads of a poll message leave out `poll.results`.
    pub fn omit_poll_results_next(&self, count: usize) {
        self.mutate(|st| st.omit_poll_results = count);
    }

    /// The answer id Discord gave answer `position` (0-based) of the poll in `message`.
    pub fn answer_id_at(&self, message: u64, position: usize) -> Option<u64> {
        self.lock()
            .messages
            .get(&message)
            .and_then(|m| m.poll.as_ref())
            .and_then(|p| p.answer_ids.get(position).copied())
    }

    /// `user` votes for `answer_id` on the poll in `message`. Without multiselect, a previous vote
    /// of the same user is removed first. Dispatches MESSAGE_POLL_VOTE_REMOVE/ADD when the intents
    /// ask for them.
    pub fn cast_vote(&self, channel: u64, message: u64, user: u64, answer_id: u64) {
        self.mutate(|st| {
            if let Err(e) = st.cast_vote(channel, message, user, answer_id) {
                panic!("cast_vote: {e}");
            }
        });
    }

    /// `user` takes back a vote.
    pub fn remove_vote(&self, channel: u64, message: u64, user: u64, answer_id: u64) {
        self.mutate(|st| {
            if let Err(e) = st.remove_vote(channel, message, user, answer_id) {
                panic!("remove_vote: {e}");
            }
        });
    }

    /// Ends a poll as its expiry would: results finalized, MESSAGE_UPDATE, and the
    /// `POLL_RESULT` message (type 46).
    pub fn end_poll(&self, channel: u64, message: u64) {
        self.mutate(|st| {
            if let Err(reply) = st.end_poll(channel, message) {
                panic!("end_poll: {}", reply.body.unwrap_or_default());
            }
        });
    }

    // ----- REST faults -------------------------------------------------------------------------

    /// The next request whose method is `method` (or `*`) and whose path starts with
    /// `path_prefix` (with or without `/api/v10`) is answered `status` without effect: 429 with
    /// Discord's rate-limit headers and body (`retry_after` defaults to 1 s; `global` sets the
    /// global scope), or a 5xx (502 comes as Cloudflare's HTML page, others as JSON).
    pub fn fail_next(
        &self,
        method: &str,
        path_prefix: &str,
        status: u16,
        retry_after: Option<f64>,
        global: bool,
    ) {
        self.mutate(|st| {
            st.faults.push(Fault {
                method: method.to_ascii_uppercase(),
                prefix: normalize_prefix(path_prefix),
                kind: FaultKind::Status {
                    status,
                    retry_after: retry_after.unwrap_or(1.0),
                    global,
                },
            });
        });
    }

    /// The next matching request (as for [`FakeDiscord::fail_next`]) is answered after `delay`.
    pub fn delay_next(&self, method: &str, path_prefix: &str, delay: Duration) {
        self.mutate(|st| {
            st.faults.push(Fault {
                method: method.to_ascii_uppercase(),
                prefix: normalize_prefix(path_prefix),
                kind: FaultKind::Delay(delay),
            });
        });
    }

    /// The next matching request (as for [`FakeDiscord::fail_next`]) takes effect and is recorded at once, but
    /// its answer is held back for `hold`: a client killed meanwhile did the thing without learning it did.
    pub fn hold_answer_next(&self, method: &str, path_prefix: &str, hold: Duration) {
        self.mutate(|st| {
            st.faults.push(Fault {
                method: method.to_ascii_uppercase(),
                prefix: normalize_prefix(path_prefix),
                kind: FaultKind::HoldAnswer(hold),
            });
        });
    }

    /// The next matching request (as for [`FakeDiscord::fail_next`]) takes effect and gets its usual status, but its
    /// body is replaced by `raw_json` (sent as `application/json`): an answer a client may fail to read although
    /// the call succeeded.
    pub fn replace_body_next(&self, method: &str, path_prefix: &str, raw_json: &str) {
        self.mutate(|st| {
            st.faults.push(Fault {
                method: method.to_ascii_uppercase(),
                prefix: normalize_prefix(path_prefix),
                kind: FaultKind::ReplaceBody(raw_json.to_owned()),
            });
        });
    }

    // ----- Gateway -----------------------------------------------------------------------------

    /// The next `count` gateway connections are accepted and then left silent: no HELLO, no answer, ever (a
    /// gateway node gone bad; serenity 0.12.5 can wait on such a connection forever).
    pub fn silence_next_connections(&self, count: usize) {
        self.mutate(|st| st.silent_connections = count);
    }

    /// The gateway log so far.
    pub fn gateway_log(&self) -> Vec<GatewayLog> {
        self.lock().gateway_log.iter().cloned().collect()
    }

    /// How many IDENTIFYs were accepted.
    pub fn identify_count(&self) -> usize {
        self.lock()
            .count_log(|e| matches!(e, GatewayLog::Identified { .. }))
    }

    /// How many RESUMEs were accepted.
    pub fn resume_count(&self) -> usize {
        self.lock()
            .count_log(|e| matches!(e, GatewayLog::Resumed { .. }))
    }

    /// The last accepted IDENTIFY payload (`d`), with the token replaced by `"<redacted>"`.
    pub fn last_identify(&self) -> Option<Value> {
        self.lock().identify_payloads.last().cloned()
    }

    /// The current session id, if a session exists.
    pub fn session_id(&self) -> Option<String> {
        self.lock().session.as_ref().map(|s| s.id.clone())
    }

    /// The sequence number of the last dispatch.
    pub fn last_seq(&self) -> u64 {
        self.lock().session.as_ref().map_or(0, |s| s.seq)
    }

    /// Waits until a connection is identified or resumed and receiving dispatches.
    pub async fn wait_connected(&self, timeout: Duration) {
        self.wait_until(
            "an identified gateway connection",
            timeout,
            |st| st.live.map(|_| ()),
            State::describe_gateway,
        )
        .await;
    }

    /// Waits until `n` IDENTIFYs in all were accepted.
    pub async fn wait_identify(&self, n: usize, timeout: Duration) {
        self.wait_until(
            &format!("IDENTIFY number {n}"),
            timeout,
            |st| (st.count_log(|e| matches!(e, GatewayLog::Identified { .. })) >= n).then_some(()),
            State::describe_gateway,
        )
        .await;
    }

    /// Waits until `n` RESUMEs in all were accepted.
    pub async fn wait_resume(&self, n: usize, timeout: Duration) {
        self.wait_until(
            &format!("RESUME number {n}"),
            timeout,
            |st| (st.count_log(|e| matches!(e, GatewayLog::Resumed { .. })) >= n).then_some(()),
            State::describe_gateway,
        )
        .await;
    }

    /// The first gateway log entry that `pred` accepts, waiting for it.
    pub async fn wait_gateway(
        &self,
        mut pred: impl FnMut(&GatewayLog) -> bool,
        timeout: Duration,
    ) -> GatewayLog {
        self.wait_until(
            "a matching gateway event",
            timeout,
            |st| st.gateway_log.iter().find(|e| pred(e)).cloned(),
            State::describe_gateway,
        )
        .await
    }

    /// Sends a dispatch (op 0) to the current session and keeps it for replay on RESUME (also
    /// while no connection is open). Returns its sequence number. Panics without a session.
    pub fn dispatch(&self, event: &str, payload: Value) -> u64 {
        self.mutate(|st| match st.dispatch(event, payload) {
            Some(seq) => seq,
            None => panic!("dispatch {event}: no gateway session (wait_connected first)"),
        })
    }

    /// Closes the current connection abruptly: the TCP connection ends without a close frame.
    pub fn drop_socket(&self) {
        self.mutate(|st| {
            let conn = st.take_live("drop_socket");
            st.send_to(conn, Outgoing::Drop);
            st.log(GatewayLog::ServerDropped { conn });
        });
    }

    /// Closes the current connection with a close frame. 4007 and 4009 also end the session
    /// (the client must identify again), as on Discord.
    pub fn close_with(&self, code: u16) {
        self.mutate(|st| {
            let conn = st.take_live("close_with");
            st.send_to(conn, Outgoing::Close(code, close_reason(code).to_owned()));
            st.log(GatewayLog::ServerClosed { conn, code });
            if matches!(code, 4007 | 4009) {
                st.session = None;
            }
        });
    }

    /// Stops (`true`) or resumes (`false`) answering heartbeats with ACKs.
    pub fn stop_heartbeat_acks(&self, stop: bool) {
        self.mutate(|st| st.ack_heartbeats = !stop);
    }

    /// Sends RECONNECT (op 7): the client should reconnect and resume.
    pub fn send_reconnect(&self) {
        self.mutate(|st| {
            let conn = st.take_live("send_reconnect");
            st.send_to(
                conn,
                Outgoing::Frame(json!({"op": 7, "d": null, "s": null, "t": null}).to_string()),
            );
            st.log(GatewayLog::ReconnectSent { conn });
        });
    }

    /// Sends INVALID_SESSION (op 9). Not resumable: the session ends and the client must
    /// identify again.
    pub fn send_invalid_session(&self, resumable: bool) {
        self.mutate(|st| {
            let conn = st.take_live("send_invalid_session");
            st.send_to(
                conn,
                Outgoing::Frame(json!({"op": 9, "d": resumable, "s": null, "t": null}).to_string()),
            );
            st.log(GatewayLog::InvalidSessionSent { conn, resumable });
            if !resumable {
                st.session = None;
            }
        });
    }

    /// Asks the client for a heartbeat (op 1 from the server).
    pub fn request_heartbeat(&self) {
        self.mutate(|st| {
            let Some(conn) = st.live else {
                panic!("request_heartbeat: no gateway connection")
            };
            let seq = st.session.as_ref().map_or(0, |s| s.seq);
            st.send_to(
                conn,
                Outgoing::Frame(json!({"op": 1, "d": seq, "s": null, "t": null}).to_string()),
            );
        });
    }

    // ----- Interactions ------------------------------------------------------------------------

    /// A slash command (`CHAT_INPUT`, interaction type 2).
    pub fn slash(&self, name: &str) -> InteractionBuilder<'_> {
        InteractionBuilder::new(self, Kind::Command, name)
    }

    /// An autocomplete request (interaction type 4); mark the option being typed with
    /// [`InteractionBuilder::focused_str`].
    pub fn autocomplete(&self, name: &str) -> InteractionBuilder<'_> {
        InteractionBuilder::new(self, Kind::Autocomplete, name)
    }

    /// A button press (interaction type 3, component type 2). The message is the bot's message
    /// that has this `custom_id` (the newest), unless [`InteractionBuilder::on_message`] names it.
    pub fn button(&self, custom_id: &str) -> InteractionBuilder<'_> {
        InteractionBuilder::new(self, Kind::Button, custom_id)
    }

    /// A string-select choice (interaction type 3, component type 3) with the chosen `values`.
    pub fn string_select(&self, custom_id: &str, values: &[&str]) -> InteractionBuilder<'_> {
        let mut builder = InteractionBuilder::new(self, Kind::StringSelect, custom_id);
        builder.values = values.iter().map(|v| (*v).to_owned()).collect();
        builder
    }

    /// Dispatches a hand-made INTERACTION_CREATE payload (it must carry `id`, `token`, `type`
    /// and `channel_id`); the fake then accepts its callback. Prefer the builders.
    pub fn send_interaction(&self, payload: Value) -> InteractionRef {
        self.mutate(|st| match st.register_and_dispatch_interaction(payload) {
            Ok(found) => found,
            Err(e) => panic!("send_interaction: {e}"),
        })
    }
}

// ---------------------------------------------------------------------------------------------
// Interaction builder
// ---------------------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Command,
    Autocomplete,
    Button,
    StringSelect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Place {
    Default,
    Guild { guild: u64, channel: u64 },
    Dm,
}

/// Builds an INTERACTION_CREATE the way Discord sends it; finish with [`InteractionBuilder::send`].
#[must_use]
pub struct InteractionBuilder<'a> {
    fake: &'a FakeDiscord,
    kind: Kind,
    name: String,
    options: Vec<Value>,
    subcommand: Option<String>,
    values: Vec<String>,
    locale: String,
    guild_locale: Option<String>,
    place: Place,
    user: u64,
    member_permissions: Option<u64>,
    app_permissions: Option<u64>,
    message: Option<u64>,
}

impl<'a> InteractionBuilder<'a> {
    fn new(fake: &'a FakeDiscord, kind: Kind, name: &str) -> Self {
        InteractionBuilder {
            fake,
            kind,
            name: name.to_owned(),
            options: Vec::new(),
            subcommand: None,
            values: Vec::new(),
            locale: "en-US".to_owned(),
            guild_locale: None,
            place: Place::Default,
            user: FakeDiscord::USER_ID,
            member_permissions: None,
            app_permissions: None,
            message: None,
        }
    }

    fn option(mut self, name: &str, kind: u8, value: Value, focused: bool) -> Self {
        let mut option = json!({"name": name, "type": kind, "value": value});
        if focused {
            option["focused"] = json!(true);
        }
        self.options.push(option);
        self
    }

    /// A channel option (type 7); its channel is filled into `resolved`.
    pub fn option_channel(self, name: &str, channel: u64) -> Self {
        self.option(name, 7, json!(channel.to_string()), false)
    }

    /// A role option (type 8); its role is filled into `resolved`.
    pub fn option_role(self, name: &str, role: u64) -> Self {
        self.option(name, 8, json!(role.to_string()), false)
    }

    /// A string option (type 3).
    pub fn option_str(self, name: &str, value: &str) -> Self {
        self.option(name, 3, json!(value), false)
    }

    /// An integer option (type 4).
    pub fn option_int(self, name: &str, value: i64) -> Self {
        self.option(name, 4, json!(value), false)
    }

    /// A boolean option (type 5).
    pub fn option_bool(self, name: &str, value: bool) -> Self {
        self.option(name, 5, json!(value), false)
    }

    /// A number option (type 10).
    pub fn option_num(self, name: &str, value: f64) -> Self {
        self.option(name, 10, json!(value), false)
    }

    /// The string option being typed, for autocomplete (`focused: true`; the partial input).
    pub fn focused_str(self, name: &str, partial: &str) -> Self {
        self.option(name, 3, json!(partial), true)
    }

    /// The options that follow belong to this subcommand (type 1).
    pub fn subcommand(mut self, name: &str) -> Self {
        self.subcommand = Some(name.to_owned());
        self
    }

    /// The user's locale, e.g. `ko`, `es-ES`.
    pub fn locale(mut self, locale: &str) -> Self {
        self.locale = locale.to_owned();
        self
    }

    /// The guild's preferred locale (default: the guild's).
    pub fn guild_locale(mut self, locale: &str) -> Self {
        self.guild_locale = Some(locale.to_owned());
        self
    }

    /// In a guild text channel (context 0). The default is the first configured guild's first
    /// text channel.
    pub fn in_guild(mut self, guild: u64, channel: u64) -> Self {
        self.place = Place::Guild { guild, channel };
        self
    }

    /// In the user's DM with the bot (context 1; `user` instead of `member`).
    pub fn in_dm(mut self) -> Self {
        self.place = Place::Dm;
        self
    }

    /// The user who acts (default [`FakeDiscord::USER_ID`]); unknown ids become a made-up person.
    pub fn user(mut self, user: u64) -> Self {
        self.user = user;
        self
    }

    /// The member's `permissions` (default: computed from roles and overwrites).
    pub fn member_permissions(mut self, permissions: u64) -> Self {
        self.member_permissions = Some(permissions);
        self
    }

    /// The bot's `app_permissions` (default: computed from its roles and overwrites).
    pub fn app_permissions(mut self, permissions: u64) -> Self {
        self.app_permissions = Some(permissions);
        self
    }

    /// For components: the message the component is on.
    pub fn on_message(mut self, message: u64) -> Self {
        self.message = Some(message);
        self
    }

    /// The INTERACTION_CREATE payload this builder makes (ids and token drawn now).
    pub fn payload(&self) -> Value {
        let mut st = self.fake.lock();
        match st.interaction_payload(self) {
            Ok(payload) => payload,
            Err(e) => panic!("{} `{}`: {e}", self.kind_name(), self.name),
        }
    }

    /// Dispatches the interaction; the fake then accepts its callback.
    pub async fn send(self) -> InteractionRef {
        let what = format!("{} `{}`", self.kind_name(), self.name);
        self.fake.mutate(|st| {
            let payload = match st.interaction_payload(&self) {
                Ok(payload) => payload,
                Err(e) => panic!("{what}: {e}"),
            };
            match st.register_and_dispatch_interaction(payload) {
                Ok(found) => found,
                Err(e) => panic!("{what}: {e}"),
            }
        })
    }

    fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Command => "slash command",
            Kind::Autocomplete => "autocomplete for",
            Kind::Button => "button",
            Kind::StringSelect => "string select",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Shared state
// ---------------------------------------------------------------------------------------------

struct Shared {
    state: Mutex<State>,
    /// Bumped after every change; waiters re-check on it.
    changes: watch::Sender<u64>,
    /// Turns true when the FakeDiscord is dropped.
    shutdown: watch::Sender<bool>,
    addr: SocketAddr,
    /// The axum server task.
    server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed();
        out
    }
}

enum Outgoing {
    Frame(String),
    Close(u16, String),
    Drop,
}

struct Connection {
    tx: mpsc::UnboundedSender<Outgoing>,
    authenticated: bool,
}

struct Session {
    id: String,
    seq: u64,
    intents: u64,
    /// (seq, frame) of every dispatch, for replay.
    events: VecDeque<(u64, String)>,
}

struct StoredMessage {
    id: u64,
    channel_id: u64,
    guild_id: Option<u64>,
    /// The message as Discord returns it, without `poll.results`.
    json: Value,
    ephemeral: bool,
    poll: Option<PollState>,
    author_id: u64,
}

struct PollState {
    answer_ids: Vec<u64>,
    allow_multiselect: bool,
    /// answer id -> voters, in voting order.
    votes: BTreeMap<u64, Vec<u64>>,
    finalized: bool,
    /// Ended but not yet finalized: finalized from this instant on.
    finalizes_at: Option<Instant>,
}

impl PollState {
    /// Whether Discord has finalized the counts.
    fn is_finalized(&self) -> bool {
        self.finalized || self.finalizes_at.is_some_and(|at| at <= Instant::now())
    }

    /// Whether the poll has ended (finalized or not).
    fn has_ended(&self) -> bool {
        self.finalized || self.finalizes_at.is_some()
    }
}

struct Interaction {
    token: String,
    kind: u64,
    created: Instant,
    channel_id: u64,
    guild_id: Option<u64>,
    user_id: u64,
    /// The message a component was on.
    source_message: Option<u64>,
    /// The accepted callback type.
    acknowledged: Option<u64>,
    original: Option<u64>,
    followups: Vec<u64>,
    name: String,
}

struct Fault {
    method: String,
    prefix: String,
    kind: FaultKind,
}

#[derive(Clone)]
enum FaultKind {
    Status {
        status: u16,
        retry_after: f64,
        global: bool,
    },
    Delay(Duration),
    /// Handle the request (its effect happens and is recorded), then hold the answer back.
    HoldAnswer(Duration),
    /// Handle the request (its effect happens and is recorded), then answer this raw JSON text instead of the body.
    ReplaceBody(String),
}

struct State {
    addr: SocketAddr,
    token: String,
    spec: Option<Arc<ApiSpec>>,
    heartbeat_interval: Duration,
    application_id: u64,
    bot_user: FakeUser,
    interaction_deadline: Duration,
    nonce_window: Duration,
    poll_answer_ids: Vec<u64>,
    poll_finalize_delay: Duration,
    /// The next this many reads of a poll message leave out `poll.results` (a field Discord may omit).
    omit_poll_results: usize,

    users: BTreeMap<u64, FakeUser>,
    guilds: Vec<FakeGuild>,
    /// Guilds the bot was removed from (they and their channels answer Missing Access).
    left_guilds: Vec<FakeGuild>,
    dm_channels: BTreeMap<u64, u64>, // channel -> user
    messages: BTreeMap<u64, StoredMessage>,
    nonces: HashMap<(u64, String), (u64, Instant)>,
    global_commands: Vec<Value>,
    guild_commands: BTreeMap<u64, Vec<Value>>,
    interactions: HashMap<u64, Interaction>,
    last_snowflake: u64,

    requests: VecDeque<Recorded>,
    request_count: usize,
    violations: Vec<Violation>,
    faults: Vec<Fault>,

    connections: HashMap<u64, Connection>,
    next_connection: u64,
    live: Option<u64>,
    session: Option<Session>,
    ack_heartbeats: bool,
    gateway_log: VecDeque<GatewayLog>,
    identify_payloads: Vec<Value>,
    /// Connections still to be accepted and then left silent.
    silent_connections: usize,
    /// How many shards the bot identified with (`shard: [i, n]`): guild events go to `(guild_id >> 22) % n`.
    shard_total: u64,
    /// The sessions of shards other than 0 (shard 0 uses `live` and `session`, as with one shard).
    other_shards: BTreeMap<u64, ShardLink>,
}

/// A shard's session and its connection.
#[derive(Default)]
struct ShardLink {
    live: Option<u64>,
    session: Option<Session>,
}

/// A REST answer.
struct Reply {
    status: u16,
    body: Option<Value>,
    headers: Vec<(String, String)>,
    /// Sent instead of `body` (Cloudflare's HTML pages).
    raw: Option<(String, &'static str)>,
}

impl Reply {
    fn json(status: u16, body: Value) -> Reply {
        Reply {
            status,
            body: Some(body),
            headers: Vec::new(),
            raw: None,
        }
    }

    fn ok(body: Value) -> Reply {
        Reply::json(200, body)
    }

    fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            raw: None,
        }
    }

    fn error(status: u16, code: u64, message: &str) -> Reply {
        Reply::json(status, json!({"message": message, "code": code}))
    }

    fn not_found() -> Reply {
        Reply::error(404, 0, "404: Not Found")
    }

    fn unknown_channel() -> Reply {
        Reply::error(404, 10003, "Unknown Channel")
    }

    fn unknown_message() -> Reply {
        Reply::error(404, 10008, "Unknown Message")
    }

    fn unknown_webhook() -> Reply {
        Reply::error(404, 10015, "Unknown Webhook")
    }

    fn unknown_interaction() -> Reply {
        Reply::error(404, 10062, "Unknown interaction")
    }

    fn missing_access() -> Reply {
        Reply::error(403, 50001, "Missing Access")
    }

    fn missing_permissions() -> Reply {
        Reply::error(403, 50013, "Missing Permissions")
    }

    /// 400 50035 with Discord's nested `errors` tree.
    fn invalid_form_body(errors: &[SpecViolation]) -> Reply {
        Reply::json(
            400,
            json!({"code": 50035, "message": "Invalid Form Body", "errors": error_tree(errors)}),
        )
    }
}

struct Request<'a> {
    method: &'a str,
    path: &'a str,
    query: &'a str,
    body: &'a Value,
}

impl State {
    /// Whether the connection being opened is to be left silent (and counts it).
    fn take_silent_connection(&mut self) -> bool {
        if self.silent_connections == 0 {
            return false;
        }
        self.silent_connections -= 1;
        true
    }

    fn new(options: FakeOptions, addr: SocketAddr) -> State {
        let mut users = BTreeMap::new();
        for user in options
            .users
            .iter()
            .chain(std::iter::once(&options.bot_user))
        {
            users.insert(user.id, user.clone());
        }
        State {
            addr,
            token: options.token,
            spec: options.spec,
            heartbeat_interval: options.heartbeat_interval,
            application_id: options.application_id,
            bot_user: options.bot_user,
            interaction_deadline: options.interaction_deadline,
            nonce_window: options.nonce_window,
            poll_answer_ids: options.poll_answer_ids.clone(),
            poll_finalize_delay: options.poll_finalize_delay,
            omit_poll_results: 0,
            users,
            guilds: options.guilds,
            left_guilds: Vec::new(),
            dm_channels: BTreeMap::new(),
            messages: BTreeMap::new(),
            nonces: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: BTreeMap::new(),
            interactions: HashMap::new(),
            last_snowflake: 0,
            requests: VecDeque::new(),
            request_count: 0,
            violations: Vec::new(),
            faults: Vec::new(),
            connections: HashMap::new(),
            next_connection: 1,
            live: None,
            session: None,
            ack_heartbeats: true,
            gateway_log: VecDeque::new(),
            identify_payloads: Vec::new(),
            silent_connections: 0,
            shard_total: 1,
            other_shards: BTreeMap::new(),
        }
    }

    fn next_snowflake(&mut self) -> u64 {
        let ms = now_unix_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = (ms << 22) | (1 << 17);
        self.last_snowflake = candidate.max(self.last_snowflake + 1);
        self.last_snowflake
    }

    fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.addr)
    }

    fn log(&mut self, entry: GatewayLog) {
        tracing::debug!(?entry, "fake Discord gateway");
        if self.gateway_log.len() >= RECORD_LIMIT {
            self.gateway_log.pop_front();
        }
        self.gateway_log.push_back(entry);
    }

    fn count_log(&self, pred: impl Fn(&GatewayLog) -> bool) -> usize {
        self.gateway_log.iter().filter(|e| pred(e)).count()
    }

    fn describe_requests(&self) -> String {
        let lines: Vec<String> = self.requests.iter().map(ToString::to_string).collect();
        let mut text = format!("requests so far ({}):\n{}", lines.len(), lines.join("\n"));
        for violation in &self.violations {
            text.push('\n');
            text.push_str(&violation.to_string());
        }
        text
    }

    fn describe_gateway(&self) -> String {
        let lines: Vec<String> = self.gateway_log.iter().map(|e| format!("{e:?}")).collect();
        format!("gateway log:\n{}", lines.join("\n"))
    }

    fn has_intent(&self, bit: u64) -> bool {
        self.session
            .iter()
            .chain(
                self.other_shards
                    .values()
                    .filter_map(|l| l.session.as_ref()),
            )
            .any(|s| s.intents & bit != 0)
    }

    fn take_live(&mut self, what: &str) -> u64 {
        match self.live.take() {
            Some(conn) => conn,
            None => panic!("{what}: no gateway connection is open (wait_connected first)"),
        }
    }

    fn send_to(&self, conn: u64, out: Outgoing) {
        if let Some(c) = self.connections.get(&conn) {
            // A send fails only when the connection task is gone; then there is nobody to tell.
            let _ = c.tx.send(out);
        }
    }

    /// The shard a guild's events go to, as Discord computes it.
    fn shard_of(&self, guild_id: u64) -> u64 {
        (guild_id >> 22) % self.shard_total.max(1)
    }

    /// The shard a dispatch belongs to: its guild's (`guild_id`, or `id` for GUILD_* events), else shard 0.
    fn shard_of_dispatch(&self, event: &str, payload: &Value) -> u64 {
        let guild = payload.get("guild_id").or_else(|| {
            (event.starts_with("GUILD_") && !event.starts_with("GUILD_MEMBER"))
                .then(|| payload.get("id"))
                .flatten()
        });
        guild
            .and_then(Value::as_str)
            .and_then(|g| g.parse::<u64>().ok())
            .map_or(0, |g| self.shard_of(g))
    }

    /// Shard `shard`'s connection and session (shard 0's are `live` and `session`).
    fn shard_slot(&mut self, shard: u64) -> (&mut Option<u64>, &mut Option<Session>) {
        if shard == 0 {
            (&mut self.live, &mut self.session)
        } else {
            let link = self.other_shards.entry(shard).or_default();
            (&mut link.live, &mut link.session)
        }
    }

    /// Stores and sends a dispatch on the shard of its guild; `None` without a session there.
    fn dispatch(&mut self, event: &str, payload: Value) -> Option<u64> {
        let shard = self.shard_of_dispatch(event, &payload);
        self.dispatch_to(shard, event, payload)
    }

    /// Stores and sends a dispatch on `shard`; `None` without a session there.
    fn dispatch_to(&mut self, shard: u64, event: &str, payload: Value) -> Option<u64> {
        let (live, session) = self.shard_slot(shard);
        let live = *live;
        let session = session.as_mut()?;
        session.seq += 1;
        let seq = session.seq;
        let frame = json!({"op": 0, "s": seq, "t": event, "d": payload}).to_string();
        if session.events.len() >= REPLAY_LIMIT {
            session.events.pop_front();
        }
        session.events.push_back((seq, frame.clone()));
        if let Some(conn) = live {
            self.send_to(conn, Outgoing::Frame(frame));
        }
        Some(seq)
    }

    // ----- Lookups -----------------------------------------------------------------------------

    fn user(&self, id: u64) -> FakeUser {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| FakeUser::person(id, &format!("user{}", id % 10_000)))
    }

    fn user_json(&self, id: u64) -> Value {
        user_json(&self.user(id))
    }

    fn guild(&self, id: u64) -> Option<&FakeGuild> {
        self.guilds.iter().find(|g| g.id == id)
    }

    fn find_channel(&self, channel: u64) -> Option<(usize, usize)> {
        self.guilds.iter().enumerate().find_map(|(gi, g)| {
            g.channels
                .iter()
                .position(|c| c.id == channel)
                .map(|ci| (gi, ci))
        })
    }

    fn channel_guild(&self, channel: u64) -> Option<u64> {
        self.find_channel(channel).map(|(gi, _)| self.guilds[gi].id)
    }

    fn member_roles(&self, guild: &FakeGuild, user: u64) -> Vec<u64> {
        if user == self.bot_user.id {
            return guild.bot_roles.clone();
        }
        guild
            .members
            .iter()
            .find(|m| m.user_id == user)
            .map(|m| m.roles.clone())
            .unwrap_or_default()
    }

    /// Discord's permission algorithm: base from roles, then @everyone, role and member
    /// overwrites.
    fn channel_permissions(&self, guild: &FakeGuild, channel: &FakeChannel, user: u64) -> u64 {
        if guild.owner_id == user {
            return permissions::ALL;
        }
        let roles = self.member_roles(guild, user);
        let mut base = guild
            .roles
            .iter()
            .find(|r| r.id == guild.id)
            .map_or(0, |r| r.permissions);
        for role in guild.roles.iter().filter(|r| roles.contains(&r.id)) {
            base |= role.permissions;
        }
        if base & permissions::ADMINISTRATOR != 0 {
            return permissions::ALL;
        }
        let mut perms = base;
        if let Some(o) = channel
            .overwrites
            .iter()
            .find(|o| o.kind == 0 && o.id == guild.id)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        let (mut allow, mut deny) = (0, 0);
        for o in channel
            .overwrites
            .iter()
            .filter(|o| o.kind == 0 && roles.contains(&o.id))
        {
            allow |= o.allow;
            deny |= o.deny;
        }
        perms = (perms & !deny) | allow;
        if let Some(o) = channel
            .overwrites
            .iter()
            .find(|o| o.kind == 1 && o.id == user)
        {
            perms = (perms & !o.deny) | o.allow;
        }
        if perms & permissions::VIEW_CHANNEL == 0 {
            return 0;
        }
        perms
    }

    fn bot_permissions_in(&self, channel: u64) -> Option<u64> {
        let (gi, ci) = self.find_channel(channel)?;
        let guild = &self.guilds[gi];
        Some(self.channel_permissions(guild, &guild.channels[ci], self.bot_user.id))
    }

    // ----- JSON shapes -------------------------------------------------------------------------

    fn member_json(&self, guild: &FakeGuild, user: u64, permissions: Option<u64>) -> Value {
        let nick = guild
            .members
            .iter()
            .find(|m| m.user_id == user)
            .and_then(|m| m.nick.clone());
        let roles: Vec<String> = self
            .member_roles(guild, user)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut member = json!({
            "user": self.user_json(user),
            "nick": nick,
            "avatar": null,
            "banner": null,
            "roles": roles,
            "joined_at": snowflake_time(guild.id),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
            "unusual_dm_activity_until": null,
        });
        if let Some(p) = permissions {
            member["permissions"] = json!(p.to_string());
        }
        member
    }

    fn guild_base_json(&self, guild: &FakeGuild) -> Value {
        let roles: Vec<Value> = guild
            .roles
            .iter()
            .map(|r| role_json(r, self.bot_user.id))
            .collect();
        let mut value = json!({
            "id": guild.id.to_string(),
            "name": guild.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": guild.owner_id.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": guild.channels.first().map(|c| c.id.to_string()),
            "system_channel_flags": 0,
            "rules_channel_id": null,
        });
        // Split in two: one json! this long exceeds the macro recursion limit.
        let more = json!({
            "max_presences": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.preferred_locale,
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "nsfw": false,
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "region": "deprecated",
            "home_header": null,
            "hub_type": null,
            "latest_onboarding_question_id": null,
        });
        if let (Some(object), Value::Object(more)) = (value.as_object_mut(), more) {
            object.extend(more);
        }
        value
    }

    fn guild_create_json(&self, guild: &FakeGuild) -> Value {
        let mut value = self.guild_base_json(guild);
        let channels: Vec<Value> = guild
            .channels
            .iter()
            .map(|c| channel_json(c, None))
            .collect();
        let mut members = vec![self.member_json(guild, self.bot_user.id, None)];
        members.extend(
            guild
                .members
                .iter()
                .map(|m| self.member_json(guild, m.user_id, None)),
        );
        let bot_joined = snowflake_time(guild.id.saturating_add(1 << 32));
        members[0]["joined_at"] = json!(bot_joined);
        if let Some(object) = value.as_object_mut() {
            object.insert("joined_at".into(), json!(bot_joined));
            object.insert("large".into(), json!(false));
            object.insert("unavailable".into(), json!(false));
            object.insert("member_count".into(), json!(members.len()));
            object.insert("voice_states".into(), json!([]));
            object.insert("members".into(), Value::Array(members));
            object.insert("channels".into(), Value::Array(channels));
            object.insert("threads".into(), json!([]));
            object.insert("presences".into(), json!([]));
            object.insert("stage_instances".into(), json!([]));
            object.insert("guild_scheduled_events".into(), json!([]));
            object.insert("soundboard_sounds".into(), json!([]));
            object.insert("embedded_activities".into(), json!([]));
            object.insert("activity_instances".into(), json!([]));
            object.insert("application_command_counts".into(), json!({}));
            object.insert("lazy".into(), json!(true));
        }
        value
    }

    fn ready_json(&self, session_id: &str, shard: &Value) -> Value {
        let shard_id = shard.get(0).and_then(Value::as_u64).unwrap_or(0);
        let guilds: Vec<Value> = self
            .guilds
            .iter()
            .filter(|g| self.shard_of(g.id) == shard_id)
            .map(|g| json!({"id": g.id.to_string(), "unavailable": true}))
            .collect();
        let mut user = user_json(&self.bot_user);
        if let Some(object) = user.as_object_mut() {
            object.insert("verified".into(), json!(true));
            object.insert("mfa_enabled".into(), json!(false));
            object.insert("email".into(), Value::Null);
            object.insert("flags".into(), json!(0));
        }
        json!({
            "v": 10,
            "user": user,
            "guilds": guilds,
            "session_id": session_id,
            "resume_gateway_url": self.gateway_url(),
            "shard": shard,
            "application": {"id": self.application_id.to_string(), "flags": application_flags()},
            "session_type": "normal",
            "private_channels": [],
            "presences": [],
            "relationships": [],
            "guild_join_requests": [],
            "geo_ordered_rtc_regions": ["seoul", "japan", "hongkong"],
            "user_settings": {},
            "auth": {},
            "_trace": ["[\"gateway-prd-fake-0\",{\"micros\":1000}]"],
        })
    }

    fn application_json(&self) -> Value {
        let owner = self
            .guilds
            .first()
            .map_or(FakeDiscord::USER_ID, |g| g.owner_id);
        json!({
            "id": self.application_id.to_string(),
            "name": self.bot_user.username,
            "icon": null,
            "description": "",
            "summary": "",
            "type": null,
            "hook": true,
            "bot_public": true,
            "bot_require_code_grant": false,
            "verify_key": "8f2d1c3b4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
            "flags": application_flags(),
            "owner": self.user_json(owner),
            "team": null,
            "bot": user_json(&self.bot_user),
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "event_webhooks_url": null,
            "event_webhooks_status": 1,
            "tags": [],
            "install_params": {
                "scopes": ["bot", "applications.commands"],
                "permissions": permissions::BOT_INVITE.to_string(),
            },
            "integration_types_config": {
                "0": {"oauth2_install_params": {
                    "scopes": ["bot", "applications.commands"],
                    "permissions": permissions::BOT_INVITE.to_string(),
                }},
            },
            "approximate_guild_count": self.guilds.len(),
            "approximate_user_install_count": 0,
            "is_monetized": false,
            "is_verified": false,
            "is_discoverable": false,
            "explicit_content_filter": 0,
        })
    }

    fn render_message(&self, message: &StoredMessage) -> Value {
        let mut value = message.json.clone();
        if let Some(poll) = &message.poll {
            let counts: Vec<Value> = poll
                .votes
                .iter()
                .filter(|(_, voters)| !voters.is_empty())
                .map(|(answer, voters)| {
                    json!({"id": answer, "count": voters.len(), "me_voted": false})
                })
                .collect();
            value["poll"]["results"] =
                json!({"is_finalized": poll.is_finalized(), "answer_counts": counts});
        }
        value
    }

    /// MESSAGE_CREATE / MESSAGE_UPDATE for a stored message, when the intents ask for it.
    fn dispatch_message_event(&mut self, event: &str, id: u64) {
        let Some(message) = self.messages.get(&id) else {
            return;
        };
        if message.ephemeral {
            return;
        }
        let wanted = if message.guild_id.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        if !self.has_intent(wanted) {
            return;
        }
        let mut payload = self.render_message(message);
        if let Some(guild_id) = message.guild_id {
            payload["guild_id"] = json!(guild_id.to_string());
            if let Some(guild) = self.guild(guild_id) {
                let mut member = self.member_json(guild, message.author_id, None);
                if let Some(object) = member.as_object_mut() {
                    object.remove("user");
                }
                payload["member"] = member;
            }
        }
        // Without MESSAGE_CONTENT, content is empty except in the bot's own messages.
        if !self.has_intent(intents::MESSAGE_CONTENT) && message.author_id != self.bot_user.id {
            payload["content"] = json!("");
            payload["embeds"] = json!([]);
            payload["components"] = json!([]);
            if let Some(object) = payload.as_object_mut() {
                object.remove("poll");
            }
        }
        self.dispatch(event, payload);
    }

    fn dispatch_message_delete(&mut self, id: u64) {
        let Some(message) = self.messages.get(&id) else {
            return;
        };
        if message.ephemeral {
            return;
        }
        let wanted = if message.guild_id.is_some() {
            intents::GUILD_MESSAGES
        } else {
            intents::DIRECT_MESSAGES
        };
        if !self.has_intent(wanted) {
            return;
        }
        let mut payload =
            json!({"id": id.to_string(), "channel_id": message.channel_id.to_string()});
        if let Some(guild_id) = message.guild_id {
            payload["guild_id"] = json!(guild_id.to_string());
        }
        self.dispatch("MESSAGE_DELETE", payload);
    }

    // ----- Gateway -----------------------------------------------------------------------------

    fn on_connect(&mut self, tx: mpsc::UnboundedSender<Outgoing>) -> u64 {
        let conn = self.next_connection;
        self.next_connection += 1;
        self.connections.insert(
            conn,
            Connection {
                tx,
                authenticated: false,
            },
        );
        self.log(GatewayLog::Connected { conn });
        conn
    }

    fn on_disconnect(&mut self, conn: u64) {
        self.connections.remove(&conn);
        self.forget_live(conn);
        self.log(GatewayLog::Disconnected { conn });
    }

    fn close_connection(&mut self, conn: u64, code: u16) {
        self.send_to(conn, Outgoing::Close(code, close_reason(code).to_owned()));
        self.forget_live(conn);
        self.log(GatewayLog::ServerClosed { conn, code });
    }

    /// `conn` no longer carries any shard's events.
    fn forget_live(&mut self, conn: u64) {
        if self.live == Some(conn) {
            self.live = None;
        }
        for link in self.other_shards.values_mut() {
            if link.live == Some(conn) {
                link.live = None;
            }
        }
    }

    fn token_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| t.strip_prefix("Bot ").unwrap_or(t) == self.token)
    }

    fn on_client_frame(&mut self, conn: u64, text: &str) {
        let Ok(frame) = serde_json::from_str::<Value>(text) else {
            self.close_connection(conn, 4002);
            return;
        };
        let authenticated = self.connections.get(&conn).is_some_and(|c| c.authenticated);
        match frame.get("op").and_then(Value::as_u64) {
            Some(1) => {
                let seq = frame.get("d").and_then(Value::as_u64);
                self.log(GatewayLog::Heartbeat { conn, seq });
                if self.ack_heartbeats {
                    let ack = json!({"op": 11, "d": null, "s": null, "t": null}).to_string();
                    self.send_to(conn, Outgoing::Frame(ack));
                }
            }
            Some(2) => {
                self.on_identify(conn, authenticated, frame.get("d").unwrap_or(&Value::Null))
            }
            Some(6) => self.on_resume(conn, authenticated, frame.get("d").unwrap_or(&Value::Null)),
            Some(op @ (3 | 4 | 8 | 31)) => {
                if authenticated {
                    self.log(GatewayLog::Other { conn, op });
                } else {
                    self.close_connection(conn, 4003);
                }
            }
            _ => self.close_connection(conn, 4001),
        }
    }

    fn on_identify(&mut self, conn: u64, authenticated: bool, d: &Value) {
        if authenticated {
            self.close_connection(conn, 4005);
            return;
        }
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            self.log(GatewayLog::AuthenticationFailed { conn });
            self.close_connection(conn, 4004);
            return;
        }
        let intents = d.get("intents").and_then(Value::as_u64).unwrap_or(0);
        let shard = d.get("shard").cloned().unwrap_or_else(|| json!([0, 1]));
        let (shard_id, shard_total) = (
            shard.get(0).and_then(Value::as_u64).unwrap_or(0),
            shard.get(1).and_then(Value::as_u64).unwrap_or(1).max(1),
        );
        if shard_id >= shard_total {
            self.close_connection(conn, 4010);
            return;
        }
        self.shard_total = shard_total;
        let mut payload = d.clone();
        payload["token"] = json!("<redacted>");
        self.identify_payloads.push(payload);
        let session_id = random_hex(2);
        if let Some(c) = self.connections.get_mut(&conn) {
            c.authenticated = true;
        }
        let (live, session) = self.shard_slot(shard_id);
        *session = Some(Session {
            id: session_id.clone(),
            seq: 0,
            intents,
            events: VecDeque::new(),
        });
        *live = Some(conn);
        self.log(GatewayLog::Identified {
            conn,
            session_id: session_id.clone(),
            intents,
        });
        let ready = self.ready_json(&session_id, &shard);
        self.dispatch_to(shard_id, "READY", ready);
        if intents & intents::GUILDS != 0 {
            let creates: Vec<Value> = self
                .guilds
                .iter()
                .filter(|g| self.shard_of(g.id) == shard_id)
                .map(|g| self.guild_create_json(g))
                .collect();
            for create in creates {
                self.dispatch_to(shard_id, "GUILD_CREATE", create);
            }
        }
    }

    fn on_resume(&mut self, conn: u64, authenticated: bool, d: &Value) {
        if authenticated {
            self.close_connection(conn, 4005);
            return;
        }
        if !self.token_ok(d.get("token").and_then(Value::as_str)) {
            self.log(GatewayLog::AuthenticationFailed { conn });
            self.close_connection(conn, 4004);
            return;
        }
        let session_id = d
            .get("session_id")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let seq = d.get("seq").and_then(Value::as_u64).unwrap_or(0);
        let shard = self
            .other_shards
            .iter()
            .find(|(_, link)| link.session.as_ref().is_some_and(|s| s.id == session_id))
            .map_or(0, |(shard, _)| *shard);
        let (live, session) = self.shard_slot(shard);
        let previous_live = *live;
        let (replay, current_seq) = match &*session {
            Some(session) if session.id == session_id => {
                let oldest_kept = session.events.front().map_or(session.seq + 1, |(s, _)| *s);
                let complete = seq + 1 >= oldest_kept;
                let replay: Vec<String> = session
                    .events
                    .iter()
                    .filter(|(s, _)| *s > seq)
                    .map(|(_, frame)| frame.clone())
                    .collect();
                (complete.then_some(replay), session.seq)
            }
            _ => (None, 0),
        };
        let Some(replay) = replay else {
            let refuse = json!({"op": 9, "d": false, "s": null, "t": null}).to_string();
            self.send_to(conn, Outgoing::Frame(refuse));
            self.log(GatewayLog::ResumeRefused { conn, session_id });
            return;
        };
        if seq > current_seq {
            self.close_connection(conn, 4007);
            return;
        }
        if let Some(previous) = previous_live.filter(|previous| *previous != conn) {
            // Discord closes the session's previous connection when it is resumed elsewhere.
            self.send_to(previous, Outgoing::Drop);
        }
        if let Some(c) = self.connections.get_mut(&conn) {
            c.authenticated = true;
        }
        *self.shard_slot(shard).0 = Some(conn);
        let replayed = replay.len();
        for frame in replay {
            self.send_to(conn, Outgoing::Frame(frame));
        }
        self.dispatch_to(
            shard,
            "RESUMED",
            json!({"_trace": ["[\"gateway-prd-fake-0\",{\"micros\":500}]"]}),
        );
        self.log(GatewayLog::Resumed {
            conn,
            session_id,
            seq,
            replayed,
        });
    }

    // ----- Interactions ------------------------------------------------------------------------

    fn interaction_payload(&mut self, b: &InteractionBuilder<'_>) -> Result<Value, String> {
        let id = self.next_snowflake();
        let token = format!("aW50ZXJhY3Rpb246{id}OmZha2U6{}", random_hex(3));
        let user = self.user(b.user);
        self.users.entry(user.id).or_insert_with(|| user.clone());

        let place = match b.place {
            Place::Default => match self.guilds.first() {
                Some(g) => match g.channels.iter().find(|c| c.kind == 0) {
                    Some(c) => Place::Guild {
                        guild: g.id,
                        channel: c.id,
                    },
                    None => Place::Dm,
                },
                None => Place::Dm,
            },
            other => other,
        };

        let data = match b.kind {
            Kind::Command | Kind::Autocomplete => {
                let guild = match place {
                    Place::Guild { guild, .. } => Some(guild),
                    _ => None,
                };
                let command = guild
                    .and_then(|g| self.guild_commands.get(&g))
                    .into_iter()
                    .flatten()
                    .chain(self.global_commands.iter())
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(b.name.as_str()))
                    .cloned();
                let command_id = command
                    .as_ref()
                    .and_then(|c| c.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.next_snowflake().to_string());
                let options = match &b.subcommand {
                    Some(sub) => json!([{"name": sub, "type": 1, "options": b.options}]),
                    None => json!(b.options),
                };
                let mut data = json!({"id": command_id, "name": b.name, "type": 1});
                if options.as_array().is_some_and(|o| !o.is_empty()) {
                    // Discord leaves `options` out when there are none.
                    data["options"] = options;
                }
                // Channel (7) and role (8) options come with their objects in `resolved`, as on Discord.
                for option in &b.options {
                    let id = option["value"]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                    let kind = option["type"].as_u64();
                    let found = self.guilds.iter().find_map(|g| match kind {
                        Some(7) => g.channels.iter().find(|c| c.id == id).map(|c| {
                            let mut channel = channel_json(c, Some(g.id));
                            channel["permissions"] = json!(permissions::ALL.to_string());
                            ("channels", channel)
                        }),
                        Some(8) => g
                            .roles
                            .iter()
                            .find(|r| r.id == id)
                            .map(|r| ("roles", role_json(r, self.bot_user.id))),
                        _ => None,
                    });
                    if let Some((table, object)) = found {
                        data["resolved"][table][id.to_string()] = object;
                    }
                }
                if let Some(g) = command
                    .as_ref()
                    .and_then(|c| c.get("guild_id"))
                    .filter(|g| !g.is_null())
                {
                    data["guild_id"] = g.clone();
                }
                data
            }
            Kind::Button | Kind::StringSelect => {
                let mut data = json!({
                    "custom_id": b.name,
                    "component_type": if b.kind == Kind::Button { 2 } else { 3 },
                });
                if b.kind == Kind::StringSelect {
                    data["values"] = json!(b.values);
                }
                data
            }
        };

        let (interaction_type, source_message) = match b.kind {
            Kind::Command => (2, None),
            Kind::Autocomplete => (4, None),
            Kind::Button | Kind::StringSelect => {
                let message = match b.message {
                    Some(m) if self.messages.contains_key(&m) => m,
                    Some(m) => return Err(format!("no message {m} is stored")),
                    None => self.find_component_message(&b.name).ok_or_else(|| {
                        format!(
                            "no message the bot sent has a component with custom_id `{}`",
                            b.name
                        )
                    })?,
                };
                (3, Some(message))
            }
        };

        let mut payload = json!({
            "id": id.to_string(),
            "application_id": self.application_id.to_string(),
            "type": interaction_type,
            "token": token,
            "version": 1,
            "data": data,
            "locale": b.locale,
            "entitlements": [],
            "attachment_size_limit": 10_485_760,
        });

        let place = match (place, source_message) {
            // A component interaction happens where its message is.
            (_, Some(m)) => match self
                .messages
                .get(&m)
                .and_then(|m| m.guild_id.map(|g| (g, m.channel_id)))
            {
                Some((guild, channel)) => Place::Guild { guild, channel },
                None => Place::Dm,
            },
            (place, None) => place,
        };

        match place {
            Place::Guild { guild, channel } => {
                let Some(g) = self.guild(guild) else {
                    return Err(format!("no guild {guild}"));
                };
                let Some(c) = g.channels.iter().find(|c| c.id == channel) else {
                    return Err(format!("no channel {channel} in guild {guild}"));
                };
                let member_permissions = b
                    .member_permissions
                    .unwrap_or_else(|| self.channel_permissions(g, c, user.id));
                let app_permissions = b
                    .app_permissions
                    .unwrap_or_else(|| self.channel_permissions(g, c, self.bot_user.id));
                let mut channel_value = channel_json(c, Some(guild));
                channel_value["permissions"] = json!(member_permissions.to_string());
                let member = self.member_json(g, user.id, Some(member_permissions));
                let guild_locale = b
                    .guild_locale
                    .clone()
                    .unwrap_or_else(|| g.preferred_locale.clone());
                if let Some(object) = payload.as_object_mut() {
                    object.insert("guild_id".into(), json!(guild.to_string()));
                    object.insert(
                        "guild".into(),
                        json!({"id": guild.to_string(), "locale": guild_locale, "features": []}),
                    );
                    object.insert("guild_locale".into(), json!(guild_locale));
                    object.insert("channel_id".into(), json!(channel.to_string()));
                    object.insert("channel".into(), channel_value);
                    object.insert("member".into(), member);
                    object.insert("app_permissions".into(), json!(app_permissions.to_string()));
                    object.insert(
                        "authorizing_integration_owners".into(),
                        json!({"0": guild.to_string()}),
                    );
                    object.insert("context".into(), json!(0));
                }
            }
            Place::Dm | Place::Default => {
                let channel = self.dm_channel_for(user.id);
                // What Discord puts in app_permissions for the bot's DMs.
                let dm_permissions = permissions::ATTACH_FILES
                    | permissions::EMBED_LINKS
                    | permissions::MENTION_EVERYONE
                    | permissions::USE_EXTERNAL_EMOJIS;
                if let Some(object) = payload.as_object_mut() {
                    object.insert("channel_id".into(), json!(channel.to_string()));
                    object.insert(
                        "channel".into(),
                        json!({
                            "id": channel.to_string(),
                            "type": 1,
                            "flags": 0,
                            "last_message_id": null,
                            "recipients": [user_json(&user)],
                        }),
                    );
                    object.insert("user".into(), user_json(&user));
                    object.insert(
                        "app_permissions".into(),
                        json!(b.app_permissions.unwrap_or(dm_permissions).to_string()),
                    );
                    object.insert("authorizing_integration_owners".into(), json!({"0": "0"}));
                    object.insert("context".into(), json!(1));
                }
            }
        }

        if let Some(m) = source_message.and_then(|m| self.messages.get(&m)) {
            payload["message"] = self.render_message(m);
        }
        Ok(payload)
    }

    fn dm_channel_for(&mut self, user: u64) -> u64 {
        if let Some((channel, _)) = self.dm_channels.iter().find(|(_, u)| **u == user) {
            return *channel;
        }
        let channel = self.next_snowflake();
        self.dm_channels.insert(channel, user);
        channel
    }

    /// The newest bot message with a component whose `custom_id` is `custom_id`.
    fn find_component_message(&self, custom_id: &str) -> Option<u64> {
        self.messages
            .values()
            .rev()
            .filter(|m| m.author_id == self.bot_user.id)
            .find(|m| {
                let mut ids = Vec::new();
                collect_custom_ids(
                    m.json.get("components").unwrap_or(&Value::Null),
                    "",
                    &mut ids,
                );
                ids.iter().any(|(_, id)| id == custom_id)
            })
            .map(|m| m.id)
    }

    fn register_and_dispatch_interaction(
        &mut self,
        payload: Value,
    ) -> Result<InteractionRef, String> {
        let id = payload
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the payload has no string `id`")?;
        let token = payload
            .get("token")
            .and_then(Value::as_str)
            .ok_or("the payload has no `token`")?
            .to_owned();
        let kind = payload
            .get("type")
            .and_then(Value::as_u64)
            .ok_or("the payload has no `type`")?;
        let channel_id = payload
            .get("channel_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the payload has no `channel_id`")?;
        let guild_id = payload
            .get("guild_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let user_id = payload
            .pointer("/member/user/id")
            .or_else(|| payload.pointer("/user/id"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(FakeDiscord::USER_ID);
        let source_message = payload
            .pointer("/message/id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let name = payload
            .pointer("/data/name")
            .or_else(|| payload.pointer("/data/custom_id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(seq) = self.dispatch("INTERACTION_CREATE", payload) else {
            return Err("no gateway session (wait_connected first)".to_owned());
        };
        self.interactions.insert(
            id,
            Interaction {
                token: token.clone(),
                kind,
                created: Instant::now(),
                channel_id,
                guild_id,
                user_id,
                source_message,
                acknowledged: None,
                original: None,
                followups: Vec::new(),
                name,
            },
        );
        Ok(InteractionRef {
            id,
            token,
            seq,
            sent_at: Instant::now(),
        })
    }

    // ----- Polls -------------------------------------------------------------------------------

    fn poll_mut(&mut self, channel: u64, message: u64) -> Result<&mut PollState, String> {
        let Some(m) = self
            .messages
            .get_mut(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Err(format!("no message {message} in channel {channel}"));
        };
        m.poll
            .as_mut()
            .ok_or_else(|| format!("message {message} has no poll"))
    }

    fn dispatch_vote(&mut self, event: &str, channel: u64, message: u64, user: u64, answer: u64) {
        let guild_id = self.messages.get(&message).and_then(|m| m.guild_id);
        let wanted = if guild_id.is_some() {
            intents::GUILD_MESSAGE_POLLS
        } else {
            intents::DIRECT_MESSAGE_POLLS
        };
        if !self.has_intent(wanted) {
            return;
        }
        let mut payload = json!({
            "user_id": user.to_string(),
            "channel_id": channel.to_string(),
            "message_id": message.to_string(),
            "answer_id": answer,
        });
        if let Some(g) = guild_id {
            payload["guild_id"] = json!(g.to_string());
        }
        self.dispatch(event, payload);
    }

    fn cast_vote(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        answer: u64,
    ) -> Result<(), String> {
        let poll = self.poll_mut(channel, message)?;
        if poll.has_ended() {
            return Err(format!("the poll in message {message} has ended"));
        }
        if !poll.answer_ids.contains(&answer) {
            return Err(format!(
                "the poll in message {message} has no answer {answer}"
            ));
        }
        if poll.votes.get(&answer).is_some_and(|v| v.contains(&user)) {
            return Ok(());
        }
        let mut removed = Vec::new();
        if !poll.allow_multiselect {
            for (other, voters) in poll.votes.iter_mut() {
                if voters.contains(&user) {
                    voters.retain(|v| *v != user);
                    removed.push(*other);
                }
            }
        }
        poll.votes.entry(answer).or_default().push(user);
        for other in removed {
            self.dispatch_vote("MESSAGE_POLL_VOTE_REMOVE", channel, message, user, other);
        }
        self.dispatch_vote("MESSAGE_POLL_VOTE_ADD", channel, message, user, answer);
        Ok(())
    }

    fn remove_vote(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        answer: u64,
    ) -> Result<(), String> {
        let poll = self.poll_mut(channel, message)?;
        if poll.has_ended() {
            return Err(format!("the poll in message {message} has ended"));
        }
        let Some(voters) = poll.votes.get_mut(&answer).filter(|v| v.contains(&user)) else {
            return Err(format!("user {user} has no vote for answer {answer}"));
        };
        voters.retain(|v| *v != user);
        self.dispatch_vote("MESSAGE_POLL_VOTE_REMOVE", channel, message, user, answer);
        Ok(())
    }

    /// Ends a poll: results finalized, expiry now, MESSAGE_UPDATE, then the POLL_RESULT message.
    fn end_poll(&mut self, channel: u64, message: u64) -> Result<Value, Reply> {
        let now = iso8601(SystemTime::now());
        let result_id = self.next_snowflake();
        let bot = user_json(&self.bot_user);
        let Some(stored) = self
            .messages
            .get_mut(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Err(Reply::unknown_message());
        };
        let guild_id = stored.guild_id;
        let Some(poll) = stored.poll.as_mut() else {
            return Err(Reply::error(
                400,
                520_006,
                "Cannot expire a non-poll message",
            ));
        };
        if poll.has_ended() {
            return Err(Reply::error(400, 520_001, "Poll expired"));
        }
        if self.poll_finalize_delay.is_zero() {
            poll.finalized = true;
        } else {
            poll.finalizes_at = Some(Instant::now() + self.poll_finalize_delay);
        }
        stored.json["poll"]["expiry"] = json!(now);
        let question = stored
            .json
            .pointer("/poll/question/text")
            .cloned()
            .unwrap_or(Value::Null);
        let answers = stored
            .json
            .pointer("/poll/answers")
            .cloned()
            .unwrap_or_else(|| json!([]));
        let totals: Vec<(u64, usize)> = poll
            .votes
            .iter()
            .map(|(answer, voters)| (*answer, voters.len()))
            .collect();
        let total: usize = totals.iter().map(|(_, n)| n).sum();
        let top = totals.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let leaders: Vec<u64> = totals
            .iter()
            .filter(|(_, n)| *n == top && top > 0)
            .map(|(a, _)| *a)
            .collect();

        let mut fields = vec![
            json!({"name": "poll_question_text", "value": question, "inline": false}),
            json!({"name": "victor_answer_votes", "value": top.to_string(), "inline": false}),
            json!({"name": "total_votes", "value": total.to_string(), "inline": false}),
        ];
        if let [victor] = leaders.as_slice() {
            fields.push(
                json!({"name": "victor_answer_id", "value": victor.to_string(), "inline": false}),
            );
            let text = answers
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("answer_id").and_then(Value::as_u64) == Some(*victor))
                })
                .and_then(|x| x.pointer("/poll_media/text"))
                .cloned()
                .unwrap_or(Value::Null);
            fields.push(json!({"name": "victor_answer_text", "value": text, "inline": false}));
        }
        let mut result = base_message(result_id, channel, bot, "", 46);
        result["embeds"] = json!([{"type": "poll_result", "fields": fields}]);
        let mut reference = json!({"type": 0, "message_id": message.to_string(), "channel_id": channel.to_string()});
        if let Some(g) = guild_id {
            reference["guild_id"] = json!(g.to_string());
        }
        result["message_reference"] = reference;
        self.messages.insert(
            result_id,
            StoredMessage {
                id: result_id,
                channel_id: channel,
                guild_id,
                json: result,
                ephemeral: false,
                poll: None,
                author_id: self.bot_user.id,
            },
        );
        self.dispatch_message_event("MESSAGE_UPDATE", message);
        self.dispatch_message_event("MESSAGE_CREATE", result_id);
        let rendered = self
            .messages
            .get(&message)
            .map(|m| self.render_message(m))
            .unwrap_or_default();
        Ok(rendered)
    }

    // ----- REST --------------------------------------------------------------------------------

    fn take_fault(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| (f.method == "*" || f.method == method) && path.starts_with(&f.prefix))?;
        Some(self.faults.remove(index).kind)
    }

    fn record(&mut self, mut recorded: Recorded) {
        recorded.index = self.request_count;
        self.request_count += 1;
        if self.requests.len() >= RECORD_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(recorded);
    }

    fn violation(
        &mut self,
        source: ViolationSource,
        req: &Request<'_>,
        errors: Vec<SpecViolation>,
    ) {
        self.violations.push(Violation {
            source,
            method: req.method.to_owned(),
            path: req.path.to_owned(),
            body: req.body.clone(),
            errors,
        });
    }

    /// Answers one REST request (without faults).
    fn handle(
        &mut self,
        req: &Request<'_>,
        authorization: Option<&str>,
        body_error: Option<&str>,
    ) -> Reply {
        let Some(route) = req.path.strip_prefix("/api/v10") else {
            return Reply::not_found();
        };
        let segments: Vec<&str> = route
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let method = req.method;

        if !route_is_public(method, &segments) && !self.token_ok_header(authorization) {
            return Reply::error(401, 0, "401: Unauthorized");
        }
        if let Some(error) = body_error {
            return Reply::error(400, 50109, error);
        }
        if let Some(spec) = self.spec.clone() {
            match spec.check_request(method, req.path, req.body) {
                Ok(errors) if errors.is_empty() => {}
                Ok(errors) => {
                    let reply = Reply::invalid_form_body(&errors);
                    self.violation(ViolationSource::OpenApi, req, errors);
                    return reply;
                }
                Err(unknown) => {
                    // Not an operation Discord documents: recorded; answered as the fake would.
                    let error = SpecViolation {
                        instance_path: String::new(),
                        code: "UNKNOWN_ROUTE".to_owned(),
                        message: unknown,
                    };
                    self.violation(ViolationSource::OpenApi, req, vec![error]);
                }
            }
        }
        self.route(req, &segments)
    }

    fn token_ok_header(&self, authorization: Option<&str>) -> bool {
        authorization.and_then(|a| a.strip_prefix("Bot ")) == Some(self.token.as_str())
    }

    fn route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let id = |i: usize| s.get(i).and_then(|v| v.parse::<u64>().ok());
        // A guild the bot left, and its channels, still exist: Discord answers Missing Access.
        let left = match s {
            ["guilds", ..] => id(1).is_some_and(|g| self.left_guilds.iter().any(|l| l.id == g)),
            ["channels", ..] => id(1).is_some_and(|c| {
                self.left_guilds
                    .iter()
                    .any(|l| l.channels.iter().any(|ch| ch.id == c))
            }),
            _ => false,
        };
        if left {
            return Reply::missing_access();
        }
        match (req.method, s) {
            ("GET", ["gateway"]) => Reply::ok(json!({"url": self.gateway_url()})),
            ("GET", ["gateway", "bot"]) => {
                let used = self.count_log(|e| matches!(e, GatewayLog::Identified { .. }));
                Reply::ok(json!({
                    "url": self.gateway_url(),
                    "shards": 1,
                    "session_start_limit": {
                        "total": 1000,
                        "remaining": 1000usize.saturating_sub(used),
                        "reset_after": 86_400_000,
                        "max_concurrency": 1,
                    },
                }))
            }
            ("GET", ["users", "@me"]) => {
                let mut user = user_json(&self.bot_user);
                user["verified"] = json!(true);
                user["mfa_enabled"] = json!(false);
                user["email"] = Value::Null;
                user["flags"] = json!(0);
                user["locale"] = json!("en-US");
                user["premium_type"] = json!(0);
                Reply::ok(user)
            }
            ("GET", ["users", _]) => match id(1).and_then(|u| self.users.get(&u)) {
                Some(user) => Reply::ok(user_json(user)),
                None => Reply::error(404, 10013, "Unknown User"),
            },
            ("GET", ["oauth2", "applications", "@me"] | ["applications", "@me"]) => {
                Reply::ok(self.application_json())
            }
            (
                _,
                ["applications", _, "commands", ..]
                | ["applications", _, "guilds", _, "commands", ..],
            ) => self.commands_route(req, s),
            ("POST", ["interactions", _, token, "callback"]) => match id(1) {
                Some(interaction) => self.interaction_callback(interaction, token, req.body),
                None => Reply::unknown_interaction(),
            },
            (_, ["webhooks", _, token, ..]) => self.webhook_route(req, id(1), token, &s[3..]),
            ("GET", ["channels", _]) => match id(1).and_then(|c| self.channel_value(c)) {
                Some(channel) => Reply::ok(channel),
                None => Reply::unknown_channel(),
            },
            ("POST", ["channels", _, "typing"]) => {
                match id(1).and_then(|c| self.channel_value(c)) {
                    Some(_) => Reply::no_content(),
                    None => Reply::unknown_channel(),
                }
            }
            (_, ["channels", _, "messages", ..]) => match id(1) {
                Some(channel) => self.messages_route(req, channel, &s[3..]),
                None => Reply::unknown_channel(),
            },
            ("POST", ["channels", _, "polls", _, "expire"]) => match (id(1), id(3)) {
                (Some(channel), Some(message)) => self.expire_poll(channel, message),
                _ => Reply::unknown_message(),
            },
            ("GET", ["channels", _, "polls", _, "answers", _]) => match (id(1), id(3), id(5)) {
                (Some(channel), Some(message), Some(answer)) => {
                    self.poll_voters(req, channel, message, answer)
                }
                _ => Reply::unknown_message(),
            },
            ("GET", ["guilds", _, ..]) => self.guild_route(req, s),
            _ => Reply::not_found(),
        }
    }

    fn channel_value(&self, channel: u64) -> Option<Value> {
        if let Some((gi, ci)) = self.find_channel(channel) {
            let guild = &self.guilds[gi];
            return Some(channel_json(&guild.channels[ci], Some(guild.id)));
        }
        let user = self.dm_channels.get(&channel)?;
        Some(json!({
            "id": channel.to_string(),
            "type": 1,
            "flags": 0,
            "last_message_id": null,
            "recipients": [self.user_json(*user)],
        }))
    }

    fn guild_route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let Some(guild) = s
            .get(1)
            .and_then(|g| g.parse::<u64>().ok())
            .and_then(|g| self.guild(g))
        else {
            return Reply::error(404, 10004, "Unknown Guild");
        };
        match &s[2..] {
            [] => {
                let mut value = self.guild_base_json(guild);
                if parse_query(req.query)
                    .get("with_counts")
                    .is_some_and(|v| v == "true")
                {
                    value["approximate_member_count"] = json!(guild.members.len() + 1);
                    value["approximate_presence_count"] = json!(1);
                }
                Reply::ok(value)
            }
            ["channels"] => Reply::ok(Value::Array(
                guild
                    .channels
                    .iter()
                    .map(|c| channel_json(c, Some(guild.id)))
                    .collect(),
            )),
            ["roles"] => Reply::ok(Value::Array(
                guild
                    .roles
                    .iter()
                    .map(|r| role_json(r, self.bot_user.id))
                    .collect(),
            )),
            ["members", user] => {
                let user: u64 = user.parse().unwrap_or(0);
                let is_member =
                    user == self.bot_user.id || guild.members.iter().any(|m| m.user_id == user);
                if is_member {
                    let mut member = self.member_json(guild, user, None);
                    if user == self.bot_user.id {
                        member["joined_at"] =
                            json!(snowflake_time(guild.id.saturating_add(1 << 32)));
                    }
                    Reply::ok(member)
                } else {
                    Reply::error(404, 10007, "Unknown Member")
                }
            }
            _ => Reply::not_found(),
        }
    }

    // ----- Commands ----------------------------------------------------------------------------

    fn commands_route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let app = s.get(1).and_then(|a| a.parse::<u64>().ok());
        if app != Some(self.application_id) {
            return Reply::error(403, 50001, "Missing Access");
        }
        let (guild, rest) = match s {
            [_, _, "guilds", guild, "commands", rest @ ..] => match guild.parse::<u64>() {
                Ok(g) if self.guild(g).is_some() => (Some(g), rest),
                _ => return Reply::missing_access(),
            },
            [_, _, "commands", rest @ ..] => (None, rest),
            _ => return Reply::not_found(),
        };
        match (req.method, rest) {
            ("GET", []) => Reply::ok(Value::Array(self.commands(guild).clone())),
            ("PUT", []) => {
                let Some(list) = req.body.as_array() else {
                    return Reply::invalid_form_body(&[rule(
                        "",
                        "BASE_TYPE_ARRAY",
                        "Must be an array.",
                    )]);
                };
                let mut names = Vec::new();
                for (i, command) in list.iter().enumerate() {
                    let key = command_key(command);
                    if names.contains(&key) {
                        let error = rule(
                            &format!("/{i}/name"),
                            "APPLICATION_COMMANDS_DUPLICATE_NAME",
                            "Application command names must be unique",
                        );
                        self.violation(ViolationSource::DiscordRule, req, vec![error.clone()]);
                        return Reply::invalid_form_body(&[error]);
                    }
                    names.push(key);
                }
                let stored: Vec<Value> =
                    list.iter().map(|c| self.store_command(guild, c)).collect();
                *self.commands_mut(guild) = stored.clone();
                Reply::ok(Value::Array(stored))
            }
            ("POST", []) => {
                let stored = self.store_command(guild, req.body);
                let key = command_key(&stored);
                let list = self.commands_mut(guild);
                let existed = list.iter().position(|c| command_key(c) == key);
                match existed {
                    Some(i) => list[i] = stored.clone(),
                    None => list.push(stored.clone()),
                }
                Reply::json(if existed.is_some() { 200 } else { 201 }, stored)
            }
            (method @ ("GET" | "DELETE"), [command]) => {
                let list = self.commands_mut(guild);
                let Some(i) = list
                    .iter()
                    .position(|c| c.get("id").and_then(Value::as_str) == Some(*command))
                else {
                    return Reply::error(404, 10063, "Unknown application command");
                };
                if method == "GET" {
                    Reply::ok(list[i].clone())
                } else {
                    list.remove(i);
                    Reply::no_content()
                }
            }
            _ => Reply::not_found(),
        }
    }

    fn commands(&mut self, guild: Option<u64>) -> &Vec<Value> {
        self.commands_mut(guild)
    }

    fn commands_mut(&mut self, guild: Option<u64>) -> &mut Vec<Value> {
        match guild {
            None => &mut self.global_commands,
            Some(g) => self.guild_commands.entry(g).or_default(),
        }
    }

    /// A command as Discord stores it; an unchanged command keeps its id and version.
    fn store_command(&mut self, guild: Option<u64>, sent: &Value) -> Value {
        let key = command_key(sent);
        let existing = self
            .commands(guild)
            .iter()
            .find(|c| command_key(c) == key)
            .cloned();
        let kind = sent.get("type").and_then(Value::as_u64).unwrap_or(1);
        let mut command = json!({
            "type": kind,
            "application_id": self.application_id.to_string(),
            "name": sent.get("name").cloned().unwrap_or(Value::Null),
            "name_localizations": sent.get("name_localizations").cloned().unwrap_or(Value::Null),
            "description": sent.get("description").cloned().unwrap_or_else(|| json!("")),
            "description_localizations": sent.get("description_localizations").cloned().unwrap_or(Value::Null),
            "default_member_permissions": sent
                .get("default_member_permissions")
                .filter(|p| !p.is_null())
                .map(|p| json!(p.as_str().map_or_else(|| p.to_string(), str::to_owned)))
                .unwrap_or(Value::Null),
            "nsfw": sent.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
            "contexts": sent.get("contexts").cloned().unwrap_or(Value::Null),
            "integration_types": sent.get("integration_types").cloned().unwrap_or_else(|| json!([0])),
        });
        if let Some(options) = sent
            .get("options")
            .filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
        {
            command["options"] = options.clone();
        }
        match guild {
            Some(g) => command["guild_id"] = json!(g.to_string()),
            None => {
                command["dm_permission"] = json!(sent
                    .get("dm_permission")
                    .and_then(Value::as_bool)
                    .unwrap_or(true));
            }
        }
        let (id, version) = match &existing {
            Some(old) => {
                let same = without_keys(old, &["id", "version"])
                    == without_keys(&command, &["id", "version"]);
                let id = old.get("id").cloned().unwrap_or(Value::Null);
                let version = if same {
                    old.get("version").cloned().unwrap_or(Value::Null)
                } else {
                    json!(self.next_snowflake().to_string())
                };
                (id, version)
            }
            None => (
                json!(self.next_snowflake().to_string()),
                json!(self.next_snowflake().to_string()),
            ),
        };
        command["id"] = id;
        command["version"] = version;
        command
    }

    // ----- Interaction responses ---------------------------------------------------------------

    fn interaction_callback(&mut self, id: u64, token: &str, body: &Value) -> Reply {
        let deadline = self.interaction_deadline;
        let Some(ix) = self.interactions.get(&id).filter(|ix| ix.token == token) else {
            return Reply::unknown_interaction();
        };
        if ix.acknowledged.is_some() {
            return Reply::error(400, 40060, "Interaction has already been acknowledged.");
        }
        if ix.created.elapsed() > deadline {
            // Discord invalidates the token when the first response is late.
            return Reply::unknown_interaction();
        }
        let callback_type = body.get("type").and_then(Value::as_u64).unwrap_or(0);
        let allowed: &[u64] = match ix.kind {
            2 => &[4, 5, 9],
            3 => &[4, 5, 6, 7, 9],
            4 => &[8],
            5 => &[4, 5, 6, 7],
            _ => &[],
        };
        if !allowed.contains(&callback_type) {
            return Reply::invalid_form_body(&[rule(
                "/type",
                "INTERACTION_CALLBACK_TYPE_INVALID",
                &format!(
                    "Callback type {callback_type} is not valid for an interaction of type {}",
                    ix.kind
                ),
            )]);
        }
        let (channel_id, guild_id, source, kind, user_id, name) = (
            ix.channel_id,
            ix.guild_id,
            ix.source_message,
            ix.kind,
            ix.user_id,
            ix.name.clone(),
        );
        let data = body.get("data").cloned().unwrap_or(Value::Null);
        if matches!(callback_type, 4 | 7) {
            let errors = message_rules(&data);
            if !errors.is_empty() {
                let path = format!("/api/v10/interactions/{id}/{token}/callback");
                let req = Request {
                    method: "POST",
                    path: &path,
                    query: "",
                    body,
                };
                let reply = Reply::invalid_form_body(&prefix_errors(&errors, "/data"));
                self.violation(
                    ViolationSource::DiscordRule,
                    &req,
                    prefix_errors(&errors, "/data"),
                );
                return reply;
            }
        }
        let original = match callback_type {
            4 | 5 => {
                let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
                let message_id = self.next_snowflake();
                let loading = callback_type == 5;
                let message_type = if kind == 2 { 20 } else { 19 };
                let mut json =
                    self.webhook_message(message_id, channel_id, &data, message_type, loading);
                json["interaction_metadata"] = json!({
                    "id": id.to_string(),
                    "type": kind,
                    "name": name,
                    "user": self.user_json(user_id),
                    "authorizing_integration_owners": match guild_id {
                        Some(g) => json!({"0": g.to_string()}),
                        None => json!({"0": "0"}),
                    },
                });
                if kind == 3 {
                    if let Some(source) = source {
                        json["interaction_metadata"]["interacted_message_id"] =
                            json!(source.to_string());
                    }
                }
                let poll = if loading {
                    None
                } else {
                    new_poll(&data, &mut json, &self.poll_answer_ids)
                };
                self.messages.insert(
                    message_id,
                    StoredMessage {
                        id: message_id,
                        channel_id,
                        guild_id,
                        json,
                        ephemeral: flags & FLAG_EPHEMERAL != 0,
                        poll,
                        author_id: self.bot_user.id,
                    },
                );
                if !loading {
                    self.dispatch_message_event("MESSAGE_CREATE", message_id);
                }
                Some(message_id)
            }
            6 => source,
            7 => {
                if let Some(source) = source {
                    if let Err(reply) = self.apply_edit(source, &data) {
                        return reply;
                    }
                }
                source
            }
            _ => None,
        };
        if let Some(ix) = self.interactions.get_mut(&id) {
            ix.acknowledged = Some(callback_type);
            ix.original = original;
        }
        Reply::no_content()
    }

    /// A message sent through the interaction webhook (author is the bot, `webhook_id` the app).
    fn webhook_message(
        &mut self,
        id: u64,
        channel: u64,
        data: &Value,
        kind: u64,
        loading: bool,
    ) -> Value {
        let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
        let content = if loading {
            ""
        } else {
            data.get("content").and_then(Value::as_str).unwrap_or("")
        };
        let mut json = base_message(id, channel, user_json(&self.bot_user), content, kind);
        json["webhook_id"] = json!(self.application_id.to_string());
        json["application_id"] = json!(self.application_id.to_string());
        let mut kept = flags
            & (FLAG_EPHEMERAL
                | FLAG_SUPPRESS_EMBEDS
                | FLAG_SUPPRESS_NOTIFICATIONS
                | FLAG_IS_COMPONENTS_V2);
        if loading {
            kept |= FLAG_LOADING;
        } else {
            json["embeds"] = embeds_as_stored(data.get("embeds"));
            json["components"] = data
                .get("components")
                .filter(|c| !c.is_null())
                .cloned()
                .unwrap_or_else(|| json!([]));
            json["tts"] = json!(data.get("tts").and_then(Value::as_bool).unwrap_or(false));
        }
        json["flags"] = json!(kept);
        json
    }

    fn webhook_route(
        &mut self,
        req: &Request<'_>,
        app: Option<u64>,
        token: &str,
        rest: &[&str],
    ) -> Reply {
        if app != Some(self.application_id) {
            return Reply::unknown_webhook();
        }
        let Some((&id, ix)) = self.interactions.iter().find(|(_, ix)| ix.token == token) else {
            return Reply::unknown_webhook();
        };
        if ix.created.elapsed() > INTERACTION_TOKEN_LIFETIME {
            return Reply::error(401, 50027, "Invalid Webhook Token");
        }
        if ix.acknowledged.is_none() {
            return Reply::unknown_webhook();
        }
        let (original, followups, channel_id, guild_id) = (
            ix.original,
            ix.followups.clone(),
            ix.channel_id,
            ix.guild_id,
        );
        match (req.method, rest) {
            ("POST", []) => {
                let errors = message_rules(req.body);
                if !errors.is_empty() {
                    self.violation(ViolationSource::DiscordRule, req, errors.clone());
                    return Reply::invalid_form_body(&errors);
                }
                if message_is_empty(req.body) {
                    return Reply::error(400, 50006, "Cannot send an empty message");
                }
                // Discord: a followup right after a deferral (type 5) edits the loading message
                // instead of creating one, keeping the deferral's ephemeral state (deprecated).
                let loading = original.filter(|m| {
                    self.messages.get(m).is_some_and(|m| {
                        m.json.get("flags").and_then(Value::as_u64).unwrap_or(0) & FLAG_LOADING != 0
                    })
                });
                if let Some(loading) = loading {
                    let mut edit = req.body.clone();
                    if let Some(object) = edit.as_object_mut() {
                        object.remove("flags");
                    }
                    return match self.apply_edit(loading, &edit) {
                        Ok(value) => Reply::ok(value),
                        Err(reply) => reply,
                    };
                }
                let message_id = self.next_snowflake();
                let flags = req.body.get("flags").and_then(Value::as_u64).unwrap_or(0);
                let mut json = self.webhook_message(message_id, channel_id, req.body, 0, false);
                let poll = new_poll(req.body, &mut json, &self.poll_answer_ids);
                self.messages.insert(
                    message_id,
                    StoredMessage {
                        id: message_id,
                        channel_id,
                        guild_id,
                        json,
                        ephemeral: flags & FLAG_EPHEMERAL != 0,
                        poll,
                        author_id: self.bot_user.id,
                    },
                );
                if let Some(ix) = self.interactions.get_mut(&id) {
                    ix.followups.push(message_id);
                }
                self.dispatch_message_event("MESSAGE_CREATE", message_id);
                let rendered = self
                    .messages
                    .get(&message_id)
                    .map(|m| self.render_message(m));
                Reply::ok(rendered.unwrap_or_default())
            }
            (method, ["messages", which]) => {
                let target = if *which == "@original" {
                    original
                } else {
                    which
                        .parse::<u64>()
                        .ok()
                        .filter(|m| Some(*m) == original || followups.contains(m))
                };
                let Some(target) = target.filter(|m| self.messages.contains_key(m)) else {
                    return Reply::unknown_message();
                };
                match method {
                    "GET" => Reply::ok(
                        self.messages
                            .get(&target)
                            .map(|m| self.render_message(m))
                            .unwrap_or_default(),
                    ),
                    "PATCH" => {
                        let errors = message_rules(req.body);
                        if !errors.is_empty() {
                            self.violation(ViolationSource::DiscordRule, req, errors.clone());
                            return Reply::invalid_form_body(&errors);
                        }
                        match self.apply_edit(target, req.body) {
                            Ok(value) => Reply::ok(value),
                            Err(reply) => reply,
                        }
                    }
                    "DELETE" => {
                        self.dispatch_message_delete(target);
                        self.messages.remove(&target);
                        Reply::no_content()
                    }
                    _ => Reply::not_found(),
                }
            }
            _ => Reply::not_found(),
        }
    }

    /// Applies an edit (PATCH body or UPDATE_MESSAGE data) to a stored message.
    fn apply_edit(&mut self, id: u64, body: &Value) -> Result<Value, Reply> {
        let now = iso8601(SystemTime::now());
        let Some(message) = self.messages.get_mut(&id) else {
            return Err(Reply::unknown_message());
        };
        if body.get("poll").is_some_and(|p| !p.is_null()) {
            return Err(Reply::error(400, 520_003, "Cannot edit a poll"));
        }
        let json = &mut message.json;
        let was_loading =
            json.get("flags").and_then(Value::as_u64).unwrap_or(0) & FLAG_LOADING != 0;
        if let Some(content) = body.get("content") {
            json["content"] = if content.is_null() {
                json!("")
            } else {
                content.clone()
            };
        }
        if let Some(embeds) = body.get("embeds") {
            json["embeds"] = embeds_as_stored(Some(embeds));
        }
        if let Some(components) = body.get("components") {
            json["components"] = if components.is_null() {
                json!([])
            } else {
                components.clone()
            };
        }
        let mut flags = json.get("flags").and_then(Value::as_u64).unwrap_or(0) & !FLAG_LOADING;
        if let Some(sent) = body.get("flags").and_then(Value::as_u64) {
            flags = (flags & !FLAG_SUPPRESS_EMBEDS) | (sent & FLAG_SUPPRESS_EMBEDS);
        }
        json["flags"] = json!(flags);
        if !was_loading {
            json["edited_timestamp"] = json!(now);
        }
        let event = if was_loading {
            "MESSAGE_CREATE"
        } else {
            "MESSAGE_UPDATE"
        };
        self.dispatch_message_event(event, id);
        Ok(self
            .messages
            .get(&id)
            .map(|m| self.render_message(m))
            .unwrap_or_default())
    }

    // ----- Channel messages --------------------------------------------------------------------

    fn messages_route(&mut self, req: &Request<'_>, channel: u64, rest: &[&str]) -> Reply {
        if self.channel_value(channel).is_none() {
            return Reply::unknown_channel();
        }
        let perms = self.bot_permissions_in(channel).unwrap_or(permissions::ALL);
        if perms & permissions::VIEW_CHANNEL == 0 {
            return Reply::missing_access();
        }
        match (req.method, rest) {
            ("POST", []) => self.create_message(req, channel, perms),
            // Without Read Message History Discord answers with no messages at all.
            ("GET", []) if perms & permissions::READ_MESSAGE_HISTORY == 0 => Reply::ok(json!([])),
            ("GET", []) => self.list_messages(req, channel),
            (method, [message]) => {
                let Some(message) = message.parse::<u64>().ok().filter(|m| {
                    self.messages
                        .get(m)
                        .is_some_and(|stored| stored.channel_id == channel && !stored.ephemeral)
                }) else {
                    return Reply::unknown_message();
                };
                match method {
                    "GET" if perms & permissions::READ_MESSAGE_HISTORY == 0 => {
                        Reply::missing_access()
                    }
                    "GET" => {
                        let mut value = self
                            .messages
                            .get(&message)
                            .map(|m| self.render_message(m))
                            .unwrap_or_default();
                        if self.omit_poll_results > 0 && value["poll"].is_object() {
                            self.omit_poll_results -= 1;
                            if let Some(poll) = value["poll"].as_object_mut() {
                                poll.remove("results");
                            }
                        }
                        Reply::ok(value)
                    }
                    "PATCH" => {
                        if self
                            .messages
                            .get(&message)
                            .is_some_and(|m| m.author_id != self.bot_user.id)
                        {
                            return Reply::error(
                                403,
                                50005,
                                "Cannot edit a message authored by another user",
                            );
                        }
                        let errors = message_rules(req.body);
                        if !errors.is_empty() {
                            self.violation(ViolationSource::DiscordRule, req, errors.clone());
                            return Reply::invalid_form_body(&errors);
                        }
                        match self.apply_edit(message, req.body) {
                            Ok(value) => Reply::ok(value),
                            Err(reply) => reply,
                        }
                    }
                    "DELETE" => {
                        self.dispatch_message_delete(message);
                        self.messages.remove(&message);
                        Reply::no_content()
                    }
                    _ => Reply::not_found(),
                }
            }
            _ => Reply::not_found(),
        }
    }

    fn create_message(&mut self, req: &Request<'_>, channel: u64, perms: u64) -> Reply {
        let body = req.body;
        if perms & permissions::SEND_MESSAGES == 0 {
            return Reply::missing_permissions();
        }
        if body.get("poll").is_some_and(|p| !p.is_null()) && perms & permissions::SEND_POLLS == 0 {
            return Reply::missing_permissions();
        }
        let errors = message_rules(body);
        if !errors.is_empty() {
            self.violation(ViolationSource::DiscordRule, req, errors.clone());
            return Reply::invalid_form_body(&errors);
        }
        if message_is_empty(body) {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        let nonce = body.get("nonce").filter(|n| !n.is_null()).map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let enforce = body
            .get("enforce_nonce")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let window = self.nonce_window;
        self.nonces.retain(|_, (_, at)| at.elapsed() <= window);
        if let (Some(nonce), true) = (&nonce, enforce) {
            if let Some((existing, _)) = self.nonces.get(&(channel, nonce.clone())) {
                if let Some(m) = self.messages.get(existing) {
                    return Reply::ok(self.render_message(m));
                }
            }
        }
        let id = self.next_snowflake();
        let guild_id = self.channel_guild(channel);
        let content = body.get("content").and_then(Value::as_str).unwrap_or("");
        let reference = body.get("message_reference").filter(|r| !r.is_null());
        let kind = if reference.is_some() { 19 } else { 0 };
        let mut json = base_message(id, channel, user_json(&self.bot_user), content, kind);
        json["embeds"] = embeds_as_stored(body.get("embeds"));
        json["components"] = body
            .get("components")
            .filter(|c| !c.is_null())
            .cloned()
            .unwrap_or_else(|| json!([]));
        json["tts"] = json!(body.get("tts").and_then(Value::as_bool).unwrap_or(false));
        let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0)
            & (FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2);
        json["flags"] = json!(flags);
        if let Some(n) = body.get("nonce").filter(|n| !n.is_null()) {
            json["nonce"] = n.clone();
        }
        if let Some(reference) = reference {
            let target = reference.get("message_id").and_then(|m| match m {
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            });
            let mut stored_reference = json!({"type": 0, "channel_id": channel.to_string()});
            if let Some(target) = target {
                stored_reference["message_id"] = json!(target.to_string());
                json["referenced_message"] = self
                    .messages
                    .get(&target)
                    .map(|m| self.render_message(m))
                    .unwrap_or(Value::Null);
            }
            if let Some(g) = guild_id {
                stored_reference["guild_id"] = json!(g.to_string());
            }
            json["message_reference"] = stored_reference;
        }
        let poll = new_poll(body, &mut json, &self.poll_answer_ids);
        self.messages.insert(
            id,
            StoredMessage {
                id,
                channel_id: channel,
                guild_id,
                json,
                ephemeral: false,
                poll,
                author_id: self.bot_user.id,
            },
        );
        if let Some(nonce) = nonce {
            self.nonces.insert((channel, nonce), (id, Instant::now()));
        }
        self.dispatch_message_event("MESSAGE_CREATE", id);
        Reply::ok(
            self.messages
                .get(&id)
                .map(|m| self.render_message(m))
                .unwrap_or_default(),
        )
    }

    fn list_messages(&self, req: &Request<'_>, channel: u64) -> Reply {
        let query = parse_query(req.query);
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(50)
            .clamp(1, 100);
        let number = |key: &str| query.get(key).and_then(|v| v.parse::<u64>().ok());
        let mut list: Vec<&StoredMessage> = self
            .messages
            .values()
            .filter(|m| m.channel_id == channel && !m.ephemeral)
            .collect();
        if let Some(before) = number("before") {
            list.retain(|m| m.id < before);
        }
        if let Some(after) = number("after") {
            list.retain(|m| m.id > after);
            list.truncate(limit); // the oldest `limit` after the id
        }
        if let Some(around) = number("around") {
            let at = list
                .iter()
                .position(|m| m.id >= around)
                .unwrap_or(list.len());
            let start = at.saturating_sub(limit / 2);
            list = list.into_iter().skip(start).take(limit).collect();
        }
        let newest_first: Vec<Value> = list
            .iter()
            .rev()
            .take(limit)
            .map(|m| self.render_message(m))
            .collect();
        Reply::ok(Value::Array(newest_first))
    }

    fn expire_poll(&mut self, channel: u64, message: u64) -> Reply {
        if self.channel_value(channel).is_none() {
            return Reply::unknown_channel();
        }
        match self.messages.get(&message) {
            Some(m) if m.channel_id == channel && m.author_id != self.bot_user.id => {
                return Reply::error(403, 50005, "Cannot edit a message authored by another user");
            }
            Some(m) if m.channel_id == channel => {}
            _ => return Reply::unknown_message(),
        }
        match self.end_poll(channel, message) {
            Ok(value) => Reply::ok(value),
            Err(reply) => reply,
        }
    }

    fn poll_voters(&self, req: &Request<'_>, channel: u64, message: u64, answer: u64) -> Reply {
        let Some(stored) = self
            .messages
            .get(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Reply::unknown_message();
        };
        let Some(poll) = &stored.poll else {
            return Reply::error(400, 520_006, "Cannot expire a non-poll message");
        };
        if !poll.answer_ids.contains(&answer) {
            return Reply::invalid_form_body(&[rule(
                "/answer_id",
                "BASE_TYPE_CHOICES",
                "Value is not a valid answer",
            )]);
        }
        let query = parse_query(req.query);
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(25)
            .clamp(1, 100);
        let after = query
            .get("after")
            .and_then(|a| a.parse::<u64>().ok())
            .unwrap_or(0);
        let mut voters: Vec<u64> = poll.votes.get(&answer).cloned().unwrap_or_default();
        voters.sort_unstable();
        let users: Vec<Value> = voters
            .into_iter()
            .filter(|v| *v > after)
            .take(limit)
            .map(|v| self.user_json(v))
            .collect();
        Reply::ok(json!({"users": users}))
    }
}

// ---------------------------------------------------------------------------------------------
// HTTP and websocket plumbing
// ---------------------------------------------------------------------------------------------

async fn rest(
    AxumState(shared): AxumState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let arrived = Instant::now();
    let path = uri.path().to_owned();
    let query = uri.query().unwrap_or("").to_owned();
    let method = method.as_str().to_ascii_uppercase();
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let (json_body, body_error) = if body.is_empty() {
        (Value::Null, None)
    } else if content_type.starts_with("multipart/") {
        (
            Value::String(String::from_utf8_lossy(&body).into_owned()),
            Some("The fake Discord does not accept multipart bodies (attachments)"),
        )
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(value) => (value, None),
            Err(_) => (
                Value::String(String::from_utf8_lossy(&body).into_owned()),
                Some("The request body contains invalid JSON."),
            ),
        }
    };
    let authorization = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let recorded_headers: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| name.as_str() != "authorization")
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();

    let fault = shared.lock().take_fault(&method, &path);
    let reply = match fault.clone() {
        Some(FaultKind::Status {
            status,
            retry_after,
            global,
        }) => fault_reply(status, retry_after, global),
        Some(FaultKind::Delay(delay)) => {
            tokio::time::sleep(delay).await;
            None
        }
        Some(FaultKind::HoldAnswer(_) | FaultKind::ReplaceBody(_)) | None => None,
    };
    let reply = match reply {
        Some(reply) => reply,
        None => {
            let req = Request {
                method: &method,
                path: &path,
                query: &query,
                body: &json_body,
            };
            shared
                .lock()
                .handle(&req, authorization.as_deref(), body_error)
        }
    };
    let authorized = shared.lock().token_ok_header(authorization.as_deref());
    shared.with(|st| {
        st.record(Recorded {
            index: 0,
            method: method.clone(),
            path: path.clone(),
            query: query.clone(),
            headers: recorded_headers,
            authorized,
            body: json_body,
            status: reply.status,
            response: reply.body.clone().unwrap_or(Value::Null),
            arrived,
        });
    });
    if let Some(FaultKind::HoldAnswer(hold)) = &fault {
        tokio::time::sleep(*hold).await;
    }
    let mut reply = reply;
    if let Some(FaultKind::ReplaceBody(raw_json)) = fault {
        reply.raw = Some((raw_json, "application/json"));
    }
    into_response(reply)
}

fn into_response(reply: Reply) -> Response {
    let status = StatusCode::from_u16(reply.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match (reply.raw, reply.body) {
        (Some((text, content_type)), _) => {
            let mut r = (status, text).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(content_type));
            r
        }
        (None, Some(body)) => {
            let mut r = (status, body.to_string()).into_response();
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static("application/json"));
            r
        }
        (None, None) => status.into_response(),
    };
    for (name, value) in reply.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(name), HeaderValue::try_from(value)) {
            response.headers_mut().insert(name, value);
        }
    }
    response
}

/// Discord's answer for an injected failure.
fn fault_reply(status: u16, retry_after: f64, global: bool) -> Option<Reply> {
    let reply = match status {
        429 => {
            let scope = if global { "global" } else { "user" };
            let reset = now_unix_ms() as f64 / 1000.0 + retry_after;
            let mut headers = vec![
                ("retry-after".to_owned(), format!("{}", retry_after.ceil() as u64)),
                ("x-ratelimit-limit".to_owned(), "5".to_owned()),
                ("x-ratelimit-remaining".to_owned(), "0".to_owned()),
                ("x-ratelimit-reset".to_owned(), format!("{reset:.3}")),
                ("x-ratelimit-reset-after".to_owned(), format!("{retry_after:.3}")),
                ("x-ratelimit-bucket".to_owned(), "fa4eb0c1d2e3f4a5b6c7d8e9f0a1b2c3".to_owned()),
                ("x-ratelimit-scope".to_owned(), scope.to_owned()),
            ];
            if global {
                headers.push(("x-ratelimit-global".to_owned(), "true".to_owned()));
            }
            Reply {
                status,
                body: Some(json!({
                    "message": "You are being rate limited.",
                    "retry_after": retry_after,
                    "global": global,
                })),
                headers,
                raw: None,
            }
        }
        502 => Reply {
            status,
            body: None,
            headers: Vec::new(),
            raw: Some((
                "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n<center><h1>502 Bad \
                 Gateway</h1></center>\r\n<hr><center>cloudflare</center>\r\n</body>\r\n</html>\r\n"
                    .to_owned(),
                "text/html",
            )),
        },
        500 => Reply::error(500, 0, "500: Internal Server Error"),
        503 => Reply::error(503, 0, "503: Service Unavailable"),
        other => Reply::error(other, 0, &format!("{other}: injected failure")),
    };
    Some(reply)
}

/// Resolves when the FakeDiscord is dropped.
async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

async fn gateway_upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| gateway_connection(shared, socket))
}

async fn gateway_connection(shared: Arc<Shared>, mut socket: WebSocket) {
    if shared.with(|st| st.take_silent_connection()) {
        // A dead gateway node: the connection opens, nothing is ever sent, nothing is answered.
        let mut shutdown = shared.shutdown.subscribe();
        loop {
            tokio::select! {
                incoming = socket.recv() => if !matches!(incoming, Some(Ok(_))) { break },
                () = stopped(&mut shutdown) => break,
            }
        }
        return;
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let (conn, interval) = shared.with(|st| (st.on_connect(tx), st.heartbeat_interval));
    let hello = json!({
        "op": 10,
        "s": null,
        "t": null,
        "d": {
            "heartbeat_interval": u64::try_from(interval.as_millis()).unwrap_or(u64::MAX),
            "_trace": ["[\"gateway-prd-fake-0\",{\"micros\":0.0}]"],
        },
    });
    let mut shutdown = shared.shutdown.subscribe();
    let mut closing: Option<tokio::time::Instant> = None;
    if socket
        .send(WsMessage::Text(hello.to_string().into()))
        .await
        .is_ok()
    {
        loop {
            let grace = async {
                match closing {
                    Some(deadline) => tokio::time::sleep_until(deadline).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                incoming = socket.recv() => match incoming {
                    Some(Ok(WsMessage::Text(text))) => {
                        if closing.is_none() {
                            shared.with(|st| st.on_client_frame(conn, text.as_str()));
                        }
                    }
                    Some(Ok(WsMessage::Binary(_))) => {
                        shared.with(|st| st.close_connection(conn, 4002));
                    }
                    Some(Ok(WsMessage::Close(frame))) => {
                        let code = frame.map(|f| f.code);
                        shared.with(|st| st.log(GatewayLog::ClientClosed { conn, code }));
                        // Reading on lets tungstenite answer the close handshake.
                        closing.get_or_insert_with(|| tokio::time::Instant::now() + CLOSE_GRACE);
                    }
                    Some(Ok(_)) => {}
                    Some(Err(_)) | None => break,
                },
                out = rx.recv() => match out {
                    Some(Outgoing::Frame(text)) => {
                        if closing.is_none() && socket.send(WsMessage::Text(text.into())).await.is_err() {
                            break;
                        }
                    }
                    Some(Outgoing::Close(code, reason)) => {
                        if closing.is_none() {
                            let frame = CloseFrame { code, reason: reason.into() };
                            let _ = socket.send(WsMessage::Close(Some(frame))).await;
                            closing = Some(tokio::time::Instant::now() + CLOSE_GRACE);
                        }
                    }
                    Some(Outgoing::Drop) | None => break,
                },
                () = grace => break,
                () = stopped(&mut shutdown) => break,
            }
        }
    }
    drop(socket); // no close frame: the TCP connection just ends
    shared.with(|st| st.on_disconnect(conn));
}

// ---------------------------------------------------------------------------------------------
// Discord rules the OpenAPI description does not state
// ---------------------------------------------------------------------------------------------

fn rule(path: &str, code: &str, message: &str) -> SpecViolation {
    SpecViolation {
        instance_path: path.to_owned(),
        code: code.to_owned(),
        message: message.to_owned(),
    }
}

fn prefix_errors(errors: &[SpecViolation], prefix: &str) -> Vec<SpecViolation> {
    errors
        .iter()
        .map(|e| SpecViolation {
            instance_path: format!("{prefix}{}", e.instance_path),
            ..e.clone()
        })
        .collect()
}

/// Checks a message-like body (create, edit, followup, callback data).
fn message_rules(body: &Value) -> Vec<SpecViolation> {
    let mut errors = Vec::new();
    if let Some(content) = body.get("content").and_then(Value::as_str) {
        if content.chars().count() > 2000 {
            errors.push(rule(
                "/content",
                "BASE_TYPE_MAX_LENGTH",
                "Must be 2000 or fewer in length.",
            ));
        }
    }
    if let Some(embeds) = body.get("embeds").and_then(Value::as_array) {
        let total: usize = embeds.iter().map(embed_length).sum();
        if total > 6000 {
            errors.push(rule(
                "/embeds",
                "MAX_EMBED_SIZE_EXCEEDED",
                &format!(
                    "Embed size exceeds maximum size of 6000 (the embeds hold {total} characters)"
                ),
            ));
        }
    }
    if let Some(answers) = body.pointer("/poll/answers").and_then(Value::as_array) {
        for (i, answer) in answers.iter().enumerate() {
            if let Some(text) = answer.pointer("/poll_media/text").and_then(Value::as_str) {
                if text.chars().count() > 55 {
                    errors.push(rule(
                        &format!("/poll/answers/{i}/poll_media/text"),
                        "BASE_TYPE_MAX_LENGTH",
                        "Must be 55 or fewer in length.",
                    ));
                }
            }
        }
    }
    if let Some(components) = body.get("components") {
        let mut ids = Vec::new();
        collect_custom_ids(components, "/components", &mut ids);
        for (i, (path, id)) in ids.iter().enumerate() {
            if ids[..i].iter().any(|(_, earlier)| earlier == id) {
                errors.push(rule(
                    &format!("{path}/custom_id"),
                    "COMPONENT_CUSTOM_ID_DUPLICATED",
                    "Component custom id cannot be duplicated",
                ));
            }
        }
        check_buttons(components, "/components", &mut errors);
    }
    errors
}

fn message_is_empty(body: &Value) -> bool {
    let has_text = body
        .get("content")
        .and_then(Value::as_str)
        .is_some_and(|c| !c.trim().is_empty());
    let non_empty = |key: &str| {
        body.get(key)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let has_poll = body.get("poll").is_some_and(|p| !p.is_null());
    !(has_text
        || non_empty("embeds")
        || non_empty("components")
        || non_empty("sticker_ids")
        || non_empty("attachments")
        || has_poll)
}

/// Characters counted toward the 6000 limit: title, description, field names and values,
/// footer text, author name (leading and trailing whitespace trimmed).
fn embed_length(embed: &Value) -> usize {
    let text = |pointer: &str| {
        embed
            .pointer(pointer)
            .and_then(Value::as_str)
            .map_or(0, |s| s.trim().chars().count())
    };
    let fields: usize = embed
        .get("fields")
        .and_then(Value::as_array)
        .map(|fields| {
            fields
                .iter()
                .map(|f| {
                    let part = |k: &str| {
                        f.get(k)
                            .and_then(Value::as_str)
                            .map_or(0, |s| s.trim().chars().count())
                    };
                    part("name") + part("value")
                })
                .sum()
        })
        .unwrap_or(0);
    text("/title") + text("/description") + text("/footer/text") + text("/author/name") + fields
}

/// (JSON path, custom_id) of every component below `value`.
fn collect_custom_ids(value: &Value, path: &str, out: &mut Vec<(String, String)>) {
    let Some(list) = value.as_array() else { return };
    for (i, component) in list.iter().enumerate() {
        let here = format!("{path}/{i}");
        if let Some(id) = component.get("custom_id").and_then(Value::as_str) {
            out.push((here.clone(), id.to_owned()));
        }
        if let Some(children) = component.get("components") {
            collect_custom_ids(children, &format!("{here}/components"), out);
        }
        if let Some(accessory) = component.get("accessory") {
            collect_custom_ids(
                &Value::Array(vec![accessory.clone()]),
                &format!("{here}/accessory"),
                out,
            );
        }
    }
}

/// Link buttons (style 5) need a `url` and no `custom_id`; other buttons a `custom_id`.
fn check_buttons(value: &Value, path: &str, errors: &mut Vec<SpecViolation>) {
    let Some(list) = value.as_array() else { return };
    for (i, component) in list.iter().enumerate() {
        let here = format!("{path}/{i}");
        if component.get("type").and_then(Value::as_u64) == Some(2) {
            let style = component.get("style").and_then(Value::as_u64).unwrap_or(0);
            let has = |k: &str| component.get(k).is_some_and(|v| !v.is_null());
            if style == 5 && (!has("url") || has("custom_id")) {
                errors.push(rule(
                    &here,
                    "BUTTON_COMPONENT_INVALID",
                    "A link button needs a url and no custom_id",
                ));
            }
            if (1..=4).contains(&style) && !has("custom_id") {
                errors.push(rule(
                    &format!("{here}/custom_id"),
                    "BASE_TYPE_REQUIRED",
                    "This field is required",
                ));
            }
        }
        if let Some(children) = component.get("components") {
            check_buttons(children, &format!("{here}/components"), errors);
        }
    }
}

/// Discord's nested `errors` object: `{"data": {"embeds": {"0": {"title": {"_errors": [...]}}}}}`.
fn error_tree(errors: &[SpecViolation]) -> Value {
    let mut root = Map::new();
    for error in errors {
        let keys: Vec<&str> = error
            .instance_path
            .split('/')
            .filter(|k| !k.is_empty())
            .collect();
        insert_error(
            &mut root,
            &keys,
            json!({"code": error.code, "message": error.message}),
        );
    }
    Value::Object(root)
}

fn insert_error(node: &mut Map<String, Value>, keys: &[&str], error: Value) {
    match keys.split_first() {
        None => {
            let list = node.entry("_errors").or_insert_with(|| json!([]));
            if let Some(list) = list.as_array_mut() {
                list.push(error);
            }
        }
        Some((key, rest)) => {
            let child = node
                .entry((*key).to_owned())
                .or_insert_with(|| Value::Object(Map::new()));
            if !child.is_object() {
                *child = Value::Object(Map::new());
            }
            if let Some(child) = child.as_object_mut() {
                insert_error(child, rest, error);
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// JSON shapes and small helpers
// ---------------------------------------------------------------------------------------------

fn user_json(user: &FakeUser) -> Value {
    let mut value = json!({
        "id": user.id.to_string(),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": null,
        "banner": null,
        "accent_color": null,
        "public_flags": 0,
        "flags": 0,
        "avatar_decoration_data": null,
        "collectibles": null,
        "primary_guild": null,
        "clan": null,
    });
    if user.bot {
        value["bot"] = json!(true);
        value["discriminator"] = json!("4821"); // bots keep a four-digit discriminator
    }
    value
}

fn role_json(role: &FakeRole, bot_id: u64) -> Value {
    let mut value = json!({
        "id": role.id.to_string(),
        "name": role.name,
        "description": null,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": role.position,
        "permissions": role.permissions.to_string(),
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    });
    if role.managed {
        value["tags"] = json!({"bot_id": bot_id.to_string()});
    }
    value
}

fn channel_json(channel: &FakeChannel, guild_id: Option<u64>) -> Value {
    let overwrites: Vec<Value> = channel
        .overwrites
        .iter()
        .map(|o| {
            json!({
                "id": o.id.to_string(),
                "type": o.kind,
                "allow": o.allow.to_string(),
                "deny": o.deny.to_string(),
            })
        })
        .collect();
    let mut value = json!({
        "id": channel.id.to_string(),
        "type": channel.kind,
        "name": channel.name,
        "position": channel.position,
        "parent_id": channel.parent_id.map(|p| p.to_string()),
        "permission_overwrites": overwrites,
        "flags": 0,
    });
    if matches!(channel.kind, 0 | 5 | 15) {
        if let Some(object) = value.as_object_mut() {
            object.insert("topic".into(), json!(channel.topic));
            object.insert("nsfw".into(), json!(false));
            object.insert("last_message_id".into(), Value::Null);
            object.insert("rate_limit_per_user".into(), json!(0));
            object.insert("default_thread_rate_limit_per_user".into(), json!(0));
            object.insert("default_auto_archive_duration".into(), json!(4320));
        }
    }
    if channel.kind == 2 {
        value["bitrate"] = json!(64_000);
        value["user_limit"] = json!(0);
        value["rtc_region"] = Value::Null;
    }
    if let Some(g) = guild_id {
        value["guild_id"] = json!(g.to_string());
    }
    value
}

fn base_message(id: u64, channel: u64, author: Value, content: &str, kind: u64) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": author,
        "content": content,
        "timestamp": snowflake_time(id),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": kind,
        "flags": 0,
    })
}

/// Embeds as Discord stores them (`type: rich`, `content_scan_version`).
fn embeds_as_stored(embeds: Option<&Value>) -> Value {
    let list = embeds
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|mut embed| {
                if let Some(object) = embed.as_object_mut() {
                    object.retain(|_, v| !v.is_null());
                    object.entry("type").or_insert_with(|| json!("rich"));
                    object.insert("content_scan_version".into(), json!(0));
                }
                embed
            })
            .collect(),
    )
}

/// Turns a poll create request in `body` into the stored poll of `message`.
fn new_poll(body: &Value, message: &mut Value, numbering: &[u64]) -> Option<PollState> {
    let poll = body.get("poll").filter(|p| !p.is_null())?;
    let hours = poll.get("duration").and_then(Value::as_u64).unwrap_or(24);
    let expiry = SystemTime::now() + Duration::from_secs(hours * 3600);
    let answers: Vec<Value> = poll
        .get("answers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, answer)| {
            let mut media = answer
                .get("poll_media")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(object) = media.as_object_mut() {
                object.retain(|_, v| !v.is_null());
            }
            json!({"answer_id": answer_id(numbering, i), "poll_media": media})
        })
        .collect();
    let answer_ids = (0..answers.len())
        .map(|i| answer_id(numbering, i))
        .collect();
    let allow_multiselect = poll
        .get("allow_multiselect")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut question = poll.get("question").cloned().unwrap_or_else(|| json!({}));
    if let Some(object) = question.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    message["poll"] = json!({
        "question": question,
        "answers": answers,
        "expiry": iso8601(expiry),
        "allow_multiselect": allow_multiselect,
        "layout_type": poll.get("layout_type").and_then(Value::as_u64).unwrap_or(1),
    });
    Some(PollState {
        answer_ids,
        allow_multiselect,
        votes: BTreeMap::new(),
        finalized: false,
        finalizes_at: None,
    })
}

/// The id of answer `index` (0-based) under `numbering` (see [`FakeOptions::poll_answer_ids`]).
fn answer_id(numbering: &[u64], index: usize) -> u64 {
    match numbering {
        [] | [1] => index as u64 + 1,
        ids => ids[index % ids.len()] + (index / ids.len()) as u64 * 1000,
    }
}

fn command_key(command: &Value) -> (String, u64) {
    (
        command
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        command.get("type").and_then(Value::as_u64).unwrap_or(1),
    )
}

fn without_keys(value: &Value, keys: &[&str]) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    value
}

/// Routes Discord answers without a bot token: gateway discovery and interaction webhooks.
fn route_is_public(method: &str, segments: &[&str]) -> bool {
    matches!(
        (method, segments),
        ("GET", ["gateway"]) | (_, ["interactions", ..]) | (_, ["webhooks", ..])
    )
}

fn normalize_prefix(prefix: &str) -> String {
    if prefix.starts_with("/api/") {
        prefix.to_owned()
    } else if prefix.starts_with('/') {
        format!("/api/v10{prefix}")
    } else {
        format!("/api/v10/{prefix}")
    }
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

fn close_reason(code: u16) -> &'static str {
    match code {
        4000 => "Unknown error.",
        4001 => "Unknown opcode.",
        4002 => "Error while decoding payload.",
        4003 => "Not authenticated.",
        4004 => "Authentication failed.",
        4005 => "Already authenticated.",
        4007 => "Invalid seq.",
        4008 => "Rate limited.",
        4009 => "Session timed out.",
        4010 => "Invalid shard.",
        4011 => "Sharding required.",
        4012 => "Invalid API version.",
        4013 => "Invalid intent(s).",
        4014 => "Disallowed intent(s).",
        _ => "",
    }
}

/// APPLICATION_COMMAND_BADGE | GATEWAY_MESSAGE_CONTENT_LIMITED.
fn application_flags() -> u64 {
    (1 << 23) | (1 << 19)
}

fn capitalize(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The creation time a snowflake encodes, as Discord's ISO 8601 timestamp.
fn snowflake_time(id: u64) -> String {
    iso8601(UNIX_EPOCH + Duration::from_millis((id >> 22) + DISCORD_EPOCH_MS))
}

/// `2024-05-01T12:34:56.789000+00:00`, as Discord writes timestamps.
fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `n` × 16 random hex digits (std's randomly keyed hasher; no extra crate).
fn random_hex(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_usize(i);
            hasher.write_u64(now_unix_ms());
            format!("{:016x}", hasher.finish())
        })
        .collect()
}
