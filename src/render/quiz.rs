//! The quiz as Discord receives it: a question with its answer buttons and its closing time, the same message once
//! revealed (the right answer, the counts, who was first, the buttons disabled, a button to the answer's scene), and
//! the round's scores.
//!
//! Players appear only as `<@id>` mentions inside embeds, which never ping; no text a player typed is shown, and
//! every message mentions nobody ([`super::no_mentions`]).

use serenity::all::{ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedAuthor};
use serenity::all::{CreateEmbedFooter, ReactionType};

use super::{localized_title, Card, ComponentAction};
use crate::catalog::Catalog;
use crate::limits::{self, clamp};
use crate::locale::Locale;
use crate::quiz::{Question, Reveal, Score};

/// Where a question sits in its round, and when its answers close: what its message shows besides the question.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Slot {
    /// The round's id (carried by the answer buttons).
    pub round: u64,
    /// The question's position in the round, from 0.
    pub index: usize,
    /// Questions in the round.
    pub total: usize,
    /// When answers close, in unix seconds (shown as a Discord relative timestamp).
    pub closes_at: i64,
}

/// The most players the scores list by name; the rest are counted (a round of a busy server stays one embed).
pub const SCORES_LISTED: usize = 25;

/// A question open for answers: its wording, when answers close, and one button per option. `None` when the
/// dataset no longer has one of its scenes.
pub fn question_card(
    catalog: &Catalog,
    question: &Question,
    slot: Slot,
    locale: Locale,
) -> Option<Card> {
    let prompt = question.prompt(catalog, locale)?;
    let description = format!("{prompt}\n\n{}", locale.quiz_closes(slot.closes_at));
    let buttons = answer_buttons(catalog, question, slot, locale, None)?;
    Some(Card {
        embeds: vec![question_embed(slot, &description, locale)],
        components: vec![CreateActionRow::Buttons(buttons)],
    })
}

/// The question once its answers are closed: the right answer marked, every button disabled, the counts, who was
/// first right, and a button that opens the answer's scene card (privately, for whoever clicks).
pub fn revealed_card(
    catalog: &Catalog,
    question: &Question,
    slot: Slot,
    reveal: &Reveal,
    locale: Locale,
) -> Option<Card> {
    let strings = locale.quiz_strings();
    let scene = question.scene(catalog)?;
    let prompt = question.prompt(catalog, locale)?;
    let labels = question.labels(catalog, locale)?;
    let right = locale.quiz_option(question.answer, labels.get(question.answer)?);
    let description = format!("{prompt}\n\n{}", strings.closed);
    let embed = question_embed(slot, &description, locale)
        .color(scene.color_value())
        .field(
            strings.right_answer,
            clamp(&format!("✅ {right}"), limits::EMBED_FIELD_VALUE),
            false,
        )
        .field(
            strings.answers,
            locale.quiz_tally(reveal.answered, reveal.right_count),
            true,
        )
        .field(
            strings.first_right,
            locale.quiz_first_right(reveal.first_right),
            true,
        );
    let buttons = answer_buttons(catalog, question, slot, locale, Some(question.answer))?;
    let open_scene = CreateButton::new(
        ComponentAction::ShowScene {
            id: scene.id.clone(),
        }
        .custom_id(),
    )
    .label(clamp(
        &format!("{}: {}", strings.open_scene, localized_title(scene, locale)),
        limits::BUTTON_LABEL,
    ))
    .emoji(ReactionType::Unicode(scene.emoji.clone()))
    .style(ButtonStyle::Primary);
    Some(Card {
        embeds: vec![embed],
        components: vec![
            CreateActionRow::Buttons(buttons),
            CreateActionRow::Buttons(vec![open_scene]),
        ],
    })
}

