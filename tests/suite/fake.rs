//! Proves `support::fake_discord` with a real serenity 0.12.5 client over real sockets.
//!
//! Run with `SCENEBOT_OPENAPI_SPEC=/work/shared/discord-api-spec/openapi.json` so that every
//! request serenity sends is also validated against Discord's OpenAPI description.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use serenity::all::{
    ApplicationId, ChannelId, ChannelPinsUpdateEvent, Client, ClientBuilder,
    CommandDataOptionValue, CommandOptionType, ComponentInteractionDataKind, Context,
    CreateActionRow, CreateAutocompleteResponse, CreateButton, CreateCommand, CreateCommandOption,
    CreateEmbed, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, CreateMessage, CreatePoll, CreatePollAnswer,
    CreateSelectMenu, CreateSelectMenuKind, CreateSelectMenuOption, EditInteractionResponse,
    EditMessage, EventHandler, GatewayIntents, GetMessages, Guild, GuildChannel, GuildId, Http,
    HttpBuilder, Interaction, Message, MessageId, MessagePollVoteAddEvent,
    MessagePollVoteRemoveEvent, MessageUpdateEvent, Nonce, Ready, ResumedEvent, Role, ShardManager,
    UnavailableGuild,
};
use serenity::gateway::GatewayError;
use serenity::http::HttpError;
use tokio::sync::mpsc;

use crate::support::fake_discord::{
    permissions, FakeChannel, FakeDiscord, FakeOptions, FakeOverwrite, GatewayLog, ViolationSource,
};

const G: u64 = FakeDiscord::GUILD_ID;
const C: u64 = FakeDiscord::CHANNEL_ID;
const WAIT: Duration = Duration::from_secs(10);

// ----- A tiny bot ------------------------------------------------------------------------------

/// What the handler saw.
#[derive(Debug)]
enum Seen {
    Ready {
        session_id: String,
        guilds: usize,
        application_id: u64,
    },
    GuildCreate {
        id: u64,
        channels: usize,
        members: usize,
        bot_roles: usize,
    },
    ChannelUpdate {
        id: u64,
        overwrites: usize,
    },
    Resumed,
    Message {
        id: u64,
        content: String,
        kind: u8,
        has_poll: bool,
    },
    MessageUpdate {
        id: u64,
    },
    MessageDelete {
        id: u64,
    },
    ChannelCreate {
        id: u64,
    },
    ChannelDelete {
        id: u64,
    },
    PinsUpdate {
        channel: u64,
    },
    RoleUpdate {
        id: u64,
        permissions: u64,
    },
    GuildDelete {
        id: u64,
        unavailable: bool,
    },
    VoteAdd {
        user: u64,
        answer: u64,
    },
    VoteRemove {
        user: u64,
        answer: u64,
    },
    /// An interaction and the outcome of the handler's answer to it.
    Interaction {
        id: u64,
        kind: &'static str,
        answer: Result<(), String>,
    },
}

/// Forwards what it sees and answers interactions the way a small bot would.
struct Forward(mpsc::UnboundedSender<Seen>);

impl Forward {
    fn send(&self, seen: Seen) {
        // The test may be gone already; nothing to do then.
        let _ = self.0.send(seen);
    }
}

#[serenity::async_trait]
impl EventHandler for Forward {
    async fn ready(&self, _ctx: Context, ready: Ready) {
        self.send(Seen::Ready {
            session_id: ready.session_id.clone(),
            guilds: ready.guilds.len(),
            application_id: ready.application.id.get(),
        });
    }

    async fn guild_create(&self, _ctx: Context, guild: Guild, _is_new: Option<bool>) {
        let bot_roles = guild
            .members
            .get(&FakeDiscord::BOT_USER_ID.into())
            .map_or(0, |member| member.roles.len());
        self.send(Seen::GuildCreate {
            id: guild.id.get(),
            channels: guild.channels.len(),
            members: guild.members.len(),
            bot_roles,
        });
    }

    async fn channel_update(&self, _ctx: Context, _old: Option<GuildChannel>, new: GuildChannel) {
        self.send(Seen::ChannelUpdate {
            id: new.id.get(),
            overwrites: new.permission_overwrites.len(),
        });
    }

    async fn resume(&self, _ctx: Context, _event: ResumedEvent) {
        self.send(Seen::Resumed);
    }

    async fn message(&self, _ctx: Context, message: Message) {
        self.send(Seen::Message {
            id: message.id.get(),
            content: message.content.clone(),
            kind: message.kind.into(),
            has_poll: message.poll.is_some(),
        });
    }

    async fn message_update(
        &self,
        _ctx: Context,
        _old: Option<Message>,
        _new: Option<Message>,
        event: MessageUpdateEvent,
    ) {
        self.send(Seen::MessageUpdate { id: event.id.get() });
    }

