//! A quiz round's life, as rules over the store and the [`Port`]: open a question (its close stored before its
//! message is sent), wait for the close (or a stop), reveal it (the tally fixed in the store first, then the
//! message edited), and at the end record the scores and the board once and post them. Every step is stored before
//! the next, so a restarted process resumes a round where it was: a question whose time ran out meanwhile is
//! revealed at once; a round whose interaction token would expire before its next question could close ends with
//! its scores kept.
//!
//! Clicks are judged here too ([`answer`]): by the stored round, never by the button's `custom_id`, which only
//! names what was clicked.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::sync::Notify;
use tracing::{info, warn};

use super::port::{Port, QuizView};
use crate::clock::Clock;
use crate::quiz::{answer_window_seconds, round_scores, Answer, Reveal, Score, Tally};
use crate::reason::Failure;
use crate::respond::Responder;
use crate::store::{RoundRecord, RoundState, Store, StoreError, Stored};

/// How long an interaction token lets the bot send and edit its messages: Discord's 15 minutes.
pub const TOKEN_LIFETIME_SECONDS: i64 = 15 * 60;
/// A margin kept before the token's end for the last reveal and the scores (clocks differ, calls take time).
pub const TOKEN_MARGIN_SECONDS: i64 = 45;
/// The pause between a reveal and the next question: time to see the answer before the next one arrives.
pub const REVEAL_PAUSE_SECONDS: i64 = 3;
/// How long a channel waits after a round before the next one may start there.
pub const COOLDOWN_SECONDS: i64 = 30;
/// How often a failed send or edit of a round's message is tried again while there is time.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// The quiz process: the store, the clock, Discord, and a wake-up per running round (for `/quiz stop`).
pub struct Rounds<P: Port> {
    /// The store.
    pub store: Store,
    /// The time.
    pub clock: Arc<dyn Clock>,
    /// Discord.
    pub port: P,
    /// The catalog, for each question's answer window.
    pub responder: Arc<Responder>,
    /// The rounds this process runs now, each with what wakes it.
    pub running: RunningRounds,
}

/// The rounds a process runs, each with the [`Notify`] that wakes its runner (a stop).
#[derive(Clone, Default)]
pub struct RunningRounds(Arc<Mutex<HashMap<u64, Arc<Notify>>>>);

impl RunningRounds {
    /// Registers round `id` as run here; `None` when it already is (so a round never has two runners).
    fn enter(&self, id: u64) -> Option<Arc<Notify>> {
        let mut rounds = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if rounds.contains_key(&id) {
            return None;
        }
        let wake = Arc::new(Notify::new());
        rounds.insert(id, Arc::clone(&wake));
        Some(wake)
    }

    fn leave(&self, id: u64) {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    /// Wakes round `id`'s runner, if it runs here.
    pub fn wake(&self, id: u64) {
        if let Some(wake) = self
            .0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&id)
        {
            wake.notify_one();
        }
    }
}

/// What became of a click on an answer button, for the private acknowledgement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Click {
    /// Counted: "locked in".
    Counted(usize),
    /// The person answered this question already, with this option.
    Already(usize),
    /// The question is closed.
    TooLate,
    /// Not a button of a running question (forged, another round's, a stale message): nothing counted.
    NotCounted,
}

/// A click on `quiz:answer:<round>:<question>:<option>`, on `message` in `channel`, by `user`, at `at_ms` (the
/// interaction id's time): judged by the stored round (the question exists, the click is on its message, the option
/// is one it offered, the answers are open) and stored once.
pub fn answer(
    store: &Store,
    round: u64,
    position: usize,
    option: usize,
    click: (u64, u64, u64, i64),
) -> Result<Click, StoreError> {
    let (channel, message, user, at_ms) = click;
    let Some(record) = store.quiz_round(round)? else {
        return Ok(Click::NotCounted);
    };
    let (Some(question), Some(slot)) = (record.questions.get(position), record.slot(position))
    else {
        return Ok(Click::NotCounted);
    };
    let on_its_message = slot.message_id.is_none_or(|m| m == message);
    if record.channel_id != channel || !on_its_message || option >= question.options.len() {
        return Ok(Click::NotCounted);
    }
    if slot.revealed || record.state != RoundState::Running || record.stop_requested {
        return Ok(Click::TooLate);
    }
    let mut tally = Tally::new(question.options.len(), slot.closes_at_ms);
    let answer = Answer {
        user,
        option,
        at_ms,
    };
    if tally.record(answer) == crate::quiz::Recorded::Closed {
        return Ok(Click::TooLate);
    }
    Ok(match store.record_quiz_answer(round, position, answer)? {
        Stored::Counted => Click::Counted(option),
        Stored::Already(first) => Click::Already(first),
        Stored::Closed => Click::TooLate,
    })
}

