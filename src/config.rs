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
    /// `SCENEBOT_DATABASE`: the SQLite file, or a `postgres://` URL (several processes share one PostgreSQL).
    pub database: PathBuf,
    /// `SCENEBOT_HEALTH_ADDR`: where to answer health checks (off when unset).
    pub health_addr: Option<SocketAddr>,
    /// `SCENEBOT_HTTP_TIMEOUT_SECONDS`: the longest any REST call may take.
    pub http_timeout: Duration,
    /// `SCENEBOT_WATCHDOG_SECONDS`: a shard not connected for this long is restarted.
    pub watchdog: Duration,
    /// `SCENEBOT_SHARDS`: run only these shards in this process (`FIRST-LAST/TOTAL`); autosharded when unset.
    pub shards: Option<ShardRange>,
    /// `SCENEBOT_LEASE_SECONDS`: how long a claim on a poll or a day's post stays with a process that stopped
    /// answering before another takes it over.
    pub lease: Duration,
    /// `SCENEBOT_REST_RATE`: how many requests a second the bot's background work (daily posts, poll results) may
    /// make, all processes together; interaction replies are not counted (Discord does not count them either).
    pub rest_rate: u32,
    /// `SCENEBOT_FANOUT`: how many posts or polls one process works on at once.
    pub fanout: usize,
    /// `SCENEBOT_STORE_TIMEOUT_SECONDS`: the longest one database call may take before it fails (a stopped or
    /// unreachable PostgreSQL must not hold the schedulers or miss Discord's 3 s interaction deadline).
    pub store_timeout: Duration,
}

/// The most `SCENEBOT_REST_RATE` accepts: Discord raises a large bot's global limit above 50 on request, so the
/// pace may follow it; a typo of an extra digit or two is still refused.
pub const MAX_REST_RATE: u32 = 10_000;

/// Default for `SCENEBOT_REST_RATE`: nine tenths of Discord's global 50 a second, leaving room for the calls
/// commands make themselves (a channel's permissions, say) and for clock jitter.
pub const DEFAULT_REST_RATE: u32 = 45;
/// Default for `SCENEBOT_FANOUT`: enough posts in flight to keep the rate busy at a second per answer.
pub const DEFAULT_FANOUT: usize = 64;

/// Default for `SCENEBOT_LEASE_SECONDS` (see [`crate::store::DEFAULT_LEASE`]).
pub const DEFAULT_LEASE_SECONDS: u64 = crate::store::DEFAULT_LEASE.as_secs();

/// Default for `SCENEBOT_STORE_TIMEOUT_SECONDS` (see [`crate::store::DEFAULT_TIMEOUT`]).
pub const DEFAULT_STORE_TIMEOUT_SECONDS: u64 = crate::store::DEFAULT_TIMEOUT.as_secs();

/// A slice of the bot's shards, run by one process: shards `first` to `last` (inclusive) of `total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShardRange {
    /// The first shard this process runs.
    pub first: u32,
    /// The last shard this process runs (inclusive).
    pub last: u32,
    /// How many shards the bot has across all processes.
    pub total: u32,
}

impl ShardRange {
    /// Reads `FIRST-LAST/TOTAL` (e.g. `0-3/8`; `2/8` is `2-2/8`).
    pub fn parse(text: &str) -> Result<ShardRange, String> {
        let bad = || {
            format!(
                "\"{text}\" is not a shard range like 0-1/4 (FIRST-LAST/TOTAL, numbered from 0, LAST below TOTAL)"
            )
        };
        let (range, total) = text.split_once('/').ok_or_else(bad)?;
        let (first, last) = range.split_once('-').unwrap_or((range, range));
        let number = |part: &str| part.trim().parse::<u32>().map_err(|_| bad());
        let (first, last, total) = (number(first)?, number(last)?, number(total)?);
        if first > last || last >= total {
            return Err(bad());
        }
        Ok(ShardRange { first, last, total })
    }
}

impl fmt::Display for ShardRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}/{}", self.first, self.last, self.total)
    }
}

