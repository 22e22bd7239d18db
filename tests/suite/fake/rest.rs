//! The fake's REST API proven with a serenity client: interactions, components, rules, commands, faults.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::all::{
    ChannelId, CommandDataOptionValue, CommandOptionType, CreateActionRow, CreateButton,
    CreateCommand, CreateCommandOption, CreateMessage, CreateSelectMenu, CreateSelectMenuKind,
    CreateSelectMenuOption, GuildId, Interaction,
};

use crate::support::fake_discord::{button_ids, permissions, FakeDiscord};

use super::{fake, http_for, start_bot, status_and_code, C, G, WAIT};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interaction_reaches_the_handler_and_its_response_is_valid() {
    let fake = fake().await;
    let mut bot = start_bot(&fake).await;

    let ix = fake
        .slash("scene")
        .option_str("drama", "hwarang")
        .locale("ko")
        .in_guild(G, C)
        .send()
        .await;
    bot.answered(ix.id).await.expect("the response is accepted");
    let body = fake.wait_callback(ix.id, WAIT).await;
    assert_eq!(body["type"], json!(4));
    assert_eq!(body["data"]["content"], json!("scene for hwarang (ko)"));
    // The response became the interaction's original message in the channel.
    let messages = fake.interaction_messages(ix.id);
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["type"], json!(20));
    assert_eq!(
        messages[0]["interaction_metadata"]["id"],
        json!(ix.id.to_string())
    );

    // Autocomplete answers with choices (type 8).
    let ac = fake
        .autocomplete("scene")
        .focused_str("drama", "hwa")
        .send()
        .await;
    bot.answered(ac.id).await.expect("autocomplete accepted");
    let body = fake.wait_callback(ac.id, WAIT).await;
    assert_eq!(body["type"], json!(8));
    assert_eq!(body["data"]["choices"][0]["name"], json!("Hwarang (hwa)"));

    // A deferral, an edit of @original and a followup.
    let later = fake.slash("later").send().await;
    bot.answered(later.id)
        .await
        .expect("defer, edit and followup accepted");
    assert_eq!(fake.wait_callback(later.id, WAIT).await["type"], json!(5));
    let produced = fake.interaction_messages(later.id);
    assert_eq!(produced.len(), 2, "{produced:#?}");
    assert_eq!(produced[0]["content"], json!("done"));
    assert_eq!(
        produced[0]["flags"],
        json!(0),
        "the loading flag is gone after the edit"
    );
    assert_eq!(produced[1]["content"], json!("one more"));
    let edit = fake
        .wait_for_request(
            |r| r.method == "PATCH" && r.route().ends_with("/messages/@original"),
            WAIT,
        )
        .await;
    assert_eq!(edit.status, 200);

    // A followup right after a deferral fills the loading message (no second message) and the
    // deferral's ephemeral flag stays.
    let thinking = fake.slash("thinking").send().await;
    bot.answered(thinking.id)
        .await
        .expect("defer and followup accepted");
    let produced = fake.interaction_messages(thinking.id);
    assert_eq!(produced.len(), 1, "{produced:#?}");
    assert_eq!(produced[0]["content"], json!("found it"));
    assert_eq!(produced[0]["flags"], json!(64));

    // A second response to the same interaction: 400 40060, as Discord answers.
    let twice = fake.slash("twice").send().await;
    let error = bot
        .answered(twice.id)
        .await
        .expect_err("the second response is refused");
    assert!(error.contains("already been acknowledged"), "{error}");
    assert_eq!(fake.callbacks_for(twice.id).len(), 1);

    // A hand-made payload goes through send_interaction.
    let mut payload = fake
        .slash("scene")
        .option_str("drama", "fight-for-my-way")
        .payload();
    payload["locale"] = json!("es-419");
    let custom = fake.send_interaction(payload);
    bot.answered(custom.id).await.expect("accepted");
    let body = fake.wait_callback(custom.id, WAIT).await;
    assert_eq!(
        body["data"]["content"],
        json!("scene for fight-for-my-way (es-419)")
    );

    // In a DM the interaction carries `user` instead of `member`.
    let dm = fake
        .slash("scene")
        .option_str("drama", "itaewon-class")
        .in_dm()
        .send()
        .await;
    bot.answered(dm.id).await.expect("DM response accepted");

    fake.assert_no_violations();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn buttons_and_selects_arrive_with_their_message() {
    let fake = fake().await;
    let mut bot = start_bot(&fake).await;

    let buttons = CreateActionRow::Buttons(vec![
        CreateButton::new("scene:again").label("Another"),
        CreateButton::new_link("https://example.com/scenes").label("More"),
    ]);
    let select = CreateActionRow::SelectMenu(CreateSelectMenu::new(
        "scene:pick",
        CreateSelectMenuKind::String {
            options: vec![
                CreateSelectMenuOption::new("Hwarang", "hwarang"),
                CreateSelectMenuOption::new("She Was Pretty", "she-was-pretty"),
            ],
        },
    ));
    let sent = ChannelId::new(C)
        .send_message(
            &bot.http,
            CreateMessage::new()
                .content("Pick one")
                .components(vec![buttons, select]),
        )
        .await
        .expect("the message is sent");

    let press = fake.button("scene:again").send().await;
    bot.answered(press.id).await.expect("update accepted");
    assert_eq!(fake.wait_callback(press.id, WAIT).await["type"], json!(7));
    let updated = fake.message(sent.id.get()).expect("the message");
    assert_eq!(updated["content"], json!("pressed scene:again"));

    let choose = fake
        .string_select("scene:pick", &["she-was-pretty"])
        .send()
        .await;
    bot.answered(choose.id).await.expect("update accepted");
    assert_eq!(
        fake.message(sent.id.get()).expect("the message")["content"],
        json!("chose she-was-pretty")
    );
    // The helpers over components: a link button has no custom id.
    let message = fake.message(sent.id.get()).expect("the message");
    assert_eq!(button_ids(&message), vec!["scene:again".to_owned()]);
    assert_eq!(fake.messages_with_button(C, "scene:").len(), 1);
    assert!(fake.messages_with_button(C, "quiz:").is_empty());
    let pressed = fake
        .press(
            "scene:again",
            sent.id.get(),
            FakeDiscord::USER_ID,
            permissions::VIEW_CHANNEL,
            WAIT,
        )
        .await;
    assert_eq!(pressed["content"], json!("pressed scene:again"));

    fake.assert_no_violations();
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_breaking_response_is_refused_and_recorded() {
    let fake = fake().await;
    if !fake.has_spec() {
        // The title limit comes from the OpenAPI description.
        crate::support::skipped("SCENEBOT_OPENAPI_SPEC is not set: nothing is checked");
        return;
    }
    let mut bot = start_bot(&fake).await;

    // serenity does not check an embed title's 256 characters; Discord (and the fake) do.
    let ix = fake.slash("long").send().await;
    let error = bot
        .answered(ix.id)
        .await
        .expect_err("Discord refuses a 300-character title");
    assert!(
        error.contains("Invalid Form Body") || error.contains("50035"),
        "{error}"
    );
    let violations = fake.violations();
    assert_eq!(violations.len(), 1, "{violations:#?}");
    assert_eq!(
        violations[0].errors[0].instance_path,
        "/data/embeds/0/title"
    );
    assert_eq!(
        violations[0].body["data"]["embeds"][0]["title"]
            .as_str()
            .map(str::len),
        Some(300)
    );
    let request = fake
        .wait_for_request(|r| r.route().ends_with("/callback"), WAIT)
        .await;
    assert_eq!(request.status, 400);
    assert_eq!(
        request.response["errors"]["data"]["embeds"]["0"]["title"]["_errors"][0]["code"],
        json!("BASE_TYPE_MAX_LENGTH")
    );
    bot.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_are_overwritten_and_keep_their_ids() {
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    let scene = || {
        CreateCommand::new("scene")
            .description("Show a kiss scene")
            .add_option(
                CreateCommandOption::new(CommandOptionType::String, "drama", "Which drama")
                    .required(true)
                    .set_autocomplete(true),
            )
    };
    let global = serenity::all::Command::set_global_commands(&http, vec![scene()])
        .await
        .expect("global overwrite");
    let guild = GuildId::new(G)
        .set_commands(
            &http,
            vec![scene(), CreateCommand::new("about").description("About")],
        )
        .await
        .expect("guild overwrite");
    assert_eq!(global.len(), 1);
    assert_eq!(guild.len(), 2);
    assert_eq!(guild[0].guild_id, Some(GuildId::new(G)));
    assert_eq!(fake.registered_commands(None).len(), 1);
    assert_eq!(fake.registered_commands(Some(G)).len(), 2);

    // The same overwrite again keeps ids and versions.
    let again = GuildId::new(G)
        .set_commands(
            &http,
            vec![scene(), CreateCommand::new("about").description("About")],
        )
        .await
        .expect("guild overwrite again");
    assert_eq!(again[0].id, guild[0].id);
    assert_eq!(again[0].version, guild[0].version);
    let listed = GuildId::new(G).get_commands(&http).await.expect("list");
    assert_eq!(listed.len(), 2);

    // A slash interaction carries the registered command's id.
    let payload = fake.slash("about").payload();
    assert_eq!(payload["data"]["id"], json!(guild[1].id.to_string()));
    assert_eq!(payload["data"]["guild_id"], json!(G.to_string()));

    let puts = fake.requests().iter().filter(|r| r.method == "PUT").count();
    assert_eq!(puts, 3);
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn injected_rate_limits_failures_and_delays() {
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    let channel = ChannelId::new(C);

    fake.fail_next("POST", "/channels/", 429, Some(1.5), true);
    let limited = channel
        .send_message(&http, CreateMessage::new().content("x"))
        .await;
    assert_eq!(status_and_code(&limited.expect_err("429")).0, 429);
    let recorded = fake.wait_for_request(|r| r.status == 429, WAIT).await;
    assert_eq!(recorded.response["retry_after"], json!(1.5));
    assert_eq!(recorded.response["global"], json!(true));
    assert!(
        fake.channel_messages(C).is_empty(),
        "a refused request has no effect"
    );

    fake.fail_next("*", "/api/v10/channels", 502, None, false);
    let bad_gateway = channel
        .send_message(&http, CreateMessage::new().content("x"))
        .await;
    let (status, code) = status_and_code(&bad_gateway.expect_err("502"));
    assert_eq!(
        (status, code),
        (502, -1),
        "Cloudflare's HTML page is not JSON"
    );

    fake.delay_next("GET", "/users/@me", Duration::from_millis(300));
    let started = Instant::now();
    http.get_current_user().await.expect("slow but fine");
    assert!(started.elapsed() >= Duration::from_millis(300));

    channel
        .send_message(&http, CreateMessage::new().content("x"))
        .await
        .expect("works again");
    assert_eq!(fake.channel_messages(C).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interaction_payloads_parse_as_serenity_interactions() {
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    // A session is needed for dispatches; a bot provides one.
    let bot = start_bot(&fake).await;
    let sent = ChannelId::new(C)
        .send_message(
            &http,
            CreateMessage::new()
                .content("buttons")
                .components(vec![CreateActionRow::Buttons(vec![CreateButton::new(
                    "b1",
                )
                .label("B1")])]),
        )
        .await
        .expect("sent");

    let payloads: Vec<(&str, Value)> = vec![
        (
            "slash",
            fake.slash("scene")
                .option_str("drama", "x")
                .option_int("n", 2)
                .locale("es-ES")
                .payload(),
        ),
        (
            "subcommand",
            fake.slash("scene")
                .subcommand("random")
                .option_bool("spoilers", false)
                .payload(),
        ),
        (
            "autocomplete",
            fake.autocomplete("scene")
                .focused_str("drama", "fi")
                .payload(),
        ),
        ("button", fake.button("b1").payload()),
        ("dm", fake.slash("scene").in_dm().payload()),
        (
            "custom",
            fake.button("b1")
                .on_message(sent.id.get())
                .user(1_170_000_000_000_000_002)
                .member_permissions(permissions::VIEW_CHANNEL)
                .app_permissions(permissions::BOT_INVITE)
                .locale("ja")
                .guild_locale("ko")
                .payload(),
        ),
        (
            "number",
            fake.slash("scene").option_num("rating", 4.5).payload(),
        ),
    ];
    for (name, payload) in payloads {
        let parsed: Result<Interaction, _> = serde_json::from_value(payload.clone());
        let parsed = parsed.unwrap_or_else(|e| panic!("{name}: {e}\n{payload:#}"));
        match (name, &parsed) {
            ("custom", Interaction::Component(c)) => {
                assert_eq!(c.user.id.get(), 1_170_000_000_000_000_002);
                let member = c.member.as_ref().expect("member");
                assert_eq!(
                    member.permissions.map(|p| p.bits()),
                    Some(permissions::VIEW_CHANNEL)
                );
                assert_eq!(
                    c.app_permissions.map(|p| p.bits()),
                    Some(permissions::BOT_INVITE)
                );
                assert_eq!(
                    (c.locale.as_str(), c.guild_locale.as_deref()),
                    ("ja", Some("ko"))
                );
            }
            ("number", Interaction::Command(c)) => {
                assert!(
                    matches!(c.data.options[0].value, CommandDataOptionValue::Number(n) if n == 4.5)
                );
            }
            ("slash" | "subcommand" | "dm", Interaction::Command(c)) => {
                assert_eq!(c.data.name, "scene");
                if name == "dm" {
                    assert!(c.member.is_none() && c.guild_id.is_none());
                    assert_eq!(c.user.id.get(), FakeDiscord::USER_ID);
                } else {
                    let member = c.member.as_ref().expect("member");
                    assert!(member.permissions.is_some());
                    assert!(c.app_permissions.is_some());
                }
            }
            ("autocomplete", Interaction::Autocomplete(a)) => {
                assert_eq!(a.data.autocomplete().map(|o| o.value), Some("fi"));
            }
            ("button", Interaction::Component(c)) => assert_eq!(c.message.content, "buttons"),
            (name, other) => panic!("{name} parsed as {other:?}"),
        }
    }
    bot.stop().await;
}

/// Issue 28: a thread started from a message, as Discord answers it to serenity: the thread channel (which serenity
/// reads), one per message (a second is 400 code 160004), a message of another channel 10008, and 403 50013 without
/// Create Public Threads.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_thread_per_message_and_the_second_is_160004() {
    use serenity::all::{AutoArchiveDuration, ChannelType, CreateThread, MessageId};
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    let channel = ChannelId::new(C);
    let message = channel
        .send_message(&http, CreateMessage::new().content("talk about it"))
        .await
        .unwrap();
    let builder =
        CreateThread::new("🎭 Kill Me, Heal Me").auto_archive_duration(AutoArchiveDuration::OneDay);
    let thread = http
        .create_thread_from_message(channel, message.id, &builder, None)
        .await
        .expect("serenity reads the thread channel");
    assert_eq!(
        thread.id.get(),
        message.id.get(),
        "a thread's id is its message's"
    );
    assert_eq!(thread.kind, ChannelType::PublicThread);
    assert_eq!(thread.parent_id, Some(channel));
    let again = http
        .create_thread_from_message(channel, message.id, &builder, None)
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&again), (400, 160_004));
    let elsewhere = http
        .create_thread_from_message(channel, MessageId::new(1), &builder, None)
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&elsewhere).0, 404);
    let second = channel
        .send_message(&http, CreateMessage::new().content("and this"))
        .await
        .unwrap();
    fake.set_channel_overwrites(
        C,
        vec![crate::support::fake_discord::FakeOverwrite::deny_member(
            FakeDiscord::BOT_USER_ID,
            permissions::CREATE_PUBLIC_THREADS,
        )],
    );
    let refused = http
        .create_thread_from_message(channel, second.id, &builder, None)
        .await
        .unwrap_err();
    assert_eq!(status_and_code(&refused), (403, 50_013));
    assert_eq!(fake.threads().len(), 1);
    // Only the thread that was opened has its time, under its parent channel.
    let starts = fake.channel_threads();
    assert_eq!(starts.len(), 1);
    assert_eq!(starts.get(&C).map(Vec::len), Some(1));
    fake.assert_no_violations();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_read_from_an_index_on() {
    let fake = fake().await;
    let http = http_for(&fake, &fake.token());
    let channel = ChannelId::new(C);
    for n in 0..3 {
        channel
            .send_message(&http, CreateMessage::new().content(format!("post {n}")))
            .await
            .unwrap();
    }
    let all = fake.requests();
    let indexes: Vec<usize> = all.iter().map(|r| r.index).collect();
    assert_eq!(indexes, (0..all.len()).collect::<Vec<_>>());
    let from = all.len() - 2;
    let tail = fake.requests_since(from);
    assert_eq!(
        tail.iter().map(|r| r.index).collect::<Vec<_>>(),
        vec![from, from + 1]
    );
    assert_eq!(tail[1].body["content"], "post 2");
    assert!(fake.requests_since(all.len()).is_empty());
}
