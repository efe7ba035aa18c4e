//! `aggregate run` over `fixtures/transcripts`, checked field by field.
//!
//! The expected costs are computed here from the price table in the transcripts doc (USD per
//! million tokens), independently of the program's table.

use live_data_schema::{LiveData, Source, Validator};
use serde_json::json;

use crate::support::{aggregate, fixture_args, read_json, run};

/// Cost in USD of a request at the given per-million rates.
fn cost(tokens: [u64; 4], rates: [f64; 4]) -> f64 {
    tokens
        .iter()
        .zip(rates)
        .map(|(t, r)| *t as f64 * r)
        .sum::<f64>()
        / 1e6
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

#[track_caller]
fn assert_close(have: &serde_json::Value, want: f64) {
    let have = have
        .as_f64()
        .unwrap_or_else(|| panic!("not a number: {have}"));
    assert!(close(have, want), "have {have}, want {want}");
}

// The responses of the fixture (see fixtures/transcripts/README.md):
// [input, output, cache write, cache read] and their cost.
fn r1() -> f64 {
    // Sonnet 4.5, final streaming count; 5-minute cache write.
    cost([10, 120, 1000, 20000], [3.0, 15.0, 3.75, 0.30])
}
fn r2() -> f64 {
    // Opus 4.5, 1-hour cache write.
    cost([5, 300, 2000, 40000], [5.0, 25.0, 10.0, 0.50])
}
fn r3() -> f64 {
    // Haiku 4.5.
    cost([100, 50, 0, 0], [1.0, 5.0, 1.25, 0.10])
}
fn r5() -> f64 {
    // Sonnet 4.5 sidechain-only response.
    cost([3, 80, 500, 1000], [3.0, 15.0, 3.75, 0.30])
}
fn r7() -> f64 {
    // Opus 4.6, fast mode: x6.
    6.0 * cost([10, 100, 0, 5000], [5.0, 25.0, 6.25, 0.50])
}
fn r8() -> f64 {
    // Sonnet 4.5 long context: every token at the premium rate.
    cost([5000, 1000, 50000, 160000], [6.0, 22.5, 7.5, 0.60])
}

#[test]
fn fixture_run_writes_the_expected_file() {
    let dir = tempfile::tempdir().unwrap();
    let home = std::path::Path::new("/home/user");
    let out = dir.path().join("live-data.json");
    let result = run(fixture_args(&mut aggregate(dir.path(), home)).args([
        "--timezone",
        "Europe/Berlin",
        "--plan",
        "max5",
    ]));
    assert_eq!(result.code, Some(0), "stderr: {}", result.stderr);
    assert_eq!(result.stdout, "");
    assert!(
        result.stderr.starts_with("aggregate: wrote live-data.json: 4 files, 8 responses, 5 duplicate lines, 5 skipped lines, estimate (--no-oauth),"),
        "{}",
        result.stderr
    );

    let doc = read_json(&out);
    assert!(Validator::new().errors(&doc).is_empty());
    let committed = read_json(&crate::support::repo_root().join("schema/live-data.schema.json"));
    assert!(
        Validator::for_schema(&committed)
            .unwrap()
            .errors(&doc)
            .is_empty()
    );
    // Strict decode: an unplanned field fails here.
    let decoded: LiveData = serde_json::from_value(doc.clone()).expect("strict decode");
    assert_eq!(
        serde_json::to_value(&decoded).unwrap(),
        doc,
        "round trip is lossless"
    );

    assert_eq!(doc["schemaVersion"], 2);
    assert_eq!(doc["generatedAt"], "2026-11-28T12:00:00Z");
    assert_eq!(doc["timezone"], "Europe/Berlin");

    let cw = &doc["usage"]["claudeWindow"];
    assert_eq!(cw["plan"], "max5");
    assert_eq!(cw["source"], "estimate");
    assert_eq!(cw["authoritative"], json!(null));
    assert_eq!(cw["messagesUsed"], 5);
    assert_eq!(cw["messageCap"], 225);

    let windows = cw["windows"].as_array().unwrap();
    let ids: Vec<&str> = windows.iter().map(|w| w["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "five_hour",
            "seven_day",
            "seven_day_sonnet",
            "seven_day_opus"
        ]
    );
    for w in windows {
        assert_eq!(w["source"], "estimate");
    }

    // Five-hour block: msg_01C (23:30 the day before) is its own block; the active block starts
    // at 09:00 (msg_01A at 09:10 floored) and holds msg_01A, 01B, 01D, 01E and 01H.
    let five = &windows[0];
    let five_cost = r1() + r2() + r5() + r7();
    assert_eq!(five["resetsAt"], "2026-11-28T14:00:00Z");
    assert_eq!(five["messages"], 5);
    assert_eq!(five["tokens"], 21130 + 42305 + 1583 + 5110 + 3);
    assert_close(&five["costUsd"], five_cost);
    assert_close(&five["used"], five_cost);
    assert_eq!(five["cap"], 35.0);
    assert_close(&five["pct"], (five_cost / 35.0 * 1000.0).round() / 10.0);
    assert_close(&cw["pctUsed"], (five_cost / 35.0 * 1000.0).round() / 10.0);

    // Seven days: msg_01F (2026-11-20) is outside; msg_01G is after now.
    let week = &windows[1];
    assert_eq!(week["resetsAt"], json!(null));
    assert_eq!(week["messages"], 6);
    assert_close(&week["costUsd"], five_cost + r3());
    assert_eq!(week["cap"], 350.0);
    assert_close(&windows[2]["costUsd"], r1() + r5());
    assert_eq!(windows[2]["messages"], 2);
    assert_close(&windows[3]["costUsd"], r2() + r7());
    assert_eq!(windows[3]["messages"], 2);

    // Daily in Europe/Berlin: msg_01C (2026-11-27T23:30Z) falls on the 28th.
    let daily = doc["daily"].as_array().unwrap();
    let dates: Vec<&str> = daily.iter().map(|d| d["date"].as_str().unwrap()).collect();
    assert_eq!(dates, ["2026-11-20", "2026-11-28"]);
    assert_eq!(daily[0]["totalTokens"], 216000);
    assert_close(&daily[0]["costUsd"], r8());
    assert_eq!(daily[1]["messages"], 6);
    assert_eq!(daily[1]["inputTokens"], 10 + 5 + 100 + 3 + 10 + 1);
    assert_eq!(daily[1]["outputTokens"], 120 + 300 + 50 + 80 + 100 + 2);
    assert_eq!(daily[1]["cacheCreationTokens"], 1000 + 2000 + 500);
    assert_eq!(daily[1]["cacheReadTokens"], 20000 + 40000 + 1000 + 5000);
    assert_close(&daily[1]["costUsd"], five_cost + r3());
    let models: Vec<&str> = daily[1]["models"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["model"].as_str().unwrap())
        .collect();
    assert_eq!(
        models,
        [
            "claude-haiku-4-5-20251001",
            "claude-opus-4-5-20251101",
            "claude-opus-4-6",
            "claude-sonnet-4-5-20250929",
            "mystery-model-1"
        ]
    );

    // Whole history.
    let totals = &doc["totals"];
    assert_eq!(totals["messages"], 7);
    assert_eq!(totals["totalTokens"], 216000 + 70281);
    assert_close(&totals["costUsd"], r1() + r2() + r3() + r5() + r7() + r8());
    assert_eq!(doc["modelUsage"][0]["model"], "claude-sonnet-4-5-20250929");
    assert_close(&doc["modelUsage"][0]["costUsd"], r1() + r5() + r8());
    let projects: Vec<&str> = doc["projects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["project"].as_str().unwrap())
        .collect();
    assert_eq!(
        projects,
        ["~/work/app", "~/work/lib"],
        "paths are home-relative"
    );

    let scan = &doc["scan"];
    assert_eq!(scan["files"], 4);
    assert_eq!(scan["events"], 8);
    assert_eq!(scan["duplicateLines"], 5);
    assert_eq!(scan["eventsAfterNow"], 1);
    assert_eq!(
        scan["skippedLines"],
        json!({"invalidJson": 1, "invalidUtf8": 1, "wrongTypes": 1, "badTimestamp": 1, "oversized": 0, "truncated": 1})
    );
    assert_eq!(
        scan["unpricedModels"],
        json!([{"model": "mystery-model-1", "messages": 1, "totalTokens": 3}])
    );
    assert_eq!(decoded.usage.claude_window.source, Some(Source::Estimate));
}

#[test]
fn days_follow_the_time_zone() {
    let dir = tempfile::tempdir().unwrap();
    let result =
        run(fixture_args(&mut aggregate(dir.path(), dir.path())).args(["--timezone", "UTC"]));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let doc = read_json(&dir.path().join("live-data.json"));
    let dates: Vec<&str> = doc["daily"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["date"].as_str().unwrap())
        .collect();
    assert_eq!(dates, ["2026-11-20", "2026-11-27", "2026-11-28"]);
    assert_eq!(doc["timezone"], "UTC");
    // Without --plan nothing is known about caps: no invented percentage.
    let five = &doc["usage"]["claudeWindow"]["windows"][0];
    assert_eq!(doc["usage"]["claudeWindow"]["plan"], "unknown");
    assert_eq!(five["cap"], json!(null));
    assert_eq!(five["pct"], json!(null));
}

#[test]
fn tz_environment_variable_is_the_default_zone() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(fixture_args(&mut aggregate(dir.path(), dir.path())).env("TZ", "Asia/Tokyo"));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert_eq!(
        read_json(&dir.path().join("live-data.json"))["timezone"],
        "Asia/Tokyo"
    );
}

#[test]
fn whole_file_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let result = run(fixture_args(&mut aggregate(
        dir.path(),
        std::path::Path::new("/home/user"),
    ))
    .args([
        "--timezone",
        "Europe/Berlin",
        "--plan",
        "max20",
        "--out",
        "snapshot.json",
    ]));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let mut doc = read_json(&dir.path().join("snapshot.json"));
    // Roots are absolute paths of this checkout.
    doc["scan"]["roots"] = json!(["<root-a>", "<root-b>"]);
    insta::assert_json_snapshot!("fixture_run", doc);
}