    async fn message_delete(
        &self,
        _ctx: Context,
        _channel: ChannelId,
        id: MessageId,
        _guild: Option<GuildId>,
    ) {
        self.send(Seen::MessageDelete { id: id.get() });
    }

    async fn channel_create(&self, _ctx: Context, channel: GuildChannel) {
        self.send(Seen::ChannelCreate {
            id: channel.id.get(),
        });
    }

    async fn channel_delete(&self, _ctx: Context, channel: GuildChannel, _m: Option<Vec<Message>>) {
        self.send(Seen::ChannelDelete {
            id: channel.id.get(),
        });
    }

    async fn channel_pins_update(&self, _ctx: Context, pin: ChannelPinsUpdateEvent) {
        self.send(Seen::PinsUpdate {
            channel: pin.channel_id.get(),
        });
    }

    async fn guild_role_update(&self, _ctx: Context, _old: Option<Role>, new: Role) {
        self.send(Seen::RoleUpdate {
            id: new.id.get(),
            permissions: new.permissions.bits(),
        });
    }

    async fn guild_delete(
        &self,
        _ctx: Context,
        incomplete: UnavailableGuild,
        _full: Option<Guild>,
    ) {
        self.send(Seen::GuildDelete {
            id: incomplete.id.get(),
            unavailable: incomplete.unavailable,
        });
    }

    async fn poll_vote_add(&self, _ctx: Context, event: MessagePollVoteAddEvent) {
        self.send(Seen::VoteAdd {
            user: event.user_id.get(),
            answer: event.answer_id.get(),
        });
    }

    async fn poll_vote_remove(&self, _ctx: Context, event: MessagePollVoteRemoveEvent) {
        self.send(Seen::VoteRemove {
            user: event.user_id.get(),
            answer: event.answer_id.get(),
        });
    }

    async fn interaction_create(&self, ctx: Context, interaction: Interaction) {
        let (id, kind, answer) = match &interaction {
            Interaction::Command(cmd) => {
                let answer = match cmd.data.name.as_str() {
                    "later" => {
                        async {
                            cmd.defer(&ctx.http).await?;
                            cmd.edit_response(
                                &ctx.http,
                                EditInteractionResponse::new().content("done"),
                            )
                            .await?;
                            let followup =
                                CreateInteractionResponseFollowup::new().content("one more");
                            cmd.create_followup(&ctx.http, followup).await.map(|_| ())
                        }
                        .await
                    }
                    "thinking" => {
                        async {
                            // poise's pattern: defer, then reply with a followup.
                            cmd.defer_ephemeral(&ctx.http).await?;
                            let followup =
                                CreateInteractionResponseFollowup::new().content("found it");
                            cmd.create_followup(&ctx.http, followup).await.map(|_| ())
                        }
                        .await
                    }
                    "twice" => {
                        let reply = || {
                            CreateInteractionResponse::Message(
                                CreateInteractionResponseMessage::new().content("again"),
                            )
                        };
                        match cmd.create_response(&ctx.http, reply()).await {
                            Ok(()) => cmd.create_response(&ctx.http, reply()).await,
                            Err(e) => Err(e),
                        }
                    }
                    "long" => {
                        let embed = CreateEmbed::new().title("t".repeat(300));
                        let message = CreateInteractionResponseMessage::new().embed(embed);
                        cmd.create_response(&ctx.http, CreateInteractionResponse::Message(message))
                            .await
                    }
                    _ => {
                        let drama = cmd
                            .data
                            .options
                            .iter()
                            .find(|o| o.name == "drama")
                            .and_then(|o| match &o.value {
                                CommandDataOptionValue::String(s) => Some(s.clone()),
                                _ => None,
                            })
                            .unwrap_or_default();
                        let text = format!("{} for {drama} ({})", cmd.data.name, cmd.locale);
                        let message = CreateInteractionResponseMessage::new().content(text);
                        cmd.create_response(&ctx.http, CreateInteractionResponse::Message(message))
                            .await
                    }
                };
                (cmd.id.get(), "command", answer)
            }
            Interaction::Autocomplete(ac) => {
                let typed = ac
                    .data
                    .autocomplete()
                    .map(|a| a.value.to_owned())
                    .unwrap_or_default();
                let choices = CreateAutocompleteResponse::new()
                    .add_string_choice(format!("Hwarang ({typed})"), "hwarang")
                    .add_string_choice("Fight for My Way", "fight-for-my-way");
                let answer = ac
                    .create_response(&ctx.http, CreateInteractionResponse::Autocomplete(choices))
                    .await;
                (ac.id.get(), "autocomplete", answer)
            }
            Interaction::Component(c) => {
                let text = match &c.data.kind {
                    ComponentInteractionDataKind::StringSelect { values } => {
                        format!("chose {}", values.join(","))
                    }
                    _ => format!("pressed {}", c.data.custom_id),
                };
                let message = CreateInteractionResponseMessage::new().content(text);
                let answer = c
                    .create_response(&ctx.http, CreateInteractionResponse::UpdateMessage(message))
                    .await;
                (c.id.get(), "component", answer)
            }
            other => (other.id().get(), "other", Ok(())),
        };
        self.send(Seen::Interaction {
            id,
            kind,
            answer: answer.map_err(|e| e.to_string()),
        });
    }
}

