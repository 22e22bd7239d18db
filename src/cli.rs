//! The command line: `scenebot [run]`, `scenebot check [PATH]`, `scenebot preview "/scene drama:hwarang"`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use rand::SeedableRng;

use crate::catalog::Catalog;
use crate::locale::Locale;
use crate::preview;
use crate::render::AboutFacts;
use crate::respond::{Command, Responder};

/// Exit code for invalid input (a bad dataset or command line).
pub const EXIT_INVALID: u8 = 2;

/// scenebot: Park Seo-joon's best-loved K-drama kiss scenes, on Discord.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do (default: run the bot).
    #[command(subcommand)]
    pub action: Option<Action>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Action {
    /// Run the bot (the default). Reads DISCORD_TOKEN and the other settings from the environment and `.env`.
    Run,
    /// Validate a dataset file: a summary and exit 0, or every problem and exit 2.
    Check {
        /// The dataset to check (default: SCENEBOT_DATA, or the bundled dataset).
        path: Option<PathBuf>,
    },
    /// Print the exact interaction response the bot would send for a command. No token, no network.
    Preview {
        /// The command as typed in Discord, e.g. "/scene drama:hwarang".
        line: String,
        /// Print a readable rendering instead of JSON.
        #[arg(long)]
        text: bool,
        /// The user's Discord locale (`ko` for Korean replies).
        #[arg(long, default_value = "en-US")]
        locale: String,
        /// Seed for the random scene, for repeatable output.
        #[arg(long)]
        seed: Option<u64>,
        /// The dataset (default: SCENEBOT_DATA, or the bundled dataset).
        #[arg(long)]
        data: Option<PathBuf>,
    },
    /// Autocomplete choices for `/scene drama:` as the bot would answer them.
    Complete {
        /// What the user has typed so far.
        partial: String,
        /// The user's Discord locale.
        #[arg(long, default_value = "en-US")]
        locale: String,
        /// The dataset (default: SCENEBOT_DATA, or the bundled dataset).
        #[arg(long)]
        data: Option<PathBuf>,
    },
}

/// Runs the command line and returns the process exit code.
pub fn main() -> ExitCode {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.action.unwrap_or(Action::Run) {
        Action::Run => crate::bot::run_from_env(),
        Action::Check { path } => check(path.or_else(data_from_env)),
        Action::Preview {
            line,
            text,
            locale,
            seed,
            data,
        } => preview(
            &line,
            text,
            Locale::from_discord(&locale),
            seed,
            data.or_else(data_from_env),
        ),
        Action::Complete {
            partial,
            locale,
            data,
        } => complete(
            &partial,
            Locale::from_discord(&locale),
            data.or_else(data_from_env),
        ),
    }
}

fn data_from_env() -> Option<PathBuf> {
    std::env::var_os("SCENEBOT_DATA")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

/// `scenebot check`: every problem on stderr and exit 2, or a summary table and exit 0.
fn check(path: Option<PathBuf>) -> ExitCode {
    let catalog = match Catalog::load(path.as_deref()) {
        Ok(catalog) => catalog,
        Err(error) => {
            eprintln!("{error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let name = path.map_or_else(
        || crate::catalog::BUNDLED_NAME.to_owned(),
        |p| p.display().to_string(),
    );
    let mut out = format!(
        "{name}: valid (schema {}, revision {}, {} scenes)\n\n{:<3} {:<18} {:<34} {:<10} {:<4} {}\n",
        catalog.schema_version,
        catalog.revision,
        catalog.scenes.len(),
        "#",
        "id",
        "drama",
        "years",
        "ep",
        "partner"
    );
    for (i, scene) in catalog.scenes.iter().enumerate() {
        out.push_str(&format!(
            "{:<3} {:<18} {:<34} {:<10} {:<4} {}\n",
            i + 1,
            scene.id,
            scene.drama.title,
            scene.drama.years(),
            scene
                .episode
                .map_or_else(|| "-".to_owned(), |e| e.to_string()),
            scene.partner.actor.en
        ));
    }
    out.push_str(&format!("\nSee also: {}\n", catalog.see_also.url));
    print_out(&out)
}

fn load_for_cli(data: Option<PathBuf>) -> Result<Responder, ExitCode> {
    Catalog::load(data.as_deref())
        .map(Responder::new)
        .map_err(|error| {
            eprintln!("{error}");
            ExitCode::from(EXIT_INVALID)
        })
}

/// `scenebot preview`.
fn preview(
    line: &str,
    text: bool,
    locale: Locale,
    seed: Option<u64>,
    data: Option<PathBuf>,
) -> ExitCode {
    let responder = match load_for_cli(data) {
        Ok(responder) => responder,
        Err(code) => return code,
    };
    let command: Command = match preview::parse_command_line(line) {
        Ok(command) => command,
        Err(error) => {
            eprintln!("scenebot preview: {error}");
            return ExitCode::from(EXIT_INVALID);
        }
    };
    let mut rng = match seed {
        Some(seed) => rand::rngs::StdRng::seed_from_u64(seed),
        None => rand::rngs::StdRng::from_os_rng(),
    };
    let response = responder.command(&command, locale, AboutFacts { uptime_seconds: 0 }, &mut rng);
    print_response(&response, text)
}

/// `scenebot complete`.
fn complete(partial: &str, locale: Locale, data: Option<PathBuf>) -> ExitCode {
    match load_for_cli(data) {
        Ok(responder) => print_response(
            &serenity::all::CreateInteractionResponse::Autocomplete(
                responder.autocomplete(partial, locale),
            ),
            false,
        ),
        Err(code) => code,
    }
}

fn print_response(response: &serenity::all::CreateInteractionResponse, text: bool) -> ExitCode {
    let json = match serde_json::to_value(response) {
        Ok(json) => json,
        Err(error) => {
            eprintln!("scenebot: cannot serialize the response: {error}");
            return ExitCode::FAILURE;
        }
    };
    let output = if text {
        preview::as_text(&json)
    } else {
        serde_json::to_string_pretty(&json).unwrap_or_default()
    };
    print_out(&format!("{output}\n"))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error worth a panic.
fn print_out(text: &str) -> ExitCode {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) if error.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("scenebot: cannot write the output: {error}");
            ExitCode::FAILURE
        }
    }
}
