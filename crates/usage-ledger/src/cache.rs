//! The kept records of the last run, one per response, sorted as the output: derived from the
//! ledger and tied to one state of it, so that a run with nothing new (or only appends) need
//! not decode and deduplicate every record again.
//!
//! Layout: magic `AIOSKEPT`, `version u32`, `ledger_id u64`, `seq u64`, `ledger_len u64`,
//! `count u64`, `checksum u64` of the body, then `count` usage records in the ledger's event
//! encoding (string ids of the ledger at that state). Written in place under the ledger lock; a
//! cache that does not match the ledger or its checksum is ignored.

use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use claude_logs::{Dedup, Record, UsageEvent, compare_events, sort_by_event};

use crate::format::{Days, EVENT_BYTES, Strings, decode_event, message_id, put_event, u64_at};

const MAGIC: [u8; 8] = *b"AIOSKEPT";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 8 + 8 + 8 + 8 + 8;

/// The ledger state a cache belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) ledger_id: u64,
    pub(crate) seq: u64,
    pub(crate) ledger_len: u64,
}

/// An open cache file whose header is right (its body not yet checked).
#[derive(Debug)]
pub(crate) struct Cache {
    pub(crate) key: Key,
    count: usize,
    checksum: u64,
    file: File,
}

/// A fast checksum of the body: four lanes of a multiply-rotate hash over 64-bit words. Fed in
/// pieces of any length, it gives what one piece with all the bytes would.
#[derive(Debug, Clone)]
struct Checksum {
    lanes: [u64; 4],
    len: u64,
    tail: Vec<u8>,
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

impl Checksum {
    fn new() -> Self {
        Self {
            lanes: [1, 2, 3, 4],
            len: 0,
            tail: Vec::new(),
        }
    }

    fn update(&mut self, mut bytes: &[u8]) {
        self.len += bytes.len() as u64;
        if !self.tail.is_empty() {
            let take = (32 - self.tail.len()).min(bytes.len());
            self.tail.extend_from_slice(&bytes[..take]);
            bytes = &bytes[take..];
            if self.tail.len() < 32 {
                return;
            }
            let block = std::mem::take(&mut self.tail);
            self.mix(&block);
        }
        let mut chunks = bytes.chunks_exact(32);
        for chunk in &mut chunks {
            self.mix(chunk);
        }
        self.tail.extend_from_slice(chunks.remainder());
    }

    /// Mixes one 32-byte block into the lanes.
    fn mix(&mut self, block: &[u8]) {
        for (i, lane) in self.lanes.iter_mut().enumerate() {
            *lane = (*lane ^ u64_at(block, i * 8))
                .wrapping_mul(K)
                .rotate_left(29);
        }
    }

    fn finish(self) -> u64 {
        let mut h = self.len;
        for lane in self.lanes {
            h = (h ^ lane).wrapping_mul(K).rotate_left(31);
        }
        for &b in &self.tail {
            h = (h ^ u64::from(b)).wrapping_mul(K);
        }
        h ^ (h >> 29)
    }
}

#[cfg(test)]
fn checksum(body: &[u8]) -> u64 {
    let mut sum = Checksum::new();
    sum.update(body);
    sum.finish()
}

/// Opens the cache at `path`; `None` when there is none or its header or size is not right.
pub(crate) fn read(path: &Path) -> Option<Cache> {
    let mut file = File::open(path).ok()?;
    let mut head = [0u8; HEADER];
    file.read_exact(&mut head).ok()?;
    if head[..8] != MAGIC || u32::from_le_bytes([head[8], head[9], head[10], head[11]]) != VERSION {
        return None;
    }
    let count = usize::try_from(u64_at(&head, 36)).ok()?;
    let body = count.checked_mul(EVENT_BYTES)?;
    if file.metadata().ok()?.len() != (HEADER + body) as u64 {
        return None;
    }
    Some(Cache {
        key: Key {
            ledger_id: u64_at(&head, 12),
            seq: u64_at(&head, 20),
            ledger_len: u64_at(&head, 28),
        },
        count,
        checksum: u64_at(&head, 44),
        file,
    })
}

/// Records read at a time by [`Cache::kept`]: about 256 KiB, a buffer that stays in the
/// processor's cache while it is checked and decoded (a multiple of 32 bytes, the checksum's
/// step, so the checksum's state between pieces carries no partial block).
const PIECE_RECORDS: usize = 2496;
const PIECE: usize = EVENT_BYTES * PIECE_RECORDS;

/// The kept records of a cache as a run uses them: their events, and what merging an append
/// needs so as not to read the whole body again.
#[derive(Debug)]
pub(crate) struct Kept {
    pub(crate) events: Vec<UsageEvent>,
    /// Each record's `message.id` hash folded to 64 bits (0 without one; a real id may fold
    /// to 0 too, so 0 is not taken to mean "no id").
    ids: Vec<u64>,
    /// The checksum's state at the start of each piece, and at the end.
    marks: Vec<Checksum>,
}

/// A 128-bit id hash folded to 64 bits.
fn fold(id: u128) -> u64 {
    (id as u64) ^ ((id >> 64) as u64)
}

impl Cache {
    /// The encoded kept records, when the checksum matches.
    #[cfg(test)]
    fn body(&self) -> Option<Vec<u8>> {
        let mut body = vec![0u8; self.count * EVENT_BYTES];
        self.read_at(0, &mut body).ok()?;
        (checksum(&body) == self.checksum).then_some(body)
    }

