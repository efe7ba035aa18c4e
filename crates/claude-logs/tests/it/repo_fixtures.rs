//! The repository's shared transcript fixtures (`fixtures/transcripts`).

use std::path::PathBuf;

use claude_logs::{ScanOptions, SkippedLines, scan_roots};

fn fixture_roots() -> Vec<PathBuf> {
    let base = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/transcripts");
    vec![base.join("root-a"), base.join("root-b")]
}

#[test]
fn shared_fixtures_count_each_response_once() {
    let (found, output) = scan_roots(&fixture_roots(), &ScanOptions::default());
    assert_eq!(found.files.len(), 4);
    assert_eq!(found.missing_roots, Vec::<PathBuf>::new());
    let stats = &output.stats;
    assert_eq!(stats.files_read, 4);
    assert_eq!(stats.synthetic_lines, 1);
    assert_eq!(
        stats.skipped,
        SkippedLines {
            invalid_json: 1,
            invalid_utf8: 1,
            wrong_types: 1,
            bad_timestamp: 1,
            oversized: 0,
            truncated: 1,
        }
    );
    // msg_01A..msg_01H.
    assert_eq!(output.events.len(), 8);
    let split = output
        .events
        .iter()
        .find(|e| e.tokens.cache_read == 20000)
        .unwrap();
    assert_eq!(split.tokens.output, 120);
    assert_eq!(stats.usage_lines - stats.events, stats.duplicate_lines);
}
