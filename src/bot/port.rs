//! The background processes' port to Discord ([`crate::lifecycle::port::Port`]) over serenity: each step renders
//! its message from the catalog, paces every request through the bot's [`Pacer`], retries what is safe to retry
//! within the call cap, and finds the bot's own messages by what they carry.

use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    AutoArchiveDuration, Builder, ChannelId, CreateAllowedMentions, CreateMessage, CreateThread,
    GetMessages, GuildId, Http, Message, MessageId, Nonce, Permissions, UserId,
};
use tracing::info;

use super::calls;
use super::errors::{self, Failure};
use super::types::Data;
use crate::anniversary::DayPost;
use crate::favorite::{self, PollPlan, Tally};
use crate::lifecycle::daily::Dailies;
use crate::lifecycle::pacer::Pacer;
use crate::lifecycle::poll::Polls;
use crate::lifecycle::port::{
    DailySend, PollCounts, Port, PostedPoll, QuizView, ReadPoll, ThreadSend,
};
use crate::lifecycle::quiz::Rounds;
use crate::reason::ThreadNote;
use crate::render;
use crate::respond::Responder;
use crate::store::{DailyRecord, PollRecord, RoundRecord};

/// Discord for the background processes: the HTTP client, who the bot is (its own messages are searched for), the
/// cap on one call with its retries, the pacer and the catalog.
#[derive(Clone)]
pub struct DiscordPort {
    /// serenity's HTTP client.
    pub http: Arc<Http>,
    /// The bot's user.
    pub me: UserId,
    /// The longest one call may take, retries included.
    pub cap: Duration,
    /// Spaces the bot's requests.
    pub pacer: Arc<Pacer>,
    /// The catalog.
    pub responder: Arc<Responder>,
}

/// The background processes over this port, built from what the commands share: the Discord layer's one place
/// that ties [`Data`] to serenity's HTTP client.
impl Data {
    /// Discord for the background processes, over `http`.
    pub fn port(&self, http: &Arc<Http>) -> DiscordPort {
        DiscordPort {
            http: Arc::clone(http),
            me: self.me,
            cap: self.call_cap,
            pacer: Arc::clone(&self.pacer),
            responder: Arc::clone(&self.responder),
        }
    }

    /// The poll process (shared by `/favorite` and the scheduler: one set of locks).
    pub fn polls(&self, http: &Arc<Http>) -> Polls<DiscordPort> {
        Polls {
            store: self.store.clone(),
            clock: Arc::clone(&self.clock),
            port: self.port(http),
            responder: Arc::clone(&self.responder),
            locks: self.poll_locks.clone(),
            lease: self.lease,
        }
    }

    /// The daily process.
    pub fn dailies(&self, http: &Arc<Http>) -> Dailies<DiscordPort> {
        Dailies {
            store: self.store.clone(),
            clock: Arc::clone(&self.clock),
            port: self.port(http),
            responder: Arc::clone(&self.responder),
            lease: self.lease,
        }
    }

    /// The quiz process (shared by `/quiz` and the answer buttons: one set of running rounds).
    pub fn rounds(&self, http: &Arc<Http>) -> Arc<Rounds<DiscordPort>> {
        Arc::new(Rounds {
            store: self.store.clone(),
            clock: Arc::clone(&self.clock),
            port: self.port(http),
            responder: Arc::clone(&self.responder),
            running: self.quiz_rounds.clone(),
        })
    }
}

/// A poll's answers as Discord numbered them: (answer id, text).
fn answers_of(poll: &serenity::all::Poll) -> Vec<(u64, Option<String>)> {
    poll.answers
        .iter()
        .map(|a| (a.answer_id.get(), a.poll_media.text.clone()))
        .collect()
}

/// The poll in a message Discord returned, as the lifecycle reads it.
fn posted(message: &Message) -> PostedPoll {
    let poll = message.poll.as_deref();
    PostedPoll {
        message_id: message.id.get(),
        ends_at: poll.and_then(|p| p.expiry).map(|t| t.unix_timestamp()),
        answers: poll.map(answers_of).unwrap_or_default(),
    }
}

