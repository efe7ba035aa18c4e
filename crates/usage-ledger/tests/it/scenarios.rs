//! Changes between runs: appends, partial lines, rewrites, deletions, renames.

use usage_ledger::LedgerOptions;

use crate::support::{Tree, lines, usage_line, user_line};

fn session(prefix: &str, n: u32) -> Vec<String> {
    let mut out = Vec::new();
    for i in 0..n {
        let id = format!("{prefix}{i}");
        // Streaming copies: a partial count first, then the final one.
        out.push(usage_line(
            Some(&id),
            Some(&format!("req_{id}")),
            false,
            1,
            i,
        ));
        out.push(user_line("tool result"));
        out.push(usage_line(
            Some(&id),
            Some(&format!("req_{id}")),
            false,
            50 + u64::from(i),
            i,
        ));
    }
    out
}

#[test]
fn first_run_then_nothing_new() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 5)));
    tree.append("p/b.jsonl", &lines(&session("msg_b", 3)));
    let first = tree.scan();
    tree.assert_parity(&first);
    assert_eq!(first.events.len(), 8);
    assert_eq!(first.ledger.files_read, 2);
    assert!(first.ledger.saved);
    assert!(first.ledger.rebuilt.is_none());
    let size = std::fs::metadata(tree.ledger()).unwrap().len();

    let second = tree.scan();
    tree.assert_parity(&second);
    assert_eq!(second.ledger.files_read, 0);
    assert_eq!(second.ledger.bytes_read, 0);
    assert_eq!(second.ledger.files_unchanged, 2);
    // Nothing new: nothing written.
    assert_eq!(std::fs::metadata(tree.ledger()).unwrap().len(), size);
}

#[test]
fn appends_read_only_the_new_bytes() {
    let tree = Tree::new();
    let all = lines(&session("msg_a", 10));
    let cut = all.len() / 2;
    let cut = cut + all[cut..].iter().position(|&b| b == b'\n').unwrap() + 1;
    tree.append("p/a.jsonl", &all[..cut]);
    tree.assert_parity(&tree.scan());
    tree.append("p/a.jsonl", &all[cut..]);
    let second = tree.scan();
    tree.assert_parity(&second);
    assert_eq!(second.ledger.bytes_read, (all.len() - cut) as u64);
}

#[test]
fn half_a_line_is_counted_once_it_is_complete() {
    let tree = Tree::new();
    let line = usage_line(Some("msg_1"), Some("req_1"), false, 70, 1);
    let first = usage_line(Some("msg_0"), Some("req_0"), false, 10, 0);
    let (head, tail) = line.split_at(line.len() / 2);
    tree.append("p/a.jsonl", format!("{first}\n{head}").as_bytes());
    let run1 = tree.scan();
    tree.assert_parity(&run1);
    assert_eq!(run1.events.len(), 1);
    assert_eq!(run1.stats.skipped.truncated, 1);
    tree.append("p/a.jsonl", format!("{tail}\n").as_bytes());
    let run2 = tree.scan();
    tree.assert_parity(&run2);
    assert_eq!(run2.events.len(), 2);
    assert_eq!(run2.stats.skipped.truncated, 0);
    assert_eq!(run2.stats.lines_read, 2);
    let output: u64 = run2.events.iter().map(|e| e.tokens.output).sum();
    assert_eq!(output, 80);
}

#[test]
fn a_complete_last_line_without_newline_then_more() {
    let tree = Tree::new();
    let a = usage_line(Some("msg_1"), Some("req_1"), false, 70, 1);
    let b = usage_line(Some("msg_2"), Some("req_2"), false, 30, 2);
    tree.append("p/a.jsonl", a.as_bytes());
    tree.assert_parity(&tree.scan());
    // The newline arrives with the next line.
    tree.append("p/a.jsonl", format!("\n{b}\n").as_bytes());
    let run = tree.scan();
    tree.assert_parity(&run);
    assert_eq!(run.stats.lines_read, 2);
    // A "complete" line that went on (not a newline): read again from the start.
    tree.append("p/a.jsonl", a.as_bytes());
    tree.assert_parity(&tree.scan());
    tree.append("p/a.jsonl", b" trailing garbage\n");
    tree.assert_parity(&tree.scan());
}

