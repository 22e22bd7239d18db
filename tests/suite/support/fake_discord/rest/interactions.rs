//! Interaction callbacks, followups and `@original` edits through the webhook routes.

use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use super::super::json::{base_message, embeds_as_stored, iso8601, new_poll, user_json};
use super::super::records::ViolationSource;
use super::super::rules::{message_is_empty, message_rules, prefix_errors, rule};
use super::super::state::{State, StoredMessage};
use super::{
    Reply, Request, FLAG_EPHEMERAL, FLAG_IS_COMPONENTS_V2, FLAG_LOADING, FLAG_SUPPRESS_EMBEDS,
    FLAG_SUPPRESS_NOTIFICATIONS,
};

/// Interaction tokens stay valid this long for followups and edits.
pub(crate) const INTERACTION_TOKEN_LIFETIME: Duration = Duration::from_secs(15 * 60);

impl State {
    pub(crate) fn interaction_callback(&mut self, id: u64, token: &str, body: &Value) -> Reply {
        let deadline = self.interaction_deadline;
        let Some(ix) = self.interactions.get(&id).filter(|ix| ix.token == token) else {
            return Reply::unknown_interaction();
        };
        if ix.acknowledged.is_some() {
            return Reply::error(400, 40060, "Interaction has already been acknowledged.");
        }
        if ix.created.elapsed() > deadline {
            // Discord invalidates the token when the first response is late.
            return Reply::unknown_interaction();
        }
        let callback_type = body.get("type").and_then(Value::as_u64).unwrap_or(0);
        let allowed: &[u64] = match ix.kind {
            2 => &[4, 5, 9],
            3 => &[4, 5, 6, 7, 9],
            4 => &[8],
            5 => &[4, 5, 6, 7],
            _ => &[],
        };
        if !allowed.contains(&callback_type) {
            return Reply::invalid_form_body(&[rule(
                "/type",
                "INTERACTION_CALLBACK_TYPE_INVALID",
                &format!(
                    "Callback type {callback_type} is not valid for an interaction of type {}",
                    ix.kind
                ),
            )]);
        }
        let (channel_id, guild_id, source, kind, user_id, name) = (
            ix.channel_id,
            ix.guild_id,
            ix.source_message,
            ix.kind,
            ix.user_id,
            ix.name.clone(),
        );
        let data = body.get("data").cloned().unwrap_or(Value::Null);
        if matches!(callback_type, 4 | 7) {
            let errors = message_rules(&data);
            if !errors.is_empty() {
                let path = format!("/api/v10/interactions/{id}/{token}/callback");
                let req = Request {
                    method: "POST",
                    path: &path,
                    query: "",
                    body,
                };
                let reply = Reply::invalid_form_body(&prefix_errors(&errors, "/data"));
                self.violation(
                    ViolationSource::DiscordRule,
                    &req,
                    prefix_errors(&errors, "/data"),
                );
                return reply;
            }
        }
        let original = match callback_type {
            4 | 5 => {
                let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
                let message_id = self.next_message_snowflake();
                let loading = callback_type == 5;
                let message_type = if kind == 2 { 20 } else { 19 };
                let mut json =
                    self.webhook_message(message_id, channel_id, &data, message_type, loading);
                json["interaction_metadata"] = json!({
                    "id": id.to_string(),
                    "type": kind,
                    "name": name,
                    "user": self.user_json(user_id),
                    "authorizing_integration_owners": match guild_id {
                        Some(g) => json!({"0": g.to_string()}),
                        None => json!({"0": "0"}),
                    },
                });
                if kind == 3 {
                    if let Some(source) = source {
                        json["interaction_metadata"]["interacted_message_id"] =
                            json!(source.to_string());
                    }
                }
                let poll = if loading {
                    None
                } else {
                    new_poll(&data, &mut json, &self.poll_answer_ids)
                };
                self.messages.insert(
                    message_id,
                    StoredMessage {
                        id: message_id,
                        channel_id,
                        guild_id,
                        json,
                        ephemeral: flags & FLAG_EPHEMERAL != 0,
                        poll,
                        author_id: self.bot_user.id,
                    },
                );
                if !loading {
                    self.dispatch_message_event("MESSAGE_CREATE", message_id);
                }
                Some(message_id)
            }
            6 => source,
            7 => {
                if let Some(source) = source {
                    if let Err(reply) = self.apply_edit(source, &data) {
                        return reply;
                    }
                }
                source
            }
            _ => None,
        };
        if let Some(ix) = self.interactions.get_mut(&id) {
            ix.acknowledged = Some(callback_type);
            ix.original = original;
        }
        Reply::no_content()
    }

