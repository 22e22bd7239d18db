//! The special daily posts: an anniversary card ("11 years ago today, *Kill Me, Heal Me* premiered on MBC") and the
//! birthday card, in the reader's language, each date with the page that states it. Like a daily scene post, each
//! carries its post's marker in its button, so the bot can find its own post again after a crash, and its button
//! answers privately.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, ReactionType,
};

use super::{
    actor_author, clip_search_url, drama_facts, localized_title, role_text, scene_lines,
    see_also_button, Card, ComponentAction,
};
use crate::anniversary::{DayPost, Occasion, Occurrence, Upcoming};
use crate::catalog::Catalog;
use crate::limits::{self, clamp};
use crate::locale::{Headline, Locale};

/// The birthday card's accent colour (a warm gold, apart from every scene's own).
const BIRTHDAY_COLOR: u32 = 0xF1_C4_0F;

/// The card of a day's post: a special card, or the scene drawn for an ordinary day (as [`super::posted_scene_card`]).
/// `None` when the post names a scene the catalog does not have.
pub fn day_post_card(
    catalog: &Catalog,
    post: &DayPost,
    locale: Locale,
    marker: &str,
) -> Option<Card> {
    match post {
        DayPost::Special(occurrence) => special_card(catalog, occurrence, locale, marker),
        DayPost::Scene(id) => catalog
            .scene(id)
            .map(|scene| super::posted_scene_card(catalog, scene, locale, marker)),
    }
}

/// The card of an anniversary or of the birthday, with `marker` in its button. `None` when the anniversary's scene
/// is not in `catalog`.
pub fn special_card(
    catalog: &Catalog,
    occurrence: &Occurrence,
    locale: Locale,
    marker: &str,
) -> Option<Card> {
    match &occurrence.anniversary.scene {
        Some(id) => anniversary_card(catalog, occurrence, id, locale, marker),
        None => Some(birthday_card(catalog, occurrence, locale, marker)),
    }
}

/// The headline of an anniversary or of the birthday in the reader's language ("11 years ago today, *Kill Me,
/// Heal Me* premiered on MBC"); `None` when its scene is not in `catalog`.
pub fn headline(catalog: &Catalog, occurrence: &Occurrence, locale: Locale) -> Option<String> {
    headline_of(catalog, occurrence, locale).map(|parts| locale.anniversary_headline(parts))
}

/// What a headline names for `occurrence`: the drama in the reader's language, or the actor on his birthday.
fn headline_of<'a>(
    catalog: &'a Catalog,
    occurrence: &Occurrence,
    locale: Locale,
) -> Option<Headline<'a>> {
    let mark = &occurrence.anniversary;
    let headline = match &mark.scene {
        Some(id) => {
            let scene = catalog.scene(id)?;
            Headline {
                occasion: mark.occasion,
                years: occurrence.years,
                title: localized_title(scene, locale),
                network: &scene.drama.network,
                episode: scene.episode,
            }
        }
        None => Headline {
            occasion: Occasion::Birthday,
            years: occurrence.years,
            title: catalog.actor.name.get(locale),
            network: "",
            episode: None,
        },
    };
    Some(headline)
}

