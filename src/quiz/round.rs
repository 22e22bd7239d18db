//! A round's rules: the draw of its questions, the answer window, one question's answers, the reveal and the
//! round's scores. Plain functions over plain data; the store and the Discord layer only carry their results.

use std::collections::BTreeMap;

use rand::seq::SliceRandom;
use rand::Rng;

use super::questions::{askable, question, Kind, Question};
use crate::catalog::Catalog;

/// Questions in a round when `/quiz start` is not told.
pub const DEFAULT_QUESTIONS: usize = 5;
/// The most questions a round may have: ten questions of at most [`MAX_ANSWER_WINDOW_SECONDS`] each, with their
/// reveals, stay well inside the 15 minutes a round's interaction token lives (about four minutes at 20 s each).
pub const MAX_QUESTIONS: usize = 10;

/// Points for a right answer.
pub const POINTS_RIGHT: u32 = 1;
/// Points added for the first right answer to a question: speed counts, but never more than knowing two answers.
pub const POINTS_FIRST: u32 = 1;

/// The answer window of a one-line question, in seconds. Twenty seconds lets a reader of either language read a
/// question of about a hundred characters and four short options (at a slow 10 characters a second in a second
/// language, about 12 s), find the button on a phone and tap it, while a five-question round still plays in about
/// two minutes; longer waits are what quiz players complain of, shorter ones shut out the slow readers.
pub const ANSWER_WINDOW_SECONDS: i64 = 20;
/// The longest answer window, for the longest question (a masked summary).
pub const MAX_ANSWER_WINDOW_SECONDS: i64 = 45;
/// Characters of a question read within [`ANSWER_WINDOW_SECONDS`]; each further [`CHARS_PER_EXTRA_SECOND`]
/// characters add a second.
const PLAIN_QUESTION_CHARS: usize = 120;
/// Reading pace beyond the first [`PLAIN_QUESTION_CHARS`]: 25 characters a second (a summary, read once).
const CHARS_PER_EXTRA_SECOND: usize = 25;

/// How long answers stay open for a question worded `prompt`: [`ANSWER_WINDOW_SECONDS`], plus reading time for a
/// long question ("which drama?" quotes a summary of several hundred characters), at most
/// [`MAX_ANSWER_WINDOW_SECONDS`].
pub fn answer_window_seconds(prompt: &str) -> i64 {
    let extra =
        prompt.chars().count().saturating_sub(PLAIN_QUESTION_CHARS) / CHARS_PER_EXTRA_SECOND;
    let extra = i64::try_from(extra).unwrap_or(MAX_ANSWER_WINDOW_SECONDS);
    ANSWER_WINDOW_SECONDS
        .saturating_add(extra)
        .min(MAX_ANSWER_WINDOW_SECONDS)
}

/// `n` questions (clamped to 1..=[`MAX_QUESTIONS`], and to what the catalog can ask), never the same scene and
/// kind twice, spread over the scenes and the kinds: each next question takes the least-asked scene, then the
/// least-asked kind, ties broken at random. A scene asked "which drama?" is asked nothing else in the round.
/// Deterministic for a given `rng`.
pub fn draw(catalog: &Catalog, n: usize, rng: &mut impl Rng) -> Vec<Question> {
    let n = n.clamp(1, MAX_QUESTIONS);
    let mut candidates = askable(catalog);
    candidates.shuffle(rng);
    let mut scene_uses = vec![0_usize; catalog.scenes.len()];
    let mut kind_uses = [0_usize; Kind::ALL.len()];
    let mut round = Vec::with_capacity(n);
    while round.len() < n {
        let next = candidates
            .iter()
            .enumerate()
            .min_by_key(|(order, (scene, kind))| {
                (
                    scene_uses.get(*scene).copied().unwrap_or(usize::MAX),
                    kind_uses[*kind as usize],
                    *order,
                )
            })
            .map(|(order, _)| order);
        let Some(next) = next else {
            break;
        };
        let (scene, kind) = candidates.swap_remove(next);
        // "Which drama?" and another question about the same scene would answer each other: the others name the
        // drama, and a summary can tell their answers (Witch's Romance's Korean one names the episode).
        candidates.retain(|&(other, other_kind)| {
            other != scene || (kind != Kind::Drama && other_kind != Kind::Drama)
        });
        if let Some(asked) = question(catalog, scene, kind, rng) {
            if let Some(uses) = scene_uses.get_mut(scene) {
                *uses += 1;
            }
            kind_uses[kind as usize] += 1;
            round.push(asked);
        }
    }
    round
}

