//! `scan` against a direct, quadratic implementation of the dedup rules on random trees.

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use claude_logs::{ScanOptions, Speed, TokenCounts, discover, scan};
use proptest::prelude::*;

use crate::support::{Assistant, shuffle, user_line, write_lines};

const MODELS: [&str; 3] = [
    "claude-sonnet-4-5-20250929",
    "claude-opus-4-5-20251101",
    "claude-haiku-4-5-20251001",
];
const FILES: usize = 6;

#[derive(Debug, Clone)]
enum CopyKind {
    /// The final line (again: split lines, resumed sessions, a second root).
    Full,
    /// An earlier streaming line: `output` reduced by this much (at least 1, capped).
    Partial(u64),
    /// A sidechain replay with a new request id and its own output count.
    Sidechain(u64),
}

#[derive(Debug, Clone)]
struct CopySpec {
    kind: CopyKind,
    file: usize,
    root: usize,
}

#[derive(Debug, Clone)]
struct ResponseSpec {
    has_message_id: bool,
    has_request_id: bool,
    /// Share the message id of the previous response (with its own request id).
    reuse_message_id: bool,
    input: u64,
    output: u64,
    cache_5m: u64,
    cache_1h: u64,
    cache_read: u64,
    second: i64,
    model: usize,
    fast: bool,
    copies: Vec<CopySpec>,
}

fn copy_spec() -> impl Strategy<Value = CopySpec> {
    let kind = prop_oneof![
        4 => Just(CopyKind::Full),
        3 => (1u64..400).prop_map(CopyKind::Partial),
        2 => (0u64..400).prop_map(CopyKind::Sidechain),
    ];
    (kind, 0..FILES, 0usize..2).prop_map(|(kind, file, root)| CopySpec { kind, file, root })
}

fn response_spec() -> impl Strategy<Value = ResponseSpec> {
    (
        (
            prop::bool::weighted(0.9),
            prop::bool::weighted(0.8),
            prop::bool::weighted(0.1),
        ),
        (0u64..20, 0u64..300, 0u64..50, 0u64..50, 0u64..100),
        (0i64..3600, 0..MODELS.len(), prop::bool::weighted(0.2)),
        prop::collection::vec(copy_spec(), 1..5),
    )
        .prop_map(
            |(
                (has_message_id, has_request_id, reuse_message_id),
                (input, output, cache_5m, cache_1h, cache_read),
                (second, model, fast),
                copies,
            )| ResponseSpec {
                has_message_id,
                has_request_id,
                reuse_message_id,
                input,
                output,
                cache_5m,
                cache_1h,
                cache_read,
                second,
                model,
                fast,
                copies,
            },
        )
}

/// A usage line as the reference sees it.
#[derive(Debug, Clone)]
struct RefLine {
    message_id: Option<String>,
    request_id: Option<String>,
    sidechain: bool,
    timestamp: DateTime<Utc>,
    model: String,
    tokens: TokenCounts,
    speed: Speed,
}

type Tokens6 = (u64, u64, u64, u64, u64, u64);

fn token_tuple(t: &TokenCounts) -> Tokens6 {
    (
        t.input,
        t.output,
        t.cache_creation,
        t.cache_read,
        t.cache_creation_5m,
        t.cache_creation_1h,
    )
}

/// Rule 1, pairwise.
fn same_response(a: &RefLine, b: &RefLine) -> bool {
    match (&a.message_id, &b.message_id) {
        (Some(x), Some(y)) if x == y => {
            a.sidechain
                || b.sidechain
                || a.request_id.is_none()
                || b.request_id.is_none()
                || a.request_id == b.request_id
        }
        _ => false,
    }
}

/// The reference: connected components of rule 1 over all lines (rule 3), one kept per
/// component by rule 2 (non-sidechain, larger total, then earlier timestamp and field order).
fn reference(lines: &[RefLine]) -> Vec<RefLine> {
    let n = lines.len();
    let mut component: Vec<usize> = (0..n).collect();
    for i in 0..n {
        for j in (i + 1)..n {
            if same_response(&lines[i], &lines[j]) {
                let (from, to) = (component[j], component[i]);
                if from != to {
                    for c in component.iter_mut() {
                        if *c == from {
                            *c = to;
                        }
                    }
                }
            }
        }
    }
    let mut groups: BTreeMap<usize, Vec<&RefLine>> = BTreeMap::new();
    for (i, line) in lines.iter().enumerate() {
        groups.entry(component[i]).or_default().push(line);
    }
    groups
        .into_values()
        .map(|copies| {
            (*copies
                .iter()
                .max_by_key(|l| {
                    (
                        !l.sidechain,
                        l.tokens.total(),
                        Reverse(l.timestamp),
                        Reverse(l.model.clone()),
                        Reverse(token_tuple(&l.tokens)),
                        Reverse(l.speed == Speed::Fast),
                    )
                })
                .unwrap())
            .clone()
        })
        .collect()
}

