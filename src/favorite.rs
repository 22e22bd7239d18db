//! Favorite-scene polls, the pure part: which scenes go in a poll, the poll itself, tallies, ties, and the server's
//! hall of fame. How results look is [`crate::render::poll`]'s.

use rand::seq::index::sample;
use rand::Rng;
use serde::{Deserialize, Serialize};
use serenity::all::{CreatePoll, CreatePollAnswer};

use crate::catalog::Catalog;
use crate::limits::{self, clamp};
use crate::locale::Locale;

/// The longest poll Discord allows, in hours (32 days).
pub const MAX_HOURS: u16 = 768;
/// The default poll length, in hours.
pub const DEFAULT_HOURS: u16 = 24;

/// The scenes of one poll: answer `n` (1-based, as Discord numbers them) is `scene_ids[n - 1]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PollPlan {
    /// Scene ids in answer order.
    pub scene_ids: Vec<String>,
    /// Whether the catalog had more scenes than a poll holds, so some were left out at random.
    pub sampled: bool,
}

/// Every scene when they fit in one poll; otherwise [`limits::POLL_ANSWERS`] chosen at random, in catalog order.
pub fn plan_poll(catalog: &Catalog, rng: &mut impl Rng) -> PollPlan {
    let count = catalog.scenes.len();
    if count <= limits::POLL_ANSWERS {
        return PollPlan {
            scene_ids: catalog.scenes.iter().map(|s| s.id.clone()).collect(),
            sampled: false,
        };
    }
    let mut chosen = sample(rng, count, limits::POLL_ANSWERS).into_vec();
    chosen.sort_unstable();
    PollPlan {
        scene_ids: chosen
            .into_iter()
            .map(|i| catalog.scenes[i].id.clone())
            .collect(),
        sampled: true,
    }
}

/// The native poll, all in the server's language (`locale`): the question, and one answer per scene (emoji and
/// poll label); single choice, `hours` long (whole hours, clamped to 1..=768, because serenity rounds a duration down to hours).
pub fn build_poll(
    catalog: &Catalog,
    plan: &PollPlan,
    locale: Locale,
    hours: u16,
) -> CreatePoll<serenity::builder::create_poll::Ready> {
    let answers = plan
        .scene_ids
        .iter()
        .filter_map(|id| catalog.scene(id))
        .map(|scene| {
            CreatePollAnswer::new()
                .text(clamp(scene.poll_label.get(locale), limits::POLL_ANSWER))
                .emoji(scene.emoji.clone())
        })
        .collect();
    let hours = u64::from(hours.clamp(1, MAX_HOURS));
    CreatePoll::new()
        .question(clamp(locale.strings().poll_question, limits::POLL_QUESTION))
        .answers(answers)
        .duration(std::time::Duration::from_secs(hours * 3600))
}

/// How long a poll may stay unposted (Discord failing or not answering) before it is given up.
pub const POSTING_GIVE_UP_SECONDS: i64 = 3600;

/// The answer id Discord gave each scene of a poll posted in `locale`, read from the poll Discord returns
/// (`answers`: answer id and text, in Discord's order). Discord numbers answers itself, so ids are never assumed:
/// each scene's answer is the one showing its poll label in `locale`, or its English label (polls posted before the
/// labels were translated showed English in every server), or, for answers without text, the one in its position.
/// `None` when the answers do not fit the scenes (a poll we did not make, or fields missing): the caller tries again
/// rather than guess.
pub fn answer_ids(
    catalog: &Catalog,
    scene_ids: &[String],
    answers: &[(u64, Option<String>)],
    locale: Locale,
) -> Option<Vec<u64>> {
    if answers.len() != scene_ids.len() {
        return None;
    }
    let ids: Vec<u64> = scene_ids
        .iter()
        .enumerate()
        .map(|(position, scene_id)| {
            let labels: Vec<String> = catalog
                .scene(scene_id)
                .map(|scene| {
                    [locale, Locale::En]
                        .map(|l| clamp(scene.poll_label.get(l), limits::POLL_ANSWER))
                        .to_vec()
                })
                .unwrap_or_default();
            answers
                .iter()
                .find(|(_, text)| text.as_ref().is_some_and(|text| labels.contains(text)))
                .or_else(|| answers.get(position).filter(|(_, text)| text.is_none()))
                .map(|(id, _)| *id)
        })
        .collect::<Option<_>>()?;
    let mut distinct = ids.clone();
    distinct.sort_unstable();
    distinct.dedup();
    (distinct.len() == ids.len()).then_some(ids)
}

/// Votes per scene of one finished poll, in answer order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Tally {
    /// (scene id, votes), in answer order.
    pub votes: Vec<(String, u32)>,
}

