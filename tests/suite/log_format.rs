//! `SCENEBOT_LOG_FORMAT=json`: one JSON object a line with its level and message, tokens redacted as in text; an
//! unknown format is a setting to fix (exit 1).

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::T;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn json_logs_are_one_object_a_line_without_the_token() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.env.push(("SCENEBOT_LOG_FORMAT", "json".to_owned()));
    let mut bot = BotProcess::start(options);
    bot.wait_log("ready", T).await;
    bot.terminate();
    assert_eq!(bot.wait_exit(T).await.code(), Some(0), "{}", bot.logs());
    let logs = bot.logs();
    assert!(!logs.contains(&fake.token()), "{logs}");
    let lines: Vec<&str> = logs.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for line in lines {
        let object: serde_json::Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(object["level"].is_string(), "{line}");
        assert!(object["message"].is_string(), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_log_format_exits_1() {
    let mut options = BotOptions::new("http://127.0.0.1:9", "not.a.real-token");
    options.env.push(("SCENEBOT_LOG_FORMAT", "yaml".to_owned()));
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(1), "{}", bot.logs());
    bot.wait_log("SCENEBOT_LOG_FORMAT is invalid", T).await;
}
