//! Streaming one transcript file into usage records.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use memchr::arch::all::packedpair::HeuristicFrequencyRank;
use memchr::memchr;
use memchr::memmem::{Finder, FinderBuilder};

use crate::dedup::{Record, ResponseKey};
use crate::event::UsageEvent;
use crate::intern::Interner;
use crate::parse::{BadLine, LineKind, ParsedUsage, leading_type_is_not_assistant, parse_line};

/// The bytes a line must contain to be examined at all.
const CANDIDATE_NEEDLE: &[u8] = b"\"assistant\"";
/// Which bytes of [`CANDIDATE_NEEDLE`] the search looks for first: `memchr::memmem` finds
/// places where two chosen bytes of the needle stand at the right distance, then compares the
/// whole needle there. Its default choice, from text in general, is `"` and the `s` two bytes
/// after it; in transcripts `"a` is four times rarer (33k places against 144k in 136 MB of
/// transcripts), so that is the pair chosen here: the rarest byte first, then the next rarest.
struct NeedleRank;

impl HeuristicFrequencyRank for NeedleRank {
    fn rank(&self, byte: u8) -> u8 {
        match byte {
            b'"' => 0,
            b'a' => 1,
            _ => u8::MAX,
        }
    }
}

/// The UTF-8 byte order mark.
const BOM: &[u8] = b"\xEF\xBB\xBF";
/// The model recorded for a usage line that names none.
pub const UNKNOWN_MODEL: &str = "unknown";
/// The carry buffer keeps at most this much capacity between lines.
const CARRY_KEEP_BYTES: usize = 1 << 20;

/// How files are read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanOptions {
    /// Worker threads for [`scan`](crate::scan); 0 means `available_parallelism()`. Capped at the
    /// number of files when that is known before the reading starts, and at
    /// [`ScanOptions::MAX_THREADS`].
    pub threads: usize,
    /// Longest line that is parsed; longer lines are skipped unbuffered and counted as
    /// `oversized`.
    pub max_line_bytes: usize,
    /// Size of the read buffer of each worker.
    pub buffer_bytes: usize,
    /// A line at least this long (without its newline, BOM or `\r`) whose first members give a
    /// `type` other than `"assistant"` is passed by as a line without the `"assistant"` needle
    /// is: the needle is not searched for in it and its JSON is not checked (an unterminated
    /// last line's is, as for any line without the needle). `usize::MAX`: no line is passed by
    /// that way.
    pub long_line_bytes: usize,
}

impl ScanOptions {
    /// Default `max_line_bytes`: 16 MiB.
    pub const DEFAULT_MAX_LINE_BYTES: usize = 16 << 20;
    /// Default `buffer_bytes`: 64 KiB. A buffer that stays in the L2 cache makes the kernel's
    /// copy out of the page cache, the largest cost of a scan, about twice as cheap as a
    /// 256 KiB one (measured on a 2-core machine over 1 GiB of transcripts).
    pub const DEFAULT_BUFFER_BYTES: usize = 64 << 10;
    /// Default `long_line_bytes`: 4 KiB. The needle search costs in proportion to a line's
    /// length, the look at its first members about the same for any line. Large lines (tool
    /// results, file-history snapshots: most of a transcript's bytes) give their `type` first;
    /// shorter lines with the needle are mostly assistant lines, which give theirs last, so the
    /// look would only add to them. On the 1 GiB bench corpus, a first run took about 8% less
    /// CPU time.
    pub const DEFAULT_LONG_LINE_BYTES: usize = 4 << 10;

    /// The most worker threads a scan uses: each holds a read buffer, and a reader that
    /// starts before the files are counted (a first incremental run) cannot be capped at
    /// their number. 30,000 asked-for readers took 5 s and 380 MB to find no files at all.
    pub const MAX_THREADS: usize = 256;

    /// The number of worker threads `threads` asks for (resolving 0), at most
    /// [`ScanOptions::MAX_THREADS`].
    pub fn effective_threads(&self) -> usize {
        let threads = if self.threads == 0 {
            std::thread::available_parallelism().map_or(1, usize::from)
        } else {
            self.threads
        };
        threads.min(Self::MAX_THREADS)
    }
}

impl Default for ScanOptions {
    fn default() -> Self {
        Self {
            threads: std::thread::available_parallelism().map_or(1, usize::from),
            max_line_bytes: Self::DEFAULT_MAX_LINE_BYTES,
            buffer_bytes: Self::DEFAULT_BUFFER_BYTES,
            long_line_bytes: Self::DEFAULT_LONG_LINE_BYTES,
        }
    }
}

/// Lines that were skipped, by reason. Only candidate lines (those containing `"assistant"`, and
/// not passed by as long lines of another kind: [`ScanOptions::long_line_bytes`]) are
/// examined, so only they can be counted here, except `oversized`, which is decided before the
/// pre-filter, and `truncated`, which concerns the last line of a file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SkippedLines {
    /// Not JSON.
    pub invalid_json: u64,
    /// Not UTF-8.
    pub invalid_utf8: u64,
    /// An assistant line whose fields have the wrong types (a negative, fractional, string or
    /// too large token count, a non-boolean `isSidechain`, ...).
    pub wrong_types: u64,
    /// A usage line whose `timestamp` is missing or not RFC 3339 with an offset or `Z`.
    pub bad_timestamp: u64,
    /// Longer than `max_line_bytes`.
    pub oversized: u64,
    /// The last line of a file, without a newline, that does not parse (being written). This
    /// line is checked whether or not it passes the pre-filter.
    pub truncated: u64,
}

impl SkippedLines {
    /// All skipped lines.
    pub fn total(&self) -> u64 {
        self.invalid_json
            + self.invalid_utf8
            + self.wrong_types
            + self.bad_timestamp
            + self.oversized
            + self.truncated
    }

    /// Adds `other` field by field.
    pub fn add(&mut self, other: &SkippedLines) {
        self.invalid_json += other.invalid_json;
        self.invalid_utf8 += other.invalid_utf8;
        self.wrong_types += other.wrong_types;
        self.bad_timestamp += other.bad_timestamp;
        self.oversized += other.oversized;
        self.truncated += other.truncated;
    }

    /// Subtracts `other` field by field, stopping at zero.
    pub fn saturating_sub(&self, other: &SkippedLines) -> SkippedLines {
        SkippedLines {
            invalid_json: self.invalid_json.saturating_sub(other.invalid_json),
            invalid_utf8: self.invalid_utf8.saturating_sub(other.invalid_utf8),
            wrong_types: self.wrong_types.saturating_sub(other.wrong_types),
            bad_timestamp: self.bad_timestamp.saturating_sub(other.bad_timestamp),
            oversized: self.oversized.saturating_sub(other.oversized),
            truncated: self.truncated.saturating_sub(other.truncated),
        }
    }

