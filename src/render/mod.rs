//! Rendering: catalog data in, the serenity builders whose JSON Discord receives out.
//!
//! - this file: the scene, list, See Also and about cards, and the card-size check the dataset's validation uses;
//! - [`anniversary`]: the special daily posts, an anniversary card and the birthday card;
//! - [`ids`]: the component-id protocol (what a button asks for, the daily post's marker);
//! - [`poll`]: the poll results chart and the hall of fame;
//! - [`quiz`]: a quiz question, its reveal and a round's scores.
//!
//! This file stays above 600 lines for its tests (a third of it): every card is checked against each of Discord's
//! limits in both languages, beside the code that builds it.
//!
//! Every function here is pure. Each text goes through [`limits::clamp`] with the limit of the place it is shown, so
//! every card fits Discord's limits by construction; `allowed_mentions` parses nothing on every message built here.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateAllowedMentions, CreateButton, CreateEmbed,
    CreateEmbedAuthor, CreateEmbedFooter, CreateInteractionResponseMessage, CreateMessage,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, ReactionType,
};

use crate::catalog::{Catalog, Scene};
use crate::limits::{self, clamp};
use crate::locale::Locale;

mod anniversary;
pub mod ids;
pub mod poll;
pub mod quiz;

pub use anniversary::{day_post_card, headline, special_card, thread_name, upcoming_card};
pub use ids::{message_link, posted_marker, ComponentAction};

/// The video site searched by the "Find the clip" button (a search, never an invented video URL).
pub const CLIP_SEARCH_URL: &str = "https://www.youtube.com/results?search_query=";

/// Mentions nobody: every message the bot sends uses this (except a daily post's chosen role ping).
pub fn no_mentions() -> CreateAllowedMentions {
    CreateAllowedMentions::new()
}

/// A message's visible parts: embeds and component rows.
#[derive(Debug, Clone, Default)]
pub struct Card {
    /// The embeds (one per card).
    pub embeds: Vec<CreateEmbed>,
    /// The rows of buttons and menus.
    pub components: Vec<CreateActionRow>,
}

impl Card {
    /// The card as an interaction reply (or update), mentioning nobody.
    pub fn into_interaction_message(self) -> CreateInteractionResponseMessage {
        CreateInteractionResponseMessage::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(no_mentions())
    }

    /// The card as a follow-up on an interaction's token (or its edit), mentioning nobody.
    pub fn into_followup(self) -> serenity::all::CreateInteractionResponseFollowup {
        serenity::all::CreateInteractionResponseFollowup::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(no_mentions())
    }

    /// The card as a channel message, mentioning nobody.
    pub fn into_channel_message(self) -> CreateMessage {
        CreateMessage::new()
            .embeds(self.embeds)
            .components(self.components)
            .allowed_mentions(no_mentions())
    }

    /// Characters Discord counts against its 6,000 per message: titles, descriptions, field names and values,
    /// footers and author names of every embed, read from the JSON that is sent.
    pub fn total_embed_chars(&self) -> usize {
        serde_json::to_value(&self.embeds)
            .map(|embeds| embed_chars(&embeds))
            .unwrap_or(usize::MAX)
    }
}

/// The characters Discord counts in a JSON array of embeds.
pub fn embed_chars(embeds: &serde_json::Value) -> usize {
    let count = |value: &serde_json::Value| value.as_str().map_or(0, |s| s.trim().chars().count());
    embeds.as_array().map_or(0, |embeds| {
        embeds
            .iter()
            .map(|embed| {
                count(&embed["title"])
                    + count(&embed["description"])
                    + count(&embed["footer"]["text"])
                    + count(&embed["author"]["name"])
                    + embed["fields"].as_array().map_or(0, |fields| {
                        fields
                            .iter()
                            .map(|field| count(&field["name"]) + count(&field["value"]))
                            .sum()
                    })
            })
            .sum()
    })
}