/// Default for `SCENEBOT_HTTP_TIMEOUT_SECONDS`: well inside an interaction's 15-minute token, long enough for a
/// slow Discord minute.
pub const DEFAULT_HTTP_TIMEOUT_SECONDS: u64 = 15;
/// Default for `SCENEBOT_WATCHDOG_SECONDS`: about three of Discord's heartbeat intervals (41.25 s).
pub const DEFAULT_WATCHDOG_SECONDS: u64 = 120;
/// The least `SCENEBOT_WATCHDOG_SECONDS`: a resume or a reconnect takes seconds, and a shard restarted while it
/// reconnects identifies again for nothing.
pub const MIN_WATCHDOG_SECONDS: u64 = 10;

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
            .field("database", &redacted_database(&self.database))
            .field("health_addr", &self.health_addr)
            .field("http_timeout", &self.http_timeout)
            .field("watchdog", &self.watchdog)
            .field("shards", &self.shards)
            .field("lease", &self.lease)
            .field("rest_rate", &self.rest_rate)
            .field("fanout", &self.fanout)
            .field("store_timeout", &self.store_timeout)
            .finish()
    }
}

/// `SCENEBOT_DATABASE` for output: a PostgreSQL URL's password hidden.
fn redacted_database(database: &std::path::Path) -> String {
    let text = database.to_string_lossy();
    match url::Url::parse(&text) {
        Ok(mut url) if crate::store::is_postgres_url(&text) && url.password().is_some() => {
            let _ = url.set_password(Some("<redacted>"));
            url.to_string()
        }
        _ => text.into_owned(),
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
        if !token
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
        {
            // An invisible character pasted along (a zero-width space, a BOM) would fail every call as if the
            // token were wrong, and the network errors it causes read as temporary.
            return Err(ConfigError::BadToken(
                "it contains a character no token has (letters, digits, '.', '-' and '_' only): an invisible one \
                 pasted along, such as a zero-width space?",
            ));
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
        let shards = match get("SCENEBOT_SHARDS") {
            Some(text) => {
                Some(
                    ShardRange::parse(&text).map_err(|problem| ConfigError::Invalid {
                        name: "SCENEBOT_SHARDS",
                        problem,
                    })?,
                )
            }
            None => None,
        };
        let database =
            get("SCENEBOT_DATABASE").map_or_else(|| PathBuf::from(DEFAULT_DATABASE), PathBuf::from);
        if let Some(url) = database
            .to_str()
            .filter(|d| crate::store::is_postgres_url(d))
        {
            if let Err(error) = url::Url::parse(url) {
                return Err(ConfigError::Invalid {
                    name: "SCENEBOT_DATABASE",
                    problem: format!("the PostgreSQL URL cannot be read ({error}); write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE"),
                });
            }
        }
        let count = |name: &'static str, default: u32, most: u32| -> Result<u32, ConfigError> {
            match get(name) {
                None => Ok(default),
                Some(text) => text
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=most).contains(n))
                    .ok_or_else(|| ConfigError::Invalid {
                        name,
                        problem: format!("\"{text}\" is not a whole number from 1 to {most}"),
                    }),
            }
        };
        let watchdog = seconds("SCENEBOT_WATCHDOG_SECONDS", DEFAULT_WATCHDOG_SECONDS)?;
        if watchdog < Duration::from_secs(MIN_WATCHDOG_SECONDS) {
            return Err(ConfigError::Invalid {
                name: "SCENEBOT_WATCHDOG_SECONDS",
                problem: format!(
                    "{} s would restart shards that are only reconnecting, each restart an IDENTIFY from Discord's \
                     1,000 a day: give at least {MIN_WATCHDOG_SECONDS}",
                    watchdog.as_secs()
                ),
            });
        }
        Ok(Config {
            rest_rate: count("SCENEBOT_REST_RATE", DEFAULT_REST_RATE, MAX_REST_RATE)?,
            fanout: count("SCENEBOT_FANOUT", DEFAULT_FANOUT as u32, 1024)? as usize,
            shards,
            lease: seconds("SCENEBOT_LEASE_SECONDS", DEFAULT_LEASE_SECONDS)?,
            store_timeout: seconds(
                "SCENEBOT_STORE_TIMEOUT_SECONDS",
                DEFAULT_STORE_TIMEOUT_SECONDS,
            )?,
            health_addr,
            http_timeout: seconds(
                "SCENEBOT_HTTP_TIMEOUT_SECONDS",
                DEFAULT_HTTP_TIMEOUT_SECONDS,
            )?,
            watchdog,
            token: Token(token),
            api_url,
            guild_id,
            data: get("SCENEBOT_DATA").map(PathBuf::from),
            database,
        })
    }
}

