//! The two languages the bot speaks, and every fixed text it shows users.
//!
//! Command names stay English everywhere (users of similar bots find localized names confusing); descriptions and
//! replies follow the interaction's locale: Korean for `ko`, English for everything else.

mod dates;
mod quiz;
mod replies;

pub use dates::{Headline, Occasion};
pub use quiz::{option_letter, Prompt, QuizStrings};
pub use replies::{DailyState, DailyStatus, LanguageChange};

/// A reply language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Locale {
    /// English, the default.
    En,
    /// Korean.
    Ko,
}

/// Where the language of a server's public posts came from, as `/language` and `/daily status` say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LanguageSource {
    /// The server's moderators chose it with `/language`.
    Chosen,
    /// The server's own locale, which only a Community server can set (Discord reports every other server as
    /// `en-US`).
    ServerSetting,
    /// The language of the moderator who set the feature up (`/favorite start`, `/daily set`).
    Moderator,
}

/// The language of what the bot posts publicly in a server (polls, results, daily posts, quiz rounds): the moderators' choice;
/// else the server's own locale when it set one (`guild_locale` other than Discord's `en-US` default, which every
/// non-Community server reports); else the language of the moderator setting the feature up, who speaks for the
/// server the way a Korean fan server's moderators do.
pub fn public_locale(
    chosen: Option<Locale>,
    guild_locale: Option<&str>,
    moderator: Locale,
) -> (Locale, LanguageSource) {
    if let Some(chosen) = chosen {
        return (chosen, LanguageSource::Chosen);
    }
    match guild_locale.filter(|locale| *locale != DISCORD_DEFAULT_LOCALE) {
        Some(locale) => (Locale::from_discord(locale), LanguageSource::ServerSetting),
        None => (moderator, LanguageSource::Moderator),
    }
}

/// What Discord reports as the locale of every server that has not set one (only Community servers can).
const DISCORD_DEFAULT_LOCALE: &str = "en-US";

impl Locale {
    /// Both locales, for tests and validation.
    pub const ALL: [Locale; 2] = [Locale::En, Locale::Ko];

    /// The reply language for a Discord locale string (`"ko"`, `"en-US"`, …).
    pub fn from_discord(locale: &str) -> Locale {
        if locale == "ko" || locale.starts_with("ko-") {
            Locale::Ko
        } else {
            Locale::En
        }
    }

