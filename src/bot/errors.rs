//! What a serenity error is, read once ([`classify`]): the failure kind every retry decision reads
//! ([`Failure::of`]), the metric's `status` label, Discord's code; and the log-safe text of any error, interaction
//! tokens redacted ([`describe`], [`redact`]).

use serenity::all::HttpError;

pub use crate::reason::Failure;

/// What a serenity error is, read once: the one place that knows serenity's error shapes. The failure kind (and so
/// the retry decision), the metric's `status` label, Discord's code, the 429 reading and the start-up text all
/// derive from it.
#[derive(Debug, Clone, Copy)]
pub enum Classified<'a> {
    /// Discord (or the proxy) answered with an error status.
    Refused(&'a serenity::all::ErrorResponse),
    /// No answer: the connection failed (DNS, refused, reset, TLS).
    Network(&'a reqwest::Error),
    /// No answer within the cap.
    Timeout,
    /// A success whose body did not decode: the request may well have gone through.
    Unreadable,
    /// Anything else serenity reports.
    Other,
}

impl Classified<'_> {
    /// The HTTP status of a refusal.
    pub fn status(self) -> Option<u16> {
        match self {
            Classified::Refused(response) => Some(response.status_code.as_u16()),
            _ => None,
        }
    }
}

/// Reads a serenity error ([`Classified`]).
pub fn classify(error: &serenity::Error) -> Classified<'_> {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            Classified::Refused(response)
        }
        serenity::Error::Http(HttpError::Request(request)) => Classified::Network(request),
        serenity::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => Classified::Timeout,
        serenity::Error::Json(_) => Classified::Unreadable,
        _ => Classified::Other,
    }
}

impl Failure {
    /// Sorts a serenity error. The text is precise (status, Discord's code, the route, the network cause) and has
    /// interaction tokens redacted, so it is safe for any log line.
    pub fn of(error: &serenity::Error) -> Failure {
        match classify(error) {
            Classified::Refused(response) => {
                let status = response.status_code.as_u16();
                let text = if status == 429 {
                    // Discord's 429 body has no `code`, so serenity's reading of it is a decoding complaint that
                    // says nothing: the status is the whole story.
                    redact(&format!(
                        "429 rate limited on {} {}",
                        response.method,
                        path_of(&response.url)
                    ))
                } else {
                    redact(&format!(
                        "{status} {} (code {}) on {} {}",
                        response.error.message,
                        response.error.code,
                        response.method,
                        path_of(&response.url)
                    ))
                };
                match status {
                    404 => Failure::Gone(text),
                    403 => Failure::Forbidden(text),
                    429 | 500..=599 => Failure::Transient(text),
                    _ => Failure::Other(text),
                }
            }
            Classified::Network(request) => {
                Failure::Transient(redact(&format!("network: {}", with_causes(request))))
            }
            Classified::Timeout => Failure::Transient(format!("timeout: {error}")),
            // A success whose body does not decode: the request may well have gone through, so it is unknown, not
            // refused: look before sending again.
            Classified::Unreadable => Failure::Transient(format!(
                "Discord's answer could not be read (the request may have succeeded): {error}"
            )),
            Classified::Other => Failure::Other(redact(&with_causes(error))),
        }
    }
}

/// One log-safe line for any error a handler returns: a serenity error as [`Failure`] sorts it, anything else with
/// its causes; interaction tokens redacted either way.
pub fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    match error.downcast_ref::<serenity::Error>() {
        Some(serenity) => Failure::of(serenity).text().to_owned(),
        None => redact(&with_causes(error)),
    }
}

