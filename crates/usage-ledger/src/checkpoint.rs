//! The ledger's state as the last run left it (`ledger-<key>.ckpt`): derived data beside the
//! ledger, tied to one state of it, so that a run need not replay the whole ledger file to
//! know its transcripts.
//!
//! It holds what a replay gives but the positions of the usage records in the ledger: the
//! strings, every file's state and how many records it has there, the next file id, the
//! records of unknown kinds. A state loaded from it is *light*: should a run need the records
//! themselves (see `State::ensure_frames`), the ledger is replayed then, up to the length the
//! checkpoint stands for.
//!
//! Layout (little-endian): magic `AIOSCKPT`, `version u32`, `ledger_id u64`, `seq u64`,
//! `ledger_len u64`, `next_file u32`, `strings u32` and each string (`u32` length, bytes),
//! `files u32` and per file: `records u64` and its `FILE` payload as in the ledger (`u32`
//! length, bytes), `opaque u32` and each record of an unknown kind (`kind u8`, `u32` length,
//! bytes); last, a CRC-32 of everything before it. Written whole, in place, under the ledger
//! lock; a file that is missing, damaged, of another version or of another state of the ledger
//! is not used (the ledger is replayed).

use std::path::Path;
use std::sync::Arc;

use crate::bytes::{put_bytes, seal, unseal};
use crate::cache::Key;
use crate::format::{Entry, State, decode_file, file_payload};
use crate::store;

const MAGIC: [u8; 8] = *b"AIOSCKPT";
const VERSION: u32 = 1;

/// The state stored at `path` when it stands for the ledger `ledger_id` of `ledger_len`
/// bytes: light (no record positions), its `source` not set.
pub(crate) fn read(path: &Path, ledger_id: u64, ledger_len: u64) -> Option<State> {
    let bytes = std::fs::read(path).ok()?;
    decode(&bytes).filter(|state| state.ledger_id == ledger_id && state.len == ledger_len)
}

/// Stores the state of the ledger `key` at `path`, in place: `state` after the run that
/// saved it, its records in `records` (the count of each file's, at the save).
pub(crate) fn write(
    path: &Path,
    key: Key,
    state: &State,
    records: &[(u32, u64)],
) -> std::io::Result<()> {
    store::write_in_place(path, &encode(key, state, records))
}

/// Removes the checkpoint at `path` (a run that cannot vouch for it).
pub(crate) fn remove(path: &Path) {
    let _ = std::fs::remove_file(path);
}

fn encode(key: Key, state: &State, records: &[(u32, u64)]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + state.files.len() * 400);
    out.extend_from_slice(&MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&key.ledger_id.to_le_bytes());
    out.extend_from_slice(&key.seq.to_le_bytes());
    out.extend_from_slice(&key.ledger_len.to_le_bytes());
    out.extend_from_slice(&state.next_file.to_le_bytes());
    out.extend_from_slice(&(state.strings.len() as u32).to_le_bytes());
    for id in 0..state.strings.len() {
        let s = state.strings.get(id as u32).map_or("", |s| &**s);
        put_bytes(&mut out, s.as_bytes());
    }
    let files: Vec<(u32, &crate::format::FileState, u64)> = state
        .files
        .iter()
        .filter_map(|(&id, entry)| {
            let file = entry.state.as_ref()?;
            let count = records
                .binary_search_by_key(&id, |&(id, _)| id)
                .map_or(0, |i| records[i].1);
            Some((id, file, count))
        })
        .collect();
    out.extend_from_slice(&(files.len() as u32).to_le_bytes());
    let mut payload = Vec::new();
    for (id, file, count) in files {
        out.extend_from_slice(&count.to_le_bytes());
        payload.clear();
        file_payload(&mut payload, id, file);
        put_bytes(&mut out, &payload);
    }
    out.extend_from_slice(&(state.opaque.len() as u32).to_le_bytes());
    for (kind, payload) in &state.opaque {
        out.push(*kind);
        put_bytes(&mut out, payload);
    }
    seal(&mut out);
    out
}

