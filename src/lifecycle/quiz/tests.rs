use std::sync::PoisonError;

use rand::rngs::StdRng;
use rand::SeedableRng;

use super::*;
use crate::catalog::Catalog;
use crate::clock::ManualClock;
use crate::lifecycle::test_port::FakePort;
use crate::locale::Locale;
use crate::store::{NewRound, NotStarted};

const START: i64 = 1_800_000_000;
const GUILD: u64 = 1;
const CHANNEL: u64 = 7;

fn rounds(clock: Arc<ManualClock>, store: Store) -> Arc<Rounds<FakePort>> {
    Arc::new(Rounds {
        store,
        clock,
        port: FakePort::default(),
        responder: Arc::new(Responder::new(
            Catalog::bundled().unwrap_or_else(|e| panic!("{e}")),
        )),
        running: RunningRounds::default(),
    })
}

fn store() -> Store {
    Store::open_in_memory().unwrap_or_else(|e| panic!("{e}"))
}

/// A round of `n` questions in guild 1, channel 7 (or a solo one), started now.
fn new_round(rounds: &Rounds<FakePort>, n: usize, guild: Option<u64>) -> RoundRecord {
    let questions = crate::quiz::draw(&rounds.responder.catalog, n, &mut StdRng::seed_from_u64(7));
    let round = NewRound {
        guild_id: guild,
        channel_id: CHANNEL,
        started_by: 3,
        locale: Locale::En,
        questions,
        application_id: 99,
        token: "token".into(),
        now: rounds.clock.now(),
        cooldown: COOLDOWN_SECONDS,
    };
    match rounds.store.insert_quiz_round(&round) {
        Ok(Ok(record)) => record,
        other => panic!("{other:?}"),
    }
}

fn round(rounds: &Rounds<FakePort>, id: u64) -> RoundRecord {
    rounds
        .store
        .quiz_round(id)
        .ok()
        .flatten()
        .unwrap_or_else(|| panic!("round {id}"))
}

