//! A durable ledger of counted API responses: transcript scans that cost what is new, and
//! history that outlives the transcripts.
//!
//! [`scan_incremental`] gives the same events and counts as
//! [`claude_logs::scan_roots`], but reads only the bytes appended since the previous run, and
//! keeps counting responses whose transcripts Claude Code has since deleted.
//!
//! # What the ledger holds
//!
//! For each transcript file: its path, identity (device, inode), size and modification time
//! when last opened, the offset just after the last line consumed, a fingerprint (a CRC-32
//! of each KiB, 128 bits in all) of its first `min(offset, 4 KiB)` bytes, whether the
//! consumed part ends with a complete line that had no newline yet, and its counts
//! ([`claude_logs::FileStats`]) split into the consumed part and the unconsumed tail. For
//! each file also its usage records, each with its dedup key ([`claude_logs::ResponseKey`])
//! and the event (timestamp, model, tokens with the 5-minute / 1-hour split, speed, project,
//! session; strings interned in a table).
//! Records are stored compacted per read ([`claude_logs::Dedup::into_compact_records`]), so
//! the global [`claude_logs::Dedup`] over every file's records gives exactly the responses a
//! full scan gives.
//!
//! # A run
//!
//! 1. Take the lock (`ledger-<key>.lock`, exclusive, polled up to
//!    [`LedgerOptions::lock_timeout`]); load the ledger: from its checkpoint
//!    (`ledger-<key>.ckpt`, the state the last run left, without the positions of the usage
//!    records) when that names the ledger's id and length, else by replaying it.
//! 2. [`claude_logs::discover`] the transcripts and `stat` each one (beside the load, on a
//!    thread of its own). A directory that did not change since the last walk is not listed
//!    again: its entries come from `ledger-<key>.dirs` (see
//!    [`claude_logs::discover_with_listings`]; used while the ledger file exists, at most an
//!    hour old). A file whose identity, size and modification time match its entry is not
//!    opened. Without a ledger file (a first run) there is nothing to match: the files are
//!    read as the walk finds them ([`claude_logs::discover_each`]).
//! 3. Other files are read in parallel (`ScanOptions::threads`): from the entry's offset when
//!    the file has the entry's identity, is at least that long and its first bytes still have
//!    the entry's fingerprint; otherwise from the start, and the entry's records are replaced.
//!    A file found at a new path with the identity and fingerprint of an entry whose path is
//!    gone is that entry, renamed: it is not read again. An incomplete last line is left for
//!    the next run.
//! 4. The changes are appended as one transaction (checksummed records and a commit record,
//!    not flushed to disk: see `store::append`); the events are the global dedup of every
//!    entry's records.
//!
//! A run that writes the ledger anew (a first run, a rebuild, a compaction) can hand its
//! events over before its last writes (the cache below, the ledger's flush, the checkpoint):
//! [`scan_incremental_deferred`] and [`Finishing`].
//!
//! Step 4 is shortened by a cache (`ledger-<key>.kept`): the kept records of the last run, in
//! output order, tied to one state of the ledger (its id, commit sequence and length) and
//! checksummed. With nothing new, the events are decoded straight from it (no dedup, no sort),
//! and the ledger's event batches are neither decoded nor checksummed again (the run that
//! wrote the cache checked them). After appends, only the responses whose `message.id` occurs
//! in the new records are deduplicated again and merged in. Anything else (a file read again
//! from its start, a damaged or foreign cache) takes the full path.
//!
//! The result: the events of every transcript present now (its content up to its last
//! complete line), plus the records last seen of transcripts that no longer exist. A
//! transcript that was deleted keeps counting; one rewritten in place (it shrank, or its first
//! bytes changed, or another file took its path) counts with its new content only.
//!
//! # File format (version 1)
//!
//! `<state dir>/ledger-<key>.bin`, where `<key>` is 16 hex digits of a hash of the roots
//! (absolute, normalized, sorted), so a run over other roots never touches this ledger. All
//! integers are little-endian.
//!
//! - Header: magic `AIOSLEDG`, `version: u32`, `ledger_id: u64` (new at each rebuild and
//!   compaction), `roots_len: u32`, the roots (NUL-separated), `crc32: u32` of the preceding
//!   header bytes.
//! - Then records: `len: u32`, `kind: u8`, `payload` (`len` bytes), `crc32: u32` of `len`,
//!   `kind` and `payload` (CRC-32/IEEE).
//!   - `1` string: UTF-8 bytes; the n-th string record has id n.
//!   - `2` file: `id u32, dev u64, ino u64, size u64, mtime_s i64, mtime_ns u32, offset u64,
//!     fp_len u32, fp u128, flags u8, consumed stats 11 x u64, unconsumed stats 11 x u64`,
//!     then the path bytes. The latest record of an id wins.
//!   - `3` events: `file id u32, count u32`, then `count` records of 105 bytes:
//!     `secs i64, nanos u32, model u32, project u32, session u32` (string ids; `u32::MAX` for
//!     none), `flags u8` (key, request id, sidechain, fast), `message_id u128,
//!     request_id u128, input, output, cache_creation, cache_read, cache_5m, cache_1h` (u64).
//!   - `4` forget: `file id u32`: drops the file and its records.
//!   - `5` commit: `sequence u64`. Records take effect only at the commit that follows them.
//!   - `6` reserved (authoritative readings are kept in a file of their own beside the ledger,
//!     see [`load_readings`], so that appending one never contends with a scan). Records
//!     of unknown kinds are kept and carried over by compaction; a change that older readers
//!     must not ignore takes a new format version.
//!
//! Loading stops at the first record that is cut short or fails its checksum and cuts the
//! file after the last commit; a run killed at any instant therefore leaves the state of the
//! previous complete run, and the next run reads again what the lost part covered. A ledger
//! whose header is damaged, that is of an older version or for other roots, or that cannot
//! be read, is moved aside (`.bad`) and rebuilt from the transcripts, with a warning. A
//! ledger of a newer version is left untouched and the run reads every transcript.
//!
//! When the file grows past [`LedgerOptions::compact_ratio`] times the size of its live
//! content (and past [`LedgerOptions::compact_min_bytes`]), it is rewritten: the live state
//! into a temp file, flushed, renamed over the ledger, the directory flushed.

