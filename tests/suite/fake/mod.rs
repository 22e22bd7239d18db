//! Proves `support::fake_discord` with real clients over real sockets: a tiny serenity 0.12.5 bot here, the
//! proofs by what they prove in `rest`, `gateway`, `polls` and `limits` (rate limits, latency, invalid requests).
//!
//! Run with `SCENEBOT_OPENAPI_SPEC=/work/shared/discord-api-spec/openapi.json` so that every
//! request serenity sends is also validated against Discord's OpenAPI description.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test assertions

mod gateway;
mod limits;
mod polls;
mod rest;

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use serenity::all::{
    ApplicationId, ChannelId, ChannelPinsUpdateEvent, Client, ClientBuilder,
    CommandDataOptionValue, ComponentInteractionDataKind, Context, CreateAutocompleteResponse,
    CreateEmbed, CreateInteractionResponse, CreateInteractionResponseFollowup,
    CreateInteractionResponseMessage, EditInteractionResponse, EventHandler, GatewayIntents, Guild,
    GuildChannel, GuildId, Http, HttpBuilder, Interaction, Message, MessageId,
    MessagePollVoteAddEvent, MessagePollVoteRemoveEvent, MessageUpdateEvent, Ready, ResumedEvent,
    Role, ShardManager, UnavailableGuild,
};
use serenity::http::HttpError;
use tokio::sync::mpsc;

use crate::support::fake_discord::{FakeDiscord, FakeOptions};

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
