//! Contract tests: the committed schema matches the types, and old files stay valid.

use std::path::{Path, PathBuf};

use live_data_schema::{LiveData, Validator, json_schema_text};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn read_json(relative: &str) -> serde_json::Value {
    let path = repo_root().join(relative);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The committed schema is what the types generate. `UPDATE_SCHEMA=1 cargo test` rewrites it
/// (as does `cargo xtask schema`).
#[test]
fn committed_schema_has_not_drifted() {
    let path = repo_root().join("schema/live-data.schema.json");
    let want = json_schema_text();
    let have = std::fs::read_to_string(&path).unwrap_or_default();
    if have != want {
        if std::env::var_os("UPDATE_SCHEMA").is_some() {
            std::fs::write(&path, &want).expect("rewrite schema");
            return;
        }
        panic!(
            "{} is out of date with the types; run `cargo xtask schema` (or UPDATE_SCHEMA=1 cargo test)",
            path.display()
        );
    }
}

#[test]
fn committed_schema_is_draft_2020_12_and_compiles() {
    let schema = read_json("schema/live-data.schema.json");
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    Validator::for_schema(&schema).expect("the committed schema compiles");
}

#[test]
fn legacy_file_without_newer_fields_validates_and_decodes() {
    let legacy = read_json("fixtures/live-data/legacy-v0.json");
    let window = &legacy["usage"]["claudeWindow"];
    for absent in ["source", "authoritative", "authMode"] {
        assert!(window.get(absent).is_none(), "fixture must lack {absent}");
    }
    for w in window["windows"].as_array().unwrap() {
        assert!(w.get("id").is_none() && w.get("resetsAt").is_none() && w.get("source").is_none());
    }
    let errors = Validator::new().errors(&legacy);
    assert!(errors.is_empty(), "legacy file rejected: {errors:?}");
    let committed = Validator::for_schema(&read_json("schema/live-data.schema.json")).unwrap();
    assert!(committed.errors(&legacy).is_empty());

    let decoded: LiveData = serde_json::from_value(legacy).expect("legacy file decodes");
    let window = &decoded.usage.claude_window;
    assert_eq!(window.source, None);
    assert_eq!(window.authoritative, None);
    assert_eq!(window.windows[0].id, None);
    assert_eq!(window.windows[0].resets_at, None);
}

#[test]
fn invalid_file_reports_every_error_with_its_path() {
    let invalid = read_json("fixtures/live-data/invalid.json");
    let errors = Validator::new().errors(&invalid);
    let paths: Vec<&str> = errors.iter().map(|e| e.instance_path.as_str()).collect();
    for want in [
        "/schemaVersion",
        "/generatedAt",
        "/usage/claudeWindow/messagesUsed",
        "/usage/claudeWindow/windows/0/pct",
        "/usage/claudeWindow/windows/0/source",
        "/daily/0/date",
        "/daily/0",
    ] {
        assert!(paths.contains(&want), "no error at {want}; got {paths:?}");
    }
}

#[test]
fn unknown_fields_are_refused() {
    let mut legacy = read_json("fixtures/live-data/legacy-v0.json");
    legacy["usage"]["claudeWindow"]["accessToken"] = serde_json::json!("x");
    let errors = Validator::new().errors(&legacy);
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].instance_path, "/usage/claudeWindow");
    assert!(serde_json::from_value::<LiveData>(legacy).is_err());
}

#[test]
fn authoritative_is_bounded_by_the_schema() {
    let doc = read_json("fixtures/live-data/live.json");
    let valid = Validator::new();
    assert!(valid.errors(&doc).is_empty(), "{:?}", valid.errors(&doc));
    let mutations: [(&str, serde_json::Value); 6] = [
        ("/source", serde_json::json!("{\"five_hour\": raw body}")),
        ("/windows/0/pct", serde_json::json!(5000.0)),
        (
            "/windows/0/severity",
            serde_json::json!("sk-ant-oat01-FAKE"),
        ),
        ("/windows/0/id", serde_json::json!("Five Hour!")),
        ("/rateLimitTier", serde_json::json!("x".repeat(65))),
        (
            "/extraUsage",
            serde_json::json!({"enabled": true, "usedMinor": 1, "limitMinor": 2, "currency": "dollars"}),
        ),
    ];
    for (pointer, value) in mutations {
        let mut bad = doc.clone();
        *bad["usage"]["claudeWindow"]["authoritative"]
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("{pointer}")) = value;
        assert!(!valid.errors(&bad).is_empty(), "{pointer} accepted");
    }
}
