//! The daily scene, the pure part: reading a time and a time zone, when the next post is due (daylight saving
//! included), which post is due now, and the shuffle bag that shows every scene once before any repeats.
//!
//! All times are computed from the wall clock in the server's zone: a local time that does not exist on a DST day
//! (spring forward) moves to the first valid instant after it; one that occurs twice (fall back) uses the first.

use chrono::{DateTime, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use rand::seq::SliceRandom;
use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::locale::Locale;

/// A post more than this late (after downtime) is skipped rather than made.
pub const LATE_LIMIT: Duration = Duration::hours(6);
/// After this many failed days in a row the schedule pauses.
pub const FAILURES_BEFORE_PAUSE: u32 = 3;
/// The default post time.
pub const DEFAULT_TIME: &str = "09:00";
/// How a post time is shown: `HH:MM`, as [`parse_time`] reads it.
pub const TIME_FORMAT: &str = "%H:%M";
/// The default zone.
pub const DEFAULT_ZONE: &str = "UTC";

/// A time the user typed that is not `HH:MM`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a time; write it as HH:MM on a 24-hour clock, like 09:00 or 21:30")]
pub struct BadTime(pub String);

/// A zone the user typed that is not an IANA zone name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("\"{0}\" is not a time zone; use an IANA name like Asia/Seoul, America/New_York or UTC")]
pub struct BadZone(pub String);

/// Reads `"HH:MM"` (also `"H:MM"`), 24-hour clock.
pub fn parse_time(text: &str) -> Result<NaiveTime, BadTime> {
    let text = text.trim();
    let bad = || BadTime(text.chars().take(40).collect());
    let (hours, minutes) = text.split_once(':').ok_or_else(bad)?;
    if hours.is_empty() || hours.len() > 2 || minutes.len() != 2 {
        return Err(bad());
    }
    let hours: u32 = hours.parse().map_err(|_| bad())?;
    let minutes: u32 = minutes.parse().map_err(|_| bad())?;
    NaiveTime::from_hms_opt(hours, minutes, 0).ok_or_else(bad)
}

/// Reads an IANA zone name, ignoring case (`asia/seoul` works).
pub fn parse_zone(text: &str) -> Result<Tz, BadZone> {
    let text = text.trim();
    Tz::from_str_insensitive(text).map_err(|_| BadZone(text.chars().take(60).collect()))
}

/// Zones offered first when nothing is typed: where the bot's users mostly are.
const POPULAR_ZONES: &[&str] = &[
    "Asia/Seoul",
    "UTC",
    "America/New_York",
    "America/Los_Angeles",
    "America/Chicago",
    "Europe/London",
    "Europe/Paris",
    "Asia/Tokyo",
    "Asia/Manila",
    "Asia/Jakarta",
    "Asia/Singapore",
    "Asia/Kolkata",
    "Australia/Sydney",
    "America/Sao_Paulo",
    "America/Mexico_City",
];

/// Up to `limit` zone names for what the user typed: prefix matches (of the name or of its city) first, then names
/// containing it; popular zones when nothing is typed.
pub fn zone_suggestions(partial: &str, limit: usize) -> Vec<&'static str> {
    let needle = partial.trim().to_lowercase().replace(' ', "_");
    if needle.is_empty() {
        return POPULAR_ZONES.iter().copied().take(limit).collect();
    }
    let mut ranked: Vec<(u8, &'static str)> = chrono_tz::TZ_VARIANTS
        .iter()
        .map(|tz| tz.name())
        .filter_map(|name| {
            let lower = name.to_lowercase();
            let city = lower.rsplit('/').next().unwrap_or(&lower);
            let rank = if lower.starts_with(&needle) || city.starts_with(&needle) {
                0
            } else if lower.contains(&needle) {
                1
            } else {
                return None;
            };
            let popular = if POPULAR_ZONES.contains(&name) { 0 } else { 1 };
            Some((rank * 2 + popular, name))
        })
        .collect();
    ranked.sort();
    ranked
        .into_iter()
        .map(|(_, name)| name)
        .take(limit)
        .collect()
}

/// The instant of the post on local `date` at local `time` in `zone`: a time skipped by a DST change moves to the
/// first valid instant after it; a time that occurs twice uses the first.
pub fn slot(date: NaiveDate, time: NaiveTime, zone: Tz) -> DateTime<Utc> {
    let local = date.and_time(time);
    match zone.from_local_datetime(&local) {
        LocalResult::Single(instant) => instant.with_timezone(&Utc),
        LocalResult::Ambiguous(first, _) => first.with_timezone(&Utc),
        LocalResult::None => {
            // In a gap: walk forward minute by minute (gaps are at most a few hours) to the first valid local time.
            for minutes in 1..=24 * 60 {
                let later = local + Duration::minutes(minutes);
                // Transitions fall on whole minutes, so the first valid minute is the transition instant itself.
                if let Some(instant) = zone.from_local_datetime(&later).earliest() {
                    return instant.with_timezone(&Utc);
                }
            }
            // No zone has a day-long gap; fall back to reading the time as UTC rather than failing.
            local.and_utc()
        }
    }
}

/// The local date in `zone` at `instant`.
pub fn local_date(instant: DateTime<Utc>, zone: Tz) -> NaiveDate {
    instant.with_timezone(&zone).date_naive()
}

/// The first post strictly after `now`, with its local date.
pub fn next_post(now: DateTime<Utc>, time: NaiveTime, zone: Tz) -> (NaiveDate, DateTime<Utc>) {
    let mut date = local_date(now, zone) - Duration::days(1);
    // A post is on one of the next three local dates; the loop is bounded for safety.
    for _ in 0..4 {
        let instant = slot(date, time, zone);
        if instant > now {
            return (date, instant);
        }
        date = date.succ_opt().unwrap_or(date);
    }
    (date, slot(date, time, zone))
}

/// The most recent post at or before `now`, with its local date.
pub fn latest_post(now: DateTime<Utc>, time: NaiveTime, zone: Tz) -> (NaiveDate, DateTime<Utc>) {
    let mut date = local_date(now, zone) + Duration::days(1);
    for _ in 0..4 {
        let instant = slot(date, time, zone);
        if instant <= now {
            return (date, instant);
        }
        date = date.pred_opt().unwrap_or(date);
    }
    (date, slot(date, time, zone))
}

/// What the scheduler should do for a server at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Post for this local date now (on time, or late but within [`LATE_LIMIT`]).
    Post(NaiveDate),
    /// This date's post was missed by more than [`LATE_LIMIT`]: record it skipped, with a log line.
    Skip(NaiveDate),
    /// Nothing to do until the next post.
    Wait,
}