/// The card of `/anniversaries`: the next special days, each a Discord timestamp (the reader's own date and how
/// far away) and its line; `zone` names the server's daily zone the days are counted in (`None`: UTC).
pub fn upcoming_card(
    catalog: &Catalog,
    upcoming: &[Upcoming],
    zone: Option<&str>,
    locale: Locale,
) -> Card {
    let lines: Vec<String> = upcoming
        .iter()
        .filter_map(|next| {
            let line = locale.upcoming_line(headline_of(catalog, &next.occurrence, locale)?);
            Some(format!("<t:{0}:D> (<t:{0}:R>) · {line}", next.unix))
        })
        .collect();
    let description = if lines.is_empty() {
        locale
            .choose(
                "This dataset has no dated anniversaries.",
                "이 데이터에는 날짜가 있는 기념일이 없어요.",
            )
            .to_owned()
    } else {
        lines.join("\n")
    };
    let zone_note = match (zone, locale) {
        (Some(zone), Locale::En) => {
            format!("Days in {zone}, this server's daily post zone, at its post time")
        }
        (Some(zone), Locale::Ko) => {
            format!("이 서버의 오늘의 장면 시간대({zone})와 게시 시각 기준")
        }
        (None, _) => locale
            .choose(
                "Days in UTC (no daily post is set here)",
                "UTC 기준(여기에는 오늘의 장면이 설정되어 있지 않아요)",
            )
            .to_owned(),
    };
    let embed = CreateEmbed::new()
        .author(actor_author(catalog))
        .title(locale.choose("📅 Coming anniversaries", "📅 다가오는 기념일"))
        .description(clamp(&description, limits::EMBED_DESCRIPTION))
        .color(BIRTHDAY_COLOR)
        .footer(CreateEmbedFooter::new(clamp(
            &format!(
                "{zone_note} · {}",
                locale.choose(
                    "Air dates are Korean broadcast dates",
                    "방영일은 한국 방송 기준이에요"
                )
            ),
            limits::EMBED_FOOTER,
        )));
    Card {
        embeds: vec![embed],
        components: Vec::new(),
    }
}

/// The name of the thread on a day's post (at most 100 characters, no markdown: a thread name shows it as typed):
/// the scene's emoji and drama title on an ordinary day, the headline on a special day.
pub fn thread_name(catalog: &Catalog, post: &DayPost, locale: Locale) -> String {
    let name = match post {
        DayPost::Scene(id) => catalog
            .scene(id)
            .map(|scene| format!("{} {}", scene.emoji, localized_title(scene, locale))),
        DayPost::Special(occurrence) => {
            headline(catalog, occurrence, locale).map(|line| line.replace('*', ""))
        }
    };
    let name = name.unwrap_or_else(|| locale.daily_headline().to_owned());
    clamp(&name, limits::THREAD_NAME)
}

/// "Source of the date: [host](url)", where a reader can check the date.
fn date_source_field(embed: CreateEmbed, source: &str, locale: Locale) -> CreateEmbed {
    let host = source
        .split("://")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .unwrap_or(source);
    // Parentheses in a URL (Wikipedia's disambiguations) would end the markdown link early.
    let target = source.replace('(', "%28").replace(')', "%29");
    embed.field(
        locale.choose("Source of the date", "날짜 출처"),
        clamp(&format!("[{host}]({target})"), limits::EMBED_FIELD_VALUE),
        true,
    )
}

/// The footer: dates are Korean broadcast dates, and the dataset's credit.
fn footer(catalog: &Catalog, locale: Locale) -> CreateEmbedFooter {
    CreateEmbedFooter::new(clamp(
        &format!(
            "{} · {}",
            locale.choose(
                "Air dates are Korean broadcast dates",
                "방영일은 한국 방송 기준이에요"
            ),
            locale.source_credit(&catalog.source.site, &catalog.source.title)
        ),
        limits::EMBED_FOOTER,
    ))
}

/// The post's one private button (with the marker), then the link buttons.
fn buttons(
    marker: &str,
    scene: Option<String>,
    label: &str,
    emoji: &str,
    links: Vec<CreateButton>,
) -> Vec<CreateActionRow> {
    let day = CreateButton::new(
        ComponentAction::DayPost {
            marker: marker.to_owned(),
            scene,
        }
        .custom_id(),
    )
    .label(clamp(label, limits::BUTTON_LABEL))
    .emoji(ReactionType::Unicode(emoji.to_owned()))
    .style(ButtonStyle::Primary);
    vec![CreateActionRow::Buttons([vec![day], links].concat())]
}