impl DiscordPort {
    /// Whether `message` is the poll of `record`: our question and our answers.
    fn is_poll_of(&self, record: &PollRecord, message: &Message) -> bool {
        let Some(poll) = &message.poll else {
            return false;
        };
        let question = poll.question.text.as_deref() == Some(record.locale.strings().poll_question);
        question
            && favorite::answer_ids(
                &self.responder.catalog,
                &record.scene_ids,
                &answers_of(poll),
                record.locale,
            )
            .is_some()
    }

    /// A quiz message as the round shows it now.
    fn quiz_card(&self, round: &RoundRecord, view: QuizView<'_>) -> Result<render::Card, Failure> {
        let catalog = &self.responder.catalog;
        let slot = |position: usize, closes_at: i64| render::quiz::Slot {
            round: round.id,
            index: position,
            total: round.questions.len(),
            closes_at,
        };
        let card = match view {
            QuizView::Question {
                position,
                closes_at,
            } => round.questions.get(position).and_then(|question| {
                render::quiz::question_card(
                    catalog,
                    question,
                    slot(position, closes_at),
                    round.locale,
                )
            }),
            QuizView::Revealed { position, reveal } => {
                let closes_at = round.slot(position).map_or(0, |s| s.closes_at_ms / 1000);
                round.questions.get(position).and_then(|question| {
                    render::quiz::revealed_card(
                        catalog,
                        question,
                        slot(position, closes_at),
                        reveal,
                        round.locale,
                    )
                })
            }
            QuizView::Scores { scores, stopped } => {
                Some(render::quiz::scores_card(scores, round.locale, stopped))
            }
        };
        card.ok_or_else(|| {
            Failure::Other(format!(
                "quiz round {}: a scene of its questions is no longer in the dataset",
                round.id
            ))
        })
    }

    /// Sends `message` (built anew for each try) to `channel`, paced and retried.
    async fn send(
        &self,
        what: &str,
        channel: u64,
        message: impl Fn() -> CreateMessage,
    ) -> Result<Message, Failure> {
        let channel = ChannelId::new(channel);
        calls::with_retries_paced(
            what,
            calls::route::CREATE_MESSAGE,
            self.cap,
            Some(&self.pacer),
            || channel.send_message(&self.http, message()),
        )
        .await
        .map_err(|error| Failure::of(&error))
    }

    /// The bot's newest message in `channel` (of `guild`) since `since` that `is_ours` recognises.
    async fn find(
        &self,
        guild: u64,
        channel: u64,
        since: i64,
        is_ours: impl Fn(&Message) -> bool,
    ) -> Result<Option<Message>, Failure> {
        find_own_message(
            &self.http,
            self.me,
            self.cap,
            &self.pacer,
            GuildId::new(guild),
            ChannelId::new(channel),
            since,
            is_ours,
        )
        .await
    }
}

impl Port for DiscordPort {
    async fn post_poll(&self, record: &PollRecord) -> Result<PostedPoll, Failure> {
        let plan = PollPlan {
            scene_ids: record.scene_ids.clone(),
            sampled: false,
        };
        let catalog = &self.responder.catalog;
        let sent = self
            .send("posting a favorite poll", record.channel_id, || {
                CreateMessage::new()
                    .poll(favorite::build_poll(
                        catalog,
                        &plan,
                        record.locale,
                        record.hours,
                    ))
                    .nonce(Nonce::String(format!("fav-poll-{}", record.id)))
                    .enforce_nonce(true)
                    .allowed_mentions(render::no_mentions())
            })
            .await?;
        Ok(posted(&sent))
    }

    async fn find_poll(
        &self,
        record: &PollRecord,
        since: i64,
        not: &[u64],
    ) -> Result<Option<PostedPoll>, Failure> {
        let found = self
            .find(record.guild_id, record.channel_id, since, |message| {
                !not.contains(&message.id.get()) && self.is_poll_of(record, message)
            })
            .await?;
        Ok(found.as_ref().map(posted))
    }

