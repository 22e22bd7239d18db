//! Talking to Discord safely: bounded retries with backoff for what is safe to repeat, failures sorted into what
//! they mean for us, and the bot's own permissions in a channel.

use std::future::Future;
use std::time::Duration;

use serenity::all::{ChannelId, Context, GetMessages, HttpError, Message, MessageId};
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

    /// What users are told about it.
    pub fn for_users(&self) -> crate::locale::PostFailure {
        use crate::locale::PostFailure;
        match self {
            Failure::Gone(_) => PostFailure::Gone,
            Failure::Forbidden(_) => PostFailure::NoAccess,
            Failure::Transient(_) => PostFailure::Busy,
            Failure::Other(_) => PostFailure::Refused,
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

/// How many pages of 100 recent messages [`find_own_message`] reads at most.
const SEARCH_PAGES: usize = 3;

/// The newest message of the bot's in `channel` that `is_ours` recognises, among the 300 most recent. Called before
/// any resend of a post whose first send may have reached Discord: `enforce_nonce` de-duplicates for a few minutes
/// only, so after a crash and a long restart only the channel itself can say whether the post is already there.
/// Needs Read Message History (without it Discord answers with no messages).
pub async fn find_own_message(
    ctx: &Context,
    cap: Duration,
    channel: ChannelId,
    is_ours: impl Fn(&Message) -> bool,
) -> Result<Option<Message>, Failure> {
    let me = ctx.cache.current_user().id;
    let mut before: Option<MessageId> = None;
    for _ in 0..SEARCH_PAGES {
        let page = with_retries("reading the channel's recent messages", cap, || {
            let mut request = GetMessages::new().limit(100);
            if let Some(before) = before {
                request = request.before(before);
            }
            channel.messages(&ctx.http, request)
        })
        .await
        .map_err(|e| Failure::of(&e))?;
        if let Some(found) = page.iter().find(|m| m.author.id == me && is_ours(m)) {
            return Ok(Some(found.clone()));
        }
        match page.iter().map(|m| m.id).min() {
            Some(oldest) if page.len() == 100 => before = Some(oldest),
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// A link to a message.
pub fn message_link(guild: u64, channel: u64, message: u64) -> String {
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}
