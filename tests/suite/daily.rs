//! `/daily` end to end, with the clock driven by the test: the real bot runs in this process (`scenebot::bot::run`,
//! the real serenity client over real sockets to the fake Discord) with a [`ManualClock`], so a month of posts takes
//! seconds and a restart is a stop and a start on the same database.
//!
//! Over 600 lines because it is one feature's whole story (set, post, skip, lose access, restart), each case a few
//! lines over the shared `Daily` driver; split, each part would repeat the driver.

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use crate::support::fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeOptions, FakeOverwrite, FakeRole, FakeUser,
};
use crate::support::harness::{MANAGER, T};
use crate::support::TempDir;
use scenebot::clock::{Clock, ManualClock};

const GUILD: u64 = FakeDiscord::GUILD_ID;
const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;

pub(crate) fn at(text: &str) -> i64 {
    DateTime::parse_from_rfc3339(text)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
        .with_timezone(&Utc)
        .timestamp()
}

use crate::support::in_process::RunningBot;

/// The fake, the clock, the database directory, and the bot running in this process.
pub(crate) struct Daily {
    pub(crate) fake: FakeDiscord,
    pub(crate) clock: Arc<ManualClock>,
    dir: TempDir,
    bot: Option<RunningBot>,
    /// Requests before this index belong to earlier starts.
    registered_at: usize,
    /// Settings beyond the token and the fake's URL.
    pub(crate) settings: Vec<(&'static str, String)>,
}

impl Drop for Daily {
    /// A test that ends (or fails) with its bot still running: the bot's runtime cannot be dropped inside the test's
    /// async context, so it is shut down in the background.
    fn drop(&mut self) {
        if let Some((_task, _stop, runtime)) = self.bot.take() {
            runtime.shutdown_background();
        }
    }
}

impl Daily {
    pub(crate) async fn start(now: i64) -> Daily {
        Daily::start_with(now, FakeOptions::default()).await
    }

    /// Starts with a fake made to differ from the defaults.
    pub(crate) async fn start_with(now: i64, options: FakeOptions) -> Daily {
        let fake = FakeDiscord::start(options.with_spec_from_env()).await;
        let clock = Arc::new(ManualClock::new(now));
        let followed = Arc::clone(&clock);
        fake.follow_clock(Arc::new(move || followed.now()));
        let mut daily = Daily {
            fake,
            clock,
            dir: TempDir::new(),
            bot: None,
            registered_at: 0,
            settings: Vec::new(),
        };
        daily.boot().await;
        daily
    }

    /// Starts the bot on the database in `dir` and waits until it has registered its commands.
    pub(crate) async fn boot(&mut self) {
        let (bot, registered_at) = crate::support::in_process::boot(
            &self.fake,
            self.clock.clone(),
            &self.dir.path.join("scenebot.sqlite3"),
            &self.settings,
            self.registered_at,
        )
        .await;
        self.bot = Some(bot);
        self.registered_at = registered_at;
    }

    /// Stops the bot cleanly and waits for it.
    pub(crate) async fn stop(&mut self) {
        if let Some((task, stop, runtime)) = self.bot.take() {
            let _ = stop.send(());
            let result = tokio::time::timeout(T, task).await;
            runtime.shutdown_background();
            assert!(
                matches!(result, Ok(Ok(Ok(())))),
                "the bot did not stop cleanly: {result:?}"
            );
        }
    }

    /// Kills the bot mid-flight (its task is dropped, as a crash would).
    pub(crate) async fn crash(&mut self) {
        if let Some((_task, _stop, runtime)) = self.bot.take() {
            runtime.shutdown_background();
        }
    }

    /// `/daily set` in the test channel at the default 09:00, in UTC.
    pub(crate) async fn set_at_nine_utc(&self) {
        self.command(
            "set",
            &[("channel", &CHANNEL.to_string()), ("timezone", "UTC")],
            MANAGER,
        )
        .await;
    }

    pub(crate) async fn command(&self, sub: &str, options: &[(&str, &str)], member: u64) -> String {
        self.command_in(CHANNEL, sub, options, member).await
    }

