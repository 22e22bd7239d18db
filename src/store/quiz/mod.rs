//! The quiz's records and their part of the store contract: a round stored whole before its first question is
//! shown (questions, the interaction token it runs on, its lane), each question's close and message once opened,
//! each answer once (unique per round, question and person), the reveal state, and a server's all-time board,
//! added to exactly once per round in the transaction that ends it.
//!
//! The SQL of each dialect sits beside it (`sqlite.rs`, `postgres.rs`); this facade forwards to whichever backend
//! is open, as `store/mod.rs` does for polls and daily posts.

mod postgres;
mod sqlite;

use serde::{Deserialize, Serialize};

use super::{from_sql, to_sql, Backend, Lease, Store, StoreError};
use crate::locale::Locale;
use crate::quiz::{Answer, Kind, Question, Score};

/// Where a round runs, for "one running round at a time": a channel for a public round, a person for a solo one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lane {
    /// A public round in a server channel.
    Channel(u64),
    /// A solo round (a DM, a user install): one per person, wherever they are.
    User(u64),
}

impl Lane {
    fn text(self) -> String {
        match self {
            Lane::Channel(id) => format!("channel:{id}"),
            Lane::User(id) => format!("user:{id}"),
        }
    }
}

/// A round to store, as `/quiz start` drew it.
#[derive(Debug, Clone)]
pub struct NewRound {
    /// The server of a public round; `None` for a solo round, which has no board.
    pub guild_id: Option<u64>,
    /// The channel its messages go to.
    pub channel_id: u64,
    /// Who started it.
    pub started_by: u64,
    /// The language its messages are in.
    pub locale: Locale,
    /// Its questions, in order.
    pub questions: Vec<Question>,
    /// The application whose interaction webhook the round's messages go through.
    pub application_id: u64,
    /// The `/quiz start` interaction's token (valid 15 minutes): every message of the round is sent with it.
    pub token: String,
    /// Now, unix seconds.
    pub now: i64,
    /// No new public round in a channel until this many seconds after its last one ended.
    pub cooldown: i64,
}

/// Where a round is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoundState {
    /// Questions still to ask or reveal.
    Running,
    /// Every question was revealed; the board has the round.
    Finished,
    /// Ended early (`/quiz stop`, or the token's time ran out); the board has what was revealed.
    Stopped,
}

impl RoundState {
    fn code(self) -> &'static str {
        match self {
            RoundState::Running => "running",
            RoundState::Finished => "finished",
            RoundState::Stopped => "stopped",
        }
    }

    fn parse(text: &str) -> RoundState {
        match text {
            "running" => RoundState::Running,
            "finished" => RoundState::Finished,
            _ => RoundState::Stopped,
        }
    }
}

/// One question of a stored round once it was opened: when it closes, its message, whether it was revealed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// Its position in the round, from 0.
    pub position: usize,
    /// When answers close, unix milliseconds.
    pub closes_at_ms: i64,
    /// Its message, once sent.
    pub message_id: Option<u64>,
    /// Answers are closed and the tally fixed.
    pub revealed: bool,
    /// The message shows the reveal.
    pub shown: bool,
}

/// A stored round.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoundRecord {
    /// Its id (carried by its answer buttons).
    pub id: u64,
    /// Its server; `None` for a solo round.
    pub guild_id: Option<u64>,
    /// Its channel.
    pub channel_id: u64,
    /// Who started it.
    pub started_by: u64,
    /// Its language.
    pub locale: Locale,
    /// Its questions (empty if they could not be read back).
    pub questions: Vec<Question>,
    /// The application of its interaction webhook.
    pub application_id: u64,
    /// The interaction token it runs on.
    pub token: String,
    /// When it started, unix seconds.
    pub started_at: i64,
    /// Where it is.
    pub state: RoundState,
    /// `/quiz stop` asked for its end: the open question closes now and the round ends.
    pub stop_requested: bool,
    /// When it ended.
    pub ended_at: Option<i64>,
    /// Its scores were posted.
    pub scores_posted: bool,
    /// The questions opened so far, by position.
    pub slots: Vec<Slot>,
}

