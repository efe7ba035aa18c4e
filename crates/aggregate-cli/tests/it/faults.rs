//! Unattended-run faults: a hostile environment, a failing disk, a killed process, a clock
//! that goes backwards. Each ends in a clear message or a valid file, and the last good output
//! is never lost.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use live_data_schema::Validator;

use crate::support::{NOW, aggregate, fixture_args, fixture_root, read_json, run};

fn assert_valid(path: &Path) -> serde_json::Value {
    let doc = read_json(path);
    let errors = Validator::new().errors(&doc);
    assert!(errors.is_empty(), "{}: {errors:?}", path.display());
    doc
}

#[test]
fn missing_or_relative_home_is_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    for home in [None, Some("relative/home"), Some("")] {
        let mut cmd = aggregate(dir.path(), dir.path());
        cmd.env_remove("HOME");
        if let Some(home) = home {
            cmd.env("HOME", home);
        }
        let result = run(cmd.args(["run", "--no-oauth", "--now", NOW]));
        assert_eq!(result.code, Some(0), "{home:?}: {}", result.stderr);
        assert!(
            result.stderr.contains("no Claude Code transcripts found"),
            "{}",
            result.stderr
        );
        assert_valid(&dir.path().join("live-data.json"));

        // Explicit roots work without a home directory.
        let mut cmd = aggregate(dir.path(), dir.path());
        cmd.env_remove("HOME");
        let result = run(fixture_args(&mut cmd));
        assert_eq!(result.code, Some(0), "{home:?}: {}", result.stderr);
        assert_eq!(
            assert_valid(&dir.path().join("live-data.json"))["scan"]["events"],
            8
        );
    }
}

#[test]
fn claude_config_dir_with_only_empty_parts_falls_back_to_the_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let root = home.join(".claude");
    std::fs::create_dir_all(root.join("projects")).unwrap();
    let source = fixture_root("root-a").join("projects/-home-user-work-lib");
    let target = root.join("projects/-home-user-work-lib");
    std::fs::create_dir_all(&target).unwrap();
    for entry in std::fs::read_dir(source).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), target.join(entry.file_name())).unwrap();
    }
    let result = run(aggregate(dir.path(), &home)
        .env("CLAUDE_CONFIG_DIR", " , ,,")
        .args(["run", "--no-oauth", "--now", NOW]));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let doc = assert_valid(&dir.path().join("live-data.json"));
    assert_eq!(doc["scan"]["files"], 1);
    assert_eq!(
        doc["scan"]["roots"],
        serde_json::json!(["~/.config/claude", "~/.claude"])
    );
}

/// A write error (here: the file size limit, as a full disk would) leaves the previous file
/// intact, names the path, and exits 1.
#[test]
fn a_failed_write_keeps_the_previous_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("live-data.json");
    std::fs::write(&out, "{\"previous\": true}\n").unwrap();
    // `trap '' XFSZ` keeps the signal ignored through exec, so the write fails with EFBIG
    // instead of killing the process.
    let script = format!(
        "trap '' XFSZ; exec prlimit --fsize=2048 {} \"$@\"",
        env!("CARGO_BIN_EXE_aggregate")
    );
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("sh");
    cmd.env_clear()
        .env("HOME", dir.path())
        .env("XDG_STATE_HOME", state.path())
        .env("PATH", "/usr/bin:/bin")
        .current_dir(dir.path())
        .args(["-c", &script, "sh"]);
    let result = run(fixture_args(&mut cmd));
    assert_eq!(result.code, Some(1), "{}", result.stderr);
    assert!(result.stderr.contains("cannot write"), "{}", result.stderr);
    assert!(
        result.stderr.contains(dir.path().to_str().unwrap()),
        "names the path: {}",
        result.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&out).unwrap(),
        "{\"previous\": true}\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(leftovers.len(), 1, "temp file removed: {leftovers:?}");
}

/// A transcript tree big enough that a run takes a while: the fixtures copied many times.
fn big_tree(dir: &Path) -> std::path::PathBuf {
    let root = dir.join("big");
    let lines = std::fs::read_to_string(
        fixture_root("root-a")
            .join("projects/-home-user-work-app/11111111-1111-4111-8111-111111111111.jsonl"),
    )
    .unwrap();
    let filler = format!(
        "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"{}\"}}}}\n",
        "x".repeat(20_000)
    );
    for p in 0..40 {
        let project = root.join(format!("projects/p{p}"));
        std::fs::create_dir_all(&project).unwrap();
        let mut text = String::new();
        for i in 0..40 {
            text.push_str(&lines.replace("msg_01", &format!("msg_{p}_{i}_")));
            text.push_str(&filler);
        }
        std::fs::write(project.join("s.jsonl"), text).unwrap();
    }
    root
}

/// `kill -9` at many moments of a run: the previous output stays valid (or is replaced by a
/// complete new one), and the next run succeeds.
#[test]
fn a_run_killed_at_any_moment_leaves_a_valid_output() {
    let dir = tempfile::tempdir().unwrap();
    let root = big_tree(dir.path());
    let out = dir.path().join("live-data.json");
    let args = |cmd: &mut Command| {
        cmd.args([
            "run",
            "--no-oauth",
            "--now",
            NOW,
            "--threads",
            "1",
            "--claude-dir",
        ])
        .arg(&root)
        .arg("--state-dir")
        .arg(dir.path().join("state"));
    };
    let mut first = aggregate(dir.path(), dir.path());
    args(&mut first);
    assert_eq!(run(&mut first).code, Some(0));
    let good = std::fs::read(&out).unwrap();

    for i in 0..25u64 {
        let mut cmd = aggregate(dir.path(), dir.path());
        args(&mut cmd);
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis((i * 7) % 60));
        let _ = child.kill();
        let _ = child.wait();
        let now = std::fs::read(&out).unwrap();
        assert_valid(&out);
        assert_eq!(
            now.len(),
            good.len(),
            "kill {i}: the output is the old or an identical new file"
        );
    }
    let mut last = aggregate(dir.path(), dir.path());
    args(&mut last);
    let result = run(&mut last);
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert_eq!(std::fs::read(&out).unwrap(), good);
}

/// A clock that goes back: later responses are left out and counted, windows stay sane.
#[test]
fn a_clock_earlier_than_the_last_run_keeps_windows_sane() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(fixture_args(&mut aggregate(dir.path(), dir.path())));
    assert_eq!(result.code, Some(0));
    let mut cmd = aggregate(dir.path(), dir.path());
    cmd.args([
        "run",
        "--no-oauth",
        "--now",
        "2026-11-28T09:30:00Z",
        "--plan",
        "pro",
    ])
    .arg("--claude-dir")
    .arg(fixture_root("root-a"))
    .arg("--claude-dir")
    .arg(fixture_root("root-b"));
    let result = run(&mut cmd);
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let doc = assert_valid(&dir.path().join("live-data.json"));
    assert_eq!(doc["scan"]["eventsAfterNow"], 5);
    let five = &doc["usage"]["claudeWindow"]["windows"][0];
    assert_eq!(five["messages"], 1, "only msg_01A is at or before 09:30");
    assert_eq!(five["resetsAt"], "2026-11-28T14:00:00Z");
    for w in doc["usage"]["claudeWindow"]["windows"].as_array().unwrap() {
        let pct = w["pct"].as_f64().unwrap();
        assert!((0.0..1000.0).contains(&pct), "{w}");
    }
}