impl Tally {
    /// Reads Discord's `answer_counts` (answer id → count), given the answer id Discord gave each scene
    /// (`answer_ids[i]` is `scene_ids[i]`'s, from [`answer_ids`]); answers nobody chose are absent and count 0.
    pub fn from_answer_counts(
        scene_ids: &[String],
        answer_ids: &[u64],
        counts: &[(u64, u32)],
    ) -> Tally {
        let votes = scene_ids
            .iter()
            .zip(answer_ids)
            .map(|(id, answer_id)| {
                let count = counts
                    .iter()
                    .filter(|(a, _)| a == answer_id)
                    .map(|(_, c)| *c)
                    .sum();
                (id.clone(), count)
            })
            .collect();
        Tally { votes }
    }

    /// All votes cast.
    pub fn total(&self) -> u32 {
        self.votes.iter().map(|(_, c)| *c).sum()
    }

    /// Who won: nobody, one scene, or several tied at the top (never a "winner" on a tie).
    pub fn outcome(&self) -> Outcome {
        let top = self.votes.iter().map(|(_, c)| *c).max().unwrap_or(0);
        if top == 0 {
            return Outcome::NoVotes;
        }
        let leaders: Vec<String> = self
            .votes
            .iter()
            .filter(|(_, c)| *c == top)
            .map(|(id, _)| id.clone())
            .collect();
        match leaders.as_slice() {
            [single] => Outcome::Winner(single.clone()),
            _ => Outcome::Tie(leaders),
        }
    }
}

/// The result of a poll.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Nobody voted.
    NoVotes,
    /// One scene has the most votes.
    Winner(String),
    /// Several scenes share the most votes.
    Tie(Vec<String>),
}

/// One scene's record in a server's hall of fame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing {
    /// The scene.
    pub scene_id: String,
    /// Polls it won alone.
    pub wins: u32,
    /// Polls where it tied for first.
    pub shared_wins: u32,
    /// Votes over every poll.
    pub votes: u32,
}