/// Decides what is due. `active_since`: when the schedule was set or resumed (posts before it are not owed);
/// `handled`: whether the latest post's date already has a record (claimed, sent, failed or skipped).
pub fn due(
    now: DateTime<Utc>,
    time: NaiveTime,
    zone: Tz,
    active_since: DateTime<Utc>,
    handled: impl FnOnce(NaiveDate) -> bool,
) -> Due {
    let (date, instant) = latest_post(now, time, zone);
    if instant < active_since || handled(date) {
        Due::Wait
    } else if now - instant < LATE_LIMIT {
        Due::Post(date)
    } else {
        Due::Skip(date)
    }
}

/// The per-server shuffle bag: every scene once per round, never the same scene twice in a row across rounds.
/// A new schedule's bag is stored as `{}` (the column's default): every field defaults, so it reads as empty.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ShuffleBag {
    /// Scenes still to show this round, in order.
    pub remaining: Vec<String>,
    /// Scenes shown this round.
    pub shown: Vec<String>,
    /// The last scene shown.
    pub last: Option<String>,
}

impl ShuffleBag {
    /// The next scene, given the catalog's current ids: scenes removed from the dataset are dropped; scenes added
    /// join this round at random places; a new round never starts with the scene just shown.
    pub fn draw(&mut self, catalog_ids: &[String], rng: &mut impl Rng) -> Option<String> {
        if catalog_ids.is_empty() {
            return None;
        }
        self.remaining.retain(|id| catalog_ids.contains(id));
        self.shown.retain(|id| catalog_ids.contains(id));
        for id in catalog_ids {
            if !self.remaining.contains(id) && !self.shown.contains(id) {
                let at = rng.random_range(0..=self.remaining.len());
                self.remaining.insert(at, id.clone());
            }
        }
        if self.remaining.is_empty() {
            self.shown.clear();
            self.remaining = catalog_ids.to_vec();
            self.remaining.shuffle(rng);
        }
        if self.remaining.len() > 1 && self.remaining.first() == self.last.as_ref() {
            let other = rng.random_range(1..self.remaining.len());
            self.remaining.swap(0, other);
        }
        let next = self.remaining.remove(0);
        self.shown.push(next.clone());
        self.last = Some(next.clone());
        Some(next)
    }