/// The reveal of the question at `position` from its stored answers.
fn reveal_of(record: &RoundRecord, position: usize, answers: &[Answer]) -> Option<Reveal> {
    let question = record.questions.get(position)?;
    let closes = record.slot(position).map_or(i64::MAX, |s| s.closes_at_ms);
    let mut tally = Tally::new(question.options.len(), closes);
    for answer in answers {
        tally.record(*answer);
    }
    Some(tally.reveal(question.answer))
}

/// The round's scores from its revealed questions' stored answers.
pub fn scores_of(record: &RoundRecord, answers: &[(usize, Answer)]) -> Vec<Score> {
    let reveals: Vec<Reveal> = (0..record.questions.len())
        .filter(|position| record.slot(*position).is_some_and(|s| s.revealed))
        .filter_map(|position| {
            let mine: Vec<Answer> = answers
                .iter()
                .filter(|(p, _)| *p == position)
                .map(|(_, a)| *a)
                .collect();
            reveal_of(record, position, &mine)
        })
        .collect();
    round_scores(&reveals)
}

/// How the runner's step went.
enum Step {
    /// Go on with the round.
    Next,
    /// The round is done here (ended, given up, or run by another process).
    Done,
}

impl<P: Port> Rounds<P> {
    fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Runs round `id` to its end, unless it already runs in this process or another live process holds it.
    pub async fn run(self: Arc<Self>, id: u64) {
        let Some(wake) = self.running.enter(id) else {
            return;
        };
        loop {
            match self.step(id, &wake).await {
                Ok(Step::Next) => {}
                Ok(Step::Done) => break,
                Err(error) => {
                    warn!(round = id, "quiz round step failed (trying again): {error}");
                    tokio::time::sleep(RETRY_AFTER).await;
                }
            }
        }
        self.running.leave(id);
    }

