//! Talking to Discord safely: bounded retries with backoff for what is safe to repeat, failures sorted into what
//! they mean for us, and the bot's own permissions in a channel.

use std::future::Future;
use std::time::Duration;

use serenity::all::{ChannelId, Context, GuildId, HttpError, Permissions};
use tracing::warn;

/// How many times a call is tried at most.
const ATTEMPTS: u32 = 4;
/// The first backoff; doubled each time.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);
/// The longest wait between tries, whatever `Retry-After` says.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What a failed Discord call means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The thing is gone (404: unknown channel 10003, unknown message 10008, …).
    Gone(String),
    /// We may not (403: missing access 50001, missing permissions 50013).
    Forbidden(String),
    /// Worth trying again later: 429, 5xx, network.
    Transient(String),
    /// Anything else (a 400 we caused, a bug): not retried.
    Other(String),
}

impl Failure {
    /// Sorts a serenity error.
    pub fn of(error: &serenity::Error) -> Failure {
        match error {
            serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
                let status = response.status_code.as_u16();
                let text = format!(
                    "{status} {} (code {})",
                    response.error.message, response.error.code
                );
                match status {
                    404 => Failure::Gone(text),
                    403 => Failure::Forbidden(text),
                    429 | 500..=599 => Failure::Transient(text),
                    _ => Failure::Other(text),
                }
            }
            serenity::Error::Http(HttpError::Request(request)) => {
                Failure::Transient(format!("network: {request}"))
            }
            serenity::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                Failure::Transient(format!("timeout: {io}"))
            }
            other => Failure::Other(other.to_string()),
        }
    }

    /// The human text.
    pub fn text(&self) -> &str {
        match self {
            Failure::Gone(t)
            | Failure::Forbidden(t)
            | Failure::Transient(t)
            | Failure::Other(t) => t,
        }
    }
}

/// Runs `call` until it succeeds, fails for a reason retrying cannot fix, or [`ATTEMPTS`] are spent, waiting with
/// exponential backoff (or Discord's `retry_after`, capped) in between. Each try is cut after `cap`, which also
/// bounds serenity's own unbounded 429 retries in the default mode. Only for calls safe to repeat: reads,
/// idempotent writes, and message sends carrying a nonce with `enforce_nonce`.
pub async fn with_retries<T, F, Fut>(
    what: &str,
    cap: Duration,
    mut call: F,
) -> Result<T, serenity::Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, serenity::Error>>,
{
    let mut backoff = FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        let outcome = match tokio::time::timeout(cap, call()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(timed_out(cap)),
        };
        match outcome {
            Ok(value) => return Ok(value),
            Err(error) => {
                let failure = Failure::of(&error);
                if attempt >= ATTEMPTS || !matches!(failure, Failure::Transient(_)) {
                    return Err(error);
                }
                let wait = retry_after(&error).unwrap_or(backoff).min(MAX_BACKOFF);
                warn!(
                    attempt,
                    wait_ms = wait.as_millis() as u64,
                    "{what} failed ({}); retrying",
                    failure.text()
                );
                tokio::time::sleep(wait).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                attempt += 1;
            }
        }
    }
}

/// A try cut by the cap, as an error that sorts as transient.
fn timed_out(cap: Duration) -> serenity::Error {
    serenity::Error::Io(std::io::Error::new(
        std::io::ErrorKind::TimedOut,
        format!("no answer within {cap:?}"),
    ))
}

/// Discord's `retry_after` of a 429, when the error carries one.
fn retry_after(error: &serenity::Error) -> Option<Duration> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response))
            if response.status_code.as_u16() == 429 =>
        {
            // serenity keeps the JSON message but not the number; Discord's bucket resets within a second or two.
            Some(Duration::from_secs(1))
        }
        _ => None,
    }
}

/// The permissions the bot needs to post a card (and a poll) in a channel, with their names for messages.
pub const CARD_PERMISSIONS: [(Permissions, &str); 3] = [
    (Permissions::VIEW_CHANNEL, "View Channel"),
    (Permissions::SEND_MESSAGES, "Send Messages"),
    (Permissions::EMBED_LINKS, "Embed Links"),
];

/// The names of the permissions in `needed` that `have` lacks.
pub fn missing(have: Permissions, needed: &[(Permissions, &'static str)]) -> Vec<&'static str> {
    if have.contains(Permissions::ADMINISTRATOR) {
        return Vec::new();
    }
    needed
        .iter()
        .filter(|(permission, _)| !have.contains(*permission))
        .map(|(_, name)| *name)
        .collect()
}

/// The bot's permissions in `channel`: from the cache when it holds the server, else asked of Discord (each call
/// capped at `cap`).
pub async fn bot_permissions_in(
    ctx: &Context,
    cap: Duration,
    guild: GuildId,
    channel: ChannelId,
) -> Result<Permissions, Failure> {
    let me = ctx.cache.current_user().id;
    if let Some(permissions) = ctx.cache.guild(guild).and_then(|guild| {
        let channel = guild.channels.get(&channel)?;
        let member = guild.members.get(&me)?;
        Some(guild.user_permissions_in(channel, member))
    }) {
        return Ok(permissions);
    }
    let http = &ctx.http;
    let channel = with_retries("reading a channel", cap, || http.get_channel(channel))
        .await
        .map_err(|e| Failure::of(&e))?
        .guild()
        .ok_or_else(|| Failure::Other("not a server channel".to_owned()))?;
    let guild = with_retries("reading a server", cap, || http.get_guild(guild))
        .await
        .map_err(|e| Failure::of(&e))?;
    let member = with_retries("reading the bot's member", cap, || {
        http.get_member(guild.id, me)
    })
    .await
    .map_err(|e| Failure::of(&e))?;
    Ok(guild.user_permissions_in(&channel, &member))
}

/// A link to a message.
pub fn message_link(guild: u64, channel: u64, message: u64) -> String {
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_permissions_are_named() {
        let have = Permissions::VIEW_CHANNEL | Permissions::SEND_MESSAGES;
        assert_eq!(missing(have, &CARD_PERMISSIONS), vec!["Embed Links"]);
        assert!(missing(Permissions::ADMINISTRATOR, &CARD_PERMISSIONS).is_empty());
    }
}
