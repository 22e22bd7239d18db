//! `/favorite` end to end: permissions, the native poll, votes, results exactly once through SIGKILLs at every
//! step, expiry during downtime, and the hall of fame.
//!
//! Over 600 lines because a poll's lifecycle is one story told once per crash point; the cases share the poll
//! helpers at the top, and splitting by step would scatter that story.

use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeMember, FakeOptions, FakeOverwrite, FakeRole,
    Recorded,
};
use crate::support::harness::{background_pause_left, sample, scrape, Harness, MODERATOR, T};

const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;

/// Sends `/favorite <sub>` as a moderator (or as `member`), returns the interaction's first visible answer text.
async fn favorite(harness: &Harness, sub: &str, member: u64, hours: Option<i64>) -> String {
    let mut builder = harness
        .fake
        .slash("favorite")
        .subcommand(sub)
        .member_permissions(member);
    if let Some(hours) = hours {
        builder = builder.option_int("hours", hours);
    }
    let interaction = builder.send().await;
    harness.fake.wait_callback(interaction.id, T).await;
    // Deferred replies arrive as a follow-up message; plain replies are the callback itself.
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let messages = harness.fake.interaction_messages(interaction.id);
        if let Some(text) = messages
            .iter()
            .filter_map(|m| {
                m["content"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
            })
            .next_back()
        {
            return text;
        }
        let callbacks = harness.fake.callbacks_for(interaction.id);
        if let Some(text) = callbacks
            .iter()
            .find_map(|c| c["data"]["content"].as_str().map(str::to_owned))
        {
            return text;
        }
        if let Some(card) = callbacks.iter().find(|c| c["data"]["embeds"].is_array()) {
            return card["data"]["embeds"].to_string();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no answer to /favorite {sub}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether the bot wrote `message`.
fn by_bot(message: &Value) -> bool {
    message["author"]["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok())
        == Some(FakeDiscord::BOT_USER_ID)
}

/// The poll messages the bot posted in the channel.
fn polls(fake: &FakeDiscord) -> Vec<Value> {
    fake.channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| m["poll"].is_object() && by_bot(m))
        .collect()
}

/// The results messages the bot posted (not Discord's own type-46 notice), in either language.
fn results(fake: &FakeDiscord) -> Vec<Value> {
    fake.channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            by_bot(m)
                && m["type"] == 0
                && m["poll"].is_null()
                && m["embeds"][0]["footer"]["text"]
                    .as_str()
                    .is_some_and(|f| f.contains("poll results") || f.contains("투표 결과"))
        })
        .collect()
}

async fn wait_poll(fake: &FakeDiscord) -> u64 {
    let poll = fake
        .wait_channel_message(CHANNEL, |m| m["poll"].is_object() && by_bot(m), T)
        .await;
    poll["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}

async fn wait_results(fake: &FakeDiscord, count: usize) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let found = results(fake);
        if found.len() >= count {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{count} results message(s) expected, {} found",
            found.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn vote(fake: &FakeDiscord, message: u64, votes: &[(u64, u64)]) {
    for (user, answer) in votes {
        fake.cast_vote(CHANNEL, message, *user, *answer);
    }
}

fn fake_options() -> FakeOptions {
    let mut options = FakeOptions::default();
    for id in 1..=12 {
        options
            .users
            .push(crate::support::fake_discord::FakeUser::person(
                1_170_000_000_000_000_100 + id,
                &format!("fan{id}"),
            ));
    }
    options
}

fn voter(n: u64) -> u64 {
    1_170_000_000_000_000_100 + n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_without_manage_messages_are_refused() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let text = favorite(
        &harness,
        "start",
        permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES,
        None,
    )
    .await;
    assert!(text.contains("Manage Messages"), "{text}");
    let text = favorite(&harness, "end", permissions::VIEW_CHANNEL, None).await;
    assert!(text.contains("Manage Messages"), "{text}");
    assert!(polls(&harness.fake).is_empty(), "no poll was posted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_send_polls_says_which_permission_is_missing() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let interaction = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .app_permissions(
            permissions::VIEW_CHANNEL
                | permissions::SEND_MESSAGES
                | permissions::EMBED_LINKS
                | permissions::READ_MESSAGE_HISTORY,
        )
        .send()
        .await;
    let deferred = harness.fake.wait_callback(interaction.id, T).await;
    assert_eq!(deferred["type"], 5, "deferred before any other call");
    assert_eq!(deferred["data"]["flags"], 64);
    let text = followup_text(&harness, interaction.id).await;
    assert!(text.contains("Create Polls"), "{text}");
    assert!(!text.contains("Read Message History"), "{text}");
    assert!(polls(&harness.fake).is_empty());
}

/// The text of the first follow-up message of a deferred interaction.
async fn followup_text(harness: &Harness, interaction: u64) -> String {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        if let Some(text) = harness
            .fake
            .interaction_messages(interaction)
            .iter()
            .find_map(|m| {
                m["content"]
                    .as_str()
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
            })
        {
            return text;
        }
        assert!(tokio::time::Instant::now() < deadline, "no follow-up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_is_native_valid_and_one_per_server() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let text = favorite(&harness, "start", MODERATOR, Some(5)).await;
    assert!(text.contains("Poll posted"), "{text}");
    let request = harness
        .fake
        .wait_for_request(|r| r.method == "POST" && r.body["poll"].is_object(), T)
        .await;
    let poll = &request.body["poll"];
    assert_eq!(poll["duration"], 5);
    assert_eq!(poll["allow_multiselect"], false);
    let answers = poll["answers"].as_array().cloned().unwrap_or_default();
    assert_eq!(answers.len(), 6);
    for answer in &answers {
        let text = answer["poll_media"]["text"].as_str().unwrap_or_default();
        assert!((1..=55).contains(&text.chars().count()), "{text}");
        assert!(answer["poll_media"]["emoji"]["name"].is_string());
    }
    assert_eq!(
        request.body["allowed_mentions"]["parse"],
        serde_json::json!([])
    );
    let again = favorite(&harness, "start", MODERATOR, None).await;
    assert!(again.contains("already running"), "{again}");
    assert_eq!(polls(&harness.fake).len(), 1);
}

/// A Korean server (preferred locale `ko`) gets its poll in Korean, question and answers, and its results chart in
/// Korean: the Korean poll labels under the Korean headline.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_korean_server_gets_a_korean_poll_and_a_korean_results_chart() {
    let catalog = scenebot::catalog::Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
    let mut options = fake_options();
    options.guilds[0].preferred_locale = "ko".to_owned();
    let harness = Harness::start_with(options, Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let request = harness
        .fake
        .wait_for_request(|r| r.method == "POST" && r.body["poll"].is_object(), T)
        .await;
    let poll = &request.body["poll"];
    assert_eq!(poll["question"]["text"], "우리 서버 최애 박서준 키스신은?");
    let answers: Vec<&str> = poll["answers"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|a| a["poll_media"]["text"].as_str())
                .collect()
        })
        .unwrap_or_default();
    let korean: Vec<&str> = catalog
        .scenes
        .iter()
        .map(|s| s.poll_label.ko.as_str())
        .collect();
    assert_eq!(answers, korean);
    assert!(answers.contains(&"화랑: 약속을 담은 키스"), "{answers:?}");

    let message = wait_poll(&harness.fake).await;
    // Answer 5 is Hwarang's, answer 1 Secretary Kim's.
    vote(
        &harness.fake,
        message,
        &[(voter(1), 5), (voter(2), 5), (voter(3), 1)],
    );
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 1).await;
    let embed = &posted[0]["embeds"][0];
    assert_eq!(embed["title"], "🏆 우리 서버 최애 장면: 🏹 화랑");
    let chart = embed["description"].as_str().unwrap_or_default();
    for scene in &catalog.scenes {
        assert!(chart.contains(&scene.poll_label.ko), "{chart}");
        assert!(!chart.contains(&scene.poll_label.en), "{chart}");
    }
    assert!(
        chart.contains("🏹 화랑: 약속을 담은 키스\n`████████░░░░ 2 · 67%`"),
        "{chart}"
    );
    assert!(chart.contains("총 3표"), "{chart}");
    let footer = embed["footer"]["text"].as_str().unwrap_or_default();
    assert!(footer.starts_with("최애 장면 투표 결과"), "{footer}");
    // The winner's card comes along in Korean too.
    let card_title = posted[0]["embeds"][1]["title"].as_str().unwrap_or_default();
    assert!(card_title.contains("화랑"), "{card_title}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_poll_announces_the_winner_once() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    vote(
        &harness.fake,
        message,
        &[(voter(1), 5), (voter(2), 5), (voter(3), 5), (voter(4), 2)],
    );
    let text = favorite(&harness, "end", MODERATOR, None).await;
    assert!(text.contains("results are posted"), "{text}");
    harness
        .fake
        .wait_for_request(|r| r.method == "POST" && r.route().ends_with("/expire"), T)
        .await;
    let posted = wait_results(&harness.fake, 1).await;
    let embed = &posted[0]["embeds"][0];
    let title = embed["title"].as_str().unwrap_or_default();
    assert!(
        title.starts_with("🏆") && title.contains("Hwarang"),
        "{title}"
    );
    let chart = embed["description"].as_str().unwrap_or_default();
    assert!(
        chart.contains("3 · 75%") && chart.contains("1 · 25%") && chart.contains("4 votes"),
        "{chart}"
    );
    assert_eq!(
        posted[0]["embeds"].as_array().map(Vec::len),
        Some(2),
        "the winner's card comes along"
    );
    // The scheduler passing by later never announces again.
    harness
        .fake
        .slash("favorite")
        .subcommand("results")
        .send()
        .await;
    assert_eq!(results(&harness.fake).len(), 1);
}

/// `/favorite start thread:true` by a moderator, answered; the poll's message id.
async fn start_with_thread(fake: &FakeDiscord) -> u64 {
    let start = fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .option_bool("thread", true)
        .send()
        .await;
    fake.wait_callback(start.id, T).await;
    wait_poll(fake).await
}

/// Issue 28: `/favorite start thread:true` opens one public thread on the results post, named after the winner,
/// archived after a day; the body is checked against Discord's OpenAPI description.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_opens_on_the_results_when_asked() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let message = start_with_thread(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 5), (voter(2), 5)]);
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 1).await;
    let results_id = posted[0]["id"]
        .as_str()
        .and_then(|id| id.parse::<u64>().ok());
    let deadline = tokio::time::Instant::now() + T;
    while harness.fake.threads().is_empty() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no thread on the results"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let threads = harness.fake.threads();
    assert_eq!(threads.len(), 1);
    let (on, name, archive) = &threads[0];
    assert_eq!(Some(*on), results_id, "on the results post");
    assert!(name.starts_with("🏆") && name.contains("Hwarang"), "{name}");
    assert_eq!(*archive, 1_440);
    harness.fake.assert_no_violations();
}

