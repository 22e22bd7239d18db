//! Channel message routes: create (with `nonce`), list, edit, delete.

use std::time::{Instant, SystemTime};

use serde_json::{json, Value};

use super::super::json::{base_message, embeds_as_stored, new_poll, parse_query, user_json};
use super::super::model::permissions;
use super::super::records::ViolationSource;
use super::super::rules::{message_is_empty, message_rules};
use super::super::state::{State, StoredMessage};
use super::{
    Reply, Request, FLAG_IS_COMPONENTS_V2, FLAG_SUPPRESS_EMBEDS, FLAG_SUPPRESS_NOTIFICATIONS,
};

impl State {
    pub(crate) fn render_message(&self, message: &StoredMessage) -> Value {
        let mut value = message.json.clone();
        if let Some(poll) = &message.poll {
            let counts: Vec<Value> = poll
                .votes
                .iter()
                .filter(|(_, voters)| !voters.is_empty())
                .map(|(answer, voters)| {
                    json!({"id": answer, "count": voters.len(), "me_voted": false})
                })
                .collect();
            value["poll"]["results"] =
                json!({"is_finalized": poll.is_finalized(), "answer_counts": counts});
        }
        value
    }

    /// The message `text` names in `channel`, if it is there (ephemeral ones are not in any channel).
    pub(crate) fn message_in(&self, channel: u64, text: &str) -> Option<u64> {
        text.parse::<u64>().ok().filter(|m| {
            self.messages
                .get(m)
                .is_some_and(|stored| stored.channel_id == channel && !stored.ephemeral)
        })
    }

    pub(crate) fn messages_route(
        &mut self,
        req: &Request<'_>,
        channel: u64,
        rest: &[&str],
    ) -> Reply {
        if self.channel_value(channel).is_none() {
            return Reply::unknown_channel();
        }
        let perms = self.bot_permissions_in(channel).unwrap_or(permissions::ALL);
        if perms & permissions::VIEW_CHANNEL == 0 {
            return Reply::missing_access();
        }
        match (req.method, rest) {
            ("POST", []) => self.create_message(req, channel, perms),
            // Without Read Message History Discord answers with no messages at all.
            ("GET", []) if perms & permissions::READ_MESSAGE_HISTORY == 0 => Reply::ok(json!([])),
            ("GET", []) => self.list_messages(req, channel),
            ("POST", [message, "threads"]) => {
                self.thread_from_message(req, channel, message, perms)
            }
            (method, [message]) => {
                let Some(message) = self.message_in(channel, message) else {
                    return Reply::unknown_message();
                };
                match method {
                    "GET" if perms & permissions::READ_MESSAGE_HISTORY == 0 => {
                        Reply::missing_access()
                    }
                    "GET" => {
                        let mut value = self
                            .messages
                            .get(&message)
                            .map(|m| self.render_message(m))
                            .unwrap_or_default();
                        if self.omit_poll_results > 0 && value["poll"].is_object() {
                            self.omit_poll_results -= 1;
                            if let Some(poll) = value["poll"].as_object_mut() {
                                poll.remove("results");
                            }
                        }
                        Reply::ok(value)
                    }
                    "PATCH" => {
                        if self
                            .messages
                            .get(&message)
                            .is_some_and(|m| m.author_id != self.bot_user.id)
                        {
                            return Reply::error(
                                403,
                                50005,
                                "Cannot edit a message authored by another user",
                            );
                        }
                        let errors = message_rules(req.body);
                        if !errors.is_empty() {
                            self.violation(ViolationSource::DiscordRule, req, errors.clone());
                            return Reply::invalid_form_body(&errors);
                        }
                        match self.apply_edit(message, req.body) {
                            Ok(value) => Reply::ok(value),
                            Err(reply) => reply,
                        }
                    }
                    "DELETE" => {
                        self.dispatch_message_delete(message);
                        self.messages.remove(&message);
                        Reply::no_content()
                    }
                    _ => Reply::not_found(),
                }
            }
            _ => Reply::not_found(),
        }
    }

