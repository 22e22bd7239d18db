//! Gateway close codes Discord documents as "do not reconnect", which serenity 0.12.5 reconnects after anyway:
//! 4010 (invalid shard) and 4011 (sharding required) only restart the shard, and 4012 (invalid API version) is an
//! "unknown unclean close" to it. Left alone the bot would identify again every few seconds, forever, and a
//! supervisor would see it as up. serenity tells of them only in its log, so a tracing layer reads those lines and
//! [`fatal`] resolves with the code; `bot::run` then stops with exit 1 and what to fix. (4004, 4013 and 4014 serenity
//! returns as errors itself.) The layer sees what the log filter lets through: serenity's own `error` line for
//! 4010 and 4011 passes any filter short of `off`, 4012's `warn` line the default filter.

use std::sync::OnceLock;
use std::time::Duration;

use tokio::sync::watch;
use tracing::field::{Field, Visit};
use tracing::{error, warn, Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// A close after which Discord says never to reconnect, and serenity would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FatalClose {
    /// 4010: the shard sent in IDENTIFY is not valid.
    InvalidShard,
    /// 4011: the bot is in too many servers for its shard count.
    ShardingRequired,
    /// 4012: the gateway version is not accepted.
    InvalidApiVersion,
}

impl FatalClose {
    /// Discord's close code.
    pub fn code(self) -> u16 {
        match self {
            FatalClose::InvalidShard => 4010,
            FatalClose::ShardingRequired => 4011,
            FatalClose::InvalidApiVersion => 4012,
        }
    }

    /// The operator's line: the code, what it means and what to change.
    pub fn explain(self) -> String {
        let what = match self {
            FatalClose::InvalidShard => {
                "invalid shard: the shard id or total sent is not valid; check SCENEBOT_SHARDS (first..last/total, \
                 ids below the total) or unset it"
            }
            FatalClose::ShardingRequired => {
                "sharding required: the bot is in too many servers for its shard count; unset SCENEBOT_SHARDS (the \
                 bot then uses the count Discord recommends) or raise its total"
            }
            FatalClose::InvalidApiVersion => {
                "invalid API version: Discord no longer accepts gateway v10 from this build; update scenebot"
            }
        };
        format!(
            "Discord closed the gateway with {} ({what}); not reconnecting",
            self.code()
        )
    }

    /// The close a serenity 0.12.5 log line tells of, if any: `target` and the formatted `message`.
    fn of_log_line(target: &str, message: &str) -> Option<FatalClose> {
        if !target.starts_with("serenity::gateway") {
            return None;
        }
        if message.contains("InvalidShardData") || message.contains("Sent invalid shard data") {
            Some(FatalClose::InvalidShard)
        } else if message.contains("OverloadedShard")
            || message.contains("Shard has too many guilds")
        {
            Some(FatalClose::ShardingRequired)
        } else if message.contains("Unknown unclean close 4012") {
            Some(FatalClose::InvalidApiVersion)
        } else {
            None
        }
    }
}

/// What [`WatchLayer`] needs to see, whatever `RUST_LOG` says: serenity's gateway warnings and errors.
pub fn watched() -> tracing_subscriber::filter::Targets {
    tracing_subscriber::filter::Targets::new().with_target(
        "serenity::gateway",
        tracing::level_filters::LevelFilter::WARN,
    )
}

/// The first fatal close seen in this process.
fn seen() -> &'static watch::Sender<Option<FatalClose>> {
    static SEEN: OnceLock<watch::Sender<Option<FatalClose>>> = OnceLock::new();
    SEEN.get_or_init(|| watch::Sender::new(None))
}

/// Resolves once a fatal close was seen (never, without [`WatchLayer`] in the subscriber).
pub async fn fatal() -> FatalClose {
    let mut seen = seen().subscribe();
    loop {
        if let Some(close) = *seen.borrow_and_update() {
            return close;
        }
        if seen.changed().await.is_err() {
            // The sender is a static: never dropped. Wait forever rather than spin.
            std::future::pending::<()>().await;
        }
    }
}

/// Exits the process with `exit_code` and the close's line if it is still running `deadline` after the close: the
/// promise "a fatal close stops the bot" must not rest on serenity's tasks letting the runtime finish. An OS thread,
/// so that a runtime starved by a task that never yields cannot hold it.
pub fn exit_unless_stopped_within(close: FatalClose, deadline: Duration, exit_code: u8) {
    let spawned = std::thread::Builder::new()
        .name("fatal-close-exit".to_owned())
        .spawn(move || {
            std::thread::sleep(deadline);
            error!(
                "{}; the shutdown did not finish within {deadline:?}, exiting now",
                close.explain()
            );
            std::process::exit(i32::from(exit_code));
        });
    if let Err(error) = spawned {
        warn!("cannot start the exit deadline after a fatal gateway close: {error}");
    }
}

/// The tracing layer that reads serenity's gateway lines for [`FatalClose`]s.
#[derive(Debug, Clone, Copy, Default)]
pub struct WatchLayer;

impl<S: Subscriber> Layer<S> for WatchLayer {
    fn on_event(&self, event: &Event<'_>, _context: Context<'_, S>) {
        let target = event.metadata().target();
        if !target.starts_with("serenity::gateway") {
            return;
        }
        let mut message = MessageText(String::new());
        event.record(&mut message);
        if let Some(close) = FatalClose::of_log_line(target, &message.0) {
            seen().send_if_modified(|seen| {
                let first = seen.is_none();
                if first {
                    *seen = Some(close);
                }
                first
            });
        }
    }
}

/// An event's `message` field as text.
struct MessageText(String);

impl Visit for MessageText {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serenity_lines_name_their_close() {
        let cases = [
            (
                "serenity::gateway::bridge::shard_runner",
                "Shard handler received err: Gateway(InvalidShardData)",
                Some(FatalClose::InvalidShard),
            ),
            (
                "serenity::gateway::shard",
                "[ShardInfo { id: ShardId(0), total: 1 }] Shard has too many guilds.",
                Some(FatalClose::ShardingRequired),
            ),
            (
                "serenity::gateway::shard",
                "[ShardInfo { id: ShardId(0), total: 1 }] Unknown unclean close 4012: Some(\"\")",
                Some(FatalClose::InvalidApiVersion),
            ),
            (
                "serenity::gateway::shard",
                "[ShardInfo { id: ShardId(0), total: 1 }] Unknown unclean close 4000: None",
                None,
            ),
            ("scenebot::bot", "InvalidShardData", None),
        ];
        for (target, line, close) in cases {
            assert_eq!(FatalClose::of_log_line(target, line), close, "{line}");
        }
        assert!(FatalClose::ShardingRequired
            .explain()
            .contains("4011 (sharding required"));
    }
}
