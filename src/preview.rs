//! `scenebot preview`: a command line as a user would type it in Discord, and the exact response the bot would send,
//! as JSON or as readable text. No token, no network.

use serde_json::Value;

use crate::respond::Command;

/// Why a preview line could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// The line does not start with `/`.
    #[error("a command starts with '/', like \"/scene drama:hwarang\"")]
    NoSlash,
    /// The command is not one of ours.
    #[error(
        "unknown command \"/{0}\"; try /scene, /scenes, /seealso, /about, /anniversaries, /quiz start or /daily (with --date)"
    )]
    UnknownCommand(String),
    /// A command with subcommands, without one of them.
    #[error("/{command} needs a subcommand: {expected}")]
    UnknownSubcommand {
        /// The command.
        command: String,
        /// Its subcommands.
        expected: String,
    },
    /// An option whose value the command does not take.
    #[error("/{command} {option}:{value} is not allowed; {option} takes {expected}")]
    BadValue {
        /// The command.
        command: String,
        /// The option.
        option: String,
        /// The value typed.
        value: String,
        /// What it takes.
        expected: String,
    },
    /// The command has no such option.
    #[error("/{command} has no option \"{option}\"{hint}")]
    UnknownOption {
        /// The command.
        command: String,
        /// The option typed.
        option: String,
        /// The options it does have.
        hint: String,
    },
    /// Text that belongs to no option.
    #[error("\"{0}\" is not an option; write options as name:value, like drama:hwarang")]
    StrayText(String),
}

/// What a preview line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line {
    /// A slash command the core answers.
    Command(Command),
    /// `/daily`: the post the daily feature makes on a local date (`--date`): an anniversary card, the birthday
    /// card, or an ordinary day's scene; so anyone can see the special cards on any day.
    DailyPost,
}

/// Reads a preview line: `/daily` alone, or a command as [`parse_command_line`] reads it.
pub fn parse_line(line: &str) -> Result<Line, ParseError> {
    if line.trim().eq_ignore_ascii_case("/daily") {
        return Ok(Line::DailyPost);
    }
    parse_command_line(line).map(Line::Command)
}

/// The commands that take a subcommand, and theirs: `/quiz start`.
const SUBCOMMANDS: &[(&str, &[&str])] = &[("quiz", &["start"])];

/// Reads `/scene drama:kill me heal me` (an option's value runs until the next `name:`) and `/quiz start
/// questions:3` (a subcommand first).
pub fn parse_command_line(line: &str) -> Result<Command, ParseError> {
    let line = line.trim();
    let rest = line.strip_prefix('/').ok_or(ParseError::NoSlash)?;
    let mut words = rest.split_whitespace();
    let mut name = words.next().unwrap_or_default().to_lowercase();
    if let Some((_, subcommands)) = SUBCOMMANDS.iter().find(|(command, _)| *command == name) {
        match words.next().map(str::to_lowercase) {
            Some(sub) if subcommands.contains(&sub.as_str()) => name = format!("{name} {sub}"),
            _ => {
                return Err(ParseError::UnknownSubcommand {
                    command: name,
                    expected: subcommands.join(", "),
                })
            }
        }
    }
    let mut options: Vec<(String, String)> = Vec::new();
    for word in words {
        match word.split_once(':') {
            Some((key, value)) if is_option_name(key) => {
                options.push((key.to_lowercase(), value.to_owned()))
            }
            _ => match options.last_mut() {
                Some((_, value)) => {
                    if !value.is_empty() {
                        value.push(' ');
                    }
                    value.push_str(word);
                }
                None => return Err(ParseError::StrayText(word.to_owned())),
            },
        }
    }
    let allowed: &[&str] = match name.as_str() {
        "scene" => &["drama"],
        "scenes" | "seealso" | "about" | "anniversaries" => &[],
        "quiz start" => &["questions"],
        _ => return Err(ParseError::UnknownCommand(name)),
    };
    if let Some((option, _)) = options
        .iter()
        .find(|(key, _)| !allowed.contains(&key.as_str()))
    {
        return Err(ParseError::UnknownOption {
            command: name.clone(),
            option: option.clone(),
            hint: if allowed.is_empty() {
                " (it takes none)".to_owned()
            } else {
                format!(" (it takes: {})", allowed.join(", "))
            },
        });
    }
    let value_of = |option: &str| {
        options
            .iter()
            .find(|(key, _)| key == option)
            .map(|(_, value)| value.clone())
    };
    Ok(match name.as_str() {
        "quiz start" => Command::QuizStart {
            questions: value_of("questions")
                .map(|value| {
                    value
                        .parse::<u8>()
                        .ok()
                        .filter(|n| (1..=crate::quiz::MAX_QUESTIONS).contains(&usize::from(*n)))
                        .ok_or(ParseError::BadValue {
                            command: name.clone(),
                            option: "questions".to_owned(),
                            value,
                            expected: format!("a number from 1 to {}", crate::quiz::MAX_QUESTIONS),
                        })
                })
                .transpose()?,
        },
        "scene" => Command::Scene {
            drama: value_of("drama"),
        },
        "scenes" => Command::Scenes,
        "seealso" => Command::SeeAlso,
        // The time is filled in by the caller (now, or `--date`): parsing stays pure.
        "anniversaries" => Command::Anniversaries(crate::respond::AnniversariesFrom {
            now: 0,
            schedule: None,
        }),
        _ => Command::About,
    })
}

