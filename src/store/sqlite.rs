//! The SQLite backend: one file (WAL), one connection behind a mutex (writes are rare and small); an immediate
//! transaction is the single writer, which is what makes a claim safe.
//!
//! Opening refuses, without changing a byte, a file that is not SQLite and a database written by a newer version.
//! It also refuses a database another process has open: two bots on one file would both take the same owner
//! family and trust each other's claims, so the store holds an exclusive lock on `<database>.lock` for its life.
//!
//! Longer than 600 lines for the same reason as `postgres.rs`: every method of the contract, in this dialect.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::Duration;

use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::{
    bag_text, decode, existing_claim, from_sql, lost_unless_done, read_bag_text, to_sql, Claim,
    DailyPost, DailyPostState, DailyRow, ExistingClaim, Lease, NewPoll, Pick, PlannedRow,
    PlannedRows, PollRecord, PollRow, SettingsText, StoreError, DAILY_COLUMNS, HELD_MESSAGES_LIMIT,
    POLL_COLUMNS, POST_COLUMNS, SCHEMA_VERSION,
};
use crate::daily::ShuffleBag;
use crate::favorite::Tally;
use crate::locale::Occasion;
use crate::reason::ThreadNote;

/// The migrations, in order; migration `n` (1-based) brings the schema to version `n` (`PRAGMA user_version`).
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/sqlite/0001.sql"),
    include_str!("migrations/sqlite/0002.sql"),
    include_str!("migrations/sqlite/0003.sql"),
    include_str!("migrations/sqlite/0004.sql"),
    include_str!("migrations/sqlite/0005.sql"),
    include_str!("migrations/sqlite/0006.sql"),
    include_str!("migrations/sqlite/0007.sql"),
    include_str!("migrations/sqlite/0008.sql"),
    include_str!("migrations/sqlite/0009.sql"),
];

/// How long a write waits for another connection's lock before giving up, until the store sets its own timeout.
const BUSY_TIMEOUT: Duration = super::DEFAULT_TIMEOUT;

/// The SQLite database.
#[derive(Clone)]
pub(super) struct Sqlite {
    connection: Arc<Mutex<Connection>>,
    path: PathBuf,
    /// The lock beside the file, held while any store of this process has it open (`None` in memory).
    _lock: Option<Arc<FileLock>>,
}

/// An exclusive lock on `<database>.lock` (the kernel frees it when the process ends, however it ends), shared by
/// every store of this process on that database.
struct FileLock {
    _file: File,
}

/// Takes the lock beside `database`, or shares the one this process holds already (a test opens several stores
/// on one file; a process never refuses itself). Another process holding it is [`StoreError::Locked`].
fn lock_beside(database: &Path) -> Result<Arc<FileLock>, StoreError> {
    static HELD: Mutex<Vec<(PathBuf, Weak<FileLock>)>> = Mutex::new(Vec::new());
    let mut name = database.as_os_str().to_owned();
    name.push(".lock");
    let lock_path = PathBuf::from(name);
    // One key per file however it is spelled: the canonical directory (the database itself may not exist yet).
    let directory = match database.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let key = std::fs::canonicalize(directory)
        .map(|dir| dir.join(lock_path.file_name().unwrap_or_default()))
        .unwrap_or_else(|_| lock_path.clone());
    let mut held = HELD.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    held.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = held
        .iter()
        .find(|(path, _)| *path == key)
        .and_then(|(_, lock)| lock.upgrade())
    {
        return Ok(lock);
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|error| StoreError::File(lock_path.clone(), error))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(StoreError::Locked(lock_path)),
        Err(TryLockError::Error(error)) => return Err(StoreError::File(lock_path, error)),
    }
    let lock = Arc::new(FileLock { _file: file });
    held.push((key, Arc::downgrade(&lock)));
    Ok(lock)
}

impl Sqlite {
    /// Opens (or creates) the database at `path` and migrates it.
    pub(super) fn open(path: &Path) -> Result<Sqlite, StoreError> {
        // Before the first read: two processes starting together must not both migrate.
        let lock = lock_beside(path)?;
        let exists = path.exists();
        let flags = if exists {
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX
        } else {
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX
        };
        let connection = Connection::open_with_flags(path, flags).map_err(|e| classify(e, path))?;
        Sqlite::prepare(connection, path, Some(lock))
    }

    /// A fresh in-memory database with the real migrations.
    pub(super) fn open_in_memory() -> Result<Sqlite, StoreError> {
        Sqlite::prepare(Connection::open_in_memory()?, Path::new(":memory:"), None)
    }