    /// Scenes left in this round.
    pub fn left_in_round(&self, catalog_ids: &[String]) -> usize {
        let left = self
            .remaining
            .iter()
            .filter(|id| catalog_ids.contains(id))
            .count();
        let unseen = catalog_ids
            .iter()
            .filter(|id| !self.remaining.contains(id) && !self.shown.contains(id))
            .count();
        left + unseen
    }
}

/// The nonce of a daily post (≤ 25 characters): one per server and local date.
pub fn post_nonce(guild_id: u64, date: NaiveDate) -> String {
    let mut digits = Vec::new();
    let mut rest = guild_id;
    loop {
        let digit = (rest % 36) as u32;
        digits.push(char::from_digit(digit, 36).unwrap_or('0'));
        rest /= 36;
        if rest == 0 {
            break;
        }
    }
    let base36: String = digits.into_iter().rev().collect();
    format!("d{base36}{}", date.format("%Y%m%d"))
}

/// The next post's unix time after `now` (unix seconds), for messages; `None` for a time out of chrono's range.
pub fn next_post_at(now: i64, time: NaiveTime, zone: Tz) -> Option<i64> {
    let now = DateTime::<Utc>::from_timestamp(now, 0)?;
    Some(next_post(now, time, zone).1.timestamp())
}

/// A saved `/daily set`, as its answer tells it.
#[derive(Debug, Clone, Copy)]
pub struct SetDone {
    /// The channel posts go to.
    pub channel: u64,
    /// The local time of the post.
    pub time: NaiveTime,
    /// The zone it is read in.
    pub zone: Tz,
    /// Whether the manager named the zone (else it is the default, UTC).
    pub zone_given: bool,
    /// Whether each post gets a thread.
    pub thread: bool,
    /// The language of the server's posts.
    pub server_locale: Locale,
    /// Now, unix seconds.
    pub now: i64,
}