    /// The Discord locale code (`"en-US"` or `"ko"`).
    pub fn code(self) -> &'static str {
        match self {
            Locale::En => "en-US",
            Locale::Ko => "ko",
        }
    }

    /// The field name of this locale's text in the dataset (`en`, `ko`), for the loader's messages.
    pub fn field(self) -> &'static str {
        match self {
            Locale::En => "en",
            Locale::Ko => "ko",
        }
    }

    /// The language's own name (the same in every language: what users look for in a list).
    pub fn name(self) -> &'static str {
        match self {
            Locale::En => "English",
            Locale::Ko => "한국어",
        }
    }

    /// `en` or `ko`, for a text used in one place only.
    pub fn choose<'a>(self, en: &'a str, ko: &'a str) -> &'a str {
        match self {
            Locale::En => en,
            Locale::Ko => ko,
        }
    }

    /// The fixed texts of this locale.
    pub fn strings(self) -> &'static Strings {
        match self {
            Locale::En => &EN,
            Locale::Ko => &KO,
        }
    }

    /// "16 episodes" / "16부작".
    pub fn episodes(self, count: u16) -> String {
        match self {
            Locale::En => format!("{count} episodes"),
            Locale::Ko => format!("{count}부작"),
        }
    }

    /// "Episode 10" / "10회".
    pub fn episode(self, number: u16) -> String {
        match self {
            Locale::En => format!("Episode {number}"),
            Locale::Ko => format!("{number}회"),
        }
    }

    /// "Scene 2 of 6" / "장면 2/6".
    pub fn scene_position(self, position: usize, total: usize) -> String {
        match self {
            Locale::En => format!("Scene {position} of {total}"),
            Locale::Ko => format!("장면 {position}/{total}"),
        }
    }

    /// "Source: somagnews, “Title”" / "출처: somagnews, “Title”".
    pub fn source_credit(self, site: &str, title: &str) -> String {
        match self {
            Locale::En => format!("Source: {site}, “{title}”"),
            Locale::Ko => format!("출처: {site}, “{title}”"),
        }
    }

    /// The reply when a drama search finds nothing.
    pub fn no_match(self, query: &str) -> String {
        match self {
            Locale::En => format!("No drama matches “{query}”."),
            Locale::Ko => format!("“{query}”에 맞는 드라마를 찾지 못했어요."),
        }
    }

    /// "6 scenes from 6 dramas" / "드라마 6편의 장면 6개".
    pub fn scene_count(self, scenes: usize, dramas: usize) -> String {
        match self {
            Locale::En => format!("{scenes} scenes from {dramas} dramas"),
            Locale::Ko => format!("드라마 {dramas}편의 장면 {scenes}개"),
        }
    }

    /// "A tie between 2 scenes" / "장면 2개가 공동 1위".
    pub fn poll_tie(self, scenes: usize) -> String {
        match self {
            Locale::En => format!("A tie between {scenes} scenes"),
            Locale::Ko => format!("장면 {scenes}개가 공동 1위"),
        }
    }

    /// "12 votes" / "총 12표".
    pub fn vote_count(self, votes: u32) -> String {
        match (self, votes) {
            (Locale::En, 1) => "1 vote".to_owned(),
            (Locale::En, _) => format!("{votes} votes"),
            (Locale::Ko, _) => format!("총 {votes}표"),
        }
    }

    /// A hall-of-fame line: wins, shared wins, votes.
    pub fn standing(self, wins: u32, shared: u32, votes: u32) -> String {
        match self {
            Locale::En => format!(
                "{wins} win{} · {shared} shared · {votes} vote{}",
                if wins == 1 { "" } else { "s" },
                if votes == 1 { "" } else { "s" }
            ),
            Locale::Ko => format!("우승 {wins}회 · 공동 우승 {shared}회 · {votes}표"),
        }
    }

    /// "Over 3 finished polls" / "마감된 투표 3회 기준".
    pub fn polls_counted(self, polls: usize) -> String {
        match self {
            Locale::En if polls == 1 => "Over 1 finished poll in this server".to_owned(),
            Locale::En => format!("Over {polls} finished polls in this server"),
            Locale::Ko => format!("이 서버에서 마감된 투표 {polls}회 기준"),
        }
    }

    /// The dataset's revision date (`YYYY-MM-DD`, validated at load) as readers write dates: the ISO date in
    /// English, "2026년 12월 4일" in Korean; a date that does not parse is shown as it is.
    pub fn revision_date(self, date: &str) -> String {
        let parts: Vec<u32> = date.split('-').filter_map(|p| p.parse().ok()).collect();
        match (self, parts.as_slice()) {
            (Locale::Ko, [year, month, day]) => format!("{year}년 {month}월 {day}일"),
            _ => date.to_owned(),
        }
    }

    /// "Up for 3 h 12 min" / "3시간 12분째 동작 중".
    pub fn uptime(self, seconds: u64) -> String {
        let (days, hours, minutes) = (seconds / 86_400, seconds / 3_600 % 24, seconds / 60 % 60);
        match (self, days) {
            (Locale::En, 0) => format!("{hours} h {minutes} min"),
            (Locale::En, _) => format!("{days} d {hours} h {minutes} min"),
            (Locale::Ko, 0) => format!("{hours}시간 {minutes}분"),
            (Locale::Ko, _) => format!("{days}일 {hours}시간 {minutes}분"),
        }
    }
}

/// Every fixed text of one locale.
#[derive(Debug)]
pub struct Strings {
    /// Field name: Park Seo-joon's character.
    pub his_role: &'static str,
    /// Field name: the scene partner.
    pub partner: &'static str,
    /// Word between an actor and their character.
    pub as_role: &'static str,
    /// Field name: the drama's facts.
    pub drama: &'static str,
    /// Field name: the episode.
    pub episode: &'static str,
    /// Field name: other titles.
    pub also_known_as: &'static str,
    /// Field name: the fan note (a behind-the-scenes fact).
    pub fan_note: &'static str,
    /// Button: a different random scene.
    pub another_scene: &'static str,
    /// Button: a video-site search for the scene.
    pub find_clip: &'static str,
    /// Words added to the video-site search.
    pub clip_search_words: &'static str,
    /// Title prefix: the See Also item.
    pub see_also: &'static str,
    /// Button to the See Also item: the dataset's link is a search of the source's site for it (the article
    /// itself was never found), and the Korean label says so.
    pub see_also_button: &'static str,
    /// `/scenes` card title.
    pub all_scenes_title: &'static str,
    /// `/scenes` card description.
    pub all_scenes_intro: &'static str,
    /// `/scenes` select menu placeholder.
    pub open_scene: &'static str,
    /// Line before search suggestions.
    pub did_you_mean: &'static str,
    /// Hint after suggestions.
    pub try_autocomplete: &'static str,
    /// `/about` title.
    pub about_title: &'static str,
    /// `/about` description.
    pub about_intro: &'static str,
    /// `/about` field: the dataset.
    pub about_dataset: &'static str,
    /// `/about` field: the source.
    pub about_source: &'static str,
    /// `/about` field: version.
    pub about_version: &'static str,
    /// `/about` field: uptime.
    pub about_uptime: &'static str,
    /// `/about` field: commands.
    pub about_commands: &'static str,
    /// `/about` commands list.
    pub about_commands_list: &'static str,
    /// Revision label in `/about`.
    pub revision: &'static str,
    /// The generic failure users see when something broke on our side.
    pub internal_error: &'static str,
    /// A button or menu from a card the bot no longer understands.
    pub stale_component: &'static str,
    /// A command the bot no longer has (a stale registration).
    pub unknown_command: &'static str,
    /// The favorite poll's question.
    pub poll_question: &'static str,
    /// Results headline word before the winner.
    pub poll_winner: &'static str,
    /// Results headline when nobody voted.
    pub poll_no_votes: &'static str,
    /// Results footer.
    pub poll_footer: &'static str,
    /// Button to the poll.
    pub poll_view: &'static str,
    /// Hall of fame title.
    pub leaderboard_title: &'static str,
    /// Hall of fame before any poll finished.
    pub leaderboard_empty: &'static str,
}

