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
