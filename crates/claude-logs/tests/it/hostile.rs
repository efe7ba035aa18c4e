//! Hostile inputs: each ends in a counted skip, a reported error or a normal count, never a
//! panic. Cases the other modules already cover (bad lines by kind, a 50 MB line through
//! `scan`, BOM with CRLF, FIFOs and sockets, directory symlink loops, missing roots,
//! unlistable directories) are not repeated here.
//!
//! Decisions these tests pin down:
//!
//! - timestamps far in the future or long before Claude Code existed are valid events; the
//!   assembly leaves out responses dated after its `now` (and counts them), the reader does
//!   not judge dates;
//! - a line with a duplicated field that matters (`type`, a token count) says two things and is
//!   `wrong_types`; duplicated fields the reader skips do not matter;
//! - deep nesting in content the reader skips is skipped like any content; where the reader
//!   expects an object it is `wrong_types`;
//! - a byte order mark counts only at the start of a file.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;

use chrono::{DateTime, Utc};
use claude_logs::{
    FileRead, Interner, ScanOptions, SkippedLines, discover, read_file, read_source, scan,
    scan_roots,
};

use crate::support::{Assistant, options, session_file, write_bytes, write_lines};

/// Reads `bytes` as a whole file through `read_source`.
fn read_bytes(bytes: &[u8]) -> FileRead {
    read_bytes_with(bytes, &ScanOptions::default())
}

fn read_bytes_with(bytes: &[u8], options: &ScanOptions) -> FileRead {
    read_source(bytes, 0, options, &mut Interner::new()).expect("memory reads")
}

