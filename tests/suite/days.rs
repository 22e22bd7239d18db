//! Issue 28 end to end, on the in-process daily harness ([`crate::daily`]'s `Daily`, a clock the test moves):
//! "on this day" posts in the server's own local date, the birthday post, a thread on a daily post (once, through
//! a crash between the post and the thread), a server without Create Public Threads, and `/anniversaries` in a
//! server and in a DM.

use std::time::Duration;

use serde_json::Value;

use crate::daily::{at, wait_status, Daily};
use crate::support::fake_discord::{permissions, FakeDiscord, FakeOptions, FakeOverwrite};
use crate::support::harness::{MANAGER, T};

const GUILD: u64 = FakeDiscord::GUILD_ID;
const CHANNEL: u64 = FakeDiscord::CHANNEL_ID;

/// The special daily posts (anniversary and birthday cards) in the channel, oldest first.
fn special_posts(daily: &Daily) -> Vec<Value> {
    daily
        .fake
        .channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m["content"]
                .as_str()
                .is_some_and(|c| c.contains("On this day"))
        })
        .collect()
}

/// Every daily post in the channel (a scene or a special card).
fn day_posts(daily: &Daily) -> Vec<Value> {
    daily
        .fake
        .channel_messages(CHANNEL)
        .into_iter()
        .filter(|m| {
            m["content"].as_str().is_some_and(|c| {
                c.contains("On this day") || c.contains("Today's Park Seo-joon scene")
            })
        })
        .collect()
}

/// `/daily set` in the test channel at `time` (`None`: the default 09:00) in `zone`, threads on or off; the reply.
async fn set(daily: &Daily, zone: &str, time: Option<&str>, thread: bool) -> String {
    let channel = CHANNEL.to_string();
    let mut options = vec![("channel", channel.as_str()), ("timezone", zone)];
    if let Some(time) = time {
        options.push(("time", time));
    }
    if thread {
        options.push(("thread", "true"));
    }
    daily.command("set", &options, MANAGER).await
}

async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn description(post: &Value) -> String {
    post["embeds"][0]["description"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// A server in Seoul posting at 08:00 gets the card of its own date: 23:00 UTC on 17 February 2028 is 18
/// February in Seoul, the day episode 13 of Kill Me, Heal Me aired (2015), so the post is that anniversary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_anniversary_is_the_post_of_the_servers_own_date() {
    let mut daily = Daily::start(at("2028-02-17T12:00:00Z")).await;
    let reply = set(&daily, "Asia/Seoul", Some("08:00"), false).await;
    assert!(reply.contains("Daily scene on"), "{reply}");
    daily.clock.set(at("2028-02-17T23:00:00Z"));
    wait_for("the anniversary post", || !special_posts(&daily).is_empty()).await;
    let posts = day_posts(&daily);
    assert_eq!(posts.len(), 1, "one post that day");
    let text = description(&posts[0]);
    assert!(
        text.contains(
            "13 years ago today, episode 13 of *Kill Me, Heal Me* aired this kiss on MBC"
        ),
        "{text}"
    );
    let custom_id = posts[0]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default();
    assert_eq!(custom_id, "scene:day:daily-2028-02-18:kill-me-heal-me");
    // The next day is ordinary: the bag's first scene, a scene post.
    daily.clock.set(at("2028-02-18T23:00:00Z"));
    wait_for("the next day's post", || day_posts(&daily).len() == 2).await;
    assert_eq!(special_posts(&daily).len(), 1);
    daily.stop().await;
}

/// A server in Los Angeles posting at 09:00 on 16 December (17:00 UTC, already the 17th in Seoul) gets the
/// birthday card, his age counted from its own date.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_birthday_post_comes_on_16_december_in_the_servers_zone() {
    let mut daily = Daily::start(at("2027-12-15T20:00:00Z")).await;
    set(&daily, "America/Los_Angeles", None, false).await;
    daily.clock.set(at("2027-12-16T17:00:00Z"));
    wait_for("the birthday post", || !special_posts(&daily).is_empty()).await;
    let post = &special_posts(&daily)[0];
    assert_eq!(
        post["embeds"][0]["title"].as_str(),
        Some("🎂 Happy birthday, Park Seo-joon!")
    );
    let text = description(post);
    assert!(text.contains("Park Seo-joon turns 39 today"), "{text}");
    assert_eq!(day_posts(&daily).len(), 1);
    daily.stop().await;
}

/// `/daily set thread:true`: the day's post gets one public thread, named after it, archived after a day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thread_opens_on_the_daily_post() {
    let mut daily = Daily::start(at("2027-12-18T12:00:00Z")).await;
    let reply = set(&daily, "UTC", None, true).await;
    assert!(reply.contains("thread"), "{reply}");
    // 19 December: Hwarang premiered (2016).
    daily.clock.set(at("2027-12-19T09:00:00Z"));
    wait_for("the thread", || !daily.fake.threads().is_empty()).await;
    let post = &special_posts(&daily)[0];
    let post_id = post["id"].as_str().and_then(|id| id.parse::<u64>().ok());
    let threads = daily.fake.threads();
    assert_eq!(threads.len(), 1);
    let (message, name, archive) = &threads[0];
    assert_eq!(Some(*message), post_id, "on the post");
    assert_eq!(
        name,
        "11 years ago today, Hwarang: The Poet Warrior Youth premiered on KBS2"
    );
    assert_eq!(*archive, 1_440, "archived after a day");
    // The thread call's body is checked against Discord's OpenAPI description (with SCENEBOT_OPENAPI_SPEC).
    daily.fake.assert_no_violations();
    let status = wait_status(&daily, "Last post").await;
    assert!(status.contains("Each post gets a thread"), "{status}");
    daily.stop().await;
}