    async fn read_poll(&self, channel: u64, message: u64) -> Result<Option<ReadPoll>, Failure> {
        let (channel, message) = (ChannelId::new(channel), MessageId::new(message));
        let read = calls::with_retries_paced(
            "reading poll results",
            calls::route::MESSAGE,
            self.cap,
            Some(&self.pacer),
            || self.http.get_message(channel, message),
        )
        .await
        .map_err(|error| Failure::of(&error))?;
        Ok(read.poll.as_deref().map(|poll| ReadPoll {
            ends_at: poll.expiry.map(|t| t.unix_timestamp()),
            answers: answers_of(poll),
            results: poll.results.as_ref().map(|results| PollCounts {
                finalized: results.is_finalized,
                counts: results
                    .answer_counts
                    .iter()
                    .map(|c| (c.id.get(), u32::try_from(c.count).unwrap_or(u32::MAX)))
                    .collect(),
            }),
        }))
    }

    async fn expire_poll(&self, channel: u64, message: u64) -> Result<(), Failure> {
        let (channel, message) = (ChannelId::new(channel), MessageId::new(message));
        calls::with_retries_paced(
            "ending a poll",
            calls::route::EXPIRE_POLL,
            self.cap,
            Some(&self.pacer),
            || self.http.expire_poll(channel, message),
        )
        .await
        .map(|_| ())
        .map_err(|error| Failure::of(&error))
    }

    async fn find_results(
        &self,
        record: &PollRecord,
        poll_message: u64,
        since: i64,
    ) -> Result<Option<u64>, Failure> {
        let suffix = format!("/{poll_message}");
        let found = self
            .find(record.guild_id, record.channel_id, since, |message| {
                message.poll.is_none()
                    && buttons(message).any(|button| {
                        matches!(button, serenity::all::ButtonKind::Link { url } if url.ends_with(&suffix))
                    })
            })
            .await?;
        Ok(found.map(|m| m.id.get()))
    }

    async fn post_results(
        &self,
        record: &PollRecord,
        tally: &Tally,
        poll_message: u64,
    ) -> Result<u64, Failure> {
        let link = render::message_link(record.guild_id, record.channel_id, poll_message);
        let catalog = &self.responder.catalog;
        let sent = self
            .send("posting poll results", record.channel_id, || {
                render::poll::results_card(catalog, tally, record.locale, Some(&link))
                    .into_channel_message()
                    .nonce(Nonce::String(format!("fav-result-{}", record.id)))
                    .enforce_nonce(true)
            })
            .await?;
        Ok(sent.id.get())
    }

    async fn find_daily(
        &self,
        record: &DailyRecord,
        marker: &str,
        since: i64,
    ) -> Result<Option<u64>, Failure> {
        let found = self
            .find(record.guild_id, record.channel_id, since, |message| {
                carries_marker(message, marker)
            })
            .await?;
        Ok(found.map(|m| m.id.get()))
    }

    async fn post_daily(&self, send: DailySend<'_>) -> Result<u64, Failure> {
        let catalog = &self.responder.catalog;
        let record = send.record;
        let Some(card) = render::day_post_card(catalog, send.post, record.locale, send.marker)
        else {
            return Err(Failure::Other(format!(
                "the day's post ({:?}) names a scene no longer in the dataset",
                send.post
            )));
        };
        let headline = match send.post {
            DayPost::Scene(_) => record.locale.daily_headline(),
            DayPost::Special(_) => record.locale.special_headline(),
        };
        let sent = self
            .send("posting the daily scene", record.channel_id, || {
                let message = card
                    .clone()
                    .into_channel_message()
                    .nonce(Nonce::String(send.nonce.to_owned()))
                    .enforce_nonce(true);
                match record.role_id {
                    Some(role) => message
                        .content(format!("<@&{role}> {headline}"))
                        .allowed_mentions(CreateAllowedMentions::new().roles(vec![role])),
                    None => message.content(headline),
                }
            })
            .await?;
        Ok(sent.id.get())
    }

