//! `/quiz` end to end on the fake Discord: the real bot in this process (`scenebot::bot::run` over real sockets)
//! with a [`ManualClock`] set to the wall clock at start (the fake's interaction ids carry the wall clock's time, and
//! a click's time is its interaction id's), so a question closes when the test moves the clock, not after 20 s.
//! A round runs on its `/quiz start` interaction's token: follow-ups and `PATCH /webhooks/{app}/{token}/messages/…`
//! edits, validated against Discord's OpenAPI description like every other body.
//!
//! Over 600 lines because it is one feature's whole story (answers, reveal, board, crash, SIGKILL, stop, solo,
//! Korean, a channel the bot cannot use), each case a few lines over the shared `Quiz` driver; split, each part
//! would repeat the driver.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::support::fake_discord::{button_ids, permissions, FakeDiscord, FakeOptions};
use crate::support::harness::{MODERATOR, T};
use crate::support::in_process::RunningBot;
use crate::support::TempDir;
use scenebot::clock::{Clock, ManualClock, SystemClock};
use scenebot::store::{RoundRecord, RoundState, Store};

const GUILD: u64 = FakeDiscord::GUILD_ID;
const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;
/// Three members with no special permission.
const ANA: u64 = 1_170_000_000_000_000_011;
const BO: u64 = 1_170_000_000_000_000_012;
const CY: u64 = 1_170_000_000_000_000_013;
const MEMBER: u64 = permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES;

/// The fake, the clock, the database, and the bot running in this process.
struct Quiz {
    fake: FakeDiscord,
    clock: Arc<ManualClock>,
    dir: TempDir,
    bot: Option<RunningBot>,
    registered_at: usize,
}

impl Drop for Quiz {
    fn drop(&mut self) {
        if let Some((_task, _stop, runtime)) = self.bot.take() {
            runtime.shutdown_background();
        }
    }
}

impl Quiz {
    async fn start() -> Quiz {
        let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
        let clock = Arc::new(ManualClock::new(SystemClock.now()));
        let followed = Arc::clone(&clock);
        fake.follow_clock(Arc::new(move || followed.now()));
        let mut quiz = Quiz {
            fake,
            clock,
            dir: TempDir::new(),
            bot: None,
            registered_at: 0,
        };
        quiz.boot().await;
        quiz
    }

    fn store(&self) -> Store {
        Store::open(&self.dir.path.join("scenebot.sqlite3")).unwrap_or_else(|e| panic!("{e}"))
    }

    async fn boot(&mut self) {
        let (bot, registered_at) = crate::support::in_process::boot(
            &self.fake,
            self.clock.clone(),
            &self.dir.path.join("scenebot.sqlite3"),
            &[],
            self.registered_at,
        )
        .await;
        self.bot = Some(bot);
        self.registered_at = registered_at;
    }

    /// Kills the bot mid-flight: its runtime is dropped whole, as a crash would end it.
    fn crash(&mut self) {
        if let Some((_task, _stop, runtime)) = self.bot.take() {
            runtime.shutdown_background();
        }
    }

    /// `/quiz <sub>` by `user` with `member` permissions in the test channel, and the reply's body.
    async fn command(&self, sub: &str, user: u64, member: u64, options: &[(&str, i64)]) -> Value {
        let mut builder = self
            .fake
            .slash("quiz")
            .subcommand(sub)
            .user(user)
            .member_permissions(member)
            .in_guild(GUILD, CHANNEL);
        for (name, value) in options {
            builder = builder.option_int(name, *value);
        }
        self.reply_of(builder.send().await).await
    }

    /// The reply to an interaction: the callback's message, or the follow-up after a deferral.
    async fn reply_of(&self, interaction: crate::support::fake_discord::InteractionRef) -> Value {
        let callback = self.fake.wait_callback(interaction.id, T).await;
        if callback["type"] == 5 {
            return self.fake.wait_followup(&interaction.token, T).await.body;
        }
        callback["data"].clone()
    }

