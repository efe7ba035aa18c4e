//! The usage ledger through the real binary: incremental runs equal a full `--rescan`, history
//! outlives deleted transcripts, a damaged ledger is rebuilt, concurrent runs stay correct.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use crate::support::{NOW, Run, aggregate, fixture_root, read_json, run};

/// The two fixture roots copied into `dir/roots` (so that tests can change them).
fn copy_fixtures(dir: &Path) -> Vec<PathBuf> {
    fn copy(from: &Path, to: &Path) {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            let target = to.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                copy(&entry.path(), &target);
            } else {
                std::fs::copy(entry.path(), &target).unwrap();
            }
        }
    }
    ["root-a", "root-b"]
        .iter()
        .map(|name| {
            let to = dir.join("roots").join(name);
            copy(&fixture_root(name), &to);
            to
        })
        .collect()
}

struct Setup {
    dir: tempfile::TempDir,
    roots: Vec<PathBuf>,
}

impl Setup {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let roots = copy_fixtures(dir.path());
        Self { dir, roots }
    }

    fn state(&self) -> PathBuf {
        self.dir.path().join("state")
    }

    fn command(&self, out: &str, extra: &[&str]) -> std::process::Command {
        let mut cmd = aggregate(self.dir.path(), self.dir.path());
        cmd.args(["run", "--no-oauth", "--now", NOW, "--out", out])
            .arg("--state-dir")
            .arg(self.state());
        for root in &self.roots {
            cmd.arg("--claude-dir").arg(root);
        }
        cmd.args(extra);
        cmd
    }

    /// Runs and returns the written document and the run.
    fn run(&self, extra: &[&str]) -> (serde_json::Value, Run) {
        let result = run(&mut self.command("live-data.json", extra));
        assert_eq!(result.code, Some(0), "{}", result.stderr);
        (read_json(&self.dir.path().join("live-data.json")), result)
    }

    /// A full scan without the ledger, written elsewhere.
    fn rescan(&self) -> serde_json::Value {
        let result = run(&mut self.command("rescan.json", &["--rescan"]));
        assert_eq!(result.code, Some(0), "{}", result.stderr);
        read_json(&self.dir.path().join("rescan.json"))
    }

    fn transcript(&self, root: usize, name: &str) -> PathBuf {
        self.roots[root].join("projects").join(name)
    }

    fn append(&self, path: &Path, text: &str) {
        use std::io::Write;
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        file.write_all(text.as_bytes()).unwrap();
    }

    fn ledger(&self) -> PathBuf {
        let found: Vec<PathBuf> = std::fs::read_dir(self.state())
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
        assert_eq!(found.len(), 1, "{found:?}");
        found[0].clone()
    }
}

const APP: &str = "-home-user-work-app/11111111-1111-4111-8111-111111111111.jsonl";
const LIB: &str = "-home-user-work-lib/22222222-2222-4222-8222-222222222222.jsonl";

fn new_line(id: &str, output: u64) -> String {
    format!(
        r#"{{"isSidechain":false,"cwd":"/home/user/work/app","sessionId":"s-9","message":{{"id":"{id}","model":"claude-opus-4-5-20251101","usage":{{"input_tokens":7,"cache_creation_input_tokens":0,"cache_read_input_tokens":90,"output_tokens":{output}}}}},"requestId":"req_{id}","type":"assistant","timestamp":"2026-11-28T11:45:00.000Z"}}"#
    )
}

#[test]
fn two_runs_with_an_append_equal_one_rescan() {
    let s = Setup::new();
    let (first, result) = s.run(&[]);
    assert_eq!(first, s.rescan());
    assert!(
        result.stderr.contains("4 files read ("),
        "{}",
        result.stderr
    );
    s.append(
        &s.transcript(0, APP),
        &format!("{}\n", new_line("msg_new1", 40)),
    );
    let (second, result) = s.run(&[]);
    assert!(
        result.stderr.contains(", 1 files read ("),
        "{}",
        result.stderr
    );
    assert_eq!(second, s.rescan());
    assert_ne!(second["totals"], first["totals"]);
    // Nothing new: nothing read, same document.
    let (third, result) = s.run(&[]);
    assert!(
        result.stderr.contains(", 0 files read (0 B new)"),
        "{}",
        result.stderr
    );
    assert_eq!(third, second);
}

