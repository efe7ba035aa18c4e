//! Scanning many files in parallel into one deduplicated list of events.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::dedup::Dedup;
use crate::discover::{Discovery, discover};
use crate::event::UsageEvent;
use crate::intern::Interner;
use crate::read::{FileReader, FileStats, ScanOptions, SkippedLines};

/// What a scan saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanStats {
    /// Files read.
    pub files_read: u64,
    /// Files that could not be read (each logged as a warning).
    pub unreadable_files: u64,
    /// Lines seen.
    pub lines_read: u64,
    /// Lines that passed the `"assistant"` pre-filter (and were not passed by as long lines of
    /// another kind) and were parsed.
    pub candidate_lines: u64,
    /// Usage lines, before deduplication.
    pub usage_lines: u64,
    /// Unique responses (the number of events).
    pub events: u64,
    /// Usage lines dropped as copies of another (`usage_lines - events`).
    pub duplicate_lines: u64,
    /// Claude Code's own error lines (`<synthetic>` model or `isApiErrorMessage`).
    pub synthetic_lines: u64,
    /// Skipped lines by reason.
    pub skipped: SkippedLines,
    /// Bytes read.
    pub bytes_read: u64,
}

impl ScanStats {
    /// Adds the counts of one file read.
    pub fn add_file(&mut self, file: &FileStats) {
        self.files_read += 1;
        self.lines_read += file.lines_read;
        self.candidate_lines += file.candidate_lines;
        self.usage_lines += file.usage_lines;
        self.synthetic_lines += file.synthetic_lines;
        self.skipped.add(&file.skipped);
        self.bytes_read += file.bytes_read;
    }

    fn merge(&mut self, other: &ScanStats) {
        self.files_read += other.files_read;
        self.unreadable_files += other.unreadable_files;
        self.lines_read += other.lines_read;
        self.candidate_lines += other.candidate_lines;
        self.usage_lines += other.usage_lines;
        self.synthetic_lines += other.synthetic_lines;
        self.skipped.add(&other.skipped);
        self.bytes_read += other.bytes_read;
    }
}

/// The result of a scan.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOutput {
    /// One event per API response, sorted by timestamp and then by
    /// [`compare_events`](crate::compare_events).
    pub events: Vec<UsageEvent>,
    /// What was seen.
    pub stats: ScanStats,
}

/// Reads `files` with `options.threads` worker threads and returns each response once.
///
/// Each worker reads whole files and deduplicates into its own [`Dedup`]; the indexes are merged
/// at the end. Deduplication does not depend on the order of its input, so the output is the
/// same for any file order and thread count. Unreadable files are logged, counted and skipped.
pub fn scan(files: &[PathBuf], options: &ScanOptions) -> ScanOutput {
    let threads = options.effective_threads().clamp(1, files.len().max(1));
    let next = AtomicUsize::new(0);
    let mut parts = if threads == 1 {
        vec![work(files, &next, options)]
    } else {
        std::thread::scope(|scope| {
            // Each reader after the first is spawned from another processor than the one
            // before it, so that none waits for a load balance to start.
            let handles: Vec<_> = (0..threads)
                .map(|_| {
                    let handle = scope.spawn(|| work(files, &next, options));
                    crate::step_aside();
                    handle
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        })
    };
    let (mut dedup, mut stats) = parts.swap_remove(0);
    for (other, other_stats) in parts {
        dedup.merge(other);
        stats.merge(&other_stats);
    }
    stats.events = dedup.len() as u64;
    stats.duplicate_lines = dedup.duplicates();
    let mut events = dedup.into_events();
    if threads > 1 {
        // Workers interned separately: share one copy of each string across the output.
        let mut interner = Interner::new();
        for event in &mut events {
            event.model = interner.intern_arc(&event.model);
            if let Some(p) = &event.project {
                event.project = Some(interner.intern_arc(p));
            }
            if let Some(s) = &event.session_id {
                event.session_id = Some(interner.intern_arc(s));
            }
        }
    }
    ScanOutput { events, stats }
}

/// One worker: takes the next unread file until none is left.
fn work(files: &[PathBuf], next: &AtomicUsize, options: &ScanOptions) -> (Dedup, ScanStats) {
    let mut reader = FileReader::new(options);
    let mut interner = Interner::new();
    let mut dedup = Dedup::new();
    let mut stats = ScanStats::default();
    loop {
        let index = next.fetch_add(1, Ordering::Relaxed);
        let Some(path) = files.get(index) else {
            break;
        };
        match reader.read_path(path, 0, &mut interner) {
            Ok(read) => {
                stats.add_file(&read.stats);
                dedup.extend(read.records);
            }
            Err(e) => {
                tracing::warn!(path = %path.display(), error = %e.source, "skipping an unreadable transcript");
                stats.unreadable_files += 1;
            }
        }
    }
    (dedup, stats)
}

/// [`discover`]s the transcripts under `roots` and [`scan`]s them.
pub fn scan_roots(roots: &[PathBuf], options: &ScanOptions) -> (Discovery, ScanOutput) {
    let discovery = discover(roots);
    let output = scan(&discovery.files, options);
    (discovery, output)
}
