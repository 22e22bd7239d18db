//! The Discord layer: serenity + poise. It only translates between Discord and the pure core ([`crate::respond`]).
//!
//! - [`commands`]: the slash commands, one module per feature (`scene`, `favorite`, `daily`, `language`, `quiz`),
//!   and [`commands::all`].
//! - [`events`]: buttons and menus, and the one error funnel users' errors go through.
//! - [`port`]: the background processes' port to Discord (posts, polls, threads, quiz messages, finding the bot's
//!   own message in a channel), paced and retried; the processes built over it from [`Data`].
//! - [`calls`]: every call capped and counted, bounded retries, 429s waited out, answers tried again.
//! - [`errors`]: the one classifier of serenity's errors, failure kinds, log-safe text (tokens redacted).
//! - [`perms`]: the permission sets each feature needs, and reading the bot's and a member's from Discord.
//! - [`budget`]: the invalid-request budget every server shares: the count, the guard, remembered refusals, limits.
//! - [`relay`]: proxy mode's loopback relay that reads Discord's 429 answers, which serenity drops.
//! - [`interaction`]: what every command does with its interaction: languages, defer, private and card replies.
//! - [`gate`]: who may do what, where: the poise checks, and the member's and the bot's permissions in the channel
//!   acted on.
//! - [`health`]: last-event ages, the optional health endpoint, the shard watchdog.
//! - [`close_codes`]: the gateway closes serenity would reconnect after and Discord says not to (4010–4012).
//! - [`types`]: [`Data`], [`Error`] and [`Context`], shared by every sibling.
//! - [`dedup`]: a serenity framework wrapper that answers each interaction once and tracks handlers in flight.

pub mod budget;
pub mod calls;
pub mod close_codes;
pub mod commands;
pub mod dedup;
pub mod errors;
pub mod events;
pub mod gate;
pub mod health;
pub mod interaction;
pub mod perms;
pub mod port;
pub mod relay;
pub mod types;

pub use types::{Context, Data, Error};

use std::sync::Arc;
use std::time::{Duration, Instant};

use serenity::all::{
    ClientBuilder, CreateAllowedMentions, GatewayIntents, GuildId, HttpBuilder, ShardManager,
};
use tracing::{info, warn};

use crate::catalog::Catalog;
use crate::clock::Clock;
use crate::config::Config;
use crate::lifecycle::pacer::Pacer;
use crate::lifecycle::poll::PollLocks;
use crate::lifecycle::supervise::{supervise, JobHealth};
use crate::respond::Responder;
use crate::store::Store;
use errors::Classified;

/// How long a shutdown waits for replies in flight.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// How long the process may take to stop after a fatal gateway close before it exits regardless: a normal
/// shutdown's grace plus the exit's, and a margin.
const FATAL_EXIT_DEADLINE: Duration = Duration::from_secs(15);

/// The intents the bot needs: guild create/delete only. Slash commands need none; MESSAGE_CONTENT never.
pub const INTENTS: GatewayIntents = GatewayIntents::GUILDS;

/// Exit code when retrying cannot help: a missing or rejected token, a wrong `DISCORD_API_URL`, a database that is
/// not ours or is locked. A supervisor should not restart (the README's systemd unit does not).
pub const EXIT_FATAL: u8 = 1;
/// Exit code for failures worth a restart later (sysexits' EX_TEMPFAIL): Discord could not be reached.
pub const EXIT_TEMPFAIL: u8 = 75;

/// Why the bot stopped with an error: one line for the operator, never with the token, and the process exit code
/// it stands for ([`RunError::exit_code`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RunError {
    /// Retrying cannot help (a rejected token, a wrong `DISCORD_API_URL`, refused intents): a supervisor should
    /// not restart.
    #[error("{0}")]
    Fatal(String),
    /// Discord could not be reached, or failed for a while: worth a restart with back-off.
    #[error("{0}")]
    Transient(String),
}

impl RunError {
    /// The process exit code: [`EXIT_FATAL`] or [`EXIT_TEMPFAIL`], which supervisors read to restart or not.
    pub fn exit_code(&self) -> u8 {
        match self {
            RunError::Fatal(_) => EXIT_FATAL,
            RunError::Transient(_) => EXIT_TEMPFAIL,
        }
    }
}