/// Issue 28: the real bot killed with SIGKILL between the results post and its thread (Discord made the thread; the
/// bot never read the answer). Restarted on the same database, it opens the thread on the recorded results message
/// again, reads Discord's 160004 ("already created") as done, and announces once: one results post, one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_between_the_results_and_their_thread_gives_one_of_each() {
    let mut harness = Harness::start_with(fake_options(), Vec::new()).await;
    let dir = Arc::clone(&harness.bot.dir);
    let message = start_with_thread(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 5)]);
    // Only the thread call matches: a POST under one of the channel's messages.
    harness.fake.hold_answer_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages/"),
        Duration::from_secs(120),
    );
    send_end(&harness.fake).await;
    let thread_call = |r: &Recorded| r.method == "POST" && r.route().ends_with("/threads");
    harness.fake.wait_for_request(thread_call, T).await;
    harness.bot.kill().await;
    assert_eq!(harness.fake.threads().len(), 1, "Discord made the thread");
    harness.bot = restart(&harness.fake, Arc::clone(&dir));
    harness.bot.wait_log("results announced", T).await;
    assert_eq!(
        wait_results(&harness.fake, 1).await.len(),
        1,
        "one results post"
    );
    assert_eq!(harness.fake.threads().len(), 1, "one thread");
    let thread_calls = harness
        .fake
        .requests()
        .iter()
        .filter(|r| thread_call(r))
        .count();
    assert_eq!(
        thread_calls, 2,
        "asked again after the kill, answered 160004"
    );
    harness.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tie_names_co_winners_and_no_votes_says_so() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 1), (voter(2), 6)]);
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 1).await;
    let title = posted[0]["embeds"][0]["title"].as_str().unwrap_or_default();
    assert!(title.contains("tie between 2"), "{title}");
    let chart = posted[0]["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default();
    assert!(
        chart.contains("Secretary Kim") && chart.contains("Kill Me, Heal Me"),
        "{chart}"
    );
    assert!(!chart.contains("🏆"), "no winner on a tie");

    favorite(&harness, "start", MODERATOR, None).await;
    let deadline = tokio::time::Instant::now() + T;
    while polls(&harness.fake).len() < 2 {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 2).await;
    let title = posted[1]["embeds"][0]["title"].as_str().unwrap_or_default();
    assert!(title.contains("No votes"), "{title}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_polls_make_the_hall_of_fame() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let rounds: [&[(u64, u64)]; 3] = [
        &[(voter(1), 1), (voter(2), 1), (voter(3), 2)],
        &[(voter(1), 2), (voter(2), 2)],
        &[(voter(1), 1), (voter(2), 2), (voter(3), 3)],
    ];
    for (round, votes) in rounds.iter().enumerate() {
        favorite(&harness, "start", MODERATOR, None).await;
        let deadline = tokio::time::Instant::now() + T;
        while polls(&harness.fake).len() <= round {
            assert!(tokio::time::Instant::now() < deadline);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let message = polls(&harness.fake)[round]["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .unwrap_or_default();
        vote(&harness.fake, message, votes);
        favorite(&harness, "end", MODERATOR, None).await;
        wait_results(&harness.fake, round + 1).await;
    }
    let board = favorite(&harness, "leaderboard", permissions::VIEW_CHANNEL, None).await;
    // She Was Pretty: won poll 2, shared poll 3, 1 + 2 + 1 votes. Secretary Kim: won poll 1, shared poll 3,
    // 2 + 1 votes. Witch's Romance: shared poll 3, 1 vote.
    let she_was_pretty = board.find("She Was Pretty").unwrap_or(usize::MAX);
    let secretary_kim = board.find("Secretary Kim").unwrap_or(usize::MAX);
    assert!(
        she_was_pretty < secretary_kim,
        "more votes ranks first: {board}"
    );
    assert!(board.contains("1 win · 1 shared · 4 votes"), "{board}");
    assert!(board.contains("1 win · 1 shared · 3 votes"), "{board}");
    assert!(board.contains("0 wins · 1 shared · 1 vote"), "{board}");
    assert!(board.contains("Over 3 finished polls"), "{board}");
}

/// Sends `/favorite end` as a moderator, without waiting for its answer.
async fn send_end(fake: &FakeDiscord) {
    fake.slash("favorite")
        .subcommand("end")
        .member_permissions(MODERATOR)
        .send()
        .await;
}

/// `/favorite end` whose results reach Discord while their answer is held back 20 s: a bot killed meanwhile sent
/// them without learning it did.
async fn end_with_results_held(fake: &FakeDiscord) {
    fake.hold_answer_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        Duration::from_secs(20),
    );
    send_end(fake).await;
}

/// Starts the bot again on the same database and waits until it is ready.
fn restart(fake: &FakeDiscord, dir: Arc<crate::support::TempDir>) -> BotProcess {
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.dir = Some(dir);
    BotProcess::start(options)
}

/// Exactly one results message, whatever moment the bot was killed at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_every_step_never_loses_or_repeats_the_results() {
    for step in [
        "after the poll is posted",
        "after expiry, before the results",
        "after the results are sent",
    ] {
        // Discord's nonce window made zero: a restart "later than the window" every time, so only finding the
        // message in the channel keeps it single.
        let mut options = fake_options();
        options.nonce_window = Duration::ZERO;
        let mut harness = Harness::start_with(options, Vec::new()).await;
        let dir = Arc::clone(&harness.bot.dir);
        if step == "after the poll is posted" {
            // The poll reaches Discord, but the bot is killed before it learns the message id.
            harness.fake.hold_answer_next(
                "POST",
                &format!("/channels/{CHANNEL}/messages"),
                Duration::from_secs(20),
            );
            harness
                .fake
                .slash("favorite")
                .subcommand("start")
                .member_permissions(MODERATOR)
                .send()
                .await;
            wait_poll(&harness.fake).await;
            harness.bot.kill().await;
            harness.bot = restart(&harness.fake, Arc::clone(&dir));
            harness.bot.wait_log("ready", T).await;
            harness.bot.wait_log("favorite poll posted", T).await;
            assert_eq!(
                polls(&harness.fake).len(),
                1,
                "{step}: the poll was found in the channel, not posted again"
            );
            let message = wait_poll(&harness.fake).await;
            vote(&harness.fake, message, &[(voter(1), 4)]);
            favorite(&harness, "end", MODERATOR, None).await;
        } else {
            favorite(&harness, "start", MODERATOR, None).await;
            let message = wait_poll(&harness.fake).await;
            vote(&harness.fake, message, &[(voter(1), 4)]);
            if step == "after expiry, before the results" {
                // Reading the results hangs; the bot dies after the expire call.
                harness.fake.delay_next(
                    "GET",
                    &format!("/channels/{CHANNEL}/messages/{message}"),
                    Duration::from_secs(20),
                );
                send_end(&harness.fake).await;
            } else {
                // The results reach Discord, but the bot dies before recording them.
                end_with_results_held(&harness.fake).await;
            }
            harness
                .fake
                .wait_for_request(|r| r.method == "POST" && r.route().ends_with("/expire"), T)
                .await;
            if step == "after the results are sent" {
                wait_results(&harness.fake, 1).await;
            } else {
                harness
                    .fake
                    .wait_for_request(
                        |r| {
                            r.method == "GET"
                                && r.route().ends_with(&format!("/messages/{message}"))
                        },
                        T,
                    )
                    .await;
            }
            harness.bot.kill().await;
            harness.bot = restart(&harness.fake, Arc::clone(&dir));
            harness.bot.wait_log("ready", T).await;
        }
        harness.bot.wait_log("results announced", T).await;
        let posted = wait_results(&harness.fake, 1).await;
        assert_eq!(posted.len(), 1, "{step}: exactly one results message");
        assert!(
            posted[0]["embeds"][0]["title"]
                .as_str()
                .unwrap_or_default()
                .contains("Fight for My Way"),
            "{step}"
        );
        // One more restart changes nothing.
        harness.bot.terminate();
        harness.bot.wait_exit(T).await;
        harness.bot = restart(&harness.fake, Arc::clone(&dir));
        harness.bot.wait_log("ready", T).await;
        let status = harness
            .fake
            .slash("favorite")
            .subcommand("results")
            .send()
            .await;
        harness.fake.wait_callback(status.id, T).await;
        assert_eq!(
            results(&harness.fake).len(),
            1,
            "{step}: still one after another restart"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_that_ended_while_the_bot_was_down_is_announced_at_start_up() {
    let mut harness = Harness::start_with(fake_options(), Vec::new()).await;
    let dir = Arc::clone(&harness.bot.dir);
    favorite(&harness, "start", MODERATOR, Some(1)).await;
    let message = wait_poll(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 3), (voter(2), 3)]);
    harness.bot.kill().await;
    // The hour passes while the bot is down: Discord closes the poll, the stored end time is in the past.
    harness.fake.end_poll(CHANNEL, message);
    let database = dir.path.join("scenebot.sqlite3");
    let connection = rusqlite::Connection::open(&database).unwrap_or_else(|e| panic!("{e}"));
    connection
        .execute("UPDATE favorite_polls SET ends_at = ends_at - 7200", [])
        .unwrap_or_else(|e| panic!("{e}"));
    drop(connection);
    harness.bot = restart(&harness.fake, dir);
    let posted = wait_results(&harness.fake, 1).await;
    assert!(posted[0]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .contains("Witch's Romance"));
    harness.bot.wait_log("results announced", T).await;
    assert_eq!(results(&harness.fake).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_poll_is_cancelled_and_the_reason_shown() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    harness.fake.delete_message(CHANNEL, message);
    favorite(&harness, "end", MODERATOR, None).await;
    harness.bot.wait_log("poll cancelled", T).await;
    assert!(results(&harness.fake).is_empty(), "nothing is announced");
    let text = favorite(&harness, "results", permissions::VIEW_CHANNEL, None).await;
    assert!(
        text.contains("cancelled") && text.contains("deleted"),
        "{text}"
    );
}

/// Issue 16 item 5: in proxy mode serenity keeps neither a 429's body nor its headers; the bot's relay reads
/// Discord's `retry_after` (2 s here) and the send is tried again after that long, not after the old fixed 1 s.
/// A 429 on the moderator's follow-up is tried again too (Discord did nothing with it), so the moderator is told
/// the poll ended, not that something went wrong.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_in_proxy_mode_waits_what_discord_asked_and_follow_ups_are_retried() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let messages = format!("/channels/{CHANNEL}/messages");
    harness
        .fake
        .fail_next("POST", &messages, 429, Some(2.0), false);
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("Poll posted"), "{text}");
    let posts: Vec<_> = harness
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.route() == messages)
        .collect();
    let statuses: Vec<u16> = posts.iter().map(|r| r.status).collect();
    assert_eq!(statuses, vec![429, 200], "{}", harness.bot.logs());
    let waited = posts[1].arrived.duration_since(posts[0].arrived);
    assert!(
        waited >= Duration::from_millis(1950) && waited < Duration::from_millis(4000),
        "retried after {waited:?}, not after the 2 s Discord asked for"
    );

    wait_poll(&harness.fake).await;
    harness
        .fake
        .fail_next("POST", "/webhooks/", 429, Some(0.5), false);
    let text = favorite(&harness, "end", MODERATOR, None).await;
    assert!(!text.contains("went wrong"), "{text}");
    let follow_ups: Vec<u16> = harness
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.route().starts_with("/webhooks/"))
        .map(|r| r.status)
        .collect();
    assert!(
        follow_ups.windows(2).any(|pair| pair == [429, 200]),
        "the follow-up was not tried again: {follow_ups:?}"
    );
    assert_eq!(wait_results(&harness.fake, 1).await.len(), 1);
    eprintln!("a 429 with retry_after 2 s in proxy mode: retried after {waited:?}");
}

