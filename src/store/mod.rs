//! All SQL, behind one store contract with two backends: an SQLite file (the embedded default) and PostgreSQL
//! (`SCENEBOT_DATABASE=postgres://…`, shared by several processes).
//!
//! - [`sqlite`]: one file (WAL), one connection behind a mutex; a transaction is the single writer.
//! - [`postgres`]: a connection pool driven by the store's own small runtime; claims use `FOR UPDATE SKIP LOCKED`.
//! - `records.rs`: the typed records both return (re-exported here).
//! - `quiz/`: the quiz's rounds, answers and board, with their SQL in both dialects.
//!
//! Just over 600 lines: the facade forwards each contract method to both backends (one short match each) beside
//! its doc, so the contract reads in one place.
//!
//! Both run the same versioned migrations at open and refuse, without changing a byte, a database written by a
//! newer version. Every multi-step change is one transaction. The methods are plain blocking functions: callers on
//! the async runtime go through [`Store::call`], which runs them on tokio's blocking pool, never on a worker thread.
//!
//! Work that several processes could do at once (finishing a poll, sending a day's post) is claimed with a lease:
//! an owner and an expiry. A live owner renews or releases it; a dead one's claim is taken over once the lease has
//! run out, except by the dead one's own successor: an owner id is `host/instance/pid-random`, where the instance
//! names what the process runs (its shard range), and a process takes the claims of its own host and instance as
//! its own at once (a restarted process is the previous one's successor; two live processes on one host and range
//! would both answer every interaction, which is a misconfiguration Discord does not allow for either).

mod postgres;
mod quiz;
mod records;
mod sqlite;
mod tls;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use chrono::NaiveDate;

pub use quiz::{
    Board, BoardRow, Lane, NewRound, NotStarted, RoundRecord, RoundState, Slot, Stored,
};
use records::{
    bag_text, date_text, decode, encode, from_sql, parse_date, read_bag_text, to_sql, DailyRow,
    PlannedRow, PlannedRows, PollRow, SettingsText, DAILY_COLUMNS, POLL_COLUMNS, POST_COLUMNS,
};
pub use records::{
    Claim, DailyPost, DailyPostState, DailyRecord, DailySettings, NewPoll, Pick, PlannedDaily,
    PollRecord, PollState,
};

use crate::daily::ShuffleBag;
use crate::favorite::Tally;
use crate::locale::Locale;
use crate::reason::{CancelReason, PostFailure, ThreadNote};

/// The schema version this build writes (both backends have the same migrations, numbered alike).
pub const SCHEMA_VERSION: i64 = sqlite::MIGRATIONS.len() as i64;
const _: () = assert!(sqlite::MIGRATIONS.len() == postgres::MIGRATIONS.len());

/// How long one store call may take by default (`SCENEBOT_STORE_TIMEOUT_SECONDS`): far above a healthy call (a
/// few milliseconds), far below Discord's 3 s interaction deadline plus a retry, and short enough that a stopped
/// or partitioned PostgreSQL frees the schedulers' threads within seconds instead of TCP's 15 minutes.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How long a claim stays with its owner by default: longer than finishing a poll takes (three Discord calls, each
/// capped at twice the 15 s HTTP timeout), short enough that a dead process's work is taken over within minutes.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(120);

