//! The scene catalog: the dataset's plain types, loading and validation.
//!
//! The dataset is read once at start-up. Loading refuses bad data with messages that point at the problem: the
//! file, line and column of a JSON syntax error, the field path of a schema error, and every semantic problem
//! (duplicate ids, empty or over-long texts measured against the Discord limit of the place they are shown in).
//!
//! This file is over 600 lines for its tests (the last 75): each validation rule is tested beside the rule, and
//! the types, the loader and the rules are one contract that splitting would scatter.

use std::fmt;
use std::path::Path;

use chrono::NaiveDate;
use serde::Deserialize;

use crate::limits;

mod dates;

pub use dates::{parse_iso_date, today_anywhere, AirDates, EpisodeAired, DATES_SINCE};

/// The dataset format this build writes: version 2 adds sourced dates. Versions 1 to this one are read (a version-1
/// file loads without dates); a newer file is refused.
pub const SCHEMA_VERSION: u32 = 2;

/// The dataset shipped inside the binary, so the bot runs with no file beside it.
pub const BUNDLED_JSON: &str = include_str!("../data/scenes.json");

/// Where the bundled dataset comes from, for messages.
pub const BUNDLED_NAME: &str = "data/scenes.json (bundled)";

/// A text in both languages the bot speaks.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Text {
    /// English.
    pub en: String,
    /// Korean.
    pub ko: String,
}

impl Text {
    /// The text in `locale`.
    pub fn get(&self, locale: crate::locale::Locale) -> &str {
        match locale {
            crate::locale::Locale::En => &self.en,
            crate::locale::Locale::Ko => &self.ko,
        }
    }
}

/// The whole dataset: what `data/scenes.json` holds.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The format version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// The dataset's revision date (`YYYY-MM-DD`), shown by `/about`.
    pub revision: String,
    /// The actor every scene is about.
    pub actor: Actor,
    /// The article the dataset comes from, credited on every card.
    pub source: Source,
    /// The article's "See Also" item, linked from every card.
    pub see_also: SeeAlso,
    /// The scenes, in the article's order.
    pub scenes: Vec<Scene>,
}

/// Park Seo-joon.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Actor {
    /// Stage name.
    pub name: Text,
    /// Name at birth.
    pub birth_name: Text,
    /// Birth date, `YYYY-MM-DD`.
    pub born: String,
    /// The URL of a page stating the birth date (schema 2; required there). Without it there is no birthday card.
    #[serde(default)]
    pub born_source: Option<String>,
    /// Birthplace.
    pub birthplace: Text,
}

/// The source article, for credit.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// The article's title.
    pub title: String,
    /// The site that published it.
    pub site: String,
    /// The article's URL.
    pub url: String,
}

/// The article's "See Also" item.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SeeAlso {
    /// Its headline.
    pub title: Text,
    /// Where it can be read; kept in the dataset so an operator can change it.
    pub url: String,
    /// A line about the drama it concerns.
    pub about: Text,
}

/// One kiss scene.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scene {
    /// A stable slug (`^[a-z0-9-]{1,40}$`), used in buttons and autocomplete values.
    pub id: String,
    /// The drama the scene is from.
    pub drama: Drama,
    /// Park Seo-joon's character.
    pub role: Role,
    /// The scene partner.
    pub partner: Partner,
    /// The episode, only where a source states it.
    pub episode: Option<u16>,
    /// The episode's Korean air date with its source (schema 2), only where a source states it.
    #[serde(default)]
    pub episode_aired: Option<EpisodeAired>,
    /// What happens, in our own words.
    pub summary: Text,
    /// A one-line fan note, where the facts give one.
    pub fan_note: Option<Text>,
    /// The answer text in a favorite-scene poll, in the server's language (≤ 55 characters each, unique per
    /// language, so an answer Discord returns names one scene).
    pub poll_label: Text,
    /// The scene's emoji (cards, polls, autocomplete).
    pub emoji: String,
    /// The card's accent colour, `#RRGGBB`.
    pub color: String,
    /// An optional still; the bundled dataset ships none, since we own no stills.
    pub image_url: Option<String>,
}

/// A drama.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Drama {
    /// The official English title.
    pub title: String,
    /// Other English titles fans use.
    pub alt_titles: Vec<String>,
    /// The Korean title in Hangul.
    pub title_ko: String,
    /// The romanized Korean title.
    pub romanization: String,
    /// The year it started airing.
    pub year: u16,
    /// The year it finished airing, when different.
    pub end_year: Option<u16>,
    /// The broadcaster.
    pub network: String,
    /// The number of episodes.
    pub episodes: u16,
    /// The first and last Korean broadcast dates with their source (schema 2), where a source gives them.
    #[serde(default)]
    pub aired: Option<AirDates>,
}