/// Issue 16.5: a 429 without Discord's rate-limit headers is Cloudflare's ban page. The bot does not try the call
/// again (each try would lengthen the ban), counts it as a Cloudflare rate limit, tells the operator in one line,
/// and the moderator gets a short answer rather than a raw error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudflare_ban_is_never_retried_into_and_is_counted_as_cloudflare() {
    let harness = Harness::start_with(
        fake_options(),
        vec![("SCENEBOT_HEALTH_ADDR", "127.0.0.1:0".to_owned())],
    )
    .await;
    let url = harness.health_url().await;
    let cloudflare = r#"scenebot_discord_rate_limits_total{scope="cloudflare"}"#;
    let before = sample(&scrape(&url).await, cloudflare).unwrap_or(0.0);
    let messages = format!("/channels/{CHANNEL}/messages");
    harness.fake.cloudflare_ban_next("POST", &messages);

    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(
        !text.contains("429") && !text.contains("html") && !text.contains("Cloudflare"),
        "a raw error reached the moderator: {text}"
    );
    let posts: Vec<u16> = harness
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.route() == messages)
        .map(|r| r.status)
        .collect();
    assert_eq!(
        posts,
        vec![429],
        "the bot tried again into Cloudflare's ban"
    );
    assert_eq!(
        sample(&scrape(&url).await, cloudflare),
        Some(before + 1.0),
        "the ban was not counted as Cloudflare's"
    );
    let line = harness.bot.wait_log("Cloudflare refused a call", T).await;
    assert!(
        line.contains("background work stops for 10 minutes"),
        "{line}"
    );
    // And it does: the pacer every background send waits on holds its next slot minutes away.
    let paused = background_pause_left(&scrape(&url).await);
    assert!(
        paused > 9.0 * 60.0,
        "background work paused for {paused:.0} s"
    );
    eprintln!("moderator saw: {text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discord_errors_are_retried_with_backoff() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let messages = format!("/channels/{CHANNEL}/messages");
    harness.fake.fail_next("POST", &messages, 500, None, false);
    harness
        .fake
        .fail_next("POST", &messages, 429, Some(0.2), false);
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("Poll posted"), "{text}");
    assert_eq!(
        polls(&harness.fake).len(),
        1,
        "one poll after a 500 and a 429"
    );
    let message = wait_poll(&harness.fake).await;
    harness
        .fake
        .fail_next("GET", &format!("{messages}/{message}"), 503, None, false);
    harness.fake.fail_next("POST", &messages, 502, None, false);
    favorite(&harness, "end", MODERATOR, None).await;
    assert_eq!(wait_results(&harness.fake, 1).await.len(), 1);
    let logs = harness.bot.logs();
    assert!(
        logs.matches("retrying").count() >= 4,
        "each failure was retried:\n{logs}"
    );
}

