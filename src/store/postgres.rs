//! The PostgreSQL backend, for several processes sharing one database: a deadpool connection pool over
//! tokio-postgres, driven by the store's own small runtime (one worker thread), so the store's methods stay plain
//! blocking functions like SQLite's: [`super::Store::call`] runs them on tokio's blocking pool, where they wait on
//! the store's runtime with `block_on`. The store's runtime also owns the connections, so opening works before the
//! bot's runtime exists and a store outlives any one caller.
//!
//! Claims take the row with `FOR UPDATE SKIP LOCKED`: a process never waits on another's claim in flight, it moves
//! on and looks again later. Transactions that touch a schedule and its posts lock the schedule row first, so two
//! processes can never deadlock on them. Migrations run in one transaction under an advisory lock, so processes starting
//! together migrate once; the version is kept in the table `scenebot_schema`.
//!
//! Nothing waits on the server for longer than the store timeout: each operation runs under a client-side timer
//! (a connection cut off mid-call is closed, never pooled again), and each connection carries `statement_timeout`,
//! `lock_timeout` and `idle_in_transaction_session_timeout`, TCP keepalives and a TCP user timeout.
//!
//! Longer than 600 lines because it is the whole contract in one dialect: every method of `Store` has its SQL here,
//! one short function each; splitting polls from schedules would split one transaction discipline (lock order,
//! owner checks) over files. Records and migrations live beside it (`records.rs`, `migrations/`).

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{
    Hook, HookError, Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Timeouts,
};
use futures_util::TryStreamExt;
use tokio_postgres::config::SslMode;
use tokio_postgres::Row;
use tokio_postgres_rustls::MakeRustlsConnect;

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

/// The migrations, in order, numbered as SQLite's; migration `n` brings the schema to version `n`.
pub(super) const MIGRATIONS: &[&str] = &[
    include_str!("migrations/postgres/0001.sql"),
    include_str!("migrations/postgres/0002.sql"),
    include_str!("migrations/postgres/0003.sql"),
    include_str!("migrations/postgres/0004.sql"),
    include_str!("migrations/postgres/0005.sql"),
    include_str!("migrations/postgres/0006.sql"),
    include_str!("migrations/postgres/0007.sql"),
    include_str!("migrations/postgres/0008.sql"),
    include_str!("migrations/postgres/0009.sql"),
];

/// The bucket of the bot's one global request schedule. Its `tat_ms` column holds microseconds (whole milliseconds
/// made the pace up to 11 % fast); a new bucket rather than the old `global` row, so a process of an earlier
/// version still running beside this one never reads microseconds as milliseconds (and waits for years).
const GLOBAL_BUCKET: &str = "global_us";

/// `crate::pace::reserve` as one statement on the database's clock (`clock_timestamp()`, read after the row lock
/// is taken, so a wait for another process's reservation does not age it): the new tat, and the clock it used
/// (read again for RETURNING, microseconds later: the wait comes out a hair short, never long).
const RESERVE: &str = "UPDATE scenebot_rate SET tat_ms = GREATEST(tat_ms, \
    (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT) + $2 WHERE bucket = $1 \
    RETURNING tat_ms, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT";

/// The advisory lock key migrations hold ("scenebot" in ASCII, as a number).
const MIGRATION_LOCK: i64 = 0x7363_656e_6562_6f74;
/// Connections per process: the bot's store calls are short, and rarely more than a few at once.
pub(super) const POOL_SIZE: usize = 8;
/// Migrations may wait for other processes' statements and rewrite tables: a longer bound than one call's.
const MIGRATION_TIMEOUT: Duration = Duration::from_secs(60);
/// TCP keepalives: an idle connection to a machine that vanished is noticed in about idle + interval × retries
/// (30 s) instead of the kernel's two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(15);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(5);
const KEEPALIVE_RETRIES: u32 = 3;
/// Data the server never acknowledges (a partition mid-query) fails the socket after this long.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(30);

/// The PostgreSQL database. Cheap to clone.
#[derive(Clone)]
pub(super) struct Postgres {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    /// Always `Some` until dropped.
    runtime: Option<tokio::runtime::Runtime>,
    /// The URL without its password, for logs and errors.
    label: String,
    /// The store timeout in milliseconds: every operation's bound, and the server-side `statement_timeout` of
    /// connections made from now on (shared with the pool's `post_create` hook).
    timeout_ms: Arc<AtomicU64>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // The last clone may be dropped on an async task; a runtime must not block there while it stops.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(error: tokio_postgres::Error) -> StoreError {
        if let Some(fix) = super::tls::misconfigured(&error) {
            return StoreError::Misconfigured(fix);
        }
        let code = error.code().map(|code| code.code());
        match error.as_db_error() {
            Some(db) => classify(code, db.message()),
            None => classify(code, &error.to_string()),
        }
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> StoreError {
        match error {
            PoolError::Backend(error) | PoolError::PostCreateHook(HookError::Backend(error)) => {
                error.into()
            }
            other => StoreError::Postgres(other.to_string()),
        }
    }
}