    /// `/daily <sub>` sent from `channel`; options named `channel` and `role` are sent as channel and role
    /// options (with `resolved` data), `thread` as a boolean, others as strings.
    pub(crate) async fn command_in(
        &self,
        channel: u64,
        sub: &str,
        options: &[(&str, &str)],
        member: u64,
    ) -> String {
        self.command_as(channel, sub, options, member, "en-US")
            .await
    }

    /// [`Daily::command_in`] from a member whose Discord client speaks `locale`.
    async fn command_as(
        &self,
        channel: u64,
        sub: &str,
        options: &[(&str, &str)],
        member: u64,
        locale: &str,
    ) -> String {
        let mut builder = self
            .fake
            .slash("daily")
            .subcommand(sub)
            .member_permissions(member)
            .locale(locale)
            .in_guild(GUILD, channel);
        for (name, value) in options {
            let id = value.parse::<u64>().unwrap_or(0);
            builder = match *name {
                "channel" => builder.option_channel(name, id),
                "role" => builder.option_role(name, id),
                "thread" => builder.option_bool(name, *value == "true"),
                _ => builder.option_str(name, value),
            };
        }
        let interaction = builder.send().await;
        let callback = self.fake.wait_callback(interaction.id, T).await;
        if callback["type"] == 5 {
            let followup = self.fake.wait_followup(&interaction.token, T).await;
            return followup.body["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
        }
        callback["data"]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// The daily posts in the channel, oldest first.
    fn posts(&self) -> Vec<Value> {
        self.fake
            .channel_messages(CHANNEL)
            .into_iter()
            .filter(|m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Today's Park Seo-joon scene"))
            })
            .collect()
    }

    async fn wait_posts(&self, count: usize) -> Vec<Value> {
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let posts = self.posts();
            if posts.len() >= count {
                return posts;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{count} posts expected, {} made",
                posts.len()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

/// The scene id of a daily post, read from its "Another scene" button (`scene:post:<marker>:<scene>`).
fn scene_of(post: &Value) -> String {
    let custom_id = post["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default();
    assert!(custom_id.starts_with("scene:post:daily-"), "{custom_id}");
    custom_id.rsplit(':').next().unwrap_or_default().to_owned()
}

/// A crash between sending and recording, and a restart later than Discord's nonce window (made zero here, so
/// the nonce cannot help): the bot finds its post in the channel by the marker on its button and adopts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_past_the_nonce_window_adopts_the_post_instead_of_posting_twice() {
    let mut daily = crash_between_sending_and_recording().await;
    daily.boot().await;
    // The dead bot's claim is taken over once its lease (120 s by default) has run out.
    let taken_over = at("2027-05-02T09:03:00Z");
    daily.clock.set(taken_over);
    wait_status(&daily, &format!("Last post: <t:{taken_over}:F>")).await;
    assert_eq!(daily.posts().len(), 1, "adopted, not posted again");
    let searched = daily
        .fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.route() == format!("/channels/{CHANNEL}/messages"));
    assert!(searched, "the bot looked in the channel before any resend");
    daily.stop().await;
}

/// Sends the day's post and crashes before its answer comes back or is recorded, past Discord's nonce window (made
/// zero): the restarted bot can only tell from the channel whether the post is there.
async fn crash_between_sending_and_recording() -> Daily {
    let options = FakeOptions {
        nonce_window: Duration::ZERO,
        ..FakeOptions::default()
    };
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), options).await;
    daily.set_at_nine_utc().await;
    daily.stop().await;
    // A long HTTP timeout keeps the crashed bot's last call from retrying behind the test's back.
    daily.settings = vec![("SCENEBOT_HTTP_TIMEOUT_SECONDS", "300".to_owned())];
    daily.boot().await;
    daily.fake.hold_answer_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        Duration::from_secs(120),
    );
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    daily.wait_posts(1).await;
    daily.crash().await;
    daily.settings.clear();
    daily
}

/// The text of the first follow-up with content sent on the interaction token `token`.
async fn followup_text(fake: &FakeDiscord, token: &str) -> String {
    let followup = fake
        .wait_for_request(
            |r| {
                r.route().contains(token)
                    && r.body["content"].as_str().is_some_and(|c| !c.is_empty())
            },
            T,
        )
        .await;
    followup.body["content"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Waits until `/daily status` says `text`.
pub(crate) async fn wait_status(daily: &Daily, text: &str) -> String {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let status = daily.command("status", &[], MANAGER).await;
        if status.contains(text) {
            return status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Item 7 and issue 29.1: a busy channel cannot push the post out of reach. The search reads forward from the
/// claim, so with 2,050 messages after the post it is found in the first page read, and adopted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_channel_cannot_hide_the_post_into_a_second_one() {
    let mut daily = crash_between_sending_and_recording().await;
    daily.fake.chat(CHANNEL, 2_050);
    daily.boot().await;
    let taken_over = at("2027-05-02T09:03:00Z");
    daily.clock.set(taken_over);
    wait_status(&daily, &format!("Last post: <t:{taken_over}:F>")).await;
    assert_eq!(daily.posts().len(), 1, "adopted, not posted again");
    let messages = format!("/channels/{CHANNEL}/messages");
    let reads = daily
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.route() == messages)
        .count();
    assert_eq!(reads, 1, "one page read forward from the claim");
    daily.stop().await;
}

/// Item 7, past the search's reach: the post was sent, then deleted by a moderator, and more than 2,000 messages
/// followed the claim. Whether the post is there cannot be told from 20 pages, which must read as "unknown" (looked
/// at again later), never as "not there": it never posts again, and past the late limit the day fails, as
/// `/daily status` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_beyond_the_search_s_reach_is_never_sent_again() {
    let mut daily = crash_between_sending_and_recording().await;
    for post in daily.posts() {
        let id = post["id"].as_str().and_then(|id| id.parse().ok());
        daily.fake.delete_message(CHANNEL, id.unwrap_or_default());
    }
    daily.fake.chat(CHANNEL, 2_050);
    daily.boot().await;
    daily.clock.set(at("2027-05-02T09:03:00Z"));
    // It read the 20 pages it may (each without the post) before it gave the look up.
    let messages = format!("/channels/{CHANNEL}/messages");
    daily
        .fake
        .wait_for_requests(20, |r| r.method == "GET" && r.route() == messages, T)
        .await;
    // Past the late limit the day is given up; the clock moves a second per look at the status (see below).
    daily.clock.set(at("2027-05-02T15:01:00Z"));
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let status = daily.command("status", &[], MANAGER).await;
        if status.contains("(1 failed day)") {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        daily.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(daily.posts().is_empty(), "never posted again");
    daily.stop().await;
}

/// Item 7: a bot that lost Read Message History reads an empty channel (Discord answers no messages at all), which
/// must mean "cannot tell", never "not there": it never posts again, and once the day is past the late limit it
/// fails for the missing permission, as `/daily status` says.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_without_read_message_history_never_posts_twice() {
    let mut daily = crash_between_sending_and_recording().await;
    daily.fake.set_channel_overwrites(
        CHANNEL,
        vec![FakeOverwrite::deny_member(
            FakeDiscord::BOT_USER_ID,
            permissions::READ_MESSAGE_HISTORY,
        )],
    );
    daily.boot().await;
    daily.clock.set(at("2027-05-02T09:03:00Z"));
    // It looked, found nothing, and read its own permissions there before believing it.
    daily
        .fake
        .wait_for_request(
            |r| {
                r.method == "GET"
                    && r.route()
                        .contains(&format!("/members/{}", FakeDiscord::BOT_USER_ID))
            },
            T,
        )
        .await;
    // Past the late limit the day is given up. The first look may still be in flight when the clock moves (a
    // second look at the same day waits for it), so the clock moves on a second per look at the status.
    daily.clock.set(at("2027-05-02T15:01:00Z"));
    let deadline = tokio::time::Instant::now() + T;
    let status = loop {
        let status = daily.command("status", &[], MANAGER).await;
        if status.contains("(1 failed day)") {
            break status;
        }
        assert!(tokio::time::Instant::now() < deadline, "{status}");
        daily.clock.advance(1);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.contains("missing permissions"), "{status}");
    assert_eq!(daily.posts().len(), 1, "never posted again");
    daily.stop().await;
}

/// Item 8, the daily side: Discord took the day's post but its answer cannot be read. The post may well be there,
/// so the day is neither failed nor posted twice: the bot asks again with the same nonce (Discord answers with the
/// message it already made) and records the day as posted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daily_post_whose_answer_cannot_be_read_is_not_failed_or_sent_twice() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.set_at_nine_utc().await;
    daily.fake.replace_body_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        r#"{"id": "not a message"}"#,
    );
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    daily.wait_posts(1).await;
    let status = wait_status(&daily, "Last post").await;
    assert!(!status.contains("failed"), "{status}");
    let sends: Vec<Value> = daily
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "POST"
                && r.route() == format!("/channels/{CHANNEL}/messages")
                && r.body["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("Today's Park Seo-joon scene"))
        })
        .map(|r| r.body["nonce"].clone())
        .collect();
    assert_eq!(sends.len(), 2, "asked again once: {sends:?}");
    assert_eq!(sends[0], sends[1], "with the same nonce");
    assert_eq!(daily.posts().len(), 1, "posted once");
    daily.stop().await;
}