/// Park Seo-joon's character in a scene.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// The character's name.
    pub name: Text,
    /// Other names fans type for the character.
    pub aliases: Vec<String>,
    /// Who the character is, in a phrase.
    pub about: Text,
}

/// The scene partner.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Partner {
    /// The actor.
    pub actor: Text,
    /// The actor's character.
    pub role: Text,
    /// Other names fans type for the character.
    pub aliases: Vec<String>,
}

impl Drama {
    /// The title in the reader's language: the official English one, or the Hangul one.
    pub fn title_in(&self, locale: crate::locale::Locale) -> &str {
        match locale {
            crate::locale::Locale::En => &self.title,
            crate::locale::Locale::Ko => &self.title_ko,
        }
    }

    /// "2018" or "2016–2017".
    pub fn years(&self) -> String {
        match self.end_year {
            Some(end) if end != self.year => format!("{}–{}", self.year, end),
            _ => self.year.to_string(),
        }
    }
}

impl Catalog {
    /// The scene with this id.
    pub fn scene(&self, id: &str) -> Option<&Scene> {
        self.scenes.iter().find(|scene| scene.id == id)
    }

    /// Every scene's id, in dataset order: what a server's shuffle bag draws from.
    pub fn scene_ids(&self) -> Vec<String> {
        self.scenes.iter().map(|scene| scene.id.clone()).collect()
    }

    /// The index of the scene with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.scenes.iter().position(|scene| scene.id == id)
    }

    /// Loads and validates the dataset bundled in the binary.
    pub fn bundled() -> Result<Catalog, LoadError> {
        Catalog::from_json(BUNDLED_NAME, BUNDLED_JSON)
    }

    /// Loads and validates a dataset file, or the bundled one when `path` is `None`; `more` adds the checks of
    /// the layers above (how the scenes render: `respond::load_catalog`), which this module does not know.
    pub fn load_with(
        path: Option<&Path>,
        more: impl Fn(&Catalog) -> Vec<Problem>,
    ) -> Result<Catalog, LoadError> {
        Catalog::load_on(path, today_anywhere(), more)
    }

    /// [`Catalog::load_with`], with dates after `today` refused as in the future.
    pub fn load_on(
        path: Option<&Path>,
        today: NaiveDate,
        more: impl Fn(&Catalog) -> Vec<Problem>,
    ) -> Result<Catalog, LoadError> {
        let Some(path) = path else {
            return Catalog::from_json_on(BUNDLED_NAME, BUNDLED_JSON, today, more);
        };
        let name = path.display().to_string();
        let json = std::fs::read_to_string(path).map_err(|error| LoadError {
            file: name.clone(),
            problems: vec![Problem::at("", format!("cannot read the file: {error}"))],
        })?;
        Catalog::from_json_on(&name, &json, today, more)
    }

    /// Parses and validates dataset text (its data: types, fields, limits of each text); `file` names it in
    /// messages.
    pub fn from_json(file: &str, json: &str) -> Result<Catalog, LoadError> {
        Catalog::from_json_with(file, json, |_| Vec::new())
    }

    /// [`Catalog::from_json`], with `more` checks once the data itself is sound; "today" is the latest date on
    /// Earth now ([`today_anywhere`]).
    pub fn from_json_with(
        file: &str,
        json: &str,
        more: impl Fn(&Catalog) -> Vec<Problem>,
    ) -> Result<Catalog, LoadError> {
        Catalog::from_json_on(file, json, today_anywhere(), more)
    }

    /// The pure loader: [`Catalog::from_json_with`] with `today` passed in, so the future-date rule is tested on
    /// any day.
    pub fn from_json_on(
        file: &str,
        json: &str,
        today: NaiveDate,
        more: impl Fn(&Catalog) -> Vec<Problem>,
    ) -> Result<Catalog, LoadError> {
        let fail = |problems| LoadError {
            file: file.to_owned(),
            problems,
        };
        let mut deserializer = serde_json::Deserializer::from_str(json);
        let catalog: Catalog = serde_path_to_error::deserialize(&mut deserializer)
            .map_err(|error| fail(vec![Problem::from_serde(error)]))?;
        deserializer
            .end()
            .map_err(|error| fail(vec![Problem::from_json(error)]))?;
        let mut problems = catalog.problems(today);
        if problems.is_empty() {
            problems = more(&catalog);
        }
        if problems.is_empty() {
            Ok(catalog)
        } else {
            Err(fail(problems))
        }
    }

    /// Every semantic problem of a parsed dataset, in file order; dates after `today` are in the future.
    fn problems(&self, today: NaiveDate) -> Vec<Problem> {
        let mut check = Checker::default();
        if !(1..=SCHEMA_VERSION).contains(&self.schema_version) {
            check.fail(
                "schema_version",
                format!(
                    "{} is not supported (this build reads versions 1 to {SCHEMA_VERSION})",
                    self.schema_version
                ),
            );
        }
        check.date("revision", &self.revision);
        check.text("actor.name", &self.actor.name, limits::EMBED_FIELD_NAME);
        check.text(
            "actor.birth_name",
            &self.actor.birth_name,
            limits::EMBED_FIELD_VALUE,
        );
        check.date("actor.born", &self.actor.born);
        check.text(
            "actor.birthplace",
            &self.actor.birthplace,
            limits::EMBED_FIELD_VALUE,
        );
        check.string("source.title", &self.source.title, limits::SOURCE_TITLE);
        check.string("source.site", &self.source.site, limits::SOURCE_SITE);
        check.url("source.url", &self.source.url);
        check.text("see_also.title", &self.see_also.title, limits::EMBED_TITLE);
        check.url("see_also.url", &self.see_also.url);
        check.text(
            "see_also.about",
            &self.see_also.about,
            limits::SEE_ALSO_ABOUT,
        );
        if self.scenes.is_empty() {
            check.fail(
                "scenes",
                "the list is empty: the bot needs at least one scene",
            );
        }
        if self.scenes.len() > limits::MAX_SCENES {
            check.fail(
                "scenes",
                format!(
                    "{} scenes; at most {} fit in a select menu and in autocomplete",
                    self.scenes.len(),
                    limits::MAX_SCENES
                ),
            );
        }
        for (index, scene) in self.scenes.iter().enumerate() {
            scene.check(&format!("scenes[{index}]"), &mut check);
            check.unique(
                &format!("scenes[{index}].id"),
                &scene.id,
                self.scenes[..index].iter().map(|s| s.id.as_str()),
            );
            let earlier = &self.scenes[..index];
            check.unique(
                &format!("scenes[{index}].emoji"),
                &scene.emoji,
                earlier.iter().map(|s| s.emoji.as_str()),
            );
            for locale in crate::locale::Locale::ALL {
                check.unique(
                    &format!("scenes[{index}].poll_label.{}", locale.field()),
                    scene.poll_label.get(locale),
                    earlier.iter().map(|s| s.poll_label.get(locale)),
                );
            }
        }
        self.check_dates(today, &mut check);
        check.problems
    }
}