static EN: Strings = Strings {
    his_role: "Park Seo-joon as",
    partner: "Scene partner",
    as_role: "as",
    drama: "The drama",
    episode: "Episode",
    also_known_as: "Also known as",
    fan_note: "Fan note",
    another_scene: "Another scene",
    find_clip: "Find the clip",
    clip_search_words: "kiss scene",
    see_also: "See also",
    see_also_button: "See also",
    all_scenes_title: "Park Seo-joon's best kiss scenes",
    all_scenes_intro: "Pick a scene from the menu below, or use `/scene` with a drama's name.",
    open_scene: "Open a scene…",
    did_you_mean: "Did you mean:",
    try_autocomplete: "Tip: start typing in the `drama` option and pick from the list.",
    about_title: "About scenebot",
    about_intro:
        "A fan bot for Park Seo-joon's best-loved K-drama kiss scenes: a scene card with `/scene`, \
every scene with `/scenes`, and the article's See Also item with `/seealso`. Moderators run favorite-scene polls with `/favorite`, and server managers set up a scene a day with `/daily`.",
    about_dataset: "Dataset",
    about_source: "Source",
    about_version: "Version",
    about_uptime: "Uptime",
    about_commands: "Commands",
    about_commands_list: "`/scene` · `/scenes` · `/seealso` · `/about` · `/anniversaries` · `/favorite` · `/daily`",
    revision: "revision",
    internal_error: "Sorry, something went wrong on our side. Please try again in a moment.",
    stale_component: "This card is from an older version of the bot. Run `/scene` for a fresh one.",
    unknown_command:
        "This command is no longer available. Try `/scene`, `/scenes`, `/seealso`, `/about`, `/favorite` or `/daily`.",
    poll_question: "Which Park Seo-joon kiss scene is this server's favorite?",
    poll_winner: "This server's favorite scene",
    poll_no_votes: "No votes this time",
    poll_footer: "Favorite-scene poll results · /favorite leaderboard shows every poll",
    poll_view: "View the poll",
    leaderboard_title: "🏆 Hall of fame",
    leaderboard_empty: "No favorite poll has finished in this server yet. A moderator can start one with `/favorite start`.",
};