/// "Another scene" on a daily post answers the one who clicked, privately: the public post stays as it is.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_scene_on_a_daily_post_is_private() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.set_at_nine_utc().await;
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    let post = daily.wait_posts(1).await.remove(0);
    let custom_id = post["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = post["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or(0);
    let click = daily
        .fake
        .button(&custom_id)
        .on_message(message)
        .in_guild(GUILD, CHANNEL)
        .send()
        .await;
    let answer = daily.fake.wait_callback(click.id, T).await;
    assert_eq!(
        answer["type"], 4,
        "a new message, not an update of the post: {answer:#}"
    );
    assert_eq!(answer["data"]["flags"], 64, "ephemeral: {answer:#}");
    assert_ne!(scene_of(&post), "", "the post names its scene");
    assert_eq!(
        daily.fake.message(message).map(|m| m["embeds"].clone()),
        Some(post["embeds"].clone()),
        "the public post is unchanged"
    );
    // Security item 1: a forged id on the public post (a /scene card's "Another scene", a suggestion button, an
    // unknown scene) never rewrites it for everyone: the clicker gets a private answer.
    for forged_id in [
        format!("scene:another:{}", scene_of(&post)),
        "scene:show:hwarang".to_owned(),
        "scene:another:no-such-scene".to_owned(),
        "scene:post:daily-2027-05-02:no-such-scene".to_owned(),
    ] {
        let mut forged = daily
            .fake
            .button(&custom_id)
            .on_message(message)
            .in_guild(GUILD, CHANNEL)
            .payload();
        forged["data"]["custom_id"] = json!(forged_id);
        let click = daily.fake.send_interaction(forged);
        let answer = daily.fake.wait_callback(click.id, T).await;
        assert_eq!(answer["type"], 4, "{forged_id}: {answer:#}");
        assert_eq!(answer["data"]["flags"], 64, "{forged_id}: {answer:#}");
        if forged_id.contains("no-such-scene") {
            assert!(
                answer["data"]["embeds"].is_null() || answer["data"]["embeds"] == json!([]),
                "{forged_id}: the stale-button notice, no random card: {answer:#}"
            );
        }
    }
    assert_eq!(
        daily.fake.message(message).map(|m| m["embeds"].clone()),
        Some(post["embeds"].clone()),
        "the public post is unchanged after forged clicks"
    );
    daily.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_days_make_thirty_posts_in_shuffled_rounds() {
    // Set on 31 July at 21:00 in Seoul; posts at 09:00 Seoul (00:00 UTC) from 1 August: a month without
    // anniversaries (from 27 July to 15 September none falls), so every day draws from the bag. Special days are
    // `days.rs`'s.
    let mut daily = Daily::start(at("2027-07-31T12:00:00Z")).await;
    let text = daily
        .command(
            "set",
            &[
                ("channel", &CHANNEL.to_string()),
                ("time", "09:00"),
                ("timezone", "Asia/Seoul"),
            ],
            MANAGER,
        )
        .await;
    assert!(text.contains("Daily scene on"), "{text}");
    let first = at("2027-08-01T00:00:00Z");
    for day in 0..30 {
        let slot = first + day * 86_400;
        daily.clock.set(slot - 60);
        daily.clock.set(slot);
        daily.wait_posts(day as usize + 1).await;
        // Later the same day: nothing more.
        daily.clock.set(slot + 3 * 3600);
    }
    daily.clock.set(first + 30 * 86_400 - 60);
    let posts = daily.posts();
    assert_eq!(posts.len(), 30, "exactly 30 posts");
    let scenes: Vec<String> = posts.iter().map(scene_of).collect();
    for round in scenes.chunks(6) {
        let mut sorted = round.to_vec();
        sorted.sort();
        sorted.dedup();
        assert_eq!(sorted.len(), 6, "every scene once per round: {round:?}");
    }
    for pair in scenes.windows(2) {
        assert_ne!(pair[0], pair[1], "no back-to-back repeat: {scenes:?}");
    }
    for post in &posts {
        assert_eq!(post["embeds"].as_array().map(Vec::len), Some(1));
    }
    daily.stop().await;
    daily.fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restarts_around_the_post_time_never_duplicate_or_lose() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.set_at_nine_utc().await;
    // Just before the post: stop, restart, then the time comes.
    daily.clock.set(at("2027-05-02T08:59:00Z"));
    daily.stop().await;
    daily.boot().await;
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    daily.wait_posts(1).await;
    // Just after the post: stop and restart; the record says it is done.
    daily.clock.set(at("2027-05-02T09:01:00Z"));
    daily.stop().await;
    daily.boot().await;
    let status = daily.command("status", &[], MANAGER).await;
    assert!(status.contains("Last post"), "{status}");
    assert_eq!(daily.posts().len(), 1, "no duplicate after a restart");
    // A crash while the post is in flight: Discord has it, the bot never learned; the nonce keeps it single.
    daily.fake.hold_answer_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages"),
        Duration::from_secs(20),
    );
    daily.clock.set(at("2027-05-03T09:00:00Z"));
    daily.wait_posts(2).await;
    daily.crash().await;
    daily.boot().await;
    daily
        .fake
        .wait_for_request(
            |r| {
                r.method == "POST"
                    && r.route() == format!("/channels/{CHANNEL}/messages")
                    && r.body["nonce"] == daily_nonce_for(&daily, "2027-05-03")
                    && r.status == 200
            },
            T,
        )
        .await;
    let status = daily.command("status", &[], MANAGER).await;
    assert!(status.contains("Last post"), "{status}");
    assert_eq!(
        daily.posts().len(),
        2,
        "the resend returned the first message"
    );
    daily.stop().await;
}

