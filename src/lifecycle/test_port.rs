//! A hand-written Discord for the lifecycle's unit tests: it records every send, can hold a channel's calls until
//! released (a hung server), and answers searches from what it was sent.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::Notify;

use super::port::{DailySend, PollCounts, Port, PostedPoll, QuizView, ReadPoll, ThreadSend};
use crate::favorite::Tally;
use crate::reason::{Failure, ThreadNote};
use crate::store::{DailyRecord, PollRecord, RoundRecord};

/// A message the fake holds.
#[derive(Debug, Clone)]
pub struct Sent {
    pub channel: u64,
    pub id: u64,
    /// `daily:<marker>`, `poll:<record id>` or `results:<poll message>`.
    pub what: String,
}

/// A poll's counts: whether Discord finalized them, and (answer id, votes).
pub type Counts = (bool, Vec<(u64, u32)>);

/// The fake Discord.
#[derive(Default, Clone)]
pub struct FakePort {
    pub sent: Arc<Mutex<Vec<Sent>>>,
    /// Channels whose calls wait until [`FakePort::release`].
    pub hung: Arc<Mutex<Vec<u64>>>,
    pub released: Arc<Notify>,
    /// Answer counts of polls by message id, and whether Discord finalized them.
    pub counts: Arc<Mutex<HashMap<u64, Counts>>>,
    /// Failures to answer, by channel, once each.
    pub failures: Arc<Mutex<HashMap<u64, Failure>>>,
    /// While set, every search for and send of results fails so.
    pub results_fail: Arc<Mutex<Option<Failure>>>,
    /// Each results search: the `since` it was asked for.
    pub results_searches: Arc<Mutex<Vec<i64>>>,
    /// Threads opened: (message, name); one per message, as Discord allows.
    pub threads: Arc<Mutex<Vec<(u64, String)>>>,
    /// Channels where the bot lacks Create Public Threads.
    pub no_thread_permission: Arc<Mutex<Vec<u64>>>,
    /// Thread calls to fail so, once each (after the thread is made when `.1`: an answer lost on the way).
    pub thread_failures: Arc<Mutex<Vec<(Failure, bool)>>>,
    /// Each quiz message edit: (message, what it shows now).
    pub quiz_edits: Arc<Mutex<Vec<(u64, String)>>>,
}

/// A quiz view as the fake records it: `question:<position>@<closes_at>`, `revealed:<position>:<answered>/<right>`
/// or `scores:<user>=<points>,…[:stopped]`.
pub fn quiz_view_text(view: QuizView<'_>) -> String {
    match view {
        QuizView::Question {
            position,
            closes_at,
        } => format!("question:{position}@{closes_at}"),
        QuizView::Revealed { position, reveal } => {
            format!(
                "revealed:{position}:{}/{}",
                reveal.answered, reveal.right_count
            )
        }
        QuizView::Scores { scores, stopped } => {
            let scores: Vec<String> = scores
                .iter()
                .map(|s| format!("{}={}", s.user, s.points))
                .collect();
            format!(
                "scores:{}{}",
                scores.join(","),
                if stopped { ":stopped" } else { "" }
            )
        }
    }
}

impl FakePort {
    pub fn sent(&self) -> Vec<Sent> {
        self.sent
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn threads(&self) -> Vec<(u64, String)> {
        self.threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    pub fn hang(&self, channel: u64) {
        self.hung
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(channel);
    }

    pub fn release(&self) {
        self.hung
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
        self.released.notify_waiters();
    }

    async fn gate(&self, channel: u64) -> Result<(), Failure> {
        loop {
            let released = self.released.notified();
            if !self
                .hung
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .contains(&channel)
            {
                break;
            }
            released.await;
        }
        match self
            .failures
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&channel)
        {
            Some(failure) => Err(failure),
            None => Ok(()),
        }
    }

    fn results_failure(&self) -> Result<(), Failure> {
        match &*self
            .results_fail
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(failure) => Err(failure.clone()),
            None => Ok(()),
        }
    }

    pub fn push(&self, channel: u64, what: String) -> u64 {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        let id = 1_000 + sent.len() as u64;
        sent.push(Sent { channel, id, what });
        id
    }

    fn find(&self, channel: u64, what: &str) -> Option<u64> {
        self.sent()
            .iter()
            .find(|s| s.channel == channel && s.what == what)
            .map(|s| s.id)
    }

