//! The harness every bot scenario starts from (a fake Discord and the bot connected to it), the wait bound, and the
//! member permission sets the scenarios use.

use std::time::Duration;

use serde_json::Value;

use super::bot::{BotOptions, BotProcess};
use super::fake_discord::{permissions, FakeDiscord, FakeOptions};

/// A member who may run the moderator commands (`/favorite start`, `/favorite end`): MANAGE_MESSAGES.
pub const MODERATOR: u64 =
    permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES | permissions::MANAGE_MESSAGES;
/// A member who may configure the server (`/daily set`, `/daily status`): MANAGE_GUILD.
pub const MANAGER: u64 =
    permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES | permissions::MANAGE_GUILD;

/// The bound on every wait: generous for a loaded 2-core machine, never a guess at timing.
pub const T: Duration = Duration::from_secs(30);

/// A fake Discord and the bot connected to it, commands registered.
pub struct Harness {
    pub fake: FakeDiscord,
    pub bot: BotProcess,
}

impl Harness {
    /// The health endpoint's URL, from the address the bot logged (started with `SCENEBOT_HEALTH_ADDR`).
    pub async fn health_url(&self) -> String {
        self.bot.health_url().await
    }

    /// Starts both and waits for the bot to register its commands.
    pub async fn start() -> Harness {
        Harness::start_with(FakeOptions::default(), Vec::new()).await
    }

    /// Starts both with these fake options and extra bot environment.
    pub async fn start_with(options: FakeOptions, env: Vec<(&'static str, String)>) -> Harness {
        let fake = FakeDiscord::start(options.with_spec_from_env()).await;
        let mut bot_options = BotOptions::new(&fake.api_url(), &fake.token());
        bot_options.env = env;
        let bot = BotProcess::start(bot_options);
        let harness = Harness { fake, bot };
        harness.wait_registered().await;
        harness
    }

    /// Waits until commands are registered (setup ran: the bot is ready to answer).
    pub async fn wait_registered(&self) {
        self.fake
            .wait_for_request(|r| r.method == "PUT" && r.route().ends_with("/commands"), T)
            .await;
        self.bot.wait_log("ready", T).await;
    }

    /// Sends `/scene` with `drama` (or none) and returns the callback body.
    pub async fn scene(&self, drama: Option<&str>) -> Value {
        let mut builder = self.fake.slash("scene");
        if let Some(drama) = drama {
            builder = builder.option_str("drama", drama);
        }
        let interaction = builder.send().await;
        self.fake.wait_callback(interaction.id, T).await
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            self.fake.assert_no_violations();
        }
    }
}

/// The title of a callback's first embed.
pub fn title(callback: &Value) -> String {
    callback["data"]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// One scrape of `GET /metrics`, on the port of `health_url`.
pub async fn scrape(health_url: &str) -> String {
    let url = health_url.replace("/health", "/metrics");
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    assert_eq!(response.status().as_u16(), 200, "GET {url}");
    response.text().await.unwrap_or_default()
}

/// How long from now background work is paused, in seconds, as `scrape` says (negative: not paused).
pub fn background_pause_left(scrape: &str) -> f64 {
    let paused_until =
        sample(scrape, "scenebot_background_paused_until_timestamp_seconds").unwrap_or(0.0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |since| since.as_secs_f64());
    paused_until - now
}

/// The value of the sample `series` (name and labels exactly as rendered) in `scrape`.
pub fn sample(scrape: &str, series: &str) -> Option<f64> {
    scrape
        .lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}