fn daily_nonce_for(_daily: &Daily, date: &str) -> Value {
    let date = chrono::NaiveDate::parse_from_str(date, "%Y-%m-%d").unwrap_or_default();
    json!(scenebot::daily::post_nonce(GUILD, date))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downtime_across_the_post_time_makes_exactly_one_late_post() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily
        .command(
            "set",
            &[
                ("channel", &CHANNEL.to_string()),
                ("time", "07:30"),
                ("timezone", "Europe/London"),
            ],
            MANAGER,
        )
        .await;
    daily.clock.set(at("2027-05-02T05:00:00Z"));
    daily.stop().await;
    // Down from 06:00 to 09:00 London time; the 07:30 post is 1.5 h late when the bot is back.
    daily.clock.set(at("2027-05-02T08:00:00Z"));
    daily.boot().await;
    daily.wait_posts(1).await;
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    daily.stop().await;
    daily.boot().await;
    assert_eq!(daily.posts().len(), 1, "exactly one late post");
    // Down for a whole day: more than 6 hours late is skipped, not posted late.
    daily.stop().await;
    daily.clock.set(at("2027-05-03T20:00:00Z"));
    daily.boot().await;
    let status = daily.command("status", &[], MANAGER).await;
    assert!(status.contains("Next post"), "{status}");
    assert_eq!(daily.posts().len(), 1, "the missed day is skipped");
    daily.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_deleted_channel_shows_in_status_and_pauses_after_three_days() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.set_at_nine_utc().await;
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    daily.wait_posts(1).await;
    // /daily status is asked from another channel: the configured one is about to go.
    let lounge = CHANNEL + 100;
    daily
        .fake
        .add_channel(GUILD, FakeChannel::text(lounge, "lounge"));
    daily.fake.delete_channel(CHANNEL);
    for (day, text) in [
        (3, "(1 failed day)"),
        (4, "2 failed days in a row"),
        (5, "Paused after 3 failed days"),
    ] {
        daily.clock.set(at(&format!("2027-05-0{day}T09:00:00Z")));
        let deadline = tokio::time::Instant::now() + T;
        loop {
            let status = daily.command_in(lounge, "status", &[], MANAGER).await;
            if status.contains(text) {
                assert!(
                    status.contains("the channel no longer exists")
                        && !status.contains("Unknown Channel"),
                    "{status}"
                );
                break;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "day {day}: {status}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let status = daily.command_in(lounge, "status", &[], MANAGER).await;
    assert!(
        status.contains("/daily set"),
        "says how to resume: {status}"
    );
    daily.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_shows_the_next_post_in_the_servers_zone() {
    // 10:00 on Saturday 13 March 2027 in New York (EST), the day before it springs forward.
    let mut daily = Daily::start(at("2027-03-13T15:00:00Z")).await;
    daily
        .command(
            "set",
            &[
                ("channel", &CHANNEL.to_string()),
                ("time", "09:00"),
                ("timezone", "america/new_york"),
            ],
            MANAGER,
        )
        .await;
    let status = daily.command("status", &[], MANAGER).await;
    // Today's 09:00 has passed; tomorrow's 09:00 is already EDT: 13:00 UTC.
    let next = at("2027-03-14T13:00:00Z");
    assert!(status.contains(&format!("<t:{next}:F>")), "{status}");
    assert!(status.contains(&format!("<t:{next}:R>")), "{status}");
    assert!(status.contains("America/New_York"), "{status}");
    assert!(
        status.contains("Scenes left before any repeats: 6"),
        "{status}"
    );
    daily.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_role_ping_mentions_only_that_role_and_bad_input_is_refused() {
    let role = GUILD + 30;
    let unmentionable = GUILD + 31;
    let mut options = FakeOptions::default();
    options.guilds[0].roles.push(FakeRole {
        mentionable: true,
        ..FakeRole::new(role, "fans", 0, 2)
    });
    options.guilds[0]
        .roles
        .push(FakeRole::new(unmentionable, "staff", 0, 3));
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), options).await;
    // Security item 3: the bot may hold Mention Everyone; a role its server made unmentionable is pinged only for a
    // manager who holds it too.
    let (channel_text, unmentionable_text) = (CHANNEL.to_string(), unmentionable.to_string());
    let options = [
        ("channel", channel_text.as_str()),
        ("role", unmentionable_text.as_str()),
    ];
    let refused = daily.command("set", &options, MANAGER).await;
    assert!(
        refused.contains("is not mentionable")
            && refused.contains(&format!("<@&{unmentionable}>"))
            && refused.contains("Mention @everyone"),
        "{refused}"
    );
    let status = daily.command("status", &[], MANAGER).await;
    assert!(status.contains("not set up"), "nothing was saved: {status}");
    let allowed = daily
        .command("set", &options, MANAGER | permissions::MENTION_EVERYONE)
        .await;
    assert!(allowed.contains("Daily scene on"), "{allowed}");
    let bad_time = daily
        .command(
            "set",
            &[("channel", &CHANNEL.to_string()), ("time", "9am")],
            MANAGER,
        )
        .await;
    assert!(bad_time.contains("HH:MM"), "{bad_time}");
    let bad_zone = daily
        .command(
            "set",
            &[("channel", &CHANNEL.to_string()), ("timezone", "Mars/Base")],
            MANAGER,
        )
        .await;
    assert!(bad_zone.contains("is not a time zone"), "{bad_zone}");
    let refused = daily
        .command(
            "set",
            &[("channel", &CHANNEL.to_string())],
            permissions::VIEW_CHANNEL,
        )
        .await;
    assert!(refused.contains("Manage Server"), "{refused}");
    let set = daily
        .command(
            "set",
            &[
                ("channel", &CHANNEL.to_string()),
                ("role", &role.to_string()),
            ],
            MANAGER,
        )
        .await;
    assert!(set.contains("Daily scene on"), "{set}");
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    let post = daily.wait_posts(1).await.remove(0);
    let request = daily
        .fake
        .wait_for_request(
            |r| {
                r.method == "POST"
                    && r.body["content"]
                        .as_str()
                        .is_some_and(|c| c.contains("Today's"))
            },
            T,
        )
        .await;
    assert_eq!(
        request.body["allowed_mentions"]["roles"],
        json!([role.to_string()])
    );
    assert_eq!(request.body["allowed_mentions"]["parse"], json!([]));
    assert!(post["content"]
        .as_str()
        .unwrap_or_default()
        .starts_with(&format!("<@&{role}>")));
    let now = daily.command("now", &[], MANAGER).await;
    assert!(now.contains("Posted"), "{now}");
    assert_eq!(daily.posts().len(), 2);
    daily.stop().await;
}

/// A server manager who cannot see a channel cannot aim the daily scene at it: permissions are checked in the
/// channel the command acts on, for the member as for the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manager_must_see_the_channel_the_daily_scene_goes_to() {
    const FAN: u64 = FakeDiscord::USER_ID + 77;
    const STAFF: u64 = CHANNEL + 20;
    let mut options = FakeOptions::default();
    options.users.push(FakeUser::person(FAN, "manager-fan"));
    let mut staff = FakeChannel::text(STAFF, "staff-only");
    // Hidden from @everyone; the bot's own role may see it (without that Discord refuses the bot the channel).
    staff.overwrites = vec![
        FakeOverwrite::deny_role(GUILD, permissions::VIEW_CHANNEL),
        FakeOverwrite {
            id: GUILD + 1,
            kind: 0,
            allow: permissions::VIEW_CHANNEL,
            deny: 0,
        },
    ];
    options.guilds[0].channels.push(staff);
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), options).await;
    let interaction = daily
        .fake
        .slash("daily")
        .subcommand("set")
        .user(FAN)
        .member_permissions(MANAGER)
        .in_guild(GUILD, CHANNEL)
        .option_channel("channel", STAFF)
        .send()
        .await;
    let deferred = daily.fake.wait_callback(interaction.id, T).await;
    assert_eq!(deferred["type"], 5, "deferred before reading the channel");
    let text = followup_text(&daily.fake, &interaction.token).await;
    assert!(
        text.contains("View Channel") && text.contains(&format!("<#{STAFF}>")),
        "{text}"
    );
    let status = daily.command("status", &[], MANAGER).await;
    assert!(status.contains("not set up"), "nothing was saved: {status}");
    daily.stop().await;
}