impl Scene {
    fn check(&self, at: &str, check: &mut Checker) {
        let field = |name: &str| format!("{at}.{name}");
        let id_ok = !self.id.is_empty()
            && self.id.len() <= limits::SCENE_ID
            && self
                .id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !id_ok {
            check.fail(
                &field("id"),
                format!(
                    "\"{}\" must be 1 to {} characters of a-z, 0-9 and '-'",
                    self.id,
                    limits::SCENE_ID
                ),
            );
        }
        let drama = &self.drama;
        check.string(&field("drama.title"), &drama.title, limits::DRAMA_TITLE);
        for (index, title) in drama.alt_titles.iter().enumerate() {
            check.string(
                &field(&format!("drama.alt_titles[{index}]")),
                title,
                limits::ALT_TITLE,
            );
        }
        let joined = drama
            .alt_titles
            .join(limits::LIST_SEPARATOR)
            .chars()
            .count();
        if joined > limits::EMBED_FIELD_VALUE {
            check.fail(
                &field("drama.alt_titles"),
                format!(
                    "together {joined} characters; at most {} fit in one field",
                    limits::EMBED_FIELD_VALUE
                ),
            );
        }
        check.string(
            &field("drama.title_ko"),
            &drama.title_ko,
            limits::DRAMA_TITLE,
        );
        check.string(
            &field("drama.romanization"),
            &drama.romanization,
            limits::DRAMA_TITLE,
        );
        check.year(&field("drama.year"), drama.year);
        if let Some(end) = drama.end_year {
            check.year(&field("drama.end_year"), end);
            if end < drama.year {
                check.fail(
                    &field("drama.end_year"),
                    format!("{end} is before drama.year {}", drama.year),
                );
            }
        }
        check.string(&field("drama.network"), &drama.network, limits::NETWORK);
        if !(1..=limits::MAX_EPISODES).contains(&drama.episodes) {
            check.fail(
                &field("drama.episodes"),
                format!(
                    "{} is out of range (1 to {})",
                    drama.episodes,
                    limits::MAX_EPISODES
                ),
            );
        }
        if let Some(episode) = self.episode {
            if episode == 0 || episode > drama.episodes {
                check.fail(
                    &field("episode"),
                    format!(
                        "{episode} is out of range (1 to the drama's {} episodes)",
                        drama.episodes
                    ),
                );
            }
        }
        check.text(&field("role.name"), &self.role.name, limits::PERSON_NAME);
        check.aliases(&field("role.aliases"), &self.role.aliases);
        check.text(&field("role.about"), &self.role.about, limits::ROLE_ABOUT);
        check.text(
            &field("partner.actor"),
            &self.partner.actor,
            limits::PERSON_NAME,
        );
        check.text(
            &field("partner.role"),
            &self.partner.role,
            limits::PERSON_NAME,
        );
        check.aliases(&field("partner.aliases"), &self.partner.aliases);
        check.text(&field("summary"), &self.summary, limits::SUMMARY);
        if let Some(note) = &self.fan_note {
            check.text(&field("fan_note"), note, limits::FAN_NOTE);
        }
        check.text(&field("poll_label"), &self.poll_label, limits::POLL_ANSWER);
        let emoji_ok = !self.emoji.is_empty()
            && self.emoji.chars().count() <= limits::EMOJI_CHARS
            && !self
                .emoji
                .chars()
                .any(|c| c.is_ascii() || c.is_whitespace() || c.is_alphanumeric());
        if !emoji_ok {
            check.fail(
                &field("emoji"),
                format!("\"{}\" must be one unicode emoji", self.emoji),
            );
        }
        if parse_color(&self.color).is_none() {
            check.fail(
                &field("color"),
                format!("\"{}\" must be a colour written #RRGGBB", self.color),
            );
        }
        if let Some(url) = &self.image_url {
            check.url(&field("image_url"), url);
        }
    }

