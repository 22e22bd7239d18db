//! The real bot in the test process (`scenebot::bot::run`, the real serenity client over real sockets to the fake
//! Discord) on a clock the test drives, so schedules and quiz rounds play out in moments; a restart is a stop and a
//! start on the same database, a crash the bot's runtime dropped whole.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::fake_discord::FakeDiscord;
use super::harness::T;
use scenebot::catalog::Catalog;
use scenebot::clock::Clock;
use scenebot::config::Config;
use scenebot::store::Store;

/// The bot running in this process: its task, the switch that stops it, and its own runtime (dropped whole on a
/// crash, so no task of the dead bot, such as a lease keeper, lives on behind the test's back).
pub type RunningBot = (
    JoinHandle<Result<(), scenebot::bot::RunError>>,
    oneshot::Sender<()>,
    tokio::runtime::Runtime,
);

/// Starts the bot against `fake` on `clock` and the SQLite file `database`, with `settings` beyond the token and the
/// fake's URL, and waits until this start registered its commands (its setup ran): the first request from index
/// `registered_at` on. Returns the bot and the index after its registration.
pub async fn boot(
    fake: &FakeDiscord,
    clock: Arc<dyn Clock>,
    database: &Path,
    settings: &[(&'static str, String)],
    registered_at: usize,
) -> (RunningBot, usize) {
    let (api_url, token) = (fake.api_url(), fake.token());
    let config = Config::from_lookup(|name| match name {
        "DISCORD_TOKEN" => Some(token.clone()),
        "DISCORD_API_URL" => Some(api_url.clone()),
        _ => settings
            .iter()
            .find(|(setting, _)| *setting == name)
            .map(|(_, value)| value.clone()),
    })
    .unwrap_or_else(|e| panic!("{e}"));
    let store = Store::open(database).unwrap_or_else(|e| panic!("{e}"));
    let catalog = Catalog::bundled().unwrap_or_else(|e| panic!("{e}"));
    let (stop, stopped) = oneshot::channel::<()>();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let task = runtime.spawn(scenebot::bot::run(
        config,
        catalog,
        store,
        clock,
        async move {
            let _ = stopped.await;
        },
    ));
    let registration = fake
        .wait_for_request(
            |r| r.index >= registered_at && r.method == "PUT" && r.route().ends_with("/commands"),
            T,
        )
        .await;
    ((task, stop, runtime), registration.index + 1)
}