    /// Reads the records from record `first` on into `buf` (whole records).
    fn read_at(&self, first: usize, buf: &mut [u8]) -> std::io::Result<()> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start((HEADER + first * EVENT_BYTES) as u64))?;
        file.read_exact(buf)
    }

    /// The kept records, when the checksum matches. The body is read and decoded a piece at a
    /// time: no copy of it is kept (a run with nothing new needs only the events).
    pub(crate) fn kept(&self, strings: &Strings) -> Option<Kept> {
        let mut left = self.count.checked_mul(EVENT_BYTES)?;
        let mut events = Vec::with_capacity(self.count);
        let mut ids = Vec::with_capacity(self.count);
        let mut marks = Vec::with_capacity(self.count / PIECE_RECORDS + 1);
        let mut sum = Checksum::new();
        let mut days = Days::default();
        let mut buf = vec![0u8; PIECE.min(left)];
        let mut record = 0;
        while left > 0 {
            let piece = &mut buf[..PIECE.min(left)];
            self.read_at(record, piece).ok()?;
            record += PIECE_RECORDS;
            marks.push(sum.clone());
            sum.update(piece);
            for slot in piece.chunks_exact(EVENT_BYTES) {
                events.push(decode_event(slot, strings, &mut days)?.event);
                ids.push(message_id(slot).map_or(0, fold));
            }
            left -= piece.len();
        }
        // The state at the end too: the start of the piece after a last full one.
        marks.push(sum.clone());
        (sum.finish() == self.checksum).then_some(Kept { events, ids, marks })
    }
}

/// The kept records after an append, as a change to the cache: the records before `from` are
/// unchanged, those from `from` on are `tail`.
#[derive(Debug)]
pub(crate) struct Merged {
    from: usize,
    tail: Vec<u8>,
    count: usize,
    checksum: u64,
}