    /// The accent colour as a number (validated at load, so a fallback is never seen).
    pub fn color_value(&self) -> u32 {
        parse_color(&self.color).unwrap_or(0)
    }
}

/// `#RRGGBB` to a number.
fn parse_color(color: &str) -> Option<u32> {
    let hex = color.strip_prefix('#')?;
    if hex.len() != 6 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    u32::from_str_radix(hex, 16).ok()
}

/// Collects problems with their field paths.
#[derive(Default)]
struct Checker {
    problems: Vec<Problem>,
}

impl Checker {
    fn fail(&mut self, path: &str, message: impl Into<String>) {
        self.problems.push(Problem::at(path, message.into()));
    }

    fn string(&mut self, path: &str, value: &str, max: usize) {
        let length = value.chars().count();
        if value.trim().is_empty() {
            self.fail(path, "is empty");
        } else if length > max {
            self.fail(
                path,
                format!("is {length} characters; at most {max} fit where it is shown"),
            );
        } else if value.chars().any(|c| c.is_control() && c != '\n') {
            self.fail(path, "contains a control character");
        }
    }

    fn text(&mut self, path: &str, value: &Text, max: usize) {
        for locale in crate::locale::Locale::ALL {
            self.string(
                &format!("{path}.{}", locale.field()),
                value.get(locale),
                max,
            );
        }
    }

    fn aliases(&mut self, path: &str, aliases: &[String]) {
        for (index, alias) in aliases.iter().enumerate() {
            self.string(&format!("{path}[{index}]"), alias, limits::PERSON_NAME);
        }
    }

