//! The ledger file: its records, their encoding, and the in-memory state they describe.
//!
//! See the crate documentation for the layout. Everything is little-endian with fixed offsets,
//! so decoding is a bounds check and a few loads per field.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use claude_logs::{FileStats, Record, ResponseKey, SkippedLines, Speed, TokenCounts, UsageEvent};

use crate::crc::{Crc32, crc32};

/// The first eight bytes of a ledger file.
pub(crate) const MAGIC: [u8; 8] = *b"AIOSLEDG";
/// The format version this code reads and writes.
pub(crate) const VERSION: u32 = 1;
/// How many leading bytes of a transcript its fingerprint covers.
pub(crate) const FINGERPRINT_BYTES: u64 = 4096;
/// How many of those bytes each of the fingerprint's four CRC-32s covers.
const FINGERPRINT_PART_BYTES: usize = 1024;

/// The fingerprint of a transcript's first bytes (`prefix`, at most [`FINGERPRINT_BYTES`]):
/// the CRC-32 of each 1 KiB part of it, the first part's in the low 32 bits, 0 for a part
/// past its end. (Its length is stored beside it.)
///
/// Ledgers written before this held the FNV-1a 128 hash of the same bytes, which takes a
/// 128-bit multiplication per byte (see BENCHMARKS.md). Such a fingerprint is still accepted
/// ([`fingerprint_matches`]), and replaced by this one when its file is next read, so that
/// no ledger has to be rebuilt for it.
pub(crate) fn fingerprint(prefix: &[u8]) -> u128 {
    debug_assert!(prefix.len() as u64 <= FINGERPRINT_BYTES);
    prefix
        .chunks(FINGERPRINT_PART_BYTES)
        .take((FINGERPRINT_BYTES as usize).div_ceil(FINGERPRINT_PART_BYTES))
        .enumerate()
        .fold(0, |fp, (i, part)| fp | u128::from(crc32(part)) << (32 * i))
}

/// Whether `prefix` has the fingerprint `fp`: this version's [`fingerprint`], or the FNV-1a
/// 128 hash that earlier ledgers hold.
pub(crate) fn fingerprint_matches(prefix: &[u8], fp: u128) -> bool {
    fingerprint(prefix) == fp || claude_logs::fnv1a_128(prefix) == fp
}

/// An interned string (model, project, session id); ids count the string records in log order.
pub(crate) const KIND_STRING: u8 = 1;
/// The state of one transcript file (latest wins).
pub(crate) const KIND_FILE: u8 = 2;
/// A batch of usage records owned by one file.
pub(crate) const KIND_EVENTS: u8 = 3;
/// Drops one file and every record it owns.
pub(crate) const KIND_FORGET: u8 = 4;
/// Ends a transaction: the records since the previous commit take effect.
pub(crate) const KIND_COMMIT: u8 = 5;
/// Reserved for authoritative server readings (window percentages and reset times). This
/// version writes none; like any kind it does not know, it is kept verbatim.
#[allow(dead_code)]
pub(crate) const KIND_READING: u8 = 6;

/// `len: u32`, `kind: u8` before the payload, `crc: u32` after it.
pub(crate) const FRAME_OVERHEAD: usize = 9;
/// A frame announcing more is damaged.
const MAX_PAYLOAD: usize = 64 << 20;
/// Encoded size of one usage record.
pub(crate) const EVENT_BYTES: usize = 105;
/// Usage records per `EVENTS` frame (about 860 KB).
const EVENTS_PER_FRAME: usize = 8192;
/// Encoded size of a `FILE` payload without its path.
const FILE_FIXED_BYTES: usize = 4 + 8 + 8 + 8 + 8 + 4 + 8 + 4 + 16 + 1 + 2 * STATS_BYTES;
const STATS_BYTES: usize = 11 * 8;
/// "No string" in an event's project or session slot.
const NO_STRING: u32 = u32::MAX;

const FLAG_KEY: u8 = 1;
const FLAG_REQUEST: u8 = 2;
const FLAG_SIDECHAIN: u8 = 4;
const FLAG_FAST: u8 = 8;
const FILE_FLAG_OPEN_LINE: u8 = 1;

/// Which file a record came from: `(device, inode)`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) struct Identity {
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

/// What the ledger knows about one transcript file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FileState {
    /// The path it was last seen at.
    pub(crate) path: PathBuf,
    pub(crate) identity: Identity,
    /// Size and modification time when it was last opened (before reading).
    pub(crate) size: u64,
    pub(crate) mtime: (i64, u32),
    /// Just after the last line consumed: the next read starts here.
    pub(crate) offset: u64,
    /// The [`fingerprint`] of the first `fp_len = min(offset, 4096)` bytes.
    pub(crate) fp_len: u32,
    pub(crate) fp: u128,
    /// The consumed part ends with a complete line that had no newline yet.
    pub(crate) open_line: bool,
    /// Counts over `[0, offset)`.
    pub(crate) committed: FileStats,
    /// Counts of the unconsumed tail past `offset`, as last read.
    pub(crate) unconsumed: FileStats,
}

/// The strings events refer to, by id.
#[derive(Debug, Default)]
pub(crate) struct Strings {
    list: Vec<Arc<str>>,
    index: HashMap<Arc<str>, u32>,
}

impl Strings {
    pub(crate) fn len(&self) -> usize {
        self.list.len()
    }

    /// The id of `s`, when it is in the table.
    pub(crate) fn id(&self, s: &str) -> Option<u32> {
        self.index.get(s).copied()
    }

    pub(crate) fn get(&self, id: u32) -> Option<&Arc<str>> {
        self.list.get(id as usize)
    }

    /// The id and shared copy of `s`, adding it when new (`true`).
    pub(crate) fn intern(&mut self, s: &Arc<str>) -> (u32, Arc<str>, bool) {
        if let Some((shared, &id)) = self.index.get_key_value(&**s) {
            return (id, Arc::clone(shared), false);
        }
        let id = self.push(Arc::clone(s));
        (id, Arc::clone(s), true)
    }

