//! Interactions a test sends to the bot: the builder and the payload Discord would dispatch.

use std::time::Instant;

use serde_json::{json, Value};

use super::json::{channel_json, random_hex, role_json, user_json};
use super::model::permissions;
use super::records::InteractionRef;
use super::rules::collect_custom_ids;
use super::state::{Interaction, State};
use super::FakeDiscord;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    Command,
    Autocomplete,
    Button,
    StringSelect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Place {
    Default,
    Guild { guild: u64, channel: u64 },
    Dm,
}

/// Builds an INTERACTION_CREATE the way Discord sends it; finish with [`InteractionBuilder::send`].
#[must_use]
pub struct InteractionBuilder<'a> {
    pub(crate) fake: &'a FakeDiscord,
    pub(crate) kind: Kind,
    pub(crate) name: String,
    pub(crate) options: Vec<Value>,
    pub(crate) subcommand: Option<String>,
    pub(crate) values: Vec<String>,
    pub(crate) locale: String,
    pub(crate) guild_locale: Option<String>,
    pub(crate) place: Place,
    pub(crate) user: u64,
    pub(crate) member_permissions: Option<u64>,
    pub(crate) app_permissions: Option<u64>,
    pub(crate) message: Option<u64>,
}

impl<'a> InteractionBuilder<'a> {
    pub(crate) fn new(fake: &'a FakeDiscord, kind: Kind, name: &str) -> Self {
        InteractionBuilder {
            fake,
            kind,
            name: name.to_owned(),
            options: Vec::new(),
            subcommand: None,
            values: Vec::new(),
            locale: "en-US".to_owned(),
            guild_locale: None,
            place: Place::Default,
            user: FakeDiscord::USER_ID,
            member_permissions: None,
            app_permissions: None,
            message: None,
        }
    }

    pub(crate) fn option(mut self, name: &str, kind: u8, value: Value, focused: bool) -> Self {
        let mut option = json!({"name": name, "type": kind, "value": value});
        if focused {
            option["focused"] = json!(true);
        }
        self.options.push(option);
        self
    }

    /// A channel option (type 7); its channel is filled into `resolved`.
    pub fn option_channel(self, name: &str, channel: u64) -> Self {
        self.option(name, 7, json!(channel.to_string()), false)
    }

    /// A role option (type 8); its role is filled into `resolved`.
    pub fn option_role(self, name: &str, role: u64) -> Self {
        self.option(name, 8, json!(role.to_string()), false)
    }

    /// A string option (type 3).
    pub fn option_str(self, name: &str, value: &str) -> Self {
        self.option(name, 3, json!(value), false)
    }

    /// An integer option (type 4).
    pub fn option_int(self, name: &str, value: i64) -> Self {
        self.option(name, 4, json!(value), false)
    }

    /// A boolean option (type 5).
    pub fn option_bool(self, name: &str, value: bool) -> Self {
        self.option(name, 5, json!(value), false)
    }

    /// A number option (type 10).
    pub fn option_num(self, name: &str, value: f64) -> Self {
        self.option(name, 10, json!(value), false)
    }

    /// The string option being typed, for autocomplete (`focused: true`; the partial input).
    pub fn focused_str(self, name: &str, partial: &str) -> Self {
        self.option(name, 3, json!(partial), true)
    }

    /// The options that follow belong to this subcommand (type 1).
    pub fn subcommand(mut self, name: &str) -> Self {
        self.subcommand = Some(name.to_owned());
        self
    }

    /// The user's locale, e.g. `ko`, `es-ES`.
    pub fn locale(mut self, locale: &str) -> Self {
        self.locale = locale.to_owned();
        self
    }

    /// The guild's preferred locale (default: the guild's).
    pub fn guild_locale(mut self, locale: &str) -> Self {
        self.guild_locale = Some(locale.to_owned());
        self
    }

    /// In a guild text channel (context 0). The default is the first configured guild's first
    /// text channel.
    pub fn in_guild(mut self, guild: u64, channel: u64) -> Self {
        self.place = Place::Guild { guild, channel };
        self
    }