fn file_path(base: &Path, root: usize, file: usize, sidechain: bool) -> PathBuf {
    let session = base
        .join(format!("root{root}"))
        .join("projects")
        .join(format!("-home-me-p{}", file % 2));
    if sidechain {
        session
            .join(format!("s{file}"))
            .join("subagents")
            .join(format!("agent-{file}.jsonl"))
    } else {
        session.join(format!("s{file}.jsonl"))
    }
}

/// Writes the tree and returns every usage line written.
fn build(base: &Path, responses: &[ResponseSpec], seed: u64) -> Vec<RefLine> {
    let start = DateTime::parse_from_rfc3339("2025-08-30T07:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    let mut files: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    let mut written = Vec::new();
    for (i, r) in responses.iter().enumerate() {
        let message_index = if r.reuse_message_id && i > 0 {
            i - 1
        } else {
            i
        };
        let timestamp = start + Duration::seconds(r.second);
        let mut line = Assistant::new(&format!("msg_{message_index}"), &format!("req_{i}"));
        if !r.has_message_id {
            line.message_id = None;
        }
        if !r.has_request_id {
            line.request_id = None;
        }
        line.model = MODELS[r.model].to_owned();
        line.fast = r.fast;
        line.tokens = TokenCounts {
            input: r.input,
            output: r.output,
            cache_creation: r.cache_5m + r.cache_1h,
            cache_read: r.cache_read,
            cache_creation_5m: r.cache_5m,
            cache_creation_1h: r.cache_1h,
        };
        for (j, copy) in r.copies.iter().enumerate() {
            let mut this = line.clone();
            let mut at = timestamp;
            match copy.kind {
                CopyKind::Full => {}
                CopyKind::Partial(less) => this.tokens.output -= less.min(r.output),
                CopyKind::Sidechain(output) => {
                    this = this.sidechain(&format!("req_side_{i}_{j}")).output(output);
                    at = timestamp + Duration::seconds(j as i64 + 1);
                }
            }
            this.timestamp = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            written.push(RefLine {
                message_id: this.message_id.clone(),
                request_id: this.request_id.clone(),
                sidechain: this.sidechain,
                timestamp: at,
                model: this.model.clone(),
                tokens: this.tokens,
                speed: if this.fast {
                    Speed::Fast
                } else {
                    Speed::Standard
                },
            });
            let path = file_path(base, copy.root, copy.file, this.sidechain);
            files.entry(path).or_default().push(this.line());
        }
    }
    for (n, (path, mut lines)) in files.into_iter().enumerate() {
        lines.push(user_line("thanks, assistant"));
        shuffle(&mut lines, seed.wrapping_add(n as u64));
        write_lines(&path, &lines);
    }
    written
}

fn event_key(
    timestamp: DateTime<Utc>,
    model: &str,
    tokens: &TokenCounts,
    speed: Speed,
) -> (DateTime<Utc>, String, Tokens6, bool) {
    (
        timestamp,
        model.to_owned(),
        token_tuple(tokens),
        speed == Speed::Fast,
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 40, ..ProptestConfig::default() })]

    #[test]
    fn scan_matches_the_reference(
        responses in prop::collection::vec(response_spec(), 1..14),
        seed in any::<u64>(),
        threads in 1usize..4,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let written = build(dir.path(), &responses, seed);
        let roots = [dir.path().join("root0"), dir.path().join("root1")];
        let mut files = discover(&roots).files;
        shuffle(&mut files, seed);
        let options = ScanOptions { threads, ..ScanOptions::default() };
        let output = scan(&files, &options);

        let expected = reference(&written);
        prop_assert_eq!(output.events.len(), expected.len());
        let mut expected_total = TokenCounts::default();
        for line in &expected {
            expected_total.add(&line.tokens);
        }
        let mut got_total = TokenCounts::default();
        for event in &output.events {
            got_total.add(&event.tokens);
        }
        prop_assert_eq!(got_total, expected_total);

        let mut expected_keys: Vec<_> = expected
            .iter()
            .map(|l| event_key(l.timestamp, &l.model, &l.tokens, l.speed))
            .collect();
        expected_keys.sort();
        let mut got_keys: Vec<_> = output
            .events
            .iter()
            .map(|e| event_key(e.timestamp, &e.model, &e.tokens, e.speed))
            .collect();
        got_keys.sort();
        prop_assert_eq!(got_keys, expected_keys);

        let stats = &output.stats;
        prop_assert_eq!(stats.usage_lines, written.len() as u64);
        prop_assert_eq!(stats.events, expected.len() as u64);
        prop_assert_eq!(stats.duplicate_lines, (written.len() - expected.len()) as u64);
        prop_assert_eq!(stats.skipped.total(), 0);

        // The same with the files in sorted order on one thread.
        files.sort();
        let sorted = scan(&files, &ScanOptions { threads: 1, ..ScanOptions::default() });
        prop_assert_eq!(sorted, output);
    }
}
