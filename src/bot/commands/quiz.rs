//! `/quiz`: a round of questions from the dataset, in the channel for everyone (in a server that installed the bot)
//! or solo and private (in DMs, and as a user-installed app); stopping a round; the server's all-time board; and
//! the answer buttons ([`on_answer`]).
//!
//! A round runs on its `/quiz start` interaction's token: the intro is the interaction's reply, each question a
//! follow-up, each reveal an edit of it, the scores a last follow-up. Those are interaction endpoints, which Discord
//! does not count in the bot's global rate limit, so a round costs the shared send schedule nothing; a round fits
//! the token's 15 minutes by construction (10 questions of at most 45 s, with 3 s between them). The round's
//! life is [`crate::lifecycle::quiz`]'s; this module only translates.

use serenity::all::{
    ChannelType, CommandInteraction, ComponentInteraction, CreateInteractionResponse,
    CreateInteractionResponseMessage, Permissions,
};
use tracing::{info, warn};

use crate::bot::calls::{self, route};
use crate::bot::errors::describe;
use crate::bot::interaction::{locale_of, public_locale_of, tell, within_deadline};
use crate::bot::types::{Context, Data, Error};
use crate::bot::{gate, perms};
use crate::lifecycle::quiz::{self as lifecycle, Click, COOLDOWN_SECONDS};
use crate::locale::Locale;
use crate::quiz::{self, DEFAULT_QUESTIONS, MAX_QUESTIONS};
use crate::render;
use crate::store::{Lane, NewRound, NotStarted, RoundState};

/// A Park Seo-joon quiz: answers on buttons, 1 point a right answer, 1 more for the first right
#[poise::command(
    slash_command,
    install_context = "Guild|User",
    interaction_context = "Guild|BotDm|PrivateChannel",
    subcommands("start", "stop", "leaderboard"),
    subcommand_required,
    description_localized(
        "ko",
        "박서준 퀴즈: 버튼으로 답해요. 정답마다 1점, 가장 먼저 맞히면 1점 더"
    )
)]
pub async fn quiz(_ctx: Context<'_>) -> Result<(), Error> {
    Ok(())
}

/// Whether the round is public: typed in a server that installed the bot. Elsewhere (a DM, a server where only the
/// user installed the app) it is solo and private.
fn is_public(interaction: &CommandInteraction) -> bool {
    use serenity::all::AuthorizingIntegrationOwner;
    interaction.guild_id.is_some()
        && interaction
            .authorizing_integration_owners
            .0
            .iter()
            .any(|owner| matches!(owner, AuthorizingIntegrationOwner::GuildInstall(Some(_))))
}

/// What the bot lacks to post the round in the channel, as the interaction reports its permissions there.
fn bot_cannot_post(interaction: &CommandInteraction) -> bool {
    let thread = interaction.channel.as_ref().is_some_and(|channel| {
        matches!(
            channel.kind,
            ChannelType::PublicThread | ChannelType::PrivateThread | ChannelType::NewsThread
        )
    });
    let needed = if thread {
        perms::in_thread(perms::CARD)
    } else {
        perms::CARD
    };
    let have = interaction.app_permissions.unwrap_or(Permissions::empty());
    !perms::missing(have, needed).is_empty()
}

