//! The fake's gateway proven with a serenity client: READY, resume, reconnect, bad tokens, invalid sessions.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::time::{Duration, Instant};

use serde_json::json;

use serenity::gateway::GatewayError;
use serenity::http::HttpError;

use crate::support::fake_discord::{permissions, FakeDiscord, FakeOverwrite, GatewayLog};

use super::{client, fake, http_for, start_bot, Seen, C, G, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serenity_connects_and_gets_ready_and_guild_create() {
    let fake = fake().await;
    let (mut client, mut seen) = client(&fake, &fake.token()).await;
    let run = tokio::spawn(async move { client.start().await });

    let mut bot_events = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while bot_events.len() < 2 {
        match tokio::time::timeout_at(deadline, seen.recv()).await {
            Ok(Some(event)) => bot_events.push(event),
            other => panic!("no READY and GUILD_CREATE: {other:?} after {bot_events:?}"),
        }
    }
    match &bot_events[0] {
        Seen::Ready {
            session_id,
            guilds,
            application_id,
        } => {
            assert_eq!(Some(session_id.clone()), fake.session_id());
            assert_eq!(*guilds, 1);
            assert_eq!(*application_id, FakeDiscord::APPLICATION_ID);
        }
        other => panic!("READY first, got {other:?}"),
    }
    match &bot_events[1] {
        Seen::GuildCreate {
            id,
            channels,
            members,
            bot_roles,
        } => {
            assert_eq!((*id, *channels, *members, *bot_roles), (G, 1, 2, 1));
        }
        other => panic!("GUILD_CREATE second, got {other:?}"),
    }

    // serenity asked GET /gateway with the bot token, and identified with the GUILDS intent.
    let gateway = fake
        .wait_for_request(|r| r.route() == "/gateway", WAIT)
        .await;
    assert!(gateway.authorized, "{gateway}");
    let identify = fake.last_identify().expect("an IDENTIFY");
    assert_eq!(identify["intents"], json!(1));
    assert_eq!(
        identify["compress"],
        json!(true),
        "serenity asks for payload compression"
    );
    assert_eq!(identify["shard"], json!([0, 1]));
    assert_eq!(identify["token"], json!("<redacted>"));

    // Heartbeats come at the HELLO interval carrying the last sequence number.
    let started = Instant::now();
    let beat = fake
        .wait_gateway(|e| matches!(e, GatewayLog::Heartbeat { .. }), WAIT)
        .await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "first heartbeat after {:?}",
        started.elapsed()
    );
    assert_eq!(
        beat,
        GatewayLog::Heartbeat {
            conn: 1,
            seq: Some(2)
        }
    );

    fake.assert_no_violations();
    run.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_dropped_socket_serenity_resumes_and_gets_what_it_missed() {
    let fake = fake().await;
    let mut bot = start_bot(&fake).await;
    fake.wait_connected(WAIT).await;
    let seq_before = fake.last_seq();

    fake.drop_socket();
    // Sent while the bot is away: kept for replay.
    fake.set_channel_overwrites(
        C,
        vec![FakeOverwrite::deny_role(G, permissions::SEND_POLLS)],
    );
    let ix = fake
        .slash("scene")
        .option_str("drama", "hwarang")
        .send()
        .await;

    fake.wait_resume(1, WAIT).await;
    bot.expect(|s| matches!(s, Seen::ChannelUpdate { id, overwrites: 1 } if *id == C))
        .await;
    bot.answered(ix.id)
        .await
        .expect("the replayed interaction is answered");
    assert_eq!(fake.wait_callback(ix.id, WAIT).await["type"], json!(4));
    bot.expect(|s| matches!(s, Seen::Resumed)).await;

    let resumed = fake
        .wait_gateway(|e| matches!(e, GatewayLog::Resumed { .. }), WAIT)
        .await;
    match resumed {
        GatewayLog::Resumed { seq, replayed, .. } => {
            assert_eq!(
                seq, seq_before,
                "serenity resumed from the last sequence it saw"
            );
            assert_eq!(replayed, 2);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(fake.identify_count(), 1, "a resume, not a new IDENTIFY");
    fake.assert_no_violations();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_reconnect_serenity_resumes() {
    let fake = fake().await;
    let mut bot = start_bot(&fake).await;
    fake.wait_connected(WAIT).await;

    fake.send_reconnect();
    fake.wait_resume(1, WAIT).await;
    fake.wait_connected(WAIT).await;
    let ix = fake
        .slash("scene")
        .option_str("drama", "hwarang")
        .send()
        .await;
    bot.answered(ix.id)
        .await
        .expect("answered on the resumed connection");
    assert_eq!(fake.identify_count(), 1);

    // Closing with an ordinary code (4000) resumes too.
    fake.close_with(4000);
    fake.wait_resume(2, WAIT).await;
    assert_eq!(fake.identify_count(), 1);
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_token_gets_4004_and_serenity_stops() {
    let fake = fake().await;
    let wrong = "MTIzNDU2Nzg5MDEyMzQ1Njc4.wrong.token-not-accepted-by-the-fake";

    // REST says 401 with Discord's body.
    let http = http_for(&fake, wrong);
    let error = http.get_current_user().await.expect_err("401");
    match &error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            assert_eq!(response.status_code.as_u16(), 401);
            assert_eq!(response.error.message, "401: Unauthorized");
        }
        other => panic!("{other:?}"),
    }

    // The gateway closes with 4004 and Client::start returns the error: no retry.
    let (mut client, _seen) = client(&fake, wrong).await;
    let started = Instant::now();
    let outcome = tokio::time::timeout(WAIT, client.start())
        .await
        .expect("start returns");
    match outcome {
        Err(serenity::Error::Gateway(GatewayError::InvalidAuthentication)) => {}
        other => panic!("expected InvalidAuthentication, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?}",
        started.elapsed()
    );
    let log = fake.gateway_log();
    assert!(
        log.contains(&GatewayLog::ServerClosed {
            conn: 1,
            code: 4004
        }),
        "{log:?}"
    );
    assert_eq!(
        log.iter()
            .filter(|e| matches!(e, GatewayLog::Connected { .. }))
            .count(),
        1,
        "{log:?}"
    );
    assert_eq!(fake.identify_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_session_makes_serenity_identify_again() {
    let fake = fake().await;
    let mut bot = start_bot(&fake).await;
    fake.wait_connected(WAIT).await;

    let started = Instant::now();
    fake.send_invalid_session(false);
    fake.wait_identify(2, Duration::from_secs(20)).await;
    // READY (and GUILD_CREATE) come again: work started on READY would start twice.
    bot.expect(|s| matches!(s, Seen::Ready { .. })).await;
    bot.expect(|s| matches!(s, Seen::GuildCreate { .. })).await;
    println!(
        "re-identify after INVALID_SESSION took {:?}",
        started.elapsed()
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_heartbeat_acks_serenity_reconnects_with_a_new_identify() {
    let fake = fake().await;
    let bot = start_bot(&fake).await;
    fake.wait_connected(WAIT).await;

    let started = Instant::now();
    fake.stop_heartbeat_acks(true);
    fake.wait_gateway(
        |e| matches!(e, GatewayLog::Disconnected { conn: 1 }),
        Duration::from_secs(20),
    )
    .await;
    let gone_after = started.elapsed();
    fake.stop_heartbeat_acks(false);
    fake.wait_identify(2, Duration::from_secs(20)).await;
    println!(
        "without ACKs: connection dropped after {gone_after:?}, new IDENTIFY after {:?}",
        started.elapsed()
    );
    assert_eq!(
        fake.resume_count(),
        0,
        "serenity 0.12.5 re-identifies after a missed ACK"
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_stops_when_shut_down() {
    let fake = fake().await;
    let bot = start_bot(&fake).await;
    let addr = fake.api_url().trim_start_matches("http://").to_owned();
    fake.shutdown(WAIT).await;
    let refused = tokio::net::TcpStream::connect(&addr).await;
    assert!(refused.is_err(), "the port is closed after shutdown");
    bot.run.abort();
}
