//! The poll cards: the results message with its text bar chart, and the server's hall of fame. The rules behind
//! them (tallies, ties, standings) are in [`crate::favorite`]; this is only how they look.

use serenity::all::{
    ButtonStyle, CreateActionRow, CreateButton, CreateEmbed, CreateEmbedFooter, ReactionType,
};

use super::Card;
use crate::catalog::Catalog;
use crate::favorite::{Outcome, Standing, Tally};
use crate::limits::{self, clamp};
use crate::locale::Locale;

/// A bar of `width` blocks for `count` out of `total`, with the count and the share: `█████░░░░░ 5 · 50%`.
pub fn bar(count: u32, total: u32, width: usize) -> String {
    let share = if total == 0 {
        0.0
    } else {
        f64::from(count) / f64::from(total)
    };
    let filled = ((share * width as f64).round() as usize).min(width);
    let percent = (share * 100.0).round() as u32;
    format!(
        "{}{} {count} · {percent}%",
        "█".repeat(filled),
        "░".repeat(width - filled)
    )
}

const BAR_WIDTH: usize = 12;

/// The name of the thread on a poll's results (at most 100 characters): the results' headline ("🏆 Winner: 🎭 Kill
/// Me, Heal Me", a tie, or no votes), so the thread says what it is about.
pub fn results_thread_name(catalog: &Catalog, tally: Option<&Tally>, locale: Locale) -> String {
    let empty = Tally { votes: Vec::new() };
    clamp(
        &results_headline(catalog, tally.unwrap_or(&empty), locale),
        limits::THREAD_NAME,
    )
}

/// The results' headline: the winner, a tie, or no votes.
fn results_headline(catalog: &Catalog, tally: &Tally, locale: Locale) -> String {
    let strings = locale.strings();
    match tally.outcome() {
        Outcome::NoVotes => strings.poll_no_votes.to_owned(),
        Outcome::Winner(id) => format!(
            "🏆 {}: {}",
            strings.poll_winner,
            scene_title(catalog, &id, locale)
        ),
        Outcome::Tie(ids) => format!("🤝 {}", locale.poll_tie(ids.len())),
    }
}

/// A scene's emoji and title in `locale` (its id when the catalog lacks it).
fn scene_title(catalog: &Catalog, id: &str, locale: Locale) -> String {
    catalog
        .scene(id)
        .map(|s| format!("{} {}", s.emoji, super::localized_title(s, locale)))
        .unwrap_or_else(|| id.to_owned())
}

/// The results message in `locale`: the outcome, every scene's votes as a bar chart under its poll label, a link to
/// the poll, and the winner's card.
pub fn results_card(
    catalog: &Catalog,
    tally: &Tally,
    locale: Locale,
    poll_url: Option<&str>,
) -> Card {
    let strings = locale.strings();
    let total = tally.total();
    let outcome = tally.outcome();
    let title_of = |id: &str| scene_title(catalog, id, locale);
    let headline = results_headline(catalog, tally, locale);
    let mut chart = String::new();
    if let Outcome::Tie(ids) = &outcome {
        let names: Vec<String> = ids.iter().map(|id| title_of(id)).collect();
        chart.push_str(&format!("**{}**\n\n", names.join(" · ")));
    }
    for (id, count) in &tally.votes {
        let label = catalog
            .scene(id)
            .map_or(id.as_str(), |s| s.poll_label.get(locale));
        let emoji = catalog.scene(id).map_or("", |s| s.emoji.as_str());
        chart.push_str(&format!(
            "{emoji} {label}\n`{}`\n",
            bar(*count, total, BAR_WIDTH)
        ));
    }
    chart.push_str(&format!("\n{}", locale.vote_count(total)));
    let mut results = CreateEmbed::new()
        .title(clamp(&headline, limits::EMBED_TITLE))
        .description(clamp(&chart, limits::EMBED_DESCRIPTION))
        .footer(CreateEmbedFooter::new(clamp(
            strings.poll_footer,
            limits::EMBED_FOOTER,
        )));
    if let Some(url) = poll_url {
        results = results.url(url);
    }
    let mut card = Card {
        embeds: vec![results],
        components: Vec::new(),
    };
    if let Outcome::Winner(id) = &outcome {
        if let Some(scene) = catalog.scene(id) {
            let winner = super::scene_card(catalog, scene, locale);
            let mut both = card.clone();
            both.embeds.extend(winner.embeds);
            // The two embeds share Discord's 6,000 characters: keep the winner's card only when both fit.
            if both.total_embed_chars() <= limits::EMBED_TOTAL {
                card = both;
            }
        }
    }
    if let Some(url) = poll_url {
        card.components
            .push(CreateActionRow::Buttons(vec![CreateButton::new_link(url)
                .label(clamp(strings.poll_view, limits::BUTTON_LABEL))
                .emoji(ReactionType::Unicode("🗳️".to_owned()))
                .style(ButtonStyle::Secondary)]));
    }
    card
}

