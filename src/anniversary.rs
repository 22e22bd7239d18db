//! "On this day", the pure part: the calendar of a dataset's anniversaries (each drama's premiere and finale, each
//! dated kiss episode) and the actor's birthday; which one, if any, is a server's special card on its own local
//! date; how the day's post leaves the shuffle bag fair; and the next anniversaries from a date.
//!
//! - **Local dates.** A server's day is its own calendar date in its IANA zone: a server in Los Angeles posting at
//!   09:00 on 16 December gets the birthday card although Seoul is already on the 17th. Years are counted from that
//!   local date, so the number is right in every zone.
//! - **One card a day; priority.** When two anniversaries fall on one date the day shows the first of: the
//!   birthday (once a year, about the actor himself, the day fans mark most), a kiss episode (the bot's own subject),
//!   a premiere (where a drama's story starts), a finale; between two of a kind, the scene first in the dataset (the
//!   article's order). The others are not moved to another day: "on this day" is only true on the day.
//! - **29 February.** A date on 29 February is marked on 28 February in common years: it stays in its month, and
//!   its year count is the same as on the day itself.
//! - **The bag.** An anniversary day does not draw from the shuffle bag at all ([`day_post`]): the round resumes the
//!   next day where it stopped, so every scene still comes once before any repeats, and a day has one post.

use chrono::{DateTime, Datelike, NaiveDate, NaiveTime, Utc};
use chrono_tz::Tz;
use rand::Rng;

use crate::catalog::Catalog;
use crate::daily::{self, ShuffleBag};
pub use crate::locale::Occasion;

impl Occasion {
    /// The stable code a day's post record keeps (`daily_posts.special`).
    pub fn code(self) -> &'static str {
        match self {
            Occasion::Birthday => "birthday",
            Occasion::KissEpisode => "kiss-episode",
            Occasion::Premiere => "premiere",
            Occasion::Finale => "finale",
        }
    }

    /// Reads a kept code; `None` for one only a newer build writes.
    pub fn parse(code: &str) -> Option<Occasion> {
        [
            Occasion::Birthday,
            Occasion::KissEpisode,
            Occasion::Premiere,
            Occasion::Finale,
        ]
        .into_iter()
        .find(|occasion| occasion.code() == code)
    }
}

/// One mark in the calendar: what happened on which date (the original date, not this year's).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anniversary {
    /// What is marked; its order is the priority.
    pub occasion: Occasion,
    /// The scene whose drama (or kiss episode) it is; `None` for the birthday.
    pub scene: Option<String>,
    /// The day it happened (a Korean broadcast date, or the birth date).
    pub date: NaiveDate,
    /// The page that states the date.
    pub source: String,
}

/// An anniversary on a given day: how many years it has been (the age, on a birthday).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Occurrence {
    /// The anniversary.
    pub anniversary: Anniversary,
    /// The local date it is marked on.
    pub on: NaiveDate,
    /// Whole years since the original date (at least 1).
    pub years: u32,
}

/// Every anniversary of a dataset, in priority order (birthday, kiss episodes, premieres, finales; dataset order
/// within each); empty for a dataset without dates (schema 1).
pub fn calendar(catalog: &Catalog) -> Vec<Anniversary> {
    let mut marks = Vec::new();
    if let (Some(born), Some(source)) = (catalog.birth_date(), &catalog.actor.born_source) {
        marks.push(Anniversary {
            occasion: Occasion::Birthday,
            scene: None,
            date: born,
            source: source.clone(),
        });
    }
    for scene in &catalog.scenes {
        let mark = |occasion, date, source: &String| Anniversary {
            occasion,
            scene: Some(scene.id.clone()),
            date,
            source: source.clone(),
        };
        if let Some(aired) = &scene.episode_aired {
            marks.push(mark(Occasion::KissEpisode, aired.date, &aired.source));
        }
        if let Some(aired) = &scene.drama.aired {
            marks.push(mark(Occasion::Premiere, aired.first, &aired.source));
            marks.push(mark(Occasion::Finale, aired.last, &aired.source));
        }
    }
    // A stable sort keeps the dataset's order within each occasion.
    marks.sort_by_key(|mark| mark.occasion);
    marks
}

/// The date `original` is marked on in `year`: the same month and day, 29 February on 28 February in a common year.
pub fn observed_in(original: NaiveDate, year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, original.month(), original.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, original.month(), original.day() - 1))
}