    /// `value` must differ from every earlier scene's value of the same field.
    fn unique<'a>(&mut self, path: &str, value: &str, earlier: impl Iterator<Item = &'a str>) {
        if let Some(first) = earlier.into_iter().position(|other| other == value) {
            self.fail(
                path,
                format!("\"{value}\" is already used by scenes[{first}]; each scene needs its own"),
            );
        }
    }

    fn year(&mut self, path: &str, year: u16) {
        if !(limits::FIRST_YEAR..=limits::LAST_YEAR).contains(&year) {
            self.fail(
                path,
                format!(
                    "{year} is out of range ({} to {})",
                    limits::FIRST_YEAR,
                    limits::LAST_YEAR
                ),
            );
        }
    }

    fn date(&mut self, path: &str, date: &str) {
        let parts: Vec<&str> = date.split('-').collect();
        let ok = matches!(parts.as_slice(), [y, m, d]
            if y.len() == 4 && m.len() == 2 && d.len() == 2
            && y.parse::<u16>().is_ok_and(|y| (1900..=2100).contains(&y))
            && m.parse::<u8>().is_ok_and(|m| (1..=12).contains(&m))
            && d.parse::<u8>().is_ok_and(|d| (1..=31).contains(&d)));
        if !ok {
            self.fail(
                path,
                format!("\"{date}\" must be a date written YYYY-MM-DD"),
            );
        }
    }

    fn url(&mut self, path: &str, url: &str) {
        self.web_address(path, url, &["https://"]);
    }

    /// `url` must start with one of `schemes` (and go on after it), fit a link button and hold no spaces.
    fn web_address(&mut self, path: &str, url: &str, schemes: &[&str]) {
        let ok = schemes
            .iter()
            .any(|scheme| url.starts_with(scheme) && url.len() > scheme.len())
            && url.len() <= limits::BUTTON_URL
            && !url.chars().any(|c| c.is_whitespace() || c.is_control());
        if !ok {
            self.fail(
                path,
                format!(
                    "\"{url}\" must be an {} URL of at most {} characters, without spaces",
                    schemes.join(" or "),
                    limits::BUTTON_URL
                ),
            );
        }
    }
}

/// One problem in a dataset, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The field path, like `scenes[3].drama.year` (empty for the whole file).
    pub path: String,
    /// Line and column in the file, when known.
    pub position: Option<(usize, usize)>,
    /// What is wrong.
    pub message: String,
}

impl Problem {
    /// A problem at a field path (empty for the whole file), without a position.
    pub fn at(path: &str, message: String) -> Problem {
        Problem {
            path: path.to_owned(),
            position: None,
            message,
        }
    }

    fn from_json(error: serde_json::Error) -> Problem {
        Problem {
            path: String::new(),
            position: Some((error.line(), error.column())),
            message: json_message(&error),
        }
    }

    fn from_serde(error: serde_path_to_error::Error<serde_json::Error>) -> Problem {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let inner_category = inner.classify();
        let mut problem = Problem::from_json(inner);
        // A syntax error has no meaningful field path (serde_path_to_error prints "?" there, "." for the root).
        let data_error = inner_category == serde_json::error::Category::Data;
        problem.path = if data_error && path != "." && path != "?" {
            path
        } else {
            String::new()
        };
        problem
    }
}

/// serde_json's message without its trailing " at line L column C" (we print the position ourselves).
fn json_message(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.position, self.path.is_empty()) {
            (Some((line, column)), true) => {
                write!(f, "line {line}, column {column}: {}", self.message)
            }
            (Some((line, column)), false) => {
                write!(
                    f,
                    "line {line}, column {column}: {}: {}",
                    self.path, self.message
                )
            }
            (None, true) => write!(f, "{}", self.message),
            (None, false) => write!(f, "{}: {}", self.path, self.message),
        }
    }
}

/// A dataset that cannot be used, with every problem found.
#[derive(Debug, Clone, thiserror::Error)]
pub struct LoadError {
    /// The file (or the bundled dataset's name).
    pub file: String,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.problems.len();
        write!(
            f,
            "{}: the dataset is invalid ({count} problem{})",
            self.file,
            if count == 1 { "" } else { "s" }
        )?;
        for problem in &self.problems {
            write!(f, "\n  {}: {}", self.file, one_line(&problem.to_string()))?;
        }
        Ok(())
    }
}