#[test]
fn a_line_appended_in_two_halves_counts_once() {
    let s = Setup::new();
    s.run(&[]);
    let line = new_line("msg_half", 55);
    let (head, tail) = line.split_at(line.len() / 2);
    s.append(&s.transcript(0, LIB), head);
    let (during, _) = s.run(&[]);
    assert_eq!(during, s.rescan());
    s.append(&s.transcript(0, LIB), &format!("{tail}\n"));
    let (after, _) = s.run(&[]);
    assert_eq!(after, s.rescan());
    let messages = |doc: &serde_json::Value| doc["totals"]["messages"].as_u64().unwrap();
    assert_eq!(messages(&after), messages(&during) + 1);
}

#[test]
fn deleted_transcripts_keep_counting_renamed_ones_are_not_read_again() {
    let s = Setup::new();
    let (before, _) = s.run(&[]);
    // Renamed: same totals, nothing read.
    let from = s.transcript(0, LIB);
    let to = s.transcript(0, "-home-user-work-lib/renamed.jsonl");
    std::fs::rename(&from, &to).unwrap();
    let (renamed, result) = s.run(&[]);
    assert!(
        result.stderr.contains(", 0 files read (0 B new)"),
        "{}",
        result.stderr
    );
    assert_eq!(renamed["totals"], before["totals"]);
    assert_eq!(renamed, s.rescan());
    // Deleted: the totals and daily activity stay; a rescan no longer sees them.
    std::fs::remove_file(&to).unwrap();
    let (deleted, _) = s.run(&[]);
    assert_eq!(deleted["totals"], before["totals"]);
    assert_eq!(deleted["daily"], before["daily"]);
    assert_eq!(deleted["scan"]["files"], 3);
    let rescan = s.rescan();
    assert_ne!(rescan["totals"], before["totals"]);
    // The rescan neither read nor wrote the ledger.
    let (again, _) = s.run(&[]);
    assert_eq!(again["totals"], before["totals"]);
}

#[test]
fn rescan_does_not_create_a_ledger() {
    let s = Setup::new();
    s.rescan();
    assert!(!s.state().exists());
    let help = run(aggregate(s.dir.path(), s.dir.path()).args(["run", "--help"]));
    assert!(help.stdout.contains("--rescan"), "{}", help.stdout);
}

/// Offsets of every record boundary of a ledger file (see the usage-ledger format).
fn boundaries(bytes: &[u8]) -> Vec<usize> {
    let roots_len = u32::from_le_bytes(bytes[20..24].try_into().unwrap()) as usize;
    let mut pos = 24 + roots_len + 4;
    let mut out = vec![pos];
    while pos < bytes.len() {
        let len = u32::from_le_bytes(bytes[pos..pos + 4].try_into().unwrap()) as usize;
        pos += 9 + len;
        out.push(pos);
    }
    out
}

#[test]
fn a_ledger_cut_anywhere_or_damaged_gives_the_same_document() {
    let s = Setup::new();
    s.run(&[]);
    s.append(
        &s.transcript(0, APP),
        &format!("{}\n", new_line("msg_cut", 9)),
    );
    let (want, _) = s.run(&[]);
    assert_eq!(want, s.rescan());
    let ledger = s.ledger();
    let good = std::fs::read(&ledger).unwrap();
    let mut cuts = boundaries(&good);
    cuts.extend([1, 7, 13, good.len() / 3, good.len() / 2, good.len() - 1]);
    for cut in cuts {
        std::fs::write(&ledger, &good[..cut]).unwrap();
        let (doc, result) = s.run(&[]);
        assert_eq!(doc, want, "cut at {cut}: {}", result.stderr);
    }
    let mut garbage = good.clone();
    garbage[0..8].copy_from_slice(b"NOTALEDG");
    std::fs::write(&ledger, &garbage).unwrap();
    let (doc, result) = s.run(&[]);
    assert_eq!(doc, want);
    assert!(
        result.stderr.contains("moved aside and rebuilt"),
        "{}",
        result.stderr
    );
}

#[test]
fn concurrent_runs_end_cleanly_or_report_the_lock() {
    let s = Setup::new();
    // A bigger tree, so that the runs overlap.
    let big = s.transcript(1, "-home-user-work-app/big.jsonl");
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(&new_line(&format!("msg_big{i}"), i % 97));
        text.push('\n');
    }
    s.append(&big, &text);
    let spawn = |out: &str| {
        s.command(out, &["--threads", "1"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let children = [spawn("one.json"), spawn("two.json")];
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        match output.status.code() {
            Some(0) => {}
            Some(1) => assert!(stderr.contains("another aggregate run"), "{stderr}"),
            other => panic!("exit {other:?}: {stderr}"),
        }
    }
    let (doc, result) = s.run(&[]);
    assert!(
        result.stderr.contains(", 0 files read (0 B new)"),
        "{}",
        result.stderr
    );
    assert_eq!(doc, s.rescan());
}
