//! Bad command lines: a clear message, exit 2, nothing written, the old file untouched.

use crate::support::{NOW, aggregate, fixture_args, fixture_root, run};

#[track_caller]
fn check_refused(extra: &[&str], message: &str) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live-data.json");
    std::fs::write(&out, "previous\n").unwrap();
    let mut cmd = aggregate(dir.path(), dir.path());
    cmd.arg("run")
        .arg("--claude-dir")
        .arg(fixture_root("root-a"));
    if !extra.contains(&"--now") {
        cmd.args(["--now", NOW]);
    }
    let result = run(cmd.args(extra));
    assert_eq!(result.code, Some(2), "{extra:?}: {}", result.stderr);
    assert!(
        result.stderr.contains(message),
        "{extra:?}: want {message:?} in {}",
        result.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "previous\n",
        "{extra:?} touched the output"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(leftovers.len(), 1, "{extra:?} left files behind");
}

#[test]
fn bad_flag_values_are_refused() {
    check_refused(
        &["--timezone", "Mars/Olympus"],
        "unknown time zone \"Mars/Olympus\"",
    );
    check_refused(&["--now", "yesterday"], "invalid --now \"yesterday\"");
    check_refused(&["--now", "2026-11-28T12:00:00"], "invalid --now");
    check_refused(&["--plan", "gold"], "invalid --plan");
    check_refused(&["--threads", "0"], "--threads must be between 1 and 256");
    check_refused(&["--threads", "257"], "--threads must be between 1 and 256");
    check_refused(
        &["--prices", "/nonexistent/prices.json"],
        "cannot read --prices",
    );
    check_refused(
        &["--out", "/nonexistent-dir/live-data.json"],
        "does not exist",
    );
    check_refused(&["--frobnicate"], "unexpected argument '--frobnicate'");
}

#[test]
fn invalid_price_table_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let prices = dir.path().join("prices.json");
    std::fs::write(
        &prices,
        "{\"version\": 1, \"families\": [{\"family\": \"opus\"}]}\n",
    )
    .unwrap();
    let result = run(fixture_args(&mut aggregate(dir.path(), dir.path()))
        .args(["--prices", prices.to_str().unwrap()]));
    assert_eq!(result.code, Some(2), "{}", result.stderr);
    assert!(
        result.stderr.contains("invalid price table"),
        "{}",
        result.stderr
    );
    assert!(!dir.path().join("live-data.json").exists());
}

#[test]
fn help_explains_the_commands_and_exit_codes() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(aggregate(dir.path(), dir.path()).args(["run", "--help"]));
    assert_eq!(result.code, Some(0));
    for needle in [
        "--claude-dir",
        "--now",
        "--timezone",
        "--plan",
        "--prices",
        "Exit status",
    ] {
        assert!(result.stdout.contains(needle), "{needle} missing from help");
    }
}
