//! The kept records of the last run, one per response, sorted as the output: derived from the
//! ledger and tied to one state of it, so that a run with nothing new (or only appends) need
//! not decode and deduplicate every record again.
//!
//! Layout: magic `AIOSKEPT`, `version u32`, `ledger_id u64`, `seq u64`, `ledger_len u64`,
//! `count u64`, `checksum u64` of the body, then `count` usage records in the ledger's event
//! encoding (string ids of the ledger at that state). Written in place under the ledger lock; a
//! cache that does not match the ledger or its checksum is ignored.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use std::collections::HashSet;

use claude_logs::{Dedup, Record, UsageEvent, compare_events};

use crate::format::{EVENT_BYTES, Strings, decode_event, put_event};

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

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A fast checksum of the body: four lanes of a multiply-rotate hash over 64-bit words, fed
/// in pieces whose length is a multiple of 32 bytes (except the last).
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

    fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        let mut chunks = bytes.chunks_exact(32);
        for chunk in &mut chunks {
            for (i, lane) in self.lanes.iter_mut().enumerate() {
                *lane = (*lane ^ u64_at(chunk, i * 8))
                    .wrapping_mul(K)
                    .rotate_left(29);
            }
        }
        self.tail.extend_from_slice(chunks.remainder());
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

impl Cache {
    /// The encoded kept records, when the checksum matches.
    pub(crate) fn body(&self) -> Option<Vec<u8>> {
        let mut file = &self.file;
        file.seek(SeekFrom::Start(HEADER as u64)).ok()?;
        let mut body = vec![0u8; self.count * EVENT_BYTES];
        file.read_exact(&mut body).ok()?;
        (checksum(&body) == self.checksum).then_some(body)
    }
}

/// The events of an encoded body.
pub(crate) fn events_of(body: &[u8], strings: &Strings) -> Option<Vec<UsageEvent>> {
    body.chunks_exact(EVENT_BYTES)
        .map(|b| decode_event(b, strings).map(|r| r.event))
        .collect()
}

/// The message id hash of an encoded record, when it has a key.
fn message_id(slot: &[u8]) -> Option<u128> {
    (slot[24] & 1 != 0).then(|| {
        let mut a = [0u8; 16];
        a.copy_from_slice(&slot[25..41]);
        u128::from_le_bytes(a)
    })
}

/// `body` (kept records, encoded, sorted) and its decoded `events`, with `added` records
/// deduplicated into them, still sorted. Only responses sharing a `message.id` with an added
/// record can change, so only those are decoded and deduplicated again; the other records are
/// copied as they are (encoded and decoded), and each changed record goes in at the place a
/// binary search finds. `None` when a string is not in `strings` or `events` is not `body`'s.
pub(crate) fn merge(
    body: &[u8],
    events: Vec<UsageEvent>,
    added: Vec<Record>,
    strings: &Strings,
) -> Option<(Vec<u8>, Vec<UsageEvent>)> {
    if events.len() * EVENT_BYTES != body.len() {
        return None;
    }
    let ids: HashSet<u128> = added
        .iter()
        .filter_map(|r| r.key.map(|k| k.message_id))
        .collect();
    // The kept records that share a `message.id` with an added one are decoded with their
    // keys and deduplicated again with the added ones; the others stay as they are.
    let mut removed: Vec<usize> = Vec::new();
    let mut dedup = Dedup::new();
    for (i, slot) in body.chunks_exact(EVENT_BYTES).enumerate() {
        if message_id(slot).is_some_and(|id| ids.contains(&id)) {
            dedup.insert(decode_event(slot, strings)?);
            removed.push(i);
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
    let len = events.len() - removed.len() + changed.len();
    let mut out = Vec::with_capacity(len * EVENT_BYTES);
    let mut out_events = Vec::with_capacity(len);
    let mut removed = removed.into_iter().peekable();
    let mut changed = changed.into_iter().zip(at).peekable();
    for (i, (slot, event)) in body.chunks_exact(EVENT_BYTES).zip(events).enumerate() {
        while let Some((record, _)) = changed.next_if(|(_, to)| *to == i) {
            encode(&mut out, &record, strings)?;
            out_events.push(record.event);
        }
        if removed.next_if_eq(&i).is_none() {
            out.extend_from_slice(slot);
            out_events.push(event);
        }
    }
    for (record, _) in changed {
        encode(&mut out, &record, strings)?;
        out_events.push(record.event);
    }
    Some((out, out_events))
}

/// The kept records of `dedup` (compact), in output order.
pub(crate) fn sorted_kept(dedup: Dedup) -> Vec<Record> {
    let mut kept = dedup.into_compact_records();
    kept.sort_unstable_by(|a, b| compare_events(&a.event, &b.event));
    kept
}

/// Encodes `record` with the ids of its strings in `strings`.
fn encode(out: &mut Vec<u8>, record: &Record, strings: &Strings) -> Option<()> {
    let e = &record.event;
    let model = strings.id(&e.model)?;
    let project = match &e.project {
        Some(p) => strings.id(p)?,
        None => u32::MAX,
    };
    let session = match &e.session_id {
        Some(s) => strings.id(s)?,
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
pub(crate) fn write(
    path: &Path,
    key: Key,
    records: &[Record],
    strings: &Strings,
) -> std::io::Result<()> {
    let missing = || std::io::Error::other("a string is not in the ledger");
    let mut body = Vec::with_capacity(records.len() * EVENT_BYTES);
    // Consecutive records mostly share their strings: look each up once.
    let mut last: [Option<(*const u8, u32)>; 3] = [None; 3];
    let mut id_of = |slot: usize, s: &str| -> Option<u32> {
        if let Some((ptr, id)) = last[slot]
            && ptr == s.as_ptr()
        {
            return Some(id);
        }
        let id = strings.id(s)?;
        last[slot] = Some((s.as_ptr(), id));
        Some(id)
    };
    for r in records {
        let e = &r.event;
        let model = id_of(0, &e.model).ok_or_else(missing)?;
        let project = match &e.project {
            Some(p) => id_of(1, p).ok_or_else(missing)?,
            None => u32::MAX,
        };
        let session = match &e.session_id {
            Some(s) => id_of(2, s).ok_or_else(missing)?,
            None => u32::MAX,
        };
        put_event(&mut body, r, model, project, session);
    }
    write_body(path, key, &body)
}

/// Writes a cache with an encoded `body` for the ledger state `key`, in place.
pub(crate) fn write_body(path: &Path, key: Key, body: &[u8]) -> std::io::Result<()> {
    let mut head = Vec::with_capacity(HEADER);
    head.extend_from_slice(&MAGIC);
    head.extend_from_slice(&VERSION.to_le_bytes());
    head.extend_from_slice(&key.ledger_id.to_le_bytes());
    head.extend_from_slice(&key.seq.to_le_bytes());
    head.extend_from_slice(&key.ledger_len.to_le_bytes());
    head.extend_from_slice(&((body.len() / EVENT_BYTES) as u64).to_le_bytes());
    head.extend_from_slice(&checksum(body).to_le_bytes());
    // Written in place, not to a temp file renamed over it: the lock keeps other runs out,
    // a write cut short leaves a body that fails its checksum (the cache is then ignored),
    // and overwriting blocks the file already has spares the file system flushing them with
    // the next `fsync` of another file (the output's).
    let result = (|| {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create(true).truncate(false);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path)?;
        file.write_all(&head)?;
        file.write_all(body)?;
        file.set_len((head.len() + body.len()) as u64)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(path);
    }
    result
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
}
