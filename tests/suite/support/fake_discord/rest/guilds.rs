//! Guild routes and the guild and member JSON shapes.

use serde_json::{json, Value};

use super::super::json::{channel_json, parse_query, role_json, snowflake_time};
use super::super::model::FakeGuild;
use super::super::state::State;
use super::{Reply, Request};

impl State {
    pub(crate) fn member_json(
        &self,
        guild: &FakeGuild,
        user: u64,
        permissions: Option<u64>,
    ) -> Value {
        let nick = guild
            .members
            .iter()
            .find(|m| m.user_id == user)
            .and_then(|m| m.nick.clone());
        let roles: Vec<String> = self
            .member_roles(guild, user)
            .iter()
            .map(ToString::to_string)
            .collect();
        let mut member = json!({
            "user": self.user_json(user),
            "nick": nick,
            "avatar": null,
            "banner": null,
            "roles": roles,
            "joined_at": snowflake_time(guild.id),
            "premium_since": null,
            "deaf": false,
            "mute": false,
            "flags": 0,
            "pending": false,
            "communication_disabled_until": null,
            "unusual_dm_activity_until": null,
        });
        if let Some(p) = permissions {
            member["permissions"] = json!(p.to_string());
        }
        member
    }

    pub(crate) fn guild_base_json(&self, guild: &FakeGuild) -> Value {
        let roles: Vec<Value> = guild
            .roles
            .iter()
            .map(|r| role_json(r, self.bot_user.id))
            .collect();
        let mut value = json!({
            "id": guild.id.to_string(),
            "name": guild.name,
            "icon": null,
            "icon_hash": null,
            "splash": null,
            "discovery_splash": null,
            "owner_id": guild.owner_id.to_string(),
            "afk_channel_id": null,
            "afk_timeout": 300,
            "widget_enabled": false,
            "widget_channel_id": null,
            "verification_level": 1,
            "default_message_notifications": 1,
            "explicit_content_filter": 2,
            "roles": roles,
            "emojis": [],
            "stickers": [],
            "features": [],
            "mfa_level": 0,
            "application_id": null,
            "system_channel_id": guild.channels.first().map(|c| c.id.to_string()),
            "system_channel_flags": 0,
            "rules_channel_id": null,
        });
        // Split in two: one json! this long exceeds the macro recursion limit.
        let more = json!({
            "max_presences": null,
            "max_members": 500_000,
            "vanity_url_code": null,
            "description": null,
            "banner": null,
            "premium_tier": 0,
            "premium_subscription_count": 0,
            "preferred_locale": guild.preferred_locale,
            "public_updates_channel_id": null,
            "max_video_channel_users": 25,
            "max_stage_video_channel_users": 50,
            "nsfw_level": 0,
            "nsfw": false,
            "premium_progress_bar_enabled": false,
            "safety_alerts_channel_id": null,
            "incidents_data": null,
            "region": "deprecated",
            "home_header": null,
            "hub_type": null,
            "latest_onboarding_question_id": null,
        });
        if let (Some(object), Value::Object(more)) = (value.as_object_mut(), more) {
            object.extend(more);
        }
        value
    }

    pub(crate) fn guild_route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let Some(guild) = s
            .get(1)
            .and_then(|g| g.parse::<u64>().ok())
            .and_then(|g| self.guild(g))
        else {
            return Reply::error(404, 10004, "Unknown Guild");
        };
        match &s[2..] {
            [] => {
                let mut value = self.guild_base_json(guild);
                if parse_query(req.query)
                    .get("with_counts")
                    .is_some_and(|v| v == "true")
                {
                    value["approximate_member_count"] = json!(guild.members.len() + 1);
                    value["approximate_presence_count"] = json!(1);
                }
                Reply::ok(value)
            }
            ["channels"] => Reply::ok(Value::Array(
                guild
                    .channels
                    .iter()
                    .map(|c| channel_json(c, Some(guild.id)))
                    .collect(),
            )),
            ["roles"] => Reply::ok(Value::Array(
                guild
                    .roles
                    .iter()
                    .map(|r| role_json(r, self.bot_user.id))
                    .collect(),
            )),
            ["members", user] => {
                let user: u64 = user.parse().unwrap_or(0);
                let is_member =
                    user == self.bot_user.id || guild.members.iter().any(|m| m.user_id == user);
                if is_member {
                    let mut member = self.member_json(guild, user, None);
                    if user == self.bot_user.id {
                        member["joined_at"] =
                            json!(snowflake_time(guild.id.saturating_add(1 << 32)));
                    }
                    Reply::ok(member)
                } else {
                    Reply::error(404, 10007, "Unknown Member")
                }
            }
            _ => Reply::not_found(),
        }
    }
}