/// Sorts a PostgreSQL failure by whether retrying can fix it, from its SQLSTATE (`code`, server errors only) or,
/// for client-side errors, tokio-postgres's wording of their kind (the kind itself is private). Transient: no
/// SQLSTATE (I/O, a refused or closed connection), connection exceptions (08), insufficient resources (53),
/// operator intervention (57: shutdown, start-up, statement timeout), lock timeouts (55P03), rollbacks (40),
/// system errors (58, XX). Anything else the server rejected will be rejected again.
fn classify(code: Option<&str>, text: &str) -> StoreError {
    let fix = |hint: &str| match code {
        Some(code) => StoreError::Misconfigured(format!("{text} (SQLSTATE {code}); {hint}")),
        None => StoreError::Misconfigured(format!("{text}; {hint}")),
    };
    let Some(code) = code else {
        return if text.starts_with("invalid configuration")
            || text.starts_with("invalid connection string")
            || text.starts_with("authentication error")
        {
            fix("check SCENEBOT_DATABASE (user, password, host, database)")
        } else {
            StoreError::Postgres(text.to_owned())
        };
    };
    match code {
        "28P01" => fix("check the user and password in SCENEBOT_DATABASE"),
        "3D000" => fix("create the database (createdb NAME) or fix its name in SCENEBOT_DATABASE"),
        "42501" => fix("grant the role what the bot needs: it creates and alters its own tables at start-up"),
        "28000" if text.contains("no encryption") => fix(
            "the server takes TLS connections only: set sslmode=require, or better verify-full with \
             sslrootcert, in SCENEBOT_DATABASE",
        ),
        _ if code.starts_with("28") => fix(
            "check the user in SCENEBOT_DATABASE (does the role exist?) and the server's pg_hba.conf",
        ),
        "55P03" => StoreError::Postgres(text.to_owned()),
        _ if ["08", "53", "57", "40", "58", "XX"]
            .iter()
            .any(|class| code.starts_with(class)) =>
        {
            StoreError::Postgres(format!("{text} (SQLSTATE {code})"))
        }
        _ => fix("the server rejected the bot's SQL; report this with the line above"),
    }
}

/// `url` without its password.
fn redact(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() {
                let _ = parsed.set_password(Some("<redacted>"));
            }
            parsed.to_string()
        }
        Err(_) => "the PostgreSQL database in SCENEBOT_DATABASE".to_owned(),
    }
}

type Client = deadpool_postgres::Object;

/// The session settings every connection starts with: the server cancels a statement, a lock wait, or a session
/// left idle inside a transaction (a frozen process holding row locks) on its own, so nothing waits on a lost
/// client. Lock waits give up first, so a contended row reads as a lock timeout, not a slow statement.
fn session_settings(timeout_ms: u64) -> String {
    let timeout_ms = timeout_ms.max(1);
    format!(
        "SET statement_timeout = {timeout_ms}; SET lock_timeout = {}; \
         SET idle_in_transaction_session_timeout = {}",
        (timeout_ms / 2).max(1),
        timeout_ms.saturating_mul(2)
    )
}

/// How each pooled connection is made: with TLS as configured and, for `sslmode=prefer` without `sslrootcert`,
/// plain when that connection's TLS handshake fails, as libpq does; each new connection tries TLS again, so a
/// handshake that failed once (at start, say) never turns TLS off for the life of the process.
struct PreferConnect {
    tls: MakeRustlsConnect,
    plain_after_failed_handshake: bool,
}