/// The records of `cache` (read this run, its checksum right, as `kept`), with `added` records
/// deduplicated into them, still sorted. Only responses sharing a `message.id` with an added
/// record can change: only those are read again, decoded and deduplicated with the added ones;
/// each changed record goes in at the place a binary search finds. New responses are the
/// latest, so the change is mostly at the end: only the records from the piece holding the
/// first change on are read again, and only those from the first change on are copied and
/// written (the checksum goes on from its state at the start of that piece). `None` when a
/// string is not in `strings`, `kept` is not `cache`'s, or the file cannot be read.
pub(crate) fn merge(
    cache: &Cache,
    kept: Kept,
    added: Vec<Record>,
    strings: &Strings,
) -> Option<(Merged, Vec<UsageEvent>)> {
    let Kept {
        mut events,
        ids: folded,
        marks,
    } = kept;
    if events.len() != cache.count || folded.len() != cache.count {
        return None;
    }
    let ids: HashSet<u128> = added
        .iter()
        .filter_map(|r| r.key.map(|k| k.message_id))
        .collect();
    let ids_folded: HashSet<u64> = ids.iter().map(|&id| fold(id)).collect();
    // The kept records that share a `message.id` with an added one (found by the folded ids,
    // then checked on the record itself) are decoded with their keys and deduplicated again
    // with the added ones; the others stay as they are.
    let mut removed: Vec<usize> = Vec::new();
    let mut dedup = Dedup::new();
    let mut days = Days::default();
    let mut slot = [0u8; EVENT_BYTES];
    for (i, id) in folded.iter().enumerate() {
        // A record without a key folds to 0 like any other: a match is only a candidate,
        // checked on the record itself, so no id is special.
        if ids_folded.contains(id) {
            cache.read_at(i, &mut slot).ok()?;
            if message_id(&slot).is_some_and(|id| ids.contains(&id)) {
                dedup.insert(decode_event(&slot, strings, &mut days)?);
                removed.push(i);
            }
        }
    }
    dedup.extend(added);
    let changed = sorted_kept(dedup);
    // Where each changed record goes: before the first record (by index in `events`, removed
    // ones included, as all are sorted) that sorts after it.
    let mut at = Vec::with_capacity(changed.len());
    let mut from = 0;
    for record in &changed {
        from += events[from..].partition_point(|e| compare_events(e, &record.event).is_le());
        at.push(from);
    }
    // The first record that moves: the first removed one or the first insertion point.
    let from = removed
        .first()
        .into_iter()
        .chain(at.first())
        .copied()
        .min()
        .unwrap_or(events.len());
    // The records of the piece holding `from`, and every later one.
    let piece = from / PIECE_RECORDS;
    let base = piece * PIECE_RECORDS;
    let mut sum = marks.get(piece)?.clone();
    let mut old = vec![0u8; (events.len() - base) * EVENT_BYTES];
    cache.read_at(base, &mut old).ok()?;
    let (unchanged, old) = old.split_at((from - base) * EVENT_BYTES);
    sum.update(unchanged);
    let old_tail = events.split_off(from);
    let mut tail = Vec::with_capacity((old_tail.len() + changed.len()) * EVENT_BYTES);
    let mut removed = removed.into_iter().peekable();
    let mut changed = changed.into_iter().zip(at).peekable();
    for (i, (slot, event)) in (from..).zip(old.chunks_exact(EVENT_BYTES).zip(old_tail)) {
        while let Some((record, _)) = changed.next_if(|(_, to)| *to == i) {
            encode(&mut tail, &record, strings)?;
            events.push(record.event);
        }
        if removed.next_if_eq(&i).is_none() {
            tail.extend_from_slice(slot);
            events.push(event);
        }
    }
    for (record, _) in changed {
        encode(&mut tail, &record, strings)?;
        events.push(record.event);
    }
    sum.update(&tail);
    let merged = Merged {
        from,
        tail,
        count: events.len(),
        checksum: sum.finish(),
    };
    Some((merged, events))
}

/// The kept records of `dedup` (compact), in output order.
pub(crate) fn sorted_kept(dedup: Dedup) -> Vec<Record> {
    let mut kept = dedup.into_compact_records();
    sort_by_event(&mut kept, |r| &r.event);
    kept
}

/// Encodes `record` with the ids of its strings in `strings`.
fn encode(out: &mut Vec<u8>, record: &Record, strings: &Strings) -> Option<()> {
    encode_with(out, record, |_, s| strings.id(s))
}

/// Encodes `record` with the ids `id` gives its strings (called with the string's place:
/// 0 model, 1 project, 2 session); `None` when a string has none.
fn encode_with(
    out: &mut Vec<u8>,
    record: &Record,
    mut id: impl FnMut(usize, &str) -> Option<u32>,
) -> Option<()> {
    let e = &record.event;
    let model = id(0, &e.model)?;
    let project = match &e.project {
        Some(p) => id(1, p)?,
        None => u32::MAX,
    };
    let session = match &e.session_id {
        Some(s) => id(2, s)?,
        None => u32::MAX,
    };
    put_event(out, record, model, project, session);
    Some(())
}

/// Points the cache at `path` at another ledger state with the same kept records.
pub(crate) fn rekey(path: &Path, key: Key) -> std::io::Result<()> {
    let mut file = std::fs::OpenOptions::new().write(true).open(path)?;
    let mut fields = Vec::with_capacity(24);
    fields.extend_from_slice(&key.ledger_id.to_le_bytes());
    fields.extend_from_slice(&key.seq.to_le_bytes());
    fields.extend_from_slice(&key.ledger_len.to_le_bytes());
    file.seek(SeekFrom::Start(12))?;
    file.write_all(&fields)
}

