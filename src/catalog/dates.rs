//! The dataset's dates (schema 2): each drama's Korean broadcast run, the air date of a scene's kiss episode, and the
//! actor's birth date, every one with the page that states it.
//!
//! A date is refused without a source, in the future, outside its drama's run, or with its run backwards. "The
//! future" is measured against a `today` passed in, never the wall clock, so the rule is tested on any date;
//! [`today_anywhere`] is the one place that reads the clock, for the command line and the bot's start-up.

use chrono::{Datelike, Duration, NaiveDate, Utc};
use serde::{Deserialize, Deserializer};

use super::{Catalog, Checker, Scene};
use crate::limits;

/// The schema version that introduced dates; a version-1 file loads without any.
pub const DATES_SINCE: u32 = 2;

/// A drama's first and last Korean broadcast dates, with the page that states them.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct AirDates {
    /// The premiere's Korean broadcast date.
    #[serde(deserialize_with = "iso_date")]
    pub first: NaiveDate,
    /// The finale's Korean broadcast date.
    #[serde(deserialize_with = "iso_date")]
    pub last: NaiveDate,
    /// The URL of a page stating both dates (empty when missing, so `check` can say so in its own words).
    #[serde(default)]
    pub source: String,
}

/// The Korean broadcast date of a scene's episode, with the page that states it.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct EpisodeAired {
    /// The date the episode aired in Korea.
    #[serde(deserialize_with = "iso_date")]
    pub date: NaiveDate,
    /// The URL of a page stating it (empty when missing, so `check` can say so in its own words).
    #[serde(default)]
    pub source: String,
}

/// Reads `YYYY-MM-DD` strictly (no time, no offset): the one date shape of the dataset.
fn iso_date<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveDate, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse_iso_date(&text).ok_or_else(|| {
        serde::de::Error::custom(format!("\"{text}\" must be a date written YYYY-MM-DD"))
    })
}

/// `YYYY-MM-DD` as a date (exactly that shape, a real calendar day), or `None`.
pub fn parse_iso_date(text: &str) -> Option<NaiveDate> {
    let shaped = text.len() == 10
        && text.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    shaped
        .then(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok())
        .flatten()
}

/// The latest calendar date anywhere on Earth now (UTC+14, Kiritimati): a date that has begun somewhere is not
/// "in the future", so an operator east of UTC is never refused today's date. Reads the system clock: the edge.
pub fn today_anywhere() -> NaiveDate {
    (Utc::now() + Duration::hours(14)).date_naive()
}

impl Catalog {
    /// The actor's birth date, when the dataset gives it with a source (schema 2); `None` for a version-1 file.
    pub fn birth_date(&self) -> Option<NaiveDate> {
        self.actor
            .born_source
            .as_ref()
            .and_then(|_| parse_iso_date(&self.actor.born))
    }

    /// The date problems of a parsed dataset, measured against `today`.
    pub(super) fn check_dates(&self, today: NaiveDate, check: &mut Checker) {
        let dated = self.schema_version >= DATES_SINCE;
        match &self.actor.born_source {
            Some(_) if !dated => check.fail("actor.born_source", needs_version()),
            // A version-1 file: its birth date stays a plain fact, with no birthday card.
            None if !dated => {}
            None => check.fail(
                "actor.born_source",
                "the birth date has no source: give the URL of a page that states it",
            ),
            Some(source) => {
                check.source("actor.born_source", source);
                if let Some(born) = parse_iso_date(&self.actor.born) {
                    check.not_future("actor.born", born, today);
                }
            }
        }
        for (index, scene) in self.scenes.iter().enumerate() {
            scene.check_dates(&format!("scenes[{index}]"), dated, today, check);
        }
    }
}

/// Why a date field is refused in a version-1 file.
fn needs_version() -> String {
    format!("dates need \"schema_version\": {DATES_SINCE} (a version-1 file has none)")
}

impl Scene {
    fn check_dates(&self, at: &str, dated: bool, today: NaiveDate, check: &mut Checker) {
        let drama = &self.drama;
        if let Some(aired) = &drama.aired {
            let path = format!("{at}.drama.aired");
            if !dated {
                check.fail(&path, needs_version());
            }
            check.source(&format!("{path}.source"), &aired.source);
            check.not_future(&format!("{path}.first"), aired.first, today);
            check.not_future(&format!("{path}.last"), aired.last, today);
            if aired.last < aired.first {
                check.fail(
                    &format!("{path}.last"),
                    format!(
                        "{} is before the first air date {}",
                        aired.last, aired.first
                    ),
                );
            }
            // Against the drama's years only when those are valid: an out-of-range year is one problem, not three.
            let end_year = drama.end_year.unwrap_or(drama.year);
            let plausible = |year: u16| (limits::FIRST_YEAR..=limits::LAST_YEAR).contains(&year);
            let year = |date: NaiveDate| u16::try_from(date.year()).unwrap_or(0);
            if plausible(drama.year) && year(aired.first) != drama.year {
                check.fail(
                    &format!("{path}.first"),
                    format!("{} is not in drama.year {}", aired.first, drama.year),
                );
            }
            if plausible(end_year) && year(aired.last) != end_year {
                check.fail(
                    &format!("{path}.last"),
                    format!("{} is not in the drama's last year {end_year}", aired.last),
                );
            }
        }
        let Some(episode) = &self.episode_aired else {
            return;
        };
        let path = format!("{at}.episode_aired");
        if !dated {
            check.fail(&path, needs_version());
        }
        check.source(&format!("{path}.source"), &episode.source);
        check.not_future(&format!("{path}.date"), episode.date, today);
        if self.episode.is_none() {
            check.fail(&path, "an air date needs the episode it is the date of");
        }
        match &drama.aired {
            Some(aired) if !(aired.first..=aired.last).contains(&episode.date) => check.fail(
                &format!("{path}.date"),
                format!(
                    "{} is outside the drama's air dates ({} to {})",
                    episode.date, aired.first, aired.last
                ),
            ),
            Some(_) => {}
            None => check.fail(
                &path,
                "an episode's air date needs the drama's air dates (drama.aired) to be checked against",
            ),
        }
    }
}

impl Checker {
    /// A source must be there, and be a web address (`http://` is allowed: a citation is not a button link, and
    /// some Korean press pages are served over plain HTTP).
    fn source(&mut self, path: &str, source: &str) {
        let source = source.trim();
        if source.is_empty() {
            self.fail(
                path,
                "the date has no source: give the URL of a page that states it",
            );
            return;
        }
        self.web_address(path, source, &["http://", "https://"]);
    }

    fn not_future(&mut self, path: &str, date: NaiveDate, today: NaiveDate) {
        if date > today {
            self.fail(
                path,
                format!("{date} is in the future (today is {today}): only a date that has been can be sourced"),
            );
        }
    }
}
