//! The fake's messages and polls proven with a serenity client: nonces, edits, votes, expiry, POLL_RESULT.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::time::Duration;

use serde_json::json;
use serenity::all::{
    ChannelId, CreateMessage, CreatePoll, CreatePollAnswer, EditMessage, GatewayIntents,
    GetMessages, GuildId, MessageId, Nonce,
};
use serenity::http::HttpError;

use crate::support::fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeOverwrite, ViolationSource,
};

use super::{fake, http_for, start_bot_with, status_and_code, Seen, C, G, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_nonces_and_polls_behave_like_discord() {
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    let channel = ChannelId::new(C);

    // nonce + enforce_nonce: the second send returns the first message.
    let once = || {
        CreateMessage::new()
            .content("daily scene")
            .nonce(Nonce::String("daily-2025-01-01".into()))
            .enforce_nonce(true)
    };
    let first = channel
        .send_message(&http, once())
        .await
        .expect("first send");
    let second = channel
        .send_message(&http, once())
        .await
        .expect("second send");
    assert_eq!(first.id, second.id);
    assert_eq!(fake.channel_messages(C).len(), 1);

    // Edit, list (serenity sends `?&limit=10`), delete.
    let edited = channel
        .edit_message(
            &http,
            first.id,
            EditMessage::new().content("daily scene (edited)"),
        )
        .await
        .expect("edit");
    assert!(edited.edited_timestamp.is_some());
    let extra = channel
        .send_message(&http, CreateMessage::new().content("to delete"))
        .await
        .expect("send");
    let listed = channel
        .messages(&http, GetMessages::new().limit(10))
        .await
        .expect("list");
    assert_eq!(
        listed.iter().map(|m| m.id).collect::<Vec<_>>(),
        vec![extra.id, first.id],
        "newest first"
    );
    let list_request = fake
        .wait_for_request(
            |r| r.method == "GET" && r.route().ends_with("/messages"),
            WAIT,
        )
        .await;
    assert_eq!(list_request.query_param("limit").as_deref(), Some("10"));
    channel
        .delete_message(&http, extra.id)
        .await
        .expect("delete");
    assert_eq!(fake.channel_messages(C).len(), 1);

    // A poll: answers get ids 1..n, votes count, the bot can end it.
    let poll = CreatePoll::new()
        .question("Best kiss scene?")
        .answers(vec![
            CreatePollAnswer::new().text("Hwarang"),
            CreatePollAnswer::new().text("Fight for My Way"),
            CreatePollAnswer::new().text("What's Wrong with Secretary Kim"),
        ])
        .duration(Duration::from_secs(24 * 3600));
    let message = channel
        .send_message(&http, CreateMessage::new().poll(poll))
        .await
        .expect("poll sent");
    let sent_poll = message.poll.as_ref().expect("the poll");
    let ids: Vec<u64> = sent_poll
        .answers
        .iter()
        .map(|a| a.answer_id.get())
        .collect();
    assert_eq!(ids, vec![1, 2, 3]);

    fake.cast_vote(C, message.id.get(), FakeDiscord::USER_ID, 2);
    fake.cast_vote(C, message.id.get(), 1_170_000_000_000_000_002, 2);
    fake.cast_vote(C, message.id.get(), 1_170_000_000_000_000_003, 1);
    let fetched = channel.message(&http, message.id).await.expect("fetch");
    let results = fetched
        .poll
        .as_ref()
        .and_then(|p| p.results.as_ref())
        .expect("results");
    assert!(!results.is_finalized);
    let counts: Vec<(u64, u64)> = results
        .answer_counts
        .iter()
        .map(|c| (c.id.get(), c.count))
        .collect();
    assert_eq!(
        counts,
        vec![(1, 1), (2, 2)],
        "answers without votes are left out, as on Discord"
    );

    let voters = http
        .get_poll_answer_voters(
            channel,
            message.id,
            sent_poll.answers[1].answer_id,
            None,
            None,
        )
        .await
        .expect("voters");
    assert_eq!(voters.len(), 2);

    let ended = http.expire_poll(channel, message.id).await.expect("expire");
    let results = ended
        .poll
        .as_ref()
        .and_then(|p| p.results.as_ref())
        .expect("final results");
    assert!(results.is_finalized);
    let all = fake.channel_messages(C);
    let result_message = all.last().expect("the POLL_RESULT message");
    assert_eq!(result_message["type"], json!(46));
    assert_eq!(
        result_message["embeds"][0]["fields"][3]["value"],
        json!("2"),
        "answer 2 won"
    );

    let again = http
        .expire_poll(channel, message.id)
        .await
        .expect_err("already ended");
    assert_eq!(status_and_code(&again), (400, 520_001));
    let not_a_poll = http
        .expire_poll(channel, first.id)
        .await
        .expect_err("not a poll");
    assert_eq!(status_and_code(&not_a_poll), (400, 520_006));

    // Discord's 55-character answer limit, which the OpenAPI description does not state.
    let long = CreatePoll::new()
        .question("Too long?")
        .answers(vec![
            CreatePollAnswer::new().text("x".repeat(56)),
            CreatePollAnswer::new().text("y"),
        ])
        .duration(Duration::from_secs(3600));
    let refused = channel
        .send_message(&http, CreateMessage::new().poll(long))
        .await
        .expect_err("56 characters");
    match &refused {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            assert_eq!(response.error.code, 50035);
            assert_eq!(
                response.error.errors[0].path,
                "poll.answers.0.poll_media.text"
            );
        }
        other => panic!("{other:?}"),
    }
    let violations = fake.violations();
    assert_eq!(violations.len(), 1);
    assert_eq!(violations[0].source, ViolationSource::DiscordRule);

    // Unknown channel and message; a channel the bot may not send to.
    let unknown = ChannelId::new(42)
        .send_message(&http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(
        status_and_code(&unknown.expect_err("unknown channel")),
        (404, 10003)
    );
    let missing = channel.message(&http, MessageId::new(42)).await;
    assert_eq!(
        status_and_code(&missing.expect_err("unknown message")),
        (404, 10008)
    );
    fake.set_channel_overwrites(
        C,
        vec![FakeOverwrite::deny_member(
            FakeDiscord::BOT_USER_ID,
            permissions::SEND_MESSAGES,
        )],
    );
    let denied = channel
        .send_message(&http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(
        status_and_code(&denied.expect_err("no SEND_MESSAGES")),
        (403, 50013)
    );

    // REST shapes serenity must parse: guild, channels, roles, member, application, gateway.
    let guild = http.get_guild(GuildId::new(G)).await.expect("guild");
    assert_eq!(guild.roles.len(), 2);
    assert_eq!(
        http.get_channels(GuildId::new(G))
            .await
            .expect("channels")
            .len(),
        1
    );
    assert_eq!(
        http.get_guild_roles(GuildId::new(G))
            .await
            .expect("roles")
            .len(),
        2
    );
    let member = http
        .get_member(GuildId::new(G), FakeDiscord::BOT_USER_ID.into())
        .await
        .expect("member");
    assert_eq!(member.roles.len(), 1);
    let app = http
        .get_current_application_info()
        .await
        .expect("application");
    assert_eq!(app.id.get(), FakeDiscord::APPLICATION_ID);
    let me = http.get_current_user().await.expect("current user");
    assert!(me.bot);
    let gateway = http.get_bot_gateway().await.expect("gateway/bot");
    assert_eq!(gateway.shards, 1);
    assert_eq!(gateway.url, fake.gateway_url());
    // The bot's own channel update is visible as a plain GET too.
    let fetched_channel = http.get_channel(channel).await.expect("channel");
    assert!(fetched_channel
        .guild()
        .is_some_and(|c| c.permission_overwrites.len() == 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_fakes_hooks_dispatch_events_serenity_understands() {
    let fake = fake().await;
    let intents = GatewayIntents::GUILDS
        | GatewayIntents::GUILD_MESSAGES
        | GatewayIntents::GUILD_MESSAGE_POLLS;
    let mut bot = start_bot_with(&fake, intents).await;
    let voter = 1_170_000_000_000_000_002;

    // Someone else's message: without MESSAGE_CONTENT its content is empty.
    let theirs = fake.add_user_message(C, FakeDiscord::USER_ID, "hello bot");
    let seen = bot
        .expect(|s| matches!(s, Seen::Message { id, .. } if *id == theirs))
        .await;
    assert!(
        matches!(seen, Seen::Message { ref content, .. } if content.is_empty()),
        "{seen:?}"
    );

    // The bot's own poll comes back as MESSAGE_CREATE with the poll in it.
    let poll = CreatePoll::new()
        .question("Best scene?")
        .answers(vec![
            CreatePollAnswer::new().text("Hwarang"),
            CreatePollAnswer::new().text("Itaewon"),
        ])
        .duration(Duration::from_secs(3600));
    let sent = ChannelId::new(C)
        .send_message(&bot.http, CreateMessage::new().poll(poll))
        .await
        .expect("poll");
    let poll_id = sent.id.get();
    bot.expect(|s| matches!(s, Seen::Message { id, has_poll: true, .. } if *id == poll_id))
        .await;

    // Votes: a changed vote without multiselect is a REMOVE then an ADD.
    fake.cast_vote(C, poll_id, voter, 1);
    bot.expect(|s| matches!(s, Seen::VoteAdd { user, answer: 1 } if *user == voter))
        .await;
    fake.cast_vote(C, poll_id, voter, 2);
    bot.expect(|s| matches!(s, Seen::VoteRemove { user, answer: 1 } if *user == voter))
        .await;
    bot.expect(|s| matches!(s, Seen::VoteAdd { answer: 2, .. }))
        .await;
    fake.remove_vote(C, poll_id, voter, 2);
    bot.expect(|s| matches!(s, Seen::VoteRemove { answer: 2, .. }))
        .await;
    fake.cast_vote(C, poll_id, voter, 1);

    // The poll ends by itself: MESSAGE_UPDATE, then the POLL_RESULT message (type 46).
    fake.end_poll(C, poll_id);
    bot.expect(|s| matches!(s, Seen::MessageUpdate { id } if *id == poll_id))
        .await;
    bot.expect(|s| matches!(s, Seen::Message { kind: 46, .. }))
        .await;
    let result = fake
        .wait_channel_message(C, |m| m["type"] == json!(46), WAIT)
        .await;
    assert_eq!(
        result["message_reference"]["message_id"],
        json!(poll_id.to_string())
    );
    let fetched = ChannelId::new(C)
        .message(&bot.http, MessageId::new(poll_id))
        .await
        .expect("poll");
    assert!(fetched
        .poll
        .and_then(|p| p.results)
        .is_some_and(|r| r.is_finalized));

    fake.delete_message(C, theirs);
    bot.expect(|s| matches!(s, Seen::MessageDelete { id } if *id == theirs))
        .await;

    let extra = 1_190_000_000_000_000_099;
    fake.add_channel(G, FakeChannel::text(extra, "daily-scenes"));
    bot.expect(|s| matches!(s, Seen::ChannelCreate { id } if *id == extra))
        .await;
    fake.delete_channel(extra);
    bot.expect(|s| matches!(s, Seen::ChannelDelete { id } if *id == extra))
        .await;
    let gone = ChannelId::new(extra)
        .send_message(&bot.http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(status_and_code(&gone.expect_err("deleted")), (404, 10003));

    // Role permissions: the bot role alone no longer grants SEND_MESSAGES, @everyone still
    // does; once @everyone loses it too, sending is refused.
    let view = permissions::VIEW_CHANNEL;
    fake.set_role_permissions(G, G + 1, view);
    bot.expect(|s| matches!(s, Seen::RoleUpdate { id, permissions } if *id == G + 1 && *permissions == view))
        .await;
    ChannelId::new(C)
        .send_message(&bot.http, CreateMessage::new().content("still allowed"))
        .await
        .expect("@everyone may send");
    fake.set_role_permissions(G, G, view);
    bot.expect(|s| matches!(s, Seen::RoleUpdate { id, .. } if *id == G))
        .await;
    let denied = ChannelId::new(C)
        .send_message(&bot.http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(
        status_and_code(&denied.expect_err("no SEND_MESSAGES")),
        (403, 50013)
    );

    let seq = fake.dispatch(
        "CHANNEL_PINS_UPDATE",
        json!({"guild_id": G.to_string(), "channel_id": C.to_string(), "last_pin_timestamp": null}),
    );
    assert_eq!(seq, fake.last_seq());
    bot.expect(|s| matches!(s, Seen::PinsUpdate { channel } if *channel == C))
        .await;

    fake.guild_outage(G);
    bot.expect(|s| matches!(s, Seen::GuildDelete { id, unavailable: true } if *id == G))
        .await;
    fake.guild_available(G);
    bot.expect(|s| matches!(s, Seen::GuildCreate { id, .. } if *id == G))
        .await;
    fake.remove_guild(G);
    bot.expect(|s| matches!(s, Seen::GuildDelete { id, unavailable: false } if *id == G))
        .await;
    let after = bot.http.get_guild(GuildId::new(G)).await;
    let after = after.expect_err("no longer a member");
    assert_eq!(status_and_code(&after), (403, 50001));
    let send = ChannelId::new(C)
        .send_message(&bot.http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(status_and_code(&send.expect_err("no access")), (403, 50001));
    let unknown = bot.http.get_guild(GuildId::new(42)).await;
    assert_eq!(
        status_and_code(&unknown.expect_err("unknown")),
        (404, 10004)
    );

    // serenity's User-Agent.
    let request = fake.wait_for_request(|r| r.method == "POST", WAIT).await;
    assert_eq!(
        request.header("user-agent"),
        Some("DiscordBot (https://github.com/serenity-rs/serenity, 0.12.5)")
    );
    fake.assert_no_violations();
    bot.stop().await;
}
