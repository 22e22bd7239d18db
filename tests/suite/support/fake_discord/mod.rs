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
//! - Rate limits, with [`FakeOptions::rate_limits`] ([`RateLimits::discord`]): 50 requests/s per bot token in
//!   any one second (interaction endpoints not counted) and 5 messages per 5 s per channel, answered 429 with
//!   Discord's body and headers (the algorithm is in `rest/limits.rs`); [`FakeDiscord::rate_stats`] counts
//!   requests, 429s, invalid requests and requests per second; [`FakeOptions::rest_latency`] delays answers.
//! - Faults: dropping the socket, closing with a code, withholding heartbeat ACKs, RECONNECT,
//!   INVALID_SESSION, one-shot 429/5xx answers and slow answers on chosen routes.
//!
//! # What it does not fake
//! - Rate limits other than the global limit and the per-channel message bucket (both off unless
//!   [`FakeOptions::rate_limits`] is set); with them off, 429s only when injected with [`FakeDiscord::fail_next`].
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
//! # Layout
//! This file is the [`FakeDiscord`] handle: every control and wait a test uses, in one place to read (over 600
//! lines for that reason: it is the fake's whole API, grouped by what it touches). Behind it:
//! - `model`: options, guilds, channels, roles, users, [`permissions`] and [`intents`];
//! - `records`: what tests inspect afterwards ([`Recorded`], [`Violation`], [`GatewayLog`]);
//! - `interaction`: [`InteractionBuilder`] and the payloads Discord would dispatch;
//! - `state`: the shared state behind one lock, lookups and permission maths;
//! - `gateway`: connections, IDENTIFY, RESUME, sessions per shard, dispatch and replay;
//! - `rest`: the one REST handler and route table, with `guilds`, `commands`, `interactions`, `messages`, `polls`;
//! - `rules`: Discord rules the OpenAPI description does not state; `json`: shared JSON shapes and helpers.
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

mod gateway;
mod interaction;
mod json;
mod model;
mod records;
mod rest;
mod rules;
mod state;

#[allow(unused_imports)] // the public names: each user (a test file, a benchmark) takes a part
pub use interaction::InteractionBuilder;
#[allow(unused_imports)]
pub use model::{
    intents, permissions, FakeChannel, FakeGuild, FakeMember, FakeOptions, FakeOverwrite, FakeRole,
    FakeUser, RateLimits,
};
#[allow(unused_imports)]
pub use records::{GatewayLog, InteractionRef, RateStats, Recorded, Violation, ViolationSource};

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::routing::get;
use axum::Router;
use serde_json::{json, Value};
use tokio::sync::watch;