/// How many held poll messages [`Store::poll_messages_held`] returns at most: a server runs one poll at a time, so
/// only a handful can stand in a search window; the bound keeps the query small whatever the history.
pub const HELD_MESSAGES_LIMIT: i64 = 100;

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database.
    #[error("{0} is not an SQLite database; it was left untouched (point SCENEBOT_DATABASE at another file)")]
    NotSqlite(PathBuf),
    /// The database was written by a newer scenebot.
    #[error("{path} has schema version {found}, newer than this build's {known}; it was left untouched (run the newer scenebot, or use another SCENEBOT_DATABASE)")]
    NewerSchema {
        /// The file, or the PostgreSQL URL without its password.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// Another process holds the database locked: the SQLite file itself, or its `<database>.lock` beside it (held
    /// by a running scenebot for as long as its store is open).
    #[error("{0} is locked by another process: is another scenebot running on this database? (stop it, or point SCENEBOT_DATABASE at another file)")]
    Locked(PathBuf),
    /// A file beside the database (its lock) cannot be created or opened.
    #[error("cannot use {0}: {1}")]
    File(PathBuf, std::io::Error),
    /// Anything else SQLite reported.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// PostgreSQL out of reach or failing for now (refused or lost connections, a server starting or shutting
    /// down, too many connections, a statement or lock timeout): worth trying again later. Never with the URL's
    /// password.
    #[error("PostgreSQL error: {0}")]
    Postgres(String),
    /// PostgreSQL said no in a way retrying cannot fix (a wrong password or user, a missing database, a missing
    /// privilege, TLS the server or this build cannot do, an unusable URL); the text says what to fix.
    #[error("PostgreSQL cannot be used as configured: {0}")]
    Misconfigured(String),
    /// The blocking task failed.
    #[error("database task failed: {0}")]
    Task(String),
    /// The database did not answer within the store timeout (`SCENEBOT_STORE_TIMEOUT_SECONDS`).
    #[error("the database did not answer within {0:?} (stopped, overloaded or cut off; SCENEBOT_STORE_TIMEOUT_SECONDS sets the limit)")]
    Timeout(Duration),
    /// An owner-checked write found the claim held by another process: our lease ran out and it was taken over,
    /// so nothing was recorded and the work must stop (the new owner finishes it).
    #[error("the claim was taken over by another process; nothing recorded")]
    LeaseLost,
}

impl StoreError {
    /// The metrics' name for this kind of error: a fixed word per variant, never its text.
    pub fn kind(&self) -> &'static str {
        match self {
            StoreError::Timeout(_) => "timeout",
            StoreError::LeaseLost => "lease_lost",
            StoreError::Postgres(_) => "postgres",
            StoreError::Sqlite(_) => "sqlite",
            StoreError::Misconfigured(_) => "misconfigured",
            StoreError::Task(_) => "task",
            StoreError::NotSqlite(_)
            | StoreError::NewerSchema { .. }
            | StoreError::Locked(_)
            | StoreError::File(..) => "file",
        }
    }

    /// Whether trying again later may help (a supervisor should restart, exit 75): PostgreSQL unreachable, failing
    /// for now, or too slow, as opposed to settings to fix (exit 1): a wrong password, user or database, a file
    /// that is not a database or is locked by another process, a newer build's schema.
    pub fn is_transient(&self) -> bool {
        matches!(self, StoreError::Postgres(_) | StoreError::Timeout(_))
    }
}

/// The database: one of the two backends, this process's owner id for claims, and the lease length.
#[derive(Clone)]
pub struct Store {
    backend: Backend,
    owner: Arc<str>,
    /// `host/instance/`: the owner ids of this process and of its predecessors.
    family: Arc<str>,
    lease_seconds: i64,
    /// The longest one [`Store::call`] (and one backend operation) may take.
    timeout: Duration,
    /// Calls running on blocking threads at once: the rest wait as cheap async tasks rather than as threads
    /// parked on the SQLite connection's lock or the pool (64 workers of a fan-out held 64 threads and their
    /// stacks and malloc arenas: RSS 52 MB where 40 was the budget).
    running: Arc<tokio::sync::Semaphore>,
}

#[derive(Clone)]
enum Backend {
    Sqlite(sqlite::Sqlite),
    Postgres(postgres::Postgres),
}

/// Calls the same method on whichever backend is open.
macro_rules! on_backend {
    ($store:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        match &$store.backend {
            Backend::Sqlite(backend) => backend.$method($($arg),*),
            Backend::Postgres(backend) => backend.$method($($arg),*),
        }
    };
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("database", &self.describe())
            .field("owner", &self.owner)
            .finish()
    }
}

/// Whether `SCENEBOT_DATABASE` names a PostgreSQL database rather than an SQLite file.
pub fn is_postgres_url(database: &str) -> bool {
    database.starts_with("postgres://") || database.starts_with("postgresql://")
}

impl Store {
    /// Opens the database `SCENEBOT_DATABASE` names, and migrates it: a `postgres://` or `postgresql://` URL opens
    /// PostgreSQL, anything else is an SQLite file (created when missing).
    pub fn open(database: &Path) -> Result<Store, StoreError> {
        let backend = match database.to_str().filter(|text| is_postgres_url(text)) {
            Some(url) => Backend::Postgres(postgres::Postgres::connect(url)?),
            None => Backend::Sqlite(sqlite::Sqlite::open(database)?),
        };
        Ok(Store::with_backend(backend))
    }