/// What `/daily set` tells the manager (in `locale`): where and when, the next post, threads, and for a server
/// whose posts are Korean and that named no zone, what UTC means in Korea and how to get Korean time (09:00 UTC
/// is 18:00 in Seoul: most likely not what a Korean server wanted).
pub fn set_answer(locale: Locale, done: SetDone) -> String {
    let time = done.time.format(TIME_FORMAT).to_string();
    let next = next_post_at(done.now, done.time, done.zone);
    let mut text = locale.daily_on(done.channel, &time, done.zone.name(), next);
    if done.thread {
        text.push('\n');
        text.push_str(locale.daily_thread_on());
    }
    let seoul = next
        .and_then(|at| DateTime::<Utc>::from_timestamp(at, 0))
        .map(|at| {
            at.with_timezone(&chrono_tz::Asia::Seoul)
                .format(TIME_FORMAT)
        });
    if let (false, Locale::Ko, Some(seoul)) = (done.zone_given, done.server_locale, seoul) {
        text.push('\n');
        text.push_str(&locale.default_zone_hint(&time, &seoul.to_string()));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_schedules_bag_reads_as_empty() {
        let bag: Result<ShuffleBag, _> = serde_json::from_str("{}");
        assert_eq!(bag.ok(), Some(ShuffleBag::default()));
    }
    use rand::{rngs::StdRng, SeedableRng};

    fn zone(name: &str) -> Tz {
        parse_zone(name).unwrap_or_else(|e| panic!("{e}"))
    }

    fn time(text: &str) -> NaiveTime {
        parse_time(text).unwrap_or_else(|e| panic!("{e}"))
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_else(|| panic!("bad date"))
    }

    fn utc(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .with_timezone(&Utc)
    }

    #[test]
    fn times_and_zones_are_read_strictly() {
        assert_eq!(
            parse_time("09:00"),
            Ok(NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default())
        );
        assert_eq!(
            parse_time("9:05").map(|t| t.to_string()),
            Ok("09:05:00".to_owned())
        );
        for bad in ["24:00", "9", "09:60", "9am", "09:0", "", "-1:00", "012:00"] {
            assert!(parse_time(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_zone("asia/seoul").map(|z| z.name()), Ok("Asia/Seoul"));
        assert!(parse_zone("Mars/Olympus").is_err());
        assert!(parse_zone("KST+9").is_err());
    }

    #[test]
    fn zone_suggestions_rank_prefixes_and_cities() {
        assert_eq!(
            zone_suggestions("", 3),
            vec!["Asia/Seoul", "UTC", "America/New_York"]
        );
        assert_eq!(zone_suggestions("seoul", 25).first(), Some(&"Asia/Seoul"));
        assert_eq!(
            zone_suggestions("new york", 25).first(),
            Some(&"America/New_York")
        );
        assert!(zone_suggestions("europe", 25).len() == 25);
        assert!(zone_suggestions("zzzz", 25).is_empty());
    }

    #[test]
    fn new_york_spring_forward_moves_a_skipped_time_to_the_first_valid_instant() {
        // 2027-03-14: 02:00 EST jumps to 03:00 EDT; 02:30 does not exist.
        let ny = zone("America/New_York");
        assert_eq!(
            slot(date(2027, 3, 14), time("02:30"), ny),
            utc("2027-03-14T07:00:00Z")
        );
        assert_eq!(
            slot(date(2027, 3, 14), time("09:00"), ny),
            utc("2027-03-14T13:00:00Z")
        );
        assert_eq!(
            slot(date(2027, 3, 13), time("09:00"), ny),
            utc("2027-03-13T14:00:00Z")
        );
    }

    #[test]
    fn new_york_fall_back_uses_the_first_of_two_times() {
        // 2027-11-07: 02:00 EDT falls back to 01:00 EST; 01:30 happens twice.
        let ny = zone("America/New_York");
        assert_eq!(
            slot(date(2027, 11, 7), time("01:30"), ny),
            utc("2027-11-07T05:30:00Z")
        );
        assert_eq!(
            slot(date(2027, 11, 7), time("09:00"), ny),
            utc("2027-11-07T14:00:00Z")
        );
    }

    #[test]
    fn london_changes_with_british_summer_time() {
        let london = zone("Europe/London");
        // 2027-03-28: 01:00 GMT → 02:00 BST; 01:30 does not exist.
        assert_eq!(
            slot(date(2027, 3, 28), time("01:30"), london),
            utc("2027-03-28T01:00:00Z")
        );
        assert_eq!(
            slot(date(2027, 3, 27), time("09:00"), london),
            utc("2027-03-27T09:00:00Z")
        );
        assert_eq!(
            slot(date(2027, 3, 28), time("09:00"), london),
            utc("2027-03-28T08:00:00Z")
        );
        // 2027-10-31: 02:00 BST → 01:00 GMT; 01:30 happens twice, the first is BST.
        assert_eq!(
            slot(date(2027, 10, 31), time("01:30"), london),
            utc("2027-10-31T00:30:00Z")
        );
    }

    #[test]
    fn lord_howe_has_a_thirty_minute_shift() {
        let howe = zone("Australia/Lord_Howe");
        // 2027-10-03: 02:00 LHST (+10:30) → 02:30 LHDT (+11); 02:15 does not exist.
        assert_eq!(
            slot(date(2027, 10, 3), time("02:15"), howe),
            utc("2027-10-02T15:30:00Z")
        );
        assert_eq!(
            slot(date(2027, 10, 3), time("09:00"), howe),
            utc("2027-10-02T22:00:00Z")
        );
        assert_eq!(
            slot(date(2027, 10, 2), time("09:00"), howe),
            utc("2027-10-01T22:30:00Z")
        );
        // 2027-04-04: 02:00 LHDT → 01:30 LHST; 01:45 happens twice, the first is +11.
        assert_eq!(
            slot(date(2027, 4, 4), time("01:45"), howe),
            utc("2027-04-03T14:45:00Z")
        );
    }

    #[test]
    fn seoul_has_no_daylight_saving() {
        let seoul = zone("Asia/Seoul");
        for (y, m, d) in [(2027, 1, 15), (2027, 3, 14), (2027, 7, 1), (2027, 11, 7)] {
            let instant = slot(date(y, m, d), time("09:00"), seoul);
            assert_eq!(instant.time(), time("00:00"), "{y}-{m}-{d}");
        }
    }

    #[test]
    fn the_next_post_rolls_over_the_date_and_handles_29_february() {
        let seoul = zone("Asia/Seoul");
        // 23:30 UTC on 28 Feb 2028 is 08:30 on 29 Feb in Seoul: the post is the same local day at 09:00.
        assert_eq!(
            next_post(utc("2028-02-28T23:30:00Z"), time("09:00"), seoul),
            (date(2028, 2, 29), utc("2028-02-29T00:00:00Z"))
        );
        // Just after it, the next is 1 March.
        assert_eq!(
            next_post(utc("2028-02-29T00:00:00Z"), time("09:00"), seoul),
            (date(2028, 3, 1), utc("2028-03-01T00:00:00Z"))
        );
        // A zone behind UTC: 03:00 UTC on 1 Jan is still 22:00 on 31 Dec in New York.
        let ny = zone("America/New_York");
        assert_eq!(
            next_post(utc("2028-01-01T03:00:00Z"), time("23:30"), ny),
            (date(2027, 12, 31), utc("2028-01-01T04:30:00Z"))
        );
        assert_eq!(
            latest_post(utc("2028-01-01T03:00:00Z"), time("21:00"), ny),
            (date(2027, 12, 31), utc("2028-01-01T02:00:00Z"))
        );
    }

    #[test]
    fn what_is_due_after_downtime() {
        let seoul = zone("Asia/Seoul");
        let set = utc("2027-05-01T00:00:00Z");
        let nothing = |_: NaiveDate| false;
        let nine = time("09:00"); // 00:00 UTC
        assert_eq!(
            due(utc("2027-05-02T00:00:00Z"), nine, seoul, set, nothing),
            Due::Post(date(2027, 5, 2))
        );
        assert_eq!(
            due(utc("2027-05-02T05:59:00Z"), nine, seoul, set, nothing),
            Due::Post(date(2027, 5, 2))
        );
        assert_eq!(
            due(utc("2027-05-02T06:00:00Z"), nine, seoul, set, nothing),
            Due::Skip(date(2027, 5, 2))
        );
        assert_eq!(
            due(utc("2027-05-02T01:00:00Z"), nine, seoul, set, |_| true),
            Due::Wait
        );
        // Set at 10:00 local: today's 09:00 is not owed.
        let late_set = utc("2027-05-02T01:00:00Z");
        assert_eq!(
            due(utc("2027-05-02T01:01:00Z"), nine, seoul, late_set, nothing),
            Due::Wait
        );
    }

    #[test]
    fn the_bag_shows_every_scene_once_per_round_without_back_to_back_repeats() {
        let ids: Vec<String> = (0..6).map(|i| format!("s{i}")).collect();
        let mut bag = ShuffleBag::default();
        let mut rng = StdRng::seed_from_u64(42);
        let mut shown = Vec::new();
        for _ in 0..600 {
            shown.push(bag.draw(&ids, &mut rng).unwrap_or_default());
        }
        for round in shown.chunks(6) {
            let mut sorted = round.to_vec();
            sorted.sort();
            assert_eq!(sorted, ids, "every round shows every scene once");
        }
        for pair in shown.windows(2) {
            assert_ne!(pair[0], pair[1], "no back-to-back repeat");
        }
    }

    #[test]
    fn the_bag_follows_dataset_changes() {
        let mut rng = StdRng::seed_from_u64(1);
        let mut bag = ShuffleBag::default();
        let ids: Vec<String> = ["a", "b", "c"].iter().map(|s| s.to_string()).collect();
        let first = bag.draw(&ids, &mut rng).unwrap_or_default();
        // "b" or "c" removed, "d" added: the round still covers what exists, once.
        let changed: Vec<String> = ["a", "c", "d"].iter().map(|s| s.to_string()).collect();
        let mut rest = Vec::new();
        for _ in 0..bag.left_in_round(&changed) {
            rest.push(bag.draw(&changed, &mut rng).unwrap_or_default());
        }
        let mut round: Vec<String> = std::iter::once(first)
            .chain(rest)
            .filter(|id| changed.contains(id))
            .collect();
        round.sort();
        round.dedup();
        assert_eq!(round, changed);
        assert!(!bag.shown.contains(&"b".to_owned()));
        assert_eq!(ShuffleBag::default().draw(&[], &mut rng), None);
    }

    #[test]
    fn nonces_fit_discord() {
        let nonce = post_nonce(u64::MAX, date(2027, 12, 31));
        assert!(nonce.len() <= 25, "{nonce}");
        assert_ne!(
            post_nonce(1, date(2027, 1, 1)),
            post_nonce(1, date(2027, 1, 2))
        );
        assert_ne!(
            post_nonce(1, date(2027, 1, 1)),
            post_nonce(2, date(2027, 1, 1))
        );
    }

    #[test]
    fn the_set_answer_offers_korean_time_to_a_korean_server_that_named_no_zone() {
        let done = SetDone {
            channel: 7,
            time: NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default(),
            zone: chrono_tz::UTC,
            zone_given: false,
            thread: true,
            server_locale: Locale::Ko,
            // 2026-12-08 00:00 UTC: the next post is 09:00 UTC the same day, 18:00 in Seoul.
            now: 1_796_688_000,
        };
        let text = set_answer(Locale::En, done);
        assert!(text.contains("every day at 09:00 (UTC) in <#7>"), "{text}");
        assert!(text.contains("<t:1796720400:F>"), "{text}");
        assert!(text.contains("🧵"), "{text}");
        assert!(text.contains("09:00 UTC is 18:00 in Korea"), "{text}");
        // A zone named, or a server whose posts are English: no hint.
        for done in [
            SetDone {
                zone_given: true,
                zone: chrono_tz::Asia::Seoul,
                ..done
            },
            SetDone {
                server_locale: Locale::En,
                ..done
            },
        ] {
            assert!(!set_answer(Locale::Ko, done).contains("ℹ️"), "{done:?}");
        }
        assert!(!set_answer(
            Locale::Ko,
            SetDone {
                thread: false,
                ..done
            }
        )
        .contains("🧵"));
    }
}
