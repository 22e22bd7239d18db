//! The quiz's texts: each question's wording and what a round tells its players, in both languages. Facts come in
//! as arguments (from the dataset, through [`crate::quiz`]); nothing here states one.

use super::Locale;

/// What a question asks, with the facts its wording names: the question kinds of [`crate::quiz::Kind`] as the
/// reader sees them. Titles and names arrive already in the reader's language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prompt<'a> {
    /// Someone's character in a drama: Park Seo-joon's, or his scene partner's.
    Character {
        /// Who plays the character.
        actor: &'a str,
        /// The drama.
        title: &'a str,
    },
    /// Who plays opposite him in a drama's kiss scene.
    Partner {
        /// Park Seo-joon's name.
        actor: &'a str,
        /// The drama.
        title: &'a str,
    },
    /// The year a drama started airing.
    Year {
        /// The drama.
        title: &'a str,
    },
    /// The network that aired a drama.
    Network {
        /// The drama.
        title: &'a str,
    },
    /// The Korean title of a drama named in English (in either language, since the answer is Hangul).
    KoreanTitle {
        /// The English title.
        english_title: &'a str,
    },
    /// The episode of the kiss scene.
    Episode {
        /// Park Seo-joon's name.
        actor: &'a str,
        /// The drama.
        title: &'a str,
        /// The partner's name.
        partner: &'a str,
    },
    /// How many episodes a drama has.
    Episodes {
        /// The drama.
        title: &'a str,
    },
    /// Which drama a scene is from, told by its summary with the telling names masked.
    Drama {
        /// The masked summary.
        summary: &'a str,
    },
}

/// The letter of an answer button (A to D; past Z, `?`, which a question of four options never reaches).
pub fn option_letter(index: usize) -> char {
    u8::try_from(index)
        .ok()
        .filter(|i| *i < 26)
        .map_or('?', |i| char::from(b'A' + i))
}

impl Locale {
    /// A question's wording.
    pub fn quiz_prompt(self, prompt: Prompt<'_>) -> String {
        match (self, prompt) {
            (Locale::En, Prompt::Character { actor, title }) => {
                format!("Which character does {actor} play in *{title}*?")
            }
            (Locale::Ko, Prompt::Character { actor, title }) => {
                format!("'{title}'에서 {actor}의 배역은?")
            }
            (Locale::En, Prompt::Partner { actor, title }) => {
                format!("Who plays opposite {actor} in the kiss scene of *{title}*?")
            }
            (Locale::Ko, Prompt::Partner { actor, title }) => {
                format!("'{title}' 키스신에서 {actor}의 상대 배우는?")
            }
            (Locale::En, Prompt::Year { title }) => {
                format!("In which year did *{title}* start airing?")
            }
            (Locale::Ko, Prompt::Year { title }) => format!("'{title}'의 첫 방영 연도는?"),
            (Locale::En, Prompt::Network { title }) => format!("Which network aired *{title}*?"),
            (Locale::Ko, Prompt::Network { title }) => format!("'{title}'의 방송사는?"),
            (Locale::En, Prompt::KoreanTitle { english_title }) => {
                format!("What is the Korean title of *{english_title}*?")
            }
            (Locale::Ko, Prompt::KoreanTitle { english_title }) => {
                format!("영어 제목이 '{english_title}'인 드라마의 한국어 제목은?")
            }
            (
                Locale::En,
                Prompt::Episode {
                    actor,
                    title,
                    partner,
                },
            ) => format!("In which episode of *{title}* do {actor} and {partner} kiss?"),
            (
                Locale::Ko,
                Prompt::Episode {
                    actor,
                    title,
                    partner,
                },
            ) => format!("'{title}'에서 {actor}·{partner} 키스신은 몇 회에 나올까요?"),
            (Locale::En, Prompt::Episodes { title }) => {
                format!("How many episodes does *{title}* have?")
            }
            (Locale::Ko, Prompt::Episodes { title }) => format!("'{title}', 몇 부작일까요?"),
            (Locale::En, Prompt::Drama { summary }) => {
                format!("Which drama is this kiss scene from?\n> {summary}")
            }
            (Locale::Ko, Prompt::Drama { summary }) => {
                format!("이 키스신은 어느 드라마의 장면일까요?\n> {summary}")
            }
        }
    }

