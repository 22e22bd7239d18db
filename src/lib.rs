//! scenebot: a Discord bot that serves Park Seo-joon's best-loved K-drama kiss scenes.
//!
//! # Layout
//! - [`catalog`]: the dataset's plain types; loading and validation of the data with precise messages; its sourced
//!   dates, checked against a passed-in today.
//! - [`limits`]: Discord's size limits and clamping, so every message fits by construction.
//! - [`locale`]: English and Korean, and every text users see (the moderator commands' replies included).
//! - [`search`]: drama search the way fans type (typos, Hangul, initial consonants), for commands and autocomplete.
//! - [`pick`]: uniform random choice that can leave the current scene out.
//! - [`render`]: scene, list, See Also, about, anniversary, birthday and quiz cards as serenity builders;
//!   component ids; the card-size check.
//! - [`respond`]: the command core: a request in, the exact interaction response out (shared by bot and preview);
//!   the one full dataset loader.
//! - [`preview`]: reading a typed command line, and a readable rendering of a response.
//! - [`daily`]: the daily scene, the pure part: times, zones, DST-safe schedule, what is due, the shuffle bag.
//! - [`anniversary`]: "on this day", the pure part: the calendar, a server's special card on its local date (one a
//!   day, by priority), the rule that keeps the bag fair, the next anniversaries with Unix times (`/anniversaries`).
//! - [`favorite`]: favorite-scene polls, the pure part: plan, poll, tallies, ties, results chart, hall of fame.
//! - [`quiz`]: `/quiz`, the pure part: questions from the catalog alone, the round draw, answers, reveal, scores.
//! - [`reason`]: why a post or a poll failed, one vocabulary for both features, stored as codes.
//! - [`pace`]: the shared send schedule (GCRA's theoretical arrival time) that keeps every process within one rate.
//! - [`clock`]: the time, passed in, so schedules are tested without waiting.
//! - [`config`]: settings from the environment, with errors that name the variable.
//! - [`lifecycle`]: the poll and daily processes and a quiz round's life as rules over the store and a port to
//!   Discord: bounded, paced, leased fan-out; the day's special card, and threads on posts opened once through
//!   crashes; rounds resumable, clicks judged by the stored round.
//! - [`store`]: all SQL, one contract over SQLite or PostgreSQL: migrations, leased claims, typed records (the
//!   quiz's rounds, answers and board among them).
//! - [`telemetry`]: Prometheus metrics: the one recorder, every metric's name and labels, one-line recorders.
//! - [`bot`]: the Discord layer (serenity + poise): start-up, commands (`/quiz` among them), components, shutdown.
//! - [`cli`]: `scenebot run | check | preview | complete`; logging, signals and exit codes for `run`.

pub mod anniversary;
pub mod bot;
pub mod catalog;
pub mod cli;
pub mod clock;
pub mod config;
pub mod daily;
pub mod favorite;
pub mod lifecycle;
pub mod limits;
pub mod locale;
pub mod pace;
pub mod pick;
pub mod preview;
pub mod quiz;
pub mod reason;
pub mod render;
pub mod respond;
pub mod search;
pub mod store;
pub mod telemetry;
