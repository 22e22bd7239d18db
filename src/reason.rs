//! Why something did not happen, in one vocabulary for both features: what a failed Discord call means for us
//! ([`Failure`]), why a poll was given up ([`CancelReason`]), why a post could not be sent ([`PostFailure`]) and
//! how a post's thread went ([`ThreadNote`]). The last three are stored as stable codes and told in the reader's language by [`crate::locale`]; the precise
//! cause (a [`Failure`]'s text) goes to the log only.

/// What a failed Discord call means for us.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The thing is gone (404: unknown channel 10003, unknown message 10008, …).
    Gone(String),
    /// We may not (403: missing access 50001, missing permissions 50013).
    Forbidden(String),
    /// Worth trying again later: 429, 5xx, network.
    Transient(String),
    /// The channel cannot be read (View Channel or Read Message History lost), so whether the bot's message is
    /// there is unknown: never "not there" (that would send it twice). Looked at again later; when the work is given
    /// up at last, the cause users see is missing access.
    Unreadable(String),
    /// Anything else (a 400 we caused, a bug): not retried.
    Other(String),
}

impl Failure {
    /// What users are told about it when a post failed.
    pub fn for_users(&self) -> PostFailure {
        match self {
            Failure::Gone(_) => PostFailure::Gone,
            Failure::Forbidden(_) | Failure::Unreadable(_) => PostFailure::NoAccess,
            Failure::Transient(_) => PostFailure::Busy,
            Failure::Other(_) => PostFailure::Refused,
        }
    }

    /// Why a poll is given up for it. Only failures retrying cannot fix cancel a poll; a transient one is kept
    /// (and would read as Discord refusing).
    pub fn cancel_reason(&self) -> CancelReason {
        match self {
            Failure::Gone(_) => CancelReason::Deleted,
            Failure::Forbidden(_) | Failure::Unreadable(_) => CancelReason::NoAccess,
            Failure::Transient(_) | Failure::Other(_) => CancelReason::Refused,
        }
    }

    /// The human text (tokens redacted).
    pub fn text(&self) -> &str {
        match self {
            Failure::Gone(t)
            | Failure::Forbidden(t)
            | Failure::Transient(t)
            | Failure::Unreadable(t)
            | Failure::Other(t) => t,
        }
    }

    /// Whether trying again later may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, Failure::Transient(_))
    }

    /// Whether the work should be looked at again later rather than given up: Discord failed for now, or whether
    /// our message is already there cannot be told yet.
    pub fn is_worth_retrying(&self) -> bool {
        matches!(self, Failure::Transient(_) | Failure::Unreadable(_))
    }
}

/// Why a poll was given up, kept with it (as [`CancelReason::code`]) and shown by `/favorite results` in the
/// reader's language; the precise cause goes to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelReason {
    /// The poll message or its channel was deleted.
    Deleted,
    /// The bot lost access or permissions in the channel.
    NoAccess,
    /// Discord refused a request for another reason.
    Refused,
    /// Discord did not take the poll within an hour.
    NotPosted,
    /// Discord never returned the counts of the closed poll.
    NoResults,
    /// The results could not be posted within an hour of the poll's end: the server is free to start another.
    NotAnnounced,
}

impl CancelReason {
    /// The stable code kept in the database.
    pub fn code(self) -> &'static str {
        match self {
            CancelReason::Deleted => "deleted",
            CancelReason::NoAccess => "no-access",
            CancelReason::Refused => "refused",
            CancelReason::NotPosted => "not-posted",
            CancelReason::NoResults => "no-results",
            CancelReason::NotAnnounced => "not-announced",
        }
    }

    /// Reads a kept code; older versions kept English sentences, which read as [`CancelReason::Refused`] unless
    /// they say what happened.
    pub fn parse(kept: &str) -> CancelReason {
        [
            CancelReason::Deleted,
            CancelReason::NoAccess,
            CancelReason::Refused,
            CancelReason::NotPosted,
            CancelReason::NoResults,
            CancelReason::NotAnnounced,
        ]
        .into_iter()
        .find(|reason| reason.code() == kept)
        .unwrap_or(if kept.contains("deleted") {
            CancelReason::Deleted
        } else if kept.contains("access") {
            CancelReason::NoAccess
        } else {
            CancelReason::Refused
        })
    }
}

/// Why a post could not be sent, as users are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PostFailure {
    /// Discord failed or did not answer: worth trying again.
    Busy,
    /// The bot lacks access or permissions in the channel.
    NoAccess,
    /// The channel is gone.
    Gone,
    /// Discord refused the message for another reason.
    Refused,
}

impl PostFailure {
    /// The stable code kept in the database.
    pub fn code(self) -> &'static str {
        match self {
            PostFailure::Busy => "busy",
            PostFailure::NoAccess => "no-access",
            PostFailure::Gone => "gone",
            PostFailure::Refused => "refused",
        }
    }

    /// Reads a kept code; older versions kept English sentences, read by what they say.
    pub fn parse(kept: &str) -> PostFailure {
        match kept {
            "busy" => PostFailure::Busy,
            "no-access" => PostFailure::NoAccess,
            "gone" => PostFailure::Gone,
            "refused" => PostFailure::Refused,
            _ if kept.contains("gone") || kept.contains("deleted") => PostFailure::Gone,
            _ if kept.contains("access") || kept.contains("permission") => PostFailure::NoAccess,
            _ if kept.contains("6 hours") => PostFailure::Busy,
            _ => PostFailure::Refused,
        }
    }
}

/// How the thread on a post (a daily post, a poll's results) went, stored as a code: `/daily status` says why one
/// was skipped, and what to grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThreadNote {
    /// The thread is open (made now, or found already made: Discord allows one per message).
    Opened,
    /// The bot lacks Create Public Threads in the channel (checked before trying: no 403 is spent on it).
    NoPermission,
    /// Discord refused it for another reason, or the channel cannot have threads (the post is itself in a thread).
    Failed,
}

impl ThreadNote {
    /// The stable code kept in the database.
    pub fn code(self) -> &'static str {
        match self {
            ThreadNote::Opened => "opened",
            ThreadNote::NoPermission => "no-permission",
            ThreadNote::Failed => "failed",
        }
    }

    /// Reads a kept code (an unknown one, only a newer build writes, as failed).
    pub fn parse(kept: &str) -> ThreadNote {
        match kept {
            "opened" => ThreadNote::Opened,
            "no-permission" => ThreadNote::NoPermission,
            _ => ThreadNote::Failed,
        }
    }
}