    pub(crate) fn push(&mut self, s: Arc<str>) -> u32 {
        let id = self.list.len() as u32;
        self.index.entry(Arc::clone(&s)).or_insert(id);
        self.list.push(s);
        id
    }

    fn truncate(&mut self, len: usize) {
        for s in self.list.drain(len..) {
            if self.index.get(&*s).is_some_and(|&id| id as usize >= len) {
                self.index.remove(&*s);
            }
        }
    }

    fn encoded_bytes(&self) -> u64 {
        self.list
            .iter()
            .map(|s| (FRAME_OVERHEAD + s.len()) as u64)
            .sum()
    }
}

/// One transcript file and the usage records it holds (compacted per read, see
/// `Dedup::into_compact_records`): decoded in `records`, or still encoded in the ledger's
/// bytes (`frames`, decoded only when needed).
#[derive(Debug, Default)]
pub(crate) struct Entry {
    /// `None` only while a transaction is being replayed.
    pub(crate) state: Option<FileState>,
    pub(crate) records: Vec<Record>,
    /// Whole `EVENTS` frames in the ledger file, with their record counts.
    pub(crate) frames: Vec<(Range<usize>, usize)>,
    /// In a light state (loaded from a checkpoint), how many records the file has in the
    /// ledger whose frames are not known yet (see `State::ensure_frames`).
    pub(crate) unloaded: usize,
}

impl Entry {
    /// How many records the file has: decoded, in frames, or not loaded.
    fn record_count(&self) -> usize {
        self.records.len() + self.frames.iter().map(|f| f.1).sum::<usize>() + self.unloaded
    }
}

/// The ledger's content.
#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) strings: Strings,
    pub(crate) files: BTreeMap<u32, Entry>,
    /// The next unused file id.
    pub(crate) next_file: u32,
    /// Records of kinds this version does not know, kept for the next compaction.
    pub(crate) opaque: Vec<(u8, Vec<u8>)>,
    /// The sequence number of the last commit.
    pub(crate) seq: u64,
    /// Identifies one ledger file: new at each rebuild and compaction.
    pub(crate) ledger_id: u64,
    /// Length of the ledger file as loaded, cut after the last commit.
    pub(crate) len: u64,
    /// The ledger file, where `frames` are read from.
    pub(crate) source: Option<std::fs::File>,
}

/// A change to the state, as written in one record.
#[derive(Debug)]
pub(crate) enum Op {
    File(u32, Box<FileState>),
    Events(u32, Vec<Record>),
    Frame(u32, Range<usize>, usize),
    Forget(u32),
    Opaque(u8, Vec<u8>),
}

impl State {
    pub(crate) fn apply(&mut self, op: Op) {
        match op {
            Op::File(id, state) => {
                self.next_file = self.next_file.max(id.saturating_add(1));
                self.files.entry(id).or_default().state = Some(*state);
            }
            Op::Events(id, records) => {
                self.next_file = self.next_file.max(id.saturating_add(1));
                let entry = self.files.entry(id).or_default();
                if entry.records.is_empty() {
                    // Taken as they are, not copied (a cold run over 1 GiB hands over 18 MB).
                    entry.records = records;
                } else {
                    entry.records.extend(records);
                }
            }
            Op::Frame(id, range, count) => {
                self.next_file = self.next_file.max(id.saturating_add(1));
                self.files
                    .entry(id)
                    .or_default()
                    .frames
                    .push((range, count));
            }
            Op::Forget(id) => {
                self.files.remove(&id);
            }
            Op::Opaque(kind, payload) => self.opaque.push((kind, payload)),
        }
    }

    /// A new file id.
    pub(crate) fn allocate(&mut self) -> u32 {
        let id = self.next_file;
        self.next_file += 1;
        id
    }

    /// About how many bytes a compacted ledger of this state takes.
    pub(crate) fn live_bytes(&self, roots: &[u8]) -> u64 {
        let mut total = header_len(roots) as u64 + self.strings.encoded_bytes();
        for entry in self.files.values() {
            let path = entry
                .state
                .as_ref()
                .map_or(0, |s| path_bytes(&s.path).len());
            total += (FRAME_OVERHEAD + FILE_FIXED_BYTES + path) as u64;
            let records = entry.record_count();
            total += (records * EVENT_BYTES) as u64;
            let frames = records.div_ceil(EVENTS_PER_FRAME);
            total += (frames * (FRAME_OVERHEAD + 8)) as u64;
        }
        for (_, payload) in &self.opaque {
            total += (FRAME_OVERHEAD + payload.len()) as u64;
        }
        total + (FRAME_OVERHEAD + 8) as u64
    }

    /// How many records each file has (decoded, in frames, or not loaded), by file id.
    pub(crate) fn record_counts(&self) -> Vec<(u32, u64)> {
        self.files
            .iter()
            .map(|(&id, e)| (id, e.record_count() as u64))
            .collect()
    }

    /// Light: loaded from a checkpoint, some file has records in the ledger whose positions
    /// (`frames`) are not known yet, only how many there are (`Entry::unloaded`).
    pub(crate) fn is_light(&self) -> bool {
        self.files.values().any(|e| e.unloaded > 0)
    }

