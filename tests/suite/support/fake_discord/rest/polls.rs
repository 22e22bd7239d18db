//! Polls: answers, votes, expiry, finalization, voters and the `POLL_RESULT` message.

use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use super::super::json::{base_message, iso8601, parse_query, user_json};
use super::super::model::intents;
use super::super::rules::rule;
use super::super::state::{PollState, State, StoredMessage};
use super::{Reply, Request};

impl State {
    pub(crate) fn poll_mut(
        &mut self,
        channel: u64,
        message: u64,
    ) -> Result<&mut PollState, String> {
        let Some(m) = self
            .messages
            .get_mut(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Err(format!("no message {message} in channel {channel}"));
        };
        m.poll
            .as_mut()
            .ok_or_else(|| format!("message {message} has no poll"))
    }

    pub(crate) fn dispatch_vote(
        &mut self,
        event: &str,
        channel: u64,
        message: u64,
        user: u64,
        answer: u64,
    ) {
        let guild_id = self.messages.get(&message).and_then(|m| m.guild_id);
        let wanted = if guild_id.is_some() {
            intents::GUILD_MESSAGE_POLLS
        } else {
            intents::DIRECT_MESSAGE_POLLS
        };
        if !self.has_intent(wanted) {
            return;
        }
        let mut payload = json!({
            "user_id": user.to_string(),
            "channel_id": channel.to_string(),
            "message_id": message.to_string(),
            "answer_id": answer,
        });
        if let Some(g) = guild_id {
            payload["guild_id"] = json!(g.to_string());
        }
        self.dispatch(event, payload);
    }

    pub(crate) fn cast_vote(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        answer: u64,
    ) -> Result<(), String> {
        let poll = self.poll_mut(channel, message)?;
        if poll.has_ended() {
            return Err(format!("the poll in message {message} has ended"));
        }
        if !poll.answer_ids.contains(&answer) {
            return Err(format!(
                "the poll in message {message} has no answer {answer}"
            ));
        }
        if poll.votes.get(&answer).is_some_and(|v| v.contains(&user)) {
            return Ok(());
        }
        let mut removed = Vec::new();
        if !poll.allow_multiselect {
            for (other, voters) in poll.votes.iter_mut() {
                if voters.contains(&user) {
                    voters.retain(|v| *v != user);
                    removed.push(*other);
                }
            }
        }
        poll.votes.entry(answer).or_default().push(user);
        for other in removed {
            self.dispatch_vote("MESSAGE_POLL_VOTE_REMOVE", channel, message, user, other);
        }
        self.dispatch_vote("MESSAGE_POLL_VOTE_ADD", channel, message, user, answer);
        Ok(())
    }

    pub(crate) fn remove_vote(
        &mut self,
        channel: u64,
        message: u64,
        user: u64,
        answer: u64,
    ) -> Result<(), String> {
        let poll = self.poll_mut(channel, message)?;
        if poll.has_ended() {
            return Err(format!("the poll in message {message} has ended"));
        }
        let Some(voters) = poll.votes.get_mut(&answer).filter(|v| v.contains(&user)) else {
            return Err(format!("user {user} has no vote for answer {answer}"));
        };
        voters.retain(|v| *v != user);
        self.dispatch_vote("MESSAGE_POLL_VOTE_REMOVE", channel, message, user, answer);
        Ok(())
    }

