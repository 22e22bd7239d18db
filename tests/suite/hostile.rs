//! One hostile server among others (issue 29.3): its members script commands that make the bot read channels it
//! cannot see, each read a 403, and Discord bans the bot's IP for every server after 10,000 such answers in 10
//! minutes. The budget (`bot::budget`) keeps that server's cost to its read quota while another server's commands
//! go on.

use std::time::{Duration, Instant};

use crate::support::fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeGuild, FakeOptions, FakeOverwrite, FakeUser,
};
use scenebot::bot::budget::SERVER_READS_PER_MINUTE;

use crate::support::harness::{title, Harness, MANAGER, T};

/// The hostile server's channels the bot is denied (distinct ids, so remembering one refusal is not enough).
const HIDDEN: u64 = 40;
const FIRST_HIDDEN: u64 = FakeDiscord::CHANNEL_ID + 500;
const OTHER_GUILD: u64 = FakeDiscord::GUILD_ID + 1_000;
const OTHER_CHANNEL: u64 = FakeDiscord::GUILD_ID + 1_002;
/// The first of the three scripting members.
const MEMBER: u64 = 1_170_000_000_000_000_300;

/// `/daily set channel:<hidden>` 30 times a second for `seconds` from three members, with another server's
/// `/scene` every third of a second. The 403s the bot met stay within one server's channel-read quota (20 a
/// minute and as many at once, each refused read stopping at its first call): far below Discord's 10,000 in 10
/// minutes, whatever the script. Every `/scene` of the other server is answered well within Discord's 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_server_cannot_spend_the_invalid_request_budget() {
    let seconds = 20;
    let mut options = FakeOptions::default();
    for n in 0..HIDDEN {
        let mut channel = FakeChannel::text(FIRST_HIDDEN + n, &format!("hidden-{n}"));
        channel.overwrites = vec![FakeOverwrite::deny_member(
            FakeDiscord::BOT_USER_ID,
            permissions::VIEW_CHANNEL,
        )];
        options.guilds[0].channels.push(channel);
    }
    options
        .guilds
        .push(FakeGuild::standard(OTHER_GUILD, OTHER_CHANNEL));
    for member in MEMBER..MEMBER + 3 {
        options
            .users
            .push(FakeUser::person(member, &format!("scripter{member}")));
    }
    let harness = Harness::start_with(options, Vec::new()).await;
    let members = [MEMBER, MEMBER + 1, MEMBER + 2];
    let mut hostile = Vec::new();
    let mut scenes = Vec::new();
    let started = Instant::now();
    for n in 0..(30 * seconds) {
        let interaction = harness
            .fake
            .slash("daily")
            .subcommand("set")
            .member_permissions(MANAGER)
            .user(members[n as usize % members.len()])
            .option_channel("channel", FIRST_HIDDEN + n % HIDDEN)
            .send()
            .await;
        hostile.push(interaction.id);
        if n % 10 == 0 {
            let scene = harness
                .fake
                .slash("scene")
                .in_guild(OTHER_GUILD, OTHER_CHANNEL)
                .option_str("drama", "hwarang")
                .send()
                .await;
            scenes.push((scene.id, Instant::now()));
        }
        let next = started + Duration::from_millis(33 * (n + 1));
        tokio::time::sleep_until(next.into()).await;
    }
    for id in &hostile {
        harness.fake.wait_callback(*id, T).await;
    }
    for (id, _) in &scenes {
        let card = harness.fake.wait_callback(*id, T).await;
        assert!(title(&card).contains("Hwarang"), "{card}");
    }
    let requests = harness.fake.requests();
    let mut latencies: Vec<Duration> = scenes
        .iter()
        .filter_map(|(id, sent)| {
            let route = format!("/interactions/{id}/");
            let answer = requests.iter().find(|r| r.path.contains(&route))?;
            Some(answer.arrived.duration_since(*sent))
        })
        .collect();
    assert_eq!(latencies.len(), scenes.len());
    let forbidden = harness
        .fake
        .requests()
        .iter()
        .filter(|r| matches!(r.status, 401 | 403 | 429))
        .count();
    latencies.sort();
    let p99 = latencies[latencies.len() * 99 / 100];
    eprintln!(
        "hostile server: {} commands in {seconds} s, invalid requests {forbidden}; the other server's /scene: {} \
         answered, p50 {:?}, p99 {p99:?}",
        hostile.len(),
        scenes.len(),
        latencies[latencies.len() / 2]
    );
    assert!(
        p99 < Duration::from_secs(1),
        "the other server waited {p99:?}"
    );
    assert!(
        forbidden <= 2 * SERVER_READS_PER_MINUTE as usize,
        "{forbidden} invalid requests from one server in {seconds} s"
    );
}
