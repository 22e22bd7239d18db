//! The card commands: `/scene`, `/scenes`, `/seealso`, `/about` and `/anniversaries`. Each parses its options,
//! asks the pure core ([`crate::respond`]) for the response, and sends it. All five work in servers, in DMs with
//! the bot and as a user-installed app, so a fan can share a scene anywhere.

use serenity::all::CreateAutocompleteResponse;

use crate::bot::interaction::{locale_of, reply, send_card, within_deadline};
use crate::bot::types::{Context, Error};
use crate::render::AboutFacts;
use crate::respond::{AnniversariesFrom, Command};

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
    description_localized("ko", "출처 기사가 함께 소개한 기사를 보여 줘요"),
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

/// The next anniversaries of his dramas and kiss scenes, and his birthday, with their dates
#[poise::command(
    slash_command,
    description_localized(
        "ko",
        "다가오는 드라마·키스신 방영 기념일과 생일을 날짜와 함께 보여 줘요"
    ),
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel"
)]
pub async fn anniversaries(ctx: Context<'_>) -> Result<(), Error> {
    let data = ctx.data();
    // A server with a daily schedule counts its days in its daily zone (the day its post marks them); anywhere
    // else (DMs, user installs, a server without one) in UTC, and the card says which.
    let schedule = match ctx.guild_id() {
        Some(guild) => {
            let guild = guild.get();
            within_deadline(ctx, false, data.store.call(move |store| store.daily(guild)))
                .await??
                .map(|record| (record.timezone, record.time))
        }
        None => None,
    };
    let from = AnniversariesFrom {
        now: data.clock.now(),
        schedule,
    };
    send_card(ctx, data.responder.anniversaries(from, locale_of(ctx))).await
}