    /// One step of round `id`: show a reveal not shown yet, open the next question, wait for its close and reveal
    /// it, or end the round.
    async fn step(&self, id: u64, wake: &Notify) -> Result<Step, StoreError> {
        let now = self.clock.now();
        let store = &self.store;
        if !store.call(move |s| s.claim_quiz_round(id, now)).await? {
            info!(round = id, "quiz round run by another process");
            return Ok(Step::Done);
        }
        let Some(record) = store.call(move |s| s.quiz_round(id)).await? else {
            return Ok(Step::Done);
        };
        let token_ends = record.started_at + TOKEN_LIFETIME_SECONDS - TOKEN_MARGIN_SECONDS;
        for slot in record.slots.iter().filter(|s| s.revealed && !s.shown) {
            self.show_reveal(&record, slot.position).await?;
        }
        if record.state != RoundState::Running {
            self.post_scores(&record).await?;
            return Ok(Step::Done);
        }
        let next =
            (0..record.questions.len()).find(|p| !record.slot(*p).is_some_and(|s| s.revealed));
        let Some(position) = next else {
            self.finish(&record, RoundState::Finished).await?;
            return Ok(Step::Done);
        };
        let opened = record.slot(position).copied();
        if record.stop_requested && opened.is_none() {
            self.finish(&record, RoundState::Stopped).await?;
            return Ok(Step::Done);
        }
        let closes_at_ms = match opened {
            Some(slot) => slot.closes_at_ms,
            None => {
                let window = self.window(&record, position);
                // A question that could not close and be revealed within the token's life is not asked.
                if now + window > token_ends {
                    self.finish(&record, RoundState::Stopped).await?;
                    return Ok(Step::Done);
                }
                let closes = (now + window).saturating_mul(1000);
                store
                    .call(move |s| s.open_quiz_question(id, position, closes))
                    .await?
            }
        };
        let sent = opened.and_then(|s| s.message_id);
        if sent.is_none() && closes_at_ms > self.now_ms() && now < token_ends {
            let view = QuizView::Question {
                position,
                closes_at: closes_at_ms.div_euclid(1000),
            };
            match self.port.quiz_send(&record, view).await {
                Ok(message) => {
                    store
                        .call(move |s| s.quiz_question_sent(id, position, message))
                        .await?
                }
                Err(failure) => return self.after_failure(&record, failure).await,
            }
        }
        if !record.stop_requested {
            self.wait_until(closes_at_ms, wake).await;
        }
        let answers = store
            .call(move |s| s.reveal_quiz_question(id, position))
            .await?;
        // Read again: the slot now has its message, and the round may have been asked to stop meanwhile.
        let Some(record) = store.call(move |s| s.quiz_round(id)).await? else {
            return Ok(Step::Done);
        };
        let Some(reveal) = reveal_of(&record, position, &answers) else {
            return Ok(Step::Next);
        };
        self.show(&record, position, &reveal).await?;
        let more = position + 1 < record.questions.len();
        if more && !record.stop_requested {
            let pause_until = self.now_ms() + REVEAL_PAUSE_SECONDS * 1000;
            self.wait_until(pause_until, wake).await;
        }
        Ok(Step::Next)
    }

    /// The answer window of the question at `position`, in seconds.
    fn window(&self, record: &RoundRecord, position: usize) -> i64 {
        record
            .questions
            .get(position)
            .and_then(|q| q.prompt(&self.responder.catalog, record.locale))
            .map_or(crate::quiz::round::ANSWER_WINDOW_SECONDS, |prompt| {
                answer_window_seconds(&prompt)
            })
    }

    /// A send that failed: tried again shortly while it may still help; a channel that refuses the bot or a token
    /// that is gone ends the round (with its scores kept, when the board can be reached).
    async fn after_failure(
        &self,
        record: &RoundRecord,
        failure: Failure,
    ) -> Result<Step, StoreError> {
        match failure {
            Failure::Transient(cause) => {
                warn!(
                    round = record.id,
                    "quiz message not sent yet ({cause}); trying again"
                );
                tokio::time::sleep(RETRY_AFTER).await;
                Ok(Step::Next)
            }
            failure => {
                warn!(round = record.id, "quiz round ends: {}", failure.text());
                self.finish(record, RoundState::Stopped).await?;
                Ok(Step::Done)
            }
        }
    }