    /// In the user's DM with the bot (context 1; `user` instead of `member`).
    pub fn in_dm(mut self) -> Self {
        self.place = Place::Dm;
        self
    }

    /// The user who acts (default [`FakeDiscord::USER_ID`]); unknown ids become a made-up person.
    pub fn user(mut self, user: u64) -> Self {
        self.user = user;
        self
    }

    /// The member's `permissions` (default: computed from roles and overwrites).
    pub fn member_permissions(mut self, permissions: u64) -> Self {
        self.member_permissions = Some(permissions);
        self
    }

    /// The bot's `app_permissions` (default: computed from its roles and overwrites).
    pub fn app_permissions(mut self, permissions: u64) -> Self {
        self.app_permissions = Some(permissions);
        self
    }

    /// For components: the message the component is on.
    pub fn on_message(mut self, message: u64) -> Self {
        self.message = Some(message);
        self
    }

    /// The INTERACTION_CREATE payload this builder makes (ids and token drawn now).
    pub fn payload(&self) -> Value {
        let mut st = self.fake.lock();
        match st.interaction_payload(self) {
            Ok(payload) => payload,
            Err(e) => panic!("{} `{}`: {e}", self.kind_name(), self.name),
        }
    }

    /// Dispatches the interaction; the fake then accepts its callback.
    pub async fn send(self) -> InteractionRef {
        let what = format!("{} `{}`", self.kind_name(), self.name);
        self.fake.mutate(|st| {
            let payload = match st.interaction_payload(&self) {
                Ok(payload) => payload,
                Err(e) => panic!("{what}: {e}"),
            };
            match st.register_and_dispatch_interaction(payload) {
                Ok(found) => found,
                Err(e) => panic!("{what}: {e}"),
            }
        })
    }

    pub(crate) fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Command => "slash command",
            Kind::Autocomplete => "autocomplete for",
            Kind::Button => "button",
            Kind::StringSelect => "string select",
        }
    }
}

impl State {
    pub(crate) fn interaction_payload(
        &mut self,
        b: &InteractionBuilder<'_>,
    ) -> Result<Value, String> {
        let id = self.next_snowflake();
        let token = format!("aW50ZXJhY3Rpb246{id}OmZha2U6{}", random_hex(3));
        let user = self.user(b.user);
        self.users.entry(user.id).or_insert_with(|| user.clone());

        let place = match b.place {
            Place::Default => match self.guilds.first() {
                Some(g) => match g.channels.iter().find(|c| c.kind == 0) {
                    Some(c) => Place::Guild {
                        guild: g.id,
                        channel: c.id,
                    },
                    None => Place::Dm,
                },
                None => Place::Dm,
            },
            other => other,
        };

        let data = match b.kind {
            Kind::Command | Kind::Autocomplete => {
                let guild = match place {
                    Place::Guild { guild, .. } => Some(guild),
                    _ => None,
                };
                let command = guild
                    .and_then(|g| self.guild_commands.get(&g))
                    .into_iter()
                    .flatten()
                    .chain(self.global_commands.iter())
                    .find(|c| c.get("name").and_then(Value::as_str) == Some(b.name.as_str()))
                    .cloned();
                let command_id = command
                    .as_ref()
                    .and_then(|c| c.get("id").and_then(Value::as_str))
                    .map(str::to_owned)
                    .unwrap_or_else(|| self.next_snowflake().to_string());
                let options = match &b.subcommand {
                    Some(sub) => json!([{"name": sub, "type": 1, "options": b.options}]),
                    None => json!(b.options),
                };
                let mut data = json!({"id": command_id, "name": b.name, "type": 1});
                if options.as_array().is_some_and(|o| !o.is_empty()) {
                    // Discord leaves `options` out when there are none.
                    data["options"] = options;
                }
                // Channel (7) and role (8) options come with their objects in `resolved`, as on Discord.
                for option in &b.options {
                    let id = option["value"]
                        .as_str()
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0);
                    let kind = option["type"].as_u64();
                    let found = self.guilds.iter().find_map(|g| match kind {
                        Some(7) => g.channels.iter().find(|c| c.id == id).map(|c| {
                            let mut channel = channel_json(c, Some(g.id));
                            channel["permissions"] = json!(permissions::ALL.to_string());
                            ("channels", channel)
                        }),
                        Some(8) => g
                            .roles
                            .iter()
                            .find(|r| r.id == id)
                            .map(|r| ("roles", role_json(r, self.bot_user.id))),
                        _ => None,
                    });
                    if let Some((table, object)) = found {
                        data["resolved"][table][id.to_string()] = object;
                    }
                }
                if let Some(g) = command
                    .as_ref()
                    .and_then(|c| c.get("guild_id"))
                    .filter(|g| !g.is_null())
                {
                    data["guild_id"] = g.clone();
                }
                data
            }
            Kind::Button | Kind::StringSelect => {
                let mut data = json!({
                    "custom_id": b.name,
                    "component_type": if b.kind == Kind::Button { 2 } else { 3 },
                });
                if b.kind == Kind::StringSelect {
                    data["values"] = json!(b.values);
                }
                data
            }
        };