/// `DISCORD_API_URL` as logs show it: without the user name and password a proxy URL may carry.
pub fn api_url_for_logs(api_url: &str) -> String {
    match url::Url::parse(api_url) {
        Ok(mut url) => {
            if !url.username().is_empty() || url.password().is_some() {
                let _ = url.set_username("");
                let _ = url.set_password(None);
            }
            url.as_str().trim_end_matches('/').to_owned()
        }
        Err(_) => "(not a URL)".to_owned(),
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
    fn the_pace_may_follow_a_raised_global_limit_but_not_a_typo() {
        let Ok(raised) = config(&[("DISCORD_TOKEN", "t"), ("SCENEBOT_REST_RATE", "900")]) else {
            panic!("a bot whose limit Discord raised to 1,000/s may pace at 900/s");
        };
        assert_eq!(raised.rest_rate, 900);
        for bad in ["0", "10001", "45/s"] {
            let error = config(&[("DISCORD_TOKEN", "t"), ("SCENEBOT_REST_RATE", bad)]).err();
            assert!(
                error.is_some_and(|e| e.to_string().contains("from 1 to 10000")),
                "{bad}"
            );
        }
    }

    #[test]
    fn shard_ranges_are_read_and_bad_ones_named() {
        let range = |text: &str| config(&[("DISCORD_TOKEN", "t"), ("SCENEBOT_SHARDS", text)]);
        assert_eq!(
            range("0-1/4").ok().and_then(|c| c.shards),
            Some(ShardRange {
                first: 0,
                last: 1,
                total: 4
            })
        );
        assert_eq!(
            range("3/4").ok().and_then(|c| c.shards),
            Some(ShardRange {
                first: 3,
                last: 3,
                total: 4
            })
        );
        assert_eq!(
            config(&[("DISCORD_TOKEN", "t")])
                .ok()
                .and_then(|c| c.shards),
            None
        );
        for bad in ["1-0/4", "0-4/4", "0-1", "a-b/c", "0-1/0"] {
            let error = range(bad).err();
            assert!(
                error.is_some_and(|e| e.to_string().starts_with("SCENEBOT_SHARDS is invalid")),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_postgres_url_is_accepted_and_its_password_never_shown() {
        let Ok(config) = config(&[
            ("DISCORD_TOKEN", "t"),
            (
                "SCENEBOT_DATABASE",
                "postgres://bot:hunter2@db:5432/scenebot",
            ),
            ("SCENEBOT_LEASE_SECONDS", "30"),
            ("SCENEBOT_STORE_TIMEOUT_SECONDS", "2"),
        ]) else {
            panic!("valid");
        };
        assert_eq!(config.lease, Duration::from_secs(30));
        assert_eq!(config.store_timeout, Duration::from_secs(2));
        assert!(!format!("{config:?}").contains("hunter2"));
        let error = self::config(&[
            ("DISCORD_TOKEN", "t"),
            ("SCENEBOT_DATABASE", "postgres://[bad"),
        ])
        .err();
        assert!(error.is_some_and(|e| e.to_string().starts_with("SCENEBOT_DATABASE is invalid")));
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
    fn a_token_with_an_invisible_character_is_refused_without_showing_it() {
        for token in ["abc.def\u{200b}.ghi", "\u{feff}abc.def.ghi", "abc.déf.ghi"] {
            match config(&[("DISCORD_TOKEN", token)]) {
                Err(error @ ConfigError::BadToken(_)) => {
                    assert!(!error.to_string().contains("abc"), "{error}")
                }
                other => panic!("{token:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_watchdog_shorter_than_a_reconnect_is_refused() {
        for seconds in ["1", "9"] {
            match config(&[
                ("DISCORD_TOKEN", "t"),
                ("SCENEBOT_WATCHDOG_SECONDS", seconds),
            ]) {
                Err(ConfigError::Invalid { name, .. }) => {
                    assert_eq!(name, "SCENEBOT_WATCHDOG_SECONDS")
                }
                other => panic!("{seconds}: {other:?}"),
            }
        }
    }

    #[test]
    fn a_proxy_url_is_logged_without_its_credentials() {
        assert_eq!(
            api_url_for_logs("http://user:secret@127.0.0.1:3000"),
            "http://127.0.0.1:3000"
        );
        assert_eq!(
            api_url_for_logs("https://proxy.example:8443/"),
            "https://proxy.example:8443"
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