    async fn open_thread(&self, send: ThreadSend<'_>) -> Result<ThreadNote, Failure> {
        // Checked first: a refused thread is a 403, which counts toward Discord's invalid-request ban.
        let permissions = super::perms::bot_permissions_in(
            &self.http,
            self.me,
            self.cap,
            &self.pacer,
            GuildId::new(send.guild),
            ChannelId::new(send.channel),
        )
        .await?;
        if !super::perms::missing(permissions, super::perms::THREAD).is_empty() {
            return Ok(ThreadNote::NoPermission);
        }
        self.thread_from_message(send).await
    }

    async fn quiz_send(&self, round: &RoundRecord, view: QuizView<'_>) -> Result<u64, Failure> {
        let card = self.quiz_card(round, view)?;
        // A follow-up carries no nonce, so it is sent once: a retry could show a question twice.
        let followup = card.into_followup().ephemeral(round.guild_id.is_none());
        let sent = calls::capped(
            calls::route::FOLLOWUP,
            self.cap,
            followup.execute(&self.http, (None, round.token.as_str())),
        )
        .await
        .map_err(|error| Failure::of(&error))?;
        Ok(sent.id.get())
    }

    async fn quiz_edit(
        &self,
        round: &RoundRecord,
        message: u64,
        view: QuizView<'_>,
    ) -> Result<(), Failure> {
        let card = self.quiz_card(round, view)?;
        let message = MessageId::new(message);
        calls::with_retries(
            "revealing a quiz question",
            calls::route::EDIT_FOLLOWUP,
            self.cap,
            || {
                card.clone()
                    .into_followup()
                    .execute(&self.http, (Some(message), round.token.as_str()))
            },
        )
        .await
        .map(drop)
        .map_err(|error| Failure::of(&error))
    }
}

impl DiscordPort {
    /// Opens a thread on a message; Discord's 160004 (one thread per message: the thread is there already) is
    /// done, not a failure. A thread's permissions are checked before ([`Port::open_thread`]).
    async fn thread_from_message(&self, send: ThreadSend<'_>) -> Result<ThreadNote, Failure> {
        let (channel, message) = (ChannelId::new(send.channel), MessageId::new(send.message));
        let builder =
            CreateThread::new(send.name).auto_archive_duration(AutoArchiveDuration::OneDay);
        let made = calls::with_retries_paced(
            "opening a thread",
            calls::route::MESSAGE_THREAD,
            self.cap,
            Some(&self.pacer),
            || {
                self.http
                    .create_thread_from_message(channel, message, &builder, None)
            },
        )
        .await;
        match made {
            Ok(_) => Ok(ThreadNote::Opened),
            Err(error) if errors::discord_code(&error) == Some(THREAD_ALREADY_MADE) => {
                info!(
                    channel = send.channel,
                    message = send.message,
                    "the thread was already open (Discord 160004); done"
                );
                Ok(ThreadNote::Opened)
            }
            Err(error) => Err(Failure::of(&error)),
        }
    }
}

/// Discord's code for a second thread on one message: "A thread has already been created for this message".
const THREAD_ALREADY_MADE: isize = 160_004;

/// Whether `message` carries `marker` on one of its buttons.
fn carries_marker(message: &Message, marker: &str) -> bool {
    buttons(message).any(|button| match button {
        serenity::all::ButtonKind::NonLink { custom_id, .. } => {
            render::posted_marker(custom_id).as_deref() == Some(marker)
        }
        _ => false,
    })
}

/// How many pages of 100 messages [`find_own_message`] reads at most: the 2,000 messages sent right after the
/// claim, where a post made for it stands.
const SEARCH_PAGES: usize = 20;

