//! The two background processes, as rules over the store and a small port to Discord: finishing favorite polls
//! ([`poll`]) and posting the daily scene ([`daily`]). They run many servers' work at once, a bounded number in
//! flight, each item claimed right before its own Discord calls with a lease renewed while it runs, and every
//! result recorded only by the claim's owner ([`fanout`], [`lease`]). The Discord layer implements [`port::Port`]; unit tests
//! implement it by hand, so these rules are tested without a fake Discord.
//!
//! - [`port`]: what the processes ask of Discord, as plain data.
//! - [`fanout`]: the work queue and its bounded workers.
//! - [`lease`]: keeping a claim while its work runs.
//! - [`pacer`]: the shared send schedule under Discord's global limit.
//! - [`supervise`]: jobs started again after a panic, and which are down.
//! - [`poll`]: a poll's life from posting to its results, and its scheduler.
//! - [`daily`]: planning a minute's posts, posting one, and the scheduler.
//! - [`quiz`]: a quiz round from its first question to its scores, resumable; judging a click.

pub mod daily;
pub mod fanout;
pub mod lease;
pub mod pacer;
pub mod poll;
pub mod port;
pub mod quiz;
pub mod supervise;
#[cfg(test)]
mod test_port;
