//! The kept records of the last run, one per response, sorted as the output: derived from the
//! ledger and tied to one state of it, so that a run with nothing new (or only appends) need
//! not decode and deduplicate every record again.
//!
//! Layout: magic `AIOSKEPT`, `version u32`, `ledger_id u64`, `seq u64`, `ledger_len u64`,
//! `count u64`, `checksum u64` of the body, then `count` usage records in the ledger's event
//! encoding (string ids of the ledger at that state). Written to a temp file and renamed; a
//! cache that does not match the ledger or its checksum is ignored.

use std::io::Write;
use std::path::Path;

use claude_logs::Record;

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

/// A cache file as read (not yet checked beyond its header).
#[derive(Debug)]
pub(crate) struct Cache {
    pub(crate) key: Key,
    bytes: Vec<u8>,
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// A fast checksum of the body: four lanes of a multiply-xor hash over 64-bit words.
fn checksum(body: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut lanes = [1u64, 2, 3, 4];
    let mut chunks = body.chunks_exact(32);
    for chunk in &mut chunks {
        for (i, lane) in lanes.iter_mut().enumerate() {
            let w = u64_at(chunk, i * 8);
            *lane = (*lane ^ w).wrapping_mul(K).rotate_left(29);
        }
    }
    let mut h = body.len() as u64;
    for lane in lanes {
        h = (h ^ lane).wrapping_mul(K).rotate_left(31);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b)).wrapping_mul(K);
    }
    h ^ (h >> 29)
}

/// Reads the cache at `path`; `None` when there is none or its header is not right.
pub(crate) fn read(path: &Path) -> Option<Cache> {
    let bytes = std::fs::read(path).ok()?;
    if bytes.len() < HEADER
        || bytes[..8] != MAGIC
        || u32::from_le_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) != VERSION
    {
        return None;
    }
    let count = usize::try_from(u64_at(&bytes, 36)).ok()?;
    if bytes.len() - HEADER != count.checked_mul(EVENT_BYTES)? {
        return None;
    }
    Some(Cache {
        key: Key {
            ledger_id: u64_at(&bytes, 12),
            seq: u64_at(&bytes, 20),
            ledger_len: u64_at(&bytes, 28),
        },
        bytes,
    })
}

impl Cache {
    /// The kept records, when the checksum matches and every string id is known.
    pub(crate) fn records(&self, strings: &Strings) -> Option<Vec<Record>> {
        let body = &self.bytes[HEADER..];
        if checksum(body) != u64_at(&self.bytes, 44) {
            return None;
        }
        body.chunks_exact(EVENT_BYTES)
            .map(|b| decode_event(b, strings))
            .collect()
    }
}

/// Writes the cache of `records` for the ledger state `key` (temp file, then rename). Fails
/// when a string is not in `strings`.
pub(crate) fn write(
    path: &Path,
    key: Key,
    records: &[Record],
    strings: &Strings,
) -> std::io::Result<()> {
    let missing = || std::io::Error::other("a string is not in the ledger");
    let mut out = Vec::with_capacity(HEADER + records.len() * EVENT_BYTES);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&key.ledger_id.to_le_bytes());
    out.extend_from_slice(&key.seq.to_le_bytes());
    out.extend_from_slice(&key.ledger_len.to_le_bytes());
    out.extend_from_slice(&(records.len() as u64).to_le_bytes());
    out.extend_from_slice(&0u64.to_le_bytes());
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
        put_event(&mut out, r, model, project, session);
    }
    let sum = checksum(&out[HEADER..]);
    out[44..52].copy_from_slice(&sum.to_le_bytes());
    let temp = path.with_extension("kept-tmp");
    let result = (|| {
        let mut file = std::fs::OpenOptions::new();
        file.write(true).create(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            file.mode(0o600);
        }
        file.open(&temp)?.write_all(&out)?;
        std::fs::rename(&temp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&temp);
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