fn decode(bytes: &[u8]) -> Option<State> {
    let mut r = unseal(bytes, &MAGIC, VERSION)?;
    let mut state = State {
        ledger_id: r.u64()?,
        seq: r.u64()?,
        len: r.u64()?,
        next_file: r.u32()?,
        ..State::default()
    };
    for _ in 0..r.u32()? {
        let s = std::str::from_utf8(r.bytes()?).ok()?;
        state.strings.push(Arc::from(s));
    }
    for _ in 0..r.u32()? {
        let records = usize::try_from(r.u64()?).ok()?;
        let (id, file) = decode_file(r.bytes()?)?;
        if id >= state.next_file {
            return None;
        }
        let entry = Entry {
            state: Some(file),
            unloaded: records,
            ..Entry::default()
        };
        if state.files.insert(id, entry).is_some() {
            return None;
        }
    }
    for _ in 0..r.u32()? {
        let kind = r.u8()?;
        state.opaque.push((kind, r.bytes()?.to_vec()));
    }
    r.is_empty().then_some(state)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::{FileState, Identity};

    fn sample() -> (State, Vec<(u32, u64)>) {
        let mut state = State {
            ledger_id: 7,
            seq: 3,
            len: 4096,
            next_file: 9,
            ..State::default()
        };
        for s in ["claude-sonnet-4-5", "/home/me/p", "session-1"] {
            state.strings.push(Arc::from(s));
        }
        for id in [2u32, 5, 8] {
            let file = FileState {
                path: format!("/home/me/.claude/projects/p/{id}.jsonl").into(),
                identity: Identity {
                    dev: 1,
                    ino: u64::from(id),
                },
                size: 100 + u64::from(id),
                mtime: (1_764_000_000, 5),
                offset: 90,
                fp_len: 90,
                fp: u128::from(id) << 64,
                open_line: id == 5,
                committed: claude_logs::FileStats::default(),
                unconsumed: claude_logs::FileStats::default(),
            };
            state.files.insert(
                id,
                Entry {
                    state: Some(file),
                    ..Entry::default()
                },
            );
        }
        state.opaque.push((42, vec![1, 2, 3]));
        (state, vec![(2, 10), (5, 0), (8, 3)])
    }

    fn key(state: &State) -> Key {
        Key {
            ledger_id: state.ledger_id,
            seq: state.seq,
            ledger_len: state.len,
        }
    }

    #[test]
    fn a_state_comes_back_light_with_its_record_counts() {
        let (state, records) = sample();
        let back = decode(&encode(key(&state), &state, &records)).unwrap();
        assert!(back.is_light());
        assert_eq!(
            (back.ledger_id, back.seq, back.len, back.next_file),
            (7, 3, 4096, 9)
        );
        assert_eq!(back.strings.len(), 3);
        assert_eq!(back.strings.id("/home/me/p"), Some(1));
        assert_eq!(back.opaque, state.opaque);
        let files: Vec<(u32, &FileState, usize)> = back
            .files
            .iter()
            .map(|(&id, e)| (id, e.state.as_ref().unwrap(), e.unloaded))
            .collect();
        let expected: Vec<(u32, &FileState, usize)> = state
            .files
            .iter()
            .zip([10, 0, 3])
            .map(|((&id, e), n)| (id, e.state.as_ref().unwrap(), n))
            .collect();
        assert_eq!(files, expected);
    }

    #[test]
    fn a_damaged_cut_or_foreign_checkpoint_is_not_used() {
        let (state, records) = sample();
        let bytes = encode(key(&state), &state, &records);
        for cut in 0..bytes.len() {
            assert!(decode(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for at in [0, 9, 20, 60, bytes.len() / 2, bytes.len() - 1] {
            let mut flipped = bytes.clone();
            flipped[at] ^= 0x10;
            assert!(decode(&flipped).is_none(), "flipped at {at}");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ledger.ckpt");
        write(&path, key(&state), &state, &records).unwrap();
        assert!(read(&path, 7, 4096).is_some());
        assert!(read(&path, 8, 4096).is_none(), "another ledger");
        assert!(read(&path, 7, 4097).is_none(), "another length of it");
    }
}