impl RoundRecord {
    /// The slot of the question at `position`, once opened.
    pub fn slot(&self, position: usize) -> Option<&Slot> {
        self.slots.iter().find(|slot| slot.position == position)
    }
}

/// Why a round was not started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotStarted {
    /// A round is running in the lane already.
    Running(Box<RoundRecord>),
    /// The channel's last round ended moments ago: a new one may start at this time (unix seconds).
    Cooldown {
        /// When.
        until: i64,
    },
}

/// What storing a click did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    /// The person's one answer to the question.
    Counted,
    /// They had answered already, with this option; the first stands.
    Already(usize),
    /// The question is revealed, not yet opened, or its round is over or stopping: nothing stored.
    Closed,
}

/// A person's line on a server's board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BoardRow {
    /// Who.
    pub user: u64,
    /// Their place: 1 for the most points; equal points share a place.
    pub place: u64,
    /// Points over every round.
    pub points: u64,
    /// Right answers.
    pub right: u64,
    /// First right answers.
    pub firsts: u64,
    /// Rounds they answered in.
    pub rounds: u64,
}

/// A server's all-time board: the top, the asker's own line, and how many rounds the server played.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Board {
    /// The best, most points first.
    pub top: Vec<BoardRow>,
    /// The asker's line, when they have one.
    pub me: Option<BoardRow>,
    /// Rounds the server finished or stopped.
    pub rounds: u64,
}

/// A question as stored (JSON): the kind by its code, so a renamed variant never misreads a round.
#[derive(Serialize, Deserialize)]
struct StoredQuestion {
    kind: String,
    scene: String,
    options: Vec<String>,
    answer: usize,
}

fn questions_text(questions: &[Question]) -> String {
    let stored: Vec<StoredQuestion> = questions
        .iter()
        .map(|q| StoredQuestion {
            kind: q.kind.code().to_owned(),
            scene: q.scene.clone(),
            options: q.options.clone(),
            answer: q.answer,
        })
        .collect();
    serde_json::to_string(&stored).unwrap_or_else(|_| "[]".to_owned())
}

fn read_questions(text: &str, round: i64) -> Vec<Question> {
    let stored: Vec<StoredQuestion> =
        super::decode(text, "quiz questions", round).unwrap_or_default();
    stored
        .into_iter()
        .filter_map(|q| {
            Some(Question {
                kind: Kind::from_code(&q.kind)?,
                scene: q.scene,
                options: q.options,
                answer: q.answer,
            })
        })
        .collect()
}

/// The columns every round read selects, in [`RoundRow`]'s order.
const ROUND_COLUMNS: &str =
    "id, guild_id, channel_id, started_by, locale, questions, application_id, token, \
     started_at, state, stop_requested, ended_at, scores_posted";

/// A round's row as read, before its slots are attached.
struct RoundRow {
    id: i64,
    guild_id: Option<i64>,
    channel_id: i64,
    started_by: i64,
    locale: String,
    questions: String,
    application_id: i64,
    token: String,
    started_at: i64,
    state: String,
    stop_requested: bool,
    ended_at: Option<i64>,
    scores_posted: bool,
}

impl RoundRow {
    fn into_record(self, slots: Vec<Slot>) -> RoundRecord {
        RoundRecord {
            id: from_sql(self.id),
            guild_id: self.guild_id.map(from_sql),
            channel_id: from_sql(self.channel_id),
            started_by: from_sql(self.started_by),
            locale: Locale::from_discord(&self.locale),
            questions: read_questions(&self.questions, self.id),
            application_id: from_sql(self.application_id),
            token: self.token,
            started_at: self.started_at,
            state: RoundState::parse(&self.state),
            stop_requested: self.stop_requested,
            ended_at: self.ended_at,
            scores_posted: self.scores_posted,
            slots,
        }
    }
}

