//! The quiz's records in the store contract, on both backends (the cases run as `store_contract::quiz::on_sqlite::…`
//! and `…::on_postgres::…`): a round stored whole, one running round per lane and a cooldown, each answer once and
//! none after its question's reveal (even racing it), the board moved once per round, a round's claim.

use super::*;
use scenebot::quiz::{Answer, Kind, Question, Score};
use scenebot::store::{NewRound, NotStarted, RoundState, Stored};

const T: i64 = 1_800_000_000;

fn question(answer: usize) -> Question {
    Question {
        kind: Kind::Network,
        scene: "kill-me-heal-me".into(),
        options: vec![
            "hwarang".into(),
            "kill-me-heal-me".into(),
            "secretary-kim".into(),
        ],
        answer,
    }
}

fn new_round(guild: Option<u64>, channel: u64, now: i64) -> NewRound {
    NewRound {
        guild_id: guild,
        channel_id: channel,
        started_by: 5,
        locale: Locale::Ko,
        questions: vec![question(1), question(0)],
        application_id: 77,
        token: "tok".into(),
        now,
        cooldown: 30,
    }
}

fn started(store: &Store, guild: Option<u64>, channel: u64, now: i64) -> Result<u64, StoreError> {
    match store.insert_quiz_round(&new_round(guild, channel, now))? {
        Ok(record) => Ok(record.id),
        Err(refused) => panic!("not started: {refused:?}"),
    }
}

fn answer(user: u64, option: usize, at_ms: i64) -> Answer {
    Answer {
        user,
        option,
        at_ms,
    }
}

fn a_quiz_round_is_stored_whole_one_per_lane_with_a_cooldown(
    open: Open<'_>,
) -> Result<(), StoreError> {
    let store = open();
    let id = started(&store, Some(1), 10, T)?;
    let record = store.quiz_round(id)?.unwrap_or_else(|| panic!("round"));
    assert_eq!(record.questions, vec![question(1), question(0)]);
    assert_eq!(
        (
            record.guild_id,
            record.channel_id,
            record.locale,
            record.state
        ),
        (Some(1), 10, Locale::Ko, RoundState::Running)
    );
    assert_eq!((record.application_id, record.token.as_str()), (77, "tok"));
    assert!(record.slots.is_empty());
    match open().insert_quiz_round(&new_round(Some(1), 10, T))? {
        Err(NotStarted::Running(running)) => assert_eq!(running.id, id),
        other => panic!("{other:?}"),
    }
    // Another channel, and a solo round of the same person, are lanes of their own.
    started(&store, Some(1), 11, T)?;
    let solo = started(&store, None, 10, T)?;
    assert!(matches!(
        store.insert_quiz_round(&new_round(None, 12, T))?,
        Err(NotStarted::Running(_))
    ));
    assert_eq!(
        store.open_quiz_question(id, 0, T * 1000 + 20_000)?,
        T * 1000 + 20_000
    );
    assert_eq!(
        store.open_quiz_question(id, 0, T * 1000 + 99_000)?,
        T * 1000 + 20_000,
        "opening again keeps the first close"
    );
    store.quiz_question_sent(id, 0, 555)?;
    let slot = store.quiz_round(id)?.and_then(|r| r.slot(0).copied());
    assert_eq!(slot.and_then(|s| s.message_id), Some(555));
    assert_eq!(store.running_quiz_round(10)?.map(|r| r.id), Some(id));
    assert!(store.finish_quiz_round(id, RoundState::Finished, &[], T + 100)?);
    assert!(store.finish_quiz_round(solo, RoundState::Finished, &[], T + 100)?);
    assert_eq!(store.running_quiz_round(10)?, None);
    match store.insert_quiz_round(&new_round(Some(1), 10, T + 110))? {
        Err(NotStarted::Cooldown { until }) => assert_eq!(until, T + 130),
        other => panic!("{other:?}"),
    }
    assert!(store
        .insert_quiz_round(&new_round(Some(1), 10, T + 130))?
        .is_ok());
    assert!(
        store
            .insert_quiz_round(&new_round(None, 10, T + 101))?
            .is_ok(),
        "a solo round has no cooldown"
    );
    let unfinished: Vec<u64> = store
        .unfinished_quiz_rounds(T - 900)?
        .iter()
        .map(|r| r.id)
        .collect();
    assert!(unfinished.contains(&id), "ended, scores not posted yet");
    store.mark_quiz_scores_posted(id)?;
    assert!(!store
        .unfinished_quiz_rounds(T - 900)?
        .iter()
        .any(|r| r.id == id));
    Ok(())
}