mod bytes;
mod cache;
mod checkpoint;
mod crc;
mod dirs;
mod format;
mod incremental;
mod readings;
mod store;

pub use incremental::Finishing;
pub use readings::{
    KEEP_READINGS, MAX_READINGS, StoredReading, append_readings, load_readings, readings_path,
};

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use claude_logs::{Discovery, ScanOptions, ScanStats, UsageEvent};

/// The result of [`scan_incremental`].
#[derive(Debug, Clone)]
pub struct IncrementalScan {
    /// The transcripts found now.
    pub discovery: Discovery,
    /// One event per API response, from present and deleted transcripts alike, sorted by
    /// timestamp and then by [`claude_logs::compare_events`] (as [`claude_logs::scan`]).
    pub events: Vec<UsageEvent>,
    /// Counts as one full scan of the present transcripts would give them (`files_read`,
    /// lines, skipped lines, bytes), except that `events` counts every event above and
    /// `duplicate_lines` is the usage lines of every file the ledger knows minus `events`.
    pub stats: ScanStats,
    /// What the ledger did.
    pub ledger: LedgerStats,
}

/// What the ledger did during one run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LedgerStats {
    /// The ledger file.
    pub path: PathBuf,
    /// Transcripts read (in whole or in part) this run.
    pub files_read: u64,
    /// Transcript bytes read this run.
    pub bytes_read: u64,
    /// Transcripts found unchanged, not opened.
    pub files_unchanged: u64,
    /// Transcripts the ledger remembers that no longer exist (their events still count).
    pub files_history: u64,
    /// Responses counted.
    pub events_total: u64,
    /// Why the ledger was rebuilt from the transcripts, when it was.
    pub rebuilt: Option<RebuildReason>,
    /// The ledger file was rewritten to drop superseded records.
    pub compacted: bool,
    /// The ledger on disk holds this run's result (false when it could not be written, or
    /// belongs to a newer version of this program).
    pub saved: bool,
}