    fn count(&mut self, bad: BadLine) {
        match bad {
            BadLine::InvalidUtf8 => self.invalid_utf8 += 1,
            BadLine::InvalidJson => self.invalid_json += 1,
            BadLine::WrongTypes => self.wrong_types += 1,
            BadLine::BadTimestamp => self.bad_timestamp += 1,
        }
    }
}

/// What reading one file found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileStats {
    /// Lines seen (including empty and oversized ones).
    pub lines_read: u64,
    /// Lines that passed the `"assistant"` pre-filter (and were not passed by as long lines of
    /// another kind) and were parsed.
    pub candidate_lines: u64,
    /// Usage lines (records), before deduplication.
    pub usage_lines: u64,
    /// Claude Code's own error lines (`<synthetic>` model or `isApiErrorMessage`).
    pub synthetic_lines: u64,
    /// Skipped lines by reason.
    pub skipped: SkippedLines,
    /// Bytes read from the file.
    pub bytes_read: u64,
}

impl FileStats {
    /// Adds `other` field by field.
    pub fn add(&mut self, other: &FileStats) {
        self.lines_read += other.lines_read;
        self.candidate_lines += other.candidate_lines;
        self.usage_lines += other.usage_lines;
        self.synthetic_lines += other.synthetic_lines;
        self.skipped.add(&other.skipped);
        self.bytes_read += other.bytes_read;
    }

    /// Subtracts `other` field by field, stopping at zero.
    pub fn saturating_sub(&self, other: &FileStats) -> FileStats {
        FileStats {
            lines_read: self.lines_read.saturating_sub(other.lines_read),
            candidate_lines: self.candidate_lines.saturating_sub(other.candidate_lines),
            usage_lines: self.usage_lines.saturating_sub(other.usage_lines),
            synthetic_lines: self.synthetic_lines.saturating_sub(other.synthetic_lines),
            skipped: self.skipped.saturating_sub(&other.skipped),
            bytes_read: self.bytes_read.saturating_sub(other.bytes_read),
        }
    }
}

/// The usage records of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRead {
    /// One record per usage line, in file order.
    pub records: Vec<Record>,
    /// The byte offset just after the last line consumed: after the last newline, or after an
    /// unterminated last line that parsed. A later read can resume there.
    pub end_offset: u64,
    /// What was seen.
    pub stats: FileStats,
    /// The share of `stats` that comes from the bytes past `end_offset` (an unterminated last
    /// line that was not consumed): zero, or one line counted as `truncated` or `oversized`
    /// with its bytes. A reader that resumes at `end_offset` reads that line again, so it keeps
    /// `stats` minus this for the part it will not read again.
    pub unconsumed: FileStats,
}

/// A transcript file that could not be read.
#[derive(Debug, thiserror::Error)]
#[error("cannot read transcript {}", path.display())]
pub struct ReadError {
    /// The file.
    pub path: PathBuf,
    /// The cause.
    #[source]
    pub source: io::Error,
}

/// Reads the usage records of the transcript at `path`, starting at byte `start_offset` (0 for
/// the whole file; otherwise the `end_offset` of an earlier read).
///
/// Non-regular files (directories, FIFOs) are refused without being opened.
pub fn read_file(
    path: &Path,
    start_offset: u64,
    options: &ScanOptions,
) -> Result<FileRead, ReadError> {
    let mut interner = Interner::new();
    read_file_with(path, start_offset, options, &mut interner)
}

/// [`read_file`] sharing strings through `interner`.
pub fn read_file_with(
    path: &Path,
    start_offset: u64,
    options: &ScanOptions,
    interner: &mut Interner,
) -> Result<FileRead, ReadError> {
    FileReader::new(options).read_path(path, start_offset, interner)
}

/// [`read_file_with`] from an already opened source (for example a `File` positioned at
/// `start_offset`, or a wrapper around one): `source` yields the file's bytes from
/// `start_offset` on. Lets a caller check the file's identity on the same handle it reads.
/// Lines that span reads are kept as they are read; [`FileReader::read_from`] with a
/// [`LineSource`] that can read bytes again need not.
pub fn read_source<R: Read>(
    source: R,
    start_offset: u64,
    options: &ScanOptions,
    interner: &mut Interner,
) -> io::Result<FileRead> {
    FileReader::new(options).read_from(Once(source), start_offset, interner)
}

/// The bytes of a file, from some offset on, for [`FileReader::read_from`]: a [`Read`] that
/// may also give bytes it gave before again.
///
/// A line that continues past one read is kept only once the needle every examined line holds
/// has been seen in it; the long lines that lack it (tool results, pasted files: most of a
/// transcript's bytes) are never copied. Should the needle come after the first read of a
/// line, its beginning is read again through [`LineSource::read_again`]. A source that cannot
/// (the default) has every line that spans reads kept as it is read.
pub trait LineSource: Read {
    /// Whether [`LineSource::read_again`] can be used.
    fn can_read_again(&self) -> bool {
        false
    }

    /// Fills `buf` with the file's bytes from `offset` on (bytes `read` gave before), without
    /// changing what `read` gives next. Called only when [`LineSource::can_read_again`].
    fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        let _ = (offset, buf);
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "this source cannot read bytes again",
        ))
    }
}

/// A file read again by offset (`pread`), which leaves its position as it was.
#[cfg(unix)]
impl LineSource for File {
    fn can_read_again(&self) -> bool {
        true
    }

    fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        std::os::unix::fs::FileExt::read_exact_at(self, buf, offset)
    }
}

/// Elsewhere a positioned read moves the file's position: lines are kept as read.
#[cfg(not(unix))]
impl LineSource for File {}

impl<T: LineSource + ?Sized> LineSource for &mut T {
    fn can_read_again(&self) -> bool {
        (**self).can_read_again()
    }

    fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
        (**self).read_again(offset, buf)
    }
}

/// A source read once: its lines are kept as they are read.
struct Once<R>(R);

impl<R: Read> Read for Once<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> LineSource for Once<R> {}

/// Reads files one after another, reusing its buffers (a read buffer of
/// [`ScanOptions::buffer_bytes`] and a carry buffer for lines that span reads): for a caller
/// that reads many files, one per thread.
pub struct FileReader {
    buf: Vec<u8>,
    carry: Carry,
    finder: Finder<'static>,
    max_line_bytes: usize,
    long_line_bytes: usize,
}

impl FileReader {
    /// A reader with the buffer size and line limit of `options`.
    pub fn new(options: &ScanOptions) -> Self {
        Self {
            buf: vec![0; options.buffer_bytes.max(64)],
            carry: Carry::default(),
            finder: FinderBuilder::new().build_forward_with_ranker(NeedleRank, CANDIDATE_NEEDLE),
            max_line_bytes: options.max_line_bytes,
            long_line_bytes: options.long_line_bytes,
        }
    }