    /// "Question 2 of 5" / "5문제 중 2번".
    pub fn quiz_header(self, number: usize, total: usize) -> String {
        match self {
            Locale::En => format!("Question {number} of {total}"),
            Locale::Ko => format!("{total}문제 중 {number}번"),
        }
    }

    /// When the answers close, as a Discord relative timestamp (each client shows it in its own words and time).
    pub fn quiz_closes(self, unix: i64) -> String {
        match self {
            Locale::En => format!("⏱️ Answers close <t:{unix}:R>"),
            Locale::Ko => format!("⏱️ <t:{unix}:R> 마감"),
        }
    }

    /// An answer button's label: its letter and the option.
    pub fn quiz_option(self, index: usize, value: &str) -> String {
        format!("{} · {value}", option_letter(index))
    }

    /// The reveal's count: "5 answered · 2 right" / "5명 응답 · 2명 정답".
    pub fn quiz_tally(self, answered: usize, right: usize) -> String {
        match self {
            Locale::En => format!("{answered} answered · {right} right"),
            Locale::Ko => format!("{answered}명 응답 · {right}명 정답"),
        }
    }

    /// Who answered right first, as a mention (inside an embed it pings nobody), or that nobody did.
    pub fn quiz_first_right(self, user: Option<u64>) -> String {
        match (self, user) {
            (_, Some(user)) => format!("<@{user}>"),
            (Locale::En, None) => "Nobody got it this time".to_owned(),
            (Locale::Ko, None) => "이번에는 맞힌 사람이 없어요".to_owned(),
        }
    }

    /// A player's line in the round's scores.
    pub fn quiz_points(self, points: u32, right: u32, first: u32) -> String {
        match self {
            Locale::En => format!(
                "{points} point{} ({right} right, {first} first)",
                if points == 1 { "" } else { "s" }
            ),
            Locale::Ko => format!("{points}점 (정답 {right}개, 1등 {first}번)"),
        }
    }

    /// The private acknowledgement of a counted answer: "Locked in: B".
    pub fn quiz_locked_in(self, index: usize) -> String {
        let letter = option_letter(index);
        match self {
            Locale::En => format!("Locked in: {letter}"),
            Locale::Ko => format!("{letter}번으로 답했어요"),
        }
    }

    /// A second click on the same question: the first answer stands.
    pub fn quiz_already_answered(self, index: usize) -> String {
        let letter = option_letter(index);
        match self {
            Locale::En => format!("You already answered {letter}; one answer per question."),
            Locale::Ko => {
                format!("이미 {letter}번으로 답했어요. 한 문제에 한 번만 답할 수 있어요.")
            }
        }
    }

    /// The reply to `/quiz start`: the round is on, how many questions, how long each stays open, the rule. A
    /// public round names its starter by mention (which, with mentions off, pings nobody).
    pub fn quiz_intro(self, questions: usize, window: i64, starter: Option<u64>) -> String {
        let rules = self.quiz_strings().rules;
        match (self, starter) {
            (Locale::En, Some(user)) => format!(
                "🎬 <@{user}> started a Park Seo-joon quiz: **{questions}** question{}, about {window} s each. \
                 Answer with the buttons ({rules}).",
                if questions == 1 { "" } else { "s" }
            ),
            (Locale::En, None) => format!(
                "🎬 Your solo Park Seo-joon quiz: **{questions}** question{}, about {window} s each ({rules}).",
                if questions == 1 { "" } else { "s" }
            ),
            (Locale::Ko, Some(user)) => format!(
                "🎬 <@{user}> 님이 박서준 퀴즈를 시작했어요: **{questions}**문제, 문제마다 약 {window}초. 버튼으로 답해 주세요 ({rules})."
            ),
            (Locale::Ko, None) => {
                format!("🎬 혼자 푸는 박서준 퀴즈: **{questions}**문제, 문제마다 약 {window}초 ({rules}).")
            }
        }
    }