/// Answers numbered Discord's way (not 1, 2, 3…, and not in answer order) are mapped from the poll Discord returns.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answer_ids_are_read_from_the_poll_not_assumed() {
    let mut options = fake_options();
    options.poll_answer_ids = vec![40, 7, 19, 3, 25, 11];
    let harness = Harness::start_with(options, Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    let answer = |position| {
        harness
            .fake
            .answer_id_at(message, position)
            .unwrap_or_else(|| panic!("no answer {position}"))
    };
    assert_eq!(answer(3), 3, "the fake numbers answers its own way");
    vote(
        &harness.fake,
        message,
        &[
            (voter(1), answer(3)),
            (voter(2), answer(3)),
            (voter(3), answer(0)),
        ],
    );
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 1).await;
    let embed = &posted[0]["embeds"][0];
    let title = embed["title"].as_str().unwrap_or_default();
    assert!(title.contains("Fight for My Way"), "{title}");
    let chart = embed["description"].as_str().unwrap_or_default();
    assert!(
        chart.contains("2 · 67%") && chart.contains("1 · 33%"),
        "{chart}"
    );
}

/// A poll read without its results is unknown, not gone; counts Discord finalizes late are awaited, and the
/// results follow the final count within 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_follow_a_late_final_count_within_three_seconds() {
    const FINALIZE: Duration = Duration::from_secs(4);
    let mut options = fake_options();
    options.poll_finalize_delay = FINALIZE;
    let harness = Harness::start_with(options, Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 2)]);
    harness.fake.omit_poll_results_next(2);
    let text = favorite(&harness, "end", MODERATOR, None).await;
    assert!(text.contains("still counting"), "{text}");
    harness
        .fake
        .wait_for_request(
            |r| r.method == "POST" && r.route().ends_with("/expire") && r.status == 200,
            T,
        )
        .await;
    let finalized_at = tokio::time::Instant::now() + FINALIZE;
    let posted = wait_results(&harness.fake, 1).await;
    let late = tokio::time::Instant::now().saturating_duration_since(finalized_at);
    assert!(
        late <= Duration::from_secs(3),
        "results {late:?} after the final count"
    );
    eprintln!("results posted {late:?} after Discord's final count");
    assert!(posted[0]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .contains("She Was Pretty"));
    let logs = harness.bot.logs();
    assert!(logs.contains("without its results"), "{logs}");
    assert!(!logs.contains("poll cancelled"), "{logs}");
}