/// Start a quiz round here (solo in DMs): 1 point a right answer, 1 more for the first right
#[poise::command(
    slash_command,
    description_localized(
        "ko",
        "퀴즈 라운드를 시작해요(DM에서는 혼자). 정답마다 1점, 가장 먼저 맞히면 1점 더"
    )
)]
pub async fn start(
    ctx: Context<'_>,
    #[description = "How many questions (1 to 10; default 5)"]
    #[description_localized("ko", "문제 수(1~10, 기본값 5)")]
    #[min = 1]
    #[max = 10]
    questions: Option<u8>,
) -> Result<(), Error> {
    let poise::Context::Application(app) = ctx else {
        return Ok(());
    };
    let interaction = app.interaction;
    let public = is_public(interaction);
    if public && bot_cannot_post(interaction) {
        info!(channel = %interaction.channel_id, "quiz refused: the bot cannot post in the channel");
        return tell(ctx, locale_of(ctx).quiz_strings().cannot_send.to_owned()).await;
    }
    let data = ctx.data();
    let count = questions
        .map_or(DEFAULT_QUESTIONS, usize::from)
        .clamp(1, MAX_QUESTIONS);
    let drawn = quiz::draw(&data.responder.catalog, count, &mut rand::rng());
    let total = drawn.len();
    // Both store calls run under the deadline, the server's language as well as the round: rounds started together
    // queue on the store, and a first answer later than 3 s loses its round (BENCHMARKS.md, "The quiz").
    let (locale, window, inserted) = within_deadline(ctx, !public, async {
        // A public round speaks the server's language (`/language`, else its own locale, else the starter's).
        let locale = if public {
            public_locale_of(ctx).await?
        } else {
            locale_of(ctx)
        };
        let window = drawn
            .first()
            .and_then(|q| q.prompt(&data.responder.catalog, locale))
            .map_or(quiz::round::ANSWER_WINDOW_SECONDS, |p| {
                quiz::answer_window_seconds(&p)
            });
        let new_round = NewRound {
            guild_id: interaction.guild_id.filter(|_| public).map(|g| g.get()),
            channel_id: interaction.channel_id.get(),
            started_by: interaction.user.id.get(),
            locale,
            questions: drawn,
            application_id: interaction.application_id.get(),
            token: interaction.token.clone(),
            now: data.clock.now(),
            cooldown: COOLDOWN_SECONDS,
        };
        let inserted = data
            .store
            .call(move |store| store.insert_quiz_round(&new_round))
            .await?;
        Ok::<_, Error>((locale, window, inserted))
    })
    .await??;
    let record = match inserted {
        Ok(record) => record,
        Err(NotStarted::Running(running)) => {
            let link = match (
                running.guild_id,
                running.slots.first().and_then(|s| s.message_id),
            ) {
                (Some(guild), Some(message)) => {
                    crate::render::message_link(guild, running.channel_id, message)
                }
                _ => format!("<#{}>", running.channel_id),
            };
            return tell(ctx, locale_of(ctx).quiz_already_running(&link)).await;
        }
        Err(NotStarted::Cooldown { until }) => {
            return tell(ctx, locale_of(ctx).quiz_cooldown(until)).await;
        }
    };
    let starter = public.then(|| interaction.user.id.get());
    let intro = poise::CreateReply::default()
        .content(locale.quiz_intro(total, window, starter))
        .ephemeral(!public)
        .allowed_mentions(render::no_mentions());
    let sent = calls::answering(
        crate::bot::interaction::send_route(ctx),
        data.call_cap,
        crate::bot::interaction::answer_deadline(ctx),
        || ctx.send(intro.clone()),
    )
    .await;
    if let Err(error) = sent {
        // Nothing of the round can be shown without its token: it ends at once, with nothing to score.
        let id = record.id;
        let now = data.clock.now();
        let ended = data
            .store
            .call(move |store| {
                store.finish_quiz_round(id, RoundState::Stopped, &[], now)?;
                store.mark_quiz_scores_posted(id)
            })
            .await;
        if let Err(store_error) = ended {
            warn!(
                round = id,
                "cannot end the round that was never shown: {store_error}"
            );
        }
        return Err(error.into());
    }
    info!(
        round = record.id,
        public,
        questions = total,
        "quiz round started"
    );
    tokio::spawn(data.rounds(&ctx.serenity_context().http).run(record.id));
    Ok(())
}

