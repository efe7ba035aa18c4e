//! `aggregate validate FILE`.

use crate::support::{aggregate, repo_root, run};

#[test]
fn valid_and_legacy_files_pass() {
    let dir = tempfile::tempdir().unwrap();
    let legacy = repo_root().join("fixtures/live-data/legacy-v0.json");
    let result = run(aggregate(dir.path(), dir.path())
        .arg("validate")
        .arg(&legacy));
    assert_eq!(result.code, Some(0), "{}{}", result.stdout, result.stderr);
    assert!(result.stdout.ends_with(": valid\n"), "{}", result.stdout);
}

#[test]
fn invalid_file_lists_every_error_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let invalid = repo_root().join("fixtures/live-data/invalid.json");
    let result = run(aggregate(dir.path(), dir.path())
        .arg("validate")
        .arg(&invalid));
    assert_eq!(result.code, Some(1));
    for path in [
        "/schemaVersion:",
        "/generatedAt:",
        "/usage/claudeWindow/windows/0/pct:",
        "/daily/0/date:",
    ] {
        assert!(
            result.stdout.contains(path),
            "{path} missing from:\n{}",
            result.stdout
        );
    }
}

#[test]
fn not_json_and_missing_files_fail_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.json");
    std::fs::write(&garbage, "{\"schemaVersion\": 1,").unwrap();
    let result = run(aggregate(dir.path(), dir.path())
        .arg("validate")
        .arg(&garbage));
    assert_eq!(result.code, Some(1));
    assert!(result.stdout.contains("not JSON"), "{}", result.stdout);

    let result = run(aggregate(dir.path(), dir.path()).args(["validate", "missing.json"]));
    assert_eq!(result.code, Some(1));
    assert!(
        result.stderr.contains("cannot read missing.json"),
        "{}",
        result.stderr
    );
}
