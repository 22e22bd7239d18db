//! The generator's and the rules' tests: properties over every seed, kind and language, and the round rules.

use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;

use super::questions::{contains_any, giveaway_names, mask, MASK, MAX_OPTIONS, MIN_WRONG};
use super::round::{ANSWER_WINDOW_SECONDS, MAX_ANSWER_WINDOW_SECONDS, POINTS_FIRST, POINTS_RIGHT};
use super::*;
use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::search::normalize;

fn catalog() -> Catalog {
    Catalog::bundled().unwrap_or_else(|e| panic!("{e}"))
}

/// Every property of one question, in one language; `Err` says which failed.
fn check_question(catalog: &Catalog, q: &Question, locale: Locale) -> Result<(), String> {
    let what = format!("{} {:?} {locale:?}", q.scene, q.kind);
    let scene = q.scene(catalog).ok_or(format!("{what}: no scene"))?;
    let labels = q.labels(catalog, locale).ok_or(format!("{what}: labels"))?;
    let prompt = q.prompt(catalog, locale).ok_or(format!("{what}: prompt"))?;
    if !(MIN_WRONG + 1..=MAX_OPTIONS).contains(&labels.len()) {
        return Err(format!("{what}: {} options", labels.len()));
    }
    let right = q
        .kind
        .value(scene, locale)
        .ok_or(format!("{what}: no value"))?;
    if labels.get(q.answer) != Some(&right) {
        return Err(format!(
            "{what}: the right option is not the dataset's value"
        ));
    }
    let aliases = q.kind.aliases(scene);
    let matching = labels
        .iter()
        .filter(|label| contains_any(label, &aliases) || contains_any(&right, &[(*label).clone()]))
        .count();
    if matching != 1 {
        return Err(format!(
            "{what}: {matching} options match the answer: {labels:?}"
        ));
    }
    let mut keys: Vec<String> = labels.iter().map(|l| normalize(l)).collect();
    keys.sort();
    keys.dedup();
    if keys.len() != labels.len() {
        return Err(format!(
            "{what}: options repeat after normalization: {labels:?}"
        ));
    }
    for label in &labels {
        let from_dataset = catalog
            .scenes
            .iter()
            .any(|s| q.kind.value(s, locale).as_ref() == Some(label));
        if !from_dataset {
            return Err(format!("{what}: \"{label}\" is no value of the dataset"));
        }
    }
    let lower = prompt.to_lowercase();
    for alias in &aliases {
        if lower.contains(&alias.to_lowercase())
            || contains_any(&prompt, std::slice::from_ref(alias))
        {
            return Err(format!(
                "{what}: the question contains the answer \"{alias}\": {prompt}"
            ));
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every askable scene and kind, for any seed, in both languages.
    #[test]
    fn every_question_is_sound(seed in any::<u64>()) {
        let catalog = catalog();
        let mut rng = StdRng::seed_from_u64(seed);
        for (scene, kind) in askable(&catalog) {
            let q = question(&catalog, scene, kind, &mut rng);
            prop_assert!(q.is_some(), "askable but not asked: {scene} {kind:?}");
            let Some(q) = q else { continue };
            for locale in Locale::ALL {
                check_question(&catalog, &q, locale).map_err(TestCaseError::fail)?;
            }
        }
    }

    /// Rounds of every size, for any seed: sound questions, none twice.
    #[test]
    fn every_round_is_sound(seed in any::<u64>(), n in 0_usize..14) {
        let catalog = catalog();
        let round = draw(&catalog, n, &mut StdRng::seed_from_u64(seed));
        prop_assert_eq!(round.len(), n.clamp(1, MAX_QUESTIONS));
        let mut asked: Vec<(&str, Kind)> = round.iter().map(|q| (q.scene.as_str(), q.kind)).collect();
        asked.sort();
        asked.dedup();
        prop_assert_eq!(asked.len(), round.len(), "a question repeats");
        for q in &round {
            for locale in Locale::ALL {
                check_question(&catalog, q, locale).map_err(TestCaseError::fail)?;
            }
        }
    }
}

#[test]
fn every_kind_is_asked_where_the_data_allows_and_only_there() {
    let catalog = catalog();
    let askable = askable(&catalog);
    let count = |kind: Kind| askable.iter().filter(|(_, k)| *k == kind).count();
    // Six scenes, six dramas, six partners: every scene, unless its wording would give the answer away.
    assert_eq!(count(Kind::Role), 6);
    assert_eq!(count(Kind::Partner), 6);
    assert_eq!(count(Kind::Year), 6);
    assert_eq!(count(Kind::Drama), 6);
    // Three networks: a question of three options.
    assert_eq!(count(Kind::Network), 6);
    // Three scenes have an episode, so three values: each of them, with two wrong ones.
    assert_eq!(count(Kind::Episode), 3);
    // 16 and 20 episodes: one wrong value at most, so no question.
    assert_eq!(count(Kind::Episodes), 0);
    // "Secretary Kim" is Kim Mi-so's alias and in the title: that question would answer itself.
    assert!(!askable.contains(&(0, Kind::PartnerRole)));
    assert_eq!(count(Kind::PartnerRole), 5);
    // 화랑 is "Hwarang", read in the English title.
    assert!(!askable.contains(&(4, Kind::KoreanTitle)));
    assert_eq!(count(Kind::KoreanTitle), 5);
}

#[test]
fn years_of_the_same_value_never_meet_in_one_question() {
    let catalog = catalog();
    // She Was Pretty and Kill Me, Heal Me both started in 2015.
    for seed in 0..200 {
        let mut rng = StdRng::seed_from_u64(seed);
        let Some(q) = question(&catalog, 1, Kind::Year, &mut rng) else {
            panic!("no year question");
        };
        assert!(!q.options.contains(&"kill-me-heal-me".to_owned()), "{q:?}");
    }
}

#[test]
fn the_masked_summary_names_nobody_and_no_title() {
    let catalog = catalog();
    for scene in &catalog.scenes {
        for locale in Locale::ALL {
            let masked = mask(scene.summary.get(locale), &giveaway_names(scene));
            let lower = masked.to_lowercase();
            for name in [
                &scene.role.name.en,
                &scene.role.name.ko,
                &scene.partner.actor.en,
                &scene.partner.actor.ko,
                &scene.partner.role.en,
                &scene.partner.role.ko,
                &scene.drama.title,
                &scene.drama.title_ko,
            ] {
                assert!(
                    !lower.contains(&name.to_lowercase()),
                    "{} {locale:?}: {name}",
                    scene.id
                );
            }
            assert!(masked.contains(MASK), "{}: nothing masked", scene.id);
        }
    }
    // The given names summaries use: 영준 (이영준), 요나 (안요나), Young-joon (Lee Young-joon).
    let korean = mask(
        &catalog.scenes[0].summary.ko,
        &giveaway_names(&catalog.scenes[0]),
    );
    assert!(!korean.contains("영준"), "{korean}");
    let korean = mask(
        &catalog.scenes[5].summary.ko,
        &giveaway_names(&catalog.scenes[5]),
    );
    assert!(!korean.contains("요나"), "{korean}");
}

#[test]
fn latin_names_are_masked_as_whole_words_and_hangul_names_anywhere() {
    let names = vec!["Ara".to_owned(), "영준".to_owned(), "Ji Sung".to_owned()];
    assert_eq!(
        mask("A parade for Ara.", &names),
        format!("A parade for {MASK}.")
    );
    assert_eq!(mask("영준의 비서", &names), format!("{MASK}의 비서"));
    assert_eq!(
        mask("ji sung and Ji Sung-joon", &names),
        format!("{MASK} and {MASK}-joon")
    );
    assert_eq!(mask("nothing here", &[]), "nothing here");
}

#[test]
fn kinds_keep_their_codes() {
    for kind in Kind::ALL {
        assert_eq!(Kind::from_code(kind.code()), Some(kind));
    }
    assert_eq!(Kind::from_code("shoe-size"), None);
}

#[test]
fn a_round_is_the_same_for_the_same_seed_and_spread_over_scenes_and_kinds() {
    let catalog = catalog();
    for seed in 0..300 {
        let round = draw(
            &catalog,
            DEFAULT_QUESTIONS,
            &mut StdRng::seed_from_u64(seed),
        );
        assert_eq!(
            round,
            draw(
                &catalog,
                DEFAULT_QUESTIONS,
                &mut StdRng::seed_from_u64(seed)
            )
        );
        let mut scenes: Vec<&str> = round.iter().map(|q| q.scene.as_str()).collect();
        scenes.sort_unstable();
        scenes.dedup();
        assert_eq!(
            scenes.len(),
            DEFAULT_QUESTIONS,
            "seed {seed}: a scene twice"
        );
        let mut kinds: Vec<Kind> = round.iter().map(|q| q.kind).collect();
        kinds.sort_unstable();
        kinds.dedup();
        assert_eq!(kinds.len(), DEFAULT_QUESTIONS, "seed {seed}: a kind twice");

        let full = draw(&catalog, MAX_QUESTIONS, &mut StdRng::seed_from_u64(seed));
        for scene in &catalog.scenes {
            let times = full.iter().filter(|q| q.scene == scene.id).count();
            assert!(
                (1..=2).contains(&times),
                "seed {seed}: {} asked {times} times",
                scene.id
            );
        }
        for kind in Kind::ALL {
            let times = full.iter().filter(|q| q.kind == kind).count();
            assert!(times <= 2, "seed {seed}: {kind:?} asked {times} times");
        }
        for drama in full.iter().filter(|q| q.kind == Kind::Drama) {
            let times = full.iter().filter(|q| q.scene == drama.scene).count();
            assert_eq!(
                times, 1,
                "seed {seed}: {} asked \"which drama?\" and more",
                drama.scene
            );
        }
    }
}

#[test]
fn rounds_differ_between_seeds_and_every_kind_comes_up() {
    let catalog = catalog();
    let mut seen = Vec::new();
    let mut rounds = Vec::new();
    for seed in 0..100 {
        let round = draw(
            &catalog,
            DEFAULT_QUESTIONS,
            &mut StdRng::seed_from_u64(seed),
        );
        seen.extend(round.iter().map(|q| q.kind));
        rounds.push(round);
    }
    rounds.dedup();
    assert!(rounds.len() > 90, "only {} different rounds", rounds.len());
    for kind in Kind::ALL.into_iter().filter(|k| *k != Kind::Episodes) {
        assert!(seen.contains(&kind), "{kind:?} never drawn");
    }
}

#[test]
fn the_answer_window_grows_with_the_reading_only() {
    assert_eq!(
        answer_window_seconds("Which network aired *Hwarang*?"),
        ANSWER_WINDOW_SECONDS
    );
    assert_eq!(answer_window_seconds(&"a".repeat(120)), 20);
    assert_eq!(answer_window_seconds(&"a".repeat(470)), 34);
    assert_eq!(
        answer_window_seconds(&"a".repeat(4000)),
        MAX_ANSWER_WINDOW_SECONDS
    );
}

const OPENS: i64 = 1_800_000_000_000;
const CLOSES: i64 = OPENS + 20_000;

fn answer(user: u64, option: usize, after_ms: i64) -> Answer {
    Answer {
        user,
        option,
        at_ms: OPENS + after_ms,
    }
}

#[test]
fn one_answer_per_person_before_the_close_on_an_offered_option() {
    let mut tally = Tally::new(4, CLOSES);
    assert_eq!(tally.record(answer(1, 2, 3_000)), Recorded::Counted);
    assert_eq!(tally.record(answer(2, 0, 4_000)), Recorded::Counted);
    // A second click, even on another option: the first answer stands.
    assert_eq!(
        tally.record(answer(1, 1, 5_000)),
        Recorded::AlreadyAnswered { option: 2 }
    );
    // On the close itself and after: too late.
    assert_eq!(tally.record(answer(3, 2, 20_000)), Recorded::Closed);
    assert_eq!(tally.record(answer(3, 2, 60_000)), Recorded::Closed);
    // A forged option.
    assert_eq!(tally.record(answer(4, 4, 1_000)), Recorded::NoSuchOption);
    assert_eq!(tally.answers.len(), 2);
    assert_eq!(tally.answers[0].option, 2);
}

#[test]
fn the_reveal_counts_and_names_the_first_right_by_time() {
    let mut tally = Tally::new(3, CLOSES);
    // Handled out of order: user 7 clicked earlier than user 5, though counted later.
    for a in [
        answer(5, 1, 9_000),
        answer(6, 0, 1_000),
        answer(7, 1, 8_000),
        answer(8, 1, 19_999),
    ] {
        assert_eq!(tally.record(a), Recorded::Counted);
    }
    let reveal = tally.reveal(1);
    assert_eq!(reveal.right, 1);
    assert_eq!(reveal.answered, 4);
    assert_eq!(reveal.right_count, 3);
    assert_eq!(reveal.first_right, Some(7));
    assert_eq!(
        reveal.points,
        vec![
            (5, POINTS_RIGHT),
            (6, 0),
            (7, POINTS_RIGHT + POINTS_FIRST),
            (8, POINTS_RIGHT)
        ]
    );
    // Two right at the same millisecond: the one counted first.
    let mut tie = Tally::new(2, CLOSES);
    tie.record(answer(1, 0, 500));
    tie.record(answer(2, 0, 500));
    assert_eq!(tie.reveal(0).first_right, Some(1));
    // Nobody right, nobody answering.
    assert_eq!(tie.reveal(1).first_right, None);
    let empty = Tally::new(4, CLOSES).reveal(2);
    assert_eq!(
        (empty.answered, empty.right_count, empty.first_right),
        (0, 0, None)
    );
}

#[test]
fn scores_sum_the_reveals_and_equal_points_share_a_place() {
    let reveal = |points: Vec<(u64, u32)>, first: Option<u64>| Reveal {
        right: 0,
        answered: points.len(),
        right_count: points.iter().filter(|(_, p)| *p > 0).count(),
        first_right: first,
        points,
    };
    let reveals = [
        reveal(vec![(1, 2), (2, 1), (3, 0)], Some(1)),
        reveal(vec![(2, 2), (3, 1)], Some(2)),
        reveal(vec![(4, 0)], None),
    ];
    let scores = round_scores(&reveals);
    let rows: Vec<(u64, u32, u32, u32, usize)> = scores
        .iter()
        .map(|s| (s.user, s.points, s.right, s.first, s.rank))
        .collect();
    assert_eq!(
        rows,
        vec![
            (2, 3, 2, 1, 1),
            (1, 2, 1, 1, 2),
            (3, 1, 1, 0, 3),
            (4, 0, 0, 0, 4)
        ]
    );
    let tied = round_scores(&[reveal(vec![(9, 1), (8, 1), (7, 0)], None)]);
    let ranks: Vec<(u64, usize)> = tied.iter().map(|s| (s.user, s.rank)).collect();
    assert_eq!(ranks, vec![(8, 1), (9, 1), (7, 3)]);
    assert!(round_scores(&[]).is_empty());
}
