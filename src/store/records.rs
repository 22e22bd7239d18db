//! The store's records: what the backends read and write, as typed values for callers (polls, schedules, posts,
//! claims) and as the SQL-typed rows both backends share, with the one conversion between them.

use chrono::{NaiveDate, NaiveTime};
use chrono_tz::Tz;
use tracing::warn;

use super::StoreError;
use crate::daily::ShuffleBag;
use crate::favorite::Tally;
use crate::locale::{Locale, Occasion};
use crate::reason::{CancelReason, PostFailure, ThreadNote};

/// How a local date is stored: `YYYY-MM-DD`, so text order is date order.
pub(super) fn date_text(date: NaiveDate) -> String {
    date.format("%Y-%m-%d").to_string()
}

/// A stored local date (`None`, logged, for text only a hand edit could have written).
pub(super) fn parse_date(text: &str) -> Option<NaiveDate> {
    let parsed = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok();
    if parsed.is_none() {
        warn!(
            date = text,
            "a daily post has an unreadable date; leaving it out"
        );
    }
    parsed
}

/// JSON for a column; failing is a bug, reported rather than stored as an empty value.
pub(super) fn encode(
    value: &(impl serde::Serialize + ?Sized),
    what: &str,
) -> Result<String, StoreError> {
    serde_json::to_string(value)
        .map_err(|error| StoreError::Task(format!("cannot encode {what}: {error}")))
}

/// A schedule as read for planning, with its recent posts (local date text, record).
pub(super) type PlannedRow = (DailyRow, Vec<(String, DailyPost)>);

/// Folds the join's rows (one per schedule and post, ordered by schedule) into one entry per schedule, handed on as
/// soon as its last row is read: a planning pass holds one schedule at a time, not every server's (at 100,000
/// servers, every schedule and its recent posts at once cost tens of megabytes, every pass).
#[derive(Default)]
pub(super) struct PlannedRows {
    current: Option<PlannedRow>,
}

impl PlannedRows {
    /// Takes the next row of the join; hands the previous schedule to `visit` when this one starts another.
    pub(super) fn push(
        &mut self,
        row: DailyRow,
        post: Option<(String, DailyPost)>,
        visit: &mut dyn FnMut(PlannedRow),
    ) {
        let another = self
            .current
            .as_ref()
            .is_none_or(|(last, _)| last.guild_id != row.guild_id);
        if another {
            if let Some(done) = self.current.replace((row, Vec::new())) {
                visit(done);
            }
        }
        if let (Some(post), Some((_, posts))) = (post, self.current.as_mut()) {
            posts.push(post);
        }
    }

    /// Hands the last schedule to `visit`.
    pub(super) fn finish(self, visit: &mut dyn FnMut(PlannedRow)) {
        if let Some(done) = self.current {
            visit(done);
        }
    }
}

/// One active schedule and its post records from a planning date on: what [`Store::plan_each_daily`] hands on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedDaily {
    /// The schedule.
    pub record: DailyRecord,
    /// Its posts' records by local date.
    pub posts: Vec<(NaiveDate, DailyPost)>,
}

/// Snowflakes are below 2^63, so they fit SQL's signed 64-bit integers unchanged.
pub(super) fn to_sql(id: u64) -> i64 {
    i64::try_from(id).unwrap_or(i64::MAX)
}