/// Connects, serves until `shutdown` resolves (SIGINT or SIGTERM in production), and shuts down cleanly: the
/// gateway closes and replies in flight finish. The error is one line for the operator, never with the token.
pub async fn run(
    config: Config,
    catalog: Catalog,
    store: Store,
    clock: Arc<dyn Clock>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> Result<(), RunError> {
    if config.health_addr.is_some() {
        // Before the first call, so start-up's calls are counted too. Without the endpoint nothing would read the
        // metrics (or drain their histograms): no recorder then.
        crate::telemetry::install();
    }
    // Turns true at shutdown (or drops with an early error): the relay, schedulers and health endpoint stop.
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let http = discord_http(&config, &stopping).await?;
    let call_cap = config.http_timeout * 2;
    let me = calls::capped(
        calls::route::CURRENT_USER,
        call_cap,
        http.get_current_user(),
    )
    .await
    .map_err(|error| describe_start_error(&error, config.api_url.is_some()))?;
    info!(user = %me.name, id = %me.id, scenes = catalog.scenes.len(), "token accepted");
    // serenity reads the gateway URL itself and, when it cannot, connects to Discord's own gateway: in proxy mode
    // the bot reads it first and stops rather than talk to a gateway nobody configured.
    let proxy_gateway = match &config.api_url {
        Some(api_url) => Some(proxy_gateway(&http, call_cap, api_url.as_str()).await?),
        None => None,
    };

    let guild_id = config.guild_id.map(GuildId::new);
    let jobs: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
    let setup_jobs = Arc::clone(&jobs);
    let instance = config.shards.map_or_else(
        || crate::store::DEFAULT_INSTANCE.to_owned(),
        |r| r.to_string(),
    );
    let store = store.with_lease(config.lease).with_instance(&instance);
    info!(database = %store.describe(), owner = store.owner(), "store open; claims are made as this owner");
    let health_store = store.clone();
    let job_health = Arc::new(JobHealth::default());
    let setup_health = Arc::clone(&job_health);
    let pacer = Arc::new(Pacer::shared(config.rest_rate, health_store.clone()));
    let data = Data {
        responder: Arc::new(Responder::new(catalog)),
        started: Instant::now(),
        store,
        clock,
        poll_locks: PollLocks::default(),
        pacer: Arc::clone(&pacer),
        me: me.id,
        lease: config.lease,
        fanout: config.fanout,
        wake_polls: Arc::new(tokio::sync::Notify::new()),
        wake_daily: Arc::new(tokio::sync::Notify::new()),
        stopping,
        call_cap,
        budget: Arc::default(),
        quiz_rounds: crate::lifecycle::quiz::RunningRounds::default(),
        shards: config.shards,
    };
    let framework = poise::Framework::builder()
        .options(poise::FrameworkOptions {
            commands: commands::all(),
            on_error: |error| Box::pin(events::on_error(error)),
            event_handler: |framework, event| Box::pin(events::on_event(framework, event)),
            initialize_owners: false,
            ..Default::default()
        })
        .setup(move |ctx, ready, framework| {
            Box::pin(async move {
                // poise runs this once, on the first READY only: start-once work belongs here. poise holds every
                // interaction back until it returns, so nothing slow is awaited here.
                let started = start_jobs(
                    &data,
                    &ctx.http,
                    &framework.options().commands,
                    guild_id,
                    &setup_health,
                );
                if let Ok(mut jobs) = setup_jobs.lock() {
                    jobs.extend(started);
                }
                info!(guilds = ready.guilds.len(), shard = ?ready.shard, "ready");
                Ok(data)
            })
        })
        .build();
    let events = Arc::new(health::EventClock::default());
    let names = framework
        .options()
        .commands
        .iter()
        .map(|command| command.name.to_string())
        .collect();
    let framework = dedup::Deduplicating::new(framework, Arc::clone(&events), names);
    let in_flight = framework.in_flight();

    // Keep only what the bot reads. Interactions carry the member's and the bot's permissions in their own
    // channel and both locales; the rare check on another channel asks Discord (see `calls::bot_permissions_in`).
    // Caching every server's channels, roles and members cost ~24 KB a server (242 MB at 10,000; BENCHMARKS.md).
    let mut cache = serenity::cache::Settings::default();
    cache.max_messages = 0;
    cache.cache_users = false;
    cache.cache_guilds = false;
    cache.cache_channels = false;
    let mut client = ClientBuilder::new_with_http(http, INTENTS)
        .cache_settings(cache)
        .framework(framework)
        .raw_event_handler(health::UnparsedEvents {
            events: Arc::clone(&events),
        });
    if config.api_url.is_none() {
        // Only serenity's own rate limiter (off in proxy mode) reports its waits, and only to an event handler; one
        // costs a task per event, so it is added only where it can hear something.
        client = client.event_handler(health::RateLimits {
            pacer: Arc::clone(&pacer),
        });
    }
    let mut client = client.await.map_err(|error| {
        RunError::Transient(format!("cannot build the Discord client: {error}"))
    })?;

    if let Some(gateway) = &proxy_gateway {
        // The shard manager shares this URL with the client: every shard connects there.
        *client.ws_url.lock().await = gateway.url.clone();
        info!(gateway = %gateway.url, shards = gateway.shards, "proxy mode: the gateway URL comes from DISCORD_API_URL");
    }
    let shard_manager = Arc::clone(&client.shard_manager);
    let stopped = |mut stopping: tokio::sync::watch::Receiver<bool>| async move {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let mut operations = vec![tokio::spawn(health::watchdog(
        Arc::clone(&shard_manager),
        config.watchdog,
        Box::pin(stopped(stop.subscribe())),
    ))];
    if let Some(addr) = config.health_addr {
        operations.push(tokio::spawn(health::serve(
            addr,
            Arc::clone(&shard_manager),
            Arc::clone(&events),
            health_store,
            job_health,
            stopped(stop.subscribe()),
        )));
    }
    let shards = config.shards;
    let mut connection = Box::pin(async {
        match shards {
            // serenity's range is inclusive of its end.
            Some(range) => {
                info!(shards = %range, "running a range of the shards");
                client
                    .start_shard_range(range.first..range.last, range.total)
                    .await
            }
            None => match &proxy_gateway {
                // The shard count was read with the URL: no second call.
                Some(gateway) => client.start_shards(gateway.shards).await,
                None => client.start_autosharded().await,
            },
        }
    });
    let mut fatal_close = None;
    let result = tokio::select! {
        result = &mut connection => result,
        close = close_codes::fatal() => {
            fatal_close = Some(close);
            stop_closed_shards(&shard_manager).await;
            let code = EXIT_FATAL;
            close_codes::exit_unless_stopped_within(close, FATAL_EXIT_DEADLINE, code);
            Ok(())
        }
        () = shutdown => {
            info!("shutting down: closing the gateway, letting replies in flight finish");
            shard_manager.shutdown_all().await;
            // A signal during start-up can come before the shards run; never hang on it.
            match tokio::time::timeout(SHUTDOWN_GRACE, connection).await {
                Ok(result) => result,
                Err(_) => {
                    warn!("the gateway did not close within {SHUTDOWN_GRACE:?}; stopping anyway");
                    Ok(())
                }
            }
        }
    };
    stop.send_replace(true);
    let mut jobs: Vec<_> = jobs
        .lock()
        .map(|mut jobs| jobs.drain(..).collect())
        .unwrap_or_default();
    jobs.extend(operations);
    finish_work(jobs, &in_flight).await;
    if let Some(close) = fatal_close {
        return Err(RunError::Fatal(close.explain()));
    }
    match result {
        Ok(()) => {
            info!("stopped");
            Ok(())
        }
        Err(error) => Err(describe_start_error(&error, config.api_url.is_some())),
    }
}

/// After the gateway closed and `stopping` turned true: waits for the background jobs to stop and the replies in
/// flight to finish, [`SHUTDOWN_GRACE`] at most, and says so when something was still running.
async fn finish_work(jobs: Vec<tokio::task::JoinHandle<()>>, in_flight: &dedup::InFlight) {
    let finished = tokio::time::timeout(SHUTDOWN_GRACE, async {
        for job in jobs {
            let _ = job.await;
        }
        in_flight.wait_idle(SHUTDOWN_GRACE).await
    })
    .await;
    if !matches!(finished, Ok(true)) {
        warn!("some work was still running after {SHUTDOWN_GRACE:?}; stopping anyway");
    }
}

/// What runs once per process, started on the first READY: command registration beside the first answers, the
/// poll and daily schedulers (supervised: a panic starts them again, `/health` says so meanwhile), and the quiz
/// rounds this process owns, resumed. poise holds every interaction back until setup returns, so nothing here is
/// awaited. The handles are what shutdown waits for.
fn start_jobs(
    data: &Data,
    http: &Arc<serenity::all::Http>,
    commands: &[poise::Command<Data, Error>],
    guild: Option<GuildId>,
    health: &Arc<JobHealth>,
) -> Vec<tokio::task::JoinHandle<()>> {
    let polls = Arc::new(data.polls(http));
    let dailies = Arc::new(data.dailies(http));
    let (wake_polls, wake_daily) = (Arc::clone(&data.wake_polls), Arc::clone(&data.wake_daily));
    let (stopping, fanout) = (data.stopping.clone(), data.fanout);
    let mut started = vec![
        commands::register_beside(Arc::clone(http), commands, guild, data.call_cap),
        tokio::spawn(supervise(
            "poll scheduler",
            Arc::clone(health),
            data.stopping.clone(),
            {
                let stopping = stopping.clone();
                move || {
                    crate::lifecycle::poll::run(
                        Arc::clone(&polls),
                        Arc::clone(&wake_polls),
                        stopping.clone(),
                        fanout,
                    )
                }
            },
        )),
        tokio::spawn(supervise(
            "daily scheduler",
            Arc::clone(health),
            data.stopping.clone(),
            move || {
                crate::lifecycle::daily::run(
                    Arc::clone(&dailies),
                    Arc::clone(&wake_daily),
                    stopping.clone(),
                    fanout,
                )
            },
        )),
    ];
    let owner = data.clone();
    started.push(tokio::spawn(crate::lifecycle::quiz::resume(
        data.rounds(http),
        move |guild| owner.owns_guild(guild),
    )));
    started
}

/// serenity's HTTP client for `config`: every REST call with a timeout (serenity 0.12.5 sets none), mentions off by
/// default, and in proxy mode every call through `DISCORD_API_URL` (an `http://` one behind the loopback 429 relay,
/// which stops when `stopping` turns true).
async fn discord_http(
    config: &Config,
    stopping: &tokio::sync::watch::Receiver<bool>,
) -> Result<serenity::all::Http, RunError> {
    // serenity 0.12.5 sets no timeout: every REST call gets one. The client honours HTTPS_PROXY and SSL_CERT_FILE.
    let client = |proxy: Option<reqwest::Proxy>| {
        let mut builder = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(config.http_timeout)
            .connect_timeout(config.http_timeout.min(Duration::from_secs(10)));
        if let Some(proxy) = proxy {
            builder = builder.proxy(proxy);
        }
        builder
            .build()
            .map_err(|error| RunError::Fatal(format!("cannot build the HTTP client: {error}")))
    };
    let mut http = match &config.api_url {
        Some(api_url) if api_url.starts_with("http://") => {
            let mut until_stopped = stopping.clone();
            let stopped = async move {
                let _ = until_stopped.wait_for(|stop| *stop).await;
            };
            let relay = relay::start(api_url, client(None)?, stopped)
                .await
                .map_err(|error| {
                    RunError::Fatal(format!("cannot start the 429 relay on 127.0.0.1: {error}"))
                })?;
            let through_relay = reqwest::Proxy::http(format!("http://{relay}"))
                .map_err(|error| RunError::Fatal(format!("cannot use the 429 relay: {error}")))?;
            HttpBuilder::new(config.token.expose()).client(client(Some(through_relay))?)
        }
        _ => HttpBuilder::new(config.token.expose()).client(client(None)?),
    }
    .default_allowed_mentions(CreateAllowedMentions::new());
    if let Some(api_url) = &config.api_url {
        // serenity applies a proxy only while its own ratelimiter is off (Ratelimiter::perform ignores it).
        http = http.proxy(api_url.as_str()).ratelimiter_disabled(true);
        let shown = crate::config::api_url_for_logs(api_url);
        info!(api_url = %shown, "proxy mode: every REST call goes to DISCORD_API_URL");
        if let Some(path) = crate::config::api_url_path(api_url) {
            warn!(
                api_url = %shown,
                "DISCORD_API_URL has a path ({path}): serenity appends /api/v10 itself, so calls go to \
                 {shown}/api/v10/…; give the base URL only (scheme, host and port)"
            );
        }
    }
    Ok(http.build())
}

/// Ends every shard runner after a fatal close. serenity 0.12.5 keeps a runner whose websocket Discord closed
/// polling it in a loop that never yields (the stream answers "ended" at once), and `shutdown_all` makes it wait for
/// a close frame in another such loop: seen holding a worker thread, and with it the runtime's timers, for good. A
/// Close sent to the runner fails on the closed socket, and a runner whose send fails stops. The connection future
/// is then not waited for: it would only ask for a restart.
async fn stop_closed_shards(shard_manager: &ShardManager) {
    for runner in shard_manager.runners.lock().await.values() {
        runner.runner_tx.shutdown_clean();
    }
}

/// The gateway URL and shard count from `GET /gateway/bot` at `api_url`. The only fallback serenity knows is
/// Discord's own gateway, outside the proxy, so the bot never falls back: a proxy or Discord failing for now (a 5xx, a
/// timeout, no answer) stops it with exit 75 (temporary: the service manager starts it again), and an answer that
/// cannot be right (a rejected token, a wrong URL, no websocket URL) with exit 1, each with one line saying so.
async fn proxy_gateway(
    http: &serenity::all::Http,
    cap: Duration,
    api_url: &str,
) -> Result<serenity::all::BotGateway, RunError> {
    let shown = crate::config::api_url_for_logs(api_url);
    let not_read = |why: String| {
        format!(
            "proxy mode: cannot read the gateway URL from GET {shown}/api/v10/gateway/bot ({why}); not falling \
             back to Discord's own gateway behind the proxy's back"
        )
    };
    match calls::capped(calls::route::GATEWAY_BOT, cap, http.get_bot_gateway()).await {
        Ok(gateway) if gateway.url.starts_with("ws://") || gateway.url.starts_with("wss://") => {
            Ok(gateway)
        }
        Ok(gateway) => Err(RunError::Fatal(format!(
            "{}; not retrying",
            not_read(format!(
                "its url {:?} is not a websocket URL",
                errors::redact(&gateway.url)
            ))
        ))),
        Err(error) => match describe_start_error(&error, true) {
            // A rejected token or a wrong URL says so in its own words.
            fatal @ RunError::Fatal(_) => Err(fatal),
            RunError::Transient(_) => Err(RunError::Transient(format!(
                "{}; stopping to be started again",
                not_read(errors::Failure::of(&error).text().to_owned())
            ))),
        },
    }
}

/// One clear line for a failure to connect or stay connected; never the token. `proxy`: whether `DISCORD_API_URL`
/// is set (only then can a wrong one be the cause).
fn describe_start_error(error: &serenity::Error, proxy: bool) -> RunError {
    use serenity::gateway::GatewayError;
    match (error, errors::classify(error)) {
        (_, Classified::Refused(response)) if response.status_code.as_u16() == 401 => {
            RunError::Fatal(
                "Discord rejected DISCORD_TOKEN (401 Unauthorized): reset the token in the Developer Portal \
                 (your application → Bot) and put the new one in .env; not retrying"
                    .to_owned(),
            )
        }
        (serenity::Error::Gateway(GatewayError::InvalidAuthentication), _) => RunError::Fatal(
            "Discord rejected DISCORD_TOKEN on the gateway (close 4004): reset the token in the Developer Portal \
             and put the new one in .env; not retrying"
                .to_owned(),
        ),
        (serenity::Error::Gateway(GatewayError::InvalidGatewayIntents), _) => RunError::Fatal(
            "Discord closed the gateway with 4013 (invalid intents): the intents value sent is not valid; the bot asks \
             only for GUILDS, so this build is at fault; not reconnecting"
                .to_owned(),
        ),
        (serenity::Error::Gateway(GatewayError::DisallowedGatewayIntents), _) => RunError::Fatal(
            "Discord closed the gateway with 4014 (disallowed intents): the application may not use an intent it \
             asked for; the bot asks only for GUILDS, which needs no approval, so check the application in the \
             Developer Portal; not reconnecting"
                .to_owned(),
        ),
        (_, Classified::Refused(response))
            if matches!(response.status_code.as_u16(), 400 | 403 | 404) =>
        {
            // A wrong base URL or a server that is not Discord answers these in proxy mode; from Discord itself
            // they mean the application cannot use this call. Retrying cannot help either way.
            let advice = if proxy {
                "check DISCORD_API_URL (unset means https://discord.com)"
            } else {
                "check that DISCORD_TOKEN is a bot token of an application that still exists (Developer Portal → your \
                 application → Bot)"
            };
            RunError::Fatal(format!(
                "{} {} answered {} ({}): {advice}; not retrying",
                response.method,
                errors::redact(&crate::config::api_url_for_logs(&response.url)),
                response.status_code,
                errors::redact(&response.error.message)
            ))
        }
        // A network error, or the relay's 502 for one (proxy mode).
        (_, Classified::Network(_)) => {
            RunError::Transient(format!("cannot reach Discord: {}", errors::Failure::of(error).text()))
        }
        (_, Classified::Refused(response)) if response.error.message.starts_with(relay::UNREACHABLE) => {
            RunError::Transient(format!("cannot reach Discord: {}", errors::Failure::of(error).text()))
        }
        (other, _) => RunError::Transient(format!("Discord connection failed: {other}")),
    }
}