/// `text` with its control characters (a newline or an ESC from the data) escaped, so a problem stays on one line
/// and nothing from the file reaches the operator's terminal as a control sequence.
fn one_line(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bundled_dataset_is_valid() {
        let catalog = Catalog::bundled();
        assert!(
            catalog.is_ok(),
            "{}",
            catalog.err().map(|e| e.to_string()).unwrap_or_default()
        );
    }

    #[test]
    fn colours_parse() {
        assert_eq!(parse_color("#E91E63"), Some(0xE91E63));
        assert_eq!(parse_color("E91E63"), None);
        assert_eq!(parse_color("#E91E6"), None);
        assert_eq!(parse_color("#GG1E63"), None);
    }

    /// The day the date tests run on (the dataset's dates are all before it).
    const TODAY: NaiveDate = match NaiveDate::from_ymd_opt(2026, 12, 7) {
        Some(date) => date,
        None => NaiveDate::MIN,
    };

    fn day(text: &str) -> NaiveDate {
        parse_iso_date(text).unwrap_or_else(|| panic!("{text}"))
    }

    /// The problems of the bundled dataset after `edit`, as the loader prints them.
    fn problems_after(edit: impl Fn(&mut Catalog)) -> Vec<String> {
        let mut catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        edit(&mut catalog);
        catalog
            .problems(TODAY)
            .iter()
            .map(Problem::to_string)
            .collect()
    }

    #[test]
    fn poll_labels_are_checked_in_each_language() {
        let long_korean = problems_after(|c| c.scenes[0].poll_label.ko = "가".repeat(56));
        assert_eq!(
            long_korean,
            ["scenes[0].poll_label.ko: is 56 characters; at most 55 fit where it is shown"]
        );
        let empty_english = problems_after(|c| c.scenes[2].poll_label.en = " ".to_owned());
        assert_eq!(empty_english, ["scenes[2].poll_label.en: is empty"]);
        // 55 characters fit: the limit is Discord's, counted in characters, not bytes.
        assert!(problems_after(|c| c.scenes[0].poll_label.ko = "가".repeat(55)).is_empty());
    }

    #[test]
    fn poll_labels_are_unique_per_language_only() {
        let korean =
            problems_after(|c| c.scenes[3].poll_label.ko = c.scenes[1].poll_label.ko.clone());
        assert_eq!(korean.len(), 1, "{korean:?}");
        assert!(
            korean[0].starts_with("scenes[3].poll_label.ko: \"그녀는 예뻤다:")
                && korean[0].ends_with("is already used by scenes[1]; each scene needs its own"),
            "{korean:?}"
        );
        let english =
            problems_after(|c| c.scenes[5].poll_label.en = c.scenes[0].poll_label.en.clone());
        assert_eq!(
            english,
            ["scenes[5].poll_label.en: \"Secretary Kim: the passionate kiss\" is already used by scenes[0]; each scene needs its own"]
        );
        // A scene may show the same words in both languages (a title that is the same in Hangul and Latin).
        let same =
            problems_after(|c| c.scenes[4].poll_label.ko = c.scenes[4].poll_label.en.clone());
        assert!(same.is_empty(), "{same:?}");
    }

    #[test]
    fn years_read_well() {
        let mut catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let drama = &mut catalog.scenes[0].drama;
        drama.year = 2016;
        drama.end_year = Some(2017);
        assert_eq!(drama.years(), "2016–2017");
        drama.end_year = Some(2016);
        assert_eq!(drama.years(), "2016");
    }

    /// Factcheck: every date of the shipped dataset, pinned to its line in `shared/facts/scenes.md` and the
    /// source id there ([Sn]); the URL in the dataset is that source's.
    ///
    /// | date | dataset field | facts sheet line | source |
    /// |---|---|---|---|
    /// | 1988-12-16 | actor.born | §1 Born "16 December 1988" | S2 |
    /// | 2018-06-06 – 2018-07-26 | secretary-kim drama.aired | §2 Aired "6 June – 26 July 2018" | S6 |
    /// | 2015-09-16 – 2015-11-11 | she-was-pretty drama.aired | §3 Aired "16 Sep – 11 Nov 2015" | S17 |
    /// | 2014-04-14 – 2014-06-10 | witchs-romance drama.aired | §4 Aired "14 Apr – 10 Jun 2014" | S22 |
    /// | 2014-04-15 | witchs-romance episode_aired (ep 2) | §4 Episode "Episode 2 (aired 15 Apr 2014)" | S25 |
    /// | 2017-05-22 – 2017-07-11 | fight-for-my-way drama.aired | §5 Aired "22 May – 11 Jul 2017" | S31 |
    /// | 2017-06-20 | fight-for-my-way episode_aired (ep 10) | §5 Episode "Episode 10 (aired 20 Jun 2017)" | S35 |
    /// | 2016-12-19 – 2017-02-21 | hwarang drama.aired | §6 Aired "19 Dec 2016 – 21 Feb 2017" | S40 |
    /// | 2015-01-07 – 2015-03-12 | kill-me-heal-me drama.aired | §7 Aired "7 Jan – 12 Mar 2015" | S51 |
    /// | 2015-02-18 | kill-me-heal-me episode_aired (ep 13) | §7 Episode "Episode 13 (aired 18 Feb 2015)" | S54 |
    ///
    /// secretary-kim, she-was-pretty and hwarang have no episode date: the sheet leaves their episodes UNVERIFIED.
    #[test]
    fn the_shipped_dates_are_the_facts_sheets() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.schema_version, 2);
        assert_eq!(catalog.birth_date(), Some(day("1988-12-16")));
        assert_eq!(
            catalog.actor.born_source.as_deref(),
            Some("https://en.wikipedia.org/wiki/Park_Seo-joon")
        );
        let expected = [
            (
                "secretary-kim",
                "2018-06-06",
                "2018-07-26",
                "https://kdramadreaming.wordpress.com/2018/12/22/whats-wrong-with-secretary-kim/",
                None,
            ),
            (
                "she-was-pretty",
                "2015-09-16",
                "2015-11-11",
                "https://en.m.wikipedia.org/wiki/She_Was_Pretty",
                None,
            ),
            (
                "witchs-romance",
                "2014-04-14",
                "2014-06-10",
                "https://discoverasianworld.com/witchs-romance/",
                Some((2, "2014-04-15", "http://www.osen.co.kr/article/G1109833268")),
            ),
            (
                "fight-for-my-way",
                "2017-05-22",
                "2017-07-11",
                "https://thekatcafe.com/2018/05/16/tv-review-fight-for-my-way-spoilers/",
                Some((
                    10,
                    "2017-06-20",
                    "http://www2.osen.co.kr/article/G1110671387",
                )),
            ),
            (
                "hwarang",
                "2016-12-19",
                "2017-02-21",
                "https://en.m.wikipedia.org/wiki/Hwarang:_The_Poet_Warrior_Youth",
                None,
            ),
            (
                "kill-me-heal-me",
                "2015-01-07",
                "2015-03-12",
                "https://channel-korea.com/ji-sung-and-hwang-jung-eum-chemistry/2/",
                Some((
                    13,
                    "2015-02-18",
                    "https://www.newdaily.co.kr/site/data/html/2015/02/19/2015021900020.html",
                )),
            ),
        ];
        assert_eq!(catalog.scenes.len(), expected.len());
        for (id, first, last, source, episode) in expected {
            let scene = catalog.scene(id).unwrap_or_else(|| panic!("{id}"));
            let aired = scene.drama.aired.clone().unwrap_or_else(|| panic!("{id}"));
            assert_eq!((aired.first, aired.last), (day(first), day(last)), "{id}");
            assert_eq!(aired.source, source, "{id}");
            let dated = scene
                .episode_aired
                .as_ref()
                .map(|e| (scene.episode.unwrap_or(0), e.date, e.source.as_str()));
            assert_eq!(dated, episode.map(|(n, d, s)| (n, day(d), s)), "{id}");
        }
    }

    /// The shipped dataset as a version-1 file: the dates taken out, the version set back.
    fn version_1_json() -> serde_json::Value {
        let mut value: serde_json::Value =
            serde_json::from_str(BUNDLED_JSON).unwrap_or_else(|e| panic!("{e}"));
        value["schema_version"] = 1.into();
        value["actor"]
            .as_object_mut()
            .map(|a| a.remove("born_source"));
        for scene in value["scenes"].as_array_mut().into_iter().flatten() {
            scene.as_object_mut().map(|s| s.remove("episode_aired"));
            scene["drama"].as_object_mut().map(|d| d.remove("aired"));
        }
        value
    }

    /// The load error of a dataset (empty if it loads).
    fn load_error(json: &serde_json::Value) -> String {
        Catalog::from_json_on("test.json", &json.to_string(), TODAY, |_| Vec::new())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    #[test]
    fn a_version_1_file_still_loads_without_dates() {
        let text = version_1_json().to_string();
        let catalog = Catalog::from_json_on("v1.json", &text, TODAY, |_| Vec::new())
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(catalog.schema_version, 1);
        assert_eq!(
            catalog.birth_date(),
            None,
            "an unsourced birth date marks no birthday"
        );
        assert_eq!(catalog.actor.born, "1988-12-16", "the fact itself stays");
        assert!(catalog
            .scenes
            .iter()
            .all(|s| s.drama.aired.is_none() && s.episode_aired.is_none()));
        // A date in a version-1 file is refused: the version says what the file holds.
        let mut dated = version_1_json();
        dated["scenes"][0]["drama"]["aired"] = serde_json::json!({"first": "2018-06-06", "last": "2018-07-26", "source": "https://example.com/a"});
        let error = load_error(&dated);
        assert!(
            error.contains("scenes[0].drama.aired: dates need \"schema_version\": 2"),
            "{error}"
        );
        let mut newer = version_1_json();
        newer["schema_version"] = 3.into();
        let error = load_error(&newer);
        assert!(
            error.contains("schema_version: 3 is not supported (this build reads versions 1 to 2)"),
            "{error}"
        );
    }

    #[test]
    fn a_date_without_a_source_is_refused() {
        let born = problems_after(|c| c.actor.born_source = None);
        assert_eq!(born, ["actor.born_source: the birth date has no source: give the URL of a page that states it"]);
        let aired = problems_after(|c| {
            if let Some(aired) = c.scenes[1].drama.aired.as_mut() {
                aired.source = " ".into();
            }
        });
        assert_eq!(aired, ["scenes[1].drama.aired.source: the date has no source: give the URL of a page that states it"]);
        let episode = problems_after(|c| {
            if let Some(episode) = c.scenes[5].episode_aired.as_mut() {
                episode.source = "newdaily".into();
            }
        });
        assert_eq!(episode.len(), 1, "{episode:?}");
        assert!(
            episode[0].starts_with(
                "scenes[5].episode_aired.source: \"newdaily\" must be an http:// or https:// URL"
            ),
            "{episode:?}"
        );
    }

    #[test]
    fn a_date_in_the_future_is_refused_against_the_day_passed_in() {
        let mut catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        // Kill Me, Heal Me's finale is 2015-03-12: on 2015-03-11 it is in the future, on 2015-03-12 it is not.
        let problems = |catalog: &Catalog, today: &str| -> Vec<String> {
            catalog
                .problems(day(today))
                .iter()
                .map(Problem::to_string)
                .filter(|p| p.starts_with("scenes[5]"))
                .collect()
        };
        assert!(problems(&catalog, "2015-03-12").is_empty());
        assert_eq!(
            problems(&catalog, "2015-03-11"),
            ["scenes[5].drama.aired.last: 2015-03-12 is in the future (today is 2015-03-11): only a date that has been can be sourced"]
        );
        catalog.actor.born = "2027-01-01".into();
        let born: Vec<String> = catalog
            .problems(TODAY)
            .iter()
            .map(Problem::to_string)
            .collect();
        assert_eq!(born, ["actor.born: 2027-01-01 is in the future (today is 2026-12-07): only a date that has been can be sourced"]);
    }

    /// A change to the bundled dataset, for a table of cases.
    type Edit = fn(&mut Catalog);

    /// Sets scene `index`'s drama run (first or last date) or its episode's date.
    fn set_date(catalog: &mut Catalog, index: usize, field: &str, date: &str) {
        let scene = &mut catalog.scenes[index];
        let target = match (field, scene.drama.aired.as_mut()) {
            ("first", Some(aired)) => &mut aired.first,
            ("last", Some(aired)) => &mut aired.last,
            _ => match scene.episode_aired.as_mut() {
                Some(episode) => &mut episode.date,
                None => return,
            },
        };
        *target = day(date);
    }

    #[test]
    fn an_episode_date_outside_its_dramas_run_and_a_run_backwards_are_refused() {
        let cases: [(Edit, &str); 5] = [
            (
                |c| set_date(c, 3, "episode", "2017-07-12"),
                "scenes[3].episode_aired.date: 2017-07-12 is outside the drama's air dates (2017-05-22 to 2017-07-11)",
            ),
            (
                |c| set_date(c, 0, "last", "2018-06-05"),
                "scenes[0].drama.aired.last: 2018-06-05 is before the first air date 2018-06-06",
            ),
            (
                |c| set_date(c, 4, "last", "2016-12-31"),
                "scenes[4].drama.aired.last: 2016-12-31 is not in the drama's last year 2017",
            ),
            (
                |c| c.scenes[2].drama.aired = None,
                "scenes[2].episode_aired: an episode's air date needs the drama's air dates (drama.aired) to be checked against",
            ),
            (
                |c| c.scenes[2].episode = None,
                "scenes[2].episode_aired: an air date needs the episode it is the date of",
            ),
        ];
        for (edit, expected) in cases {
            assert_eq!(problems_after(edit), [expected]);
        }
    }

    #[test]
    fn dates_are_read_strictly() {
        assert_eq!(parse_iso_date("2015-02-18"), Some(day("2015-02-18")));
        for bad in [
            "2015-2-18",
            "2015-02-30",
            "18-02-2015",
            "2015-02-18T00:00",
            "２０１５-02-18",
            "",
        ] {
            assert_eq!(parse_iso_date(bad), None, "{bad}");
        }
    }
}