pub(super) fn from_sql(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
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
    pub(super) fn parse(text: &str) -> PollState {
        match text {
            "posting" => PollState::Posting,
            "running" => PollState::Running,
            "ended" => PollState::Ended,
            "announced" => PollState::Announced,
            "cancelled" => PollState::Cancelled,
            other => {
                // The CHECK constraint allows no other value: only a hand edit or a newer build writes one.
                warn!(
                    state = other,
                    "a poll has an unknown state; reading it as cancelled"
                );
                PollState::Cancelled
            }
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
    /// The server's language at start.
    pub locale: Locale,
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
    pub reason: Option<CancelReason>,
    /// When it was announced or cancelled.
    pub finished_at: Option<i64>,
    /// Discord's answer ids and the scene each stands for, kept when the poll was posted (empty for polls posted
    /// by versions that did not keep them: their answers are matched by label).
    pub answer_ids: Vec<(u64, String)>,
    /// When its results were last about to be sent (unix seconds): only then can they already be in the channel,
    /// so a poll without one is never searched for them.
    pub results_attempt_at: Option<i64>,
    /// Whether its results post gets a thread (`/favorite start thread:true`).
    pub thread: bool,
    /// How the results' thread went, once tried.
    pub thread_note: Option<ThreadNote>,
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
    pub locale: Locale,
    /// Scene ids in answer order.
    pub scene_ids: Vec<String>,
    /// Length in hours.
    pub hours: u16,
    /// Now (unix seconds).
    pub now: i64,
    /// Whether its results post gets a thread.
    pub thread: bool,
}

/// The columns of a poll, in [`PollRow`]'s order.
pub(super) const POLL_COLUMNS: &str =
    "id, guild_id, channel_id, message_id, started_by, locale, scene_ids, hours, created_at, \
    ends_at, state, tally, result_message_id, problem, finished_at, answer_ids, results_attempt_at, thread, \
    thread_state";

/// A poll as both backends read it (SQL types), before it becomes a [`PollRecord`].
pub(super) struct PollRow {
    pub(super) id: i64,
    pub(super) guild_id: i64,
    pub(super) channel_id: i64,
    pub(super) message_id: Option<i64>,
    pub(super) started_by: i64,
    pub(super) locale: String,
    pub(super) scene_ids: String,
    pub(super) hours: i64,
    pub(super) created_at: i64,
    pub(super) ends_at: i64,
    pub(super) state: String,
    pub(super) tally: Option<String>,
    pub(super) result_message_id: Option<i64>,
    pub(super) problem: Option<String>,
    pub(super) finished_at: Option<i64>,
    pub(super) answer_ids: Option<String>,
    pub(super) results_attempt_at: Option<i64>,
    pub(super) thread: bool,
    pub(super) thread_state: Option<String>,
}

impl PollRow {
    pub(super) fn into_record(self) -> PollRecord {
        PollRecord {
            id: self.id,
            guild_id: from_sql(self.guild_id),
            channel_id: from_sql(self.channel_id),
            message_id: self.message_id.map(from_sql),
            started_by: from_sql(self.started_by),
            locale: Locale::from_discord(&self.locale),
            scene_ids: decode(&self.scene_ids, "scene ids", self.id).unwrap_or_default(),
            hours: u16::try_from(self.hours).unwrap_or(u16::MAX),
            created_at: self.created_at,
            ends_at: self.ends_at,
            state: PollState::parse(&self.state),
            tally: self.tally.and_then(|t| decode(&t, "tally", self.id)),
            result_message_id: self.result_message_id.map(from_sql),
            reason: self.problem.as_deref().map(CancelReason::parse),
            finished_at: self.finished_at,
            answer_ids: self
                .answer_ids
                .and_then(|ids| decode(&ids, "answer ids", self.id))
                .unwrap_or_default(),
            results_attempt_at: self.results_attempt_at,
            thread: self.thread,
            thread_note: self.thread_state.as_deref().map(ThreadNote::parse),
        }
    }
}

/// A server's daily-scene settings and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyRecord {
    /// The server.
    pub guild_id: u64,
    /// Where to post.
    pub channel_id: u64,
    /// Local time of the post (whole minutes).
    pub time: NaiveTime,
    /// The server's time zone.
    pub timezone: Tz,
    /// A role to mention, if any.
    pub role_id: Option<u64>,
    /// The server's language.
    pub locale: Locale,
    /// `/daily off` turns this off; the settings stay.
    pub enabled: bool,
    /// Paused after repeated failures; `/daily set` resumes.
    pub paused: bool,
    /// When it was set or resumed: posts before this are not owed.
    pub active_since: i64,
    /// Failed days in a row.
    pub failures: u32,
    /// The last failure, kept for `/daily status`.
    pub last_error: Option<PostFailure>,
    /// When the last post went out.
    pub last_post_at: Option<i64>,
    /// The shuffle bag.
    pub bag: ShuffleBag,
    /// Whether each post gets a thread (`/daily set thread:true`).
    pub thread: bool,
    /// Why the last thread was skipped, for `/daily status` (cleared when one opens).
    pub thread_problem: Option<ThreadNote>,
}

/// Where a day's post is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyPostState {
    /// Claimed (scene drawn); not known to be sent.
    Claimed,
    /// Sent and recorded.
    Sent,
    /// Given up for that day.
    Failed,
    /// Not owed (the bot was down too long past the time).
    Skipped,
}

