//! The gateway: connections, IDENTIFY and RESUME, sessions per shard, dispatch and replay.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message as WsMessage, WebSocket, WebSocketUpgrade};
use axum::extract::State as AxumState;
use axum::response::Response;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use super::json::{
    application_flags, channel_json, close_reason, random_hex, snowflake_time, user_json,
};
use super::model::{intents, FakeGuild};
use super::records::GatewayLog;
use super::state::{Shared, State, RECORD_LIMIT};

/// Most dispatches kept for replay on RESUME (the oldest are dropped past it).
pub(crate) const REPLAY_LIMIT: usize = 10_000;

/// How long a connection the fake closed waits for the client's close frame.
pub(crate) const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub(crate) enum Outgoing {
    Frame(String),
    Close(u16, String),
    Drop,
}

pub(crate) struct Connection {
    pub(crate) tx: mpsc::UnboundedSender<Outgoing>,
    pub(crate) authenticated: bool,
}

pub(crate) struct Session {
    pub(crate) id: String,
    pub(crate) seq: u64,
    pub(crate) intents: u64,
    /// (seq, frame) of every dispatch, for replay.
    pub(crate) events: VecDeque<(u64, String)>,
}

/// A shard's session and its connection.
#[derive(Default)]
pub(crate) struct ShardLink {
    pub(crate) live: Option<u64>,
    pub(crate) session: Option<Session>,
}

impl State {
    /// Whether the connection being opened is to be left silent (and counts it).
    pub(crate) fn take_silent_connection(&mut self) -> bool {
        if self.silent_connections == 0 {
            return false;
        }
        self.silent_connections -= 1;
        true
    }

    pub(crate) fn gateway_url(&self) -> String {
        format!("ws://{}/gateway", self.addr)
    }

    pub(crate) fn log(&mut self, entry: GatewayLog) {
        tracing::debug!(?entry, "fake Discord gateway");
        if self.gateway_log.len() >= RECORD_LIMIT {
            self.gateway_log.pop_front();
        }
        self.gateway_log.push_back(entry);
    }

    pub(crate) fn count_log(&self, pred: impl Fn(&GatewayLog) -> bool) -> usize {
        self.gateway_log.iter().filter(|e| pred(e)).count()
    }

    pub(crate) fn has_intent(&self, bit: u64) -> bool {
        self.session
            .iter()
            .chain(
                self.other_shards
                    .values()
                    .filter_map(|l| l.session.as_ref()),
            )
            .any(|s| s.intents & bit != 0)
    }

    pub(crate) fn take_live(&mut self, what: &str) -> u64 {
        match self.live.take() {
            Some(conn) => conn,
            None => panic!("{what}: no gateway connection is open (wait_connected first)"),
        }
    }

    pub(crate) fn send_to(&self, conn: u64, out: Outgoing) {
        if let Some(c) = self.connections.get(&conn) {
            // A send fails only when the connection task is gone; then there is nobody to tell.
            let _ = c.tx.send(out);
        }
    }

    /// The shard a guild's events go to, as Discord computes it.
    pub(crate) fn shard_of(&self, guild_id: u64) -> u64 {
        (guild_id >> 22) % self.shard_total.max(1)
    }

    /// The shard a dispatch belongs to: its guild's (`guild_id`, or `id` for GUILD_* events), else shard 0.
    pub(crate) fn shard_of_dispatch(&self, event: &str, payload: &Value) -> u64 {
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
    pub(crate) fn shard_slot(&mut self, shard: u64) -> (&mut Option<u64>, &mut Option<Session>) {
        if shard == 0 {
            (&mut self.live, &mut self.session)
        } else {
            let link = self.other_shards.entry(shard).or_default();
            (&mut link.live, &mut link.session)
        }
    }

    /// Stores and sends a dispatch on the shard of its guild; `None` without a session there.
    pub(crate) fn dispatch(&mut self, event: &str, payload: Value) -> Option<u64> {
        let shard = self.shard_of_dispatch(event, &payload);
        self.dispatch_to(shard, event, payload)
    }

    /// Stores and sends a dispatch on `shard`; `None` without a session there.
    pub(crate) fn dispatch_to(&mut self, shard: u64, event: &str, payload: Value) -> Option<u64> {
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

    pub(crate) fn guild_create_json(&self, guild: &FakeGuild) -> Value {
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

    pub(crate) fn ready_json(&self, session_id: &str, shard: &Value) -> Value {
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

    /// MESSAGE_CREATE / MESSAGE_UPDATE for a stored message, when the intents ask for it.
    pub(crate) fn dispatch_message_event(&mut self, event: &str, id: u64) {
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

    pub(crate) fn dispatch_message_delete(&mut self, id: u64) {
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

    pub(crate) fn on_connect(&mut self, tx: mpsc::UnboundedSender<Outgoing>) -> u64 {
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

    pub(crate) fn on_disconnect(&mut self, conn: u64) {
        self.connections.remove(&conn);
        self.forget_live(conn);
        self.log(GatewayLog::Disconnected { conn });
    }

    pub(crate) fn close_connection(&mut self, conn: u64, code: u16) {
        self.send_to(conn, Outgoing::Close(code, close_reason(code).to_owned()));
        self.forget_live(conn);
        self.log(GatewayLog::ServerClosed { conn, code });
    }

    /// `conn` no longer carries any shard's events.
    pub(crate) fn forget_live(&mut self, conn: u64) {
        if self.live == Some(conn) {
            self.live = None;
        }
        for link in self.other_shards.values_mut() {
            if link.live == Some(conn) {
                link.live = None;
            }
        }
    }

    pub(crate) fn on_client_frame(&mut self, conn: u64, text: &str) {
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

    pub(crate) fn on_identify(&mut self, conn: u64, authenticated: bool, d: &Value) {
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

    pub(crate) fn on_resume(&mut self, conn: u64, authenticated: bool, d: &Value) {
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
}

/// Resolves when the FakeDiscord is dropped.
pub(crate) async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    // An error means the sender is gone, which also means stop.
    let _ = shutdown.wait_for(|stop| *stop).await;
}

pub(crate) async fn gateway_upgrade(
    AxumState(shared): AxumState<Arc<Shared>>,
    ws: WebSocketUpgrade,
) -> Response {
    ws.on_upgrade(move |socket| gateway_connection(shared, socket))
}

pub(crate) async fn gateway_connection(shared: Arc<Shared>, mut socket: WebSocket) {
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