impl deadpool_postgres::Connect for PreferConnect {
    fn connect(
        &self,
        config: &tokio_postgres::Config,
    ) -> std::pin::Pin<
        Box<
            dyn std::future::Future<
                    Output = Result<
                        (tokio_postgres::Client, tokio::task::JoinHandle<()>),
                        tokio_postgres::Error,
                    >,
                > + Send
                + '_,
        >,
    > {
        let config = config.clone();
        Box::pin(async move {
            let (client, connection) = match config.connect(self.tls.clone()).await {
                Ok(connected) => connected,
                Err(error)
                    if self.plain_after_failed_handshake
                        && error.to_string().starts_with(super::tls::HANDSHAKE_FAILED) =>
                {
                    tracing::warn!(
                        "sslmode=prefer: the TLS handshake with the database failed ({error}); this connection goes \
                         without TLS, as libpq does for prefer (set sslmode=require in SCENEBOT_DATABASE to refuse \
                         instead); the next one tries TLS again"
                    );
                    let mut plain = config.clone();
                    plain.ssl_mode(SslMode::Disable);
                    plain.connect(self.tls.clone()).await?
                }
                Err(error) => return Err(error),
            };
            let task = tokio::spawn(async move {
                if let Err(error) = connection.await {
                    tracing::warn!("database connection error: {error}");
                }
            });
            Ok((client, task))
        })
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

impl Postgres {
    /// Connects to `url` (a `postgres://` URL, see libpq's connection URIs) and migrates the database.
    pub(super) fn connect(url: &str) -> Result<Postgres, StoreError> {
        let label = redact(url);
        let (url, tls) = super::tls::split_url(url)?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|error| {
            StoreError::Misconfigured(format!(
                "SCENEBOT_DATABASE is not a usable PostgreSQL URL ({error})"
            ))
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(super::DEFAULT_TIMEOUT);
        }
        config
            .keepalives(true)
            .keepalives_idle(KEEPALIVE_IDLE)
            .keepalives_interval(KEEPALIVE_INTERVAL)
            .keepalives_retries(KEEPALIVE_RETRIES)
            .tcp_user_timeout(TCP_USER_TIMEOUT);
        let (ssl_mode, connector) = tls.connector()?;
        let store = Postgres::with_pool(
            label,
            config,
            ssl_mode,
            connector,
            tls.falls_back_to_plain(),
        )?;
        store.run_within(MIGRATION_TIMEOUT, async |client| {
            store.migrate(client).await
        })?;
        Ok(store)
    }

    /// A store over a new pool of connections made with `config` in `ssl_mode`, on a runtime of its own; nothing
    /// is connected yet.
    fn with_pool(
        label: String,
        mut config: tokio_postgres::Config,
        ssl_mode: SslMode,
        connector: MakeRustlsConnect,
        plain_after_failed_handshake: bool,
    ) -> Result<Postgres, StoreError> {
        config.ssl_mode(ssl_mode);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("scenebot-postgres")
            .enable_all()
            .build()
            .map_err(|error| {
                StoreError::Postgres(format!("cannot start the database runtime: {error}"))
            })?;
        let manager = Manager::from_connect(
            config,
            PreferConnect {
                tls: connector,
                plain_after_failed_handshake,
            },
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeout_ms = Arc::new(AtomicU64::new(millis(super::DEFAULT_TIMEOUT)));
        let hook_timeout = Arc::clone(&timeout_ms);
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .post_create(Hook::async_fn(move |client, _| {
                let settings = session_settings(hook_timeout.load(Ordering::Relaxed));
                Box::pin(async move {
                    client
                        .batch_execute(&settings)
                        .await
                        .map_err(HookError::Backend)
                })
            }))
            .build()
            .map_err(|error| {
                StoreError::Postgres(format!("cannot set up the connection pool: {error}"))
            })?;
        let postgres = Postgres {
            inner: Arc::new(Inner {
                pool,
                runtime: Some(runtime),
                label,
                timeout_ms,
            }),
        };
        Ok(postgres)
    }

    pub(super) fn label(&self) -> &str {
        &self.inner.label
    }

    /// The store timeout changed: later operations use it, and idle connections (made with the old
    /// `statement_timeout`) are closed so that the new ones get it.
    pub(super) fn set_timeout(&self, timeout: Duration) {
        self.inner
            .timeout_ms
            .store(millis(timeout), Ordering::Relaxed);
        self.inner.pool.retain(|_, _| false);
    }

    fn timeout(&self) -> Duration {
        Duration::from_millis(self.inner.timeout_ms.load(Ordering::Relaxed))
    }

    /// Runs `work` on a pooled connection on the store's runtime and waits for it, within the store timeout.
    /// Never call from an async task (use `Store::call`).
    pub(super) fn run<T>(
        &self,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        self.run_within(self.timeout(), work)
    }

    /// [`Postgres::run`] bounded by `limit`: waiting for a connection, making one, and `work` together. When the
    /// time is up mid-`work`, the connection may still owe the server's answer to what was cut off (a stopped or
    /// partitioned server answers late, or never): it is detached from the pool and closed, never handed to the
    /// next call, which would read that stale answer or wait behind it.
    fn run_within<T>(
        &self,
        limit: Duration,
        work: impl AsyncFnOnce(&mut Client) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let Some(runtime) = &self.inner.runtime else {
            return Err(StoreError::Postgres("the store is closed".to_owned()));
        };
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + limit;
            let timeouts = Timeouts {
                wait: Some(limit),
                create: Some(limit),
                recycle: Some(limit),
            };
            let got =
                tokio::time::timeout_at(deadline, self.inner.pool.timeout_get(&timeouts)).await;
            let mut client = match got {
                Ok(Ok(client)) => client,
                Ok(Err(PoolError::Timeout(_))) | Err(_) => return Err(StoreError::Timeout(limit)),
                Ok(Err(error)) => return Err(error.into()),
            };
            match tokio::time::timeout_at(deadline, work(&mut client)).await {
                Ok(result) => result,
                Err(_) => {
                    drop(deadpool_postgres::Object::take(client));
                    Err(StoreError::Timeout(limit))
                }
            }
        })
    }

    async fn migrate(&self, client: &mut Client) -> Result<(), StoreError> {
        let transaction = client.transaction().await?;
        transaction
            .batch_execute(&format!(
                "SET LOCAL statement_timeout = {0}; SET LOCAL lock_timeout = {0}",
                millis(MIGRATION_TIMEOUT)
            ))
            .await?;
        transaction
            .execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await?;
        transaction
            .batch_execute("CREATE TABLE IF NOT EXISTS scenebot_schema (version BIGINT NOT NULL)")
            .await?;
        let version: i64 = match transaction
            .query_opt("SELECT max(version) FROM scenebot_schema", &[])
            .await?
        {
            Some(row) => row.try_get::<_, Option<i64>>(0)?.unwrap_or(0),
            None => 0,
        };
        if version > SCHEMA_VERSION {
            // Dropping the transaction rolls it back: nothing was changed.
            return Err(StoreError::NewerSchema {
                path: PathBuf::from(&self.inner.label),
                found: version,
                known: SCHEMA_VERSION,
            });
        }
        for migration in MIGRATIONS
            .iter()
            .skip(usize::try_from(version).unwrap_or(0))
        {
            transaction.batch_execute(migration).await?;
        }
        transaction
            .execute("DELETE FROM scenebot_schema", &[])
            .await?;
        transaction
            .execute(
                "INSERT INTO scenebot_schema (version) VALUES ($1)",
                &[&SCHEMA_VERSION],
            )
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    /// See [`super::Store::reserve_slots`]; the interval and the wait in microseconds.
    pub(super) fn reserve_slots(&self, count: u32, interval_us: i64) -> Result<i64, StoreError> {
        let span = i64::from(count).saturating_mul(interval_us.max(0));
        self.run(async |client| {
            // The row comes with migration 5; should it be gone (a hand edit), make it again, once.
            for _ in 0..2 {
                if let Some(row) = client.query_opt(RESERVE, &[&GLOBAL_BUCKET, &span]).await? {
                    let (tat, now): (i64, i64) = (row.try_get(0)?, row.try_get(1)?);
                    return Ok(tat.saturating_sub(span).saturating_sub(now).max(0));
                }
                client
                    .execute(
                        "INSERT INTO scenebot_rate (bucket, tat_ms) VALUES ($1, 0) ON CONFLICT DO NOTHING",
                        &[&GLOBAL_BUCKET],
                    )
                    .await?;
            }
            Err(StoreError::Postgres(
                "the send schedule's row in scenebot_rate keeps disappearing".to_owned(),
            ))
        })
    }

    pub(super) fn integrity_ok(&self) -> Result<bool, StoreError> {
        self.run(async |client| {
            let row = client.query_one("SELECT 1::BIGINT", &[]).await?;
            Ok(row.try_get::<_, i64>(0)? == 1)
        })
    }

    pub(super) fn schema_version(&self) -> Result<i64, StoreError> {
        self.run(async |client| {
            let row = client
                .query_one("SELECT coalesce(max(version), 0) FROM scenebot_schema", &[])
                .await?;
            Ok(row.try_get(0)?)
        })
    }
}

fn poll_from_row(row: &Row) -> Result<PollRecord, StoreError> {
    Ok(PollRow {
        id: row.try_get(0)?,
        guild_id: row.try_get(1)?,
        channel_id: row.try_get(2)?,
        message_id: row.try_get(3)?,
        started_by: row.try_get(4)?,
        locale: row.try_get(5)?,
        scene_ids: row.try_get(6)?,
        hours: row.try_get(7)?,
        created_at: row.try_get(8)?,
        ends_at: row.try_get(9)?,
        state: row.try_get(10)?,
        tally: row.try_get(11)?,
        result_message_id: row.try_get(12)?,
        problem: row.try_get(13)?,
        finished_at: row.try_get(14)?,
        answer_ids: row.try_get(15)?,
        results_attempt_at: row.try_get(16)?,
        thread: row.try_get(17)?,
        thread_state: row.try_get(18)?,
    }
    .into_record())
}

/// A post's [`POST_COLUMNS`], read from column `at` on.
fn post_from_row(row: &Row, at: usize) -> Result<DailyPost, StoreError> {
    Ok(DailyPost {
        state: DailyPostState::parse(&row.try_get::<_, String>(at)?),
        scene_id: row.try_get(at + 1)?,
        message_id: row.try_get::<_, Option<i64>>(at + 2)?.map(from_sql),
        claimed_at: row.try_get(at + 3)?,
        special: row
            .try_get::<_, Option<String>>(at + 4)?
            .as_deref()
            .and_then(Occasion::parse),
        thread: row
            .try_get::<_, Option<String>>(at + 5)?
            .as_deref()
            .map(ThreadNote::parse),
    })
}

fn daily_from_row(row: &Row) -> Result<DailyRow, StoreError> {
    Ok(DailyRow {
        guild_id: row.try_get(0)?,
        channel_id: row.try_get(1)?,
        time: row.try_get(2)?,
        timezone: row.try_get(3)?,
        role_id: row.try_get(4)?,
        locale: row.try_get(5)?,
        enabled: row.try_get(6)?,
        paused: row.try_get(7)?,
        active_since: row.try_get(8)?,
        failures: row.try_get(9)?,
        last_error: row.try_get(10)?,
        last_post_at: row.try_get(11)?,
        bag: row.try_get(12)?,
        thread: row.try_get(13)?,
        thread_problem: row.try_get(14)?,
    })
}

impl Postgres {
    /// Runs one statement that changes rows; how many it changed.
    fn execute(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<u64, StoreError> {
        self.run(async |client| Ok(client.execute(sql, params).await?))
    }

    /// Reads polls with `sql`.
    fn polls(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<PollRecord>, StoreError> {
        self.run(async |client| {
            let rows = client.query(sql, params).await?;
            rows.iter().map(poll_from_row).collect()
        })
    }

    pub(super) fn insert_poll(
        &self,
        poll: &NewPoll,
        owner: &str,
        lease_until: i64,
    ) -> Result<Result<PollRecord, PollRecord>, StoreError> {
        let scene_ids = serde_json::to_string(&poll.scene_ids).unwrap_or_else(|_| "[]".to_owned());
        let (guild, channel, started_by) = (
            to_sql(poll.guild_id),
            to_sql(poll.channel_id),
            to_sql(poll.started_by),
        );
        let (hours, ends_at) = (
            i64::from(poll.hours),
            poll.now + i64::from(poll.hours) * 3600,
        );
        let locale = poll.locale.code();
        // The open poll can finish between the insert that conflicts and the read: then insert again (bounded).
        for _ in 0..3 {
            let inserted = self.polls(
                &format!(
                    "INSERT INTO favorite_polls (guild_id, channel_id, started_by, locale, scene_ids, hours, \
                     created_at, ends_at, state, lease_owner, lease_until, thread) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'posting', $9, $10, $11) \
                     ON CONFLICT (guild_id) WHERE state IN ('posting', 'running', 'ended') DO NOTHING \
                     RETURNING {POLL_COLUMNS}"
                ),
                &[
                    &guild,
                    &channel,
                    &started_by,
                    &locale,
                    &scene_ids,
                    &hours,
                    &poll.now,
                    &ends_at,
                    &owner,
                    &lease_until,
                    &poll.thread,
                ],
            )?;
            if let Some(record) = inserted.into_iter().next() {
                return Ok(Ok(record));
            }
            if let Some(open) = self.open_poll(poll.guild_id)? {
                return Ok(Err(open));
            }
        }
        Err(StoreError::Postgres(
            "the server's open poll kept changing while a new one was recorded".to_owned(),
        ))
    }

    pub(super) fn claim_poll(&self, id: i64, lease: &Lease<'_>) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE favorite_polls SET lease_owner = $2, lease_until = $3 WHERE id = ( \
                 SELECT id FROM favorite_polls WHERE id = $1 \
                 AND (lease_owner IS NULL OR substr(lease_owner, 1, length($5)) = $5 \
                 OR lease_until IS NULL OR lease_until <= $4) \
                 FOR UPDATE SKIP LOCKED)",
            &[&id, &lease.owner, &lease.until, &lease.now, &lease.family],
        )?;
        Ok(changed > 0)
    }

    pub(super) fn release_poll(&self, id: i64, owner: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE favorite_polls SET lease_owner = NULL, lease_until = NULL WHERE id = $1 AND lease_owner = $2",
            &[&id, &owner],
        )?;
        Ok(())
    }

    pub(super) fn renew_poll(&self, id: i64, owner: &str, until: i64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE favorite_polls SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 \
             AND state IN ('posting', 'running', 'ended')",
            &[&id, &owner, &until],
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
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<(), StoreError> {
        self.run(async |client| {
            if client.execute(sql, params).await? > 0 {
                return Ok(());
            }
            let row = client
                .query_opt(
                    "SELECT state, lease_owner FROM favorite_polls WHERE id = $1",
                    &[&id],
                )
                .await?;
            let row = match row {
                Some(row) => Some((
                    row.try_get::<_, String>(0)?,
                    row.try_get::<_, Option<String>>(1)?,
                )),
                None => None,
            };
            lost_unless_done(row, expected, owner)
        })
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
            "UPDATE favorite_polls SET message_id = $2, ends_at = $3, answer_ids = $4, state = 'running' \
             WHERE id = $1 AND state = 'posting' AND lease_owner = $5",
            &[&id, &to_sql(message_id), &ends_at, &answer_ids, &owner],
        )
    }

    pub(super) fn end_poll_early(&self, id: i64, now: i64) -> Result<(), StoreError> {
        self.execute(
            "UPDATE favorite_polls SET ends_at = LEAST(ends_at, $2) WHERE id = $1 AND state = 'running'",
            &[&id, &now],
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
            "UPDATE favorite_polls SET tally = $2, state = 'ended' WHERE id = $1 AND state = 'running' \
             AND lease_owner = $3",
            &[&id, &tally, &owner],
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
            "UPDATE favorite_polls SET results_attempt_at = $2 WHERE id = $1 AND state = 'ended' \
             AND lease_owner = $3",
            &[&id, &now, &owner],
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
            "UPDATE favorite_polls SET result_message_id = $2, state = 'announced', finished_at = $3 \
             WHERE id = $1 AND state = 'ended' AND lease_owner = $4",
            &[&id, &to_sql(result_message_id), &now, &owner],
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
            "UPDATE favorite_polls SET result_message_id = $2 WHERE id = $1 AND state = 'ended' \
             AND lease_owner = $3",
            &[&id, &to_sql(result_message_id), &owner],
        )
    }

    pub(super) fn mark_poll_thread(&self, id: i64, note: &str) -> Result<(), StoreError> {
        self.execute(
            "UPDATE favorite_polls SET thread_state = $2 WHERE id = $1",
            &[&id, &note],
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
            "UPDATE favorite_polls SET state = 'cancelled', problem = $2, finished_at = $3 \
             WHERE id = $1 AND state IN ('posting', 'running', 'ended') AND lease_owner = $4",
            &[&id, &problem, &now, &owner],
        )
    }

    pub(super) fn poll(&self, id: i64) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .polls(
                &format!("SELECT {POLL_COLUMNS} FROM favorite_polls WHERE id = $1"),
                &[&id],
            )?
            .into_iter()
            .next())
    }

