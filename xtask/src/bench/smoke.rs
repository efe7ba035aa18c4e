//! The generator checked against `claude-logs`: a small corpus is byte-for-byte reproducible,
//! and scanning it finds exactly the responses and token sums the generator says it wrote.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use claude_logs::{ScanOptions, ScanOutput, scan_roots};

use super::corpus::{self, DayCounts, Tokens, Truth, utc_day};

const SIZE: u64 = 2_000_000;
/// A seed whose 2 MB corpus holds every construction (checked below).
const SEED: u64 = 36;

fn files(root: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut paths = Vec::new();
    super::walk(root, &mut paths).unwrap();
    paths
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p.strip_prefix(root).unwrap().to_path_buf(), bytes)
        })
        .collect()
}

fn scan(root: &Path) -> ScanOutput {
    let options = ScanOptions {
        threads: 2,
        ..ScanOptions::default()
    };
    scan_roots(&[root.to_path_buf()], &options).1
}

fn days(output: &ScanOutput) -> BTreeMap<String, DayCounts> {
    let mut days: BTreeMap<String, DayCounts> = BTreeMap::new();
    for e in &output.events {
        let day = days
            .entry(utc_day(e.timestamp.timestamp_millis()))
            .or_default();
        day.tokens.add(&Tokens {
            input: e.tokens.input,
            output: e.tokens.output,
            cache_creation: e.tokens.cache_creation,
            cache_read: e.tokens.cache_read,
        });
        day.responses += 1;
    }
    days
}

fn sum<'a>(days: impl Iterator<Item = &'a Tokens>) -> Tokens {
    let mut t = Tokens::default();
    for d in days {
        t.add(d);
    }
    t
}

#[test]
fn generator_is_deterministic_and_its_truth_is_what_a_scan_finds() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let truth = corpus::generate(a.path(), SIZE, SEED).unwrap();
    let again = corpus::generate(b.path(), SIZE, SEED).unwrap();
    assert_eq!(truth, again);
    let (fa, fb) = (files(a.path()), files(b.path()));
    assert_eq!(fa.len() as u64, truth.files);
    assert!(fa == fb, "same size and seed must give the same bytes");
    assert!(
        corpus::generate(a.path(), SIZE, SEED).is_err(),
        "no overwrite"
    );

    // Every construction is present.
    assert!(
        truth.bytes >= SIZE && truth.bytes < SIZE + SIZE / 2,
        "{}",
        truth.bytes
    );
    assert!(truth.projects >= 3);
    assert!(truth.resumed_sessions > 0);
    assert!(truth.subagent_files > 0);
    assert!(truth.sidechain_replays > 0);
    assert!(truth.no_request_responses > 0);
    assert!(truth.synthetic_lines > 0);
    assert!(truth.invalid_lines > 0);
    assert!(truth.truncated_lines > 0);
    assert!(truth.usage_lines > truth.responses * 3 / 2);
    assert!(
        fa.iter()
            .any(|(p, _)| p.to_string_lossy().contains("/subagents/agent-"))
    );
    let text: String = fa
        .iter()
        .map(|(_, bytes)| String::from_utf8_lossy(bytes).into_owned())
        .collect();
    for needle in [
        "\"type\":\"file-history-snapshot\"",
        "\"type\":\"tool_result\"",
        "\"speed\":\"fast\"",
        "\"model\":\"claude-haiku-4-5-20251001\"",
        "\"model\":\"claude-opus-4-5-20251101\"",
        "\"model\":\"claude-sonnet-4-5-20250929\"",
        "\"model\":\"<synthetic>\"",
        "\"isSidechain\":true",
    ] {
        assert!(text.contains(needle), "the corpus lacks {needle}");
    }

    // The scan finds exactly the truth.
    let output = scan(a.path());
    let stats = &output.stats;
    assert_eq!(stats.files_read, truth.files);
    assert_eq!(stats.bytes_read, truth.bytes);
    assert_eq!(stats.lines_read, truth.lines);
    assert_eq!(stats.events, truth.responses);
    assert_eq!(stats.usage_lines, truth.usage_lines);
    assert_eq!(stats.duplicate_lines, truth.usage_lines - truth.responses);
    assert_eq!(stats.synthetic_lines, truth.synthetic_lines);
    assert_eq!(stats.skipped.invalid_json, truth.invalid_lines);
    assert_eq!(stats.skipped.truncated, truth.truncated_lines);
    assert_eq!(
        stats.skipped.total(),
        truth.invalid_lines + truth.truncated_lines
    );
    assert_eq!(days(&output), truth.days);

    // The model of ccusage is the truth plus the two kinds of excess.
    let mut expected = truth.total().tokens;
    expected.add(&truth.excess_split);
    expected.add(&truth.excess_resumed);
    assert_eq!(sum(truth.ccusage_days.values()), expected);
    assert!(truth.excess_split.output > 0);
    assert!(truth.excess_resumed.output > 0);

    // The marker round-trips.
    assert_eq!(Truth::from_text(&truth.to_text()).as_ref(), Some(&truth));
}

#[test]
fn appended_lines_are_new_responses_and_restoring_undoes_them() {
    let dir = tempfile::tempdir().unwrap();
    let truth = corpus::generate(dir.path(), SIZE, SEED).unwrap();
    let before = files(dir.path());
    let mtimes = super::appended_mtimes(&truth, dir.path()).unwrap();
    let appended = corpus::append(dir.path(), &truth, 200_000).unwrap();
    let again = {
        let other = tempfile::tempdir().unwrap();
        let t = corpus::generate(other.path(), SIZE, SEED).unwrap();
        let a = corpus::append(other.path(), &t, 200_000).unwrap();
        (a.bytes, a.days)
    };
    assert_eq!((appended.bytes, appended.days.clone()), again);
    assert!(appended.bytes >= 200_000);
    let added: u64 = appended.days.values().map(|d| d.responses).sum();
    assert!(added > 0);
    assert!(appended.days.keys().all(|d| d.as_str() == "2026-03-01"));

    let output = scan(dir.path());
    assert_eq!(output.stats.events, truth.responses + added);
    let mut want = truth.days.clone();
    for (d, c) in &appended.days {
        let day = want.entry(d.clone()).or_default();
        day.tokens.add(&c.tokens);
        day.responses += c.responses;
    }
    assert_eq!(days(&output), want);

    super::restore(&appended, &mtimes).unwrap();
    assert!(
        files(dir.path()) == before,
        "restore gives back the same bytes"
    );
}