#[test]
fn truncated_and_rewritten_with_different_content() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 6)));
    tree.append("p/b.jsonl", &lines(&session("msg_b", 2)));
    tree.assert_parity(&tree.scan());
    // Same inode, new content, larger than before.
    tree.rewrite("p/a.jsonl", &lines(&session("msg_z", 9)));
    let run = tree.scan();
    tree.assert_parity(&run);
    assert_eq!(run.events.len(), 11);
    // A new file at the same path (new inode), same size as before.
    let replacement = lines(&session("msg_y", 9));
    let temp = tree.file("p/a.tmp");
    std::fs::write(&temp, &replacement).unwrap();
    std::fs::rename(&temp, tree.file("p/a.jsonl")).unwrap();
    let run = tree.scan();
    tree.assert_parity(&run);
    assert_eq!(run.events.len(), 11);
}

#[test]
fn a_file_that_shrank() {
    let tree = Tree::new();
    let all = lines(&session("msg_a", 6));
    tree.append("p/a.jsonl", &all);
    tree.assert_parity(&tree.scan());
    // Cut in the middle of a line.
    tree.truncate("p/a.jsonl", all.len() as u64 / 3);
    let run = tree.scan();
    tree.assert_parity(&run);
    assert!(run.events.len() < 6);
    tree.truncate("p/a.jsonl", 0);
    let run = tree.scan();
    tree.assert_parity(&run);
    assert!(run.events.is_empty());
}

#[test]
fn a_deleted_file_keeps_counting() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 4)));
    tree.append("p/b.jsonl", &lines(&session("msg_b", 3)));
    let before = tree.scan();
    std::fs::remove_file(tree.file("p/a.jsonl")).unwrap();
    let after = tree.scan();
    assert_eq!(after.events, before.events);
    assert_eq!(after.stats.events, 7);
    assert_eq!(after.stats.files_read, 1);
    assert_eq!(after.ledger.files_history, 1);
    // Kept through a compaction as well.
    let forced = LedgerOptions {
        compact_min_bytes: 0,
        compact_ratio: 0,
        ..LedgerOptions::default()
    };
    tree.append("p/b.jsonl", &lines(&session("msg_c", 1)));
    let compacted = tree.scan_with(&forced);
    assert!(compacted.ledger.compacted);
    assert_eq!(compacted.events.len(), 8);
    let again = tree.scan();
    assert_eq!(again.events, compacted.events);
    assert_eq!(again.ledger.bytes_read, 0);
}

#[test]
fn a_renamed_file_is_not_read_again_nor_counted_twice() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 4)));
    let before = tree.scan();
    std::fs::create_dir_all(tree.file("q")).unwrap();
    std::fs::rename(tree.file("p/a.jsonl"), tree.file("q/moved.jsonl")).unwrap();
    let after = tree.scan();
    tree.assert_parity(&after);
    assert_eq!(after.events, before.events);
    assert_eq!(after.ledger.bytes_read, 0);
    assert_eq!(after.ledger.files_history, 0);
    // It goes on growing at its new path.
    let more = lines(&session("msg_b", 1));
    tree.append("q/moved.jsonl", &more);
    let grown = tree.scan();
    tree.assert_parity(&grown);
    assert_eq!(grown.ledger.bytes_read, more.len() as u64);
}

#[test]
fn lines_without_message_id_are_not_counted_twice_across_runs() {
    let tree = Tree::new();
    let anonymous = usage_line(None, Some("req_x"), false, 5, 1);
    tree.append("p/a.jsonl", format!("{anonymous}\n").as_bytes());
    tree.assert_parity(&tree.scan());
    tree.append("p/a.jsonl", format!("{anonymous}\n").as_bytes());
    let run = tree.scan();
    tree.assert_parity(&run);
    assert_eq!(run.events.len(), 2);
}