/// An error's text followed by its causes (reqwest keeps "timed out" or "connection refused" in its sources).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    // Bounded: error chains are short, but a cycle must not hang a log line.
    for _ in 0..8 {
        let Some(cause) = source else { break };
        let cause_text = cause.to_string();
        if !text.contains(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

/// The path (and query) of a URL, without the scheme and host: the part that says which call failed.
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").map_or(url, |(_, rest)| rest);
    after_scheme
        .find('/')
        .map_or(after_scheme, |slash| &after_scheme[slash..])
}

/// What replaces an interaction token in logs.
pub const REDACTED: &str = "<redacted>";

/// `text` with every interaction token replaced by [`REDACTED`]. Interaction tokens travel in URL paths:
/// `/interactions/{id}/{token}/callback` and `/webhooks/{application_id}/{token}/…`; whoever holds one can answer
/// as the bot for 15 minutes, so reqwest's error URLs must not reach a log as they are.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    loop {
        let next = ["/interactions/", "/webhooks/"]
            .iter()
            .filter_map(|marker| rest.find(marker).map(|at| (at, marker.len())))
            .min();
        let Some((at, marker_len)) = next else {
            out.push_str(rest);
            return out;
        };
        let after_marker = at + marker_len;
        out.push_str(&rest[..after_marker]);
        rest = &rest[after_marker..];
        // The id segment, then the token segment up to the next separator.
        let is_end = |c: char| matches!(c, '/' | '?' | '#' | ')' | '"' | '\'') || c.is_whitespace();
        let id_len = rest.find(is_end).unwrap_or(rest.len());
        if id_len == 0 || !rest[..id_len].bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        out.push_str(&rest[..id_len]);
        rest = &rest[id_len..];
        if let Some(after_slash) = rest.strip_prefix('/') {
            let token_len = after_slash.find(is_end).unwrap_or(after_slash.len());
            if token_len > 0 {
                out.push('/');
                out.push_str(REDACTED);
                rest = &after_slash[token_len..];
            }
        }
    }
}

/// Discord's JSON error code (`code` in the body of a refusal), for an error that has one: 160004 is "a thread
/// has already been created for this message".
pub fn discord_code(error: &serenity::Error) -> Option<isize> {
    match classify(error) {
        Classified::Refused(response) => Some(response.error.code),
        _ => None,
    }
}

/// The `status` label of a call's outcome: the HTTP status of a refusal, `2xx` for a success (serenity does not
/// keep which), else what went wrong (`timeout`, `network`, `unreadable`, `other`). A bounded set.
pub fn status_of<T>(outcome: &Result<T, serenity::Error>) -> String {
    let text = match outcome.as_ref().map_err(classify) {
        Ok(_) => "2xx",
        Err(Classified::Refused(response)) => return response.status_code.as_u16().to_string(),
        Err(Classified::Network(_)) => "network",
        Err(Classified::Timeout) => "timeout",
        Err(Classified::Unreadable) => "unreadable",
        Err(Classified::Other) => "other",
    };
    text.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interaction_tokens_are_redacted() {
        let token = "aW50ZXJhY3Rpb246MTIzNDU2Nzg5OmFiY2RlZg";
        let cases = [
            (
                format!("error sending request for url (http://127.0.0.1:9/api/v10/interactions/123/{token}/callback)"),
                "error sending request for url (http://127.0.0.1:9/api/v10/interactions/123/<redacted>/callback)",
            ),
            (
                format!("500 oops (code 0) on POST /api/v10/webhooks/42/{token}"),
                "500 oops (code 0) on POST /api/v10/webhooks/42/<redacted>",
            ),
            (
                format!("/webhooks/42/{token}/messages/@original?wait=true and /interactions/7/{token}"),
                "/webhooks/42/<redacted>/messages/@original?wait=true and /interactions/7/<redacted>",
            ),
            // Not an interaction route: left alone.
            ("/channels/1/webhooks".to_owned(), "/channels/1/webhooks"),
            ("/webhooks/abc/def".to_owned(), "/webhooks/abc/def"),
        ];
        for (text, expected) in cases {
            assert_eq!(redact(&text), expected);
        }
    }

    /// Discord's documented 429 body has no `code`: it is read as a rate limit on its route, not as an answer that
    /// could not be decoded.
    #[tokio::test]
    async fn a_429_without_a_code_reads_as_a_rate_limit() {
        let body =
            r#"{"message": "You are being rate limited.", "retry_after": 64.57, "global": false}"#;
        let answer = hyper::Response::builder()
            .status(429)
            .body(body.to_owned())
            .map(reqwest::Response::from)
            .unwrap_or_else(|e| panic!("{e}"));
        let response =
            serenity::all::ErrorResponse::from_response(answer, reqwest::Method::POST).await;
        let failure = Failure::of(&serenity::Error::Http(HttpError::UnsuccessfulRequest(
            response,
        )));
        assert!(matches!(failure, Failure::Transient(_)), "{failure:?}");
        assert!(
            failure.text().starts_with("429 rate limited on POST"),
            "{}",
            failure.text()
        );
        assert!(!failure.text().contains("decode"), "{}", failure.text());
    }

    #[test]
    fn a_url_is_named_by_its_path() {
        assert_eq!(
            path_of("http://127.0.0.1:9/api/v10/users/@me"),
            "/api/v10/users/@me"
        );
        assert_eq!(path_of("https://discord.com"), "discord.com");
    }
}