    /// In a light state, finds where each file's records are in the ledger (`source`, the
    /// file `roots` describe) by replaying it up to the length the state stands for; their
    /// checksums are not checked again (the run that wrote the checkpoint did). A file whose
    /// records cannot be found again (the ledger was damaged in place since) loses them, with a
    /// warning; returns how many did.
    pub(crate) fn ensure_frames(&mut self, roots: &[u8]) -> usize {
        if !self.is_light() {
            return 0;
        }
        let replayed = self.source.as_ref().and_then(|mut file| {
            file.seek(SeekFrom::Start(0)).ok()?;
            replay(file, self.len, roots, self.len).ok()
        });
        let mut replayed = replayed
            .filter(|r| r.valid_len as u64 == self.len && r.state.ledger_id == self.ledger_id)
            .map(|r| r.state);
        let mut lost = 0;
        for (id, entry) in &mut self.files {
            if entry.unloaded == 0 {
                continue;
            }
            let frames = replayed
                .as_mut()
                .and_then(|r| r.files.get_mut(id))
                .map(|e| std::mem::take(&mut e.frames))
                .filter(|frames| frames.iter().map(|f| f.1).sum::<usize>() == entry.unloaded);
            match frames {
                Some(frames) => entry.frames.extend(frames),
                None => lost += 1,
            }
            entry.unloaded = 0;
        }
        if lost > 0 {
            tracing::warn!(
                files = lost,
                "the usage ledger changed in place since the last run; the records of these \
                 files are dropped"
            );
        }
        lost
    }

    /// Decodes every file's `frames` (read from `source`) into its `records`, first finding
    /// them in a light state (`roots`: see [`State::ensure_frames`]). A frame that cannot be
    /// read, fails its checksum or does not decode is dropped with a warning; returns how many
    /// were.
    pub(crate) fn materialize(&mut self, roots: &[u8]) -> usize {
        let lost = self.ensure_frames(roots);
        lost + match self.source.take() {
            Some(mut file) => {
                let failed = self.materialize_from(&mut file);
                self.source = Some(file);
                failed
            }
            None => self.materialize_from(&mut std::io::Cursor::new(Vec::new())),
        }
    }

    pub(crate) fn materialize_from<R: Read + Seek>(&mut self, source: &mut R) -> usize {
        let mut failed = 0;
        let mut buf = Vec::new();
        for entry in self.files.values_mut() {
            for (range, _) in std::mem::take(&mut entry.frames) {
                buf.resize(range.end - range.start, 0);
                let read = source
                    .seek(SeekFrom::Start(range.start as u64))
                    .and_then(|_| source.read_exact(&mut buf));
                let decoded = read
                    .ok()
                    .and_then(|()| frame_at(&buf, 0))
                    .filter(|&(kind, _, end)| kind == KIND_EVENTS && end == buf.len())
                    .and_then(|(_, payload, _)| decode_events(payload, &self.strings));
                match decoded {
                    Some((_, records)) => entry.records.extend(records),
                    None => failed += 1,
                }
            }
        }
        if failed > 0 {
            tracing::warn!(
                frames = failed,
                "dropping damaged records from the usage ledger"
            );
        }
        failed
    }
}

/// Why a ledger file cannot be used at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeaderProblem {
    /// Too short, wrong magic or a bad checksum.
    Damaged,
    /// Another format version.
    Version(u32),
    /// Written for another set of roots.
    Roots,
}

/// The result of reading a ledger file.
#[derive(Debug)]
pub(crate) struct Replayed {
    pub(crate) state: State,
    /// End of the last complete transaction: everything after it is dropped.
    pub(crate) valid_len: usize,
    /// A record after `valid_len` was damaged (as opposed to a clean end or an unfinished
    /// transaction).
    pub(crate) damaged: bool,
}

pub(crate) fn header_len(roots: &[u8]) -> usize {
    8 + 4 + 8 + 4 + roots.len() + 4
}

/// Encodes the header for a ledger of `roots`.
pub(crate) fn header(roots: &[u8], ledger_id: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(header_len(roots));
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&ledger_id.to_le_bytes());
    out.extend_from_slice(&(roots.len() as u32).to_le_bytes());
    out.extend_from_slice(roots);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