use gateway::{gateway_upgrade, Outgoing};
use interaction::Kind;
use json::{base_message, channel_json, close_reason, normalize_prefix, role_json};
use rest::{rest, Request};
use state::{Fault, FaultKind, Shared, State, StoredMessage};

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

    /// The REST requests from the one numbered `from` on (by [`Recorded::index`]), in order: what a benchmark reads
    /// as it goes, without copying the whole record each time. Records dropped past the record limit are missing
    /// (the first returned then has a higher index than `from`).
    pub fn requests_since(&self, from: usize) -> Vec<Recorded> {
        let st = self.lock();
        let first = st.requests.front().map_or(0, |r| r.index);
        st.requests
            .iter()
            .skip(from.saturating_sub(first))
            .cloned()
            .collect()
    }

    /// The REST traffic so far as Discord's rate limits see it (kept whole, unlike [`FakeDiscord::requests`]).
    pub fn rate_stats(&self) -> RateStats {
        self.lock().limiter.stats()
    }

    /// When each message created by `POST /channels/{id}/messages` arrived, per channel (a nonce repeat that
    /// returned the existing message is not a post). Kept whole, unlike [`FakeDiscord::requests`].
    pub fn channel_posts(&self) -> HashMap<u64, Vec<SystemTime>> {
        self.lock().posts.clone()
    }

    /// When each thread started from a message arrived, per parent channel. Kept whole, like
    /// [`FakeDiscord::channel_posts`].
    pub fn channel_threads(&self) -> HashMap<u64, Vec<SystemTime>> {
        self.lock().thread_starts.clone()
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

    /// Waits until `count` requests match `pred` (woken by each request, not polled).
    pub async fn wait_for_requests(
        &self,
        count: usize,
        mut pred: impl FnMut(&Recorded) -> bool,
        timeout: Duration,
    ) {
        self.wait_until(
            &format!("{count} matching requests"),
            timeout,
            |st| (st.requests.iter().filter(|r| pred(r)).count() >= count).then_some(()),
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

    /// The threads started from messages: (message id, name, archive duration in minutes), by message id.
    pub fn threads(&self) -> Vec<(u64, String, u64)> {
        self.lock()
            .threads
            .values()
            .map(rest::thread_summary)
            .collect()
    }

    /// The bot's messages in `channel`, oldest first, with a button whose `custom_id` starts with `prefix` (see
    /// [`button_ids`]).
    pub fn messages_with_button(&self, channel: u64, prefix: &str) -> Vec<Value> {
        self.channel_messages(channel)
            .into_iter()
            .filter(|m| button_ids(m).iter().any(|id| id.starts_with(prefix)))
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

    /// Creates a message as the bot's `POST /channels/{channel}/messages` with `body` would (polls included), but
    /// outside REST: no rate limit, no latency, not recorded. Set-up for benchmarks that need the bot's own
    /// messages before it starts. Returns the message, or the error body when Discord would refuse it.
    pub fn add_bot_message(&self, channel: u64, body: Value) -> Result<Value, Value> {
        let path = format!("/api/v10/channels/{channel}/messages");
        let req = Request {
            method: "POST",
            path: &path,
            query: "",
            body: &body,
        };
        let reply = self.mutate(|st| match st.bot_permissions_in(channel) {
            Some(permissions) => st.create_message(&req, channel, permissions),
            None => rest::Reply::unknown_channel(),
        });
        let answer = reply.body.unwrap_or(Value::Null);
        if reply.status == 200 {
            Ok(answer)
        } else {
            Err(answer)
        }
    }

    /// Makes message ids follow `clock` (unix seconds), the clock a bot under test runs on (the latest of those
    /// followed, when several bots run on their own): Discord stamps a message with the time it was sent, and the
    /// bot compares that time with its own.
    pub fn follow_clock(&self, clock: Arc<dyn Fn() -> i64 + Send + Sync>) {
        self.mutate(|st| st.message_clocks.push(clock));
    }

    /// Makes the next message id `age` older than now, as a message sent long before would
    /// have: it sorts before every message sent since.
    pub fn backdate_next_message(&self, age: Duration) {
        self.mutate(|st| st.backdate_ms = u64::try_from(age.as_millis()).unwrap_or(u64::MAX));
    }

    /// Stores a message from someone else (a person, another bot) in a channel, and dispatches
    /// MESSAGE_CREATE when the intents ask for it. Returns its id.
    pub fn add_user_message(&self, channel: u64, author: u64, content: &str) -> u64 {
        self.mutate(|st| {
            let author_json = st.user_json(author);
            let id = st.next_message_snowflake();
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

    /// `count` messages from a member in `channel` ("chat 0", "chat 1", …), after whatever is there: a busy channel.
    pub fn chat(&self, channel: u64, count: usize) {
        self.chat_aged(channel, count, Duration::ZERO);
    }

    /// [`FakeDiscord::chat`] whose messages were sent `age` ago (as those of a long poll were, spread over it, not
    /// in the test's last second).
    pub fn chat_aged(&self, channel: u64, count: usize, age: Duration) {
        for n in 0..count {
            if !age.is_zero() {
                self.backdate_next_message(age);
            }
            self.add_user_message(channel, FakeDiscord::USER_ID, &format!("chat {n}"));
        }
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

    /// The next matching request (as for [`FakeDiscord::fail_next`]) is answered as Cloudflare answers a banned
    /// client: 429 with an HTML page and no rate-limit headers, without effect.
    pub fn cloudflare_ban_next(&self, method: &str, path_prefix: &str) {
        self.mutate(|st| {
            st.faults.push(Fault {
                method: method.to_ascii_uppercase(),
                prefix: normalize_prefix(path_prefix),
                kind: FaultKind::CloudflareBan,
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

    /// `user`, a member with `permissions` in the channel, clicks the button `custom_id` on `message` (without
    /// waiting for the answer).
    pub async fn click(
        &self,
        custom_id: &str,
        message: u64,
        user: u64,
        permissions: u64,
    ) -> InteractionRef {
        self.button(custom_id)
            .on_message(message)
            .user(user)
            .member_permissions(permissions)
            .send()
            .await
    }

    /// [`FakeDiscord::click`], then the bot's answer: its callback's `data`, waited for at most `timeout`.
    pub async fn press(
        &self,
        custom_id: &str,
        message: u64,
        user: u64,
        permissions: u64,
        timeout: Duration,
    ) -> Value {
        let interaction = self.click(custom_id, message, user, permissions).await;
        self.wait_callback(interaction.id, timeout).await["data"].clone()
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

/// The `custom_id`s of a message's first action row (its buttons), in order; empty when it has none.
pub fn button_ids(message: &Value) -> Vec<String> {
    message["components"][0]["components"]
        .as_array()
        .map(|buttons| {
            buttons
                .iter()
                .filter_map(|b| b["custom_id"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}