    /// A fresh in-memory SQLite database with the real migrations, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Ok(Store::with_backend(Backend::Sqlite(
            sqlite::Sqlite::open_in_memory()?,
        )))
    }

    fn with_backend(backend: Backend) -> Store {
        let running = match backend {
            // One connection behind one lock: a second call waiting on a thread buys nothing but the thread.
            Backend::Sqlite(_) => 2,
            Backend::Postgres(_) => postgres::POOL_SIZE,
        };
        Store {
            running: Arc::new(tokio::sync::Semaphore::new(running)),
            backend,
            owner: Arc::from(""),
            family: Arc::from(""),
            lease_seconds: lease_seconds(DEFAULT_LEASE),
            timeout: DEFAULT_TIMEOUT,
        }
        .with_instance(DEFAULT_INSTANCE)
    }

    /// The same store, claiming as instance `instance` of this host (the shard range the process runs): claims an
    /// earlier process of the same host and instance left are taken over at once, others' after their lease.
    pub fn with_instance(mut self, instance: &str) -> Store {
        let family = format!("{}/{instance}/", host_name());
        self.owner = format!(
            "{family}{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        )
        .into();
        self.family = family.into();
        self
    }

    /// The same store with claims held for `lease` (`SCENEBOT_LEASE_SECONDS`).
    pub fn with_lease(mut self, lease: Duration) -> Store {
        self.lease_seconds = lease_seconds(lease);
        self
    }

    /// The same database with every call bounded by `timeout` (`SCENEBOT_STORE_TIMEOUT_SECONDS`): [`Store::call`],
    /// each backend operation (PostgreSQL: the pool wait, connecting, `statement_timeout`, and a client-side
    /// timer; SQLite: the busy timeout) fails with [`StoreError::Timeout`] instead of hanging. Set it once at start:
    /// the backend, shared by every clone, takes the new limit too.
    pub fn with_timeout(mut self, timeout: Duration) -> Store {
        self.timeout = timeout.max(Duration::from_millis(1));
        on_backend!(self.set_timeout(self.timeout));
        self
    }

    /// This store's owner id on claims (`host/instance/pid-random`): logged at start, so an operator can tell who
    /// holds a claim.
    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// The database for logs: the SQLite file, or the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match &self.backend {
            Backend::Sqlite(backend) => backend.path().display().to_string(),
            Backend::Postgres(backend) => backend.label().to_owned(),
        }
    }

    /// Runs blocking store work off the async runtime's worker threads, a bounded number at once (the wait for a
    /// turn counts in the timeout), within the store timeout: past it the caller gets [`StoreError::Timeout`] and
    /// carries on. The blocking thread is not held for long either: each backend operation inside `work` has the
    /// same bound.
    pub async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        let running = Arc::clone(&self.running);
        let call = async move {
            // Never closed, so acquiring fails only if it were: say so rather than run unbounded.
            let permit = running
                .acquire_owned()
                .await
                .map_err(|e| StoreError::Task(e.to_string()))?;
            tokio::task::spawn_blocking(move || {
                let _permit = permit;
                work(&store)
            })
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
        };
        let started = std::time::Instant::now();
        let outcome = match tokio::time::timeout(self.timeout, call).await {
            Ok(outcome) => outcome,
            Err(_) => Err(StoreError::Timeout(self.timeout)),
        };
        crate::telemetry::store_call(
            crate::telemetry::site_of::<F>(),
            started.elapsed(),
            outcome.as_ref().err().map(StoreError::kind),
        );
        outcome
    }

    fn lease_until(&self, now: i64) -> i64 {
        now.saturating_add(self.lease_seconds)
    }

    /// Whether several processes may share this database (PostgreSQL), and with it the bot's send schedule
    /// ([`Store::reserve_slots`]). An SQLite database is one process's (its lock file says so): that process's
    /// pacer keeps the schedule itself, at no store call per request.
    pub fn shares_send_schedule(&self) -> bool {
        matches!(self.backend, Backend::Postgres(_))
    }

    /// Reserves `count` consecutive send slots `interval` apart in the bot's one global request schedule, shared
    /// by every process on this PostgreSQL database (one row, on the database's clock), and returns how long to
    /// wait before sending in the first (the others follow `interval` apart). Slots are never closer than
    /// `interval` whoever reserves them, and an idle schedule banks no burst (see [`crate::pace`]). SQLite keeps
    /// no shared schedule ([`Store::shares_send_schedule`]): asked there, this is an error.
    pub fn reserve_slots(&self, count: u32, interval: Duration) -> Result<Duration, StoreError> {
        let Backend::Postgres(backend) = &self.backend else {
            return Err(StoreError::Task(
                "SQLite keeps no shared send schedule: its one process paces itself".to_owned(),
            ));
        };
        let interval_us = i64::try_from(interval.as_micros()).unwrap_or(i64::MAX);
        let wait_us = backend.reserve_slots(count, interval_us)?;
        Ok(Duration::from_micros(u64::try_from(wait_us).unwrap_or(0)))
    }

    /// SQLite: `PRAGMA integrity_check` says "ok". PostgreSQL: the server answers (it checks its own pages).
    pub fn integrity_ok(&self) -> Result<bool, StoreError> {
        on_backend!(self.integrity_ok())
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        on_backend!(self.schema_version())
    }

    /// Records a new poll in state `posting`, claimed by this store, unless the server already has an open one:
    /// then that one is returned as `Err` (a unique index makes this safe against two moderators at once).
    pub fn insert_poll(
        &self,
        poll: &NewPoll,
    ) -> Result<Result<PollRecord, PollRecord>, StoreError> {
        let until = self.lease_until(poll.now);
        on_backend!(self.insert_poll(poll, &self.owner, until))
    }

    /// Claims poll `id` for finishing: true when it was free, ours, or its lease had run out (now ours until
    /// `now` + the lease); false when another live owner holds it, or there is no such poll.
    pub fn claim_poll(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        let lease = Lease {
            owner: &self.owner,
            family: &self.family,
            now,
            until: self.lease_until(now),
        };
        on_backend!(self.claim_poll(id, &lease))
    }

    /// Gives up our claim on poll `id` (finishing it went as far as it could for now).
    pub fn release_poll(&self, id: i64) -> Result<(), StoreError> {
        on_backend!(self.release_poll(id, &self.owner))
    }

    /// Extends our claim on poll `id` to `now` + the lease while work on it is in progress; false when the claim
    /// is no longer ours (taken over after our lease ran out): then stop before any further Discord call.
    pub fn renew_poll(&self, id: i64, now: i64) -> Result<bool, StoreError> {
        on_backend!(self.renew_poll(id, &self.owner, self.lease_until(now)))
    }

    /// The poll was posted: its message, its end time (Discord's own expiry) and which answer id stands for which
    /// scene. Owner-checked ([`StoreError::LeaseLost`]); the claim stays ours until [`Store::release_poll`].
    pub fn mark_poll_running(
        &self,
        id: i64,
        message_id: u64,
        ends_at: i64,
        answer_ids: &[(u64, String)],
    ) -> Result<(), StoreError> {
        let answers = encode(answer_ids, "the answer ids")?;
        on_backend!(self.mark_poll_running(id, message_id, ends_at, &answers, &self.owner))
    }

    /// `/favorite end`: the poll ends now (kept before calling Discord, so a crash cannot push the end back).
    pub fn end_poll_early(&self, id: i64, now: i64) -> Result<(), StoreError> {
        on_backend!(self.end_poll_early(id, now))
    }

    /// The final votes are read: state `ended`. Owner-checked.
    pub fn mark_poll_ended(&self, id: i64, tally: &Tally) -> Result<(), StoreError> {
        let tally = encode(tally, "the tally")?;
        on_backend!(self.mark_poll_ended(id, &tally, &self.owner))
    }

    /// The results of an ended poll are about to be sent (kept before the call, so a crash during it leaves the
    /// moment to search from). Owner-checked.
    pub fn mark_results_attempt(&self, id: i64, now: i64) -> Result<(), StoreError> {
        on_backend!(self.mark_results_attempt(id, now, &self.owner))
    }

    /// The results message is sent: state `announced`. Owner-checked.
    pub fn mark_poll_announced(
        &self,
        id: i64,
        result_message_id: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self.mark_poll_announced(id, result_message_id, now, &self.owner))
    }

    /// The results message is posted and its thread is owed: the message is kept (state still `ended`), so a
    /// crash before the thread opens it on the recorded message rather than posting again. Owner-checked.
    pub fn mark_results_posted(&self, id: i64, result_message_id: u64) -> Result<(), StoreError> {
        on_backend!(self.mark_results_posted(id, result_message_id, &self.owner))
    }

    /// How the thread on a poll's results went (kept for `/favorite results`).
    pub fn mark_poll_thread(&self, id: i64, note: ThreadNote) -> Result<(), StoreError> {
        on_backend!(self.mark_poll_thread(id, note.code()))
    }

    /// Gives a poll up, keeping why. Owner-checked: only the process that holds the poll's claim gives it up.
    pub fn cancel_poll(&self, id: i64, reason: CancelReason, now: i64) -> Result<(), StoreError> {
        on_backend!(self.cancel_poll(id, reason.code(), now, &self.owner))
    }

    /// One poll.
    pub fn poll(&self, id: i64) -> Result<Option<PollRecord>, StoreError> {
        on_backend!(self.poll(id))
    }

    /// The server's open poll (posting, running or ended), if any.
    pub fn open_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        on_backend!(self.open_poll(guild_id))
    }

    /// Every open poll of every server: what start-up resumes and the timer watches.
    pub fn open_polls(&self) -> Result<Vec<PollRecord>, StoreError> {
        on_backend!(self.open_polls())
    }

    /// The poll messages the server's other poll records hold (`except` is the asking record) that may stand among
    /// the messages sent since `since`: those still open, or finished at or after it (at most
    /// [`HELD_MESSAGES_LIMIT`], newest first). A record looking for its own poll in a channel never adopts one of
    /// these, whatever its question and answers.
    pub fn poll_messages_held(
        &self,
        guild_id: u64,
        except: i64,
        since: i64,
    ) -> Result<Vec<u64>, StoreError> {
        on_backend!(self.poll_messages_held(guild_id, except, since))
    }

    /// The server's most recently finished poll (announced or cancelled).
    pub fn last_finished_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        on_backend!(self.last_finished_poll(guild_id))
    }

    /// Tallies of every announced poll in the server, oldest first: the hall of fame's input.
    pub fn announced_tallies(&self, guild_id: u64) -> Result<Vec<Tally>, StoreError> {
        on_backend!(self.announced_tallies(guild_id))
    }

    /// `/daily set`: saves the settings, turns the schedule on and un-pauses it (the bag is kept).
    pub fn set_daily(&self, settings: &DailySettings, now: i64) -> Result<(), StoreError> {
        on_backend!(self.set_daily(&SettingsText::of(settings), now))
    }

    /// The language a server's moderators chose for what the bot posts there; `None` when they chose none (or
    /// went back to deciding), so the bot decides ([`crate::locale::public_locale`]).
    pub fn server_language(&self, guild_id: u64) -> Result<Option<Locale>, StoreError> {
        let stored = on_backend!(self.server_language(guild_id))?;
        Ok(stored.as_deref().map(Locale::from_discord))
    }

    /// Keeps a server's language choice (`None`: let the bot decide again). A choice also becomes its daily posts'
    /// language at once; running polls keep the language they started in.
    pub fn set_server_language(
        &self,
        guild_id: u64,
        language: Option<Locale>,
        now: i64,
    ) -> Result<(), StoreError> {
        let code = language.map(Locale::code);
        on_backend!(self.set_server_language(guild_id, code, now))
    }

    /// `/daily off`: stops posting; the settings and the bag stay for a later `/daily set`.
    pub fn daily_off(&self, guild_id: u64) -> Result<bool, StoreError> {
        on_backend!(self.daily_off(guild_id))
    }

    /// One server's daily settings (`None` also when the stored time or zone cannot be read: logged).
    pub fn daily(&self, guild_id: u64) -> Result<Option<DailyRecord>, StoreError> {
        Ok(on_backend!(self.daily(guild_id))?.and_then(DailyRow::into_record))
    }

    /// Every schedule that is on and not paused (one whose stored time or zone cannot be read is left out, logged).
    pub fn active_dailies(&self) -> Result<Vec<DailyRecord>, StoreError> {
        Ok(on_backend!(self.active_dailies())?
            .into_iter()
            .filter_map(DailyRow::into_record)
            .collect())
    }

    /// Hands `visit` every schedule that is on and not paused, each with its post records for local dates from
    /// `since` on: all a planning pass needs, in one query whatever the number of servers, one schedule held at a
    /// time (the pass keeps only what is due).
    pub fn plan_each_daily(
        &self,
        since: NaiveDate,
        visit: &mut dyn FnMut(PlannedDaily),
    ) -> Result<(), StoreError> {
        let mut to_daily = |(row, posts): PlannedRow| {
            if let Some(record) = row.into_record() {
                visit(PlannedDaily {
                    record,
                    posts: posts
                        .into_iter()
                        .filter_map(|(date, post)| Some((parse_date(&date)?, post)))
                        .collect(),
                });
            }
        };
        on_backend!(self.plan_each_daily(&date_text(since), &mut to_daily))
    }

    /// The record of a server's post for a local date.
    pub fn daily_post(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
    ) -> Result<Option<DailyPost>, StoreError> {
        on_backend!(self.daily_post(guild_id, &date_text(local_date)))
    }

    /// Claims a server's post for `local_date` before sending, in one transaction with the draw from the bag, so
    /// neither a restart nor another process can post twice for one date. `draw` picks the scene from the bag
    /// (and updates it). A claim another live process holds is [`Claim::Held`]; one whose lease has run out is
    /// taken over as [`Claim::Unsent`].
    pub fn claim_daily(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        now: i64,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<Pick>,
    ) -> Result<Claim, StoreError> {
        let lease = Lease {
            owner: &self.owner,
            family: &self.family,
            now,
            until: self.lease_until(now),
        };
        on_backend!(self.claim_daily(guild_id, &date_text(local_date), &lease, draw))
    }

    /// A claimed day's message went out and its thread is owed: the message is kept on the claim (still
    /// `claimed`), so a crash or a failed thread call opens the thread on it later instead of posting again.
    /// Owner-checked ([`StoreError::LeaseLost`]).
    pub fn mark_daily_posted(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        message_id: u64,
    ) -> Result<(), StoreError> {
        on_backend!(self.mark_daily_posted(
            guild_id,
            &date_text(local_date),
            message_id,
            &self.owner
        ))
    }

    /// [`Store::mark_daily_sent`] for a day whose thread was asked for: also keeps how the thread went, on the
    /// post and (when skipped, for `/daily status`) on the schedule.
    pub fn mark_daily_sent_with_thread(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        message_id: u64,
        now: i64,
        thread: ThreadNote,
    ) -> Result<(), StoreError> {
        let date = date_text(local_date);
        on_backend!(self.mark_daily_sent(
            guild_id,
            Some(&date),
            message_id,
            now,
            &self.owner,
            Some(thread.code())
        ))
    }

    /// Extends our claim on a day's post to `now` + the lease while it is being sent; false when it is no longer
    /// ours (taken over after our lease ran out, or already finished): then do not send.
    pub fn renew_daily(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self.renew_daily(
            guild_id,
            &date_text(local_date),
            &self.owner,
            self.lease_until(now)
        ))
    }

    /// Draws the next scene for `/daily now` (not tied to a date), updating the bag.
    pub fn draw_daily(
        &self,
        guild_id: u64,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        on_backend!(self.draw_daily(guild_id, draw))
    }

    /// A post went out: record it and clear the failure streak. A dated post's record is owner-checked
    /// ([`StoreError::LeaseLost`]); `/daily now` (no date) claims nothing.
    pub fn mark_daily_sent(
        &self,
        guild_id: u64,
        local_date: Option<NaiveDate>,
        message_id: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let date = local_date.map(date_text);
        on_backend!(self.mark_daily_sent(
            guild_id,
            date.as_deref(),
            message_id,
            now,
            &self.owner,
            None
        ))
    }

    /// A day's claimed post failed for good: keep why; after `pause_after` failed days in a row, pause. Returns
    /// whether the schedule is paused. A day already marked failed counts once, whoever reports it again.
    pub fn mark_daily_failed(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        error: PostFailure,
        pause_after: u32,
    ) -> Result<bool, StoreError> {
        on_backend!(self.mark_daily_failed(
            guild_id,
            &date_text(local_date),
            error.code(),
            pause_after,
            &self.owner
        ))
    }

    /// A day's post was missed by too much (downtime): record it skipped so it is not tried again.
    pub fn mark_daily_skipped(
        &self,
        guild_id: u64,
        local_date: NaiveDate,
        now: i64,
    ) -> Result<(), StoreError> {
        on_backend!(self.mark_daily_skipped(guild_id, &date_text(local_date), now))
    }
}