/// `/favorite end` whose expire call fails leaves the poll open on Discord: the bot closes it again, and counts
/// are announced only from the closed poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_expire_is_repeated_before_any_results() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 6)]);
    let expire = format!("/channels/{CHANNEL}/polls/{message}/expire");
    for _ in 0..4 {
        harness.fake.fail_next("POST", &expire, 503, None, false);
    }
    favorite(&harness, "end", MODERATOR, None).await;
    let posted = wait_results(&harness.fake, 1).await;
    assert!(posted[0]["embeds"][0]["title"]
        .as_str()
        .unwrap_or_default()
        .contains("Kill Me, Heal Me"));
    // The fake records a request once it has answered it: wait for the record, not a snapshot.
    let messages = format!("/channels/{CHANNEL}/messages");
    let announced = harness
        .fake
        .wait_for_request(
            |r| r.method == "POST" && r.route() == messages && r.body["poll"].is_null(),
            T,
        )
        .await
        .index;
    let announced = Some(announced);
    let closed = harness
        .fake
        .requests()
        .iter()
        .find(|r| r.route() == expire && r.status == 200)
        .map(|r| r.index);
    assert!(
        matches!((closed, announced), (Some(c), Some(a)) if c < a),
        "closed on Discord ({closed:?}) before the results ({announced:?})"
    );
    assert!(harness.bot.logs().contains("still open on Discord"));
}

/// Discord failing while the poll is posted keeps it: the moderator is told, and the bot posts it when Discord
/// answers, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_discord_was_slow_to_take_is_posted_later_once() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    for _ in 0..4 {
        harness.fake.fail_next(
            "POST",
            &format!("/channels/{CHANNEL}/messages"),
            503,
            None,
            false,
        );
    }
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("keep trying"), "{text}");
    harness.bot.wait_log("favorite poll posted", T).await;
    assert_eq!(polls(&harness.fake).len(), 1);
    let again = favorite(&harness, "start", MODERATOR, None).await;
    assert!(again.contains("already running"), "{again}");
}

/// The `mods` role (Manage Messages) of [`voter`] 1.
const MODS: u64 = FakeDiscord::GUILD_ID + 50;
/// A channel where `mods` may not manage messages.
const ANNOUNCEMENTS: u64 = CHANNEL + 10;

/// [`fake_options`] with voter 1 in `mods`, who moderate everywhere but in #announcements.
fn mods_without_announcements() -> FakeOptions {
    let mut options = fake_options();
    let guild = &mut options.guilds[0];
    guild.roles.push(FakeRole::new(MODS, "mods", MODERATOR, 2));
    guild.members.push(FakeMember {
        user_id: voter(1),
        roles: vec![MODS],
        nick: None,
    });
    let mut announcements = FakeChannel::text(ANNOUNCEMENTS, "announcements");
    announcements.overwrites = vec![FakeOverwrite::deny_role(MODS, permissions::MANAGE_MESSAGES)];
    guild.channels.push(announcements);
    options
}

/// A moderator of one channel cannot run a poll in a channel where they may not moderate; the reply is deferred
/// before the calls that read the other channel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_member_needs_manage_messages_in_the_target_channel() {
    const POLLS: u64 = CHANNEL + 11;
    let mut options = mods_without_announcements();
    options.guilds[0]
        .channels
        .push(FakeChannel::text(POLLS, "polls"));
    let harness = Harness::start_with(options, Vec::new()).await;
    let start_in = |channel: u64| {
        harness
            .fake
            .slash("favorite")
            .subcommand("start")
            .user(voter(1))
            .option_channel("channel", channel)
    };
    let refused = start_in(ANNOUNCEMENTS).send().await;
    let deferred = harness.fake.wait_callback(refused.id, T).await;
    assert_eq!(deferred["type"], 5);
    let text = followup_text(&harness, refused.id).await;
    assert!(
        text.contains("Manage Messages") && text.contains(&format!("<#{ANNOUNCEMENTS}>")),
        "{text}"
    );
    let requests = harness.fake.requests();
    let callback = requests.iter().position(|r| {
        r.route()
            .contains(&format!("/interactions/{}/", refused.id))
    });
    let channel_read = requests
        .iter()
        .position(|r| r.method == "GET" && r.route() == format!("/channels/{ANNOUNCEMENTS}"));
    assert!(
        matches!((callback, channel_read), (Some(c), Some(r)) if c < r),
        "deferred ({callback:?}) before reading the channel ({channel_read:?})"
    );
    assert!(polls_in(&harness.fake, ANNOUNCEMENTS).is_empty());

    let allowed = start_in(POLLS).send().await;
    harness.fake.wait_callback(allowed.id, T).await;
    let text = followup_text(&harness, allowed.id).await;
    assert!(text.contains("Poll posted"), "{text}");
    assert_eq!(polls_in(&harness.fake, POLLS).len(), 1);
}

/// The poll messages the bot posted in `channel`.
fn polls_in(fake: &FakeDiscord, channel: u64) -> Vec<Value> {
    fake.channel_messages(channel)
        .into_iter()
        .filter(|m| m["poll"].is_object() && by_bot(m))
        .collect()
}

/// The bot with [`mods_without_announcements`], and a poll the owner started in #announcements.
async fn a_poll_in_announcements() -> Harness {
    let harness = Harness::start_with(mods_without_announcements(), Vec::new()).await;
    let started = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .option_channel("channel", ANNOUNCEMENTS)
        .send()
        .await;
    harness.fake.wait_callback(started.id, T).await;
    let text = followup_text(&harness, started.id).await;
    assert!(text.contains("Poll posted"), "{text}");
    harness
}

/// How many times the bot asked Discord to end a poll.
fn expire_calls(fake: &FakeDiscord) -> usize {
    fake.requests()
        .iter()
        .filter(|r| r.route().contains("/expire"))
        .count()
}

