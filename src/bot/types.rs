//! The types every part of the Discord layer shares: [`Data`] (what commands and jobs read), the handlers'
//! [`Error`] and poise's [`Context`]. Siblings import them from here, not from `bot`'s root, so the root only starts
//! and stops the bot.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::all::UserId;

use crate::clock::Clock;
use crate::lifecycle::pacer::Pacer;
use crate::lifecycle::poll::PollLocks;
use crate::lifecycle::quiz::RunningRounds;
use crate::reason::Failure;
use crate::respond::Responder;
use crate::store::{Store, StoreError};

/// Everything a command reads: one typed struct, no TypeMap. Cheap to clone (background tasks hold a copy).
#[derive(Clone)]
pub struct Data {
    /// The catalog and its search index.
    pub responder: Arc<Responder>,
    /// When the bot started, for `/about`.
    pub started: Instant,
    /// The store (SQLite, or PostgreSQL shared with other processes).
    pub store: Store,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// One lock per poll, so the scheduler and `/favorite start`/`end` never race on one poll.
    pub poll_locks: PollLocks,
    /// Spaces the bot's own requests under Discord's global limit.
    pub pacer: Arc<Pacer>,
    /// The bot's user, whose messages the background processes look for.
    pub me: UserId,
    /// How long a claim holds (`SCENEBOT_LEASE_SECONDS`).
    pub lease: Duration,
    /// How many posts or polls the background processes work on at once (`SCENEBOT_FANOUT`).
    pub fanout: usize,
    /// Wakes the poll scheduler when a poll starts or ends early.
    pub wake_polls: Arc<tokio::sync::Notify>,
    /// Wakes the daily scheduler when a schedule changes.
    pub wake_daily: Arc<tokio::sync::Notify>,
    /// The longest one Discord call may take, serenity's own 429 retries included (twice the HTTP timeout).
    pub call_cap: Duration,
    /// The quiz rounds this process runs, each with what wakes it (`/quiz stop`).
    pub quiz_rounds: RunningRounds,
    /// The shards this process runs (`SCENEBOT_SHARDS`; all when unset): it resumes the rounds of their servers.
    pub shards: Option<crate::config::ShardRange>,
    /// Turns true when the bot shuts down: background jobs finish what they are doing and stop.
    pub stopping: tokio::sync::watch::Receiver<bool>,
    /// What one server or member may spend of the calls every server shares ([`super::budget`]).
    pub budget: Arc<super::budget::Budget>,
}

impl Data {
    /// Whether this process runs the shard of `guild` (a round without a server: shard 0, as DMs are).
    pub fn owns_guild(&self, guild: Option<u64>) -> bool {
        let Some(range) = self.shards else {
            return true;
        };
        let shard = guild.map_or(0, |g| (g >> 22) % u64::from(range.total.max(1)));
        (u64::from(range.first)..=u64::from(range.last)).contains(&shard)
    }

    /// Resolves once the bot is shutting down.
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
        let _ = stopping.wait_for(|stop| *stop).await;
    }
}

/// The error every handler returns: what failed, already sorted and log-safe (tokens redacted), so the funnel
/// ([`super::events::on_error`]) logs one line and tells the user a short friendly text; users never see this one.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A Discord call failed, sorted by [`Failure::of`] (refused, gone, transient, ...).
    #[error("{}", .0.text())]
    Discord(Failure),
    /// The store failed (a timeout, the database down, a lease lost).
    #[error("{0}")]
    Store(#[from] StoreError),
}

impl From<serenity::Error> for Error {
    fn from(error: serenity::Error) -> Error {
        Error::Discord(Failure::of(&error))
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        Error::Discord(failure)
    }
}

/// The poise context of our commands.
pub type Context<'a> = poise::Context<'a, Data, Error>;