        let (interaction_type, source_message) = match b.kind {
            Kind::Command => (2, None),
            Kind::Autocomplete => (4, None),
            Kind::Button | Kind::StringSelect => {
                let message = match b.message {
                    Some(m) if self.messages.contains_key(&m) => m,
                    Some(m) => return Err(format!("no message {m} is stored")),
                    None => self.find_component_message(&b.name).ok_or_else(|| {
                        format!(
                            "no message the bot sent has a component with custom_id `{}`",
                            b.name
                        )
                    })?,
                };
                (3, Some(message))
            }
        };

        let mut payload = json!({
            "id": id.to_string(),
            "application_id": self.application_id.to_string(),
            "type": interaction_type,
            "token": token,
            "version": 1,
            "data": data,
            "locale": b.locale,
            "entitlements": [],
            "attachment_size_limit": 10_485_760,
        });

        let place = match (place, source_message) {
            // A component interaction happens where its message is.
            (_, Some(m)) => match self
                .messages
                .get(&m)
                .and_then(|m| m.guild_id.map(|g| (g, m.channel_id)))
            {
                Some((guild, channel)) => Place::Guild { guild, channel },
                None => Place::Dm,
            },
            (place, None) => place,
        };

        match place {
            Place::Guild { guild, channel } => {
                let Some(g) = self.guild(guild) else {
                    return Err(format!("no guild {guild}"));
                };
                let Some(c) = g.channels.iter().find(|c| c.id == channel) else {
                    return Err(format!("no channel {channel} in guild {guild}"));
                };
                let member_permissions = b
                    .member_permissions
                    .unwrap_or_else(|| self.channel_permissions(g, c, user.id));
                let app_permissions = b
                    .app_permissions
                    .unwrap_or_else(|| self.channel_permissions(g, c, self.bot_user.id));
                let mut channel_value = channel_json(c, Some(guild));
                channel_value["permissions"] = json!(member_permissions.to_string());
                let member = self.member_json(g, user.id, Some(member_permissions));
                let guild_locale = b
                    .guild_locale
                    .clone()
                    .unwrap_or_else(|| g.preferred_locale.clone());
                if let Some(object) = payload.as_object_mut() {
                    object.insert("guild_id".into(), json!(guild.to_string()));
                    object.insert(
                        "guild".into(),
                        json!({"id": guild.to_string(), "locale": guild_locale, "features": []}),
                    );
                    object.insert("guild_locale".into(), json!(guild_locale));
                    object.insert("channel_id".into(), json!(channel.to_string()));
                    object.insert("channel".into(), channel_value);
                    object.insert("member".into(), member);
                    object.insert("app_permissions".into(), json!(app_permissions.to_string()));
                    object.insert(
                        "authorizing_integration_owners".into(),
                        json!({"0": guild.to_string()}),
                    );
                    object.insert("context".into(), json!(0));
                }
            }
            Place::Dm | Place::Default => {
                let channel = self.dm_channel_for(user.id);
                // What Discord puts in app_permissions for the bot's DMs.
                let dm_permissions = permissions::ATTACH_FILES
                    | permissions::EMBED_LINKS
                    | permissions::MENTION_EVERYONE
                    | permissions::USE_EXTERNAL_EMOJIS;
                if let Some(object) = payload.as_object_mut() {
                    object.insert("channel_id".into(), json!(channel.to_string()));
                    object.insert(
                        "channel".into(),
                        json!({
                            "id": channel.to_string(),
                            "type": 1,
                            "flags": 0,
                            "last_message_id": null,
                            "recipients": [user_json(&user)],
                        }),
                    );
                    object.insert("user".into(), user_json(&user));
                    object.insert(
                        "app_permissions".into(),
                        json!(b.app_permissions.unwrap_or(dm_permissions).to_string()),
                    );
                    object.insert("authorizing_integration_owners".into(), json!({"0": "0"}));
                    object.insert("context".into(), json!(1));
                }
            }
        }

