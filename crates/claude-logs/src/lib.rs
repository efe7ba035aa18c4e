//! Reads Claude Code's JSONL transcripts and yields each API response exactly once.
//!
//! This is the IO side of the local usage estimate: it finds the transcripts, streams them,
//! keeps the usage of each API response once and counts what it skipped. Pricing and
//! aggregation happen elsewhere, on the [`UsageEvent`]s returned here.
//!
//! # Roots
//!
//! A root is a Claude Code data directory holding `projects/`. [`default_roots`] computes them
//! from a [`RootsEnv`] (passed in, so tests never read the real environment):
//! `CLAUDE_CONFIG_DIR`, a comma-separated list (parts trimmed, empty parts skipped, a leading `~`
//! expanded, a path ending in `projects` mapped to its parent), replaces the defaults
//! `$XDG_CONFIG_HOME/claude` (or `~/.config/claude`) and `~/.claude`. Explicit roots go through
//! [`normalize_root`]. [`discover`] lists every `*.jsonl` regular file under `<root>/projects/`,
//! recursively (subagent transcripts included), each file once even when reachable through
//! several roots or symlinks, and reports which roots exist.
//!
//! # Streaming
//!
//! Files are never loaded whole. Each worker reads through one buffer (64 KiB by default) and
//! splits lines with `memchr`; a line is handled in place when it lies within the buffer and
//! copied into a carry buffer only when it spans a refill. A line longer than
//! [`ScanOptions::max_line_bytes`] (16 MiB by default) is not buffered: its bytes are dropped up
//! to the next newline and it is counted as `oversized`, so memory does not grow with line
//! length. A UTF-8 byte order mark at the start of a file and a `\r` before a newline are
//! stripped. [`scan`] reads files on `ScanOptions::threads` workers.
//!
//! # Pre-filter
//!
//! Before any JSON parsing, a line must contain the bytes `"assistant"` (with the quotes), found
//! with `memchr::memmem`. Every usage line does (`"type":"assistant"`); most other lines (user
//! prompts, tool results, file-history snapshots) do not and cost nothing more than the search.
//! A long line (`ScanOptions::long_line_bytes`, 4 KiB by default) whose first members, before any
//! object or array, give a `type` other than `"assistant"` is passed by as if it lacked the
//! needle, without the search: large lines (tool results, file-history snapshots) give their
//! type first, an assistant line gives it after `message`.
//! Only these candidate lines are examined: a line that fails the pre-filter is neither parsed
//! nor counted as bad, whatever it contains. Candidates are read into a borrowed struct of the
//! few fields needed; content is skipped. A byte-level reader does this for the lines it is sure
//! to read exactly as serde would (compact, valid JSON with fields of the expected types); any
//! other line goes to serde, so the result is serde's in every case. A line is usage when its
//! top-level `type` is `"assistant"` and it has `message.usage`; missing token fields count as
//! 0, a missing model is recorded as [`UNKNOWN_MODEL`]. Lines with `model: "<synthetic>"` or
//! `isApiErrorMessage: true` are Claude Code's own error messages: not usage, counted as
//! `synthetic_lines`.
//!
//! # Bad lines
//!
//! Bad lines are skipped and counted by kind ([`SkippedLines`]), never fatal:
//!
//! - `invalid_utf8`: a candidate line that is not UTF-8;
//! - `invalid_json`: a candidate line that is not JSON;
//! - `wrong_types`: an assistant line that is JSON but whose fields have the wrong types (a
//!   negative, fractional, string or out-of-range token count, a non-string id, ...);
//! - `bad_timestamp`: a usage line whose `timestamp` is missing or not RFC 3339 with an offset
//!   or `Z`;
//! - `oversized`: longer than `max_line_bytes` (decided before the pre-filter);
//! - `truncated`: the last line of a file, without a newline, that does not parse (Claude Code
//!   is still writing it). This line is checked even when it lacks `"assistant"`, which may not
//!   be written yet. A last line without a newline that parses counts normally.
//!
//! A file that cannot be read is skipped with a warning and counted in
//! [`ScanStats::unreadable_files`].
//!
//! # Counting each response once
//!
//! One API response appears as several lines (one per content block, earlier ones possibly with
//! a partial streaming count), again in resumed sessions, and replayed in sidechain transcripts
//! with a new `requestId`. [`Dedup`] applies, across every file and root:
//!
//! 1. Lines are copies of one response when they share `message.id` and either share
//!    `requestId`, or one of them has no `requestId`, or one of them has `isSidechain: true`.
//! 2. One copy is kept: non-sidechain over sidechain, then the larger token total (input +
//!    output + cache writes + cache reads), then the earlier timestamp, then a fixed order of the
//!    remaining fields, so the result does not depend on file order or thread timing.
//! 3. Matching is global, not per file.
//!
//! A usage line without `message.id` cannot be matched and counts as its own response. Keys are
//! stable 128-bit FNV-1a hashes of the ids, so a dedup index can outlive one run; with
//! [`read_file`] (which starts at a byte offset and returns where it stopped) an incremental
//! reader can feed only what was appended since.

mod dedup;
mod discover;
mod event;
mod hash;
mod intern;
mod parse;
mod place;
mod read;
mod roots;
mod scan;

pub use dedup::{Dedup, Record, ResponseKey, compare_events, event_order, sort_by_event};
pub use discover::{
    Discovery, EntryKind, FileMeta, Listing, Listings, MAX_AGE, SETTLED, discover, discover_each,
    discover_with_listings, discover_with_metadata,
};
pub use event::{Speed, TokenCounts, UsageEvent};
pub use hash::{WordHashed, WordHasher, fnv1a_128};
pub use intern::Interner;
pub use place::{Parent, beside, step_aside};
pub use read::{
    FileRead, FileReader, FileStats, LineSource, ReadError, ScanOptions, SkippedLines,
    UNKNOWN_MODEL, open_transcript, read_file, read_file_with, read_source,
};
pub use roots::{RootsEnv, default_roots, normalize_root};
pub use scan::{ScanOutput, ScanStats, scan, scan_roots};

/// Hooks for the fuzz targets in `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    /// Classifies one candidate line twice, as the reader does (the fast path, with serde as
    /// the fallback) and with serde alone, and returns both results rendered as text. The two
    /// must always be equal.
    pub fn parse_both(line: &[u8]) -> (String, String) {
        use crate::parse::{parse_line, parse_line_serde, render};
        (render(&parse_line(line)), render(&parse_line_serde(line)))
    }
}
