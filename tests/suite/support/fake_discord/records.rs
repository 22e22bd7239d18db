//! What the fake remembers for tests to inspect: requests, spec violations, the gateway log.

use std::fmt;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::super::openapi::SpecViolation;
use super::json::parse_query;

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

/// What the fake counted of the REST traffic, for benchmarks that prove a bot stays within Discord's limits.
/// Counted with or without [`super::FakeOptions::rate_limits`], and kept whole (not bounded like the records).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateStats {
    /// When the fake started: `per_second[i]` counts the second `[started + i s, started + (i + 1) s)`.
    pub started: SystemTime,
    /// Every REST request.
    pub requests: u64,
    /// Requests that count against the global limit: with the bot's token, interaction endpoints excluded.
    pub counted: u64,
    /// 429s answered for the global limit.
    pub global_limited: u64,
    /// 429s answered for a per-route bucket.
    pub route_limited: u64,
    /// Invalid requests as Discord counts them toward its IP ban: answers 401, 403, and 429 unless the 429 says
    /// `X-RateLimit-Scope: shared` (injected faults included).
    pub invalid: u64,
    /// Counted requests per second since `started`, indexed by second.
    pub per_second: Vec<u32>,
    /// The most counted requests that arrived within any one second (a sliding window, exact; not limited by
    /// the per-second grid of `per_second`).
    pub peak_per_second: u32,
}
