//! Each response counted once, through `scan`.

use std::path::PathBuf;

use claude_logs::{ScanOutput, Speed, discover, scan, scan_roots};

use crate::support::{
    Assistant, options, scan_file, session_file, shuffle, snapshot_line, subagent_file, total,
    user_line, write_lines,
};

fn outputs(output: &ScanOutput) -> Vec<u64> {
    output.events.iter().map(|e| e.tokens.output).collect()
}

#[test]
fn split_response_keeps_the_final_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let base = Assistant::new("msg_01HnFm", "req_011CSdV2");
    write_lines(
        &path,
        &[
            user_line("refactor the parser"),
            base.clone().output(1).line(),
            base.clone().output(1).line(),
            base.clone().output(312).line(),
            snapshot_line(),
        ],
    );
    let output = scan_file(&path);
    assert_eq!(outputs(&output), vec![312]);
    let stats = &output.stats;
    assert_eq!(stats.lines_read, 5);
    assert_eq!(stats.candidate_lines, 3);
    assert_eq!(stats.usage_lines, 3);
    assert_eq!(stats.events, 1);
    assert_eq!(stats.duplicate_lines, 2);
    let event = &output.events[0];
    assert_eq!(&*event.model, "claude-sonnet-4-5-20250929");
    assert_eq!(event.project.as_deref(), Some("/home/me/work/app"));
    assert_eq!(
        event.session_id.as_deref(),
        Some("958555ae-5d4c-4a3b-9e2f-0123456789ab")
    );
    assert_eq!(event.speed, Speed::Standard);
    assert_eq!(event.tokens.cache_creation_5m, 15495);
}

#[test]
fn larger_copy_wins_whichever_comes_first() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let base = Assistant::new("msg_1", "req_1");
    write_lines(
        &path,
        &[base.clone().output(90).line(), base.output(4).line()],
    );
    assert_eq!(outputs(&scan_file(&path)), vec![90]);
}

#[test]
fn resumed_session_copies_are_counted_once() {
    let dir = tempfile::tempdir().unwrap();
    let first = session_file(dir.path(), "p", "s1");
    let resumed = session_file(dir.path(), "p", "s2");
    let a = Assistant::new("msg_a", "req_a").output(10);
    let b = Assistant::new("msg_b", "req_b")
        .output(20)
        .at("2025-08-30T07:20:00.000Z");
    let c = Assistant::new("msg_c", "req_c")
        .output(30)
        .at("2025-08-30T08:00:00.000Z");
    write_lines(&first, &[a.line(), b.line()]);
    write_lines(&resumed, &[a.line(), b.line(), c.line()]);
    let (_, output) = scan_roots(&[dir.path().to_path_buf()], &options(2));
    assert_eq!(outputs(&output), vec![10, 20, 30]);
    assert_eq!(output.stats.duplicate_lines, 2);
}

#[test]
fn sidechain_replay_keeps_the_parent_copy() {
    let dir = tempfile::tempdir().unwrap();
    let parent = session_file(dir.path(), "p", "s1");
    let agent = subagent_file(dir.path(), "p", "s1", "a1");
    let original = Assistant::new("msg_1", "req_parent").output(50);
    // The replay has a new requestId and (here) a larger count: the parent copy still wins.
    let replay = original.clone().sidechain("req_replay").output(70);
    let own = Assistant::new("msg_2", "req_agent")
        .sidechain("req_agent")
        .output(5);
    write_lines(&parent, &[original.line()]);
    write_lines(&agent, &[replay.line(), own.line(), own.line()]);
    let (found, output) = scan_roots(&[dir.path().to_path_buf()], &options(2));
    assert_eq!(found.files.len(), 2);
    assert_eq!(outputs(&output), vec![5, 50]);
    assert_eq!(output.stats.duplicate_lines, 2);
}

#[test]
fn sidechain_replays_alone_count_once_with_the_largest() {
    let dir = tempfile::tempdir().unwrap();
    let agent = subagent_file(dir.path(), "p", "s1", "a1");
    let base = Assistant::new("msg_1", "req_x");
    write_lines(
        &agent,
        &[
            base.clone().sidechain("req_1").output(3).line(),
            base.clone().sidechain("req_2").output(9).line(),
        ],
    );
    assert_eq!(outputs(&scan_file(&agent)), vec![9]);
}

