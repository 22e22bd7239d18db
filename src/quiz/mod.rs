//! `/quiz`, the pure part: questions generated from the catalog alone, a round's draw, its answer window, the
//! tally of one question's answers, the reveal and the scores. How a question looks is [`crate::render::quiz`]'s;
//! every text is [`crate::locale`]'s.
//!
//! - [`questions`]: what can be asked about each scene, and its options;
//! - [`round`]: the draw, the window, the tally, the reveal, the scores.
//!
//! Scoring: [`round::POINTS_RIGHT`] (1) for each right answer, [`round::POINTS_FIRST`] (1) more for the first right
//! answer to a question, by Discord's time of the click. Answers stay open [`round::ANSWER_WINDOW_SECONDS`] (20 s),
//! longer for a long question ([`round::answer_window_seconds`]).

pub mod questions;
pub mod round;

#[cfg(test)]
mod tests;

pub use questions::{askable, question, Kind, Question};
pub use round::{
    answer_window_seconds, draw, round_scores, Answer, Recorded, Reveal, Score, Tally,
    DEFAULT_QUESTIONS, MAX_QUESTIONS,
};
