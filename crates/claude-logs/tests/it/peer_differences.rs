//! Transcripts on which ccusage 20.0.24 (`ccusage claude daily`) counts more than one response
//! where there is one. Each case was checked against that ccusage binary; its count is given in
//! the test's comment. ccusage keys a line without `requestId` by message id, session id and
//! timestamp, and matches a sidechain replay with its parent only within one session id; the
//! rules here match by `message.id` across sessions in both cases.

use claude_logs::{ScanOutput, scan_roots};

use crate::support::{Assistant, options, session_file, subagent_file, total, write_lines};

const MESSAGE: &str = "msg_01HnFmPeerDifference0001";

fn scan(root: &std::path::Path) -> ScanOutput {
    scan_roots(&[root.to_path_buf()], &options(2)).1
}

fn without_request_id(a: Assistant) -> Assistant {
    Assistant {
        request_id: None,
        ..a
    }
}

fn in_session(a: Assistant, session: &str) -> Assistant {
    Assistant {
        session_id: session.to_owned(),
        ..a
    }
}

#[test]
fn content_block_lines_without_request_id_are_one_response() {
    // One response written as three content-block lines, each with its own timestamp, the
    // first two with partial output counts. ccusage: three responses (output 1 + 1 + 312, and
    // the input and cache counts three times).
    let dir = tempfile::tempdir().unwrap();
    let base = without_request_id(Assistant::new(MESSAGE, "unused"));
    write_lines(
        &session_file(dir.path(), "p", "s1"),
        &[
            base.clone().output(1).at("2026-01-10T10:00:00.100Z").line(),
            base.clone().output(1).at("2026-01-10T10:00:02.200Z").line(),
            base.clone()
                .output(312)
                .at("2026-01-10T10:00:09.300Z")
                .line(),
        ],
    );
    let output = scan(dir.path());
    assert_eq!(output.events.len(), 1);
    let sum = total(&output);
    assert_eq!(sum.output, 312);
    assert_eq!(sum.input, base.tokens.input);
    assert_eq!(sum.cache_creation, base.tokens.cache_creation);
    assert_eq!(output.stats.duplicate_lines, 2);
}

#[test]
fn resumed_copy_without_request_id_is_the_same_response() {
    // A resumed session copies the line into a new file under its own sessionId. ccusage: two
    // responses.
    let dir = tempfile::tempdir().unwrap();
    let line = without_request_id(Assistant::new(MESSAGE, "unused").output(200));
    write_lines(
        &session_file(dir.path(), "p", "s1"),
        &[in_session(line.clone(), "s1").line()],
    );
    write_lines(
        &session_file(dir.path(), "p", "s2"),
        &[in_session(line, "s2").line()],
    );
    let output = scan(dir.path());
    assert_eq!(output.events.len(), 1);
    assert_eq!(total(&output).output, 200);
}

#[test]
fn a_copy_without_request_id_matches_a_copy_with_one() {
    // Same message id, one line without requestId (a partial count), one with. ccusage: two
    // responses (output 1 + 200).
    let dir = tempfile::tempdir().unwrap();
    let with = Assistant::new(MESSAGE, "req_011CPeerDifference01").output(200);
    let without = without_request_id(with.clone().output(1).at("2026-01-10T10:00:00.000Z"));
    write_lines(
        &session_file(dir.path(), "p", "s1"),
        &[without.line(), with.line()],
    );
    let output = scan(dir.path());
    assert_eq!(output.events.len(), 1);
    assert_eq!(total(&output).output, 200);
}

#[test]
fn sidechain_replay_under_another_session_id_is_the_parent_response() {
    // A sidechain transcript replays the parent response with a new requestId, a larger cache
    // read and a sessionId other than the parent line's. ccusage: two responses (cache read
    // 100 + 90000). The parent copy is kept.
    let dir = tempfile::tempdir().unwrap();
    let mut parent = in_session(Assistant::new(MESSAGE, "req_011CPeerParent00001"), "s1");
    parent.tokens.cache_read = 100;
    let mut replay = in_session(parent.clone(), "s9")
        .sidechain("req_011CPeerReplay00001")
        .at("2025-08-30T07:21:00.000Z");
    replay.tokens.cache_read = 90_000;
    write_lines(&session_file(dir.path(), "p", "s1"), &[parent.line()]);
    write_lines(
        &subagent_file(dir.path(), "p", "s1", "a1b2c3"),
        &[replay.line()],
    );
    let output = scan(dir.path());
    assert_eq!(output.events.len(), 1);
    assert_eq!(total(&output).cache_read, 100);
    assert_eq!(output.events[0].session_id.as_deref(), Some("s1"));
}