/// Security item 3: `/favorite end` acts in the poll's channel, which need not be the one it is typed in: a
/// moderator of this channel who may not moderate the poll's channel cannot end it there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_poll_checks_its_channel_as_starting_it_does() {
    let harness = a_poll_in_announcements().await;
    let end = harness
        .fake
        .slash("favorite")
        .subcommand("end")
        .user(voter(1))
        .send()
        .await;
    harness.fake.wait_callback(end.id, T).await;
    let text = followup_text(&harness, end.id).await;
    assert!(
        text.contains("Manage Messages") && text.contains(&format!("<#{ANNOUNCEMENTS}>")),
        "{text}"
    );
    assert_eq!(expire_calls(&harness.fake), 0, "the poll was not ended");
    let ended = favorite(&harness, "end", MODERATOR, None).await;
    assert!(!ended.contains("Manage Messages"), "{ended}");
}

/// Security item 3, the bot's side: ending a poll announces its result in the poll's channel, so a bot that lost
/// Send Messages there says so (naming the channel) and leaves the poll running, rather than ending it into a
/// result nobody can see. Once the permission is back, the same command ends it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ending_a_poll_checks_the_bots_permissions_in_its_channel() {
    let harness = a_poll_in_announcements().await;
    let original = vec![FakeOverwrite::deny_role(MODS, permissions::MANAGE_MESSAGES)];
    let mut without_send = original.clone();
    without_send.push(FakeOverwrite::deny_member(
        FakeDiscord::BOT_USER_ID,
        permissions::SEND_MESSAGES,
    ));
    harness
        .fake
        .set_channel_overwrites(ANNOUNCEMENTS, without_send);

    // Typed in #general by the owner: the member may, the bot may not, in #announcements.
    let refused = favorite(&harness, "end", MODERATOR, None).await;
    assert!(
        refused.contains("I'm missing")
            && refused.contains("Send Messages")
            && refused.contains(&format!("<#{ANNOUNCEMENTS}>")),
        "{refused}"
    );
    assert_eq!(expire_calls(&harness.fake), 0, "the poll was left running");

    harness.fake.set_channel_overwrites(ANNOUNCEMENTS, original);
    let ended = favorite(&harness, "end", MODERATOR, None).await;
    assert!(!ended.contains("I'm missing"), "{ended}");
    assert_eq!(expire_calls(&harness.fake), 1, "then ended, once");
}

/// Security item 3: an interaction names channels by id; a channel of another server (where the same person may
/// well be a moderator) is not this server's to post in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_of_another_server_is_refused() {
    const OTHER_GUILD: u64 = FakeDiscord::GUILD_ID + 1000;
    const OTHER_CHANNEL: u64 = FakeDiscord::GUILD_ID + 1002;
    let mut options = fake_options();
    options
        .guilds
        .push(crate::support::fake_discord::FakeGuild::standard(
            OTHER_GUILD,
            OTHER_CHANNEL,
        ));
    let harness = Harness::start_with(options, Vec::new()).await;
    let start = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .in_guild(FakeDiscord::GUILD_ID, CHANNEL)
        .option_channel("channel", OTHER_CHANNEL)
        .send()
        .await;
    harness.fake.wait_callback(start.id, T).await;
    let text = followup_text(&harness, start.id).await;
    assert!(text.contains("I can't see"), "{text}");
    assert!(polls_in(&harness.fake, OTHER_CHANNEL).is_empty());
}

/// Security item 3: in a thread Discord checks Send Messages in Threads, not Send Messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_needs_send_messages_in_threads() {
    const THREAD: u64 = CHANNEL + 40;
    let mut options = fake_options();
    let mut thread = FakeChannel::text(THREAD, "scene talk");
    thread.kind = 11;
    thread.parent_id = Some(CHANNEL);
    options.guilds[0].channels.push(thread);
    let harness = Harness::start_with(options, Vec::new()).await;
    let start = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .in_guild(FakeDiscord::GUILD_ID, THREAD)
        .member_permissions(MODERATOR)
        .app_permissions(
            permissions::VIEW_CHANNEL
                | permissions::SEND_MESSAGES
                | permissions::EMBED_LINKS
                | permissions::SEND_POLLS
                | permissions::READ_MESSAGE_HISTORY,
        )
        .send()
        .await;
    harness.fake.wait_callback(start.id, T).await;
    let text = followup_text(&harness, start.id).await;
    assert!(text.contains("Send Messages in Threads"), "{text}");
    assert!(polls_in(&harness.fake, THREAD).is_empty());
}