/// Every scene whose card, in either language, would pass Discord's 6,000 characters per message: the part of a
/// dataset's validation that depends on how cards render (see `respond::load_catalog`).
pub fn card_problems(catalog: &Catalog) -> Vec<crate::catalog::Problem> {
    let mut problems = Vec::new();
    for (index, scene) in catalog.scenes.iter().enumerate() {
        for locale in Locale::ALL {
            let total = scene_card(catalog, scene, locale).total_embed_chars();
            if total > limits::EMBED_TOTAL {
                problems.push(crate::catalog::Problem::at(
                    &format!("scenes[{index}]"),
                    format!(
                        "the {} card is {total} characters; Discord allows {} per message",
                        locale.code(),
                        limits::EMBED_TOTAL
                    ),
                ));
            }
        }
    }
    problems
}

/// The card of one scene: embed, the "Another scene" button, the clip search and the See Also link.
pub fn scene_card(catalog: &Catalog, scene: &Scene, locale: Locale) -> Card {
    let another = ComponentAction::AnotherScene {
        current: scene.id.clone(),
    };
    card_with_another(catalog, scene, locale, another)
}

/// The card of a post the bot makes on its own (a daily post): its "Another scene" button answers privately, and
/// carries `marker` (letters, digits and `-`), which lets the bot recognise its own post in the channel after a
/// crash ([`posted_marker`]).
pub fn posted_scene_card(catalog: &Catalog, scene: &Scene, locale: Locale, marker: &str) -> Card {
    let another = ComponentAction::AnotherPrivately {
        marker: marker.to_owned(),
        current: scene.id.clone(),
    };
    card_with_another(catalog, scene, locale, another)
}

fn card_with_another(
    catalog: &Catalog,
    scene: &Scene,
    locale: Locale,
    another: ComponentAction,
) -> Card {
    let strings = locale.strings();
    let drama = &scene.drama;
    let title = localized_title(scene, locale);
    let role = role_text(scene, locale);
    let partner = match locale {
        Locale::En => format!(
            "**{}** ({}) {} {}",
            scene.partner.actor.en, scene.partner.actor.ko, strings.as_role, scene.partner.role.en
        ),
        Locale::Ko => format!(
            "**{}** ({}) {} {} 역",
            scene.partner.actor.ko, scene.partner.actor.en, strings.as_role, scene.partner.role.ko
        ),
    };
    let mut embed = CreateEmbed::new()
        .author(actor_author(catalog))
        .title(clamp(
            &format!("{} {title}", scene.emoji),
            limits::EMBED_TITLE,
        ))
        .description(clamp(scene.summary.get(locale), limits::EMBED_DESCRIPTION))
        .color(scene.color_value())
        .field(
            strings.his_role,
            clamp(&role, limits::EMBED_FIELD_VALUE),
            true,
        )
        .field(
            strings.partner,
            clamp(&partner, limits::EMBED_FIELD_VALUE),
            true,
        )
        .field(
            strings.drama,
            clamp(&drama_facts(scene, locale), limits::EMBED_FIELD_VALUE),
            false,
        );
    if let Some(episode) = scene.episode {
        embed = embed.field(strings.episode, locale.episode(episode), true);
    }
    if !drama.alt_titles.is_empty() {
        embed = embed.field(
            strings.also_known_as,
            clamp(
                &drama.alt_titles.join(limits::LIST_SEPARATOR),
                limits::EMBED_FIELD_VALUE,
            ),
            false,
        );
    }
    if let Some(note) = &scene.fan_note {
        embed = embed.field(
            strings.fan_note,
            clamp(note.get(locale), limits::EMBED_FIELD_VALUE),
            false,
        );
    }
    if let Some(image) = &scene.image_url {
        embed = embed.image(image);
    }
    let position = catalog.position(&scene.id).map_or(0, |i| i + 1);
    embed = embed.footer(CreateEmbedFooter::new(clamp(
        &format!(
            "{} · {}",
            locale.source_credit(&catalog.source.site, &catalog.source.title),
            locale.scene_position(position, catalog.scenes.len())
        ),
        limits::EMBED_FOOTER,
    )));

    let mut buttons = Vec::new();
    if catalog.scenes.len() > 1 {
        buttons.push(
            CreateButton::new(another.custom_id())
                .label(clamp(strings.another_scene, limits::BUTTON_LABEL))
                .emoji(ReactionType::Unicode("🔀".to_owned()))
                .style(ButtonStyle::Primary),
        );
    }
    buttons.push(
        CreateButton::new_link(clip_search_url(scene, locale))
            .label(clamp(strings.find_clip, limits::BUTTON_LABEL))
            .emoji(ReactionType::Unicode("▶️".to_owned())),
    );
    buttons.push(see_also_button(catalog, locale));
    Card {
        embeds: vec![embed],
        components: vec![CreateActionRow::Buttons(buttons)],
    }
}

