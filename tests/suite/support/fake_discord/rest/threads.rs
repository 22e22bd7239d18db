//! `POST /channels/{channel}/messages/{message}/threads`: a public thread started from a message, as Discord does
//! it: Create Public Threads needed in a text channel (Create Public Threads also in an announcement channel, which
//! makes an announcement thread), a name of 1 to 100 characters, an archive duration Discord knows, and **one
//! thread per message**: a second answers 400 with code 160004. The answer is the thread channel (201).

use std::time::SystemTime;

use serde_json::{json, Value};

use super::super::json::iso8601;
use super::super::model::permissions;
use super::super::state::State;
use super::{Reply, Request};

/// The archive durations Discord accepts, in minutes.
const ARCHIVE_MINUTES: [u64; 4] = [60, 1_440, 4_320, 10_080];

impl State {
    pub(crate) fn thread_from_message(
        &mut self,
        req: &Request<'_>,
        channel: u64,
        message: &str,
        perms: u64,
    ) -> Reply {
        let Some(message) = self.message_in(channel, message) else {
            return Reply::unknown_message();
        };
        let Some((gi, ci)) = self.find_channel(channel) else {
            return Reply::error(400, 50024, "Cannot execute action on this channel type");
        };
        let (guild_id, kind) = (self.guilds[gi].id, self.guilds[gi].channels[ci].kind);
        let thread_kind = match kind {
            0 => 11,
            5 => 10,
            _ => return Reply::error(400, 50024, "Cannot execute action on this channel type"),
        };
        if perms & permissions::CREATE_PUBLIC_THREADS == 0 {
            return Reply::missing_permissions();
        }
        if self.threads.contains_key(&message) {
            return Reply::error(
                400,
                160_004,
                "A thread has already been created for this message",
            );
        }
        let name = req.body["name"].as_str().unwrap_or_default();
        let length = name.chars().count();
        if !(1..=100).contains(&length) {
            return Reply::json(
                400,
                json!({"message": "Invalid Form Body", "code": 50035, "errors": {"name": {"_errors": [
                    {"code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
                ]}}}),
            );
        }
        let archive = req.body["auto_archive_duration"].as_u64().unwrap_or(4_320);
        if !ARCHIVE_MINUTES.contains(&archive) {
            return Reply::json(
                400,
                json!({"message": "Invalid Form Body", "code": 50035, "errors": {"auto_archive_duration": {"_errors": [
                    {"code": "BASE_TYPE_CHOICES", "message": "Value must be one of {60, 1440, 4320, 10080}."}
                ]}}}),
            );
        }
        let started = SystemTime::now();
        let now = iso8601(started);
        let thread = json!({
            "id": message.to_string(),
            "type": thread_kind,
            "guild_id": guild_id.to_string(),
            "parent_id": channel.to_string(),
            "owner_id": self.bot_user.id.to_string(),
            "name": name,
            "last_message_id": null,
            "rate_limit_per_user": 0,
            "message_count": 0,
            "member_count": 1,
            "total_message_sent": 0,
            "flags": 0,
            "thread_metadata": {
                "archived": false,
                "auto_archive_duration": archive,
                "archive_timestamp": now,
                "locked": false,
                "create_timestamp": now,
            },
            "member": {
                "id": message.to_string(),
                "user_id": self.bot_user.id.to_string(),
                "join_timestamp": now,
                "flags": 0,
            },
        });
        self.threads.insert(message, thread.clone());
        self.thread_starts.entry(channel).or_default().push(started);
        if let Some(stored) = self.messages.get_mut(&message) {
            // Discord's message now names its thread.
            stored.json["thread"] = thread.clone();
            stored.json["flags"] =
                json!(stored.json["flags"].as_u64().unwrap_or(0) | FLAG_HAS_THREAD);
        }
        Reply::json(201, thread)
    }
}

/// The message flag Discord sets on a message a thread was started from.
const FLAG_HAS_THREAD: u64 = 1 << 5;

/// The thread started from each message, as (message id, the thread's name, its archive duration in minutes).
pub(crate) fn thread_summary(thread: &Value) -> (u64, String, u64) {
    (
        thread["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_default(),
        thread["name"].as_str().unwrap_or_default().to_owned(),
        thread["thread_metadata"]["auto_archive_duration"]
            .as_u64()
            .unwrap_or_default(),
    )
}