/// The hall of fame card.
pub fn leaderboard_card(
    catalog: &Catalog,
    standings: &[Standing],
    polls: usize,
    locale: Locale,
) -> Card {
    let strings = locale.strings();
    let mut lines = Vec::new();
    for (rank, standing) in standings.iter().enumerate() {
        let medal = match rank {
            0 => "🥇",
            1 => "🥈",
            2 => "🥉",
            _ => "▫️",
        };
        let title = catalog
            .scene(&standing.scene_id)
            .map(|s| format!("{} {}", s.emoji, super::localized_title(s, locale)))
            .unwrap_or_else(|| standing.scene_id.clone());
        lines.push(format!(
            "{medal} **{title}**\n{}",
            locale.standing(standing.wins, standing.shared_wins, standing.votes)
        ));
    }
    let description = if lines.is_empty() {
        strings.leaderboard_empty.to_owned()
    } else {
        lines.join("\n")
    };
    Card {
        embeds: vec![CreateEmbed::new()
            .title(clamp(strings.leaderboard_title, limits::EMBED_TITLE))
            .description(clamp(&description, limits::EMBED_DESCRIPTION))
            .footer(CreateEmbedFooter::new(clamp(
                &locale.polls_counted(polls),
                limits::EMBED_FOOTER,
            )))],
        components: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bars_show_share_and_count() {
        assert_eq!(bar(5, 10, 10), "█████░░░░░ 5 · 50%");
        assert_eq!(bar(0, 0, 4), "░░░░ 0 · 0%");
        assert_eq!(bar(1, 3, 3), "█░░ 1 · 33%");
        assert_eq!(bar(3, 3, 3), "███ 3 · 100%");
    }

    #[test]
    fn a_korean_results_chart_shows_the_korean_labels() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let scene_ids: Vec<String> = catalog.scenes.iter().map(|s| s.id.clone()).collect();
        let positions: Vec<u64> = (1..=scene_ids.len() as u64).collect();
        let tally = Tally::from_answer_counts(&scene_ids, &positions, &[(1, 3), (4, 1)]);
        let card = results_card(&catalog, &tally, Locale::Ko, None);
        let json = serde_json::to_value(card.into_channel_message()).unwrap_or_default();
        let chart = json["embeds"][0]["description"]
            .as_str()
            .unwrap_or_default();
        for scene in &catalog.scenes {
            assert!(chart.contains(&scene.poll_label.ko), "{chart}");
            assert!(!chart.contains(&scene.poll_label.en), "{chart}");
        }
        assert_eq!(
            json["embeds"][0]["title"],
            "🏆 우리 서버 최애 장면: 💼 김비서가 왜 그럴까"
        );
    }

    #[test]
    fn results_cards_fit_and_say_the_outcome() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let scene_ids: Vec<String> = catalog.scenes.iter().map(|s| s.id.clone()).collect();
        for (counts, expect) in [
            (vec![(5, 9), (2, 3)], "🏆"),
            (vec![(1, 4), (2, 4)], "🤝"),
            (vec![], ""),
        ] {
            let positions: Vec<u64> = (1..=scene_ids.len() as u64).collect();
            let tally = Tally::from_answer_counts(&scene_ids, &positions, &counts);
            for locale in Locale::ALL {
                let card = results_card(
                    &catalog,
                    &tally,
                    locale,
                    Some("https://discord.com/channels/1/2/3"),
                );
                assert!(card.total_embed_chars() <= limits::EMBED_TOTAL);
                let json = serde_json::to_value(card.into_channel_message()).unwrap_or_default();
                let title = json["embeds"][0]["title"]
                    .as_str()
                    .unwrap_or_default()
                    .to_owned();
                assert!(title.starts_with(expect), "{title}");
                assert_eq!(
                    json["embeds"].as_array().map(Vec::len),
                    Some(if expect == "🏆" { 2 } else { 1 })
                );
            }
        }
    }
}