/// After an owner-checked write changed nothing, the row's (state, lease owner) tell why: still in one of the
/// `expected` states under another owner is a lost claim; anything else is a step already taken (repeating a
/// recorded step is harmless).
fn lost_unless_done(
    row: Option<(String, Option<String>)>,
    expected: &[&str],
    owner: &str,
) -> Result<(), StoreError> {
    match row {
        Some((state, holder))
            if expected.contains(&state.as_str()) && holder.as_deref() != Some(owner) =>
        {
            Err(StoreError::LeaseLost)
        }
        _ => Ok(()),
    }
}

/// A claim being taken: by whom (and which owners count as the same: `family`), when, and until when.
struct Lease<'a> {
    owner: &'a str,
    family: &'a str,
    now: i64,
    until: i64,
}

/// The instance of a process that runs every shard (and of tests).
pub const DEFAULT_INSTANCE: &str = "all";

/// This machine's name, for owner ids.
fn host_name() -> String {
    host_name_from(
        std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
        std::env::var("HOSTNAME").ok(),
    )
}

/// The kernel's host name, else `HOSTNAME`, else `host`: an empty or unreadable one passes to the next, and a `/`
/// (the owner id's separator) becomes `-`.
fn host_name_from(kernel: Option<String>, variable: Option<String>) -> String {
    let usable = |name: String| {
        let name = name.trim().replace('/', "-");
        (!name.is_empty()).then_some(name)
    };
    kernel
        .and_then(usable)
        .or_else(|| variable.and_then(usable))
        .unwrap_or_else(|| "host".to_owned())
}