/// Issue 31: an ordinary server reports `en-US`; its Korean manager setting up the daily scene without a zone is
/// offered Korean time (in Korean), and the posts come in Korean. `/language` switches them to English at once
/// (the next post), and `/daily status` says which language and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_korean_manager_of_an_ordinary_server_gets_korean_daily_posts_until_the_server_chooses() {
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), FakeOptions::default()).await;
    let set = daily
        .command_as(
            CHANNEL,
            "set",
            &[("channel", &CHANNEL.to_string())],
            MANAGER,
            "ko",
        )
        .await;
    assert!(set.contains("한국 시간"), "the Korea-time hint: {set}");
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    let korean = daily
        .fake
        .wait_channel_message(
            CHANNEL,
            |m| {
                m["content"]
                    .as_str()
                    .is_some_and(|c| c.contains("오늘의 박서준 장면"))
            },
            T,
        )
        .await;
    assert!(korean["embeds"].is_array(), "{korean}");
    let status = daily
        .command_as(CHANNEL, "status", &[], MANAGER, "ko")
        .await;
    assert!(status.contains("게시 언어: **한국어**"), "{status}");
    let interaction = daily
        .fake
        .slash("language")
        .member_permissions(MANAGER)
        .in_guild(GUILD, CHANNEL)
        .option_int("language", 0)
        .send()
        .await;
    daily.fake.wait_callback(interaction.id, T).await;
    let status = daily.command("status", &[], MANAGER).await;
    assert!(
        status.contains("Posts in: **English** (chosen with `/language`)"),
        "{status}"
    );
    daily.clock.set(at("2027-05-03T09:00:00Z"));
    daily.wait_posts(1).await;
    daily.stop().await;
}