    pub(crate) fn create_message(&mut self, req: &Request<'_>, channel: u64, perms: u64) -> Reply {
        let body = req.body;
        if perms & permissions::SEND_MESSAGES == 0 {
            return Reply::missing_permissions();
        }
        if body.get("poll").is_some_and(|p| !p.is_null()) && perms & permissions::SEND_POLLS == 0 {
            return Reply::missing_permissions();
        }
        let errors = message_rules(body);
        if !errors.is_empty() {
            self.violation(ViolationSource::DiscordRule, req, errors.clone());
            return Reply::invalid_form_body(&errors);
        }
        if message_is_empty(body) {
            return Reply::error(400, 50006, "Cannot send an empty message");
        }
        let nonce = body.get("nonce").filter(|n| !n.is_null()).map(|n| match n {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        });
        let enforce = body
            .get("enforce_nonce")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        let window = self.nonce_window;
        self.nonces.retain(|_, (_, at)| at.elapsed() <= window);
        if let (Some(nonce), true) = (&nonce, enforce) {
            if let Some((existing, _)) = self.nonces.get(&(channel, nonce.clone())) {
                if let Some(m) = self.messages.get(existing) {
                    return Reply::ok(self.render_message(m));
                }
            }
        }
        let id = self.next_message_snowflake();
        let guild_id = self.channel_guild(channel);
        let content = body.get("content").and_then(Value::as_str).unwrap_or("");
        let reference = body.get("message_reference").filter(|r| !r.is_null());
        let kind = if reference.is_some() { 19 } else { 0 };
        let mut json = base_message(id, channel, user_json(&self.bot_user), content, kind);
        json["embeds"] = embeds_as_stored(body.get("embeds"));
        json["components"] = body
            .get("components")
            .filter(|c| !c.is_null())
            .cloned()
            .unwrap_or_else(|| json!([]));
        json["tts"] = json!(body.get("tts").and_then(Value::as_bool).unwrap_or(false));
        let flags = body.get("flags").and_then(Value::as_u64).unwrap_or(0)
            & (FLAG_SUPPRESS_EMBEDS | FLAG_SUPPRESS_NOTIFICATIONS | FLAG_IS_COMPONENTS_V2);
        json["flags"] = json!(flags);
        if let Some(n) = body.get("nonce").filter(|n| !n.is_null()) {
            json["nonce"] = n.clone();
        }
        if let Some(reference) = reference {
            let target = reference.get("message_id").and_then(|m| match m {
                Value::String(s) => s.parse::<u64>().ok(),
                other => other.as_u64(),
            });
            let mut stored_reference = json!({"type": 0, "channel_id": channel.to_string()});
            if let Some(target) = target {
                stored_reference["message_id"] = json!(target.to_string());
                json["referenced_message"] = self
                    .messages
                    .get(&target)
                    .map(|m| self.render_message(m))
                    .unwrap_or(Value::Null);
            }
            if let Some(g) = guild_id {
                stored_reference["guild_id"] = json!(g.to_string());
            }
            json["message_reference"] = stored_reference;
        }
        let poll = new_poll(body, &mut json, &self.poll_answer_ids);
        self.messages.insert(
            id,
            StoredMessage {
                id,
                channel_id: channel,
                guild_id,
                json,
                ephemeral: false,
                poll,
                author_id: self.bot_user.id,
            },
        );
        if let Some(nonce) = nonce {
            self.nonces.insert((channel, nonce), (id, Instant::now()));
        }
        self.posts
            .entry(channel)
            .or_default()
            .push(SystemTime::now());
        self.dispatch_message_event("MESSAGE_CREATE", id);
        Reply::ok(
            self.messages
                .get(&id)
                .map(|m| self.render_message(m))
                .unwrap_or_default(),
        )
    }

    pub(crate) fn list_messages(&self, req: &Request<'_>, channel: u64) -> Reply {
        let query = parse_query(req.query);
        let limit = query
            .get("limit")
            .and_then(|l| l.parse::<usize>().ok())
            .unwrap_or(50)
            .clamp(1, 100);
        let number = |key: &str| query.get(key).and_then(|v| v.parse::<u64>().ok());
        let mut list: Vec<&StoredMessage> = self
            .messages
            .values()
            .filter(|m| m.channel_id == channel && !m.ephemeral)
            .collect();
        if let Some(before) = number("before") {
            list.retain(|m| m.id < before);
        }
        if let Some(after) = number("after") {
            list.retain(|m| m.id > after);
            list.truncate(limit); // the oldest `limit` after the id
        }
        if let Some(around) = number("around") {
            let at = list
                .iter()
                .position(|m| m.id >= around)
                .unwrap_or(list.len());
            let start = at.saturating_sub(limit / 2);
            list = list.into_iter().skip(start).take(limit).collect();
        }
        let newest_first: Vec<Value> = list
            .iter()
            .rev()
            .take(limit)
            .map(|m| self.render_message(m))
            .collect();
        Reply::ok(Value::Array(newest_first))
    }
}