#[test]
fn copies_across_files_and_sidechains() {
    let tree = Tree::new();
    tree.append(
        "p/a.jsonl",
        &lines(&[usage_line(Some("msg_1"), Some("req_1"), false, 10, 1)]),
    );
    tree.assert_parity(&tree.scan());
    // A resumed session copies the line; a sidechain replays it with a new request id.
    tree.append(
        "p/b.jsonl",
        &lines(&[usage_line(Some("msg_1"), Some("req_1"), false, 12, 1)]),
    );
    tree.assert_parity(&tree.scan());
    tree.append(
        "p/b/subagents/agent-1.jsonl",
        &lines(&[
            usage_line(Some("msg_1"), Some("req_side"), true, 99, 1),
            usage_line(Some("msg_1"), Some("req_2"), false, 1, 2),
        ]),
    );
    let run = tree.scan();
    tree.assert_parity(&run);
    assert_eq!(run.events.len(), 1);
}

#[test]
fn a_directory_named_like_a_transcript_and_unreadable_files() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 2)));
    tree.assert_parity(&tree.scan());
    std::fs::create_dir_all(tree.file("p/dir.jsonl")).unwrap();
    tree.assert_parity(&tree.scan());
}

#[test]
fn other_roots_use_another_ledger() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 2)));
    tree.scan();
    let other = tree.dir.path().join("other");
    std::fs::create_dir_all(other.join("projects")).unwrap();
    let run = usage_ledger::scan_incremental(
        &tree.state(),
        std::slice::from_ref(&other),
        &crate::support::options(),
    )
    .unwrap();
    assert!(run.events.is_empty());
    assert_ne!(run.ledger.path, tree.ledger());
    assert_eq!(tree.scan().events.len(), 2);
}

#[cfg(unix)]
#[test]
fn the_state_dir_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let tree = Tree::new();
    tree.scan();
    let mode = std::fs::metadata(tree.state())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o700);
    let mode = std::fs::metadata(tree.ledger())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_held_lock_makes_the_run_give_up() {
    let tree = Tree::new();
    tree.scan();
    let lock_path = tree.ledger().with_extension("lock");
    let holder = std::fs::File::options()
        .write(true)
        .open(&lock_path)
        .unwrap();
    holder.lock().unwrap();
    let short = LedgerOptions {
        lock_timeout: std::time::Duration::from_millis(200),
        ..LedgerOptions::default()
    };
    let err = usage_ledger::scan_incremental_with(
        &tree.state(),
        &tree.roots(),
        &crate::support::options(),
        &short,
    )
    .unwrap_err();
    assert!(
        matches!(err, usage_ledger::LedgerError::Locked { .. }),
        "{err}"
    );
    assert!(err.to_string().contains("another aggregate run"), "{err}");
    drop(holder);
    assert!(tree.scan().ledger.saved);
}

/// A compaction numbers the ledger's strings again (those still in use, in file order): the
/// kept-records cache, which names strings by number, is not carried over with the old numbers
/// (it would decode to other strings of the new ledger).
#[test]
fn a_compaction_on_a_run_that_uses_the_cache_keeps_every_string_right() {
    let tree = Tree::new();
    let in_session = |session: &str, id: &str, second: u32| {
        usage_line(Some(id), Some(&format!("req_{id}")), false, 5, second).replace(
            r#""sessionId":"s-1""#,
            &format!(r#""sessionId":"{session}""#),
        )
    };
    tree.append("p/a.jsonl", &lines(&[in_session("s-a", "msg_1", 1)]));
    tree.append("p/b.jsonl", &lines(&[in_session("s-b", "msg_2", 2)]));
    tree.append("p/c.jsonl", &lines(&[in_session("s-d", "msg_5", 5)]));
    tree.assert_parity(&tree.scan());
    // Rewritten: its entry, the only one with `s-a`, is forgotten and a new one made.
    tree.rewrite("p/a.jsonl", &lines(&[in_session("s-b", "msg_3", 3)]));
    tree.assert_parity(&tree.scan());
    // Only an append (the cache serves), with a compaction forced: the strings are numbered
    // again without `s-a`, and the new `s-e` takes a number the old ones had.
    tree.append("p/b.jsonl", &lines(&[in_session("s-e", "msg_4", 9)]));
    let forced = LedgerOptions {
        compact_min_bytes: 0,
        compact_ratio: 0,
        ..LedgerOptions::default()
    };
    let compacted = tree.scan_with(&forced);
    assert!(compacted.ledger.compacted);
    tree.assert_parity(&compacted);
    let again = tree.scan();
    assert_eq!(again.ledger.bytes_read, 0);
    tree.assert_parity(&again);
}

/// A root spelt another way than last time (a doubled separator, a `.` component) is the
/// same ledger, and its files are found by their paths: nothing is read again, nothing moves.
#[test]
fn a_root_spelt_another_way_finds_its_files() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 4)));
    tree.append("p/s/subagents/agent-1.jsonl", &lines(&session("msg_s", 2)));
    tree.assert_parity(&tree.scan());
    let plain = tree.root();
    for spelt in [
        std::path::PathBuf::from(format!("{}//", plain.display())),
        plain.join("."),
    ] {
        let run = usage_ledger::scan_incremental(
            &tree.state(),
            std::slice::from_ref(&spelt),
            &crate::support::options(),
        )
        .unwrap();
        assert_eq!(run.ledger.path, tree.ledger(), "{}", spelt.display());
        assert_eq!(run.ledger.bytes_read, 0, "{}", spelt.display());
        assert_eq!(run.ledger.files_unchanged, 2, "{}", spelt.display());
        assert_eq!(run.events, tree.scan().events, "{}", spelt.display());
    }
}