    pub(super) fn open_poll(&self, guild_id: u64) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .polls(
                &format!(
                    "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE guild_id = $1 \
                     AND state IN ('posting', 'running', 'ended')"
                ),
                &[&to_sql(guild_id)],
            )?
            .into_iter()
            .next())
    }

    pub(super) fn open_polls(&self) -> Result<Vec<PollRecord>, StoreError> {
        self.polls(
            &format!(
                "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE state IN ('posting', 'running', 'ended') \
                 ORDER BY ends_at, id"
            ),
            &[],
        )
    }

    pub(super) fn poll_messages_held(
        &self,
        guild_id: u64,
        except: i64,
        since: i64,
    ) -> Result<Vec<u64>, StoreError> {
        self.run(async |client| {
            let rows = client
                .query(
                    "SELECT message_id FROM favorite_polls WHERE guild_id = $1 AND id <> $2 \
                     AND message_id IS NOT NULL AND (finished_at IS NULL OR finished_at >= $3) \
                     ORDER BY id DESC LIMIT $4",
                    &[&to_sql(guild_id), &except, &since, &HELD_MESSAGES_LIMIT],
                )
                .await?;
            rows.iter()
                .map(|row| row.try_get::<_, i64>(0).map(from_sql))
                .collect::<Result<Vec<_>, _>>()
                .map_err(StoreError::from)
        })
    }

    pub(super) fn last_finished_poll(
        &self,
        guild_id: u64,
    ) -> Result<Option<PollRecord>, StoreError> {
        Ok(self
            .polls(
                &format!(
                    "SELECT {POLL_COLUMNS} FROM favorite_polls WHERE guild_id = $1 \
                     AND state IN ('announced', 'cancelled') ORDER BY finished_at DESC NULLS LAST, id DESC LIMIT 1"
                ),
                &[&to_sql(guild_id)],
            )?
            .into_iter()
            .next())
    }

    pub(super) fn announced_tallies(&self, guild_id: u64) -> Result<Vec<Tally>, StoreError> {
        self.run(async |client| {
            let rows = client
                .query(
                    "SELECT tally FROM favorite_polls WHERE guild_id = $1 AND state = 'announced' \
                     AND tally IS NOT NULL ORDER BY id",
                    &[&to_sql(guild_id)],
                )
                .await?;
            let texts = rows
                .iter()
                .map(|row| row.try_get::<_, String>(0))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(texts
                .iter()
                .filter_map(|text| decode(text, "tally", to_sql(guild_id)))
                .collect())
        })
    }

    pub(super) fn set_daily(&self, settings: &SettingsText, now: i64) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO daily_schedules (guild_id, channel_id, time, timezone, role_id, locale, active_since, \
             thread) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
             ON CONFLICT (guild_id) DO UPDATE SET channel_id = EXCLUDED.channel_id, time = EXCLUDED.time, \
             timezone = EXCLUDED.timezone, role_id = EXCLUDED.role_id, locale = EXCLUDED.locale, \
             active_since = EXCLUDED.active_since, enabled = TRUE, paused = FALSE, failures = 0, last_error = NULL, \
             thread = EXCLUDED.thread, thread_problem = NULL",
            &[
                &settings.guild_id,
                &settings.channel_id,
                &settings.time,
                &settings.timezone,
                &settings.role_id,
                &settings.locale,
                &now,
                &settings.thread,
            ],
        )?;
        Ok(())
    }

    pub(super) fn server_language(&self, guild_id: u64) -> Result<Option<String>, StoreError> {
        self.run(async |client| {
            let row = client
                .query_opt(
                    "SELECT language FROM server_settings WHERE guild_id = $1",
                    &[&to_sql(guild_id)],
                )
                .await?;
            Ok(match row {
                Some(row) => row.try_get::<_, Option<String>>(0)?,
                None => None,
            })
        })
    }

    pub(super) fn set_server_language(
        &self,
        guild_id: u64,
        language: Option<&str>,
        now: i64,
    ) -> Result<(), StoreError> {
        let guild = to_sql(guild_id);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            transaction
                .execute(
                    "INSERT INTO server_settings (guild_id, language, updated_at) VALUES ($1, $2, $3) \
                     ON CONFLICT (guild_id) DO UPDATE SET language = excluded.language, \
                     updated_at = excluded.updated_at",
                    &[&guild, &language, &now],
                )
                .await?;
            if let Some(language) = language {
                transaction
                    .execute(
                        "UPDATE daily_schedules SET locale = $2 WHERE guild_id = $1",
                        &[&guild, &language],
                    )
                    .await?;
            }
            transaction.commit().await?;
            Ok(())
        })
    }

    pub(super) fn daily_off(&self, guild_id: u64) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE daily_schedules SET enabled = FALSE WHERE guild_id = $1 AND enabled",
            &[&to_sql(guild_id)],
        )?;
        Ok(changed > 0)
    }

    fn dailies(
        &self,
        sql: &str,
        params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
    ) -> Result<Vec<DailyRow>, StoreError> {
        self.run(async |client| {
            let rows = client.query(sql, params).await?;
            rows.iter().map(daily_from_row).collect()
        })
    }

    pub(super) fn daily(&self, guild_id: u64) -> Result<Option<DailyRow>, StoreError> {
        Ok(self
            .dailies(
                &format!("SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE guild_id = $1"),
                &[&to_sql(guild_id)],
            )?
            .into_iter()
            .next())
    }

    pub(super) fn active_dailies(&self) -> Result<Vec<DailyRow>, StoreError> {
        self.dailies(
            &format!(
                "SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE enabled AND NOT paused ORDER BY guild_id"
            ),
            &[],
        )
    }

    pub(super) fn plan_each_daily(
        &self,
        since: &str,
        visit: &mut dyn FnMut(PlannedRow),
    ) -> Result<(), StoreError> {
        self.run(async |client| {
            // Streamed: rows are read as they come, never all held at once.
            let rows = client
                .query_raw(
                    &format!(
                        "SELECT s.*, p.local_date, p.state, p.scene_id, p.message_id, p.claimed_at, p.special, \
                         p.thread FROM \
                         (SELECT {DAILY_COLUMNS} FROM daily_schedules WHERE enabled AND NOT paused) s \
                         LEFT JOIN daily_posts p ON p.guild_id = s.guild_id AND p.local_date >= $1 \
                         ORDER BY s.guild_id, p.local_date"
                    ),
                    [since],
                )
                .await?;
            let mut rows = std::pin::pin!(rows);
            let mut planned = PlannedRows::default();
            while let Some(row) = rows.try_next().await? {
                let post = match row.try_get::<_, Option<String>>(15)? {
                    Some(date) => Some((date, post_from_row(&row, 16)?)),
                    None => None,
                };
                planned.push(daily_from_row(&row)?, post, visit);
            }
            planned.finish(visit);
            Ok(())
        })
    }

    pub(super) fn daily_post(
        &self,
        guild_id: u64,
        local_date: &str,
    ) -> Result<Option<DailyPost>, StoreError> {
        self.run(async |client| {
            let row = client
                .query_opt(
                    &format!(
                        "SELECT {POST_COLUMNS} FROM daily_posts WHERE guild_id = $1 AND local_date = $2"
                    ),
                    &[&to_sql(guild_id), &local_date],
                )
                .await?;
            let Some(row) = row else {
                return Ok(None);
            };
            Ok(Some(post_from_row(&row, 0)?))
        })
    }

    pub(super) fn claim_daily(
        &self,
        guild_id: u64,
        local_date: &str,
        lease: &Lease<'_>,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<Pick>,
    ) -> Result<Claim, StoreError> {
        let guild = to_sql(guild_id);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            // The schedule row is the guild's claim lock: whoever holds it is claiming; the others move on.
            let schedule = transaction
                .query_opt(
                    "SELECT bag FROM daily_schedules WHERE guild_id = $1 FOR UPDATE SKIP LOCKED",
                    &[&guild],
                )
                .await?;
            let bag = match schedule {
                Some(row) => Some(row.try_get::<_, String>(0)?),
                None => {
                    let exists = transaction
                        .query_opt("SELECT 1 FROM daily_schedules WHERE guild_id = $1", &[&guild])
                        .await?;
                    if exists.is_some() {
                        // Ending the transaction now, not when it drops, frees its locks before we return.
                        transaction.rollback().await?;
                        return Ok(Claim::Held);
                    }
                    None
                }
            };
            let existing = transaction
                .query_opt(
                    "SELECT state, scene_id, special, lease_owner, lease_until FROM daily_posts \
                     WHERE guild_id = $1 AND local_date = $2 FOR UPDATE",
                    &[&guild, &local_date],
                )
                .await?;
            if let Some(row) = existing {
                let state: String = row.try_get(0)?;
                let owner: Option<String> = row.try_get(3)?;
                let claim = existing_claim(
                    &state,
                    (row.try_get(1)?, row.try_get(2)?),
                    owner.as_deref(),
                    row.try_get(4)?,
                    lease,
                );
                return Ok(match claim {
                    ExistingClaim::TakeOver(pick) => {
                        transaction
                            .execute(
                                "UPDATE daily_posts SET lease_owner = $3, lease_until = $4 \
                                 WHERE guild_id = $1 AND local_date = $2",
                                &[&guild, &local_date, &lease.owner, &lease.until],
                            )
                            .await?;
                        transaction.commit().await?;
                        Claim::Unsent(pick)
                    }
                    ExistingClaim::Held => {
                        transaction.rollback().await?;
                        Claim::Held
                    }
                    ExistingClaim::Done => {
                        transaction.rollback().await?;
                        Claim::Done
                    }
                });
            }
            let mut bag = read_bag_text(bag, guild);
            let Some(pick) = draw(&mut bag) else {
                transaction.rollback().await?;
                return Ok(Claim::Nothing);
            };
            let (scene, special) = pick.columns();
            let inserted = transaction
                .execute(
                    "INSERT INTO daily_posts (guild_id, local_date, state, scene_id, special, claimed_at, \
                     lease_owner, lease_until) VALUES ($1, $2, 'claimed', $3, $4, $5, $6, $7) \
                     ON CONFLICT DO NOTHING",
                    &[&guild, &local_date, &scene, &special, &lease.now, &lease.owner, &lease.until],
                )
                .await?;
            if inserted == 0 {
                // Only possible without a schedule row (nothing to lock): another process claimed it just now.
                transaction.rollback().await?;
                return Ok(Claim::Held);
            }
            transaction
                .execute(
                    "UPDATE daily_schedules SET bag = $2 WHERE guild_id = $1",
                    &[&guild, &bag_text(&bag)],
                )
                .await?;
            transaction.commit().await?;
            Ok(Claim::New(pick))
        })
    }

    pub(super) fn draw_daily(
        &self,
        guild_id: u64,
        draw: impl FnOnce(&mut ShuffleBag) -> Option<String>,
    ) -> Result<Option<String>, StoreError> {
        let guild = to_sql(guild_id);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            let bag = transaction
                .query_opt(
                    "SELECT bag FROM daily_schedules WHERE guild_id = $1 FOR UPDATE",
                    &[&guild],
                )
                .await?
                .map(|row| row.try_get::<_, String>(0))
                .transpose()?;
            let mut bag = read_bag_text(bag, guild);
            let scene = draw(&mut bag);
            transaction
                .execute(
                    "UPDATE daily_schedules SET bag = $2 WHERE guild_id = $1",
                    &[&guild, &bag_text(&bag)],
                )
                .await?;
            transaction.commit().await?;
            Ok(scene)
        })
    }

    pub(super) fn renew_daily(
        &self,
        guild_id: u64,
        local_date: &str,
        owner: &str,
        until: i64,
    ) -> Result<bool, StoreError> {
        let changed = self.execute(
            "UPDATE daily_posts SET lease_until = $4 WHERE guild_id = $1 AND local_date = $2 \
             AND lease_owner = $3 AND state = 'claimed'",
            &[&to_sql(guild_id), &local_date, &owner, &until],
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
        let guild = to_sql(guild_id);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            // Rows are locked schedule first, then post, everywhere: two processes never wait on each other.
            transaction
                .execute(
                    "UPDATE daily_schedules SET failures = 0, last_error = NULL, last_post_at = $2, \
                     thread_problem = CASE WHEN $3::TEXT IS NULL THEN thread_problem ELSE NULLIF($3, 'opened') END \
                     WHERE guild_id = $1",
                    &[&guild, &now, &thread],
                )
                .await?;
            if let Some(local_date) = local_date {
                let changed = transaction
                    .execute(
                        "UPDATE daily_posts SET state = 'sent', message_id = $3, error = NULL, lease_owner = NULL, \
                         lease_until = NULL, thread = $5 WHERE guild_id = $1 AND local_date = $2 \
                         AND state = 'claimed' AND lease_owner = $4",
                        &[&guild, &local_date, &to_sql(message_id), &owner, &thread],
                    )
                    .await?;
                // Nothing changed: fine only when this very post was recorded before (a repeat); anything else
                // means another process holds or finished the day.
                let repeat = changed > 0
                    || transaction
                        .query_opt(
                            "SELECT 1 FROM daily_posts WHERE guild_id = $1 AND local_date = $2 AND state = 'sent' \
                             AND message_id = $3",
                            &[&guild, &local_date, &to_sql(message_id)],
                        )
                        .await?
                        .is_some();
                if !repeat {
                    transaction.rollback().await?;
                    return Err(StoreError::LeaseLost);
                }
            }
            transaction.commit().await?;
            Ok(())
        })
    }

    pub(super) fn mark_daily_posted(
        &self,
        guild_id: u64,
        local_date: &str,
        message_id: u64,
        owner: &str,
    ) -> Result<(), StoreError> {
        let guild = to_sql(guild_id);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            let changed = transaction
                .execute(
                    "UPDATE daily_posts SET message_id = $3 WHERE guild_id = $1 AND local_date = $2 \
                     AND state = 'claimed' AND lease_owner = $4",
                    &[&guild, &local_date, &to_sql(message_id), &owner],
                )
                .await?;
            if changed == 0 {
                let row = post_owner(&transaction, guild, local_date).await?;
                if let Err(lost) = lost_unless_done(row, &["claimed"], owner) {
                    transaction.rollback().await?;
                    return Err(lost);
                }
            }
            transaction.commit().await?;
            Ok(())
        })
    }

    pub(super) fn mark_daily_failed(
        &self,
        guild_id: u64,
        local_date: &str,
        error: &str,
        pause_after: u32,
        owner: &str,
    ) -> Result<bool, StoreError> {
        let guild = to_sql(guild_id);
        let pause_after = i64::from(pause_after);
        self.run(async |client| {
            let transaction = client.transaction().await?;
            // Schedule row first, as everywhere (see `mark_daily_sent`).
            transaction
                .execute(
                    "SELECT 1 FROM daily_schedules WHERE guild_id = $1 FOR UPDATE",
                    &[&guild],
                )
                .await?;
            let failed_now = transaction
                .execute(
                    "UPDATE daily_posts SET state = 'failed', error = $3, lease_owner = NULL, lease_until = NULL \
                     WHERE guild_id = $1 AND local_date = $2 AND state = 'claimed' AND lease_owner = $4",
                    &[&guild, &local_date, &error, &owner],
                )
                .await?;
            if failed_now == 0 {
                let row = post_owner(&transaction, guild, local_date).await?;
                if let Err(lost) = lost_unless_done(row, &["claimed"], owner) {
                    transaction.rollback().await?;
                    return Err(lost);
                }
            }
            if failed_now > 0 {
                transaction
                    .execute(
                        "UPDATE daily_schedules SET failures = failures + 1, last_error = $2, \
                         paused = CASE WHEN failures + 1 >= $3 THEN TRUE ELSE paused END WHERE guild_id = $1",
                        &[&guild, &error, &pause_after],
                    )
                    .await?;
            }
            let paused = transaction
                .query_opt("SELECT paused FROM daily_schedules WHERE guild_id = $1", &[&guild])
                .await?
                .map(|row| row.try_get::<_, bool>(0))
                .transpose()?
                .unwrap_or(false);
            transaction.commit().await?;
            Ok(paused)
        })
    }

    pub(super) fn mark_daily_skipped(
        &self,
        guild_id: u64,
        local_date: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        self.execute(
            "INSERT INTO daily_posts (guild_id, local_date, state, claimed_at) VALUES ($1, $2, 'skipped', $3) \
             ON CONFLICT DO NOTHING",
            &[&to_sql(guild_id), &local_date, &now],
        )?;
        Ok(())
    }
}