fn lines(lines: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in lines {
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

fn outputs(read: &FileRead) -> Vec<u64> {
    read.records.iter().map(|r| r.event.tokens.output).collect()
}

fn skipped(read: &FileRead) -> SkippedLines {
    read.stats.skipped
}

fn good(n: u64) -> String {
    Assistant::new(&format!("msg_{n}"), &format!("req_{n}"))
        .output(n)
        .line()
}

#[test]
fn invalid_utf8_outside_candidates_and_at_the_end() {
    let mut bytes = Vec::new();
    // Not a candidate: never examined, so not counted, whatever its bytes.
    bytes.extend_from_slice(b"{\"type\":\"user\",\"x\":\"\xff\xfe\xc0\xaf\"}\n");
    // A candidate with a UTF-16 surrogate encoded in UTF-8 (not valid UTF-8).
    bytes.extend_from_slice(good(1).replace("Let me", "\u{1}").as_bytes());
    let at = bytes.iter().rposition(|&b| b == 1).expect("marker");
    bytes.splice(at..=at, *b"\xed\xa0\x80");
    bytes.push(b'\n');
    bytes.extend_from_slice(good(2).as_bytes());
    bytes.push(b'\n');
    // A last line, still being written, that ends inside a multi-byte character.
    let emoji = good(3).replace("Let me", "\u{1F600}");
    let cut = emoji.find('\u{1F600}').expect("emoji") + 2;
    bytes.extend_from_slice(&emoji.as_bytes()[..cut]);
    let read = read_bytes(&bytes);
    assert_eq!(outputs(&read), vec![2]);
    assert_eq!(
        skipped(&read),
        SkippedLines {
            invalid_utf8: 1,
            truncated: 1,
            ..SkippedLines::default()
        }
    );
    assert_eq!(read.stats.lines_read, 4);
    assert_eq!(read.end_offset, (bytes.len() - cut) as u64);
}

#[test]
fn nul_bytes() {
    let raw_nul = good(1).replace("Let me", "Let\0me");
    let escaped_nul = good(2).replace("Let me", r"Let\u0000me");
    let bytes = [
        b"\0\0\0\n".as_slice(),
        raw_nul.as_bytes(),
        b"\n",
        escaped_nul.as_bytes(),
        b"\n\0\"assistant\"\0\n",
        b"\0\0",
    ]
    .concat();
    let read = read_bytes(&bytes);
    // An escaped NUL is fine; a raw one inside a string or outside one is not JSON.
    assert_eq!(outputs(&read), vec![2]);
    assert_eq!(
        skipped(&read),
        SkippedLines {
            invalid_json: 2,
            truncated: 1,
            ..SkippedLines::default()
        }
    );
    assert_eq!(read.stats.lines_read, 5);
}

/// The 100 MB line runs in a child process (this test binary again, filtered to this test),
/// so that the child's peak resident memory measures the reader alone.
#[cfg(target_os = "linux")]
mod huge_line {
    use std::process::Command;

    use super::*;

    const CHILD_DIR: &str = "CLAUDE_LOGS_TEST_HUGE_LINE_DIR";
    const TEST_NAME: &str = "hostile::huge_line::a_100_mb_line_is_oversized_in_bounded_memory";
    const BODY_BYTES: usize = 100 << 20;

    #[test]
    fn a_100_mb_line_is_oversized_in_bounded_memory() {
        if let Some(dir) = std::env::var_os(CHILD_DIR) {
            child(Path::new(&dir));
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let exe = std::env::current_exe().unwrap();
        let out = Command::new(exe)
            .args([TEST_NAME, "--exact", "--test-threads=1"])
            .env(CHILD_DIR, dir.path())
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{text}");
        assert!(text.contains("1 passed"), "the child ran nothing: {text}");
        let peak_kib: u64 = fs::read_to_string(dir.path().join("peak-kib"))
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        // The carry buffer may reach the 16 MiB line limit; holding the line would take 100 MB.
        let limit_kib = (ScanOptions::DEFAULT_MAX_LINE_BYTES as u64 >> 10) + (32 << 10);
        assert!(
            peak_kib < limit_kib,
            "peak {peak_kib} KiB, limit {limit_kib} KiB"
        );
    }

    /// Writes the file in 1 MiB pieces, reads it, checks the counts and records the peak.
    fn child(dir: &Path) {
        let path = dir.join("huge.jsonl");
        {
            let mut out = BufWriter::new(File::create(&path).unwrap());
            writeln!(out, "{}", good(1)).unwrap();
            write!(out, r#"{{"type":"assistant","message":{{"content":""#).unwrap();
            let chunk = vec![b'x'; 1 << 20];
            for _ in 0..BODY_BYTES / chunk.len() {
                out.write_all(&chunk).unwrap();
            }
            writeln!(out, r#""}},"timestamp":"2025-08-30T07:16:28.537Z"}}"#).unwrap();
            writeln!(out, "{}", good(2)).unwrap();
            out.flush().unwrap();
        }
        let len = fs::metadata(&path).unwrap().len();
        let read = read_file(&path, 0, &ScanOptions::default()).unwrap();
        assert_eq!(read.stats.skipped.oversized, 1);
        assert_eq!(read.stats.skipped.total(), 1);
        assert_eq!(read.stats.lines_read, 3);
        assert_eq!(outputs(&read), vec![1, 2], "the next line still counts");
        assert_eq!(read.stats.bytes_read, len);
        assert_eq!(read.end_offset, len);
        fs::write(dir.join("peak-kib"), peak_resident_kib().to_string()).unwrap();
    }

    /// `VmHWM` of this process, in KiB.
    fn peak_resident_kib() -> u64 {
        let status = fs::read_to_string("/proc/self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/self/status")
    }
}

#[test]
fn brackets_nested_100k_deep() {
    let depth = 100_000;
    let deep = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    // In a field the reader skips: skipped without recursion, the line still counts.
    let in_skipped_field = good(2).replacen('{', &format!(r#"{{"x":{deep},"#), 1);
    // Where the reader expects an object: the wrong type.
    let in_message = format!(r#"{{"type":"assistant","message":{deep}}}"#);
    let unclosed = "[".repeat(depth);
    let bytes = [
        in_skipped_field.as_bytes(),
        b"\n",
        in_message.as_bytes(),
        b"\n",
        good(1).as_bytes(),
        b"\n",
        // Not a candidate: not examined while terminated ...
        unclosed.as_bytes(),
        b"\n",
        // ... and checked (not JSON: being written) as the last line.
        unclosed.as_bytes(),
    ]
    .concat();
    let read = read_bytes(&bytes);
    assert_eq!(outputs(&read), vec![2, 1]);
    assert_eq!(
        skipped(&read),
        SkippedLines {
            wrong_types: 1,
            truncated: 1,
            ..SkippedLines::default()
        }
    );
}

#[test]
fn numbers_that_overflow() {
    let max = u64::MAX;
    let usage = |usage: &str, n: u64| {
        good(n).replace(r#""usage":{"#, &format!(r#""usage":{usage},"ignored":{{"#))
    };
    let read = read_bytes(&lines(&[
        // Exactly u64::MAX is a count; totals saturate.
        &usage(
            &format!(r#"{{"input_tokens":{max},"output_tokens":{max}}}"#),
            1,
        ),
        // One past it is not.
        &usage(r#"{"input_tokens":18446744073709551616}"#, 2),
        // A split whose parts add past u64::MAX: the parts still add up to the total.
        &usage(
            &format!(
                r#"{{"cache_creation":{{"ephemeral_5m_input_tokens":{max},"ephemeral_1h_input_tokens":{max}}}}}"#
            ),
            3,
        ),
        &usage(
            &format!(
                r#"{{"cache_creation_input_tokens":{max},"cache_creation":{{"ephemeral_5m_input_tokens":{max},"ephemeral_1h_input_tokens":7}}}}"#
            ),
            4,
        ),
        // Numbers out of every range in content the reader skips do not matter.
        &good(5).replace(
            r#""text":"Let me look at the parser.""#,
            r#""n":1e400,"m":-123456789012345678901234567890"#,
        ),
    ]));
    assert_eq!(read.stats.skipped.wrong_types, 1);
    assert_eq!(read.stats.skipped.total(), 1);
    assert_eq!(read.records.len(), 4);
    let first = &read.records[0].event.tokens;
    assert_eq!((first.input, first.output, first.total()), (max, max, max));
    for record in &read.records[1..3] {
        let t = &record.event.tokens;
        assert_eq!(t.cache_creation, max);
        assert_eq!(
            t.cache_creation_5m.checked_add(t.cache_creation_1h),
            Some(max)
        );
    }
    assert_eq!(read.records[2].event.tokens.cache_creation_1h, 7);
    assert_eq!(read.records[3].event.tokens.output, 5);
}

#[test]
fn negative_counts() {
    let count = |value: &str| {
        good(1).replace(
            r#""output_tokens":1"#,
            &format!(r#""output_tokens":{value}"#),
        )
    };
    let read = read_bytes(&lines(&[
        &count("-0"),
        &count("-9223372036854775808"),
        &count("-1e3"),
        &count("-0.0"),
    ]));
    // Every negative form is refused, `-0` included (JSON reads it as a float).
    assert!(read.records.is_empty());
    assert_eq!(read.stats.skipped.wrong_types, 4);
    assert_eq!(read.stats.skipped.total(), 4);
}

#[test]
fn timestamps_without_zone_far_future_and_before_2020() {
    let at = |ts: &str| Assistant::new(&format!("msg_{ts}"), "req").at(ts).line();
    let valid = [
        "9999-12-31T23:59:59.999Z",
        "2125-01-01T00:00:00+14:00",
        "2019-12-31T23:59:59-05:00",
        "1970-01-01T00:00:00Z",
        "2016-12-31T23:59:60Z",
        "2025-08-30t07:16:28.537z",
    ];
    let invalid = [
        "2025-08-30T07:16:28.537",
        "2025-08-30",
        "2025-08-30T07:16:28+0200",
        "+10000-01-01T00:00:00Z",
        "2025-02-30T00:00:00Z",
        "1756540800",
    ];
    let all: Vec<String> = valid.iter().chain(&invalid).map(|ts| at(ts)).collect();
    let read = read_bytes(&lines(&all.iter().map(String::as_str).collect::<Vec<_>>()));
    let got: Vec<DateTime<Utc>> = read.records.iter().map(|r| r.event.timestamp).collect();
    let expected: Vec<DateTime<Utc>> = valid
        .iter()
        .map(|ts| DateTime::parse_from_rfc3339(ts).unwrap().to_utc())
        .collect();
    assert_eq!(got, expected);
    assert_eq!(
        skipped(&read),
        SkippedLines {
            bad_timestamp: invalid.len() as u64,
            ..SkippedLines::default()
        }
    );
}

#[test]
fn duplicate_keys() {
    let line = good(1);
    let read = read_bytes(&lines(&[
        // Two types: the line says two things.
        &line.replacen(
            r#""type":"assistant""#,
            r#""type":"user","type":"assistant""#,
            1,
        ),
        &good(2).replace(
            r#""output_tokens":2"#,
            r#""output_tokens":2,"output_tokens":3"#,
        ),
        // Duplicated fields the reader skips do not matter.
        &good(4).replace(
            r#""userType":"external""#,
            r#""userType":"a","userType":"b""#,
        ),
    ]));
    assert_eq!(outputs(&read), vec![4]);
    assert_eq!(
        skipped(&read),
        SkippedLines {
            wrong_types: 2,
            ..SkippedLines::default()
        }
    );
}

#[test]
fn byte_order_marks_only_count_at_the_start() {
    const BOM: &[u8] = b"\xEF\xBB\xBF";
    // A file that is only a BOM is an empty line.
    let only = read_bytes(BOM);
    assert_eq!(only.stats.lines_read, 1);
    assert_eq!(only.stats.skipped.total(), 0);
    assert_eq!(only.end_offset, 3);
    // A BOM on a later line (files concatenated) is not stripped there.
    let bytes = [
        BOM,
        good(1).as_bytes(),
        b"\n",
        BOM,
        good(2).as_bytes(),
        b"\n",
    ]
    .concat();
    let read = read_bytes(&bytes);
    assert_eq!(outputs(&read), vec![1]);
    assert_eq!(read.stats.skipped.invalid_json, 1);
    // A read resumed at a later offset does not strip a BOM there either, and one at 0 does.
    let second = BOM.len() + good(1).len() + 1;
    let resumed = read_source(
        &bytes[second..],
        second as u64,
        &ScanOptions::default(),
        &mut Interner::new(),
    )
    .unwrap();
    assert_eq!(resumed.stats.skipped.invalid_json, 1);
}

#[test]
fn crlf_endings_never_lose_their_line() {
    let bytes = [
        good(1).as_bytes(),
        b"\r\n",
        good(2).as_bytes(),
        b"\r\r\n",
        b"\r\n",
        good(3).as_bytes(),
        b"\r",
    ]
    .concat();
    // Any buffer size puts some `\r\n` across a refill.
    for buffer_bytes in (64..200).chain([4096, 1 << 16]) {
        let options = ScanOptions {
            buffer_bytes,
            ..options(1)
        };
        let read = read_bytes_with(&bytes, &options);
        assert_eq!(outputs(&read), vec![1, 2, 3], "buffer {buffer_bytes}");
        assert_eq!(read.stats.skipped.total(), 0, "buffer {buffer_bytes}");
        assert_eq!(read.stats.lines_read, 4);
        // The last line, terminated by `\r` alone, parsed and is consumed.
        assert_eq!(read.end_offset, bytes.len() as u64);
    }
    // A lone `\r` is not a line end: two objects on one line are not JSON.
    let joined = [good(4).as_bytes(), b"\r", good(5).as_bytes(), b"\n"].concat();
    let read = read_bytes(&joined);
    assert!(read.records.is_empty());
    assert_eq!(read.stats.skipped.invalid_json, 1);
}

#[test]
fn a_directory_given_as_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("s1.jsonl");
    fs::create_dir(&fake).unwrap();
    let err = read_file(&fake, 0, &ScanOptions::default()).unwrap_err();
    assert_eq!(err.source.kind(), std::io::ErrorKind::InvalidInput);
    assert!(err.to_string().contains("s1.jsonl"), "{err}");
    let output = scan(&[fake], &options(1));
    assert_eq!(output.stats.unreadable_files, 1);
    assert_eq!(output.stats.files_read, 0);
}

#[cfg(unix)]
#[test]
fn a_symlink_loop_given_as_a_file_or_found_in_a_root() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("claude");
    let real = session_file(&root, "p", "s1");
    write_lines(&real, &[good(1)]);
    let a = root.join("projects/p/a.jsonl");
    let b = root.join("projects/p/b.jsonl");
    symlink(&b, &a).unwrap();
    symlink(&a, &b).unwrap();
    let err = read_file(&a, 0, &ScanOptions::default()).unwrap_err();
    assert!(err.to_string().contains("a.jsonl"), "{err}");
    let found = discover(std::slice::from_ref(&root));
    assert_eq!(found.files, vec![real]);
    let (_, output) = scan_roots(&[root], &options(1));
    assert_eq!(output.events.len(), 1);
    let output = scan(&[a, b], &options(2));
    assert_eq!(output.stats.unreadable_files, 2);
}

#[cfg(unix)]
#[test]
fn a_file_without_read_permission() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    write_lines(&path, &[good(1)]);
    fs::set_permissions(&path, fs::Permissions::from_mode(0o000)).unwrap();
    // A privileged user (root in CI) reads it anyway.
    let readable = File::open(&path).is_ok();
    let read = read_file(&path, 0, &ScanOptions::default());
    let output = scan(std::slice::from_ref(&path), &options(1));
    fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
    if readable {
        assert_eq!(outputs(&read.unwrap()), vec![1]);
        assert_eq!(output.stats.unreadable_files, 0);
        assert_eq!(output.events.len(), 1);
    } else {
        let err = read.unwrap_err();
        assert_eq!(err.source.kind(), std::io::ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("s1.jsonl"), "{err}");
        assert_eq!(output.stats.unreadable_files, 1);
        assert!(output.events.is_empty());
    }
}

#[test]
fn a_file_growing_while_read_counts_each_line_once() {
    const LINES: u64 = 1500;
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    write_bytes(&path, b"");
    let writer = {
        let path = path.clone();
        thread::spawn(move || {
            let mut file = OpenOptions::new().append(true).open(&path).unwrap();
            for n in 1..=LINES {
                // Two writes, so that readers see half lines.
                let line = good(n);
                let (head, tail) = line.split_at(line.len() / 2);
                file.write_all(head.as_bytes()).unwrap();
                file.write_all(format!("{tail}\n").as_bytes()).unwrap();
            }
        })
    };
    // An incremental reader: each read resumes where the last one stopped.
    let mut offset = 0;
    let mut got = Vec::new();
    for _ in 0..1_000_000 {
        let finished = writer.is_finished();
        let read = read_file(&path, offset, &ScanOptions::default()).unwrap();
        let stats = &read.stats;
        assert_eq!(stats.skipped.total(), stats.skipped.truncated, "{stats:?}");
        assert!(stats.skipped.truncated <= 1);
        assert_eq!(read.records.len() as u64, stats.usage_lines);
        assert!(read.end_offset >= offset);
        got.extend(outputs(&read));
        offset = read.end_offset;
        if finished {
            break;
        }
    }
    writer.join().unwrap();
    assert_eq!(got, (1..=LINES).collect::<Vec<_>>());
    assert_eq!(offset, fs::metadata(&path).unwrap().len());
}

#[test]
fn a_file_truncated_while_read_keeps_sane_counts() {
    const LINES: u64 = 400;
    let dir = tempfile::tempdir().unwrap();
    let path = session_file(dir.path(), "p", "s1");
    let content: Vec<String> = (1..=LINES).map(good).collect();
    write_lines(&path, &content);
    let full_len = fs::metadata(&path).unwrap().len();
    let stop = Arc::new(AtomicBool::new(false));
    let truncator = {
        let (path, stop) = (path.clone(), Arc::clone(&stop));
        thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) && rounds < 2000 {
                rounds += 1;
                let file = OpenOptions::new().write(true).open(&path).unwrap();
                file.set_len(0).unwrap();
                // Rewrite a prefix of a different length each time.
                let keep = (rounds * 37) as usize % content.len();
                let mut file = BufWriter::new(file);
                for line in &content[..keep] {
                    writeln!(file, "{line}").unwrap();
                }
                file.flush().unwrap();
            }
        })
    };
    let mut reads = 0;
    while reads < 300 && !truncator.is_finished() {
        reads += 1;
        let read = read_file(&path, 0, &ScanOptions::default()).unwrap();
        let stats = &read.stats;
        assert_eq!(read.records.len() as u64, stats.usage_lines);
        assert!(stats.usage_lines <= LINES, "{stats:?}");
        assert!(
            stats.usage_lines + stats.synthetic_lines + stats.skipped.total() <= stats.lines_read
        );
        assert!(stats.bytes_read <= full_len);
        assert!(read.end_offset <= stats.bytes_read);
        // Whatever mix of old and new bytes a read saw, each record is a line written.
        assert!(outputs(&read).iter().all(|n| (1..=LINES).contains(n)));
    }
    stop.store(true, Ordering::Relaxed);
    truncator.join().unwrap();
    // Once quiet, the file reads exactly.
    let now_len = fs::metadata(&path).unwrap().len();
    let read = read_file(&path, 0, &ScanOptions::default()).unwrap();
    assert_eq!(read.end_offset, now_len);
    assert_eq!(read.stats.skipped.total(), 0);
    // A resumed read from past the (new) end sees nothing: noticing that a file shrank is up
    // to the caller, which compares `end_offset` with the file's length.
    let past = read_file(&path, full_len + 10, &ScanOptions::default()).unwrap();
    assert!(past.records.is_empty());
    assert_eq!(past.end_offset, full_len + 10);
    assert_eq!(past.stats.bytes_read, 0);
}

#[test]
fn roots_that_do_not_exist() {
    let dir = tempfile::tempdir().unwrap();
    let absent = dir.path().join("absent");
    let nested = dir.path().join("absent/deeper/still");
    let with_nul = PathBuf::from("/tmp/claude\0root");
    let roots = vec![absent.clone(), nested.clone(), with_nul.clone()];
    let (found, output) = scan_roots(&roots, &options(2));
    assert!(found.files.is_empty());
    assert!(found.missing_roots.starts_with(&[absent, nested]));
    // A path that cannot even be asked about is counted as unreadable, or as missing.
    let nul_missing = found.missing_roots.contains(&with_nul);
    assert_eq!(found.unreadable_dirs, usize::from(!nul_missing));
    assert!(output.events.is_empty());
    assert_eq!(output.stats.files_read, 0);
    let err = read_file(
        &dir.path().join("absent/s.jsonl"),
        0,
        &ScanOptions::default(),
    )
    .unwrap_err();
    assert_eq!(err.source.kind(), std::io::ErrorKind::NotFound);
}