    fn prepare(
        mut connection: Connection,
        path: &Path,
        lock: Option<Arc<FileLock>>,
    ) -> Result<Sqlite, StoreError> {
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
        Ok(Sqlite {
            connection: Arc::new(Mutex::new(connection)),
            path: path.to_owned(),
            _lock: lock,
        })
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// A lock wait (another connection writing) is the one thing that can make SQLite slow: bound it by the store
    /// timeout.
    pub(super) fn set_timeout(&self, timeout: Duration) {
        if let Err(error) = self.lock().busy_timeout(timeout) {
            tracing::warn!("cannot set SQLite's busy timeout: {error}");
        }
    }

    pub(super) fn lock(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite half-written (transactions roll back): carry on.
        self.connection
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(super) fn integrity_ok(&self) -> Result<bool, StoreError> {
        let result: String = self
            .lock()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))?;
        Ok(result == "ok")
    }

    pub(super) fn schema_version(&self) -> Result<i64, StoreError> {
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
    Ok(PollRow {
        id: row.get(0)?,
        guild_id: row.get(1)?,
        channel_id: row.get(2)?,
        message_id: row.get(3)?,
        started_by: row.get(4)?,
        locale: row.get(5)?,
        scene_ids: row.get(6)?,
        hours: row.get(7)?,
        created_at: row.get(8)?,
        ends_at: row.get(9)?,
        state: row.get(10)?,
        tally: row.get(11)?,
        result_message_id: row.get(12)?,
        problem: row.get(13)?,
        finished_at: row.get(14)?,
        answer_ids: row.get(15)?,
        results_attempt_at: row.get(16)?,
        thread: row.get(17)?,
        thread_state: row.get(18)?,
    }
    .into_record())
}

/// A post's [`POST_COLUMNS`], read from column `at` on.
fn post_from_row(row: &rusqlite::Row<'_>, at: usize) -> rusqlite::Result<DailyPost> {
    Ok(DailyPost {
        state: DailyPostState::parse(&row.get::<_, String>(at)?),
        scene_id: row.get(at + 1)?,
        message_id: row.get::<_, Option<i64>>(at + 2)?.map(from_sql),
        claimed_at: row.get(at + 3)?,
        special: row
            .get::<_, Option<String>>(at + 4)?
            .as_deref()
            .and_then(Occasion::parse),
        thread: row
            .get::<_, Option<String>>(at + 5)?
            .as_deref()
            .map(ThreadNote::parse),
    })
}

fn daily_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<DailyRow> {
    Ok(DailyRow {
        guild_id: row.get(0)?,
        channel_id: row.get(1)?,
        time: row.get(2)?,
        timezone: row.get(3)?,
        role_id: row.get(4)?,
        locale: row.get(5)?,
        enabled: row.get(6)?,
        paused: row.get(7)?,
        active_since: row.get(8)?,
        failures: row.get(9)?,
        last_error: row.get(10)?,
        last_post_at: row.get(11)?,
        bag: row.get(12)?,
        thread: row.get(13)?,
        thread_problem: row.get(14)?,
    })
}

impl Sqlite {
    pub(super) fn insert_poll(
        &self,
        poll: &NewPoll,
        owner: &str,
        lease_until: i64,
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
             ends_at, state, lease_owner, lease_until, thread) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 'posting', ?9, ?10, ?11)",
            params![
                to_sql(poll.guild_id),
                to_sql(poll.channel_id),
                to_sql(poll.started_by),
                poll.locale.code(),
                scene_ids,
                poll.hours,
                poll.now,
                poll.now + i64::from(poll.hours) * 3600,
                owner,
                lease_until,
                poll.thread,
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

    pub(super) fn claim_poll(&self, id: i64, lease: &Lease<'_>) -> Result<bool, StoreError> {
        // One statement: SQLite's single writer makes the check and the take one step.
        let changed = self.lock().execute(
            "UPDATE favorite_polls SET lease_owner = ?2, lease_until = ?3 WHERE id = ?1 \
             AND (lease_owner IS NULL OR substr(lease_owner, 1, length(?5)) = ?5 \
             OR lease_until IS NULL OR lease_until <= ?4)",
            params![id, lease.owner, lease.until, lease.now, lease.family],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn release_poll(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET lease_owner = NULL, lease_until = NULL WHERE id = ?1 AND lease_owner = ?2",
            params![id, owner],
        )?;
        Ok(())
    }

    pub(super) fn renew_poll(&self, id: i64, owner: &str, until: i64) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE favorite_polls SET lease_until = ?3 WHERE id = ?1 AND lease_owner = ?2 \
             AND state IN ('posting', 'running', 'ended')",
            params![id, owner, until],
        )?;
        Ok(changed > 0)
    }