fn anniversary_card(
    catalog: &Catalog,
    occurrence: &Occurrence,
    id: &str,
    locale: Locale,
    marker: &str,
) -> Option<Card> {
    let scene = catalog.scene(id)?;
    let strings = locale.strings();
    let mark = &occurrence.anniversary;
    let headline = headline(catalog, occurrence, locale)?;
    let mut embed = CreateEmbed::new()
        .author(actor_author(catalog))
        .title(clamp(
            &format!("{} {}", scene.emoji, localized_title(scene, locale)),
            limits::EMBED_TITLE,
        ))
        .description(clamp(&format!("**{headline}**"), limits::EMBED_DESCRIPTION))
        .color(scene.color_value())
        .field(
            strings.his_role,
            clamp(&role_text(scene, locale), limits::EMBED_FIELD_VALUE),
            true,
        )
        .field(
            strings.drama,
            clamp(&drama_facts(scene, locale), limits::EMBED_FIELD_VALUE),
            false,
        );
    if mark.occasion == Occasion::KissEpisode {
        let episode = scene.episode.map(|e| locale.episode(e)).unwrap_or_default();
        embed = embed.field(
            locale.choose("The kiss", "키스신"),
            clamp(
                &format!(
                    "{}\n{episode} · {}",
                    scene.poll_label.get(locale),
                    locale.long_date(mark.date)
                ),
                limits::EMBED_FIELD_VALUE,
            ),
            true,
        );
    }
    let embed = date_source_field(embed, &mark.source, locale).footer(footer(catalog, locale));
    let links = vec![
        CreateButton::new_link(clip_search_url(scene, locale))
            .label(clamp(strings.find_clip, limits::BUTTON_LABEL))
            .emoji(ReactionType::Unicode("▶️".to_owned())),
        see_also_button(catalog, locale),
    ];
    Some(Card {
        embeds: vec![embed],
        components: buttons(
            marker,
            Some(scene.id.clone()),
            locale.choose("See the scene", "장면 보기"),
            "💋",
            links,
        ),
    })
}