        if let Some(m) = source_message.and_then(|m| self.messages.get(&m)) {
            payload["message"] = self.render_message(m);
        }
        Ok(payload)
    }

    pub(crate) fn dm_channel_for(&mut self, user: u64) -> u64 {
        if let Some((channel, _)) = self.dm_channels.iter().find(|(_, u)| **u == user) {
            return *channel;
        }
        let channel = self.next_snowflake();
        self.dm_channels.insert(channel, user);
        channel
    }

    /// The newest bot message with a component whose `custom_id` is `custom_id`.
    pub(crate) fn find_component_message(&self, custom_id: &str) -> Option<u64> {
        self.messages
            .values()
            .rev()
            .filter(|m| m.author_id == self.bot_user.id)
            .find(|m| {
                let mut ids = Vec::new();
                collect_custom_ids(
                    m.json.get("components").unwrap_or(&Value::Null),
                    "",
                    &mut ids,
                );
                ids.iter().any(|(_, id)| id == custom_id)
            })
            .map(|m| m.id)
    }

    pub(crate) fn register_and_dispatch_interaction(
        &mut self,
        payload: Value,
    ) -> Result<InteractionRef, String> {
        let id = payload
            .get("id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the payload has no string `id`")?;
        let token = payload
            .get("token")
            .and_then(Value::as_str)
            .ok_or("the payload has no `token`")?
            .to_owned();
        let kind = payload
            .get("type")
            .and_then(Value::as_u64)
            .ok_or("the payload has no `type`")?;
        let channel_id = payload
            .get("channel_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or("the payload has no `channel_id`")?;
        let guild_id = payload
            .get("guild_id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let user_id = payload
            .pointer("/member/user/id")
            .or_else(|| payload.pointer("/user/id"))
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok())
            .unwrap_or(FakeDiscord::USER_ID);
        let source_message = payload
            .pointer("/message/id")
            .and_then(Value::as_str)
            .and_then(|s| s.parse().ok());
        let name = payload
            .pointer("/data/name")
            .or_else(|| payload.pointer("/data/custom_id"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(seq) = self.dispatch("INTERACTION_CREATE", payload) else {
            return Err("no gateway session (wait_connected first)".to_owned());
        };
        self.interaction_tokens.insert(token.clone(), id);
        self.interactions.insert(
            id,
            Interaction {
                token: token.clone(),
                kind,
                created: Instant::now(),
                channel_id,
                guild_id,
                user_id,
                source_message,
                acknowledged: None,
                original: None,
                followups: Vec::new(),
                name,
            },
        );
        Ok(InteractionRef {
            id,
            token,
            seq,
            sent_at: Instant::now(),
        })
    }
}
