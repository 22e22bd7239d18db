//! The fake's shared state behind one lock, and the lookups and permission maths every route uses.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use tokio::sync::watch;

use super::super::openapi::{ApiSpec, SpecViolation};
use super::gateway::{Connection, Session, ShardLink};
use super::json::{now_unix_ms, user_json, DISCORD_EPOCH_MS};
use super::model::{permissions, FakeChannel, FakeGuild, FakeOptions, FakeUser};
use super::records::{GatewayLog, Recorded, Violation, ViolationSource};
use super::rest::limits::Limiter;
use super::rest::Request;

/// Most requests and gateway log entries kept (the oldest are dropped past it).
pub(crate) const RECORD_LIMIT: usize = 50_000;

pub(crate) struct Shared {
    pub(crate) state: Mutex<State>,
    /// Bumped after every change; waiters re-check on it.
    pub(crate) changes: watch::Sender<u64>,
    /// Turns true when the FakeDiscord is dropped.
    pub(crate) shutdown: watch::Sender<bool>,
    pub(crate) addr: SocketAddr,
    /// The axum server task.
    pub(crate) server: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

impl Shared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn changed(&self) {
        self.changes.send_modify(|n| *n = n.wrapping_add(1));
    }

    pub(crate) fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        let out = f(&mut self.lock());
        self.changed();
        out
    }
}

pub(crate) struct StoredMessage {
    pub(crate) id: u64,
    pub(crate) channel_id: u64,
    pub(crate) guild_id: Option<u64>,
    /// The message as Discord returns it, without `poll.results`.
    pub(crate) json: Value,
    pub(crate) ephemeral: bool,
    pub(crate) poll: Option<PollState>,
    pub(crate) author_id: u64,
}

pub(crate) struct PollState {
    pub(crate) answer_ids: Vec<u64>,
    pub(crate) allow_multiselect: bool,
    /// answer id -> voters, in voting order.
    pub(crate) votes: BTreeMap<u64, Vec<u64>>,
    pub(crate) finalized: bool,
    /// Ended but not yet finalized: finalized from this instant on.
    pub(crate) finalizes_at: Option<Instant>,
}

impl PollState {
    /// Whether Discord has finalized the counts.
    pub(crate) fn is_finalized(&self) -> bool {
        self.finalized || self.finalizes_at.is_some_and(|at| at <= Instant::now())
    }

    /// Whether the poll has ended (finalized or not).
    pub(crate) fn has_ended(&self) -> bool {
        self.finalized || self.finalizes_at.is_some()
    }
}

pub(crate) struct Interaction {
    pub(crate) token: String,
    pub(crate) kind: u64,
    pub(crate) created: Instant,
    pub(crate) channel_id: u64,
    pub(crate) guild_id: Option<u64>,
    pub(crate) user_id: u64,
    /// The message a component was on.
    pub(crate) source_message: Option<u64>,
    /// The accepted callback type.
    pub(crate) acknowledged: Option<u64>,
    pub(crate) original: Option<u64>,
    pub(crate) followups: Vec<u64>,
    pub(crate) name: String,
}

pub(crate) struct Fault {
    pub(crate) method: String,
    pub(crate) prefix: String,
    pub(crate) kind: FaultKind,
}

#[derive(Clone)]
pub(crate) enum FaultKind {
    Status {
        status: u16,
        retry_after: f64,
        global: bool,
    },
    Delay(Duration),
    /// Cloudflare's rate-limit ban (error 1015): a 429 with an HTML page and none of Discord's rate-limit headers.
    CloudflareBan,
    /// Handle the request (its effect happens and is recorded), then hold the answer back.
    HoldAnswer(Duration),
    /// Handle the request (its effect happens and is recorded), then answer this raw JSON text instead of the body.
    ReplaceBody(String),
}

pub(crate) struct State {
    pub(crate) addr: SocketAddr,
    pub(crate) token: String,
    pub(crate) spec: Option<Arc<ApiSpec>>,
    pub(crate) heartbeat_interval: Duration,
    pub(crate) application_id: u64,
    pub(crate) bot_user: FakeUser,
    pub(crate) interaction_deadline: Duration,
    pub(crate) nonce_window: Duration,
    pub(crate) poll_answer_ids: Vec<u64>,
    pub(crate) poll_finalize_delay: Duration,
    /// The next this many reads of a poll message leave out `poll.results` (a field Discord may omit).
    pub(crate) omit_poll_results: usize,