/// Reads as much of `buf` as `source` has; returns how much was read.
fn read_full<R: Read>(source: &mut R, buf: &mut [u8]) -> usize {
    let mut done = 0;
    while done < buf.len() {
        match source.read(&mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    done
}

/// Reads a whole ledger file of `len` bytes: the header, then every transaction up to the last
/// complete one. The file is streamed; `EVENTS` frames are not decoded (see
/// `State::materialize`), and those that end within `trusted` bytes (checked by an earlier
/// run) are skipped without being checksummed.
pub(crate) fn replay<R: Read + Seek>(
    source: R,
    len: u64,
    roots: &[u8],
    trusted: u64,
) -> Result<Replayed, HeaderProblem> {
    let mut r = BufReader::with_capacity(64 << 10, source);
    let mut head = [0u8; 24];
    if read_full(&mut r, &mut head) < head.len() || head[..8] != MAGIC {
        return Err(HeaderProblem::Damaged);
    }
    let roots_len = u32_at(&head, 20) as usize;
    if roots_len > MAX_PAYLOAD {
        return Err(HeaderProblem::Damaged);
    }
    let mut rest = vec![0u8; roots_len + 4];
    if read_full(&mut r, &mut rest) < rest.len() {
        return Err(HeaderProblem::Damaged);
    }
    let mut crc = Crc32::new();
    crc.update(&head);
    crc.update(&rest[..roots_len]);
    if crc.finish() != u32_at(&rest, roots_len) {
        return Err(HeaderProblem::Damaged);
    }
    let version = u32_at(&head, 8);
    if version != VERSION {
        return Err(HeaderProblem::Version(version));
    }
    if &rest[..roots_len] != roots {
        return Err(HeaderProblem::Roots);
    }
    let mut state = State {
        ledger_id: u64_at(&head, 12),
        ..State::default()
    };
    let mut pos = (24 + roots_len + 4) as u64;
    let mut valid_len = pos;
    let mut pending: Vec<Op> = Vec::new();
    let mut strings_at_commit = 0;
    let mut damaged = false;
    let mut scratch: Vec<u8> = Vec::new();
    while pos < len {
        let mut fh = [0u8; 5];
        if read_full(&mut r, &mut fh) < fh.len() {
            damaged = true;
            break;
        }
        let plen = u32_at(&fh, 0) as usize;
        let kind = fh[4];
        let next = pos + (FRAME_OVERHEAD + plen) as u64;
        if plen > MAX_PAYLOAD || next > len {
            damaged = true;
            break;
        }
        let decoded = if kind == KIND_EVENTS && next <= trusted {
            let mut shape = [0u8; 8];
            let ok = plen >= 8
                && read_full(&mut r, &mut shape) == 8
                && r.seek_relative((plen - 8 + 4) as i64).is_ok();
            let count = u32_at(&shape, 4) as usize;
            (ok && count.checked_mul(EVENT_BYTES) == Some(plen - 8)).then(|| {
                let range = pos as usize..next as usize;
                Some(Op::Frame(u32_at(&shape, 0), range, count))
            })
        } else {
            scratch.resize(plen + 4, 0);
            if read_full(&mut r, &mut scratch) < scratch.len() {
                damaged = true;
                break;
            }
            let mut crc = Crc32::new();
            crc.update(&fh);
            crc.update(&scratch[..plen]);
            if crc.finish() != u32_at(&scratch, plen) {
                damaged = true;
                break;
            }
            let payload = &scratch[..plen];
            match kind {
                KIND_STRING => match std::str::from_utf8(payload) {
                    Ok(s) => {
                        state.strings.push(Arc::from(s));
                        Some(None)
                    }
                    Err(_) => None,
                },
                KIND_FILE => decode_file(payload).map(|(id, fs)| Some(Op::File(id, Box::new(fs)))),
                KIND_EVENTS => events_shape(payload)
                    .map(|(id, n)| Some(Op::Frame(id, pos as usize..next as usize, n))),
                KIND_FORGET => (payload.len() == 4).then(|| Some(Op::Forget(u32_at(payload, 0)))),
                KIND_COMMIT => {
                    if payload.len() != 8 {
                        None
                    } else {
                        for op in pending.drain(..) {
                            state.apply(op);
                        }
                        state.seq = u64_at(payload, 0);
                        strings_at_commit = state.strings.len();
                        valid_len = next;
                        Some(None)
                    }
                }
                other => Some(Some(Op::Opaque(other, payload.to_vec()))),
            }
        };
        match decoded {
            Some(Some(op)) => pending.push(op),
            Some(None) => {}
            None => {
                damaged = true;
                break;
            }
        }
        pos = next;
    }
    state.strings.truncate(strings_at_commit);
    // A file without a state record cannot be resumed: its records would be counted again.
    state.files.retain(|_, entry| entry.state.is_some());
    state.len = valid_len;
    Ok(Replayed {
        state,
        valid_len: valid_len as usize,
        damaged,
    })
}

/// The frame at `pos`: its kind, payload and the position after it; `None` when it is cut
/// short or its checksum does not match.
fn frame_at(bytes: &[u8], pos: usize) -> Option<(u8, &[u8], usize)> {
    let head = bytes.get(pos..pos + 5)?;
    let len = u32_at(head, 0) as usize;
    if len > MAX_PAYLOAD {
        return None;
    }
    let end = pos + 5 + len;
    let payload = bytes.get(pos + 5..end)?;
    let stored = bytes.get(end..end + 4)?;
    let mut crc = Crc32::new();
    crc.update(head);
    crc.update(payload);
    (crc.finish() == u32_at(stored, 0)).then_some((head[4], payload, end + 4))
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// The little-endian `u64` at `at` in `b` (which must hold it).
pub(crate) fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn u128_at(b: &[u8], at: usize) -> u128 {
    let mut a = [0u8; 16];
    a.copy_from_slice(&b[at..at + 16]);
    u128::from_le_bytes(a)
}

fn put_stats(out: &mut Vec<u8>, s: &FileStats) {
    for v in [
        s.lines_read,
        s.candidate_lines,
        s.usage_lines,
        s.synthetic_lines,
        s.skipped.invalid_json,
        s.skipped.invalid_utf8,
        s.skipped.wrong_types,
        s.skipped.bad_timestamp,
        s.skipped.oversized,
        s.skipped.truncated,
        s.bytes_read,
    ] {
        out.extend_from_slice(&v.to_le_bytes());
    }
}

fn get_stats(b: &[u8], at: usize) -> FileStats {
    let v = |i: usize| u64_at(b, at + 8 * i);
    FileStats {
        lines_read: v(0),
        candidate_lines: v(1),
        usage_lines: v(2),
        synthetic_lines: v(3),
        skipped: SkippedLines {
            invalid_json: v(4),
            invalid_utf8: v(5),
            wrong_types: v(6),
            bad_timestamp: v(7),
            oversized: v(8),
            truncated: v(9),
        },
        bytes_read: v(10),
    }
}

#[cfg(unix)]
pub(crate) fn path_bytes(path: &std::path::Path) -> &[u8] {
    use std::os::unix::ffi::OsStrExt;
    path.as_os_str().as_bytes()
}

#[cfg(not(unix))]
pub(crate) fn path_bytes(path: &std::path::Path) -> &[u8] {
    path.to_str().map_or(&[], str::as_bytes)
}

#[cfg(unix)]
pub(crate) fn path_from(bytes: &[u8]) -> Option<PathBuf> {
    use std::os::unix::ffi::OsStrExt;
    Some(PathBuf::from(std::ffi::OsStr::from_bytes(bytes)))
}

#[cfg(not(unix))]
pub(crate) fn path_from(bytes: &[u8]) -> Option<PathBuf> {
    std::str::from_utf8(bytes).ok().map(PathBuf::from)
}

pub(crate) fn decode_file(p: &[u8]) -> Option<(u32, FileState)> {
    if p.len() < FILE_FIXED_BYTES {
        return None;
    }
    let id = u32_at(p, 0);
    let state = FileState {
        identity: Identity {
            dev: u64_at(p, 4),
            ino: u64_at(p, 12),
        },
        size: u64_at(p, 20),
        mtime: (u64_at(p, 28) as i64, u32_at(p, 36)),
        offset: u64_at(p, 40),
        fp_len: u32_at(p, 48),
        fp: u128_at(p, 52),
        open_line: p[68] & FILE_FLAG_OPEN_LINE != 0,
        committed: get_stats(p, 69),
        unconsumed: get_stats(p, 69 + STATS_BYTES),
        path: path_from(&p[FILE_FIXED_BYTES..])?,
    };
    (u64::from(state.fp_len) <= FINGERPRINT_BYTES).then_some((id, state))
}

/// The file id and record count of an `EVENTS` payload of the right size.
fn events_shape(p: &[u8]) -> Option<(u32, usize)> {
    if p.len() < 8 {
        return None;
    }
    let count = u32_at(p, 4) as usize;
    (p.len() - 8 == count.checked_mul(EVENT_BYTES)?).then(|| (u32_at(p, 0), count))
}

fn decode_events(p: &[u8], strings: &Strings) -> Option<(u32, Vec<Record>)> {
    let (id, count) = events_shape(p)?;
    let body = &p[8..];
    let mut records = Vec::with_capacity(count);
    let mut days = Days::default();
    for b in body.chunks_exact(EVENT_BYTES) {
        records.push(decode_event(b, strings, &mut days)?);
    }
    Some((id, records))
}

/// The `message.id` hash of an encoded usage record, when it has a key.
pub(crate) fn message_id(b: &[u8]) -> Option<u128> {
    (b[24] & FLAG_KEY != 0).then(|| u128_at(b, 25))
}

/// Turns seconds and nanoseconds since the Unix epoch into a time as
/// `DateTime::from_timestamp` does, remembering the date of the last day seen: records come
/// in time order, and finding a day's date is most of that work.
#[derive(Debug, Default)]
pub(crate) struct Days {
    last: Option<(i64, NaiveDate)>,
}

impl Days {
    /// The days from 0001-01-01 (day 1) to 1970-01-01.
    const EPOCH_FROM_CE: i64 = 719_163;

    pub(crate) fn at(&mut self, secs: i64, nanos: u32) -> Option<DateTime<Utc>> {
        let day = secs.div_euclid(86_400);
        let date = match self.last {
            Some((last, date)) if last == day => date,
            _ => {
                let from_ce = i32::try_from(day.checked_add(Self::EPOCH_FROM_CE)?).ok()?;
                let date = NaiveDate::from_num_days_from_ce_opt(from_ce)?;
                self.last = Some((day, date));
                date
            }
        };
        let time =
            NaiveTime::from_num_seconds_from_midnight_opt(secs.rem_euclid(86_400) as u32, nanos)?;
        Some(date.and_time(time).and_utc())
    }
}

/// Decodes one usage record (`EVENT_BYTES` bytes).
pub(crate) fn decode_event(b: &[u8], strings: &Strings, days: &mut Days) -> Option<Record> {
    let optional = |id: u32| -> Option<Option<Arc<str>>> {
        if id == NO_STRING {
            Some(None)
        } else {
            strings.get(id).map(|s| Some(Arc::clone(s)))
        }
    };
    let flags = b[24];
    let key = message_id(b).map(|message_id| ResponseKey {
        message_id,
        request_id: (flags & FLAG_REQUEST != 0).then(|| u128_at(b, 41)),
    });
    let t = |i: usize| u64_at(b, 57 + 8 * i);
    Some(Record {
        event: UsageEvent {
            timestamp: days.at(u64_at(b, 0) as i64, u32_at(b, 8))?,
            model: Arc::clone(strings.get(u32_at(b, 12))?),
            tokens: TokenCounts {
                input: t(0),
                output: t(1),
                cache_creation: t(2),
                cache_read: t(3),
                cache_creation_5m: t(4),
                cache_creation_1h: t(5),
            },
            speed: if flags & FLAG_FAST != 0 {
                Speed::Fast
            } else {
                Speed::Standard
            },
            project: optional(u32_at(b, 16))?,
            session_id: optional(u32_at(b, 20))?,
        },
        key,
        sidechain: flags & FLAG_SIDECHAIN != 0,
    })
}

/// The payload of a `FILE` record: file `id` in state `s`.
pub(crate) fn file_payload(p: &mut Vec<u8>, id: u32, s: &FileState) {
    let start = p.len();
    p.extend_from_slice(&id.to_le_bytes());
    p.extend_from_slice(&s.identity.dev.to_le_bytes());
    p.extend_from_slice(&s.identity.ino.to_le_bytes());
    p.extend_from_slice(&s.size.to_le_bytes());
    p.extend_from_slice(&s.mtime.0.to_le_bytes());
    p.extend_from_slice(&s.mtime.1.to_le_bytes());
    p.extend_from_slice(&s.offset.to_le_bytes());
    p.extend_from_slice(&s.fp_len.to_le_bytes());
    p.extend_from_slice(&s.fp.to_le_bytes());
    p.push(if s.open_line { FILE_FLAG_OPEN_LINE } else { 0 });
    put_stats(p, &s.committed);
    put_stats(p, &s.unconsumed);
    debug_assert_eq!(p.len() - start, FILE_FIXED_BYTES);
    p.extend_from_slice(path_bytes(&s.path));
}

/// Builds a run of records (a transaction, or a whole compacted ledger).
#[derive(Debug, Default)]
pub(crate) struct Writer {
    pub(crate) buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Writer {
    pub(crate) fn new() -> Self {
        Self::default()
    }

    /// Frames `payload` as a record of `kind`.
    fn frame(&mut self, kind: u8, payload: &[u8]) {
        let start = self.buf.len();
        self.buf
            .extend_from_slice(&(payload.len() as u32).to_le_bytes());
        self.buf.push(kind);
        self.buf.extend_from_slice(payload);
        let crc = crc32(&self.buf[start..]);
        self.buf.extend_from_slice(&crc.to_le_bytes());
    }

    pub(crate) fn raw(&mut self, bytes: &[u8]) {
        self.buf.extend_from_slice(bytes);
    }

    pub(crate) fn opaque(&mut self, kind: u8, payload: &[u8]) {
        self.frame(kind, payload);
    }

    pub(crate) fn forget(&mut self, id: u32) {
        self.frame(KIND_FORGET, &id.to_le_bytes());
    }

    pub(crate) fn commit(&mut self, seq: u64) {
        self.frame(KIND_COMMIT, &seq.to_le_bytes());
    }

    pub(crate) fn file(&mut self, id: u32, s: &FileState) {
        let mut p = std::mem::take(&mut self.scratch);
        p.clear();
        file_payload(&mut p, id, s);
        self.frame(KIND_FILE, &p);
        self.scratch = p;
    }

    /// Writes the records owned by file `id`, interning their strings in `strings` (a string
    /// record precedes the first event that uses it) and pointing each record at the shared
    /// copy of its strings.
    pub(crate) fn events(&mut self, id: u32, records: &mut [Record], strings: &mut Strings) {
        self.events_with(id, records, strings, true);
    }

    /// [`Self::events`], pointing the records at the shared copies only with `repoint`:
    /// without, for records that are dropped without another use of their strings. (Each
    /// repointing is two atomic updates of a count shared by thousands of records, which
    /// another thread may be updating too.)
    pub(crate) fn events_with(
        &mut self,
        id: u32,
        records: &mut [Record],
        strings: &mut Strings,
        repoint: bool,
    ) {
        // The records of a file mostly share their model, project and session: each is looked
        // up once per run of records that share it (a hash of the whole string otherwise; a
        // third of the time it took to write a fresh ledger over 1 GiB of transcripts).
        let mut recent: [Option<Recent>; 3] = Default::default();
        for chunk in records.chunks_mut(EVENTS_PER_FRAME) {
            let mut p = std::mem::take(&mut self.scratch);
            p.clear();
            p.extend_from_slice(&id.to_le_bytes());
            p.extend_from_slice(&(chunk.len() as u32).to_le_bytes());
            for record in chunk.iter_mut() {
                let e = &mut record.event;
                let [model, project, session] = &mut recent;
                let model = self.intern_recent(&mut e.model, strings, model, repoint);
                let project = match &mut e.project {
                    Some(s) => self.intern_recent(s, strings, project, repoint),
                    None => NO_STRING,
                };
                let session = match &mut e.session_id {
                    Some(s) => self.intern_recent(s, strings, session, repoint),
                    None => NO_STRING,
                };
                put_event(&mut p, record, model, project, session);
            }
            self.frame(KIND_EVENTS, &p);
            self.scratch = p;
        }
    }

    /// The id of `s` in `strings` (added, with its string record, when new); with `repoint`,
    /// `s` is pointed at the shared copy.
    fn intern(&mut self, s: &mut Arc<str>, strings: &mut Strings, repoint: bool) -> u32 {
        let (id, shared, new) = strings.intern(s);
        if new {
            self.frame(KIND_STRING, s.as_bytes());
        }
        if repoint {
            *s = shared;
        }
        id
    }

    /// [`Self::intern`], answered from `recent` when `s` is the very string it saw last.
    fn intern_recent(
        &mut self,
        s: &mut Arc<str>,
        strings: &mut Strings,
        recent: &mut Option<Recent>,
        repoint: bool,
    ) -> u32 {
        if let Some(r) = recent
            && Arc::ptr_eq(&r.seen, s)
        {
            if repoint {
                *s = Arc::clone(&r.shared);
            }
            return r.id;
        }
        let seen = Arc::clone(s);
        let id = self.intern(s, strings, repoint);
        *recent = Some(Recent {
            seen,
            id,
            shared: Arc::clone(s),
        });
        id
    }
}

/// The string a [`Writer`] interned last for one field: the record's own copy (`seen`, held
/// so that its address cannot be reused by another string), its id and the shared copy.
struct Recent {
    seen: Arc<str>,
    id: u32,
    shared: Arc<str>,
}

/// Encodes one usage record with the ids of its strings.
pub(crate) fn put_event(out: &mut Vec<u8>, r: &Record, model: u32, project: u32, session: u32) {
    // Filled in place and appended once: one capacity check per record, not one per field.
    let mut b = [0u8; EVENT_BYTES];
    let e = &r.event;
    let mut flags = 0;
    if r.key.is_some() {
        flags |= FLAG_KEY;
    }
    if r.key.is_some_and(|k| k.request_id.is_some()) {
        flags |= FLAG_REQUEST;
    }
    if r.sidechain {
        flags |= FLAG_SIDECHAIN;
    }
    if e.speed == Speed::Fast {
        flags |= FLAG_FAST;
    }
    let key = r.key.unwrap_or(ResponseKey {
        message_id: 0,
        request_id: None,
    });
    let t = &e.tokens;
    b[0..8].copy_from_slice(&e.timestamp.timestamp().to_le_bytes());
    b[8..12].copy_from_slice(&e.timestamp.timestamp_subsec_nanos().to_le_bytes());
    b[12..16].copy_from_slice(&model.to_le_bytes());
    b[16..20].copy_from_slice(&project.to_le_bytes());
    b[20..24].copy_from_slice(&session.to_le_bytes());
    b[24] = flags;
    b[25..41].copy_from_slice(&key.message_id.to_le_bytes());
    b[41..57].copy_from_slice(&key.request_id.unwrap_or(0).to_le_bytes());
    for (i, v) in [
        t.input,
        t.output,
        t.cache_creation,
        t.cache_read,
        t.cache_creation_5m,
        t.cache_creation_1h,
    ]
    .into_iter()
    .enumerate()
    {
        b[57 + 8 * i..65 + 8 * i].copy_from_slice(&v.to_le_bytes());
    }
    out.extend_from_slice(&b);
}

/// The whole state as a fresh ledger file with a new id: header, then one transaction holding
/// every string in use, every file's records (compacted per file) followed by its state, and
/// the records of unknown kinds. `State::materialize` must have run.
/// `compact_records`: each file's records are compact already (they come from one read), and
/// are dropped after the snapshot: their strings are not pointed at the ledger's copies.
///
/// Written to `out` as it is encoded, in pieces of about [`SNAPSHOT_PIECE`] bytes, so that no
/// copy of the whole ledger is held (6.4 MB for 1 GiB of transcripts, at the moment of a cold
/// run when the most else is in memory). Returns the ledger's length.
pub(crate) fn write_snapshot<W: Write>(
    state: &mut State,
    roots: &[u8],
    compact_records: bool,
    out: &mut W,
) -> std::io::Result<u64> {
    debug_assert!(state.files.values().all(|e| e.frames.is_empty()));
    state.ledger_id = new_ledger_id();
    let mut len = 0u64;
    let mut flush = |w: &mut Writer| -> std::io::Result<()> {
        out.write_all(&w.buf)?;
        len += w.buf.len() as u64;
        w.buf.clear();
        Ok(())
    };
    let mut w = Writer::new();
    w.buf.reserve(SNAPSHOT_PIECE + (64 << 10));
    w.raw(&header(roots, state.ledger_id));
    let mut strings = Strings::default();
    for (&id, entry) in &mut state.files {
        let Some(file) = &entry.state else { continue };
        if !compact_records && entry.records.len() > 1 {
            let mut dedup = claude_logs::Dedup::new();
            dedup.extend(std::mem::take(&mut entry.records));
            entry.records = dedup.into_compact_records();
        }
        // Records from one read each are not repointed: the kept records come from the
        // readers' index, and these are dropped with the run.
        w.events_with(id, &mut entry.records, &mut strings, !compact_records);
        w.file(id, file);
        if w.buf.len() >= SNAPSHOT_PIECE {
            flush(&mut w)?;
        }
    }
    for (kind, payload) in &state.opaque {
        w.opaque(*kind, payload);
    }
    w.commit(state.seq);
    flush(&mut w)?;
    state.strings = strings;
    Ok(len)
}

/// The size of the pieces in which [`write_snapshot`] writes.
const SNAPSHOT_PIECE: usize = 256 << 10;

/// [`write_snapshot`] into memory.
#[cfg(test)]
pub(crate) fn snapshot(state: &mut State, roots: &[u8], compact_records: bool) -> Vec<u8> {
    let mut out = Vec::new();
    write_snapshot(state, roots, compact_records, &mut out).expect("writing to memory");
    out
}

/// An id for a new ledger file: the clock and the process id, hashed.
fn new_ledger_id() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let mut seed = [0u8; 20];
    seed[..16].copy_from_slice(&nanos.to_le_bytes());
    seed[16..].copy_from_slice(&std::process::id().to_le_bytes());
    claude_logs::fnv1a_128(&seed) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each 1 KiB part of the prefix has its own 32 bits; a change anywhere changes them.
    #[test]
    fn the_fingerprint_is_a_crc_of_each_kilobyte() {
        assert_eq!(fingerprint(b""), 0);
        let bytes: Vec<u8> = (0..4096u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in [1, 1023, 1024, 1025, 2500, 4096] {
            let fp = fingerprint(&bytes[..len]);
            for (i, part) in bytes[..len].chunks(1024).enumerate() {
                assert_eq!((fp >> (32 * i)) as u32, crc32(part), "len {len} part {i}");
            }
            let parts = len.div_ceil(1024);
            if parts < 4 {
                assert_eq!(fp >> (32 * parts), 0, "len {len}: parts past the end");
            }
            for at in [0, len / 2, len - 1] {
                let mut changed = bytes[..len].to_vec();
                changed[at] ^= 0x20;
                assert_ne!(fingerprint(&changed), fp, "len {len} at {at}");
            }
        }
        assert!(fingerprint_matches(&bytes, fingerprint(&bytes)));
        assert!(fingerprint_matches(&bytes, claude_logs::fnv1a_128(&bytes)));
        assert!(!fingerprint_matches(&bytes, fingerprint(&bytes[..4095])));
    }

    /// `Days::at` gives what `DateTime::from_timestamp` gives, for times in any order, the
    /// ends of the range, leap-second nanoseconds and out-of-range values included.
    #[test]
    fn days_give_what_from_timestamp_gives() {
        let mut days = Days::default();
        let mut secs: Vec<i64> = vec![
            0,
            -1,
            86_399,
            86_400,
            -86_400,
            -86_401,
            1_764_000_000,
            1_764_000_059,
            1_764_028_799,
            1_764_028_800,
            i64::MIN,
            i64::MAX,
            8_210_298_412_799,
            8_210_298_412_800,
            -62_135_596_800,
            -62_135_596_801,
            -8_334_632_851_200,
            -8_334_632_851_201,
        ];
        secs.extend((0..2000).map(|i| 1_700_000_000 + i * 3_607));
        secs.extend((0..200).map(|i| 1_700_000_000 - i * 86_400 * 7));
        for &s in &secs {
            for nanos in [
                0,
                1,
                999_999_999,
                1_000_000_000,
                1_500_000_000,
                2_000_000_000,
            ] {
                assert_eq!(
                    days.at(s, nanos),
                    DateTime::from_timestamp(s, nanos),
                    "{s} {nanos}"
                );
            }
        }
    }

    fn record(i: u64, project: Option<&str>) -> Record {
        Record {
            event: UsageEvent {
                timestamp: DateTime::from_timestamp(1_764_000_000 + i as i64, 537_000_001).unwrap(),
                model: Arc::from("claude-sonnet-4-5-20250929"),
                tokens: TokenCounts {
                    input: i,
                    output: u64::MAX - i,
                    cache_creation: 3,
                    cache_read: 4,
                    cache_creation_5m: 2,
                    cache_creation_1h: 1,
                },
                speed: if i.is_multiple_of(2) {
                    Speed::Fast
                } else {
                    Speed::Standard
                },
                project: project.map(Arc::from),
                session_id: i.is_multiple_of(3).then(|| Arc::from("s-1")),
            },
            key: match i % 3 {
                0 => None,
                1 => Some(ResponseKey::new(&format!("msg_{i}"), None)),
                _ => Some(ResponseKey::new(&format!("msg_{i}"), Some("req"))),
            },
            sidechain: i.is_multiple_of(4),
        }
    }

    fn file_state(path: &str) -> FileState {
        FileState {
            path: PathBuf::from(path),
            identity: Identity { dev: 7, ino: 42 },
            size: 1234,
            mtime: (-5, 999_999_999),
            offset: 1200,
            fp_len: 1200,
            fp: u128::MAX - 3,
            open_line: true,
            committed: FileStats {
                lines_read: 1,
                candidate_lines: 2,
                usage_lines: 3,
                synthetic_lines: 4,
                skipped: SkippedLines {
                    invalid_json: 5,
                    invalid_utf8: 6,
                    wrong_types: 7,
                    bad_timestamp: 8,
                    oversized: 9,
                    truncated: 10,
                },
                bytes_read: 11,
            },
            unconsumed: FileStats {
                lines_read: 1,
                bytes_read: 34,
                ..FileStats::default()
            },
        }
    }

    #[test]
    fn records_round_trip() {
        let roots = b"/r";
        let mut strings = Strings::default();
        let mut w = Writer::new();
        w.raw(&header(roots, 5));
        let mut records: Vec<Record> = (0..20).map(|i| record(i, Some("/w/app"))).collect();
        records.push(record(21, None));
        let want = records.clone();
        w.events(3, &mut records, &mut strings);
        w.file(3, &file_state("/r/projects/a.jsonl"));
        w.commit(9);
        let mut replayed = replay(
            std::io::Cursor::new(w.buf.clone()),
            w.buf.len() as u64,
            roots,
            0,
        )
        .unwrap();
        assert_eq!(replayed.valid_len, w.buf.len());
        assert!(!replayed.damaged);
        assert_eq!(replayed.state.seq, 9);
        assert_eq!(replayed.state.ledger_id, 5);
        assert_eq!(replayed.state.next_file, 4);
        let mut source = std::io::Cursor::new(w.buf.clone());
        assert_eq!(replayed.state.materialize_from(&mut source), 0);
        let entry = &replayed.state.files[&3];
        assert_eq!(entry.records, want);
        assert_eq!(
            entry.state.as_ref().unwrap(),
            &file_state("/r/projects/a.jsonl")
        );
        assert_eq!(replayed.state.strings.len(), 3);
    }

    #[test]
    fn an_unfinished_transaction_is_dropped() {
        let roots = b"/r";
        let mut strings = Strings::default();
        let mut w = Writer::new();
        w.raw(&header(roots, 5));
        w.events(0, &mut [record(1, Some("/a"))], &mut strings);
        w.file(0, &file_state("/a"));
        w.commit(1);
        let committed = w.buf.len();
        w.events(0, &mut [record(2, Some("/b"))], &mut strings);
        w.forget(0);
        let mut replayed = replay(
            std::io::Cursor::new(w.buf.clone()),
            w.buf.len() as u64,
            roots,
            0,
        )
        .unwrap();
        assert_eq!(replayed.valid_len, committed);
        assert!(!replayed.damaged);
        replayed
            .state
            .materialize_from(&mut std::io::Cursor::new(w.buf.clone()));
        assert_eq!(replayed.state.files[&0].records.len(), 1);
        // The string of the dropped transaction is gone too.
        assert_eq!(replayed.state.strings.len(), 2);
    }

    #[test]
    fn header_problems() {
        let roots = b"/r";
        let good = header(roots, 5);
        assert_eq!(
            replay(std::io::Cursor::new(&good[..10]), 10, roots, 0).unwrap_err(),
            HeaderProblem::Damaged
        );
        let mut magic = good.clone();
        magic[0] = b'X';
        assert_eq!(
            replay(std::io::Cursor::new(&magic), magic.len() as u64, roots, 0).unwrap_err(),
            HeaderProblem::Damaged
        );
        assert_eq!(
            replay(std::io::Cursor::new(&good), good.len() as u64, b"/other", 0).unwrap_err(),
            HeaderProblem::Roots
        );
        let mut old = good[..good.len() - 4].to_vec();
        old[8..12].copy_from_slice(&0u32.to_le_bytes());
        let crc = crc32(&old);
        old.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(
            replay(std::io::Cursor::new(&old), old.len() as u64, roots, 0).unwrap_err(),
            HeaderProblem::Version(0)
        );
    }

    #[test]
    fn unknown_kinds_are_kept() {
        let roots = b"/r";
        let mut w = Writer::new();
        w.raw(&header(roots, 5));
        w.opaque(KIND_READING, b"future");
        w.commit(1);
        let mut replayed = replay(
            std::io::Cursor::new(w.buf.clone()),
            w.buf.len() as u64,
            roots,
            0,
        )
        .unwrap();
        assert_eq!(
            replayed.state.opaque,
            vec![(KIND_READING, b"future".to_vec())]
        );
        let again = snapshot(&mut replayed.state, roots, false);
        assert_eq!(
            replay(std::io::Cursor::new(&again), again.len() as u64, roots, 0)
                .unwrap()
                .state
                .opaque,
            vec![(KIND_READING, b"future".to_vec())]
        );
    }
}
