//! Application command routes: bulk overwrite, per-command CRUD, and the application itself.

use serde_json::{json, Value};

use super::super::json::{application_flags, command_key, user_json, without_keys};
use super::super::model::permissions;
use super::super::records::ViolationSource;
use super::super::rules::rule;
use super::super::state::State;
use super::super::FakeDiscord;
use super::{Reply, Request};

impl State {
    pub(crate) fn application_json(&self) -> Value {
        let owner = self
            .guilds
            .first()
            .map_or(FakeDiscord::USER_ID, |g| g.owner_id);
        json!({
            "id": self.application_id.to_string(),
            "name": self.bot_user.username,
            "icon": null,
            "description": "",
            "summary": "",
            "type": null,
            "hook": true,
            "bot_public": true,
            "bot_require_code_grant": false,
            "verify_key": "8f2d1c3b4a5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8",
            "flags": application_flags(),
            "owner": self.user_json(owner),
            "team": null,
            "bot": user_json(&self.bot_user),
            "rpc_origins": [],
            "redirect_uris": [],
            "interactions_endpoint_url": null,
            "role_connections_verification_url": null,
            "event_webhooks_url": null,
            "event_webhooks_status": 1,
            "tags": [],
            "install_params": {
                "scopes": ["bot", "applications.commands"],
                "permissions": permissions::BOT_INVITE.to_string(),
            },
            "integration_types_config": {
                "0": {"oauth2_install_params": {
                    "scopes": ["bot", "applications.commands"],
                    "permissions": permissions::BOT_INVITE.to_string(),
                }},
            },
            "approximate_guild_count": self.guilds.len(),
            "approximate_user_install_count": 0,
            "is_monetized": false,
            "is_verified": false,
            "is_discoverable": false,
            "explicit_content_filter": 0,
        })
    }

    pub(crate) fn commands_route(&mut self, req: &Request<'_>, s: &[&str]) -> Reply {
        let app = s.get(1).and_then(|a| a.parse::<u64>().ok());
        if app != Some(self.application_id) {
            return Reply::error(403, 50001, "Missing Access");
        }
        let (guild, rest) = match s {
            [_, _, "guilds", guild, "commands", rest @ ..] => match guild.parse::<u64>() {
                Ok(g) if self.guild(g).is_some() => (Some(g), rest),
                _ => return Reply::missing_access(),
            },
            [_, _, "commands", rest @ ..] => (None, rest),
            _ => return Reply::not_found(),
        };
        match (req.method, rest) {
            ("GET", []) => Reply::ok(Value::Array(self.commands(guild).clone())),
            ("PUT", []) => {
                let Some(list) = req.body.as_array() else {
                    return Reply::invalid_form_body(&[rule(
                        "",
                        "BASE_TYPE_ARRAY",
                        "Must be an array.",
                    )]);
                };
                let mut names = Vec::new();
                for (i, command) in list.iter().enumerate() {
                    let key = command_key(command);
                    if names.contains(&key) {
                        let error = rule(
                            &format!("/{i}/name"),
                            "APPLICATION_COMMANDS_DUPLICATE_NAME",
                            "Application command names must be unique",
                        );
                        self.violation(ViolationSource::DiscordRule, req, vec![error.clone()]);
                        return Reply::invalid_form_body(&[error]);
                    }
                    names.push(key);
                }
                let stored: Vec<Value> =
                    list.iter().map(|c| self.store_command(guild, c)).collect();
                *self.commands_mut(guild) = stored.clone();
                Reply::ok(Value::Array(stored))
            }
            ("POST", []) => {
                let stored = self.store_command(guild, req.body);
                let key = command_key(&stored);
                let list = self.commands_mut(guild);
                let existed = list.iter().position(|c| command_key(c) == key);
                match existed {
                    Some(i) => list[i] = stored.clone(),
                    None => list.push(stored.clone()),
                }
                Reply::json(if existed.is_some() { 200 } else { 201 }, stored)
            }
            (method @ ("GET" | "DELETE"), [command]) => {
                let list = self.commands_mut(guild);
                let Some(i) = list
                    .iter()
                    .position(|c| c.get("id").and_then(Value::as_str) == Some(*command))
                else {
                    return Reply::error(404, 10063, "Unknown application command");
                };
                if method == "GET" {
                    Reply::ok(list[i].clone())
                } else {
                    list.remove(i);
                    Reply::no_content()
                }
            }
            _ => Reply::not_found(),
        }
    }

    pub(crate) fn commands(&mut self, guild: Option<u64>) -> &Vec<Value> {
        self.commands_mut(guild)
    }

    pub(crate) fn commands_mut(&mut self, guild: Option<u64>) -> &mut Vec<Value> {
        match guild {
            None => &mut self.global_commands,
            Some(g) => self.guild_commands.entry(g).or_default(),
        }
    }

    /// A command as Discord stores it; an unchanged command keeps its id and version.
    pub(crate) fn store_command(&mut self, guild: Option<u64>, sent: &Value) -> Value {
        let key = command_key(sent);
        let existing = self
            .commands(guild)
            .iter()
            .find(|c| command_key(c) == key)
            .cloned();
        let kind = sent.get("type").and_then(Value::as_u64).unwrap_or(1);
        let mut command = json!({
            "type": kind,
            "application_id": self.application_id.to_string(),
            "name": sent.get("name").cloned().unwrap_or(Value::Null),
            "name_localizations": sent.get("name_localizations").cloned().unwrap_or(Value::Null),
            "description": sent.get("description").cloned().unwrap_or_else(|| json!("")),
            "description_localizations": sent.get("description_localizations").cloned().unwrap_or(Value::Null),
            "default_member_permissions": sent
                .get("default_member_permissions")
                .filter(|p| !p.is_null())
                .map(|p| json!(p.as_str().map_or_else(|| p.to_string(), str::to_owned)))
                .unwrap_or(Value::Null),
            "nsfw": sent.get("nsfw").and_then(Value::as_bool).unwrap_or(false),
            "contexts": sent.get("contexts").cloned().unwrap_or(Value::Null),
            "integration_types": sent.get("integration_types").cloned().unwrap_or_else(|| json!([0])),
        });
        if let Some(options) = sent
            .get("options")
            .filter(|o| o.as_array().is_some_and(|a| !a.is_empty()))
        {
            command["options"] = options.clone();
        }
        match guild {
            Some(g) => command["guild_id"] = json!(g.to_string()),
            None => {
                command["dm_permission"] = json!(sent
                    .get("dm_permission")
                    .and_then(Value::as_bool)
                    .unwrap_or(true));
            }
        }
        let (id, version) = match &existing {
            Some(old) => {
                let same = without_keys(old, &["id", "version"])
                    == without_keys(&command, &["id", "version"]);
                let id = old.get("id").cloned().unwrap_or(Value::Null);
                let version = if same {
                    old.get("version").cloned().unwrap_or(Value::Null)
                } else {
                    json!(self.next_snowflake().to_string())
                };
                (id, version)
            }
            None => (
                json!(self.next_snowflake().to_string()),
                json!(self.next_snowflake().to_string()),
            ),
        };
        command["id"] = id;
        command["version"] = version;
        command
    }
}
