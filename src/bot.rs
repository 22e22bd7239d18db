//! The Discord layer. (Placeholder until the bot issue lands: `run` explains and exits.)

use std::process::ExitCode;

/// Runs the bot with settings from the environment.
pub fn run_from_env() -> ExitCode {
    eprintln!("scenebot: the Discord bot is not built yet; `scenebot check` and `scenebot preview` work today");
    ExitCode::FAILURE
}
