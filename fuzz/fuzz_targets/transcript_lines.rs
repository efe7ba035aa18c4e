//! Arbitrary bytes as a transcript file, through the real reader and the dedup index.
//!
//! The first two bytes choose the reader's buffer size, its line limit, the length from which
//! lines of another kind than assistant are passed by, how the bytes are handed over (all at
//! once or a few at a time) and where a read stops to resume; the rest is the file. Checked on
//! every input:
//!
//! - the read never fails or panics, and its counts add up: every line is counted once, every
//!   usage line gives one record, skipped and synthetic lines never outnumber the lines seen;
//! - the result does not depend on the buffer size or on how the source splits its reads, nor
//!   on whether lines that span reads are kept as read or read again by offset when needed;
//! - a read that stops at a line end and resumes there gives the same as one read of the whole;
//! - the cache-write split of every record, when it has one, adds up to its cache writes;
//! - dedup keeps at most one record per line, counts the rest as duplicates and keeps the same
//!   events whatever the order the records arrive in.

#![no_main]

use std::io::{self, Read};

use claude_logs::{
    Dedup, FileRead, FileReader, FileStats, Interner, LineSource, ScanOptions, read_source,
};
use libfuzzer_sys::fuzz_target;

/// A source that returns at most `step` bytes per read.
struct Trickle<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Trickle<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.step.min(out.len()).min(self.data.len());
        out[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

/// A source over a whole file from `pos` on, `step` bytes at most per read, that reads bytes
/// again by offset.
struct Again<'a> {
    file: &'a [u8],
    pos: usize,
    step: usize,
}

impl Read for Again<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let data = &self.file[self.pos..];
        let n = self.step.min(out.len()).min(data.len());
        out[..n].copy_from_slice(&data[..n]);
        self.pos += n;
        Ok(n)
    }
}

impl LineSource for Again<'_> {
    fn can_read_again(&self) -> bool {
        true
    }

    fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let offset = usize::try_from(offset).expect("small offsets");
        assert!(offset + buf.len() <= self.pos, "only bytes read before");
        buf.copy_from_slice(&self.file[offset..offset + buf.len()]);
        Ok(())
    }
}

fn read_again(file: &[u8], start: usize, options: &ScanOptions, step: usize) -> FileRead {
    let source = Again {
        file,
        pos: start,
        step,
    };
    FileReader::new(options)
        .read_from(source, start as u64, &mut Interner::new())
        .expect("reading from memory never fails")
}

fn read(data: &[u8], start: u64, options: &ScanOptions, step: usize) -> FileRead {
    read_source(Trickle { data, step }, start, options, &mut Interner::new())
        .expect("reading from memory never fails")
}

fn check_counts(data: &[u8], got: &FileRead) {
    let stats = &got.stats;
    let newlines = data.iter().filter(|&&b| b == b'\n').count() as u64;
    let unterminated = u64::from(!data.is_empty() && !data.ends_with(b"\n"));
    assert_eq!(
        stats.lines_read,
        newlines + unterminated,
        "every line counted once"
    );
    assert_eq!(stats.bytes_read, data.len() as u64);
    assert_eq!(got.records.len() as u64, stats.usage_lines);
    assert!(stats.candidate_lines <= stats.lines_read);
    // A candidate is usage, synthetic, not usage, or bad (or truncated); oversized lines and
    // unterminated non-candidates are not candidates.
    let bad_candidates = stats.skipped.invalid_json
        + stats.skipped.invalid_utf8
        + stats.skipped.wrong_types
        + stats.skipped.bad_timestamp;
    assert!(stats.usage_lines + stats.synthetic_lines + bad_candidates <= stats.candidate_lines);
    assert!(
        stats.usage_lines + stats.synthetic_lines + stats.skipped.total() <= stats.lines_read,
        "{stats:?}"
    );
    assert!(
        stats.skipped.truncated <= 1,
        "only the last line can be truncated"
    );
    assert!(got.end_offset <= data.len() as u64);
    let end = got.end_offset as usize;
    assert!(end == 0 || end == data.len() || data[end - 1] == b'\n');
    assert_eq!(got.unconsumed.bytes_read, (data.len() - end) as u64);
    if end < data.len() {
        assert_eq!(got.unconsumed.lines_read, 1);
        assert_eq!(
            got.unconsumed.skipped.oversized + got.unconsumed.skipped.truncated,
            1
        );
        assert!(!data[end..].contains(&b'\n'));
    } else {
        assert_eq!(got.unconsumed, FileStats::default());
    }
    for record in &got.records {
        // A split, when there is one (no split: both parts zero), adds up to the total.
        let t = &record.event.tokens;
        let parts = u128::from(t.cache_creation_5m) + u128::from(t.cache_creation_1h);
        assert!(
            parts == 0 || parts == u128::from(t.cache_creation),
            "the cache-write split does not add up: {t:?}"
        );
    }
}