/// The card's author line: the actor's name in both languages.
fn actor_author(catalog: &Catalog) -> CreateEmbedAuthor {
    CreateEmbedAuthor::new(clamp(
        &format!("{} · {}", catalog.actor.name.en, catalog.actor.name.ko),
        limits::EMBED_AUTHOR,
    ))
}

/// Park Seo-joon's character: the name in both languages and who the character is.
fn role_text(scene: &Scene, locale: Locale) -> String {
    format!(
        "**{}** ({})\n{}",
        scene.role.name.get(locale),
        other_language(&scene.role.name, locale),
        scene.role.about.get(locale)
    )
}

/// The drama's facts: its title in the other language, years, network, episodes and, where the dataset has them,
/// its Korean air dates.
fn drama_facts(scene: &Scene, locale: Locale) -> String {
    let drama = &scene.drama;
    // The romanization spells the Korean title: English readers get it beside the Hangul; on the Korean card it
    // would sit beside the English title, as if it spelled that.
    let other_title = match locale {
        Locale::En => format!("{} · *{}*", drama.title_ko, drama.romanization),
        Locale::Ko => drama.title.clone(),
    };
    let mut facts = format!(
        "{other_title}\n{} · {} · {}",
        drama.years(),
        drama.network,
        locale.episodes(drama.episodes)
    );
    if let Some(aired) = &drama.aired {
        facts.push('\n');
        facts.push_str(&locale.air_dates(aired.first, aired.last));
    }
    facts
}

/// The same name in the other language (a Korean card shows the English name beside the Hangul, and back).
fn other_language(text: &crate::catalog::Text, locale: Locale) -> &str {
    match locale {
        Locale::En => &text.ko,
        Locale::Ko => &text.en,
    }
}

/// A video-site search for the scene, built from the data: drama title, both actors, "kiss scene".
pub fn clip_search_url(scene: &Scene, locale: Locale) -> String {
    let query = match locale {
        Locale::En => format!(
            "{} {} {} {}",
            scene.drama.title,
            "Park Seo-joon",
            scene.partner.actor.en,
            locale.strings().clip_search_words
        ),
        Locale::Ko => format!(
            "{} 박서준 {} {}",
            scene.drama.title_ko,
            scene.partner.actor.ko,
            locale.strings().clip_search_words
        ),
    };
    let encoded: String = url::form_urlencoded::byte_serialize(query.as_bytes()).collect();
    let url = format!("{CLIP_SEARCH_URL}{encoded}");
    if url.len() <= limits::BUTTON_URL {
        url
    } else {
        // Only the title then: still a working search, and short.
        let title: String =
            url::form_urlencoded::byte_serialize(scene.drama.title.as_bytes()).collect();
        clamp_bytes(&format!("{CLIP_SEARCH_URL}{title}"), limits::BUTTON_URL)
    }
}

/// Cuts an ASCII URL to `max` bytes without splitting a percent escape.
fn clamp_bytes(url: &str, max: usize) -> String {
    let mut end = url.len().min(max);
    while end > 0
        && (!url.is_char_boundary(end)
            || url[..end].ends_with('%')
            || url[..end.saturating_sub(1)].ends_with('%'))
    {
        end -= 1;
    }
    url[..end].to_owned()
}

/// The link button to the article's See Also item.
fn see_also_button(catalog: &Catalog, locale: Locale) -> CreateButton {
    CreateButton::new_link(&catalog.see_also.url)
        .label(clamp(
            locale.strings().see_also_button,
            limits::BUTTON_LABEL,
        ))
        .emoji(ReactionType::Unicode("🔗".to_owned()))
}