fn is_option_name(key: &str) -> bool {
    !key.is_empty()
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// A readable rendering of an interaction response's JSON: what a user would see.
pub fn as_text(response: &Value) -> String {
    let mut out = Vec::new();
    let data = &response["data"];
    let kind = match response["type"].as_u64() {
        Some(4) => "reply",
        Some(7) => "update of the card",
        Some(8) => "autocomplete",
        // A message the bot posts on its own (`/daily`), not an answer to an interaction.
        None => "post in the channel",
        _ => "response",
    };
    let visibility = if data["flags"].as_u64().is_some_and(|f| f & 64 != 0) {
        " (only the user sees it)"
    } else {
        ""
    };
    out.push(format!("[{kind}{visibility}]"));
    if let Some(content) = data["content"].as_str() {
        out.push(content.to_owned());
    }
    for embed in data["embeds"].as_array().into_iter().flatten() {
        out.push(String::new());
        if let Some(author) = embed["author"]["name"].as_str() {
            out.push(author.to_owned());
        }
        if let Some(title) = embed["title"].as_str() {
            out.push(format!("# {title}"));
        }
        if let Some(url) = embed["url"].as_str() {
            out.push(format!("  <{url}>"));
        }
        if let Some(description) = embed["description"].as_str() {
            out.push(description.to_owned());
        }
        for field in embed["fields"].as_array().into_iter().flatten() {
            out.push(format!(
                "\n## {}\n{}",
                field["name"].as_str().unwrap_or_default(),
                field["value"].as_str().unwrap_or_default()
            ));
        }
        if let Some(footer) = embed["footer"]["text"].as_str() {
            out.push(format!("\n— {footer}"));
        }
    }
    for row in data["components"].as_array().into_iter().flatten() {
        let mut parts = Vec::new();
        for component in row["components"].as_array().into_iter().flatten() {
            let emoji = component["emoji"]["name"]
                .as_str()
                .map(|e| format!("{e} "))
                .unwrap_or_default();
            let label = component["label"].as_str().unwrap_or_default();
            match (component["type"].as_u64(), component["url"].as_str()) {
                (Some(2), Some(url)) => parts.push(format!("[{emoji}{label} ↗ {url}]")),
                (Some(2), None) => parts.push(format!("[{emoji}{label}]")),
                (Some(3), _) => {
                    let options: Vec<String> = component["options"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|o| {
                            format!(
                                "{} {}",
                                o["emoji"]["name"].as_str().unwrap_or_default(),
                                o["label"].as_str().unwrap_or_default()
                            )
                        })
                        .collect();
                    parts.push(format!(
                        "[menu: {} ▾ {}]",
                        component["placeholder"].as_str().unwrap_or_default(),
                        options.join(" | ")
                    ));
                }
                _ => {}
            }
        }
        out.push(format!("\n{}", parts.join(" ")));
    }
    for choice in data["choices"].as_array().into_iter().flatten() {
        out.push(format!(
            "• {} → {}",
            choice["name"].as_str().unwrap_or_default(),
            choice["value"].as_str().unwrap_or_default()
        ));
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_lines_parse_like_discord_reads_them() {
        assert_eq!(
            parse_command_line("/scene"),
            Ok(Command::Scene { drama: None })
        );
        assert_eq!(
            parse_command_line("/scene drama:kill me heal me"),
            Ok(Command::Scene {
                drama: Some("kill me heal me".into())
            })
        );
        assert_eq!(
            parse_command_line("  /Scene   drama:화랑 "),
            Ok(Command::Scene {
                drama: Some("화랑".into())
            })
        );
        assert_eq!(parse_command_line("/scenes"), Ok(Command::Scenes));
        assert_eq!(parse_command_line("/seealso"), Ok(Command::SeeAlso));
        assert_eq!(parse_command_line("/about"), Ok(Command::About));
        assert_eq!(
            parse_command_line("/quiz start"),
            Ok(Command::QuizStart { questions: None })
        );
        assert_eq!(
            parse_command_line("/Quiz Start questions:10"),
            Ok(Command::QuizStart {
                questions: Some(10)
            })
        );
    }

    #[test]
    fn daily_is_a_preview_of_the_days_post() {
        assert_eq!(parse_line(" /Daily "), Ok(Line::DailyPost));
        assert_eq!(parse_line("/about"), Ok(Line::Command(Command::About)));
        assert!(
            parse_line("/daily now").is_err(),
            "the bot's /daily subcommands are not previews"
        );
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        assert_eq!(parse_command_line("scene"), Err(ParseError::NoSlash));
        assert!(matches!(
            parse_command_line("/dance"),
            Err(ParseError::UnknownCommand(_))
        ));
        assert!(matches!(
            parse_command_line("/scene title:x"),
            Err(ParseError::UnknownOption { .. })
        ));
        assert!(matches!(
            parse_command_line("/about drama:x"),
            Err(ParseError::UnknownOption { .. })
        ));
        assert!(matches!(
            parse_command_line("/scene hwarang"),
            Err(ParseError::StrayText(_))
        ));
        for line in ["/quiz", "/quiz begin"] {
            assert!(
                matches!(
                    parse_command_line(line),
                    Err(ParseError::UnknownSubcommand { .. })
                ),
                "{line}"
            );
        }
        for count in ["0", "11", "five", "-1"] {
            assert!(
                matches!(
                    parse_command_line(&format!("/quiz start questions:{count}")),
                    Err(ParseError::BadValue { .. })
                ),
                "{count}"
            );
        }
        assert!(matches!(
            parse_command_line("/quiz start drama:x"),
            Err(ParseError::UnknownOption { .. })
        ));
    }
}
