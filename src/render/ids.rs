//! The component-id protocol: what a button or menu asks for travels inside its `custom_id`, so buttons keep
//! working after a restart, and the marker by which the bot recognises its own daily post in a channel.

/// What a component's `custom_id` asks for; everything needed travels inside the id, so buttons keep working
/// after a restart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentAction {
    /// "Another scene": a random scene other than this one.
    AnotherScene {
        /// The scene on the card.
        current: String,
    },
    /// A suggestion button: show this scene.
    ShowScene {
        /// The scene to show.
        id: String,
    },
    /// The `/scenes` menu: show the selected scene.
    OpenSelected,
    /// "Another scene" on a post the bot made on its own (a daily post): a private card for whoever clicks, so
    /// nobody can replace the public post for everyone.
    AnotherPrivately {
        /// Which post this is ([`super::posted_scene_card`]'s marker), so the bot can find its own post again.
        marker: String,
        /// The scene on the card.
        current: String,
    },
    /// The button of a special daily post (an anniversary or the birthday): a private card for whoever clicks.
    DayPost {
        /// Which post this is, so the bot can find its own post again (as [`ComponentAction::AnotherPrivately`]).
        marker: String,
        /// The anniversary's scene; `None` (the birthday) for a random scene.
        scene: Option<String>,
    },
    /// A quiz answer button: option `option` of question `question` of round `round`. Only names the click: which
    /// answer is right, and whether the question is still open, is the stored round's to say, never the id's.
    QuizAnswer {
        /// The round (its id in the store).
        round: u64,
        /// The question's position in the round, from 0.
        question: u8,
        /// The option's position in the question, from 0.
        option: u8,
    },
}

const ANOTHER_PREFIX: &str = "scene:another:";
const POSTED_PREFIX: &str = "scene:post:";
const SHOW_PREFIX: &str = "scene:show:";
const DAY_PREFIX: &str = "scene:day:";
const OPEN_SELECTED_ID: &str = "scenes:open";
const QUIZ_ANSWER_PREFIX: &str = "quiz:answer:";

impl ComponentAction {
    /// The `custom_id` that carries this action.
    pub fn custom_id(&self) -> String {
        match self {
            ComponentAction::AnotherScene { current } => format!("{ANOTHER_PREFIX}{current}"),
            ComponentAction::ShowScene { id } => format!("{SHOW_PREFIX}{id}"),
            ComponentAction::OpenSelected => OPEN_SELECTED_ID.to_owned(),
            ComponentAction::AnotherPrivately { marker, current } => {
                format!("{POSTED_PREFIX}{marker}:{current}")
            }
            ComponentAction::DayPost { marker, scene } => {
                format!(
                    "{DAY_PREFIX}{marker}:{}",
                    scene.as_deref().unwrap_or_default()
                )
            }
            ComponentAction::QuizAnswer {
                round,
                question,
                option,
            } => format!("{QUIZ_ANSWER_PREFIX}{round}:{question}:{option}"),
        }
    }

    /// Reads a `custom_id`; `None` for ids this version does not know.
    pub fn parse(custom_id: &str) -> Option<ComponentAction> {
        if let Some(current) = custom_id.strip_prefix(ANOTHER_PREFIX) {
            Some(ComponentAction::AnotherScene {
                current: current.to_owned(),
            })
        } else if let Some(id) = custom_id.strip_prefix(SHOW_PREFIX) {
            Some(ComponentAction::ShowScene { id: id.to_owned() })
        } else if let Some((marker, current)) = custom_id
            .strip_prefix(POSTED_PREFIX)
            .and_then(|rest| rest.split_once(':'))
        {
            Some(ComponentAction::AnotherPrivately {
                marker: marker.to_owned(),
                current: current.to_owned(),
            })
        } else if let Some((marker, scene)) = custom_id
            .strip_prefix(DAY_PREFIX)
            .and_then(|rest| rest.split_once(':'))
        {
            Some(ComponentAction::DayPost {
                marker: marker.to_owned(),
                scene: Some(scene.to_owned()).filter(|id| !id.is_empty()),
            })
        } else if let Some(rest) = custom_id.strip_prefix(QUIZ_ANSWER_PREFIX) {
            parse_quiz_answer(rest)
        } else if custom_id == OPEN_SELECTED_ID {
            Some(ComponentAction::OpenSelected)
        } else {
            None
        }
    }
}

/// Reads `round:question:option` (decimal digits only, so a forged id never parses as something else).
fn parse_quiz_answer(rest: &str) -> Option<ComponentAction> {
    let mut parts = rest.split(':');
    let mut number = || {
        parts
            .next()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    };
    let (round, question, option) = (number()?, number()?, number()?);
    if parts.next().is_some() {
        return None;
    }
    Some(ComponentAction::QuizAnswer {
        round: round.parse().ok()?,
        question: question.parse().ok()?,
        option: option.parse().ok()?,
    })
}

/// The marker of a post made with [`super::posted_scene_card`] or [`super::special_card`], read from one of a
/// message's button `custom_id`s.
pub fn posted_marker(custom_id: &str) -> Option<String> {
    match ComponentAction::parse(custom_id) {
        Some(
            ComponentAction::AnotherPrivately { marker, .. }
            | ComponentAction::DayPost { marker, .. },
        ) => Some(marker),
        _ => None,
    }
}

/// A link to a message.
pub fn message_link(guild: u64, channel: u64, message: u64) -> String {
    format!("https://discord.com/channels/{guild}/{channel}/{message}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn custom_ids_round_trip() {
        for action in [
            ComponentAction::AnotherScene {
                current: "hwarang".into(),
            },
            ComponentAction::ShowScene {
                id: "she-was-pretty".into(),
            },
            ComponentAction::OpenSelected,
            ComponentAction::DayPost {
                marker: "daily-2026-12-16".into(),
                scene: None,
            },
            ComponentAction::DayPost {
                marker: "daily-2027-01-07".into(),
                scene: Some("kill-me-heal-me".into()),
            },
            ComponentAction::QuizAnswer {
                round: u64::MAX,
                question: 9,
                option: 3,
            },
        ] {
            assert_eq!(ComponentAction::parse(&action.custom_id()), Some(action));
        }
        assert_eq!(
            posted_marker("scene:day:daily-2026-12-16:").as_deref(),
            Some("daily-2026-12-16")
        );
        assert_eq!(ComponentAction::parse("poll:vote:1"), None);
        for forged in [
            "quiz:answer:1:2",
            "quiz:answer:1:2:3:4",
            "quiz:answer:-1:0:0",
            "quiz:answer:1:0:+1",
            "quiz:answer:1:256:0",
            "quiz:answer:18446744073709551616:0:0",
            "quiz:answer::0:0",
        ] {
            assert_eq!(ComponentAction::parse(forged), None, "{forged}");
        }
    }
}