/// Every scene in one compact card, with a menu that opens one.
pub fn all_scenes_card(catalog: &Catalog, locale: Locale) -> Card {
    let strings = locale.strings();
    let description = format!(
        "{}\n\n{}",
        strings.all_scenes_intro,
        scene_lines(catalog, locale)
    );
    let embed = CreateEmbed::new()
        .title(clamp(strings.all_scenes_title, limits::EMBED_TITLE))
        .description(clamp(&description, limits::EMBED_DESCRIPTION))
        .color(catalog.scenes.first().map_or(0, Scene::color_value))
        .footer(CreateEmbedFooter::new(clamp(
            &locale.source_credit(&catalog.source.site, &catalog.source.title),
            limits::EMBED_FOOTER,
        )));
    let options = catalog
        .scenes
        .iter()
        .take(limits::SELECT_OPTIONS)
        .map(|scene| {
            let (title, partner) = match locale {
                Locale::En => (&scene.drama.title, &scene.partner.actor.en),
                Locale::Ko => (&scene.drama.title_ko, &scene.partner.actor.ko),
            };
            CreateSelectMenuOption::new(
                clamp(title, limits::SELECT_TEXT),
                clamp(&scene.id, limits::SELECT_TEXT),
            )
            .description(clamp(
                &format!("{} · {partner}", scene.drama.years()),
                limits::SELECT_TEXT,
            ))
            .emoji(ReactionType::Unicode(scene.emoji.clone()))
        })
        .collect();
    let menu = CreateSelectMenu::new(
        ComponentAction::OpenSelected.custom_id(),
        CreateSelectMenuKind::String { options },
    )
    .placeholder(clamp(strings.open_scene, limits::SELECT_PLACEHOLDER));
    Card {
        embeds: vec![embed],
        components: vec![
            CreateActionRow::SelectMenu(menu),
            CreateActionRow::Buttons(vec![see_also_button(catalog, locale)]),
        ],
    }
}

/// One line per scene: emoji, title, years, partner (the `/scenes` list and the birthday card).
fn scene_lines(catalog: &Catalog, locale: Locale) -> String {
    let lines: Vec<String> = catalog
        .scenes
        .iter()
        .map(|scene| {
            let (title, partner) = match locale {
                Locale::En => (&scene.drama.title, &scene.partner.actor.en),
                Locale::Ko => (&scene.drama.title_ko, &scene.partner.actor.ko),
            };
            format!(
                "{} **{title}** ({}) · {partner}",
                scene.emoji,
                scene.drama.years()
            )
        })
        .collect();
    lines.join("\n")
}

/// The See Also item as a card with its link button.
pub fn see_also_card(catalog: &Catalog, locale: Locale) -> Card {
    let strings = locale.strings();
    let see_also = &catalog.see_also;
    let embed = CreateEmbed::new()
        .title(clamp(
            &format!("🔗 {}: {}", strings.see_also, see_also.title.get(locale)),
            limits::EMBED_TITLE,
        ))
        .url(&see_also.url)
        .description(clamp(see_also.about.get(locale), limits::EMBED_DESCRIPTION))
        .footer(CreateEmbedFooter::new(clamp(
            &locale.source_credit(&catalog.source.site, &catalog.source.title),
            limits::EMBED_FOOTER,
        )));
    Card {
        embeds: vec![embed],
        components: vec![CreateActionRow::Buttons(vec![see_also_button(
            catalog, locale,
        )])],
    }
}

/// Facts for the `/about` card that do not come from the catalog.
#[derive(Debug, Clone, Copy)]
pub struct AboutFacts {
    /// Seconds since the bot started.
    pub uptime_seconds: u64,
}

