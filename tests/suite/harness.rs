//! The test run says what it checked: a test that checks nothing for want of PostgreSQL or Discord's OpenAPI
//! description is named on a plain `cargo test`, past the harness's capture; CI finds PostgreSQL where it is told.

use std::process::Command;

use crate::support::SKIPPED;

/// Runs one test of this very binary (`--exact`) with `env` set and `unset` removed; returns its whole output.
fn run_alone(test: &str, env: &[(&str, &str)], unset: &[&str]) -> String {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut command = Command::new(exe);
    command.args([test, "--exact", "--test-threads=1"]);
    for name in unset {
        command.env_remove(name);
    }
    for (name, value) in env {
        command.env(name, value);
    }
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {test}: {e}"));
    assert!(output.status.success(), "{test}: {output:?}");
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// Item 15: passing tests that checked nothing say so where a plain `cargo test` shows it (libtest swallows a
/// passing test's `println!` and `eprintln!`).
#[test]
fn tests_that_check_nothing_are_named_on_a_plain_cargo_test() {
    let spec_test = "spec::a_create_message_callback_is_valid";
    let output = run_alone(spec_test, &[], &["SCENEBOT_OPENAPI_SPEC"]);
    assert!(
        output.contains(&format!(
            "{SKIPPED} {spec_test}: SCENEBOT_OPENAPI_SPEC is not set"
        )),
        "{output}"
    );
    let postgres_test = "store_contract::on_postgres::records_come_back_typed";
    let output = run_alone(
        postgres_test,
        &[("SCENEBOT_POSTGRES_BIN", "/nonexistent")],
        &["SCENEBOT_REQUIRE_POSTGRES"],
    );
    assert!(
        output.contains(&format!("{SKIPPED} {postgres_test}: ")) && output.contains("PostgreSQL"),
        "{output}"
    );
}

/// Item 15: `.ci/run` looks for PostgreSQL where `SCENEBOT_POSTGRES_BIN` says (as the tests do) before it reaches
/// for apt, and a wrong one is an error, not an install.
#[test]
fn ci_finds_postgresql_in_scenebot_postgres_bin_first() {
    let dir = crate::support::TempDir::new();
    let find = |bin: &std::path::Path| {
        Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/find-postgres"))
            .env("SCENEBOT_POSTGRES_BIN", bin)
            .output()
            .unwrap_or_else(|e| panic!("cannot run .ci/find-postgres: {e}"))
    };
    let empty = find(&dir.path);
    assert!(!empty.status.success(), "no initdb there: {empty:?}");
    let initdb = dir.path.join("initdb");
    std::fs::write(&initdb, "#!/bin/sh\n").unwrap_or_else(|e| panic!("{e}"));
    let made_executable = Command::new("chmod")
        .arg("+x")
        .arg(&initdb)
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(made_executable.success());
    let found = find(&dir.path);
    assert!(found.status.success(), "{found:?}");
    assert_eq!(
        String::from_utf8_lossy(&found.stdout).trim(),
        dir.path.display().to_string()
    );
    let ci = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/.ci/run"))
        .unwrap_or_else(|e| panic!("{e}"));
    let found_at = ci.find(".ci/find-postgres").unwrap_or(usize::MAX);
    let apt_at = ci.find("apt-get install").unwrap_or(0);
    assert!(found_at < apt_at, ".ci/run looks before installing");
    assert!(
        ci.contains("export SCENEBOT_REQUIRE_POSTGRES=1"),
        "CI never skips"
    );
}