/// Writes the cache of `records` for the ledger state `key` (in place). Fails
/// when a string is not in `strings`.
///
/// The body is encoded a piece at a time into a small buffer and written after the header's
/// place, the header (with the count and the body's checksum) last.
pub(crate) fn write<'r>(
    path: &Path,
    key: Key,
    records: impl ExactSizeIterator<Item = &'r Record>,
    strings: &Strings,
) -> std::io::Result<()> {
    let count = records.len();
    let missing = || std::io::Error::other("a string is not in the ledger");
    // Records share their strings (a handful of copies of each): each copy is looked up by
    // its address, its text hashed once; consecutive records often share the same copies.
    // Looked up by address: a word hash (SipHash, the default, was about a tenth of this write).
    let mut by_address: HashMap<usize, u32, claude_logs::WordHashed> = HashMap::default();
    let mut last = [(0usize, 0u32); 3];
    let mut id_of = |slot: usize, s: &str| -> Option<u32> {
        let address = s.as_ptr() as usize;
        if last[slot].0 == address {
            return Some(last[slot].1);
        }
        let id = match by_address.get(&address) {
            Some(&id) => id,
            None => {
                let id = strings.id(s)?;
                by_address.insert(address, id);
                id
            }
        };
        last[slot] = (address, id);
        Some(id)
    };
    crate::store::write_in_place_with(path, |file| {
        file.seek(SeekFrom::Start(HEADER as u64))?;
        let mut sum = Checksum::new();
        let mut piece = Vec::with_capacity(PIECE + EVENT_BYTES);
        let mut flush = |piece: &mut Vec<u8>| -> std::io::Result<()> {
            sum.update(piece);
            file.write_all(piece)?;
            piece.clear();
            Ok(())
        };
        for r in records {
            encode_with(&mut piece, r, &mut id_of).ok_or_else(missing)?;
            if piece.len() >= PIECE {
                flush(&mut piece)?;
            }
        }
        flush(&mut piece)?;
        let head = header(key, count, sum.finish());
        file.seek(SeekFrom::Start(0))?;
        file.write_all(&head)?;
        Ok((HEADER + count * EVENT_BYTES) as u64)
    })
}

/// Writes the change `merged` to the cache (whose records before `merged.from` are those
/// already in the file) for the ledger state `key`, in place.
pub(crate) fn write_merged(path: &Path, key: Key, merged: &Merged) -> std::io::Result<()> {
    write_from(path, key, merged, &merged.tail)
}

/// Writes the header of `merged` and `body`, the records from `merged.from` on, in place.
fn write_from(path: &Path, key: Key, merged: &Merged, body: &[u8]) -> std::io::Result<()> {
    let head = header(key, merged.count, merged.checksum);
    let at = (HEADER + merged.from * EVENT_BYTES) as u64;
    // A write cut short leaves a body that fails its checksum: the cache is then ignored.
    crate::store::write_in_place_at(path, &head, at, body)
}

/// The header of a cache of `count` records whose body has the checksum `checksum`, for the
/// ledger state `key`.
fn header(key: Key, count: usize, checksum: u64) -> Vec<u8> {
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(&MAGIC);
    head.extend_from_slice(&VERSION.to_le_bytes());
    head.extend_from_slice(&key.ledger_id.to_le_bytes());
    head.extend_from_slice(&key.seq.to_le_bytes());
    head.extend_from_slice(&key.ledger_len.to_le_bytes());
    head.extend_from_slice(&(count as u64).to_le_bytes());
    head.extend_from_slice(&checksum.to_le_bytes());
    head
}

