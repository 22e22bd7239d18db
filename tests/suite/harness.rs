//! The test run says what it checked: a test that checks nothing for want of PostgreSQL or Discord's OpenAPI
//! description is named on a plain `cargo test`, past the harness's capture; CI finds PostgreSQL where it is told;
//! every test RELIABILITY.md names exists.

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

/// Item 16: RELIABILITY.md's last column names the tests that prove each row; a renamed or moved test must not
/// leave a name that a `cargo test` filter no longer finds. Suite names are checked against this binary's own
/// `--list`; unit-test names against the source file their path names (`bot::relay::tests::x` → `src/bot/relay.rs`,
/// its `mod.rs` or its `tests.rs`).
#[test]
fn every_test_reliability_md_names_exists_where_it_says() {
    let root = env!("CARGO_MANIFEST_DIR");
    let doc = std::fs::read_to_string(format!("{root}/RELIABILITY.md"))
        .unwrap_or_else(|e| panic!("RELIABILITY.md: {e}"));
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let listed = Command::new(exe)
        .args(["--list", "--format=terse"])
        .output()
        .unwrap_or_else(|e| panic!("cannot list the suite's tests: {e}"));
    let suite: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|line| line.strip_suffix(": test"))
        .map(str::to_owned)
        .collect();
    assert!(
        suite.len() > 100,
        "the suite lists its tests: {}",
        suite.len()
    );
    let mut named = 0;
    let mut wrong = Vec::new();
    for row in doc.lines().filter(|l| l.starts_with('|')) {
        let Some(tests) = row.trim_end_matches('|').rsplit('|').next() else {
            continue;
        };
        for name in tests.split('`').skip(1).step_by(2) {
            let path: Vec<&str> = name.split("::").collect();
            let plain = |s: &str| {
                !s.is_empty()
                    && s.bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            };
            if path.len() < 2 || !path.iter().all(|s| plain(s)) {
                continue;
            }
            named += 1;
            // A suite test (`cargo test --test suite` lists it), else a unit test in the file its path names.
            let in_suite = suite.iter().any(|test| test == name);
            let in_source = || {
                let Some((test, module)) = path.split_last() else {
                    return false;
                };
                let module: Vec<&str> = module.iter().copied().filter(|s| *s != "tests").collect();
                let module = module.join("/");
                ["", "/mod", "/tests"].iter().any(|tail| {
                    std::fs::read_to_string(format!("{root}/src/{module}{tail}.rs"))
                        .is_ok_and(|text| text.contains(&format!("fn {test}(")))
                })
            };
            let found = in_suite || in_source();
            if !found {
                wrong.push(name.to_owned());
            }
        }
    }
    assert!(named > 100, "RELIABILITY.md names its tests: {named}");
    assert!(
        wrong.is_empty(),
        "RELIABILITY.md names tests that are not there: {wrong:#?}"
    );
}