/// Stop the quiz round running here, or your solo round (its starter, or Manage Messages)
#[poise::command(
    slash_command,
    description_localized(
        "ko",
        "이 채널에서 진행 중인 퀴즈를 멈춰요(시작한 사람이나 메시지 관리 권한)"
    )
)]
pub async fn stop(ctx: Context<'_>) -> Result<(), Error> {
    let locale = locale_of(ctx);
    let strings = locale.quiz_strings();
    let data = ctx.data();
    let channel = ctx.guild_id().map(|_| ctx.channel_id().get());
    let user = ctx.author().id.get();
    // The channel's public round; else (a DM, a user install) the member's own solo round.
    let running = within_deadline(
        ctx,
        true,
        data.store.call(move |store| match channel {
            Some(channel) => match store.running_quiz_round_in(Lane::Channel(channel))? {
                Some(round) => Ok(Some(round)),
                None => store.running_quiz_round_in(Lane::User(user)),
            },
            None => store.running_quiz_round_in(Lane::User(user)),
        }),
    )
    .await??;
    let Some(round) = running else {
        return tell(ctx, strings.no_round.to_owned()).await;
    };
    let allowed = round.started_by == user
        || (round.guild_id.is_some() && gate::member_can(ctx, Permissions::MANAGE_MESSAGES));
    if !allowed {
        return tell(ctx, strings.stop_refused.to_owned()).await;
    }
    let id = round.id;
    data.store
        .call(move |store| store.request_quiz_stop(id))
        .await?;
    info!(round = id, by = %ctx.author().id, "quiz round stop requested");
    data.quiz_rounds.wake(id);
    // Runs it here if no runner does (it returns at once when one does).
    tokio::spawn(data.rounds(&ctx.serenity_context().http).run(id));
    tell(ctx, strings.stop_done.to_owned()).await
}

/// The server's quiz leaderboard: the top 10, your place, rounds played
#[poise::command(
    slash_command,
    description_localized("ko", "이 서버의 퀴즈 순위: 상위 10명, 내 순위, 진행한 라운드 수")
)]
pub async fn leaderboard(ctx: Context<'_>) -> Result<(), Error> {
    let locale = locale_of(ctx);
    let Some(guild) = ctx.guild_id().map(|g| g.get()) else {
        return tell(ctx, locale.quiz_strings().board_guild_only.to_owned()).await;
    };
    let data = ctx.data();
    let user = ctx.author().id.get();
    let board = within_deadline(
        ctx,
        false,
        data.store
            .call(move |store| store.quiz_board(guild, user, 10)),
    )
    .await??;
    crate::bot::interaction::send_card(ctx, render::quiz::leaderboard_card(&board, locale)).await
}

/// A click on a quiz answer button: judged by the stored round and acknowledged privately.
pub async fn on_answer(
    ctx: &serenity::all::Context,
    component: &ComponentInteraction,
    data: &Data,
    (round, question, option): (u64, u8, u8),
) -> Result<(), Error> {
    let locale = Locale::from_discord(&component.locale);
    let at_ms = i64::try_from(crate::telemetry::snowflake_unix_ms(component.id.get())).unwrap_or(0);
    let click = (
        component.channel_id.get(),
        component.message.id.get(),
        component.user.id.get(),
        at_ms,
    );
    let judged = data
        .store
        .call(move |store| {
            lifecycle::answer(
                store,
                round,
                usize::from(question),
                usize::from(option),
                click,
            )
        })
        .await;
    let strings = locale.quiz_strings();
    let text = match judged {
        Ok(Click::Counted(option)) => locale.quiz_locked_in(option),
        Ok(Click::Already(first)) => locale.quiz_already_answered(first),
        Ok(Click::TooLate) => strings.too_late.to_owned(),
        Ok(Click::NotCounted) => strings.not_counted.to_owned(),
        Err(error) => {
            warn!(
                round,
                "a quiz answer could not be stored: {}",
                describe(&error)
            );
            locale.strings().internal_error.to_owned()
        }
    };
    let response = CreateInteractionResponse::Message(
        CreateInteractionResponseMessage::new()
            .content(text)
            .ephemeral(true)
            .allowed_mentions(render::no_mentions()),
    );
    calls::capped(
        route::INTERACTION_CALLBACK,
        data.call_cap,
        component.create_response(&ctx.http, response),
    )
    .await?;
    Ok(())
}