    /// Ends a poll: results finalized, expiry now, MESSAGE_UPDATE, then the POLL_RESULT message.
    pub(crate) fn end_poll(&mut self, channel: u64, message: u64) -> Result<Value, Reply> {
        let now = iso8601(SystemTime::now());
        let result_id = self.next_message_snowflake();
        let bot = user_json(&self.bot_user);
        let Some(stored) = self
            .messages
            .get_mut(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Err(Reply::unknown_message());
        };
        let guild_id = stored.guild_id;
        let Some(poll) = stored.poll.as_mut() else {
            return Err(Reply::error(
                400,
                520_006,
                "Cannot expire a non-poll message",
            ));
        };
        if poll.has_ended() {
            return Err(Reply::error(400, 520_001, "Poll expired"));
        }
        if self.poll_finalize_delay.is_zero() {
            poll.finalized = true;
        } else {
            poll.finalizes_at = Some(Instant::now() + self.poll_finalize_delay);
        }
        stored.json["poll"]["expiry"] = json!(now);
        let question = stored
            .json
            .pointer("/poll/question/text")
            .cloned()
            .unwrap_or(Value::Null);
        let answers = stored
            .json
            .pointer("/poll/answers")
            .cloned()
            .unwrap_or_else(|| json!([]));
        let totals: Vec<(u64, usize)> = poll
            .votes
            .iter()
            .map(|(answer, voters)| (*answer, voters.len()))
            .collect();
        let total: usize = totals.iter().map(|(_, n)| n).sum();
        let top = totals.iter().map(|(_, n)| *n).max().unwrap_or(0);
        let leaders: Vec<u64> = totals
            .iter()
            .filter(|(_, n)| *n == top && top > 0)
            .map(|(a, _)| *a)
            .collect();

        let mut fields = vec![
            json!({"name": "poll_question_text", "value": question, "inline": false}),
            json!({"name": "victor_answer_votes", "value": top.to_string(), "inline": false}),
            json!({"name": "total_votes", "value": total.to_string(), "inline": false}),
        ];
        if let [victor] = leaders.as_slice() {
            fields.push(
                json!({"name": "victor_answer_id", "value": victor.to_string(), "inline": false}),
            );
            let text = answers
                .as_array()
                .and_then(|a| {
                    a.iter()
                        .find(|x| x.get("answer_id").and_then(Value::as_u64) == Some(*victor))
                })
                .and_then(|x| x.pointer("/poll_media/text"))
                .cloned()
                .unwrap_or(Value::Null);
            fields.push(json!({"name": "victor_answer_text", "value": text, "inline": false}));
        }
        let mut result = base_message(result_id, channel, bot, "", 46);
        result["embeds"] = json!([{"type": "poll_result", "fields": fields}]);
        let mut reference = json!({"type": 0, "message_id": message.to_string(), "channel_id": channel.to_string()});
        if let Some(g) = guild_id {
            reference["guild_id"] = json!(g.to_string());
        }
        result["message_reference"] = reference;
        self.messages.insert(
            result_id,
            StoredMessage {
                id: result_id,
                channel_id: channel,
                guild_id,
                json: result,
                ephemeral: false,
                poll: None,
                author_id: self.bot_user.id,
            },
        );
        self.dispatch_message_event("MESSAGE_UPDATE", message);
        self.dispatch_message_event("MESSAGE_CREATE", result_id);
        let rendered = self
            .messages
            .get(&message)
            .map(|m| self.render_message(m))
            .unwrap_or_default();
        Ok(rendered)
    }

    pub(crate) fn expire_poll(&mut self, channel: u64, message: u64) -> Reply {
        if self.channel_value(channel).is_none() {
            return Reply::unknown_channel();
        }
        match self.messages.get(&message) {
            Some(m) if m.channel_id == channel && m.author_id != self.bot_user.id => {
                return Reply::error(403, 50005, "Cannot edit a message authored by another user");
            }
            Some(m) if m.channel_id == channel => {}
            _ => return Reply::unknown_message(),
        }
        match self.end_poll(channel, message) {
            Ok(value) => Reply::ok(value),
            Err(reply) => reply,
        }
    }

    pub(crate) fn poll_voters(
        &self,
        req: &Request<'_>,
        channel: u64,
        message: u64,
        answer: u64,
    ) -> Reply {
        let Some(stored) = self
            .messages
            .get(&message)
            .filter(|m| m.channel_id == channel)
        else {
            return Reply::unknown_message();
        };
        let Some(poll) = &stored.poll else {
            return Reply::error(400, 520_006, "Cannot expire a non-poll message");
        };
        if !poll.answer_ids.contains(&answer) {
            return Reply::invalid_form_body(&[rule(
                "/answer_id",
                "BASE_TYPE_CHOICES",
                "Value is not a valid answer",
            )]);
        }
        let query = parse_query(req.query);
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(25)
            .clamp(1, 100);
        let after = query
            .get("after")
            .and_then(|a| a.parse::<u64>().ok())
            .unwrap_or(0);
        let mut voters: Vec<u64> = poll.votes.get(&answer).cloned().unwrap_or_default();
        voters.sort_unstable();
        let users: Vec<Value> = voters
            .into_iter()
            .filter(|v| *v > after)
            .take(limit)
            .map(|v| self.user_json(v))
            .collect();
        Reply::ok(json!({"users": users}))
    }
}