#[test]
fn missing_request_id_matches_by_message_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let mut old = Assistant::new("msg_1", "unused");
    old.request_id = None;
    write_lines(
        &path,
        &[
            old.clone().output(2).line(),
            old.clone().output(8).line(),
            Assistant::new("msg_1", "req_1").output(5).line(),
        ],
    );
    assert_eq!(outputs(&scan_file(&path)), vec![8]);
}

#[test]
fn lines_without_message_id_each_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let mut anonymous = Assistant::new("unused", "req_1").output(7);
    anonymous.message_id = None;
    write_lines(&path, &[anonymous.line(), anonymous.line()]);
    let output = scan_file(&path);
    assert_eq!(outputs(&output), vec![7, 7]);
    assert_eq!(output.stats.duplicate_lines, 0);
}

#[test]
fn duplicates_across_roots_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let root_a = dir.path().join("a");
    let root_b = dir.path().join("b");
    let line = Assistant::new("msg_1", "req_1").output(11);
    write_lines(
        &session_file(&root_a, "p", "s1"),
        &[line.clone().output(3).line()],
    );
    write_lines(&session_file(&root_b, "p", "s1"), &[line.line()]);
    let (found, output) = scan_roots(&[root_a, root_b], &options(2));
    assert_eq!(found.files.len(), 2);
    assert_eq!(outputs(&output), vec![11]);
}

#[test]
fn fast_mode_and_cache_split_are_carried() {
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let mut fast = Assistant::new("msg_1", "req_1");
    fast.fast = true;
    fast.model = "claude-opus-4-6".to_owned();
    fast.tokens.cache_creation = 3000;
    fast.tokens.cache_creation_5m = 1000;
    fast.tokens.cache_creation_1h = 2000;
    write_lines(&path, &[fast.line()]);
    let output = scan_file(&path);
    let event = &output.events[0];
    assert_eq!(event.speed, Speed::Fast);
    assert_eq!(event.tokens, fast.tokens);
}

/// A tree with every kind of duplicate, spread over two roots.
fn mixed_tree(dir: &std::path::Path) -> Vec<PathBuf> {
    let roots = [dir.join("a"), dir.join("b")];
    for (r, root) in roots.iter().enumerate() {
        for s in 0..4 {
            let mut lines = vec![user_line("hello assistant")];
            for m in 0..12 {
                let minute = (m * 7 + s * 3) % 60;
                let line = Assistant::new(&format!("msg_{m}"), &format!("req_{m}"))
                    .output(((m * 13 + s * 5 + r) % 40) as u64)
                    .at(&format!("2025-08-30T07:{minute:02}:00.000Z"));
                lines.push(line.line());
                if m % 3 == 0 {
                    lines.push(line.sidechain(&format!("req_side_{s}")).output(99).line());
                }
            }
            write_lines(&session_file(root, "p", &format!("s{s}")), &lines);
        }
    }
    discover(&roots).files
}

#[test]
fn result_is_independent_of_file_order_and_threads() {
    let dir = tempfile::tempdir().unwrap();
    let files = mixed_tree(dir.path());
    assert_eq!(files.len(), 8);
    let reference = scan(&files, &options(1));
    assert_eq!(reference.events.len(), 12);
    let mut reversed = files.clone();
    reversed.reverse();
    let mut orders = vec![reversed];
    for seed in 1..6 {
        let mut shuffled = files.clone();
        shuffle(&mut shuffled, seed);
        orders.push(shuffled);
    }
    for order in &orders {
        for threads in [1, 2, 3, 8, 0] {
            let got = scan(order, &options(threads));
            assert_eq!(got, reference, "threads {threads}");
        }
    }
    // Sorted by time.
    assert!(
        reference
            .events
            .windows(2)
            .all(|w| w[0].timestamp <= w[1].timestamp)
    );
    assert_eq!(
        total(&reference).output,
        reference
            .events
            .iter()
            .map(|e| e.tokens.output)
            .sum::<u64>()
    );
}
