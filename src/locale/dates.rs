//! Dates in both languages: air dates on cards (Korean broadcast dates, and the text says so), the "on this day"
//! headlines and the birthday lines. Korean headlines are noun phrases in the style of Korean entertainment news
//! ("11년 전 오늘, MBC '킬미, 힐미' 첫 방송"), which needs no subject particle after a title of any ending; the age
//! is 만 나이, written so (Korea's legal age since June 2023), and the birthday is the Nth (N번째 생일).

use chrono::{Datelike, NaiveDate};

use super::Locale;

/// English month names: dates are written "7 January 2015", unambiguous to readers on both sides of the Atlantic.
const MONTHS: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// What is marked on an anniversary, in the order of its priority (see `anniversary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Occasion {
    /// Park Seo-joon's birthday.
    Birthday,
    /// The air date of a scene's kiss episode.
    KissEpisode,
    /// A drama's first broadcast.
    Premiere,
    /// A drama's last broadcast.
    Finale,
}

/// What a headline names: the drama in the reader's language, its network, the episode of a kiss.
#[derive(Debug, Clone, Copy)]
pub struct Headline<'a> {
    /// What is marked.
    pub occasion: Occasion,
    /// Whole years since (the age, on a birthday).
    pub years: u32,
    /// The drama's title in the reader's language (the actor's name, on a birthday).
    pub title: &'a str,
    /// The drama's network.
    pub network: &'a str,
    /// The kiss episode's number, for [`Occasion::KissEpisode`].
    pub episode: Option<u16>,
}

impl Locale {
    /// "7 January 2015" / "2015년 1월 7일".
    pub fn long_date(self, date: NaiveDate) -> String {
        let (year, month, day) = (date.year(), date.month(), date.day());
        match self {
            Locale::En => format!("{day} {} {year}", month_name(month)),
            Locale::Ko => format!("{year}년 {month}월 {day}일"),
        }
    }

    /// A drama's run as Korean broadcast dates, the year written once when both dates share it: "Aired in Korea:
    /// 7 January – 12 March 2015" / "국내 방영: 2015년 1월 7일 ~ 3월 12일".
    pub fn air_dates(self, first: NaiveDate, last: NaiveDate) -> String {
        let same_year = first.year() == last.year();
        match self {
            Locale::En => {
                let start = if same_year {
                    format!("{} {}", first.day(), month_name(first.month()))
                } else {
                    self.long_date(first)
                };
                format!("Aired in Korea: {start} – {}", self.long_date(last))
            }
            Locale::Ko => {
                let end = if same_year {
                    format!("{}월 {}일", last.month(), last.day())
                } else {
                    self.long_date(last)
                };
                format!("국내 방영: {} ~ {end}", self.long_date(first))
            }
        }
    }

    /// The headline of an anniversary card, e.g. "11 years ago today, *Kill Me, Heal Me* premiered on MBC" /
    /// "11년 전 오늘, MBC '킬미, 힐미' 첫 방송"; on a birthday, the age line.
    pub fn anniversary_headline(self, headline: Headline<'_>) -> String {
        let Headline { years, title, .. } = headline;
        match (self, headline.occasion) {
            (Locale::En, Occasion::Birthday) => format!("{title} turns {years} today"),
            (Locale::Ko, Occasion::Birthday) => {
                format!("오늘은 {title} 배우의 {years}번째 생일이에요")
            }
            (Locale::En, _) => format!(
                "{}, {}",
                years_then(years, "ago today"),
                self.event(headline)
            ),
            // The kiss's line reads as one phrase ("…년 전 오늘 MBC에서 방송된 …"), without the comma.
            (Locale::Ko, Occasion::KissEpisode) => {
                format!("{years}년 전 오늘 {}", self.event(headline))
            }
            (Locale::Ko, _) => format!("{years}년 전 오늘, {}", self.event(headline)),
        }
    }

    /// One line of `/anniversaries`, for a day still to come: "12 years since *Kill Me, Heal Me* premiered on
    /// MBC" / "MBC '킬미, 힐미' 첫 방송 12주년"; on a birthday, the age he turns.
    pub fn upcoming_line(self, headline: Headline<'_>) -> String {
        let Headline { years, title, .. } = headline;
        match (self, headline.occasion) {
            (Locale::En, Occasion::Birthday) => format!("{title} turns {years}"),
            (Locale::Ko, Occasion::Birthday) => format!("{title} 배우의 {years}번째 생일"),
            (Locale::En, _) => format!("{} {}", years_then(years, "since"), self.event(headline)),
            (Locale::Ko, _) => format!("{} {years}주년", self.event(headline)),
        }
    }

    /// What happened on an anniversary's day, without when: "*Kill Me, Heal Me* premiered on MBC" / "MBC '킬미,
    /// 힐미' 첫 방송" (empty for the birthday, whose lines name the age).
    fn event(self, headline: Headline<'_>) -> String {
        let Headline {
            occasion,
            title,
            network,
            episode,
            ..
        } = headline;
        let episode = episode.unwrap_or_default();
        match (self, occasion) {
            (_, Occasion::Birthday) => String::new(),
            (Locale::En, Occasion::Premiere) => format!("*{title}* premiered on {network}"),
            (Locale::En, Occasion::Finale) => {
                format!("*{title}* aired its final episode on {network}")
            }
            (Locale::En, Occasion::KissEpisode) => {
                format!("episode {episode} of *{title}* aired this kiss on {network}")
            }
            (Locale::Ko, Occasion::Premiere) => format!("{network} '{title}' 첫 방송"),
            (Locale::Ko, Occasion::Finale) => format!("{network} '{title}' 종영"),
            (Locale::Ko, Occasion::KissEpisode) => {
                format!("{network}에서 방송된 '{title}' {episode}회의 키스신")
            }
        }
    }

