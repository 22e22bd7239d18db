//! The slash commands. Each parses its options, asks the core for the response, and sends it; nothing else.
//!
//! Names stay English everywhere; descriptions carry Korean localizations. All four work in servers, in DMs with
//! the bot and as a user-installed app, so a fan can share a scene anywhere.

use serenity::all::{CreateAutocompleteResponse, GuildId};
use tracing::{error, info};

use super::interaction::{locale_of, reply};
use super::{Context, Data, Error};
use crate::render::AboutFacts;
use crate::respond::Command;

/// Every command, in the order Discord lists them.
pub fn all() -> Vec<poise::Command<Data, Error>> {
    vec![
        scene(),
        scenes(),
        seealso(),
        about(),
        super::favorite::favorite(),
        super::daily::daily(),
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
        Some(_) => super::discord::route::GUILD_COMMANDS,
        None => super::discord::route::GLOBAL_COMMANDS,
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
        let result = super::discord::capped(route, cap, registration).await;
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
    use serenity::all::HttpError;
    let failure = super::discord::Failure::of(error);
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(_)) => format!(
            "command registration refused ({}); the previous registration stays in place",
            failure.text()
        ),
        // serenity decodes the answer after a 2xx: only a successful call gets this far.
        serenity::Error::Json(_) => format!(
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
/// Runs `command` through the core and replies.
async fn answer(ctx: Context<'_>, command: Command) -> Result<(), Error> {
    let data = ctx.data();
    let facts = AboutFacts {
        uptime_seconds: data.started.elapsed().as_secs(),
    };
    let response = data
        .responder
        .command(&command, locale_of(ctx), facts, &mut rand::rng());
    reply(ctx, response).await
}

/// Autocomplete for the `drama` option.
async fn autocomplete_drama(ctx: Context<'_>, partial: &str) -> CreateAutocompleteResponse {
    ctx.data().responder.autocomplete(partial, locale_of(ctx))
}

/// Show a Park Seo-joon kiss scene: a random one, or pick a drama
#[poise::command(
    slash_command,
    description_localized(
        "ko",
        "박서준 키스신 카드를 보여 줘요. 드라마를 고르지 않으면 무작위로 골라요"
    ),
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel"
)]
pub async fn scene(
    ctx: Context<'_>,
    #[description = "A drama's name in English or Korean; leave empty for a random scene"]
    #[description_localized("ko", "드라마 이름(한국어나 영어). 비워 두면 무작위로 골라요")]
    #[autocomplete = "autocomplete_drama"]
    drama: Option<String>,
) -> Result<(), Error> {
    answer(ctx, Command::Scene { drama }).await
}

/// Every scene in one card, with a menu to open one
#[poise::command(
    slash_command,
    description_localized(
        "ko",
        "모든 장면을 카드 한 장에 모아 보여 주고, 메뉴에서 골라 열 수 있어요"
    ),
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel"
)]
pub async fn scenes(ctx: Context<'_>) -> Result<(), Error> {
    answer(ctx, Command::Scenes).await
}

/// The source article's See Also item
#[poise::command(
    slash_command,
    description_localized("ko", "출처 기사의 관련 기사를 보여 줘요"),
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel"
)]
pub async fn seealso(ctx: Context<'_>) -> Result<(), Error> {
    answer(ctx, Command::SeeAlso).await
}

/// What this bot is, where its scenes come from, and how it is doing
#[poise::command(
    slash_command,
    description_localized("ko", "봇 소개와 장면의 출처, 데이터 버전, 가동 시간을 보여 줘요"),
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel"
)]
pub async fn about(ctx: Context<'_>) -> Result<(), Error> {
    answer(ctx, Command::About).await
}