/// A day's post's state and lease owner, inside a transaction.
async fn post_owner(
    transaction: &tokio_postgres::Transaction<'_>,
    guild: i64,
    local_date: &str,
) -> Result<Option<(String, Option<String>)>, StoreError> {
    let row = transaction
        .query_opt(
            "SELECT state, lease_owner FROM daily_posts WHERE guild_id = $1 AND local_date = $2",
            &[&guild, &local_date],
        )
        .await?;
    Ok(match row {
        Some(row) => Some((row.try_get(0)?, row.try_get(1)?)),
        None => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_pass_is_transient() {
        let transient = [
            (
                None,
                "error connecting to server: Connection refused (os error 111)",
            ),
            (None, "connection closed"),
            (
                None,
                "error communicating with the server: Connection reset by peer",
            ),
            (
                Some("57P01"),
                "terminating connection due to administrator command",
            ),
            (Some("57P03"), "the database system is starting up"),
            (
                Some("57014"),
                "canceling statement due to statement timeout",
            ),
            (Some("55P03"), "canceling statement due to lock timeout"),
            (Some("53300"), "sorry, too many clients already"),
            (Some("40001"), "could not serialize access"),
            (Some("08006"), "connection failure"),
        ];
        for (code, text) in transient {
            let error = classify(code, text);
            assert!(error.is_transient(), "{code:?} {text}: {error}");
        }
        let fatal = [
            (
                Some("28P01"),
                "password authentication failed for user \"bot\"",
                "password",
            ),
            (
                Some("28000"),
                "role \"nobody\" does not exist",
                "pg_hba.conf",
            ),
            (
                Some("3D000"),
                "database \"scenebtt\" does not exist",
                "createdb",
            ),
            (
                Some("42501"),
                "permission denied for schema public",
                "grant",
            ),
            (Some("42601"), "syntax error at or near \"SELEC\"", "report"),
            // TLS handshake failures are sorted by `tls::misconfigured` from the error's cause (the suite's
            // store_tls and store_faults tests meet them on a real server).
            (
                Some("28000"),
                "no pg_hba.conf entry for host \"127.0.0.1\", user \"scenebot\", database \"t0\", no encryption",
                "sslmode=require",
            ),
            (
                None,
                "invalid configuration: password missing",
                "SCENEBOT_DATABASE",
            ),
        ];
        for (code, text, hint) in fatal {
            let error = classify(code, text);
            assert!(!error.is_transient(), "{code:?} {text}: {error}");
            let message = error.to_string();
            assert!(
                message.contains(text) && message.contains(hint),
                "{message}"
            );
        }
    }

    #[test]
    fn the_password_never_shows_in_the_label() {
        let label = redact("postgres://bot:hunter2@db.internal:5432/scenebot");
        assert!(!label.contains("hunter2"), "{label}");
        assert!(label.contains("db.internal"), "{label}");
        assert!(!redact("postgres://bot:%zz@").contains("%zz"));
    }
}