/// Item 11: the commands that read the store before answering answer Discord within 3 s even when the store is
/// slow (here SQLite waiting on another process's write lock, as a PostgreSQL pool wait would): they defer past
/// a deadline, then follow up.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_store_never_costs_an_answer() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let database = harness.bot.dir.path.join("scenebot.sqlite3");
    let holder = rusqlite::Connection::open(&database).unwrap_or_else(|e| panic!("{e}"));
    holder
        .execute_batch("BEGIN IMMEDIATE; UPDATE favorite_polls SET hours = hours;")
        .unwrap_or_else(|e| panic!("{e}"));
    // `/daily off` writes: it waits for the lock, holding the bot's one SQLite connection meanwhile, so the reads
    // after it wait too.
    let manager = permissions::VIEW_CHANNEL | permissions::SEND_MESSAGES | (1 << 5);
    let mut sent = Vec::new();
    for (command, sub) in [
        ("daily", "off"),
        // Its first store call (the server's language) waits on the connection `/daily off` holds.
        ("quiz", "start"),
        ("daily", "status"),
        ("favorite", "results"),
        ("favorite", "leaderboard"),
    ] {
        let interaction = harness
            .fake
            .slash(command)
            .subcommand(sub)
            .member_permissions(manager | (1 << 13))
            .send()
            .await;
        if sent.is_empty() {
            // Once `/daily off` is deferred, its write is stuck on the lock: the others are sent behind it.
            harness.fake.wait_callback(interaction.id, T).await;
        }
        sent.push((format!("/{command} {sub}"), interaction));
    }
    for (name, interaction) in &sent {
        let first = harness.fake.wait_callback(interaction.id, T).await;
        let took = interaction.sent_at.elapsed();
        assert!(
            took < Duration::from_secs(3),
            "{name}: first answer after {took:?}: {first:#}"
        );
        assert_eq!(first["type"], 5, "{name}: deferred: {first:#}");
        println!("{name}: deferred after {took:?} while the store was locked");
    }
    holder
        .execute_batch("ROLLBACK;")
        .unwrap_or_else(|e| panic!("{e}"));
    for (name, interaction) in &sent {
        let deadline = tokio::time::Instant::now() + T;
        let answered = |m: &Value| {
            !m["content"].as_str().unwrap_or_default().is_empty()
                || m["embeds"].as_array().is_some_and(|e| !e.is_empty())
        };
        while !harness
            .fake
            .interaction_messages(interaction.id)
            .iter()
            .any(answered)
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{name}: no follow-up"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

/// Another channel of the server, for polls that must not meet.
const OTHER: u64 = CHANNEL + 20;

/// Starts `/favorite start` in `channel` as the owner; returns the follow-up's text.
async fn start_in(harness: &Harness, channel: u64) -> String {
    let started = harness
        .fake
        .slash("favorite")
        .subcommand("start")
        .option_channel("channel", channel)
        .send()
        .await;
    harness.fake.wait_callback(started.id, T).await;
    followup_text(harness, started.id).await
}

/// Makes the next `count` poll sends fail (a 503 each), more than one call retries: the poll is posted later, by
/// the scheduler, after it looked for it in the channel.
fn fail_poll_sends(fake: &FakeDiscord, channel: u64, count: usize) {
    for _ in 0..count {
        fake.fail_next(
            "POST",
            &format!("/channels/{channel}/messages"),
            503,
            None,
            false,
        );
    }
}

/// Item 6: before sending a poll again, the bot looks for it in the channel; an earlier poll there with the same
/// question and answers is another record's, even when the server's last finished poll stood elsewhere.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_poll_never_adopts_a_poll_another_record_holds() {
    let mut options = fake_options();
    options.guilds[0]
        .channels
        .push(FakeChannel::text(OTHER, "other"));
    let harness = Harness::start_with(options, Vec::new()).await;
    let first = start_in(&harness, CHANNEL).await;
    assert!(first.contains("Poll posted"), "{first}");
    let first_poll = wait_poll(&harness.fake).await;
    favorite(&harness, "end", MODERATOR, None).await;
    wait_results(&harness.fake, 1).await;
    // The server's last finished poll is now one in another channel.
    let second = start_in(&harness, OTHER).await;
    assert!(second.contains("Poll posted"), "{second}");
    favorite(&harness, "end", MODERATOR, None).await;
    harness
        .fake
        .wait_channel_message(OTHER, |m| by_bot(m) && m["poll"].is_null(), T)
        .await;
    let first_id = serde_json::json!(first_poll.to_string());
    fail_poll_sends(&harness.fake, CHANNEL, 4);
    let third = start_in(&harness, CHANNEL).await;
    assert!(third.contains("keep trying"), "{third}");
    let posted = harness
        .fake
        .wait_channel_message(
            CHANNEL,
            |m| m["poll"].is_object() && by_bot(m) && m["id"] != first_id,
            T,
        )
        .await;
    assert_eq!(polls(&harness.fake).len(), 2, "posted anew: {posted}");
}

/// Item 6: a poll message sent before the record was made is an earlier poll's (here one the database no longer
/// knows, as after a reset), however alike: never adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_sent_before_its_record_was_made_is_never_adopted() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let catalog = scenebot::catalog::Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
    let plan = scenebot::favorite::plan_poll(&catalog, &mut rand::rng());
    let poll = scenebot::favorite::build_poll(&catalog, &plan, scenebot::locale::Locale::En, 24);
    harness
        .fake
        .backdate_next_message(Duration::from_secs(3600));
    let old = harness
        .fake
        .add_bot_message(CHANNEL, serde_json::json!({ "poll": poll }))
        .unwrap_or_else(|e| panic!("{e}"));
    fail_poll_sends(&harness.fake, CHANNEL, 4);
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("keep trying"), "{text}");
    harness
        .fake
        .wait_channel_message(
            CHANNEL,
            |m| m["poll"].is_object() && by_bot(m) && m["id"] != old["id"],
            T,
        )
        .await;
    assert_eq!(
        polls(&harness.fake).len(),
        2,
        "posted anew beside the old one"
    );
}

/// Item 8: Discord took the poll but its answer cannot be read. The request may well have succeeded, so the bot
/// neither gives the poll up nor posts a second one: it asks again with the same nonce, which Discord answers with
/// the message it already made.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poll_whose_answer_cannot_be_read_is_not_given_up_or_sent_twice() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    harness.fake.replace_body_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        r#"{"id": "not a message"}"#,
    );
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("Poll posted"), "{text}");
    assert_eq!(polls(&harness.fake).len(), 1, "posted once");
    let sends: Vec<_> = harness
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.body["poll"].is_object())
        .map(|r| r.body["nonce"].clone())
        .collect();
    assert_eq!(sends.len(), 2, "asked again once: {sends:?}");
    assert_eq!(sends[0], sends[1], "with the same nonce");
    let again = favorite(&harness, "start", MODERATOR, None).await;
    assert!(again.contains("already running"), "{again}");
}

/// Item 9: the dataset is edited while a poll runs (every poll label reworded, the scenes reordered). The votes are
/// still counted for the scenes they were cast for: the answer ids were kept with their scene ids at posting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dataset_edit_while_a_poll_runs_keeps_every_vote_on_its_scene() {
    let mut harness = Harness::start_with(fake_options(), Vec::new()).await;
    let dir = Arc::clone(&harness.bot.dir);
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    // Answer 3 is Witch's Romance in the shipped order.
    vote(
        &harness.fake,
        message,
        &[(voter(1), 3), (voter(2), 3), (voter(3), 1)],
    );
    harness.bot.kill().await;
    let mut dataset: Value =
        serde_json::from_str(&crate::support::shipped_dataset()).unwrap_or_default();
    let scenes = dataset["scenes"]
        .as_array_mut()
        .map(std::mem::take)
        .unwrap_or_default();
    let edited: Vec<Value> = scenes
        .into_iter()
        .rev()
        .map(|mut scene| {
            for locale in ["en", "ko"] {
                let label = scene["poll_label"][locale].as_str().unwrap_or_default();
                scene["poll_label"][locale] = Value::from(format!("{label}!"));
            }
            scene
        })
        .collect();
    dataset["scenes"] = Value::from(edited);
    let file = crate::support::TempFile::new("scenes.json", &dataset.to_string());
    let mut options = BotOptions::new(&harness.fake.api_url(), &harness.fake.token());
    options.dir = Some(dir);
    options.env.push(("SCENEBOT_DATA", file.arg().to_owned()));
    harness.bot = BotProcess::start(options);
    harness.bot.wait_log("commands registered", T).await;
    let text = favorite(&harness, "end", MODERATOR, None).await;
    assert!(text.contains("results are posted"), "{text}");
    let posted = wait_results(&harness.fake, 1).await;
    let embed = &posted[0]["embeds"][0];
    let title = embed["title"].as_str().unwrap_or_default();
    assert!(title.contains("Witch's Romance"), "{title}");
    let chart = embed["description"].as_str().unwrap_or_default();
    assert!(
        chart.contains("2 · 67%") && chart.contains("1 · 33%") && chart.contains("3 votes"),
        "{chart}"
    );
}

