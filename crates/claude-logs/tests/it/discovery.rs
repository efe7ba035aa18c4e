//! Finding transcripts under roots.

use std::fs;
use std::path::PathBuf;

use claude_logs::{discover, scan, scan_roots};

use crate::support::{Assistant, options, session_file, subagent_file, write_lines};

#[test]
fn finds_nested_sessions_and_subagents_and_ignores_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("claude");
    let line = vec![Assistant::new("msg_1", "req_1").line()];
    let session = session_file(&root, "-home-me-work-app", "s1");
    let agent = subagent_file(&root, "-home-me-work-app", "s1", "a1b2c3");
    let deep = root.join("projects/-home-me-work-lib/nested/deeper/s2.jsonl");
    write_lines(&session, &line);
    write_lines(&agent, &line);
    write_lines(&deep, &line);
    write_lines(&root.join("projects/-home-me-work-app/notes.txt"), &line);
    write_lines(&root.join("projects/-home-me-work-app/s1.jsonl.bak"), &line);
    write_lines(&root.join("projects/-home-me-work-app/JSONL"), &line);
    // Outside `projects/`: not a transcript.
    write_lines(&root.join("todos/s1.jsonl"), &line);
    // A directory named like a transcript is walked, not read.
    let inside = root.join("projects/-home-me-work-app/x.jsonl/inner.jsonl");
    write_lines(&inside, &line);

    let found = discover(std::slice::from_ref(&root));
    let mut expected = vec![session, agent, deep, inside];
    expected.sort();
    assert_eq!(found.files, expected);
    assert_eq!(found.existing_roots, vec![root]);
    assert!(found.missing_roots.is_empty());
    assert_eq!(found.unreadable_dirs, 0);
}

#[test]
fn reports_missing_roots() {
    let dir = tempfile::tempdir().unwrap();
    let present = dir.path().join("present");
    fs::create_dir_all(present.join("projects")).unwrap();
    let no_projects = dir.path().join("no-projects");
    fs::create_dir_all(&no_projects).unwrap();
    let absent = dir.path().join("absent");
    let projects_is_a_file = dir.path().join("file-root");
    fs::create_dir_all(&projects_is_a_file).unwrap();
    fs::write(projects_is_a_file.join("projects"), "x").unwrap();
    let found = discover(&[
        present.clone(),
        no_projects.clone(),
        absent.clone(),
        projects_is_a_file.clone(),
        present.clone(),
    ]);
    assert!(found.files.is_empty());
    assert_eq!(found.existing_roots, vec![present]);
    assert_eq!(
        found.missing_roots,
        vec![no_projects, absent, projects_is_a_file]
    );
}

#[test]
fn empty_root_list_finds_nothing() {
    let (found, output) = scan_roots(&[], &options(2));
    assert!(found.files.is_empty());
    assert!(output.events.is_empty());
    assert_eq!(output.stats.files_read, 0);
}

#[test]
fn a_vanished_file_is_counted_as_unreadable() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("claude");
    let kept = session_file(&root, "p", "kept");
    let gone = session_file(&root, "p", "gone");
    write_lines(&kept, &[Assistant::new("msg_1", "req_1").line()]);
    write_lines(&gone, &[Assistant::new("msg_2", "req_2").line()]);
    let found = discover(&[root]);
    assert_eq!(found.files.len(), 2);
    fs::remove_file(&gone).unwrap();
    let output = scan(&found.files, &options(2));
    assert_eq!(output.stats.files_read, 1);
    assert_eq!(output.stats.unreadable_files, 1);
    assert_eq!(output.events.len(), 1);
}

#[cfg(unix)]
mod unix {
    use std::os::unix::fs::{PermissionsExt, symlink};
    use std::os::unix::net::UnixListener;
    use std::process::Command;

    use super::*;

