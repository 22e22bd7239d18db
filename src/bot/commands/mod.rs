//! The slash commands, one module per feature; each command parses its options, asks the core (or the
//! lifecycle) for the outcome, and sends it; nothing else.
//!
//! - [`scene`]: `/scene`, `/scenes`, `/seealso`, `/about`, `/anniversaries`: the card commands over the pure core.
//! - [`favorite`]: `/favorite` polls: start, end, results, the hall of fame.
//! - [`daily`]: `/daily`: the settings, the status, a post now.
//! - [`language`]: `/language`: the language of the server's public posts.
//! - [`quiz`]: `/quiz`: a round in the channel (or solo), stopping it, the server's board; the answer buttons.
//!
//! Names stay English everywhere; descriptions carry Korean localizations.

pub mod daily;
pub mod favorite;
pub mod language;
pub mod quiz;
pub mod scene;

use serenity::all::GuildId;
use tracing::{error, info};

use crate::bot::types::{Data, Error};

/// Every command, in the order Discord lists them.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        scene::scene(),
        scene::scenes(),
        scene::seealso(),
        scene::about(),
        scene::anniversaries(),
        favorite::favorite(),
        daily::daily(),
        language::language(),
        quiz::quiz(),
    ]
}

/// Registers `commands` with one bulk overwrite (idempotent): on one guild when `guild` is set (instant), else
/// globally, cut after `cap`. A failure is logged, not fatal, and the log says what Discord did with it. Runs beside
/// the first answers, never before them: Discord may take its time over a registration (up to the cap).
pub fn register_beside(
    http: std::sync::Arc<serenity::all::Http>,
    commands: &[poise::Command<Data, Error>],
    guild: Option<GuildId>,
    cap: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    let builders = poise::builtins::create_application_commands(commands);
    let count = commands.len();
    let route = match guild {
        Some(_) => crate::bot::calls::route::GUILD_COMMANDS,
        None => crate::bot::calls::route::GLOBAL_COMMANDS,
    };
    tokio::spawn(async move {
        let registration = async {
            match guild {
                Some(guild) => guild.set_commands(&http, builders).await.map(drop),
                None => serenity::all::Command::set_global_commands(&http, builders)
                    .await
                    .map(drop),
            }
        };
        let result = crate::bot::calls::capped(route, cap, registration).await;
        match (result, guild) {
            (Ok(()), Some(guild)) => {
                info!(count, guild = %guild, "commands registered on the guild")
            }
            (Ok(()), None) => info!(count, "commands registered globally"),
            (Err(error), _) => error!("{}", registration_failure(&error)),
        }
    })
}

/// What a failed registration means: only a refusal leaves the previous registration in place.
fn registration_failure(error: &serenity::Error) -> String {
    use crate::bot::errors::{classify, Classified};
    let failure = crate::bot::errors::Failure::of(error);
    match classify(error) {
        Classified::Refused(_) => format!(
            "command registration refused ({}); the previous registration stays in place",
            failure.text()
        ),
        // serenity decodes the answer after a 2xx: only a successful call gets this far.
        Classified::Unreadable => format!(
            "command registration: Discord accepted it (HTTP success) but its answer could not be read ({}); \
             the commands as sent are most likely registered",
            failure.text()
        ),
        _ => format!(
            "command registration got no answer ({}); it may or may not have taken effect, and the next start \
             registers again",
            failure.text()
        ),
    }
}