    pub(crate) fn read_path(
        &mut self,
        path: &Path,
        start_offset: u64,
        interner: &mut Interner,
    ) -> Result<FileRead, ReadError> {
        let error = |source| ReadError {
            path: path.to_path_buf(),
            source,
        };
        let (mut file, _) = open_transcript(path).map_err(error)?;
        if start_offset > 0 {
            file.seek(SeekFrom::Start(start_offset)).map_err(error)?;
        }
        self.read_from(file, start_offset, interner).map_err(error)
    }

    /// [`read_source`] with this reader's buffers: reads lines from `source`, whose first byte
    /// is at `start_offset` of the file.
    pub fn read_from<R: LineSource>(
        &mut self,
        mut source: R,
        start_offset: u64,
        interner: &mut Interner,
    ) -> io::Result<FileRead> {
        let long = self.long_line_bytes;
        let mut sink = LineSink::new(interner, &self.finder, long);
        let finder = &self.finder;
        let buf = &mut self.buf;
        let carry = &mut self.carry;
        let max = self.max_line_bytes;
        let read_again = source.can_read_again();
        carry.start();
        // The beginning of the line being read when it was not kept (it lacked the needle):
        // its length and its last bytes, where the needle may begin.
        let mut skipped = Skipped::default();
        // The file was cut short under a line whose beginning had to be read again.
        let mut cut_short = false;
        // Inside a line longer than `max`: its bytes are dropped until the next newline.
        let mut discarding = false;
        // File offset of the first byte of the line being read, and just after the last line
        // consumed.
        let mut line_start = start_offset;
        let mut end_offset = start_offset;
        // File offset of `buf[0]`.
        let mut offset = start_offset;
        'read: loop {
            let n = match source.read(buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            let chunk = &buf[..n];
            let base = offset;
            offset += n as u64;
            sink.stats.bytes_read += n as u64;
            let mut pos = 0;
            while let Some(i) = memchr(b'\n', &chunk[pos..]) {
                let end = pos + i;
                let first = line_start == 0;
                if discarding {
                    discarding = false;
                    sink.oversized();
                } else if skipped.len > 0 {
                    let part = &chunk[pos..end];
                    if skipped.len + part.len() > max {
                        sink.oversized();
                    } else if skipped.passed_by {
                        sink.not_examined();
                    } else if skipped.needle_in(finder, part) {
                        if !carry.take_back(&mut source, line_start, skipped.len)? {
                            cut_short = true;
                            break 'read;
                        }
                        carry.append(part, max);
                        sink.line(carry, first, true);
                        carry.release();
                    } else {
                        sink.not_examined();
                    }
                    skipped = Skipped::default();
                } else if carry.is_empty() {
                    let line = &chunk[pos..end];
                    if line.len() > max {
                        sink.oversized();
                    } else {
                        sink.line(line, first, true);
                    }
                } else {
                    let part = &chunk[pos..end];
                    if carry.len() + part.len() > max {
                        sink.oversized();
                    } else {
                        carry.append(part, max);
                        sink.line(carry, first, true);
                    }
                    carry.release();
                }
                pos = end + 1;
                line_start = base + pos as u64;
                end_offset = line_start;
            }
            let rest = &chunk[pos..];
            if !discarding && !rest.is_empty() {
                if carry.len() + skipped.len + rest.len() > max {
                    discarding = true;
                    carry.release();
                    skipped = Skipped::default();
                } else if skipped.len > 0 {
                    if !skipped.passed_by && skipped.needle_in(finder, rest) {
                        if !carry.take_back(&mut source, line_start, skipped.len)? {
                            cut_short = true;
                            break 'read;
                        }
                        carry.append(rest, max);
                        skipped = Skipped::default();
                    } else {
                        skipped.extend(rest);
                    }
                } else if read_again && carry.is_empty() && passed_by(rest, line_start == 0, long) {
                    // The beginning of a long line of another kind.
                    skipped.extend(rest);
                    skipped.passed_by = true;
                } else if read_again && carry.is_empty() && finder.find(rest).is_none() {
                    skipped.extend(rest);
                } else {
                    carry.append(rest, max);
                }
            }
        }
        if skipped.len > 0 && !cut_short {
            // An unterminated last line: whether it is whole needs all of it.
            cut_short = !carry.take_back(&mut source, line_start, skipped.len)?;
        }
        let before_last = sink.stats;
        let mut unconsumed = FileStats::default();
        if cut_short {
            // The line was being rewritten: left for the next read, as a half-written last
            // line is (nothing after it was looked at).
            carry.release();
            sink.truncated();
            unconsumed = sink.stats.saturating_sub(&before_last);
        } else if discarding {
            // An oversized last line without a newline: not consumed.
            sink.oversized();
            unconsumed = sink.stats.saturating_sub(&before_last);
        } else if !carry.is_empty() {
            if sink.line(carry, line_start == 0, false) {
                end_offset = offset;
            } else {
                unconsumed = sink.stats.saturating_sub(&before_last);
            }
            carry.release();
        }
        unconsumed.bytes_read = offset - end_offset;
        Ok(FileRead {
            records: sink.records,
            end_offset,
            stats: sink.stats,
            unconsumed,
        })
    }

    #[cfg(test)]
    pub(crate) fn carry_capacity(&self) -> usize {
        self.carry.bytes.capacity()
    }

    /// The largest capacity the carry buffer reached during the last read.
    #[cfg(test)]
    pub(crate) fn peak_carry(&self) -> usize {
        self.carry.peak
    }
}

/// Opens the transcript at `path` for reading, with its metadata, refusing anything but a
/// regular file (a directory, a FIFO, a device) with `InvalidInput`.
///
/// The path is checked before it is opened: opening a FIFO or a device has effects (a FIFO's
/// blocked writer would be let through and its data dropped at the close; a tape rewinds). The
/// open handle is checked again, for a file replaced in between; on unix it is opened
/// non-blocking and without taking a terminal, so that such a replacement cannot stop the run
/// either (reads of a regular file ignore the flag; a file under a lease another process holds
/// is then refused for this run instead of waited for).
pub fn open_transcript(path: &Path) -> io::Result<(File, std::fs::Metadata)> {
    if !std::fs::metadata(path)?.is_file() {
        return Err(not_a_file());
    }
    #[cfg(unix)]
    let file = {
        use rustix::fs::OFlags;
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .read(true)
            .custom_flags((OFlags::NONBLOCK | OFlags::NOCTTY).bits() as i32)
            .open(path)?
    };
    #[cfg(not(unix))]
    let file = File::open(path)?;
    let metadata = file.metadata()?;
    if !metadata.is_file() {
        return Err(not_a_file());
    }
    Ok((file, metadata))
}

fn not_a_file() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, "not a regular file")
}

/// The carry buffer: the bytes of a kept line that spans reads.
#[derive(Debug, Default)]
struct Carry {
    bytes: Vec<u8>,
    /// The largest capacity since [`Carry::start`] (noted when released: it only grows
    /// between releases).
    #[cfg(test)]
    peak: usize,
}

impl std::ops::Deref for Carry {
    type Target = Vec<u8>;