/// Without Create Public Threads the post still goes out, no thread call is made (no 403 spent), and
/// `/daily status` says what to grant.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_create_public_threads_the_post_goes_out_without_a_thread() {
    let mut daily = Daily::start(at("2027-05-01T12:00:00Z")).await;
    daily.fake.set_channel_overwrites(
        CHANNEL,
        vec![FakeOverwrite::deny_member(
            FakeDiscord::BOT_USER_ID,
            permissions::CREATE_PUBLIC_THREADS,
        )],
    );
    set(&daily, "UTC", None, true).await;
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    let status = wait_status(&daily, "Create Public Threads").await;
    assert!(status.contains("Last post"), "{status}");
    assert_eq!(day_posts(&daily).len(), 1, "the post went out");
    assert!(daily.fake.threads().is_empty());
    let tried = daily
        .fake
        .requests()
        .iter()
        .any(|r| r.method == "POST" && r.route().ends_with("/threads"));
    assert!(
        !tried,
        "no thread call without the permission: no 403 spent"
    );
    daily.stop().await;
}

/// A crash after Discord made the thread but before the bot heard so (its answer held back), past Discord's
/// nonce window: the restarted bot finds the post recorded on its claim, asks for the thread again, reads
/// Discord's 160004 ("already created") as done, and records the day. One post, one thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crash_between_the_post_and_its_thread_gives_one_post_and_one_thread() {
    let options = FakeOptions {
        nonce_window: Duration::ZERO,
        ..FakeOptions::default()
    };
    let mut daily = Daily::start_with(at("2027-05-01T12:00:00Z"), options).await;
    set(&daily, "UTC", None, true).await;
    daily.stop().await;
    daily.settings = vec![("SCENEBOT_HTTP_TIMEOUT_SECONDS", "300".to_owned())];
    daily.boot().await;
    // Only the thread call matches: a POST under one of the channel's messages.
    daily.fake.hold_answer_next(
        "POST",
        &format!("/channels/{CHANNEL}/messages/"),
        Duration::from_secs(120),
    );
    daily.clock.set(at("2027-05-02T09:00:00Z"));
    wait_for("the thread", || !daily.fake.threads().is_empty()).await;
    daily.crash().await;
    daily.settings.clear();
    daily.boot().await;
    let taken_over = at("2027-05-02T09:03:00Z");
    daily.clock.set(taken_over);
    wait_status(&daily, &format!("Last post: <t:{taken_over}:F>")).await;
    assert_eq!(day_posts(&daily).len(), 1, "posted once");
    assert_eq!(daily.fake.threads().len(), 1, "one thread");
    let thread_calls = daily
        .fake
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.route().ends_with("/threads"))
        .count();
    assert_eq!(
        thread_calls, 2,
        "asked again after the crash, answered 160004"
    );
    let searched = daily
        .fake
        .requests()
        .iter()
        .any(|r| r.method == "GET" && r.route() == format!("/channels/{CHANNEL}/messages"));
    assert!(
        !searched,
        "the post was recorded on the claim: no search needed"
    );
    daily.stop().await;
}

/// `/anniversaries` in a server with a daily schedule counts in its zone and says so; in a DM, in UTC.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn anniversaries_in_a_server_and_in_a_dm() {
    let mut daily = Daily::start(at("2027-12-10T12:00:00Z")).await;
    set(&daily, "Asia/Seoul", None, false).await;
    let in_guild = daily
        .fake
        .slash("anniversaries")
        .in_guild(GUILD, CHANNEL)
        .send()
        .await;
    let card = answer_embed(&daily, in_guild.id, &in_guild.token).await;
    let text = card["description"].as_str().unwrap_or_default();
    // 16 December 2027, 09:00 in Seoul: 00:00 UTC.
    let birthday = at("2027-12-16T00:00:00Z");
    let first = text.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        format!("<t:{birthday}:D> (<t:{birthday}:R>) · Park Seo-joon turns 39")
    );
    assert_eq!(text.lines().count(), 8, "{text}");
    let footer = card["footer"]["text"].as_str().unwrap_or_default();
    assert!(footer.contains("Asia/Seoul"), "{footer}");
    let dm = daily
        .fake
        .slash("anniversaries")
        .in_dm()
        .locale("ko")
        .send()
        .await;
    let card = answer_embed(&daily, dm.id, &dm.token).await;
    let text = card["description"].as_str().unwrap_or_default();
    let noon = at("2027-12-16T12:00:00Z");
    assert!(
        text.starts_with(&format!(
            "<t:{noon}:D> (<t:{noon}:R>) · 박서준 배우의 39번째 생일"
        )),
        "{text}"
    );
    let footer = card["footer"]["text"].as_str().unwrap_or_default();
    assert!(footer.starts_with("UTC 기준"), "{footer}");
    daily.stop().await;
}

/// The first embed of an interaction's answer (its reply, or the follow-up after a deferral).
async fn answer_embed(daily: &Daily, interaction: u64, token: &str) -> Value {
    let callback = daily.fake.wait_callback(interaction, T).await;
    if callback["type"] == 5 {
        let followup = daily.fake.wait_followup(token, T).await;
        return followup.body["embeds"][0].clone();
    }
    callback["data"]["embeds"][0].clone()
}