    /// `/quiz start` where a round is already running: a link to it.
    pub fn quiz_already_running(self, link: &str) -> String {
        match self {
            Locale::En => format!("A quiz round is already running here: {link}"),
            Locale::Ko => format!("여기서 이미 퀴즈가 진행 중이에요: {link}"),
        }
    }

    /// `/quiz start` right after a round: when the next may start.
    pub fn quiz_cooldown(self, until: i64) -> String {
        match self {
            Locale::En => format!("A round just ended here; the next can start <t:{until}:R>."),
            Locale::Ko => {
                format!("방금 라운드가 끝났어요. 다음 라운드는 <t:{until}:R>부터 시작할 수 있어요.")
            }
        }
    }

    /// `/quiz leaderboard`'s line for the asker.
    pub fn quiz_your_place(self, place: u64, points: u64, rounds: u64) -> String {
        match self {
            Locale::En => format!(
                "You: **#{place}** · {points} point{} over {rounds} round{}",
                if points == 1 { "" } else { "s" },
                if rounds == 1 { "" } else { "s" }
            ),
            Locale::Ko => format!("나: **{place}위** · {rounds}라운드 {points}점"),
        }
    }

    /// `/quiz leaderboard`'s count of rounds the server played.
    pub fn quiz_rounds_played(self, rounds: u64) -> String {
        match self {
            Locale::En => format!(
                "{rounds} round{} played here",
                if rounds == 1 { "" } else { "s" }
            ),
            Locale::Ko => format!("이 서버에서 {rounds}라운드 진행"),
        }
    }

    /// A board line: place, player, points, right answers and firsts.
    pub fn quiz_board_line(
        self,
        place: u64,
        user: u64,
        points: u64,
        right: u64,
        firsts: u64,
    ) -> String {
        match self {
            Locale::En => format!(
                "**{place}.** <@{user}> · {points} point{} ({right} right, {firsts} first)",
                if points == 1 { "" } else { "s" }
            ),
            Locale::Ko => {
                format!("**{place}.** <@{user}> · {points}점 (정답 {right}개, 1등 {firsts}번)")
            }
        }
    }

    /// The quiz's fixed texts.
    pub fn quiz_strings(self) -> &'static QuizStrings {
        match self {
            Locale::En => &QUIZ_EN,
            Locale::Ko => &QUIZ_KO,
        }
    }
}

/// The quiz's fixed texts of one locale.
#[derive(Debug)]
pub struct QuizStrings {
    /// The embed author over every question.
    pub title: &'static str,
    /// Field name: the right answer.
    pub right_answer: &'static str,
    /// Field name: how many answered and were right.
    pub answers: &'static str,
    /// Field name: who answered right first.
    pub first_right: &'static str,
    /// The line that replaces the countdown once the answers are closed.
    pub closed: &'static str,
    /// Button: the answer's scene card.
    pub open_scene: &'static str,
    /// The scores' title.
    pub scores_title: &'static str,
    /// The scores when nobody answered right.
    pub no_scores: &'static str,
    /// The scoring rule, for `/quiz`'s help and the scores' footer.
    pub rules: &'static str,
    /// A click after the answers closed.
    pub too_late: &'static str,
    /// A click the bot cannot count: an option the question did not offer, another round's button, a stale one.
    pub not_counted: &'static str,
    /// The scores of a round that ended before its last question.
    pub stopped: &'static str,
    /// `/quiz stop` with no round running in the channel (nor a solo round of the caller).
    pub no_round: &'static str,
    /// `/quiz stop` by someone who neither started the round nor moderates the channel.
    pub stop_refused: &'static str,
    /// `/quiz stop` accepted.
    pub stop_done: &'static str,
    /// `/quiz start` where the bot cannot post.
    pub cannot_send: &'static str,
    /// The board's title.
    pub board_title: &'static str,
    /// The board of a server that has played no round.
    pub board_empty: &'static str,
    /// `/quiz leaderboard` outside a server.
    pub board_guild_only: &'static str,
}

