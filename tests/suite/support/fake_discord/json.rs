//! JSON shapes shared by REST and the gateway, and small helpers (snowflakes, times, query strings).

use std::collections::hash_map::RandomState;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::model::{FakeChannel, FakeRole, FakeUser};
use super::state::PollState;

/// Milliseconds between the Unix epoch and Discord's epoch (2015-01-01).
pub(crate) const DISCORD_EPOCH_MS: u64 = 1_420_070_400_000;

pub(crate) fn user_json(user: &FakeUser) -> Value {
    let mut value = json!({
        "id": user.id.to_string(),
        "username": user.username,
        "discriminator": "0",
        "global_name": user.global_name,
        "avatar": null,
        "banner": null,
        "accent_color": null,
        "public_flags": 0,
        "flags": 0,
        "avatar_decoration_data": null,
        "collectibles": null,
        "primary_guild": null,
        "clan": null,
    });
    if user.bot {
        value["bot"] = json!(true);
        value["discriminator"] = json!("4821"); // bots keep a four-digit discriminator
    }
    value
}

pub(crate) fn role_json(role: &FakeRole, bot_id: u64) -> Value {
    let mut value = json!({
        "id": role.id.to_string(),
        "name": role.name,
        "description": null,
        "color": 0,
        "colors": {"primary_color": 0, "secondary_color": null, "tertiary_color": null},
        "hoist": false,
        "icon": null,
        "unicode_emoji": null,
        "position": role.position,
        "permissions": role.permissions.to_string(),
        "managed": role.managed,
        "mentionable": role.mentionable,
        "flags": 0,
    });
    if role.managed {
        value["tags"] = json!({"bot_id": bot_id.to_string()});
    }
    value
}

pub(crate) fn channel_json(channel: &FakeChannel, guild_id: Option<u64>) -> Value {
    let overwrites: Vec<Value> = channel
        .overwrites
        .iter()
        .map(|o| {
            json!({
                "id": o.id.to_string(),
                "type": o.kind,
                "allow": o.allow.to_string(),
                "deny": o.deny.to_string(),
            })
        })
        .collect();
    let mut value = json!({
        "id": channel.id.to_string(),
        "type": channel.kind,
        "name": channel.name,
        "position": channel.position,
        "parent_id": channel.parent_id.map(|p| p.to_string()),
        "permission_overwrites": overwrites,
        "flags": 0,
    });
    if matches!(channel.kind, 0 | 5 | 15) {
        if let Some(object) = value.as_object_mut() {
            object.insert("topic".into(), json!(channel.topic));
            object.insert("nsfw".into(), json!(false));
            object.insert("last_message_id".into(), Value::Null);
            object.insert("rate_limit_per_user".into(), json!(0));
            object.insert("default_thread_rate_limit_per_user".into(), json!(0));
            object.insert("default_auto_archive_duration".into(), json!(4320));
        }
    }
    if channel.kind == 2 {
        value["bitrate"] = json!(64_000);
        value["user_limit"] = json!(0);
        value["rtc_region"] = Value::Null;
    }
    if let Some(g) = guild_id {
        value["guild_id"] = json!(g.to_string());
    }
    value
}

pub(crate) fn base_message(
    id: u64,
    channel: u64,
    author: Value,
    content: &str,
    kind: u64,
) -> Value {
    json!({
        "id": id.to_string(),
        "channel_id": channel.to_string(),
        "author": author,
        "content": content,
        "timestamp": snowflake_time(id),
        "edited_timestamp": null,
        "tts": false,
        "mention_everyone": false,
        "mentions": [],
        "mention_roles": [],
        "attachments": [],
        "embeds": [],
        "components": [],
        "pinned": false,
        "type": kind,
        "flags": 0,
    })
}

/// Embeds as Discord stores them (`type: rich`, `content_scan_version`).
pub(crate) fn embeds_as_stored(embeds: Option<&Value>) -> Value {
    let list = embeds
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    Value::Array(
        list.into_iter()
            .map(|mut embed| {
                if let Some(object) = embed.as_object_mut() {
                    object.retain(|_, v| !v.is_null());
                    object.entry("type").or_insert_with(|| json!("rich"));
                    object.insert("content_scan_version".into(), json!(0));
                }
                embed
            })
            .collect(),
    )
}

