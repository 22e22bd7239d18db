//! The real bot (its release-shaped binary, the real serenity client, real sockets) against the fake Discord:
//! registration, every command, autocomplete, buttons and menus, Korean, DMs and user installs, start-up failures,
//! reconnects, replays and shutdown. Every body the bot sends is validated against Discord's OpenAPI description.
//!
//! Over 600 lines because it is the catalogue of every command's end-to-end case, one short test each; the
//! shared harness lives in `support::harness`.

use std::time::Duration;

use serde_json::{json, Value};

use crate::support::bot::{BotOptions, BotProcess};
use crate::support::fake_discord::{FakeDiscord, FakeOptions};
use crate::support::harness::{title, Harness, MODERATOR, T};
use crate::support::TempFile;

fn assert_mentions_nobody(callback: &Value) {
    assert_eq!(
        callback["data"]["allowed_mentions"]["parse"],
        json!([]),
        "{callback:#}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn registration_declares_every_command_with_korean_descriptions() {
    let harness = Harness::start().await;
    let registered = harness.fake.registered_commands(None);
    let names: Vec<&str> = registered
        .iter()
        .filter_map(|c| c["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "scene",
            "scenes",
            "seealso",
            "about",
            "anniversaries",
            "favorite",
            "daily",
            "language",
            "quiz"
        ]
    );
    for command in &registered {
        let name = command["name"].as_str().unwrap_or_default();
        assert!(
            command["description_localizations"]["ko"].is_string(),
            "{name}: no Korean description"
        );
        assert!(
            command["name_localizations"].is_null() || command["name_localizations"] == json!({}),
            "{name}: names stay English"
        );
        match name {
            "favorite" | "daily" | "language" => {
                let permission = if name == "favorite" { "8192" } else { "32" };
                assert_eq!(command["default_member_permissions"], permission, "{name}");
                assert_eq!(command["contexts"], json!([0]), "{name}: servers only");
                // Discord fills a missing `integration_types` from the app's install settings (user installs
                // included): the bot must send it.
                let sent = harness
                    .fake
                    .requests()
                    .into_iter()
                    .find(|r| r.method == "PUT" && r.route().ends_with("/commands"))
                    .and_then(|r| {
                        r.body
                            .as_array()
                            .and_then(|c| c.iter().find(|c| c["name"] == name).cloned())
                    })
                    .unwrap_or_default();
                assert_eq!(
                    sent["integration_types"],
                    json!([0]),
                    "{name}: installed on servers only, never as a user app"
                );
                assert_eq!(sent["contexts"], json!([0]), "{name}: sent as servers only");
            }
            _ => {
                assert!(command["default_member_permissions"].is_null(), "{name}");
                assert_eq!(
                    command["integration_types"],
                    json!([0, 1]),
                    "{name}: guild and user installs"
                );
                assert_eq!(
                    command["contexts"],
                    json!([0, 1, 2]),
                    "{name}: guild, bot DM, private channel"
                );
            }
        }
    }
    // `/quiz`: its subcommands, each described in Korean too, `questions` bounded to 1..=10.
    let quiz = registered
        .iter()
        .find(|c| c["name"] == "quiz")
        .cloned()
        .unwrap_or_default();
    let subcommands: Vec<&str> = quiz["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| o["name"].as_str())
        .collect();
    assert_eq!(subcommands, ["start", "stop", "leaderboard"]);
    for sub in quiz["options"].as_array().into_iter().flatten() {
        assert!(sub["description_localizations"]["ko"].is_string(), "{sub}");
    }
    let questions = &quiz["options"][0]["options"][0];
    assert_eq!(
        (
            questions["min_value"].as_f64(),
            questions["max_value"].as_f64()
        ),
        (Some(1.0), Some(10.0)),
        "{quiz}"
    );
    let scene = &registered[0];
    assert_eq!(scene["options"][0]["name"], "drama");
    assert_eq!(scene["options"][0]["autocomplete"], true);
    assert_eq!(scene["options"][0]["required"], false);
    assert!(scene["options"][0]["description_localizations"]["ko"].is_string());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn guild_registration_when_a_guild_is_configured() {
    let harness = Harness::start_with(
        FakeOptions::default(),
        vec![("DISCORD_GUILD_ID", FakeDiscord::GUILD_ID.to_string())],
    )
    .await;
    assert_eq!(
        harness
            .fake
            .registered_commands(Some(FakeDiscord::GUILD_ID))
            .len(),
        9
    );
    assert!(
        harness.fake.registered_commands(None).is_empty(),
        "nothing global"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_command_answers_with_the_right_card() {
    let harness = Harness::start().await;

    let random = harness.scene(None).await;
    assert_eq!(random["type"], 4);
    assert!(
        random["data"].get("flags").is_none() || random["data"]["flags"] == 0,
        "a card is public"
    );
    assert_mentions_nobody(&random);
    let buttons = &random["data"]["components"][0]["components"];
    assert!(buttons[0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .starts_with("scene:another:"));
    assert_eq!(buttons[2]["style"], 5);

    let hwarang = harness.scene(Some("hwarng")).await;
    assert!(title(&hwarang).contains("Hwarang"), "{}", title(&hwarang));
    let by_id = harness.scene(Some("kill-me-heal-me")).await;
    assert!(title(&by_id).contains("Kill Me, Heal Me"));

    let scenes = harness.fake.slash("scenes").send().await;
    let scenes = harness.fake.wait_callback(scenes.id, T).await;
    assert_eq!(
        scenes["data"]["components"][0]["components"][0]["type"], 3,
        "a select menu"
    );
    assert_eq!(
        scenes["data"]["components"][0]["components"][0]["options"]
            .as_array()
            .map(Vec::len),
        Some(6)
    );
    assert_mentions_nobody(&scenes);

    let see_also = harness.fake.slash("seealso").send().await;
    let see_also = harness.fake.wait_callback(see_also.id, T).await;
    assert!(
        title(&see_also).contains("Itaewon Class"),
        "{}",
        title(&see_also)
    );
    assert_eq!(
        see_also["data"]["components"][0]["components"][0]["style"],
        5
    );

    let about = harness.fake.slash("about").send().await;
    let about = harness.fake.wait_callback(about.id, T).await;
    let fields = about["data"]["embeds"][0]["fields"].to_string();
    assert!(fields.contains("6 scenes from 6 dramas"), "{fields}");
    assert!(fields.contains(env!("CARGO_PKG_VERSION")), "{fields}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nonsense_gets_private_suggestions_that_open_a_scene() {
    let harness = Harness::start().await;
    let reply = harness.scene(Some("pizza")).await;
    assert_eq!(reply["type"], 4);
    assert_eq!(reply["data"]["flags"], 64, "only the user sees it");
    let suggestions = reply["data"]["components"][0]["components"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(suggestions.len(), 3);
    let custom_id = suggestions[0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let click = harness.fake.button(&custom_id).send().await;
    let card = harness.fake.wait_callback(click.id, T).await;
    assert_eq!(
        card["type"], 7,
        "the suggestion replaces the reply with the card"
    );
    assert!(!title(&card).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autocomplete_ranks_the_right_drama_first() {
    let harness = Harness::start().await;
    for (partial, first, locale) in [
        ("hwarng", "hwarang", "en-US"),
        ("ㄱㅂㅅ", "secretary-kim", "ko"),
        ("", "secretary-kim", "en-US"),
    ] {
        let interaction = harness
            .fake
            .autocomplete("scene")
            .focused_str("drama", partial)
            .locale(locale)
            .send()
            .await;
        let reply = harness.fake.wait_callback(interaction.id, T).await;
        assert_eq!(reply["type"], 8);
        let choices = reply["data"]["choices"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            !choices.is_empty() && choices.len() <= 25,
            "{partial}: {choices:?}"
        );
        assert_eq!(choices[0]["value"], first, "{partial}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_scene_and_the_menu_work_from_stored_ids() {
    let harness = Harness::start().await;
    let mut card = harness.scene(Some("hwarang")).await;
    for _ in 0..5 {
        let on_screen = title(&card);
        let another_id = card["data"]["components"][0]["components"][0]["custom_id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(another_id.starts_with("scene:another:"));
        let click = harness.fake.button(&another_id).send().await;
        card = harness.fake.wait_callback(click.id, T).await;
        assert_eq!(card["type"], 7, "the card is updated in place");
        assert_ne!(
            title(&card),
            on_screen,
            "another scene is never the one on screen"
        );
    }
    let menu = harness.fake.slash("scenes").send().await;
    harness.fake.wait_callback(menu.id, T).await;
    let select = harness
        .fake
        .string_select("scenes:open", &["witchs-romance"])
        .send()
        .await;
    let opened = harness.fake.wait_callback(select.id, T).await;
    assert_eq!(opened["type"], 4);
    assert_eq!(opened["data"]["flags"], 64);
    assert!(title(&opened).contains("Witch's Romance"));
    // A button from a card of an older version: its custom_id means nothing to this one.
    let mut stale = harness
        .fake
        .button(
            card["data"]["components"][0]["components"][0]["custom_id"]
                .as_str()
                .unwrap_or_default(),
        )
        .payload();
    stale["data"]["custom_id"] = json!("poll:vote:old");
    let stale = harness.fake.send_interaction(stale);
    let stale = harness.fake.wait_callback(stale.id, T).await;
    assert_eq!(
        stale["data"]["flags"], 64,
        "an unknown button gets a polite private reply"
    );
}

/// Security item 1: what a click does is decided by the message clicked, not by the `custom_id` the client sends.
/// Another member's buttons (or a forged id) on someone's public card get the clicker a private card; the card
/// stays as its owner left it. An unknown scene id gets the stale-button notice, never a random card.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_click_on_someone_elses_card_answers_privately_and_leaves_the_card() {
    const OTHER: u64 = FakeDiscord::USER_ID + 5;
    let harness = Harness::start().await;
    let card = harness.scene(Some("hwarang")).await;
    assert!(card["data"]["flags"].is_null(), "a public card: {card:#}");
    let another_id = card["data"]["components"][0]["components"][0]["custom_id"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let message = harness
        .fake
        .channel_messages(FakeDiscord::CHANNEL_ID)
        .iter()
        .rev()
        .find(|m| m["embeds"][0]["title"] == card["data"]["embeds"][0]["title"])
        .and_then(|m| m["id"].as_str().and_then(|id| id.parse::<u64>().ok()))
        .unwrap_or_else(|| panic!("the /scene reply is in the channel"));
    let before = harness.fake.message(message).map(|m| m["embeds"].clone());
    for custom_id in [
        another_id.clone(),
        "scene:show:secretary-kim".to_owned(),
        "scene:another:no-such-scene".to_owned(),
    ] {
        let click = harness
            .fake
            .button(&another_id)
            .on_message(message)
            .user(OTHER)
            .payload();
        let mut forged = click;
        forged["data"]["custom_id"] = json!(custom_id);
        let click = harness.fake.send_interaction(forged);
        let answer = harness.fake.wait_callback(click.id, T).await;
        assert_eq!(
            answer["type"], 4,
            "{custom_id}: a new message, never an update of someone's card: {answer:#}"
        );
        assert_eq!(answer["data"]["flags"], 64, "{custom_id}: private");
        if custom_id.contains("no-such-scene") {
            assert!(
                answer["data"]["embeds"].is_null() || answer["data"]["embeds"] == json!([]),
                "{custom_id}: no random card: {answer:#}"
            );
        } else {
            assert!(!title(&answer).is_empty(), "{custom_id}: {answer:#}");
        }
    }
    assert_eq!(
        harness.fake.message(message).map(|m| m["embeds"].clone()),
        before,
        "the card is as its owner left it"
    );
    // Its owner still gets the card replaced in place.
    let own = harness
        .fake
        .button(&another_id)
        .on_message(message)
        .send()
        .await;
    assert_eq!(harness.fake.wait_callback(own.id, T).await["type"], 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn korean_users_get_korean_cards() {
    let harness = Harness::start().await;
    let interaction = harness
        .fake
        .slash("scene")
        .option_str("drama", "화랑")
        .locale("ko")
        .send()
        .await;
    let card = harness.fake.wait_callback(interaction.id, T).await;
    assert!(title(&card).contains("화랑"), "{}", title(&card));
    let buttons = card["data"]["components"][0]["components"].to_string();
    assert!(
        buttons.contains("다른 장면") && buttons.contains("관련 기사"),
        "{buttons}"
    );
    let about = harness.fake.slash("about").locale("ko").send().await;
    let about = harness.fake.wait_callback(about.id, T).await;
    assert!(title(&about).contains("소개"));
}

/// A Korean server that sets the daily scene without a time zone is told it got UTC, and how to get Korean time;
/// one that names a zone is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_korean_server_without_a_zone_is_offered_korean_time() {
    let mut options = FakeOptions::default();
    options.guilds[0].preferred_locale = "ko".to_owned();
    let harness = Harness::start_with(options, Vec::new()).await;
    let manage_server = crate::support::fake_discord::permissions::VIEW_CHANNEL
        | crate::support::fake_discord::permissions::SEND_MESSAGES
        | (1 << 5);
    let set = |timezone: Option<&str>| {
        let mut builder = harness
            .fake
            .slash("daily")
            .subcommand("set")
            .locale("ko")
            .member_permissions(manage_server)
            .in_guild(FakeDiscord::GUILD_ID, FakeDiscord::CHANNEL_ID)
            .option_channel("channel", FakeDiscord::CHANNEL_ID);
        if let Some(zone) = timezone {
            builder = builder.option_str("timezone", zone);
        }
        builder
    };
    let reply = |interaction: u64, token: String| {
        let fake = &harness.fake;
        async move {
            let callback = fake.wait_callback(interaction, T).await;
            assert_eq!(callback["type"], 5, "{callback}");
            let followup = fake.wait_followup(&token, T).await;
            followup.body["content"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        }
    };
    let without = set(None).send().await;
    let text = reply(without.id, without.token.clone()).await;
    assert!(
        text.starts_with("오늘의 장면을 켰어요. 매일 09:00(UTC)에"),
        "{text}"
    );
    assert!(
        text.contains("기본 시간대 UTC로 설정했어요(UTC 09:00 = 한국 시간 18:00)")
            && text.contains("`timezone:Asia/Seoul`"),
        "{text}"
    );
    let with = set(Some("Asia/Seoul")).send().await;
    let text = reply(with.id, with.token.clone()).await;
    assert!(text.contains("매일 09:00(Asia/Seoul)에"), "{text}");
    assert!(!text.contains("기본 시간대"), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scene_works_in_a_dm_and_as_a_user_installed_app() {
    let harness = Harness::start().await;
    let dm = harness.fake.slash("scene").in_dm().send().await;
    let dm = harness.fake.wait_callback(dm.id, T).await;
    assert_eq!(dm["type"], 4);
    assert!(!title(&dm).is_empty());
    let mut payload = harness
        .fake
        .slash("scene")
        .option_str("drama", "fight for my way")
        .payload();
    // A user-installed app used in a group DM: context 2, authorized by the user's install only.
    payload["context"] = json!(2);
    payload["authorizing_integration_owners"] = json!({"1": FakeDiscord::USER_ID.to_string()});
    payload.as_object_mut().map(|p| p.remove("guild_id"));
    let private = harness.fake.send_interaction(payload);
    let private = harness.fake.wait_callback(private.id, T).await;
    assert!(title(&private).contains("Fight for My Way"), "{private:#}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_token_is_one_line_and_exit_1() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut options = BotOptions::new(&fake.api_url(), "");
    options.token = None;
    let mut bot = BotProcess::start(options);
    let status = bot.wait_exit(T).await;
    assert_eq!(status.code(), Some(1));
    let logs = bot.logs();
    assert!(logs.contains("DISCORD_TOKEN is not set"), "{logs}");
    assert_eq!(
        logs.lines().filter(|l| !l.trim().is_empty()).count(),
        1,
        "one line:\n{logs}"
    );
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_dataset_stops_start_up_with_the_check_message() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut value: Value =
        serde_json::from_str(&crate::support::shipped_dataset()).unwrap_or_default();
    value["scenes"][2]["drama"]["year"] = json!(1899);
    let file = TempFile::new("scenes.json", &value.to_string());
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.env.push(("SCENEBOT_DATA", file.arg().to_owned()));
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(2));
    let check = crate::support::run(&["check", file.arg()]);
    let check_message = String::from_utf8_lossy(&check.stderr).trim().to_owned();
    assert!(check_message.contains("scenes[2].drama.year: 1899 is out of range"));
    for line in check_message.lines() {
        assert!(
            bot.logs().contains(line.trim()),
            "missing {line:?} in\n{}",
            bot.logs()
        );
    }
    assert!(fake.requests().is_empty(), "nothing was sent");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_token_stops_without_retrying() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let mut bot = BotProcess::start(BotOptions::new(&fake.api_url(), "not-the-token"));
    assert_eq!(bot.wait_exit(T).await.code(), Some(1));
    let logs = bot.logs();
    assert!(
        logs.contains("Discord rejected DISCORD_TOKEN (401 Unauthorized)"),
        "{logs}"
    );
    assert!(
        !logs.contains("not-the-token"),
        "the token must not be logged:\n{logs}"
    );
    assert_eq!(fake.requests().len(), 1, "one request, no retry loop");
    assert_eq!(fake.identify_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_close_4004_stops_without_identifying_again() {
    let mut harness = Harness::start().await;
    harness.fake.close_with(4004);
    assert_eq!(harness.bot.wait_exit(T).await.code(), Some(1));
    let logs = harness.bot.logs();
    assert!(logs.contains("close 4004"), "{logs}");
    assert_eq!(harness.fake.identify_count(), 1, "no identify loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_socket_and_a_reconnect_request_are_survived() {
    let harness = Harness::start().await;
    harness.fake.drop_socket();
    harness.fake.wait_resume(1, T).await;
    assert!(!title(&harness.scene(Some("she was pretty")).await).is_empty());
    harness.fake.send_reconnect();
    harness.fake.wait_resume(2, T).await;
    assert!(!title(&harness.scene(Some("witch")).await).is_empty());
    assert_eq!(
        harness.fake.identify_count(),
        1,
        "resumed, not re-identified"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_replayed_after_resume_is_answered_once() {
    let harness = Harness::start().await;
    let first = harness.fake.slash("scene").option_str("drama", "hwarang");
    let payload = first.payload();
    let first = harness.fake.send_interaction(payload.clone());
    harness.fake.wait_callback(first.id, T).await;
    harness.fake.drop_socket();
    // While the bot is away, the same interaction is dispatched again (a replay), then a new one.
    harness.fake.dispatch("INTERACTION_CREATE", payload);
    let second = harness
        .fake
        .slash("scene")
        .option_str("drama", "witch")
        .send()
        .await;
    harness.fake.wait_resume(1, T).await;
    harness.fake.wait_callback(second.id, T).await;
    harness.bot.wait_log("seen before", T).await;
    assert_eq!(
        harness.fake.callbacks_for(first.id).len(),
        1,
        "answered once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_and_sigint_stop_cleanly_with_exit_0() {
    for interrupt in [false, true] {
        let mut harness = Harness::start().await;
        harness.scene(None).await;
        if interrupt {
            harness.bot.interrupt();
        } else {
            harness.bot.terminate();
        }
        assert_eq!(
            harness.bot.wait_exit(T).await.code(),
            Some(0),
            "{}",
            harness.bot.logs()
        );
        assert!(harness.bot.logs().contains("stopped"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reply_in_flight_finishes_before_exit() {
    let mut harness = Harness::start().await;
    harness
        .fake
        .delay_next("POST", "/interactions", Duration::from_millis(1500));
    let interaction = harness.fake.slash("scene").send().await;
    // The bot has the interaction once the callback request reaches the fake; stop it then.
    harness.bot.wait_log("interaction received", T).await;
    harness.bot.terminate();
    assert_eq!(harness.bot.wait_exit(T).await.code(), Some(0));
    assert_eq!(
        harness.fake.callbacks_for(interaction.id).len(),
        1,
        "the reply in flight was delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_is_in_no_log_line_even_at_trace_level() {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.env.push(("RUST_LOG", "trace".to_owned()));
    let mut bot = BotProcess::start(options);
    let harness_fake = &fake;
    harness_fake
        .wait_for_request(|r| r.method == "PUT" && r.route().ends_with("/commands"), T)
        .await;
    let interaction = fake.slash("scene").send().await;
    fake.wait_callback(interaction.id, T).await;
    fake.drop_socket();
    fake.wait_resume(1, T).await;
    bot.terminate();
    bot.wait_exit(T).await;
    let logs = bot.logs();
    assert!(logs.lines().count() > 20, "trace logging was on:\n{logs}");
    assert_no_token_in(&logs, &fake.token());
    assert_no_token_in(&logs, &interaction.token);
}

/// Security item 4: serenity's gateway and HTTP layers print whole events and routes at debug and trace (an unknown
/// dispatch, the shard's span of every event, "Mismatched successful response status from <route>"): with
/// `RUST_LOG=trace` neither an interaction token in an unknown event nor one in a callback route reaches the log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_tokens_in_unknown_events_and_odd_statuses_stay_out_of_a_trace_log() {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.env.push(("RUST_LOG", "trace".to_owned()));
    let mut bot = BotProcess::start(options);
    fake.wait_for_request(|r| r.method == "PUT" && r.route().ends_with("/commands"), T)
        .await;
    bot.wait_log("ready", T).await;
    // An event type this serenity does not know, carrying an interaction's token.
    let carried = fake.slash("scene").payload();
    let unknown_token = carried["token"].as_str().unwrap_or_default().to_owned();
    fake.dispatch("SOME_FUTURE_EVENT", carried);
    // A callback answered 200 where serenity expects 204: its warning names the route, token included.
    fake.fail_next("POST", "/interactions", 200, None, false);
    let odd = fake.slash("scene").send().await;
    let callback = format!("/interactions/{}/", odd.id);
    fake.wait_for_request(|r| r.route().starts_with(&callback), T)
        .await;
    bot.wait_log("Mismatched successful response status", T)
        .await;
    bot.terminate();
    bot.wait_exit(T).await;
    let logs = bot.logs();
    assert_no_token_in(&logs, &unknown_token);
    assert_no_token_in(&logs, &odd.token);
    assert_no_token_in(&logs, &fake.token());
    assert!(
        logs.contains("<redacted>/callback"),
        "the warning stays, its token redacted:\n{logs}"
    );
}

/// Security item 2: in proxy mode a gateway URL that cannot be read stops the bot (one clear line) instead of
/// serenity's fallback to Discord's own gateway, which nobody configured and no proxy sees. Issue 29.5: a 5xx is a
/// failure for now, so the exit is 75 (the README's systemd unit restarts on it), not 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn proxy_mode_never_falls_back_to_discords_own_gateway() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    // Both GET /gateway (serenity's) and GET /gateway/bot (the bot's) start with this prefix: the first fails.
    fake.fail_next("GET", "/gateway", 500, None, false);
    let mut bot = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
    let code = bot.wait_exit(T).await.code();
    let logs = bot.logs();
    assert_eq!(code, Some(75), "{logs}");
    assert!(
        logs.contains(&format!(
            "proxy mode: cannot read the gateway URL from GET {}/api/v10/gateway/bot",
            fake.api_url()
        )) && logs.contains("not falling back"),
        "{logs}"
    );
    assert!(!logs.contains("gateway.discord.gg"), "{logs}");
    assert_eq!(fake.identify_count(), 0);
    assert_no_token_in(&logs, &fake.token());

    // Read, the URL is the one every shard connects to.
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let bot = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
    let line = bot
        .wait_log("proxy mode: the gateway URL comes from DISCORD_API_URL", T)
        .await;
    assert!(line.contains(&fake.gateway_url()), "{line}");
    fake.wait_identify(1, T).await;
}

/// Item 11: poise holds every interaction back until its setup returns; registering the commands there made the
/// first answers wait on Discord (up to the call cap). Registration runs beside them: a /scene sent while the
/// registration's answer is held back is answered within Discord's 3 s.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_registration_holds_up_no_answer() {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    fake.delay_next("PUT", "/applications", Duration::from_secs(8));
    let bot = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
    fake.wait_identify(1, T).await;
    let scene = fake
        .slash("scene")
        .option_str("drama", "hwarang")
        .send()
        .await;
    let card = fake.wait_callback(scene.id, T).await;
    let took = scene.sent_at.elapsed();
    assert!(title(&card).contains("Hwarang"), "{card:#}");
    assert!(
        took < Duration::from_secs(3),
        "answered {took:?} after the interaction, registration still pending"
    );
    println!("a /scene during a held registration was answered in {took:?}");
    bot.wait_log("commands registered globally", T).await;
    fake.assert_no_violations();
}

/// Fails when any 12-byte stretch of `token` (other than digits only) is in `logs` as text, as hex (`6d54`,
/// `6d 54`, any case) or as Rust's decimal bytes (`[109, 84, …]`): the encodings a websocket or TLS library logs
/// frames in.
pub fn assert_no_token_in(logs: &str, token: &str) {
    const WINDOW: usize = 12;
    let lower = logs.to_ascii_lowercase();
    let bytes = token.as_bytes();
    let mut leaks = std::collections::BTreeSet::new();
    // A stretch of digits only is left out: the fake's interaction tokens embed the (public) interaction id.
    for window in bytes
        .windows(WINDOW.min(bytes.len()))
        .filter(|window| !window.iter().all(u8::is_ascii_digit))
    {
        let hex: Vec<String> = window.iter().map(|b| format!("{b:02x}")).collect();
        let decimal: Vec<String> = window.iter().map(u8::to_string).collect();
        let forms = [
            ("text", String::from_utf8_lossy(window).into_owned()),
            ("hex", hex.concat()),
            ("spaced hex", hex.join(" ")),
            ("decimal bytes", decimal.join(", ")),
        ];
        for (form, needle) in forms {
            let haystack = if form == "text" { logs } else { &lower };
            if let Some(at) = haystack.find(&needle) {
                let line = haystack[..at].lines().count();
                let text: String = logs
                    .lines()
                    .nth(line.saturating_sub(1))
                    .unwrap_or_default()
                    .chars()
                    .take(400)
                    .collect();
                leaks.insert(format!("as {form} on line {line}: {text}"));
            }
        }
    }
    assert!(leaks.is_empty(), "the token leaked into the log: {leaks:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_is_not_sqlite_stops_start_up_untouched() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let dir = std::sync::Arc::new(crate::support::TempDir::new());
    let database = dir.path.join("scenebot.sqlite3");
    let notes = b"my notes, not a database ".repeat(200);
    std::fs::write(&database, &notes).unwrap_or_else(|e| panic!("{e}"));
    let mut options = BotOptions::new(&fake.api_url(), &fake.token());
    options.dir = Some(dir);
    let mut bot = BotProcess::start(options);
    assert_eq!(bot.wait_exit(T).await.code(), Some(1));
    assert!(
        bot.logs()
            .contains("is not an SQLite database; it was left untouched"),
        "{}",
        bot.logs()
    );
    assert_eq!(std::fs::read(&database).ok(), Some(notes));
    assert!(fake.requests().is_empty(), "it stopped before connecting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_discord_exits_75_for_a_later_restart() {
    // A port nobody listens on: bind one, note it, close it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|e| panic!("{e}"));
    let mut bot = BotProcess::start(BotOptions::new(
        &format!("http://127.0.0.1:{port}"),
        FakeDiscord::TOKEN,
    ));
    assert_eq!(bot.wait_exit(T).await.code(), Some(75), "{}", bot.logs());
    assert!(
        bot.logs().contains("cannot reach Discord"),
        "{}",
        bot.logs()
    );
    assert!(!bot.logs().contains(FakeDiscord::TOKEN));
}

/// Item 14: at start-up only a 401 means a rejected token; a 400, 403 or 404 on the first calls means DISCORD_API_URL
/// points somewhere wrong. Exit 1 (a restart cannot help), naming the URL, never the token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_or_404_at_start_up_is_a_configuration_error_naming_the_url() {
    for (method, route, status) in [
        ("GET", "/users/@me", 404),
        ("GET", "/users/@me", 403),
        ("GET", "/users/@me", 400),
        ("GET", "/gateway/bot", 404),
    ] {
        let fake = FakeDiscord::start(FakeOptions::default()).await;
        fake.fail_next(method, route, status, None, false);
        let mut bot = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
        let code = bot.wait_exit(T).await.code();
        let logs = bot.logs();
        assert_eq!(code, Some(1), "{route} {status}:\n{logs}");
        let url = format!("{}/api/v10{route}", fake.api_url());
        assert!(
            logs.contains(&format!("{method} {url} answered {status}"))
                && logs.contains("check DISCORD_API_URL"),
            "{route} {status}:\n{logs}"
        );
        assert!(!logs.contains("rejected DISCORD_TOKEN"), "{logs}");
        assert_no_token_in(&logs, &fake.token());
        let tries = fake
            .requests()
            .iter()
            .filter(|r| r.route() == route)
            .count();
        assert_eq!(tries, 1, "not retried");
    }
}

/// Item 14: serenity appends /api/v10 to DISCORD_API_URL itself; a URL that already has a path gets a warning
/// (and then, as every call 404s, a configuration error naming the doubled URL).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_discord_api_url_with_a_path_is_warned_about() {
    let fake = FakeDiscord::start(FakeOptions::default()).await;
    let with_path = format!("{}/api/v10", fake.api_url());
    let mut bot = BotProcess::start(BotOptions::new(&with_path, &fake.token()));
    let warning = bot.wait_log("DISCORD_API_URL has a path", T).await;
    assert!(
        warning.contains("WARN") && warning.contains("/api/v10"),
        "{warning}"
    );
    assert_eq!(bot.wait_exit(T).await.code(), Some(1), "{}", bot.logs());
    assert!(
        bot.logs()
            .contains(&format!("{with_path}/api/v10/users/@me answered 404")),
        "{}",
        bot.logs()
    );
}

/// Item 17: a registration Discord accepted but answered with a body serenity cannot read is not reported as
/// refused ("the previous registration stays") when the new one is in place.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_registration_whose_answer_cannot_be_read_is_not_reported_as_refused() {
    let fake = FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await;
    fake.replace_body_next("PUT", "/applications", r#"{"not": "a list of commands"}"#);
    let bot = BotProcess::start(BotOptions::new(&fake.api_url(), &fake.token()));
    // Registration runs beside the first answers: its outcome is logged when it is known.
    bot.wait_log("command registration", T).await;
    let logs = bot.logs();
    assert!(
        logs.contains("Discord accepted it (HTTP success) but its answer could not be read"),
        "{logs}"
    );
    assert!(!logs.contains("previous registration stays"), "{logs}");
    assert!(
        !fake.registered_commands(None).is_empty(),
        "the registration took effect"
    );
    fake.assert_no_violations();
}

/// Item 3: a failed interaction callback (a 500) and a follow-up cut by the HTTP timeout are logged precisely,
/// with their route, but with the interaction token redacted: whoever holds it can answer as the bot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_tokens_are_redacted_from_logged_failures() {
    let harness = Harness::start_with(
        FakeOptions::default(),
        vec![("SCENEBOT_HTTP_TIMEOUT_SECONDS", "1".to_owned())],
    )
    .await;
    let fake = &harness.fake;
    fake.fail_next("POST", "/interactions", 500, None, false);
    let scene = fake.slash("scene").send().await;
    let callback = format!("/interactions/{}/", scene.id);
    let told = fake
        .wait_for_request(|r| r.route().starts_with(&callback) && r.status == 204, T)
        .await;
    assert_eq!(
        told.body["data"]["flags"], 64,
        "the user is told privately: {:#}",
        told.body
    );
    harness
        .bot
        .wait_log(
            &format!(
                "on POST /api/v10/interactions/{}/<redacted>/callback",
                scene.id
            ),
            T,
        )
        .await;

    // A follow-up that gets no answer within the 1 s HTTP timeout: reqwest's error names the URL.
    fake.delay_next("POST", "/webhooks", Duration::from_secs(3));
    let start = fake
        .slash("favorite")
        .subcommand("start")
        .member_permissions(MODERATOR)
        .send()
        .await;
    harness
        .bot
        .wait_log_all(
            &[
                "network: error sending request for url",
                &format!("/webhooks/{}/<redacted>", FakeDiscord::APPLICATION_ID),
            ],
            T,
        )
        .await;
    let logs = harness.bot.logs();
    for token in [&scene.token, &start.token] {
        assert!(
            !logs.contains(token.as_str()),
            "an interaction token leaked:\n{logs}"
        );
    }
}
