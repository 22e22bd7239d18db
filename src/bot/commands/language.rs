//! `/language`: the language of what the bot posts publicly in a server (polls, results, daily posts, quiz rounds). Discord
//! reports every non-Community server as `en-US`, so an ordinary Korean fan server would otherwise get English
//! posts; the moderators choose here, and the choice is kept per server ([`crate::locale::public_locale`]).

use crate::bot::gate;
use crate::bot::interaction::{locale_of, tell, within_deadline};
use crate::bot::types::{Context, Error};
use crate::locale::{LanguageChange, Locale};

/// What a moderator may pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, poise::ChoiceParameter)]
pub enum LanguageChoice {
    /// English posts.
    #[name = "English"]
    English,
    /// Korean posts.
    #[name = "한국어"]
    Korean,
    /// Let the bot decide again: the server's own locale, else the moderator's.
    #[name = "Automatic"]
    #[name_localized("ko", "자동")]
    Automatic,
}

impl LanguageChoice {
    /// The language kept for the server; `None` for automatic.
    fn locale(self) -> Option<Locale> {
        match self {
            LanguageChoice::English => Some(Locale::En),
            LanguageChoice::Korean => Some(Locale::Ko),
            LanguageChoice::Automatic => None,
        }
    }
}

/// Choose the language of the bot's posts here (polls, results, daily posts, quiz rounds)
#[poise::command(
    slash_command,
    guild_only,
    install_context = "Guild",
    interaction_context = "Guild",
    default_member_permissions = "MANAGE_GUILD",
    check = "gate::manager",
    description_localized("ko", "이 서버에 올리는 투표, 결과, 오늘의 장면, 퀴즈의 언어를 정해요")
)]
pub async fn language(
    ctx: Context<'_>,
    #[description = "English, 한국어 or Automatic; leave it out to see the current one"]
    #[description_localized(
        "ko",
        "English, 한국어, 자동 중 하나(비워 두면 지금 설정을 보여 줘요)"
    )]
    language: Option<LanguageChoice>,
) -> Result<(), Error> {
    let locale = locale_of(ctx);
    let Some(guild) = ctx.guild_id().map(|guild| guild.get()) else {
        return Ok(());
    };
    let data = ctx.data();
    let change = match language {
        None => {
            let chosen = within_deadline(
                ctx,
                true,
                data.store.call(move |store| store.server_language(guild)),
            )
            .await??;
            LanguageChange::Shown(chosen)
        }
        Some(choice) => {
            let (chosen, now) = (choice.locale(), data.clock.now());
            within_deadline(
                ctx,
                true,
                data.store
                    .call(move |store| store.set_server_language(guild, chosen, now)),
            )
            .await??;
            tracing::info!(guild, language = ?chosen, "server language set");
            chosen.map_or(LanguageChange::Automatic, LanguageChange::Set)
        }
    };
    tell(ctx, locale.language_reply(change)).await
}