/// Turns a poll create request in `body` into the stored poll of `message`.
pub(crate) fn new_poll(body: &Value, message: &mut Value, numbering: &[u64]) -> Option<PollState> {
    let poll = body.get("poll").filter(|p| !p.is_null())?;
    let hours = poll.get("duration").and_then(Value::as_u64).unwrap_or(24);
    let expiry = SystemTime::now() + Duration::from_secs(hours * 3600);
    let answers: Vec<Value> = poll
        .get("answers")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, answer)| {
            let mut media = answer
                .get("poll_media")
                .cloned()
                .unwrap_or_else(|| json!({}));
            if let Some(object) = media.as_object_mut() {
                object.retain(|_, v| !v.is_null());
            }
            json!({"answer_id": answer_id(numbering, i), "poll_media": media})
        })
        .collect();
    let answer_ids = (0..answers.len())
        .map(|i| answer_id(numbering, i))
        .collect();
    let allow_multiselect = poll
        .get("allow_multiselect")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut question = poll.get("question").cloned().unwrap_or_else(|| json!({}));
    if let Some(object) = question.as_object_mut() {
        object.retain(|_, v| !v.is_null());
    }
    message["poll"] = json!({
        "question": question,
        "answers": answers,
        "expiry": iso8601(expiry),
        "allow_multiselect": allow_multiselect,
        "layout_type": poll.get("layout_type").and_then(Value::as_u64).unwrap_or(1),
    });
    Some(PollState {
        answer_ids,
        allow_multiselect,
        votes: BTreeMap::new(),
        finalized: false,
        finalizes_at: None,
    })
}

/// The id of answer `index` (0-based) under `numbering` (see [`FakeOptions::poll_answer_ids`]).
pub(crate) fn answer_id(numbering: &[u64], index: usize) -> u64 {
    match numbering {
        [] | [1] => index as u64 + 1,
        ids => ids[index % ids.len()] + (index / ids.len()) as u64 * 1000,
    }
}

pub(crate) fn command_key(command: &Value) -> (String, u64) {
    (
        command
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        command.get("type").and_then(Value::as_u64).unwrap_or(1),
    )
}

pub(crate) fn without_keys(value: &Value, keys: &[&str]) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        for key in keys {
            object.remove(*key);
        }
    }
    value
}

/// Routes Discord answers without a bot token: gateway discovery and interaction webhooks.
pub(crate) fn route_is_public(method: &str, segments: &[&str]) -> bool {
    matches!(
        (method, segments),
        ("GET", ["gateway"]) | (_, ["interactions", ..]) | (_, ["webhooks", ..])
    )
}

pub(crate) fn normalize_prefix(prefix: &str) -> String {
    if prefix.starts_with("/api/") {
        prefix.to_owned()
    } else if prefix.starts_with('/') {
        format!("/api/v10{prefix}")
    } else {
        format!("/api/v10/{prefix}")
    }
}

pub(crate) fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) => (k.to_owned(), v.to_owned()),
            None => (pair.to_owned(), String::new()),
        })
        .collect()
}

pub(crate) fn close_reason(code: u16) -> &'static str {
    match code {
        4000 => "Unknown error.",
        4001 => "Unknown opcode.",
        4002 => "Error while decoding payload.",
        4003 => "Not authenticated.",
        4004 => "Authentication failed.",
        4005 => "Already authenticated.",
        4007 => "Invalid seq.",
        4008 => "Rate limited.",
        4009 => "Session timed out.",
        4010 => "Invalid shard.",
        4011 => "Sharding required.",
        4012 => "Invalid API version.",
        4013 => "Invalid intent(s).",
        4014 => "Disallowed intent(s).",
        _ => "",
    }
}

/// APPLICATION_COMMAND_BADGE | GATEWAY_MESSAGE_CONTENT_LIMITED.
pub(crate) fn application_flags() -> u64 {
    (1 << 23) | (1 << 19)
}

pub(crate) fn capitalize(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

pub(crate) fn now_unix_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// The creation time a snowflake encodes, as Discord's ISO 8601 timestamp.
pub(crate) fn snowflake_time(id: u64) -> String {
    iso8601(UNIX_EPOCH + Duration::from_millis((id >> 22) + DISCORD_EPOCH_MS))
}

/// `2024-05-01T12:34:56.789000+00:00`, as Discord writes timestamps.
pub(crate) fn iso8601(time: SystemTime) -> String {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs();
    let micros = since.subsec_micros();
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{micros:06}+00:00",
        rem / 3600,
        (rem % 3600) / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) in the proleptic Gregorian calendar
/// (Howard Hinnant's algorithm).
pub(crate) fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// `n` × 16 random hex digits (std's randomly keyed hasher; no extra crate).
pub(crate) fn random_hex(n: usize) -> String {
    (0..n)
        .map(|i| {
            let mut hasher = RandomState::new().build_hasher();
            hasher.write_usize(i);
            hasher.write_u64(now_unix_ms());
            format!("{:016x}", hasher.finish())
        })
        .collect()
}
