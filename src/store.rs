//! All SQL: one SQLite file (WAL), versioned migrations run at start-up, small typed functions.
//!
//! Opening refuses, without changing a byte, a file that is not SQLite and a database written by a newer version.
//! Every multi-step change is one transaction. Callers on the async runtime go through [`Store::call`], which runs
//! the blocking work on tokio's blocking pool, never on a worker thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use crate::daily::ShuffleBag;
use crate::favorite::Tally;

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n`.
const MIGRATIONS: &[&str] = &[
    // 1: favorite polls.
    "CREATE TABLE favorite_polls (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        guild_id INTEGER NOT NULL,
        channel_id INTEGER NOT NULL,
        message_id INTEGER,
        started_by INTEGER NOT NULL,
        locale TEXT NOT NULL,
        scene_ids TEXT NOT NULL,
        hours INTEGER NOT NULL,
        created_at INTEGER NOT NULL,
        ends_at INTEGER NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('posting', 'running', 'ended', 'announced', 'cancelled')),
        tally TEXT,
        result_message_id INTEGER,
        problem TEXT,
        finished_at INTEGER
    );
    CREATE UNIQUE INDEX favorite_polls_one_open ON favorite_polls (guild_id)
        WHERE state IN ('posting', 'running', 'ended');
    CREATE INDEX favorite_polls_by_guild ON favorite_polls (guild_id, state);",
    // 2: the daily scene.
    "CREATE TABLE daily_schedules (
        guild_id INTEGER PRIMARY KEY,
        channel_id INTEGER NOT NULL,
        time TEXT NOT NULL,
        timezone TEXT NOT NULL,
        role_id INTEGER,
        locale TEXT NOT NULL,
        enabled INTEGER NOT NULL DEFAULT 1,
        paused INTEGER NOT NULL DEFAULT 0,
        active_since INTEGER NOT NULL,
        failures INTEGER NOT NULL DEFAULT 0,
        last_error TEXT,
        last_post_at INTEGER,
        bag TEXT NOT NULL DEFAULT '{}'
    );
    CREATE TABLE daily_posts (
        guild_id INTEGER NOT NULL,
        local_date TEXT NOT NULL,
        state TEXT NOT NULL CHECK (state IN ('claimed', 'sent', 'failed', 'skipped')),
        scene_id TEXT,
        message_id INTEGER,
        claimed_at INTEGER NOT NULL,
        error TEXT,
        PRIMARY KEY (guild_id, local_date)
    );",
];

/// The schema version this build writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// How long a write waits for another connection's lock before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Why the store cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file exists but is not an SQLite database.
    #[error("{0} is not an SQLite database; it was left untouched (point SCENEBOT_DATABASE at another file)")]
    NotSqlite(PathBuf),
    /// The database was written by a newer scenebot.
    #[error("{path} has schema version {found}, newer than this build's {known}; it was left untouched (run the newer scenebot, or use another SCENEBOT_DATABASE)")]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// Another process holds the database locked.
    #[error("{0} is locked by another process (is another scenebot running on it?)")]
    Locked(PathBuf),
    /// Anything else SQLite reported.
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The blocking task failed.
    #[error("database task failed: {0}")]
    Task(String),
}

/// The database: one connection behind a mutex (writes are rare and small).
#[derive(Clone)]
pub struct Store {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store").field("path", &self.path).finish()
    }
}

impl Store {
    /// Opens (or creates) the database at `path` and migrates it.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let exists = path.exists();
        let flags = if exists {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let connection = Connection::open_with_flags(path, flags).map_err(|e| classify(e, path))?;
        Store::prepare(connection, path)
    }

    /// A fresh in-memory database with the real migrations, for tests.
    pub fn open_in_memory() -> Result<Store, StoreError> {
        Store::prepare(Connection::open_in_memory()?, Path::new(":memory:"))
    }

    fn prepare(mut connection: Connection, path: &Path) -> Result<Store, StoreError> {
        connection.busy_timeout(BUSY_TIMEOUT)?;
        // Read-only first: a foreign or newer file must not be touched.
        let version: i64 = connection
            .query_row("PRAGMA user_version", [], |row| row.get(0))
            .map_err(|e| classify(e, path))?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::NewerSchema {
                path: path.to_owned(),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        connection
            .pragma_update(None, "journal_mode", "WAL")
            .map_err(|e| classify(e, path))?;
        connection.pragma_update(None, "synchronous", "FULL")?;
        connection.pragma_update(None, "foreign_keys", "ON")?;
        for (index, migration) in MIGRATIONS
            .iter()
            .enumerate()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            let transaction = connection
                .transaction_with_behavior(TransactionBehavior::Exclusive)
                .map_err(|e| classify(e, path))?;
            transaction.execute_batch(migration)?;
            transaction.pragma_update(None, "user_version", index as i64 + 1)?;
            transaction.commit()?;
        }
        Ok(Store {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_owned(),
        })
    }

    /// Runs blocking store work off the async runtime's worker threads.
    pub async fn call<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(|e| StoreError::Task(e.to_string()))?
    }

    fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back): carry on.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// `PRAGMA integrity_check` says "ok".
    pub fn integrity_ok(&self) -> Result<bool, StoreError> {
        let result: String = self
            .lock()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        Ok(result == "ok")
    }

    /// The schema version of the open database.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        Ok(self
            .lock()
            .query_row("PRAGMA user_version", [], |row| row.get(0))?)
    }
}

/// Turns SQLite's codes for "not a database" and "locked" into clear errors.
fn classify(error: rusqlite::Error, path: &Path) -> StoreError {
    use rusqlite::ErrorCode;
    match error.sqlite_error_code() {
        Some(ErrorCode::NotADatabase) => StoreError::NotSqlite(path.to_owned()),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => {
            StoreError::Locked(path.to_owned())
        }
        _ => StoreError::Sqlite(error),
    }
}

/// Where a favorite poll is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PollState {
    /// Recorded; the poll message may or may not have reached Discord.
    Posting,
    /// The poll is open on Discord.
    Running,
    /// Results read and kept; the results message may or may not have been sent.
    Ended,
    /// The results message is sent and recorded.
    Announced,
    /// Given up (message deleted, channel gone, access lost); `problem` says why.
    Cancelled,
}

impl PollState {
    fn parse(text: &str) -> PollState {
        match text {
            "posting" => PollState::Posting,
            "running" => PollState::Running,
            "ended" => PollState::Ended,
            "announced" => PollState::Announced,
            _ => PollState::Cancelled,
        }
    }
}

/// One favorite poll as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollRecord {
    /// Our id (also in the message nonces).
    pub id: i64,
    /// The server.
    pub guild_id: u64,
    /// The channel of the poll and of its results.
    pub channel_id: u64,
    /// The poll message, once posted.
    pub message_id: Option<u64>,
    /// Who started it.
    pub started_by: u64,
    /// The server's language at start (`ko` or `en-US`).
    pub locale: String,
    /// Scene ids in answer order.
    pub scene_ids: Vec<String>,
    /// Length in hours.
    pub hours: u16,
    /// When it was started (unix seconds).
    pub created_at: i64,
    /// When it ends (unix seconds); moved to now by `/favorite end`.
    pub ends_at: i64,
    /// Its state.
    pub state: PollState,
    /// The final votes, once ended.
    pub tally: Option<Tally>,
    /// The results message, once announced.
    pub result_message_id: Option<u64>,
    /// Why it was cancelled.
    pub problem: Option<String>,
    /// When it was announced or cancelled.
    pub finished_at: Option<i64>,
}

/// A new poll to record.
#[derive(Debug, Clone)]
pub struct NewPoll {
    /// The server.
    pub guild_id: u64,
    /// The channel.
    pub channel_id: u64,
    /// Who started it.
    pub started_by: u64,
    /// The server's language.
    pub locale: String,
    /// Scene ids in answer order.
    pub scene_ids: Vec<String>,
    /// Length in hours.
    pub hours: u16,
    /// Now (unix seconds).
    pub now: i64,
}

/// Snowflakes are below 2^63, so they fit SQLite's signed integers unchanged.
fn to_sql(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

fn from_sql(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

const POLL_COLUMNS: &str =
    "id, guild_id, channel_id, message_id, started_by, locale, scene_ids, hours, created_at, \
    ends_at, state, tally, result_message_id, problem, finished_at";

/// The server's open poll (posting, running or ended), read on `connection` (a transaction derefs to one).
fn open_poll_in(connection: &Connection, guild_id: u64) -> rusqlite::Result<Option<PollRecord>> {
    connection
        .query_row(
            &format!(
                "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE guild_id = ?1 \
                 AND state IN ('posting', 'running', 'ended')"
            ),
            params![to_sql(guild_id)],
            poll_from_row,
        )
        .optional()
}

fn poll_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<PollRecord> {
    let scene_ids: String = row.get(6)?;
    let tally: Option<String> = row.get(11)?;
    Ok(PollRecord {
        id: row.get(0)?,
        guild_id: from_sql(row.get(1)?),
        channel_id: from_sql(row.get(2)?),
        message_id: row.get::<_, Option<i64>>(3)?.map(from_sql),
        started_by: from_sql(row.get(4)?),
        locale: row.get(5)?,
        scene_ids: serde_json::from_str(&scene_ids).unwrap_or_default(),
        hours: row.get(7)?,
        created_at: row.get(8)?,
        ends_at: row.get(9)?,
        state: PollState::parse(&row.get::<_, String>(10)?),
        tally: tally.and_then(|t| serde_json::from_str(&t).ok()),
        result_message_id: row.get::<_, Option<i64>>(12)?.map(from_sql),
        problem: row.get(13)?,
        finished_at: row.get(14)?,
    })
}

impl Store {
    /// Records a new poll in state `posting`, unless the server already has an open one: then that one is returned
    /// as `Err` (the unique index makes this safe against two moderators at once).
    pub fn insert_poll(
        &self,
        poll: &NewPoll,
    ) -> Result<Result<PollRecord, PollRecord>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let open = open_poll_in(&transaction, poll.guild_id)?;
        if let Some(open) = open {
            return Ok(Err(open));
        }
        let scene_ids = serde_json::to_string(&poll.scene_ids).unwrap_or_else(|_| "[]".to_owned());
        transaction.execute(
            "INSERT INTO favorite_polls (guild_id, channel_id, started_by, locale, scene_ids, hours, created_at, \
             ends_at, state) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'posting')",
            params![
                to_sql(poll.guild_id),
                to_sql(poll.channel_id),
                to_sql(poll.started_by),
                poll.locale,
                scene_ids,
                poll.hours,
                poll.now,
                poll.now + i64::from(poll.hours) * 3600,
            ],
        )?;
        let id = transaction.last_insert_rowid();
        let record = transaction.query_row(
            &format!("SELECT {POLL_COLUMNS} FROM favorite_polls WHERE id = ?1"),
            params![id],
            poll_from_row,
        )?;
        transaction.commit()?;
        Ok(Ok(record))
    }

    /// The poll was posted: its message and its end time (Discord's own expiry).
    pub fn mark_poll_running(
        &self,
        id: i64,
        message_id: u64,
        ends_at: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET message_id = ?2, ends_at = ?3, state = 'running' \
             WHERE id = ?1 AND state = 'posting'",
            params![id, to_sql(message_id), ends_at],
        )?;
        Ok(())
    }

    /// `/favorite end`: the poll ends now (kept before calling Discord, so a crash cannot push the end back).
    pub fn end_poll_early(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET ends_at = MIN(ends_at, ?2) WHERE id = ?1 AND state = 'running'",
            params![id, now],
        )?;
        Ok(())
    }

    /// The final votes are read: state `ended`.
    pub fn mark_poll_ended(&self, id: i64, tally: &Tally) -> Result<(), StoreError> {
        let tally = serde_json::to_string(tally).unwrap_or_default();
        self.lock().execute(
            "UPDATE favorite_polls SET tally = ?2, state = 'ended' WHERE id = ?1 AND state = 'running'",
            params![id, tally],
        )?;
        Ok(())
    }

    /// The results message is sent: state `announced`.
    pub fn mark_poll_announced(
        &self,
        id: i64,
        result_message_id: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET result_message_id = ?2, state = 'announced', finished_at = ?3 \
             WHERE id = ?1 AND state = 'ended'",
            params![id, to_sql(result_message_id), now],
        )?;
        Ok(())
    }

    /// Gives a poll up, keeping why.
    pub fn cancel_poll(&self, id: i64, problem: &str, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET state = 'cancelled', problem = ?2, finished_at = ?3 \
             WHERE id = ?1 AND state IN ('posting', 'running', 'ended')",
            params![id, problem, now],
        )?;
        Ok(())
    }

    /// One poll.
    pub fn poll(&self, id: i64) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {POLL_COLUMNS} FROM favorite_polls WHERE id = ?1"),
                params![id],
                poll_from_row,
            )
            .optional()?)
    }

    /// The server's open poll (posting, running or ended), if any.
    pub fn open_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        Ok(open_poll_in(&self.lock(), guild_id)?)
    }

    /// Every open poll of every server: what start-up resumes and the timer watches.
    pub fn open_polls(&self) -> Result<Vec<PollRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE state IN ('posting', 'running', 'ended') ORDER BY ends_at"
        ))?;
        let polls = statement
            .query_map([], poll_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(polls)
    }

    /// The server's most recently finished poll (announced or cancelled).
    pub fn last_finished_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!(
                    "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE guild_id = ?1 \
                     AND state IN ('announced', 'cancelled') ORDER BY finished_at DESC, id DESC LIMIT 1"
                ),
                params![to_sql(guild_id)],
                poll_from_row,
            )
            .optional()?)
    }

    /// Tallies of every announced poll in the server, oldest first: the hall of fame's input.
    pub fn announced_tallies(&self, guild_id: u64) -> Result<Vec<Tally>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT tally FROM favorite_polls WHERE guild_id = ?1 AND state = 'announced' AND tally IS NOT NULL \
             ORDER BY id",
        )?;
        let tallies = statement
            .query_map(params![to_sql(guild_id)], |row| row.get::<_, String>(0))?
            .filter_map(|text| text.ok().and_then(|t| serde_json::from_str(&t).ok()))
            .collect();
        Ok(tallies)
    }
}

/// A server's daily-scene settings and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRecord {
    /// The server.
    pub guild_id: u64,
    /// Where to post.
    pub channel_id: u64,
    /// Local time, `HH:MM`.
    pub time: String,
    /// IANA zone name.
    pub timezone: String,
    /// A role to mention, if any.
    pub role_id: Option<u64>,
    /// The server's language.
    pub locale: String,
    /// `/daily off` turns this off; the settings stay.
    pub enabled: bool,
    /// Paused after repeated failures; `/daily set` resumes.
    pub paused: bool,
    /// When it was set or resumed: posts before this are not owed.
    pub active_since: i64,
    /// Failed days in a row.
    pub failures: u32,
    /// The last failure, kept for `/daily status`.
    pub last_error: Option<String>,
    /// When the last post went out.
    pub last_post_at: Option<i64>,
    /// The shuffle bag.
    pub bag: ShuffleBag,
}

/// A daily post's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPost {
    /// `claimed`, `sent`, `failed` or `skipped`.
    pub state: String,
    /// The scene drawn for it.
    pub scene_id: Option<String>,
    /// The message, once sent.
    pub message_id: Option<u64>,
    /// When it was claimed.
    pub claimed_at: i64,
}

/// New daily settings.
#[derive(Debug, Clone)]
pub struct DailySettings {
    /// The server.
    pub guild_id: u64,
    /// Where to post.
    pub channel_id: u64,
    /// Local time, `HH:MM`.
    pub time: String,
    /// IANA zone name.
    pub timezone: String,
    /// A role to mention.
    pub role_id: Option<u64>,
    /// The server's language.
    pub locale: String,
}

const DAILY_COLUMNS: &str =
    "guild_id, channel_id, time, timezone, role_id, locale, enabled, paused, active_since, \
    failures, last_error, last_post_at, bag";

fn daily_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DailyRecord> {
    let bag: String = row.get(12)?;
    Ok(DailyRecord {
        guild_id: from_sql(row.get(0)?),
        channel_id: from_sql(row.get(1)?),
        time: row.get(2)?,
        timezone: row.get(3)?,
        role_id: row.get::<_, Option<i64>>(4)?.map(from_sql),
        locale: row.get(5)?,
        enabled: row.get(6)?,
        paused: row.get(7)?,
        active_since: row.get(8)?,
        failures: row.get(9)?,
        last_error: row.get(10)?,
        last_post_at: row.get(11)?,
        bag: serde_json::from_str(&bag).unwrap_or_default(),
    })
}

/// A server's shuffle bag, inside a transaction (an empty bag when the server has none yet).
fn read_bag(
    transaction: &rusqlite::Transaction<'_>,
    guild_id: u64,
) -> rusqlite::Result<ShuffleBag> {
    let bag: Option<String> = transaction
        .query_row(
            "SELECT bag FROM daily_schedules WHERE guild_id = ?1",
            params![to_sql(guild_id)],
            |row| row.get(0),
        )
        .optional()?;
    Ok(bag
        .and_then(|b| serde_json::from_str(&b).ok())
        .unwrap_or_default())
}

/// Saves a server's shuffle bag, inside a transaction.
fn write_bag(
    transaction: &rusqlite::Transaction<'_>,
    guild_id: u64,
    bag: &ShuffleBag,
) -> rusqlite::Result<()> {
    transaction.execute(
        "UPDATE daily_schedules SET bag = ?2 WHERE guild_id = ?1",
        params![
            to_sql(guild_id),
            serde_json::to_string(bag).unwrap_or_else(|_| "{}".to_owned())
        ],
    )?;
    Ok(())
}

/// The result of claiming a day's post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Newly claimed with this scene: send it.
    New(String),
    /// Claimed before and not sent (a crash or a transient failure): send this scene again, same nonce.
    Unsent(String),
    /// Already sent, failed or skipped: nothing to do.
    Done,
    /// No scene to post (an empty catalog).
    Nothing,
}

impl Store {
    /// `/daily set`: saves the settings, turns the schedule on and un-pauses it (the bag is kept).
    pub fn set_daily(&self, settings: &DailySettings, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO daily_schedules (guild_id, channel_id, time, timezone, role_id, locale, active_since) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) \
             ON CONFLICT (guild_id) DO UPDATE SET channel_id = ?2, time = ?3, timezone = ?4, role_id = ?5, \
             locale = ?6, active_since = ?7, enabled = 1, paused = 0, failures = 0, last_error = NULL",
            params![
                to_sql(settings.guild_id),
                to_sql(settings.channel_id),
                settings.time,
                settings.timezone,
                settings.role_id.map(to_sql),
                settings.locale,
                now
            ],
        )?;
        Ok(())
    }

    /// `/daily off`: stops posting; the settings and the bag stay for a later `/daily set`.
    pub fn daily_off(&self, guild_id: u64) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE daily_schedules SET enabled = 0 WHERE guild_id = ?1 AND enabled = 1",
            params![to_sql(guild_id)],
        )?;
        Ok(changed > 0)
    }

    /// One server's daily settings.
    pub fn daily(&self, guild_id: u64) -> Result<Option<DailyRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE guild_id = ?1"),
                params![to_sql(guild_id)],
                daily_from_row,
            )
            .optional()?)
    }

    /// Every schedule that is on and not paused.
    pub fn active_dailies(&self) -> Result<Vec<DailyRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE enabled = 1 AND paused = 0 ORDER BY guild_id"
        ))?;
        let records = statement
            .query_map([], daily_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(records)
    }

    /// The record of a server's post for a local date.
    pub fn daily_post(
        &self,
        guild_id: u64,
        local_date: &str,
    ) -> Result<Option<DailyPost>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT state, scene_id, message_id, claimed_at FROM daily_posts WHERE guild_id = ?1 AND local_date = ?2",
                params![to_sql(guild_id), local_date],
                |row| {
                    Ok(DailyPost {
                        state: row.get(0)?,
                        scene_id: row.get(1)?,
                        message_id: row.get::<_, Option<i64>>(2)?.map(from_sql),
                        claimed_at: row.get(3)?,
                    })
                },
            )
            .optional()?)
    }

    /// Claims a server's post for `local_date` before sending, in one transaction with the draw from the bag, so
    /// a restart can never post twice for one date. `draw` picks the scene from the bag (and updates it).
    pub fn claim_daily(
        &self,
        guild_id: u64,
        local_date: &str,
        now: i64,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<String>,
    ) -> Result<Claim, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let existing: Option<(String, Option<String>)> = transaction
            .query_row(
                "SELECT state, scene_id FROM daily_posts WHERE guild_id = ?1 AND local_date = ?2",
                params![to_sql(guild_id), local_date],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        if let Some((state, scene)) = existing {
            return Ok(match (state.as_str(), scene) {
                ("claimed", Some(scene)) => Claim::Unsent(scene),
                _ => Claim::Done,
            });
        }
        let mut bag = read_bag(&transaction, guild_id)?;
        let Some(scene) = draw(&mut bag) else {
            return Ok(Claim::Nothing);
        };
        transaction.execute(
            "INSERT INTO daily_posts (guild_id, local_date, state, scene_id, claimed_at) VALUES (?1, ?2, 'claimed', ?3, ?4)",
            params![to_sql(guild_id), local_date, scene, now],
        )?;
        write_bag(&transaction, guild_id, &bag)?;
        transaction.commit()?;
        Ok(Claim::New(scene))
    }

    /// Draws the next scene for `/daily now` (not tied to a date), updating the bag.
    pub fn draw_daily(
        &self,
        guild_id: u64,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut bag = read_bag(&transaction, guild_id)?;
        let scene = draw(&mut bag);
        write_bag(&transaction, guild_id, &bag)?;
        transaction.commit()?;
        Ok(scene)
    }

    /// A post went out: record it and clear the failure streak.
    pub fn mark_daily_sent(
        &self,
        guild_id: u64,
        local_date: Option<&str>,
        message_id: u64,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        if let Some(local_date) = local_date {
            transaction.execute(
                "UPDATE daily_posts SET state = 'sent', message_id = ?3, error = NULL \
                 WHERE guild_id = ?1 AND local_date = ?2",
                params![to_sql(guild_id), local_date, to_sql(message_id)],
            )?;
        }
        transaction.execute(
            "UPDATE daily_schedules SET failures = 0, last_error = NULL, last_post_at = ?2 WHERE guild_id = ?1",
            params![to_sql(guild_id), now],
        )?;
        transaction.commit()?;
        Ok(())
    }

    /// A day's post failed for good: keep why; after `pause_after` failed days in a row, pause. Returns whether it
    /// paused.
    pub fn mark_daily_failed(
        &self,
        guild_id: u64,
        local_date: &str,
        error: &str,
        pause_after: u32,
    ) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction()?;
        transaction.execute(
            "UPDATE daily_posts SET state = 'failed', error = ?3 WHERE guild_id = ?1 AND local_date = ?2",
            params![to_sql(guild_id), local_date, error],
        )?;
        transaction.execute(
            "UPDATE daily_schedules SET failures = failures + 1, last_error = ?2, \
             paused = CASE WHEN failures + 1 >= ?3 THEN 1 ELSE paused END WHERE guild_id = ?1",
            params![to_sql(guild_id), error, pause_after],
        )?;
        let paused: bool = transaction.query_row(
            "SELECT paused FROM daily_schedules WHERE guild_id = ?1",
            params![to_sql(guild_id)],
            |row| row.get(0),
        )?;
        transaction.commit()?;
        Ok(paused)
    }

    /// A day's post was missed by too much (downtime): record it skipped so it is not tried again.
    pub fn mark_daily_skipped(
        &self,
        guild_id: u64,
        local_date: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT OR IGNORE INTO daily_posts (guild_id, local_date, state, claimed_at) VALUES (?1, ?2, 'skipped', ?3)",
            params![to_sql(guild_id), local_date, now],
        )?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new_poll(guild_id: u64) -> NewPoll {
        NewPoll {
            guild_id,
            channel_id: 2,
            started_by: 3,
            locale: "en-US".into(),
            scene_ids: vec!["a".into(), "b".into()],
            hours: 24,
            now: 1_000,
        }
    }

    fn store() -> Store {
        Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn migrations_bring_a_new_database_to_the_current_version() {
        let store = store();
        assert_eq!(store.schema_version().ok(), Some(SCHEMA_VERSION));
        assert_eq!(store.integrity_ok().ok(), Some(true));
    }

    #[test]
    fn a_poll_goes_through_its_states_once() -> Result<(), StoreError> {
        let store = store();
        let Ok(poll) = store.insert_poll(&new_poll(1))? else {
            panic!("no open poll yet");
        };
        assert_eq!(poll.state, PollState::Posting);
        assert_eq!(poll.ends_at, 1_000 + 24 * 3600);
        store.mark_poll_running(poll.id, 77, 5_000)?;
        store.mark_poll_running(poll.id, 78, 6_000)?; // a second call changes nothing
        let running = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
        assert_eq!(
            (running.state, running.message_id, running.ends_at),
            (PollState::Running, Some(77), 5_000)
        );
        store.end_poll_early(poll.id, 2_000)?;
        assert_eq!(store.poll(poll.id)?.map(|p| p.ends_at), Some(2_000));
        let tally = Tally {
            votes: vec![("a".into(), 2), ("b".into(), 1)],
        };
        store.mark_poll_ended(poll.id, &tally)?;
        store.mark_poll_announced(poll.id, 99, 3_000)?;
        store.cancel_poll(poll.id, "too late", 4_000)?; // announced polls stay announced
        let done = store.poll(poll.id)?.unwrap_or_else(|| panic!("poll"));
        assert_eq!(done.state, PollState::Announced);
        assert_eq!(done.result_message_id, Some(99));
        assert_eq!(done.tally, Some(tally.clone()));
        assert_eq!(store.announced_tallies(1)?, vec![tally]);
        assert_eq!(store.last_finished_poll(1)?.map(|p| p.id), Some(poll.id));
        Ok(())
    }

    #[test]
    fn one_open_poll_per_server() -> Result<(), StoreError> {
        let store = store();
        let first = store.insert_poll(&new_poll(1))?;
        assert!(first.is_ok());
        let second = store.insert_poll(&new_poll(1))?;
        assert_eq!(second.err().map(|p| p.guild_id), Some(1));
        assert!(
            store.insert_poll(&new_poll(2))?.is_ok(),
            "another server is independent"
        );
        let Ok(first) = first else { panic!() };
        store.cancel_poll(first.id, "channel deleted", 10)?;
        assert!(
            store.insert_poll(&new_poll(1))?.is_ok(),
            "a finished poll frees the server"
        );
        assert_eq!(
            store.last_finished_poll(1)?.and_then(|p| p.problem),
            Some("channel deleted".to_owned())
        );
        Ok(())
    }

    fn settings(guild_id: u64) -> DailySettings {
        DailySettings {
            guild_id,
            channel_id: 5,
            time: "09:00".into(),
            timezone: "Asia/Seoul".into(),
            role_id: None,
            locale: "ko".into(),
        }
    }

    #[test]
    fn a_day_is_claimed_once_and_sent_once() -> Result<(), StoreError> {
        let store = store();
        store.set_daily(&settings(1), 100)?;
        let first = store.claim_daily(1, "2027-05-02", 200, |bag| {
            bag.last = Some("x".into());
            Some("x".into())
        })?;
        assert_eq!(first, Claim::New("x".into()));
        assert_eq!(
            store.daily(1)?.and_then(|d| d.bag.last),
            Some("x".into()),
            "the bag moves with the claim"
        );
        let again = store.claim_daily(1, "2027-05-02", 300, |_| Some("y".into()))?;
        assert_eq!(
            again,
            Claim::Unsent("x".into()),
            "a claimed, unsent day resends the same scene"
        );
        store.mark_daily_sent(1, Some("2027-05-02"), 42, 301)?;
        assert_eq!(
            store.claim_daily(1, "2027-05-02", 400, |_| Some("z".into()))?,
            Claim::Done
        );
        let post = store
            .daily_post(1, "2027-05-02")?
            .unwrap_or_else(|| panic!("post"));
        assert_eq!((post.state.as_str(), post.message_id), ("sent", Some(42)));
        assert_eq!(store.daily(1)?.and_then(|d| d.last_post_at), Some(301));
        Ok(())
    }

    #[test]
    fn three_failed_days_pause_and_set_resumes() -> Result<(), StoreError> {
        let store = store();
        store.set_daily(&settings(1), 100)?;
        for (day, expect_paused) in [
            ("2027-05-01", false),
            ("2027-05-02", false),
            ("2027-05-03", true),
        ] {
            store.claim_daily(1, day, 0, |_| Some("x".into()))?;
            assert_eq!(
                store.mark_daily_failed(1, day, "Unknown Channel", 3)?,
                expect_paused,
                "{day}"
            );
        }
        let paused = store.daily(1)?.unwrap_or_else(|| panic!("daily"));
        assert!(paused.paused);
        assert_eq!(paused.last_error.as_deref(), Some("Unknown Channel"));
        assert!(store.active_dailies()?.is_empty());
        store.set_daily(&settings(1), 500)?;
        let resumed = store.daily(1)?.unwrap_or_else(|| panic!("daily"));
        assert!(!resumed.paused && resumed.failures == 0 && resumed.last_error.is_none());
        assert_eq!(resumed.active_since, 500);
        assert!(store.daily_off(1)?);
        assert!(store.active_dailies()?.is_empty());
        assert!(store.daily(1)?.is_some(), "off keeps the settings");
        Ok(())
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_and_untouched() {
        let dir = std::env::temp_dir().join(format!("scenebot-store-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("notes.sqlite3");
        let contents = b"these are my notes, not a database; please keep them safe. ".repeat(100);
        let _ = std::fs::write(&path, &contents);
        let error = Store::open(&path).err();
        assert!(matches!(error, Some(StoreError::NotSqlite(_))), "{error:?}");
        assert_eq!(std::fs::read(&path).ok(), Some(contents));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_newer_schema_is_refused_and_untouched() {
        let dir = std::env::temp_dir().join(format!("scenebot-store-newer-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("future.sqlite3");
        {
            let connection = Connection::open(&path).unwrap_or_else(|e| panic!("{e}"));
            let _ = connection.pragma_update(None, "user_version", SCHEMA_VERSION + 1);
        }
        let before = std::fs::read(&path).ok();
        let error = Store::open(&path).err();
        assert!(
            matches!(error, Some(StoreError::NewerSchema { .. })),
            "{error:?}"
        );
        assert_eq!(std::fs::read(&path).ok(), before);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
