//! Buttons and menus on our cards, and the one funnel every error goes through: users get a short friendly
//! ephemeral line, operators one precise log line; never the raw error chain.

use serenity::all::{
    ComponentInteraction, ComponentInteractionDataKind, CreateAutocompleteResponse,
    CreateInteractionResponse, FullEvent, Interaction, MessageFlags, MessageInteractionMetadata,
};
use tracing::{error, warn};

use super::calls::{capped, route};
use super::errors::describe;
use super::types::{Data, Error};
use crate::locale::Locale;
use crate::respond::ClickedOn;

/// Handles the events poise does not: component interactions (buttons, menus).
pub async fn on_event(
    framework: poise::FrameworkContext<'_, Data, Error>,
    event: &FullEvent,
) -> Result<(), Error> {
    if let FullEvent::InteractionCreate {
        interaction: Interaction::Component(component),
    } = event
    {
        on_component(framework.serenity_context, component, framework.user_data).await?;
    }
    Ok(())
}

async fn on_component(
    ctx: &serenity::all::Context,
    component: &ComponentInteraction,
    data: &Data,
) -> Result<(), Error> {
    let values: Vec<String> = match &component.data.kind {
        ComponentInteractionDataKind::StringSelect { values } => values.clone(),
        _ => Vec::new(),
    };
    if let Some(crate::render::ComponentAction::QuizAnswer {
        round,
        question,
        option,
    }) = crate::render::ComponentAction::parse(&component.data.custom_id)
    {
        return super::commands::quiz::on_answer(ctx, component, data, (round, question, option))
            .await;
    }
    let locale = Locale::from_discord(&component.locale);
    let clicked = clicked_on(component);
    let response = data.responder.component(
        &component.data.custom_id,
        &values,
        clicked,
        locale,
        &mut rand::rng(),
    );
    super::calls::capped(
        route::INTERACTION_CALLBACK,
        data.call_cap,
        component.create_response(&ctx.http, response),
    )
    .await?;
    Ok(())
}

/// Whose message the component was used on, read from the message Discord sends with the click (never from the
/// `custom_id`, which the client chooses): an ephemeral reply, or one answering the clicker's own interaction, is
/// theirs; every other message (a daily post, another member's card) is shared.
pub fn clicked_on(component: &ComponentInteraction) -> ClickedOn {
    let message = &component.message;
    let ephemeral = message
        .flags
        .is_some_and(|flags| flags.contains(MessageFlags::EPHEMERAL));
    let answered_user =
        message
            .interaction_metadata
            .as_deref()
            .and_then(|metadata| match metadata {
                MessageInteractionMetadata::Command(command) => Some(command.user.id),
                MessageInteractionMetadata::Component(component) => Some(component.user.id),
                _ => None,
            });
    if ephemeral || answered_user == Some(component.user.id) {
        ClickedOn::OwnReply
    } else {
        ClickedOn::Shared
    }
}

/// The error funnel: one log line, one friendly ephemeral reply where a reply is still possible.
pub async fn on_error(error: poise::FrameworkError<'_, Data, Error>) {
    use poise::FrameworkError;
    super::dedup::set_outcome(outcome_of(&error));
    match error {
        FrameworkError::Command { error, ctx, .. } => {
            error!(command = %ctx.command().name, "command failed: {error}");
            tell_user(ctx, |s| s.internal_error).await;
        }
        FrameworkError::CommandPanic { payload, ctx, .. } => {
            error!(command = %ctx.command().name, "command panicked: {}", payload.unwrap_or_default());
            tell_user(ctx, |s| s.internal_error).await;
        }
        FrameworkError::ArgumentParse {
            error, input, ctx, ..
        } => {
            warn!(command = %ctx.command().name, input = ?input, "unreadable option: {}", describe(&*error));
            tell_user(ctx, |s| s.internal_error).await;
        }
        FrameworkError::UnknownInteraction {
            interaction,
            framework,
            ..
        } => {
            warn!(command = %interaction.data.name, "an unknown command was used (a stale registration)");
            let locale = Locale::from_discord(&interaction.locale);
            // An autocomplete can only be answered with choices (type 8): none, for a command we no longer have.
            let response = if interaction.data.autocomplete().is_some() {
                CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new())
            } else {
                framework
                    .user_data
                    .responder
                    .error(locale.strings().unknown_command)
            };
            let answer = interaction.create_response(&framework.serenity_context.http, response);
            if let Err(error) = capped(
                route::INTERACTION_CALLBACK,
                framework.user_data.call_cap,
                answer,
            )
            .await
            {
                warn!("cannot answer the unknown command: {}", describe(&error));
            }
        }
        FrameworkError::CommandStructureMismatch {
            description, ctx, ..
        } => {
            // The interaction does not fit the registered command: a client with a stale registration.
            warn!(command = %ctx.command().name, "unexpected command structure: {description}");
            if ctx.interaction_type == poise::CommandInteractionType::Autocomplete {
                let empty =
                    CreateInteractionResponse::Autocomplete(CreateAutocompleteResponse::new());
                let answer = ctx
                    .interaction
                    .create_response(ctx.serenity_context(), empty);
                if let Err(error) =
                    capped(route::INTERACTION_CALLBACK, ctx.data().call_cap, answer).await
                {
                    warn!("cannot answer the autocomplete: {}", describe(&error));
                }
            } else {
                tell_user(poise::Context::Application(ctx), |s| s.unknown_command).await;
            }
        }
        FrameworkError::EventHandler { error, event, .. } => {
            error!(
                event = event.snake_case_name(),
                "event handler failed: {error}"
            );
        }
        // A permission gate said no, and told the member why.
        FrameworkError::CommandCheckFailed { error: None, .. } => {}
        other => warn!("{other}"),
    }
}

/// The metrics' `outcome` of an interaction that reached the funnel: `denied` for a permission gate that said no,
/// `unknown` for a command or structure we do not have (a stale registration), `error` for the rest.
fn outcome_of(error: &poise::FrameworkError<'_, Data, Error>) -> &'static str {
    use poise::FrameworkError;
    match error {
        FrameworkError::CommandCheckFailed { error: None, .. } => "denied",
        FrameworkError::UnknownInteraction { .. }
        | FrameworkError::CommandStructureMismatch { .. } => "unknown",
        _ => "error",
    }
}

/// Tells the user, ephemerally, that something went wrong; as a follow-up if the reply was already sent.
async fn tell_user(
    ctx: super::types::Context<'_>,
    text: impl Fn(&crate::locale::Strings) -> &'static str,
) {
    let locale = super::interaction::locale_of(ctx);
    let told = super::interaction::tell(ctx, text(locale.strings()).to_owned()).await;
    if let Err(error) = told {
        warn!("cannot tell the user about the failure: {error}");
    }
}