/// One person's click on an answer button.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Answer {
    /// Who clicked (a Discord user id).
    pub user: u64,
    /// The option clicked (its position, from the button's id).
    pub option: usize,
    /// When Discord received the click, in unix milliseconds (the interaction id's time), so the order of answers
    /// is Discord's, not the order the bot happened to handle them in.
    pub at_ms: i64,
}

/// What became of a click.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    /// Counted: the person's one answer to this question.
    Counted,
    /// The person had answered already; the first answer stands.
    AlreadyAnswered {
        /// The option they chose first.
        option: usize,
    },
    /// The click came at or after the close.
    Closed,
    /// An option this question does not have (a forged button).
    NoSuchOption,
}

/// The answers to one question: one per person, in the order they were counted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    /// How many options the question has.
    pub options: usize,
    /// When answers close, in unix milliseconds.
    pub closes_at_ms: i64,
    /// The counted answers.
    pub answers: Vec<Answer>,
}

impl Tally {
    /// No answers yet to a question of `options` options closing at `closes_at_ms`.
    pub fn new(options: usize, closes_at_ms: i64) -> Tally {
        Tally {
            options,
            closes_at_ms,
            answers: Vec::new(),
        }
    }

    /// Counts `answer` if it may count: an option the question has, before the close, the person's first.
    pub fn record(&mut self, answer: Answer) -> Recorded {
        if answer.option >= self.options {
            return Recorded::NoSuchOption;
        }
        if answer.at_ms >= self.closes_at_ms {
            return Recorded::Closed;
        }
        if let Some(first) = self.answers.iter().find(|a| a.user == answer.user) {
            return Recorded::AlreadyAnswered {
                option: first.option,
            };
        }
        self.answers.push(answer);
        Recorded::Counted
    }

    /// What the reveal shows once answers are closed, `right` being the right option's position.
    pub fn reveal(&self, right: usize) -> Reveal {
        let is_right = |a: &&Answer| a.option == right;
        // The earliest right answer by Discord's time; on a tie the one counted first.
        let first_right = self
            .answers
            .iter()
            .filter(is_right)
            .fold(None::<&Answer>, |best, a| match best {
                Some(best) if best.at_ms <= a.at_ms => Some(best),
                _ => Some(a),
            })
            .map(|a| a.user);
        let points = self
            .answers
            .iter()
            .map(|a| {
                let points = match (a.option == right, Some(a.user) == first_right) {
                    (true, true) => POINTS_RIGHT + POINTS_FIRST,
                    (true, false) => POINTS_RIGHT,
                    (false, _) => 0,
                };
                (a.user, points)
            })
            .collect();
        Reveal {
            right,
            answered: self.answers.len(),
            right_count: self.answers.iter().filter(is_right).count(),
            first_right,
            points,
        }
    }
}

/// A question's outcome, shown when its answers close and summed into the round's scores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reveal {
    /// The right option's position.
    pub right: usize,
    /// How many answered.
    pub answered: usize,
    /// How many answered right.
    pub right_count: usize,
    /// Who answered right first.
    pub first_right: Option<u64>,
    /// Each person who answered, and the points the answer earned, in answer order.
    pub points: Vec<(u64, u32)>,
}

/// One person's result over a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Score {
    /// Who.
    pub user: u64,
    /// Points over the round.
    pub points: u32,
    /// Right answers.
    pub right: u32,
    /// Questions they answered right first.
    pub first: u32,
    /// Their place: 1 for the most points; equal points share a place, and the next place skips (1, 1, 3).
    pub rank: usize,
}

/// The round's scores from its reveals: everyone who answered, most points first (then most right answers, then
/// user id, for a stable order).
pub fn round_scores(reveals: &[Reveal]) -> Vec<Score> {
    let mut by_user: BTreeMap<u64, Score> = BTreeMap::new();
    for reveal in reveals {
        for &(user, points) in &reveal.points {
            let score = by_user.entry(user).or_insert(Score {
                user,
                points: 0,
                right: 0,
                first: 0,
                rank: 0,
            });
            score.points += points;
            score.right += u32::from(points >= POINTS_RIGHT);
            score.first += u32::from(reveal.first_right == Some(user));
        }
    }
    let mut scores: Vec<Score> = by_user.into_values().collect();
    scores.sort_by(|a, b| {
        b.points
            .cmp(&a.points)
            .then(b.right.cmp(&a.right))
            .then(a.user.cmp(&b.user))
    });
    let mut rank = 0;
    let mut previous = None;
    for (position, score) in scores.iter_mut().enumerate() {
        if previous != Some(score.points) {
            rank = position + 1;
            previous = Some(score.points);
        }
        score.rank = rank;
    }
    scores
}