    pub(crate) users: BTreeMap<u64, FakeUser>,
    pub(crate) guilds: Vec<FakeGuild>,
    /// Guilds the bot was removed from (they and their channels answer Missing Access).
    pub(crate) left_guilds: Vec<FakeGuild>,
    pub(crate) dm_channels: BTreeMap<u64, u64>, // channel -> user
    pub(crate) messages: BTreeMap<u64, StoredMessage>,
    /// Threads started from messages, by message id (a thread's id is its message's): one per message.
    pub(crate) threads: BTreeMap<u64, Value>,
    pub(crate) nonces: HashMap<(u64, String), (u64, Instant)>,
    pub(crate) global_commands: Vec<Value>,
    pub(crate) guild_commands: BTreeMap<u64, Vec<Value>>,
    pub(crate) interactions: HashMap<u64, Interaction>,
    /// Each interaction's id by its token: the webhook routes find theirs in one look-up (a benchmark makes tens
    /// of thousands of interactions).
    pub(crate) interaction_tokens: HashMap<String, u64>,
    pub(crate) last_snowflake: u64,
    /// Moved back by [`super::FakeDiscord::backdate_next_message`]: the next message id's time, as ms before now.
    pub(crate) backdate_ms: u64,
    /// The last message id (messages keep their own sequence: their time may follow a test's clock).
    pub(crate) last_message_snowflake: u64,
    /// The test clocks (unix seconds) that message ids follow, the latest of them, when bots run on them.
    pub(crate) message_clocks: Vec<Arc<dyn Fn() -> i64 + Send + Sync>>,

    pub(crate) requests: VecDeque<Recorded>,
    pub(crate) request_count: usize,
    /// Discord's rate limits (when enabled) and the traffic counts.
    pub(crate) limiter: Limiter,
    /// Every REST answer waits a random time in this range.
    pub(crate) rest_latency: Option<(Duration, Duration)>,
    /// The arrival time of every message created by `POST /channels/{id}/messages`, per channel: compact, and
    /// kept whole past `RECORD_LIMIT`, so a benchmark counts every post.
    pub(crate) posts: HashMap<u64, Vec<SystemTime>>,
    /// The time every thread was started from a message, per parent channel: kept whole, as `posts` is.
    pub(crate) thread_starts: HashMap<u64, Vec<SystemTime>>,
    pub(crate) violations: Vec<Violation>,
    pub(crate) faults: Vec<Fault>,

    pub(crate) connections: HashMap<u64, Connection>,
    pub(crate) next_connection: u64,
    pub(crate) live: Option<u64>,
    pub(crate) session: Option<Session>,
    pub(crate) ack_heartbeats: bool,
    pub(crate) gateway_log: VecDeque<GatewayLog>,
    pub(crate) identify_payloads: Vec<Value>,
    /// Connections still to be accepted and then left silent.
    pub(crate) silent_connections: usize,
    /// How many shards the bot identified with (`shard: [i, n]`): guild events go to `(guild_id >> 22) % n`.
    pub(crate) shard_total: u64,
    /// The sessions of shards other than 0 (shard 0 uses `live` and `session`, as with one shard).
    pub(crate) other_shards: BTreeMap<u64, ShardLink>,
}