/// Issue 29.2: `/daily now` makes the checks `/daily set` makes, in the daily channel: a manager who cannot see it
/// posts nothing there; and one server posts on demand at most once in five minutes, however often it asks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn daily_now_checks_the_daily_channel_and_cools_down() {
    const FAN: u64 = FakeDiscord::USER_ID + 77;
    const LOBBY: u64 = CHANNEL + 21;
    let mut options = FakeOptions::default();
    options.users.push(FakeUser::person(FAN, "manager-fan"));
    options.guilds[0]
        .channels
        .push(FakeChannel::text(LOBBY, "lobby"));
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), options).await;
    daily.set_at_nine_utc().await;
    daily.fake.set_channel_overwrites(
        CHANNEL,
        vec![FakeOverwrite::deny_member(FAN, permissions::VIEW_CHANNEL)],
    );
    let interaction = daily
        .fake
        .slash("daily")
        .subcommand("now")
        .user(FAN)
        .member_permissions(MANAGER)
        .in_guild(GUILD, LOBBY)
        .send()
        .await;
    daily.fake.wait_callback(interaction.id, T).await;
    let text = followup_text(&daily.fake, &interaction.token).await;
    assert!(text.contains("View Channel"), "{text}");
    assert!(
        daily.posts().is_empty(),
        "nothing posted for a manager who cannot see the channel"
    );
    daily.fake.set_channel_overwrites(CHANNEL, Vec::new());
    let first = daily.command("now", &[], MANAGER).await;
    assert!(first.contains("Posted"), "{first}");
    for _ in 0..3 {
        let again = daily.command("now", &[], MANAGER).await;
        assert!(again.contains("try again <t:"), "{again}");
    }
    assert_eq!(daily.posts().len(), 1, "one post on demand");
    daily.stop().await;
}