static KO: Strings = Strings {
    his_role: "박서준의 배역",
    partner: "상대 배우",
    as_role: "—",
    drama: "드라마",
    episode: "회차",
    also_known_as: "다른 영문 제목",
    fan_note: "비하인드",
    another_scene: "다른 장면",
    find_clip: "영상 찾기",
    clip_search_words: "키스신",
    see_also: "관련 기사",
    see_also_button: "관련 기사 검색",
    all_scenes_title: "박서준 키스신 명장면 모음",
    all_scenes_intro: "아래 메뉴에서 장면을 고르거나, `/scene`에 드라마 이름을 입력해 보세요.",
    open_scene: "장면을 골라 보세요",
    did_you_mean: "혹시 이 중에 찾는 드라마가 있나요?",
    try_autocomplete: "팁: `drama` 옵션에 몇 글자만 입력하면 목록에서 고를 수 있어요.",
    about_title: "scenebot 소개",
    about_intro:
        "팬들이 사랑하는 박서준 배우의 드라마 키스신을 소개하는 팬 봇이에요. `/scene`으로 장면 카드를, \
`/scenes`로 전체 장면을, `/seealso`로 출처 기사가 함께 소개한 기사를 볼 수 있어요. 운영진은 `/favorite`으로 최애 장면 투표를 열고, 서버 관리자는 `/daily`로 오늘의 장면 게시를 설정할 수 있어요.",
    about_dataset: "데이터",
    about_source: "출처",
    about_version: "버전",
    about_uptime: "가동 시간",
    about_commands: "명령어",
    about_commands_list: "`/scene` · `/scenes` · `/seealso` · `/about` · `/anniversaries` · `/favorite` · `/daily`",
    revision: "최종 수정",
    internal_error: "죄송해요, 봇에 문제가 생겼어요. 잠시 후 다시 시도해 주세요.",
    stale_component: "봇이 업데이트되어 이 카드는 더 이상 쓸 수 없어요. `/scene`으로 새 카드를 받아 보세요.",
    unknown_command:
        "더 이상 지원하지 않는 명령어예요. `/scene`, `/scenes`, `/seealso`, `/about`, `/favorite`, `/daily`를 써 보세요.",
    poll_question: "우리 서버 최애 박서준 키스신은?",
    poll_winner: "우리 서버 최애 장면",
    poll_no_votes: "이번에는 투표한 사람이 없어요",
    poll_footer: "최애 장면 투표 결과 · /favorite leaderboard에서 명예의 전당을 볼 수 있어요",
    poll_view: "투표 보기",
    leaderboard_title: "🏆 명예의 전당",
    leaderboard_empty:
        "이 서버에서 마감된 최애 투표가 아직 없어요. 운영진이 `/favorite start`로 시작할 수 있어요.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_servers_public_language_is_its_choice_then_its_own_locale_then_the_moderators() {
        use LanguageSource::*;
        // A non-Community server reports en-US: its Korean moderator decides.
        assert_eq!(
            public_locale(None, Some("en-US"), Locale::Ko),
            (Locale::Ko, Moderator)
        );
        assert_eq!(
            public_locale(None, None, Locale::Ko),
            (Locale::Ko, Moderator)
        );
        // A Community server that chose Korean (or English UK) keeps it, whoever sets up.
        assert_eq!(
            public_locale(None, Some("ko"), Locale::En),
            (Locale::Ko, ServerSetting)
        );
        assert_eq!(
            public_locale(None, Some("en-GB"), Locale::Ko),
            (Locale::En, ServerSetting)
        );
        // A choice wins both ways.
        assert_eq!(
            public_locale(Some(Locale::En), Some("ko"), Locale::Ko),
            (Locale::En, Chosen)
        );
        assert_eq!(
            public_locale(Some(Locale::Ko), Some("en-US"), Locale::En),
            (Locale::Ko, Chosen)
        );
    }

    #[test]
    fn korean_locales_get_korean() {
        assert_eq!(Locale::from_discord("ko"), Locale::Ko);
        assert_eq!(Locale::from_discord("en-US"), Locale::En);
        assert_eq!(Locale::from_discord("ja"), Locale::En);
        assert_eq!(Locale::from_discord(""), Locale::En);
    }

    #[test]
    fn uptime_reads_well() {
        assert_eq!(Locale::En.uptime(3 * 3600 + 12 * 60 + 5), "3 h 12 min");
        assert_eq!(Locale::Ko.uptime(90_000), "1일 1시간 0분");
    }

    #[test]
    fn every_command_is_named_where_users_look_for_them_and_counts_read_well() {
        for locale in Locale::ALL {
            let strings = locale.strings();
            for command in [
                "/scene",
                "/scenes",
                "/seealso",
                "/about",
                "/favorite",
                "/daily",
            ] {
                assert!(
                    strings.unknown_command.contains(command),
                    "{locale:?} {command}"
                );
                if command != "/about" {
                    assert!(
                        strings.about_intro.contains(command),
                        "{locale:?} {command}"
                    );
                }
            }
        }
        assert_eq!(
            Locale::En.polls_counted(1),
            "Over 1 finished poll in this server"
        );
        assert_eq!(
            Locale::En.polls_counted(3),
            "Over 3 finished polls in this server"
        );
        assert_eq!(Locale::Ko.poll_tie(2), "장면 2개가 공동 1위");
        for locale in Locale::ALL {
            let list = locale.strings().about_commands_list;
            assert!(
                list.contains("`/favorite`") && list.contains("`/daily`"),
                "{list}"
            );
        }
    }

    #[test]
    fn korean_reads_a_date_as_koreans_write_it() {
        assert_eq!(Locale::Ko.revision_date("2026-12-04"), "2026년 12월 4일");
        assert_eq!(Locale::En.revision_date("2026-12-04"), "2026-12-04");
        assert_eq!(Locale::Ko.revision_date("someday"), "someday");
    }

    /// `/favorite` reads 페이버릿, which ends in a consonant: 으로, never 로 (the native editor's review).
    #[test]
    fn a_command_ending_in_a_consonant_takes_euro() {
        let intro = Locale::Ko.strings().about_intro;
        assert!(intro.contains("`/favorite`으로"), "{intro}");
        assert!(!intro.contains("`/favorite`로"), "{intro}");
    }
}