    /// A message sent through the interaction webhook (author is the bot, `webhook_id` the app).
    pub(crate) fn webhook_message(
        &mut self,
        id: u64,
        channel: u64,
        data: &Value,
        kind: u64,
        loading: bool,
    ) -> Value {
        let flags = data.get("flags").and_then(Value::as_u64).unwrap_or(0);
        let content = if loading {
            ""
        } else {
            data.get("content").and_then(Value::as_str).unwrap_or("")
        };
        let mut json = base_message(id, channel, user_json(&self.bot_user), content, kind);
        json["webhook_id"] = json!(self.application_id.to_string());
        json["application_id"] = json!(self.application_id.to_string());
        let mut kept = flags
            & (FLAG_EPHEMERAL
                | FLAG_SUPPRESS_EMBEDS
                | FLAG_SUPPRESS_NOTIFICATIONS
                | FLAG_IS_COMPONENTS_V2);
        if loading {
            kept |= FLAG_LOADING;
        } else {
            json["embeds"] = embeds_as_stored(data.get("embeds"));
            json["components"] = data
                .get("components")
                .filter(|c| !c.is_null())
                .cloned()
                .unwrap_or_else(|| json!([]));
            json["tts"] = json!(data.get("tts").and_then(Value::as_bool).unwrap_or(false));
        }
        json["flags"] = json!(kept);
        json
    }