fn birthday_card(catalog: &Catalog, occurrence: &Occurrence, locale: Locale, marker: &str) -> Card {
    let actor = &catalog.actor;
    let name = actor.name.get(locale);
    let headline = headline(catalog, occurrence, locale).unwrap_or_default();
    let birth = locale.birth_line(
        occurrence.anniversary.date,
        occurrence.years,
        actor.birth_name.get(locale),
        actor.birthplace.get(locale),
    );
    let description = format!(
        "**{headline}**\n{birth}\n\n{}\n{}",
        locale.choose(
            "Celebrate with one of his scenes:",
            "장면 하나 보면서 함께 축하해요:"
        ),
        scene_lines(catalog, locale)
    );
    let title = match locale {
        Locale::En => format!("🎂 Happy birthday, {name}!"),
        Locale::Ko => format!("🎂 {name} 배우, 생일 축하해요!"),
    };
    let embed = CreateEmbed::new()
        .author(actor_author(catalog))
        .title(clamp(&title, limits::EMBED_TITLE))
        .description(clamp(&description, limits::EMBED_DESCRIPTION))
        .color(BIRTHDAY_COLOR);
    let embed = date_source_field(embed, &occurrence.anniversary.source, locale).footer(
        CreateEmbedFooter::new(clamp(
            &locale.source_credit(&catalog.source.site, &catalog.source.title),
            limits::EMBED_FOOTER,
        )),
    );
    let label = locale.choose("A scene to celebrate", "축하 장면 보기");
    Card {
        embeds: vec![embed],
        components: buttons(
            marker,
            None,
            label,
            "🎬",
            vec![see_also_button(catalog, locale)],
        ),
    }
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;
    use serde_json::Value;

    use super::*;
    use crate::anniversary::{calendar, upcoming};

    fn bundled() -> Catalog {
        Catalog::bundled().unwrap_or_else(|e| panic!("{e}"))
    }

    fn json(card: &Card) -> Value {
        serde_json::to_value(&card.embeds).unwrap_or_default()
    }

    /// Every special day of the shipped calendar over a year, in both languages.
    fn every_special() -> Vec<Occurrence> {
        let from = NaiveDate::from_ymd_opt(2026, 12, 7).unwrap_or_default();
        let time = chrono::NaiveTime::MIN;
        upcoming(
            &calendar(&bundled()),
            from,
            chrono_tz::Asia::Seoul,
            time,
            16,
        )
        .into_iter()
        .map(|u| u.occurrence)
        .collect()
    }

    #[test]
    fn every_special_card_fits_discord_in_both_languages_and_carries_its_marker() {
        let catalog = bundled();
        let specials = every_special();
        assert_eq!(specials.len(), 16);
        for occurrence in &specials {
            for locale in Locale::ALL {
                let card = special_card(&catalog, occurrence, locale, "daily-2026-12-16")
                    .unwrap_or_else(|| panic!("{occurrence:?}"));
                assert!(card.total_embed_chars() <= limits::EMBED_TOTAL);
                let embeds = json(&card);
                for field in embeds[0]["fields"].as_array().into_iter().flatten() {
                    let value = field["value"].as_str().unwrap_or_default();
                    assert!(value.chars().count() <= limits::EMBED_FIELD_VALUE);
                }
                let buttons = serde_json::to_value(&card.components).unwrap_or_default();
                let custom_id = buttons[0]["components"][0]["custom_id"]
                    .as_str()
                    .unwrap_or_default();
                assert_eq!(
                    super::super::posted_marker(custom_id).as_deref(),
                    Some("daily-2026-12-16")
                );
                let source = &occurrence.anniversary.source;
                assert!(
                    embeds.to_string().contains(source.as_str()),
                    "the date's source is on the card"
                );
            }
        }
    }

    #[test]
    fn the_premiere_card_reads_as_the_issue_asks_in_both_languages() {
        let catalog = bundled();
        let marks = calendar(&catalog);
        let day = NaiveDate::from_ymd_opt(2026, 1, 7).unwrap_or_default();
        let occurrence =
            crate::anniversary::special_on(&marks, day).unwrap_or_else(|| panic!("none"));
        for (locale, headline, aired) in [
            (
                Locale::En,
                "**11 years ago today, *Kill Me, Heal Me* premiered on MBC**",
                "Aired in Korea: 7 January – 12 March 2015",
            ),
            (
                Locale::Ko,
                "**11년 전 오늘, MBC '킬미, 힐미' 첫 방송**",
                "국내 방영: 2015년 1월 7일 ~ 3월 12일",
            ),
        ] {
            let card = json(&special_card(&catalog, &occurrence, locale, "m").unwrap_or_default());
            assert_eq!(card[0]["description"], headline);
            assert!(card.to_string().contains(aired), "{card}");
        }
        let ko = json(&special_card(&catalog, &occurrence, Locale::Ko, "m").unwrap_or_default());
        assert!(ko[0]["footer"]["text"]
            .as_str()
            .unwrap_or_default()
            .starts_with("방영일은 한국 방송 기준이에요"));
    }

    #[test]
    fn the_birthday_card_gives_his_age_from_the_date() {
        let catalog = bundled();
        let day = NaiveDate::from_ymd_opt(2026, 12, 16).unwrap_or_default();
        let occurrence = crate::anniversary::special_on(&calendar(&catalog), day)
            .unwrap_or_else(|| panic!("none"));
        let en = json(&special_card(&catalog, &occurrence, Locale::En, "m").unwrap_or_default());
        assert_eq!(en[0]["title"], "🎂 Happy birthday, Park Seo-joon!");
        let description = en[0]["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("**Park Seo-joon turns 38 today**\nBorn Park Yong-kyu on 16 December 1988 in Seoul, South Korea."), "{description}");
        let ko = json(&special_card(&catalog, &occurrence, Locale::Ko, "m").unwrap_or_default());
        assert_eq!(ko[0]["title"], "🎂 박서준 배우, 생일 축하해요!");
        let description = ko[0]["description"].as_str().unwrap_or_default();
        assert!(description.starts_with("**오늘은 박서준 배우의 38번째 생일이에요**\n1988년 12월 16일 대한민국 서울에서 태어나 올해 만 38세가 됐어요. 본명은 박용규예요."), "{description}");
    }
}