    /// `/quiz start questions:1` by `user`, to be placed (a server, a DM) and sent.
    fn start_one(&self, user: u64) -> crate::support::fake_discord::InteractionBuilder<'_> {
        self.fake
            .slash("quiz")
            .subcommand("start")
            .option_int("questions", 1)
            .user(user)
    }

    /// The running (or last) round in the test channel, as stored.
    fn round(&self, id: u64) -> RoundRecord {
        self.store()
            .quiz_round(id)
            .ok()
            .flatten()
            .unwrap_or_else(|| panic!("round {id}"))
    }

    fn running(&self) -> Option<RoundRecord> {
        self.store().running_quiz_round(CHANNEL).ok().flatten()
    }

    /// Waits until the round's question at `position` has its message, and returns the message id.
    async fn question_message(&self, id: u64, position: usize) -> u64 {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            if let Some(message) = self.round(id).slot(position).and_then(|s| s.message_id) {
                return message;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "question {position} never posted"
            );
            // Through the pause after a reveal, which runs on the clock; never once the question is open (its
            // answers would close).
            if self.round(id).slot(position).is_none() && position > 0 {
                self.clock.advance(1);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits until `done` holds of round `id`, moving the clock a second at a time.
    async fn until(&self, id: u64, done: impl Fn(&RoundRecord) -> bool) -> RoundRecord {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let round = self.round(id);
            if done(&round) {
                return round;
            }
            assert!(tokio::time::Instant::now() < deadline, "never: {round:?}");
            self.clock.advance(1);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// `user` clicks option `option` of question `position` on its message; the private answer's text.
    async fn click(&self, round: u64, position: usize, option: usize, user: u64) -> String {
        let message = self.question_message(round, position).await;
        let custom_id = format!("quiz:answer:{round}:{position}:{option}");
        let interaction = self.fake.click(&custom_id, message, user, MEMBER).await;
        let reply = self.reply_of(interaction).await;
        assert_eq!(reply["flags"], 64, "acknowledged privately: {reply}");
        reply["content"].as_str().unwrap_or_default().to_owned()
    }

    /// Closes the question at `position` (the clock past its close) and waits for its reveal to be shown.
    async fn close(&self, id: u64, position: usize) -> Value {
        let closes = self
            .round(id)
            .slot(position)
            .map_or(0, |s| s.closes_at_ms / 1000);
        self.clock.set(closes.max(self.clock.now()));
        let round = self
            .until(id, |r| r.slot(position).is_some_and(|s| s.shown))
            .await;
        let message = round.slot(position).and_then(|s| s.message_id).unwrap_or(0);
        self.fake.message(message).unwrap_or_default()
    }

    /// The round's scores message: the last follow-up whose embed is the scores.
    async fn scores(&self, id: u64) -> Value {
        self.until(id, |r| r.scores_posted).await;
        let posts = self.fake.channel_messages(self.round(id).channel_id);
        posts
            .into_iter()
            .rev()
            .find(|m| {
                m["embeds"][0]["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("🏁"))
            })
            .unwrap_or_else(|| panic!("no scores posted"))
    }
}

/// Starts a round of `questions` by `user`; its stored record.
async fn started(quiz: &Quiz, questions: i64, user: u64) -> (RoundRecord, Value) {
    let intro = quiz
        .command("start", user, MEMBER, &[("questions", questions)])
        .await;
    let round = quiz
        .running()
        .unwrap_or_else(|| panic!("no round: {intro}"));
    (round, intro)
}

fn board_text(board: &Value) -> String {
    board["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_with_three_members_reveals_scores_and_moves_the_board_once() {
    let mut quiz = Quiz::start().await;
    let (round, intro) = started(&quiz, 2, ANA).await;
    assert!(
        intro["content"]
            .as_str()
            .is_some_and(|c| c.contains("**2** questions")),
        "{intro}"
    );
    assert_eq!(intro["flags"].as_u64().unwrap_or(0) & 64, 0, "public");
    assert_eq!(intro["allowed_mentions"]["parse"], serde_json::json!([]));
    let right = round.questions[0].answer;
    let wrong = (right + 1) % round.questions[0].options.len();
    let letter = |option: usize| char::from(b'A' + u8::try_from(option).unwrap_or(0));

    assert_eq!(
        quiz.click(round.id, 0, right, BO).await,
        format!("Locked in: {}", letter(right))
    );
    assert_eq!(
        quiz.click(round.id, 0, wrong, CY).await,
        format!("Locked in: {}", letter(wrong))
    );
    assert_eq!(
        quiz.click(round.id, 0, right, ANA).await,
        format!("Locked in: {}", letter(right))
    );
    let twice = quiz.click(round.id, 0, wrong, BO).await;
    assert!(
        twice.starts_with(&format!("You already answered {}", letter(right))),
        "{twice}"
    );
    // A forged button on the question's message: an option it never offered, another round's id.
    assert!(quiz
        .click(round.id, 0, 8, CY)
        .await
        .contains("nothing was counted"));
    let message = quiz.question_message(round.id, 0).await;
    let other_round = quiz
        .fake
        .button(&format!("quiz:answer:{}:0:{right}", round.id + 7))
        .on_message(message)
        .user(CY)
        .send()
        .await;
    let told = quiz.reply_of(other_round).await;
    assert!(
        told["content"]
            .as_str()
            .is_some_and(|c| c.contains("nothing was counted")),
        "{told}"
    );

    let revealed = quiz.close(round.id, 0).await;
    let fields = &revealed["embeds"][0]["fields"];
    assert_eq!(fields[1]["value"], "3 answered · 2 right", "{revealed}");
    assert_eq!(
        fields[2]["value"],
        format!("<@{BO}>"),
        "first right by Discord's time"
    );
    let buttons = revealed["components"][0]["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(buttons.iter().all(|b| b["disabled"] == true), "{revealed}");
    assert!(revealed["components"][1]["components"][0]["custom_id"]
        .as_str()
        .is_some_and(|id| id.starts_with("scene:show:")));
    let late = quiz.click(round.id, 0, right, CY).await;
    assert!(late.starts_with("Too late"), "{late}");

    quiz.question_message(round.id, 1).await;
    let right_1 = round.questions[1].answer;
    quiz.click(round.id, 1, right_1, CY).await;
    quiz.close(round.id, 1).await;
    let scores = quiz.scores(round.id).await;
    assert_eq!(
        scores["embeds"][0]["description"],
        format!(
            "**1.** <@{BO}> · 2 points (1 right, 1 first)\n**1.** <@{CY}> · 2 points (1 right, 1 first)\n**3.** <@{ANA}> · 1 point (1 right, 0 first)"
        )
    );
    assert_eq!(quiz.round(round.id).state, RoundState::Finished);

    let board = quiz.command("leaderboard", CY, MEMBER, &[]).await;
    let before = board_text(&board);
    assert!(
        before.starts_with(&format!("**1.** <@{BO}> · 2 points")),
        "{before}"
    );
    assert!(
        before.contains("You: **#1** · 2 points over 1 round"),
        "{before}"
    );
    // A restart changes nothing: the board moved once.
    quiz.crash();
    quiz.boot().await;
    let after = quiz.command("leaderboard", CY, MEMBER, &[]).await;
    assert_eq!(board_text(&after), before);
    assert!(after["embeds"][0]["footer"]["text"]
        .as_str()
        .is_some_and(|f| f.starts_with("1 round played here")));
    // Every body the round sent matched Discord's description; edits went through the token.
    quiz.fake.assert_no_violations();
    let edits = quiz
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "PATCH" && r.route().starts_with("/webhooks/"))
        .count();
    assert_eq!(edits, 2);
    assert!(!quiz
        .fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.route() == format!("/channels/{CHANNEL}/messages")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_mid_question_resumes_the_round_with_its_answers() {
    let mut quiz = Quiz::start().await;
    let (round, _) = started(&quiz, 2, ANA).await;
    let right = round.questions[0].answer;
    quiz.click(round.id, 0, right, BO).await;
    quiz.crash();
    // Down past the question's close: it is revealed on resume, with the answer given before the crash.
    quiz.clock.advance(60);
    quiz.boot().await;
    let resumed = quiz
        .until(round.id, |r| r.slot(0).is_some_and(|s| s.shown))
        .await;
    let message = resumed.slot(0).and_then(|s| s.message_id).unwrap_or(0);
    let revealed = quiz.fake.message(message).unwrap_or_default();
    assert_eq!(
        revealed["embeds"][0]["fields"][1]["value"],
        "1 answered · 1 right"
    );
    quiz.question_message(round.id, 1).await;
    quiz.click(round.id, 1, round.questions[1].answer, BO).await;
    quiz.close(round.id, 1).await;
    let scores = quiz.scores(round.id).await;
    assert_eq!(
        scores["embeds"][0]["description"],
        format!("**1.** <@{BO}> · 4 points (2 right, 2 first)")
    );
    quiz.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn quiz_stop_is_refused_for_a_member_and_allowed_for_a_moderator() {
    let quiz = Quiz::start().await;
    let (round, _) = started(&quiz, 5, ANA).await;
    quiz.click(round.id, 0, round.questions[0].answer, BO).await;
    let refused = quiz.command("stop", CY, MEMBER, &[]).await;
    assert!(
        refused["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Only whoever started")),
        "{refused}"
    );
    assert!(quiz.running().is_some());
    let stopped = quiz.command("stop", BO, MODERATOR, &[]).await;
    assert!(
        stopped["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("Stopping")),
        "{stopped}"
    );
    let scores = quiz.scores(round.id).await;
    let text = scores["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(text.starts_with("*The round was stopped early"), "{text}");
    assert!(text.contains(&format!("<@{BO}> · 2 points")), "{text}");
    let ended = quiz.round(round.id);
    assert_eq!(ended.state, RoundState::Stopped);
    assert!(ended.slot(1).is_none(), "no question after the stop");
    let none = quiz.command("stop", ANA, MEMBER, &[]).await;
    assert_eq!(none["content"], "No quiz round is running in this channel.");
    // The cooldown after a round.
    let again = quiz.command("start", CY, MEMBER, &[]).await;
    assert!(
        again["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("A round just ended here")),
        "{again}"
    );
    quiz.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_solo_round_in_a_dm_is_private_and_on_no_board() {
    let quiz = Quiz::start().await;
    let interaction = quiz.start_one(ANA).in_dm().send().await;
    let intro = quiz.reply_of(interaction).await;
    assert_eq!(intro["flags"], 64, "{intro}");
    assert!(
        intro["content"]
            .as_str()
            .is_some_and(|c| c.contains("solo")),
        "{intro}"
    );
    let round = quiz
        .store()
        .unfinished_quiz_rounds(0)
        .ok()
        .and_then(|rounds| rounds.into_iter().next())
        .unwrap_or_else(|| panic!("no solo round"));
    assert_eq!(round.guild_id, None);
    let answer = quiz
        .click(round.id, 0, round.questions[0].answer, ANA)
        .await;
    assert!(answer.starts_with("Locked in"), "{answer}");
    // `/quiz stop` in a DM stops only the caller's own solo round.
    let stranger = quiz.fake.slash("quiz").subcommand("stop").user(BO).in_dm();
    let stranger = quiz.reply_of(stranger.send().await).await;
    assert_eq!(
        stranger["content"],
        "No quiz round is running in this channel."
    );
    let revealed = quiz.close(round.id, 0).await;
    assert_eq!(
        revealed["flags"], 64,
        "the question stays private: {revealed}"
    );
    quiz.until(round.id, |r| r.scores_posted).await;
    let board = quiz
        .store()
        .quiz_board(GUILD, ANA, 10)
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(board.top.is_empty() && board.rounds == 0, "{board:?}");
    quiz.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_korean_server_gets_a_korean_round() {
    let quiz = Quiz::start().await;
    let interaction = quiz
        .start_one(ANA)
        .member_permissions(MEMBER)
        .locale("ko")
        .guild_locale("ko")
        .in_guild(GUILD, CHANNEL)
        .send()
        .await;
    let intro = quiz.reply_of(interaction).await;
    assert!(
        intro["content"]
            .as_str()
            .is_some_and(|c| c.contains("박서준 퀴즈를 시작했어요")),
        "{intro}"
    );
    let round = quiz.running().unwrap_or_else(|| panic!("no round"));
    let message = quiz.question_message(round.id, 0).await;
    let question = quiz.fake.message(message).unwrap_or_default();
    assert_eq!(
        question["embeds"][0]["title"], "❓ 1문제 중 1번",
        "{question}"
    );
    let answer = quiz
        .fake
        .button(&format!(
            "quiz:answer:{}:0:{}",
            round.id, round.questions[0].answer
        ))
        .on_message(message)
        .user(BO)
        .locale("ko")
        .send()
        .await;
    let told = quiz.reply_of(answer).await;
    assert!(
        told["content"]
            .as_str()
            .is_some_and(|c| c.ends_with("번으로 답했어요")),
        "{told}"
    );
    quiz.close(round.id, 0).await;
    let scores = quiz.scores(round.id).await;
    assert_eq!(scores["embeds"][0]["title"], "🏁 이번 라운드 점수");
    quiz.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_the_bot_cannot_post_in_starts_nothing_and_says_so_once() {
    let quiz = Quiz::start().await;
    let interaction = quiz
        .fake
        .slash("quiz")
        .subcommand("start")
        .user(ANA)
        .member_permissions(MEMBER)
        .app_permissions(permissions::VIEW_CHANNEL)
        .in_guild(GUILD, CHANNEL)
        .send()
        .await;
    let told = quiz.reply_of(interaction).await;
    assert_eq!(told["flags"], 64);
    assert!(
        told["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("I can't post in this channel")),
        "{told}"
    );
    assert!(quiz.running().is_none());
    tokio::time::sleep(Duration::from_millis(200)).await;
    let followups = quiz
        .fake
        .requests()
        .iter()
        .filter(|r| r.route().starts_with("/webhooks/"))
        .count();
    assert_eq!(followups, 0, "said once, nothing more");
}

/// The question messages the bot posted in the channel: those with answer buttons.
fn questions_posted(fake: &FakeDiscord) -> Vec<Value> {
    fake.messages_with_button(CHANNEL, "quiz:answer:")
}

/// A member's click on `custom_id` on `message`; the bot's answer.
async fn press(fake: &FakeDiscord, custom_id: String, message: u64, user: u64) -> Value {
    fake.press(&custom_id, message, user, MEMBER, T).await
}

/// The real binary killed with SIGKILL while a question is open (on the system clock: the question stays open its
/// 20 s): restarted, the bot resumes the round, the answers given before the kill count once (a second click is
/// told the first stands), the question is revealed at its close and the scores posted once, nothing asked twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_mid_question_resumes_the_round_and_counts_each_answer_once() {
    use crate::support::bot::{BotOptions, BotProcess};
    use crate::support::harness::Harness;

    let mut harness = Harness::start().await;
    let fake = &harness.fake;
    let start = fake
        .slash("quiz")
        .subcommand("start")
        .option_int("questions", 1)
        .user(ANA)
        .member_permissions(MEMBER)
        .send()
        .await;
    fake.wait_callback(start.id, T).await;
    let deadline = tokio::time::Instant::now() + T;
    let question = loop {
        if let Some(question) = questions_posted(fake).pop() {
            break question;
        }
        assert!(tokio::time::Instant::now() < deadline, "no question posted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let message: u64 = question["id"]
        .as_str()
        .unwrap_or_default()
        .parse()
        .unwrap_or(0);
    let ids = button_ids(&question);
    let id_of = |option: usize| ids.get(option).cloned().unwrap_or_default();
    let click = |option: usize, user: u64| press(&harness.fake, id_of(option), message, user);
    assert_eq!(click(0, BO).await["content"], "Locked in: A");
    assert_eq!(click(1, CY).await["content"], "Locked in: B");
    let dir = Arc::clone(&harness.bot.dir);
    harness.bot.kill().await;
    let mut options = BotOptions::new(&harness.fake.api_url(), &harness.fake.token());
    options.dir = Some(dir);
    harness.bot = BotProcess::start(options);
    harness.bot.wait_log("resuming a quiz round", T).await;
    let again = press(&harness.fake, id_of(1), message, BO).await;
    assert!(
        again["content"]
            .as_str()
            .is_some_and(|c| c.starts_with("You already answered A")),
        "{again}"
    );
    // The question closes 20 s after it was asked, restart or not; then the reveal and the scores.
    let deadline = tokio::time::Instant::now() + T + Duration::from_secs(30);
    loop {
        let scores = harness.fake.channel_messages(CHANNEL).into_iter().any(|m| {
            m["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.contains("🏁"))
        });
        if scores {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no scores");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let revealed = harness.fake.message(message).unwrap_or_default();
    let tally = revealed["embeds"][0]["fields"][1]["value"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(tally.starts_with("2 answered · "), "{tally}");
    assert_eq!(questions_posted(&harness.fake).len(), 1, "asked once");
    let scores = harness
        .fake
        .channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m["embeds"][0]["title"]
                .as_str()
                .is_some_and(|t| t.contains("🏁"))
        })
        .count();
    assert_eq!(scores, 1, "scored once");
    harness.fake.assert_no_violations();
}