/// What the bot is: dataset version and counts, credit, version and uptime.
pub fn about_card(catalog: &Catalog, locale: Locale, facts: AboutFacts) -> Card {
    let strings = locale.strings();
    let mut dramas: Vec<&str> = catalog
        .scenes
        .iter()
        .map(|s| s.drama.title.as_str())
        .collect();
    dramas.sort_unstable();
    dramas.dedup();
    let dataset = format!(
        "{} · {} {}",
        locale.scene_count(catalog.scenes.len(), dramas.len()),
        strings.revision,
        locale.revision_date(&catalog.revision)
    );
    let source = format!(
        "[{}]({}) · {}",
        markdown_link_text(&catalog.source.title),
        catalog.source.url,
        catalog.source.site
    );
    let embed = CreateEmbed::new()
        .title(clamp(strings.about_title, limits::EMBED_TITLE))
        .description(clamp(strings.about_intro, limits::EMBED_DESCRIPTION))
        .field(
            strings.about_dataset,
            clamp(&dataset, limits::EMBED_FIELD_VALUE),
            false,
        )
        .field(
            strings.about_source,
            clamp(&source, limits::EMBED_FIELD_VALUE),
            false,
        )
        .field(strings.about_commands, strings.about_commands_list, false)
        .field(strings.about_version, env!("CARGO_PKG_VERSION"), true)
        .field(
            strings.about_uptime,
            locale.uptime(facts.uptime_seconds),
            true,
        );
    Card {
        embeds: vec![embed],
        components: vec![CreateActionRow::Buttons(vec![
            CreateButton::new_link(&catalog.source.url)
                .label(clamp(strings.about_source, limits::BUTTON_LABEL))
                .emoji(ReactionType::Unicode("📰".to_owned())),
            see_also_button(catalog, locale),
        ])],
    }
}

/// Text safe inside `[…]` of a markdown link.
fn markdown_link_text(text: &str) -> String {
    text.replace(['[', ']'], "")
}