/// The round's scores, best first, with the scoring rule in the footer; `stopped` says it ended early.
pub fn scores_card(scores: &[Score], locale: Locale, stopped: bool) -> Card {
    let strings = locale.quiz_strings();
    let mut lines: Vec<String> = scores
        .iter()
        .take(SCORES_LISTED)
        .map(|score| {
            format!(
                "**{}.** <@{}> · {}",
                score.rank,
                score.user,
                locale.quiz_points(score.points, score.right, score.first)
            )
        })
        .collect();
    if scores.len() > SCORES_LISTED {
        lines.push(format!("… +{}", scores.len() - SCORES_LISTED));
    }
    if scores.iter().all(|score| score.points == 0) {
        lines.insert(0, strings.no_scores.to_owned());
    }
    if stopped {
        lines.insert(0, format!("*{}*", strings.stopped));
    }
    let embed = CreateEmbed::new()
        .author(CreateEmbedAuthor::new(strings.title))
        .title(strings.scores_title)
        .description(clamp(&lines.join("\n"), limits::EMBED_DESCRIPTION))
        .footer(CreateEmbedFooter::new(strings.rules));
    Card {
        embeds: vec![embed],
        components: Vec::new(),
    }
}

/// A server's all-time board: the top players, the asker's own place when they are not among them, and the
/// rounds played.
pub fn leaderboard_card(board: &crate::store::Board, locale: Locale) -> Card {
    let strings = locale.quiz_strings();
    let line = |row: &crate::store::BoardRow| {
        locale.quiz_board_line(row.place, row.user, row.points, row.right, row.firsts)
    };
    let mut lines: Vec<String> = board.top.iter().map(line).collect();
    if lines.is_empty() {
        lines.push(strings.board_empty.to_owned());
    }
    if let Some(me) = board.me {
        lines.push(String::new());
        lines.push(locale.quiz_your_place(me.place, me.points, me.rounds));
    }
    let embed = CreateEmbed::new()
        .author(CreateEmbedAuthor::new(strings.title))
        .title(strings.board_title)
        .description(clamp(&lines.join("\n"), limits::EMBED_DESCRIPTION))
        .footer(CreateEmbedFooter::new(format!(
            "{} · {}",
            locale.quiz_rounds_played(board.rounds),
            strings.rules
        )));
    Card {
        embeds: vec![embed],
        components: Vec::new(),
    }
}

/// The embed every form of a question shares: the quiz, "Question n of m", and `description`.
fn question_embed(slot: Slot, description: &str, locale: Locale) -> CreateEmbed {
    CreateEmbed::new()
        .author(CreateEmbedAuthor::new(locale.quiz_strings().title))
        .title(format!(
            "❓ {}",
            locale.quiz_header(slot.index + 1, slot.total)
        ))
        .description(clamp(description, limits::EMBED_DESCRIPTION))
}