/// The bot's message in `channel` that `is_ours` recognises among those sent at or after `since` (unix seconds:
/// when the claim or send attempt that stands for it was made, less the clock skew). Called before any resend of a
/// post whose first send may have reached Discord: `enforce_nonce` de-duplicates for a few minutes only, so after a
/// crash and a long restart only the channel itself can say whether the post is already there.
///
/// It reads *forward* from `since` (Discord's `after`), oldest pages first: a post made for the claim was sent right
/// after it, so it is in the first page however busy the channel has been since, and a search ends when it has read
/// up to the present. Only a channel with more than [`SEARCH_PAGES`] full pages since the claim and without the
/// post in them is "unknown" (a transient failure: looked at again later), never "not there". Needs View Channel and
/// Read Message History: without the first the read is refused, without the second Discord answers an empty channel;
/// either is [`Failure::Unreadable`], never "not there" (an empty first page is believed only once the bot's
/// permissions there say it may read the history).
#[allow(clippy::too_many_arguments)] // one search's whole context; a struct would only rename these
pub async fn find_own_message(
    http: &Http,
    me: UserId,
    cap: Duration,
    pacer: &Pacer,
    guild: GuildId,
    channel: ChannelId,
    since: i64,
    is_ours: impl Fn(&Message) -> bool,
) -> Result<Option<Message>, Failure> {
    let mut after = snowflake_at(since);
    for page_number in 0..SEARCH_PAGES {
        let page = calls::with_retries_paced(
            "reading the channel's messages",
            calls::route::CHANNEL_MESSAGES,
            cap,
            Some(pacer),
            || channel.messages(http, GetMessages::new().after(after).limit(100)),
        )
        .await
        .map_err(|e| unreadable_if_forbidden(Failure::of(&e)))?;
        if page.is_empty() && page_number == 0 {
            // Nothing since the claim, or a channel whose history the bot may no longer read: Discord answers both
            // alike.
            let permissions =
                super::perms::bot_permissions_in(http, me, cap, pacer, guild, channel)
                    .await
                    .map_err(unreadable_if_forbidden)?;
            let lacking = super::perms::missing(
                permissions,
                Permissions::VIEW_CHANNEL | Permissions::READ_MESSAGE_HISTORY,
            );
            if !lacking.is_empty() {
                return Err(Failure::Unreadable(format!(
                    "the bot lacks {lacking} in channel {channel}: cannot tell whether its message is there"
                )));
            }
            return Ok(None);
        }
        // Only what was sent since the claim: an older message with the same content is an earlier post's.
        if let Some(found) = page.iter().find(|m| {
            m.author.id == me && m.id.created_at().unix_timestamp() >= since && is_ours(m)
        }) {
            return Ok(Some(found.clone()));
        }
        let Some(newest) = page.iter().map(|m| m.id).max() else {
            return Ok(None);
        };
        if page.len() < 100 {
            // Everything since the claim, up to now, has been read.
            return Ok(None);
        }
        after = newest;
    }
    Err(Failure::Transient(format!(
        "more than {} messages since the post was claimed, none of them the post; cannot tell whether it is there",
        SEARCH_PAGES * 100
    )))
}

/// The id `after` which every message sent since `unix_seconds` stands.
fn snowflake_at(unix_seconds: i64) -> MessageId {
    let unix_ms = u64::try_from(unix_seconds.saturating_mul(1000)).unwrap_or(0);
    MessageId::new(
        crate::telemetry::snowflake_at_unix_ms(unix_ms)
            .saturating_sub(1)
            .max(1),
    )
}

/// A refusal met while searching a channel: whether the bot's message is there is then unknown, not "not there".
fn unreadable_if_forbidden(failure: Failure) -> Failure {
    match failure {
        Failure::Forbidden(cause) => Failure::Unreadable(format!(
            "{cause}: the bot needs View Channel and Read Message History to tell whether its message is there"
        )),
        other => other,
    }
}

/// The buttons of `message`, whatever row they are in: how the bot recognises its own posts (a marker in a button's
/// `custom_id`, a link to a poll).
pub fn buttons(message: &Message) -> impl Iterator<Item = &serenity::all::ButtonKind> {
    message
        .components
        .iter()
        .flat_map(|row| row.components.iter())
        .filter_map(|component| match component {
            serenity::all::ActionRowComponent::Button(button) => Some(&button.data),
            _ => None,
        })
}