    fn answers(record: &PollRecord) -> Vec<(u64, Option<String>)> {
        // Discord's own numbering, not ours: 40, 41, …
        (0..record.scene_ids.len() as u64)
            .map(|i| (40 + i, None))
            .collect()
    }
}

impl Port for FakePort {
    async fn post_poll(&self, record: &PollRecord) -> Result<PostedPoll, Failure> {
        self.gate(record.channel_id).await?;
        let id = self.push(record.channel_id, format!("poll:{}", record.id));
        Ok(PostedPoll {
            message_id: id,
            ends_at: Some(record.ends_at),
            answers: FakePort::answers(record),
        })
    }

    async fn find_poll(
        &self,
        record: &PollRecord,
        _since: i64,
        not: &[u64],
    ) -> Result<Option<PostedPoll>, Failure> {
        self.gate(record.channel_id).await?;
        Ok(self
            .find(record.channel_id, &format!("poll:{}", record.id))
            .filter(|id| !not.contains(id))
            .map(|id| PostedPoll {
                message_id: id,
                ends_at: Some(record.ends_at),
                answers: FakePort::answers(record),
            }))
    }

    async fn read_poll(&self, channel: u64, message: u64) -> Result<Option<ReadPoll>, Failure> {
        self.gate(channel).await?;
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&message)
            .cloned();
        Ok(Some(ReadPoll {
            ends_at: None,
            answers: Vec::new(),
            results: counts.map(|(finalized, counts)| PollCounts { finalized, counts }),
        }))
    }

    async fn expire_poll(&self, channel: u64, _message: u64) -> Result<(), Failure> {
        self.gate(channel).await
    }

    async fn find_results(
        &self,
        record: &PollRecord,
        poll_message: u64,
        since: i64,
    ) -> Result<Option<u64>, Failure> {
        self.gate(record.channel_id).await?;
        self.results_searches
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(since);
        self.results_failure()?;
        Ok(self.find(record.channel_id, &format!("results:{poll_message}")))
    }

    async fn post_results(
        &self,
        record: &PollRecord,
        _tally: &Tally,
        poll_message: u64,
    ) -> Result<u64, Failure> {
        self.gate(record.channel_id).await?;
        self.results_failure()?;
        Ok(self.push(record.channel_id, format!("results:{poll_message}")))
    }

    async fn find_daily(
        &self,
        record: &DailyRecord,
        marker: &str,
        _since: i64,
    ) -> Result<Option<u64>, Failure> {
        self.gate(record.channel_id).await?;
        Ok(self.find(record.channel_id, &format!("daily:{marker}")))
    }

    async fn post_daily(&self, send: DailySend<'_>) -> Result<u64, Failure> {
        self.gate(send.record.channel_id).await?;
        Ok(self.push(send.record.channel_id, format!("daily:{}", send.marker)))
    }

    async fn open_thread(&self, send: ThreadSend<'_>) -> Result<ThreadNote, Failure> {
        self.gate(send.channel).await?;
        if self
            .no_thread_permission
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&send.channel)
        {
            return Ok(ThreadNote::NoPermission);
        }
        let failure = {
            let mut failures = self
                .thread_failures
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (!failures.is_empty()).then(|| failures.remove(0))
        };
        let mut threads = self.threads.lock().unwrap_or_else(PoisonError::into_inner);
        let made = |threads: &mut Vec<(u64, String)>| {
            // One thread per message: a second call is Discord's 160004, which the port reads as done.
            if !threads.iter().any(|(m, _)| *m == send.message) {
                threads.push((send.message, send.name.to_owned()));
            }
        };
        match failure {
            Some((failure, after)) => {
                if after {
                    made(&mut threads);
                }
                Err(failure)
            }
            None => {
                made(&mut threads);
                Ok(ThreadNote::Opened)
            }
        }
    }

    async fn quiz_send(&self, round: &RoundRecord, view: QuizView<'_>) -> Result<u64, Failure> {
        self.gate(round.channel_id).await?;
        Ok(self.push(round.channel_id, quiz_view_text(view)))
    }

    async fn quiz_edit(
        &self,
        round: &RoundRecord,
        message: u64,
        view: QuizView<'_>,
    ) -> Result<(), Failure> {
        self.gate(round.channel_id).await?;
        self.quiz_edits
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push((message, quiz_view_text(view)));
        Ok(())
    }
}