fn check_dedup(got: &FileRead) {
    let mut forward = Dedup::new();
    forward.extend(got.records.iter().cloned());
    let mut backward = Dedup::new();
    backward.extend(got.records.iter().rev().cloned());
    assert_eq!(forward.inserted(), got.records.len() as u64);
    assert!(forward.len() <= got.records.len());
    assert_eq!(
        forward.len() as u64 + forward.duplicates(),
        forward.inserted()
    );
    assert_eq!(forward.len(), backward.len());
    let events = forward.into_events();
    assert_eq!(events, backward.into_events(), "dedup depends on order");
    assert!(events.windows(2).all(|w| w[0].timestamp <= w[1].timestamp));
}

fuzz_target!(|input: &[u8]| {
    let [shape, cut, data @ ..] = input else {
        return;
    };
    let buffer_bytes = [64, 100, 333, 4096][usize::from(shape & 3)];
    let max_line_bytes = [80, 1000, 1 << 20, 16 << 20][usize::from((shape >> 2) & 3)];
    let step = [1, 7, 64, usize::MAX][usize::from((shape >> 4) & 3)];
    let long_line_bytes = [ScanOptions::DEFAULT_LONG_LINE_BYTES, 16, 100, usize::MAX]
        [usize::from(shape >> 6)];
    let options = ScanOptions {
        threads: 1,
        max_line_bytes,
        buffer_bytes,
        long_line_bytes,
    };

    let whole = read(data, 0, &options, usize::MAX);
    check_counts(data, &whole);
    check_dedup(&whole);

    // The same bytes through a different buffer size and smaller reads.
    let other = ScanOptions {
        buffer_bytes: 64,
        ..options.clone()
    };
    assert_eq!(read(data, 0, &other, step), whole, "depends on buffering");
    // Lines that span reads read again where needed instead of kept.
    assert_eq!(read_again(data, 0, &options, step), whole, "depends on reading again");

    // Read a prefix, then resume where it stopped.
    let cut = usize::from(*cut) * data.len() / 255;
    let first = read(&data[..cut], 0, &options, step);
    check_counts(&data[..cut], &first);
    let resume = first.end_offset as usize;
    // A last line without a newline that parsed was consumed; the rest of it (if more was
    // written after the cut) then reads as a line of its own, so only line-end cuts compare.
    if resume != 0 && data[resume - 1] != b'\n' {
        return;
    }
    let rest = read(&data[resume..], first.end_offset, &options, usize::MAX);
    assert_eq!(
        read_again(data, resume, &options, step),
        rest,
        "a resumed read depends on reading again"
    );
    let mut total = first.stats.saturating_sub(&first.unconsumed);
    total.add(&rest.stats);
    assert_eq!(total, whole.stats, "resumed counts differ");
    let mut records = first.records;
    records.extend(rest.records);
    assert_eq!(records, whole.records, "resumed records differ");
    assert_eq!(rest.end_offset, whole.end_offset);
    assert_eq!(rest.unconsumed, whole.unconsumed);
});