    /// Runs an owner-checked poll write; when it changed nothing, tells a lost claim from a step already taken.
    fn poll_write(
        &self,
        id: i64,
        owner: &str,
        expected: &[&str],
        sql: &str,
        params: &[&dyn rusqlite::ToSql],
    ) -> Result<(), StoreError> {
        let connection = self.lock();
        if connection.execute(sql, params)? > 0 {
            return Ok(());
        }
        let row: Option<(String, Option<String>)> = connection
            .query_row(
                "SELECT state, lease_owner FROM favorite_polls WHERE id = ?1",
                params![id],
                |row| Ok((row.get(0)?, row.get(1)?)),
            )
            .optional()?;
        lost_unless_done(row, expected, owner)
    }

    pub(super) fn mark_poll_running(
        &self,
        id: i64,
        message_id: u64,
        ends_at: i64,
        answer_ids: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["posting"],
            "UPDATE favorite_polls SET message_id = ?2, ends_at = ?3, answer_ids = ?4, state = 'running' \
             WHERE id = ?1 AND state = 'posting' AND lease_owner = ?5",
            params![id, to_sql(message_id), ends_at, answer_ids, owner],
        )
    }

    pub(super) fn end_poll_early(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET ends_at = MIN(ends_at, ?2) WHERE id = ?1 AND state = 'running'",
            params![id, now],
        )?;
        Ok(())
    }

    pub(super) fn mark_poll_ended(
        &self,
        id: i64,
        tally: &str,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["running"],
            "UPDATE favorite_polls SET tally = ?2, state = 'ended' WHERE id = ?1 AND state = 'running' \
             AND lease_owner = ?3",
            params![id, tally, owner],
        )
    }

    pub(super) fn mark_results_attempt(
        &self,
        id: i64,
        now: i64,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["ended"],
            "UPDATE favorite_polls SET results_attempt_at = ?2 WHERE id = ?1 AND state = 'ended' \
             AND lease_owner = ?3",
            params![id, now, owner],
        )
    }

    pub(super) fn mark_poll_announced(
        &self,
        id: i64,
        result_message_id: u64,
        now: i64,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["ended"],
            "UPDATE favorite_polls SET result_message_id = ?2, state = 'announced', finished_at = ?3 \
             WHERE id = ?1 AND state = 'ended' AND lease_owner = ?4",
            params![id, to_sql(result_message_id), now, owner],
        )
    }

    pub(super) fn mark_results_posted(
        &self,
        id: i64,
        result_message_id: u64,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["ended"],
            "UPDATE favorite_polls SET result_message_id = ?2 WHERE id = ?1 AND state = 'ended' \
             AND lease_owner = ?3",
            params![id, to_sql(result_message_id), owner],
        )
    }

    pub(super) fn mark_poll_thread(&self, id: i64, note: &str) -> Result<(), StoreError> {
        self.lock().execute(
            "UPDATE favorite_polls SET thread_state = ?2 WHERE id = ?1",
            params![id, note],
        )?;
        Ok(())
    }

    pub(super) fn cancel_poll(
        &self,
        id: i64,
        problem: &str,
        now: i64,
        owner: &str,
    ) -> Result<(), StoreError> {
        self.poll_write(
            id,
            owner,
            &["posting", "running", "ended"],
            "UPDATE favorite_polls SET state = 'cancelled', problem = ?2, finished_at = ?3 \
             WHERE id = ?1 AND state IN ('posting', 'running', 'ended') AND lease_owner = ?4",
            params![id, problem, now, owner],
        )
    }

    pub(super) fn poll(&self, id: i64) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {POLL_COLUMNS} FROM favorite_polls WHERE id = ?1"),
                params![id],
                poll_from_row,
            )
            .optional()?)
    }

    pub(super) fn open_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        Ok(open_poll_in(&self.lock(), guild_id)?)
    }

    pub(super) fn open_polls(&self) -> Result<Vec<PollRecord>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE state IN ('posting', 'running', 'ended') ORDER BY ends_at"
        ))?;
        let polls = statement
            .query_map([], poll_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(polls)
    }

    pub(super) fn poll_messages_held(
        &self,
        guild_id: u64,
        except: i64,
        since: i64,
    ) -> Result<Vec<u64>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT message_id FROM favorite_polls WHERE guild_id = ?1 AND id <> ?2 AND message_id IS NOT NULL \
             AND (finished_at IS NULL OR finished_at >= ?3) ORDER BY id DESC LIMIT ?4",
        )?;
        let ids = statement
            .query_map(
                params![to_sql(guild_id), except, since, HELD_MESSAGES_LIMIT],
                |row| row.get::<_, i64>(0),
            )?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ids.into_iter().map(from_sql).collect())
    }

    pub(super) fn last_finished_poll(
        &self,
        guild_id: u64,
    ) -> Result<Option<PollRecord>, StoreError> {
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

    pub(super) fn announced_tallies(&self, guild_id: u64) -> Result<Vec<Tally>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(
            "SELECT tally FROM favorite_polls WHERE guild_id = ?1 AND state = 'announced' AND tally IS NOT NULL \
             ORDER BY id",
        )?;
        let texts = statement
            .query_map(params![to_sql(guild_id)], |row| row.get::<_, String>(0))?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(texts
            .iter()
            .filter_map(|text| decode(text, "tally", to_sql(guild_id)))
            .collect())
    }

    pub(super) fn set_daily(&self, settings: &SettingsText, now: i64) -> Result<(), StoreError> {
        self.lock().execute(
            "INSERT INTO daily_schedules (guild_id, channel_id, time, timezone, role_id, locale, active_since, \
             thread) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) \
             ON CONFLICT (guild_id) DO UPDATE SET channel_id = ?2, time = ?3, timezone = ?4, role_id = ?5, \
             locale = ?6, active_since = ?7, enabled = 1, paused = 0, failures = 0, last_error = NULL, \
             thread = ?8, thread_problem = NULL",
            params![
                settings.guild_id,
                settings.channel_id,
                settings.time,
                settings.timezone,
                settings.role_id,
                settings.locale,
                now,
                settings.thread
            ],
        )?;
        Ok(())
    }

    pub(super) fn server_language(&self, guild_id: u64) -> Result<Option<String>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                "SELECT language FROM server_settings WHERE guild_id = ?1",
                params![to_sql(guild_id)],
                |row| row.get::<_, Option<String>>(0),
            )
            .optional()?
            .flatten())
    }

    pub(super) fn set_server_language(
        &self,
        guild_id: u64,
        language: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        transaction.execute(
            "INSERT INTO server_settings (guild_id, language, updated_at) VALUES (?1, ?2, ?3) \
             ON CONFLICT (guild_id) DO UPDATE SET language = excluded.language, updated_at = excluded.updated_at",
            params![to_sql(guild_id), language, now],
        )?;
        if let Some(language) = language {
            transaction.execute(
                "UPDATE daily_schedules SET locale = ?2 WHERE guild_id = ?1",
                params![to_sql(guild_id), language],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    pub(super) fn daily_off(&self, guild_id: u64) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE daily_schedules SET enabled = 0 WHERE guild_id = ?1 AND enabled = 1",
            params![to_sql(guild_id)],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn daily(&self, guild_id: u64) -> Result<Option<DailyRow>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE guild_id = ?1"),
                params![to_sql(guild_id)],
                daily_from_row,
            )
            .optional()?)
    }

    pub(super) fn active_dailies(&self) -> Result<Vec<DailyRow>, StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE enabled = 1 AND paused = 0 ORDER BY guild_id"
        ))?;
        let records = statement
            .query_map([], daily_from_row)?
            .collect::<Result<Vec<_>, _>>()?;
        Ok(records)
    }

    pub(super) fn plan_each_daily(
        &self,
        since: &str,
        visit: &mut dyn FnMut(PlannedRow),
    ) -> Result<(), StoreError> {
        let connection = self.lock();
        let mut statement = connection.prepare(&format!(
            "SELECT s.*, p.local_date, p.state, p.scene_id, p.message_id, p.claimed_at, p.special, p.thread FROM \
             (SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE enabled = 1 AND paused = 0) s \
             LEFT JOIN daily_posts p ON p.guild_id = s.guild_id AND p.local_date >= ?1 \
             ORDER BY s.guild_id, p.local_date"
        ))?;
        let rows = statement.query_map(params![since], |row| {
            let post = match row.get::<_, Option<String>>(15)? {
                Some(date) => Some((date, post_from_row(row, 16)?)),
                None => None,
            };
            Ok((daily_from_row(row)?, post))
        })?;
        let mut planned = PlannedRows::default();
        for row in rows {
            let (row, post) = row?;
            planned.push(row, post, visit);
        }
        planned.finish(visit);
        Ok(())
    }

    pub(super) fn daily_post(
        &self,
        guild_id: u64,
        local_date: &str,
    ) -> Result<Option<DailyPost>, StoreError> {
        Ok(self
            .lock()
            .query_row(
                &format!("SELECT {POST_COLUMNS} FROM daily_posts WHERE guild_id = ?1 AND local_date = ?2"),
                params![to_sql(guild_id), local_date],
                |row| post_from_row(row, 0),
            )
            .optional()?)
    }

    pub(super) fn claim_daily(
        &self,
        guild_id: u64,
        local_date: &str,
        lease: &Lease<'_>,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<Pick>,
    ) -> Result<Claim, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        type Existing = (
            String,
            (Option<String>, Option<String>),
            Option<String>,
            Option<i64>,
        );
        let existing: Option<Existing> = transaction
            .query_row(
                "SELECT state, scene_id, special, lease_owner, lease_until FROM daily_posts \
                 WHERE guild_id = ?1 AND local_date = ?2",
                params![to_sql(guild_id), local_date],
                |row| {
                    Ok((
                        row.get(0)?,
                        (row.get(1)?, row.get(2)?),
                        row.get(3)?,
                        row.get(4)?,
                    ))
                },
            )
            .optional()?;
        if let Some((state, pick, owner, until)) = existing {
            return Ok(
                match existing_claim(&state, pick, owner.as_deref(), until, lease) {
                    ExistingClaim::TakeOver(pick) => {
                        transaction.execute(
                            "UPDATE daily_posts SET lease_owner = ?3, lease_until = ?4 WHERE guild_id = ?1 AND local_date = ?2",
                            params![to_sql(guild_id), local_date, lease.owner, lease.until],
                        )?;
                        transaction.commit()?;
                        Claim::Unsent(pick)
                    }
                    ExistingClaim::Held => Claim::Held,
                    ExistingClaim::Done => Claim::Done,
                },
            );
        }
        let mut bag = read_bag(&transaction, guild_id)?;
        let Some(pick) = draw(&mut bag) else {
            return Ok(Claim::Nothing);
        };
        let (scene, special) = pick.columns();
        transaction.execute(
            "INSERT INTO daily_posts (guild_id, local_date, state, scene_id, special, claimed_at, lease_owner, \
             lease_until) VALUES (?1, ?2, 'claimed', ?3, ?4, ?5, ?6, ?7)",
            params![to_sql(guild_id), local_date, scene, special, lease.now, lease.owner, lease.until],
        )?;
        write_bag(&transaction, guild_id, &bag)?;
        transaction.commit()?;
        Ok(Claim::New(pick))
    }

    pub(super) fn draw_daily(
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

    pub(super) fn renew_daily(
        &self,
        guild_id: u64,
        local_date: &str,
        owner: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let changed = self.lock().execute(
            "UPDATE daily_posts SET lease_until = ?4 WHERE guild_id = ?1 AND local_date = ?2 \
             AND lease_owner = ?3 AND state = 'claimed'",
            params![to_sql(guild_id), local_date, owner, until],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn mark_daily_sent(
        &self,
        guild_id: u64,
        local_date: Option<&str>,
        message_id: u64,
        now: i64,
        owner: &str,
        thread: Option<&str>,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if let Some(local_date) = local_date {
            let changed = transaction.execute(
                "UPDATE daily_posts SET state = 'sent', message_id = ?3, error = NULL, lease_owner = NULL, \
                 lease_until = NULL, thread = ?5 WHERE guild_id = ?1 AND local_date = ?2 AND state = 'claimed' \
                 AND lease_owner = ?4",
                params![to_sql(guild_id), local_date, to_sql(message_id), owner, thread],
            )?;
            // Nothing changed: fine only when this very post was recorded before (a repeat); anything else means
            // another process holds or finished the day.
            if changed == 0 && !already_sent(&transaction, guild_id, local_date, message_id)? {
                return Err(StoreError::LeaseLost);
            }
        }
        transaction.execute(
            "UPDATE daily_schedules SET failures = 0, last_error = NULL, last_post_at = ?2 WHERE guild_id = ?1",
            params![to_sql(guild_id), now],
        )?;
        if let Some(thread) = thread {
            // Why the last thread was skipped, for /daily status; an opened one clears it.
            transaction.execute(
                "UPDATE daily_schedules SET thread_problem = NULLIF(?2, 'opened') WHERE guild_id = ?1",
                params![to_sql(guild_id), thread],
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    pub(super) fn mark_daily_posted(
        &self,
        guild_id: u64,
        local_date: &str,
        message_id: u64,
        owner: &str,
    ) -> Result<(), StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = transaction.execute(
            "UPDATE daily_posts SET message_id = ?3 WHERE guild_id = ?1 AND local_date = ?2 \
             AND state = 'claimed' AND lease_owner = ?4",
            params![to_sql(guild_id), local_date, to_sql(message_id), owner],
        )?;
        if changed == 0 {
            lost_unless_done(
                post_owner(&transaction, guild_id, local_date)?,
                &["claimed"],
                owner,
            )?;
        }
        transaction.commit()?;
        Ok(())
    }

    pub(super) fn mark_daily_failed(
        &self,
        guild_id: u64,
        local_date: &str,
        error: &str,
        pause_after: u32,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let mut connection = self.lock();
        let transaction = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let failed_now = transaction.execute(
            "UPDATE daily_posts SET state = 'failed', error = ?3, lease_owner = NULL, lease_until = NULL \
             WHERE guild_id = ?1 AND local_date = ?2 AND state = 'claimed' AND lease_owner = ?4",
            params![to_sql(guild_id), local_date, error, owner],
        )?;
        if failed_now == 0 {
            lost_unless_done(
                post_owner(&transaction, guild_id, local_date)?,
                &["claimed"],
                owner,
            )?;
        }
        if failed_now > 0 {
            transaction.execute(
                "UPDATE daily_schedules SET failures = failures + 1, last_error = ?2, \
                 paused = CASE WHEN failures + 1 >= ?3 THEN 1 ELSE paused END WHERE guild_id = ?1",
                params![to_sql(guild_id), error, pause_after],
            )?;
        }
        let paused: bool = transaction
            .query_row(
                "SELECT paused FROM daily_schedules WHERE guild_id = ?1",
                params![to_sql(guild_id)],
                |row| row.get(0),
            )
            .optional()?
            .unwrap_or(false);
        transaction.commit()?;
        Ok(paused)
    }

    pub(super) fn mark_daily_skipped(
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

/// Whether the day's post is recorded as sent with this message.
fn already_sent(
    transaction: &rusqlite::Transaction<'_>,
    guild_id: u64,
    local_date: &str,
    message_id: u64,
) -> rusqlite::Result<bool> {
    Ok(transaction
        .query_row(
            "SELECT 1 FROM daily_posts WHERE guild_id = ?1 AND local_date = ?2 AND state = 'sent' AND message_id = ?3",
            params![to_sql(guild_id), local_date, to_sql(message_id)],
            |_| Ok(()),
        )
        .optional()?
        .is_some())
}

/// A day's post's state and lease owner, inside a transaction.
fn post_owner(
    transaction: &rusqlite::Transaction<'_>,
    guild_id: u64,
    local_date: &str,
) -> rusqlite::Result<Option<(String, Option<String>)>> {
    transaction
        .query_row(
            "SELECT state, lease_owner FROM daily_posts WHERE guild_id = ?1 AND local_date = ?2",
            params![to_sql(guild_id), local_date],
            |row| Ok((row.get(0)?, row.get(1)?)),
        )
        .optional()
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
    Ok(read_bag_text(bag, to_sql(guild_id)))
}

/// Saves a server's shuffle bag, inside a transaction.
fn write_bag(
    transaction: &rusqlite::Transaction<'_>,
    guild_id: u64,
    bag: &ShuffleBag,
) -> rusqlite::Result<()> {
    transaction.execute(
        "UPDATE daily_schedules SET bag = ?2 WHERE guild_id = ?1",
        params![to_sql(guild_id), bag_text(bag)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Store;
    use super::*;

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

    #[test]
    fn a_version_two_file_gains_the_lease_columns() -> Result<(), StoreError> {
        let dir = std::env::temp_dir().join(format!("scenebot-store-v2-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let path = dir.join("v2.sqlite3");
        {
            let connection = Connection::open(&path)?;
            for migration in &MIGRATIONS[..2] {
                connection.execute_batch(migration)?;
            }
            connection.pragma_update(None, "user_version", 2)?;
        }
        let store = Store::open(&path)?;
        assert_eq!(store.schema_version()?, SCHEMA_VERSION);
        assert!(store.claim_poll(1, 0).is_ok());
        let _ = std::fs::remove_dir_all(&dir);
        Ok(())
    }
}