impl State {
    pub(crate) fn new(options: FakeOptions, addr: SocketAddr) -> State {
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
            threads: BTreeMap::new(),
            nonces: HashMap::new(),
            global_commands: Vec::new(),
            guild_commands: BTreeMap::new(),
            interactions: HashMap::new(),
            interaction_tokens: HashMap::new(),
            last_snowflake: 0,
            backdate_ms: 0,
            last_message_snowflake: 0,
            message_clocks: Vec::new(),
            requests: VecDeque::new(),
            request_count: 0,
            limiter: Limiter::new(options.rate_limits),
            rest_latency: options.rest_latency,
            posts: HashMap::new(),
            thread_starts: HashMap::new(),
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

    /// A new id for anything but a message (interactions, commands): the wall clock's time.
    pub(crate) fn next_snowflake(&mut self) -> u64 {
        let ms = now_unix_ms().saturating_sub(DISCORD_EPOCH_MS);
        let candidate = (ms << 22) | (1 << 17);
        self.last_snowflake = candidate.max(self.last_snowflake + 1);
        self.last_snowflake
    }

    /// A new message id: its time is the latest test clock when one is followed (a bot on a test clock searches its
    /// messages by their time), less a backdate asked for once.
    pub(crate) fn next_message_snowflake(&mut self) -> u64 {
        let real_ms = now_unix_ms();
        let ms = match self.message_clocks.iter().map(|clock| clock()).max() {
            Some(now) => u64::try_from(now).unwrap_or(0) * 1000 + real_ms % 1000,
            None => real_ms,
        }
        .saturating_sub(DISCORD_EPOCH_MS);
        let backdate = std::mem::take(&mut self.backdate_ms);
        if backdate > 0 {
            // An id from the past, as an old message has: below every id made since (unique by its increment).
            self.last_message_snowflake += 1;
            return (ms.saturating_sub(backdate) << 22)
                | (2 << 17)
                | (self.last_message_snowflake & 0xfff);
        }
        let candidate = (ms << 22) | (2 << 17);
        self.last_message_snowflake = candidate.max(self.last_message_snowflake + 1);
        self.last_message_snowflake
    }

    pub(crate) fn describe_requests(&self) -> String {
        let lines: Vec<String> = self.requests.iter().map(ToString::to_string).collect();
        let mut text = format!("requests so far ({}):\n{}", lines.len(), lines.join("\n"));
        for violation in &self.violations {
            text.push('\n');
            text.push_str(&violation.to_string());
        }
        text
    }

    pub(crate) fn describe_gateway(&self) -> String {
        let lines: Vec<String> = self.gateway_log.iter().map(|e| format!("{e:?}")).collect();
        format!("gateway log:\n{}", lines.join("\n"))
    }

    pub(crate) fn user(&self, id: u64) -> FakeUser {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| FakeUser::person(id, &format!("user{}", id % 10_000)))
    }

    pub(crate) fn user_json(&self, id: u64) -> Value {
        user_json(&self.user(id))
    }

    pub(crate) fn guild(&self, id: u64) -> Option<&FakeGuild> {
        self.guilds.iter().find(|g| g.id == id)
    }

    pub(crate) fn find_channel(&self, channel: u64) -> Option<(usize, usize)> {
        self.guilds.iter().enumerate().find_map(|(gi, g)| {
            g.channels
                .iter()
                .position(|c| c.id == channel)
                .map(|ci| (gi, ci))
        })
    }

    pub(crate) fn channel_guild(&self, channel: u64) -> Option<u64> {
        self.find_channel(channel).map(|(gi, _)| self.guilds[gi].id)
    }

    pub(crate) fn member_roles(&self, guild: &FakeGuild, user: u64) -> Vec<u64> {
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
    pub(crate) fn channel_permissions(
        &self,
        guild: &FakeGuild,
        channel: &FakeChannel,
        user: u64,
    ) -> u64 {
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

    pub(crate) fn bot_permissions_in(&self, channel: u64) -> Option<u64> {
        let (gi, ci) = self.find_channel(channel)?;
        let guild = &self.guilds[gi];
        Some(self.channel_permissions(guild, &guild.channels[ci], self.bot_user.id))
    }

    pub(crate) fn token_ok(&self, token: Option<&str>) -> bool {
        token.is_some_and(|t| t.strip_prefix("Bot ").unwrap_or(t) == self.token)
    }

    pub(crate) fn take_fault(&mut self, method: &str, path: &str) -> Option<FaultKind> {
        let index = self
            .faults
            .iter()
            .position(|f| (f.method == "*" || f.method == method) && path.starts_with(&f.prefix))?;
        Some(self.faults.remove(index).kind)
    }

    pub(crate) fn record(&mut self, mut recorded: Recorded) {
        recorded.index = self.request_count;
        self.request_count += 1;
        if self.requests.len() >= RECORD_LIMIT {
            self.requests.pop_front();
        }
        self.requests.push_back(recorded);
    }

    pub(crate) fn violation(
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

    pub(crate) fn token_ok_header(&self, authorization: Option<&str>) -> bool {
        authorization.and_then(|a| a.strip_prefix("Bot ")) == Some(self.token.as_str())
    }
}