    /// Waits until the clock reaches `deadline_ms`, or the round is woken (a stop), or the process stops.
    async fn wait_until(&self, deadline_ms: i64, wake: &Notify) {
        let mut moves = self.clock.watch();
        loop {
            let left = deadline_ms - self.now_ms();
            if left <= 0 {
                return;
            }
            let sleep = Duration::from_millis(u64::try_from(left).unwrap_or(0));
            let moved = async {
                match moves.as_mut() {
                    Some(moves) => {
                        if moves.changed().await.is_err() {
                            std::future::pending::<()>().await;
                        }
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = tokio::time::sleep(sleep) => {}
                () = moved => {}
                () = wake.notified() => return,
            }
        }
    }

    /// Edits the question's message to its reveal, and records that it shows it.
    async fn show(
        &self,
        record: &RoundRecord,
        position: usize,
        reveal: &Reveal,
    ) -> Result<(), StoreError> {
        let Some(message) = record.slot(position).and_then(|s| s.message_id) else {
            // Never sent (the token ran out, or the send failed): nothing to edit.
            return self.mark_shown(record.id, position).await;
        };
        if self.clock.now() < record.started_at + TOKEN_LIFETIME_SECONDS {
            let view = QuizView::Revealed { position, reveal };
            if let Err(failure) = self.port.quiz_edit(record, message, view).await {
                if let Failure::Transient(_) = failure {
                    return Err(StoreError::Task(format!(
                        "the reveal was not shown yet: {}",
                        failure.text()
                    )));
                }
                warn!(
                    round = record.id,
                    "the reveal cannot be shown: {}",
                    failure.text()
                );
            }
        }
        self.mark_shown(record.id, position).await
    }

    async fn mark_shown(&self, round: u64, position: usize) -> Result<(), StoreError> {
        self.store
            .call(move |s| s.mark_quiz_shown(round, position))
            .await
    }

    /// Shows the reveal of a question revealed before (a restart between the reveal and its edit).
    async fn show_reveal(&self, record: &RoundRecord, position: usize) -> Result<(), StoreError> {
        let id = record.id;
        let answers = self
            .store
            .call(move |s| s.reveal_quiz_question(id, position))
            .await?;
        match reveal_of(record, position, &answers) {
            Some(reveal) => self.show(record, position, &reveal).await,
            None => self.mark_shown(id, position).await,
        }
    }

    /// Ends the round as `state`: its scores and the board in one transaction (once, whoever repeats it), then the
    /// scores posted.
    async fn finish(&self, record: &RoundRecord, state: RoundState) -> Result<(), StoreError> {
        let id = record.id;
        let scores = self.scores(record).await?;
        let players = scores.len();
        let now = self.clock.now();
        if self
            .store
            .call(move |s| s.finish_quiz_round(id, state, &scores, now))
            .await?
        {
            info!(round = id, players, ?state, "quiz round ended");
        }
        match self.store.call(move |s| s.quiz_round(id)).await? {
            Some(ended) => self.post_scores(&ended).await,
            None => Ok(()),
        }
    }

    /// The round's scores so far, from its revealed questions' stored answers.
    async fn scores(&self, record: &RoundRecord) -> Result<Vec<Score>, StoreError> {
        let id = record.id;
        let answers = self
            .store
            .call(move |s| s.revealed_quiz_answers(id))
            .await?;
        Ok(scores_of(record, &answers))
    }

    /// Posts an ended round's scores, once, while its token lives.
    async fn post_scores(&self, record: &RoundRecord) -> Result<(), StoreError> {
        if record.scores_posted {
            return Ok(());
        }
        if self.clock.now() < record.started_at + TOKEN_LIFETIME_SECONDS {
            let scores = self.scores(record).await?;
            let view = QuizView::Scores {
                scores: &scores,
                stopped: record.state == RoundState::Stopped,
            };
            match self.port.quiz_send(record, view).await {
                Ok(_) => {}
                Err(Failure::Transient(cause)) => {
                    return Err(StoreError::Task(format!(
                        "the scores were not posted yet: {cause}"
                    )));
                }
                Err(failure) => {
                    warn!(
                        round = record.id,
                        "the scores cannot be posted: {}",
                        failure.text()
                    );
                }
            }
        }
        let id = record.id;
        self.store
            .call(move |s| s.mark_quiz_scores_posted(id))
            .await
    }
}

/// Resumes, at start-up, every round with work left that `owns` says this process runs (its server's shard is
/// here); each runs as its own task.
pub async fn resume<P: Port>(rounds: Arc<Rounds<P>>, owns: impl Fn(Option<u64>) -> bool) {
    let since = rounds.clock.now() - TOKEN_LIFETIME_SECONDS;
    let found = rounds
        .store
        .call(move |store| store.unfinished_quiz_rounds(since))
        .await;
    match found {
        Ok(found) => {
            for record in found.into_iter().filter(|r| owns(r.guild_id)) {
                info!(round = record.id, "resuming a quiz round");
                tokio::spawn(Arc::clone(&rounds).run(record.id));
            }
        }
        Err(error) => warn!("cannot read the quiz rounds to resume: {error}"),
    }
}

#[cfg(test)]
mod tests;