    pub(crate) fn webhook_route(
        &mut self,
        req: &Request<'_>,
        app: Option<u64>,
        token: &str,
        rest: &[&str],
    ) -> Reply {
        if app != Some(self.application_id) {
            return Reply::unknown_webhook();
        }
        let Some((id, ix)) = self
            .interaction_tokens
            .get(token)
            .and_then(|id| Some((*id, self.interactions.get(id)?)))
        else {
            return Reply::unknown_webhook();
        };
        if ix.created.elapsed() > INTERACTION_TOKEN_LIFETIME {
            return Reply::error(401, 50027, "Invalid Webhook Token");
        }
        if ix.acknowledged.is_none() {
            return Reply::unknown_webhook();
        }
        let (original, followups, channel_id, guild_id) = (
            ix.original,
            ix.followups.clone(),
            ix.channel_id,
            ix.guild_id,
        );
        match (req.method, rest) {
            ("POST", []) => {
                let errors = message_rules(req.body);
                if !errors.is_empty() {
                    self.violation(ViolationSource::DiscordRule, req, errors.clone());
                    return Reply::invalid_form_body(&errors);
                }
                if message_is_empty(req.body) {
                    return Reply::error(400, 50006, "Cannot send an empty message");
                }
                // Discord: a followup right after a deferral (type 5) edits the loading message
                // instead of creating one, keeping the deferral's ephemeral state (deprecated).
                let loading = original.filter(|m| {
                    self.messages.get(m).is_some_and(|m| {
                        m.json.get("flags").and_then(Value::as_u64).unwrap_or(0) & FLAG_LOADING != 0
                    })
                });
                if let Some(loading) = loading {
                    let mut edit = req.body.clone();
                    if let Some(object) = edit.as_object_mut() {
                        object.remove("flags");
                    }
                    return match self.apply_edit(loading, &edit) {
                        Ok(value) => Reply::ok(value),
                        Err(reply) => reply,
                    };
                }
                let message_id = self.next_message_snowflake();
                let flags = req.body.get("flags").and_then(Value::as_u64).unwrap_or(0);
                let mut json = self.webhook_message(message_id, channel_id, req.body, 0, false);
                let poll = new_poll(req.body, &mut json, &self.poll_answer_ids);
                self.messages.insert(
                    message_id,
                    StoredMessage {
                        id: message_id,
                        channel_id,
                        guild_id,
                        json,
                        ephemeral: flags & FLAG_EPHEMERAL != 0,
                        poll,
                        author_id: self.bot_user.id,
                    },
                );
                if let Some(ix) = self.interactions.get_mut(&id) {
                    ix.followups.push(message_id);
                }
                self.dispatch_message_event("MESSAGE_CREATE", message_id);
                let rendered = self
                    .messages
                    .get(&message_id)
                    .map(|m| self.render_message(m));
                Reply::ok(rendered.unwrap_or_default())
            }
            (method, ["messages", which]) => {
                let target = if *which == "@original" {
                    original
                } else {
                    which
                        .parse::<u64>()
                        .ok()
                        .filter(|m| Some(*m) == original || followups.contains(m))
                };
                let Some(target) = target.filter(|m| self.messages.contains_key(m)) else {
                    return Reply::unknown_message();
                };
                match method {
                    "GET" => Reply::ok(
                        self.messages
                            .get(&target)
                            .map(|m| self.render_message(m))
                            .unwrap_or_default(),
                    ),
                    "PATCH" => {
                        let errors = message_rules(req.body);
                        if !errors.is_empty() {
                            self.violation(ViolationSource::DiscordRule, req, errors.clone());
                            return Reply::invalid_form_body(&errors);
                        }
                        match self.apply_edit(target, req.body) {
                            Ok(value) => Reply::ok(value),
                            Err(reply) => reply,
                        }
                    }
                    "DELETE" => {
                        self.dispatch_message_delete(target);
                        self.messages.remove(&target);
                        Reply::no_content()
                    }
                    _ => Reply::not_found(),
                }
            }
            _ => Reply::not_found(),
        }
    }

    /// Applies an edit (PATCH body or UPDATE_MESSAGE data) to a stored message.
    pub(crate) fn apply_edit(&mut self, id: u64, body: &Value) -> Result<Value, Reply> {
        let now = iso8601(SystemTime::now());
        let Some(message) = self.messages.get_mut(&id) else {
            return Err(Reply::unknown_message());
        };
        if body.get("poll").is_some_and(|p| !p.is_null()) {
            return Err(Reply::error(400, 520_003, "Cannot edit a poll"));
        }
        let json = &mut message.json;
        let was_loading =
            json.get("flags").and_then(Value::as_u64).unwrap_or(0) & FLAG_LOADING != 0;
        if let Some(content) = body.get("content") {
            json["content"] = if content.is_null() {
                json!("")
            } else {
                content.clone()
            };
        }
        if let Some(embeds) = body.get("embeds") {
            json["embeds"] = embeds_as_stored(Some(embeds));
        }
        if let Some(components) = body.get("components") {
            json["components"] = if components.is_null() {
                json!([])
            } else {
                components.clone()
            };
        }
        let mut flags = json.get("flags").and_then(Value::as_u64).unwrap_or(0) & !FLAG_LOADING;
        if let Some(sent) = body.get("flags").and_then(Value::as_u64) {
            flags = (flags & !FLAG_SUPPRESS_EMBEDS) | (sent & FLAG_SUPPRESS_EMBEDS);
        }
        json["flags"] = json!(flags);
        if !was_loading {
            json["edited_timestamp"] = json!(now);
        }
        let event = if was_loading {
            "MESSAGE_CREATE"
        } else {
            "MESSAGE_UPDATE"
        };
        self.dispatch_message_event(event, id);
        Ok(self
            .messages
            .get(&id)
            .map(|m| self.render_message(m))
            .unwrap_or_default())
    }
}