/// Why a ledger was rebuilt from the transcripts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RebuildReason {
    /// It could not be opened or read (the message of the error).
    Unreadable(String),
    /// Its header is damaged (wrong magic, cut short or a bad checksum).
    Damaged,
    /// It has an older format version.
    OldVersion(u32),
    /// It was written for another set of roots.
    OtherRoots,
}

impl fmt::Display for RebuildReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RebuildReason::Unreadable(e) => write!(f, "unreadable: {e}"),
            RebuildReason::Damaged => f.write_str("damaged header"),
            RebuildReason::OldVersion(v) => write!(f, "older format version {v}"),
            RebuildReason::OtherRoots => f.write_str("written for other roots"),
        }
    }
}

/// Tuning of the ledger.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerOptions {
    /// How long to wait for another run that holds the ledger. Default: 10 s.
    pub lock_timeout: Duration,
    /// Rewrite the ledger when it is more than this many times the size of its live content.
    /// Default: 2.
    pub compact_ratio: u64,
    /// ... and larger than this. Default: 1 MiB.
    pub compact_min_bytes: u64,
}

impl Default for LedgerOptions {
    fn default() -> Self {
        Self {
            lock_timeout: Duration::from_secs(10),
            compact_ratio: 2,
            compact_min_bytes: 1 << 20,
        }
    }
}

/// Why there is no incremental scan.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The state directory could not be created.
    #[error("cannot create the state directory {}", path.display())]
    StateDir {
        /// The directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The lock file could not be opened or locked.
    #[error("cannot lock the usage ledger {}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Another run held the ledger for longer than the lock timeout.
    #[error(
        "another aggregate run is using the usage ledger (lock {} held for {:.1} s); try again \
         when it has finished",
        path.display(),
        waited.as_secs_f64()
    )]
    Locked {
        /// The lock file.
        path: PathBuf,
        /// How long this run waited.
        waited: Duration,
    },
}

/// The ledger file for `roots` in `state_dir`.
pub fn ledger_path(state_dir: &Path, roots: &[PathBuf]) -> PathBuf {
    store::Location::new(state_dir, roots).ledger
}

/// Scans the transcripts under `roots` incrementally, with the ledger kept in `state_dir`
/// (created, owner-only, when missing), and default [`LedgerOptions`].
///
/// Fails only when the state directory or the lock cannot be had; a ledger that cannot be
/// used is rebuilt, one that cannot be written is reported by a warning and
/// [`LedgerStats::saved`].
pub fn scan_incremental(
    state_dir: &Path,
    roots: &[PathBuf],
    options: &ScanOptions,
) -> Result<IncrementalScan, LedgerError> {
    scan_incremental_with(state_dir, roots, options, &LedgerOptions::default())
}

/// [`scan_incremental`] with explicit [`LedgerOptions`].
pub fn scan_incremental_with(
    state_dir: &Path,
    roots: &[PathBuf],
    options: &ScanOptions,
    ledger_options: &LedgerOptions,
) -> Result<IncrementalScan, LedgerError> {
    let (mut scan, finishing) = incremental::run(state_dir, roots, options, ledger_options)?;
    scan.ledger.saved = finishing.wait();
    Ok(scan)
}

/// [`scan_incremental_with`], handing the result over before the last writes are done: a
/// run that wrote the ledger anew (a first run, a rebuild, a compaction) still writes the
/// kept-records cache and the checkpoint, and waits for the ledger's flush, on a thread of
/// its own, while the caller uses the events. [`Finishing::wait`] (or dropping it) waits for
/// them and tells whether the ledger was saved; until then `ledger.saved` is `false`.
pub fn scan_incremental_deferred(
    state_dir: &Path,
    roots: &[PathBuf],
    options: &ScanOptions,
    ledger_options: &LedgerOptions,
) -> Result<(IncrementalScan, Finishing), LedgerError> {
    incremental::run(state_dir, roots, options, ledger_options)
}