    /// The birthday card's line on his birth: "Born Park Yong-kyu on 16 December 1988 in Seoul, South Korea." /
    /// "1988년 12월 16일 대한민국 서울에서 태어나 올해 만 38세가 됐어요. 본명은 박용규예요." (the English headline
    /// already gives the age).
    pub fn birth_line(
        self,
        born: NaiveDate,
        age: u32,
        birth_name: &str,
        birthplace: &str,
    ) -> String {
        match self {
            Locale::En => format!(
                "Born {birth_name} on {} in {birthplace}.",
                self.long_date(born)
            ),
            Locale::Ko => format!(
                "{} {birthplace}에서 태어나 올해 만 {age}세가 됐어요. 본명은 {birth_name}{}.",
                self.long_date(born),
                copula(birth_name)
            ),
        }
    }
}

/// 예요 after a final vowel, 이에요 after a final consonant (박용규예요, 박서준이에요); a name not ending in Hangul
/// takes 이에요, which reads right after the consonant-final romanizations a dataset may hold.
fn copula(word: &str) -> &'static str {
    match word.chars().last() {
        Some(c @ '가'..='힣') if (u32::from(c) - 0xAC00) % 28 == 0 => "예요",
        _ => "이에요",
    }
}

fn month_name(month: u32) -> &'static str {
    let index = usize::try_from(month.saturating_sub(1)).unwrap_or(0);
    MONTHS.get(index).copied().unwrap_or("")
}

/// "11 years ago today", "1 year since": English years with `then`.
fn years_then(years: u32, then: &str) -> String {
    match years {
        1 => format!("1 year {then}"),
        _ => format!("{years} years {then}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap_or_default()
    }

    #[test]
    fn air_dates_say_korea_and_write_a_shared_year_once() {
        let kill_me = (day(2015, 1, 7), day(2015, 3, 12));
        let hwarang = (day(2016, 12, 19), day(2017, 2, 21));
        for (locale, (first, last), expected) in [
            (
                Locale::En,
                kill_me,
                "Aired in Korea: 7 January – 12 March 2015",
            ),
            (Locale::Ko, kill_me, "국내 방영: 2015년 1월 7일 ~ 3월 12일"),
            (
                Locale::En,
                hwarang,
                "Aired in Korea: 19 December 2016 – 21 February 2017",
            ),
            (
                Locale::Ko,
                hwarang,
                "국내 방영: 2016년 12월 19일 ~ 2017년 2월 21일",
            ),
        ] {
            assert_eq!(locale.air_dates(first, last), expected);
        }
    }

    #[test]
    fn headlines_read_naturally_in_both_languages() {
        let premiere = |years| Headline {
            occasion: Occasion::Premiere,
            years,
            title: "Kill Me, Heal Me",
            network: "MBC",
            episode: None,
        };
        assert_eq!(
            Locale::En.anniversary_headline(premiere(11)),
            "11 years ago today, *Kill Me, Heal Me* premiered on MBC"
        );
        assert_eq!(
            Locale::En.anniversary_headline(premiere(1)),
            "1 year ago today, *Kill Me, Heal Me* premiered on MBC"
        );
        let korean = |occasion, title, episode| {
            Locale::Ko.anniversary_headline(Headline {
                occasion,
                years: 11,
                title,
                network: "MBC",
                episode,
            })
        };
        assert_eq!(
            korean(Occasion::Premiere, "킬미, 힐미", None),
            "11년 전 오늘, MBC '킬미, 힐미' 첫 방송"
        );
        assert_eq!(
            korean(Occasion::Finale, "화랑", None),
            "11년 전 오늘, MBC '화랑' 종영"
        );
        assert_eq!(
            korean(Occasion::KissEpisode, "킬미, 힐미", Some(13)),
            "11년 전 오늘 MBC에서 방송된 '킬미, 힐미' 13회의 키스신"
        );
        assert_eq!(
            korean(Occasion::Birthday, "박서준", None),
            "오늘은 박서준 배우의 11번째 생일이에요"
        );
    }

    #[test]
    fn the_birth_line_takes_the_right_copula() {
        let born = day(1988, 12, 16);
        assert_eq!(
            Locale::Ko.birth_line(born, 38, "박용규", "대한민국 서울"),
            "1988년 12월 16일 대한민국 서울에서 태어나 올해 만 38세가 됐어요. 본명은 박용규예요."
        );
        assert_eq!(
            Locale::Ko.birth_line(born, 38, "박서준", "대한민국 서울"),
            "1988년 12월 16일 대한민국 서울에서 태어나 올해 만 38세가 됐어요. 본명은 박서준이에요."
        );
        assert_eq!(
            Locale::En.birth_line(born, 38, "Park Yong-kyu", "Seoul, South Korea"),
            "Born Park Yong-kyu on 16 December 1988 in Seoul, South Korea."
        );
    }
}
