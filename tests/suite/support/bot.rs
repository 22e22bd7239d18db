//! The real bot, as its own process: the `scenebot` binary started against a fake Discord, its log captured.

use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::Notify;

use super::TempDir;

/// A running `scenebot` process.
pub struct BotProcess {
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    changed: Arc<Notify>,
    readers: Vec<tokio::task::JoinHandle<()>>,
    /// The directory holding its database.
    pub dir: Arc<TempDir>,
}

/// How to start the bot.
pub struct BotOptions<'a> {
    /// `DISCORD_API_URL`.
    pub api_url: String,
    /// `DISCORD_TOKEN` (None: unset).
    pub token: Option<String>,
    /// More environment variables.
    pub env: Vec<(&'a str, String)>,
    /// Reuse this directory (and so its database) instead of a fresh one.
    pub dir: Option<Arc<TempDir>>,
}

impl<'a> BotOptions<'a> {
    /// Against `api_url` with `token`.
    pub fn new(api_url: &str, token: &str) -> BotOptions<'a> {
        BotOptions {
            api_url: api_url.to_owned(),
            token: Some(token.to_owned()),
            env: Vec::new(),
            dir: None,
        }
    }
}

impl BotProcess {
    /// Starts the binary; its stderr (the log) is collected line by line.
    pub fn start(options: BotOptions<'_>) -> BotProcess {
        let dir = options.dir.unwrap_or_else(|| Arc::new(TempDir::new()));
        let mut command = Command::new(env!("CARGO_BIN_EXE_scenebot"));
        for variable in super::SETTINGS {
            command.env_remove(variable);
        }
        command
            .current_dir(&dir.path)
            .env("DISCORD_API_URL", &options.api_url)
            .env("SCENEBOT_DATABASE", dir.path.join("scenebot.sqlite3"))
            .env("RUST_LOG", "scenebot=debug,serenity=info,poise=info")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if let Some(token) = &options.token {
            command.env("DISCORD_TOKEN", token);
        }
        for (name, value) in &options.env {
            command.env(name, value);
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start scenebot: {error}"));
        let logs = Arc::new(Mutex::new(Vec::new()));
        let changed = Arc::new(Notify::new());
        let mut readers = Vec::new();
        for stream in [
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn tokio::io::AsyncRead + Unpin + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let logs = Arc::clone(&logs);
            let changed = Arc::clone(&changed);
            readers.push(tokio::spawn(async move {
                let mut lines = BufReader::new(stream).lines();
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Ok(mut logs) = logs.lock() {
                        logs.push(line);
                    }
                    changed.notify_waiters();
                }
                changed.notify_waiters();
            }));
        }
        BotProcess {
            child,
            logs,
            changed,
            readers,
            dir,
        }
    }

    /// Everything logged so far.
    /// The URL of the bot's `/health`, from its log line (`SCENEBOT_HEALTH_ADDR` with port 0 picks one).
    pub async fn health_url(&self) -> String {
        let line = self
            .wait_log("health endpoint listening", super::harness::T)
            .await;
        let addr = line
            .split("addr=")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no address in {line:?}"));
        format!("http://{addr}/health")
    }

    pub fn logs(&self) -> String {
        self.logs.lock().map(|l| l.join("\n")).unwrap_or_default()
    }

    /// Waits until a log line contains `needle`; panics with the log after `limit`.
    pub async fn wait_log(&self, needle: &str, limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if let Some(line) = self
                .logs
                .lock()
                .ok()
                .and_then(|logs| logs.iter().find(|l| l.contains(needle)).cloned())
            {
                return line;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "no log line with {needle:?} within {limit:?}; the log:\n{}",
                    self.logs()
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// How many log lines so far contain `needle`.
    pub fn log_count(&self, needle: &str) -> usize {
        self.logs
            .lock()
            .map(|logs| logs.iter().filter(|l| l.contains(needle)).count())
            .unwrap_or_default()
    }

    /// Waits until at least `n` log lines contain `needle`; panics with the log after `limit`.
    pub async fn wait_log_count(&self, needle: &str, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if self.log_count(needle) >= n {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "fewer than {n} log lines with {needle:?} within {limit:?}; the log:\n{}",
                    self.logs()
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// Waits until one log line contains every one of `needles`; panics with the log after `limit`.
    pub async fn wait_log_all(&self, needles: &[&str], limit: Duration) -> String {
        let deadline = Instant::now() + limit;
        loop {
            let notified = self.changed.notified();
            if let Some(line) = self.logs.lock().ok().and_then(|logs| {
                logs.iter()
                    .find(|l| needles.iter().all(|n| l.contains(n)))
                    .cloned()
            }) {
                return line;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                panic!(
                    "no log line with all of {needles:?} within {limit:?}; the log:\n{}",
                    self.logs()
                );
            }
            let _ = tokio::time::timeout(left.min(Duration::from_millis(200)), notified).await;
        }
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits for the process to exit; panics with the log after `limit`.
    pub async fn wait_exit(&mut self, limit: Duration) -> ExitStatus {
        match tokio::time::timeout(limit, self.child.wait()).await {
            Ok(Ok(status)) => {
                // The pipes close with the process: let the readers take in its last lines.
                for reader in self.readers.drain(..) {
                    let _ = tokio::time::timeout(Duration::from_secs(2), reader).await;
                }
                status
            }
            Ok(Err(error)) => panic!("cannot wait for scenebot: {error}"),
            Err(_) => panic!(
                "scenebot did not exit within {limit:?}; the log:\n{}",
                self.logs()
            ),
        }
    }

    /// Sends SIGTERM, as systemd does.
    pub fn terminate(&self) {
        self.signal("-TERM");
    }

    /// Sends SIGINT, as Ctrl-C does.
    pub fn interrupt(&self) {
        self.signal("-INT");
    }

    /// SIGSTOP: the process is frozen, as on a stalled machine, until [`BotProcess::thaw`]. Its sockets stay open
    /// and what arrives waits in the kernel's buffers.
    pub fn freeze(&self) {
        self.signal("-STOP");
    }

    /// SIGCONT: a frozen process runs again.
    pub fn thaw(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let Some(pid) = self.child.id() else {
            return;
        };
        let status = std::process::Command::new("kill")
            .args([signal, &pid.to_string()])
            .status()
            .unwrap_or_else(|error| panic!("cannot run kill: {error}"));
        assert!(status.success(), "kill {signal} {pid} failed");
    }

    /// SIGKILL: the process dies at once, as in a crash.
    pub async fn kill(&mut self) {
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(10), self.child.wait()).await;
    }
}