/// `GET /health`'s status and body from `port`.
async fn health(port: u16) -> (u16, Value) {
    let url = format!("http://127.0.0.1:{port}/health");
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or_default())
}

/// Waits until `/health` on `port` answers `status`; returns its body.
async fn wait_health(port: u16, status: u16) -> Value {
    let deadline = tokio::time::Instant::now() + T;
    loop {
        let (now, body) = health(port).await;
        if now == status {
            return body;
        }
        assert!(tokio::time::Instant::now() < deadline, "{now}: {body}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Item 10: while a scheduler is down `/health` says 503 and names it, so a supervisor or an uptime check sees it;
/// once it runs again (restarted after a back-off) the endpoint is healthy again. Here the daily scheduler stops
/// on a clock it cannot read (out of chrono's range), and comes back when the clock does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_says_503_while_a_scheduler_is_down() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.stop().await;
    daily.settings = vec![("SCENEBOT_HEALTH_ADDR", format!("127.0.0.1:{port}"))];
    daily.boot().await;
    wait_health(port, 200).await;
    daily.clock.set(i64::MAX);
    let body = wait_health(port, 503).await;
    assert_eq!(body["jobs"]["down"], json!(["daily scheduler"]), "{body}");
    assert!(body["jobs"]["restarts"].as_u64() >= Some(1), "{body}");
    daily.clock.set(at("2027-05-01T12:00:00Z"));
    let body = wait_health(port, 200).await;
    assert_eq!(body["jobs"]["down"], json!([]), "{body}");
    daily.stop().await;
}