/// How many times the bot has read the channel's message list.
fn channel_reads(fake: &FakeDiscord) -> usize {
    let route = format!("/channels/{CHANNEL}/messages");
    fake.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.route() == route)
        .count()
}

/// Issue 29.1: a 24-hour poll in an active channel sees thousands of messages (sent over its hours: here a minute
/// before its end). Its results are posted once, without
/// reading the channel back (nothing can be there before a send was attempted); after a crash between sending the
/// results and recording them, with thousands more messages after them, the bot still finds them from the attempt
/// on (one page read forward) instead of calling it "unknown" for ever; and the server can start its next poll.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_channel_gets_its_results_once_and_its_next_poll() {
    let mut options = fake_options();
    options.nonce_window = Duration::ZERO;
    let mut harness = Harness::start_with(options, Vec::new()).await;
    let dir = Arc::clone(&harness.bot.dir);
    let during_the_poll = Duration::from_secs(60);

    // A poll that 2,500 messages follow, ended: results once, and the channel never read.
    favorite(&harness, "start", MODERATOR, None).await;
    let message = wait_poll(&harness.fake).await;
    vote(&harness.fake, message, &[(voter(1), 4)]);
    harness.fake.chat_aged(CHANNEL, 2_500, during_the_poll);
    favorite(&harness, "end", MODERATOR, None).await;
    harness.bot.wait_log("results announced", T).await;
    assert_eq!(wait_results(&harness.fake, 1).await.len(), 1);
    assert_eq!(channel_reads(&harness.fake), 0, "nothing to look for");

    // The next poll: 2,500 messages, then the results reach Discord but the bot dies before recording them, and
    // 2,500 more messages come while it is down.
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("Poll posted"), "{text}");
    let message = wait_poll_after(&harness.fake, message).await;
    vote(&harness.fake, message, &[(voter(2), 2)]);
    harness.fake.chat_aged(CHANNEL, 2_500, during_the_poll);
    end_with_results_held(&harness.fake).await;
    wait_results(&harness.fake, 2).await;
    harness.bot.kill().await;
    harness.fake.chat(CHANNEL, 2_500);
    harness.bot = restart(&harness.fake, Arc::clone(&dir));
    harness.bot.wait_log("adopting them", T).await;
    harness.bot.wait_log("results announced", T).await;
    assert_eq!(results(&harness.fake).len(), 2, "found, not posted again");
    assert!(
        channel_reads(&harness.fake) <= 2,
        "read forward from the attempt: {} pages",
        channel_reads(&harness.fake)
    );
    let text = favorite(&harness, "start", MODERATOR, None).await;
    assert!(text.contains("Poll posted"), "the server is free: {text}");
}

/// The bot's newest poll message other than `previous`.
async fn wait_poll_after(fake: &FakeDiscord, previous: u64) -> u64 {
    let previous = previous.to_string();
    let poll = fake
        .wait_channel_message(
            CHANNEL,
            |m| m["poll"].is_object() && by_bot(m) && m["id"].as_str() != Some(&previous),
            T,
        )
        .await;
    poll["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_default()
}

/// `/language` as a manager whose client speaks `locale`, choosing `language` (the choice's index, as Discord sends
/// poise's choices: 0 English, 1 한국어, 2 Automatic) or nothing (the current setting); its answer.
async fn choose_language(harness: &Harness, language: Option<i64>, locale: &str) -> String {
    let mut builder = harness
        .fake
        .slash("language")
        .member_permissions(crate::support::harness::MANAGER)
        .locale(locale);
    if let Some(language) = language {
        builder = builder.option_int("language", language);
    }
    let interaction = builder.send().await;
    harness.fake.wait_callback(interaction.id, T).await;
    followup_text(harness, interaction.id).await
}

/// The question of the bot's newest poll request.
async fn newest_poll_question(harness: &Harness, after: usize) -> String {
    let request = harness
        .fake
        .wait_for_request(
            |r| r.index >= after && r.method == "POST" && r.body["poll"].is_object(),
            T,
        )
        .await;
    request.body["poll"]["question"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Issue 31: an ordinary (non-Community) server reports `en-US`, whatever its members speak. Its Korean moderator
/// starting a poll gets a Korean poll and Korean results; `/language` overrides that both ways; and a poll keeps
/// the language it started in when the setting changes while it runs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_korean_moderator_of_an_ordinary_server_gets_korean_polls_and_a_choice_overrides() {
    let harness = Harness::start_with(fake_options(), Vec::new()).await;
    let korean_question = "우리 서버 최애 박서준 키스신은?";
    let start_as = |locale: &'static str| {
        let fake = &harness.fake;
        async move {
            let interaction = fake
                .slash("favorite")
                .subcommand("start")
                .member_permissions(MODERATOR)
                .locale(locale)
                .send()
                .await;
            fake.wait_callback(interaction.id, T).await;
        }
    };
    let end = || async {
        let interaction = harness
            .fake
            .slash("favorite")
            .subcommand("end")
            .member_permissions(MODERATOR)
            .send()
            .await;
        harness.fake.wait_callback(interaction.id, T).await;
    };

    // No choice, guild_locale en-US: the Korean moderator's language.
    let before = harness.fake.requests().len();
    start_as("ko").await;
    assert_eq!(
        newest_poll_question(&harness, before).await,
        korean_question
    );
    // Chosen English mid-poll: this poll still ends in Korean.
    let chosen = choose_language(&harness, Some(0), "ko").await;
    assert!(chosen.contains("English"), "{chosen}");
    end().await;
    let posted = wait_results(&harness.fake, 1).await;
    assert!(
        posted[0]["embeds"][0]["footer"]["text"]
            .as_str()
            .is_some_and(|t| t.starts_with("최애 장면 투표 결과")),
        "{}",
        posted[0]
    );
    // The choice holds for the next poll, the Korean moderator's included.
    let before = harness.fake.requests().len();
    start_as("ko").await;
    assert_eq!(
        newest_poll_question(&harness, before).await,
        "Which Park Seo-joon kiss scene is this server's favorite?"
    );
    end().await;
    wait_results(&harness.fake, 2).await;
    // And the other way: Korean chosen, an English moderator gets a Korean poll.
    choose_language(&harness, Some(1), "en-US").await;
    let shown = choose_language(&harness, None, "en-US").await;
    assert!(
        shown.contains("한국어") && shown.contains("chosen"),
        "{shown}"
    );
    let before = harness.fake.requests().len();
    start_as("en-US").await;
    assert_eq!(
        newest_poll_question(&harness, before).await,
        korean_question
    );
}