/// Wins and votes per scene over `tallies`, best first (wins, then shared wins, then votes, then id).
pub fn leaderboard(tallies: &[Tally]) -> Vec<Standing> {
    let mut standings: Vec<Standing> = Vec::new();
    for tally in tallies {
        let outcome = tally.outcome();
        for (id, count) in &tally.votes {
            let index = match standings.iter().position(|s| &s.scene_id == id) {
                Some(index) => index,
                None => {
                    standings.push(Standing {
                        scene_id: id.clone(),
                        wins: 0,
                        shared_wins: 0,
                        votes: 0,
                    });
                    standings.len() - 1
                }
            };
            let standing = &mut standings[index];
            standing.votes += count;
            match &outcome {
                Outcome::Winner(winner) if winner == id => standing.wins += 1,
                Outcome::Tie(leaders) if leaders.contains(id) => standing.shared_wins += 1,
                _ => {}
            }
        }
    }
    standings.sort_by(|a, b| {
        (b.wins, b.shared_wins, b.votes)
            .cmp(&(a.wins, a.shared_wins, a.votes))
            .then_with(|| a.scene_id.cmp(&b.scene_id))
    });
    standings
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{rngs::StdRng, SeedableRng};

    fn ids(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn answer_counts_become_a_tally_with_zeros() {
        let tally =
            Tally::from_answer_counts(&ids(&["a", "b", "c"]), &[1, 2, 3], &[(1, 3), (3, 5)]);
        assert_eq!(
            tally.votes,
            vec![("a".into(), 3), ("b".into(), 0), ("c".into(), 5)]
        );
        assert_eq!(tally.total(), 8);
        assert_eq!(tally.outcome(), Outcome::Winner("c".into()));
    }

    #[test]
    fn a_tie_names_co_winners_never_one_winner() {
        let tally = Tally::from_answer_counts(
            &ids(&["a", "b", "c"]),
            &[1, 2, 3],
            &[(1, 4), (2, 4), (3, 1)],
        );
        assert_eq!(tally.outcome(), Outcome::Tie(ids(&["a", "b"])));
        let nobody = Tally::from_answer_counts(&ids(&["a", "b"]), &[1, 2], &[]);
        assert_eq!(nobody.outcome(), Outcome::NoVotes);
        assert_eq!(nobody.total(), 0);
    }

    #[test]
    fn answer_ids_come_from_discord_never_from_positions() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let scene_ids: Vec<String> = catalog
            .scenes
            .iter()
            .take(3)
            .map(|s| s.id.clone())
            .collect();
        let label = |i: usize| Some(catalog.scenes[i].poll_label.en.clone());
        // Discord numbered the answers its own way and listed them in another order.
        let answers = vec![(40, label(2)), (7, label(0)), (19, label(1))];
        let ids = answer_ids(&catalog, &scene_ids, &answers, Locale::En);
        assert_eq!(ids, Some(vec![7, 19, 40]));
        let tally = Tally::from_answer_counts(&scene_ids, &[7, 19, 40], &[(40, 2), (7, 1)]);
        assert_eq!(tally.votes[2], (scene_ids[2].clone(), 2));
        assert_eq!(tally.votes[1], (scene_ids[1].clone(), 0));
        // Answers without text fall back to their position; a count that does not fit is no answer at all.
        let untitled = vec![(5, None), (6, None), (9, None)];
        assert_eq!(
            answer_ids(&catalog, &scene_ids, &untitled, Locale::En),
            Some(vec![5, 6, 9])
        );
        assert_eq!(
            answer_ids(&catalog, &scene_ids, &untitled[..2], Locale::En),
            None
        );
        let foreign = vec![(1, Some("?".to_owned())), (2, label(1)), (3, label(2))];
        assert_eq!(answer_ids(&catalog, &scene_ids, &foreign, Locale::En), None);
    }

    #[test]
    fn a_korean_poll_is_read_by_its_korean_labels_and_an_older_one_by_its_english() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let scene_ids: Vec<String> = catalog.scenes.iter().map(|s| s.id.clone()).collect();
        let korean: Vec<(u64, Option<String>)> = catalog
            .scenes
            .iter()
            .enumerate()
            .rev()
            .map(|(i, s)| (100 + i as u64, Some(s.poll_label.ko.clone())))
            .collect();
        let expected: Vec<u64> = (100..106).collect();
        assert_eq!(
            answer_ids(&catalog, &scene_ids, &korean, Locale::Ko),
            Some(expected.clone())
        );
        // Posted before the labels were translated: English answers in a Korean server.
        let english: Vec<(u64, Option<String>)> = catalog
            .scenes
            .iter()
            .enumerate()
            .map(|(i, s)| (100 + i as u64, Some(s.poll_label.en.clone())))
            .collect();
        assert_eq!(
            answer_ids(&catalog, &scene_ids, &english, Locale::Ko),
            Some(expected)
        );
        // An English server never posted Korean labels: they are not ours.
        assert_eq!(answer_ids(&catalog, &scene_ids, &korean, Locale::En), None);
    }

    #[test]
    fn the_leaderboard_sums_its_polls() {
        let polls = vec![
            Tally::from_answer_counts(&ids(&["a", "b"]), &[1, 2], &[(1, 3), (2, 1)]),
            Tally::from_answer_counts(&ids(&["a", "b"]), &[1, 2], &[(1, 2), (2, 2)]),
            Tally::from_answer_counts(&ids(&["a", "b", "c"]), &[1, 2, 3], &[(3, 7)]),
        ];
        let board = leaderboard(&polls);
        let find = |id: &str| board.iter().find(|s| s.scene_id == id).cloned();
        assert_eq!(
            find("a").map(|s| (s.wins, s.shared_wins, s.votes)),
            Some((1, 1, 5))
        );
        assert_eq!(
            find("b").map(|s| (s.wins, s.shared_wins, s.votes)),
            Some((0, 1, 3))
        );
        assert_eq!(
            find("c").map(|s| (s.wins, s.shared_wins, s.votes)),
            Some((1, 0, 7))
        );
        assert_eq!(board[0].scene_id, "a", "a shared win ranks above none");
        assert_eq!(board[1].scene_id, "c");
    }

    #[test]
    fn small_catalogs_poll_every_scene_in_order() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let plan = plan_poll(&catalog, &mut StdRng::seed_from_u64(1));
        assert!(!plan.sampled);
        assert_eq!(plan.scene_ids.len(), 6);
        assert_eq!(plan.scene_ids[0], "secretary-kim");
    }

    #[test]
    fn large_catalogs_poll_ten_at_random() {
        let mut catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let template = catalog.scenes[0].clone();
        for i in 0..14 {
            let mut scene = template.clone();
            scene.id = format!("extra-{i}");
            catalog.scenes.push(scene);
        }
        let plan = plan_poll(&catalog, &mut StdRng::seed_from_u64(9));
        assert!(plan.sampled);
        assert_eq!(plan.scene_ids.len(), 10);
        let mut unique = plan.scene_ids.clone();
        unique.dedup();
        assert_eq!(unique.len(), 10);
    }

    #[test]
    fn the_poll_has_one_answer_per_scene_within_limits() {
        let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
        let plan = plan_poll(&catalog, &mut StdRng::seed_from_u64(1));
        let poll =
            serde_json::to_value(build_poll(&catalog, &plan, Locale::Ko, 5000)).unwrap_or_default();
        assert_eq!(poll["duration"], 768);
        assert_eq!(poll["allow_multiselect"], false);
        let answers = poll["answers"].as_array().cloned().unwrap_or_default();
        assert_eq!(answers.len(), 6);
        for (answer, scene) in answers.iter().zip(&catalog.scenes) {
            let text = answer["poll_media"]["text"].as_str().unwrap_or_default();
            assert!((1..=55).contains(&text.chars().count()), "{text}");
            assert_eq!(text, scene.poll_label.ko);
        }
        assert_eq!(poll["question"]["text"], "우리 서버 최애 박서준 키스신은?");
    }
}
