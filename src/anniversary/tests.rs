//! The calendar, the priority rule, 29 February, the bag rule, and a sweep of whole years in three zones.

use std::collections::HashMap;

use chrono::{Duration, TimeZone};
use rand::{rngs::StdRng, SeedableRng};

use super::*;

fn bundled() -> Catalog {
    Catalog::bundled().unwrap_or_else(|e| panic!("{e}"))
}

fn day(text: &str) -> NaiveDate {
    crate::catalog::parse_iso_date(text).unwrap_or_else(|| panic!("{text}"))
}

fn at(hour: u32) -> NaiveTime {
    NaiveTime::from_hms_opt(hour, 0, 0).unwrap_or_default()
}

const SEOUL: Tz = chrono_tz::Asia::Seoul;
const LOS_ANGELES: Tz = chrono_tz::America::Los_Angeles;
const KIRITIMATI: Tz = chrono_tz::Pacific::Kiritimati;

#[test]
fn the_calendar_holds_every_sourced_date_in_priority_order() {
    let marks = calendar(&bundled());
    let listed: Vec<(Occasion, Option<&str>, String)> = marks
        .iter()
        .map(|m| (m.occasion, m.scene.as_deref(), m.date.to_string()))
        .collect();
    assert_eq!(listed.len(), 16, "{listed:?}");
    assert_eq!(listed[0], (Occasion::Birthday, None, "1988-12-16".into()));
    assert_eq!(
        listed[1..4],
        [
            (
                Occasion::KissEpisode,
                Some("witchs-romance"),
                "2014-04-15".into()
            ),
            (
                Occasion::KissEpisode,
                Some("fight-for-my-way"),
                "2017-06-20".into()
            ),
            (
                Occasion::KissEpisode,
                Some("kill-me-heal-me"),
                "2015-02-18".into()
            ),
        ]
    );
    assert!(listed[4..10].iter().all(|m| m.0 == Occasion::Premiere));
    assert!(listed[10..].iter().all(|m| m.0 == Occasion::Finale));
    assert!(marks.iter().all(|m| m.source.starts_with("http")));
}

#[test]
fn the_headline_example_and_the_birthday_age() {
    let marks = calendar(&bundled());
    let premiere = special_on(&marks, day("2026-01-07")).unwrap_or_else(|| panic!("none"));
    assert_eq!(premiere.anniversary.occasion, Occasion::Premiere);
    assert_eq!(
        premiere.anniversary.scene.as_deref(),
        Some("kill-me-heal-me")
    );
    assert_eq!(premiere.years, 11);
    let birthday = special_on(&marks, day("2026-12-16")).unwrap_or_else(|| panic!("none"));
    assert_eq!(
        (birthday.anniversary.occasion, birthday.years),
        (Occasion::Birthday, 38)
    );
    assert_eq!(special_on(&marks, day("2026-12-17")), None);
    // The first airing itself is not an anniversary, nor is a day before it.
    assert_eq!(special_on(&marks, day("2015-01-07")), None);
    assert_eq!(special_on(&marks, day("2014-01-07")), None);
}

/// A calendar of two marks on the same day of the year, of the given occasions (dates years apart).
fn two_marks(first: Occasion, second: Occasion) -> Vec<Anniversary> {
    let mut marks = vec![
        Anniversary {
            occasion: second,
            scene: Some("b".into()),
            date: day("2016-05-01"),
            source: "https://b".into(),
        },
        Anniversary {
            occasion: first,
            scene: Some("a".into()),
            date: day("2015-05-01"),
            source: "https://a".into(),
        },
    ];
    marks.sort_by_key(|m| m.occasion);
    marks
}

#[test]
fn one_card_a_day_by_priority_birthday_kiss_premiere_finale() {
    let order = [
        Occasion::Birthday,
        Occasion::KissEpisode,
        Occasion::Premiere,
        Occasion::Finale,
    ];
    for (i, higher) in order.iter().enumerate() {
        for lower in &order[i + 1..] {
            let marks = two_marks(*higher, *lower);
            let shown = special_on(&marks, day("2027-05-01")).map(|o| o.anniversary.occasion);
            assert_eq!(shown, Some(*higher), "{higher:?} over {lower:?}");
        }
    }
    // Two of a kind: the first in the dataset, as the calendar (a stable sort) keeps it.
    let mut catalog = bundled();
    if let Some(aired) = catalog.scenes[3].drama.aired.as_mut() {
        aired.first = day("2017-01-07"); // Fight for My Way's premiere moved onto Kill Me, Heal Me's day
    }
    let shown =
        special_on(&calendar(&catalog), day("2027-01-07")).and_then(|o| o.anniversary.scene);
    assert_eq!(shown.as_deref(), Some("fight-for-my-way"));
}

