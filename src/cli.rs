//! The command line: `scenebot [run]`, `scenebot check [PATH]`, `scenebot preview "/scene drama:hwarang"`;
//! and, for `run`, what belongs to the process: logging, settings from the environment, signals, exit codes.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rand::SeedableRng;

use std::sync::Arc;

use tracing::{error, warn};
use tracing_subscriber::filter::{FilterExt, LevelFilter, Targets};
use tracing_subscriber::layer::{Filter, Layer, SubscriberExt};
use tracing_subscriber::registry::{LookupSpan, Registry};
use tracing_subscriber::util::SubscriberInitExt;

use crate::bot;
use crate::clock::SystemClock;
use crate::config::Config;
use crate::locale::Locale;
use crate::preview;
use crate::render::AboutFacts;
use crate::respond::{Command, Responder};
use crate::store::Store;

pub use crate::bot::{EXIT_FATAL, EXIT_TEMPFAIL};

/// Exit code for invalid input (a bad dataset or command line).
pub const EXIT_INVALID: u8 = 2;

/// The log filter when `RUST_LOG` is unset: our info lines and the libraries' warnings.
pub const DEFAULT_LOG_FILTER: &str = "scenebot=info,serenity=warn,poise=warn";

/// Log targets held at `info` or quieter whatever `RUST_LOG` says: at debug and trace they log every websocket
/// frame as hex and decimal bytes, the IDENTIFY frame (and so the bot token) included.
pub const FRAME_LOGGERS: [&str; 2] = ["tungstenite", "tokio_tungstenite"];

/// serenity's gateway targets that dump whole events, held at `warn` (the shard's spans, at `info`, carry each
/// event it handles) or `info` (the dispatcher's and the websocket client's `debug` lines print an unknown or
/// undecodable event whole) whatever `RUST_LOG` says: an INTERACTION_CREATE carries its interaction token, which
/// answers as the bot for 15 minutes. `bot::health` logs each undecodable event's type without its values.
pub const EVENT_DUMPERS: [(&str, LevelFilter); 3] = [
    ("serenity::gateway::shard", LevelFilter::WARN),
    ("serenity::client::dispatch", LevelFilter::INFO),
    ("serenity::gateway::ws", LevelFilter::INFO),
];

/// serenity's HTTP layer, held at `warn` or quieter whatever `RUST_LOG` says: its `#[instrument]` spans (at
/// `info`) carry each request's route, interaction tokens included, and print it beside every debug or trace line
/// logged during the request.
pub const HTTP_SPANS: &str = "serenity::http";

/// scenebot: Park Seo-joon's best-loved K-drama kiss scenes, on Discord.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do (default: run the bot).
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Run the bot (the default). Reads DISCORD_TOKEN and the other settings from the environment and `.env`.
    Run,
    /// Validate a dataset file: a summary and exit 0, or every problem and exit 2.
    Check {
        /// The dataset to check (default: SCENEBOT_DATA, or the bundled dataset).
        path: Option<PathBuf>,
    },
    /// Print the exact interaction response the bot would send for a command. No token, no network.
    Preview {
        /// The command as typed in Discord, e.g. "/scene drama:hwarang"; or "/daily" for the daily post of --date.
        line: String,
        /// Print a readable rendering instead of JSON.
        #[arg(long)]
        text: bool,
        /// The user's Discord locale (`ko` for Korean replies).
        #[arg(long, default_value = "en-US")]
        locale: String,
        /// Seed for the random scene or quiz round, for repeatable output.
        #[arg(long)]
        seed: Option<u64>,
        /// With "/daily": the server's local date of the post, YYYY-MM-DD (default: today in UTC). An anniversary
        /// or 16 December shows its special card; any other day the scene a new shuffle bag draws first.
        #[arg(long)]
        date: Option<String>,
        /// The dataset (default: SCENEBOT_DATA, or the bundled dataset).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Autocomplete choices for `/scene drama:` as the bot would answer them.
    Complete {
        /// What the user has typed so far.
        partial: String,
        /// The user's Discord locale.
        #[arg(long, default_value = "en-US")]
        locale: String,
        /// The dataset (default: SCENEBOT_DATA, or the bundled dataset).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.action.unwrap_or(Action::Run) {
        Action::Run => run_from_env(),
        Action::Check { path } => check(path.or_else(data_from_env)),
        Action::Preview {
            line,
            text,
            locale,
            seed,
            date,
            data,
        } => preview(
            &line,
            text,
            Locale::from_discord(&locale),
            seed,
            date.as_deref(),
            data.or_else(data_from_env),
        ),
        Action::Complete {
            partial,
            locale,
            data,
        } => complete(
            &partial,
            Locale::from_discord(&locale),
            data.or_else(data_from_env),
        ),
    }
}