/// Removes the cache (it no longer matches the ledger).
pub(crate) fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_sees_every_byte() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        let base = checksum(&data);
        for i in 0..data.len() {
            let mut changed = data.clone();
            changed[i] ^= 1;
            assert_ne!(checksum(&changed), base, "byte {i}");
        }
        assert_ne!(checksum(&data[..299]), base);
    }

    use std::sync::Arc;

    use chrono::DateTime;
    use claude_logs::{ResponseKey, Speed, TokenCounts};

    /// A response at second `i`, with `output` tokens, in session `s-(i % 5)`.
    fn record(strings: &mut Strings, i: i64, message: &str, output: u64) -> Record {
        let model = strings.intern(&Arc::from("claude-opus-4-5")).1;
        let session = strings.intern(&Arc::from(format!("s-{}", i % 5))).1;
        Record {
            event: UsageEvent {
                timestamp: DateTime::from_timestamp(1_770_000_000 + i, 0).unwrap(),
                model,
                tokens: TokenCounts {
                    input: 3,
                    output,
                    cache_creation: 10,
                    cache_read: 200,
                    cache_creation_5m: 10,
                    cache_creation_1h: 0,
                },
                speed: Speed::Standard,
                project: None,
                session_id: Some(session),
            },
            key: Some(ResponseKey::new(message, Some(&format!("req_{message}")))),
            sidechain: false,
        }
    }

    fn key(seq: u64) -> Key {
        Key {
            ledger_id: 7,
            seq,
            ledger_len: 100 + seq,
        }
    }

    /// A cache merged with new records and written from its first change reads back as the
    /// cache of all the records written whole: same events, same bytes, its checksum right.
    /// Several pieces of the body; a response copied again with more output (in the first
    /// piece, in a later one, in the last) and new responses at the end.
    #[test]
    fn a_merge_written_from_its_first_change_reads_back_whole() {
        for (again, first) in [
            (None, 6000),
            (Some(10), 10),
            (Some(4000), 4000),
            (Some(5999), 5999),
        ] {
            let dir = tempfile::tempdir().unwrap();
            let (merged_path, whole_path) = (dir.path().join("merged"), dir.path().join("whole"));
            let mut strings = Strings::default();
            let old: Vec<Record> = (0..6000)
                .map(|i| record(&mut strings, i, &format!("msg_{i}"), 5))
                .collect();
            write(&merged_path, key(1), old.iter(), &strings).unwrap();
            let cache = read(&merged_path).unwrap();
            let kept = cache.kept(&strings).unwrap();
            assert_eq!(
                kept.events,
                old.iter().map(|r| r.event.clone()).collect::<Vec<_>>()
            );

            let mut added: Vec<Record> = [(7000, 1), (7001, 2)]
                .into_iter()
                .map(|(i, out)| record(&mut strings, i, &format!("msg_{i}"), out))
                .collect();
            if let Some(i) = again {
                added.push(record(&mut strings, i, &format!("msg_{i}"), 900));
            }
            let mut dedup = Dedup::new();
            dedup.extend(old.iter().cloned().chain(added.iter().cloned()));
            let expected = sorted_kept(dedup);

            let (merged, merged_events) = merge(&cache, kept, added, &strings).unwrap();
            assert_eq!(merged.from, first);
            assert_eq!(
                merged_events,
                expected.iter().map(|r| r.event.clone()).collect::<Vec<_>>()
            );
            write_merged(&merged_path, key(2), &merged).unwrap();
            write(&whole_path, key(2), expected.iter(), &strings).unwrap();
            assert_eq!(
                std::fs::read(&merged_path).unwrap(),
                std::fs::read(&whole_path).unwrap()
            );
            let reread = read(&merged_path).unwrap();
            assert_eq!(reread.key, key(2));
            assert_eq!(reread.kept(&strings).unwrap().events, merged_events);
            assert!(reread.body().is_some());
        }
    }

    /// A cache of a whole number of pieces (or none) merges too: the checksum goes on from
    /// its state at the end.
    #[test]
    fn a_merge_after_a_last_full_piece() {
        for count in [0, PIECE_RECORDS as i64] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("kept");
            let mut strings = Strings::default();
            let old: Vec<Record> = (0..count)
                .map(|i| record(&mut strings, i, &format!("msg_{i}"), 5))
                .collect();
            write(&path, key(1), old.iter(), &strings).unwrap();
            let cache = read(&path).unwrap();
            let kept = cache.kept(&strings).unwrap();
            let added = vec![record(&mut strings, 9000, "msg_new", 1)];
            let (merged, events) = merge(&cache, kept, added, &strings).unwrap();
            assert_eq!(merged.from, count as usize);
            write_merged(&path, key(2), &merged).unwrap();
            assert_eq!(read(&path).unwrap().kept(&strings).unwrap().events, events);
            assert_eq!(events.len(), count as usize + 1);
        }
    }

    /// A body that does not match its checksum gives no events, wherever the change is.
    #[test]
    fn a_damaged_body_gives_no_events() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("kept");
        let mut strings = Strings::default();
        let records: Vec<Record> = (0..3000)
            .map(|i| record(&mut strings, i, &format!("msg_{i}"), 5))
            .collect();
        write(&path, key(1), records.iter(), &strings).unwrap();
        assert!(read(&path).unwrap().kept(&strings).is_some());
        let bytes = std::fs::read(&path).unwrap();
        // A token count (never a string id) in the first piece, in the second, in the last record.
        for at in [HEADER + 60, HEADER + PIECE + 60, bytes.len() - 3] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            std::fs::write(&path, &damaged).unwrap();
            assert!(read(&path).unwrap().kept(&strings).is_none(), "byte {at}");
        }
    }

    #[test]
    fn checksum_in_pieces_is_the_checksum_of_the_whole() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 13 + i / 7) as u8).collect();
        let whole = checksum(&data);
        for cuts in [
            [0, 0],
            [1, 2],
            [31, 32],
            [33, 97],
            [105, 210],
            [500, 999],
            [7, 1000],
        ] {
            let mut sum = Checksum::new();
            sum.update(&data[..cuts[0]]);
            sum.update(&data[cuts[0]..cuts[1]]);
            sum.update(&data[cuts[1]..]);
            assert_eq!(sum.finish(), whole, "cut at {cuts:?}");
        }
    }
}