impl DailyPostState {
    /// Unreadable text counts as finished: when in doubt, never post a second time.
    pub(super) fn parse(text: &str) -> DailyPostState {
        match text {
            "claimed" => DailyPostState::Claimed,
            "sent" => DailyPostState::Sent,
            "failed" => DailyPostState::Failed,
            "skipped" => DailyPostState::Skipped,
            other => {
                warn!(
                    state = other,
                    "a daily post has an unknown state; reading it as skipped"
                );
                DailyPostState::Skipped
            }
        }
    }
}

/// A daily post's record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyPost {
    /// Its state.
    pub state: DailyPostState,
    /// The scene drawn for it (an anniversary's scene on a special day; `None` on the birthday).
    pub scene_id: Option<String>,
    /// The message, once sent (or once posted, before its thread, on a day with a thread).
    pub message_id: Option<u64>,
    /// When it was claimed.
    pub claimed_at: i64,
    /// The special card's occasion on a special day (`None` for a scene from the bag).
    pub special: Option<Occasion>,
    /// How the day's thread went, when one was asked for.
    pub thread: Option<ThreadNote>,
}

/// The columns of a post, in [`DailyPost`]'s order (after its date).
pub(super) const POST_COLUMNS: &str = "state, scene_id, message_id, claimed_at, special, thread";

/// What a day's post shows, as its claim records it: the scene drawn from the bag, or a special card (an
/// anniversary of a scene's drama or kiss episode, or the birthday), which draws nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// A scene from the shuffle bag.
    Scene(String),
    /// A special card: what is marked, and the scene it is about (`None` for the birthday).
    Special(Occasion, Option<String>),
}

impl Pick {
    /// The `scene_id` and `special` columns.
    pub(super) fn columns(&self) -> (Option<&str>, Option<&'static str>) {
        match self {
            Pick::Scene(scene) => (Some(scene), None),
            Pick::Special(occasion, scene) => (scene.as_deref(), Some(occasion.code())),
        }
    }

    /// Read back from the `scene_id` and `special` columns; `None` when they hold nothing to post.
    pub(super) fn from_columns(scene: Option<String>, special: Option<&str>) -> Option<Pick> {
        match special {
            Some(code) => Some(Pick::Special(Occasion::parse(code)?, scene)),
            None => scene.map(Pick::Scene),
        }
    }
}

impl From<String> for Pick {
    fn from(scene: String) -> Pick {
        Pick::Scene(scene)
    }
}

impl From<&str> for Pick {
    fn from(scene: &str) -> Pick {
        Pick::Scene(scene.to_owned())
    }
}

/// New daily settings.
#[derive(Debug, Clone)]
pub struct DailySettings {
    /// Whether each post gets a thread.
    pub thread: bool,
    /// The server.
    pub guild_id: u64,
    /// Where to post.
    pub channel_id: u64,
    /// Local time of the post (seconds are dropped).
    pub time: NaiveTime,
    /// The server's time zone.
    pub timezone: Tz,
    /// A role to mention.
    pub role_id: Option<u64>,
    /// The server's language.
    pub locale: Locale,
}

/// Daily settings as both backends write them: `HH:MM`, the IANA name, the Discord locale code.
pub(super) struct SettingsText {
    pub(super) guild_id: i64,
    pub(super) channel_id: i64,
    pub(super) time: String,
    pub(super) timezone: &'static str,
    pub(super) role_id: Option<i64>,
    pub(super) locale: &'static str,
    pub(super) thread: bool,
}