/// One button per option, its id naming round, question and option; with `revealed`, all disabled and the right
/// one marked.
fn answer_buttons(
    catalog: &Catalog,
    question: &Question,
    slot: Slot,
    locale: Locale,
    revealed: Option<usize>,
) -> Option<Vec<CreateButton>> {
    let question_index = u8::try_from(slot.index).ok()?;
    let labels = question.labels(catalog, locale)?;
    labels
        .iter()
        .enumerate()
        .map(|(index, label)| {
            let id = ComponentAction::QuizAnswer {
                round: slot.round,
                question: question_index,
                option: u8::try_from(index).ok()?,
            };
            let button = CreateButton::new(id.custom_id()).label(clamp(
                &locale.quiz_option(index, label),
                limits::BUTTON_LABEL,
            ));
            Some(match revealed {
                None => button.style(ButtonStyle::Secondary),
                Some(right) if right == index => button
                    .style(ButtonStyle::Success)
                    .emoji(ReactionType::Unicode("✅".to_owned()))
                    .disabled(true),
                Some(_) => button.style(ButtonStyle::Secondary).disabled(true),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use serde_json::{json, Value};

    use super::*;
    use crate::quiz::{draw, round_scores, Answer, Kind, Tally, MAX_QUESTIONS};
    use crate::render::tests::assert_within_limits;

    fn catalog() -> Catalog {
        Catalog::bundled().unwrap_or_else(|e| panic!("{e}"))
    }

    fn json(card: Option<Card>) -> Value {
        let Some(card) = card else {
            panic!("no card");
        };
        serde_json::to_value(card.into_interaction_message()).unwrap_or_default()
    }

    const SLOT: Slot = Slot {
        round: u64::MAX,
        index: 9,
        total: 10,
        closes_at: 1_800_000_020,
    };

    /// Kill Me, Heal Me's network, options in a known order.
    fn network_question() -> Question {
        Question {
            kind: Kind::Network,
            scene: "kill-me-heal-me".into(),
            options: vec![
                "hwarang".into(),
                "kill-me-heal-me".into(),
                "secretary-kim".into(),
            ],
            answer: 1,
        }
    }

    #[test]
    fn a_question_is_an_embed_a_countdown_and_a_button_per_option() {
        let catalog = catalog();
        let message = json(question_card(
            &catalog,
            &network_question(),
            SLOT,
            Locale::En,
        ));
        assert_eq!(
            message["embeds"][0],
            json!({
                "author": {"name": "Park Seo-joon quiz"},
                "title": "❓ Question 10 of 10",
                "description": "Which network aired *Kill Me, Heal Me*?\n\n⏱️ Answers close <t:1800000020:R>",
                "type": "rich",
            })
        );
        let id = |option: u8| format!("quiz:answer:18446744073709551615:9:{option}");
        assert_eq!(
            message["components"],
            json!([{"type": 1, "components": [
                {"type": 2, "style": 2, "label": "A · KBS2", "disabled": false, "custom_id": id(0)},
                {"type": 2, "style": 2, "label": "B · MBC", "disabled": false, "custom_id": id(1)},
                {"type": 2, "style": 2, "label": "C · tvN", "disabled": false, "custom_id": id(2)},
            ]}])
        );
        assert_eq!(message["allowed_mentions"]["parse"], json!([]));
        let korean = json(question_card(
            &catalog,
            &network_question(),
            SLOT,
            Locale::Ko,
        ));
        assert_eq!(
            korean["embeds"][0]["description"],
            "'킬미, 힐미'의 방송사는?\n\n⏱️ <t:1800000020:R> 마감"
        );
    }

    #[test]
    fn the_reveal_marks_the_answer_disables_every_button_and_opens_the_scene() {
        let catalog = catalog();
        let mut tally = Tally::new(3, 1_800_000_020_000);
        for (user, option, at_ms) in [(11, 1, 1_800_000_005_000), (12, 0, 1_800_000_004_000)] {
            tally.record(Answer {
                user,
                option,
                at_ms,
            });
        }
        let reveal = tally.reveal(1);
        let message = json(revealed_card(
            &catalog,
            &network_question(),
            SLOT,
            &reveal,
            Locale::En,
        ));
        let embed = &message["embeds"][0];
        assert_eq!(
            embed["description"],
            "Which network aired *Kill Me, Heal Me*?\n\n⏱️ Answers are closed"
        );
        assert_eq!(
            embed["fields"],
            json!([
                {"name": "Right answer", "value": "✅ B · MBC", "inline": false},
                {"name": "Answers", "value": "2 answered · 1 right", "inline": true},
                {"name": "First right", "value": "<@11>", "inline": true},
            ])
        );
        let buttons = &message["components"][0]["components"];
        for (index, button) in buttons.as_array().into_iter().flatten().enumerate() {
            assert_eq!(button["disabled"], true, "{index}");
            assert_eq!(button["style"], if index == 1 { 3 } else { 2 }, "{index}");
        }
        assert_eq!(
            message["components"][1]["components"][0]["custom_id"],
            "scene:show:kill-me-heal-me"
        );
        assert_eq!(message["allowed_mentions"]["parse"], json!([]));
        let nobody = json(revealed_card(
            &catalog,
            &network_question(),
            SLOT,
            &Tally::new(3, 0).reveal(1),
            Locale::Ko,
        ));
        assert_eq!(
            nobody["embeds"][0]["fields"][2]["value"],
            "이번에는 맞힌 사람이 없어요"
        );
    }

    #[test]
    fn a_question_of_a_scene_the_dataset_lost_renders_nothing() {
        let catalog = catalog();
        let mut gone = network_question();
        gone.options[0] = "no-such-scene".into();
        assert!(question_card(&catalog, &gone, SLOT, Locale::En).is_none());
        gone.scene = "no-such-scene".into();
        assert!(revealed_card(
            &catalog,
            &gone,
            SLOT,
            &Tally::new(3, 0).reveal(0),
            Locale::En
        )
        .is_none());
    }

    #[test]
    fn scores_list_places_and_the_rule() {
        let mut tally = Tally::new(2, 10_000);
        for (user, option, at_ms) in [(1, 0, 10), (2, 0, 20), (3, 1, 5)] {
            tally.record(Answer {
                user,
                option,
                at_ms,
            });
        }
        let scores = round_scores(&[tally.reveal(0)]);
        let message = serde_json::to_value(
            scores_card(&scores, Locale::En, false).into_interaction_message(),
        )
        .unwrap_or_default();
        assert_eq!(
            message["embeds"][0]["description"],
            "**1.** <@1> · 2 points (1 right, 1 first)\n**2.** <@2> · 1 point (1 right, 0 first)\n**3.** <@3> · 0 points (0 right, 0 first)"
        );
        assert_eq!(
            message["embeds"][0]["footer"]["text"],
            Locale::En.quiz_strings().rules
        );
        let empty =
            serde_json::to_value(scores_card(&[], Locale::Ko, false).into_interaction_message())
                .unwrap_or_default();
        assert_eq!(
            empty["embeds"][0]["description"],
            Locale::Ko.quiz_strings().no_scores
        );
        let crowd: Vec<Score> = (0..600)
            .map(|user| Score {
                user: u64::MAX - user,
                points: 20,
                right: 10,
                first: 10,
                rank: 1,
            })
            .collect();
        let crowd =
            serde_json::to_value(scores_card(&crowd, Locale::En, true).into_interaction_message())
                .unwrap_or_default();
        assert_within_limits(&crowd, "scores of 600");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Every question of every round, open and revealed, in both languages: Discord's limits (labels, custom
        /// ids, embeds), ids that read back as what they name, the countdown, mentions off.
        #[test]
        fn every_question_renders_within_discords_limits(seed in any::<u64>(), round in any::<u64>()) {
            let catalog = catalog();
            let questions = draw(&catalog, MAX_QUESTIONS, &mut StdRng::seed_from_u64(seed));
            for (index, question) in questions.iter().enumerate() {
                let slot = Slot { round, index, total: questions.len(), closes_at: 1_800_000_020 };
                for locale in Locale::ALL {
                    let what = format!("{} {:?} {locale:?}", question.scene, question.kind);
                    let open = json(question_card(&catalog, question, slot, locale));
                    assert_within_limits(&open, &what);
                    let description = open["embeds"][0]["description"].as_str().unwrap_or_default();
                    prop_assert!(description.ends_with("<t:1800000020:R>") || description.contains("<t:1800000020:R> "), "{what}");
                    let buttons = open["components"][0]["components"].as_array().cloned().unwrap_or_default();
                    prop_assert_eq!(buttons.len(), question.options.len());
                    for (option, button) in buttons.iter().enumerate() {
                        let id = button["custom_id"].as_str().unwrap_or_default();
                        prop_assert_eq!(
                            ComponentAction::parse(id),
                            Some(ComponentAction::QuizAnswer {
                                round,
                                question: u8::try_from(index).unwrap_or(u8::MAX),
                                option: u8::try_from(option).unwrap_or(u8::MAX),
                            })
                        );
                    }
                    let revealed = json(revealed_card(&catalog, question, slot, &Tally::new(4, 0).reveal(question.answer), locale));
                    assert_within_limits(&revealed, &what);
                }
            }
        }
    }
}