fn each_answer_counts_once_and_none_after_the_reveal(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    let id = started(&store, Some(1), 10, T)?;
    assert_eq!(
        store.record_quiz_answer(id, 0, answer(1, 1, T))?,
        Stored::Closed,
        "not opened yet"
    );
    store.open_quiz_question(id, 0, T * 1000 + 20_000)?;
    assert_eq!(
        store.record_quiz_answer(id, 0, answer(1, 1, T))?,
        Stored::Counted
    );
    assert_eq!(
        store.record_quiz_answer(id, 0, answer(2, 0, T + 1))?,
        Stored::Counted
    );
    assert_eq!(
        open().record_quiz_answer(id, 0, answer(1, 2, T + 2))?,
        Stored::Already(1)
    );
    let revealed = store.reveal_quiz_question(id, 0)?;
    assert_eq!(revealed, vec![answer(1, 1, T), answer(2, 0, T + 1)]);
    assert_eq!(
        store.record_quiz_answer(id, 0, answer(3, 1, T))?,
        Stored::Closed
    );
    assert_eq!(
        store.reveal_quiz_question(id, 0)?,
        revealed,
        "a second reveal reads the same"
    );
    store.open_quiz_question(id, 1, T * 1000 + 50_000)?;
    assert!(store.request_quiz_stop(id)?);
    assert_eq!(
        store.record_quiz_answer(id, 1, answer(3, 1, T))?,
        Stored::Closed,
        "stopping"
    );
    let all = store.revealed_quiz_answers(id)?;
    assert_eq!(all.len(), 2, "only revealed questions count: {all:?}");
    store.mark_quiz_shown(id, 0)?;
    let slot = store.quiz_round(id)?.and_then(|r| r.slot(0).copied());
    assert!(slot.is_some_and(|s| s.revealed && s.shown));
    Ok(())
}

fn answers_racing_the_reveal_are_in_its_tally_or_refused(open: Open<'_>) -> Result<(), StoreError> {
    let store = open();
    let id = started(&store, Some(1), 10, T)?;
    store.open_quiz_question(id, 0, T * 1000 + 20_000)?;
    let barrier = Arc::new(Barrier::new(9));
    let answering: Vec<_> = (0..8_u64)
        .map(|worker| {
            let (store, barrier) = (open(), Arc::clone(&barrier));
            std::thread::spawn(move || {
                barrier.wait();
                (0..10_u64)
                    .filter_map(|n| {
                        let user = worker * 100 + n;
                        match store.record_quiz_answer(id, 0, answer(user, 1, T)) {
                            Ok(Stored::Counted) => Some(user),
                            Ok(_) => None,
                            Err(error) => panic!("{error}"),
                        }
                    })
                    .collect::<Vec<u64>>()
            })
        })
        .collect();
    barrier.wait();
    std::thread::sleep(Duration::from_millis(5));
    let revealed: Vec<u64> = open()
        .reveal_quiz_question(id, 0)?
        .iter()
        .map(|a| a.user)
        .collect();
    let mut counted: Vec<u64> = answering
        .into_iter()
        .flat_map(|worker| worker.join().unwrap_or_default())
        .collect();
    counted.sort_unstable();
    let mut tallied = revealed.clone();
    tallied.sort_unstable();
    assert_eq!(
        counted, tallied,
        "every answer told 'locked in' is in the reveal"
    );
    Ok(())
}

fn the_board_moves_once_per_round(open: Open<'_>) -> Result<(), StoreError> {
    let (a, b) = (open(), open());
    let score = |user, points, right, first| Score {
        user,
        points,
        right,
        first,
        rank: 0,
    };
    let id = started(&a, Some(1), 10, T)?;
    let scores = [score(7, 3, 2, 1), score(8, 3, 3, 0), score(9, 0, 0, 0)];
    assert!(a.finish_quiz_round(id, RoundState::Finished, &scores, T + 60)?);
    assert!(!b.finish_quiz_round(id, RoundState::Stopped, &scores, T + 61)?);
    let round = b.quiz_round(id)?.unwrap_or_else(|| panic!("round"));
    assert_eq!(
        (round.state, round.ended_at),
        (RoundState::Finished, Some(T + 60))
    );
    let second = started(&a, Some(1), 11, T)?;
    assert!(b.finish_quiz_round(second, RoundState::Stopped, &[score(7, 1, 1, 0)], T + 70)?);
    let solo = started(&a, None, 12, T)?;
    assert!(a.finish_quiz_round(solo, RoundState::Finished, &[score(7, 50, 9, 9)], T + 80)?);
    let board = a.quiz_board(1, 9, 10)?;
    let top: Vec<(u64, u64, u64, u64)> = board
        .top
        .iter()
        .map(|r| (r.user, r.place, r.points, r.rounds))
        .collect();
    assert_eq!(top, vec![(7, 1, 4, 2), (8, 2, 3, 1), (9, 3, 0, 1)]);
    assert_eq!(board.me.map(|me| (me.place, me.right)), Some((3, 0)));
    assert_eq!(board.rounds, 2, "the solo round is on no board");
    assert_eq!(a.quiz_board(1, 99, 1)?.top.len(), 1);
    assert_eq!(a.quiz_board(1, 99, 10)?.me, None);
    assert_eq!(a.quiz_board(2, 7, 10)?.rounds, 0);
    Ok(())
}

fn a_round_is_run_by_one_live_process(open: Open<'_>) -> Result<(), StoreError> {
    let (first, second) = (open(), open());
    let id = started(&first, Some(1), 10, T)?;
    assert!(
        first.claim_quiz_round(id, T + 1)?,
        "the starter renews its claim"
    );
    assert!(
        !second.claim_quiz_round(id, T + 2)?,
        "another live process leaves it"
    );
    assert!(
        second.claim_quiz_round(id, T + 1 + 121)?,
        "taken over once the lease ran out"
    );
    assert!(!first.claim_quiz_round(id, T + 130)?);
    Ok(())
}

on_both_backends!(
    a_quiz_round_is_stored_whole_one_per_lane_with_a_cooldown,
    each_answer_counts_once_and_none_after_the_reveal,
    answers_racing_the_reveal_are_in_its_tally_or_refused,
    the_board_moves_once_per_round,
    a_round_is_run_by_one_live_process,
);
