//! Configuration, read once at start-up from the environment (and `.env`), with errors that name the variable.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

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
    /// `SCENEBOT_HEALTH_ADDR`: where to answer health checks (off when unset).
    pub health_addr: Option<SocketAddr>,
    /// `SCENEBOT_HTTP_TIMEOUT_SECONDS`: the longest any REST call may take.
    pub http_timeout: Duration,
    /// `SCENEBOT_WATCHDOG_SECONDS`: a shard not connected for this long is restarted.
    pub watchdog: Duration,
}

/// Default for `SCENEBOT_HTTP_TIMEOUT_SECONDS`: well inside an interaction's 15-minute token, long enough for a
/// slow Discord minute.
pub const DEFAULT_HTTP_TIMEOUT_SECONDS: u64 = 15;
/// Default for `SCENEBOT_WATCHDOG_SECONDS`: about three of Discord's heartbeat intervals (41.25 s).
pub const DEFAULT_WATCHDOG_SECONDS: u64 = 120;

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
            .field("health_addr", &self.health_addr)
            .field("http_timeout", &self.http_timeout)
            .field("watchdog", &self.watchdog)
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
        let seconds = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match get(name) {
                None => Ok(Duration::from_secs(default)),
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|s| (1..=3600).contains(s))
                    .map(Duration::from_secs)
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        problem: format!("\"{text}\" is not a number of seconds from 1 to 3600"),
                    }),
            }
        };
        let health_addr = match get("SCENEBOT_HEALTH_ADDR") {
            Some(text) => Some(
                text.parse::<SocketAddr>()
                    .map_err(|_| ConfigError::Invalid {
                        name: "SCENEBOT_HEALTH_ADDR",
                        problem: format!("\"{text}\" is not an address like 127.0.0.1:8080"),
                    })?,
            ),
            None => None,
        };
        Ok(Config {
            health_addr,
            http_timeout: seconds(
                "SCENEBOT_HTTP_TIMEOUT_SECONDS",
                DEFAULT_HTTP_TIMEOUT_SECONDS,
            )?,
            watchdog: seconds("SCENEBOT_WATCHDOG_SECONDS", DEFAULT_WATCHDOG_SECONDS)?,
            token: Token(token),
            api_url,
            guild_id,
            data: get("SCENEBOT_DATA").map(PathBuf::from),
            database: get("SCENEBOT_DATABASE")
                .map_or_else(|| PathBuf::from(DEFAULT_DATABASE), PathBuf::from),
        })
    }
}

/// The path of `DISCORD_API_URL`, when it has one: serenity appends `/api/v10/…` to the base URL itself, so
/// `https://host/api/v10` would send every call to `https://host/api/v10/api/v10/…`. None for a bare base URL.
pub fn api_url_path(api_url: &str) -> Option<String> {
    let url = url::Url::parse(api_url).ok()?;
    let path = url.path().trim_end_matches('/');
    (!path.is_empty()).then(|| path.to_owned())
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
        let error = config(&[
            ("DISCORD_TOKEN", "t"),
            ("SCENEBOT_HEALTH_ADDR", "localhost"),
        ])
        .err();
        assert!(error.is_some_and(|e| e.to_string().starts_with("SCENEBOT_HEALTH_ADDR is invalid")));
        let error = config(&[
            ("DISCORD_TOKEN", "t"),
            ("SCENEBOT_HTTP_TIMEOUT_SECONDS", "0"),
        ])
        .err();
        assert!(error.is_some_and(|e| e
            .to_string()
            .starts_with("SCENEBOT_HTTP_TIMEOUT_SECONDS is invalid")));
        let Ok(tuned) = config(&[("DISCORD_TOKEN", "t"), ("SCENEBOT_WATCHDOG_SECONDS", "30")])
        else {
            panic!("valid");
        };
        assert_eq!(tuned.watchdog, Duration::from_secs(30));
    }

    #[test]
    fn an_api_url_with_a_path_is_noticed() {
        assert_eq!(api_url_path("http://127.0.0.1:3000"), None);
        assert_eq!(api_url_path("https://proxy.example/"), None);
        assert_eq!(
            api_url_path("https://spacebar.example/api/v10"),
            Some("/api/v10".to_owned())
        );
    }

    #[test]
    fn the_token_never_shows_in_debug_output() {
        let Ok(config) = config(&[("DISCORD_TOKEN", "very.secret.token")]) else {
            panic!("valid config");
        };
        assert!(!format!("{config:?}").contains("very.secret.token"));
    }
}