/// The anniversary of `mark` on `date`, if `date` is one (a year or more after it).
fn occurrence_on(mark: &Anniversary, date: NaiveDate) -> Option<Occurrence> {
    let years = u32::try_from(date.year() - mark.date.year()).ok()?;
    (years >= 1 && observed_in(mark.date, date.year()) == Some(date)).then(|| Occurrence {
        anniversary: mark.clone(),
        on: date,
        years,
    })
}

/// The day's special card on a server's local `date`, if any: the first anniversary of `calendar` (in priority
/// order, as [`calendar`] returns it) that falls on it.
pub fn special_on(calendar: &[Anniversary], date: NaiveDate) -> Option<Occurrence> {
    calendar.iter().find_map(|mark| occurrence_on(mark, date))
}

/// The special card of a server in `zone` at the instant `now` (its local date there): the clock is passed in.
pub fn special_at(calendar: &[Anniversary], now: DateTime<Utc>, zone: Tz) -> Option<Occurrence> {
    special_on(calendar, daily::local_date(now, zone))
}

/// The occurrence on `date` of the anniversary a claim recorded (`occasion` of `scene`): how a post claimed before
/// a crash is rebuilt. `None` when the dataset no longer has that mark, or `date` is not its day.
pub fn occurrence_of(
    calendar: &[Anniversary],
    occasion: Occasion,
    scene: Option<&str>,
    date: NaiveDate,
) -> Option<Occurrence> {
    calendar
        .iter()
        .filter(|mark| mark.occasion == occasion && mark.scene.as_deref() == scene)
        .find_map(|mark| occurrence_on(mark, date))
}

/// What a server's daily post on one local date is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DayPost {
    /// An anniversary or the birthday: its card, and the bag is left as it was.
    Special(Occurrence),
    /// An ordinary day: the scene drawn from the bag.
    Scene(String),
}

/// The daily post of a server's local `date`, the one rule that keeps the bag fair: an anniversary day shows its
/// card and does not touch `bag` (nothing drawn, nothing marked shown), so the round goes on the next ordinary day;
/// any other day draws the next scene. Called once per local date (the store keeps one post a date), so a day never
/// gets two posts. `None` only for an empty catalog on an ordinary day.
pub fn day_post(
    calendar: &[Anniversary],
    date: NaiveDate,
    bag: &mut ShuffleBag,
    catalog_ids: &[String],
    rng: &mut impl Rng,
) -> Option<DayPost> {
    match special_on(calendar, date) {
        Some(occurrence) => Some(DayPost::Special(occurrence)),
        None => bag.draw(catalog_ids, rng).map(DayPost::Scene),
    }
}

/// One upcoming anniversary, for a list of what is coming (a future `/anniversaries` command).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upcoming {
    /// The anniversary on its day.
    pub occurrence: Occurrence,
    /// The instant of `time` on that local date in the zone, in Unix seconds (for a Discord `<t:…>` timestamp).
    pub unix: i64,
}

/// The next `count` special days from local date `from` (included) in `zone`, as the daily post would show them
/// (one a day, by the priority rule), each with the Unix time of `time` that day (the server's post time; DST
/// handled as the daily schedule does). Looks at most eight years ahead, which holds every mark at least once.
pub fn upcoming(
    calendar: &[Anniversary],
    from: NaiveDate,
    zone: Tz,
    time: NaiveTime,
    count: usize,
) -> Vec<Upcoming> {
    let mut found: Vec<Upcoming> = Vec::new();
    if calendar.is_empty() {
        return found;
    }
    // Candidate days: each mark's observed date in this year and the next eight, from `from` on.
    let mut days: Vec<NaiveDate> = (from.year()..=from.year() + 8)
        .flat_map(|year| {
            calendar
                .iter()
                .filter_map(move |m| observed_in(m.date, year))
        })
        .filter(|day| *day >= from)
        .collect();
    days.sort_unstable();
    days.dedup();
    for day in days {
        if found.len() >= count {
            break;
        }
        if let Some(occurrence) = special_on(calendar, day) {
            found.push(Upcoming {
                unix: daily::slot(day, time, zone).timestamp(),
                occurrence,
            });
        }
    }
    found
}

#[cfg(test)]
mod tests;
