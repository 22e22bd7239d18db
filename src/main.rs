//! The `scenebot` binary: see `scenebot --help`.

fn main() -> std::process::ExitCode {
    scenebot::cli::main()
}