/// Text a user typed, made safe to echo: no control characters, no markdown, no mentions, and short.
pub fn quote_user_text(text: &str) -> String {
    const QUOTED_MAX: usize = 100;
    let cleaned: String = text
        .chars()
        // Control characters, and the bidirectional overrides and isolates that would reorder the reply around it.
        .filter(|c| {
            !c.is_control() && !matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .flat_map(|c| {
            let escape = matches!(
                c,
                '*' | '_' | '~' | '`' | '|' | '>' | '#' | '[' | ']' | '(' | ')' | '\\' | '<' | '@'
            );
            escape.then_some('\\').into_iter().chain([c])
        })
        .collect();
    clamp(cleaned.trim(), QUOTED_MAX)
}

/// The ephemeral reply when a drama search finds nothing: what was typed, and buttons for the closest scenes.
pub fn no_match_message(
    catalog: &Catalog,
    query: &str,
    suggestions: &[usize],
    locale: Locale,
) -> CreateInteractionResponseMessage {
    let strings = locale.strings();
    let mut content = locale.no_match(&quote_user_text(query));
    let scenes: Vec<&Scene> = suggestions
        .iter()
        .filter_map(|i| catalog.scenes.get(*i))
        .collect();
    if !scenes.is_empty() {
        content.push('\n');
        content.push_str(strings.did_you_mean);
        for scene in &scenes {
            content.push_str(&format!(
                "\n• {} {}",
                scene.emoji,
                localized_title(scene, locale)
            ));
        }
    }
    content.push('\n');
    content.push_str(strings.try_autocomplete);
    let buttons: Vec<CreateButton> = scenes
        .iter()
        .map(|scene| {
            CreateButton::new(
                ComponentAction::ShowScene {
                    id: scene.id.clone(),
                }
                .custom_id(),
            )
            .label(clamp(localized_title(scene, locale), limits::BUTTON_LABEL))
            .emoji(ReactionType::Unicode(scene.emoji.clone()))
            .style(ButtonStyle::Secondary)
        })
        .collect();
    let mut message = plain_message(&content).ephemeral(true);
    if !buttons.is_empty() {
        message = message.components(vec![CreateActionRow::Buttons(buttons)]);
    }
    message
}

/// A plain text reply that mentions nobody.
pub fn plain_message(content: &str) -> CreateInteractionResponseMessage {
    CreateInteractionResponseMessage::new()
        .content(clamp(content, limits::MESSAGE_CONTENT))
        .allowed_mentions(no_mentions())
}

/// The drama title in the reader's language.
pub fn localized_title(scene: &Scene, locale: Locale) -> &str {
    scene.drama.title_in(locale)
}

/// An autocomplete choice's name: emoji, title in the reader's language, year.
pub fn choice_name(scene: &Scene, locale: Locale) -> String {
    let name = match locale {
        Locale::En => format!(
            "{} {} ({})",
            scene.emoji,
            scene.drama.title,
            scene.drama.years()
        ),
        Locale::Ko => format!(
            "{} {} · {} ({})",
            scene.emoji,
            scene.drama.title_ko,
            scene.drama.title,
            scene.drama.years()
        ),
    };
    clamp(&name, limits::CHOICE_NAME)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn catalog() -> Catalog {
        Catalog::bundled().unwrap_or_else(|e| panic!("{e}"))
    }

    fn json(card: Card) -> Value {
        serde_json::to_value(card.into_interaction_message()).unwrap_or_default()
    }

    fn chars(value: &Value) -> usize {
        value.as_str().map_or(0, |s| s.chars().count())
    }

    /// Checks every limit of `discord.md` on the serialized message.
    pub(crate) fn assert_within_limits(message: &Value, what: &str) {
        let embeds = message["embeds"].as_array().cloned().unwrap_or_default();
        assert!(embeds.len() <= 10, "{what}: too many embeds");
        assert!(
            embed_chars(&message["embeds"]) <= limits::EMBED_TOTAL,
            "{what}: embed total"
        );
        for embed in &embeds {
            assert!(
                chars(&embed["title"]) <= limits::EMBED_TITLE,
                "{what}: title"
            );
            assert!(
                chars(&embed["description"]) <= limits::EMBED_DESCRIPTION,
                "{what}: description"
            );
            assert!(
                chars(&embed["footer"]["text"]) <= limits::EMBED_FOOTER,
                "{what}: footer"
            );
            assert!(
                chars(&embed["author"]["name"]) <= limits::EMBED_AUTHOR,
                "{what}: author"
            );
            let fields = embed["fields"].as_array().cloned().unwrap_or_default();
            assert!(fields.len() <= limits::EMBED_FIELDS, "{what}: field count");
            for field in fields {
                assert!(
                    (1..=limits::EMBED_FIELD_NAME).contains(&chars(&field["name"])),
                    "{what}: field name"
                );
                assert!(
                    (1..=limits::EMBED_FIELD_VALUE).contains(&chars(&field["value"])),
                    "{what}: field value"
                );
            }
        }
        assert!(
            chars(&message["content"]) <= limits::MESSAGE_CONTENT,
            "{what}: content"
        );
        let rows = message["components"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(rows.len() <= 5, "{what}: rows");
        let mut custom_ids = Vec::new();
        for row in rows {
            let components = row["components"].as_array().cloned().unwrap_or_default();
            assert!(
                (1..=5).contains(&components.len()),
                "{what}: components per row"
            );
            for component in components {
                if let Some(id) = component["custom_id"].as_str() {
                    assert!(
                        (1..=limits::CUSTOM_ID).contains(&id.chars().count()),
                        "{what}: custom_id"
                    );
                    custom_ids.push(id.to_owned());
                }
                if component["type"] == 2 {
                    assert!(
                        chars(&component["label"]) <= limits::BUTTON_LABEL,
                        "{what}: label"
                    );
                    if component["style"] == 5 {
                        let url = component["url"].as_str().unwrap_or_default();
                        assert!(
                            url.starts_with("https://") && url.len() <= limits::BUTTON_URL,
                            "{what}: url"
                        );
                        assert!(
                            component.get("custom_id").is_none(),
                            "{what}: link with custom_id"
                        );
                    }
                }
                if component["type"] == 3 {
                    let options = component["options"].as_array().cloned().unwrap_or_default();
                    assert!(
                        (1..=limits::SELECT_OPTIONS).contains(&options.len()),
                        "{what}: options"
                    );
                    for option in options {
                        assert!(
                            chars(&option["label"]) <= limits::SELECT_TEXT,
                            "{what}: option label"
                        );
                        assert!(
                            chars(&option["value"]) <= limits::SELECT_TEXT,
                            "{what}: option value"
                        );
                        assert!(
                            chars(&option["description"]) <= limits::SELECT_TEXT,
                            "{what}: option description"
                        );
                    }
                }
            }
        }
        let before = custom_ids.len();
        custom_ids.sort();
        custom_ids.dedup();
        assert_eq!(
            before,
            custom_ids.len(),
            "{what}: custom_ids must be unique"
        );
        assert_eq!(
            message["allowed_mentions"]["parse"],
            serde_json::json!([]),
            "{what}: mentions"
        );
    }

    #[test]
    fn every_scene_renders_within_every_limit_in_both_locales() {
        let catalog = catalog();
        for scene in &catalog.scenes {
            for locale in Locale::ALL {
                let message = json(scene_card(&catalog, scene, locale));
                assert_within_limits(&message, &format!("{} {locale:?}", scene.id));
                let embed = &message["embeds"][0];
                assert!(embed["title"]
                    .as_str()
                    .unwrap_or_default()
                    .contains(localized_title(scene, locale)));
                assert_eq!(embed["description"], scene.summary.get(locale));
                let buttons = &message["components"][0]["components"];
                assert_eq!(
                    buttons[0]["custom_id"],
                    format!("scene:another:{}", scene.id)
                );
                assert_eq!(buttons[2]["url"], catalog.see_also.url);
                assert!(buttons[1]["url"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with(CLIP_SEARCH_URL));
                let episode_shown = embed["fields"].as_array().is_some_and(|fields| {
                    fields.iter().any(|f| f["name"] == locale.strings().episode)
                });
                assert_eq!(episode_shown, scene.episode.is_some(), "{}", scene.id);
            }
        }
    }

    #[test]
    fn the_other_cards_fit_too() {
        let catalog = catalog();
        for locale in Locale::ALL {
            assert_within_limits(&json(all_scenes_card(&catalog, locale)), "scenes");
            assert_within_limits(&json(see_also_card(&catalog, locale)), "seealso");
            let about = about_card(
                &catalog,
                locale,
                AboutFacts {
                    uptime_seconds: 4000,
                },
            );
            assert_within_limits(&json(about), "about");
            let suggestions = [0, 1, 2];
            let no_match = serde_json::to_value(no_match_message(
                &catalog,
                &"x".repeat(6000),
                &suggestions,
                locale,
            ))
            .unwrap_or_default();
            assert_within_limits(&no_match, "no match");
            assert_eq!(no_match["flags"], 64);
        }
    }

    #[test]
    fn an_overlong_scene_is_clamped_not_sent_too_long() {
        let mut catalog = catalog();
        let scene = &mut catalog.scenes[0];
        scene.summary.en = "가".repeat(5000);
        scene.drama.title = "T".repeat(400);
        scene.role.about.en = "r".repeat(3000);
        scene.drama.alt_titles = vec!["a".repeat(900), "b".repeat(900)];
        scene.fan_note = Some(crate::catalog::Text {
            en: "n".repeat(2000),
            ko: "n".repeat(2000),
        });
        let scene = catalog.scenes[0].clone();
        let message = json(scene_card(&catalog, &scene, Locale::En));
        // Per-field limits hold by construction; the 6,000 total is what validation refuses.
        let embed = &message["embeds"][0];
        assert_eq!(chars(&embed["title"]), limits::EMBED_TITLE);
        assert_eq!(chars(&embed["description"]), limits::EMBED_DESCRIPTION);
    }

    #[test]
    fn user_text_is_quoted_safely() {
        assert_eq!(quote_user_text("@everyone"), "\\@everyone");
        assert_eq!(quote_user_text("<@&123>"), "\\<\\@&123\\>");
        assert_eq!(quote_user_text("**bold**\u{0007}"), "\\*\\*bold\\*\\*");
        assert_eq!(quote_user_text(&"a".repeat(500)).chars().count(), 100);
        assert_eq!(quote_user_text("a\u{202E}b\u{2066}c"), "abc");
    }

    #[test]
    fn the_clip_search_is_built_from_the_data() {
        let catalog = catalog();
        let url = clip_search_url(&catalog.scenes[4], Locale::En);
        assert!(
            url.starts_with("https://www.youtube.com/results?search_query=Hwarang"),
            "{url}"
        );
        assert!(url.contains("Go+Ara"), "{url}");
        let ko = clip_search_url(&catalog.scenes[4], Locale::Ko);
        assert!(ko.contains("%ED%99%94%EB%9E%91"), "{ko}"); // 화랑
    }

    #[test]
    fn autocomplete_names_fit() {
        let catalog = catalog();
        for scene in &catalog.scenes {
            for locale in Locale::ALL {
                let name = choice_name(scene, locale);
                assert!((1..=limits::CHOICE_NAME).contains(&name.chars().count()));
            }
        }
    }
}
