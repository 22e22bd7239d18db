//! Configuration, read once at start-up from the environment (and `.env`), with errors that name the variable.

use std::fmt;
use std::path::PathBuf;

/// The bot's settings. Built by [`Config::from_lookup`]; every variable is listed in `.env.example`.
#[derive(Clone)]
pub struct Config {
    /// `DISCORD_TOKEN`: the bot token (never printed: see the `Debug` impl).
    pub token: Token,
    /// `DISCORD_API_URL`: send every REST call there instead of Discord (proxy mode).
    pub api_url: Option<String>,
    /// `DISCORD_GUILD_ID`: register commands on this guild only (instant) instead of globally.
    pub guild_id: Option<u64>,
    /// `SCENEBOT_DATA`: a dataset file instead of the bundled one.
    pub data: Option<PathBuf>,
    /// `SCENEBOT_DATABASE`: the SQLite file.
    pub database: PathBuf,
}

/// The default SQLite file.
pub const DEFAULT_DATABASE: &str = "scenebot.sqlite3";

/// A bot token; its `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The token itself, for the one place that hands it to serenity.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("token", &self.token)
            .field("api_url", &self.api_url)
            .field("guild_id", &self.guild_id)
            .field("data", &self.data)
            .field("database", &self.database)
            .finish()
    }
}

/// A setting that is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// No token.
    #[error("DISCORD_TOKEN is not set: copy .env.example to .env and put your bot token there (Discord Developer Portal → your application → Bot → Reset Token)")]
    MissingToken,
    /// A token that cannot be one (spaces, a "Bot " prefix, …).
    #[error("DISCORD_TOKEN does not look like a bot token: {0}")]
    BadToken(&'static str),
    /// A variable with a bad value.
    #[error("{name} is invalid: {problem}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// What is wrong.
        problem: String,
    },
}

impl Config {
    /// Reads the configuration from the process environment (after `.env` was loaded).
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup` (the environment, or a map in tests). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let token = get("DISCORD_TOKEN").ok_or(ConfigError::MissingToken)?;
        if token.starts_with("Bot ") {
            return Err(ConfigError::BadToken("remove the \"Bot \" prefix"));
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(ConfigError::BadToken("it contains spaces"));
        }
        let api_url = match get("DISCORD_API_URL") {
            Some(url) if url.starts_with("http://") || url.starts_with("https://") => {
                Some(url.trim_end_matches('/').to_owned())
            }
            Some(url) => {
                return Err(ConfigError::Invalid {
                    name: "DISCORD_API_URL",
                    problem: format!("\"{url}\" must start with http:// or https://"),
                })
            }
            None => None,
        };
        let guild_id = match get("DISCORD_GUILD_ID") {
            Some(id) => Some(id.parse::<u64>().ok().filter(|id| *id > 0).ok_or_else(|| ConfigError::Invalid {
                name: "DISCORD_GUILD_ID",
                problem: format!("\"{id}\" is not a server id (a number; right-click the server → Copy Server ID)"),
            })?),
            None => None,
        };
        Ok(Config {
            token: Token(token),
            api_url,
            guild_id,
            data: get("SCENEBOT_DATA").map(PathBuf::from),
            database: get("SCENEBOT_DATABASE")
                .map_or_else(|| PathBuf::from(DEFAULT_DATABASE), PathBuf::from),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_need_only_a_token() {
        let Ok(config) = config(&[("DISCORD_TOKEN", "abc.def.ghi")]) else {
            panic!("a token alone must be enough");
        };
        assert_eq!(config.token.expose(), "abc.def.ghi");
        assert_eq!(config.api_url, None);
        assert_eq!(config.guild_id, None);
        assert_eq!(config.database, PathBuf::from(DEFAULT_DATABASE));
    }

    #[test]
    fn bad_values_name_the_variable() {
        assert_eq!(config(&[]).err(), Some(ConfigError::MissingToken));
        assert_eq!(
            config(&[("DISCORD_TOKEN", "  ")]).err(),
            Some(ConfigError::MissingToken)
        );
        assert!(matches!(
            config(&[("DISCORD_TOKEN", "Bot abc")]),
            Err(ConfigError::BadToken(_))
        ));
        let error = config(&[("DISCORD_TOKEN", "t"), ("DISCORD_GUILD_ID", "my server")]).err();
        assert!(error.is_some_and(|e| e.to_string().starts_with("DISCORD_GUILD_ID is invalid")));
        let error = config(&[("DISCORD_TOKEN", "t"), ("DISCORD_API_URL", "127.0.0.1:9")]).err();
        assert!(error.is_some_and(|e| e.to_string().starts_with("DISCORD_API_URL is invalid")));
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let Ok(config) = config(&[("DISCORD_TOKEN", "very.secret.token")]) else {
            panic!("valid config");
        };
        assert!(!format!("{config:?}").contains("very.secret.token"));
    }
}