#[test]
fn the_29th_of_february_is_marked_on_the_28th_in_common_years() {
    assert_eq!(
        observed_in(day("2016-02-29"), 2027),
        Some(day("2027-02-28"))
    );
    assert_eq!(
        observed_in(day("2016-02-29"), 2028),
        Some(day("2028-02-29"))
    );
    assert_eq!(
        observed_in(day("2015-03-12"), 2028),
        Some(day("2028-03-12"))
    );
    let marks = vec![Anniversary {
        occasion: Occasion::Premiere,
        scene: Some("leap".into()),
        date: day("2016-02-29"),
        source: "https://leap".into(),
    }];
    let common = special_on(&marks, day("2027-02-28")).map(|o| o.years);
    assert_eq!(common, Some(11));
    assert_eq!(special_on(&marks, day("2027-03-01")), None);
    assert_eq!(
        special_on(&marks, day("2028-02-28")),
        None,
        "a leap year marks the day itself"
    );
    assert_eq!(
        special_on(&marks, day("2028-02-29")).map(|o| o.years),
        Some(12)
    );
}

#[test]
fn an_anniversary_day_leaves_the_bag_as_it_was() {
    let catalog = bundled();
    let marks = calendar(&catalog);
    let ids = catalog.scene_ids();
    let mut rng = StdRng::seed_from_u64(28);
    let mut bag = ShuffleBag::default();
    for _ in 0..3 {
        bag.draw(&ids, &mut rng);
    }
    let before = bag.clone();
    let post = day_post(&marks, day("2026-12-16"), &mut bag, &ids, &mut rng);
    assert!(matches!(post, Some(DayPost::Special(_))), "{post:?}");
    assert_eq!(bag, before, "nothing drawn, nothing marked shown");
    let next = day_post(&marks, day("2026-12-17"), &mut bag, &ids, &mut rng);
    assert!(
        matches!(next, Some(DayPost::Scene(ref id)) if before.remaining.contains(id)),
        "{next:?}"
    );
}

/// One server's posts over every local date of `year`, posting at `time` in `zone`: the local date is read back
/// from the post's instant, as the scheduler does.
fn sweep(catalog: &Catalog, zone: Tz, time: NaiveTime, year: i32) -> Vec<(NaiveDate, DayPost)> {
    let marks = calendar(catalog);
    let ids = catalog.scene_ids();
    let mut rng = StdRng::seed_from_u64(u64::try_from(year).unwrap_or(0));
    let mut bag = ShuffleBag::default();
    let mut posts = Vec::new();
    let mut date = NaiveDate::from_ymd_opt(year, 1, 1).unwrap_or_default();
    while date.year() == year {
        let instant = daily::slot(date, time, zone);
        let local = daily::local_date(instant, zone);
        assert_eq!(local, date, "{zone} {date}");
        assert_eq!(special_at(&marks, instant, zone), special_on(&marks, local));
        if let Some(post) = day_post(&marks, local, &mut bag, &ids, &mut rng) {
            posts.push((local, post));
        }
        date += Duration::days(1);
    }
    posts
}

#[test]
fn a_whole_year_in_three_zones_each_card_once_on_its_day_and_the_bag_fair_between() {
    let catalog = bundled();
    let marks = calendar(&catalog);
    let ids = catalog.scene_ids();
    for zone in [SEOUL, LOS_ANGELES, KIRITIMATI] {
        // 2027 is a common year, 2028 a leap year; 00:30 and 23:30 are the edges of a local day.
        for (year, time) in [
            (2027, at(9)),
            (2028, at(9)),
            (2028, NaiveTime::from_hms_opt(0, 30, 0).unwrap_or_default()),
            (2027, NaiveTime::from_hms_opt(23, 30, 0).unwrap_or_default()),
        ] {
            let posts = sweep(&catalog, zone, time, year);
            let days = if year == 2028 { 366 } else { 365 };
            assert_eq!(posts.len(), days, "one post every day, {zone} {year}");
            let mut seen: HashMap<(Occasion, Option<String>), (NaiveDate, u32)> = HashMap::new();
            let mut drawn = Vec::new();
            for (date, post) in &posts {
                match post {
                    DayPost::Special(o) => {
                        let key = (o.anniversary.occasion, o.anniversary.scene.clone());
                        assert!(seen.insert(key, (*date, o.years)).is_none(), "twice: {o:?}");
                    }
                    DayPost::Scene(id) => drawn.push(id.clone()),
                }
            }
            for mark in &marks {
                let key = (mark.occasion, mark.scene.clone());
                let expected_day = observed_in(mark.date, year).unwrap_or_default();
                let expected_years = u32::try_from(year - mark.date.year()).unwrap_or(0);
                assert_eq!(
                    seen.get(&key),
                    Some(&(expected_day, expected_years)),
                    "{zone} {year} {mark:?}"
                );
            }
            assert_eq!(seen.len(), marks.len());
            assert_eq!(
                drawn.len(),
                days - marks.len(),
                "every other day is the ordinary bag"
            );
            for round in drawn.chunks(ids.len()) {
                let mut sorted = round.to_vec();
                sorted.sort();
                sorted.dedup();
                assert_eq!(
                    sorted.len(),
                    round.len(),
                    "a scene twice in one round: {round:?}"
                );
            }
            assert!(
                drawn.windows(2).all(|w| w[0] != w[1]),
                "never the same scene on two ordinary days in a row"
            );
        }
    }
}