    fn deref(&self) -> &Vec<u8> {
        &self.bytes
    }
}

impl Carry {
    /// Empty, at the start of a read.
    fn start(&mut self) {
        self.bytes.clear();
        #[cfg(test)]
        {
            self.peak = 0;
        }
    }

    /// Appends `bytes` (the caller checked that the line stays within `max`), growing the
    /// buffer geometrically but never past `max`.
    fn append(&mut self, bytes: &[u8], max: usize) {
        let carry = &mut self.bytes;
        let needed = carry.len() + bytes.len();
        if needed > carry.capacity() {
            let target = needed
                .max(carry.capacity().saturating_mul(2))
                .min(max.max(needed));
            carry.reserve_exact(target - carry.len());
        }
        carry.extend_from_slice(bytes);
    }

    /// Puts the `len` bytes at file offset `offset` (the beginning of a line, not kept when it
    /// was read) in the empty buffer: `false` when the file no longer has them (it was cut
    /// short, being rewritten, since they were read).
    fn take_back<R: LineSource>(
        &mut self,
        source: &mut R,
        offset: u64,
        len: usize,
    ) -> io::Result<bool> {
        let carry = &mut self.bytes;
        debug_assert!(carry.is_empty());
        // Exactly `len` (at most the line limit), not the doubling `resize` would do.
        carry.reserve_exact(len);
        carry.resize(len, 0);
        match source.read_again(offset, carry) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                carry.clear();
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }

    /// Empties the buffer, returning memory a very long line needed.
    fn release(&mut self) {
        #[cfg(test)]
        {
            self.peak = self.peak.max(self.bytes.capacity());
        }
        self.bytes.clear();
        self.bytes.shrink_to(CARRY_KEEP_BYTES);
    }
}

/// The part of a line read so far and not kept: its length and its last bytes (as many as the
/// needle has, less one), where a needle that the next part ends may begin.
#[derive(Debug, Default)]
struct Skipped {
    len: usize,
    tail: [u8; CANDIDATE_NEEDLE.len() - 1],
    tail_len: usize,
    /// The line is long and of another kind than assistant: no needle is looked for in it
    /// ([`ScanOptions::long_line_bytes`]).
    passed_by: bool,
}

/// Whether `line` (without its newline, BOM or `\r`) is passed by as a line without the needle
/// is: at least `long` bytes long, its first members giving another kind than assistant (see
/// [`ScanOptions::long_line_bytes`]).
fn passes_by(line: &[u8], long: usize) -> bool {
    line.len() >= long && leading_type_is_not_assistant(line)
}

/// Whether `head`, the beginning of a line that goes on past it (`first`: at offset 0 of the
/// file), is enough to know that the whole line [`passes_by`], whatever follows.
fn passed_by(head: &[u8], first: bool, long: usize) -> bool {
    let head = if first {
        head.strip_prefix(BOM).unwrap_or(head)
    } else {
        head
    };
    // One byte more than the limit: the last one may be a `\r` that ends the line. (The first
    // members are read no further than their `type`, so the rest of the line cannot change
    // what they give.)
    passes_by(head, long.saturating_add(1))
}

impl Skipped {
    /// Whether the needle is in the line with `next` after the part skipped.
    fn needle_in(&self, finder: &Finder<'_>, next: &[u8]) -> bool {
        if finder.find(next).is_some() {
            return true;
        }
        let mut joint = [0u8; 2 * (CANDIDATE_NEEDLE.len() - 1)];
        let head = &next[..next.len().min(CANDIDATE_NEEDLE.len() - 1)];
        joint[..self.tail_len].copy_from_slice(&self.tail[..self.tail_len]);
        joint[self.tail_len..self.tail_len + head.len()].copy_from_slice(head);
        finder.find(&joint[..self.tail_len + head.len()]).is_some()
    }

    /// Counts `next` as skipped too.
    fn extend(&mut self, next: &[u8]) {
        self.len += next.len();
        let keep = self.tail.len();
        if next.len() >= keep {
            self.tail.copy_from_slice(&next[next.len() - keep..]);
            self.tail_len = keep;
        } else {
            // The last bytes of the old tail, then all of `next`.
            let old = (keep - next.len()).min(self.tail_len);
            self.tail.copy_within(self.tail_len - old..self.tail_len, 0);
            self.tail[old..old + next.len()].copy_from_slice(next);
            self.tail_len = old + next.len();
        }
    }
}

/// Turns lines into records and counts.
struct LineSink<'r> {
    interner: &'r mut Interner,
    finder: &'r Finder<'static>,
    long_line_bytes: usize,
    records: Vec<Record>,
    stats: FileStats,
    last_model: Option<Arc<str>>,
    last_cwd: Option<Arc<str>>,
    last_session: Option<Arc<str>>,
}

impl<'r> LineSink<'r> {
    fn new(
        interner: &'r mut Interner,
        finder: &'r Finder<'static>,
        long_line_bytes: usize,
    ) -> Self {
        Self {
            interner,
            finder,
            long_line_bytes,
            records: Vec::new(),
            stats: FileStats::default(),
            last_model: None,
            last_cwd: None,
            last_session: None,
        }
    }

    fn oversized(&mut self) {
        self.stats.lines_read += 1;
        self.stats.skipped.oversized += 1;
    }

    /// A whole line without the needle, whose bytes were not kept: what [`LineSink::line`]
    /// does with one.
    fn not_examined(&mut self) {
        self.stats.lines_read += 1;
    }

    /// A line that could not be read whole.
    fn truncated(&mut self) {
        self.stats.lines_read += 1;
        self.stats.skipped.truncated += 1;
    }

    /// Handles one line (without its newline). `first`: it starts at offset 0 of the file.
    /// `terminated`: a newline followed it. Returns whether the line counts as consumed.
    fn line(&mut self, line: &[u8], first: bool, terminated: bool) -> bool {
        self.stats.lines_read += 1;
        let mut line = line;
        if first {
            line = line.strip_prefix(BOM).unwrap_or(line);
        }
        if let [rest @ .., b'\r'] = line {
            line = rest;
        }
        // A long line of another kind is passed by as a line without the needle is, ended or
        // not: a last line counts the same before and after its newline is written.
        if passes_by(line, self.long_line_bytes) || self.finder.find(line).is_none() {
            if terminated {
                // Not examined.
                return true;
            }
            // The last line, without a newline, may still be being written (the needle may just
            // not be there yet): it is checked to be complete JSON.
            if line.trim_ascii().is_empty()
                || serde_json::from_slice::<serde::de::IgnoredAny>(line).is_ok()
            {
                return true;
            }
            self.stats.skipped.truncated += 1;
            return false;
        }
        self.stats.candidate_lines += 1;
        match parse_line(line) {
            LineKind::NotUsage => true,
            LineKind::Synthetic => {
                self.stats.synthetic_lines += 1;
                true
            }
            LineKind::Usage(usage) => {
                self.stats.usage_lines += 1;
                let record = self.record(usage);
                self.records.push(record);
                true
            }
            LineKind::Bad(BadLine::InvalidJson | BadLine::InvalidUtf8) if !terminated => {
                self.stats.skipped.truncated += 1;
                false
            }
            LineKind::Bad(bad) => {
                self.stats.skipped.count(bad);
                true
            }
        }
    }

