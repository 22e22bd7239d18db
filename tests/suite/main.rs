//! The one integration-test binary: the real `scenebot` binary and the real bot, driven like a user would.
//!
//! - `check`: `scenebot check` on the shipped dataset and on a table of broken ones.
//! - `dataset`: the shipped dataset's facts as Korean sources give them; no translationese in any Korean text.
//! - `preview`: `scenebot preview` for every command, validated against Discord's OpenAPI description.
//! - `fake`, `spec`: the fake Discord (REST, gateway, polls, rate limits) and the OpenAPI validator proven with plain
//!   clients.
//! - `bot`: the real bot end to end: commands, components, start-up failures, reconnects, shutdown.
//! - `gateway`: gateway faults (close codes, INVALID_SESSION, RECONNECT, a zombie connection, replays) survived.
//! - `hostile`: one server scripting commands at channels the bot cannot see; the invalid-request budget holds.
//! - `input`: malformed interaction payloads and hostile option text answered safely, or ignored, never fatal.
//! - `favorite`: `/favorite` polls end to end: permissions, votes, results exactly once through SIGKILLs.
//! - `daily`: `/daily` end to end with a test-driven clock: a month of posts, restarts, lost access.
//! - `quiz`: `/quiz` rounds end to end with a test-driven clock: answers, reveals, the board once, a crash, stop,
//!   a solo round, a Korean round.
//! - `cluster`: several processes on one PostgreSQL database and several shards: everything exactly once.
//! - `fuzz_dataset`: property tests: the dataset loader never panics and its errors name the file.
//! - `operations`: the health endpoint and its metrics, the shard watchdog, REST timeouts, a locked database,
//!   intents.
//! - `chaos`: 20 SIGKILLs at random moments of mixed traffic; nothing lost or repeated, the database intact.
//! - `harness`: skipped checks named on a plain `cargo test`; CI's PostgreSQL lookup; RELIABILITY.md's test names.
//! - `default_mode`: the default mode (serenity's rate limiter on) through HTTPS_PROXY and a test CA.
//! - `store_contract`, `store_faults`: the store's contract on both backends; a stopped PostgreSQL, a wrong
//!   database, two bots on one SQLite file.
//! - `store_tls`: PostgreSQL over TLS: sslmode, sslrootcert, client certificates, prefer's plain fallback.
//! - `log_format`: `SCENEBOT_LOG_FORMAT=json`: one JSON object a line, tokens redacted.
//! - `support`: the harness (fake Discord + bot, the wait bound, permission sets), the fake Discord, running the
//!   binary, PostgreSQL clusters, the TLS proxy and the OpenAPI validator.

mod bot;
mod chaos;
mod check;
mod cluster;
mod daily;
mod dataset;
mod days;
mod default_mode;
mod fake;
mod favorite;
mod fuzz_dataset;
mod gateway;
mod harness;
mod hostile;
mod input;
mod log_format;
mod operations;
mod preview;
mod quiz;
mod spec;
mod store_contract;
mod store_faults;
mod store_tls;
mod support;