fn lease_seconds(lease: Duration) -> i64 {
    i64::try_from(lease.as_secs()).unwrap_or(i64::MAX).max(1)
}

/// What an existing claimed row means for a new claim: ours or expired is taken (over); another live owner's is
/// held; a finished day is done.
fn existing_claim(
    state: &str,
    (scene, special): (Option<String>, Option<String>),
    owner: Option<&str>,
    until: Option<i64>,
    lease: &Lease<'_>,
) -> ExistingClaim {
    match (
        DailyPostState::parse(state),
        Pick::from_columns(scene, special.as_deref()),
    ) {
        (DailyPostState::Claimed, Some(pick)) => {
            let free = owner.is_none_or(|o| o.starts_with(lease.family))
                || until.is_none_or(|u| u <= lease.now);
            if free {
                ExistingClaim::TakeOver(pick)
            } else {
                ExistingClaim::Held
            }
        }
        _ => ExistingClaim::Done,
    }
}

enum ExistingClaim {
    TakeOver(Pick),
    Held,
    Done,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_told_from_files() {
        assert!(is_postgres_url("postgres://bot@db/scenebot"));
        assert!(is_postgres_url("postgresql://bot@db/scenebot"));
        assert!(!is_postgres_url("scenebot.sqlite3"));
        assert!(!is_postgres_url("/var/lib/postgres/scenebot.sqlite3"));
    }

    #[test]
    fn the_host_name_falls_back_past_an_empty_one() {
        let some = |s: &str| Some(s.to_owned());
        assert_eq!(host_name_from(some("vm1\n"), some("box")), "vm1");
        assert_eq!(host_name_from(some("\n"), some("box")), "box");
        assert_eq!(host_name_from(None, some(" a/b ")), "a-b");
        assert_eq!(host_name_from(some(""), some("")), "host");
        assert_eq!(host_name_from(None, None), "host");
    }

    #[test]
    fn each_store_has_its_own_owner_id() -> Result<(), StoreError> {
        let (a, b) = (Store::open_in_memory()?, Store::open_in_memory()?);
        assert_ne!(a.owner(), b.owner());
        assert!(a.owner().contains(&format!("/all/{}-", std::process::id())));
        let ranged = a.with_instance("0-1/4");
        assert!(ranged
            .owner()
            .contains(&format!("/0-1/4/{}-", std::process::id())));
        Ok(())
    }
}