impl SettingsText {
    pub(super) fn of(settings: &DailySettings) -> SettingsText {
        SettingsText {
            guild_id: to_sql(settings.guild_id),
            channel_id: to_sql(settings.channel_id),
            time: settings.time.format("%H:%M").to_string(),
            timezone: settings.timezone.name(),
            role_id: settings.role_id.map(to_sql),
            locale: settings.locale.code(),
            thread: settings.thread,
        }
    }
}

/// The columns of a schedule, in [`DailyRow`]'s order.
pub(super) const DAILY_COLUMNS: &str =
    "guild_id, channel_id, time, timezone, role_id, locale, enabled, paused, active_since, \
    failures, last_error, last_post_at, bag, thread, thread_problem";

/// A schedule as both backends read it (SQL types), before it becomes a [`DailyRecord`].
pub(super) struct DailyRow {
    pub(super) guild_id: i64,
    pub(super) channel_id: i64,
    pub(super) time: String,
    pub(super) timezone: String,
    pub(super) role_id: Option<i64>,
    pub(super) locale: String,
    pub(super) enabled: bool,
    pub(super) paused: bool,
    pub(super) active_since: i64,
    pub(super) failures: i64,
    pub(super) last_error: Option<String>,
    pub(super) last_post_at: Option<i64>,
    pub(super) bag: String,
    pub(super) thread: bool,
    pub(super) thread_problem: Option<String>,
}

impl DailyRow {
    /// The typed record; `None` (logged) when the stored time or zone cannot be read (only a hand edit does that).
    pub(super) fn into_record(self) -> Option<DailyRecord> {
        let (Ok(time), Ok(timezone)) = (
            crate::daily::parse_time(&self.time),
            crate::daily::parse_zone(&self.timezone),
        ) else {
            warn!(
                guild = self.guild_id,
                time = self.time,
                zone = self.timezone,
                "daily schedule has an unreadable time or zone; skipping it"
            );
            return None;
        };
        Some(DailyRecord {
            guild_id: from_sql(self.guild_id),
            channel_id: from_sql(self.channel_id),
            time,
            timezone,
            role_id: self.role_id.map(from_sql),
            locale: Locale::from_discord(&self.locale),
            enabled: self.enabled,
            paused: self.paused,
            active_since: self.active_since,
            failures: u32::try_from(self.failures).unwrap_or(u32::MAX),
            last_error: self.last_error.as_deref().map(PostFailure::parse),
            last_post_at: self.last_post_at,
            bag: decode(&self.bag, "shuffle bag", self.guild_id).unwrap_or_default(),
            thread: self.thread,
            thread_problem: self.thread_problem.as_deref().map(ThreadNote::parse),
        })
    }
}

pub(super) fn bag_text(bag: &ShuffleBag) -> String {
    serde_json::to_string(bag).unwrap_or_else(|_| "{}".to_owned())
}

/// A shuffle bag as stored (`None`: the server has no schedule yet, so an empty bag).
pub(super) fn read_bag_text(text: Option<String>, guild_id: i64) -> ShuffleBag {
    text.and_then(|b| decode(&b, "shuffle bag", guild_id))
        .unwrap_or_default()
}

/// Decodes a JSON column of row `row`. A value that does not decode (a hand edit, a bug) is logged and read as
/// missing: one bad row must not stop the bot, and must not go unnoticed either.
pub(super) fn decode<T: serde::de::DeserializeOwned>(
    text: &str,
    what: &str,
    row: i64,
) -> Option<T> {
    match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(error) => {
            warn!(row, what, %error, "a stored value cannot be read; using an empty one");
            None
        }
    }
}

/// The result of claiming a day's post.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Newly claimed with this post: send it.
    New(Pick),
    /// Claimed before and not sent (a crash, a transient failure, or a dead process whose lease ran out): send
    /// this post again, same nonce (unless its message is recorded: then only its thread is owed).
    Unsent(Pick),
    /// Another live process holds the claim: it sends; look again later.
    Held,
    /// Already sent, failed or skipped: nothing to do.
    Done,
    /// No scene to post (an empty catalog).
    Nothing,
}