static QUIZ_EN: QuizStrings = QuizStrings {
    title: "Park Seo-joon quiz",
    right_answer: "Right answer",
    answers: "Answers",
    first_right: "First right",
    closed: "⏱️ Answers are closed",
    open_scene: "Open the scene",
    scores_title: "🏁 Round scores",
    no_scores: "Nobody scored this round.",
    rules: "1 point for each right answer, 1 more for the first right answer to a question",
    too_late: "Too late: the answers to this question are closed.",
    not_counted: "This button is not part of a running question, so nothing was counted.",
    stopped: "The round was stopped early; these are the scores of the questions revealed.",
    no_round: "No quiz round is running in this channel.",
    stop_refused: "Only whoever started this round, or a member with Manage Messages here, can stop it.",
    stop_done: "Stopping the round: the open question closes now, then the scores.",
    cannot_send: "I can't post in this channel (I need View Channel, Send Messages and Embed Links here), so no round was started.",
    board_title: "🏆 Quiz leaderboard",
    board_empty: "Nobody has played a quiz round here yet: try `/quiz start`.",
    board_guild_only: "The leaderboard belongs to a server: use it there.",
};

static QUIZ_KO: QuizStrings = QuizStrings {
    title: "박서준 퀴즈",
    right_answer: "정답",
    answers: "응답",
    first_right: "가장 먼저 맞힌 사람",
    closed: "⏱️ 마감됐어요",
    open_scene: "장면 보기",
    scores_title: "🏁 이번 라운드 점수",
    no_scores: "이번 라운드에는 점수를 얻은 사람이 없어요.",
    rules: "정답마다 1점, 문제마다 가장 먼저 맞힌 사람은 1점 더",
    too_late: "늦었어요. 이 문제는 이미 마감됐어요.",
    not_counted: "진행 중인 문제의 버튼이 아니라서 답이 반영되지 않았어요.",
    stopped: "라운드가 일찍 끝났어요. 공개된 문제까지의 점수예요.",
    no_round: "이 채널에서 진행 중인 퀴즈가 없어요.",
    stop_refused: "이 라운드를 시작한 사람이나 이 채널의 메시지 관리 권한이 있는 멤버만 멈출 수 있어요.",
    stop_done: "라운드를 멈출게요. 열려 있는 문제를 지금 마감하고 점수를 보여 드려요.",
    cannot_send: "이 채널에는 글을 올릴 수 없어서(채널 보기, 메시지 보내기, 링크 첨부 권한 필요) 라운드를 시작하지 않았어요.",
    board_title: "🏆 퀴즈 순위",
    board_empty: "아직 이 서버에서 퀴즈를 한 사람이 없어요. `/quiz start`로 시작해 보세요.",
    board_guild_only: "순위는 서버마다 있어요. 서버에서 써 주세요.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn letters_and_counts_read_well() {
        assert_eq!(option_letter(0), 'A');
        assert_eq!(option_letter(3), 'D');
        assert_eq!(option_letter(99), '?');
        assert_eq!(Locale::En.quiz_option(1, "MBC"), "B · MBC");
        assert_eq!(
            Locale::En.quiz_points(1, 1, 0),
            "1 point (1 right, 0 first)"
        );
        assert_eq!(Locale::Ko.quiz_tally(5, 2), "5명 응답 · 2명 정답");
        assert_eq!(Locale::Ko.quiz_header(2, 5), "5문제 중 2번");
        assert_eq!(
            Locale::En.quiz_closes(1_800_000_000),
            "⏱️ Answers close <t:1800000000:R>"
        );
    }
}