#[test]
fn same_input_gives_byte_identical_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut outputs = Vec::new();
    for threads in ["1", "2", "7"] {
        let out = format!("out-{threads}.json");
        let result = run(fixture_args(&mut aggregate(dir.path(), dir.path())).args([
            "--threads",
            threads,
            "--out",
            &out,
        ]));
        assert_eq!(result.code, Some(0), "{}", result.stderr);
        outputs.push(std::fs::read(dir.path().join(out)).unwrap());
    }
    assert!(outputs.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn no_transcripts_gives_a_valid_empty_file_and_names_the_roots() {
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    std::fs::create_dir(&home).unwrap();
    let result = run(aggregate(dir.path(), &home).args(["run", "--now", crate::support::NOW]));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    assert!(
        result.stderr.contains("no Claude Code transcripts found"),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains("~/.config/claude/projects"),
        "{}",
        result.stderr
    );
    assert!(
        result.stderr.contains("~/.claude/projects"),
        "{}",
        result.stderr
    );
    let doc = read_json(&dir.path().join("live-data.json"));
    assert!(Validator::new().errors(&doc).is_empty());
    assert_eq!(doc["daily"], json!([]));
    assert_eq!(doc["totals"]["messages"], 0);
    assert_eq!(
        doc["usage"]["claudeWindow"]["windows"][0]["resetsAt"],
        json!(null)
    );
}

#[test]
fn claude_config_dir_replaces_the_default_roots() {
    let dir = tempfile::tempdir().unwrap();
    let roots = format!(
        " {} ,,{}/projects",
        crate::support::fixture_root("root-a").display(),
        crate::support::fixture_root("root-b").display()
    );
    let result = run(aggregate(dir.path(), dir.path())
        .env("CLAUDE_CONFIG_DIR", roots)
        .args(["run", "--now", crate::support::NOW]));
    assert_eq!(result.code, Some(0), "{}", result.stderr);
    let doc = read_json(&dir.path().join("live-data.json"));
    assert_eq!(doc["scan"]["files"], 4);
    assert_eq!(doc["scan"]["events"], 8);
}