/// How long the process waits at exit for tasks `bot::run` left behind.
const EXIT_GRACE: std::time::Duration = std::time::Duration::from_secs(2);

/// Runs the bot with settings from the environment until SIGINT or SIGTERM; the process exit code.
pub fn run_from_env() -> ExitCode {
    if let Err(error) = init_logging() {
        error!("{error}");
        return ExitCode::from(EXIT_FATAL);
    }
    let config = match Config::from_env() {
        Ok(config) => config,
        Err(error) => {
            error!("{error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let catalog = match crate::respond::load_catalog(config.data.as_deref()) {
        Ok(catalog) => catalog,
        Err(error) => {
            error!("{error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            error!("cannot start the async runtime: {error}");
            return ExitCode::from(EXIT_FATAL);
        }
    };
    let store = match Store::open(&config.database).map(|s| s.with_timeout(config.store_timeout)) {
        Ok(store) => store,
        Err(error) => {
            error!("cannot open the database: {error}");
            // PostgreSQL out of reach may come back: a supervisor restarts with back-off.
            return ExitCode::from(if error.is_transient() {
                EXIT_TEMPFAIL
            } else {
                EXIT_FATAL
            });
        }
    };
    let clock = Arc::new(SystemClock);
    let ran = runtime.block_on(bot::run(config, catalog, store, clock, wait_for_signal()));
    // `run` has let its work finish; whatever is still parked (a shard runner stuck in serenity's reconnect stall,
    // a blocking store call) must not hold the exit.
    runtime.shutdown_timeout(EXIT_GRACE);
    match ran {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            error!("{error}");
            ExitCode::from(error.exit_code())
        }
    }
}

/// The log filter: `rust_log` (RUST_LOG's syntax; [`DEFAULT_LOG_FILTER`] when unset or unreadable), then every
/// [`FRAME_LOGGERS`] target capped at `info`, [`HTTP_SPANS`] at `warn` and [`EVENT_DUMPERS`] at their levels. The caps are a second filter every span
/// and event must also pass, so no directive in `rust_log` can lift them, however specific its target
/// (`tungstenite::protocol=trace` included).
pub fn log_filter<S>(rust_log: Option<&str>) -> impl Filter<S> + Send + Sync
where
    S: tracing::Subscriber + for<'a> LookupSpan<'a>,
{
    // `Targets`, not `EnvFilter`: the same `target=level` syntax without span and field directives, parsed by hand
    // instead of by a regex compiled at start (the regex engine cost the idle bot 0.7 MB, BENCHMARKS.md).
    let requested = rust_log
        .filter(|directives| !directives.trim().is_empty())
        .and_then(|directives| directives.parse::<Targets>().ok())
        .or_else(|| DEFAULT_LOG_FILTER.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let caps = FRAME_LOGGERS
        .iter()
        .fold(
            Targets::new().with_default(LevelFilter::TRACE),
            |targets, target| targets.with_target(*target, LevelFilter::INFO),
        )
        .with_target(HTTP_SPANS, LevelFilter::WARN);
    let caps = EVENT_DUMPERS.iter().fold(caps, |targets, (target, level)| {
        targets.with_target(*target, *level)
    });
    requested.and(caps)
}

/// stderr with every interaction token in the text replaced (`bot::errors::redact`): serenity's warnings name
/// routes with the token in them ("Mismatched successful response status from /interactions/…/callback"), and
/// no filter can reach inside a line that must stay.
#[derive(Debug, Clone, Copy, Default)]
pub struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        // The fmt layer writes one whole line per call, so a token never straddles two writes.
        let text = String::from_utf8_lossy(buf);
        std::io::stderr().write_all(crate::bot::errors::redact(&text).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// How log lines are written (`SCENEBOT_LOG_FORMAT`): readable text, or one JSON object a line for log shippers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// `text` (the default): tracing's readable lines.
    #[default]
    Text,
    /// `json`: one object a line, with `timestamp`, `level`, `message`, `target` and the event's fields at the top.
    Json,
}

impl LogFormat {
    /// Reads `SCENEBOT_LOG_FORMAT` (unset or empty: text); anything but `text` or `json` is a config error.
    pub fn parse(value: Option<&str>) -> Result<LogFormat, crate::config::ConfigError> {
        match value.map(str::trim).filter(|v| !v.is_empty()) {
            None | Some("text") => Ok(LogFormat::Text),
            Some("json") => Ok(LogFormat::Json),
            Some(other) => Err(crate::config::ConfigError::Invalid {
                name: "SCENEBOT_LOG_FORMAT",
                problem: format!("\"{other}\" is not text or json"),
            }),
        }
    }
}

/// Logs to stderr in `SCENEBOT_LOG_FORMAT`, filtered by `RUST_LOG` through [`log_filter`], every line through
/// [`RedactingStderr`]. An unknown format logs as text and is returned as the error to stop on.
fn init_logging() -> Result<(), crate::config::ConfigError> {
    let rust_log = std::env::var("RUST_LOG").ok();
    let format = LogFormat::parse(std::env::var("SCENEBOT_LOG_FORMAT").ok().as_deref());
    let json = matches!(format, Ok(LogFormat::Json));
    let lines: Box<dyn Layer<Registry> + Send + Sync> = if json {
        Box::new(
            tracing_subscriber::fmt::layer()
                .json()
                .flatten_event(true)
                .with_writer(|| RedactingStderr),
        )
    } else {
        Box::new(
            tracing_subscriber::fmt::layer()
                .with_writer(|| RedactingStderr)
                .with_target(false),
        )
    };
    // RUST_LOG filters the lines only: the gateway closes serenity would reconnect after are read from its warnings
    // whatever RUST_LOG says (`RUST_LOG=off` must not make a 4012 loop for ever).
    let _ = tracing_subscriber::registry()
        .with(lines.with_filter(log_filter(rust_log.as_deref())))
        .with(crate::bot::close_codes::WatchLayer.with_filter(crate::bot::close_codes::watched()))
        .try_init();
    format.map(|_| ())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM (systemd, docker stop).
async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut terminate) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = terminate.recv() => {}
                }
            }
            Err(error) => {
                warn!("cannot listen for SIGTERM ({error}); Ctrl-C still works");
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

fn data_from_env() -> Option<PathBuf> {
    std::env::var_os("SCENEBOT_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `scenebot check`: every problem on stderr and exit 2, or a summary table and exit 0.
fn check(path: Option<PathBuf>) -> ExitCode {
    let catalog = match crate::respond::load_catalog(path.as_deref()) {
        Ok(catalog) => catalog,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let name = path.map_or_else(
        || crate::catalog::BUNDLED_NAME.to_owned(),
        |p| p.display().to_string(),
    );
    let mut out = format!(
        "{name}: valid (schema {}, revision {}, {} scenes)\n\n{:<3} {:<18} {:<34} {:<10} {:<23} {:<4} {:<10} {}\n",
        catalog.schema_version,
        catalog.revision,
        catalog.scenes.len(),
        "#",
        "id",
        "drama",
        "years",
        "aired in Korea",
        "ep",
        "ep aired",
        "partner"
    );
    let or_dash = |text: Option<String>| text.unwrap_or_else(|| "-".to_owned());
    for (i, scene) in catalog.scenes.iter().enumerate() {
        out.push_str(&format!(
            "{:<3} {:<18} {:<34} {:<10} {:<23} {:<4} {:<10} {}\n",
            i + 1,
            scene.id,
            scene.drama.title,
            scene.drama.years(),
            or_dash(
                scene
                    .drama
                    .aired
                    .as_ref()
                    .map(|a| format!("{} – {}", a.first, a.last))
            ),
            or_dash(scene.episode.map(|e| e.to_string())),
            or_dash(scene.episode_aired.as_ref().map(|e| e.date.to_string())),
            scene.partner.actor.en
        ));
    }
    out.push_str(&match (catalog.birth_date(), &catalog.actor.born_source) {
        (Some(born), Some(source)) => format!("\nBorn: {born} ({source})\n"),
        _ => format!(
            "\nNo dates: schema {} predates them (README: \"Dates and their sources\" says how to add them)\n",
            catalog.schema_version
        ),
    });
    for scene in &catalog.scenes {
        let sources = scene
            .drama
            .aired
            .iter()
            .map(|a| ("aired", &a.source))
            .chain(scene.episode_aired.iter().map(|e| ("ep aired", &e.source)));
        for (what, source) in sources {
            out.push_str(&format!("{:<18} {what}: {source}\n", scene.id));
        }
    }
    out.push_str(&format!("\nSee also: {}\n", catalog.see_also.url));
    print_out(&out)
}

fn load_for_cli(data: Option<PathBuf>) -> Result<Responder, ExitCode> {
    crate::respond::load_catalog(data.as_deref())
        .map(Responder::new)
        .map_err(|error| {
            eprintln!("{error}");
            ExitCode::from(EXIT_INVALID)
        })
}

/// `scenebot preview`.
fn preview(
    line: &str,
    text: bool,
    locale: Locale,
    seed: Option<u64>,
    date: Option<&str>,
    data: Option<PathBuf>,
) -> ExitCode {
    let invalid = |message: &dyn std::fmt::Display| {
        eprintln!("scenebot preview: {message}");
        ExitCode::from(EXIT_INVALID)
    };
    let line = match preview::parse_line(line) {
        Ok(line) => line,
        Err(error) => return invalid(&error),
    };
    let responder = match load_for_cli(data) {
        Ok(responder) => responder,
        Err(code) => return code,
    };
    let mut rng = match seed {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
        None => rand::rngs::StdRng::from_os_rng(),
    };
    let command: Command =
        match (line, date) {
            // `/anniversaries` counts from now, or from midnight UTC of `--date`, in UTC (a preview has no server).
            (preview::Line::Command(Command::Anniversaries(mut from)), date) => {
                from.now = match date {
                    None => chrono::Utc::now().timestamp(),
                    Some(text) => match crate::catalog::parse_iso_date(text) {
                        Some(date) => date.and_time(chrono::NaiveTime::MIN).and_utc().timestamp(),
                        None => {
                            return invalid(&format!(
                                "--date \"{text}\" must be a date written YYYY-MM-DD"
                            ))
                        }
                    },
                };
                Command::Anniversaries(from)
            }
            (preview::Line::Command(command), None) => command,
            (preview::Line::Command(_), Some(_)) => return invalid(
                &"--date goes with \"/daily\" (the daily post of that date) or \"/anniversaries\"",
            ),
            (preview::Line::DailyPost, date) => {
                let date = match date {
                    None => chrono::Utc::now().date_naive(),
                    Some(text) => match crate::catalog::parse_iso_date(text) {
                        Some(date) => date,
                        None => {
                            return invalid(&format!(
                                "--date \"{text}\" must be a date written YYYY-MM-DD"
                            ))
                        }
                    },
                };
                return preview_daily(&responder.catalog, date, locale, &mut rng, text);
            }
        };
    let response = responder.command(&command, locale, AboutFacts { uptime_seconds: 0 }, &mut rng);
    print_response(&response, text)
}

/// `scenebot preview /daily --date D`: the message a server's daily post on local date `date` would be (its
/// shuffle bag new), exactly as sent to the channel; `--text` reads it.
fn preview_daily(
    catalog: &crate::catalog::Catalog,
    date: chrono::NaiveDate,
    locale: Locale,
    rng: &mut impl rand::Rng,
    text: bool,
) -> ExitCode {
    let calendar = crate::anniversary::calendar(catalog);
    let mut bag = crate::daily::ShuffleBag::default();
    let post = crate::anniversary::day_post(&calendar, date, &mut bag, &catalog.scene_ids(), rng);
    let marker = format!("daily-{date}");
    let Some(card) =
        post.and_then(|post| crate::render::day_post_card(catalog, &post, locale, &marker))
    else {
        eprintln!("scenebot preview: the dataset has no scene to post");
        return ExitCode::from(EXIT_INVALID);
    };
    match serde_json::to_value(card.into_channel_message()) {
        Ok(message) if text => print_json(&serde_json::json!({ "data": message }), true),
        Ok(message) => print_json(&message, false),
        Err(error) => {
            eprintln!("scenebot: cannot serialize the post: {error}");
            ExitCode::FAILURE
        }
    }
}

/// `scenebot complete`.
fn complete(partial: &str, locale: Locale, data: Option<PathBuf>) -> ExitCode {
    match load_for_cli(data) {
        Ok(responder) => print_response(
            &serenity::all::CreateInteractionResponse::Autocomplete(
                responder.autocomplete(partial, locale),
            ),
            false,
        ),
        Err(code) => code,
    }
}

fn print_response(response: &serenity::all::CreateInteractionResponse, text: bool) -> ExitCode {
    match serde_json::to_value(response) {
        Ok(json) => print_json(&json, text),
        Err(error) => {
            eprintln!("scenebot: cannot serialize the response: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a payload as pretty JSON, or (`text`) as [`preview::as_text`] reads it.
fn print_json(json: &serde_json::Value, text: bool) -> ExitCode {
    let output = if text {
        preview::as_text(json)
    } else {
        serde_json::to_string_pretty(json).unwrap_or_default()
    };
    print_out(&format!("{output}\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scenebot: cannot write the output: {error}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::Level;

    /// A subscriber whose one layer is filtered by [`log_filter`] of `rust_log`.
    fn filtered(rust_log: &str) -> impl tracing::Subscriber {
        tracing_subscriber::registry().with(
            tracing_subscriber::layer::Identity::new().with_filter(log_filter(Some(rust_log))),
        )
    }

    /// Whether an event of `level` from `target` passes the filter built from `rust_log`.
    fn passes(rust_log: &str, target_is_frame_logger: bool, level: Level) -> bool {
        let subscriber = filtered(rust_log);
        tracing::subscriber::with_default(subscriber, || match (target_is_frame_logger, level) {
            (true, Level::TRACE) => {
                tracing::enabled!(target: "tungstenite::protocol", Level::TRACE)
            }
            (true, Level::DEBUG) => tracing::enabled!(target: "tokio_tungstenite", Level::DEBUG),
            (true, _) => tracing::enabled!(target: "tungstenite::protocol", Level::INFO),
            (false, _) => tracing::enabled!(target: "scenebot::bot", Level::TRACE),
        })
    }

    #[test]
    fn no_rust_log_lifts_the_capped_targets() {
        for rust_log in [
            "trace",
            "tungstenite=trace",
            "tungstenite::protocol=trace,tokio_tungstenite=trace",
            "debug,tungstenite[frame]=trace",
        ] {
            assert!(!passes(rust_log, true, Level::TRACE), "{rust_log}");
            assert!(!passes(rust_log, true, Level::DEBUG), "{rust_log}");
        }
        // serenity's HTTP spans, which carry interaction tokens, stay off below warn.
        for rust_log in ["trace", "serenity=trace", "serenity::http::client=info"] {
            let subscriber = filtered(rust_log);
            let span_on = tracing::subscriber::with_default(
                subscriber,
                || tracing::enabled!(target: "serenity::http::client", Level::INFO),
            );
            assert!(!span_on, "{rust_log}");
        }
        // Nor the gateway targets that print whole events (interaction tokens included).
        for rust_log in [
            "trace",
            "serenity=trace",
            "serenity::client::dispatch=debug",
        ] {
            let subscriber = filtered(rust_log);
            let dumps = tracing::subscriber::with_default(subscriber, || {
                tracing::enabled!(target: "serenity::client::dispatch", Level::DEBUG)
                    || tracing::enabled!(target: "serenity::gateway::shard", Level::INFO)
                    || tracing::enabled!(target: "serenity::gateway::ws", Level::DEBUG)
            });
            assert!(!dumps, "{rust_log}");
        }
        // The rest of RUST_LOG still works, and the frame loggers keep their warnings and info lines.
        assert!(passes("trace", false, Level::TRACE));
        assert!(passes("trace", true, Level::INFO));
        assert!(!passes("warn", true, Level::INFO));
    }
}