struct Bot {
    http: Arc<Http>,
    seen: mpsc::UnboundedReceiver<Seen>,
    shard_manager: Arc<ShardManager>,
    run: tokio::task::JoinHandle<Result<(), serenity::Error>>,
    skipped: VecDeque<Seen>,
}

fn http_for(fake: &FakeDiscord, token: &str) -> Http {
    HttpBuilder::new(token)
        .proxy(fake.api_url())
        .ratelimiter_disabled(true)
        .application_id(ApplicationId::new(fake.application_id()))
        .build()
}

async fn client(fake: &FakeDiscord, token: &str) -> (Client, mpsc::UnboundedReceiver<Seen>) {
    client_with(fake, token, GatewayIntents::GUILDS).await
}

async fn client_with(
    fake: &FakeDiscord,
    token: &str,
    intents: GatewayIntents,
) -> (Client, mpsc::UnboundedReceiver<Seen>) {
    let http = HttpBuilder::new(token)
        .proxy(fake.api_url())
        .ratelimiter_disabled(true)
        .build();
    let (tx, seen) = mpsc::unbounded_channel();
    let client = ClientBuilder::new_with_http(http, intents)
        .event_handler(Forward(tx))
        .await
        .expect("serenity builds its client");
    (client, seen)
}

/// Starts a bot against the fake and waits for READY and GUILD_CREATE.
async fn start_bot(fake: &FakeDiscord) -> Bot {
    start_bot_with(fake, GatewayIntents::GUILDS).await
}

async fn start_bot_with(fake: &FakeDiscord, intents: GatewayIntents) -> Bot {
    let (mut client, seen) = client_with(fake, &fake.token(), intents).await;
    let http = Arc::clone(&client.http);
    let shard_manager = Arc::clone(&client.shard_manager);
    let run = tokio::spawn(async move { client.start().await });
    let mut bot = Bot {
        http,
        seen,
        shard_manager,
        run,
        skipped: VecDeque::new(),
    };
    bot.expect(|s| matches!(s, Seen::Ready { .. })).await;
    bot.expect(|s| matches!(s, Seen::GuildCreate { .. })).await;
    bot
}

impl Bot {
    /// The first event `pred` accepts, in order of arrival; events it skips stay for later
    /// calls (the handler runs each event in its own task, so their order may vary).
    async fn expect(&mut self, pred: impl Fn(&Seen) -> bool) -> Seen {
        if let Some(i) = self.skipped.iter().position(&pred) {
            if let Some(seen) = self.skipped.remove(i) {
                return seen;
            }
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match tokio::time::timeout_at(deadline, self.seen.recv()).await {
                Ok(Some(seen)) if pred(&seen) => return seen,
                Ok(Some(seen)) => self.skipped.push_back(seen),
                Ok(None) => panic!("the bot's event handler is gone"),
                Err(_) => panic!(
                    "the bot did not see the expected event within {WAIT:?}; it saw {:?}",
                    self.skipped
                ),
            }
        }
    }

    /// How the handler's answer to an interaction went.
    async fn answered(&mut self, interaction: u64) -> Result<(), String> {
        match self
            .expect(|s| matches!(s, Seen::Interaction { id, .. } if *id == interaction))
            .await
        {
            Seen::Interaction { answer, kind, .. } => answer.map_err(|e| format!("{kind}: {e}")),
            other => panic!("unexpected {other:?}"),
        }
    }

    async fn stop(self) {
        self.shard_manager.shutdown_all().await;
        self.run.abort();
    }
}

async fn fake() -> FakeDiscord {
    FakeDiscord::start(FakeOptions::default().with_spec_from_env()).await
}

fn status_and_code(error: &serenity::Error) -> (u16, isize) {
    match error {
        serenity::Error::Http(HttpError::UnsuccessfulRequest(response)) => {
            (response.status_code.as_u16(), response.error.code)
        }
        other => panic!("expected an HTTP error answer, got {other:?}"),
    }
}

// ----- Tests -----------------------------------------------------------------------------------

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
