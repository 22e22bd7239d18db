//! Skip notices that a plain `cargo test` shows: a test that checks nothing must say so where people look.

/// The first word of every skip notice, for people and for the test that checks the notices are seen.
pub const SKIPPED: &str = "SKIPPED";

/// Says that the running test checks nothing (or less than its name promises), and why: one line written to the
/// process's stderr itself, past the test harness's capture (which swallows a passing test's `println!` and
/// `eprintln!`), so a plain `cargo test` shows it. The test is named from its thread, which libtest names after it.
pub fn skipped(why: &str) {
    use std::io::Write;
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("a test");
    // One write, starting on a fresh line: libtest prints its own "test … ok" lines on stdout meanwhile.
    let line = format!("\n{SKIPPED} {test}: {why}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}