/// Waits (in real time, briefly) until `done` holds of the round.
async fn until(rounds: &Rounds<FakePort>, id: u64, done: impl Fn(&RoundRecord) -> bool) {
    for _ in 0..400 {
        if done(&round(rounds, id)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the round never got there: {:?}", round(rounds, id));
}

/// Moves the clock a second at a time (through the pause after a reveal) until `done` holds of the round.
async fn until_moving(
    rounds: &Rounds<FakePort>,
    clock: &ManualClock,
    id: u64,
    done: impl Fn(&RoundRecord) -> bool,
) {
    for _ in 0..200 {
        if done(&round(rounds, id)) {
            return;
        }
        clock.advance(1);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the round never got there: {:?}", round(rounds, id));
}

/// Moves the clock a minute at a time until the round's scores are posted.
async fn play_out(rounds: &Rounds<FakePort>, clock: &ManualClock, id: u64) {
    for _ in 0..100 {
        if round(rounds, id).scores_posted {
            return;
        }
        clock.advance(60);
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    panic!("the round never ended: {:?}", round(rounds, id));
}

fn sent(rounds: &Rounds<FakePort>) -> Vec<String> {
    rounds.port.sent().into_iter().map(|s| s.what).collect()
}

fn click(
    rounds: &Rounds<FakePort>,
    record: &RoundRecord,
    position: usize,
    option: usize,
    user: u64,
    at_ms: i64,
) -> Click {
    let message = round(rounds, record.id)
        .slot(position)
        .and_then(|s| s.message_id)
        .unwrap_or(0);
    answer(
        &rounds.store,
        record.id,
        position,
        option,
        (CHANNEL, message, user, at_ms),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn board(rounds: &Rounds<FakePort>) -> Vec<(u64, u64)> {
    rounds
        .store
        .quiz_board(GUILD, 0, 10)
        .unwrap_or_else(|e| panic!("{e}"))
        .top
        .iter()
        .map(|row| (row.user, row.points))
        .collect()
}

#[tokio::test]
async fn a_round_asks_reveals_and_scores_once_with_answers_judged_by_the_stored_round() {
    let clock = Arc::new(ManualClock::new(START));
    let rounds = rounds(Arc::clone(&clock), store());
    let record = new_round(&rounds, 2, Some(GUILD));
    tokio::spawn(Arc::clone(&rounds).run(record.id));
    until(&rounds, record.id, |r| {
        r.slot(0).is_some_and(|s| s.message_id.is_some())
    })
    .await;
    let opened = round(&rounds, record.id);
    let slot = opened.slot(0).copied().unwrap_or_else(|| panic!("slot"));
    assert_eq!(
        slot.closes_at_ms,
        (START + rounds.window(&opened, 0)) * 1000
    );
    let right = record.questions[0].answer;
    let wrong = (right + 1) % record.questions[0].options.len();
    let t = START * 1000;
    assert_eq!(
        click(&rounds, &record, 0, right, 11, t + 2_000),
        Click::Counted(right)
    );
    assert_eq!(
        click(&rounds, &record, 0, right, 12, t + 1_000),
        Click::Counted(right)
    );
    assert_eq!(
        click(&rounds, &record, 0, wrong, 13, t + 500),
        Click::Counted(wrong)
    );
    assert_eq!(
        click(&rounds, &record, 0, wrong, 11, t + 3_000),
        Click::Already(right)
    );
    assert_eq!(
        click(&rounds, &record, 0, 9, 14, t),
        Click::NotCounted,
        "an option not offered"
    );
    assert_eq!(
        click(&rounds, &record, 1, right, 14, t),
        Click::NotCounted,
        "a question not open"
    );
    assert_eq!(
        click(&rounds, &record, 0, right, 14, slot.closes_at_ms),
        Click::TooLate,
        "at the close"
    );
    let forged = answer(
        &rounds.store,
        record.id,
        0,
        right,
        (CHANNEL, 424_242, 15, t),
    );
    assert_eq!(
        forged.ok(),
        Some(Click::NotCounted),
        "another message's click"
    );
    let other_round = answer(&rounds.store, record.id + 1, 0, right, (CHANNEL, 1, 15, t));
    assert_eq!(other_round.ok(), Some(Click::NotCounted));

    clock.advance(60);
    until_moving(&rounds, &clock, record.id, |r| r.slot(1).is_some()).await;
    assert_eq!(
        click(&rounds, &record, 0, right, 16, t + 100),
        Click::TooLate,
        "revealed"
    );
    clock.advance(60);
    until(&rounds, record.id, |r| r.scores_posted).await;

    let ended = round(&rounds, record.id);
    assert_eq!(ended.state, RoundState::Finished);
    let edits = rounds
        .port
        .quiz_edits
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(edits.len(), 2, "{edits:?}");
    assert_eq!(edits[0].1, "revealed:0:3/2");
    let last = sent(&rounds).pop().unwrap_or_default();
    // 12 was first right (Discord's time, not the order counted): 2 points; 11 right: 1; 13 wrong: 0.
    assert_eq!(last, "scores:12=2,11=1,13=0");
    assert_eq!(board(&rounds), vec![(12, 2), (11, 1), (13, 0)]);
    // Running the ended round again (a second runner, a restart) moves nothing.
    Arc::clone(&rounds).run(record.id).await;
    assert_eq!(board(&rounds), vec![(12, 2), (11, 1), (13, 0)]);
    assert_eq!(
        sent(&rounds)
            .iter()
            .filter(|s| s.starts_with("scores"))
            .count(),
        1
    );
}

/// A round of `n` questions whose process dies once `user` answered the first question right, and is down for
/// `down` seconds: the clock, the round, and the process that comes back (not started yet).
async fn crashed_after_one_answer(
    n: usize,
    user: u64,
    down: i64,
) -> (Arc<ManualClock>, RoundRecord, Arc<Rounds<FakePort>>) {
    let clock = Arc::new(ManualClock::new(START));
    let store = store();
    let first = rounds(Arc::clone(&clock), store.clone());
    let record = new_round(&first, n, Some(GUILD));
    let task = tokio::spawn(Arc::clone(&first).run(record.id));
    until(&first, record.id, |r| {
        r.slot(0).is_some_and(|s| s.message_id.is_some())
    })
    .await;
    let right = record.questions[0].answer;
    assert_eq!(
        click(&first, &record, 0, right, user, START * 1000 + 10),
        Click::Counted(right)
    );
    task.abort();
    clock.advance(down);
    let second = rounds(Arc::clone(&clock), store);
    (clock, record, second)
}

#[tokio::test]
async fn a_restart_reveals_the_question_whose_time_ran_out_and_resumes() {
    // The process dies mid-question; it is down past the question's close.
    let (clock, record, second) = crashed_after_one_answer(3, 21, 120).await;
    resume(Arc::clone(&second), |guild| guild == Some(GUILD)).await;
    until(&second, record.id, |r| {
        r.slot(0).is_some_and(|s| s.revealed && s.shown)
    })
    .await;
    let edits = second
        .port
        .quiz_edits
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .clone();
    assert_eq!(
        edits[0].1, "revealed:0:1/1",
        "the answer before the crash counts"
    );
    until_moving(&second, &clock, record.id, |r| {
        r.slot(1).is_some_and(|s| s.message_id.is_some())
    })
    .await;
    play_out(&second, &clock, record.id).await;
    assert_eq!(board(&second), vec![(21, 2)]);
}

#[tokio::test]
async fn a_round_whose_token_runs_out_while_down_ends_with_its_scores_kept() {
    let (clock, record, second) =
        crashed_after_one_answer(5, 31, TOKEN_LIFETIME_SECONDS - 60).await;
    let runner = tokio::spawn(Arc::clone(&second).run(record.id));
    until_moving(&second, &clock, record.id, |r| r.scores_posted).await;
    assert!(runner.await.is_ok());
    let ended = round(&second, record.id);
    assert_eq!(
        (ended.state, ended.scores_posted),
        (RoundState::Stopped, true)
    );
    assert!(
        ended.slot(1).is_none(),
        "no question is asked that could not close in time"
    );
    assert_eq!(board(&second), vec![(31, 2)]);
}

#[tokio::test]
async fn a_stop_closes_the_open_question_now_and_ends_the_round() {
    let clock = Arc::new(ManualClock::new(START));
    let rounds = rounds(Arc::clone(&clock), store());
    let record = new_round(&rounds, 5, Some(GUILD));
    tokio::spawn(Arc::clone(&rounds).run(record.id));
    until(&rounds, record.id, |r| {
        r.slot(0).is_some_and(|s| s.message_id.is_some())
    })
    .await;
    let right = record.questions[0].answer;
    click(&rounds, &record, 0, right, 41, START * 1000 + 10);
    assert!(rounds.store.request_quiz_stop(record.id).unwrap_or(false));
    assert_eq!(
        click(&rounds, &record, 0, right, 42, START * 1000 + 20),
        Click::TooLate
    );
    rounds.running.wake(record.id);
    until(&rounds, record.id, |r| r.scores_posted).await;
    let ended = round(&rounds, record.id);
    assert_eq!(ended.state, RoundState::Stopped);
    assert!(ended.slot(1).is_none());
    assert_eq!(
        sent(&rounds).pop().unwrap_or_default(),
        "scores:41=2:stopped"
    );
    assert_eq!(board(&rounds), vec![(41, 2)]);
}

#[tokio::test]
async fn one_round_per_channel_a_cooldown_after_and_solo_rounds_apart() {
    let clock = Arc::new(ManualClock::new(START));
    let rounds = rounds(Arc::clone(&clock), store());
    let record = new_round(&rounds, 1, Some(GUILD));
    let again = NewRound {
        guild_id: Some(GUILD),
        channel_id: CHANNEL,
        started_by: 4,
        locale: Locale::Ko,
        questions: record.questions.clone(),
        application_id: 99,
        token: "other".into(),
        now: START,
        cooldown: COOLDOWN_SECONDS,
    };
    match rounds.store.insert_quiz_round(&again) {
        Ok(Err(NotStarted::Running(running))) => assert_eq!(running.id, record.id),
        other => panic!("{other:?}"),
    }
    // A solo round of the same person elsewhere is its own lane, with no board.
    let solo = new_round(&rounds, 1, None);
    assert_ne!(solo.id, record.id);
    tokio::spawn(Arc::clone(&rounds).run(record.id));
    tokio::spawn(Arc::clone(&rounds).run(solo.id));
    until(&rounds, solo.id, |r| {
        r.slot(0).is_some_and(|s| s.message_id.is_some())
    })
    .await;
    let right = solo.questions[0].answer;
    let solo_message = round(&rounds, solo.id)
        .slot(0)
        .and_then(|s| s.message_id)
        .unwrap_or(0);
    let counted = answer(
        &rounds.store,
        solo.id,
        0,
        right,
        (CHANNEL, solo_message, 3, START * 1000),
    );
    assert_eq!(counted.ok(), Some(Click::Counted(right)));
    clock.advance(60);
    until(&rounds, record.id, |r| r.scores_posted).await;
    until(&rounds, solo.id, |r| r.scores_posted).await;
    assert!(board(&rounds).is_empty(), "a solo round has no board");
    match rounds.store.insert_quiz_round(&NewRound {
        now: clock.now(),
        ..again.clone()
    }) {
        Ok(Err(NotStarted::Cooldown { until })) => {
            assert_eq!(until, clock.now() + COOLDOWN_SECONDS)
        }
        other => panic!("{other:?}"),
    }
    clock.advance(COOLDOWN_SECONDS);
    let later = rounds.store.insert_quiz_round(&NewRound {
        now: clock.now(),
        ..again
    });
    assert!(matches!(later, Ok(Ok(_))), "{later:?}");
}
