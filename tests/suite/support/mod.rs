//! Test helpers shared by the scenarios.

pub mod bot;
pub mod fake_discord;
pub mod harness;
pub mod in_process;
pub mod openapi;
pub mod postgres;
pub mod skip;
pub mod tls_proxy;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use skip::{skipped, SKIPPED};

/// Every setting the bot reads: tests set what they need, and nothing from the developer's shell leaks in.
pub const SETTINGS: [&str; 14] = [
    "DISCORD_TOKEN",
    "DISCORD_API_URL",
    "DISCORD_GUILD_ID",
    "SCENEBOT_DATA",
    "SCENEBOT_DATABASE",
    "SCENEBOT_HEALTH_ADDR",
    "SCENEBOT_HTTP_TIMEOUT_SECONDS",
    "SCENEBOT_WATCHDOG_SECONDS",
    "SCENEBOT_SHARDS",
    "SCENEBOT_LEASE_SECONDS",
    "SCENEBOT_STORE_TIMEOUT_SECONDS",
    "HTTPS_PROXY",
    "HTTP_PROXY",
    "RUST_LOG",
];

/// The `scenebot` binary cargo built for these tests.
pub fn scenebot() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_scenebot"));
    for variable in SETTINGS {
        command.env_remove(variable);
    }
    command.current_dir(std::env::temp_dir());
    command
}

/// Runs the binary with `args` and returns its output.
pub fn run(args: &[&str]) -> Output {
    scenebot()
        .args(args)
        .output()
        .unwrap_or_else(|error| panic!("cannot run scenebot {args:?}: {error}"))
}

/// The shipped dataset's text.
pub fn shipped_dataset() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/scenes.json");
    std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// A fresh temporary directory, removed when dropped.
pub struct TempDir {
    /// The directory.
    pub path: PathBuf,
}

impl TempDir {
    /// Creates a new, empty directory.
    pub fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "scenebot-test-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        TempDir { path }
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// A file in a fresh temporary directory, removed with the directory when dropped.
pub struct TempFile {
    _dir: TempDir,
    /// The file's path.
    pub path: PathBuf,
}

impl TempFile {
    /// Writes `contents` to a new file named `name`.
    pub fn new(name: &str, contents: &str) -> TempFile {
        let dir = TempDir::new();
        let path = dir.path.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|error| panic!("cannot write {}: {error}", path.display()));
        TempFile { _dir: dir, path }
    }

    /// The path as text.
    pub fn arg(&self) -> &str {
        self.path.to_str().unwrap_or_default()
    }
}