    fn record(&mut self, usage: ParsedUsage<'_>) -> Record {
        let model = usage.model.as_deref().unwrap_or(UNKNOWN_MODEL);
        let model = intern_cached(self.interner, &mut self.last_model, model);
        let project = usage
            .cwd
            .as_deref()
            .map(|cwd| intern_cached(self.interner, &mut self.last_cwd, cwd));
        let session_id = usage
            .session_id
            .as_deref()
            .map(|s| intern_cached(self.interner, &mut self.last_session, s));
        let request_id = usage.request_id.as_deref().filter(|r| !r.is_empty());
        let key = usage
            .message_id
            .as_deref()
            .filter(|m| !m.is_empty())
            .map(|m| ResponseKey::new(m, request_id));
        Record {
            event: UsageEvent {
                timestamp: usage.timestamp,
                model,
                tokens: usage.tokens,
                speed: usage.speed,
                project,
                session_id,
            },
            key,
            sidechain: usage.sidechain,
        }
    }
}

/// Interns `s`, answering from `cache` when the previous line had the same string.
fn intern_cached(interner: &mut Interner, cache: &mut Option<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(cached) = cache
        && **cached == *s
    {
        return Arc::clone(cached);
    }
    let shared = interner.intern(s);
    *cache = Some(Arc::clone(&shared));
    shared
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"isSidechain":false,"cwd":"/w","sessionId":"s1","message":{"id":"msg_1","model":"claude-haiku-4-5","usage":{"input_tokens":1,"output_tokens":2}},"requestId":"req_1","type":"assistant","timestamp":"2025-08-30T07:16:28.537Z"}"#;

    /// A source over `file` from `pos` on that returns at most `step` bytes per call and,
    /// when `again`, reads bytes again by offset (counting them).
    struct Trickle<'a> {
        file: &'a [u8],
        pos: usize,
        step: usize,
        again: bool,
        read_again: usize,
    }

    impl<'a> Trickle<'a> {
        fn new(file: &'a [u8], pos: usize, step: usize, again: bool) -> Self {
            Self {
                file,
                pos,
                step,
                again,
                read_again: 0,
            }
        }
    }

    impl Read for Trickle<'_> {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            let data = &self.file[self.pos..];
            let n = self.step.min(out.len()).min(data.len());
            out[..n].copy_from_slice(&data[..n]);
            self.pos += n;
            Ok(n)
        }
    }

    impl LineSource for Trickle<'_> {
        fn can_read_again(&self) -> bool {
            self.again
        }

        fn read_again(&mut self, offset: u64, buf: &mut [u8]) -> io::Result<()> {
            assert!(self.again);
            let offset = offset as usize;
            assert!(offset + buf.len() <= self.pos, "only bytes read before");
            buf.copy_from_slice(&self.file[offset..offset + buf.len()]);
            self.read_again += buf.len();
            Ok(())
        }
    }

    /// Reads `file` from `start` with the given buffer, read size and line limit: once with
    /// every line that spans reads kept, once with lines read again where needed (checked to
    /// give the same); also the bytes read again.
    fn read_both(
        file: &[u8],
        start: usize,
        buffer_bytes: usize,
        step: usize,
        max: usize,
    ) -> (FileRead, usize) {
        read_both_with(
            file,
            start,
            buffer_bytes,
            step,
            max,
            ScanOptions::DEFAULT_LONG_LINE_BYTES,
        )
    }

    /// [`read_both`] with lines passed by from `long` bytes on.
    fn read_both_with(
        file: &[u8],
        start: usize,
        buffer_bytes: usize,
        step: usize,
        max: usize,
        long: usize,
    ) -> (FileRead, usize) {
        let options = ScanOptions {
            threads: 1,
            max_line_bytes: max,
            buffer_bytes,
            long_line_bytes: long,
        };
        let mut reader = FileReader::new(&options);
        let mut read = |again| {
            let mut source = Trickle::new(file, start, step, again);
            let got = reader
                .read_from(&mut source, start as u64, &mut Interner::new())
                .unwrap();
            (got, source.read_again)
        };
        let (kept, _) = read(false);
        let (again, bytes) = read(true);
        assert_eq!(
            again, kept,
            "read again or kept: buffer {buffer_bytes}, step {step}, max {max}, from {start}"
        );
        (again, bytes)
    }

    fn read_with(data: &[u8], buffer_bytes: usize, step: usize, max: usize) -> FileRead {
        read_both(data, 0, buffer_bytes, step, max).0
    }

    #[test]
    fn same_result_for_any_buffer_size_and_read_size() {
        let mut data = Vec::new();
        data.extend_from_slice(BOM);
        for i in 0..20 {
            data.extend_from_slice(LINE.replace("msg_1", &format!("msg_{i}")).as_bytes());
            data.extend_from_slice(if i % 3 == 0 { b"\r\n" } else { b"\n" });
            data.extend_from_slice(br#"{"type":"user","message":{"content":"x"}}"#);
            data.push(b'\n');
        }
        let expected = read_with(&data, 1 << 16, usize::MAX, 1 << 20);
        assert_eq!(expected.records.len(), 20);
        assert_eq!(expected.stats.lines_read, 40);
        assert_eq!(expected.stats.candidate_lines, 20);
        assert_eq!(expected.stats.bytes_read, data.len() as u64);
        assert_eq!(expected.end_offset, data.len() as u64);
        for buffer in [64, 100, 333, 4096] {
            for step in [1, 7, 64, 1000] {
                let got = read_with(&data, buffer, step, 1 << 20);
                assert_eq!(got, expected, "buffer {buffer}, step {step}");
            }
        }
    }

    /// A usage line whose needle (`"type":"assistant"`, the only one) comes after `pad` bytes.
    fn usage_line(pad: usize, id: usize) -> String {
        format!(
            r#"{{"pad":"{}","type":"assistant","message":{{"id":"msg_{id}","model":"m","usage":{{"input_tokens":{id},"output_tokens":1}}}},"requestId":"req_{id}","timestamp":"2025-08-30T07:16:28.537Z"}}"#,
            "p".repeat(pad)
        )
    }

    /// Every kind of line that spans reads, with the needle at every place a read can split
    /// it, gives the same whether lines are read again or kept.
    #[test]
    fn lines_read_again_give_what_kept_lines_give() {
        let user = |len: usize| {
            format!(
                r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
                "u".repeat(len)
            )
        };
        let mut lines: Vec<String> = Vec::new();
        for pad in (0..420).step_by(7) {
            lines.push(usage_line(pad, pad));
            lines.push(user(pad * 3));
        }
        // The needle in a line that is not usage, at its very end, and as a line of its own.
        lines.push(format!(
            r#"{{"type":"user","x":"{}","y":"assistant"}}"#,
            "u".repeat(500)
        ));
        lines.push(format!(r#"{{"x":"{}"}}"assistant""#, "u".repeat(300)));
        lines.push(r#""assistant""#.to_owned());
        // Longer than the smaller limit below, with and without the needle.
        lines.push(usage_line(2000, 1));
        lines.push(user(2000));
        let body = lines.join("\n");
        let crlf = lines.join("\r\n");
        let mut files: Vec<Vec<u8>> = Vec::new();
        for text in [&body, &crlf] {
            for last in [
                String::new(),
                "\n".to_owned(),
                format!("\n{}", user(900)),
                format!("\n{}", &user(900)[..700]),
                format!("\n{}", usage_line(600, 7)),
                format!("\n{}", &usage_line(600, 7)[..650]),
                format!("\n{}", &usage_line(600, 7)[..300]),
            ] {
                let mut file = BOM.to_vec();
                file.extend_from_slice(text.as_bytes());
                file.extend_from_slice(last.as_bytes());
                files.push(file);
            }
        }
        // Also with the user lines from 200 bytes on passed by, their beginnings split at every
        // place too.
        for (file, long) in files
            .iter()
            .flat_map(|f| [(f, ScanOptions::DEFAULT_LONG_LINE_BYTES), (f, 200)])
        {
            let whole = read_both_with(file, 0, 1 << 16, usize::MAX, 1 << 20, long).0;
            assert!(whole.records.len() >= 61);
            for buffer in [64, 100, 333, 4096] {
                for step in [1, 13, 1000] {
                    for max in [1000, 1 << 20] {
                        let got = read_both_with(file, 0, buffer, step, max, long).0;
                        if max > file.len() {
                            assert_eq!(got, whole, "buffer {buffer}, step {step}, long {long}");
                        }
                    }
                }
            }
            // Resumed at line ends, as a later run reads.
            for start in file
                .iter()
                .enumerate()
                .filter(|(_, b)| **b == b'\n')
                .map(|(i, _)| i + 1)
                .step_by(17)
            {
                read_both_with(file, start, 100, 1000, 1 << 20, long);
            }
        }
    }

    /// A long line whose first members give another kind than assistant is passed by as a
    /// line without the needle is, whatever follows (its JSON is not checked, but for an
    /// unterminated last line's); shorter lines and lines that give their kind later or not
    /// plainly are examined as before. The same for any buffer, read size and resumed start.
    #[test]
    fn long_lines_of_another_kind_are_passed_by() {
        const LONG: usize = ScanOptions::DEFAULT_LONG_LINE_BYTES;
        let user =
            |len: usize, tail: &str| format!(r#"{{"type":"user","x":"{}"{tail}"#, "u".repeat(len));
        // Exactly `len` bytes long, with the needle.
        let sized = |len: usize| {
            let line = user(0, r#","y":"assistant"}"#);
            user(len - line.len(), r#","y":"assistant"}"#)
        };
        let lines = [
            // 1. Passed by: long, of another kind, the needle inside (the first line, after a BOM).
            user(5000, r#","y":"assistant"}"#),
            // 2. Passed by, though its JSON is cut short.
            user(5000, r#","y":"assistant""#),
            // 3. Short: examined, and bad.
            user(500, r#","y":"assistant""#),
            // 4. The kind after a nested value: examined (not usage).
            format!(
                r#"{{"m":{{"a":1}},"type":"user","x":"{}","y":"assistant"}}"#,
                "u".repeat(5000)
            ),
            // 5. A long usage line that gives its kind first: examined, usage.
            usage_line(5000, 1)
                .replacen(r#","type":"assistant""#, "", 1)
                .replacen(r#"{"pad""#, r#"{"type":"assistant","pad""#, 1),
            // 6. Passed by: a file-history snapshot.
            format!(
                r#"{{"type":"file-history-snapshot","snapshot":{{"f":"assistant","pad":"{}"}}}}"#,
                "s".repeat(5000)
            ),
            // 7. An escaped kind: examined (not usage).
            format!(
                r#"{{"type":"us\u0065r","x":"{}","y":"assistant"}}"#,
                "u".repeat(5000)
            ),
            // 8. and 9. At the limit, and one byte under it.
            sized(LONG),
            sized(LONG - 1),
            // 10. A short usage line.
            usage_line(10, 2),
        ];
        assert_eq!(lines[7].len(), LONG);
        for (last, terminated) in [
            // 11. Unterminated: passed by too, and checked to be whole JSON, as a last line
            // without the needle is (consumed when whole, truncated when cut short).
            (user(5000, r#","y":"assistant"}"#), true),
            (user(5000, r#","y":"assistant""#), false),
        ] {
            for newline in ["\n", "\r\n"] {
                let mut file = BOM.to_vec();
                file.extend_from_slice(lines.join(newline).as_bytes());
                file.extend_from_slice(newline.as_bytes());
                file.extend_from_slice(last.as_bytes());
                let whole = read_both(&file, 0, 1 << 16, usize::MAX, 1 << 20).0;
                assert_eq!(whole.records.len(), 2, "{newline:?}");
                assert_eq!(whole.stats.lines_read, 11);
                assert_eq!(whole.stats.candidate_lines, 6);
                assert_eq!(whole.stats.skipped.invalid_json, 1);
                assert_eq!(whole.stats.skipped.truncated, u64::from(!terminated));
                for buffer in [64, 333, 4096, 5000] {
                    for step in [1, 1000, usize::MAX] {
                        let got = read_both(&file, 0, buffer, step, 1 << 20).0;
                        assert_eq!(got, whole, "buffer {buffer}, step {step}");
                    }
                }
                // Resumed at each line end: the lines after it count as in a whole read.
                let ends = file
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| **b == b'\n')
                    .map(|(i, _)| i + 1);
                for start in ends {
                    let tail = read_both(&file, start, 333, 1000, 1 << 20).0;
                    let again = read_both(&file, start, 1 << 16, usize::MAX, 1 << 20).0;
                    assert_eq!(tail, again, "from {start}");
                }
            }
        }
    }

    /// Long lines without the needle are neither kept nor read again; a long usage line is
    /// read again once, from its start.
    #[test]
    fn long_lines_without_the_needle_are_not_kept() {
        let long = format!(
            r#"{{"type":"user","message":{{"content":"{}"}}}}"#,
            "u".repeat(100_000)
        );
        let file = format!("{LINE}\n{long}\n{LINE}\n{long}\n{long}\n");
        let options = ScanOptions {
            threads: 1,
            max_line_bytes: 1 << 20,
            buffer_bytes: 4096,
            ..ScanOptions::default()
        };
        let mut reader = FileReader::new(&options);
        let mut source = Trickle::new(file.as_bytes(), 0, usize::MAX, true);
        let got = reader
            .read_from(&mut source, 0, &mut Interner::new())
            .unwrap();
        assert_eq!(got.records.len(), 2);
        assert_eq!(got.stats.lines_read, 5);
        assert_eq!(source.read_again, 0);
        assert!(
            reader.peak_carry() < 2 * LINE.len(),
            "{}",
            reader.peak_carry()
        );

        // The needle 50,000 bytes into a line: its first 4096 * 12 bytes are read again.
        let usage = usage_line(50_000, 3);
        let file = format!("{usage}\n{long}\n");
        let mut source = Trickle::new(file.as_bytes(), 0, usize::MAX, true);
        let got = reader
            .read_from(&mut source, 0, &mut Interner::new())
            .unwrap();
        assert_eq!(got.records.len(), 1);
        assert_eq!(source.read_again, 4096 * 12);
    }

    /// A file cut short under a line whose beginning must be read again: that line is left
    /// unconsumed and counted truncated, as a half-written last line is; the lines before it
    /// count.
    #[test]
    fn a_file_cut_short_under_a_line_read_again_leaves_that_line() {
        struct Cut<'a>(Trickle<'a>);
        impl Read for Cut<'_> {
            fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
                self.0.read(out)
            }
        }
        impl LineSource for Cut<'_> {
            fn can_read_again(&self) -> bool {
                true
            }
            fn read_again(&mut self, _: u64, _: &mut [u8]) -> io::Result<()> {
                Err(io::ErrorKind::UnexpectedEof.into())
            }
        }
        let options = ScanOptions {
            threads: 1,
            max_line_bytes: 1 << 20,
            buffer_bytes: 4096,
            ..ScanOptions::default()
        };
        let user = format!(r#"{{"type":"user","x":"{}"}}"#, "u".repeat(9000));
        // The needle far into a terminated line; and an unterminated last line without it.
        for last in [format!("{}\n{LINE}\n", usage_line(10_000, 1)), user.clone()] {
            let file = format!("{LINE}\n{user}\n{last}");
            let source = Cut(Trickle::new(file.as_bytes(), 0, usize::MAX, true));
            let got = FileReader::new(&options)
                .read_from(source, 0, &mut Interner::new())
                .unwrap();
            let left = LINE.len() + user.len() + 2;
            assert_eq!(got.records.len(), 1);
            assert_eq!(got.stats.lines_read, 3);
            assert_eq!(got.stats.skipped.truncated, 1);
            assert_eq!(got.end_offset, left as u64);
            assert_eq!(got.unconsumed.lines_read, 1);
            assert_eq!(got.unconsumed.skipped.truncated, 1);
            assert_eq!(got.unconsumed.bytes_read, (file.len() - left) as u64);
        }
    }

    /// A line read again takes no more room than it needs, within a limit below 2 MiB.
    #[test]
    fn a_line_read_again_stays_within_the_limit() {
        let max = 1_500_000;
        let options = ScanOptions {
            threads: 1,
            max_line_bytes: max,
            buffer_bytes: 1 << 16,
            ..ScanOptions::default()
        };
        // Kept as read (the needle first): the carry keeps 1 MiB of room after it.
        let early = format!(r#"{{"type":"assistant","x":"{}"}}"#, "a".repeat(1_100_000));
        let file = format!("{early}\n{}\n", usage_line(1_400_000, 1));
        let mut reader = FileReader::new(&options);
        let mut source = Trickle::new(file.as_bytes(), 0, usize::MAX, true);
        let got = reader
            .read_from(&mut source, 0, &mut Interner::new())
            .unwrap();
        assert_eq!(got.records.len(), 1);
        assert!(source.read_again > 1_300_000);
        assert!(reader.peak_carry() <= max, "{}", reader.peak_carry());
    }

    #[test]
    fn threads_are_capped() {
        let with = |threads| {
            ScanOptions {
                threads,
                ..ScanOptions::default()
            }
            .effective_threads()
        };
        assert_eq!(with(3), 3);
        assert_eq!(with(ScanOptions::MAX_THREADS), ScanOptions::MAX_THREADS);
        assert_eq!(with(30_000), ScanOptions::MAX_THREADS);
        assert!((1..=ScanOptions::MAX_THREADS).contains(&with(0)));
    }

    #[test]
    fn long_lines_are_dropped_without_buffering_them() {
        let long = format!(
            r#"{{"type":"assistant","pad":"{}","timestamp":"2025-08-30T07:16:28.537Z","message":{{"usage":{{}}}}}}"#,
            "x".repeat(10_000)
        );
        for (tail, end_offset_is_end) in [("\n", true), ("", false)] {
            let data = format!("{LINE}\n{long}\n{LINE}\n{long}{tail}");
            let options = ScanOptions {
                threads: 1,
                max_line_bytes: 1000,
                buffer_bytes: 256,
                ..ScanOptions::default()
            };
            let mut reader = FileReader::new(&options);
            let mut interner = Interner::new();
            let got = reader
                .read_from(Once(data.as_bytes()), 0, &mut interner)
                .unwrap();
            assert_eq!(got.records.len(), 2);
            assert_eq!(got.stats.skipped.oversized, 2);
            assert_eq!(got.stats.lines_read, 4);
            assert!(
                reader.carry_capacity() <= 2000,
                "{}",
                reader.carry_capacity()
            );
            let unterminated_start = (LINE.len() + 1) * 2 + long.len() + 1;
            let expected = if end_offset_is_end {
                data.len()
            } else {
                unterminated_start
            };
            assert_eq!(got.end_offset, expected as u64);
        }
    }

    /// Produces a 50 MB assistant line followed by a usage line, without holding either.
    struct HugeLine {
        produced: usize,
        body: usize,
        tail: Vec<u8>,
    }

    impl LineSource for HugeLine {}

    impl Read for HugeLine {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            const HEAD: &[u8] = br#"{"type":"assistant","message":{"content":""#;
            let mut n = 0;
            while n < out.len() {
                let at = self.produced;
                let byte = if at < HEAD.len() {
                    HEAD[at]
                } else if at < HEAD.len() + self.body {
                    b'x'
                } else if let Some(&b) = self.tail.get(at - HEAD.len() - self.body) {
                    b
                } else {
                    break;
                };
                out[n] = byte;
                n += 1;
                self.produced += 1;
            }
            Ok(n)
        }
    }

    #[test]
    fn a_50_mb_line_never_grows_the_carry_past_the_limit() {
        let options = ScanOptions {
            threads: 1,
            ..ScanOptions::default()
        };
        let mut reader = FileReader::new(&options);
        let mut interner = Interner::new();
        let source = HugeLine {
            produced: 0,
            body: 50_000_000,
            tail: format!("\"}}}}\n{LINE}\n").into_bytes(),
        };
        let got = reader.read_from(source, 0, &mut interner).unwrap();
        assert_eq!(got.stats.skipped.oversized, 1);
        assert_eq!(got.records.len(), 1);
        assert!(reader.peak_carry() <= ScanOptions::DEFAULT_MAX_LINE_BYTES);
        assert!(reader.carry_capacity() <= CARRY_KEEP_BYTES);
        assert!(got.stats.bytes_read > 50_000_000);
    }

    #[test]
    fn the_needle_search_finds_exactly_the_lines_that_hold_the_needle() {
        let finder = FileReader::new(&ScanOptions::default()).finder;
        // Places where the two bytes the search looks for first (`"a`) stand, without the rest
        // of the needle, then the needle at every offset.
        let near = r#"{"a":"assistan","args":"assistant ","x":"ASSISTANT","y":"assistants"}"#;
        assert_eq!(finder.find(near.as_bytes()), None);
        for at in 0..=near.len() {
            let mut line = near.as_bytes().to_vec();
            line.splice(at..at, CANDIDATE_NEEDLE.iter().copied());
            let first = line
                .windows(CANDIDATE_NEEDLE.len())
                .position(|w| w == CANDIDATE_NEEDLE);
            assert!(first.is_some_and(|i| i <= at), "{at}");
            assert_eq!(finder.find(&line), first, "{at}");
        }
    }

    #[test]
    fn a_line_of_exactly_the_limit_is_read() {
        let data = format!("{LINE}\n");
        let exact = read_with(data.as_bytes(), 64, 64, LINE.len());
        assert_eq!(exact.records.len(), 1);
        let below = read_with(data.as_bytes(), 64, 64, LINE.len() - 1);
        assert_eq!(below.records.len(), 0);
        assert_eq!(below.stats.skipped.oversized, 1);
    }

    #[test]
    fn unterminated_last_line() {
        let half = &LINE[..LINE.len() / 2];
        // Half of a usage line that already contains the needle: truncated, not consumed.
        let data = format!("{LINE}\n{}", &LINE[..LINE.len() - 3]);
        let got = read_with(data.as_bytes(), 4096, 4096, 1 << 20);
        assert_eq!(got.stats.skipped.truncated, 1);
        assert_eq!(got.stats.skipped.invalid_json, 0);
        assert_eq!(got.end_offset, LINE.len() as u64 + 1);
        // Half a line without the needle yet: truncated too, not consumed.
        let data = format!("{LINE}\n{half}");
        let got = read_with(data.as_bytes(), 4096, 4096, 1 << 20);
        assert_eq!(got.stats.skipped.truncated, 1);
        assert_eq!(got.stats.candidate_lines, 1);
        assert_eq!(got.stats.lines_read, 2);
        assert_eq!(got.end_offset, LINE.len() as u64 + 1);
        // A complete non-usage last line (or blank space) is consumed and not counted as bad.
        for tail in [r#"{"type":"user","message":{"content":"hi"}}"#, "  ", "\r"] {
            let data = format!("{LINE}\n{tail}");
            let got = read_with(data.as_bytes(), 4096, 4096, 1 << 20);
            assert_eq!(got.stats.skipped.total(), 0, "{tail:?}");
            assert_eq!(got.end_offset, data.len() as u64);
        }
        // A complete last line without a newline counts and is consumed.
        let data = format!("{LINE}\n{LINE}");
        let got = read_with(data.as_bytes(), 4096, 4096, 1 << 20);
        assert_eq!(got.records.len(), 2);
        assert_eq!(got.end_offset, data.len() as u64);
    }

    #[test]
    fn resumes_from_an_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.jsonl");
        let second = LINE.replace("msg_1", "msg_2");
        std::fs::write(&path, format!("{LINE}\n{second}\n")).unwrap();
        let options = ScanOptions::default();
        let all = read_file(&path, 0, &options).unwrap();
        assert_eq!(all.records.len(), 2);
        let start = LINE.len() as u64 + 1;
        let rest = read_file(&path, start, &options).unwrap();
        assert_eq!(rest.records, all.records[1..]);
        assert_eq!(rest.end_offset, all.end_offset);
        assert_eq!(rest.stats.bytes_read, second.len() as u64 + 1);
        let none = read_file(&path, all.end_offset, &options).unwrap();
        assert!(none.records.is_empty());
        assert_eq!(none.end_offset, all.end_offset);
    }

    #[test]
    fn unconsumed_tail_is_reported_so_a_resumed_read_counts_it_once() {
        let long = format!(r#"{{"type":"assistant","pad":"{}"}}"#, "x".repeat(1200));
        for (tail, oversized) in [
            (&LINE[..LINE.len() / 2], false),
            (&LINE[..LINE.len() - 3], false),
            (&long[..], true),
        ] {
            let whole = format!("{LINE}\n{tail}\n{LINE}\n");
            let cut = LINE.len() + 1 + tail.len();
            let full = read_with(whole.as_bytes(), 64, 64, 1000);
            let first = read_with(&whole.as_bytes()[..cut], 64, 64, 1000);
            assert_eq!(first.end_offset, LINE.len() as u64 + 1);
            assert_eq!(first.unconsumed.lines_read, 1);
            assert_eq!(first.unconsumed.skipped.oversized, u64::from(oversized));
            assert_eq!(first.unconsumed.skipped.truncated, u64::from(!oversized));
            assert_eq!(first.unconsumed.bytes_read, tail.len() as u64);
            let options = ScanOptions {
                threads: 1,
                max_line_bytes: 1000,
                buffer_bytes: 64,
                ..ScanOptions::default()
            };
            let start = first.end_offset as usize;
            let rest = read_source(
                &whole.as_bytes()[start..],
                first.end_offset,
                &options,
                &mut Interner::new(),
            )
            .unwrap();
            assert_eq!(rest.unconsumed, FileStats::default());
            let mut total = first.stats.saturating_sub(&first.unconsumed);
            total.add(&rest.stats);
            assert_eq!(total, full.stats);
            assert_eq!(rest.end_offset, full.end_offset);
        }
        let complete = read_with(format!("{LINE}\n").as_bytes(), 64, 64, 1 << 20);
        assert_eq!(complete.unconsumed, FileStats::default());
    }

    #[test]
    fn refuses_directories_and_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let err = read_file(dir.path(), 0, &ScanOptions::default()).unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::InvalidInput);
        assert!(err.to_string().contains(&*dir.path().to_string_lossy()));
        let missing = dir.path().join("gone.jsonl");
        let err = read_file(&missing, 0, &ScanOptions::default()).unwrap_err();
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert_eq!(err.path, missing);
    }

    #[test]
    fn strings_are_interned() {
        let data = format!("{LINE}\n{}\n", LINE.replace("msg_1", "msg_2"));
        let got = read_with(data.as_bytes(), 4096, 4096, 1 << 20);
        let [a, b] = &got.records[..] else {
            panic!("two records expected")
        };
        assert!(Arc::ptr_eq(&a.event.model, &b.event.model));
        assert!(Arc::ptr_eq(
            a.event.project.as_ref().unwrap(),
            b.event.project.as_ref().unwrap()
        ));
    }
}