    #[test]
    fn symlink_loops_end() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("claude");
        let session = session_file(&root, "p", "s1");
        write_lines(&session, &[Assistant::new("msg_1", "req_1").line()]);
        symlink(root.join("projects/p"), root.join("projects/p/loop")).unwrap();
        symlink(root.join("projects"), root.join("projects/p/up")).unwrap();
        symlink(
            dir.path().join("nowhere"),
            root.join("projects/dangling.jsonl"),
        )
        .unwrap();
        let found = discover(std::slice::from_ref(&root));
        assert_eq!(found.files, vec![session]);
        let (_, output) = scan_roots(&[root], &options(2));
        assert_eq!(output.events.len(), 1);
        assert_eq!(output.stats.duplicate_lines, 0);
    }

    #[test]
    fn same_file_through_two_roots_is_read_once() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        let session = session_file(&real, "p", "s1");
        write_lines(&session, &[Assistant::new("msg_1", "req_1").line()]);
        let linked = dir.path().join("linked");
        symlink(&real, &linked).unwrap();
        // A third root whose `projects` directory links into the first one's projects.
        let other = dir.path().join("other");
        fs::create_dir_all(&other).unwrap();
        symlink(real.join("projects"), other.join("projects")).unwrap();
        // A hard link is the same file too.
        let hard = dir.path().join("hard");
        fs::create_dir_all(hard.join("projects/q")).unwrap();
        fs::hard_link(&session, hard.join("projects/q/copy.jsonl")).unwrap();

        let roots = vec![linked.clone(), real.clone(), other.clone(), hard.clone()];
        let (found, output) = scan_roots(&roots, &options(2));
        assert_eq!(found.existing_roots, roots);
        assert_eq!(found.files.len(), 1);
        assert_eq!(output.stats.files_read, 1);
        assert_eq!(output.stats.usage_lines, 1);
        assert_eq!(output.events.len(), 1);
    }

    #[test]
    fn fifos_and_sockets_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("claude");
        let session = session_file(&root, "p", "s1");
        write_lines(&session, &[Assistant::new("msg_1", "req_1").line()]);
        let fifo = root.join("projects/p/fifo.jsonl");
        let status = Command::new("mkfifo").arg(&fifo).status().unwrap();
        assert!(status.success());
        let _socket = UnixListener::bind(root.join("projects/p/socket.jsonl")).unwrap();
        let found = discover(std::slice::from_ref(&root));
        assert_eq!(found.files, vec![session.clone()]);
        // Handed a FIFO directly, the scan refuses it instead of blocking on it.
        let output = scan(std::slice::from_ref(&fifo), &options(1));
        assert_eq!(output.stats.unreadable_files, 1);
        // So does the opening both readers use (no writer is on the FIFO: a blocking open
        // would never return), and a directory; a transcript opens, with its metadata.
        for refused in [&fifo, &root.join("projects/p")] {
            let err = claude_logs::open_transcript(refused).unwrap_err();
            assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{refused:?}");
        }
        let (_, metadata) = claude_logs::open_transcript(&session).unwrap();
        assert_eq!(metadata.len(), fs::metadata(&session).unwrap().len());
    }

    /// A FIFO is refused without being opened: a writer blocked on it stays blocked (opening
    /// its read end would let the writer through, and its data would be lost at the close).
    #[test]
    fn a_fifo_with_a_waiting_writer_is_not_opened() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::time::Duration;

        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("s.jsonl");
        assert!(
            Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success()
        );
        let through = Arc::new(AtomicBool::new(false));
        let writer = {
            let (fifo, through) = (fifo.clone(), Arc::clone(&through));
            std::thread::spawn(move || {
                // Blocks until the FIFO is opened for reading.
                let mut w = fs::OpenOptions::new().write(true).open(&fifo).unwrap();
                through.store(true, Ordering::SeqCst);
                let _ = std::io::Write::write_all(&mut w, b"{}\n");
            })
        };
        std::thread::sleep(Duration::from_millis(50));
        let err = claude_logs::open_transcript(&fifo).unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
        std::thread::sleep(Duration::from_millis(50));
        assert!(!through.load(Ordering::SeqCst), "the FIFO was opened");
        // Let the writer go.
        let mut read_end = fs::File::open(&fifo).unwrap();
        writer.join().unwrap();
        let mut got = String::new();
        std::io::Read::read_to_string(&mut read_end, &mut got).unwrap();
        assert_eq!(got, "{}\n");
    }

    #[test]
    fn an_unlistable_directory_is_counted_not_fatal() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("claude");
        let session = session_file(&root, "p", "s1");
        write_lines(&session, &[Assistant::new("msg_1", "req_1").line()]);
        let locked = root.join("projects/locked");
        let hidden = locked.join("s2.jsonl");
        write_lines(&hidden, &[Assistant::new("msg_2", "req_2").line()]);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o000)).unwrap();
        // A privileged user can list it anyway.
        let listable = fs::read_dir(&locked).is_ok();
        let found = discover(&[root]);
        fs::set_permissions(&locked, fs::Permissions::from_mode(0o755)).unwrap();
        let expected: Vec<PathBuf> = if listable {
            vec![hidden, session]
        } else {
            vec![session]
        };
        assert_eq!(found.files, expected);
        assert_eq!(found.unreadable_dirs, usize::from(!listable));
    }
}