/// Several roots: a first run (which reads the files as the listing hands them over, after
/// the walk when roots must be merged) and the runs after it give what a full scan gives,
/// with a file reachable from two roots counted once.
#[cfg(unix)]
#[test]
fn several_roots_give_what_a_full_scan_gives() {
    let tree = Tree::new();
    tree.append("p/a.jsonl", &lines(&session("msg_a", 3)));
    tree.append("p/s/subagents/agent-1.jsonl", &lines(&session("msg_s", 2)));
    let other = tree.dir.path().join("other");
    std::fs::create_dir_all(other.join("projects/q")).unwrap();
    std::fs::write(
        other.join("projects/q/b.jsonl"),
        lines(&session("msg_b", 2)),
    )
    .unwrap();
    std::fs::hard_link(tree.file("p/a.jsonl"), other.join("projects/q/0.jsonl")).unwrap();
    let roots = vec![other.clone(), tree.root(), other.clone()];
    let scan = || {
        usage_ledger::scan_incremental(&tree.state(), &roots, &crate::support::options()).unwrap()
    };
    let check = |run: &usage_ledger::IncrementalScan| {
        let (discovery, full) = claude_logs::scan_roots(&roots, &crate::support::options());
        assert_eq!(run.discovery, discovery);
        assert_eq!(run.events, full.events);
        assert_eq!(run.stats, full.stats);
    };
    let first = scan();
    check(&first);
    assert_eq!(first.events.len(), 7);
    assert_eq!(first.discovery.files.len(), 3);
    check(&scan());
    tree.append("p/a.jsonl", &lines(&session("msg_c", 1)));
    check(&scan());
}

/// The names of the files in `dir` but its lock, sorted.
fn files_in(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".lock"))
        .collect();
    names.sort();
    names
}

/// A run handed over before its last writes: they are done once it is waited for or
/// dropped (the ledger locked until then), and the next run finds what a run that waited
/// inside would have left: its derived files, nothing to read again, the same events.
#[test]
fn a_deferred_run_finishes_its_writes() {
    for wait in [true, false] {
        let tree = Tree::new();
        tree.append("p/a.jsonl", &lines(&session("msg_a", 4)));
        tree.append("p/s/subagents/agent-1.jsonl", &lines(&session("msg_s", 2)));
        let (first, finishing) = usage_ledger::scan_incremental_deferred(
            &tree.state(),
            &tree.roots(),
            &crate::support::options(),
            &usage_ledger::LedgerOptions::default(),
        )
        .unwrap();
        tree.assert_parity(&first);
        if wait {
            assert!(finishing.wait());
        } else {
            drop(finishing);
        }
        let derived = files_in(&tree.state());
        let waited_inside = Tree::new();
        waited_inside.append("p/a.jsonl", &lines(&session("msg_a", 4)));
        waited_inside.append("p/s/subagents/agent-1.jsonl", &lines(&session("msg_s", 2)));
        waited_inside.scan();
        let expected = files_in(&waited_inside.state());
        assert_eq!(derived.len(), expected.len(), "{derived:?} {expected:?}");
        let second = tree.scan();
        tree.assert_parity(&second);
        assert_eq!(second.ledger.bytes_read, 0);
        assert_eq!(second.events, first.events);
    }
}