#[test]
fn a_server_gets_its_own_local_dates_card_whatever_the_date_in_seoul() {
    let marks = calendar(&bundled());
    // Kiritimati (UTC+14) posting at 02:00 on 7 January 2027: 21:00 on the 6th in Seoul, before midnight KST.
    let early = daily::slot(day("2027-01-07"), at(2), KIRITIMATI);
    assert_eq!(
        early,
        Utc.with_ymd_and_hms(2027, 1, 6, 12, 0, 0)
            .single()
            .unwrap_or_default()
    );
    let card = special_at(&marks, early, KIRITIMATI).unwrap_or_else(|| panic!("no card"));
    assert_eq!(
        (card.anniversary.scene.as_deref(), card.years),
        (Some("kill-me-heal-me"), 12)
    );
    assert_eq!(
        special_at(&marks, early, SEOUL),
        None,
        "Seoul is still on the 6th"
    );
    // Los Angeles posting at 09:00 on 16 December 2027: 02:00 on the 17th in Seoul.
    let late = daily::slot(day("2027-12-16"), at(9), LOS_ANGELES);
    let birthday = special_at(&marks, late, LOS_ANGELES).unwrap_or_else(|| panic!("no card"));
    assert_eq!(
        (birthday.anniversary.occasion, birthday.years),
        (Occasion::Birthday, 39)
    );
    assert_eq!(
        special_at(&marks, late, SEOUL),
        None,
        "Seoul is on the 17th"
    );
}

#[test]
fn the_next_anniversaries_with_their_unix_times() {
    let marks = calendar(&bundled());
    let next = upcoming(&marks, day("2026-12-07"), SEOUL, at(9), 4);
    let listed: Vec<(String, Occasion, u32, i64)> = next
        .iter()
        .map(|u| {
            (
                u.occurrence.on.to_string(),
                u.occurrence.anniversary.occasion,
                u.occurrence.years,
                u.unix,
            )
        })
        .collect();
    let unix = |y, m, d, h| {
        Utc.with_ymd_and_hms(y, m, d, h, 0, 0)
            .single()
            .map_or(0, |t| t.timestamp())
    };
    // 09:00 in Seoul is midnight UTC.
    let row = |date: &str, occasion, years| {
        let date = day(date);
        let midnight = unix(date.year(), date.month(), date.day(), 0);
        (date.to_string(), occasion, years, midnight)
    };
    assert_eq!(
        listed,
        [
            row("2026-12-16", Occasion::Birthday, 38),
            row("2026-12-19", Occasion::Premiere, 10),
            row("2027-01-07", Occasion::Premiere, 12),
            row("2027-02-18", Occasion::KissEpisode, 12),
        ]
    );
    // In Los Angeles the same days, at 09:00 there (17:00 UTC in winter).
    let la = upcoming(&marks, day("2026-12-07"), LOS_ANGELES, at(9), 1);
    assert_eq!(la.first().map(|u| u.unix), Some(unix(2026, 12, 16, 17)));
    // A whole year ahead lists every mark once; the day itself counts.
    let year = upcoming(&marks, day("2026-12-16"), SEOUL, at(9), 100);
    assert_eq!(
        year.first().map(|u| u.occurrence.on),
        Some(day("2026-12-16"))
    );
    assert_eq!(year.len(), 100);
    assert!(upcoming(&[], day("2026-12-07"), SEOUL, at(9), 3).is_empty());
}
