//! What the poll and daily processes ask of Discord, as plain data: the Discord layer implements [`Port`] over
//! serenity (`bot::port`), and the lifecycle's unit tests implement it by hand, so the rules are tested without a
//! fake Discord. Every method is one step whose outcome the process records; a [`Failure`] says what went wrong.

use std::future::Future;

use crate::anniversary::DayPost;
use crate::favorite::Tally;
use crate::quiz::{Reveal, Score};
use crate::reason::{Failure, ThreadNote};
use crate::store::{DailyRecord, PollRecord, RoundRecord};

/// A poll message Discord holds: its id, its end (Discord's expiry) and its answers as Discord numbered them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostedPoll {
    /// The poll message.
    pub message_id: u64,
    /// When Discord closes it (unix seconds), when it says.
    pub ends_at: Option<i64>,
    /// (answer id, text) in Discord's order.
    pub answers: Vec<(u64, Option<String>)>,
}

/// A poll message read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadPoll {
    /// When Discord closes (or closed) it.
    pub ends_at: Option<i64>,
    /// (answer id, text) in Discord's order.
    pub answers: Vec<(u64, Option<String>)>,
    /// The counts, when Discord sent them.
    pub results: Option<PollCounts>,
}

/// A poll's counts as Discord returns them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollCounts {
    /// Whether Discord has finished counting (true some seconds after the close).
    pub finalized: bool,
    /// (answer id, votes); answers nobody voted for may be missing.
    pub counts: Vec<(u64, u32)>,
}

/// A day's post to send: the server's schedule, what the day shows (a scene, or an anniversary or birthday card),
/// the marker its button carries (so the post can be found again) and the nonce Discord de-duplicates a resend with.
#[derive(Debug, Clone, Copy)]
pub struct DailySend<'a> {
    /// The schedule (channel, role, language).
    pub record: &'a DailyRecord,
    /// What to post.
    pub post: &'a DayPost,
    /// The marker on the post's button.
    pub marker: &'a str,
    /// The message nonce.
    pub nonce: &'a str,
}

/// A public thread to open on a message the bot posted (a daily post, a poll's results), so a server can talk
/// about it outside the main channel.
#[derive(Debug, Clone, Copy)]
pub struct ThreadSend<'a> {
    /// The server.
    pub guild: u64,
    /// The message's channel.
    pub channel: u64,
    /// The message the thread starts from.
    pub message: u64,
    /// The thread's name (at most 100 characters).
    pub name: &'a str,
}

/// What a quiz message shows: its form, with the facts only the round's process knows.
#[derive(Debug, Clone, Copy)]
pub enum QuizView<'a> {
    /// The question at `position`, open until `closes_at` (unix seconds).
    Question {
        /// Its position in the round.
        position: usize,
        /// When answers close.
        closes_at: i64,
    },
    /// The question at `position`, revealed.
    Revealed {
        /// Its position in the round.
        position: usize,
        /// Its outcome.
        reveal: &'a Reveal,
    },
    /// The round's scores; `stopped` when it ended early.
    Scores {
        /// Best first.
        scores: &'a [Score],
        /// Ended before its last question.
        stopped: bool,
    },
}

/// Discord, as the background processes see it. Implementations pace and retry each request themselves (within
/// the call cap) and sort failures; searches look only at messages sent at or after `since` (unix seconds).
pub trait Port: Send + Sync + 'static {
    /// Sends the poll of a `posting` record (nonce `fav-poll-{id}`).
    fn post_poll(
        &self,
        record: &PollRecord,
    ) -> impl Future<Output = Result<PostedPoll, Failure>> + Send;

    /// The bot's poll for `record` in its channel, if it is there: our question and our answers, sent at or after
    /// `since`, and none of the messages in `not`, which other poll records hold.
    fn find_poll(
        &self,
        record: &PollRecord,
        since: i64,
        not: &[u64],
    ) -> impl Future<Output = Result<Option<PostedPoll>, Failure>> + Send;

    /// Reads a poll message; `None` when the message came back without its poll.
    fn read_poll(
        &self,
        channel: u64,
        message: u64,
    ) -> impl Future<Output = Result<Option<ReadPoll>, Failure>> + Send;

    /// Closes a poll now.
    fn expire_poll(
        &self,
        channel: u64,
        message: u64,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// The bot's results card for the poll in `poll_message`, if it is there (sent at or after `since`).
    fn find_results(
        &self,
        record: &PollRecord,
        poll_message: u64,
        since: i64,
    ) -> impl Future<Output = Result<Option<u64>, Failure>> + Send;

    /// Sends the results card (nonce `fav-result-{id}`); its message id.
    fn post_results(
        &self,
        record: &PollRecord,
        tally: &Tally,
        poll_message: u64,
    ) -> impl Future<Output = Result<u64, Failure>> + Send;

    /// The bot's post carrying `marker` in the schedule's channel, if it is there (sent at or after `since`).
    fn find_daily(
        &self,
        record: &DailyRecord,
        marker: &str,
        since: i64,
    ) -> impl Future<Output = Result<Option<u64>, Failure>> + Send;

    /// Sends a day's post; its message id.
    fn post_daily(&self, send: DailySend<'_>) -> impl Future<Output = Result<u64, Failure>> + Send;

    /// Opens a public thread on a message, auto-archived after a day, after checking the bot may (Create Public
    /// Threads; [`ThreadNote::NoPermission`] without it, and no request that would be refused is made). Discord
    /// allows one thread per message, so a thread already there (a repeat after a crash) is
    /// [`ThreadNote::Opened`] too.
    fn open_thread(
        &self,
        send: ThreadSend<'_>,
    ) -> impl Future<Output = Result<ThreadNote, Failure>> + Send;
    /// Sends a quiz message as a follow-up on the round's interaction token (privately for a solo round); its
    /// message id. Not counted in Discord's global limit, so not paced.
    fn quiz_send(
        &self,
        round: &RoundRecord,
        view: QuizView<'_>,
    ) -> impl Future<Output = Result<u64, Failure>> + Send;

    /// Edits a quiz message the round sent, through the same token.
    fn quiz_edit(
        &self,
        round: &RoundRecord,
        message: u64,
        view: QuizView<'_>,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}