/// A slot's row: (position, closes_at_ms, message_id, revealed, shown).
type SlotRow = (i64, i64, Option<i64>, bool, bool);

fn slot_of((position, closes_at_ms, message_id, revealed, shown): SlotRow) -> Slot {
    Slot {
        position: usize::try_from(position).unwrap_or(usize::MAX),
        closes_at_ms,
        message_id: message_id.map(from_sql),
        revealed,
        shown,
    }
}

/// An answer's row: (user, choice, at_ms).
fn answer_of((user, choice, at_ms): (i64, i64, i64)) -> Answer {
    Answer {
        user: from_sql(user),
        option: usize::try_from(choice).unwrap_or(usize::MAX),
        at_ms,
    }
}

/// A board row as read: (user, points, right, firsts, rounds, place).
fn board_row_of(
    (user, points, right, firsts, rounds, place): (i64, i64, i64, i64, i64, i64),
) -> BoardRow {
    let count = |n: i64| u64::try_from(n).unwrap_or(0);
    BoardRow {
        user: from_sql(user),
        place: count(place),
        points: count(points),
        right: count(right),
        firsts: count(firsts),
        rounds: count(rounds),
    }
}

/// Calls the same quiz method on whichever backend is open.
macro_rules! on_backend {
    ($store:ident . $method:ident ( $($arg:expr),* $(,)? )) => {
        match &$store.backend {
            Backend::Sqlite(backend) => backend.$method($($arg),*),
            Backend::Postgres(backend) => backend.$method($($arg),*),
        }
    };
}

