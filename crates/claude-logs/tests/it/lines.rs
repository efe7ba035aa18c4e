//! Line handling: bad lines by kind, BOM, CRLF, synthetic lines, very long lines.

use std::fs::File;
use std::io::{BufWriter, Write};

use claude_logs::{ScanOptions, SkippedLines, read_file, scan};

use crate::support::{Assistant, scan_file, session_file, user_line, write_bytes, write_lines};

#[test]
fn each_bad_line_kind_is_counted_and_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let good = Assistant::new("msg_ok", "req_ok").output(42);
    let wrong_types = good
        .line()
        .replace(r#""output_tokens":42"#, r#""output_tokens":-42"#);
    let float = good
        .line()
        .replace(r#""output_tokens":42"#, r#""output_tokens":4.2"#);
    let string = good
        .line()
        .replace(r#""output_tokens":42"#, r#""output_tokens":"42""#);
    let overflow = good.line().replace(
        r#""output_tokens":42"#,
        r#""output_tokens":99999999999999999999"#,
    );
    let no_zone = good.clone().at("2025-08-30 07:16:28").line();
    let mut no_timestamp = good.line();
    no_timestamp = no_timestamp.replace(r#","timestamp":"2025-08-30T07:16:28.537Z""#, "");
    let mut bytes = Vec::new();
    for line in [
        good.line(),
        r#"{"type":"assistant","message":{"id":"msg_x","usage":"#.to_owned(),
        wrong_types,
        float,
        string,
        overflow,
        no_zone,
        no_timestamp,
    ] {
        bytes.extend_from_slice(line.as_bytes());
        bytes.push(b'\n');
    }
    // Invalid UTF-8 inside the content of an assistant line.
    let invalid = good
        .clone()
        .line()
        .replace("Let me look", "Let me \u{1F600}");
    let mut invalid = invalid.into_bytes();
    let pos = invalid.iter().position(|&b| b == 0xF0).unwrap();
    invalid[pos + 1] = 0xFF;
    bytes.extend_from_slice(&invalid);
    bytes.push(b'\n');
    // Half a line, being written.
    let next = Assistant::new("msg_next", "req_next").line();
    bytes.extend_from_slice(&next.as_bytes()[..next.len() - 20]);
    write_bytes(&path, &bytes);

    let output = scan_file(&path);
    assert_eq!(output.events.len(), 1);
    assert_eq!(output.events[0].tokens.output, 42);
    assert_eq!(
        output.stats.skipped,
        SkippedLines {
            invalid_json: 1,
            invalid_utf8: 1,
            wrong_types: 4,
            bad_timestamp: 2,
            oversized: 0,
            truncated: 1,
        }
    );
    assert_eq!(output.stats.lines_read, 10);
    assert_eq!(output.stats.candidate_lines, 10);
    assert_eq!(output.stats.bytes_read, bytes.len() as u64);

    // The half line is not consumed: a later read resumes at its start.
    let read = read_file(&path, 0, &ScanOptions::default()).unwrap();
    let half_start = bytes.len() - (next.len() - 20);
    assert_eq!(read.end_offset, half_start as u64);
}

#[test]
fn a_complete_last_line_without_newline_counts() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let line = Assistant::new("msg_1", "req_1").output(6).line();
    write_bytes(&path, line.as_bytes());
    let output = scan_file(&path);
    assert_eq!(output.events.len(), 1);
    assert_eq!(output.stats.skipped.total(), 0);
}

#[test]
fn bom_and_crlf_lines_are_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    for m in 0..3 {
        bytes.extend_from_slice(Assistant::new(&format!("msg_{m}"), "req").line().as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    write_bytes(&path, &bytes);
    let output = scan_file(&path);
    assert_eq!(output.events.len(), 3);
    assert_eq!(output.stats.skipped.total(), 0);
}

#[test]
fn synthetic_and_non_usage_lines_are_not_usage() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let synthetic = r#"{"parentUuid":"a","isSidechain":false,"userType":"external","cwd":"/home/me/work/app","sessionId":"958555ae","version":"2.1.14","type":"assistant","uuid":"b","timestamp":"2025-08-30T07:16:28.537Z","message":{"id":"4a1f","model":"<synthetic>","role":"assistant","stop_reason":"stop_sequence","type":"message","usage":{"input_tokens":0,"output_tokens":0,"cache_creation_input_tokens":0,"cache_read_input_tokens":0},"content":[{"type":"text","text":"Claude AI usage limit reached|1756540800"}]},"isApiErrorMessage":true}"#;
    let lines = vec![
        synthetic.to_owned(),
        // Mentions the assistant, even quoted, but is a user line.
        user_line(r#"ask the \"assistant\" about \"assistant\""#),
        r#"{"type":"user","message":{"role":"assistant","content":"x"},"timestamp":"2025-08-30T07:16:28.537Z"}"#.to_owned(),
        r#"{"type":"summary","summary":"assistant","leafUuid":"x"}"#.to_owned(),
        r#"{"type":"cost-state","message":{"role":"assistant","usage":{"output_tokens":500}}}"#.to_owned(),
        r#"{"type":"progress","data":{"type":"assistant","message":{"usage":{"output_tokens":5}}},"timestamp":"2025-08-30T07:16:28.537Z"}"#.to_owned(),
        String::new(),
        Assistant::new("msg_1", "req_1").line(),
    ];
    write_lines(&path, &lines);
    let output = scan_file(&path);
    assert_eq!(output.events.len(), 1);
    assert_eq!(output.stats.synthetic_lines, 1);
    assert_eq!(output.stats.skipped.total(), 0);
    assert_eq!(output.stats.lines_read, 8);
    // The mention inside the prompt has escaped quotes: it does not pass the pre-filter.
    assert_eq!(output.stats.candidate_lines, 6);
}

#[test]
fn a_50_mb_line_is_skipped_and_the_next_line_read() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    {
        let mut out = BufWriter::new(File::create(&path).unwrap());
        writeln!(out, "{}", Assistant::new("msg_1", "req_1").output(1).line()).unwrap();
        // A huge tool output inside an assistant line.
        write!(out, r#"{{"type":"assistant","message":{{"content":""#).unwrap();
        let chunk = "x".repeat(1 << 20);
        for _ in 0..50 {
            out.write_all(chunk.as_bytes()).unwrap();
        }
        writeln!(out, r#""}},"timestamp":"2025-08-30T07:16:28.537Z"}}"#).unwrap();
        writeln!(out, "{}", Assistant::new("msg_2", "req_2").output(2).line()).unwrap();
        out.flush().unwrap();
    }
    let output = scan(&[path], &ScanOptions::default());
    assert_eq!(output.stats.skipped.oversized, 1);
    assert_eq!(output.stats.lines_read, 3);
    let outputs: Vec<u64> = output.events.iter().map(|e| e.tokens.output).collect();
    assert_eq!(outputs, vec![1, 2]);
    assert!(output.stats.bytes_read > 50 << 20);
}