impl Store {
    fn lease(&self, now: i64) -> Lease<'_> {
        Lease {
            owner: &self.owner,
            family: &self.family,
            now,
            until: self.lease_until(now),
        }
    }

    /// Stores a new round, claimed by this process, unless its lane has a running round (returned) or, for a
    /// public round, the channel's last round ended less than `cooldown` seconds ago. A unique index keeps two
    /// `/quiz start`s at once to one round.
    pub fn insert_quiz_round(
        &self,
        round: &NewRound,
    ) -> Result<Result<RoundRecord, NotStarted>, StoreError> {
        let lane = match round.guild_id {
            Some(_) => Lane::Channel(round.channel_id),
            None => Lane::User(round.started_by),
        };
        let cooldown = if round.guild_id.is_some() {
            round.cooldown
        } else {
            0
        };
        let questions = questions_text(&round.questions);
        on_backend!(self.insert_quiz_round(
            round,
            &lane.text(),
            &questions,
            cooldown,
            &self.lease(round.now)
        ))
    }

    /// Round `id`.
    pub fn quiz_round(&self, id: u64) -> Result<Option<RoundRecord>, StoreError> {
        on_backend!(self.quiz_round(to_sql(id)))
    }

    /// The running round in a channel (public rounds only).
    pub fn running_quiz_round(&self, channel_id: u64) -> Result<Option<RoundRecord>, StoreError> {
        self.running_quiz_round_in(Lane::Channel(channel_id))
    }

    /// The running round in `lane`: a channel's public round, or a person's solo round.
    pub fn running_quiz_round_in(&self, lane: Lane) -> Result<Option<RoundRecord>, StoreError> {
        on_backend!(self.running_quiz_round(&lane.text()))
    }

    /// Rounds with work left: running, or ended with their scores unposted, started at or after `since` (unix
    /// seconds; an older round's token has expired, so nothing of it can be sent any more).
    pub fn unfinished_quiz_rounds(&self, since: i64) -> Result<Vec<RoundRecord>, StoreError> {
        on_backend!(self.unfinished_quiz_rounds(since))
    }

    /// Claims round `id` to run it: true when it was free, ours or our predecessor's, or its lease ran out; false
    /// when another live process runs it. Also renews our own claim.
    pub fn claim_quiz_round(&self, id: u64, now: i64) -> Result<bool, StoreError> {
        on_backend!(self.claim_quiz_round(to_sql(id), &self.lease(now)))
    }

    /// Opens the question at `position`, closing at `closes_at_ms`, unless it was opened already: the close it was
    /// given first is returned (a resumed round keeps the close its message shows).
    pub fn open_quiz_question(
        &self,
        round: u64,
        position: usize,
        closes_at_ms: i64,
    ) -> Result<i64, StoreError> {
        on_backend!(self.open_quiz_question(to_sql(round), position_sql(position), closes_at_ms))
    }

    /// Records the message of the question at `position`.
    pub fn quiz_question_sent(
        &self,
        round: u64,
        position: usize,
        message_id: u64,
    ) -> Result<(), StoreError> {
        on_backend!(self.quiz_question_sent(
            to_sql(round),
            position_sql(position),
            to_sql(message_id)
        ))
    }

    /// Stores `answer` to the question at `position` if the question is open (opened, not revealed, its round
    /// running and not stopping) and it is the person's first; the caller has checked the option and the time
    /// against the stored round. Atomic with the reveal: an answer is either in the reveal's tally or refused.
    pub fn record_quiz_answer(
        &self,
        round: u64,
        position: usize,
        answer: Answer,
    ) -> Result<Stored, StoreError> {
        on_backend!(self.record_quiz_answer(to_sql(round), position_sql(position), answer))
    }

    /// Closes the question at `position` for good (no answer is stored after) and returns its answers in the
    /// order they were counted. Repeating it returns the same answers.
    pub fn reveal_quiz_question(
        &self,
        round: u64,
        position: usize,
    ) -> Result<Vec<Answer>, StoreError> {
        on_backend!(self.reveal_quiz_question(to_sql(round), position_sql(position)))
    }

    /// Every answer of the round's revealed questions: (position, answer), in counted order, for its scores.
    pub fn revealed_quiz_answers(&self, round: u64) -> Result<Vec<(usize, Answer)>, StoreError> {
        on_backend!(self.revealed_quiz_answers(to_sql(round)))
    }

    /// The message of the question at `position` shows its reveal.
    pub fn mark_quiz_shown(&self, round: u64, position: usize) -> Result<(), StoreError> {
        on_backend!(self.mark_quiz_shown(to_sql(round), position_sql(position)))
    }

    /// Asks a running round to stop: its open question closes now and it ends. False when it was not running.
    pub fn request_quiz_stop(&self, round: u64) -> Result<bool, StoreError> {
        on_backend!(self.request_quiz_stop(to_sql(round)))
    }

    /// Ends a running round as `state` with `scores`, adding them to its server's board in the same transaction:
    /// true for the call that ended it, false (and nothing added) for any later one, so the board moves once.
    pub fn finish_quiz_round(
        &self,
        round: u64,
        state: RoundState,
        scores: &[Score],
        now: i64,
    ) -> Result<bool, StoreError> {
        on_backend!(self.finish_quiz_round(to_sql(round), state.code(), scores, now))
    }

    /// The round's scores were posted.
    pub fn mark_quiz_scores_posted(&self, round: u64) -> Result<(), StoreError> {
        on_backend!(self.mark_quiz_scores_posted(to_sql(round)))
    }

    /// A server's board: the `limit` best (most points, then most right, then earliest id), `user`'s own line,
    /// and how many rounds the server ended.
    pub fn quiz_board(&self, guild_id: u64, user: u64, limit: i64) -> Result<Board, StoreError> {
        on_backend!(self.quiz_board(to_sql(guild_id), to_sql(user), limit))
    }
}

fn position_sql(position: usize) -> i64 {
    i64::try_from(position).unwrap_or(i64::MAX)
}
